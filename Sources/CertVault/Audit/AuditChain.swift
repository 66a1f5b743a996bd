import Foundation
import GRDB

/// One record of the audit log.
public struct AuditRecord: Sendable, Codable, Equatable {
    public var seq: Int64
    /// UTC, ISO 8601.
    public var at: String
    public var actorID: Int64?
    public var actorHandle: String?
    public var action: String
    public var entryID: Int64?
    public var entryAlias: String?
    public var personID: Int64?
    public var personHandle: String?
    /// The record's details, as the JSON text that was hashed.
    public var details: String
    public var previousHash: Data
    public var hash: Data
    /// Ed25519 signature of ``hash`` by the actor; nil only for `unlock.failed`.
    public var signature: Data?

    init(row: Row) {
        seq = row["seq"]
        at = row["at"]
        actorID = row["actor_id"]
        actorHandle = row["actor_handle"]
        action = row["action"]
        entryID = row["entry_id"]
        entryAlias = row["entry_alias"]
        personID = row["person_id"]
        personHandle = row["person_handle"]
        details = row["details"]
        previousHash = row["prev_hash"]
        hash = row["hash"]
        signature = row["signature"]
    }

    /// The details decoded, for reading fields.
    var detailObject: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(details.utf8))) as? [String: Any] ?? [:]
    }

    /// The hash this record should have, recomputed from its fields.
    var recomputedHash: Data {
        AuditChain.hash(previous: previousHash, seq: seq, at: at, actorID: actorID, action: action,
                        entryID: entryID, personID: personID, details: details)
    }
}

/// The head of the chain: the last record's sequence number and hash.
public struct AuditHead: Sendable, Equatable, CustomStringConvertible {
    public var seq: Int64
    public var hash: Data
    public init(seq: Int64, hash: Data) {
        self.seq = seq
        self.hash = hash
    }
    /// `SEQ:HASH`, the form to write down and pass to `--expect` later.
    public var description: String { "\(seq):\(hash.hexLower)" }

    /// Parses `SEQ:HASH`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let seq = Int64(parts[0]), let hash = Data(hex: String(parts[1])), hash.count == 32 else { return nil }
        self.init(seq: seq, hash: hash)
    }
}

/// Appending to and recomputing the hash chain.
enum AuditChain {
    static let label = Data("certvault/v1/audit".utf8)
    static let zeroHash = Data(count: 32)

    static let selectSQL = """
        SELECT a.*, p.handle AS actor_handle, e.alias AS entry_alias, q.handle AS person_handle
        FROM audit a
        LEFT JOIN people p ON p.id = a.actor_id
        LEFT JOIN entries e ON e.id = a.entry_id
        LEFT JOIN people q ON q.id = a.person_id
        """

    /// BLAKE2b-256 over the label, the previous hash and a length-prefixed
    /// encoding of every field, so no two records encode alike.
    static func hash(previous: Data, seq: Int64, at: String, actorID: Int64?, action: String,
                     entryID: Int64?, personID: Int64?, details: String) -> Data {
        var canonical = Data()
        func put(_ d: Data) {
            canonical.append(Data.int64(Int64(d.count)))
            canonical.append(d)
        }
        func putOptional(_ v: Int64?) {
            canonical.append(v == nil ? 0 : 1)
            canonical.append(Data.int64(v ?? 0))
        }
        canonical.append(Data.int64(seq))
        put(Data(at.utf8))
        putOptional(actorID)
        put(Data(action.utf8))
        putOptional(entryID)
        putOptional(personID)
        put(Data(details.utf8))
        return Digest.blake2b([label, previous, canonical])
    }

    static func encode(_ details: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func head(_ db: Database) throws -> AuditHead? {
        guard let row = try db.row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") else { return nil }
        return AuditHead(seq: row["seq"], hash: row["hash"])
    }

    /// Appends a record inside the caller's transaction.
    ///
    /// - Parameter signer: the actor's Ed25519 secret key; nil only for
    ///   `unlock.failed`, which nobody can sign.
    @discardableResult
    static func append(_ db: Database, actor: Int64?, action: String, entry: Int64? = nil, person: Int64? = nil,
                       details: [String: Any], signer: SecureBytes?) throws -> AuditHead {
        let previous = try head(db)
        let seq = (previous?.seq ?? 0) + 1
        let prevHash = previous?.hash ?? zeroHash
        let at = Timestamp.now()
        let text = encode(details)
        let h = hash(previous: prevHash, seq: seq, at: at, actorID: actor, action: action,
                     entryID: entry, personID: person, details: text)
        let signature = signer.map { Signature.sign(h, secretKey: $0) }
        try db.run("""
            INSERT INTO audit (seq, at, actor_id, action, entry_id, person_id, details, prev_hash, hash, signature)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [seq, at, actor, action, entry, person, text, prevHash, h, signature])
        return AuditHead(seq: seq, hash: h)
    }
}
