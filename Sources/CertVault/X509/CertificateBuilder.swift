internal import COpenSSL
internal import CertVaultNative
import Foundation

/// Makes X.509 v3 certificates: self-signed ones (what MakeCert did for Azure
/// management certificates) and, for tests and benchmarks, ones issued by a
/// CA key.
package struct CertificateBuilder {
    package var subject: String
    package var days: Int = 365
    /// The start of validity; nil for now. The end is `days` after it.
    package var notBefore: Date?
    /// The signature's digest (`sha256`; `sha1` to make a weak one for tests).
    package var digest = "sha256"
    /// `(nid name, value)` pairs in OpenSSL's v3 config syntax.
    package var extensions: [(String, String)] = [
        ("basicConstraints", "critical,CA:FALSE"),
        ("keyUsage", "critical,digitalSignature,keyEncipherment"),
        ("extendedKeyUsage", "clientAuth"),
        ("subjectKeyIdentifier", "hash"),
    ]

    package init(subject: String) { self.subject = subject }

    /// Parses `CN=x,O=y` (or `/CN=x/O=y`) into an `X509_NAME`.
    static func makeName(_ dn: String) throws -> DistinguishedName {
        guard let pointer = X509_NAME_new() else { throw OpenSSL.error(.crypto, "X509_NAME_new") }
        let name = DistinguishedName(takingOwnership: pointer)
        // "/C=US/O=x/CN=y" (OpenSSL's -subj) is in ASN.1 order; "CN=y,O=x,C=US"
        // (RFC 4514, as certvault prints names) is most specific first.
        let slashForm = dn.hasPrefix("/")
        var parts = dn.split(separator: slashForm ? "/" : ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        if !slashForm { parts.reverse() }
        guard !parts.isEmpty else {
            throw CertVaultError(.invalidArgument, "the subject is empty", hint: "write the subject as CN=name")
        }
        for part in parts {
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else {
                throw CertVaultError(
                    .invalidArgument,
                    "cannot read \(Display.quoted(part)) in subject \(Display.quoted(dn))",
                    hint: "write the subject as CN=name,O=organisation"
                )
            }
            let field = String(part[..<eq])
            let value = String(part[part.index(after: eq)...])
            guard !value.isEmpty else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(Display.quoted(field)) has no value in subject \(Display.quoted(dn))",
                    hint: "write the subject as CN=name,O=organisation"
                )
            }
            guard X509_NAME_add_entry_by_txt(pointer, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw CertVaultError(
                    .invalidArgument,
                    "unknown field \(Display.quoted(field)) in subject \(Display.quoted(dn)): \(OpenSSL.drainErrors())",
                    hint: "use the fields CN, O, OU, L, ST, C or emailAddress, e.g. CN=name,O=organisation"
                )
            }
        }
        return name
    }

    /// Signs a new certificate for `key`'s public half; self-signed when
    /// `issuer` is nil. Every OpenSSL call is checked: a failure is an
    /// error, never a certificate with a field missing.
    package func build(
        key: PrivateKey,
        issuer: (certificate: Certificate, key: PrivateKey)? = nil
    ) throws -> Certificate {
        try OpenSSL.ensure()
        guard let x = X509_new() else { throw OpenSSL.error(.crypto, "X509_new") }
        let cert = Certificate(takingOwnership: x)
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw OpenSSL.error(.crypto, "could not set the certificate's \(what)") }
        }
        try check(X509_set_version(x, 2) == 1, "version")
        // A 128-bit random positive serial (BN_bin2bn reads it unsigned;
        // DER adds a leading zero byte when the top bit is set).
        var serialBytes = Sodium.random(16)
        if serialBytes.allSatisfy({ $0 == 0 }) { serialBytes[15] = 1 }
        guard let bn = serialBytes.withUnsafeBytes({ BN_bin2bn($0.baseAddress, 16, nil) }) else {
            throw OpenSSL.error(.crypto, "BN_bin2bn")
        }
        defer { BN_free(bn) }
        try check(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != nil, "serial number")
        let offset = Int(notBefore?.timeIntervalSinceNow.rounded() ?? 0)
        try check(X509_time_adj_ex(X509_getm_notBefore(x), 0, offset, nil) != nil, "start of validity")
        try check(X509_time_adj_ex(X509_getm_notAfter(x), Int32(days), offset, nil) != nil, "end of validity")
        let name = try Self.makeName(subject)
        try check(X509_set_subject_name(x, name.pointer) == 1, "subject")
        try check(
            X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0.certificate.pointer) } ?? name.pointer) == 1,
            "issuer"
        )
        try check(X509_set_pubkey(x, key.pointer) == 1, "public key")
        var ctx = X509V3_CTX()
        X509V3_set_ctx(&ctx, issuer?.certificate.pointer ?? x, x, nil, nil, 0)
        for (field, value) in extensions {
            guard let ext = X509V3_EXT_conf(nil, &ctx, field, value) else {
                throw OpenSSL.error(.invalidArgument, "extension \(field)=\(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            try check(X509_add_ext(x, ext, -1) == 1, "extension \(field)")
        }
        let signer = issuer?.key ?? key
        let isEdwards = ["Ed25519", "Ed448"].contains(signer.algorithm.name)
        let md = isEdwards ? nil : EVP_get_digestbyname(digest)
        guard isEdwards || md != nil else { throw CertVaultError(.invalidArgument, "unknown digest \(digest)") }
        guard X509_sign(x, signer.pointer, md) > 0 else {
            throw OpenSSL.error(.crypto, "signing the certificate failed")
        }
        return cert
    }
}

/// An `X509_NAME`, owned and freed once.
final class DistinguishedName {
    let pointer: OpaquePointer
    init(takingOwnership pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_NAME_free(pointer) }
}
