// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "certvault",
    products: [
        .library(name: "CertVault", targets: ["CertVault"]),
        // The command is `certvault`; its module is CertVaultCLI, so that no two
        // module names or source folders differ only in case (macOS folds case).
        .executable(name: "certvault", targets: ["CertVaultCLI"]),
        .executable(name: "certvault-bench", targets: ["certvault-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", "7.10.0"..<"7.11.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", "1.8.0"..<"1.9.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "CertVaultNative",
            dependencies: ["COpenSSL", .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        .target(
            name: "CertVault",
            dependencies: [
                "CSodium",
                "COpenSSL",
                "CertVaultNative",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The command line's hold on the terminal (signal handlers): never linked into the library.
        .target(name: "CertVaultTerminal"),
        .target(
            name: "CertVaultCLISupport",
            dependencies: ["CertVault", "CertVaultNative", "CertVaultTerminal"]
        ),
        .executableTarget(
            name: "CertVaultCLI",
            dependencies: [
                "CertVault",
                "CertVaultCLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "certvault-bench",
            dependencies: ["CertVault"]
        ),
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        // A host process for CertVaultTests: OpenSSL before and after the library.
        .executableTarget(
            name: "certvault-host-probe",
            dependencies: ["CertVault", "COpenSSL"],
            path: "Tests/HostProbe"
        ),
        .testTarget(
            name: "CertVaultTests",
            dependencies: ["CertVault", "CertVaultCLISupport", "TestSupport", "certvault-host-probe"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["CertVaultCLI", "TestSupport"],
            exclude: ["Scripts"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Fault points (FaultPoint.swift) are compiled only when CERTVAULT_FAULT_POINTS
// is set at build time: .ci/run sets it for the test suite and the fault sweep.
// A library a host links, built without it, has none, whatever its environment.
if Context.environment["CERTVAULT_FAULT_POINTS"] != nil {
    for target in package.targets where target.name == "CertVault" {
        target.swiftSettings = (target.swiftSettings ?? []) + [.define("CERTVAULT_FAULT_POINTS")]
    }
}

// The import reader's fuzz target (libFuzzer), built only by scripts/fuzz.sh:
// CERTVAULT_FUZZ=1 adds it and instruments the library for coverage.
if Context.environment["CERTVAULT_FUZZ"] != nil {
    let sanitize = ["-sanitize=fuzzer,address"]
    for target in package.targets where target.name == "CertVault" {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(sanitize)]
    }
    package.targets.append(
        .executableTarget(
            name: "certvault-fuzz",
            dependencies: ["CertVault"],
            path: "Fuzz/ImportReader",
            swiftSettings: [.unsafeFlags(sanitize)],
            linkerSettings: [.unsafeFlags(sanitize + ["-use-ld=lld"])]
        )
    )
}
