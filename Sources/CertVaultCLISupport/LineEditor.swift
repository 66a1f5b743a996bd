import Foundation
import Glibc

/// A line editor for the interactive shell: the terminal in raw mode only
/// while a line is being typed, editing keys as readline has them, history
/// in this process's memory only (never a file), Tab completion, and an
/// idle timeout.
///
/// Keys: ←/→, Home/End, Ctrl-A/E/B/F, Backspace, Delete, Ctrl-U/K/W
/// (erase to the start, to the end, a word), ↑/↓ and Ctrl-P/N (history),
/// Tab (complete; twice lists), Ctrl-L (clear the screen), Ctrl-C (drop
/// the line), Ctrl-D (end, on an empty line).
public final class LineEditor {
    /// What reading a line gave.
    public enum Outcome: Equatable {
        case line(String)
        /// Ctrl-D on an empty line, or the input ended.
        case end
        /// Nothing typed for the idle timeout.
        case idle
        /// A hangup or SIGTERM arrived (``TerminalHold/deferHangup(_:)``).
        case hangup
    }

    /// Lines kept for ↑/↓, oldest first; never written anywhere.
    public private(set) var history: [String] = []
    /// The most lines kept.
    public var historyLimit = 500
    /// Completes the word before the cursor: given the words before it and
    /// the word so far, the candidates.
    public var complete: ((_ before: [String], _ word: String) -> [String])?

    private let fd: Int32
    private let interactive: Bool

    /// An editor on the terminal when standard input is one; otherwise
    /// lines are read from standard input as they come (a script).
    public init() {
        interactive = isatty(0) == 1
        fd = 0
    }

    /// Whether lines are typed at a terminal (edited, with history).
    public var isInteractive: Bool { interactive }

    /// Keeps `line` for ↑/↓.
    public func remember(_ line: String) {
        guard !line.isEmpty, history.last != line else { return }
        history.append(line)
        if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
    }

    /// Forgets every line kept.
    public func forget() { history.removeAll() }

    /// Reads one line after `prompt`, waiting at most `idle` seconds for
    /// each key (nil: no limit).
    public func read(prompt: String, idle: TimeInterval?) -> Outcome {
        interactive ? edit(prompt: prompt, idle: idle) : plain(idle: idle)
    }

    // MARK: Reading

    /// One byte, waiting at most until `deadline`.
    private func byte(until deadline: Date?) -> (UInt8?, Outcome?) {
        while true {
            if TerminalHold.hangupPending { return (nil, .hangup) }
            var wait: Int32 = -1
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { return (nil, .idle) }
                wait = Int32(min(left * 1000, 1_000_000)) + 1
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, wait)
            if r < 0 {
                if errno == EINTR { continue }
                return (nil, .end)
            }
            if r == 0 { continue }
            var b: UInt8 = 0
            let n = Glibc.read(fd, &b, 1)
            if n == 1 { return (b, nil) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            return (nil, .end)
        }
    }

