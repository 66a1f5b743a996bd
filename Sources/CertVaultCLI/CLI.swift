import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

/// Runs a command line and exits with its ``ExitStatus``.
enum CLI {
    /// The command `arguments` name. Long runs of files are parsed as one
    /// placeholder each and put back after (``ArgumentRuns``); anything
    /// that does not fit is parsed as given.
    static func parse(_ arguments: [String]) throws -> ParsableCommand {
        if let runs = ArgumentRuns(arguments), let parsed = try? Root.parseAsRoot(runs.arguments),
            var expanding = parsed as? ExpandsArgumentRuns, expanding.expand(runs)
        {
            return expanding
        }
        return try Root.parseAsRoot(arguments)
    }

    static func main(_ arguments: [String]) -> Never {
        if getenv("CERTVAULT_FAULT") != nil, !FaultPoint.compiled {
            Output.warning(
                "CERTVAULT_FAULT is set, but this build has no fault points (build with CERTVAULT_FAULT_POINTS=1)"
            )
        }
        finish(execute(arguments))
    }

    /// Runs one command line and says what went wrong, without exiting:
    /// what `main` does, and what the shell does for each line.
    static func execute(_ arguments: [String]) -> Int32 {
        jsonRequested = arguments.contains("--json")
        // Guides that ship in the binary: `certvault help exit-codes`.
        if arguments.count == 2, arguments[0] == "help", let topic = HelpTopic(rawValue: arguments[1]) {
            print(topic.text, terminator: topic == .man ? "" : "\n")
            return ExitStatus.success.rawValue
        }
        if arguments == ["--man"] {
            print(ManPage.text, terminator: "")
            return ExitStatus.success.rawValue
        }
        if arguments == ["help", "topics"] {
            print(HelpTopic.list)
            return ExitStatus.success.rawValue
        }
        if let mistake = Suggestions.mistake(in: arguments) {
            Output.error(mistake.message)
            Output.hint(mistake.hint)
            return ExitStatus.usage.rawValue
        }
        do {
            var command = try parse(arguments)
            try ShellContext.admit(command)
            // Echo off for the whole command when it may ask something: type-ahead is never shown.
            if mayAsk(command) { TerminalHold.begin() }
            FaultPoint.hit("cli.started")
            try command.run()
            return ExitStatus.success.rawValue
        } catch let usage as UsageError {
            Output.error(usage.error.message)
            Output.hint(usage.error.cliHint ?? "see 'certvault help' or 'certvault COMMAND --help'")
            return ExitStatus.usage.rawValue
        } catch let error as CertVaultError {
            return report(error).rawValue
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            let code = Root.exitCode(for: error)
            if code == .success {
                print(Root.fullMessage(for: error))
                return ExitStatus.success.rawValue
            }
            guard code == .validationFailure else {
                // Not a usage mistake: an error the library let through unwrapped.
                Output.error(error.localizedDescription)
                return ExitStatus.error.rawValue
            }
            Output.error(Root.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage")
            Output.hint("see 'certvault help' or 'certvault COMMAND --help'")
            return ExitStatus.usage.rawValue
        }
    }

    static func fail(_ error: CertVaultError) -> Never { finish(report(error)) }

    /// Says `error` (and, for --json, prints it as JSON); its exit status.
    static func report(_ error: CertVaultError) -> ExitStatus {
        Output.error(error.message)
        if let hint = error.cliHint { Output.hint(hint) }
        if jsonRequested {
            // A script that asked for JSON gets the failure as JSON too, with its stable code.
            struct Failure: Encodable {
                struct Body: Encodable {
                    var code: String
                    var message: String
                    var hint: String?
                    var exitStatus: Int32
                }
                var error: Body
            }
            let status = ExitStatus.of(error)
            try? Output.json(
                Failure(
                    error: .init(
                        code: error.code.rawValue,
                        message: error.message,
                        hint: error.cliHint,
                        exitStatus: status.rawValue
                    )
                )
            )
        }
        return ExitStatus.of(error)
    }

    /// Whether the command line asked for JSON output.
    nonisolated(unsafe) static var jsonRequested = false

    /// Ends the process: what deserves a warning about the vaults this
    /// command opened is said, and they are closed (their write-ahead log
    /// folded into the file) before `exit`, which runs no deinitializer.
    static func finish(_ status: ExitStatus) -> Never { finish(status.rawValue) }

    static func finish(_ code: Int32) -> Never {
        OpenedVaults.closeAll()
        TerminalHold.end()
        exit(code)
    }

    /// Whether `command` may ask a question at the terminal: every command
    /// that unlocks the vault (its options are ``GlobalOptions``) and those
    /// that ask a file's password (``AsksAtTerminal``).
    static func mayAsk(_ command: ParsableCommand) -> Bool {
        command is AsksAtTerminal
            || Mirror(reflecting: command).children.contains { $0.value is OptionGroup<GlobalOptions> }
    }
}

/// A command that may ask at the terminal without unlocking the vault (a
/// file's password).
protocol AsksAtTerminal {}

/// A value on the command line that cannot be read: a usage mistake (exit
/// 2), said in the library's words, with its hint.
struct UsageError: Error {
    let error: CertVaultError

