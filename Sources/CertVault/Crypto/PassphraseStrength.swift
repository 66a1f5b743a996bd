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
        "passphrase", "correcthorsebatterystaple", "summer2024", "winter2024", "spring2025", "autumn2025",
    ]

    /// Estimates `secret`.
    public static func assess(_ secret: SecureBytes) -> PassphraseStrength {
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
