-- Open311 GeoReport v2 (issue 7): the API keys civic apps and city systems file requests with.
-- Only the SHA-256 of a key is kept; `citydesk apikey add` shows the key once.

CREATE TABLE api_keys (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
	key_hash   TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64), -- hex SHA-256 of the key
	per_minute INTEGER NOT NULL DEFAULT 60 CHECK (per_minute BETWEEN 1 AND 100000),
	created_at INTEGER NOT NULL,
	revoked_at INTEGER                                               -- NULL while usable
);
