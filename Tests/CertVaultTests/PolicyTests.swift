import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// Every rule of `check`, positive and negative, on certificates made for
/// the case (short-lived, expired, SHA-1, 1024-bit, wildcard and IDN names,
/// chains with and without their intermediate, a test root, Azure's names).
final class PolicyTests: VaultTestCase {
    let day: TimeInterval = 86_400

    struct Made {
        let certificate: Certificate
        let key: PrivateKey
    }

    /// An RSA-1024 key, which certvault itself refuses to make.
    func rsa1024() throws -> PrivateKey {
        let pem = try Support.sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024").stdout
        return try XCTUnwrap(try Importer.read(data: pem, label: "k", password: nil).keys.first?.key)
    }

    func make(
        _ subject: String,
        key spec: KeySpec = .ec(.p256),
        using given: PrivateKey? = nil,
        sans: [String] = [],
        eku: String? = "serverAuth",
        ca: Bool = false,
        days: Int = 365,
        notBefore: Date? = nil,
        digest: String = "sha256",
        issuer: Made? = nil
    ) throws -> Made {
        let key = try given ?? PrivateKey.generate(spec)
        var builder = CertificateBuilder(subject: subject)
        builder.days = days
        builder.notBefore = notBefore
        builder.digest = digest
        builder.extensions =
            ca
            ? [("basicConstraints", "critical,CA:TRUE"), ("keyUsage", "critical,keyCertSign,cRLSign")]
            : [("basicConstraints", "critical,CA:FALSE")] + (eku.map { [("extendedKeyUsage", $0)] } ?? [])
        if !sans.isEmpty {
            builder.extensions.append(("subjectAltName", sans.map { "DNS:" + $0 }.joined(separator: ",")))
        }
        builder.extensions += [("subjectKeyIdentifier", "hash")]
        if issuer != nil { builder.extensions.append(("authorityKeyIdentifier", "keyid")) }
        return Made(certificate: try builder.build(key: key, issuer: issuer.map { ($0.certificate, $0.key) }), key: key)
    }

    @discardableResult
    func store(
        _ session: Session,
        _ made: Made,
        alias: String,
        purpose: EntryPurpose,
        domains: [String] = [],
        subscription: String? = nil,
        withKey: Bool = true
    ) throws -> Entry {
        let cert = try Importer.read(data: try made.certificate.derEncoded, label: alias + ".cer", password: nil)
        _ = try session.importFiles(
            [cert],
            options: ImportOptions(alias: alias, purpose: purpose, subscription: subscription, domains: domains)
        )
        if withKey {
            let pkcs8 = try made.key.pkcs8()
            let key = try Importer.read(data: pkcs8.withUnsafeBytes { Data($0) }, label: alias + ".key", password: nil)
            XCTAssertEqual(try session.importFiles([key]).count(.paired), 1)
        }
        return try vault.entry(.alias(alias))
    }

    func findings(_ report: PolicyReport, _ alias: String) -> [String] {
        report.findings.filter { $0.alias == alias }.map(\.rule).sorted()
    }

    func testNamesFollowRFC6125() {
        XCTAssertTrue(DomainNames.covers("www.contoso.com", "WWW.Contoso.com."))
        XCTAssertTrue(DomainNames.covers("*.contoso.com", "shop.contoso.com"))
        XCTAssertFalse(DomainNames.covers("*.contoso.com", "contoso.com"))
        XCTAssertFalse(DomainNames.covers("*.contoso.com", "a.shop.contoso.com"))
        XCTAssertFalse(DomainNames.covers("*.com", "contoso.com"))
        XCTAssertFalse(DomainNames.covers("f*.contoso.com", "foo.contoso.com"))
        XCTAssertFalse(DomainNames.covers("*.contoso.com", "xn--bcher-kva.contoso.com"))
        XCTAssertEqual(DomainNames.aLabel("Bücher.example"), "xn--bcher-kva.example")
        XCTAssertEqual(DomainNames.aLabel("例え.テスト"), "xn--r8jz45g.xn--zckzah")
        XCTAssertTrue(DomainNames.covers("xn--bcher-kva.example", "bücher.example"))
        XCTAssertEqual(DomainNames.foreignSuffix(of: "myapp.azurewebsites.net"), "azurewebsites.net")
        XCTAssertEqual(DomainNames.foreignSuffix(of: "*.cloudapp.net"), "cloudapp.net")
        XCTAssertNil(DomainNames.foreignSuffix(of: "notazurewebsites.net"))
        XCTAssertNil(DomainNames.foreignSuffix(of: "www.contoso.com"))
    }

