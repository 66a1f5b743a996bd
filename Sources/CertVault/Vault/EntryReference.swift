import Foundation

/// How a caller names an entry.
///
/// A program that holds an ``Entry/ID`` looks the entry up by it and
/// nothing else; `.any` is what a person types, tried as an alias, then an
/// id, then a thumbprint prefix. Aliases are never all digits, so an id
/// typed by a person cannot match another entry's alias.
public enum EntryReference: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The entry with this id.
    case id(Entry.ID)
    /// The entry with this alias.
    case alias(String)
    /// The entry whose SHA-1 thumbprint or SHA-256 fingerprint starts with
    /// these hex digits (at least 8; colons and case ignored).
    case thumbprint(String)
    /// An alias, an id or a thumbprint prefix, as a person types it.
    case any(String)

    /// A literal is what a person types: ``any(_:)``.
    public init(stringLiteral value: String) { self = .any(value) }

    /// The reference for messages: `entry 3`, `'web'`, `thumbprint AB12CD34`.
    public var description: String {
        switch self {
        case .id(let id): return "entry \(id)"
        case .alias(let alias): return Display.quoted(alias)
        case .thumbprint(let hex): return "thumbprint \(hex)"
        case .any(let text): return Display.quoted(text)
        }
    }
}
