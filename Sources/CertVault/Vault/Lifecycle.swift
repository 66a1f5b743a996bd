import Foundation
import GRDB

/// Why a certificate was revoked: RFC 5280's reason codes that apply to a
/// certificate an organisation holds.
public enum RevocationReason: String, Sendable, Codable, CaseIterable {
    case unspecified
    case keyCompromise
    case affiliationChanged
    case superseded
    case cessationOfOperation
}

/// What ``Session/rotate(_:)`` made.
public struct Rotation: Sendable {
    /// The old entry: `superseded` under a derived alias when the successor
    /// is made here; still active under its alias while a CA's certificate
    /// is awaited.
    public var predecessor: Entry
    /// The new entry: an active one with a new key and certificate under the
    /// old alias, or a pending one waiting for the CA (`ALIAS.next`).
    public var successor: Entry
    /// For a re-issue: the request (PEM) to send to the CA.
    public var request: Data?
}

extension Session {
    /// Replaces `ref` with a new key.
    ///
    /// A self-signed certificate (an Azure management certificate) gets a
    /// new key of at least the old size and a new certificate with the same
    /// subject, lifetime and subscription, made here, which takes the alias
    /// at once. A CA-issued one gets a new key and a pending entry
    /// (`ALIAS.next`) with a request for the same names; the old certificate
    /// stays in use under its alias until the certificate the CA issues is
    /// imported, which completes the request and takes the alias then.
    /// Either way the successor is sealed to everyone who could open the old
    /// key; the old entry becomes `superseded` under a derived alias, linked
    /// from its successor, its needs-rotation mark cleared. It keeps counting
    /// toward the subscription's limit until ``retire(_:)``. An entry whose
    /// rotation waits for a CA is not rotated again.
    public func rotate(_ ref: EntryReference) throws -> Rotation {
        try requireRole([.admin, .officer], to: "rotate keys")
        let old = try vault.entry(ref)
        if old.status == .pending, old.hasPrivateKey { return try requestAgain(old) }
        guard old.status == .active, let certificate = old.certificate, old.hasPrivateKey else {
            let what =
                "entry \(old.alias) is \(old.status.rawValue)\(old.hasPrivateKey ? "" : " and holds no key"): only an active entry with a key and a certificate can be rotated"
            switch old.status {
            case .pending: throw CertVaultError(.invalidArgument, what, remedy: .requestAgain)
            case .superseded:
                throw CertVaultError(
                    .invalidArgument,
                    what,
                    hint: "it was rotated already: its successor took the alias"
                )
            case .revoked:
                throw CertVaultError(
                    .invalidArgument,
                    what,
                    hint: "a revoked entry is not rotated: make or import its replacement"
                )
            case .active:
                throw CertVaultError(
                    .invalidArgument,
                    what,
                    hint: "import the renewed certificate with its key, or make a new key and request here"
                )
            }
        }
        let spec = try Self.successorKeySpec(certificate)
        let key = try PrivateKey.generate(spec)
        let selfSigned = Self.rotationAction(for: old) == .rotate
        var made: (cert: Certificate?, request: CertificateRequest?)
        let names = certificate.subjectAlternativeNames.filter { $0.hasPrefix("DNS:") }.map { String($0.dropFirst(4)) }
        if selfSigned {
            var builder = CertificateBuilder(subject: certificate.subject)
            let seconds = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
            builder.days = max(1, min(3650, Int((seconds / 86_400).rounded())))
            made.cert = try builder.build(key: key)
        } else {
            made.request = try CertificateRequest(key: key, subject: certificate.subject, dnsNames: names)
        }
        let (predecessor, successor) = try change { c -> (Entry, Entry) in
            let db = c.db
            let current = try Vault.entry(id: old.id.rawValue, in: db, state: c.state)
            guard current.status == .active else {
                throw CertVaultError(.invalidArgument, "entry \(old.alias) changed meanwhile")
            }
            // Only someone who can open the old key may replace it.
            _ = try custody.dataKey(db, entryID: old.id.rawValue, alias: old.alias)
            if let waiting = try db.row(
                "SELECT alias FROM entries WHERE replaces_id = ? AND status = 'pending' LIMIT 1",
                [old.id.rawValue]
            ) {
                let next = try Columns(waiting, "entry").text("alias")
                throw CertVaultError(
                    .invalidArgument,
                    "entry \(old.alias) is being rotated already: its request \(Display.quoted(next)) waits for the CA",
                    hint:
                        "import the certificate the CA issues for it (it then takes \(Display.quoted(old.alias))), or revoke \(Display.quoted(next)) and rotate again"
                )
            }
            // A self-signed certificate is replaced at once. A CA-issued one stays in use,
            // under its alias, until the certificate for the new request is imported.
            let retiredAlias =
                selfSigned ? try uniqueAlias(c, base: "\(old.alias).old-\(Timestamp.now().prefix(10))") : old.alias
            if selfSigned {
                try db.run(
                    "UPDATE entries SET status = 'superseded', alias = ?, needs_rotation = 0, rotation_reason = NULL WHERE id = ?",
                    [retiredAlias, old.id.rawValue]
                )
            }
            let id: Int64
            if let cert = made.cert {
                id = try storeCertificate(
                    c,
                    cert,
                    key: key,
                    name: old.alias,
                    options: ImportOptions(purpose: old.purpose, subscription: old.subscription, domains: old.domains),
                    source: "rotation of \(old.alias)",
                    label: "rotation of \(old.alias)",
                    action: .entryCreate
                ).id
            } else {
                id = try insertRequest(
                    c,
                    key: key,
                    request: made.request!,
                    dnsNames: names,
                    subscription: old.subscription,
                    alias: try uniqueAlias(c, base: "\(old.alias).next"),
                    purpose: old.purpose
                )
            }
            return try link(c, id, replacing: current, superseded: selfSigned, retiredAs: retiredAlias)
        }
        return Rotation(predecessor: predecessor, successor: successor, request: try made.request?.pemEncoded)
    }

