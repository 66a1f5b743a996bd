import Foundation
import TestSupport
import XCTest

/// The first hour at a terminal: no dead ends. Each test is one point a
/// new user ran into.
final class UsabilityTests: CLITestCase {
    func testVersionAndDidYouMeanForCommandsAndOptions() throws {
        let version = try cv(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(version.out.hasPrefix("certvault "), version.out)
        let cases: [([String], String, String)] = [
            (["lst"], "error: unknown command 'lst'", "hint: did you mean 'certvault list'?"),
            (["rotat", "x", "--passphrase-file", "f"], "unknown command 'rotat'", "did you mean 'certvault rotate'?"),
            (["person", "ad", "bob"], "unknown person command 'ad'", "did you mean 'certvault person add'?"),
            (
                ["export", "x", "--formt", "pfx"], "unknown option '--formt' for 'certvault export'",
                "did you mean '--format'?"
            ),
            (["list", "--expirng=3"], "unknown option '--expirng'", "did you mean '--expiring'?"),
            (["frobnicate"], "unknown command 'frobnicate'", "the commands are: init, import, list"),
        ]
        for (args, message, hint) in cases {
            let r = try cv(args)
            XCTAssertEqual(r.status, 2, "\(args)")
            let lines = r.err.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.count, 2, "\(args): \(r.err)")
            XCTAssertTrue(lines.first?.contains(message) == true, "\(args): \(r.err)")
            XCTAssertTrue(lines.last?.contains(hint) == true, "\(args): \(r.err)")
        }
        // A correct command line is left to the parser: no false alarm on values or after --.
        try initVault()
        XCTAssertEqual(try cv(["list", "--sort", "alias"]).status, 0)
        XCTAssertEqual(try cv(["audit", "log", "--limit", "1"]).status, 0)
    }
}
