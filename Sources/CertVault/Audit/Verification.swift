import Foundation
import GRDB
import Synchronization

/// One problem `verify` found.
public struct AuditFinding: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The audit record concerned, when there is one.
    public var seq: Int64?
    /// The entry concerned, when there is one.
    public var entryID: Entry.ID?
    /// What is wrong, in one line.
    public var message: String

    /// A finding from its fields, for tests and for callers that build their own.
    public init(seq: Int64? = nil, entryID: Entry.ID? = nil, message: String) {
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
    /// The last signed record: what this machine's witness remembers. The
    /// unsigned `unlock.failed` records after it are not, so that a wrong
    /// passphrase between two commands is never taken for a rollback.
    var signedHead: AuditHead?
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
        try verifyAll(expecting: expected, cancellation: cancellation) { _, _ in state }
    }

    /// As above, with the state asked for once the log is walked, given the
    /// last record walked (it must be of the same log), while the last
    /// signatures are still being checked on other threads.
    ///
    /// `stateAfter` is also given what the walk established when it found
    /// every record readable, in order, linked and hashing right: then it
    /// may leave out what the walk did
    /// (``VaultState/check(_:vaultID:witness:thorough:walked:)``), and the
    /// entries are compared here with the records the walk read. Should a
    /// signature then fail, it is asked again without that.
    /// - Parameter signaturesInFlight: batches of signatures that may wait
    ///   to be checked (1,024 records each): more lets the walk finish
    ///   sooner and `stateAfter` overlap the checking, at the cost of memory.
    func verifyAll(
        expecting expected: AuditHead?,
        cancellation: Cancellation? = nil,
        signaturesInFlight: Int? = nil,
        state stateAfter: (_ last: AuditHead?, _ walked: WalkedLog?) throws -> VaultState
    ) throws -> AuditVerification {
        var findings: [AuditFinding] = []
        var ledger = PeopleLedger()
        var previous: AuditHead?
        var count = 0
        // Signatures are checked on every core while this thread reads on:
        // the chain (hashes, order, who was trusted when) is one pass in
        // order, and each signature then depends on nothing but its record.
        let signatures = ParallelSignatureCheck(batchesInFlight: signaturesInFlight, keepEntryRecords: true)
        defer { signatures.finish() }
        let query = try AuditChain.Query(db, sql: "SELECT \(AuditChain.columns) FROM audit ORDER BY seq")
        while let row = try query.rows.next() {
            count += 1
            if count % 256 == 0 { try cancellation?.check() }
            let record: AuditRecord
            let expectedSeq = (previous?.seq ?? 0) + 1
            do { record = try AuditRecord(row: row, query: query) } catch let e as CertVaultError {
                findings.append(.init(seq: expectedSeq, message: e.message))
                // A record in its place with a hash to chain on: the next is judged against it.
                if case .int64(expectedSeq) = (row["seq"] as DatabaseValue? ?? .null).storage,
                    case .blob(let hash) = (row["hash"] as DatabaseValue? ?? .null).storage, hash.count == 32
                {
                    previous = AuditHead(seq: expectedSeq, hash: hash)
                }
                continue
            }
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
            switch Self.examine(record, ledger: &ledger, vaultID: vaultID) {
            case .valid: break
            case .problem(let problem): findings.append(.init(seq: record.seq, message: problem))
            case .signed(let pending):
                // Its finding, if any, goes here once the signature is checked.
                signatures.add(pending, seq: record.seq, position: findings.count)
            }
            previous = AuditHead(seq: record.seq, hash: record.hash)
        }
        // A log with a genesis and no finding so far: the state need not walk it again.
        let walkedClean = findings.isEmpty && !ledger.people.isEmpty
        var state = try stateAfter(previous, walkedClean ? WalkedLog(ledger: ledger, last: previous?.seq ?? 0) : nil)
        let signatureFindings = signatures.finish()
        if walkedClean {
            if signatureFindings.isEmpty {
                state.compareEntries(with: signatures.entryRecords())
            } else {
                state = try stateAfter(previous, nil)
            }
        }
        for (position, finding) in signatureFindings.reversed() { findings.insert(finding, at: position) }
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
        var verification = AuditVerification(head: previous, recordCount: count, findings: findings)
        verification.signedHead = state.head
        return verification
    }

    /// Checks one record's hash and signature, learning what people records state.
    func check(_ record: AuditRecord, ledger: inout PeopleLedger) -> String? {
        Self.check(record, ledger: &ledger, vaultID: vaultID)
    }

    /// One record against the people the records before it introduced: its
    /// hash, its signature, and whether the signer's role may make a record
    /// of its action. People records also teach `ledger`.
    static func check(_ record: AuditRecord, ledger: inout PeopleLedger, vaultID: Data) -> String? {
        switch examine(record, ledger: &ledger, vaultID: vaultID) {
        case .valid: nil
        case .problem(let problem): problem
        case .signed(let pending): pending.finding()
        }
    }

    /// A signature still to check, and what to say if it fails or, if it
    /// holds, what else is wrong with the record.
    struct PendingSignature: Sendable {
        let record: AuditRecord
        let signature: Data
        let publicKey: Data
        let signer: String
        /// The finding if the signature holds (a role that may not sign the action), else nil.
        let otherwise: String?
        /// The record's details, as the examination read them.
        var details: AuditDetails? = nil

        /// The record's finding, or nil: recomputes its hash and checks the signature.
        func finding() -> String? {
            guard record.recomputedHash == record.hash else { return "its contents do not match its hash: altered" }
            guard Signature.verify(signature, message: record.hash, publicKey: publicKey) else {
                return "the signature by \(signer) is invalid"
            }
            return otherwise
        }
    }

    enum Examination {
        case valid
        case problem(String)
        /// Valid but for the signature, which is left to check.
        case signed(PendingSignature)
    }

    /// ``check(_:ledger:vaultID:)`` without checking an ordinary record's
    /// signature: that is returned to be checked, on any thread. A people
    /// record's signature is checked here, since it decides whom later
    /// records may be signed by.
    static func examine(_ record: AuditRecord, ledger: inout PeopleLedger, vaultID: Data) -> Examination {
        guard let action = AuditAction(rawValue: record.action) else {
            return .problem("has an action certvault does not know (\(Display.quoted(record.action)))")
        }
        // Entry records name their entry; no other record names one.
        guard (record.entryID != nil) == action.namesEntry else {
            return .problem(action.namesEntry ? "names no entry" : "names an entry its action does not concern")
        }
        let altered = "its contents do not match its hash: altered"
        // The details by their one reader, in a format no older than the record before's.
        func checkedDetails() -> (details: AuditDetails?, problem: Examination?) {
            let details: AuditDetails
            switch Result(catching: { try record.readDetails() }) {
            case .success(let read): details = read
            case .failure(let error):
                guard record.recomputedHash == record.hash else { return (nil, .problem(altered)) }
                return (nil, .problem((error as? CertVaultError)?.message ?? "its details cannot be read"))
            }
            guard details.version >= ledger.detailsVersion else {
                guard record.recomputedHash == record.hash else { return (nil, .problem(altered)) }
                return (
                    nil,
                    .problem(
                        "its details are in format \(details.version), after a record in format \(ledger.detailsVersion)"
                    )
                )
            }
            ledger.detailsVersion = details.version
            return (details, nil)
        }
        if AuditAction.peopleActions.contains(action) {
            if let problem = checkedDetails().problem { return problem }
            return ledger.apply(record, vaultID: vaultID).map { .problem($0) } ?? .valid
        }
        // The hash is recomputed with the signature, on any thread, unless
        // something else is wrong: then it is said first, as it comes first.
        guard let signature = record.signature else {
            guard record.recomputedHash == record.hash else { return .problem(altered) }
            // Nobody can sign a wrong passphrase; such a record may say no more than that.
            guard action == .unlockFailed else { return .problem("is not signed") }
            let read = checkedDetails()
            guard let details = read.details else { return read.problem! }
            guard let actor = record.actorRow, let person = ledger.people[actor], record.personRow == actor,
                record.entryID == nil,
                details.unknownKeys.isEmpty, details.fields.keys.allSatisfy({ $0 == .handle }),
                details.handle == nil || details.handle == person.handle
            else { return .problem("is an unsigned record that says more than a failed unlock") }
            return .valid
        }
        let read = checkedDetails()
        if let problem = read.problem { return problem }
        guard action != .unlockFailed else {
            return .problem(record.recomputedHash == record.hash ? "a failed unlock cannot be signed" : altered)
        }
        guard let signer = ledger.signer(of: record), let key = signer.signPublicKey else {
            return .problem(
                record.recomputedHash == record.hash
                    ? "signed by someone whose keys no trusted record introduced" : altered
            )
        }
        let roleProblem =
            action.signers.contains(signer.role)
            ? nil
            : "signed by \(signer.handle), whose role (\(signer.role.rawValue)) may not make a \(action.rawValue) record"
        return .signed(
            PendingSignature(
                record: record,
                signature: signature,
                publicKey: key,
                signer: signer.handle,
                otherwise: roleProblem,
                details: read.details
            )
        )
    }
}

