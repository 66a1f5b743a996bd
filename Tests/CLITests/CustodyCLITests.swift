import Foundation
import TestSupport
import XCTest

/// People come and go, through the built binary: the scenario of the
/// departure issue, judged by what each person sees and by openssl.
final class CustodyCLITests: CLITestCase {
    /// alice acts unless `--as` says otherwise: others can unlock too.
    override var defaultActor: String? { "alice" }

    func ok(_ r: ProcessResult, _ what: String = "", line: UInt = #line) {
        XCTAssertEqual(r.status, 0, "\(what): \(r.err)", line: line)
    }

    func testBobLeaves() throws {
        try initVault()
        for (handle, role) in [("bob", "officer"), ("carol", "officer"), ("erin", "auditor")] {
            try Support.write("\(handle) passphrase\n", to: dir.appendingPathComponent("\(handle).pass"))
            ok(
                try cvAsAlice([
                    "person", "add", handle, "--role", role, "--kdf", "interactive", "--new-passphrase-file",
                    file("\(handle).pass"),
                ]),
                "add \(handle)"
            )
        }
        ok(try cvAsAlice(["person", "add", "dave", "--role", "staff"]))
        ok(try cvAs("bob", ["new", "management", "--subject", "CN=bob-mgmt", "--alias", "bob-mgmt"]))
        ok(try cvAs("carol", ["new", "management", "--subject", "CN=carol-mgmt", "--alias", "carol-mgmt"]))
        ok(try cvAs("carol", ["new", "management", "--subject", "CN=carol-only", "--alias", "carol-only"]))
        ok(try cvAs("carol", ["grant", "carol-mgmt", "bob"]))
        ok(
            try cvAs(
                "carol",
                [
                    "export", "carol-only", "--format", "pfx", "--for", "dave", "--generate-password", "--out",
                    file("dave.pfx"),
                ]
            )
        )
        // Negative twins, before the departure.
        XCTAssertEqual(try cvAs("bob", ["person", "add", "zed", "--role", "staff"]).status, 1)
        XCTAssertEqual(try cvAs("bob", ["person", "set-role", "carol", "admin"]).status, 1)
        let erinExport = try cvAs(
            "erin",
            [
                "export", "carol-mgmt", "--format", "pfx", "--generate-password", "--out", file("e.pfx"),
            ]
        )
        XCTAssertEqual(erinExport.status, 1)
        XCTAssertTrue(erinExport.err.contains("erin (auditor) may not export private keys"), erinExport.err)
        XCTAssertEqual(try cvAs("erin", ["grant", "carol-mgmt", "erin"]).status, 1)
        XCTAssertEqual(try cvAsAlice(["ungrant", "bob-mgmt", "bob"]).status, 0)
        ok(try cvAsAlice(["grant", "bob-mgmt", "bob"]))

        let before = try cv(["audit", "verify"])
        ok(before)
        let head = try XCTUnwrap(before.out.split(separator: "\n").last.map(String.init))

        let depart = try cvAsAlice(["person", "depart", "bob", "--reason", "left the company", "--json"])
        ok(depart, "depart")
        let plan = try XCTUnwrap(JSONSerialization.jsonObject(with: depart.stdout) as? [String: Any])
        let items = try XCTUnwrap(plan["items"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["alias"] as? String }, ["bob-mgmt", "carol-mgmt"])
        XCTAssertEqual(items.map { $0["action"] as? String }, ["rotate", "rotate"])
        // bob is cut off.
        let bobAgain = try cvAs("bob", ["list"])
        ok(bobAgain)  // public data needs no passphrase
        let bobExport = try cvAs(
            "bob",
            [
                "export", "bob-mgmt", "--format", "pfx", "--generate-password", "--out", file("b.pfx"),
            ]
        )
        XCTAssertEqual(bobExport.status, 1)
        XCTAssertTrue(bobExport.err.contains("departed"), bobExport.err)
        // The auditor sees that he tried, and that it was no wrong passphrase.
        let tried = try cv(["audit", "log", "--action", "unlock.failed"])
        ok(tried)
        XCTAssertTrue(
            tried.out.contains("an unlock as bob, who had departed: refused whatever the passphrase"),
            tried.out
        )
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        // The last admin cannot depart.
        XCTAssertEqual(try cvAsAlice(["person", "depart", "alice", "--reason", "x"]).status, 1)

        // Rotate what the plan says; the new certificates verify on themselves.
        for alias in ["bob-mgmt", "carol-mgmt"] {
            ok(try cvAsAlice(["rotate", alias]), "rotate \(alias)")
            ok(try cv(["export", alias, "--format", "cer", "--out", file("\(alias).cer")]))
            let verify = try Support.run(
                "openssl",
                ["verify", "-CAfile", file("\(alias).cer"), file("\(alias).cer")]
            )
            // DER .cer: openssl verify reads PEM, so convert first.
            if verify.status != 0 {
                try Support.sh("openssl x509 -inform der -in '\(file("\(alias).cer"))' -out '\(file("\(alias).pem"))'")
                let pem = try Support.run("openssl", ["verify", "-CAfile", file("\(alias).pem"), file("\(alias).pem")])
                XCTAssertEqual(pem.status, 0, pem.out + pem.err)
            }
        }
        // erin, without a passphrase, tells the story.
        let who = try cv([
            "audit", "who", "carol-mgmt.old-" + String(ISO8601DateFormatter().string(from: Date()).prefix(10)),
        ])
        ok(who, "who")
        XCTAssertTrue(who.out.contains("bob"), who.out)
        XCTAssertTrue(who.out.contains("departed"), who.out)
        let copies = try cv(["audit", "who", "carol-only", "--json"])
        let history = try XCTUnwrap(JSONSerialization.jsonObject(with: copies.stdout) as? [String: Any])
        XCTAssertEqual((history["copies"] as? [[String: Any]])?.first?["recipient"] as? String, "dave")
        let log = try cv(["audit", "log", "--person", "bob"])
        ok(log)
        for action in [
            "person.add", "entry.create", "entry.grant", "entry.ungrant", "person.depart", "entry.needs-rotation",
        ] {
            XCTAssertTrue(log.out.contains(action), "\(action) missing:\n\(log.out)")
        }
        XCTAssertFalse(log.out.contains("carol-only"), log.out)
        // An action no record can have is a usage mistake (exit 2), with the nearest one.
        let unknown = try cv(["audit", "log", "--action", "entry.steal"])
        XCTAssertEqual(unknown.status, 2, unknown.err)
        XCTAssertTrue(unknown.err.contains("no action 'entry.steal'"), unknown.err)
        let typo = try cv(["audit", "log", "--action", "entry.exprot"])
        XCTAssertEqual(typo.status, 2, typo.err)
        XCTAssertTrue(typo.err.contains("did you mean 'entry.export'?"), typo.err)
        let show = try cv(["person", "show", "bob"])
        ok(show)
        XCTAssertTrue(show.out.contains("bob (officer, departed)"), show.out)
        ok(try cv(["audit", "verify"]))
        ok(try cv(["audit", "verify", "--expect", head]), "verify --expect a head from before the departure")
    }

