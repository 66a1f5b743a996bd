-- certvault schema, migration 0002: certificate signing requests. Frozen once
-- shipped.
PRAGMA user_version = 2;

-- The PKCS#10 request of a pending entry (status 'pending': a key made in the
-- vault, waiting for the certificate a CA issues for it). For such an entry
-- subject, subject_der and sans hold what was requested.
ALTER TABLE entries ADD COLUMN csr_der BLOB;
