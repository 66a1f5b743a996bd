import Foundation

/// Renewals in the calendar: one RFC 5545 event per entry to renew or
/// rotate, with the policy's warning windows as alarms.
///
/// - An active entry with a certificate: an all-day event on its last valid
///   day ("Renew ALIAS"), an alarm for each expiry window (60, 30, 7 days
///   before; or the share of the lifetime).
/// - A management or app certificate: also the day its rotation age is
///   reached ("Rotate ALIAS"), when that comes before it expires.
/// - An entry marked for rotation (someone who could open it left): an
///   event today ("Rotate ALIAS now"), with the reason.
///
/// Each event's UID is made from the vault id, the entry id and what the
/// event is for, so importing the file again updates the events instead of
/// adding copies. Text from a certificate is escaped as RFC 5545 says
/// (backslash, `;`, `,`, newline) after control characters are spelled out,
/// and lines are folded at 75 octets without splitting a character.
public struct RenewalCalendar: Sendable {
    /// One event.
    public struct Event: Sendable, Equatable {
        public var uid: String
        /// The day (UTC) the event is on.
        public var day: Date
        public var summary: String
        public var description: String
        /// Days before the event each alarm rings.
        public var alarmDays: [Int]
    }

    public var events: [Event]
    public var createdAt: Date

    /// The events of `entries` under `settings`, as of `now`.
    public init(entries: [Entry], settings: PolicySettings, vaultID: Data, now: Date = Date()) {
        let vault = vaultID.prefix(8).map { String(format: "%02x", $0) }.joined()
        let day = 86_400.0
        var events: [Event] = []
        for e in entries where e.status == .active || e.status == .pending {
            let uid = { (what: String) in "certvault-\(vault)-entry-\(e.id)-\(what)@certvault" }
            let alias = Display.escaped(e.alias)
            if e.needsRotation {
                events.append(
                    Event(
                        uid: uid("needs-rotation"),
                        day: now,
                        summary: "Rotate \(alias) now",
                        description:
                            "certvault: \(alias) is marked for rotation (\(Display.escaped(e.rotationReason ?? "someone who could open it left"))). Run certvault rotate \(alias).",
                        alarmDays: [0]
                    )
                )
            }
            guard e.status == .active, let cert = e.certificate else { continue }
            let lifetime = cert.notValidAfter.timeIntervalSince(cert.notValidBefore)
            var alarms = settings.expiryWindows
            if let share = settings.expiryShare, lifetime > 0 { alarms = [Int((share * lifetime / day).rounded())] }
            let subject = Display.escaped(cert.subject)
            events.append(
                Event(
                    uid: uid("expiry"),
                    day: cert.notValidAfter,
                    summary: "Renew \(alias): certificate expires",
                    description:
                        "certvault: \(alias) (\(subject), SHA-1 \(cert.thumbprintSHA1)) is valid until \(Timestamp.format(cert.notValidAfter)). Renew or rotate it before then.",
                    alarmDays: alarms.filter { $0 > 0 }.sorted(by: >)
                )
            )
            if e.purpose == .management || e.purpose == .app {
                let due = cert.notValidBefore.addingTimeInterval(Double(settings.managementMaxAgeDays) * day)
                if due < cert.notValidAfter {
                    events.append(
                        Event(
                            uid: uid("rotation-age"),
                            day: due,
                            summary: "Rotate \(alias): \(settings.managementMaxAgeDays) days in use",
                            description:
                                "certvault: \(alias) (\(subject)) reaches the policy's rotation age of \(settings.managementMaxAgeDays) days. Run certvault rotate \(alias), and upload the new certificate.",
                            alarmDays: [7]
                        )
                    )
                }
            }
        }
        self.events = events.sorted { ($0.day, $0.uid) < ($1.day, $1.uid) }
        createdAt = now
    }

    /// The calendar as an RFC 5545 text (CRLF line ends, folded lines).
    public var text: String {
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//certvault//certvault \(certvaultVersion)//EN",
            "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:certvault renewals",
        ]
        let stamp = Self.dateTime(createdAt)
        for e in events {
            lines += [
                "BEGIN:VEVENT",
                "UID:" + Self.escape(e.uid),
                "DTSTAMP:" + stamp,
                "DTSTART;VALUE=DATE:" + Self.date(e.day),
                "DTEND;VALUE=DATE:" + Self.date(e.day.addingTimeInterval(86_400)),
                "SUMMARY:" + Self.escape(e.summary),
                "DESCRIPTION:" + Self.escape(e.description),
                "TRANSP:TRANSPARENT",
            ]
            for days in e.alarmDays {
                lines += [
                    "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:" + Self.escape(e.summary),
                    "TRIGGER;RELATED=START:" + (days == 0 ? "PT0S" : "-P\(days)D"), "END:VALARM",
                ]
            }
            lines.append("END:VEVENT")
        }
        lines.append("END:VCALENDAR")
        return lines.map(Self.fold).joined(separator: "\r\n") + "\r\n"
    }

    /// TEXT as RFC 5545 writes it: `\\`, `\;`, `\,`, `\n`; other control
    /// characters are spelled out before (``Display/escaped(_:)``).
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\n", "\r\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A line of at most 75 octets, the rest on continuation lines that
    /// start with a space; never inside a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        var out: [String] = []
        var current = ""
        var octets = 0
        for ch in line {
            let n = String(ch).utf8.count
            let limit = out.isEmpty ? 75 : 74
            if octets + n > limit {
                out.append(current)
                current = ""
                octets = 0
            }
            current.append(ch)
            octets += n
        }
        out.append(current)
        return out.joined(separator: "\r\n ")
    }

    static func date(_ d: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: d)
        return String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
    }

    static func dateTime(_ d: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: d)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}

extension Vault {
    /// The renewal calendar of this vault's entries under its policy.
    public func renewalCalendar(now: Date = Date()) throws -> RenewalCalendar {
        let entries = try self.entries()
        let settings = try policy().settings
        return RenewalCalendar(entries: entries, settings: settings, vaultID: vaultID, now: now)
    }
}
