import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// Every guarantee, with the negative test that fails if it breaks.
final class SecurityTests: VaultTestCase {
    func testFlippedByteInStoredCiphertextFailsNamingTheEntry() throws {
        try importFresh(["victim"])
        try flipBit(table: "entries", column: "key_ciphertext", at: 10)
        let session = try unlock()
        XCTAssertThrowsError(try export(session, "victim")) { error in
            let e = error as? CertVaultError
            XCTAssertEqual(e?.code, .tampered)
            XCTAssertTrue(e?.message.contains("victim") == true, e?.message ?? "")
        }
        // Below the signed-record check, the AEAD itself refuses.
        let entry = try rawEntry("victim")
        XCTAssertThrowsError(
            try vault.store.read { try session.custody.privateKey($0, entryID: entry.id, alias: entry.alias) }
        ) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
        }
        XCTAssertFalse(try vault.verify().isValid)
    }

    func testCiphertextSwappedFromAnotherEntryFails() throws {
        try importFresh(["one", "two"])
        try tamper(
            """
            UPDATE entries SET key_ciphertext = (SELECT key_ciphertext FROM entries WHERE alias = 'two'),
                               key_nonce = (SELECT key_nonce FROM entries WHERE alias = 'two') WHERE alias = 'one'
            """
        )
        let session = try unlock()
        assertCode(.tampered) { _ = try self.export(session, "one") }
        // Even with the grant swapped too, the associated data (entry id, key) refuses.
        try tamper(
            """
            UPDATE grants SET sealed_key = (SELECT sealed_key FROM grants g JOIN entries e ON e.id = g.entry_id WHERE e.alias = 'two')
            WHERE entry_id = (SELECT id FROM entries WHERE alias = 'one')
            """
        )
        let entry = try rawEntry("one")
        assertCode(.tampered) {
            _ = try self.vault.store.read { try session.custody.privateKey($0, entryID: entry.id, alias: entry.alias) }
        }
    }

    func testFlippedByteInGrantSealFails() throws {
        try importFresh(["sealed"])
        // Flip one bit of the seal's ciphertext (not set it: it may already hold that value).
        try flipBit(table: "grants", column: "sealed_key", at: 40)
        let session = try unlock()
        XCTAssertThrowsError(try export(session, "sealed")) { error in
            let e = error as? CertVaultError
            XCTAssertEqual(e?.code, .tampered)
            XCTAssertTrue(e?.message.contains("sealed") == true, e?.message ?? "")
        }
        // Below the signed-state check, the sealed box itself refuses.
        let entry = try rawEntry("sealed")
        assertCode(.tampered) {
            _ = try self.vault.store.read { try session.custody.dataKey($0, entryID: entry.id, alias: entry.alias) }
        }
    }

    func testGrantMovedToAnotherEntryIsRecognised() throws {
        try importFresh(["p", "q"])
        // Give entry p the seal of entry q: it opens (it is sealed to alice) but its tag names q.
        try tamper(
            """
            UPDATE grants SET sealed_key = (SELECT sealed_key FROM grants g JOIN entries e ON e.id = g.entry_id WHERE e.alias = 'q')
            WHERE entry_id = (SELECT id FROM entries WHERE alias = 'p')
            """
        )
        let session = try unlock()
        assertCode(.tampered) { _ = try self.export(session, "p") }
        let entry = try rawEntry("p")
        XCTAssertThrowsError(
            try vault.store.read { try session.custody.dataKey($0, entryID: entry.id, alias: entry.alias) }
        ) {
            error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
            XCTAssertTrue((error as? CertVaultError)?.message.contains("another entry") == true)
        }
    }

    /// Damaged is not wrong: the keyslot's hash is in alice's signed state.
    func testFlippedByteInKeyslotIsReportedAsDamagedNotWrongPassphrase() throws {
        try tamper("UPDATE keyslots SET ciphertext = substr(ciphertext, 1, 5) || x'AA' || substr(ciphertext, 7)")
        XCTAssertThrowsError(try unlock()) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
            XCTAssertTrue(
                (error as? CertVaultError)?.message.contains("keyslot of alice was damaged or replaced") == true,
                "\(error)"
            )
        }
        XCTAssertTrue(try vault.verify().findings.contains { $0.message.contains("keyslot of alice") })
    }

    /// Someone with no grant cannot decrypt, even through the library, and
    /// even with a grant row copied from someone else: the seal is to
    /// another X25519 key, so the cryptography refuses.
    func testNoGrantNoDecryption() throws {
        let alice = try unlock()
        try importFresh(["secret-site"], as: alice)
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob's passphrase"),
            kdf: .interactive
        )
        let bob = try unlock("bob", "bob's passphrase")
        XCTAssertThrowsError(try export(bob, "secret-site")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .noAccess)
            XCTAssertEqual((error as? CertVaultError)?.message, "bob has no grant for entry secret-site")
        }
        try tamper(
            """
            INSERT INTO grants (entry_id, person_id, sealed_key, granted_by, granted_at)
            SELECT entry_id, (SELECT id FROM people WHERE handle = 'bob'), sealed_key, granted_by, granted_at FROM grants
            """
        )
        // The copied grant changes the entry's signed state: refused before any decryption …
        assertCode(.tampered) { _ = try self.export(bob, "secret-site") }
        // … and below that check the seal is to alice's key: bob cannot open it.
        let entry = try rawEntry("secret-site")
        XCTAssertThrowsError(
            try vault.store.read { try bob.custody.privateKey($0, entryID: entry.id, alias: entry.alias) }
        ) {
            error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
        }
    }

    func testNewAdminReceivesExistingEntriesAndLaterImports() throws {
        let alice = try unlock()
        try importFresh(["before"], as: alice)
        _ = try alice.addPerson(
            .init(handle: "carol", role: .admin),
            passphrase: SecureBytes(utf8: "carol pass"),
            kdf: .interactive
        )
        try importFresh(["after"], as: alice)
        let carol = try unlock("carol", "carol pass")
        _ = try export(carol, "before")
        _ = try export(carol, "after")
        XCTAssertEqual(try vault.entry("after").access, ["alice", "carol"])
        XCTAssertTrue(try vault.verify().isValid)
    }

    func testStaffCannotUnlockAndOfficersCannotAddPeople() throws {
        let alice = try unlock()
        _ = try alice.addPerson(.init(handle: "dave", role: .staff), passphrase: nil)
        assertCode(.noAccess) { _ = try self.unlock("dave", "anything") }
        _ = try alice.addPerson(
            .init(handle: "olga", role: .officer),
            passphrase: SecureBytes(utf8: "olga pass"),
            kdf: .interactive
        )
        let olga = try unlock("olga", "olga pass")
        assertCode(.noAccess) {
            _ = try olga.addPerson(
                .init(handle: "eve", role: .admin),
                passphrase: SecureBytes(utf8: "x"),
                kdf: .interactive
            )
        }
    }

    // MARK: The vault file itself

    func fileDigest(_ p: String) throws -> Data { Digest.sha256(try Data(contentsOf: URL(fileURLWithPath: p))) }

    func testNotAVaultIsLeftUntouched() throws {
        let garbage = dir.appendingPathComponent("garbage.db").path
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) }).write(to: URL(fileURLWithPath: garbage))
        let before = try fileDigest(garbage)
        assertCode(.notAVault) { _ = try Vault.open(at: garbage, witness: witness) }
        XCTAssertEqual(try fileDigest(garbage), before)

        let other = dir.appendingPathComponent("other.db").path
        let queue = try DatabaseQueue(path: other)
        try queue.write { try $0.execute(sql: "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hi')") }
        try queue.close()
        let otherBefore = try fileDigest(other)
        assertCode(.notAVault) { _ = try Vault.open(at: other, witness: witness) }
        XCTAssertEqual(try fileDigest(other), otherBefore)
        XCTAssertFalse(FileManager.default.fileExists(atPath: other + "-wal"))

        assertCode(.noVault) { _ = try Vault.open(at: self.dir.appendingPathComponent("missing.db").path) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("missing.db").path))
    }

    func testNewerFormatIsRefusedUntouched() throws {
        vault = nil
        try tamper("PRAGMA user_version = 99")
        let queue = try DatabaseQueue(path: path)
        _ = try queue.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try queue.close()
        let before = try fileDigest(path)
        XCTAssertThrowsError(try Vault.open(at: path, witness: witness)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .newerFormat)
            XCTAssertTrue((error as? CertVaultError)?.message.contains("99") == true)
        }
        XCTAssertEqual(try fileDigest(path), before)
    }

    func testTruncatedVaultIsAClearError() throws {
        try importFresh(["a", "b", "c"])
        vault = nil
        let queue = try DatabaseQueue(path: path)
        _ = try queue.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        try queue.close()
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = dir.appendingPathComponent("cut.db").path
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(
            try {
                let v = try Vault.open(at: cut, witness: witness)
                _ = try v.entries()
                _ = try v.verify()
            }()
        ) { error in
            let code = (error as? CertVaultError)?.code
            XCTAssertTrue(code == .corruptVault || code == .notAVault, "\(error)")
        }
        let tiny = dir.appendingPathComponent("tiny.db").path
        try data.prefix(100).write(to: URL(fileURLWithPath: tiny))
        XCTAssertThrowsError(try Vault.open(at: tiny, witness: witness)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .corruptVault, "\(error)")
        }
    }

    func testCreateRefusesToOverwrite() throws {
        assertCode(.vaultExists) {
            _ = try Vault.create(
                at: self.path,
                admin: .init(handle: "mallory", role: .admin),
                passphrase: SecureBytes(utf8: "x"),
                kdf: .interactive,
                witness: witness
            )
        }
        XCTAssertNoThrow(try unlock())
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let dirAttrs = try FileManager.default.attributesOfItem(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path
        )
        XCTAssertEqual((dirAttrs[.posixPermissions] as? NSNumber)?.intValue, 0o700)
    }

    // MARK: The audit chain

    func testAlteredRecordIsNamed() throws {
        try importFresh(["a", "b"])
        XCTAssertTrue(try vault.verify().isValid)
        try tamper("UPDATE audit SET details = replace(details, '\"a\"', '\"z\"') WHERE seq = 3")
        let v = try vault.verify()
        XCTAssertEqual(v.firstBadSeq, 3)
    }

    func testRehashedRecordStillFailsItsSignatureAndTheNextLink() throws {
        try importFresh(["a", "b"])
        let r = try XCTUnwrap(vault.auditRecords().first { $0.seq == 3 })
        let forged = "{\"alias\":\"forged\"}"
        let h = AuditChain.hash(
            previous: r.previousHash,
            seq: 3,
            at: r.at,
            actorID: r.actorRow,
            action: r.action,
            entryID: r.entryRow,
            personID: r.personRow,
            details: forged
        )
        try tamper("UPDATE audit SET details = ?, hash = ? WHERE seq = 3", [forged, h])
        let v = try vault.verify()
        XCTAssertEqual(v.firstBadSeq, 3)
        XCTAssertTrue(v.findings.contains { $0.seq == 4 })
    }

    /// A forged signature on an ordinary record (checked on every core) is
    /// named at its place by `verify` and `auditLog`, and by the state check
    /// of a machine that never saw the vault (which then walks the log again
    /// in order).
    func testForgedSignatureIsNamedByVerifyAndByAFreshMachine() throws {
        try importFresh(["a", "b"])
        let r = try XCTUnwrap(vault.auditRecords().first { $0.seq == 3 })
        var signature = try XCTUnwrap(r.signature)
        signature[signature.startIndex] ^= 1
        try tamper("UPDATE audit SET signature = ? WHERE seq = 3", [signature])
        let v = try vault.verify()
        XCTAssertEqual(v.firstBadSeq, 3)
        XCTAssertTrue(
            v.findings.contains { $0.seq == 3 && $0.message == "the signature by alice is invalid" },
            "\(v.findings)"
        )
        // The log as read says so of that record alone, and is not valid.
        let log = try vault.auditLog()
        XCTAssertFalse(log.isValid)
        XCTAssertEqual(log.records.filter { $0.problem != nil }.map(\.seq), [3])
        XCTAssertEqual(log.records.first { $0.seq == 3 }?.problem, "the signature by alice is invalid")
        let fresh = try Vault.open(at: path, witness: nil).checkState()
        XCTAssertTrue(
            fresh.findings.contains { $0.seq == 3 && $0.message == "the signature by alice is invalid" },
            "\(fresh.findings)"
        )
    }

    func testRemovedRecordIsNamed() throws {
        try importFresh(["a", "b", "c"])
        try tamper("DELETE FROM audit WHERE seq = 4")
        XCTAssertEqual(try vault.verify().firstBadSeq, 4)
    }

    func testReorderedRecordsAreNamed() throws {
        try importFresh(["a", "b", "c"])
        try tamper(
            "UPDATE audit SET seq = 100 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 100"
        )
        XCTAssertEqual(try vault.verify().firstBadSeq, 3)
    }

    func testTruncatedLogIsCaughtByExpectedHead() throws {
        try importFresh(["a", "b"])
        let head = try XCTUnwrap(vault.auditHead())
        XCTAssertTrue(try vault.verify(expecting: head).isValid)
        try tamper("DELETE FROM audit WHERE seq = ?", [head.seq])
        let v = try vault.verify(expecting: head)
        XCTAssertFalse(v.isValid)
        XCTAssertTrue(v.findings.contains { $0.seq == head.seq && $0.message.contains("truncated") }, "\(v.findings)")
    }

    /// A forger adds a person of their own with a self-signed person.add:
    /// verify rejects it, and an entry re-signed by them cannot be exported.
    func testForgedPersonIsNotTrusted() throws {
        try importFresh(["target"])
        let box = SealedBox.keyPair()
        let sign = Signature.keyPair()
        let q = try DatabaseQueue(path: path)
        try q.write { db in
            try db.execute(
                sql:
                    "INSERT INTO people (handle, role, box_public_key, sign_public_key, created_at) VALUES ('mallory', 'admin', ?, ?, 'now')",
                arguments: [box.publicKey, sign.publicKey]
            )
            let id = db.lastInsertedRowID
            try AuditChain.append(
                db,
                actor: id,
                action: .personAdd,
                person: id,
                details: [
                    .handle: .text("mallory"), .role: .text("admin"), .boxPublicKey: .text(box.publicKey.hexLower),
                    .signPublicKey: .text(sign.publicKey.hexLower),
                ],
                signer: sign.secretKey
            )
        }
        try q.close()
        let v = try vault.verify()
        XCTAssertFalse(v.isValid)
        XCTAssertTrue(
            v.findings.contains { $0.message.contains("signed by someone whose keys no trusted record introduced") },
            "\(v.findings)"
        )
        // The forged admin is nobody: not listed, cannot be named, and the entry it would re-sign cannot leave.
        XCTAssertFalse(try vault.people().contains { $0.handle == "mallory" })
        assertCode(.tampered) { _ = try self.vault.person("mallory") }
        assertCode(.tampered) { _ = try self.export(self.unlock(), "target") }
    }

    func testChangedCertificateIsCaughtByVerifyAndExport() throws {
        try importFresh(["real", "other"])
        try tamper(
            "UPDATE entries SET cert_der = (SELECT cert_der FROM entries WHERE alias = 'other') || x'' WHERE alias = 'real'"
        )
        XCTAssertTrue(try vault.verify().findings.contains { $0.message.contains("real") })
        assertCode(.tampered) { _ = try self.export(self.unlock(), "real") }
    }

    // MARK: Backup

    func testBackupIsAVerifiedRecordedCopy() throws {
        let session = try unlock()
        try importFresh(["b1", "b2"], as: session)
        let dest = dir.appendingPathComponent("backup.db").path
        let head = try session.backup(to: dest)
        let copy = try Vault.open(at: dest, witness: witness)
        XCTAssertEqual(try copy.entries().map(\.alias), ["b1", "b2"])
        XCTAssertEqual(try copy.verify().head, head)
        XCTAssertEqual(try vault.auditRecords().last?.action, "vault.backup")
        XCTAssertEqual(
            ((try FileManager.default.attributesOfItem(atPath: dest))[.posixPermissions] as? NSNumber)?.intValue,
            0o600
        )
        // The copy is a working vault: alice unlocks it and exports.
        let restored = try copy.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
        _ = try export(restored, "b1")
        assertCode(.fileExists) { _ = try session.backup(to: dest) }
    }

    func testExportRefusesToOverwriteWithoutForce() throws {
        let session = try unlock()
        try importFresh(["o"], as: session)
        let out = dir.appendingPathComponent("o.pfx").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
        assertCode(.fileExists) { _ = try session.exportPFX("o", to: out, password: SecureBytes(utf8: "pw")) }
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep me")
        XCTAssertEqual(try vault.auditRecords(.init(action: "entry.export")).count, 0)
        _ = try session.exportPFX("o", to: out, password: SecureBytes(utf8: "pw"), force: true)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data("keep me".utf8))
    }

    /// The library refuses the unlocking passphrase as a file's password,
    /// for every format that takes one, before anything is written or recorded.
    func testTheUnlockingPassphraseIsNeverAFilesPassword() throws {
        let alice = try unlock()
        try importFresh(["web"], as: alice)
        let before = try snapshot()
        let out = dir.appendingPathComponent("for-carol.pfx").path
        let same = SecureBytes(utf8: passphrase)
        assertCode(.invalidArgument) { _ = try alice.exportPFX("web", to: out, password: same, profile: .modern) }
        assertCode(.invalidArgument) { _ = try alice.exportKey("web", to: .file(out, force: false), password: same) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try snapshot(), before)
        XCTAssertTrue(alice.isPassphrase(SecureBytes(utf8: passphrase)))
        XCTAssertFalse(alice.isPassphrase(SecureBytes(utf8: passphrase + " ")))
        _ = try alice.exportPFX("web", to: out, password: SecureBytes(utf8: "another password"), profile: .modern)
    }
}
