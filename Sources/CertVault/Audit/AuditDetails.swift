import Foundation

/// One value of a record's details.
public enum DetailValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case text(String)
    case list([DetailValue])

    /// A list of texts.
    static func texts(_ items: [String]) -> DetailValue { .list(items.map(DetailValue.text)) }
    /// A list of integers.
    static func integers(_ items: [Int64]) -> DetailValue { .list(items.map(DetailValue.integer)) }

    /// The text, when this is one.
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }
    /// The integer, when this is one.
    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }
    /// The truth value, when this is one.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    /// The items, when this is a list.
    public var list: [DetailValue]? {
        if case .list(let items) = self { return items }
        return nil
    }
}

/// The fields a record's details may hold, each of one type: the schema
/// that certvault's one writer and one reader of details hold to
/// (docs/audit-details.md).
public enum DetailKey: String, CaseIterable, Sendable, Comparable {
    /// The details format of the record (2 for records written now);
    /// absent in records written before formats were numbered (format 1).
    case version = "v"
    // People.
    case handle, role, name, email, was
    case boxPublicKey = "box_public_key"
    case signPublicKey = "sign_public_key"
    case keyslotDigest = "keyslot_digest"
    case kdf
    case personDigest = "person_digest"
    // The vault.
    case vaultID = "vault_id"
    case formatVersion = "format_version"
    // What every change commits to.
    case state
    case entriesState = "entries_state"
    case entryDigest = "entry_digest"
    case entryParts = "entry_parts"
    case alias
    // An entry's material.
    case spkiSHA256 = "spki_sha256"
    case certSHA256 = "cert_sha256"
    case ciphertextSHA256 = "ciphertext_sha256"
    case csrSHA256 = "csr_sha256"
    case sha1, purpose, subject, dns, source, grants, issuer
    // Custody and lifecycle.
    case to, from, reason, attempt, departed
    case successor
    case successorAlias = "successor_alias"
    case previousAlias = "previous_alias"
    case retiredAt = "retired_at"
    case keyDestroyed = "key_destroyed"
    // Exports and backups.
    case recipient, file, label, format, profile, encrypted
    /// The age recipients (`age1…`) an export was encrypted to.
    case ageRecipients = "age_recipients"
    /// A person's age recipient (`person.recipient`); null when cleared.
    case ageRecipient = "age_recipient"
    case fileSHA256 = "file_sha256"
    case exportSeq = "export_seq"
    // Rollbacks and restores.
    case seenSeq = "seen_seq"
    case seenHash = "seen_hash"
    case seenAt = "seen_at"
    case restore
    case sharedSeq = "shared_seq"
    case branch
    case currentLogIgnored = "current_log_ignored"
    case replacedSeq = "replaced_seq"
    case replacedHash = "replaced_hash"
    // Policy.
    case key, value

    /// Keys sort by their UTF-8 bytes, as the canonical text orders them.
    public static func < (a: DetailKey, b: DetailKey) -> Bool { a.rank < b.rank }

    /// Each key's place among all keys in byte order, worked out once.
    private static let ranks: [DetailKey: Int] = Dictionary(
        uniqueKeysWithValues: allCases.sorted { $0.rawValue.utf8.lexicographicallyPrecedes($1.rawValue.utf8) }
            .enumerated().map { ($1, $0) }
    )
    var rank: Int { Self.ranks[self]! }

    /// The key named `name`, by one hash lookup rather than a comparison per case.
    private static let byName: [String: DetailKey] = Dictionary(
        uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) }
    )
    static func named(_ name: String) -> DetailKey? { byName[name] }

    /// The one type a value of this key has.
    enum Kind {
        case text, integer, bool, texts, integers
        /// A text, or null when what it digests is gone.
        case optionalText
        /// A list of texts, or null when what it digests is gone.
        case optionalTexts
    }

    var kind: Kind {
        switch self {
        case .version, .formatVersion, .successor, .exportSeq, .seenSeq, .sharedSeq, .replacedSeq, .issuer: .integer
        case .departed, .keyDestroyed, .encrypted, .restore, .currentLogIgnored: .bool
        case .dns, .grants, .ageRecipients: .texts
        case .ageRecipient: .optionalText
        case .branch: .integers
        case .personDigest, .entryDigest: .optionalText
        case .entryParts: .optionalTexts
        default: .text
        }
    }

    /// Whether `value` has this key's type.
    func admits(_ value: DetailValue) -> Bool {
        func all(_ items: [DetailValue], _ test: (DetailValue) -> Bool) -> Bool { items.allSatisfy(test) }
        switch (kind, value) {
        case (.text, .text), (.optionalText, .text), (.optionalText, .null), (.integer, .integer), (.bool, .bool),
            (.optionalTexts, .null):
            return true
        case (.texts, .list(let items)), (.optionalTexts, .list(let items)): return all(items) { $0.text != nil }
        case (.integers, .list(let items)): return all(items) { $0.integer != nil }
        default: return false
        }
    }
}

