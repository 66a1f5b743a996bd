internal import CertVaultNative
import Foundation
import GRDB
internal import GRDBSQLite

/// Digests of the vault's rows, over the values exactly as SQLite stores
/// them (type and bytes), so that any change a hand with `sqlite3` makes —
/// a value, a type, a byte of invalid UTF-8, a deleted or added row — shows.
///
/// These digests are what signed records commit to (design rule 5): each
/// record about an entry carries its ``entry(_:)`` digest, each record
/// about a person its ``person(_:)`` digest, and the last record of every
/// change the digest of the whole state.
enum RowDigest {
    /// The columns each digest covers, in order (digest version 1). A
    /// migration that adds a column must also add it here and re-commit the
    /// state in a signed record.
    static let entryColumns = [
        "id", "alias", "purpose", "subscription", "domains", "tags", "cert_der", "subject", "issuer", "serial", "sha1",
        "sha256", "not_before", "not_after", "key_algorithm", "key_bits", "key_curve", "signature_algorithm", "sans",
        "self_signed", "is_ca", "subject_der", "issuer_der", "spki_sha256", "issuer_entry_id", "key_nonce",
        "key_ciphertext", "status", "revocation_reason", "revoked_at", "replaces_id", "needs_rotation",
        "rotation_reason", "created_at", "created_by", "csr_der",
    ]
    static let personColumns = [
        "id", "handle", "name", "email", "role", "status", "departed_at", "departed_by", "departed_reason",
        "box_public_key", "sign_public_key", "created_at", "created_by",
    ]
    static let keyslotColumns = [
        "person_id", "kdf", "kdf_opslimit", "kdf_memlimit", "salt", "nonce", "ciphertext", "created_at",
    ]
    static let grantColumns = ["entry_id", "person_id", "sealed_key", "granted_by", "granted_at"]
    static let custodyColumns = ["entry_id", "person_id", "kind", "at", "audit_seq"]
    static let vaultColumns = ["singleton", "vault_id", "format_version", "created_at"]

    /// The digest of every row, and of the whole.
    struct Snapshot: Sendable {
        var entries: [Int64: Data] = [:]
        var people: [Int64: Data] = [:]
        /// The vault row.
        var vault = Data()
        /// Grants and custody rows that belong to no entry.
        var orphans = Data()
        /// How many such rows there are (certvault never leaves one).
        var orphanRows = 0
        /// The digest of every entry (with its grants and custody) and the orphans.
        var entriesState = Data()
        /// The digest of everything: the vault row, every person, and
        /// ``entriesState``.
        var state = Data()

        /// The digest of a set of entry digests and the orphans: what a
        /// change's last record carries as `entries_state`.
        static func entriesState(_ entries: [Int64: Data], orphans: Data) -> Data {
            let e = Hasher(label: "certvault/v1/entries")
            for id in entries.keys.sorted() {
                e.add(id)
                e.add(entries[id]!)
            }
            e.mark(31)
            e.add(orphans)
            return e.finish()
        }

        /// - Parameter known: ``entriesState`` when the caller worked it out already.
        mutating func combine(entriesState known: Data? = nil) {
            entriesState = known ?? Self.entriesState(entries, orphans: orphans)
            let h = Hasher(label: "certvault/v1/state")
            h.add(vault)
            for id in people.keys.sorted() {
                h.add(id)
                h.add(people[id]!)
            }
            h.mark(30)
            h.add(entriesState)
            state = h.finish()
        }
    }

    /// Reads every row once and digests it.
    static func snapshot(_ db: Database) throws -> Snapshot {
        do {
            return try orderedSnapshot(db)
        } catch is OutOfOrder {
            return try generalSnapshot(db)
        }
    }

    /// A key that did not come in order: a table bent by hand.
    private struct OutOfOrder: Error {}

    private static let entryRowLabel = Hasher.Label("certvault/v1/entry-row")
    private static let entryLabel = Hasher.Label("certvault/v1/entry")
    private static let orphansLabel = Hasher.Label("certvault/v1/orphans")
    private static let childLabels = [
        Hasher.Label("certvault/v1/entry-grants"), Hasher.Label("certvault/v1/entry-custody"),
    ]

