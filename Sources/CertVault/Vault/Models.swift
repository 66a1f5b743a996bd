import Foundation
import GRDB
internal import GRDBSQLite

/// What a person may do.
public enum PersonRole: String, CaseIterable, Sendable, Codable {
    /// Manages people; receives every entry's key.
    case admin
    /// Imports, exports and handles keys.
    case officer
    /// Reads the audit log; holds no keys unless granted.
    case auditor
    /// Only receives copies; has no keyslot.
    case staff
}

/// Whether a person still acts on the vault.
public enum PersonStatus: String, CaseIterable, Sendable, Codable {
    /// Still a member: can act as their role allows.
    case active
    /// Left: can no longer unlock, receives nothing.
    case departed
}

/// Where an entry stands in its life.
public enum EntryStatus: String, CaseIterable, Sendable, Codable {
    /// In use.
    case active
    /// A key and a request made here, waiting for the certificate the CA issues.
    case pending
    /// Replaced by a newer entry.
    case superseded
    /// Withdrawn; kept for the record.
    case revoked
}

/// A number a vault gives an entry or a person: once, never reused.
/// `Owner` says whose (``Entry/ID``, ``Person/ID``), so one is never taken
/// for the other. Encodes as a plain integer.
public struct Identifier<Owner>: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    CustomStringConvertible, ExpressibleByIntegerLiteral
{
    /// The number, as the vault stores it.
    public let rawValue: Int64
    /// The id with this number.
    public init(rawValue: Int64) { self.rawValue = rawValue }
    /// The id with this number.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    /// The id written as a number literal.
    public init(integerLiteral value: Int64) { rawValue = value }
    /// The number in decimal.
    public var description: String { String(rawValue) }
    /// Orders ids by number, which is the order they were given.
    public static func < (a: Identifier, b: Identifier) -> Bool { a.rawValue < b.rawValue }
}

/// A person the vault knows.
public struct Person: Sendable, Codable, Equatable {
    /// A person's number in its vault: given once, never reused. Encodes as
    /// a plain integer.
    public typealias ID = Identifier<Person>

    /// The person's number in the vault: given once, never reused.
    public var id: ID
    /// The short name the person is known by (`alice`): lower-case letters,
    /// digits, `.`, `_` and `-`, starting with a letter.
    public var handle: String
    /// The full name, when one was given.
    public var name: String?
    /// The e-mail address, when one was given.
    public var email: String?
    /// What the person may do.
    public var role: PersonRole
    /// Whether the person still acts on the vault.
    public var status: PersonStatus
    /// Whether the person can unlock the vault (has keys and a keyslot).
    public var canUnlock: Bool
    /// When the record that introduced the person was written.
    public var createdAt: Date
    /// The age recipient files handed to the person are encrypted to, as
    /// their latest signed `person.recipient` record set it.
    public var ageRecipient: AgeRecipient?

    /// A person from their fields, for tests and for callers that build their own.
    public init(
        id: ID,
        handle: String,
        name: String? = nil,
        email: String? = nil,
        role: PersonRole,
        status: PersonStatus = .active,
        canUnlock: Bool,
        createdAt: Date,
        ageRecipient: AgeRecipient? = nil
    ) {
        self.ageRecipient = ageRecipient
        self.id = id
        self.handle = handle
        self.name = name
        self.email = email
        self.role = role
        self.status = status
        self.canUnlock = canUnlock
        self.createdAt = createdAt
    }

    /// The person as the signed records state them.
    init(_ trusted: TrustedPerson) {
        self.init(
            id: Person.ID(trusted.id),
            handle: trusted.handle,
            name: trusted.name,
            email: trusted.email,
            role: trusted.role,
            status: trusted.active ? .active : .departed,
            canUnlock: trusted.canUnlock,
            createdAt: Timestamp.parse(trusted.introducedAt) ?? Date(timeIntervalSince1970: 0),
            ageRecipient: trusted.ageRecipient
        )
    }
}

/// What an entry is for.
public enum EntryPurpose: String, CaseIterable, Sendable, Codable {
    /// A server certificate bought from a CA; travels as `.pfx`.
    case ssl
    /// An Azure management certificate; uploaded as `.cer`. Azure retired
    /// the classic management API in August 2024.
    case management
    /// A certificate credential on an Entra ID app registration (a service
    /// principal): the successor of management certificates, also
    /// self-signed and uploaded as `.cer`, under the same rules.
    case app
    /// Anything else; what an import guesses for CA certificates and keys on their own.
    case other
}

/// One certificate or key in the vault, as shown by `list` and `show`.
public struct Entry: Sendable, Codable, Equatable {
    /// An entry's number in its vault: given once, never reused. Encodes as
    /// a plain integer.
    public typealias ID = Identifier<Entry>

