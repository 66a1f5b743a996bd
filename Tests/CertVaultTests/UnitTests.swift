import CertVaultCLISupport
import Foundation
import Synchronization
import TestSupport
import XCTest

@testable import CertVault

final class SchemaTests: XCTestCase {
    /// The binary carries schema/*.sql byte for byte (schema/embed.sh).
    func testEmbeddedMigrationsMatchTheFrozenFiles() throws {
        let dir = Support.root.appendingPathComponent("schema")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        XCTAssertEqual(Schema.migrations.map(\.identifier), files.map { String($0.dropLast(4)) })
        for (migration, file) in zip(Schema.migrations, files) {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            XCTAssertEqual(migration.sql + "\n", text, file)
        }
    }
}

final class CryptoTests: XCTestCase {
    /// The day `list` and `check` print, written in place, is Foundation's ISO 8601 day.
    func testDisplayDayIsFoundationsISO8601Day() {
        var rng = SystemRandomNumberGenerator()
        var dates = (0..<500).map { _ in
            Date(timeIntervalSince1970: .random(in: -30_000_000_000...250_000_000_000, using: &rng))
        }
        dates += [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 253_402_300_799)]  // 9999-12-31T23:59:59Z
        dates.append(Date(timeIntervalSince1970: 253_402_300_800))  // 10000-01-01: Foundation's own path
        for date in dates {
            XCTAssertEqual(
                Display.day(date),
                date.formatted(.iso8601.year().month().day()),
                "\(date.timeIntervalSince1970)"
            )
        }
        XCTAssertEqual(Timestamp.format(Date(timeIntervalSince1970: 1_700_000_000)), "2023-11-14T22:13:20Z")
        XCTAssertEqual(Timestamp.parse("2023-11-14T22:13:20Z"), Date(timeIntervalSince1970: 1_700_000_000))
    }

    func testAEADRefusesAlteredCiphertextAndWrongAssociatedData() {
        let key = SecureBytes(randomCount: AEAD.keyBytes)
        let sealed = AEAD.seal(SecureBytes(utf8: "private key"), key: key, associatedData: Data("here".utf8))
        XCTAssertNotNil(AEAD.open(sealed.ciphertext, nonce: sealed.nonce, key: key, associatedData: Data("here".utf8)))
        XCTAssertNil(AEAD.open(sealed.ciphertext, nonce: sealed.nonce, key: key, associatedData: Data("there".utf8)))
        var flipped = sealed.ciphertext
        flipped[0] ^= 1
        XCTAssertNil(AEAD.open(flipped, nonce: sealed.nonce, key: key, associatedData: Data("here".utf8)))
        XCTAssertNil(
            AEAD.open(
                sealed.ciphertext,
                nonce: sealed.nonce,
                key: SecureBytes(randomCount: 32),
                associatedData: Data("here".utf8)
            )
        )
    }

    /// PBES2's key derivation (pbkdf2.c) gives the bytes of RFC 6070 and
    /// RFC 7914 and of OpenSSL's PKCS5_PBKDF2_HMAC, for short, long, empty
    /// and over-a-block passwords and outputs longer than one digest.
    func testFastPBKDF2MatchesOpenSSLAndTheRFCs() throws {
        let rfc6070 = PKCS12.pbkdf2(
            Data("password".utf8),
            salt: Data("salt".utf8),
            iterations: 2,
            sha256: false,
            count: 20
        )
        XCTAssertEqual(rfc6070?.hexLower, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957")
        XCTAssertEqual(Data(hex: "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"), rfc6070)
        XCTAssertEqual(Data(hex: "00Ff0a"), Data([0, 255, 10]))
        XCTAssertEqual(Data(hex: ""), Data())
        for bad in ["0", "0g", "g0", "abc", "é1", "12 4", "ZZ"] { XCTAssertNil(Data(hex: bad), bad) }
        let rfc7914 = PKCS12.pbkdf2(
            Data("passwd".utf8),
            salt: Data("salt".utf8),
            iterations: 1,
            sha256: true,
            count: 64
        )
        XCTAssertEqual(
            rfc7914?.hexLower,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        )
        let passwords = [
            Data(), Data("p".utf8), Data("bench-file-password".utf8), Data(repeating: 0x61, count: 64),
            Data(repeating: 0xc3, count: 200),
        ]
        for password in passwords {
            for sha256 in [false, true] {
                for (iterations, count) in [(1, 16), (2048, 32), (1000, 52), (3, 100)] {
                    let salt = Data((0..<(count % 17)).map { UInt8($0 * 7 & 0xff) })
                    let fast = PKCS12.pbkdf2(
                        password,
                        salt: salt,
                        iterations: Int32(iterations),
                        sha256: sha256,
                        count: count
                    )
                    let reference = PKCS12.pbkdf2(
                        password,
                        salt: salt,
                        iterations: Int32(iterations),
                        sha256: sha256,
                        count: count,
                        reference: true
                    )
                    XCTAssertNotNil(fast)
                    XCTAssertEqual(
                        fast,
                        reference,
                        "password \(password.count) bytes, sha256 \(sha256), \(iterations) iterations, \(count) bytes"
                    )
                }
            }
        }
        // No iterations is refused, as OpenSSL refuses it.
        XCTAssertNil(PKCS12.pbkdf2(Data("p".utf8), salt: Data(), iterations: 0, sha256: true, count: 32))
    }

    /// Long runs of plain words collapse to one placeholder each and expand
    /// back in order; the first word of a run (maybe an option's value),
    /// dashed words and everything after `--` stay as they are; short
    /// command lines and placeholders that do not all come back are refused.
    func testArgumentRunsCollapseAndExpandInOrder() throws {
        let files = (0..<70).map { "f\($0).pfx" }
        var args = ["import"] + files[0..<3]
        args += ["--alias", "web", "-q"] + files[3..<60]
        args += ["--", "-odd"] + files[60...]
        let runs = try XCTUnwrap(ArgumentRuns(args))
        XCTAssertLessThan(runs.arguments.count, 20)
        XCTAssertEqual(Array(runs.arguments.prefix(2)), ["import", runs.arguments[1]])
        XCTAssertTrue(runs.arguments[1].hasPrefix("\u{0}"))
        XCTAssertEqual(runs.arguments[2...5], ["--alias", "web", "-q", "f3.pfx"])
        XCTAssertEqual(Array(runs.arguments.suffix(12)), ["--", "-odd"] + files[60...])
        // What a parser gives back as the command's files.
        let parsedFiles = runs.arguments.filter { !$0.hasPrefix("-") && $0 != "web" && $0 != "import" }
        XCTAssertEqual(runs.expand(parsedFiles), files.filter { $0 != "-odd" })
        // A placeholder missing, repeated or not this command line's: refused.
        let placeholders = parsedFiles.filter { $0.hasPrefix("\u{0}") }
        XCTAssertEqual(placeholders.count, 2)
        XCTAssertNil(runs.expand(parsedFiles.filter { $0 != placeholders[0] }))
        XCTAssertNil(runs.expand(parsedFiles + [placeholders[1]]))
        XCTAssertNil(runs.expand(parsedFiles + ["\u{0}certvault-run-9"]))
        XCTAssertNil(ArgumentRuns(["import"] + files[0..<10]))
        XCTAssertNil(ArgumentRuns(["import"] + files.flatMap { ["--domain", $0] }))
    }

    /// The PKCS#12 key derivation of the MAC and the 3DES/RC2/RC4 PBEs
    /// (pbkdf2.c) gives OpenSSL's `PKCS12_key_gen_utf8` bytes: every ID,
    /// outputs shorter than, equal to and several times a digest (where
    /// the input blocks are carried over), salts and passwords of every
    /// length around a block, non-ASCII, empty and absent passwords.
    func testPKCS12KDFMatchesOpenSSL() throws {
        let passwords: [Data?] = [
            nil, Data(), Data("p".utf8), Data("password".utf8), Data("pässwörd 🔑".utf8),
            Data(repeating: 0x61, count: 31), Data(repeating: 0x62, count: 32), Data(repeating: 0x63, count: 100),
        ]
        var compared = 0
        for password in passwords {
            for sha256 in [false, true] {
                for (id, iterations, count, saltLength) in [
                    (1, 1, 24, 8), (2, 1, 8, 8), (3, 2048, 20, 16), (1, 3, 5, 0), (1, 7, 64, 64), (2, 2, 100, 65),
                    (3, 1000, 32, 20), (1, 2, 41, 1),
                ] {
                    let salt = Data((0..<saltLength).map { UInt8(($0 * 37 + 11) & 0xff) })
                    let ours = PKCS12.pkcs12KDF(
                        password,
                        salt: salt,
                        id: Int32(id),
                        iterations: Int32(iterations),
                        sha256: sha256,
                        count: count
                    )
                    let reference = PKCS12.pkcs12KDF(
                        password,
                        salt: salt,
                        id: Int32(id),
                        iterations: Int32(iterations),
                        sha256: sha256,
                        count: count,
                        reference: true
                    )
                    // No salt and no password at all: OpenSSL derives nothing, and neither do we.
                    if password == nil && saltLength == 0 {
                        XCTAssertNil(reference)
                    } else {
                        XCTAssertNotNil(reference)
                    }
                    XCTAssertEqual(
                        ours,
                        reference,
                        "password \(password.map { "\($0.count) bytes" } ?? "none"), id \(id), \(iterations) iterations, \(count) bytes, salt \(saltLength), sha256 \(sha256)"
                    )
                    compared += 1
                }
            }
        }
        XCTAssertEqual(compared, 128)
    }

    /// Files protected by each PKCS#12 PBE, written by openssl, are read
    /// through our key derivation with the right password and refused with
    /// a wrong one; and what the legacy profile writes, openssl reads.
    func testPKCS12PBEFilesReadThroughOurKeyDerivation() throws {
        let dir = try Support.temporaryDirectory()
        for (i, (key, cert)) in [
            ("PBE-SHA1-3DES", "PBE-SHA1-RC2-40"), ("PBE-SHA1-2DES", "PBE-SHA1-RC2-128"),
            ("PBE-SHA1-RC4-128", "PBE-SHA1-RC4-40"), ("PBE-SHA1-3DES", "PBE-SHA1-3DES"),
        ].enumerated() {
            let made = try Support.makePFX(
                in: dir,
                name: "pbe-\(i)",
                password: "pässwörd",
                legacy: true,
                extra: "-keypbe \(key) -certpbe \(cert) -iter 1500",
                key: "ec:prime256v1"
            )
            let data = try Data(contentsOf: URL(fileURLWithPath: made.pfx))
            let material = try MaterialReader.read(data, password: SecureBytes(utf8: "pässwörd"))
            XCTAssertEqual(material.keys.count, 1, "\(key) / \(cert)")
            XCTAssertEqual(
                try material.certificates.first?.certificate.derEncoded,
                try Support.certificateDER(pem: made.cert),
                "\(key) / \(cert)"
            )
            XCTAssertThrowsError(try MaterialReader.read(data, password: SecureBytes(utf8: "passwörd"))) { error in
                XCTAssertEqual((error as? CertVaultError)?.code, .wrongPassword, "\(key) / \(cert)")
            }
        }
    }

    /// The PKCS#12 MAC is judged by certvault alone (`cv_pkcs12_verify_mac`,
    /// in its own library context): on every file, its verdict is OpenSSL's
    /// `PKCS12_verify_mac` — for the real-world exports (BER-encoded ones
    /// among them), SHA-1 and SHA-256 MACs (our derivation) and SHA-512
    /// (OpenSSL's derivation in our context), passwords that are empty,
    /// absent, non-ASCII, outside the BMP or not UTF-8 at all, wrong
    /// passwords and altered bytes.
    func testOurPKCS12MACGivesOpenSSLsVerdict() throws {
        let dir = try Support.temporaryDirectory()
        let realWorld = Support.realWorld
        var files: [(name: String, data: Data, password: String)] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: realWorld.path)
        where name.hasSuffix(".p12") || name.hasSuffix(".pfx") {
            files.append((name, try Data(contentsOf: realWorld.appendingPathComponent(name)), "password"))
        }
        let passwords = ["secret", "", "pässwörd", "key 🔑 ключ"]
        for (i, password) in passwords.enumerated() {
            for mac in ["sha1", "sha256", "sha512"] {
                let name = "mac-\(i)-\(mac)"
                let made = try Support.makePFX(
                    in: dir,
                    name: name,
                    password: password,
                    extra: "-macalg \(mac) -maciter -iter 1000",
                    key: "ec:prime256v1"
                )
                files.append((name, try Data(contentsOf: URL(fileURLWithPath: made.pfx)), password))
            }
        }
        let notUTF8 = SecureBytes(copying: Data([0x70, 0xff, 0xfe, 0x41]))
        for file in files {
            let candidates: [(String, PasswordCandidate, Bool)] = [
                ("right", .bytes(SecureBytes(utf8: file.password)), true),
                ("wrong", .bytes(SecureBytes(utf8: file.password + "x")), false),
                ("none", .none, false), ("not UTF-8", .bytes(notUTF8), false),
            ]
            for (label, candidate, right) in candidates {
                let v = try XCTUnwrap(PKCS12.macVerdicts(file.data, password: candidate), file.name)
                // "" as a password and none at all differ, and OpenSSL says which one the file has.
                if label != "none" || !file.password.isEmpty {
                    XCTAssertEqual(v.openssl, right ? 1 : 0, "\(file.name), \(label): OpenSSL")
                }
                XCTAssertEqual(v.ours, v.openssl, "\(file.name), \(label)")
            }
            // A byte of the authenticated content altered: neither verifies. Every
            // file here has a long OCTET STRING (04 82 …) with content past the byte altered.
            let at = try XCTUnwrap(file.data.range(of: Data([0x04, 0x82]))?.upperBound.advanced(by: 40), file.name)
            XCTAssertLessThan(at, file.data.count - 80, file.name)
            var altered = file.data
            altered[at] ^= 0x01
            let v = try XCTUnwrap(
                PKCS12.macVerdicts(altered, password: .bytes(SecureBytes(utf8: file.password))),
                "\(file.name), altered"
            )
            XCTAssertEqual(v.openssl, 0, "\(file.name), altered: OpenSSL")
            XCTAssertEqual(v.ours, 0, "\(file.name), altered")
        }
        // The import still opens every one of them with the right password, and no other.
        for file in files {
            XCTAssertNoThrow(
                try MaterialReader.read(file.data, password: SecureBytes(utf8: file.password)),
                file.name
            )
            if !file.password.isEmpty {
                XCTAssertThrowsError(try MaterialReader.read(file.data, password: SecureBytes(utf8: "nope")))
            }
        }
    }

    /// `cv_pkcs8_to_pkey` keeps a decoder per thread for the last key type:
    /// keys of every type, one after another and on several threads at
    /// once, read back as OpenSSL's own `EVP_PKCS82PKEY` reads them; what
    /// OpenSSL does not read, it does not read either.
    func testKeptKeyDecoderReadsEveryKeyAsOpenSSLDoes() throws {
        let dir = try Support.temporaryDirectory()
        var keys: [Data] = []
        for (i, spec) in [
            "RSA -pkeyopt rsa_keygen_bits:2048", "EC -pkeyopt ec_paramgen_curve:P-256",
            "EC -pkeyopt ec_paramgen_curve:P-384", "ED25519", "X25519", "RSA-PSS -pkeyopt rsa_keygen_bits:2048",
            "EC -pkeyopt ec_paramgen_curve:P-256", "RSA -pkeyopt rsa_keygen_bits:1024",
        ].enumerated() {
            keys.append(
                try Support.sh(
                    "cd '\(dir.path)' && openssl genpkey -algorithm \(spec) -out k\(i).pem 2>/dev/null && openssl pkcs8 -topk8 -nocrypt -in k\(i).pem -outform DER"
                ).stdout
            )
        }
        let expected = try keys.enumerated().map { try XCTUnwrap(PKCS12.decodePKCS8($1, reference: true), "key \($0)") }
        // Types alternate, repeat and come back: the kept decoder is rebuilt or reused each time.
        for round in 0..<3 {
            for (i, key) in keys.enumerated() {
                let ours = try XCTUnwrap(PKCS12.decodePKCS8(key), "key \(i), round \(round)")
                XCTAssertTrue(ours.isEqual(to: expected[i]), "key \(i), round \(round)")
            }
        }
        let mismatches = Mutex(0)
        let all = keys
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for n in 0..<40 {
                let i = (t + n * 3) % all.count
                let ours = PKCS12.decodePKCS8(all[i])
                if ours == nil || !ours!.isEqual(to: expected[i]) { mismatches.withLock { $0 += 1 } }
            }
        }
        XCTAssertEqual(mismatches.withLock { $0 }, 0)
        // A well-formed PKCS#8 around an Ed25519 key one byte short: neither
        // reads it, and the next good key still reads.
        XCTAssertEqual(keys[3].count, 48)
        let broken =
            Data([0x30, 0x2d, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x21, 0x04, 0x1f])
            + keys[3].suffix(32).prefix(31)
        XCTAssertNil(PKCS12.decodePKCS8(broken, reference: true))
        XCTAssertNil(PKCS12.decodePKCS8(broken))
        XCTAssertTrue(try XCTUnwrap(PKCS12.decodePKCS8(keys[1])).isEqual(to: expected[1]))
    }

    /// Small secrets share locked chunks (SecurePool): a secret's block is
    /// zeroed the moment its last reference goes, and reused; a large one
    /// gets a sodium_malloc of its own.
    func testPooledSecretsAreZeroedWhenReleasedAndReused() {
        var address: UInt = 0
        do {
            let secret = SecureBytes(utf8: "a pooled secret")
            secret.withUnsafeBytes { address = UInt(bitPattern: $0.baseAddress) }
            XCTAssertNotNil(SecurePool.sizeClass(secret.count + 1))
        }
        // The chunk stays mapped: the block reads as zeros.
        let block = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: 64)
        XCTAssertTrue(block.allSatisfy { $0 == 0 })
        // The next secret of that size takes the block back, zeroed and then filled.
        let next = SecureBytes(utf8: "another")
        next.withUnsafeBytes { XCTAssertEqual(UInt(bitPattern: $0.baseAddress), address) }
        XCTAssertEqual(next.withUnsafeBytes { Array($0) }, Array("another".utf8))
        // A secret larger than the largest block is not pooled.
        XCTAssertNil(SecurePool.sizeClass(SecurePool.blockSizes.last! + 1))
        let large = SecureBytes(randomCount: 10_000)
        XCTAssertEqual(large.count, 10_000)
    }

    /// Audit signatures are checked in batches on every core: across more
    /// records than a batch holds, a forged signature, an altered record and
    /// a role that may not sign come back in order, at their places, with
    /// the message each deserves; the rest pass.
    func testParallelSignatureCheckKeepsOrderAndMessages() throws {
        let (pk, sk) = Signature.keyPair()
        let count = ParallelSignatureCheck.batchSize * 3 + 17
        let forged = Set([5, 1_500, count - 1])
        let altered = 2_000
        let badRole = 2_500
        let check = ParallelSignatureCheck()
        var previous = AuditChain.zeroHash
        for i in 0..<count {
            let seq = Int64(i + 1)
            let details = "{\"n\":\(i)}"
            let hash = AuditChain.hash(
                previous: previous,
                seq: seq,
                at: "2026-11-30T00:00:00Z",
                actorID: 1,
                action: "entry.import",
                entryID: 1,
                personID: nil,
                details: details
            )
            var signature = Signature.sign(hash, secretKey: sk)
            if forged.contains(i) { signature[0] ^= 1 }
            let record = AuditRecord(
                seq: seq,
                at: "2026-11-30T00:00:00Z",
                actorID: 1,
                action: "entry.import",
                entryID: 1,
                details: i == altered ? "{\"n\":-1}" : details,
                previousHash: previous,
                hash: hash,
                signature: signature
            )
            previous = hash
            check.add(
                .init(
                    record: record,
                    signature: signature,
                    publicKey: pk,
                    signer: "alice",
                    otherwise: i == badRole ? "role" : nil
                ),
                seq: seq,
                position: i / 2
            )
        }
        let found = check.finish()
        XCTAssertEqual(found.map(\.finding.seq), [6, 1_501, 2_001, 2_501, Int64(count)])
        XCTAssertEqual(found.map(\.position), [2, 750, 1_000, 1_250, (count - 1) / 2])
        XCTAssertEqual(found[0].finding.message, "the signature by alice is invalid")
        XCTAssertEqual(found[2].finding.message, "its contents do not match its hash: altered")
        XCTAssertEqual(found[3].finding.message, "role")
        XCTAssertTrue(check.finish().isEmpty)
    }

    func testSealedBoxOpensOnlyForItsRecipient() throws {
        let alice = SealedBox.keyPair()
        let bob = SealedBox.keyPair()
        let sealed = try SealedBox.seal(SecureBytes(utf8: "data key"), to: alice.publicKey)
        XCTAssertTrue(
            SealedBox.open(sealed, publicKey: alice.publicKey, secretKey: alice.secretKey)?.isEqual(
                to: SecureBytes(utf8: "data key")
            ) == true
        )
        XCTAssertNil(SealedBox.open(sealed, publicKey: bob.publicKey, secretKey: bob.secretKey))
        XCTAssertEqual(SealedBox.publicKey(for: alice.secretKey), alice.publicKey)
    }

    func testSignaturesAndKDFParameters() throws {
        let pair = Signature.keyPair()
        let sig = Signature.sign(Data("record".utf8), secretKey: pair.secretKey)
        XCTAssertTrue(Signature.verify(sig, message: Data("record".utf8), publicKey: pair.publicKey))
        XCTAssertFalse(Signature.verify(sig, message: Data("recorD".utf8), publicKey: pair.publicKey))
        // The default stays strong; tests use interactive.
        XCTAssertEqual(KDFStrength.moderate.opsLimit, 3)
        XCTAssertEqual(KDFStrength.moderate.memLimit, 256 << 20)
        let p = KDFParameters(strength: .interactive)
        let a = try KDF.deriveKey(passphrase: SecureBytes(utf8: "pw"), parameters: p)
        let b = try KDF.deriveKey(passphrase: SecureBytes(utf8: "pw"), parameters: p)
        let c = try KDF.deriveKey(passphrase: SecureBytes(utf8: "pW"), parameters: p)
        XCTAssertTrue(a.isEqual(to: b))
        XCTAssertFalse(a.isEqual(to: c))
        XCTAssertFalse(
            a.isEqual(
                to: try KDF.deriveKey(
                    passphrase: SecureBytes(utf8: "pw"),
                    parameters: KDFParameters(strength: .interactive)
                )
            )
        )
    }

    func testGeneratedPasswordsAreStrongAndDistinct() {
        let alphabet = Set("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789".utf8)
        let a = GeneratedPassword.make()
        let b = GeneratedPassword.make()
        XCTAssertEqual(a.count, 24)
        XCTAssertFalse(a.isEqual(to: b))
        a.withUnsafeBytes { XCTAssertTrue($0.allSatisfy(alphabet.contains)) }
        // Not stuck on one character (a bug once made every character 'A').
        a.withUnsafeBytes { XCTAssertGreaterThan(Set($0).count, 8) }
    }

    func testSecretInputFromFileAndEnvironment() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (content, expected) in [
            ("pass\n", "pass"), ("pass\r\n", "pass"), ("pass", "pass"), ("two\nlines\n", "two"), ("\n", ""),
        ] {
            let path = try Support.write(content, to: dir.appendingPathComponent("p"))
            XCTAssertTrue(try SecretInput.fromFile(path).isEqual(to: SecureBytes(utf8: expected)), content)
        }
        setenv("CERTVAULT_TEST_SECRET", "from env", 1)
        XCTAssertTrue(
            SecretInput.fromEnvironment("CERTVAULT_TEST_SECRET")?.isEqual(to: SecureBytes(utf8: "from env")) == true
        )
        XCTAssertNil(getenv("CERTVAULT_TEST_SECRET"), "the variable is removed once read")
        XCTAssertThrowsError(try SecretInput.fromFile(dir.appendingPathComponent("missing").path))
    }

    func testCoreDumpsCanBeDisabled() throws {
        XCTAssertTrue(SecretInput.disableCoreDumps())
        let limits = try String(contentsOfFile: "/proc/self/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
        XCTAssertTrue(
            core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2).allSatisfy { $0 == "0" },
            String(core)
        )
    }

    func testTimestampsAreISO8601UTC() {
        XCTAssertEqual(Timestamp.format(Date(timeIntervalSince1970: 1_800_000_000)), "2027-01-15T08:00:00Z")
        XCTAssertEqual(Timestamp.parse("2027-01-15T08:00:00Z"), Date(timeIntervalSince1970: 1_800_000_000))
    }
}

