internal import CSodium
import Foundation

/// X25519 sealed boxes: how an entry's data key reaches a person.
enum SealedBox {
    static let publicKeyBytes = Int(crypto_box_PUBLICKEYBYTES)
    static let secretKeyBytes = Int(crypto_box_SECRETKEYBYTES)

    static func keyPair() -> (publicKey: Data, secretKey: SecureBytes) {
        var pk = Data(count: publicKeyBytes)
        let sk = SecureBytes(count: secretKeyBytes)
        let rc = pk.withUnsafeMutableBytes { p in
            sk.withUnsafeMutableBytes { s in
                crypto_box_keypair(
                    p.baseAddress!,
                    s.baseAddress!
                )
            }
        }
        Sodium.require(rc == 0, "X25519 key generation")
        return (pk, sk)
    }

    /// The X25519 public key of a secret key.
    static func publicKey(for secretKey: SecureBytes) -> Data {
        var pk = Data(count: publicKeyBytes)
        let rc = pk.withUnsafeMutableBytes { p in
            secretKey.withUnsafeBytes { s in
                crypto_scalarmult_base(
                    p.baseAddress!,
                    s.baseAddress!
                )
            }
        }
        Sodium.require(rc == 0, "X25519 public key")
        return pk
    }

    static func seal(_ message: SecureBytes, to publicKey: Data) throws -> Data {
        guard publicKey.count == publicKeyBytes else {
            throw CertVaultError(.corruptVault, "a public key has the wrong length")
        }
        var out = Data(count: message.count + crypto_box_sealbytes())
        let rc = out.withUnsafeMutableBytes { o in
            message.withUnsafeBytes { m in
                publicKey.withUnsafeBytes { pk in
                    crypto_box_seal(
                        o.baseAddress!,
                        m.baseAddress!,
                        UInt64(m.count),
                        pk.baseAddress!
                    )
                }
            }
        }
        guard rc == 0 else { throw CertVaultError(.crypto, "crypto_box_seal failed") }
        return out
    }

    static func open(_ sealed: Data, publicKey: Data, secretKey: SecureBytes) -> SecureBytes? {
        let overhead = crypto_box_sealbytes()
        guard sealed.count >= overhead, publicKey.count == publicKeyBytes, secretKey.count == secretKeyBytes else {
            return nil
        }
        let out = SecureBytes(count: sealed.count - overhead)
        let rc = out.withUnsafeMutableBytes { o in
            sealed.withUnsafeBytes { c in
                publicKey.withUnsafeBytes { pk in
                    secretKey.withUnsafeBytes { sk in
                        crypto_box_seal_open(
                            o.baseAddress!,
                            c.baseAddress!,
                            UInt64(c.count),
                            pk.baseAddress!,
                            sk.baseAddress!
                        )
                    }
                }
            }
        }
        return rc == 0 ? out : nil
    }
}
