import Foundation
import GRDB
import Synchronization

extension Session {
    /// Stores files read by ``Importer``, in one transaction.
    ///
    /// Each new private key gets its own data key, sealed to the importer
    /// and every active admin; each change is recorded and signed. A
    /// certificate already in the vault stays one entry; a key joins the
    /// key-less entry of its certificate.
    /// - Throws: the first failure, naming its file, unless
    ///   `options.keepGoing`, which stores the rest and lists failures in
    ///   the report. Nothing is written when it throws.
    public func importFiles(_ files: [ImportFile], options: ImportOptions = ImportOptions()) throws -> ImportReport {
        try importFiles(files, options: options, cancellation: nil)
    }

    /// ``importFiles(_:options:)-99qtv`` off the caller's thread. Cancelling the
    /// task before the change commits stops it with `CancellationError`
    /// and stores nothing: the import is one transaction.
    public func importFiles(
        _ files: [ImportFile],
        options: ImportOptions = ImportOptions()
    ) async throws
        -> ImportReport
    {
        try await Cancellation.run { try self.importFiles(files, options: options, cancellation: $0) }
    }

    func importFiles(
        _ files: [ImportFile],
        options: ImportOptions,
        cancellation: Cancellation?
    ) throws
        -> ImportReport
    {
        try requireImportable(options, files: files.count)
        // A key that matches no certificate anywhere in this command is
        // stored on its own, and said so, never silently paired later.
        let certificateKeys = Set(
            try files.flatMap(\.certificates).map { Digest.sha256(try $0.certificate.publicKeyInfoDER) }
        )
        var warnings: [String] = files.flatMap { f in f.warnings.map { "\(f.source): \($0)" } }
        return try change { c in
            let db = c.db
            var report = ImportReport()
            for file in files {
                try cancellation?.check()
                for key in file.keys {
                    let spki = Digest.sha256(try key.key.publicKeyInfoDER)
                    if certificateKeys.contains(spki) { continue }
                    // A key whose certificate (or request) is already in the vault joins it: nothing to say.
                    if try Vault.provenRow(
                        db,
                        "SELECT id FROM entries WHERE spki_sha256 = ? LIMIT 1",
                        spki,
                        column: "spki_sha256"
                    ) == nil {
                        warnings.append(
                            "\(file.source): the key matches no certificate imported with it or in the vault; kept as a key-only entry"
                        )
                    }
                }
                do {
                    report.items += try storeNamed(c, file: file, options: options).map(\.item)
                } catch let error as CertVaultError {
                    if !options.keepGoing { throw error }
                    report.fail(error)
                }
            }
            report.warnings = warnings
            try Self.requireOneAliased(report, options)
            return report
        }
    }

