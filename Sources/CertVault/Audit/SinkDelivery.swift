import Foundation
import GRDB

/// One audit record as a sink holds it: one line of JSON with the signed
/// record's fields exactly as hashed (`details` as the very text that was
/// hashed), its chain hashes and signature in hex, and the vault's id.
enum SinkLine {
    static func encode(_ r: AuditRecord, vaultID: Data) -> String {
        func optional(_ i: Int64?) -> JSONValue { i.map(JSONValue.integer) ?? .null }
        let fields: [String: JSONValue] = [
            "vault_id": .string(vaultID.hexLower), "seq": .integer(r.seq), "at": .string(r.at),
            "actor_id": optional(r.actorRow), "action": .string(r.action), "entry_id": optional(r.entryRow),
            "person_id": optional(r.personRow), "details": .string(r.details),
            "prev_hash": .string(r.previousHash.hexLower), "hash": .string(r.hash.hexLower),
            "signature": r.signature.map { .string($0.hexLower) } ?? .null,
        ]
        return JSONText.text(.object(fields))
    }

    /// The record a line holds, and the vault it names; nil for a line that
    /// is not one. Text before the first `{` (a syslog prefix) is skipped.
    static func decode(_ line: Substring) -> (vaultID: String, record: AuditRecord)? {
        guard let start = line.firstIndex(of: "{"), case .object(let f)? = JSONText.parse(String(line[start...]))
        else { return nil }
        func text(_ k: String) -> String? { if case .string(let s)? = f[k] { return s } else { return nil } }
        func int(_ k: String) -> Int64?? {
            switch f[k] {
            case .integer(let i)?: return .some(i)
            case .null?: return .some(nil)
            default: return nil
            }
        }
        func hex(_ k: String, _ count: Int) -> Data? {
            text(k).flatMap { Data(hex: $0) }.flatMap { $0.count == count ? $0 : nil }
        }
        guard let vaultID = text("vault_id"), case .integer(let seq)? = f["seq"], AuditChain.seqRange.contains(seq),
            let at = text("at"), let action = text("action"), let details = text("details"),
            let actor = int("actor_id"), let entry = int("entry_id"), let person = int("person_id"),
            let previous = hex("prev_hash", 32), let hash = hex("hash", 32)
        else { return nil }
        var signature: Data?
        if f["signature"] != .null {
            guard let s = hex("signature", 64) else { return nil }
            signature = s
        }
        return (
            vaultID,
            AuditRecord(
                seq: seq,
                at: at,
                actorID: actor.map { Person.ID($0) },
                action: action,
                entryID: entry.map { Entry.ID($0) },
                personID: person.map { Person.ID($0) },
                details: details,
                previousHash: previous,
                hash: hash,
                signature: signature
            )
        )
    }
}

/// What ``Vault/syncAuditSinks(acceptingReplacedFiles:)`` did for one sink.
public struct AuditSinkStatus: Sendable {
    /// The sink.
    public var sink: AuditSink
    /// How many records were sent now.
    public var sent: Int
    /// The last record the sink now holds; nil when it holds none.
    public var heldThrough: Int64?
    /// Why the sink could not be brought up to date; nil when it was.
    public var error: CertVaultError?
    /// Whether a file sink was replaced, cut or removed since this machine
    /// last wrote it, and taken as the sink from now on.
    public var replaced = false
}

/// What ``Vault/compare(withSink:)`` found.
public struct AuditSinkComparison: Sendable {
    /// How many lines held a record of this vault.
    public var records: Int
    /// Every record the vault lacks or holds otherwise, every gap in the
    /// sink and every altered or forged line: any of them means the vault
    /// or the sink was tampered with.
    public var findings: [AuditFinding]
    /// The sequence numbers of the signed records the sink holds and the
    /// vault lacks or holds otherwise: what a rollback hid.
    public var undone: [Int64]
    /// What is worth knowing and proves nothing wrong: lines that are no
    /// record (a write cut short), lines of other vaults, records not sent
    /// yet, a rollback the vault accepted.
    public var notes: [String]
    /// Whether nothing was found.
    public var isConsistent: Bool { findings.isEmpty }
}

