import Foundation
import GRDB

/// What `export` writes.
public enum ExportFormat: String, CaseIterable, Sendable, Codable {
    /// PKCS#12 with key, certificate, chain and friendly name, password-protected.
    case pfx
    /// The certificate alone, DER: what Azure takes for a management certificate.
    case cer
    /// The certificate alone, PEM.
    case pem
    /// The certificate and its issuers, PEM, leaf first.
    case chain
    /// The private key as PKCS#8 PEM, encrypted unless asked otherwise.
    case key
    /// The PKCS#10 request of a pending entry, PEM.
    case csr
    /// The private key as PKCS#8 PEM followed by the certificate and its
    /// issuers, leaf first: one PEM file with everything (Azure Key Vault's
    /// PEM import, nginx, HAProxy). Encrypted unless asked otherwise.
    case bundle

    /// Whether the format carries the private key (and so needs a passphrase
    /// and leaves an audit record).
    public var carriesPrivateKey: Bool { self == .pfx || self == .key || self == .bundle }
}

/// Iterations of PBKDF2-HMAC-SHA256 for an exported encrypted PKCS#8 key.
public let keyExportIterations: Int32 = 600_000

/// Where an export goes.
public enum ExportDestination: Sendable {
    /// A file, written atomically with mode 0600; an existing file is
    /// replaced only with `force`. For a private key the file appears
    /// together with the audit record's commit.
    case file(String, force: Bool = false)
    /// Bytes handed back in ``ExportResult/bytes`` (or, for an unencrypted
    /// key, ``ExportResult/secretBytes``), for a service that keeps them
    /// itself; `label` is what the audit record names instead of a file.
    case memory(label: String)

    /// What the audit record and the result name: the file's name, or the label.
    var label: String {
        switch self {
        case .file(let path, _): return URL(fileURLWithPath: path).lastPathComponent
        case .memory(let label): return label
        }
    }

    var path: String? {
        if case .file(let path, _) = self { return path }
        return nil
    }
}

/// What an export wrote or returned.
public struct ExportResult: Sendable, Codable {
    /// The file written; nil for an export to memory.
    public var path: String?
    /// What the audit record names: the file's name, or the caller's label.
    public var label: String
    /// The alias of the entry exported.
    public var alias: String
    /// The format written.
    public var format: ExportFormat
    /// The handle of the person a private key was exported for; nil for public material.
    public var recipient: String?
    /// SHA-256 of the bytes exported, lower-case hex (also in the audit record).
    public var fileSHA256: String
    /// The SHA-1 thumbprint of the entry's certificate, 40 upper-case hex
    /// digits; nil for a request, or when the entry has no certificate.
    public var thumbprintSHA1: String?
    /// The age recipients the file was encrypted to; empty when it was
    /// written as the format itself.
    public var ageRecipients: [AgeRecipient] = []
    /// The bytes, for an export to memory (encrypted or public).
    public var bytes: Data?
    /// The bytes of an unencrypted key exported to memory, in zeroing memory.
    public var secretBytes: SecureBytes?

    /// A result from its fields, for tests and for callers that build their own.
    public init(
        path: String? = nil,
        label: String,
        alias: String,
        format: ExportFormat,
        recipient: String? = nil,
        fileSHA256: String,
        thumbprintSHA1: String? = nil,
        bytes: Data? = nil,
        secretBytes: SecureBytes? = nil
    ) {
        self.path = path
        self.label = label
        self.alias = alias
        self.format = format
        self.recipient = recipient
        self.fileSHA256 = fileSHA256
        self.thumbprintSHA1 = thumbprintSHA1
        self.bytes = bytes
        self.secretBytes = secretBytes
    }

    enum CodingKeys: String, CodingKey {
        case path, label, alias, format, recipient, fileSHA256, thumbprintSHA1, ageRecipients
    }
}

