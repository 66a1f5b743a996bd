import Foundation
import TestSupport
import XCTest

/// The terminal while a command that may ask runs: type-ahead neither
/// shown nor taken as an answer, and the terminal put back on Ctrl-C and
/// Ctrl-Z. Each test drives the binary on a pseudo-terminal and reads the
/// terminal's own settings (`tcgetattr` on the master side, which Linux
/// answers with the terminal's) as the next program would find them.
final class TerminalTests: CLITestCase {
    func prepare() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
    }

    func testKeysTypedAheadAreNeitherShownNorTakenAsThePassphrase() throws {
        guard try cv(["--version"], env: ["CERTVAULT_FAULT": "no.such-point"]).err.isEmpty else {
            throw XCTSkip("this build has no fault points (build with CERTVAULT_FAULT_POINTS=1)")
        }
        try prepare()
        // Stopped once the command has started, before it asks: the person types ahead.
        let r = try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                env = environment()
                env["CERTVAULT_FAULT"] = "cli.started:stop"
                os.execve(binary, [binary] + args, env)
            def state():
                return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
            deadline = time.time() + 60
            while state() != "T" and time.time() < deadline:
                time.sleep(0.02)
            print("stopped" if state() == "T" else "never stopped", "echo", echo(fd), file=sys.stderr)
            os.write(fd, b"typed-ahead-secret\\n")
            time.sleep(0.3)
            os.kill(pid, signal.SIGCONT)
            read_until("Passphrase for alice: ", fd)
            os.write(fd, b"alice passphrase\\n")
            end(pid, fd)
            """,
            ["rename", "m1", "m2", "--as", "alice"]
        )
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.err.contains("stopped echo False"), r.err)
        // Not echoed while the command worked, and flushed at the prompt: the real answer unlocked.
        XCTAssertFalse(r.out.contains("typed-ahead"), r.out)
        XCTAssertTrue(r.out.contains("renamed entry 1 from m1 to m2"), r.out)
        XCTAssertFalse(r.out.contains("wrong passphrase"), r.out)
    }

    func testCtrlCAtAPromptPutsTheTerminalBack() throws {
        try prepare()
        let r = try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(binary, [binary] + args, environment())
            read_until("Passphrase for alice: ", fd)
            print("at prompt echo", echo(fd), file=sys.stderr)
            os.write(fd, b"half a pass\\x03")
            status = finish(pid, fd)
            print("after echo", echo(fd), "icanon", bool(termios.tcgetattr(fd)[3] & termios.ICANON), file=sys.stderr)
            print(seen.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
            """,
            ["rename", "m1", "m2", "--as", "alice"]
        )
        // Ended by the signal, as Ctrl-C ends any program; the next program finds echo on.
        XCTAssertEqual(r.status, Int32(256 - Int(SIGINT)), r.out + r.err)
        XCTAssertTrue(r.err.contains("at prompt echo False"), r.err)
        XCTAssertTrue(r.err.contains("after echo True icanon True"), r.err)
        XCTAssertFalse(r.out.contains("half a pass"), r.out)
        XCTAssertEqual(try cv(["show", "m1"]).status, 0, "nothing renamed")
    }

    func testCtrlZAtAPromptGivesTheShellItsTerminalAndEchoGoesOffAgain() throws {
        try prepare()
        // A small shell with job control: certvault in its own process group in the
        // foreground; on a stop the shell takes the terminal back, looks, then runs `fg`.
        let r = try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                signal.signal(signal.SIGTTOU, signal.SIG_IGN)
                child = os.fork()
                if child == 0:
                    os.setpgid(0, 0)
                    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
                    os.execve(binary, [binary] + args, environment())
                os.setpgid(child, child)
                os.tcsetpgrp(0, child)
                _, status = os.waitpid(child, os.WUNTRACED)
                if os.WIFSTOPPED(status):
                    os.tcsetpgrp(0, os.getpgrp())
                    os.write(1, b"[shell] stopped, echo=%d\\r\\n" % echo(0))
                    os.tcsetpgrp(0, child)
                    os.kill(child, signal.SIGCONT)
                    _, status = os.waitpid(child, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xff)
            read_until("Passphrase for alice: ", fd)
            os.write(fd, b"\\x1a")
            read_until("[shell] stopped", fd)
            print("echo off again", wait_echo(fd, False), file=sys.stderr)
            os.write(fd, b"alice passphrase\\n")
            end(pid, fd)
            """,
            ["rename", "m1", "m2", "--as", "alice"]
        )
        XCTAssertEqual(r.status, 0, r.out + r.err)
        // While stopped, the shell had echo back; once continued, echo is off again and the prompt goes on.
        XCTAssertTrue(r.out.contains("[shell] stopped, echo=1"), r.out)
        XCTAssertTrue(r.err.contains("echo off again True"), r.err)
        XCTAssertFalse(r.out.contains("alice passphrase"), r.out)
        XCTAssertTrue(r.out.contains("renamed entry 1 from m1 to m2"), r.out)
    }

    func testEverySignalThatEndsTheCommandPutsTheTerminalBack() throws {
        try prepare()
        for sig in [SIGUSR1, SIGALRM, SIGXCPU, SIGTERM, SIGHUP, SIGABRT] {
            let r = try drive(
                """
                pid, fd = pty.fork()
                if pid == 0:
                    os.execve(binary, [binary] + args, environment())
                read_until("Passphrase for alice: ", fd)
                os.kill(pid, \(sig))
                status = finish(pid, fd)
                print("after echo", echo(fd), file=sys.stderr)
                sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
                """,
                ["rename", "m1", "m2", "--as", "alice"]
            )
            XCTAssertEqual(r.status, Int32(256 - Int(sig)), "signal \(sig): \(r.err)")
            XCTAssertTrue(r.err.contains("after echo True"), "signal \(sig): \(r.err)")
        }
    }

    func testAFailedCommandPutsTheTerminalBack() throws {
        try prepare()
        let r = try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(binary, [binary] + args, environment())
            status = finish(pid, fd)
            print("after echo", echo(fd), file=sys.stderr)
            print(seen.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
            """,
            ["rename", "nosuch", "m2", "--as", "alice", "--passphrase-file", file("alice.pass")]
        )
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains("error: "), r.out)
        XCTAssertTrue(r.err.contains("after echo True"), r.err)
    }
}
