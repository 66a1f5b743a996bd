import ArgumentParser
import CertVault
import Foundation
import Synchronization

extension Severity: ExpressibleByArgument {}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the certificates against Azure's rules, expiry and rotation (no passphrase needed).",
        discussion: """
            Rules (--rule picks some; 'certvault help rules' says what each finds): \(PolicyRule.allCases.map(\.rawValue).joined(separator: ", ")). \
            --quiet prints only errors, --summary one line a rule. Exit 0 when nothing at or above --fail-on is \
            found, else 3: fit for cron and CI.

            Example:
              certvault check --days 60,30,7 --fail-on warning
            """
    )
    @OptionGroup var global: ReadOptions
    @Option(
        help: ArgumentHelp(
            "Expiry windows in days, largest a warning and smallest an error (60,30,7), or a share of the lifetime (20%). Default 30.",
            valueName: "days"
        )
    )
    var days: String?
    @Option(help: "Only entries of this purpose (ssl, management, app, other).") var purpose: EntryPurpose?
    @Option(help: ArgumentHelp("Only entries of this Azure subscription.", valueName: "id")) var subscription: String?
    @Option(help: ArgumentHelp("Only this entry.", valueName: "ref"), completion: Completions.entries) var entry:
        String?
    @Option(
        name: .customLong("ca-file"),
        help: ArgumentHelp("Also trust the roots in this PEM file (repeatable).", valueName: "file")
    )
    var caFiles: [String] = []
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Management certificates one subscription may hold (default 5).", valueName: "n")
    )
    var managementLimit: Int?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Days a management certificate may be used (default 365).", valueName: "days")
    )
    var maxAge: Int?
    @Option(name: .customLong("fail-on"), help: "Exit 3 on findings at or above this severity (error, warning, info).")
    var failOn: Severity = .error
    @Option(
        name: .customLong("rule"),
        help: ArgumentHelp("Only findings of this rule (repeatable).", valueName: "rule"),
        completion: .list(PolicyRule.allCases.map(\.rawValue))
    )
    var rules: [String] = []
    @Flag(help: "Print the findings as JSON.") var json = false
    @Flag(help: "Print nothing but errors: the exit code says whether anything was found (for cron).")
    var quiet = false
    @Flag(help: "One line a rule and severity, with its count, instead of every finding (for cron mail).")
    var summary = false

    func validate() throws {
        if [json, quiet, summary].filter({ $0 }).count > 1 {
            throw ValidationError("--json, --quiet and --summary each choose the output: give one")
        }
        _ = try Self.rules(rules)
    }

    /// The rules named, each checked: an unknown name is a usage mistake
    /// with the nearest rule.
    static func rules(_ names: [String]) throws -> Set<PolicyRule> {
        Set(
            try names.map { name in
                guard let rule = PolicyRule(rawValue: name) else {
                    let all = PolicyRule.allCases.map(\.rawValue)
                    throw ValidationError(
                        "no rule '\(name)'"
                            + (Suggestions.nearest(name, in: all).map { "; did you mean '\($0)'?" }
                                ?? "; see 'certvault help rules'")
                    )
                }
                return rule
            }
        )
    }

    func run() throws {
        // The options read as `policy set` reads the same settings, before the vault is opened.
        var given = PolicySettings()
        try UsageError.reading {
            if let days { try PolicyKey.expiryWindows.apply(days, to: &given) }
            if let managementLimit { try PolicyKey.managementLimit.apply(String(managementLimit), to: &given) }
            if let maxAge { try PolicyKey.managementMaxAge.apply(String(maxAge), to: &given) }
        }
        let windows = days.map { _ in (given.expiryWindows, given.expiryShare) }
        let vault = try global.openVault()
        // The vault's policy, with this command's options over it.
        var report = try vault.check(
            purpose: purpose,
            subscription: subscription,
            entries: entry.map { [EntryReference.any($0)] } ?? []
        ) { settings in
            if let windows { (settings.expiryWindows, settings.expiryShare) = windows }
            settings.caFiles = caFiles
            if let managementLimit { settings.managementLimit = managementLimit }
            if let maxAge { settings.managementMaxAgeDays = maxAge }
        }
        if !rules.isEmpty {
            let wanted = Set(try Self.rules(rules).map(\.rawValue))
            report.findings.removeAll { !wanted.contains($0.rule) }
        }
        if json {
            try Output.json(report)
        } else if summary {
            Self.printSummary(report)
        } else if !quiet {
            Self.print(report)
        }
        if report.hasFindings(atLeast: failOn) { throw ExitStatus.findings.exit }
    }

    /// `checked N entries: E errors, W warnings, I notes`.
    static func totals(_ report: PolicyReport) -> String {
        let count = { (s: Severity) in report.findings.reduce(0) { $0 + ($1.severity == s ? 1 : 0) } }
        return
            "checked \(Output.count(report.entriesChecked, "entry", "entries")): \(Output.count(count(.error), "error", "errors")), \(Output.count(count(.warning), "warning", "warnings")), \(Output.count(count(.info), "note", "notes"))"
    }

    /// One line a severity and rule (worst first, then by rule), with its
    /// count and the entries it names, then the totals.
    static func printSummary(_ report: PolicyReport) {
        var counts: [String: (severity: Severity, rule: String, count: Int, aliases: [String])] = [:]
        for f in report.findings {
            let key = "\(f.severity.rawValue) \(f.rule)"
            var c = counts[key] ?? (f.severity, f.rule, 0, [])
            c.count += 1
            if let alias = f.alias, c.aliases.count < 3 { c.aliases.append(alias) }
            counts[key] = c
        }
        let lines = counts.values.sorted { a, b in
            a.severity != b.severity ? a.severity > b.severity : a.rule < b.rule
        }
        for c in lines {
            let more = c.count > c.aliases.count ? ", …" : ""
            let names = c.aliases.isEmpty ? "" : " (\(c.aliases.joined(separator: ", "))\(more))"
            Output.line(
                "\(c.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(c.rule): \(c.count)\(names)"
            )
        }
        Output.line(Self.totals(report))
    }

    /// Grouped by entry, entries in the order of their worst finding.
    static func print(_ report: PolicyReport) {
        // Each finding's group, keyed by its heading (an entry's heading worked
        // out once); then the findings ordered by group, each group's in the
        // order they came (a counting sort, no array per group).
        let findings = report.findings
        var headings: [String] = []
        var groupOf = [Int](repeating: 0, count: findings.count)
        var byHeading: [String: Int] = [:]
        var byEntry: [Int64: Int] = [:]
        byEntry.reserveCapacity(findings.count)
        byHeading.reserveCapacity(findings.count)
        for (i, finding) in findings.enumerated() {
            if let id = finding.entryID?.rawValue, let g = byEntry[id] {
                groupOf[i] = g
                continue
            }
            let heading =
                finding.alias.map { "\($0)\(finding.thumbprintSHA1.map { " (\($0))" } ?? "")" } ?? "vault"
            let g = byHeading[heading] ?? headings.count
            if g == headings.count {
                byHeading[heading] = g
                headings.append(heading)
            }
            groupOf[i] = g
            if let id = finding.entryID?.rawValue { byEntry[id] = g }
        }
        var start = [Int](repeating: 0, count: headings.count + 1)
        for g in groupOf { start[g + 1] += 1 }
        for g in headings.indices { start[g + 1] += start[g] }
        var order = [Int](repeating: 0, count: findings.count)
        var next = start
        for (i, g) in groupOf.enumerated() {
            order[next[g]] = i
            next[g] += 1
        }
        // Formatted in parts on every core (a vault of 100,000 entries prints
        // some 300,000 lines), written in order.
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, headings.count / 4096))
        let formatted = Mutex([Output.Lines](repeating: Output.Lines(capacity: 0), count: parts))
        DispatchQueue.concurrentPerform(iterations: parts) { [headings, start, order] p in
            var out = Output.Lines(capacity: 0)
            for g in (headings.count * p / parts)..<(headings.count * (p + 1) / parts) {
                out.append(headings[g])
                for i in order[start[g]..<start[g + 1]] {
                    let severity = findings[i].severity.rawValue
                    out.raw("  ")
                    out.raw(severity)
                    out.raw(String(repeating: " ", count: max(0, 8 - severity.count)))
                    out.text(findings[i].rule)
                    out.raw(": ")
                    out.text(findings[i].message)
                    out.endLine()
                }
            }
            formatted.withLock { $0[p] = out }
        }
        var summary = Output.Lines(capacity: 100)
        summary.append(totals(report))
        formatted.withLock { parts in for i in parts.indices { parts[i].write() } }
        summary.write()
    }
}

