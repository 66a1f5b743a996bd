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
        // Into a plain byte array first: appending to `Data` a byte at a time
        // costs far more than the decoding (`audit verify` decodes a digest per record).
        var hex = hex
        guard
            let bytes = hex.withUTF8({ chars -> [UInt8]? in
                guard chars.count % 2 == 0 else { return nil }
                return [UInt8](unsafeUninitializedCapacity: chars.count / 2) { out, written in
                    var i = 0
                    while i < chars.count {
                        guard let hi = Self.nibble(chars[i]), let lo = Self.nibble(chars[i + 1]) else { return }
                        out[i / 2] = hi << 4 | lo
                        i += 2
                    }
                    written = chars.count / 2
                }
            })
        else { return nil }
        guard bytes.count * 2 == hex.utf8.count else { return nil }
        self = Data(bytes)
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
