import Foundation

/// Where a certificate with its key is going: what `inspect` judges a file
/// against and what `export --target` writes for.
///
/// What each target reads is data, here and nowhere else
/// (``TargetRequirements``); `inspect`'s verdicts and `export --target`'s
/// choice of format and profile both come from it.
public enum ExportTarget: String, CaseIterable, Sendable, Codable {
    /// Azure App Service (and Functions): a password-protected 3DES `.pfx`.
    case appService = "app-service"
    /// Azure Application Gateway and Azure Container Apps.
    case appGateway = "app-gateway"
    /// Azure Key Vault certificate import of a `.pfx`.
    case keyVault = "key-vault"
    /// Azure Key Vault certificate import of a PEM file.
    case keyVaultPEM = "key-vault-pem"
    /// Windows Server 2016, Windows 10 before 1709, and older.
    case windows2016 = "windows-2016"
    /// Windows Server 2019 and later, Windows 10 1709 and later.
    case windows2019 = "windows-2019"
    /// The macOS Keychain (Keychain Access, `security import`).
    case macOS = "macos"
    /// Java 8 (`keytool`, `KeyStore.getInstance("PKCS12")`) before 8u301.
    case java8
    /// Java 11.0.12 and later.
    case java11
    /// .NET's certificate loader (`X509CertificateLoader`, `X509Certificate2`).
    case dotnet
    /// OpenSSL 3 without the legacy provider.
    case openssl3

    /// What the target reads.
    public var requirements: TargetRequirements { TargetRequirements.table[self]! }
}

/// What one target reads, and what certvault writes for it.
public struct TargetRequirements: Sendable {
    /// How the target reads PEM files.
    public enum PEMSupport: Sendable {
        /// Not at all: it takes a `.pfx`.
        case none
        /// Certificates and an unencrypted PKCS#8 key.
        case unencryptedPKCS8
        /// Certificates and keys, encrypted or not.
        case any
    }

    /// The name people know it by.
    public var title: String
    /// Whether it reads PKCS#12 at all.
    public var readsPKCS12 = true
    /// The password-based encryptions it decrypts.
    public var encryptions: Set<PasswordEncryption.Family>
    /// The MAC digests it verifies (`SHA1`, `SHA256`, …).
    public var macDigests: Set<String>
    /// The most iterations it allows one key derivation; nil for no limit.
    public var maxIterations: Int64? = nil
    /// The most iterations it allows in all (MAC and every decryption).
    public var maxTotalIterations: Int64? = nil
    /// Whether it refuses a file that opens without a password.
    public var needsPassword = false
    /// Whether the file must hold the private key.
    public var needsKey = true
    /// Whether the certificate the key belongs to must come first.
    public var leafFirst = false
    /// Whether it pairs the key with its certificate by localKeyID.
    public var pairsByLocalKeyID = false
    /// The smallest RSA key it takes.
    public var minimumRSABits: Int? = nil
    /// How it reads PEM.
    public var pem: PEMSupport = .none
    /// What `export --target` writes for it: the format …
    public var exportFormat: ExportFormat = .pfx
    /// … and, for a `.pfx`, the profile.
    public var exportProfile: ExportProfile = .modern
    /// Where the rule comes from, for the reasons and the docs.
    public var basis: String

    static let legacyPBE: Set<PasswordEncryption.Family> = [
        .pkcs12TripleDES, .pkcs12TwoKeyTripleDES, .pkcs12RC2, .pkcs12RC4,
    ]
    static let modernMACs: Set<String> = ["SHA1", "SHA224", "SHA256", "SHA384", "SHA512"]

