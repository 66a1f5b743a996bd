import Foundation

/// The JSON writer of ``AuditChain/encode(_:)``.
enum JSONText {
    /// Appends `value`; false (with `out` partly written) for a type it does not know.
    static func append(_ value: Any, to out: inout String) -> Bool {
        // Exact types: a boxed NSNumber would cast to Bool and to Int alike.
        let type = Swift.type(of: value)
        if type == String.self {
            appendString(value as! String, to: &out)
        } else if type == Bool.self {
            out += (value as! Bool) ? "true" : "false"
        } else if type == Int.self {
            out += String(value as! Int)
        } else if type == Int64.self {
            out += String(value as! Int64)
        } else if type == Int32.self {
            out += String(value as! Int32)
        } else if type == NSNull.self {
            out += "null"
        } else if let d = value as? [String: Any] {
            out += "{"
            for (n, key) in d.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if n > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                guard append(d[key]!, to: &out) else { return false }
            }
            out += "}"
        } else if let a = value as? [Any] {
            out += "["
            for (n, element) in a.enumerated() {
                if n > 0 { out += "," }
                guard append(element, to: &out) else { return false }
            }
            out += "]"
        } else {
            return false
        }
        return true
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A JSON string: quote and backslash escaped, control characters as
    /// `\n`, `\t`, … or `\u00XX`; everything else as UTF-8.
    static func appendString(_ s: String, to out: inout String) {
        out += "\""
        var plain = true
        for byte in s.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            plain = false
            break
        }
        if plain {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "\u{08}": out += "\\b"
                case "\u{0C}": out += "\\f"
                case _ where scalar.value < 0x20:
                    let v = Int(scalar.value)
                    out += "\\u00"
                    out.unicodeScalars.append(Unicode.Scalar(hex[v >> 4]))
                    out.unicodeScalars.append(Unicode.Scalar(hex[v & 15]))
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

extension JSONText {
    /// Reads JSON text as ``JSONValue``: objects, arrays, strings (every
    /// escape), integers that fit 64 bits, true, false and null, nested at
    /// most 64 deep. Nil for anything else — a fraction or exponent, a
    /// duplicate key, a lone surrogate, bad syntax — which the caller then
    /// gives to Foundation's reader.
    static func parse(_ text: String) -> JSONValue? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = Reader(bytes: bytes)
            guard let value = reader.value(depth: 0) else { return nil }
            reader.skipSpace()
            return reader.position == bytes.count ? value : nil
        }
    }

