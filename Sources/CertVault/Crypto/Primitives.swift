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

/// Ed25519 detached signatures for audit records.
enum Signature {
    static let publicKeyBytes = Int(crypto_sign_PUBLICKEYBYTES)
    static let secretKeyBytes = Int(crypto_sign_SECRETKEYBYTES)

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

/// Hashes used for binding and chaining.
enum Digest {
    /// BLAKE2b-256 over the concatenation of `parts`.
    static func blake2b(_ parts: [Data]) -> Data {
        var input = Data()
        for part in parts { input.append(part) }
        var out = Data(count: 32)
        let rc = out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in
                crypto_generichash(
                    o.baseAddress!,
                    32,
                    i.baseAddress,
                    UInt64(i.count),
                    nil,
                    0
                )
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

extension Data {
    /// Upper-case hexadecimal, as Azure shows thumbprints.
    var hexUpper: String { hex(Array("0123456789ABCDEF".utf8)) }
    var hexLower: String { hex(Array("0123456789abcdef".utf8)) }

    private func hex(_ digits: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = Data(capacity: chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = Self.nibble(chars[i]), let lo = Self.nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }

    /// Big-endian 8-byte encoding of an integer, for associated data.
    static func int64(_ v: Int64) -> Data { Swift.withUnsafeBytes(of: v.bigEndian) { Data($0) } }
}
