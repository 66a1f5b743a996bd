import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// A vault made by an earlier certvault opens, upgrades, verifies and takes
/// signed changes; the leniency that allows it covers nothing else.
final class UpgradeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try Support.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func copyOfFormat2() throws -> String {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/vaults/format2.db")
        let path = dir.appendingPathComponent("v-\(UUID().uuidString).db").path
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        return path
    }

    func testAFormat2VaultUpgradesVerifiesAndTakesChanges() throws {
        let path = try copyOfFormat2()
        // Read-only, it is not upgraded, and says so.
        XCTAssertThrowsError(try Vault.open(at: path, witness: nil, readOnly: true)) { error in
            XCTAssertTrue("\(error)".contains("needs upgrading"), "\(error)")
        }
        let vault = try Vault.open(at: path, witness: nil)
        let version = try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
        XCTAssertEqual(version, Schema.migrations.count)
        let verification = try vault.verify()
        XCTAssertTrue(verification.isValid, "\(verification.findings)")
        XCTAssertEqual(verification.head?.seq, 7)
        XCTAssertEqual(try vault.entries().map(\.alias).sorted(), ["Valid Certificate Path Test1 EE", "mgmt"])
        XCTAssertEqual(try vault.entry(.alias("mgmt")).access, ["alice", "bob"])
        // A signed change commits the upgraded state; bob can still open what he was granted.
        let session = try vault.unlock(handle: "alice", passphrase: SecureBytes(utf8: "format two passphrase"))
        let app = try session.createAppCredential(subject: "CN=deploy", appID: "app-1")
        XCTAssertEqual(app.purpose, .app)
        XCTAssertTrue(try vault.verify().isValid)
        let bob = try vault.unlock(handle: "bob", passphrase: SecureBytes(utf8: "bob passphrase, format two"))
        let pfx = try bob.exportPFX(.alias("mgmt"), to: .memory(label: "t"), password: SecureBytes(utf8: "pw"))
        XCTAssertNotNil(pfx.bytes)
        XCTAssertTrue(try Vault.open(at: path, witness: nil).verify().isValid)
    }

    /// Only certvault's own migrations, in order, may explain a difference;
    /// and only the list of migrations may differ.
    func testTheUpgradeLeniencyCoversNothingElse() throws {
        // An entry changed by hand in an upgraded vault is still caught.
        let path = try copyOfFormat2()
        try Vault.open(at: path, witness: nil).close()
        try Support.run("sqlite3", [path, "UPDATE entries SET subscription = 'sub-2' WHERE alias = 'mgmt'"])
        XCTAssertFalse(try Vault.open(at: path, witness: nil).verify().isValid)
        // A migration row nobody wrote is caught (or refused at open).
        let other = try copyOfFormat2()
        try Vault.open(at: other, witness: nil).close()
        try Support.run("sqlite3", [other, "INSERT INTO grdb_migrations VALUES ('0009_hand')"])
        // More migrations than the format number says: refused at open.
        XCTAssertThrowsError(try Vault.open(at: other, witness: nil)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
            XCTAssertTrue("\(error)".contains("migrations were applied"), "\(error)")
        }
        // With the number raised to match, the open succeeds (the row names no schema object) and
        // verification finds the row, which the signed state does not hold.
        try Support.run("sqlite3", [other, "PRAGMA user_version = \(Schema.migrations.count + 1)"])
        XCTAssertThrowsError(try Vault.open(at: other, witness: nil)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .newerFormat)
        }
        try Support.run("sqlite3", [other, "DELETE FROM grdb_migrations WHERE identifier = '0001_initial'"])
        try Support.run("sqlite3", [other, "PRAGMA user_version = \(Schema.migrations.count)"])
        let verification = try Vault.open(at: other, witness: nil).verify()
        XCTAssertFalse(verification.isValid, "a migration row added by hand went unnoticed")
        XCTAssertTrue(
            verification.findings.contains {
                $0.description.contains("the tables differ from the state this record signed")
            },
            "\(verification.findings)"
        )
        // The vault row changed together with an upgrade is caught.
        let third = try copyOfFormat2()
        try Vault.open(at: third, witness: nil).close()
        try Support.run("sqlite3", [third, "UPDATE vault SET created_at = '2020-01-01T00:00:00Z'"])
        XCTAssertFalse(try Vault.open(at: third, witness: nil).verify().isValid)
    }
}
