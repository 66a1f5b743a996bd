import CertVault

extension CertVaultError {
    /// The hint in the command line's words: a remedy names the flag or the
    /// command that applies it; the library words it for its own users.
    var cliHint: String? {
        guard let remedy else { return hint }
        switch remedy {
        case .verifyLog: return "run 'certvault audit verify'"
        case .restoreBackup: return "run 'certvault audit verify', and restore the vault from a backup"
        case .acceptRollback:
            return "if you restored a backup on purpose, accept it with 'certvault audit accept-rollback'; "
                + "otherwise someone replaced the vault file with an older copy"
        case .filePassword: return "give it with --password-file FILE or CERTVAULT_FILE_PASSWORD"
        case .newPassphrase: return "give it with --new-passphrase-file FILE or CERTVAULT_NEW_PASSPHRASE"
        case .exportPassword: return "use --generate-password, or give one with --password-file"
        case .exportPasswordOrUnencrypted:
            return "use --generate-password or --password-file, or --unencrypted if you really mean it"
        case .exportCertificate: return "export its certificate with --format cer"
        case .makeRequest: return "requests are made with 'certvault csr'"
        case .nameActor:
            return "say who you are with --as HANDLE or CERTVAULT_USER (or use a login name that is your handle)"
        case .listPeople: return "list people with 'certvault person list'"
        case .createVault: return "create one with 'certvault init --admin HANDLE', or name it with --vault PATH"
        case .choosePath: return "choose another path with --vault, or remove the old vault yourself"
        case .replaceFile: return "choose another path, or pass --force to replace it"
        case .raiseImportLimit:
            return
                "if you trust the file, raise the limit for this import: --max-iterations N, --max-scrypt-memory MIB or --max-bags N"
        case .acceptFork:
            return
                "read it with 'certvault audit log --vault BACKUP'; to take the branch in on purpose, restore with --accept-fork (recorded)"
        case .ignoreCurrentLog:
            return "restore over it only on purpose: --ignore-current-log (recorded; a copy of it is kept)"
        case .useSuccessor: return "use the certificate that replaced it ('certvault list --status active')"
        case .requestAgain:
            return
                "revoke it ('certvault revoke ALIAS --reason superseded') and make a new request with 'certvault csr'"
        case .compareWithSink:
            return "see every record the vault lacks with 'certvault audit verify --against SINK-FILE'; "
                + "if a backup was restored on purpose, accept it with 'certvault audit accept-rollback'"
        case .syncSinks: return "once the sink works again, run 'certvault audit sink sync'"
        case .addSink: return "name one with 'certvault audit sink add file PATH' (or 'syslog')"
        }
    }
}
