import ArgumentParser
import CertVault
import Foundation

/// Shell completion of entry references and handles, read from the vault
/// without a passphrase (public data), read-only and without touching this
/// machine's rollback witness. A vault that cannot be read completes nothing.
enum Completions {
    static let entries = CompletionKind.custom { words, _, prefix in names(words, prefix, people: false) }
    static let handles = CompletionKind.custom { words, _, prefix in names(words, prefix, people: true) }

    static func names(_ words: [String], _ prefix: String, people: Bool) -> [String] {
        var path: String?
        if let i = words.firstIndex(of: "--vault"), i + 1 < words.count { path = words[i + 1] }
        if let v = words.first(where: { $0.hasPrefix("--vault=") }) { path = String(v.dropFirst(8)) }
        let vaultPath = path ?? GlobalOptions.vaultPath(given: nil)
        // Only a regular file: opening a FIFO would block the shell.
        var info = stat()
        guard stat(vaultPath, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return [] }
        guard let vault = try? Vault.open(at: vaultPath, witness: nil, readOnly: true) else { return [] }
        let all: [String]
        if people {
            all = ((try? vault.people()) ?? []).filter { $0.status == .active }.map(\.handle)
        } else {
            all = ((try? vault.entries()) ?? []).map(\.alias)
        }
        return all.filter { $0.hasPrefix(prefix) }.sorted()
    }
}
