-- Cases (issue 3): the case rows, their event history, uploaded file metadata, the per-day
-- reference counter and the running score aggregates. Times are INTEGER unix seconds, NULL when
-- the moment has not happened. docs/internals/store.md explains which query uses which index.

CREATE TABLE cases (
	id                  INTEGER PRIMARY KEY,
	ref                 TEXT NOT NULL UNIQUE,      -- "LH" + YYYYMMDD + 6-digit daily sequence
	version             INTEGER NOT NULL DEFAULT 1, -- +1 on every change (optimistic concurrency)
	channel             TEXT NOT NULL CHECK (channel IN ('hotline', 'app', 'grid', 'camera', 'iot',
	                                                     'enterprise', 'open311', 'system')),
	external_id         TEXT,                      -- the channel's own id, for idempotent intake
	title               TEXT NOT NULL DEFAULT '',
	description         TEXT NOT NULL CHECK (length(description) > 0),
	category_code       TEXT,
	category_source     TEXT CHECK (category_source IN ('given', 'auto', 'keyword', 'dispatcher')),
	category_confidence REAL,
	lat                 REAL,                      -- WGS-84, NULL when only an address is known
	lng                 REAL,
	address             TEXT NOT NULL DEFAULT '',
	street_code         TEXT,                      -- NULL until placed
	community_code      TEXT,
	grid_code           TEXT,
	unit_code           TEXT,                      -- current responsible unit
	status              TEXT NOT NULL CHECK (status IN ('reported', 'registered', 'rejected',
	                        'dispatched', 'accepted', 'handled', 'verified', 'closed', 'rated',
	                        'suspended', 'merged')),
	level               TEXT NOT NULL DEFAULT 'community'
	                        CHECK (level IN ('community', 'street', 'district')),
	supervised          INTEGER NOT NULL DEFAULT 0 CHECK (supervised IN (0, 1)),
	extension_pending   INTEGER NOT NULL DEFAULT 0 CHECK (extension_pending IN (0, 1)),
	suspended_from      TEXT,                      -- suspended/merged: the state to go back to
	urgency             TEXT NOT NULL DEFAULT 'normal',
	limit_kind          TEXT CHECK (limit_kind IN ('working_days', 'working_hours', 'hours')),
	limit_value         REAL,
	reported_at         INTEGER NOT NULL,
	registered_at       INTEGER,
	dispatched_at       INTEGER,
	first_response_at   INTEGER,
	handled_at          INTEGER,
	closed_at           INTEGER,
	deadline            INTEGER,
	warn_at             INTEGER,                   -- the 80 % point of the limit
	warned              INTEGER NOT NULL DEFAULT 0 CHECK (warned IN (0, 1)),
	overdue             INTEGER NOT NULL DEFAULT 0 CHECK (overdue IN (0, 1)),
	rework_count        INTEGER NOT NULL DEFAULT 0,
	satisfaction        TEXT CHECK (satisfaction IN ('satisfied', 'basically_satisfied',
	                                                 'dissatisfied')),
	duplicate_of        INTEGER REFERENCES cases(id), -- suggested master
	merged_into         INTEGER REFERENCES cases(id),
	support_count       INTEGER NOT NULL DEFAULT 1,
	reporter_name       TEXT,                      -- personal data: the API masks it by role
	reporter_phone      TEXT,
	reporter_user_id    INTEGER,
	attachments         TEXT NOT NULL DEFAULT '[]', -- JSON array of file ids
	created_at          INTEGER NOT NULL,
	updated_at          INTEGER NOT NULL
);

-- Idempotent intake: one case per (channel, external_id); cases without one are not indexed.
CREATE UNIQUE INDEX cases_external ON cases(channel, external_id) WHERE external_id IS NOT NULL;
-- Lists are newest first: every list index starts with its filter column(s), then reported_at
-- (SQLite appends the rowid), so "ORDER BY reported_at DESC, id DESC" is a backwards walk of the
-- chosen index. The trailing columns are the other filter columns: SQLite checks them from the
-- index entry and reads the table row only for a match, so a combined filter walks index
-- entries (~0.1 us each) instead of table rows (a random page each).
CREATE INDEX cases_reported ON cases(reported_at, status, street_code, community_code, unit_code,
                                     category_code, channel, overdue);
