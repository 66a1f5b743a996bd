internal import CertVaultTerminal
import Glibc

/// The command line's hold on the terminal while a command that may ask a
/// question runs: echo off from the start, so keys typed ahead while it
/// works are not shown (and each prompt flushes them, so they never become
/// part of an answer), and the terminal put back as it was on every way
/// out: a normal exit, an error, Ctrl-C, a hangup, a kill, a crash. Ctrl-Z
/// gives the shell its terminal back, and echo goes off again when the
/// command continues.
///
/// Only the `certvault` executable holds the terminal; the library installs
/// no signal handler and never changes a terminal.
public enum TerminalHold {
    /// Takes the hold. False, with nothing changed, when there is no
    /// terminal, or the command runs in the background.
    @discardableResult
    public static func begin() -> Bool {
        guard cv_terminal_hold() == 1 else { return false }
        if !registered {
            registered = true
            atexit { cv_terminal_release() }
        }
        return true
    }

    /// Puts the terminal back as ``begin()`` found it.
    public static func end() { cv_terminal_release() }

    /// Whether the hold is in effect.
    public static var isHeld: Bool { cv_terminal_held() == 1 }

    /// While true (the interactive shell), a hangup or SIGTERM is noted
    /// rather than ending the process: ``hangupPending`` says so, and a wait
    /// at the prompt is interrupted, so that the keys are wiped first.
    public static func deferHangup(_ on: Bool) { cv_terminal_defer_hangup(on ? 1 : 0) }

    /// Whether a hangup or SIGTERM arrived while deferred.
    public static var hangupPending: Bool { cv_terminal_hangup_pending() == 1 }

    /// The mode a continue after Ctrl-Z puts back while a line is read in
    /// it (nil: echo off, as held).
    static func resume(in mode: termios?) {
        if var mode { cv_terminal_set_resume_mode(&mode) } else { cv_terminal_set_resume_mode(nil) }
    }

    /// Takes the crash signals from the Swift runtime's interactive
    /// backtracer, which can print any of the process's memory, keys
    /// included: the executable calls this first thing.
    public static func crashReportsOff() { cv_crash_reports_off() }

    nonisolated(unsafe) private static var registered = false
}
