import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the vault consistently while in use, verify the copy, record it."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Where to write the copy.", valueName: "dest")) var destination: String
    @Flag(help: "Replace an existing file.") var force = false
    @Flag(help: "Print what was done as JSON: the file and the record's seq.") var json = false

    func run() throws {
        try Vault.checkDestination(destination, force: force)
        let session = try global.unlock(try global.openVault())
        let head = try session.backup(to: destination, force: force)
        if json { return try Output.change(.init(command: "backup", file: destination), in: session.vault) }
        Output.line("backed up to \(destination); its audit head is \(head)")
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a verified backup in place of the vault, keeping the old file as VAULT.before-restore.",
        discussion: """
            The backup is verified first and must be a copy of the same vault. Whoever restores must be an active \
            admin of the vault as it is and of the backup (their passphrase is asked for before anything is \
            replaced). Its log is not the one this machine saw last (older, or a branch it never saw), so \
            restoring it is a rollback, accepted at once in a signed record. Every signed record the restore \
            undoes is listed, and departures, revocations and retirements among them are made again.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The backup to restore.", valueName: "backup")) var backup: String
    @Flag(help: "Replace an existing VAULT.before-restore.") var force = false
    @Flag(
        name: .customLong("over-damaged-vault"),
        help:
            "Restore over a vault that does not check out (tampered, damaged, rolled back): what it undoes cannot be listed."
    )
    var overDamaged = false
    @Flag(
        name: .customLong("accept-fork"),
        help:
            "Take in a backup that holds signed records the vault does not (a branch), as an admin of the vault (recorded)."
    )
    var acceptFork = false
    @Flag(
        name: .customLong("ignore-current-log"),
        help: "Restore even though the vault's own audit log cannot be read (recorded)."
    )
    var ignoreCurrentLog = false
    @Flag(help: "Print what was done as JSON: what was accepted, undone and made again, and the record's seq.")
    var json = false

    func run() throws {
        let path = global.vaultPath
        // Who acts, named by the vault as it is (or, when it cannot be read, by the backup).
        var current = try? Vault.open(at: path, witness: nil)
        if let v = current, (try? v.actor(global.actorHandle, preferring: GlobalOptions.loginName)) == nil {
            try? v.close()
            current = nil
        }
        let named = try current ?? Vault.open(at: backup, witness: nil, readOnly: true)
        let (handle, passphrase) = try global.passphrase(for: named)
        try? named.close()
        let restored = try Vault.restore(
            backup: backup,
            to: path,
            handle: handle,
            passphrase: passphrase,
            overDamaged: overDamaged,
            acceptFork: acceptFork,
            ignoreCurrentLog: ignoreCurrentLog,
            force: force,
            onWait: Output.waitNote
        )
        if json {
            try Output.change(
                .init(
                    command: "restore",
                    file: path,
                    restore: .init(restored, backup: backup, keptAs: path + ".before-restore")
                ),
                in: restored.vault
            )
            if restored.reapplied.contains(where: { !$0.done }) { throw ExitStatus.error.exit }
            return
        }
        Output.line("restored \(path) from \(backup); the replaced vault is kept as \(path).before-restore")
        // Accepted in the same step, in one signed record: the rollback, the branch taken in, a log passed over.
        if let accepted = restored.accepted {
            // Older, or forked (a backup of a branch this machine never saw): the reason says which.
            Output.line(
                "accepted the restored log in place of the one this machine saw (\(accepted.reason)): record \(accepted.head.seq) now, record \(accepted.seen.seq) seen before"
            )
        }
        if !restored.branch.isEmpty {
            Output.warning(
                "the backup holds \(Output.count(restored.branch.count, "signed record", "signed records")) the replaced vault did not (a branch, taken in on purpose):"
            )
            for r in restored.branch { Output.stderr("  " + Self.line(r)) }
        }
        if restored.ignoredCurrentLog {
            Output.warning(
                "the replaced vault's log could not be read and was passed over: what its damaged records said is not known"
            )
        }
        guard let undone = restored.undone else {
            Output.warning(
                "the replaced vault's log was passed over: whatever it held that the backup does not (a departure, a revocation) is undone, and cannot be listed"
            )
            Output.hint(
                "read it with 'certvault audit log --vault \(path).before-restore', and do again what still holds"
            )
            return
        }
        guard !undone.isEmpty else { return }
        Output.warning(
            "the restore undid \(Output.count(undone.count, "signed record", "signed records")) of the replaced vault:"
        )
        for r in undone { Output.stderr("  " + Self.line(r)) }
        // Nobody who left came back with the backup, and no revoked or retired key either:
        // made again in the restored file before it was put in place.
        for r in restored.reapplied where r.done {
            Output.line("\(r.summary) (record \(r.undoneSeq) of the replaced vault)")
        }
        let failed = restored.reapplied.filter { !$0.done }
        for r in failed {
            Output.error("record \(r.undoneSeq) (\(r.action)) of the replaced vault was not made again: \(r.summary)")
        }
        // What a restore does not make again (Restoration.survival): said, with who does it.
        let byOwner = Set(Restoration.survival.filter { !$0.madeAgain }.map(\.action.rawValue))
        let redo = undone.filter { $0.problem == nil && byOwner.contains($0.action) }
        if !redo.isEmpty {
            Output.hint(
                "set a new passphrase again ('certvault person passwd'): \(redo.map { "record \($0.seq) (\($0.personHandle ?? "?"))" }.joined(separator: ", ")) — the old one opens the restored vault"
            )
        }
        if !failed.isEmpty { throw ExitStatus.error.exit }
    }

    static func line(_ r: AuditRecord) -> String {
        "record \(r.seq) \(r.at) \(r.actorHandle ?? "-") \(r.action) \(r.entryAlias ?? r.personHandle ?? "")"
    }
}
