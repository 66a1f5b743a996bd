import Foundation
import GRDB

/// A policy setting kept in the vault, as a signed `policy.set` record.
public enum PolicyKey: String, CaseIterable, Sendable, Codable {
    /// ``PolicySettings/managementLimit``: a whole number from 1.
    case managementLimit = "management-limit"
    /// ``PolicySettings/expiryWindows`` and ``PolicySettings/expiryShare``:
    /// `60,30,7`, `20%`, or both.
    case expiryWindows = "expiry-windows"
    /// ``PolicySettings/managementMaxAgeDays``: a whole number of days from 1.
    case managementMaxAge = "management-max-age"
    /// ``PolicySettings/trustedRoots``: CA certificates as base64 DER, one
    /// after another separated by commas (``trustedRootsValue(pem:)`` makes
    /// it from a PEM file), or `none`.
    case trustedRoots = "trusted-roots"
    /// ``PolicySettings/requireSink``: `on` or `off`.
    case requireSink = "require-sink"

    /// Applies `value` to `settings`, or throws `.invalidArgument` saying what is expected.
    public func apply(_ value: String, to settings: inout PolicySettings) throws {
        switch self {
        case .managementLimit:
            guard let n = Int(value), n >= 1 else {
                throw CertVaultError(.invalidArgument, "management-limit must be a whole number from 1, not '\(value)'")
            }
            settings.managementLimit = n
        case .managementMaxAge:
            guard let n = Int(value), n >= 1 else {
                throw CertVaultError(
                    .invalidArgument,
                    "management-max-age must be a whole number of days from 1, not '\(value)'"
                )
            }
            settings.managementMaxAgeDays = n
        case .expiryWindows:
            (settings.expiryWindows, settings.expiryShare) = try PolicySettings.windows(value)
        case .requireSink:
            switch value {
            case "on": settings.requireSink = true
            case "off": settings.requireSink = false
            default: throw CertVaultError(.invalidArgument, "require-sink is on or off, not '\(value)'")
            }
        case .trustedRoots:
            guard value != "none" else {
                settings.trustedRoots = []
                return
            }
            let parts = value.split(separator: ",")
            guard parts.count <= Self.mostTrustedRoots else {
                throw CertVaultError(
                    .invalidArgument,
                    "trusted-roots takes at most \(Self.mostTrustedRoots) certificates, not \(parts.count)"
                )
            }
            settings.trustedRoots = try parts.map { part in
                guard let der = Data(base64Encoded: String(part)), let cert = try? Certificate(derEncoded: der),
                    cert.isCA
                else {
                    throw CertVaultError(
                        .invalidArgument,
                        "trusted-roots takes CA certificates",
                        hint: "give a PEM file of your private CA's root certificates, or none"
                    )
                }
                return der
            }
        }
    }

    /// The most roots ``trustedRoots`` holds: a private CA has a few.
    public static let mostTrustedRoots = 100

    /// The value of ``trustedRoots`` for the CA certificates in `pem`, each
    /// once: what `policy set trusted-roots FILE` stores.
    /// - Throws: `.invalidArgument` when `pem` holds no certificate, one
    ///   that is not a CA's, or an intermediate CA's (issued by another).
    public static func trustedRootsValue(pem: Data) throws -> String {
        let material: Material
        do { material = try MaterialReader.read(pem, password: nil, limits: .standard) } catch let error
            as CertVaultError
        {
            throw CertVaultError(.invalidArgument, "the roots cannot be read: \(error.message)")
        }
        guard material.keys.isEmpty else {
            throw CertVaultError(.invalidArgument, "the roots file holds a private key: give only certificates")
        }
        // An intermediate is no anchor: the chain check would still look past it for a root.
        for found in material.certificates {
            let m = try found.certificate.metadata()
            guard m.isSelfSigned || !m.isCA else {
                throw CertVaultError(
                    .invalidArgument,
                    "\(m.subject) is not a root: it was issued by \(m.issuer)",
                    hint:
                        "give the root certificate here; import the intermediate into the vault, where the chain check finds it"
                )
            }
        }
        var seen = Set<Data>()
        let ders = try material.certificates.map { try $0.certificate.derEncoded }.filter { seen.insert($0).inserted }
        guard !ders.isEmpty else {
            throw CertVaultError(
                .invalidArgument,
                "the roots file holds no certificate",
                hint: "give a PEM file of your private CA's root certificates"
            )
        }
        let value = ders.map { $0.base64EncodedString() }.joined(separator: ",")
        var probe = PolicySettings()
        try PolicyKey.trustedRoots.apply(value, to: &probe)
        return value
    }

    /// `value` as a person reads it: for ``trustedRoots``, each root's
    /// subject and the start of its SHA-256 fingerprint instead of base64.
    public func summary(of value: String) -> String {
        guard self == .trustedRoots, value != "none" else { return value }
        var probe = PolicySettings()
        guard (try? apply(value, to: &probe)) != nil else { return value }
        return probe.trustedRoots.compactMap { der -> String? in
            guard let m = try? Certificate(derEncoded: der).metadata() else { return nil }
            return "\(m.subject) (SHA-256 \(m.fingerprintSHA256.prefix(16))…)"
        }.joined(separator: "; ")
    }

