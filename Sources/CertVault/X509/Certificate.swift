internal import COpenSSL
internal import CertVaultNative
import Foundation

/// What certvault extracts from a certificate and shows.
public struct CertificateMetadata: Sendable, Codable, Equatable {
    /// The subject as RFC 4514 text (`CN=example.com,O=…`); "" for an empty name.
    public var subject: String
    /// The issuer's name as RFC 4514 text; "" for an empty name.
    public var issuer: String
    /// Serial number, upper-case hexadecimal.
    public var serialNumber: String
    /// SHA-1 over the DER: Azure's thumbprint, 40 upper-case hex digits.
    public var thumbprintSHA1: String
    /// SHA-256 over the DER, 64 upper-case hex digits.
    public var fingerprintSHA256: String
    /// The start of the validity period.
    public var notValidBefore: Date
    /// The end of the validity period: the certificate expires then.
    public var notValidAfter: Date
    /// The key type: `RSA` (also for RSA-PSS), `EC`, `Ed25519`, `Ed448`,
    /// `DSA`, or OpenSSL's name for another type (`unknown` if it has none).
    public var keyAlgorithm: String
    /// The public key's size in bits, as OpenSSL counts it; 0 when unknown.
    public var keyBits: Int
    /// For EC keys, the curve (`P-256`, …).
    public var keyCurve: String?
    /// OpenSSL's long name of the signature algorithm (`sha256WithRSAEncryption`, …).
    public var signatureAlgorithm: String
    /// The subjectAltName entries, each with its type: `DNS:`, `email:`,
    /// `URI:` or `IP:`; empty when there are none.
    public var subjectAlternativeNames: [String]
    /// Whether the issuer is the subject itself (names and key identifiers;
    /// the signature is not checked).
    public var isSelfSigned: Bool
    /// Whether the certificate is a CA's (basicConstraints CA:TRUE, or a v1
    /// self-signed root), as OpenSSL judges it.
    public var isCA: Bool
    /// Key usage names (`digitalSignature`, …); nil where not read from the certificate itself.
    public var keyUsage: [String]? = nil
    /// Extended key usage short names (`serverAuth`, `clientAuth`, …); nil where not read.
    public var extendedKeyUsage: [String]? = nil

    /// Metadata from its fields, for tests and for callers that build their own.
    public init(
        subject: String,
        issuer: String,
        serialNumber: String,
        thumbprintSHA1: String,
        fingerprintSHA256: String,
        notValidBefore: Date,
        notValidAfter: Date,
        keyAlgorithm: String,
        keyBits: Int,
        keyCurve: String? = nil,
        signatureAlgorithm: String,
        subjectAlternativeNames: [String] = [],
        isSelfSigned: Bool,
        isCA: Bool,
        keyUsage: [String]? = nil,
        extendedKeyUsage: [String]? = nil
    ) {
        self.subject = subject
        self.issuer = issuer
        self.serialNumber = serialNumber
        self.thumbprintSHA1 = thumbprintSHA1
        self.fingerprintSHA256 = fingerprintSHA256
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        self.keyAlgorithm = keyAlgorithm
        self.keyBits = keyBits
        self.keyCurve = keyCurve
        self.signatureAlgorithm = signatureAlgorithm
        self.subjectAlternativeNames = subjectAlternativeNames
        self.isSelfSigned = isSelfSigned
        self.isCA = isCA
        self.keyUsage = keyUsage
        self.extendedKeyUsage = extendedKeyUsage
    }
}

