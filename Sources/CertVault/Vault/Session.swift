import Foundation
import GRDB

/// One person's unlocked view of a vault: their secret keys are open, so
/// they can decrypt what they were granted, and every change they make is
/// signed by them.
///
/// The key derivation ran once, in ``Vault/unlock(handle:passphrase:)``;
/// everything a session does after that is sealed boxes and AEAD.
public final class Session: Sendable {
    public let vault: Vault
    /// Who unlocked, as the signed records state them.
    public let person: Person
    let boxSecretKey: SecureBytes
    let signSecretKey: SecureBytes
    let boxPublicKey: Data
    let signPublicKey: Data

    init(vault: Vault, person trusted: TrustedPerson, secrets: SecureBytes) throws {
        guard secrets.count == SealedBox.secretKeyBytes + Signature.secretKeyBytes else {
            throw CertVaultError(.tampered, "the keyslot of \(trusted.handle) holds keys of the wrong size")
        }
        self.vault = vault
        person = Person(trusted)
        boxSecretKey = secrets.slice(0..<SealedBox.secretKeyBytes)
        signSecretKey = secrets.slice(SealedBox.secretKeyBytes..<secrets.count)
        boxPublicKey = SealedBox.publicKey(for: boxSecretKey)
        signPublicKey = signSecretKey.withUnsafeBytes { Data($0[32..<64]) }
        guard trusted.boxPublicKey == boxPublicKey, trusted.signPublicKey == signPublicKey else {
            throw CertVaultError(
                .tampered,
                "the keyslot of \(trusted.handle) holds other keys than the signed records introduce",
                hint: "run 'certvault audit verify'"
            )
        }
    }

    /// Runs `body` as one change by this person: the vault must match its
    /// signed state first (and hold the head this machine saw last), and
    /// the records `body` queues are signed and committed with its rows.
    @discardableResult
    func change<T>(acceptingRollback: Bool = false, _ body: (Change) throws -> T) throws -> T {
        let (result, head, afterCommit) = try vault.store.write { db -> (T, AuditHead?, [() throws -> Void]) in
            var state = try vault.state(db)
            let rollback = state.rollback
            if acceptingRollback { state.rollback = nil }
            try state.requireIntact()
            guard let me = state.trusted(person.id), me.active, me.role == person.role,
                me.signPublicKey == signPublicKey
            else {
                throw CertVaultError(
                    .noAccess,
                    "\(person.handle) may no longer act on this vault (their role or status changed)"
                )
            }
            let change = try Change(db, state: state, actor: person.id, signer: signSecretKey)
            change.rollback = acceptingRollback ? rollback : nil
            let result = try body(change)
            return (result, try change.commit(), change.afterCommit)
        }
        if let head {
            if acceptingRollback {
                try vault.witness?.replace(with: head, vaultID: vault.vaultID)
                try vault.witness?.replace(path: vault.path, vaultID: vault.vaultID)
            } else {
                try vault.remember(head)
            }
        }
        do {
            for step in afterCommit { try step() }
        } catch let error as CertVaultError {
            throw CertVaultError(
                error.code,
                "\(error.message) (the change itself was recorded\(head.map { " as record \($0.seq)" } ?? ""))",
                hint: error.hint
            )
        }
        return result
    }

    /// Accepts that the vault holds an older log than this machine saw (a
    /// restored backup), in a signed record naming the head that was seen
    /// and when; afterwards the witness remembers the new head.
    /// - Throws: `.invalidArgument` when there is no rollback to accept;
    ///   `.tampered` when the vault does not match its signed records.
    public func acceptRollback() throws -> Rollback {
        try requireRole([.admin, .officer], to: "accept a rollback")
        // Read and accepted in one transaction: the copy accepted is the one checked.
        return try change(acceptingRollback: true) { c in
            guard let seenState = c.rollback else {
                throw CertVaultError(
                    .invalidArgument,
                    "this vault holds every record this machine saw: there is no rollback to accept"
                )
            }
            c.record(
                .rollbackAccepted,
                details: [
                    "seen_seq": seenState.seen.seq, "seen_hash": seenState.seen.hash, "seen_at": seenState.seen.seenAt,
                    "reason": seenState.reason,
                ]
            )
            return seenState
        }
    }

    func requireRole(_ roles: Set<PersonRole>, to what: String) throws {
        guard roles.contains(person.role) else {
            throw CertVaultError(
                .noAccess,
                "\(person.handle) (\(person.role.rawValue)) may not \(what)",
                hint: "this needs the role \(roles.map(\.rawValue).sorted().joined(separator: " or "))"
            )
        }
    }

    // MARK: Entry keys

