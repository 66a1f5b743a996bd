internal import CSodium
import Foundation

/// Bytes that must stay secret: passphrases, keys, decrypted PKCS#8.
///
/// The storage is locked memory from `sodium_malloc` (`mlock`ed where the
/// system allows): small secrets share guarded chunks (a pool of locked pages),
/// larger ones get guard pages of their own. It is zeroed when the last
/// reference goes.
/// A NUL byte always follows the contents so that a passphrase can be handed
/// to C as a string without copying it. Access is scoped: callers never keep
/// the pointer.
public final class SecureBytes: @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer
    /// The pool's size class of the block, or nil for a `sodium_malloc` of its own.
    private let sizeClass: Int?
    /// The number of secret bytes (not counting the trailing NUL).
    public let count: Int

    /// Zero-filled storage of `count` bytes.
    public init(count: Int) {
        precondition(count >= 0)
        _ = try? Sodium.ensure()
        // Zeroed; out of locked memory is not recoverable in any useful way.
        (pointer, sizeClass) = SecurePool.shared.allocate(count + 1)
        self.count = count
    }

    /// A copy of `bytes` in secure storage: from a `Data`, a `[UInt8]` or a
    /// raw buffer (which the caller then clears, if it held a secret).
    public convenience init(copying bytes: some ContiguousBytes) {
        let count = bytes.withUnsafeBytes { $0.count }
        self.init(count: count)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, count > 0 {
                pointer.copyMemory(from: base, byteCount: count)
            }
        }
    }

    /// `count` random bytes.
    public convenience init(randomCount count: Int) {
        self.init(count: count)
        randombytes_buf(pointer, count)
    }

    /// A copy of the UTF-8 bytes of a string. Meant for tests and for values
    /// that are already in ordinary memory; prompts read into secure storage
    /// directly.
    public convenience init(utf8 string: String) {
        var s = string
        self.init(count: s.utf8.count)
        s.withUTF8 { buf in
            if buf.count > 0 { pointer.copyMemory(from: buf.baseAddress!, byteCount: buf.count) }
        }
    }

    deinit { SecurePool.shared.release(pointer, sizeClass: sizeClass) }

    /// Overwrites the contents with zeros now, before the last reference
    /// goes (``Session/lock()``).
    public func wipe() { sodium_memzero(pointer, count + 1) }

    /// Runs `body` on the contents (without the trailing NUL); the buffer
    /// must not escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    package func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// The contents as a NUL-terminated C string (valid only inside `body`).
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try body(pointer.bindMemory(to: CChar.self, capacity: count + 1))
    }

    /// A new buffer holding `range` of this one.
    package func slice(_ range: Range<Int>) -> SecureBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// A new buffer holding this one followed by `other`.
    func appending(_ other: SecureBytes) -> SecureBytes { other.withUnsafeBytes(appending) }

    /// A new buffer holding this one followed by public bytes.
    func appending(_ tail: Data) -> SecureBytes { tail.withUnsafeBytes(appending) }

    private func appending(_ tail: UnsafeRawBufferPointer) -> SecureBytes {
        let out = SecureBytes(count: count + tail.count)
        out.withUnsafeMutableBytes { dst in
            withUnsafeBytes {
                if $0.count > 0 { dst.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            if tail.count > 0 { (dst.baseAddress! + count).copyMemory(from: tail.baseAddress!, byteCount: tail.count) }
        }
        return out
    }

    /// Constant-time comparison.
    public func isEqual(to other: SecureBytes) -> Bool {
        guard count == other.count else { return false }
        return sodium_memcmp(pointer, other.pointer, count) == 0
    }

    /// Whether a NUL byte is among the bytes: OpenSSL takes passwords as C
    /// strings and would silently use only the part before it.
    public var containsNUL: Bool {
        withUnsafeBytes { $0.contains(0) }
    }
}
