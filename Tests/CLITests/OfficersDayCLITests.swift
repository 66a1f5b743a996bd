import Foundation
import TestSupport
import XCTest

/// The officer's day at the command line: a departure rehearsed, `check`
/// for cron, a `.pfx` handed over as base64 text.
final class OfficersDayCLITests: CLITestCase {
    func testDepartDryRunPrintsThePlanAndChangesNothing() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        try addPerson("bob", role: "officer")
        XCTAssertEqual(try cvAs("alice", ["grant", "m1", "bob"]).status, 0)
        let head = try cv(["audit", "verify"]).out
        let dry = try cvAs("alice", ["person", "depart", "bob", "--reason", "left", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.err)
        XCTAssertTrue(dry.out.contains("dry run: bob has not departed and nothing was recorded"), dry.out)
        XCTAssertTrue(dry.out.contains("would end"), dry.out)
        XCTAssertTrue(dry.out.contains("sole holders left: alice for m1"), dry.out)
        XCTAssertEqual(try cv(["audit", "verify"]).out, head)
        // bob still acts.
        XCTAssertEqual(try cvAs("bob", ["export", "m1", "--format", "cer", "--out", file("m1.cer")]).status, 0)
        let json = try cvAs("alice", ["person", "depart", "bob", "--reason", "left", "--dry-run", "--json"])
        let plan = try XCTUnwrap(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        XCTAssertEqual(plan["dryRun"] as? Bool, true)
        let both = try cvAs("alice", ["person", "depart", "bob", "--reason", "left", "--dry-run", "--rotate"])
        XCTAssertEqual(both.status, 2, both.err)
        XCTAssertTrue(both.err.contains("--dry-run rotates nothing"), both.err)
    }

    func testCheckQuietAndSummaryForCron() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        try addPerson("bob", role: "officer")
        XCTAssertEqual(try cvAs("alice", ["grant", "m1", "bob"]).status, 0)
        XCTAssertEqual(try cvAs("alice", ["person", "depart", "bob", "--reason", "left"]).status, 0)
        XCTAssertEqual(try cvAs("alice", ["rotate", "m1"]).status, 0)
        // The replaced certificate bob could open is still valid at the CA: a warning, whoever runs check.
        let check = try cv(["check", "--fail-on", "warning"])
        XCTAssertEqual(check.status, 3, check.out)
        XCTAssertTrue(check.out.contains("warning superseded-exposed: "), check.out)
        XCTAssertTrue(check.out.contains("'certvault revoke m1.old-"), check.out)
        let quiet = try cv(["check", "--fail-on", "warning", "--quiet"])
        XCTAssertEqual(quiet.status, 3)
        XCTAssertEqual(quiet.out, "")
        let summary = try cv(["check", "--fail-on", "warning", "--summary"])
        XCTAssertEqual(summary.status, 3)
        XCTAssertTrue(summary.out.contains("warning superseded-exposed: 1 (m1.old-"), summary.out)
        XCTAssertTrue(summary.out.hasSuffix("notes\n") || summary.out.hasSuffix("note\n"), summary.out)
        XCTAssertEqual(try cv(["check", "--quiet", "--summary"]).status, 2)
        // Revoked at the CA and recorded: cron is quiet again (at --fail-on warning, but for bob's old key... none left).
        let old = try XCTUnwrap(check.out.split(separator: "'").first { $0.hasPrefix("certvault revoke m1.old-") })
        let alias = String(old.split(separator: " ")[2])
        XCTAssertEqual(try cvAs("alice", ["revoke", alias, "--reason", "superseded", "--yes"]).status, 0)
        XCTAssertFalse(try cv(["check"]).out.contains("superseded-exposed"))
    }