    /// Links the successor `id` to `old` (recording the supersession when
    /// `old` is replaced now), seals its key to everyone who could open
    /// `old`'s, and gives both entries as they now stand.
    private func link(
        _ c: Change,
        _ id: Int64,
        replacing old: Entry,
        superseded: Bool,
        retiredAs retiredAlias: String
    )
        throws -> (Entry, Entry)
    {
        try c.db.run("UPDATE entries SET replaces_id = ? WHERE id = ?", [old.id.rawValue, id])
        if superseded {
            c.record(
                .entrySupersede,
                entry: old.id.rawValue,
                details: [.successor: .integer(id), .successorAlias: .text(old.alias)]
            )
        }
        try sealSuccessor(c, id, alias: old.alias, toHoldersOf: old, retiredAs: retiredAlias)
        return (
            try Vault.entry(id: old.id.rawValue, in: c.db, state: c.state),
            try Vault.entry(id: id, in: c.db, state: c.state)
        )
    }

    /// Seals the successor `id`'s key to everyone who could open `old`'s:
    /// everyone who could open the old key can open the new one.
    private func sealSuccessor(
        _ c: Change,
        _ id: Int64,
        alias: String,
        toHoldersOf old: Entry,
        retiredAs retiredAlias: String
    )
        throws
    {
        let successorKey = try custody.dataKey(c.db, entryID: id, alias: alias)
        let sealed = Set(try Vault.entry(id: id, in: c.db, state: c.state).access)
        for handle in old.access where !sealed.contains(handle) {
            guard let holder = c.state.ledger.person(handle: handle), holder.active, holder.boxPublicKey != nil
            else { continue }
            try custody.seal(c, dataKey: successorKey, entryID: id, to: holder)
            let seq = c.record(
                .entryGrant,
                entry: id,
                person: holder.id,
                details: [.to: .text(holder.handle), .reason: .text("held \(retiredAlias)")]
            )
            try custody.note(c, .grant, entryID: id, personID: holder.id, seq: seq)
        }
    }

