import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// The library as a service uses it: bytes in, bytes out, entries named by
/// id, no file on disk but the vault.
final class LibraryAPITests: VaultTestCase {
    func testBytesInAndOutWithACallerLabel() throws {
        let made = try Support.makePFX(in: dir, name: "upload", key: "ec:prime256v1")
        let upload = try Data(contentsOf: URL(fileURLWithPath: made.pfx))
        try FileManager.default.removeItem(atPath: made.pfx)
        let file = try Importer.read(data: upload, label: "upload #42", password: SecureBytes(utf8: "secret"))
        XCTAssertNil(file.path)
        XCTAssertEqual(file.label, "upload #42")
        let session = try unlock()
        let report = try session.importFiles([file])
        XCTAssertEqual(report.count(.imported), 1)
        let imported = try XCTUnwrap(vault.auditRecords().last { $0.action == "entry.import" })
        XCTAssertEqual(imported.fields.source, "upload #42")

        let entry = try vault.entry(.alias(report.items[0].alias))
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        let pfx = try session.exportPFX(
            .id(entry.id),
            to: .memory(label: "response to ticket 7"),
            password: SecureBytes(utf8: "export-pw")
        )
        XCTAssertNil(pfx.path)
        XCTAssertEqual(pfx.label, "response to ticket 7")
        let bytes = try XCTUnwrap(pfx.bytes)
        XCTAssertEqual(Digest.sha256(bytes).hexLower, pfx.fileSHA256)
        // No file appeared: the bytes went to the caller only.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), before)
        let exported = try XCTUnwrap(vault.auditRecords().last)
        XCTAssertEqual(exported.action, "entry.export")
        XCTAssertEqual(exported.fields.string(.label), "response to ticket 7")
        XCTAssertNil(exported.fields[.file])
        XCTAssertEqual(exported.fields.string(.fileSHA256), pfx.fileSHA256)
        // The same, typed.
        XCTAssertEqual(exported.kind, .entryExport)
        XCTAssertEqual(exported.fields.label, "response to ticket 7")
        XCTAssertEqual(exported.fields.fileSHA256, pfx.fileSHA256)
        XCTAssertEqual(exported.fields.format, .pfx)
        XCTAssertEqual(exported.fields.profile, .modern)
        XCTAssertEqual(exported.fields.recipient, "alice")
        XCTAssertLessThan(abs(try XCTUnwrap(exported.date).timeIntervalSinceNow), 60)

        // openssl, not our reader, judges the bytes.
        let check = dir.appendingPathComponent("check.pfx")
        try bytes.write(to: check)
        let pass = dir.appendingPathComponent("pass")
        try Data("export-pw".utf8).write(to: pass)
        let cert = try Support.run(
            "openssl",
            ["pkcs12", "-in", check.path, "-nokeys", "-clcerts", "-passin", "file:" + pass.path]
        )
        XCTAssertEqual(cert.status, 0, cert.err)
        let pem = dir.appendingPathComponent("from-openssl.pem")
        try Data(cert.out.utf8).write(to: pem)
        XCTAssertEqual(try Support.certificateDER(pem: pem.path), try Support.certificateDER(pem: made.cert))

        // An unencrypted key to memory stays in zeroing memory.
        let key = try session.exportKey(.id(entry.id), to: .memory(label: "k"), password: nil, unencrypted: true)
        XCTAssertNil(key.bytes)
        let secret = try XCTUnwrap(key.secretBytes)
        XCTAssertTrue(
            secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.hasPrefix("-----BEGIN PRIVATE KEY")
        )

        // Public material to memory leaves no record.
        let count = try vault.auditRecords().count
        let cer = try vault.exportPublic(.id(entry.id), format: .cer, to: .memory(label: "cer"))
        XCTAssertEqual(cer.bytes, try Support.certificateDER(pem: made.cert))
        XCTAssertEqual(try vault.auditRecords().count, count)
    }

    func testBytesOverTheLimitAreRefusedBeforeReading() {
        assertCode(.tooLarge) {
            _ = try Importer.read(data: Data(count: Importer.maximumFileSize + 1), label: "big", password: nil)
        }
    }

