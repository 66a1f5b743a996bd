internal import CSodium
import Foundation

/// Hashes used for binding and chaining.
enum Digest {
    /// BLAKE2b-256 over the concatenation of `parts`.
    static func blake2b(_ parts: [Data]) -> Data {
        var input = Data()
        for part in parts { input.append(part) }
        return input.withUnsafeBytes { blake2b($0) }
    }

    /// BLAKE2b-256 of bytes in place.
    static func blake2b(_ input: UnsafeRawBufferPointer) -> Data {
        var out = Data(count: 32)
        let rc = out.withUnsafeMutableBytes { o in
            crypto_generichash(o.baseAddress!, 32, input.baseAddress, UInt64(input.count), nil, 0)
        }
        Sodium.require(rc == 0, "BLAKE2b")
        return out
    }

    /// BLAKE2b-256 of `secret` under `key` (32 bytes), into secure memory:
    /// a secret's stand-in that can be compared without keeping the secret.
    static func keyedBLAKE2b(_ secret: SecureBytes, key: SecureBytes) -> SecureBytes {
        let out = SecureBytes(count: 32)
        let rc = out.withUnsafeMutableBytes { o in
            secret.withUnsafeBytes { s in
                key.withUnsafeBytes { k in
                    crypto_generichash(
                        o.baseAddress!,
                        32,
                        s.baseAddress,
                        UInt64(s.count),
                        k.baseAddress,
                        k.count
                    )
                }
            }
        }
        Sodium.require(rc == 0, "BLAKE2b")
        return out
    }

    static func sha256(_ data: Data) -> Data { data.withUnsafeBytes { sha256($0) } }

    /// SHA-256 of bytes in place (a secret need not be copied to be hashed).
    static func sha256(_ bytes: UnsafeRawBufferPointer) -> Data {
        var out = Data(count: Int(crypto_hash_sha256_BYTES))
        let rc = out.withUnsafeMutableBytes { o in
            crypto_hash_sha256(
                o.baseAddress!,
                bytes.baseAddress,
                UInt64(bytes.count)
            )
        }
        Sodium.require(rc == 0, "SHA-256")
        return out
    }
}