extension AuditAction {
    /// The keys a record of this action may hold in the current format,
    /// besides the version and the state every change's last record carries.
    var detailKeys: Set<DetailKey> { Self.allowedKeys[self]! }

    private static let allowedKeys: [AuditAction: Set<DetailKey>] = Dictionary(
        uniqueKeysWithValues: allCases.map { ($0, $0.schema) }
    )

    private var schema: Set<DetailKey> {
        let entry: Set<DetailKey> = [.entryDigest, .entryParts, .alias]
        let material: Set<DetailKey> = [
            .spkiSHA256, .certSHA256, .ciphertextSHA256, .grants, .source, .purpose, .sha1, .subject,
        ]
        let person: Set<DetailKey> = [.handle, .role, .name, .email, .boxPublicKey, .signPublicKey, .personDigest]
        switch self {
        case .vaultCreate: return person.union([.vaultID, .formatVersion])
        case .personAdd: return person.union([.keyslotDigest])
        case .personKeyslot: return [.keyslotDigest, .kdf, .personDigest]
        case .personRole: return [.handle, .role, .was, .personDigest]
        case .personDepart: return [.handle, .reason, .personDigest]
        case .personRecipient: return [.handle, .ageRecipient, .personDigest]
        case .unlockFailed: return [.handle]
        case .entryImport, .entryCreate, .entryKeyAdd, .entryCertAdd, .entryComplete:
            return entry.union(material)
        case .entryRequest: return entry.union(material).union([.dns, .csrSHA256])
        case .entryLink: return entry.union([.issuer])
        case .entryGrant: return entry.union([.to, .reason])
        case .entryUngrant: return entry.union([.from, .reason])
        case .entryExport:
            return entry.union([
                .format, .profile, .encrypted, .kdf, .recipient, .fileSHA256, .file, .label, .ageRecipients,
            ])
        case .entryExportUnwritten: return entry.union([.exportSeq, .file, .reason])
        case .entryNeedsRotation: return entry.union([.reason, .departed])
        case .entrySupersede: return entry.union([.successor, .successorAlias])
        case .entryRevoke: return entry.union([.reason, .keyDestroyed])
        case .entryRetire: return entry.union([.retiredAt])
        case .entryRename: return entry.union([.previousAlias])
        case .entryDenied: return entry.union([.attempt, .reason])
        case .vaultBackup: return [.file]
        case .rollbackAccepted:
            return [
                .seenSeq, .seenHash, .seenAt, .reason, .restore, .sharedSeq, .branch, .currentLogIgnored,
                .replacedSeq, .replacedHash,
            ]
        case .policySet: return [.key, .value]
        }
    }
}

