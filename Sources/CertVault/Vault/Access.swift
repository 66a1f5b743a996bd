import Foundation
import GRDB

/// Who could open an entry, from when to when, and every copy of its key
/// handed out: the auditor's answer to "who had this key?".
public struct AccessHistory: Sendable, Codable {
    /// A span during which a person held a grant (could open the key).
    public struct Period: Sendable, Codable, Equatable {
        /// The person's handle.
        public var person: String
        /// When the grant was made.
        public var from: Date
        /// When it ended; nil while it lasts.
        public var until: Date?
        /// Who made the grant (the actor of its record).
        public var grantedBy: String
        /// How it ended: `ungranted by HANDLE`, `departed`, `key destroyed`; nil while it lasts.
        public var ended: String?
        /// The record that made the grant.
        public var seq: Int64
    }

    /// A copy of the key handed to a person (an export for them).
    public struct Copy: Sendable, Codable, Equatable {
        /// The handle of the person the file was made for.
        public var recipient: String
        /// Who exported it.
        public var by: String
        /// When.
        public var at: Date
        /// `pfx` or `key`.
        public var format: String
        /// The export's record.
        public var seq: Int64
    }

    /// The entry.
    public var entryID: Entry.ID
    /// Its alias now.
    public var alias: String
    /// Every grant, in the order made.
    public var holders: [Period]
    /// Every copy handed out, in order.
    public var copies: [Copy]
}

extension Vault {
    /// Who could open `ref`'s key, from when to when, and every copy handed
    /// out. No passphrase: custody is public to auditors.
    ///
    /// Read from the custody rows (covered by the entry's signed digest) and
    /// the records that made and ended each grant.
    public func accessHistory(_ ref: EntryReference) throws -> AccessHistory {
        try checkedRead { db, state in
            let entry = try Self.entry(ref, in: db, state: state)
            return try Self.accessHistory(entryID: entry.id.rawValue, alias: entry.alias, in: db, state: state)
        }
    }

    static func accessHistory(
        entryID: Int64,
        alias: String,
        in db: Database,
        state: VaultState
    ) throws
        -> AccessHistory
    {
        let handles = state.ledger.people.mapValues(\.handle)
        func handle(_ id: Int64?) -> String { id.map { handles[$0] ?? "person \($0)" } ?? "-" }
        // Records that end grants on this entry, in order.
        var endings: [(seq: Int64, at: Date, person: Int64?, how: String)] = []
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT seq, at, action, actor_id, person_id, details FROM audit
                WHERE entry_id = ? AND action IN (?, ?, ?) AND signature IS NOT NULL ORDER BY seq
                """,
            arguments: [
                entryID, AuditAction.entryUngrant.rawValue, AuditAction.entryNeedsRotation.rawValue,
                AuditAction.entryRevoke.rawValue,
            ]
        ) {
            let c = Columns(row, "audit record")
            let actionText = try c.text("action")
            let action = AuditAction(rawValue: actionText)
            let details = AuditDetails.reading(try c.text("details"), action: actionText)
            let at = try c.date("at")
            switch action {
            case .entryUngrant:
                endings.append(
                    (
                        try c.int("seq"), at, try c.optionalInt("person_id"),
                        "ungranted by \(handle(try c.optionalInt("actor_id")))"
                    )
                )
            case .entryNeedsRotation where details.bool(.departed) == true:
                endings.append((try c.int("seq"), at, try c.optionalInt("person_id"), "departed"))
            case .entryRevoke where details.bool(.keyDestroyed) == true:
                endings.append((try c.int("seq"), at, nil, "key destroyed"))
            default: break
            }
        }
        var holders: [AccessHistory.Period] = []
        var copies: [AccessHistory.Copy] = []
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT c.person_id, c.kind, c.at, c.audit_seq, a.actor_id, a.details FROM custody c
                LEFT JOIN audit a ON a.seq = c.audit_seq WHERE c.entry_id = ? ORDER BY c.audit_seq, c.person_id
                """,
            arguments: [entryID]
        ) {
            let c = Columns(row, "custody row of entry \(entryID)")
            let person = try c.int("person_id")
            let seq = try c.int("audit_seq")
            let at = try c.date("at")
            let actor = handle(try c.optionalInt("actor_id"))
            if try c.text("kind") == CustodyKind.export.rawValue {
                let details = AuditDetails.reading(
                    try c.optionalText("details") ?? "{}",
                    action: AuditAction.entryExport.rawValue
                )
                copies.append(
                    .init(
                        recipient: handle(person),
                        by: actor,
                        at: at,
                        format: details.string(.format) ?? "?",
                        seq: seq
                    )
                )
            } else {
                let end = endings.first { $0.seq > seq && ($0.person == nil || $0.person == person) }
                holders.append(
                    .init(
                        person: handle(person),
                        from: at,
                        until: end?.at,
                        grantedBy: actor,
                        ended: end?.how,
                        seq: seq
                    )
                )
            }
        }
        return AccessHistory(entryID: Entry.ID(entryID), alias: alias, holders: holders, copies: copies)
    }
}