/// The last record a sink holds, as far as the vault can tell.
private struct SinkTail {
    /// The last record both the sink and the vault hold; 0 for none.
    var common: Int64 = 0
    /// A signed record the sink holds and the vault lacks (after `common`),
    /// if no acceptance of a rollback covers it.
    var diverged: AuditRecord?
    /// Who signed it, as the vault's records name them.
    var signer: String?
    /// The hashes of the acceptances of a rollback the sink holds.
    var acceptances = Set<Data>()
}

extension Vault {
    /// The sinks this machine's configuration names for this vault.
    /// - Throws: what reading the configuration throws.
    public func auditSinks() throws -> [AuditSink] { try sinkConfiguration?.sinks(for: vaultID) ?? [] }

    /// Sends every sink each record it lacks, and syncs it. A sink that
    /// holds a signed record this vault lacks (the vault was rolled back)
    /// gets nothing until the vault records that the rollback was accepted.
    /// - Returns: one status per sink; each one's error says why it is behind.
    /// - Throws: what reading the configuration throws.
    /// - Parameter replacedFiles: take a file sink that was replaced, cut or
    ///   removed since this machine last wrote it as the sink from now on
    ///   (the whole log is sent to it, and its status says so); without it,
    ///   such a sink is an error, since removing a sink's file would hide
    ///   what it held.
    public func syncAuditSinks(acceptingReplacedFiles replacedFiles: Bool = false) throws -> [AuditSinkStatus] {
        try auditSinks().map { sink in
            do { return try send(to: sink, acceptingReplaced: replacedFiles) } catch let error as CertVaultError {
                return AuditSinkStatus(sink: sink, sent: 0, heldThrough: nil, error: error)
            }
        }
    }

    /// Brings every sink up to date.
    /// - Throws: the first sink's failure, once every sink was tried.
    func sendToSinks() throws {
        let failed = try syncAuditSinks().compactMap(\.error)
        if let first = failed.first { throw first }
    }

    private func send(to sink: AuditSink, acceptingReplaced: Bool) throws -> AuditSinkStatus {
        switch sink {
        case .file(let path): return try sendToFile(path, sink: sink, acceptingReplaced: acceptingReplaced)
        case .syslog(let tag, let socket): return try sendToSyslog(tag: tag, socket: socket, sink: sink)
        }
    }

    // MARK: File

