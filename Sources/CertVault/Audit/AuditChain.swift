import Foundation
import GRDB
import Synchronization

/// One record of the audit log.
public struct AuditRecord: Sendable, Encodable, Equatable {
    /// The record's place in the chain, from 1.
    public var seq: Int64
    /// UTC, ISO 8601.
    public var at: String
    /// The id of the person who made the record; nil when the record names none.
    public var actorID: Int64?
    /// The actor's handle as the signed records state it; filled in by
    /// ``Vault/auditLog(_:)``, nil elsewhere or when no trusted record
    /// introduced the actor.
    public var actorHandle: String?
    /// What happened: an ``AuditAction`` raw value such as `entry.export`.
    public var action: String
    /// The id of the entry the record is about; nil for a record about no entry.
    public var entryID: Int64?
    /// The entry's alias as its latest believable record gives it; filled in
    /// by ``Vault/auditLog(_:)``, nil elsewhere or when no record names one.
    public var entryAlias: String?
    /// The id of the person the record concerns (added, given a keyslot, a
    /// grant or an export); nil when it concerns nobody in particular.
    public var personID: Int64?
    /// That person's handle as the signed records state it; filled in by
    /// ``Vault/auditLog(_:)``, nil elsewhere or when unknown.
    public var personHandle: String?
    /// The record's details, as the JSON text that was hashed.
    public var details: String
    /// The ``hash`` of the record before it, 32 bytes; zeros for the first record.
    public var previousHash: Data
    /// BLAKE2b-256 over the record's fields and ``previousHash``, 32 bytes.
    public var hash: Data
    /// Ed25519 signature of ``hash`` by the actor; nil only for `unlock.failed`.
    public var signature: Data?
    /// For a failed unlock, whether its person had departed by then, as the
    /// signed records before it state: their attempt is refused whatever
    /// passphrase was given, so it is no wrong passphrase. Filled in by
    /// ``Vault/auditLog(_:)``; nil elsewhere and for other records.
    public var personDeparted: Bool?
    /// Why the record cannot be believed (altered, out of place, signed by
    /// someone the records do not trust), as ``Vault/auditLog(_:)`` found
    /// it; nil when its hash, its link and its signature check out.
    public var problem: String?

    /// A record from its fields, hash taken as given, for tests and for callers that build their own.
    public init(
        seq: Int64,
        at: String,
        actorID: Int64? = nil,
        actorHandle: String? = nil,
        action: String,
        entryID: Int64? = nil,
        entryAlias: String? = nil,
        personID: Int64? = nil,
        personHandle: String? = nil,
        details: String,
        previousHash: Data,
        hash: Data,
        signature: Data? = nil,
        problem: String? = nil
    ) {
        self.seq = seq
        self.at = at
        self.actorID = actorID
        self.actorHandle = actorHandle
        self.action = action
        self.entryID = entryID
        self.entryAlias = entryAlias
        self.personID = personID
        self.personHandle = personHandle
        self.details = details
        self.previousHash = previousHash
        self.hash = hash
        self.signature = signature
        self.problem = problem
    }

    /// Reads the columns of the `audit` table, each checked: a record
    /// altered into NULLs or wrong types is an error naming it, not a trap.
    /// - Parameter positions: the row's column positions, shared by the rows
    ///   of one query (``Columns/positions(of:)``); nil to look each column up by name.
    /// - Parameter query: the statement whose current row `row` is, to read
    ///   its values straight from SQLite in ``AuditChain/columns`` order.
    init(row: Row, positions: [String: Int]? = nil, query: AuditChain.Query? = nil) throws {
        query?.order.next = 0
        let c = Columns(
            row,
            "audit record \(((row["seq"] as (any DatabaseValueConvertible)?)?.databaseValue).map { "\($0)" } ?? "?")",
            positions: query?.positions ?? positions,
            statement: query?.statement,
            order: query?.order
        )
        seq = try c.int("seq", in: AuditChain.seqRange)
        at = try c.wholeText("at")
        actorID = try c.optionalInt("actor_id")
        action = try c.wholeText("action")
        entryID = try c.optionalInt("entry_id")
        personID = try c.optionalInt("person_id")
        details = try c.wholeText("details")
        previousHash = try c.blob("prev_hash", count: 32)
        hash = try c.blob("hash", count: 32)
        signature = try c.optionalBlob("signature")
    }

