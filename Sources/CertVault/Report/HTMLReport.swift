import Foundation

extension Vault {
    /// One self-contained HTML page an auditor reads instead of JSON: the
    /// vault and its verified audit head, the inventory with status and
    /// days left, an expiry timeline (inline SVG), the findings of
    /// ``check(_:purpose:subscription:entries:now:)``, a custody matrix
    /// (people × entries) and the last 30 days of activity in sentences.
    ///
    /// No passphrase; no external assets and no script; it prints. Every
    /// text that came from a certificate or a person is escaped. The page is
    /// well-formed XML as well as HTML, so that a program can read it back.
    public func htmlReport(now: Date = Date()) throws -> String {
        let verification = try verify()
        let inventory = try inventory()
        let report = try check(now: now)
        let people = try people()
        var histories: [PersonHistory] = []
        for person in people { histories.append(try personHistory(person.handle)) }
        var filter = AuditFilter()
        filter.since = now.addingTimeInterval(-30 * 86_400)
        let recent = try auditRecords(filter)
        return HTMLReport(
            path: path,
            vaultID: vaultID,
            now: now,
            verification: verification,
            entries: inventory.entries,
            tampered: inventory.tampered.count,
            findings: report.findings,
            people: people,
            histories: histories,
            recent: recent
        ).render()
    }

    /// Writes ``htmlReport(now:)`` to `path` (mode 0600, atomically, never
    /// over an existing file unless `force`).
    public func writeHTMLReport(to path: String, force: Bool = false, now: Date = Date()) throws {
        try SecureFile.write(Data(try htmlReport(now: now).utf8), to: path, force: force)
    }
}

struct HTMLReport {
    let path: String
    let vaultID: Data
    let now: Date
    let verification: AuditVerification
    let entries: [Entry]
    let tampered: Int
    let findings: [PolicyFinding]
    let people: [Person]
    let histories: [PersonHistory]
    let recent: [AuditRecord]

    /// Escapes text for HTML and XML; control characters become visible escapes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in Display.escaped(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func e(_ text: String) -> String { Self.escape(text) }
    private func day(_ d: Date) -> String { Timestamp.day(d) }

