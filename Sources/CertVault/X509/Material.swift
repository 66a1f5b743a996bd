internal import COpenSSL
internal import CertVaultNative
import Foundation

/// Certificates and keys read from one file, whatever its format.
struct Material {
    struct Cert {
        var certificate: Certificate
        var friendlyName: String?
    }
    struct Key {
        var key: PrivateKey
        var friendlyName: String?
        /// Whether the key was encrypted in the file, and how (PKCS#8 only).
        var encrypted = false
        var encryption: PasswordEncryption? = nil
    }
    var certificates: [Cert] = []
    var keys: [Key] = []
    /// Things a person should know that do not stop the import.
    var warnings: [String] = []
    /// What the file turned out to be, for messages.
    var format = ""
    /// The labels of a PEM file's blocks, in order.
    var blocks: [String] = []
}

/// Reads certificate material by content, not by file name: PKCS#12, PEM
/// (any number of blocks, CRLF, text around them), DER certificates,
/// PKCS#7 bundles (DER or PEM), and private keys as PKCS#8 (plain or
/// encrypted: PBES2 with any cipher and PRF, scrypt, PBES1), PKCS#1, SEC1 or
/// traditional encrypted PEM, in DER or PEM.
enum MaterialReader {
    /// Whether `data` holds a PEM block's `-----BEGIN ` line anywhere
    /// (`memmem`: Foundation's generic search cost 60 µs a `.pfx`).
    static func hasPEMBlock(_ data: Data) -> Bool {
        let marker = "-----BEGIN "
        return data.withUnsafeBytes { bytes in
            marker.utf8CString.withUnsafeBufferPointer { needle in
                guard let base = bytes.baseAddress, let n = needle.baseAddress else { return false }
                return cv_memmem(base, bytes.count, n, needle.count - 1) == 1
            }
        }
    }

    /// The bytes `text` encodes when it is standard base64 (line breaks and
    /// spaces aside, `=` padding as required) of DER: nil for any other text.
    static func base64DER(_ text: Data) -> Data? {
        let compact = Data(text.filter { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) })
        guard compact.count >= 8, compact.count % 4 == 0,
            compact.allSatisfy({ b in
                (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2B
                    || b == 0x2F || b == 0x3D
            }),
            let decoded = Data(base64Encoded: compact), decoded.first == 0x30
        else { return nil }
        return decoded
    }

    static func read(_ data: Data, password: SecureBytes?, limits: ImportLimits = .standard) throws -> Material {
        try OpenSSL.ensure()
        if let password { try OpenSSL.requireCString(password) }
        if data.isEmpty { throw CertVaultError(.emptyFile, "the file is empty") }
        if hasPEMBlock(data) {
            return try readPEM(data, password: password, limits: limits)
        }
        let printable = data.prefix(4096).allSatisfy {
            (0x20...0x7E).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09
        }
        if printable {
            // A .pfx (or a DER certificate) handed over as base64 text, as Azure Key Vault secrets, CI
            // variables and web consoles give it: read once as the bytes it encodes, and said.
            if let decoded = base64DER(data) {
                var m = try read(decoded, password: password, limits: limits)
                m.warnings.append("the file is base64 text; it was read as the \(m.format) it encodes")
                return m
            }
            throw CertVaultError(
                .unknownFormat,
                "text without a PEM block: not a certificate, key or PKCS#12 file"
            )
        }
        if let contents = try PKCS12.parseIfPKCS12(data, password: password, limits: limits) {
            var m = Material(format: "PKCS#12")
            m.certificates = contents.certificates.map {
                .init(certificate: $0.certificate, friendlyName: $0.friendlyName)
            }
            m.keys = contents.keys.map { .init(key: $0.key, friendlyName: $0.friendlyName) }
            if !contents.hasMAC {
                m.warnings.append(
                    "the file has no MAC: nothing shows it is as it was written (openssl pkcs12 -nomac makes such files)"
                )
            }
            return m
        }
        if let cert = derCertificate(data) {
            return Material(certificates: [.init(certificate: cert, friendlyName: nil)], format: "DER certificate")
        }
        if let certs = pkcs7Certificates(data) {
            return Material(certificates: certs.map { .init(certificate: $0, friendlyName: nil) }, format: "PKCS#7")
        }
        let encryption = data.withUnsafeBytes { PasswordEncryption.read(encryptedPKCS8: $0) }
        let encrypted = encryption != nil
        try limits.check(encryption, what: "the encrypted private key")
        if encrypted || looksLikeKeyDER(data) {
            var m = Material(format: encrypted ? "encrypted PKCS#8" : "DER private key")
            let key = try decodeKey(
                data.withUnsafeBytes { SecureBytes(copying: $0) },
                encrypted: encrypted,
                password: password
            )
            m.keys = [.init(key: key, friendlyName: nil, encrypted: encrypted, encryption: encryption)]
            m.warnings += warnings(for: key)
            return m
        }
        OpenSSL.drainErrors()
        if DER.declaredLength(data).map({ $0 > data.count }) ?? false {
            throw CertVaultError(.truncated, "the file is truncated (its encoding declares more bytes than it has)")
        }
        throw CertVaultError(.unknownFormat, "not a certificate, key, PKCS#7 or PKCS#12 file")
    }

