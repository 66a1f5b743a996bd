import Foundation
import TestSupport
import XCTest

/// Attacks on the vault file and on the terminal, performed as the attacker
/// would, judged by what a person running certvault sees.
final class TamperTests: CLITestCase {
    /// alice acts unless a test says otherwise: bob can unlock too.
    override var defaultActor: String? { "alice" }

    /// alice (admin) with two keyed entries, bob (officer), one export for
    /// bob: every table has rows.
    func makeVault() throws {
        try initVault()
        let second = try Support.makePFX(in: dir, name: "second", password: "password").pfx
        for path in [realWorld("ValidCertificatePathTest1EE_firefox.p12"), second] {
            let r = try cvAsAlice(["import", path, "--password-file", file("corpus.pw")])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("imported 1,"), r.out)
        }
        try Support.write("bob passphrase\n", to: dir.appendingPathComponent("bob.pass"))
        let add = try cvAsAlice([
            "person", "add", "bob", "--role", "officer", "--kdf", "interactive", "--new-passphrase-file",
            file("bob.pass"),
        ])
        XCTAssertEqual(add.status, 0, add.err)
        let exp = try cvAsAlice([
            "export", "1", "--format", "pfx", "--for", "bob", "--generate-password", "--out", file("bob.pfx"),
        ])
        XCTAssertEqual(exp.status, 0, exp.err)
    }

    /// Every column of every table set to NULL, a wrong type, an
    /// out-of-range number and invalid UTF-8 in turn; every read command
    /// run on each: never a signal or a trap, always an `error:` line when
    /// it fails, and `audit verify` notices every change (exit 5).
    func testEveryColumnAlteredNeverCrashesAndIsNoticed() throws {
        try makeVault()
        let script = Support.root.appendingPathComponent("Tests/CLITests/Scripts/corrupt_every_column.py").path
        let work = dir.appendingPathComponent("corrupt")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let r = try Support.run("python3", [script, CLITestCase.binary, vaultPath, work.path, "1"])
        XCTAssertEqual(r.status, 0, r.err)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.out + r.err)
        let problems = report["problems"] as? [String] ?? ["no report"]
        XCTAssertEqual(problems, [], problems.prefix(20).joined(separator: "\n"))
        // The sweep really ran: every table, most variants took effect.
        XCTAssertGreaterThan(report["effective"] as? Int ?? 0, 250, "\(report)")
        XCTAssertGreaterThan(report["runs"] as? Int ?? 0, 1500, "\(report)")
    }

    /// A file name, a friendly name and a subject carrying ESC, OSC, BEL and
    /// a right-to-left override: escaped wherever they are shown, exact in
    /// JSON.
    func testControlCharactersNeverReachTheTerminalRaw() throws {
        try initVault()
        let subject = "red\u{1b}[31m\u{202e}evil\u{07}"
        let name = "evil\u{1b}[2J.p12"
        try Support.write("pw\n", to: dir.appendingPathComponent("pw"))
        try Support.sh(
            """
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout k.pem -out c.pem -days 30 -utf8 \
              -subj "/CN=$(printf 'red\\033[31m\\342\\200\\256evil\\a')" -addext "subjectAltName=DNS:$(printf 'a\\033]0;x\\a.example')" 2>/dev/null
            openssl pkcs12 -export -in c.pem -inkey k.pem -name "$(printf 'friendly\\033]0;title\\a')" -passout pass:pw -out "$(printf 'evil\\033[2J.p12')"
            """,
            cwd: dir
        )
        var shown: [String] = []
        let imp = try cvAsAlice(["import", file(name), "--password-file", file("pw")])
        XCTAssertEqual(imp.status, 0, imp.err)
        shown += [imp.out, imp.err]
        for args in [
            ["list"], ["show", "1"], ["audit", "log"], ["export", "1", "--format", "cer", "--out", file("x.cer")],
        ] {
            let r = try cv(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.err)")
            shown += [r.out, r.err]
        }
        for text in shown {
            for bad in ["\u{1b}", "\u{07}", "\u{202e}"] {
                XCTAssertFalse(text.contains(bad), "raw \(bad.unicodeScalars.first!.value) in: \(text)")
            }
        }
        XCTAssertTrue(shown.joined().contains("\\u{202e}"), shown.joined())
        XCTAssertTrue(shown.joined().contains("\\x1b"), shown.joined())
        // JSON stays exact: the subject and SAN come back as the certificate says.
        let json = try cv(["list", "--json"])
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]])
        let cert = try XCTUnwrap(entries.first?["certificate"] as? [String: Any])
        XCTAssertTrue((cert["subject"] as? String)?.contains("\u{202e}evil") == true, "\(cert)")
        XCTAssertEqual(cert["subjectAlternativeNames"] as? [String], ["DNS:a\u{1b}]0;x\u{07}.example"])
        // The alias made from the friendly name holds no control character at all.
        XCTAssertEqual(entries.first?["alias"] as? String, "friendly-0-title")
        XCTAssertEqual(entries.first?["originalName"] as? String, "friendly\u{1b}]0;title\u{07}")
        _ = subject
    }

    func testHandlesAreLowerCaseASCIIOnly() throws {
        try initVault()
        for handle in ["\u{430}lice", "Alice", "1bob", "bob smith", "b\u{1b}ob", ""] {
            let r = try cvAsAlice(["person", "add", handle, "--role", "staff"])
            XCTAssertEqual(r.status, 1, "\(handle): \(r.err)")
            XCTAssertTrue(r.err.hasPrefix("error: "), r.err)
            XCTAssertFalse(r.err.contains("\u{1b}"), r.err)
        }
        XCTAssertEqual(
            try cvAsAlice(["person", "add", "bob.smith-2_x", "--role", "staff"])
                .status,
            0
        )
        let init2 = try cvAsAlice(
            ["init", "--admin", "\u{430}dmin", "--kdf", "interactive"],
            env: ["CERTVAULT_VAULT": file("other.db")]
        )
        XCTAssertEqual(init2.status, 1, init2.err)
    }

    /// OpenSSL takes passwords as C strings: one with a NUL byte would
    /// encrypt under its first part alone. Refused, in and out.
    func testPasswordWithNULByteIsRefused() throws {
        try initVault()
        let nul = dir.appendingPathComponent("nul.pw")
        try Data("pass\0word\n".utf8).write(to: nul)
        let imp = try cvAsAlice([
            "import", realWorld("ValidCertificatePathTest1EE_firefox.p12"), "--password-file", nul.path,
        ])
        XCTAssertEqual(imp.status, 1)
        XCTAssertTrue(imp.err.contains("NUL byte"), imp.err)
        XCTAssertEqual(
            try cvAsAlice([
                "import", realWorld("ValidCertificatePathTest1EE_firefox.p12"), "--password-file", file("corpus.pw"),
            ]).status,
            0
        )
        let exp = try cvAsAlice(["export", "1", "--format", "pfx", "--out", file("x.pfx"), "--password-file", nul.path])
        XCTAssertEqual(exp.status, 1)
        XCTAssertTrue(exp.err.contains("NUL byte"), exp.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("x.pfx")))
    }

    /// A passphrase given in the environment is gone from the process's
    /// environment block (what /proc/PID/environ shows) while the command
    /// still runs: here, while it waits to read a password from a FIFO.
    func testEnvironmentSecretIsScrubbedAtOnce() throws {
        try initVault()
        let fifo = file("pw.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let script = """
            import os, subprocess, sys, time
            binary, vault, state, fifo, p12, secret = sys.argv[1:7]
            env = {k: v for k, v in os.environ.items() if not k.startswith("CERTVAULT_")}
            env.update(CERTVAULT_VAULT=vault, XDG_STATE_HOME=state, CERTVAULT_PASSPHRASE=secret)
            p = subprocess.Popen([binary, "import", p12, "--password-file", fifo], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(1.0)  # it is now blocked opening the FIFO
            with open(f"/proc/{p.pid}/environ", "rb") as f:
                block = f.read()
            with open(fifo, "w") as f:
                f.write("password\\n")
            out, err = p.communicate(timeout=60)
            print("SECRET-SEEN" if secret.encode() in block else "secret-gone")
            print("NAME-SEEN" if b"CERTVAULT_PASSPHRASE=" + secret.encode() in block else "name-gone")
            print("status", p.returncode, err.decode(errors="replace").strip())
            """
        let passphrase = try String(contentsOfFile: file("alice.pass"), encoding: .utf8).trimmingCharacters(
            in: .newlines
        )
        let r = try Support.run(
            "python3",
            [
                "-c", script, CLITestCase.binary, vaultPath, dir.appendingPathComponent("state").path, fifo,
                realWorld("ValidCertificatePathTest1EE_firefox.p12"), passphrase,
            ]
        )
        XCTAssertTrue(r.out.contains("secret-gone"), r.out + r.err)
        XCTAssertTrue(r.out.contains("name-gone"), r.out + r.err)
        XCTAssertTrue(r.out.contains("status 0"), r.out + r.err)
    }

    /// An older copy of the vault put back: no key leaves, nothing changes,
    /// verify exits 3, until the rollback is accepted on purpose.
    func testRollbackIsRefusedUntilAccepted() throws {
        try makeVault()
        let old = file("old.db")
        try FileManager.default.copyItem(atPath: vaultPath, toPath: old)
        let exp = try cvAsAlice(["export", "2", "--format", "pfx", "--generate-password", "--out", file("later.pfx")])
        XCTAssertEqual(exp.status, 0, exp.err)
        // The attacker puts the older copy back, hiding that export.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: vaultPath + suffix) }
        try FileManager.default.removeItem(atPath: vaultPath)
        try FileManager.default.copyItem(atPath: old, toPath: vaultPath)

        let again = try cvAsAlice(["export", "2", "--format", "pfx", "--generate-password", "--out", file("again.pfx")])
        XCTAssertEqual(again.status, 5, again.err)
        XCTAssertTrue(again.err.contains("error: the vault was rolled back"), again.err)
        XCTAssertTrue(again.err.contains("was seen on"), again.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("again.pfx")))
        let verify = try cv(["audit", "verify"])
        XCTAssertEqual(verify.status, 5, verify.err)
        // Not tied to a record number the file does not hold.
        XCTAssertTrue(verify.err.contains("finding: rolled back: its log ends at record"), verify.err)
        XCTAssertEqual(try cv(["list"]).status, 5)

        let accept = try cvAsAlice(["audit", "accept-rollback"])
        XCTAssertEqual(accept.status, 0, accept.err)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        XCTAssertEqual(
            try cvAsAlice(["export", "2", "--format", "pfx", "--generate-password", "--out", file("again.pfx")]).status,
            0
        )
        let log = try cv(["audit", "log", "--action", "vault.rollback-accepted", "--json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(records.first?["actorHandle"] as? String, "alice")
        // With nothing rolled back there is nothing to accept.
        XCTAssertEqual(try cvAsAlice(["audit", "accept-rollback"]).status, 1)
    }

    /// A trigger added by hand could copy every new grant elsewhere: the
    /// vault is refused, the object named.
    func testHandAddedSchemaObjectsAreRefused() throws {
        try makeVault()
        let pristine = file("pristine.db")
        try FileManager.default.copyItem(atPath: vaultPath, toPath: pristine)
        for (name, sql) in [
            (
                "steal",
                "CREATE TRIGGER steal AFTER INSERT ON grants BEGIN INSERT INTO custody VALUES (1, 1, 'grant', 'x', 1); END"
            ),
            ("peek", "CREATE VIEW peek AS SELECT * FROM entries"),
            ("loot", "CREATE TABLE loot (x BLOB)"),
            ("by_alias", "CREATE INDEX by_alias ON entries(alias, purpose)"),
        ] {
            let copy = file("\(name).db")
            try FileManager.default.copyItem(atPath: pristine, toPath: copy)
            let r0 = try Support.run("sqlite3", [copy, sql])
            XCTAssertEqual(r0.status, 0, r0.err)
            for args in [
                ["list"], ["audit", "verify"], ["export", "1", "--format", "cer", "--out", file("\(name).cer")],
            ] {
                let r = try cv(args, env: ["CERTVAULT_VAULT": copy])
                XCTAssertEqual(r.status, 5, "\(name) \(args): \(r.err)")
                XCTAssertTrue(r.err.contains("'\(name)' was added by hand"), r.err)
            }
        }
        // A dropped append-only trigger is named too.
        try Support.run("sqlite3", [pristine, "DROP TRIGGER audit_no_delete"])
        let r = try cv(["audit", "verify"], env: ["CERTVAULT_VAULT": pristine])
        XCTAssertEqual(r.status, 5)
        XCTAssertTrue(r.err.contains("'audit_no_delete' is missing"), r.err)
    }

    /// Records inserted (no trigger stops an INSERT) with sequence numbers
    /// at the edge of the integer range: an error line, never an overflow trap.
    func testRecordsWithExtremeSequenceNumbersDoNotCrash() throws {
        try makeVault()
        let pristine = file("pristine.db")
        try FileManager.default.copyItem(atPath: vaultPath, toPath: pristine)
        for seq in ["9223372036854775807", "-9223372036854775808", "0", "-1"] {
            let copy = file("seq\(seq).db")
            try FileManager.default.copyItem(atPath: pristine, toPath: copy)
            let r0 = try Support.run(
                "sqlite3",
                [
                    copy,
                    """
                    INSERT INTO audit VALUES (\(seq), 'x', 1, 'entry.export', 1, 1, '{}', zeroblob(32), zeroblob(32), zeroblob(64))
                    """,
                ]
            )
            XCTAssertEqual(r0.status, 0, r0.err)
            for args in [
                ["list"], ["show", "1"], ["audit", "log"], ["audit", "verify"],
                ["export", "1", "--format", "cer", "--out", file("seq.cer")],
            ] {
                let r = try cv(args, env: ["CERTVAULT_VAULT": copy])
                XCTAssertTrue(r.status == 5, "\(seq) \(args): status \(r.status) \(r.err)")
                XCTAssertTrue(r.err.contains("error: "), r.err)
            }
        }
    }

    /// An old record rewritten in the middle of the log: every command sees
    /// the broken chain, not only `audit verify`; `audit log` marks it.
    func testRewrittenOldRecordIsSeenByEveryCommand() throws {
        try makeVault()
        try tamper("UPDATE audit SET actor_id = 2, details = replace(details, 'firefox', 'other') WHERE seq = 3")
        let log = try cv(["audit", "log"])
        XCTAssertEqual(log.status, 5, log.err)
        XCTAssertTrue(log.out.split(separator: "\n").contains { $0.hasPrefix("3 ") && $0.contains("INVALID") }, log.out)
        XCTAssertTrue(log.err.contains("finding: record 3: its contents do not match its hash"), log.err)
        let json = try cv(["audit", "log", "--json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: json.stdout) as? [[String: Any]])
        XCTAssertNotNil(records.first { $0["seq"] as? Int == 3 }?["problem"] as? String)
        XCTAssertNil(records.first { $0["seq"] as? Int == 2 }?["problem"] as? String)
        for args in [
            ["list"],
            [
                "export", "2", "--format", "pfx", "--generate-password", "--out", file("x.pfx"), "--passphrase-file",
                file("alice.pass"),
            ],
            ["person", "add", "carl", "--role", "staff", "--passphrase-file", file("alice.pass")],
        ] {
            let r = try cv(args)
            XCTAssertEqual(r.status, 5, "\(args): \(r.err)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("x.pfx")))
    }

    /// The tables changed by hand (a role raised, a grant or an entry taken
    /// away) while every record still checks out: `audit log` still shows
    /// the records, names what differs and exits 3, as every other command
    /// refuses the vault.
    func testAuditLogNamesTablesChangedByHand() throws {
        try makeVault()
        let clean = try cv(["audit", "log"])
        XCTAssertEqual(clean.status, 0, clean.err)
        for (sql, expected) in [
            ("UPDATE people SET role = 'admin' WHERE handle = 'bob'", "bob"),
            ("DELETE FROM grants WHERE entry_id = 2", "entr"),
            ("DELETE FROM entries WHERE id = 2", "entr"),
        ] {
            let copy = file("copy.db")
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: vaultPath, toPath: copy)
            defer {
                try? FileManager.default.removeItem(atPath: vaultPath)
                try? FileManager.default.copyItem(atPath: copy, toPath: vaultPath)
            }
            try tamper(sql)
            let log = try cv(["audit", "log"])
            XCTAssertEqual(log.status, 5, "\(sql): \(log.err)")
            XCTAssertEqual(log.out.split(separator: "\n").count, clean.out.split(separator: "\n").count, sql)
            XCTAssertFalse(log.out.contains("INVALID"), log.out)
            XCTAssertTrue(log.err.contains("finding: ") && log.err.contains(expected), "\(sql): \(log.err)")
            XCTAssertTrue(log.err.contains("error: the vault's tables do not match its signed records"), log.err)
            XCTAssertEqual(try cv(["list"]).status, 5, sql)
        }
        XCTAssertEqual(try cv(["audit", "log"]).status, 0)
    }

    /// --as names a person the signed records introduce, even where no passphrase is needed.
    func testActingAsAnUnknownPersonIsRefusedEverywhere() throws {
        try makeVault()
        for handle in ["nobody", "\u{430}lice"] {
            let r = try cv(["export", "1", "--format", "pem", "--out", file("p.pem"), "--as", handle])
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertTrue(r.err.hasPrefix("error: no person"), r.err)
        }
    }

    /// A whole other vault — one the attacker made, with keys the attacker
    /// knows — copied over the path: refused like a rollback. A new vault
    /// made there on purpose is not.
    func testAnotherVaultAtTheSamePathIsRefused() throws {
        try makeVault()
        XCTAssertEqual(try cv(["list"]).status, 0)
        let theirs = file("theirs.db")
        try Support.write("their passphrase\n", to: dir.appendingPathComponent("their.pass"))
        let made = try cv(
            ["init", "--admin", "alice", "--kdf", "interactive", "--passphrase-file", file("their.pass")],
            env: ["CERTVAULT_VAULT": theirs, "XDG_STATE_HOME": file("their-state")]
        )
        XCTAssertEqual(made.status, 0, made.err)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: vaultPath + suffix) }
        try FileManager.default.copyItem(atPath: theirs, toPath: vaultPath)
        for args in [["list"], ["audit", "verify"], ["export", "1", "--format", "cer", "--out", file("x.cer")]] {
            let r = try cv(args)
            XCTAssertEqual(r.status, 5, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("holds another vault"), r.err)
        }
        // alice cannot accept it: her passphrase does not open their vault.
        XCTAssertNotEqual(try cvAsAlice(["audit", "accept-rollback"]).status, 0)
        // A new vault made at the path on purpose is the path's vault from then on.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: vaultPath + suffix) }
        try initVault()
        XCTAssertEqual(try cv(["list"]).status, 0)
    }

    /// Finding 2 of the third attack round: with write access and no
    /// passphrase, the alias index is edited so that `web` points at the row
    /// of `dbx`; no table row changes. The export, the grant and a show by
    /// alias refuse (exit 3) instead of acting on dbx, nothing is written,
    /// and a plain `audit verify` names the damage.
    func testAnIndexThatPointsAnAliasAtAnotherRowRedirectsNothing() throws {
        try initVault()
        try addPerson("carol", role: "officer")
        for name in ["first", "web", "dbx"] {
            let made = try Support.makePFX(in: dir, name: name, password: "password").pfx
            let r = try cvAsAlice(["import", made, "--password-file", file("corpus.pw")])
            XCTAssertEqual(r.status, 0, r.err)
        }
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        // The index record ('web', rowid 2) made to say rowid 3 (dbx's), in the file's pages.
        try editAliasIndex(
            replacing: [3, 19, 1] + Array("web".utf8) + [2],
            with: [3, 19, 1] + Array("web".utf8) + [3]
        )
        let export = try cvAsAlice([
            "export", "web", "--format", "pfx", "--for", "carol", "--generate-password", "--out", file("web-out.pfx"),
        ])
        XCTAssertEqual(export.status, 5, export.out + export.err)
        XCTAssertTrue(export.err.contains("indexes disagree with its tables"), export.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("web-out.pfx")))
        let grant = try cvAsAlice(["grant", "web", "carol"])
        XCTAssertEqual(grant.status, 5, grant.err)
        XCTAssertEqual(try cv(["show", "web"]).status, 5)
        // By id, the table itself answers: entry 2 is web.
        let byID = try cv(["show", "2"])
        XCTAssertEqual(byID.status, 0, byID.err)
        XCTAssertTrue(byID.out.contains("web"), byID.out)
        XCTAssertFalse(try cv(["audit", "log"]).out.contains("entry.export"))
        let verify = try cv(["audit", "verify"])
        XCTAssertEqual(verify.status, 5, verify.out + verify.err)
        XCTAssertTrue((verify.out + verify.err).contains("the file is damaged"), verify.out + verify.err)
    }

    /// Found in review: an index that hides an alias with a dot let a
    /// planted certificate naming that alias as a DNS name stand in for it,
    /// so `export payments.prod` handed out the attacker's key. The table
    /// is asked for the alias before any other way of naming is tried.
    func testAnAliasTheIndexHidesIsNotTakenForADNSName() throws {
        try initVault()
        let legit = try Support.makePFX(in: dir, name: "legit", password: "password").pfx
        XCTAssertEqual(
            try cvAsAlice(["import", legit, "--password-file", file("corpus.pw"), "--alias", "payments.prod"]).status,
            0
        )
        let planted = try Support.sh(
            """
            cd '\(dir.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout evil.key -out evil.crt \\
              -days 100 -subj /CN=payments.prod -addext subjectAltName=DNS:payments.prod 2>/dev/null
            openssl pkcs12 -export -in evil.crt -inkey evil.key -out evil.pfx -passout pass:password -name vendor-test
            """
        )
        XCTAssertEqual(planted.status, 0)
        XCTAssertEqual(try cvAsAlice(["import", file("evil.pfx"), "--password-file", file("corpus.pw")]).status, 0)
        // The alias index's key 'payments.prod' made 'payments.prox': the row is no longer found through it.
        try editAliasIndex(replacing: Array("payments.prod".utf8), with: Array("payments.prox".utf8))
        let export = try cvAsAlice([
            "export", "payments.prod", "--format", "pfx", "--generate-password", "--out", file("out.pfx"),
        ])
        XCTAssertEqual(export.status, 5, export.out + export.err)
        XCTAssertTrue(export.err.contains("indexes disagree with its tables"), export.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("out.pfx")))
        let revoke = try cvAsAlice(["revoke", "payments.prod", "--reason", "keyCompromise"])
        XCTAssertEqual(revoke.status, 5, revoke.err)
        XCTAssertEqual(try cv(["show", "payments.prod"]).status, 5)
    }

    /// Edits the page of the entries' alias index in the file itself, as
    /// someone with write access and no passphrase would: the first
    /// `bytes` on it become `replacement` (as long), no table row changed.
    func editAliasIndex(replacing bytes: [UInt8], with replacement: [UInt8]) throws {
        let edit = """
            import sqlite3, sys
            path, old, new = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
            db = sqlite3.connect(path)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_entries_1'").fetchone()[0]
            size = db.execute("PRAGMA page_size").fetchone()[0]
            db.close()
            with open(path, "r+b") as f:
                f.seek((root - 1) * size)
                page = bytearray(f.read(size))
                at = page.find(old)
                assert at >= 0 and len(old) == len(new), "index record not found"
                page[at:at + len(old)] = new
                f.seek((root - 1) * size)
                f.write(page)
            """
        func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
        let edited = try Support.run("python3", ["-c", edit, vaultPath, hex(bytes), hex(replacement)])
        XCTAssertEqual(edited.status, 0, edited.err)
    }
}
