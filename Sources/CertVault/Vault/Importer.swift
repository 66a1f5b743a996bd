import Foundation
import GRDB
import Synchronization

/// A file read and decrypted, ready to be stored by ``Session/importFiles(_:options:)-99qtv``.
public struct ImportFile: Sendable {
    /// The path read, or the caller's label for bytes: names the file in
    /// messages and reports.
    public let source: String
    /// The file read; nil for bytes given directly.
    public let path: String?
    /// What the audit record names: the file's name, or the caller's label.
    public let label: String
    /// What the file turned out to be: `PKCS#12`, `PEM`, `DER certificate`, …
    public let format: String
    /// Things worth knowing that did not stop the import (a DSA key, a skipped PEM block).
    public let warnings: [String]
    let keys: [Material.Key]
    let certificates: [Material.Cert]
    /// How many private keys the file holds.
    public var keyCount: Int { keys.count }
    /// How many certificates the file holds, chain certificates included.
    public var certificateCount: Int { certificates.count }
}

/// Reads the files an officer brings.
public enum Importer {
    /// Files larger than this are refused before they are read: no
    /// certificate bundle comes near it, and it bounds memory.
    public static let maximumFileSize = 16 << 20

    /// Reads and decrypts one file. The format is decided by content.
    ///
    /// - Parameters:
    ///   - path: the file to read; at most ``maximumFileSize`` bytes.
    ///   - password: the file password; nil or empty tries the empty and the
    ///     NULL password, which PKCS#12 tells apart.
    ///   - askPassword: called with the path when the password given (or
    ///     none) is wrong; return nil to give up.
    ///   - limits: the most key-derivation work and bags the file may ask for
    ///     (``ImportLimits/standard``); checked before any of it is done.
    /// - Throws: ``CertVaultError`` whose message names the file.
    public static func read(
        path: String,
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)? = nil,
        limits: ImportLimits = .standard
    ) throws -> ImportFile {
        try read(path: path, password: password, askPassword: askPassword, limits: limits, learned: nil)
    }

    /// As above; `learned` is told the password `askPassword` gave that opened the file.
    static func read(
        path: String,
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)?,
        limits: ImportLimits,
        learned: ((SecureBytes) -> Void)?
    ) throws -> ImportFile {
        let data: Data
        do { data = try load(path) } catch let error as CertVaultError { throw error.prefixed(path) }
        return try decode(
            data,
            source: path,
            path: path,
            label: URL(fileURLWithPath: path).lastPathComponent,
            password: password,
            askPassword: askPassword,
            limits: limits,
            learned: learned
        )
    }

    /// Reads and decrypts bytes a caller already holds (an upload, a secret
    /// store): the same reader as for files, with no file on disk.
    ///
    /// - Parameters:
    ///   - data: the bytes; at most ``maximumFileSize``.
    ///   - label: names the bytes in messages and in the audit record of
    ///     their import (as a file's name would).
    ///   - password: as for ``read(path:password:askPassword:limits:)``.
    ///   - limits: the most key-derivation work and bags the bytes may ask for.
    /// - Throws: ``CertVaultError`` whose message names `label`.
    public static func read(
        data: Data,
        label: String,
        password: SecureBytes?,
        limits: ImportLimits = .standard
    ) throws -> ImportFile {
        guard data.count <= maximumFileSize else {
            throw CertVaultError(
                .tooLarge,
                "\(label): \(data.count) bytes, over the \(maximumFileSize >> 20) MiB limit"
            )
        }
        return try decode(
            data,
            source: label,
            path: nil,
            label: label,
            password: password,
            askPassword: nil,
            limits: limits
        )
    }

    /// `password` as OpenSSL 1.0.x turned it into the PKCS#12 key
    /// derivation's BMPString: each byte of its UTF-8 a character of its own
    /// (U+0000–U+00FF), here written as the UTF-8 of those characters, which
    /// today's derivation turns into the same BMPString. Nil when every byte
    /// is ASCII (both encodings agree).
    static func openSSL10Password(_ password: SecureBytes) -> SecureBytes? {
        let high = password.withUnsafeBytes { $0.reduce(0) { $0 + ($1 >= 0x80 ? 1 : 0) } }
        guard high > 0 else { return nil }
        let legacy = SecureBytes(count: password.count + high)
        password.withUnsafeBytes { from in
            legacy.withUnsafeMutableBytes { to in
                var i = 0
                for b in from {
                    if b < 0x80 {
                        to[i] = b
                        i += 1
                    } else {
                        to[i] = 0xC0 | (b >> 6)
                        to[i + 1] = 0x80 | (b & 0x3F)
                        i += 2
                    }
                }
            }
        }
        return legacy
    }

    private static func decode(
        _ data: Data,
        source: String,
        path: String?,
        label: String,
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)?,
        limits: ImportLimits,
        learned: ((SecureBytes) -> Void)? = nil
    ) throws -> ImportFile {
        /// `password`, and when it fails and has letters past ASCII, the same
        /// as OpenSSL 1.0.x encoded it (each byte a character): how OpenSSL's
        /// own `pkcs12` reads such files, and said in a warning.
        func read(_ password: SecureBytes?) throws -> Material {
            do {
                return try MaterialReader.read(data, password: password, limits: limits)
            } catch let error as CertVaultError where error.code == .wrongPassword {
                guard let password, let legacy = openSSL10Password(password) else { throw error }
                guard var material = try? MaterialReader.read(data, password: legacy, limits: limits) else {
                    throw error
                }
                material.warnings.append(
                    "the password opened the file only as OpenSSL 1.0.x encoded letters past ASCII (each byte a "
                        + "character): it was written by an older tool; export it again with a current one"
                )
                return material
            }
        }
        do {
            var material: Material
            do {
                material = try read(password)
            } catch let error as CertVaultError where error.code == .wrongPassword {
                // Asked again for as long as the caller offers another password.
                var last = error
                var opened: Material?
                while opened == nil, let askPassword, let retry = try askPassword(source) {
                    do {
                        opened = try read(retry)
                        learned?(retry)
                    } catch let again as CertVaultError where again.code == .wrongPassword {
                        last = again
                    }
                }
                guard let opened else { throw last }
                material = opened
            }
            guard !material.keys.isEmpty || !material.certificates.isEmpty else {
                throw CertVaultError(.corrupt, "the file holds no key and no certificate")
            }
            // A key must match a certificate that came with it in the same file.
            let leaves = material.certificates.filter { !$0.certificate.isCA }
            if !leaves.isEmpty {
                for key in material.keys
                where !material.certificates.contains(where: { key.key.matches($0.certificate) }) {
                    throw CertVaultError(
                        .keyMismatch,
                        "the private key does not match the certificate\(leaves.count > 1 ? "s" : "") in this file"
                            + " (\(leaves.map { $0.certificate.commonName ?? "?" }.joined(separator: ", ")))"
                    )
                }
            }
            // Encoded here, on the reading thread, not in the import's serial store step.
            for key in material.keys { _ = try key.key.pkcs8() }
            return ImportFile(
                source: source,
                path: path,
                label: label,
                format: material.format,
                warnings: material.warnings,
                keys: material.keys,
                certificates: material.certificates
            )
        } catch let error as CertVaultError {
            throw error.prefixed(source)
        }
    }

    /// Reads every file, collecting failures instead of stopping at the first.
    ///
    /// Without `askPassword` the files are decrypted in parallel, one per
    /// core (PKCS#12 key derivation is the cost of an import); results keep
    /// the order of `paths`.
    public static func readAll(
        _ paths: [String],
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)? = nil,
        limits: ImportLimits = .standard,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    )
        -> (files: [ImportFile], failures: [CertVaultError])
    {
        readAll(
            paths,
            password: password,
            askPassword: askPassword,
            limits: limits,
            progress: progress,
            cancellation: nil
        )
    }

    /// ``readAll(_:password:askPassword:limits:progress:)`` off the caller's thread,
    /// without prompts; cancelling the task stops the reading with
    /// `CancellationError`.
    public static func readAll(
        _ paths: [String],
        password: SecureBytes?,
        limits: ImportLimits = .standard,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    ) async throws -> (files: [ImportFile], failures: [CertVaultError]) {
        try await Cancellation.run { cancellation in
            let result = readAll(
                paths,
                password: password,
                askPassword: nil,
                limits: limits,
                progress: progress,
                cancellation: cancellation
            )
            try cancellation.check()
            return result
        }
    }

    static func readAll(
        _ paths: [String],
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)?,
        limits: ImportLimits,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
        cancellation: Cancellation?
    )
        -> (files: [ImportFile], failures: [CertVaultError])
    {
        typealias Slot = Result<ImportFile, CertVaultError>
        @Sendable func readOne(_ i: Int, _ ask: ((String) throws -> SecureBytes?)?) -> Slot {
            readResult(paths[i], password: password, askPassword: ask, limits: limits)
        }
        guard let askPassword else {
            return inParallel(count: paths.count, cancellation: cancellation, progress: progress) { readOne($0, nil) }
        }
        // Prompts must come one at a time.
        var slots: [Slot?] = []
        for i in paths.indices {
            slots.append(readOne(i, askPassword))
            progress?(i + 1, paths.count)
        }
        return collect(slots)
    }

    /// Reads many uploads at once, as ``readAll(_:password:limits:progress:)``
    /// reads files: decrypted in parallel, one per core, off the caller's
    /// thread; failures collected (each message names its label), results in
    /// the order given. Hand the files to ``Session/importFiles(_:options:)-99qtv``.
    ///
    /// - Parameters:
    ///   - uploads: each upload's label (naming it in messages and in its
    ///     `entry.import` record) and bytes.
    ///   - password: the password every upload is tried with.
    ///   - limits: the most key-derivation work and bags each may ask for.
    /// - Returns: the uploads read, and why each other one was not.
    public static func readAll(
        data uploads: [(label: String, data: Data)],
        password: SecureBytes?,
        limits: ImportLimits = .standard
    ) async throws -> (files: [ImportFile], failures: [CertVaultError]) {
        let labels = uploads.map(\.label)
        let blobs = uploads.map(\.data)
        return try await Cancellation.run { cancellation in
            let result = inParallel(count: uploads.count, cancellation: cancellation, progress: nil) { i in
                do {
                    return .success(try read(data: blobs[i], label: labels[i], password: password, limits: limits))
                } catch let error as CertVaultError {
                    return .failure(error)
                } catch {
                    return .failure(CertVaultError(.io, "\(labels[i]): \(error.localizedDescription)"))
                }
            }
            try cancellation.check()
            return result
        }
    }

    /// `readOne` for each index, on every core; results in index order.
    static func inParallel(
        count: Int,
        cancellation: Cancellation?,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
        _ readOne: @Sendable (Int) -> Result<ImportFile, CertVaultError>
    ) -> (files: [ImportFile], failures: [CertVaultError]) {
        typealias Slot = Result<ImportFile, CertVaultError>
        let results = Mutex<(slots: [Slot?], done: Int)>((Array(repeating: nil, count: count), 0))
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: count, by: workers) {
                if cancellation?.isCancelled == true { return }
                let r = readOne(i)
                let done = results.withLock { state in
                    state.slots[i] = r
                    state.done += 1
                    return state.done
                }
                progress?(done, count)
            }
        }
        return collect(results.withLock { $0.slots })
    }

    private static func collect(
        _ slots: [Result<ImportFile, CertVaultError>?]
    ) -> (files: [ImportFile], failures: [CertVaultError]) {
        var files: [ImportFile] = []
        var failures: [CertVaultError] = []
        for slot in slots {
            switch slot {
            case .success(let f)?: files.append(f)
            case .failure(let e)?: failures.append(e)
            case nil: break
            }
        }
        return (files, failures)
    }

    /// ``read(path:password:askPassword:limits:)``, its failure as a value.
    static func readResult(
        _ path: String,
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)?,
        limits: ImportLimits,
        learned: ((SecureBytes) -> Void)? = nil
    ) -> Result<ImportFile, CertVaultError> {
        do {
            return .success(
                try read(path: path, password: password, askPassword: askPassword, limits: limits, learned: learned)
            )
        } catch let error as CertVaultError {
            return .failure(error)
        } catch {
            return .failure(CertVaultError(.io, "\(path): \(error.localizedDescription)"))
        }
    }

    /// The file's bytes: one `open`, `fstat` and `read`s (Foundation's
    /// `fileExists`, `attributesOfItem` and `contents` took nine system calls).
    static func load(_ path: String) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CertVaultError(.io, errno == ENOENT || errno == ENOTDIR ? "no such file" : "cannot read the file")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CertVaultError(.io, "cannot read the file") }
        guard (info.st_mode & S_IFMT) != S_IFDIR else { throw CertVaultError(.invalidArgument, "is a directory") }
        let size = Int(info.st_size)
        guard size <= maximumFileSize else {
            throw CertVaultError(.tooLarge, "the file is \(size) bytes, over the \(maximumFileSize >> 20) MiB limit")
        }
        // Read to the end (a pipe or a file that grew), never past the limit.
        var data = Data(count: max(size, 0) + 1)
        var total = 0
        while true {
            if total == data.count {
                guard data.count <= maximumFileSize else {
                    throw CertVaultError(.tooLarge, "the file is over the \(maximumFileSize >> 20) MiB limit")
                }
                data.count = min(data.count * 2, maximumFileSize + 1)
            }
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CertVaultError(.io, "cannot read the file")
            }
            if n == 0 { break }
            total += n
        }
        data.count = total
        return data
    }
}
