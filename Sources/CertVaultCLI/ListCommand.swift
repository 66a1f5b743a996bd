import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the entries (no passphrase needed).",
        discussion: """
            Only entries that match their signed records are shown as they are. A row altered by hand is listed as \
            TAMPERED, without its altered values, and the command exits 5; --json then lists only the entries that \
            check out, and the findings go to stderr.
            """
    )
    @OptionGroup var global: ReadOptions
    @Option(help: "Only entries of this purpose (ssl, management, app, other).") var purpose: EntryPurpose?
    @Option(
        help: ArgumentHelp(
            "Only entries in this state: active, pending, superseded, revoked, expired, expiring.",
            valueName: "state"
        )
    )
    var status: String?
    @Option(help: ArgumentHelp("Only entries of this Azure subscription.", valueName: "id")) var subscription: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Only active certificates that expire within DAYS days.", valueName: "days")
    )
    var expiring: Int?
    @Flag(help: "Only entries due for rotation.") var needsRotation = false
    @Option(help: "Order: added (default), expiry or alias.") var sort: ListOrder = .added
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print CSV for a spreadsheet: public data only, never a key.") var csv = false
    @Flag(
        help:
            "Print an iCalendar (RFC 5545) of renewals and rotations: one event per entry, the policy's windows as alarms."
    )
    var ics = false

    enum ListOrder: String, ExpressibleByArgument, CaseIterable {
        case added, expiry, alias
    }

    func validate() throws {
        if [json, csv, ics].filter({ $0 }).count > 1 { throw ValidationError("choose one of --json, --csv and --ics") }
        if let expiring, expiring < 0 { throw ValidationError("--expiring takes days from 0, not \(expiring)") }
        let states = ["active", "pending", "superseded", "revoked", "expired", "expiring"]
        if let status, !states.contains(status) {
            throw ValidationError("unknown state '\(status)'; choose one of \(states.joined(separator: ", "))")
        }
    }

    func selected(_ entries: [Entry], now: Date) -> [Entry] {
        let chosen = entries.filter { e in
            if let purpose, e.purpose != purpose { return false }
            if let subscription, e.subscription != subscription { return false }
            if needsRotation && !e.needsRotation { return false }
            if let expiring {
                guard e.status == .active, case .valid(let days) = e.validity(at: now), days <= expiring else {
                    return false
                }
            }
            switch status {
            case nil: return true
            case "expired"?:
                if case .expired = e.validity(at: now) { return e.status == .active }
                return false
            case "expiring"?:
                if case .valid(let days) = e.validity(at: now) { return e.status == .active && days <= 30 }
                return false
            case let wanted?: return e.status.rawValue == wanted
            }
        }
        switch sort {
        case .added: return chosen
        case .alias: return chosen.sorted { $0.alias < $1.alias }
        case .expiry:
            return chosen.sorted {
                ($0.certificate?.notValidAfter ?? .distantFuture, $0.id) < (
                    $1.certificate?.notValidAfter ?? .distantFuture, $1.id
                )
            }
        }
    }

    func run() throws {
        let vault = try global.openVault()
        let inventory = try vault.inventory()
        let now = Date()
        let filtering = purpose != nil || status != nil || subscription != nil || expiring != nil || needsRotation
        let entries = selected(inventory.entries, now: now)
        if ics {
            let calendar = RenewalCalendar(
                entries: entries,
                settings: try vault.policy().settings,
                vaultID: vault.vaultID,
                now: now
            )
            FileHandle.standardOutput.write(Data(calendar.text.utf8))
        } else if json {
            try Output.json(entries)
        } else if csv {
            Output.csv(
                [
                    "id", "alias", "purpose", "subscription", "domains", "thumbprint_sha1", "subject", "issuer",
                    "not_before", "not_after", "days_left", "state", "private_key", "created_at", "created_by",
                ],
                entries.map { e in
                    var daysLeft = ""
                    switch e.validity(at: now) {
                    case .valid(let d): daysLeft = String(d)
                    case .expired(let d): daysLeft = String(-d)
                    default: break
                    }
                    return [
                        e.id.description, e.alias, e.purpose.rawValue, e.subscription ?? "",
                        e.domains.joined(separator: " "), e.certificate?.thumbprintSHA1 ?? "",
                        e.certificate?.subject ?? e.requestedSubject ?? "", e.certificate?.issuer ?? "",
                        e.certificate.map { Output.date($0.notValidBefore) } ?? "",
                        e.certificate.map { Output.date($0.notValidAfter) } ?? "", daysLeft,
                        e.displayStatus(at: now, window: expiring ?? 30),
                        e.hasPrivateKey ? "yes" : "no", Output.date(e.createdAt), e.createdBy,
                    ]
                }
            )
        } else {
            var rows: [(Int64, [String])] = entries.enumerated().map { i, e in
                (
                    sort == .added ? e.id.rawValue : Int64(i),
                    [
                        e.id.description, e.alias, e.purpose.rawValue, e.certificate?.thumbprintSHA1 ?? "-",
                        e.certificate.map { Output.date($0.notValidAfter) } ?? "-", e.hasPrivateKey ? "yes" : "no",
                        e.displayStatus(at: now, window: expiring ?? 30),
                        e.certificate?.subject ?? e.requestedSubject ?? "-",
                    ]
                )
            }
            if !filtering && sort == .added {
                rows += inventory.tampered.map {
                    ($0.id, [String($0.id), "-", "-", "-", "-", "-", "TAMPERED", $0.reason])
                }
            }
            Output.table(
                ["ID", "ALIAS", "PURPOSE", "THUMBPRINT (SHA-1)", "NOT AFTER", "KEY", "STATUS", "SUBJECT"],
                rows.sorted { $0.0 < $1.0 }.map(\.1)
            )
        }
        if !inventory.isIntact {
            for finding in inventory.findings.prefix(20) { Output.stderr("finding: \(finding)") }
            if inventory.findings.count > 20 {
                Output.stderr(
                    "finding: … and \(inventory.findings.count - 20) more ('certvault audit verify' lists them all)"
                )
            }
            if let rollback = inventory.rollback {
                Output.error("the vault was rolled back: \(rollback.reason)")
                Output.hint("if you restored a backup on purpose, accept it with 'certvault audit accept-rollback'")
            } else {
                Output.error("the vault does not match its signed records; entries that differ are not shown")
                Output.hint("run 'certvault audit verify', and restore the vault from a backup")
            }
            throw ExitStatus.integrity.exit
        }
    }
}
