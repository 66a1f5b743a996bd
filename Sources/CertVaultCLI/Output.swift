import CertVault
import Foundation

/// Everything the CLI prints for a person. Text from a file or the vault
/// may hold terminal escape sequences, so every line and table cell passes
/// through ``Display/escaped(_:)`` (design rule 7); JSON stays exact.
enum Output {
    /// `count` and the noun, singular for one: "1 entry", "2 entries".
    static func count(_ count: Int, _ one: String, _ many: String) -> String {
        "\(count) \(count == 1 ? one : many)"
    }

    static func error(_ message: String) { stderr("error: \(message)") }
    static func hint(_ message: String) { stderr("hint: \(message)") }
    static func warning(_ message: String) { stderr("warning: \(message)") }
    static func note(_ message: String) { stderr(message) }

    /// What the library says of a wait behind another process's write, as a note.
    @Sendable static func waitNote(_ message: String) { note("note: " + message) }

    /// One line on stdout, escaped.
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((Display.escaped(text) + "\n").utf8))
    }

    /// Many lines on stdout, escaped, in one write.
    static func lines(_ texts: [String]) {
        var out: [UInt8] = []
        out.reserveCapacity(texts.reduce(0) { $0 + $1.utf8.count + 1 })
        for text in texts {
            out.append(contentsOf: Display.escaped(text).utf8)
            out.append(0x0A)
        }
        FileHandle.standardOutput.write(Data(out))
    }

    /// Lines gathered as bytes, each escaped, for one write: for output of
    /// hundreds of thousands of lines, where an array of strings costs more
    /// than the lines themselves.
    struct Lines {
        private var bytes: [UInt8] = []

        init(capacity: Int) { bytes.reserveCapacity(capacity) }

        /// One line made of `parts`, each escaped as ``Output/line(_:)`` escapes a line.
        mutating func append(_ parts: String...) {
            for part in parts { text(part) }
            endLine()
        }

        /// Text from the vault or a file, escaped, on the current line.
        mutating func text(_ part: String) { bytes.append(contentsOf: Display.escaped(part).utf8) }

        /// Text of our own (known to be safe), as it is, on the current line.
        mutating func raw(_ part: String) { bytes.append(contentsOf: part.utf8) }

        mutating func endLine() { bytes.append(0x0A) }

        /// Writes the lines to stdout and empties them.
        mutating func write() {
            bytes.withUnsafeBytes { buf in
                var offset = 0
                while offset < buf.count {
                    let n = Glibc.write(1, buf.baseAddress! + offset, buf.count - offset)
                    if n < 0, errno == EINTR { continue }
                    if n <= 0 { break }
                    offset += n
                }
            }
            bytes.removeAll()
        }
    }

    /// A progress line that rewrites itself on a terminal.
    static func progress(_ text: String, final: Bool) {
        FileHandle.standardError.write(Data(("\r" + Display.escaped(text) + (final ? "\n" : "")).utf8))
    }

    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((Display.escaped(line) + "\n").utf8))
    }

    /// Writes a secret to stderr without making a Swift string of it.
    static func revealSecret(_ label: String, _ secret: SecureBytes) {
        FileHandle.standardError.write(Data(label.utf8))
        writeSecret(secret, to: 2)
        FileHandle.standardError.write(Data("\n".utf8))
    }

    /// Writes a secret to a file descriptor straight from secure memory.
    static func writeSecret(_ secret: SecureBytes, to fd: Int32) {
        secret.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    /// JSON for scripts: sorted keys, ISO 8601 dates.
    /// What a command that changes the vault did, for `--json`: the entry
    /// or person as they now stand and the record that vouches for it.
    struct Change: Encodable {
        var command: String
        var entry: Entry?
        /// The entry replaced (`rotate`).
        var predecessor: Entry?
        var person: Person?
        /// The file written (`backup`, `csr`).
        var file: String?
        /// The file exported (`export`): its name, format, recipient and SHA-256.
        var export: ExportResult?
        /// What a restore did (`restore`).
        var restore: RestoreOutcome?
        /// The rollback accepted (`audit accept-rollback`).
        var rollback: RestoreOutcome.Accepted?
        /// The setting as it now stands (`policy set`): key, value, record.
        var policy: [String: String]?
        /// The last record the change wrote, and the vault's head after it.
        var seq: Int64?
        var head: String?
    }

    /// What `restore --json` says: the files, what was accepted, undone,
    /// taken in and made again.
    struct RestoreOutcome: Encodable {
        struct Record: Encodable {
            var seq: Int64
            var action: String
            var actor: String?
            var subject: String?
        }
        struct Accepted: Encodable {
            var reason: String
            var seq: Int64
            var seenSeq: Int64
        }
        struct Reapplied: Encodable {
            var undoneSeq: Int64
            var action: String
            var summary: String
            var done: Bool
        }
        var backup: String
        var keptAs: String
        var accepted: Accepted?
        /// The replaced vault's signed records the restore undid; nil when
        /// its log was passed over and they cannot be listed.
        var undone: [Record]?
        var branch: [Record]
        var reapplied: [Reapplied]
        var ignoredCurrentLog: Bool

        init(_ r: Restoration, backup: String, keptAs: String) {
            func record(_ a: AuditRecord) -> Record {
                Record(seq: a.seq, action: a.action, actor: a.actorHandle, subject: a.entryAlias ?? a.personHandle)
            }
            self.backup = backup
            self.keptAs = keptAs
            accepted = r.accepted.map { Accepted(reason: $0.reason, seq: $0.head.seq, seenSeq: $0.seen.seq) }
            undone = r.undone?.map(record)
            branch = r.branch.map(record)
            reapplied = r.reapplied.map {
                Reapplied(undoneSeq: $0.undoneSeq, action: $0.action, summary: $0.summary, done: $0.done)
            }
            ignoredCurrentLog = r.ignoredCurrentLog
        }
    }

    /// Prints `change` as JSON, with the head `vault` now has.
    static func change(_ change: Change, in vault: Vault) throws {
        var change = change
        let head = try vault.auditHead()
        change.seq = head?.seq
        change.head = head?.description
        try json(change)
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(jsonEscapingUnsafe(String(decoding: try encoder.encode(value), as: UTF8.self)))
    }

    /// JSON with every character ``Display/isUnsafe(_:)`` names written as a
    /// `\uXXXX` escape: the same value for a JSON reader, and nothing that
    /// moves a cursor or reverses text when a person pipes it to a terminal
    /// (JSONEncoder escapes C0 controls itself, but not C1 or bidi controls).
    static func jsonEscapingUnsafe(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: Display.isUnsafe) else { return json }
        var out = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            // Outside strings JSON has only spaces and newlines, which stay.
            if Display.isUnsafe(scalar) && scalar.value > 0x1F {
                out.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// A plain-text table with a header row.
    static func table(_ header: [String], _ unescaped: [[String]]) {
        let rows = unescaped.map { $0.map(Display.escaped) }
        // Widths in characters, each cell padded with spaces to its column's (the last is not).
        let counts = rows.map { $0.map(\.count) }
        var widths = header.map(\.count)
        for row in counts { for (i, n) in row.enumerated() { widths[i] = max(widths[i], n) } }
        var out = Lines(capacity: rows.reduce(0) { $0 + $1.reduce(0) { $0 + $1.utf8.count + 2 } + 8 })
        func line(_ cells: [String], _ counts: [Int]) {
            for (i, cell) in cells.enumerated() {
                out.raw(cell)
                if i < cells.count - 1 { out.raw(String(repeating: " ", count: widths[i] - counts[i] + 2)) }
            }
            out.endLine()
        }
        line(header, header.map(\.count))
        for (row, n) in zip(rows, counts) { line(row, n) }
        out.write()
    }

    static func date(_ d: Date) -> String { Display.day(d) }

    /// RFC 4180 CSV on stdout, control characters escaped as everywhere. A
    /// cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is
    /// prefixed with `'`: names come from certificates, and whoever made the
    /// certificate chose them.
    static func csv(_ header: [String], _ rows: [[String]]) {
        func cell(_ value: String) -> String {
            var v = Display.escaped(value)
            if let first = v.first, "=+-@\t\r".contains(first) { v = "'" + v }
            guard v.contains(where: { ",\"\n\r".contains($0) }) else { return v }
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var out = ""
        for row in [header] + rows { out += row.map(cell).joined(separator: ",") + "\r\n" }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
