import Foundation

/// Writing files the way a vault must: mode 0600, atomically (a temporary
/// file in the same directory, synced, then moved into place), and never over
/// an existing file unless asked.
enum SecureFile {
    /// A written but not yet visible file.
    struct Pending {
        let temporaryPath: String
        let destination: String
        let force: Bool
        var durable = true

        /// Moves the file into place. Without `force`, `link(2)` refuses an
        /// existing destination atomically, even one created meanwhile.
        func commit() throws {
            if force {
                guard rename(temporaryPath, destination) == 0 else {
                    throw SecureFile.posixError("cannot write \(destination)")
                }
            } else {
                guard link(temporaryPath, destination) == 0 else {
                    let e = errno
                    unlink(temporaryPath)
                    if e == EEXIST { throw SecureFile.exists(destination) }
                    throw SecureFile.posixError("cannot write \(destination)", errno: e)
                }
                unlink(temporaryPath)
            }
            if durable { SecureFile.syncDirectory(of: destination) }
        }

        func discard() { unlink(temporaryPath) }
    }

    static func exists(_ path: String) -> CertVaultError {
        CertVaultError(
            .fileExists,
            "\(path) already exists",
            hint: "choose another path, or pass --force to replace it"
        )
    }

    static func posixError(_ what: String, errno e: Int32 = errno) -> CertVaultError {
        CertVaultError(.io, "\(what): \(String(cString: strerror(e)))")
    }

    /// Writes `data` to a temporary file beside `destination`.
    static func prepare(_ data: Data, to destination: String, force: Bool, durable: Bool = true) throws -> Pending {
        try data.withUnsafeBytes { try prepare($0, to: destination, force: force, durable: durable) }
    }

    /// Writes `bytes` (which may be a secret: they are not copied) to a
    /// temporary file beside `destination`.
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
        let temporary = try makeTemporary(beside: destination)
        let fd = Glibc.open(temporary, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw posixError("cannot write \(destination)") }
        defer { close(fd) }
        let ok = { (buf: UnsafeRawBufferPointer) -> Bool in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return !durable || fsync(fd) == 0
        }(bytes)
        guard ok else {
            let error = posixError("cannot write \(destination)")
            unlink(temporary)
            throw error
        }
        return Pending(temporaryPath: temporary, destination: destination, force: force, durable: durable)
    }

    /// Writes `data` to `destination` at once.
    static func write(_ data: Data, to destination: String, force: Bool, durable: Bool = true) throws {
        try prepare(data, to: destination, force: force, durable: durable).commit()
    }

    /// Creates an empty 0600 file with a random name beside `destination`.
    static func makeTemporary(beside destination: String) throws -> String {
        let dir = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CertVaultError(.io, "cannot write \(destination): no directory \(dir)")
        }
        for _ in 0..<8 {
            let path = dir + "/.certvault-" + Sodium.random(8).hexLower + ".tmp"
            let fd = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            if fd >= 0 {
                close(fd)
                return path
            }
            if errno != EEXIST { throw posixError("cannot write in \(dir)") }
        }
        throw CertVaultError(.io, "cannot create a temporary file in \(dir)")
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
