/// Long runs of plain words on a command line, parsed as one placeholder each.
///
/// swift-argument-parser merges each value of a repeated positional argument
/// with every value before it, so parsing `import` of 1,000 files took 78 ms
/// and of 9,000 several seconds. In a run of words that do not start with
/// `-`, only the first can be an option's value (every option takes one
/// value); the rest are positional. ``collapse(_:)`` replaces each such tail
/// by a placeholder no real argument can hold (it starts with a NUL byte,
/// which `argv` cannot carry), and ``expand(_:)`` puts the words back into
/// the parsed values. When anything does not fit (a parse error, a command
/// that does not expand) the caller parses the original arguments, so every
/// message and behaviour stays the parser's own.
public struct ArgumentRuns: Sendable {
    /// Command lines shorter than this are parsed as they are.
    public static let threshold = 64
    private static let marker = "\u{0}certvault-run-"

    /// The arguments with each run's tail replaced by its placeholder.
    public let arguments: [String]
    private let runs: [[String]]

    /// Nil when `arguments` is short or holds no run worth collapsing.
    public init?(_ arguments: [String]) {
        guard arguments.count >= Self.threshold else { return nil }
        var out: [String] = []
        var runs: [[String]] = []
        var i = 0
        while i < arguments.count {
            let word = arguments[i]
            // After `--` everything is positional: left as it is.
            if word == "--" {
                out += arguments[i...]
                break
            }
            guard Self.isPlain(word) else {
                out.append(word)
                i += 1
                continue
            }
            var end = i + 1
            while end < arguments.count, Self.isPlain(arguments[end]) { end += 1 }
            // The first word may be an option's value: kept. Two or more after it make a run.
            out.append(word)
            if end - (i + 1) >= 2 {
                out.append(Self.marker + String(runs.count))
                runs.append(Array(arguments[(i + 1)..<end]))
            } else {
                out += arguments[(i + 1)..<end]
            }
            i = end
        }
        guard !runs.isEmpty else { return nil }
        self.arguments = out
        self.runs = runs
    }

    private static func isPlain(_ word: String) -> Bool {
        !word.hasPrefix("-") && !word.hasPrefix(marker)
    }

    /// `values` with each placeholder replaced by its run; nil when a
    /// placeholder is not one of this command line's, or a run is missing
    /// or repeated (then parse the original arguments instead).
    public func expand(_ values: [String]) -> [String]? {
        var out: [String] = []
        var used = Set<Int>()
        for value in values {
            guard value.hasPrefix(Self.marker) else {
                out.append(value)
                continue
            }
            guard let n = Int(value.dropFirst(Self.marker.count)), runs.indices.contains(n),
                used.insert(n).inserted
            else { return nil }
            out += runs[n]
        }
        return used.count == runs.count ? out : nil
    }
}
