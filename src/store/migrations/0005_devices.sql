-- The IoT device registry (issue 5): every device that may send data, its place on the map, its
-- credentials (hashes only: the secret itself is shown once at provisioning) and its last known
-- online state. src/store/sqlite_devices.c writes it; src/app/devices.c keeps it in memory.
-- Telemetry is not here: it lives in its own file (DATA/series.db, docs/internals/series.md).

CREATE TABLE devices (
	id             TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 63),
	type           TEXT NOT NULL CHECK (type IN ('smoke_detector', 'electrical_fire_monitor',
				'hydrant_pressure', 'uitd', 'water_meter', 'rfid_reader', 'energy_meter', 'camera')),
	name           TEXT NOT NULL DEFAULT '',
	site           TEXT NOT NULL DEFAULT '',
	owner          TEXT NOT NULL DEFAULT '',  -- an organisation; no phone numbers are kept here
	lat            REAL,                      -- WGS-84, NULL when the device has no point
	lng            REAL,
	street_code    TEXT NOT NULL DEFAULT '',  -- located from the point when it was registered
	community_code TEXT NOT NULL DEFAULT '',
	grid_code      TEXT NOT NULL DEFAULT '',
	address_hex    TEXT UNIQUE CHECK (address_hex IS NULL OR length(address_hex) = 12),
	tags           TEXT NOT NULL DEFAULT '',  -- comma-separated, rules select on them
	active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
	secret_hash    TEXT NOT NULL,             -- SHA-256 of the 256-bit device secret (argon2id accepted; docs/internals/devices.md)
	mqtt_hash      TEXT NOT NULL,             -- the same secret as Mosquitto's password file wants it
	online         INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)), -- saved now and then, not audited
	last_seen_ms   INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,          -- unix seconds
	updated_at     INTEGER NOT NULL           -- unix milliseconds of the last audited change
);
-- A server picks up devices another process (citydesk device add) registered meanwhile.
CREATE INDEX devices_updated ON devices (updated_at);
