import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import CertVault

/// `Session.importPaths` reads and stores in batches inside one change:
/// memory stays bounded, and the all-or-nothing promise still holds across
/// batches.
final class StreamedImportTests: VaultTestCase {
    /// A change of hundreds of records has their JSON written and their
    /// signatures made in parts on every core: the log still verifies, one
    /// record a certificate, each linked to the one before; and a signature
    /// altered in the middle of the batch is found.
    func testRecordsOfALargeChangeAreSignedInPartsAndVerify() throws {
        let session = try unlock()
        let head = try vault.auditHead()
        var files: [ImportFile] = []
        for i in 0..<300 {
            let key = try PrivateKey.generate(.ec(.p256))
            let cert = try CertificateBuilder(subject: "CN=batch-\(i).example").build(key: key)
            files.append(try Importer.read(data: try cert.derEncoded, label: "batch-\(i).cer", password: nil))
        }
        let report = try session.importFiles(files)
        XCTAssertEqual(report.count(.imported), 300)
        let after = try XCTUnwrap(try vault.auditHead())
        XCTAssertEqual(after.seq - (head?.seq ?? 0), 300)
        let verified = try vault.verify()
        XCTAssertTrue(verified.findings.isEmpty, "\(verified.findings)")
        XCTAssertEqual(verified.head, after)

        let middle = (head?.seq ?? 0) + 150
        try tamper("UPDATE audit SET signature = zeroblob(64) WHERE seq = ?", [middle])
        let tampered = try vault.verify()
        XCTAssertFalse(tampered.findings.isEmpty)
        XCTAssertTrue(tampered.findings.contains { $0.seq == middle }, "\(tampered.findings)")
    }

