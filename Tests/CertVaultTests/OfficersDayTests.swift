import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// `check` never stays quiet about a key someone who left could open: a
/// request made with it, and a replaced certificate still valid at its CA.
final class ExposureCheckTests: VaultTestCase {
    func addBob(_ alice: Session) throws {
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob's pass phrase"),
            kdf: .interactive
        )
    }

    func testAReplacedCertificateHeldBySomeoneWhoLeftWarnsUntilRevoked() throws {
        let alice = try unlock()
        let old = try alice.createManagementCertificate(subject: "CN=m1", alias: "m1")
        try addBob(alice)
        _ = try alice.grant(.id(old.id), to: "bob")
        _ = try alice.depart("bob", reason: "left")
        _ = try alice.rotate(.id(old.id))
        func exposed() throws -> [PolicyFinding] {
            try vault.check().findings.filter { $0.rule == "superseded-exposed" }
        }
        var found = try exposed()
        XCTAssertEqual(found.map(\.entryID), [old.id])
        XCTAssertEqual(found.first?.severity, .warning)
        XCTAssertTrue(found.first?.message.contains("bob, who could open its key, left") == true, "\(found)")
        XCTAssertTrue(found.first?.message.contains("--reason superseded") == true, "\(found)")
        // Retired (removed from Azure) is not enough: the certificate is still valid at the CA.
        _ = try alice.retire(.id(old.id))
        found = try exposed()
        XCTAssertEqual(found.map(\.entryID), [old.id])
        // Revoked: cleared.
        _ = try alice.revoke(.id(old.id), reason: .superseded)
        XCTAssertEqual(try exposed().count, 0)
        // A certificate nobody who left could open is only a note until retired.
        let other = try alice.createManagementCertificate(subject: "CN=m2", alias: "m2")
        _ = try alice.rotate(.id(other.id))
        XCTAssertEqual(try exposed().count, 0)
        XCTAssertEqual(
            try vault.check().findings.first { $0.entryID == other.id }?.severity,
            .info
        )
    }

    func testARequestWhoseKeySomeoneWhoLeftCouldOpenIsAnError() throws {
        let alice = try unlock()
        try addBob(alice)
        let request = try alice.createRequest(
            subject: "CN=www.example.com",
            dnsNames: ["www.example.com"],
            alias: "web"
        )
        _ = try alice.grant(.id(request.entry.id), to: "bob")
        XCTAssertFalse(try vault.check().findings.contains { $0.rule == "needs-rotation" })
        _ = try alice.depart("bob", reason: "left")
        let finding = try XCTUnwrap(try vault.check().findings.first { $0.rule == "needs-rotation" })
        XCTAssertEqual(finding.entryID, request.entry.id)
        XCTAssertEqual(finding.severity, .error)
        XCTAssertTrue(finding.message.contains("do not send it to the CA"), finding.message)
    }
}

/// `depart --dry-run`: the plan a departure would give, with nothing changed.
final class DepartureDryRunTests: VaultTestCase {
    func testADryRunGivesThePlanAndChangesNothing() throws {
        let alice = try unlock()
        let m1 = try alice.createManagementCertificate(subject: "CN=m1", alias: "m1")
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob's pass phrase"),
            kdf: .interactive
        )
        _ = try alice.grant(.id(m1.id), to: "bob")
        let head = try vault.auditHead()
        let before = try snapshot()
        let plan = try alice.depart("bob", reason: "left", dryRun: true)
        XCTAssertTrue(plan.dryRun)
        XCTAssertEqual(plan.items.map(\.alias), ["m1"])
        XCTAssertEqual(plan.items.first?.action, .rotate)
        XCTAssertEqual(plan.items.first?.grantEnded, true)
        XCTAssertEqual(plan.items.first?.holdersLeft, ["alice"])
        // Nothing changed: the same head, the same tables, bob still unlocks and may export.
        XCTAssertEqual(try vault.auditHead(), head)
        XCTAssertEqual(try snapshot(), before)
        XCTAssertEqual(try vault.entry(.id(m1.id)).needsRotation, false)
        let bob = try unlock("bob", "bob's pass phrase")
        XCTAssertNoThrow(try bob.exportPFX(.id(m1.id), to: .memory(label: "t"), password: SecureBytes(utf8: "pw")))
        assertCode(.invalidArgument) { _ = try alice.depart("bob", reason: "left", rotate: true, dryRun: true) }
        // The real departure gives the same plan.
        let real = try alice.depart("bob", reason: "left")
        XCTAssertFalse(real.dryRun)
        XCTAssertEqual(real.items.map(\.alias), plan.items.map(\.alias))
        XCTAssertEqual(real.items.map(\.holdersLeft), plan.items.map(\.holdersLeft))
    }
}

