import Foundation
import GRDB

/// A certvault vault: one SQLite file.
///
/// Opening a vault needs no passphrase: inventory, expiry checks and audits
/// read public data. Anything that touches a private key, or changes the
/// vault, goes through a ``Session`` from ``unlock(handle:passphrase:)``.
public final class Vault: Sendable {
    let store: Store
    /// The vault's random 16-byte identity.
    public let vaultID: Data
    /// The path of the vault file, as given when it was opened or created.
    public var path: String { store.path }
    /// Where this machine remembers the last head it saw; nil checks no rollback.
    public let witness: RollbackWitness?

    private init(store: Store, vaultID: Data, witness: RollbackWitness?) {
        self.store = store
        self.vaultID = vaultID
        self.witness = witness
    }

    /// The description of a person to add.
    public struct NewPerson: Sendable {
        /// The handle the person will be known by: lower-case letters a-z,
        /// digits, `.`, `_` and `-`, starting with a letter, at most 64 characters.
        public var handle: String
        /// The full name; nil for none.
        public var name: String?
        /// The e-mail address; nil for none.
        public var email: String?
        /// What the person may do.
        public var role: PersonRole
        /// The description of a person with this handle and role.
        public init(handle: String, name: String? = nil, email: String? = nil, role: PersonRole) {
            self.handle = handle
            self.name = name
            self.email = email
            self.role = role
        }
    }

    /// Creates a new vault with its first admin.
    ///
    /// The genesis record (`vault.create`) commits to the vault id and the
    /// admin's public keys; the admin's keyslot is bound to that record's
    /// hash.
    /// - Throws: ``CertVaultError`` `.vaultExists` if anything is at `path`.
    public static func create(
        at path: String,
        admin: NewPerson,
        passphrase: SecureBytes,
        kdf: KDFStrength = .moderate,
        witness: RollbackWitness? = .standard
    ) throws -> Vault {
        try Sodium.ensure()
        try validateHandle(admin.handle)
        guard passphrase.count > 0 else { throw CertVaultError(.invalidArgument, "the passphrase is empty") }
        let keys = try PersonKeys(passphrase: passphrase, kdf: kdf)
        let store = try Store.create(at: path)
        let vaultID = Sodium.random(16)
        let head: AuditHead?
        do {
            head = try store.write { db in
                try db.execute(
                    sql: "INSERT INTO vault (singleton, vault_id, format_version, created_at) VALUES (1, ?, ?, ?)",
                    arguments: [vaultID, Store.formatVersion, Timestamp.now()]
                )
                var founder = admin
                founder.role = .admin
                var (personID, details) = try PeopleWriter.insert(db, founder, keys: keys, createdBy: nil)
                details["vault_id"] = vaultID.hexLower
                details["format_version"] = Store.formatVersion
                _ = try AuditChain.append(
                    db,
                    actor: personID,
                    action: .vaultCreate,
                    person: personID,
                    details: details,
                    signer: keys.sign.secretKey
                )
                let keyslotDigest = try PeopleWriter.storeKeyslot(db, vaultID: vaultID, personID: personID, keys: keys)
                // The keyslot is committed by the admin's own signature, in
                // the record that also carries the first state digest.
                let ledger = try PeopleLedger.replay(db, vaultID: vaultID)
                let change = try Change(
                    db,
                    state: VaultState(ledger: ledger),
                    actor: personID,
                    signer: keys.sign.secretKey
                )
                change.record(.personKeyslot, person: personID, details: ["keyslot_digest": keyslotDigest])
                return try change.commit()
            }
        } catch {
            Store.removeFiles(path)
            throw error
        }
        let vault = Vault(store: store, vaultID: vaultID, witness: witness)
        // A vault made here on purpose is the one this path holds from now on.
        try witness?.replace(path: path, vaultID: vaultID)
        if let head { try vault.remember(head) }
        return vault
    }

