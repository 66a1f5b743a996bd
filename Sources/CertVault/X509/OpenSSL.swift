internal import COpenSSL
internal import CertVaultShims
import Foundation

/// OpenSSL 3, set up once: the `default` and `legacy` providers are loaded
/// explicitly, because once any provider is loaded by hand the default one is
/// no longer loaded implicitly, and RC2-40 / 3DES `.pfx` files from Windows,
/// macOS and Firefox need the legacy one.
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

    private static let ready: Bool = {
        let legacy = OSSL_PROVIDER_load(nil, "legacy")
        let standard = OSSL_PROVIDER_load(nil, "default")
        return legacy != nil && standard != nil
    }()

    static func ensure() throws {
        guard ready else {
            throw CertVaultError(
                .crypto,
                "could not load OpenSSL's default and legacy providers: \(drainErrors())",
                hint: "install libssl3 with its legacy provider (ossl-modules/legacy.so)"
            )
        }
    }

    /// Empties OpenSSL's error queue into one readable string.
    @discardableResult
    static func drainErrors() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error_all(nil, nil, nil, nil, nil)
            if code == 0 { break }
            if let reason = ERR_reason_error_string(code) {
                messages.append(String(cString: reason))
            } else {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                messages.append(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            }
        }
        return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
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
        guard len > 0, let ptr else { return Data() }
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
        guard len > 0, let ptr else { return SecureBytes(count: 0) }
        return SecureBytes(copying: UnsafeRawBufferPointer(start: ptr, count: len))
    }

    static func digest(_ data: Data, sha1: Bool) -> Data {
        var out = Data(count: sha1 ? 20 : 32)
        var len: UInt32 = 0
        out.withUnsafeMutableBytes { o in
            data.withUnsafeBytes { d in
                _ = EVP_Digest(
                    d.baseAddress,
                    d.count,
                    o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    &len,
                    sha1 ? EVP_sha1() : EVP_sha256(),
                    nil
                )
            }
        }
        return out
    }

    /// Runs an `i2d_*` call that allocates its output, and takes the bytes.
    static func der(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int32) -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        let len = encode(&out)
        guard len > 0, let out else { return Data() }
        defer { cv_OPENSSL_free(out) }
        return Data(bytes: out, count: Int(len))
    }

    static func string(fromOpenSSL p: UnsafeMutablePointer<CChar>?) -> String? {
        guard let p else { return nil }
        defer { cv_OPENSSL_free(p) }
        return String(cString: p)
    }
}
