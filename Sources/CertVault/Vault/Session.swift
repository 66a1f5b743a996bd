import Foundation
import GRDB
import Synchronization

/// One person's unlocked view of a vault: their secret keys are open, so
/// they can decrypt what they were granted, and every change they make is
/// signed by them.
///
/// The key derivation ran once, in ``Vault/unlock(handle:passphrase:)-96qxi``;
/// everything a session does after that is sealed boxes and AEAD.
public final class Session: Sendable {
    /// The vault this session unlocked.
    public let vault: Vault
    /// Who unlocked, as the signed records state them.
    public let person: Person
    /// Opening and sealing entry keys as this person.
    let custody: Custody
    let signSecretKey: SecureBytes
    let signPublicKey: Data
    private let locked = Atomic<Bool>(false)
    /// The passphrase that unlocked, as a keyed hash under a key of this
    /// session's own: enough to refuse it as a file's password, not to
    /// recover it (the passphrase itself is not kept).
    private let passphraseKey: SecureBytes
    private let passphraseTag: SecureBytes?

    init(vault: Vault, person trusted: TrustedPerson, secrets: SecureBytes, passphrase: SecureBytes? = nil) throws {
        guard secrets.count == SealedBox.secretKeyBytes + Signature.secretKeyBytes else {
            throw CertVaultError(.tampered, "the keyslot of \(trusted.handle) holds keys of the wrong size")
        }
        self.vault = vault
        person = Person(trusted)
        let key = SecureBytes(randomCount: 32)
        passphraseKey = key
        passphraseTag = passphrase.map { Digest.keyedBLAKE2b($0, key: key) }
        let boxSecretKey = secrets.slice(0..<SealedBox.secretKeyBytes)
        let boxPublicKey = SealedBox.publicKey(for: boxSecretKey)
        signSecretKey = secrets.slice(SealedBox.secretKeyBytes..<secrets.count)
        signPublicKey = signSecretKey.withUnsafeBytes { Data($0[32..<64]) }
        custody = Custody(
            vaultID: vault.vaultID,
            holderID: trusted.id,
            holderHandle: trusted.handle,
            boxSecretKey: boxSecretKey,
            boxPublicKey: boxPublicKey
        )
        guard trusted.boxPublicKey == boxPublicKey, trusted.signPublicKey == signPublicKey else {
            throw CertVaultError(
                .tampered,
                "the keyslot of \(trusted.handle) holds other keys than the signed records introduce",
                remedy: .verifyLog
            )
        }
    }

    /// Runs `body` as one change by this person: the vault must match its
    /// signed state first (and hold the head this machine saw last), and
    /// the records `body` queues are signed and committed with its rows.
    /// - Parameter quietWitness: return even when the witness could not be
    ///   updated after the commit (for a record that says a failure
    ///   happened, whose caller reports that failure already).
    @discardableResult
    func change<T>(
        acceptingRollback: Bool = false,
        quietWitness: Bool = false,
        _ body: (Change) throws -> T
    ) throws -> T {
        try requireUnlocked()
        FaultPoint.hit("change.before-lock")
        let (result, head, afterCommit) = try vault.store.write {
            db -> (T, AuditHead?, [(CertVaultError?) throws -> Void]) in
            var state = try vault.state(db)
            let rollback = state.rollback
            if acceptingRollback { state.rollback = nil }
            try state.requireIntact()
            guard let me = state.trusted(person.id.rawValue), me.active, me.role == person.role,
                me.signPublicKey == signPublicKey
            else {
                throw CertVaultError(
                    .noAccess,
                    "\(person.handle) may no longer act on this vault (their role or status changed)"
                )
            }
            let change = try Change(db, state: state, actor: person.id.rawValue, signer: signSecretKey)
            change.rollback = acceptingRollback ? rollback : nil
            let result = try body(change)
            let head = try change.commit()
            FaultPoint.hit("change.before-commit")
            return (result, head, change.afterCommit)
        }
        FaultPoint.hit("change.after-commit")
        // The records go to the sinks before the witness moves and before
        // any file is linked; a change that releases no key does not wait
        // for a sink that fails (its records are sent with the next).
        var sinkFailure: CertVaultError?
        if head != nil {
            do { try vault.sendToSinks() } catch {
                let e = error as? CertVaultError ?? CertVaultError(.io, "\(error)")
                sinkFailure = CertVaultError(
                    .auditSink,
                    "the records could not be sent to every audit sink: \(e.message)",
                    hint: e.hint,
                    remedy: e.remedy ?? .syncSinks
                )
            }
        }
        // Past the commit nothing may say "nothing was changed": what fails now is said with the record.
        var witnessFailure: CertVaultError?
        if let head {
            do {
                if acceptingRollback {
                    try vault.witness?.replace(with: head, vaultID: vault.vaultID)
                    try vault.witness?.replace(path: vault.path, vaultID: vault.vaultID)
                } else {
                    try vault.remember(head)
                }
            } catch {
                let e = error as? CertVaultError ?? CertVaultError(.io, "\(error)")
                witnessFailure = CertVaultError(
                    e.code,
                    "this machine's rollback witness could not be updated: \(Self.committedWording(e.message))",
                    hint: e.hint
                )
            }
        }
        let recorded = head.map { "record \($0.seq) was committed" } ?? "the change was committed"
        do {
            // A key is released only once its record is in every sink and in this machine's witness.
            for step in afterCommit { try step(sinkFailure ?? witnessFailure) }
        } catch let error as CertVaultError {
            throw CertVaultError(
                .committed,
                "\(Self.committedWording(error.message)) (\(recorded))",
                hint: error.hint,
                remedy: error.remedy
            )
        }
        if let witnessFailure, !quietWitness {
            throw CertVaultError(.committed, "\(recorded), but \(witnessFailure.message)", hint: witnessFailure.hint)
        }
        return result
    }

