internal import COpenSSL
internal import CertVaultNative
import Foundation

/// OpenSSL 3, as certvault uses it without changing it for the process.
///
/// RC2-40 and 3DES `.pfx` files from Windows, macOS and Firefox need the
/// `legacy` provider. It is loaded, with `default`, into certvault's own
/// library context (`cv_libctx`), never into the process's default one:
/// every key certvault derives, every PKCS#12 file it decrypts, every MAC it
/// checks and every key it decodes or generates goes through that context,
/// and OpenSSL's global PBE table is only read. A host linking the library
/// keeps its default context exactly as it configured it (FIPS, property
/// queries, providers).
enum OpenSSL {
    /// Refuses a password with a NUL byte: OpenSSL takes passwords as C
    /// strings, and would encrypt under the part before the NUL alone.
    static func requireCString(_ password: SecureBytes) throws {
        guard !password.containsNUL else {
            throw CertVaultError(
                .invalidArgument,
                "the password contains a NUL byte, which OpenSSL cannot take",
                hint: "use a password without NUL bytes"
            )
        }
    }

    /// certvault's library context (made on first use).
    static var context: OpaquePointer? { cv_libctx() }

    static func ensure() throws {
        guard cv_libctx() != nil else {
            throw CertVaultError(
                .crypto,
                "could not load OpenSSL's default and legacy providers: \(drainErrors())",
                hint: "install libssl3 with its legacy provider (ossl-modules/legacy.so)"
            )
        }
    }

    /// OpenSSL's error queue, drained: each entry's library and reason
    /// codes, on which decisions are made, and its text, for messages.
    struct ErrorStack: CustomStringConvertible {
        struct Entry {
            var library: Int32
            var reason: Int32
            var message: String
        }
        var entries: [Entry] = []

        var description: String {
            entries.isEmpty ? "unknown OpenSSL error" : entries.map(\.message).joined(separator: "; ")
        }

        func contains(library: Int32, reason: Int32) -> Bool {
            entries.contains { $0.library == library && $0.reason == reason }
        }

        /// Reasons that say OpenSSL does not know or support an algorithm,
        /// as opposed to a wrong key or damaged data.
        private static let unsupported: Set<[Int32]> = [
            [ERR_LIB_EVP, EVP_R_UNKNOWN_CIPHER], [ERR_LIB_EVP, EVP_R_UNKNOWN_DIGEST],
            [ERR_LIB_EVP, EVP_R_UNKNOWN_PBE_ALGORITHM], [ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM],
            [ERR_LIB_EVP, EVP_R_UNSUPPORTED_CIPHER], [ERR_LIB_EVP, EVP_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION],
            [ERR_LIB_EVP, EVP_R_UNSUPPORTED_PRF], [ERR_LIB_EVP, EVP_R_UNSUPPORTED_PRIVATE_KEY_ALGORITHM],
            [ERR_LIB_EVP, EVP_R_UNSUPPORTED_KEYLENGTH], [ERR_LIB_EVP, EVP_R_UNSUPPORTED_SALT_TYPE],
            [ERR_LIB_PKCS12, PKCS12_R_UNKNOWN_DIGEST_ALGORITHM], [ERR_LIB_PKCS12, PKCS12_R_UNSUPPORTED_PKCS12_MODE],
            [ERR_LIB_ASN1, ASN1_R_UNKNOWN_DIGEST], [ERR_LIB_ASN1, ASN1_R_UNKNOWN_MESSAGE_DIGEST_ALGORITHM],
            [ERR_LIB_ASN1, ASN1_R_UNSUPPORTED_CIPHER], [ERR_LIB_PEM, PEM_R_UNSUPPORTED_CIPHER],
            [ERR_LIB_PEM, PEM_R_UNSUPPORTED_ENCRYPTION],
        ]

        /// Whether the failure is an algorithm OpenSSL cannot compute.
        var isUnsupportedAlgorithm: Bool {
            entries.contains { e in
                e.reason == ERR_R_UNSUPPORTED || e.reason == ERR_R_FETCH_FAILED
                    || Self.unsupported.contains([e.library, e.reason])
            }
        }
    }

