import Foundation

/// A rough strength estimate of a passphrase or file password, read in
/// secure memory: length times the bits of the character classes it draws
/// on, with known weak choices (a common password, one repeated character)
/// counted as nearly nothing.
///
/// It is an estimate against guessing, not a proof: four random words or
/// twelve random characters pass, `abc`, `secret` and `password1` do not.
/// The CLI refuses what falls short at `init`, when a passphrase is set, and
/// for an exported file's password, unless told the weakness is meant.
public struct PassphraseStrength: Sendable, Equatable {
    /// The estimate in bits.
    public var bits: Int
    /// Why it is weak, in words; nil when it is acceptable.
    public var problem: String?
    /// Whether it reaches ``minimumBits``.
    public var acceptable: Bool { problem == nil }

    /// What certvault asks of a passphrase: about 45 bits.
    public static let minimumBits = 45

    /// A short list of the passwords tried first by anyone guessing.
    static let common: Set<String> = [
        "password", "password1", "password123", "passw0rd", "p@ssw0rd", "123456", "1234567", "12345678",
        "123456789", "1234567890", "qwerty", "qwertyuiop", "abc123", "letmein", "welcome", "welcome1", "admin",
        "administrator", "iloveyou", "monkey", "dragon", "football", "baseball", "sunshine", "princess",
        "trustno1", "111111", "000000", "changeme", "secret", "master", "shadow", "azerty", "certvault",
        "passphrase", "correcthorsebatterystaple", "correct horse battery staple", "summer2024", "winter2024",
        "spring2025", "autumn2025", "contoso", "microsoft", "azure", "windows", "letmein1",
    ]

    /// Keyboard rows and the digits, for runs typed along them.
    static let runs = [
        "qwertyuiopasdfghjklzxcvbnm", "1234567890", "abcdefghijklmnopqrstuvwxyz", "azertyuiopqsdfghjklmwxcvbn",
    ]

    /// Estimates `secret`. `context` holds words an attacker would try first
    /// for this secret (the person's handle and name, the certificate's
    /// names): a passphrase built from them counts for little.
    ///
    /// Besides length and character classes, it finds what makes a long
    /// secret guessable: a common password under capitals, digits, symbols
    /// and look-alike substitutions (`P@ssw0rd2024!`); one word repeated
    /// (`alicealicealice`, `certvault-certvault`); a run along the keyboard
    /// or the alphabet (`qwertyuiop`, `12345678`); the context words.
    public static func assess(_ secret: SecureBytes, context: [String] = []) -> PassphraseStrength {
        let basic = charsetEstimate(secret)
        guard basic.acceptable else { return basic }
        if !secret.withUnsafeBytes(isUTF8) {
            return PassphraseStrength(bits: 0, problem: "it is not valid UTF-8 text")
        }
        // The letters and digits alone, folded and with look-alikes undone, in secure memory.
        let core = SecureBytes(count: secret.count)
        let n = secret.withUnsafeBytes { raw in
            core.withUnsafeMutableBytes { out in folded(raw, into: out) }
        }
        return core.withUnsafeBytes { all -> PassphraseStrength in
            let c = UnsafeRawBufferPointer(rebasing: all[0..<n])
            if let problem = pattern(c, context: context) { return PassphraseStrength(bits: 20, problem: problem) }
            return basic
        }
    }