    // MARK: PEM

    private static func readPEM(_ data: Data, password: SecureBytes?, limits: ImportLimits) throws -> Material {
        var m = Material(format: "PEM")
        guard let bio = data.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw OpenSSL.error(.crypto, "BIO_new_mem_buf")
        }
        defer { BIO_free(bio) }
        var blocks = 0
        while true {
            var name: UnsafeMutablePointer<CChar>?
            var header: UnsafeMutablePointer<CChar>?
            var body: UnsafeMutablePointer<UInt8>?
            var length: Int = 0
            guard PEM_read_bio(bio, &name, &header, &body, &length) == 1, let name, let body else {
                let errors = OpenSSL.drainErrors()
                // "no start line" is how OpenSSL says there are no more blocks.
                if errors.contains(library: ERR_LIB_PEM, reason: PEM_R_NO_START_LINE) { break }
                throw CertVaultError(.corrupt, "a PEM block is damaged (\(errors))")
            }
            blocks += 1
            let label = String(cString: name)
            m.blocks.append(label)
            let headerText = header.map { String(cString: $0) } ?? ""
            defer {
                cv_OPENSSL_free(name)
                cv_OPENSSL_free(header)
                cv_OPENSSL_clear_free(body, length)
            }
            let bytes = UnsafeRawBufferPointer(start: body, count: length)
            switch label {
            case "CERTIFICATE", "X509 CERTIFICATE":
                guard let cert = derCertificate(Data(bytes)) else {
                    throw OpenSSL.error(.corrupt, "a CERTIFICATE block cannot be read")
                }
                m.certificates.append(.init(certificate: cert, friendlyName: nil))
            case "TRUSTED CERTIFICATE":
                guard
                    let x = OpenSSL.decode(
                        UnsafeRawBufferPointer(start: bytes.baseAddress, count: length),
                        { d2i_X509_AUX(nil, $0, $1) }
                    )
                else {
                    throw OpenSSL.error(.corrupt, "a TRUSTED CERTIFICATE block cannot be read")
                }
                let cert = Certificate(takingOwnership: x)
                m.certificates.append(.init(certificate: cert, friendlyName: aliasOf(cert)))
            case "PKCS7":
                guard let certs = pkcs7Certificates(Data(bytes)) else {
                    throw OpenSSL.error(.corrupt, "a PKCS7 block cannot be read")
                }
                m.certificates += certs.map { .init(certificate: $0, friendlyName: nil) }
            case let l where l.hasSuffix("PRIVATE KEY"):
                let encryption = l == "ENCRYPTED PRIVATE KEY" ? PasswordEncryption.read(encryptedPKCS8: bytes) : nil
                try limits.check(encryption, what: "the encrypted private key")
                // Hand the block, as PEM, to OpenSSL's decoder, in secure memory.
                let pem = try OpenSSL.withSecureBIO { out in
                    var empty: CChar = 0
                    if let header { return PEM_write_bio(out, name, header, body, length) > 0 }
                    return PEM_write_bio(out, name, &empty, body, length) > 0
                }
                let encrypted = l == "ENCRYPTED PRIVATE KEY" || headerText.contains("ENCRYPTED")
                let key = try decodeKey(pem, encrypted: encrypted, password: password)
                m.keys.append(.init(key: key, friendlyName: nil, encrypted: encrypted, encryption: encryption))
                m.warnings += warnings(for: key)
            default:
                m.warnings.append("skipped a PEM block '\(label)' (not a certificate or private key)")
            }
        }
        if m.certificates.isEmpty && m.keys.isEmpty {
            throw CertVaultError(.unknownFormat, "no certificate or private key in this PEM file")
        }
        return m
    }

    private static func aliasOf(_ cert: Certificate) -> String? {
        var len: Int32 = 0
        guard let alias = X509_alias_get0(cert.pointer, &len), len > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: alias, count: Int(len)), as: UTF8.self)
    }

    // MARK: DER

    /// One DER certificate that spans the whole input.
    private static func derCertificate(_ data: Data) -> Certificate? {
        OpenSSL.decode(data) { d2i_X509(nil, $0, $1) }.map { Certificate(takingOwnership: $0) }
    }

    private static func pkcs7Certificates(_ data: Data) -> [Certificate]? {
        guard let p7 = OpenSSL.decode(data, { d2i_PKCS7(nil, $0, $1) }) else { return nil }
        defer { PKCS7_free(p7) }
        guard let stack = cv_PKCS7_certificates(p7) else { return [] }
        return (0..<cv_sk_X509_num(stack)).compactMap { i in
            guard let x = cv_sk_X509_value(stack, i), X509_up_ref(x) == 1 else { return nil }
            return Certificate(takingOwnership: x)
        }
    }

    /// A DER SEQUENCE that could be a private key (PKCS#8, PKCS#1, SEC1).
    private static func looksLikeKeyDER(_ data: Data) -> Bool {
        guard let declared = DER.declaredLength(data) else { return false }
        return declared == data.count
    }

    // MARK: Keys

    /// Decodes a private key (PEM or DER), telling a wrong or missing
    /// password from an algorithm OpenSSL cannot decrypt.
    static func decodeKey(_ input: SecureBytes, encrypted: Bool, password: SecureBytes?) throws -> PrivateKey {
        let key = input.withUnsafeBytes { buf -> OpaquePointer? in
            let base = buf.baseAddress
            if let password {
                return password.withCString { cv_decode_private_key(base, buf.count, $0, password.count) }
            }
            return cv_decode_private_key(base, buf.count, nil, 0)
        }
        if let key {
            OpenSSL.drainErrors()
            return PrivateKey(takingOwnership: key)
        }
        let detail = OpenSSL.drainErrors()
        guard encrypted else { throw CertVaultError(.corrupt, "the private key cannot be read (\(detail))") }
        if detail.isUnsupportedAlgorithm && !detail.contains(library: ERR_LIB_EVP, reason: EVP_R_BAD_DECRYPT) {
            throw CertVaultError(
                .unsupportedAlgorithm,
                "the private key is encrypted with an algorithm OpenSSL cannot decrypt (\(detail))"
            )
        }
        if password == nil || password!.count == 0 {
            throw CertVaultError(
                .wrongPassword,
                "the private key is encrypted and needs a password",
                remedy: .filePassword
            )
        }
        throw CertVaultError(.wrongPassword, "wrong password for the private key")
    }

    private static func warnings(for key: PrivateKey) -> [String] {
        key.algorithm.name == "DSA" ? ["a DSA key: stored, but neither Azure nor current TLS accepts DSA"] : []
    }
}