    func testManagementRules() throws {
        let session = try unlock()
        try store(
            session,
            try make("CN=m1024", using: rsa1024(), eku: "clientAuth"),
            alias: "m1024",
            purpose: .management,
            subscription: "s1"
        )
        try store(
            session,
            try make("CN=mec", eku: "clientAuth"),
            alias: "mec",
            purpose: .management,
            subscription: "s2"
        )
        try store(
            session,
            try make(
                "CN=mold",
                key: .rsa2048,
                eku: "clientAuth",
                days: 900,
                notBefore: Date().addingTimeInterval(-400 * day)
            ),
            alias: "mold",
            purpose: .management,
            subscription: "s2"
        )
        for i in 0..<4 {
            try store(
                session,
                try make("CN=m\(i)", key: .rsa2048, eku: "clientAuth"),
                alias: "m\(i)",
                purpose: .management,
                subscription: "s1"
            )
        }
        var report = try vault.check()
        XCTAssertEqual(findings(report, "m1024"), ["management-api-retired", "management-key-size", "weak-key"])
        XCTAssertEqual(findings(report, "mec"), ["management-api-retired", "management-key-size"])
        XCTAssertEqual(findings(report, "mold"), ["management-api-retired", "rotation-age"])
        XCTAssertEqual(findings(report, "m0"), ["management-api-retired"])
        // Five on s1: at the limit, not over it.
        XCTAssertFalse(report.findings.contains { $0.rule == "management-limit" })
        try store(
            session,
            try make("CN=m9", key: .rsa2048, eku: "clientAuth"),
            alias: "m9",
            purpose: .management,
            subscription: "s1"
        )
        report = try vault.check()
        let limit = try XCTUnwrap(report.findings.first { $0.rule == "management-limit" })
        XCTAssertEqual(limit.data["subscription"], "s1")
        XCTAssertEqual(limit.data["count"], "6")
        XCTAssertEqual(limit.severity, .error)
        XCTAssertFalse(
            try vault.check(PolicySettings(managementLimit: 100)).findings.contains { $0.rule == "management-limit" }
        )
        XCTAssertFalse(
            try vault.check(PolicySettings(managementMaxAgeDays: 500)).findings.contains { $0.rule == "rotation-age" }
        )
        // Errors come first.
        XCTAssertEqual(report.findings.first?.severity, .error)
        XCTAssertEqual(report.findings.last?.severity, .info)
    }

    func testValidityAndStrength() throws {
        let session = try unlock()
        let now = Date()
        try store(
            session,
            try make("CN=fresh.example", sans: ["fresh.example"], days: 365),
            alias: "fresh",
            purpose: .other
        )
        try store(session, try make("CN=soon.example", days: 20), alias: "soon", purpose: .other)
        try store(
            session,
            try make("CN=gone.example", days: 30, notBefore: now.addingTimeInterval(-60 * day)),
            alias: "gone",
            purpose: .other
        )
        try store(
            session,
            try make("CN=later.example", days: 30, notBefore: now.addingTimeInterval(10 * day)),
            alias: "later",
            purpose: .other
        )
        try store(session, try make("CN=sha1.example", key: .rsa2048, digest: "sha1"), alias: "sha1", purpose: .other)
        // Judged a few seconds on: a certificate made "now" starts at the whole second it was made.
        var report = try vault.check(now: now.addingTimeInterval(5))
        XCTAssertEqual(findings(report, "fresh"), [])
        XCTAssertEqual(findings(report, "soon"), ["expiring"])
        XCTAssertEqual(report.findings.first { $0.alias == "soon" }?.severity, .warning)
        XCTAssertEqual(findings(report, "gone"), ["expired"])
        XCTAssertEqual(findings(report, "later"), ["not-yet-valid"])
        XCTAssertEqual(findings(report, "sha1"), ["weak-signature"])
        // Windows: 60/30/7 makes 20 days left a warning, and a 10-day window leaves it alone.
        report = try vault.check(PolicySettings(expiryWindows: [10]), now: now.addingTimeInterval(5))
        XCTAssertEqual(findings(report, "soon"), [])
        report = try vault.check(PolicySettings(expiryWindows: [60, 30, 21]), now: now.addingTimeInterval(5))
        XCTAssertEqual(report.findings.first { $0.alias == "soon" }?.severity, .error)
        XCTAssertEqual(findings(report, "fresh"), [])
        // 17 days on: the last 20 % of a one-year lifetime is far off; of a 20-day one (4 days), here.
        report = try vault.check(
            PolicySettings(expiryWindows: [], expiryShare: 0.2),
            now: now.addingTimeInterval(17 * day)
        )
        XCTAssertEqual(findings(report, "soon"), ["expiring"])
        XCTAssertEqual(findings(report, "fresh"), [])
    }