    /// Encrypts `key` for entry `entryID` under a fresh data key and seals
    /// that key to `recipients`. Returns the ciphertext's SHA-256.
    func storeKey(
        _ change: Change,
        entryID: Int64,
        key: PrivateKey,
        spkiSHA256: Data,
        recipients: [TrustedPerson]
    ) throws -> Data {
        let dataKey = SecureBytes(randomCount: AEAD.keyBytes)
        let pkcs8 = try key.pkcs8()
        let sealed = AEAD.seal(
            pkcs8,
            key: dataKey,
            associatedData: Binding.entry(vaultID: vault.vaultID, entryID: entryID, spkiSHA256: spkiSHA256)
        )
        try change.db.run(
            "UPDATE entries SET key_nonce = ?, key_ciphertext = ? WHERE id = ?",
            [sealed.nonce, sealed.ciphertext, entryID]
        )
        for recipient in recipients {
            try seal(change, dataKey: dataKey, entryID: entryID, to: recipient)
        }
        return Digest.sha256(sealed.ciphertext)
    }

    /// Writes the grant row: the data key and its binding tag sealed to a
    /// person's encryption key as the signed records state it — never as
    /// the people table says (design rule 4).
    func seal(_ change: Change, dataKey: SecureBytes, entryID: Int64, to recipient: TrustedPerson) throws {
        guard recipient.active, let pk = recipient.boxPublicKey else {
            throw CertVaultError(.invalidArgument, "\(recipient.handle) cannot receive keys")
        }
        let tag = Binding.grantTag(vaultID: vault.vaultID, entryID: entryID, personID: recipient.id)
        let box = try SealedBox.seal(dataKey.appending(tag), to: pk)
        try change.db.run(
            """
            INSERT OR REPLACE INTO grants (entry_id, person_id, sealed_key, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)
            """,
            [entryID, recipient.id, box, person.id, Timestamp.now()]
        )
    }

    /// Opens this person's grant on an entry: the data key.
    ///
    /// The cryptography refuses, not only a check: without a grant row
    /// sealed to this person's X25519 key there is nothing to open.
    func dataKey(_ db: Database, entryID: Int64, alias: String) throws -> SecureBytes {
        guard
            let grant = try db.row(
                "SELECT sealed_key FROM grants WHERE entry_id = ? AND person_id = ?",
                [entryID, person.id]
            ),
            let sealed = try Columns(grant, "grant of entry \(entryID)").optionalBlob("sealed_key")
        else {
            throw CertVaultError(
                .noAccess,
                "\(person.handle) has no grant for entry \(alias)",
                hint: "an admin can grant access"
            )
        }
        guard let payload = SealedBox.open(sealed, publicKey: boxPublicKey, secretKey: boxSecretKey),
            payload.count == AEAD.keyBytes + 32
        else {
            throw CertVaultError(
                .tampered,
                "the data key of entry \(alias) sealed for \(person.handle) cannot be opened: altered",
                hint: "run 'certvault audit verify'"
            )
        }
        let tag = Binding.grantTag(vaultID: vault.vaultID, entryID: entryID, personID: person.id)
        let expected = tag.withUnsafeBytes { SecureBytes(copying: $0) }
        guard payload.slice(AEAD.keyBytes..<payload.count).isEqual(to: expected) else {
            throw CertVaultError(
                .tampered,
                "the data key sealed for \(person.handle) on entry \(alias) belongs to another entry: the grant was moved",
                hint: "run 'certvault audit verify'"
            )
        }
        return payload.slice(0..<AEAD.keyBytes)
    }

    /// Decrypts an entry's private key and checks it against the certificate.
    func privateKey(_ db: Database, entryID: Int64, alias: String) throws -> PrivateKey {
        let dataKey = try dataKey(db, entryID: entryID, alias: alias)
        guard
            let row = try db.row(
                "SELECT cert_der, spki_sha256, key_nonce, key_ciphertext FROM entries WHERE id = ?",
                [entryID]
            )
        else {
            throw CertVaultError(.entryNotFound, "entry \(alias) is gone")
        }
        let c = Columns(row, "entry \(alias)")
        guard let ciphertext = try c.optionalBlob("key_ciphertext"), let nonce = try c.optionalBlob("key_nonce") else {
            throw CertVaultError(
                .noPrivateKey,
                "entry \(alias) holds no private key",
                hint: "export its certificate with --format cer"
            )
        }
        let spki = try c.blob("spki_sha256", count: 32)
        let ad = Binding.entry(vaultID: vault.vaultID, entryID: entryID, spkiSHA256: spki)
        guard let pkcs8 = AEAD.open(ciphertext, nonce: nonce, key: dataKey, associatedData: ad) else {
            throw CertVaultError(
                .tampered,
                "the private key of entry \(alias) failed authentication: altered or moved from another entry",
                hint: "run 'certvault audit verify' and restore from a backup"
            )
        }
        let key = try PrivateKey(pkcs8: pkcs8)
        if let der = try c.optionalBlob("cert_der") {
            guard key.matches(try Certificate(derEncoded: der)) else {
                throw CertVaultError(.tampered, "the private key of entry \(alias) does not match its certificate")
            }
        } else if Digest.sha256(try key.publicKeyInfoDER) != spki {
            throw CertVaultError(.tampered, "the private key of entry \(alias) does not match its public key")
        }
        return key
    }

