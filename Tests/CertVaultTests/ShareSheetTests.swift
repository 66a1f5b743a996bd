import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// A share as a sheet a person types back: every typo named at its line,
/// a share of another set or vault named, the whole checked.
final class ShareSheetTests: XCTestCase {
    let vaultID = Data((0..<16).map { UInt8($0 * 7 & 0xFF) })
    let setID = Data([0x4F, 0x1A, 0x2B, 0x3C])

    func sheets() throws -> (SecureBytes, [ShareSheet]) {
        let secret = SecureBytes(randomCount: 32)
        let shares = try Shamir.split(secret, threshold: 3, count: 5)
        return (secret, shares.map { ShareSheet(vaultID: vaultID, setID: setID, threshold: 3, count: 5, share: $0) })
    }

    func testSheetsReadBackAndRecombine() throws {
        let (secret, sheets) = try sheets()
        let text = sheets[1].text
        XCTAssertTrue(
            text.hasPrefix("certvault recovery share 2 of 5, any 3 recover\nvault 00070e151c232a31 set 4f1a2b3c\n1  "),
            text
        )
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 6, text)
        for line in lines {
            XCTAssertLessThanOrEqual(line.count, 50, "a line fits a sheet")
            XCTAssertFalse(line.contains("I") && line.hasPrefix("1 "), "no I in the body")
        }
        // Read back as typed: lower case, O for 0 and l for 1 wherever they stand.
        let typed = text.lowercased().replacingOccurrences(of: "0", with: "o")
            .replacingOccurrences(of: "vault oo", with: "vault 00").replacingOccurrences(
                of: "o7oe151c",
                with: "070e151c"
            )
        let lowered = try ShareSheet.read(typed, vaultID: vaultID)
        XCTAssertEqual(lowered.share.x, 2)
        XCTAssertTrue(lowered.share.y.isEqual(to: sheets[1].share.y))
        // Groups joined by hyphens, as some people write them: read the same.
        let hyphened = text.split(separator: "\n").map { line -> String in
            guard let first = line.first, first.isNumber, line.hasPrefix("\(first)  ") else { return String(line) }
            let words = line.split(separator: " ")
            return "\(words[0]) \(words.dropFirst().dropLast().joined(separator: "-")) \(words.last!)"
        }.joined(separator: "\n")
        XCTAssertTrue(try ShareSheet.read(hyphened).share.y.isEqual(to: sheets[1].share.y), hyphened)
        let again = try [sheets[0], sheets[1], sheets[4]].map {
            try ShareSheet.read($0.text, vaultID: vaultID, setID: setID)
        }
        let back = try Shamir.combine(again.map(\.share))
        XCTAssertTrue(back.isEqual(to: secret))
    }

    /// Every single wrong character of every body line, and every swap of
    /// two neighbours, is named at its line.
    func testEveryTypoIsNamedAtItsLine() throws {
        let (_, sheets) = try sheets()
        var lines = sheets[0].text.split(separator: "\n").map(String.init)
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        for number in 1...(lines.count - 3) {
            let original = lines[number + 1]
            let chars = Array(original)
            // The body's characters: after the number and two spaces, before the two spaces and the check.
            let body = (3..<(chars.count - 3)).filter { chars[$0] != " " }
            for i in body {
                for replacement in alphabet where replacement != chars[i] {
                    var changed = chars
                    changed[i] = replacement
                    lines[number + 1] = String(changed)
                    XCTAssertThrowsError(try ShareSheet.read(lines.joined(separator: "\n"))) { error in
                        let message = (error as? CertVaultError)?.message ?? ""
                        XCTAssertTrue(message.contains("line \(number):"), "\(message) for \(String(changed))")
                    }
                }
                if let j = body.first(where: { $0 > i }), chars[i] != chars[j] {
                    var swapped = chars
                    swapped.swapAt(i, j)
                    XCTAssertNotNil(ShareSheet.problem(inLine: String(swapped), number: number), String(swapped))
                }
            }
            lines[number + 1] = original
        }
        // Two lines swapped: named at the first.
        var swapped = lines
        swapped.swapAt(2, 3)
        XCTAssertThrowsError(try ShareSheet.read(swapped.joined(separator: "\n")))
    }

    func testAShareOfAnotherSetOrVaultOrAChangedHeaderIsRefusedByName() throws {
        let (_, sheets) = try sheets()
        let text = sheets[2].text
        XCTAssertThrowsError(try ShareSheet.read(text, vaultID: vaultID, setID: Data([1, 2, 3, 4]))) { error in
            XCTAssertTrue((error as? CertVaultError)?.message.contains("another recovery set") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try ShareSheet.read(text, vaultID: Data(repeating: 9, count: 16))) { error in
            XCTAssertTrue((error as? CertVaultError)?.message.contains("another vault") ?? false, "\(error)")
        }
        // The share's number changed in the header: the check line no longer holds.
        let renumbered = text.replacingOccurrences(of: "share 3 of 5", with: "share 4 of 5")
        XCTAssertThrowsError(try ShareSheet.read(renumbered)) { error in
            XCTAssertTrue(
                (error as? CertVaultError)?.message.contains("check line does not match") ?? false,
                "\(error)"
            )
        }
        // Body lines from two sheets: each line holds, the whole does not.
        var mixed = text.split(separator: "\n").map(String.init)
        mixed[3] = sheets[4].text.split(separator: "\n").map(String.init)[3]
        XCTAssertThrowsError(try ShareSheet.read(mixed.joined(separator: "\n")))
    }
}
