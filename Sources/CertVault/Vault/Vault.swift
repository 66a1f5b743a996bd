import Foundation
import GRDB
import Synchronization

/// A certvault vault: one SQLite file.
///
/// Opening a vault needs no passphrase: inventory, expiry checks and audits
/// read public data. Anything that touches a private key, or changes the
/// vault, goes through a ``Session`` from ``unlock(handle:passphrase:)-96qxi``.
public final class Vault: Sendable {
    let store: Store
    /// The vault's random 16-byte identity.
    public let vaultID: Data
    /// The path of the vault file, as given when it was opened or created.
    public var path: String { store.path }
    /// Where this machine remembers the last head it saw; nil checks no rollback.
    public let witness: RollbackWitness?
    /// Where this machine says the vault's audit sinks are; nil for none.
    public let sinkConfiguration: AuditSinkConfiguration?
    private let lastWitnessFailure = Mutex<String?>(nil)
    /// What a killed restore or backup had left beside the vault file, and
    /// opening it removed (names only): a front end says so.
    public let removedLeftovers: [String]

    private init(
        store: Store,
        vaultID: Data,
        witness: RollbackWitness?,
        sinks: AuditSinkConfiguration?,
        removedLeftovers: [String] = []
    ) {
        self.store = store
        self.vaultID = vaultID
        self.witness = witness
        self.sinkConfiguration = sinks
        self.removedLeftovers = removedLeftovers
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

    /// Throws `.vaultExists` when anything is at `path` that ``create(at:admin:passphrase:kdf:witness:)-1x05z``
    /// would refuse: to check before asking anyone for a passphrase.
    public static func requireAbsent(at path: String) throws { try Store.requireAbsent(at: path) }

    /// Throws what writing a file at `path` would throw before anything is
    /// asked or done: no such directory, or (without `force`) a file there.
    public static func checkDestination(_ path: String, force: Bool = false) throws {
        _ = try SecureFile.directory(of: path)
        try SecureFile.requireReplaceable(path)
        if !force && FileManager.default.fileExists(atPath: path) {
            throw SecureFile.exists(path)
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
                details[.vaultID] = .text(vaultID.hexLower)
                details[.formatVersion] = .integer(Store.formatVersion)
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
                change.record(.personKeyslot, person: personID, details: [.keyslotDigest: .text(keyslotDigest)])
                return try change.commit()
            }
        } catch {
            Store.removeFiles(path)
            throw error
        }
        let vault = Vault(store: store, vaultID: vaultID, witness: witness, sinks: .standard)
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
    ///   - onWait: told once a wait, with a sentence to show, when a call
    ///     has waited a second for another process's write (a restore or a
    ///     bulk import elsewhere); nil waits in silence.
    ///   - sinks: where this machine says the vault's audit sinks are
    ///     (``AuditSinkConfiguration/standard`` by default); nil for none.
    /// - Throws: `.noVault`, `.notAVault`, `.newerFormat`, `.corruptVault`,
    ///   `.tampered` (schema objects added by hand); the file is left
    ///   untouched.
    public static func open(
        at path: String,
        witness: RollbackWitness? = .standard,
        readOnly: Bool = false,
        busyTimeout: TimeInterval = 60,
        onWait: (@Sendable (String) -> Void)? = nil,
        sinks: AuditSinkConfiguration? = .standard
    ) throws -> Vault {
        let store = try Store.open(at: path, readOnly: readOnly, busyTimeout: busyTimeout, onWait: onWait)
        // What a killed restore or backup left beside the vault (a staged copy holds keyslots).
        let leftovers =
            readOnly
            ? []
            : SecureFile.removeStalePrivateDirectories(in: URL(fileURLWithPath: path).deletingLastPathComponent().path)
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
        return Vault(store: store, vaultID: id, witness: witness, sinks: sinks, removedLeftovers: leftovers)
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

    /// Runs `body` in one read snapshot, with this machine's witness read
    /// *before* it began: a head the witness names was committed before
    /// the witness named it, so it is in the snapshot, and a commit landing
    /// meanwhile is never taken for a rollback.
    func snapshotRead<T>(_ body: (Database, RollbackWitness.Seen?) throws -> T) throws -> T {
        let seen = try witness?.seen(vaultID: vaultID)
        return try store.read { db in
            if FaultPoint.isArmed {
                // For the fault suite: the snapshot taken (a row read), then stopped.
                _ = try Row.fetchOne(db, sql: "SELECT seq FROM audit ORDER BY seq DESC LIMIT 1")
                FaultPoint.hit("read.in-snapshot")
            }
            return try body(db, seen)
        }
    }

    /// The state of the vault as its signed records prove it, with every
    /// way the tables differ, and a rollback against the witness.
    /// - Parameter seen: the witness as read before the snapshot began
    ///   (``snapshotRead(_:)``); nil reads it now, which only a write
    ///   transaction may do (it holds the lock every commit takes).
    func state(
        _ db: Database,
        thorough: Bool = false,
        walked: WalkedLog? = nil,
        seen: RollbackWitness.Seen?? = nil
    ) throws -> VaultState {
        var state = try VaultState.check(
            db,
            vaultID: vaultID,
            witness: try seen ?? witness?.seen(vaultID: vaultID),
            thorough: thorough,
            walked: walked
        )
        if state.rollback == nil, let head = state.head { state.rollback = try otherVault(head: head) }
        return state
    }

    /// The rollback ``state(_:thorough:walked:)`` would find, without
    /// checking the tables: for `audit log`, which checks each record itself.
    func rollback(_ db: Database, seen: RollbackWitness.Seen?) throws -> Rollback? {
        guard let row = try AuditChain.lastSignedRow(db) else { return nil }
        let head: AuditHead
        do {
            let last = try AuditRecord(row: row)
            head = AuditHead(seq: last.seq, hash: last.hash)
        } catch let error as CertVaultError where error.code == .corruptVault {
            // A last record that cannot be read still has a number and a hash to hold against the witness.
            let c = Columns(row, "audit record")
            guard let seq = try? c.int("seq"), let hash = try? c.blob("hash") else { throw error }
            head = AuditHead(seq: seq, hash: hash)
        }
        if let seen, let rollback = try Rollback.detect(db, seen: seen, head: head) {
            return rollback
        }
        return try otherVault(head: head)
    }

    /// A whole other vault put at this path is a rollback too: it may be
    /// one the attacker made, with keys the attacker knows.
    private func otherVault(head: AuditHead) throws -> Rollback? {
        guard let seen = try witness?.vault(atPath: path), seen.vaultID != vaultID.hexLower else { return nil }
        return Rollback(
            seen: .init(seq: 0, hash: "", seenAt: seen.seenAt),
            head: head,
            reason: "\(path) holds another vault (id \(vaultID.hexLower)) than the one this machine saw there "
                + "on \(seen.seenAt) (id \(seen.vaultID))"
        )
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
        let state = try snapshotRead { try self.state($0, seen: $1) }
        if state.isIntact, let head = state.head { rememberAfterRead(head) }
        return StateReport(head: state.head, findings: state.findings, rollback: state.rollback)
    }

    /// Remembers `head` in the witness, if there is one.
    func remember(_ head: AuditHead) throws {
        try witness?.remember(head, vaultID: vaultID)
        try witness?.remember(path: path, vaultID: vaultID)
    }

    /// Remembers `head` after a read: a witness that cannot be written (a
    /// full or read-only state directory) does not fail what only read;
    /// it is kept for ``witnessWarning``.
    func rememberAfterRead(_ head: AuditHead) {
        do { try remember(head) } catch {
            let message = (error as? CertVaultError)?.message ?? "\(error)"
            lastWitnessFailure.withLock {
                $0 = "this machine's rollback witness could not be updated: \(Session.committedWording(message))"
            }
        }
    }

    /// Why the rollback witness could not be updated after a read, if it
    /// could not: the read itself stands, but this machine will not know
    /// the head it saw. A front end shows it as a warning.
    public var witnessWarning: String? { lastWitnessFailure.withLock { $0 } }

    /// Runs `body` on a vault that matches its signed state, and remembers
    /// the head it saw.
    /// - Throws: `.tampered` naming what differs, `.rollback`.
    func checkedRead<T>(_ body: (Database, VaultState) throws -> T) throws -> T {
        let (result, head) = try snapshotRead { db, seen -> (T, AuditHead?) in
            let state = try state(db, seen: seen)
            try state.requireIntact()
            return (try body(db, state), state.head)
        }
        if let head { rememberAfterRead(head) }
        return result
    }
}
