internal import CSodium
import Foundation
import Synchronization

/// Locked memory for small secrets, so that a key read from a file does not
/// cost an `mmap`, four `mprotect`s and an `mlock` (and, freed, as many
/// calls again plus a TLB shootdown on every core): a bulk import holds
/// three such secrets a file.
///
/// Blocks of a few sizes are cut from chunks that `sodium_malloc` gives
/// (guard pages around each chunk, locked in memory where the system
/// allows, never swapped out, never in a core dump). A block given back is
/// zeroed at once and kept for the next secret of its size; chunks are kept
/// for the life of the process. Secrets larger than the largest block get
/// their own `sodium_malloc`, guard pages and all.
///
/// The trade: a block has no guard page of its own, so an overrun inside
/// a chunk reaches the next block instead of faulting; every access goes
/// through ``SecureBytes``, which checks bounds.
final class SecurePool: Sendable {
    static let shared = SecurePool()

    /// Block sizes, each a power of two; the last is the largest pooled secret (+1 for the NUL).
    static let blockSizes = [64, 256, 1024, 4096]
    /// Bytes per chunk.
    static let chunkSize = 64 << 10

    /// Addresses of free blocks, per class, and of the chunks.
    private struct State {
        var free: [[UInt]]
        var chunks: [UInt] = []
    }
    private let state = Mutex<State>(State(free: Array(repeating: [], count: SecurePool.blockSizes.count)))

    /// The size class for `size` bytes, or nil when too large to pool.
    static func sizeClass(_ size: Int) -> Int? { blockSizes.firstIndex { size <= $0 } }

    /// A zeroed block of at least `size` bytes, and its class; nil class
    /// when it came from `sodium_malloc` on its own.
    func allocate(_ size: Int) -> (UnsafeMutableRawPointer, Int?) {
        guard let sizeClass = Self.sizeClass(size) else {
            guard let p = sodium_malloc(size) else { fatalError("sodium_malloc failed") }
            sodium_memzero(p, size)
            return (p, nil)
        }
        let address = state.withLock { s -> UInt in
            if let p = s.free[sizeClass].popLast() { return p }
            // A new chunk, cut into blocks of this class.
            guard let chunk = sodium_malloc(Self.chunkSize) else { fatalError("sodium_malloc failed") }
            sodium_memzero(chunk, Self.chunkSize)
            let base = UInt(bitPattern: chunk)
            s.chunks.append(base)
            let blockSize = Self.blockSizes[sizeClass]
            for offset in stride(from: Self.chunkSize - blockSize, to: 0, by: -blockSize) {
                s.free[sizeClass].append(base + UInt(offset))
            }
            return base
        }
        return (UnsafeMutableRawPointer(bitPattern: address)!, sizeClass)
    }

    /// Zeroes a block and keeps it for reuse (or frees one of its own).
    func release(_ pointer: UnsafeMutableRawPointer, sizeClass: Int?) {
        guard let sizeClass else {
            sodium_free(pointer)
            return
        }
        sodium_memzero(pointer, Self.blockSizes[sizeClass])
        let address = UInt(bitPattern: pointer)
        state.withLock { $0.free[sizeClass].append(address) }
    }

    /// Chunks taken so far (for tests).
    var chunkCount: Int { state.withLock { $0.chunks.count } }
}
