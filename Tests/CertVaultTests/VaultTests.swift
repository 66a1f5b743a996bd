import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// The library's public API, driven directly with no CLI involved.
final class VaultTests: VaultTestCase {
    func testCreateImportListExportVerifyThroughTheAPI() throws {
        let session = try unlock()
        let aliases = try importFresh(["contoso.com", "fabrikam.com"], as: session)
        XCTAssertEqual(aliases, ["contoso.com", "fabrikam.com"])
        let entries = try Vault.open(at: path, witness: witness).entries()
        XCTAssertEqual(entries.map(\.alias), ["contoso.com", "fabrikam.com"])
        XCTAssertTrue(entries.allSatisfy { $0.hasPrivateKey && $0.access == ["alice"] })
        let thumb = try XCTUnwrap(entries[0].certificate?.thumbprintSHA1)
        XCTAssertEqual(thumb.count, 40)
        XCTAssertEqual(thumb, thumb.uppercased())
        // Any REF form finds the same entry.
        XCTAssertEqual(try vault.entry(.any(String(thumb.prefix(8)))).id, entries[0].id)
        XCTAssertEqual(try vault.entry(.thumbprint(String(thumb.prefix(8)).lowercased())).id, entries[0].id)
        XCTAssertEqual(try vault.entry(.any(entries[0].id.description)).id, entries[0].id)
        XCTAssertEqual(
            try vault.entry(.any(String(entries[0].certificate!.fingerprintSHA256.prefix(12)))).id,
            entries[0].id
        )
        let out = try export(session, "contoso.com")
        let attrs = try FileManager.default.attributesOfItem(atPath: out)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        // openssl reads it with the password and finds the key matches.
        try Support.sh("openssl pkcs12 -in '\(out)' -passin pass:export-pw -nodes -out '\(out).pem'")
        let certPub = try Support.sh("openssl x509 -in '\(out).pem' -pubkey -noout").out
        let keyPub = try Support.sh("openssl pkey -in '\(out).pem' -pubout").out
        XCTAssertEqual(certPub, keyPub)
        let verification = try vault.verify()
        XCTAssertTrue(verification.isValid, "\(verification.findings)")
        let actions = try vault.auditRecords().map(\.action)
        XCTAssertEqual(actions, ["vault.create", "person.keyslot", "entry.import", "entry.import", "entry.export"])
        let exportRecord = try XCTUnwrap(vault.auditRecords(.init(action: "entry.export")).first)
        let details = try exportRecord.readDetails()
        XCTAssertEqual(details.recipient, "alice")
        XCTAssertEqual(
            details.fileSHA256,
            Digest.sha256(try Data(contentsOf: URL(fileURLWithPath: out))).hexLower
        )
    }

    func testAmbiguousAndUnknownReferences() throws {
        try importFresh(["a", "b"])
        assertCode(.entryNotFound) { _ = try vault.entry("nope") }
        // Find two thumbprints sharing a first hex digit is not guaranteed; an
        // empty-ish prefix is refused instead of matching everything.
        assertCode(.entryNotFound) { _ = try vault.entry("ABC") }
        let entries = try vault.entries()
        try tamper(
            "UPDATE entries SET sha1 = ? WHERE id = ?",
            ["DEADBEEF" + String(repeating: "0", count: 32), entries[0].id.rawValue]
        )
        try tamper(
            "UPDATE entries SET sha1 = ? WHERE id = ?",
            ["DEADBEEF" + String(repeating: "1", count: 32), entries[1].id.rawValue]
        )
        // A vault altered so is refused before any lookup …
        assertCode(.tampered) { _ = try self.vault.entry("deadbeef") }
        // … and the lookup itself, below that check, says the prefix is ambiguous.
        let state = try vault.store.read { try self.vault.state($0) }
        XCTAssertThrowsError(try vault.store.read { try Vault.entry("deadbeef", in: $0, state: state) }) { error in
            let e = error as? CertVaultError
            XCTAssertEqual(e?.code, .ambiguous)
            XCTAssertTrue(e?.message.contains("a (") == true && e?.message.contains("b (") == true, e?.message ?? "")
        }
    }