    func testAPFXGivenAsBase64TextIsImported() throws {
        try initVault()
        let b64 = file("contoso.pfx.b64")
        try Support.sh("base64 -w 0 '\(realWorld("ValidCertificatePathTest1EE_windows_aes.p12.pfx"))' > '\(b64)'")
        try Support.write("password\n", to: dir.appendingPathComponent("file.pw"))
        let r = try cvAs("alice", ["import", b64, "--password-file", file("file.pw"), "--alias", "contoso"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("base64 text; it was read as the PKCS#12 it encodes"), r.err)
        XCTAssertTrue(try cv(["show", "contoso"]).out.contains("E128464BE734D0F84BD928516C50F15A18B52B96"))
    }
}

/// A wrong passphrase typed at a terminal may be typed again, three tries
/// in all, each one recorded; from a file it fails at once.
final class PassphraseRetryTests: CLITestCase {
    func testThreeTriesAtATerminalEachRecordedAndOneFromAFile() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        let prompt = "Passphrase for alice: "
        let second = try conversation(
            ["backup", file("b1.db")],
            [(prompt, "wrong one"), (prompt, "alice passphrase")]
        )
        XCTAssertEqual(second.status, 0, second.out)
        XCTAssertTrue(second.out.contains("wrong passphrase for alice; again (1 of 3)"), second.out)
        let failed = try conversation(
            ["backup", file("b2.db")],
            [(prompt, "wrong 1"), (prompt, "wrong 2"), (prompt, "wrong 3")]
        )
        XCTAssertEqual(failed.status, 1, failed.out)
        XCTAssertTrue(failed.out.contains("again (2 of 3)"), failed.out)
        XCTAssertTrue(failed.out.contains("error: "), failed.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("b2.db")))
        // From a file: once.
        try Support.write("wrong\n", to: dir.appendingPathComponent("wrong.pass"))
        let fromFile = try cv([
            "backup", file("b3.db"), "--passphrase-file", file("wrong.pass"),
        ])
        XCTAssertEqual(fromFile.status, 1)
        XCTAssertFalse(fromFile.err.contains("again"), fromFile.err)
        // Every wrong one is in the log: 1 + 3 + 1.
        let log = try cv(["audit", "log", "--action", "unlock.failed", "--json"])
        let records = try XCTUnwrap(try JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        XCTAssertEqual(records.count, 5, log.out)
    }
}

/// Exit codes a script can tell apart, and the one table everywhere.
final class ExitCodeTopicTests: CLITestCase {
    func testHelpExitCodesAndIntegrityApartFromFindings() throws {
        let topic = try cv(["help", "exit-codes"])
        XCTAssertEqual(topic.status, 0)
        XCTAssertTrue(topic.out.hasPrefix("Exit codes:"), topic.out)
        XCTAssertTrue(topic.out.contains("5  integrity: "), topic.out)
        XCTAssertTrue(try cv(["--help"]).out.contains(topic.out.trimmingCharacters(in: .newlines)))
        let unknown = try cv(["help", "exit-code"])
        XCTAssertEqual(unknown.status, 2, unknown.err)
        XCTAssertTrue(unknown.err.contains("did you mean 'certvault help exit-codes'?"), unknown.err)
        // Integrity (5) apart from a finding (3).
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        XCTAssertEqual(try cv(["check", "--fail-on", "info"]).status, 3)
        try tamper("UPDATE entries SET subscription = 'stolen'")
        XCTAssertEqual(try cv(["check"]).status, 5)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 5)
        XCTAssertEqual(try cv(["list"]).status, 5)
    }
}

/// A typed secret longer than a passphrase may be is refused, as from a file, never cut.
final class LongTypedSecretTests: CLITestCase {
    func testATypedPassphraseTooLongIsRefusedNotCut() throws {
        let long = String(repeating: "correct horse battery staple ", count: 180)  // 5,220 bytes
        let r = try conversation(
            ["init", "--admin", "alice", "--kdf", "interactive"],
            [("New passphrase for alice: ", long)]
        )
        XCTAssertNotEqual(r.status, 0, r.out)
        XCTAssertTrue(r.out.contains("too long to be a passphrase or password"), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: vaultPath))
        try Support.write(long + "\n", to: dir.appendingPathComponent("long.pass"))
        let fromFile = try cv([
            "init", "--admin", "alice", "--kdf", "interactive", "--passphrase-file", file("long.pass"),
        ])
        XCTAssertEqual(fromFile.status, 1)
        XCTAssertTrue(fromFile.err.contains("too long to hold a passphrase"), fromFile.err)
    }
}

