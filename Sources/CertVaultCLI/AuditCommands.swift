import ArgumentParser
import CertVault
import Foundation

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read and verify the audit log (no passphrase needed).",
        subcommands: [Log.self, Verify.self, Who.self, AcceptRollback.self, SinkCommand.self]
    )

    struct AcceptRollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-rollback",
            abstract: "Accept on purpose that the vault is older than this machine saw (a restored backup).",
            discussion: """
                This machine remembers the last audit head it saw of each vault. When the vault's log no longer holds it, \
                no key leaves and no change is made until someone who can unlock accepts the rollback here. The \
                acceptance is a signed record naming the head that was seen and when.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print what was done as JSON: the heads seen and accepted, and the record's seq.") var json = false

        func run() throws {
            let session = try global.unlock(try global.openVault())
            let accepted = try session.acceptRollback()
            if json {
                return try Output.change(
                    .init(
                        command: "audit accept-rollback",
                        rollback: .init(reason: accepted.reason, seq: accepted.head.seq, seenSeq: accepted.seen.seq)
                    ),
                    in: session.vault
                )
            }
            Output.line(
                "accepted the rollback from record \(accepted.seen.seq) (seen \(accepted.seen.seenAt)) to record \(accepted.head.seq)"
            )
            // What the older file lacks cannot be read here: say what that may mean.
            Output.warning(
                "whatever was signed after record \(accepted.head.seq) is undone with it: a departure, a revocation or a retirement made since is gone"
            )
            Output.hint(
                "check 'certvault person list' and 'certvault list'; 'certvault restore' of a backup lists and makes those again"
            )
        }
    }

    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List audit records, each checked.",
            discussion: """
                People and entries are named as the signed records name them. A record whose hash, place in the chain or \
                signature does not check out is marked INVALID (SIGNED column; "problem" in JSON) and the command exits 5.
                """
        )
        @OptionGroup var global: ReadOptions
        @Option(help: ArgumentHelp("Only records by this person.", valueName: "handle")) var actor: String?
        @Option(help: ArgumentHelp("Only records about this entry.", valueName: "ref")) var entry: String?
        @Option(help: ArgumentHelp("Only this action (or family, e.g. entry).", valueName: "action")) var action:
            String?
        @Option(help: ArgumentHelp("Only records at or after this time (ISO 8601 or YYYY-MM-DD).", valueName: "time"))
        var since: String?
        @Option(help: ArgumentHelp("Only records at or before this time.", valueName: "time")) var until: String?
        @Option(help: ArgumentHelp("Only records by or about this person.", valueName: "handle")) var person: String?
        @Option(help: ArgumentHelp("Only the last N records that match.", valueName: "n")) var limit: Int?
        @Flag(help: "Print JSON.") var json = false

        /// An action no record can have is a usage mistake, said before the vault is opened.
        func validate() throws {
            guard let action else { return }
            let actions = AuditAction.allCases.map(\.rawValue)
            let families = Set(actions.compactMap { $0.split(separator: ".").first.map(String.init) })
            guard !actions.contains(action), !families.contains(action) else { return }
            let names = actions + families.sorted()
            throw ValidationError(
                "no action '\(action)'"
                    + (Suggestions.nearest(action, in: names).map { "; did you mean '\($0)'?" }
                        ?? "; the actions are \(actions.sorted().joined(separator: ", ")), or a family: \(families.sorted().joined(separator: ", "))")
            )
        }

        func run() throws {
            let filter = Vault.AuditFilter(
                actor: actor,
                entry: entry,
                action: action,
                since: try since.map(parseTime),
                until: try until.map(parseTime),
                person: person,
                limit: limit
            )
            let log = try global.openVault().auditLog(filter)
            if json {
                try Output.json(log.records)
            } else {
                Output.table(
                    ["SEQ", "AT", "ACTOR", "ACTION", "ENTRY", "PERSON", "SIGNED", "DETAILS"],
                    log.records.map { r in
                        [
                            // A failed unlock proves nobody's identity: its actor is only claimed.
                            String(r.seq), r.at, r.kind == .unlockFailed ? "?" : r.actorHandle ?? "-", r.action,
                            r.entryAlias ?? "-",
                            r.personHandle ?? "-",
                            r.problem != nil ? "INVALID" : r.signature == nil ? "no" : "yes", Self.summary(r),
                        ]
                    }
                )
            }
            if let rollback = log.rollback {
                Output.error("the vault was rolled back: \(rollback.reason); records may be missing from the end")
                Output.hint("if you restored a backup on purpose, accept it with 'certvault audit accept-rollback'")
                throw ExitStatus.integrity.exit
            }
            if !log.isValid || !log.tableFindings.isEmpty {
                for record in log.records where record.problem != nil {
                    Output.stderr("finding: record \(record.seq): \(record.problem!)")
                }
                for finding in log.unreadable + log.tableFindings { Output.stderr("finding: \(finding)") }
                Output.error(
                    log.isValid
                        ? "the vault's tables do not match its signed records: it was changed outside certvault (the records shown each check out)"
                        : "the audit log does not verify; records marked INVALID cannot be believed"
                )
                Output.hint("run 'certvault audit verify' for every finding")
                throw ExitStatus.integrity.exit
            }
        }

        /// One readable line for a record, instead of its JSON.
        static func summary(_ r: AuditRecord) -> String {
            let f = r.fields
            switch r.kind {
            case .entryExport:
                let age = f.strings(.ageRecipients) ?? []
                return "\(f.format?.rawValue ?? "?") for \(f.recipient ?? "?") to \(f.file ?? f.label ?? "?")"
                    + (age.isEmpty ? "" : ", in age to \(age.joined(separator: ", "))")
            case .entryGrant: return "to \(f.string(.to) ?? r.personHandle ?? "?")\(f.reason.map { " (\($0))" } ?? "")"
            case .entryUngrant: return "from \(f.string(.from) ?? r.personHandle ?? "?")"
            case .entryImport: return "from \(f.source ?? "?")\(f.thumbprintSHA1.map { ", \($0)" } ?? "")"
            case .entryNeedsRotation, .personDepart: return f.reason ?? ""
            case .entryRevoke: return "\(f.reason ?? "?")\(f.bool(.keyDestroyed) == true ? ", key destroyed" : "")"
            case .entryDenied: return "\(f.string(.attempt) ?? "?") refused: \(f.reason ?? "?")"
            case .policySet:
                let value = f.string(.value) ?? "?"
                let key = f.string(.key)
                return "\(key ?? "?") = \(key.flatMap(PolicyKey.init(rawValue:))?.summary(of: value) ?? value)"
            case .unlockFailed where r.personDeparted == true:
                return
                    "an unlock as \(r.personHandle ?? "?"), who had departed: refused whatever the passphrase (unsigned: whoever tried is not known)"
            case .unlockFailed:
                return "a wrong passphrase for \(r.personHandle ?? "?") (unsigned: whoever typed it is not known)"
            case .entryExportUnwritten:
                return
                    "record \(f.integer(.exportSeq).map(String.init) ?? "?"): \(f.file ?? "?") not written: \(f.reason ?? "?")"
            case .entrySupersede: return "by \(f.string(.successorAlias) ?? "?")"
            case .entryRename: return "\(f.string(.previousAlias) ?? "?") → \(f.alias ?? "?")"
            case .personAdd, .vaultCreate: return "\(f.handle ?? "?") as \(f.role?.rawValue ?? "?")"
            case .personRole: return "\(f.handle ?? "?"): \(f.string(.was) ?? "?") → \(f.role?.rawValue ?? "?")"
            case .vaultBackup: return "to \(f.file ?? "?")"
            case .rollbackAccepted:
                return "back from record \(f.integer(.seenSeq).map(String.init) ?? "?"): \(f.reason ?? "?")"
            default: return f.alias ?? ""
            }
        }

        func parseTime(_ text: String) throws -> Date {
            if let d = try? Date(text, strategy: .iso8601) { return d }
            if let d = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return d }
            throw UsageError(
                error: CertVaultError(
                    .invalidArgument,
                    "cannot read the time '\(text)'",
                    hint: "write 2026-11-29 or 2026-11-29T12:00:00Z"
                )
            )
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the chain and every signature; print the head as SEQ:HASH.",
            discussion: """
                Exits 3 naming the first bad record when anything was altered, removed or reordered. With --against, \
                also holds the log against an audit sink's file: every record the vault lacks (a rolled-back vault: what \
                was hidden, with its action, signer and time), every record that differs, every gap in the sink and \
                every forged line exit 5.
                """
        )
        @OptionGroup var global: ReadOptions
        @Option(
            help: ArgumentHelp(
                "A head written down earlier: catches a truncated or rewritten log.",
                valueName: "seq:hash"
            )
        )
        var expect: String?
        @Flag(help: "Check every page and index of the file (SQLite integrity_check), not only quick_check.")
        var thorough = false
        @Option(
            help: ArgumentHelp(
                "An audit sink's file (or a syslog file holding its lines) to hold the log against (repeatable).",
                valueName: "file"
            ),
            completion: .file()
        )
        var against: [String] = []
        @Flag(help: "Print JSON.") var json = false

        struct Result: Encodable {
            var valid: Bool
            var records: Int
            var head: String?
            var firstBadSeq: Int64?
            var findings: [AuditFinding]
            var sinks: [SinkResult]?
        }

        struct SinkResult: Encodable {
            var file: String
            var records: Int
            var findings: [AuditFinding]
            var undone: [Int64]
            var notes: [String]
        }

        func run() throws {
            var expected: AuditHead?
            if let expect {
                guard let head = AuditHead(expect) else {
                    throw UsageError(
                        error: CertVaultError(
                            .invalidArgument,
                            "--expect takes SEQ:HASH, as printed by 'certvault audit verify'"
                        )
                    )
                }
                expected = head
            }
            let v: AuditVerification
            var sinks: [SinkResult] = []
            do {
                let vault = try global.openVault()
                v = try vault.verify(expecting: expected, thorough: thorough)
                for file in against {
                    let c = try vault.compare(withSink: file)
                    sinks.append(
                        SinkResult(
                            file: file,
                            records: c.records,
                            findings: c.findings,
                            undone: c.undone,
                            notes: c.notes
                        )
                    )
                }
            } catch let error as CertVaultError where [.corruptVault, .tampered, .rollback].contains(error.code) {
                // A vault too damaged to replay still fails verification: exit 5.
                Output.error(error.message)
                if let hint = error.cliHint { Output.hint(hint) }
                throw ExitStatus.integrity.exit
            }
            if json {
                try Output.json(
                    Result(
                        valid: v.isValid,
                        records: v.recordCount,
                        head: v.head?.description,
                        firstBadSeq: v.firstBadSeq,
                        findings: v.findings,
                        sinks: against.isEmpty ? nil : sinks
                    )
                )
            } else {
                if v.isValid {
                    Output.line("ok: \(v.recordCount) records verified")
                    Output.line(v.head?.description ?? "0:")
                } else {
                    for finding in v.findings { Output.stderr("finding: \(finding)") }
                }
                for sink in sinks {
                    for note in sink.notes { Output.stderr("note: \(sink.file): \(note)") }
                    for finding in sink.findings { Output.stderr("finding: \(sink.file): \(finding)") }
                    if sink.findings.isEmpty {
                        Output.line("ok: \(sink.file): its \(sink.records) records agree with the vault")
                    }
                }
            }
            if let bad = sinks.first(where: { !$0.findings.isEmpty }) {
                let undone = bad.undone.count
                Output.error(
                    undone > 0
                        ? "the vault lacks \(undone) signed record\(undone == 1 ? "" : "s") that the sink \(bad.file) holds: it was rolled back or rewritten"
                        : "the vault's log and the sink \(bad.file) disagree"
                )
                throw ExitStatus.integrity.exit
            }
            if !v.isValid {
                let first = v.firstBadSeq.map { "first bad record \($0)" } ?? v.findings[0].description
                Output.error("the audit log does not verify: \(first)")
                throw ExitStatus.integrity.exit
            }
        }
    }
}

struct PersonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "person",
        abstract: "Manage the people the vault knows.",
        subcommands: [
            Add.self, ListPeople.self, ShowPerson.self, SetPerson.self, SetRole.self, Passwd.self, Depart.self,
        ]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a person (admins only).",
            discussion:
                "Anyone but staff gets a keyslot; their passphrase comes from --new-passphrase-file, CERTVAULT_NEW_PASSPHRASE or a prompt."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Their handle.") var handle: String
        @Option(help: "admin, officer, auditor or staff.") var role: PersonRole
        @Option(help: "Their full name.") var name: String?
        @Option(help: "Their email address.") var email: String?
        @Option(help: ArgumentHelp("Read the new person's passphrase from this file.", valueName: "file"))
        var newPassphraseFile: String?
        @Option(help: "KDF cost of their keyslot.") var kdf: KDFStrength = .moderate
        @Flag(help: "Accept a weak passphrase (for a test vault).") var weakPassphraseOk = false
        @Flag(help: "Print what was done as JSON: the person as the signed records state them and the record's seq.")
        var json = false

        func run() throws {
            let vault = try global.openVault()
            let unlockersBefore = try vault.people().filter { $0.role != .staff && $0.status == .active }.count
            let session = try global.unlock(vault)
            var passphrase: SecureBytes?
            if role != .staff {
                passphrase = try Secrets.read(
                    file: newPassphraseFile,
                    environment: "CERTVAULT_NEW_PASSPHRASE",
                    prompt: "New passphrase for \(handle): ",
                    what: "a passphrase for \(handle)",
                    fileOption: "--new-passphrase-file",
                    confirm: true,
                    weakOK: weakPassphraseOk,
                    context: [handle, name, email].compactMap { $0 }
                )
            }
            let person = try session.addPerson(
                .init(handle: handle, name: name, email: email, role: role),
                passphrase: passphrase,
                kdf: kdf
            )
            if json { return try Output.change(.init(command: "person add", person: person), in: session.vault) }
            Output.line("added \(person.handle) (\(person.role.rawValue))")
            if role != .staff && unlockersBefore == 1 {
                Output.note(
                    "note: \(unlockersBefore + 1) people can now unlock this vault, so commands need to know who acts: --as HANDLE, CERTVAULT_USER, or a login name that is the handle (\(session.person.handle) as '\(session.person.handle)')"
                )
            }
        }
    }

    struct ListPeople: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List people, as the signed records state them.",
            discussion: "Exits 3 when the people table, or anything else, differs from the signed records."
        )
        @OptionGroup var global: ReadOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let vault = try global.openVault()
            let people = try vault.people()
            if json {
                try Output.json(people)
            } else {
                Output.table(
                    ["HANDLE", "ROLE", "STATUS", "KEYS", "NAME", "EMAIL"],
                    people.map {
                        [
                            $0.handle, $0.role.rawValue, $0.status.rawValue, $0.canUnlock ? "yes" : "no",
                            $0.name ?? "-",
                            $0.email ?? "-",
                        ]
                    }
                )
            }
            // People are listed as their signed records state them; say so when the tables disagree.
            let report = try vault.checkState()
            if !report.isIntact {
                for finding in report.findings.prefix(20) { Output.stderr("finding: \(finding)") }
                Output.error(
                    report.rollback.map { "the vault was rolled back: \($0.reason)" }
                        ?? "the vault does not match its signed records; people are listed as the signed records state them"
                )
                throw ExitStatus.integrity.exit
            }
        }
    }
}