    /// Opens an existing vault.
    ///
    /// - Parameters:
    ///   - path: the vault file.
    ///   - witness: where this machine remembers the last head it saw
    ///     (``RollbackWitness/standard`` by default); nil skips the rollback
    ///     check.
    ///   - readOnly: open the file without ever writing it: reads, exports
    ///     of public material and verification work; anything that changes
    ///     the vault (a change, a key export, a failed-unlock record) is
    ///     refused with `.readOnly` or not recorded.
    ///   - busyTimeout: how long a call waits for another process's write
    ///     to finish before failing with `.io`.
    /// - Throws: `.noVault`, `.notAVault`, `.newerFormat`, `.corruptVault`,
    ///   `.tampered` (schema objects added by hand); the file is left
    ///   untouched.
    public static func open(
        at path: String,
        witness: RollbackWitness? = .standard,
        readOnly: Bool = false,
        busyTimeout: TimeInterval = 60
    ) throws -> Vault {
        let store = try Store.open(at: path, readOnly: readOnly, busyTimeout: busyTimeout)
        let id = try store.read { db -> Data? in
            guard let row = try db.row("SELECT vault_id FROM vault") else { return nil }
            return try Columns(row, "vault row").blob("vault_id", count: 16)
        }
        guard let id else {
            try? store.close()
            throw CertVaultError(
                .notAVault,
                "\(path) has no vault identity",
                hint: "was its creation interrupted?"
            )
        }
        return Vault(store: store, vaultID: id, witness: witness)
    }

    /// Whether the vault was opened read-only.
    public var isReadOnly: Bool { store.readOnly }

    /// Closes the file. Later calls on this vault, or on its sessions, fail
    /// with `.closed`; closing twice does nothing. A long-running process
    /// closes a vault it no longer needs instead of waiting for the last
    /// reference to go.
    public func close() throws { try store.close() }

    /// Whether `handle` is one certvault accepts: lower-case ASCII letters,
    /// digits, `.`, `_` and `-`, starting with a letter, at most 64
    /// characters — so that no two handles look alike (design rule 7).
    public static func isValidHandle(_ handle: String) -> Bool {
        let bytes = Array(handle.utf8)
        guard let first = bytes.first, (97...122).contains(first), bytes.count <= 64 else { return false }
        return bytes.allSatisfy {
            (97...122).contains($0) || (48...57).contains($0) || $0 == 46 || $0 == 95 || $0 == 45
        }
    }

    static func validateHandle(_ handle: String) throws {
        guard isValidHandle(handle) else {
            throw CertVaultError(
                .invalidArgument,
                "\(Display.quoted(handle)) is not a valid handle",
                hint:
                    "use lower-case letters a-z, digits, '.', '_' and '-', starting with a letter, at most 64 characters"
            )
        }
    }

    // MARK: Trusted state

    /// The state of the vault as its signed records prove it, with every
    /// way the tables differ, and a rollback against the witness.
    func state(_ db: Database, thorough: Bool = false) throws -> VaultState {
        var state = try VaultState.check(
            db,
            vaultID: vaultID,
            witness: try witness?.seen(vaultID: vaultID),
            thorough: thorough
        )
        // A whole other vault put at this path is a rollback too: it may be
        // one the attacker made, with keys the attacker knows.
        if state.rollback == nil, let seen = try witness?.vault(atPath: path), seen.vaultID != vaultID.hexLower,
            let head = state.head
        {
            state.rollback = Rollback(
                seen: .init(seq: 0, hash: "", seenAt: seen.seenAt),
                head: head,
                reason: "\(path) holds another vault (id \(vaultID.hexLower)) than the one this machine saw there "
                    + "on \(seen.seenAt) (id \(seen.vaultID))"
            )
        }
        return state
    }

    /// What ``checkState()`` found.
    public struct StateReport: Sendable {
        /// The last signed record.
        public var head: AuditHead?
        /// Every way the tables differ from the signed state.
        public var findings: [AuditFinding]
        /// The rollback this machine's witness saw, if any.
        public var rollback: Rollback?
        /// Whether nothing differs and no rollback was seen.
        public var isIntact: Bool { findings.isEmpty && rollback == nil }

        /// A report from its fields, for tests and for callers that build their own.
        public init(head: AuditHead? = nil, findings: [AuditFinding] = [], rollback: Rollback? = nil) {
            self.head = head
            self.findings = findings
            self.rollback = rollback
        }
    }

    /// Checks the tables against the state the last signed record commits
    /// to, the people against their signed records, and the head against
    /// the witness: what every command does before it acts, at the cost of
    /// one pass over the rows and a few signatures. ``verify(expecting:)-9tjmj``
    /// replays the whole log instead.
    public func checkState() throws -> StateReport {
        let state = try store.read { try self.state($0) }
        if state.isIntact, let head = state.head { try remember(head) }
        return StateReport(head: state.head, findings: state.findings, rollback: state.rollback)
    }

    /// Remembers `head` in the witness, if there is one.
    func remember(_ head: AuditHead) throws {
        try witness?.remember(head, vaultID: vaultID)
        try witness?.remember(path: path, vaultID: vaultID)
    }

