import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// Signed details have one writer and one reader (DetailsCodec): what the
/// writer writes is Python's canonical JSON byte for byte and reads back as
/// written; every other spelling of the same values is refused.
final class DetailsCodecTests: XCTestCase {
    /// Random details of every action, with every kind of value and text
    /// that needs escaping: each reads back as written, and Python's `json`
    /// (a reader that is not ours) reads the same values and writes them
    /// back, sorted and without spaces, as the very same bytes.
    func testCanonicalTextIsPythonsAndReadsBack() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab\"\\/\n\r\t\u{08}\u{0C}\u{01}\u{1F}\u{7F} é日🔑\u{2028}\u{FEFF}{}[]:,0")
        func text() -> String {
            String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement()! })
        }
        func value(_ key: DetailKey) -> DetailValue {
            switch key.kind {
            case .text: .text(text())
            case .integer: .integer(Int64.random(in: .min ... .max, using: &generator))
            case .bool: .bool(Bool.random(using: &generator))
            case .texts: .texts((0..<Int.random(in: 0...3, using: &generator)).map { _ in text() })
            case .integers:
                .integers((0..<Int.random(in: 0...3, using: &generator)).map { _ in Int64.random(in: -9...9) })
            case .optionalText: Bool.random(using: &generator) ? .null : .text(text())
            case .optionalTexts: Bool.random(using: &generator) ? .null : .texts([text(), text()])
            }
        }
        var lines: [String] = []
        for _ in 0..<400 {
            let action = AuditAction.allCases.randomElement(using: &generator)!
            var details: AuditDetails = [:]
            for key in action.detailKeys.union([.state]) where Bool.random(using: &generator) {
                details[key] = value(key)
            }
            let written = try DetailsCodec.encode(details, for: action)
            let read = try DetailsCodec.decode(written, action: action.rawValue)
            XCTAssertEqual(read.version, DetailsCodec.currentVersion)
            XCTAssertEqual(read.fields, details.fields, written)
            lines.append(written)
        }
        let file = try Support.temporaryDirectory().appendingPathComponent("details.jsonl")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try Data(lines.joined(separator: "\n").utf8).write(to: file)
        let script = """
            import json, sys
            def no_duplicates(pairs):
                keys = [k for k, _ in pairs]
                assert len(keys) == len(set(keys)), keys
                return dict(pairs)
            n = 0
            for line in open(sys.argv[1], encoding="utf-8").read().split("\\n"):
                value = json.loads(line, object_pairs_hook=no_duplicates)
                again = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                assert again == line, (line, again)
                n += 1
            print(n)
            """
        let python = try Support.run("python3", ["-c", script, file.path])
        XCTAssertEqual(python.status, 0, python.err)
        XCTAssertEqual(python.out.trimmingCharacters(in: .whitespacesAndNewlines), "\(lines.count)")
    }

    /// What no certvault wrote is refused, with what it breaks: in the
    /// current format every spelling but the canonical one; in both formats
    /// what the one reader never takes.
    func testEverySpellingButTheCanonicalOneIsRefused() throws {
        let state = String(repeating: "ab", count: 32)
        func current(_ fields: String) -> String { "{\(fields),\"state\":\"\(state)\",\"v\":2}" }
        XCTAssertNoThrow(try DetailsCodec.decode(current(#""file":"a""#), action: "vault.backup"))
        let refused: [(String, String)] = [
            (current(#""file":"a","file":"b""#), "the key 'file' twice"),
            (#"{"file":"a","state":"\#(state)","v":2.0}"#, "a fraction or an exponent"),
            (#"{"file":"a","state":"\#(state)","v":2e0}"#, "a fraction or an exponent"),
            (#"{"file":"a","state":"\#(state)","v":02}"#, "a leading zero"),
            ("\u{FEFF}" + current(#""file":"a""#), "a byte-order mark"),
            (current(#""file":"\u0061""#), "not in canonical form"),
            (current(#""file":"a\/b""#), "not in canonical form"),
            (current(#""file":"\u00e9""#), "not in canonical form"),
            (current(#""file":"\u001F""#), "not in canonical form"),
            (current("\"file\":\"a\u{01}\""), "a raw control character"),
            (current(#""file":"\ud800""#), "a lone surrogate"),
            (current(#""file":"\x""#), "an escape JSON does not have"),
            (#"{"state":"\#(state)","file":"a","v":2}"#, "not in canonical form"),
            (#"{ "file":"a","state":"\#(state)","v":2}"#, "not in canonical form"),
            (current(#""file":"a""#) + " ", "not in canonical form"),
            (current(#""extra":"a","file":"a""#), "a key certvault does not write ('extra')"),
            (current(#""file":1"#), "file is not of its type"),
            (current(#""file":"a","recipient":"bob""#), "a vault.backup record does not hold recipient"),
            (#"{"file":"a","v":1}"#, "a version that is not a format number"),
            (#"{"file":"a","v":"2"}"#, "a version that is not a format number"),
            (#"{"file":{"x":1},"v":2}"#, "file is not of its type"),
            (#"["file"]"#, "not a JSON object"),
            (#"{"file":"a"} {}"#, "text after the value"),
            (#"{"n":99999999999999999999}"#, "an integer past 64 bits"),
            (#"{"n":-0}"#, "-0"),
            (String(repeating: "[", count: 100), "nested more than 64 deep"),
        ]
        for (text, why) in refused {
            XCTAssertThrowsError(try DetailsCodec.decode(text, action: "vault.backup"), text) { error in
                XCTAssertEqual((error as? CertVaultError)?.code, .tampered, text)
                XCTAssertTrue("\(error)".contains(why), "\(text): \(error)")
            }
        }
        // A later format is not guessed at.
        XCTAssertThrowsError(try DetailsCodec.decode(#"{"v":3}"#, action: "vault.backup")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
        }
    }

    /// Format 1 (no version) is read exactly as earlier certvaults wrote it:
    /// key order and keys this one does not know are not held against it,
    /// but the reader is the same, so its lexical rules hold.
    func testFormat1IsReadAsWritten() throws {
        let read = try DetailsCodec.decode(#"{"zeta":"?","file":"x.db","alias":"a"}"#, action: "vault.backup")
        XCTAssertEqual(read.version, 1)
        XCTAssertEqual(read.fields, [.file: .text("x.db"), .alias: .text("a")])
        XCTAssertEqual(read.unknownKeys, ["zeta"])
        for text in [#"{"file":"a","file":"b"}"#, "\u{FEFF}{}", #"{"n":1.0}"#, #"{"file":1}"#] {
            XCTAssertThrowsError(try DetailsCodec.decode(text, action: "vault.backup"), text)
        }
    }
}

/// Hand-crafted records, validly signed by a real admin (an insider with
/// a key, or a tool of their own), whose details no certvault writes:
/// `verify` names each, and believes nothing they say.
final class SignedDetailsAttackTests: VaultTestCase {
    /// Appends a `vault.backup` record by alice with `details` as given
    /// (`STATE` and `ENTRIES` replaced by the tables' digests), bypassing
    /// the writer.
    func appendRaw(_ vault: Vault, _ session: Session, _ template: String) throws -> Int64 {
        try vault.store.write { db in
            let snapshot = try RowDigest.snapshot(db)
            let details = template.replacingOccurrences(of: "STATE", with: snapshot.state.hexLower)
                .replacingOccurrences(of: "ENTRIES", with: snapshot.entriesState.hexLower)
            let head = try XCTUnwrap(try AuditChain.head(db))
            let at = Timestamp.now()
            let hash = AuditChain.hash(
                previous: head.hash,
                seq: head.seq + 1,
                at: at,
                actorID: session.person.id.rawValue,
                action: AuditAction.vaultBackup.rawValue,
                entryID: nil,
                personID: nil,
                details: details
            )
            try AuditRow(
                seq: head.seq + 1,
                at: at,
                actorID: session.person.id.rawValue,
                action: .vaultBackup,
                entryID: nil,
                personID: nil,
                details: details,
                previousHash: head.hash,
                hash: hash,
                signature: Signature.sign(hash, secretKey: session.signSecretKey)
            ).insert(db)
            return head.seq + 1
        }
    }

    func testHandCraftedSignedDetailsAreRefusedByVerify() throws {
        // The canonical spelling, signed the same way, verifies: the cases below fail for their details alone.
        let good = #"{"entries_state":"ENTRIES","file":"a.db","state":"STATE","v":2}"#
        try vault.close()
        let control = dir.appendingPathComponent("control.db").path
        try FileManager.default.copyItem(atPath: path, toPath: control)
        do {
            let copy = try Vault.open(at: control, witness: nil)
            _ = try appendRaw(copy, try copy.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase)), good)
            let verification = try copy.verify()
            XCTAssertTrue(verification.isValid, "\(verification.findings)")
        }
        let cases: [(String, String, String)] = [
            (
                "a duplicate key", #"{"entries_state":"ENTRIES","file":"a.db","file":"b.db","state":"STATE","v":2}"#,
                "the key 'file' twice"
            ),
            ("2.0 for 2", #"{"entries_state":"ENTRIES","file":"a.db","state":"STATE","v":2.0}"#, "a fraction"),
            ("a BOM", "\u{FEFF}" + good, "a byte-order mark"),
            (
                "an escaped letter", #"{"entries_state":"ENTRIES","file":"\u0061.db","state":"STATE","v":2}"#,
                "not in canonical form"
            ),
            (
                "an escaped slash", #"{"entries_state":"ENTRIES","file":"a\/b","state":"STATE","v":2}"#,
                "not in canonical form"
            ),
            (
                "a raw control character",
                "{\"entries_state\":\"ENTRIES\",\"file\":\"a\u{01}\",\"state\":\"STATE\",\"v\":2}",
                "a raw control character"
            ),
            ("a space", #"{"entries_state":"ENTRIES", "file":"a.db","state":"STATE","v":2}"#, "not in canonical form"),
            (
                "keys out of order", #"{"file":"a.db","entries_state":"ENTRIES","state":"STATE","v":2}"#,
                "not in canonical form"
            ),
            (
                "a key no certvault writes",
                #"{"entries_state":"ENTRIES","evil":"x","file":"a.db","state":"STATE","v":2}"#,
                "a key certvault does not write"
            ),
            (
                "a key of another action",
                #"{"entries_state":"ENTRIES","file":"a.db","recipient":"bob","state":"STATE","v":2}"#,
                "does not hold recipient"
            ),
            (
                "a value of another type", #"{"entries_state":"ENTRIES","file":7,"state":"STATE","v":2}"#,
                "file is not of its type"
            ),
            (
                "format 1 after format 2", #"{"entries_state":"ENTRIES","file":"a.db","state":"STATE"}"#,
                "in format 1, after a record in format 2"
            ),
        ]
        for (n, (name, template, why)) in cases.enumerated() {
            let copyPath = dir.appendingPathComponent("case-\(n).db").path
            try FileManager.default.copyItem(atPath: path, toPath: copyPath)
            let copy = try Vault.open(at: copyPath, witness: nil)
            let seq = try appendRaw(
                copy,
                try copy.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase)),
                template
            )
            let verification = try copy.verify()
            XCTAssertFalse(verification.isValid, name)
            XCTAssertTrue(
                verification.findings.contains { $0.seq == seq && $0.message.contains(why) },
                "\(name): \(verification.findings)"
            )
            // Nothing it says is believed: the log shows it as a problem, its fields empty.
            let record = try XCTUnwrap(try copy.auditLog().records.first { $0.seq == seq })
            XCTAssertNotNil(record.problem, name)
        }
    }
}

/// What a second pair of eyes did to the one-reader rule with sqlite3 and
/// an officer's own key: rows no command may act on.
final class UnreadableRecordAttackTests: VaultTestCase {
    /// Appends a row whose details are `text`, as stored bytes (a NUL or
    /// bad UTF-8 included), hashed over those bytes as a forger's tool
    /// would, unsigned unless `signer` is given.
    func appendRow(
        _ action: AuditAction,
        actor: Int64,
        person: Int64? = nil,
        bytes: Data,
        signer: SecureBytes? = nil
    ) throws -> Int64 {
        try vault.store.write { db in
            let head = try XCTUnwrap(try AuditChain.head(db))
            let at = Timestamp.now()
            let text = String(decoding: bytes, as: UTF8.self)
            let hash = AuditChain.hash(
                previous: head.hash,
                seq: head.seq + 1,
                at: at,
                actorID: actor,
                action: action.rawValue,
                entryID: nil,
                personID: person,
                details: text
            )
            try db.execute(
                sql: "INSERT INTO audit VALUES (?, ?, ?, ?, NULL, ?, CAST(? AS TEXT), ?, ?, ?)",
                arguments: [
                    head.seq + 1, at, actor, action.rawValue, person, bytes, head.hash, hash,
                    signer.map { Signature.sign(hash, secretKey: $0) },
                ]
            )
            return head.seq + 1
        }
    }

    /// Unsigned policy records cut at a NUL, then a genuine signed record
    /// over the same state: no machine believes the policy, and every
    /// command refuses the vault; verify names the rows.
    func testUnsignedRowsBeforeASignedOneAreNotBelieved() throws {
        let alice = try unlock()
        let forged = try appendRow(
            .policySet,
            actor: alice.person.id.rawValue,
            bytes: Data(#"{"key":"expiry-windows","v":2,"value":"1"}"#.utf8) + Data([0]) + Data("x".utf8)
        )
        // An insider's own tool signs a record after it, over the state as it stands.
        let last = try XCTUnwrap(try vault.auditRecords().last { $0.signature != nil })
        let state = try XCTUnwrap(last.fields.string(.state))
        let entries = try XCTUnwrap(last.fields.string(.entriesState))
        _ = try appendRow(
            .vaultBackup,
            actor: alice.person.id.rawValue,
            bytes: Data(#"{"entries_state":"\#(entries)","file":"b.db","state":"\#(state)","v":2}"#.utf8),
            signer: alice.signSecretKey
        )
        for witness in [self.witness, nil] as [RollbackWitness?] {
            let fresh = try Vault.open(at: path, witness: witness)
            // Refused outright, or read without the forged value: never believed.
            if let policy = try? fresh.policy() {
                XCTAssertEqual(policy.settings.expiryWindows, PolicySettings().expiryWindows)
            }
            XCTAssertFalse((try? fresh.inventory().isIntact) ?? false, "witness \(witness == nil ? "none" : "kept")")
            let verification = try fresh.verify()
            XCTAssertTrue(verification.findings.contains { $0.seq == forged }, "\(verification.findings)")
        }
        XCTAssertThrowsError(try alice.setPolicy(.managementLimit, to: "7")) { error in
            XCTAssertTrue([.tampered, .corruptVault].contains((error as? CertVaultError)?.code), "\(error)")
        }
    }

    /// An unsigned failed unlock whose details are in format 1 after format
    /// 2, or name another person than the record does, or hold bad UTF-8.
    func testUnsignedFailedUnlocksSayNoMoreThanTheTruth() throws {
        let alice = try unlock()
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob pass phrase"),
            kdf: .interactive
        )
        try vault.close()
        let cases: [(String, Data, String)] = [
            ("format 1 after format 2", Data(#"{"handle":"alice"}"#.utf8), "in format 1, after a record in format 2"),
            ("another person's handle", Data(#"{"handle":"bob","v":2}"#.utf8), "says more than a failed unlock"),
            ("bad UTF-8", Data(#"{"handle":"al"#.utf8) + Data([0xFF]) + Data(#"ice","v":2}"#.utf8), "not valid UTF-8"),
            (
                "a newer details format", Data(#"{"handle":"alice","v":3}"#.utf8),
                "no certvault of this vault's format writes"
            ),
        ]
        let pristine = dir.appendingPathComponent("pristine.db").path
        try FileManager.default.copyItem(atPath: path, toPath: pristine)
        for (name, bytes, why) in cases {
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: pristine, toPath: path)
            vault = try Vault.open(at: path, witness: witness)
            let seq = try appendRow(.unlockFailed, actor: 1, person: 1, bytes: bytes)
            let verification = try vault.verify()
            XCTAssertTrue(
                verification.findings.contains { $0.seq == seq && $0.message.contains(why) },
                "\(name): \(verification.findings)"
            )
            // The machine that saw the vault before refuses to act on it.
            XCTAssertFalse(try vault.inventory().isIntact, name)
            try vault.close()
        }
    }

    /// The format number lowered by hand, to let a certvault that writes
    /// format-1 details in, is refused at open.
    func testALoweredFormatNumberIsRefused() throws {
        try vault.close()
        try Support.run("sqlite3", [path, "PRAGMA user_version = 3"])
        XCTAssertThrowsError(try Vault.open(at: path, witness: nil)) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .tampered)
            XCTAssertTrue("\(error)".contains("its format number was lowered by hand"), "\(error)")
        }
    }
}

/// The golden corpus: vaults made by released certvaults
/// (Fixtures/vaults, made by scripts/golden-vault.sh), each of whose
/// records every later build must read exactly as written and verify.
final class GoldenCorpusTests: XCTestCase {
    func copy(_ name: String) throws -> (dir: URL, path: String) {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/vaults/\(name)")
        let dir = try Support.temporaryDirectory()
        let path = dir.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        return (dir, path)
    }

    static let hostile = "we\"ird \\ name\ttab\u{01}\u{7F}\u{2028}\u{FEFF}é😀.pfx"

    func testEveryReleasedVaultVerifiesAndReadsAsWritten() throws {
        let fixtures = try FileManager.default.contentsOfDirectory(
            atPath: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                "Fixtures/vaults"
            )
            .path
        ).filter { $0.hasSuffix(".db") }.sorted()
        XCTAssertEqual(fixtures, ["format2.db", "format3-jsonserialization.db", "format3.db"])
        for name in fixtures {
            let (dir, path) = try copy(name)
            defer { try? FileManager.default.removeItem(at: dir) }
            let vault = try Vault.open(at: path, witness: nil)
            let verification = try vault.verify()
            XCTAssertTrue(verification.isValid, "\(name): \(verification.findings)")
            let records = try vault.auditRecords()
            for record in records {
                let details = try record.readDetails()
                XCTAssertEqual(details.version, 1, "\(name) \(record.seq)")
                XCTAssertEqual(details.unknownKeys, [], "\(name) \(record.seq)")
            }
            if name.hasPrefix("format3") {
                // The hostile text, exactly as the file name and the person's name were.
                XCTAssertEqual(records.first { $0.kind == .entryImport }?.fields.source, Self.hostile, name)
                XCTAssertEqual(records.first { $0.kind == .vaultBackup }?.fields.file, Self.hostile + ".backup", name)
                XCTAssertEqual(
                    records.first { $0.kind == .personAdd }?.fields.string(.name),
                    "Bob \"the\" \\ Officer\n",
                    name
                )
                XCTAssertEqual(records.first { $0.kind == .personDepart }?.fields.reason, "left \"today\" \\ é", name)
            }
            // A change by today's build is in the current format, after the old records, and all verifies.
            let passphrase = name == "format2.db" ? "format two passphrase" : "golden corpus passphrase"
            let session = try vault.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
            _ = try session.setPolicy(.managementLimit, to: "7")
            let last = try XCTUnwrap(try vault.auditRecords().last)
            XCTAssertEqual(try last.readDetails().version, DetailsCodec.currentVersion)
            XCTAssertTrue(last.details.contains(",\"v\":2,"), last.details)
            let after = try Vault.open(at: path, witness: nil).verify()
            XCTAssertTrue(after.isValid, "\(name): \(after.findings)")
        }
    }
}
