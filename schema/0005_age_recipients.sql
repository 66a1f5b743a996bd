-- certvault schema, migration 0005: age recipients. Frozen once shipped.
--
-- No table changes. From this format on, a person's age recipient (an
-- X25519 public key files handed to them are encrypted to) is held in a
-- signed `person.recipient` record, and an export encrypted to age
-- recipients names them (`age_recipients`). The number rises so that a
-- certvault that cannot read those records does not write to this vault.
PRAGMA user_version = 5;
