import Foundation

/// Storage failures in words: what went wrong, on which file system, and
/// what to do — not "disk I/O error" or "not an error".
enum StorageError {
    /// Free space, in KiB, on the file system holding `path` (or its
    /// directory); nil if it cannot be asked.
    static func freeKiB(near path: String) -> UInt64? {
        var info = statvfs()
        for candidate in [path, (path as NSString).deletingLastPathComponent, "/"] where !candidate.isEmpty {
            if statvfs(candidate, &info) == 0 { return UInt64(info.f_bavail) * UInt64(info.f_frsize) / 1024 }
        }
        return nil
    }

    /// Whether the file system holding `path` is mounted read-only.
    static func isReadOnlyFileSystem(near path: String) -> Bool {
        var info = statvfs()
        for candidate in [path, (path as NSString).deletingLastPathComponent] where !candidate.isEmpty {
            if statvfs(candidate, &info) == 0 { return info.f_flag & UInt(ST_RDONLY) != 0 }
        }
        return false
    }

    /// The file system holding `path` is full.
    /// - Parameter nothingChanged: false for a write after a change
    ///   committed (an audit sink), where "nothing was changed" is untrue.
    static func noSpace(_ path: String, doing what: String? = nil, nothingChanged: Bool = true) -> CertVaultError {
        let free = freeKiB(near: path).map { " (\($0) KiB free)" } ?? ""
        return CertVaultError(
            .noSpace,
            "\(what.map { "\($0): " } ?? "")no space left on the file system holding \(path)\(free)\(nothingChanged ? "; nothing was changed" : "")",
            hint: "free some space and run the command again"
        )
    }

    /// The file system holding `path` is mounted read-only.
    static func readOnlyFileSystem(_ path: String, doing what: String? = nil) -> CertVaultError {
        CertVaultError(
            .io,
            "\(what.map { "\($0): " } ?? "")the file system holding \(path) is read-only",
            hint: "mount it read-write, or work on a copy elsewhere"
        )
    }

    /// The disk or the file returned an I/O error. Only the vault itself
    /// (no `what`: SQLite's error on its file) is one to restore from a
    /// backup; a file written or read beside it (an export, a backup
    /// being made) is the disk's trouble.
    static func ioError(_ path: String, doing what: String? = nil) -> CertVaultError {
        guard let what else {
            return CertVaultError(.io, "I/O error on \(path): the disk or the file is damaged", remedy: .restoreBackup)
        }
        return CertVaultError(
            .io,
            "\(what): I/O error on \(path): the disk or the file is damaged",
            hint: "check the disk (its kernel log), or use a file on another disk"
        )
    }

    /// An errno from a file operation on `path`, in words.
    static func fromErrno(_ e: Int32, path: String, doing what: String) -> CertVaultError {
        switch e {
        case ENOSPC, EDQUOT: return noSpace(path, doing: what)
        case EROFS: return readOnlyFileSystem(path, doing: what)
        case EIO: return ioError(path, doing: what)
        default: return CertVaultError(.io, "\(what): \(String(cString: strerror(e)))")
        }
    }
}
