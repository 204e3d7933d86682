-- The audit trail (留痕): append-only, hash-chained. Each row's hash covers its fields and the
-- previous row's hash (see docs/internals/store.md for the exact encoding). audit_head holds the
-- last id and hash, updated in the same transaction as each append, so a truncated tail shows.

CREATE TABLE audit (
	id        INTEGER PRIMARY KEY,
	at        TEXT NOT NULL,     -- ISO-8601 with +08:00
	actor     TEXT NOT NULL,     -- username, or 'system'
	client    TEXT NOT NULL,     -- client address, or '' for local commands
	action    TEXT NOT NULL,     -- e.g. 'user.add'
	target    TEXT NOT NULL,     -- e.g. 'users/3'
	before    TEXT,              -- JSON of the row(s) before, NULL when created
	after     TEXT,              -- JSON of the row(s) after, NULL when removed
	prev_hash TEXT NOT NULL,     -- hex SHA-256 of the previous entry, 64 zeros for the first
	hash      TEXT NOT NULL      -- hex SHA-256 of this entry
);

CREATE TABLE audit_head (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	last_id INTEGER NOT NULL,
	hash    TEXT NOT NULL
);
INSERT INTO audit_head (one, last_id, hash)
	VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The database itself refuses edits; a tamperer must first drop these, which verify then
-- catches through the hashes.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
-- Each new entry must extend the chain exactly: next id, previous hash.
CREATE TRIGGER audit_chain_insert BEFORE INSERT ON audit
WHEN NEW.id IS NOT (SELECT last_id + 1 FROM audit_head)
  OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head)
BEGIN
	SELECT RAISE(ABORT, 'audit entry does not extend the chain');
END;
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
WHEN NEW.last_id IS NOT OLD.last_id + 1
  OR NOT EXISTS (SELECT 1 FROM audit WHERE id = NEW.last_id AND hash = NEW.hash)
BEGIN
	SELECT RAISE(ABORT, 'audit head may only move to the newest entry');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
	SELECT RAISE(ABORT, 'audit head cannot be deleted');
END;