    func testSSLRules() throws {
        let session = try unlock()
        let root = try make("CN=Test Root", key: .rsa2048, ca: true, days: 3650)
        let intermediate = try make("CN=Test Intermediate", key: .rsa2048, ca: true, days: 3000, issuer: root)
        let rootPEM = dir.appendingPathComponent("root.pem")
        try root.certificate.pemEncoded.write(to: rootPEM)
        let trusted = PolicySettings(caFiles: [rootPEM.path], trustStore: nil)

        // Issued through the intermediate, which the vault does not hold yet.
        let www = try make("CN=www.contoso.com", sans: ["www.contoso.com", "*.shop.contoso.com"], issuer: intermediate)
        try store(session, www, alias: "www", purpose: .ssl, domains: ["www.contoso.com", "a.shop.contoso.com"])
        var report = try vault.check(trusted)
        XCTAssertEqual(findings(report, "www"), ["ssl-incomplete-chain"])
        XCTAssertEqual(report.findings.first { $0.alias == "www" }?.severity, .error)
        // The intermediate only in the trust store: trusted, but a .pfx made from the vault would lack it.
        let interPEM = dir.appendingPathComponent("inter.pem")
        try intermediate.certificate.pemEncoded.write(to: interPEM)
        report = try vault.check(PolicySettings(caFiles: [rootPEM.path, interPEM.path], trustStore: nil))
        XCTAssertEqual(findings(report, "www"), ["ssl-incomplete-chain"])
        XCTAssertEqual(report.findings.first { $0.alias == "www" }?.severity, .warning)
        XCTAssertEqual(report.findings.first { $0.alias == "www" }?.data["missing"], "CN=Test Intermediate")
        // The intermediate imported: the chain is complete and trusted.
        try store(session, intermediate, alias: "inter", purpose: .other, withKey: false)
        report = try vault.check(trusted)
        XCTAssertEqual(findings(report, "www"), [])
        // Without the test root trusted: untrusted, the root named as what is missing (not an intermediate).
        report = try vault.check(PolicySettings(trustStore: nil))
        XCTAssertEqual(findings(report, "www"), ["ssl-untrusted-chain"])
        let untrusted = try XCTUnwrap(report.findings.first { $0.alias == "www" })
        XCTAssertTrue(
            untrusted.message.contains("through CN=Test Intermediate, held in the vault, to CN=Test Root")
                && untrusted.message.contains("policy set trusted-roots"),
            untrusted.message
        )
        // The vault's own policy trusts the private root, for every check.
        XCTAssertEqual(findings(try vault.check(), "www"), ["ssl-untrusted-chain"])
        // Each root once, and a few at most.
        let twice = try root.certificate.pemEncoded + root.certificate.pemEncoded
        XCTAssertEqual(try PolicyKey.trustedRootsValue(pem: twice).split(separator: ",").count, 1)
        let many = try Array(repeating: root.certificate.derEncoded.base64EncodedString(), count: 101)
            .joined(separator: ",")
        XCTAssertThrowsError(try session.setPolicy(.trustedRoots, to: many))
        let roots = try PolicyKey.trustedRootsValue(pem: root.certificate.pemEncoded)
        try session.setPolicy(.trustedRoots, to: roots)
        XCTAssertEqual(findings(try vault.check(), "www"), [])
        XCTAssertEqual(try vault.policy().settings.trustedRoots.count, 1)
        XCTAssertTrue(
            PolicyKey.trustedRoots.summary(of: roots).hasPrefix("CN=Test Root (SHA-256 "),
            PolicyKey.trustedRoots.summary(of: roots)
        )
        try session.setPolicy(.trustedRoots, to: "none")
        XCTAssertEqual(findings(try vault.check(), "www"), ["ssl-untrusted-chain"])
        // Only CA certificates are roots; a file without one is refused.
        XCTAssertThrowsError(try PolicyKey.trustedRootsValue(pem: www.certificate.pemEncoded))
        XCTAssertThrowsError(try PolicyKey.trustedRootsValue(pem: Data("not pem".utf8)))
        XCTAssertThrowsError(try session.setPolicy(.trustedRoots, to: "AAAA"))
        try store(session, root, alias: "root", purpose: .other, withKey: false)
        report = try vault.check(PolicySettings(trustStore: nil))
        XCTAssertEqual(findings(report, "www"), ["ssl-untrusted-chain"])

        // Names: a tag the certificate does not cover; a wildcard only one label deep.
        try store(
            session,
            try make("CN=shop", sans: ["*.shop.example"], issuer: intermediate),
            alias: "shop",
            purpose: .ssl,
            domains: ["shop.example", "a.b.shop.example", "X.shop.example"]
        )
        report = try vault.check(trusted)
        let mismatches = report.findings.filter { $0.alias == "shop" && $0.rule == "ssl-name-mismatch" }
        XCTAssertEqual(mismatches.compactMap { $0.data["domain"] }.sorted(), ["a.b.shop.example", "shop.example"])
        // An IDN tag matches its A-label SAN.
        try store(
            session,
            try make("CN=idn", sans: ["xn--bcher-kva.example"], issuer: intermediate),
            alias: "idn",
            purpose: .ssl,
            domains: ["Bücher.example"]
        )
        XCTAssertEqual(findings(try vault.check(trusted), "idn"), [])
        // A tag or a request's name is a host name: anything else is refused before it is stored.
        let tagged = try make("CN=tagged", sans: ["tagged.example"], issuer: intermediate)
        for bad in ["\"><script>x</script>", "*.*.contoso.com", "*.com", "a..b.example", "-a.example", "a b.example"] {
            assertCode(.invalidArgument) {
                _ = try self.store(session, tagged, alias: "tagged", purpose: .ssl, domains: [bad])
            }
            assertCode(.invalidArgument) { _ = try session.createRequest(subject: "CN=x", dnsNames: [bad]) }
        }
        XCTAssertThrowsError(try vault.entry(.alias("tagged")))
        _ = try store(session, tagged, alias: "tagged", purpose: .ssl, domains: ["*.Tagged.example", "bücher.example"])

        // Self-signed; no key; not for servers; Azure's own name.
        try store(session, try make("CN=self.contoso.com", sans: ["self.contoso.com"]), alias: "self", purpose: .ssl)
        try store(
            session,
            try make("CN=nokey", sans: ["nokey.contoso.com"], issuer: intermediate),
            alias: "nokey",
            purpose: .ssl,
            withKey: false
        )
        try store(
            session,
            try make("CN=client", sans: ["client.contoso.com"], eku: "clientAuth", issuer: intermediate),
            alias: "client",
            purpose: .ssl
        )
        try store(
            session,
            try make("CN=app", sans: ["myapp.azurewebsites.net"], issuer: intermediate),
            alias: "app",
            purpose: .ssl
        )
        _ = try session.createRequest(
            subject: "CN=svc.cloudapp.net",
            dnsNames: ["svc.cloudapp.net"],
            keySpec: .ec(.p256)
        )
        // A CA certificate with its key, as a site's; the same CA without its key is a chain's.
        try store(
            session,
            try make("CN=casite", sans: ["casite.contoso.com"], ca: true, issuer: intermediate),
            alias: "casite",
            purpose: .ssl
        )
        try store(
            session,
            try make("CN=Other Issuing CA", ca: true, issuer: root),
            alias: "issuing",
            purpose: .ssl,
            withKey: false
        )
        report = try vault.check(trusted)
        XCTAssertEqual(findings(report, "casite"), ["ssl-ca-certificate"])
        XCTAssertFalse(findings(report, "issuing").contains("ssl-ca-certificate"))
        XCTAssertEqual(findings(report, "self"), ["ssl-self-signed"])
        XCTAssertEqual(findings(report, "nokey"), ["ssl-no-private-key"])
        XCTAssertEqual(findings(report, "client"), ["ssl-not-server-auth"])
        XCTAssertEqual(findings(report, "app"), ["foreign-domain"])
        XCTAssertTrue(report.findings.contains { $0.rule == "foreign-domain" && $0.data["name"] == "svc.cloudapp.net" })
        // The selection: one entry, one purpose.
        XCTAssertEqual(try vault.check(trusted, entries: [.alias("self")]).findings.map(\.rule), ["ssl-self-signed"])
        XCTAssertEqual(try vault.check(trusted, purpose: .management).findings.filter { $0.alias != nil }, [])
        // A CA file that cannot be read is an error, not silence.
        XCTAssertThrowsError(try vault.check(PolicySettings(caFiles: [dir.appendingPathComponent("none.pem").path])))
    }

