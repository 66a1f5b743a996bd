import Foundation
import GRDB

/// A person's X25519 and Ed25519 secret keys (32 + 64 bytes), encrypted
/// under the Argon2id key derived from their passphrase.
struct Keyslot {
    var parameters: KDFParameters
    var nonce: Data
    var ciphertext: Data

    static func load(_ db: Database, personID: Int64) throws -> Keyslot? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM keyslots WHERE person_id = ?", arguments: [personID])
        else { return nil }
        let c = Columns(row, "keyslot of person \(personID)")
        let kdf = try c.text("kdf")
        guard kdf == KDFParameters.algorithm else {
            throw CertVaultError(.newerFormat, "the keyslot uses an unknown KDF \(Display.quoted(kdf))")
        }
        let ops = try c.int("kdf_opslimit", in: KDFParameters.opsLimitRange)
        let mem = try c.int("kdf_memlimit", in: KDFParameters.memLimitRange)
        return Keyslot(
            parameters: KDFParameters(
                opsLimit: UInt64(ops),
                memLimit: UInt64(mem),
                salt: try c.blob("salt", count: KDFParameters.saltBytes)
            ),
            nonce: try c.blob("nonce", count: AEAD.nonceBytes),
            ciphertext: try c.blob("ciphertext")
        )
    }

    static func store(
        _ db: Database,
        personID: Int64,
        secrets: SecureBytes,
        kek: SecureBytes,
        parameters: KDFParameters,
        associatedData: Data
    ) throws {
        let sealed = AEAD.seal(secrets, key: kek, associatedData: associatedData)
        try KeyslotRow(
            personID: personID,
            parameters: parameters,
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
            createdAt: Timestamp.now()
        ).insert(db)
    }

    /// Derives the key (the one KDF run of a command) and decrypts; nil if
    /// the passphrase is wrong or the slot was altered or moved.
    func open(passphrase: SecureBytes, associatedData: Data) throws -> SecureBytes? {
        let kek = try KDF.deriveKey(passphrase: passphrase, parameters: parameters)
        return AEAD.open(ciphertext, nonce: nonce, key: kek, associatedData: associatedData)
    }
}
