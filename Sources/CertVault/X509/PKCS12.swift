internal import COpenSSL
internal import CertVaultNative
import Foundation

/// How an exported `.pfx` is protected.
public enum ExportProfile: String, CaseIterable, Sendable, Codable {
    /// AES-256-CBC under PBES2/PBKDF2-HMAC-SHA256 for key and certificates,
    /// HMAC-SHA-256 MAC.
    case modern
    /// pbeWithSHA1And3-KeyTripleDES-CBC for key and certificates, HMAC-SHA-1
    /// MAC: what Azure App Service and Windows Server 2016 and older accept.
    case legacy

    /// PBKDF2 / PKCS#12 KDF iterations written into the file.
    public var iterations: Int32 {
        switch self {
        case .modern: return 100_000
        case .legacy: return 2_000
        }
    }
}

/// What a PKCS#12 file held, bag by bag.
struct PKCS12Contents {
    struct Key {
        var key: PrivateKey
        var localKeyID: Data?
        var friendlyName: String?
        /// Whether the key was in a shrouded (encrypted) bag.
        var shrouded = false
    }
    struct Cert {
        var certificate: Certificate
        var localKeyID: Data?
        var friendlyName: String?
    }
    var keys: [Key] = []
    var certificates: [Cert] = []
    /// Whether the file carries a MAC (it verified, or nothing was read).
    var hasMAC = true
}

/// A password tried against a PKCS#12 file. `.none` is OpenSSL's NULL
/// password, which differs from the empty string in PKCS#12's BMPString
/// encoding; files of both kinds exist, so both are tried when the user gave
/// no password or an empty one.
package enum PasswordCandidate {
    case none
    case bytes(SecureBytes)

    func with<R>(_ body: (UnsafePointer<CChar>?, Int32) throws -> R) rethrows -> R {
        switch self {
        case .none: return try body(nil, 0)
        case .bytes(let b): return try b.withCString { try body($0, Int32(b.count)) }
        }
    }

    static func candidates(for password: SecureBytes?) -> [PasswordCandidate] {
        if let password, password.count > 0 { return [.bytes(password)] }
        return [.bytes(password ?? SecureBytes(count: 0)), .none]
    }
}

