import Foundation
import GRDB

/// What this machine remembers of each vault: the last head it saw
/// (design rule 6).
///
/// Someone who can write the vault file can put an older copy back, hiding
/// an export or a departure that came later; the older copy verifies on its
/// own. The witness is kept outside the vault, per vault id and per user,
/// in `$XDG_STATE_HOME/certvault/` (else `~/.local/state/certvault/`), mode
/// 0600. A vault whose log no longer holds the head seen last releases no
/// key and accepts no change until someone accepts the rollback on purpose
/// (``Session/acceptRollback()``), which is recorded.
///
/// What it cannot do: a machine that never opened the vault has no witness,
/// and the witness only knows what this machine saw. Write the head that
/// `certvault audit verify` prints somewhere else too, and check it with
/// `--expect`.
public struct RollbackWitness: Sendable {
    /// The directory holding one file per vault id.
    public let directory: String

    /// A witness keeping its files in `directory` (made when first written).
    public init(directory: String) { self.directory = directory }

    /// `$XDG_STATE_HOME/certvault`, else `$HOME/.local/state/certvault`;
    /// nil when neither variable is set.
    public static var standard: RollbackWitness? {
        if let xdg = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return RollbackWitness(directory: xdg + "/certvault")
        }
        if let home = getenv("HOME").map({ String(cString: $0) }), home.hasPrefix("/") {
            return RollbackWitness(directory: home + "/.local/state/certvault")
        }
        return nil
    }

    /// A head seen, and when.
    public struct Seen: Sendable, Codable, Equatable {
        /// The sequence number of the record seen.
        public var seq: Int64
        /// Lower-case hex of the record's hash.
        public var hash: String
        /// When this machine saw it, ISO 8601 UTC.
        public var seenAt: String

        /// A head seen, from its fields.
        public init(seq: Int64, hash: String, seenAt: String) {
            self.seq = seq
            self.hash = hash
            self.seenAt = seenAt
        }
    }

    func file(_ vaultID: Data) -> String { directory + "/" + vaultID.hexLower + ".head" }

    /// Which vault this machine saw at a path, and when.
    public struct PathSeen: Sendable, Codable, Equatable {
        /// Lower-case hex of the vault id.
        public var vaultID: String
        /// When this machine noted that vault there, ISO 8601 UTC.
        public var seenAt: String

        /// A vault seen at a path, from its fields.
        public init(vaultID: String, seenAt: String) {
            self.vaultID = vaultID
            self.seenAt = seenAt
        }
    }

    private func pathFile(_ path: String) -> String {
        let canonical =
            realpath(path, nil).map { p -> String in
                defer { free(p) }
                return String(cString: p)
            } ?? path
        return directory + "/" + Digest.sha256(Data(canonical.utf8)).hexLower + ".path"
    }

    /// The vault this machine last saw at `path`, if any.
    public func vault(atPath path: String) throws -> PathSeen? {
        let file = pathFile(path)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        guard let data = FileManager.default.contents(atPath: file),
            let seen = try? JSONDecoder().decode(PathSeen.self, from: data), Data(hex: seen.vaultID)?.count == 16
        else {
            throw CertVaultError(
                .io,
                "the rollback witness \(file) cannot be read",
                hint: "it holds which vault this machine saw at \(path); remove it only if you know why it is damaged"
            )
        }
        return seen
    }

    /// Remembers that `path` holds the vault `vaultID`, the first time a
    /// vault is seen there (or created there).
    func remember(path: String, vaultID: Data) throws {
        if try vault(atPath: path) != nil { return }
        try replace(path: path, vaultID: vaultID)
    }

    /// Remembers that `path` now holds `vaultID` (a new vault made there, or another accepted on purpose).
    func replace(path: String, vaultID: Data) throws {
        if try vault(atPath: path)?.vaultID == vaultID.hexLower { return }
        try SecureFile.makeDirectories(directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let seen = PathSeen(vaultID: vaultID.hexLower, seenAt: Timestamp.now())
        try SecureFile.write(try encoder.encode(seen), to: pathFile(path), force: true, durable: false)
    }

    /// The head last seen for `vaultID`, if any.
    /// - Throws: `.io` when the witness file exists but cannot be read.
    public func seen(vaultID: Data) throws -> Seen? {
        let path = file(vaultID)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path),
            let seen = try? JSONDecoder().decode(Seen.self, from: data), seen.seq > 0,
            Data(hex: seen.hash)?.count == 32
        else {
            throw CertVaultError(
                .io,
                "the rollback witness \(path) cannot be read",
                hint: "it holds the last audit head this machine saw; remove it only if you know why it is damaged"
            )
        }
        return seen
    }

    /// Remembers `head` if it is later than what was seen.
    public func remember(_ head: AuditHead, vaultID: Data) throws {
        if let seen = try seen(vaultID: vaultID), seen.seq >= head.seq { return }
        try replace(with: head, vaultID: vaultID)
    }

    /// Remembers `head` even if an older one is being accepted in place of what was seen.
    func replace(with head: AuditHead, vaultID: Data) throws {
        do {
            try SecureFile.makeDirectories(directory)
            let seen = Seen(seq: head.seq, hash: head.hash.hexLower, seenAt: Timestamp.now())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            // Atomic, not synced: a crash loses at most this update, and an
            // older head is still one the log holds (no false alarm).
            try SecureFile.write(try encoder.encode(seen), to: file(vaultID), force: true, durable: false)
        } catch let error as CertVaultError {
            throw error
        } catch {
            throw CertVaultError(
                .io,
                "cannot write the rollback witness in \(directory): \(error.localizedDescription)"
            )
        }
    }
}

