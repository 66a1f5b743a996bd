import Foundation
import Synchronization

/// Set when the task that started a long operation is cancelled; checked
/// between steps, from whichever thread does the work.
final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    func cancel() { flag.store(true, ordering: .relaxed) }

    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Throws `CancellationError` once cancelled.
    func check() throws {
        if isCancelled { throw CancellationError() }
    }

    /// Runs `body` on a thread of its own (a long operation does not hold
    /// one of the cooperative pool's threads), and tells it when the
    /// calling task is cancelled.
    static func run<T: Sendable>(_ body: @escaping @Sendable (Cancellation) throws -> T) async throws -> T {
        let cancellation = Cancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global(qos: .userInitiated).async {
                    continuation.resume(
                        with: Result {
                            try cancellation.check()
                            return try body(cancellation)
                        }
                    )
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
