import Foundation
import GRDB

/// What a person may do.
public enum PersonRole: String, CaseIterable, Sendable, Codable {
    /// Manages people; receives every entry's key.
    case admin
    /// Imports, exports and handles keys.
    case officer
    /// Reads the audit log; holds no keys unless granted.
    case auditor
    /// Only receives copies; has no keyslot.
    case staff
}

/// A person the vault knows.
public struct Person: Sendable, Codable, Equatable {
    public var id: Int64
    public var handle: String
    public var name: String?
    public var email: String?
    public var role: PersonRole
    /// `active` or `departed`.
    public var status: String
    /// Whether the person can unlock the vault (has keys and a keyslot).
    public var canUnlock: Bool
    public var createdAt: String

    init(row: Row) {
        id = row["id"]
        handle = row["handle"]
        name = row["name"]
        email = row["email"]
        role = PersonRole(rawValue: row["role"]) ?? .staff
        status = row["status"]
        canUnlock = (row["has_keyslot"] as Int64? ?? 0) != 0
        createdAt = row["created_at"]
    }

    static let selectSQL = """
        SELECT p.*, EXISTS (SELECT 1 FROM keyslots k WHERE k.person_id = p.id) AS has_keyslot FROM people p
        """
}

/// What an entry is for.
public enum EntryPurpose: String, CaseIterable, Sendable, Codable {
    /// A server certificate bought from a CA; travels as `.pfx`.
    case ssl
    /// An Azure management certificate; uploaded as `.cer`.
    case management
    case other
}

/// One certificate or key in the vault, as shown by `list` and `show`.
public struct Entry: Sendable, Codable, Equatable {
    public var id: Int64
    public var alias: String
    public var purpose: EntryPurpose
    public var subscription: String?
    public var domains: [String]
    /// Nil for a key-only or pending entry.
    public var certificate: CertificateMetadata?
    public var hasPrivateKey: Bool
    /// `active`, `pending`, `superseded` or `revoked`.
    public var status: String
    public var needsRotation: Bool
    public var rotationReason: String?
    public var issuerEntryID: Int64?
    public var createdAt: String
    public var createdBy: String
    /// Handles of the people who hold a grant (can decrypt the key).
    public var access: [String]
    /// For a pending entry: the subject and names requested from the CA.
    public var requestedSubject: String?
    public var requestedNames: [String]?

    init(row: Row, access: [String]) {
        id = row["id"]
        alias = row["alias"]
        purpose = EntryPurpose(rawValue: row["purpose"]) ?? .other
        subscription = row["subscription"]
        domains = Entry.decodeList(row["domains"])
        hasPrivateKey = (row["has_key"] as Int64? ?? 0) != 0
        status = row["status"]
        needsRotation = (row["needs_rotation"] as Int64? ?? 0) != 0
        rotationReason = row["rotation_reason"]
        issuerEntryID = row["issuer_entry_id"]
        createdAt = row["created_at"]
        createdBy = row["created_by_handle"] ?? "?"
        self.access = access
        if status == "pending" {
            requestedSubject = row["subject"]
            requestedNames = Entry.decodeList(row["sans"])
        }
        if let sha1: String = row["sha1"] {
            certificate = CertificateMetadata(
                subject: row["subject"] ?? "", issuer: row["issuer"] ?? "", serialNumber: row["serial"] ?? "",
                thumbprintSHA1: sha1, fingerprintSHA256: row["sha256"] ?? "",
                notValidBefore: Timestamp.parse(row["not_before"]) ?? Date(timeIntervalSince1970: 0),
                notValidAfter: Timestamp.parse(row["not_after"]) ?? Date(timeIntervalSince1970: 0),
                keyAlgorithm: row["key_algorithm"] ?? "", keyBits: row["key_bits"] ?? 0, keyCurve: row["key_curve"],
                signatureAlgorithm: row["signature_algorithm"] ?? "",
                subjectAlternativeNames: Entry.decodeList(row["sans"]),
                isSelfSigned: (row["self_signed"] as Int64? ?? 0) != 0, isCA: (row["is_ca"] as Int64? ?? 0) != 0)
        }
    }

    static let selectSQL = """
        SELECT e.id, e.alias, e.purpose, e.subscription, e.domains, e.sha1, e.sha256, e.subject, e.issuer, e.serial,
               e.not_before, e.not_after, e.key_algorithm, e.key_bits, e.key_curve, e.signature_algorithm, e.sans,
               e.self_signed, e.is_ca, e.key_ciphertext IS NOT NULL AS has_key, e.status, e.needs_rotation,
               e.rotation_reason, e.issuer_entry_id, e.created_at, p.handle AS created_by_handle
        FROM entries e JOIN people p ON p.id = e.created_by
        """

    static func decodeList(_ text: String?) -> [String] {
        guard let text, let data = text.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([String].self, from: data)) ?? []
    }

    static func encodeList(_ list: [String]) -> String {
        (try? String(decoding: JSONEncoder().encode(list), as: UTF8.self)) ?? "[]"
    }
}