    private func sendToFile(_ path: String, sink: AuditSink, acceptingReplaced: Bool) throws -> AuditSinkStatus {
        let fd = Glibc.open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.sinkError("cannot open the audit sink \(path)", path) }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw CertVaultError(.io, "the audit sink \(path) is not a regular file")
        }
        try Self.lock(fd, what: "the audit sink \(path)")
        let markPath = sinkStatePath(sink)
        let mark = markPath.flatMap { FileManager.default.contents(atPath: $0) }.flatMap {
            try? JSONDecoder().decode(FileSinkMark.self, from: $0)
        }
        let replaced = mark.map { !$0.isSameFile(fd, st) } ?? false
        if replaced && !acceptingReplaced {
            throw CertVaultError(
                .auditSink,
                "the audit sink \(path) was replaced, cut or removed since this machine last wrote it "
                    + "(it held \(mark?.offset ?? 0) bytes, now \(st.st_size)): what it held may be hidden",
                remedy: .syncSinks
            )
        }
        var lines = try SinkLines(fd: fd)
        let (records, tail) = try store.read { db -> ([AuditRecord], SinkTail) in
            // What this machine already read of the file, if the file and the vault still agree with it.
            var start = SinkTail()
            // (A file that is not the one marked was refused above, or is taken whole.)
            if let mark, !replaced, try mark.vaultHolds(db) {
                lines = try SinkLines(fd: fd, from: mark.offset)
                start.common = mark.common
                start.acceptances = Set(mark.acceptances.compactMap { Data(hex: $0) })
            }
            let tail = try fileTail(&lines, path: path, db, from: start)
            if let diverged = tail.diverged { throw Self.rolledBack(sink: path, record: diverged, signer: tail.signer) }
            return (try Self.records(db, after: tail.common), tail)
        }
        var out = Data()
        if lines.endedWithoutNewline { out.append(10) }
        for record in records {
            out.append(contentsOf: SinkLine.encode(record, vaultID: vaultID).utf8)
            out.append(10)
        }
        if !records.isEmpty || lines.endedWithoutNewline {
            try out.withUnsafeBytes {
                try Self.writeAll(fd, $0, what: "cannot write the audit sink \(path)", path: path)
            }
            guard fsync(fd) == 0 else { throw Self.sinkError("cannot sync the audit sink \(path)", path) }
        }
        var held = (seq: tail.common, hash: Data())
        if let last = records.last {
            held = (last.seq, last.hash)
        } else if tail.common > 0 {
            held.hash = try store.read { try Self.storedHash($0, seq: tail.common) } ?? Data()
        }
        if let markPath {
            var acceptances = tail.acceptances
            for r in records where r.action == AuditAction.rollbackAccepted.rawValue { acceptances.insert(r.hash) }
            // A mark that cannot be written costs the next send a whole read, nothing more.
            if let mark = FileSinkMark.after(fd, common: held.seq, commonHash: held.hash, acceptances: acceptances),
                let data = try? JSONEncoder().encode(mark)
            {
                try? SecureFile.write(data, to: markPath, force: true, durable: false)
            }
        }
        return AuditSinkStatus(
            sink: sink,
            sent: records.count,
            heldThrough: held.seq == 0 ? nil : held.seq,
            error: nil,
            replaced: replaced
        )
    }

    /// What a sink file holds, read whole and in order: the last of the
    /// vault's records it holds, and a signed record it holds that the
    /// vault lacks, if no acceptance of a rollback covers it — one the sink
    /// holds after it, or one it does not hold yet.
    ///
    /// The whole file, not its last line: a genuine old line appended again
    /// would otherwise pass for the sink's end and hide the record a
    /// rolled-back vault lacks. Lines that do not hash right or carry no
    /// signature of someone the vault's records introduce are passed over,
    /// so junk appended to the sink stops nothing.
    private func fileTail(
        _ lines: inout SinkLines,
        path: String,
        _ db: Database,
        from start: SinkTail = SinkTail()
    ) throws -> SinkTail {
        var tail = start
        var ledger: PeopleLedger?
        let lookup = try db.cachedStatement(sql: "SELECT hash FROM audit WHERE seq = ?")
        while let line = try lines.next() {
            guard let (id, record) = SinkLine.decode(line[...]), record.recomputedHash == record.hash else { continue }
            // Another vault's line (or one claiming to be) is no record of this one: passed over.
            guard id == vaultID.hexLower else { continue }
            if try Data.fetchOne(lookup, arguments: [record.seq]) == record.hash {
                tail.common = max(tail.common, record.seq)
                // An acceptance the vault holds covers whatever the sink held before it was first sent
                // (a copy appended again later covers nothing).
                if record.action == AuditAction.rollbackAccepted.rawValue,
                    tail.acceptances.insert(record.hash).inserted
                {
                    tail.diverged = nil
                }
                continue
            }
            if tail.diverged == nil {
                if ledger == nil { ledger = try PeopleLedger.replay(db, vaultID: vaultID) }
                if Self.isSigned(record, by: ledger!) {
                    tail.diverged = record
                    tail.signer = record.actorRow.flatMap { ledger?.people[$0]?.handle }
                }
            }
        }
        if tail.diverged != nil, let acceptance = try Self.lastAcceptance(db),
            !tail.acceptances.contains(acceptance.hash)
        {
            tail.diverged = nil
        }
        return tail
    }

    /// A rollback that a sink saw and this machine's witness may not have:
    /// a signed record a sink holds and the vault lacks, with no acceptance
    /// since. ``Session/acceptRollback()`` accepts it on purpose.
    func sinkRollback(_ db: Database) throws -> Rollback? {
        guard let head = try AuditChain.lastSigned(db) else { return nil }
        for sink in try auditSinks() {
            switch sink {
            case .file(let path):
                let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { continue }
                defer { Glibc.close(fd) }
                var lines = try SinkLines(fd: fd)
                if let diverged = try fileTail(&lines, path: path, db).diverged {
                    return Rollback(
                        seen: .init(seq: diverged.seq, hash: diverged.hash.hexLower, seenAt: diverged.at),
                        head: AuditHead(seq: head.seq, hash: head.hash),
                        reason:
                            "the audit sink \(path) holds record \(diverged.seq) (\(diverged.action) at \(diverged.at)), which this vault lacks"
                    )
                }
            case .syslog:
                guard let cursorPath = sinkStatePath(sink),
                    let data = FileManager.default.contents(atPath: cursorPath),
                    let cursor = try? JSONDecoder().decode(SyslogCursor.self, from: data)
                else { continue }
                if try syslogStart(cursor, db) == nil {
                    return Rollback(
                        seen: .init(seq: cursor.seq, hash: cursor.hash, seenAt: ""),
                        head: AuditHead(seq: head.seq, hash: head.hash),
                        reason: "the syslog sink \(sink) was sent record \(cursor.seq), which this vault lacks"
                    )
                }
            }
        }
        return nil
    }

    // MARK: Syslog

    /// What a syslog sink was sent last, kept beside the rollback witness
    /// (a syslog daemon cannot be asked).
    private struct SyslogCursor: Codable {
        var seq: Int64
        var hash: String
        /// The hash of the last rollback acceptance the vault held when sent.
        var acceptance: String?
    }

    private func sendToSyslog(tag: String, socket path: String, sink: AuditSink) throws -> AuditSinkStatus {
        guard let witness else {
            throw CertVaultError(.io, "a syslog sink needs this machine's state directory to remember what it sent")
        }
        try SecureFile.makeDirectories(witness.directory)
        guard let cursorPath = sinkStatePath(sink) else { throw CertVaultError(.io, "no state directory") }
        let fd = Glibc.open(cursorPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SecureFile.posixError("cannot open \(cursorPath)") }
        defer { Glibc.close(fd) }
        try Self.lock(fd, what: cursorPath)
        var cursor: SyslogCursor?
        if let data = FileManager.default.contents(atPath: cursorPath), !data.isEmpty {
            cursor = try? JSONDecoder().decode(SyslogCursor.self, from: data)
            if cursor == nil { throw CertVaultError(.io, "\(cursorPath) cannot be read") }
        }
        let (records, acceptance) = try store.read { db -> ([AuditRecord], AuditRecord?) in
            let acceptance = try Self.lastAcceptance(db)
            var from: Int64 = 0
            if let cursor {
                guard let start = try syslogStart(cursor, db) else {
                    throw CertVaultError(
                        .rollback,
                        "the syslog sink \(tag) was sent record \(cursor.seq), which this vault lacks: the vault was rolled back",
                        remedy: .compareWithSink
                    )
                }
                from = start
            }
            return (try Self.records(db, after: from), acceptance)
        }
        guard !records.isEmpty else {
            return AuditSinkStatus(sink: sink, sent: 0, heldThrough: cursor?.seq, error: nil)
        }
        let s = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw SecureFile.posixError("cannot open a socket for syslog") }
        defer { Glibc.close(s) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw CertVaultError(.invalidArgument, "the syslog socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            throw SecureFile.posixError("no syslog daemon takes messages at \(path)")
        }
        for record in records {
            // authpriv.info: where a system keeps what only administrators read.
            let message = "<86>\(Self.syslogTime()) \(tag)[\(getpid())]: \(SinkLine.encode(record, vaultID: vaultID))"
            let sent = message.utf8CString.withUnsafeBufferPointer { Glibc.send(s, $0.baseAddress, $0.count - 1, 0) }
            guard sent == message.utf8.count else {
                throw SecureFile.posixError("cannot send record \(record.seq) to syslog at \(path)")
            }
        }
        let last = records[records.count - 1]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(
            SyslogCursor(seq: last.seq, hash: last.hash.hexLower, acceptance: acceptance?.hash.hexLower)
        )
        try SecureFile.write(data, to: cursorPath, force: true)
        return AuditSinkStatus(sink: sink, sent: records.count, heldThrough: last.seq, error: nil)
    }

    /// Where this machine keeps what it knows of a sink: for syslog what
    /// was sent last, for a file how far it was read and found clean.
    private func sinkStatePath(_ sink: AuditSink) -> String? {
        witness.map {
            $0.directory + "/" + vaultID.hexLower + ".sink-"
                + Digest.sha256(Data(sink.description.utf8)).hexLower.prefix(16)
        }
    }

    /// The record after which a syslog sink lacks records; nil when it was
    /// sent a record the vault lacks and no rollback was accepted since.
    private func syslogStart(_ cursor: SyslogCursor, _ db: Database) throws -> Int64? {
        if try Self.storedHash(db, seq: cursor.seq)?.hexLower == cursor.hash { return cursor.seq }
        guard let acceptance = try Self.lastAcceptance(db), acceptance.hash.hexLower != cursor.acceptance else {
            return nil
        }
        // Accepted since: send from where the logs part, if the acceptance says.
        return min(acceptance.fields.integer(.sharedSeq) ?? 0, cursor.seq)
    }

    private static func syslogTime() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = parts.tm_mday < 10 ? " \(parts.tm_mday)" : "\(parts.tm_mday)"
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(months[Int(parts.tm_mon)]) \(day) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    // MARK: Shared

    private static func lock(_ fd: Int32, what: String) throws {
        // Another certvault sending to the same sink finishes first; one that hangs is not waited for forever.
        for _ in 0..<600 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
            guard errno == EWOULDBLOCK || errno == EINTR else { throw SecureFile.posixError("cannot lock \(what)") }
            usleep(50_000)
        }
        throw CertVaultError(.io, "\(what) stayed locked by another process for 30 seconds")
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw sinkError(what, path) }
            offset += n
        }
    }

    /// An errno from a sink's file, naming its file system; never "nothing
    /// was changed", since a sink is written after a change commits.
    private static func sinkError(_ what: String, _ path: String, errno e: Int32 = errno) -> CertVaultError {
        guard e == ENOSPC || e == EDQUOT else { return SecureFile.posixError(what, errno: e, path: path) }
        return StorageError.noSpace(path, doing: what, nothingChanged: false)
    }

    static func storedHash(_ db: Database, seq: Int64) throws -> Data? {
        try Data.fetchOne(db, sql: "SELECT hash FROM audit WHERE seq = ?", arguments: [seq])
    }

    static func records(_ db: Database, after seq: Int64) throws -> [AuditRecord] {
        try Row.fetchAll(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE seq > ? ORDER BY seq",
            arguments: [seq]
        )
        .map { try AuditRecord(row: $0) }
    }

    /// The last acceptance of a rollback the vault holds, its signature checked.
    static func lastAcceptance(_ db: Database) throws -> AuditRecord? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT \(AuditChain.columns) FROM audit WHERE action = ? ORDER BY seq DESC LIMIT 1",
                arguments: [AuditAction.rollbackAccepted.rawValue]
            )
        else { return nil }
        return try AuditRecord(row: row)
    }

    /// Whether `record` hashes right and carries the signature of the person its records name.
    static func isSigned(_ record: AuditRecord, by ledger: PeopleLedger) -> Bool {
        guard record.recomputedHash == record.hash, let signature = record.signature,
            let key = record.actorRow.flatMap({ ledger.people[$0]?.signPublicKey })
        else { return false }
        return Signature.verify(signature, message: record.hash, publicKey: key)
    }

    private static func rolledBack(sink: String, record: AuditRecord, signer: String?) -> CertVaultError {
        CertVaultError(
            .rollback,
            "the audit sink \(sink) holds record \(record.seq) (\(record.action) by \(signer ?? "?") at \(record.at)), "
                + "which this vault lacks: the vault was rolled back",
            remedy: .compareWithSink
        )
    }

    // MARK: Comparing

    /// Reads a sink's lines and holds them against this vault's log: every
    /// signed record the vault lacks (a rollback: what was hidden), every
    /// record that differs, every gap in the sink and every line whose hash
    /// or signature does not check out.
    /// - Parameter path: a sink file, or a syslog file that holds its lines.
    /// - Throws: `.io` when the file cannot be read.
    public func compare(withSink path: String) throws -> AuditSinkComparison {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecureFile.posixError("cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let vaultHex = vaultID.hexLower
        return try store.read { db in
            var hashes: [Int64: Data] = [:]
            var last: Int64 = 0
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, hash FROM audit")
            while let row = try rows.next() {
                // A row altered into NULLs or other types is no record the sink can match.
                let c = Columns(row, "audit record")
                guard let seq = try? c.int("seq"), let hash = try? c.blob("hash") else { continue }
                hashes[seq] = hash
                last = max(last, seq)
            }
            let ledger = try PeopleLedger.replay(db, vaultID: vaultID)
            func who(_ r: AuditRecord) -> String {
                "\(r.action) by \(r.actorRow.flatMap { ledger.people[$0]?.handle } ?? "an unknown person") at \(r.at)"
            }
            var out = AuditSinkComparison(records: 0, findings: [], undone: [], notes: [])
            var unreadable = 0
            var others = 0
            var duplicates = 0
            var seen: [Int64: Data] = [:]
            var present = Set<Int64>()
            var highest: Int64 = 0
            var undone = false
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let number = index + 1
                if line.allSatisfy(\.isWhitespace) { continue }
                guard let (id, record) = SinkLine.decode(line[...]) else {
                    unreadable += 1
                    continue
                }
                guard id == vaultHex else {
                    others += 1
                    continue
                }
                out.records += 1
                if seen[record.seq] == record.hash {
                    duplicates += 1
                    continue
                }
                present.insert(record.seq)
                guard record.recomputedHash == record.hash else {
                    out.findings.append(
                        .init(
                            seq: record.seq,
                            message: "line \(number) of the sink was altered: its fields do not match its hash"
                        )
                    )
                    continue
                }
                seen[record.seq] = record.hash
                highest = max(highest, record.seq)
                if hashes[record.seq] == record.hash { continue }
                if record.signature != nil && !Self.isSigned(record, by: ledger) {
                    out.findings.append(
                        .init(
                            seq: record.seq,
                            message:
                                "line \(number) of the sink (\(record.action)) does not carry the signature of anyone the vault knows: forged, or signed by someone the vault lost"
                        )
                    )
                    continue
                }
                guard record.signature != nil else {
                    // A failed unlock is signed by no one: anyone who can write the sink could add one.
                    out.notes.append(
                        "line \(number) holds an unsigned \(record.action) (record \(record.seq)) the vault does not: it proves nothing by itself"
                    )
                    continue
                }
                undone = true
                out.undone.append(record.seq)
                out.findings.append(
                    .init(
                        seq: record.seq,
                        message: hashes[record.seq] == nil
                            ? "the vault lacks this record, which the sink holds (line \(number): \(who(record))): the vault was rolled back"
                            : "the vault holds another record than the sink's (line \(number): \(who(record))): the vault's log was rewritten"
                    )
                )
            }
            // Every record from the first to the last the sink holds, in whatever order its branches hold them.
            var gapStart: Int64?
            let top = present.max() ?? 0
            for seq in 1...(top + 1) {
                if seq <= top && !present.contains(seq) {
                    if gapStart == nil { gapStart = seq }
                } else if let start = gapStart {
                    let span = start == seq - 1 ? "record \(start)" : "records \(start)–\(seq - 1)"
                    out.findings.append(.init(message: "the sink lacks \(span): lines were removed"))
                    gapStart = nil
                }
            }
            if unreadable > 0 {
                out.notes.append("\(unreadable) line(s) of the sink are no record (a write cut short?)")
            }
            if others > 0 { out.notes.append("\(others) line(s) of the sink are another vault's records") }
            if duplicates > 0 { out.notes.append("\(duplicates) record(s) appear twice in the sink, alike") }
            if last > highest {
                out.notes.append("the vault's records \(highest + 1)–\(last) are not in the sink yet")
            }
            if undone, let acceptance = try Self.lastAcceptance(db) {
                out.notes.append("the vault accepted a rollback in record \(acceptance.seq) (\(who(acceptance)))")
            }
            return out
        }
    }
}

