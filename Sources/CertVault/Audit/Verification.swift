import Foundation
import GRDB

/// One problem `verify` found.
public struct AuditFinding: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The audit record concerned, when there is one.
    public var seq: Int64?
    /// The entry concerned, when there is one.
    public var entryID: Int64?
    /// What is wrong, in one line.
    public var message: String

    /// A finding from its fields, for tests and for callers that build their own.
    public init(seq: Int64? = nil, entryID: Int64? = nil, message: String) {
        self.seq = seq
        self.entryID = entryID
        self.message = message
    }

    /// The message, prefixed by the record or entry it concerns.
    public var description: String {
        if let seq { return "record \(seq): \(message)" }
        if let entryID { return "entry \(entryID): \(message)" }
        return message
    }
}

/// The outcome of ``Vault/verify(expecting:)-9tjmj``.
public struct AuditVerification: Sendable {
    /// The last record: write it down and pass it to `--expect` later.
    public var head: AuditHead?
    /// How many rows the log holds, including any that cannot be read.
    public var recordCount: Int
    /// Every problem found; empty when the log checks out.
    public var findings: [AuditFinding]
    /// Whether nothing was found.
    public var isValid: Bool { findings.isEmpty }
    /// The lowest sequence number with a finding.
    public var firstBadSeq: Int64? { findings.compactMap(\.seq).min() }

    /// An outcome from its fields, for tests and for callers that build their own.
    public init(head: AuditHead? = nil, recordCount: Int, findings: [AuditFinding] = []) {
        self.head = head
        self.recordCount = recordCount
        self.findings = findings
    }
}

/// Replays the whole chain (`audit verify`).
struct AuditVerifier {
    let db: Database
    let vaultID: Data

    /// Every record: its place in the chain, its hash, its signature by a
    /// person the records before it made trusted; then the tables against
    /// the signed state, the witness and `expected`.
    func verifyAll(
        expecting expected: AuditHead?,
        state: VaultState,
        cancellation: Cancellation? = nil
    ) throws -> AuditVerification {
        var findings: [AuditFinding] = []
        var ledger = PeopleLedger()
        var previous: AuditHead?
        var count = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT \(AuditChain.columns) FROM audit ORDER BY seq")
        while let row = try rows.next() {
            count += 1
            if count % 256 == 0 { try cancellation?.check() }
            let record: AuditRecord
            do { record = try AuditRecord(row: row) } catch let e as CertVaultError {
                findings.append(.init(seq: (previous?.seq ?? 0) + 1, message: e.message))
                continue
            }
            let expectedSeq = (previous?.seq ?? 0) + 1
            if record.seq != expectedSeq {
                findings.append(
                    .init(seq: expectedSeq, message: "records \(expectedSeq)…\(record.seq - 1) are missing")
                )
            }
            if record.previousHash != (previous?.hash ?? AuditChain.zeroHash) {
                findings.append(
                    .init(
                        seq: record.seq,
                        message:
                            "does not follow the record before it (previous hash differs): removed, reordered or altered"
                    )
                )
            }
            if let problem = check(record, ledger: &ledger) {
                findings.append(.init(seq: record.seq, message: problem))
            }
            previous = AuditHead(seq: record.seq, hash: record.hash)
        }
        if let expected {
            let stored = try db.row("SELECT hash FROM audit WHERE seq = ?", [expected.seq])
                .flatMap { try? Columns($0, "audit record \(expected.seq)").blob("hash") }
            if stored != expected.hash {
                findings.append(
                    .init(
                        seq: expected.seq,
                        message: stored == nil
                            ? "the expected head \(expected) is gone: the log was truncated"
                            : "the expected head \(expected) differs: the log was rewritten"
                    )
                )
            }
        }
        // The tables against the signed state (its people findings repeat the replay's).
        for finding in state.findings.dropFirst(state.ledger.findings.count)
        where !findings.contains(finding) && (finding.seq == nil || !findings.contains { $0.seq == finding.seq }) {
            findings.append(finding)
        }
        if let rollback = state.rollback {
            // Tied to a record only when the file holds it (one that differs); a
            // record past the file's end is named in the reason, not as the finding's place.
            let held = rollback.seen.seq > 0 && rollback.seen.seq <= rollback.head.seq
            findings.append(.init(seq: held ? rollback.seen.seq : nil, message: "rolled back: \(rollback.reason)"))
        }
        return AuditVerification(head: previous, recordCount: count, findings: findings)
    }

    /// Checks one record's hash and signature, learning what people records state.
    func check(_ record: AuditRecord, ledger: inout PeopleLedger) -> String? {
        Self.check(record, ledger: &ledger, vaultID: vaultID)
    }

    /// One record against the people the records before it introduced: its
    /// hash, its signature, and whether the signer's role may make a record
    /// of its action. People records also teach `ledger`.
    static func check(_ record: AuditRecord, ledger: inout PeopleLedger, vaultID: Data) -> String? {
        guard let action = AuditAction(rawValue: record.action) else {
            return "has an action certvault does not know (\(Display.quoted(record.action)))"
        }
        // Entry records name their entry; no other record names one.
        guard (record.entryID != nil) == action.namesEntry else {
            return action.namesEntry ? "names no entry" : "names an entry its action does not concern"
        }
        if AuditAction.peopleActions.contains(action) {
            return ledger.apply(record, vaultID: vaultID)
        }
        guard record.recomputedHash == record.hash else { return "its contents do not match its hash: altered" }
        guard let signature = record.signature else {
            // Nobody can sign a wrong passphrase; such a record may say no more than that.
            guard action == .unlockFailed else { return "is not signed" }
            guard let actor = record.actorID, ledger.people[actor] != nil, record.personID == actor,
                record.entryID == nil,
                record.detailObject.keys.allSatisfy({ $0 == "handle" })
            else { return "is an unsigned record that says more than a failed unlock" }
            return nil
        }
        guard action != .unlockFailed else { return "a failed unlock cannot be signed" }
        guard let signer = ledger.signer(of: record), let key = signer.signPublicKey else {
            return "signed by someone whose keys no trusted record introduced"
        }
        guard Signature.verify(signature, message: record.hash, publicKey: key) else {
            return "the signature by \(signer.handle) is invalid"
        }
        guard action.signers.contains(signer.role) else {
            return
                "signed by \(signer.handle), whose role (\(signer.role.rawValue)) may not make a \(action.rawValue) record"
        }
        return nil
    }
}
