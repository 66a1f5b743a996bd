internal import COpenSSL
internal import CertVaultNative
import Foundation

/// A password-based encryption as a file states it: the algorithm, and the
/// work and salt it asks for. Read before anything is decrypted.
public struct PasswordEncryption: Sendable, Codable, Equatable {
    /// What a reader must implement to decrypt it: the unit in which
    /// targets state what they read.
    public enum Family: String, Sendable, Codable, CaseIterable {
        /// pbeWithSHAAnd3-KeyTripleDES-CBC, PKCS#12's own 3DES: read everywhere.
        case pkcs12TripleDES = "pkcs12-3des"
        /// pbeWithSHAAnd2-KeyTripleDES-CBC.
        case pkcs12TwoKeyTripleDES = "pkcs12-2des"
        /// pbeWithSHAAnd40BitRC2-CBC or 128-bit RC2: what older Windows and
        /// OpenSSL 1.x used for certificates.
        case pkcs12RC2 = "pkcs12-rc2"
        /// pbeWithSHAAnd128BitRC4 or 40-bit RC4.
        case pkcs12RC4 = "pkcs12-rc4"
        /// PKCS#5 v1.5 (PBES1: DES or RC2 with MD5 or SHA-1).
        case pbes1
        /// PBES2 with AES (what OpenSSL 3 and Windows' AES256-SHA256 write).
        case pbes2AES = "pbes2-aes"
        /// PBES2 with DES-EDE3-CBC.
        case pbes2TripleDES = "pbes2-3des"
        /// PBES2 with another cipher.
        case pbes2Other = "pbes2-other"
        /// An algorithm certvault does not know.
        case unknown
    }

    /// The family, for target rules.
    public var family: Family
    /// The cipher: `3DES`, `RC2-40`, `AES-256-CBC`, …
    public var cipher: String
    /// The key derivation: `PKCS#12 KDF (SHA-1)`, `PBKDF2-HMAC-SHA256`, `scrypt`.
    public var kdf: String
    /// Iterations of the key derivation; nil for scrypt or when unreadable.
    public var iterations: Int64?
    /// scrypt's N, r and p; nil unless the derivation is scrypt.
    public var scrypt: [UInt64]?
    /// Length of the salt in bytes; nil when unknown.
    public var saltLength: Int?

    /// One line: `AES-256-CBC, PBKDF2-HMAC-SHA256, 100000 iterations, 8-byte salt`.
    public var summary: String {
        var parts = [cipher, kdf]
        if let iterations { parts.append("\(iterations) iteration\(iterations == 1 ? "" : "s")") }
        if let scrypt, scrypt.count == 3 { parts.append("N=\(scrypt[0]), r=\(scrypt[1]), p=\(scrypt[2])") }
        if let saltLength { parts.append("\(saltLength)-byte salt") }
        return parts.joined(separator: ", ")
    }