extension Vault {
    /// Writes public material: the certificate (`cer`, `pem`), the chain
    /// (`chain`) or a pending entry's request (`csr`). No passphrase, no
    /// audit record: nothing secret leaves.
    public func exportPublic(
        _ ref: EntryReference,
        format: ExportFormat,
        to destination: ExportDestination
    ) throws -> ExportResult {
        guard !format.carriesPrivateKey else {
            throw CertVaultError(
                .invalidArgument,
                "\(format.rawValue) carries the private key: export it through an unlocked session"
            )
        }
        let (entry, bytes, leaf) = try checkedRead { db, state -> (Entry, Data, Data?) in
            let entry = try Self.entry(ref, in: db, state: state)
            if format == .csr {
                guard let row = try db.row("SELECT csr_der FROM entries WHERE id = ?", [entry.id.rawValue]),
                    let csr = try Columns(row, "entry \(entry.id)").optionalBlob("csr_der")
                else {
                    throw CertVaultError(
                        .invalidArgument,
                        "entry \(entry.alias) has no certificate request",
                        remedy: .makeRequest
                    )
                }
                return (entry, try CertificateRequest(derEncoded: csr).pemEncoded, nil)
            }
            let ders = try Self.chainDER(entryID: entry.id.rawValue, in: db)
            guard let leaf = ders.first else {
                throw CertVaultError(
                    .invalidArgument,
                    "entry \(entry.alias) has no certificate yet",
                    hint: entry.status == .pending
                        ? "import the certificate the CA issued; its request can be exported meanwhile" : nil
                )
            }
            switch format {
            case .cer: return (entry, leaf, leaf)
            case .pem: return (entry, try Certificate(derEncoded: leaf).pemEncoded, leaf)
            default:
                return (
                    entry, try ders.reduce(into: Data()) { $0.append(try Certificate(derEncoded: $1).pemEncoded) }, leaf
                )
            }
        }
        if case .file(let path, let force) = destination {
            try SecureFile.write(bytes, to: path, force: force)
        }
        // The thumbprint of the certificate actually written, not a column.
        return ExportResult(
            path: destination.path,
            label: destination.label,
            alias: entry.alias,
            format: format,
            recipient: nil,
            fileSHA256: Digest.sha256(bytes).hexLower,
            thumbprintSHA1: try leaf.map { try Certificate(derEncoded: $0).metadata().thumbprintSHA1 },
            bytes: destination.path == nil ? bytes : nil
        )
    }

    /// Writes public material to a file; see ``exportPublic(_:format:to:)``.
    public func exportPublic(
        _ ref: EntryReference,
        format: ExportFormat,
        to path: String,
        force: Bool = false
    ) throws -> ExportResult {
        try exportPublic(ref, format: format, to: .file(path, force: force))
    }

    /// Writes an entry's certificate as `.cer` (DER).
    public func exportCertificate(_ ref: EntryReference, to path: String, force: Bool = false) throws -> ExportResult {
        try exportPublic(ref, format: .cer, to: .file(path, force: force))
    }
}

extension Session {
    /// Exports an entry with its private key as a `.pfx` for `recipient`.
    ///
    /// Before the key leaves, the entry is checked against its latest signed
    /// record and the signer's path to the genesis; the decrypted key must
    /// match the certificate. A file is written atomically with mode 0600
    /// and appears together with the audit record's commit; bytes to memory
    /// are returned in ``ExportResult/bytes``. The record names the
    /// recipient, the file's name or the caller's label, and the SHA-256 of
    /// the bytes.
    /// - Parameters:
    ///   - ref: the entry.
    ///   - destination: a file, or memory under a label for the record.
    ///   - password: the file's password; must not be empty.
    ///   - profile: how the file is protected: `.modern` (AES-256, PBKDF2)
    ///     or `.legacy` (3DES, for older Windows and Azure App Service).
    ///   - recipient: handle of the person the file is for (default: this person).
    ///   - ageRecipients: when not empty, what is written is the `.pfx`
    ///     encrypted in the age format to these X25519 keys (the `.pfx`
    ///     inside keeps its password); the record names them, and the
    ///     SHA-256 is of the age file.
    public func exportPFX(
        _ ref: EntryReference,
        to destination: ExportDestination,
        password: SecureBytes,
        profile: ExportProfile = .modern,
        recipient: String? = nil,
        ageRecipients: [AgeRecipient] = []
    ) throws -> ExportResult {
        try exportPFX(
            ref,
            to: destination,
            password: password,
            profile: profile,
            recipient: recipient,
            ageRecipients: ageRecipients,
            cancellation: nil
        )
    }

    /// ``exportPFX(_:to:password:profile:recipient:ageRecipients:)-4cnhc`` off the caller's
    /// thread. Cancelling the task before the record commits stops it with
    /// `CancellationError`: no record, no file.
    public func exportPFX(
        _ ref: EntryReference,
        to destination: ExportDestination,
        password: SecureBytes,
        profile: ExportProfile = .modern,
        recipient: String? = nil,
        ageRecipients: [AgeRecipient] = []
    ) async throws -> ExportResult {
        try await Cancellation.run {
            try self.exportPFX(
                ref,
                to: destination,
                password: password,
                profile: profile,
                recipient: recipient,
                ageRecipients: ageRecipients,
                cancellation: $0
            )
        }
    }