    /// The entry's number in the vault.
    public var id: ID
    /// The entry's unique name in the vault; never all digits.
    public var alias: String
    /// What the entry is for.
    public var purpose: EntryPurpose
    /// The id of the Azure subscription the entry belongs to, as given; nil when none was.
    public var subscription: String?
    /// The domains the entry is used for, as given at import (for a request,
    /// its DNS names); empty when none were.
    public var domains: [String]
    /// Nil for a key-only or pending entry.
    public var certificate: CertificateMetadata?
    /// Whether the vault holds the entry's private key (encrypted).
    public var hasPrivateKey: Bool
    /// Where the entry stands in its life.
    public var status: EntryStatus
    /// Whether the entry is marked as due for replacement.
    public var needsRotation: Bool
    /// Why the entry needs replacing; nil when no reason was given.
    public var rotationReason: String?
    /// The entry holding the certificate that issued this one, when the
    /// vault has it.
    public var issuerEntryID: ID?
    /// When the entry was added.
    public var createdAt: Date
    /// The handle of the person who added it (`person N` when no signed
    /// record names them).
    public var createdBy: String
    /// Handles of the people who hold a grant (can decrypt the key).
    public var access: [String]
    /// The entry this one replaced (``Session/rotate(_:)``).
    public var replacesEntryID: ID?
    /// For a revoked entry: why (an RFC 5280 reason) and when.
    public var revocationReason: RevocationReason?
    public var revokedAt: Date?
    /// When a superseded entry was recorded as removed from Azure.
    public var retiredAt: Date?
    /// For purpose `app`: the application (client) id of the app
    /// registration the credential belongs to, if given.
    public var appID: String?
    /// The name the entry's alias was made from (a `.pfx` friendly name, a
    /// common name) when it is not itself an alias: kept as the file gave
    /// it, shown escaped, never completed or typed.
    public var originalName: String?
    /// For a pending entry: the subject and names requested from the CA.
    public var requestedSubject: String?
    /// For a pending entry: the subjectAltName entries requested (`DNS:…`).
    public var requestedNames: [String]?

    /// An entry from its fields, for tests and for callers that build their own.
    public init(
        id: ID,
        alias: String,
        purpose: EntryPurpose,
        subscription: String? = nil,
        domains: [String] = [],
        certificate: CertificateMetadata? = nil,
        hasPrivateKey: Bool,
        status: EntryStatus = .active,
        needsRotation: Bool = false,
        rotationReason: String? = nil,
        issuerEntryID: ID? = nil,
        createdAt: Date,
        createdBy: String,
        access: [String] = [],
        requestedSubject: String? = nil,
        requestedNames: [String]? = nil
    ) {
        self.id = id
        self.alias = alias
        self.purpose = purpose
        self.subscription = subscription
        self.domains = domains
        self.certificate = certificate
        self.hasPrivateKey = hasPrivateKey
        self.status = status
        self.needsRotation = needsRotation
        self.rotationReason = rotationReason
        self.issuerEntryID = issuerEntryID
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.access = access
        self.requestedSubject = requestedSubject
        self.requestedNames = requestedNames
    }

