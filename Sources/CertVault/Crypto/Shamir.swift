internal import CSodium
import Foundation

/// Shamir's secret sharing over GF(2^8), byte by byte: a secret split into
/// N shares, any K of which give it back and fewer give nothing about it.
///
/// The field is GF(2^8) reduced by x^8 + x^4 + x^3 + x^2 + 1 (0x11D), the one
/// libgfshare uses, so that shares written here are recombined by
/// `gfcombine` and `gfsplit`'s by ``combine(_:)`` (the tests do both). A
/// share is its x-coordinate (never 0: the secret's own point; never
/// repeated) and one byte a byte of the secret.
///
/// Constant time in the secret: the field's multiplication is shifts, XORs
/// and masks, with no table indexed by a secret byte and no branch on one;
/// the inverse is a fixed chain of multiplications (a^254). Only the
/// x-coordinates, which are public, decide anything.
public enum Shamir {
    /// One share: its x-coordinate and its bytes, as long as the secret.
    public struct Share: Sendable {
        /// The x-coordinate, 1 to 255.
        public let x: UInt8
        /// The share's bytes, in locked memory.
        public let y: SecureBytes

        /// A share from its coordinate and bytes.
        public init(x: UInt8, y: SecureBytes) {
            self.x = x
            self.y = y
        }
    }

    /// Splits `secret` into `count` shares, any `threshold` of which give it
    /// back: shares at x = 1, 2, …, `count`, or at `xs` when given.
    /// - Throws: `.invalidArgument` when 2 ≤ threshold ≤ count ≤ 255 does not
    ///   hold, or `xs` holds 0, a repeat, or not `count` values.
    public static func split(
        _ secret: SecureBytes,
        threshold: Int,
        count: Int,
        xs: [UInt8]? = nil
    ) throws -> [Share] {
        guard threshold >= 2, threshold <= count, count <= 255 else {
            throw CertVaultError(
                .invalidArgument,
                "a secret is split into 2 to 255 shares, any 2 or more of them needed (not \(threshold) of \(count))"
            )
        }
        let points = xs ?? (1...count).map { UInt8($0) }
        try requireDistinct(points)
        guard points.count == count else {
            throw CertVaultError(.invalidArgument, "\(count) shares need \(count) x-coordinates, not \(points.count)")
        }
        try Sodium.ensure()
        let length = secret.count
        // Coefficients a1 … a(K-1) of every byte's polynomial, random, in locked memory.
        let coefficients = SecureBytes(randomCount: length * (threshold - 1))
        let shares = points.map { Share(x: $0, y: SecureBytes(count: length)) }
        secret.withUnsafeBytes { s in
            coefficients.withUnsafeBytes { c in
                for share in shares {
                    share.y.withUnsafeMutableBytes { y in
                        for i in 0..<length {
                            // Horner: ((a(K-1) x + a(K-2)) x + … + a1) x + s.
                            var value: UInt8 = 0
                            for j in stride(from: threshold - 2, through: 0, by: -1) {
                                value = GF256.multiply(value ^ c[i * (threshold - 1) + j], share.x)
                            }
                            y[i] = value ^ s[i]
                        }
                    }
                }
            }
        }
        return shares
    }

    /// The secret the polynomial through `shares` gives at 0 (Lagrange).
    ///
    /// Fewer shares than the threshold give a wrong secret, not an error:
    /// nothing in the shares says how many were needed. A caller checks the
    /// result against a commitment.
    /// - Throws: `.invalidArgument` for fewer than 2 shares, an x of 0, a
    ///   repeated x, or shares of different lengths.
    public static func combine(_ shares: [Share]) throws -> SecureBytes {
        guard shares.count >= 2 else {
            throw CertVaultError(.invalidArgument, "a secret comes back from 2 shares or more, not \(shares.count)")
        }
        try requireDistinct(shares.map(\.x))
        let length = shares[0].y.count
        guard shares.allSatisfy({ $0.y.count == length }) else {
            throw CertVaultError(.invalidArgument, "the shares are of different lengths: they are not of one secret")
        }
        // Each share's Lagrange weight at 0: the product of x_j / (x_j - x_i), from public x alone.
        let weights = shares.map { share in
            var numerator: UInt8 = 1
            var denominator: UInt8 = 1
            for other in shares where other.x != share.x {
                numerator = GF256.multiply(numerator, other.x)
                denominator = GF256.multiply(denominator, other.x ^ share.x)
            }
            return GF256.multiply(numerator, GF256.inverse(denominator))
        }
        let secret = SecureBytes(count: length)
        secret.withUnsafeMutableBytes { out in
            for (share, weight) in zip(shares, weights) {
                share.y.withUnsafeBytes { y in
                    for i in 0..<length { out[i] ^= GF256.multiply(y[i], weight) }
                }
            }
        }
        return secret
    }

    static func requireDistinct(_ xs: [UInt8]) throws {
        guard !xs.contains(0) else {
            throw CertVaultError(.invalidArgument, "a share at x = 0 would be the secret itself")
        }
        guard Set(xs).count == xs.count else {
            throw CertVaultError(
                .invalidArgument,
                "the same share (x = \(xs.first { x in xs.filter { $0 == x }.count > 1 }!)) is given twice"
            )
        }
    }
}

/// GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1, in constant time.
enum GF256 {
    /// The reduction polynomial without its x^8 term.
    static let reduction: UInt8 = 0x1D

    /// a × b: eight rounds of shift-and-add, each a mask from a bit, never a
    /// branch or a lookup.
    @inline(__always)
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a
        var b = b
        var product: UInt8 = 0
        for _ in 0..<8 {
            product ^= a & (0 &- (b & 1))
            let carry = 0 &- (a >> 7)
            a = (a << 1) ^ (reduction & carry)
            b >>= 1
        }
        return product
    }

    /// a^-1 = a^254 (a^255 = 1), by a fixed chain of squarings and
    /// multiplications; 0 gives 0.
    static func inverse(_ a: UInt8) -> UInt8 {
        // 254 = 0b11111110: a^2 · a^4 · … · a^128.
        var square = multiply(a, a)
        var result = square
        for _ in 0..<6 {
            square = multiply(square, square)
            result = multiply(result, square)
        }
        return result
    }
}
