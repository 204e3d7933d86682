-- Rules and alerts (issue 5, 监测预警): the rules as data, the alerts they and devices and other
-- district systems raise (one open alert per key and device), the events devices sent, and the
-- keys of the systems that push events in. Times here are unix MILLISECONDS (columns end in _ms).
-- docs/internals/rules.md explains the alert lifecycle.

CREATE TABLE alert_rules (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 127),
	body       TEXT NOT NULL,                   -- the rule JSON form, without id (checked JSON)
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE alerts (
	id             INTEGER PRIMARY KEY,              -- also the case's external_id (channel iot)
	key            TEXT NOT NULL,                    -- what de-duplicates: rule:12, event:fire_alarm, ingest:SYS:ID
	source         TEXT NOT NULL CHECK (source IN ('rule', 'event', 'ingest')),
	rule_id        INTEGER,                          -- the raising rule, NULL for events and ingest
	device         TEXT NOT NULL DEFAULT '',         -- device id, '' for an ingested alert without one
	system         TEXT NOT NULL DEFAULT '',         -- ingest: the sending system
	type           TEXT NOT NULL,                    -- rule kind or event type
	level          TEXT NOT NULL CHECK (level IN ('blue', 'yellow', 'orange', 'red')),
	status         TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'cleared')),
	title          TEXT NOT NULL,
	detail         TEXT NOT NULL DEFAULT '',
	value          REAL,
	limit_value    REAL,
	count          INTEGER NOT NULL DEFAULT 1,       -- occurrences while open (repeats bump it)
	lat            REAL,
	lng            REAL,
	street_code    TEXT,
	community_code TEXT,
	grid_code      TEXT,
	category_code  TEXT,                             -- the case category asked for
	want_case      INTEGER NOT NULL DEFAULT 1 CHECK (want_case IN (0, 1)),
	case_id        INTEGER REFERENCES cases(id),
	case_ref       TEXT,
	unit_code      TEXT,                             -- the case's unit, for scope
	raised_at_ms   INTEGER NOT NULL,
	last_at_ms     INTEGER NOT NULL,
	acked_at_ms    INTEGER,
	acked_by       TEXT,
	cleared_at_ms  INTEGER,
	cleared_by     TEXT,
	note           TEXT NOT NULL DEFAULT ''          -- the last acknowledge/clear comment
);
-- One open (or acknowledged) alert per key and device: the de-duplication rule, held by the
-- database so two writers cannot both raise.
CREATE UNIQUE INDEX alerts_active ON alerts(key, device) WHERE status != 'cleared';
CREATE INDEX alerts_raised ON alerts(raised_at_ms);
CREATE INDEX alerts_status ON alerts(status, raised_at_ms);
CREATE INDEX alerts_device ON alerts(device, raised_at_ms);

-- What devices reported as events (fire alarms, faults, ...), kept for the record; not audited.
CREATE TABLE device_events (
	id       INTEGER PRIMARY KEY,
	device   TEXT NOT NULL,
	ts_ms    INTEGER NOT NULL,
	type     TEXT NOT NULL,
	level    TEXT NOT NULL DEFAULT '',
	detail   TEXT NOT NULL DEFAULT '',
	source   TEXT NOT NULL DEFAULT '',               -- mqtt http gb26875 ingest
	alert_id INTEGER                                 -- the alert it raised or bumped, if any
);
CREATE INDEX device_events_device ON device_events(device, ts_ms);

-- Keys of the district systems that POST /api/v1/ingest/{system}. Only the SHA-256 is kept;
-- `citydesk ingest add --system NAME` shows the key once.
CREATE TABLE ingest_systems (
	name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 63),
	key_hash   TEXT NOT NULL CHECK (length(key_hash) = 64),
	created_at INTEGER NOT NULL,
	disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) WITHOUT ROWID;