    /// The named fields of a JSON object, in the order named (nil for one
    /// it lacks), each exactly as ``parse(_:)`` would give it, with the rest of the text checked as `parse` checks it
    /// but not built: a record's details hold a dozen fields and a reader of
    /// two needs no dictionary of twelve (`audit verify` reads every entry
    /// record). Nil where `parse` should decide: the text is not an object
    /// `parse` takes, or has a key with an escape or a byte past ASCII (whose
    /// duplicates only `parse` can judge).
    static func fields(_ names: [String], of text: String) -> [JSONValue?]? {
        var text = text
        return text.withUTF8 { bytes -> [JSONValue?]? in
            var reader = Reader(bytes: bytes)
            var found = [JSONValue?](repeating: nil, count: names.count)
            reader.skipSpace()
            let read = reader.object { reader, key in
                let start = reader.bytes.baseAddress! + key.lowerBound
                let wanted = names.firstIndex { name in
                    var name = name
                    return name.utf8.count == key.count
                        && name.withUTF8 { key.isEmpty || memcmp($0.baseAddress!, start, key.count) == 0 }
                }
                guard let wanted else { return reader.skipValue(depth: 1) }
                guard let value = reader.value(depth: 1) else { return false }
                found[wanted] = value
                return true
            }
            guard read else { return nil }
            reader.skipSpace()
            return reader.position == bytes.count ? found : nil
        }
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        /// Whether the key at `key` is, byte for byte, one at `keys`.
        func repeats(_ key: Range<Int>, in keys: [Range<Int>]) -> Bool {
            keys.contains { other in
                other.count == key.count
                    && memcmp(bytes.baseAddress! + key.lowerBound, bytes.baseAddress! + other.lowerBound, key.count)
                        == 0
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

        /// A key's bytes between its quotes, when they are printable ASCII
        /// without an escape; nil otherwise (and for a string `parse` refuses).
        mutating func plainKey() -> Range<Int>? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            let start = position + 1
            var i = start
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                guard bytes[i] >= 0x20, bytes[i] < 0x80, bytes[i] != UInt8(ascii: "\\") else { return nil }
                i += 1
            }
            guard i < bytes.count else { return nil }
            position = i + 1
            return start..<i
        }

        /// Passes over the object at the position (its `{`) as
        /// ``value(depth:)`` would, giving each key to `member`, which takes
        /// the value after it; false where `value` would fail, or where only
        /// it can tell (a key with an escape or past ASCII), or where
        /// `member` says so.
        mutating func object(member: (inout Reader, Range<Int>) -> Bool) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "{") else { return false }
            position += 1
            var keys: [Range<Int>] = []
            keys.reserveCapacity(16)
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return true
            }
            while true {
                skipSpace()
                guard let key = plainKey(), keys.count < 64, !repeats(key, in: keys) else { return false }
                keys.append(key)
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return false }
                position += 1
                guard member(&self, key) else { return false }
                guard let closed = endOfItem(UInt8(ascii: "}")) else { return false }
                if closed { return true }
            }
        }

        /// Passes over a value that ``value(depth:)`` would take, building
        /// nothing but what a duplicate key needs; false where it would fail,
        /// or where only it can tell (a key with an escape or past ASCII).
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64 else { return false }
            skipSpace()
            guard position < bytes.count else { return false }
            switch bytes[position] {
            case UInt8(ascii: "{"): return object { reader, _ in reader.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["):
                position += 1
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return true
                }
                while true {
                    guard skipValue(depth: depth + 1) else { return false }
                    guard let closed = endOfItem(UInt8(ascii: "]")) else { return false }
                    if closed { return true }
                }
            case UInt8(ascii: "\""):
                // Unescaped text is taken as it stands; an escape is judged by the reader.
                let start = position
                var i = position + 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
                    guard bytes[i] >= 0x20 else { return false }
                    i += 1
                }
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: "\"") {
                    position = i + 1
                    return true
                }
                position = start
                return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return integer() != nil
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
            guard depth < 64 else { return nil }
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
                    guard let v = value(depth: depth + 1), fields.updateValue(v, forKey: key) == nil else { return nil }
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
            guard position > digits, !(bytes[digits] == 48 && position - digits > 1) else { return nil }
            if position < bytes.count,
                [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position])
            {
                return nil
            }
            return Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
        }

        /// A string at the position (which holds its opening quote).
        mutating func string() -> String? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            position += 1
            let start = position
            // The common case: no escape, copied as it stands.
            while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\") {
                guard bytes[position] >= 0x20 else { return nil }
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
                            guard literal("\\u"), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            return nil
                        }
                        guard let s = Unicode.Scalar(scalar) else { return nil }
                        out.unicodeScalars.append(s)
                    default: return nil
                    }
                default:
                    guard b >= 0x20 else { return nil }
                    // Copy up to the next quote or escape as it stands.
                    let run = position - 1
                    while position < bytes.count, bytes[position] != UInt8(ascii: "\""),
                        bytes[position] != UInt8(ascii: "\\")
                    {
                        guard bytes[position] >= 0x20 else { return nil }
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

extension JSONValue {
    /// The value as `JSONSerialization` gives it: numbers and booleans as
    /// `NSNumber`, null as `NSNull` (an integer past 2^53 stays exact, where
    /// `JSONSerialization` rounds it to a Double).
    var foundationValue: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): NSNumber(value: b)
        case .integer(let i): NSNumber(value: i)
        case .number(let d): NSNumber(value: d)
        case .string(let s): s
        case .array(let a): a.map(\.foundationValue)
        case .object(let o): o.mapValues(\.foundationValue)
        }
    }
}