    func testWrongPassphraseChangesNothingButAnUnsignedRecord() throws {
        try importFresh(["x"])
        let before = try snapshot()
        let headBefore = try XCTUnwrap(vault.auditHead())
        XCTAssertThrowsError(try unlock("alice", "wrong")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .wrongPassphrase)
            XCTAssertEqual((error as? CertVaultError)?.message, "wrong passphrase for alice")
        }
        XCTAssertEqual(try snapshot(), before)
        let records = try vault.auditRecords()
        XCTAssertEqual(records.count, Int(headBefore.seq) + 1)
        XCTAssertEqual(records.last?.action, "unlock.failed")
        XCTAssertNil(records.last?.signature)
        XCTAssertTrue(try vault.verify().isValid)
    }

    /// `audit verify` between two wrong passphrases remembers the last signed
    /// record, not the unsigned one after it: the second failure is no rollback.
    func testAWrongPassphraseAfterVerifyIsNotARollback() throws {
        try importFresh(["x"])
        XCTAssertThrowsError(try unlock("alice", "wrong"))
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertThrowsError(try unlock("alice", "wrong"))
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertEqual(try vault.entries().count, 1)
        XCTAssertEqual(try vault.check().findings.filter { $0.severity == .error }.count, 0)

        // A witness left at an unsigned record (as an earlier certvault left it) is
        // no rollback while that record is in the file …
        let last = try XCTUnwrap(vault.auditHead())
        XCTAssertNil(try vault.auditRecords().last?.signature)
        try witness.remember(last, vaultID: vault.vaultID)
        XCTAssertEqual(try vault.entries().count, 1)
        XCTAssertTrue(try vault.verify().isValid)
        // … and is one once it is taken away.
        try tamper("DELETE FROM audit WHERE seq = ?", [last.seq])
        assertCode(.rollback) { _ = try self.vault.entries() }
        XCTAssertTrue(try vault.verify().findings.contains { $0.message.contains("rolled back") })
    }

    /// The KDF runs once per unlock, not per entry.
    func testKDFRunsOncePerCommand() throws {
        let paths = try (0..<5).map { try Support.makePFX(in: dir, name: "k\($0)", key: "ec:prime256v1").pfx }
        let files = try paths.map { try Importer.read(path: $0, password: SecureBytes(utf8: "secret")) }
        let before = KDF.derivations.withLock { $0 }
        let session = try unlock()
        let report = try session.importFiles(files)
        XCTAssertEqual(report.count(.imported), 5)
        for i in 0..<3 { _ = try export(session, "k\(i)") }
        XCTAssertEqual(KDF.derivations.withLock { $0 } - before, 1)
    }

    func testSameCertificateTwiceStaysOneEntry() throws {
        let made = try Support.makePFX(in: dir, name: "dup", key: "ec:prime256v1")
        let session = try unlock()
        let first = try session.importFiles([try Importer.read(path: made.pfx, password: SecureBytes(utf8: "secret"))])
        let second = try session.importFiles([try Importer.read(path: made.pfx, password: SecureBytes(utf8: "secret"))])
        XCTAssertEqual(first.count(.imported), 1)
        XCTAssertEqual(second.count(.alreadyPresent), 1)
        XCTAssertEqual(try vault.entries().count, 1)
    }

    func testRealWorldFilesImportIntoOneEntryWhoseKeyMatchesThePEM() throws {
        let session = try unlock()
        let names = [
            "ValidCertificatePathTest1EE_windows_aes.p12.pfx", "ValidCertificatePathTest1EE_windows_tdes.p12.pfx",
            "ValidCertificatePathTest1EE_macos.p12", "ValidCertificatePathTest1EE_firefox.p12",
        ]
        let files = try names.map {
            try Importer.read(
                path: Support.realWorld.appendingPathComponent($0).path,
                password: SecureBytes(utf8: "password")
            )
        }
        let report = try session.importFiles(files)
        XCTAssertEqual(report.count(.imported), 1)
        XCTAssertEqual(report.count(.alreadyPresent), 3)
        let entry = try XCTUnwrap(vault.entries().first)
        let key = try vault.store.read {
            try session.custody.privateKey($0, entryID: entry.id.rawValue, alias: entry.alias)
        }
        let expected = try Support.pkcs8DER(
            pem: Support.realWorld.appendingPathComponent("ValidCertificatePathTest1EE.key").path
        )
        XCTAssertEqual(try key.pkcs8().withUnsafeBytes { Data($0) }, expected)
    }

    /// A .pfx carrying its CA: both become entries, linked, and the export
    /// carries the chain leaf first.
    func testChainInPFXIsStoredLinkedAndExported() throws {
        try Support.sh(
            """
            cd '\(dir.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 30 -subj '/CN=Test CA' \\
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout leaf.key -out leaf.csr -subj '/CN=www.contoso.com'
            openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out leaf.crt -days 10
            openssl pkcs12 -export -inkey leaf.key -in leaf.crt -certfile ca.crt -out leaf.pfx -passout pass:secret -name www.contoso.com
            """
        )
        let session = try unlock()
        let report = try session.importFiles([
            try Importer.read(path: dir.appendingPathComponent("leaf.pfx").path, password: SecureBytes(utf8: "secret"))
        ])
        XCTAssertEqual(report.count(.imported), 2)
        let leaf = try vault.entry("www.contoso.com")
        let ca = try vault.entry("Test-CA")
        XCTAssertEqual(leaf.issuerEntryID, ca.id)
        XCTAssertEqual(leaf.purpose, .ssl)
        XCTAssertEqual(ca.purpose, .other)
        XCTAssertFalse(ca.hasPrivateKey)
        XCTAssertEqual(try vault.chain(of: leaf).map(\.subject), ["CN=www.contoso.com", "CN=Test CA"])
        let out = try export(session, "www.contoso.com", profile: .legacy)
        let certs = try Support.sh(
            "openssl pkcs12 -in '\(out)' -passin pass:export-pw -nokeys | grep -c 'BEGIN CERTIFICATE'"
        ).out
        XCTAssertEqual(certs.trimmingCharacters(in: .whitespacesAndNewlines), "2")
        try Support.sh(
            "openssl pkcs12 -in '\(out)' -passin pass:export-pw -nokeys -clcerts | openssl verify -CAfile '\(dir.path)/ca.crt'"
        )
    }

    func testReadAllCollectsEachFilesFailure() throws {
        let good = try Support.makePFX(in: dir, name: "good", key: "ec:prime256v1").pfx
        let other = try Support.makePFX(in: dir, name: "other", password: "different", key: "ec:prime256v1").pfx
        let (files, failures) = Importer.readAll([good, other], password: SecureBytes(utf8: "secret"))
        XCTAssertEqual(files.count, 1)
        XCTAssertEqual(failures.count, 1)
        XCTAssertTrue(failures[0].message.hasPrefix(other), failures[0].message)
        XCTAssertEqual(failures[0].code, .wrongPassword)
    }

    /// A file that fails while being stored (a certificate for a pending
    /// request's name but another key) stops the whole import, and nothing
    /// of the others is stored; with keepGoing the others are stored and the
    /// failure is reported with its code.
    func testImportIsAllOrNothingUnlessKeepGoing() throws {
        let session = try unlock()
        _ = try session.createRequest(subject: "CN=pending.example", dnsNames: ["pending.example"], keySpec: .ec(.p256))
        let good = try Support.makePFX(in: dir, name: "good", key: "ec:prime256v1").pfx
        let stray = try Support.makePFX(in: dir, name: "pending.example", key: "ec:prime256v1").pfx
        let (files, failures) = Importer.readAll([good, stray], password: SecureBytes(utf8: "secret"))
        XCTAssertEqual(failures.count, 0)
        let before = try snapshot()
        let head = try vault.auditHead()
        XCTAssertThrowsError(try session.importFiles(files)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .keyMismatch)
            XCTAssertTrue((error as? CertVaultError)?.message.hasPrefix(stray) == true, "\(error)")
        }
        XCTAssertEqual(try snapshot(), before)
        XCTAssertEqual(try vault.auditHead(), head)

        let report = try session.importFiles(files, options: ImportOptions(keepGoing: true))
        XCTAssertEqual(report.items.map(\.alias), ["good"])
        XCTAssertEqual(report.errors.map(\.code), [.keyMismatch])
        XCTAssertEqual(try vault.entries().map(\.alias).sorted(), ["good", "pending.example"])
        XCTAssertTrue(try vault.verify().isValid)
    }
}

