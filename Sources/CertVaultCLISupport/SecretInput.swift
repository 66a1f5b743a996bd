import CertVault
internal import CertVaultNative
import Foundation

/// Where passphrases and passwords come from: never from argv.
///
/// Each is read straight into ``SecureBytes``: from a file, from an
/// environment variable (for automation; it is removed from the environment
/// once read), or from the terminal with echo off.
public enum SecretInput {
    /// The longest secret accepted, in bytes.
    public static let maximumLength = 4096

    /// Reads a secret from a file: its first line, without the line ending.
    public static func fromFile(_ path: String) throws -> SecureBytes {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CertVaultError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let buffer = SecureBytes(count: maximumLength + 1)
        let total = buffer.withUnsafeMutableBytes { buf -> Int in
            var n = 0
            while n < buf.count {
                let r = read(fd, buf.baseAddress! + n, buf.count - n)
                if r <= 0 { break }
                n += r
            }
            return n
        }
        guard total <= maximumLength else {
            throw CertVaultError(.invalidArgument, "\(path) is too long to hold a passphrase")
        }
        return firstLine(buffer, length: total)
    }

    /// Reads a secret from an environment variable and removes the variable.
    public static func fromEnvironment(_ name: String) -> SecureBytes? {
        guard let value = getenv(name) else { return nil }
        let length = strlen(value)
        let secret = SecureBytes(copying: UnsafeRawBufferPointer(start: value, count: length))
        memset(value, 0, length)
        unsetenv(name)
        return secret
    }

    /// Whether a terminal is there to ask on.
    public static var hasTerminal: Bool {
        let fd = Glibc.open("/dev/tty", O_RDWR | O_CLOEXEC)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }

    /// Asks on the terminal with echo off.
    /// - Throws: `.invalidArgument` when there is no terminal.
    public static func prompt(_ message: String) throws -> SecureBytes {
        let fd = Glibc.open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw CertVaultError(.invalidArgument, "no terminal to ask on") }
        defer { close(fd) }
        var saved = termios()
        let isTTY = tcgetattr(fd, &saved) == 0
        if isTTY {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ICANON)
            // If echo cannot be turned off, the secret would show: refuse.
            guard tcsetattr(fd, TCSAFLUSH, &quiet) == 0 else {
                throw CertVaultError(.io, "cannot turn off echo on the terminal: \(String(cString: strerror(errno)))")
            }
        }
        // The prompt appears only once echo is off and type-ahead flushed:
        // an answer typed after it is never thrown away.
        _ = message.withCString { Glibc.write(fd, $0, strlen($0)) }
        defer {
            if isTTY, tcsetattr(fd, TCSAFLUSH, &saved) != 0 {
                Glibc.perror("certvault: cannot restore the terminal's echo")
            }
            _ = Glibc.write(fd, "\n", 1)
        }
        let buffer = SecureBytes(count: maximumLength + 1)
        var interrupted = false
        let total = buffer.withUnsafeMutableBytes { buf -> Int in
            var n = 0
            var byte: UInt8 = 0
            // One byte; a signal that interrupts the wait (a stop and continue) does not end the line,
            // a hangup or SIGTERM the shell deferred does. poll, unlike read, is never restarted.
            func next() -> Bool {
                while true {
                    if TerminalHold.hangupPending {
                        interrupted = true
                        return false
                    }
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let ready = poll(&p, 1, -1)
                    if ready < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    let r = read(fd, &byte, 1)
                    if r == 1 { return true }
                    if r < 0, errno == EINTR { continue }
                    return false
                }
            }
            while n < buf.count, next(), byte != 0x0A {
                buf[n] = byte
                n += 1
            }
            // A line longer than the buffer: the rest is read and dropped, never left for the shell.
            if n == buf.count, byte != 0x0A {
                while next(), byte != 0x0A {}
                n += 1
            }
            byte = 0
            return n
        }
        if interrupted {
            throw CertVaultError(.closed, "a hangup or SIGTERM arrived at the prompt: nothing was done")
        }
        // As from a file: too long is refused, never cut to fit. A terminal keeps at most 4,095 bytes
        // of a line (Linux's canonical mode drops the rest), so a line that long may have been cut there.
        guard total <= maximumLength, !(isTTY && total >= 4095) else {
            throw CertVaultError(
                .invalidArgument,
                "what was typed is longer than \(maximumLength) bytes, too long to be a passphrase or password"
            )
        }
        return firstLine(buffer, length: total)
    }

    /// The bytes of `buffer` up to the first line ending.
    static func firstLine(_ buffer: SecureBytes, length: Int) -> SecureBytes {
        let end = buffer.withUnsafeBytes { buf -> Int in
            var end = 0
            while end < length, buf[end] != 0x0A { end += 1 }
            if end > 0, buf[end - 1] == 0x0D { end -= 1 }
            return end
        }
        return buffer.slice(0..<end)
    }

    /// Turns off core dumps for this process: ``ProcessHardening/disableCoreDumps()``.
    @discardableResult
    public static func disableCoreDumps() -> Bool { ProcessHardening.disableCoreDumps() }
}
