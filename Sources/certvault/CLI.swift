import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

/// Exit codes: 0 success; 1 error; 2 usage; 3 verification or policy findings.
enum CLI {
    static func main(_ arguments: [String]) -> Never {
        if let mistake = Suggestions.mistake(in: arguments) {
            Output.error(mistake.message)
            Output.hint(mistake.hint)
            exit(2)
        }
        do {
            var command = try Root.parseAsRoot(arguments)
            try command.run()
            exit(0)
        } catch let error as CertVaultError {
            fail(error)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            let code = Root.exitCode(for: error)
            if code == .success {
                print(Root.fullMessage(for: error))
                exit(0)
            }
            guard code == .validationFailure else {
                // Not a usage mistake: an error the library let through unwrapped.
                Output.error(error.localizedDescription)
                exit(1)
            }
            Output.error(Root.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid usage")
            Output.hint("see 'certvault help' or 'certvault COMMAND --help'")
            exit(2)
        }
    }

    static func fail(_ error: CertVaultError) -> Never {
        Output.error(error.message)
        if let hint = error.cliHint { Output.hint(hint) }
        exit([.verificationFailed, .tampered, .rollback].contains(error.code) ? 3 : 1)
    }
}

struct Root: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certvault",
        abstract: "Keep an organisation's certificates and private keys in one encrypted file.",
        discussion: """
            Exit codes: 0 success, 1 error, 2 usage, 3 verification findings (a vault that does not match its signed \
            records, or was rolled back).
            Passphrases come from --passphrase-file, CERTVAULT_PASSPHRASE or a prompt; never from an option's value.

            Example:
              certvault init --admin alice
              certvault import contoso.pfx --purpose ssl --domain contoso.com
              certvault export contoso.com --format pfx --profile legacy --for bob --generate-password --out contoso.pfx
            """,
        version: "certvault \(certvaultVersion)",
        subcommands: [
            Init.self, Import.self, List.self, Show.self, Export.self, New.self, Csr.self, Grant.self, Ungrant.self,
            Check.self, Inspect.self, Rotate.self, Revoke.self, Retire.self, Backup.self, Restore.self,
            AuditCommand.self,
            PersonCommand.self, PolicyCommand.self, Report.self,
        ]
    )
}

/// Options every command that reads a vault takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault file (env CERTVAULT_VAULT).", valueName: "path"))
    var vault: String?

    @Option(
        name: .customLong("as"),
        help: ArgumentHelp(
            "Act as this person (env CERTVAULT_USER; default: the only person who can unlock).",
            valueName: "handle"
        )
    )
    var actor: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the vault passphrase from this file (else CERTVAULT_PASSPHRASE, else a prompt).",
            valueName: "file"
        )
    )
    var passphraseFile: String?

    var vaultPath: String {
        if let vault { return vault }
        if let env = getenv("CERTVAULT_VAULT").map({ String(cString: $0) }), !env.isEmpty { return env }
        return Locations.defaultVaultPath
    }

    var actorHandle: String? {
        actor ?? getenv("CERTVAULT_USER").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens the vault; a person named with --as or CERTVAULT_USER must be
    /// one the signed records introduce, even for commands that need no
    /// passphrase.
    func openVault() throws -> Vault {
        let vault = try Vault.open(at: vaultPath)
        if let handle = actorHandle { _ = try vault.actor(handle) }
        return vault
    }

    /// Works out who acts, then asks for their passphrase (the one KDF run).
    func unlock(_ vault: Vault) throws -> Session {
        let person = try vault.actor(actorHandle)
        let passphrase = try Secrets.read(
            file: passphraseFile,
            environment: "CERTVAULT_PASSPHRASE",
            prompt: "Passphrase for \(person.handle): ",
            what: "the passphrase for \(person.handle)",
            fileOption: "--passphrase-file"
        )
        return try vault.unlock(handle: person.handle, passphrase: passphrase)
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
}

enum Secrets {
    /// A secret from a file option, an environment variable, or the terminal.
    static func read(
        file: String?,
        environment: String,
        prompt: String,
        what: String,
        fileOption: String,
        confirm: Bool = false
    ) throws -> SecureBytes {
        if let file { return try SecretInput.fromFile(file) }
        if let secret = SecretEnvironment.take(environment) { return secret }
        guard SecretInput.hasTerminal else {
            throw CertVaultError(
                .invalidArgument,
                "\(what) is needed and there is no terminal to ask on",
                hint: "give it with \(fileOption) FILE or \(environment)"
            )
        }
        let first = try SecretInput.prompt(prompt)
        if confirm {
            let second = try SecretInput.prompt("Again: ")
            guard first.isEqual(to: second) else { throw CertVaultError(.invalidArgument, "the two entries differ") }
        }
        return first
    }

    /// A secret only if one was given (file or environment); no prompt.
    static func given(file: String?, environment: String) throws -> SecureBytes? {
        if let file { return try SecretInput.fromFile(file) }
        return SecretEnvironment.take(environment)
    }
}

extension EntryPurpose: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension ExportProfile: ExpressibleByArgument {}
extension ExportTarget: ExpressibleByArgument {}
extension KDFStrength: ExpressibleByArgument {}
extension PersonRole: ExpressibleByArgument {}
extension RevocationReason: ExpressibleByArgument {}
