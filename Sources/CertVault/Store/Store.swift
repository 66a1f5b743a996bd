internal import CertVaultNative
import Foundation
import GRDB
internal import GRDBSQLite
import Synchronization

/// The SQLite file: opening it safely, its identity, its migrations.
///
/// The identity (`application_id`, `user_version`) is checked before
/// anything is written, so a file that is not a certvault vault, or one from
/// a newer certvault, is left exactly as it was.
final class Store: Sendable {
    static let applicationID: Int64 = 1_129_731_121  // 'CVT1'
    static var formatVersion: Int64 { Int64(Schema.migrations.count) }
    /// How long a command waits for another process's write to finish.
    static let defaultBusyTimeout: TimeInterval = 60

    let queue: DatabaseQueue
    let path: String
    let readOnly: Bool
    private let isClosed = Atomic<Bool>(false)
    /// The file opened (device and inode): a restore puts another file at
    /// `path`, and a process that kept this one open must not write into
    /// what is now `PATH.before-restore`.
    private let identity: (UInt64, UInt64)?

    private init(queue: DatabaseQueue, path: String, readOnly: Bool = false) {
        self.queue = queue
        self.path = path
        self.readOnly = readOnly
        identity = Self.identity(of: path)
    }

    private static func identity(of path: String) -> (UInt64, UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// How long a wait for another process's write lasts before the
    /// caller's `onWait` is told (once a wait).
    static let waitNoticeAfter: TimeInterval = 1

    /// Waits for another process's lock up to `timeout`, telling `onWait`
    /// once a wait when it has lasted ``waitNoticeAfter``: SQLite's own
    /// busy timeout waits in silence.
    private static func busyMode(
        timeout: TimeInterval,
        path: String,
        onWait: (@Sendable (String) -> Void)?
    ) -> Database.BusyMode {
        guard let onWait else { return .timeout(timeout) }
        let started = Mutex<(start: Date, told: Bool)>((Date(), false))
        return .callback { tries in
            let waited = started.withLock { state -> (TimeInterval, Bool) in
                if tries == 0 { state = (Date(), false) }
                let waited = Date().timeIntervalSince(state.start)
                let tell = waited >= waitNoticeAfter && !state.told
                if tell { state.told = true }
                return (waited, tell)
            }
            if waited.1 {
                onWait(
                    "waiting for another certvault process to finish writing to \(path) (up to \(Int(timeout)) s)"
                )
            }
            guard waited.0 < timeout else { return false }
            // SQLite retries at once when this returns: the wait is ours to make.
            usleep(useconds_t(min(tries + 1, 20) * 5_000))
            return true
        }
    }

    private static func configuration(
        readOnly: Bool = false,
        busyTimeout: TimeInterval,
        path: String = "",
        onWait: (@Sendable (String) -> Void)? = nil
    ) -> Configuration {
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = busyMode(timeout: busyTimeout, path: path, onWait: onWait)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            // The file is untrusted input: nothing in it may run code,
            // load an extension or bend the schema (design rule 5).
            if let connection = db.sqliteConnection {
                let rc = cv_sqlite_harden(UnsafeMutableRawPointer(connection))
                guard rc == 0 else {
                    throw CertVaultError(
                        .io,
                        "cannot open the vault safely: SQLite refused its defensive settings (\(rc))"
                    )
                }
            }
            try db.execute(sql: "PRAGMA trusted_schema = OFF")
            if !readOnly {
                try db.execute(
                    sql: "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA journal_size_limit = 0"
                )
                // Never delete `PATH-wal` by name on close (emptied to zero bytes instead): a
                // restore may have given the path to another file, whose log that would be.
                var on: Int32 = 1
                _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
            }
        }
        return config
    }

    /// Throws `.vaultExists` when a vault (or what is left of one) is at `path`.
    static func requireAbsent(at path: String) throws {
        // An empty log beside no vault is what a vault left when its file was removed (the log's
        // name is kept on close, emptied): nothing of a vault, and no reason to refuse.
        var wal = stat()
        if !FileManager.default.fileExists(atPath: path), lstat(path + "-wal", &wal) == 0,
            wal.st_mode & S_IFMT == S_IFREG, wal.st_size == 0
        {
            unlink(path + "-wal")
            unlink(path + "-shm")
        }
        for suffix in ["", "-wal", "-journal"] where FileManager.default.fileExists(atPath: path + suffix) {
            throw CertVaultError(
                .vaultExists,
                "a vault already exists at \(path)",
                remedy: .choosePath
            )
        }
    }

