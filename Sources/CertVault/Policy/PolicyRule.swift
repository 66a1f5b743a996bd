/// Every rule `check` applies, by its stable id: what a finding's
/// ``PolicyFinding/rule`` holds, what a script filters on.
public enum PolicyRule: String, CaseIterable, Sendable, Codable {
    case expired
    case expiring
    case notYetValid = "not-yet-valid"
    case weakSignature = "weak-signature"
    case weakKey = "weak-key"
    case needsRotation = "needs-rotation"
    case managementKeySize = "management-key-size"
    case managementLimit = "management-limit"
    case rotationAge = "rotation-age"
    case managementAPIRetired = "management-api-retired"
    case sslNameMismatch = "ssl-name-mismatch"
    case sslSelfSigned = "ssl-self-signed"
    case sslUntrustedChain = "ssl-untrusted-chain"
    case sslIncompleteChain = "ssl-incomplete-chain"
    case sslNoPrivateKey = "ssl-no-private-key"
    case sslNotServerAuth = "ssl-not-server-auth"
    case sslCACertificate = "ssl-ca-certificate"
    case foreignDomain = "foreign-domain"
    case supersededExposed = "superseded-exposed"
    case supersededNotRetired = "superseded-not-retired"
    case aliasUnsafe = "alias-unsafe"
    case weakKDF = "weak-kdf"

    /// What the rule finds, in one line.
    public var summary: String {
        switch self {
        case .expired: return "the certificate's validity has ended"
        case .expiring: return "the certificate ends within the expiry windows"
        case .notYetValid: return "the certificate's validity has not begun"
        case .weakSignature: return "signed with SHA-1 or MD5"
        case .weakKey: return "an RSA key under 2048 bits, or a curve under 256 bits"
        case .needsRotation: return "someone who could open the key has left: rotate it"
        case .managementKeySize: return "a management certificate's key is not RSA of 2048 bits or more"
        case .managementLimit: return "a subscription holds more management certificates than it may"
        case .rotationAge: return "a management certificate older than the rotation age"
        case .managementAPIRetired: return "the classic management API is retired: use an app credential"
        case .sslNameMismatch: return "the certificate does not name the entry's domain"
        case .sslSelfSigned: return "an SSL certificate no CA signed"
        case .sslUntrustedChain: return "the chain does not end at a trusted root"
        case .sslIncompleteChain: return "an intermediate certificate is missing"
        case .sslNoPrivateKey: return "an SSL entry without its private key (it cannot be bound)"
        case .sslNotServerAuth: return "an extended key usage without serverAuth"
        case .sslCACertificate: return "a CA certificate (CA:TRUE) with its key, as a site's"
        case .foreignDomain: return "the certificate names a domain the vault's policy does not list"
        case .supersededExposed: return "a replaced certificate someone who left could open, not yet revoked"
        case .supersededNotRetired: return "a replaced certificate still in service"
        case .aliasUnsafe: return "an alias with characters a terminal or a file name would misread"
        case .weakKDF: return "a person's keyslot derived with a cost below the vault's"
        }
    }
}
