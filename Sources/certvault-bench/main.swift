import CertVault
import Foundation

// certvault-bench: prints the figures asked of the vault core. Run it from a
// release build:  swift run -c release certvault-bench [--quick]
// or, for check and list over a large vault:  certvault-bench --scale 100000
// --json prints the figures (value, unit, limit, ratio) as JSON on stdout.
//
// Every figure comes from this one run, on this machine.

let quick = CommandLine.arguments.contains("--quick")
let importCount = quick ? 100 : 1_000
let listCount = quick ? 1_000 : 10_000
let exportCount = quick ? 10 : 50

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// With --json the table goes to stderr and stdout gets one JSON array of
/// the figures: each with its value and unit and, where there is one, the
/// limit it is measured against and their ratio (value / limit).
let jsonOutput = CommandLine.arguments.contains("--json")
nonisolated(unsafe) var figures: [[String: Any]] = []

func line(_ label: String, _ text: String, value: Double? = nil, unit: String = "", limit: Double? = nil) {
    let row = label.padding(toLength: 52, withPad: " ", startingAt: 0) + text
    if jsonOutput { FileHandle.standardError.write(Data((row + "\n").utf8)) } else { print(row) }
    guard let value else { return }
    var figure: [String: Any] = ["figure": label.trimmingCharacters(in: .whitespaces), "value": value, "unit": unit]
    if let limit, limit > 0 {
        figure["limit"] = limit
        figure["ratio"] = value / limit
    }
    figures.append(figure)
}

/// A line that is not a figure: on stderr when stdout carries JSON.
func note(_ text: String) {
    if jsonOutput { FileHandle.standardError.write(Data((text + "\n").utf8)) } else { print(text) }
}

/// Prints the figures as JSON when asked (the last thing a run does).
func printFigures() {
    guard jsonOutput,
        let data = try? JSONSerialization.data(withJSONObject: figures, options: [.prettyPrinted, .sortedKeys])
    else { return }
    print(String(decoding: data, as: UTF8.self))
}

func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

/// Runs `binary` to its end, output discarded.
@discardableResult
func run(_ binary: String, _ args: [String], env: [String: String]) throws -> Int32 {
    try runMeasuringMemory(binary, args, env: env, sample: false).0
}

/// Runs `binary` and returns its exit status and, with `sample`, its peak
/// resident memory (KiB): the last `VmHWM` read from /proc while it runs.
/// (wait4's ru_maxrss would count the parent's memory, inherited at exec.)
func runMeasuringMemory(
    _ binary: String,
    _ args: [String],
    env: [String: String],
    sample: Bool = true
) throws -> (Int32, Int) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    var peak = 0
    while sample && p.isRunning {
        if let status = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
        {
            peak = max(peak, kib)
        }
        usleep(2_000)
    }
    p.waitUntilExit()
    return (p.terminationStatus, peak)
}

// --make-files N DIR writes the import benchmark's N .pfx files (password
// "bench-file-password") into DIR, for profiling an import by hand.
if let i = CommandLine.arguments.firstIndex(of: "--make-files"), i + 2 < CommandLine.arguments.count,
    let n = Int(CommandLine.arguments[i + 1])
{
    let directory = CommandLine.arguments[i + 2]
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let paths = try Benchmarking.makePFXFiles(
            count: n,
            in: directory,
            password: SecureBytes(utf8: "bench-file-password")
        )
        print("wrote \(paths.count) files to \(directory)")
    } catch {
        print("error: \(error)")
        exit(1)
    }
    exit(0)
}

// --parse-limit FILE...: OpenSSL's own PKCS12_parse over the files, one
// core, in a process of its own (certvault's library changes nothing of
// OpenSSL's, but a fresh process is a fair start); prints the rate in files/s.
if let i = CommandLine.arguments.firstIndex(of: "--parse-limit") {
    let files = CommandLine.arguments[(i + 1)...]
    let password = SecureBytes(utf8: "bench-file-password")
    guard let blobs = try? files.map({ try Data(contentsOf: URL(fileURLWithPath: $0)) }) else { exit(1) }
    let start = DispatchTime.now().uptimeNanoseconds
    for blob in blobs where !Benchmarking.opensslParse(blob, password: password) { exit(1) }
    let time = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(Double(blobs.count) / time)
    exit(0)
}