/// Checks audit signatures in batches on every core while the caller reads
/// on; keeps only the findings (and where they go), so memory stays flat
/// however long the log.
final class ParallelSignatureCheck: Sendable {
    static let batchSize = 1024
    private struct State {
        var batch: [(pending: AuditVerifier.PendingSignature, seq: Int64, position: Int)] = []
        var found: [(position: Int, finding: AuditFinding)] = []
        var finished = false
        var batches = 0
        /// Each batch's records that name an entry, by batch number.
        var entryRecords: [Int: [SignedEntryRecord]] = [:]
    }
    private let keepEntryRecords: Bool
    private let state = Mutex(State())
    private let group = DispatchGroup()
    /// Batches in flight at most: bounds memory when checking lags reading.
    private let room: DispatchSemaphore
    private let queue = DispatchQueue(label: "certvault.audit-signatures", attributes: .concurrent)

    /// - Parameter batchesInFlight: batches queued at most before ``add(_:seq:position:)``
    ///   waits; nil for two per core.
    /// - Parameter keepEntryRecords: also read the details of each record
    ///   that names an entry, for ``entryRecords()``.
    init(batchesInFlight: Int? = nil, keepEntryRecords: Bool = false) {
        self.keepEntryRecords = keepEntryRecords
        room = DispatchSemaphore(value: 0)
        for _ in 0..<(batchesInFlight ?? 2 * ProcessInfo.processInfo.activeProcessorCount) { room.signal() }
    }

