-- certvault schema, migration 0003: the purpose 'app', a certificate
-- credential on an Entra ID app registration (the successor of Azure's
-- retired management certificates). Frozen once shipped.
--
-- SQLite cannot change a CHECK constraint in place: the entries table is
-- rebuilt (https://sqlite.org/lang_altertable.html, "other kinds of table
-- schema changes"), every value copied as stored, ids kept, so every signed
-- row digest still matches. Foreign keys are off while a migration runs.
PRAGMA user_version = 3;

CREATE TABLE entries_0003 (
    id                  INTEGER PRIMARY KEY,
    alias               TEXT NOT NULL UNIQUE,
    purpose             TEXT NOT NULL CHECK (purpose IN ('ssl', 'management', 'app', 'other')),
    subscription        TEXT,
    domains             TEXT NOT NULL DEFAULT '[]',   -- JSON array
    tags                TEXT NOT NULL DEFAULT '{}',   -- JSON object; app_id for purpose 'app'
    cert_der            BLOB,                          -- NULL for a key-only or pending entry
    subject             TEXT,
    issuer              TEXT,
    serial              TEXT,
    sha1                TEXT UNIQUE,                   -- Azure thumbprint, upper-case hex
    sha256              TEXT UNIQUE,
    not_before          TEXT,
    not_after           TEXT,
    key_algorithm       TEXT,
    key_bits            INTEGER,
    key_curve           TEXT,
    signature_algorithm TEXT,
    sans                TEXT NOT NULL DEFAULT '[]',    -- JSON array
    self_signed         INTEGER NOT NULL DEFAULT 0,
    is_ca               INTEGER NOT NULL DEFAULT 0,
    subject_der         BLOB,
    issuer_der          BLOB,
    spki_sha256         BLOB NOT NULL,
    issuer_entry_id     INTEGER REFERENCES entries(id),
    key_nonce           BLOB,
    key_ciphertext      BLOB,                          -- NULL when no private key is held
    status              TEXT NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'pending', 'superseded', 'revoked')),
    revocation_reason   TEXT,
    revoked_at          TEXT,
    replaces_id         INTEGER REFERENCES entries(id),
    needs_rotation      INTEGER NOT NULL DEFAULT 0,
    rotation_reason     TEXT,
    created_at          TEXT NOT NULL,
    created_by          INTEGER NOT NULL REFERENCES people(id),
    csr_der             BLOB
);

INSERT INTO entries_0003 (
    id, alias, purpose, subscription, domains, tags, cert_der, subject, issuer, serial, sha1, sha256,
    not_before, not_after, key_algorithm, key_bits, key_curve, signature_algorithm, sans, self_signed, is_ca,
    subject_der, issuer_der, spki_sha256, issuer_entry_id, key_nonce, key_ciphertext, status,
    revocation_reason, revoked_at, replaces_id, needs_rotation, rotation_reason, created_at, created_by, csr_der
)
SELECT
    id, alias, purpose, subscription, domains, tags, cert_der, subject, issuer, serial, sha1, sha256,
    not_before, not_after, key_algorithm, key_bits, key_curve, signature_algorithm, sans, self_signed, is_ca,
    subject_der, issuer_der, spki_sha256, issuer_entry_id, key_nonce, key_ciphertext, status,
    revocation_reason, revoked_at, replaces_id, needs_rotation, rotation_reason, created_at, created_by, csr_der
FROM entries;

DROP TABLE entries;
ALTER TABLE entries_0003 RENAME TO entries;
CREATE INDEX entries_spki ON entries(spki_sha256);
CREATE INDEX entries_subject ON entries(subject_der);
CREATE INDEX entries_issuer ON entries(issuer_der);