extension Session {
    /// Lets `handle` open `ref`'s key: its data key, opened by this person,
    /// is sealed to theirs. Admins and officers, for entries they can open;
    /// staff never hold grants (export a copy for them instead).
    @discardableResult
    public func grant(_ ref: EntryReference, to handle: String) throws -> Entry {
        try denying(ref, attempt: "grant to \(handle)") { try requireRole([.admin, .officer], to: "grant access") }
        return try denying(ref, attempt: "grant to \(handle)") {
            try change { c in
                let db = c.db
                let entry = try Vault.entry(ref, in: db, state: c.state)
                try Self.requireUsable(entry, to: "grant")
                let to = try Vault.trustedPerson(handle, ledger: c.state.ledger, in: db)
                guard to.active else {
                    throw CertVaultError(.personInactive, "\(to.handle) has departed; nothing may be granted to them")
                }
                guard to.role == .admin || to.role == .officer, to.boxPublicKey != nil else {
                    throw CertVaultError(
                        .invalidArgument,
                        "\(to.handle) is \(to.role.rawValue) and cannot hold grants: only admins and officers hold keys",
                        hint: to.role == .staff ? "export a copy for them instead" : "make them an officer first"
                    )
                }
                guard !entry.access.contains(to.handle) else {
                    throw CertVaultError(.invalidArgument, "\(to.handle) can already open \(entry.alias)")
                }
                let key = try custody.dataKey(db, entryID: entry.id.rawValue, alias: entry.alias)
                try custody.seal(c, dataKey: key, entryID: entry.id.rawValue, to: to)
                let seq = c.record(
                    .entryGrant,
                    entry: entry.id.rawValue,
                    person: to.id,
                    details: [.to: .text(to.handle)]
                )
                try custody.note(c, .grant, entryID: entry.id.rawValue, personID: to.id, seq: seq)
                return try Vault.entry(id: entry.id.rawValue, in: db, state: c.state)
            }
        }
    }

    /// Runs `body`, an attempt to take or hand on `ref`'s key; if it is
    /// refused (no grant, a revoked entry, a role that may not), the refusal
    /// is recorded, signed by this person, before it is thrown: an auditor
    /// sees who tried.
    func denying<T>(_ ref: EntryReference, attempt: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CertVaultError where [.noAccess, .entryRevoked].contains(error.code) && !isLocked {
            try? change { c in
                let entry = try Vault.entry(ref, in: c.db, state: c.state)
                c.record(
                    .entryDenied,
                    entry: entry.id.rawValue,
                    details: [.attempt: .text(attempt), .reason: .text(error.message)]
                )
            }
            throw error
        }
    }

