import Foundation
import TestSupport
import XCTest

/// A key handed over encrypted to the recipient's age public key: what
/// `age -d` with their identity opens, and `openssl pkcs12` then reads
/// with the file's own password.
final class AgeHandoverTests: CLITestCase {
    override var defaultActor: String? { "alice" }

    func keygen(_ name: String) throws -> (identity: String, recipient: String) {
        try Support.ageKeygen(file("\(name).agekey"))
    }

    func prepare() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        XCTAssertEqual(try cvAs("alice", ["person", "add", "bob", "--role", "staff"]).status, 0)
    }

    /// The .pfx inside `path`, opened with `identity` and then `password`: its subject.
    func openHandover(_ path: String, identity: String, password: String) throws -> String {
        let inner = path + ".pfx"
        let d = try Support.run("age", ["-d", "-i", identity, "-o", inner, path])
        XCTAssertEqual(d.status, 0, d.err)
        try Support.write(password + "\n", to: dir.appendingPathComponent("pw"))
        let r = try Support.run(
            "openssl",
            ["pkcs12", "-in", inner, "-passin", "file:" + file("pw"), "-nokeys", "-clcerts"]
        )
        XCTAssertEqual(r.status, 0, r.err)
        return r.out
    }

    func testExportForAPersonWithAnAgeRecipientIsEncryptedToThem() throws {
        try prepare()
        let bob = try keygen("bob")
        let set = try cvAs("alice", ["person", "set", "bob", "--age-recipient", bob.recipient])
        XCTAssertEqual(set.status, 0, set.err)
        XCTAssertTrue(try cv(["person", "show", "bob"]).out.contains("encrypted to: \(bob.recipient)"))
        try Support.write("a file password 12345!\n", to: dir.appendingPathComponent("filepw"))
        let out = file("m1-for-bob.pfx.age")
        let export = try cvAs(
            "alice",
            ["export", "m1", "--format", "pfx", "--for", "bob", "--password-file", file("filepw"), "--out", out]
        )
        XCTAssertEqual(export.status, 0, export.err)
        XCTAssertTrue(export.out.contains("in age to \(bob.recipient)"), export.out)
        // Not a .pfx any more: an age file, which only bob's identity opens.
        XCTAssertTrue(
            try Data(contentsOf: URL(fileURLWithPath: out)).starts(with: Data("age-encryption.org/v1\n".utf8))
        )
        XCTAssertTrue(
            try openHandover(out, identity: bob.identity, password: "a file password 12345!").contains("CN = m1")
        )
        let other = try keygen("mallory")
        XCTAssertNotEqual(try Support.run("age", ["-d", "-i", other.identity, out]).status, 0)
        // The record names the key, and the SHA-256 is of the file written.
        let log = try cv(["audit", "log", "--action", "entry.export", "--json"])
        let records = try XCTUnwrap(try JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        let details = try XCTUnwrap(records.last?["details"] as? [String: Any])
        XCTAssertEqual(details["age_recipients"] as? [String], [bob.recipient])
        let sum = try Support.run("sha256sum", [out]).out.prefix(64)
        XCTAssertEqual(details["file_sha256"] as? String, String(sum))
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        // Another key than the one bob holds: said, and the log's line names it.
        let other2 = try keygen("other2")
        let elsewhere = try cvAs(
            "alice",
            [
                "export", "m1", "--format", "pfx", "--for", "bob", "--password-file", file("filepw"), "--out",
                file("e.age"), "--to-recipient", other2.recipient,
            ]
        )
        XCTAssertEqual(elsewhere.status, 0, elsewhere.err)
        XCTAssertTrue(
            elsewhere.err.contains(
                "warning: bob's age recipient is \(bob.recipient); this file is encrypted to \(other2.recipient) instead"
            ),
            elsewhere.err
        )
        XCTAssertTrue(
            try cv(["audit", "log", "--action", "entry.export"]).out.contains("in age to \(other2.recipient)")
        )
        // --no-age: the .pfx itself.
        let plain = try cvAs(
            "alice",
            [
                "export", "m1", "--format", "pfx", "--for", "bob", "--password-file", file("filepw"), "--out",
                file("p.pfx"), "--no-age",
            ]
        )
        XCTAssertEqual(plain.status, 0, plain.err)
        let read = try Support.run(
            "openssl",
            ["pkcs12", "-in", file("p.pfx"), "-passin", "file:" + file("filepw"), "-nokeys"]
        )
        XCTAssertEqual(read.status, 0, read.err)
        // Cleared: files for bob are written as they are again.
        XCTAssertEqual(try cvAs("alice", ["person", "set", "bob", "--clear-age-recipient"]).status, 0)
        XCTAssertNil(try object(try cv(["person", "list", "--json"]), handle: "bob")["ageRecipient"])
    }

    func object(_ r: ProcessResult, handle: String) throws -> [String: Any] {
        let people = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
        return try XCTUnwrap(people.first { $0["handle"] as? String == handle })
    }

    func testToRecipientOnTheCommandLineAndItsMistakes() throws {
        try prepare()
        let one = try keygen("one")
        let two = try keygen("two")
        let out = file("m1.key.age")
        let export = try cvAs(
            "alice",
            [
                "export", "m1", "--format", "key", "--unencrypted", "--to-recipient", one.recipient,
                "--to-recipient", two.recipient, "--out", out,
            ]
        )
        XCTAssertEqual(export.status, 0, export.err)
        for identity in [one.identity, two.identity] {
            let r = try Support.run("age", ["-d", "-i", identity, out])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("-----BEGIN PRIVATE KEY-----"), r.out)
        }
        // A malformed recipient, a public format, and both --no-age and a recipient: usage mistakes, nothing asked.
        var typo = Array(one.recipient)
        typo[12] = typo[12] == "x" ? "y" : "x"
        for (args, says) in [
            (["--format", "pfx", "--to-recipient", String(typo)], "checksum"),
            (["--format", "pfx", "--to-recipient", "age1notakey"], "is not an age recipient"),
            (
                [
                    "--format", "pfx", "--to-recipient",
                    "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z",
                ],
                "low-order point"
            ),
            (["--format", "cer", "--to-recipient", one.recipient], "applies to pfx, key and bundle exports only"),
            (["--format", "pfx", "--to-recipient", one.recipient, "--no-age"], "--no-age writes the file itself"),
        ] {
            let r = try cv(["export", "m1", "--out", file("x")] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(says), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: file("x")))
        }
        let bad = try cvAs("alice", ["person", "set", "bob", "--age-recipient", "age1zzz"])
        XCTAssertEqual(bad.status, 2, bad.err)
    }

    func testOnlyThePersonOrAnAdminSetsIt() throws {
        try prepare()
        try addPerson("carol", role: "officer")
        try addPerson("dave", role: "officer")
        let key = try keygen("k").recipient
        // carol sets her own; she may not set dave's.
        XCTAssertEqual(try cvAs("carol", ["person", "set", "carol", "--age-recipient", key]).status, 0)
        let other = try cvAs("carol", ["person", "set", "dave", "--age-recipient", key])
        XCTAssertEqual(other.status, 1, other.err)
        XCTAssertTrue(other.err.contains("admin"), other.err)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }

    func testAnAgeRecipientWrittenIntoTheFileByHandIsNotBelieved() throws {
        try prepare()
        let bob = try keygen("bob")
        let mallory = try keygen("mallory")
        XCTAssertEqual(try cvAs("alice", ["person", "set", "bob", "--age-recipient", bob.recipient]).status, 0)
        // The attacker edits the signed record to name their own key.
        try tamper(
            "UPDATE audit SET details = replace(details, '\(bob.recipient)', '\(mallory.recipient)') WHERE action = 'person.recipient'"
        )
        try Support.write("a file password 12345!\n", to: dir.appendingPathComponent("filepw"))
        let export = try cvAs(
            "alice",
            [
                "export", "m1", "--format", "pfx", "--for", "bob", "--password-file", file("filepw"), "--out",
                file("o.age"),
            ]
        )
        // Nothing is handed to the attacker's key: the record no longer holds, and the vault says so.
        XCTAssertNotEqual(export.status, 0, export.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("o.age")))
        XCTAssertEqual(try cv(["audit", "verify"]).status, 5)
    }
}
