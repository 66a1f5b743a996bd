import ArgumentParser
import CertVault
import Foundation

/// `certvault audit sink`: where this machine sends a copy of the vault's audit records.
struct SinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sink",
        abstract: "Where this machine sends a copy of every audit record (local configuration, no passphrase).",
        discussion: """
            A sink is a file (best on append-only storage: chattr +a, a log host, a WORM bucket) or syslog. It is named \
            in this machine's configuration ($XDG_CONFIG_HOME/certvault/sinks, or /etc/certvault/sinks with --system), \
            per vault, never in the vault file. Every record is sent as one line of JSON, the signed record itself; a key \
            is released only once its export's record is in every sink, and 'certvault audit verify --against FILE' \
            shows every record a rolled-back vault lacks.
            """,
        subcommands: [Add.self, Remove.self, ListSinks.self, Sync.self]
    )

    /// Which sink, as `add` and `remove` take it.
    struct SinkArguments: ParsableArguments {
        @Argument(help: "file or syslog.") var kind: String
        @Argument(
            help: ArgumentHelp(
                "For file, its absolute path; for syslog, the tag (default certvault).",
                valueName: "path|tag"
            )
        )
        var target: String?
        @Option(help: ArgumentHelp("The syslog socket (default /dev/log).", valueName: "path")) var socket: String?
        @Flag(help: "Write the system-wide configuration (/etc/certvault/sinks) instead of yours.") var system = false

        func sink() throws -> AuditSink {
            try UsageError.reading {
                switch kind {
                case "file":
                    guard let target else {
                        throw CertVaultError(.invalidArgument, "a file sink needs its path")
                    }
                    guard socket == nil else { throw CertVaultError(.invalidArgument, "--socket is for a syslog sink") }
                    let absolute =
                        target.hasPrefix("/")
                        ? target : FileManager.default.currentDirectoryPath + "/" + target
                    return try AuditSink.checkedFile(URL(fileURLWithPath: absolute).standardizedFileURL.path)
                case "syslog":
                    return try AuditSink.checkedSyslog(
                        tag: target ?? AuditSink.defaultSyslogTag,
                        socket: socket ?? AuditSink.defaultSyslogSocket
                    )
                default:
                    throw CertVaultError(
                        .invalidArgument,
                        "there is no sink of the kind '\(kind)'",
                        hint: "give file PATH or syslog [TAG]"
                    )
                }
            }
        }

        /// The vault's configuration, and the file of it `add` and `remove` write.
        func target(_ vault: Vault) -> (configuration: AuditSinkConfiguration, file: String?) {
            let configuration = vault.sinkConfiguration ?? .standard
            return (configuration, system ? AuditSinkConfiguration.systemFile : configuration.files.last)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Name a sink for the vault on this machine, and send it every record so far.",
            discussion: """
                Examples:
                  certvault audit sink add file /var/log/certvault/payments.jsonl
                  certvault audit sink add syslog certvault
                """
        )
        @OptionGroup var global: ReadOptions
        @OptionGroup var which: SinkArguments

        func run() throws {
            let sink = try which.sink()
            let vault = try global.openVault()
            let (configuration, file) = which.target(vault)
            let added = try configuration.add(sink, for: vault.vaultID, to: file)
            Output.line(added ? "added \(sink) to \(file ?? "?")" : "\(file ?? "?") already names \(sink)")
            try Sync.report(vault)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop sending the vault's records to a sink from this machine."
        )
        @OptionGroup var global: ReadOptions
        @OptionGroup var which: SinkArguments

        func run() throws {
            let sink = try which.sink()
            let vault = try global.openVault()
            let (configuration, file) = which.target(vault)
            guard try configuration.remove(sink, for: vault.vaultID, from: file) else {
                throw CertVaultError(
                    .notFound,
                    "\(file ?? "the configuration") does not name \(sink) for this vault",
                    hint: "list the sinks with 'certvault audit sink list'"
                )
            }
            Output.line("removed \(sink)")
        }
    }

    struct ListSinks: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the vault's sinks on this machine."
        )
        @OptionGroup var global: ReadOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let vault = try global.openVault()
            let sinks = try vault.auditSinks()
            if json { return try Output.json(sinks.map(\.description)) }
            if sinks.isEmpty {
                Output.line("no audit sink for vault \(vault.vaultID.hexLowerForDisplay) on this machine")
            }
            for sink in sinks { Output.line(sink.description) }
        }
    }

    struct Sync: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send every sink each record it lacks (after a sink was down: keys are released again once done)."
        )
        @OptionGroup var global: ReadOptions

        func run() throws { try Self.report(try global.openVault()) }

        /// Syncs every sink and says how each stands; exits 1 when one is behind.
        static func report(_ vault: Vault) throws {
            let statuses = try vault.syncAuditSinks(acceptingReplacedFiles: true)
            if statuses.isEmpty {
                Output.line("no audit sink for this vault on this machine")
                return
            }
            var failed: CertVaultError?
            for status in statuses {
                if let error = status.error {
                    Output.stderr("\(status.sink): not up to date: \(error.message)")
                    failed = failed ?? error
                } else {
                    if status.replaced {
                        Output.warning(
                            "\(status.sink) was replaced, cut or removed since this machine last wrote it: "
                                + "the whole log was sent to it again; keep the old file if it still exists"
                        )
                    }
                    Output.line(
                        "\(status.sink): sent \(status.sent) record\(status.sent == 1 ? "" : "s"), holds through record \(status.heldThrough.map(String.init) ?? "-")"
                    )
                }
            }
            if let failed {
                throw CertVaultError(
                    failed.code,
                    "an audit sink is behind: no key is released until it holds every record",
                    hint: failed.cliHint
                )
            }
        }
    }
}

extension Data {
    /// Lower-case hex, as the sink configuration names vaults.
    var hexLowerForDisplay: String { map { String(format: "%02x", $0) }.joined() }
}