/// `--json` on the commands that change something: what was done, the
/// record's seq; a failure with its stable code.
final class ChangeJSONTests: CLITestCase {
    func object(_ r: ProcessResult) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out + r.err)
    }

    func testChangesSayWhatTheyDidAsJSON() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        try addPerson("bob", role: "officer")
        let grant = try object(try cvAs("alice", ["grant", "m1", "bob", "--json"]))
        XCTAssertEqual(grant["command"] as? String, "grant")
        XCTAssertEqual((grant["entry"] as? [String: Any])?["access"] as? [String], ["alice", "bob"])
        let seq = try XCTUnwrap(grant["seq"] as? Int)
        let head = try cv(["audit", "verify", "--json"])
        XCTAssertTrue(head.out.contains("\"seq\" : \(seq)") || head.out.contains("\(seq):"), head.out)
        let rotate = try object(try cvAs("alice", ["rotate", "m1", "--json"]))
        XCTAssertEqual((rotate["entry"] as? [String: Any])?["alias"] as? String, "m1")
        XCTAssertEqual((rotate["predecessor"] as? [String: Any])?["status"] as? String, "superseded")
        XCTAssertGreaterThan(try XCTUnwrap(rotate["seq"] as? Int), seq)
        let added = try object(try cvAs("alice", ["person", "add", "carol", "--role", "staff", "--json"]))
        XCTAssertEqual((added["person"] as? [String: Any])?["handle"] as? String, "carol")
        let backup = try object(try cvAs("alice", ["backup", file("b.db"), "--json"]))
        XCTAssertEqual(backup["file"] as? String, file("b.db"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("b.db")))
        let role = try object(try cvAs("alice", ["person", "set-role", "bob", "auditor", "--json"]))
        XCTAssertEqual((role["person"] as? [String: Any])?["role"] as? String, "auditor")
        // A failure, as JSON on stdout too, with its code and exit status.
        let failed = try cvAs("alice", ["grant", "nothing-here", "bob", "--json"])
        XCTAssertEqual(failed.status, 1)
        let error = try XCTUnwrap(try object(failed)["error"] as? [String: Any])
        XCTAssertEqual(error["code"] as? String, "entry-not-found")
        XCTAssertEqual(error["exitStatus"] as? Int, 1)
        XCTAssertTrue(failed.err.contains("error: "), failed.err)
    }
}

