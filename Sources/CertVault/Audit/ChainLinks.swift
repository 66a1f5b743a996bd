import Foundation
import GRDB
internal import GRDBSQLite

extension AuditChain {
    /// Recomputes every record's hash and checks that each follows the one
    /// before it, reading the values as SQLite stores them (no signature
    /// checks: those are ``AuditVerifier``'s).
    ///
    /// With the chain intact, a valid signature on the last record vouches
    /// for every record before it: each hash covers the previous one. This
    /// is what lets every command check the whole log at the cost of one
    /// hash per record.
    /// - Returns: one finding per broken link, at most `limit`.
    static func checkLinks(_ db: Database, limit: Int = 20) throws -> [AuditFinding] {
        var findings: [AuditFinding] = []
        let statement = try db.cachedStatement(
            sql:
                "SELECT seq, at, actor_id, action, entry_id, person_id, details, prev_hash, hash FROM audit ORDER BY seq"
        )
        let cursor = try Row.fetchCursor(statement)
        guard let s = statement.sqliteStatement as OpaquePointer? else { return [] }
        var previous = zeroHash
        var expected: Int64 = 1
        var canonical: [UInt8] = []
        canonical.reserveCapacity(2048)
        while try cursor.next() != nil, findings.count < limit {
            func blob(_ i: Int32) -> Data? {
                guard sqlite3_column_type(s, i) == SQLITE_BLOB else { return nil }
                let n = Int(sqlite3_column_bytes(s, i))
                guard let p = sqlite3_column_blob(s, i) else { return Data() }
                return Data(bytes: p, count: n)
            }
            guard sqlite3_column_type(s, 0) == SQLITE_INTEGER, seqRange.contains(sqlite3_column_int64(s, 0)) else {
                findings.append(.init(seq: expected, message: "a record has no valid sequence number"))
                continue
            }
            let seq = sqlite3_column_int64(s, 0)
            if seq != expected {
                findings.append(
                    .init(
                        seq: expected,
                        message: seq > expected
                            ? "records \(expected)…\(seq - 1) are missing" : "record \(seq) appears twice"
                    )
                )
            }
            let stored = blob(8)
            canonical.removeAll(keepingCapacity: true)
            var ok = stored?.count == 32
            func int64(_ v: Int64) { withUnsafeBytes(of: v.bigEndian) { canonical.append(contentsOf: $0) } }
            func text(_ i: Int32) {
                guard sqlite3_column_type(s, i) == SQLITE_TEXT else {
                    ok = false
                    return
                }
                let n = Int(sqlite3_column_bytes(s, i))
                int64(Int64(n))
                if let p = sqlite3_column_text(s, i) {
                    canonical.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
                }
            }
            func optional(_ i: Int32) {
                switch sqlite3_column_type(s, i) {
                case SQLITE_NULL:
                    canonical.append(0)
                    int64(0)
                case SQLITE_INTEGER:
                    canonical.append(1)
                    int64(sqlite3_column_int64(s, i))
                default: ok = false
                }
            }
            int64(seq)
            text(1)
            optional(2)
            text(3)
            optional(4)
            optional(5)
            text(6)
            let linked = blob(7) == previous
            if ok {
                let h = Hasher()
                label.withUnsafeBytes { h.raw($0) }
                previous.withUnsafeBytes { h.raw($0) }
                canonical.withUnsafeBytes { h.raw($0) }
                ok = h.finish() == stored
            }
            if !ok {
                findings.append(.init(seq: seq, message: "its contents do not match its hash: altered"))
            } else if !linked {
                findings.append(
                    .init(
                        seq: seq,
                        message:
                            "does not follow the record before it (previous hash differs): removed, reordered or altered"
                    )
                )
            }
            previous = stored ?? zeroHash
            expected = seq + 1
        }
        return findings
    }
}