CREATE INDEX cases_status ON cases(status, reported_at, street_code, community_code, unit_code,
                                   category_code, channel, overdue);
CREATE INDEX cases_street ON cases(street_code, reported_at, status, community_code, unit_code,
                                   category_code, channel, overdue);
CREATE INDEX cases_street_status ON cases(street_code, status, reported_at, community_code,
                                          unit_code, category_code, channel, overdue);
CREATE INDEX cases_community ON cases(community_code, reported_at, status, unit_code,
                                      category_code, channel, overdue);
CREATE INDEX cases_unit ON cases(unit_code, reported_at, status, street_code, community_code,
                                 category_code, channel, overdue);
CREATE INDEX cases_unit_status ON cases(unit_code, status, reported_at, street_code,
                                        community_code, category_code, channel, overdue);
CREATE INDEX cases_category ON cases(category_code, reported_at, status, street_code,
                                     community_code, unit_code, channel, overdue);
CREATE INDEX cases_channel ON cases(channel, reported_at, status, street_code, community_code,
                                    unit_code, category_code, overdue);
-- Small partial indexes: only the rows the scheduler or the overdue filter still need.
CREATE INDEX cases_overdue ON cases(reported_at, status, street_code, community_code, unit_code,
                                    category_code, channel) WHERE overdue = 1;
CREATE INDEX cases_due_warn ON cases(warn_at)
	WHERE warned = 0 AND status IN ('reported', 'registered', 'dispatched', 'accepted',
	                                'handled', 'verified');
CREATE INDEX cases_due_deadline ON cases(deadline)
	WHERE overdue = 0 AND status IN ('reported', 'registered', 'dispatched', 'accepted',
	                                 'handled', 'verified');

CREATE TABLE case_events (
	id          INTEGER PRIMARY KEY,
	case_id     INTEGER NOT NULL REFERENCES cases(id),
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,     -- username or 'system'
	role        TEXT NOT NULL DEFAULT '',
	action      TEXT NOT NULL,     -- 'report', 'register', ..., 'warn', 'overdue'
	from_status TEXT,
	to_status   TEXT,
	comment     TEXT NOT NULL DEFAULT '',
	data        TEXT               -- JSON object or NULL
);
CREATE INDEX case_events_case ON case_events(case_id, id);

-- The readable reference's daily sequence: day is YYYYMMDD in Asia/Shanghai.
CREATE TABLE case_seq (
	day  TEXT PRIMARY KEY,
	last INTEGER NOT NULL
) WITHOUT ROWID;

-- Uploaded files: the bytes live under DATA/files/, written by the app.
CREATE TABLE files (
	id         TEXT PRIMARY KEY CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
	mime       TEXT NOT NULL,
	bytes      INTEGER NOT NULL CHECK (bytes >= 0),
	sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Score aggregates, kept as cases change: one row per (dimension, day, key) so that a month of
-- scores by any one dimension reads days x keys rows, however many cases there are.
-- dim is 'unit', 'street' or 'category'; key is the code, '' when not known yet; day is
-- 'YYYY-MM-DD' in Asia/Shanghai, the day the counted event happened.
CREATE TABLE case_stats (
	dim                  TEXT NOT NULL CHECK (dim IN ('unit', 'street', 'category')),
	day                  TEXT NOT NULL,
	key                  TEXT NOT NULL,
	received             INTEGER NOT NULL DEFAULT 0,
	closed               INTEGER NOT NULL DEFAULT 0,
	closed_on_time       INTEGER NOT NULL DEFAULT 0,
	responded            INTEGER NOT NULL DEFAULT 0,
	responded_on_time    INTEGER NOT NULL DEFAULT 0,
	rework               INTEGER NOT NULL DEFAULT 0,
	rated                INTEGER NOT NULL DEFAULT 0,
	satisfied            INTEGER NOT NULL DEFAULT 0,
	basically_satisfied  INTEGER NOT NULL DEFAULT 0,
	dissatisfied         INTEGER NOT NULL DEFAULT 0,
	handling_seconds_sum INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (dim, day, key)
) WITHOUT ROWID;
