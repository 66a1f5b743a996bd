internal import COpenSSL
internal import CertVaultNative
import Foundation

/// What a certificate file holds and how it is protected, read without a
/// vault: the answer to "will this file work there?".
///
/// ``inspect(data:label:password:limits:now:)`` reads the structure first
/// (algorithms, iterations, MAC and salts, which need no password), then
/// opens the contents with the password if it can (keys, certificates,
/// friendly names, localKeyIDs, chain order). A file whose contents cannot
/// be opened is still described as far as its structure goes, and says why.
public struct FileInspection: Sendable, Codable {
    /// A certificate in the file, in file order.
    public struct Cert: Sendable, Codable {
        /// Subject, issuer, thumbprint, validity and key of the certificate.
        public var metadata: CertificateMetadata
        /// The bag's friendlyName (PKCS#12 only).
        public var friendlyName: String?
        /// The bag's localKeyID, lower-case hex (PKCS#12 only).
        public var localKeyID: String?
        /// Whether a private key in the file belongs to this certificate.
        public var matchesKey: Bool
    }

    /// A private key in the file.
    public struct Key: Sendable, Codable {
        /// `RSA`, `EC`, `Ed25519`, …
        public var algorithm: String
        /// Key size in bits.
        public var bits: Int
        /// The curve of an EC key.
        public var curve: String?
        /// The bag's friendlyName (PKCS#12 only).
        public var friendlyName: String?
        /// The bag's localKeyID, lower-case hex (PKCS#12 only).
        public var localKeyID: String?
        /// Whether the key is encrypted in the file (a shrouded bag, an encrypted PEM).
        public var encrypted: Bool
        /// Index into ``FileInspection/certificates`` of the certificate it belongs to.
        public var certificate: Int?
    }

    /// Which password opened the file.
    public enum PasswordUse: String, Sendable, Codable {
        /// Nothing in the file is encrypted.
        case notNeeded = "not-needed"
        /// The NULL password (no password at all, in PKCS#12's terms).
        case none
        /// The empty password.
        case empty
        /// The password given.
        case given
        /// The contents were not opened.
        case notOpened = "not-opened"
    }

    /// How the certificates are ordered.
    public struct ChainOrder: Sendable, Codable {
        /// Whether the first certificate is the one the key belongs to; nil
        /// without a key or certificates.
        public var leafFirst: Bool?
        /// Whether each certificate after the first issued the one before it.
        public var issuerOrder: Bool
        /// The issuer the chain from the key's certificate needs next and the
        /// file does not hold; nil when the chain ends at a self-signed root.
        public var missingIssuer: String?
        /// Whether the issuers lead round in a circle and never reach a root.
        public var loops = false
    }

    /// The file's name, or the caller's label.
    public var file: String
    /// `PKCS#12`, `PEM`, `DER certificate`, `PKCS#7`, `encrypted PKCS#8`, …
    public var format: String
    /// Size in bytes.
    public var size: Int
    /// The structure of a PKCS#12 file; nil for other formats.
    public var pkcs12: PKCS12Layout?
    /// The labels of a PEM file's blocks, in order.
    public var pemBlocks: [String]?
    /// How an encrypted PKCS#8 key outside PKCS#12 is encrypted.
    public var keyEncryption: PasswordEncryption?
    /// Which password opened the contents.
    public var password: PasswordUse
    /// Why the contents could not be opened; nil when they were.
    public var notOpened: String?
    /// Whether they could not be opened for want of the right password (as
    /// opposed to damage, or an algorithm nothing here reads).
    public var needsPassword = false
    /// Whether they could not be opened because the file is damaged: a part
    /// that is not encrypted cannot be read, or the MAC does not match
    /// contents that decrypt.
    public var damaged = false
    /// The certificates in file order.
    public var certificates: [Cert]
    /// The private keys.
    public var keys: [Key]
    /// How the certificates are ordered.
    public var chain: ChainOrder
    /// Will the file work there? One verdict per target, in
    /// the order of `ExportTarget.allCases`.
    public var verdicts: [TargetVerdict] = []

    /// Whether the contents were opened.
    public var opened: Bool { notOpened == nil }

