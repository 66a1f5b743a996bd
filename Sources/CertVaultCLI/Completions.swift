import ArgumentParser
import CertVault
import Foundation

/// Shell completion of entry references and handles, read from the vault
/// without a passphrase (public data), read-only and without touching this
/// machine's rollback witness. A vault that cannot be read completes nothing.
///
/// The shell hands these words to `compgen -W` (bash), which expands `$(…)`
/// and backquotes in them: only names that keep to the alias and handle
/// rules (ASCII letters, digits, `.`, `-`, `_`) are offered, whatever the
/// vault file holds. An older alias outside the rule is named by id.
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
            all = ((try? vault.people()) ?? []).filter { $0.status == .active }.map(\.handle).filter(
                Vault.isValidHandle
            )
        } else {
            all = ((try? vault.entries()) ?? []).map(\.alias).filter(Alias.isValid)
        }
        return all.filter { $0.hasPrefix(prefix) }.sorted()
    }
}
