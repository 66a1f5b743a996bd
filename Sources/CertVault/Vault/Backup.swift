import Foundation
import GRDB

extension Session {
    /// Records the backup, then makes a consistent copy of the vault with
    /// SQLite's online backup API, opens the copy and verifies its audit
    /// chain, and moves it into place. The record comes first so that the
    /// copy holds it: restoring the backup is then not a rollback.
    /// - Returns: the copy's audit head.
    public func backup(to path: String, force: Bool = false) throws -> AuditHead {
        try requireRole([.admin, .officer, .auditor], to: "make backups")
        // Never over the vault or a file SQLite keeps beside it (its log, its index, the kept file).
        func resolved(_ p: String) -> String {
            let url = URL(fileURLWithPath: p)
            let dir = url.deletingLastPathComponent().path
            let real =
                realpath(dir, nil).map { r -> String in
                    defer { free(r) }
                    return String(cString: r)
                } ?? dir
            return real + "/" + url.lastPathComponent
        }
        let vaultFile = resolved(URL(fileURLWithPath: vault.path).resolvingSymlinksInPath().path)
        let target = resolved(path)
        if ["", "-wal", "-shm", "-journal", ".before-restore"].contains(where: { vaultFile + $0 == target }) {
            throw CertVaultError(
                .invalidArgument,
                "\(path) is the vault itself or a file SQLite keeps beside it: a backup goes elsewhere",
                hint: "name a file in another place, ideally on another disk"
            )
        }
        if !force, FileManager.default.fileExists(atPath: path) { throw SecureFile.exists(path) }
        // SQLite opens the copy by name: it is made inside a directory of
        // our own (0700), so nobody who can write beside the destination
        // can swap it for a link to a file of theirs.
        let privateDir = try SecureFile.makePrivateDirectory(beside: path)
        defer { try? FileManager.default.removeItem(atPath: privateDir) }
        let temporary = privateDir + "/backup.db"
        let fd = Glibc.open(temporary, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SecureFile.posixError("cannot create the backup in \(privateDir)", path: privateDir)
        }
        close(fd)
        // The record comes first, so the copy holds it: a backup is then
        // exactly as new as the vault this machine last saw, not a rollback.
        let recorded = try change { c -> Int64 in
            c.record(.vaultBackup, details: [.file: .text(URL(fileURLWithPath: path).lastPathComponent)])
        }
        func failed(_ why: String, code: CertVaultError.Code = .io, hint: String? = nil) -> CertVaultError {
            CertVaultError(
                code,
                "the backup failed after record \(recorded) noted it: \(why); no backup file was left",
                hint: hint
            )
        }
        do {
            let copy = try DatabaseQueue(path: temporary)
            try vault.store.queue.backup(to: copy)
            try copy.close()
        } catch {
            // Named by the destination: the copy is built beside it, on the same file system.
            let mapped = Store.map(error, path: path) as? CertVaultError
            throw failed(mapped?.message ?? "\(error)", code: mapped?.code ?? .io, hint: mapped?.hint)
        }
        FaultPoint.hit("backup.copied")
        let verification = try Vault.open(at: temporary, witness: nil).verify()
        guard verification.isValid, let head = verification.head, head.seq >= recorded else {
            throw failed("the copy does not verify: \(verification.findings.first?.description ?? "empty log")")
        }
        try SecureFile.Pending(temporaryPath: temporary, destination: path, force: force).commit()
        return head
    }
}