    /// ``generalSnapshot(_:)`` for tables whose keys come in order, as
    /// certvault writes them (every id once, integers): one array of digests
    /// instead of a dictionary, children matched to entries by walking both
    /// in order. The digests are the same; a key out of order throws
    /// ``OutOfOrder`` and the general path decides.
    private static func orderedSnapshot(_ db: Database) throws -> Snapshot {
        var snapshot = Snapshot()
        var ids: [Int64] = []
        // Rows are hashed on another core: slot 0 the orphans, then per
        // entry its row, grants and custody digests (zeros for no rows).
        let pipeline = DigestPipeline(hashers: 2)
        try eachRow(db, selectSQL("entries", entryColumns, orderBy: "id")) { id, statement in
            guard ids.last.map({ $0 < id }) ?? true else { throw OutOfOrder() }
            pipeline.start(0, entryRowLabel)
            pipeline.addRow(0, statement: statement, columns: Int32(entryColumns.count))
            pipeline.finish(0, slot: 1 + ids.count * 3)
            ids.append(id)
        }
        pipeline.start(1, orphansLabel)
        for (c, (table, columns, orderBy, tag)) in children.enumerated() {
            var j = 0
            var previous = Int64.min
            var open: Int?
            func close() {
                guard let i = open else { return }
                pipeline.finish(0, slot: 1 + i * 3 + 1 + c)
                open = nil
            }
            try eachRow(db, selectSQL(table, columns, orderBy: orderBy)) { entryID, statement in
                guard entryID >= previous else { throw OutOfOrder() }
                previous = entryID
                while j < ids.count, ids[j] < entryID { j += 1 }
                guard j < ids.count, ids[j] == entryID else {
                    snapshot.orphanRows += 1
                    pipeline.mark(1, tag)
                    pipeline.addRow(1, statement: statement, columns: Int32(columns.count))
                    return
                }
                if open != j {
                    close()
                    open = j
                    pipeline.start(0, childLabels[c])
                }
                pipeline.addRow(0, statement: statement, columns: Int32(columns.count))
            }
            close()
        }
        pipeline.finish(1, slot: 0)
        let digests = pipeline.results(slots: 1 + ids.count * 3)
        snapshot.orphans = Data(digests[0..<32])
        let h = Hasher()
        // Each entry's digest, and the digest of them all, in id order.
        let all = Hasher(label: "certvault/v1/entries")
        snapshot.entries.reserveCapacity(ids.count)
        var digest = Data(count: 32)
        digests.withUnsafeBytes { p in
            for (i, id) in ids.enumerated() {
                h.reset(entryLabel)
                for k in 0..<3 {
                    let at = 32 + i * 96 + k * 32
                    h.add(tag: 2, UnsafeRawBufferPointer(rebasing: p[at..<(at + 32)]))
                }
                digest.withUnsafeMutableBytes { h.finish(into: $0.baseAddress!) }
                snapshot.entries[id] = digest
                all.add(id)
                all.add(digest)
            }
        }
        all.mark(31)
        all.add(snapshot.orphans)
        snapshot.people = try peopleDigests(db)
        snapshot.vault = try vaultDigest(db)
        snapshot.combine(entriesState: all.finish())
        return snapshot
    }

    /// Reads every row once and digests it, whatever order the keys come in.
    static func generalSnapshot(_ db: Database) throws -> Snapshot {
        var snapshot = Snapshot()
        var parts: [Int64: Parts] = [:]
        let h = Hasher()
        try each(db, "entries", entryColumns, orderBy: "id") { id, feed in
            h.reset(label: "certvault/v1/entry-row")
            feed(h)
            parts[id] = Parts(row: h.finish(), grants: Parts.none, custody: Parts.none)
        }
        let orphans = Hasher(label: "certvault/v1/orphans")
        for (table, columns, orderBy, tag) in children {
            // Rows come grouped by entry: one digest per group.
            var current: Int64?
            func close() {
                guard let id = current else { return }
                if tag == 20 { parts[id]?.grants = h.finish() } else { parts[id]?.custody = h.finish() }
                current = nil
            }
            try each(db, table, columns, orderBy: orderBy) { entryID, feed in
                guard parts[entryID] != nil else {
                    snapshot.orphanRows += 1
                    orphans.mark(tag)
                    feed(orphans)
                    return
                }
                if current != entryID {
                    close()
                    current = entryID
                    h.reset(label: tag == 20 ? "certvault/v1/entry-grants" : "certvault/v1/entry-custody")
                }
                feed(h)
            }
            close()
        }
        snapshot.entries = parts.mapValues { $0.digest(using: h) }
        snapshot.orphans = orphans.finish()
        snapshot.people = try peopleDigests(db)
        snapshot.vault = try vaultDigest(db)
        snapshot.combine()
        return snapshot
    }

    /// An entry's digest in three parts, each committed in the records
    /// about it (`entry_parts`), so that what a record's action may change
    /// can be checked: its row, its grants, its custody history.
    struct Parts: Equatable, Sendable {
        var row: Data
        var grants: Data
        var custody: Data

        /// The digest of no rows at all.
        static let none = Data(repeating: 0, count: 32)

        /// The entry digest: all three parts together.
        func digest(using h: Hasher = Hasher()) -> Data {
            h.reset(label: "certvault/v1/entry")
            h.add(row)
            h.add(grants)
            h.add(custody)
            return h.finish()
        }

