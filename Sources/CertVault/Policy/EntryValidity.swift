import Foundation

/// Where an entry's certificate stands in time.
public enum Validity: Sendable, Equatable {
    /// No certificate (a key on its own, a pending request).
    case none
    /// Not valid before a later date.
    case notYetValid
    /// Valid, with this many whole days left.
    case valid(daysLeft: Int)
    /// Past its end.
    case expired(daysAgo: Int)
}

extension Entry {
    /// Where the certificate stands at `now`.
    public func validity(at now: Date = Date()) -> Validity {
        guard let cert = certificate else { return .none }
        let left = cert.notValidAfter.timeIntervalSince(now)
        if left <= 0 { return .expired(daysAgo: Int((-left / 86_400).rounded(.down))) }
        if cert.notValidBefore > now { return .notYetValid }
        return .valid(daysLeft: Int((left / 86_400).rounded(.down)))
    }

    /// The status a person reads in a list: `expired`, `expiring in 12
    /// days` (within `window` days), `not yet valid`, or the stored status,
    /// with `rotate` when a rotation is due.
    public func displayStatus(at now: Date = Date(), window: Int = 30) -> String {
        var text = status.rawValue
        if status == .active {
            switch validity(at: now) {
            case .expired: text = "expired"
            case .notYetValid: text = "not yet valid"
            case .valid(let days) where days <= window:
                text = days == 1 ? "expiring in 1 day" : "expiring in \(days) days"
            default: break
            }
        }
        return needsRotation ? text + ", rotate" : text
    }
}
