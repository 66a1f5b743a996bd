import Foundation
import Synchronization

/// Reads files on worker threads, at most `window` files ahead of the
/// caller, so that a bulk import holds a bounded number of decrypted files
/// at once, and reading overlaps storing (and the passphrase's key
/// derivation, when the stream starts before the unlock).
///
/// Each worker takes the next file as soon as it is done with one: no
/// worker waits for another's slow file. The caller takes the files in
/// order with ``next()`` and must call ``stop()`` when done (it waits for
/// the workers to end).
final class ImportStream: Sendable {
    typealias Slot = Result<ImportFile, CertVaultError>

    /// The results of reading `paths[range]`, in order.
    struct Batch: Sendable {
        let range: Range<Int>
        let slots: [Slot]
    }

    private struct State {
        /// Files read and not yet taken, by index.
        var ready: [Int: Slot] = [:]
        /// The next index a worker takes.
        var nextToRead = 0
        /// The next index the caller takes.
        var nextToTake = 0
        var stopped = false
        var done = 0
        var workersLeft = 0
    }

    private let count: Int
    private let window: Int
    private let state: Mutex<State>
    /// Wakes workers waiting for room and the caller waiting for a file.
    private let changed = NSCondition()
    /// Signalled when the last worker has ended.
    private let ended = DispatchSemaphore(value: 0)

    /// Starts reading `count` files with `read` (which must not prompt), on
    /// `workers` threads, at most `window` files ahead of the caller.
    init(
        count: Int,
        window: Int,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
        read: @escaping @Sendable (Int) -> Slot
    ) {
        self.count = count
        self.window = max(1, window)
        let workers = max(1, min(workers, count))
        state = Mutex(State(workersLeft: workers))
        for _ in 0..<workers {
            Thread.detachNewThread { [self] in
                defer {
                    let last = state.withLock { s in
                        s.workersLeft -= 1
                        return s.workersLeft == 0
                    }
                    if last { ended.signal() }
                    wake()
                }
                while let i = claim() {
                    let slot = read(i)
                    let done = state.withLock { s in
                        if !s.stopped { s.ready[i] = slot }
                        s.done += 1
                        return s.done
                    }
                    wake()
                    progress?(done, count)
                }
            }
        }
    }

    private func wake() {
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    /// The next index to read, waiting for room in the window; nil when
    /// every file is taken or the stream stopped.
    private func claim() -> Int? {
        changed.lock()
        defer { changed.unlock() }
        while true {
            let claimed = state.withLock { s -> Int?? in
                if s.stopped || s.nextToRead >= count { return .some(nil) }
                // No room yet: wait (the outer nil).
                guard s.nextToRead < s.nextToTake + window else { return Int??.none }
                defer { s.nextToRead += 1 }
                return s.nextToRead
            }
            if let claimed { return claimed }
            changed.wait()
        }
    }

    /// The next files in order (at least one), waiting for the first of
    /// them to be read; nil after the last.
    func next() -> Batch? {
        changed.lock()
        defer { changed.unlock() }
        while true {
            let batch = state.withLock { s -> Batch?? in
                if s.stopped || s.nextToTake >= count { return .some(nil) }
                var slots: [Slot] = []
                let start = s.nextToTake
                while let slot = s.ready.removeValue(forKey: s.nextToTake) {
                    slots.append(slot)
                    s.nextToTake += 1
                }
                // Nothing ready yet: wait (the outer nil); a batch is `.some(.some)`.
                guard !slots.isEmpty else { return Batch??.none }
                return .some(Batch(range: start..<s.nextToTake, slots: slots))
            }
            if let batch {
                // Room for the workers to read on.
                changed.broadcast()
                return batch
            }
            changed.wait()
        }
    }

    /// Stops reading and waits until the workers have ended. Files read but
    /// not taken are dropped (and their keys freed).
    func stop() {
        let first = state.withLock { s in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
        wake()
        ended.wait()
        ended.signal()
        state.withLock { $0.ready.removeAll() }
    }
}
