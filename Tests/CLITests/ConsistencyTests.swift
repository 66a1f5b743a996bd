import Foundation
import TestSupport
import XCTest

/// A commit landing while another command reads is never a rollback
/// (issue 26): the witness is read before the read's snapshot begins.
final class ConsistencyTests: CLITestCase {
    override var defaultActor: String? { "alice" }

    func importFresh(_ name: String) throws -> ProcessResult {
        let pfx = try Support.makePFX(in: dir, name: name, password: "password").pfx
        return try cvAsAlice(["import", pfx, "--password-file", file("corpus.pw")])
    }

    /// `audit verify` and `list` stopped with their snapshot taken; an
    /// import commits and moves the witness meanwhile; both go on and find
    /// no rollback.
    func testACommitDuringAReadIsNoRollback() throws {
        try initVault()
        XCTAssertEqual(try importFresh("first").status, 0)
        for command in [["audit", "verify"], ["list"], ["audit", "log"]] {
            let r = try runStopped(command, actor: "alice", at: "read.in-snapshot") {
                let imported = try importFresh("during-\(command.joined(separator: "-"))")
                XCTAssertEqual(imported.status, 0, imported.err)
            }
            XCTAssertEqual(r.status, 0, "\(command): \(r.err)")
            XCTAssertFalse(r.err.contains("rolled back"), r.err)
        }
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }

    /// `audit verify` in a loop beside a writer: no exit 3, ever.
    func testVerifyBesideWritersNeverCriesWolf() throws {
        try initVault()
        let pfxs = try (0..<12).map { try Support.makePFX(in: dir, name: "w\($0)", password: "password").pfx }
        // The writer: another process importing one file after another.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/bash")
        writer.arguments =
            [
                "-c",
                "for f in \"$@\"; do \"$CV\" import \"$f\" --password-file \"$PW\" --passphrase-file \"$PASS\" >/dev/null 2>&1; done",
                "writer",
            ] + pfxs
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTVAULT_") }
        environment["CV"] = CLITestCase.binary
        environment["PW"] = file("corpus.pw")
        environment["PASS"] = file("alice.pass")
        environment["CERTVAULT_VAULT"] = vaultPath
        environment["CERTVAULT_USER"] = "alice"
        environment["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
        environment["XDG_CONFIG_HOME"] = dir.appendingPathComponent("config").path
        writer.environment = environment
        try writer.run()
        var runs = 0
        var wolves: [String] = []
        while writer.isRunning || runs < 10 {
            // verify and list --json in turn: neither ever fails beside a writer.
            let r = try cv(runs % 2 == 0 ? ["audit", "verify"] : ["list", "--json"])
            runs += 1
            if r.status != 0 { wolves.append(r.err) }
        }
        writer.waitUntilExit()
        XCTAssertEqual(wolves, [], "\(wolves.count) of \(runs) commands failed beside a writer")
        // Every import record has its entry (issue 26 saw 30 entries listed against 230 records once).
        let log = try cv(["audit", "log", "--action", "entry.import", "--json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: log.stdout) as? [Any])?.count, 12)
        let list = try cv(["list", "--json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: list.stdout) as? [Any])?.count, 12)
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }

    /// This machine's witness cannot be written (its directory is a file
    /// here; a full disk does the same): a committed change says it
    /// committed (exit 4), an export releases no key and records that, and
    /// commands that only read work with a warning.
    func testAWitnessThatCannotBeWrittenIsToldTruthfully() throws {
        try initVault()
        XCTAssertEqual(try importFresh("k").status, 0)
        XCTAssertEqual(
            try cvAsAlice([
                "person", "add", "bob", "--role", "officer", "--kdf", "interactive",
                "--new-passphrase-file", file("alice.pass"),
            ]).status,
            0
        )
        let broken = dir.appendingPathComponent("broken-state")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Support.write("not a directory\n", to: broken.appendingPathComponent("certvault"))
        let env = ["XDG_STATE_HOME": broken.path]

        let export = try cv(
            [
                "export", "k", "--format", "pfx", "--generate-password", "--out", file("exported.pfx"),
                "--passphrase-file",
                file("alice.pass"),
            ],
            env: env
        )
        XCTAssertEqual(export.status, 4, export.err)
        XCTAssertTrue(export.err.contains("error: this machine's rollback witness could not be updated"), export.err)
        XCTAssertTrue(export.err.contains("no file was written, and record "), export.err)
        XCTAssertTrue(export.err.contains(" was committed)"), export.err)
        XCTAssertFalse(export.err.contains("nothing was changed"), export.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("exported.pfx")))

        let grant = try cvAsAlice(["grant", "k", "bob"], env: env)
        XCTAssertEqual(grant.status, 4, grant.err)
        XCTAssertTrue(
            grant.err.contains(" was committed, but this machine's rollback witness could not be updated"),
            grant.err
        )
        XCTAssertFalse(grant.err.contains("nothing was changed"), grant.err)

        for read in [["list"], ["audit", "verify"]] {
            let r = try cv(read, env: env)
            XCTAssertEqual(r.status, 0, "\(read): \(r.err)")
            XCTAssertTrue(r.err.contains("warning: this machine's rollback witness could not be updated"), r.err)
        }
        // With the witness back, the vault checks out, the failure recorded as such.
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        let log = try cv(["audit", "log", "--action", "entry.export-unwritten"])
        XCTAssertTrue(log.out.contains("exported.pfx not written"), log.out)
    }

    /// Starts `certvault args` as alice in the background; its stderr is read when it ends.
    func startAsAlice(_ args: [String]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITestCase.binary)
        p.arguments = args + ["--passphrase-file", file("alice.pass")]
        p.environment = environment(actor: "alice")
        let stderr = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = stderr
        try p.run()
        return (p, stderr)
    }

    /// A command held behind another process's write says it waits (after
    /// a second, once), then goes on: an import finishes; a restore whose
    /// vault changed meanwhile restores nothing and says why.
    func testAWaitBehindAnotherWriterIsSaid() throws {
        try initVault()
        XCTAssertEqual(try importFresh("first").status, 0)
        XCTAssertEqual(try cvAsAlice(["backup", file("b.db")]).status, 0)
        let second = try Support.makePFX(in: dir, name: "second", password: "password").pfx
        let third = try Support.makePFX(in: dir, name: "third", password: "password").pfx
        for waiter in [
            ["import", second, "--password-file", file("corpus.pw")],
            ["restore", file("b.db"), "--force"],
        ] {
            var waited: (Process, Pipe)?
            let r = try runStopped(
                [
                    "import",
                    waiter[0] == "import"
                        ? third : try Support.makePFX(in: dir, name: "fourth", password: "password").pfx,
                    "--password-file", file("corpus.pw"), "--passphrase-file", file("alice.pass"),
                ],
                actor: "alice",
                at: "change.before-commit"
            ) {
                waited = try startAsAlice(waiter)
                // Held behind the stopped import's write lock for longer than the notice waits.
                usleep(2_500_000)
                XCTAssertTrue(waited?.0.isRunning == true, "\(waiter) did not wait")
            }
            XCTAssertEqual(r.status, 0, r.err)
            let (process, pipe) = try XCTUnwrap(waited)
            let err = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let notes = err.components(separatedBy: "note: waiting for another certvault process to finish writing to")
            XCTAssertEqual(notes.count, 2, "\(waiter): \(err)")
            if waiter[0] == "import" {
                XCTAssertEqual(process.terminationStatus, 0, err)
            } else {
                XCTAssertEqual(process.terminationStatus, 1, err)
                XCTAssertTrue(err.contains("while the restore was being prepared; nothing was restored"), err)
            }
        }
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
        let list = try cv(["list", "--json"])
        XCTAssertEqual((try JSONSerialization.jsonObject(with: list.stdout) as? [Any])?.count, 4)
    }

    /// What a killed restore or backup left beside the vault is removed by
    /// the next command that opens it, and named; what a running process
    /// holds is left alone.
    func testLeftoversOfKilledCommandsAreRemovedAndNamed() throws {
        try initVault()
        let vaultDir = URL(fileURLWithPath: vaultPath).deletingLastPathComponent()
        func touch(_ name: String) throws { try Support.write("keyslots\n", to: vaultDir.appendingPathComponent(name)) }
        // A process id no process has (above the kernel's limit), one that runs (this test's own).
        let gone = "4194305"
        try touch(".certvault-\(gone)-0123456789abcdef.tmp")
        try touch(".certvault-\(gone)-0123456789abcdef.tmp-wal")
        try FileManager.default.createDirectory(
            at: vaultDir.appendingPathComponent(".certvault-\(gone)-AbC123"),
            withIntermediateDirectories: false
        )
        try touch(".certvault-\(gone)-AbC123/backup.db")
        // A directory of that name is not certvault's (it never makes one ending .tmp): left alone.
        try FileManager.default.createDirectory(
            at: vaultDir.appendingPathComponent(".certvault-\(gone)-fedcba9876543210.tmp"),
            withIntermediateDirectories: false
        )
        try touch(".certvault-\(gone)-fedcba9876543210.tmp/inner")
        let live = ".certvault-\(getpid())-fedcba9876543210.tmp"
        try touch(live)
        // The older, unnumbered kind: removed once nobody touched it for an hour.
        try touch(".certvault-00112233aabbccdd.tmp")
        try touch(".certvault-99887766aabbccdd.tmp")
        let old = Date(timeIntervalSinceNow: -7200)
        try FileManager.default.setAttributes(
            [.modificationDate: old],
            ofItemAtPath: vaultDir.appendingPathComponent(".certvault-00112233aabbccdd.tmp").path
        )
        let r = try cv(["list"])
        XCTAssertEqual(r.status, 0, r.err)
        for name in [
            ".certvault-\(gone)-0123456789abcdef.tmp", ".certvault-\(gone)-0123456789abcdef.tmp-wal",
            ".certvault-\(gone)-AbC123", ".certvault-00112233aabbccdd.tmp",
        ] {
            XCTAssertTrue(r.err.contains("note: removed \(name), left beside the vault by a killed command"), r.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: vaultDir.appendingPathComponent(name).path), name)
        }
        for kept in [live, ".certvault-99887766aabbccdd.tmp", ".certvault-\(gone)-fedcba9876543210.tmp/inner"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: vaultDir.appendingPathComponent(kept).path), kept)
        }
        XCTAssertEqual(try cv(["list"]).err, "", "nothing left to remove the second time")
    }
}