    /// Takes `handle`'s grant on `ref` away. The last person who can open
    /// an entry keeps it. Admins and officers who can open the entry.
    @discardableResult
    public func ungrant(_ ref: EntryReference, from handle: String) throws -> Entry {
        try requireRole([.admin, .officer], to: "take access away")
        return try change { c in
            let db = c.db
            let entry = try Vault.entry(ref, in: db, state: c.state)
            let from = try Vault.trustedPerson(handle, ledger: c.state.ledger, in: db)
            guard entry.access.contains(from.handle) else {
                throw CertVaultError(.invalidArgument, "\(from.handle) holds no grant on \(entry.alias)")
            }
            guard !(from.active && from.role == .admin) else {
                throw CertVaultError(
                    .noAccess,
                    "\(from.handle) is an admin, and admins hold every key",
                    hint: "change their role first, or mark them departed"
                )
            }
            guard entry.access.count > 1 else {
                throw CertVaultError(
                    .lastHolder,
                    "\(from.handle) is the last person who can open \(entry.alias)",
                    hint: "grant it to someone else first"
                )
            }
            // Only someone who can open the key may decide who else can.
            _ = try custody.dataKey(db, entryID: entry.id.rawValue, alias: entry.alias)
            try db.run("DELETE FROM grants WHERE entry_id = ? AND person_id = ?", [entry.id.rawValue, from.id])
            c.record(.entryUngrant, entry: entry.id.rawValue, person: from.id, details: [.from: .text(from.handle)])
            return try Vault.entry(id: entry.id.rawValue, in: db, state: c.state)
        }
    }

    /// Refuses to hand on the key of a revoked entry.
    static func requireUsable(_ entry: Entry, to what: String) throws {
        guard entry.status != .revoked else {
            throw CertVaultError(
                .entryRevoked,
                "entry \(entry.alias) is revoked: its key may not be \(what == "grant" ? "granted" : "exported")"
            )
        }
        if let retired = entry.retiredAt {
            throw CertVaultError(
                .entryRetired,
                "entry \(entry.alias) was retired on \(Timestamp.day(retired)) (removed from Azure after its rotation): its key may not be \(what == "grant" ? "granted" : "exported")",
                remedy: .useSuccessor
            )
        }
        guard entry.hasPrivateKey else {
            throw CertVaultError(.noPrivateKey, "entry \(entry.alias) holds no private key", remedy: .exportCertificate)
        }
    }
}

/// One person's custody: what they can open now, what they ever could, and
/// every copy handed to them.
public struct PersonHistory: Sendable, Codable {
    /// A span during which the person could open an entry's key.
    public struct Span: Sendable, Codable, Equatable {
        public var entryID: Entry.ID
        /// The entry's alias now.
        public var alias: String
        public var from: Date
        /// Nil while it lasts.
        public var until: Date?
        /// How it ended, as in ``AccessHistory/Period/ended``.
        public var ended: String?
    }

    /// A copy of a key exported for the person.
    public struct Copy: Sendable, Codable, Equatable {
        public var entryID: Entry.ID
        public var alias: String
        public var at: Date
        /// Who exported it.
        public var by: String
        /// `pfx` or `key`.
        public var format: String
    }

    /// The person as the signed records state them.
    public var person: Person
    /// The aliases of the entries they can open now.
    public var canOpen: [String]
    /// Every span during which they could open a key.
    public var couldOpen: [Span]
    /// Every copy handed to them.
    public var copies: [Copy]
}

extension Vault {
    /// `handle`'s custody, from the custody rows and the records that ended
    /// each grant. No passphrase.
    public func personHistory(_ handle: String) throws -> PersonHistory {
        try checkedRead { db, state in
            let trusted = try Self.trustedPerson(handle, ledger: state.ledger, in: db)
            let ids = try Int64.fetchAll(
                db,
                sql: "SELECT DISTINCT entry_id FROM custody WHERE person_id = ? ORDER BY entry_id",
                arguments: [trusted.id]
            )
            var history = PersonHistory(person: Person(trusted), canOpen: [], couldOpen: [], copies: [])
            for id in ids {
                let entry = try Self.entry(id: id, in: db, state: state)
                if entry.access.contains(trusted.handle) { history.canOpen.append(entry.alias) }
                let access = try Self.accessHistory(entryID: id, alias: entry.alias, in: db, state: state)
                for p in access.holders where p.person == trusted.handle {
                    history.couldOpen.append(
                        .init(entryID: entry.id, alias: entry.alias, from: p.from, until: p.until, ended: p.ended)
                    )
                }
                for c in access.copies where c.recipient == trusted.handle {
                    history.copies.append(
                        .init(entryID: entry.id, alias: entry.alias, at: c.at, by: c.by, format: c.format)
                    )
                }
            }
            return history
        }
    }
}
