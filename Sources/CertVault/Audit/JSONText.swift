import Foundation

/// JSON text, read and written the one way certvault does: the writer of
/// strings that ``DetailsCodec`` uses, and the reader of every JSON text
/// certvault stores (signed details, entries' list and tag columns, sink lines).
enum JSONText {
    /// `value` as text: object keys sorted by their UTF-8 bytes, no space.
    static func text(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `value`: object keys sorted by their UTF-8 bytes, no space.
    static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .integer(let i): appendInteger(i, to: &out)
        case .string(let s): appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (n, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// An integer in shortest decimal.
    static func appendInteger(_ i: Int64, to out: inout [UInt8]) { out += String(i).utf8 }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string: quote and backslash escaped, control characters as
    /// `\n`, `\t`, … or `\u00xx`; every other byte (UTF-8 past ASCII
    /// included) as it is.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        out.append(0x22)
        s.withUTF8 { bytes in
            var run = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == 0x22 || b == 0x5C {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
                run = i + 1
                out.append(0x5C)
                switch b {
                case 0x22, 0x5C: out.append(b)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                default: out += [UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
        out.append(0x22)
    }
}

extension JSONText {
    /// Reads JSON text as ``JSONValue``: objects, arrays, strings (every
    /// escape), integers that fit 64 bits, true, false and null, nested at
    /// most 64 deep. Anything else is refused, with why: a fraction or an
    /// exponent, a leading zero or `-0`, a duplicate key, a lone surrogate,
    /// a raw control character, a byte-order mark, bad syntax. There is no
    /// second reader to fall back on.
    static func read(_ text: String) -> Result<JSONValue, Refusal> {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return .failure(Refusal("a byte-order mark")) }
            guard let value = reader.value(depth: 0) else {
                return .failure(Refusal(reader.refusal ?? "bad syntax at byte \(reader.position)"))
            }
            reader.skipSpace()
            guard reader.position == bytes.count else {
                return .failure(Refusal("text after the value at byte \(reader.position)"))
            }
            return .success(value)
        }
    }

    /// Reads JSON text as ``read(_:)`` does; nil where it refuses.
    static func parse(_ text: String) -> JSONValue? { try? read(text).get() }

    /// Why a text was refused.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0
        /// Why the reader stopped, when it knows more than "bad syntax".
        var refusal: String?

        mutating func refuse<T>(_ why: String) -> T? {
            if refusal == nil { refusal = why }
            return nil
        }

        mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        /// After an item of an object or array: true at its closing `close`,
        /// false at a comma (either passed over), nil for anything else.
        mutating func endOfItem(_ close: UInt8) -> Bool? {
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
                return false
            case close:
                position += 1
                return true
            default: return nil
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard position + n <= bytes.count else { return false }
            for i in 0..<n where bytes[position + i] != word.utf8Start[i] { return false }
            position += n
            return true
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < 64 else { return refuse("nested more than 64 deep") }
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var fields: [String: JSONValue] = [:]
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(fields)
                }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
                    position += 1
                    guard let v = value(depth: depth + 1) else { return nil }
                    guard fields.updateValue(v, forKey: key) == nil else {
                        return refuse("the key \(Display.quoted(key)) twice")
                    }
                    guard let closed = endOfItem(UInt8(ascii: "}")) else { return nil }
                    if closed { return .object(fields) }
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [JSONValue] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(items)
                }
                while true {
                    guard let v = value(depth: depth + 1) else { return nil }
                    items.append(v)
                    guard let closed = endOfItem(UInt8(ascii: "]")) else { return nil }
                    if closed { return .array(items) }
                }
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: return integer().map(JSONValue.integer)
            }
        }

        /// An integer: `-`? and digits without a leading zero; nil for a fraction or exponent.
        mutating func integer() -> Int64? {
            let start = position
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let digits = position
            while position < bytes.count, (48...57).contains(bytes[position]) { position += 1 }
            guard position > digits else { return nil }
            guard !(bytes[digits] == 48 && position - digits > 1) else { return refuse("a number with a leading zero") }
            guard !(digits > start && bytes[digits] == 48 && position - digits == 1) else { return refuse("-0") }
            if position < bytes.count,
                [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position])
            {
                return refuse("a number with a fraction or an exponent")
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let n = Int64(text) else { return refuse("an integer past 64 bits") }
            return n
        }

        /// A string at the position (which holds its opening quote).
        mutating func string() -> String? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            position += 1
            let start = position
            // The common case: no escape, copied as it stands.
            while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\") {
                guard bytes[position] >= 0x20 else { return refuse("a raw control character in a string") }
                position += 1
            }
            guard position < bytes.count else { return nil }
            var out = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            while true {
                guard position < bytes.count else { return nil }
                let b = bytes[position]
                position += 1
                switch b {
                case UInt8(ascii: "\""): return out
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return nil }
                    let e = bytes[position]
                    position += 1
                    switch e {
                    case UInt8(ascii: "\""): out += "\""
                    case UInt8(ascii: "\\"): out += "\\"
                    case UInt8(ascii: "/"): out += "/"
                    case UInt8(ascii: "b"): out += "\u{08}"
                    case UInt8(ascii: "f"): out += "\u{0C}"
                    case UInt8(ascii: "n"): out += "\n"
                    case UInt8(ascii: "r"): out += "\r"
                    case UInt8(ascii: "t"): out += "\t"
                    case UInt8(ascii: "u"):
                        guard let unit = hex4() else { return nil }
                        var scalar = UInt32(unit)
                        if (0xD800...0xDBFF).contains(unit) {
                            // A high surrogate must be followed by an escaped low one.
                            guard literal("\\u"), let low = hex4(), (0xDC00...0xDFFF).contains(low) else {
                                return refuse("a lone surrogate")
                            }
                            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            return refuse("a lone surrogate")
                        }
                        guard let s = Unicode.Scalar(scalar) else { return nil }
                        out.unicodeScalars.append(s)
                    default: return refuse("an escape JSON does not have")
                    }
                default:
                    guard b >= 0x20 else { return refuse("a raw control character in a string") }
                    // Copy up to the next quote or escape as it stands.
                    let run = position - 1
                    while position < bytes.count, bytes[position] != UInt8(ascii: "\""),
                        bytes[position] != UInt8(ascii: "\\")
                    {
                        guard bytes[position] >= 0x20 else { return refuse("a raw control character in a string") }
                        position += 1
                    }
                    out += String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<position]), as: UTF8.self)
                }
            }
        }

        mutating func hex4() -> UInt16? {
            guard position + 4 <= bytes.count else { return nil }
            var v: UInt16 = 0
            for _ in 0..<4 {
                let c = bytes[position]
                let d: UInt8
                switch c {
                case 48...57: d = c - 48
                case 65...70: d = c - 55
                case 97...102: d = c - 87
                default: return nil
                }
                v = v << 4 | UInt16(d)
                position += 1
            }
            return v
        }
    }
}

/// A JSON value as ``JSONText/read(_:)`` gives it.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}
