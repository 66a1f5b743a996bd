internal import CertVaultNative
import Foundation
import GRDB
internal import GRDBSQLite

extension Vault {
    /// Which records ``auditRecords(_:)`` returns.
    public struct AuditFilter: Sendable {
        /// Only records made by the person with this handle; nil for anyone.
        public var actor: String?
        /// Only records about this entry: its id or alias as the records name
        /// it, else any reference ``Vault/entry(_:)`` takes; nil for all.
        public var entry: String?
        /// Only records of this action (`entry.export`), or of every action
        /// under a prefix (`entry`); nil for all.
        public var action: String?
        /// Only records made at or after this time (to the second); nil for no limit.
        public var since: Date?
        /// Only records made at or before this time (to the second); nil for no limit.
        public var until: Date?
        /// Only records by or about this person: as actor, or as the person
        /// concerned (added, given a role, a grant or a copy, departed).
        public var person: String?
        /// Only the last this many of the records that match; nil for all.
        public var limit: Int?
        /// A filter keeping the records that match every condition given.
        public init(
            actor: String? = nil,
            entry: String? = nil,
            action: String? = nil,
            since: Date? = nil,
            until: Date? = nil,
            person: String? = nil,
            limit: Int? = nil
        ) {
            self.actor = actor
            self.entry = entry
            self.action = action
            self.since = since
            self.until = until
            self.person = person
            self.limit = limit
        }
    }

    /// The records ``auditLog(_:)`` returns, without its findings.
    public func auditRecords(_ filter: AuditFilter = AuditFilter()) throws -> [AuditRecord] {
        try auditLog(filter).records
    }

    /// What ``auditLog(_:)`` returns.
    public struct AuditLog: Sendable {
        /// The records that can be read, in sequence order, each with its
        /// ``AuditRecord/problem`` if it cannot be believed.
        public var records: [AuditRecord]
        /// Rows of the log that cannot even be read.
        public var unreadable: [AuditFinding]
        /// Whether every record (not only those the filter kept) checks out.
        public var isValid: Bool
        /// Set when the log is older than the one this machine saw: records
        /// may be missing from its end, though each shown checks out.
        public var rollback: Rollback?
        /// What the tables hold that the signed records do not say (a role,
        /// a grant, an entry changed outside certvault), as every other
        /// command would refuse it; empty when they match. The records
        /// themselves are still shown: each is judged on its own.
        public var tableFindings: [AuditFinding] = []

        /// A log from its fields, for tests and for callers that build their own.
        public init(records: [AuditRecord], unreadable: [AuditFinding] = [], isValid: Bool) {
            self.records = records
            self.unreadable = unreadable
            self.isValid = isValid
        }
    }

