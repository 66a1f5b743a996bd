import Foundation
import Synchronization

/// Named points at which the fault suite kills the process
/// (`CERTVAULT_FAULT=NAME`): how the tests prove that a `kill -9` at the
/// worst moment loses nothing and leaves no secret behind. Unset (always,
/// outside the tests), a point costs one comparison.
///
/// - `change.before-lock`: a change about to take the vault's write lock
///   (the vault opened and unlocked, nothing read in a transaction).
/// - `change.before-commit`: a change's rows and signed records are
///   written, its transaction not yet committed.
/// - `change.after-commit`: committed, nothing after it done yet (an
///   export's file not yet linked into place).
/// - `backup.copied`: a backup's copy made, not yet verified or moved into place.
/// - `read.in-snapshot`: a checked read's snapshot taken (the witness read
///   before it), nothing checked yet.
/// - `restore.built`, `restore.linked`, `restore.swapped`: a restore's
///   staged file complete and verified; the old file linked as
///   `before-restore`; the new one renamed into place, the witness not yet
///   moved.
///
/// - `cli.started`: the command line parsed, the terminal held (echo
///   off), nothing opened or asked yet.
///
/// `CERTVAULT_FAULT=NAME:stop` stops the process there instead (SIGSTOP),
/// so that a test can change the world under it and let it go on (SIGCONT);
/// only the first time the point is reached.
///
/// The points exist only in a build made with `CERTVAULT_FAULT_POINTS` set
/// (`.ci/run` sets it for the tests and the fault sweep): in any other
/// build, the library a host links among them, `hit` is empty and
/// `CERTVAULT_FAULT` in the environment does nothing.
package enum FaultPoint {
    #if CERTVAULT_FAULT_POINTS
    static let armed: String? = ProcessInfo.processInfo.environment["CERTVAULT_FAULT"]
    private static let stopped = Atomic<Bool>(false)
    /// Whether this build has the points.
    package static let compiled = true
    /// Whether a point is named in the environment.
    static var isArmed: Bool { armed != nil }
    #else
    /// Whether this build has the points.
    package static let compiled = false
    /// Whether a point is named in the environment: never, in this build.
    static var isArmed: Bool { false }
    #endif

    package static func hit(_ name: String) {
        #if CERTVAULT_FAULT_POINTS
        guard let armed, armed.hasPrefix(name) else { return }
        if armed == name {
            kill(getpid(), SIGKILL)
        } else if armed == name + ":stop", !stopped.exchange(true, ordering: .relaxed) {
            kill(getpid(), SIGSTOP)
        }
        #endif
    }
}