    func render() -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"/>
            <title>certvault report: \(e(URL(fileURLWithPath: path).lastPathComponent))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
            h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
            table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
            th{background:#f2f2f2}.error{color:#a00;font-weight:bold}.warning{color:#a60}.info{color:#555}
            .ok{color:#070;font-weight:bold}.bad{color:#a00;font-weight:bold}code{font-size:.9em}
            @media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
            </style></head><body>

            """
        html += header()
        html += findingsSection()
        html += inventorySection()
        html += timelineSection()
        html += custodySection()
        html += activitySection()
        html +=
            "<p class=\"info\">Made by certvault on \(e(Timestamp.format(now))). Everything above was read from rows that match their signed records.</p>\n</body></html>\n"
        return html
    }

    func header() -> String {
        let head = verification.head.map { "record \($0.seq), <code>\(e($0.hash.hexLower))</code>" } ?? "no records"
        let status =
            verification.isValid
            ? "<span class=\"ok\">verified</span>: every record's hash, signature and signer's role check out, and the tables match the signed state"
            : "<span class=\"bad\">does not verify</span>: \(e(verification.findings.first?.description ?? "?"))"
        return """
            <h1>Certificate vault report</h1>
            <table id="vault">
            <tr><th>vault</th><td>\(e(path))</td></tr>
            <tr><th>vault id</th><td><code>\(e(vaultID.hexLower))</code></td></tr>
            <tr><th>audit head</th><td>\(head)</td></tr>
            <tr><th>audit log</th><td>\(status)</td></tr>
            <tr><th>entries</th><td>\(entries.count)\(tampered > 0 ? ", and \(tampered) that do not match their records (not shown)" : "")</td></tr>
            <tr><th>report made</th><td>\(e(Timestamp.format(now)))</td></tr>
            </table>

            """
    }

    func findingsSection() -> String {
        var out = "<h2 id=\"findings\">Findings</h2>\n"
        guard !findings.isEmpty else { return out + "<p>None: every entry passes every rule.</p>\n" }
        out += "<table><tr><th>severity</th><th>rule</th><th>entry</th><th>finding</th></tr>\n"
        for f in findings {
            out +=
                "<tr><td class=\"\(f.severity.rawValue)\">\(f.severity.rawValue)</td><td><code>\(e(f.rule))</code></td>"
                + "<td>\(e(f.alias ?? "-"))</td><td>\(e(f.message))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    func inventorySection() -> String {
        var out = """
            <h2 id="inventory">Inventory</h2>
            <table><tr><th>alias</th><th>purpose</th><th>subject</th><th>SHA-1 thumbprint</th><th>not after</th><th>days left</th><th>status</th><th>key</th><th>can open</th></tr>

            """
        for entry in entries {
            var days = "-"
            switch entry.validity(at: now) {
            case .valid(let d): days = String(d)
            case .expired(let d): days = "−\(d)"
            default: break
            }
            out +=
                "<tr><td>\(e(entry.alias))</td><td>\(entry.purpose.rawValue)</td>"
                + "<td>\(e(entry.certificate?.subject ?? entry.requestedSubject ?? "-"))</td>"
                + "<td><code>\(e(entry.certificate?.thumbprintSHA1 ?? "-"))</code></td>"
                + "<td>\(entry.certificate.map { day($0.notValidAfter) } ?? "-")</td><td>\(days)</td>"
                + "<td>\(e(entry.displayStatus(at: now)))</td><td>\(entry.hasPrivateKey ? "yes" : "no")</td>"
                + "<td>\(e(entry.access.joined(separator: ", ")))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// Certificates in use, from 30 days ago to a year ahead: a bar to each
    /// one's end, red when past, amber within 30 days.
    func timelineSection() -> String {
        let shown = entries.filter { $0.certificate != nil && ($0.status == .active || $0.status == .superseded) }
            .sorted { $0.certificate!.notValidAfter < $1.certificate!.notValidAfter }.prefix(60)
        var out = "<h2 id=\"timeline\">Expiry timeline</h2>\n"
        guard !shown.isEmpty else { return out + "<p>No certificate in use.</p>\n" }
        let left = 180.0
        let width = 560.0
        let row = 18.0
        let start = -30.0
        let end = 365.0
        func x(_ days: Double) -> Double { left + (min(max(days, start), end) - start) / (end - start) * width }
        let height = Double(shown.count) * row + 30
        out +=
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 30))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"expiry timeline\">\n"
        for (mark, label) in [(0.0, "today"), (30.0, "+30 d"), (90.0, "+90 d"), (180.0, "+180 d"), (365.0, "+1 y")] {
            out +=
                "<line x1=\"\(x(mark))\" y1=\"0\" x2=\"\(x(mark))\" y2=\"\(height - 14)\" stroke=\"#bbb\"/>"
                + "<text x=\"\(x(mark))\" y=\"\(height - 2)\" font-size=\"10\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for (i, entry) in shown.enumerated() {
            let days = entry.certificate!.notValidAfter.timeIntervalSince(now) / 86_400
            let y = Double(i) * row + 4
            let color = days <= 0 ? "#c00" : days <= 30 ? "#d80" : "#2a7"
            let label = String(entry.alias.prefix(24))
            out +=
                "<text x=\"\(left - 6)\" y=\"\(y + 11)\" font-size=\"11\" text-anchor=\"end\">\(e(label))</text>"
                + "<rect x=\"\(min(x(0), x(days)))\" y=\"\(y)\" width=\"\(max(2, abs(x(days) - x(0))))\" height=\"\(row - 6)\" fill=\"\(color)\">"
                + "<title>\(e(entry.alias)): \(day(entry.certificate!.notValidAfter))</title></rect>\n"
        }
        return out + "</svg>\n"
    }

    /// People × entries with a key: what each could and can do with it.
    func custodySection() -> String {
        var out = "<h2 id=\"custody\">Custody</h2>\n"
        let keyed = entries.filter(\.hasPrivateKey)
        guard !keyed.isEmpty, !histories.isEmpty else { return out + "<p>No keys held.</p>\n" }
        out +=
            "<p>open: can open the key now · could: could open it once · copy: was handed an exported copy.</p>\n"
            + "<table><tr><th>entry</th>"
        for h in histories {
            out += "<th>\(e(h.person.handle))\(h.person.status == .departed ? " (departed)" : "")</th>"
        }
        out += "</tr>\n"
        for entry in keyed {
            out += "<tr><td>\(e(entry.alias))</td>"
            for h in histories {
                var marks: [String] = []
                if h.canOpen.contains(entry.alias) {
                    marks.append("open")
                } else if h.couldOpen.contains(where: { $0.entryID == entry.id }) {
                    marks.append("could")
                }
                let copies = h.copies.filter { $0.entryID == entry.id }.count
                if copies > 0 { marks.append(copies == 1 ? "copy" : "\(copies) copies") }
                out += "<td>\(marks.joined(separator: ", "))</td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }

    func activitySection() -> String {
        var out = "<h2 id=\"activity\">The last 30 days</h2>\n"
        guard !recent.isEmpty else { return out + "<p>Nothing happened.</p>\n" }
        out += "<ul>\n"
        for r in recent.reversed() {
            out += "<li>\(e(String(r.at.prefix(10)))) — \(e(Self.sentence(r)))</li>\n"
        }
        return out + "</ul>\n"
    }

    /// A record in plain words: who did what to which entry, for whom.
    static func sentence(_ r: AuditRecord) -> String {
        let who = r.actorHandle ?? "someone"
        let what = r.entryAlias.map { " \($0)" } ?? ""
        let whom = r.personHandle.map { " for \($0)" } ?? ""
        switch AuditAction(rawValue: r.action) {
        case .vaultCreate?: return "\(who) created the vault"
        case .personKeyslot?: return "\(who) set a passphrase"
        case .personAdd?: return "\(who) added \(r.personHandle ?? "a person")"
        case .unlockFailed? where r.personDeparted == true:
            return "someone tried to unlock the vault as \(r.personHandle ?? "a person"), who had departed"
        case .unlockFailed?:
            return "someone gave a wrong passphrase for \(r.personHandle ?? r.actorHandle ?? "a person")"
        case .entryImport?: return "\(who) imported\(what)"
        case .entryCreate?: return "\(who) created\(what)"
        case .entryRequest?: return "\(who) made a certificate request for\(what)"
        case .entryKeyAdd?: return "\(who) added the private key of\(what)"
        case .entryCertAdd?: return "\(who) added the certificate of\(what)"
        case .entryComplete?: return "\(who) completed the request\(what) with the CA's certificate"
        case .entryLink?: return "\(who) linked\(what) to its issuer"
        case .entryGrant?: return "\(who) granted\(what)\(r.personHandle.map { " to \($0)" } ?? "")"
        case .entryExport?: return "\(who) exported the key of\(what)\(whom)"
        case .entryExportUnwritten?: return "the export of\(what) by \(who) was not written"
        case .vaultBackup?: return "\(who) made a backup"
        case .rollbackAccepted?: return "\(who) accepted an older copy of the vault (a restored backup)"
        case .personRole?: return "\(who) changed the role of \(r.personHandle ?? "a person")"
        case .personDepart?: return "\(r.personHandle ?? "a person") departed (recorded by \(who))"
        case .entryUngrant?: return "\(who) took\(what) away\(r.personHandle.map { " from \($0)" } ?? "")"
        case .entryNeedsRotation?: return "\(who) marked\(what) for rotation"
        case .entrySupersede?: return "\(who) rotated\(what)"
        case .entryRevoke?: return "\(who) revoked\(what)"
        case .entryRetire?: return "\(who) retired\(what)"
        case .entryRename?: return "\(who) renamed\(what)"
        case .entryDenied?: return "\(who) was refused the key of\(what)"
        case .policySet?:
            return "\(who) set the policy's \(r.fields.string(.key) ?? "?") to \(r.fields.string(.value) ?? "?")"
        case nil: return "\(who): \(r.action)\(what)"
        }
    }
}
