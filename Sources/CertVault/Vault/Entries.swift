import Foundation
import GRDB

extension Vault {
    /// What `list` shows: the entries that match their signed state, and
    /// every finding about the rest (which are never shown with their
    /// altered values).
    public struct Inventory: Sendable {
        /// The entries that check out, in the order they were added.
        public var entries: [Entry]
        /// Entries whose rows differ from their signed state: id and why.
        public var tampered: [(id: Int64, reason: String)]
        /// Everything that does not check out, including ``tampered``.
        public var findings: [AuditFinding]
        /// The rollback this machine's witness saw, if any.
        public var rollback: Rollback?
        /// Whether every entry checks out and no rollback was seen.
        public var isIntact: Bool { findings.isEmpty && rollback == nil }

        /// An inventory from its fields, for tests and for callers that build their own.
        public init(
            entries: [Entry],
            tampered: [(id: Int64, reason: String)] = [],
            findings: [AuditFinding] = [],
            rollback: Rollback? = nil
        ) {
            self.entries = entries
            self.tampered = tampered
            self.findings = findings
            self.rollback = rollback
        }
    }

    /// Every entry that checks out, and what does not.
    public func inventory() throws -> Inventory {
        let (inventory, head) = try snapshotRead { db, seen -> (Inventory, AuditHead?) in
            let state = try state(db, seen: seen)
            let handles = state.ledger.people.mapValues(\.handle)
            var access: [Int64: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT entry_id, person_id FROM grants ORDER BY person_id") {
                let c = Columns(row, "grant")
                guard let entry = try? c.int("entry_id"), let person = try? c.int("person_id") else { continue }
                access[entry, default: []].append(handles[person] ?? "person \(person)")
            }
            var tampered: [(Int64, String)] = state.tamperedEntries.sorted { $0.key < $1.key }.map {
                ($0.key, $0.value)
            }
            let entries = try Entry.fetch(
                db,
                handles: handles,
                access: access,
                skip: { state.tamperedEntries[$0] != nil },
                failed: { tampered.append(($0, $1.message)) }
            )
            var findings = state.findings
            if state.findings.isEmpty, let bad = tampered.first {
                findings.append(.init(seq: nil, entryID: Entry.ID(bad.0), message: bad.1))
            }
            return (
                Inventory(entries: entries, tampered: tampered, findings: findings, rollback: state.rollback),
                state.isIntact ? state.head : nil
            )
        }
        if let head { rememberAfterRead(head) }
        return inventory
    }

    /// Every entry, in the order they were added.
    /// - Throws: `.tampered` when any row differs from its signed state
    ///   (``inventory()`` shows the rest), `.rollback`.
    public func entries() throws -> [Entry] {
        let inventory = try inventory()
        if let first = inventory.findings.first {
            throw CertVaultError(
                .tampered,
                "the vault does not match its signed records: \(first)",
                remedy: .restoreBackup
            )
        }
        if let rollback = inventory.rollback { throw rollback.error() }
        return inventory.entries
    }

    /// The entry `ref` names: an alias, an entry id, or a prefix of at least
    /// 8 hex digits of the SHA-1 thumbprint or SHA-256 fingerprint.
    /// - Throws: `.entryNotFound`, or `.ambiguous` listing the candidates;
    ///   `.tampered` or `.rollback` when the vault does not check out.
    public func entry(_ ref: EntryReference) throws -> Entry {
        try checkedRead { db, state in try Self.entry(ref, in: db, state: state) }
    }

