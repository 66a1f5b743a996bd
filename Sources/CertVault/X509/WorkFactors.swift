internal import COpenSSL
internal import CertVaultNative
import Foundation

/// How much work a file may ask of certvault before it is read.
///
/// A file states its own key-derivation costs, and whoever made the file
/// chose them: a `.pfx` or encrypted key whose PBKDF2 iterations or scrypt
/// memory would take minutes or gigabytes, or that holds thousands of bags,
/// is refused before the work starts. Real exporters use 2,000 (Windows,
/// legacy) to 600,000 iterations (certvault's own keys), and scrypt with
/// N = 2^14 to 2^20 at r = 8.
public struct ImportLimits: Sendable, Equatable {
    /// The most PBKDF2 (or PKCS#12 KDF) iterations one derivation may ask for.
    public var maxIterations: Int
    /// The most memory one scrypt derivation may ask for, in bytes (128·N·r).
    public var maxScryptMemory: UInt64
    /// The most bags (keys, certificates, others) one PKCS#12 file may hold.
    public var maxBags: Int

    /// Limits from their values.
    public init(maxIterations: Int = 2_000_000, maxScryptMemory: UInt64 = 1 << 30, maxBags: Int = 1_000) {
        self.maxIterations = maxIterations
        self.maxScryptMemory = maxScryptMemory
        self.maxBags = maxBags
    }

    /// 2,000,000 iterations, 1 GiB of scrypt memory, 1,000 bags.
    public static let standard = ImportLimits()

    /// The most scrypt memory OpenSSL uses to decrypt a PKCS#8 key.
    static let opensslScryptMemory: UInt64 = 32 << 20

    /// Refuses a password-based algorithm that asks for more than the
    /// limits, or for work no valid file asks for (no iterations, scrypt
    /// with r or p of zero or N not a power of two).
    func check(_ alg: UnsafePointer<X509_ALGOR>?, what: String) throws {
        try check(PasswordEncryption.read(alg), what: what)
    }

    func check(_ encryption: PasswordEncryption?, what: String) throws {
        guard let encryption else { return }
        guard let scrypt = encryption.scrypt, scrypt.count == 3 else {
            if let iterations = encryption.iterations { try checkIterations(iterations, what: what) }
            return
        }
        let (n, r, p) = (scrypt[0], scrypt[1], scrypt[2])
        func number(_ v: UInt64) -> String { v == .max ? "a number too large to read" : String(v) }
        let parameters = "N=\(number(n)), r=\(number(r)), p=\(number(p))"
        guard n >= 2, n & (n &- 1) == 0, r >= 1, p >= 1 else {
            throw CertVaultError(
                .corrupt,
                "\(what) asks for scrypt with \(parameters): not valid parameters (N is a power of two from 2, r and p at least 1)"
            )
        }
        guard p <= Self.maxScryptParallelism else {
            throw CertVaultError(
                .workTooLarge,
                "\(what) asks for scrypt with \(parameters): p over the limit of \(Self.maxScryptParallelism) (real files use 1)"
            )
        }
        let (memory, overflow) = n.multipliedReportingOverflow(by: 128 &* r)
        let huge = overflow || r >= UInt64(1) << 32
        // OpenSSL derives scrypt keys within 32 MiB, and no more: past that no limit helps.
        guard !huge, memory <= Self.opensslScryptMemory else {
            throw CertVaultError(
                .unsupportedAlgorithm,
                "\(what) asks for scrypt with \(parameters): \(huge ? "more memory than can be counted" : "\(memory >> 20) MiB of memory"), more than the \(Self.opensslScryptMemory >> 20) MiB OpenSSL decrypts",
                hint: "re-encrypt the key with a smaller N (openssl pkcs8 -topk8 -scrypt -scrypt_N 16384)"
            )
        }
        guard memory <= maxScryptMemory else {
            throw CertVaultError(
                .workTooLarge,
                "\(what) asks for scrypt with \(parameters): \(memory >> 10) KiB of memory, over the limit of \(maxScryptMemory >> 10) KiB",
                remedy: .raiseImportLimit
            )
        }
    }

    /// The most scrypt parallelism a file may ask for.
    static let maxScryptParallelism: UInt64 = 16

    func checkIterations(_ iterations: Int64, what: String) throws {
        guard iterations >= 1 else {
            throw CertVaultError(
                .corrupt,
                "\(what) asks for \(iterations) key-derivation iterations: a valid file asks for at least 1"
            )
        }
        guard iterations <= maxIterations else {
            throw CertVaultError(
                .workTooLarge,
                "\(what) asks for \(iterations == .max ? "more than \(Int64.max)" : String(iterations)) key-derivation iterations, over the limit of \(maxIterations) (real exporters use 2,000 to 600,000)",
                remedy: .raiseImportLimit
            )
        }
    }

    func checkBags(_ count: Int) throws {
        guard count <= maxBags else {
            throw CertVaultError(
                .workTooLarge,
                "the file holds \(count) PKCS#12 bags, over the limit of \(maxBags)",
                remedy: .raiseImportLimit
            )
        }
    }

    /// Checks everything a PKCS#12 file asks for, reading only what is not
    /// encrypted: the MAC's iterations, each encrypted safe's algorithm, and
    /// the shrouded key bags and number of bags of each plain safe.
    func check(pkcs12 p12: OpaquePointer) throws {
        try check(PKCS12Layout.read(p12))
    }

    func check(_ layout: PKCS12Layout) throws {
        if let mac = layout.mac { try checkIterations(mac.iterations, what: "the file's MAC") }
        try checkBags(layout.safes.count)
        try checkBags(layout.bags.count)
        for safe in layout.safes where safe.encryption != nil {
            try check(safe.encryption, what: "an encrypted safe of the file")
        }
        for bag in layout.bags where bag.kind == .shroudedKey {
            try check(bag.encryption, what: "the file's private key")
        }
    }
}
