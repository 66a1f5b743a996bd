import Foundation
import GRDB

/// A person as the signed records state them (design rule 4): the only
/// source of who may act, in which role, and whose keys receive a seal.
struct TrustedPerson: Sendable {
    var id: Int64
    var handle: String
    var name: String?
    var email: String?
    var role: PersonRole
    var active: Bool
    var boxPublicKey: Data?
    var signPublicKey: Data?
    /// The digest of the keyslot the person's signed state commits to.
    var keyslotDigest: Data?
    /// The digest of the person's row and keyslot, as their latest people
    /// record committed it (every column, not only those read above).
    var rowDigest: Data?
    /// The record that introduced the person, and when.
    var introducedBy: Int64
    var introducedAt: String
    /// The age recipient files handed to the person are encrypted to, as
    /// their latest `person.recipient` record set it.
    var ageRecipient: AgeRecipient?

    var canUnlock: Bool { boxPublicKey != nil && signPublicKey != nil && keyslotDigest != nil }
}

/// The people state computed from the signed records alone: the genesis,
/// `person.add`, `person.keyslot` (and, later, every signed change of role
/// or status), each signature checked against a person the records before
/// it made trusted.
struct PeopleLedger {
    var people: [Int64: TrustedPerson] = [:]
    var findings: [AuditFinding] = []
    /// The details format of the last record examined in a walk of the
    /// whole log: no later record may be in an older one.
    var detailsVersion = 1

    func person(handle: String) -> TrustedPerson? { people.values.first { $0.handle == handle } }

    /// Active admins who can receive seals, in id order.
    var admins: [TrustedPerson] {
        people.values.filter { $0.role == .admin && $0.active && $0.boxPublicKey != nil }.sorted { $0.id < $1.id }
    }