extension ChangeJSONTests {
    func testExportRestorePasswdNewAndRequestSayWhatTheyDidAsJSON() throws {
        try initVault()
        let made = try object(
            try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1", "--json"])
        )
        XCTAssertEqual(made["command"] as? String, "new management")
        XCTAssertEqual((made["entry"] as? [String: Any])?["alias"] as? String, "m1")
        let policy = try object(try cvAs("alice", ["policy", "set", "expiry-windows", "60,30,7", "--json"]))
        XCTAssertEqual(policy["policy"] as? [String: String], ["key": "expiry-windows", "value": "60,30,7"])
        let request = try object(
            try cvAs(
                "alice",
                [
                    "csr", "--subject", "CN=www.example.test", "--dns", "www.example.test", "--out", file("w.csr"),
                    "--json",
                ]
            )
        )
        XCTAssertEqual((request["entry"] as? [String: Any])?["status"] as? String, "pending")
        XCTAssertEqual(request["file"] as? String, file("w.csr"))
        // The export: the file's SHA-256 as sha256sum computes it; the generated password only on stderr.
        let exported = try cvAs(
            "alice",
            ["export", "m1", "--format", "pfx", "--generate-password", "--out", file("m1.pfx"), "--json"]
        )
        let export = try XCTUnwrap(try object(exported)["export"] as? [String: Any])
        let sum = try Support.run("sha256sum", [file("m1.pfx")]).out.prefix(64)
        XCTAssertEqual(export["fileSHA256"] as? String, String(sum))
        XCTAssertEqual(export["recipient"] as? String, "alice")
        XCTAssertEqual(export["format"] as? String, "pfx")
        XCTAssertTrue(exported.err.contains("password for"), exported.err)
        XCTAssertFalse(exported.out.contains("password"), exported.out)
        let cer = try object(try cv(["export", "m1", "--format", "cer", "--out", file("m1.cer"), "--json"]))
        XCTAssertEqual((cer["export"] as? [String: Any])?["format"] as? String, "cer")
        let both = try cv(["export", "m1", "--format", "cer", "--out", "-", "--json"])
        XCTAssertEqual(both.status, 2, both.err)
        XCTAssertTrue(both.err.contains("--json prints to stdout"), both.err)
        // passwd: the person as they stand, and the record.
        try Support.write("alice's new passphrase\n", to: dir.appendingPathComponent("new.pass"))
        let passwd = try object(
            try cvAs(
                "alice",
                ["person", "passwd", "--new-passphrase-file", file("new.pass"), "--kdf", "interactive", "--json"]
            )
        )
        XCTAssertEqual((passwd["person"] as? [String: Any])?["handle"] as? String, "alice")
        let afterPasswd = try XCTUnwrap(passwd["seq"] as? Int)
        try Support.write("alice's new passphrase\n", to: dir.appendingPathComponent("alice.pass"))
        // restore: what it undid, as records.
        XCTAssertEqual(try cvAs("alice", ["backup", file("b.db")]).status, 0)
        try addPerson("bob", role: "officer")
        let restore = try object(try cvAs("alice", ["restore", file("b.db"), "--json"]))
        XCTAssertEqual(restore["command"] as? String, "restore")
        let outcome = try XCTUnwrap(restore["restore"] as? [String: Any])
        XCTAssertEqual(outcome["keptAs"] as? String, vaultPath + ".before-restore")
        let undone = try XCTUnwrap(outcome["undone"] as? [[String: Any]])
        XCTAssertEqual(undone.map { $0["action"] as? String }, ["person.add"])
        XCTAssertEqual(undone.first?["subject"] as? String, "bob")
        XCTAssertNotNil(outcome["accepted"] as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(restore["seq"] as? Int), afterPasswd)
    }

    /// Every command that changes something offers `--json`.
    func testEveryCommandThatChangesSomethingOffersJSON() throws {
        for command in [
            ["import"], ["export"], ["grant"], ["ungrant"], ["rotate"], ["revoke"], ["retire"], ["rename"],
            ["backup"], ["restore"], ["csr"], ["new", "management"], ["new", "app-credential"],
            ["person", "add"], ["person", "set-role"], ["person", "passwd"], ["person", "depart"],
            ["init"], ["policy", "set"], ["audit", "accept-rollback"],
        ] {
            let help = try cv(command + ["--help"])
            XCTAssertTrue(help.out.contains("--json"), "certvault \(command.joined(separator: " ")) has no --json")
        }
    }
}

/// Guides that ship in the binary, the manual page, and `check --rule`.
final class HelpTopicTests: CLITestCase {
    func testRoleGuidesShipInTheBinaryAndEqualTheirDocs() throws {
        for role in ["officer", "auditor", "admin"] {
            let guide = try cv(["help", role])
            XCTAssertEqual(guide.status, 0, guide.err)
            let doc = try String(
                contentsOf: Support.root.appendingPathComponent("docs/guides/\(role).md"),
                encoding: .utf8
            )
            XCTAssertEqual(guide.out, doc, "docs/guides/\(role).md differs from 'certvault help \(role)'")
        }
        let topics = try cv(["help", "topics"])
        for topic in ["officer", "auditor", "admin", "targets", "rules", "exit-codes", "man"] {
            XCTAssertTrue(topics.out.contains("  \(topic) "), topics.out)
            XCTAssertEqual(try cv(["help", topic]).status, 0, topic)
        }
        let targets = try cv(["help", "targets"]).out
        for target in ["app-service", "key-vault-pem", "windows-2016", "java8", "openssl3"] {
            XCTAssertTrue(targets.contains("  \(target) "), targets)
        }
        XCTAssertTrue(targets.contains("writes: .pfx, legacy profile"), targets)
        let near = try cv(["help", "oficer"])
        XCTAssertEqual(near.status, 2, near.err)
        XCTAssertTrue(near.err.contains("did you mean 'certvault help officer'?"), near.err)
    }

