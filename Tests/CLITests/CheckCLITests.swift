import Foundation
import TestSupport
import XCTest

/// `certvault check` as cron and CI run it, and the warnings import, new,
/// csr and export print at the moment a rule applies.
final class CheckCLITests: CLITestCase {
    /// A certificate and key made by Python `cryptography` (which can date a
    /// certificate in the past): `name.crt` and `name.key` in PEM.
    func pyca(_ name: String, bits: Int = 2048, daysFromNow start: Int = 0, days: Int = 365) throws {
        try Support.sh(
            """
            cd '\(dir.path)'
            python3 - <<'PY'
            import datetime
            from cryptography import x509
            from cryptography.x509.oid import NameOID
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            key = rsa.generate_private_key(public_exponent=65537, key_size=\(bits))
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "\(name)")])
            start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=\(start))
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start)
                .not_valid_after(start + datetime.timedelta(days=\(days)))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("\(name)")]), critical=False)
                .sign(key, hashes.SHA256()))
            open("\(name).crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
            open("\(name).key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            PY
            """
        )
    }

    func testCheckExitCodesJSONAndWarningsWhereTheRulesApply() throws {
        try initVault()
        // A management certificate of 1024 bits: import warns at once.
        try pyca("weak.example", bits: 1024)
        let weak = try cvAsAlice([
            "import", file("weak.example.crt"), file("weak.example.key"), "--purpose", "management",
            "--subscription", "s1",
        ])
        XCTAssertEqual(weak.status, 0, weak.err)
        XCTAssertTrue(weak.err.contains("warning: management-key-size: "), weak.err)
        XCTAssertTrue(weak.err.contains("note: management-api-retired: "), weak.err)
        // check: an error, so exit 3; grouped under the entry; JSON lists rule, severity, entry, message, data.
        let check = try cv(["check"])
        XCTAssertEqual(check.status, 3, check.err)
        XCTAssertTrue(check.out.contains("weak.example ("), check.out)
        XCTAssertTrue(check.out.contains("  error   management-key-size: "), check.out)
        XCTAssertTrue(check.out.contains("checked 1 entry: "), check.out)
        let json = try cv(["check", "--json"])
        XCTAssertEqual(json.status, 3)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let findings = try XCTUnwrap(object["findings"] as? [[String: Any]])
        let keySize = try XCTUnwrap(findings.first { $0["rule"] as? String == "management-key-size" })
        XCTAssertEqual(keySize["severity"] as? String, "error")
        XCTAssertEqual(keySize["alias"] as? String, "weak.example")
        XCTAssertEqual((keySize["data"] as? [String: String])?["key_bits"], "1024")
        XCTAssertNotNil(keySize["thumbprintSHA1"] as? String)

        // Only a note left once the weak entry is out of the selection: exit 0, unless --fail-on info.
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=good", "--alias", "good"]).status, 0)
        XCTAssertEqual(try cv(["check", "--entry", "good"]).status, 0)
        XCTAssertEqual(try cv(["check", "--entry", "good", "--fail-on", "info"]).status, 3)
        XCTAssertEqual(try cv(["check", "--purpose", "ssl"]).status, 0)

        // An expired certificate: check says so, and its export warns (and still works).
        try pyca("old.example", daysFromNow: -400, days: 365)
        XCTAssertEqual(
            try cvAsAlice(["import", file("old.example.crt"), file("old.example.key"), "--purpose", "other"]).status,
            0
        )
        let expired = try cv(["check", "--entry", "old.example"])
        XCTAssertEqual(expired.status, 3)
        XCTAssertTrue(expired.out.contains("expired: old.example expired on "), expired.out)
        try Support.write("pw-for-export\n", to: dir.appendingPathComponent("x.pw"))
        let export = try cvAsAlice([
            "export", "old.example", "--format", "pfx", "--password-file", file("x.pw"), "--out", file("old.pfx"),
        ])
        XCTAssertEqual(export.status, 0, export.err)
        XCTAssertTrue(export.err.contains("warning: expired: old.example expired on "), export.err)
        // Windows: 40 days left is quiet by default, a warning with --days 60, an error with 60,45.
        try pyca("soon.example", days: 40)
        XCTAssertEqual(
            try cvAsAlice(["import", file("soon.example.crt"), file("soon.example.key"), "--purpose", "other"]).status,
            0
        )
        XCTAssertEqual(try cv(["check", "--entry", "soon.example"]).status, 0)
        let sixty = try cv(["check", "--entry", "soon.example", "--days", "60", "--fail-on", "warning"])
        XCTAssertEqual(sixty.status, 3)
        XCTAssertTrue(sixty.out.contains("warning expiring: soon.example expires on "), sixty.out)
        XCTAssertTrue(try cv(["check", "--entry", "soon.example", "--days", "60,45"]).out.contains("error   expiring"))
        // list shows the computed state, filters by it, and writes CSV a spreadsheet cannot be tricked by.
        let list = try cv(["list"])
        XCTAssertTrue(list.out.contains("expired"), list.out)
        XCTAssertTrue(list.out.contains("active"), list.out)
        XCTAssertEqual(try cv(["list", "--status", "expired"]).out.split(separator: "\n").count, 2)
        let soon = try cv(["list", "--expiring", "60"])
        XCTAssertTrue(soon.out.contains("soon.example") && !soon.out.contains("old.example"), soon.out)
        XCTAssertTrue(soon.out.contains("expiring in 39 days") || soon.out.contains("expiring in 40 days"), soon.out)
        let byExpiry = try cv(["list", "--sort", "expiry"]).out.split(separator: "\n").map(String.init)
        XCTAssertTrue(byExpiry[1].contains("old.example"), "\(byExpiry)")
        XCTAssertEqual(try cv(["list", "--purpose", "management"]).out.split(separator: "\n").count, 3)
        try pyca("formula.example")
        // A formula is no alias (refused before any passphrase), but a subscription may hold one.
        XCTAssertEqual(try cvAsAlice(["import", file("formula.example.crt"), "--alias", "=SUM(A1)"]).status, 2)
        XCTAssertEqual(
            try cvAsAlice(["import", file("formula.example.crt"), "--alias", "formula", "--subscription", "=SUM(A1)"])
                .status,
            0
        )
        let csv = try cv(["list", "--csv"])
        XCTAssertEqual(csv.status, 0, csv.err)
        let lines = csv.out.components(separatedBy: "\r\n")
        XCTAssertTrue(lines[0].hasPrefix("id,alias,purpose,subscription,domains,thumbprint_sha1,"), lines[0])
        XCTAssertTrue(lines.contains { $0.contains(",'=SUM(A1),") }, csv.out)
        XCTAssertFalse(lines.contains { $0.contains(",=SUM(A1),") }, csv.out)
        XCTAssertFalse(csv.out.contains("PRIVATE KEY"))
        XCTAssertEqual(try cv(["list", "--csv", "--json"]).status, 2)
        // A request for an Azure-owned name: csr warns at once.
        let csr = try cvAsAlice([
            "csr", "--subject", "CN=svc.cloudapp.net", "--dns", "svc.cloudapp.net", "--out", file("svc.csr"),
        ])
        XCTAssertEqual(csr.status, 0, csr.err)
        XCTAssertTrue(csr.err.contains("warning: foreign-domain: "), csr.err)
        // A request aliased "vault" shares its heading with the findings about
        // the vault itself (the test's keyslots are below the moderate cost):
        // one group, as the heading says.
        let named = try cvAsAlice([
            "csr", "--subject", "CN=api.cloudapp.net", "--dns", "api.cloudapp.net", "--alias", "vault", "--out",
            file("api.csr"),
        ])
        XCTAssertEqual(named.status, 0, named.err)
        let grouped = try cv(["check"]).out.components(separatedBy: "\n")
        XCTAssertEqual(grouped.filter { $0 == "vault" }.count, 1, grouped.joined(separator: "\n"))
        let vaultGroup = grouped.drop { $0 != "vault" }.dropFirst().prefix { $0.hasPrefix("  ") }
        XCTAssertTrue(vaultGroup.contains { $0.contains(" weak-kdf: ") }, grouped.joined(separator: "\n"))
        XCTAssertTrue(vaultGroup.contains { $0.contains(" foreign-domain: ") }, grouped.joined(separator: "\n"))
        // An Entra ID app credential: made like a management certificate, tagged with its app id.
        let app = try cvAsAlice(["new", "app-credential", "--subject", "CN=deploy", "--app-id", "0000-1111"])
        XCTAssertEqual(app.status, 0, app.err)
        XCTAssertFalse(app.err.contains("management-api-retired"), app.err)
        XCTAssertTrue(try cv(["list", "--purpose", "app"]).out.contains("deploy"))
        XCTAssertTrue(try cv(["show", "deploy", "--json"]).out.contains("\"appID\" : \"0000-1111\""))
        // A private root kept in the policy: read from its file, shown by subject.
        try Support.sh(
            "cd '\(dir.path)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rk.pem -out root.pem -subj '/CN=Policy Root' -days 30 -addext basicConstraints=critical,CA:TRUE 2>/dev/null"
        )
        let setRoots = try cvAsAlice(["policy", "set", "trusted-roots", file("root.pem")])
        XCTAssertEqual(setRoots.status, 0, setRoots.err)
        XCTAssertTrue(setRoots.out.hasPrefix("trusted-roots = CN=Policy Root (SHA-256 "), setRoots.out)
        XCTAssertTrue(try cv(["policy", "show"]).out.contains("CN=Policy Root (SHA-256 "))
        let noRoots = try cvAsAlice(["policy", "set", "trusted-roots", file("rk.pem")])
        XCTAssertEqual(noRoots.status, 2, noRoots.err)
        XCTAssertTrue(noRoots.err.contains("holds a private key"), noRoots.err)
        // An intermediate is refused, named with its issuer; the root stays.
        try Support.sh(
            "cd '\(dir.path)' && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ik.pem -out i.csr -subj '/CN=Policy Issuing CA' 2>/dev/null && printf 'basicConstraints=critical,CA:TRUE\n' > i.ext && openssl x509 -req -in i.csr -CA root.pem -CAkey rk.pem -CAcreateserial -out inter.pem -days 30 -extfile i.ext 2>/dev/null"
        )
        let intermediate = try cvAsAlice(["policy", "set", "trusted-roots", file("inter.pem")])
        XCTAssertEqual(intermediate.status, 2, intermediate.err)
        XCTAssertTrue(
            intermediate.err.contains("CN=Policy Issuing CA is not a root: it was issued by CN=Policy Root"),
            intermediate.err
        )
        XCTAssertTrue(intermediate.err.contains("hint: give the root certificate here"), intermediate.err)
        XCTAssertTrue(try cv(["policy", "show"]).out.contains("CN=Policy Root (SHA-256 "))
        XCTAssertEqual(try cvAsAlice(["policy", "set", "trusted-roots", "none"]).status, 0)
        // Bad windows: one error line, a hint, exit 2 (a usage mistake).
        let bad = try cv(["check", "--days", "soon"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(
            bad.err,
            "error: cannot read the expiry window 'soon'\nhint: give days (30, or 60,30,7) or a share of the lifetime (20%)\n"
        )
    }
}