    /// A pending request made again: a new key and request for the same
    /// subject and names, which takes the alias and links to the request it
    /// replaces; the old request becomes `superseded` under a derived alias,
    /// its needs-rotation mark cleared. What a request whose key someone
    /// who left could open needs.
    private func requestAgain(_ old: Entry) throws -> Rotation {
        let stored = try vault.store.read { db in
            try db.row("SELECT key_algorithm, key_bits, key_curve FROM entries WHERE id = ?", [old.id.rawValue])
        }
        guard let stored else { throw CertVaultError(.entryNotFound, "entry \(old.alias) is gone") }
        let columns = Columns(stored, "entry \(old.alias)")
        let spec = try Self.successorKeySpec(
            algorithm: try columns.optionalText("key_algorithm") ?? "",
            bits: Int(try columns.optionalInt("key_bits") ?? 0),
            curve: try columns.optionalText("key_curve")
        )
        let subject = old.requestedSubject ?? ""
        let names = (old.requestedNames ?? []).filter { $0.hasPrefix("DNS:") }.map { String($0.dropFirst(4)) }
        let key = try PrivateKey.generate(spec)
        let request = try CertificateRequest(key: key, subject: subject, dnsNames: names)
        let (predecessor, successor) = try change { c -> (Entry, Entry) in
            let db = c.db
            let current = try Vault.entry(id: old.id.rawValue, in: db, state: c.state)
            guard current.status == .pending else {
                throw CertVaultError(.invalidArgument, "entry \(old.alias) changed meanwhile")
            }
            // Only someone who can open the old key may replace it.
            _ = try custody.dataKey(db, entryID: old.id.rawValue, alias: old.alias)
            let retiredAlias = try uniqueAlias(c, base: "\(old.alias).old-\(Timestamp.now().prefix(10))")
            try db.run(
                "UPDATE entries SET status = 'superseded', alias = ?, needs_rotation = 0, rotation_reason = NULL WHERE id = ?",
                [retiredAlias, old.id.rawValue]
            )
            let id = try insertRequest(
                c,
                key: key,
                request: request,
                dnsNames: names,
                subscription: old.subscription,
                alias: old.alias,
                purpose: old.purpose
            )
            return try link(c, id, replacing: current, superseded: true, retiredAs: retiredAlias)
        }
        return Rotation(predecessor: predecessor, successor: successor, request: try request.pemEncoded)
    }

    /// A successor's key: the same kind, at least as strong, at least what Azure accepts.
    static func successorKeySpec(_ certificate: CertificateMetadata) throws -> KeySpec {
        try successorKeySpec(
            algorithm: certificate.keyAlgorithm,
            bits: certificate.keyBits,
            curve: certificate.keyCurve
        )
    }

    static func successorKeySpec(algorithm: String, bits: Int, curve: String?) throws -> KeySpec {
        switch algorithm {
        case "RSA":
            return .rsa(bits: [2048, 3072, 4096].first { $0 >= bits } ?? 4096)
        case "EC":
            switch curve {
            case "P-256": return .ec(.p256)
            case "P-384": return .ec(.p384)
            default: return .ec(.p521)
            }
        default:
            throw CertVaultError(
                .invalidArgument,
                "certvault cannot make a \(algorithm) key to replace this one",
                hint: "make the new key elsewhere and import it"
            )
        }
    }

    /// Revokes `ref`: its status becomes `revoked` with `reason`, time and
    /// actor, and its key is never granted or exported again. With
    /// `destroyKey` the encrypted key and every seal of its data key are
    /// deleted and the write-ahead log truncated: crypto-shredding.
    @discardableResult
    public func revoke(_ ref: EntryReference, reason: RevocationReason, destroyKey: Bool = false) throws -> Entry {
        try requireRole([.admin, .officer], to: "revoke certificates")
        let entry = try change { c -> Entry in
            let db = c.db
            let entry = try Vault.entry(ref, in: db, state: c.state)
            guard entry.status != .revoked else {
                throw CertVaultError(.entryRevoked, "entry \(entry.alias) is already revoked")
            }
            // Who may revoke (and destroy) a key is who can open it.
            if entry.hasPrivateKey {
                _ = try custody.dataKey(db, entryID: entry.id.rawValue, alias: entry.alias)
            }
            try db.run(
                // Out of use for good: no rotation is still due on it (the log keeps why one was).
                """
                UPDATE entries SET status = 'revoked', revocation_reason = ?, revoked_at = ?, needs_rotation = 0,
                                   rotation_reason = NULL
                WHERE id = ?
                """,
                [reason.rawValue, Timestamp.now(), entry.id.rawValue]
            )
            if destroyKey {
                try db.run(
                    "UPDATE entries SET key_nonce = NULL, key_ciphertext = NULL WHERE id = ?",
                    [entry.id.rawValue]
                )
                try db.run("DELETE FROM grants WHERE entry_id = ?", [entry.id.rawValue])
            }
            c.record(
                .entryRevoke,
                entry: entry.id.rawValue,
                details: [.reason: .text(reason.rawValue), .keyDestroyed: .bool(destroyKey && entry.hasPrivateKey)]
            )
            return try Vault.entry(id: entry.id.rawValue, in: db, state: c.state)
        }
        if destroyKey { try vault.store.truncateLog() }
        return entry
    }