    func testTheManualPageIsValidRoffWithEveryCommandAndExitCode() throws {
        let page = try cv(["--man"])
        XCTAssertEqual(page.status, 0, page.err)
        XCTAssertEqual(try cv(["help", "man"]).out, page.out)
        for section in [
            ".SS certvault export", ".SS certvault person depart", ".SS certvault audit verify", ".SH \"EXIT STATUS\"",
        ] {
            XCTAssertTrue(
                page.out.contains(section.replacingOccurrences(of: "-", with: "\\-")) || page.out.contains(section),
                section
            )
        }
        // groff reads it without a warning, and shows the exit codes and the options.
        try page.out.write(to: dir.appendingPathComponent("certvault.1"), atomically: true, encoding: .utf8)
        let lint = try Support.run("groff", ["-man", "-Tutf8", "-ww", "-z", file("certvault.1")])
        XCTAssertEqual(lint.status, 0, lint.err)
        XCTAssertEqual(lint.err, "", "groff warns")
        let shown = try Support.run("groff", ["-man", "-Tascii", "-P-cbou", file("certvault.1")])
        XCTAssertTrue(shown.out.contains("integrity: the vault does not match its signed records"), shown.out)
        XCTAssertTrue(shown.out.contains("--generate-password"), shown.out)
        XCTAssertTrue(shown.out.contains("CERTVAULT_PASSPHRASE"), shown.out)
    }

    func testCheckRuleFiltersAndAMistypedRuleIsAUsageError() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
        let all = try cv(["check", "--fail-on", "info"])
        XCTAssertTrue(all.out.contains("management-api-retired"), all.out)
        let one = try cv(["check", "--rule", "expired", "--fail-on", "info"])
        XCTAssertEqual(one.status, 0, one.out)
        XCTAssertFalse(one.out.contains("management-api-retired"), one.out)
        let kept = try cv(["check", "--rule", "management-api-retired", "--fail-on", "info"])
        XCTAssertEqual(kept.status, 3, kept.out)
        let typo = try cv(["check", "--rule", "expird"])
        XCTAssertEqual(typo.status, 2, typo.err)
        XCTAssertTrue(typo.err.contains("no rule 'expird'; did you mean 'expired'?"), typo.err)
        // The rule table of the command reference names every rule.
        let reference = try String(contentsOf: Support.root.appendingPathComponent("docs/commands.md"), encoding: .utf8)
        for rule in try cv(["help", "rules"]).out.split(separator: "\n").dropFirst(2) {
            let name = String(rule.split(separator: " ").first ?? "")
            XCTAssertTrue(reference.contains("`\(name)`"), "docs/commands.md does not name the rule \(name)")
        }
    }
}

/// A typo of an alias or a handle gets the nearest one, as a command's does.
final class DidYouMeanTests: CLITestCase {
    func testTyposOfAliasesAndHandlesAreNamed() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m", "--alias", "payments"]).status, 0)
        try addPerson("bob", role: "officer")
        let alias = try cv(["show", "paymnets"])
        XCTAssertEqual(alias.status, 1)
        XCTAssertTrue(alias.err.contains("hint: did you mean 'payments'?"), alias.err)
        let handle = try cvAs("alice", ["grant", "payments", "bbo"])
        XCTAssertEqual(handle.status, 1)
        XCTAssertTrue(handle.err.contains("hint: did you mean 'bob'?"), handle.err)
        // Nothing close: the usual hint.
        let far = try cv(["show", "zzzzzzzz"])
        XCTAssertFalse(far.err.contains("did you mean"), far.err)
    }
}
