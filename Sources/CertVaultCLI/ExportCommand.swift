import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export an entry: .pfx, certificate, chain, private key or request.",
        discussion: """
            Formats: pfx (key, certificate, chain; password-protected), cer (DER certificate), pem (PEM certificate), \
            chain (PEM, leaf first), key (PKCS#8 PEM, AES-256-CBC with PBKDF2-SHA256 at 600,000 iterations; \
            --unencrypted only on request), bundle (key then chain in one PEM), csr (the request of a pending entry).
            Profiles for pfx: modern (AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC) or legacy (3DES, SHA-1 MAC) for Azure App \
            Service and Windows Server 2016 and older.
            Targets pick the format and profile a destination reads: app-service, app-gateway (and Container Apps), \
            key-vault, key-vault-pem, windows-2016, windows-2019, macos, java8, java11, dotnet, openssl3; \
            'certvault inspect FILE' says which targets a file suits.
            Files are written with mode 0600 and never replace an existing file without --force. Exports of a \
            private key (pfx, key, bundle) need a passphrase and are recorded with their recipient and the file's SHA-256.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var ref: String
    @Option(help: "pfx, cer, pem, chain, key, bundle or csr (or given by --target).") var format: ExportFormat?
    @Option(help: ArgumentHelp("Where the file goes: picks format and profile (see above).", valueName: "target"))
    var target: ExportTarget?
    @Option(help: ArgumentHelp("The file to write.", valueName: "file")) var out: String
    @Option(help: "modern (default) or legacy (pfx only).") var profile: ExportProfile?
    @Option(
        name: .customLong("for"),
        help: ArgumentHelp("Who the file is for (default: you).", valueName: "handle"),
        completion: Completions.handles
    )
    var recipient: String?
    @Flag(help: "Make a strong random password and print it once on stderr.") var generatePassword = false
    @Option(
        help: ArgumentHelp(
            "Read the file's password from this file (else CERTVAULT_FILE_PASSWORD, else a prompt).",
            valueName: "file"
        )
    )
    var passwordFile: String?
    @Flag(help: "With --format key or bundle: write the key without encryption (recorded as such).")
    var unencrypted = false
    @Flag(help: "Replace an existing file.") var force = false
    @Flag(help: "Accept a weak file password (for a test).") var weakPasswordOk = false
    @Option(
        name: .customLong("to-recipient"),
        help: ArgumentHelp(
            "Encrypt the file to this age public key (age1…, repeatable): the recipient opens it with age -d.",
            valueName: "age1…"
        )
    )
    var ageRecipients: [String] = []
    @Flag(name: .customLong("no-age"), help: "Write the file itself, even when the recipient holds an age recipient.")
    var noAge = false
    @Flag(help: "Print what was done as JSON: the file, its SHA-256, the recipient and the record's seq.")
    var json = false

    static func unknownRecipient(_ error: CertVaultError, _ handle: String) -> CertVaultError {
        CertVaultError(
            .personNotFound,
            error.message,
            hint:
                "to hand a copy to someone without vault access, add them first: certvault person add \(handle) --role staff"
        )
    }

    /// The age recipients given, each read: a malformed one is a usage mistake.
    func parsedAgeRecipients() throws -> [AgeRecipient] {
        try ageRecipients.map { text in
            do { return try AgeRecipient(parsing: text) } catch let error as CertVaultError {
                throw ValidationError(error.message)
            }
        }
    }

    /// The format: given, or the target's.
    var resolvedFormat: ExportFormat { format ?? target?.requirements.exportFormat ?? .pfx }
    var resolvedProfile: ExportProfile { profile ?? target?.requirements.exportProfile ?? .modern }

    func validate() throws {
        if format == nil && target == nil { throw ValidationError("give --format or --target") }
        if !ageRecipients.isEmpty || noAge {
            if !resolvedFormat.carriesPrivateKey {
                throw ValidationError(
                    "--\(noAge ? "no-age" : "to-recipient") applies to pfx, key and bundle exports only"
                )
            }
            if noAge && !ageRecipients.isEmpty {
                throw ValidationError("--no-age writes the file itself: leave out --to-recipient, or give only it")
            }
        }
        _ = try parsedAgeRecipients()
        if json && out == "-" {
            throw ValidationError("--json prints to stdout, where --out - writes the file: give --out FILE")
        }
        if let target, let format, format != target.requirements.exportFormat {
            throw ValidationError(
                "--target \(target.rawValue) writes \(target.requirements.exportFormat.rawValue), not \(format.rawValue): leave out --format"
            )
        }
        if let target, let profile, target.requirements.exportFormat == .pfx,
            profile != target.requirements.exportProfile
        {
            throw ValidationError(
                "--target \(target.rawValue) needs the \(target.requirements.exportProfile.rawValue) profile: leave out --profile"
            )
        }
        let format = resolvedFormat
        if profile != nil && format != .pfx { throw ValidationError("--profile applies to pfx only") }
        if unencrypted && format != .key && format != .bundle {
            throw ValidationError("--unencrypted applies to --format key and bundle only")
        }
        if unencrypted && (generatePassword || passwordFile != nil) {
            throw ValidationError("--unencrypted takes no password")
        }
        if generatePassword && passwordFile != nil {
            throw ValidationError("--generate-password makes the password: leave out --password-file, or give only it")
        }
        if !format.carriesPrivateKey && (generatePassword || passwordFile != nil || recipient != nil) {
            throw ValidationError(
                "--\(generatePassword ? "generate-password" : passwordFile != nil ? "password-file" : "for") applies to pfx, key and bundle exports only"
            )
        }
        if target?.requirements.pem == .unencryptedPKCS8 && !unencrypted {
            throw ValidationError(
                "\(target!.requirements.title) takes the key unencrypted: add --unencrypted to confirm (recorded as such), or use --target key-vault for a password-protected .pfx"
            )
        }
    }

    func run() throws {
        let vault = try global.openVault()
        let format = resolvedFormat
        let profile = resolvedProfile
        if let recipient, format.carriesPrivateKey {
            // Named before any password or passphrase is asked.
            do { _ = try vault.actor(recipient) } catch let error as CertVaultError where error.code == .personNotFound
            {
                throw Self.unknownRecipient(error, recipient)
            }
        }
        let toStdout = out == "-"
        if toStdout {
            if format.carriesPrivateKey && isatty(1) == 1 {
                throw CertVaultError(
                    .invalidArgument,
                    "--out - would print a private key on the terminal",
                    hint: "redirect it (certvault export ... --out - > FILE, or | another command), or give --out FILE"
                )
            }
        } else {
            try Vault.checkDestination(out, force: force)
        }
        let destination: ExportDestination = toStdout ? .memory(label: "stdout") : .file(out, force: force)
        /// What was done goes to stderr when the file itself goes to stdout.
        func report(_ text: String) { if toStdout { Output.note(text) } else { Output.line(text) } }
        guard format.carriesPrivateKey else {
            let result = try vault.exportPublic(.any(ref), format: format, to: destination)
            if json { return try Output.change(.init(command: "export", export: result), in: vault) }
            if let bytes = result.bytes { FileHandle.standardOutput.write(bytes) }
            report("exported \(result.alias) (\(result.thumbprintSHA1 ?? "-")) as \(format.rawValue) to \(out)")
            return
        }
        // The vault passphrase first, always: the prompt every other command
        // shows first is never the one that protects a file handed to someone.
        let session = try global.unlock(vault)
        var password: SecureBytes?
        if generatePassword {
            password = GeneratedPassword.make()
        } else if !unencrypted {
            let whom = recipient ?? session.person.handle
            password = try Secrets.read(
                file: passwordFile,
                environment: "CERTVAULT_FILE_PASSWORD",
                prompt: "Password for the file \(out), for \(whom) (not your vault passphrase): ",
                what: "a password for \(out)",
                fileOption: "--password-file",
                confirm: true,
                weakOK: weakPasswordOk,
                weakFlag: "--weak-password-ok",
                context: [ref, URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent],
                refuse: {
                    session.isPassphrase($0)
                        ? "that is your vault passphrase; the file needs a password of its own" : nil
                }
            )
        }
        // Given, or the one the recipient holds in their signed person record.
        var sealedTo = try parsedAgeRecipients()
        let whom = recipient ?? session.person.handle
        let held = try vault.person(whom).ageRecipient
        if sealedTo.isEmpty, !noAge, let held { sealedTo = [held] }
        if let held, !sealedTo.isEmpty, !sealedTo.contains(held) {
            // Said, and recorded: the file is for them, but not sealed to the key they hold.
            Output.warning(
                "\(whom)'s age recipient is \(held); this file is encrypted to \(sealedTo.map(\.description).joined(separator: ", ")) instead (recorded)"
            )
        }
        let result: ExportResult
        do {
            switch format {
            case .pfx:
                result = try session.exportPFX(
                    .any(ref),
                    to: destination,
                    password: password!,
                    profile: profile,
                    recipient: recipient,
                    ageRecipients: sealedTo
                )
            case .bundle:
                result = try session.exportBundle(
                    .any(ref),
                    to: destination,
                    password: password,
                    unencrypted: unencrypted,
                    recipient: recipient,
                    ageRecipients: sealedTo
                )
            default:
                result = try session.exportKey(
                    .any(ref),
                    to: destination,
                    password: password,
                    unencrypted: unencrypted,
                    recipient: recipient,
                    ageRecipients: sealedTo
                )
            }
        } catch let error as CertVaultError where error.code == .personNotFound && recipient != nil {
            throw CertVaultError(
                .personNotFound,
                error.message,
                hint:
                    "to hand a copy to someone without vault access, add them first: certvault person add \(recipient!) --role staff"
            )
        }
        if let bytes = result.bytes { FileHandle.standardOutput.write(bytes) }
        if let secret = result.secretBytes { Output.writeSecret(secret, to: 1) }
        if toStdout {
            // A redirect made the file: say so if others may read it.
            var info = stat()
            if fstat(1, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_mode & 0o077 != 0 {
                Output.warning(
                    "the file stdout goes to is open to others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it, or use --out FILE (always 0600)"
                )
            }
        }
        if json {
            try Output.change(.init(command: "export", export: result), in: vault)
        }
        if generatePassword, let password { Output.revealSecret("password for \(out) (shown once): ", password) }
        Output.policyWarnings(
            vault,
            [.alias(result.alias)],
            only: [.expired, .notYetValid, .expiring, .supersededNotRetired, .needsRotation]
        )
        guard !json else { return }
        var how = format == .pfx ? profile.rawValue : unencrypted ? "UNENCRYPTED" : "encrypted"
        if !sealedTo.isEmpty {
            how += ", in age to \(sealedTo.map(\.description).joined(separator: ", "))"
        }
        let forTarget = target.map { " for \($0.requirements.title)" } ?? ""
        report(
            "exported \(result.alias) (\(result.thumbprintSHA1 ?? "-")) for \(result.recipient ?? "-") to \(out) [\(format.rawValue), \(how)]\(forTarget), sha256 \(result.fileSHA256)"
        )
    }
}
