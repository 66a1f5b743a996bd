import Foundation
import TestSupport
import XCTest

/// The built `certvault` binary, driven as a person or a script would.
final class CLITests: CLITestCase {
    func testMainJobEndToEnd() throws {
        try initVault()
        let imp = try cvAsAlice([
            "import", realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx"), "--alias", "contoso.com",
            "--purpose", "ssl", "--domain", "contoso.com", "--password-file", file("corpus.pw"),
        ])
        XCTAssertEqual(imp.status, 0, imp.err)
        XCTAssertTrue(imp.out.contains("imported 1, already present 0, paired 0, failed 0"), imp.out)
        XCTAssertEqual(
            try cvAsAlice(["person", "add", "bob", "--role", "staff"]).status,
            0
        )

        let list = try cv(["list", "--json"])
        XCTAssertEqual(list.status, 0, list.err)
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: list.stdout) as? [[String: Any]])
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries[0]["alias"] as? String, "contoso.com")
        XCTAssertEqual(entries[0]["hasPrivateKey"] as? Bool, true)
        let cert = try XCTUnwrap(entries[0]["certificate"] as? [String: Any])
        XCTAssertEqual(cert["thumbprintSHA1"] as? String, "E128464BE734D0F84BD928516C50F15A18B52B96")

        let show = try cv(["show", "E128464B"])
        XCTAssertEqual(show.status, 0, show.err)
        for needle in [
            "contoso.com", "E128464BE734D0F84BD928516C50F15A18B52B96", "RSA 2048", "held (encrypted)", "access",
            "alice", "Good CA",
        ] {
            XCTAssertTrue(show.out.contains(needle), "show lacks \(needle):\n\(show.out)")
        }

        for profile in ["modern", "legacy"] {
            let out = file("contoso-\(profile).pfx")
            let exp = try cvAsAlice([
                "export", "contoso.com", "--format", "pfx", "--profile", profile, "--for", "bob",
                "--generate-password", "--out", out,
            ])
            XCTAssertEqual(exp.status, 0, exp.err)
            let password = try XCTUnwrap(
                exp.err.components(separatedBy: "(shown once): ").last?.trimmingCharacters(in: .whitespacesAndNewlines)
            )
            XCTAssertEqual(password.count, 24)
            try Support.write(password, to: dir.appendingPathComponent("pw-\(profile)"))
            // openssl is the judge: it reads the file, and the key matches the certificate.
            try Support.sh(
                "openssl pkcs12 -in '\(out)' -passin file:'\(file("pw-\(profile)"))' -nodes -out '\(out).pem'"
            )
            let a = try Support.sh("openssl x509 -in '\(out).pem' -pubkey -noout").out
            let b = try Support.sh("openssl pkey -in '\(out).pem' -pubout").out
            XCTAssertEqual(a, b)
            let info = try Support.sh(
                "openssl pkcs12 -in '\(out)' -passin file:'\(file("pw-\(profile)"))' -info -noout 2>&1"
            ).out
            if profile == "legacy" {
                XCTAssertTrue(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), info)
                XCTAssertTrue(info.contains("MAC: sha1"), info)
                XCTAssertFalse(info.contains("AES"), info)
            } else {
                XCTAssertTrue(info.contains("AES-256-CBC") && info.contains("hmacWithSHA256"), info)
                XCTAssertTrue(info.contains("MAC: sha256"), info)
            }
            XCTAssertTrue(info.contains("Shrouded Keybag"))
        }

        let cer = file("contoso.cer")
        XCTAssertEqual(try cv(["export", "contoso.com", "--format", "cer", "--out", cer]).status, 0)
        let fp = try Support.sh("openssl x509 -inform der -in '\(cer)' -noout -fingerprint -sha1").out
        XCTAssertTrue(
            fp.replacingOccurrences(of: ":", with: "").contains("E128464BE734D0F84BD928516C50F15A18B52B96"),
            fp
        )

        let log = try cv(["audit", "log", "--json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        XCTAssertEqual(
            records.map { $0["action"] as? String },
            ["vault.create", "person.keyslot", "entry.import", "person.add", "entry.export", "entry.export"]
        )
        XCTAssertEqual(records.last?["personHandle"] as? String, "bob")
        let verify = try cv(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, verify.err)
        XCTAssertTrue(verify.out.contains("6:"), verify.out)
        let head = verify.out.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertEqual(try cv(["audit", "verify", "--expect", head]).status, 0)

        let backup = try cvAsAlice(["backup", file("copy.db")])
        XCTAssertEqual(backup.status, 0, backup.err)
        XCTAssertEqual(try cv(["list"], env: ["CERTVAULT_VAULT": file("copy.db")]).status, 0)
    }

    /// Python's cryptography is a second judge of what certvault writes.
    func testPythonCryptographyReadsExports() throws {
        try initVault()
        XCTAssertEqual(
            try cvAsAlice([
                "import", realWorld("ValidCertificatePathTest1EE_macos.p12"), "--password-file", file("corpus.pw"),
            ]).status,
            0
        )
        try Support.write("Tr0ub4dor&3\n", to: dir.appendingPathComponent("pfx.pw"))
        for profile in ["modern", "legacy"] {
            let r = try cvAsAlice([
                "export", "1", "--format", "pfx", "--profile", profile, "--out", file("\(profile).pfx"),
                "--password-file", file("pfx.pw"),
            ])
            XCTAssertEqual(r.status, 0, r.err)
        }
        XCTAssertEqual(try cv(["export", "1", "--format", "cer", "--out", file("c.cer")]).status, 0)
        let script = """
            import sys
            from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PublicFormat
            from cryptography import x509
            for name in ("modern", "legacy"):
                p = pkcs12.load_pkcs12(open(sys.argv[1] + "/" + name + ".pfx", "rb").read(), b"Tr0ub4dor&3")
                assert p.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == \
                    p.cert.certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
                assert p.cert.friendly_name is not None
            c = x509.load_der_x509_certificate(open(sys.argv[1] + "/c.cer", "rb").read())
            print(c.subject.rfc4514_string())
            """
        let py = try Support.run("python3", ["-c", script, dir.path])
        XCTAssertEqual(py.status, 0, py.err)
        XCTAssertTrue(py.out.contains("Valid EE Certificate Test1"), py.out)
    }

    func testWrongPassphrase() throws {
        try initVault()
        try Support.write("wrong\n", to: dir.appendingPathComponent("wrong.pass"))
        let r = try cv(["backup", file("b.db"), "--passphrase-file", file("wrong.pass")])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "error: wrong passphrase for alice\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("b.db")))
        let log = try cv(["audit", "log"])
        // Unsigned, the record names whose passphrase was tried, never who tried it.
        let line = try XCTUnwrap(log.out.split(separator: "\n").first { $0.contains("unlock.failed") })
        let columns = line.split(separator: " ", omittingEmptySubsequences: true)
        XCTAssertEqual(columns.count > 2 ? String(columns[2]) : "", "?", String(line))
        XCTAssertTrue(
            line.contains("a wrong passphrase for alice (unsigned: whoever typed it is not known)"),
            String(line)
        )
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }

    func testPassphraseFromEnvironmentAndNoneWithoutTerminal() throws {
        try initVault()
        let ok = try cv(["backup", file("b1.db")], env: ["CERTVAULT_PASSPHRASE": "alice passphrase"])
        XCTAssertEqual(ok.status, 0, ok.err)
        let none = try cv(["backup", file("b2.db")])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(
            none.err.hasPrefix("error: the passphrase for alice is needed and there is no terminal"),
            none.err
        )
        XCTAssertTrue(none.err.contains("hint: give it with --passphrase-file FILE or CERTVAULT_PASSPHRASE"), none.err)
    }

    /// At a terminal the passphrase is asked with echo off and never shown.
    func testPassphrasePromptOnATerminalDoesNotEcho() throws {
        try initVault()
        let r = try onTerminal(
            ["backup", file("tty-backup.db")],
            prompt: "Passphrase for alice: ",
            reply: "alice passphrase"
        )
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("backed up to"), r.out)
        XCTAssertFalse(r.out.contains("alice passphrase"), "the passphrase was echoed: \(r.out)")
    }

    func testUsageErrorsExitTwo() throws {
        let r = try cv(["list", "--no-such-option"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.hasPrefix("error: "), r.err)
        XCTAssertEqual(try cv(["export", "x", "--format", "zip", "--out", "y"]).status, 2)
        XCTAssertEqual(try cv(["--help"]).status, 0)
    }

    func testNoVaultAndNotAVault() throws {
        let r = try cv(["list"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("error: no vault at \(vaultPath)"), r.err)
        XCTAssertTrue(r.err.contains("hint: create one"), r.err)
        try Support.write("hello, I am a text file\n", to: URL(fileURLWithPath: vaultPath))
        let n = try cv(["list"])
        XCTAssertEqual(n.status, 1)
        XCTAssertTrue(n.err.contains("is not a certvault vault"), n.err)
        XCTAssertEqual(try String(contentsOfFile: vaultPath, encoding: .utf8), "hello, I am a text file\n")
        XCTAssertEqual(
            try cvAsAlice(["init", "--admin", "x", "--kdf", "interactive"]).status,
            1
        )
    }

    func testImportIsAllOrNothingUnlessKeepGoing() throws {
        try initVault()
        try Support.write("not a pfx\n", to: dir.appendingPathComponent("bad.pfx"))
        try Data().write(to: dir.appendingPathComponent("empty.p12"))
        let good = realWorld("ValidCertificatePathTest1EE_firefox.p12")
        let r = try cvAsAlice([
            "import", good, file("bad.pfx"), file("empty.p12"), "--password-file", file("corpus.pw"),
        ])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(
            r.err.contains(
                "error: \(file("bad.pfx")): text without a PEM block: not a certificate, key or PKCS#12 file"
            ),
            r.err
        )
        XCTAssertTrue(r.err.contains("error: \(file("empty.p12")): the file is empty"), r.err)
        XCTAssertTrue(
            try cv(["list", "--json"]).out.contains("[\n\n]")
                || (try cv(["list", "--json"]).out.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        )

        let k = try cvAsAlice(["import", good, file("bad.pfx"), "--keep-going", "--password-file", file("corpus.pw")])
        XCTAssertEqual(k.status, 1)
        XCTAssertTrue(k.out.contains("imported 1, already present 0, paired 0, failed 1"), k.out)
        XCTAssertTrue(k.err.contains(file("bad.pfx")), k.err)
        // Scripts get each failure's stable code.
        let j = try cvAsAlice([
            "import", file("empty.p12"), "--keep-going", "--json", "--password-file", file("corpus.pw"),
        ])
        XCTAssertEqual(j.status, 1)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: j.stdout) as? [String: Any])
        let errors = try XCTUnwrap(report["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.first?["code"] as? String, "empty-file")
    }

    /// Many files on one command line, with options among them and after
    /// `--`: every file is imported, in the order given, and the options
    /// between them apply; a mistake among them is the parser's own message.
    func testManyFilesWithOptionsAmongThem() throws {
        try initVault()
        let source = try Data(
            contentsOf: URL(fileURLWithPath: realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx"))
        )
        var files: [String] = []
        for i in 0..<80 {
            let path = file("copy \(i).p12")
            try source.write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        var args: [String] = ["import"]
        args += files[0..<30]
        args += ["--purpose", "ssl"]
        args += files[30..<31]
        args += ["--domain", "contoso.com"]
        args += files[31..<60]
        args += ["--password-file", file("corpus.pw"), "--passphrase-file", file("alice.pass"), "--json", "--"]
        args += files[60...]
        let r = try cv(args)
        XCTAssertEqual(r.status, 0, r.err)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let items = try XCTUnwrap(report["items"] as? [[String: Any]])
        XCTAssertEqual(items.compactMap { $0["file"] as? String }, files)
        XCTAssertEqual(items.filter { $0["outcome"] as? String == "imported" }.count, 1)
        let list = try XCTUnwrap(
            JSONSerialization.jsonObject(with: try cv(["list", "--json"]).stdout) as? [[String: Any]]
        )
        XCTAssertEqual(list.first?["purpose"] as? String, "ssl")
        XCTAssertEqual(list.first?["domains"] as? [String], ["contoso.com"])

        let wrong = try cvAsAlice(["import"] + files + ["--bogus"])
        XCTAssertEqual(wrong.status, 2)
        XCTAssertTrue(wrong.err.hasPrefix("error: unknown option '--bogus' for 'certvault import'"), wrong.err)
    }

    /// An error from below the library (here: a directory that cannot be
    /// made) is one error line and exit 1, not a usage error or a raw
    /// Foundation error.
    func testUnwritableVaultPathIsAnErrorLine() throws {
        let r = try cvAsAlice(
            ["init", "--admin", "alice", "--kdf", "interactive"],
            env: ["CERTVAULT_VAULT": "/proc/self/nope/v.db"]
        )
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(r.err, "error: cannot create the directory /proc/self/nope: No such file or directory\n")
    }

    func testWrongFilePasswordNamesTheFile() throws {
        try initVault()
        try Support.write("nope\n", to: dir.appendingPathComponent("nope.pw"))
        let f = realWorld("ValidCertificatePathTest1EE_windows_aes.p12.pfx")
        let r = try cvAsAlice(["import", f, "--password-file", file("nope.pw")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("error: \(f): wrong password for the file"), r.err)
        let none = try cvAsAlice(["import", f])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.err.contains("the file needs a password"), none.err)
        XCTAssertTrue(none.err.contains("hint: give it with --password-file"), none.err)
    }

    func testVerifyExitsFiveNamingTheFirstBadRecord() throws {
        try initVault()
        XCTAssertEqual(
            try cvAsAlice([
                "import", realWorld("ValidCertificatePathTest1EE_firefox.p12"), "--password-file", file("corpus.pw"),
            ]).status,
            0
        )
        try tamper("UPDATE audit SET at = '2020-01-01T00:00:00Z' WHERE seq = 3")
        let r = try cv(["audit", "verify"])
        XCTAssertEqual(r.status, 5)
        XCTAssertTrue(r.err.contains("error: the audit log does not verify: first bad record 3"), r.err)
    }

    func testExportNeverOverwritesWithoutForce() throws {
        try initVault()
        XCTAssertEqual(
            try cvAsAlice([
                "import", realWorld("ValidCertificatePathTest1EE_firefox.p12"), "--password-file", file("corpus.pw"),
            ]).status,
            0
        )
        try Support.write("precious\n", to: dir.appendingPathComponent("out.cer"))
        let r = try cv(["export", "1", "--format", "cer", "--out", file("out.cer")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("already exists") && r.err.contains("hint:"), r.err)
        XCTAssertEqual(try String(contentsOfFile: file("out.cer"), encoding: .utf8), "precious\n")
        XCTAssertEqual(try cv(["export", "1", "--format", "cer", "--out", file("out.cer"), "--force"]).status, 0)
    }

    /// The binary carries its migrations: copied alone elsewhere, it works.
    func testBinaryWorksWhenCopiedAlone() throws {
        let lonely = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: lonely) }
        let copy = lonely.appendingPathComponent("certvault").path
        try FileManager.default.copyItem(atPath: CLITestCase.binary, toPath: copy)
        let r = try cvAsAlice(
            ["init", "--admin", "alice", "--kdf", "interactive"],
            binary: copy
        )
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try cv(["audit", "verify"], binary: copy).status, 0)
    }

    /// Two processes writing at once: both finish, and the chain holds.
    func testConcurrentWritersBothFinish() throws {
        try initVault()
        for i in 0..<2 { try Support.makePFX(in: dir, name: "c\(i)", key: "ec:prime256v1") }
        try Support.write("secret\n", to: dir.appendingPathComponent("c.pw"))
        let script = """
            B='\(CLITestCase.binary)'; export CERTVAULT_VAULT='\(vaultPath)'
            pids=()
            for i in 0 1; do
              ( for n in 1 2 3; do "$B" import '\(dir.path)'/c$i.pfx --password-file '\(file("c.pw"))' --passphrase-file '\(file("alice.pass"))' >/dev/null || exit 1
                  "$B" backup '\(dir.path)'/b$i-$n.db --passphrase-file '\(file("alice.pass"))' >/dev/null || exit 1; done ) &
              pids+=($!)
            done
            wait "${pids[0]}" && wait "${pids[1]}"
            """
        let r = try Support.run("/bin/bash", ["-c", script])
        XCTAssertEqual(r.status, 0, r.err)
        let verify = try cv(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, verify.err)
        let log = try cv(["audit", "log", "--json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        XCTAssertEqual(records.filter { $0["action"] as? String == "vault.backup" }.count, 6)
        XCTAssertEqual(records.filter { $0["action"] as? String == "entry.import" }.count, 2)
    }
}
