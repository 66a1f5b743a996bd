import Foundation

/// What a finished process said.
public struct ProcessResult {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var out: String { String(decoding: stdout, as: UTF8.self) }
    public var err: String { String(decoding: stderr, as: UTF8.self) }

    public init(status: Int32, stdout: Data, stderr: Data) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

public enum Support {
    /// The package's root directory.
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Files written by other tools (generate.sh), judged by the manifest.
    public static let corpus = root.appendingPathComponent("Tests/CertVaultTests/Fixtures/corpus")

    /// The real-world PKCS#12 exports (copied from shared/corpus/real-world).
    public static let realWorld = root.appendingPathComponent("Tests/CertVaultTests/Fixtures/real-world")

    /// Runs a program (found on PATH when not absolute) and waits for it.
    @discardableResult
    public static func run(
        _ program: String,
        _ arguments: [String],
        stdin: Data? = nil,
        environment: [String: String]? = nil,
        cwd: URL? = nil
    ) throws -> ProcessResult {
        let process = Process()
        if program.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        }
        if let environment { process.environment = environment }
        if let cwd { process.currentDirectoryURL = cwd }
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        if let stdin { inPipe.fileHandleForWriting.write(stdin) }
        try inPipe.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty process cannot block.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = errPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: outData, stderr: errData)
    }

    /// Runs a shell command line; throws when it fails.
    @discardableResult
    public static func sh(_ command: String, cwd: URL? = nil) throws -> ProcessResult {
        let r = try run("/bin/bash", ["-c", "set -euo pipefail; " + command], cwd: cwd)
        guard r.status == 0 else {
            throw NSError(
                domain: "sh",
                code: Int(r.status),
                userInfo: [NSLocalizedDescriptionKey: "\(command) failed (\(r.status)): \(r.err)"]
            )
        }
        return r
    }

    /// A new empty directory, removed at process exit is not guaranteed:
    /// tests use unique names under the system temp directory.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("certvault-test-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A key pair from `age-keygen`, written to `path`: the identity file
    /// and the recipient (`age1…`) it prints as its public key.
    public static func ageKeygen(_ path: String) throws -> (identity: String, recipient: String) {
        let r = try run("age-keygen", ["-o", path])
        guard r.status == 0 else { throw SupportError(message: "age-keygen: \(r.err)") }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("# public key: ") }) else {
            throw SupportError(message: "age-keygen wrote no public key")
        }
        return (path, String(line.dropFirst("# public key: ".count)))
    }

    /// Writes `text` to a file and returns its path.
    @discardableResult
    /// Writes `text` to a file private to its owner (0600), as a secret
    /// file should be.
    public static func write(_ text: String, to url: URL) throws -> String {
        try Data(text.utf8).write(to: url)
        chmod(url.path, 0o600)
        return url.path
    }

    /// Makes an RSA key and a self-signed certificate with openssl, and a
    /// `.pfx` of them. Returns the paths of (pfx, cert PEM, key PEM).
    @discardableResult
    public static func makePFX(
        in dir: URL,
        name: String,
        password: String = "secret",
        legacy: Bool = false,
        extra: String = "",
        key: String = "rsa:2048"
    ) throws -> (pfx: String, cert: String, key: String) {
        let d = dir.path
        let newkey = key.hasPrefix("ec:") ? "ec -pkeyopt ec_paramgen_curve:\(key.dropFirst(3))" : key
        try sh(
            """
            cd '\(d)'
            openssl req -x509 -newkey \(newkey) -nodes -keyout '\(name).key' -out '\(name).crt' -days 30 -subj '/CN=\(name)'
            openssl pkcs12 -export \(legacy ? "-legacy" : "") \(extra) -inkey '\(name).key' -in '\(name).crt' -out '\(name).pfx' -passout 'pass:\(password)' -name '\(name)'
            """
        )
        return ("\(d)/\(name).pfx", "\(d)/\(name).crt", "\(d)/\(name).key")
    }

    /// DER of the first certificate in a PEM file, as openssl writes it.
    public static func certificateDER(pem path: String) throws -> Data {
        try sh("openssl x509 -in '\(path)' -outform der").stdout
    }

    /// PKCS#8 DER of a PEM private key, as openssl writes it.
    public static func pkcs8DER(pem path: String) throws -> Data {
        try sh("openssl pkcs8 -topk8 -nocrypt -in '\(path)' -outform der").stdout
    }
}

/// A test helper that could not do its job.
public struct SupportError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
