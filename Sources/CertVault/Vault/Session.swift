import Foundation
import GRDB

/// One person's unlocked view of a vault: their secret keys are open, so
/// they can decrypt what they were granted, and every change they make is
/// signed by them.
///
/// The key derivation ran once, in ``Vault/unlock(handle:passphrase:)``;
/// everything a session does after that is sealed boxes and AEAD.
public final class Session: @unchecked Sendable {
    public let vault: Vault
    public let person: Person
    let boxSecretKey: SecureBytes
    let signSecretKey: SecureBytes
    let boxPublicKey: Data

    init(vault: Vault, person: Person, secrets: SecureBytes) throws {
        guard secrets.count == SealedBox.secretKeyBytes + Signature.secretKeyBytes else {
            throw CertVaultError(.tampered, "the keyslot of \(person.handle) holds keys of the wrong size")
        }
        self.vault = vault
        self.person = person
        boxSecretKey = secrets.slice(0..<SealedBox.secretKeyBytes)
        signSecretKey = secrets.slice(SealedBox.secretKeyBytes..<secrets.count)
        let pk = SealedBox.publicKey(for: boxSecretKey)
        boxPublicKey = pk
        let signPublic = signSecretKey.withUnsafeBytes { Data($0[32..<64]) }
        let stored = try vault.store.read { db in
            try db.row("SELECT box_public_key, sign_public_key FROM people WHERE id = ?", [person.id])
        }
        guard let stored, (stored["box_public_key"] as Data?) == pk, (stored["sign_public_key"] as Data?) == signPublic else {
            throw CertVaultError(.tampered, "the public keys of \(person.handle) in the vault do not match their keyslot",
                                 hint: "run 'certvault audit verify'")
        }
    }

    /// Appends a record signed by this person, inside the caller's transaction.
    @discardableResult
    func record(_ db: Database, _ action: String, entry: Int64? = nil, person other: Int64? = nil,
                details: [String: Any]) throws -> AuditHead {
        try AuditChain.append(db, actor: person.id, action: action, entry: entry, person: other, details: details, signer: signSecretKey)
    }

    func requireRole(_ roles: Set<PersonRole>, to what: String) throws {
        guard roles.contains(person.role) else {
            throw CertVaultError(.noAccess, "\(person.handle) (\(person.role.rawValue)) may not \(what)",
                                 hint: "this needs the role \(roles.map(\.rawValue).sorted().joined(separator: " or "))")
        }
    }

    // MARK: Entry keys

    /// Encrypts `key` for entry `entryID` under a fresh data key and seals
    /// that key to `recipients`. Returns the ciphertext's SHA-256.
    func storeKey(_ db: Database, entryID: Int64, key: PrivateKey, spkiSHA256: Data, recipients: [Int64]) throws -> Data {
        let dataKey = SecureBytes(randomCount: AEAD.keyBytes)
        let pkcs8 = try key.pkcs8()
        let sealed = AEAD.seal(pkcs8, key: dataKey, associatedData: Binding.entry(vaultID: vault.vaultID, entryID: entryID, spkiSHA256: spkiSHA256))
        try db.run("UPDATE entries SET key_nonce = ?, key_ciphertext = ? WHERE id = ?",
                       [sealed.nonce, sealed.ciphertext, entryID])
        for recipient in recipients {
            try seal(db, dataKey: dataKey, entryID: entryID, to: recipient)
        }
        return Digest.sha256(sealed.ciphertext)
    }

    /// Writes the grant row: the data key and its binding tag sealed to a person.
    func seal(_ db: Database, dataKey: SecureBytes, entryID: Int64, to personID: Int64) throws {
        guard let pk = try Data.fetchOne(try db.cachedStatement(sql: "SELECT box_public_key FROM people WHERE id = ? AND status = 'active'"), arguments: [personID]) else {
            throw CertVaultError(.invalidArgument, "person \(personID) cannot receive keys")
        }
        let tag = Binding.grantTag(vaultID: vault.vaultID, entryID: entryID, personID: personID)
        let payload = dataKey.appending(tag)
        let box = try SealedBox.seal(payload, to: pk)
        try db.run("""
            INSERT OR REPLACE INTO grants (entry_id, person_id, sealed_key, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)
            """, [entryID, personID, box, person.id, Timestamp.now()])
    }

