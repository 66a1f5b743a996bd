import Foundation

/// How ``Session/importFiles(_:options:)-99qtv`` stores what it reads.
public struct ImportOptions: Sendable {
    /// The alias of the (single) entry imported; else the friendly name, the
    /// common name or the thumbprint, made unique.
    public var alias: String?
    /// Nil guesses: CA certificates `other`, self-signed ones `management`, the rest `ssl`.
    public var purpose: EntryPurpose?
    /// The id of the Azure subscription the entries belong to; nil for none.
    public var subscription: String?
    /// The domains the entries are used for; empty for none.
    public var domains: [String] = []
    /// Store the good files and report the bad ones, instead of all or nothing.
    public var keepGoing = false
    /// Options; the defaults guess alias and purpose and store all or nothing.
    public init(
        alias: String? = nil,
        purpose: EntryPurpose? = nil,
        subscription: String? = nil,
        domains: [String] = [],
        keepGoing: Bool = false
    ) {
        self.alias = alias
        self.purpose = purpose
        self.subscription = subscription
        self.domains = domains
        self.keepGoing = keepGoing
    }
}

/// What an import did.
public struct ImportReport: Sendable, Codable {
    /// What became of one certificate or key read.
    public enum Outcome: String, Sendable, Codable {
        /// A new entry.
        case imported
        /// The certificate was already in the vault (nothing changed).
        case alreadyPresent = "already-present"
        /// A key joined an entry that had none, or a certificate joined a key.
        case paired
        /// The certificate a CA issued for a pending request completed it.
        case completed
    }
    /// One certificate or key read, and what became of it.
    public struct Item: Sendable, Codable {
        /// The file it came from (``ImportFile/source``).
        public var file: String
        /// The alias of the entry that holds it now.
        public var alias: String
        /// The certificate's SHA-1 thumbprint, 40 upper-case hex digits; nil for a key on its own.
        public var thumbprintSHA1: String?
        /// What became of it.
        public var outcome: Outcome

        /// An item from its fields, for tests and for callers that build their own.
        public init(file: String, alias: String, thumbprintSHA1: String? = nil, outcome: Outcome) {
            self.file = file
            self.alias = alias
            self.thumbprintSHA1 = thumbprintSHA1
            self.outcome = outcome
        }
    }
    /// Every certificate and key stored or found already present, in the order read.
    public var items: [Item] = []
    /// One message per file that failed (naming it).
    public var failures: [String] = []
    /// The same failures with their stable error codes, for programs.
    public var errors: [Failure] = []

    /// A file that could not be imported.
    public struct Failure: Sendable, Codable {
        /// What went wrong, such as ``CertVaultError/Code/wrongPassword``
        /// (encoded as its raw value, `wrong-password`).
        public var code: CertVaultError.Code
        /// The error's message, naming the file.
        public var message: String
        /// The failure `error` describes.
        public init(_ error: CertVaultError) {
            code = error.code
            message = error.message
        }
    }

    /// The first failure as thrown, with its hint and remedy (not encoded).
    public private(set) var firstError: CertVaultError?

    /// Records a failure in ``failures`` and ``errors`` (and ``firstError``).
    public mutating func fail(_ error: CertVaultError) {
        failures.append(error.message)
        errors.append(Failure(error))
        if firstError == nil { firstError = error }
    }
    /// Things worth knowing that did not stop the import, each naming its file.
    public var warnings: [String] = []

    /// False when failures stopped an all-or-nothing import
    /// (``ImportOptions/keepGoing`` off): nothing was stored, whatever
    /// ``items`` lists (what was stored before the first failure, then undone).
    public var stored = true

    /// An empty report.
    public init() {}

    private enum CodingKeys: String, CodingKey {
        case items, failures, errors, warnings, stored
    }

    /// How many items had `outcome`.
    public func count(_ outcome: Outcome) -> Int { items.filter { $0.outcome == outcome }.count }
}
