import Foundation
import GRDB
internal import GRDBSQLite

/// The columns of one row read from the vault file, each checked.
///
/// The file is untrusted input: a value set by hand to NULL, to another
/// type, to a number out of range or to bytes that are not text becomes a
/// ``CertVaultError`` (`.corruptVault`) naming the row and column, never a
/// trap. Values are taken only in their own storage class: no text is read
/// as a number, no blob as text.
struct Columns {
    let row: Row
    /// What the row is, for messages ("entry 3", "person 2", "record 17"):
    /// worked out only when a message needs it.
    private let describe: () -> String
    /// Column positions, when many rows of one query are read: a name
    /// lookup in a GRDB row is a linear, case-folding search.
    let positions: [String: Int]?
    /// The statement whose current row `row` is, to read values straight
    /// from SQLite (with `positions`); nil for a copied row.
    let statement: OpaquePointer?
    /// The query's columns in order, for a reader that asks for them in
    /// that order: then each lookup is one comparison, not a hash.
    let order: Order?

    /// The column names of a query and where the next read is expected.
    final class Order {
        let names: [String]
        var next = 0
        init(_ names: [String]) { self.names = names }
    }

    var what: String { describe() }

    init(
        _ row: Row,
        _ what: @autoclosure @escaping () -> String,
        positions: [String: Int]? = nil,
        statement: OpaquePointer? = nil,
        order: Order? = nil
    ) {
        self.row = row
        self.describe = what
        self.positions = positions
        self.statement = statement
        self.order = order
    }

    /// The positions of `row`'s columns, to share among the rows of one query.
    static func positions(of row: Row) -> [String: Int] {
        Dictionary(row.columnNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func fail(_ column: String, _ problem: String) -> CertVaultError {
        CertVaultError(
            .corruptVault,
            "the vault's \(what) has \(problem) in column \(column): the file was altered or damaged",
            remedy: .restoreBackup
        )
    }

    /// The value as SQLite stored it. Reading a `DatabaseValue` never
    /// converts, so it never traps; a missing column reads as NULL.
    private func value(_ column: String) -> DatabaseValue {
        if let positions {
            let i: Int
            if let order, order.next < order.names.count, order.names[order.next] == column {
                i = order.next
            } else {
                guard let p = positions[column] else { return .null }
                i = p
            }
            order?.next = i + 1
            if let statement { return DatabaseValue(sqliteStatement: statement, index: Int32(i)) }
            return row[i] as DatabaseValue
        }
        return row[column] as DatabaseValue? ?? .null
    }

    /// Text that is hashed as read (an audit record's): GRDB reads text up
    /// to its first NUL byte, so bytes hidden after one would be neither seen
    /// nor hashed, and such text is not read at all. The bytes are counted
    /// where SQLite holds them, for a row still on its statement (a cursor's);
    /// a copied row holds only what was read, and costs a copy to count.
    func wholeText(_ column: String) throws -> String {
        let s = try text(column)
        let stored: Int?
        if let statement, let order, order.next > 0, order.names[order.next - 1] == column {
            // Just read from the statement: SQLite's own count of the bytes.
            stored = Int(sqlite3_column_bytes(statement, Int32(order.next - 1)))
        } else if let positions {
            stored = positions[column].flatMap { i in try? row.withUnsafeData(atIndex: i) { $0?.count } }
        } else {
            stored = try? row.withUnsafeData(named: column) { $0?.count }
        }
        guard stored.map({ $0 == s.utf8.count }) ?? true else { throw fail(column, "text with a NUL byte") }
        return s
    }

    func optionalText(_ column: String) throws -> String? {
        switch value(column).storage {
        case .null: return nil
        case .string(let s):
            // SQLite hands text over as it is; GRDB repairs bad UTF-8 with
            // U+FFFD, which a vault certvault wrote never holds.
            guard !Self.hasReplacementCharacter(s) else { throw fail(column, "text that is not valid UTF-8") }
            return s
        default: throw fail(column, "a value that is not text")
        }
    }

    /// Whether `s` holds U+FFFD (UTF-8 EF BF BD), scanning bytes.
    static func hasReplacementCharacter(_ s: String) -> Bool {
        Display.contains(s, utf8: replacement)
    }

    private static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    func text(_ column: String) throws -> String {
        guard let s = try optionalText(column) else { throw fail(column, "no value") }
        return s
    }

    func optionalInt(_ column: String, in range: ClosedRange<Int64> = Int64.min...Int64.max) throws -> Int64? {
        switch value(column).storage {
        case .null: return nil
        case .int64(let v):
            guard range.contains(v) else { throw fail(column, "the out-of-range number \(v)") }
            return v
        default: throw fail(column, "a value that is not an integer")
        }
    }

    func int(_ column: String, in range: ClosedRange<Int64> = Int64.min...Int64.max) throws -> Int64 {
        guard let v = try optionalInt(column, in: range) else { throw fail(column, "no value") }
        return v
    }

    func bool(_ column: String) throws -> Bool { try int(column, in: 0...1) == 1 }

    func optionalBlob(_ column: String, count: Int? = nil) throws -> Data? {
        switch value(column).storage {
        case .null: return nil
        case .blob(let d):
            if let count, d.count != count { throw fail(column, "\(d.count) bytes where \(count) belong") }
            return d
        default: throw fail(column, "a value that is not binary")
        }
    }

    func blob(_ column: String, count: Int? = nil) throws -> Data {
        guard let d = try optionalBlob(column, count: count) else { throw fail(column, "no value") }
        return d
    }

    func optionalDate(_ column: String) throws -> Date? {
        guard let text = try optionalText(column) else { return nil }
        guard let date = Timestamp.parse(text) else { throw fail(column, "a time that cannot be read") }
        return date
    }

    func date(_ column: String) throws -> Date {
        guard let d = try optionalDate(column) else { throw fail(column, "no value") }
        return d
    }

    func `enum`<E: RawRepresentable>(_ column: String, _ type: E.Type) throws -> E where E.RawValue == String {
        let raw = try text(column)
        guard let v = E(rawValue: raw) else { throw fail(column, "the unknown value \(Display.quoted(raw))") }
        return v
    }
}
