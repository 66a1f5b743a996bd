import Foundation
import GRDB

/// Walking the changes since a head this machine verified (or since the
/// genesis): each change may alter only the entries its records name, and
/// each entry only as its records' actions allow.
extension VaultState {

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
    static func checkRecords(
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
        // No record after `after` may be in an older details format than the one there (verified then).
        if after > 0, let row = try db.row("SELECT \(AuditChain.columns) FROM audit WHERE seq = ?", [after]),
            let verified = try? AuditRecord(row: row).readDetails()
        {
            ledger.detailsVersion = max(ledger.detailsVersion, verified.version)
        }
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
            // A record that cannot be read is a finding here too: nothing after it may pass for checked.
            let record: AuditRecord
            do { record = try AuditRecord(row: row, query: query) } catch {
                let seq = (row["seq"] as (any DatabaseValueConvertible)?)?.databaseValue
                findings.append(
                    .init(
                        seq: seq.flatMap { Int64.fromDatabaseValue($0) },
                        message: (error as? CertVaultError)?.message ?? "a record that cannot be read"
                    )
                )
                continue
            }
            let isPeople = AuditAction.peopleActions.contains { $0.rawValue == record.action }
            let problem: String?
            // The details as the examination read them, when it did: not parsed twice.
            var examined: AuditDetails?
            if inOrder {
                problem = AuditVerifier.check(record, ledger: &ledger, vaultID: vaultID)
            } else {
                switch AuditVerifier.examine(record, ledger: &ledger, vaultID: vaultID) {
                case .valid: problem = nil
                case .problem(let p): problem = p
                case .signed(let pending):
                    problem = nil
                    examined = pending.details
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
            let details = examined ?? record.fields
            // Built in place: a bulk import is one change of thousands of records.
            if open == nil { open = Transaction(first: record.seq) }
            if let entry = record.entryRow, let action = AuditAction(rawValue: record.action) {
                open!.named[entry] = details.string(.entryDigest).flatMap(Data.init(hex:))
                open!.parts[entry] = RowDigest.Parts(hex: details[.entryParts])
                open!.actions[entry, default: []].insert(action)
                if details[.ciphertextSHA256] != nil { open!.keyed.insert(entry) }
                if details[.certSHA256] != nil { open!.certified.insert(entry) }
            }
            if details[.state] != nil {
                open!.last = record.seq
                open!.entriesState = details.string(.entriesState).flatMap(Data.init(hex:))
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
                    findings.append(.init(seq: t.last, entryID: Entry.ID(id), message: problem))
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
                findings.append(
                    .init(seq: nil, entryID: Entry.ID(id), message: "entry \(id) is not as its signed record says")
                )
            }
            for id in snapshot.entries.keys.sorted() where entries[id] == nil {
                findings.append(
                    .init(seq: nil, entryID: Entry.ID(id), message: "entry \(id) was added without a record")
                )
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
                    .init(seq: t.last, entryID: Entry.ID(id), message: "entry \(id) is not as its signed record says")
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
        ), let before = (try AuditRecord(row: row).fields.string(.entriesState)).flatMap(Data.init(hex:)),
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
        var hadKey = false
        var hadCertificate = false
        // Every signed record of the entry before, read by the one reader of details (never SQLite's JSON).
        let rows = try Row.fetchCursor(
            db,
            sql:
                "SELECT action, details FROM audit WHERE entry_id = ? AND seq < ? AND signature IS NOT NULL ORDER BY seq",
            arguments: [entry, seq]
        )
        while let row = try rows.next() {
            let c = Columns(row, "audit record of entry \(entry)")
            let details = AuditDetails.reading((try? c.text("details")) ?? "", action: (try? c.text("action")) ?? "")
            digest = details.string(.entryDigest).flatMap(Data.init(hex:))
            parts = RowDigest.Parts(hex: details[.entryParts])
            hadKey = hadKey || details[.ciphertextSHA256] != nil
            hadCertificate = hadCertificate || details[.certSHA256] != nil
        }
        return (digest, parts, hadKey, hadCertificate)
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
}