    /// An id names an entry by id only; an alias can never look like one.
    func testEntriesAreNamedByIDAliasOrThumbprint() throws {
        let session = try unlock()
        let made = try Support.makePFX(in: dir, name: "7", key: "ec:prime256v1")
        let file = try Importer.read(path: made.pfx, password: SecureBytes(utf8: "secret"))
        let report = try session.importFiles([file])
        // A friendly name or common name of digits does not become an alias of digits.
        XCTAssertEqual(report.items[0].alias, "entry-7")
        let entry = try vault.entry(.alias("entry-7"))
        XCTAssertEqual(try vault.entry(.id(entry.id)).alias, "entry-7")
        XCTAssertEqual(try vault.entry(.any(entry.id.description)).alias, "entry-7")
        let thumb = try XCTUnwrap(entry.certificate?.thumbprintSHA1)
        XCTAssertEqual(try vault.entry(.thumbprint(String(thumb.prefix(10)))).id, entry.id)
        assertCode(.entryNotFound) { _ = try self.vault.entry(.alias(entry.id.description)) }
        assertCode(.entryNotFound) { _ = try self.vault.entry(.id(Entry.ID(entry.id.rawValue + 100))) }
        // A person cannot choose an alias of digits either.
        let other = try Support.makePFX(in: dir, name: "other", key: "ec:prime256v1")
        assertCode(.invalidArgument) {
            _ = try session.importFiles(
                [try Importer.read(path: other.pfx, password: SecureBytes(utf8: "secret"))],
                options: ImportOptions(alias: "2")
            )
        }
        assertCode(.invalidArgument) {
            _ = try session.createRequest(subject: "CN=x.example.com", dnsNames: ["x.example.com"], alias: "12")
        }
        // The ID encodes as the plain number it always was.
        let json = try JSONEncoder().encode(entry)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual(object["id"] as? Int, Int(entry.id.rawValue))
        XCTAssertEqual(object["status"] as? String, "active")
    }
}

