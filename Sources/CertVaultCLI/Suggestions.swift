import ArgumentParser
import CertVault
import Foundation

/// "Did you mean": an unknown command or option is named, with the nearest
/// known one, before the argument parser reports something less direct
/// (a missing option, or an unknown option when the command is unknown).
enum Suggestions {
    struct Mistake: Error {
        var message: String
        var hint: String
    }

    /// The first unknown command or option in `arguments`, if any.
    static func mistake(in arguments: [String]) -> Mistake? {
        // The shell's completion calls (---completion) are the parser's own.
        if arguments.first?.hasPrefix("---") == true { return nil }
        var command: ParsableCommand.Type = Root.self
        var path = ["certvault"]
        var i = 0
        while i < arguments.count, !arguments[i].hasPrefix("-") {
            let word = arguments[i]
            let subcommands = command.configuration.subcommands
            if subcommands.isEmpty { break }
            if word == "help" && command == Root.self {
                // `help TOPIC`: a command, or a guide that ships in the binary; anything else is a mistake.
                guard i + 1 < arguments.count, !arguments[i + 1].hasPrefix("-") else { return nil }
                let topic = arguments[i + 1]
                let names = subcommands.map { $0._commandName } + HelpTopic.allCases.map(\.rawValue)
                if names.contains(topic) { return nil }
                return Mistake(
                    message: "no help topic '\(topic)'",
                    hint: nearest(topic, in: names).map { "did you mean 'certvault help \($0)'?" }
                        ?? "the topics are the commands and: \(HelpTopic.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            guard let next = subcommands.first(where: { $0._commandName == word }) else {
                let names = subcommands.map { $0._commandName }
                let what = path.count == 1 ? "command" : "\(path.dropFirst().joined(separator: " ")) command"
                return Mistake(
                    message: "unknown \(what) '\(word)'",
                    hint: nearest(word, in: names).map { "did you mean '\(path.joined(separator: " ")) \($0)'?" }
                        ?? "the \(what)s are: \(names.joined(separator: ", "))"
                )
            }
            command = next
            path.append(word)
            i += 1
        }
        let (known, takingValues) = options(of: command)
        var skipNext = false
        for argument in arguments[i...] {
            if skipNext {
                skipNext = false
                continue
            }
            if argument == "--" { break }
            guard argument.hasPrefix("--"), argument.count > 2 else { continue }
            // The value of an option that takes one, even if it starts with "--".
            if takingValues.contains(argument) { skipNext = true }
            let name = String(argument.split(separator: "=", maxSplits: 1)[0])
            if known.contains(name) { continue }
            return Mistake(
                message: "unknown option '\(name)' for '\(path.joined(separator: " "))'",
                hint: nearest(name, in: Array(known)).map { "did you mean '\($0)'?" }
                    ?? "see '\(path.joined(separator: " ")) --help'"
            )
        }
        return nil
    }

    /// The long options a command takes, read from its own help, and those
    /// of them that take a value (`--out <file>`).
    static func options(of command: ParsableCommand.Type) -> (all: Set<String>, takingValues: Set<String>) {
        let help = command.helpMessage(columns: 10_000)
        var takingValues: Set<String> = ["--passphrase-file"]
        var names: Set<String> = [
            "--help", "--version", "--generate-completion-script", "--experimental-dump-help",
            // Hidden where no passphrase is needed, but accepted.
            "--passphrase-file",
        ]
        var scanner = help[...]
        while let range = scanner.range(of: "--") {
            var end = range.upperBound
            while end < scanner.endIndex, scanner[end].isLetter || scanner[end].isNumber || scanner[end] == "-" {
                end = scanner.index(after: end)
            }
            if end > range.upperBound {
                let name = String(scanner[range.lowerBound..<end])
                names.insert(name)
                if scanner[end...].hasPrefix(" <") { takingValues.insert(name) }
            }
            scanner = scanner[end...]
        }
        return (names, takingValues)
    }

    /// The candidate nearest `word` if it is near enough to be a slip:
    /// an edit distance of at most a third of its length (at least 1), or
    /// a prefix of it.
    static func nearest(_ word: String, in candidates: [String]) -> String? {
        var best: (name: String, distance: Int)?
        for candidate in candidates.sorted() {
            let d = distance(word, candidate)
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        guard let best else { return nil }
        let limit = max(1, word.count / 3)
        if best.distance <= limit { return best.name }
        let prefixed = candidates.filter { $0.hasPrefix(word) && word.count >= 3 }
        return prefixed.count == 1 ? prefixed[0] : nil
    }

    /// Damerau-Levenshtein distance (with adjacent transpositions).
    static func distance(_ a: String, _ b: String) -> Int { Display.editDistance(a, b) }
}
