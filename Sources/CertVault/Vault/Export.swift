import Foundation
import GRDB

/// What `export` writes.
public enum ExportFormat: String, CaseIterable, Sendable, Codable {
    /// PKCS#12 with key, certificate, chain and friendly name, password-protected.
    case pfx
    /// The certificate alone, DER: what Azure takes for a management certificate.
    case cer
}

/// What an export wrote.
public struct ExportResult: Sendable, Codable {
    public var path: String
    public var alias: String
    public var format: ExportFormat
    public var recipient: String?
    /// SHA-256 of the file written, lower-case hex (also in the audit record).
    public var fileSHA256: String
    public var thumbprintSHA1: String?
}

/// A strong random password for an exported file.
public enum GeneratedPassword {
    /// 24 characters from a 56-character alphabet without look-alikes
    /// (about 139 bits), in secure storage.
    public static func make() -> SecureBytes {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789".utf8)
        let out = SecureBytes(count: 24)
        let random = SecureBytes(randomCount: 24 * 4)
        out.withUnsafeMutableBytes { dst in
            random.withUnsafeBytes { r in
                for i in 0..<24 {
                    // Rejection-free with negligible bias: 32 random bits per character.
                    let v = UInt32(r[4 * i]) << 24 | UInt32(r[4 * i + 1]) << 16 | UInt32(r[4 * i + 2]) << 8 | UInt32(r[4 * i + 3])
                    dst[i] = alphabet[Int((UInt64(v) * UInt64(alphabet.count)) >> 32)]
                }
            }
        }
        return out
    }
}

extension Vault {
    /// Writes an entry's certificate as `.cer` (DER). Public data: no
    /// passphrase, no audit record.
    public func exportCertificate(_ ref: String, to path: String, force: Bool = false) throws -> ExportResult {
        let (entry, der) = try store.read { db -> (Entry, Data?) in
            let entry = try Self.entry(ref, in: db)
            return (entry, try Data.fetchOne(db, sql: "SELECT cert_der FROM entries WHERE id = ?", arguments: [entry.id]))
        }
        guard let der else {
            throw CertVaultError(.invalidArgument, "entry \(entry.alias) has no certificate yet")
        }
        try SecureFile.write(der, to: path, force: force)
        return ExportResult(path: path, alias: entry.alias, format: .cer, recipient: nil,
                            fileSHA256: Digest.sha256(der).hexLower, thumbprintSHA1: entry.certificate?.thumbprintSHA1)
    }
}

extension Session {
    /// Exports an entry with its private key as a `.pfx` for `recipient`.
    ///
    /// Before the key leaves, the entry is checked against its latest signed
    /// record and the signer's path to the genesis; the decrypted key must
    /// match the certificate. The file is written atomically with mode 0600;
    /// the audit record names the recipient and the file's SHA-256, and
    /// commits together with the file appearing.
    /// - Parameters:
    ///   - recipient: handle of the person the file is for (default: this person).
    ///   - password: the file's password; must not be empty.
    public func exportPFX(_ ref: String, to path: String, password: SecureBytes, profile: ExportProfile = .modern,
                          recipient: String? = nil, force: Bool = false) throws -> ExportResult {
        try requireRole([.admin, .officer], to: "export private keys")
        guard password.count > 0 else {
            throw CertVaultError(.invalidArgument, "a .pfx needs a password", hint: "use --generate-password, or give one with --password-file")
        }
        let store = vault.store
        let (entry, to, bytes) = try store.read { db -> (Entry, Person, Data) in
            let entry = try Vault.entry(ref, in: db)
            let to = try Vault.person(recipient ?? person.handle, in: db)
            guard to.status == "active" else {
                throw CertVaultError(.personInactive, "\(to.handle) has departed; nothing may be exported for them")
            }
            guard entry.hasPrivateKey else {
                throw CertVaultError(.invalidArgument, "entry \(entry.alias) holds no private key", hint: "export its certificate with --format cer")
            }
            try AuditVerifier(db: db, vaultID: vault.vaultID).verifyEntryPath(entryID: entry.id, alias: entry.alias)
            let key = try privateKey(db, entryID: entry.id, alias: entry.alias)
            let ders = try Vault.chainDER(entryID: entry.id, in: db)
            guard let leafDER = ders.first else {
                throw CertVaultError(.invalidArgument, "entry \(entry.alias) has no certificate yet", hint: "import the issued certificate first")
            }
            let leaf = try Certificate(derEncoded: leafDER)
            let chain = try ders.dropFirst().map { try Certificate(derEncoded: $0) }
            let bytes = try PKCS12.create(key: key, certificate: leaf, chain: chain, friendlyName: entry.alias,
                                          password: password, profile: profile)
            return (entry, to, bytes)
        }
        let pending = try SecureFile.prepare(bytes, to: path, force: force)
        let digest = Digest.sha256(bytes).hexLower
        do {
            try store.write { db in
                let head = try record(db, "entry.export", entry: entry.id, person: to.id, details: [
                    "format": "pfx", "profile": profile.rawValue, "recipient": to.handle,
                    "file_sha256": digest, "file": URL(fileURLWithPath: path).lastPathComponent,
                ])
                try addCustody(db, entryID: entry.id, personID: to.id, kind: "export", seq: head.seq)
                try pending.commit()
            }
        } catch {
            pending.discard()
            throw error
        }
        return ExportResult(path: path, alias: entry.alias, format: .pfx, recipient: to.handle, fileSHA256: digest,
                            thumbprintSHA1: entry.certificate?.thumbprintSHA1)
    }

    /// Makes a consistent copy of the vault with SQLite's online backup API,
    /// opens the copy and verifies its audit chain, then moves it into place
    /// and records the backup.
    /// - Returns: the copy's audit head.
    public func backup(to path: String, force: Bool = false) throws -> AuditHead {
        if !force, FileManager.default.fileExists(atPath: path) { throw SecureFile.exists(path) }
        let temporary = try SecureFile.makeTemporary(beside: path)
        var moved = false
        defer { if !moved { Store.removeFiles(temporary) } }
        do {
            let copy = try DatabaseQueue(path: temporary)
            try vault.store.queue.backup(to: copy)
            try copy.close()
        } catch {
            throw Store.map(error, path: temporary)
        }
        let verification = try Vault.open(at: temporary).verify()
        guard verification.isValid, let head = verification.head else {
            throw CertVaultError(.verificationFailed, "the backup copy does not verify: \(verification.findings.first?.description ?? "empty log")")
        }
        let pending = SecureFile.Pending(temporaryPath: temporary, destination: path, force: force)
        try vault.store.write { db in
            try record(db, "vault.backup", details: ["file": URL(fileURLWithPath: path).lastPathComponent, "head": head.description])
            try pending.commit()
            moved = true
        }
        return head
    }
}
