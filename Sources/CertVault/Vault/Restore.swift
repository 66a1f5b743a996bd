import Foundation
import GRDB

/// What ``Vault/restore(backup:to:handle:passphrase:overDamaged:acceptFork:ignoreCurrentLog:witness:force:onWait:)`` did.
public struct Restoration: Sendable {
    /// The restored vault, opened.
    public var vault: Vault
    /// The signed records the replaced vault held after the last record the
    /// two logs share, read from its log (each checked and named as `audit
    /// log` shows it), whether its rows checked out or not: what the restore
    /// undid. A departure, a role change, a revocation or a retirement among
    /// them is undone with the backup; ``Session/reapply(_:sharedSeq:)``
    /// makes them again. Nil when its log could not be read at all: then
    /// nobody can say what was undone.
    public var undone: [AuditRecord]?
    /// The signed records the backup holds that the replaced vault did not:
    /// a branch this machine left, or never saw. Taken in only with
    /// `acceptFork`.
    public var branch: [AuditRecord]
    /// The last record both logs hold (0 when they share none but the file).
    public var sharedSeq: Int64 = 0
    /// Whether the replaced vault's own log could not be read and was
    /// passed over on purpose (`ignoreCurrentLog`).
    public var ignoredCurrentLog = false
    /// The rollback the restore accepted, in the signed record it made in
    /// the restored vault; nil when this machine had seen nothing newer.
    public var accepted: Rollback?
    /// The decisions of ``undone`` the restore made again in the restored
    /// vault before it was put in place (``Session/reapply(_:sharedSeq:)``).
    public var reapplied: [Session.Reapplied] = []

    /// What survives a restore: each kind of signed record a restore can
    /// undo, whether the restore makes it again in the restored vault
    /// before it is put in place, and how. docs/security.md holds the same
    /// table; every row has a test.
    public static let survival: [(action: AuditAction, madeAgain: Bool, how: String)] = [
        (.personDepart, true, "the person departs again, with the same reason; their keys are marked for rotation"),
        (.personRole, true, "the person takes the role the record gave"),
        (.entryUngrant, true, "the same entry is ungranted from the same person again"),
        (
            .entryRevoke, true,
            "the same entry is revoked again, with the same reason (its key destroyed again if it was)"
        ),
        (.entryRetire, true, "the same entry is retired again"),
        (.policySet, true, "the setting takes the value the record gave (require-sink included)"),
        (
            .personKeyslot, false,
            "not made again: a new passphrase is sealed by its owner; the old one opens the restored vault, so the owner sets it again (named in the output)"
        ),
    ]
}

