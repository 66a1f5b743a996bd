import Foundation
import GRDB

/// A new person's key pairs and the key that encrypts their keyslot.
struct PersonKeys {
    let box: (publicKey: Data, secretKey: SecureBytes)
    let sign: (publicKey: Data, secretKey: SecureBytes)
    let kek: SecureBytes
    let parameters: KDFParameters

    /// Fresh key pairs, and the Argon2id key derived from `passphrase`.
    init(passphrase: SecureBytes, kdf: KDFStrength) throws {
        parameters = KDFParameters(strength: kdf)
        kek = try KDF.deriveKey(passphrase: passphrase, parameters: parameters)
        box = SealedBox.keyPair()
        sign = Signature.keyPair()
    }
}

/// The one place people rows and keyslots are written.
///
/// A person exists for certvault only once a signed record introduces them
/// (``PeopleLedger``); these write the rows that record describes, and the
/// record's details come from here so that the two cannot disagree.
enum PeopleWriter {
    /// Inserts the people row; returns its id and the details the
    /// introducing record (`vault.create` or `person.add`) must carry.
    static func insert(
        _ db: Database,
        _ new: Vault.NewPerson,
        keys: PersonKeys?,
        createdBy: Int64?
    ) throws -> (id: Int64, details: AuditDetails) {
        try PersonRow(
            handle: new.handle,
            name: new.name,
            email: new.email,
            role: new.role,
            boxPublicKey: keys?.box.publicKey,
            signPublicKey: keys?.sign.publicKey,
            createdAt: Timestamp.now(),
            createdBy: createdBy
        ).insert(db)
        var details: AuditDetails = [.handle: .text(new.handle), .role: .text(new.role.rawValue)]
        if let name = new.name { details[.name] = .text(name) }
        if let email = new.email { details[.email] = .text(email) }
        if let keys {
            details[.boxPublicKey] = .text(keys.box.publicKey.hexLower)
            details[.signPublicKey] = .text(keys.sign.publicKey.hexLower)
        }
        return (db.lastInsertedRowID, details)
    }

    /// Writes the person's keyslot, bound to this vault, the person and the
    /// genesis record (which must exist); returns its row digest, which the
    /// record that commits the keyslot carries.
    static func storeKeyslot(_ db: Database, vaultID: Data, personID: Int64, keys: PersonKeys) throws -> String {
        try storeKeyslot(
            db,
            vaultID: vaultID,
            personID: personID,
            secrets: keys.box.secretKey.appending(keys.sign.secretKey),
            kek: keys.kek,
            parameters: keys.parameters
        )
    }

    /// Writes `secrets` (a person's X25519 and Ed25519 secret keys) as their
    /// keyslot under `kek`, replacing any keyslot they had.
    static func storeKeyslot(
        _ db: Database,
        vaultID: Data,
        personID: Int64,
        secrets: SecureBytes,
        kek: SecureBytes,
        parameters: KDFParameters
    ) throws -> String {
        try db.run("DELETE FROM keyslots WHERE person_id = ?", [personID])
        try Keyslot.store(
            db,
            personID: personID,
            secrets: secrets,
            kek: kek,
            parameters: parameters,
            associatedData: Binding.keyslot(
                vaultID: vaultID,
                personID: personID,
                genesisHash: try AuditChain.genesisHash(db)
            )
        )
        guard let digest = try RowDigest.keyslot(db, personID: personID) else {
            throw CertVaultError(.corruptVault, "the keyslot of person \(personID) was not written")
        }
        return digest.hexLower
    }
}

// MARK: Reading people

extension Vault {
    /// Everyone the signed records introduce, in the order they were added.
    /// A row in the people table that no signed record introduces is not
    /// among them (``verify(expecting:)-9tjmj`` names it).
    public func people() throws -> [Person] {
        try store.read { db in
            try PeopleLedger.replay(db, vaultID: vaultID).people.values.sorted { $0.id < $1.id }.map(Person.init)
        }
    }

    /// The person with `handle`, as the signed records state them.
    public func person(_ handle: String) throws -> Person {
        try store.read { db in
            Person(try Self.trustedPerson(handle, ledger: try PeopleLedger.replay(db, vaultID: vaultID), in: db))
        }
    }

    static func trustedPerson(_ handle: String, ledger: PeopleLedger, in db: Database) throws -> TrustedPerson {
        if let p = ledger.person(handle: handle) { return p }
        if try db.row("SELECT 1 FROM people WHERE handle = ?", [handle]) != nil {
            throw CertVaultError(
                .tampered,
                "person \(Display.quoted(handle)) is in the people table, but no signed record introduces them: added by hand",
                remedy: .restoreBackup
            )
        }
        if let near = Display.nearest(handle, in: ledger.people.values.map(\.handle)) {
            throw CertVaultError(
                .personNotFound,
                "no person \(Display.quoted(handle)) in this vault",
                hint: "did you mean \(Display.quoted(near))?"
            )
        }
        throw CertVaultError(
            .personNotFound,
            "no person \(Display.quoted(handle)) in this vault",
            remedy: .listPeople
        )
    }

