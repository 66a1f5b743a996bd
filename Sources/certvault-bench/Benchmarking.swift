import CertVault
import Foundation

/// Helpers for `certvault-bench`: making test files and measuring OpenSSL's
/// own parse rate, the limit an import can approach.
enum Benchmarking {
    /// Writes `count` `.pfx` files, each a fresh key and self-signed
    /// certificate, protected like `openssl pkcs12 -export` does by default
    /// (AES-256-CBC, PBKDF2 with `iterations`, SHA-256 MAC).
    /// - Returns: the paths written.
    static func makePFXFiles(
        count: Int,
        in directory: String,
        password: SecureBytes,
        keySpec: KeySpec = .ec(.p256),
        iterations: Int32 = 2048
    ) throws -> [String] {
        var paths: [String] = []
        for i in 0..<count {
            let key = try PrivateKey.generate(keySpec)
            let name = "bench-\(i).example.com"
            var builder = CertificateBuilder(subject: "CN=\(name),O=certvault bench")
            builder.extensions = [("subjectAltName", "DNS:\(name)"), ("extendedKeyUsage", "serverAuth")]
            let cert = try builder.build(key: key)
            let data = try PKCS12.create(
                key: key,
                certificate: cert,
                chain: [],
                friendlyName: name,
                password: .bytes(password),
                profile: .modern,
                iterations: iterations
            )
            let path = directory + "/\(name).pfx"
            try data.write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        return paths
    }

    /// OpenSSL's own `PKCS12_parse` rate over `paths` (files/s, one core):
    /// measured in a process in which OpenSSL's PBES2 key derivation is its own.
    static func referenceParseRate(_ paths: [String]) throws -> Double {
        try rateInOwnProcess("--parse-limit", paths, what: "OpenSSL's PKCS12_parse")
    }

    /// certvault's own reader over `paths` (files/s, one core).
    static func readRate(_ paths: [String]) throws -> Double {
        try rateInOwnProcess("--read-rate", paths, what: "Importer.read")
    }

    /// Runs this benchmark again with `flag` and the paths, and reads the rate it prints.
    private static func rateInOwnProcess(_ flag: String, _ paths: [String], what: String) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = [flag] + paths
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
            let rate = Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw CertVaultError(.corrupt, "\(what) could not be measured (exit \(p.terminationStatus))")
        }
        return rate
    }

    /// The audit-verify figure: records a second beside libsodium's Ed25519
    /// verify on one core, measured now (the limit).
    /// Times `verify` and measures Ed25519's one-core rate three times, in
    /// turn, and prints the best of each: on a shared machine whose speed
    /// drifts, both figures then come from the same minutes.
    static func verifyLines(_ label: String, records: Int, verify: () throws -> Void) rethrows {
        var seconds = Double.infinity
        var ed25519 = 0.0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            try verify()
            seconds = min(seconds, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            ed25519 = max(ed25519, Signature.singleCoreVerifyRate())
        }
        let rate = Double(records) / seconds
        line(
            label,
            "\(fmt(seconds * 1000, 0)) ms = \(fmt(rate, 0)) records/s = \(fmt(rate / ed25519, 2))x the limit",
            value: rate,
            unit: "records/s",
            limit: ed25519
        )
        line(
            "  Ed25519 verify, libsodium, one core (the limit)",
            "\(fmt(ed25519, 0)) signatures/s (best of 3, taken in turn)"
        )
    }

    /// Runs OpenSSL's `d2i_PKCS12` + `PKCS12_parse` on `data`; true if it parsed.
    static func opensslParse(_ data: Data, password: SecureBytes) -> Bool {
        PKCS12.referenceParse(data, password: password)
    }
}
