internal import CSodium
import Foundation

/// An age recipient: an X25519 public key, written `age1…` (bech32).
///
/// What `age-keygen` prints as "public key", and what a person holds in
/// their signed person record so that a file handed to them is encrypted to
/// them (``Session/setAgeRecipient(_:of:)``). Only native X25519 recipients:
/// a plugin's (`age1yubikey1…`) or an SSH key is refused by name.
public struct AgeRecipient: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 32-byte X25519 public key.
    public let publicKey: Data

    /// Reads `age1…`.
    /// - Throws: `.invalidArgument`, saying what is wrong with the text.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func refuse(_ why: String) -> CertVaultError {
            CertVaultError(
                .invalidArgument,
                "'\(Display.escaped(String(trimmed.prefix(80))))' is not an age recipient: \(why)",
                hint: "give the public key age-keygen printed: age1 followed by 58 letters and digits"
            )
        }
        if trimmed.hasPrefix("ssh-") { throw refuse("SSH keys are not supported, only X25519 (age1…)") }
        guard trimmed.lowercased().hasPrefix("age1") else { throw refuse("it does not start with age1") }
        guard let (hrp, data) = Bech32.decode(trimmed) else {
            throw refuse("its checksum or characters are wrong (a typo, or cut short)")
        }
        guard hrp == "age" else {
            throw refuse("it is a plugin's recipient (\(Display.escaped(hrp))), and plugins are not supported")
        }
        guard data.count == 32 else { throw refuse("it holds \(data.count) bytes, not the 32 of an X25519 key") }
        guard try !Self.isLowOrder(Data(data)) else {
            throw refuse("it is a low-order point, which no one holds a key for (a file sealed to it opens for anyone)")
        }
        publicKey = Data(data)
    }

    /// A recipient from its raw public key.
    public init(publicKey: Data) throws {
        guard publicKey.count == 32 else {
            throw CertVaultError(.invalidArgument, "an X25519 public key has 32 bytes, not \(publicKey.count)")
        }
        self.publicKey = publicKey
    }

    /// Whether X25519 with `point` gives zeros whatever the scalar: a point
    /// of small order (libsodium refuses the result).
    static func isLowOrder(_ point: Data) throws -> Bool {
        try Sodium.ensure()
        let scalar = SecureBytes(randomCount: 32)
        var out = Data(count: 32)
        let rc = out.withUnsafeMutableBytes { o in
            scalar.withUnsafeBytes { s in
                point.withUnsafeBytes { p in crypto_scalarmult(o.baseAddress!, s.baseAddress!, p.baseAddress!) }
            }
        }
        return rc != 0
    }

    /// `age1…`, lower case.
    public var description: String { Bech32.encode(hrp: "age", data: [UInt8](publicKey)) }

    public init(from decoder: Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The age file format, version 1 (age-encryption.org/v1), for writing:
/// a random file key wrapped to each X25519 recipient, the header's MAC,
/// and the payload in ChaCha20-Poly1305 STREAM chunks of 64 KiB. What
/// `age -d -i KEY` (and rage, and any age library) decrypts.
enum Age {
    static let chunkSize = 64 * 1024
    static let x25519Label = Data("age-encryption.org/v1/X25519".utf8)

    /// `plaintext` encrypted to every recipient (at least one).
    static func encrypt(_ plaintext: UnsafeRawBufferPointer, to recipients: [AgeRecipient]) throws -> Data {
        precondition(!recipients.isEmpty)
        try Sodium.ensure()
        let fileKey = SecureBytes(randomCount: 16)
        var header = "age-encryption.org/v1\n"
        for recipient in recipients {
            let (share, body) = try wrap(fileKey, to: recipient)
            header += "-> X25519 \(base64(share))\n"
            header += wrapped(base64(body))
        }
        header += "---"
        let macKey = fileKey.withUnsafeBytes {
            HKDF.sha256(ikm: $0, salt: Data(), info: Data("header".utf8), count: 32)
        }
        let mac = HMAC.sha256(key: macKey, message: Data(header.utf8))
        var out = Data((header + " " + base64(mac) + "\n").utf8)
        let nonce = Sodium.random(16)
        out.append(nonce)
        let payloadKey = fileKey.withUnsafeBytes {
            HKDF.sha256(ikm: $0, salt: nonce, info: Data("payload".utf8), count: 32)
        }
        out.append(stream(plaintext, key: payloadKey))
        return out
    }

    /// The recipient stanza's ephemeral share and the file key wrapped to `recipient`.
    static func wrap(_ fileKey: SecureBytes, to recipient: AgeRecipient) throws -> (share: Data, body: Data) {
        let ephemeral = SecureBytes(randomCount: 32)
        var share = Data(count: 32)
        let shared = SecureBytes(count: 32)
        var rc = share.withUnsafeMutableBytes { s in
            ephemeral.withUnsafeBytes { e in crypto_scalarmult_base(s.baseAddress!, e.baseAddress!) }
        }
        Sodium.require(rc == 0, "X25519")
        rc = shared.withUnsafeMutableBytes { out in
            ephemeral.withUnsafeBytes { e in
                recipient.publicKey.withUnsafeBytes { p in
                    crypto_scalarmult(out.baseAddress!, e.baseAddress!, p.baseAddress!)
                }
            }
        }
        // An all-zero shared secret: a low-order point, not a key anyone holds.
        guard rc == 0 else {
            throw CertVaultError(.invalidArgument, "\(recipient) is not a usable X25519 key (a low-order point)")
        }
        let wrapKey = shared.withUnsafeBytes {
            HKDF.sha256(ikm: $0, salt: share + recipient.publicKey, info: x25519Label, count: 32)
        }
        let body = fileKey.withUnsafeBytes { seal($0, key: wrapKey, nonce: Data(count: 12)) }
        return (share, body)
    }

    /// The STREAM construction: 64 KiB chunks, each sealed under a nonce of
    /// an 11-byte big-endian counter and a last-chunk flag. An empty
    /// payload is one empty last chunk; a payload of whole chunks ends with
    /// a full last chunk.
    static func stream(_ plaintext: UnsafeRawBufferPointer, key: SecureBytes) -> Data {
        var out = Data()
        out.reserveCapacity(plaintext.count + (plaintext.count / chunkSize + 1) * 16)
        var offset = 0
        var counter: UInt64 = 0
        repeat {
            let end = min(offset + chunkSize, plaintext.count)
            let last = end == plaintext.count
            var nonce = Data(count: 12)
            for i in 0..<8 { nonce[10 - i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))) }
            nonce[11] = last ? 1 : 0
            out.append(seal(UnsafeRawBufferPointer(rebasing: plaintext[offset..<end]), key: key, nonce: nonce))
            offset = end
            counter += 1
        } while offset < plaintext.count
        return out
    }

    /// ChaCha20-Poly1305 (IETF, 12-byte nonce), no associated data.
    static func seal(_ plaintext: UnsafeRawBufferPointer, key: SecureBytes, nonce: Data) -> Data {
        var out = Data(count: plaintext.count + Int(crypto_aead_chacha20poly1305_ietf_ABYTES))
        var length: UInt64 = 0
        let rc = out.withUnsafeMutableBytes { o in
            key.withUnsafeBytes { k in
                nonce.withUnsafeBytes { n in
                    crypto_aead_chacha20poly1305_ietf_encrypt(
                        o.baseAddress!,
                        &length,
                        plaintext.baseAddress,
                        UInt64(plaintext.count),
                        nil,
                        0,
                        nil,
                        n.baseAddress!,
                        k.baseAddress!
                    )
                }
            }
        }
        Sodium.require(rc == 0, "ChaCha20-Poly1305 encryption")
        return out
    }

    /// Standard base64 without padding, as age writes it.
    static func base64(_ data: Data) -> String {
        var text = data.base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// A stanza body: lines of 64 columns, the last one shorter (empty
    /// when the body fills its lines).
    static func wrapped(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while rest.count >= 64 {
            out += rest.prefix(64) + "\n"
            rest = rest.dropFirst(64)
        }
        return out + rest + "\n"
    }
}

