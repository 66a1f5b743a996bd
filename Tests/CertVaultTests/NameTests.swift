import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// Design rule 10: names from outside are data. A `.pfx` friendly name
/// becomes an alias that cannot act in a shell or read as another; an
/// alias an older certvault kept as the file gave it still works by id,
/// is named by `check`, renamed, and never offered by completion.
final class NameTests: VaultTestCase {
    /// A `.pfx` of a fresh key whose friendly name is `name`, exactly (no shell in between).
    func pfx(friendlyName name: String, file: String) throws -> String {
        let made = try Support.makePFX(in: dir, name: file, key: "ec:prime256v1")
        let out = dir.appendingPathComponent("\(file)-named.pfx").path
        let r = try Support.run(
            "/usr/bin/openssl",
            [
                "pkcs12", "-export", "-inkey", made.key, "-in", made.cert, "-out", out, "-passout", "pass:secret",
                "-name", name,
            ]
        )
        XCTAssertEqual(r.status, 0, r.err)
        return out
    }

    func testAliasRule() {
        for good in ["web", "Bars-Root", "contoso.com", "a_b-c.d", "wildcard.contoso.com", "x1"] {
            XCTAssertTrue(Alias.isValid(good), good)
        }
        for bad in [
            "", "123", "-web", ".web", "_web", "we b", "wеb", "we\u{2028}b", "web\u{3164}", "$(id)", "a;b", "a'b",
            String(repeating: "a", count: 201),
        ] {
            XCTAssertFalse(Alias.isValid(bad), bad)
            XCTAssertTrue(Alias.isValid(Alias.derived(from: bad)), "\(bad) → \(Alias.derived(from: bad))")
        }
        XCTAssertEqual(Alias.derived(from: "Bars Root"), "Bars-Root")
        XCTAssertEqual(Alias.derived(from: "wеb"), "w-b")
        XCTAssertEqual(Alias.derived(from: "we\u{2028}b"), "we-b")
        XCTAssertEqual(Alias.derived(from: "web\u{3164}"), "web")
        XCTAssertEqual(Alias.derived(from: "$(id > /tmp/x)"), "id-tmp-x")
        XCTAssertEqual(Alias.derived(from: "*.contoso.com"), "wildcard.contoso.com")
        XCTAssertEqual(Alias.derived(from: "2024"), "entry-2024")
        XCTAssertEqual(Alias.derived(from: "  ¿¿ "), "entry")
        assertCode(.invalidArgument) { try Session.checkAlias("we b") }
        assertCode(.invalidArgument) { try Session.checkAlias("wеb") }
    }

