import CertVault
import Foundation

/// `certvault-bench --scale N`: a vault of N entries, and the time `check`,
/// `list --expiring 30` and `list` take on it, beside `sqlite3` selecting the
/// same columns from the same file (the limit a query cannot beat).
enum ScaleBenchmark {
    static func run(entries: Int, cli: String) throws {
        // `--reuse DIR`: the vault a `--keep` run left there, measured again without filling it.
        let reuse = CommandLine.arguments.firstIndex(of: "--reuse").flatMap {
            $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil
        }
        let root =
            reuse ?? FileManager.default.temporaryDirectory.appendingPathComponent("certvault-scale-\(getpid())").path
        let path = root + "/scale.db"
        let keep = reuse != nil || CommandLine.arguments.contains("--keep")
        defer { if keep { note("kept \(root)") } else { try? FileManager.default.removeItem(atPath: root) } }
        let vault: Vault
        if reuse != nil {
            vault = try Vault.open(at: path, witness: nil)
            FileHandle.standardError.write(Data("certvault scale benchmark: the vault in \(root)\n".utf8))
        } else {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            vault = try fill(path, entries: entries)
        }
        let env = ["CERTVAULT_VAULT": path, "XDG_STATE_HOME": root + "/state"]
        // The first run records the witness; every figure below is the best of three.
        try runCLI(cli, ["list"], env: env)
        func best(_ body: () throws -> Void) rethrows -> Double {
            var t = Double.infinity
            for _ in 0..<3 { t = min(t, try seconds(body)) }
            return t
        }
        let columns =
            "id, alias, purpose, subscription, domains, tags, sha1, subject, not_before, not_after, "
            + "key_algorithm, key_bits, signature_algorithm, sans, self_signed, is_ca, status, needs_rotation, cert_der"
        let limit = try best { try runCLI("/usr/bin/sqlite3", [path, "SELECT \(columns) FROM entries"], env: [:]) }
        let check = try best { try runCLI(cli, ["check"], env: env) }
        let expiring = try best { try runCLI(cli, ["list", "--expiring", "30"], env: env) }
        let list = try best { try runCLI(cli, ["list"], env: env) }
        let library = try best { _ = try Vault.open(at: path, witness: nil).check() }
        line(
            "sqlite3 selecting the same columns (the limit)",
            "\(fmt(limit * 1000, 0)) ms",
            value: limit * 1000,
            unit: "ms"
        )
        for (label, t) in [
            ("certvault check", check), ("certvault list --expiring 30", expiring), ("certvault list", list),
        ] {
            line(
                label,
                "\(fmt(t * 1000, 0)) ms = \(fmt(t / limit, 2))x the limit",
                value: t * 1000,
                unit: "ms",
                limit: limit * 1000
            )
        }
        line(
            "Vault.check() via the library (fresh open)",
            "\(fmt(library * 1000, 0)) ms",
            value: library * 1000,
            unit: "ms"
        )

        // The audit log: printed beside sqlite3 selecting the same columns, and verified beside Ed25519.
        let records = try vault.auditHead()?.seq ?? 0
        let logLimit = try best {
            try runCLI(
                "/usr/bin/sqlite3",
                [path, "SELECT seq, at, actor_id, action, entry_id, person_id, details FROM audit"],
                env: [:]
            )
        }
        let log = try best { try runCLI(cli, ["audit", "log"], env: env) }
        line(
            "sqlite3 selecting the audit columns (\(records) records)",
            "\(fmt(logLimit * 1000, 0)) ms",
            value: logLimit * 1000,
            unit: "ms"
        )
        line(
            "certvault audit log",
            "\(fmt(log * 1000, 0)) ms = \(fmt(log / logLimit, 2))x the limit",
            value: log * 1000,
            unit: "ms",
            limit: logLimit * 1000
        )
        try Benchmarking.verifyLines("certvault audit verify (best of 3)", records: Int(records)) {
            try runCLI(cli, ["audit", "verify"], env: env)
        }
        // What the tables and the storage add: the log alone, in this process.
        try Benchmarking.verifyLines("  the log alone (chain, signatures; library)", records: Int(records)) {
            let findings = try vault.verifyLogOnly()
            precondition(findings == 0)
        }
    }

    /// A new vault at `path` with `entries` certificates, imported 2,000 at a time.
    static func fill(_ path: String, entries: Int) throws -> Vault {
        let passphrase = SecureBytes(utf8: "bench passphrase, long enough")
        let vault = try Vault.create(
            at: path,
            admin: .init(handle: "alice", role: .admin),
            passphrase: passphrase,
            kdf: .interactive
        )
        let session = try vault.unlock(handle: "alice", passphrase: passphrase)
        let password = SecureBytes(utf8: "scale")
        FileHandle.standardError.write(
            Data(
                "certvault scale benchmark: \(entries) entries, \(ProcessInfo.processInfo.activeProcessorCount) cores\n"
                    .utf8
            )
        )
        let fill = try seconds {
            var made = 0
            while made < entries {
                let n = min(2_000, entries - made)
                var files: [ImportFile] = []
                for i in made..<(made + n) {
                    let key = try PrivateKey.generate(.ec(.p256))
                    let name = "scale-\(i).example.com"
                    var builder = CertificateBuilder(subject: "CN=\(name),O=certvault bench")
                    // Lifetimes from 1 to 400 days: some expire within 30 days, some have.
                    builder.days = 1 + i % 400
                    builder.notBefore = Date().addingTimeInterval(-Double(i % 50) * 86_400)
                    builder.extensions = [("subjectAltName", "DNS:\(name)"), ("extendedKeyUsage", "serverAuth")]
                    let data = try PKCS12.create(
                        key: key,
                        certificate: try builder.build(key: key),
                        chain: [],
                        friendlyName: name,
                        password: .bytes(password),
                        profile: .modern,
                        iterations: 1
                    )
                    files.append(try Importer.read(data: data, label: name + ".pfx", password: password))
                }
                _ = try session.importFiles(files)
                made += n
                FileHandle.standardError.write(Data("\rfilled \(made)/\(entries)".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        line("fill the vault (library, in batches of 2,000)", "\(fmt(fill, 0)) s", value: fill, unit: "s")
        session.lock()
        return vault
    }

    @discardableResult
    static func runCLI(_ binary: String, _ args: [String], env: [String: String]) throws -> Int32 {
        try runMeasuringMemory(binary, args, env: env, sample: false).0
    }
}
