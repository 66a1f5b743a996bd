import Foundation

/// A kind of key for certvault to generate.
public enum KeySpec: Sendable, Hashable, CustomStringConvertible {
    /// An RSA key of 2048, 3072 or 4096 bits.
    case rsa(bits: Int)
    /// An EC key on a NIST curve.
    case ec(Curve)

    /// The NIST curves certvault generates keys on.
    public enum Curve: String, Sendable, Hashable, CaseIterable {
        /// P-256 (prime256v1).
        case p256
        /// P-384 (secp384r1).
        case p384
        /// P-521 (secp521r1).
        case p521

        var opensslName: String {
            switch self {
            case .p256: return "P-256"
            case .p384: return "P-384"
            case .p521: return "P-521"
            }
        }
    }

    /// RSA 2048: what Azure requires at least, and the default.
    public static let rsa2048 = KeySpec.rsa(bits: 2048)

    /// Parses `rsa:BITS` or `ec:p256|p384|p521`, as a person writes it.
    /// - Throws: `.invalidArgument` naming what is accepted.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count == 2 ? parts[1] : nil) {
        case ("rsa", let bits?):
            guard let n = Int(bits) else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(Display.quoted(text)) names no RSA key size",
                    hint: "use rsa:2048, rsa:3072 or rsa:4096"
                )
            }
            self = .rsa(bits: n)
        case ("ec", let curve?):
            guard let c = Curve(rawValue: curve) else {
                throw CertVaultError(
                    .invalidArgument,
                    "unknown curve \(Display.quoted(curve))",
                    hint: "use ec:p256, ec:p384 or ec:p521"
                )
            }
            self = .ec(c)
        default:
            throw CertVaultError(
                .invalidArgument,
                "unknown key type \(Display.quoted(text))",
                hint: "use rsa:2048, rsa:3072, rsa:4096 or ec:p256"
            )
        }
    }

    /// `rsa:BITS` or `ec:CURVE`.
    public var description: String {
        switch self {
        case .rsa(let bits): return "rsa:\(bits)"
        case .ec(let curve): return "ec:\(curve.rawValue)"
        }
    }
}