    /// Runs `body`, which reads an option's value: an `invalidArgument`
    /// from it is a usage mistake.
    static func reading<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as CertVaultError where error.code == .invalidArgument {
            throw UsageError(error: error)
        }
    }
}

struct Root: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certvault",
        abstract: "Keep an organisation's certificates and private keys in one encrypted file.",
        discussion: """
            Passphrases come from --passphrase-file, CERTVAULT_PASSPHRASE or a prompt; never from an option's value.

            Example:
              certvault init --admin alice
              certvault import contoso.pfx --purpose ssl --domain contoso.com
              certvault person add bob --role staff
              certvault export contoso.com --target app-service --for bob \\
                  --generate-password --out contoso-for-bob.pfx

            Guides in the binary: certvault help officer, auditor, admin, targets, rules, exit-codes; \
            certvault help topics lists them, certvault --man prints the manual page.

            \(ExitStatus.helpText)
            """,
        version: "certvault \(certvaultVersion)",
        subcommands: [
            Init.self, Import.self, List.self, Show.self, Export.self, New.self, Csr.self, Grant.self, Ungrant.self,
            Check.self, Inspect.self, Rotate.self, Revoke.self, Retire.self, Rename.self, Backup.self, Restore.self,
            AuditCommand.self,
            PersonCommand.self, PolicyCommand.self, Report.self, Shell.self,
        ]
    )
}

/// Which vault, and who acts: options of every command that reads a vault.
struct VaultSelection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault file (env CERTVAULT_VAULT).", valueName: "path"))
    var vault: String?

    @Option(
        name: .customLong("as"),
        help: ArgumentHelp(
            "Act as this person (env CERTVAULT_USER; default: the only person who can unlock, else your login name).",
            valueName: "handle"
        ),
        completion: Completions.handles
    )
    var actor: String?

    var vaultPath: String { GlobalOptions.vaultPath(given: vault) }

    var actorHandle: String? {
        actor ?? getenv("CERTVAULT_USER").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens the vault; a person named with --as or CERTVAULT_USER must be
    /// one the signed records introduce, even for commands that need no
    /// passphrase.
    func openVault() throws -> Vault {
        // In the shell: its vault, as the person who unlocked it.
        if let shell = try ShellContext.vault(given: vault, actor: actor) { return shell }
        let vault = try Vault.open(at: vaultPath, onWait: Output.waitNote)
        OpenedVaults.add(vault)
        for name in vault.removedLeftovers {
            Output.note("note: removed \(name), left beside the vault by a killed command")
        }
        if let handle = actorHandle { _ = try vault.actor(handle) }
        return vault
    }
}

/// The vaults this command opened: what went wrong after a read that only
/// deserves a warning (the witness not updated) is said before it exits.
enum OpenedVaults {
    nonisolated(unsafe) private static var vaults: [Vault] = []

    static func add(_ vault: Vault) { vaults.append(vault) }

    /// Says what went wrong after a read (a witness not updated), then closes each vault.
    static func closeAll() {
        for vault in vaults {
            if let warning = vault.witnessWarning { Output.warning(warning) }
            try? vault.close()
        }
        vaults = []
    }
}

/// Options of a command that reads a vault and needs no passphrase.
struct ReadOptions: ParsableArguments {
    @OptionGroup var selection: VaultSelection

    /// Accepted and unused, so that scripts which give it to every command
    /// keep working; not shown, since these commands ask for no passphrase.
    @Option(name: .long, help: .hidden) var passphraseFile: String?

    var vaultPath: String { selection.vaultPath }
    func openVault() throws -> Vault { try selection.openVault() }
}

