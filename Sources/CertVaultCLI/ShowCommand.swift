import ArgumentParser
import CertVault
import CertVaultCLISupport
import Foundation

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one entry (no passphrase needed).")
    @OptionGroup var global: ReadOptions
    @Argument(
        help: "Alias, id, DNS name, or 8+ hex digits of the SHA-1 thumbprint or SHA-256 fingerprint.",
        completion: Completions.entries
    ) var ref: String
    @Flag(help: "Print JSON.") var json = false

    struct Shown: Encodable {
        var entry: Entry
        var chain: [CertificateMetadata]
    }

    func run() throws {
        let vault = try global.openVault()
        var entry = try vault.entry(.any(ref))
        entry.certificate = try vault.certificateDetails(of: entry) ?? entry.certificate
        let chain = try vault.chain(of: entry)
        if json { return try Output.json(Shown(entry: entry, chain: chain)) }
        var lines: [(String, String)] = [
            ("id", entry.id.description), ("alias", entry.alias), ("purpose", entry.purpose.rawValue),
            (
                "status",
                entry.status.rawValue + (entry.needsRotation ? " (needs rotation: \(entry.rotationReason ?? "?"))" : "")
            ),
        ]
        if let name = entry.originalName {
            // The name the alias was made from, every character outside ASCII spelled out.
            let spelled = Display.spelledOut(name)
            lines.append(("name in the file", spelled == name ? name : "\(name) (\(spelled))"))
        }
        if let s = entry.subscription { lines.append(("subscription", s)) }
        if !entry.domains.isEmpty { lines.append(("domains", entry.domains.joined(separator: ", "))) }
        if let c = entry.certificate {
            lines += [
                ("subject", c.subject), ("issuer", c.issuer), ("serial", c.serialNumber),
                ("thumbprint (SHA-1)", c.thumbprintSHA1), ("SHA-256", c.fingerprintSHA256),
                ("not before", c.notValidBefore.formatted(.iso8601)),
                ("not after", c.notValidAfter.formatted(.iso8601)),
                ("key", "\(c.keyAlgorithm) \(c.keyBits)" + (c.keyCurve.map { " \($0)" } ?? "")),
                ("signature", c.signatureAlgorithm),
                ("self-signed", c.isSelfSigned ? "yes" : "no"), ("CA", c.isCA ? "yes" : "no"),
            ]
            if !c.subjectAlternativeNames.isEmpty {
                lines.append(("SANs", c.subjectAlternativeNames.joined(separator: ", ")))
            }
            if let ku = c.keyUsage, !ku.isEmpty { lines.append(("key usage", ku.joined(separator: ", "))) }
            if let eku = c.extendedKeyUsage, !eku.isEmpty {
                lines.append(("extended key usage", eku.joined(separator: ", ")))
            }
        } else if entry.status == .pending {
            lines.append(("requested subject", entry.requestedSubject ?? "-"))
            lines.append(("requested names", (entry.requestedNames ?? []).joined(separator: ", ")))
            lines.append(
                (
                    "waiting for",
                    "the certificate a CA issues for this key; 'certvault import' it to complete the entry ('export --format csr' gives the request again)"
                )
            )
        } else {
            lines.append(("certificate", "none (a key-only entry)"))
        }
        lines.append(("private key", entry.hasPrivateKey ? "held (encrypted)" : "not held"))
        lines.append(("access", entry.access.isEmpty ? "nobody" : entry.access.joined(separator: ", ")))
        if chain.count > 1 {
            lines.append(("chain", chain.map(\.subject).joined(separator: " → ")))
        } else if let c = entry.certificate, !c.isSelfSigned {
            lines.append(("chain", "issuer not in the vault (import it to complete the chain)"))
        }
        lines.append(("added", "\(entry.createdAt.formatted(.iso8601)) by \(entry.createdBy)"))
        if let old = entry.replacesEntryID { lines.append(("replaces", "entry \(old)")) }
        if let reason = entry.revocationReason {
            lines.append(("revoked", "\(reason.rawValue)\(entry.revokedAt.map { " on \(Output.date($0))" } ?? "")"))
        }
        if let retired = entry.retiredAt { lines.append(("retired", "removed from Azure on \(Output.date(retired))")) }
        let width = lines.map(\.0.count).max() ?? 0
        for (k, v) in lines { Output.line(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
    }
}
