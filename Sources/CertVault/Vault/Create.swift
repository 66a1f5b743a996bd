import Foundation
import GRDB

extension Session {
    /// Refuses for a management certificate what Azure refuses: anything
    /// but RSA of at least 2048 bits.
    static func requireManagementKey(_ spec: KeySpec) throws {
        guard case .rsa(let bits) = spec else {
            throw CertVaultError(
                .invalidArgument,
                "management certificates need an RSA key, not \(spec)",
                hint: "Azure accepts only RSA keys of at least 2048 bits: use rsa:2048, rsa:3072 or rsa:4096"
            )
        }
        guard bits >= 2048 else {
            throw CertVaultError(
                .invalidArgument,
                "an RSA key of \(bits) bits is refused: Azure requires at least 2048 bits",
                hint: "use rsa:2048, rsa:3072 or rsa:4096"
            )
        }
    }

    /// What ``createManagementCertificate(subject:keySpec:days:subscription:alias:)``
    /// and ``createAppCredential(subject:keySpec:days:appID:alias:)`` refuse
    /// in their arguments, checked as they check them but before anything is
    /// unlocked: the days of validity (1 to 3650), the key (RSA of 2048 bits
    /// at least), the subject and the alias.
    /// - Throws: `.invalidArgument` naming the first argument refused.
    public static func checkSelfSignedArguments(subject: String, keySpec: KeySpec, days: Int, alias: String?) throws {
        guard (1...3650).contains(days) else {
            throw CertVaultError(
                .invalidArgument,
                "a validity of \(days) days is outside 1 to 3650",
                hint: "such certificates are replaced yearly; 365 days is the default"
            )
        }
        try requireManagementKey(keySpec)
        _ = try CertificateBuilder.makeName(subject)
        try validateAlias(alias)
    }

    /// What ``createRequest(subject:dnsNames:keySpec:subscription:alias:)``
    /// refuses in its arguments, checked as it checks them but before
    /// anything is unlocked: the key, the names, the subject and the alias.
    /// - Throws: `.invalidArgument` naming the first argument refused.
    public static func checkRequestArguments(
        subject: String,
        dnsNames: [String],
        keySpec: KeySpec,
        alias: String?
    ) throws {
        let allowed: [KeySpec] = [.rsa2048, .rsa(bits: 3072), .rsa(bits: 4096), .ec(.p256), .ec(.p384)]
        guard allowed.contains(keySpec) else {
            throw CertVaultError(
                .invalidArgument,
                "a request key must be one of \(allowed.map(\.description).joined(separator: ", ")), not \(keySpec)",
                hint: "CAs issue for RSA of 2048 bits or more and for EC P-256 or P-384; rsa:2048 is the default"
            )
        }
        try DomainNames.requireHostNames(dnsNames, what: "a name of the request")
        _ = try CertificateBuilder.makeName(subject)
        try validateAlias(alias)
    }

    /// Makes what MakeCert made for Azure management certificates: an RSA key
    /// in the vault and a self-signed X.509 v3 certificate for client
    /// authentication (128-bit random serial, SHA-256, key usage
    /// digitalSignature and keyEncipherment, extended key usage clientAuth,
    /// subject key identifier).
    /// - Returns: the new entry; export it with ``Vault/exportPublic(_:format:to:force:)`` as `.cer` to upload.
    public func createManagementCertificate(
        subject: String,
        keySpec: KeySpec = .rsa2048,
        days: Int = 365,
        subscription: String? = nil,
        alias: String? = nil
    ) throws -> Entry {
        try createSelfSigned(
            purpose: .management,
            subject: subject,
            keySpec: keySpec,
            days: days,
            subscription: subscription,
            appID: nil,
            alias: alias
        )
    }

    /// Makes a certificate credential for an Entra ID app registration (the
    /// successor of management certificates): the same RSA key and
    /// self-signed client-auth certificate, purpose `app`, tagged with the
    /// application (client) id instead of a subscription.
    /// - Returns: the new entry; upload its `.cer` to the app registration.
    public func createAppCredential(
        subject: String,
        keySpec: KeySpec = .rsa2048,
        days: Int = 365,
        appID: String? = nil,
        alias: String? = nil
    ) throws -> Entry {
        if let appID, appID.isEmpty || appID.count > 200 || Display.hasControlCharacters(appID) {
            throw CertVaultError(
                .invalidArgument,
                "\(Display.quoted(appID)) is not an application id",
                hint: "give the app registration's application (client) id, a GUID"
            )
        }
        return try createSelfSigned(
            purpose: .app,
            subject: subject,
            keySpec: keySpec,
            days: days,
            subscription: nil,
            appID: appID,
            alias: alias
        )
    }