    /// Inspects bytes: structure first, then contents if `password` (or
    /// none, or the empty one) opens them. Only a file that is not
    /// certificate material at all, or that asks for more work than
    /// `limits`, throws.
    public static func inspect(
        data: Data,
        label: String,
        password: SecureBytes?,
        limits: ImportLimits = .standard,
        now: Date = Date()
    ) throws -> FileInspection {
        guard data.count <= Importer.maximumFileSize else {
            throw CertVaultError(
                .tooLarge,
                "\(label): \(data.count) bytes, over the \(Importer.maximumFileSize >> 20) MiB limit"
            )
        }
        do {
            try OpenSSL.ensure()
            var inspection = try read(data, label: label, password: password, limits: limits)
            inspection.verdicts = ExportTarget.allCases.map { $0.verdict(for: inspection, now: now) }
            return inspection
        } catch let error as CertVaultError {
            throw error.prefixed(label)
        }
    }

    /// Inspects a file; see ``inspect(data:label:password:limits:now:)``.
    public static func inspect(
        path: String,
        password: SecureBytes?,
        limits: ImportLimits = .standard,
        now: Date = Date()
    ) throws -> FileInspection {
        let data: Data
        do { data = try Importer.load(path) } catch let error as CertVaultError { throw error.prefixed(path) }
        return try inspect(
            data: data,
            label: URL(fileURLWithPath: path).lastPathComponent,
            password: password,
            limits: limits,
            now: now
        )
    }

    private static func read(
        _ data: Data,
        label: String,
        password: SecureBytes?,
        limits: ImportLimits
    ) throws -> FileInspection {
        var inspection = FileInspection(
            file: label,
            format: "",
            size: data.count,
            password: .notOpened,
            certificates: [],
            keys: [],
            chain: ChainOrder(issuerOrder: true)
        )
        if let p12 = OpenSSL.decode(data, { d2i_PKCS12(nil, $0, $1) }) {
            defer { PKCS12_free(p12) }
            inspection.format = "PKCS#12"
            let structure = PKCS12Layout.read(p12)
            try limits.check(structure)
            inspection.pkcs12 = structure
            if structure.safes.isEmpty || structure.safes.contains(where: { $0.encryption == nil && $0.bags == nil }) {
                inspection.notOpened = "a part of the file that is not encrypted cannot be read: it is damaged"
                inspection.damaged = true
                return inspection
            }
            let contents: PKCS12Contents
            do {
                guard let c = try PKCS12.parseIfPKCS12(data, password: password, limits: limits) else {
                    throw CertVaultError(.corrupt, "the PKCS#12 structure cannot be read")
                }
                contents = c
            } catch let error as CertVaultError where error.code != .workTooLarge {
                inspection.notOpened = error.message
                inspection.needsPassword = error.code == .wrongPassword
                inspection.damaged = error.code == .macFailure || error.code == .corrupt
                inspection.keys = structure.bags.filter { $0.kind == .key || $0.kind == .shroudedKey }.map {
                    Key(
                        algorithm: "unknown",
                        bits: 0,
                        friendlyName: $0.friendlyName,
                        localKeyID: $0.localKeyID,
                        encrypted: $0.kind == .shroudedKey
                    )
                }
                return inspection
            }
            let (use, candidate) = passwordUse(p12, decodedFrom: data, structure: structure, password: password)
            inspection.password = use
            inspection.pkcs12 = PKCS12Layout.read(p12, opening: candidate, certificates: true)
            inspection.describe(
                certificates: contents.certificates.map { ($0.certificate, $0.friendlyName, $0.localKeyID) },
                keys: contents.keys.map { ($0.key, $0.friendlyName, $0.localKeyID, $0.shrouded) }
            )
            return inspection
        }
        OpenSSL.drainErrors()
        let material: Material
        do {
            material = try MaterialReader.read(data, password: password, limits: limits)
        } catch let error as CertVaultError where error.code == .wrongPassword {
            inspection.format = MaterialReader.hasPEMBlock(data) ? "PEM" : "encrypted PKCS#8"
            inspection.notOpened = error.message
            inspection.needsPassword = true
            return inspection
        }
        inspection.format = material.format
        inspection.pemBlocks = material.format == "PEM" ? material.blocks : nil
        inspection.keyEncryption = material.keys.lazy.compactMap(\.encryption).first
        let anyEncrypted = material.keys.contains { $0.encrypted }
        inspection.password = anyEncrypted ? (password.map { $0.count > 0 ? .given : .empty } ?? .none) : .notNeeded
        inspection.describe(
            certificates: material.certificates.map { ($0.certificate, $0.friendlyName, nil) },
            keys: material.keys.map { ($0.key, $0.friendlyName, nil, $0.encrypted) }
        )
        return inspection
    }

