import Foundation

/// What a record says happened. The raw value is what the log stores and
/// hashes; a record read from a file may hold an action no certvault wrote,
/// so ``AuditRecord/action`` stays text.
public enum AuditAction: String, CaseIterable, Sendable, Codable {
    /// The genesis: the vault and its first admin.
    case vaultCreate = "vault.create"
    /// A person's keyslot, committed by its hash (after the genesis, and
    /// whenever a keyslot is replaced).
    case personKeyslot = "person.keyslot"
    /// A person added by an admin.
    case personAdd = "person.add"
    /// A wrong passphrase; the only record nobody signs.
    case unlockFailed = "unlock.failed"
    /// An entry stored from an imported file.
    case entryImport = "entry.import"
    /// A management certificate and its key made inside the vault.
    case entryCreate = "entry.create"
    /// A key and a certificate request made inside the vault: a pending entry.
    case entryRequest = "entry.request"
    /// A private key joined the entry of its certificate.
    case entryKeyAdd = "entry.key-add"
    /// A certificate joined the entry of its key.
    case entryCertAdd = "entry.cert-add"
    /// The certificate a CA issued completed a pending entry.
    case entryComplete = "entry.complete"
    /// An entry linked to the entry of the certificate that issued it.
    case entryLink = "entry.link"
    /// An entry's key sealed to a person (a new admin receives every key).
    case entryGrant = "entry.grant"
    /// An entry's private key exported (`pfx` or `key`) for a person.
    case entryExport = "entry.export"
    /// A backup of the vault made.
    case vaultBackup = "vault.backup"
    /// An older copy of the vault accepted on purpose (a restored backup).
    case rollbackAccepted = "vault.rollback-accepted"
    /// A person's role changed by an admin.
    case personRole = "person.role"
    /// The age recipient (an X25519 public key) files handed to a person
    /// are encrypted to, set or cleared by the person or an admin.
    case personRecipient = "person.recipient"
    /// A person left: their keyslot and every grant are gone, and they can
    /// no longer act.
    case personDepart = "person.depart"
    /// A person's grant on an entry taken away.
    case entryUngrant = "entry.ungrant"
    /// An entry marked as needing rotation (someone who could open it, or
    /// was handed it, left); a departure's grant taken with it.
    case entryNeedsRotation = "entry.needs-rotation"
    /// An entry replaced by its successor (``Session/rotate(_:)``).
    case entrySupersede = "entry.supersede"
    /// An entry revoked, its key possibly destroyed.
    case entryRevoke = "entry.revoke"
    /// A superseded entry's certificate recorded as removed from Azure.
    case entryRetire = "entry.retire"
    /// A refused attempt to take an entry's key by someone who did unlock.
    case entryDenied = "entry.denied"
    /// An export whose record committed but whose file could not then be
    /// given its name (say, someone created it meanwhile): no file was
    /// written, and the key did not leave. Names the export's record.
    case entryExportUnwritten = "entry.export-unwritten"
    /// An entry given another alias (the one it had is in the details).
    case entryRename = "entry.rename"
    /// A policy setting (a limit, an expiry window, a maximum age) set by
    /// an admin: every officer's `check` judges by it.
    case policySet = "policy.set"

    /// Records that change who the people are; replayed at every unlock.
    static let peopleActions: [AuditAction] = [
        .vaultCreate, .personAdd, .personKeyslot, .personRole, .personDepart, .personRecipient,
    ]

    /// Whether a record of this action is about one entry (and names it).
    var namesEntry: Bool { rawValue.hasPrefix("entry.") }

    /// The roles whose signature a record of this action may carry: a
    /// record signed by anyone else is not believed, whatever it says.
    var signers: Set<PersonRole> {
        switch self {
        case .vaultCreate, .personAdd, .personRole, .personDepart, .entryNeedsRotation, .policySet: return [.admin]
        case .personKeyslot, .vaultBackup, .entryDenied, .personRecipient: return [.admin, .officer, .auditor]
        case .unlockFailed: return []
        case .entryImport, .entryCreate, .entryRequest, .entryKeyAdd, .entryCertAdd, .entryComplete, .entryLink,
            .entryExport, .rollbackAccepted, .entryGrant, .entryUngrant, .entrySupersede, .entryRevoke, .entryRetire,
            .entryExportUnwritten, .entryRename:
            return [.admin, .officer]
        }
    }
}