    static let table: [ExportTarget: TargetRequirements] = [
        .appService: TargetRequirements(
            title: "Azure App Service",
            encryptions: [.pkcs12TripleDES],
            macDigests: ["SHA1"],
            needsPassword: true,
            leafFirst: true,
            pairsByLocalKeyID: true,
            minimumRSABits: 2048,
            exportProfile: .legacy,
            basis:
                "App Service takes a password-protected .pfx encrypted with triple DES (TripleDES-SHA1), key of at least 2048 bits"
        ),
        .appGateway: TargetRequirements(
            title: "Azure Application Gateway / Container Apps",
            encryptions: [.pkcs12TripleDES, .pbes2AES],
            macDigests: ["SHA1", "SHA256"],
            needsPassword: true,
            basis: "Application Gateway and Container Apps take a password-protected .pfx, 3DES or AES-256"
        ),
        .keyVault: TargetRequirements(
            title: "Azure Key Vault import (.pfx)",
            encryptions: [.pkcs12TripleDES, .pkcs12RC2, .pbes2AES],
            macDigests: modernMACs,
            basis: "Key Vault imports a .pfx with its private key, 3DES or AES-256"
        ),
        .keyVaultPEM: TargetRequirements(
            title: "Azure Key Vault import (PEM)",
            readsPKCS12: false,
            encryptions: [],
            macDigests: [],
            pem: .unencryptedPKCS8,
            exportFormat: .bundle,
            basis: "Key Vault's PEM import takes the certificates and an unencrypted PKCS#8 key in one file"
        ),
        .windows2016: TargetRequirements(
            title: "Windows Server 2016 / Windows 10 before 1709",
            encryptions: legacyPBE,
            macDigests: ["SHA1"],
            needsKey: false,
            leafFirst: true,
            pairsByLocalKeyID: true,
            exportProfile: .legacy,
            basis: "Windows before 1709 reads PKCS#12's own algorithms (TripleDES-SHA1), not PBES2/AES"
        ),
        .windows2019: TargetRequirements(
            title: "Windows Server 2019+ / Windows 10 1709+",
            encryptions: legacyPBE.union([.pbes2AES, .pbes2TripleDES]),
            macDigests: modernMACs,
            needsKey: false,
            pairsByLocalKeyID: true,
            basis: "Windows 10 1709 and later read AES256-SHA256 as well as TripleDES-SHA1"
        ),
        .macOS: TargetRequirements(
            title: "macOS Keychain",
            encryptions: [.pkcs12TripleDES, .pkcs12RC2],
            macDigests: ["SHA1"],
            needsKey: false,
            exportProfile: .legacy,
            basis:
                "the Keychain reads PKCS#12's own 3DES and RC2 with a SHA-1 MAC; PBES2/AES (or a mix of 3DES and AES bags) fails as a 'wrong password'"
        ),
        .java8: TargetRequirements(
            title: "Java 8 (before 8u301)",
            encryptions: [.pkcs12TripleDES, .pkcs12RC2],
            macDigests: ["SHA1"],
            maxIterations: 5_000_000,
            needsKey: false,
            exportProfile: .legacy,
            basis: "Java before 8u301 and 11.0.12 reads 3DES and RC2 with a SHA-1 MAC, not PBES2"
        ),
        .java11: TargetRequirements(
            title: "Java 11.0.12+",
            encryptions: legacyPBE.union([.pbes2AES, .pbes2TripleDES]),
            macDigests: modernMACs,
            maxIterations: 5_000_000,
            needsKey: false,
            basis: "Java 11.0.12 and later read PBES2/AES and SHA-2 MACs, at most 5,000,000 iterations"
        ),
        .dotnet: TargetRequirements(
            title: ".NET",
            encryptions: [.pkcs12TripleDES, .pkcs12RC2, .pbes2AES, .pbes2TripleDES],
            macDigests: modernMACs,
            maxIterations: 300_000,
            maxTotalIterations: 1_000_000,
            needsKey: false,
            pem: .any,
            basis: ".NET's loader refuses a file asking more than 300,000 iterations per derivation or 1,000,000 in all"
        ),
        .openssl3: TargetRequirements(
            title: "OpenSSL 3",
            encryptions: [.pkcs12TripleDES, .pkcs12TwoKeyTripleDES, .pbes2AES, .pbes2TripleDES],
            macDigests: modernMACs,
            needsKey: false,
            pem: .any,
            basis: "OpenSSL 3 reads RC2, RC4 and single DES only with -legacy"
        ),
    ]
}

/// Whether a file will work at a target, and why not.
public struct TargetVerdict: Sendable, Codable, Equatable {
    /// The target.
    public var target: ExportTarget
    /// Its name.
    public var title: String
    /// Whether the target will take the file: no reasons against it.
    public var accepted: Bool { reasons.isEmpty }
    /// Why it will not, each a sentence a person can act on.
    public var reasons: [String]
    /// What is worth knowing but does not stop it.
    public var notes: [String]

    enum CodingKeys: String, CodingKey { case target, title, accepted, reasons, notes }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(target, forKey: .target)
        try c.encode(title, forKey: .title)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(notes, forKey: .notes)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        target = try c.decode(ExportTarget.self, forKey: .target)
        title = try c.decode(String.self, forKey: .title)
        reasons = try c.decode([String].self, forKey: .reasons)
        notes = try c.decode([String].self, forKey: .notes)
    }

    init(target: ExportTarget, title: String, reasons: [String], notes: [String]) {
        self.target = target
        self.title = title
        self.reasons = reasons
        self.notes = notes
    }
}

