import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new vault and its first admin.",
        discussion:
            "The passphrase is asked twice on the terminal, or read from --passphrase-file / CERTVAULT_PASSPHRASE."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Handle of the first admin.", valueName: "handle")) var admin: String
    @Option(help: "Their full name.") var name: String?
    @Option(help: "Their email address.") var email: String?
    @Option(help: "Cost of the passphrase KDF: interactive, moderate (default), sensitive.") var kdf: KDFStrength =
        .moderate
    @Flag(help: "Accept a weak passphrase (for a test vault).") var weakPassphraseOk = false

    func run() throws {
        // An existing vault is named before any passphrase is asked.
        try Vault.requireAbsent(at: global.vaultPath)
        let passphrase = try Secrets.read(
            file: global.passphraseFile,
            environment: "CERTVAULT_PASSPHRASE",
            prompt: "New passphrase for \(admin): ",
            what: "a passphrase for \(admin)",
            fileOption: "--passphrase-file",
            confirm: true,
            weakOK: weakPassphraseOk,
            context: [admin, name, email].compactMap { $0 }
        )
        let vault = try Vault.create(
            at: global.vaultPath,
            admin: .init(handle: admin, name: name, email: email, role: .admin),
            passphrase: passphrase,
            kdf: kdf
        )
        Output.line("created vault \(vault.path) with admin \(admin)")
        if let head = try vault.auditHead() { Output.line("audit head \(head)") }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import certificates, keys and .pfx files: all of them or none.",
        discussion: """
            A file's password comes from --password-file or CERTVAULT_FILE_PASSWORD; files with an empty or no \
            password import without one; otherwise it is asked on the terminal.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Files or directories to import.", valueName: "file")) var files: [String]
    @Flag(help: "Descend into subdirectories of directories given.") var recursive = false
    @Option(help: "Alias of the entry (one file only); default: the friendly name or common name.") var alias: String?
    @Option(help: "ssl, management, app or other; default: guessed from the certificate.") var purpose: EntryPurpose?
    @Option(help: ArgumentHelp("Azure subscription the certificate belongs to.", valueName: "id")) var subscription:
        String?
    @Option(
        name: .customLong("domain"),
        help: ArgumentHelp("A domain the certificate serves (repeatable).", valueName: "domain")
    )
    var domains: [String] = []
    @Flag(help: "Import the good files even if some fail (still exits 1).") var keepGoing = false
    @Option(help: ArgumentHelp("Read the files' password from this file.", valueName: "file")) var passwordFile: String?
    @OptionGroup var limitOptions: LimitOptions
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "List every file, even more than a screenful.") var verbose = false
    @Flag(help: "Print nothing but warnings and errors.") var quiet = false

    func validate() throws {
        if verbose && quiet { throw ValidationError("--verbose and --quiet exclude each other") }
    }

    func run() throws {
        if let alias { try UsageError.reading { try Session.checkAlias(alias) } }
        let vault = try global.openVault()
        let password = try Secrets.given(file: passwordFile, environment: "CERTVAULT_FILE_PASSWORD")
        let asker = PasswordAsker()
        let ask: ((String) throws -> SecureBytes?)? =
            password == nil && SecretInput.hasTerminal ? { path in try asker.ask(for: path) } : nil
        let paths = Locations.expand(files, recursive: recursive)
        guard !paths.isEmpty else {
            throw CertVaultError(.invalidArgument, "no files to import in \(files.joined(separator: ", "))")
        }
        var progress: (@Sendable (Int, Int) -> Void)?
        var line: ProgressLine?
        if isatty(2) == 1 && paths.count > 20 && !quiet {
            let shown = ProgressLine("reading")
            progress = { done, total in shown.update(done, total) }
            line = shown
        }
        // The files are decrypted while the passphrase's key derivation runs.
        let (handle, passphrase) = try global.passphrase(for: vault)
        let prefetch = ImportPrefetch(paths, password: password, limits: limitOptions.limits, progress: progress)
        let session: Session
        do {
            session = try vault.unlock(handle: handle, passphrase: passphrase)
        } catch {
            line?.finish()
            throw error
        }
        let report = try session.importPaths(
            prefetch,
            askPassword: ask,
            options: ImportOptions(
                alias: alias,
                purpose: purpose,
                subscription: subscription,
                domains: domains,
                keepGoing: keepGoing
            )
        )
        if !report.stored {
            if json { try Output.json(report) }
            for failure in report.failures { Output.error(failure) }
            if let first = report.firstError, first.code == .wrongPassword, let refused = asker.refused.first {
                Output.hint(
                    "nothing was imported: \(refused) did not open with the password typed three times; give the right one (--password-file, or at the prompt), or leave the file out (--keep-going imports the rest)"
                )
            } else {
                Output.hint(
                    report.firstError?.cliHint
                        ?? "nothing was imported; fix or leave out the files named above, or pass --keep-going"
                )
            }
            throw ExitStatus.error.exit
        }
        for warning in report.warnings { Output.stderr("warning: \(warning)") }
        // What the rules say of what was just stored.
        Output.policyWarnings(
            vault,
            report.items.filter { [.imported, .paired, .completed].contains($0.outcome) }.map { .alias($0.alias) }
        )
        if json {
            try Output.json(report)
        } else if !quiet {
            // More rows than the screen holds: the summary only, unless --verbose.
            let fits = ProgressLine.terminalRows.map { report.items.count <= $0 - 3 } ?? true
            if verbose || fits {
                Output.table(
                    ["OUTCOME", "ALIAS", "THUMBPRINT", "FILE"],
                    report.items.map { [$0.outcome.rawValue, $0.alias, $0.thumbprintSHA1 ?? "-", $0.file] }
                )
            }
            var summary = "imported \(report.count(.imported)), already present \(report.count(.alreadyPresent))"
            summary += ", paired \(report.count(.paired))"
            if report.count(.completed) > 0 { summary += ", requests completed \(report.count(.completed))" }
            summary += ", failed \(report.failures.count)"
            if !(verbose || fits) { summary += " (--verbose lists every file)" }
            Output.line(summary)
        }
        if !report.failures.isEmpty {
            for failure in report.failures { Output.error(failure) }
            throw ExitStatus.error.exit
        }
    }
}

/// Asks for files' passwords at the terminal: once for a batch, reusing a
/// password that opened one file for the next (the library tries it first);
/// up to three times for a file it does not open.
final class PasswordAsker: @unchecked Sendable {
    private var remembered: SecureBytes?
    private var attempts: [String: Int] = [:]
    /// The files given up on after three wrong passwords.
    private(set) var refused: [String] = []

    func ask(for path: String) throws -> SecureBytes? {
        let tries = attempts[path, default: 0]
        attempts[path] = tries + 1
        // The password that opened the last file is offered first, without asking.
        if tries == 0, let remembered { return remembered }
        let typed = tries - (remembered == nil ? 0 : 1)
        guard typed < 3 else {
            refused.append(path)
            return nil
        }
        if typed > 0 { Output.warning("wrong password for \(path) (\(typed) of 3)") }
        let name = URL(fileURLWithPath: path).lastPathComponent
        let prompt =
            remembered == nil
            ? "Password for \(name) (used for the other files too): "
            : "Password for \(name) (the last one does not open it): "
        let secret = try SecretInput.prompt(prompt)
        remembered = secret
        return secret
    }
}

/// How much work a file may ask for, as `import` and `inspect` take it.
struct LimitOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Allow files that ask for up to N key-derivation iterations (default 2000000).",
            valueName: "n"
        )
    )
    var maxIterations: Int?
    @Option(help: ArgumentHelp("Allow scrypt to use up to this much memory (default 1024).", valueName: "MiB"))
    var maxScryptMemory: UInt64?
    @Option(help: ArgumentHelp("Allow PKCS#12 files with up to N bags (default 1000).", valueName: "n"))
    var maxBags: Int?

    /// The standard limits with what was given over them.
    var limits: ImportLimits {
        var limits = ImportLimits.standard
        if let maxIterations { limits.maxIterations = maxIterations }
        if let maxScryptMemory { limits.maxScryptMemory = maxScryptMemory << 20 }
        if let maxBags { limits.maxBags = maxBags }
        return limits
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the entries (no passphrase needed).",
        discussion: """
            Only entries that match their signed records are shown as they are. A row altered by hand is listed as \
            TAMPERED, without its altered values, and the command exits 3; --json then lists only the entries that \
            check out, and the findings go to stderr.
            """
    )
    @OptionGroup var global: ReadOptions
    @Option(help: "Only entries of this purpose (ssl, management, app, other).") var purpose: EntryPurpose?
    @Option(
        help: ArgumentHelp(
            "Only entries in this state: active, pending, superseded, revoked, expired, expiring.",
            valueName: "state"
        )
    )
    var status: String?
    @Option(help: ArgumentHelp("Only entries of this Azure subscription.", valueName: "id")) var subscription: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Only active certificates that expire within DAYS days.", valueName: "days")
    )
    var expiring: Int?
    @Flag(help: "Only entries due for rotation.") var needsRotation = false
    @Option(help: "Order: added (default), expiry or alias.") var sort: ListOrder = .added
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print CSV for a spreadsheet: public data only, never a key.") var csv = false

    enum ListOrder: String, ExpressibleByArgument, CaseIterable {
        case added, expiry, alias
    }

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
        if let expiring, expiring < 0 { throw ValidationError("--expiring takes days from 0, not \(expiring)") }
        let states = ["active", "pending", "superseded", "revoked", "expired", "expiring"]
        if let status, !states.contains(status) {
            throw ValidationError("unknown state '\(status)'; choose one of \(states.joined(separator: ", "))")
        }
    }

    func selected(_ entries: [Entry], now: Date) -> [Entry] {
        let chosen = entries.filter { e in
            if let purpose, e.purpose != purpose { return false }
            if let subscription, e.subscription != subscription { return false }
            if needsRotation && !e.needsRotation { return false }
            if let expiring {
                guard e.status == .active, case .valid(let days) = e.validity(at: now), days <= expiring else {
                    return false
                }
            }
            switch status {
            case nil: return true
            case "expired"?:
                if case .expired = e.validity(at: now) { return e.status == .active }
                return false
            case "expiring"?:
                if case .valid(let days) = e.validity(at: now) { return e.status == .active && days <= 30 }
                return false
            case let wanted?: return e.status.rawValue == wanted
            }
        }
        switch sort {
        case .added: return chosen
        case .alias: return chosen.sorted { $0.alias < $1.alias }
        case .expiry:
            return chosen.sorted {
                ($0.certificate?.notValidAfter ?? .distantFuture, $0.id) < (
                    $1.certificate?.notValidAfter ?? .distantFuture, $1.id
                )
            }
        }
    }

    func run() throws {
        let inventory = try global.openVault().inventory()
        let now = Date()
        let filtering = purpose != nil || status != nil || subscription != nil || expiring != nil || needsRotation
        let entries = selected(inventory.entries, now: now)
        if json {
            try Output.json(entries)
        } else if csv {
            Output.csv(
                [
                    "id", "alias", "purpose", "subscription", "domains", "thumbprint_sha1", "subject", "issuer",
                    "not_before", "not_after", "days_left", "state", "private_key", "created_at", "created_by",
                ],
                entries.map { e in
                    var daysLeft = ""
                    switch e.validity(at: now) {
                    case .valid(let d): daysLeft = String(d)
                    case .expired(let d): daysLeft = String(-d)
                    default: break
                    }
                    return [
                        e.id.description, e.alias, e.purpose.rawValue, e.subscription ?? "",
                        e.domains.joined(separator: " "), e.certificate?.thumbprintSHA1 ?? "",
                        e.certificate?.subject ?? e.requestedSubject ?? "", e.certificate?.issuer ?? "",
                        e.certificate.map { Output.date($0.notValidBefore) } ?? "",
                        e.certificate.map { Output.date($0.notValidAfter) } ?? "", daysLeft,
                        e.displayStatus(at: now, window: expiring ?? 30),
                        e.hasPrivateKey ? "yes" : "no", Output.date(e.createdAt), e.createdBy,
                    ]
                }
            )
        } else {
            var rows: [(Int64, [String])] = entries.enumerated().map { i, e in
                (
                    sort == .added ? e.id.rawValue : Int64(i),
                    [
                        e.id.description, e.alias, e.purpose.rawValue, e.certificate?.thumbprintSHA1 ?? "-",
                        e.certificate.map { Output.date($0.notValidAfter) } ?? "-", e.hasPrivateKey ? "yes" : "no",
                        e.displayStatus(at: now, window: expiring ?? 30),
                        e.certificate?.subject ?? e.requestedSubject ?? "-",
                    ]
                )
            }
            if !filtering && sort == .added {
                rows += inventory.tampered.map {
                    ($0.id, [String($0.id), "-", "-", "-", "-", "-", "TAMPERED", $0.reason])
                }
            }
            Output.table(
                ["ID", "ALIAS", "PURPOSE", "THUMBPRINT (SHA-1)", "NOT AFTER", "KEY", "STATUS", "SUBJECT"],
                rows.sorted { $0.0 < $1.0 }.map(\.1)
            )
        }
        if !inventory.isIntact {
            for finding in inventory.findings.prefix(20) { Output.stderr("finding: \(finding)") }
            if inventory.findings.count > 20 {
                Output.stderr(
                    "finding: … and \(inventory.findings.count - 20) more ('certvault audit verify' lists them all)"
                )
            }
            if let rollback = inventory.rollback {
                Output.error("the vault was rolled back: \(rollback.reason)")
                Output.hint("if you restored a backup on purpose, accept it with 'certvault audit accept-rollback'")
            } else {
                Output.error("the vault does not match its signed records; entries that differ are not shown")
                Output.hint("run 'certvault audit verify', and restore the vault from a backup")
            }
            throw ExitStatus.findings.exit
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one entry (no passphrase needed).")
    @OptionGroup var global: ReadOptions
    @Argument(
        help: "Alias, id, DNS name, or 8+ hex digits of the SHA-1 thumbprint or SHA-256 fingerprint.",
        completion: Completions.entries
    ) var ref: String
    @Flag(help: "Print JSON.") var json = false

    struct Shown: Encodable {
        var entry: Entry
        var chain: [CertificateMetadata]
    }

    func run() throws {
        let vault = try global.openVault()
        var entry = try vault.entry(.any(ref))
        entry.certificate = try vault.certificateDetails(of: entry) ?? entry.certificate
        let chain = try vault.chain(of: entry)
        if json { return try Output.json(Shown(entry: entry, chain: chain)) }
        var lines: [(String, String)] = [
            ("id", entry.id.description), ("alias", entry.alias), ("purpose", entry.purpose.rawValue),
            (
                "status",
                entry.status.rawValue + (entry.needsRotation ? " (needs rotation: \(entry.rotationReason ?? "?"))" : "")
            ),
        ]
        if let name = entry.originalName {
            // The name the alias was made from, every character outside ASCII spelled out.
            let spelled = Display.spelledOut(name)
            lines.append(("name in the file", spelled == name ? name : "\(name) (\(spelled))"))
        }
        if let s = entry.subscription { lines.append(("subscription", s)) }
        if !entry.domains.isEmpty { lines.append(("domains", entry.domains.joined(separator: ", "))) }
        if let c = entry.certificate {
            lines += [
                ("subject", c.subject), ("issuer", c.issuer), ("serial", c.serialNumber),
                ("thumbprint (SHA-1)", c.thumbprintSHA1), ("SHA-256", c.fingerprintSHA256),
                ("not before", c.notValidBefore.formatted(.iso8601)),
                ("not after", c.notValidAfter.formatted(.iso8601)),
                ("key", "\(c.keyAlgorithm) \(c.keyBits)" + (c.keyCurve.map { " \($0)" } ?? "")),
                ("signature", c.signatureAlgorithm),
                ("self-signed", c.isSelfSigned ? "yes" : "no"), ("CA", c.isCA ? "yes" : "no"),
            ]
            if !c.subjectAlternativeNames.isEmpty {
                lines.append(("SANs", c.subjectAlternativeNames.joined(separator: ", ")))
            }
            if let ku = c.keyUsage, !ku.isEmpty { lines.append(("key usage", ku.joined(separator: ", "))) }
            if let eku = c.extendedKeyUsage, !eku.isEmpty {
                lines.append(("extended key usage", eku.joined(separator: ", ")))
            }
        } else if entry.status == .pending {
            lines.append(("requested subject", entry.requestedSubject ?? "-"))
            lines.append(("requested names", (entry.requestedNames ?? []).joined(separator: ", ")))
            lines.append(
                (
                    "waiting for",
                    "the certificate a CA issues for this key; 'certvault import' it to complete the entry ('export --format csr' gives the request again)"
                )
            )
        } else {
            lines.append(("certificate", "none (a key-only entry)"))
        }
        lines.append(("private key", entry.hasPrivateKey ? "held (encrypted)" : "not held"))
        lines.append(("access", entry.access.isEmpty ? "nobody" : entry.access.joined(separator: ", ")))
        if chain.count > 1 {
            lines.append(("chain", chain.map(\.subject).joined(separator: " → ")))
        } else if let c = entry.certificate, !c.isSelfSigned {
            lines.append(("chain", "issuer not in the vault (import it to complete the chain)"))
        }
        lines.append(("added", "\(entry.createdAt.formatted(.iso8601)) by \(entry.createdBy)"))
        if let old = entry.replacesEntryID { lines.append(("replaces", "entry \(old)")) }
        if let reason = entry.revocationReason {
            lines.append(("revoked", "\(reason.rawValue)\(entry.revokedAt.map { " on \(Output.date($0))" } ?? "")"))
        }
        if let retired = entry.retiredAt { lines.append(("retired", "removed from Azure on \(Output.date(retired))")) }
        let width = lines.map(\.0.count).max() ?? 0
        for (k, v) in lines { Output.line(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
    }
}

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

    static func unknownRecipient(_ error: CertVaultError, _ handle: String) -> CertVaultError {
        CertVaultError(
            .personNotFound,
            error.message,
            hint:
                "to hand a copy to someone without vault access, add them first: certvault person add \(handle) --role staff"
        )
    }

    /// The format: given, or the target's.
    var resolvedFormat: ExportFormat { format ?? target?.requirements.exportFormat ?? .pfx }
    var resolvedProfile: ExportProfile { profile ?? target?.requirements.exportProfile ?? .modern }

    func validate() throws {
        if format == nil && target == nil { throw ValidationError("give --format or --target") }
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
        let result: ExportResult
        do {
            switch format {
            case .pfx:
                result = try session.exportPFX(
                    .any(ref),
                    to: destination,
                    password: password!,
                    profile: profile,
                    recipient: recipient
                )
            case .bundle:
                result = try session.exportBundle(
                    .any(ref),
                    to: destination,
                    password: password,
                    unencrypted: unencrypted,
                    recipient: recipient
                )
            default:
                result = try session.exportKey(
                    .any(ref),
                    to: destination,
                    password: password,
                    unencrypted: unencrypted,
                    recipient: recipient
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
        if generatePassword, let password { Output.revealSecret("password for \(out) (shown once): ", password) }
        Output.policyWarnings(
            vault,
            [.alias(result.alias)],
            only: ["expired", "not-yet-valid", "expiring", "superseded-not-retired", "needs-rotation"]
        )
        let how = format == .pfx ? profile.rawValue : unencrypted ? "UNENCRYPTED" : "encrypted"
        let forTarget = target.map { " for \($0.requirements.title)" } ?? ""
        report(
            "exported \(result.alias) (\(result.thumbprintSHA1 ?? "-")) for \(result.recipient ?? "-") to \(out) [\(format.rawValue), \(how)]\(forTarget), sha256 \(result.fileSHA256)"
        )
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the vault consistently while in use, verify the copy, record it."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Where to write the copy.", valueName: "dest")) var destination: String
    @Flag(help: "Replace an existing file.") var force = false

    func run() throws {
        try Vault.checkDestination(destination, force: force)
        let session = try global.unlock(try global.openVault())
        let head = try session.backup(to: destination, force: force)
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
            onWait: { Output.note("note: " + $0) }
        )
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
