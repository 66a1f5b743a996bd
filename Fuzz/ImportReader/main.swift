// libFuzzer entry point for the import reader and inspect: any bytes, read as
// a file an officer brings. Built and run by scripts/fuzz.sh; never part of the product.
import CertVault
import Foundation

/// Small work limits so that a mutated iteration count or scrypt cost is
/// refused (a finding in itself) instead of spending seconds per input.
private let limits = ImportLimits(maxIterations: 4_096, maxScryptMemory: 1 << 20, maxBags: 64)
/// The passwords of the seed files (Tests/CertVaultTests/Fixtures/corpus/manifest.tsv
/// and real-world/README.md), and none: the empty and NULL passwords take other paths.
private let passwords = [SecureBytes(utf8: "test"), SecureBytes(utf8: "password"), nil]

@_cdecl("LLVMFuzzerTestOneInput")
public func importReaderFuzz(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let bytes else { return 0 }
    let data = Data(bytes: bytes, count: count)
    for given in passwords {
        do {
            let file = try Importer.read(data: data, label: "fuzz-input", password: given, limits: limits)
            // A file that reads must describe itself without failing.
            _ = (file.format, file.keyCount, file.certificateCount, file.warnings)
        } catch is CertVaultError {
            // Every refusal must be a CertVaultError with a message: that is the contract.
        } catch {
            fatalError("the reader threw something other than CertVaultError: \(error)")
        }
        // inspect reads the same bytes further (every bag and algorithm) and judges them.
        do {
            let inspection = try FileInspection.inspect(
                data: data,
                label: "fuzz-input",
                password: given,
                limits: limits
            )
            _ = (inspection.verdicts.count, inspection.pkcs12?.totalIterations)
        } catch is CertVaultError {
        } catch {
            fatalError("inspect threw something other than CertVaultError: \(error)")
        }
    }
    return 0
}

// SwiftPM renames an executable's entry point, so libFuzzer's own `main`
// cannot be used: start its driver from ours.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// OpenSSL allocates its tables once, on first use: do that before the
// fuzzer starts counting allocations, so that a leak it reports is ours.
for seed in ["", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"] {
    _ = importReaderFuzz(seed, seed.utf8.count)
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runDriver(&argc, &argv, importReaderFuzz))