    /// Audit records in sequence order, each checked (hash, place in the
    /// chain, signature by a person the records before it trust), naming
    /// people and entries as the signed records name them (never as the
    /// mutable tables do).
    public func auditLog(_ filter: AuditFilter = AuditFilter()) throws -> AuditLog {
        try snapshotRead { db, seen in
            let ledger = try PeopleLedger.replay(db, vaultID: vaultID)
            var records: [AuditRecord] = []
            var unreadable: [AuditFinding] = []
            var aliases: [Int64: String] = [:]
            var everAlias: [String: Set<Int64>] = [:]
            var replay = PeopleLedger()
            // Signatures are checked on every core while the log is read.
            let signatures = ParallelSignatureCheck()
            defer { signatures.finish() }
            var named: [(index: Int, entry: Int64, alias: String)] = []
            var previous = AuditChain.zeroHash
            var expected: Int64 = 1
            let query = try AuditChain.Query(db, sql: "SELECT \(AuditChain.columns) FROM audit ORDER BY seq")
            while let row = try query.rows.next() {
                var record: AuditRecord
                do { record = try AuditRecord(row: row, query: query) } catch let error as CertVaultError {
                    unreadable.append(.init(seq: nil, message: error.message))
                    continue
                }
                if record.seq != expected {
                    record.problem = "out of place: record \(expected) was expected here"
                } else if record.previousHash != previous {
                    record.problem = "does not follow the record before it: removed, reordered or altered"
                }
                switch AuditVerifier.examine(record, ledger: &replay, vaultID: vaultID) {
                case .valid: break
                case .problem(let problem): record.problem = record.problem ?? problem
                case .signed(let pending): signatures.add(pending, seq: record.seq, position: records.count)
                }
                if record.action == AuditAction.unlockFailed.rawValue, let actor = record.actorRow,
                    let person = replay.people[actor]
                {
                    record.personDeparted = !person.active
                }
                previous = record.hash
                expected = record.seq + 1
                if record.problem == nil, let entry = record.entryRow, record.signature != nil,
                    let alias = record.fields.alias
                {
                    named.append((records.count, entry, alias))
                }
                records.append(record)
            }
            // The tables against the signed state, while the signatures are checked: with the
            // walk's people when it found nothing so far, else (or if a signature then fails) alone.
            let walkedClean = unreadable.isEmpty && records.allSatisfy { $0.problem == nil } && !replay.people.isEmpty
            var tables = checkedState(
                db,
                thorough: false,
                walked: walkedClean ? WalkedLog(ledger: replay, last: records.last?.seq ?? 0) : nil,
                seen: seen
            )
            let signatureFindings = signatures.finish()
            for (position, finding) in signatureFindings {
                records[position].problem = records[position].problem ?? finding.message
            }
            if walkedClean && !signatureFindings.isEmpty {
                tables = checkedState(db, thorough: false, walked: nil, seen: seen)
            }
            // What valid records named each entry, in order.
            for n in named where records[n.index].problem == nil {
                aliases[n.entry] = n.alias
                everAlias[n.alias, default: []].insert(n.entry)
            }
            let isValid = unreadable.isEmpty && records.allSatisfy { $0.problem == nil }
            var actorID: Int64?
            if let actor = filter.actor { actorID = try Self.trustedPerson(actor, ledger: ledger, in: db).id }
            // Every entry that was ever called `ref`, as its records named it.
            var entryIDs: Set<Int64>?
            if let ref = filter.entry {
                if let id = Int64(ref), aliases[id] != nil {
                    entryIDs = [id]
                } else if let match = everAlias[ref] {
                    entryIDs = match
                } else {
                    entryIDs = [try Self.entry(.any(ref), in: db, state: tables).id.rawValue]
                }
            }
            if let action = filter.action,
                !AuditAction.allCases.contains(where: { $0.rawValue == action || $0.rawValue.hasPrefix(action + ".") })
            {
                throw CertVaultError(
                    .invalidArgument,
                    "no action \(Display.quoted(action))",
                    hint:
                        "use one of: \(AuditAction.allCases.map(\.rawValue).sorted().joined(separator: ", ")), or a family: vault, person, entry, unlock"
                )
            }
            let personID = try filter.person.map { try Self.trustedPerson($0, ledger: ledger, in: db).id }
            let since = filter.since.map(Timestamp.format)
            let until = filter.until.map(Timestamp.format)
            func matches(_ r: AuditRecord) -> Bool {
                guard actorID == nil || r.actorRow == actorID else { return false }
                guard entryIDs == nil || r.entryRow.map({ entryIDs!.contains($0) }) == true else { return false }
                if let action = filter.action, r.action != action, !r.action.hasPrefix(action + ".") { return false }
                if let since, r.at < since { return false }
                if let until, r.at > until { return false }
                return personID == nil || r.actorRow == personID || r.personRow == personID
            }
            let kept = records.filter(matches).suffix(filter.limit.map { max(0, $0) } ?? Int.max).map { r in
                var named = r
                named.actorHandle = r.actorRow.flatMap { ledger.people[$0]?.handle }
                named.personHandle = r.personRow.flatMap { ledger.people[$0]?.handle }
                // The entry as this record names it; else as its latest record does.
                named.entryAlias =
                    r.problem == nil
                    ? r.fields.alias ?? r.entryRow.flatMap { aliases[$0] }
                    : r.entryRow.flatMap { aliases[$0] }
                return named
            }
            var log = AuditLog(records: kept, unreadable: unreadable, isValid: isValid)
            // The state's people findings are the walk's record problems again.
            let problems = Set(records.compactMap { $0.problem == nil ? nil : $0.seq })
            log.tableFindings = tables.findings.dropFirst(tables.ledger.findings.count).filter { finding in
                finding.seq.map { !problems.contains($0) } ?? true
            }
            log.rollback = (try? self.rollback(db, seen: seen)) ?? nil
            return log
        }
    }