        var hex: [String] { [row.hexLower, grants.hexLower, custody.hexLower] }

        init(row: Data, grants: Data, custody: Data) {
            self.row = row
            self.grants = grants
            self.custody = custody
        }

        init?(hex value: DetailValue?) {
            guard let list = value?.list?.compactMap(\.text), list.count == 3,
                let row = Data(hex: list[0]), let grants = Data(hex: list[1]), let custody = Data(hex: list[2]),
                row.count == 32, grants.count == 32, custody.count == 32
            else { return nil }
            self.init(row: row, grants: grants, custody: custody)
        }
    }

    /// `base` with the entries in `touched`, every person, the vault row and
    /// the orphans digested anew: after a change that recorded every entry
    /// it touched, this equals a full ``snapshot(_:)`` at a fraction of the
    /// cost (debug builds check that it does).
    static func updating(_ base: Snapshot, touched: Set<Int64>, in db: Database) throws -> Snapshot {
        var snapshot = base
        for id in touched { snapshot.entries[id] = try entry(db, id: id) }
        let orphans = Hasher(label: "certvault/v1/orphans")
        snapshot.orphanRows = 0
        for (table, columns, orderBy, tag) in children {
            try each(db, table, columns, where: "entry_id NOT IN (SELECT id FROM entries)", orderBy: orderBy) {
                _,
                feed in
                snapshot.orphanRows += 1
                orphans.mark(tag)
                feed(orphans)
            }
        }
        snapshot.orphans = orphans.finish()
        snapshot.people = try peopleDigests(db)
        snapshot.vault = try vaultDigest(db)
        snapshot.combine()
        return snapshot
    }

    /// The tables whose rows belong to an entry, and how they are ordered.
    private static let children: [(String, [String], String, UInt8)] = [
        ("grants", grantColumns, "entry_id, person_id", 20),
        ("custody", custodyColumns, "entry_id, audit_seq, person_id, kind, at", 21),
    ]

    /// - Parameter migrations: count only the first this many migrations
    ///   (as the vault was before the later ones ran); nil for all.
    private static func vaultDigest(_ db: Database, migrations limit: Int? = nil) throws -> Data {
        let h = Hasher(label: "certvault/v1/vault")
        try each(db, "vault", vaultColumns, orderBy: "singleton") { _, feed in feed(h) }
        // Which migrations ran: a row removed here would make the next open run one again.
        var counted = 0
        try each(db, "grdb_migrations", ["identifier"], orderBy: "identifier") { _, feed in
            counted += 1
            guard counted <= limit ?? .max else { return }
            h.mark(50)
            feed(h)
        }
        return h.finish()
    }

    /// Whether `committed` is the state of `snapshot` as it was before
    /// certvault's own later migrations ran: an upgraded vault whose last
    /// record was signed before the upgrade. Only the list of migrations
    /// may differ, and only by migrations of certvault's, in order (the
    /// schema itself is compared with what they create, separately); the
    /// next signed change commits the upgraded state.
    static func matchesBeforeMigrations(_ db: Database, snapshot: Snapshot, committed: Data) throws -> Bool {
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        guard applied == Schema.migrations.prefix(applied.count).map(\.identifier) else { return false }
        for keep in stride(from: applied.count - 1, through: 1, by: -1) {
            var before = snapshot
            before.vault = try vaultDigest(db, migrations: keep)
            before.combine()
            if before.state == committed { return true }
        }
        return false
    }

    /// One entry's digest: its row, its grants and its custody history.
    static func entry(_ db: Database, id: Int64) throws -> Data? {
        try entryParts(db, id: id)?.digest()
    }

    /// One entry's digest parts; nil when the entry does not exist.
    static func entryParts(_ db: Database, id: Int64) throws -> Parts? {
        let h = Hasher()
        var row: Data?
        try each(db, "entries", entryColumns, where: "id = ?", id, orderBy: "id") { _, feed in
            h.reset(label: "certvault/v1/entry-row")
            feed(h)
            row = h.finish()
        }
        guard let row else { return nil }
        var parts = Parts(row: row, grants: Parts.none, custody: Parts.none)
        for (table, columns, orderBy, tag) in children {
            var any = false
            h.reset(label: tag == 20 ? "certvault/v1/entry-grants" : "certvault/v1/entry-custody")
            try each(db, table, columns, where: "entry_id = ?", id, orderBy: orderBy) { _, feed in
                any = true
                feed(h)
            }
            let digest = h.finish()
            if any {
                if tag == 20 { parts.grants = digest } else { parts.custody = digest }
            }
        }
        return parts
    }