/// Options of a command that unlocks: which vault, who, and the passphrase.
struct GlobalOptions: ParsableArguments {
    @OptionGroup var selection: VaultSelection

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the vault passphrase from this file (else CERTVAULT_PASSPHRASE, else a prompt).",
            valueName: "file"
        )
    )
    var passphraseFile: String?

    var vaultPath: String { selection.vaultPath }
    var actorHandle: String? { selection.actorHandle }
    func openVault() throws -> Vault { try selection.openVault() }

    /// The vault named by --vault, else CERTVAULT_VAULT, else the default.
    static func vaultPath(given vault: String?) -> String {
        if let vault { return vault }
        if let env = getenv("CERTVAULT_VAULT").map({ String(cString: $0) }), !env.isEmpty { return env }
        return Locations.defaultVaultPath
    }

    /// The login name (LOGNAME, USER, else the password database): who
    /// acts when several people can unlock and none is named.
    static var loginName: String? {
        for name in ["LOGNAME", "USER"] {
            if let v = getenv(name).map({ String(cString: $0) }), !v.isEmpty { return v }
        }
        guard let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name else { return nil }
        return String(cString: name)
    }

    /// Works out who acts, then asks for their passphrase (the one KDF run).
    /// Unlocks as the person who acts. A passphrase typed at the terminal
    /// may be typed again after a wrong one, three tries in all, as `sudo`
    /// allows (each wrong one recorded, as always); one from a file or the
    /// environment fails at once.
    func unlock(_ vault: Vault) throws -> Session {
        if ShellContext.isActive {
            guard passphraseFile == nil else {
                throw UsageError(
                    error: CertVaultError(
                        .invalidArgument,
                        "the shell is unlocked already: leave out --passphrase-file"
                    )
                )
            }
            return try ShellContext.unlocked()
        }
        return try prompting(vault)
    }

    /// Unlocks with the passphrase from the file, the environment or the
    /// terminal (three tries there), never the shell's session.
    func prompting(_ vault: Vault) throws -> Session {
        var tries = 0
        while true {
            let typed =
                passphraseFile == nil && !SecretEnvironment.has("CERTVAULT_PASSPHRASE")
                && SecretInput.hasTerminal
            let (handle, passphrase) = try passphrase(for: vault)
            tries += 1
            do {
                return try vault.unlock(handle: handle, passphrase: passphrase)
            } catch let error as CertVaultError where error.code == .wrongPassphrase && typed && tries < 3 {
                Output.warning("wrong passphrase for \(handle); again (\(tries) of 3)")
            }
        }
    }

    /// Who acts, and their passphrase, read (or asked) but not yet tried:
    /// for a command with work to start while the key derivation runs.
    func passphrase(for vault: Vault) throws -> (handle: String, passphrase: SecureBytes) {
        let person = try vault.actor(actorHandle, preferring: Self.loginName)
        let passphrase = try Secrets.read(
            file: passphraseFile,
            environment: "CERTVAULT_PASSPHRASE",
            prompt: "Passphrase for \(person.handle): ",
            what: "the passphrase for \(person.handle)",
            fileOption: "--passphrase-file"
        )
        return (person.handle, passphrase)
    }
}

/// Secrets given in the environment (for automation), taken out of it
/// before anything else reads it: the value is copied into secure memory,
/// its bytes in the process's environment block are overwritten (what
/// `/proc/PID/environ` shows) and the variable is removed.
enum SecretEnvironment {
    static let names = ["CERTVAULT_PASSPHRASE", "CERTVAULT_NEW_PASSPHRASE", "CERTVAULT_FILE_PASSWORD"]
    nonisolated(unsafe) private static var captured: [String: SecureBytes] = [:]

    /// Runs first in `main`, before Foundation or the argument parser look at the environment.
    static func capture() {
        for name in names {
            if let secret = SecretInput.fromEnvironment(name) { captured[name] = secret }
        }
    }

    /// The secret given in `name`, once.
    static func take(_ name: String) -> SecureBytes? { captured.removeValue(forKey: name) }

    /// Whether `name` was given and not yet taken.
    static func has(_ name: String) -> Bool { captured[name] != nil }
}

