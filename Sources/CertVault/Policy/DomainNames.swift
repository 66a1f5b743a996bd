import Foundation

/// DNS names as a certificate check compares them (RFC 6125): case-folded,
/// internationalized names in their A-label (`xn--`) form, wildcards only
/// as one whole left-most label.
enum DomainNames {
    /// `name` in the form certificates carry: lower-case, each label in
    /// ASCII (Punycode for a label with other characters), no trailing dot.
    /// Nil for a name that cannot be a host name.
    static func aLabel(_ name: String) -> String? {
        var text = name.precomposedStringWithCanonicalMapping.lowercased()
        if text.hasSuffix(".") { text.removeLast() }
        guard !text.isEmpty, text.utf8.count <= 253 else { return nil }
        var labels: [String] = []
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return nil }
            if label.unicodeScalars.allSatisfy(\.isASCII) {
                labels.append(String(label))
            } else {
                guard let encoded = Punycode.encode(String(label)) else { return nil }
                labels.append("xn--" + encoded)
            }
        }
        return labels.joined(separator: ".")
    }

    /// Refuses any of `names` (a domain tag, a request's DNS names) that is
    /// not a host name: letters, digits and hyphens in labels of 1 to 63
    /// (an IDN's labels as their A-labels), a wildcard only as a whole
    /// left-most label before at least two more.
    static func requireHostNames(_ names: [String], what: String) throws {
        for name in names {
            let wildcard = name.hasPrefix("*.")
            guard let a = aLabel(wildcard ? String(name.dropFirst(2)) : name), isHostName(a),
                !wildcard || a.contains(".")
            else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(Display.quoted(name)) is not a host name (\(what))",
                    hint: "give a DNS name such as www.contoso.com, or *.contoso.com for a wildcard"
                )
            }
        }
    }

    /// Whether every label of the A-label form `name` is letters, digits
    /// and inner hyphens, 1 to 63 bytes.
    static func isHostName(_ name: String) -> Bool {
        name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
        }
    }

    /// Whether the certificate name `pattern` (a DNS SAN or CN) covers
    /// `host`: equal, or a wildcard `*` standing for exactly one whole
    /// left-most label, with at least two labels after it (never `*.com`).
    static func covers(_ pattern: String, _ host: String) -> Bool {
        guard let host = aLabel(host) else { return false }
        guard pattern.hasPrefix("*.") else { return aLabel(pattern) == host }
        guard let rest = aLabel(String(pattern.dropFirst(2))), rest.contains(".") else { return false }
        guard let dot = host.firstIndex(of: ".") else { return false }
        let first = host[..<dot]
        // The wildcard stands for a whole label, and not for an A-label's (RFC 6125 §6.4.3).
        return !first.isEmpty && !first.hasPrefix("xn--") && host[host.index(after: dot)...] == rest
    }

    /// The names a certificate answers to: its DNS SANs, or its CN when it
    /// has none (as browsers no longer do, but Azure's older checks did).
    static func names(of certificate: CertificateMetadata) -> [String] {
        let dns = certificate.subjectAlternativeNames.compactMap { san -> String? in
            san.hasPrefix("DNS:") ? String(san.dropFirst(4)) : nil
        }
        if !dns.isEmpty { return dns }
        return commonName(of: certificate.subject).map { [$0] } ?? []
    }

    /// The CN of an RFC 4514 name, unescaped enough for a host name.
    static func commonName(of subject: String) -> String? {
        for part in subject.split(separator: ",") where part.hasPrefix("CN=") {
            return part.dropFirst(3).replacingOccurrences(of: "\\", with: "")
        }
        return nil
    }

    /// Domains an organisation cannot own: Azure's own. A CA issues a
    /// certificate only to a domain's owner, so a name under one of these
    /// gets no certificate; the site's own name, pointed there with a CNAME,
    /// does.
    static let foreignSuffixes = [
        "cloudapp.net", "cloudapp.azure.com", "azurewebsites.net", "trafficmanager.net", "azureedge.net",
        "azurefd.net", "azure-api.net", "azurecontainerapps.io", "azurestaticapps.net", "blob.core.windows.net",
        "file.core.windows.net", "web.core.windows.net", "database.windows.net", "vault.azure.net",
        "servicebus.windows.net", "azurecr.io", "azmk8s.io",
    ]

    /// The Azure-owned domain `name` is or is under, if any.
    static func foreignSuffix(of name: String) -> String? {
        guard var host = aLabel(name) else { return nil }
        if host.hasPrefix("*.") { host.removeFirst(2) }
        return foreignSuffixes.first { host == $0 || host.hasSuffix("." + $0) }
    }
}

/// Punycode (RFC 3492), the encoding of an internationalized label.
enum Punycode {
    private static let base = 36
    private static let tMin = 1
    private static let tMax = 26
    private static let skew = 38
    private static let damp = 700

    private static func digit(_ d: Int) -> Character {
        Character(UnicodeScalar(UInt8(d < 26 ? 97 + d : 22 + d)))
    }

    private static func adapt(_ delta: Int, _ count: Int, _ first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / count
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    /// The Punycode of `label` (without the `xn--` prefix); nil on overflow.
    static func encode(_ label: String) -> String? {
        let input = label.unicodeScalars.map { Int($0.value) }
        var output = String(String.UnicodeScalarView(label.unicodeScalars.filter(\.isASCII)))
        let basic = output.unicodeScalars.count
        var handled = basic
        if basic > 0 { output.append("-") }
        var n = 128
        var delta = 0
        var bias = 72
        while handled < input.count {
            guard let m = input.filter({ $0 >= n }).min() else { return nil }
            let (step, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow, delta <= Int.max - step else { return nil }
            delta += step
            n = m
            for c in input {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basic)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return output
    }
}
