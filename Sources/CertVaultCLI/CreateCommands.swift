import ArgumentParser
import CertVault
import Foundation

struct New: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create certificates inside the vault.",
        subcommands: [Management.self, AppCredential.self]
    )

    /// What both make: the entry, its thumbprint, and what the rules say of it.
    static func created(_ entry: Entry, in vault: Vault, json: Bool, command: String) throws {
        if json { return try Output.change(.init(command: command, entry: entry), in: vault) }
        Output.line(
            "created \(entry.alias): \(entry.certificate?.keyAlgorithm ?? "") \(entry.certificate?.keyBits ?? 0), valid until \(entry.certificate.map { Output.date($0.notValidAfter) } ?? "-")"
        )
        Output.line("thumbprint (SHA-1) \(entry.certificate?.thumbprintSHA1 ?? "-")")
        Output.policyWarnings(vault, [.id(entry.id)])
    }

    struct AppCredential: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "app-credential",
            abstract: "Make a certificate credential for an Entra ID app registration (a service principal).",
            discussion: """
                The successor of management certificates, made the same way: an RSA key (2048 bits at least) and a \
                self-signed client-auth certificate, purpose app, tagged with the application (client) id. Upload the \
                public part to the app registration (Certificates & secrets):
                  certvault export ALIAS --format cer --out ALIAS.cer

                Example:
                  certvault new app-credential --subject "CN=contoso-deploy" \\
                      --app-id 00000000-0000-0000-0000-000000000000
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("The subject, e.g. CN=contoso-deploy.", valueName: "dn")) var subject: String
        @Option(help: "rsa:2048, rsa:3072 or rsa:4096.") var key = "rsa:2048"
        @Option(parsing: .unconditional, help: "Days of validity (1 to 3650).") var days = 365
        @Option(name: .customLong("app-id"), help: ArgumentHelp("The application (client) id.", valueName: "id"))
        var appID: String?
        @Option(help: "Alias of the entry (default: the common name).") var alias: String?
        @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

        func run() throws {
            // Arguments Azure or the vault would refuse: said before any passphrase is asked for.
            let spec = try UsageError.reading {
                let spec = try KeySpec(parsing: key)
                try Session.checkSelfSignedArguments(subject: subject, keySpec: spec, days: days, alias: alias)
                return spec
            }
            let session = try global.unlock(try global.openVault())
            let entry = try session.createAppCredential(
                subject: subject,
                keySpec: spec,
                days: days,
                appID: appID,
                alias: alias
            )
            try New.created(entry, in: session.vault, json: json, command: "new app-credential")
        }
    }

    struct Management: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an Azure management certificate: an RSA key and a self-signed client-auth certificate.",
            discussion: """
                What MakeCert did: RSA (2048 bits at least, as Azure requires), a 128-bit random serial, SHA-256, \
                key usage digitalSignature and keyEncipherment, extended key usage clientAuth, subject key identifier.
                Upload the public part with: certvault export ALIAS --format cer --out ALIAS.cer

                Example:
                  certvault new management --subject "CN=contoso-mgmt" --subscription 1234-abcd
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("The subject, e.g. CN=contoso-mgmt,O=Contoso.", valueName: "dn")) var subject: String
        @Option(help: "rsa:2048, rsa:3072 or rsa:4096.") var key = "rsa:2048"
        @Option(parsing: .unconditional, help: "Days of validity (1 to 3650).") var days = 365
        @Option(help: ArgumentHelp("Azure subscription it is for.", valueName: "id")) var subscription: String?
        @Option(help: "Alias of the entry (default: the common name).") var alias: String?
        @Flag(help: "Print what was done as JSON: the entry as it now stands and the record's seq.") var json = false

        func run() throws {
            let spec = try UsageError.reading {
                let spec = try KeySpec(parsing: key)
                try Session.checkSelfSignedArguments(subject: subject, keySpec: spec, days: days, alias: alias)
                return spec
            }
            let session = try global.unlock(try global.openVault())
            let entry = try session.createManagementCertificate(
                subject: subject,
                keySpec: spec,
                days: days,
                subscription: subscription,
                alias: alias
            )
            try New.created(entry, in: session.vault, json: json, command: "new management")
        }
    }
}

struct Csr: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csr",
        abstract: "Make a key inside the vault and a certificate signing request for it.",
        discussion: """
            The entry stays pending until the certificate the CA issues is imported: it is matched by public key, and \
            a certificate issued for another key is refused.

            Example:
              certvault csr --subject "CN=www.contoso.com,O=Contoso" \\
                  --dns www.contoso.com --dns contoso.com --out contoso.csr
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("The subject, e.g. CN=www.contoso.com,O=Contoso.", valueName: "dn")) var subject: String
    @Option(
        name: .customLong("dns"),
        help: ArgumentHelp("A DNS name for the subjectAltName (repeatable).", valueName: "name")
    )
    var dnsNames: [String] = []
    @Option(help: "rsa:2048, rsa:3072, rsa:4096, ec:p256 or ec:p384.") var key = "rsa:2048"
    @Option(help: ArgumentHelp("Where to write the request (PEM).", valueName: "file")) var out: String
    @Option(help: ArgumentHelp("Azure subscription it is for.", valueName: "id")) var subscription: String?
    @Option(help: "Alias of the entry (default: the first DNS name).") var alias: String?
    @Flag(help: "Replace an existing file.") var force = false
    @Flag(help: "Print what was done as JSON: the pending entry, the file and the record's seq.") var json = false

    func validate() throws {
        if dnsNames.isEmpty { throw ValidationError("name at least one --dns for the certificate") }
    }

    func run() throws {
        let vault = try global.openVault()
        if !force && FileManager.default.fileExists(atPath: out) {
            throw CertVaultError(
                .fileExists,
                "\(out) already exists",
                hint: "choose another path, or pass --force to replace it"
            )
        }
        let spec = try UsageError.reading {
            let spec = try KeySpec(parsing: key)
            try Session.checkRequestArguments(subject: subject, dnsNames: dnsNames, keySpec: spec, alias: alias)
            return spec
        }
        let session = try global.unlock(vault)
        let (entry, _) = try session.createRequest(
            subject: subject,
            dnsNames: dnsNames,
            keySpec: spec,
            subscription: subscription,
            alias: alias
        )
        _ = try vault.exportPublic(.id(entry.id), format: .csr, to: out, force: force)
        if json { return try Output.change(.init(command: "csr", entry: entry, file: out), in: vault) }
        Output.line("pending entry \(entry.alias); request written to \(out)")
        Output.line("send it to the CA, then: certvault import ISSUED-CERTIFICATE")
        Output.policyWarnings(vault, [.id(entry.id)])
    }
}