/// An X.509 certificate, owning its `X509*` and freeing it once.
package final class Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(takingOwnership pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_free(pointer) }

    /// Parses one DER certificate.
    convenience init(derEncoded der: Data) throws {
        try OpenSSL.ensure()
        let x = OpenSSL.decode(der) { d2i_X509(nil, $0, $1) }
        guard let x else { throw OpenSSL.error(.corrupt, "not a DER certificate") }
        self.init(takingOwnership: x)
    }

    var derEncoded: Data { get throws { try OpenSSL.der { i2d_X509(pointer, $0) } } }

    /// The DER SubjectPublicKeyInfo.
    var publicKeyInfoDER: Data {
        get throws {
            guard let pub = X509_get_X509_PUBKEY(pointer) else {
                throw OpenSSL.error(.corrupt, "the certificate has no public key")
            }
            return try OpenSSL.der { i2d_X509_PUBKEY(pub, $0) }
        }
    }

    var subjectDER: Data { get throws { try Self.nameDER(X509_get_subject_name(pointer)) } }
    var issuerDER: Data { get throws { try Self.nameDER(X509_get_issuer_name(pointer)) } }

    /// Whether `issuer` issued this certificate (names, key identifiers and signature).
    func isIssued(by issuer: Certificate) -> Bool {
        defer { ERR_clear_error() }
        return X509_check_issued(issuer.pointer, pointer) == X509_V_OK
            && X509_verify(pointer, X509_get0_pubkey(issuer.pointer)) == 1
    }

    /// Whether this is a CA certificate (basicConstraints CA:TRUE or a v1 self-signed root).
    var isCA: Bool { X509_check_ca(pointer) > 0 }
    /// Whether basicConstraints says CA:TRUE (not only a v1 self-signed
    /// certificate, which OpenSSL also counts as a CA's).
    var saysCA: Bool { X509_check_ca(pointer) == 1 }

    /// Common name of the subject, if any.
    var commonName: String? {
        guard let name = X509_get_subject_name(pointer) else { return nil }
        let idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard idx >= 0, let entry = X509_NAME_get_entry(name, idx),
            let data = X509_NAME_ENTRY_get_data(entry)
        else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let len = ASN1_STRING_to_UTF8(&utf8, data)
        guard len >= 0, let utf8 else { return nil }
        defer { cv_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(len)), as: UTF8.self)
    }

    func metadata() throws -> CertificateMetadata {
        let der = try derEncoded
        let pkey = X509_get0_pubkey(pointer)
        let (alg, bits, curve) = pkey.map { PrivateKey.describe($0) } ?? ("unknown", 0, nil)
        return CertificateMetadata(
            subject: try Self.nameString(X509_get_subject_name(pointer)),
            issuer: try Self.nameString(X509_get_issuer_name(pointer)),
            serialNumber: try serialHex,
            thumbprintSHA1: try OpenSSL.digest(der, sha1: true).hexUpper,
            fingerprintSHA256: try OpenSSL.digest(der, sha1: false).hexUpper,
            notValidBefore: try Self.date(X509_get0_notBefore(pointer)),
            notValidAfter: try Self.date(X509_get0_notAfter(pointer)),
            keyAlgorithm: alg,
            keyBits: bits,
            keyCurve: curve,
            signatureAlgorithm: OBJ_nid2ln(X509_get_signature_nid(pointer)).map { String(cString: $0) } ?? "unknown",
            subjectAlternativeNames: subjectAlternativeNames,
            isSelfSigned: X509_self_signed(pointer, 0) == 1,
            isCA: isCA,
            keyUsage: keyUsage,
            extendedKeyUsage: extendedKeyUsage
        )
    }

    private var serialHex: String {
        get throws {
            guard let serial = X509_get0_serialNumber(pointer), let bn = ASN1_INTEGER_to_BN(serial, nil) else {
                throw OpenSSL.error(.corrupt, "the serial number cannot be read")
            }
            defer { BN_free(bn) }
            guard let hex = OpenSSL.string(fromOpenSSL: BN_bn2hex(bn)) else {
                throw OpenSSL.error(.crypto, "BN_bn2hex")
            }
            return hex
        }
    }

    private var subjectAlternativeNames: [String] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var out: [String] = []
        for i in 0..<cv_sk_GENERAL_NAME_num(names) {
            var data: UnsafePointer<UInt8>?
            var len: Int32 = 0
            let type = cv_GENERAL_NAME_get(cv_sk_GENERAL_NAME_value(names, i), &data, &len)
            guard let data, len > 0 else { continue }
            let bytes = UnsafeBufferPointer(start: data, count: Int(len))
            switch type {
            case GEN_DNS: out.append("DNS:" + String(decoding: bytes, as: UTF8.self))
            case GEN_EMAIL: out.append("email:" + String(decoding: bytes, as: UTF8.self))
            case GEN_URI: out.append("URI:" + String(decoding: bytes, as: UTF8.self))
            case GEN_IPADD:
                if len == 4 {
                    out.append("IP:" + bytes.map(String.init).joined(separator: "."))
                } else {
                    out.append(
                        "IP:"
                            + stride(from: 0, to: Int(len), by: 2).map {
                                String(format: "%x", Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]))
                            }.joined(separator: ":")
                    )
                }
            default: break
            }
        }
        return out
    }

    /// A name as RFC 4514 text; an empty name (which X.509 allows) is "".
    static func nameString(_ name: OpaquePointer?) throws -> String {
        guard let name else { throw OpenSSL.error(.corrupt, "the certificate has no name") }
        guard X509_NAME_entry_count(name) > 0 else { return "" }
        let data = try OpenSSL.withMemoryBIO { cv_X509_NAME_print_rfc2253($0, name) >= 0 }
        return String(decoding: data, as: UTF8.self)
    }

    static func nameDER(_ name: OpaquePointer?) throws -> Data {
        guard let name else { throw OpenSSL.error(.corrupt, "the certificate has no name") }
        return try OpenSSL.der { i2d_X509_NAME(name, $0) }
    }

    static func date(_ t: UnsafePointer<ASN1_TIME>?) throws -> Date {
        var tm = tm()
        guard let t, ASN1_TIME_to_tm(t, &tm) == 1 else {
            throw OpenSSL.error(.corrupt, "a validity date cannot be read")
        }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }
}
