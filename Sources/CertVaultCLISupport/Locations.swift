import Foundation

/// Where the command line looks for things when it is not told.
public enum Locations {
    /// The default vault path: `$XDG_DATA_HOME/certvault/vault.db`, else
    /// `~/.local/share/certvault/vault.db`.
    public static var defaultVaultPath: String {
        if let xdg = ProcessInfo.processInfo.environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return xdg + "/certvault/vault.db"
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/certvault/vault.db"
    }

    /// The files named on a command line: directories are replaced by the
    /// files in them (sorted, hidden ones skipped), descending only when
    /// `recursive`.
    public static func expand(_ arguments: [String], recursive: Bool) -> [String] {
        var out: [String] = []
        for argument in arguments {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDir), isDir.boolValue else {
                out.append(argument)
                continue
            }
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []).filter {
                !$0.hasPrefix(".")
            }.sorted()
            for name in names {
                let path = (argument as NSString).appendingPathComponent(name)
                var sub: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &sub)
                if sub.boolValue {
                    if recursive { out += expand([path], recursive: true) }
                } else {
                    out.append(path)
                }
            }
        }
        return out
    }
}