    /// Who receives a new entry's key: the actor and every active admin,
    /// as the signed records state them.
    func defaultRecipients(_ state: VaultState) throws -> [TrustedPerson] {
        guard let me = state.trusted(person.id) else {
            throw CertVaultError(.noAccess, "\(person.handle) is not trusted")
        }
        return [me] + state.ledger.admins.filter { $0.id != person.id }
    }

    // MARK: People

    /// Adds a person. Admins only.
    ///
    /// Staff receive copies and get no keys; anyone else needs a passphrase
    /// for their new keyslot. A new admin is granted every entry this admin
    /// can open, so that imports keep reaching every admin.
    public func addPerson(
        _ new: Vault.NewPerson,
        passphrase: SecureBytes?,
        kdf: KDFStrength = .moderate
    ) throws -> Person {
        try requireRole([.admin], to: "add people")
        try Vault.validateHandle(new.handle)
        var keys:
            (
                box: (publicKey: Data, secretKey: SecureBytes), sign: (publicKey: Data, secretKey: SecureBytes),
                kek: SecureBytes, parameters: KDFParameters
            )?
        if new.role != .staff {
            guard let passphrase, passphrase.count > 0 else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(new.handle) needs a passphrase (role \(new.role.rawValue))",
                    hint: "give it with --new-passphrase-file FILE or CERTVAULT_NEW_PASSPHRASE"
                )
            }
            let parameters = KDFParameters(strength: kdf)
            keys = (
                SealedBox.keyPair(), Signature.keyPair(),
                try KDF.deriveKey(passphrase: passphrase, parameters: parameters), parameters
            )
        }
        return try change { c in
            let db = c.db
            let taken = try db.row("SELECT 1 FROM people WHERE handle = ?", [new.handle]) != nil
            if taken || c.state.ledger.person(handle: new.handle) != nil {
                throw CertVaultError(.personExists, "a person '\(new.handle)' already exists")
            }
            try db.run(
                """
                INSERT INTO people (handle, name, email, role, box_public_key, sign_public_key, created_at, created_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    new.handle, new.name, new.email, new.role.rawValue, keys?.box.publicKey, keys?.sign.publicKey,
                    Timestamp.now(), person.id,
                ]
            )
            let id = db.lastInsertedRowID
            var details: [String: Any] = ["handle": new.handle, "role": new.role.rawValue]
            if let name = new.name { details["name"] = name }
            if let email = new.email { details["email"] = email }
            if let keys {
                details["box_public_key"] = keys.box.publicKey.hexLower
                details["sign_public_key"] = keys.sign.publicKey.hexLower
                try Keyslot.store(
                    db,
                    personID: id,
                    secrets: keys.box.secretKey.appending(keys.sign.secretKey),
                    kek: keys.kek,
                    parameters: keys.parameters,
                    associatedData: Binding.keyslot(
                        vaultID: vault.vaultID,
                        personID: id,
                        genesisHash: try AuditChain.genesisHash(db)
                    )
                )
                details["keyslot_digest"] = try RowDigest.keyslot(db, personID: id)?.hexLower
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
                let mine = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT e.id, e.alias FROM entries e JOIN grants g ON g.entry_id = e.id AND g.person_id = ? ORDER BY e.id
                        """,
                    arguments: [person.id]
                )
                for row in mine {
                    let entry = Columns(row, "entry")
                    let entryID = try entry.int("id")
                    let key = try dataKey(db, entryID: entryID, alias: try entry.text("alias"))
                    try seal(c, dataKey: key, entryID: entryID, to: newcomer)
                    let seq = c.record(
                        .entryGrant,
                        entry: entryID,
                        person: id,
                        details: ["to": new.handle, "reason": "new admin"]
                    )
                    try addCustody(c, entryID: entryID, personID: id, kind: "grant", seq: seq)
                }
            }
            return Person(
                id: id,
                handle: new.handle,
                name: new.name,
                email: new.email,
                role: new.role,
                status: "active",
                canUnlock: keys != nil,
                createdAt: Timestamp.now()
            )
        }
    }

    func addCustody(_ change: Change, entryID: Int64, personID: Int64, kind: String, seq: Int64) throws {
        try change.db.run(
            "INSERT INTO custody (entry_id, person_id, kind, at, audit_seq) VALUES (?, ?, ?, ?, ?)",
            [entryID, personID, kind, Timestamp.now(), seq]
        )
    }
}
