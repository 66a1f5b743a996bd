internal import CSodium
import Foundation

/// libsodium, initialised once for the process.
enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    static func ensure() throws {
        guard initialised else { throw CertVaultError(.crypto, "libsodium failed to initialise") }
    }

    static func random(_ count: Int) -> Data {
        var data = Data(count: count)
        data.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return data
    }
}