    /// Creates a new, empty, migrated vault file (mode 0600, its directory 0700).
    static func create(at path: String) throws -> Store {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        try SecureFile.makeDirectories(dir)
        try requireAbsent(at: path)
        let fd = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw CertVaultError(.vaultExists, "a vault already exists at \(path)") }
            throw CertVaultError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        Glibc.close(fd)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration(busyTimeout: defaultBusyTimeout))
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try migrator.migrate(queue)
            return Store(queue: queue, path: path)
        } catch {
            removeFiles(path)
            throw map(error, path: path)
        }
    }

    /// Opens an existing vault, refusing anything that is not one.
    ///
    /// Read-only, nothing is written to the file: no journal mode is set,
    /// no migration runs, and every change is refused with `.readOnly`.
    static func open(
        at path: String,
        readOnly: Bool = false,
        busyTimeout: TimeInterval = defaultBusyTimeout,
        onWait: (@Sendable (String) -> Void)? = nil
    ) throws
        -> Store
    {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CertVaultError(
                .noVault,
                "no vault at \(path)",
                remedy: .createVault
            )
        }
        if let kind = SecureFile.notRegular(path) {
            throw CertVaultError(.notAVault, "\(path) is \(kind), not a vault")
        }
        do {
            let queue = try DatabaseQueue(
                path: path,
                configuration: configuration(readOnly: readOnly, busyTimeout: busyTimeout, path: path, onWait: onWait)
            )
            let (appID, version) = try queue.read { db in
                (
                    try Int64.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
                    try Int64.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                )
            }
            guard appID == applicationID else {
                throw CertVaultError(.notAVault, "\(path) is not a certvault vault")
            }
            guard version >= 1 else {
                throw CertVaultError(.notAVault, "\(path) is not a certvault vault (format \(version))")
            }
            guard version <= formatVersion else {
                throw CertVaultError(
                    .newerFormat,
                    "\(path) has vault format \(version), newer than this certvault supports (\(formatVersion))",
                    hint: "use a newer certvault"
                )
            }
            // The format number is a pragma no signature covers; the migrations table is in the signed
            // state. A number below the migrations applied was lowered by hand (to let an older certvault in).
            let applied = try queue.read { db in
                try db.tableExists("grdb_migrations")
                    ? try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") ?? 0 : 0
            }
            guard applied <= version else {
                throw CertVaultError(
                    .tampered,
                    "\(path) says it is of vault format \(version), but \(applied) migrations were applied to it: its format number was lowered by hand",
                    remedy: .restoreBackup
                )
            }
            let problems = try queue.read { try SchemaCheck.problems($0, version: Int(version)) }
            if let first = problems.first {
                throw CertVaultError(
                    .tampered,
                    "\(path) holds schema objects certvault did not create: \(first)"
                        + (problems.count > 1 ? " (and \(problems.count - 1) more)" : ""),
                    hint:
                        "a trigger or view added by hand could rewrite what certvault writes; restore the vault from a backup"
                )
            }
            if readOnly {
                guard version == formatVersion else {
                    throw CertVaultError(
                        .readOnly,
                        "\(path) has vault format \(version) and needs upgrading to \(formatVersion), which writes",
                        hint: "open it once for writing"
                    )
                }
                return Store(queue: queue, path: path, readOnly: true)
            }
            try queue.writeWithoutTransaction { db in
                if try String.fetchOne(db, sql: "PRAGMA journal_mode")?.lowercased() != "wal" {
                    try db.execute(sql: "PRAGMA journal_mode = WAL")
                }
            }
            if version < formatVersion { try migrator.migrate(queue) }
            return Store(queue: queue, path: path)
        } catch {
            throw map(error, path: path)
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (identifier, sql) in Schema.migrations {
            migrator.registerMigration(identifier) { db in try db.execute(sql: sql) }
        }
        return migrator
    }

    /// Turns SQLite's errors into ones a person can act on.
    static func map(_ error: Error, path: String) -> Error {
        guard let dbError = error as? DatabaseError else { return error }
        switch dbError.resultCode {
        case .SQLITE_NOTADB:
            return CertVaultError(.notAVault, "\(path) is not a certvault vault (not an SQLite database)")
        case .SQLITE_CORRUPT:
            return CertVaultError(
                .corruptVault,
                "\(path) is damaged or truncated (\(dbError.message ?? "corrupt"))",
                remedy: .restoreBackup
            )
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return CertVaultError(
                .busy,
                "\(path) stayed locked by another process for too long (\(dbError.message ?? "database is locked"))",
                hint: "run it again once the other process is done",
                remedy: nil,
                underlying: dbError
            )
        case .SQLITE_FULL:
            return StorageError.noSpace(path)
        case .SQLITE_IOERR:
            // SQLite says "disk I/O error" for a full disk too.
            if let free = StorageError.freeKiB(near: path), free < 256 { return StorageError.noSpace(path) }
            if StorageError.isReadOnlyFileSystem(near: path) { return StorageError.readOnlyFileSystem(path) }
            return StorageError.ioError(path)
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
            if StorageError.isReadOnlyFileSystem(near: path) { return StorageError.readOnlyFileSystem(path) }
            return CertVaultError(.io, "cannot write \(path): \(dbError.message ?? "permission denied")")
        case .SQLITE_ERROR where (dbError.message ?? "").contains("no such table"):
            return CertVaultError(.notAVault, "\(path) is not a certvault vault (\(dbError.message ?? ""))")
        default:
            return CertVaultError(.io, "database error on \(path): \(dbError.message ?? "\(dbError.resultCode)")")
        }
    }

    static func removeFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    /// Runs `body` in one IMMEDIATE transaction: a change and its audit
    /// record commit together or not at all.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try requireOpen()
        if readOnly { throw CertVaultError(.readOnly, "\(path) was opened read-only") }
        do {
            return try queue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    // Checked under the write lock: a restore holds it while it swaps the file.
                    if let identity, let now = Self.identity(of: path), now != identity {
                        throw CertVaultError(
                            .io,
                            "\(path) was replaced (a restore) since this command opened it; nothing was changed",
                            hint: "run the command again"
                        )
                    }
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch { throw Store.map(error, path: path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try requireOpen()
        do { return try queue.read(body) } catch { throw Store.map(error, path: path) }
    }

    /// Moves the write-ahead log into the file and truncates it to zero
    /// bytes, so that rows just deleted (a keyslot, a seal, a key) leave no
    /// copy in the `-wal` file; `secure_delete` has zeroed them in the file.
    func truncateLog() throws {
        try requireOpen()
        if readOnly { return }
        do {
            _ = try queue.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch { throw Store.map(error, path: path) }
    }

    /// Keeps the write-ahead log's name when the connection closes: a
    /// restore has given the vault's path to another file, and SQLite would
    /// otherwise delete `PATH-wal` by name — by then, perhaps, the new
    /// file's.
    func keepLogNameOnClose() {
        queue.writeWithoutTransaction { db in
            var on: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &on)
        }
    }

    /// Closes the connection; every later read or write is refused with `.closed`.
    func close() throws {
        guard !isClosed.exchange(true, ordering: .sequentiallyConsistent) else { return }
        do { try queue.close() } catch { throw Store.map(error, path: path) }
    }

    private func requireOpen() throws {
        if isClosed.load(ordering: .sequentiallyConsistent) {
            throw CertVaultError(.closed, "the vault \(path) was closed")
        }
    }
}

/// Timestamps are stored as ISO 8601 UTC text.
enum Timestamp {
    static func now() -> String { format(Date()) }
    static func parse(_ s: String?) -> Date? {
        guard let s else { return nil }
        return fast(s) ?? (try? Date(s, strategy: .iso8601))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, the form ``format(_:)`` writes, read with
    /// timegm: `list` reads two per entry.
    private static func fast(_ s: String) -> Date? {
        var s = s
        return s.withUTF8 { fast(bytes: $0) }
    }

    private static func fast(bytes b: UnsafeBufferPointer<UInt8>) -> Date? {
        guard b.count == 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b[19] == 90 else {
            return nil
        }
        func number(_ range: Range<Int>) -> Int32? {
            var v: Int32 = 0
            for i in range {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int32(b[i] - 48)
            }
            return v
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var t = tm()
        t.tm_year = year - 1900
        t.tm_mon = month - 1
        t.tm_mday = day
        t.tm_hour = hour
        t.tm_min = minute
        t.tm_sec = second
        return Date(timeIntervalSince1970: TimeInterval(timegm(&t)))
    }
    /// `YYYY-MM-DDTHH:MM:SSZ`, formatted with gmtime_r: Foundation's format
    /// styles cost tens of microseconds, and an import writes several stamps
    /// per file.
    static func format(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let year = Int(parts.tm_year) + 1900
        guard (1000...9999).contains(year) else {
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : String(v) }
            return
                "\(year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
        }
        // Twenty ASCII bytes, written in place: this runs for every date `check` reports.
        return String(unsafeUninitializedCapacity: 20) { b in
            func put(_ v: Int, _ at: Int, _ digits: Int) {
                var v = v
                for i in stride(from: at + digits - 1, through: at, by: -1) {
                    b[i] = UInt8(48 + v % 10)
                    v /= 10
                }
            }
            put(year, 0, 4)
            b[4] = 45
            put(Int(parts.tm_mon) + 1, 5, 2)
            b[7] = 45
            put(Int(parts.tm_mday), 8, 2)
            b[10] = 84
            put(Int(parts.tm_hour), 11, 2)
            b[13] = 58
            put(Int(parts.tm_min), 14, 2)
            b[16] = 58
            put(Int(parts.tm_sec), 17, 2)
            b[19] = 90
            return 20
        }
    }

    /// `YYYY-MM-DD` (UTC), for messages.
    static func day(_ d: Date) -> String { String(format(d).prefix(10)) }
}

extension Database {
    /// Executes `sql` through GRDB's statement cache: an import runs the
    /// same few statements for every file.
    func run(_ sql: String, _ arguments: StatementArguments = []) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// Fetches one row through the statement cache.
    func row(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