    /// A `.pfx` exported to memory, as bytes (never nil): the
    /// `entry.export` record names `label` where a file name would stand.
    /// Off the caller's thread, like the other async form.
    ///
    /// - Parameters:
    ///   - ref: the entry.
    ///   - label: what names the bytes in the record (a ticket, a request id).
    ///   - password: the file's password; must not be empty.
    ///   - profile: `.modern` (AES-256, PBKDF2) or `.legacy` (3DES).
    ///   - recipient: handle of the person the file is for (default: this person).
    /// - Returns: the encrypted `.pfx`, safe in ordinary memory.
    public func exportPFX(
        _ ref: EntryReference,
        label: String,
        password: SecureBytes,
        profile: ExportProfile = .modern,
        recipient: String? = nil
    ) async throws -> Data {
        let result = try await exportPFX(
            ref,
            to: .memory(label: label),
            password: password,
            profile: profile,
            recipient: recipient
        )
        guard let bytes = result.bytes else {
            throw CertVaultError(.crypto, "the export to memory returned no bytes")
        }
        return bytes
    }

    func exportPFX(
        _ ref: EntryReference,
        to destination: ExportDestination,
        password: SecureBytes,
        profile: ExportProfile,
        recipient: String?,
        ageRecipients: [AgeRecipient],
        cancellation: Cancellation?
    ) throws -> ExportResult {
        try denying(ref, attempt: "export pfx") { try requireRole([.admin, .officer], to: "export private keys") }
        guard password.count > 0 else {
            throw CertVaultError(
                .invalidArgument,
                "a .pfx needs a password",
                remedy: .exportPassword
            )
        }
        try refusePassphrase(asPassword: password)
        return try exportSecret(
            ref,
            to: destination,
            recipient: recipient,
            details: [.format: .text("pfx"), .profile: .text(profile.rawValue)],
            format: .pfx,
            ageRecipients: ageRecipients,
            cancellation: cancellation
        ) { db, entry, key in
            let ders = try Vault.chainDER(entryID: entry.id.rawValue, in: db)
            guard let leafDER = ders.first else {
                throw CertVaultError(
                    .invalidArgument,
                    "entry \(entry.alias) has no certificate yet",
                    hint: "import the issued certificate first"
                )
            }
            let leaf = try Certificate(derEncoded: leafDER)
            let chain = try ders.dropFirst().map { try Certificate(derEncoded: $0) }
            return .public(
                try PKCS12.create(
                    key: key,
                    certificate: leaf,
                    chain: chain,
                    friendlyName: entry.alias,
                    password: password,
                    profile: profile
                )
            )
        }
    }

    /// Exports a `.pfx` to a file; see ``exportPFX(_:to:password:profile:recipient:ageRecipients:)-4cnhc``.
    public func exportPFX(
        _ ref: EntryReference,
        to path: String,
        password: SecureBytes,
        profile: ExportProfile = .modern,
        recipient: String? = nil,
        force: Bool = false
    ) throws -> ExportResult {
        try exportPFX(ref, to: .file(path, force: force), password: password, profile: profile, recipient: recipient)
    }

    /// Exports an entry's private key as PKCS#8 PEM for `recipient`.
    ///
    /// Encrypted with AES-256-CBC under PBES2 / PBKDF2-HMAC-SHA256 with
    /// ``keyExportIterations`` iterations, unless `password` is nil and
    /// `unencrypted` is true: then the key is written in the clear, and the
    /// audit record says so.
    public func exportKey(
        _ ref: EntryReference,
        to destination: ExportDestination,
        password: SecureBytes?,
        unencrypted: Bool = false,
        recipient: String? = nil,
        ageRecipients: [AgeRecipient] = []
    ) throws -> ExportResult {
        try exportKeyPEM(
            ref,
            to: destination,
            password: password,
            unencrypted: unencrypted,
            recipient: recipient,
            ageRecipients: ageRecipients,
            withChain: false
        )
    }

    /// Exports an entry's private key and its chain as one PEM file for
    /// `recipient`: the PKCS#8 key (encrypted as by
    /// ``exportKey(_:to:password:unencrypted:recipient:ageRecipients:)``, or in the clear
    /// when `unencrypted`), then the certificate and its issuers, leaf first.
    public func exportBundle(
        _ ref: EntryReference,
        to destination: ExportDestination,
        password: SecureBytes?,
        unencrypted: Bool = false,
        recipient: String? = nil,
        ageRecipients: [AgeRecipient] = []
    ) throws -> ExportResult {
        try exportKeyPEM(
            ref,
            to: destination,
            password: password,
            unencrypted: unencrypted,
            recipient: recipient,
            ageRecipients: ageRecipients,
            withChain: true
        )
    }

