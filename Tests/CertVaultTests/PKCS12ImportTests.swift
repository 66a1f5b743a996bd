import Foundation
import TestSupport
import XCTest

@testable import CertVault

/// Reading PKCS#12 files written by other programs, judged against what
/// `openssl` extracts from the same files. Every file goes through
/// ``Importer/read(data:label:password:)``: the reader the product uses.
final class PKCS12ImportTests: CertVaultTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Support.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func parse(_ path: String, _ password: String?) throws -> ImportFile {
        try parse(try Data(contentsOf: URL(fileURLWithPath: path)), password)
    }

    func parse(_ data: Data, _ password: String?) throws -> ImportFile {
        try Importer.read(data: data, label: "test.pfx", password: password.map { SecureBytes(utf8: $0) })
    }

    func bytes(_ s: SecureBytes) -> Data { s.withUnsafeBytes { Data($0) } }

    /// Windows (AES and 3DES), macOS and Firefox exports: each yields the
    /// key and certificate that the PEM files beside them hold.
    func testRealWorldExportsYieldTheSameKeyAndCertificate() throws {
        let expectedCert = try Support.certificateDER(
            pem: Support.realWorld.appendingPathComponent("ValidCertificatePathTest1EE.crt").path
        )
        let expectedKey = try Support.pkcs8DER(
            pem: Support.realWorld.appendingPathComponent("ValidCertificatePathTest1EE.key").path
        )
        let files = [
            "ValidCertificatePathTest1EE_windows_aes.p12.pfx", "ValidCertificatePathTest1EE_windows_tdes.p12.pfx",
            "ValidCertificatePathTest1EE_macos.p12", "ValidCertificatePathTest1EE_firefox.p12",
        ]
        for name in files {
            let contents = try parse(Support.realWorld.appendingPathComponent(name).path, "password")
            XCTAssertEqual(contents.keys.count, 1, name)
            XCTAssertEqual(try contents.certificates.map { try $0.certificate.derEncoded }, [expectedCert], name)
            XCTAssertEqual(bytes(try contents.keys[0].key.pkcs8()), expectedKey, name)
            XCTAssertTrue(contents.keys[0].key.matches(contents.certificates[0].certificate), name)
        }
        // Windows ends its friendly names with a NUL byte: it is trimmed.
        let windows = try parse(Support.realWorld.appendingPathComponent(files[0]).path, "password")
        let name = try XCTUnwrap(windows.certificates[0].friendlyName ?? windows.keys[0].friendlyName)
        XCTAssertFalse(name.contains("\0"))
        XCTAssertFalse(name.isEmpty)
    }

    /// `openssl pkcs12 -export`, default (AES) and -legacy (RC2/3DES), and
    /// openssl's own extraction of the same file.
    func testOpenSSLWrittenFilesMatchOpenSSLExtraction() throws {
        for legacy in [false, true] {
            let made = try Support.makePFX(in: dir, name: legacy ? "legacy" : "modern", legacy: legacy)
            let contents = try parse(made.pfx, "secret")
            let flag = legacy ? "-legacy" : ""
            let cert = try Support.sh(
                "openssl pkcs12 \(flag) -in '\(made.pfx)' -passin pass:secret -nokeys -clcerts | openssl x509 -outform der"
            ).stdout
            let key = try Support.sh(
                "openssl pkcs12 \(flag) -in '\(made.pfx)' -passin pass:secret -nocerts -nodes | openssl pkcs8 -topk8 -nocrypt -outform der"
            ).stdout
            XCTAssertEqual(try contents.certificates.map { try $0.certificate.derEncoded }, [cert])
            XCTAssertEqual(bytes(try contents.keys[0].key.pkcs8()), key)
            XCTAssertEqual(contents.certificates[0].friendlyName, legacy ? "legacy" : "modern")
        }
    }

    /// Found by the fuzzer: a file with a certificate whose details cannot
    /// be read. Inspect leaves that certificate out, and a key's certificate
    /// is still an index into what is listed (it used to run past the end).
    func testInspectLeavesOutAnUnreadableCertificateAndKeepsIndicesRight() throws {
        let url = Support.root.appendingPathComponent(
            "Tests/CertVaultTests/Fixtures/fuzz/inspect-unreadable-certificate.p12"
        )
        let inspection = try FileInspection.inspect(
            data: try Data(contentsOf: url),
            label: "fuzz.p12",
            password: nil
        )
        for key in inspection.keys {
            if let c = key.certificate { XCTAssertLessThan(c, inspection.certificates.count) }
        }
        XCTAssertFalse(inspection.verdicts.isEmpty)
    }

    func testEmptyPasswordAndNoPasswordBothImport() throws {
        // Empty password, with a MAC over it.
        let empty = try Support.makePFX(in: dir, name: "empty", password: "")
        XCTAssertEqual(try parse(empty.pfx, nil).keys.count, 1)
        XCTAssertEqual(try parse(empty.pfx, "").keys.count, 1)
        // No password at all: no encryption, no MAC.
        let none = try Support.makePFX(in: dir, name: "none", password: "", extra: "-keypbe NONE -certpbe NONE -nomac")
        XCTAssertEqual(try parse(none.pfx, nil).keys.count, 1)
        // The NULL password (distinct from "" in PKCS#12's encoding), as some tools write.
        let key = try PrivateKey.generate(.ec(.p256))
        let cert = try CertificateBuilder(subject: "CN=null").build(key: key)
        let data = try PKCS12.create(
            key: key,
            certificate: cert,
            chain: [],
            friendlyName: "null",
            password: .none,
            profile: .legacy
        )
        let contents = try parse(data, nil)
        XCTAssertEqual(contents.keys.count, 1)
        XCTAssertEqual(contents.format, "PKCS#12")
        // openssl agrees the file has a NULL-password MAC.
        let path = dir.appendingPathComponent("null.pfx")
        try data.write(to: path)
        XCTAssertEqual(
            try Support.run("openssl", ["pkcs12", "-in", path.path, "-info", "-noout", "-passin", "pass:"]).status,
            0
        )
    }

    /// A file without a MAC reads (OpenSSL and Windows read it too) with a
    /// warning that nothing shows it unaltered; one with a MAC, without it.
    func testAFileWithoutAMACIsReadWithAWarning() throws {
        let noMAC = try Support.makePFX(in: dir, name: "nomac", extra: "-nomac")
        let read = try parse(noMAC.pfx, "secret")
        XCTAssertEqual(read.keyCount, 1)
        XCTAssertEqual(read.warnings.filter { $0.hasPrefix("the file has no MAC") }.count, 1, "\(read.warnings)")
        let withMAC = try Support.makePFX(in: dir, name: "mac")
        XCTAssertFalse(try parse(withMAC.pfx, "secret").warnings.contains { $0.contains("MAC") })
    }

    func testWrongPasswordIsToldApart() throws {
        let made = try Support.makePFX(in: dir, name: "w")
        assertCode(.wrongPassword) { _ = try parse(made.pfx, "nope") }
        assertCode(.wrongPassword) { _ = try parse(made.pfx, nil) }
        let legacy = try Support.makePFX(in: dir, name: "wl", legacy: true)
        assertCode(.wrongPassword) { _ = try parse(legacy.pfx, "nope") }
    }

    /// A `.pfx` written by OpenSSL 1.0.x with a password past ASCII (1.0.x
    /// took each UTF-8 byte for a character) opens with the password as its
    /// owner types it, as OpenSSL's own `pkcs12` opens it, with a warning.
    func testAnOpenSSL10FileWithANonASCIIPasswordOpens() throws {
        let made = try Support.makePFX(in: dir, name: "old")
        let old = dir.appendingPathComponent("old10.pfx").path
        // "é" is C3 A9 in UTF-8; OpenSSL 1.0.x derived its keys from U+00C3 U+00A9, whose UTF-8 is C3 83 C2 A9.
        try Support.sh(
            """
            openssl pkcs12 -export -legacy -inkey '\(made.key)' -in '\(made.cert)' -out '\(old)' \
              -passout pass:$(printf '\\303\\203\\302\\251')
            openssl pkcs12 -legacy -in '\(old)' -passin pass:é -noout
            """
        )
        let read = try parse(old, "é")
        XCTAssertEqual(read.keyCount, 1)
        XCTAssertTrue(read.warnings.contains { $0.contains("OpenSSL 1.0.x") }, "\(read.warnings)")
        assertCode(.wrongPassword) { _ = try parse(old, "e") }
        // A file written today with the same password opens without the warning.
        let today = dir.appendingPathComponent("today.pfx").path
        try Support.sh(
            "openssl pkcs12 -export -inkey '\(made.key)' -in '\(made.cert)' -out '\(today)' -passout pass:é"
        )
        XCTAssertEqual(try parse(today, "é").warnings.filter { $0.contains("OpenSSL 1.0.x") }, [])
    }

    func testTextEmptyAndGarbageAreToldApart() throws {
        let made = try Support.makePFX(in: dir, name: "n")
        // A PEM certificate is read as what it is, whatever its name.
        XCTAssertEqual(try parse(made.cert, "secret").format, "PEM")
        // A .pfx as base64 text (wrapped at 76, as base64(1) writes it, or on one line, as Key Vault gives
        // it) is read as the bytes it encodes, and said; other text is not.
        for wrap in ["", "-w 0"] {
            let b64 = dir.appendingPathComponent("b64\(wrap.isEmpty ? "" : "-1").txt")
            try Support.sh("base64 \(wrap) '\(made.pfx)' > '\(b64.path)'")
            let read = try parse(b64.path, "secret")
            XCTAssertEqual(read.format, "PKCS#12")
            XCTAssertEqual(read.keyCount, 1)
            XCTAssertTrue(read.warnings.contains { $0.contains("base64 text") }, "\(read.warnings)")
            assertCode(.wrongPassword) { _ = try parse(b64.path, "wrong") }
        }
        let notBase64 = dir.appendingPathComponent("words.txt")
        try Data("just some words, no certificate\n".utf8).write(to: notBase64)
        assertCode(.unknownFormat) { _ = try parse(notBase64.path, "secret") }
        let base64Text = dir.appendingPathComponent("b64-text.txt")
        try Data(Data("hello, this is plain text, base64-encoded".utf8).base64EncodedString().utf8).write(
            to: base64Text
        )
        assertCode(.unknownFormat) { _ = try parse(base64Text.path, "secret") }
        let empty = dir.appendingPathComponent("empty.pfx")
        try Data().write(to: empty)
        assertCode(.emptyFile) { _ = try parse(empty.path, "secret") }
        let garbage = dir.appendingPathComponent("garbage.pfx")
        try Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 200) }).write(to: garbage)
        assertCode(.unknownFormat) { _ = try parse(garbage.path, "secret") }
    }

    func testTruncatedFile() throws {
        let made = try Support.makePFX(in: dir, name: "t")
        let data = try Data(contentsOf: URL(fileURLWithPath: made.pfx))
        for cut in [data.count / 2, data.count - 1, 10] {
            XCTAssertThrowsError(try parse(data.prefix(cut), "secret")) { error in
                XCTAssertEqual((error as? CertVaultError)?.code, .truncated, "cut at \(cut): \(error)")
            }
        }
    }

    /// A flipped byte in the MAC itself: the contents still decrypt with the
    /// right password, so this is an altered file, not a wrong password.
    func testMACFailureIsNotReportedAsWrongPassword() throws {
        let made = try Support.makePFX(in: dir, name: "m")
        // The MAC digest is the second-to-last OCTET STRING in the file (the last is its salt).
        let original = try Data(contentsOf: URL(fileURLWithPath: made.pfx))
        let parsed = try Support.sh(
            "openssl asn1parse -inform der -in '\(made.pfx)' | grep 'OCTET STRING' | tail -2 | head -1"
        ).out
        let offset = Int(parsed.split(separator: ":")[0].trimmingCharacters(in: .whitespaces))!
        var flipped = original
        flipped[offset + 4] ^= 0xFF
        XCTAssertThrowsError(try parse(flipped, "secret")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .macFailure, "\(error)")
        }
    }

    /// A key bag encrypted with a PBE scheme OpenSSL 3 does not implement
    /// (an unassigned PKCS#12 PBE identifier): named as such, not as a wrong password.
    func testUnsupportedAlgorithm() throws {
        let made = try Support.makePFX(in: dir, name: "u", legacy: true, extra: "-nomac -certpbe NONE")
        var data = try Data(contentsOf: URL(fileURLWithPath: made.pfx))
        // pbeWithSHA1And3-KeyTripleDES-CBC 1.2.840.113549.1.12.1.3 → 1.2.840.113549.1.12.1.127, which nobody implements
        let tdes: [UInt8] = [0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01, 0x03]
        guard let range = data.firstRange(of: Data(tdes)) else { return XCTFail("3DES OID not found") }
        data[range.upperBound - 1] = 0x7F  // 1.2.840.113549.1.12.1.127: no such algorithm
        XCTAssertThrowsError(try parse(data, "secret")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .unsupportedAlgorithm, "\(error)")
        }
    }

    /// A file states its own work factors: what is over the limits is
    /// refused before any derivation runs, with the numbers; a raised limit
    /// lets the same file in.
    func testWorkFactorsOverTheLimitsAreRefusedBeforeTheWork() throws {
        let made = try Support.makePFX(in: dir, name: "work")  // 2,048 iterations (OpenSSL's default)
        let data = try Data(contentsOf: URL(fileURLWithPath: made.pfx))
        let pw = SecureBytes(utf8: "secret")
        XCTAssertThrowsError(
            try Importer.read(data: data, label: "w", password: pw, limits: ImportLimits(maxIterations: 1_000))
        ) { error in
            let e = error as? CertVaultError
            XCTAssertEqual(e?.code, .workTooLarge)
            XCTAssertTrue(
                e?.message.contains("2048 key-derivation iterations, over the limit of 1000") == true,
                "\(error)"
            )
        }
        XCTAssertNoThrow(
            try Importer.read(data: data, label: "w", password: pw, limits: ImportLimits(maxIterations: 2_048))
        )
        assertCode(.workTooLarge) {
            _ = try Importer.read(data: data, label: "w", password: pw, limits: ImportLimits(maxBags: 1))
        }
        // Encrypted PKCS#8: PBKDF2 iterations, and scrypt memory.
        try Support.sh(
            """
            cd '\(dir.path)'
            openssl pkcs8 -topk8 -in work.key -out pbkdf2.pem -v2 aes256 -iter 5000 -passout pass:secret
            openssl pkcs8 -topk8 -in work.key -out scrypt.pem -scrypt -scrypt_N 16384 -scrypt_r 8 -scrypt_p 1 -passout pass:secret
            openssl pkcs8 -topk8 -in work.key -outform der -out pbkdf2.der -v2 aes256 -iter 5000 -passout pass:secret
            """
        )
        for name in ["pbkdf2.pem", "pbkdf2.der"] {
            let key = try Data(contentsOf: dir.appendingPathComponent(name))
            assertCode(.workTooLarge) {
                _ = try Importer.read(data: key, label: name, password: pw, limits: ImportLimits(maxIterations: 4_000))
            }
            XCTAssertEqual(try Importer.read(data: key, label: name, password: pw).keyCount, 1)
        }
        let scrypt = try Data(contentsOf: dir.appendingPathComponent("scrypt.pem"))
        assertCode(.workTooLarge) {
            _ = try Importer.read(
                data: scrypt,
                label: "s",
                password: pw,
                limits: ImportLimits(maxScryptMemory: 8 << 20)
            )
        }
        XCTAssertEqual(try Importer.read(data: scrypt, label: "s", password: pw).keyCount, 1)
    }

    /// Work factors no valid file states — no iterations or fewer than
    /// none, scrypt with r or p of zero, N not a power of two, p absurdly
    /// high — are named with their numbers, not taken for a wrong password.
    func testImpossibleWorkFactorsAreNamedWithTheirNumbers() throws {
        let made = try Support.makePFX(in: dir, name: "odd")  // MAC and PBKDF2 at 2,048 iterations
        try Support.sh(
            """
            cd '\(dir.path)'
            openssl pkcs8 -topk8 -in odd.key -outform der -out pbkdf2.der -v2 aes256 -iter 5000 -passout pass:secret
            openssl pkcs8 -topk8 -in odd.key -outform der -out scrypt.der -scrypt -scrypt_N 16384 -scrypt_r 8 -scrypt_p 1 -passout pass:secret
            """
        )
        let pw = SecureBytes(utf8: "secret")
        func patched(_ file: String, _ from: [UInt8], _ to: [UInt8], all: Bool = false) throws -> Data {
            var data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let range = data.firstRange(of: Data(from)) else {
                XCTFail("\(from) not in \(file)")
                return data
            }
            data.replaceSubrange(range, with: to)
            if all, let again = data.firstRange(of: Data(from)) { data.replaceSubrange(again, with: to) }
            return data
        }
        func refused(_ data: Data, _ code: CertVaultError.Code, _ words: String, line: UInt = #line) {
            XCTAssertThrowsError(try Importer.read(data: data, label: "f", password: pw), line: line) { error in
                let e = error as? CertVaultError
                XCTAssertEqual(e?.code, code, "\(error)", line: line)
                XCTAssertTrue(e?.message.contains(words) == true, "\(error)", line: line)
            }
        }
        // 5,000 iterations (02 02 13 88) become -5,000 (02 02 EC 78).
        refused(
            try patched(dir.appendingPathComponent("pbkdf2.der").path, [2, 2, 0x13, 0x88], [2, 2, 0xEC, 0x78]),
            .corrupt,
            "asks for -5000 key-derivation iterations: a valid file asks for at least 1"
        )
        // The MAC's (and the bags') 2,048 iterations (02 02 08 00) become -2,048.
        refused(
            try patched(made.pfx, [2, 2, 0x08, 0x00], [2, 2, 0xF8, 0x00], all: true),
            .corrupt,
            "asks for -2048 key-derivation iterations"
        )
        // scrypt N=16384 (02 02 40 00), r=8 (02 01 08), p=1 (02 01 01).
        let scrypt = dir.appendingPathComponent("scrypt.der").path
        let n: [UInt8] = [2, 2, 0x40, 0x00]
        let rp: [UInt8] = [2, 1, 8, 2, 1, 1]
        refused(
            try patched(scrypt, n + rp, n + [2, 1, 0, 2, 1, 1]),
            .corrupt,
            "N=16384, r=0, p=1: not valid parameters"
        )
        refused(try patched(scrypt, n + rp, n + [2, 1, 8, 2, 1, 0]), .corrupt, "N=16384, r=8, p=0: not valid")
        refused(try patched(scrypt, n + rp, [2, 2, 0x40, 0x01] + rp), .corrupt, "N=16385, r=8, p=1: not valid")
        refused(
            try patched(scrypt, n + rp, n + [2, 1, 8, 2, 1, 0x7F]),
            .workTooLarge,
            "N=16384, r=8, p=127: p over the limit of 16"
        )
        // The unpatched files read.
        XCTAssertEqual(
            try Importer.read(data: try Data(contentsOf: URL(fileURLWithPath: scrypt)), label: "s", password: pw)
                .keyCount,
            1
        )
    }
}
