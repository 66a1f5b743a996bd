import Foundation

/// An error a person can act on: a stable code, a one-line reason and, where
/// the likely fix is known, a hint.
///
/// Messages never contain a secret. Tests and scripts compare ``code``; the
/// wording of ``message`` may improve over time.
public struct CertVaultError: Error, CustomStringConvertible, LocalizedError, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible, Codable {
        /// The stable text of the code, such as `wrong-password`, for programs to compare.
        public let rawValue: String
        /// A code with this raw value.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        /// The raw value.
        public var description: String { rawValue }
        /// Reads the code from its raw value, as ``encode(to:)`` writes it.
        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }
        /// Writes the raw value alone, as a JSON string.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }

        /// The passphrase does not open the person's keyslot.
        public static let wrongPassphrase = Code("wrong-passphrase")
        /// The password does not open the file or key being read, or none was
        /// given for one that needs it.
        public static let wrongPassword = Code("wrong-password")
        /// Not a certificate, key, PKCS#7 or PKCS#12 file in any encoding certvault reads.
        public static let unknownFormat = Code("unknown-format")
        /// The file is over ``Importer/maximumFileSize`` and was not read.
        public static let tooLarge = Code("too-large")
        /// The file holds no bytes.
        public static let emptyFile = Code("empty-file")
        /// The file ends before its encoding says it does.
        public static let truncated = Code("truncated")
        /// The file is in a known format but cannot be read: a damaged PEM
        /// block, certificate, key, request or PKCS#12 bag, or no key and no
        /// certificate at all.
        public static let corrupt = Code("corrupt")
        /// A PKCS#12 file decrypts, but its MAC does not verify: altered or damaged.
        public static let macFailure = Code("mac-failure")
        /// The file or key uses an algorithm or key type OpenSSL cannot handle here.
        public static let unsupportedAlgorithm = Code("unsupported-algorithm")
        /// A private key does not match the certificate it came with, or a
        /// certificate was issued for another key than the pending request's.
        public static let keyMismatch = Code("key-mismatch")
        /// Nothing is at the vault path.
        public static let noVault = Code("no-vault")
        /// Something is at the vault path, but it is not a certvault vault.
        public static let notAVault = Code("not-a-vault")
        /// The vault, or a keyslot in it, uses a format newer than this
        /// certvault reads.
        public static let newerFormat = Code("newer-format")
        /// A vault, or some other file, is already at the path of a new vault.
        public static let vaultExists = Code("vault-exists")
        /// A value in the vault has the wrong type, length or form, or was not
        /// written.
        public static let corruptVault = Code("corrupt-vault")
        /// Something named was not found; thrown as one of its narrower kinds
        /// (``entryNotFound``, ``personNotFound``), and matched with
        /// ``CertVaultError/isKind(of:)``.
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
        /// An entry reference matches several entries.
        public static let ambiguous = Code("ambiguous")
        /// The person may not do this: their role does not allow it, they
        /// hold no grant for the entry, they have no keyslot, or they are no
        /// longer trusted.
        public static let noAccess = Code("no-access")
        /// The vault differs from what its signed records state: rows, keys or
        /// schema changed behind certvault's back.
        public static let tampered = Code("tampered")
        /// The destination file exists, and replacing it was not allowed.
        public static let fileExists = Code("file-exists")
        /// A value the caller gave is not acceptable (an empty passphrase, a bad
        /// handle, alias, subject, key type or validity, a format that does
        /// not fit the call).
        public static let invalidArgument = Code("invalid-argument")
        /// A file or the database could not be read or written.
        public static let io = Code("io")
        /// Another process held the vault's lock for longer than the busy
        /// timeout (SQLite's `SQLITE_BUSY` or `SQLITE_LOCKED`, kept in
        /// ``CertVaultError/underlying``): nothing is wrong with the file,
        /// and the call can be made again. A kind of ``io``.
        public static let busy = Code("busy")
        /// OpenSSL failed at something that should not fail (loading its
        /// providers, encoding, digesting).
        public static let crypto = Code("crypto")
        /// A verification failed. Nothing in the library throws it at present:
        /// ``Vault/verify(expecting:)-9tjmj`` returns its findings instead.
        public static let verificationFailed = Code("verification-failed")
        /// The person has departed: they can no longer unlock, and nothing is
        /// exported for them.
        public static let personInactive = Code("person-inactive")
        /// A file asks for more key-derivation work (iterations, scrypt
        /// memory) or holds more bags than ``ImportLimits`` allow.
        public static let workTooLarge = Code("work-too-large")
        /// The file system holding the vault or the file being written is full.
        public static let noSpace = Code("no-space")
        /// The entry is revoked: its key is never granted or exported again.
        public static let entryRevoked = Code("entry-revoked")
        /// The entry was retired (removed from Azure after a rotation): its
        /// key is never granted or exported again.
        public static let entryRetired = Code("entry-retired")
        /// Someone would be left unable to do what only they can: the last
        /// admin departing, the last holder of a key ungranted.
        public static let lastHolder = Code("last-holder")
        /// The vault was opened read-only, and the call would change it.
        public static let readOnly = Code("read-only")
        /// The vault was closed (``Vault/close()``), or the session locked
        /// (``Session/lock()``).
        public static let closed = Code("closed")
        /// The vault holds an older log than this machine saw (a rollback).
        public static let rollback = Code("rollback")
        /// Another entry has the alias asked for.
        public static let aliasTaken = Code("alias-taken")
        /// An audit sink this machine names could not take the records, or
        /// the vault's policy requires one and this machine names none: no
        /// key is released.
        public static let auditSink = Code("audit-sink")
        /// The change was recorded, and something after the commit failed
        /// (the rollback witness, an audit sink, the file to be written):
        /// the message says which record committed and what did not happen.
        public static let committed = Code("committed")
    }

    /// A fix the caller can apply, named so that each front end can word it
    /// its own way: the command line names its flags and commands, a
    /// service its own API. ``hint`` words it for a library user.
    public enum Remedy: String, Sendable, CaseIterable {
        /// Run a full verification of the audit log (``Vault/verify(expecting:)-9tjmj``).
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
        /// A file asks for more work than ``ImportLimits`` allow: raise them for it, if it is trusted.
        case raiseImportLimit = "raise-import-limit"
        /// A backup holds a branch the vault does not: read it, and take it in on purpose (`acceptFork`).
        case acceptFork = "accept-fork"
        /// The vault's own log cannot be read: restore over it only on purpose (`ignoreCurrentLog`).
        case ignoreCurrentLog = "ignore-current-log"
        /// The entry was replaced and retired: use the one that replaced it.
        case useSuccessor = "use-successor"
        /// A pending request cannot be rotated: revoke it and make a new one.
        case requestAgain = "request-again"
        /// A sink holds records the vault lacks: compare the two (``Vault/compare(withSink:)``).
        case compareWithSink = "compare-with-sink"
        /// A sink is behind: bring it up to date (``Vault/syncAuditSinks(acceptingReplacedFiles:)``) once it works.
        case syncSinks = "sync-sinks"
        /// The policy requires an audit sink: name one for this vault on this machine.
        case addSink = "add-sink"

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
            case .raiseImportLimit: return "if you trust the file, raise the import limits for it"
            case .useSuccessor: return "use the certificate that replaced it"
            case .requestAgain: return "revoke the request and make a new one for the same names"
            case .acceptFork: return "read the backup's log; an admin takes the branch in only on purpose (recorded)"
            case .ignoreCurrentLog: return "restore over it only on purpose, passing over its log (recorded)"
            case .compareWithSink: return "compare the vault's log with the sink's to see every record it lacks"
            case .syncSinks: return "once the sink works again, send it every record it lacks"
            case .addSink: return "name an audit sink for this vault in this machine's configuration"
            }
        }
    }

    /// The kind of failure; compare it, not ``message``.
    public let code: Code
    /// One line saying what went wrong, often naming the file, entry or person.
    public let message: String
    /// How to fix it, in words; for a ``remedy`` its library wording.
    public let hint: String?
    /// The fix, when it is one a front end words itself.
    public let remedy: Remedy?
    /// The error underneath, when another library's says more than the
    /// message (SQLite's, for ``Code/busy``); never one holding a secret.
    public let underlying: (any Error & Sendable)?

    /// An error with a hint in words, or none.
    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.remedy = nil
        self.underlying = nil
    }

    /// An error with a remedy; ``hint`` is the remedy's library wording.
    public init(_ code: Code, _ message: String, remedy: Remedy) {
        self.code = code
        self.message = message
        self.hint = remedy.hint
        self.remedy = remedy
        self.underlying = nil
    }

    init(
        _ code: Code,
        _ message: String,
        hint: String?,
        remedy: Remedy?,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.hint = remedy?.hint ?? hint
        self.remedy = remedy
        self.underlying = underlying
    }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { message }

    /// Whether the code is `code` or one of its narrower kinds (an
    /// ``Code/entryNotFound`` is also a ``Code/notFound``, a ``Code/busy``
    /// an ``Code/io``).
    public func isKind(of code: Code) -> Bool {
        self.code == code || (code == .notFound && [.entryNotFound, .personNotFound].contains(self.code))
            || (code == .io && self.code == .busy)
    }

    /// The message, followed by the hint in parentheses when there is one.
    public var description: String {
        hint.map { "\(message) (hint: \($0))" } ?? message
    }

    /// The same error with its message prefixed by a context such as a file name.
    func prefixed(_ context: String) -> CertVaultError {
        CertVaultError(code, "\(context): \(message)", hint: hint, remedy: remedy, underlying: underlying)
    }
}

/// This build's version, as `certvault --version` prints it.
public let certvaultVersion = "0.11.0"