    /// The details decoded, for reading fields.
    var detailObject: [String: Any] {
        // Our own reader first (JSONSerialization cost `audit log` and the
        // state checks most of their time); what it does not take, theirs.
        if case .object(let fields)? = JSONText.parse(details) { return fields.mapValues(\.foundationValue) }
        return (try? JSONSerialization.jsonObject(with: Data(details.utf8))) as? [String: Any] ?? [:]
    }

    /// The hash this record should have, recomputed from its fields.
    var recomputedHash: Data {
        AuditChain.hash(
            previous: previousHash,
            seq: seq,
            at: at,
            actorID: actorID,
            action: action,
            entryID: entryID,
            personID: personID,
            details: details
        )
    }
}

/// The head of the chain: the last record's sequence number and hash.
public struct AuditHead: Sendable, Equatable, CustomStringConvertible {
    /// The last record's sequence number.
    public var seq: Int64
    /// The last record's hash, 32 bytes.
    public var hash: Data
    /// The head with this sequence number and hash.
    public init(seq: Int64, hash: Data) {
        self.seq = seq
        self.hash = hash
    }
    /// `SEQ:HASH`, the form to write down and pass to `--expect` later.
    public var description: String { "\(seq):\(hash.hexLower)" }

    /// Parses `SEQ:HASH`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let seq = Int64(parts[0]), let hash = Data(hex: String(parts[1])), hash.count == 32
        else { return nil }
        self.init(seq: seq, hash: hash)
    }
}

/// What a record says happened. The raw value is what the log stores and
/// hashes; a record read from a file may hold an action no certvault wrote,
/// so ``AuditRecord/action`` stays text.
public enum AuditAction: String, CaseIterable, Sendable, Codable {
    /// The genesis: the vault and its first admin.
    case vaultCreate = "vault.create"
    /// A person's keyslot, committed by its hash (after the genesis, and
    /// whenever a keyslot is replaced).
    case personKeyslot = "person.keyslot"
    /// A person added by an admin.
    case personAdd = "person.add"
    /// A wrong passphrase; the only record nobody signs.
    case unlockFailed = "unlock.failed"
    /// An entry stored from an imported file.
    case entryImport = "entry.import"
    /// A management certificate and its key made inside the vault.
    case entryCreate = "entry.create"
    /// A key and a certificate request made inside the vault: a pending entry.
    case entryRequest = "entry.request"
    /// A private key joined the entry of its certificate.
    case entryKeyAdd = "entry.key-add"
    /// A certificate joined the entry of its key.
    case entryCertAdd = "entry.cert-add"
    /// The certificate a CA issued completed a pending entry.
    case entryComplete = "entry.complete"
    /// An entry linked to the entry of the certificate that issued it.
    case entryLink = "entry.link"
    /// An entry's key sealed to a person (a new admin receives every key).
    case entryGrant = "entry.grant"
    /// An entry's private key exported (`pfx` or `key`) for a person.
    case entryExport = "entry.export"
    /// A backup of the vault made.
    case vaultBackup = "vault.backup"
    /// An older copy of the vault accepted on purpose (a restored backup).
    case rollbackAccepted = "vault.rollback-accepted"
    /// A person's role changed by an admin.
    case personRole = "person.role"
    /// A person left: their keyslot and every grant are gone, and they can
    /// no longer act.
    case personDepart = "person.depart"
    /// A person's grant on an entry taken away.
    case entryUngrant = "entry.ungrant"
    /// An entry marked as needing rotation (someone who could open it, or
    /// was handed it, left); a departure's grant taken with it.
    case entryNeedsRotation = "entry.needs-rotation"
    /// An entry replaced by its successor (``Session/rotate(_:)``).
    case entrySupersede = "entry.supersede"
    /// An entry revoked, its key possibly destroyed.
    case entryRevoke = "entry.revoke"
    /// A superseded entry's certificate recorded as removed from Azure.
    case entryRetire = "entry.retire"
    /// A refused attempt to take an entry's key by someone who did unlock.
    case entryDenied = "entry.denied"
    /// An export whose record committed but whose file could not then be
    /// given its name (say, someone created it meanwhile): no file was
    /// written, and the key did not leave. Names the export's record.
    case entryExportUnwritten = "entry.export-unwritten"
    /// An entry given another alias (the one it had is in the details).
    case entryRename = "entry.rename"
    /// A policy setting (a limit, an expiry window, a maximum age) set by
    /// an admin: every officer's `check` judges by it.
    case policySet = "policy.set"

