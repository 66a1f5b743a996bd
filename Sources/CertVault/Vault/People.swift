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
    ) throws -> (id: Int64, details: [String: Any]) {
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
        var details: [String: Any] = ["handle": new.handle, "role": new.role.rawValue]
        if let name = new.name { details["name"] = name }
        if let email = new.email { details["email"] = email }
        if let keys {
            details["box_public_key"] = keys.box.publicKey.hexLower
            details["sign_public_key"] = keys.sign.publicKey.hexLower
        }
        return (db.lastInsertedRowID, details)
    }

    /// Writes the person's keyslot, bound to this vault, the person and the
    /// genesis record (which must exist); returns its row digest, which the
    /// record that commits the keyslot carries.
    static func storeKeyslot(_ db: Database, vaultID: Data, personID: Int64, keys: PersonKeys) throws -> String {
        try Keyslot.store(
            db,
            personID: personID,
            secrets: keys.box.secretKey.appending(keys.sign.secretKey),
            kek: keys.kek,
            parameters: keys.parameters,
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