final class TimestampTests: XCTestCase {
    /// The fast reader agrees with Foundation's ISO 8601 parser, and hands
    /// anything else to it.
    func testFastParseAgreesWithISO8601() throws {
        for text in ["2026-11-29T15:30:00Z", "1999-12-31T23:59:59Z", "2030-02-28T00:00:01Z", "1970-01-01T00:00:00Z"] {
            XCTAssertEqual(Timestamp.parse(text), try Date(text, strategy: .iso8601), text)
            XCTAssertEqual(Timestamp.format(try XCTUnwrap(Timestamp.parse(text))), text)
        }
        XCTAssertNil(Timestamp.parse("2026-13-01T00:00:00Z"))
        XCTAssertNil(Timestamp.parse("not a time"))
        XCTAssertNotNil(Timestamp.parse("2026-11-29T15:30:00.5Z"))
    }
}

final class ErrorWordingTests: XCTestCase {
    /// Hints that name flags or commands belong to the command line: the
    /// library words a remedy for its own users, the CLI for its.
    func testLibraryHintsNameNoFlagsOrCommands() throws {
        for remedy in CertVaultError.Remedy.allCases {
            XCTAssertFalse(remedy.hint.contains("--"), remedy.rawValue)
            XCTAssertFalse(remedy.hint.contains("certvault"), remedy.rawValue)
        }
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/CertVault").standardized
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        XCTAssertGreaterThan(files.count, 20)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            let lines = text.split(separator: "\n")
            for (i, line) in lines.enumerated() where line.contains("hint:") {
                let hint = line + (i + 1 < lines.count ? lines[i + 1] : "")
                XCTAssertFalse(hint.contains(" --"), "\(file):\(i + 1): \(line)")
                XCTAssertFalse(hint.contains("'certvault "), "\(file):\(i + 1): \(line)")
            }
        }
    }

    /// An I/O error on a file written beside the vault (an export) is the
    /// disk's trouble, never "restore the vault from a backup"; on the
    /// vault itself it is.
    func testAnIOErrorOnAnotherFileDoesNotSayRestore() {
        let export = StorageError.fromErrno(EIO, path: "/x/out.pfx", doing: "cannot write /x/out.pfx")
        XCTAssertEqual(export.code, .io)
        XCTAssertNil(export.remedy)
        XCTAssertEqual(
            export.message,
            "cannot write /x/out.pfx: I/O error on /x/out.pfx: the disk or the file is damaged"
        )
        XCTAssertFalse(export.hint?.contains("backup") ?? true, export.hint ?? "")
        let vault = StorageError.ioError("/x/vault.db")
        XCTAssertEqual(vault.remedy, .restoreBackup)
    }

    func testAFilePasswordRemedyIsWordedForTheLibrary() throws {
        let pfx = Support.realWorld.appendingPathComponent("ValidCertificatePathTest1EE_windows_aes.p12.pfx").path
        XCTAssertThrowsError(try Importer.read(path: pfx, password: nil)) { error in
            let e = error as? CertVaultError
            XCTAssertEqual(e?.code, .wrongPassword)
            XCTAssertEqual(e?.remedy, .filePassword)
            XCTAssertEqual(e?.hint, "give the file's password")
        }
    }
}

