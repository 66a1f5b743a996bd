import Foundation
import TestSupport
import XCTest

/// The library changes nothing of OpenSSL for the process that links it
/// (issue 27): a fresh host process sees the same default context, the same
/// PBE table and the same bytes from `PKCS12_parse` and
/// `EVP_PBE_CipherInit` before and after reading, importing and exporting
/// through CertVault, which meanwhile reads an RC2-40 file the host's own
/// default context cannot.
final class HostIsolationTests: XCTestCase {
    static let probe: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .appendingPathComponent("certvault-host-probe"),
            Bundle.main.bundleURL.appendingPathComponent("certvault-host-probe"),
            Support.root.appendingPathComponent(".build/debug/certvault-host-probe"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path
            ?? candidates.last!.path
    }()

    func testTheHostsOpenSSLIsTheSameBeforeAndAfterTheLibrary() throws {
        let aes = Support.realWorld.appendingPathComponent("ValidCertificatePathTest1EE_windows_aes.p12.pfx").path
        let rc2 = Support.realWorld.appendingPathComponent("ValidCertificatePathTest1EE_firefox.p12").path
        // The host's own OpenSSL configuration, untouched by the test's environment.
        let r = try Support.run(Self.probe, [aes, rc2, "password"])
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "\(r.out)\(r.err)")
        guard lines.count == 2 else { return }
        let before = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String]
        )
        let after = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: String])
        for key in before.keys.sorted() where before[key] != after[key] {
            XCTFail("\(key): before \(before[key] ?? "-"), after \(after[key] ?? "-")")
        }
        XCTAssertEqual(before.count, after.count)
        XCTAssertEqual(r.status, 0, r.err)
        // What "the same" is: OpenSSL's own state, which the library would have changed.
        XCTAssertEqual(after["provider legacy"], "not loaded")
        XCTAssertEqual(after["fetch RC2-40-CBC"], "unavailable")
        XCTAssertEqual(after["PKCS12_parse legacy"], "refused")
        XCTAssertTrue(after["PKCS12_parse AES"]?.hasPrefix("key ") == true, "\(after)")
        XCTAssertTrue(after["PKCS12_parse AES"]?.hasSuffix(" in default") == true, "\(after)")
        XCTAssertTrue(after["PBE table PBES2"]?.hasPrefix("PKCS5_v2_PBE_keyivgen ") == true, "\(after)")
        for name in ["3DES", "RC2-40", "RC4"] {
            XCTAssertTrue(after["PBE table \(name)"]?.hasPrefix("PKCS12_PBE_keyivgen ") == true, "\(name): \(after)")
        }
        XCTAssertEqual(after["EVP_PBE_CipherInit PBES2"]?.count, 64, "\(after)")
        XCTAssertEqual(after["EVP_PBE_CipherInit 3DES"]?.count, 64, "\(after)")
        XCTAssertEqual(after["EVP_PBE_CipherInit RC2-40"], "refused")
    }
}