    /// An app credential (Entra ID) is made like a management certificate,
    /// tagged with its application id, checked by the same key-size and
    /// age rules, without the note that the classic API is retired.
    func testAppCredentialsFollowTheManagementRules() throws {
        let session = try unlock()
        let app = try session.createAppCredential(subject: "CN=deploy", appID: "0f1e2d3c-aaaa-bbbb-cccc-000000000001")
        XCTAssertEqual(app.purpose, .app)
        XCTAssertEqual(app.appID, "0f1e2d3c-aaaa-bbbb-cccc-000000000001")
        XCTAssertEqual(try vault.entry(.alias("deploy")).appID, "0f1e2d3c-aaaa-bbbb-cccc-000000000001")
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertEqual(findings(try vault.check(), "deploy"), [])
        XCTAssertThrowsError(try session.createAppCredential(subject: "CN=ec", keySpec: .ec(.p256)))
        XCTAssertThrowsError(try session.createAppCredential(subject: "CN=x", appID: "bad\u{1B}[31m"))
        try store(
            session,
            try make(
                "CN=oldapp",
                key: .rsa2048,
                eku: "clientAuth",
                days: 900,
                notBefore: Date().addingTimeInterval(-400 * day)
            ),
            alias: "oldapp",
            purpose: .app
        )
        try store(session, try make("CN=ecapp", eku: "clientAuth"), alias: "ecapp", purpose: .app)
        let report = try vault.check()
        XCTAssertEqual(findings(report, "oldapp"), ["rotation-age"])
        XCTAssertEqual(findings(report, "ecapp"), ["management-key-size"])
        XCTAssertTrue(report.findings.first { $0.alias == "ecapp" }?.message.contains("an app credential") == true)
    }