    /// Accepts that the vault holds an older log than this machine saw (a
    /// restored backup), or than an audit sink holds, in a signed record
    /// naming the head that was seen and when; afterwards the witness
    /// remembers the new head, and the sinks take the vault's records again.
    /// - Throws: `.invalidArgument` when there is no rollback to accept;
    ///   `.tampered` when the vault does not match its signed records.
    public func acceptRollback() throws -> Rollback {
        try requireRole([.admin, .officer], to: "accept a rollback")
        // Read and accepted in one transaction: the copy accepted is the one checked.
        return try change(acceptingRollback: true) { c in
            guard let seenState = try c.rollback ?? vault.sinkRollback(c.db) else {
                throw CertVaultError(
                    .invalidArgument,
                    "this vault holds every record this machine saw: there is no rollback to accept"
                )
            }
            c.record(
                .rollbackAccepted,
                details: [
                    .seenSeq: .integer(seenState.seen.seq), .seenHash: .text(seenState.seen.hash),
                    .seenAt: .text(seenState.seen.seenAt), .reason: .text(seenState.reason),
                ]
            )
            return seenState
        }
    }

    /// Wipes this person's secret keys from memory now. Every later call on
    /// the session fails with `.closed`; unlock again to go on. A service
    /// locks a session when its user's request is done, instead of waiting
    /// for the last reference to go.
    public func lock() {
        guard !locked.exchange(true, ordering: .sequentiallyConsistent) else { return }
        custody.boxSecretKey.wipe()
        signSecretKey.wipe()
    }

    /// Whether ``lock()`` was called.
    public var isLocked: Bool { locked.load(ordering: .sequentiallyConsistent) }

    /// Whether `secret` is the passphrase this session was unlocked with,
    /// compared in constant time.
    public func isPassphrase(_ secret: SecureBytes) -> Bool {
        guard let passphraseTag else { return false }
        return Digest.keyedBLAKE2b(secret, key: passphraseKey).isEqual(to: passphraseTag)
    }

    /// Refuses a file's password that is the passphrase this session was
    /// unlocked with: typed at the wrong prompt, it would hand a person's
    /// vault passphrase to whoever receives the file.
    func refusePassphrase(asPassword password: SecureBytes?) throws {
        guard let password, isPassphrase(password) else { return }
        throw CertVaultError(
            .invalidArgument,
            "the file's password is \(person.handle)'s vault passphrase: whoever receives the file would learn it",
            hint: "give the file a password of its own (a generated one is safest)"
        )
    }

    /// A storage error's words after a commit, without "nothing was changed".
    static func committedWording(_ message: String) -> String {
        message.replacingOccurrences(of: "; nothing was changed", with: "")
    }

    func requireUnlocked() throws {
        if isLocked {
            throw CertVaultError(.closed, "the session of \(person.handle) was locked", hint: "unlock the vault again")
        }
    }

    func requireRole(_ roles: Set<PersonRole>, to what: String) throws {
        try requireUnlocked()
        guard roles.contains(person.role) else {
            throw CertVaultError(
                .noAccess,
                "\(person.handle) (\(person.role.rawValue)) may not \(what)",
                hint: "this needs the role \(roles.map(\.rawValue).sorted().joined(separator: " or "))"
            )
        }
    }
}
