import Foundation
import Synchronization

/// A live count on a terminal's stderr: done/total, rate and time left,
/// redrawn at most ten times a second and erased when the work is done.
final class ProgressLine: Sendable {
    private struct State {
        var lastDraw: UInt64 = 0
        var shown = false
        var finished = false
    }
    private let verb: String
    private let start = DispatchTime.now().uptimeNanoseconds
    private let state = Mutex(State())

    init(_ verb: String) { self.verb = verb }

    func update(_ done: Int, _ total: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        let text: String? = state.withLock { s in
            if s.finished { return nil }
            if done >= total {
                guard s.shown else { return nil }
                s.shown = false
                return "\r\u{1B}[K"
            }
            guard now - s.lastDraw >= 100_000_000 else { return nil }
            s.lastDraw = now
            s.shown = true
            return "\r\u{1B}[K" + Self.line(verb, done, total, seconds: Double(now - start) / 1e9)
        }
        if let text { FileHandle.standardError.write(Data(text.utf8)) }
    }

    /// Erases the line, if shown, and draws no more: before an error is
    /// printed while work may still be reporting progress.
    func finish() {
        let shown = state.withLock { s in
            defer { (s.finished, s.shown) = (true, false) }
            return s.shown
        }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// `reading 120/200 files, 45 files/s, about 2 s left`
    static func line(_ verb: String, _ done: Int, _ total: Int, seconds: Double) -> String {
        var text = "\(verb) \(done)/\(total) files"
        if done > 0, seconds > 0.2 {
            let rate = Double(done) / seconds
            let left = Double(total - done) / rate
            text +=
                ", \(Int(rate.rounded())) files/s, about \(left < 60 ? "\(Int(left.rounded(.up))) s" : "\(Int((left / 60).rounded(.up))) min") left"
        }
        return text
    }

    /// Rows that fit on the terminal stdout is, or nil when it is not one.
    static var terminalRows: Int? {
        guard isatty(1) == 1 else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return 24 }
        return Int(size.ws_row)
    }
}