    /// Findings 1 and 7: hostile and look-alike friendly names make distinct
    /// aliases within the rule; the name itself stays with the entry.
    func testFriendlyNamesBecomeAliasesThatCannotAct() throws {
        let marker = dir.appendingPathComponent("pwned").path
        let names = ["$(touch \(marker))", "web", "wеb", "we\u{2028}b", "web\u{3164}", "Bars Root"]
        let files = try names.enumerated().map { i, name in
            try Importer.read(path: try pfx(friendlyName: name, file: "n\(i)"), password: SecureBytes(utf8: "secret"))
        }
        let report = try unlock().importFiles(files)
        let aliases = report.items.map(\.alias)
        XCTAssertEqual(aliases.count, names.count)
        XCTAssertEqual(Set(aliases).count, names.count, "\(aliases)")
        for alias in aliases { XCTAssertTrue(Alias.isValid(alias), alias) }
        XCTAssertEqual(Array(aliases[1...]), ["web", "w-b", "we-b", "web-2", "Bars-Root"])
        let entries = try vault.entries()
        XCTAssertEqual(entries.first { $0.alias == "w-b" }?.originalName, "wеb")
        XCTAssertEqual(entries.first { $0.alias == "web-2" }?.originalName, "web\u{3164}")
        XCTAssertNil(entries.first { $0.alias == "web" }?.originalName, "a name that is an alias is not kept twice")
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))

        // A person's alias is held to the rule.
        let again = try Importer.read(
            path: try pfx(friendlyName: "x", file: "typed"),
            password: SecureBytes(utf8: "secret")
        )
        assertCode(.invalidArgument) { _ = try self.unlock().importFiles([again], options: .init(alias: "my web")) }
    }

    /// What an older certvault stored: an alias kept as the file gave it,
    /// in a properly signed record.
    func plantLegacyAlias(_ alias: String, on id: Int64, by session: Session) throws {
        try session.change { c in
            try c.db.run("UPDATE entries SET alias = ? WHERE id = ?", [alias, id])
            c.record(.entryRename, entry: id, details: [.previousAlias: .text("web1")])
        }
    }

    func testAnOlderAliasIsNamedByCheckAndRenamed() throws {
        let alice = try unlock()
        try importFresh(["web1", "web2"], as: alice)
        let web1 = try rawEntry("web1")
        try plantLegacyAlias("wеb 1", on: web1.id, by: alice)
        XCTAssertTrue(try vault.verify().isValid, "an older vault's alias is signed, not tampered")
        // It still works by id.
        XCTAssertEqual(try vault.entry(.any(String(web1.id))).alias, "wеb 1")
        let findings = try vault.check().findings.filter { $0.rule == "alias-unsafe" }
        XCTAssertEqual(findings.count, 1)
        XCTAssertTrue(
            findings[0].message.contains("run 'certvault rename \(web1.id) w-b-1'"),
            findings[0].message
        )
        assertCode(.aliasTaken) { _ = try alice.rename(.id(.init(web1.id)), to: "web2") }
        assertCode(.invalidArgument) { _ = try alice.rename(.id(.init(web1.id)), to: "web 1") }
        let renamed = try alice.rename(.id(.init(web1.id)), to: "w-b-1")
        XCTAssertEqual(renamed.alias, "w-b-1")
        XCTAssertTrue(try vault.check().findings.filter { $0.rule == "alias-unsafe" }.isEmpty)
        let records = try vault.auditLog().records.filter { $0.action == AuditAction.entryRename.rawValue }
        XCTAssertEqual(records.last?.fields.string(.previousAlias), "wеb 1")
        XCTAssertTrue(try vault.verify().isValid)
    }

    /// Finding 1, at the keyboard: `certvault export <TAB>` in an
    /// interactive bash, zsh and fish with the generated completion
    /// scripts, on a vault holding an alias that is a command substitution.
    /// Nothing runs, and only names within the rule are offered.
    func testPressingTabRunsNothingFromTheVault() throws {
        let alice = try unlock()
        try importFresh(["web1", "web2"], as: alice)
        let marker = dir.appendingPathComponent("pwned").path
        try plantLegacyAlias("$(touch \(marker))", on: try rawEntry("web1").id, by: alice)
        let words = try completionWords()
        XCTAssertEqual(words, ["web2"])

        let binary = Support.root.appendingPathComponent(".build/debug/certvault").path
        let functions = dir.appendingPathComponent("zsh-functions")
        try FileManager.default.createDirectory(at: functions, withIntermediateDirectories: true)
        let shells: [(argv: [String], script: String, setup: (String) -> String)] = [
            (
                ["/bin/bash", "--norc", "--noprofile", "-i"], dir.appendingPathComponent("certvault.bash").path,
                { "source '\($0)'" }
            ),
            (
                ["/usr/bin/zsh", "-f", "-i"], functions.appendingPathComponent("_certvault").path,
                { _ in "fpath=('\(functions.path)' $fpath); autoload -U compinit; compinit -u" }
            ),
            (
                ["/usr/bin/fish", "--no-config", "-i"], dir.appendingPathComponent("certvault.fish").path,
                { "source '\($0)'" }
            ),
        ]
        for shell in shells {
            let name = URL(fileURLWithPath: shell.argv[0]).lastPathComponent
            let generated = try Support.run(binary, ["--generate-completion-script", name])
            XCTAssertEqual(generated.status, 0)
            try generated.stdout.write(to: URL(fileURLWithPath: shell.script))
            let screen = try typeIn(
                shell.argv,
                setup: shell.setup(shell.script),
                keys: "certvault export \t",
                expect: "web2",
                path: URL(fileURLWithPath: binary).deletingLastPathComponent().path
            )
            XCTAssertTrue(screen.contains("certvault export web2"), "\(name): \(screen)")
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: marker),
                "TAB in \(name) ran a command from the vault: \(screen)"
            )
        }
    }

    /// The words the binary offers for `export <TAB>`, asked as the shells ask.
    func completionWords() throws -> [String] {
        let binary = Support.root.appendingPathComponent(".build/debug/certvault").path
        let r = try Support.run(
            binary,
            ["---completion", "export", "--", "positional@0", "2", "0", "certvault", "export", ""],
            environment: ["CERTVAULT_VAULT": path, "XDG_STATE_HOME": dir.path + "/state", "PATH": "/usr/bin:/bin"]
        )
        return r.out.split(separator: "\n").map(String.init)
    }

    /// Runs an interactive shell (`argv`) on a pseudo-terminal, runs
    /// `setup`, types `keys`, waits for `expect` to show (20 s at most) and
    /// then exits; returns what the terminal showed.
    func typeIn(_ argv: [String], setup: String, keys: String, expect: String, path: String) throws -> String {
        let python = """
            import os, pty, sys, time
            setup, keys, expect, path, vault, state, home = sys.argv[1:8]
            argv = sys.argv[8:]
            pid, fd = pty.fork()
            if pid == 0:
                env = {
                    "PATH": path + ":/usr/bin:/bin", "HOME": home, "TERM": "dumb", "PS1": "$ ",
                    "CERTVAULT_VAULT": vault, "XDG_STATE_HOME": state,
                }
                os.execve(argv[0], argv, env)
            def read_for(seconds, until=None):
                out = b""
                end = time.time() + seconds
                while time.time() < end and not (until and until in out):
                    try:
                        import select
                        r, _, _ = select.select([fd], [], [], 0.1)
                        if r:
                            out += os.read(fd, 4096)
                    except OSError:
                        break
                return out
            seen = read_for(1.0)
            os.write(fd, (setup + "\\n").encode())
            seen += read_for(1.5)
            os.write(fd, keys.encode())
            # Until the completion shows (a loaded machine may be slow), then a moment more.
            seen += read_for(20.0, until=expect.encode())
            seen += read_for(0.5)
            os.write(fd, b"\\x03")
            seen += read_for(0.5)
            os.write(fd, b"exit\\n")
            seen += read_for(1.0)
            try:
                os.kill(pid, 9)
            except OSError:
                pass
            os.waitpid(pid, 0)
            sys.stdout.write(seen.decode("utf-8", "replace"))
            """
        let home = dir.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let r = try Support.run(
            "/usr/bin/python3",
            ["-c", python, setup, keys, expect, path, self.path, dir.path + "/state", home.path] + argv
        )
        return r.out
    }
}
