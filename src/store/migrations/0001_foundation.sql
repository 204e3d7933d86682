-- citydesk foundation schema: the map (areas, grid), units, accounts, sessions, the
-- responsibility list and a key/value table. Times are INTEGER unix seconds; codes are TEXT.
-- Area codes are not foreign keys from users or responsibilities, because areas of a level
-- are replaced wholesale on import; the grid does reference its community (cascade on replace).

CREATE TABLE areas (
	code        TEXT PRIMARY KEY,
	level       TEXT NOT NULL CHECK (level IN ('district', 'street', 'community')),
	name        TEXT NOT NULL,
	parent_code TEXT,
	geometry    TEXT,            -- GeoJSON geometry object (WGS-84), or NULL if unknown
	approximate INTEGER NOT NULL DEFAULT 0 CHECK (approximate IN (0, 1))
);
CREATE INDEX areas_level ON areas(level, code);

CREATE TABLE grid_cells (
	code           TEXT PRIMARY KEY CHECK (length(code) = 15 AND code NOT GLOB '*[^0-9]*'),
	community_code TEXT NOT NULL REFERENCES areas(code) ON DELETE CASCADE,
	geometry       TEXT,
	min_lat        REAL NOT NULL,
	min_lng        REAL NOT NULL,
	max_lat        REAL NOT NULL,
	max_lng        REAL NOT NULL,
	CHECK (min_lat <= max_lat AND min_lng <= max_lng)
);
CREATE INDEX grid_cells_community ON grid_cells(community_code);

CREATE TABLE units (
	code        TEXT PRIMARY KEY CHECK (length(code) > 0),
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	street_code TEXT,
	handles     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE CHECK (length(username) > 0),
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'district_dispatcher', 'street_dispatcher',
	                                            'unit_staff', 'grid_worker', 'citizen', 'auditor',
	                                            'system')),
	street_code   TEXT,
	unit_code     TEXT REFERENCES units(code),
	display_name  TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	-- Scope is part of the role: a street dispatcher without a street would see nothing
	-- (or, worse, everything if a caller forgot the check).
	CHECK (role <> 'street_dispatcher' OR street_code IS NOT NULL),
	CHECK (role <> 'unit_staff' OR unit_code IS NOT NULL)
);

CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY CHECK (typeof(token_hash) = 'blob' AND length(token_hash) = 32),
	user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- 权责清单: which unit handles a category in an area ('*' = the whole district).
CREATE TABLE responsibilities (
	category_code TEXT NOT NULL CHECK (length(category_code) > 0),
	area_code     TEXT NOT NULL CHECK (length(area_code) > 0),
	unit_code     TEXT NOT NULL REFERENCES units(code),
	priority      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (category_code, area_code)
) WITHOUT ROWID;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
