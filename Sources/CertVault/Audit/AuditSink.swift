import Foundation

/// A place outside the vault that receives a copy of every audit record as
/// it is written: a file (best on append-only storage) or the system log.
///
/// Which sinks a vault has is *local configuration* of each machine
/// (``AuditSinkConfiguration``), never read from the vault file: whoever can
/// write the vault must not be able to name a path to write or a program to
/// run. What the vault signs is only whether a sink is required
/// (``PolicyKey/requireSink``).
public enum AuditSink: Sendable, Hashable, CustomStringConvertible {
    /// Lines appended to a file and synced before a key is released. The
    /// path is absolute; a symbolic link there is refused.
    case file(String)
    /// Lines sent as `authpriv.info` messages to a syslog socket
    /// (``defaultSyslogSocket`` unless another is named), with `tag` as the
    /// program name.
    case syslog(tag: String, socket: String)

    /// Where the system's syslog daemon listens.
    public static let defaultSyslogSocket = "/dev/log"
    /// The tag of a syslog sink when none is given.
    public static let defaultSyslogTag = "certvault"

    /// As the configuration file and `audit sink list` write it.
    public var description: String {
        switch self {
        case .file(let path): return "file \(path)"
        case .syslog(let tag, let socket):
            return socket == Self.defaultSyslogSocket ? "syslog \(tag)" : "syslog \(tag) \(socket)"
        }
    }

    /// A file sink at `path`, checked: an absolute path with no line break.
    /// - Throws: `.invalidArgument` naming what is wrong.
    public static func checkedFile(_ path: String) throws -> AuditSink {
        guard path.hasPrefix("/"), !path.contains(where: \.isNewline), path.count > 1 else {
            throw CertVaultError(
                .invalidArgument,
                "a file sink takes an absolute path on one line, not \(Display.quoted(path))"
            )
        }
        return .file(path)
    }

    /// A syslog sink, checked: a tag of 1 to 32 ASCII letters, digits, `.`,
    /// `_` or `-`, and an absolute socket path.
    /// - Throws: `.invalidArgument` naming what is wrong.
    public static func checkedSyslog(
        tag: String = defaultSyslogTag,
        socket: String = defaultSyslogSocket
    ) throws
        -> AuditSink
    {
        guard (1...32).contains(tag.utf8.count),
            tag.utf8.allSatisfy({
                (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 46 || $0 == 95
                    || $0 == 45
            })
        else {
            throw CertVaultError(
                .invalidArgument,
                "a syslog tag is 1 to 32 ASCII letters, digits, '.', '_' or '-', not \(Display.quoted(tag))"
            )
        }
        guard socket.hasPrefix("/"), !socket.contains(where: \.isNewline) else {
            throw CertVaultError(.invalidArgument, "a syslog socket is an absolute path, not \(Display.quoted(socket))")
        }
        return .syslog(tag: tag, socket: socket)
    }
}

/// Which sinks each vault has on this machine: lines of a system-wide file
/// (`/etc/certvault/sinks`) and of the user's own
/// (`$XDG_CONFIG_HOME/certvault/sinks`, else `~/.config/certvault/sinks`).
///
/// Each line is `VAULT-ID file PATH` or `VAULT-ID syslog TAG [SOCKET]`, the
/// vault id in lower-case hex; `#` starts a comment. A vault's sinks are
/// those of every file, the system's first. A file that someone other than
/// its owner may write, or that is owned by someone other than root and
/// the user, is refused: whoever could edit it could send the trail
/// elsewhere.
public struct AuditSinkConfiguration: Sendable, Equatable {
    /// The files read, in order.
    public var files: [String]

    /// A configuration read from `files`, in order; ``add(_:for:to:)`` writes the last by default.
    /// - Parameter files: the configuration files, the system-wide one first.
    public init(files: [String]) { self.files = files }

    /// The system-wide file.
    public static let systemFile = "/etc/certvault/sinks"

    /// The user's file: `$XDG_CONFIG_HOME/certvault/sinks`, else
    /// `$HOME/.config/certvault/sinks`; nil when neither variable is set.
    public static var userFile: String? {
        if let xdg = getenv("XDG_CONFIG_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/certvault/sinks"
        }
        if let home = getenv("HOME").map({ String(cString: $0) }), home.hasPrefix("/") {
            return home + "/.config/certvault/sinks"
        }
        return nil
    }

    /// The system-wide file, then the user's.
    public static var standard: AuditSinkConfiguration {
        AuditSinkConfiguration(files: [systemFile] + (userFile.map { [$0] } ?? []))
    }

    /// The sinks of `vaultID`, each once, in the order the files give them.
    /// - Parameter vaultID: the vault's 16-byte id.
    /// - Throws: `.io` for a file that cannot be read or that others may
    ///   write; `.invalidArgument` for a line that cannot be read.
    public func sinks(for vaultID: Data) throws -> [AuditSink] {
        var found: [AuditSink] = []
        for file in files {
            for (id, sink) in try Self.read(file) where id == vaultID.hexLower && !found.contains(sink) {
                found.append(sink)
            }
        }
        return found
    }