    /// The person a command acts as: `handle`; or else the only person who
    /// can unlock the vault; or else, when several can, `login` (the
    /// caller's login name) if it is the handle of one of them.
    public func actor(_ handle: String?, preferring login: String? = nil) throws -> Person {
        try store.read { db in
            Person(
                try Self.actor(handle, preferring: login, ledger: try PeopleLedger.replay(db, vaultID: vaultID), in: db)
            )
        }
    }

    static func actor(
        _ handle: String?,
        preferring login: String? = nil,
        ledger: PeopleLedger,
        in db: Database
    ) throws -> TrustedPerson {
        if let handle { return try trustedPerson(handle, ledger: ledger, in: db) }
        let unlockers = ledger.people.values.filter { $0.canUnlock && $0.active }.sorted { $0.id < $1.id }
        if unlockers.count > 1, let login, let me = unlockers.first(where: { $0.handle == login }) { return me }
        guard unlockers.count == 1 else {
            throw CertVaultError(
                .actorAmbiguous,
                "several people can unlock this vault (\(unlockers.map(\.handle).joined(separator: ", ")))",
                remedy: .nameActor
            )
        }
        return unlockers[0]
    }
}

// MARK: Adding people

extension Session {
    /// Adds a person. Admins only.
    ///
    /// Staff receive copies and get no keys; anyone else needs a passphrase
    /// for their new keyslot. A new admin is granted every entry this admin
    /// can open, so that imports keep reaching every admin.
    @discardableResult
    public func addPerson(
        _ new: Vault.NewPerson,
        passphrase: SecureBytes?,
        kdf: KDFStrength = .moderate
    ) throws -> Person {
        try requireRole([.admin], to: "add people")
        try Vault.validateHandle(new.handle)
        var keys: PersonKeys?
        if new.role != .staff {
            guard let passphrase, passphrase.count > 0 else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(new.handle) needs a passphrase (role \(new.role.rawValue))",
                    remedy: .newPassphrase
                )
            }
            keys = try PersonKeys(passphrase: passphrase, kdf: kdf)
        }
        try change { c in
            let db = c.db
            let taken = try db.row("SELECT 1 FROM people WHERE handle = ?", [new.handle]) != nil
            if taken || c.state.ledger.person(handle: new.handle) != nil {
                throw CertVaultError(.personExists, "a person '\(new.handle)' already exists")
            }
            var (id, details) = try PeopleWriter.insert(db, new, keys: keys, createdBy: person.id.rawValue)
            if let keys {
                let digest = try PeopleWriter.storeKeyslot(db, vaultID: vault.vaultID, personID: id, keys: keys)
                details[.keyslotDigest] = .text(digest)
            }
            c.record(.personAdd, person: id, details: details)
            if new.role == .admin, let box = keys?.box.publicKey, let sign = keys?.sign.publicKey {
                let newcomer = TrustedPerson(
                    id: id,
                    handle: new.handle,
                    name: new.name,
                    email: new.email,
                    role: .admin,
                    active: true,
                    boxPublicKey: box,
                    signPublicKey: sign,
                    keyslotDigest: nil,
                    introducedBy: 0,
                    introducedAt: Timestamp.now()
                )
                try custody.sealEverything(c, to: newcomer, reason: "new admin")
            }
        }
        return try vault.person(new.handle)
    }
}

// MARK: Changing people

extension Session {
    /// Re-wraps this person's keyslot under a new passphrase (and KDF cost):
    /// the old passphrase stops working. No entry is touched, so it costs
    /// the same for 10 entries or 100,000; raising `kdf` is how an old
    /// `interactive` keyslot gets stronger. The old keyslot's bytes leave
    /// the files (the write-ahead log is truncated).
    public func changePassphrase(to passphrase: SecureBytes, kdf: KDFStrength = .moderate) throws {
        try requireUnlocked()
        guard passphrase.count > 0 else { throw CertVaultError(.invalidArgument, "the new passphrase is empty") }
        try OpenSSL.requireCString(passphrase)
        let parameters = KDFParameters(strength: kdf)
        let kek = try KDF.deriveKey(passphrase: passphrase, parameters: parameters)
        let secrets = custody.boxSecretKey.appending(signSecretKey)
        try change { c in
            let digest = try PeopleWriter.storeKeyslot(
                c.db,
                vaultID: vault.vaultID,
                personID: person.id.rawValue,
                secrets: secrets,
                kek: kek,
                parameters: parameters
            )
            c.record(
                .personKeyslot,
                person: person.id.rawValue,
                details: [.keyslotDigest: .text(digest), .kdf: .text(kdf.rawValue)]
            )
        }
        try vault.store.truncateLog()
    }