    /// Whether `bytes` are well-formed UTF-8, checked in place (a String
    /// would copy the secret out of secure memory).
    static func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length: Int
            switch b {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return false
            }
            guard i + length <= bytes.count else { return false }
            for k in 1..<max(length, 1) where bytes[i + k] & 0xC0 != 0x80 { return false }
            if length == 3, b == 0xE0, bytes[i + 1] < 0xA0 { return false }  // overlong
            if length == 3, b == 0xED, bytes[i + 1] > 0x9F { return false }  // surrogates
            if length == 4, b == 0xF0, bytes[i + 1] < 0x90 { return false }  // overlong
            if length == 4, b == 0xF4, bytes[i + 1] > 0x8F { return false }  // past U+10FFFF
            i += length
        }
        return true
    }

    /// Lower-cased letters and digits only, with look-alike symbols read as
    /// the letters they stand for (@ a, $ s, 0 o, 1 i, 3 e, 4 a, 5 s, 7 t)
    /// when they sit between letters. Returns the length written.
    static func folded(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        func isLetter(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        func leet(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "@"), UInt8(ascii: "4"): return UInt8(ascii: "a")
            case UInt8(ascii: "$"), UInt8(ascii: "5"): return UInt8(ascii: "s")
            case UInt8(ascii: "0"): return UInt8(ascii: "o")
            case UInt8(ascii: "1"), UInt8(ascii: "!"): return UInt8(ascii: "i")
            case UInt8(ascii: "3"): return UInt8(ascii: "e")
            case UInt8(ascii: "7"): return UInt8(ascii: "t")
            default: return nil
            }
        }
        var n = 0
        for i in raw.indices {
            let b = raw[i]
            if isLetter(b) {
                out[n] = b | 0x20
                n += 1
            } else if let l = leet(b), i > 0, i + 1 < raw.count, isLetter(raw[i - 1]) || leet(raw[i - 1]) != nil,
                isLetter(raw[i + 1])
            {
                out[n] = l
                n += 1
            } else if (0x30...0x39).contains(b) {
                out[n] = b
                n += 1
            }
        }
        return n
    }

    /// What makes the folded secret `c` guessable, if anything.
    static func pattern(_ c: UnsafeRawBufferPointer, context: [String]) -> String? {
        guard c.count > 0 else { return nil }
        func equals(_ word: String, _ range: Range<Int>) -> Bool {
            word.utf8.count == range.count && zip(word.utf8, c[range]).allSatisfy { $0 == $1 }
        }
        // A common password with digits or symbols around it.
        var lo = 0
        var hi = c.count
        while lo < hi, (0x30...0x39).contains(c[lo]) { lo += 1 }
        while hi > lo, (0x30...0x39).contains(c[hi - 1]) { hi -= 1 }
        if hi > lo, common.contains(where: { equals($0.replacingOccurrences(of: " ", with: ""), lo..<hi) }) {
            return "it is a common password with a few changes"
        }
        // One short piece said again and again.
        for unit in 1...max(1, c.count / 2) where c.count % unit == 0 && unit < c.count {
            if (unit..<c.count).allSatisfy({ c[$0] == c[$0 - unit] }) { return "it repeats one short piece" }
        }
        // A run along the keyboard or the alphabet, either way.
        if c.count >= 4 {
            for run in runs {
                let forward = Array(run.utf8)
                let both = [forward + forward, (forward + forward).reversed()]
                for line in both where line.count >= c.count {
                    for start in 0...(line.count - c.count)
                    where (0..<c.count).allSatisfy({ line[start + $0] == c[$0] }) {
                        return "it is a run along the keyboard or the alphabet"
                    }
                }
            }
        }
        // Built from what an attacker tries first for this secret.
        let words = Set(
            context.flatMap { item -> [String] in
                let lower = item.lowercased()
                let parts = lower.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
                return [String(lower.filter { $0.isLetter || $0.isNumber })] + parts
            }.filter { $0.utf8.count >= 3 }
        )
        guard !words.isEmpty else { return nil }
        var covered = [Bool](repeating: false, count: c.count)
        for word in words {
            let w = Array(word.utf8)
            guard w.count <= c.count else { continue }
            for start in 0...(c.count - w.count) where (0..<w.count).allSatisfy({ c[start + $0] == w[$0] }) {
                for i in start..<(start + w.count) { covered[i] = true }
            }
        }
        let rest = covered.filter { !$0 }.count
        if rest < 8 && covered.contains(true) {
            return "it is made of names an attacker tries first (a handle, a certificate's name)"
        }
        return nil
    }

    /// Length times the bits of the character classes, and the most common passwords.
    static func charsetEstimate(_ secret: SecureBytes) -> PassphraseStrength {
        secret.withUnsafeBytes { bytes in
            var lower = false
            var upper = false
            var digit = false
            var space = false
            var symbol = false
            var other = false
            var characters = 0
            var first: UInt8?
            var oneCharacter = true
            for b in bytes {
                if b & 0xC0 != 0x80 { characters += 1 }
                if first == nil { first = b } else if b != first { oneCharacter = false }
                switch b {
                case 0x61...0x7A: lower = true
                case 0x41...0x5A: upper = true
                case 0x30...0x39: digit = true
                case 0x20: space = true
                case 0x21...0x7E: symbol = true
                default: other = true
                }
            }
            var pool = 0
            var classes: [String] = []
            if lower { (pool, classes) = (pool + 26, classes + ["lower-case letters"]) }
            if upper { (pool, classes) = (pool + 26, classes + ["capitals"]) }
            if digit { (pool, classes) = (pool + 10, classes + ["digits"]) }
            if space { (pool, classes) = (pool + 1, classes + ["spaces"]) }
            if symbol { (pool, classes) = (pool + 32, classes + ["symbols"]) }
            if other { (pool, classes) = (pool + 100, classes + ["other characters"]) }
            let what = "\(characters) character\(characters == 1 ? "" : "s")"
            guard characters > 0 else { return PassphraseStrength(bits: 0, problem: "it is empty") }
            // Compared in place, folded to lower case: the secret is never copied out of secure memory.
            func isWord(_ word: String) -> Bool {
                guard word.utf8.count == bytes.count else { return false }
                return zip(word.utf8, bytes).allSatisfy { w, b in w == ((0x41...0x5A).contains(b) ? b | 0x20 : b) }
            }
            if common.contains(where: isWord) {
                return PassphraseStrength(bits: 0, problem: "it is one of the most common passwords")
            }
            if oneCharacter {
                return PassphraseStrength(bits: Int(log2(Double(pool))), problem: "it repeats one character")
            }
            let bits = Int((Double(characters) * log2(Double(max(pool, 2)))).rounded(.down))
            guard bits >= minimumBits else {
                return PassphraseStrength(
                    bits: bits,
                    problem:
                        "\(what) of \(classes.joined(separator: ", ")) is about \(bits) bits, under the \(minimumBits) asked for"
                )
            }
            return PassphraseStrength(bits: bits, problem: nil)
        }
    }
}
