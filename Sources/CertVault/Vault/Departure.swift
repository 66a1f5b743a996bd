import Foundation
import GRDB

/// What a departure leaves to do: every entry the person could ever open or
/// was handed a copy of, why, and what to do about it.
public struct RotationPlan: Sendable, Codable {
    /// What to do about one entry.
    public enum Action: String, Sendable, Codable {
        /// A self-signed certificate: a new key and certificate, made here.
        case rotate
        /// A CA-issued certificate: a new key and request for the same
        /// names, sent to the CA.
        case reissue = "re-issue"
        /// A pending request, its key made here: make it again with a new
        /// key (``Session/rotate(_:)``), which keeps the alias.
        case rerequest = "re-request"
        /// Already replaced: remove the old certificate from Azure, then retire it.
        case retire
        /// Nothing to rotate: a CA certificate without its key, a revoked
        /// or retired entry.
        case none
    }

    /// One entry of the plan.
    public struct Item: Sendable, Codable {
        public var entryID: Entry.ID
        /// The entry's alias when the plan was made.
        public var alias: String
        public var thumbprintSHA1: String?
        public var purpose: EntryPurpose
        /// Why it is in the plan: `could open from DATE`, `received a copy on DATE from HANDLE`.
        public var reasons: [String]
        public var action: Action
        /// The successor's alias, when the rotation was carried out.
        public var rotatedTo: String?
        /// Why the rotation asked for could not be carried out.
        public var rotationError: String?
        /// Whether the person held a grant on it, which the departure ends.
        public var grantEnded: Bool = false
        /// Who can still open it once the person is gone, by handle: one
        /// name is a sole holder, none an entry nobody can open.
        public var holdersLeft: [String] = []
    }

    /// The person who left.
    public var person: String
    /// Why, as the admin gave it.
    public var reason: String
    /// Every entry to rotate, in id order.
    public var items: [Item]
    /// A plan of a departure that was not made (``Session/depart(_:reason:rotate:dryRun:)``
    /// with `dryRun`): nothing was changed or recorded.
    public var dryRun: Bool = false
}