    /// Sets (or, with nil, clears) the age recipient files handed to a
    /// person are encrypted to, in a signed `person.recipient` record. A
    /// person sets their own; an admin sets anyone's (staff hold no keys to
    /// sign with).
    /// - Parameters:
    ///   - recipient: the X25519 public key (`age1…`), or nil.
    ///   - handle: whose; default this person.
    public func setAgeRecipient(_ recipient: AgeRecipient?, of handle: String? = nil) throws -> Person {
        let handle = handle ?? person.handle
        if handle != person.handle { try requireRole([.admin], to: "set another person's age recipient") }
        try change { c in
            let target = try Vault.trustedPerson(handle, ledger: c.state.ledger, in: c.db)
            guard target.active else { throw CertVaultError(.personInactive, "\(target.handle) has departed") }
            guard target.ageRecipient != recipient else {
                throw CertVaultError(
                    .invalidArgument,
                    recipient == nil
                        ? "\(target.handle) has no age recipient" : "\(target.handle) has that age recipient already"
                )
            }
            c.record(
                .personRecipient,
                person: target.id,
                details: [
                    .handle: .text(target.handle), .ageRecipient: recipient.map { .text($0.description) } ?? .null,
                ]
            )
        }
        return try vault.person(handle)
    }

    /// Gives `handle` another role. Admins only. A person made admin is
    /// sealed every entry this admin can open, as ``addPerson(_:passphrase:kdf:)-4tl2w``
    /// does; a person made auditor loses every grant (auditors read and
    /// verify, and hold no keys); staff (no keys) and keyed roles do not turn
    /// into each other — add the person anew instead. The last admin keeps
    /// the role.
    @discardableResult
    public func setRole(of handle: String, to role: PersonRole) throws -> Person {
        try requireRole([.admin], to: "change roles")
        try change { c in
            let target = try Vault.trustedPerson(handle, ledger: c.state.ledger, in: c.db)
            guard target.active else { throw CertVaultError(.personInactive, "\(target.handle) has departed") }
            guard target.role != role else {
                throw CertVaultError(.invalidArgument, "\(target.handle) is \(role.rawValue) already")
            }
            guard (role == .staff) == (target.boxPublicKey == nil) else {
                throw CertVaultError(
                    .invalidArgument,
                    role == .staff
                        ? "\(target.handle) has keys; staff have none"
                        : "\(target.handle) is staff and has no keys to act as \(role.rawValue) with",
                    hint: "add a person with the new role, and mark this one departed"
                )
            }
            if target.role == .admin, c.state.ledger.admins.filter({ $0.id != target.id }).isEmpty {
                throw CertVaultError(
                    .lastHolder,
                    "\(target.handle) is the last active admin",
                    hint: "make another person admin first"
                )
            }
            try c.db.run("UPDATE people SET role = ? WHERE id = ?", [role.rawValue, target.id])
            if role == .auditor {
                // Auditors read and verify; they hold no keys.
                let held = try Row.fetchAll(
                    c.db,
                    sql: """
                        SELECT g.entry_id, (SELECT COUNT(*) FROM grants h WHERE h.entry_id = g.entry_id) AS holders
                        FROM grants g WHERE g.person_id = ? ORDER BY g.entry_id
                        """,
                    arguments: [target.id]
                )
                for row in held {
                    let col = Columns(row, "grant of \(target.handle)")
                    let entryID = try col.int("entry_id")
                    guard try col.int("holders") > 1 else {
                        throw CertVaultError(
                            .lastHolder,
                            "\(target.handle) is the last person who can open entry \(entryID)",
                            hint: "grant it to someone else first"
                        )
                    }
                    try c.db.run("DELETE FROM grants WHERE entry_id = ? AND person_id = ?", [entryID, target.id])
                    c.record(
                        .entryUngrant,
                        entry: entryID,
                        person: target.id,
                        details: [.from: .text(target.handle), .reason: .text("role changed to auditor")]
                    )
                }
            }
            c.record(
                .personRole,
                person: target.id,
                details: [
                    .handle: .text(target.handle), .role: .text(role.rawValue), .was: .text(target.role.rawValue),
                ]
            )
            if role == .admin {
                var promoted = target
                promoted.role = .admin
                try custody.sealEverything(c, to: promoted, reason: "made admin")
            }
        }
        return try vault.person(handle)
    }
}
