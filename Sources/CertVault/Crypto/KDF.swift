internal import CSodium
import Foundation
import Synchronization

/// Cost of the passphrase key derivation (Argon2id).
public enum KDFStrength: String, CaseIterable, Sendable, Codable {
    /// libsodium's INTERACTIVE limits: 2 passes, 64 MiB. For tests and scripts.
    case interactive
    /// 3 passes, 256 MiB: the default.
    case moderate
    /// libsodium's SENSITIVE limits: 4 passes, 1 GiB.
    case sensitive

    var opsLimit: UInt64 {
        switch self {
        case .interactive: return UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE)
        case .moderate: return 3
        case .sensitive: return UInt64(crypto_pwhash_OPSLIMIT_SENSITIVE)
        }
    }

    var memLimit: UInt64 {
        switch self {
        case .interactive: return UInt64(crypto_pwhash_MEMLIMIT_INTERACTIVE)
        case .moderate: return 256 << 20
        case .sensitive: return UInt64(crypto_pwhash_MEMLIMIT_SENSITIVE)
        }
    }
}

/// Argon2id parameters as stored with a keyslot, so they can be raised later.
struct KDFParameters: Sendable {
    static let algorithm = "argon2id13"
    /// What a stored keyslot may ask for; anything else is a damaged keyslot.
    static let opsLimitRange: ClosedRange<Int64> = 1...1_000
    static let memLimitRange: ClosedRange<Int64> = 8_192...(16 << 30)
    static let saltBytes = Int(crypto_pwhash_SALTBYTES)
    var opsLimit: UInt64
    var memLimit: UInt64
    var salt: Data

    init(strength: KDFStrength) {
        opsLimit = strength.opsLimit
        memLimit = strength.memLimit
        salt = Sodium.random(Int(crypto_pwhash_SALTBYTES))
    }

    init(opsLimit: UInt64, memLimit: UInt64, salt: Data) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
        self.salt = salt
    }
}

/// Passphrase → key-encryption key. The only code that ever sees a passphrase.
enum KDF {
    /// How many derivations this process has run (tests prove one per command).
    static let derivations = Mutex<Int>(0)

    static func deriveKey(passphrase: SecureBytes, parameters: KDFParameters) throws -> SecureBytes {
        try Sodium.ensure()
        guard parameters.salt.count == Int(crypto_pwhash_SALTBYTES) else {
            throw CertVaultError(.corruptVault, "keyslot salt has the wrong length")
        }
        derivations.withLock { $0 += 1 }
        let key = SecureBytes(count: Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES))
        let rc = key.withUnsafeMutableBytes { out in
            passphrase.withUnsafeBytes { pw in
                parameters.salt.withUnsafeBytes { salt in
                    crypto_pwhash(
                        out.baseAddress!,
                        UInt64(out.count),
                        pw.baseAddress!,
                        UInt64(pw.count),
                        salt.baseAddress!,
                        parameters.opsLimit,
                        Int(parameters.memLimit),
                        crypto_pwhash_ALG_ARGON2ID13
                    )
                }
            }
        }
        guard rc == 0 else {
            throw CertVaultError(.crypto, "Argon2id failed (not enough memory for \(parameters.memLimit >> 20) MiB?)")
        }
        return key
    }
}
