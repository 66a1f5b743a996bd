import Foundation
import GRDB
import Synchronization

/// The vault's schema, compared object by object with what certvault's own
/// migrations create.
///
/// A trigger, view, table or index added by hand could rewrite what a
/// command writes (a trigger that copies every new grant elsewhere, say), so
/// a vault whose schema holds anything else is refused before anything
/// reads or writes it.
enum SchemaCheck {
    struct Object: Hashable {
        var type: String
        var name: String
        var table: String
        var sql: String?
    }

    /// What the migrations up to `version` create, computed once per
    /// version in an in-memory database.
    static func expected(version: Int) throws -> Set<Object> {
        try cache.withLock { cache in
            if let known = cache[version] { return known }
            let queue = try DatabaseQueue()
            var migrator = DatabaseMigrator()
            for (identifier, sql) in Schema.migrations.prefix(version) {
                migrator.registerMigration(identifier) { db in try db.execute(sql: sql) }
            }
            try migrator.migrate(queue)
            let objects = try queue.read { try objectsIn($0) }
            cache[version] = objects
            return objects
        }
    }

    private static let cache = Mutex<[Int: Set<Object>]>([:])

    static func objectsIn(_ db: Database) throws -> Set<Object> {
        var out = Set<Object>()
        let rows = try Row.fetchCursor(db, sql: "SELECT type, name, tbl_name, sql FROM sqlite_schema")
        while let row = try rows.next() {
            out.insert(
                Object(
                    type: row[0] as DatabaseValue == .null ? "" : (String.fromDatabaseValue(row[0]) ?? "?"),
                    name: String.fromDatabaseValue(row[1]) ?? "?",
                    table: String.fromDatabaseValue(row[2]) ?? "?",
                    sql: String.fromDatabaseValue(row[3])
                )
            )
        }
        return out
    }

    /// The objects in `db` that certvault did not create, and those it
    /// created that are gone or altered, each named: empty when the schema
    /// is exactly certvault's.
    static func problems(_ db: Database, version: Int) throws -> [String] {
        let expected = try expected(version: version)
        let actual = try objectsIn(db)
        var out: [String] = []
        let expectedNames = Dictionary(expected.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let actualNames = Dictionary(actual.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for object in actual.sorted(by: { $0.name < $1.name }) where !expected.contains(object) {
            if expectedNames[object.name] != nil {
                out.append("the \(object.type) \(Display.quoted(object.name)) was altered by hand")
            } else {
                out.append("the \(object.type) \(Display.quoted(object.name)) was added by hand")
            }
        }
        for object in expected.sorted(by: { $0.name < $1.name }) where actualNames[object.name] == nil {
            out.append("the \(object.type) \(Display.quoted(object.name)) is missing")
        }
        return out
    }
}
