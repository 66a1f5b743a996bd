import Foundation
import GRDB

/// What ``Vault/restore(backup:to:handle:passphrase:overDamaged:acceptFork:ignoreCurrentLog:witness:force:)`` did.
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
    public static func restore(
        backup: String,
        to path: String,
        handle: String?,
        passphrase: SecureBytes,
        overDamaged: Bool = false,
        acceptFork: Bool = false,
        ignoreCurrentLog: Bool = false,
        witness: RollbackWitness? = .standard,
        force: Bool = false
    ) throws -> Restoration {
        // A vault reached through a link is restored where it really is.
        let path = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: backup, isDirectory: &isDir), !isDir.boolValue else {
            throw CertVaultError(
                .invalidArgument,
                "\(backup) is \(isDir.boolValue ? "a directory" : "missing"), not a backup"
            )
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
        do {
            current = try Vault.open(at: path, witness: witness)
            guard current.vaultID == copy.vaultID else {
                try? current.close()
                throw CertVaultError(
                    .invalidArgument,
                    "\(backup) is a backup of another vault (id \(copy.vaultID.hexLower), not \(current.vaultID.hexLower))"
                )
            }
            // The vault as it is must check out (this machine's witness too): else restoring
            // over it is said on purpose, and what it holds is read from its signed log alone.
            let state = try? current.store.read { try current.state($0) }
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
                let me = ledger.people[session.person.id].flatMap {
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
                    guard let actor = record.actorID, let signer = ledger?.people[actor] else { continue }
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
        try current.store.truncateLog()
        let headBefore = try current.auditHead()
        try current.close()
        let kept = path + ".before-restore"
        if FileManager.default.fileExists(atPath: kept) {
            guard force else {
                discard()
                throw SecureFile.exists(kept)
            }
            Store.removeFiles(kept)
        }
        guard rename(path, kept) == 0 else {
            let e = errno
            discard()
            throw SecureFile.posixError("cannot keep the current vault as \(kept)", errno: e, path: path)
        }
        for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
        guard rename(staged, path) == 0 else {
            let e = errno
            _ = rename(kept, path)
            discard()
            throw SecureFile.posixError("cannot put the backup in place of \(path)", errno: e, path: path)
        }
        SecureFile.syncDirectory(of: path)
        // Another process may have written to the old file in between (it
        // had it open): then nothing is restored, and nothing it wrote is lost.
        let after = try? Vault.open(at: kept, witness: nil, readOnly: true)
        let headAfter = try? after?.auditHead()
        try? after?.close()
        for suffix in ["-wal", "-shm"] { unlink(kept + suffix) }
        if headAfter != headBefore {
            for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
            guard rename(kept, path) == 0 else {
                throw SecureFile.posixError("cannot put \(kept) back in place of \(path)", path: path)
            }
            throw CertVaultError(
                .io,
                "another certvault process wrote to \(path) during the restore; nothing was restored",
                hint: "stop every other certvault process on this vault, then restore again"
            )
        }
        return Restoration(
            vault: try Vault.open(at: path, witness: witness),
            undone: undone,
            branch: branch,
            sharedSeq: shared,
            ignoredCurrentLog: ignoredLog
        )
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
        let decisions: Set<AuditAction> = [.personDepart, .personRole, .entryRevoke, .entryRetire]
        for record in undone {
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
                guard let id = record.entryID, let entry = try? vault.entry(.id(Entry.ID(id))) else { return nil }
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
            switch record.kind {
            case .personDepart?:
                attempt {
                    guard let handle = record.detailObject["handle"] as? String,
                        (try? vault.actor(handle))?.status == .active
                    else { return nil }
                    let reason = (record.detailObject["reason"] as? String) ?? "departed"
                    let plan = try depart(handle, reason: "\(reason) (\(note))")
                    return
                        "\(handle) departed again; \(plan.items.count) entries they could reach are marked for rotation"
                }
            case .personRole?:
                attempt {
                    guard let handle = record.detailObject["handle"] as? String,
                        let role = (record.detailObject["role"] as? String).flatMap(PersonRole.init(rawValue:)),
                        let person = try? vault.actor(handle), person.status == .active, person.role != role
                    else { return nil }
                    _ = try setRole(of: handle, to: role)
                    return "\(handle) is \(role.rawValue) again (was \(person.role.rawValue) in the backup)"
                }
            case .entryRevoke?:
                attempt {
                    guard let entry = try sameEntry(), entry.status != .revoked else { return nil }
                    let reason =
                        (record.detailObject["reason"] as? String).flatMap(RevocationReason.init(rawValue:))
                        ?? .unspecified
                    let destroy = record.detailObject["key_destroyed"] as? Bool ?? false
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
        try requireRole([.admin], to: "accept a restored vault")
        return try change(acceptingRollback: true) { c in
            var details: [String: Any] = [
                "restore": true, "shared_seq": restoration.sharedSeq,
                "branch": restoration.branch.map(\.seq), "current_log_ignored": restoration.ignoredCurrentLog,
            ]
            if let seen = c.rollback {
                details["seen_seq"] = seen.seen.seq
                details["seen_hash"] = seen.seen.hash
                details["seen_at"] = seen.seen.seenAt
                details["reason"] = seen.reason
            }
            c.record(.rollbackAccepted, details: details)
            return c.rollback
        }
    }
}