    /// Records that a superseded entry's certificate was removed from Azure:
    /// it stops counting toward its subscription's limit.
    @discardableResult
    public func retire(_ ref: EntryReference) throws -> Entry {
        try requireRole([.admin, .officer], to: "retire certificates")
        return try change { c -> Entry in
            let db = c.db
            let entry = try Vault.entry(ref, in: db, state: c.state)
            guard entry.status == .superseded || entry.status == .revoked else {
                throw CertVaultError(
                    .invalidArgument,
                    "entry \(entry.alias) is \(entry.status.rawValue): only a superseded or revoked entry is retired"
                )
            }
            if let retired = entry.retiredAt {
                throw CertVaultError(
                    .invalidArgument,
                    "entry \(entry.alias) was retired already, on \(Timestamp.day(retired))"
                )
            }
            let now = Timestamp.now()
            try db.run(
                "UPDATE entries SET tags = json_set(tags, '$.retired_at', ?) WHERE id = ?",
                [now, entry.id.rawValue]
            )
            c.record(.entryRetire, entry: entry.id.rawValue, details: [.retiredAt: .text(now)])
            return try Vault.entry(id: entry.id.rawValue, in: db, state: c.state)
        }
    }
}

extension Session {
    /// Refuses an alias outside ``Alias``'s rule, before anything is
    /// unlocked: what ``rename(_:to:)`` and the create functions check first.
    public static func checkAlias(_ alias: String) throws { try Self.validateAlias(alias) }

    /// Gives an entry another alias, held to ``Alias``'s rule, in a signed
    /// `entry.rename` record naming both. The way to mend an alias an
    /// older certvault made from a friendly name (`check`'s
    /// `alias-unsafe`), or to name an entry better.
    /// - Throws: `.invalidArgument` for an alias outside the rule or one
    ///   that is the entry's already, `.aliasTaken` when another entry has it.
    @discardableResult
    public func rename(_ ref: EntryReference, to alias: String) throws -> Entry {
        try requireRole([.admin, .officer], to: "rename entries")
        try Self.validateAlias(alias)
        return try change { c -> Entry in
            let db = c.db
            let entry = try Vault.entry(ref, in: db, state: c.state)
            guard entry.alias != alias else {
                throw CertVaultError(.invalidArgument, "entry \(entry.id) is \(Display.quoted(alias)) already")
            }
            // Read without the alias index: a damaged index must not hide a holder.
            if let holder = try Int64.fetchOne(
                db,
                sql: "SELECT id FROM entries NOT INDEXED WHERE alias = ?",
                arguments: [alias]
            ) {
                throw CertVaultError(
                    .aliasTaken,
                    "the alias \(Display.quoted(alias)) belongs to entry \(holder)",
                    hint: "choose another alias, or rename entry \(holder) first"
                )
            }
            try db.run("UPDATE entries SET alias = ? WHERE id = ?", [alias, entry.id.rawValue])
            c.record(.entryRename, entry: entry.id.rawValue, details: [.previousAlias: .text(entry.alias)])
            return try Vault.entry(id: entry.id.rawValue, in: db, state: c.state)
        }
    }
}
