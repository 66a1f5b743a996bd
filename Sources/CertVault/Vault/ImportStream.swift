import Foundation
import Synchronization

/// Reads files in batches on worker threads, at most `window` batches ahead
/// of the caller, so that a bulk import holds a bounded number of decrypted
/// files at once, and reading overlaps storing.
///
/// The caller takes batches in order with ``next()`` and must call
/// ``stop()`` when done (it waits for the reading thread to end).
final class ImportStream: Sendable {
    typealias Slot = Result<ImportFile, CertVaultError>

    /// The results of reading `paths[range]`, in order.
    struct Batch: Sendable {
        let range: Range<Int>
        let slots: [Slot]
    }

    private struct State {
        var ready: [Batch] = []
        var finished = false
        var stopped = false
        var done = 0
    }

    private let state = Mutex(State())
    /// Signalled once per batch made, and once more at the end.
    private let made = DispatchSemaphore(value: 0)
    /// How many more batches may be read ahead.
    private let room: DispatchSemaphore
    /// Signalled when the reading thread has ended.
    private let ended = DispatchSemaphore(value: 0)

    /// Starts reading `paths` with `read` (which must not prompt), on
    /// `workers` threads, in batches of `batchSize`.
    init(
        count: Int,
        batchSize: Int,
        window: Int = 2,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
        read: @escaping @Sendable (Int) -> Slot
    ) {
        // Made at zero and signalled up: libdispatch traps when a semaphore
        // is freed below the value it was made with.
        room = DispatchSemaphore(value: 0)
        for _ in 0..<max(1, window) { room.signal() }
        let batchSize = max(1, batchSize)
        let workers = max(1, workers)
        Thread.detachNewThread { [self] in
            defer {
                state.withLock { $0.finished = true }
                made.signal()
                ended.signal()
            }
            for start in stride(from: 0, to: count, by: batchSize) {
                room.wait()
                if state.withLock({ $0.stopped }) { return }
                let range = start..<min(start + batchSize, count)
                let slots = Mutex<[Slot?]>(Array(repeating: nil, count: range.count))
                DispatchQueue.concurrentPerform(iterations: min(workers, range.count)) { worker in
                    for i in stride(from: range.lowerBound + worker, to: range.upperBound, by: workers) {
                        if state.withLock({ $0.stopped }) { return }
                        let slot = read(i)
                        slots.withLock { $0[i - range.lowerBound] = slot }
                        let done = state.withLock { s in
                            s.done += 1
                            return s.done
                        }
                        progress?(done, count)
                    }
                }
                let batch = Batch(range: range, slots: slots.withLock { $0.compactMap { $0 } })
                // A batch cut short by stop() is not handed out.
                guard batch.slots.count == range.count else { return }
                state.withLock { $0.ready.append(batch) }
                made.signal()
            }
        }
    }

    /// The next batch, waiting for it to be read; nil after the last.
    func next() -> Batch? {
        while true {
            made.wait()
            let (batch, finished) = state.withLock { s -> (Batch?, Bool) in
                s.ready.isEmpty ? (nil, s.finished) : (s.ready.removeFirst(), false)
            }
            if let batch {
                room.signal()
                return batch
            }
            if finished {
                made.signal()  // later calls also see the end
                return nil
            }
        }
    }

    /// Stops reading and waits until the reading thread has ended. Batches
    /// not taken are dropped (and their keys freed).
    func stop() {
        let first = state.withLock { s in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
        room.signal()
        ended.wait()
        ended.signal()
        state.withLock { $0.ready.removeAll() }
    }
}