/// HMAC-SHA-256 (libsodium's, which takes a key of any length).
enum HMAC {
    static func sha256(key: SecureBytes, message: Data) -> Data {
        key.withUnsafeBytes { k in message.withUnsafeBytes { m in sha256(key: k, parts: [m]) } }
    }

    static func sha256(key: UnsafeRawBufferPointer, parts: [UnsafeRawBufferPointer]) -> Data {
        var state = crypto_auth_hmacsha256_state()
        var out = Data(count: Int(crypto_auth_hmacsha256_BYTES))
        var rc: Int32
        if let base = key.baseAddress {
            rc = crypto_auth_hmacsha256_init(&state, base.assumingMemoryBound(to: UInt8.self), key.count)
        } else {
            // An empty key (HKDF's empty salt) still needs an address to point at.
            var none: UInt8 = 0
            rc = crypto_auth_hmacsha256_init(&state, &none, 0)
        }
        for part in parts where part.count > 0 {
            rc |= crypto_auth_hmacsha256_update(
                &state,
                part.baseAddress!.assumingMemoryBound(to: UInt8.self),
                UInt64(part.count)
            )
        }
        rc |= out.withUnsafeMutableBytes { o in
            crypto_auth_hmacsha256_final(&state, o.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        Sodium.require(rc == 0, "HMAC-SHA-256")
        sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
        return out
    }
}

/// HKDF with SHA-256 (RFC 5869), on HMAC-SHA-256: Debian 12's libsodium
/// (1.0.18) has no HKDF. The output is a secret: it lands in secure memory.
enum HKDF {
    static func sha256(ikm: UnsafeRawBufferPointer, salt: Data, info: Data, count: Int) -> SecureBytes {
        precondition(count <= 255 * 32)
        // Extract: an empty salt is HashLen zeros, the same key to HMAC.
        let prk = SecureBytes(count: 32)
        salt.withUnsafeBytes { s in
            let mac = HMAC.sha256(key: s, parts: [ikm])
            prk.withUnsafeMutableBytes { p in mac.withUnsafeBytes { p.copyMemory(from: $0) } }
        }
        // Expand.
        let out = SecureBytes(count: count)
        var previous = Data()
        var filled = 0
        var i: UInt8 = 1
        while filled < count {
            let block = prk.withUnsafeBytes { k in
                previous.withUnsafeBytes { p in
                    info.withUnsafeBytes { inf in
                        withUnsafeBytes(of: i) { n in HMAC.sha256(key: k, parts: [p, inf, n]) }
                    }
                }
            }
            let take = min(32, count - filled)
            out.withUnsafeMutableBytes { o in
                block.withUnsafeBytes { b in (o.baseAddress! + filled).copyMemory(from: b.baseAddress!, byteCount: take)
                }
            }
            filled += take
            previous = block
            i &+= 1
        }
        return out
    }
}

/// Bech32 (BIP 173), as age writes its keys: any length, one case.
enum Bech32 {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> i) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    static func expand(_ hrp: [UInt8]) -> [UInt8] { hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 } }

