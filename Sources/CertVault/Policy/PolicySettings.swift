import Foundation

/// The rules' settings: limits, windows, ages and the trust store.
public struct PolicySettings: Sendable, Codable, Equatable {
    /// The most active management certificates one subscription may hold.
    /// 5 is the limit the Azure portal enforced for years; Azure's current
    /// documentation allows 100.
    public var managementLimit: Int
    /// Days before expiry at which a certificate is reported as expiring,
    /// largest first (a warning); within the smallest of several, an error.
    public var expiryWindows: [Int]
    /// Also report as expiring a certificate in the last share of its
    /// lifetime (0.2: the last 20 %); nil for none. Lifetimes are shrinking
    /// toward 47 days, where a fixed window says little.
    public var expiryShare: Double?
    /// The most days a management or app certificate may be used before it
    /// is rotated.
    public var managementMaxAgeDays: Int
    /// PEM files of roots trusted besides the system's (a private CA), for one check.
    public var caFiles: [String]
    /// Roots trusted besides the system's, kept in the vault's policy
    /// (`trusted-roots`): the DER of each CA certificate.
    public var trustedRoots: [Data]
    /// The system's trust store (a directory of hashed PEM roots); nil for none.
    public var trustStore: String?
    /// Whether a machine releases a key only once every record is in an
    /// audit sink it names (``AuditSink``): one that names none releases none.
    public var requireSink: Bool

    /// Settings from their values; the defaults are the ones `check` uses.
    public init(
        managementLimit: Int = 5,
        expiryWindows: [Int] = [30],
        expiryShare: Double? = nil,
        managementMaxAgeDays: Int = 365,
        caFiles: [String] = [],
        trustedRoots: [Data] = [],
        trustStore: String? = "/etc/ssl/certs",
        requireSink: Bool = false
    ) {
        self.managementLimit = managementLimit
        self.expiryWindows = expiryWindows.sorted(by: >)
        self.expiryShare = expiryShare
        self.managementMaxAgeDays = managementMaxAgeDays
        self.caFiles = caFiles
        self.trustedRoots = trustedRoots
        self.trustStore = trustStore
        self.requireSink = requireSink
    }
}
