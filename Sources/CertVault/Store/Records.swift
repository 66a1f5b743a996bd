import Foundation
import GRDB

// The rows certvault writes, one record type per table, inserted through
// GRDB's `PersistableRecord`. Each names its columns explicitly, NULLs
// included, so a row is exactly what the signed digests expect.
//
// Reading goes the other way, through ``Columns``: it refuses a value
// stored with the wrong type instead of converting it (GRDB's decoding
// turns the text '5' into the integer 5, and whoever edits the file
// chooses the storage class), and names the row and column that are wrong.

/// A row of `people`: who a person is, as the record that introduces them states.
struct PersonRow: PersistableRecord {
    static let databaseTableName = "people"
    var handle: String
    var name: String?
    var email: String?
    var role: PersonRole
    var boxPublicKey: Data?
    var signPublicKey: Data?
    var createdAt: String
    var createdBy: Int64?

    func encode(to container: inout PersistenceContainer) {
        container["handle"] = handle
        container["name"] = name
        container["email"] = email
        container["role"] = role.rawValue
        container["box_public_key"] = boxPublicKey
        container["sign_public_key"] = signPublicKey
        container["created_at"] = createdAt
        container["created_by"] = createdBy
    }
}

/// A row of `keyslots`: a person's secret keys, encrypted under their passphrase.
struct KeyslotRow: PersistableRecord {
    static let databaseTableName = "keyslots"
    var personID: Int64
    var parameters: KDFParameters
    var nonce: Data
    var ciphertext: Data
    var createdAt: String

    func encode(to container: inout PersistenceContainer) {
        container["person_id"] = personID
        container["kdf"] = KDFParameters.algorithm
        container["kdf_opslimit"] = Int64(parameters.opsLimit)
        container["kdf_memlimit"] = Int64(parameters.memLimit)
        container["salt"] = parameters.salt
        container["nonce"] = nonce
        container["ciphertext"] = ciphertext
        container["created_at"] = createdAt
    }
}

/// A row of `grants`: an entry's data key sealed to one person.
struct GrantRow: PersistableRecord {
    static let databaseTableName = "grants"
    var entryID: Int64
    var personID: Int64
    var sealedKey: Data
    var grantedBy: Int64
    var grantedAt: String

    func encode(to container: inout PersistenceContainer) {
        container["entry_id"] = entryID
        container["person_id"] = personID
        container["sealed_key"] = sealedKey
        container["granted_by"] = grantedBy
        container["granted_at"] = grantedAt
    }
}

/// A row of `custody`: who was handed an entry's key, and by which record.
struct CustodyRow: PersistableRecord {
    static let databaseTableName = "custody"
    var entryID: Int64
    var personID: Int64
    var kind: CustodyKind
    var at: String
    var auditSeq: Int64

    func encode(to container: inout PersistenceContainer) {
        container["entry_id"] = entryID
        container["person_id"] = personID
        container["kind"] = kind.rawValue
        container["at"] = at
        container["audit_seq"] = auditSeq
    }
}

/// A row of `audit`: one record of the hash chain.
struct AuditRow: PersistableRecord {
    static let databaseTableName = "audit"
    var seq: Int64
    var at: String
    var actorID: Int64?
    var action: AuditAction
    var entryID: Int64?
    var personID: Int64?
    var details: String
    var previousHash: Data
    var hash: Data
    var signature: Data?

    func encode(to container: inout PersistenceContainer) {
        container["seq"] = seq
        container["at"] = at
        container["actor_id"] = actorID
        container["action"] = action.rawValue
        container["entry_id"] = entryID
        container["person_id"] = personID
        container["details"] = details
        container["prev_hash"] = previousHash
        container["hash"] = hash
        container["signature"] = signature
    }
}
