import Foundation
import GRDB

/// One change to the vault by one person: its rows and its records commit
/// in one transaction, and the records are signed only once every row is
/// written.
///
/// At commit each record about an entry gains the digest of that entry as
/// it now stands (`entry_digest`) and its alias, and the last record gains
/// the digest of the whole state (`state`): the tables as they are now are
/// what the signer vouches for. A change starts only on a vault whose
/// tables match the state signed last, so no one signs what a hand with
/// `sqlite3` put there.
final class Change {
    let db: Database
    /// The state the change started from, checked.
    let state: VaultState
    private let actor: Int64
    private let signer: SecureBytes
    private let firstSeq: Int64
    /// The rollback being accepted, in the one change that accepts it.
    var rollback: Rollback?
    /// Steps to run once the transaction has committed, the records were
    /// sent to the audit sinks and the witness updated, each told what of
    /// that failed.
    private(set) var afterCommit: [(_ failure: CertVaultError?) throws -> Void] = []
    private var pending: [(action: AuditAction, entry: Int64?, person: Int64?, details: AuditDetails)] = []

    init(_ db: Database, state: VaultState, actor: Int64, signer: SecureBytes) throws {
        self.db = db
        self.state = state
        self.actor = actor
        self.signer = signer
        firstSeq = (try AuditChain.head(db)?.seq ?? 0) + 1
    }

    /// Queues a record signed by the actor at commit.
    /// - Returns: the sequence number the record will have.
    @discardableResult
    func record(_ action: AuditAction, entry: Int64? = nil, person: Int64? = nil, details: AuditDetails = [:]) -> Int64
    {
        pending.append((action, entry, person, details))
        return firstSeq + Int64(pending.count - 1)
    }

    /// Runs `step` once the transaction, records included, has committed,
    /// was sent to every audit sink and this machine's witness moved (or
    /// failed to: `step` is told why): a file that carries a key appears
    /// only if its record is on disk, in the sinks and witnessed. (If the
    /// step then fails, the record stands for an export whose file was not
    /// written, which loses nothing.)
    func whenCommitted(_ step: @escaping (_ failure: CertVaultError?) throws -> Void) { afterCommit.append(step) }

    /// Runs `body` in a savepoint: if it throws, its rows and the records
    /// it queued are both undone.
    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        let mark = pending.count
        do {
            var result: T?
            try db.inSavepoint {
                result = try body()
                return .commit
            }
            guard let result else { throw CertVaultError(.corrupt, "a savepoint ended without a result") }
            return result
        } catch {
            pending.removeSubrange(mark...)
            throw error
        }
    }

    /// Signs and appends the queued records.
    /// - Returns: the new head, or nil when nothing was recorded.
    func commit() throws -> AuditHead? {
        guard !pending.isEmpty else { return nil }
        var records = pending
        pending = []
        for i in records.indices {
            if AuditAction.peopleActions.contains(records[i].action), let person = records[i].person {
                records[i].details[.personDigest] =
                    try RowDigest.person(db, id: person).map { .text($0.hexLower) } ?? .null
            }
            guard let entry = records[i].entry else { continue }
            let parts = try RowDigest.entryParts(db, id: entry)
            records[i].details[.entryDigest] = parts.map { .text($0.digest().hexLower) } ?? .null
            records[i].details[.entryParts] = parts.map { .texts($0.hex) } ?? .null
            if records[i].details[.alias] == nil,
                let row = try db.row("SELECT alias FROM entries WHERE id = ?", [entry])
            {
                records[i].details[.alias] = .text(try Columns(row, "entry \(entry)").text("alias"))
            }
        }
        let touched = Set(records.compactMap(\.entry))
        let after = try RowDigest.updating(state.snapshot, touched: touched, in: db)
        #if DEBUG
        guard after.state == (try RowDigest.snapshot(db)).state else {
            throw CertVaultError(.io, "internal error: a change touched an entry it did not record")
        }
        #endif
        records[records.count - 1].details[.state] = .text(after.state.hexLower)
        records[records.count - 1].details[.entriesState] = .text(after.entriesState.hexLower)
        let head = try AuditChain.appendAll(
            db,
            actor: actor,
            records: records.map {
                AuditChain.Pending(action: $0.action, entry: $0.entry, person: $0.person, details: $0.details)
            },
            signer: signer
        )
        guard let head, head.seq == firstSeq + Int64(records.count - 1) else {
            throw CertVaultError(.io, "the audit log changed while a change was being recorded; nothing was changed")
        }
        return head
    }
}
