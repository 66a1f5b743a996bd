import Foundation
import TestSupport
import XCTest

/// The built `certvault` binary, driven as a person or a script would.
class CLITestCase: XCTestCase {
    var dir: URL!
    var vaultPath: String { dir.appendingPathComponent("vault.db").path }

    static let binary: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("certvault"),
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

    @discardableResult
    func cv(_ args: [String], env: [String: String] = [:], binary: String = CLITestCase.binary) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTVAULT_") }
        environment["CERTVAULT_VAULT"] = vaultPath
        environment["CERTVAULT_PASSPHRASE_FILE_UNUSED"] = nil
        for (k, v) in env { environment[k] = v }
        return try Support.run(binary, args, environment: environment)
    }

    func initVault() throws {
        let r = try cv(["init", "--admin", "alice", "--kdf", "interactive", "--passphrase-file", file("alice.pass")])
        XCTAssertEqual(r.status, 0, r.err)
    }

    func realWorld(_ name: String) -> String { Support.realWorld.appendingPathComponent(name).path }
}
