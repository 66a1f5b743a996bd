import Foundation
import TestSupport
import XCTest

/// The report as a reader sees it, in headless Chromium (Debian's
/// `chromium`) at 1280 px: nothing wider than the page, no label cut,
/// retired and revoked entries drawn apart, times with their offset, the
/// alias at the time beside today's, trusted roots named. A test-only
/// script is injected into a copy of the page and writes what it measured
/// into the DOM (`--dump-dom`); the page itself stays script-free.
final class ReportLayoutTests: CLITestCase {
    override var defaultActor: String? { "alice" }

    static let measure = """
        <script>
        (function () {
          document.querySelectorAll("details").forEach(function (d) { d.open = true; });
          var facts = { viewport: window.innerWidth, scrollWidth: document.documentElement.scrollWidth };
          var widest = 0, widestWhat = "";
          document.querySelectorAll("body *").forEach(function (el) {
            var r = el.getBoundingClientRect();
            if (r.right > widest) { widest = r.right; widestWhat = el.tagName + ":" + (el.textContent || "").slice(0, 40); }
          });
          facts.widest = widest; facts.widestWhat = widestWhat;
          var cut = [];
          document.querySelectorAll("svg text").forEach(function (t) {
            var b = t.getBBox(), vb = t.ownerSVGElement.viewBox.baseVal;
            if (b.x < vb.x - 0.5 || b.x + b.width > vb.x + vb.width + 0.5) cut.push("svg:" + t.textContent);
          });
          document.querySelectorAll("td, th, pre, code, summary, h1, h2, h3, p, li").forEach(function (el) {
            if (el.scrollWidth > el.clientWidth + 1) cut.push(el.tagName + ":" + el.textContent.slice(0, 60));
          });
          facts.cut = cut;
          facts.labels = Array.prototype.map.call(document.querySelectorAll("svg text"), function (t) { return t.textContent; });
          var pre = document.createElement("pre");
          pre.id = "layout-facts";
          pre.textContent = "FA" + "CTS" + JSON.stringify(facts) + "E" + "ND";
          document.body.appendChild(pre);
        })();
        </script>
        """

    func testTheReportFitsThePageAndSaysWhatAnAuditorNeeds() throws {
        guard (try? Support.run("chromium", ["--version"]))?.status == 0 else {
            return XCTFail("chromium is not installed (bash scripts/install-deps.sh --test installs it)")
        }
        try initVault()
        let long = "payments-gateway-production-westeurope-primary-certificate-2027"
        for (alias, days) in [(long, "900"), ("old", "400"), ("gone", "200"), ("web", "90")] {
            let r = try cvAs(
                "alice",
                ["new", "management", "--subject", "CN=\(alias)", "--alias", alias, "--days", days]
            )
            XCTAssertEqual(r.status, 0, r.err)
        }
        XCTAssertEqual(try cvAs("alice", ["rotate", "old"]).status, 0)
        let retired = try cvAs("alice", ["retire", "2"])
        XCTAssertEqual(retired.status, 0, retired.err)
        XCTAssertEqual(try cvAs("alice", ["revoke", "gone", "--reason", "keyCompromise"]).status, 0)
        XCTAssertEqual(try cvAs("alice", ["rename", "web", "web-frontend"]).status, 0)
        // A private CA's root, trusted by the policy.
        let ca = try Support.run(
            "openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.pem"),
                "-days", "3650", "-subj", "/CN=Contoso Private Root CA/O=Contoso",
            ]
        )
        XCTAssertEqual(ca.status, 0, ca.err)
        XCTAssertEqual(try cvAs("alice", ["policy", "set", "trusted-roots", file("ca.pem")]).status, 0)
        let out = file("report.html")
        XCTAssertEqual(try cv(["report", "--out", out]).status, 0)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "the shipped page has no script")
        // The root by name, its raw form folded away.
        XCTAssertTrue(html.contains("CN=Contoso Private Root CA"), html)
        XCTAssertTrue(html.contains("<details><summary>raw (base64 DER)</summary>"), html)
        // The record that set it reads as names too, never as the base64 it holds.
        XCTAssertTrue(html.contains("set the policy&#39;s trusted roots to O=Contoso,CN=Contoso Private Root CA"), html)
        let activity = try XCTUnwrap(html.components(separatedBy: "id=\"activity-table\"").last)
        XCTAssertFalse(activity.components(separatedBy: "id=\"policy\"")[0].contains("MII"), "base64 in the activity")
        // Times with their offset; the alias at the time beside today's.
        XCTAssertNotNil(html.range(of: #"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+00:00"#, options: .regularExpression))
        XCTAssertTrue(html.contains("web <span class=\"info\">(now web-frontend)</span>"), html)
        // Retired and revoked drawn apart from what is live.
        XCTAssertTrue(html.contains("fill=\"url(#hatch)\""), "a revoked bar")
        XCTAssertTrue(html.contains("(revoked)") && html.contains("(retired)"), html)
        XCTAssertTrue(html.contains("stroke-dasharray=\"3 2\""), "a retired bar")
        XCTAssertTrue(html.contains(">today</text>"), html)

        let copy = dir.appendingPathComponent("measured.html")
        try html.replacingOccurrences(of: "</body>", with: Self.measure + "</body>").write(
            to: copy,
            atomically: true,
            encoding: .utf8
        )
        let shown = try Support.run(
            "chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000",
                "--virtual-time-budget=3000", "--dump-dom", copy.absoluteString,
            ]
        )
        let dom = shown.out
        guard let start = dom.range(of: "FACTS"), let end = dom.range(of: "END", range: start.upperBound..<dom.endIndex)
        else { return XCTFail("no layout facts: \(shown.err.suffix(2000))") }
        let json = String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        let facts = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
        let viewport = try XCTUnwrap(facts["viewport"] as? Double)
        XCTAssertEqual(viewport, 1280, accuracy: 40)
        XCTAssertLessThanOrEqual(try XCTUnwrap(facts["scrollWidth"] as? Double), viewport, "\(facts)")
        XCTAssertLessThanOrEqual(try XCTUnwrap(facts["widest"] as? Double), viewport, "\(facts)")
        XCTAssertEqual(facts["cut"] as? [String], [], "\(facts)")
        // Every label whole, the long one included.
        let labels = try XCTUnwrap(facts["labels"] as? [String])
        XCTAssertTrue(labels.contains("\(long) (active)"), "\(labels)")
    }
}
