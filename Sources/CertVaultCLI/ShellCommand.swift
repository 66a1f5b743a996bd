import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

/// The interactive shell's state: the one vault it works on and the one
/// unlocked session, which every command run in it uses instead of opening
/// and unlocking its own. Nothing of it is written anywhere.
enum ShellContext {
    nonisolated(unsafe) private(set) static var vault: Vault?
    nonisolated(unsafe) private(set) static var session: Session?
    nonisolated(unsafe) private(set) static var handle = ""
    /// Asks the passphrase again once the shell has locked.
    nonisolated(unsafe) static var unlockAgain: (() throws -> Session)?

    static var isActive: Bool { vault != nil }

    static func enter(_ vault: Vault, _ session: Session, unlockAgain: @escaping () throws -> Session) {
        self.vault = vault
        self.session = session
        handle = session.person.handle
        self.unlockAgain = unlockAgain
    }

    /// Wipes the keys; the next command that needs them asks again.
    static func lock() { session?.lock() }

    static var isLocked: Bool { session?.isLocked ?? true }

    /// The shell's session: the one unlocked, or (after a lock) a new one,
    /// asked for now.
    static func unlocked() throws -> Session {
        if let session, !session.isLocked { return session }
        guard let unlockAgain else { throw CertVaultError(.closed, "the shell is locked") }
        let fresh = try unlockAgain()
        session = fresh
        return fresh
    }

    /// Commands that cannot run inside the shell, and why.
    static let outside: [String: String] = [
        "shell": "this is the shell already",
        "init": "a new vault is made outside the shell",
        "restore": "a restore replaces the vault file the shell has open: run it outside the shell",
    ]

    /// Refuses, in the shell, a command that cannot run there, or one that
    /// names another vault or person than the shell's.
    static func admit(_ command: ParsableCommand) throws {
        guard isActive else { return }
        let name = type(of: command).configuration.commandName ?? type(of: command)._commandName
        if let why = outside[name] {
            throw UsageError(error: CertVaultError(.invalidArgument, "\(name) cannot run in the shell: \(why)"))
        }
    }

