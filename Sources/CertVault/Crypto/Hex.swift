import Foundation

extension Data {
    /// Upper-case hexadecimal, as Azure shows thumbprints.
    var hexUpper: String { hex(Array("0123456789ABCDEF".utf8)) }
    var hexLower: String { hex(Array("0123456789abcdef".utf8)) }

    private func hex(_ digits: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out = Data(capacity: chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = Self.nibble(chars[i]), let lo = Self.nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        self = out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }

    /// Big-endian 8-byte encoding of an integer, for associated data.
    static func int64(_ v: Int64) -> Data { Swift.withUnsafeBytes(of: v.bigEndian) { Data($0) } }
}
