internal import COpenSSL
internal import CertVaultNative
import Foundation

/// A PKCS#10 certificate signing request, owning its `X509_REQ*`.
final class CertificateRequest: @unchecked Sendable {
    let pointer: OpaquePointer

    init(takingOwnership pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_REQ_free(pointer) }

    /// A request for `key`'s public half with `subject` and DNS names as
    /// subjectAltName, signed by `key` with SHA-256.
    convenience init(key: PrivateKey, subject: String, dnsNames: [String]) throws {
        try OpenSSL.ensure()
        let name = try CertificateBuilder.makeName(subject)
        for dns in dnsNames {
            let ok =
                !dns.isEmpty
                && dns.utf8.allSatisfy {
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x2E
                        || $0 == 0x2A
                }
            guard ok else { throw CertVaultError(.invalidArgument, "'\(dns)' is not a DNS name") }
        }
        let san = dnsNames.map { "DNS:\($0)" }.joined(separator: ",")
        guard let req = cv_make_csr(key.pointer, name.pointer, san.isEmpty ? nil : san) else {
            throw OpenSSL.error(.crypto, "could not make the certificate request")
        }
        self.init(takingOwnership: req)
    }

    convenience init(derEncoded der: Data) throws {
        let req = OpenSSL.decode(der) { d2i_X509_REQ(nil, $0, $1) }
        guard let req else { throw OpenSSL.error(.corrupt, "not a PKCS#10 request") }
        self.init(takingOwnership: req)
    }

    var derEncoded: Data { get throws { try OpenSSL.der { i2d_X509_REQ(pointer, $0) } } }

    var pemEncoded: Data { get throws { try OpenSSL.withMemoryBIO { PEM_write_bio_X509_REQ($0, pointer) == 1 } } }

    var subjectDER: Data { get throws { try Certificate.nameDER(X509_REQ_get_subject_name(pointer)) } }
    var subject: String { get throws { try Certificate.nameString(X509_REQ_get_subject_name(pointer)) } }
}

extension Certificate {
    /// The certificate as PEM.
    var pemEncoded: Data { get throws { try OpenSSL.withMemoryBIO { PEM_write_bio_X509($0, pointer) == 1 } } }

    /// Key usage bits by name, as `openssl x509 -text` prints them.
    var keyUsage: [String] {
        let bits = X509_get_key_usage(pointer)
        guard bits != UInt32.max else { return [] }
        let names: [(UInt32, String)] = [
            (0x80, "digitalSignature"), (0x40, "nonRepudiation"), (0x20, "keyEncipherment"),
            (0x10, "dataEncipherment"), (0x08, "keyAgreement"), (0x04, "keyCertSign"),
            (0x02, "cRLSign"), (0x01, "encipherOnly"), (0x8000, "decipherOnly"),
        ]
        return names.filter { bits & $0.0 != 0 }.map(\.1)
    }

    var extendedKeyUsage: [String] {
        var buf = [CChar](repeating: 0, count: 512)
        let n = cv_X509_eku_text(pointer, &buf, Int32(buf.count))
        guard n > 0 else { return [] }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: ",").map(String.init)
    }
}

extension PrivateKey {
    /// PEM PKCS#8, encrypted with AES-256-CBC under PBES2 / PBKDF2-HMAC-SHA256.
    func encryptedPKCS8PEM(password: SecureBytes, iterations: Int32) throws -> Data {
        try OpenSSL.requireCString(password)
        return try OpenSSL.withMemoryBIO { bio in
            password.withCString { cv_write_encrypted_pkcs8(bio, pointer, $0, Int32(password.count), iterations) == 1 }
        }
    }

    /// PEM PKCS#8, unencrypted, in secure storage.
    func pkcs8PEM() throws -> SecureBytes {
        try OpenSSL.withSecureBIO { PEM_write_bio_PKCS8PrivateKey($0, pointer, nil, nil, 0, nil, nil) == 1 }
    }
}