extension ExportTarget {
    /// Judges an inspected file against what this target reads.
    public func verdict(for file: FileInspection, now: Date = Date()) -> TargetVerdict {
        let r = requirements
        var reasons: [String] = []
        var notes: [String] = []
        let fix = "export it with --target \(rawValue)"
        if let layout = file.pkcs12 {
            if !r.readsPKCS12 {
                reasons.append("\(r.title) takes a PEM file, not a .pfx: \(fix)")
            } else {
                reasons += Self.encryptionReasons(layout, r, fix: fix)
                if let mac = layout.mac {
                    if !r.macDigests.contains(mac.digest) {
                        reasons.append(
                            "\(r.title) verifies only \(r.macDigests.sorted().joined(separator: "/")) MACs; this file's MAC is \(mac.digest): \(fix)"
                        )
                    }
                } else {
                    notes.append("the file has no MAC: nothing protects it against alteration")
                }
                reasons += Self.iterationReasons(layout, r)
                if r.needsPassword && (file.password == .none || file.password == .empty || file.password == .notNeeded)
                {
                    reasons.append("\(r.title) takes only a password-protected .pfx; this one opens without a password")
                }
                if r.pairsByLocalKeyID, file.opened, !file.keys.isEmpty {
                    let paired = file.keys.allSatisfy { key in
                        guard let id = key.localKeyID, let c = key.certificate else { return false }
                        return file.certificates[c].localKeyID == id
                    }
                    if !paired {
                        reasons.append(
                            "\(r.title) pairs a key with its certificate by their localKeyID, and the key's certificate does not carry the key's: \(fix)"
                        )
                    }
                }
            }
        } else if file.opened || file.format == "PEM" {
            switch (r.pem, file.format) {
            case (.none, _):
                reasons.append(
                    "\(r.title) takes a .pfx, not \(file.format == "PEM" ? "PEM" : "a \(file.format) file"): \(fix)"
                )
            case (.unencryptedPKCS8, "PEM"):
                if file.keys.contains(where: \.encrypted) || !file.opened {
                    reasons.append(
                        "\(r.title) takes the key unencrypted (BEGIN PRIVATE KEY); this one is encrypted: \(fix)"
                    )
                }
            case (.unencryptedPKCS8, _):
                reasons.append("\(r.title) takes a PEM file holding the certificates and the key: \(fix)")
            case (.any, _): break
            }
        }
        if !file.opened {
            if file.needsPassword {
                notes.append(
                    "the contents were not opened (\(file.notOpened ?? "")): keys, certificates and their order not checked"
                )
            } else {
                reasons.append("the file cannot be read: \(file.notOpened ?? "it is damaged")")
            }
            return TargetVerdict(target: self, title: r.title, reasons: reasons, notes: notes)
        }
        if r.needsKey && file.keys.isEmpty {
            reasons.append("the file holds no private key, and \(r.title) needs the key with the certificate")
        }
        if file.certificates.isEmpty {
            reasons.append("the file holds no certificate")
        }
        if let minimum = r.minimumRSABits {
            for key in file.keys where key.algorithm == "RSA" && key.bits < minimum {
                reasons.append("\(r.title) takes RSA keys of at least \(minimum) bits; this one has \(key.bits)")
            }
        }
        if file.chain.leafFirst == false {
            let first = file.certificates.first?.metadata.subject ?? "?"
            let text = "the first certificate is \(first), not the one the key belongs to"
            if r.leafFirst {
                reasons.append("\(r.title) takes the first certificate as the key's: \(text): \(fix)")
            } else {
                notes.append(text)
            }
        }
        if file.chain.loops {
            notes.append(
                "the certificates' issuers lead round in a circle and reach no root: no client can complete this chain"
            )
        }
        if let missing = file.chain.missingIssuer, r.needsKey {
            notes.append(
                "the file does not hold the issuer \(missing): unless it is served from elsewhere, clients may not complete the chain"
            )
        }
        if let leaf = file.certificates.first(where: \.matchesKey) ?? file.certificates.first,
            leaf.metadata.notValidAfter < now
        {
            notes.append("the certificate expired on \(Timestamp.day(leaf.metadata.notValidAfter))")
        }
        return TargetVerdict(target: self, title: r.title, reasons: reasons, notes: notes)
    }

    private static func encryptionReasons(_ layout: PKCS12Layout, _ r: TargetRequirements, fix: String) -> [String] {
        var parts: [(what: String, encryption: PasswordEncryption)] = []
        for safe in layout.safes { if let e = safe.encryption { parts.append(("the certificates", e)) } }
        for bag in layout.bags where bag.kind == .shroudedKey {
            if let e = bag.encryption { parts.append(("the private key", e)) }
        }
        var reasons: [String] = []
        var seen = Set<String>()
        for part in parts where !r.encryptions.contains(part.encryption.family) {
            let text =
                "\(r.title) cannot decrypt \(part.encryption.cipher) (\(part.encryption.kdf)), which protects \(part.what): \(fix)"
            if seen.insert(text).inserted { reasons.append(text) }
        }
        let families = Set(parts.map { $0.encryption.family })
        if !reasons.isEmpty, families.count > 1, families.contains(where: r.encryptions.contains) {
            reasons.append("the file mixes \(parts.map(\.encryption.cipher).uniqued().joined(separator: " and ")) bags")
        }
        return reasons
    }

    private static func iterationReasons(_ layout: PKCS12Layout, _ r: TargetRequirements) -> [String] {
        var reasons: [String] = []
        if let max = r.maxIterations {
            let most = ([layout.mac?.iterations ?? 0] + layout.encryptions.compactMap(\.iterations)).max() ?? 0
            if most > max {
                reasons.append(
                    "\(r.title) allows at most \(max) iterations per key derivation; this file asks for \(most): export it again with fewer"
                )
            }
        }
        if let max = r.maxTotalIterations, layout.totalIterations > max {
            reasons.append(
                "\(r.title) allows at most \(max) iterations in all; this file asks for \(layout.totalIterations) (MAC and every decryption)"
            )
        }
        return reasons
    }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