    /// One person's digest: their row and their keyslot.
    static func person(_ db: Database, id: Int64) throws -> Data? {
        try peopleDigests(db, only: id)[id]
    }

    /// The digest of a keyslot row alone: what a person's signed state
    /// commits to, so a damaged keyslot is told apart from a wrong passphrase.
    static func keyslot(_ db: Database, personID: Int64) throws -> Data? {
        var out: Data?
        try each(db, "keyslots", keyslotColumns, where: "person_id = ?", personID, orderBy: "person_id") { _, feed in
            let h = Hasher(label: "certvault/v1/keyslot")
            feed(h)
            out = h.finish()
        }
        return out
    }

    private static func peopleDigests(_ db: Database, only: Int64? = nil) throws -> [Int64: Data] {
        var keyslots: [Int64: Data] = [:]
        let filter = only.map { _ in "person_id = ?" }
        try each(db, "keyslots", keyslotColumns, where: filter, only, orderBy: "person_id") { id, feed in
            let h = Hasher(label: "certvault/v1/keyslot")
            feed(h)
            // Two keyslot rows for one person cannot exist (primary key); if
            // the schema was bent, the second still changes the digest.
            if let earlier = keyslots[id] { h.add(earlier) }
            keyslots[id] = h.finish()
        }
        var out: [Int64: Data] = [:]
        try each(db, "people", personColumns, where: only.map { _ in "id = ?" }, only, orderBy: "id") { id, feed in
            let h = Hasher(label: "certvault/v1/person")
            feed(h)
            if let slot = keyslots.removeValue(forKey: id) { h.add(slot) } else { h.mark(40) }
            out[id] = h.finish()
        }
        // A keyslot whose person row is gone (or was never there) still
        // counts: under the key 0, which no person has.
        if only == nil, !keyslots.isEmpty {
            let h = Hasher(label: "certvault/v1/stray-keyslots")
            for id in keyslots.keys.sorted() {
                h.add(id)
                h.add(keyslots[id]!)
            }
            out[0] = h.finish()
        }
        return out
    }

    /// Steps through `SELECT columns FROM table`, handing each row's first
    /// column as an integer key (0 when it is not one) and a function that
    /// feeds the row into a hasher: every value framed by its SQLite storage
    /// class and length, the whole row as one framed piece (one hash update
    /// per row, not per value).
    private static func each(
        _ db: Database,
        _ table: String,
        _ columns: [String],
        where clause: String? = nil,
        _ argument: Int64? = nil,
        orderBy: String,
        _ body: (Int64, (Hasher) -> Void) throws -> Void
    ) throws {
        let count = Int32(columns.count)
        var row = [UInt8](repeating: 0, count: 4096)
        try eachRow(db, selectSQL(table, columns, where: clause, orderBy: orderBy), argument) { key, handle in
            var n = row.withUnsafeMutableBytes {
                cv_sqlite_frame_row(UnsafeMutableRawPointer(handle), count, $0.baseAddress, $0.count)
            }
            if n > row.count {
                row = [UInt8](repeating: 0, count: n)
                n = row.withUnsafeMutableBytes {
                    cv_sqlite_frame_row(UnsafeMutableRawPointer(handle), count, $0.baseAddress, $0.count)
                }
            }
            try row.withUnsafeBytes { bytes in
                try body(key) { hasher in hasher.add(tag: 9, UnsafeRawBufferPointer(rebasing: bytes[0..<n])) }
            }
        }
    }

    /// `SELECT columns FROM table [WHERE clause] ORDER BY orderBy`.
    private static func selectSQL(
        _ table: String,
        _ columns: [String],
        where clause: String? = nil,
        orderBy: String
    )
        -> String
    {
        "SELECT \(columns.joined(separator: ", ")) FROM \(table)"
            + (clause.map { " WHERE \($0)" } ?? "") + " ORDER BY \(orderBy)"
    }

    /// Steps through the rows `sql` (one of ``selectSQL(_:_:where:orderBy:)``)
    /// selects, with `argument` bound when given, handing each row's first
    /// column as an integer key (0 when it is not one) and the statement,
    /// positioned on the row.
    private static func eachRow(
        _ db: Database,
        _ sql: String,
        _ argument: Int64? = nil,
        _ body: (Int64, OpaquePointer) throws -> Void
    ) throws {
        let statement = try db.cachedStatement(sql: sql)
        let cursor = try Row.fetchCursor(statement, arguments: argument.map { [$0] } ?? [])
        guard let handle = statement.sqliteStatement as OpaquePointer? else { return }
        while try cursor.next() != nil {
            let key = sqlite3_column_type(handle, 0) == SQLITE_INTEGER ? sqlite3_column_int64(handle, 0) : 0
            try body(key, handle)
        }
    }
}