    private func plain(idle: TimeInterval?) -> Outcome {
        var bytes: [UInt8] = []
        while true {
            let (b, outcome) = byte(until: idle.map { Date().addingTimeInterval($0) })
            guard let b else {
                if outcome == .end, !bytes.isEmpty { return .line(String(decoding: bytes, as: UTF8.self)) }
                return outcome ?? .end
            }
            if b == 0x0A { return .line(String(decoding: bytes, as: UTF8.self)) }
            if b != 0x0D { bytes.append(b) }
        }
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { if n < 0 && errno == EINTR { continue } else { return } }
            offset += n
        }
    }

    private func edit(prompt: String, idle: TimeInterval?) -> Outcome {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return plain(idle: idle) }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(ICRNL | IXON)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return plain(idle: idle) }
        TerminalHold.resume(in: raw)
        defer {
            TerminalHold.resume(in: nil)
            tcsetattr(fd, TCSANOW, &saved)
        }

        var line: [Character] = []
        var cursor = 0
        var browsing = history.count
        var draft: [Character] = []
        var lastWasTab = false
        func redraw() {
            let tail = line.count - cursor
            write("\r" + prompt + String(line) + "\u{1B}[K" + (tail > 0 ? "\u{1B}[\(tail)D" : ""))
        }
        func step(_ by: Int) {
            guard !history.isEmpty else { return }
            if browsing == history.count { draft = line }
            let next = max(0, min(history.count, browsing + by))
            guard next != browsing else { return }
            browsing = next
            line = next == history.count ? draft : Array(history[next])
            cursor = line.count
            redraw()
        }
        write(prompt)
        var utf8: [UInt8] = []
        while true {
            let (got, outcome) = byte(until: idle.map { Date().addingTimeInterval($0) })
            guard let b = got else {
                write("\r\n")
                return outcome ?? .end
            }
            let wasTab = lastWasTab
            lastWasTab = false
            switch b {
            case 0x0D, 0x0A:
                write("\r\n")
                return .line(String(line))
            case 0x03:  // Ctrl-C: the line is dropped.
                write("^C\r\n")
                line = []
                cursor = 0
                browsing = history.count
                write(prompt)
            case 0x04:  // Ctrl-D
                if line.isEmpty {
                    write("\r\n")
                    return .end
                }
                if cursor < line.count {
                    line.remove(at: cursor)
                    redraw()
                }
            case 0x7F, 0x08:
                if cursor > 0 {
                    line.remove(at: cursor - 1)
                    cursor -= 1
                    redraw()
                }
            case 0x01:
                cursor = 0
                redraw()
            case 0x05:
                cursor = line.count
                redraw()
            case 0x02:
                if cursor > 0 { cursor -= 1 }
                redraw()
            case 0x06:
                if cursor < line.count { cursor += 1 }
                redraw()
            case 0x15:
                line.removeSubrange(0..<cursor)
                cursor = 0
                redraw()
            case 0x0B:
                line.removeSubrange(cursor...)
                redraw()
            case 0x17:
                var start = cursor
                while start > 0, line[start - 1] == " " { start -= 1 }
                while start > 0, line[start - 1] != " " { start -= 1 }
                line.removeSubrange(start..<cursor)
                cursor = start
                redraw()
            case 0x0C:
                write("\u{1B}[H\u{1B}[2J")
                redraw()
            case 0x10, 0x0E:
                step(b == 0x10 ? -1 : 1)
            case 0x09:
                completeWord(&line, &cursor, listing: wasTab)
                lastWasTab = true
                redraw()
            case 0x1B:
                let (b1, _) = byte(until: Date().addingTimeInterval(0.05))
                guard let b1, b1 == UInt8(ascii: "[") || b1 == UInt8(ascii: "O") else { continue }
                let (b2, _) = byte(until: Date().addingTimeInterval(0.05))
                guard let b2 else { continue }
                switch b2 {
                case UInt8(ascii: "A"): step(-1)
                case UInt8(ascii: "B"): step(1)
                case UInt8(ascii: "C"):
                    if cursor < line.count { cursor += 1 }
                    redraw()
                case UInt8(ascii: "D"):
                    if cursor > 0 { cursor -= 1 }
                    redraw()
                case UInt8(ascii: "H"):
                    cursor = 0
                    redraw()
                case UInt8(ascii: "F"):
                    cursor = line.count
                    redraw()
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    // ESC [ n ~ : 3 is Delete, 1 and 7 Home, 4 and 8 End.
                    var code = Int(b2 - UInt8(ascii: "0"))
                    while true {
                        let (n, _) = byte(until: Date().addingTimeInterval(0.05))
                        guard let n, n >= UInt8(ascii: "0"), n <= UInt8(ascii: "9") else { break }
                        code = code * 10 + Int(n - UInt8(ascii: "0"))
                    }
                    if code == 3, cursor < line.count { line.remove(at: cursor) }
                    if code == 1 || code == 7 { cursor = 0 }
                    if code == 4 || code == 8 { cursor = line.count }
                    redraw()
                default: continue
                }
            default:
                guard b >= 0x20 else { continue }
                utf8.append(b)
                // A whole UTF-8 sequence, then the character.
                let need = utf8[0] < 0x80 ? 1 : utf8[0] < 0xE0 ? 2 : utf8[0] < 0xF0 ? 3 : 4
                guard utf8.count >= need else { continue }
                for ch in String(decoding: utf8, as: UTF8.self) {
                    line.insert(ch, at: cursor)
                    cursor += 1
                }
                utf8 = []
                redraw()
            }
        }

    }

    /// Completes the word at the cursor: the one candidate (and a space),
    /// or the prefix all candidates share; a second Tab lists them.
    private func completeWord(_ line: inout [Character], _ cursor: inout Int, listing: Bool) {
        guard let complete else { return }
        var start = cursor
        while start > 0, line[start - 1] != " " { start -= 1 }
        let word = String(line[start..<cursor])
        let before = String(line[0..<start]).split(separator: " ").map(String.init)
        let candidates = complete(before, word).filter { $0.hasPrefix(word) }
        guard !candidates.isEmpty else { return }
        if candidates.count == 1 {
            let rest = Array(candidates[0].dropFirst(word.count)) + [" "]
            line.insert(contentsOf: rest, at: cursor)
            cursor += rest.count
            return
        }
        var common = candidates[0]
        for c in candidates.dropFirst() {
            while !c.hasPrefix(common) { common.removeLast() }
        }
        if common.count > word.count {
            let rest = Array(common.dropFirst(word.count))
            line.insert(contentsOf: rest, at: cursor)
            cursor += rest.count
        } else if listing {
            write("\r\n" + candidates.sorted().joined(separator: "  ") + "\r\n")
        }
    }
}

/// Splits a shell line into words as a POSIX shell would for plain words:
/// blanks separate, '…' keeps everything, "…" keeps all but `\"` and `\\`,
/// a backslash outside quotes keeps the next character, `#` at the start
/// of a word begins a comment. No expansion of any kind.
public enum ShellWords {
    public static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escape = false
        for ch in line {
            if escape {
                word.append(ch)
                escape = false
                continue
            }
            if let q = quote {
                if ch == q {
                    quote = nil
                } else if q == "\"", ch == "\\" {
                    escape = true
                } else {
                    word.append(ch)
                }
                continue
            }
            switch ch {
            case " ", "\t":
                if inWord { words.append(word) }
                word = ""
                inWord = false
            case "'", "\"":
                quote = ch
                inWord = true
            case "\\":
                escape = true
                inWord = true
            case "#" where !inWord:
                return words
            default:
                word.append(ch)
                inWord = true
            }
        }
        if quote != nil { throw ShellWordsError(message: "a quote is not closed") }
        if escape { throw ShellWordsError(message: "a backslash ends the line") }
        if inWord { words.append(word) }
        return words
    }
}

/// A line that cannot be split into words.
public struct ShellWordsError: Error {
    public let message: String
}