/// The log no longer holds the head this machine saw.
public struct Rollback: Sendable, Equatable {
    /// The head this machine saw last; for another vault found at the
    /// path, record 0 with an empty hash.
    public var seen: RollbackWitness.Seen
    /// The last signed record the vault holds now.
    public var head: AuditHead
    /// Why it is a rollback, in words, with when this machine saw what it remembers.
    public var reason: String

    /// A rollback from its fields, for tests and for callers that build their own.
    public init(seen: RollbackWitness.Seen, head: AuditHead, reason: String) {
        self.seen = seen
        self.head = head
        self.reason = reason
    }

    func error() -> CertVaultError {
        CertVaultError(
            .rollback,
            "the vault was rolled back: \(reason)",
            remedy: .acceptRollback
        )
    }

    /// Whether the chain from the record seen to `head` is intact.
    static func detect(_ db: Database, seen: RollbackWitness.Seen, head: AuditHead) throws -> Rollback? {
        let when = "seen on \(seen.seenAt)"
        // A restore that completed but was cut off before the witness moved
        // left a signed acceptance of exactly this head: no rollback.
        if try acceptedOnPurpose(db, seen: seen) { return nil }
        if seen.seq > head.seq {
            if try stillHeld(db, seen: seen, after: head) { return nil }
            return Rollback(
                seen: seen,
                head: head,
                reason: "its log ends at record \(head.seq), but record \(seen.seq) was \(when)"
            )
        }
        var previous: Data?
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE seq >= ? AND seq <= ? ORDER BY seq",
            arguments: [seen.seq, head.seq]
        )
        var expectedSeq = seen.seq
        while let row = try rows.next() {
            let record = try AuditRecord(row: row)
            guard record.seq == expectedSeq else { break }
            if let previous {
                guard record.previousHash == previous, record.recomputedHash == record.hash else { break }
            } else {
                guard record.hash.hexLower == seen.hash else {
                    return Rollback(
                        seen: seen,
                        head: head,
                        reason:
                            "record \(seen.seq) differs from the one \(when): this is another history (a backup of a branch this machine left, or a rewritten log)"
                    )
                }
            }
            previous = record.hash
            expectedSeq += 1
        }
        guard expectedSeq == head.seq + 1 else {
            return Rollback(
                seen: seen,
                head: head,
                reason: "the records after record \(seen.seq) (\(when)) were rewritten or removed"
            )
        }
        return nil
    }

    /// Whether the vault holds an acceptance of a rollback from exactly the
    /// head seen (number and hash), signed by someone its records introduce.
    private static func acceptedOnPurpose(_ db: Database, seen: RollbackWitness.Seen) throws -> Bool {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE action = ? ORDER BY seq DESC",
            arguments: [AuditAction.rollbackAccepted.rawValue]
        )
        var ledger: PeopleLedger?
        for row in rows {
            guard let record = try? AuditRecord(row: row), record.fields.integer(.seenSeq) == seen.seq,
                record.fields.string(.seenHash) == seen.hash
            else { continue }
            if ledger == nil {
                guard let id = try Data.fetchOne(db, sql: "SELECT vault_id FROM vault") else { return false }
                ledger = try PeopleLedger.replay(db, vaultID: id)
            }
            if Vault.isSigned(record, by: ledger!) { return true }
        }
        return false
    }

    /// Whether the record seen is still in the file after `head`, reached
    /// from it through unsigned `unlock.failed` records alone, each linked
    /// and hashing to its stored hash: nothing was taken away. (The witness of
    /// an earlier certvault may name such a record.)
    private static func stillHeld(_ db: Database, seen: RollbackWitness.Seen, after head: AuditHead) throws -> Bool {
        var previous = head.hash
        var expectedSeq = head.seq + 1
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq",
            arguments: [head.seq, seen.seq]
        )
        while let row = try rows.next() {
            guard let record = try? AuditRecord(row: row), record.seq == expectedSeq, record.signature == nil,
                record.action == AuditAction.unlockFailed.rawValue, record.previousHash == previous,
                record.recomputedHash == record.hash
            else { return false }
            previous = record.hash
            expectedSeq += 1
        }
        return expectedSeq == seen.seq + 1 && previous.hexLower == seen.hash
    }
}
