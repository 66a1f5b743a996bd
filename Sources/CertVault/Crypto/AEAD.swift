internal import CSodium
import Foundation

/// XChaCha20-Poly1305 with associated data.
enum AEAD {
    static let keyBytes = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    static let nonceBytes = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)

    /// Encrypts `plaintext` under `key` with a fresh random nonce.
    static func seal(
        _ plaintext: SecureBytes,
        key: SecureBytes,
        associatedData: Data
    ) -> (nonce: Data, ciphertext: Data) {
        let nonce = Sodium.random(nonceBytes)
        var ciphertext = Data(count: plaintext.count + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES))
        var outLen: UInt64 = 0
        let rc = ciphertext.withUnsafeMutableBytes { ct in
            plaintext.withUnsafeBytes { pt in
                key.withUnsafeBytes { k in
                    associatedData.withUnsafeBytes { ad in
                        nonce.withUnsafeBytes { n in
                            crypto_aead_xchacha20poly1305_ietf_encrypt(
                                ct.baseAddress!,
                                &outLen,
                                pt.baseAddress,
                                UInt64(pt.count),
                                ad.baseAddress,
                                UInt64(ad.count),
                                nil,
                                n.baseAddress!,
                                k.baseAddress!
                            )
                        }
                    }
                }
            }
        }
        Sodium.require(rc == 0, "XChaCha20-Poly1305 encryption")
        return (nonce, ciphertext)
    }

    /// Decrypts and authenticates; returns nil if anything was altered.
    static func open(_ ciphertext: Data, nonce: Data, key: SecureBytes, associatedData: Data) -> SecureBytes? {
        let tag = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        guard ciphertext.count >= tag, nonce.count == nonceBytes, key.count == keyBytes else { return nil }
        let plaintext = SecureBytes(count: ciphertext.count - tag)
        var outLen: UInt64 = 0
        let rc = plaintext.withUnsafeMutableBytes { pt in
            ciphertext.withUnsafeBytes { ct in
                key.withUnsafeBytes { k in
                    associatedData.withUnsafeBytes { ad in
                        nonce.withUnsafeBytes { n in
                            crypto_aead_xchacha20poly1305_ietf_decrypt(
                                pt.baseAddress!,
                                &outLen,
                                nil,
                                ct.baseAddress!,
                                UInt64(ct.count),
                                ad.baseAddress,
                                UInt64(ad.count),
                                n.baseAddress!,
                                k.baseAddress!
                            )
                        }
                    }
                }
            }
        }
        return rc == 0 ? plaintext : nil
    }
}