    /// The current head of the audit chain.
    public func auditHead() throws -> AuditHead? {
        try store.read { try AuditChain.head($0) }
    }

    /// Recomputes the whole chain and checks every signature, every person
    /// and every entry against the signed records, and the head against
    /// this machine's witness and `expected`.
    public func verify(expecting expected: AuditHead? = nil) throws -> AuditVerification {
        try verify(expecting: expected, thorough: false, cancellation: nil)
    }

    /// ``verify(expecting:)-9tjmj``, and with `thorough` SQLite's full
    /// `integrity_check` of every page and index instead of `quick_check`.
    public func verify(expecting expected: AuditHead? = nil, thorough: Bool) throws -> AuditVerification {
        try verify(expecting: expected, thorough: thorough, cancellation: nil)
    }

    /// ``verify(expecting:)-9tjmj`` off the caller's thread; cancelling the task
    /// stops it with `CancellationError`.
    public func verify(expecting expected: AuditHead? = nil) async throws -> AuditVerification {
        try await Cancellation.run { try self.verify(expecting: expected, thorough: false, cancellation: $0) }
    }

    func verify(
        expecting expected: AuditHead?,
        thorough: Bool,
        cancellation: Cancellation?
    ) throws
        -> AuditVerification
    {
        // One read transaction: the log, the tables and the signed state as
        // one snapshot. The log is walked first, its signatures queued for
        // the other cores (up to 32 batches of 1,024 records); the state and
        // the storage are checked on this thread while they are.
        var storage: [AuditFinding]?
        var verification = try snapshotRead { db, seen in
            try AuditVerifier(db: db, vaultID: vaultID).verifyAll(
                expecting: expected,
                cancellation: cancellation,
                signaturesInFlight: 32
            ) { _, walked in
                let state = self.checkedState(db, thorough: true, walked: walked, seen: seen)
                try cancellation?.check()
                // The storage under the records: damage the signed digests cannot
                // see (an index, a free page) and certificates against their thumbprints.
                if storage == nil { storage = try Self.storageFindings(db, thorough: thorough) }
                return state
            }
        }
        verification.findings += storage ?? []
        // A log that verifies is one this machine has now seen.
        if verification.isValid, let head = verification.signedHead { rememberAfterRead(head) }
        return verification
    }

    /// The part of ``verify(expecting:)-9tjmj`` that is the log alone: every
    /// record's place, hash and signature, without the tables, the storage
    /// or the witness. For the benchmark, which sets it beside the whole;
    /// the number of findings.
    package func verifyLogOnly() throws -> Int {
        try store.read { db in
            try AuditVerifier(db: db, vaultID: vaultID).verifyAll(expecting: nil, signaturesInFlight: 32) {
                _,
                walked in
                VaultState(ledger: walked?.ledger ?? PeopleLedger())
            }.findings.count
        }
    }

    /// The state, every entry compared with its signed record; a value the
    /// check cannot even read is a finding, not a stop.
    private func checkedState(
        _ db: Database,
        thorough: Bool,
        walked: WalkedLog?,
        seen: RollbackWitness.Seen?
    ) -> VaultState {
        do {
            return try state(db, thorough: thorough, walked: walked, seen: seen)
        } catch let error as CertVaultError where error.code != .io {
            let ledger = (try? PeopleLedger.replay(db, vaultID: vaultID)) ?? PeopleLedger()
            return VaultState(ledger: ledger, findings: ledger.findings + [.init(seq: nil, message: error.message)])
        } catch {
            let ledger = (try? PeopleLedger.replay(db, vaultID: vaultID)) ?? PeopleLedger()
            return VaultState(ledger: ledger, findings: ledger.findings + [.init(seq: nil, message: "\(error)")])
        }
    }

