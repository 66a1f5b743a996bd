import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

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
        // The files are decrypted while the passphrase's key derivation runs (in the shell: unlocked already).
        let given = ShellContext.isActive ? nil : try global.passphrase(for: vault)
        let prefetch = ImportPrefetch(paths, password: password, limits: limitOptions.limits, progress: progress)
        let session: Session
        do {
            if let (handle, passphrase) = given {
                session = try vault.unlock(handle: handle, passphrase: passphrase)
            } else {
                session = try global.unlock(vault)
            }
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
