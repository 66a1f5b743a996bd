internal import COpenSSL
internal import CertVaultNative
import Foundation

/// OpenSSL's verifier over an entry's certificate, the CA certificates the
/// vault holds (as untrusted intermediates) and the roots trusted: the
/// system's store and any CA file given. Not a hand-written path builder.
///
/// Sendable: after `init` nothing in it changes, and OpenSSL 3 verifies
/// against one `X509_STORE` from many threads (each verification has its own
/// `X509_STORE_CTX` and stack).
final class ChainCheck: @unchecked Sendable {
    /// What the verifier made of a certificate.
    enum Outcome: Equatable {
        /// It chains to a trusted root through certificates the vault holds.
        case trusted
        /// It chains to a trusted root, but only through an intermediate the
        /// vault does not hold: a `.pfx` made from the vault lacks it.
        case needsIntermediate(subject: String)
        /// It is its own issuer, and not a trusted root.
        case selfSigned
        /// Its issuer is in neither the vault nor the trust store.
        case issuerMissing(issuer: String)
        /// It chains to a root that is not trusted, or fails otherwise.
        case untrusted(reason: String)
    }

    private let store: OpaquePointer
    private let intermediates: [Certificate]
    private let held: Set<String>

    /// - Parameters:
    ///   - settings: where the trusted roots are.
    ///   - intermediates: DER of every CA certificate the vault holds.
    ///   - held: the SHA-256 fingerprint (upper-case hex) of every certificate the vault holds.
    init(settings: PolicySettings, intermediates: [Data], held: Set<String>) throws {
        try OpenSSL.ensure()
        guard let store = X509_STORE_new() else { throw OpenSSL.error(.io, "cannot make a certificate store") }
        self.store = store
        if let dir = settings.trustStore, FileManager.default.fileExists(atPath: dir) {
            guard X509_STORE_load_path(store, dir) == 1 else {
                OpenSSL.drainErrors()
                X509_STORE_free(store)
                throw CertVaultError(.io, "cannot use the trust store \(dir)")
            }
        }
        for der in settings.trustedRoots {
            guard let root = try? Certificate(derEncoded: der), X509_STORE_add_cert(store, root.pointer) == 1 else {
                OpenSSL.drainErrors()
                continue
            }
        }
        for file in settings.caFiles {
            guard FileManager.default.isReadableFile(atPath: file), X509_STORE_load_file(store, file) == 1 else {
                OpenSSL.drainErrors()
                X509_STORE_free(store)
                throw CertVaultError(
                    .invalidArgument,
                    "cannot read trusted roots from \(file)",
                    hint: "give a PEM file of CA certificates"
                )
            }
        }
        self.held = held
        self.intermediates = intermediates.compactMap { der in
            guard let cert = try? Certificate(derEncoded: der), cert.isCA else { return nil }
            return cert
        }
    }

    deinit { X509_STORE_free(store) }

    func verify(_ certificate: Certificate) -> Outcome {
        defer { OpenSSL.drainErrors() }
        guard let ctx = X509_STORE_CTX_new(), let untrusted = cv_sk_X509_new_null() else {
            return .untrusted(reason: "out of memory")
        }
        defer {
            X509_STORE_CTX_free(ctx)
            // The stack holds references of the certificates, not copies: free it alone.
            cv_sk_X509_free_shallow(untrusted)
        }
        for cert in intermediates where cv_sk_X509_push(untrusted, cert.pointer) <= 0 {
            return .untrusted(reason: "out of memory")
        }
        guard X509_STORE_CTX_init(ctx, store, certificate.pointer, untrusted) == 1 else {
            return .untrusted(reason: "the verifier could not start")
        }
        // Expiry is a rule of its own: the chain is judged as if today were within every validity.
        X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), UInt(X509_V_FLAG_NO_CHECK_TIME))
        let ok = X509_verify_cert(ctx) == 1
        let code = X509_STORE_CTX_get_error(ctx)
        let chain = X509_STORE_CTX_get0_chain(ctx)
        func subject(at i: Int32) -> String {
            guard let chain, i < cv_sk_X509_num(chain), let x = cv_sk_X509_value(chain, i) else { return "?" }
            return (try? Certificate.nameString(X509_get_subject_name(x))) ?? "?"
        }
        if ok {
            // Every certificate between the leaf and the root must be one the vault holds.
            let count = chain.map { cv_sk_X509_num($0) } ?? 0
            var i: Int32 = 1
            while i < count - 1 {
                if let x = cv_sk_X509_value(chain, i), let der = try? OpenSSL.der({ i2d_X509(x, $0) }),
                    let fingerprint = try? OpenSSL.digest(der, sha1: false).hexUpper, !held.contains(fingerprint)
                {
                    return .needsIntermediate(subject: subject(at: i))
                }
                i += 1
            }
            return .trusted
        }
        switch code {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return .selfSigned
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
            let count = chain.map { cv_sk_X509_num($0) } ?? 1
            let last = chain.flatMap { cv_sk_X509_value($0, count - 1) }
            let issuer = last.flatMap { try? Certificate.nameString(X509_get_issuer_name($0)) } ?? "?"
            // The leaf's own issuer is missing: an intermediate to import. Past a CA
            // the vault holds, what is missing is most likely a private CA's root.
            guard count > 1 else { return .issuerMissing(issuer: issuer) }
            return .untrusted(
                reason:
                    "it chains through \(subject(at: count - 1)), held in the vault, to \(issuer), which is neither held nor a trusted root"
            )
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            let count = chain.map { cv_sk_X509_num($0) } ?? 1
            return .untrusted(reason: "its root \(subject(at: count - 1)) is not a trusted root")
        default:
            return .untrusted(reason: String(cString: X509_verify_cert_error_string(Int(code))))
        }
    }
}
