import Foundation
import GRDB

extension Vault {
    /// Unlocks the vault as `handle` (or the only person who can), running
    /// the KDF once. A wrong passphrase, or an attempt by someone who has
    /// departed, appends an unsigned `unlock.failed` record and changes
    /// nothing else.
    ///
    /// Who the person is, their role and their keys come from the signed
    /// records; their keyslot must be the one those records commit to, so
    /// a damaged or replaced keyslot is reported as such, not as a wrong
    /// passphrase.
    /// - Throws: `.wrongPassphrase` ("wrong passphrase for HANDLE"),
    ///   `.personInactive` for someone who has departed, `.tampered` for a
    ///   keyslot that is not the one signed.
    public func unlock(handle: String?, passphrase: SecureBytes) throws -> Session {
        let (person, slot, genesisHash) = try store.read { db -> (TrustedPerson, Keyslot?, Data) in
            let ledger = try PeopleLedger.replay(db, vaultID: vaultID)
            let person = try Self.actor(handle, ledger: ledger, in: db)
            // Refused below, once this read is over, and recorded.
            guard person.active else { return (person, nil, Data()) }
            guard person.canUnlock else {
                throw CertVaultError(
                    .noAccess,
                    "\(person.handle) has no keyslot in this vault (role \(person.role.rawValue))",
                    hint: "only admins, officers and auditors with keys can unlock"
                )
            }
            guard let digest = try RowDigest.keyslot(db, personID: person.id) else {
                throw CertVaultError(
                    .tampered,
                    "the keyslot of \(person.handle) was deleted",
                    remedy: .restoreBackup
                )
            }
            guard digest == person.keyslotDigest else {
                throw CertVaultError(
                    .tampered,
                    "the keyslot of \(person.handle) was damaged or replaced: it is not the one their signed records commit to",
                    hint: "this is not a wrong passphrase; restore the vault from a backup"
                )
            }
            guard let slot = try Keyslot.load(db, personID: person.id) else {
                throw CertVaultError(.tampered, "the keyslot of \(person.handle) was deleted")
            }
            return (person, slot, try AuditChain.genesisHash(db))
        }
        guard let slot else {
            // Whoever tries, with whatever passphrase: the auditor sees the attempt.
            try recordFailedUnlock(person)
            throw CertVaultError(.personInactive, "\(person.handle) has departed and can no longer unlock this vault")
        }
        let ad = Binding.keyslot(vaultID: vaultID, personID: person.id, genesisHash: genesisHash)
        guard let secrets = try slot.open(passphrase: passphrase, associatedData: ad) else {
            try recordFailedUnlock(person)
            throw CertVaultError(.wrongPassphrase, "wrong passphrase for \(person.handle)")
        }
        return try Session(vault: self, person: person, secrets: secrets, passphrase: passphrase)
    }

    /// Appends the unsigned `unlock.failed` record of a refused unlock as
    /// `person`: a wrong passphrase, or any passphrase once they departed
    /// (``AuditRecord/personDeparted`` tells the two apart). A vault that
    /// cannot be written still refuses; the record is then left out.
    private func recordFailedUnlock(_ person: TrustedPerson) throws {
        do {
            _ = try store.write { db in
                try AuditChain.append(
                    db,
                    actor: person.id,
                    action: .unlockFailed,
                    person: person.id,
                    details: [.handle: .text(person.handle)],
                    signer: nil
                )
            }
        } catch let error as CertVaultError where error.code == .io || error.code == .readOnly {
            // A read-only vault cannot take the record; the unlock is still refused.
        }
    }
}