    /// More paths than two batches hold: copies of one good file, with a
    /// bad file early and another late. Every failure is named, nothing is
    /// stored; with keepGoing the good file is stored once.
    func testAllOrNothingAcrossBatches() throws {
        let session = try unlock()
        let good = try Support.makePFX(in: dir, name: "good", key: "ec:prime256v1").pfx
        let garbage = dir.appendingPathComponent("garbage.pfx").path
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: garbage))
        let wrong = try Support.makePFX(in: dir, name: "wrong", password: "other", key: "ec:prime256v1").pfx
        let batch = Session.filesPerWorker * ProcessInfo.processInfo.activeProcessorCount
        var paths = Array(repeating: good, count: batch * 2 + 20)
        paths[3] = garbage
        paths[batch * 2 + 10] = wrong
        let before = try snapshot()
        let head = try vault.auditHead()

        let report = try session.importPaths(paths, password: SecureBytes(utf8: "secret"))
        XCTAssertFalse(report.stored)
        XCTAssertEqual(report.errors.map(\.code), [.unknownFormat, .wrongPassword])
        XCTAssertTrue(report.failures[0].hasPrefix(garbage), report.failures[0])
        XCTAssertTrue(report.failures[1].hasPrefix(wrong), report.failures[1])
        XCTAssertEqual(report.firstError?.code, .unknownFormat)
        XCTAssertEqual(try snapshot(), before)
        XCTAssertEqual(try vault.auditHead(), head)

        let kept = try session.importPaths(
            paths,
            password: SecureBytes(utf8: "secret"),
            options: ImportOptions(keepGoing: true)
        )
        XCTAssertTrue(kept.stored)
        XCTAssertEqual(kept.count(.imported), 1)
        XCTAssertEqual(kept.count(.alreadyPresent), paths.count - 3)
        XCTAssertEqual(kept.errors.count, 2)
        XCTAssertEqual(try vault.entries().map(\.alias), ["good"])
        XCTAssertTrue(try vault.verify().isValid)
    }

    /// A key in one batch and its certificate in a later one make one
    /// entry, with no warning; a key nothing matches is stored alone and
    /// said so.
    func testKeyAndCertificateInDifferentBatchesPair() throws {
        let session = try unlock()
        let made = try Support.makePFX(in: dir, name: "pair", key: "ec:prime256v1")
        let lone = try Support.makePFX(in: dir, name: "lone", key: "ec:prime256v1")
        let filler = try Support.makePFX(in: dir, name: "filler", key: "ec:prime256v1").pfx
        let batch = Session.filesPerWorker * ProcessInfo.processInfo.activeProcessorCount
        var paths = Array(repeating: filler, count: batch + 10)
        paths[0] = made.key
        paths[1] = lone.key
        paths[batch + 5] = made.cert
        let report = try session.importPaths(paths, password: SecureBytes(utf8: "secret"))
        XCTAssertTrue(report.stored, "\(report.failures)")
        XCTAssertEqual(report.count(.paired), 1)
        let paired = try XCTUnwrap(report.items.first { $0.outcome == .paired })
        XCTAssertEqual(paired.file, made.cert)
        let pair = try vault.entry(.alias(paired.alias))
        XCTAssertTrue(pair.hasPrivateKey)
        XCTAssertNotNil(pair.certificate)
        XCTAssertEqual(report.warnings.count, 1, "\(report.warnings)")
        XCTAssertTrue(report.warnings[0].hasPrefix(lone.key), "\(report.warnings)")
        XCTAssertTrue(try vault.verify().isValid)
    }

    /// A streamed import cancelled while it reads stops with
    /// CancellationError and stores nothing; uncancelled, the async variant
    /// stores all.
    func testCancelledStreamedImportStoresNothing() async throws {
        let session = try unlock()
        let good = try Support.makePFX(in: dir, name: "good", key: "ec:prime256v1").pfx
        let paths = Array(repeating: good, count: 600)
        let records = try vault.auditRecords().count
        let read = Atomic<Int>(0)
        let task = Task {
            try await session.importPaths(paths, password: SecureBytes(utf8: "secret")) { done, _ in
                read.store(done, ordering: .relaxed)
            }
        }
        while read.load(ordering: .relaxed) < 20 { try await Task.sleep(nanoseconds: 1_000_000) }
        task.cancel()
        let outcome = await task.result
        XCTAssertThrowsError(try outcome.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        XCTAssertEqual(try vault.entries().count, 0)
        XCTAssertEqual(try vault.auditRecords().count, records)
        let report = try await session.importPaths(Array(paths.prefix(5)), password: SecureBytes(utf8: "secret"))
        XCTAssertEqual(report.count(.imported), 1)
        XCTAssertEqual(report.count(.alreadyPresent), 4)
    }

    /// The readers run at most `window` files ahead of the consumer: the
    /// files read but not yet done with never exceed the window plus the
    /// files being handled, however many there are, and every index comes
    /// back once, in order.
    func testStreamHoldsABoundedNumberOfFiles() throws {
        let count = 2_000
        let window = 32
        let outstanding = Mutex((now: 0, peak: 0))
        let stream = ImportStream(count: count, window: window, workers: 2, progress: nil) { i in
            outstanding.withLock { o in
                o.now += 1
                o.peak = max(o.peak, o.now)
            }
            return .failure(CertVaultError(.io, "\(i)"))
        }
        defer { stream.stop() }
        var seen: [Int] = []
        while let batch = stream.next() {
            // A slow consumer: the reader must wait for it.
            usleep(2_000)
            seen += batch.range
            XCTAssertEqual(
                batch.slots.map { if case .failure(let e) = $0 { e.message } else { "" } },
                batch.range.map(String.init)
            )
            outstanding.withLock { $0.now -= batch.slots.count }
        }
        XCTAssertEqual(seen, Array(0..<count))
        XCTAssertLessThanOrEqual(outstanding.withLock { $0.peak }, 2 * window)
        XCTAssertNil(stream.next())
    }

    /// A prefetch made before the unlock reads while the passphrase's key
    /// derivation runs, feeds one import, and is refused for a second; a
    /// prefetch dropped unused stops reading.
    func testPrefetchBeforeUnlockImportsOnce() throws {
        let good = try Support.makePFX(in: dir, name: "good", key: "ec:prime256v1").pfx
        let other = try Support.makePFX(in: dir, name: "other", key: "ec:prime256v1").pfx
        let read = Atomic<Int>(0)
        let prefetch = ImportPrefetch([good, other], password: SecureBytes(utf8: "secret")) { done, _ in
            read.store(done, ordering: .relaxed)
        }
        let session = try unlock()
        let report = try session.importPaths(prefetch)
        XCTAssertEqual(report.count(.imported), 2)
        XCTAssertEqual(read.load(ordering: .relaxed), 2)
        XCTAssertThrowsError(try session.importPaths(prefetch)) {
            XCTAssertEqual(($0 as? CertVaultError)?.code, .invalidArgument)
        }
        XCTAssertEqual(try vault.entries().count, 2)
        XCTAssertTrue(try vault.verify().isValid)

        let reads = Atomic<Int>(0)
        do {
            _ = ImportPrefetch(Array(repeating: good, count: 5_000), password: SecureBytes(utf8: "secret")) { _, _ in
                reads.add(1, ordering: .relaxed)
            }
        }
        let after = reads.load(ordering: .relaxed)
        usleep(50_000)
        XCTAssertEqual(reads.load(ordering: .relaxed), after)
        XCTAssertLessThan(after, 5_000)
    }

    /// Stopping early ends the reading thread: nothing is read after stop() returns.
    func testStreamStopsEarly() throws {
        let reads = Atomic<Int>(0)
        let stream = ImportStream(count: 10_000, window: 8, workers: 2, progress: nil) { i in
            reads.add(1, ordering: .relaxed)
            return .failure(CertVaultError(.io, "\(i)"))
        }
        XCTAssertNotNil(stream.next())
        stream.stop()
        let after = reads.load(ordering: .relaxed)
        usleep(50_000)
        XCTAssertEqual(reads.load(ordering: .relaxed), after)
        XCTAssertLessThan(after, 100)
    }
}