    private func exportKeyPEM(
        _ ref: EntryReference,
        to destination: ExportDestination,
        password: SecureBytes?,
        unencrypted: Bool,
        recipient: String?,
        ageRecipients: [AgeRecipient],
        withChain: Bool
    ) throws -> ExportResult {
        let format: ExportFormat = withChain ? .bundle : .key
        try denying(ref, attempt: "export \(format.rawValue)") {
            try requireRole([.admin, .officer], to: "export private keys")
        }
        if unencrypted {
            guard password == nil else {
                throw CertVaultError(.invalidArgument, "an unencrypted key and a password exclude each other")
            }
        } else {
            guard let password, password.count > 0 else {
                throw CertVaultError(
                    .invalidArgument,
                    "an exported key needs a password",
                    remedy: .exportPasswordOrUnencrypted
                )
            }
        }
        try refusePassphrase(asPassword: password)
        return try exportSecret(
            ref,
            to: destination,
            recipient: recipient,
            details: [
                .format: .text(format.rawValue), .encrypted: .bool(!unencrypted),
                .kdf: .text(unencrypted ? "none" : "pbkdf2-hmac-sha256/\(keyExportIterations)"),
            ],
            format: format,
            ageRecipients: ageRecipients
        ) { db, entry, key in
            var chain = Data()
            if withChain {
                let ders = try Vault.chainDER(entryID: entry.id.rawValue, in: db)
                guard !ders.isEmpty else {
                    throw CertVaultError(
                        .invalidArgument,
                        "entry \(entry.alias) has no certificate yet",
                        hint: "import the issued certificate first"
                    )
                }
                for der in ders { chain.append(try Certificate(derEncoded: der).pemEncoded) }
            }
            if let password {
                var bytes = try key.encryptedPKCS8PEM(password: password, iterations: keyExportIterations)
                bytes.append(chain)
                return .public(bytes)
            }
            return .secret(try key.pkcs8PEM().appending(chain))
        }
    }

    /// Exports a key to a file; see ``exportKey(_:to:password:unencrypted:recipient:ageRecipients:)``.
    public func exportKey(
        _ ref: EntryReference,
        to path: String,
        password: SecureBytes?,
        unencrypted: Bool = false,
        recipient: String? = nil,
        force: Bool = false
    ) throws -> ExportResult {
        try exportKey(
            ref,
            to: .file(path, force: force),
            password: password,
            unencrypted: unencrypted,
            recipient: recipient
        )
    }

    enum ExportBytes {
        /// Bytes that are safe in ordinary memory (encrypted or public).
        case `public`(Data)
        /// Bytes that are themselves a secret (an unencrypted key).
        case secret(SecureBytes)
    }

    /// The one path by which a private key leaves the vault: role and
    /// recipient checks, the signed-record check (design rule 3), decryption
    /// and key/certificate match, an atomic 0600 file, and an audit record
    /// naming the recipient and the file's SHA-256, committed with the file.
    ///
    /// With audit sinks (``AuditSink``), every sink first holds every record
    /// so far, and the file is linked (or the bytes returned) only once the
    /// export's own record is in every sink; when the vault's policy
    /// requires a sink, a machine that names none releases nothing.
    private func exportSecret(
        _ ref: EntryReference,
        to destination: ExportDestination,
        recipient: String?,
        details: AuditDetails,
        format: ExportFormat,
        ageRecipients: [AgeRecipient] = [],
        cancellation: Cancellation? = nil,
        encode: (Database, Entry, PrivateKey) throws -> ExportBytes
    ) throws -> ExportResult {
        var pending: SecureFile.Pending?
        do {
            // No key leaves while a sink lacks a record: what it lacks goes first.
            let sinks = try vault.auditSinks()
            if !sinks.isEmpty {
                do { try vault.sendToSinks() } catch let error as CertVaultError where error.code != .rollback {
                    throw CertVaultError(
                        .auditSink,
                        "\(error.message); no key is released while an audit sink lacks a record",
                        remedy: .syncSinks
                    )
                }
            }
            return try denying(ref, attempt: "export \(format.rawValue)") {
                try change { c in
                    try exportSecret(
                        c,
                        ref,
                        to: destination,
                        recipient: recipient,
                        details: details,
                        format: format,
                        ageRecipients: ageRecipients,
                        cancellation: cancellation,
                        sinks: sinks,
                        pending: &pending,
                        encode: encode
                    )
                }
            }
        } catch {
            pending?.discard()
            throw error
        }
    }