    /// Reads an entry row, each column checked. `handles` names people as
    /// the signed records do; `access` lists who holds a grant.
    init(
        row: Row,
        handles: [Int64: String],
        access: [String],
        positions: [String: Int]? = nil,
        statement: OpaquePointer? = nil,
        order: Columns.Order? = nil
    ) throws {
        let c = Columns(
            row,
            "entry \((row[0] as (any DatabaseValueConvertible)?).map { "\($0)" } ?? "?")",
            positions: positions,
            statement: statement,
            order: order
        )
        id = ID(try c.int("id"))
        alias = try c.text("alias")
        purpose = try c.enum("purpose", EntryPurpose.self)
        subscription = try c.optionalText("subscription")
        domains = try Entry.decodeList(c.text("domains"), c, "domains")
        switch try c.text("key_type") {
        case "blob": hasPrivateKey = true
        case "null": hasPrivateKey = false
        default: throw c.fail("key_ciphertext", "a value that is not binary")
        }
        status = try c.enum("status", EntryStatus.self)
        needsRotation = try c.bool("needs_rotation")
        rotationReason = try c.optionalText("rotation_reason")
        issuerEntryID = try c.optionalInt("issuer_entry_id").map { ID($0) }
        createdAt = try c.date("created_at")
        replacesEntryID = try c.optionalInt("replaces_id").map { ID($0) }
        revocationReason = try c.optionalText("revocation_reason").map {
            guard let r = RevocationReason(rawValue: $0) else { throw c.fail("revocation_reason", "an unknown reason") }
            return r
        }
        revokedAt = try c.optionalDate("revoked_at")
        let tags = try c.text("tags")
        if tags != "{}" {
            guard case .object(let object)? = JSONText.parse(tags) else {
                throw c.fail("tags", "a value that is not a JSON object")
            }
            func text(_ key: String) -> String? {
                if case .string(let s)? = object[key] { return s }
                return nil
            }
            retiredAt = text("retired_at").flatMap(Timestamp.parse)
            appID = text("app_id")
            originalName = text("name")
        }
        let creator = try c.int("created_by")
        createdBy = handles[creator] ?? "person \(creator)"
        self.access = access
        if status == .pending {
            requestedSubject = try c.optionalText("subject")
            requestedNames = try Entry.decodeList(c.text("sans"), c, "sans")
        }
        if let sha1 = try c.optionalText("sha1") {
            certificate = CertificateMetadata(
                subject: try c.optionalText("subject") ?? "",
                issuer: try c.optionalText("issuer") ?? "",
                serialNumber: try c.optionalText("serial") ?? "",
                thumbprintSHA1: sha1,
                fingerprintSHA256: try c.optionalText("sha256") ?? "",
                notValidBefore: try c.date("not_before"),
                notValidAfter: try c.date("not_after"),
                keyAlgorithm: try c.optionalText("key_algorithm") ?? "",
                keyBits: Int(try c.optionalInt("key_bits", in: 0...1_000_000) ?? 0),
                keyCurve: try c.optionalText("key_curve"),
                signatureAlgorithm: try c.optionalText("signature_algorithm") ?? "",
                subjectAlternativeNames: try Entry.decodeList(c.text("sans"), c, "sans"),
                isSelfSigned: try c.bool("self_signed"),
                isCA: try c.bool("is_ca")
            )
        }
    }

    /// Every entry row `filter` selects, in id order, decoded straight from
    /// SQLite's statement (one pass, no copied rows). A row that does not
    /// decode goes to `failed`, which throws by default; rows `skip` names
    /// are passed over.
    static func fetch(
        _ db: Database,
        where filter: String? = nil,
        arguments: StatementArguments = [],
        handles: [Int64: String],
        access: [Int64: [String]] = [:],
        skip: (Int64) -> Bool = { _ in false },
        failed: (Int64, CertVaultError) throws -> Void = { throw $1 }
    ) throws -> [Entry] {
        let statement = try db.cachedStatement(
            sql: selectSQL + (filter.map { " WHERE \($0)" } ?? "") + " ORDER BY id"
        )
        let positions = Dictionary(
            statement.columnNames.enumerated().map { ($1, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        let handle = statement.sqliteStatement
        let order = Columns.Order(statement.columnNames)
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var entries: [Entry] = []
        while let row = try cursor.next() {
            order.next = 0
            let id = sqlite3_column_type(handle, 0) == SQLITE_INTEGER ? sqlite3_column_int64(handle, 0) : 0
            if skip(id) { continue }
            do {
                entries.append(
                    try Entry(
                        row: row,
                        handles: handles,
                        access: access[id] ?? [],
                        positions: positions,
                        statement: handle,
                        order: order
                    )
                )
            } catch let error as CertVaultError {
                try failed(id, error)
            }
        }
        return entries
    }

    /// The columns in the order ``init(row:handles:access:positions:statement:order:)`` reads them.
    static let selectSQL = """
        SELECT id, alias, purpose, subscription, domains, typeof(key_ciphertext) AS key_type, status,
               needs_rotation, rotation_reason, issuer_entry_id, created_at, replaces_id, revocation_reason,
               revoked_at, tags, created_by, sha1, subject, issuer, serial, sha256, not_before, not_after,
               key_algorithm, key_bits, key_curve, signature_algorithm, sans, self_signed, is_ca
        FROM entries e
        """

    /// A JSON list of strings from a column; anything else is an error naming it.
    static func decodeList(_ text: String, _ columns: Columns, _ column: String) throws -> [String] {
        if text == "[]" { return [] }
        // The one JSON reader; nothing to fall back on.
        guard case .array(let items)? = JSONText.parse(text) else {
            throw columns.fail(column, "a value that is not a list of names")
        }
        var list: [String] = []
        list.reserveCapacity(items.count)
        for case .string(let s) in items { list.append(s) }
        guard list.count == items.count else { throw columns.fail(column, "a value that is not a list of names") }
        return list
    }

    static func encodeList(_ list: [String]) -> String {
        (try? String(decoding: JSONEncoder().encode(list), as: UTF8.self)) ?? "[]"
    }
}
