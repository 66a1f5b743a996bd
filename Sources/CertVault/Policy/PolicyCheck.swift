import Foundation
import GRDB
import Synchronization

extension Vault {
    /// Checks every entry against Azure's certificate rules, expiry and
    /// rotation, without a passphrase: only public data, read from rows
    /// that match their signed records (a vault that does not is refused).
    ///
    /// - Parameters:
    ///   - given: limits, windows, ages and trusted roots; nil for the
    ///     vault's own policy (``policy()``).
    ///   - purpose: only entries of this purpose; nil for all.
    ///   - subscription: only entries of this subscription; nil for all.
    ///   - refs: only these entries (what a command just stored); empty
    ///     for all. Then a subscription's limit is judged only for their
    ///     subscriptions, and keyslots not at all.
    ///   - now: the time judged against.
    /// - Throws: `.tampered` or `.rollback` when the vault does not check
    ///   out; `.invalidArgument` for a CA file that cannot be read.
    public func check(
        _ given: PolicySettings? = nil,
        purpose: EntryPurpose? = nil,
        subscription: String? = nil,
        entries refs: [EntryReference] = [],
        now: Date = Date()
    ) throws -> PolicyReport {
        try check(purpose: purpose, subscription: subscription, entries: refs, now: now) { settings in
            if let given { settings = given }
        }
    }

    /// ``check(_:purpose:subscription:entries:now:)`` against the vault's
    /// own policy, as `adjust` changes it for this one check (a command's
    /// options), read in the same pass as the entries.
    public func check(
        purpose: EntryPurpose? = nil,
        subscription: String? = nil,
        entries refs: [EntryReference] = [],
        now: Date = Date(),
        adjusting adjust: (inout PolicySettings) throws -> Void
    ) throws -> PolicyReport {
        let (all, certificates, keyslots, settings, exposed) = try checkedRead { db, state in
            let handles = state.ledger.people.mapValues(\.handle)
            let entries = try Entry.fetch(db, handles: handles)
            // Certificates are read only for the rules that parse them: an active SSL
            // certificate's chain and usage, through the CA certificates the vault holds.
            var certificates: [Entry.ID: Data] = [:]
            if entries.contains(where: PolicyRules.needsChain) {
                for row in try Row.fetchAll(
                    db,
                    sql:
                        "SELECT id, cert_der FROM entries WHERE cert_der IS NOT NULL AND (is_ca = 1 OR (purpose = 'ssl' AND status = 'active'))"
                ) {
                    let c = Columns(row, "entry")
                    certificates[Entry.ID(try c.int("id"))] = try c.blob("cert_der")
                }
            }
            var keyslots: [(handle: String, ops: Int64, memory: Int64)] = []
            for row in try Row.fetchAll(
                db,
                sql: "SELECT person_id, kdf_opslimit, kdf_memlimit FROM keyslots ORDER BY person_id"
            ) {
                let c = Columns(row, "keyslot")
                guard let person = state.ledger.people[try c.int("person_id")], person.active else { continue }
                keyslots.append((person.handle, try c.int("kdf_opslimit"), try c.int("kdf_memlimit")))
            }
            var settings = try Self.policy(db, state: state).settings
            try adjust(&settings)
            return (entries, certificates, keyslots, settings, try Self.departedHolders(db, state: state))
        }
        let rules = try PolicyRules(
            settings: settings,
            entries: all,
            certificates: certificates,
            now: now,
            exposedTo: exposed
        )
        // Aliases and ids are resolved among the entries read; anything else as a person types it.
        var selected = Set<Entry.ID>()
        for ref in refs {
            switch ref {
            case .id(let id) where all.contains { $0.id == id }: selected.insert(id)
            case .alias(let alias) where all.contains { $0.alias == alias }:
                selected.formUnion(all.filter { $0.alias == alias }.map(\.id))
            default: selected.insert(try entry(ref).id)
            }
        }
        let chosen = all.filter { e in
            (purpose == nil || e.purpose == purpose) && (subscription == nil || e.subscription == subscription)
                && (refs.isEmpty || selected.contains(e.id))
        }
        var findings = rules.check(chosen)
        if refs.isEmpty {
            findings += rules.subscriptionLimits(chosen)
            // People's keyslots belong to no purpose or subscription: judged only when the whole vault is.
            if purpose == nil && subscription == nil { findings += PolicyRules.weakKeyslots(keyslots) }
        } else {
            let touched = Set(chosen.compactMap(\.subscription))
            findings += rules.subscriptionLimits(all.filter { $0.subscription.map(touched.contains) ?? false })
        }
        // Sorted through their indices, each finding's key worked out once: findings are large to move.
        let expiry = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.certificate?.notValidAfter) })
        let keys = findings.map { f in
            (severity: f.severity, expiry: f.entryID.flatMap { expiry[$0] ?? nil } ?? .distantFuture)
        }
        let order = findings.indices.sorted { i, j in
            let a = keys[i]
            let b = keys[j]
            if a.severity != b.severity { return a.severity > b.severity }
            if a.expiry != b.expiry { return a.expiry < b.expiry }
            return (findings[i].alias ?? "", findings[i].rule) < (findings[j].alias ?? "", findings[j].rule)
        }
        findings = order.map { findings[$0] }
        return PolicyReport(checkedAt: now, entriesChecked: chosen.count, findings: findings, settings: settings)
    }
}

