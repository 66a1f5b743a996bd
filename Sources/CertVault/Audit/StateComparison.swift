import Foundation
import GRDB

/// Comparing the tables with the signed state, row by row: reached only when
/// the whole-state digest disagrees (or `audit verify` asks), to name the
/// people and entries that differ.
extension VaultState {

    /// Every people row against the signed people state, both ways.
    mutating func comparePeople(_ db: Database, snapshot: RowDigest.Snapshot) throws {
        var seen = Set<Int64>()
        for row in try Row.fetchAll(
            db,
            sql: "SELECT id, handle, name, email, role, status, box_public_key, sign_public_key FROM people"
        ) {
            let c = Columns(row, "person row")
            let id = try c.int("id")
            seen.insert(id)
            let handle = (try? c.text("handle")) ?? "?"
            guard let trusted = ledger.people[id] else {
                findings.append(
                    .init(
                        seq: nil,
                        message:
                            "person \(Display.quoted(handle)) (row \(id)) was added by hand: no signed record introduces it"
                    )
                )
                continue
            }
            var differs: [String] = []
            if (try? c.text("handle")) != trusted.handle { differs.append("handle") }
            if (try? c.optionalText("name")) != trusted.name { differs.append("name") }
            if (try? c.optionalText("email")) != trusted.email { differs.append("email") }
            if (try? c.text("role")) != trusted.role.rawValue { differs.append("role") }
            if (try? c.text("status")) != (trusted.active ? "active" : "departed") { differs.append("status") }
            if (try? c.optionalBlob("box_public_key")) != trusted.boxPublicKey { differs.append("encryption key") }
            if (try? c.optionalBlob("sign_public_key")) != trusted.signPublicKey { differs.append("signing key") }
            if !differs.isEmpty {
                findings.append(
                    .init(
                        seq: nil,
                        message:
                            "person \(trusted.handle): \(differs.joined(separator: ", ")) \(differs.count == 1 ? "differs" : "differ") from the signed records"
                    )
                )
            }
            if let expected = trusted.keyslotDigest, try RowDigest.keyslot(db, personID: id) != expected {
                findings.append(.init(seq: nil, message: "the keyslot of \(trusted.handle) was damaged or replaced"))
            } else if differs.isEmpty, let signed = trusted.rowDigest, snapshot.people[id] != signed {
                findings.append(
                    .init(seq: nil, message: "person \(trusted.handle): the row differs from the signed records")
                )
            }
        }
        for (id, person) in ledger.people.sorted(by: { $0.key < $1.key }) where !seen.contains(id) {
            findings.append(.init(seq: nil, message: "person \(person.handle) was deleted from the people table"))
        }
    }

    /// Names the entries whose rows differ from their latest signed record,
    /// and those whose row is gone. Reached only when the whole-state
    /// digest disagrees.
    /// - Parameter recordsVerified: every record's signature is known good
    ///   (checked now, or by an earlier run this machine witnessed), so each
    ///   need not be checked again.
    mutating func nameDifferingEntries(
        _ db: Database,
        snapshot: RowDigest.Snapshot,
        recordsVerified: Bool = false
    ) throws {
        var latest = LatestSigned()
        let rows = try Row.fetchCursor(
            db,
            sql:
                "SELECT \(AuditChain.columns) FROM audit WHERE entry_id IS NOT NULL AND signature IS NOT NULL ORDER BY seq"
        )
        var positions: [String: Int]?
        while let row = try rows.next() {
            if positions == nil { positions = Columns.positions(of: row) }
            guard let record = try? AuditRecord(row: row, positions: positions),
                let signed = SignedEntryRecord(record), signed.hasDigest, record.recomputedHash == record.hash
            else { continue }
            if !recordsVerified {
                guard let key = ledger.signer(of: record)?.signPublicKey,
                    Signature.verify(record.signature ?? Data(), message: record.hash, publicKey: key)
                else { continue }
            }
            latest.add(signed, ledger: ledger)
        }
        nameDifferingEntries(latest, snapshot: snapshot)
    }

    /// Each entry's latest signed record that may commit to it: its
    /// action names an entry and its signer, trusted and active now, holds
    /// a role that may make that record.
    struct LatestSigned {
        var latest: [Int64: (seq: Int64, digest: Data?, alias: String)] = [:]

        mutating func add(_ record: SignedEntryRecord, ledger: PeopleLedger) {
            guard record.hasDigest, let action = record.action, action.namesEntry,
                let signer = ledger.signer(actorID: record.actorID), action.signers.contains(signer.role)
            else { return }
            let id = record.entryID
            let alias = record.alias ?? latest[id]?.alias ?? "entry \(id)"
            latest[id] = (record.seq, record.digest, alias)
        }
    }

    /// Names the entries whose rows differ from `signed`, and those whose row is gone.
    mutating func nameDifferingEntries(_ signed: LatestSigned, snapshot: RowDigest.Snapshot) {
        let latest = signed.latest
        // Looked up in any order; only what differs is sorted, by entry.
        var differing: [(id: Int64, why: String)] = []
        for (id, digest) in snapshot.entries {
            if let signed = latest[id] {
                guard signed.digest != digest else { continue }
                differing.append((id, "\(Display.quoted(signed.alias)) differs from its signed record \(signed.seq)"))
            } else {
                differing.append((id, "was added by hand: no signed record commits to it"))
            }
        }
        for (id, why) in differing.sorted(by: { $0.id < $1.id }) {
            tamperedEntries[id] = why
            findings.append(.init(seq: nil, entryID: Entry.ID(id), message: why))
        }
        var deleted: [(id: Int64, message: String)] = []
        for (id, signed) in latest where snapshot.entries[id] == nil && signed.digest != nil {
            deleted.append(
                (id, "\(Display.quoted(signed.alias)) was deleted (its signed record \(signed.seq) says it exists)")
            )
        }
        for (id, message) in deleted.sorted(by: { $0.id < $1.id }) {
            findings.append(.init(seq: nil, entryID: Entry.ID(id), message: message))
        }
    }
}