    /// Runs `body` on a vault that matches its signed state, and remembers
    /// the head it saw.
    /// - Throws: `.tampered` naming what differs, `.rollback`.
    func checkedRead<T>(_ body: (Database, VaultState) throws -> T) throws -> T {
        let (result, head) = try store.read { db -> (T, AuditHead?) in
            let state = try state(db)
            try state.requireIntact()
            return (try body(db, state), state.head)
        }
        if let head { try remember(head) }
        return result
    }

    // MARK: People

    /// Everyone the signed records introduce, in the order they were added.
    /// A row in the people table that no signed record introduces is not
    /// among them (``verify(expecting:)-9tjmj`` names it).
    public func people() throws -> [Person] {
        try store.read { db in
            try PeopleLedger.replay(db, vaultID: vaultID).people.values.sorted { $0.id < $1.id }.map(Person.init)
        }
    }

    /// The person with `handle`, as the signed records state them.
    public func person(_ handle: String) throws -> Person {
        try store.read { db in
            Person(try Self.trustedPerson(handle, ledger: try PeopleLedger.replay(db, vaultID: vaultID), in: db))
        }
    }

    static func trustedPerson(_ handle: String, ledger: PeopleLedger, in db: Database) throws -> TrustedPerson {
        if let p = ledger.person(handle: handle) { return p }
        if try db.row("SELECT 1 FROM people WHERE handle = ?", [handle]) != nil {
            throw CertVaultError(
                .tampered,
                "person \(Display.quoted(handle)) is in the people table, but no signed record introduces them: added by hand",
                remedy: .restoreBackup
            )
        }
        throw CertVaultError(
            .personNotFound,
            "no person \(Display.quoted(handle)) in this vault",
            remedy: .listPeople
        )
    }

    /// The person a command acts as: `handle`, or else the only person who
    /// can unlock the vault.
    public func actor(_ handle: String?) throws -> Person {
        try store.read { db in
            Person(try Self.actor(handle, ledger: try PeopleLedger.replay(db, vaultID: vaultID), in: db))
        }
    }

    static func actor(_ handle: String?, ledger: PeopleLedger, in db: Database) throws -> TrustedPerson {
        if let handle { return try trustedPerson(handle, ledger: ledger, in: db) }
        let unlockers = ledger.people.values.filter { $0.canUnlock && $0.active }.sorted { $0.id < $1.id }
        guard unlockers.count == 1 else {
            throw CertVaultError(
                .actorAmbiguous,
                "several people can unlock this vault (\(unlockers.map(\.handle).joined(separator: ", ")))",
                remedy: .nameActor
            )
        }
        return unlockers[0]
    }

    // MARK: Entries

    /// What `list` shows: the entries that match their signed state, and
    /// every finding about the rest (which are never shown with their
    /// altered values).
    public struct Inventory: Sendable {
        /// The entries that check out, in the order they were added.
        public var entries: [Entry]
        /// Entries whose rows differ from their signed state: id and why.
        public var tampered: [(id: Int64, reason: String)]
        /// Everything that does not check out, including ``tampered``.
        public var findings: [AuditFinding]
        /// The rollback this machine's witness saw, if any.
        public var rollback: Rollback?
        /// Whether every entry checks out and no rollback was seen.
        public var isIntact: Bool { findings.isEmpty && rollback == nil }

        /// An inventory from its fields, for tests and for callers that build their own.
        public init(
            entries: [Entry],
            tampered: [(id: Int64, reason: String)] = [],
            findings: [AuditFinding] = [],
            rollback: Rollback? = nil
        ) {
            self.entries = entries
            self.tampered = tampered
            self.findings = findings
            self.rollback = rollback
        }
    }

