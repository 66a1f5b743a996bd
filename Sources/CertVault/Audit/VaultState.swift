import Foundation
import GRDB

/// What a vault's signed records say it is, held against its tables (design
/// rules 4–6): the people the records introduce (``PeopleLedger``), the last
/// signed record, the rollback the witness saw, and every way the tables
/// differ. Computed by ``check(_:vaultID:witness:thorough:walked:)``; the
/// walk of changes is in ChangeWalk.swift, the row-by-row comparison in
/// StateComparison.swift.
///
/// On the common path this costs one pass over the rows and one signature:
/// the last record of every change carries the digest of the whole state,
/// and the tables must hash to it. Only when they do not are the records
/// read row by row, to name what differs.
struct VaultState {
    var ledger: PeopleLedger
    /// The last signed record.
    var head: AuditHead?
    var findings: [AuditFinding] = []
    /// Entries whose row differs from their signed state, with the reason.
    var tamperedEntries: [Int64: String] = [:]
    /// The rollback the witness saw, if any.
    var rollback: Rollback?
    /// The digests of the tables as they were read.
    var snapshot = RowDigest.Snapshot()
    /// Every entry is still to be compared with its latest signed record:
    /// left by ``check(_:vaultID:witness:thorough:walked:)`` to a caller
    /// that walked the log, for ``compareEntries(with:)``.
    private(set) var entriesLeftToCompare = false

    var isIntact: Bool { findings.isEmpty && rollback == nil }

    /// A person the signed records introduce.
    func trusted(_ id: Int64) -> TrustedPerson? { ledger.people[id] }

    /// The error a command that acts on the vault throws when it is not intact.
    func refusal() -> CertVaultError {
        if let rollback, findings.isEmpty { return rollback.error() }
        // The most specific finding first: one that names an entry.
        let first =
            (findings.first { $0.entryID != nil } ?? findings.first).map(\.description)
            ?? "the tables differ from the signed state"
        let more = findings.count > 1 ? " (and \(findings.count - 1) more finding\(findings.count > 2 ? "s" : ""))" : ""
        return CertVaultError(
            .tampered,
            "the vault does not match its signed records: \(first)\(more); nothing was changed",
            remedy: .restoreBackup
        )
    }

    func requireIntact() throws {
        if !isIntact { throw refusal() }
    }

