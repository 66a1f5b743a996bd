import Foundation
import GRDB

/// What ``Vault/restore(backup:to:witness:force:)`` did.
public struct Restoration: Sendable {
    /// The restored vault, opened.
    public var vault: Vault
    /// The signed records the replaced vault held after the backup's last
    /// record, checked and named as `audit log` shows them: what the restore
    /// undid. A departure among them brings the person back with the
    /// backup; ``Session/departAgain(after:)`` ends their access again.
    /// Nil when the replaced vault's log could not be read (a damaged vault
    /// is a reason to restore): then nobody can say what was undone.
    public var undone: [AuditRecord]?
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
    /// - Throws: `.verificationFailed` when the backup does not verify,
    ///   `.invalidArgument` when it is another vault's, `.fileExists` when
    ///   `PATH.before-restore` exists and `force` is not given.
    public static func restore(
        backup: String,
        to path: String,
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
        var held: [Int64: Data] = [:]
        do {
            copy = try Vault.open(at: staged, witness: nil, readOnly: true)
            verification = try copy.verify()
            // Each record the backup holds, by its hash (read once it verifies).
            if verification.isValid {
                try copy.store.read { db in
                    for row in try Row.fetchAll(db, sql: "SELECT seq, hash FROM audit") {
                        held[row["seq"]] = row["hash"]
                    }
                }
            }
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
        let undone: [AuditRecord]?
        do {
            current = try Vault.open(at: path, witness: nil)
            // What the backup lacks of the current log: every signed record it does not hold
            // (after its last one, or all of another branch's).
            undone = (try? current.auditLog())?.records.filter { $0.signature != nil && held[$0.seq] != $0.hash }
        } catch {
            discard()
            throw error
        }
        guard current.vaultID == copy.vaultID else {
            try? current.close()
            discard()
            throw CertVaultError(
                .invalidArgument,
                "\(backup) is a backup of another vault (id \(copy.vaultID.hexLower), not \(current.vaultID.hexLower))"
            )
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
        return Restoration(vault: try Vault.open(at: path, witness: witness), undone: undone)
    }
}

extension Session {
    /// Ends again the access of everyone a restore brought back: each person
    /// whose valid `person.depart` record is among `undone` and who is
    /// active in the restored vault departs again, with the same reason
    /// (noted as re-applied). Admins only.
    /// - Returns: each rotation plan, in the order of the departures undone.
    public func departAgain(after undone: [AuditRecord]) throws -> [RotationPlan] {
        var plans: [RotationPlan] = []
        for record in undone where record.action == AuditAction.personDepart.rawValue && record.problem == nil {
            guard let handle = record.detailObject["handle"] as? String,
                (try? vault.actor(handle))?.status == .active
            else { continue }
            let reason = (record.detailObject["reason"] as? String) ?? "departed"
            plans.append(
                try depart(handle, reason: "\(reason) (re-applied after a restore undid record \(record.seq))")
            )
        }
        return plans
    }
}
