import Foundation
import GRDB

/// A certvault vault: one SQLite file.
///
/// Opening a vault needs no passphrase: inventory, expiry checks and audits
/// read public data. Anything that touches a private key, or changes the
/// vault, goes through a ``Session`` from ``unlock(handle:passphrase:)``.
public final class Vault: @unchecked Sendable {
    let store: Store
    /// The vault's random 16-byte identity.
    public let vaultID: Data
    public var path: String { store.path }

    private init(store: Store, vaultID: Data) {
        self.store = store
        self.vaultID = vaultID
    }

    /// The default vault path: `$XDG_DATA_HOME/certvault/vault.db`, else
    /// `~/.local/share/certvault/vault.db`.
    public static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/certvault/vault.db" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/certvault/vault.db"
    }

    /// The description of a person to add.
    public struct NewPerson: Sendable {
        public var handle: String
        public var name: String?
        public var email: String?
        public var role: PersonRole
        public init(handle: String, name: String? = nil, email: String? = nil, role: PersonRole) {
            self.handle = handle
            self.name = name
            self.email = email
            self.role = role
        }
    }

    /// Creates a new vault with its first admin.
    ///
    /// The genesis record (`vault.create`) commits to the vault id and the
    /// admin's public keys; the admin's keyslot is bound to that record's
    /// hash.
    /// - Throws: ``CertVaultError`` `.vaultExists` if anything is at `path`.
    public static func create(at path: String, admin: NewPerson, passphrase: SecureBytes,
                              kdf: KDFStrength = .moderate) throws -> Vault {
        try Sodium.ensure()
        try validateHandle(admin.handle)
        guard passphrase.count > 0 else { throw CertVaultError(.invalidArgument, "the passphrase is empty") }
        let parameters = KDFParameters(strength: kdf)
        let kek = try KDF.deriveKey(passphrase: passphrase, parameters: parameters)
        let store = try Store.create(at: path)
        let vaultID = Sodium.random(16)
        do {
            try store.write { db in
                let now = Timestamp.now()
                try db.execute(sql: "INSERT INTO vault (singleton, vault_id, format_version, created_at) VALUES (1, ?, ?, ?)",
                               arguments: [vaultID, Store.formatVersion, now])
                let box = SealedBox.keyPair(), sign = Signature.keyPair()
                try db.execute(sql: """
                    INSERT INTO people (handle, name, email, role, box_public_key, sign_public_key, created_at)
                    VALUES (?, ?, ?, 'admin', ?, ?, ?)
                    """, arguments: [admin.handle, admin.name, admin.email, box.publicKey, sign.publicKey, now])
                let personID = db.lastInsertedRowID
                let genesis = try AuditChain.append(db, actor: personID, action: "vault.create", person: personID, details: [
                    "vault_id": vaultID.hexLower, "format_version": Store.formatVersion,
                    "handle": admin.handle, "role": "admin",
                    "box_public_key": box.publicKey.hexLower, "sign_public_key": sign.publicKey.hexLower,
                ], signer: sign.secretKey)
                try Keyslot.store(db, personID: personID, secrets: box.secretKey.appending(sign.secretKey),
                                  kek: kek, parameters: parameters,
                                  associatedData: Binding.keyslot(vaultID: vaultID, personID: personID, genesisHash: genesis.hash))
            }
        } catch {
            Store.removeFiles(path)
            throw error
        }
        return Vault(store: store, vaultID: vaultID)
    }

    /// Opens an existing vault.
    /// - Throws: `.noVault`, `.notAVault`, `.newerFormat`, `.corruptVault`;
    ///   the file is left untouched.
    public static func open(at path: String) throws -> Vault {
        let store = try Store.open(at: path)
        guard let id = try store.read({ try Data.fetchOne($0, sql: "SELECT vault_id FROM vault") }) else {
            throw CertVaultError(.notAVault, "\(path) has no vault identity", hint: "is it an unfinished 'certvault init'?")
        }
        return Vault(store: store, vaultID: id)
    }

    static func validateHandle(_ handle: String) throws {
        let ok = !handle.isEmpty && handle.count <= 64
            && handle.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-@".unicodeScalars.contains($0) }
        guard ok else {
            throw CertVaultError(.invalidArgument, "'\(handle)' is not a valid handle",
                                 hint: "use letters, digits, '.', '_', '-' or '@', at most 64 characters")
        }
    }

    // MARK: People

    /// Everyone the vault knows, in the order they were added.
    public func people() throws -> [Person] {
        try store.read { try Row.fetchAll($0, sql: Person.selectSQL + " ORDER BY p.id").map(Person.init) }
    }

    /// The person with `handle`.
    public func person(_ handle: String) throws -> Person {
        try store.read { try Self.person(handle, in: $0) }
    }

    static func person(_ handle: String, in db: Database) throws -> Person {
        guard let row = try Row.fetchOne(db, sql: Person.selectSQL + " WHERE p.handle = ?", arguments: [handle]) else {
            throw CertVaultError(.notFound, "no person '\(handle)' in this vault", hint: "list people with 'certvault person list'")
        }
        return Person(row: row)
    }

    /// The person a command acts as: `handle`, or else the only person who
    /// can unlock the vault.
    public func actor(_ handle: String?) throws -> Person {
        if let handle { return try person(handle) }
        let unlockers = try people().filter { $0.canUnlock && $0.status == "active" }
        guard unlockers.count == 1 else {
            throw CertVaultError(.invalidArgument, "several people can unlock this vault (\(unlockers.map(\.handle).joined(separator: ", ")))",
                                 hint: "say who you are with --as HANDLE or CERTVAULT_USER")
        }
        return unlockers[0]
    }

    // MARK: Entries

    /// Every entry, in the order they were added.
    public func entries() throws -> [Entry] {
        try store.read { db in
            var access: [Int64: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT g.entry_id, p.handle FROM grants g JOIN people p ON p.id = g.person_id ORDER BY p.id") {
                access[row["entry_id"], default: []].append(row["handle"])
            }
            return try Row.fetchAll(db, sql: Entry.selectSQL + " ORDER BY e.id").map { Entry(row: $0, access: access[$0["id"]] ?? []) }
        }
    }

    /// The entry `ref` names: an alias, an entry id, or a prefix of at least
    /// 8 hex digits of the SHA-1 thumbprint or SHA-256 fingerprint.
    /// - Throws: `.notFound`, or `.ambiguous` listing the candidates.
    public func entry(_ ref: String) throws -> Entry {
        try store.read { try Self.entry(ref, in: $0) }
    }

    static func entry(_ ref: String, in db: Database) throws -> Entry {
        func load(_ where_: String, _ args: StatementArguments) throws -> [Row] {
            try Row.fetchAll(db, sql: Entry.selectSQL + " WHERE " + where_ + " ORDER BY e.id", arguments: args)
        }
        var rows = try load("e.alias = ?", [ref])
        if rows.isEmpty, let id = Int64(ref) { rows = try load("e.id = ?", [id]) }
        let hex = ref.replacingOccurrences(of: ":", with: "").uppercased()
        if rows.isEmpty, hex.count >= 8, Data(hex: hex.count % 2 == 0 ? hex : hex + "0") != nil {
            rows = try load("e.sha1 LIKE ? OR e.sha256 LIKE ?", [hex + "%", hex + "%"])
        }
        guard !rows.isEmpty else {
            throw CertVaultError(.notFound, "no entry matches '\(ref)'",
                                 hint: "name an entry by alias, id, or at least 8 hex digits of its thumbprint; 'certvault list' shows them")
        }
        guard rows.count == 1 else {
            let names = rows.map { "\($0["alias"] as String) (\($0["sha1"] as String? ?? "no certificate"))" }
            throw CertVaultError(.ambiguous, "'\(ref)' matches \(rows.count) entries: \(names.joined(separator: ", "))",
                                 hint: "give more digits, or the alias")
        }
        let id: Int64 = rows[0]["id"]
        let access = try String.fetchAll(db, sql: "SELECT p.handle FROM grants g JOIN people p ON p.id = g.person_id WHERE g.entry_id = ? ORDER BY p.id", arguments: [id])
        return Entry(row: rows[0], access: access)
    }

    /// The certificates from `entry` up its issuer links: leaf first.
    public func chain(of entry: Entry) throws -> [CertificateMetadata] {
        try store.read { db in try Self.chainDER(entryID: entry.id, in: db) }.map { try Certificate(derEncoded: $0).metadata() }
    }

    /// Everything the entry's certificate says, read from the certificate
    /// itself (adds key usage and extended key usage to what `list` shows).
    public func certificateDetails(of entry: Entry) throws -> CertificateMetadata? {
        guard let der = try store.read({ try Data.fetchOne($0, sql: "SELECT cert_der FROM entries WHERE id = ?", arguments: [entry.id]) }) else {
            return nil
        }
        return try Certificate(derEncoded: der).metadata()
    }

    /// DER of the entry's certificate followed by its issuers (leaf → root).
    static func chainDER(entryID: Int64, in db: Database) throws -> [Data] {
        var out: [Data] = []
        var seen: Set<Int64> = []
        var next: Int64? = entryID
        while let id = next, !seen.contains(id), out.count < 16 {
            seen.insert(id)
            guard let row = try Row.fetchOne(db, sql: "SELECT cert_der, issuer_entry_id FROM entries WHERE id = ?", arguments: [id]),
                  let der: Data = row["cert_der"] else { break }
            out.append(der)
            next = row["issuer_entry_id"]
        }
        return out
    }

    // MARK: Audit

    /// Which records ``auditRecords(_:)`` returns.
    public struct AuditFilter: Sendable {
        public var actor: String?
        public var entry: String?
        public var action: String?
        public var since: Date?
        public var until: Date?
        public init(actor: String? = nil, entry: String? = nil, action: String? = nil, since: Date? = nil, until: Date? = nil) {
            self.actor = actor
            self.entry = entry
            self.action = action
            self.since = since
            self.until = until
        }
    }

    /// Audit records in sequence order.
    public func auditRecords(_ filter: AuditFilter = AuditFilter()) throws -> [AuditRecord] {
        try store.read { db in
            var clauses: [String] = []
            var args: [(any DatabaseValueConvertible)?] = []
            if let actor = filter.actor {
                clauses.append("a.actor_id = ?")
                args.append(try Self.person(actor, in: db).id)
            }
            if let entry = filter.entry {
                clauses.append("a.entry_id = ?")
                args.append(try Self.entry(entry, in: db).id)
            }
            if let action = filter.action {
                clauses.append("(a.action = ? OR a.action LIKE ?)")
                args.append(action)
                args.append(action + ".%")
            }
            if let since = filter.since {
                clauses.append("a.at >= ?")
                args.append(Timestamp.format(since))
            }
            if let until = filter.until {
                clauses.append("a.at <= ?")
                args.append(Timestamp.format(until))
            }
            let sql = AuditChain.selectSQL + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")) + " ORDER BY a.seq"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(AuditRecord.init)
        }
    }

    /// The current head of the audit chain.
    public func auditHead() throws -> AuditHead? {
        try store.read { try AuditChain.head($0) }
    }

    /// Recomputes the whole chain and checks every signature and entry.
    public func verify(expecting expected: AuditHead? = nil) throws -> AuditVerification {
        try store.read { try AuditVerifier(db: $0, vaultID: vaultID).verifyAll(expecting: expected) }
    }

    // MARK: Unlocking

    /// Unlocks the vault as `handle` (or the only person who can), running
    /// the KDF once. A wrong passphrase appends an unsigned `unlock.failed`
    /// record and changes nothing else.
    /// - Throws: `.wrongPassphrase` ("wrong passphrase for HANDLE").
    public func unlock(handle: String?, passphrase: SecureBytes) throws -> Session {
        let person = try actor(handle)
        guard person.status == "active" else {
            throw CertVaultError(.personInactive, "\(person.handle) has departed and can no longer unlock this vault")
        }
        let loaded = try store.read { db -> (Keyslot, Data)? in
            guard let slot = try Keyslot.load(db, personID: person.id),
                  let genesis = try Data.fetchOne(db, sql: "SELECT hash FROM audit WHERE seq = 1") else { return nil }
            return (slot, genesis)
        }
        guard let (slot, genesisHash) = loaded else {
            throw CertVaultError(.noAccess, "\(person.handle) has no keyslot in this vault (role \(person.role.rawValue))",
                                 hint: "only admins, officers and auditors with keys can unlock")
        }
        let ad = Binding.keyslot(vaultID: vaultID, personID: person.id, genesisHash: genesisHash)
        guard let secrets = try slot.open(passphrase: passphrase, associatedData: ad) else {
            _ = try store.write { db in
                try AuditChain.append(db, actor: person.id, action: "unlock.failed", person: person.id,
                                      details: ["handle": person.handle], signer: nil)
            }
            throw CertVaultError(.wrongPassphrase, "wrong passphrase for \(person.handle)")
        }
        return try Session(vault: self, person: person, secrets: secrets)
    }
}