    /// Every entry that checks out, and what does not.
    public func inventory() throws -> Inventory {
        let (inventory, head) = try store.read { db -> (Inventory, AuditHead?) in
            let state = try state(db)
            let handles = state.ledger.people.mapValues(\.handle)
            var access: [Int64: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT entry_id, person_id FROM grants ORDER BY person_id") {
                let c = Columns(row, "grant")
                guard let entry = try? c.int("entry_id"), let person = try? c.int("person_id") else { continue }
                access[entry, default: []].append(handles[person] ?? "person \(person)")
            }
            var entries: [Entry] = []
            var tampered: [(Int64, String)] = state.tamperedEntries.sorted { $0.key < $1.key }.map {
                ($0.key, $0.value)
            }
            let rows = try Row.fetchCursor(db, sql: Entry.selectSQL + " ORDER BY id")
            var positions: [String: Int]?
            while let row = try rows.next() {
                if positions == nil { positions = Columns.positions(of: row) }
                let id = (try? Columns(row, "entry", positions: positions).int("id")) ?? 0
                if state.tamperedEntries[id] != nil { continue }
                do {
                    entries.append(
                        try Entry(row: row, handles: handles, access: access[id] ?? [], positions: positions)
                    )
                } catch let error as CertVaultError {
                    tampered.append((id, error.message))
                }
            }
            var findings = state.findings
            if state.findings.isEmpty, let bad = tampered.first {
                findings.append(.init(seq: nil, entryID: bad.0, message: bad.1))
            }
            return (
                Inventory(entries: entries, tampered: tampered, findings: findings, rollback: state.rollback),
                state.isIntact ? state.head : nil
            )
        }
        if let head { try remember(head) }
        return inventory
    }

    /// Every entry, in the order they were added.
    /// - Throws: `.tampered` when any row differs from its signed state
    ///   (``inventory()`` shows the rest), `.rollback`.
    public func entries() throws -> [Entry] {
        let inventory = try inventory()
        if let first = inventory.findings.first {
            throw CertVaultError(
                .tampered,
                "the vault does not match its signed records: \(first)",
                remedy: .restoreBackup
            )
        }
        if let rollback = inventory.rollback { throw rollback.error() }
        return inventory.entries
    }

    /// The entry `ref` names: an alias, an entry id, or a prefix of at least
    /// 8 hex digits of the SHA-1 thumbprint or SHA-256 fingerprint.
    /// - Throws: `.entryNotFound`, or `.ambiguous` listing the candidates;
    ///   `.tampered` or `.rollback` when the vault does not check out.
    public func entry(_ ref: EntryReference) throws -> Entry {
        try checkedRead { db, state in try Self.entry(ref, in: db, state: state) }
    }

    static func entry(_ ref: EntryReference, in db: Database, state: VaultState) throws -> Entry {
        func load(_ where_: String, _ args: StatementArguments) throws -> [Row] {
            try Row.fetchAll(db, sql: Entry.selectSQL + " WHERE " + where_ + " ORDER BY id", arguments: args)
        }
        func byThumbprint(_ text: String) throws -> [Row] {
            let hex = text.replacingOccurrences(of: ":", with: "").uppercased()
            guard hex.count >= 8, Data(hex: hex.count % 2 == 0 ? hex : hex + "0") != nil else { return [] }
            return try load("sha1 LIKE ? OR sha256 LIKE ?", [hex + "%", hex + "%"])
        }
        var rows: [Row]
        switch ref {
        case .id(let id): rows = try load("id = ?", [id.rawValue])
        case .alias(let alias): rows = try load("alias = ?", [alias])
        case .thumbprint(let hex): rows = try byThumbprint(hex)
        case .any(let text):
            rows = try load("alias = ?", [text])
            if rows.isEmpty, let id = Int64(text) { rows = try load("id = ?", [id]) }
            if rows.isEmpty { rows = try byThumbprint(text) }
        }
        guard !rows.isEmpty else {
            throw CertVaultError(
                .entryNotFound,
                "no entry matches \(ref)",
                hint: "name an entry by alias, id, or at least 8 hex digits of its thumbprint"
            )
        }
        let handles = state.ledger.people.mapValues(\.handle)
        let entries = try rows.map { try Entry(row: $0, handles: handles, access: []) }
        guard entries.count == 1 else {
            let names = entries.map { "\($0.alias) (\($0.certificate?.thumbprintSHA1 ?? "no certificate"))" }
            throw CertVaultError(
                .ambiguous,
                "\(ref) matches \(rows.count) entries: \(names.joined(separator: ", "))",
                hint: "give more digits, or the alias"
            )
        }
        return try entry(id: entries[0].id.rawValue, in: db, state: state)
    }

    /// The entry with id `id`, with who holds a grant.
    static func entry(id: Int64, in db: Database, state: VaultState) throws -> Entry {
        guard let row = try Row.fetchOne(db, sql: Entry.selectSQL + " WHERE id = ?", arguments: [id]) else {
            throw CertVaultError(.entryNotFound, "no entry \(id)")
        }
        var access: [String] = []
        for grant in try Row.fetchAll(
            db,
            sql: "SELECT person_id FROM grants WHERE entry_id = ? ORDER BY person_id",
            arguments: [id]
        ) {
            let person = try Columns(grant, "grant of entry \(id)").int("person_id")
            access.append(state.ledger.people[person]?.handle ?? "person \(person)")
        }
        return try Entry(row: row, handles: state.ledger.people.mapValues(\.handle), access: access)
    }