    /// Reads an algorithm identifier; nil when there is none.
    static func read(_ alg: UnsafePointer<X509_ALGOR>?) -> PasswordEncryption? {
        guard let alg else { return nil }
        var info = cv_pbe_info()
        let readable = cv_pbe_describe(alg, &info) == 0
        defer { OpenSSL.drainErrors() }
        var e = PasswordEncryption(
            family: .unknown,
            cipher: Self.name(info.scheme),
            kdf: "unknown",
            iterations: readable && info.scrypt == 0 ? info.iter : nil,
            scrypt: readable && info.scrypt == 1 ? [info.n, info.r, info.p] : nil,
            saltLength: info.salt_len >= 0 ? Int(info.salt_len) : nil
        )
        let pkcs12KDF = "PKCS#12 KDF (SHA-1)"
        switch info.scheme {
        case NID_pbe_WithSHA1And3_Key_TripleDES_CBC: (e.family, e.cipher, e.kdf) = (.pkcs12TripleDES, "3DES", pkcs12KDF)
        case NID_pbe_WithSHA1And2_Key_TripleDES_CBC:
            (e.family, e.cipher, e.kdf) = (.pkcs12TwoKeyTripleDES, "2-key 3DES", pkcs12KDF)
        case NID_pbe_WithSHA1And40BitRC2_CBC: (e.family, e.cipher, e.kdf) = (.pkcs12RC2, "RC2-40", pkcs12KDF)
        case NID_pbe_WithSHA1And128BitRC2_CBC: (e.family, e.cipher, e.kdf) = (.pkcs12RC2, "RC2-128", pkcs12KDF)
        case NID_pbe_WithSHA1And40BitRC4: (e.family, e.cipher, e.kdf) = (.pkcs12RC4, "RC4-40", pkcs12KDF)
        case NID_pbe_WithSHA1And128BitRC4: (e.family, e.cipher, e.kdf) = (.pkcs12RC4, "RC4-128", pkcs12KDF)
        case NID_pbeWithMD5AndDES_CBC, NID_pbeWithSHA1AndDES_CBC, NID_pbeWithMD5AndRC2_CBC,
            NID_pbeWithSHA1AndRC2_CBC, NID_pbeWithMD2AndDES_CBC, NID_pbeWithMD2AndRC2_CBC:
            (e.family, e.kdf) = (.pbes1, "PBKDF1")
        case NID_pbes2:
            e.cipher = info.cipher == 0 ? "unknown cipher" : Self.name(info.cipher).uppercased()
            switch info.cipher {
            case NID_aes_128_cbc, NID_aes_192_cbc, NID_aes_256_cbc: e.family = .pbes2AES
            case NID_des_ede3_cbc: e.family = .pbes2TripleDES
            default: e.family = .pbes2Other
            }
            switch info.kdf {
            case NID_id_pbkdf2:
                let prf = Self.name(info.prf)
                e.kdf = "PBKDF2-" + (prf.hasPrefix("hmacWith") ? "HMAC-" + prf.dropFirst(8) : prf).uppercased()
            case NID_id_scrypt: e.kdf = "scrypt"
            default: e.kdf = info.kdf == 0 ? "unknown" : Self.name(info.kdf)
            }
        default: break
        }
        return e
    }

    /// The encryption of a DER `EncryptedPrivateKeyInfo`; nil when `der` is not one.
    static func read(encryptedPKCS8 der: UnsafeRawBufferPointer) -> PasswordEncryption? {
        guard let sig = OpenSSL.decode(der, { d2i_X509_SIG(nil, $0, $1) }) else {
            OpenSSL.drainErrors()
            return nil
        }
        defer { X509_SIG_free(sig) }
        return read(cv_X509_SIG_algor(sig))
    }

    static func name(_ nid: Int32) -> String {
        guard nid != 0, let sn = OBJ_nid2sn(nid) else { return "unknown" }
        return String(cString: sn)
    }
}

/// The MAC of a PKCS#12 file.
public struct PKCS12MAC: Sendable, Codable, Equatable {
    /// The digest: `SHA1`, `SHA256`, …
    public var digest: String
    /// Iterations of the PKCS#12 MAC key derivation.
    public var iterations: Int64
    /// Length of the MAC salt in bytes; nil when unknown.
    public var saltLength: Int?
}

/// One bag of a PKCS#12 safe.
public struct PKCS12Bag: Sendable, Codable, Equatable {
    /// What the bag holds.
    public enum Kind: String, Sendable, Codable {
        /// A private key in the clear (keyBag).
        case key
        /// A private key encrypted on its own (pkcs8ShroudedKeyBag).
        case shroudedKey = "shrouded-key"
        /// A certificate.
        case certificate
        /// A CRL, a secret or another kind certvault does not use.
        case other
        /// Nested safe contents.
        case nested
    }
    /// What the bag holds.
    public var kind: Kind
    /// How a shrouded key is encrypted.
    public var encryption: PasswordEncryption?
    /// The friendlyName attribute.
    public var friendlyName: String?
    /// The localKeyID attribute, lower-case hex.
    public var localKeyID: String?
    /// For a certificate: its subject (RFC 4514) and SHA-1 thumbprint.
    public var subject: String?
    /// For a certificate: its SHA-1 thumbprint.
    public var thumbprintSHA1: String?
}

/// One safe (authenticated safe element) of a PKCS#12 file.
public struct PKCS12Safe: Sendable, Codable, Equatable {
    /// How the safe is encrypted; nil for a plain safe.
    public var encryption: PasswordEncryption?
    /// The bags; nil for an encrypted safe that was not opened.
    public var bags: [PKCS12Bag]?
}

/// The structure of a PKCS#12 file: MAC, safes, bags and every algorithm,
/// as the file states them.
public struct PKCS12Layout: Sendable, Codable, Equatable {
    /// The MAC; nil when the file has none.
    public var mac: PKCS12MAC?
    /// The safes in file order.
    public var safes: [PKCS12Safe]

