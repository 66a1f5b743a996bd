import Foundation
import GRDB
import Synchronization

/// Appending to and recomputing the hash chain.
enum AuditChain {
    static let label = Data("certvault/v1/audit".utf8)
    /// The sequence numbers a record may have: from 1, and far from overflow.
    static let seqRange: ClosedRange<Int64> = 1...(1 << 62)
    static let zeroHash = Data(count: 32)

    static let columns = "seq, at, actor_id, action, entry_id, person_id, details, prev_hash, hash, signature"

    /// A query over the `audit` table whose rows are read in place, each a
    /// record (``AuditRecord/init(row:positions:query:)``) read in column order.
    struct Query {
        let statement: OpaquePointer?
        let positions: [String: Int]
        let order: Columns.Order
        let rows: RowCursor

        init(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws {
            let prepared = try db.makeStatement(sql: sql)
            statement = prepared.sqliteStatement
            positions = Dictionary(
                prepared.columnNames.enumerated().map { ($1, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            order = Columns.Order(prepared.columnNames)
            rows = try Row.fetchCursor(prepared, arguments: arguments)
        }
    }

    /// The last record that carries a signature (valid or not): the head
    /// the state check judges and the rollback witness compares.
    static func lastSigned(_ db: Database) throws -> AuditRecord? {
        try lastSignedRow(db).map { try AuditRecord(row: $0) }
    }

    /// ``lastSigned(_:)``'s row as stored, for a reader that must go on when it cannot be read as a record.
    static func lastSignedRow(_ db: Database) throws -> Row? {
        try Row.fetchOne(
            db,
            sql:
                "SELECT \(columns) FROM audit WHERE signature IS NOT NULL AND seq BETWEEN ? AND ? ORDER BY seq DESC LIMIT 1",
            arguments: [seqRange.lowerBound, seqRange.upperBound]
        )
    }

    /// BLAKE2b-256 over the label, the previous hash and a length-prefixed
    /// encoding of every field, so no two records encode alike.
    static func hash(
        previous: Data,
        seq: Int64,
        at: String,
        actorID: Int64?,
        action: String,
        entryID: Int64?,
        personID: Int64?,
        details: String
    ) -> Data {
        // Written once into one buffer (on the stack when it fits) and
        // hashed in one call: `audit verify` recomputes every record's hash.
        var at = at
        var action = action
        var details = details
        return at.withUTF8 { at in
            action.withUTF8 { action in
                details.withUTF8 { details in
                    let size =
                        label.count + previous.count + 8 + 3 * 9 + 3 * 8 + at.count + action.count + details.count
                    return withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer in
                        var w = 0
                        func put(_ bytes: UnsafeRawBufferPointer) {
                            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
                            (buffer.baseAddress! + w).copyMemory(from: base, byteCount: bytes.count)
                            w += bytes.count
                        }
                        func int64(_ v: Int64) { withUnsafeBytes(of: v.bigEndian) { put($0) } }
                        func text(_ t: UnsafeBufferPointer<UInt8>) {
                            int64(Int64(t.count))
                            put(UnsafeRawBufferPointer(t))
                        }
                        func optional(_ v: Int64?) {
                            withUnsafeBytes(of: UInt8(v == nil ? 0 : 1)) { put($0) }
                            int64(v ?? 0)
                        }
                        label.withUnsafeBytes { put($0) }
                        previous.withUnsafeBytes { put($0) }
                        int64(seq)
                        text(at)
                        optional(actorID)
                        text(action)
                        optional(entryID)
                        optional(personID)
                        text(details)
                        return Digest.blake2b(UnsafeRawBufferPointer(start: buffer.baseAddress, count: w))
                    }
                }
            }
        }
    }

    /// The hash of the genesis record, which every keyslot's associated
    /// data includes (design rule 1).
    static func genesisHash(_ db: Database) throws -> Data {
        guard let row = try db.row("SELECT hash FROM audit WHERE seq = 1") else {
            throw CertVaultError(
                .tampered,
                "the vault's genesis record is gone",
                remedy: .restoreBackup
            )
        }
        return try Columns(row, "audit record 1").blob("hash", count: 32)
    }

    /// The last record, signed or not.
    static func head(_ db: Database) throws -> AuditHead? {
        guard let row = try db.row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") else { return nil }
        let c = Columns(row, "last audit record")
        return AuditHead(seq: try c.int("seq", in: seqRange), hash: try c.blob("hash", count: 32))
    }

    /// A record to append: what ``append(_:actor:action:entry:person:details:signer:)`` takes.
    struct Pending {
        var action: AuditAction
        var entry: Int64?
        var person: Int64?
        var details: AuditDetails
    }

    /// Appends `records` in order inside the caller's transaction, as that
    /// many ``append(_:actor:action:entry:person:details:signer:)`` calls
    /// would (the same rows, each linked to the one before), with the JSON
    /// written and the signatures made in parts on every core: only the
    /// hashes chain, and they are cheap.
    /// - Returns: the new head; nil when `records` is empty.
    @discardableResult
    static func appendAll(
        _ db: Database,
        actor: Int64?,
        records: [Pending],
        signer: SecureBytes?
    ) throws -> AuditHead? {
        guard !records.isEmpty else { return nil }
        let count = records.count
        let parts = count >= 256 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
        func inParts<T: Sendable>(_ make: @Sendable (Int) -> T) -> [T] {
            let made = Mutex([T?](repeating: nil, count: count))
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                let range = (count * p / parts)..<(count * (p + 1) / parts)
                let part = range.map(make)
                made.withLock { for (i, m) in zip(range, part) { $0[i] = m } }
            }
            return made.withLock { $0.map { $0! } }
        }
        // Read only, from every part.
        let batch = Unchecked(value: records)
        let texts = try inParts { i in
            Result { try DetailsCodec.encode(batch.value[i].details, for: batch.value[i].action) }
        }.map { try $0.get() }
        var head = try self.head(db)
        var rows: [AuditRow] = []
        rows.reserveCapacity(records.count)
        for (r, text) in zip(records, texts) {
            let seq = (head?.seq ?? 0) + 1
            let prevHash = head?.hash ?? zeroHash
            let at = Timestamp.now()
            let h = hash(
                previous: prevHash,
                seq: seq,
                at: at,
                actorID: actor,
                action: r.action.rawValue,
                entryID: r.entry,
                personID: r.person,
                details: text
            )
            rows.append(
                AuditRow(
                    seq: seq,
                    at: at,
                    actorID: actor,
                    action: r.action,
                    entryID: r.entry,
                    personID: r.person,
                    details: text,
                    previousHash: prevHash,
                    hash: h,
                    signature: nil
                )
            )
            head = AuditHead(seq: seq, hash: h)
        }
        if let signer {
            let hashes = rows.map(\.hash)
            let signatures = inParts { Signature.sign(hashes[$0], secretKey: signer) }
            for i in rows.indices { rows[i].signature = signatures[i] }
        }
        for row in rows { try row.insert(db) }
        return head
    }

    /// Appends a record inside the caller's transaction.
    ///
    /// - Parameter signer: the actor's Ed25519 secret key; nil only for
    ///   `unlock.failed`, which nobody can sign.
    @discardableResult
    static func append(
        _ db: Database,
        actor: Int64?,
        action: AuditAction,
        entry: Int64? = nil,
        person: Int64? = nil,
        details: AuditDetails,
        signer: SecureBytes?
    ) throws -> AuditHead {
        try append(
            db,
            actor: actor,
            action: action,
            entry: entry,
            person: person,
            text: try DetailsCodec.encode(details, for: action),
            signer: signer
        )
    }

    /// Appends a record whose details are `text` exactly, unchecked: for
    /// ``append(_:actor:action:entry:person:details:signer:)``, and for tests
    /// that forge what certvault would never write.
    @discardableResult
    static func append(
        _ db: Database,
        actor: Int64?,
        action: AuditAction,
        entry: Int64? = nil,
        person: Int64? = nil,
        text: String,
        signer: SecureBytes?
    ) throws -> AuditHead {
        let previous = try head(db)
        let seq = (previous?.seq ?? 0) + 1
        let prevHash = previous?.hash ?? zeroHash
        let at = Timestamp.now()
        let h = hash(
            previous: prevHash,
            seq: seq,
            at: at,
            actorID: actor,
            action: action.rawValue,
            entryID: entry,
            personID: person,
            details: text
        )
        let signature = signer.map { Signature.sign(h, secretKey: $0) }
        try AuditRow(
            seq: seq,
            at: at,
            actorID: actor,
            action: action,
            entryID: entry,
            personID: person,
            details: text,
            previousHash: prevHash,
            hash: h,
            signature: signature
        ).insert(db)
        return AuditHead(seq: seq, hash: h)
    }
}

/// A value handed to parts of one computation that only read it.
private struct Unchecked<T>: @unchecked Sendable {
    let value: T
}
