import Foundation
import TestSupport
import XCTest

/// Every format in and out, creation of management certificates and the CSR
/// flow; what certvault writes is judged by openssl, Python cryptography,
/// GnuTLS and NSS.
final class FormatsTests: CLITestCase {
    let corpus = Support.corpus
    func fixture(_ name: String) -> String { corpus.appendingPathComponent(name).path }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try initVault()
        try Support.write("test\n", to: dir.appendingPathComponent("test.pw"))
        try Support.write("Export-Pa55word\n", to: dir.appendingPathComponent("out.pw"))
    }

    func ok(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let r = try cv(
            args
                + (args.first == "list" || args.first == "show" || args.first == "audit"
                    ? [] : ["--passphrase-file", self.file("alice.pass")])
        )
        XCTAssertEqual(r.status, 0, "\(args): \(r.err)", file: file, line: line)
        return r
    }

    func entries() throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: try cv(["list", "--json"]).stdout) as? [[String: Any]] ?? []
    }

    func testCertificateAndKeyInOneCommandPair() throws {
        let r = try ok([
            "import", fixture("leaf.pem"), fixture("key-pbes2-aes256-sha256.pem"), "--password-file", file("test.pw"),
        ])
        XCTAssertTrue(r.out.contains("imported 1, already present 0, paired 1"), r.out)
        let e = try entries()
        XCTAssertEqual(e.count, 1)
        XCTAssertEqual(e[0]["hasPrivateKey"] as? Bool, true)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }

    func testKeyFirstThenCertificateJoin() throws {
        _ = try ok(["import", fixture("key-pkcs1.der")])
        XCTAssertNil(try entries().first?["certificate"], "a key-only entry has no certificate")
        let r = try ok(["import", fixture("leaf.der")])
        XCTAssertTrue(r.out.contains("paired 1"), r.out)
        let e = try entries()
        XCTAssertEqual(e.count, 1)
        XCTAssertEqual(e[0]["hasPrivateKey"] as? Bool, true)
        XCTAssertNotNil(e[0]["certificate"] as? [String: Any])
    }

    func testLoneKeyIsReportedAndKeptKeyOnly() throws {
        let r = try ok(["import", fixture("ec-p384-pkcs8.pem"), fixture("leaf.pem")])
        XCTAssertTrue(r.err.contains("warning: \(fixture("ec-p384-pkcs8.pem")): the key matches no certificate"), r.err)
        XCTAssertEqual(try entries().count, 2)
    }

    func testMismatchedKeyStoresNothing() throws {
        let r = try cvAsAlice(["import", fixture("mismatch.pem"), fixture("leaf.der")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(
            r.err.contains("error: \(fixture("mismatch.pem")): the private key does not match the certificate"),
            r.err
        )
        XCTAssertEqual(try entries().count, 0)
    }

    func testBrokenFilesAreNamedWithTheirCause() throws {
        let cases = [
            ("ossl-truncated.p12", "truncated"), ("garbage.bin", "not a certificate, key"),
            ("key-unknown-cipher.pem", "algorithm OpenSSL cannot decrypt"),
            ("ossl-mac-broken.p12", "MAC verification failed"),
        ]
        for (name, cause) in cases {
            let r = try cvAsAlice(["import", fixture(name), "--password-file", file("test.pw")])
            XCTAssertEqual(r.status, 1, name)
            XCTAssertTrue(r.err.contains("error: \(fixture(name)): ") && r.err.contains(cause), "\(name): \(r.err)")
        }
        XCTAssertEqual(try entries().count, 0)
    }

    func testFilesOverTheSizeLimitAreRefused() throws {
        let big = file("big.pfx")
        try Support.sh("truncate -s 17M '\(big)'")
        let r = try cvAsAlice(["import", big])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("over the 16 MiB limit"), r.err)
    }

    func testDirectoriesAndRecursion() throws {
        let tree = dir.appendingPathComponent("tree/sub")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: fixture("leaf.pem"),
            toPath: dir.appendingPathComponent("tree/leaf.pem").path
        )
        try FileManager.default.copyItem(
            atPath: fixture("ed25519.pem"),
            toPath: tree.appendingPathComponent("ed25519.pem").path
        )
        let flat = try ok(["import", dir.appendingPathComponent("tree").path])
        XCTAssertTrue(flat.out.contains("imported 1, already present 0, paired 0, failed 0"), flat.out)
        let deep = try ok(["import", "--recursive", dir.appendingPathComponent("tree").path])
        XCTAssertTrue(deep.out.contains("imported 1, already present 1, paired 0, failed 0"), deep.out)
    }

    /// On a terminal a long import shows progress on stderr; in a pipe it does not.
    func testProgressOnlyOnATerminal() throws {
        let many = dir.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: many, withIntermediateDirectories: true)
        for i in 0..<30 {
            try FileManager.default.copyItem(
                atPath: fixture("leaf.pem"),
                toPath: many.appendingPathComponent("c\(i).pem").path
            )
        }
        let piped = try ok(["import", many.path])
        XCTAssertFalse(piped.err.contains("reading"), piped.err)
        let r = try onTerminal(["import", many.path, "--passphrase-file", file("alice.pass")])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        // A live count, erased when done ("\r" then erase-line), then the summary alone:
        // 30 rows do not fit the terminal, so the table is left out.
        XCTAssertTrue(r.out.contains("\r\u{1B}[Kreading "), r.out)
        XCTAssertTrue(r.out.contains("/30 files"), r.out)
        XCTAssertFalse(r.out.contains("OUTCOME"), r.out)
        XCTAssertTrue(r.out.contains("already present 30, paired 0, failed 0 (--verbose lists every file)"), r.out)
        let verbose = try onTerminal(["import", many.path, "--passphrase-file", file("alice.pass"), "--verbose"])
        XCTAssertTrue(verbose.out.contains("OUTCOME"), verbose.out)
        let quiet = try onTerminal(["import", many.path, "--passphrase-file", file("alice.pass"), "--quiet"])
        XCTAssertEqual(quiet.status, 0)
        XCTAssertFalse(quiet.out.contains("already present"), quiet.out)
        XCTAssertFalse(quiet.out.contains("reading"), quiet.out)
    }

    func testChainsFromBundlesAndExportsInOrder() throws {
        _ = try ok(["import", fixture("ossl-default.p12"), "--password-file", file("test.pw")])
        let e = try entries()
        XCTAssertEqual(e.count, 3, "leaf, intermediate, root")
        let show = try cv(["show", "www.contoso.com"])
        XCTAssertTrue(
            show.out.contains(
                "CN=www.contoso.com,O=Contoso,C=US → CN=Fixture Intermediate CA,O=certvault fixtures,C=US → CN=Fixture Root CA"
            ),
            show.out
        )
        XCTAssertTrue(show.out.contains("extended key usage  serverAuth"), show.out)
        XCTAssertTrue(show.out.contains("DNS:www.contoso.com, DNS:contoso.com"), show.out)
        _ = try ok(["export", "www.contoso.com", "--format", "chain", "--out", file("chain.pem")])
        let subjects = try Support.sh(
            "openssl crl2pkcs7 -nocrl -certfile '\(file("chain.pem"))' | openssl pkcs7 -print_certs -noout | grep subject="
        ).out
        XCTAssertEqual(
            subjects.split(separator: "\n").map { String($0) },
            [
                "subject=C = US, O = Contoso, CN = www.contoso.com",
                "subject=C = US, O = certvault fixtures, CN = Fixture Intermediate CA",
                "subject=C = US, O = certvault fixtures, CN = Fixture Root CA",
            ]
        )
        _ = try ok(["export", "www.contoso.com", "--format", "pem", "--out", file("leaf.pem")])
        try Support.sh("openssl verify -CAfile '\(fixture("chain.pem"))' '\(file("leaf.pem"))'")
        // Importing the leaf alone later does not duplicate anything.
        XCTAssertTrue(try ok(["import", fixture("leaf.der")]).out.contains("already present 1"))
    }

    func testKeyExportEncryptedByDefaultAndJudgedByOthers() throws {
        _ = try ok(["import", fixture("leaf-with-key.pem")])
        _ = try ok([
            "export", "www.contoso.com", "--format", "key", "--out", file("k.pem"), "--password-file", file("out.pw"),
        ])
        let text = try String(contentsOfFile: file("k.pem"), encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        let parsed = try Support.sh("openssl asn1parse -in '\(file("k.pem"))'").out
        XCTAssertTrue(
            parsed.contains("PBES2") && parsed.contains("PBKDF2") && parsed.contains("hmacWithSHA256")
                && parsed.contains("aes-256-cbc"),
            parsed
        )
        XCTAssertTrue(parsed.contains(":0927C0"), "600,000 iterations: \(parsed)")
        let a = try Support.sh("openssl pkey -in '\(file("k.pem"))' -passin pass:Export-Pa55word -pubout").out
        let b = try Support.sh("openssl x509 -in '\(fixture("leaf.pem"))' -pubkey -noout").out
        XCTAssertEqual(a, b)
        let py = try Support.run(
            "python3",
            [
                "-c",
                """
                import sys
                from cryptography.hazmat.primitives.serialization import load_pem_private_key
                k = load_pem_private_key(open(sys.argv[1], "rb").read(), b"Export-Pa55word")
                print(k.key_size)
                """, file("k.pem"),
            ]
        )
        XCTAssertEqual(py.out.trimmingCharacters(in: .whitespacesAndNewlines), "2048", py.err)
        // Unencrypted only on request, and recorded as such.
        XCTAssertEqual(
            try cvAsAlice(["export", "1", "--format", "key", "--out", file("u.pem")])
                .status,
            1
        )
        _ = try ok(["export", "1", "--format", "key", "--unencrypted", "--out", file("u.pem")])
        XCTAssertTrue(
            try String(contentsOfFile: file("u.pem"), encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----")
        )
        let log =
            try JSONSerialization.jsonObject(
                with: try cv(["audit", "log", "--action", "entry.export", "--json"]).stdout
            ) as? [[String: Any]] ?? []
        XCTAssertEqual(log.count, 2)
        // Details are a JSON object, hashes hex.
        XCTAssertEqual((log[1]["details"] as? [String: Any])?["encrypted"] as? Bool, false, "\(log)")
        XCTAssertEqual((log[0]["details"] as? [String: Any])?["encrypted"] as? Bool, true, "\(log)")
        XCTAssertEqual((log[0]["hash"] as? String)?.count, 64)
    }

    func testPFXIsReadByGnuTLSAndNSS() throws {
        _ = try ok(["import", fixture("ossl-default.p12"), "--password-file", file("test.pw")])
        for profile in ["modern", "legacy"] {
            let out = file("\(profile).pfx")
            _ = try ok([
                "export", "www.contoso.com", "--format", "pfx", "--profile", profile, "--out", out, "--password-file",
                file("out.pw"),
            ])
            let gnutls = try Support.run(
                "certtool",
                ["--p12-info", "--inder", "--infile", out, "--password", "Export-Pa55word"]
            )
            XCTAssertEqual(gnutls.status, 0, "\(profile): \(gnutls.err)")
            XCTAssertTrue(gnutls.out.contains("www.contoso.com"), gnutls.out)
            let nss = try Support.run("pk12util", ["-l", out, "-W", "Export-Pa55word"])
            XCTAssertEqual(nss.status, 0, "\(profile): \(nss.out) \(nss.err)")
            XCTAssertTrue(nss.out.contains("Fixture Root CA") && nss.out.contains("www.contoso.com"), nss.out)
            let py = try Support.run(
                "python3",
                [
                    "-c",
                    """
                    import sys
                    from cryptography.hazmat.primitives.serialization import pkcs12
                    p = pkcs12.load_pkcs12(open(sys.argv[1], "rb").read(), b"Export-Pa55word")
                    print(p.cert.friendly_name.decode(), len(p.additional_certs))
                    """, out,
                ]
            )
            XCTAssertEqual(py.out.trimmingCharacters(in: .whitespacesAndNewlines), "www.contoso.com 2", py.err)
        }
    }

    func testNewManagementCertificate() throws {
        let r = try ok(["new", "management", "--subject", "CN=contoso-mgmt,O=Contoso", "--subscription", "sub-1"])
        let thumb = try XCTUnwrap(r.out.components(separatedBy: "thumbprint (SHA-1) ").last?.prefix(40))
        XCTAssertEqual(thumb.count, 40)
        _ = try ok(["export", "contoso-mgmt", "--format", "cer", "--out", file("m.cer")])
        let text = try Support.sh("openssl x509 -inform der -in '\(file("m.cer"))' -text -noout").out
        for needle in [
            "Public-Key: (2048 bit)", "Signature Algorithm: sha256WithRSAEncryption", "TLS Web Client Authentication",
            "Digital Signature, Key Encipherment", "X509v3 Subject Key Identifier",
            "Subject: O = Contoso, CN = contoso-mgmt",
            "Issuer: O = Contoso, CN = contoso-mgmt",
        ] {
            XCTAssertTrue(text.contains(needle), "missing \(needle):\n\(text)")
        }
        try Support.sh("openssl x509 -inform der -in '\(file("m.cer"))' -out '\(file("m.pem"))'")
        try Support.sh("openssl verify -CAfile '\(file("m.pem"))' '\(file("m.pem"))'")
        let fp = try Support.sh("openssl x509 -in '\(file("m.pem"))' -noout -fingerprint -sha1").out
            .replacingOccurrences(of: ":", with: "")
        XCTAssertTrue(fp.contains(thumb), fp)
        let serial = try Support.sh("openssl x509 -in '\(file("m.pem"))' -noout -serial").out
        XCTAssertGreaterThanOrEqual(
            serial.trimmingCharacters(in: .whitespacesAndNewlines).count - "serial=".count,
            30,
            serial
        )
        let e = try entries()
        XCTAssertEqual(e.first?["purpose"] as? String, "management")
        XCTAssertEqual(e.first?["subscription"] as? String, "sub-1")

        // Refused as usage mistakes, before the passphrase (UsabilityTests has the rest).
        let weak = try cvAsAlice(["new", "management", "--subject", "CN=weak", "--key", "rsa:1024"])
        XCTAssertEqual(weak.status, 2)
        XCTAssertTrue(weak.err.contains("1024 bits is refused: Azure requires at least 2048 bits"), weak.err)
        let ec = try cvAsAlice(["new", "management", "--subject", "CN=ec", "--key", "ec:p256"])
        XCTAssertEqual(ec.status, 2)
        XCTAssertTrue(ec.err.contains("need an RSA key"), ec.err)
        XCTAssertEqual(try entries().count, 1)
    }

    func testCSRFlowCompletesThePendingEntry() throws {
        _ = try ok([
            "csr", "--subject", "CN=shop.contoso.com,O=Contoso", "--dns", "shop.contoso.com", "--dns", "contoso.com",
            "--out", file("shop.csr"),
        ])
        let req = try Support.sh("openssl req -in '\(file("shop.csr"))' -verify -noout -text 2>&1").out
        XCTAssertTrue(req.contains("verify OK") || req.contains("self-signature verify OK"), req)
        XCTAssertTrue(req.contains("DNS:shop.contoso.com, DNS:contoso.com"), req)
        XCTAssertTrue(req.contains("Subject: O = Contoso, CN = shop.contoso.com"), req)
        let pending = try cv(["show", "shop.contoso.com"])
        XCTAssertTrue(pending.out.contains("pending") && pending.out.contains("waiting for"), pending.out)
        XCTAssertEqual(
            try cvAsAlice([
                "export", "shop.contoso.com", "--format", "pfx", "--out", file("x.pfx"),
                "--password-file", file("out.pw"),
            ]).status,
            1
        )
        _ = try ok(["export", "shop.contoso.com", "--format", "csr", "--out", file("again.csr")])
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: file("again.csr"))),
            try Data(contentsOf: URL(fileURLWithPath: file("shop.csr")))
        )

        // A test CA issues the certificate.
        try Support.sh(
            """
            cd '\(dir.path)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj '/CN=Issuing CA' \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
            openssl x509 -req -in shop.csr -CA ca.crt -CAkey ca.key -CAcreateserial -copy_extensions copy -days 90 -out shop.crt 2>/dev/null
            openssl req -new -newkey rsa:2048 -nodes -keyout wrong.key -subj '/O=Contoso/CN=shop.contoso.com' -out wrong.csr 2>/dev/null
            openssl x509 -req -in wrong.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 90 -out wrong.crt 2>/dev/null
            """
        )
        let wrong = try cvAsAlice(["import", file("wrong.crt")])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(
            wrong.err.contains("issued for another key than the pending request 'shop.contoso.com'"),
            wrong.err
        )

        let done = try ok(["import", file("shop.crt"), file("ca.crt")])
        XCTAssertTrue(done.out.contains("paired 0, requests completed 1"), done.out)
        let show = try cv(["show", "shop.contoso.com"])
        XCTAssertTrue(show.out.contains("status              active"), show.out)
        _ = try ok([
            "export", "shop.contoso.com", "--format", "pfx", "--out", file("shop.pfx"), "--password-file",
            file("out.pw"),
        ])
        try Support.sh(
            "openssl pkcs12 -in '\(file("shop.pfx"))' -passin pass:Export-Pa55word -nodes -out '\(file("shop.all.pem"))'"
        )
        let all = try String(contentsOfFile: file("shop.all.pem"), encoding: .utf8)
        XCTAssertEqual(all.components(separatedBy: "BEGIN CERTIFICATE").count - 1, 2, "leaf and CA")
        XCTAssertEqual(all.components(separatedBy: "BEGIN PRIVATE KEY").count - 1, 1)
        let keyPub = try Support.sh("openssl pkey -in '\(file("shop.all.pem"))' -pubout").out
        let certPub = try Support.sh("openssl x509 -in '\(file("shop.crt"))' -pubkey -noout").out
        XCTAssertEqual(keyPub, certPub)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        let actions =
            (try JSONSerialization.jsonObject(with: try cv(["audit", "log", "--json"]).stdout) as? [[String: Any]] ?? [])
            .compactMap { $0["action"] as? String }
        XCTAssertTrue(actions.contains("entry.request") && actions.contains("entry.complete"), "\(actions)")

        // Rotating the CA-issued certificate: the old one stays in use under its alias until
        // the CA's certificate for the new key is imported, which then takes the alias.
        let oldThumbprint = try XCTUnwrap(
            try cv(["show", "shop.contoso.com", "--json"]).out.split(separator: "\"").drop { $0 != "thumbprintSHA1" }
                .dropFirst(2).first.map(String.init)
        )
        let rotate = try ok(["rotate", "shop.contoso.com", "--out", file("next.csr")])
        XCTAssertTrue(rotate.out.contains("shop.contoso.com stays in use"), rotate.out)
        XCTAssertTrue(rotate.out.contains("shop.contoso.com.next"), rotate.out)
        XCTAssertTrue(try cv(["show", "shop.contoso.com"]).out.contains("status              active"))
        _ = try ok([
            "export", "shop.contoso.com", "--format", "pfx", "--out", file("still.pfx"), "--password-file",
            file("out.pw"),
        ])
        let again = try cvAsAlice(["rotate", "shop.contoso.com", "--out", file("third.csr")])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("is being rotated already"), again.err)
        try Support.sh(
            """
            cd '\(dir.path)'
            openssl x509 -req -in next.csr -CA ca.crt -CAkey ca.key -CAcreateserial -copy_extensions copy -days 90 -out next.crt 2>/dev/null
            """
        )
        // A certificate for the new key but other names does not complete the request (found in review).
        try Support.sh(
            """
            cd '\(dir.path)'
            printf 'subjectAltName=DNS:evil.attacker.net\\n' > evil.ext
            openssl x509 -req -in next.csr -CA ca.crt -CAkey ca.key -CAcreateserial -subj /CN=evil.attacker.net -extfile evil.ext -days 90 -out evil.crt 2>/dev/null
            """
        )
        let evil = try cvAsAlice(["import", file("evil.crt")])
        XCTAssertEqual(evil.status, 1, evil.out)
        XCTAssertTrue(evil.err.contains("does not name DNS:shop.contoso.com"), evil.err)
        XCTAssertTrue(try cv(["show", "shop.contoso.com"]).out.contains("status              active"))
        let completed = try ok(["import", file("next.crt")])
        XCTAssertTrue(completed.out.contains("requests completed 1"), completed.out)
        let rows = try cv(["list"]).out.split(separator: "\n")
        let current = try XCTUnwrap(rows.first { $0.contains(" shop.contoso.com ") })
        XCTAssertTrue(current.contains("active") && !current.contains(oldThumbprint), String(current))
        let previous = try XCTUnwrap(rows.first { $0.contains("shop.contoso.com.old-") })
        XCTAssertTrue(previous.contains("superseded") && previous.contains(oldThumbprint), String(previous))
        XCTAssertFalse(rows.contains { $0.contains("shop.contoso.com.next") })
        let nextPub = try Support.sh("openssl x509 -in '\(file("next.crt"))' -pubkey -noout").out
        _ = try ok([
            "export", "shop.contoso.com", "--format", "pfx", "--out", file("next.pfx"), "--password-file",
            file("out.pw"), "--force",
        ])
        let nextKey = try Support.sh(
            "openssl pkcs12 -in '\(file("next.pfx"))' -passin pass:Export-Pa55word -nodes -nocerts | openssl pkey -pubout"
        ).out
        XCTAssertEqual(nextKey, nextPub)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        XCTAssertTrue(try cv(["audit", "log", "--action", "entry.supersede"]).out.contains("shop.contoso.com"))

        // Rotated again, and the old one revoked while the CA is asked: the new one still takes the alias.
        _ = try ok(["rotate", "shop.contoso.com", "--out", file("third.csr"), "--force"])
        _ = try ok(["revoke", "shop.contoso.com", "--reason", "keyCompromise"])
        try Support.sh(
            "cd '\(dir.path)' && openssl x509 -req -in third.csr -CA ca.crt -CAkey ca.key -CAcreateserial -copy_extensions copy -days 90 -out third.crt 2>/dev/null"
        )
        _ = try ok(["import", file("third.crt")])
        let after = try cv(["list"]).out.split(separator: "\n")
        XCTAssertTrue(
            after.contains { $0.contains(" shop.contoso.com ") && $0.contains("active") },
            after.joined(separator: "\n")
        )
        XCTAssertEqual(after.filter { $0.contains("shop.contoso.com.old-") && $0.contains("revoked") }.count, 1)
        XCTAssertFalse(after.contains { $0.contains(".next") })
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }
}