    private func exportSecret(
        _ c: Change,
        _ ref: EntryReference,
        to destination: ExportDestination,
        recipient: String?,
        details: AuditDetails,
        format: ExportFormat,
        ageRecipients: [AgeRecipient],
        cancellation: Cancellation?,
        sinks: [AuditSink],
        pending: inout SecureFile.Pending?,
        encode: (Database, Entry, PrivateKey) throws -> ExportBytes
    ) throws -> ExportResult {
        let db = c.db
        if sinks.isEmpty, try Vault.policy(db, state: c.state).settings.requireSink {
            throw CertVaultError(
                .auditSink,
                "the vault's policy requires an audit sink, and this machine names none for it: no key is released",
                remedy: .addSink
            )
        }
        let entry = try Vault.entry(ref, in: db, state: c.state)
        let to = try Vault.trustedPerson(recipient ?? person.handle, ledger: c.state.ledger, in: db)
        guard to.active else {
            throw CertVaultError(.personInactive, "\(to.handle) has departed; nothing may be exported for them")
        }
        try Self.requireUsable(entry, to: "export")
        let key = try custody.privateKey(db, entryID: entry.id.rawValue, alias: entry.alias)
        var bytes = try encode(db, entry, key)
        // Handed to public keys: the age file is what is written, hashed and returned.
        if !ageRecipients.isEmpty {
            switch bytes {
            case .public(let data): bytes = .public(try data.withUnsafeBytes { try Age.encrypt($0, to: ageRecipients) })
            case .secret(let secret):
                bytes = .public(try secret.withUnsafeBytes { try Age.encrypt($0, to: ageRecipients) })
            }
        }
        // The last point at which a cancelled task leaves no trace.
        try cancellation?.check()
        let digest: String
        switch bytes {
        case .public(let data): digest = Digest.sha256(data).hexLower
        case .secret(let secret): digest = secret.withUnsafeBytes { Digest.sha256($0) }.hexLower
        }
        var file: SecureFile.Pending?
        if case .file(let path, let force) = destination {
            switch bytes {
            case .public(let data): file = try SecureFile.prepare(data, to: path, force: force)
            case .secret(let secret):
                file = try secret.withUnsafeBytes { try SecureFile.prepare($0, to: path, force: force) }
            }
            pending = file
        }
        // The certificate the file carries (checked against the key above), not a column.
        let thumbprint = try Vault.certificateDER(entryID: entry.id.rawValue, in: db).map {
            try Certificate(derEncoded: $0).metadata().thumbprintSHA1
        }
        var all = details
        all[.recipient] = .text(to.handle)
        all[.fileSHA256] = .text(digest)
        if !ageRecipients.isEmpty { all[.ageRecipients] = .texts(ageRecipients.map(\.description)) }
        all[destination.path == nil ? .label : .file] = .text(destination.label)
        let seq = c.record(.entryExport, entry: entry.id.rawValue, person: to.id, details: all)
        try custody.note(c, .export, entryID: entry.id.rawValue, personID: to.id, seq: seq)
        // Once committed: the key leaves only if the record is in every sink and witnessed.
        let entryID = entry.id.rawValue
        let label = destination.label
        c.whenCommitted { [self] failure in
            do {
                // A sink or the witness that did not take the record: the key stays.
                if let failure { throw failure }
                try file?.commit()
            } catch let error as CertVaultError {
                // The record says the key left; say it did not, signed as well.
                let noted = try? change(quietWitness: true) { c in
                    c.record(
                        .entryExportUnwritten,
                        entry: entryID,
                        person: to.id,
                        details: [.exportSeq: .integer(seq), .file: .text(label), .reason: .text(error.message)]
                    )
                }
                throw CertVaultError(
                    error.code,
                    "\(error.message); \(file == nil ? "the key was not handed over" : "no file was written")"
                        + (noted.map { ", and record \($0) says so" } ?? ", but that could not be recorded"),
                    hint: error.hint,
                    remedy: error.remedy
                )
            }
        }
        var result = ExportResult(
            path: destination.path,
            label: destination.label,
            alias: entry.alias,
            format: format,
            recipient: to.handle,
            fileSHA256: digest,
            thumbprintSHA1: thumbprint
        )
        result.ageRecipients = ageRecipients
        if destination.path == nil {
            switch bytes {
            case .public(let data): result.bytes = data
            case .secret(let secret): result.secretBytes = secret
            }
        }
        return result
    }
}