extension Vault {
    /// Puts a backup in place of the vault at `path`.
    ///
    /// The backup is verified first (its whole log and every row, read-only)
    /// and must be a copy of the same vault (same vault id). The current file
    /// is kept as `PATH.before-restore`; the backup is copied beside the
    /// vault and renamed into place, so a crash leaves either the old vault
    /// or the restored one. The restored vault holds an older log than this
    /// machine saw: nothing acts on it until someone accepts that with
    /// ``Session/acceptRollback()`` (the CLI's `restore` does so at once,
    /// signed by whoever restored it).
    ///
    /// Before anything is replaced, the person restoring proves to be an
    /// active admin of both: of the vault as it is (which must check out,
    /// against this machine's witness too, unless `overDamaged`) and of the
    /// backup (so that they can accept the rollback and make again what it
    /// undoes). A backup holding a record signed by someone the vault as it
    /// is has departed is refused: that is a copy a departed person kept
    /// and went on writing to.
    /// - Throws: `.verificationFailed` when the backup does not verify,
    ///   `.invalidArgument` when it is another vault's, `.fileExists` when
    ///   `PATH.before-restore` exists and `force` is not given; `.tampered`
    ///   or `.rollback` when the vault does not check out and `overDamaged`
    ///   is not given; `.noAccess`, `.wrongPassphrase` or `.personInactive`
    ///   for someone who may not restore it.
    ///
    /// What is taken in is decided from the two signed logs, never from
    /// either file's tables (design rule 9), whether the vault as it is
    /// checks out or not: its log is read on its own (each record's hash,
    /// link and signature), and the backup's *branch* is its signed records
    /// after the last record both hold. A branch record signed by someone
    /// the current log has departed, or whose role there may no longer sign
    /// that action, is refused, whatever is given; any other branch is
    /// taken in only with `acceptFork`, by an admin of the current log.
    /// A current log that cannot be read refuses the restore unless
    /// `ignoreCurrentLog`. Both choices are recorded by
    /// ``Session/acceptRestore(_:)``.
    ///
    /// - Parameters:
    ///   - backup: the backup file to put in place.
    ///   - path: the vault to replace.
    ///   - handle: who restores (an active admin of both), or nil for the
    ///     one person who can.
    ///   - passphrase: their passphrase.
    ///   - overDamaged: restore over a vault that does not check out.
    ///   - acceptFork: take in a branch the backup holds (recorded).
    ///   - ignoreCurrentLog: restore although the vault's own log cannot be
    ///     read (recorded).
    ///   - witness: this machine's rollback witness; nil for none.
    ///   - force: replace an existing `PATH.before-restore`.
    ///   - onWait: told once, with a sentence to show, when the restore has
    ///     waited a second for another process's write to the vault.
    public static func restore(
        backup: String,
        to path: String,
        handle: String?,
        passphrase: SecureBytes,
        overDamaged: Bool = false,
        acceptFork: Bool = false,
        ignoreCurrentLog: Bool = false,
        witness: RollbackWitness? = .standard,
        force: Bool = false,
        onWait: (@Sendable (String) -> Void)? = nil
    ) throws -> Restoration {
        // A vault reached through a link is restored where it really is.
        let path = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard FileManager.default.fileExists(atPath: backup) else {
            throw CertVaultError(.invalidArgument, "\(backup) is missing, not a backup")
        }
        if let kind = SecureFile.notRegular(backup) {
            throw CertVaultError(.invalidArgument, "\(backup) is \(kind), not a backup")
        }
        // The bytes are copied beside the vault first, and that copy is what
        // is verified and put in place: the backup cannot change in between.
        let staged = SecureFile.temporaryName(beside: path)
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: backup))
            try SecureFile.write(data, to: staged, force: false)
        } catch let error as CertVaultError {
            throw error
        } catch {
            throw CertVaultError(.io, "cannot read the backup \(backup): \(error.localizedDescription)")
        }
        func discard() { Store.removeFiles(staged) }
        let copy: Vault
        let verification: AuditVerification
        do {
            copy = try Vault.open(at: staged, witness: nil, readOnly: true)
            verification = try copy.verify()
            try copy.close()
            for suffix in ["-wal", "-shm"] { unlink(staged + suffix) }
        } catch let error as CertVaultError {
            discard()
            // Named by the backup, not by the copy made of it.
            throw CertVaultError(
                error.code,
                "the backup \(backup) cannot be restored: \(error.message.replacingOccurrences(of: staged, with: backup))"
            )
        }
        guard verification.isValid else {
            discard()
            throw CertVaultError(
                .verificationFailed,
                "the backup \(backup) does not verify: \(verification.findings.first?.description ?? "empty log"); the vault was left as it was"
            )
        }
        let current: Vault
        var undone: [AuditRecord]?
        var branch: [AuditRecord] = []
        var shared: Int64 = 0
        var ignoredLog = false
        var decidedHead: AuditHead?
        do {
            current = try Vault.open(at: path, witness: witness, onWait: onWait)
            guard current.vaultID == copy.vaultID else {
                try? current.close()
                throw CertVaultError(
                    .invalidArgument,
                    "\(backup) is a backup of another vault (id \(copy.vaultID.hexLower), not \(current.vaultID.hexLower))"
                )
            }
            // The vault as it is must check out (this machine's witness too): else restoring
            // over it is said on purpose, and what it holds is read from its signed log alone.
            let state = try? current.snapshotRead { try current.state($0, seen: $1) }
            let intact = state.map { $0.isIntact && $0.rollback == nil } ?? false
            if !intact && !overDamaged {
                throw CertVaultError(
                    state?.rollback != nil ? .rollback : .tampered,
                    "the vault does not check out\(state?.rollback.map { ": rolled back (\($0.reason))" } ?? ""): restoring over it replaces what it holds",
                    hint: "restore over it only on purpose (its signed log is still read, and a copy of it is kept)"
                )
            }
            // Its log, read on its own: each record's hash, link and signature. The
            // people it ends with decide who may restore and whose branch is refused.
            decidedHead = try? current.auditHead()
            let log = try? current.auditLog()
            let ledger = try? current.store.read { db in try PeopleLedger.replay(db, vaultID: current.vaultID) }
            let readable = log.map { $0.isValid && $0.unreadable.isEmpty } ?? false
            if !readable || ledger == nil {
                guard ignoreCurrentLog else {
                    throw CertVaultError(
                        .verificationFailed,
                        "the vault's own audit log cannot be read\(log.flatMap { $0.records.first { $0.problem != nil } }.map { " (record \($0.seq): \($0.problem!))" } ?? ""): who departed or lost a role since the backup cannot be known",
                        remedy: .ignoreCurrentLog
                    )
                }
                ignoredLog = true
            }
            if intact {
                // Who restores is an active admin of the vault as it is; a wrong
                // passphrase, or a departed person's attempt, is recorded there.
                let here = try current.unlock(handle: handle, passphrase: passphrase)
                defer { here.lock() }
                guard here.person.role == .admin else {
                    throw CertVaultError(
                        .noAccess,
                        "only an admin may restore the vault; \(here.person.handle) is \(here.person.role.rawValue) in it"
                    )
                }
            }
            let staging = try Vault.open(at: staged, witness: nil, readOnly: true)
            defer {
                try? staging.close()
                for suffix in ["-wal", "-shm"] { unlink(staged + suffix) }
            }
            // Who restores is an admin of the backup (to accept it and make again what it
            // undoes) and, by the same secret keys, an active admin of the current log.
            let session: Session
            do {
                session = try staging.unlock(handle: handle, passphrase: passphrase)
            } catch let error as CertVaultError {
                throw CertVaultError(
                    error.code,
                    "the backup \(backup) cannot be restored by whoever acts: \(error.message)",
                    hint:
                        "an admin of the vault who was an admin when the backup was made restores it, with the passphrase they had then"
                )
            }
            defer { session.lock() }
            guard session.person.role == .admin else {
                throw CertVaultError(
                    .noAccess,
                    "the backup \(backup) cannot be restored by whoever acts: only an admin may restore the vault; \(session.person.handle) is \(session.person.role.rawValue) in the backup"
                )
            }
            // With the log passed over, what it still says is believed where it says
            // no (departed, another role), never where it is silent.
            if let ledger {
                let me = ledger.people[session.person.id.rawValue].flatMap {
                    $0.signPublicKey == session.signPublicKey ? $0 : nil
                }
                if me == nil && !ignoredLog {
                    throw CertVaultError(
                        .noAccess,
                        "\(session.person.handle) is not, with these keys, a person of the vault as its log stands; only its admins restore it"
                    )
                }
                if let me, !me.active || me.role != .admin {
                    throw CertVaultError(
                        .noAccess,
                        "only an admin may restore the vault; \(me.handle) is \(me.active ? me.role.rawValue : "departed") in it"
                    )
                }
            }
            let kept = try staging.auditLog().records
            if let log {
                // The last record both hold: a hash commits to every record before it.
                let hashes = Dictionary(log.records.map { ($0.seq, $0.hash) }, uniquingKeysWith: { a, _ in a })
                shared = kept.last(where: { hashes[$0.seq] == $0.hash })?.seq ?? 0
                undone = log.records.filter { $0.seq > shared && $0.signature != nil }
                branch = kept.filter { $0.seq > shared && $0.signature != nil }
                for record in branch {
                    guard let actor = record.actorRow, let signer = ledger?.people[actor] else { continue }
                    let action = AuditAction(rawValue: record.action)
                    if !signer.active || !(action?.signers.contains(signer.role) ?? false) {
                        throw CertVaultError(
                            .verificationFailed,
                            "the backup \(backup) holds record \(record.seq) (\(record.action)), which this vault does not, signed by \(signer.handle), who \(signer.active ? "is \(signer.role.rawValue) in this vault and may no longer sign it: a copy kept from before that change and written to since" : "has departed from this vault: it is a copy a departed person went on writing to"); the vault was left as it was"
                        )
                    }
                }
            } else {
                branch = kept.filter { $0.signature != nil }
            }
            if !branch.isEmpty && !acceptFork && !ignoredLog {
                throw CertVaultError(
                    .verificationFailed,
                    "the backup \(backup) holds \(branch.count) signed record\(branch.count == 1 ? "" : "s") the vault does not, after record \(shared) (a branch: \(branch.prefix(3).map { "\($0.seq) \($0.action)" }.joined(separator: ", "))\(branch.count > 3 ? ", …" : "")); the vault was left as it was",
                    remedy: .acceptFork
                )
            }
        } catch {
            discard()
            throw error
        }
        // The restored state is built whole in the staged file: the backup, the
        // acceptance, and every decision of the current log that survives a
        // restore, made again — verified before anything is swapped.
        // The head whose log decided what is undone and made again: under the
        // lock it must still be the head, or a change (a departure) made
        // meanwhile would be lost with the swap.
        let headBefore = decidedHead
        let seen = try? witness?.seen(vaultID: current.vaultID)
        var restoration = Restoration(
            vault: current,
            undone: undone,
            branch: branch,
            sharedSeq: shared,
            ignoredCurrentLog: ignoredLog
        )
        do {
            let built = try Vault.open(at: staged, witness: nil, sinks: nil)
            defer { try? built.close() }
            let session = try built.unlock(handle: handle, passphrase: passphrase)
            defer { session.lock() }
            restoration.accepted = try session.acceptRestore(
                restoration,
                replacing: headBefore,
                seen: seen ?? nil
            )
            if let undone {
                restoration.reapplied = try session.reapply(undone, sharedSeq: shared)
                // A decision the current log proves and the backup cannot take: nothing is swapped.
                // One whose record does not verify proves nothing; it is named to make by hand.
                let proven = Set(undone.filter { $0.problem == nil }.map(\.seq))
                if let failed = restoration.reapplied.first(where: { !$0.done && proven.contains($0.undoneSeq) }) {
                    throw CertVaultError(
                        .verificationFailed,
                        "record \(failed.undoneSeq) (\(failed.action)) of the vault cannot be made again in the backup: \(failed.summary); nothing was restored"
                    )
                }
            }
            let check = try built.verify()
            guard check.isValid else {
                throw CertVaultError(
                    .verificationFailed,
                    "the restored vault does not verify (\(check.findings.first?.description ?? "?")); nothing was restored"
                )
            }
            try built.store.truncateLog()
        } catch {
            discard()
            throw error
        }
        // The staged copy's own (emptied) log names go: the file is renamed, they would stay behind.
        for suffix in ["-wal", "-shm"] { unlink(staged + suffix) }
        FaultPoint.hit("restore.built")
        // The swap, under the vault's write lock: no process commits into the
        // old file meanwhile, and one that waited finds it replaced. The old
        // file keeps its name `before-restore` by a hard link made first, so
        // there is never a moment without a vault.
        let kept = path + ".before-restore"
        var attempted = false
        func swap() throws {
            attempted = true
            // SQLite pairs a `-wal` with the path, not the file: the old file's must be empty
            // (folded in below) when the new file takes the name, or the new one would read it.
            var wal = stat()
            if stat(path + "-wal", &wal) == 0, wal.st_size > 0 {
                throw CertVaultError(
                    .io,
                    "another certvault process wrote to \(path) during the restore; nothing was restored",
                    hint: "stop every other certvault process on this vault, then restore again"
                )
            }
            var keptInfo = stat()
            var pathInfo = stat()
            if lstat(kept, &keptInfo) == 0 {
                // One left by a restore cut off before its swap names this very file.
                let ours =
                    stat(path, &pathInfo) == 0 && keptInfo.st_ino == pathInfo.st_ino
                    && keptInfo.st_dev == pathInfo.st_dev
                guard force || ours else { throw SecureFile.exists(kept) }
                Store.removeFiles(kept)
            }
            guard link(path, kept) == 0 else {
                throw SecureFile.posixError("cannot keep the current vault as \(kept)", path: path)
            }
            FaultPoint.hit("restore.linked")
            guard rename(staged, path) == 0 else {
                let e = errno
                unlink(kept)
                throw SecureFile.posixError("cannot put the backup in place of \(path)", errno: e, path: path)
            }
            // The old file's (empty) log and index go with it: the new file starts its own.
            for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
            SecureFile.syncDirectory(of: path)
        }
        do {
            current.store.keepLogNameOnClose()
            do { try current.store.truncateLog() } catch  where !overDamaged {
                throw CertVaultError(
                    .io,
                    "cannot fold the vault's write-ahead log into it (another process is using the vault?); nothing was restored",
                    hint: "stop every other certvault process on this vault, then restore again"
                )
            }
            do {
                try current.store.write { db in
                    let now = try AuditChain.head(db)
                    if let decided = headBefore, now != decided {
                        throw CertVaultError(
                            .io,
                            "record \(now?.seq ?? 0) was committed to \(path) while the restore was being prepared; nothing was restored",
                            hint: "stop every other certvault process on this vault, then restore again"
                        )
                    }
                    try swap()
                }
            } catch  where !attempted && overDamaged {
                // A vault too damaged to lock is swapped without its lock.
                try swap()
            }
        } catch {
            discard()
            try? current.close()
            throw error
        }
        try? current.close()
        FaultPoint.hit("restore.swapped")
        let restored = try Vault.open(at: path, witness: witness)
        if let head = try restored.auditHead() {
            do {
                try witness?.replace(with: head, vaultID: restored.vaultID)
                try witness?.replace(path: path, vaultID: restored.vaultID)
            } catch {
                let e = error as? CertVaultError ?? CertVaultError(.io, "\(error)")
                throw CertVaultError(
                    .committed,
                    "the backup was put in place of \(path) (record \(head.seq) was committed; the replaced vault is \(kept)), but this machine's rollback witness could not be updated: \(Session.committedWording(e.message))",
                    hint: e.hint
                )
            }
        }
        restoration.vault = restored
        return restoration
    }
}

