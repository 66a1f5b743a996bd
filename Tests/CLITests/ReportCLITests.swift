import Foundation
import TestSupport
import XCTest

#if canImport(FoundationXML)
import FoundationXML
#endif

/// `certvault report`: one self-contained page, well-formed, every text from
/// a certificate or a person escaped, with each section's content.
final class ReportCLITests: CLITestCase {
    /// Collects elements and their text.
    final class Reader: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        var text = ""
        var attributes: [[String: String]] = []
        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            elements[name, default: 0] += 1
            self.attributes.append(attributes)
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    }

    func testReportIsSelfContainedEscapedAndComplete() throws {
        try initVault()
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=mgmt", "--alias", "mgmt"]).status, 0)
        // A subject (and so a friendly name, whose alias is made from it) and a domain tag chosen by someone hostile.
        let hostile = "<iframe onload=alert(1)>&\"'"
        for args in [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                file("web.key"), "-out", file("web.crt"), "-days", "30", "-subj", "/CN=\(hostile)",
            ],
            [
                "pkcs12", "-export", "-inkey", file("web.key"), "-in", file("web.crt"), "-out", file("web.pfx"),
                "-passout", "pass:secret", "-name", hostile,
            ],
        ] {
            let made = try Support.run("openssl", args)
            XCTAssertEqual(made.status, 0, made.err)
        }
        try Support.write("secret\n", to: dir.appendingPathComponent("web.pw"))
        let imported = try cvAsAlice([
            "import", file("web.pfx"), "--password-file", file("web.pw"), "--purpose", "ssl",
            "--domain", "x.azurewebsites.net",
        ])
        XCTAssertEqual(imported.status, 0, imported.err)
        XCTAssertEqual(
            try cvAsAlice([
                "person", "add", "bob", "--role", "officer", "--kdf", "interactive", "--new-passphrase-file",
                file("alice.pass"),
            ]).status,
            0
        )
        let grant = try cvAsAlice(["grant", "mgmt", "bob", "--as", "alice"])
        XCTAssertEqual(grant.status, 0, grant.err)

        let out = file("report.html")
        let r = try cv(["report", "--out", out])
        XCTAssertEqual(r.status, 0, r.err)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "a script element in the page")
        XCTAssertFalse(html.contains("<iframe"), "an element from the subject")
        XCTAssertFalse(html.contains("http://") && html.contains("src="), "an external asset")
        XCTAssertFalse(html.contains("<link"), "an external stylesheet")
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)

        let parser = XMLParser(data: Data(html.utf8))
        let reader = Reader()
        parser.delegate = reader
        XCTAssertTrue(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?")")
        XCTAssertEqual(reader.elements["script"], nil)
        XCTAssertEqual(reader.elements["svg"], 1)
        XCTAssertGreaterThanOrEqual(reader.elements["rect"] ?? 0, 2)
        let text = reader.text
        // The vault and its verified head, as audit verify prints it.
        let head = try cv(["audit", "verify"]).out.split(separator: "\n").last.map(String.init) ?? "?"
        let seq = head.split(separator: ":").first.map(String.init) ?? "?"
        let hash = head.split(separator: ":").last.map(String.init) ?? "?"
        XCTAssertTrue(text.contains("record \(seq), \(hash)") || text.contains(hash), text)
        XCTAssertTrue(text.contains("verified"), text)
        // The hostile subject, as text, in the inventory; its alias in the findings and the custody matrix.
        XCTAssertTrue(text.contains(hostile), text)
        XCTAssertTrue(text.contains("foreign-domain"), text)
        XCTAssertTrue(text.contains("management-api-retired"), text)
        // Custody: bob can open mgmt; alice too.
        XCTAssertTrue(text.contains("bob"), text)
        XCTAssertTrue(html.contains("<td>mgmt</td><td>open</td><td>open</td>"), html)
        // Activity in sentences.
        XCTAssertTrue(text.contains("alice granted mgmt to bob"), text)
        XCTAssertTrue(text.contains("alice created mgmt"), text)
        // Never over an existing file without --force.
        XCTAssertEqual(try cv(["report", "--out", out]).status, 1)
        XCTAssertEqual(try cv(["report", "--out", out, "--force"]).status, 0)
    }
}
