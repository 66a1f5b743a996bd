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
        let policy = try self.policy().settings
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
            recent: recent,
            policy: policy
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
    let policy: PolicySettings

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
            .ok{color:#070;font-weight:bold}.bad{color:#a00;font-weight:bold}code{font-size:.9em;overflow-wrap:anywhere}
            td{overflow-wrap:anywhere}pre.raw{white-space:pre-wrap;word-break:break-all;font-size:.8em;margin:.3em 0}
            svg.timeline{max-width:100%;height:auto}td.time{white-space:nowrap}.legend span{margin-right:1.5em}
            @media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
            </style></head><body>

            """
        html += header()
        html += findingsSection()
        html += inventorySection()
        html += timelineSection()
        html += custodySection()
        html += activitySection()
        html += policySection()
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

    /// Every certificate, from the earliest start of validity to the latest
    /// end, each a bar over its validity, with today marked and a tick each
    /// new year. Active bars are green (amber within 30 days of the end, red
    /// past it); superseded ones grey; revoked ones hatched red; retired ones
    /// an outline only. Labels are never cut: the label column is as wide as
    /// the longest, and the drawing scales to the page (viewBox).
    func timelineSection() -> String {
        let shown = entries.filter { $0.certificate != nil }
            .sorted { ($0.certificate!.notValidAfter, $0.id) < ($1.certificate!.notValidAfter, $1.id) }
        var out = "<h2 id=\"timeline\">Validity timeline</h2>\n"
        guard !shown.isEmpty else { return out + "<p>No certificate.</p>\n" }
        func state(_ entry: Entry) -> String {
            if entry.status == .revoked { return "revoked" }
            if entry.retiredAt != nil { return "retired" }
            return entry.status.rawValue
        }
        let labels = shown.map { "\($0.alias) (\(state($0)))" }
        // About 7 px a character at 11 px: the longest label fits, whatever its length.
        let left = Double(labels.map { Display.escaped($0).count }.max() ?? 0) * 7 + 16
        let width = 640.0
        let row = 18.0
        let first = min(shown.map { $0.certificate!.notValidBefore }.min()!, now)
        let last = max(shown.map { $0.certificate!.notValidAfter }.max()!, now)
        let span = max(last.timeIntervalSince(first), 86_400)
        func x(_ d: Date) -> Double { left + d.timeIntervalSince(first) / span * width }
        let height = Double(shown.count) * row + 34
        let total = Int(left + width + 40)
        out +=
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(total) \(Int(height))\" width=\"\(total)\" height=\"\(Int(height))\" role=\"img\" aria-label=\"validity timeline\">\n"
            + "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fdd\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#c00\" stroke-width=\"2\"/></pattern></defs>\n"
        // A tick at each new year between the first and the last day.
        let calendar = Calendar(identifier: .gregorian)
        let utc = TimeZone(identifier: "UTC")!
        var year = calendar.dateComponents(in: utc, from: first).year! + 1
        while let tick = calendar.date(from: DateComponents(timeZone: utc, year: year, month: 1, day: 1)), tick < last {
            out += "<line x1=\"\(x(tick))\" y1=\"0\" x2=\"\(x(tick))\" y2=\"\(height - 16)\" stroke=\"#ddd\"/>"
            // A year's label too near today's would run into it.
            if abs(x(tick) - x(now)) > 40 {
                out +=
                    "<text x=\"\(x(tick))\" y=\"\(height - 4)\" font-size=\"10\" text-anchor=\"middle\">\(year)</text>"
            }
            out += "\n"
            year += 1
        }
        for (i, entry) in shown.enumerated() {
            let cert = entry.certificate!
            let y = Double(i) * row + 4
            let days = cert.notValidAfter.timeIntervalSince(now) / 86_400
            let look: String
            switch state(entry) {
            case "revoked": look = "fill=\"url(#hatch)\" stroke=\"#c00\""
            case "retired": look = "fill=\"none\" stroke=\"#777\" stroke-dasharray=\"3 2\""
            case "superseded": look = "fill=\"#bbb\""
            default: look = "fill=\"\(days <= 0 ? "#c00" : days <= 30 ? "#d80" : "#2a7")\""
            }
            out +=
                "<text x=\"\(left - 6)\" y=\"\(y + 11)\" font-size=\"11\" font-family=\"monospace\" text-anchor=\"end\">\(e(labels[i]))</text>"
                + "<rect x=\"\(x(cert.notValidBefore))\" y=\"\(y)\" width=\"\(max(2, x(cert.notValidAfter) - x(cert.notValidBefore)))\" height=\"\(row - 6)\" \(look)>"
                + "<title>\(e(labels[i])): \(day(cert.notValidBefore)) to \(day(cert.notValidAfter))</title></rect>\n"
        }
        out +=
            "<line x1=\"\(x(now))\" y1=\"0\" x2=\"\(x(now))\" y2=\"\(height - 16)\" stroke=\"#00c\" stroke-width=\"2\"/>"
            + "<text x=\"\(x(now))\" y=\"\(height - 4)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#00c\">today</text>\n"
        out += "</svg>\n"
        return out
            + "<p class=\"legend\"><span>green: active</span><span>amber: ends within 30 days</span><span>red: expired</span>"
            + "<span>grey: superseded</span><span>hatched: revoked</span><span>outline: retired</span>"
            + "<span>blue line: today (\(day(now)))</span></p>\n"
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

    /// The last 30 days, newest first: the time (UTC), who, what, and the
    /// entry by the alias its record names, with today's alias beside it
    /// when it has changed since.
    func activitySection() -> String {
        var out = "<h2 id=\"activity\">The last 30 days</h2>\n"
        guard !recent.isEmpty else { return out + "<p>Nothing happened.</p>\n" }
        let aliasNow = Dictionary(entries.map { ($0.id, $0.alias) }, uniquingKeysWith: { a, _ in a })
        out +=
            "<table id=\"activity-table\"><tr><th>time (UTC)</th><th>record</th><th>what happened</th><th>entry</th></tr>\n"
        for r in recent.reversed() {
            var entry = "-"
            if let then = r.entryAlias {
                entry = e(then)
                if let id = r.entryID, let current = aliasNow[id], current != then {
                    entry += " <span class=\"info\">(now \(e(current)))</span>"
                }
            }
            out +=
                "<tr><td class=\"time\">\(e(Self.time(r.at)))</td><td>\(r.seq)</td><td>\(e(Self.sentence(r)))</td><td>\(entry)</td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// `2026-12-07T23:30:53Z` as `2026-12-07 23:30:53 +00:00`.
    static func time(_ at: String) -> String {
        guard at.count >= 19 else { return at }
        return at.prefix(10) + " " + at.dropFirst(11).prefix(8) + " +00:00"
    }

    /// The settings every check judges by, and the private CA roots the
    /// vault trusts: each named (subject, issuer, thumbprint, validity),
    /// its raw form folded away.
    func policySection() -> String {
        var out = """
            <h2 id="policy">Policy</h2>
            <table><tr><th>setting</th><th>value</th></tr>
            <tr><td>expiry windows</td><td>\(policy.expiryShare.map { "the last \(Int($0 * 100)) % of the lifetime" } ?? policy.expiryWindows.map { "\($0) days" }.joined(separator: ", "))</td></tr>
            <tr><td>management certificates a subscription may hold</td><td>\(policy.managementLimit)</td></tr>
            <tr><td>rotation age of management and app certificates</td><td>\(policy.managementMaxAgeDays) days</td></tr>
            <tr><td>a key is released only once an audit sink holds its record</td><td>\(policy.requireSink ? "yes" : "no")</td></tr>
            </table>

            """
        out += "<h3>Trusted roots</h3>\n"
        guard !policy.trustedRoots.isEmpty else { return out + "<p>None besides the system's.</p>\n" }
        out +=
            "<table id=\"trusted-roots\"><tr><th>subject</th><th>issuer</th><th>SHA-1 thumbprint</th><th>valid</th></tr>\n"
        for der in policy.trustedRoots {
            let raw =
                "<details><summary>raw (base64 DER)</summary><pre class=\"raw\">\(der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed]))</pre></details>"
            guard let meta = try? Certificate(derEncoded: der).metadata() else {
                out += "<tr><td colspan=\"3\">a root that cannot be read</td><td>\(raw)</td></tr>\n"
                continue
            }
            out +=
                "<tr><td>\(e(meta.subject))\(raw)</td><td>\(e(meta.issuer))</td><td><code>\(e(meta.thumbprintSHA1))</code></td>"
                + "<td>\(day(meta.notValidBefore)) to \(day(meta.notValidAfter))</td></tr>\n"
        }
        return out + "</table>\n"
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
        case .personRecipient?:
            return "\(who) set the age key files for \(r.personHandle ?? "a person") are encrypted to"
        case .personDepart?: return "\(r.personHandle ?? "a person") departed (recorded by \(who))"
        case .entryUngrant?: return "\(who) took\(what) away\(r.personHandle.map { " from \($0)" } ?? "")"
        case .entryNeedsRotation?: return "\(who) marked\(what) for rotation"
        case .entrySupersede?: return "\(who) rotated\(what)"
        case .entryRevoke?: return "\(who) revoked\(what)"
        case .entryRetire?: return "\(who) retired\(what)"
        case .entryRename?: return "\(who) renamed\(what)"
        case .entryDenied?: return "\(who) was refused the key of\(what)"
        case .policySet? where r.fields.string(.key) == PolicyKey.trustedRoots.rawValue:
            // The roots by name, never as the base64 the record holds.
            var probe = PolicySettings()
            try? PolicyKey.trustedRoots.apply(r.fields.string(.value) ?? "", to: &probe)
            let names = probe.trustedRoots.map { (try? Certificate(derEncoded: $0).metadata().subject) ?? "?" }
            return names.isEmpty
                ? "\(who) cleared the policy's trusted roots"
                : "\(who) set the policy's trusted roots to \(names.joined(separator: "; "))"
        case .policySet?:
            return "\(who) set the policy's \(r.fields.string(.key) ?? "?") to \(r.fields.string(.value) ?? "?")"
        case nil: return "\(who): \(r.action)\(what)"
        }
    }
}