/// A long-running process: read-only opening, closing, locking, waiting
/// for a busy file, and async calls that honour cancellation.
final class LifecycleTests: VaultTestCase {
    func testReadOnlyReadsAndVerifiesButNeverWrites() throws {
        try importFresh(["ro"])
        try vault.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let ro = try Vault.open(at: path, witness: witness, readOnly: true)
        XCTAssertTrue(ro.isReadOnly)
        XCTAssertEqual(try ro.entries().map(\.alias), ["ro"])
        XCTAssertTrue(try ro.verify().isValid)
        let cer = try ro.exportPublic(.alias("ro"), format: .cer, to: .memory(label: "cer"))
        XCTAssertNotNil(cer.bytes)
        // A wrong passphrase is still a wrong passphrase, not an I/O error.
        XCTAssertThrowsError(try ro.unlock(handle: "alice", passphrase: SecureBytes(utf8: "nope"))) {
            XCTAssertEqual(($0 as? CertVaultError)?.code, .wrongPassphrase)
        }
        let session = try ro.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
        XCTAssertThrowsError(
            try session.exportPFX(.alias("ro"), to: .memory(label: "x"), password: SecureBytes(utf8: "pw"))
        ) {
            XCTAssertEqual(($0 as? CertVaultError)?.code, .readOnly)
        }
        try ro.close()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testClosedVaultAndLockedSessionRefuseEverything() throws {
        try importFresh(["c"])
        let session = try unlock()
        session.lock()
        XCTAssertTrue(session.isLocked)
        // The secret keys are gone from memory, not only unreachable.
        XCTAssertTrue(session.custody.boxSecretKey.withUnsafeBytes { $0.allSatisfy { $0 == 0 } })
        XCTAssertTrue(session.signSecretKey.withUnsafeBytes { $0.allSatisfy { $0 == 0 } })
        assertCode(.closed) {
            _ = try session.exportPFX(.alias("c"), to: .memory(label: "x"), password: SecureBytes(utf8: "pw"))
        }
        session.lock()  // twice is fine
        // The vault itself still works; a new session does too.
        XCTAssertEqual(
            try unlock().exportPFX(.alias("c"), to: .memory(label: "x"), password: SecureBytes(utf8: "pw")).alias,
            "c"
        )

        try vault.close()
        try vault.close()
        assertCode(.closed) { _ = try self.vault.entries() }
        assertCode(.closed) { _ = try self.unlock() }
        assertCode(.closed) { _ = try self.vault.verify() }
    }

    func testBusyTimeoutIsTheCallersChoice() throws {
        let made = try Support.makePFX(in: dir, name: "busy", key: "ec:prime256v1")
        let file = try Importer.read(path: made.pfx, password: SecureBytes(utf8: "secret"))
        try vault.close()
        let patient = try Vault.open(at: path, witness: witness, busyTimeout: 0.3)
        let session = try patient.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
        // Another process holds the write lock.
        let release = try holdWriteLock()
        let start = Date()
        assertCode(.busy) { _ = try session.importFiles([file]) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        release()
        XCTAssertEqual(try session.importFiles([file]).count(.imported), 1)
    }

    func testAsyncCallsWorkAndACancelledImportStoresNothing() async throws {
        let made = try Support.makePFX(in: dir, name: "a", key: "ec:prime256v1")
        let (files, failures) = try await Importer.readAll([made.pfx], password: SecureBytes(utf8: "secret"))
        XCTAssertTrue(failures.isEmpty)
        let session = try unlock()
        let records = try vault.auditRecords().count

        let cancelled = Task { () async throws -> ImportReport in
            while !Task.isCancelled { await Task.yield() }
            return try await session.importFiles(files)
        }
        cancelled.cancel()
        let outcome = await cancelled.result
        XCTAssertThrowsError(try outcome.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        XCTAssertEqual(try vault.entries().count, 0)
        XCTAssertEqual(try vault.auditRecords().count, records)

        let report = try await session.importFiles(files)
        XCTAssertEqual(report.count(.imported), 1)
        let pfx = try await session.exportPFX(
            .alias("a"),
            to: .memory(label: "async"),
            password: SecureBytes(utf8: "pw")
        )
        XCTAssertNotNil(pfx.bytes)
        let verification = try await vault.verify()
        XCTAssertTrue(verification.isValid)

        let opened: Vault = vault
        let cancelledVerify = Task { () async throws -> AuditVerification in
            while !Task.isCancelled { await Task.yield() }
            return try await opened.verify()
        }
        cancelledVerify.cancel()
        let verifyOutcome = await cancelledVerify.result
        XCTAssertThrowsError(try verifyOutcome.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
    }
}

final class WholeVaultReplacedTests: VaultTestCase {
    /// Another vault (say, one an attacker made, with keys they know) put
    /// at this path is a rollback; verification names no record for it.
    func testAnotherVaultAtTheSamePathIsAFindingWithoutARecordNumber() throws {
        try vault.close()
        let other = dir.appendingPathComponent("other.db").path
        _ = try Vault.create(
            at: other,
            admin: .init(handle: "mallory", role: .admin),
            passphrase: SecureBytes(utf8: "m"),
            kdf: .interactive,
            witness: nil
        )
        Store.removeFiles(path)
        try FileManager.default.copyItem(atPath: other, toPath: path)
        let swapped = try Vault.open(at: path, witness: witness)
        assertCode(.rollback) { _ = try swapped.entries() }
        let verification = try swapped.verify()
        XCTAssertFalse(verification.isValid)
        let finding = try XCTUnwrap(verification.findings.first { $0.message.contains("holds another vault") })
        XCTAssertNil(finding.seq)
        XCTAssertNil(verification.firstBadSeq)
        // The log, which checks each record itself, warns of it too.
        let log = try swapped.auditLog()
        XCTAssertTrue(log.isValid)
        XCTAssertTrue(try XCTUnwrap(log.rollback).reason.contains("holds another vault"))
        XCTAssertNil(try Vault.open(at: path, witness: nil).auditLog().rollback)
    }
}

/// Audit sinks through the library: a service names its own configuration,
/// a key handed back in memory waits for the sink like a file does, and
/// the policy stops a vault opened with none.
final class AuditSinkAPITests: VaultTestCase {
    func testAServiceSendsToItsOwnSinksBeforeAKeyIsHandedBack() throws {
        let session = try unlock()
        let alias = try XCTUnwrap(importFresh(["svc"], as: session).first)
        let configuration = AuditSinkConfiguration(files: [dir.appendingPathComponent("sinks").path])
        let sinkPath = dir.appendingPathComponent("trail.jsonl").path
        XCTAssertTrue(try configuration.add(.file(sinkPath), for: vault.vaultID))
        XCTAssertFalse(try configuration.add(.file(sinkPath), for: vault.vaultID))
        let service = try Vault.open(at: path, witness: witness, sinks: configuration)
        XCTAssertEqual(try service.auditSinks(), [.file(sinkPath)])
        let statuses = try service.syncAuditSinks()
        XCTAssertNil(statuses.first?.error)
        XCTAssertEqual(statuses.first?.heldThrough, 3)
        let serviceSession = try service.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
        let result = try serviceSession.exportPFX(
            .alias(alias),
            to: .memory(label: "ticket-42"),
            password: SecureBytes(utf8: "a file password")
        )
        XCTAssertNotNil(result.bytes)
        let comparison = try service.compare(withSink: sinkPath)
        XCTAssertTrue(comparison.isConsistent, "\(comparison.findings)")
        XCTAssertEqual(comparison.records, 4)

        // The sink fails after the check: the bytes are not handed back, and the record says so.
        try FileManager.default.removeItem(atPath: sinkPath)
        try FileManager.default.createDirectory(atPath: sinkPath, withIntermediateDirectories: false)
        XCTAssertThrowsError(
            try serviceSession.exportPFX(
                .alias(alias),
                to: .memory(label: "ticket-43"),
                password: SecureBytes(utf8: "pw")
            )
        ) { error in
            // Refused before any key is decrypted: the sink lacks nothing yet, but cannot be opened.
            XCTAssertEqual((error as? CertVaultError)?.code, .auditSink, "\(error)")
        }

        // Policy: a vault opened with no sink releases no key; the certificate still leaves.
        try FileManager.default.removeItem(atPath: sinkPath)
        _ = try session.setPolicy(.requireSink, to: "on")
        let bare = try Vault.open(at: path, witness: witness, sinks: nil)
        let bareSession = try bare.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
        XCTAssertThrowsError(
            try bareSession.exportPFX(.alias(alias), to: .memory(label: "ticket-44"), password: SecureBytes(utf8: "pw"))
        ) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .auditSink)
            XCTAssertEqual((error as? CertVaultError)?.remedy, .addSink)
        }
        XCTAssertNoThrow(try bare.exportPublic(.alias(alias), format: .pem, to: .memory(label: "certificate")))
    }
}
