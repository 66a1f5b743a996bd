import ArgumentParser
import CertVault

/// Every exit code the command line uses, and what each means: the one
/// table `certvault --help` prints and the README's "Exit codes" section
/// repeats (a test holds them equal).
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    case error = 1
    case usage = 2
    case findings = 3
    case committed = 4
    case integrity = 5

    /// One line: what the code means, as `--help` and the README say it.
    var meaning: String {
        switch self {
        case .success: return "success"
        case .error:
            return "error: one `error:` line per problem on stderr, and a `hint:` when the likely fix is known"
        case .usage:
            return "usage: an unknown command or option, options that contradict each other, or a value that cannot"
                + " be read, found before any passphrase is asked for"
        case .findings:
            return "findings: `check` found something at or above --fail-on, or `inspect --target` found a file the"
                + " target would refuse"
        case .committed:
            return "committed: the change was recorded and something after the commit failed; the message names"
                + " the record and what did not happen (a file not written, an audit sink or this machine's"
                + " rollback witness not updated)"
        case .integrity:
            return "integrity: the vault does not match its signed records (any command), it was rolled back, or"
                + " `audit verify` failed; nothing was changed"
        }
    }

    /// The block `--help` ends its discussion with.
    /// Each meaning is wrapped here, under its own text, so that the help
    /// does not wrap it at the margin.
    static var helpText: String {
        var lines = ["Exit codes:"]
        for status in allCases {
            var line = "  \(status.rawValue)  "
            for word in status.meaning.split(separator: " ") {
                if line.count + 1 + word.count > 78, !line.hasSuffix("  ") {
                    lines.append(line)
                    line = "     "
                }
                line += (line.hasSuffix(" ") ? "" : " ") + word
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The code a library error exits with.
    static func of(_ error: CertVaultError) -> ExitStatus {
        switch error.code {
        case .committed: return .committed
        case .verificationFailed, .tampered, .rollback: return .integrity
        default: return .error
        }
    }

    /// Thrown to end a command with this code (after its output).
    var exit: ExitCode { ExitCode(rawValue) }
}