    /// Adds `sink` for `vaultID` to `file` (the last of ``files`` by default).
    /// - Parameters:
    ///   - sink: the sink to add.
    ///   - vaultID: the vault it is for.
    ///   - file: the configuration file to write; nil for the last of ``files``.
    /// - Returns: false when the file already names it.
    @discardableResult
    public func add(_ sink: AuditSink, for vaultID: Data, to file: String? = nil) throws -> Bool {
        let target = try self.target(file)
        let lines = try Self.read(target)
        if lines.contains(where: { $0.vaultID == vaultID.hexLower && $0.sink == sink }) { return false }
        try Self.write(lines + [(vaultID.hexLower, sink)], to: target)
        return true
    }

    /// Removes `sink` of `vaultID` from `file` (the last of ``files`` by default).
    /// - Parameters:
    ///   - sink: the sink to remove.
    ///   - vaultID: the vault it is for.
    ///   - file: the configuration file to write; nil for the last of ``files``.
    /// - Returns: false when the file does not name it.
    @discardableResult
    public func remove(_ sink: AuditSink, for vaultID: Data, from file: String? = nil) throws -> Bool {
        let target = try self.target(file)
        let lines = try Self.read(target)
        let kept = lines.filter { !($0.vaultID == vaultID.hexLower && $0.sink == sink) }
        guard kept.count < lines.count else { return false }
        try Self.write(kept, to: target)
        return true
    }

    private func target(_ file: String?) throws -> String {
        guard let target = file ?? files.last else {
            throw CertVaultError(
                .invalidArgument,
                "no sink configuration file: neither XDG_CONFIG_HOME nor HOME is set"
            )
        }
        return target
    }

    /// Refuses `file` when someone other than root and the user could
    /// replace or remove it: every directory above it that exists must be
    /// theirs and writable by no one else (a sticky one like `/tmp` may be,
    /// since only an entry's owner can remove it there).
    static func checkDirectories(of file: String) throws {
        var dir = (file as NSString).deletingLastPathComponent
        while !dir.isEmpty {
            var st = stat()
            if stat(dir, &st) == 0 {
                let othersWrite = st.st_mode & 0o022 != 0 && st.st_mode & S_ISVTX == 0
                guard st.st_uid == 0 || st.st_uid == geteuid(), !othersWrite else {
                    throw CertVaultError(
                        .io,
                        "the sink configuration \(file) is in \(dir), which others than root and you may write: "
                            + "it is not believed",
                        hint: "make \(dir) yours and writable by you alone (chmod go-w)"
                    )
                }
            }
            if dir == "/" { break }
            dir = (dir as NSString).deletingLastPathComponent
        }
    }

    static func read(_ file: String) throws -> [(vaultID: String, sink: AuditSink)] {
        try checkDirectories(of: file)
        var st = stat()
        guard lstat(file, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return [] }
            throw SecureFile.posixError("cannot read the sink configuration \(file)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw CertVaultError(.io, "the sink configuration \(file) is not a regular file")
        }
        guard st.st_mode & 0o022 == 0, st.st_uid == 0 || st.st_uid == geteuid() else {
            throw CertVaultError(
                .io,
                "the sink configuration \(file) may be written by others than root and you: it is not believed",
                hint: "make it yours and writable by you alone (chmod go-w)"
            )
        }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            throw CertVaultError(.io, "cannot read the sink configuration \(file)")
        }
        var out: [(String, AuditSink)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3, parts[0].utf8.count == 32, Data(hex: parts[0]) != nil else {
                throw CertVaultError(
                    .invalidArgument,
                    "line \(n + 1) of \(file) is not 'VAULT-ID file PATH' or 'VAULT-ID syslog TAG'"
                )
            }
            switch parts[1] {
            case "file": out.append((parts[0].lowercased(), try AuditSink.checkedFile(parts[2])))
            case "syslog":
                let rest = parts[2].split(separator: " ", maxSplits: 1).map(String.init)
                out.append(
                    (
                        parts[0].lowercased(),
                        try AuditSink.checkedSyslog(
                            tag: rest[0],
                            socket: rest.count > 1 ? rest[1] : AuditSink.defaultSyslogSocket
                        )
                    )
                )
            default:
                throw CertVaultError(.invalidArgument, "line \(n + 1) of \(file): no sink of the kind '\(parts[1])'")
            }
        }
        return out
    }

    private static func write(_ lines: [(vaultID: String, sink: AuditSink)], to file: String) throws {
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        try SecureFile.makeDirectories(directory)
        var text = "# certvault audit sinks: VAULT-ID file PATH | VAULT-ID syslog TAG [SOCKET]\n"
        for (id, sink) in lines { text += "\(id) \(sink)\n" }
        try SecureFile.write(Data(text.utf8), to: file, force: true)
        // The system-wide file is read by every user's certvault.
        if geteuid() == 0 && file == systemFile {
            chmod(directory, 0o755)
            chmod(file, 0o644)
        }
    }
}
