import Foundation

/// Associated data that binds every ciphertext to its place, so that rows
/// cannot be swapped between people, entries or vaults. Each starts with a
/// domain-separation label.
enum Binding {
    static func keyslot(vaultID: Data, personID: Int64, genesisHash: Data) -> Data {
        Data("certvault/v1/keyslot\0".utf8) + vaultID + Data.int64(personID) + genesisHash
    }

    static func entry(vaultID: Data, entryID: Int64, spkiSHA256: Data) -> Data {
        Data("certvault/v1/entry\0".utf8) + vaultID + Data.int64(entryID) + spkiSHA256
    }

    /// Sealed boxes carry no associated data, so the sealed payload is the
    /// data key followed by this tag: a seal moved to another (entry, person)
    /// row is recognised before its key is used.
    static func grantTag(vaultID: Data, entryID: Int64, personID: Int64) -> Data {
        Digest.blake2b([Data("certvault/v1/grant\0".utf8), vaultID, Data.int64(entryID), Data.int64(personID)])
    }
}