    /// The setting's value in `settings`, as `policy set` takes it.
    public func value(in settings: PolicySettings) -> String {
        switch self {
        case .managementLimit: return String(settings.managementLimit)
        case .managementMaxAge: return String(settings.managementMaxAgeDays)
        case .requireSink: return settings.requireSink ? "on" : "off"
        case .expiryWindows:
            var parts = settings.expiryWindows.map(String.init)
            if let share = settings.expiryShare { parts.append("\(Int((share * 100).rounded()))%") }
            return parts.joined(separator: ",")
        case .trustedRoots:
            return settings.trustedRoots.isEmpty
                ? "none" : settings.trustedRoots.map { $0.base64EncodedString() }.joined(separator: ",")
        }
    }
}

extension PolicySettings {
    /// Reads expiry windows: days (`30`, `60,30,7`), a share of the
    /// lifetime (`20%`), or both.
    public static func windows(_ text: String) throws -> ([Int], Double?) {
        var windows: [Int] = []
        var share: Double?
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if part.hasSuffix("%"), let p = Double(part.dropLast()), p > 0, p < 100 {
                share = p / 100
            } else if let d = Int(part), (0...3650).contains(d) {
                windows.append(d)
            } else {
                throw CertVaultError(
                    .invalidArgument,
                    "cannot read the expiry window '\(part)'",
                    hint: "give days (30, or 60,30,7) or a share of the lifetime (20%)"
                )
            }
        }
        guard !windows.isEmpty || share != nil else {
            throw CertVaultError(
                .invalidArgument,
                "no expiry window in '\(text)'",
                hint: "give days (30, or 60,30,7) or a share of the lifetime (20%)"
            )
        }
        return (windows.sorted(by: >), share)
    }
}

/// One policy setting and who set it.
public struct PolicyEntry: Sendable, Codable, Equatable {
    /// The setting.
    public var key: PolicyKey
    /// Its value, as `policy set` takes it.
    public var value: String
    /// The admin who set it; nil for a default.
    public var setBy: String?
    /// When; nil for a default.
    public var setAt: Date?
    /// The record that set it; nil for a default.
    public var seq: Int64?
}

extension Vault {
    /// The vault's policy: the defaults, overridden by the signed
    /// `policy.set` records in order (only admins' are believed: the vault
    /// must match its signed records first).
    public func policy() throws -> (settings: PolicySettings, entries: [PolicyEntry]) {
        try checkedRead { db, state in try Self.policy(db, state: state) }
    }

    static func policy(_ db: Database, state: VaultState) throws -> (settings: PolicySettings, entries: [PolicyEntry]) {
        var settings = PolicySettings()
        var set: [PolicyKey: PolicyEntry] = [:]
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT \(AuditChain.columns) FROM audit WHERE action = ? ORDER BY seq",
            arguments: [AuditAction.policySet.rawValue]
        )
        for row in rows {
            let record = try AuditRecord(row: row)
            // Only a record whose text hashes right and whose signature is by a person the signed
            // records introduce sets anything (every command also checks the log; this holds without it).
            guard record.recomputedHash == record.hash, let signature = record.signature,
                let signer = record.actorRow.flatMap({ state.ledger.people[$0] }), let key = signer.signPublicKey,
                Signature.verify(signature, message: record.hash, publicKey: key)
            else { continue }
            let details = record.fields
            guard let raw = details.string(.key), let key = PolicyKey(rawValue: raw),
                let value = details.string(.value)
            else { continue }
            // A value no certvault would have signed is not believed.
            guard (try? key.apply(value, to: &settings)) != nil else { continue }
            let actor = record.actorRow.flatMap { state.ledger.people[$0]?.handle }
            set[key] = PolicyEntry(
                key: key,
                value: value,
                setBy: actor,
                setAt: Timestamp.parse(record.at),
                seq: record.seq
            )
        }
        let entries = PolicyKey.allCases.map {
            set[$0] ?? PolicyEntry(key: $0, value: $0.value(in: PolicySettings()), setBy: nil, setAt: nil, seq: nil)
        }
        return (settings, entries)
    }
}

extension Session {
    /// Sets a policy value for every officer's `check`, in a record signed
    /// by this admin.
    /// - Throws: `.noAccess` for anyone but an admin; `.invalidArgument`
    ///   for a value the setting cannot take.
    @discardableResult
    public func setPolicy(_ key: PolicyKey, to value: String) throws -> PolicyEntry {
        try requireRole([.admin], to: "set the policy")
        var probe = PolicySettings()
        try key.apply(value, to: &probe)
        let normalized = key.value(in: probe)
        return try change { c in
            let seq = c.record(.policySet, details: [.key: .text(key.rawValue), .value: .text(normalized)])
            return PolicyEntry(key: key, value: normalized, setBy: person.handle, setAt: Date(), seq: seq)
        }
    }
}
