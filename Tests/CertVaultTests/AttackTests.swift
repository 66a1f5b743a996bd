import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// The attacker of design rules 4–7: write access to the vault file (with
/// the append-only triggers dropped and put back), no passphrase. Each
/// attack is applied with SQL to a real vault, and the test asserts what a
/// user sees: no seal to a key that is not trusted, no action by an
/// unsigned role, exports refuse, `list` flags the entry, `audit verify`
/// names the cause.
final class AttackTests: VaultTestCase {
    let bobPassphrase = "bob's long passphrase"

    /// alice (admin), bob (officer); web1 and web2 with keys; web1 exported for bob.
    func prepare() throws -> Session {
        let alice = try unlock()
        try importFresh(["web1", "web2"], as: alice)
        _ = try alice.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: bobPassphrase),
            kdf: .interactive
        )
        _ = try export(alice, "web1")
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertTrue(try vault.inventory().isIntact)
        return alice
    }

    struct Attack {
        var name: String
        var sql: String
        /// Words the finding that names the cause must contain.
        var finding: String
        /// The entry the attack is about, whose export must refuse.
        var entry: String? = "web1"
    }

    static let boxKey = Data(repeating: 0x42, count: 32).hexLower

    let attacks: [Attack] = [
        Attack(
            name: "person row added by hand, with the attacker's box key",
            sql:
                "INSERT INTO people (handle, role, box_public_key, created_at) VALUES ('mallory', 'admin', x'\(boxKey)', 'now')",
            finding: "'mallory' (row 3) was added by hand",
            entry: nil
        ),
        Attack(
            name: "an existing person's box key replaced",
            sql: "UPDATE people SET box_public_key = x'\(boxKey)' WHERE handle = 'bob'",
            finding: "person bob: encryption key differs",
            entry: nil
        ),
        Attack(
            name: "an officer promoted by hand",
            sql: "UPDATE people SET role = 'admin' WHERE handle = 'bob'",
            finding: "person bob: role differs",
            entry: nil
        ),
        Attack(
            name: "a person marked departed by hand",
            sql: "UPDATE people SET status = 'departed' WHERE handle = 'bob'",
            finding: "person bob: status differs",
            entry: nil
        ),
        Attack(
            name: "handles swapped",
            sql:
                "UPDATE people SET handle = 'tmp' WHERE handle = 'alice'; UPDATE people SET handle = 'alice' WHERE handle = 'bob'; UPDATE people SET handle = 'bob' WHERE handle = 'tmp'",
            finding: "person alice: handle differs",
            entry: nil
        ),
        Attack(
            name: "a person's other columns changed",
            sql: "UPDATE people SET created_by = 2, departed_reason = 'fired' WHERE handle = 'alice'",
            finding: "person alice: the row differs from the signed records",
            entry: nil
        ),
        Attack(
            name: "a person deleted",
            sql: "DELETE FROM keyslots WHERE person_id = 2; DELETE FROM people WHERE handle = 'bob'",
            finding: "person bob was deleted",
            entry: nil
        ),
        Attack(
            name: "a keyslot replaced by another's",
            sql:
                "UPDATE keyslots SET ciphertext = (SELECT ciphertext FROM keyslots WHERE person_id = 2), nonce = (SELECT nonce FROM keyslots WHERE person_id = 2) WHERE person_id = 1",
            finding: "keyslot of alice was damaged or replaced",
            entry: nil
        ),
        Attack(
            name: "alias and thumbprint swapped between two entries",
            sql: """
                CREATE TEMP TABLE s AS SELECT id, alias, sha1 FROM entries;
                UPDATE entries SET alias = 'x' || id, sha1 = 'x' || id;
                UPDATE entries SET alias = (SELECT alias FROM s WHERE s.id = 3 - entries.id),
                                   sha1 = (SELECT sha1 FROM s WHERE s.id = 3 - entries.id)
                """,
            finding: "'web1' differs from its signed record"
        ),
        Attack(
            name: "expiry moved",
            sql: "UPDATE entries SET not_after = '2099-01-01T00:00:00Z' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "status changed",
            sql: "UPDATE entries SET status = 'revoked' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "subject changed",
            sql: "UPDATE entries SET subject = 'CN=other' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "domains changed",
            sql: "UPDATE entries SET domains = '[\"evil.example\"]' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "purpose changed",
            sql: "UPDATE entries SET purpose = 'management' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "subscription changed",
            sql: "UPDATE entries SET subscription = 'other-sub' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "rotation mark cleared",
            sql: "UPDATE entries SET needs_rotation = 1, rotation_reason = 'x' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "issuer link changed",
            sql: "UPDATE entries SET issuer_entry_id = 2 WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "only the key nonce changed",
            sql:
                "UPDATE entries SET key_nonce = (SELECT key_nonce FROM entries WHERE alias = 'web2') WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "certificate replaced by another's",
            sql:
                "UPDATE entries SET cert_der = (SELECT cert_der FROM entries WHERE alias = 'web2') WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "a request added to an entry",
            sql: "UPDATE entries SET csr_der = x'3000' WHERE alias = 'web1'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "an entry deleted",
            sql:
                "DELETE FROM grants WHERE entry_id = 2; DELETE FROM custody WHERE entry_id = 2; DELETE FROM entries WHERE alias = 'web2'",
            finding: "'web2' was deleted",
            entry: nil
        ),
        Attack(name: "a grant deleted", sql: "DELETE FROM grants WHERE entry_id = 1", finding: "'web1' differs"),
        Attack(
            name: "a grant moved to another person",
            sql: "UPDATE grants SET person_id = 2 WHERE entry_id = 1",
            finding: "'web1' differs"
        ),
        Attack(
            name: "seals swapped between entries",
            sql: "UPDATE grants SET entry_id = entry_id + 100; UPDATE grants SET entry_id = 103 - entry_id",
            finding: "'web1' differs"
        ),
        Attack(
            name: "a custody row deleted",
            sql: "DELETE FROM custody WHERE entry_id = 1 AND kind = 'export'",
            finding: "'web1' differs"
        ),
        Attack(
            name: "a custody row forged",
            sql: "INSERT INTO custody VALUES (1, 2, 'export', 'now', 1)",
            finding: "'web1' differs"
        ),
        Attack(
            name: "the vault id changed",
            sql: "UPDATE vault SET vault_id = randomblob(16)",
            finding: "the genesis names another vault",
            entry: nil
        ),
    ]

    func testEveryAttackIsNoticedAndGainsNothing() throws {
        let pristine = dir.appendingPathComponent("pristine.db").path
        _ = try prepare()
        try vault.store.queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try FileManager.default.copyItem(atPath: path, toPath: pristine)
        for attack in attacks {
            try restore(pristine)
            try tamper(attack.sql)
            let context = attack.name
            guard let vault = try? Vault.open(at: path, witness: witness) else {
                // Refused outright (the vault id): nothing can be done with it, which is the point.
                XCTAssertEqual(attack.name, "the vault id changed")
                continue
            }
            self.vault = vault
            // audit verify names the cause.
            let verification = try vault.verify()
            XCTAssertFalse(verification.isValid, context)
            XCTAssertTrue(
                verification.findings.contains { $0.description.contains(attack.finding) },
                "\(context): \(verification.findings)"
            )
            // list flags; never shows a differing row with its altered values.
            let inventory = try vault.inventory()
            XCTAssertFalse(inventory.isIntact, context)
            if let target = attack.entry {
                XCTAssertFalse(
                    inventory.entries.contains { $0.alias == target },
                    "\(context): \(inventory.entries.map(\.alias))"
                )
                XCTAssertFalse(inventory.tampered.isEmpty, context)
            }
            assertCode(.tampered) { _ = try vault.entries() }
            // Nothing acts on it: no export, public or private, and no new write.
            if let target = attack.entry {
                assertCode(.tampered) {
                    _ = try vault.exportPublic(
                        .any(target),
                        format: .cer,
                        to: self.dir.appendingPathComponent("x.cer").path
                    )
                }
                XCTAssertFalse(
                    FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.cer").path),
                    context
                )
            }
            // Unlocking either works (and then nothing acts) or is refused as tampered: never passed over.
            do {
                let alice = try vault.unlock(handle: "alice", passphrase: SecureBytes(utf8: passphrase))
                XCTAssertEqual(alice.person.role, .admin, context)
                if let target = attack.entry { assertCode(.tampered) { _ = try self.export(alice, target) } }
                let before = try grantsTo(notIn: [1, 2])
                assertCode(.tampered) { try self.importFresh(["later"], as: alice) }
                XCTAssertEqual(try grantsTo(notIn: [1, 2]), before, context)
            } catch {
                XCTAssertEqual((error as? CertVaultError)?.code, .tampered, "\(context): alice: \(error)")
            }
            // bob stays an officer whatever the people table says.
            do {
                let bob = try vault.unlock(handle: "bob", passphrase: SecureBytes(utf8: bobPassphrase))
                XCTAssertEqual(bob.person.role, .officer, context)
                assertCode(.noAccess) { _ = try bob.addPerson(.init(handle: "eve", role: .admin), passphrase: nil) }
            } catch {
                XCTAssertEqual((error as? CertVaultError)?.code, .tampered, "\(context): bob: \(error)")
            }
        }
    }

    /// An admin row added by hand with the attacker's own box key receives
    /// no seal: not on import, not on export, not as a new admin's grant.
    func testUntrustedAdminRowReceivesNothing() throws {
        let alice = try prepare()
        let box = SealedBox.keyPair()
        try tamper(
            "INSERT INTO people (handle, role, box_public_key, created_at) VALUES ('mallory', 'admin', ?, 'now')",
            [box.publicKey]
        )
        assertCode(.tampered) { try self.importFresh(["after"], as: alice) }
        assertCode(.tampered) {
            _ = try alice.exportPFX(
                "web1",
                to: self.dir.appendingPathComponent("m.pfx").path,
                password: SecureBytes(utf8: "pw"),
                recipient: "mallory"
            )
        }
        XCTAssertEqual(try grantsTo(notIn: [1, 2]), 0)
        // Acting as that row is impossible too: the ledger does not know it.
        assertCode(.tampered) { _ = try self.vault.person("mallory") }
        XCTAssertFalse(try vault.people().contains { $0.handle == "mallory" })
    }

    /// The log names people and entries as the signed records do.
    func testAuditLogNamesAsSignedEvenWhenTheTablesLie() throws {
        _ = try prepare()
        try tamper(
            "UPDATE people SET handle = 'zed' WHERE handle = 'alice'; UPDATE entries SET alias = 'renamed' WHERE alias = 'web1'"
        )
        let records = try vault.auditRecords()
        XCTAssertTrue(records.allSatisfy { $0.actorHandle == "alice" }, "\(records.map(\.actorHandle))")
        XCTAssertTrue(records.contains { $0.entryAlias == "web1" })
        XCTAssertFalse(records.contains { $0.entryAlias == "renamed" || $0.actorHandle == "zed" })
    }

    /// A later write never signs over what was altered by hand.
    func testNoWriteLaundersATamperedRow() throws {
        let alice = try prepare()
        try tamper("UPDATE entries SET not_after = '2099-01-01T00:00:00Z' WHERE alias = 'web2'")
        let head = try vault.auditHead()
        assertCode(.tampered) { try self.importFresh(["new"], as: alice) }
        assertCode(.tampered) { _ = try alice.addPerson(.init(handle: "carol", role: .staff), passphrase: nil) }
        assertCode(.tampered) { _ = try alice.backup(to: self.dir.appendingPathComponent("b.db").path) }
        XCTAssertEqual(try vault.auditHead(), head)
        XCTAssertFalse(try vault.verify().isValid)
    }

    /// The log truncated to an earlier record: the witness notices; accepting
    /// the rollback is an explicit, recorded act.
    func testTruncatedLogIsARollbackUntilAccepted() throws {
        let alice = try prepare()
        let pristine = try copyOfVault("before")
        _ = try export(alice, "web2")
        try restore(pristine)
        vault = try Vault.open(at: path, witness: witness)
        let session = try unlock()
        XCTAssertThrowsError(try export(session, "web2")) { error in
            XCTAssertEqual((error as? CertVaultError)?.code, .rollback)
            XCTAssertTrue((error as? CertVaultError)?.message.contains("seen on") == true, "\(error)")
        }
        XCTAssertTrue(try vault.verify().findings.contains { $0.message.contains("rolled back") })
        let accepted = try session.acceptRollback()
        XCTAssertGreaterThan(accepted.seen.seq, accepted.head.seq)
        XCTAssertTrue(try vault.verify().isValid)
        XCTAssertEqual(try vault.auditRecords().last?.action, "vault.rollback-accepted")
        _ = try export(session, "web2")
        // Without a witness (a fresh machine) the same copy would have passed: documented, not hidden.
        XCTAssertNil(try Vault.open(at: pristine, witness: nil).verify().findings.first)
    }

    /// Records appended after the last signed one must be unlock.failed.
    func testUnsignedRecordAfterTheHeadIsNamed() throws {
        _ = try prepare()
        let head = try XCTUnwrap(vault.auditHead())
        let h = AuditChain.hash(
            previous: head.hash,
            seq: head.seq + 1,
            at: "2026-01-01T00:00:00Z",
            actorID: 1,
            action: "entry.export",
            entryID: 1,
            personID: 2,
            details: "{}"
        )
        try tamper(
            "INSERT INTO audit VALUES (?, '2026-01-01T00:00:00Z', 1, 'entry.export', 1, 2, '{}', ?, ?, NULL)",
            [head.seq + 1, head.hash, h]
        )
        XCTAssertTrue(
            try vault.verify().findings.contains { $0.seq == head.seq + 1 && $0.message.contains("not signed") }
        )
        XCTAssertFalse(try vault.inventory().isIntact)
    }

    // MARK: Insiders who hold a passphrase

    /// An auditor signs what only an officer or admin may: an entry record
    /// over a row they changed. Their signature is valid; their role is not.
    func testAnAuditorsEntryRecordIsNotBelieved() throws {
        let alice = try prepare()
        let aud = try addAuditor(by: alice)
        let web1 = try rawEntry("web1")
        try vault.store.write { db in
            let state = try vault.state(db)
            try db.execute(sql: "UPDATE entries SET subscription = 'stolen' WHERE id = ?", arguments: [web1.id])
            let change = try Change(db, state: state, actor: aud.person.id.rawValue, signer: aud.signSecretKey)
            change.record(.entryImport, entry: web1.id, details: [.alias: .text("web1")])
            _ = try change.commit()
        }
        let v = try vault.verify()
        XCTAssertTrue(
            v.findings.contains { $0.message.contains("whose role (auditor) may not make a entry.import record") },
            "\(v.findings)"
        )
        XCTAssertFalse(try vault.inventory().isIntact)
        assertCode(.tampered) { _ = try self.export(alice, "web1") }
    }

    /// An auditor may record a backup; a backup record that carries changed
    /// entries along with it is not believed.
    func testABackupRecordCannotCarryAChangedEntry() throws {
        let alice = try prepare()
        let aud = try addAuditor(by: alice)
        let web1 = try rawEntry("web1")
        try backUpCarryingAChange(to: web1.id, signedBy: aud)
        let v = try vault.verify()
        XCTAssertTrue(
            v.findings.contains { $0.message.contains("changes entries its records do not name") },
            "\(v.findings)"
        )
        XCTAssertTrue(v.findings.contains { $0.entryID?.rawValue == web1.id }, "\(v.findings)")
        // On a fresh machine (no witness) and on this one alike.
        XCTAssertFalse(try vault.inventory().isIntact)
        XCTAssertFalse(try Vault.open(at: path, witness: nil).inventory().isIntact)
        assertCode(.tampered) { _ = try self.export(alice, "web1") }
    }

    /// `audit verify` compares the entries with the records its own walk
    /// read, trusting their signatures; when one of those signatures then
    /// fails, the entries are compared again, each record's signature
    /// checked, and both the signature and the entry are named.
    func testAnEntryIsStillNamedWhenAnEarlierSignatureFails() throws {
        let alice = try prepare()
        let aud = try addAuditor(by: alice)
        let web1 = try rawEntry("web1")
        try backUpCarryingAChange(to: web1.id, signedBy: aud)
        let exportSeq = try XCTUnwrap(
            try vault.store.read { db in
                try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit WHERE action = 'entry.export'")
            }
        )
        try tamper("UPDATE audit SET signature = zeroblob(64) WHERE seq = ?", [exportSeq])
        let v = try vault.verify()
        XCTAssertTrue(
            v.findings.contains { $0.seq == exportSeq && $0.message == "the signature by alice is invalid" },
            "\(v.findings)"
        )
        XCTAssertTrue(v.findings.contains { $0.entryID?.rawValue == web1.id }, "\(v.findings)")
        XCTAssertTrue(
            v.findings.contains { $0.message.contains("changes entries its records do not name") },
            "\(v.findings)"
        )
    }

    /// An auditor's backup record over a state in which `entry` was changed:
    /// what a forger's own tool would do, signing the new state in full.
    func backUpCarryingAChange(to entry: Int64, signedBy aud: Session) throws {
        try vault.store.write { db in
            try db.execute(
                sql: "UPDATE entries SET not_after = '2099-01-01T00:00:00Z' WHERE id = ?",
                arguments: [entry]
            )
            let snapshot = try RowDigest.snapshot(db)
            try AuditChain.append(
                db,
                actor: aud.person.id.rawValue,
                action: .vaultBackup,
                details: [
                    .file: .text("x.db"), .state: .text(snapshot.state.hexLower),
                    .entriesState: .text(snapshot.entriesState.hexLower),
                ],
                signer: aud.signSecretKey
            )
        }
    }

    /// Appends a record signed by `session` over the tables as they are
    /// now, as a forger's own tool would (bypassing certvault's checks).
    func forge(
        _ session: Session,
        _ action: AuditAction,
        entry: Int64? = nil,
        person: Int64? = nil,
        entriesState: Data? = nil,
        sql: String,
        _ arguments: StatementArguments = []
    ) throws {
        try vault.store.write { db in
            try db.execute(sql: sql, arguments: arguments)
            let snapshot = try RowDigest.snapshot(db)
            var details: AuditDetails = [
                .state: .text(snapshot.state.hexLower),
                .entriesState: .text((entriesState ?? snapshot.entriesState).hexLower),
            ]
            if let entry {
                let parts = try RowDigest.entryParts(db, id: entry)
                details[.entryDigest] = parts.map { .text($0.digest().hexLower) } ?? .null
                details[.entryParts] = parts.map { .texts($0.hex) } ?? .null
            }
            // A forger's own tool: canonical text, but no check that the action may hold these fields.
            details[.version] = .integer(Int64(DetailsCodec.currentVersion))
            try AuditChain.append(
                db,
                actor: session.person.id.rawValue,
                action: action,
                entry: entry,
                person: person,
                text: DetailsCodec.text(of: details.fields),
                signer: session.signSecretKey
            )
        }
    }

    /// The third round of attacks: records that name one thing and change another.
    func testRecordsMayChangeOnlyWhatTheyName() throws {
        let alice = try prepare()
        let aud = try addAuditor(by: alice)
        let bob = try unlock("bob", bobPassphrase)
        let pristine = try copyOfVault("pristine3")
        let web1 = try rawEntry("web1")
        let web2 = try rawEntry("web2")
        let cases: [(String, () throws -> Void, String)] = [
            (
                "an auditor's backup record that names an entry",
                {
                    try self.forge(
                        aud,
                        .vaultBackup,
                        entry: web1.id,
                        sql: "UPDATE entries SET alias = 'hijacked' WHERE id = ?",
                        [web1.id]
                    )
                }, "names an entry its action does not concern"
            ),
            (
                "an officer's record that names one entry and changes another",
                {
                    try self.forge(
                        bob,
                        .entryExport,
                        entry: web1.id,
                        sql: "DELETE FROM grants WHERE entry_id = ?",
                        [web2.id]
                    )
                },
                "changes entries its records do not name"
            ),
            (
                "a backup record that claims the entries did not change",
                {
                    let before = try self.vault.store.read { try RowDigest.snapshot($0).entriesState }
                    try self.forge(
                        aud,
                        .vaultBackup,
                        entriesState: before,
                        sql: "UPDATE entries SET status = 'revoked' WHERE id = ?",
                        [web1.id]
                    )
                }, "changes entries its records do not name"
            ),
        ]
        for (name, attack, finding) in cases {
            try reset(to: pristine)
            try attack()
            for (v, machine) in try bothMachines() {
                XCTAssertFalse(try v.inventory().isIntact, "\(name), \(machine)")
                let findings = try v.verify().findings
                let named = findings.contains {
                    $0.message.contains(finding) || $0.message.contains("is not as its signed record says")
                        || $0.message.contains("its entries state is not the entries the tables hold")
                }
                XCTAssertTrue(named, "\(name): \(findings)")
            }
            assertCode(.tampered) { _ = try self.export(try self.unlock(), "web2") }
        }
    }

    /// The fifth round: an officer's in-role record may change only what
    /// its action changes — an export only custody, not the entry's grants
    /// or its key; a key is added only where there was none.
    func testAnOfficersRecordMayChangeOnlyWhatItsActionChanges() throws {
        _ = try prepare()
        let bob = try unlock("bob", bobPassphrase)
        let pristine = try copyOfVault("pristine5")
        let web1 = try rawEntry("web1")
        let cases: [(String, AuditAction, String, String)] = [
            (
                "an export that seals the key to someone else", .entryExport,
                "UPDATE grants SET person_id = 2 WHERE entry_id = ?", "its grants changed under entry.export"
            ),
            (
                "an export that swaps the key", .entryExport,
                "UPDATE entries SET key_nonce = randomblob(24) WHERE id = ?", "its row changed under entry.export"
            ),
            (
                "a key added where there was one", .entryKeyAdd,
                "UPDATE entries SET key_nonce = randomblob(24) WHERE id = ?", "is given a key though it had one"
            ),
        ]
        for (name, action, sql, finding) in cases {
            try reset(to: pristine)
            try forge(bob, action, entry: web1.id, sql: sql, [web1.id])
            for (v, machine) in try bothMachines() {
                XCTAssertFalse(try v.inventory().isIntact, "\(name), \(machine)")
            }
            let findings = try vault.verify().findings
            XCTAssertTrue(findings.contains { $0.message.contains(finding) }, "\(name): \(findings)")
            assertCode(.tampered) { _ = try self.export(try self.unlock(), "web1") }
        }
    }

    /// An insider's in-role record that commits what its action may not
    /// change, once the walk gives way to the shortcut: past 256 changes on
    /// a machine that never saw the vault, and past 64 since the head this
    /// machine verified. An auditor's `entry.denied` that un-revokes an
    /// entry, and one that removes a grant, are refused on every path.
    func testPerActionRulesHoldPastTheWalk() throws {
        let alice = try prepare()
        let aud = try addAuditor(by: alice)
        let web1 = try rawEntry("web1")
        let web2 = try rawEntry("web2")
        _ = try alice.revoke(.id(.init(web1.id)), reason: .keyCompromise)
        XCTAssertTrue(try vault.verify().isValid)  // this machine's witness: the head now
        // Made on another machine, so that this one's witness stays 300 changes behind.
        let elsewhere = try Vault.open(at: path, witness: nil).unlock(
            handle: "alice",
            passphrase: SecureBytes(utf8: passphrase)
        )
        for i in 0..<300 {
            try elsewhere.change { c in c.record(.vaultBackup, details: [.file: .text("filler-\(i).db")]) }
        }
        let changes = try vault.store.read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM audit WHERE json_extract(details, '$.state') IS NOT NULL")
        }
        XCTAssertGreaterThan(changes ?? 0, 300)
        let pristine = try copyOfVault("pristine-past-the-walk")
        let cases: [(String, Int64, String, String)] = [
            (
                "an auditor's denied record that un-revokes the entry", web1.id,
                "UPDATE entries SET status = 'active', revocation_reason = NULL, revoked_at = NULL WHERE id = ?",
                "its row changed under entry.denied"
            ),
            (
                "an auditor's denied record that removes a grant", web2.id,
                "DELETE FROM grants WHERE entry_id = ? AND person_id = 1", "its grants changed under entry.denied"
            ),
        ]
        for (name, entry, sql, finding) in cases {
            try reset(to: pristine)
            try forge(aud, .entryDenied, entry: entry, sql: sql, [entry])
            for (v, machine) in try bothMachines() {
                let state = try v.checkState()
                XCTAssertTrue(
                    state.findings.contains { $0.message.contains(finding) },
                    "\(name), \(machine): \(state.findings)"
                )
                XCTAssertFalse(try v.inventory().isIntact, "\(name), \(machine)")
            }
            XCTAssertTrue(try vault.verify().findings.contains { $0.message.contains(finding) }, name)
            assertCode(.tampered) { _ = try self.export(try self.unlock(), "web2") }
        }
    }

    /// People records of the custody workflows: an officer's signed role
    /// change (making himself admin) and a record signed by someone after
    /// their departure are not believed, and nothing acts on them.
    func testOfficersRoleChangeAndDepartedSignersAreNotBelieved() throws {
        let alice = try prepare()
        let bob = try unlock("bob", bobPassphrase)
        let pristine = try copyOfVault("pristine-roles")
        let bobID = bob.person.id
        try forge(
            bob,
            .personRole,
            person: bobID.rawValue,
            sql: "UPDATE people SET role = 'admin' WHERE id = ?",
            [bobID.rawValue]
        )
        XCTAssertTrue(
            try vault.verify().findings.contains { $0.message.contains("changed a role without being an admin") }
        )
        XCTAssertFalse(try vault.checkState().isIntact)
        assertCode(.tampered) { _ = try alice.addPerson(.init(handle: "x", role: .staff), passphrase: nil) }

        try reset(to: pristine)
        let admin = try unlock()
        _ = try admin.depart("bob", reason: "left")
        XCTAssertTrue(try vault.verify().isValid)
        // bob kept his secret keys in memory: what he signs now is not believed.
        try forge(bob, .vaultBackup, sql: "SELECT 1")
        XCTAssertTrue(
            try vault.verify().findings.contains {
                $0.message.contains("signed by someone whose keys no trusted record")
            }
        )
        assertCode(.tampered) { _ = try self.export(admin, "web1") }
    }

    /// The fourth round: an auditor's in-role records used to carry what
    /// the role may not — a people record naming an entry whose key it
    /// swaps, an entry added by hand behind a backup that claims nothing
    /// changed, and grant or custody rows for an entry not yet made.
    func testInRoleRecordsCannotSmuggleEntries() throws {
        let alice = try prepare()
        let aud = try addAuditor(by: alice)
        let pristine = try copyOfVault("pristine4")
        let web1 = try rawEntry("web1")
        let cases: [(String, () throws -> Void)] = [
            (
                "a person.keyslot record that names an entry",
                {
                    try self.forge(
                        aud,
                        .personKeyslot,
                        entry: web1.id,
                        person: aud.person.id.rawValue,
                        sql: "UPDATE entries SET subscription = 'x' WHERE id = ?",
                        [web1.id]
                    )
                }
            ),
            (
                "an entry added by hand behind a backup claiming no change",
                {
                    let before = try self.vault.store.read { try RowDigest.snapshot($0).entriesState }
                    try self.forge(
                        aud,
                        .vaultBackup,
                        entriesState: before,
                        sql: """
                            INSERT INTO entries (alias, purpose, spki_sha256, created_at, created_by)
                            VALUES ('prod-login', 'ssl', zeroblob(32), 'now', 1)
                            """
                    )
                }
            ),
            (
                "grant and custody rows for an entry that does not exist yet",
                {
                    try self.tamper("INSERT INTO custody VALUES (99, 2, 'export', 'now', 1)")
                    try self.forge(aud, .vaultBackup, sql: "SELECT 1")
                }
            ),
        ]
        for (name, attack) in cases {
            try reset(to: pristine)
            try attack()
            for (v, machine) in try bothMachines() {
                XCTAssertFalse(try v.inventory().isIntact, "\(name), \(machine)")
                XCTAssertFalse(try v.verify().isValid, "\(name), \(machine)")
            }
            assertCode(.tampered) { _ = try self.export(try self.unlock(), "web1") }
        }
    }

    /// A keyslot row for a person who does not exist counts in the state.
    func testStrayKeyslotRowIsNoticed() throws {
        _ = try prepare()
        try tamper(
            "INSERT INTO keyslots SELECT 99, kdf, kdf_opslimit, kdf_memlimit, salt, nonce, ciphertext, created_at FROM keyslots WHERE person_id = 1"
        )
        XCTAssertFalse(try vault.verify().isValid)
        XCTAssertFalse(try vault.inventory().isIntact)
    }

    /// `audit verify` recomputes every certificate's SHA-1 thumbprint and
    /// SHA-256 fingerprint: a column that differs from its certificate, by
    /// one digit, in case or in type, is named with its entry.
    func testAThumbprintThatIsNotTheCertificatesIsNamed() throws {
        _ = try prepare()
        let web1 = try rawEntry("web1")
        let pristine = try copyOfVault("pristine-thumbprints")
        let message = "its thumbprint or fingerprint is not that of its certificate"
        for sql in [
            "UPDATE entries SET sha1 = substr(sha1, 1, 39) || (CASE substr(sha1, 40) WHEN '0' THEN '1' ELSE '0' END) WHERE id = ?",
            "UPDATE entries SET sha256 = lower(sha256) WHERE id = ?",
            "UPDATE entries SET sha256 = CAST(sha256 AS BLOB) WHERE id = ?",
            "UPDATE entries SET sha1 = NULL WHERE id = ?",
        ] {
            try reset(to: pristine)
            XCTAssertFalse(try vault.verify().findings.contains { $0.message.contains(message) }, sql)
            try tamper(sql, [web1.id])
            let findings = try vault.verify().findings
            XCTAssertTrue(
                findings.contains { $0.entryID?.rawValue == web1.id && $0.message.contains(message) },
                "\(sql): \(findings)"
            )
            XCTAssertFalse(
                findings.contains { $0.entryID?.rawValue != web1.id && $0.message.contains(message) },
                "\(findings)"
            )
        }
    }

    /// Bytes hidden after a NUL in an audit record's text: GRDB reads text up
    /// to its first NUL, so the record would read, and hash, as it was signed.
    /// Each such record is named, and no command takes the vault as intact.
    func testTextHiddenAfterANulByteIsNamed() throws {
        _ = try prepare()
        let pristine = try copyOfVault("pristine-nul")
        for (column, action) in [("details", "entry.import"), ("action", "person.add"), ("at", "entry.export")] {
            try reset(to: pristine)
            let seq = try XCTUnwrap(
                try vault.store.read { db in
                    try Int64.fetchOne(db, sql: "SELECT min(seq) FROM audit WHERE action = ?", arguments: [action])
                }
            )
            try tamper(
                "UPDATE audit SET \(column) = CAST(CAST(\(column) AS BLOB) || X'00' || CAST('{\"x\":1}' AS BLOB) AS TEXT) WHERE seq = ?",
                [seq]
            )
            let v = try vault.verify()
            XCTAssertFalse(v.isValid, column)
            XCTAssertTrue(
                v.findings.contains {
                    $0.seq == seq && $0.message.contains("text with a NUL byte in column \(column)")
                },
                "\(column): \(v.findings)"
            )
            // The records around it are judged as usual: nothing else is named by number.
            XCTAssertEqual(Set(v.findings.compactMap(\.seq)), [seq], "\(v.findings)")
            XCTAssertFalse((try? vault.inventory().isIntact) ?? false, column)
            XCTAssertFalse((try? vault.auditLog().isValid) ?? false, column)
        }
    }

    /// An unsigned record may only say that an unlock failed.
    func testForgedUnlockFailedRecordIsNamed() throws {
        _ = try prepare()
        let head = try XCTUnwrap(vault.auditHead())
        let details = "{\"handle\":\"alice\",\"note\":\"alice exported web1 to mallory\"}"
        let h = AuditChain.hash(
            previous: head.hash,
            seq: head.seq + 1,
            at: "2026-01-01T00:00:00Z",
            actorID: 1,
            action: "unlock.failed",
            entryID: 1,
            personID: 1,
            details: details
        )
        try tamper(
            "INSERT INTO audit VALUES (?, '2026-01-01T00:00:00Z', 1, 'unlock.failed', 1, 1, ?, ?, ?, NULL)",
            [head.seq + 1, details, head.hash, h]
        )
        XCTAssertTrue(
            try vault.verify().findings.contains { $0.seq == head.seq + 1 && $0.message.contains("names an entry") }
        )
        XCTAssertFalse(try vault.auditLog().isValid)
    }

    /// Exports leave no temporary file behind and write a regular file.
    func testExportWritesOneRegularFileAndNothingElse() throws {
        let alice = try prepare()
        let out = dir.appendingPathComponent("exports")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        _ = try alice.exportPFX("web2", to: out.appendingPathComponent("w.pfx").path, password: SecureBytes(utf8: "pw"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), ["w.pfx"])
        let attributes = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("w.pfx").path)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeRegular)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    // MARK: Helpers

    /// Puts `pristine` back and opens it as this machine does.
    func reset(to pristine: String) throws {
        try restore(pristine)
        vault = try Vault.open(at: path, witness: witness)
    }

    /// The vault as this machine sees it, and as one that never saw it.
    func bothMachines() throws -> [(Vault, String)] {
        [
            (try Vault.open(at: path, witness: witness), "this machine"),
            (try Vault.open(at: path, witness: nil), "a fresh machine"),
        ]
    }

    /// A copy of the vault as it is now (the WAL folded in), to restore between attacks.
    func copyOfVault(_ name: String) throws -> String {
        let copy = dir.appendingPathComponent(name + ".db").path
        try vault.store.queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        return copy
    }

    /// Adds `aud`, an auditor, and unlocks as them.
    func addAuditor(by admin: Session) throws -> Session {
        _ = try admin.addPerson(
            .init(handle: "aud", role: .auditor),
            passphrase: SecureBytes(utf8: "auditor pass"),
            kdf: .interactive
        )
        return try unlock("aud", "auditor pass")
    }

    func restore(_ pristine: String) throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        try FileManager.default.copyItem(atPath: pristine, toPath: path)
    }

    /// Grant rows held by anyone but the given person ids.
    func grantsTo(notIn ids: [Int64]) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read {
            try Int.fetchOne(
                $0,
                sql:
                    "SELECT count(*) FROM grants WHERE person_id NOT IN (\(ids.map(String.init).joined(separator: ",")))"
            ) ?? 0
        }
    }
}