/// The lines of a file from its start, read a block at a time.
private struct SinkLines {
    let fd: Int32
    private var offset: Int64
    private let size: Int64
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the next newline goes on from.
    private var searched = 0
    /// Whether the line being read grew past ``longestLine``.
    private var skipping = false
    /// Whether the file's last line has no newline (a write cut short).
    let endedWithoutNewline: Bool

    init(fd: Int32, from start: Int64 = 0) throws {
        self.fd = fd
        offset = start
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SecureFile.posixError("cannot read an audit sink") }
        size = Int64(st.st_size)
        var last: UInt8 = 10
        if size > 0 {
            guard pread(fd, &last, 1, off_t(size - 1)) == 1 else {
                throw SecureFile.posixError("cannot read an audit sink")
            }
        }
        endedWithoutNewline = last != 10
    }

    /// The next line, without its newline; nil at the end of the file. A
    /// line longer than ``longestLine`` is no record: it is passed over as
    /// an empty line, read once and not kept.
    mutating func next() throws -> String? {
        while true {
            if let newline = buffer[searched...].firstIndex(of: 10) {
                defer {
                    start = newline + 1
                    searched = start
                }
                if skipping {
                    skipping = false
                    return ""
                }
                return String(decoding: buffer[start..<newline], as: UTF8.self)
            }
            searched = buffer.count
            if buffer.count - start > Self.longestLine {
                skipping = true
                buffer.removeAll(keepingCapacity: true)
                start = 0
                searched = 0
            }
            if offset >= size {
                guard start < buffer.count || skipping else { return nil }
                defer {
                    start = buffer.count
                    searched = start
                    skipping = false
                }
                return skipping ? "" : String(decoding: buffer[start...], as: UTF8.self)
            }
            buffer.removeSubrange(0..<start)
            searched -= start
            start = 0
            let n = Int(min(1 << 20, size - offset))
            var chunk = [UInt8](repeating: 0, count: n)
            guard pread(fd, &chunk, n, off_t(offset)) == n else {
                throw SecureFile.posixError("cannot read an audit sink")
            }
            offset += Int64(n)
            buffer += chunk
        }
    }

    /// Longer than any record certvault writes (a policy of 100 trusted roots is about 200 KiB).
    static let longestLine = 4 << 20
}