final class ErrorCodeTests: VaultTestCase {
    /// A program can tell apart what a person would: an unknown entry, an
    /// unknown person, a person who exists already, an entry with no key,
    /// several people who could act; and the message is the error's
    /// localized description.
    func testCodesAreFineEnoughToActOn() throws {
        let alice = try unlock()
        try importFresh(["keyed"], as: alice)
        let cert = try Support.makePFX(in: dir, name: "certonly", key: "ec:prime256v1").cert
        _ = try alice.importFiles([try Importer.read(path: cert, password: nil)])
        assertCode(.entryNotFound) { _ = try self.vault.entry("nope") }
        assertCode(.personNotFound) { _ = try self.vault.person("nobody") }
        assertCode(.personExists) { _ = try alice.addPerson(.init(handle: "alice", role: .staff), passphrase: nil) }
        assertCode(.noPrivateKey) { _ = try self.export(alice, "certonly") }
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob pass"),
            kdf: .interactive
        )
        assertCode(.actorAmbiguous) { _ = try self.vault.actor(nil) }
        XCTAssertThrowsError(try vault.entry("nope")) { error in
            XCTAssertTrue((error as? CertVaultError)?.isKind(of: .notFound) == true)
            XCTAssertEqual(error.localizedDescription, (error as? CertVaultError)?.message)
        }
    }
}
