internal import CertVaultNative
import Foundation

/// Writing files the way a vault must: mode 0600, atomically, and never over
/// an existing file unless asked.
///
/// The bytes go into an unnamed file (`O_TMPFILE`) in the destination's
/// directory, are synced, and the file is given its name with `linkat(2)`
/// only when the caller commits: a process killed half-way leaves nothing,
/// and nobody who can write that directory can swap the file for a link to
/// one of theirs, since what is linked is the very file descriptor written.
/// Where the filesystem has no `O_TMPFILE`, a named temporary file opened
/// with `O_EXCL | O_NOFOLLOW` is used instead, still written through its
/// descriptor.
enum SecureFile {
    /// A written but not yet visible file.
    final class Pending {
        /// The descriptor the bytes were written through, or -1.
        private var fd: Int32
        /// The temporary name, for a named temporary file.
        let temporaryPath: String?
        let destination: String
        let force: Bool
        let durable: Bool

        init(fd: Int32 = -1, temporaryPath: String?, destination: String, force: Bool, durable: Bool = true) {
            self.fd = fd
            self.temporaryPath = temporaryPath
            self.destination = destination
            self.force = force
            self.durable = durable
        }

        deinit { closeFile() }

        private func closeFile() {
            if fd >= 0 { close(fd) }
            fd = -1
        }

        /// Links the written file at `path`: the descriptor's own file when
        /// /proc is there to name it, else the temporary name.
        private func link(at path: String) -> Int32 {
            if fd >= 0, linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 { return 0 }
            if errno == EEXIST { return -1 }
            guard let temporaryPath else { return -1 }
            return Glibc.link(temporaryPath, path)
        }

        /// Gives the file its name. Without `force`, an existing destination
        /// is refused atomically, even one created meanwhile; with it, the
        /// file is linked under a fresh name and renamed over the destination.
        func commit() throws {
            defer {
                if let temporaryPath { unlink(temporaryPath) }
                closeFile()
            }
            if force {
                let staged = SecureFile.temporaryName(beside: destination)
                guard link(at: staged) == 0 else {
                    throw SecureFile.posixError("cannot write \(destination)", path: destination)
                }
                do { try SecureFile.requireReplaceable(destination) } catch {
                    unlink(staged)
                    throw error
                }
                guard rename(staged, destination) == 0 else {
                    let e = errno
                    unlink(staged)
                    throw SecureFile.posixError("cannot write \(destination)", errno: e, path: destination)
                }
            } else {
                guard link(at: destination) == 0 else {
                    let e = errno
                    if e == EEXIST { throw SecureFile.exists(destination) }
                    throw SecureFile.posixError("cannot write \(destination)", errno: e, path: destination)
                }
            }
            if durable { SecureFile.syncDirectory(of: destination) }
        }

        /// Forgets the file: an unnamed one vanishes with its descriptor.
        func discard() {
            if let temporaryPath { unlink(temporaryPath) }
            closeFile()
        }
    }

    /// What `path` is when it exists and is not a regular file (after
    /// links): "a named pipe", "a device", "a socket"; nil for a regular
    /// file or nothing at all. Such a file can block a reader forever.
    static func notRegular(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a named pipe"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    static func exists(_ path: String) -> CertVaultError {
        CertVaultError(
            .fileExists,
            "\(path) already exists",
            remedy: .replaceFile
        )
    }

    static func posixError(_ what: String, errno e: Int32 = errno, path: String? = nil) -> CertVaultError {
        if let path { return StorageError.fromErrno(e, path: path, doing: what) }
        switch e {
        case ENOSPC, EDQUOT, EROFS, EIO: return StorageError.fromErrno(e, path: "/", doing: what)
        default: return CertVaultError(.io, "\(what): \(String(cString: strerror(e)))")
        }
    }

    /// Writes `data` to a file beside `destination` that has no name yet.
    static func prepare(_ data: Data, to destination: String, force: Bool, durable: Bool = true) throws -> Pending {
        try data.withUnsafeBytes { try prepare($0, to: destination, force: force, durable: durable) }
    }