    /// A request made by someone who leaves: the plan says re-request and
    /// gives the command; rotate makes it again with a new key under the
    /// same alias (judged by openssl), the old request superseded and its
    /// mark cleared, so no list keeps asking for a rotation.
    func testADepartedPersonsRequestIsRequestedAgain() throws {
        try initVault()
        try addPerson("carol", role: "officer")
        ok(
            try cvAs(
                "carol",
                ["csr", "--subject", "CN=www.contoso.com", "--dns", "www.contoso.com", "--out", file("r.csr")]
            )
        )
        let depart = try cvAsAlice(["person", "depart", "carol", "--reason", "left"])
        ok(depart)
        let row = try XCTUnwrap(depart.out.split(separator: "\n").first { $0.contains("www.contoso.com") })
        XCTAssertTrue(row.contains("re-request"), depart.out)
        XCTAssertTrue(
            depart.out.contains(
                "next, re-request: certvault rotate ALIAS --out ALIAS.csr: a new key and request for the same names, under the same alias — for www.contoso.com"
            ),
            depart.out
        )
        XCTAssertTrue(try cv(["list", "--needs-rotation"]).out.contains("www.contoso.com"))
        let rotate = try cvAsAlice(["rotate", "www.contoso.com", "--out", file("again.csr")])
        ok(rotate)
        let csr = try Support.sh("openssl req -in '\(file("again.csr"))' -noout -verify -subject").out
        XCTAssertTrue(csr.contains("www.contoso.com"), csr)
        XCTAssertNotEqual(
            try Data(contentsOf: URL(fileURLWithPath: file("again.csr"))),
            try Data(contentsOf: URL(fileURLWithPath: file("r.csr")))
        )
        XCTAssertFalse(try cv(["list", "--needs-rotation"]).out.contains("www.contoso.com"))
        let show = try cv(["show", "www.contoso.com", "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: show.stdout) as? [String: Any])
        let entry = try XCTUnwrap(object["entry"] as? [String: Any], show.out)
        XCTAssertEqual(entry["status"] as? String, "pending")
        XCTAssertNotNil(entry["replacesEntryID"], show.out)
        ok(try cv(["audit", "verify"]))
    }

    /// An admin made officer keeps every grant: set-role says so and names
    /// the ungrant that takes one away.
    func testARoleChangeSaysWhatIsStillOpen() throws {
        try initVault()
        try addPerson("carol", role: "admin")
        ok(try cvAsAlice(["new", "management", "--subject", "CN=m", "--alias", "m"]))
        let demote = try cvAsAlice(["person", "set-role", "carol", "officer"])
        ok(demote)
        XCTAssertTrue(demote.out.contains("carol is now officer"), demote.out)
        XCTAssertTrue(
            demote.err.contains("warning: carol can still open 1 entry's key: a role change keeps every grant"),
            demote.err
        )
        XCTAssertTrue(
            demote.err.contains("hint: take away what they no longer need: certvault ungrant ALIAS carol (m)")
        )
        ok(try cvAsAlice(["ungrant", "m", "carol"]))
        let auditor = try cvAsAlice(["person", "set-role", "carol", "auditor"])
        ok(auditor)
        XCTAssertFalse(auditor.err.contains("warning:"), auditor.err)
    }

    func testRevokedEntriesAreNeverExported() throws {
        try initVault()
        ok(try cvAsAlice(["new", "management", "--subject", "CN=r", "--alias", "r"]))
        XCTAssertEqual(try cvAsAlice(["revoke", "r", "--reason", "keyCompromise", "--destroy-key"]).status, 2)
        ok(try cvAsAlice(["revoke", "r", "--reason", "keyCompromise"]))
        let exp = try cvAsAlice(["export", "r", "--format", "pfx", "--generate-password", "--out", file("r.pfx")])
        XCTAssertEqual(exp.status, 1)
        XCTAssertTrue(exp.err.contains("revoked"), exp.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("r.pfx")))
        let log = try cv(["audit", "log", "--action", "entry.denied"])
        XCTAssertTrue(log.out.contains("refused"), log.out)
    }

    func testPasswdChangesOnlyThePassphrase() throws {
        try initVault()
        try Support.write("a brand new passphrase\n", to: dir.appendingPathComponent("new.pass"))
        ok(try cvAsAlice(["person", "passwd", "--kdf", "interactive", "--new-passphrase-file", file("new.pass")]))
        XCTAssertEqual(try cvAsAlice(["backup", file("b.db")]).status, 1)
        ok(try cv(["backup", file("b.db"), "--passphrase-file", file("new.pass")]))
    }
}
