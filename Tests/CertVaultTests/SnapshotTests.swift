import Foundation
import GRDB
import XCTest

@testable import CertVault

/// The digest of the state is worked out two ways: in one ordered pass over
/// each table (what every command does), and by the general path that
/// takes rows in any order (a vault bent by hand). Both must give the same
/// digests, or a signed state would stop matching.
final class SnapshotTests: VaultTestCase {
    private func assertSameSnapshots(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let (ordered, general) = try queue.read { db in
            (try RowDigest.snapshot(db), try RowDigest.generalSnapshot(db))
        }
        XCTAssertEqual(ordered.entries, general.entries, what, file: file, line: line)
        XCTAssertEqual(ordered.people, general.people, what, file: file, line: line)
        XCTAssertEqual(ordered.vault, general.vault, what, file: file, line: line)
        XCTAssertEqual(ordered.orphans, general.orphans, what, file: file, line: line)
        XCTAssertEqual(ordered.orphanRows, general.orphanRows, what, file: file, line: line)
        XCTAssertEqual(ordered.entriesState, general.entriesState, what, file: file, line: line)
        XCTAssertEqual(ordered.state, general.state, what, file: file, line: line)
    }

    func testOrderedPassDigestsAsTheGeneralPath() throws {
        try assertSameSnapshots("an empty vault")
        let alice = try unlock()
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob's long passphrase"),
            kdf: .interactive
        )
        let aliases = try importFresh(["a.example.com", "b.example.com", "c.example.com", "d.example.com"], as: alice)
        _ = try alice.grant(.alias(aliases[1]), to: "bob")
        _ = try alice.grant(.alias(aliases[3]), to: "bob")
        try assertSameSnapshots("entries with grants and custody")

        // Rows a hand added: a grant and custody for no entry, before, between and after the real ones.
        let ids = try queue { try Int64.fetchAll($0, sql: "SELECT id FROM entries ORDER BY id") }
        let sealed = Data(repeating: 7, count: 80)
        for orphan in [Int64(0), ids[1] + 1000, ids.last! + 1] {
            try tamper(
                "INSERT INTO grants (entry_id, person_id, sealed_key, granted_by, granted_at) VALUES (?, 2, ?, 1, 'now')",
                [orphan, sealed]
            )
            try tamper("INSERT INTO custody VALUES (?, 2, 'export', 'now', 1)", [orphan])
        }
        try assertSameSnapshots("orphan grants and custody rows")
        XCTAssertEqual(try queue { try RowDigest.snapshot($0).orphanRows }, 6)

        // An entry id that is not an integer sorts after every number: the ordered pass hands over.
        try tamper("INSERT INTO custody VALUES (?, 2, 'export', 'now', 1)", ["\(ids[0])"])
        try assertSameSnapshots("a custody row whose entry id is text")

        // A deleted entry leaves its grants and custody behind.
        try tamper("DELETE FROM entries WHERE id = ?", [ids[2]])
        try assertSameSnapshots("an entry deleted under its grants")
    }

    /// Digests made on the pipeline's worker are the ones a hasher makes
    /// here: two digests open at once, pieces of every size, chunks handed
    /// over in the middle of a digest.
    func testDigestPipelineDigestsAsAHasherDoes() {
        var rng = SystemRandomNumberGenerator()
        let pipeline = DigestPipeline(hashers: 2)
        let label = Hasher.Label("certvault/test")
        var expected: [Data] = []
        let long = Hasher(label: "certvault/test")
        pipeline.start(1, label)
        for slot in 0..<400 {
            let h = Hasher(label: "certvault/test")
            pipeline.start(0, label)
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let piece = (0..<Int.random(in: 0...9_000, using: &rng)).map { _ in
                    UInt8.random(in: 0...255, using: &rng)
                }
                piece.withUnsafeBytes {
                    h.raw($0)
                    pipeline.add(0, $0)
                    long.raw($0)
                    pipeline.add(1, $0)
                }
            }
            h.mark(7)
            pipeline.mark(0, 7)
            pipeline.finish(0, slot: slot + 1)
            expected.append(h.finish())
        }
        pipeline.finish(1, slot: 0)
        let out = pipeline.results(slots: 402)
        XCTAssertEqual(out.count, 402 * 32)
        XCTAssertEqual(Data(out[0..<32]), long.finish(), "the digest open across every chunk")
        for (i, digest) in expected.enumerated() {
            XCTAssertEqual(Data(out[((i + 1) * 32)..<((i + 2) * 32)]), digest, "digest \(i)")
        }
        XCTAssertEqual(Data(out[(401 * 32)...]), Data(count: 32), "a slot no digest went to reads as zeros")
    }

    /// The chain check, its hashes made on another core, names records in
    /// order and stops at its limit, as it did when it hashed in line.
    func testChainCheckNamesAlteredRecordsInOrderUpToItsLimit() throws {
        let alice = try unlock()
        for batch in 0..<3 { try importFresh((0..<10).map { "c\(batch)-\($0).example.com" }, as: alice) }
        let last = try queue { try Int64.fetchOne($0, sql: "SELECT max(seq) FROM audit") ?? 0 }
        XCTAssertGreaterThan(last, 25)
        XCTAssertEqual(try queue { try AuditChain.checkLinks($0) }, [])
        // Records from the sixth on altered in place, their hashes left alone.
        try tamper("UPDATE audit SET details = details || ' ' WHERE seq >= 6")
        // The first record's hash cut short: it no longer matches, nor does the
        // second's, whose hash covers it. The fourth's link broken (the link is not hashed).
        try tamper("UPDATE audit SET hash = substr(hash, 1, 31) WHERE seq = 1")
        try tamper("UPDATE audit SET prev_hash = zeroblob(32) WHERE seq = 4")
        let altered = "its contents do not match its hash: altered"
        let findings = try queue { try AuditChain.checkLinks($0) }
        XCTAssertEqual(findings.map(\.seq), [1, 2, 4] + (6...22).map { Int64($0) })
        XCTAssertEqual(findings.map(\.message)[0..<2], [altered, altered])
        XCTAssertTrue(findings[2].message.hasPrefix("does not follow the record before it"), findings[2].message)
        XCTAssertTrue(findings[3...].allSatisfy { $0.message == altered })
        XCTAssertEqual(try queue { try AuditChain.checkLinks($0, limit: 5) }.map(\.seq), [1, 2, 4, 6, 7])
    }

    private func queue<T>(_ body: (Database) throws -> T) throws -> T {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read(body)
    }
}
