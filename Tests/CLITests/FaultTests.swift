import Foundation
import TestSupport
import XCTest

/// kill -9 at the worst moments, through the built binary: after each, the
/// vault verifies and passes SQLite's integrity check, no file with a
/// secret exists without its record, and no temporary file remains.
final class FaultTests: CLITestCase {
    let out = "out"

    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(out), withIntermediateDirectories: true)
        try initVault()
        XCTAssertEqual(try cvAsAlice(["new", "management", "--subject", "CN=k", "--alias", "k"]).status, 0)
        try Support.write("export-pw\n", to: dir.appendingPathComponent("x.pw"))
    }

    /// The invariants that must hold after any kill.
    func assertIntact(_ what: String, line: UInt = #line) throws {
        let verify = try cv(["audit", "verify"])
        XCTAssertEqual(verify.status, 0, "\(what): \(verify.err)", line: line)
        let integrity = try Support.run("sqlite3", [vaultPath, "PRAGMA integrity_check"]).out
        XCTAssertEqual(integrity.trimmingCharacters(in: .whitespacesAndNewlines), "ok", what, line: line)
        let outDir = dir.appendingPathComponent(out).path
        let files = try FileManager.default.contentsOfDirectory(atPath: outDir)
        XCTAssertEqual(files.filter { $0.hasPrefix(".") || $0.hasSuffix(".tmp") }, [], "\(what): leftovers", line: line)
        // Every file carrying a key has its record, with its digest.
        let log = try cv(["audit", "log", "--action", "entry.export", "--json"])
        let records = try JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]] ?? []
        let digests = Set(records.compactMap { ($0["details"] as? [String: Any])?["file_sha256"] as? String })
        for name in files where name.hasSuffix(".pfx") || name.hasSuffix(".pem") {
            let sha = try Support.sh("sha256sum '\(outDir)/\(name)' | cut -d' ' -f1").out
                .trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertTrue(digests.contains(sha), "\(what): \(name) exists without its record", line: line)
        }
    }

    func killed(_ args: [String], at point: String, line: UInt = #line) throws {
        let r = try cv(args + ["--passphrase-file", file("alice.pass")], env: ["CERTVAULT_FAULT": point])
        XCTAssertEqual(r.status, 9, "\(args.first!) at \(point) was not killed: \(r.err)", line: line)
    }

    func testKillsAtNamedPointsLoseNothing() throws {
        let exports: [(String, [String])] = [
            ("pfx", ["--format", "pfx", "--password-file", file("x.pw")]),
            ("key", ["--format", "key", "--password-file", file("x.pw")]),
            ("plain", ["--format", "key", "--unencrypted"]),
        ]
        for point in ["change.before-commit", "change.after-commit"] {
            for (name, options) in exports {
                let target = dir.appendingPathComponent(out).appendingPathComponent("\(name)-\(point).pem").path
                try killed(["export", "k", "--out", target] + options, at: point)
                XCTAssertFalse(FileManager.default.fileExists(atPath: target), "\(name) at \(point) left its file")
                try assertIntact("export \(name) at \(point)")
            }
        }
        let pfx = try Support.makePFX(in: dir, name: "imp", key: "ec:prime256v1")
        try Support.write("secret\n", to: dir.appendingPathComponent("imp.pw"))
        try killed(["import", pfx.pfx, "--password-file", file("imp.pw")], at: "change.before-commit")
        XCTAssertFalse(try cv(["list"]).out.contains("imp"))
        try assertIntact("import")
        try Support.write("new person\n", to: dir.appendingPathComponent("new.pass"))
        try killed(
            [
                "person", "add", "zoe", "--role", "officer", "--kdf", "interactive", "--new-passphrase-file",
                file("new.pass"),
            ],
            at: "change.before-commit"
        )
        XCTAssertFalse(try cv(["person", "list"]).out.contains("zoe"))
        try assertIntact("person add")
        // Backups: killed after the record, and after the copy is made.
        let backup = dir.appendingPathComponent(out).appendingPathComponent("b.db").path
        for point in ["change.after-commit", "backup.copied"] {
            try killed(["backup", backup], at: point)
            XCTAssertFalse(FileManager.default.fileExists(atPath: backup))
            // What the killed backup left is removed by the next one.
            XCTAssertEqual(try cvAsAlice(["backup", backup, "--force"]).status, 0)
            try FileManager.default.removeItem(atPath: backup)
            try assertIntact("backup at \(point)")
        }
    }

    /// The file an export was to write appears after its record committed
    /// and before the file is linked: nothing is overwritten, the command
    /// says no file was written, and a second signed record says so too.
    func testExportWhoseDestinationAppearsAfterCommitIsRecordedAsUnwritten() throws {
        let target = dir.appendingPathComponent(out).appendingPathComponent("late.pfx").path
        let r = try runStopped(
            [
                "export", "k", "--format", "pfx", "--out", target, "--password-file", file("x.pw"),
                "--passphrase-file", file("alice.pass"),
            ],
            actor: "alice",
            at: "change.after-commit"
        ) { try Support.write("someone else's file\n", to: URL(fileURLWithPath: target)) }
        let err = r.err
        XCTAssertEqual(r.status, 4, err)
        XCTAssertTrue(err.contains("\(target) already exists; no file was written, and record "), err)
        XCTAssertTrue(err.contains(" was committed)"), err)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "someone else's file\n")
        let log = try cv(["audit", "log", "--action", "entry.export-unwritten"])
        XCTAssertEqual(log.status, 0, log.err)
        XCTAssertTrue(log.out.contains("late.pfx not written"), log.out)
        try FileManager.default.removeItem(atPath: target)
        try assertIntact("export unwritten")
    }

    /// A few kills at random moments of exports and imports.
    func testKillsAtRandomMomentsLoseNothing() throws {
        let binary = CLITestCase.binary
        for i in 0..<6 {
            let target = dir.appendingPathComponent(out).appendingPathComponent("r\(i).pem").path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = [
                "export", "k", "--format", "key", "--unencrypted", "--out", target, "--passphrase-file",
                file("alice.pass"),
            ]
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTVAULT_") }
            environment["CERTVAULT_VAULT"] = vaultPath
            environment["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
            p.environment = environment
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32(20_000 + (i * 37_000) % 200_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            try assertIntact("random kill \(i)")
        }
    }
}
