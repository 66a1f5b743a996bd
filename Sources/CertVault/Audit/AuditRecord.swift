import Foundation
import GRDB

/// One record of the audit log.
public struct AuditRecord: Sendable, Encodable, Equatable {
    /// The record's place in the chain, from 1.
    public var seq: Int64
    /// UTC, ISO 8601.
    public var at: String
    /// The id of the person who made the record; nil when the record names none.
    public var actorID: Person.ID? {
        get { actorRow.map { Person.ID($0) } }
        set { actorRow = newValue?.rawValue }
    }
    /// ``actorID`` as the table stores it.
    var actorRow: Int64?
    /// The actor's handle as the signed records state it; filled in by
    /// ``Vault/auditLog(_:)``, nil elsewhere or when no trusted record
    /// introduced the actor.
    public var actorHandle: String?
    /// What happened: an ``AuditAction`` raw value such as `entry.export`.
    public var action: String
    /// The id of the entry the record is about; nil for a record about no entry.
    public var entryID: Entry.ID? {
        get { entryRow.map { Entry.ID($0) } }
        set { entryRow = newValue?.rawValue }
    }
    /// ``entryID`` as the table stores it.
    var entryRow: Int64?
    /// The entry's alias as its latest believable record gives it; filled in
    /// by ``Vault/auditLog(_:)``, nil elsewhere or when no record names one.
    public var entryAlias: String?
    /// The id of the person the record concerns (added, given a keyslot, a
    /// grant or an export); nil when it concerns nobody in particular.
    public var personID: Person.ID? {
        get { personRow.map { Person.ID($0) } }
        set { personRow = newValue?.rawValue }
    }
    /// ``personID`` as the table stores it.
    var personRow: Int64?
    /// That person's handle as the signed records state it; filled in by
    /// ``Vault/auditLog(_:)``, nil elsewhere or when unknown.
    public var personHandle: String?
    /// The record's details, as the JSON text that was hashed.
    public var details: String
    /// The ``hash`` of the record before it, 32 bytes; zeros for the first record.
    public var previousHash: Data
    /// BLAKE2b-256 over the record's fields and ``previousHash``, 32 bytes.
    public var hash: Data
    /// Ed25519 signature of ``hash`` by the actor; nil only for `unlock.failed`.
    public var signature: Data?
    /// For a failed unlock, whether its person had departed by then, as the
    /// signed records before it state: their attempt is refused whatever
    /// passphrase was given, so it is no wrong passphrase. Filled in by
    /// ``Vault/auditLog(_:)``; nil elsewhere and for other records.
    public var personDeparted: Bool?
    /// Why the record cannot be believed (altered, out of place, signed by
    /// someone the records do not trust), as ``Vault/auditLog(_:)`` found
    /// it; nil when its hash, its link and its signature check out.
    public var problem: String?

    /// A record from its fields, hash taken as given, for tests and for callers that build their own.
    public init(
        seq: Int64,
        at: String,
        actorID: Person.ID? = nil,
        actorHandle: String? = nil,
        action: String,
        entryID: Entry.ID? = nil,
        entryAlias: String? = nil,
        personID: Person.ID? = nil,
        personHandle: String? = nil,
        details: String,
        previousHash: Data,
        hash: Data,
        signature: Data? = nil,
        problem: String? = nil
    ) {
        self.seq = seq
        self.at = at
        self.actorRow = actorID?.rawValue
        self.actorHandle = actorHandle
        self.action = action
        self.entryRow = entryID?.rawValue
        self.entryAlias = entryAlias
        self.personRow = personID?.rawValue
        self.personHandle = personHandle
        self.details = details
        self.previousHash = previousHash
        self.hash = hash
        self.signature = signature
        self.problem = problem
    }

    /// Reads the columns of the `audit` table, each checked: a record
    /// altered into NULLs or wrong types is an error naming it, not a trap.
    /// - Parameter positions: the row's column positions, shared by the rows
    ///   of one query (``Columns/positions(of:)``); nil to look each column up by name.
    /// - Parameter query: the statement whose current row `row` is, to read
    ///   its values straight from SQLite in ``AuditChain/columns`` order.
    init(row: Row, positions: [String: Int]? = nil, query: AuditChain.Query? = nil) throws {
        query?.order.next = 0
        let c = Columns(
            row,
            "audit record \(((row["seq"] as (any DatabaseValueConvertible)?)?.databaseValue).map { "\($0)" } ?? "?")",
            positions: query?.positions ?? positions,
            statement: query?.statement,
            order: query?.order
        )
        seq = try c.int("seq", in: AuditChain.seqRange)
        at = try c.wholeText("at")
        actorRow = try c.optionalInt("actor_id")
        action = try c.wholeText("action")
        entryRow = try c.optionalInt("entry_id")
        personRow = try c.optionalInt("person_id")
        details = try c.wholeText("details")
        previousHash = try c.blob("prev_hash", count: 32)
        hash = try c.blob("hash", count: 32)
        signature = try c.optionalBlob("signature")
    }

    /// The hash this record should have, recomputed from its fields.
    var recomputedHash: Data {
        AuditChain.hash(
            previous: previousHash,
            seq: seq,
            at: at,
            actorID: actorRow,
            action: action,
            entryID: entryRow,
            personID: personRow,
            details: details
        )
    }
}

/// The head of the chain: the last record's sequence number and hash.
public struct AuditHead: Sendable, Equatable, CustomStringConvertible {
    /// The last record's sequence number.
    public var seq: Int64
    /// The last record's hash, 32 bytes.
    public var hash: Data
    /// The head with this sequence number and hash.
    public init(seq: Int64, hash: Data) {
        self.seq = seq
        self.hash = hash
    }
    /// `SEQ:HASH`, the form to write down and pass to `--expect` later.
    public var description: String { "\(seq):\(hash.hexLower)" }

    /// Parses `SEQ:HASH`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let seq = Int64(parts[0]), let hash = Data(hex: String(parts[1])), hash.count == 32
        else { return nil }
        self.init(seq: seq, hash: hash)
    }
}