    /// Opens this person's grant on an entry: the data key.
    ///
    /// The cryptography refuses, not only a check: without a grant row
    /// sealed to this person's X25519 key there is nothing to open.
    func dataKey(_ db: Database, entryID: Int64, alias: String) throws -> SecureBytes {
        guard let sealed = try Data.fetchOne(try db.cachedStatement(sql: "SELECT sealed_key FROM grants WHERE entry_id = ? AND person_id = ?"),
                                             arguments: [entryID, person.id]) else {
            throw CertVaultError(.noAccess, "\(person.handle) has no grant for entry \(alias)",
                                 hint: "an admin can grant access")
        }
        guard let payload = SealedBox.open(sealed, publicKey: boxPublicKey, secretKey: boxSecretKey),
              payload.count == AEAD.keyBytes + 32 else {
            throw CertVaultError(.tampered, "the data key of entry \(alias) sealed for \(person.handle) cannot be opened: altered",
                                 hint: "run 'certvault audit verify'")
        }
        let tag = Binding.grantTag(vaultID: vault.vaultID, entryID: entryID, personID: person.id)
        let expected = tag.withUnsafeBytes { SecureBytes(copying: $0) }
        guard payload.slice(AEAD.keyBytes..<payload.count).isEqual(to: expected) else {
            throw CertVaultError(.tampered, "the data key sealed for \(person.handle) on entry \(alias) belongs to another entry: the grant was moved",
                                 hint: "run 'certvault audit verify'")
        }
        return payload.slice(0..<AEAD.keyBytes)
    }

    /// Decrypts an entry's private key and checks it against the certificate.
    func privateKey(_ db: Database, entryID: Int64, alias: String) throws -> PrivateKey {
        let dataKey = try dataKey(db, entryID: entryID, alias: alias)
        guard let row = try db.row("SELECT cert_der, spki_sha256, key_nonce, key_ciphertext FROM entries WHERE id = ?", [entryID]),
              let ciphertext: Data = row["key_ciphertext"], let nonce: Data = row["key_nonce"] else {
            throw CertVaultError(.invalidArgument, "entry \(alias) holds no private key", hint: "export its certificate with --format cer")
        }
        let ad = Binding.entry(vaultID: vault.vaultID, entryID: entryID, spkiSHA256: row["spki_sha256"])
        guard let pkcs8 = AEAD.open(ciphertext, nonce: nonce, key: dataKey, associatedData: ad) else {
            throw CertVaultError(.tampered, "the private key of entry \(alias) failed authentication: altered or moved from another entry",
                                 hint: "run 'certvault audit verify' and restore from a backup")
        }
        let key = try PrivateKey(pkcs8: pkcs8)
        if let der: Data = row["cert_der"] {
            guard key.matches(try Certificate(derEncoded: der)) else {
                throw CertVaultError(.tampered, "the private key of entry \(alias) does not match its certificate")
            }
        } else if Digest.sha256(key.publicKeyInfoDER) != (row["spki_sha256"] as Data) {
            throw CertVaultError(.tampered, "the private key of entry \(alias) does not match its public key")
        }
        return key
    }

    /// Who receives a new entry's key: the actor and every active admin who can unlock.
    func defaultRecipients(_ db: Database) throws -> [Int64] {
        let admins = try Int64.fetchAll(db, sql: """
            SELECT id FROM people WHERE role = 'admin' AND status = 'active' AND box_public_key IS NOT NULL ORDER BY id
            """)
        return [person.id] + admins.filter { $0 != person.id }
    }

