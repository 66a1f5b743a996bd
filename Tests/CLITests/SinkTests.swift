import Foundation
import TestSupport
import XCTest

/// Audit sinks: a copy of every record outside the machine's vault file,
/// written before a key is released, that an old copy of the vault cannot
/// take back (finding 5 of issue 25).
final class SinkTests: CLITestCase {
    var sink: String { file("sink.jsonl") }
    override var defaultActor: String? { "alice" }

    /// A vault with one key, bob an officer holding it, and a file sink.
    func makeVaultWithSink() throws {
        try initVault()
        let r = try cvAsAlice([
            "import", realWorld("ValidCertificatePathTest1EE_firefox.p12"), "--alias", "web", "--password-file",
            file("corpus.pw"),
        ])
        XCTAssertEqual(r.status, 0, r.err)
        try addPerson("bob", role: "officer")
        let grant = try cvAsAlice(["grant", "web", "bob"])
        XCTAssertEqual(grant.status, 0, grant.err)
        let add = try cv(["audit", "sink", "add", "file", sink])
        XCTAssertEqual(add.status, 0, add.err)
        XCTAssertTrue(add.out.contains("sent 5 records, holds through record 5"), add.out)
    }

    /// The sink's lines, each parsed by Python's json module (not our reader).
    func sinkLines(_ path: String? = nil) throws -> [[String: Any]] {
        let r = try Support.run(
            "python3",
            [
                "-c", "import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))",
                path ?? sink,
            ]
        )
        XCTAssertEqual(r.status, 0, r.err)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
    }

    func exportWeb(_ name: String, as handle: String = "bob", env: [String: String] = [:]) throws -> ProcessResult {
        try cv(
            [
                "export", "web", "--format", "pfx", "--generate-password", "--out", file(name), "--as", handle,
                "--passphrase-file", file("\(handle).pass"),
            ],
            env: env
        )
    }

    /// Runs bob's export, stopped once its record is committed (the
    /// `change.after-commit` fault point); runs `meanwhile`, then lets it go on.
    func exportStoppedAfterCommit(_ name: String, meanwhile: () throws -> Void) throws -> ProcessResult {
        try runStopped(
            [
                "export", "web", "--format", "pfx", "--generate-password", "--out", file(name), "--passphrase-file",
                file("bob.pass"),
            ],
            actor: "bob",
            at: "change.after-commit",
            meanwhile: meanwhile
        )
    }

