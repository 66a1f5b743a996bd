import Foundation
import TestSupport
import XCTest

/// `certvault shell` at a pseudo-terminal: one unlock for a batch of work,
/// an idle lock, Ctrl-C, a hangup, and a history that keeps no secret.
final class ShellTests: CLITestCase {
    func prepare() throws {
        try initVault()
        XCTAssertEqual(try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1"]).status, 0)
    }

    /// Starts the shell on a pseudo-terminal, answers the first passphrase
    /// prompt, then runs `body` (Python, with `pid` and `fd`).
    func shell(_ body: String, args: [String] = []) throws -> ProcessResult {
        try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(binary, [binary] + args, environment())
            assert expect(fd, "Passphrase for alice: "), seen
            os.write(fd, b"alice passphrase\\n")
            assert expect(fd, "certvault alice> "), seen
            \(body.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n"))
            end(pid, fd)
            """,
            ["shell", "--as", "alice"] + args
        )
    }

    func testOneUnlockForThreeCommands() throws {
        try prepare()
        let r = try shell(
            """
            for line in [b"list", b"rename m1 m2", b"export m2 --format cer --out \(file("m2.cer"))"]:
                os.write(fd, line + b"\\n")
                assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"exit\\n")
            """
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(r.out.components(separatedBy: "Passphrase for alice: ").count, 2, "asked once: \(r.out)")
        XCTAssertTrue(r.out.contains("renamed entry 1 from m1 to m2"), r.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("m2.cer")))
        XCTAssertTrue(r.out.contains("locked; the keys are wiped"), r.out)
        // Recorded exactly as from the command line: by alice, signed, verified.
        let log = try cv(["audit", "log", "--action", "entry.rename", "--json"])
        let records = try XCTUnwrap(try JSONSerialization.jsonObject(with: log.stdout) as? [[String: Any]])
        XCTAssertEqual(records.first?["actorHandle"] as? String, "alice")
        XCTAssertEqual(try cv(["audit", "verify"]).status, 0)
    }

    func testIdleTimeoutLocksAndTheNextCommandAsksAgain() throws {
        try prepare()
        let r = try shell(
            """
            assert expect(fd, "locked after", timeout=30), seen
            assert expect(fd, "certvault alice (locked)> "), seen
            os.write(fd, b"rename m1 m2\\n")
            assert expect(fd, "Passphrase for alice: "), seen
            os.write(fd, b"alice passphrase\\n")
            assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"lock\\n")
            assert expect(fd, "certvault alice (locked)> "), seen
            os.write(fd, b"list\\n")
            assert expect(fd, "ID  ALIAS"), seen
            assert expect(fd, "certvault alice (locked)> "), seen
            os.write(fd, b"\\x04")
            """,
            args: ["--idle", "0.02"]
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(r.out.contains("renamed entry 1 from m1 to m2"), r.out)
        // A command that needs no key runs while locked, without a passphrase.
        XCTAssertEqual(r.out.components(separatedBy: "Passphrase for alice: ").count, 3, r.out)
    }

    func testCtrlCDropsTheLineAndTheShellGoesOn() throws {
        try prepare()
        let r = try shell(
            """
            os.write(fd, b"rename m1 gone\\x03")
            assert expect(fd, "^C"), seen
            assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"show m1\\n")
            assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"exit\\n")
            """
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertEqual(try cv(["show", "m1"]).status, 0, "the dropped line did nothing")
    }

    func testAHangupWipesTheKeysAndLeaves() throws {
        try prepare()
        let r = try shell(
            """
            os.kill(pid, signal.SIGHUP)
            """
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(r.out.contains("locked; the keys are wiped"), r.out)
    }

    func testHistoryKeepsNoSecret() throws {
        try prepare()
        try Support.write("a file password 12345!\n", to: dir.appendingPathComponent("filepw"))
        let r = try shell(
            """
            for line in [b"list", b"export m1 --format pfx --password-file \(file("filepw")) --out \(file("m1.pfx"))",
                         b"alice passphrase", b"check the blue Marmot 1987", b"lock --passphrase-file pp",
                         b"list # --password-file x", b"show m1"]:
                os.write(fd, line + b"\\n")
                assert expect(fd, "certvault alice> "), seen
            # Every line done (help answers after them), then back through the whole history, and drop the line.
            os.write(fd, b"help\\n")
            assert expect(fd, "In the shell:"), seen
            assert expect(fd, "certvault alice> "), seen
            drain(fd, 0.5)
            before = len(seen)
            os.write(fd, b"\\x1b[A" * 10)
            time.sleep(0.5)
            os.write(fd, b"\\x03")
            assert expect(fd, "^C"), seen
            print("BROWSED" + seen[before:].decode(errors="replace") + "END", file=sys.stderr)
            os.write(fd, b"exit\\n")
            """
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file("m1.pfx")))
        // The passphrase typed as a command is not one, and is not repeated.
        XCTAssertTrue(r.out.contains("error: that is not a command (the line is neither shown nor kept)"), r.out)
        XCTAssertEqual(r.out.components(separatedBy: "alice passphrase").count, 2, "shown once, as typed: \(r.out)")
        XCTAssertTrue(r.out.contains("error: lock takes nothing after it"), r.out)
        // What ↑ showed: the commands, never a secret or a line naming a password option.
        let browsed = try XCTUnwrap(r.err.components(separatedBy: "BROWSED").last?.components(separatedBy: "END").first)
        XCTAssertTrue(browsed.contains("show m1"), browsed)
        XCTAssertTrue(browsed.contains("list"), browsed)
        for secret in ["password-file", "alice passphrase", "Marmot", "passphrase-file"] {
            XCTAssertFalse(browsed.contains(secret), "\(secret) in the history: \(browsed)")
        }
    }

    func testAfterALockThePassphraseIsAskedAtTheTerminalNeverReadFromTheFileAgain() throws {
        try prepare()
        let r = try drive(
            """
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(binary, [binary] + args, environment())
            assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"lock\\n")
            assert expect(fd, "certvault alice (locked)> "), seen
            os.write(fd, b"rename m1 m2\\n")
            assert expect(fd, "Passphrase for alice: "), seen
            os.write(fd, b"alice passphrase\\n")
            assert expect(fd, "renamed entry 1"), seen
            assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"exit\\n")
            end(pid, fd)
            """,
            ["shell", "--as", "alice", "--passphrase-file", file("alice.pass")]
        )
        XCTAssertEqual(r.status, 0, r.out + r.err)
    }

    func testASIGTERMAtAPromptInTheShellEndsItAndDoesNothing() throws {
        try prepare()
        let r = try shell(
            """
            os.write(fd, b"export m1 --format pfx --out \(file("x.pfx"))\\n")
            assert expect(fd, "Password for the file"), seen
            os.kill(pid, signal.SIGTERM)
            """
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(r.out.contains("a hangup or SIGTERM arrived at the prompt: nothing was done"), r.out)
        XCTAssertTrue(r.out.contains("locked; the keys are wiped"), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("x.pfx")))
    }

    func testACrashSignalOffersNoInteractiveReportAndPutsTheTerminalBack() throws {
        try prepare()
        let r = try shell(
            """
            os.write(fd, b"export m1 --format pfx --out \(file("x.pfx"))\\n")
            assert expect(fd, "Password for the file"), seen
            os.kill(pid, signal.SIGSEGV)
            """
        )
        // Ended by the signal itself; no backtracer offering to print memory.
        XCTAssertEqual(r.status, Int32(256 - Int(SIGSEGV)), r.out)
        for word in ["Press space", "backtrace", "Crash", "memory"] {
            XCTAssertFalse(r.out.contains(word), r.out)
        }
    }

    func testCtrlZAtTheShellPromptKeepsTheLineEditor() throws {
        try prepare()
        let r = try shell(
            """
            os.kill(pid, signal.SIGTSTP)
            time.sleep(0.3)
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.3)
            print("raw again", not bool(termios.tcgetattr(fd)[3] & termios.ICANON), file=sys.stderr)
            os.write(fd, b"lis\\x03")
            assert expect(fd, "^C"), seen
            assert expect(fd, "certvault alice> "), seen
            os.write(fd, b"exit\\n")
            """
        )
        XCTAssertEqual(r.status, 0, r.out)
        XCTAssertTrue(r.err.contains("raw again True"), r.err)
    }

    func testLinesFromAPipeAndWhatCannotRunInTheShell() throws {
        try prepare()
        let lines = """
            list
            restore \(file("b.db"))
            show m1 --vault /elsewhere.db
            export m1 --format pfx --for nobody --generate-password --out x.pfx
            rename m1 m2

            """
        let r = try cv(
            ["shell", "--as", "alice", "--passphrase-file", file("alice.pass")],
            stdin: Data(lines.utf8)
        )
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("restore cannot run in the shell"), r.err)
        XCTAssertTrue(r.err.contains("the shell works on \(vaultPath)"), r.err)
        XCTAssertTrue(r.out.contains("renamed entry 1 from m1 to m2"), r.out)
    }
}
