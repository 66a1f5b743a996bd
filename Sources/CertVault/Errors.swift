import Foundation

/// An error a person can act on: a stable code, a one-line reason and, where
/// the likely fix is known, a hint.
///
/// Messages never contain a secret. Tests and scripts compare ``code``; the
/// wording of ``message`` may improve over time.
public struct CertVaultError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let wrongPassphrase = Code("wrong-passphrase")
        public static let wrongPassword = Code("wrong-password")
        /// Not a certificate, key, PKCS#7 or PKCS#12 file in any encoding certvault reads.
        public static let unknownFormat = Code("unknown-format")
        public static let tooLarge = Code("too-large")
        public static let emptyFile = Code("empty-file")
        public static let truncated = Code("truncated")
        public static let corrupt = Code("corrupt")
        public static let macFailure = Code("mac-failure")
        public static let unsupportedAlgorithm = Code("unsupported-algorithm")
        public static let keyMismatch = Code("key-mismatch")
        public static let noVault = Code("no-vault")
        public static let notAVault = Code("not-a-vault")
        public static let newerFormat = Code("newer-format")
        public static let vaultExists = Code("vault-exists")
        public static let corruptVault = Code("corrupt-vault")
        public static let notFound = Code("not-found")
        /// No entry matches the reference given (a kind of ``notFound``).
        public static let entryNotFound = Code("entry-not-found")
        /// No person has the handle given (a kind of ``notFound``).
        public static let personNotFound = Code("person-not-found")
        /// A person with that handle exists already.
        public static let personExists = Code("person-exists")
        /// The entry holds a certificate but no private key.
        public static let noPrivateKey = Code("no-private-key")
        /// Several people can unlock, and none was named.
        public static let actorAmbiguous = Code("actor-ambiguous")
        public static let ambiguous = Code("ambiguous")
        public static let noAccess = Code("no-access")
        public static let tampered = Code("tampered")
        public static let fileExists = Code("file-exists")
        public static let invalidArgument = Code("invalid-argument")
        public static let io = Code("io")
        public static let crypto = Code("crypto")
        public static let importFailed = Code("import-failed")
        public static let verificationFailed = Code("verification-failed")
        public static let personInactive = Code("person-inactive")
        /// The vault was opened read-only, and the call would change it.
        public static let readOnly = Code("read-only")
        /// The vault was closed (``Vault/close()``), or the session locked
        /// (``Session/lock()``).
        public static let closed = Code("closed")
        /// The vault holds an older log than this machine saw (a rollback).
        public static let rollback = Code("rollback")
    }

    /// A fix the caller can apply, named so that each front end can word it
    /// its own way: the command line names its flags and commands, a
    /// service its own API. ``hint`` words it for a library user.
    public enum Remedy: String, Sendable, CaseIterable {
        /// Run a full verification of the audit log (``Vault/verify(expecting:)``).
        case verifyLog = "verify-log"
        /// Verify the log, and restore the vault from a backup.
        case restoreBackup = "restore-backup"
        /// A backup was restored on purpose: accept the rollback (``Session/acceptRollback()``).
        case acceptRollback = "accept-rollback"
        /// Give the password of the file being read.
        case filePassword = "file-password"
        /// Give the new person a passphrase.
        case newPassphrase = "new-passphrase"
        /// Give a password for the exported file, or have one generated.
        case exportPassword = "export-password"
        /// Give or generate a password, or ask for an unencrypted key on purpose.
        case exportPasswordOrUnencrypted = "export-password-or-unencrypted"
        /// The entry holds no key: export its certificate instead.
        case exportCertificate = "export-certificate"
        /// Make a certificate request first.
        case makeRequest = "make-request"
        /// Say who is acting: several people can unlock.
        case nameActor = "name-actor"
        /// Name a person the vault knows.
        case listPeople = "list-people"
        /// Create a vault there, or name another path.
        case createVault = "create-vault"
        /// Something is already at the vault path: choose another.
        case choosePath = "choose-path"
        /// The destination exists: choose another, or allow replacing it.
        case replaceFile = "replace-file"

        /// The remedy in words for a library user.
        public var hint: String {
            switch self {
            case .verifyLog: return "verify the whole audit log to see every finding"
            case .restoreBackup: return "verify the whole audit log, and restore the vault from a backup"
            case .acceptRollback: return "if a backup was restored on purpose, accept the rollback"
            case .filePassword: return "give the file's password"
            case .newPassphrase: return "give the new person a passphrase"
            case .exportPassword: return "give a password for the file, or have one generated"
            case .exportPasswordOrUnencrypted:
                return "give or generate a password, or ask for an unencrypted key if you really mean it"
            case .exportCertificate: return "export its certificate instead"
            case .makeRequest: return "make a certificate request first"
            case .nameActor: return "say who is acting"
            case .listPeople: return "list the people the vault knows"
            case .createVault: return "create a vault there, or open another path"
            case .choosePath: return "choose another path, or remove the old vault yourself"
            case .replaceFile: return "choose another path, or allow replacing the file"
            }
        }
    }

    public let code: Code
    public let message: String
    /// How to fix it, in words; for a ``remedy`` its library wording.
    public let hint: String?
    /// The fix, when it is one a front end words itself.
    public let remedy: Remedy?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.remedy = nil
    }

    public init(_ code: Code, _ message: String, remedy: Remedy) {
        self.code = code
        self.message = message
        self.hint = remedy.hint
        self.remedy = remedy
    }

    init(_ code: Code, _ message: String, hint: String?, remedy: Remedy?) {
        self.code = code
        self.message = message
        self.hint = remedy?.hint ?? hint
        self.remedy = remedy
    }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { message }

    /// Whether the code is `code` or one of its narrower kinds (an
    /// ``Code/entryNotFound`` is also a ``Code/notFound``).
    public func isKind(of code: Code) -> Bool {
        self.code == code || (code == .notFound && [.entryNotFound, .personNotFound].contains(self.code))
    }

    public var description: String {
        hint.map { "\(message) (hint: \($0))" } ?? message
    }

    /// The same error with its message prefixed by a context such as a file name.
    func prefixed(_ context: String) -> CertVaultError {
        CertVaultError(code, "\(context): \(message)", hint: hint, remedy: remedy)
    }
}