/// How far this machine read a sink file and found it clean, kept beside
/// the rollback witness so that an export reads only what was appended
/// since. Believed only while the file is the same (device, inode, the
/// bytes before the mark) and the vault still holds the record it names:
/// a rolled-back vault, or a file replaced or cut, is read whole again.
private struct FileSinkMark: Codable {
    var device: UInt64
    var inode: UInt64
    /// Bytes read, ending with a newline.
    var offset: Int64
    /// The last of the vault's records the file held, and its hash (empty for none).
    var common: Int64
    var commonHash: String
    /// SHA-256 of the last 4 KiB before `offset`.
    var tailDigest: String
    /// The hashes of the acceptances of a rollback the file held before `offset`.
    var acceptances: [String]

    static func tailDigest(_ fd: Int32, _ offset: Int64) -> String? {
        let n = Int(min(4096, offset))
        var bytes = [UInt8](repeating: 0, count: n)
        guard pread(fd, &bytes, n, off_t(offset - Int64(n))) == n else { return nil }
        return Digest.sha256(Data(bytes)).hexLower
    }

    /// The mark for the file as it is now.
    static func after(_ fd: Int32, common: Int64, commonHash: Data, acceptances: Set<Data>) -> FileSinkMark? {
        var st = stat()
        guard fstat(fd, &st) == 0, let digest = tailDigest(fd, Int64(st.st_size)) else { return nil }
        return FileSinkMark(
            device: UInt64(st.st_dev),
            inode: UInt64(st.st_ino),
            offset: Int64(st.st_size),
            common: common,
            commonHash: commonHash.hexLower,
            tailDigest: digest,
            acceptances: acceptances.map(\.hexLower).sorted()
        )
    }

    /// Whether this is the file the mark was taken of, with nothing cut
    /// from it: the same device and inode, at least as long, the same bytes
    /// before the mark.
    func isSameFile(_ fd: Int32, _ st: stat) -> Bool {
        device == UInt64(st.st_dev) && inode == UInt64(st.st_ino) && offset <= Int64(st.st_size)
            && Self.tailDigest(fd, offset) == tailDigest
    }

    /// Whether the vault still holds the record the mark names (a
    /// rolled-back vault does not: the file is then read whole).
    func vaultHolds(_ db: Database) throws -> Bool {
        guard common > 0 else { return commonHash.isEmpty }
        return try Vault.storedHash(db, seq: common)?.hexLower == commonHash
    }
}