    /// The tables whose indexes lookups use: checked against their indexes
    /// by every `audit verify`.
    static let indexedTables = ["entries", "people", "grants", "custody", "keyslots", "audit"]

    /// SQLite's own check of the file (`quick_check` and a full check of
    /// the tables lookups use, or `integrity_check` of everything when
    /// `thorough`), and every certificate's SHA-1 thumbprint and SHA-256
    /// fingerprint recomputed from its DER.
    static func storageFindings(_ db: Database, thorough: Bool) throws -> [AuditFinding] {
        var findings: [AuditFinding] = []
        var check = try String.fetchAll(db, sql: thorough ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)")
        if !thorough, check == ["ok"] {
            // quick_check does not hold an index to its table; lookups go
            // through these (design rule 8), so their indexes are checked
            // in full every time (SQLite's integrity_check of one table).
            for table in indexedTables {
                let result = try String.fetchAll(db, sql: "PRAGMA integrity_check(\(table))")
                if result != ["ok"] {
                    check = result
                    break
                }
            }
        }
        if check != ["ok"] {
            findings.append(
                .init(
                    seq: nil,
                    message:
                        "the file is damaged (SQLite's \(thorough ? "integrity" : "quick") check: \(check.prefix(3).joined(separator: "; "))); restore it from a backup"
                )
            )
        }
        let statement = try db.makeStatement(
            sql: "SELECT id, cert_der, sha1, sha256 FROM entries WHERE cert_der IS NOT NULL ORDER BY id"
        )
        let rows = try Row.fetchCursor(statement)
        guard let s = statement.sqliteStatement as OpaquePointer? else { return findings }
        // Both digests at once, written as upper-case hex and compared with
        // the columns' bytes where they lie: no value is made for a row that agrees.
        var digests = [UInt8](repeating: 0, count: 52)
        var hex = [UInt8](repeating: 0, count: 104)
        let digits = Array("0123456789ABCDEF".utf8)
        func matches(_ column: Int32, _ expected: ArraySlice<UInt8>) -> Bool {
            guard sqlite3_column_type(s, column) == SQLITE_TEXT, let p = sqlite3_column_text(s, column) else {
                return false
            }
            return Int(sqlite3_column_bytes(s, column)) == expected.count
                && expected.withUnsafeBufferPointer { memcmp(p, $0.baseAddress!, $0.count) == 0 }
        }
        while let row = try rows.next() {
            if sqlite3_column_type(s, 1) == SQLITE_BLOB, let der = sqlite3_column_blob(s, 1) {
                digests.withUnsafeMutableBufferPointer { d in
                    cv_thumbprints(der, Int(sqlite3_column_bytes(s, 1)), d.baseAddress!, d.baseAddress! + 20)
                }
                for (i, byte) in digests.enumerated() {
                    hex[2 * i] = digits[Int(byte >> 4)]
                    hex[2 * i + 1] = digits[Int(byte & 15)]
                }
                if matches(2, hex[0..<40]), matches(3, hex[40..<104]) { continue }
            }
            // A row that does not agree, or not in the types certvault writes: read as any other.
            let c = Columns(row, "entry")
            guard let id = try? c.int("id"), let der = try? c.blob("cert_der") else { continue }
            let sha1 = try OpenSSL.digest(der, sha1: true).hexUpper
            let sha256 = try OpenSSL.digest(der, sha1: false).hexUpper
            if (try? c.optionalText("sha1")) != sha1 || (try? c.optionalText("sha256")) != sha256 {
                findings.append(
                    .init(
                        seq: nil,
                        entryID: Entry.ID(id),
                        message:
                            "entry \(id): its thumbprint or fingerprint is not that of its certificate; restore the vault from a backup"
                    )
                )
            }
        }
        return findings
    }
}
