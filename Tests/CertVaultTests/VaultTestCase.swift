import Foundation
import GRDB
import TestSupport
import XCTest

@testable import CertVault

/// A vault in a temporary directory, with alice as its admin.
class VaultTestCase: CertVaultTestCase {
    var dir: URL!
    var path: String!
    var vault: Vault!
    let passphrase = "alice's long passphrase"

    override func setUpWithError() throws {
        dir = try Support.temporaryDirectory()
        path = dir.appendingPathComponent("vault/vault.db").path
        vault = try Vault.create(
            at: path,
            admin: .init(handle: "alice", name: "Alice", role: .admin),
            passphrase: SecureBytes(utf8: passphrase),
            kdf: .interactive,
            witness: witness
        )
    }

    /// This test's own rollback witness, not the user's.
    var witness: RollbackWitness { RollbackWitness(directory: dir.appendingPathComponent("state").path) }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func unlock(_ handle: String = "alice", _ pass: String? = nil) throws -> Session {
        try vault.unlock(handle: handle, passphrase: SecureBytes(utf8: pass ?? passphrase))
    }

    /// Imports freshly made `.pfx` files and returns their aliases.
    @discardableResult
    func importFresh(_ names: [String], as session: Session? = nil) throws -> [String] {
        let paths = try names.map { try Support.makePFX(in: dir, name: $0, key: "ec:prime256v1").pfx }
        let files = try paths.map { try Importer.read(path: $0, password: SecureBytes(utf8: "secret")) }
        let report = try (session ?? unlock()).importFiles(files)
        return report.items.map(\.alias)
    }

    /// Runs raw SQL against the vault file, as someone with write access
    /// could: the append-only triggers are dropped first and put back,
    /// exactly as they were, afterwards, so the schema looks untouched.
    func tamper(_ sql: String, _ arguments: StatementArguments = [], file: String? = nil) throws {
        try Support.tamper(file ?? path, sql, arguments)
    }

    /// Holds the vault's write lock on a connection of its own, as another
    /// process would, until the returned closure is called (once or more).
    func holdWriteLock() throws -> () -> Void {
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: holding)
        try other.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        return {
            try? other.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
            try? other.close()
        }
    }

    /// An entry's id and alias read straight from the file, for tests that
    /// reach below the signed-state check.
    func rawEntry(_ alias: String) throws -> (id: Int64, alias: String) {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let id = try queue.read {
            try Int64.fetchOne($0, sql: "SELECT id FROM entries WHERE alias = ?", arguments: [alias])
        }
        return (try XCTUnwrap(id), alias)
    }

    /// Flips the lowest bit of byte `offset` of a blob in every row of `table`.
    func flipBit(table: String, column: String, at offset: Int) throws {
        let queue = try DatabaseQueue(path: path)
        let rows = try queue.read { try Row.fetchAll($0, sql: "SELECT rowid AS rid, \(column) FROM \(table)") }
        try queue.close()
        for row in rows {
            var blob: Data = row[column]
            blob[blob.startIndex + offset] ^= 1
            try tamper("UPDATE \(table) SET \(column) = ? WHERE rowid = ?", [blob, row["rid"] as Int64])
        }
    }

    func export(
        _ session: Session,
        _ ref: String,
        profile: ExportProfile = .modern,
        name: String = UUID().uuidString
    ) throws -> String {
        let out = dir.appendingPathComponent(name + ".pfx").path
        _ = try session.exportPFX(.any(ref), to: out, password: SecureBytes(utf8: "export-pw"), profile: profile)
        return out
    }

    /// A digest of the tables that matter, to prove nothing changed.
    func snapshot() throws -> String {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            var out = ""
            for table in ["vault", "people", "keyslots", "entries", "grants", "custody"] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid") { out += row.description }
            }
            return out
        }
    }
}

extension Support {
    /// Runs raw SQL against a vault file with the triggers dropped, then
    /// restores the triggers byte for byte.
    static func tamper(_ path: String, _ sql: String, _ arguments: StatementArguments = []) throws {
        // As the sqlite3 tool does: no foreign keys enforced.
        var config = Configuration()
        config.foreignKeysEnabled = false
        let queue = try DatabaseQueue(path: path, configuration: config)
        try queue.writeWithoutTransaction { db in
            let triggers = try String.fetchAll(
                db,
                sql: "SELECT sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            )
            try db.execute(
                sql:
                    "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; DROP TRIGGER IF EXISTS custody_no_delete"
            )
            try db.execute(sql: sql, arguments: arguments)
            for trigger in triggers { try db.execute(sql: trigger) }
        }
        try queue.close()
    }
}
