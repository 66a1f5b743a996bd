import Foundation

/// A record's details, typed: what ``AuditRecord/details`` holds as the JSON
/// text that was hashed.
///
/// The text stays the authority (it is what the hash and the signature
/// cover, and a later certvault may add fields this one does not know);
/// this is a reading of it. A field that is missing, or holds a value of
/// another type, reads as nil.
public struct AuditDetails: Sendable, Equatable {
    /// One JSON value of the details.
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case bool(Bool)
        /// A list, an object, a fraction or null.
        case other
    }

    private struct Field: Decodable {
        let value: Value
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) {
                value = .bool(b)
            } else if let i = try? c.decode(Int64.self) {
                value = .integer(i)
            } else if let s = try? c.decode(String.self) {
                value = .string(s)
            } else {
                value = .other
            }
        }
    }

    /// Every field, by name.
    public let fields: [String: Value]

    /// Reads the details' JSON text; text that is not a JSON object gives no fields.
    public init(json text: String) {
        // Our own reader first (JSONDecoder cost `audit log` most of its time); what it does not take, JSONDecoder.
        if case .object(let object)? = JSONText.parse(text) {
            fields = object.mapValues {
                switch $0 {
                case .string(let s): .string(s)
                case .integer(let i): .integer(i)
                case .bool(let b): .bool(b)
                default: .other
                }
            }
            return
        }
        fields = ((try? JSONDecoder().decode([String: Field].self, from: Data(text.utf8))) ?? [:]).mapValues(\.value)
    }

    /// The text field `key`.
    public func string(_ key: String) -> String? {
        if case .string(let s)? = fields[key] { return s }
        return nil
    }

    /// The integer field `key`.
    public func integer(_ key: String) -> Int64? {
        if case .integer(let i)? = fields[key] { return i }
        return nil
    }

    /// The true-or-false field `key`.
    public func bool(_ key: String) -> Bool? {
        if case .bool(let b)? = fields[key] { return b }
        return nil
    }

    /// `entry.export`: the handle of the person the file was made for.
    public var recipient: String? { string("recipient") }
    /// `entry.export`, `vault.backup`: the name of the file written.
    public var file: String? { string("file") }
    /// `entry.export` to memory: the caller's label instead of a file name.
    public var label: String? { string("label") }
    /// `entry.export`: SHA-256 of the bytes exported, lower-case hex.
    public var fileSHA256: String? { string("file_sha256") }
    /// `entry.export`: `pfx` or `key`.
    public var format: ExportFormat? { string("format").flatMap(ExportFormat.init(rawValue:)) }
    /// `entry.export` of a `.pfx`: how it was protected.
    public var profile: ExportProfile? { string("profile").flatMap(ExportProfile.init(rawValue:)) }
    /// `entry.export` of a key: whether it was encrypted.
    public var encrypted: Bool? { bool("encrypted") }
    /// `entry.import` and its kin: the file name or label the material came from.
    public var source: String? { string("source") }
    /// Entry records: the entry's alias when the record was written.
    public var alias: String? { string("alias") }
    /// `entry.*` records of a certificate: its SHA-1 thumbprint, upper-case hex.
    public var thumbprintSHA1: String? { string("sha1") }
    /// `vault.create`, `person.add`: the person's handle.
    public var handle: String? { string("handle") }
    /// `vault.create`, `person.add`: the person's role.
    public var role: PersonRole? { string("role").flatMap(PersonRole.init(rawValue:)) }
    /// `entry.grant`, `rollback.accept`: why.
    public var reason: String? { string("reason") }
}

extension AuditRecord {
    /// The action, when it is one this certvault knows; nil otherwise (and
    /// ``Vault/auditLog(_:)`` then names the record's ``problem``).
    public var kind: AuditAction? { AuditAction(rawValue: action) }

    /// When the record was written; nil if ``at`` is not a time.
    public var date: Date? { Timestamp.parse(at) }

    /// The details, typed.
    public var fields: AuditDetails { AuditDetails(json: details) }
}

/// Any JSON value, kept as it was: how ``AuditRecord`` writes its details
/// as a JSON object rather than a string.
enum JSONValue: Codable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

extension AuditRecord {
    enum CodingKeys: String, CodingKey {
        case seq, at, actorID, actorHandle, action, entryID, entryAlias, personID, personHandle, details
        case previousHash, hash, signature, problem
    }

    /// JSON for people and scripts: the details as the JSON object they are
    /// (the exact hashed text is ``details``), hashes and the signature in
    /// lower-case hex.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(at, forKey: .at)
        try c.encodeIfPresent(actorID, forKey: .actorID)
        try c.encodeIfPresent(actorHandle, forKey: .actorHandle)
        try c.encode(action, forKey: .action)
        try c.encodeIfPresent(entryID, forKey: .entryID)
        try c.encodeIfPresent(entryAlias, forKey: .entryAlias)
        try c.encodeIfPresent(personID, forKey: .personID)
        try c.encodeIfPresent(personHandle, forKey: .personHandle)
        if let object = try? JSONDecoder().decode(JSONValue.self, from: Data(details.utf8)) {
            try c.encode(object, forKey: .details)
        } else {
            try c.encode(details, forKey: .details)
        }
        try c.encode(previousHash.hexLower, forKey: .previousHash)
        try c.encode(hash.hexLower, forKey: .hash)
        try c.encodeIfPresent(signature?.hexLower, forKey: .signature)
        try c.encodeIfPresent(problem, forKey: .problem)
    }
}
