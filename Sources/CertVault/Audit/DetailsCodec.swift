import Foundation

/// The one writer and the one reader of a record's details: the JSON text
/// that is hashed and signed. Its rules are in docs/audit-details.md.
///
/// Format 2, written since details carry their version (`"v":2`):
/// - one JSON object, its keys the ``DetailKey``s the record's action may
///   hold, each value of its key's one type;
/// - keys sorted by their UTF-8 bytes, each once; no space anywhere; no BOM;
/// - integers in shortest decimal (`-` only before a non-zero), no fraction
///   or exponent;
/// - strings as UTF-8 with exactly these escapes: `\"`, `\\`, `\b`, `\f`,
///   `\n`, `\r`, `\t`, and `\u00xx` (lower-case hex) for the other
///   characters below U+0020; every other character, `/` and DEL included,
///   as itself.
///
/// A format-2 text is read only if writing what was read gives the same
/// bytes, so every value has one text and every text one value.
///
/// Format 1 is every record written before (no `"v"`): the same reader, so
/// a duplicate key, a fraction, a lone surrogate or a BOM is refused there
/// too, but the key order is not checked and keys this certvault does not
/// know are listed rather than refused — exactly what those versions wrote.
/// A format-1 record after a format-2 one is refused by `audit verify`.
enum DetailsCodec {
    /// The format this certvault writes.
    static let currentVersion = 2

    /// The canonical text of `details` for `action`, with the version.
    /// - Throws: `.corrupt` when a key or a value breaks the action's schema
    ///   (a programming error: nothing is written then).
    static func encode(_ details: AuditDetails, for action: AuditAction) throws -> String {
        var fields = details.fields
        fields[.version] = .integer(Int64(currentVersion))
        for (key, value) in fields {
            guard key == .version || key == .state || key == .entriesState || action.detailKeys.contains(key) else {
                throw CertVaultError(
                    .corrupt,
                    "internal error: a \(action.rawValue) record cannot hold \(key.rawValue)"
                )
            }
            guard key.admits(value) else {
                throw CertVaultError(.corrupt, "internal error: \(key.rawValue) of the wrong type")
            }
        }
        return text(of: fields)
    }

    /// The canonical text of `fields`, unchecked.
    static func text(of fields: [DetailKey: DetailValue]) -> String {
        String(decoding: bytes(of: fields), as: UTF8.self)
    }

    /// The canonical text of `fields` as UTF-8.
    static func bytes(of fields: [DetailKey: DetailValue]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        out.append(UInt8(ascii: "{"))
        let members = fields.map { (rank: $0.key.rank, key: $0.key, value: $0.value) }.sorted { $0.rank < $1.rank }
        for (n, member) in members.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(member.key.rawValue, to: &out)
            out.append(UInt8(ascii: ":"))
            append(member.value, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func append(_ value: DetailValue, to out: inout [UInt8]) {
        switch value {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .integer(let i): JSONText.appendInteger(i, to: &out)
        case .text(let s): JSONText.appendString(s, to: &out)
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// Reads the details of a record of `action` (its raw text: a record
    /// may name an action no certvault wrote, whose details are then read
    /// as format 1 at most).
    /// - Throws: `.tampered` naming the first rule the text breaks.
    static func decode(_ text: String, action: String) throws -> AuditDetails {
        func refused(_ why: String) -> CertVaultError {
            CertVaultError(.tampered, "its details are not certvault's: \(why)")
        }
        let parsed: JSONValue
        switch JSONText.read(text) {
        case .success(let value): parsed = value
        case .failure(let refusal): throw refused(refusal.description)
        }
        guard case .object(let object) = parsed else { throw refused("not a JSON object") }
        var version = 1
        if let v = object[DetailKey.version.rawValue] {
            guard case .integer(let n) = v, n >= 2 else { throw refused("a version that is not a format number") }
            // A vault this certvault opens is of a format it knows (a newer one is refused at open),
            // so a newer details format in it was not written by a newer certvault: it was put there.
            guard n <= currentVersion else {
                throw refused("a details format (\(n)) no certvault of this vault's format writes")
            }
            version = Int(n)
        }
        let known = AuditAction(rawValue: action)
        var fields: [DetailKey: DetailValue] = [:]
        var unknown: [String] = []
        for (name, json) in object {
            guard let key = DetailKey.named(name) else {
                guard version == 1 else { throw refused("a key certvault does not write (\(Display.quoted(name)))") }
                unknown.append(name)
                continue
            }
            guard let value = DetailValue(json), key.admits(value) else {
                throw refused("\(name) is not of its type")
            }
            if version >= 2, key != .version, key != .state, key != .entriesState {
                guard let known, known.detailKeys.contains(key) else {
                    throw refused("a \(action) record does not hold \(name)")
                }
            }
            fields[key] = value
        }
        if version >= 2 {
            var text = text
            let canonical = bytes(of: fields)
            guard text.withUTF8({ $0.elementsEqual(canonical) }) else {
                throw refused("not in canonical form (key order, spacing, an escape or a number written otherwise)")
            }
        }
        fields[.version] = nil
        return AuditDetails(
            version: version,
            fields: fields,
            unknownKeys: unknown.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        )
    }
}

extension DetailValue {
    /// The value of a parsed JSON value; nil for an object (details hold none).
    init?(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .integer(let i): self = .integer(i)
        case .string(let s): self = .text(s)
        case .array(let items):
            var list: [DetailValue] = []
            list.reserveCapacity(items.count)
            for item in items {
                guard let value = DetailValue(item) else { return nil }
                list.append(value)
            }
            self = .list(list)
        case .object: return nil
        }
    }
}
