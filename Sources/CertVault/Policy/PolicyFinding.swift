import Foundation

/// How much a finding matters.
public enum Severity: String, CaseIterable, Sendable, Codable, Comparable {
    /// Worth knowing; nothing breaks.
    case info
    /// Will break, or breaks a rule, soon or somewhere.
    case warning
    /// Breaks now, or breaks a rule Azure enforces.
    case error

    private var rank: Int {
        switch self {
        case .info: return 0
        case .warning: return 1
        case .error: return 2
        }
    }

    /// Info < warning < error.
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// One thing `check` found.
public struct PolicyFinding: Sendable, Codable, Equatable {
    /// The rule's stable id (`expired`, `management-key-size`, …).
    public var rule: String
    /// How much it matters.
    public var severity: Severity
    /// The entry it is about; nil for a finding about several (a
    /// subscription's limit) or about a person (a weak keyslot).
    public var entryID: Entry.ID?
    /// The entry's alias.
    public var alias: String?
    /// The entry's SHA-1 thumbprint, as Azure shows it.
    public var thumbprintSHA1: String?
    /// A sentence a person can act on.
    public var message: String
    /// The data behind it (dates, sizes, names), as text.
    public var data: [String: String]

    /// A finding from its fields.
    public init(
        rule: PolicyRule,
        severity: Severity,
        entry: Entry? = nil,
        message: String,
        data: [String: String] = [:]
    ) {
        self.rule = rule.rawValue
        self.severity = severity
        entryID = entry?.id
        alias = entry?.alias
        thumbprintSHA1 = entry?.certificate?.thumbprintSHA1
        self.message = message
        self.data = data
    }
}

/// What ``Vault/check(_:purpose:subscription:entries:now:)`` found, with what it checked.
public struct PolicyReport: Sendable, Codable {
    /// When the check ran; the dates are judged against it.
    public var checkedAt: Date
    /// How many entries were checked.
    public var entriesChecked: Int
    /// Every finding: by severity (errors first), then by the entry's expiry.
    public var findings: [PolicyFinding]
    /// The settings checked against.
    public var settings: PolicySettings

    /// Whether anything at or above `severity` was found.
    public func hasFindings(atLeast severity: Severity) -> Bool { findings.contains { $0.severity >= severity } }
}