    /// The shell's vault for a command that names `path` (nil: none) and `actor`.
    static func vault(given path: String?, actor: String?) throws -> Vault? {
        guard let vault else { return nil }
        if let path, path != vault.path {
            throw UsageError(
                error: CertVaultError(
                    .invalidArgument,
                    "the shell works on \(vault.path); leave it (exit) to use \(path)"
                )
            )
        }
        if let actor, actor != handle {
            throw UsageError(
                error: CertVaultError(
                    .invalidArgument,
                    "the shell acts as \(handle); leave it (exit) to act as \(actor)"
                )
            )
        }
        return vault
    }
}

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unlock once, then run commands: a batch of work without typing the passphrase each time.",
        discussion: """
            Commands are typed as on the command line, without 'certvault' (export contoso.com --target \
            app-service --for bob --out c.pfx), with line editing, history (↑/↓) and Tab completion of commands, \
            options, aliases and handles. Every action is recorded exactly as from the command line. The keys stay \
            only in this process's locked memory: 'lock', or the idle timeout, wipes them (the next command that \
            needs them asks the passphrase again); 'exit', Ctrl-D, a hangup or SIGTERM wipes them and leaves. No \
            socket, no daemon, nothing written to disk: history lives in memory, and never keeps a line that \
            names a password option, is not a command (a passphrase typed at the wrong prompt), or is your \
            passphrase. Ctrl-C drops the line being typed; while a command runs it ends the shell, as it would \
            end the command outside it. Lines may also come from a pipe: certvault shell < batch.txt.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(
        name: .customLong("idle"),
        help: ArgumentHelp(
            "Lock after this many minutes without a key pressed (default 5; 0: never).",
            valueName: "minutes"
        )
    )
    var idleMinutes: Double = 5

    func validate() throws {
        guard idleMinutes >= 0, idleMinutes <= 24 * 60 else {
            throw ValidationError("--idle takes minutes from 0 (never) to 1440")
        }
    }

    /// Words that would carry a secret's source: a line naming them is not kept.
    static let secretOptions = ["--passphrase-file", "--password-file", "--new-passphrase-file", "--pin-file"]

    func run() throws {
        let vault = try global.openVault()
        let first = try global.unlock(vault)
        // After a lock the passphrase is asked at the terminal: never read again from a file or the environment.
        var again = global
        again.passphraseFile = nil
        ShellContext.enter(vault, first) { try again.prompting(vault) }
        TerminalHold.deferHangup(true)
        defer {
            ShellContext.lock()
            TerminalHold.deferHangup(false)
        }
        let editor = LineEditor()
        editor.complete = { before, word in Self.candidates(before, word, vault: vault) }
        let idle = idleMinutes > 0 ? idleMinutes * 60 : nil
        if editor.isInteractive {
            Output.line(
                "unlocked as \(first.person.handle) on \(vault.path). 'help' lists commands; 'lock' wipes the keys, 'exit' leaves\(idle.map { _ in "; \(Self.minutes(idleMinutes)) without a key locks" } ?? "")."
            )
        }
        loop: while true {
            let locked = ShellContext.isLocked
            let prompt = "certvault \(ShellContext.handle)\(locked ? " (locked)" : "")> "
            switch editor.read(prompt: editor.isInteractive ? prompt : "", idle: locked ? nil : idle) {
            case .idle:
                ShellContext.lock()
                Output.line(
                    "locked after \(Self.minutes(idleMinutes)) without a key: the keys are wiped; the next command that needs them asks the passphrase"
                )
            case .end, .hangup:
                break loop
            case .line(let text):
                let words: [String]
                do { words = try ShellWords.split(text) } catch let error as ShellWordsError {
                    Output.error(error.message)
                    continue
                }
                guard let name = words.first else { continue }
                if Self.builtins.contains(name) {
                    guard words.count == 1 else {
                        Output.error("\(name) takes nothing after it")
                        continue
                    }
                    if Self.keeps(text, words, session: ShellContext.session) { editor.remember(text) }
                    switch name {
                    case "exit", "quit": break loop
                    case "lock":
                        ShellContext.lock()
                        Output.line("locked: the keys are wiped; the next command that needs them asks the passphrase")
                    default: print(Self.help)
                    }
                    continue
                }
                // Not a command: perhaps a passphrase typed at the wrong prompt. Never shown, never kept.
                guard Self.commandNames.contains(name) else {
                    Output.error("that is not a command (the line is neither shown nor kept)")
                    Output.hint("'help' lists the commands")
                    continue
                }
                if Self.keeps(text, words, session: ShellContext.session) { editor.remember(text) }
                _ = CLI.execute(words)
            }
            if TerminalHold.hangupPending { break }
        }
        ShellContext.lock()
        if editor.isInteractive { Output.line("locked; the keys are wiped") }
    }

    static func minutes(_ m: Double) -> String {
        m == m.rounded() ? Output.count(Int(m), "minute", "minutes") : "\(m) minutes"
    }

    static let help = """
        Commands, as on the command line without 'certvault' (each has --help):
          list, show, check, report, export, import, inspect, grant, ungrant, rotate, revoke, retire,
          rename, csr, new, person, policy, audit, backup, help TOPIC
        In the shell:
          lock    wipe the keys now; the next command that needs them asks the passphrase
          exit    wipe the keys and leave (or Ctrl-D)
          help    this text
        Not here: init, restore (run them outside the shell).
        """

    static let builtins: Set<String> = ["exit", "quit", "lock", "help"]
    static var commandNames: Set<String> {
        Set(Root.configuration.subcommands.map { $0.configuration.commandName ?? $0._commandName })
    }

    /// Whether a line may be kept in the history: a whole command line as
    /// the parser reads it (or a shell word alone), naming no password
    /// option anywhere (comments included), and not the passphrase itself
    /// (compared while locked too). A line that does not parse may be a
    /// secret typed at the wrong prompt.
    static func keeps(_ text: String, _ words: [String], session: Session?) -> Bool {
        if secretOptions.contains(where: { text.contains($0) }) { return false }
        if let session, session.isPassphrase(SecureBytes(utf8: text)) { return false }
        if words.count == 1, builtins.contains(words[0]) { return true }
        return (try? CLI.parse(words)) != nil
    }

    /// Tab's candidates: commands first, then subcommands, options of the
    /// command, and aliases and handles (only names that keep to the rules).
    static func candidates(_ before: [String], _ word: String, vault: Vault) -> [String] {
        var command: ParsableCommand.Type = Root.self
        var used = 0
        for w in before {
            guard
                let sub = command.configuration.subcommands.first(where: {
                    ($0.configuration.commandName ?? $0._commandName) == w
                })
            else { break }
            command = sub
            used += 1
        }
        let subs = command.configuration.subcommands.filter { $0.configuration.shouldDisplay }
        if used == before.count, !subs.isEmpty {
            let names = subs.map { $0.configuration.commandName ?? $0._commandName }
            return (names + (before.isEmpty ? ["lock", "exit", "help"] : [])).filter {
                !ShellContext.outside.keys.contains($0)
            }
            .sorted()
        }
        if word.hasPrefix("-") {
            let help = Root.helpMessage(for: command, columns: 200)
            var options = Set<String>()
            var rest = Substring(help)
            while let r = rest.range(of: "--") {
                let name = rest[r.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
                if name.count > 2 { options.insert(String(name)) }
                rest = rest[r.upperBound...]
            }
            return options.sorted()
        }
        let aliases = ((try? vault.entries()) ?? []).map(\.alias).filter(Alias.isValid)
        let handles = ((try? vault.people()) ?? []).filter { $0.status == .active }.map(\.handle).filter(
            Vault.isValidHandle
        )
        return Array(Set(aliases + handles)).sorted()
    }
}