    /// Queues a signature; its finding, if any, belongs at `position`.
    func add(_ pending: AuditVerifier.PendingSignature, seq: Int64, position: Int) {
        let full = state.withLock { s -> [(pending: AuditVerifier.PendingSignature, seq: Int64, position: Int)]? in
            s.batch.append((pending, seq, position))
            guard s.batch.count >= Self.batchSize else { return nil }
            defer { s.batch = [] }
            return s.batch
        }
        if let full { submit(full) }
    }

    private func submit(_ batch: [(pending: AuditVerifier.PendingSignature, seq: Int64, position: Int)]) {
        room.wait()
        group.enter()
        let number = state.withLock { s in
            defer { s.batches += 1 }
            return s.batches
        }
        queue.async { [self] in
            defer {
                room.signal()
                group.leave()
            }
            var found: [(position: Int, finding: AuditFinding)] = []
            var entries: [SignedEntryRecord] = []
            for item in batch {
                if let message = item.pending.finding() {
                    found.append((item.position, AuditFinding(seq: item.seq, message: message)))
                }
                if keepEntryRecords, let record = SignedEntryRecord(item.pending.record, details: item.pending.details)
                {
                    entries.append(record)
                }
            }
            if !found.isEmpty || !entries.isEmpty {
                state.withLock { s in
                    s.found += found
                    if !entries.isEmpty { s.entryRecords[number] = entries }
                }
            }
        }
    }

    /// The records that name an entry, in order (batch by batch), with
    /// `keepEntryRecords`; complete once ``finish()`` has returned.
    func entryRecords() -> [[SignedEntryRecord]] {
        state.withLock { s in s.entryRecords.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// Checks what is left and waits for every batch; the findings with
    /// their positions, in order. Later calls return nothing.
    @discardableResult
    func finish() -> [(position: Int, finding: AuditFinding)] {
        let rest = state.withLock { s -> [(pending: AuditVerifier.PendingSignature, seq: Int64, position: Int)]? in
            guard !s.finished else { return nil }
            s.finished = true
            defer { s.batch = [] }
            return s.batch
        }
        guard let rest else { return [] }
        if !rest.isEmpty { submit(rest) }
        group.wait()
        return state.withLock { s in
            defer { s.found = [] }
            return s.found.sorted { ($0.position, $0.finding.seq ?? 0) < ($1.position, $1.finding.seq ?? 0) }
        }
    }
}
