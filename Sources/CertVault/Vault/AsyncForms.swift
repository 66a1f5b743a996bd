import Foundation

// The async forms of every call that derives a key from a passphrase or
// opens the file: the same names, chosen by Swift in async code. Each runs
// on a thread of its own (Argon2id at its default cost is 256 MiB and
// three passes; it never holds one of the cooperative pool's threads) and
// is the blocking call, unchanged.

extension Vault {
    /// ``open(at:witness:readOnly:busyTimeout:onWait:sinks:)-150bl`` off the
    /// caller's thread (opening checks the file's schema and may wait for
    /// another process's lock).
    ///
    /// - Parameters:
    ///   - path: the vault file.
    ///   - witness: this machine's rollback witness; nil skips the check.
    ///   - readOnly: never write the file.
    ///   - busyTimeout: how long to wait for another process's write.
    ///   - onWait: told once a wait that lasts a second.
    ///   - sinks: this machine's audit sink configuration; nil for none.
    public static func open(
        at path: String,
        witness: RollbackWitness? = .standard,
        readOnly: Bool = false,
        busyTimeout: TimeInterval = 60,
        onWait: (@Sendable (String) -> Void)? = nil,
        sinks: AuditSinkConfiguration? = .standard
    ) async throws -> Vault {
        try await Cancellation.run { _ in
            try Vault.open(
                at: path,
                witness: witness,
                readOnly: readOnly,
                busyTimeout: busyTimeout,
                onWait: onWait,
                sinks: sinks
            )
        }
    }

    /// ``open(at:witness:readOnly:busyTimeout:onWait:sinks:)-150bl`` for a file URL.
    ///
    /// - Parameters:
    ///   - url: the vault file (a `file:` URL).
    ///   - witness: this machine's rollback witness; nil skips the check.
    ///   - readOnly: never write the file.
    ///   - sinks: this machine's audit sink configuration; nil for none.
    public static func open(
        at url: URL,
        witness: RollbackWitness? = .standard,
        readOnly: Bool = false,
        sinks: AuditSinkConfiguration? = .standard
    ) throws -> Vault {
        try open(at: try filePath(url), witness: witness, readOnly: readOnly, sinks: sinks)
    }

    /// ``create(at:admin:passphrase:kdf:witness:)-1x05z`` off the caller's thread
    /// (it runs the key derivation for the first admin).
    ///
    /// - Parameters:
    ///   - path: where the new vault goes (must not exist).
    ///   - admin: the first admin.
    ///   - passphrase: their passphrase.
    ///   - kdf: the key derivation's cost.
    ///   - witness: this machine's rollback witness; nil for none.
    public static func create(
        at path: String,
        admin: NewPerson,
        passphrase: SecureBytes,
        kdf: KDFStrength = .moderate,
        witness: RollbackWitness? = .standard
    ) async throws -> Vault {
        try await Cancellation.run { _ in
            try Vault.create(at: path, admin: admin, passphrase: passphrase, kdf: kdf, witness: witness)
        }
    }

    /// ``create(at:admin:passphrase:kdf:witness:)-1x05z`` for a file URL.
    ///
    /// - Parameters:
    ///   - url: where the new vault goes (a `file:` URL; must not exist).
    ///   - admin: the first admin.
    ///   - passphrase: their passphrase.
    ///   - kdf: the key derivation's cost.
    ///   - witness: this machine's rollback witness; nil for none.
    public static func create(
        at url: URL,
        admin: NewPerson,
        passphrase: SecureBytes,
        kdf: KDFStrength = .moderate,
        witness: RollbackWitness? = .standard
    ) throws -> Vault {
        try create(at: try filePath(url), admin: admin, passphrase: passphrase, kdf: kdf, witness: witness)
    }

    /// ``unlock(handle:passphrase:)-96qxi`` off the caller's thread (it runs the
    /// key derivation once).
    ///
    /// - Parameters:
    ///   - handle: who unlocks, or nil for the only person who can.
    ///   - passphrase: their passphrase.
    public func unlock(handle: String?, passphrase: SecureBytes) async throws -> Session {
        try await Cancellation.run { _ in try self.unlock(handle: handle, passphrase: passphrase) }
    }

    static func filePath(_ url: URL) throws -> String {
        guard url.isFileURL else {
            throw CertVaultError(.invalidArgument, "\(url.absoluteString) is not a file URL")
        }
        return url.path
    }
}

extension Session {
    /// ``addPerson(_:passphrase:kdf:)-4tl2w`` off the caller's thread (it runs
    /// the key derivation for the new person's keyslot).
    ///
    /// - Parameters:
    ///   - new: who is added, with their role.
    ///   - passphrase: their passphrase (nil for staff, who hold no keys).
    ///   - kdf: the key derivation's cost.
    public func addPerson(
        _ new: Vault.NewPerson,
        passphrase: SecureBytes?,
        kdf: KDFStrength = .moderate
    ) async throws -> Person {
        try await Cancellation.run { _ in try self.addPerson(new, passphrase: passphrase, kdf: kdf) }
    }

    /// ``changePassphrase(to:kdf:)`` off the caller's thread.
    ///
    /// - Parameters:
    ///   - passphrase: the new passphrase.
    ///   - kdf: the key derivation's cost.
    public func changePassphrase(to passphrase: SecureBytes, kdf: KDFStrength = .moderate) async throws {
        try await Cancellation.run { _ in try self.changePassphrase(to: passphrase, kdf: kdf) }
    }
}
