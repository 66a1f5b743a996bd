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
        try conversation(args, prompt.map { [($0, reply)] } ?? [])
    }

    /// Runs certvault on a pseudo-terminal and answers a conversation: for
    /// each (prompt, reply), waits until `prompt` appears after the previous
    /// answer, then types `reply` and a newline. `env` adds variables.
    func conversation(
        _ args: [String],
        _ turns: [(prompt: String, reply: String)],
        env: [String: String] = [:]
    ) throws -> ProcessResult {
        // A JSON list of strings is a Python list of strings.
        let turnsLiteral = String(
            decoding: try JSONSerialization.data(
                withJSONObject: turns.map { [$0.prompt, $0.reply] },
                options: [.withoutEscapingSlashes]
            ),
            as: UTF8.self
        )
        return try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(binary, [binary] + args, environment())
            for prompt, reply in \(turnsLiteral):
                expect(fd, prompt)
                os.write(fd, reply.encode() + b"\\n")
            end(pid, fd)
            """,
            args,
            env: env
        )
    }
}

extension CLITestCase {
    /// Runs `script` (Python) with the binary, the vault and `args`; the
    /// script prints what the terminal showed and its own findings.
    func drive(_ script: String, _ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
        let prelude = """
            import os, pty, sys, time, termios, select, signal, json
            binary, vault, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
            args = sys.argv[4:]
            def environment():
                env = {k: v for k, v in os.environ.items() if not k.startswith("CERTVAULT_")}
                env["CERTVAULT_VAULT"] = vault
                env["XDG_STATE_HOME"] = os.path.dirname(vault) + "/state"
                env["XDG_CONFIG_HOME"] = os.path.dirname(vault) + "/config"
                env.update(extra)
                return env
            seen = b""
            def pump(fd, wait):
                # One read of what the terminal shows: True, False after `wait` s of nothing, None at its end.
                global seen
                r, _, _ = select.select([fd], [], [], wait)
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
            def read_until(text, fd, timeout=60):
                deadline = time.time() + timeout
                while text.encode() not in seen and time.time() < deadline:
                    if pump(fd, 1) is None:
                        break
                return text.encode() in seen
            def drain(fd, wait=60):
                while pump(fd, wait):
                    pass
            mark = 0
            def expect(fd, text, timeout=60):
                # Waits for `text` after the last one expected; False if it never came.
                global mark
                deadline = time.time() + timeout
                while text.encode() not in seen[mark:] and time.time() < deadline:
                    if pump(fd, 1) is None:
                        break
                i = seen.find(text.encode(), mark)
                if i < 0:
                    return False
                mark = i + len(text)
                return True
            def finish(pid, fd, timeout=60):
                # The child's status once it ends; killed if it never does.
                deadline = time.time() + timeout
                while time.time() < deadline:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    drain(fd, 0.1)
                    if done:
                        return status
                os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                print("KILLED: never ended", file=sys.stderr)
                return status
            def end(pid, fd):
                # What the terminal showed, on stdout; the child's status as this script's.
                status = finish(pid, fd)
                print(seen.decode(errors="replace"))
                sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
            def echo(fd):
                return bool(termios.tcgetattr(fd)[3] & termios.ECHO)
            def wait_echo(fd, want):
                deadline = time.time() + 30
                while echo(fd) != want and time.time() < deadline:
                    time.sleep(0.02)
                return echo(fd) == want

            """
        let envJSON = String(decoding: try JSONSerialization.data(withJSONObject: env), as: UTF8.self)
        return try Support.run("python3", ["-c", prelude + script, CLITestCase.binary, vaultPath, envJSON] + args)
    }
}
