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
        public static let notPKCS12 = Code("not-pkcs12")
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
        /// The vault holds an older log than this machine saw (a rollback).
        public static let rollback = Code("rollback")
    }

    public let code: Code
    public let message: String
    public let hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
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
        CertVaultError(code, "\(context): \(message)", hint: hint)
    }
}
