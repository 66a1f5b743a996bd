internal import CertVaultNative
import Dispatch
import Foundation

/// BLAKE2b digests of rows worked out on another core while this one reads
/// on: the reader copies each row's framed bytes into a chunk and notes
/// where every digest starts, what it takes in and which slot its result
/// goes to; one worker replays the chunks in order.
///
/// The worker touches no database: SQLite stays on the reading thread (GRDB
/// opens connections without SQLite's own mutex). The results are read only
/// after ``results()``, which waits for the worker.
final class DigestPipeline: @unchecked Sendable {
    private enum Op {
        case start(hasher: Int)
        case update(hasher: Int, range: Range<Int>)
        case finish(hasher: Int, slot: Int)
    }

    /// Bytes and the operations over them, handed over whole to the worker.
    private final class Chunk: @unchecked Sendable {
        var bytes: UnsafeMutableRawPointer
        var count = 0
        var capacity: Int
        var ops: [Op] = []

        init(capacity: Int) {
            self.capacity = capacity
            bytes = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }

        deinit { bytes.deallocate() }

        /// Room for `more` bytes past `count`.
        func reserve(_ more: Int) {
            guard count + more > capacity else { return }
            let grown = max(capacity * 2, count + more)
            let next = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
            next.copyMemory(from: bytes, byteCount: count)
            bytes.deallocate()
            bytes = next
            capacity = grown
        }
    }

    /// A chunk is handed over once it holds this many bytes.
    private static let chunkBytes = 1 << 20
    private var chunk = Chunk(capacity: chunkBytes + 8192)
    private let queue = DispatchQueue(label: "certvault.digests", qos: .userInitiated)
    /// At most this many chunks wait for the worker: memory stays bounded.
    private let inFlight = DispatchSemaphore(value: 4)
    // The worker's own state: touched only on `queue`.
    private let hashers: [Hasher]
    private var output: [UInt8] = []

    /// - Parameter hashers: how many digests may be open at once.
    init(hashers: Int) {
        self.hashers = (0..<hashers).map { _ in Hasher() }
    }

    /// Starts a digest on `hasher` under `label`, as ``Hasher/reset(_:)`` does.
    func start(_ hasher: Int, _ label: Hasher.Label) {
        start(hasher)
        label.bytes.withUnsafeBytes { add(hasher, $0) }
    }

    /// Starts a digest on `hasher` with no input, as ``Hasher/reset()`` does.
    func start(_ hasher: Int) {
        chunk.ops.append(.start(hasher: hasher))
    }

    /// Bytes as they are, as ``Hasher/raw(_:)`` takes them.
    func add(_ hasher: Int, _ bytes: UnsafeRawBufferPointer) {
        chunk.reserve(bytes.count)
        let from = chunk.count
        if let base = bytes.baseAddress, bytes.count > 0 {
            (chunk.bytes + from).copyMemory(from: base, byteCount: bytes.count)
        }
        chunk.count += bytes.count
        chunk.ops.append(.update(hasher: hasher, range: from..<chunk.count))
        if chunk.count >= Self.chunkBytes { handOver() }
    }

    /// A marker, as ``Hasher/mark(_:)`` writes it.
    func mark(_ hasher: Int, _ tag: UInt8) {
        var header = [UInt8](repeating: 0, count: 9)
        header[0] = tag
        header.withUnsafeBytes { add(hasher, $0) }
    }

    /// The current row of `statement`, its first `columns` columns framed
    /// as one piece (tag 9): what ``RowDigest`` feeds a hasher for a row.
    func addRow(_ hasher: Int, statement: OpaquePointer, columns: Int32) {
        chunk.reserve(9 + 4096)
        let from = chunk.count
        var n = cv_sqlite_frame_row(
            UnsafeMutableRawPointer(statement),
            columns,
            chunk.bytes + from + 9,
            chunk.capacity - from - 9
        )
        if n > chunk.capacity - from - 9 {
            chunk.reserve(9 + n)
            n = cv_sqlite_frame_row(
                UnsafeMutableRawPointer(statement),
                columns,
                chunk.bytes + from + 9,
                chunk.capacity - from - 9
            )
        }
        let header = chunk.bytes + from
        header.storeBytes(of: UInt8(9), as: UInt8.self)
        withUnsafeBytes(of: UInt64(n).bigEndian) { (header + 1).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        chunk.count += 9 + n
        chunk.ops.append(.update(hasher: hasher, range: from..<chunk.count))
        if chunk.count >= Self.chunkBytes { handOver() }
    }

    /// Ends the digest on `hasher`; its 32 bytes go to `slot`.
    func finish(_ hasher: Int, slot: Int) {
        chunk.ops.append(.finish(hasher: hasher, slot: slot))
    }

    private func handOver() {
        let full = chunk
        chunk = Chunk(capacity: Self.chunkBytes + 8192)
        inFlight.wait()
        queue.async {
            self.run(full)
            self.inFlight.signal()
        }
        // A chunk grown past its size holds a huge row (a file bent by
        // hand): let the worker take it before reading on, so such rows are
        // not held several at a time.
        if full.capacity > 2 * Self.chunkBytes { queue.sync {} }
    }

    /// On the worker: the chunk's operations, in order.
    private func run(_ chunk: Chunk) {
        for op in chunk.ops {
            switch op {
            case .start(let h):
                hashers[h].reset()
            case .update(let h, let range):
                hashers[h].raw(UnsafeRawBufferPointer(start: chunk.bytes + range.lowerBound, count: range.count))
            case .finish(let h, let slot):
                let end = (slot + 1) * 32
                if output.count < end { output.append(contentsOf: repeatElement(0, count: end - output.count)) }
                output.withUnsafeMutableBytes { hashers[h].finish(into: $0.baseAddress! + slot * 32) }
            }
        }
    }

    /// Hands over what is queued, waits for the worker and lets `body` read
    /// the slots finished so far (32 bytes each; a slot past the end, or no
    /// digest went to, is not there or zeros).
    func withResults<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        if !chunk.ops.isEmpty { handOver() }
        return try queue.sync { try output.withUnsafeBytes(body) }
    }

    /// Waits for the worker and returns every slot's 32 bytes, one after
    /// another (zeros for a slot no digest went to).
    /// - Parameter slots: at least this many slots.
    func results(slots: Int) -> [UInt8] {
        var all = withResults { Array($0) }
        if all.count < slots * 32 { all.append(contentsOf: repeatElement(0, count: slots * 32 - all.count)) }
        return all
    }
}