    private func createSelfSigned(
        purpose: EntryPurpose,
        subject: String,
        keySpec: KeySpec,
        days: Int,
        subscription: String?,
        appID: String?,
        alias: String?
    ) throws -> Entry {
        try requireRole([.admin, .officer], to: "create certificates")
        try Self.checkSelfSignedArguments(subject: subject, keySpec: keySpec, days: days, alias: alias)
        let key = try PrivateKey.generate(keySpec)
        var builder = CertificateBuilder(subject: subject)
        builder.days = days
        let cert = try builder.build(key: key)
        let options = ImportOptions(alias: alias, purpose: purpose, subscription: subscription)
        return try change { c in
            let id = try storeCertificate(
                c,
                cert,
                key: key,
                name: alias ?? cert.commonName,
                options: options,
                source: "generated",
                label: "generated",
                action: .entryCreate
            ).id
            // Before the change commits: the signed record's digest covers the tag.
            if let appID {
                try c.db.run("UPDATE entries SET tags = json_set(tags, '$.app_id', ?) WHERE id = ?", [appID, id])
            }
            return try Vault.entry(id: id, in: c.db, state: c.state)
        }
    }

    /// Makes a key inside the vault and a PKCS#10 request for it, with the
    /// DNS names as subjectAltName. The entry is `pending` until the
    /// certificate the CA issues is imported (matched by public key).
    /// - Returns: the pending entry and the request as PEM, to send to the CA.
    public func createRequest(
        subject: String,
        dnsNames: [String],
        keySpec: KeySpec = .rsa2048,
        subscription: String? = nil,
        alias: String? = nil
    ) throws -> (entry: Entry, pem: Data) {
        try requireRole([.admin, .officer], to: "create certificate requests")
        try Self.checkRequestArguments(subject: subject, dnsNames: dnsNames, keySpec: keySpec, alias: alias)
        let key = try PrivateKey.generate(keySpec)
        let request = try CertificateRequest(key: key, subject: subject, dnsNames: dnsNames)
        let entry = try change { c -> Entry in
            let id = try insertRequest(
                c,
                key: key,
                request: request,
                dnsNames: dnsNames,
                subscription: subscription,
                alias: alias
            )
            return try Vault.entry(id: id, in: c.db, state: c.state)
        }
        return (entry, try request.pemEncoded)
    }

    /// Stores a pending entry for `key` and its `request`, in change `c`.
    func insertRequest(
        _ c: Change,
        key: PrivateKey,
        request: CertificateRequest,
        dnsNames: [String],
        subscription: String?,
        alias: String?,
        purpose: EntryPurpose = .ssl
    ) throws -> Int64 {
        let db = c.db
        let spki = Digest.sha256(try key.publicKeyInfoDER)
        let (algorithm, bits, curve) = key.algorithm
        let name = try uniqueAlias(c, base: alias ?? dnsNames.first ?? request.subject)
        try db.run(
            """
            INSERT INTO entries (alias, purpose, subscription, domains, subject, subject_der, sans, key_algorithm, key_bits, key_curve,
                                 spki_sha256, status, csr_der, created_at, created_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
            """,
            [
                name, purpose.rawValue, subscription, Entry.encodeList(dnsNames), request.subject, request.subjectDER,
                Entry.encodeList(dnsNames.map { "DNS:" + $0 }), algorithm, bits, curve, spki, request.derEncoded,
                Timestamp.now(), person.id.rawValue,
            ]
        )
        let id = db.lastInsertedRowID
        try storeKeyAndRecord(
            c,
            entryID: id,
            key: key,
            certDER: nil,
            spkiSHA256: spki,
            action: .entryRequest,
            extra: [
                .alias: .text(name), .subject: .text(request.subject), .dns: .texts(dnsNames),
                .csrSHA256: .text(Digest.sha256(request.derEncoded).hexLower),
            ]
        )
        return id
    }
}
