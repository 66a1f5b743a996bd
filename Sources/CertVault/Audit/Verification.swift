import Foundation
import GRDB

/// One problem `verify` found.
public struct AuditFinding: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The audit record concerned, when there is one.
    public var seq: Int64?
    /// The entry concerned, when there is one.
    public var entryID: Int64?
    public var message: String

    public var description: String {
        if let seq { return "record \(seq): \(message)" }
        if let entryID { return "entry \(entryID): \(message)" }
        return message
    }
}

/// The outcome of ``Vault/verify(expecting:)``.
public struct AuditVerification: Sendable {
    /// The last record: write it down and pass it to `--expect` later.
    public var head: AuditHead?
    public var recordCount: Int
    public var findings: [AuditFinding]
    public var isValid: Bool { findings.isEmpty }
    /// The lowest sequence number with a finding.
    public var firstBadSeq: Int64? { findings.compactMap(\.seq).min() }
}

/// Public keys trusted through a signed record.
struct TrustedPerson {
    var handle: String
    var role: String
    var boxPublicKey: Data
    var signPublicKey: Data
}

/// Replays the chain (`verify`) or checks one entry's path to the genesis
/// (before a private key leaves the vault).
struct AuditVerifier {
    let db: Database
    let vaultID: Data

    /// Actions whose records carry an entry's hashes.
    static let entryStateFields = ["cert_sha256", "spki_sha256", "ciphertext_sha256"]

    func verifyAll(expecting expected: AuditHead?) throws -> AuditVerification {
        var findings: [AuditFinding] = []
        var trusted: [Int64: TrustedPerson] = [:]
        var entryState: [Int64: (seq: Int64, details: [String: Any])] = [:]
        var previous: AuditHead?
        var count = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY seq")
        while let row = try rows.next() {
            let record = AuditRecord(row: row)
            count += 1
            let expectedSeq = (previous?.seq ?? 0) + 1
            if record.seq != expectedSeq {
                findings.append(.init(seq: expectedSeq, message: "records \(expectedSeq)…\(record.seq - 1) are missing"))
            }
            if record.previousHash != (previous?.hash ?? AuditChain.zeroHash) {
                findings.append(.init(seq: record.seq, message: "does not follow the record before it (previous hash differs): removed, reordered or altered"))
            }
            if record.recomputedHash != record.hash {
                findings.append(.init(seq: record.seq, message: "its contents do not match its hash: altered"))
            }
            if let problem = checkSignature(record, trusted: &trusted) {
                findings.append(.init(seq: record.seq, message: problem))
            }
            let details = record.detailObject
            if let entry = record.entryID, record.signature != nil, Self.entryStateFields.contains(where: { details[$0] != nil }) {
                entryState[entry] = (record.seq, details)
            }
            previous = AuditHead(seq: record.seq, hash: record.hash)
        }
        if let expected {
            let stored = try Data.fetchOne(db, sql: "SELECT hash FROM audit WHERE seq = ?", arguments: [expected.seq])
            if stored != expected.hash {
                findings.append(.init(seq: expected.seq, message: stored == nil
                    ? "the expected head \(expected) is gone: the log was truncated"
                    : "the expected head \(expected) differs: the log was rewritten"))
            }
        }
        // The tables must agree with what was signed.
        for row in try Row.fetchAll(db, sql: "SELECT id, handle, box_public_key, sign_public_key FROM people WHERE sign_public_key IS NOT NULL") {
            let id: Int64 = row["id"]
            let t = trusted[id]
            if t == nil || t!.signPublicKey != (row["sign_public_key"] as Data) || t!.boxPublicKey != (row["box_public_key"] as Data) {
                findings.append(.init(seq: nil, message: "person \(row["handle"] as String)'s public keys match no signed record"))
            }
        }
        for row in try Row.fetchAll(db, sql: "SELECT id, alias, cert_der, spki_sha256, key_ciphertext FROM entries") {
            let id: Int64 = row["id"]
            guard let state = entryState[id] else {
                findings.append(.init(seq: nil, entryID: id, message: "\(row["alias"] as String) has no signed record"))
                continue
            }
            if let problem = Self.compare(row: row, with: state.details) {
                findings.append(.init(seq: nil, entryID: id, message: "\(row["alias"] as String) does not match its signed record \(state.seq): \(problem)"))
            }
        }
        return AuditVerification(head: previous, recordCount: count, findings: findings)
    }

    /// Checks a record's signature, and learns the keys a trusted record introduces.
    private func checkSignature(_ record: AuditRecord, trusted: inout [Int64: TrustedPerson]) -> String? {
        guard let signature = record.signature else {
            return record.action == "unlock.failed" ? nil : "is not signed"
        }
        let details = record.detailObject
        if record.seq == 1 {
            guard record.action == "vault.create", let actor = record.actorID,
                  let sign = (details["sign_public_key"] as? String).flatMap(Data.init(hex:)),
                  let box = (details["box_public_key"] as? String).flatMap(Data.init(hex:)) else {
                return "the first record is not a valid vault.create genesis"
            }
            guard (details["vault_id"] as? String) == vaultID.hexLower else {
                return "the genesis names another vault"
            }
            guard Signature.verify(signature, message: record.hash, publicKey: sign) else {
                return "the genesis signature is invalid"
            }
            trusted[actor] = TrustedPerson(handle: details["handle"] as? String ?? "?", role: "admin", boxPublicKey: box, signPublicKey: sign)
            return nil
        }
        if record.action == "vault.create" { return "a second genesis record" }
        guard let actor = record.actorID, let signer = trusted[actor] else {
            return "signed by someone whose keys no trusted record introduced"
        }
        guard Signature.verify(signature, message: record.hash, publicKey: signer.signPublicKey) else {
            return "the signature by \(signer.handle) is invalid"
        }
        if record.action == "person.add", let person = record.personID,
           let sign = (details["sign_public_key"] as? String).flatMap(Data.init(hex:)),
           let box = (details["box_public_key"] as? String).flatMap(Data.init(hex:)) {
            guard signer.role == "admin" else { return "\(signer.handle) added a person without being an admin" }
            trusted[person] = TrustedPerson(handle: details["handle"] as? String ?? "?", role: details["role"] as? String ?? "staff",
                                            boxPublicKey: box, signPublicKey: sign)
        }
        return nil
    }