    static func entry(_ ref: EntryReference, in db: Database, state: VaultState) throws -> Entry {
        let handles = state.ledger.people.mapValues(\.handle)
        func load(_ where_: String, _ args: StatementArguments) throws -> [Entry] {
            try Entry.fetch(db, where: where_, arguments: args, handles: handles)
        }
        // Design rule 8: what an index returned is proved against what was
        // asked from the row itself, read again by rowid from the table
        // (SQLite reads an indexed column from the index, so the first
        // read would only repeat the index's word). An index that returns
        // another row, or hides the one asked for, is damage.
        func proven(
            _ where_: String,
            _ args: StatementArguments,
            _ asked: String,
            _ matches: (Entry) -> Bool
        )
            throws -> [Entry]
        {
            try Int64.fetchAll(db, sql: "SELECT id FROM entries WHERE \(where_) ORDER BY id", arguments: args).map {
                id in
                guard let entry = try load("id = ?", [id]).first, matches(entry) else {
                    throw indexDisagrees("an index gave entry \(id) for \(asked), which it is not")
                }
                return entry
            }
        }
        // A DNS name the entry's certificate names exactly (a wildcard does
        // not count: a typo must not reach the certificate of every
        // subdomain), or a domain it is tagged with: the active entries if
        // any, else every entry that does.
        func byName(_ name: String) throws -> [Entry] {
            guard let wanted = DomainNames.aLabel(name) else { return [] }
            let named = try Entry.fetch(db, handles: handles).filter { entry in
                if entry.domains.contains(where: { DomainNames.aLabel($0) == wanted }) { return true }
                guard let certificate = entry.certificate else { return false }
                return DomainNames.names(of: certificate).contains {
                    !$0.hasPrefix("*.") && DomainNames.aLabel($0) == wanted
                }
            }
            let active = named.filter { $0.status == .active }
            return active.isEmpty ? named : active
        }
        func byThumbprint(_ text: String) throws -> [Entry] {
            let hex = text.replacingOccurrences(of: ":", with: "").uppercased()
            guard hex.count >= 8, Data(hex: hex.count % 2 == 0 ? hex : hex + "0") != nil else { return [] }
            return try proven("sha1 LIKE ? OR sha256 LIKE ?", [hex + "%", hex + "%"], "thumbprint \(hex)") {
                ($0.certificate?.thumbprintSHA1.uppercased().hasPrefix(hex) ?? false)
                    || ($0.certificate?.fingerprintSHA256.uppercased().hasPrefix(hex) ?? false)
            }
        }
        // An alias the index does not list is asked of the table before "not found".
        func byAlias(_ alias: String) throws -> [Entry] {
            let found = try proven("alias = ?", [alias], "alias \(Display.quoted(alias))") { $0.alias == alias }
            if found.isEmpty,
                let hidden = try Int64.fetchOne(
                    db,
                    sql: "SELECT id FROM entries NOT INDEXED WHERE alias = ?",
                    arguments: [alias]
                )
            {
                throw indexDisagrees(
                    "the alias index does not list entry \(hidden), whose alias is \(Display.quoted(alias))"
                )
            }
            return found
        }
        func byID(_ id: Int64) throws -> [Entry] { try load("id = ?", [id]) }
        var entries: [Entry]
        switch ref {
        case .id(let id): entries = try byID(id.rawValue)
        case .alias(let alias): entries = try byAlias(alias)
        case .thumbprint(let hex): entries = try byThumbprint(hex)
        case .any(let text):
            // Anything but a number that the alias index does not find is looked for in
            // the table itself first (byAlias), so that an index that hides an alias
            // cannot let a thumbprint or a DNS name stand in for it.
            if let id = Int64(text) {
                entries = try proven("alias = ?", [text], "alias \(Display.quoted(text))") { $0.alias == text }
                if entries.isEmpty { entries = try byID(id) }
            } else {
                entries = try byAlias(text)
            }
            if entries.isEmpty { entries = try byThumbprint(text) }
            if entries.isEmpty, text.contains("."), !text.contains(" ") {
                entries = try byName(text)
            }
        }
        guard !entries.isEmpty else {
            // A typo of an alias the vault holds is named (only aliases that keep to the rule are offered).
            let typed: String?
            switch ref {
            case .alias(let text), .any(let text): typed = text
            default: typed = nil
            }
            let aliases = try typed.map { _ in try String.fetchAll(db, sql: "SELECT alias FROM entries") } ?? []
            if let typed, let near = Display.nearest(typed, in: aliases.filter(Alias.isValid)) {
                throw CertVaultError(
                    .entryNotFound,
                    "no entry matches \(ref)",
                    hint: "did you mean \(Display.quoted(near))?"
                )
            }
            throw CertVaultError(
                .entryNotFound,
                "no entry matches \(ref)",
                hint:
                    "name an entry by alias, id, a DNS name its certificate covers, or 8+ hex digits of its thumbprint (certvault list)"
            )
        }
        guard entries.count == 1 else {
            let names = entries.map { "\($0.alias) (\($0.certificate?.thumbprintSHA1 ?? "no certificate"))" }
            throw CertVaultError(
                .ambiguous,
                "\(ref) matches \(entries.count) entries: \(names.joined(separator: ", "))",
                hint: "name it by its alias or id"
            )
        }
        return try entry(id: entries[0].id.rawValue, in: db, state: state)
    }