    /// Reads and stores files in one transaction, with bounded memory: the
    /// files are decrypted on every core in batches, a batch or two ahead of
    /// the one being stored, and each batch is freed once stored. However
    /// many files, a few hundred are held decrypted at once.
    ///
    /// Every file is read even after one fails, so that the report names
    /// every failure. Unless `options.keepGoing`, one failure means nothing
    /// is stored: the report then has ``ImportReport/stored`` false.
    ///
    /// While it runs, the import holds the vault's write lock: another
    /// process's change waits for it (up to the busy timeout given to
    /// ``Vault/open(at:witness:readOnly:busyTimeout:onWait:sinks:)-150bl``).
    ///
    /// - Parameters:
    ///   - paths: the files, in the order to report them.
    ///   - password: the files' password, as for ``Importer/read(path:password:askPassword:limits:)``.
    ///   - askPassword: asked, one file at a time, for a file the password
    ///     does not open; return nil to give up on that file.
    ///   - limits: the most work one file may ask for.
    ///   - options: alias, purpose, tags, and whether to keep going past a failure.
    ///   - progress: called from worker threads as files are read.
    /// - Throws: storage and access errors (nothing stored); a file's
    ///   failure is not thrown but listed in the report.
    public func importPaths(
        _ paths: [String],
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)? = nil,
        limits: ImportLimits = .standard,
        options: ImportOptions = ImportOptions(),
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    ) throws -> ImportReport {
        try importPaths(
            paths,
            password: password,
            askPassword: askPassword,
            limits: limits,
            options: options,
            progress: progress,
            cancellation: nil
        )
    }

    /// ``importPaths(_:password:askPassword:limits:options:progress:)`` off
    /// the caller's thread, without prompts. Cancelling the task stops it
    /// with `CancellationError` and stores nothing.
    public func importPaths(
        _ paths: [String],
        password: SecureBytes?,
        limits: ImportLimits = .standard,
        options: ImportOptions = ImportOptions(),
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
    ) async throws -> ImportReport {
        try await Cancellation.run {
            try self.importPaths(
                paths,
                password: password,
                askPassword: nil,
                limits: limits,
                options: options,
                progress: progress,
                cancellation: $0
            )
        }
    }

    /// How many files a streamed import reads ahead of the one it stores,
    /// per core: enough to keep the cores busy while the passphrase's key
    /// derivation runs (see ``ImportPrefetch``), few enough to keep memory
    /// flat (a decrypted file holds a few KB).
    static let filesPerWorker = 256

    /// Carries the report of an all-or-nothing import out of the change it rolls back.
    private struct NothingStored: Error {
        let report: ImportReport
    }

    func importPaths(
        _ paths: [String],
        password: SecureBytes?,
        askPassword: ((String) throws -> SecureBytes?)?,
        limits: ImportLimits,
        options: ImportOptions,
        progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
        cancellation: Cancellation?
    ) throws -> ImportReport {
        try requireImportable(options, files: paths.count)
        let prefetch = ImportPrefetch(paths, password: password, limits: limits, progress: progress)
        return try importPaths(prefetch, askPassword: askPassword, options: options, cancellation: cancellation)
    }

    /// Stores the files `prefetch` reads, in one transaction, as
    /// ``importPaths(_:password:askPassword:limits:options:progress:)``
    /// does. Make the prefetch before ``Vault/unlock(handle:passphrase:)-96qxi``
    /// and the files' decryption runs while the passphrase's key derivation does.
    ///
    /// - Parameters:
    ///   - prefetch: the files being read; one import each.
    ///   - askPassword: asked, one file at a time, for a file the
    ///     prefetch's password does not open; return nil to give up on that file.
    ///   - options: alias, purpose, tags, and whether to keep going past a failure.
    /// - Throws: storage and access errors (nothing stored); a file's
    ///   failure is not thrown but listed in the report.
    public func importPaths(
        _ prefetch: ImportPrefetch,
        askPassword: ((String) throws -> SecureBytes?)? = nil,
        options: ImportOptions = ImportOptions()
    ) throws -> ImportReport {
        try importPaths(prefetch, askPassword: askPassword, options: options, cancellation: nil)
    }

    func importPaths(
        _ prefetch: ImportPrefetch,
        askPassword: ((String) throws -> SecureBytes?)?,
        options: ImportOptions,
        cancellation: Cancellation?
    ) throws -> ImportReport {
        // Dropping the prefetch stops its reading: it lives until the import is done.
        try withExtendedLifetime(prefetch) {
            try importPrefetched(prefetch, askPassword: askPassword, options: options, cancellation: cancellation)
        }
    }

    private func importPrefetched(
        _ prefetch: ImportPrefetch,
        askPassword: ((String) throws -> SecureBytes?)?,
        options: ImportOptions,
        cancellation: Cancellation?
    ) throws -> ImportReport {
        defer { prefetch.stream.stop() }
        let paths = prefetch.paths
        try requireImportable(options, files: paths.count)
        guard prefetch.take() else {
            throw CertVaultError(.invalidArgument, "these files were already imported once from this prefetch")
        }
        let limits = prefetch.limits
        let learned = prefetch.learned
        do {
            return try change { c in
                let stream = prefetch.stream
                var report = ImportReport()
                var failed = false
                var keysAlone: [(id: Int64, source: String)] = []
                while let batch = stream.next() {
                    try cancellation?.check()
                    for (i, slot) in zip(batch.range, batch.slots) {
                        var slot = slot
                        if case .failure(let error) = slot, error.code == .wrongPassword, let askPassword {
                            slot = Importer.readResult(
                                paths[i],
                                password: nil,
                                askPassword: askPassword,
                                limits: limits,
                                learned: { secret in learned.value.withLock { $0 = secret } }
                            )
                        }
                        let file: ImportFile
                        switch slot {
                        case .failure(let error):
                            report.fail(error)
                            failed = true
                            continue
                        case .success(let read): file = read
                        }
                        report.warnings += file.warnings.map { "\(file.source): \($0)" }
                        // After a failure an all-or-nothing import only reads on, to name every failure.
                        if failed && !options.keepGoing { continue }
                        do {
                            let stored = try storeNamed(c, file: file, options: options)
                            report.items += stored.map(\.item)
                            for s in stored where s.item.outcome == .imported && s.item.thumbprintSHA1 == nil {
                                keysAlone.append((s.id, file.source))
                            }
                        } catch let error as CertVaultError {
                            report.fail(error)
                            failed = true
                        }
                    }
                }
                try cancellation?.check()
                // A key that no certificate of this import (or the vault) joined is said so.
                for alone in keysAlone
                where try c.db.row("SELECT 1 FROM entries WHERE id = ? AND cert_der IS NULL", [alone.id]) != nil {
                    report.warnings.append(
                        "\(alone.source): the key matches no certificate imported with it or in the vault; kept as a key-only entry"
                    )
                }
                try Self.requireOneAliased(report, options)
                if failed && !options.keepGoing {
                    report.stored = false
                    throw NothingStored(report: report)
                }
                return report
            }
        } catch let nothing as NothingStored {
            return nothing.report
        }
    }

    /// ``store(_:file:options:)`` as one import step: inside a savepoint
    /// when the import keeps going past failures, and a failure named by the file.
    /// An alias given with two files (a certificate and its key) must end on
    /// one entry; two leaves would make `alias` and `alias-2`.
    static func requireOneAliased(_ report: ImportReport, _ options: ImportOptions) throws {
        guard let alias = options.alias else { return }
        let named = Set(
            report.items.filter {
                $0.outcome == .imported
                    && ($0.alias == alias
                        || ($0.alias.hasPrefix(alias + "-") && isAllDigits(String($0.alias.dropFirst(alias.count + 1)))))
            }.map(\.alias)
        )
        guard named.count <= 1 else {
            throw CertVaultError(
                .invalidArgument,
                "an alias names one entry, but these files make \(named.count): \(named.sorted().joined(separator: ", "))",
                hint: "import them separately, each under its own alias"
            )
        }
    }

    private func storeNamed(
        _ c: Change,
        file: ImportFile,
        options: ImportOptions
    ) throws -> [(id: Int64, item: ImportReport.Item)] {
        do {
            return options.keepGoing
                ? try c.inSavepoint { try store(c, file: file, options: options) }
                : try store(c, file: file, options: options)
        } catch let error as CertVaultError {
            throw error.message.hasPrefix(file.source) ? error : error.prefixed(file.source)
        }
    }

    /// Stores one file's keys and certificates; returns each with its entry.
    private func store(
        _ c: Change,
        file: ImportFile,
        options: ImportOptions
    ) throws -> [(id: Int64, item: ImportReport.Item)] {
        var stored: [(id: Int64, item: ImportReport.Item)] = []
        var usedCerts = Set<Int>()
        // Keys first, each with the certificate it matches.
        for key in file.keys {
            let match = file.certificates.indices.first {
                !usedCerts.contains($0) && key.key.matches(file.certificates[$0].certificate)
            }
            if let match {
                usedCerts.insert(match)
                let cert = file.certificates[match]
                let r = try storeCertificate(
                    c,
                    cert.certificate,
                    key: key.key,
                    name: options.alias ?? cert.friendlyName ?? key.friendlyName,
                    options: options,
                    source: file.source,
                    label: file.label
                )
                stored.append(r)
            } else {
                let r = try storeKeyOnly(
                    c,
                    key.key,
                    name: options.alias ?? key.friendlyName,
                    options: options,
                    source: file.source,
                    label: file.label
                )
                stored.append(r)
            }
        }
        let leaf = file.keys.isEmpty ? try Self.leaf(of: file, options: options) : nil
        for (i, cert) in file.certificates.enumerated() where !usedCerts.contains(i) {
            // Alias, purpose, subscription and domains describe the leaf: a
            // certificate that came with it (its chain) is stored as what it is.
            var described = options
            if i != leaf {
                (described.purpose, described.subscription, described.domains) = (nil, nil, [])
            }
            let r = try storeCertificate(
                c,
                cert.certificate,
                key: nil,
                name: i == leaf ? (options.alias ?? cert.friendlyName) : cert.friendlyName,
                options: described,
                source: file.source,
                label: file.label
            )
            stored.append(r)
        }
        try linkIssuers(c, entryIDs: stored.map(\.id))
        return stored
    }

    /// The leaf among a file's certificates when it holds no key: the one
    /// certificate that is no CA and issued none of the others (of those,
    /// the one covering `options.domains`, when they are given). Nil when
    /// there is none, or several and nothing given needs one; an alias,
    /// purpose or tag that could go to several is a usage error.
    static func leaf(of file: ImportFile, options: ImportOptions) throws -> Int? {
        let certs = file.certificates.map(\.certificate)
        if certs.count == 1 { return 0 }
        let subjects = try certs.map { try $0.subjectDER }
        let issuers = try certs.map { try $0.issuerDER }
        // No CA, and the issuer of none of the others (a root without the CA flag issued the leaf).
        var candidates = certs.indices.filter { i in
            !certs[i].isCA && !certs.indices.contains { j in j != i && issuers[j] == subjects[i] }
        }
        if !options.domains.isEmpty {
            let covering = try candidates.filter { i in
                let names = DomainNames.names(of: try certs[i].metadata())
                return options.domains.allSatisfy { domain in names.contains { DomainNames.covers($0, domain) } }
            }
            if !covering.isEmpty { candidates = covering }
        }
        if candidates.count == 1 { return candidates[0] }
        let described =
            options.alias != nil || !options.domains.isEmpty || options.purpose != nil
            || options.subscription != nil
        guard described else { return nil }
        let names = try (candidates.isEmpty ? Array(certs.indices) : candidates).map {
            try certs[$0].metadata().subject
        }
        throw CertVaultError(
            .invalidArgument,
            "the alias, purpose and tags given describe one certificate, but this file holds no key and "
                + (candidates.isEmpty ? "no leaf among" : "\(candidates.count) leaves:")
                + " \(names.joined(separator: "; "))",
            hint: "name the leaf with the domain it covers, or import the certificates one file each"
        )
    }

    /// Encrypts `key` (if any) for entry `entryID` and seals it to the
    /// default recipients, then records `action` with the entry's hashes and
    /// `extra`, and notes who got custody. One path for every new key.
    func storeKeyAndRecord(
        _ c: Change,
        entryID: Int64,
        key: PrivateKey?,
        certDER: Data?,
        spkiSHA256: Data,
        action: AuditAction,
        extra: AuditDetails
    ) throws {
        let recipients = key == nil ? [] : try custody.defaultRecipients(c.state)
        let ct = try key.map {
            try custody.storeKey(c, entryID: entryID, key: $0, spkiSHA256: spkiSHA256, recipients: recipients)
        }
        var details = stateDetails(certDER: certDER, spkiSHA256: spkiSHA256, ciphertextSHA256: ct)
        details.fields.merge(extra.fields) { _, new in new }
        if !recipients.isEmpty { details[.grants] = .texts(recipients.map(\.handle)) }
        let seq = c.record(action, entry: entryID, details: details)
        for r in recipients { try custody.note(c, .grant, entryID: entryID, personID: r.id, seq: seq) }
    }

    func stateDetails(certDER: Data?, spkiSHA256: Data, ciphertextSHA256: Data?) -> AuditDetails {
        var d: AuditDetails = [.spkiSHA256: .text(spkiSHA256.hexLower)]
        if let certDER { d[.certSHA256] = .text(Digest.sha256(certDER).hexLower) }
        if let ciphertextSHA256 { d[.ciphertextSHA256] = .text(ciphertextSHA256.hexLower) }
        return d
    }

    func storeCertificate(
        _ c: Change,
        _ cert: Certificate,
        key: PrivateKey?,
        name: String?,
        options: ImportOptions,
        source: String,
        label: String,
        action: AuditAction = .entryImport
    ) throws -> (id: Int64, item: ImportReport.Item) {
        let db = c.db
        let der = try cert.derEncoded
        let meta = try cert.metadata()
        let spki = Digest.sha256(try cert.publicKeyInfoDER)
        let sourceName = label

        if let existing = try Vault.provenRow(
            db,
            "SELECT id, alias, key_ciphertext IS NOT NULL AS has_key FROM entries WHERE sha256 = ?",
            meta.fingerprintSHA256,
            column: "sha256"
        ) {
            let row = Columns(existing, "entry")
            let id = try row.int("id")
            let alias = try row.text("alias")
            guard let key, !(try row.bool("has_key")) else {
                return (
                    id, .init(file: source, alias: alias, thumbprintSHA1: meta.thumbprintSHA1, outcome: .alreadyPresent)
                )
            }
            try storeKeyAndRecord(
                c,
                entryID: id,
                key: key,
                certDER: der,
                spkiSHA256: spki,
                action: .entryKeyAdd,
                extra: [.source: .text(sourceName)]
            )
            return (id, .init(file: source, alias: alias, thumbprintSHA1: meta.thumbprintSHA1, outcome: .paired))
        }

        var columns: [String: (any DatabaseValueConvertible)?] = [
            "cert_der": der, "subject": meta.subject, "issuer": meta.issuer, "serial": meta.serialNumber,
            "sha1": meta.thumbprintSHA1, "sha256": meta.fingerprintSHA256,
            "not_before": Timestamp.format(meta.notValidBefore), "not_after": Timestamp.format(meta.notValidAfter),
            "key_algorithm": meta.keyAlgorithm, "key_bits": meta.keyBits, "key_curve": meta.keyCurve,
            "signature_algorithm": meta.signatureAlgorithm, "sans": Entry.encodeList(meta.subjectAlternativeNames),
            "self_signed": meta.isSelfSigned, "is_ca": meta.isCA,
            "subject_der": try cert.subjectDER, "issuer_der": try cert.issuerDER,
        ]

        // A key stored earlier on its own, or a pending request: the certificate joins it.
        if let keyOnly = try Vault.provenRow(
            db,
            "SELECT id, alias, status, key_ciphertext, replaces_id, sans FROM entries WHERE spki_sha256 = ? AND cert_der IS NULL",
            spki,
            column: "spki_sha256"
        ) {
            let row = Columns(keyOnly, "entry")
            let id = try row.int("id")
            var alias = try row.text("alias")
            let pending = try row.text("status") == "pending"
            if pending { columns["status"] = "active" }
            // A request is completed only by a certificate for every name it asked for.
            if pending {
                let issued = Set(meta.subjectAlternativeNames.map { $0.lowercased() })
                let missing = try Entry.decodeList(row.text("sans"), row, "sans").filter {
                    !issued.contains($0.lowercased())
                }
                if !missing.isEmpty {
                    throw CertVaultError(
                        .invalidArgument,
                        "the certificate for the pending request \(Display.quoted(alias)) does not name \(missing.joined(separator: ", ")), which the request asked for (it names \(meta.subjectAlternativeNames.isEmpty ? "no DNS name" : meta.subjectAlternativeNames.joined(separator: ", ")))",
                        hint: "ask the CA for a certificate for the names requested"
                    )
                }
            }
            // A CA-issued certificate's rotation ends here: the one it replaces, still in
            // use until now, is superseded (one revoked meanwhile stays revoked), and the
            // new one takes its alias.
            var replaced: (id: Int64, alias: String)?
            if pending, let predecessor = try row.optionalInt("replaces_id"),
                let old = try db.row(
                    "SELECT alias FROM entries WHERE id = ? AND status IN ('active', 'revoked')",
                    [predecessor]
                )
            {
                replaced = (predecessor, try Columns(old, "entry").text("alias"))
            }
            if let replaced {
                let retiredAlias = try uniqueAlias(c, base: "\(replaced.alias).old-\(Timestamp.now().prefix(10))")
                try db.run(
                    """
                    UPDATE entries SET status = CASE status WHEN 'active' THEN 'superseded' ELSE status END, alias = ?,
                                       needs_rotation = 0, rotation_reason = NULL
                    WHERE id = ?
                    """,
                    [retiredAlias, replaced.id]
                )
                columns["alias"] = replaced.alias
                alias = replaced.alias
            }
            let assignments = columns.keys.sorted().map { "\($0) = :\($0)" }.joined(separator: ", ")
            columns["id"] = id
            try db.run("UPDATE entries SET \(assignments) WHERE id = :id", StatementArguments(columns))
            var details = stateDetails(
                certDER: der,
                spkiSHA256: spki,
                ciphertextSHA256: try row.optionalBlob("key_ciphertext").map(Digest.sha256)
            )
            details[.source] = .text(sourceName)
            details[.sha1] = .text(meta.thumbprintSHA1)
            if replaced != nil { details[.alias] = .text(alias) }
            c.record(pending ? .entryComplete : .entryCertAdd, entry: id, details: details)
            if let replaced {
                c.record(
                    .entrySupersede,
                    entry: replaced.id,
                    details: [.successor: .integer(id), .successorAlias: .text(alias)]
                )
            }
            return (
                id,
                .init(
                    file: source,
                    alias: alias,
                    thumbprintSHA1: meta.thumbprintSHA1,
                    outcome: pending ? .completed : .paired
                )
            )
        }

        // Issued for a pending request's name but not its key: refuse rather than store a stray entry.
        if let pending = try db.row(
            "SELECT alias FROM entries WHERE status = 'pending' AND subject_der = ? LIMIT 1",
            [cert.subjectDER]
        ) {
            throw CertVaultError(
                .keyMismatch,
                "the certificate for \(meta.subject) was issued for another key than the pending request \(Display.quoted(try Columns(pending, "entry").text("alias")))",
                hint: "check that the CA was sent the request this vault made"
            )
        }

        let purpose = options.purpose ?? (meta.isCA ? .other : meta.isSelfSigned ? .management : .ssl)
        let base = name ?? cert.commonName ?? String(meta.thumbprintSHA1.prefix(8))
        let alias = try uniqueAlias(c, base: base)
        columns["alias"] = alias
        columns["tags"] = Self.tags(keeping: base, for: alias)
        columns["purpose"] = purpose.rawValue
        columns["subscription"] = options.subscription
        columns["domains"] = Entry.encodeList(options.domains)
        columns["spki_sha256"] = spki
        columns["created_at"] = Timestamp.now()
        columns["created_by"] = person.id.rawValue
        let names = columns.keys.sorted()
        try db.run(
            "INSERT INTO entries (\(names.joined(separator: ", "))) VALUES (\(names.map { ":" + $0 }.joined(separator: ", ")))",
            StatementArguments(columns)
        )
        let id = db.lastInsertedRowID
        try storeKeyAndRecord(
            c,
            entryID: id,
            key: key,
            certDER: der,
            spkiSHA256: spki,
            action: action,
            extra: [
                .alias: .text(alias), .purpose: .text(purpose.rawValue), .sha1: .text(meta.thumbprintSHA1),
                .source: .text(sourceName),
            ]
        )
        return (id, .init(file: source, alias: alias, thumbprintSHA1: meta.thumbprintSHA1, outcome: .imported))
    }

    private func storeKeyOnly(
        _ c: Change,
        _ key: PrivateKey,
        name: String?,
        options: ImportOptions,
        source: String,
        label: String
    ) throws -> (id: Int64, item: ImportReport.Item) {
        let db = c.db
        let spki = Digest.sha256(try key.publicKeyInfoDER)
        // A certificate already here without its key: the key joins it.
        if let row = try Vault.provenRow(
            db,
            "SELECT id, cert_der FROM entries WHERE spki_sha256 = ? AND key_ciphertext IS NULL AND cert_der IS NOT NULL LIMIT 1",
            spki,
            column: "spki_sha256"
        ) {
            return try storeCertificate(
                c,
                try Certificate(derEncoded: row["cert_der"]),
                key: key,
                name: name,
                options: options,
                source: source,
                label: label
            )
        }
        if let row = try Vault.provenRow(
            db,
            "SELECT id, alias FROM entries WHERE spki_sha256 = ? AND key_ciphertext IS NOT NULL LIMIT 1",
            spki,
            column: "spki_sha256"
        ) {
            return (row["id"], .init(file: source, alias: row["alias"], thumbprintSHA1: nil, outcome: .alreadyPresent))
        }
        let (algorithm, bits, curve) = key.algorithm
        let alias = try uniqueAlias(c, base: name ?? "key-" + String(spki.hexLower.prefix(8)))
        let purpose = options.purpose ?? .other
        try db.run(
            """
            INSERT INTO entries (alias, tags, purpose, subscription, domains, key_algorithm, key_bits, key_curve, spki_sha256, created_at, created_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                alias, Self.tags(keeping: name, for: alias), purpose.rawValue, options.subscription,
                Entry.encodeList(options.domains), algorithm, bits,
                curve, spki,
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
            action: .entryImport,
            extra: [
                .alias: .text(alias), .purpose: .text(purpose.rawValue), .source: .text(label),
            ]
        )
        return (id, .init(file: source, alias: alias, thumbprintSHA1: nil, outcome: .imported))
    }

    /// Who may import, and an alias given with at most the two files (a
    /// certificate and its key) that make one entry: checked before any work.
    func requireImportable(_ options: ImportOptions, files count: Int) throws {
        try requireRole([.admin, .officer], to: "import")
        try Self.validateAlias(options.alias)
        try DomainNames.requireHostNames(options.domains, what: "a domain tag")
        if options.alias != nil, count > 2 {
            throw CertVaultError(
                .invalidArgument,
                "an alias names one entry: give it with one file, or a certificate and its key in two, not \(count) files"
            )
        }
    }

    /// An alias a person chose: held to ``Alias``'s rule (design rule 10),
    /// so that no alias can act in a shell or read as another.
    static func validateAlias(_ alias: String?) throws {
        guard let alias else { return }
        guard Alias.isValid(alias) else { throw Alias.invalid(alias) }
    }

    static func isAllDigits(_ text: String) -> Bool { text.utf8.allSatisfy { (48...57).contains($0) } }

    /// An alias made from `base` (a friendly name, a common name, an alias
    /// with a suffix), reduced to ``Alias``'s rule and made unique with
    /// `-2`, `-3`, …
    func uniqueAlias(_ c: Change, base: String) throws -> String {
        let root = Alias.derived(from: base)
        var candidate = root
        var n = 2
        while try Bool.fetchOne(
            try c.db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM entries WHERE alias = ?)"),
            arguments: [candidate]
        ) == true {
            candidate = "\(root)-\(n)"
            n += 1
        }
        return candidate
    }

    /// The entry's `tags` holding `name` when its alias was made from it
    /// and differs: the name as the file gave it stays with the entry.
    static func tags(keeping name: String?, for alias: String) -> String {
        guard let name, !name.isEmpty, name != alias, Alias.derived(from: name) != name else { return "{}" }
        return JSONText.text(.object(["name": .string(name)]))
    }

    /// Links certificates to their issuers (both ways) among the entries,
    /// checking each signature, so exports can carry the chain.
    func linkIssuers(_ c: Change, entryIDs: [Int64]) throws {
        let db = c.db
        for id in Set(entryIDs) {
            guard
                let found = try db.row(
                    "SELECT cert_der, subject_der, issuer_der, self_signed, issuer_entry_id FROM entries WHERE id = ?",
                    [id]
                )
            else { continue }
            let row = Columns(found, "entry \(id)")
            guard let der = try row.optionalBlob("cert_der") else { continue }
            // Parsed only when a row names it as issuer or subject: most have none.
            var parsed: Certificate?
            func cert() throws -> Certificate {
                if let parsed { return parsed }
                let made = try Certificate(derEncoded: der)
                parsed = made
                return made
            }
            if !(try row.bool("self_signed")), try row.optionalInt("issuer_entry_id") == nil {
                for found in try Row.fetchAll(
                    db.cachedStatement(
                        sql:
                            "SELECT id, cert_der FROM entries WHERE subject_der = ? AND id != ? AND cert_der IS NOT NULL"
                    ),
                    arguments: [try row.optionalBlob("issuer_der"), id]
                ) {
                    let candidate = Columns(found, "entry")
                    if try cert().isIssued(by: try Certificate(derEncoded: try candidate.blob("cert_der"))) {
                        let issuer = try candidate.int("id")
                        try db.run("UPDATE entries SET issuer_entry_id = ? WHERE id = ?", [issuer, id])
                        c.record(.entryLink, entry: id, details: [.issuer: .integer(issuer)])
                        break
                    }
                }
            }
            for found in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id, cert_der FROM entries WHERE issuer_der = ? AND id != ? AND issuer_entry_id IS NULL AND self_signed = 0 AND cert_der IS NOT NULL
                        """
                ),
                arguments: [try row.optionalBlob("subject_der"), id]
            ) {
                let child = Columns(found, "entry")
                if try Certificate(derEncoded: try child.blob("cert_der")).isIssued(by: try cert()) {
                    let childID = try child.int("id")
                    try db.run("UPDATE entries SET issuer_entry_id = ? WHERE id = ?", [id, childID])
                    c.record(.entryLink, entry: childID, details: [.issuer: .integer(id)])
                }
            }
        }
    }
}
