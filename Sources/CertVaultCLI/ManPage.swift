import ArgumentParser
import CertVault
import Foundation

/// `certvault help man` (or `certvault --man`): the manual page, in roff
/// (`man -l -` reads it), made from the same command tree and texts as
/// `--help`, so the two never differ and no source checkout is needed.
enum ManPage {
    static var text: String {
        var out = [
            ".TH CERTVAULT 1 \"\" \"certvault \(certvaultVersion)\" \"User Commands\"",
            ".SH NAME",
            "certvault \\- " + escape(Root.configuration.abstract),
            ".SH SYNOPSIS",
            ".B certvault",
            ".I command",
            "[\\fIoptions\\fR]",
            ".SH DESCRIPTION",
        ]
        out += paragraphs(Root.configuration.discussion.components(separatedBy: "\n\nExit codes").first ?? "")
        out.append(".SH COMMANDS")
        for (path, command) in commands(Root.self, path: []) {
            out.append(".SS " + escape("certvault " + path.joined(separator: " ")))
            out += preformatted(Root.helpMessage(for: command, columns: 78))
        }
        out.append(".SH \"EXIT STATUS\"")
        for status in ExitStatus.allCases {
            out += [".TP", ".B \(status.rawValue)", escape(status.meaning)]
        }
        out.append(".SH ENVIRONMENT")
        for (name, what) in environment {
            out += [".TP", ".B \(name)", escape(what)]
        }
        out.append(".SH \"SEE ALSO\"")
        out.append(
            escape(
                "certvault help officer, certvault help auditor, certvault help admin, certvault help targets, certvault help rules, certvault help exit-codes; openssl-pkcs12(1)."
            )
        )
        return out.joined(separator: "\n") + "\n"
    }

    static let environment: [(String, String)] = [
        ("CERTVAULT_VAULT", "The vault file, instead of --vault."),
        ("CERTVAULT_USER", "Who acts, instead of --as (default: the only person who can unlock, else the login name)."),
        ("CERTVAULT_PASSPHRASE", "The vault passphrase, for automation; removed from the environment once read."),
        ("CERTVAULT_NEW_PASSPHRASE", "A new passphrase (init, person add, person passwd)."),
        ("CERTVAULT_FILE_PASSWORD", "The password of a file imported, inspected or exported."),
        ("XDG_STATE_HOME", "Where this machine's rollback witness is kept (certvault/ under it)."),
        ("XDG_CONFIG_HOME", "Where local configuration is kept (certvault/ under it)."),
    ]

    /// Every runnable command under `command`, depth first, with its path.
    static func commands(_ command: ParsableCommand.Type, path: [String]) -> [([String], ParsableCommand.Type)] {
        var found: [([String], ParsableCommand.Type)] = []
        for sub in command.configuration.subcommands where sub.configuration.shouldDisplay {
            let name = sub.configuration.commandName ?? sub._commandName
            let here = path + [name]
            if sub.configuration.subcommands.isEmpty {
                found.append((here, sub))
            } else {
                found += commands(sub, path: here)
            }
        }
        return found
    }

    /// Text a roff reader shows as it is: backslashes and hyphens escaped,
    /// anything past ASCII named (`\[u2014]`), a line that would start
    /// with a control character guarded.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\e"
            case "-": out += "\\-"
            case _ where scalar.value > 0x7E || scalar.value < 0x20:
                out += "\\[u" + String(format: "%04X", scalar.value) + "]"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out.hasPrefix(".") || out.hasPrefix("'") ? "\\&" + out : out
    }

    static func paragraphs(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").flatMap { paragraph -> [String] in
            let trimmed = paragraph.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { return [] }
            if paragraph.contains("\n  ") { return [".PP"] + preformatted(trimmed) }
            return [".PP", escape(trimmed.replacingOccurrences(of: "\n", with: " "))]
        }
    }

    static func preformatted(_ text: String) -> [String] {
        [".nf"] + text.split(separator: "\n", omittingEmptySubsequences: false).map { escape(String($0)) } + [".fi"]
    }
}