package enum PKCS12 {
    /// Decodes `data` once: nil if it is not a PKCS#12 structure at all,
    /// else its contents (or the error that tells why they cannot be read).
    static func parseIfPKCS12(
        _ data: Data,
        password: SecureBytes?,
        limits: ImportLimits = .standard
    ) throws -> PKCS12Contents? {
        let p12 = OpenSSL.decode(data) { d2i_PKCS12(nil, $0, $1) }
        guard let p12 else {
            OpenSSL.drainErrors()
            return nil
        }
        defer { PKCS12_free(p12) }
        // What the file asks for is checked before any of it is done.
        try limits.check(pkcs12: p12)
        let candidates = PasswordCandidate.candidates(for: password)

        if PKCS12_mac_present(p12) == 1 {
            var macError = OpenSSL.ErrorStack()
            for candidate in candidates {
                let ok = verifyMAC(p12, decodedFrom: data, password: candidate)
                if ok {
                    return try walk(p12, password: candidate)
                }
                macError = OpenSSL.drainErrors()
            }
            if macError.isUnsupportedAlgorithm {
                throw CertVaultError(
                    .unsupportedAlgorithm,
                    "the MAC uses an algorithm OpenSSL cannot compute (\(macError))"
                )
            }
            // Wrong password, or right password and an altered file: the
            // contents tell them apart.
            for candidate in candidates where (try? walk(p12, password: candidate)) != nil {
                throw CertVaultError(
                    .macFailure,
                    "MAC verification failed although the contents decrypt: the file was altered or damaged"
                )
            }
            throw wrongPassword(password)
        }

        for candidate in candidates {
            do {
                var contents = try walk(p12, password: candidate)
                contents.hasMAC = false
                return contents
            } catch let error as CertVaultError where error.code == .wrongPassword {
                continue
            }
        }
        throw wrongPassword(password)
    }

    /// Whether the file's MAC verifies with `password`, judged in
    /// certvault's own library context (`cv_pkcs12_verify_mac`): a "no"
    /// leaves on OpenSSL's error queue why (a wrong MAC, an unknown digest).
    static func verifyMAC(_ p12: OpaquePointer, decodedFrom data: Data, password: PasswordCandidate) -> Bool {
        data.withUnsafeBytes { der in
            password.with { cv_pkcs12_verify_mac(p12, der.baseAddress, der.count, $0, $1) }
        } == 1
    }

    private static func wrongPassword(_ password: SecureBytes?) -> CertVaultError {
        if password == nil || password!.count == 0 {
            return CertVaultError(
                .wrongPassword,
                "the file needs a password",
                remedy: .filePassword
            )
        }
        return CertVaultError(.wrongPassword, "wrong password for the file (or the file is damaged)")
    }

    /// Decrypts every safe and collects keys and certificates.
    private static func walk(_ p12: OpaquePointer, password: PasswordCandidate) throws -> PKCS12Contents {
        guard let safes = PKCS12_unpack_authsafes(p12) else {
            throw OpenSSL.error(.corrupt, "the PKCS#12 contents cannot be read")
        }
        defer { cv_sk_PKCS7_pop_free(safes) }
        var contents = PKCS12Contents()
        for i in 0..<cv_sk_PKCS7_num(safes) {
            let p7 = cv_sk_PKCS7_value(safes, i)
            let bags: OpaquePointer?
            switch cv_PKCS7_type_nid(p7) {
            case NID_pkcs7_data:
                bags = PKCS12_unpack_p7data(p7)
                if bags == nil { throw OpenSSL.error(.corrupt, "a PKCS#12 safe cannot be read") }
            case NID_pkcs7_encrypted:
                bags = password.with { cv_pkcs12_decrypt_safe(p7, $0, $1) }
                if bags == nil { throw decryptionError("the certificates") }
            default:
                throw CertVaultError(
                    .unsupportedAlgorithm,
                    "a PKCS#12 safe is protected in a way certvault does not support (public-key encryption)"
                )
            }
            defer { cv_sk_PKCS12_SAFEBAG_pop_free(bags) }
            try collect(bags!, password: password, into: &contents)
        }
        return contents
    }

    private static func collect(
        _ bags: OpaquePointer,
        password: PasswordCandidate,
        into contents: inout PKCS12Contents
    ) throws {
        for i in 0..<cv_sk_PKCS12_SAFEBAG_num(bags) {
            guard let bag = cv_sk_PKCS12_SAFEBAG_value(bags, i) else { continue }
            let name = friendlyName(bag)
            var idLen: Int32 = 0
            let localKeyID = cv_PKCS12_SAFEBAG_local_key_id(bag, &idLen).map { Data(bytes: $0, count: Int(idLen)) }
            switch PKCS12_SAFEBAG_get_nid(bag) {
            case NID_keyBag:
                guard let p8 = PKCS12_SAFEBAG_get0_p8inf(bag), let key = cv_pkcs8_to_pkey(p8) else {
                    throw OpenSSL.error(.corrupt, "a key bag cannot be read")
                }
                contents.keys.append(
                    .init(key: PrivateKey(takingOwnership: key), localKeyID: localKeyID, friendlyName: name)
                )
            case NID_pkcs8ShroudedKeyBag:
                guard let p8 = password.with({ cv_pkcs8_decrypt(PKCS12_SAFEBAG_get0_pkcs8(bag), $0, $1) }) else {
                    throw decryptionError("the private key")
                }
                defer { PKCS8_PRIV_KEY_INFO_free(p8) }
                guard let key = cv_pkcs8_to_pkey(p8) else {
                    throw OpenSSL.error(.unsupportedAlgorithm, "the private key's type is not supported")
                }
                contents.keys.append(
                    .init(
                        key: PrivateKey(takingOwnership: key),
                        localKeyID: localKeyID,
                        friendlyName: name,
                        shrouded: true
                    )
                )
            case NID_certBag:
                guard PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate else { continue }
                guard let x = PKCS12_SAFEBAG_get1_cert(bag) else {
                    throw OpenSSL.error(.corrupt, "a certificate bag cannot be read")
                }
                contents.certificates.append(
                    .init(certificate: Certificate(takingOwnership: x), localKeyID: localKeyID, friendlyName: name)
                )
            case NID_safeContentsBag:
                if let nested = PKCS12_SAFEBAG_get0_safes(bag) {
                    try collect(nested, password: password, into: &contents)
                }
            default:
                continue  // CRL and secret bags are not certificate material
            }
        }
    }

    /// A bag's friendly name, without the NUL bytes Windows appends.
    ///
    /// Decoded here from the BMPString (UTF-16BE) rather than through
    /// `PKCS12_get_friendlyname`, which returns nothing for some non-ASCII
    /// names in OpenSSL 3.0.
    static func friendlyName(_ bag: OpaquePointer) -> String? {
        var data: UnsafePointer<UInt8>?
        var len: Int32 = 0
        let type = cv_PKCS12_SAFEBAG_friendly_name(bag, &data, &len)
        guard let data, len > 0 else { return nil }
        let bytes = UnsafeBufferPointer(start: data, count: Int(len))
        let name: String
        switch type {
        case V_ASN1_BMPSTRING:
            let units = stride(from: 0, to: bytes.count - 1, by: 2).map {
                UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])
            }
            name = String(decoding: units, as: UTF16.self)
        default:
            name = String(decoding: bytes, as: UTF8.self)
        }
        let trimmed = name.trimmingCharacters(in: CharacterSet(charactersIn: "\0").union(.whitespaces))
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func decryptionError(_ what: String) -> CertVaultError {
        let detail = OpenSSL.drainErrors()
        if detail.isUnsupportedAlgorithm {
            return CertVaultError(
                .unsupportedAlgorithm,
                "\(what) are encrypted with an algorithm OpenSSL cannot decrypt (\(detail))"
            )
        }
        return CertVaultError(.wrongPassword, "wrong password for the file (or the file is damaged)")
    }

    /// Writes a PKCS#12 file holding `key`, `certificate` and its chain.
    static func create(
        key: PrivateKey,
        certificate: Certificate,
        chain: [Certificate],
        friendlyName: String,
        password: SecureBytes,
        profile: ExportProfile
    ) throws -> Data {
        try OpenSSL.requireCString(password)
        return try create(
            key: key,
            certificate: certificate,
            chain: chain,
            friendlyName: friendlyName,
            password: PasswordCandidate.bytes(password),
            profile: profile
        )
    }

    /// As above; `.none` writes a NULL-password file (for tests of readers).
    package static func create(
        key: PrivateKey,
        certificate: Certificate,
        chain: [Certificate],
        friendlyName: String,
        password: PasswordCandidate,
        profile: ExportProfile,
        iterations: Int32? = nil
    ) throws -> Data {
        let iterations = iterations ?? profile.iterations
        try OpenSSL.ensure()
        guard let ca = cv_sk_X509_new_null() else { throw OpenSSL.error(.crypto, "sk_X509_new_null") }
        defer { cv_sk_X509_pop_free(ca) }
        for c in chain {
            // The stack frees what it holds: it gets a reference of its own.
            guard X509_up_ref(c.pointer) == 1 else { throw OpenSSL.error(.crypto, "X509_up_ref") }
            guard cv_sk_X509_push(ca, c.pointer) > 0 else {
                X509_free(c.pointer)
                throw OpenSSL.error(.crypto, "could not add a chain certificate")
            }
        }
        let nid: Int32 = profile == .modern ? NID_aes_256_cbc : NID_pbe_WithSHA1And3_Key_TripleDES_CBC
        let p12 = password.with { pass, _ in
            PKCS12_create_ex(
                pass,
                friendlyName,
                key.pointer,
                certificate.pointer,
                ca,
                nid,
                nid,
                iterations,
                -1,
                0,
                OpenSSL.context,
                nil
            )
        }
        guard let p12 else { throw OpenSSL.error(.crypto, "could not build the PKCS#12 file") }
        defer { PKCS12_free(p12) }
        let md = profile == .modern ? EVP_sha256() : EVP_sha1()
        let macOK = password.with { PKCS12_set_mac(p12, $0, $1, nil, 0, iterations, md) }
        guard macOK == 1 else { throw OpenSSL.error(.crypto, "could not add the PKCS#12 MAC") }
        return try OpenSSL.der { i2d_PKCS12(p12, $0) }
    }

    /// PBKDF2 as PBES2 bags are decrypted (`pbkdf2.c`), and
    /// OpenSSL's own `PKCS5_PBKDF2_HMAC` (`reference`), for tests to compare.
    package static func pbkdf2(
        _ password: Data,
        salt: Data,
        iterations: Int32,
        sha256: Bool,
        count: Int,
        reference: Bool = false
    ) -> Data? {
        var out = Data(count: count)
        let ok = out.withUnsafeMutableBytes { o in
            password.withUnsafeBytes { p in
                salt.withUnsafeBytes { s in
                    let pass = p.bindMemory(to: CChar.self).baseAddress
                    let saltBytes = s.bindMemory(to: UInt8.self).baseAddress
                    let buffer = o.bindMemory(to: UInt8.self).baseAddress
                    if reference {
                        return PKCS5_PBKDF2_HMAC(
                            pass,
                            Int32(p.count),
                            saltBytes,
                            Int32(s.count),
                            iterations,
                            sha256 ? EVP_sha256() : EVP_sha1(),
                            Int32(count),
                            buffer
                        ) == 1
                    }
                    return cv_pbkdf2_hmac(
                        pass,
                        Int32(p.count),
                        saltBytes,
                        Int32(s.count),
                        iterations,
                        sha256 ? NID_sha256 : NID_sha1,
                        buffer,
                        Int32(count)
                    ) == 1
                }
            }
        }
        return ok ? out : nil
    }

    /// The PKCS#12 key derivation (RFC 7292 appendix B.2) as `pbkdf2.c`
    /// computes it for the MAC and the PKCS#12 PBEs, and OpenSSL's own
    /// `PKCS12_key_gen_utf8` (`reference`), for tests to compare. A nil
    /// password is none at all (not the empty one).
    package static func pkcs12KDF(
        _ password: Data?,
        salt: Data,
        id: Int32,
        iterations: Int32,
        sha256: Bool,
        count: Int,
        reference: Bool = false
    ) -> Data? {
        guard (try? OpenSSL.ensure()) != nil else { return nil }
        var out = Data(count: count)
        let pass = password.map { $0 + Data([0]) }
        let ok = out.withUnsafeMutableBytes { o in
            salt.withUnsafeBytes { s in
                withOptionalPointer(pass) { p in
                    let saltBytes = s.bindMemory(to: UInt8.self).baseAddress
                    let buffer = o.bindMemory(to: UInt8.self).baseAddress
                    let passLength = Int32(password?.count ?? 0)
                    if reference {
                        return PKCS12_key_gen_utf8(
                            p,
                            passLength,
                            UnsafeMutablePointer(mutating: saltBytes),
                            Int32(s.count),
                            id,
                            iterations,
                            Int32(count),
                            buffer,
                            sha256 ? EVP_sha256() : EVP_sha1()
                        ) == 1
                    }
                    return cv_pkcs12_kdf(
                        p,
                        passLength,
                        saltBytes,
                        Int32(s.count),
                        id,
                        iterations,
                        sha256 ? NID_sha256 : NID_sha1,
                        buffer,
                        Int32(count)
                    ) == 1
                }
            }
        }
        OpenSSL.drainErrors()
        return ok ? out : nil
    }

    private static func withOptionalPointer<R>(_ data: Data?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let data else { return body(nil) }
        return data.withUnsafeBytes { body($0.bindMemory(to: CChar.self).baseAddress) }
    }

    /// Both verdicts on a file's MAC, for tests to compare: ours
    /// (`cv_pkcs12_verify_mac`: 1 verifies, 0 does not, -1 cannot judge)
    /// and OpenSSL's `PKCS12_verify_mac` (1 or 0). Nil when `data` is not
    /// PKCS#12 or carries no MAC.
    package static func macVerdicts(_ data: Data, password: PasswordCandidate) -> (ours: Int32, openssl: Int32)? {
        guard (try? OpenSSL.ensure()) != nil else { return nil }
        let p12 = OpenSSL.decode(data) { d2i_PKCS12(nil, $0, $1) }
        guard let p12 else { return nil }
        defer { PKCS12_free(p12) }
        guard PKCS12_mac_present(p12) == 1 else { return nil }
        let ours = data.withUnsafeBytes { der in
            password.with { cv_pkcs12_verify_mac(p12, der.baseAddress, der.count, $0, $1) }
        }
        let openssl = password.with { PKCS12_verify_mac(p12, $0, $1) }
        OpenSSL.drainErrors()
        return (ours, openssl)
    }

    /// A PKCS#8 DER key read by `cv_pkcs8_to_pkey` (the decoder kept in a
    /// pool), or by OpenSSL's `EVP_PKCS82PKEY` when `reference`, and
    /// written out again as PKCS#8: for tests to compare. Nil when it does not read.
    package static func decodePKCS8(_ der: Data, reference: Bool = false) -> SecureBytes? {
        guard (try? OpenSSL.ensure()) != nil else { return nil }
        guard let p8 = OpenSSL.decode(der, { d2i_PKCS8_PRIV_KEY_INFO(nil, $0, $1) }) else {
            OpenSSL.drainErrors()
            return nil
        }
        defer { PKCS8_PRIV_KEY_INFO_free(p8) }
        guard let pkey = reference ? EVP_PKCS82PKEY(p8) : cv_pkcs8_to_pkey(p8) else {
            OpenSSL.drainErrors()
            return nil
        }
        return try? PrivateKey(takingOwnership: pkey).pkcs8()
    }

    /// OpenSSL's own `PKCS12_parse`, for measuring the import rate against
    /// its limit. Returns whether the file parsed.
    package static func referenceParse(_ data: Data, password: SecureBytes) -> Bool {
        let p12 = OpenSSL.decode(data) { d2i_PKCS12(nil, $0, $1) }
        guard let p12 else { return false }
        defer { PKCS12_free(p12) }
        var pkey: OpaquePointer?
        var cert: OpaquePointer?
        var ca: OpaquePointer?
        let ok = password.withCString { PKCS12_parse(p12, $0, &pkey, &cert, &ca) } == 1
        if let pkey { EVP_PKEY_free(pkey) }
        if let cert { X509_free(cert) }
        if let ca { cv_sk_X509_pop_free(ca) }
        return ok
    }
}

/// Just enough DER to tell a truncated file from garbage.
enum DER {
    /// The total length (header and contents) a DER SEQUENCE at the start of
    /// `data` declares; nil if it is not one or uses indefinite length.
    static func declaredLength(_ data: Data) -> Int? {
        let bytes = [UInt8](data.prefix(6))
        guard bytes.count >= 2, bytes[0] == 0x30 else { return nil }
        let first = Int(bytes[1])
        if first < 0x80 { return 2 + first }
        let n = first & 0x7F
        guard n > 0, n <= 4, bytes.count >= 2 + n else { return nil }
        var len = 0
        for i in 0..<n { len = len << 8 | Int(bytes[2 + i]) }
        return 2 + n + len
    }
}