    // MARK: People

    /// Adds a person. Admins only.
    ///
    /// Staff receive copies and get no keys; anyone else needs a passphrase
    /// for their new keyslot. A new admin is granted every entry this admin
    /// can open, so that imports keep reaching every admin.
    public func addPerson(_ new: Vault.NewPerson, passphrase: SecureBytes?, kdf: KDFStrength = .moderate) throws -> Person {
        try requireRole([.admin], to: "add people")
        try Vault.validateHandle(new.handle)
        var keys: (box: (publicKey: Data, secretKey: SecureBytes), sign: (publicKey: Data, secretKey: SecureBytes), kek: SecureBytes, parameters: KDFParameters)?
        if new.role != .staff {
            guard let passphrase, passphrase.count > 0 else {
                throw CertVaultError(.invalidArgument, "\(new.handle) needs a passphrase (role \(new.role.rawValue))",
                                     hint: "give it with --new-passphrase-file FILE or CERTVAULT_NEW_PASSPHRASE")
            }
            let parameters = KDFParameters(strength: kdf)
            keys = (SealedBox.keyPair(), Signature.keyPair(), try KDF.deriveKey(passphrase: passphrase, parameters: parameters), parameters)
        }
        return try vault.store.write { db in
            if try Bool.fetchOne(try db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM people WHERE handle = ?)"), arguments: [new.handle]) == true {
                throw CertVaultError(.invalidArgument, "a person '\(new.handle)' already exists")
            }
            try db.run("""
                INSERT INTO people (handle, name, email, role, box_public_key, sign_public_key, created_at, created_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [new.handle, new.name, new.email, new.role.rawValue, keys?.box.publicKey, keys?.sign.publicKey,
                                 Timestamp.now(), person.id])
            let id = db.lastInsertedRowID
            var details: [String: Any] = ["handle": new.handle, "role": new.role.rawValue]
            if let name = new.name { details["name"] = name }
            if let email = new.email { details["email"] = email }
            if let keys {
                details["box_public_key"] = keys.box.publicKey.hexLower
                details["sign_public_key"] = keys.sign.publicKey.hexLower
            }
            try record(db, "person.add", person: id, details: details)
            if let keys {
                let genesis = try Data.fetchOne(try db.cachedStatement(sql: "SELECT hash FROM audit WHERE seq = 1")) ?? Data()
                try Keyslot.store(db, personID: id, secrets: keys.box.secretKey.appending(keys.sign.secretKey), kek: keys.kek,
                                  parameters: keys.parameters,
                                  associatedData: Binding.keyslot(vaultID: vault.vaultID, personID: id, genesisHash: genesis))
            }
            if new.role == .admin {
                let mine = try Row.fetchAll(db, sql: """
                    SELECT e.id, e.alias FROM entries e JOIN grants g ON g.entry_id = e.id AND g.person_id = ? ORDER BY e.id
                    """, arguments: [person.id])
                for row in mine {
                    let entryID: Int64 = row["id"]
                    let key = try dataKey(db, entryID: entryID, alias: row["alias"])
                    try seal(db, dataKey: key, entryID: entryID, to: id)
                    let head = try record(db, "entry.grant", entry: entryID, person: id, details: ["to": new.handle, "reason": "new admin"])
                    try addCustody(db, entryID: entryID, personID: id, kind: "grant", seq: head.seq)
                }
            }
            return try Person(row: db.row(Person.selectSQL + " WHERE p.id = ?", [id])!)
        }
    }

    func addCustody(_ db: Database, entryID: Int64, personID: Int64, kind: String, seq: Int64) throws {
        try db.run("INSERT INTO custody (entry_id, person_id, kind, at, audit_seq) VALUES (?, ?, ?, ?, ?)",
                       [entryID, personID, kind, Timestamp.now(), seq])
    }
}
