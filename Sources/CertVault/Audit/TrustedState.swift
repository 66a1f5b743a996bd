import Foundation
import GRDB

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
                committed = (record.detailObject["state"] as? String).flatMap(Data.init(hex:))
                if committed == nil {
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
            let claimed = (try AuditRecord(row: row)).detailObject["entries_state"] as? String,
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

    /// Checks every record after `after`: signature, signer's role for its
    /// action, and that each change altered exactly the entries its records
    /// name, so a signer who may only record a backup cannot carry a changed
    /// entry along, and a change that names one entry cannot alter another.
    ///
    /// From the genesis (`after` 0, a machine that never saw the vault) the
    /// changes are walked forward from no entries, each putting in the
    /// digests its records name; from a head this machine verified, they are
    /// walked back from the tables, each putting back what its entries were
    /// before it. Either way every change's `entries_state` must match.
    /// What each action may change of an entry (``disallowedChange``) is
    /// checked for every change after `after` on either walk and past them.
    /// - Returns: the findings, and whether the walk was made (it is not past
    ///   256 changes forward or 64 back; the caller then compares every entry
    ///   with its own latest record instead).
    private static func checkRecords(
        _ db: Database,
        vaultID: Data,
        after: Int64,
        snapshot: RowDigest.Snapshot,
        ledger given: PeopleLedger? = nil,
        signaturesChecked: Bool = false,
        inOrder: Bool = false
    ) throws -> (findings: [AuditFinding], walkedAll: Bool) {
        var findings: [AuditFinding] = []
        // The people as of `after`, replayed unless the caller has them.
        var ledger = try given ?? PeopleLedger.replay(db, vaultID: vaultID, through: after)
        // Signatures are checked on every core while the records are walked,
        // as if each held; if one does not, the walk is made again in order,
        // each record checked before it counts.
        let signatures = ParallelSignatureCheck()
        defer { signatures.finish() }
        struct Transaction {
            var first: Int64
            var last: Int64 = 0
            var entriesState: Data?
            var named: [Int64: Data?] = [:]
            var parts: [Int64: RowDigest.Parts] = [:]
            var actions: [Int64: Set<AuditAction>] = [:]
            /// Entries this change gave a key or a certificate.
            var keyed: Set<Int64> = []
            var certified: Set<Int64> = []
        }
        var transactions: [Transaction] = []
        var open: Transaction?
        let query = try AuditChain.Query(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE seq > ? ORDER BY seq",
            arguments: [after]
        )
        while let row = try query.rows.next() {
            // A record that cannot be read is checkLinks' to name.
            guard let record = try? AuditRecord(row: row, query: query) else { continue }
            let isPeople = AuditAction.peopleActions.contains { $0.rawValue == record.action }
            let problem: String?
            if inOrder {
                problem = AuditVerifier.check(record, ledger: &ledger, vaultID: vaultID)
            } else {
                switch AuditVerifier.examine(record, ledger: &ledger, vaultID: vaultID) {
                case .valid: problem = nil
                case .problem(let p): problem = p
                case .signed(let pending):
                    problem = nil
                    // Checked by the caller, with the signer's role: a failure there means a check without this shortcut.
                    if !signaturesChecked { signatures.add(pending, seq: record.seq, position: 0) }
                }
            }
            if let problem {
                // People records' problems are the full replay's findings already.
                if !isPeople { findings.append(.init(seq: record.seq, message: problem)) }
                continue  // and a record with a problem names nothing
            }
            guard record.signature != nil else { continue }
            let details = record.detailObject
            // Built in place: a bulk import is one change of thousands of records.
            if open == nil { open = Transaction(first: record.seq) }
            if let entry = record.entryID, let action = AuditAction(rawValue: record.action) {
                open!.named[entry] = (details["entry_digest"] as? String).flatMap(Data.init(hex:))
                open!.parts[entry] = RowDigest.Parts(hex: details["entry_parts"])
                open!.actions[entry, default: []].insert(action)
                if details["ciphertext_sha256"] != nil { open!.keyed.insert(entry) }
                if details["cert_sha256"] != nil { open!.certified.insert(entry) }
            }
            if details["state"] != nil {
                open!.last = record.seq
                open!.entriesState = (details["entries_state"] as? String).flatMap(Data.init(hex:))
                transactions.append(open!)
                open = nil
            }
        }
        if !signatures.finish().isEmpty {
            return try checkRecords(db, vaultID: vaultID, after: after, snapshot: snapshot, inOrder: true)
        }
        // What each action may change, on every path (forward, back, and past
        // either walk's reach): each entry followed from its state before the
        // first change here, one look-up per entry, then change by change.
        var known: [Int64: (parts: RowDigest.Parts?, hadKey: Bool, hadCertificate: Bool)] = [:]
        for t in transactions {
            for id in t.named.keys.sorted() {
                let before: (parts: RowDigest.Parts?, hadKey: Bool, hadCertificate: Bool)
                if let seen = known[id] {
                    before = seen
                } else if after == 0 {
                    before = (nil, false, false)
                } else {
                    let previous = try previousEntry(db, entry: id, before: t.first)
                    before = (previous.parts, previous.hadKey, previous.hadCertificate)
                }
                if let problem = Self.disallowedChange(
                    t.actions[id] ?? [],
                    before: before.parts,
                    after: t.parts[id],
                    digest: t.named[id] ?? nil,
                    hadKey: before.hadKey,
                    hadCertificate: before.hadCertificate
                ) {
                    findings.append(.init(seq: t.last, entryID: id, message: problem))
                }
                known[id] = (
                    t.parts[id], before.hadKey || t.keyed.contains(id),
                    before.hadCertificate || t.certified.contains(id)
                )
            }
        }
        if after == 0 {
            // From the genesis: walk forward from no entries at all, each
            // change putting in the digests its records name. No look-ups.
            guard transactions.count <= 256 else { return (findings, false) }
            var entries: [Int64: Data] = [:]
            for t in transactions {
                for (id, digest) in t.named { entries[id] = digest }
                if t.entriesState != RowDigest.Snapshot.entriesState(entries, orphans: snapshot.orphans) {
                    findings.append(.init(seq: t.last, message: "changes entries its records do not name"))
                }
            }
            for (id, digest) in entries.sorted(by: { $0.key < $1.key }) where snapshot.entries[id] != digest {
                findings.append(.init(seq: nil, entryID: id, message: "entry \(id) is not as its signed record says"))
            }
            for id in snapshot.entries.keys.sorted() where entries[id] == nil {
                findings.append(.init(seq: nil, entryID: id, message: "entry \(id) was added without a record"))
            }
            return (findings, true)
        }
        // From the head this machine verified last: walk back from the
        // tables, each change's named entries put back as they were before it.
        guard transactions.count <= 64 else { return (findings, false) }
        var entries = snapshot.entries
        for t in transactions.reversed() {
            for (id, digest) in t.named.sorted(by: { $0.key < $1.key }) where entries[id] != digest {
                findings.append(
                    .init(seq: t.last, entryID: id, message: "entry \(id) is not as its signed record says")
                )
            }
            if t.entriesState != RowDigest.Snapshot.entriesState(entries, orphans: snapshot.orphans) {
                findings.append(.init(seq: t.last, message: "changes entries its records do not name"))
            }
            for id in t.named.keys.sorted() {
                entries[id] = try previousEntry(db, entry: id, before: t.first).digest
            }
        }
        // Back where this machine verified last: the entries must be as that state said.
        if let row = try Row.fetchOne(
            db,
            sql:
                "SELECT \(AuditChain.columns) FROM audit WHERE seq <= ? AND signature IS NOT NULL ORDER BY seq DESC LIMIT 1",
            arguments: [after]
        ), let before = (try AuditRecord(row: row).detailObject["entries_state"] as? String).flatMap(Data.init(hex:)),
            before != RowDigest.Snapshot.entriesState(entries, orphans: snapshot.orphans)
        {
            findings.append(.init(seq: transactions.first?.last, message: "changes entries its records do not name"))
        }
        return (findings, true)
    }

    /// What an entry was before record `seq`: its digest and parts from its
    /// latest signed record before it (nil when it did not exist yet), and
    /// whether any record before gave it a key or a certificate.
    private static func previousEntry(
        _ db: Database,
        entry: Int64,
        before seq: Int64
    ) throws -> (digest: Data?, parts: RowDigest.Parts?, hadKey: Bool, hadCertificate: Bool) {
        var digest: Data?
        var parts: RowDigest.Parts?
        if let row = try db.row(
            "SELECT \(AuditChain.columns) FROM audit WHERE entry_id = ? AND seq < ? AND signature IS NOT NULL ORDER BY seq DESC LIMIT 1",
            [entry, seq]
        ), let record = try? AuditRecord(row: row) {
            let details = record.detailObject
            digest = (details["entry_digest"] as? String).flatMap(Data.init(hex:))
            parts = RowDigest.Parts(hex: details["entry_parts"])
        }
        func any(_ field: String) throws -> Bool {
            try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM audit WHERE entry_id = ? AND seq < ? AND signature IS NOT NULL "
                    + "AND json_extract(details, '$.\(field)') IS NOT NULL)",
                arguments: [entry, seq]
            ) == true
        }
        return (digest, parts, try any("ciphertext_sha256"), try any("cert_sha256"))
    }

    /// What each action may change of an entry: an export only its custody
    /// history, a grant its grants (and custody), a link its row; a key is
    /// added only where there was none, a certificate likewise; only the
    /// records that make an entry make one. A change the records' actions
    /// do not allow is not believed, whoever signed it.
    static func disallowedChange(
        _ actions: Set<AuditAction>,
        before: RowDigest.Parts?,
        after: RowDigest.Parts?,
        digest: Data?,
        hadKey: Bool,
        hadCertificate: Bool
    ) -> String? {
        guard let after, after.digest() == digest else {
            return digest == nil ? nil : "its record's parts do not make its digest"
        }
        let creates: Set<AuditAction> = [.entryImport, .entryCreate, .entryRequest]
        guard let before else {
            return actions.isDisjoint(with: creates) ? "appears under a record that makes no entry" : nil
        }
        if !actions.isDisjoint(with: creates) { return "is made again though it exists" }
        if actions.contains(.entryKeyAdd), hadKey { return "is given a key though it had one" }
        if !actions.isDisjoint(with: [.entryCertAdd, .entryComplete]), hadCertificate {
            return "is given a certificate though it had one"
        }
        let rowMay: Set<AuditAction> = [
            .entryKeyAdd, .entryCertAdd, .entryComplete, .entryLink, .entryNeedsRotation, .entrySupersede,
            .entryRevoke, .entryRetire, .entryRename,
        ]
        let grantsMay: Set<AuditAction> = [
            .entryKeyAdd, .entryGrant, .entryUngrant, .entryNeedsRotation, .entryRevoke,
        ]
        let custodyMay: Set<AuditAction> = [.entryKeyAdd, .entryGrant, .entryExport]
        if before.row != after.row, actions.isDisjoint(with: rowMay) {
            return
                "its row changed under \(actions.map(\.rawValue).sorted().joined(separator: ", ")), which may not change it"
        }
        if before.grants != after.grants, actions.isDisjoint(with: grantsMay) {
            return
                "its grants changed under \(actions.map(\.rawValue).sorted().joined(separator: ", ")), which may not change them"
        }
        if before.custody != after.custody, actions.isDisjoint(with: custodyMay) {
            return
                "its custody changed under \(actions.map(\.rawValue).sorted().joined(separator: ", ")), which may not change it"
        }
        return nil
    }

    /// The genesis signs with keys it introduces itself.
    private static func genesisSigner(_ record: AuditRecord, _ ledger: PeopleLedger) -> TrustedPerson? {
        guard record.seq == 1, let actor = record.actorID else { return nil }
        return ledger.people[actor]
    }

    /// Every people row against the signed people state, both ways.
    private mutating func comparePeople(_ db: Database, snapshot: RowDigest.Snapshot) throws {
        var seen = Set<Int64>()
        for row in try Row.fetchAll(
            db,
            sql: "SELECT id, handle, name, email, role, status, box_public_key, sign_public_key FROM people"
        ) {
            let c = Columns(row, "person row")
            let id = try c.int("id")
            seen.insert(id)
            let handle = (try? c.text("handle")) ?? "?"
            guard let trusted = ledger.people[id] else {
                findings.append(
                    .init(
                        seq: nil,
                        message:
                            "person \(Display.quoted(handle)) (row \(id)) was added by hand: no signed record introduces it"
                    )
                )
                continue
            }
            var differs: [String] = []
            if (try? c.text("handle")) != trusted.handle { differs.append("handle") }
            if (try? c.optionalText("name")) != trusted.name { differs.append("name") }
            if (try? c.optionalText("email")) != trusted.email { differs.append("email") }
            if (try? c.text("role")) != trusted.role.rawValue { differs.append("role") }
            if (try? c.text("status")) != (trusted.active ? "active" : "departed") { differs.append("status") }
            if (try? c.optionalBlob("box_public_key")) != trusted.boxPublicKey { differs.append("encryption key") }
            if (try? c.optionalBlob("sign_public_key")) != trusted.signPublicKey { differs.append("signing key") }
            if !differs.isEmpty {
                findings.append(
                    .init(
                        seq: nil,
                        message:
                            "person \(trusted.handle): \(differs.joined(separator: ", ")) \(differs.count == 1 ? "differs" : "differ") from the signed records"
                    )
                )
            }
            if let expected = trusted.keyslotDigest, try RowDigest.keyslot(db, personID: id) != expected {
                findings.append(.init(seq: nil, message: "the keyslot of \(trusted.handle) was damaged or replaced"))
            } else if differs.isEmpty, let signed = trusted.rowDigest, snapshot.people[id] != signed {
                findings.append(
                    .init(seq: nil, message: "person \(trusted.handle): the row differs from the signed records")
                )
            }
        }
        for (id, person) in ledger.people.sorted(by: { $0.key < $1.key }) where !seen.contains(id) {
            findings.append(.init(seq: nil, message: "person \(person.handle) was deleted from the people table"))
        }
    }

    /// Names the entries whose rows differ from their latest signed record,
    /// and those whose row is gone. Reached only when the whole-state
    /// digest disagrees.
    /// - Parameter recordsVerified: every record's signature is known good
    ///   (checked now, or by an earlier run this machine witnessed), so each
    ///   need not be checked again.
    private mutating func nameDifferingEntries(
        _ db: Database,
        snapshot: RowDigest.Snapshot,
        recordsVerified: Bool = false
    ) throws {
        var latest = LatestSigned()
        let rows = try Row.fetchCursor(
            db,
            sql:
                "SELECT \(AuditChain.columns) FROM audit WHERE entry_id IS NOT NULL AND signature IS NOT NULL ORDER BY seq"
        )
        var positions: [String: Int]?
        while let row = try rows.next() {
            if positions == nil { positions = Columns.positions(of: row) }
            guard let record = try? AuditRecord(row: row, positions: positions),
                let signed = SignedEntryRecord(record), signed.hasDigest, record.recomputedHash == record.hash
            else { continue }
            if !recordsVerified {
                guard let key = ledger.signer(of: record)?.signPublicKey,
                    Signature.verify(record.signature ?? Data(), message: record.hash, publicKey: key)
                else { continue }
            }
            latest.add(signed, ledger: ledger)
        }
        nameDifferingEntries(latest, snapshot: snapshot)
    }

    /// Each entry's latest signed record that may commit to it: its
    /// action names an entry and its signer, trusted and active now, holds
    /// a role that may make that record.
    struct LatestSigned {
        var latest: [Int64: (seq: Int64, digest: Data?, alias: String)] = [:]

        mutating func add(_ record: SignedEntryRecord, ledger: PeopleLedger) {
            guard record.hasDigest, let action = record.action, action.namesEntry,
                let signer = ledger.signer(actorID: record.actorID), action.signers.contains(signer.role)
            else { return }
            let id = record.entryID
            let alias = record.alias ?? latest[id]?.alias ?? "entry \(id)"
            latest[id] = (record.seq, record.digest, alias)
        }
    }

    /// Names the entries whose rows differ from `signed`, and those whose row is gone.
    private mutating func nameDifferingEntries(_ signed: LatestSigned, snapshot: RowDigest.Snapshot) {
        let latest = signed.latest
        // Looked up in any order; only what differs is sorted, by entry.
        var differing: [(id: Int64, why: String)] = []
        for (id, digest) in snapshot.entries {
            if let signed = latest[id] {
                guard signed.digest != digest else { continue }
                differing.append((id, "\(Display.quoted(signed.alias)) differs from its signed record \(signed.seq)"))
            } else {
                differing.append((id, "was added by hand: no signed record commits to it"))
            }
        }
        for (id, why) in differing.sorted(by: { $0.id < $1.id }) {
            tamperedEntries[id] = why
            findings.append(.init(seq: nil, entryID: id, message: why))
        }
        var deleted: [(id: Int64, message: String)] = []
        for (id, signed) in latest where snapshot.entries[id] == nil && signed.digest != nil {
            deleted.append(
                (id, "\(Display.quoted(signed.alias)) was deleted (its signed record \(signed.seq) says it exists)")
            )
        }
        for (id, message) in deleted.sorted(by: { $0.id < $1.id }) {
            findings.append(.init(seq: nil, entryID: id, message: message))
        }
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

    /// Nil for a record that names no entry; reads the details.
    init?(_ record: AuditRecord) {
        guard let id = record.entryID else { return nil }
        seq = record.seq
        entryID = id
        actorID = record.actorID
        action = AuditAction(rawValue: record.action)
        // The two fields straight from our reader (as AuditDetails reads
        // them, without building its dictionary); else as it does.
        guard let fields = JSONText.fields(["entry_digest", "alias"], of: record.details) else {
            let details = AuditDetails(json: record.details)
            hasDigest = details.fields["entry_digest"] != nil
            digest = details.string("entry_digest").flatMap(Data.init(hex:))
            alias = details.string("alias")
            return
        }
        hasDigest = fields[0] != nil
        if case .string(let hex)? = fields[0] { digest = Data(hex: hex) } else { digest = nil }
        if case .string(let name)? = fields[1] { alias = name } else { alias = nil }
    }
}
