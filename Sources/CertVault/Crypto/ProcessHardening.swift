internal import CertVaultNative

/// What a process holding keys may choose to do to itself. The library
/// never does it on its own: it changes nothing of the process it is linked
/// into. The `certvault` command calls it first thing; a service calls it
/// if it wants the same.
public enum ProcessHardening {
    /// Turns off core dumps for this whole process (`RLIMIT_CORE` 0, and
    /// `PR_SET_DUMPABLE` 0, which also keeps other processes of the same
    /// user from attaching with ptrace), so that secrets in memory never
    /// land on disk in a crash. It cannot be undone for the process.
    /// - Returns: whether both took effect.
    @discardableResult
    public static func disableCoreDumps() -> Bool { cv_disable_core_dumps() == 0 }
}
