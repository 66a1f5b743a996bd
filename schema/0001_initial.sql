-- certvault schema, migration 0001. Frozen once shipped: change the schema
-- with a new numbered file, never by editing this one.
PRAGMA application_id = 1129731121; -- 'CVT1'
PRAGMA user_version = 1;

-- One row: the vault's identity.
CREATE TABLE vault (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    vault_id       BLOB NOT NULL CHECK (length(vault_id) = 16),
    format_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);

-- Everyone the vault knows. People who use it have public keys and a
-- keyslot; staff, who only receive copies, have neither.
CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    handle          TEXT NOT NULL UNIQUE,
    name            TEXT,
    email           TEXT,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'officer', 'auditor', 'staff')),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'departed')),
    departed_at     TEXT,
    departed_by     INTEGER REFERENCES people(id),
    departed_reason TEXT,
    box_public_key  BLOB,
    sign_public_key BLOB,
    created_at      TEXT NOT NULL,
    created_by      INTEGER REFERENCES people(id)
);

-- A person's X25519 and Ed25519 secret keys, encrypted under the key derived
-- from their passphrase. Deleted when the person departs.
CREATE TABLE keyslots (
    person_id    INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    kdf          TEXT NOT NULL,
    kdf_opslimit INTEGER NOT NULL,
    kdf_memlimit INTEGER NOT NULL,
    salt         BLOB NOT NULL,
    nonce        BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

-- One row per certificate or key.
CREATE TABLE entries (
    id                  INTEGER PRIMARY KEY,
    alias               TEXT NOT NULL UNIQUE,
    purpose             TEXT NOT NULL CHECK (purpose IN ('ssl', 'management', 'other')),
    subscription        TEXT,
    domains             TEXT NOT NULL DEFAULT '[]',   -- JSON array
    tags                TEXT NOT NULL DEFAULT '{}',   -- JSON object
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
    created_by          INTEGER NOT NULL REFERENCES people(id)
);
CREATE INDEX entries_spki ON entries(spki_sha256);
CREATE INDEX entries_subject ON entries(subject_der);
CREATE INDEX entries_issuer ON entries(issuer_der);

-- (entry, person) → the entry's data key sealed to the person.
CREATE TABLE grants (
    entry_id   INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    sealed_key BLOB NOT NULL,
    granted_by INTEGER NOT NULL REFERENCES people(id),
    granted_at TEXT NOT NULL,
    PRIMARY KEY (entry_id, person_id)
);
CREATE INDEX grants_person ON grants(person_id);

-- Everyone who ever could decrypt an entry or was handed a copy of it.
-- Never deleted: a departure needs the whole history.
CREATE TABLE custody (
    entry_id  INTEGER NOT NULL REFERENCES entries(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    kind      TEXT NOT NULL CHECK (kind IN ('grant', 'export')),
    at        TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
);
CREATE INDEX custody_person ON custody(person_id);
CREATE INDEX custody_entry ON custody(entry_id);

-- Append-only, hash-chained, signed by the actor.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_id  INTEGER,
    action    TEXT NOT NULL,
    entry_id  INTEGER,
    person_id INTEGER,
    details   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL,
    signature BLOB
);
CREATE INDEX audit_entry ON audit(entry_id);
CREATE INDEX audit_actor ON audit(actor_id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody
BEGIN SELECT RAISE(ABORT, 'custody history is append-only'); END;
