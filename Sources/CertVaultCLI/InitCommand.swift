import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new vault and its first admin.",
        discussion:
            "The passphrase is asked twice on the terminal, or read from --passphrase-file / CERTVAULT_PASSPHRASE."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Handle of the first admin.", valueName: "handle")) var admin: String
    @Option(help: "Their full name.") var name: String?
    @Option(help: "Their email address.") var email: String?
    @Option(help: "Cost of the passphrase KDF: interactive, moderate (default), sensitive.") var kdf: KDFStrength =
        .moderate
    @Flag(help: "Accept a weak passphrase (for a test vault).") var weakPassphraseOk = false
    @Flag(help: "Print what was done as JSON: the first admin, the file and the record's seq.") var json = false

    func run() throws {
        // An existing vault is named before any passphrase is asked.
        try Vault.requireAbsent(at: global.vaultPath)
        let passphrase = try Secrets.read(
            file: global.passphraseFile,
            environment: "CERTVAULT_PASSPHRASE",
            prompt: "New passphrase for \(admin): ",
            what: "a passphrase for \(admin)",
            fileOption: "--passphrase-file",
            confirm: true,
            weakOK: weakPassphraseOk,
            context: [admin, name, email].compactMap { $0 }
        )
        let vault = try Vault.create(
            at: global.vaultPath,
            admin: .init(handle: admin, name: name, email: email, role: .admin),
            passphrase: passphrase,
            kdf: kdf
        )
        if json {
            return try Output.change(
                .init(command: "init", person: try vault.person(admin), file: vault.path),
                in: vault
            )
        }
        Output.line("created vault \(vault.path) with admin \(admin)")
        if let head = try vault.auditHead() { Output.line("audit head \(head)") }
    }
}
