internal import CSodium
import Foundation

/// Ed25519 detached signatures for audit records.
package enum Signature {
    static let publicKeyBytes = Int(crypto_sign_PUBLICKEYBYTES)
    static let secretKeyBytes = Int(crypto_sign_SECRETKEYBYTES)

    /// libsodium's Ed25519 verify rate on one core (signatures a second):
    /// the limit `certvault-bench` sets `audit verify` beside.
    package static func singleCoreVerifyRate(count: Int = 20_000) -> Double {
        let (pk, sk) = keyPair()
        let messages = (0..<count).map { Digest.sha256(Data("record \($0)".utf8)) }
        let signatures = messages.map { sign($0, secretKey: sk) }
        let start = DispatchTime.now().uptimeNanoseconds
        var valid = 0
        for (m, s) in zip(messages, signatures) where verify(s, message: m, publicKey: pk) { valid += 1 }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(valid == count)
        return Double(count) / seconds
    }

    static func keyPair() -> (publicKey: Data, secretKey: SecureBytes) {
        var pk = Data(count: publicKeyBytes)
        let sk = SecureBytes(count: secretKeyBytes)
        let rc = pk.withUnsafeMutableBytes { p in
            sk.withUnsafeMutableBytes { s in
                crypto_sign_keypair(
                    p.baseAddress!,
                    s.baseAddress!
                )
            }
        }
        Sodium.require(rc == 0, "Ed25519 key generation")
        return (pk, sk)
    }

    static func sign(_ message: Data, secretKey: SecureBytes) -> Data {
        var sig = Data(count: Int(crypto_sign_BYTES))
        let rc = sig.withUnsafeMutableBytes { s in
            message.withUnsafeBytes { m in
                secretKey.withUnsafeBytes { sk in
                    crypto_sign_detached(
                        s.baseAddress!,
                        nil,
                        m.baseAddress,
                        UInt64(m.count),
                        sk.baseAddress!
                    )
                }
            }
        }
        Sodium.require(rc == 0, "Ed25519 signature")
        return sig
    }

    static func verify(_ signature: Data, message: Data, publicKey: Data) -> Bool {
        guard signature.count == Int(crypto_sign_BYTES), publicKey.count == publicKeyBytes else { return false }
        return signature.withUnsafeBytes { s in
            message.withUnsafeBytes { m in
                publicKey.withUnsafeBytes { pk in
                    crypto_sign_verify_detached(
                        s.baseAddress!,
                        m.baseAddress,
                        UInt64(m.count),
                        pk.baseAddress!
                    ) == 0
                }
            }
        }
    }
}