    /// The certificates from `entry` up its issuer links: leaf first.
    public func chain(of entry: Entry) throws -> [CertificateMetadata] {
        try checkedRead { db, _ in try Self.chainDER(entryID: entry.id.rawValue, in: db) }.map {
            try Certificate(derEncoded: $0).metadata()
        }
    }

    /// Everything the entry's certificate says, read from the certificate
    /// itself (adds key usage and extended key usage to what `list` shows).
    public func certificateDetails(of entry: Entry) throws -> CertificateMetadata? {
        guard let der = try checkedRead({ db, _ in try Self.certificateDER(entryID: entry.id.rawValue, in: db) }) else {
            return nil
        }
        return try Certificate(derEncoded: der).metadata()
    }

    static func certificateDER(entryID: Int64, in db: Database) throws -> Data? {
        guard let row = try db.row("SELECT cert_der FROM entries WHERE id = ?", [entryID]) else { return nil }
        return try Columns(row, "entry \(entryID)").optionalBlob("cert_der")
    }

    /// DER of the entry's certificate followed by its issuers (leaf → root).
    static func chainDER(entryID: Int64, in db: Database) throws -> [Data] {
        var out: [Data] = []
        var seen: Set<Int64> = []
        var next: Int64? = entryID
        while let id = next, !seen.contains(id), out.count < 16 {
            seen.insert(id)
            guard let row = try db.row("SELECT cert_der, issuer_entry_id FROM entries WHERE id = ?", [id]) else {
                break
            }
            let c = Columns(row, "entry \(id)")
            guard let der = try c.optionalBlob("cert_der") else { break }
            out.append(der)
            next = try c.optionalInt("issuer_entry_id")
        }
        return out
    }