    /// Computes the state of `db`.
    ///
    /// - Parameter witness: the head this machine saw last, to catch a
    ///   rollback; nil to skip that check.
    /// - Parameter thorough: also compare every entry with its latest signed
    ///   record even when the state digest agrees (`audit verify`).
    /// - Parameter walked: the caller (`audit verify`) has walked the whole
    ///   log in this read and found every record readable, in order, linked
    ///   and hashing to its stored hash, and checks every signature and
    ///   signer's role itself. The chain is then not walked again, the people
    ///   records not replayed again, no signature is checked twice, and the
    ///   thorough comparison is left to the caller (``compareEntries(with:)``),
    ///   which has the records. If a signature then fails, the caller must
    ///   check again without `walked`.
    static func check(
        _ db: Database,
        vaultID: Data,
        witness: RollbackWitness.Seen? = nil,
        thorough: Bool = false,
        walked: WalkedLog? = nil
    ) throws -> VaultState {
        let ledger = try walked.map(\.ledger) ?? PeopleLedger.replay(db, vaultID: vaultID)
        let snapshot = try RowDigest.snapshot(db)
        var state = VaultState(ledger: ledger, findings: ledger.findings, snapshot: snapshot)

        // The vault row must be the one the genesis names.
        if let row = try Row.fetchOne(db, sql: "SELECT vault_id FROM vault") {
            if try Columns(row, "vault row").blob("vault_id") != vaultID {
                state.findings.append(.init(seq: nil, message: "the vault id was changed"))
            }
        }

        // The whole chain, hash by hash: with it intact, the last record's
        // signature vouches for every record before it.
        if walked == nil { state.findings += try AuditChain.checkLinks(db) }

        // The last signed record, and what follows it.
        var committed: Data?
        if let record = try AuditChain.lastSigned(db) {
            state.head = AuditHead(seq: record.seq, hash: record.hash)
            if record.recomputedHash != record.hash {
                state.findings.append(.init(seq: record.seq, message: "its contents do not match its hash: altered"))
            } else if let signer = ledger.signer(of: record) ?? genesisSigner(record, ledger),
                let key = signer.signPublicKey,
                Signature.verify(record.signature ?? Data(), message: record.hash, publicKey: key)
            {
                let details: AuditDetails
                do { details = try record.readDetails() } catch let e as CertVaultError {
                    details = [:]
                    state.findings.append(.init(seq: record.seq, message: e.message))
                }
                committed = details.string(.state).flatMap(Data.init(hex:))
                if committed == nil, state.findings.isEmpty {
                    state.findings.append(
                        .init(
                            seq: record.seq,
                            message: "the last signed record commits to no state: records after it were removed"
                        )
                    )
                }
            } else {
                state.findings.append(
                    .init(seq: record.seq, message: "the last signed record is not validly signed by a trusted person")
                )
            }
            for later in try Row.fetchAll(
                db,
                sql: "SELECT seq, action FROM audit WHERE seq > ? AND signature IS NULL ORDER BY seq",
                arguments: [record.seq]
            ) {
                let c = Columns(later, "audit record")
                if try c.text("action") != AuditAction.unlockFailed.rawValue {
                    state.findings.append(.init(seq: try c.int("seq"), message: "is not signed"))
                }
            }
        } else {
            state.findings.append(.init(seq: 1, message: "the log holds no signed record"))
        }

        // A vault upgraded since its last signed record: the same state, with certvault's newer migrations.
        if let signed = committed, signed != snapshot.state,
            try RowDigest.matchesBeforeMigrations(db, snapshot: snapshot, committed: signed)
        {
            committed = snapshot.state
        }
        if committed == snapshot.state, let head = state.head,
            let row = try db.row(
                "SELECT \(AuditChain.columns) FROM audit WHERE seq = ?",
                [head.seq]
            ),
            let claimed = (try AuditRecord(row: row)).fields.string(.entriesState),
            claimed != snapshot.entriesState.hexLower
        {
            state.findings.append(.init(seq: head.seq, message: "its entries state is not the entries the tables hold"))
        }
        if snapshot.orphanRows > 0 {
            state.findings.append(
                .init(
                    seq: nil,
                    message: "\(snapshot.orphanRows) grant or custody rows belong to no entry: added by hand"
                )
            )
        }
        try state.comparePeople(db, snapshot: snapshot)
        if committed != snapshot.state {
            if committed != nil {
                try state.nameDifferingEntries(db, snapshot: snapshot)
                if state.findings.count == ledger.findings.count {
                    state.findings.append(
                        .init(seq: state.head?.seq, message: "the tables differ from the state this record signed")
                    )
                }
            }
        }
        if let witness, let head = state.head {
            state.rollback = try Rollback.detect(db, seen: witness, head: head)
        }
        // Every record's signature and its signer's role: since the head
        // this machine verified last, or all of them the first time.
        var from: Int64 = 0
        if let witness, state.rollback == nil, witness.seq <= state.head?.seq ?? 0 { from = witness.seq }
        let (recordFindings, walkedAll) = try checkRecords(
            db,
            vaultID: vaultID,
            after: from,
            snapshot: snapshot,
            // The people as of `from`: the walk's when it ended there; the
            // replay's when `from` is the last signed record (no people
            // record, always signed, comes after it).
            ledger: walked.flatMap { $0.last == from ? $0.ledger : nil }
                ?? (from > 0 && from == state.head?.seq ? ledger : nil),
            signaturesChecked: walked != nil
        )
        state.findings += recordFindings
        if !walkedAll, committed != nil, !thorough, !state.findings.contains(where: { $0.entryID != nil }) {
            // Too many changes to walk back through: every entry against its own record instead.
            try state.nameDifferingEntries(db, snapshot: snapshot, recordsVerified: state.findings.isEmpty)
        }
        if thorough, committed != nil, !state.findings.contains(where: { $0.entryID != nil }) {
            if walked != nil {
                state.entriesLeftToCompare = true
            } else {
                try state.nameDifferingEntries(db, snapshot: snapshot, recordsVerified: state.findings.isEmpty)
            }
        }
        return state
    }

    /// The thorough comparison ``check(_:vaultID:witness:thorough:walked:)``
    /// left: every entry against the latest of `records` that may commit to
    /// it. `records` are every signed record that names an entry, in order
    /// (in parts), each with its hash and signature checked by the caller.
    mutating func compareEntries(with records: [[SignedEntryRecord]]) {
        guard entriesLeftToCompare else { return }
        entriesLeftToCompare = false
        var latest = LatestSigned()
        latest.latest.reserveCapacity(snapshot.entries.count)
        for part in records {
            for record in part { latest.add(record, ledger: ledger) }
        }
        nameDifferingEntries(latest, snapshot: snapshot)
    }

    /// The genesis signs with keys it introduces itself.
    static func genesisSigner(_ record: AuditRecord, _ ledger: PeopleLedger) -> TrustedPerson? {
        guard record.seq == 1, let actor = record.actorRow else { return nil }
        return ledger.people[actor]
    }
}

/// What `audit verify`'s walk of the whole log established, for
/// ``VaultState/check(_:vaultID:witness:thorough:walked:)``: every record
/// readable, in order, linked and hashing right, and the people its people
/// records state, through its last record.
struct WalkedLog {
    var ledger: PeopleLedger
    /// The last record walked.
    var last: Int64
}

/// A signed record that names an entry, as comparing entries with their
/// records reads it.
struct SignedEntryRecord: Sendable {
    var seq: Int64
    var entryID: Int64
    var actorID: Int64?
    /// Nil for an action certvault does not know.
    var action: AuditAction?
    /// Whether the details hold an `entry_digest` field at all.
    var hasDigest: Bool
    /// The digest they commit the entry to; nil for one that is not hex (or a deletion).
    var digest: Data?
    var alias: String?

    /// Nil for a record that names no entry; reads the details unless the
    /// caller has read them already.
    init?(_ record: AuditRecord, details read: AuditDetails? = nil) {
        guard let id = record.entryRow else { return nil }
        seq = record.seq
        entryID = id
        actorID = record.actorRow
        action = AuditAction(rawValue: record.action)
        let details = read ?? record.fields
        hasDigest = details[.entryDigest] != nil
        digest = details.string(.entryDigest).flatMap(Data.init(hex:))
        alias = details.string(.alias)
    }
}
