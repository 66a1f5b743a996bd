// A host process, as a service embedding CertVault would be: it uses
// OpenSSL's default context itself, then the library, then OpenSSL again,
// and prints what it saw before and after as two JSON objects on one line
// each. The library must change nothing of the host's OpenSSL: the same
// providers in the default context, the same PBE table, the same bytes out
// of PKCS12_parse and EVP_PBE_CipherInit.
//   certvault-host-probe AES.pfx LEGACY.pfx PASSWORD
import COpenSSL
import CertVault
import Foundation

let args = CommandLine.arguments
guard args.count == 4 else {
    FileHandle.standardError.write(Data("usage: certvault-host-probe AES.pfx LEGACY.pfx PASSWORD\n".utf8))
    exit(2)
}
let aes = try Data(contentsOf: URL(fileURLWithPath: args[1]))
let legacy = try Data(contentsOf: URL(fileURLWithPath: args[2]))
let password = args[3]

func hex(_ bytes: UnsafeRawBufferPointer) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// PKCS12_parse in the default context: whether it parsed, the key's DER
/// digest and the provider that holds the key.
func parse(_ data: Data) -> String {
    let p12: OpaquePointer? = data.withUnsafeBytes { raw in
        var p = raw.bindMemory(to: UInt8.self).baseAddress
        return d2i_PKCS12(nil, &p, raw.count)
    }
    guard let p12 else { return "not PKCS#12" }
    defer { PKCS12_free(p12) }
    var pkey: OpaquePointer?
    var cert: OpaquePointer?
    var ca: OpaquePointer?
    let ok = PKCS12_parse(p12, password, &pkey, &cert, &ca) == 1
    defer {
        EVP_PKEY_free(pkey)
        X509_free(cert)
    }
    ERR_clear_error()
    guard ok, let pkey else { return "refused" }
    var der: UnsafeMutablePointer<UInt8>?
    let n = i2d_PrivateKey(pkey, &der)
    defer { CRYPTO_free(der, #file, #line) }
    var digest = [UInt8](repeating: 0, count: 32)
    _ = SHA256(der, Int(n), &digest)
    let provider = EVP_PKEY_get0_provider(pkey).flatMap { OSSL_PROVIDER_get0_name($0) }.map { String(cString: $0) }
    return "key " + digest.withUnsafeBytes(hex) + " in " + (provider ?? "no provider")
}

/// EVP_PBE_CipherInit in the default context over fixed parameters: the ciphertext.
func cipherInit(_ algorithm: X509Algorithm) -> String {
    guard let alg = algorithm.make() else { return "no algorithm" }
    defer { X509_ALGOR_free(alg) }
    guard let ctx = EVP_CIPHER_CTX_new() else { return "no context" }
    defer { EVP_CIPHER_CTX_free(ctx) }
    guard EVP_PBE_CipherInit(alg.pointee.algorithm, "pbe password", 12, alg.pointee.parameter, ctx, 1) == 1 else {
        ERR_clear_error()
        return "refused"
    }
    let plain = [UInt8]("sixteen byte msg and more".utf8)
    var out = [UInt8](repeating: 0, count: plain.count + 32)
    var n: Int32 = 0
    var last: Int32 = 0
    guard EVP_CipherUpdate(ctx, &out, &n, plain, Int32(plain.count)) == 1,
        out.withUnsafeMutableBufferPointer({ EVP_CipherFinal_ex(ctx, $0.baseAddress! + Int(n), &last) }) == 1
    else {
        ERR_clear_error()
        return "refused"
    }
    return out.prefix(Int(n + last)).withUnsafeBytes(hex)
}

enum X509Algorithm {
    case pbes2AES
    case pkcs12(Int32)

    func make() -> UnsafeMutablePointer<X509_ALGOR>? {
        let salt: [UInt8] = Array(repeating: 7, count: 16)
        switch self {
        case .pbes2AES:
            let iv: [UInt8] = Array(repeating: 9, count: 16)
            return salt.withUnsafeBufferPointer { s in
                iv.withUnsafeBufferPointer { v in
                    PKCS5_pbe2_set_iv(
                        EVP_aes_256_cbc(),
                        2048,
                        UnsafeMutablePointer(mutating: s.baseAddress),
                        16,
                        UnsafeMutablePointer(mutating: v.baseAddress),
                        NID_hmacWithSHA256
                    )
                }
            }
        case .pkcs12(let nid):
            return salt.withUnsafeBufferPointer { s in
                PKCS5_pbe_set(nid, 2048, s.baseAddress, 8)
            }
        }
    }
}

/// OpenSSL's `EVP_PBE_KEYGEN`.
typealias KeyGen =
    @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<ASN1_TYPE>?, OpaquePointer?, OpaquePointer?,
        Int32
    ) -> Int32

/// The key-derivation function the default PBE table names for `nid`.
func tableEntry(_ nid: Int32) -> String {
    var cipher: Int32 = 0
    var md: Int32 = 0
    var keygen: KeyGen?
    guard EVP_PBE_find(EVP_PBE_TYPE_OUTER, nid, &cipher, &md, &keygen) == 1 else { return "absent" }
    let address = keygen.map { unsafeBitCast($0, to: Int.self) } ?? 0
    let pbes2 = unsafeBitCast(PKCS5_v2_PBE_keyivgen as KeyGen, to: Int.self)
    let pkcs12 = unsafeBitCast(PKCS12_PBE_keyivgen as KeyGen, to: Int.self)
    let name =
        address == pbes2 ? "PKCS5_v2_PBE_keyivgen" : address == pkcs12 ? "PKCS12_PBE_keyivgen" : "another function"
    return "\(name) cipher \(cipher) md \(md)"
}

func state() -> [String: String] {
    var seen: [String: String] = [:]
    seen["provider default"] = OSSL_PROVIDER_available(nil, "default") == 1 ? "loaded" : "not loaded"
    seen["provider legacy"] = OSSL_PROVIDER_available(nil, "legacy") == 1 ? "loaded" : "not loaded"
    let rc2 = EVP_CIPHER_fetch(nil, "RC2-40-CBC", nil)
    seen["fetch RC2-40-CBC"] = rc2 == nil ? "unavailable" : "available"
    EVP_CIPHER_free(rc2)
    ERR_clear_error()
    seen["PKCS12_parse AES"] = parse(aes)
    seen["PKCS12_parse legacy"] = parse(legacy)
    seen["EVP_PBE_CipherInit PBES2"] = cipherInit(.pbes2AES)
    for (name, nid) in [
        ("3DES", NID_pbe_WithSHA1And3_Key_TripleDES_CBC), ("RC2-40", NID_pbe_WithSHA1And40BitRC2_CBC),
        ("RC4", NID_pbe_WithSHA1And128BitRC4),
    ] {
        seen["EVP_PBE_CipherInit \(name)"] = cipherInit(.pkcs12(nid))
        seen["PBE table \(name)"] = tableEntry(nid)
    }
    seen["PBE table PBES2"] = tableEntry(NID_pbes2)
    return seen
}

func json(_ object: [String: String]) -> String {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

let before = state()
// The library at work: both files read (the legacy one needs RC2-40), a vault
// made, one imported and exported in both profiles.
let filePassword = SecureBytes(utf8: password)
for data in [aes, legacy] { _ = try Importer.read(data: data, label: "probe", password: filePassword) }
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("host-probe-\(getpid())")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }
let vault = try Vault.create(
    at: dir.appendingPathComponent("v.db").path,
    admin: .init(handle: "host", role: .admin),
    passphrase: SecureBytes(utf8: "host probe passphrase"),
    kdf: .interactive,
    witness: nil
)
let session = try vault.unlock(handle: "host", passphrase: SecureBytes(utf8: "host probe passphrase"))
let report = try session.importFiles([Importer.read(data: legacy, label: "legacy", password: filePassword)])
guard let alias = report.items.first?.alias else {
    FileHandle.standardError.write(Data("nothing imported\n".utf8))
    exit(1)
}
for profile in ExportProfile.allCases {
    let result = try session.exportPFX(
        .alias(alias),
        to: .memory(label: "probe"),
        password: SecureBytes(utf8: "export pw"),
        profile: profile,
        recipient: "host"
    )
    _ = try Importer.read(data: result.bytes!, label: "exported", password: SecureBytes(utf8: "export pw"))
}
let after = state()
print(json(before))
print(json(after))
exit(before == after ? 0 : 1)