    // MARK: Audit

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
        /// A filter keeping the records that match every condition given.
        public init(
            actor: String? = nil,
            entry: String? = nil,
            action: String? = nil,
            since: Date? = nil,
            until: Date? = nil
        ) {
            self.actor = actor
            self.entry = entry
            self.action = action
            self.since = since
            self.until = until
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
        try store.read { db in
            let ledger = try PeopleLedger.replay(db, vaultID: vaultID)
            var records: [AuditRecord] = []
            var unreadable: [AuditFinding] = []
            var aliases: [Int64: String] = [:]
            var replay = PeopleLedger()
            let verifier = AuditVerifier(db: db, vaultID: vaultID)
            var previous = AuditChain.zeroHash
            var expected: Int64 = 1
            let rows = try Row.fetchCursor(db, sql: "SELECT \(AuditChain.columns) FROM audit ORDER BY seq")
            while let row = try rows.next() {
                var record: AuditRecord
                do { record = try AuditRecord(row: row) } catch let error as CertVaultError {
                    unreadable.append(.init(seq: nil, message: error.message))
                    continue
                }
                if record.seq != expected {
                    record.problem = "out of place: record \(expected) was expected here"
                } else if record.previousHash != previous {
                    record.problem = "does not follow the record before it: removed, reordered or altered"
                }
                if let problem = verifier.check(record, ledger: &replay) { record.problem = record.problem ?? problem }
                previous = record.hash
                expected = record.seq + 1
                if record.problem == nil, let entry = record.entryID, record.signature != nil,
                    let alias = record.detailObject["alias"] as? String
                {
                    aliases[entry] = alias
                }
                records.append(record)
            }
            let isValid = unreadable.isEmpty && records.allSatisfy { $0.problem == nil }
            var actorID: Int64?
            if let actor = filter.actor { actorID = try Self.trustedPerson(actor, ledger: ledger, in: db).id }
            var entryID: Int64?
            if let ref = filter.entry {
                if let id = Int64(ref), aliases[id] != nil {
                    entryID = id
                } else if let match = aliases.first(where: { $0.value == ref }) {
                    entryID = match.key
                } else {
                    entryID = try Self.entry(.any(ref), in: db, state: try state(db)).id.rawValue
                }
            }
            let since = filter.since.map(Timestamp.format)
            let until = filter.until.map(Timestamp.format)
            let kept = records.filter { r in
                (actorID == nil || r.actorID == actorID) && (entryID == nil || r.entryID == entryID)
                    && (filter.action == nil || r.action == filter.action! || r.action.hasPrefix(filter.action! + "."))
                    && (since == nil || r.at >= since!) && (until == nil || r.at <= until!)
            }.map { r in
                var named = r
                named.actorHandle = r.actorID.flatMap { ledger.people[$0]?.handle }
                named.personHandle = r.personID.flatMap { ledger.people[$0]?.handle }
                named.entryAlias = r.entryID.flatMap { aliases[$0] }
                return named
            }
            return AuditLog(records: kept, unreadable: unreadable, isValid: isValid)
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
        try verify(expecting: expected, cancellation: nil)
    }

    /// ``verify(expecting:)-9tjmj`` off the caller's thread; cancelling the task
    /// stops it with `CancellationError`.
    public func verify(expecting expected: AuditHead? = nil) async throws -> AuditVerification {
        try await Cancellation.run { try self.verify(expecting: expected, cancellation: $0) }
    }

    func verify(expecting expected: AuditHead?, cancellation: Cancellation?) throws -> AuditVerification {
        try store.read { db in
            // A value the check cannot even read is a finding, not a stop.
            let state: VaultState
            do { state = try self.state(db, thorough: true) } catch let error as CertVaultError where error.code != .io
            {
                let ledger = (try? PeopleLedger.replay(db, vaultID: vaultID)) ?? PeopleLedger()
                state = VaultState(
                    ledger: ledger,
                    findings: ledger.findings + [.init(seq: nil, message: error.message)]
                )
            }
            try cancellation?.check()
            return try AuditVerifier(db: db, vaultID: vaultID).verifyAll(
                expecting: expected,
                state: state,
                cancellation: cancellation
            )
        }
    }

    // MARK: Unlocking

    /// Unlocks the vault as `handle` (or the only person who can), running
    /// the KDF once. A wrong passphrase appends an unsigned `unlock.failed`
    /// record and changes nothing else.
    ///
    /// Who the person is, their role and their keys come from the signed
    /// records; their keyslot must be the one those records commit to, so
    /// a damaged or replaced keyslot is reported as such, not as a wrong
    /// passphrase.
    /// - Throws: `.wrongPassphrase` ("wrong passphrase for HANDLE"),
    ///   `.tampered` for a keyslot that is not the one signed.
    public func unlock(handle: String?, passphrase: SecureBytes) throws -> Session {
        let (person, slot, genesisHash) = try store.read { db -> (TrustedPerson, Keyslot, Data) in
            let ledger = try PeopleLedger.replay(db, vaultID: vaultID)
            let person = try Self.actor(handle, ledger: ledger, in: db)
            guard person.active else {
                throw CertVaultError(
                    .personInactive,
                    "\(person.handle) has departed and can no longer unlock this vault"
                )
            }
            guard person.canUnlock else {
                throw CertVaultError(
                    .noAccess,
                    "\(person.handle) has no keyslot in this vault (role \(person.role.rawValue))",
                    hint: "only admins, officers and auditors with keys can unlock"
                )
            }
            guard let digest = try RowDigest.keyslot(db, personID: person.id) else {
                throw CertVaultError(
                    .tampered,
                    "the keyslot of \(person.handle) was deleted",
                    remedy: .restoreBackup
                )
            }
            guard digest == person.keyslotDigest else {
                throw CertVaultError(
                    .tampered,
                    "the keyslot of \(person.handle) was damaged or replaced: it is not the one their signed records commit to",
                    hint: "this is not a wrong passphrase; restore the vault from a backup"
                )
            }
            guard let slot = try Keyslot.load(db, personID: person.id) else {
                throw CertVaultError(.tampered, "the keyslot of \(person.handle) was deleted")
            }
            return (person, slot, try AuditChain.genesisHash(db))
        }
        let ad = Binding.keyslot(vaultID: vaultID, personID: person.id, genesisHash: genesisHash)
        guard let secrets = try slot.open(passphrase: passphrase, associatedData: ad) else {
            do {
                _ = try store.write { db in
                    try AuditChain.append(
                        db,
                        actor: person.id,
                        action: .unlockFailed,
                        person: person.id,
                        details: ["handle": person.handle],
                        signer: nil
                    )
                }
            } catch let error as CertVaultError where error.code == .io || error.code == .readOnly {
                // A read-only vault cannot take the record; the passphrase is still wrong.
            }
            throw CertVaultError(.wrongPassphrase, "wrong passphrase for \(person.handle)")
        }
        return try Session(vault: self, person: person, secrets: secrets)
    }
}
