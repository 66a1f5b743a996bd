import ArgumentParser
import CertVault
import Foundation

struct Grant: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let a person open an entry's key (admins and officers who can open it).",
        discussion: "Staff never hold grants: export a copy for them with 'export --for'."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var entry:
        String
    @Argument(help: "Who receives the grant.", completion: Completions.handles) var handle: String
    @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

    func run() throws {
        let session = try global.unlock(try global.openVault())
        let e = try session.grant(.any(entry), to: handle)
        if json { return try Output.change(.init(command: "grant", entry: e), in: session.vault) }
        Output.line("granted \(e.alias) to \(handle); can open it: \(e.access.joined(separator: ", "))")
    }
}

struct Ungrant: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take a person's grant on an entry away (the last holder keeps it)."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var entry:
        String
    @Argument(help: "Whose grant to take away.", completion: Completions.handles) var handle: String
    @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

    func run() throws {
        let session = try global.unlock(try global.openVault())
        let e = try session.ungrant(.any(entry), from: handle)
        if json { return try Output.change(.init(command: "ungrant", entry: e), in: session.vault) }
        Output.line("took \(handle)'s grant on \(e.alias); can open it: \(e.access.joined(separator: ", "))")
    }
}

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace an entry's key: a new self-signed certificate, or a new request for a CA-issued one.",
        discussion: """
            The successor takes the alias and is granted to everyone who could open the old key; the old entry \
            becomes superseded under a derived alias (retire it once it is removed from Azure). For a CA-issued \
            certificate the request is written to --out; import the issued certificate to complete it.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var entry:
        String
    @Option(help: ArgumentHelp("Where to write the request of a re-issue (PEM).", valueName: "file")) var out: String?
    @Flag(help: "Replace the request file if it exists.") var force = false
    @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

    func run() throws {
        let session = try global.unlock(try global.openVault())
        let r = try session.rotate(.any(entry))
        if json {
            if r.request != nil, let out {
                _ = try global.openVault().exportPublic(.id(r.successor.id), format: .csr, to: out, force: force)
            }
            return try Output.change(
                .init(command: "rotate", entry: r.successor, predecessor: r.predecessor),
                in: session.vault
            )
        }
        if r.predecessor.status == .superseded {
            Output.line("superseded \(r.predecessor.alias); \(r.successor.alias) is entry \(r.successor.id)")
        } else {
            Output.line(
                "\(r.predecessor.alias) stays in use until the CA's certificate for the new key is imported; the request is entry \(r.successor.id), \(r.successor.alias)"
            )
        }
        if let request = r.request {
            if let out {
                _ = try global.openVault().exportPublic(.id(r.successor.id), format: .csr, to: out, force: force)
                Output.line(
                    "request written to \(out); send it to the CA, then import the issued certificate (it takes \(r.predecessor.alias))"
                )
            } else {
                FileHandle.standardOutput.write(request)
            }
        } else if let c = r.successor.certificate {
            Output.line(
                "new certificate \(c.thumbprintSHA1), valid until \(Output.date(c.notValidAfter)); upload its .cer"
            )
        }
    }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke an entry: its key is never granted or exported again."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var entry:
        String
    @Option(help: "keyCompromise, affiliationChanged, superseded, cessationOfOperation or unspecified.")
    var reason: RevocationReason
    @Flag(help: "Delete the encrypted key and every seal of it (needs --yes).") var destroyKey = false
    @Flag(help: "Confirm --destroy-key.") var yes = false
    @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

    func validate() throws {
        if destroyKey && !yes {
            throw ValidationError("--destroy-key deletes the key for good: confirm with --yes")
        }
    }

    func run() throws {
        let session = try global.unlock(try global.openVault())
        let e = try session.revoke(.any(entry), reason: reason, destroyKey: destroyKey)
        if json { return try Output.change(.init(command: "revoke", entry: e), in: session.vault) }
        Output.line("revoked \(e.alias) (\(reason.rawValue))\(destroyKey ? "; its key is destroyed" : "")")
    }
}

struct Retire: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record that a superseded entry's certificate was removed from Azure."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var entry:
        String
    @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

    func run() throws {
        let session = try global.unlock(try global.openVault())
        let e = try session.retire(.any(entry))
        if json { return try Output.change(.init(command: "retire", entry: e), in: session.vault) }
        Output.line("retired \(e.alias)")
    }
}

struct Rename: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give an entry another alias (recorded).",
        discussion: """
            An alias is 1 to 200 ASCII letters, digits, '.', '-' and '_', starting with a letter or digit and not all \
            digits. An alias an older certvault made from a friendly name outside that rule still works by id; \
            'certvault check' names each (alias-unsafe) with the rename to run.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries) var entry:
        String
    @Argument(help: ArgumentHelp("Its new alias.", valueName: "alias")) var alias: String
    @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

    func run() throws {
        // A name outside the rule is a usage mistake, said before any passphrase is asked for.
        try UsageError.reading { try Session.checkAlias(alias) }
        let session = try global.unlock(try global.openVault())
        let before = try session.vault.entry(.any(entry)).alias
        let e = try session.rename(.any(entry), to: alias)
        if json { return try Output.change(.init(command: "rename", entry: e), in: session.vault) }
        Output.line("renamed entry \(e.id) from \(before) to \(e.alias)")
    }
}

