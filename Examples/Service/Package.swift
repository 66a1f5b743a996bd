// swift-tools-version:6.0
// A service that uses certvault as any other package would: it sees the
// library's public API and nothing else. Built and run by
// scripts/service-example.sh (in CI), which first compiles every code
// example of the library's service article into DocSnippets.swift.
import Foundation
import PackageDescription

// The certvault package two directories up; its identity is its folder's name.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

let package = Package(
    name: "certvault-service-example",
    dependencies: [.package(path: root.path)],
    targets: [
        .executableTarget(
            name: "ServiceExample",
            dependencies: [.product(name: "CertVault", package: root.lastPathComponent.lowercased())]
        )
    ],
    swiftLanguageModes: [.v6]
)
