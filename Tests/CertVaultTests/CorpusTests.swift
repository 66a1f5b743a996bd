import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// Every fixture in Fixtures/corpus (made by generate.sh beside it): what
/// OpenSSL reads from a file, certvault must read too, key for key and
/// certificate for certificate; every broken file must fail with its cause.
final class CorpusTests: XCTestCase {
    static let corpus = Support.corpus

    struct Case {
        var file, password, expect: String
        var certs, keys: Int
        var judgeCerts, judgeKeys, tool, note: String
    }

    static func cases() throws -> [Case] {
        let text = try String(contentsOf: corpus.appendingPathComponent("manifest.tsv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Case(
                file: f[0],
                password: f[1],
                expect: f[2],
                certs: Int(f[3])!,
                keys: Int(f[4])!,
                judgeCerts: f[5],
                judgeKeys: f[6],
                tool: f[7],
                note: f[8]
            )
        }
    }

    func password(_ c: Case) -> SecureBytes? {
        switch c.password {
        case "-": return nil
        case "<empty>": return SecureBytes(count: 0)
        default: return SecureBytes(utf8: c.password)
        }
    }

    /// DER of every PEM block with `label` in what a judge printed.
    func blocks(_ pem: String, _ label: String) -> [Data] {
        pem.components(separatedBy: "-----BEGIN \(label)-----").dropFirst().compactMap { part in
            guard let body = part.components(separatedBy: "-----END \(label)-----").first else { return nil }
            return Data(base64Encoded: body.components(separatedBy: .whitespacesAndNewlines).joined())
        }
    }

    func judge(_ command: String, _ c: Case, _ path: String) throws -> String {
        let pass = c.password == "-" || c.password == "<empty>" ? "" : c.password
        let line = command.replacingOccurrences(of: "{F}", with: "'\(path)'").replacingOccurrences(
            of: "{P}",
            with: "'\(pass)'"
        )
        return try Support.sh("openssl " + line).out
    }

    func testManifestCoversEveryFixtureAndEveryTool() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 60)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path)
            .filter { !["generate.sh", "manifest.tsv"].contains($0) }
        XCTAssertEqual(Set(files), Set(cases.map(\.file).filter { !$0.hasPrefix("../") }))
        for tool in [
            "openssl 3", "GnuTLS certtool", "NSS pk12util", "Java keytool", "Python cryptography", "real-world export",
        ] {
            XCTAssertTrue(cases.contains { $0.tool.hasPrefix(tool) }, "no fixture from \(tool)")
        }
    }

    func testEveryFixture() throws {
        var checked = 0
        for c in try Self.cases() {
            let path = Self.corpus.appendingPathComponent(c.file).standardizedFileURL.path
            let label = "\(c.file) (\(c.tool): \(c.note))"
            if c.expect != "ok" {
                XCTAssertThrowsError(try Importer.read(path: path, password: password(c)), label) { error in
                    let e = error as? CertVaultError
                    XCTAssertEqual(e?.code.rawValue, c.expect, "\(label): \(error)")
                    XCTAssertTrue(
                        e?.message.hasPrefix(path) == true,
                        "\(label): the error must name the file: \(error)"
                    )
                }
                checked += 1
                continue
            }
            let file: ImportFile
            do { file = try Importer.read(path: path, password: password(c)) } catch {
                XCTFail("\(label): \(error)")
                continue
            }
            XCTAssertEqual(file.certificateCount, c.certs, label)
            XCTAssertEqual(file.keyCount, c.keys, label)
            if c.judgeCerts != "-" {
                let expected = blocks(try judge(c.judgeCerts, c, path), "CERTIFICATE")
                XCTAssertEqual(
                    Set(try file.certificates.map { try $0.certificate.derEncoded }),
                    Set(expected),
                    "\(label): certificates differ from openssl's"
                )
            }
            if c.judgeKeys != "-" {
                let expected = blocks(try judge(c.judgeKeys, c, path), "PRIVATE KEY")
                let ours = try file.keys.map { try $0.key.pkcs8().withUnsafeBytes { Data($0) } }
                XCTAssertEqual(Set(ours), Set(expected), "\(label): keys differ from openssl's")
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 60)
    }

    func testFriendlyNamesBecomeAliases() throws {
        let unicode = try Importer.read(
            path: Self.corpus.appendingPathComponent("ossl-unicode-name.p12").path,
            password: SecureBytes(utf8: "test")
        )
        XCTAssertEqual(unicode.certificates.first?.friendlyName, "Zürich ☃ 証明書")
        let java = try Importer.read(
            path: Self.corpus.appendingPathComponent("java.p12").path,
            password: SecureBytes(utf8: "testtest")
        )
        XCTAssertEqual(java.certificates.first?.friendlyName ?? java.keys.first?.friendlyName, "javakey")
        let trusted = try Importer.read(path: Self.corpus.appendingPathComponent("trusted.pem").path, password: nil)
        XCTAssertEqual(trusted.certificates.first?.friendlyName, "contoso trusted")
    }

    func testDSAIsReadableWithAWarning() throws {
        let dsa = try Importer.read(path: Self.corpus.appendingPathComponent("dsa.pem").path, password: nil)
        XCTAssertEqual(dsa.keys.first?.key.algorithm.name, "DSA")
        XCTAssertTrue(dsa.warnings.contains { $0.contains("DSA") }, "\(dsa.warnings)")
    }
}