    /// Compares an entry row with the hashes its signed record carries.
    static func compare(row: Row, with details: [String: Any]) -> String? {
        let cert: Data? = row["cert_der"]
        let ciphertext: Data? = row["key_ciphertext"]
        let spki: Data = row["spki_sha256"]
        if (details["cert_sha256"] as? String) != cert.map({ Digest.sha256($0).hexLower }) { return "certificate differs" }
        if (details["spki_sha256"] as? String) != spki.hexLower { return "public key differs" }
        if (details["ciphertext_sha256"] as? String) != ciphertext.map({ Digest.sha256($0).hexLower }) { return "encrypted private key differs" }
        return nil
    }

    /// Rule 3 of the design: before a private key leaves, the entry must
    /// match its latest signed record, whose signer chains through signed
    /// `person.add` records to the genesis. A handful of signature checks.
    func verifyEntryPath(entryID: Int64, alias: String) throws {
        func fail(_ why: String) -> CertVaultError {
            CertVaultError(.tampered, "entry \(alias) failed its integrity check: \(why)",
                           hint: "run 'certvault audit verify' and restore the vault from a backup")
        }
        guard let row = try Row.fetchOne(db, sql: """
            SELECT * FROM audit WHERE entry_id = ? AND signature IS NOT NULL
              AND json_extract(details, '$.spki_sha256') IS NOT NULL ORDER BY seq DESC LIMIT 1
            """, arguments: [entryID]) else { throw fail("no signed record") }
        let record = AuditRecord(row: row)
        guard let entryRow = try Row.fetchOne(db, sql: "SELECT cert_der, spki_sha256, key_ciphertext FROM entries WHERE id = ?", arguments: [entryID]) else {
            throw fail("the entry is gone")
        }
        if let problem = Self.compare(row: entryRow, with: record.detailObject) { throw fail(problem) }
        _ = try verifySigned(record, depth: 0, fail: fail)
    }

    /// Verifies `record`'s hash and signature; returns its signer.
    private func verifySigned(_ record: AuditRecord, depth: Int, fail: (String) -> CertVaultError) throws -> TrustedPerson {
        guard record.recomputedHash == record.hash, let signature = record.signature else {
            throw fail("record \(record.seq) was altered")
        }
        guard let actor = record.actorID else { throw fail("record \(record.seq) names no signer") }
        let signer = try keys(of: actor, depth: depth, fail: fail)
        guard Signature.verify(signature, message: record.hash, publicKey: signer.signPublicKey) else {
            throw fail("the signature on record \(record.seq) is invalid")
        }
        return signer
    }

    /// A person's keys as a trusted record states them: their latest
    /// `person.add` signed by a trusted admin, or the genesis.
    private func keys(of personID: Int64, depth: Int, fail: (String) -> CertVaultError) throws -> TrustedPerson {
        guard depth < 64 else { throw fail("the chain of introductions does not reach the genesis") }
        if let row = try introductionRow(personID) {
            let intro = AuditRecord(row: row)
            let introducer = try verifySigned(intro, depth: depth + 1, fail: fail)
            let d = intro.detailObject
            guard introducer.role == "admin",
                  let sign = (d["sign_public_key"] as? String).flatMap(Data.init(hex:)),
                  let box = (d["box_public_key"] as? String).flatMap(Data.init(hex:)) else {
                throw fail("record \(intro.seq) does not validly introduce a person")
            }
            return TrustedPerson(handle: d["handle"] as? String ?? "?", role: d["role"] as? String ?? "staff",
                                 boxPublicKey: box, signPublicKey: sign)
        }
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM audit WHERE seq = 1") else { throw fail("the genesis record is gone") }
        let genesis = AuditRecord(row: row)
        let d = genesis.detailObject
        guard genesis.action == "vault.create", genesis.actorID == personID, genesis.recomputedHash == genesis.hash,
              (d["vault_id"] as? String) == vaultID.hexLower,
              let sign = (d["sign_public_key"] as? String).flatMap(Data.init(hex:)),
              let box = (d["box_public_key"] as? String).flatMap(Data.init(hex:)),
              let signature = genesis.signature, Signature.verify(signature, message: genesis.hash, publicKey: sign) else {
            throw fail("nothing trusted introduces person \(personID)")
        }
        return TrustedPerson(handle: d["handle"] as? String ?? "?", role: "admin", boxPublicKey: box, signPublicKey: sign)
    }

    private func introductionRow(_ personID: Int64) throws -> Row? {
        try Row.fetchOne(db, sql: "SELECT * FROM audit WHERE action = 'person.add' AND person_id = ? ORDER BY seq DESC LIMIT 1",
                         arguments: [personID])
    }
}
