import Foundation

/// What an entry's alias may be (design rule 10): ASCII letters, digits,
/// `.`, `-` and `_`, starting with a letter or a digit, not all digits, at
/// most 200 characters — the rule handles follow, with capitals allowed.
///
/// Such a name cannot act: no shell expands it (completion hands aliases
/// to `compgen -W`, which does), no two read alike on a screen, and it
/// never starts like an option. A name from outside (a `.pfx` friendly
/// name, a subject's common name) is reduced to this form by
/// ``derived(from:)``; the name itself stays in the entry
/// (``Entry/originalName``).
public enum Alias {
    /// The longest alias a person may give.
    public static let maxLength = 200
    /// The longest alias made from a name, leaving room for a `-N` suffix.
    static let derivedLength = 120

    /// Whether `text` is an alias by the rule.
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...maxLength).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        guard
            bytes.allSatisfy({
                isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            })
        else { return false }
        return !bytes.allSatisfy { (48...57).contains($0) }
    }

    /// `name` reduced to an alias: a leading `*.` reads `wildcard.`, every
    /// character outside the rule becomes `-`, runs of `-` collapse, and
    /// what does not start or end with a letter or digit is trimmed
    /// (`Bars Root` → `Bars-Root`, `wеb` with a Cyrillic `е` → `w-b`).
    /// Nothing left gives `entry`; all digits, `entry-DIGITS`.
    public static func derived(from name: String) -> String {
        var source = Substring(name)
        var out: [UInt8] = []
        if source.hasPrefix("*.") {
            out = Array("wildcard.".utf8)
            source = source.dropFirst(2)
        }
        for scalar in source.unicodeScalars {
            let byte: UInt8 =
                scalar.isASCII && (isAlphanumeric(UInt8(scalar.value)) || ".-_".unicodeScalars.contains(scalar))
                ? UInt8(scalar.value) : UInt8(ascii: "-")
            if byte == UInt8(ascii: "-"), out.last == byte { continue }
            out.append(byte)
        }
        var trimmed = out.drop { !isAlphanumeric($0) }
        while let last = trimmed.last, !isAlphanumeric(last) { trimmed.removeLast() }
        var result = String(decoding: trimmed.prefix(derivedLength), as: UTF8.self)
        while let last = result.utf8.last, !isAlphanumeric(last) { result.removeLast() }
        if result.isEmpty { return "entry" }
        if !isValid(result) { return "entry-" + result.prefix(derivedLength - 6) }
        return result
    }

    /// The error for an alias a person gave that breaks the rule.
    static func invalid(_ text: String) -> CertVaultError {
        CertVaultError(
            .invalidArgument,
            "\(Display.quoted(text)) is not a valid alias",
            hint: "an alias is 1 to \(maxLength) ASCII letters, digits, '.', '-' and '_', starting with a letter or "
                + "digit and not all digits (try \(Display.quoted(derived(from: text))))"
        )
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }
}