// --read-rate FILE...: certvault's own reader (Importer.read) over the
// files, one core; prints the rate in files/s.
if let i = CommandLine.arguments.firstIndex(of: "--read-rate") {
    let files = Array(CommandLine.arguments[(i + 1)...])
    let password = SecureBytes(utf8: "bench-file-password")
    let start = DispatchTime.now().uptimeNanoseconds
    for file in files {
        guard (try? Importer.read(path: file, password: password)) != nil else { exit(1) }
    }
    print(Double(files.count) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    exit(0)
}

if let i = CommandLine.arguments.firstIndex(of: "--scale"), i + 1 < CommandLine.arguments.count,
    let n = Int(CommandLine.arguments[i + 1])
{
    let cli = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "certvault"
    ).path
    do {
        try ScaleBenchmark.run(entries: n, cli: cli)
        printFigures()
    } catch {
        print("error: \(error)")
        exit(1)
    }
    exit(0)
}

do {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("certvault-bench-\(getpid())").path
    try FileManager.default.createDirectory(atPath: root + "/files", withIntermediateDirectories: true)
    // --keep leaves the vaults behind for profiling (e.g. valgrind --tool=callgrind certvault list).
    let keep = CommandLine.arguments.contains("--keep")
    defer { if keep { note("kept \(root)") } else { try? FileManager.default.removeItem(atPath: root) } }
    let cli = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "certvault"
    ).path
    let hasCLI = FileManager.default.isExecutableFile(atPath: cli)
    let passphrase = "bench passphrase, long enough"
    try Data((passphrase + "\n").utf8).write(to: URL(fileURLWithPath: root + "/pass"))
    let filePassword = SecureBytes(utf8: "bench-file-password")
    try Data("bench-file-password\n".utf8).write(to: URL(fileURLWithPath: root + "/filepw"))

    note(
        "certvault benchmark (\(quick ? "quick" : "full") run, \(ProcessInfo.processInfo.activeProcessorCount) cores)"
    )

    // 1. Unlock: one Argon2id derivation at each cost.
    for strength in [KDFStrength.interactive, .moderate] {
        let path = root + "/unlock-\(strength.rawValue).db"
        let vault = try Vault.create(
            at: path,
            admin: .init(handle: "alice", role: .admin),
            passphrase: SecureBytes(utf8: passphrase),
            kdf: strength
        )
        var best = Double.infinity
        for _ in 0..<3 {
            best = min(
                best,
                try seconds { _ = try vault.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase)) }
            )
        }
        line("unlock, KDF \(strength.rawValue)", "\(fmt(best * 1000, 0)) ms (best of 3)")
    }

    // 2. Bulk import against OpenSSL's PKCS12_parse limit.
    let paths = try Benchmarking.makePFXFiles(count: importCount, in: root + "/files", password: filePassword)
    // Measured in a process of its own, as a fresh host would run it.
    let parseRate = try Benchmarking.referenceParseRate(paths)
    line("PKCS12_parse in process (the limit)", "\(fmt(parseRate)) files/s", value: parseRate, unit: "files/s")

    let libVault = try Vault.create(
        at: root + "/lib.db",
        admin: .init(handle: "alice", role: .admin),
        passphrase: SecureBytes(utf8: passphrase),
        kdf: .moderate
    )
    var libReport = ImportReport()
    var phases: [Double] = []
    let libTime = try seconds {
        // Reading starts first: the files' key derivations run while the passphrase's does.
        var prefetch: ImportPrefetch?
        phases.append(seconds { prefetch = ImportPrefetch(paths, password: filePassword) })
        var session: Session?
        phases.append(
            try seconds { session = try libVault.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase)) }
        )
        phases.append(try seconds { libReport = try session!.importPaths(prefetch!) })
    }
    let libRate = Double(importCount) / libTime
    line(
        "import \(importCount) via the library (incl. unlock)",
        "\(fmt(libRate)) files/s = \(fmt(libRate / parseRate, 2))x the limit; \(libReport.count(.imported)) imported",
        value: libRate,
        unit: "files/s",
        limit: parseRate
    )
    line(
        "  prefetch / unlock (reading meanwhile) / rest",
        phases.map { "\(fmt($0 * 1000, 0)) ms" }.joined(separator: " / ")
    )
    let readRate = try Benchmarking.readRate(paths)
    line(
        "  Importer.read, one core",
        "\(fmt(readRate)) files/s = \(fmt(readRate / parseRate, 2))x PKCS12_parse",
        value: readRate,
        unit: "files/s",
        limit: parseRate
    )

    if hasCLI {
        let env = ["CERTVAULT_VAULT": root + "/cli.db"]
        try run(cli, ["init", "--admin", "alice", "--passphrase-file", root + "/pass"], env: env)
        var status: Int32 = 0
        let cliTime = try seconds {
            status = try run(
                cli,
                ["import"] + paths + ["--password-file", root + "/filepw", "--passphrase-file", root + "/pass"],
                env: env
            )
        }
        let cliRate = Double(importCount) / cliTime
        line(
            "certvault import of \(importCount) files, one command",
            "\(fmt(cliRate)) files/s = \(fmt(cliRate / parseRate, 2))x the limit (KDF moderate, paid once; exit \(status))",
            value: cliRate,
            unit: "files/s",
            limit: parseRate
        )
        // The loop a user would otherwise write: one openssl process a file.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") {
            let loop = try seconds {
                for path in paths {
                    try run(
                        "/usr/bin/openssl",
                        ["pkcs12", "-in", path, "-passin", "file:" + root + "/filepw", "-nodes", "-out", "/dev/null"],
                        env: [:]
                    )
                }
            }
            let loopRate = Double(importCount) / loop
            line(
                "  openssl pkcs12 per-file shell loop",
                "\(fmt(loopRate)) files/s; certvault import is \(fmt(cliRate / loopRate, 1))x it",
                value: cliRate,
                unit: "files/s (certvault import)",
                limit: loopRate
            )
        }
    }

    // 3. Export rate, per profile.
    let session = try libVault.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
    let aliases = try libVault.entries().prefix(exportCount).map(\.alias)
    for profile in ExportProfile.allCases {
        let t = try seconds {
            for (i, alias) in aliases.enumerated() {
                _ = try session.exportPFX(
                    .alias(alias),
                    to: root + "/out-\(profile.rawValue)-\(i).pfx",
                    password: filePassword,
                    profile: profile
                )
            }
        }
        // What openssl takes to write the same file: the same algorithms and iterations, one process a file.
        var limit: Double?
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") {
            let pem = root + "/openssl-\(profile.rawValue)"
            try run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    pem + ".key", "-out", pem + ".crt", "-subj", "/CN=bench", "-days", "30",
                ],
                env: [:]
            )
            let algorithms =
                profile == .legacy
                ? ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]
                : ["-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha256"]
            let o = try seconds {
                for i in 0..<aliases.count {
                    try run(
                        "/usr/bin/openssl",
                        ["pkcs12", "-export", "-inkey", pem + ".key", "-in", pem + ".crt", "-out", pem + "-\(i).pfx"]
                            + algorithms + ["-iter", "\(profile.iterations)", "-passout", "file:" + root + "/filepw"],
                        env: [:]
                    )
                }
            }
            limit = Double(aliases.count) / o
            line(
                "  openssl pkcs12 -export (same algorithms, iter.)",
                "\(fmt(limit!)) files/s",
                value: limit!,
                unit: "files/s"
            )
        }
        let rate = Double(aliases.count) / t
        line(
            "export .pfx, profile \(profile.rawValue) (\(profile.iterations) iter.)",
            "\(fmt(rate)) files/s" + (limit.map { " = \(fmt(rate / $0, 2))x openssl" } ?? ""),
            value: rate,
            unit: "files/s",
            limit: limit
        )
    }

    // 4. list over many entries.
    let more = try Benchmarking.makePFXFiles(
        count: listCount - importCount,
        in: root + "/files",
        password: filePassword,
        iterations: 1
    )
    let (extra, _) = Importer.readAll(more, password: filePassword)
    _ = try session.importFiles(extra)
    var count = 0
    let listTime = try seconds { count = try libVault.entries().count }
    line("list \(count) entries via the library", "\(fmt(listTime * 1000, 0)) ms", value: listTime * 1000, unit: "ms")
    var checkTime = Double.infinity
    for _ in 0..<3 { checkTime = min(checkTime, try seconds { _ = try libVault.checkState() }) }
    line(
        "  of which the signed-state check (best of 3)",
        "\(fmt(checkTime * 1000, 0)) ms; unchecked rest \(fmt((listTime - checkTime) * 1000, 0)) ms"
    )
    let fresh = try Vault.open(at: root + "/lib.db", witness: nil)
    let freshTime = try seconds { _ = try fresh.inventory() }
    line("list on a machine that never saw the vault", "\(fmt(freshTime * 1000, 0)) ms (every signature checked once)")
    if hasCLI {
        let env = ["CERTVAULT_VAULT": root + "/lib.db"]
        let t = try seconds { try run(cli, ["list"], env: env) }
        let tj = try seconds { try run(cli, ["list", "--json"], env: env) }
        line("certvault list (\(count) entries), table / --json", "\(fmt(t * 1000, 0)) ms / \(fmt(tj * 1000, 0)) ms")
    }
    // 4b. check and list --expiring beside sqlite3 selecting the same columns (the limit).
    var checked = 0
    let policyTime = try seconds { checked = try libVault.check().findings.count }
    line(
        "check via the library (\(count) entries)",
        "\(fmt(policyTime * 1000, 0)) ms, \(checked) findings",
        value: policyTime * 1000,
        unit: "ms"
    )
    if hasCLI, FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") {
        let env = ["CERTVAULT_VAULT": root + "/lib.db"]
        let columns =
            "id, alias, purpose, subscription, domains, tags, sha1, subject, not_before, not_after, "
            + "key_algorithm, key_bits, signature_algorithm, sans, self_signed, is_ca, status, needs_rotation, cert_der"
        let limit = try seconds {
            try run("/usr/bin/sqlite3", [root + "/lib.db", "SELECT \(columns) FROM entries"], env: [:])
        }
        let cliCheck = try seconds { try run(cli, ["check"], env: env) }
        let expiring = try seconds { try run(cli, ["list", "--expiring", "30"], env: env) }
        line(
            "certvault check / list --expiring 30 / sqlite3",
            "\(fmt(cliCheck * 1000, 0)) ms / \(fmt(expiring * 1000, 0)) ms / \(fmt(limit * 1000, 0)) ms = \(fmt(cliCheck / limit, 1))x / \(fmt(expiring / limit, 1))x the limit"
        )
    }
    let verified = try libVault.verify().recordCount
    try Benchmarking.verifyLines("audit verify (\(verified) records, best of 3)", records: verified) {
        _ = try libVault.verify()
    }

    // 4c. Audit sinks: the whole log to a new file sink, an export without and with one, and the
    // log held against the sink (audit verify --against).
    let sinkConfig = AuditSinkConfiguration(files: [root + "/sinks"])
    try sinkConfig.add(.file(root + "/sink.jsonl"), for: libVault.vaultID)
    let sinked = try Vault.open(
        at: root + "/lib.db",
        witness: RollbackWitness(directory: root + "/state"),
        sinks: sinkConfig
    )
    let sinkedSession = try sinked.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
    let exportPassword = SecureBytes(utf8: "benchmark export password")
    /// The fastest of three exports by `s`, each a record of its own.
    func bestExport(_ s: Session, _ label: String) throws -> Double {
        try (0..<3).map { i in
            try seconds { _ = try s.exportPFX("1", to: .memory(label: "\(label)-\(i)"), password: exportPassword) }
        }.min()!
    }
    let plainExport = try bestExport(session, "bench")
    var sent = 0
    let backfill = try seconds { sent = try sinked.syncAuditSinks().first?.sent ?? 0 }
    line(
        "audit sink add: the whole log to a file sink",
        "\(sent) records in \(fmt(backfill * 1000, 0)) ms = \(fmt(Double(sent) / backfill, 0)) records/s (one fsync)"
    )
    let sinkedExport = try bestExport(sinkedSession, "bench-sink")
    let unmarked = try Vault.open(at: root + "/lib.db", witness: nil, sinks: sinkConfig)
    let unmarkedExport = try bestExport(
        try unmarked.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase)),
        "bench-unmarked"
    )
    line(
        "export pfx (\(count) entries), no sink / a file sink (best of 3)",
        "\(fmt(plainExport * 1000, 0)) ms / \(fmt(sinkedExport * 1000, 0)) ms = +\(fmt((sinkedExport - plainExport) * 1000, 1)) ms"
    )
    line(
        "  the same with no state directory (the sink read whole, twice)",
        "\(fmt(unmarkedExport * 1000, 0)) ms = +\(fmt((unmarkedExport - plainExport) * 1000, 1)) ms"
    )
    var compared = 0
    let compareTime = try seconds { compared = try sinked.compare(withSink: root + "/sink.jsonl").records }
    line(
        "audit verify --against: the sink's lines held against the log",
        "\(compared) lines in \(fmt(compareTime * 1000, 0)) ms"
    )

    // 5. Memory: one import command's peak RSS, a few files against many.
    if hasCLI {
        var peaks: [(Int, Int, Int32)] = []
        for n in [100, more.count] {
            let env = ["CERTVAULT_VAULT": root + "/memory-\(n).db"]
            try run(
                cli,
                ["init", "--admin", "alice", "--passphrase-file", root + "/pass", "--kdf", "interactive"],
                env: env
            )
            let (status, kib) = try runMeasuringMemory(
                cli,
                ["import"] + more.prefix(n) + [
                    "--password-file", root + "/filepw", "--passphrase-file", root + "/pass",
                ],
                env: env
            )
            peaks.append((n, kib, status))
        }
        line(
            "certvault import peak RSS, \(peaks[0].0) / \(peaks[1].0) files",
            "\(peaks[0].1 / 1024) MiB / \(peaks[1].1 / 1024) MiB = \(fmt(Double(peaks[1].1) / Double(peaks[0].1), 2))x (exit \(peaks[0].2), \(peaks[1].2))",
            value: Double(peaks[1].1) / 1024,
            unit: "MiB",
            limit: Double(peaks[0].1) / 1024
        )
    }

    // 6. People: a passphrase change touches no entry; a departure touches every entry the person could open.
    let kdfOnly = try seconds { _ = try libVault.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase)) }
    let small = try Vault.create(
        at: root + "/small.db",
        admin: .init(handle: "alice", role: .admin),
        passphrase: SecureBytes(utf8: passphrase),
        witness: nil
    )
    let smallSession = try small.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
    for i in 0..<10 { _ = try smallSession.createManagementCertificate(subject: "CN=m\(i)", keySpec: .rsa2048) }
    for (label, s) in [("10", smallSession), ("\(count)", session)] {
        let t = try seconds { try s.changePassphrase(to: SecureBytes(utf8: passphrase), kdf: .moderate) }
        line(
            "person passwd, \(label) entries (KDF moderate)",
            "\(fmt(t * 1000, 0)) ms (an unlock: \(fmt(kdfOnly * 1000, 0)) ms)"
        )
    }
    let leaverPass = SecureBytes(utf8: "leaver passphrase")
    let addTime = try seconds {
        _ = try session.addPerson(.init(handle: "leaver", role: .admin), passphrase: leaverPass, kdf: .interactive)
    }
    line("person add of an admin: \(count) keys sealed to them", "\(fmt(addTime * 1000, 0)) ms")
    var plan: RotationPlan?
    let departTime = try seconds { plan = try session.depart("leaver", reason: "benchmark") }
    line(
        "person depart of someone who could open \(plan?.items.count ?? 0)",
        "\(fmt(departTime * 1000, 0)) ms (plan, \(plan?.items.count ?? 0) signed records, WAL truncated)"
    )
    printFigures()
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
