import Foundation
import GRDB
import Synchronization
import TestSupport
import XCTest

@testable import CertVault

/// What a service embedding the library relies on (issue 27): a busy vault
/// is told apart from a broken one, and every call that derives a key or
/// opens the file has an async form.
final class ServiceTests: VaultTestCase {
    func testABusyVaultIsBusyNotBrokenAndSaysSoOnce() throws {
        let release = try holdWriteLock()
        defer { release() }
        let waits = Mutex<[String]>([])
        let busy = try Vault.open(
            at: path,
            witness: witness,
            busyTimeout: 1.5,
            onWait: { message in waits.withLock { $0.append(message) } }
        )
        defer { try? busy.close() }
        let session = try busy.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
        XCTAssertThrowsError(try session.addPerson(Vault.NewPerson(handle: "bob", role: .staff), passphrase: nil)) {
            error in
            let e = error as? CertVaultError
            XCTAssertEqual(e?.code, .busy, "\(error)")
            XCTAssertTrue(e?.isKind(of: .io) == true)
            XCTAssertFalse(e?.isKind(of: .corruptVault) == true)
            let sqlite = e?.underlying as? DatabaseError
            XCTAssertEqual(sqlite?.resultCode, .SQLITE_BUSY, "\(String(describing: e?.underlying))")
            XCTAssertTrue(e?.message.contains("stayed locked by another process") == true, e?.message ?? "")
        }
        let told = waits.withLock { $0 }
        XCTAssertEqual(told.count, 1, "\(told)")
        XCTAssertTrue(told.first?.hasPrefix("waiting for another certvault process to finish writing to") == true)
        // Once the lock is let go, the same call goes through on the same session.
        release()
        XCTAssertEqual(
            try session.addPerson(Vault.NewPerson(handle: "bob", role: .staff), passphrase: nil).handle,
            "bob"
        )
    }

    /// A service-shaped flow in async code, through the async forms: the
    /// key derivations never run on the caller's task.
    func testTheAsyncFormsServeAService() async throws {
        let url = dir.appendingPathComponent("service/async.db")
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        let made = try await Vault.create(
            at: url.path,
            admin: .init(handle: "svc", role: .admin),
            passphrase: SecureBytes(utf8: "service passphrase"),
            kdf: .interactive,
            witness: witness
        )
        try made.close()
        let vault = try await Vault.open(at: url.path, witness: witness)
        defer { try? vault.close() }
        let session = try await vault.unlock(handle: "svc", passphrase: SecureBytes(utf8: "service passphrase"))
        defer { session.lock() }
        let officer = try await session.addPerson(
            .init(handle: "ops", role: .officer),
            passphrase: SecureBytes(utf8: "ops passphrase"),
            kdf: .interactive
        )
        XCTAssertEqual(officer.role, .officer)
        try await session.changePassphrase(to: SecureBytes(utf8: "service passphrase 2"), kdf: .interactive)
        let pfx = try Support.makePFX(in: dir, name: "svc", key: "ec:prime256v1").pfx
        let file = try Importer.read(path: pfx, password: SecureBytes(utf8: "secret"))
        let report = try await session.importFiles([file])
        XCTAssertEqual(report.items.count, 1)
        // The URL forms open the same file; a URL that is not a file is refused.
        let again = try Vault.open(at: url, witness: witness, readOnly: true)
        XCTAssertEqual(try again.entries().count, 1)
        try again.close()
        XCTAssertThrowsError(try Vault.open(at: URL(string: "https://example.com/v.db")!)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .invalidArgument)
        }
        // The new passphrase is the one that unlocks now.
        await XCTAssertThrowsErrorAsync(
            try await vault.unlock(handle: "svc", passphrase: SecureBytes(utf8: "service passphrase"))
        ) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .wrongPassphrase)
        }
    }

    /// Many uploads read at once from bytes: the good ones come back in the
    /// order given, each failure names its label, and the files import.
    func testUploadsAreReadInBulkFromBytes() async throws {
        let good = try (0..<3).map { i in
            try Data(
                contentsOf: URL(fileURLWithPath: Support.makePFX(in: dir, name: "up\(i)", key: "ec:prime256v1").pfx)
            )
        }
        let other = try Data(
            contentsOf: URL(
                fileURLWithPath: Support.makePFX(in: dir, name: "other", password: "another", key: "ec:prime256v1").pfx
            )
        )
        let uploads: [(label: String, data: Data)] = [
            ("upload 1", good[0]), ("upload 2", Data("not a certificate".utf8)), ("upload 3", good[1]),
            ("upload 4", other), ("upload 5", good[2]),
        ]
        let (files, failures) = try await Importer.readAll(data: uploads, password: SecureBytes(utf8: "secret"))
        XCTAssertEqual(files.map(\.label), ["upload 1", "upload 3", "upload 5"])
        XCTAssertEqual(failures.map(\.code), [.unknownFormat, .wrongPassword])
        XCTAssertTrue(failures[0].message.hasPrefix("upload 2: "), failures[0].message)
        XCTAssertTrue(failures[1].message.hasPrefix("upload 4: "), failures[1].message)
        let report = try await unlock().importFiles(files)
        XCTAssertEqual(report.items.map(\.outcome), [.imported, .imported, .imported])
        XCTAssertEqual(try vault.entries().count, 3)
    }

    func XCTAssertThrowsErrorAsync<T>(
        _ expression: @autoclosure () async throws -> T,
        _ check: (Error) -> Void,
        file: StaticString = #filePath,
        line: UInt = #line
    ) async {
        do {
            _ = try await expression()
            XCTFail("did not throw", file: file, line: line)
        } catch {
            check(error)
        }
    }
}
