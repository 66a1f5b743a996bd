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
        // Each record's hash covers the stored hash of the one before, so
        // every hash can be recomputed on its own: on another core, while
        // this one reads. What each record showed is kept, and the findings
        // are made in order once the hashes are in.
        struct Read {
            var seq: Int64
            /// A finding about the sequence number, before anything else about the record.
            var order: AuditFinding?
            /// The record has no valid sequence number: that is all that is said of it.
            var unnumbered = false
            /// Its columns could be read and its stored hash has 32 bytes.
            var wellFormed: Bool
            var linked: Bool
            var stored: Data?
        }
        var reads: [Read] = []
        let pipeline = DigestPipeline(hashers: 1)
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
        // Findings are made in order from the records whose hashes are in,
        // every 4,096 records: reading stops, as it always did, once `limit`
        // findings are made (`counted` holds those certain before the hashes).
        var findings: [AuditFinding] = []
        var judged = 0
        func judge(_ digests: UnsafeRawBufferPointer) {
            while judged < reads.count, findings.count < limit {
                let read = reads[judged]
                let i = judged
                judged += 1
                if let order = read.order { findings.append(order) }
                if read.unnumbered { continue }
                let matches =
                    read.wellFormed
                    && read.stored.map { stored in
                        UnsafeRawBufferPointer(rebasing: digests[(i * 32)..<(i * 32 + 32)]).elementsEqual(stored)
                    } ?? false
                if !matches {
                    findings.append(.init(seq: read.seq, message: "its contents do not match its hash: altered"))
                } else if !read.linked {
                    findings.append(
                        .init(
                            seq: read.seq,
                            message:
                                "does not follow the record before it (previous hash differs): removed, reordered or altered"
                        )
                    )
                }
            }
        }
        var counted = 0
        while try cursor.next() != nil, counted < limit, findings.count < limit {
            func blob(_ i: Int32) -> Data? {
                guard sqlite3_column_type(s, i) == SQLITE_BLOB else { return nil }
                let n = Int(sqlite3_column_bytes(s, i))
                guard let p = sqlite3_column_blob(s, i) else { return Data() }
                return Data(bytes: p, count: n)
            }
            guard sqlite3_column_type(s, 0) == SQLITE_INTEGER, seqRange.contains(sqlite3_column_int64(s, 0)) else {
                reads.append(
                    Read(
                        seq: expected,
                        order: .init(seq: expected, message: "a record has no valid sequence number"),
                        unnumbered: true,
                        wellFormed: true,
                        linked: true,
                        stored: nil
                    )
                )
                counted += 1
                continue
            }
            let seq = sqlite3_column_int64(s, 0)
            var order: AuditFinding?
            if seq != expected {
                order = .init(
                    seq: expected,
                    message: seq > expected
                        ? "records \(expected)…\(seq - 1) are missing" : "record \(seq) appears twice"
                )
                counted += 1
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
                pipeline.start(0)
                label.withUnsafeBytes { pipeline.add(0, $0) }
                previous.withUnsafeBytes { pipeline.add(0, $0) }
                canonical.withUnsafeBytes { pipeline.add(0, $0) }
                pipeline.finish(0, slot: reads.count)
            }
            // A finding this record certainly makes (a hash that does not match is known later).
            if !ok || !linked { counted += 1 }
            reads.append(Read(seq: seq, order: order, wellFormed: ok, linked: linked, stored: stored))
            previous = stored ?? zeroHash
            expected = seq + 1
            if reads.count % 4096 == 0 { pipeline.withResults { judge($0) } }
        }
        pipeline.withResults { judge($0) }
        return findings
    }
}