/// A record's details, typed: what ``AuditRecord/details`` holds as the
/// JSON text that was hashed, read by the one reader of signed details
/// (docs/audit-details.md).
public struct AuditDetails: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The details format the record was written in: 1 for records written
    /// before formats were numbered, 2 since.
    public var version: Int
    /// Every field, by key.
    public var fields: [DetailKey: DetailValue]
    /// The keys of a format-1 record that this certvault does not know, in
    /// text order (their values are not read). Always empty in later formats,
    /// which refuse them.
    public var unknownKeys: [String] = []

    /// Details to write, in the current format.
    public init(dictionaryLiteral elements: (DetailKey, DetailValue)...) {
        version = DetailsCodec.currentVersion
        fields = Dictionary(elements, uniquingKeysWith: { _, new in new })
    }

    init(version: Int, fields: [DetailKey: DetailValue], unknownKeys: [String] = []) {
        self.version = version
        self.fields = fields
        self.unknownKeys = unknownKeys
    }

    /// The details of a record of `action` as ``DetailsCodec`` reads them;
    /// none when it refuses them (`audit verify` names such a record).
    static func reading(_ text: String, action: String) -> AuditDetails {
        (try? DetailsCodec.decode(text, action: action))
            ?? AuditDetails(version: DetailsCodec.currentVersion, fields: [:])
    }

    /// The value of `key`.
    public subscript(key: DetailKey) -> DetailValue? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    /// The text field `key`.
    public func string(_ key: DetailKey) -> String? { fields[key]?.text }
    /// The integer field `key`.
    public func integer(_ key: DetailKey) -> Int64? { fields[key]?.integer }
    /// The true-or-false field `key`.
    public func bool(_ key: DetailKey) -> Bool? { fields[key]?.bool }
    /// The list-of-texts field `key`.
    public func strings(_ key: DetailKey) -> [String]? { fields[key]?.list?.compactMap(\.text) }
    /// The text field `key` as bytes from lower-case hex, when it is `count` bytes.
    func bytes(_ key: DetailKey, count: Int) -> Data? {
        string(key).flatMap(Data.init(hex:)).flatMap { $0.count == count ? $0 : nil }
    }

    /// `entry.export`: the handle of the person the file was made for.
    public var recipient: String? { string(.recipient) }
    /// `entry.export`, `vault.backup`: the name of the file written.
    public var file: String? { string(.file) }
    /// `entry.export` to memory: the caller's label instead of a file name.
    public var label: String? { string(.label) }
    /// `entry.export`: SHA-256 of the bytes exported, lower-case hex.
    public var fileSHA256: String? { string(.fileSHA256) }
    /// `entry.export`: `pfx` or `key`.
    public var format: ExportFormat? { string(.format).flatMap(ExportFormat.init(rawValue:)) }
    /// `entry.export` of a `.pfx`: how it was protected.
    public var profile: ExportProfile? { string(.profile).flatMap(ExportProfile.init(rawValue:)) }
    /// `entry.export` of a key: whether it was encrypted.
    public var encrypted: Bool? { bool(.encrypted) }
    /// `entry.import` and its kin: the file name or label the material came from.
    public var source: String? { string(.source) }
    /// Entry records: the entry's alias when the record was written.
    public var alias: String? { string(.alias) }
    /// `entry.*` records of a certificate: its SHA-1 thumbprint, upper-case hex.
    public var thumbprintSHA1: String? { string(.sha1) }
    /// `vault.create`, `person.add`: the person's handle.
    public var handle: String? { string(.handle) }
    /// `vault.create`, `person.add`: the person's role.
    public var role: PersonRole? { string(.role).flatMap(PersonRole.init(rawValue:)) }
    /// `entry.grant`, `rollback.accept`: why.
    public var reason: String? { string(.reason) }
}

extension AuditRecord {
    /// The action, when it is one this certvault knows; nil otherwise (and
    /// ``Vault/auditLog(_:)`` then names the record's ``problem``).
    public var kind: AuditAction? { AuditAction(rawValue: action) }

    /// When the record was written; nil if ``at`` is not a time.
    public var date: Date? { Timestamp.parse(at) }

    /// The details, read by the one reader of signed details for this
    /// record's action (docs/audit-details.md).
    /// - Throws: `.tampered` naming what the text breaks
    ///   (a duplicate key, a number or escape not in canonical form, a key
    ///   the action does not hold, …).
    public func readDetails() throws -> AuditDetails { try DetailsCodec.decode(details, action: action) }

    /// The details, typed; no fields when ``readDetails()`` refuses the text
    /// (`audit verify` then names the record).
    public var fields: AuditDetails { AuditDetails.reading(details, action: action) }
}

extension DetailValue: Encodable {
    /// JSON for people and scripts (`audit log --json`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .text(let s): try c.encode(s)
        case .list(let items): try c.encode(items)
        }
    }
}

extension AuditRecord {
    enum CodingKeys: String, CodingKey {
        case seq, at, actorID, actorHandle, action, entryID, entryAlias, personID, personHandle, details
        case previousHash, hash, signature, problem
    }

    private struct DetailsObject: Encodable {
        let fields: [DetailKey: DetailValue]
        func encode(to encoder: any Encoder) throws {
            struct Key: CodingKey {
                var stringValue: String
                var intValue: Int? { nil }
                init(stringValue: String) { self.stringValue = stringValue }
                init?(intValue: Int) { nil }
            }
            var c = encoder.container(keyedBy: Key.self)
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                try c.encode(value, forKey: Key(stringValue: key.rawValue))
            }
        }
    }

    /// JSON for people and scripts: the details as the JSON object they are
    /// (the exact hashed text is ``details``; details ``readDetails()``
    /// refuses stay that text), hashes and the signature in lower-case hex.
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
        if let read = try? readDetails(), read.unknownKeys.isEmpty {
            try c.encode(DetailsObject(fields: read.fields), forKey: .details)
        } else {
            try c.encode(details, forKey: .details)
        }
        try c.encode(previousHash.hexLower, forKey: .previousHash)
        try c.encode(hash.hexLower, forKey: .hash)
        try c.encodeIfPresent(signature?.hexLower, forKey: .signature)
        try c.encodeIfPresent(problem, forKey: .problem)
    }
}
