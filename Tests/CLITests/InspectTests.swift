import Foundation
import TestSupport
import XCTest

/// `certvault inspect` (no vault) and `export --target`: every file
/// exported for a target is judged readable there, and files real programs
/// wrote are judged as their algorithms say.
final class InspectTests: CLITestCase {
    let corpus = Support.corpus
    func fixture(_ name: String) -> String { corpus.appendingPathComponent(name).path }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try Support.write("test\n", to: dir.appendingPathComponent("test.pw"))
        try Support.write("Export-Pa55word\n", to: dir.appendingPathComponent("out.pw"))
    }

    func inspect(_ path: String, _ extra: [String] = []) throws -> (ProcessResult, [String: Any]) {
        let r = try cv(["inspect", path, "--json"] + extra)
        let object = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any] ?? [:]
        return (r, object)
    }

    func verdicts(_ object: [String: Any]) -> [String: [String: Any]] {
        let list = object["verdicts"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: list.map { ($0["target"] as? String ?? "", $0) })
    }

    func reasons(_ v: [String: Any]?) -> String { (v?["reasons"] as? [String] ?? []).joined(separator: " | ") }

    static let targets = [
        "app-service", "app-gateway", "key-vault", "key-vault-pem", "windows-2016", "windows-2019", "macos",
        "java8", "java11", "dotnet", "openssl3",
    ]

    /// The matrix: for each target, export --target writes a file that
    /// inspect says the target reads; openssl reads each with the
    /// algorithms the target needs, and without -legacy.
    func testEveryTargetsExportIsAcceptedByItsTarget() throws {
        try initVault()
        let imported = try cvAsAlice(["import", fixture("ossl-default.p12"), "--password-file", file("test.pw")])
        XCTAssertEqual(imported.status, 0, imported.err)
        XCTAssertEqual(try cv(["inspect", "--help"]).status, 0)
        for target in Self.targets {
            let out = file("out-\(target)")
            let secret = target == "key-vault-pem" ? ["--unencrypted"] : ["--password-file", file("out.pw")]
            let export = try cvAsAlice(["export", "www.contoso.com", "--target", target, "--out", out] + secret)
            XCTAssertEqual(export.status, 0, "\(target): \(export.err)")
            let (r, object) = try inspect(out, ["--password-file", file("out.pw"), "--target", target])
            XCTAssertEqual(r.status, 0, "\(target): \(r.out) \(r.err)")
            let verdict = verdicts(object)[target]
            XCTAssertEqual(verdict?["accepted"] as? Bool, true, "\(target): \(reasons(verdict))")
            XCTAssertEqual(object["opened"] as? Bool ?? (object["notOpened"] == nil), true)
        }
        // openssl, not our reader, says what each file holds.
        let legacy = try Support.sh(
            "openssl pkcs12 -in '\(file("out-app-service"))' -info -noout -passin 'file:\(file("out.pw"))' 2>&1"
        ).out
        XCTAssertTrue(legacy.contains("MAC: sha1"), legacy)
        XCTAssertTrue(legacy.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), legacy)
        XCTAssertFalse(legacy.contains("AES"), legacy)
        let leafFirst = try Support.sh(
            "openssl pkcs12 -in '\(file("out-app-service"))' -nokeys -passin 'file:\(file("out.pw"))' | grep '^subject='"
        ).out
        XCTAssertTrue(leafFirst.hasPrefix("subject=C = US, O = Contoso, CN = www.contoso.com"), leafFirst)
        let modern = try Support.sh(
            "openssl pkcs12 -in '\(file("out-windows-2019"))' -info -noout -passin 'file:\(file("out.pw"))' 2>&1"
        ).out
        XCTAssertTrue(modern.contains("MAC: sha256"), modern)
        XCTAssertTrue(modern.contains("AES-256-CBC"), modern)
        // The Key Vault PEM: an unencrypted PKCS#8 key, then leaf, intermediate, root.
        let pem = try String(contentsOfFile: file("out-key-vault-pem"), encoding: .utf8)
        XCTAssertTrue(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"), String(pem.prefix(40)))
        XCTAssertEqual(pem.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1, 3)
        try Support.sh(
            """
            python3 -c "
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            from cryptography import x509
            data = open('\(file("out-key-vault-pem"))', 'rb').read()
            key = load_pem_private_key(data, password=None)
            certs = x509.load_pem_x509_certificates(data)
            assert certs[0].public_key().public_numbers() == key.public_key().public_numbers()
            "
            """
        )
        // The audit record names the format and that the key left unencrypted.
        let log = try cv(["audit", "log", "--json"]).out
        XCTAssertTrue(log.contains("\"bundle\""), log)
        // A modern file is a "no" for the legacy targets, and says why.
        for target in ["app-service", "windows-2016", "macos", "java8"] {
            let (r, object) = try inspect(
                file("out-windows-2019"),
                ["--password-file", file("out.pw"), "--target", target]
            )
            XCTAssertEqual(r.status, 3, target)
            XCTAssertTrue(reasons(verdicts(object)[target]).contains("cannot decrypt AES-256-CBC"), target)
        }
    }

    func testTheCommandReferenceNamesEveryTarget() throws {
        let readme = try String(
            contentsOf: Support.root.appendingPathComponent("docs/commands.md"),
            encoding: .utf8
        )
        for target in Self.targets { XCTAssertTrue(readme.contains("| `\(target)` "), target) }
        let help = try cv(["export", "--help"]).out
        for target in Self.targets { XCTAssertTrue(help.contains(target), target) }
    }

    func testExportTargetOptionsThatContradictAreRefused() throws {
        try initVault()
        XCTAssertEqual(
            try cvAsAlice(["import", fixture("ossl-default.p12"), "--password-file", file("test.pw")]).status,
            0
        )
        let cases: [([String], String)] = [
            (["--target", "app-service", "--profile", "modern"], "needs the legacy profile"),
            (["--target", "app-service", "--format", "key"], "writes pfx, not key"),
            (["--target", "key-vault-pem"], "add --unencrypted to confirm"),
            ([], "give --format or --target"),
            (["--format", "cer", "--profile", "legacy"], "--profile applies to pfx only"),
            (["--target", "nowhere"], "nowhere"),
        ]
        for (args, message) in cases {
            let r = try cvAsAlice(["export", "www.contoso.com", "--out", file("x")] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: file("x")), "\(args)")
        }
        // An encrypted bundle for other uses; openssl reads it with the password.
        let r = try cvAsAlice([
            "export", "www.contoso.com", "--format", "bundle", "--out", file("b.pem"), "--password-file",
            file("out.pw"),
        ])
        XCTAssertEqual(r.status, 0, r.err)
        try Support.sh("openssl pkey -in '\(file("b.pem"))' -passin 'file:\(file("out.pw"))' -noout")
        let (_, object) = try inspect(file("b.pem"), ["--password-file", file("out.pw")])
        XCTAssertEqual(object["format"] as? String, "PEM")
        XCTAssertEqual(verdicts(object)["key-vault-pem"]?["accepted"] as? Bool, false)
        XCTAssertTrue(reasons(verdicts(object)["key-vault-pem"]).contains("unencrypted"))
        XCTAssertEqual(verdicts(object)["openssl3"]?["accepted"] as? Bool, true)
    }

    func testRealWorldExportsAreDescribedAndJudged() throws {
        // Windows' AES export: every algorithm, iteration count, salt, name and ID.
        let (r, aes) = try inspect(
            realWorld("ValidCertificatePathTest1EE_windows_aes.p12.pfx"),
            ["--password-file", file("corpus.pw")]
        )
        XCTAssertEqual(r.status, 0, r.err)
        let layout = try XCTUnwrap(aes["pkcs12"] as? [String: Any])
        let mac = try XCTUnwrap(layout["mac"] as? [String: Any])
        XCTAssertEqual(mac["digest"] as? String, "SHA256")
        XCTAssertEqual(mac["iterations"] as? Int, 2000)
        XCTAssertEqual(mac["saltLength"] as? Int, 20)
        let safes = try XCTUnwrap(layout["safes"] as? [[String: Any]])
        let bags = safes.flatMap { $0["bags"] as? [[String: Any]] ?? [] }
        let key = try XCTUnwrap(bags.first { $0["kind"] as? String == "shrouded-key" })
        XCTAssertEqual((key["encryption"] as? [String: Any])?["cipher"] as? String, "AES-256-CBC")
        XCTAssertEqual((key["encryption"] as? [String: Any])?["kdf"] as? String, "PBKDF2-HMAC-SHA256")
        XCTAssertEqual(key["friendlyName"] as? String, "Valid Certificate Path Test1 EE")
        XCTAssertEqual(key["localKeyID"] as? String, "01000000")
        let v = verdicts(aes)
        XCTAssertEqual(v["windows-2019"]?["accepted"] as? Bool, true)
        XCTAssertEqual(v["app-service"]?["accepted"] as? Bool, false)
        XCTAssertTrue(
            reasons(v["app-service"]).contains("SHA1 MACs; this file's MAC is SHA256"),
            reasons(v["app-service"])
        )
        XCTAssertTrue(reasons(v["windows-2016"]).contains("cannot decrypt AES-256-CBC"))
        // macOS' export: RC2-40 certificates, which OpenSSL 3 reads only with -legacy.
        let (_, mac2) = try inspect(
            realWorld("ValidCertificatePathTest1EE_macos.p12"),
            ["--password-file", file("corpus.pw")]
        )
        XCTAssertTrue(
            reasons(verdicts(mac2)["openssl3"]).contains("cannot decrypt RC2-40"),
            reasons(verdicts(mac2)["openssl3"])
        )
        XCTAssertEqual(verdicts(mac2)["macos"]?["accepted"] as? Bool, true)
        // Firefox's: 600,000 iterations, over .NET's 300,000 per derivation.
        let (_, ff) = try inspect(
            realWorld("ValidCertificatePathTest1EE_firefox.p12"),
            ["--password-file", file("corpus.pw")]
        )
        XCTAssertTrue(reasons(verdicts(ff)["dotnet"]).contains("at most 300000 iterations per key derivation"))
        XCTAssertEqual(verdicts(ff)["java11"]?["accepted"] as? Bool, true)
        // The chain: the file lacks Good CA, and says so.
        let text = try cv([
            "inspect", realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx"), "--password-file",
            file("corpus.pw"),
        ])
        XCTAssertTrue(text.out.contains("lacks the issuer CN=Good CA"), text.out)
        XCTAssertTrue(text.out.contains("app-service    yes"), text.out)
    }

    func testWithoutItsPasswordTheStructureIsStillShown() throws {
        let r = try cv(["inspect", realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx")])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("MAC: HMAC-SHA1, 2000 iterations, 20-byte salt"), r.out)
        XCTAssertTrue(r.out.contains("safe 2: encrypted, 3DES, PKCS#12 KDF (SHA-1), 2000 iterations"), r.out)
        XCTAssertTrue(r.out.contains("(not opened)"), r.out)
        XCTAssertTrue(r.out.contains("contents not opened: the file needs a password"), r.out)
        let (_, object) = try inspect(realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx"))
        XCTAssertEqual(object["password"] as? String, "not-opened")
        XCTAssertEqual(verdicts(object)["java8"]?["accepted"] as? Bool, true)
        XCTAssertTrue(
            ((verdicts(object)["java8"]?["notes"] as? [String]) ?? []).contains { $0.contains("not opened") }
        )
        // At a terminal, inspect asks for the password once.
        let tty = try onTerminal(
            ["inspect", realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx")],
            prompt: "Password for",
            reply: "password"
        )
        XCTAssertTrue(tty.out.contains("[the key's]"), tty.out)

        // A password given and wrong: the structure is still shown, then an error, exit 1.
        try Support.write("not the password\n", to: dir.appendingPathComponent("wrong.pw"))
        let wrong = try cv([
            "inspect", realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx"), "--password-file",
            file("wrong.pw"),
        ])
        XCTAssertEqual(wrong.status, 1, wrong.err)
        XCTAssertTrue(wrong.out.contains("MAC: HMAC-SHA1, 2000 iterations"), wrong.out)
        XCTAssertTrue(
            wrong.err.hasPrefix("error: ") && wrong.err.contains("wrong password for the file (or the file is damaged)")
                && wrong.err.contains("the verdicts above judge only the algorithms"),
            wrong.err
        )
        // A byte of the MAC's salt changed: the password opens the contents, so the file is named damaged.
        var bytes = try Data(
            contentsOf: URL(fileURLWithPath: realWorld("ValidCertificatePathTest1EE_windows_tdes.p12.pfx"))
        )
        let digest = try XCTUnwrap(bytes.lastIndex(of: 0x14))  // the length of the MAC's 20-byte salt, the last one
        bytes[digest + 5] ^= 0x01
        try bytes.write(to: dir.appendingPathComponent("altered.pfx"))
        try Support.write("password\n", to: dir.appendingPathComponent("right.pw"))
        let altered = try cv(["inspect", file("altered.pfx"), "--password-file", file("right.pw")])
        XCTAssertEqual(altered.status, 1, altered.out + altered.err)
        XCTAssertTrue(altered.err.contains("the file was altered or damaged"), altered.err)
    }

    func testFilesThatBreakATargetsRule() throws {
        // No password at all: App Service refuses it.
        let (_, none) = try inspect(fixture("ossl-nopassword.p12"))
        XCTAssertEqual(none["password"] as? String, "not-needed")
        XCTAssertTrue(reasons(verdicts(none)["app-service"]).contains("opens without a password"))
        XCTAssertEqual(verdicts(none)["key-vault"]?["accepted"] as? Bool, true)
        // One million iterations: over .NET's limits and Java's is not reached.
        let (_, many) = try inspect(fixture("ossl-iter1m.p12"), ["--password-file", file("test.pw")])
        XCTAssertTrue(reasons(verdicts(many)["dotnet"]).contains("1000000"), reasons(verdicts(many)["dotnet"]))
        XCTAssertEqual(verdicts(many)["java11"]?["accepted"] as? Bool, true)
        // A certificate alone: no key for App Service; an unencrypted PEM key and certificate suit Key Vault's PEM import.
        let (_, cer) = try inspect(fixture("leaf.der"))
        XCTAssertEqual(cer["format"] as? String, "DER certificate")
        XCTAssertTrue(reasons(verdicts(cer)["app-service"]).contains("takes a .pfx"))
        let (_, pem) = try inspect(fixture("leaf-with-key.pem"))
        XCTAssertEqual(
            verdicts(pem)["key-vault-pem"]?["accepted"] as? Bool,
            true,
            reasons(verdicts(pem)["key-vault-pem"])
        )
        XCTAssertEqual(pem["pemBlocks"] as? [String], ["CERTIFICATE", "PRIVATE KEY"])
        // An encrypted PKCS#8 key: its algorithm is named.
        let (_, key) = try inspect(fixture("key-pbes2-des3-sha512.pem"), ["--password-file", file("test.pw")])
        XCTAssertEqual((key["keyEncryption"] as? [String: Any])?["kdf"] as? String, "PBKDF2-HMAC-SHA512")
        // Not certificate material: one error line, exit 1.
        for bad in ["garbage.bin", "ossl-truncated.p12", "empty.p12"] {
            let r = try cv(["inspect", fixture(bad)])
            XCTAssertEqual(r.status, 1, bad)
            XCTAssertTrue(r.err.hasPrefix("error: \(bad): "), r.err)
            XCTAssertEqual(r.out, "", bad)
        }
        // A file that asks for too much work is refused before the work.
        let big = try cv(["inspect", fixture("ossl-iter1m.p12"), "--password-file", file("test.pw")])
        XCTAssertEqual(big.status, 0, big.err)
    }

    /// From the attack round: a damaged file is a NO everywhere, a chain
    /// that loops is said to, JSON escapes C1 and bidi controls, and the
    /// limits can be raised as for import.
    func testDamagedLoopingAndHostileFiles() throws {
        try Support.sh(
            """
            cd '\(dir.path)'
            python3 - <<'PY'
            import datetime
            from cryptography import x509
            from cryptography.x509.oid import NameOID
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.hazmat.primitives.serialization import pkcs12
            now = datetime.datetime.now(datetime.timezone.utc)
            ka, kb = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
            na = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LoopA")])
            nb = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LoopB")])
            def cert(subject, issuer, key, signer):
                return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                    .serial_number(x509.random_serial_number()).not_valid_before(now)
                    .not_valid_after(now + datetime.timedelta(days=30))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .sign(signer, hashes.SHA256()))
            a, b = cert(na, nb, ka, kb), cert(nb, na, kb, ka)
            open("loop.pem", "wb").write(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (a, b)))
            evil = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\\u009b31m\\u202eabc")])
            e = cert(evil, evil, ka, ka)
            data = pkcs12.serialize_key_and_certificates("name\\u202e".encode(), ka, e, None,
                serialization.BestAvailableEncryption(b"test"))
            open("evil.p12", "wb").write(data)
            PY
            """
        )
        let loop = try cv(["inspect", file("loop.pem")])
        XCTAssertTrue(loop.out.contains("loops back on itself (no root)"), loop.out)
        let (_, loopJSON) = try inspect(file("loop.pem"))
        XCTAssertEqual((loopJSON["chain"] as? [String: Any])?["loops"] as? Bool, true)
        // JSON: the same value to a JSON reader, but no raw C1 or bidi control for a terminal.
        let evil = try cv(["inspect", file("evil.p12"), "--password-file", file("test.pw"), "--json"])
        XCTAssertEqual(evil.status, 0, evil.err)
        XCTAssertFalse(evil.out.unicodeScalars.contains { $0.value == 0x9B || $0.value == 0x202E }, evil.out)
        XCTAssertTrue(evil.out.contains("\\u009b") && evil.out.contains("\\u202e"), evil.out)
        let object = try JSONSerialization.jsonObject(with: evil.stdout) as? [String: Any]
        let subject =
            ((object?["certificates"] as? [[String: Any]])?.first?["metadata"] as? [String: Any])?["subject"] as? String
        XCTAssertTrue(subject?.unicodeScalars.contains { $0.value == 0x202E } == true, subject ?? "")
        // A damaged structure: every target says NO, and --target exits 3.
        try Support.sh(
            """
            cd '\(dir.path)'
            python3 - <<'PY'
            def L(n):
                if n < 128: return bytes([n])
                b = n.to_bytes((n.bit_length() + 7) // 8, 'big'); return bytes([0x80 | len(b)]) + b
            def T(tag, c): return bytes([tag]) + L(len(c)) + c
            data = T(6, bytes([42, 134, 72, 134, 247, 13, 1, 7, 1]))  # pkcs7-data
            garbage = b'\\x30\\x03\\x02\\x01'  # a SafeContents that ends too soon
            safe = T(0x30, data + T(0xa0, T(4, garbage)))
            pfx = T(0x30, T(2, b'\\x03') + T(0x30, data + T(0xa0, T(4, T(0x30, safe)))))
            open("damaged.p12", "wb").write(pfx)
            PY
            """
        )
        let damaged = try cv([
            "inspect", file("damaged.p12"), "--password-file", file("test.pw"), "--target", "openssl3",
        ])
        XCTAssertTrue([1, 3, 5].contains(damaged.status), damaged.out + damaged.err)
        XCTAssertFalse(damaged.out.contains("openssl3  yes"), damaged.out)
        // Over the limit: the error's hint names options inspect has.
        let many = try cv([
            "inspect", fixture("ossl-iter1m.p12"), "--password-file", file("test.pw"), "--max-iterations", "1000",
        ])
        XCTAssertEqual(many.status, 1)
        XCTAssertTrue(many.err.contains("over the limit of 1000"), many.err)
        let raised = try cv([
            "inspect", fixture("ossl-iter1m.p12"), "--password-file", file("test.pw"), "--max-iterations", "3000000",
        ])
        XCTAssertEqual(raised.status, 0, raised.err)
    }
}