extension PolicyKey: ExpressibleByArgument {}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained HTML page for an auditor (no passphrase needed).",
        discussion: """
            The vault and its verified audit head, the inventory with status and days left, an expiry timeline, \
            the findings of check, a custody matrix (people × entries) and the last 30 days of activity. No \
            external assets, no script; it prints.

            Example:
              certvault report --out vault-report.html
            """
    )
    @OptionGroup var global: ReadOptions
    @Option(help: ArgumentHelp("Where to write the page.", valueName: "file")) var out: String
    @Flag(help: "Replace an existing file.") var force = false

    func run() throws {
        try global.openVault().writeHTMLReport(to: out, force: force)
        Output.line("report written to \(out)")
    }
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "The vault's policy for check: limits, expiry windows, maximum ages, trusted roots.",
        subcommands: [ShowPolicy.self, SetPolicy.self]
    )

    struct ShowPolicy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show each setting, and who set it (no passphrase needed)."
        )
        @OptionGroup var global: ReadOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let (_, entries) = try global.openVault().policy()
            if json { return try Output.json(entries) }
            Output.table(
                ["SETTING", "VALUE", "SET BY", "RECORD"],
                entries.map { e in
                    let by = e.setBy.map { "\($0)\(e.setAt.map { " on \(Output.date($0))" } ?? "")" }
                    return [
                        e.key.rawValue, e.key.summary(of: e.value), by ?? "(default)", e.seq.map(String.init) ?? "-",
                    ]
                }
            )
        }
    }

    struct SetPolicy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set a policy value for everyone's check (admins), in a signed record.",
            discussion: """
                Settings: management-limit N (default 5), expiry-windows 60,30,7 or 20% (default 30), \
                management-max-age DAYS (default 365), trusted-roots FILE.pem (a private CA's roots, kept in the \
                vault and trusted by everyone's check and report; none to clear), require-sink on|off (a machine \
                releases a key only once its audit sinks hold every record; one that names none releases none).

                Example:
                  certvault policy set expiry-windows 60,30,7
                  certvault policy set trusted-roots contoso-root.pem
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "management-limit, expiry-windows, management-max-age, trusted-roots or require-sink.")
        var key: PolicyKey
        // Taken as given even when it starts with '-', so that '-1' is judged as a value.
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The value.", valueName: "value")) var values:
            [String] = []
        @Flag(help: "Print what was done as JSON: the setting as it now stands and the record's seq.") var json = false

        func validate() throws {
            guard values.count == 1 else {
                throw ValidationError(values.isEmpty ? "give the value" : "give one value, not \(values.count)")
            }
        }

        func run() throws {
            // Read before any passphrase is asked for; the roots from their file.
            var value = values[0]
            if key == .trustedRoots && value != "none" {
                guard let pem = FileManager.default.contents(atPath: value) else {
                    throw UsageError(
                        error: CertVaultError(
                            .invalidArgument,
                            "cannot read \(value)",
                            hint: "give a PEM file of your private CA's root certificates, or none"
                        )
                    )
                }
                value = try UsageError.reading { try PolicyKey.trustedRootsValue(pem: pem) }
            }
            var probe = PolicySettings()
            try UsageError.reading { try key.apply(value, to: &probe) }
            let vault = try global.openVault()
            let session = try global.unlock(vault)
            let entry = try session.setPolicy(key, to: value)
            if json {
                return try Output.change(
                    .init(command: "policy set", policy: ["key": entry.key.rawValue, "value": entry.value]),
                    in: vault
                )
            }
            Output.line(
                "\(entry.key.rawValue) = \(key.summary(of: entry.value)) (record \(entry.seq.map(String.init) ?? "-"))"
            )
            if key == .requireSink, entry.value == "on", (try? vault.auditSinks().isEmpty) ?? true {
                Output.warning("this machine names no audit sink for the vault: it releases no key until one is added")
                Output.hint("add one with 'certvault audit sink add file PATH' (or 'syslog')")
            }
        }
    }
}

extension Output {
    /// What `check` says of entries a command just stored or used, as
    /// `warning:` lines (and `note:` for what is only worth knowing). A
    /// check that cannot run says so, and never fails the command.
    /// How many findings of one rule a command prints about what it just did.
    static let findingsShownPerRule = 3

    static func policyWarnings(
        _ vault: Vault,
        _ refs: [EntryReference],
        only rules: Set<PolicyRule>? = nil
    ) {
        guard !refs.isEmpty else { return }
        do {
            let report = try vault.check(entries: refs)
            // A rule many of the entries break: its first findings, then a count of the rest.
            var groups: [(rule: String, findings: [PolicyFinding])] = []
            var index: [String: Int] = [:]
            let wanted = rules.map { Set($0.map(\.rawValue)) }
            for f in report.findings where wanted?.contains(f.rule) ?? true {
                if let i = index[f.rule] {
                    groups[i].findings.append(f)
                } else {
                    index[f.rule] = groups.count
                    groups.append((f.rule, [f]))
                }
            }
            for group in groups {
                let prefix = "\(group.findings[0].severity == .info ? "note" : "warning"): \(group.rule): "
                for f in group.findings.prefix(Self.findingsShownPerRule) { stderr(prefix + f.message) }
                let more = group.findings.count - Self.findingsShownPerRule
                if more > 0 {
                    stderr(prefix + "and \(more) more of these entries ('certvault check' lists every finding)")
                }
            }
        } catch let error as CertVaultError {
            stderr("warning: the policy check did not run: \(error.message)")
        } catch {
            stderr("warning: the policy check did not run: \(error.localizedDescription)")
        }
    }
}
