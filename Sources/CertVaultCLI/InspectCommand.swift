import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct Inspect: ParsableCommand, AsksAtTerminal {
    static let configuration = CommandConfiguration(
        abstract: "Describe a certificate file and say which targets will read it (no vault needed).",
        discussion: """
            Shows the format, every PKCS#12 safe and bag with its algorithm, iterations and salt, the MAC, friendly \
            names, localKeyIDs and the order of the chain, then a verdict per target with the reason for each "no": \
            app-service, app-gateway (and Container Apps), key-vault, key-vault-pem, windows-2016, windows-2019, macos, \
            java8, java11, dotnet, openssl3. The structure is read without a password; the contents need the file's \
            password when it has one (--password-file, CERTVAULT_FILE_PASSWORD, or a prompt at a terminal).
            With --target, exit 3 when that target will not read the file.

            Example:
              certvault inspect site.pfx --target app-service
            """
    )
    @Argument(help: ArgumentHelp("The file to inspect.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("Read the file's password from this file.", valueName: "file")) var passwordFile: String?
    @Option(help: ArgumentHelp("Judge only this target; exit 3 if it will not read the file.", valueName: "target"))
    var target: ExportTarget?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var limitOptions: LimitOptions

    func run() throws {
        let limits = limitOptions.limits
        var password = try Secrets.given(file: passwordFile, environment: "CERTVAULT_FILE_PASSWORD")
        var inspection = try FileInspection.inspect(path: file, password: password, limits: limits)
        if !inspection.opened, password == nil, SecretInput.hasTerminal,
            inspection.notOpened?.contains("password") == true
        {
            password = try SecretInput.prompt("Password for \(file): ")
            inspection = try FileInspection.inspect(path: file, password: password, limits: limits)
        }
        if let target { inspection.verdicts = inspection.verdicts.filter { $0.target == target } }
        if json {
            try Output.json(inspection)
        } else {
            Output.lines(Self.describe(inspection))
        }
        // A password given and wrong, or a damaged file: the verdicts judge only the structure.
        if let why = inspection.notOpened, inspection.damaged || (inspection.needsPassword && password != nil) {
            throw CertVaultError(
                inspection.damaged ? .corrupt : .wrongPassword,
                "\(file): \(why); the verdicts above judge only the algorithms the file names"
            )
        }
        if target != nil, inspection.verdicts.first?.accepted != true { throw ExitStatus.findings.exit }
    }

    static func describe(_ f: FileInspection) -> [String] {
        var out = ["\(f.file): \(f.format), \(f.size) bytes"]
        if let layout = f.pkcs12 {
            if let mac = layout.mac {
                out.append(
                    "  MAC: HMAC-\(mac.digest), \(mac.iterations) iterations\(mac.saltLength.map { ", \($0)-byte salt" } ?? "")"
                )
            } else {
                out.append("  MAC: none")
            }
            for (i, safe) in layout.safes.enumerated() {
                out.append("  safe \(i + 1): " + (safe.encryption.map { "encrypted, \($0.summary)" } ?? "plain"))
                guard let bags = safe.bags else {
                    out.append("    (not opened)")
                    continue
                }
                for bag in bags { out.append("    " + describe(bag)) }
            }
            out.append("  key derivations in all: \(layout.totalIterations) iterations")
        }
        if let blocks = f.pemBlocks { out.append("  PEM blocks: \(blocks.joined(separator: ", "))") }
        if let e = f.keyEncryption { out.append("  key encryption: \(e.summary)") }
        out.append("  password: \(f.password.rawValue)")
        if let why = f.notOpened { out.append("  contents not opened: \(why)") }
        for (i, c) in f.certificates.enumerated() {
            let m = c.metadata
            var line = "  certificate \(i + 1): \(m.subject), issued by \(m.issuer)"
            line += ", until \(Output.date(m.notValidAfter)), \(m.thumbprintSHA1)"
            if c.matchesKey { line += " [the key's]" }
            out.append(line)
        }
        for k in f.keys {
            let size = k.bits > 0 ? " \(k.bits)" : ""
            out.append(
                "  key: \(k.algorithm)\(size)\(k.curve.map { " \($0)" } ?? "")\(k.encrypted ? ", encrypted" : ", unencrypted")"
                    + (k.certificate.map { ", belongs to certificate \($0 + 1)" } ?? "")
            )
        }
        if f.opened, f.certificates.count > 0 {
            var order: [String] = []
            if let leafFirst = f.chain.leafFirst { order.append(leafFirst ? "leaf first" : "leaf NOT first") }
            order.append(f.chain.issuerOrder ? "each followed by its issuer" : "not in issuer order")
            order.append(
                f.chain.loops
                    ? "loops back on itself (no root)"
                    : f.chain.missingIssuer.map { "lacks the issuer \($0)" } ?? "complete to a root"
            )
            out.append("  chain: " + order.joined(separator: ", "))
        }
        out.append("")
        let width = f.verdicts.map(\.target.rawValue.count).max() ?? 0
        for v in f.verdicts {
            let name = v.target.rawValue.padding(toLength: width, withPad: " ", startingAt: 0)
            out.append("\(name)  \(v.accepted ? "yes" : "NO ")  \(v.title)")
            for r in v.reasons { out.append(String(repeating: " ", count: width + 7) + "- " + r) }
            for n in v.notes { out.append(String(repeating: " ", count: width + 7) + "note: " + n) }
        }
        return out
    }

    private static func describe(_ bag: PKCS12Bag) -> String {
        var parts: [String]
        switch bag.kind {
        case .key: parts = ["key bag (unencrypted)"]
        case .shroudedKey: parts = ["shrouded key bag: " + (bag.encryption?.summary ?? "unknown encryption")]
        case .certificate: parts = ["certificate bag" + (bag.subject.map { ": \($0)" } ?? "")]
        case .nested: parts = ["nested safe contents"]
        case .other: parts = ["other bag (CRL or secret)"]
        }
        if let name = bag.friendlyName { parts.append("friendlyName \"\(name)\"") }
        if let id = bag.localKeyID { parts.append("localKeyID \(id)") }
        return parts.joined(separator: ", ")
    }
}