    /// Puts `copy` back in place of the vault, as someone who kept it would.
    func putBack(_ copy: String) throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: vaultPath + suffix) }
        try FileManager.default.copyItem(atPath: copy, toPath: vaultPath)
    }

    /// Every record reaches the sink, in order, as the signed record itself:
    /// the export's line is there before its file, with the file's SHA-256.
    func testEveryRecordReachesTheSinkBeforeTheKeyLeaves() throws {
        try makeVaultWithSink()
        let r = try exportWeb("web.pfx")
        XCTAssertEqual(r.status, 0, r.err)
        let lines = try sinkLines()
        XCTAssertEqual(lines.map { $0["seq"] as? Int }, Array(1...6))
        let last = try XCTUnwrap(lines.last)
        XCTAssertEqual(last["action"] as? String, "entry.export")
        XCTAssertEqual((last["signature"] as? String)?.count, 128)
        let details = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(try XCTUnwrap(last["details"] as? String).utf8)) as? [String: Any]
        )
        let sha = try Support.run("sha256sum", [file("web.pfx")]).out.prefix(64)
        XCTAssertEqual(details["file_sha256"] as? String, String(sha))
        // Each line links to the one before it by its chain hash.
        for (a, b) in zip(lines, lines.dropFirst()) { XCTAssertEqual(b["prev_hash"] as? String, a["hash"] as? String) }
        let verify = try cv(["audit", "verify", "--against", sink])
        XCTAssertEqual(verify.status, 0, verify.err)
        XCTAssertTrue(verify.out.contains("its 6 records agree with the vault"), verify.out)
        let attrs = try FileManager.default.attributesOfItem(atPath: sink)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    /// Finding 5: an officer puts back the copy of the vault from before his
    /// export. A machine that never saw the later head believes the copy;
    /// the sink does not, on every machine that names it.
    func testAnOfficerCannotEraseHisExportWhereTheSinkIsNamed() throws {
        try makeVaultWithSink()
        try FileManager.default.copyItem(atPath: vaultPath, toPath: file("before.db"))
        XCTAssertEqual(try exportWeb("taken.pfx").status, 0)
        try putBack(file("before.db"))
        let elsewhere = ["XDG_STATE_HOME": file("other-machine")]

        // The copy verifies on its own: what the witness of a fresh machine cannot see.
        XCTAssertEqual(try cv(["audit", "verify"], env: elsewhere).status, 0)
        let against = try cv(["audit", "verify", "--against", sink], env: elsewhere)
        XCTAssertEqual(against.status, 5, against.err)
        XCTAssertTrue(
            against.err.contains(
                "finding: \(sink): record 6: the vault lacks this record, which the sink holds (line 6: entry.export by bob at"
            ),
            against.err
        )
        XCTAssertTrue(against.err.contains("error: the vault lacks 1 signed record that the sink"), against.err)

        // No key leaves on the rolled-back copy while the sink holds more, even with a genuine
        // old line appended again to pass for the sink's end.
        let replay = try String(contentsOfFile: sink, encoding: .utf8).split(separator: "\n")[2] + "\n"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: sink))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(replay.utf8))
        try handle.close()
        let again = try exportWeb("again.pfx", env: elsewhere)
        XCTAssertEqual(again.status, 5, again.err)
        XCTAssertTrue(again.err.contains("holds record 6 (entry.export by bob at"), again.err)
        XCTAssertTrue(again.err.contains("which this vault lacks: the vault was rolled back"), again.err)
        XCTAssertTrue(
            again.err.contains("hint: see every record the vault lacks with 'certvault audit verify --against"),
            again.err
        )
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("again.pfx")))
        XCTAssertEqual(try sinkLines().count, 7, "nothing was appended over the record the vault lacks")

        // Accepting the rollback on purpose is recorded, and the sink keeps the export.
        let accept = try cvAsAlice(["audit", "accept-rollback"], env: elsewhere)
        XCTAssertEqual(accept.status, 0, accept.err)
        XCTAssertTrue(accept.out.contains("accepted the rollback from record 6"), accept.out)
        let lines = try sinkLines()
        XCTAssertEqual(lines.map { $0["seq"] as? Int }, [1, 2, 3, 4, 5, 6, 3, 6])
        XCTAssertEqual(lines.last?["action"] as? String, "vault.rollback-accepted")
        XCTAssertEqual(try exportWeb("after.pfx", env: elsewhere).status, 0)
        let still = try cv(["audit", "verify", "--against", sink], env: elsewhere)
        XCTAssertEqual(still.status, 5, still.err)
        XCTAssertTrue(still.err.contains("line 6: entry.export by bob at"), still.err)
        XCTAssertTrue(still.err.contains("note: \(sink): the vault accepted a rollback in record 6"), still.err)
    }

    /// A sink that cannot be written: the export's record is committed, no
    /// file is linked, the failure is recorded, and no key leaves until the
    /// sink holds every record again.
    func testAFailingSinkReleasesNoKeyUntilSynced() throws {
        try makeVaultWithSink()
        // The sink works when the export starts and fails once its record is
        // committed: its path becomes a symbolic link, which is not followed.
        let r = try exportStoppedAfterCommit("lost.pfx") {
            try FileManager.default.moveItem(atPath: self.sink, toPath: self.file("sink.saved"))
            try FileManager.default.createSymbolicLink(
                atPath: self.sink,
                withDestinationPath: self.file("elsewhere.jsonl")
            )
        }
        XCTAssertEqual(r.status, 4, r.err)
        XCTAssertTrue(
            r.err.contains("error: the records could not be sent to every audit sink: cannot open the audit sink"),
            r.err
        )
        XCTAssertTrue(r.err.contains("no file was written, and record 7 says so (record 6 was committed)"), r.err)
        XCTAssertTrue(r.err.contains("hint: once the sink works again, run 'certvault audit sink sync'"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("lost.pfx")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("elsewhere.jsonl")))
        let log = try cv(["audit", "log", "--action", "entry.export-unwritten", "--json"])
        let records = try XCTUnwrap(JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        XCTAssertEqual(records.count, 1)

        // Refused before any key is decrypted, and nothing is recorded.
        let refused = try exportWeb("refused.pfx")
        XCTAssertEqual(refused.status, 1, refused.err)
        XCTAssertTrue(refused.err.contains("no key is released while an audit sink lacks a record"), refused.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("refused.pfx")))
        XCTAssertEqual(try cv(["audit", "verify"]).out.split(separator: "\n").last?.hasPrefix("7:"), true)

        // The sink is back: sync sends what it lacks, the unwritten record included.
        try FileManager.default.removeItem(atPath: sink)
        try FileManager.default.moveItem(atPath: file("sink.saved"), toPath: sink)
        let sync = try cv(["audit", "sink", "sync"])
        XCTAssertEqual(sync.status, 0, sync.err)
        XCTAssertTrue(sync.out.contains("sent 2 records, holds through record 7"), sync.out)
        XCTAssertEqual(
            try sinkLines().map { $0["action"] as? String }.suffix(2),
            ["entry.export", "entry.export-unwritten"]
        )
        XCTAssertEqual(try exportWeb("now.pfx").status, 0)
        XCTAssertEqual(try cv(["audit", "verify", "--against", sink]).status, 0)
    }

    /// `policy set require-sink on` is an admin's signed decision; a machine
    /// that names no sink then releases no key.
    func testRequireSinkPolicyStopsAMachineWithoutSinks() throws {
        try makeVaultWithSink()
        XCTAssertEqual(try cvAs("bob", ["policy", "set", "require-sink", "on"]).status, 1)
        let set = try cvAsAlice(["policy", "set", "require-sink", "on"])
        XCTAssertEqual(set.status, 0, set.err)
        XCTAssertTrue(set.out.contains("require-sink = on"), set.out)
        XCTAssertTrue(try cv(["policy", "show"]).out.contains("require-sink"))

        let bare = ["XDG_CONFIG_HOME": file("no-config"), "XDG_STATE_HOME": file("other-machine")]
        let r = try exportWeb("bare.pfx", env: bare)
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(
            r.err.contains("error: the vault's policy requires an audit sink, and this machine names none for it"),
            r.err
        )
        XCTAssertTrue(r.err.contains("hint: name one with 'certvault audit sink add file PATH'"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("bare.pfx")))
        // The certificate is no key: it still leaves.
        XCTAssertEqual(try cv(["export", "web", "--format", "cer", "--out", file("web.cer")], env: bare).status, 0)
        // Where the sink is named, keys leave.
        XCTAssertEqual(try exportWeb("named.pfx").status, 0)
        XCTAssertEqual(try cvAsAlice(["policy", "set", "require-sink", "off"]).status, 0)
        XCTAssertEqual(try exportWeb("bare.pfx", env: bare).status, 0)
    }

    /// Where the sinks are is this machine's configuration: never the vault
    /// file, never a file others may write.
    func testSinkConfigurationIsLocalAndOwnerOnly() throws {
        try makeVaultWithSink()
        let config = dir.appendingPathComponent("config/certvault/sinks").path
        // The vault file names no sink: another machine has none.
        let list = try cv(["audit", "sink", "list"], env: ["XDG_CONFIG_HOME": file("no-config")])
        XCTAssertEqual(list.status, 0, list.err)
        XCTAssertTrue(list.out.contains("no audit sink for vault"), list.out)
        XCTAssertEqual(
            try Support.run("sqlite3", [vaultPath, "SELECT count(*) FROM audit WHERE details LIKE '%sink.jsonl%'"]).out
                .trimmingCharacters(in: .whitespacesAndNewlines),
            "0"
        )
        // A configuration others may write is not believed.
        chmod(config, 0o666)
        let r = try exportWeb("w.pfx")
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("may be written by others than root and you: it is not believed"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("w.pfx")))
        chmod(config, 0o600)
        // So is one in a directory others may write: they could remove it.
        let configDir = dir.appendingPathComponent("config/certvault").path
        chmod(configDir, 0o777)
        let d = try exportWeb("w.pfx")
        XCTAssertEqual(d.status, 1, d.err)
        XCTAssertTrue(d.err.contains("which others than root and you may write: it is not believed"), d.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("w.pfx")))
        chmod(configDir, 0o700)
        // Another vault's line does not apply to this one.
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try Support.write(
            "00112233445566778899aabbccddeeff file \(file("other.jsonl"))\n" + text,
            to: URL(fileURLWithPath: config)
        )
        chmod(config, 0o600)
        XCTAssertEqual(try exportWeb("w.pfx").status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("other.jsonl")))
        XCTAssertEqual(try cv(["audit", "sink", "remove", "file", sink]).status, 0)
        XCTAssertTrue(try cv(["audit", "sink", "list"]).out.contains("no audit sink"))
        let bad = try cv(["audit", "sink", "add", "ftp", "x"])
        XCTAssertEqual(bad.status, 2, bad.err)
        XCTAssertTrue(bad.err.contains("error: there is no sink of the kind 'ftp'"), bad.err)
    }

    /// A sink whose lines were removed, altered or forged is caught by
    /// `audit verify --against`, each named.
    func testVerifyAgainstNamesGapsAlteredAndForgedLines() throws {
        try makeVaultWithSink()
        XCTAssertEqual(try exportWeb("one.pfx").status, 0)
        var lines = try String(contentsOfFile: sink, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6)
        // Removed: line 4. Altered: line 2's time. Forged: a copy of line 7 with a new time, its hash
        // recomputed cannot be, so a line with another record's hash and a bad signature is added.
        lines.remove(at: 3)
        lines[1] = lines[1].replacingOccurrences(of: "\"at\":\"20", with: "\"at\":\"19")
        var forged = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(lines[4].utf8)) as? [String: Any]
        )
        forged["seq"] = 7
        forged["prev_hash"] = forged["hash"]
        try Support.write(
            lines.joined(separator: "\n") + "\n"
                + String(decoding: try JSONSerialization.data(withJSONObject: forged), as: UTF8.self)
                + "\n{\"half a line",
            to: URL(fileURLWithPath: file("tampered.jsonl"))
        )
        // A real line of another vault, its vault id changed: its hash holds, its signature is no one's here.
        let other = file("other.db")
        XCTAssertEqual(try cvAsAlice(["init", "--admin", "alice", "--kdf", "interactive", "--vault", other]).status, 0)
        XCTAssertEqual(try cv(["audit", "sink", "add", "file", file("other.jsonl"), "--vault", other]).status, 0)
        let otherLines = try sinkLines(file("other.jsonl"))
        var stranger = try XCTUnwrap(otherLines.last)
        stranger["vault_id"] =
            lines.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?[
                "vault_id"
            ]
        let strangerLine = String(decoding: try JSONSerialization.data(withJSONObject: stranger), as: UTF8.self)
        let tampered = try String(contentsOfFile: file("tampered.jsonl"), encoding: .utf8)
        try Support.write(strangerLine + "\n" + tampered, to: URL(fileURLWithPath: file("tampered.jsonl")))

        let r = try cv(["audit", "verify", "--against", file("tampered.jsonl")])
        XCTAssertEqual(r.status, 5, r.err)
        XCTAssertTrue(
            r.err.contains(
                "record \(otherLines.count): line 1 of the sink (\(stranger["action"] as? String ?? "?")) does not carry the signature of anyone the vault knows"
            ),
            r.err
        )
        XCTAssertTrue(r.err.contains("the sink lacks record 4: lines were removed"), r.err)
        XCTAssertTrue(
            r.err.contains("record 2: line 3 of the sink was altered: its fields do not match its hash"),
            r.err
        )
        XCTAssertTrue(r.err.contains("record 7: line 7 of the sink was altered"), r.err)
        XCTAssertTrue(r.err.contains("note: \(file("tampered.jsonl")): 1 line(s) of the sink are no record"), r.err)
    }

    /// A syslog sink: each record is one message on the socket, and the
    /// captured messages verify against the vault.
    func testSyslogSinkSendsEveryRecord() throws {
        try makeVaultWithSink()
        let socketPath = file("log.sock")
        let capture = file("syslog.txt")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [
            "-c",
            """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(30)
            open(sys.argv[1] + ".ready", "w").close()
            with open(sys.argv[2], "ab") as f:
                while True:
                    try: d = s.recv(1 << 20)
                    except socket.timeout: break
                    f.write(d + b"\\n"); f.flush()
            """,
            socketPath, capture,
        ]
        try server.run()
        defer { server.terminate() }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socketPath + ".ready") { usleep(50_000) }
        let add = try cv(["audit", "sink", "add", "syslog", "cv-test", "--socket", socketPath])
        XCTAssertEqual(add.status, 0, add.err)
        XCTAssertTrue(add.out.contains("syslog cv-test \(socketPath): sent 5 records"), add.out)
        XCTAssertEqual(try exportWeb("s.pfx").status, 0)
        usleep(300_000)
        let text = try String(contentsOfFile: capture, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<86>"), text)
        XCTAssertTrue(text.contains(" cv-test["), text)
        let verify = try cv(["audit", "verify", "--against", capture])
        XCTAssertEqual(verify.status, 0, verify.err)
        XCTAssertTrue(verify.out.contains("its 6 records agree with the vault"), verify.out)
        // The daemon is gone: the key stays.
        server.terminate()
        server.waitUntilExit()
        try? FileManager.default.removeItem(atPath: socketPath)
        let r = try exportWeb("gone.pfx")
        XCTAssertEqual(r.status, 4, r.err)
        XCTAssertTrue(r.err.contains("no syslog daemon takes messages at \(socketPath)"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("gone.pfx")))
    }

    /// Junk appended to the sink — a line of megabytes, a line of another
    /// vault — stops no export and costs little.
    func testJunkInTheSinkStopsNothing() throws {
        try makeVaultWithSink()
        let first = try XCTUnwrap(try String(contentsOfFile: sink, encoding: .utf8).split(separator: "\n").first)
        let stranger = first.replacingOccurrences(
            of: #""vault_id":"[0-9a-f]{32}""#,
            with: "\"vault_id\":\"ffffffffffffffffffffffffffffffff\"",
            options: .regularExpression
        )
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: sink))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: UInt8(ascii: "A"), count: 16 << 20) + Data("\n".utf8))
        try handle.write(contentsOf: Data((stranger + "\n").utf8))
        try handle.close()
        let started = Date()
        let r = try exportWeb("web.pfx")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertLessThan(
            Date().timeIntervalSince(started),
            10,
            "a 16 MiB line is read once, not searched again and again"
        )
        let verify = try cv(["audit", "verify", "--against", sink])
        XCTAssertEqual(verify.status, 0, verify.err)
        XCTAssertTrue(verify.err.contains("1 line(s) of the sink are another vault's records"), verify.err)
    }

    /// A sink file removed (or replaced, or cut) since this machine wrote it
    /// could hide what it held: keys wait until someone syncs on purpose.
    func testARemovedSinkFileIsNoticed() throws {
        try makeVaultWithSink()
        try FileManager.default.removeItem(atPath: sink)
        let r = try exportWeb("web.pfx")
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("was replaced, cut or removed since this machine last wrote it"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("web.pfx")))
        let sync = try cv(["audit", "sink", "sync"])
        XCTAssertEqual(sync.status, 0, sync.err)
        XCTAssertTrue(sync.err.contains("warning: file \(sink) was replaced, cut or removed"), sync.err)
        XCTAssertEqual(try sinkLines().first?["seq"] as? Int, 1, "the whole log again")
        XCTAssertEqual(try exportWeb("web.pfx").status, 0)
        XCTAssertEqual(try cv(["audit", "verify", "--against", sink]).status, 0)
    }
}