extension PersonCommand {
    struct SetRole: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-role",
            abstract: "Give a person another role (admins only); a new admin receives every key."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Their handle.", completion: Completions.handles) var handle: String
        @Argument(help: "admin, officer or auditor (staff stay staff).") var role: PersonRole
        @Flag(help: "Print what was done as JSON: the person as they now stand and the record's seq.") var json = false

        func run() throws {
            let session = try global.unlock(try global.openVault())
            let p = try session.setRole(of: handle, to: role)
            if json { return try Output.change(.init(command: "person set-role", person: p), in: session.vault) }
            Output.line("\(p.handle) is now \(p.role.rawValue)")
            guard role != .admin else { return }
            // A role change keeps the grants: an admin made officer still opens every key.
            let held = try session.vault.entries().filter { $0.access.contains(p.handle) }.map(\.alias)
            guard !held.isEmpty else { return }
            Output.warning(
                "\(p.handle) can still open \(Output.count(held.count, "entry's key", "entries' keys")): a role change keeps every grant"
            )
            Output.hint(
                "take away what they no longer need: certvault ungrant ALIAS \(p.handle) (\(held.prefix(3).joined(separator: ", "))\(held.count > 3 ? ", …" : ""))"
            )
        }
    }

    struct SetPerson: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set what the vault keeps about a person: the age key files handed to them are encrypted to.",
            discussion: """
                With an age recipient (the public key age-keygen prints), 'certvault export --for HANDLE' writes \
                the file encrypted to it, in the age format: only the holder of the matching identity opens it \
                (age -d -i KEY). A person sets their own; an admin sets anyone's. Recorded in a signed record.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Their handle.", completion: Completions.handles) var handle: String
        @Option(
            name: .customLong("age-recipient"),
            help: ArgumentHelp("Their age public key.", valueName: "age1…")
        )
        var ageRecipient: String?
        @Flag(name: .customLong("clear-age-recipient"), help: "Forget their age recipient.") var clear = false
        @Flag(help: "Print what was done as JSON: the person as they now stand and the record's seq.") var json = false

        func validate() throws {
            guard (ageRecipient != nil) != clear else {
                throw ValidationError("give --age-recipient age1… or --clear-age-recipient")
            }
            if let ageRecipient {
                do { _ = try AgeRecipient(parsing: ageRecipient) } catch let error as CertVaultError {
                    throw ValidationError(error.message)
                }
            }
        }

        func run() throws {
            let recipient = try ageRecipient.map { try AgeRecipient(parsing: $0) }
            let session = try global.unlock(try global.openVault())
            let p = try session.setAgeRecipient(recipient, of: handle)
            if json { return try Output.change(.init(command: "person set", person: p), in: session.vault) }
            Output.line(
                recipient.map { "files exported for \(p.handle) are now encrypted to \($0)" }
                    ?? "\(p.handle) has no age recipient now: files exported for them are written as they are"
            )
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change your own passphrase (and KDF cost); no entry is touched.",
            discussion: "The new passphrase comes from --new-passphrase-file, CERTVAULT_NEW_PASSPHRASE or a prompt."
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Read the new passphrase from this file.", valueName: "file"))
        var newPassphraseFile: String?
        @Option(help: "KDF cost of the new keyslot.") var kdf: KDFStrength = .moderate
        @Flag(help: "Accept a weak passphrase (for a test vault).") var weakPassphraseOk = false
        @Flag(help: "Print what was done as JSON: the person as they now stand and the record's seq.") var json = false

        func run() throws {
            let session = try global.unlock(try global.openVault())
            let passphrase = try Secrets.read(
                file: newPassphraseFile,
                environment: "CERTVAULT_NEW_PASSPHRASE",
                prompt: "New passphrase for \(session.person.handle): ",
                what: "the new passphrase",
                fileOption: "--new-passphrase-file",
                confirm: true,
                weakOK: weakPassphraseOk,
                context: [session.person.handle, session.person.name].compactMap { $0 }
            )
            try session.changePassphrase(to: passphrase, kdf: kdf)
            if json {
                return try Output.change(
                    .init(command: "person passwd", person: try session.vault.person(session.person.handle)),
                    in: session.vault
                )
            }
            Output.line("passphrase of \(session.person.handle) changed (KDF \(kdf.rawValue))")
        }
    }

    struct Depart: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A person leaves: their access ends now, and the rotation plan is printed (admins only).",
            discussion: """
                Their keyslot and every grant are deleted and the bytes leave the files; every entry they could \
                ever open or were handed a copy of is marked needs-rotation. A copy of the vault file taken earlier \
                still opens with their old passphrase: rotate what the plan lists.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Their handle.", completion: Completions.handles) var handle: String
        @Option(help: "Why they left (recorded).") var reason: String
        @Flag(help: "Rotate the self-signed certificates of the plan right away.") var rotate = false
        @Flag(help: "Print the plan and change nothing: no departure, no record.") var dryRun = false
        @Flag(help: "Print the plan as JSON.") var json = false

        func validate() throws {
            if rotate && dryRun { throw ValidationError("--dry-run rotates nothing: give --rotate or --dry-run") }
        }

        func run() throws {
            let session = try global.unlock(try global.openVault())
            let plan = try session.depart(handle, reason: reason, rotate: rotate, dryRun: dryRun)
            if json { return try Output.json(plan) }
            let todo = plan.items.filter { $0.action != .none && $0.rotatedTo == nil }.count
            Output.line(
                plan.dryRun
                    ? "dry run: \(plan.person) has not departed and nothing was recorded; if they did, \(Output.count(plan.items.count, "entry", "entries")) reachable, \(todo) to act on"
                    : "\(plan.person) departed: access ended; \(Output.count(plan.items.count, "entry", "entries")) reachable, \(todo) to act on"
            )
            Output.table(
                ["ID", "ALIAS", "THUMBPRINT", "PURPOSE", "ACTION", "GRANT", "LEFT WITH", "WHY"],
                plan.items.map {
                    [
                        $0.entryID.description, $0.alias, $0.thumbprintSHA1 ?? "-", $0.purpose.rawValue,
                        $0.rotatedTo.map { "rotated → \($0)" } ?? $0.rotationError.map { "rotate failed: \($0)" }
                            ?? $0.action.rawValue,
                        $0.grantEnded ? (plan.dryRun ? "would end" : "ended") : "-",
                        $0.holdersLeft.isEmpty ? "nobody" : $0.holdersLeft.joined(separator: ","),
                        $0.reasons.joined(separator: "; "),
                    ]
                }
            )
            let sole = plan.items.filter { $0.holdersLeft.count == 1 }
            if !sole.isEmpty {
                Output.line(
                    "sole holders left: "
                        + sole.map { "\($0.holdersLeft[0]) for \($0.alias)" }.joined(separator: ", ")
                )
            }
            // What each action means, as commands.
            let left = plan.items.filter { $0.rotatedTo == nil }
            for (action, step) in [
                (
                    RotationPlan.Action.rotate,
                    "certvault rotate ALIAS (or all at once: --rotate), then upload the new .cer"
                ),
                (.reissue, "certvault rotate ALIAS --out ALIAS.csr, send the request to the CA, import what it issues"),
                (
                    .rerequest,
                    "certvault rotate ALIAS --out ALIAS.csr: a new key and request for the same names, under the same alias"
                ),
                (.retire, "remove the old certificate from Azure, then certvault retire ALIAS"),
            ] {
                let aliases = left.filter { $0.action == action }.map(\.alias)
                guard !aliases.isEmpty else { continue }
                Output.line("next, \(action.rawValue): \(step) — for \(aliases.joined(separator: ", "))")
            }
        }
    }

    struct ShowPerson: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "A person's role, status, what they can open now, ever could, and were handed."
        )
        @OptionGroup var global: ReadOptions
        @Argument(help: "Their handle.", completion: Completions.handles) var handle: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let vault = try global.openVault()
            let history = try vault.personHistory(handle)
            if json { return try Output.json(history) }
            let p = history.person
            Output.line("\(p.handle) (\(p.role.rawValue), \(p.status.rawValue))\(p.name.map { ", \($0)" } ?? "")")
            if let age = p.ageRecipient { Output.line("files handed to them are encrypted to: \(age)") }
            Output.line("can open now: \(history.canOpen.isEmpty ? "-" : history.canOpen.joined(separator: ", "))")
            if history.couldOpen.isEmpty {
                Output.line("could never open a key")
            } else {
                Output.table(
                    ["ENTRY", "COULD OPEN FROM", "UNTIL", "ENDED"],
                    history.couldOpen.map {
                        [$0.alias, Output.date($0.from), $0.until.map(Output.date) ?? "-", $0.ended ?? "-"]
                    }
                )
            }
            if history.copies.isEmpty {
                Output.line("received no copy of a key")
            } else {
                Output.table(
                    ["ENTRY", "COPY RECEIVED", "FROM", "FORMAT"],
                    history.copies.map { [$0.alias, Output.date($0.at), $0.by, $0.format] }
                )
            }
        }
    }
}

extension AuditCommand {
    struct Who: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who could open an entry's key, from when to when, and every copy handed out (no passphrase)."
        )
        @OptionGroup var global: ReadOptions
        @Argument(help: "The entry: alias, id, DNS name or thumbprint prefix.", completion: Completions.entries)
        var entry: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let history = try global.openVault().accessHistory(.any(entry))
            if json { return try Output.json(history) }
            Output.line("entry \(history.entryID) \(history.alias)")
            if history.holders.isEmpty { Output.line("nobody could ever open its key") }
            if !history.holders.isEmpty {
                Output.table(
                    ["COULD OPEN", "FROM", "UNTIL", "GRANTED BY", "ENDED"],
                    history.holders.map {
                        [
                            $0.person, Output.date($0.from), $0.until.map(Output.date) ?? "-", $0.grantedBy,
                            $0.ended ?? "-",
                        ]
                    }
                )
            }
            if history.copies.isEmpty {
                Output.line("no copy of its key was handed out")
            } else {
                Output.table(
                    ["COPY FOR", "AT", "BY", "FORMAT"],
                    history.copies.map { [$0.recipient, Output.date($0.at), $0.by, $0.format] }
                )
            }
        }
    }
}