extension Vault {
    /// For each entry, the people who could reach its key and left: the
    /// persons of its signed `entry.needs-rotation` records that a departure
    /// wrote (`departed`), by handle as the signed records state them.
    static func departedHolders(_ db: Database, state: VaultState) throws -> [Entry.ID: [String]] {
        var holders: [Entry.ID: [String]] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT entry_id, person_id, action, details FROM audit
                WHERE action = ? AND signature IS NOT NULL AND person_id IS NOT NULL AND entry_id IS NOT NULL
                ORDER BY seq
                """,
            arguments: [AuditAction.entryNeedsRotation.rawValue]
        )
        while let row = try rows.next() {
            let c = Columns(row, "audit record")
            let details = AuditDetails.reading(try c.text("details"), action: try c.text("action"))
            guard details.bool(.departed) == true, let person = state.ledger.people[try c.int("person_id")] else {
                continue
            }
            let entry = Entry.ID(try c.int("entry_id"))
            if holders[entry]?.contains(person.handle) != true { holders[entry, default: []].append(person.handle) }
        }
        return holders
    }
}

/// The rules, over entries already checked against their signed records.
struct PolicyRules: Sendable {
    let settings: PolicySettings
    let entries: [Entry]
    let certificates: [Entry.ID: Data]
    let now: Date
    private let chains: ChainCheck?
    /// The alias of the active entry that replaced each entry, by the entry it replaced.
    private let activeSuccessors: [Entry.ID: String]
    /// The alias of the pending request (a CA-issued certificate's rotation) that will replace each entry.
    private let pendingSuccessors: [Entry.ID: String]
    /// The people who could reach each entry's key and left, as the signed
    /// `entry.needs-rotation` records of their departures say.
    private let exposedTo: [Entry.ID: [String]]

    /// - Parameter certificates: the DER of every active SSL certificate
    ///   and every CA certificate (what chains are built from); empty when
    ///   no entry ``needsChain(_:)``.
    init(
        settings: PolicySettings,
        entries: [Entry],
        certificates: [Entry.ID: Data],
        now: Date,
        exposedTo: [Entry.ID: [String]] = [:]
    ) throws {
        self.exposedTo = exposedTo
        self.settings = settings
        self.entries = entries
        self.certificates = certificates
        self.now = now
        if entries.contains(where: Self.needsChain) {
            chains = try ChainCheck(
                settings: settings,
                intermediates: entries.compactMap { $0.certificate?.isCA == true ? certificates[$0.id] : nil },
                held: Set(entries.compactMap { $0.certificate?.fingerprintSHA256 })
            )
        } else {
            chains = nil
        }
        activeSuccessors = Dictionary(
            entries.compactMap { e in e.status == .active ? e.replacesEntryID.map { ($0, e.alias) } : nil },
            uniquingKeysWith: { first, _ in first }
        )
        pendingSuccessors = Dictionary(
            entries.compactMap { e in e.status == .pending ? e.replacesEntryID.map { ($0, e.alias) } : nil },
            uniquingKeysWith: { first, _ in first }
        )
    }

    static let day: TimeInterval = 86_400

    /// Whether the chain rules judge `e`: an active SSL certificate.
    static func needsChain(_ e: Entry) -> Bool { e.purpose == .ssl && e.status == .active && e.certificate != nil }

    func check(_ chosen: [Entry]) -> [PolicyFinding] {
        // An entry's findings depend on it alone: a large vault is judged in
        // parts on every core, the parts joined in order.
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, chosen.count / 512))
        guard parts > 1 else { return chosen.flatMap { check($0) } }
        let found = Mutex([[PolicyFinding]](repeating: [], count: parts))
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let part = chosen[(chosen.count * p / parts)..<(chosen.count * (p + 1) / parts)].flatMap { check($0) }
            found.withLock { $0[p] = part }
        }
        return found.withLock { $0.flatMap { $0 } }
    }

    /// Whether an entry is still in use: active, or superseded but not yet
    /// retired (during a rotation both are uploaded).
    static func inUse(_ e: Entry) -> Bool {
        e.status == .active || (e.status == .superseded && e.retiredAt == nil)
    }

    func check(_ e: Entry) -> [PolicyFinding] {
        var out: [PolicyFinding] = []
        if !Alias.isValid(e.alias) {
            // Made by an older certvault from a friendly name: kept working by id, never completed.
            let suggested = Alias.derived(from: e.alias)
            out.append(
                .init(
                    rule: .aliasUnsafe,
                    severity: .warning,
                    entry: e,
                    message:
                        "entry \(e.id)'s alias \(Display.quoted(e.alias)) is not ASCII letters, digits, '.', '-' and '_': "
                        + "it can read as another entry's or act in a shell, and is left out of completion; "
                        + "run 'certvault rename \(e.id) \(suggested)'",
                    data: ["suggested": suggested]
                )
            )
        }
        if e.status == .pending {
            for name in e.requestedNames ?? [] {
                if let f = foreign(e, name.hasPrefix("DNS:") ? String(name.dropFirst(4)) : name) { out.append(f) }
            }
            if e.needsRotation {
                // A request whose key someone who left could open: the CA must never sign it.
                out.append(
                    needsRotation(
                        e,
                        "\(e.alias) is a request whose key could be opened by someone who left (\(e.rotationReason ?? "a departure")): "
                            + "do not send it to the CA; run 'certvault rotate \(e.alias)' for a new key and request"
                    )
                )
            }
            return out
        }
        if let exposure = exposedSuperseded(e) { out.append(exposure) }
        guard Self.inUse(e) else { return out }
        if e.needsRotation && e.status == .active {
            out.append(
                needsRotation(
                    e,
                    "\(e.alias) must be rotated: \(e.rotationReason ?? "someone who could reach its key left"); "
                        + (pendingSuccessors[e.id].map {
                            "its new key's request \($0) waits for the CA: import the certificate it issues"
                        } ?? "run 'certvault rotate \(e.alias)'")
                )
            )
        }
        if e.status == .superseded, let successor = activeSuccessors[e.id] {
            out.append(superseded(e, by: successor))
        }
        guard let cert = e.certificate else { return out }
        out += validity(e, cert)
        out += strength(e, cert)
        switch e.purpose {
        case .management, .app: out += management(e, cert)
        case .ssl where e.status == .active: out += ssl(e, cert)
        default: break
        }
        return out
    }

    private func date(_ d: Date) -> String { Timestamp.format(d) }

    /// An error: `e` must be rotated (or requested again), as `message` says.
    func needsRotation(_ e: Entry, _ message: String) -> PolicyFinding {
        PolicyFinding(
            rule: .needsRotation,
            severity: .error,
            entry: e,
            message: message,
            data: ["reason": e.rotationReason ?? ""]
        )
    }

    /// A replaced certificate whose key someone who left could reach, still
    /// valid at its CA: a warning until it is revoked there (and recorded
    /// with `revoke --reason superseded`) or expires, retired or not.
    func exposedSuperseded(_ e: Entry) -> PolicyFinding? {
        guard e.status == .superseded, let holders = exposedTo[e.id], !holders.isEmpty,
            let cert = e.certificate, cert.notValidAfter > now
        else { return nil }
        let who = holders.joined(separator: ", ")
        return PolicyFinding(
            rule: .supersededExposed,
            severity: .warning,
            entry: e,
            message:
                "\(e.alias) was replaced, but \(who), who could open its key, left, and its certificate is valid until "
                + "\(date(cert.notValidAfter)): revoke it at the CA (or remove it from Azure), then run "
                + "'certvault revoke \(e.alias) --reason superseded'",
            data: ["held_by": who, "not_after": date(cert.notValidAfter)]
        )
    }

    /// A rotation's last step not yet taken: the old certificate is still
    /// counted as uploaded until it is retired. A warning when it needed
    /// rotation (someone who could reach its key left, or it was exposed).
    func superseded(_ e: Entry, by successor: String) -> PolicyFinding {
        let exposed = e.needsRotation
        return PolicyFinding(
            rule: .supersededNotRetired,
            severity: exposed ? .warning : .info,
            entry: e,
            message: exposed
                ? "\(e.alias) was replaced by \(successor) because \(e.rotationReason ?? "its key was exposed"); remove it from Azure now, then run 'certvault retire \(e.alias)'"
                : "\(e.alias) was replaced by \(successor); once it is removed from Azure, run 'certvault retire \(e.alias)'",
            data: ["successor": successor, "reason": e.rotationReason ?? ""]
        )
    }

    func validity(_ e: Entry, _ cert: CertificateMetadata) -> [PolicyFinding] {
        let left = cert.notValidAfter.timeIntervalSince(now)
        let days = Int((left / Self.day).rounded(.down))
        let data = ["not_before": date(cert.notValidBefore), "not_after": date(cert.notValidAfter)]
        if left <= 0 {
            return [
                .init(
                    rule: .expired,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) expired on \(Timestamp.day(cert.notValidAfter))\(-days > 0 ? ", \(-days) days ago" : ""); replace it",
                    data: data
                )
            ]
        }
        if cert.notValidBefore > now {
            return [
                .init(
                    rule: .notYetValid,
                    severity: .warning,
                    entry: e,
                    message:
                        "\(e.alias) is not valid before \(Timestamp.day(cert.notValidBefore)); do not deploy it yet",
                    data: data
                )
            ]
        }
        // A superseded certificate whose successor is active is on its way out.
        if e.status == .superseded && activeSuccessors[e.id] != nil { return [] }
        let lifetime = cert.notValidAfter.timeIntervalSince(cert.notValidBefore)
        let byWindow = settings.expiryWindows.filter { Double($0) * Self.day >= left }
        let byShare = settings.expiryShare.map { lifetime > 0 && left <= $0 * lifetime } ?? false
        guard !byWindow.isEmpty || byShare else { return [] }
        let smallest = settings.expiryWindows.min() ?? 0
        let severity: Severity =
            settings.expiryWindows.count > 1 && Double(smallest) * Self.day >= left ? .error : .warning
        var details = data
        details["days_left"] = String(days)
        if let w = byWindow.min() { details["window_days"] = String(w) }
        if let share = settings.expiryShare { details["lifetime_share"] = String(share) }
        return [
            .init(
                rule: .expiring,
                severity: severity,
                entry: e,
                message:
                    "\(e.alias) expires on \(Timestamp.day(cert.notValidAfter)), in \(days) day\(days == 1 ? "" : "s")\(byWindow.isEmpty ? " (the last \(Int((settings.expiryShare ?? 0) * 100)) % of its lifetime)" : ""); renew or rotate it",
                data: details
            )
        ]
    }

    func strength(_ e: Entry, _ cert: CertificateMetadata) -> [PolicyFinding] {
        var out: [PolicyFinding] = []
        let signature = cert.signatureAlgorithm.lowercased()
        let root = cert.isCA && cert.isSelfSigned
        let md5 = Display.contains(signature, utf8: Array("md5".utf8))
        if !root, md5 || Display.contains(signature, utf8: Array("sha1".utf8)) {
            out.append(
                .init(
                    rule: .weakSignature,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) is signed with \(md5 ? "MD5" : "SHA-1") (\(cert.signatureAlgorithm)), which browsers and Azure no longer accept; reissue it with SHA-256",
                    data: ["signature_algorithm": cert.signatureAlgorithm]
                )
            )
        }
        let weak: String? =
            switch cert.keyAlgorithm {
            case "RSA" where cert.keyBits < 2048: "an RSA key of \(cert.keyBits) bits (at least 2048)"
            case "EC" where cert.keyBits < 256: "an EC key of \(cert.keyBits) bits (at least 256)"
            case "DSA": "a DSA key (no longer accepted for TLS or by Azure)"
            default: nil
            }
        if let weak {
            out.append(
                .init(
                    rule: .weakKey,
                    severity: .error,
                    entry: e,
                    message: "\(e.alias) has \(weak); replace it with a new key",
                    data: ["key_algorithm": cert.keyAlgorithm, "key_bits": String(cert.keyBits)]
                )
            )
        }
        return out
    }

    func management(_ e: Entry, _ cert: CertificateMetadata) -> [PolicyFinding] {
        var out: [PolicyFinding] = []
        let kind = e.purpose == .app ? "an app credential" : "a management certificate"
        if cert.keyAlgorithm != "RSA" || cert.keyBits < 2048 {
            out.append(
                .init(
                    rule: .managementKeySize,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) is \(kind) with a \(cert.keyBits)-bit \(cert.keyAlgorithm) key; Azure accepts only RSA keys of at least 2048 bits",
                    data: ["key_algorithm": cert.keyAlgorithm, "key_bits": String(cert.keyBits)]
                )
            )
        }
        if e.status == .active {
            let age = now.timeIntervalSince(cert.notValidBefore)
            if age > Double(settings.managementMaxAgeDays) * Self.day {
                out.append(
                    .init(
                        rule: .rotationAge,
                        severity: .warning,
                        entry: e,
                        message:
                            "\(e.alias) has been in use for \(Int(age / Self.day)) days, over the \(settings.managementMaxAgeDays) days \(kind) may be; rotate it",
                        data: [
                            "age_days": String(Int(age / Self.day)),
                            "max_age_days": String(settings.managementMaxAgeDays),
                        ]
                    )
                )
            }
            if e.purpose == .management {
                out.append(
                    .init(
                        rule: .managementAPIRetired,
                        severity: .info,
                        entry: e,
                        message:
                            "Azure retired the classic management API and its certificates (August 2024); the same job is done by a certificate credential on an Entra ID app registration ('certvault new app-credential')",
                        data: [:]
                    )
                )
            }
        }
        return out
    }

    func ssl(_ e: Entry, _ cert: CertificateMetadata) -> [PolicyFinding] {
        var out: [PolicyFinding] = []
        let names = DomainNames.names(of: cert)
        for domain in e.domains where !names.contains(where: { DomainNames.covers($0, domain) }) {
            out.append(
                .init(
                    rule: .sslNameMismatch,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) is tagged for \(domain), but its certificate covers \(names.isEmpty ? "no name" : names.joined(separator: ", "))",
                    data: ["domain": domain, "names": names.joined(separator: ",")]
                )
            )
        }
        for name in Set(names + e.domains).sorted() { if let f = foreign(e, name) { out.append(f) } }
        if !e.hasPrivateKey {
            out.append(
                .init(
                    rule: .sslNoPrivateKey,
                    severity: .warning,
                    entry: e,
                    message:
                        "\(e.alias) has no private key in the vault; Azure needs the .pfx with it — import the key",
                    data: [:]
                )
            )
        }
        guard let der = certificates[e.id], let parsed = try? Certificate(derEncoded: der) else { return out }
        // A CA certificate serving a site: Firefox refuses it
        // (MOZILLA_PKIX_ERROR_CA_CERT_USED_AS_END_ENTITY). A CA the vault
        // holds without its key is a chain's, not a site's.
        if parsed.saysCA && e.hasPrivateKey {
            out.append(
                .init(
                    rule: .sslCACertificate,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) is a CA's certificate (basicConstraints CA:TRUE): Firefox refuses a CA certificate as a site's (MOZILLA_PKIX_ERROR_CA_CERT_USED_AS_END_ENTITY); have it issued again with CA:FALSE",
                    data: [:]
                )
            )
        }
        if let eku = (try? parsed.metadata())?.extendedKeyUsage, !eku.isEmpty,
            !eku.contains("serverAuth"), !eku.contains("anyExtendedKeyUsage")
        {
            out.append(
                .init(
                    rule: .sslNotServerAuth,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) may not serve TLS: its extended key usage is \(eku.joined(separator: ", ")), without serverAuth",
                    data: ["extended_key_usage": eku.joined(separator: ",")]
                )
            )
        }
        guard let chains else { return out }
        switch chains.verify(parsed) {
        case .trusted: break
        case .selfSigned:
            out.append(
                .init(
                    rule: .sslSelfSigned,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) is self-signed: browsers will not trust it; buy a certificate from a CA for the site's name",
                    data: [:]
                )
            )
        case .needsIntermediate(let subject):
            out.append(
                .init(
                    rule: .sslIncompleteChain,
                    severity: .warning,
                    entry: e,
                    message:
                        "\(e.alias) chains to a trusted root only through \(subject), which the vault does not hold: the .pfx Azure gets would lack it; import it",
                    data: ["missing": subject]
                )
            )
        case .issuerMissing(let issuer):
            out.append(
                .init(
                    rule: .sslIncompleteChain,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) cannot be chained: its issuer \(issuer) is in neither the vault nor the trust store; import the intermediate certificate",
                    data: ["missing": issuer]
                )
            )
        case .untrusted(let reason):
            out.append(
                .init(
                    rule: .sslUntrustedChain,
                    severity: .error,
                    entry: e,
                    message:
                        "\(e.alias) does not chain to a trusted root: \(reason); a private CA's root is trusted for everyone with 'certvault policy set trusted-roots ROOT.pem' (or for one check with --ca-file)",
                    data: ["reason": reason]
                )
            )
        }
        return out
    }

    func foreign(_ e: Entry, _ name: String) -> PolicyFinding? {
        guard let suffix = DomainNames.foreignSuffix(of: name) else { return nil }
        return .init(
            rule: .foreignDomain,
            severity: .error,
            entry: e,
            message:
                "\(e.alias) names \(name), under \(suffix), which belongs to Microsoft: no CA issues a certificate for it to you; request one for your own name and point it there with a CNAME",
            data: ["name": name, "owner_domain": suffix]
        )
    }

    /// More management certificates in use for one subscription than the limit.
    func subscriptionLimits(_ chosen: [Entry]) -> [PolicyFinding] {
        let inUse = chosen.filter { $0.purpose == .management && Self.inUse($0) && $0.subscription != nil }
        return Dictionary(grouping: inUse, by: { $0.subscription ?? "" }).sorted { $0.key < $1.key }.compactMap {
            subscription,
            group in
            guard group.count > settings.managementLimit else { return nil }
            return PolicyFinding(
                rule: .managementLimit,
                severity: .error,
                message:
                    "subscription \(subscription) has \(group.count) management certificates in use, over this vault's limit of \(settings.managementLimit) (policy management-limit; the Azure portal long allowed 5, Azure now documents up to 100): retire the ones it no longer needs (\(group.map(\.alias).joined(separator: ", ")))",
                data: [
                    "subscription": subscription, "count": String(group.count),
                    "limit": String(settings.managementLimit),
                    "aliases": group.map(\.alias).joined(separator: ","),
                ]
            )
        }
    }

    /// Keyslots whose passphrase is protected below the `moderate` cost.
    static func weakKeyslots(_ keyslots: [(handle: String, ops: Int64, memory: Int64)]) -> [PolicyFinding] {
        let moderate = KDFStrength.moderate
        return keyslots.filter { $0.ops < Int64(moderate.opsLimit) || $0.memory < Int64(moderate.memLimit) }.map {
            PolicyFinding(
                rule: .weakKDF,
                severity: .warning,
                message:
                    "\($0.handle)'s passphrase is protected by Argon2id at \($0.ops) passes and \($0.memory >> 20) MiB, below the moderate cost; they should run 'certvault person passwd --kdf moderate'",
                data: ["person": $0.handle, "opslimit": String($0.ops), "memlimit": String($0.memory)]
            )
        }
    }
}
