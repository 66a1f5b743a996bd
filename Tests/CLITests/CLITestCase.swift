import Foundation
import TestSupport
import XCTest

/// The built `certvault` binary, driven as a person or a script would.
class CLITestCase: XCTestCase {
    var dir: URL!
    var vaultPath: String { dir.appendingPathComponent("vault.db").path }

    static let binary: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "certvault"
            ),
            Bundle.main.bundleURL.appendingPathComponent("certvault"),
            Support.root.appendingPathComponent(".build/debug/certvault"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path ?? candidates.last!.path
    }()

    override func setUpWithError() throws {
        dir = try Support.temporaryDirectory()
        try Support.write("alice passphrase\n", to: dir.appendingPathComponent("alice.pass"))
        try Support.write("password\n", to: dir.appendingPathComponent("corpus.pw"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Who acts when a test does not say (`CERTVAULT_USER`); nil lets
    /// certvault pick the only person who can unlock.
    var defaultActor: String? { nil }

    @discardableResult
    func cv(
        _ args: [String],
        env: [String: String] = [:],
        binary: String = CLITestCase.binary,
        stdin: Data? = nil
    ) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTVAULT_") }
        environment["CERTVAULT_VAULT"] = vaultPath
        environment["CERTVAULT_USER"] = defaultActor
        environment["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
        // This test's own sink configuration, never the user's.
        environment["XDG_CONFIG_HOME"] = dir.appendingPathComponent("config").path
        environment["CERTVAULT_PASSPHRASE_FILE_UNUSED"] = nil
        for (k, v) in env { environment[k] = v }
        return try Support.run(binary, args, stdin: stdin, environment: environment)
    }

    /// Runs `certvault` as `actor` until it stops itself at the fault point
    /// `point` (`CERTVAULT_FAULT=POINT:stop`), runs `meanwhile` (the world
    /// changing under it), then lets it go on and returns what it said.
    /// The environment a background `certvault` runs in: this test's vault,
    /// state and configuration, `actor` acting, no other `CERTVAULT_` variable.
    func environment(actor: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTVAULT_") }
        environment["CERTVAULT_VAULT"] = vaultPath
        environment["CERTVAULT_USER"] = actor
        environment["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
        environment["XDG_CONFIG_HOME"] = dir.appendingPathComponent("config").path
        return environment
    }

    func runStopped(
        _ args: [String],
        actor: String,
        at point: String,
        meanwhile: () throws -> Void
    ) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITestCase.binary)
        p.arguments = args
        var environment = environment(actor: actor)
        environment["CERTVAULT_FAULT"] = point + ":stop"
        p.environment = environment
        let stderr = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = stderr
        try p.run()
        // Wait until it stops itself at the point.
        var stopped = false
        for _ in 0..<3_000 where !stopped {
            let stat = (try? String(contentsOfFile: "/proc/\(p.processIdentifier)/stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).prefix(1)
            stopped = state == "T"
            // Process.isRunning is false for a stopped process: read the state instead.
            if state == "Z" || stat.isEmpty { break }
            if !stopped { usleep(10_000) }
        }
        guard stopped else {
            kill(p.processIdentifier, SIGKILL)
            XCTFail("the command never reached \(point)")
            return ProcessResult(status: -1, stdout: Data(), stderr: Data())
        }
        try meanwhile()
        kill(p.processIdentifier, SIGCONT)
        // Never hang the suite: a process that does not finish is killed.
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { kill(pid, SIGKILL) }
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return ProcessResult(status: p.terminationStatus, stdout: Data(), stderr: err)
    }

    /// Runs `certvault` as `handle`, their passphrase from the test directory's `HANDLE.pass`.
    @discardableResult
    func cvAs(_ handle: String, _ args: [String]) throws -> ProcessResult {
        try cv(args + ["--as", handle, "--passphrase-file", file("\(handle).pass")])
    }

    /// Adds `handle` with `role` as alice, with a cheap keyslot whose
    /// passphrase is written to `HANDLE.pass` (for ``cvAs(_:_:)``).
    func addPerson(_ handle: String, role: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try Support.write("\(handle) passphrase\n", to: dir.appendingPathComponent("\(handle).pass"))
        let r = try cvAsAlice([
            "person", "add", handle, "--role", role, "--kdf", "interactive", "--new-passphrase-file",
            self.file("\(handle).pass"),
        ])
        XCTAssertEqual(r.status, 0, r.err, file: file, line: line)
    }

    /// Runs `certvault` as alice, her passphrase read from a file.
    func cvAsAlice(
        _ args: [String],
        env: [String: String] = [:],
        binary: String = CLITestCase.binary
    ) throws -> ProcessResult {
        try cv(args + ["--passphrase-file", file("alice.pass")], env: env, binary: binary)
    }

    /// Runs SQL on the vault with the `sqlite3` tool, as an attacker with
    /// write access would: the append-only triggers are dropped first and
    /// put back exactly as they were afterwards.
    func tamper(_ sql: String, vault: String? = nil) throws {
        let path = vault ?? vaultPath
        let triggers = try Support.run(
            "sqlite3",
            [path, "SELECT sql || ';' FROM sqlite_master WHERE type = 'trigger'"]
        ).out
        let drop =
            "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; DROP TRIGGER IF EXISTS custody_no_delete;"
        let r = try Support.run("sqlite3", [path], stdin: Data((drop + "\n" + sql + ";\n" + triggers).utf8))
        XCTAssertEqual(r.status, 0, "sqlite3: \(r.err)")
    }

    func initVault() throws {
        let r = try cvAsAlice(["init", "--admin", "alice", "--kdf", "interactive"])
        XCTAssertEqual(r.status, 0, r.err)
    }

    func realWorld(_ name: String) -> String { Support.realWorld.appendingPathComponent(name).path }

    /// Runs certvault on a pseudo-terminal (its stdin, stdout and stderr),
    /// as a person at a terminal would; when `prompt` appears, types `reply`
    /// and a newline. Returns everything the terminal showed.
    func onTerminal(_ args: [String], prompt: String? = nil, reply: String = "") throws -> ProcessResult {
        let script = """
            import os, pty, sys
            binary, vault, prompt, reply = sys.argv[1:5]
            pid, fd = pty.fork()
            if pid == 0:
                env = {k: v for k, v in os.environ.items() if not k.startswith("CERTVAULT_")}
                env["CERTVAULT_VAULT"] = vault
                env["XDG_STATE_HOME"] = os.path.dirname(vault) + "/state"
                env["XDG_CONFIG_HOME"] = os.path.dirname(vault) + "/config"
                os.execve(binary, [binary] + sys.argv[5:], env)
            seen = b""
            if prompt:
                while prompt.encode() not in seen:
                    seen += os.read(fd, 1024)
                os.write(fd, reply.encode() + b"\\n")
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        return try Support.run("python3", ["-c", script, CLITestCase.binary, vaultPath, prompt ?? "", reply] + args)
    }

    /// Runs certvault on a pseudo-terminal and answers a conversation: for
    /// each (prompt, reply), waits until `prompt` appears after the previous
    /// answer, then types `reply` and a newline. `env` adds variables.
    func conversation(
        _ args: [String],
        _ turns: [(prompt: String, reply: String)],
        env: [String: String] = [:]
    ) throws -> ProcessResult {
        let script = """
            import os, pty, sys, json, select, time
            binary, vault, turns, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
            pid, fd = pty.fork()
            if pid == 0:
                env = {k: v for k, v in os.environ.items() if not k.startswith("CERTVAULT_")}
                env["CERTVAULT_VAULT"] = vault
                env["XDG_STATE_HOME"] = os.path.dirname(vault) + "/state"
                env["XDG_CONFIG_HOME"] = os.path.dirname(vault) + "/config"
                env.update(extra)
                os.execve(binary, [binary] + sys.argv[5:], env)
            seen = b""
            start = 0
            def read(timeout):
                global seen
                r, _, _ = select.select([fd], [], [], timeout)
                if not r:
                    return False
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return None
                if not chunk:
                    return None
                seen += chunk
                return True
            for prompt, reply in turns:
                deadline = time.time() + 60
                while prompt.encode() not in seen[start:]:
                    if read(1) is None or time.time() > deadline:
                        break
                start = seen.find(prompt.encode(), start) + len(prompt)
                os.write(fd, reply.encode() + b"\\n")
            while read(60):
                pass
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        let turnsJSON = String(
            decoding: try JSONSerialization.data(withJSONObject: turns.map { [$0.prompt, $0.reply] }),
            as: UTF8.self
        )
        let envJSON = String(decoding: try JSONSerialization.data(withJSONObject: env), as: UTF8.self)
        return try Support.run(
            "python3",
            ["-c", script, CLITestCase.binary, vaultPath, turnsJSON, envJSON] + args
        )
    }
}