extension Session {
    /// Ends `handle`'s access now, and says exactly what to rotate.
    ///
    /// In one change: the person's status becomes `departed`, their keyslot
    /// and every grant they held are deleted, and every entry they could
    /// ever open (from custody, not only current grants) or were handed a
    /// copy of is marked as needing rotation, each in a signed record. The
    /// write-ahead log is then truncated, so the deleted bytes leave the
    /// files. With `rotate`, the self-signed certificates of the plan are
    /// rotated right away (``rotate(_:)``). Admins only; the last active
    /// admin cannot depart.
    ///
    /// What a departure cannot do: a copy of the vault file taken earlier
    /// still opens with the person's old passphrase. Hence the plan.
    ///
    /// With `dryRun`, the same plan is worked out in the same transaction,
    /// which is then rolled back: nothing is changed or recorded, and
    /// nothing is rotated (`rotate` must then be false).
    public func depart(
        _ handle: String,
        reason: String,
        rotate: Bool = false,
        dryRun: Bool = false
    ) throws -> RotationPlan {
        try requireRole([.admin], to: "mark departures")
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty, !Display.hasControlCharacters(reason) else {
            throw CertVaultError(.invalidArgument, "a departure needs a reason, in visible characters")
        }
        guard !(rotate && dryRun) else {
            throw CertVaultError(.invalidArgument, "a dry run rotates nothing: ask for one or the other")
        }
        /// Carries a dry run's plan out of the change it rolls back.
        struct DryRun: Error { var plan: RotationPlan }
        var plan: RotationPlan
        do {
            plan = try change { c -> RotationPlan in
                let db = c.db
                let leaver = try Vault.trustedPerson(handle, ledger: c.state.ledger, in: db)
                guard leaver.active else {
                    throw CertVaultError(.personInactive, "\(leaver.handle) has already departed")
                }
                if leaver.role == .admin, c.state.ledger.admins.filter({ $0.id != leaver.id }).isEmpty {
                    throw CertVaultError(
                        .lastHolder,
                        "\(leaver.handle) is the last active admin and cannot depart",
                        hint: "make another person admin first"
                    )
                }
                let handles = c.state.ledger.people.mapValues(\.handle)
                var reasons: [Int64: [String]] = [:]
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT c.entry_id, c.kind, c.at, a.actor_id FROM custody c LEFT JOIN audit a ON a.seq = c.audit_seq
                        WHERE c.person_id = ? ORDER BY c.audit_seq
                        """,
                    arguments: [leaver.id]
                ) {
                    let col = Columns(row, "custody row of \(leaver.handle)")
                    let day = String(try col.text("at").prefix(10))
                    let by = try col.optionalInt("actor_id").map { handles[$0] ?? "person \($0)" } ?? "?"
                    let why =
                        try col.text("kind") == CustodyKind.export.rawValue
                        ? "received a copy on \(day) from \(by)" : "could open from \(day)"
                    reasons[try col.int("entry_id"), default: []].append(why)
                }
                try db.run("UPDATE people SET status = 'departed' WHERE id = ?", [leaver.id])
                try db.run("DELETE FROM keyslots WHERE person_id = ?", [leaver.id])
                c.record(
                    .personDepart,
                    person: leaver.id,
                    details: [.handle: .text(leaver.handle), .reason: .text(reason)]
                )
                var items: [RotationPlan.Item] = []
                for (entryID, why) in reasons.sorted(by: { $0.key < $1.key }) {
                    let entry = try Vault.entry(id: entryID, in: db, state: c.state)
                    let held = entry.access.contains(leaver.handle)
                    try db.run("DELETE FROM grants WHERE entry_id = ? AND person_id = ?", [entryID, leaver.id])
                    let mark = "\(leaver.handle) departed: \(reason)"
                    let action = Self.rotationAction(for: entry)
                    if action == .rotate || action == .reissue || action == .rerequest {
                        try db.run(
                            "UPDATE entries SET needs_rotation = 1, rotation_reason = ? WHERE id = ?",
                            [mark, entryID]
                        )
                    }
                    c.record(
                        .entryNeedsRotation,
                        entry: entryID,
                        person: leaver.id,
                        details: [.reason: .text(mark), .departed: .bool(held)]
                    )
                    items.append(
                        .init(
                            entryID: entry.id,
                            alias: entry.alias,
                            thumbprintSHA1: entry.certificate?.thumbprintSHA1,
                            purpose: entry.purpose,
                            reasons: why,
                            action: action,
                            grantEnded: held,
                            holdersLeft: entry.access.filter { $0 != leaver.handle }
                        )
                    )
                }
                let plan = RotationPlan(person: leaver.handle, reason: reason, items: items)
                if dryRun { throw DryRun(plan: plan) }
                return plan
            }
        } catch let dry as DryRun {
            plan = dry.plan
            plan.dryRun = true
            return plan
        }
        try vault.store.truncateLog()
        if rotate {
            // The departure has committed: a rotation that fails is said in
            // the plan, and the others go on.
            for i in plan.items.indices where plan.items[i].action == .rotate {
                do {
                    plan.items[i].rotatedTo = try self.rotate(.id(plan.items[i].entryID)).successor.alias
                } catch let error as CertVaultError {
                    plan.items[i].rotationError = error.message
                }
            }
        }
        return plan
    }

    /// What rotating `entry` means.
    static func rotationAction(for entry: Entry) -> RotationPlan.Action {
        // A superseded entry is replaced already, a revoked one out of use.
        if entry.status == .superseded { return entry.retiredAt == nil ? .retire : .none }
        guard entry.status == .active || entry.status == .pending else { return .none }
        guard let certificate = entry.certificate else { return entry.hasPrivateKey ? .rerequest : .none }
        if certificate.isCA && !entry.hasPrivateKey { return .none }
        return certificate.isSelfSigned && !certificate.isCA ? .rotate : .reissue
    }
}