    /// Empties OpenSSL's error queue, so it is never left dirty.
    @discardableResult
    static func drainErrors() -> ErrorStack {
        var stack = ErrorStack()
        while true {
            let code = ERR_get_error_all(nil, nil, nil, nil, nil)
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            let message: String
            if let reason = ERR_reason_error_string(code) {
                message = String(cString: reason)
            } else {
                ERR_error_string_n(code, &buf, buf.count)
                message = buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            }
            stack.entries.append(.init(library: ERR_GET_LIB(code), reason: ERR_GET_REASON(code), message: message))
        }
        return stack
    }

    static func error(_ code: CertVaultError.Code, _ what: String) -> CertVaultError {
        CertVaultError(code, "\(what): \(drainErrors())")
    }

    /// Runs `body` with a memory BIO, returning what it wrote.
    static func withMemoryBIO(_ body: (OpaquePointer) throws -> Bool) throws -> Data {
        guard let bio = BIO_new(BIO_s_mem()) else { throw error(.crypto, "BIO_new failed") }
        defer { BIO_free(bio) }
        guard try body(bio) else { throw error(.crypto, "OpenSSL could not encode") }
        var ptr: UnsafeMutablePointer<CChar>?
        let len = cv_BIO_get_mem_data(bio, &ptr)
        guard len > 0, let ptr else { throw error(.crypto, "OpenSSL encoded nothing") }
        return Data(bytes: ptr, count: len)
    }

    /// Runs `body` with a secure-memory BIO (zeroed on free), returning the
    /// bytes written in secure storage.
    static func withSecureBIO(_ body: (OpaquePointer) -> Bool) throws -> SecureBytes {
        guard let bio = BIO_new(BIO_s_secmem()) else { throw error(.crypto, "BIO_new failed") }
        defer { BIO_free(bio) }
        guard body(bio) else { throw error(.crypto, "OpenSSL could not encode the key") }
        var ptr: UnsafeMutablePointer<CChar>?
        let len = cv_BIO_get_mem_data(bio, &ptr)
        guard len > 0, let ptr else { throw error(.crypto, "OpenSSL encoded no key") }
        return SecureBytes(copying: UnsafeRawBufferPointer(start: ptr, count: len))
    }

    static func digest(_ data: Data, sha1: Bool) throws -> Data {
        var out = Data(count: sha1 ? 20 : 32)
        var len: UInt32 = 0
        let rc = out.withUnsafeMutableBytes { o in
            data.withUnsafeBytes { d in
                EVP_Digest(
                    d.baseAddress,
                    d.count,
                    o.baseAddress!,
                    &len,
                    sha1 ? EVP_sha1() : EVP_sha256(),
                    nil
                )
            }
        }
        guard rc == 1, Int(len) == out.count else { throw error(.crypto, "EVP_Digest failed") }
        return out
    }

    /// Runs one of OpenSSL's `d2i_*` decoders over `bytes`; nil when it
    /// reads nothing. The one place a byte buffer is seen as `unsigned char`.
    static func decode<T>(
        _ bytes: UnsafeRawBufferPointer,
        _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> T?
    ) -> T? {
        var p: UnsafePointer<UInt8>? = UnsafePointer(bytes.bindMemory(to: UInt8.self).baseAddress)
        guard p != nil else { return nil }
        return d2i(&p, bytes.count)
    }

    static func decode<T>(
        _ data: Data,
        _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> T?
    ) -> T? {
        data.withUnsafeBytes { decode($0, d2i) }
    }

    /// Runs an `i2d_*` call that allocates its output, and takes the bytes.
    /// - Throws: when OpenSSL encodes nothing: never an empty result.
    static func der(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int32) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        let len = encode(&out)
        guard len > 0, let out else { throw error(.crypto, "OpenSSL could not encode to DER") }
        defer { cv_OPENSSL_free(out) }
        return Data(bytes: out, count: Int(len))
    }

    static func string(fromOpenSSL p: UnsafeMutablePointer<CChar>?) -> String? {
        guard let p else { return nil }
        defer { cv_OPENSSL_free(p) }
        return String(cString: p)
    }
}