final class KeySpecTests: CertVaultTestCase {
    func testKeySpecsParseAsWrittenAndRefuseTheRest() throws {
        XCTAssertEqual(try KeySpec(parsing: "rsa:3072"), .rsa(bits: 3072))
        XCTAssertEqual(try KeySpec(parsing: "EC:P384"), .ec(.p384))
        for spec in [KeySpec.rsa2048, .rsa(bits: 4096), .ec(.p256), .ec(.p521)] {
            XCTAssertEqual(try KeySpec(parsing: spec.description), spec)
        }
        for bad in ["rsa", "rsa:big", "ec:p999", "dsa:1024", ""] {
            assertCode(.invalidArgument) { _ = try KeySpec(parsing: bad) }
        }
        // Parsed is not generated: sizes OpenSSL could make but Azure refuses stop at generation.
        assertCode(.invalidArgument) { _ = try PrivateKey.generate(.rsa(bits: 1024)) }
    }
}

/// The passphrase estimate: what an attacker guesses early is refused, and
/// what people are told to use passes.
final class PassphraseStrengthTests: XCTestCase {
    func judge(_ text: String, _ context: [String] = []) -> PassphraseStrength {
        PassphraseStrength.assess(SecureBytes(utf8: text), context: context)
    }

    func testGuessableSecretsAreRefusedWithTheirReason() {
        let weak: [(String, [String], String)] = [
            ("abc", [], "about 14 bits"),
            ("secret", [], "most common"),
            ("password1", [], "most common"),
            ("Password1!", [], "common password with a few changes"),
            ("P@ssw0rd2024!", [], "common password with a few changes"),
            ("Certvault2026!", [], "common password with a few changes"),
            ("correct horse battery staple", [], "common"),
            ("alicealicealice", [], "repeats one short piece"),
            ("alice alice alice", [], "repeats one short piece"),
            ("certvault-certvault", [], "repeats one short piece"),
            ("bobbobbobbob", [], "repeats one short piece"),
            ("abcabcabcabcabcabcabc", [], "repeats one short piece"),
            ("12345678901234567890", [], "repeats one short piece"),
            ("qwertyuiopasdfghjkl", [], "run along the keyboard"),
            ("zyxwvutsrqponmlkjih", [], "run along the keyboard"),
            ("www.contoso.com", ["www.contoso.com"], "names an attacker tries first"),
            ("Contoso2024!", ["www.contoso.com"], "common password"),
            ("contosocontoso", [], "repeats one short piece"),
            ("alice-2026-alice", ["alice"], "names an attacker tries first"),
        ]
        for (text, context, reason) in weak {
            let s = judge(text, context)
            XCTAssertFalse(s.acceptable, text)
            XCTAssertTrue(s.problem?.contains(reason) == true, "\(text): \(s.problem ?? "accepted")")
        }
        // Not UTF-8: refused, and the bytes are never echoed.
        let bytes = SecureBytes(
            copying: [UInt8]([0xC3, 0x28, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D])
        )
        XCTAssertEqual(PassphraseStrength.assess(bytes).problem, "it is not valid UTF-8 text")
    }

    func testWhatPeopleAreToldToUsePasses() {
        for text in [
            "correct horse battery", "Export-Pa55word", "alice passphrase", "tulip orbit canyon walrus",
            "Zk4#pQ9!mW2v", "bob passphrase", "pw-for-export", "an orange kettle sings", "Fahrvergnügen im Mai 7",
        ] {
            let s = judge(text, ["alice", "bob"])
            XCTAssertTrue(s.acceptable, "\(text): \(s.problem ?? "")")
        }
    }
}