    /// Which candidate password opens a PKCS#12 file that is known to open.
    private static func passwordUse(
        _ p12: OpaquePointer,
        decodedFrom data: Data,
        structure: PKCS12Layout,
        password: SecureBytes?
    ) -> (PasswordUse, PasswordCandidate?) {
        let encrypted = structure.safes.contains { $0.encryption != nil }
        let shrouded = structure.bags.contains { $0.kind == .shroudedKey }
        if let password, password.count > 0 { return (.given, .bytes(password)) }
        let empty = PasswordCandidate.bytes(SecureBytes(count: 0))
        guard structure.mac != nil || encrypted || shrouded else { return (.notNeeded, nil) }
        defer { OpenSSL.drainErrors() }
        if structure.mac != nil {
            if PKCS12.verifyMAC(p12, decodedFrom: data, password: empty) { return (.empty, empty) }
            return (.none, PasswordCandidate.none)
        }
        if PKCS12Layout.read(p12, opening: empty).safes.allSatisfy({ $0.encryption == nil || $0.bags != nil }) {
            return (.empty, empty)
        }
        return (.none, PasswordCandidate.none)
    }

    private mutating func describe(
        certificates certs: [(Certificate, String?, Data?)],
        keys keyList: [(PrivateKey, String?, Data?, Bool)]
    ) {
        var pairs: [Int: Int] = [:]  // key index -> certificate index
        for (k, key) in keyList.enumerated() {
            if let c = certs.firstIndex(where: { key.0.matches($0.0) }) { pairs[k] = c }
        }
        let matched = Set(pairs.values)
        // A certificate whose metadata cannot be read is left out; a key's
        // index then points at its certificate's place in what is kept.
        var kept: [Int: Int] = [:]  // index in certs -> index in certificates
        certificates = []
        for (i, c) in certs.enumerated() {
            guard let metadata = try? c.0.metadata() else { continue }
            kept[i] = certificates.count
            certificates.append(
                Cert(metadata: metadata, friendlyName: c.1, localKeyID: c.2?.hexLower, matchesKey: matched.contains(i))
            )
        }
        keys = keyList.enumerated().map { k, key in
            let a = key.0.algorithm
            return Key(
                algorithm: a.name,
                bits: a.bits,
                curve: a.curve,
                friendlyName: key.1,
                localKeyID: key.2?.hexLower,
                encrypted: key.3,
                certificate: pairs[k].flatMap { kept[$0] }
            )
        }
        OpenSSL.drainErrors()
        chain = ChainOrder(
            leafFirst: keys.isEmpty || certs.isEmpty ? nil : matched.contains(0),
            issuerOrder: zip(certs, certs.dropFirst()).allSatisfy { $0.0.isIssued(by: $1.0) },
            missingIssuer: Self.missingIssuer(certs.map(\.0)),
            loops: Self.loops(certs.map(\.0))
        )
    }

    /// The issuer the chain from the leaf needs and the file lacks; nil if
    /// the chain ends at a self-signed root.
    /// Whether following issuers from the leaf comes back round without a root.
    private static func loops(_ certs: [Certificate]) -> Bool {
        defer { OpenSSL.drainErrors() }
        guard var current = certs.first(where: { !$0.isCA }) ?? certs.first else { return false }
        for _ in 0...certs.count {
            if current.isIssued(by: current) { return false }
            guard let issuer = certs.first(where: { current.isIssued(by: $0) }) else { return false }
            current = issuer
        }
        return true
    }

    private static func missingIssuer(_ certs: [Certificate]) -> String? {
        defer { OpenSSL.drainErrors() }
        guard var current = certs.first(where: { !$0.isCA }) ?? certs.first else { return nil }
        var seen = 0
        while seen <= certs.count {
            if current.isIssued(by: current) { return nil }
            guard let issuer = certs.first(where: { current.isIssued(by: $0) }) else {
                return (try? current.metadata().issuer) ?? "?"
            }
            current = issuer
            seen += 1
        }
        return nil
    }
}
