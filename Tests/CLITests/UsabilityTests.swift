import Foundation
import TestSupport
import XCTest

/// The first hour at a terminal: no dead ends. Each test is one point a
/// new user ran into.
final class UsabilityTests: CLITestCase {
    func testVersionAndDidYouMeanForCommandsAndOptions() throws {
        let version = try cv(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.out.hasPrefix("certvault "), version.out)
        let cases: [([String], String, String)] = [
            (["lst"], "error: unknown command 'lst'", "hint: did you mean 'certvault list'?"),
            (["rotat", "x", "--passphrase-file", "f"], "unknown command 'rotat'", "did you mean 'certvault rotate'?"),
            (["person", "ad", "bob"], "unknown person command 'ad'", "did you mean 'certvault person add'?"),
            (
                ["export", "x", "--formt", "pfx"], "unknown option '--formt' for 'certvault export'",
                "did you mean '--format'?"
            ),
            (["list", "--expirng=3"], "unknown option '--expirng'", "did you mean '--expiring'?"),
            (["frobnicate"], "unknown command 'frobnicate'", "the commands are: init, import, list"),
        ]
        for (args, message, hint) in cases {
            let r = try cv(args)
            XCTAssertEqual(r.status, 2, "\(args)")
            let lines = r.err.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.count, 2, "\(args): \(r.err)")
            XCTAssertTrue(lines.first?.contains(message) == true, "\(args): \(r.err)")
            XCTAssertTrue(lines.last?.contains(hint) == true, "\(args): \(r.err)")
        }
        // A correct command line is left to the parser: no false alarm on values or after --.
        try initVault()
        XCTAssertEqual(try cv(["list", "--sort", "alias"]).status, 0)
        XCTAssertEqual(try cv(["audit", "log", "--limit", "1"]).status, 0)
    }

    /// A value no command can read is a usage mistake (exit 2) said with what
    /// is expected, before any passphrase is asked for; a negative number
    /// is judged as a number, not taken for an option.
    func testValuesThatCannotBeReadAreUsageMistakes() throws {
        try initVault()
        let cases: [([String], String)] = [
            (["check", "--days", "abc"], "cannot read the expiry window 'abc'"),
            (["check", "--days", "150%"], "cannot read the expiry window '150%'"),
            (["check", "--management-limit", "-1"], "management-limit must be a whole number from 1, not '-1'"),
            (["check", "--max-age", "0"], "management-max-age must be a whole number of days from 1"),
            (["audit", "log", "--since", "yesterday"], "cannot read the time 'yesterday'"),
            (["audit", "verify", "--expect", "garbage"], "--expect takes SEQ:HASH"),
            (["list", "--expiring", "-5"], "--expiring takes days from 0, not -5"),
            (["policy", "set", "management-limit", "-1"], "management-limit must be a whole number from 1, not '-1'"),
            (["policy", "set", "expiry-windows", "bogus"], "cannot read the expiry window 'bogus'"),
            (["policy", "set", "expiry-windows"], "give the value"),
            (
                ["export", "x", "--format", "pfx", "--generate-password", "--password-file", "pw", "--out", "o.pfx"],
                "--generate-password makes the password",
            ),
            // What a new certificate or request may not be: before the passphrase, not after the KDF.
            (["new", "management", "--subject", "CN=x", "--days", "0"], "a validity of 0 days is outside 1 to 3650"),
            (["new", "management", "--subject", "CN=x", "--days", "-3"], "a validity of -3 days is outside 1 to 3650"),
            (["new", "management", "--subject", "CN=x", "--key", "rsa:1024"], "an RSA key of 1024 bits is refused"),
            (["new", "management", "--subject", "CN=x", "--key", "ec:p256"], "need an RSA key, not ec:p256"),
            (["new", "management", "--subject", "CN=x", "--key", "dsa"], "dsa"),
            (["new", "app-credential", "--subject", "CN="], "'CN' has no value in subject 'CN='"),
            (["new", "management", "--subject", "XX=foo"], "unknown field 'XX' in subject 'XX=foo'"),
            (["new", "management", "--subject", "CN=x", "--alias", "123"], "'123' is not a valid alias"),
            (["csr", "--subject", "CN=x", "--dns", "a..b", "--out", "r.csr"], "a..b"),
            (["csr", "--subject", "CN=x", "--dns", "x.example", "--key", "rsa:1024", "--out", "r.csr"], "rsa:1024"),
        ]
        let before = try cv(["audit", "log"]).out
        for (args, message) in cases {
            // No passphrase is given: a command that asked for one would fail otherwise.
            let r = try cv(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.hasPrefix("error: ") && r.err.contains(message), "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("\nhint: "), "\(args): \(r.err)")
        }
        XCTAssertEqual(try cv(["audit", "log"]).out, before)
        XCTAssertEqual(try cv(["list", "--expiring", "0"]).status, 0)
        XCTAssertEqual(try cv(["check", "--days", "60,30,7", "--management-limit", "100"]).status, 0)
    }

    func testInitChecksFirstReasksOnMismatchAndRefusesWeakPassphrases() throws {
        // Two different entries: asked again, not ended.
        let r = try conversation(
            ["init", "--admin", "alice", "--kdf", "interactive"],
            [
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "correct horse batterx"),
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "correct horse battery"),
            ]
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(r.out.contains("the confirmation did not match; again (1 of 3)"), r.out)
        XCTAssertTrue(r.out.contains("created vault"), r.out)
        // An existing vault is named before any passphrase is asked.
        let again = try conversation(["init", "--admin", "alice"], [])
        XCTAssertEqual(again.status, 1, again.out)
        XCTAssertFalse(again.out.contains("New passphrase"), again.out)
        XCTAssertTrue(again.out.contains("error: a vault already exists at"), again.out)
        // A weak passphrase at the terminal: said why, asked again.
        try FileManager.default.removeItem(atPath: vaultPath)
        let weak = try conversation(
            ["init", "--admin", "alice", "--kdf", "interactive"],
            [
                ("New passphrase for alice: ", "abc"), ("New passphrase for alice: ", "abcd"),
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "correct horse batterx"),
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "correct horse batteryy"),
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "correct horse battery"),
            ]
        )
        // Two weak tries and two mismatches, counted apart: the third confirmation still counts.
        XCTAssertEqual(weak.status, 0, weak.out)
        XCTAssertTrue(weak.out.contains("again (2 of 3)"), weak.out)
        XCTAssertTrue(weak.out.contains("the confirmation did not match; again (2 of 3)"), weak.out)
        try FileManager.default.removeItem(atPath: vaultPath)
        let differed = try conversation(
            ["init", "--admin", "alice", "--kdf", "interactive"],
            [
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "x"),
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "y"),
                ("New passphrase for alice: ", "correct horse battery"), ("Again: ", "z"),
            ]
        )
        XCTAssertEqual(differed.status, 1, differed.out)
        XCTAssertTrue(differed.out.contains("the confirmation did not match three times"), differed.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: vaultPath))
        XCTAssertTrue(
            weak.out.contains("warning: too weak: 3 characters of lower-case letters is about 14 bits"),
            weak.out
        )
        // From a file: refused with the way out named; the flag lets a test vault have it.
        try? FileManager.default.removeItem(atPath: vaultPath)
        try Support.write("abc\n", to: dir.appendingPathComponent("weak.pass"))
        let refused = try cv([
            "init", "--admin", "alice", "--kdf", "interactive", "--passphrase-file", file("weak.pass"),
        ])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("error: a passphrase for alice is too weak: 3 characters"), refused.err)
        XCTAssertTrue(refused.err.contains("--weak-passphrase-ok"), refused.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: vaultPath))
        try Support.write("password1\n", to: dir.appendingPathComponent("common.pass"))
        let common = try cv(["init", "--admin", "alice", "--passphrase-file", file("common.pass")])
        XCTAssertTrue(common.err.contains("one of the most common passwords"), common.err)
        let allowed = try cv([
            "init", "--admin", "alice", "--kdf", "interactive", "--passphrase-file", file("weak.pass"),
            "--weak-passphrase-ok",
        ])
        XCTAssertEqual(allowed.status, 0, allowed.err)
    }

    func testAPassphraseFileOthersCanReadIsUsedWithAWarning() throws {
        try initVault()
        let open = try Support.write("alice passphrase\n", to: dir.appendingPathComponent("open.pass"))
        chmod(open, 0o644)
        let r = try cv(["new", "management", "--subject", "CN=a", "--alias", "a", "--passphrase-file", open])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("warning: \(open) is open to others (mode 644)"), r.err)
        XCTAssertTrue(r.err.contains("hint: chmod 600 \(open)"), r.err)
        // A private one: no warning.
        let quiet = try cv([
            "new", "management", "--subject", "CN=b", "--alias", "b", "--passphrase-file", file("alice.pass"),
        ])
        XCTAssertFalse(quiet.err.contains("open to others"), quiet.err)
    }

    func testSeveralUnlockersTheLoginNameActsAndPersonAddSaysSo() throws {
        try initVault()
        try Support.write("dave passphrase\n", to: dir.appendingPathComponent("dave.pass"))
        let add = try cvAsAlice([
            "person", "add", "dave", "--role", "officer", "--new-passphrase-file", file("dave.pass"),
        ])
        XCTAssertEqual(add.status, 0, add.err)
        XCTAssertTrue(add.err.contains("2 people can now unlock this vault"), add.err)
        XCTAssertTrue(add.err.contains("--as HANDLE, CERTVAULT_USER, or a login name"), add.err)
        // Without --as: the login name, when it is a handle, says who acts.
        let asAlice = try cvAsAlice(
            ["new", "management", "--subject", "CN=m1", "--alias", "m1"],
            env: ["USER": "alice", "LOGNAME": "alice"]
        )
        XCTAssertEqual(asAlice.status, 0, asAlice.err)
        XCTAssertTrue(try cv(["audit", "log"]).out.contains("alice"))
        let asDave = try cv(
            ["new", "management", "--subject", "CN=m2", "--alias", "m2", "--passphrase-file", file("dave.pass")],
            env: ["USER": "dave", "LOGNAME": "dave"]
        )
        XCTAssertEqual(asDave.status, 0, asDave.err)
        // A login name that is nobody's handle: the hint says what to do.
        let nobody = try cvAsAlice(
            ["new", "management", "--subject", "CN=m3"],
            env: ["USER": "root", "LOGNAME": "root"]
        )
        XCTAssertEqual(nobody.status, 1)
        XCTAssertTrue(nobody.err.contains("several people can unlock this vault"), nobody.err)
        XCTAssertTrue(nobody.err.contains("hint: say who you are with --as HANDLE"), nobody.err)
    }

    func testAWeakExportPasswordIsRefusedUnlessMeant() throws {
        try initVault()
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=m", "--alias", "m"]).status, 0)
        try Support.write("short\n", to: dir.appendingPathComponent("short.pw"))
        let r = try cvAsAlice([
            "export", "m", "--format", "pfx", "--out", file("m.pfx"), "--password-file", file("short.pw"),
        ])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("error: a password for \(file("m.pfx")) is too weak"), r.err)
        XCTAssertTrue(r.err.contains("--weak-password-ok"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("m.pfx")))
        let meant = try cvAsAlice([
            "export", "m", "--format", "pfx", "--out", file("m.pfx"), "--password-file", file("short.pw"),
            "--weak-password-ok",
        ])
        XCTAssertEqual(meant.status, 0, meant.err)
    }

    /// Finding 6 of the third attack round: the vault passphrase is asked
    /// first, the file's password second (naming the file and who it is
    /// for), and the passphrase typed at the second prompt is refused.
    func testTheVaultPassphraseIsAskedFirstAndNeverBecomesAFilesPassword() throws {
        try initVault()
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=m", "--alias", "m"]).status, 0)
        try addPerson("carol", role: "staff")
        let out = file("m.pfx")
        let filePrompt = "Password for the file \(out), for carol (not your vault passphrase): "
        let args = ["export", "m", "--format", "pfx", "--for", "carol", "--out", out]
        let r = try conversation(
            args,
            [
                ("Passphrase for alice: ", "alice passphrase"),
                (filePrompt, "alice passphrase"),
                (filePrompt, "alice passphrase"),
                (filePrompt, "alice passphrase"),
            ]
        )
        XCTAssertNotEqual(r.status, 0, r.out)
        XCTAssertLessThan(
            try XCTUnwrap(r.out.range(of: "Passphrase for alice")).lowerBound,
            try XCTUnwrap(r.out.range(of: "Password for the file")).lowerBound,
            r.out
        )
        XCTAssertTrue(r.out.contains("that is your vault passphrase"), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // Typed right the second time: the file opens with its own password, not the passphrase.
        let good = try conversation(
            args,
            [
                ("Passphrase for alice: ", "alice passphrase"),
                (filePrompt, "alice passphrase"),
                (filePrompt, "tangerine voyage clockwork 71"),
                ("Again: ", "tangerine voyage clockwork 71"),
            ]
        )
        XCTAssertEqual(good.status, 0, good.out)
        let opened = try Support.run(
            "openssl",
            ["pkcs12", "-in", out, "-nokeys", "-passin", "pass:tangerine voyage clockwork 71"]
        )
        XCTAssertEqual(opened.status, 0, opened.err)
        // From a file too: refused before anything is written.
        let again = try cvAsAlice(args + ["--force", "--password-file", file("alice.pass")])
        XCTAssertEqual(again.status, 1, again.err)
        XCTAssertTrue(again.err.contains("that is your vault passphrase"), again.err)
        XCTAssertEqual(
            try cvAsAlice(["audit", "log", "--json"]).out.components(separatedBy: "entry.export\"").count - 1,
            1
        )
    }

    var corpusPFX: String { Support.corpus.appendingPathComponent("ossl-default.p12").path }

    func testFlowsThatUsedToEndInADeadEnd() throws {
        try initVault()
        try Support.write("test\n", to: dir.appendingPathComponent("test.pw"))
        try Support.write("Export-Pa55word\n", to: dir.appendingPathComponent("out.pw"))
        // The options of an import describe the leaf; the CA certificates with it are stored as CAs.
        let imported = try cvAsAlice([
            "import", corpusPFX, "--password-file", file("test.pw"), "--purpose", "ssl", "--domain", "contoso.com",
            "--subscription", "sub-1",
        ])
        XCTAssertEqual(imported.status, 0, imported.err)
        let entries =
            try JSONSerialization.jsonObject(with: try cv(["list", "--json"]).stdout) as? [[String: Any]] ?? []
        XCTAssertEqual(entries.count, 3)
        for entry in entries {
            let isLeaf = entry["alias"] as? String == "www.contoso.com"
            XCTAssertEqual(entry["purpose"] as? String, isLeaf ? "ssl" : "other", "\(entry["alias"] ?? "")")
            XCTAssertEqual(entry["subscription"] as? String, isLeaf ? "sub-1" : nil, "\(entry["alias"] ?? "")")
            XCTAssertEqual((entry["domains"] as? [String]) ?? [], isLeaf ? ["contoso.com"] : [])
        }
        // REF may be a DNS name one entry covers.
        let byName = try cvAsAlice([
            "export", "contoso.com", "--format", "pfx", "--out", file("c.pfx"), "--password-file", file("out.pw"),
        ])
        XCTAssertEqual(byName.status, 0, byName.err)
        XCTAssertTrue(byName.out.contains("exported www.contoso.com"), byName.out)
        let unknownName = try cv(["show", "nothing.example.org"])
        XCTAssertEqual(unknownName.status, 1)
        XCTAssertTrue(unknownName.err.contains("a DNS name its certificate covers"), unknownName.err)
        // --for someone unknown: the hint gives the command that fixes it, before any password is asked.
        let forBob = try cvAsAlice([
            "export", "www.contoso.com", "--format", "pfx", "--out", file("b.pfx"), "--for", "bob",
        ])
        XCTAssertEqual(forBob.status, 1)
        XCTAssertTrue(
            forBob.err.contains(
                "hint: to hand a copy to someone without vault access, add them first: certvault person add bob --role staff"
            ),
            forBob.err
        )
        // --out -: public formats to stdout; a key only when stdout is not a terminal.
        let pem = try cv(["export", "www.contoso.com", "--format", "pem", "--out", "-"])
        XCTAssertEqual(pem.status, 0, pem.err)
        XCTAssertTrue(pem.out.hasPrefix("-----BEGIN CERTIFICATE-----"), pem.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
        let piped = try cvAsAlice([
            "export", "www.contoso.com", "--format", "pfx", "--out", "-", "--password-file", file("out.pw"),
        ])
        XCTAssertEqual(piped.status, 0, piped.err)
        try Data(piped.stdout).write(to: dir.appendingPathComponent("piped.pfx"))
        try Support.sh("openssl pkcs12 -in '\(file("piped.pfx"))' -noout -passin 'file:\(file("out.pw"))'")
        let tty = try conversation(
            ["export", "www.contoso.com", "--format", "key", "--out", "-", "--unencrypted"],
            [],
            env: ["CERTVAULT_PASSPHRASE": "alice passphrase"]
        )
        XCTAssertEqual(tty.status, 1, tty.out)
        XCTAssertTrue(tty.out.contains("would print a private key on the terminal"), tty.out)
        XCTAssertFalse(tty.out.contains("BEGIN PRIVATE KEY"), tty.out)
        // A backup into a folder that does not exist: said, with the fix, before the passphrase.
        let backup = try cv(["backup", file("backups/x.db")])
        XCTAssertEqual(backup.status, 1)
        XCTAssertTrue(backup.err.contains("no directory \(file("backups"))"), backup.err)
        XCTAssertTrue(backup.err.contains("hint: create it first (mkdir -m 700 -p"), backup.err)
    }

    func testAnAliasWithACertificateAndItsKeyInTwoFiles() throws {
        try initVault()
        try Support.sh(
            "cd '\(dir.path)' && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -subj /CN=two.example -days 30 2>/dev/null"
        )
        let r = try cvAsAlice(["import", file("c.pem"), file("k.pem"), "--alias", "two"])
        XCTAssertEqual(r.status, 0, r.err)
        let show = try cv(["show", "two"])
        XCTAssertTrue(show.out.contains("held (encrypted)"), show.out)
        // Two leaves under one alias are refused, and nothing is stored.
        try Support.sh(
            "cd '\(dir.path)' && openssl req -x509 -newkey rsa:2048 -nodes -keyout k2.pem -out c2.pem -subj /CN=other.example -days 30 2>/dev/null && openssl req -x509 -newkey rsa:2048 -nodes -keyout k3.pem -out c3.pem -subj /CN=third.example -days 30 2>/dev/null"
        )
        let two = try cvAsAlice(["import", file("c2.pem"), file("c3.pem"), "--alias", "pair"])
        XCTAssertEqual(two.status, 1)
        XCTAssertTrue(two.err.contains("an alias names one entry, but these files make 2"), two.err)
        XCTAssertFalse(try cv(["list"]).out.contains("pair"))
        let three = try cvAsAlice(["import", file("c.pem"), file("c2.pem"), file("c3.pem"), "--alias", "x"])
        XCTAssertTrue(three.err.contains("not 3 files"), three.err)
    }

    func testCompletionOfAliasesAndHandlesAndTheManualsInput() throws {
        try initVault()
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=m", "--alias", "mgmt-1"]).status, 0)
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=n", "--alias", "mgmt-2"]).status, 0)
        // What the generated bash script calls for an entry argument and for --for.
        let script = try cv(["--generate-completion-script", "bash"]).out
        XCTAssertTrue(script.contains("---completion export -- positional@0"), script)
        let refs = try cv(["---completion", "export", "--", "positional@0", "2", "4", "certvault", "export", "mgmt"])
        XCTAssertEqual(refs.out.split(separator: "\n").map(String.init), ["mgmt-1", "mgmt-2"])
        let handles = try cv([
            "---completion", "export", "--", "--for", "4", "0", "certvault", "export", "x", "--for", "",
        ])
        XCTAssertEqual(handles.out.split(separator: "\n").map(String.init), ["alice"])
        // No vault: nothing to offer, and no error.
        let none = try cv(
            ["---completion", "show", "--", "positional@0", "2", "0", "certvault", "show", ""],
            env: ["CERTVAULT_VAULT": file("missing.db")]
        )
        XCTAssertEqual(none.out.trimmingCharacters(in: .whitespacesAndNewlines), "")
        XCTAssertEqual(none.status, 0)
        // The manual's generator reads the command definitions: every command is there.
        let dump = try cv(["--experimental-dump-help"])
        XCTAssertEqual(dump.status, 0)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: dump.stdout) as? [String: Any])
        let command = try XCTUnwrap(info["command"] as? [String: Any])
        let names = (command["subcommands"] as? [[String: Any]] ?? []).compactMap { $0["commandName"] as? String }
        for name in ["init", "import", "export", "inspect", "check", "report", "person", "audit"] {
            XCTAssertTrue(names.contains(name), name)
        }
        // The repository stands alone: nothing points outside it.
        let docs = try FileManager.default.contentsOfDirectory(atPath: Support.root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        XCTAssertTrue(docs.contains("docs/commands.md"), "\(docs)")
        for doc in ["README.md"] + docs {
            let text = try String(contentsOf: Support.root.appendingPathComponent(doc), encoding: .utf8)
            XCTAssertFalse(text.contains("../shared"), doc)
            XCTAssertFalse(text.contains("DESIGN.md"), doc)
        }
    }

    /// Four .pfx files in a folder, a.pfx to c.pfx sharing one password and d.pfx another.
    func makeBatch() throws -> String {
        let batch = dir.appendingPathComponent("batch")
        try FileManager.default.createDirectory(at: batch, withIntermediateDirectories: true)
        for (name, password) in [
            ("a", "batch-pass-1"), ("b", "batch-pass-1"), ("c", "batch-pass-1"), ("d", "other-pass-2"),
        ] {
            try Support.sh(
                """
                cd '\(batch.path)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\
                  -keyout \(name).key -out \(name).crt -subj /CN=\(name).example -days 90 2>/dev/null && \\
                openssl pkcs12 -export -in \(name).crt -inkey \(name).key -out \(name).pfx -passout pass:\(password) && \\
                rm \(name).key \(name).crt
                """
            )
        }
        return batch.path
    }

    func testOnePasswordForABatchAndRetriesForAWrongOne() throws {
        try initVault()
        let batch = try makeBatch()
        // Asked once for the batch, once more for the file it does not open; a wrong try is asked again.
        let r = try conversation(
            ["import", batch],
            [
                ("Passphrase for alice: ", "alice passphrase"),
                ("Password for a.pfx (used for the other files too): ", "batch-pass-1"),
                ("Password for d.pfx (the last one does not open it): ", "typo"),
                ("Password for d.pfx", "other-pass-2"),
            ]
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(r.out.components(separatedBy: "Password for").count - 1, 3, r.out)
        XCTAssertTrue(r.out.contains("warning: wrong password for \(batch)/d.pfx (1 of 3)"), r.out)
        XCTAssertTrue(r.out.contains("imported 4"), r.out)
        // Three wrong passwords for one file: nothing imported, and the hint names the file.
        try FileManager.default.removeItem(atPath: vaultPath)
        try initVault()
        let wrong = try conversation(
            ["import", batch],
            [
                ("Passphrase for alice: ", "alice passphrase"),
                ("(used for the other files too): ", "batch-pass-1"),
                ("Password for d.pfx", "x1"), ("Password for d.pfx", "x2"), ("Password for d.pfx", "x3"),
            ]
        )
        XCTAssertEqual(wrong.status, 1, wrong.out)
        XCTAssertTrue(
            wrong.out.contains(
                "hint: nothing was imported: \(batch)/d.pfx did not open with the password typed three times"
            ),
            wrong.out
        )
        XCTAssertFalse(try cv(["list"]).out.contains("a.example"))
    }

    func testJSONOnAFailedImportIsTheSameObjectWithTheFailures() throws {
        try initVault()
        let batch = try makeBatch()
        try Support.write("batch-pass-1\n", to: dir.appendingPathComponent("batch.pw"))
        let r = try cvAsAlice(["import", batch, "--password-file", file("batch.pw"), "--json"])
        XCTAssertEqual(r.status, 1)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out)
        XCTAssertEqual(object["stored"] as? Bool, false)
        let errors = try XCTUnwrap(object["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.first?["code"] as? String, "wrong-password")
        XCTAssertTrue((errors.first?["message"] as? String)?.contains("d.pfx") == true)
        XCTAssertTrue(r.err.contains("error: \(batch)/d.pfx: "), r.err)
    }

    /// The exit codes `--help` prints are the README's table, row for row,
    /// and each is what the command line really exits with.
    func testExitCodesAreOneTableInHelpAndReadme() throws {
        let help = try cv(["--help"]).out
        var fromHelp: [String: String] = [:]
        var current: String?
        var inTable = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingCharacters(in: .whitespaces) == "Exit codes:" {
                inTable = true
                continue
            }
            guard inTable else { continue }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { break }
            if let first = text.first, first.isNumber, text.dropFirst().hasPrefix("  ") {
                current = String(first)
                fromHelp[String(first)] = String(text.dropFirst(3))
            } else if let code = current {
                // ArgumentParser wraps long lines: a continuation joins its row.
                fromHelp[code, default: ""] += " " + text
            }
        }
        let readme = try String(contentsOf: Support.root.appendingPathComponent("README.md"), encoding: .utf8)
        var fromReadme: [String: String] = [:]
        for line in readme.split(separator: "\n").map(String.init) where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, cells[0].count == 3, cells[0].dropFirst().first?.isNumber == true else { continue }
            fromReadme[String(cells[0].dropFirst().prefix(1))] = cells[1]
        }
        XCTAssertEqual(fromHelp.keys.sorted(), ["0", "1", "2", "3", "4", "5"], help)
        XCTAssertEqual(fromHelp, fromReadme)
        // And the codes are the ones the command line exits with.
        XCTAssertEqual(try cv(["list", "--no-such-option"]).status, 2)
        XCTAssertEqual(try cv(["show", "nothing-here"]).status, 1)
    }

    /// The examples in `certvault --help` and `csr --help`, run as printed.
    func examples(in help: String) -> [[String]] {
        var commands: [[String]] = []
        var current = ""
        var inExample = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("Example") {
                inExample = true
                continue
            }
            guard inExample else { continue }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { break }
            current += (current.isEmpty ? "" : " ") + text.replacingOccurrences(of: " \\", with: "")
            if !text.hasSuffix("\\") {
                commands.append(
                    current.split(separator: " ").map { String($0).replacingOccurrences(of: "\"", with: "") }
                )
                current = ""
            }
        }
        return commands
    }

    func testHelpShowsWhatEachCommandTakesAndItsExamplesWorkAsPrinted() throws {
        let top = try cv(["--help"]).out
        // No example wraps mid-command, no literal backslash in prose.
        for line in top.split(separator: "\n") where line.hasPrefix("--") {
            XCTFail("a wrapped example line: \(line)")
        }
        for args in [["csr", "--help"], ["new", "management", "--help"], ["new", "app-credential", "--help"]] {
            let help = try cv(args).out
            XCTAssertFalse(help.contains("and \\\n"), "\(args): \(help)")
            XCTAssertFalse(help.contains("SHA-256, \\\n"), "\(args): \(help)")
            XCTAssertEqual(examples(in: help).count, 1, "\(args): \(help)")
        }
        // Commands that ask for no passphrase do not offer one (and still accept it from scripts).
        for command in [
            ["list"], ["show"], ["check"], ["report"], ["audit", "log"], ["audit", "verify"], ["person", "list"],
        ] {
            let help = try cv(command + ["--help"]).out
            XCTAssertFalse(help.contains("--passphrase-file"), "\(command)")
        }
        XCTAssertTrue(try cv(["export", "--help"]).out.contains("--passphrase-file"))
        // The top-level examples, run in order as printed (secrets from the environment).
        try Support.makePFX(in: dir, name: "contoso", password: "pfx-pass-1")
        let env = [
            "CERTVAULT_PASSPHRASE": "tulip orbit canyon walrus", "CERTVAULT_FILE_PASSWORD": "pfx-pass-1",
        ]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTVAULT_") }
        environment["CERTVAULT_VAULT"] = vaultPath
        environment["XDG_STATE_HOME"] = file("state")
        let commands = examples(in: top)
        XCTAssertEqual(commands.count, 4, "\(commands)")
        for command in commands {
            XCTAssertEqual(command.first, "certvault")
            var e = environment
            for (k, v) in env { e[k] = v }
            // The export asks for no password (--generate-password); the import reads CERTVAULT_FILE_PASSWORD.
            let r = try Support.run(CLITestCase.binary, Array(command.dropFirst()), environment: e, cwd: dir)
            XCTAssertEqual(r.status, 0, "\(command): \(r.err)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("contoso-for-bob.pfx")))
    }

    func testASubjectReadsTheSameWayEverywhere() throws {
        try initVault()
        try Support.write("test\n", to: dir.appendingPathComponent("test.pw"))
        XCTAssertEqual(try cvAsAlice(["import", corpusPFX, "--password-file", file("test.pw")]).status, 0)
        let expected = try Support.sh(
            "openssl pkcs12 -in '\(corpusPFX)' -passin pass:test -nokeys -clcerts | openssl x509 -noout -subject -nameopt RFC2253"
        ).out.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "subject=", with: "")
        XCTAssertEqual(expected, "CN=www.contoso.com,O=Contoso,C=US")
        XCTAssertTrue(try cv(["show", "www.contoso.com"]).out.contains("subject             \(expected)"))
        XCTAssertTrue(try cv(["list"]).out.contains(expected))
        XCTAssertTrue(try cv(["inspect", corpusPFX, "--password-file", file("test.pw")]).out.contains(expected))
        let json = try JSONSerialization.jsonObject(with: try cv(["list", "--json"]).stdout) as? [[String: Any]] ?? []
        let leaf = json.first { $0["alias"] as? String == "www.contoso.com" }
        XCTAssertEqual((leaf?["certificate"] as? [String: Any])?["subject"] as? String, expected)
        // A request shows its subject in the same order as the certificate the CA will issue.
        let csr = try cvAsAlice([
            "csr", "--subject", "CN=shop.contoso.com,O=Contoso,C=US", "--dns", "shop.contoso.com", "--out",
            file("s.csr"),
        ])
        XCTAssertEqual(csr.status, 0, csr.err)
        XCTAssertTrue(try cv(["show", "shop.contoso.com"]).out.contains("CN=shop.contoso.com,O=Contoso,C=US"))
        let requested = try Support.sh("openssl req -in '\(file("s.csr"))' -noout -subject -nameopt RFC2253").out
        XCTAssertTrue(requested.contains("CN=shop.contoso.com,O=Contoso,C=US"), requested)
    }

    /// From the attack round: what an export may replace, which name a DNS
    /// reference reaches, and values that look like options.
    func testExportsReplaceOnlyRegularFilesAndNamesMatchExactly() throws {
        try initVault()
        try Support.write("test\n", to: dir.appendingPathComponent("test.pw"))
        XCTAssertEqual(try cvAsAlice(["import", corpusPFX, "--password-file", file("test.pw")]).status, 0)
        // --force never replaces a symbolic link, a device or a FIFO with a key.
        try FileManager.default.createSymbolicLink(atPath: file("link"), withDestinationPath: "/dev/null")
        mkfifo(file("fifo"), 0o600)
        for target in [file("link"), file("fifo"), "/dev/null"] {
            let r = try cvAsAlice([
                "export", "www.contoso.com", "--format", "key", "--unencrypted", "--out", target, "--force",
            ])
            XCTAssertEqual(r.status, 1, target)
            XCTAssertTrue(r.err.contains("writes only new files or replaces regular ones"), "\(target): \(r.err)")
        }
        var info = stat()
        XCTAssertEqual(lstat(file("link"), &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR)
        XCTAssertFalse(try cv(["audit", "log"]).out.contains("key for alice"))
        // A wildcard certificate is not reached by a name it merely covers.
        try Support.sh(
            "cd '\(dir.path)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout w.key -out w.crt -subj /CN=wild -addext subjectAltName=DNS:*.amb.test -days 30 2>/dev/null"
        )
        XCTAssertEqual(try cvAsAlice(["import", file("w.crt"), file("w.key"), "--alias", "wild"]).status, 0)
        let typo = try cvAsAlice(["revoke", "zzz.amb.test", "--reason", "keyCompromise"])
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.err.contains("no entry matches"), typo.err)
        XCTAssertTrue(try cv(["show", "wild"]).out.contains("active"))
        // An option's value that starts with "--" is a value, not an unknown option.
        let dashed = try cv(["export", "www.contoso.com", "--format", "pem", "--out=\(file("--odd.pem"))"])
        XCTAssertEqual(dashed.status, 0, dashed.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("--odd.pem")))
        let value = try cv(["export", "www.contoso.com", "--format", "pem", "--out", "--forc"])
        XCTAssertFalse(value.err.contains("did you mean '--for'"), value.err)
        // A key sent to stdout into a file others can read: said.
        let loose = try Support.sh(
            "umask 022; CERTVAULT_VAULT='\(vaultPath)' XDG_STATE_HOME='\(file("state"))' '\(CLITestCase.binary)' export www.contoso.com --format key --unencrypted --out - --passphrase-file '\(file("alice.pass"))' > '\(file("loose.key"))' 2> '\(file("loose.err"))'; cat '\(file("loose.err"))'"
        )
        XCTAssertTrue(loose.out.contains("warning: the file stdout goes to is open to others (mode 644)"), loose.out)
        // Completion never blocks on a FIFO named as the vault.
        let fifoVault = try cv(
            ["---completion", "show", "--", "positional@0", "2", "0", "certvault", "show", ""],
            env: ["CERTVAULT_VAULT": file("fifo")]
        )
        XCTAssertEqual(fifoVault.status, 0)
    }
}
