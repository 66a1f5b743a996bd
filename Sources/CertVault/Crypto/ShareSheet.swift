import Foundation

/// A share of a secret as a sheet a person can type back: what a
/// custodian of break-glass recovery keeps on paper.
///
/// ```
/// certvault recovery share 2 of 5, any 3 recover
/// vault 9e038f6c6175704e set 4f1a2b3c
/// 1  ABCDE FGHJK MNPQR STVWX  K
/// 2  0123A BCDEF GHJKM NPQRS  *
/// 3  TVWXY Z0123 45     ~
/// check 7QX2-M4PA
/// ```
///
/// - The body is the share's bytes in Crockford's base32 (no I, L, O or U;
///   read back case-insensitively, with O as 0 and I and L as 1), in groups
///   of five, twenty characters a line.
/// - Each line ends with its check character: the sum of its values,
///   weighted 1, 2, 3, … from the left, plus 7 times the line's number,
///   modulo 37, written with Crockford's check symbols (0–9, A–Z without I,
///   L, O, U, then `*`, `~`, `$`, `=`, `U`). Weights below 37 and a prime
///   modulus catch every single wrong character and every swap of two
///   neighbours, so a typo is named at its line; the line's number in the
///   sum catches two lines swapped.
/// - The last line checks the whole: the first 40 bits of BLAKE2b-256 over
///   a context, the header's fields and the share, in base32.
public struct ShareSheet: Sendable {
    /// The first 8 bytes of the vault id, as printed.
    public let vaultPrefix: Data
    /// The set the share belongs to (4 bytes).
    public let setID: Data
    /// How many shares give the secret back.
    public let threshold: Int
    /// How many shares there are.
    public let count: Int
    /// The share.
    public let share: Shamir.Share

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    static let checkSymbols = alphabet + Array("*~$=U")
    static let perLine = 20
    static let context = Data("certvault recovery share v1".utf8)

    /// A sheet for `share`.
    public init(vaultID: Data, setID: Data, threshold: Int, count: Int, share: Shamir.Share) {
        vaultPrefix = vaultID.prefix(8)
        self.setID = setID.prefix(4)
        self.threshold = threshold
        self.count = count
        self.share = share
    }

