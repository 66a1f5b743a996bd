import Foundation
import GRDB

/// What a custody row remembers a person was handed.
enum CustodyKind: String, Sendable {
    /// A data key sealed to the person: they can open the entry's key.
    case grant
    /// A file with the private key, exported for the person.
    case export
}

/// Key custody for one unlocked person: sealing an entry's data key to
/// people, opening this person's own grant, decrypting an entry's private
/// key, and the custody rows that remember who was handed what.
///
/// The cryptography is the access check: a person without a grant row
/// sealed to their X25519 key has nothing to open.
struct Custody: Sendable {
    let vaultID: Data
    /// The person whose grants this custody opens.
    let holderID: Int64
    let holderHandle: String
    let boxSecretKey: SecureBytes
    let boxPublicKey: Data

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
            associatedData: Binding.entry(vaultID: vaultID, entryID: entryID, spkiSHA256: spkiSHA256)
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
        let tag = Binding.grantTag(vaultID: vaultID, entryID: entryID, personID: recipient.id)
        let box = try SealedBox.seal(dataKey.appending(tag), to: pk)
        try GrantRow(
            entryID: entryID,
            personID: recipient.id,
            sealedKey: box,
            grantedBy: holderID,
            grantedAt: Timestamp.now()
        ).insert(change.db, onConflict: .replace)
    }

    /// Opens this person's grant on an entry: the data key.
    func dataKey(_ db: Database, entryID: Int64, alias: String) throws -> SecureBytes {
        guard
            let grant = try db.row(
                "SELECT sealed_key FROM grants WHERE entry_id = ? AND person_id = ?",
                [entryID, holderID]
            ),
            let sealed = try Columns(grant, "grant of entry \(entryID)").optionalBlob("sealed_key")
        else {
            throw CertVaultError(
                .noAccess,
                "\(holderHandle) has no grant for entry \(alias)",
                hint: "an admin can grant access"
            )
        }
        guard let payload = SealedBox.open(sealed, publicKey: boxPublicKey, secretKey: boxSecretKey),
            payload.count == AEAD.keyBytes + 32
        else {
            throw CertVaultError(
                .tampered,
                "the data key of entry \(alias) sealed for \(holderHandle) cannot be opened: altered",
                remedy: .verifyLog
            )
        }
        let tag = Binding.grantTag(vaultID: vaultID, entryID: entryID, personID: holderID)
        let expected = SecureBytes(copying: tag)
        guard payload.slice(AEAD.keyBytes..<payload.count).isEqual(to: expected) else {
            throw CertVaultError(
                .tampered,
                "the data key sealed for \(holderHandle) on entry \(alias) belongs to another entry: the grant was moved",
                remedy: .verifyLog
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
            throw CertVaultError(.noPrivateKey, "entry \(alias) holds no private key", remedy: .exportCertificate)
        }
        let spki = try c.blob("spki_sha256", count: 32)
        let ad = Binding.entry(vaultID: vaultID, entryID: entryID, spkiSHA256: spki)
        guard let pkcs8 = AEAD.open(ciphertext, nonce: nonce, key: dataKey, associatedData: ad) else {
            throw CertVaultError(
                .tampered,
                "the private key of entry \(alias) failed authentication: altered or moved from another entry",
                remedy: .restoreBackup
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

    /// Seals every entry this person can open to `newcomer` (a new admin),
    /// each in an `entry.grant` record, so that every admin keeps reaching
    /// every key.
    func sealEverything(_ change: Change, to newcomer: TrustedPerson, reason: String) throws {
        let db = change.db
        let mine = try Row.fetchAll(
            db,
            sql: """
                SELECT e.id, e.alias FROM entries e JOIN grants g ON g.entry_id = e.id AND g.person_id = ?
                WHERE NOT EXISTS (SELECT 1 FROM grants h WHERE h.entry_id = e.id AND h.person_id = ?)
                ORDER BY e.id
                """,
            arguments: [holderID, newcomer.id]
        )
        for row in mine {
            let entry = Columns(row, "entry")
            let entryID = try entry.int("id")
            let key = try dataKey(db, entryID: entryID, alias: try entry.text("alias"))
            try seal(change, dataKey: key, entryID: entryID, to: newcomer)
            let seq = change.record(
                .entryGrant,
                entry: entryID,
                person: newcomer.id,
                details: [.to: .text(newcomer.handle), .reason: .text(reason)]
            )
            try note(change, .grant, entryID: entryID, personID: newcomer.id, seq: seq)
        }
    }

    /// Who receives a new entry's key: this person and every active admin,
    /// as the signed records state them.
    func defaultRecipients(_ state: VaultState) throws -> [TrustedPerson] {
        guard let me = state.trusted(holderID) else {
            throw CertVaultError(.noAccess, "\(holderHandle) is not trusted")
        }
        return [me] + state.ledger.admins.filter { $0.id != holderID }
    }

    /// Remembers that `personID` was handed entry `entryID`'s key, by the
    /// record `seq`.
    func note(_ change: Change, _ kind: CustodyKind, entryID: Int64, personID: Int64, seq: Int64) throws {
        try CustodyRow(entryID: entryID, personID: personID, kind: kind, at: Timestamp.now(), auditSeq: seq)
            .insert(change.db)
    }
}