extension Session {
    /// What ``reapply(_:sharedSeq:)`` made again, or could not.
    public struct Reapplied: Sendable {
        /// The undone record, by its number in the replaced vault.
        public var undoneSeq: Int64
        public var action: String
        /// What was done, or why it could not be.
        public var summary: String
        /// Whether it was made again.
        public var done: Bool
    }

    /// Makes again the security decisions a restore undid (``Restoration/undone``),
    /// each as the replaced vault's valid record made it: a departure (the
    /// person, active in the restored vault, departs again with the same
    /// reason), a role change (the person takes the role it gave), a revocation (the same entry, as its records name it, with
    /// the same reason, its key destroyed again if it was) and a retirement.
    /// Admins only. What cannot be made again is said, not thrown.
    /// - Parameters:
    ///   - undone: the records the restore undid (``Restoration/undone``).
    ///   - sharedSeq: the last record the two logs shared
    ///     (``Restoration/sharedSeq``): an entry a record names is the same
    ///     entry in the restored vault when a signed record up to there made
    ///     it, whatever it has been renamed since. Without it, the entry must
    ///     also still have the alias the record names.
    public func reapply(_ undone: [AuditRecord], sharedSeq: Int64? = nil) throws -> [Reapplied] {
        try requireRole([.admin], to: "make again what a restore undid")
        var out: [Reapplied] = []
        let decisions = Set(Restoration.survival.filter { $0.madeAgain }.map(\.action))
        // Who someone is first (a departure, a role), then what they hold: a role change
        // records its ungrants before itself, and an admin cannot be ungranted.
        let people: Set<AuditAction> = [.personDepart, .personRole]
        let ordered =
            undone.filter { $0.kind.map(people.contains) ?? false }
            + undone.filter { !($0.kind.map(people.contains) ?? false) }
        for record in ordered {
            if let problem = record.problem {
                // A decision whose record does not verify is not made from it, and said so.
                if let kind = record.kind, decisions.contains(kind) {
                    out.append(
                        .init(
                            undoneSeq: record.seq,
                            action: record.action,
                            summary: "its record does not verify (\(problem)): make it again by hand if it holds",
                            done: false
                        )
                    )
                }
                continue
            }
            let note = "re-applied: a restore undid record \(record.seq) of the replaced vault"
            func attempt(_ body: () throws -> String?) {
                do {
                    if let summary = try body() {
                        out.append(.init(undoneSeq: record.seq, action: record.action, summary: summary, done: true))
                    }
                } catch let error as CertVaultError {
                    out.append(.init(undoneSeq: record.seq, action: record.action, summary: error.message, done: false))
                } catch {
                    out.append(.init(undoneSeq: record.seq, action: record.action, summary: "\(error)", done: false))
                }
            }
            // The same entry: the id the record names, made by a record both logs share
            // (a rename since changes nothing), or else under the alias its records gave it.
            func sameEntry() throws -> Entry? {
                guard let id = record.entryRow, let entry = try? vault.entry(.id(Entry.ID(id))) else { return nil }
                if let sharedSeq {
                    let made = try vault.store.read { db in
                        try Bool.fetchOne(
                            db,
                            sql: """
                                SELECT EXISTS (SELECT 1 FROM audit WHERE entry_id = ? AND seq <= ? AND signature IS NOT NULL
                                AND action IN ('entry.import', 'entry.create', 'entry.request'))
                                """,
                            arguments: [id, sharedSeq]
                        )
                    }
                    return made == true ? entry : nil
                }
                return entry.alias == record.entryAlias ? entry : nil
            }
            let details = record.fields
            switch record.kind {
            case .personDepart?:
                attempt {
                    guard let handle = details.handle,
                        (try? vault.actor(handle))?.status == .active
                    else { return nil }
                    let reason = details.reason ?? "departed"
                    let plan = try depart(handle, reason: "\(reason) (\(note))")
                    return
                        "\(handle) departed again; \(plan.items.count) entries they could reach are marked for rotation"
                }
            case .personRole?:
                attempt {
                    guard let handle = details.handle, let role = details.role,
                        let person = try? vault.actor(handle), person.status == .active, person.role != role
                    else { return nil }
                    _ = try setRole(of: handle, to: role)
                    return "\(handle) is \(role.rawValue) again (was \(person.role.rawValue) in the backup)"
                }
            case .entryRevoke?:
                attempt {
                    guard let entry = try sameEntry(), entry.status != .revoked else { return nil }
                    let reason =
                        details.reason.flatMap(RevocationReason.init(rawValue:))
                        ?? .unspecified
                    let destroy = details.bool(.keyDestroyed) ?? false
                    _ = try revoke(.id(entry.id), reason: reason, destroyKey: destroy)
                    return "\(entry.alias) revoked again (\(reason.rawValue)\(destroy ? ", key destroyed" : ""))"
                }
            case .entryRetire?:
                attempt {
                    guard let entry = try sameEntry(), entry.retiredAt == nil,
                        entry.status == .superseded || entry.status == .revoked
                    else { return nil }
                    _ = try retire(.id(entry.id))
                    return "\(entry.alias) retired again"
                }
            case .entryUngrant?:
                attempt {
                    guard let entry = try sameEntry(), let from = details.string(.from),
                        entry.access.contains(from)
                    else { return nil }
                    _ = try ungrant(.id(entry.id), from: from)
                    return "\(entry.alias) ungranted from \(from) again"
                }
            case .policySet?:
                attempt {
                    guard let key = details.string(.key).flatMap(PolicyKey.init(rawValue:)),
                        let value = details.string(.value),
                        try vault.policy().entries.first(where: { $0.key == key })?.value != value
                    else { return nil }
                    _ = try setPolicy(key, to: value)
                    return "policy \(key.rawValue) = \(key.summary(of: value)) again"
                }
            default: break
            }
        }
        return out
    }
}

