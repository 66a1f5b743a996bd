internal import CertVaultNative
import Foundation

/// Text that came from a file or the vault, made safe to show on a terminal.
///
/// A friendly name, a subject or an alias may hold escape sequences that
/// recolour a terminal, rewrite its title, move the cursor over earlier
/// output or reverse the order of what follows (design rule 7). Everything
/// certvault prints for a person passes through ``escaped(_:)``; JSON output
/// stays exact, since JSON escapes control characters itself.
public enum Display {
    /// `text` with C0 controls, DEL, C1 controls and Unicode bidirectional
    /// overrides, embeddings, isolates and marks replaced by visible escapes
    /// (`\x1b`, `\u{202e}`); everything else unchanged.
    public static func escaped(_ text: String) -> String {
        // Printable ASCII throughout, the common case, is safe without looking at scalars.
        var copy = text
        let printable = copy.withUTF8 { bytes in
            for b in bytes where b < 0x20 || b >= 0x7F { return false }
            return true
        }
        if printable { return text }
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                out +=
                    scalar.value < 0x100
                    ? "\\x" + hex2(scalar.value) : "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` with every character outside printable ASCII as `\u{…}`: how
    /// a name that reads like another (`wеb` with a Cyrillic `е`) is told
    /// apart from it on a screen.
    public static func spelledOut(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if (0x20..<0x7F).contains(scalar.value) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    /// Whether `text` holds the bytes `needle` (UTF-8), byte for byte: no
    /// Unicode equivalence and no locale, unlike Foundation's `contains`.
    static func contains(_ text: String, utf8 needle: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            needle.withUnsafeBytes { n in cv_memmem(bytes.baseAddress, bytes.count, n.baseAddress, n.count) != 0 }
        }
    }

    /// The UTC day of `date` as `YYYY-MM-DD`, as `list` and `check` print it:
    /// written in place for the years 1583 to 9999 (Foundation's format
    /// styles cost tens of microseconds, and `list` prints one or two per
    /// entry); before 1583 Foundation's calendar is Julian, and it decides.
    public static func day(_ date: Date) -> String {
        let stamp = Timestamp.format(date)
        if stamp.utf8.count == 20, stamp >= "1583" { return String(stamp.prefix(10)) }
        return date.formatted(.iso8601.year().month().day())
    }

    /// Whether `scalar` must not reach a terminal as it is.
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// Whether `text` holds anything ``isUnsafe(_:)`` refuses.
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isUnsafe)
    }

    /// `'text'`, escaped, for messages.
    static func quoted(_ text: String) -> String { "'" + escaped(text) + "'" }

    /// The one of `candidates` closest to `word` by edit distance (an
    /// insertion, a deletion, a change or a swap of neighbours each one),
    /// when it is close enough to be a typo (at most 2, and fewer than half
    /// the word); nil otherwise, or when two are equally close.
    static func nearest(_ word: String, in candidates: [String]) -> String? {
        var best: (name: String, distance: Int, tied: Bool)?
        for candidate in candidates where candidate != word && abs(candidate.count - word.count) <= 2 {
            let d = editDistance(word.lowercased(), candidate.lowercased())
            guard d <= 2, d * 2 < max(word.count, 1) else { continue }
            if let current = best, current.distance < d { continue }
            best = (candidate, d, best?.distance == d)
        }
        guard let best, !best.tied else { return nil }
        return best.name
    }

    /// Damerau-Levenshtein distance (with adjacent transpositions): what a
    /// did-you-mean, the library's or the command line's, measures a typo by.
    package static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    private static func hex2(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