/// `import --alias` and `--domain` on a file that carries its chain: they
/// go to the leaf, never silently nowhere, never to the CA.
final class ImportLeafTests: VaultTestCase {
    func makeChain(rootCAFlag: Bool) throws {
        let ext = rootCAFlag ? "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign" : ""
        try Support.sh(
            """
            cd '\(dir.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout root.key -out root.crt -days 30 -subj '/CN=Bars Root' \(ext)
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key -out leaf.csr -subj '/CN=www.contoso.test' -addext subjectAltName=DNS:www.contoso.test
            openssl x509 -req -in leaf.csr -CA root.crt -CAkey root.key -CAcreateserial -out leaf.crt -days 10 -copy_extensions copy
            cat leaf.crt root.crt > chain.pem
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out other.csr -subj '/CN=api.contoso.test' -addext subjectAltName=DNS:api.contoso.test
            openssl x509 -req -in other.csr -CA root.crt -CAkey root.key -CAcreateserial -out other.crt -days 10 -copy_extensions copy
            cat leaf.crt other.crt root.crt > two-leaves.pem
            """
        )
    }

    func read(_ name: String) throws -> ImportFile {
        try Importer.read(path: dir.appendingPathComponent(name).path, password: nil)
    }

    func testTheAliasAndTagsGoToTheLeafOfAChain() throws {
        for caFlag in [true, false] {
            try makeChain(rootCAFlag: caFlag)
            let session = try unlock()
            let alias = caFlag ? "site" : "site-v1-root"
            let report = try session.importFiles(
                [try read("chain.pem")],
                options: .init(alias: alias, purpose: .ssl, domains: ["www.contoso.test"])
            )
            XCTAssertEqual(report.count(.imported), 2, "\(report.items)")
            let leaf = try vault.entry(.alias(alias))
            XCTAssertEqual(leaf.certificate?.subject, "CN=www.contoso.test")
            XCTAssertEqual(leaf.domains, ["www.contoso.test"])
            XCTAssertEqual(leaf.purpose, .ssl)
            let root = try XCTUnwrap(
                try vault.entries().first { $0.certificate?.subject == "CN=Bars Root" && $0.status != .revoked }
            )
            XCTAssertEqual(root.domains, [])
            XCTAssertNotEqual(root.purpose, .ssl)
            _ = try session.revoke(.id(leaf.id), reason: .superseded)
            _ = try session.revoke(.id(root.id), reason: .superseded)
        }
    }

    func testAnAliasThatCouldGoToSeveralLeavesIsRefused() throws {
        try makeChain(rootCAFlag: true)
        let session = try unlock()
        assertCode(.invalidArgument) {
            _ = try session.importFiles([try self.read("two-leaves.pem")], options: .init(alias: "site"))
        }
        XCTAssertEqual(try vault.entries().count, 0)
        // The domain names the leaf.
        let report = try session.importFiles(
            [try read("two-leaves.pem")],
            options: .init(alias: "api", domains: ["api.contoso.test"])
        )
        XCTAssertEqual(report.count(.imported), 3)
        XCTAssertEqual(try vault.entry(.alias("api")).certificate?.subject, "CN=api.contoso.test")
        XCTAssertEqual(try vault.entry(.alias("api")).domains, ["api.contoso.test"])
    }
}

/// A request whose key someone who left could open is made again with a
/// new key, under the same alias, linked to the one it replaces.
final class RequestAgainTests: VaultTestCase {
    func testARequestMadeAgainKeepsItsAliasAndLinksWhatItReplaces() throws {
        let alice = try unlock()
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob's pass phrase"),
            kdf: .interactive
        )
        let first = try alice.createRequest(
            subject: "CN=www.example.com",
            dnsNames: ["www.example.com", "example.com"],
            keySpec: .ec(.p256),
            alias: "web"
        )
        _ = try alice.grant(.id(first.entry.id), to: "bob")
        let plan = try alice.depart("bob", reason: "left")
        XCTAssertEqual(plan.items.first?.action, .rerequest)
        let again = try alice.rotate(.alias("web"))
        XCTAssertEqual(again.successor.alias, "web")
        XCTAssertEqual(again.successor.status, .pending)
        XCTAssertEqual(again.successor.replacesEntryID, first.entry.id)
        XCTAssertEqual(again.successor.requestedSubject, "CN=www.example.com")
        XCTAssertEqual(Set(again.successor.requestedNames ?? []), ["DNS:www.example.com", "DNS:example.com"])
        XCTAssertFalse(again.successor.needsRotation)
        XCTAssertEqual(again.predecessor.status, .superseded)
        XCTAssertTrue(again.predecessor.alias.hasPrefix("web.old-"), again.predecessor.alias)
        XCTAssertFalse(again.predecessor.needsRotation)
        // A new key: the request is judged by openssl, and differs from the first.
        let pem = try XCTUnwrap(again.request)
        let out = dir.appendingPathComponent("web.csr")
        try pem.write(to: out)
        let text = try Support.sh("openssl req -in '\(out.path)' -noout -verify -text").out
        XCTAssertTrue(text.contains("www.example.com"), text)
        XCTAssertNotEqual(pem, first.pem)
        XCTAssertFalse(try vault.check().findings.contains { $0.rule == "needs-rotation" })
        XCTAssertTrue(try vault.verify().isValid)
    }
}
