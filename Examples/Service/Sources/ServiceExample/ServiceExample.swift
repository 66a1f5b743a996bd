// A service-shaped flow in async code, against certvault's public API
// alone: a vault made, opened and unlocked per request; a .pfx uploaded as
// bytes, imported, handed back as bytes for a recipient; the log verified;
// a busy vault told apart from a broken one.
//   service-example UPLOAD.pfx PASSWORD
import CertVault
import Foundation

@main
struct ServiceExample {
    static func main() async {
        // A host's environment that names a fault point changes nothing: the
        // library a package links has none (a test build would die at the first commit).
        setenv("CERTVAULT_FAULT", "change.before-commit", 1)
        do {
            try await run()
            print("service example: ok")
        } catch {
            FileHandle.standardError.write(Data("service example: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws {
        let args = CommandLine.arguments
        guard args.count == 3 else { throw CertVaultError(.invalidArgument, "usage: service-example UPLOAD PASSWORD") }
        let upload = try Data(contentsOf: URL(fileURLWithPath: args[1]))
        let filePassword = SecureBytes(utf8: args[2])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("service-example-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("vault.db").path
        let witness = RollbackWitness(directory: dir.appendingPathComponent("state").path)
        let passphrase = SecureBytes(utf8: "the service's passphrase")

        // Made once.
        let made = try await Vault.create(
            at: path,
            admin: .init(handle: "svc", role: .admin),
            passphrase: passphrase,
            kdf: .interactive,
            witness: witness
        )
        try made.close()

        // A request: open, unlock, import the upload, add the recipient.
        let vault = try await Vault.open(at: path, witness: witness, busyTimeout: 5, sinks: nil)
        defer { try? vault.close() }
        let session = try await vault.unlock(handle: "svc", passphrase: passphrase)
        defer { session.lock() }
        let file = try Importer.read(data: upload, label: "upload 4711", password: filePassword)
        let report = try await session.importFiles([file])
        guard let alias = report.items.first?.alias else { throw CertVaultError(.corrupt, "nothing was imported") }
        _ = try await session.addPerson(
            .init(handle: "bob", role: .officer),
            passphrase: SecureBytes(utf8: "bob's own passphrase"),
            kdf: .interactive
        )
        _ = try session.grant(.alias(alias), to: "bob")

        // Another request: the .pfx for bob, as bytes.
        let pfx: Data = try await session.exportPFX(
            .alias(alias),
            label: "ticket 815 for bob",
            password: SecureBytes(utf8: "handed to bob"),
            profile: .legacy,
            recipient: "bob"
        )
        let back = try Importer.read(data: pfx, label: "check", password: SecureBytes(utf8: "handed to bob"))
        guard back.certificateCount >= 1, back.keyCount == 1 else {
            throw CertVaultError(.corrupt, "the export holds no certificate")
        }

        // The auditor's view: the log verifies, and names the export.
        let verification = try await vault.verify()
        guard verification.isValid else { throw CertVaultError(.tampered, "\(verification.findings)") }
        let log = try vault.auditLog()
        guard log.records.contains(where: { $0.action == "entry.export" }) else {
            throw CertVaultError(.corrupt, "no export record")
        }
    }
}