    static func encode(hrp: String, data: [UInt8]) -> String {
        let h = Array(hrp.utf8)
        let values = convert(data, from: 8, to: 5, pad: true)!
        let check = polymod(expand(h) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8((check >> (5 * (5 - UInt32($0)))) & 31) }
        return hrp + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    /// The human-readable part and the data, or nil when the text is not
    /// valid bech32 (mixed case, a character outside the set, a checksum
    /// that does not hold, padding bits set).
    static func decode(_ text: String) -> (hrp: String, data: [UInt8])? {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 >= 33 && $0 <= 126 }) else { return nil }
        let lower = text.lowercased()
        guard text == lower || text == text.uppercased() else { return nil }
        let all = Array(lower.utf8)
        guard let separator = all.lastIndex(of: UInt8(ascii: "1")), separator >= 1, all.count - separator - 1 >= 6
        else { return nil }
        let hrp = Array(all[..<separator])
        var values: [UInt8] = []
        for c in all[(separator + 1)...] {
            guard let v = charset.firstIndex(of: c) else { return nil }
            values.append(UInt8(v))
        }
        guard polymod(expand(hrp) + values) == 1 else { return nil }
        guard let data = convert(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { return nil }
        return (String(decoding: hrp, as: UTF8.self), data)
    }

    static func convert(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var acc = 0
        var bits = 0
        var out: [UInt8] = []
        let maxv = (1 << to) - 1
        for value in data {
            acc = ((acc << from) | Int(value)) & ((1 << (from + to - 1)) - 1)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((acc >> bits) & maxv))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((acc << (to - bits)) & maxv)) }
        } else if bits >= from || (acc << (to - bits)) & maxv != 0 {
            return nil
        }
        return out
    }
}