    /// Replays the people records of `db` in order.
    static func replay(
        _ db: Database,
        vaultID: Data,
        through last: Int64 = AuditChain.seqRange.upperBound
    ) throws -> PeopleLedger {
        var ledger = PeopleLedger()
        let actions = AuditAction.peopleActions.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE action IN (\(actions)) AND seq <= ? ORDER BY seq",
            arguments: [last]
        )
        while let row = try rows.next() {
            let record: AuditRecord
            do { record = try AuditRecord(row: row) } catch let e as CertVaultError {
                ledger.findings.append(.init(seq: nil, message: e.message))
                continue
            }
            if let problem = ledger.apply(record, vaultID: vaultID) {
                ledger.findings.append(.init(seq: record.seq, message: problem))
            }
        }
        if ledger.people.isEmpty && ledger.findings.isEmpty {
            ledger.findings.append(.init(seq: 1, message: "there is no valid genesis record"))
        }
        return ledger
    }

    /// Checks one people record and learns what it states; a problem is
    /// returned and the record ignored.
    mutating func apply(_ record: AuditRecord, vaultID: Data) -> String? {
        guard record.recomputedHash == record.hash else { return "its contents do not match its hash: altered" }
        guard let signature = record.signature else { return "is not signed" }
        let d: AuditDetails
        do { d = try record.readDetails() } catch let e as CertVaultError { return e.message } catch {
            return "its details cannot be read"
        }
        func key(_ name: DetailKey, _ size: Int) -> Data? { d.bytes(name, count: size) }
        /// The trusted signer whose signature the record carries, or why not.
        func verifiedSigner() -> Result<TrustedPerson, CertVaultError> {
            guard let signer = signer(of: record) else {
                return .failure(.init(.tampered, "signed by someone whose keys no trusted record introduced"))
            }
            guard Signature.verify(signature, message: record.hash, publicKey: signer.signPublicKey ?? Data()) else {
                return .failure(.init(.tampered, "the signature by \(signer.handle) is invalid"))
            }
            return .success(signer)
        }
        func introduce(_ id: Int64, _ handle: String, _ role: PersonRole, box: Data?, sign: Data?, slot: Data?) {
            people[id] = TrustedPerson(
                id: id,
                handle: handle,
                name: d.string(.name),
                email: d.string(.email),
                role: role,
                active: true,
                boxPublicKey: box,
                signPublicKey: sign,
                keyslotDigest: slot,
                introducedBy: record.seq,
                introducedAt: record.at
            )
            people[id]?.rowDigest = key(.personDigest, 32)
        }
        switch AuditAction(rawValue: record.action) {
        case _ where record.entryID != nil:
            return "names an entry its action does not concern"
        case .vaultCreate:
            guard record.seq == 1, people.isEmpty, let actor = record.actorRow else { return "a second genesis record" }
            guard d.string(.vaultID) == vaultID.hexLower else { return "the genesis names another vault" }
            guard let sign = key(.signPublicKey, Signature.publicKeyBytes),
                let box = key(.boxPublicKey, SealedBox.publicKeyBytes),
                let handle = d.string(.handle), Vault.isValidHandle(handle)
            else { return "the first record is not a valid vault.create genesis" }
            guard Signature.verify(signature, message: record.hash, publicKey: sign) else {
                return "the genesis signature is invalid"
            }
            introduce(actor, handle, .admin, box: box, sign: sign, slot: nil)
            return nil
        case .personAdd:
            let signer: TrustedPerson
            switch verifiedSigner() {
            case .success(let s): signer = s
            case .failure(let e): return e.message
            }
            guard signer.role == .admin else { return "\(signer.handle) added a person without being an admin" }
            guard let id = record.personRow, people[id] == nil,
                let handle = d.string(.handle), Vault.isValidHandle(handle),
                person(handle: handle) == nil,
                let role = d.role
            else { return "does not validly introduce a new person" }
            let box = key(.boxPublicKey, SealedBox.publicKeyBytes)
            let sign = key(.signPublicKey, Signature.publicKeyBytes)
            let slot = key(.keyslotDigest, 32)
            guard (box == nil) == (sign == nil), (box == nil) == (slot == nil), (role == .staff) == (box == nil) else {
                return "introduces a person with an incomplete set of keys"
            }
            introduce(id, handle, role, box: box, sign: sign, slot: slot)
            return nil
        case .personKeyslot:
            let signer: TrustedPerson
            switch verifiedSigner() {
            case .success(let s): signer = s
            case .failure(let e): return e.message
            }
            guard let id = record.personRow, let target = people[id], target.boxPublicKey != nil,
                signer.id == id || signer.role == .admin, let slot = key(.keyslotDigest, 32)
            else { return "does not validly commit a keyslot" }
            people[id]?.keyslotDigest = slot
            people[id]?.rowDigest = key(.personDigest, 32)
            return nil
        case .personRole:
            let signer: TrustedPerson
            switch verifiedSigner() {
            case .success(let s): signer = s
            case .failure(let e): return e.message
            }
            guard signer.role == .admin else { return "\(signer.handle) changed a role without being an admin" }
            guard let id = record.personRow, let target = people[id], target.active,
                let role = d.role
            else { return "does not validly change a role" }
            guard (role == .staff) == (target.boxPublicKey == nil) else {
                return "gives \(target.handle) a role their keys do not fit"
            }
            people[id]?.role = role
            guard !admins.isEmpty else {
                people[id]?.role = target.role
                return "leaves the vault without an admin"
            }
            people[id]?.rowDigest = key(.personDigest, 32)
            return nil
        case .personRecipient:
            let signer: TrustedPerson
            switch verifiedSigner() {
            case .success(let s): signer = s
            case .failure(let e): return e.message
            }
            guard let id = record.personRow, let target = people[id], target.active,
                signer.id == id || signer.role == .admin, d.string(.handle) == target.handle
            else { return "does not validly set an age recipient" }
            switch d[.ageRecipient] {
            case .null?: people[id]?.ageRecipient = nil
            case .text(let text)?:
                guard let recipient = try? AgeRecipient(parsing: text), recipient.description == text else {
                    return "sets an age recipient that is not one"
                }
                people[id]?.ageRecipient = recipient
            default: return "does not validly set an age recipient"
            }
            people[id]?.rowDigest = key(.personDigest, 32)
            return nil
        case .personDepart:
            let signer: TrustedPerson
            switch verifiedSigner() {
            case .success(let s): signer = s
            case .failure(let e): return e.message
            }
            guard signer.role == .admin else { return "\(signer.handle) marked a departure without being an admin" }
            guard let id = record.personRow, let target = people[id], target.active else {
                return "does not validly mark a departure"
            }
            people[id]?.active = false
            guard !admins.isEmpty else {
                people[id] = target
                return "leaves the vault without an admin"
            }
            people[id]?.keyslotDigest = nil
            people[id]?.rowDigest = key(.personDigest, 32)
            return nil
        default:
            return "is not a people record"
        }
    }

    /// The record's actor, if trusted and active.
    func signer(of record: AuditRecord) -> TrustedPerson? { signer(actorID: record.actorRow) }

    /// The person `actorID` names, if trusted and active.
    func signer(actorID: Int64?) -> TrustedPerson? {
        guard let actor = actorID, let p = people[actor], p.active, p.signPublicKey != nil else { return nil }
        return p
    }
}