    /// Writes `bytes` (which may be a secret: they are not copied) to a
    /// file beside `destination` that has no name yet.
    ///
    /// - Parameter durable: sync the file to disk before it can appear; only
    ///   a file whose loss in a crash is harmless (the rollback witness,
    ///   which then stays at an older head) skips it.
    static func prepare(
        _ bytes: UnsafeRawBufferPointer,
        to destination: String,
        force: Bool,
        durable: Bool = true
    ) throws -> Pending {
        if !force, FileManager.default.fileExists(atPath: destination) { throw exists(destination) }
        try requireReplaceable(destination)
        let dir = try directory(of: destination)
        var temporaryPath: String?
        var fd = cv_open_tmpfile(dir, 0o600)
        if fd < 0 {
            // No O_TMPFILE on this filesystem: a fresh name, never a link.
            let path = temporaryName(beside: destination)
            fd = Glibc.open(path, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw posixError("cannot write in \(dir)", path: dir) }
            temporaryPath = path
        }
        let pending = Pending(
            fd: fd,
            temporaryPath: temporaryPath,
            destination: destination,
            force: force,
            durable: durable
        )
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            guard n > 0 else {
                let error = posixError("cannot write \(destination)", path: destination)
                pending.discard()
                throw error
            }
            offset += n
        }
        if durable, fsync(fd) != 0 {
            let error = posixError("cannot write \(destination)", path: destination)
            pending.discard()
            throw error
        }
        return pending
    }

    /// Writes `data` to `destination` at once.
    static func write(_ data: Data, to destination: String, force: Bool, durable: Bool = true) throws {
        try prepare(data, to: destination, force: force, durable: durable).commit()
    }

    /// Refuses to replace anything but a regular file: a symbolic link, a
    /// device (`/dev/stdout`, `/dev/tty`), a FIFO, a socket or a directory
    /// at `path` stays what it is, and no secret lands in its place.
    static func requireReplaceable(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        let kind: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK: kind = "a symbolic link"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFIFO: kind = "a FIFO"
        case S_IFSOCK: kind = "a socket"
        case S_IFDIR: kind = "a directory"
        default: kind = "not a regular file"
        }
        throw CertVaultError(
            .invalidArgument,
            "\(path) is \(kind): certvault writes only new files or replaces regular ones",
            hint: "name a new file in a directory that exists"
        )
    }

    /// The directory `destination` is to go in, which must exist.
    static func directory(of destination: String) throws -> String {
        let dir = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CertVaultError(
                .io,
                "cannot write \(destination): no directory \(dir)",
                hint: "create it first (mkdir -m 700 -p '\(dir)'), or name a file in a directory that exists"
            )
        }
        return dir
    }

    /// A random, not yet used name beside `destination`, carrying this
    /// process's id (`.certvault-PID-HEX.tmp`), so that a later command can
    /// tell one left by a killed process from one in use.
    static func temporaryName(beside destination: String) -> String {
        URL(fileURLWithPath: destination).deletingLastPathComponent().path + "/.certvault-\(getpid())-"
            + Sodium.random(8).hexLower + ".tmp"
    }

    /// Creates `dir` and any missing parents, each new one 0700.
    static func makeDirectories(_ dir: String) throws {
        var path = dir.hasPrefix("/") ? "" : "."
        for component in dir.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw posixError("cannot create the directory \(path)")
            }
        }
    }

    /// Creates a directory only this user can enter (`mkdtemp`, 0700) beside
    /// `destination`, named `.certvault-PID-XXXXXX`. Directories of this
    /// kind left there by a process that no longer runs (killed during a
    /// backup) are removed first, with whatever they hold.
    static func makePrivateDirectory(beside destination: String) throws -> String {
        let dir = try directory(of: destination)
        removeStalePrivateDirectories(in: dir)
        var template = Array((dir + "/.certvault-\(getpid())-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw posixError("cannot create a private directory in \(dir)", path: dir)
        }
        return String(cString: made)
    }

    /// Removes what killed certvault processes left in `dir`: private
    /// directories (`.certvault-PID-XXXXXX`, a backup's) and temporary files
    /// (`.certvault-PID-HEX.tmp` and its SQLite `-wal`/`-shm`, a restore's
    /// staged vault) whose process no longer runs, and temporary files of
    /// the older, unnumbered kind (`.certvault-HEX.tmp`) untouched for an
    /// hour. Only this user's, and never through a link.
    /// - Returns: the names removed.
    @discardableResult
    static func removeStalePrivateDirectories(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix(".certvault-") {
            let parts = name.dropFirst(".certvault-".count).split(separator: "-", maxSplits: 1)
            let path = dir + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_uid == getuid() else { continue }
            let kind = info.st_mode & S_IFMT
            if parts.count == 2, let pid = Int32(parts[0]), parts[1].count >= 6 {
                guard pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
                // A backup's private directory is mkdtemp's `XXXXXX`; a temporary file ends `.tmp`
                // (with SQLite's `-wal`/`-shm`): nothing else of this name is certvault's.
                let directory =
                    kind == S_IFDIR && parts[1].count == 6
                    && parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
                guard directory || (kind == S_IFREG && parts[1].contains(".tmp")) else { continue }
            } else {
                // The older kind carries no process id: only one nobody touched for an hour.
                guard parts.count == 1, parts[0].hasSuffix(".tmp") || parts[0].contains(".tmp-"), kind == S_IFREG,
                    time(nil) - info.st_mtim.tv_sec > 3600
                else { continue }
            }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(name) }
        }
        return removed
    }

    static func syncDirectory(of path: String) {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
