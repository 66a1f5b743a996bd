import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// People come and go: grants, departure and its rotation plan, passphrase
/// change, rotate, revoke, and who had which key.
final class CustodyTests: VaultTestCase {
    var people: [String: Session] = [:]

    func addTeam() throws {
        let alice = try unlock()
        for (handle, role) in [("bob", PersonRole.officer), ("carol", .officer), ("erin", .auditor)] {
            try alice.addPerson(
                .init(handle: handle, role: role),
                passphrase: SecureBytes(utf8: "\(handle) pass"),
                kdf: .interactive
            )
            people[handle] = try vault.unlock(handle: handle, passphrase: SecureBytes(utf8: "\(handle) pass"))
        }
        try alice.addPerson(.init(handle: "dave", role: .staff), passphrase: nil)
        people["alice"] = alice
    }

    func testDepartureCutsAccessAndPlansExactlyWhatTheyCouldReach() throws {
        try addTeam()
        let bob = people["bob"]!
        let carol = people["carol"]!
        let alice = people["alice"]!
        let a = try bob.createManagementCertificate(subject: "CN=bob-mgmt", alias: "bob-mgmt")
        let b = try carol.createManagementCertificate(subject: "CN=carol-mgmt", alias: "carol-mgmt")
        let c = try carol.createManagementCertificate(subject: "CN=carol-only", alias: "carol-only")
        try carol.grant(.id(b.id), to: "bob")
        _ = try carol.exportPFX(
            .id(c.id),
            to: .memory(label: "for dave"),
            password: SecureBytes(utf8: "pw"),
            recipient: "dave"
        )
        assertCode(.wrongPassphrase) {
            _ = try self.vault.unlock(handle: "bob", passphrase: SecureBytes(utf8: "not bob's"))
        }
        let plan = try alice.depart("bob", reason: "left the company")
        XCTAssertEqual(plan.items.map(\.alias), ["bob-mgmt", "carol-mgmt"])
        XCTAssertEqual(plan.items.map(\.action), [.rotate, .rotate])
        XCTAssertTrue(plan.items[1].reasons[0].hasPrefix("could open from "), "\(plan.items[1].reasons)")
        // bob can no longer unlock; his records still verify.
        assertCode(.personInactive) {
            _ = try self.vault.unlock(handle: "bob", passphrase: SecureBytes(utf8: "bob pass"))
        }
        // Both refusals are in the log, told apart by what the signed records said of bob then.
        let failed = try vault.auditLog(.init(action: "unlock.failed")).records
        XCTAssertEqual(failed.map(\.personHandle), ["bob", "bob"])
        XCTAssertEqual(failed.map(\.personDeparted), [false, true])
        assertCode(.noAccess) { _ = try bob.grant(.id(a.id), to: "carol") }
        XCTAssertTrue(try vault.verify().isValid)
        let entries = try vault.entries()
        XCTAssertEqual(entries.filter(\.needsRotation).map(\.alias), ["bob-mgmt", "carol-mgmt"])
        XCTAssertFalse(entries.contains { $0.access.contains("bob") })
        // Who had carol-mgmt: carol and alice from the start, bob until he left; dave got nothing of it.
        let who = try vault.accessHistory(.id(b.id))
        XCTAssertEqual(who.holders.map(\.person).sorted(), ["alice", "bob", "carol"])
        XCTAssertEqual(who.holders.first { $0.person == "bob" }?.ended, "departed")
        XCTAssertEqual(try vault.accessHistory(.id(c.id)).copies.map(\.recipient), ["dave"])

        // Rotating replaces the self-signed certificates; the alias moves on.
        let rotation = try carol.rotate(.alias("carol-mgmt"))
        XCTAssertEqual(rotation.successor.alias, "carol-mgmt")
        XCTAssertEqual(rotation.predecessor.status, .superseded)
        XCTAssertFalse(rotation.successor.needsRotation)
        XCTAssertNotEqual(rotation.successor.certificate?.thumbprintSHA1, b.certificate?.thumbprintSHA1)
        XCTAssertEqual(rotation.successor.certificate?.subject, b.certificate?.subject)
        XCTAssertEqual(Set(rotation.successor.access), ["alice", "carol"])
        XCTAssertEqual(rotation.successor.replacesEntryID, b.id)
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertNil(try vault.entry(.id(rotation.predecessor.id)).retiredAt)
        // Until it is retired, check reminds of the rotation's last step, and its key still leaves.
        let old = try XCTUnwrap(
            try vault.check().findings.first {
                $0.rule == "superseded-not-retired" && $0.entryID == rotation.predecessor.id
            }
        )
        XCTAssertEqual(old.severity, .info)
        XCTAssertEqual(old.data["successor"], "carol-mgmt")
        let pw = SecureBytes(utf8: "pw")
        XCTAssertNoThrow(try carol.exportPFX(.id(rotation.predecessor.id), to: .memory(label: "x"), password: pw))
        XCTAssertNotNil(try carol.retire(.id(rotation.predecessor.id)).retiredAt)
        XCTAssertTrue(try vault.verify().isValid)
        // Retired once: a second retirement is refused, the first date kept.
        assertCode(.invalidArgument) { _ = try carol.retire(.id(rotation.predecessor.id)) }
        // Retired: no more reminder to retire it; but bob, who left, could open its key, and its
        // certificate is still valid: a warning until it is revoked. Its key never leaves again.
        XCTAssertEqual(
            try vault.check().findings.filter { $0.entryID == rotation.predecessor.id }.map(\.rule),
            ["superseded-exposed"]
        )
        XCTAssertEqual(
            try vault.check().findings.first { $0.rule == "superseded-exposed" }?.data["held_by"],
            "bob"
        )
        assertCode(.entryRetired) {
            _ = try carol.exportPFX(.id(rotation.predecessor.id), to: .memory(label: "x"), password: pw)
        }
        assertCode(.entryRetired) { _ = try carol.grant(.id(rotation.predecessor.id), to: "dave") }
        XCTAssertTrue(try vault.verify().isValid)
        // A departure plan does not ask to rotate what is already out of use.
        let later = try alice.depart("carol", reason: "moved on")
        XCTAssertEqual(later.items.first { $0.entryID == rotation.predecessor.id }?.action, RotationPlan.Action.none)
    }