    /// Records that change who the people are; replayed at every unlock.
    static let peopleActions: [AuditAction] = [
        .vaultCreate, .personAdd, .personKeyslot, .personRole, .personDepart,
    ]

    /// Whether a record of this action is about one entry (and names it).
    var namesEntry: Bool { rawValue.hasPrefix("entry.") }

    /// The roles whose signature a record of this action may carry: a
    /// record signed by anyone else is not believed, whatever it says.
    var signers: Set<PersonRole> {
        switch self {
        case .vaultCreate, .personAdd, .personRole, .personDepart, .entryNeedsRotation, .policySet: return [.admin]
        case .personKeyslot, .vaultBackup, .entryDenied: return [.admin, .officer, .auditor]
        case .unlockFailed: return []
        case .entryImport, .entryCreate, .entryRequest, .entryKeyAdd, .entryCertAdd, .entryComplete, .entryLink,
            .entryExport, .rollbackAccepted, .entryGrant, .entryUngrant, .entrySupersede, .entryRevoke, .entryRetire,
            .entryExportUnwritten, .entryRename:
            return [.admin, .officer]
        }
    }
}

/// Appending to and recomputing the hash chain.
enum AuditChain {
    static let label = Data("certvault/v1/audit".utf8)
    /// The sequence numbers a record may have: from 1, and far from overflow.
    static let seqRange: ClosedRange<Int64> = 1...(1 << 62)
    static let zeroHash = Data(count: 32)

    static let columns = "seq, at, actor_id, action, entry_id, person_id, details, prev_hash, hash, signature"

    /// A query over the `audit` table whose rows are read in place, each a
    /// record (``AuditRecord/init(row:positions:query:)``) read in column order.
    struct Query {
        let statement: OpaquePointer?
        let positions: [String: Int]
        let order: Columns.Order
        let rows: RowCursor

