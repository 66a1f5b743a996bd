internal import COpenSSL
internal import CertVaultNative
import Foundation
import Synchronization

/// A private key, owning its `EVP_PKEY*`.
///
/// Keys leave OpenSSL only as PKCS#8 DER in ``SecureBytes``, written through
/// a secure-memory BIO.
package final class PrivateKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(takingOwnership pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// Loads an unencrypted PKCS#8 DER private key.
    convenience init(pkcs8 der: SecureBytes) throws {
        try OpenSSL.ensure()
        let key = der.withUnsafeBytes { OpenSSL.decode($0) { d2i_AutoPrivateKey(nil, $0, $1) } }
        guard let key else { throw OpenSSL.error(.corrupt, "not a PKCS#8 private key") }
        self.init(takingOwnership: key)
    }

    /// The encoding once made, kept for as long as the key (in secure storage too).
    private let encoded = Mutex<SecureBytes?>(nil)

    /// The key as unencrypted PKCS#8 DER, in secure storage. Encoded once
    /// (OpenSSL 3.0 builds an encoder for each call); callers only read it.
    func pkcs8() throws -> SecureBytes {
        if let done = encoded.withLock({ $0 }) { return done }
        let made = try OpenSSL.withSecureBIO { bio in
            i2d_PKCS8PrivateKey_bio(bio, pointer, nil, nil, 0, nil, nil) == 1
        }
        encoded.withLock { $0 = $0 ?? made }
        return made
    }

    /// The DER SubjectPublicKeyInfo of the public half.
    var publicKeyInfoDER: Data { get throws { try OpenSSL.der { i2d_PUBKEY(pointer, $0) } } }

    /// Whether this key is the private half of `certificate`'s public key.
    func matches(_ certificate: Certificate) -> Bool {
        guard let pub = X509_get0_pubkey(certificate.pointer) else { return false }
        return EVP_PKEY_eq(pointer, pub) == 1
    }

    var algorithm: (name: String, bits: Int, curve: String?) { Self.describe(pointer) }

    static func describe(_ key: OpaquePointer) -> (name: String, bits: Int, curve: String?) {
        let bits = Int(EVP_PKEY_get_bits(key))
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA, EVP_PKEY_RSA_PSS: return ("RSA", bits, nil)
        case EVP_PKEY_DSA: return ("DSA", bits, nil)
        case EVP_PKEY_ED25519: return ("Ed25519", bits, nil)
        case EVP_PKEY_ED448: return ("Ed448", bits, nil)
        case EVP_PKEY_EC:
            var buf = [CChar](repeating: 0, count: 64)
            var len = 0
            var curve: String?
            if EVP_PKEY_get_utf8_string_param(key, "group", &buf, buf.count, &len) == 1 {
                let raw = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                curve = ["prime256v1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"][raw] ?? raw
            }
            return ("EC", bits, curve)
        default:
            let name = EVP_PKEY_get0_type_name(key).map { String(cString: $0) } ?? "unknown"
            return (name, bits, nil)
        }
    }

    /// A new key.
    package static func generate(_ spec: KeySpec) throws -> PrivateKey {
        try OpenSSL.ensure()
        let key: OpaquePointer?
        switch spec {
        case .rsa(let bits):
            guard [2048, 3072, 4096].contains(bits) else {
                throw CertVaultError(
                    .invalidArgument,
                    "RSA keys must be 2048, 3072 or 4096 bits, not \(bits)",
                    hint: "Azure requires at least 2048 bits"
                )
            }
            key = cv_keygen_rsa(bits)
        case .ec(let curve):
            key = cv_keygen_ec(curve.opensslName)
        }
        guard let key else { throw OpenSSL.error(.crypto, "key generation failed") }
        return PrivateKey(takingOwnership: key)
    }
}
