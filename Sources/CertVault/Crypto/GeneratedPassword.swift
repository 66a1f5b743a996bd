import Foundation

/// A strong random password for an exported file.
public enum GeneratedPassword {
    /// 24 characters from a 57-character alphabet without look-alikes
    /// (about 140 bits), in secure storage.
    public static func make() -> SecureBytes {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789".utf8)
        let out = SecureBytes(count: 24)
        let random = SecureBytes(randomCount: 24 * 4)
        out.withUnsafeMutableBytes { dst in
            random.withUnsafeBytes { r in
                for i in 0..<24 {
                    // Rejection-free with negligible bias: 32 random bits per character.
                    let v =
                        UInt32(r[4 * i]) << 24 | UInt32(r[4 * i + 1]) << 16 | UInt32(r[4 * i + 2]) << 8
                        | UInt32(r[4 * i + 3])
                    dst[i] = alphabet[Int((UInt64(v) * UInt64(alphabet.count)) >> 32)]
                }
            }
        }
        return out
    }
}