enum Secrets {
    /// A secret from a file option, an environment variable, or the terminal.
    ///
    /// With `confirm` it is a new secret: asked twice at a terminal (again,
    /// up to three times, when the two differ), and judged by
    /// ``PassphraseStrength``: a weak one is asked again at a terminal and
    /// refused from a file or the environment, unless `weakOK`.
    static func read(
        file: String?,
        environment: String,
        prompt: String,
        what: String,
        fileOption: String,
        confirm: Bool = false,
        weakOK: Bool = false,
        weakFlag: String = "--weak-passphrase-ok",
        context: [String] = [],
        refuse: (SecureBytes) -> String? = { _ in nil }
    ) throws -> SecureBytes {
        func judged(_ secret: SecureBytes) throws -> SecureBytes {
            if let problem = refuse(secret) { throw CertVaultError(.invalidArgument, "\(what): \(problem)") }
            // A NUL byte is refused by the library, in its own words.
            guard confirm, !weakOK, !secret.withUnsafeBytes({ $0.contains(0) }) else { return secret }
            let strength = PassphraseStrength.assess(secret, context: context)
            guard let problem = strength.problem else { return secret }
            throw CertVaultError(
                .invalidArgument,
                "\(what) is too weak: \(problem)",
                hint: "use four or more random words or 12+ random characters (or \(weakFlag) for a test)"
            )
        }
        if let file { return try judged(try fromFile(file)) }
        if let secret = SecretEnvironment.take(environment) { return try judged(secret) }
        guard SecretInput.hasTerminal else {
            throw CertVaultError(
                .invalidArgument,
                "\(what) is needed and there is no terminal to ask on",
                hint: "give it with \(fileOption) FILE or \(environment)"
            )
        }
        guard confirm else { return try SecretInput.prompt(prompt) }
        // Three tries for each way a new secret can fail, counted apart: a weak
        // one does not use up the tries at typing it the same twice.
        var refused = 0
        var weak = 0
        var differed = 0
        while true {
            let first = try SecretInput.prompt(prompt)
            if let problem = refuse(first) {
                refused += 1
                guard refused < 3 else { throw CertVaultError(.invalidArgument, "\(what): \(problem)") }
                Output.warning("\(problem); again (\(refused) of 3)")
                continue
            }
            if !weakOK, !first.withUnsafeBytes({ $0.contains(0) }),
                let problem = PassphraseStrength.assess(first, context: context).problem
            {
                weak += 1
                guard weak < 3 else {
                    throw CertVaultError(
                        .invalidArgument,
                        "\(what) was too weak three times (\(problem)); nothing was changed",
                        hint:
                            "use four or more random words or 12+ random characters (\(weakFlag) accepts a weak one for a test)"
                    )
                }
                Output.warning(
                    "too weak: \(problem); use four or more random words or 12+ random characters; again (\(weak) of 3)"
                )
                continue
            }
            let second = try SecretInput.prompt("Again: ")
            if first.isEqual(to: second) { return first }
            differed += 1
            guard differed < 3 else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(what): the confirmation did not match three times; nothing was changed"
                )
            }
            Output.warning("the confirmation did not match; again (\(differed) of 3)")
        }
    }

    /// A secret only if one was given (file or environment); no prompt.
    static func given(file: String?, environment: String) throws -> SecureBytes? {
        if let file { return try fromFile(file) }
        return SecretEnvironment.take(environment)
    }

    /// Reads a secret file, warning (as ssh does for keys) when others may read it.
    static func fromFile(_ path: String) throws -> SecureBytes {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0, (info.st_mode & S_IFMT) == S_IFREG {
            Output.warning(
                "\(path) is open to others (mode \(String(info.st_mode & 0o777, radix: 8))): anyone who can read it has the secret"
            )
            Output.hint("chmod 600 \(path)")
        }
        return try SecretInput.fromFile(path)
    }
}

extension EntryPurpose: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension ExportProfile: ExpressibleByArgument {}
extension ExportTarget: ExpressibleByArgument {}
extension KDFStrength: ExpressibleByArgument {}
extension PersonRole: ExpressibleByArgument {}
extension RevocationReason: ExpressibleByArgument {}

/// A command whose repeated positional argument takes the runs
/// ``ArgumentRuns`` collapsed.
protocol ExpandsArgumentRuns: ParsableCommand {
    /// Puts the runs back; false when they are not all (and only) in its list.
    mutating func expand(_ runs: ArgumentRuns) -> Bool
}

extension Import: ExpandsArgumentRuns {
    mutating func expand(_ runs: ArgumentRuns) -> Bool {
        guard let expanded = runs.expand(files) else { return false }
        files = expanded
        return true
    }
}

/// A guide `certvault help TOPIC` prints, beside the commands' own help.
enum HelpTopic: String, CaseIterable {
    case officer
    case auditor
    case admin
    case targets
    case rules
    case exitCodes = "exit-codes"
    case man

    /// What the topic is, for the list of topics.
    var summary: String {
        switch self {
        case .officer: return "the security officer's guide: import, hand over, rotate"
        case .auditor: return "the auditor's guide: who touched a key, is the log whole"
        case .admin: return "the admin's guide: people, departures, backups, policy"
        case .targets: return "every export target, what is written for it and why"
        case .rules: return "every rule 'check' applies"
        case .exitCodes: return "what each exit code means"
        case .man: return "the manual page, in roff (certvault help man | man -l -)"
        }
    }

    var text: String {
        switch self {
        case .officer: return Guides.officer
        case .auditor: return Guides.auditor
        case .admin: return Guides.admin
        case .targets: return Self.targetsText
        case .rules: return Self.rulesText
        case .exitCodes: return ExitStatus.helpText
        case .man: return ManPage.text
        }
    }

    /// `certvault help topics`: each topic and what it holds.
    static var list: String {
        let width = allCases.map(\.rawValue.count).max() ?? 0
        return
            (["Guides in the binary ('certvault help TOPIC'):", ""]
            + allCases.map { "  \($0.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.summary)" })
            .joined(separator: "\n")
    }
}
