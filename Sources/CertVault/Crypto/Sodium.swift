internal import CSodium
import Foundation

/// libsodium, initialised once for the process.
enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    static func ensure() throws {
        guard initialised else { throw CertVaultError(.crypto, "libsodium failed to initialise") }
    }

    /// libsodium's primitives fail only when handed sizes that are wrong,
    /// which certvault's own code decides: a failure is a bug, and the
    /// process stops rather than go on with a key or signature that is not one.
    static func require(_ ok: Bool, _ what: String) {
        precondition(ok, "libsodium: \(what) failed")
    }

    static func random(_ count: Int) -> Data {
        var data = Data(count: count)
        data.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return data
    }
}
