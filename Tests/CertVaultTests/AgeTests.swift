import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// The age format, judged by Debian's `age` tool: what certvault writes,
/// `age -d` opens, for payloads of one chunk, exactly one chunk, and
/// several; HKDF by RFC 5869's vectors; recipients read strictly.
final class AgeTests: XCTestCase {
    func bytes(_ hex: String) -> Data {
        var out = Data()
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func hkdf(_ ikm: Data, _ salt: Data, _ info: Data, _ count: Int) -> String {
        let out = ikm.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: salt, info: info, count: count) }
        return out.withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
    }

    func testHKDFMatchesRFC5869() {
        // A.1: basic.
        XCTAssertEqual(
            hkdf(
                Data(repeating: 0x0b, count: 22),
                bytes("000102030405060708090a0b0c"),
                bytes("f0f1f2f3f4f5f6f7f8f9"),
                42
            ),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        )
        // A.2: longer inputs and outputs (several blocks).
        XCTAssertEqual(
            hkdf(
                Data((0x00...0x4f).map { UInt8($0) }),
                Data((0x60...0xaf).map { UInt8($0) }),
                Data((0xb0...0xff).map { UInt8($0) }),
                82
            ),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"
        )
        // A.3: no salt, no info.
        XCTAssertEqual(
            hkdf(Data(repeating: 0x0b, count: 22), Data(), Data(), 42),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        )
    }

    func keygen(_ dir: URL, _ name: String) throws -> (identity: String, recipient: String) {
        try Support.ageKeygen(dir.appendingPathComponent("\(name).key").path)
    }

    func testAgeDecryptsWhatCertvaultWritesOfEverySize() throws {
        let dir = try Support.temporaryDirectory()
        let alice = try keygen(dir, "alice")
        let bob = try keygen(dir, "bob")
        let recipients = [try AgeRecipient(parsing: alice.recipient), try AgeRecipient(parsing: bob.recipient)]
        // Round trip of the recipient's text.
        XCTAssertEqual(recipients[0].description, alice.recipient)
        for size in [0, 1, 1_000, Age.chunkSize - 1, Age.chunkSize, Age.chunkSize + 1, 3 * Age.chunkSize + 17] {
            var plain = Data(count: size)
            for i in 0..<size { plain[i] = UInt8(truncatingIfNeeded: i &* 31 &+ size) }
            let sealed = try plain.withUnsafeBytes { try Age.encrypt($0, to: recipients) }
            let file = dir.appendingPathComponent("p\(size).age")
            try sealed.write(to: file)
            for identity in [alice.identity, bob.identity] {
                let r = try Support.run("age", ["-d", "-i", identity, file.path])
                XCTAssertEqual(r.status, 0, "size \(size): \(r.err)")
                XCTAssertEqual(r.stdout, plain, "size \(size)")
            }
            // Chunks: one tag per 64 KiB (and one for an empty payload).
            let chunks = max(1, (size + Age.chunkSize - 1) / Age.chunkSize)
            let header = sealed.range(of: Data("\n---".utf8))!
            let mac = sealed[header.upperBound...].firstIndex(of: 0x0A)! + 1
            XCTAssertEqual(sealed.count - mac, 16 + size + 16 * chunks, "size \(size)")
        }
        // Someone else's identity opens nothing.
        let carol = try keygen(dir, "carol")
        let sealed = try Data("secret".utf8).withUnsafeBytes { try Age.encrypt($0, to: [recipients[0]]) }
        try sealed.write(to: dir.appendingPathComponent("x.age"))
        let wrong = try Support.run("age", ["-d", "-i", carol.identity, dir.appendingPathComponent("x.age").path])
        XCTAssertNotEqual(wrong.status, 0)
        // A flipped byte in the payload: age refuses the file.
        var flipped = sealed
        flipped[flipped.count - 3] ^= 1
        try flipped.write(to: dir.appendingPathComponent("y.age"))
        let altered = try Support.run("age", ["-d", "-i", alice.identity, dir.appendingPathComponent("y.age").path])
        XCTAssertNotEqual(altered.status, 0)
    }

    func testRecipientsAreReadStrictly() throws {
        let dir = try Support.temporaryDirectory()
        let good = try keygen(dir, "k").recipient
        XCTAssertNoThrow(try AgeRecipient(parsing: good))
        XCTAssertNoThrow(try AgeRecipient(parsing: good.uppercased()), "bech32 is one case, either one")
        func refused(_ text: String, _ why: String) {
            XCTAssertThrowsError(try AgeRecipient(parsing: text), text) { error in
                let message = (error as? CertVaultError)?.message ?? ""
                XCTAssertTrue(message.contains(why), message)
            }
        }
        // One character changed: the checksum catches it.
        var typo = Array(good)
        typo[10] = typo[10] == "q" ? "p" : "q"
        refused(String(typo), "checksum")
        refused(String(good.dropLast(3)), "checksum")
        refused("age1" + good.dropFirst(4).uppercased(), "checksum")
        refused("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", "SSH keys are not supported")
        refused("AGE-SECRET-KEY-1QQQ", "does not start with age1")
        refused(Bech32.encode(hrp: "age1yubikey", data: [UInt8](repeating: 7, count: 33)), "plugin")
        refused(Bech32.encode(hrp: "age", data: [UInt8](repeating: 7, count: 31)), "31 bytes")
        // Low-order points: no one holds their key, and X25519 with them gives zeros. Refused when read.
        refused(Bech32.encode(hrp: "age", data: [UInt8](repeating: 0, count: 32)), "low-order point")
        var one = [UInt8](repeating: 0, count: 32)
        one[0] = 1
        refused(Bech32.encode(hrp: "age", data: one), "low-order point")
        let zero = try AgeRecipient(publicKey: Data(count: 32))
        XCTAssertThrowsError(try Data("x".utf8).withUnsafeBytes { try Age.encrypt($0, to: [zero]) })
    }
}