extension Session {
    /// Accepts a restored vault in one signed record (`vault.rollback-accepted`):
    /// the head this machine saw, if the restore rolled it back, the last
    /// record both logs shared, the branch taken in (with `acceptFork`) and
    /// whether the replaced vault's log was passed over. Admins only.
    @discardableResult
    public func acceptRestore(_ restoration: Restoration) throws -> Rollback? {
        try acceptRestore(restoration, replacing: nil, seen: nil)
    }

    /// ``acceptRestore(_:)`` in the staged copy of a restore, before it is
    /// put in place: the record names the head this machine saw (else the
    /// replaced vault's head) as the one accepted, so that a restore cut off
    /// after its swap and before the witness moved is still no rollback.
    func acceptRestore(
        _ restoration: Restoration,
        replacing replaced: AuditHead?,
        seen witnessed: RollbackWitness.Seen?
    ) throws -> Rollback? {
        try requireRole([.admin], to: "accept a restored vault")
        return try change(acceptingRollback: true) { c in
            var details: AuditDetails = [
                .restore: .bool(true), .sharedSeq: .integer(restoration.sharedSeq),
                .branch: .integers(restoration.branch.map(\.seq)),
                .currentLogIgnored: .bool(restoration.ignoredCurrentLog),
            ]
            let head = try AuditChain.head(c.db)
            var rollback = c.rollback
            if rollback == nil, let head,
                let seen = witnessed
                    ?? replaced.map({
                        RollbackWitness.Seen(seq: $0.seq, hash: $0.hash.hexLower, seenAt: Timestamp.now())
                    })
            {
                // What this machine saw (else the replaced vault's head), held against the backup's log.
                rollback = try Rollback.detect(c.db, seen: seen, head: head)
            }
            if let replaced {
                details[.replacedSeq] = .integer(replaced.seq)
                details[.replacedHash] = .text(replaced.hash.hexLower)
            }
            if let seen = rollback {
                details[.seenSeq] = .integer(seen.seen.seq)
                details[.seenHash] = .text(seen.seen.hash)
                details[.seenAt] = .text(seen.seen.seenAt)
                details[.reason] = .text(seen.reason)
            }
            c.record(.rollbackAccepted, details: details)
            return rollback
        }
    }
}