    /// The one row `sql` selects by `value` (its first column the entry's
    /// id), whose `column`, read again from the table by rowid, must be
    /// `value`: SQLite takes an indexed column from the index itself, so
    /// only the table row proves what an index returned.
    static func provenRow(
        _ db: Database,
        _ sql: String,
        _ value: some DatabaseValueConvertible,
        column: String
    ) throws -> Row? {
        guard let row = try db.row(sql, [value]) else { return nil }
        let id = try Columns(row, "entry").int("id")
        let stored = try DatabaseValue.fetchOne(db, sql: "SELECT \(column) FROM entries WHERE id = ?", arguments: [id])
        guard stored == value.databaseValue else {
            throw indexDisagrees("the index on \(column) gave entry \(id), whose \(column) is another")
        }
        return row
    }

    static func indexDisagrees(_ what: String) -> CertVaultError {
        CertVaultError(
            .tampered,
            "the vault file's indexes disagree with its tables: \(what)",
            remedy: .restoreBackup
        )
    }

    /// The entry with id `id`, with who holds a grant.
    static func entry(id: Int64, in db: Database, state: VaultState) throws -> Entry {
        guard let row = try Row.fetchOne(db, sql: Entry.selectSQL + " WHERE id = ?", arguments: [id]) else {
            throw CertVaultError(.entryNotFound, "no entry \(id)")
        }
        var access: [String] = []
        for grant in try Row.fetchAll(
            db,
            sql: "SELECT person_id FROM grants WHERE entry_id = ? ORDER BY person_id",
            arguments: [id]
        ) {
            let person = try Columns(grant, "grant of entry \(id)").int("person_id")
            access.append(state.ledger.people[person]?.handle ?? "person \(person)")
        }
        return try Entry(row: row, handles: state.ledger.people.mapValues(\.handle), access: access)
    }

    /// The certificates from `entry` up its issuer links: leaf first.
    public func chain(of entry: Entry) throws -> [CertificateMetadata] {
        try checkedRead { db, _ in try Self.chainDER(entryID: entry.id.rawValue, in: db) }.map {
            try Certificate(derEncoded: $0).metadata()
        }
    }

    /// Everything the entry's certificate says, read from the certificate
    /// itself (adds key usage and extended key usage to what `list` shows).
    public func certificateDetails(of entry: Entry) throws -> CertificateMetadata? {
        guard let der = try checkedRead({ db, _ in try Self.certificateDER(entryID: entry.id.rawValue, in: db) }) else {
            return nil
        }
        return try Certificate(derEncoded: der).metadata()
    }

    static func certificateDER(entryID: Int64, in db: Database) throws -> Data? {
        guard let row = try db.row("SELECT cert_der FROM entries WHERE id = ?", [entryID]) else { return nil }
        return try Columns(row, "entry \(entryID)").optionalBlob("cert_der")
    }

    /// DER of the entry's certificate followed by its issuers (leaf → root).
    static func chainDER(entryID: Int64, in db: Database) throws -> [Data] {
        var out: [Data] = []
        var seen: Set<Int64> = []
        var next: Int64? = entryID
        while let id = next, !seen.contains(id), out.count < 16 {
            seen.insert(id)
            guard let row = try db.row("SELECT cert_der, issuer_entry_id FROM entries WHERE id = ?", [id]) else {
                break
            }
            let c = Columns(row, "entry \(id)")
            guard let der = try c.optionalBlob("cert_der") else { break }
            out.append(der)
            next = try c.optionalInt("issuer_entry_id")
        }
        return out
    }
}
