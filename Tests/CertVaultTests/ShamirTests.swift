import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// Shamir's scheme over GF(2^8), judged by an outside implementation
/// (Debian's libgfshare: `gfsplit` and `gfcombine`, the same field), by
/// every K of N from 2-of-2 to 16-of-16, and by brute force: K−1 shares
/// leave every value of a secret byte exactly as likely.
final class ShamirTests: XCTestCase {
    func bytes(_ s: SecureBytes) -> Data { s.withUnsafeBytes { Data($0) } }

    /// The field's product, as a reference would compute it: shift and add, with branches.
    func reference(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = UInt16(a)
        var b = b
        var p: UInt16 = 0
        while b != 0 {
            if b & 1 == 1 { p ^= a }
            a <<= 1
            if a & 0x100 != 0 { a ^= 0x11D }
            b >>= 1
        }
        return UInt8(p)
    }

    func testTheFieldIsLibgfsharesAndEveryInverseHolds() {
        for a in 0...255 {
            for b in 0...255 {
                XCTAssertEqual(GF256.multiply(UInt8(a), UInt8(b)), reference(UInt8(a), UInt8(b)))
            }
            if a != 0 { XCTAssertEqual(GF256.multiply(UInt8(a), GF256.inverse(UInt8(a))), 1, "\(a)") }
        }
        XCTAssertEqual(GF256.inverse(0), 0)
    }

    func testSharesCrossWithGfsplitAndGfcombine() throws {
        let dir = try Support.temporaryDirectory()
        let secret = SecureBytes(randomCount: 64)
        // Ours, recombined by gfcombine (files named STEM.NNN, NNN the x-coordinate).
        let shares = try Shamir.split(secret, threshold: 3, count: 5, xs: [7, 19, 101, 200, 255])
        var files: [String] = []
        for share in shares.shuffled().prefix(3) {
            let path = dir.appendingPathComponent(String(format: "ours.%03d", share.x)).path
            try bytes(share.y).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        let out = dir.appendingPathComponent("ours.out").path
        let combined = try Support.run("gfcombine", ["-o", out] + files)
        XCTAssertEqual(combined.status, 0, combined.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), bytes(secret))
        // gfsplit's, recombined here.
        let input = dir.appendingPathComponent("theirs")
        let plain = Data((0..<100).map { _ in UInt8.random(in: 0...255) })
        try plain.write(to: input)
        let split = try Support.run(
            "gfsplit",
            ["-n", "4", "-m", "6", input.path, dir.appendingPathComponent("t").path]
        )
        XCTAssertEqual(split.status, 0, split.err)
        let theirs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("t.") }
        XCTAssertEqual(theirs.count, 6)
        let four = try theirs.shuffled().prefix(4).map { name in
            Shamir.Share(
                x: UInt8(name.dropFirst(2))!,
                y: SecureBytes(copying: try Data(contentsOf: dir.appendingPathComponent(name)))
            )
        }
        XCTAssertEqual(bytes(try Shamir.combine(four)), plain)
        // Three of four needed: a wrong secret, never an error (the commitment above catches it).
        XCTAssertNotEqual(bytes(try Shamir.combine(Array(four.prefix(3)))), plain)
    }

    func testEveryKOfNFrom2Of2To16Of16() throws {
        for n in 2...16 {
            for k in 2...n {
                let secret = SecureBytes(randomCount: 33)
                let shares = try Shamir.split(secret, threshold: k, count: n)
                XCTAssertEqual(Set(shares.map(\.x)), Set((1...n).map { UInt8($0) }))
                for size in [k, n] {
                    let subset = Array(shares.shuffled().prefix(size))
                    XCTAssertEqual(bytes(try Shamir.combine(subset)), bytes(secret), "\(k) of \(n) from \(size)")
                }
            }
        }
    }

    /// With K−1 shares, every value of the secret byte is consistent with
    /// exactly as many polynomials as every other: the shares say nothing.
    func testKMinusOneSharesLeaveEverySecretEquallyLikely() throws {
        // 2 of 3, one share known: each secret has exactly one a1 with s + a1·x = y.
        let two = try Shamir.split(SecureBytes(copying: [0x5A]), threshold: 2, count: 3)
        let (x, y) = (two[1].x, bytes(two[1].y)[0])
        for s in 0...255 {
            let fits = (0...255).filter { a in UInt8(s) ^ GF256.multiply(UInt8(a), x) == y }.count
            XCTAssertEqual(fits, 1, "secret \(s)")
        }
        // 3 of 5, two shares known: each secret has exactly one (a1, a2).
        let three = try Shamir.split(SecureBytes(copying: [0xC3]), threshold: 3, count: 5)
        let known = [three[0], three[3]].map { ($0.x, bytes($0.y)[0]) }
        // Products by the public x-coordinates, worked out once (the test's own table, of public values).
        let times = known.map { k in (0...255).map { GF256.multiply(UInt8($0), k.0) } }
        let squared = known.map { k in GF256.multiply(k.0, k.0) }
        let timesSquared = squared.map { sq in (0...255).map { GF256.multiply(UInt8($0), sq) } }
        var counts = [Int](repeating: 0, count: 256)
        for a1 in 0...255 {
            for a2 in 0...255 {
                // s is what the first share forces; the pair fits if the second agrees.
                let s = known[0].1 ^ times[0][a1] ^ timesSquared[0][a2]
                if s ^ times[1][a1] ^ timesSquared[1][a2] == known[1].1 { counts[Int(s)] += 1 }
            }
        }
        XCTAssertEqual(Set(counts), [1], "every secret byte fits exactly one polynomial")
    }

    func testBadSharesAreRefusedByName() throws {
        let secret = SecureBytes(randomCount: 8)
        XCTAssertThrowsError(try Shamir.split(secret, threshold: 1, count: 3))
        XCTAssertThrowsError(try Shamir.split(secret, threshold: 4, count: 3))
        XCTAssertThrowsError(try Shamir.split(secret, threshold: 2, count: 3, xs: [0, 1, 2]))
        XCTAssertThrowsError(try Shamir.split(secret, threshold: 2, count: 3, xs: [1, 1, 2]))
        let shares = try Shamir.split(secret, threshold: 2, count: 3)
        XCTAssertThrowsError(try Shamir.combine([shares[0], shares[0]])) { error in
            XCTAssertTrue((error as? CertVaultError)?.message.contains("given twice") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try Shamir.combine([shares[0]]))
        let short = Shamir.Share(x: 9, y: SecureBytes(count: 7))
        XCTAssertThrowsError(try Shamir.combine([shares[0], short]))
    }

    /// No table indexed by a secret byte, and no branch on one: the field's
    /// code declares no array at all, and its product has no `if`.
    func testTheFieldHasNoTableAndNoBranch() throws {
        let source = try String(
            contentsOf: Support.root.appendingPathComponent("Sources/CertVault/Crypto/Shamir.swift"),
            encoding: .utf8
        )
        let field = try XCTUnwrap(source.components(separatedBy: "enum GF256 {").last)
        XCTAssertNil(
            field.range(of: #"\[\s*(UInt8|Int)\s*\]"#, options: .regularExpression),
            "an array in the field's code"
        )
        XCTAssertNil(
            field.range(of: #"\blet\s+\w+\s*=\s*\["#, options: .regularExpression),
            "a table in the field's code"
        )
        let multiply = try XCTUnwrap(field.components(separatedBy: "static func inverse").first)
        XCTAssertNil(multiply.range(of: #"\bif\b|\?|\bswitch\b|\bwhile\b"#, options: .regularExpression), "a branch")
    }
}