    /// The policy lives in the vault as admins' signed records: every
    /// check judges by it, an officer cannot set it, and a value edited into
    /// the log by hand breaks the chain and is refused.
    func testPolicyIsSignedAndUsedByEveryCheck() throws {
        let session = try unlock()
        XCTAssertEqual(try vault.policy().settings, PolicySettings())
        for i in 0..<2 {
            try store(
                session,
                try make("CN=p\(i)", key: .rsa2048, eku: "clientAuth"),
                alias: "p\(i)",
                purpose: .management,
                subscription: "s"
            )
        }
        XCTAssertFalse(try vault.check().findings.contains { $0.rule == "management-limit" })
        let set = try session.setPolicy(.managementLimit, to: "1")
        XCTAssertEqual(set.setBy, "alice")
        try session.setPolicy(.expiryWindows, to: "60, 30,7")
        let (settings, entries) = try vault.policy()
        XCTAssertEqual(settings.managementLimit, 1)
        XCTAssertEqual(settings.expiryWindows, [60, 30, 7])
        XCTAssertEqual(entries.first { $0.key == .expiryWindows }?.value, "60,30,7")
        XCTAssertEqual(entries.first { $0.key == .managementMaxAge }?.setBy, nil)
        XCTAssertTrue(try vault.check().findings.contains { $0.rule == "management-limit" })
        // Given settings replace the vault's.
        XCTAssertFalse(try vault.check(PolicySettings()).findings.contains { $0.rule == "management-limit" })
        XCTAssertThrowsError(try session.setPolicy(.managementLimit, to: "none"))
        _ = try session.addPerson(
            .init(handle: "olga", role: .officer),
            passphrase: SecureBytes(utf8: "olga passphrase ok"),
            kdf: .interactive
        )
        let olga = try vault.unlock(handle: "olga", passphrase: SecureBytes(utf8: "olga passphrase ok"))
        XCTAssertThrowsError(try olga.setPolicy(.managementLimit, to: "100")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .noAccess)
        }
        // The attacker raises the limit in the log itself: the chain breaks, and check refuses.
        try Support.run(
            "sqlite3",
            [
                path,
                "DROP TRIGGER audit_no_update; UPDATE audit SET details = replace(details, '\"value\":\"1\"', '\"value\":\"100\"') WHERE action = 'policy.set';"
                    + " CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\nBEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
            ]
        )
        XCTAssertThrowsError(try vault.check()) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered, "\(error)")
            XCTAssertFalse("\(error)".contains("trigger"), "the schema, not the chain, caught it: \(error)")
        }
    }

    func testRotationAndKeyslotRules() throws {
        let session = try unlock()
        try store(
            session,
            try make("CN=r", key: .rsa2048, eku: "clientAuth"),
            alias: "r",
            purpose: .management,
            subscription: "s"
        )
        // The vault was made with the interactive cost: a weak keyslot.
        XCTAssertTrue(try vault.check().findings.contains { $0.rule == "weak-kdf" && $0.data["person"] == "alice" })
        // A check of one subscription or purpose judges its certificates, not the people's keyslots.
        XCTAssertFalse(try vault.check(subscription: "s").findings.contains { $0.rule == "weak-kdf" })
        XCTAssertFalse(try vault.check(purpose: .management).findings.contains { $0.rule == "weak-kdf" })
        _ = try session.addPerson(
            .init(handle: "bob", role: .admin),
            passphrase: SecureBytes(utf8: "bob passphrase long"),
            kdf: .interactive
        )
        _ = try session.depart("bob", reason: "left the company")
        let report = try vault.check()
        let rotate = try XCTUnwrap(report.findings.first { $0.rule == "needs-rotation" && $0.alias == "r" })
        XCTAssertTrue(rotate.message.contains("bob"), rotate.message)
        XCTAssertEqual(rotate.severity, .error)
    }

    /// The rules no exporter breaks on its own, judged on an inspection
    /// whose facts are changed: the leaf not first, a key whose certificate
    /// lacks its localKeyID, an RSA key too small for App Service.
    func testTargetRulesOnChainOrderLocalKeyIDAndKeySize() throws {
        let data = try Data(contentsOf: Support.corpus.appendingPathComponent("ossl-default.p12"))
        let good = try FileInspection.inspect(data: data, label: "f.p12", password: SecureBytes(utf8: "test"))
        XCTAssertEqual(good.chain.leafFirst, true)
        XCTAssertNil(good.chain.missingIssuer)
        XCTAssertTrue(good.chain.issuerOrder)
        XCTAssertEqual(good.certificates.count, 3)
        XCTAssertEqual(good.keys.first?.certificate, 0)
        XCTAssertTrue(ExportTarget.keyVault.verdict(for: good).accepted)

        var reordered = good
        reordered.chain.leafFirst = false
        let appService = ExportTarget.appService.verdict(for: reordered)
        XCTAssertTrue(
            appService.reasons.contains { $0.contains("takes the first certificate as the key's") },
            "\(appService)"
        )
        let win = ExportTarget.windows2019.verdict(for: reordered)
        XCTAssertTrue(win.accepted)
        XCTAssertTrue(win.notes.contains { $0.contains("not the one the key belongs to") })

        var unpaired = good
        unpaired.certificates[0].localKeyID = nil
        XCTAssertTrue(
            ExportTarget.windows2019.verdict(for: unpaired).reasons.contains { $0.contains("localKeyID") }
        )
        XCTAssertTrue(ExportTarget.openssl3.verdict(for: unpaired).accepted)

        var small = good
        small.keys[0].bits = 1024
        XCTAssertTrue(
            ExportTarget.appService.verdict(for: small).reasons.contains { $0.contains("at least 2048 bits") }
        )

        // The limits hold for inspect as for import: too much work is refused before it starts.
        let many = try Data(contentsOf: Support.corpus.appendingPathComponent("ossl-iter1m.p12"))
        XCTAssertThrowsError(
            try FileInspection.inspect(
                data: many,
                label: "m.p12",
                password: SecureBytes(utf8: "test"),
                limits: ImportLimits(maxIterations: 10_000)
            )
        ) { XCTAssertEqual(($0 as? CertVaultError)?.code, .workTooLarge) }
    }
}