    /// The sheet's text, lines ending in a newline.
    public var text: String {
        let body = share.y.withUnsafeBytes { Self.base32(Data($0)) }
        var lines = [
            "certvault recovery share \(share.x) of \(count), any \(threshold) recover",
            "vault \(vaultPrefix.hexLower) set \(setID.hexLower)",
        ]
        var start = body.startIndex
        var number = 1
        while start < body.endIndex {
            let end = body.index(start, offsetBy: Self.perLine, limitedBy: body.endIndex) ?? body.endIndex
            let chunk = Array(body[start..<end])
            let groups = stride(from: 0, to: chunk.count, by: 5).map {
                String(chunk[$0..<min($0 + 5, chunk.count)])
            }
            lines.append(
                "\(number)  \(groups.joined(separator: " "))  \(Self.checkSymbols[Self.check(chunk, line: number)])"
            )
            start = end
            number += 1
        }
        lines.append("check " + checksum)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The whole share's check, `XXXX-XXXX`.
    var checksum: String {
        var input = Self.context
        input.append(vaultPrefix)
        input.append(setID)
        input.append(contentsOf: [UInt8(threshold), UInt8(count), share.x])
        let digest = share.y.withUnsafeBytes { y -> Data in
            var all = input
            all.append(contentsOf: y)
            return Digest.blake2b([all])
        }
        let text = String(Self.base32(digest.prefix(5)))
        return text.prefix(4) + "-" + text.dropFirst(4)
    }

    /// A line's check value, 0 to 36.
    static func check(_ characters: [Character], line: Int) -> Int {
        var sum = 7 * line
        for (i, ch) in characters.enumerated() {
            sum += (i + 1) * (value(of: ch) ?? 0)
        }
        return sum % 37
    }

    static func value(of ch: Character) -> Int? {
        switch ch.uppercased() {
        case "O": return 0
        case "I", "L": return 1
        default: return alphabet.firstIndex(of: Character(ch.uppercased()))
        }
    }

    /// A check symbol's value: a base32 character's (O as 0, I and L as 1),
    /// or 32 to 36 for `*`, `~`, `$`, `=`, `U`.
    static func checkValue(of symbol: Character) -> Int? {
        if let v = value(of: symbol) { return v }
        return checkSymbols.dropFirst(32).firstIndex(of: Character(symbol.uppercased()))
    }

    /// A body line's characters, as typed between its number and its check
    /// (groups joined, hyphens dropped).
    static func bodyCharacters(_ words: [String]) -> [Character] {
        Array(words.dropFirst().dropLast().joined().replacingOccurrences(of: "-", with: ""))
    }

    /// The bytes of checked base32 characters (the bits left over are padding).
    static func base32Decoded(_ characters: [Character]) -> Data {
        var bytes = Data()
        var buffer = 0
        var bits = 0
        for ch in characters {
            buffer = (buffer << 5) | (value(of: ch) ?? 0)
            bits += 5
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((buffer >> bits) & 0xFF))
            }
            buffer &= (1 << bits) - 1
        }
        return bytes
    }

    static func base32(_ data: Data) -> [Character] {
        var out: [Character] = []
        var buffer = 0
        var bits = 0
        for byte in data {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[(buffer >> bits) & 31])
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return out
    }

    /// Checks one body line as typed: nil when it holds, else what is wrong.
    /// - Parameters:
    ///   - line: the line as typed, its number first and its check last.
    ///   - number: the line's number, as the sheet prints it.
    public static func problem(inLine line: String, number: Int) -> String? {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count >= 2, Int(words[0]) == number else {
            return "line \(number): it should start with its number, \(number)"
        }
        let symbol = words.last!.uppercased()
        let characters = bodyCharacters(words)
        if let bad = characters.first(where: { value(of: $0) == nil }) {
            return "line \(number): '\(Display.escaped(String(bad)))' is not a character a sheet uses"
        }
        guard characters.count <= perLine, symbol.count == 1, let expected = checkValue(of: Character(symbol))
        else { return "line \(number): it does not end with one check character" }
        guard expected == check(characters, line: number) else {
            return "line \(number): its check character does not match: a character on this line is mistyped"
        }
        return nil
    }

    /// Reads a sheet's text back, checking every line and the whole.
    /// - Parameters:
    ///   - text: the sheet as printed (or typed).
    ///   - vaultID: the vault the share must be of, when known.
    ///   - setID: the recovery set the share must be of, when known.
    /// - Throws: `.invalidArgument` naming the line that is wrong, a share
    ///   of another vault or set, or a checksum that does not hold.
    public static func read(_ text: String, vaultID: Data? = nil, setID: Data? = nil) throws -> ShareSheet {
        func refuse(_ why: String) -> CertVaultError {
            CertVaultError(.invalidArgument, "this share cannot be read: \(why)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        guard lines.count >= 4 else { throw refuse("it has too few lines") }
        let title = lines[0].split(separator: " ").map(String.init)
        guard title.count == 9, title[0] == "certvault", title[1] == "recovery", title[2] == "share",
            let x = UInt8(title[3]), title[4] == "of", let n = Int(title[5].dropLast()), title[5].hasSuffix(","),
            title[6] == "any", let k = Int(title[7]), title[8] == "recover"
        else { throw refuse("the first line is not 'certvault recovery share X of N, any K recover'") }
        let ids = lines[1].split(separator: " ").map(String.init)
        guard ids.count == 4, ids[0] == "vault", ids[2] == "set", let vault = Data(hex: ids[1]), vault.count == 8,
            let set = Data(hex: ids[3]), set.count == 4
        else { throw refuse("the second line is not 'vault HEX set HEX'") }
        if let vaultID, vaultID.prefix(8) != vault {
            throw CertVaultError(
                .invalidArgument,
                "this share is of another vault (\(vault.hexLower), not \(vaultID.prefix(8).hexLower))"
            )
        }
        if let setID, setID.prefix(4) != set {
            throw CertVaultError(
                .invalidArgument,
                "this share is of another recovery set (\(set.hexLower), not \(setID.prefix(4).hexLower)): one replaced, or of another vault"
            )
        }
        var characters: [Character] = []
        for (i, line) in lines.dropFirst(2).dropLast().enumerated() {
            if let problem = problem(inLine: line, number: i + 1) { throw refuse(problem) }
            characters += bodyCharacters(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        }
        guard lines.last!.hasPrefix("check ") else { throw refuse("the last line is not 'check XXXX-XXXX'") }
        let bytes = base32Decoded(characters)
        let sheet = ShareSheet(
            vaultID: vault,
            setID: set,
            threshold: k,
            count: n,
            share: Shamir.Share(x: x, y: SecureBytes(copying: bytes))
        )
        let typed = lines.last!.dropFirst(6).uppercased().replacingOccurrences(of: "O", with: "0")
            .replacingOccurrences(of: "I", with: "1").replacingOccurrences(of: "L", with: "1")
        guard typed == sheet.checksum else {
            throw refuse(
                "its check line does not match: the header was changed, or lines come from two sheets"
            )
        }
        return sheet
    }
}