    /// Every password-based encryption in the file (safes and shrouded keys).
    public var encryptions: [PasswordEncryption] {
        safes.flatMap { safe in
            (safe.encryption.map { [$0] } ?? []) + (safe.bags ?? []).compactMap(\.encryption)
        }
    }

    /// Every bag that was read, in file order.
    public var bags: [PKCS12Bag] { safes.flatMap { $0.bags ?? [] } }

    /// Key derivations a reader performs to verify and open the file, in all.
    public var totalIterations: Int64 {
        encryptions.reduce(mac?.iterations ?? 0) { sum, e in sum.addingReportingOverflow(e.iterations ?? 0).partialValue
        }
    }

    /// Reads the structure of `p12` without decrypting anything, except the
    /// encrypted safes when `password` is given (to list their bags).
    /// Certificates are described (subject, thumbprint) only when
    /// `certificates` is set: the limits are checked before that work.
    static func read(
        _ p12: OpaquePointer,
        opening password: PasswordCandidate? = nil,
        certificates: Bool = false
    ) -> PKCS12Layout {
        func describe(_ bags: OpaquePointer) -> [PKCS12Bag] { Self.describe(bags, certificates: certificates) }
        defer { OpenSSL.drainErrors() }
        var layout = PKCS12Layout(mac: nil, safes: [])
        var md: Int32 = 0
        var iter: Int64 = 0
        var salt: Int32 = 0
        if cv_pkcs12_mac_describe(p12, &md, &iter, &salt) == 0 {
            layout.mac = PKCS12MAC(
                digest: PasswordEncryption.name(md).uppercased().replacingOccurrences(of: "-", with: ""),
                iterations: iter,
                saltLength: salt >= 0 ? Int(salt) : nil
            )
        }
        guard let safes = PKCS12_unpack_authsafes(p12) else { return layout }
        defer { cv_sk_PKCS7_pop_free(safes) }
        for i in 0..<cv_sk_PKCS7_num(safes) {
            let p7 = cv_sk_PKCS7_value(safes, i)
            switch cv_PKCS7_type_nid(p7) {
            case NID_pkcs7_data:
                let bags = PKCS12_unpack_p7data(p7)
                defer { if let bags { cv_sk_PKCS12_SAFEBAG_pop_free(bags) } }
                layout.safes.append(PKCS12Safe(encryption: nil, bags: bags.map(describe)))
            case NID_pkcs7_encrypted:
                let bags = password?.with { cv_pkcs12_decrypt_safe(p7, $0, $1) }
                defer { if let bags { cv_sk_PKCS12_SAFEBAG_pop_free(bags) } }
                layout.safes.append(
                    PKCS12Safe(
                        encryption: PasswordEncryption.read(cv_PKCS7_encrypted_algor(p7)),
                        bags: bags.map(describe)
                    )
                )
            default:
                layout.safes.append(PKCS12Safe(encryption: nil, bags: nil))
            }
        }
        return layout
    }

    private static func describe(_ bags: OpaquePointer, certificates: Bool) -> [PKCS12Bag] {
        var out: [PKCS12Bag] = []
        for i in 0..<cv_sk_PKCS12_SAFEBAG_num(bags) {
            guard let bag = cv_sk_PKCS12_SAFEBAG_value(bags, i) else { continue }
            var idLen: Int32 = 0
            var b = PKCS12Bag(
                kind: .other,
                friendlyName: PKCS12.friendlyName(bag),
                localKeyID: cv_PKCS12_SAFEBAG_local_key_id(bag, &idLen).map {
                    Data(bytes: $0, count: Int(idLen)).hexLower
                }
            )
            switch PKCS12_SAFEBAG_get_nid(bag) {
            case NID_keyBag: b.kind = .key
            case NID_pkcs8ShroudedKeyBag:
                b.kind = .shroudedKey
                b.encryption = PasswordEncryption.read(cv_SAFEBAG_shrouded_algor(bag))
            case NID_certBag:
                b.kind = .certificate
                if certificates, PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate,
                    let x = PKCS12_SAFEBAG_get1_cert(bag)
                {
                    let metadata = try? Certificate(takingOwnership: x).metadata()
                    b.subject = metadata?.subject
                    b.thumbprintSHA1 = metadata?.thumbprintSHA1
                }
            case NID_safeContentsBag:
                b.kind = .nested
                out.append(b)
                if let nested = PKCS12_SAFEBAG_get0_safes(bag) { out += describe(nested, certificates: certificates) }
                continue
            default: break
            }
            out.append(b)
        }
        return out
    }
}
