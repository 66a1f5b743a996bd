import Foundation
import TestSupport
import XCTest

/// Renewals in the calendar (`list --ics`), judged by Python's `icalendar`.
final class CalendarTests: CLITestCase {
    override var defaultActor: String? { "alice" }

    func testRenewalsAreEventsACalendarReadsWithAlarmsAndStableUIDs() throws {
        try initVault()
        XCTAssertEqual(
            try cvAs("alice", ["new", "management", "--subject", "CN=m1", "--alias", "m1", "--days", "400"]).status,
            0
        )
        // A subject with every character RFC 5545 escapes, and a comma an attacker might hope splits a field.
        XCTAssertEqual(
            try cvAs(
                "alice",
                ["new", "app-credential", "--subject", "CN=evil; DTSTART:19700101,O=Contoso", "--alias", "app1"]
            ).status,
            0
        )
        XCTAssertEqual(try cvAs("alice", ["policy", "set", "expiry-windows", "60,30,7"]).status, 0)
        XCTAssertEqual(try cvAs("alice", ["policy", "set", "management-max-age", "90"]).status, 0)
        try addPerson("bob", role: "officer")
        XCTAssertEqual(try cvAs("alice", ["grant", "m1", "bob"]).status, 0)
        XCTAssertEqual(try cvAs("alice", ["person", "depart", "bob", "--reason", "left"]).status, 0)
        let first = try cv(["list", "--ics"])
        XCTAssertEqual(first.status, 0, first.err)
        try first.stdout.write(to: dir.appendingPathComponent("a.ics"))
        try cv(["list", "--ics"]).stdout.write(to: dir.appendingPathComponent("b.ics"))
        let script = """
            import sys, json, icalendar, datetime
            def read(path):
                raw = open(path, "rb").read()
                lines = raw.split(b"\\r\\n")
                assert lines[-1] == b"", "ends with CRLF"
                assert all(len(l) <= 75 for l in lines), max(len(l) for l in lines)
                assert b"\\n" not in raw.replace(b"\\r\\n", b""), "bare LF"
                cal = icalendar.Calendar.from_ical(raw)
                out = []
                for ev in cal.walk("VEVENT"):
                    alarms = sorted(int(a.get("TRIGGER").dt.total_seconds() // 86400) for a in ev.walk("VALARM"))
                    out.append({"uid": str(ev.get("UID")), "summary": str(ev.get("SUMMARY")),
                                "description": str(ev.get("DESCRIPTION")),
                                "day": ev.get("DTSTART").dt.isoformat(), "alarms": alarms})
                return out
            a, b = read(sys.argv[1]), read(sys.argv[2])
            print(json.dumps({"a": a, "b": b}))
            """
        let r = try Support.run("python3", ["-c", script, file("a.ics"), file("b.ics")])
        XCTAssertEqual(r.status, 0, r.err)
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: [[String: Any]]])
        let events = try XCTUnwrap(parsed["a"])
        let summaries = events.map { $0["summary"] as? String ?? "" }
        // m1: expires (alarms 60, 30, 7 days before), rotation age, and marked for rotation by bob's departure.
        XCTAssertTrue(summaries.contains("Renew m1: certificate expires"), "\(summaries)")
        XCTAssertTrue(summaries.contains("Rotate m1: 90 days in use"), "\(summaries)")
        XCTAssertTrue(summaries.contains("Rotate m1 now"), "\(summaries)")
        let expiry = try XCTUnwrap(events.first { $0["summary"] as? String == "Renew m1: certificate expires" })
        XCTAssertEqual(expiry["alarms"] as? [Int], [-60, -30, -7])
        // The hostile subject comes back as written, inside the description, and adds no field.
        let app = try XCTUnwrap(events.first { $0["summary"] as? String == "Renew app1: certificate expires" })
        XCTAssertTrue((app["description"] as? String ?? "").contains("DTSTART:19700101"), "\(app)")
        XCTAssertFalse(events.contains { ($0["day"] as? String ?? "").hasPrefix("1970") }, "\(events)")
        XCTAssertFalse(first.out.contains("\r\nDTSTART:1970"), first.out)
        XCTAssertEqual(events.count, 5, "\(summaries)")
        // Stable UIDs: a second export updates, never duplicates.
        let uids = events.map { $0["uid"] as? String ?? "" }
        XCTAssertEqual(Set(uids).count, uids.count)
        XCTAssertEqual(uids, try XCTUnwrap(parsed["b"]).map { $0["uid"] as? String ?? "" })
        // Rotated: the replaced certificate has no event, the new one its own.
        XCTAssertEqual(try cvAs("alice", ["rotate", "m1"]).status, 0)
        let after = try cv(["list", "--ics"]).out
        XCTAssertEqual(after.components(separatedBy: "BEGIN:VEVENT").count - 1, 4, after)
        let both = try cv(["list", "--ics", "--json"])
        XCTAssertEqual(both.status, 2, both.err)
    }
}