        init(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws {
            let prepared = try db.makeStatement(sql: sql)
            statement = prepared.sqliteStatement
            positions = Dictionary(
                prepared.columnNames.enumerated().map { ($1, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            order = Columns.Order(prepared.columnNames)
            rows = try Row.fetchCursor(prepared, arguments: arguments)
        }
    }

    /// The last record that carries a signature (valid or not): the head
    /// the state check judges and the rollback witness compares.
    static func lastSigned(_ db: Database) throws -> AuditRecord? {
        try lastSignedRow(db).map { try AuditRecord(row: $0) }
    }

    /// ``lastSigned(_:)``'s row as stored, for a reader that must go on when it cannot be read as a record.
    static func lastSignedRow(_ db: Database) throws -> Row? {
        try Row.fetchOne(
            db,
            sql:
                "SELECT \(columns) FROM audit WHERE signature IS NOT NULL AND seq BETWEEN ? AND ? ORDER BY seq DESC LIMIT 1",
            arguments: [seqRange.lowerBound, seqRange.upperBound]
        )
    }

    /// BLAKE2b-256 over the label, the previous hash and a length-prefixed
    /// encoding of every field, so no two records encode alike.
    static func hash(
        previous: Data,
        seq: Int64,
        at: String,
        actorID: Int64?,
        action: String,
        entryID: Int64?,
        personID: Int64?,
        details: String
    ) -> Data {
        // Written once into one buffer (on the stack when it fits) and
        // hashed in one call: `audit verify` recomputes every record's hash.
        var at = at
        var action = action
        var details = details
        return at.withUTF8 { at in
            action.withUTF8 { action in
                details.withUTF8 { details in
                    let size =
                        label.count + previous.count + 8 + 3 * 9 + 3 * 8 + at.count + action.count + details.count
                    return withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer in
                        var w = 0
                        func put(_ bytes: UnsafeRawBufferPointer) {
                            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
                            (buffer.baseAddress! + w).copyMemory(from: base, byteCount: bytes.count)
                            w += bytes.count
                        }
                        func int64(_ v: Int64) { withUnsafeBytes(of: v.bigEndian) { put($0) } }
                        func text(_ t: UnsafeBufferPointer<UInt8>) {
                            int64(Int64(t.count))
                            put(UnsafeRawBufferPointer(t))
                        }
                        func optional(_ v: Int64?) {
                            withUnsafeBytes(of: UInt8(v == nil ? 0 : 1)) { put($0) }
                            int64(v ?? 0)
                        }
                        label.withUnsafeBytes { put($0) }
                        previous.withUnsafeBytes { put($0) }
                        int64(seq)
                        text(at)
                        optional(actorID)
                        text(action)
                        optional(entryID)
                        optional(personID)
                        text(details)
                        return Digest.blake2b(UnsafeRawBufferPointer(start: buffer.baseAddress, count: w))
                    }
                }
            }
        }
    }

    /// A record's details as JSON: keys sorted (by their UTF-8 bytes), no
    /// spaces, `/` unescaped. Written here rather than by
    /// `JSONSerialization`, which took a third of a bulk import's commit;
    /// a value of a type this does not know goes to `JSONSerialization`.
    /// The text is hashed as stored: nothing re-encodes it to verify.
    static func encode(_ details: [String: Any]) -> String {
        var out = ""
        out.reserveCapacity(256)
        if JSONText.append(details, to: &out) { return out }
        let data =
            (try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The hash of the genesis record, which every keyslot's associated
    /// data includes (design rule 1).
    static func genesisHash(_ db: Database) throws -> Data {
        guard let row = try db.row("SELECT hash FROM audit WHERE seq = 1") else {
            throw CertVaultError(
                .tampered,
                "the vault's genesis record is gone",
                remedy: .restoreBackup
            )
        }
        return try Columns(row, "audit record 1").blob("hash", count: 32)
    }

    /// The last record, signed or not.
    static func head(_ db: Database) throws -> AuditHead? {
        guard let row = try db.row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1") else { return nil }
        let c = Columns(row, "last audit record")
        return AuditHead(seq: try c.int("seq", in: seqRange), hash: try c.blob("hash", count: 32))
    }

    /// A record to append: what ``append(_:actor:action:entry:person:details:signer:)`` takes.
    struct Pending {
        var action: AuditAction
        var entry: Int64?
        var person: Int64?
        var details: [String: Any]
    }

    /// Appends `records` in order inside the caller's transaction, as that
    /// many ``append(_:actor:action:entry:person:details:signer:)`` calls
    /// would (the same rows, each linked to the one before), with the JSON
    /// written and the signatures made in parts on every core: only the
    /// hashes chain, and they are cheap.
    /// - Returns: the new head; nil when `records` is empty.
    @discardableResult
    static func appendAll(
        _ db: Database,
        actor: Int64?,
        records: [Pending],
        signer: SecureBytes?
    ) throws -> AuditHead? {
        guard !records.isEmpty else { return nil }
        let count = records.count
        let parts = count >= 256 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
        func inParts<T: Sendable>(_ make: @Sendable (Int) -> T) -> [T] {
            let made = Mutex([T?](repeating: nil, count: count))
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                let range = (count * p / parts)..<(count * (p + 1) / parts)
                let part = range.map(make)
                made.withLock { for (i, m) in zip(range, part) { $0[i] = m } }
            }
            return made.withLock { $0.map { $0! } }
        }
        // Read only, from every part.
        let batch = Unchecked(value: records)
        let texts = inParts { encode(batch.value[$0].details) }
        var head = try self.head(db)
        var rows: [AuditRow] = []
        rows.reserveCapacity(records.count)
        for (r, text) in zip(records, texts) {
            let seq = (head?.seq ?? 0) + 1
            let prevHash = head?.hash ?? zeroHash
            let at = Timestamp.now()
            let h = hash(
                previous: prevHash,
                seq: seq,
                at: at,
                actorID: actor,
                action: r.action.rawValue,
                entryID: r.entry,
                personID: r.person,
                details: text
            )
            rows.append(
                AuditRow(
                    seq: seq,
                    at: at,
                    actorID: actor,
                    action: r.action,
                    entryID: r.entry,
                    personID: r.person,
                    details: text,
                    previousHash: prevHash,
                    hash: h,
                    signature: nil
                )
            )
            head = AuditHead(seq: seq, hash: h)
        }
        if let signer {
            let hashes = rows.map(\.hash)
            let signatures = inParts { Signature.sign(hashes[$0], secretKey: signer) }
            for i in rows.indices { rows[i].signature = signatures[i] }
        }
        for row in rows { try row.insert(db) }
        return head
    }

    /// Appends a record inside the caller's transaction.
    ///
    /// - Parameter signer: the actor's Ed25519 secret key; nil only for
    ///   `unlock.failed`, which nobody can sign.
    @discardableResult
    static func append(
        _ db: Database,
        actor: Int64?,
        action: AuditAction,
        entry: Int64? = nil,
        person: Int64? = nil,
        details: [String: Any],
        signer: SecureBytes?
    ) throws -> AuditHead {
        let previous = try head(db)
        let seq = (previous?.seq ?? 0) + 1
        let prevHash = previous?.hash ?? zeroHash
        let at = Timestamp.now()
        let text = encode(details)
        let h = hash(
            previous: prevHash,
            seq: seq,
            at: at,
            actorID: actor,
            action: action.rawValue,
            entryID: entry,
            personID: person,
            details: text
        )
        let signature = signer.map { Signature.sign(h, secretKey: $0) }
        try AuditRow(
            seq: seq,
            at: at,
            actorID: actor,
            action: action,
            entryID: entry,
            personID: person,
            details: text,
            previousHash: prevHash,
            hash: h,
            signature: signature
        ).insert(db)
        return AuditHead(seq: seq, hash: h)
    }
}

/// The JSON writer of ``AuditChain/encode(_:)``.
enum JSONText {
    /// Appends `value`; false (with `out` partly written) for a type it does not know.
    static func append(_ value: Any, to out: inout String) -> Bool {
        // Exact types: a boxed NSNumber would cast to Bool and to Int alike.
        let type = Swift.type(of: value)
        if type == String.self {
            appendString(value as! String, to: &out)
        } else if type == Bool.self {
            out += (value as! Bool) ? "true" : "false"
        } else if type == Int.self {
            out += String(value as! Int)
        } else if type == Int64.self {
            out += String(value as! Int64)
        } else if type == Int32.self {
            out += String(value as! Int32)
        } else if type == NSNull.self {
            out += "null"
        } else if let d = value as? [String: Any] {
            out += "{"
            for (n, key) in d.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if n > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                guard append(d[key]!, to: &out) else { return false }
            }
            out += "}"
        } else if let a = value as? [Any] {
            out += "["
            for (n, element) in a.enumerated() {
                if n > 0 { out += "," }
                guard append(element, to: &out) else { return false }
            }
            out += "]"
        } else {
            return false
        }
        return true
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string: quote and backslash escaped, control characters as
    /// `\n`, `\t`, … or `\u00XX`; everything else as UTF-8.
    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        var plain = true
        for byte in s.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            plain = false
            break
        }
        if plain {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "\u{08}": out += "\\b"
                case "\u{0C}": out += "\\f"
                case _ where scalar.value < 0x20:
                    let v = Int(scalar.value)
                    out += "\\u00"
                    out.unicodeScalars.append(Unicode.Scalar(hex[v >> 4]))
                    out.unicodeScalars.append(Unicode.Scalar(hex[v & 15]))
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSONText {
    /// Reads JSON text as ``JSONValue``: objects, arrays, strings (every
    /// escape), integers that fit 64 bits, true, false and null, nested at
    /// most 64 deep. Nil for anything else — a fraction or exponent, a
    /// duplicate key, a lone surrogate, bad syntax — which the caller then
    /// gives to Foundation's reader.
    static func parse(_ text: String) -> JSONValue? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            guard let value = reader.value(depth: 0) else { return nil }
            reader.skipSpace()
            return reader.position == bytes.count ? value : nil
        }
    }

    /// The named fields of a JSON object, in the order named (nil for one
    /// it lacks), each exactly as ``parse(_:)`` would give it, with the rest of the text checked as `parse` checks it
    /// but not built: a record's details hold a dozen fields and a reader of
    /// two needs no dictionary of twelve (`audit verify` reads every entry
    /// record). Nil where `parse` should decide: the text is not an object
    /// `parse` takes, or has a key with an escape or a byte past ASCII (whose
    /// duplicates only `parse` can judge).
    static func fields(_ names: [String], of text: String) -> [JSONValue?]? {
        var text = text
        return text.withUTF8 { bytes -> [JSONValue?]? in
            var reader = Reader(bytes: bytes)
            var found = [JSONValue?](repeating: nil, count: names.count)
            reader.skipSpace()
            let read = reader.object { reader, key in
                let start = reader.bytes.baseAddress! + key.lowerBound
                let wanted = names.firstIndex { name in
                    var name = name
                    return name.utf8.count == key.count
                        && name.withUTF8 { key.isEmpty || memcmp($0.baseAddress!, start, key.count) == 0 }
                }
                guard let wanted else { return reader.skipValue(depth: 1) }
                guard let value = reader.value(depth: 1) else { return false }
                found[wanted] = value
                return true
            }
            guard read else { return nil }
            reader.skipSpace()
            return reader.position == bytes.count ? found : nil
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        /// Whether the key at `key` is, byte for byte, one at `keys`.
        func repeats(_ key: Range<Int>, in keys: [Range<Int>]) -> Bool {
            keys.contains { other in
                other.count == key.count
                    && memcmp(bytes.baseAddress! + key.lowerBound, bytes.baseAddress! + other.lowerBound, key.count)
                        == 0
            }
        }

        /// After an item of an object or array: true at its closing `close`,
        /// false at a comma (either passed over), nil for anything else.
        mutating func endOfItem(_ close: UInt8) -> Bool? {
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
                return false
            case close:
                position += 1
                return true
            default: return nil
            }
        }

        /// A key's bytes between its quotes, when they are printable ASCII
        /// without an escape; nil otherwise (and for a string `parse` refuses).
        mutating func plainKey() -> Range<Int>? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            let start = position + 1
            var i = start
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                guard bytes[i] >= 0x20, bytes[i] < 0x80, bytes[i] != UInt8(ascii: "\\") else { return nil }
                i += 1
            }
            guard i < bytes.count else { return nil }
            position = i + 1
            return start..<i
        }

        /// Passes over the object at the position (its `{`) as
        /// ``value(depth:)`` would, giving each key to `member`, which takes
        /// the value after it; false where `value` would fail, or where only
        /// it can tell (a key with an escape or past ASCII), or where
        /// `member` says so.
        mutating func object(member: (inout Reader, Range<Int>) -> Bool) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else { return false }
            position += 1
            var keys: [Range<Int>] = []
            keys.reserveCapacity(16)
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return true
            }
            while true {
                skipSpace()
                guard let key = plainKey(), keys.count < 64, !repeats(key, in: keys) else { return false }
                keys.append(key)
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return false }
                position += 1
                guard member(&self, key) else { return false }
                guard let closed = endOfItem(UInt8(ascii: "}")) else { return false }
                if closed { return true }
            }
        }

        /// Passes over a value that ``value(depth:)`` would take, building
        /// nothing but what a duplicate key needs; false where it would fail,
        /// or where only it can tell (a key with an escape or past ASCII).
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64 else { return false }
            skipSpace()
            guard position < bytes.count else { return false }
            switch bytes[position] {
            case UInt8(ascii: "{"): return object { reader, _ in reader.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["):
                position += 1
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return true
                }
                while true {
                    guard skipValue(depth: depth + 1) else { return false }
                    guard let closed = endOfItem(UInt8(ascii: "]")) else { return false }
                    if closed { return true }
                }
            case UInt8(ascii: "\""):
                // Unescaped text is taken as it stands; an escape is judged by the reader.
                let start = position
                var i = position + 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
                    guard bytes[i] >= 0x20 else { return false }
                    i += 1
                }
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: "\"") {
                    position = i + 1
                    return true
                }
                position = start
                return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return integer() != nil
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard position + n <= bytes.count else { return false }
            for i in 0..<n where bytes[position + i] != word.utf8Start[i] { return false }
            position += n
            return true
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < 64 else { return nil }
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var fields: [String: JSONValue] = [:]
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(fields)
                }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
                    position += 1
                    guard let v = value(depth: depth + 1), fields.updateValue(v, forKey: key) == nil else { return nil }
                    guard let closed = endOfItem(UInt8(ascii: "}")) else { return nil }
                    if closed { return .object(fields) }
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [JSONValue] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(items)
                }
                while true {
                    guard let v = value(depth: depth + 1) else { return nil }
                    items.append(v)
                    guard let closed = endOfItem(UInt8(ascii: "]")) else { return nil }
                    if closed { return .array(items) }
                }
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: return integer().map(JSONValue.integer)
            }
        }

        /// An integer: `-`? and digits without a leading zero; nil for a fraction or exponent.
        mutating func integer() -> Int64? {
            let start = position
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let digits = position
            while position < bytes.count, (48...57).contains(bytes[position]) { position += 1 }
            guard position > digits, !(bytes[digits] == 48 && position - digits > 1) else { return nil }
            if position < bytes.count,
                [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position])
            {
                return nil
            }
            return Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
        }

        /// A string at the position (which holds its opening quote).
        mutating func string() -> String? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            position += 1
            let start = position
            // The common case: no escape, copied as it stands.
            while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\") {
                guard bytes[position] >= 0x20 else { return nil }
                position += 1
            }
            guard position < bytes.count else { return nil }
            var out = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            while true {
                guard position < bytes.count else { return nil }
                let b = bytes[position]
                position += 1
                switch b {
                case UInt8(ascii: "\""): return out
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return nil }
                    let e = bytes[position]
                    position += 1
                    switch e {
                    case UInt8(ascii: "\""): out += "\""
                    case UInt8(ascii: "\\"): out += "\\"
                    case UInt8(ascii: "/"): out += "/"
                    case UInt8(ascii: "b"): out += "\u{08}"
                    case UInt8(ascii: "f"): out += "\u{0C}"
                    case UInt8(ascii: "n"): out += "\n"
                    case UInt8(ascii: "r"): out += "\r"
                    case UInt8(ascii: "t"): out += "\t"
                    case UInt8(ascii: "u"):
                        guard let unit = hex4() else { return nil }
                        var scalar = UInt32(unit)
                        if (0xD800...0xDBFF).contains(unit) {
                            // A high surrogate must be followed by an escaped low one.
                            guard literal("\\u"), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            return nil
                        }
                        guard let s = Unicode.Scalar(scalar) else { return nil }
                        out.unicodeScalars.append(s)
                    default: return nil
                    }
                default:
                    guard b >= 0x20 else { return nil }
                    // Copy up to the next quote or escape as it stands.
                    let run = position - 1
                    while position < bytes.count, bytes[position] != UInt8(ascii: "\""),
                        bytes[position] != UInt8(ascii: "\\")
                    {
                        guard bytes[position] >= 0x20 else { return nil }
                        position += 1
                    }
                    out += String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<position]), as: UTF8.self)
                }
            }
        }

        mutating func hex4() -> UInt16? {
            guard position + 4 <= bytes.count else { return nil }
            var v: UInt16 = 0
            for _ in 0..<4 {
                let c = bytes[position]
                let d: UInt8
                switch c {
                case 48...57: d = c - 48
                case 65...70: d = c - 55
                case 97...102: d = c - 87
                default: return nil
                }
                v = v << 4 | UInt16(d)
                position += 1
            }
            return v
        }
    }
}

extension JSONValue {
    /// The value as `JSONSerialization` gives it: numbers and booleans as
    /// `NSNumber`, null as `NSNull` (an integer past 2^53 stays exact, where
    /// `JSONSerialization` rounds it to a Double).
    var foundationValue: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): NSNumber(value: b)
        case .integer(let i): NSNumber(value: i)
        case .number(let d): NSNumber(value: d)
        case .string(let s): s
        case .array(let a): a.map(\.foundationValue)
        case .object(let o): o.mapValues(\.foundationValue)
        }
    }
}

/// A value handed to parts of one computation that only read it.
private struct Unchecked<T>: @unchecked Sendable {
    let value: T
}
