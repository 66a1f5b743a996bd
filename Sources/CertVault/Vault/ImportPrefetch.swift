import Foundation
import Synchronization

/// Files being read and decrypted, on every core, ahead of the import that
/// will store them (``Session/importPaths(_:askPassword:options:)``).
///
/// Made before the vault is unlocked, the files' key derivations run
/// while the passphrase's does, instead of after it: that is most of a
/// bulk import's head start. At most a few hundred files are read ahead of
/// the import; dropping the prefetch stops the reading and frees them.
public final class ImportPrefetch: Sendable {
    let paths: [String]
    let limits: ImportLimits
    /// A password the caller's `askPassword` gave that opened one file, tried first on the files read after it.
    let learned: LearnedPassword
    let stream: ImportStream
    private let taken = Atomic<Bool>(false)

    /// Starts reading `paths` now.
    /// - Parameters:
    ///   - paths: the files, in the order to report them.
    ///   - password: the files' password, as for ``Importer/read(path:password:askPassword:limits:)``;
    ///     a file it does not open is asked for at the import.
    ///   - limits: the most work one file may ask for.
    ///   - progress: called from worker threads as files are read.
    public init(
        _ paths: [String],
        password: SecureBytes?,
        limits: ImportLimits = .standard,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    ) {
        self.paths = paths
        self.limits = limits
        let learned = LearnedPassword()
        self.learned = learned
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        stream = ImportStream(
            count: paths.count,
            window: Session.filesPerWorker * workers,
            workers: workers,
            progress: progress
        ) { i in
            // A file it does not open (no password, or another one) is left to the asking at the import.
            Importer.readResult(
                paths[i],
                password: password ?? learned.value.withLock { $0 },
                askPassword: nil,
                limits: limits
            )
        }
    }

    deinit { stream.stop() }

    /// True the first time only: a prefetch feeds one import.
    func take() -> Bool { !taken.exchange(true, ordering: .relaxed) }
}

/// The password that opened a file, shared by an import's readers.
final class LearnedPassword: Sendable {
    let value = Mutex<SecureBytes?>(nil)
}
