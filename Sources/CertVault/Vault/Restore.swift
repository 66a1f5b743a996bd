import Foundation
import GRDB

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
    ) throws -> Vault {
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
        } catch {
            discard()
            throw error
        }
        guard verification.isValid else {
            discard()
            throw CertVaultError(
                .verificationFailed,
                "the backup \(backup) does not verify: \(verification.findings.first?.description ?? "empty log"); the vault was left as it was"
            )
        }
        let current: Vault
        do { current = try Vault.open(at: path, witness: nil) } catch {
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
        return try Vault.open(at: path, witness: witness)
    }
}
