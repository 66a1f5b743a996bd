internal import CSodium
import Foundation

/// Incremental BLAKE2b-256, for digests over many small pieces (every column
/// of every row) without first concatenating them.
///
/// Each piece is framed by ``add(_:)`` and friends with a type tag and a
/// length, so that no two different sequences of values hash alike.
final class Hasher {
    /// libsodium's state is 64-byte aligned, which Swift cannot declare:
    /// it lives in memory of its own.
    private let state: OpaquePointer

    /// Starts a digest whose first input is the domain-separation `label`.
    convenience init(label: String) {
        self.init()
        add(Data(label.utf8))
    }

    /// Starts a digest with no input.
    init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        state = OpaquePointer(raw)
        reset()
    }

    deinit { UnsafeMutableRawPointer(state).deallocate() }

    /// Starts over, as a new hasher with `label` would (no allocation:
    /// for digesting many small things one after another).
    func reset(label: String) {
        reset()
        add(Data(label.utf8))
    }

    /// Bytes as they are, without framing: for a digest whose encoding is
    /// defined elsewhere (the audit chain's).
    func raw(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        crypto_generichash_update(state, bytes.baseAddress, UInt64(bytes.count))
    }

    private func raw(tag: UInt8, length: Int) {
        var header = (tag, UInt64(length).bigEndian)
        withUnsafeBytes(of: &header.0) { raw($0) }
        withUnsafeBytes(of: &header.1) { raw($0) }
    }

    /// Bytes, framed with their length.
    func add(_ data: Data) { data.withUnsafeBytes { add(tag: 2, $0) } }

    func add(tag: UInt8, _ bytes: UnsafeRawBufferPointer) {
        raw(tag: tag, length: bytes.count)
        raw(bytes)
    }

    func add(_ value: Int64) {
        var v = value.bigEndian
        raw(tag: 1, length: 8)
        withUnsafeBytes(of: &v) { raw($0) }
    }

    func add(_ text: String) { add(Data(text.utf8)) }

    /// A marker with no payload (an absent value, a section boundary).
    func mark(_ tag: UInt8) { raw(tag: tag, length: 0) }

    /// Starts over with no input at all.
    func reset() {
        let rc = crypto_generichash_init(state, nil, 0, 32)
        precondition(rc == 0, "BLAKE2b-256 is always available")
    }

    /// Starts over with the bytes a ``Label`` framed once: what
    /// ``reset(label:)`` does, without making those bytes again.
    func reset(_ label: Label) {
        reset()
        label.bytes.withUnsafeBytes { raw($0) }
    }

    /// A label framed as ``add(_:)-(Data)`` frames it, made once for digesting many things under it.
    struct Label: Sendable {
        let bytes: [UInt8]
        init(_ text: String) {
            bytes = [2] + withUnsafeBytes(of: UInt64(text.utf8.count).bigEndian) { Array($0) } + Array(text.utf8)
        }
    }

    /// Writes the 32-byte digest to `out`; the hasher must be reset before it is used again.
    func finish(into out: UnsafeMutableRawPointer) {
        let rc = crypto_generichash_final(state, out, 32)
        precondition(rc == 0, "a hasher is finished once")
    }

    /// The 32-byte digest; the hasher must not be used afterwards.
    func finish() -> Data {
        var out = Data(count: 32)
        let rc = out.withUnsafeMutableBytes { o in crypto_generichash_final(state, o.baseAddress!, 32) }
        precondition(rc == 0, "a hasher is finished once")
        return out
    }
}