    func testDepartedBytesLeaveTheFiles() throws {
        try addTeam()
        let bob = people["bob"]!
        let a = try bob.createManagementCertificate(subject: "CN=x", alias: "x")
        _ = a
        let queue = try DatabaseQueue(path: path)
        let (slot, seals) = try queue.read { db -> (Data, [Data]) in
            let bobID = try XCTUnwrap(try Int64.fetchOne(db, sql: "SELECT id FROM people WHERE handle = 'bob'"))
            return (
                try XCTUnwrap(
                    try Data.fetchOne(
                        db,
                        sql: "SELECT ciphertext FROM keyslots WHERE person_id = ?",
                        arguments: [bobID]
                    )
                ),
                try Data.fetchAll(db, sql: "SELECT sealed_key FROM grants WHERE person_id = ?", arguments: [bobID])
            )
        }
        try queue.close()
        XCTAssertFalse(seals.isEmpty)
        _ = try people["alice"]!.depart("bob", reason: "gone")
        for file in [path!, path + "-wal"] where FileManager.default.fileExists(atPath: file) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            XCTAssertNil(bytes.firstRange(of: slot), "keyslot in \(file)")
            for seal in seals { XCTAssertNil(bytes.firstRange(of: seal), "a seal in \(file)") }
        }
    }

    func testRolesAndLastHoldersAreEnforced() throws {
        try addTeam()
        let bob = people["bob"]!
        let erin = people["erin"]!
        let alice = people["alice"]!
        let a = try bob.createManagementCertificate(subject: "CN=a", alias: "a")
        assertCode(.noAccess) {
            _ = try bob.addPerson(.init(handle: "zed", role: .officer), passphrase: SecureBytes(utf8: "z"))
        }
        assertCode(.noAccess) { _ = try bob.setRole(of: "carol", to: .admin) }
        assertCode(.noAccess) { _ = try erin.grant(.id(a.id), to: "carol") }
        assertCode(.noAccess) {
            _ = try erin.exportPFX(.id(a.id), to: .memory(label: "x"), password: SecureBytes(utf8: "pw"))
        }
        // The refusals are on record, signed by who tried.
        let denied = try vault.auditRecords().filter { $0.kind == .entryDenied }
        XCTAssertEqual(denied.map(\.actorHandle), ["erin", "erin"])
        assertCode(.invalidArgument) { _ = try bob.grant(.id(a.id), to: "dave") }  // staff hold no grants
        // Admins hold every key: nobody takes an admin's grant away.
        assertCode(.noAccess) { _ = try bob.ungrant(.id(a.id), from: "alice") }
        assertCode(.noAccess) { _ = try alice.ungrant(.id(a.id), from: "alice") }
        try alice.ungrant(.id(a.id), from: "bob")
        // Only admins and officers hold keys.
        assertCode(.invalidArgument) { _ = try alice.grant(.id(a.id), to: "erin") }
        // Who may revoke a key is who can open it.
        let carolsOwn = try people["carol"]!.createManagementCertificate(subject: "CN=c", alias: "c")
        assertCode(.noAccess) { _ = try bob.revoke(.id(carolsOwn.id), reason: .unspecified, destroyKey: true) }
        XCTAssertTrue(try vault.entry(.id(carolsOwn.id)).hasPrivateKey)
        assertCode(.lastHolder) { _ = try alice.depart("alice", reason: "x") }
        // An admin made from an officer receives every key.
        try alice.setRole(of: "carol", to: .admin)
        XCTAssertTrue(try vault.entry(.id(a.id)).access.contains("carol"))
        assertCode(.invalidArgument) { _ = try alice.setRole(of: "dave", to: .officer) }
        // A person made auditor keeps no key.
        try alice.setRole(of: "carol", to: .auditor)
        XCTAssertFalse(try vault.entries().contains { $0.access.contains("carol") })
        XCTAssertTrue(try vault.verify().isValid)
    }

    func testRevokedKeysNeverLeaveAndDestroyedKeysAreGone() throws {
        let alice = try unlock()
        let a = try alice.createManagementCertificate(subject: "CN=r", alias: "r")
        try alice.revoke(.id(a.id), reason: .keyCompromise)
        assertCode(.entryRevoked) {
            _ = try alice.exportPFX(.id(a.id), to: .memory(label: "x"), password: SecureBytes(utf8: "pw"))
        }
        XCTAssertEqual(try vault.auditRecords().last?.kind, .entryDenied)
        let b = try alice.createManagementCertificate(subject: "CN=d", alias: "d")
        try alice.revoke(.id(b.id), reason: .cessationOfOperation, destroyKey: true)
        let after = try vault.entry(.id(b.id))
        XCTAssertEqual(after.revocationReason, .cessationOfOperation)
        XCTAssertNotNil(after.revokedAt)
        XCTAssertFalse(after.hasPrivateKey)
        XCTAssertTrue(after.access.isEmpty)
        XCTAssertTrue(try vault.verify().isValid)
    }

    func testPassphraseChangeRewrapsOnlyTheKeyslot() throws {
        let alice = try unlock()
        _ = try alice.createManagementCertificate(subject: "CN=p", alias: "p")
        try alice.changePassphrase(to: SecureBytes(utf8: "a new one"), kdf: .interactive)
        assertCode(.wrongPassphrase) { _ = try self.unlock("alice", self.passphrase) }
        let again = try unlock("alice", "a new one")
        XCTAssertNotNil(
            try again.exportPFX(.alias("p"), to: .memory(label: "x"), password: SecureBytes(utf8: "pw")).bytes
        )
        XCTAssertTrue(try vault.verify().isValid)
    }

    func testDepartWithRotateNeverFailsAfterTheDepartureCommitted() throws {
        try addTeam()
        let bob = people["bob"]!
        let alice = people["alice"]!
        let m1 = try bob.createManagementCertificate(subject: "CN=m1", alias: "m1")
        let m2 = try bob.createManagementCertificate(subject: "CN=m2", alias: "m2")
        try alice.revoke(.id(m2.id), reason: .keyCompromise)
        let plan = try alice.depart("bob", reason: "left", rotate: true)
        XCTAssertEqual(plan.items.map(\.action), [.rotate, RotationPlan.Action.none])
        XCTAssertEqual(plan.items[0].rotatedTo, "m1")
        XCTAssertNil(plan.items[0].rotationError)
        XCTAssertFalse(try vault.entry(.id(m2.id)).needsRotation)
        XCTAssertNotEqual(try vault.entry(.alias("m1")).id, m1.id)
        // The log names each entry as its records did at the time; --entry finds both entries called m1.
        let records = try vault.auditRecords(.init(entry: "m1"))
        XCTAssertEqual(Set(records.compactMap(\.entryID)).count, 2)
        XCTAssertTrue(
            records.filter { $0.entryID == m1.id && $0.kind == .entryCreate }.allSatisfy {
                $0.entryAlias == "m1"
            }
        )
    }

    func testVerifyRemembersTheHeadAndTheLogWarnsOfARollback() throws {
        let alice = try unlock()
        try vault.close()
        let copy = dir.appendingPathComponent("old.db").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        vault = try Vault.open(at: path, witness: witness)
        _ = try unlock().createManagementCertificate(subject: "CN=n", alias: "n")
        _ = alice
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertNil(try vault.auditLog().rollback)
        try vault.close()
        Store.removeFiles(path)
        try FileManager.default.copyItem(atPath: copy, toPath: path)
        vault = try Vault.open(at: path, witness: witness)
        XCTAssertNotNil(try vault.auditLog().rollback)
        // Its last signed record made unreadable: the log says so, and still warns of the rollback.
        try vault.close()
        try tamper(
            "UPDATE audit SET details = CAST(details AS BLOB) WHERE seq = (SELECT max(seq) FROM audit WHERE signature IS NOT NULL)"
        )
        vault = try Vault.open(at: path, witness: witness)
        let log = try vault.auditLog()
        XCTAssertFalse(log.isValid)
        XCTAssertTrue(
            try XCTUnwrap(log.rollback).reason.contains("its log ends at record"),
            "\(String(describing: log.rollback))"
        )
    }
}
