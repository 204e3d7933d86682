/* Private to the SQLite back end (src/store/sqlite*.c): the store struct, the table of
 * cached statements, and helpers for transactions, errors and column copies. */
#ifndef CD_STORE_SQLITE_INT_H
#define CD_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/case_index.h"
#include "store/store.h"

#define STORE__USER_COLS \
	"id, username, password_hash, role, street_code, unit_code, display_name, created_at, disabled"
#define STORE__AUDIT_COLS "id, at, actor, client, action, target, before, after, prev_hash, hash"
#define STORE__ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* Case columns in the order of the field table in sqlite_cases.c; parameter ?k binds column k. */
#define STORE__CASE_COLS \
	"id, ref, version, channel, external_id, title, description, category_code, " \
	"category_source, category_confidence, lat, lng, address, street_code, " \
	"community_code, grid_code, unit_code, status, level, supervised, " \
	"extension_pending, suspended_from, urgency, limit_kind, limit_value, " \
	"reported_at, registered_at, dispatched_at, first_response_at, handled_at, " \
	"closed_at, deadline, warn_at, warned, overdue, rework_count, satisfaction, " \
	"duplicate_of, merged_into, support_count, reporter_name, reporter_phone, " \
	"reporter_user_id, attachments, created_at, updated_at"
#define STORE__CASE_INSERT_COLS \
	"ref, version, channel, external_id, title, description, category_code, " \
	"category_source, category_confidence, lat, lng, address, street_code, " \
	"community_code, grid_code, unit_code, status, level, supervised, " \
	"extension_pending, suspended_from, urgency, limit_kind, limit_value, " \
	"reported_at, registered_at, dispatched_at, first_response_at, handled_at, " \
	"closed_at, deadline, warn_at, warned, overdue, rework_count, satisfaction, " \
	"duplicate_of, merged_into, support_count, reporter_name, reporter_phone, " \
	"reporter_user_id, attachments, created_at, updated_at"
#define STORE__CASE_INSERT_VALUES \
	"?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, " \
	"?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, " \
	"?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43, ?44, ?45"
#define STORE__CASE_SETS \
	"ref = ?1, version = ?2, channel = ?3, external_id = ?4, title = ?5, " \
	"description = ?6, category_code = ?7, category_source = ?8, " \
	"category_confidence = ?9, lat = ?10, lng = ?11, address = ?12, " \
	"street_code = ?13, community_code = ?14, grid_code = ?15, unit_code = ?16, " \
	"status = ?17, level = ?18, supervised = ?19, extension_pending = ?20, " \
	"suspended_from = ?21, urgency = ?22, limit_kind = ?23, limit_value = ?24, " \
	"reported_at = ?25, registered_at = ?26, dispatched_at = ?27, " \
	"first_response_at = ?28, handled_at = ?29, closed_at = ?30, deadline = ?31, " \
	"warn_at = ?32, warned = ?33, overdue = ?34, rework_count = ?35, " \
	"satisfaction = ?36, duplicate_of = ?37, merged_into = ?38, support_count = ?39, " \
	"reporter_name = ?40, reporter_phone = ?41, reporter_user_id = ?42, " \
	"attachments = ?43, created_at = ?44, updated_at = ?45"

/* Every statement the store runs more than once, prepared on first use and kept for the life
 * of the connection (SQLITE_PREPARE_PERSISTENT). X(name, sql). */
#define STORE__STMTS(X)                                                                              \
	X(BEGIN, "BEGIN IMMEDIATE")                                                                  \
	X(COMMIT, "COMMIT")                                                                          \
	X(ROLLBACK, "ROLLBACK")                                                                      \
	X(META_GET, "SELECT value FROM meta WHERE key = ?1")                                         \
	X(META_SET, "INSERT INTO meta (key, value) VALUES (?1, ?2) "                                 \
		    "ON CONFLICT (key) DO UPDATE SET value = excluded.value")                        \
	X(META_SNAP, "SELECT json_object('key', key, 'value', value) FROM meta WHERE key = ?1")      \
	X(AUDIT_HEAD, "SELECT last_id, hash FROM audit_head WHERE one = 1")                          \
	X(AUDIT_INSERT, "INSERT INTO audit (" STORE__AUDIT_COLS ") "                                 \
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")                          \
	X(AUDIT_HEAD_SET, "UPDATE audit_head SET last_id = ?1, hash = ?2 WHERE one = 1")            \
	X(AUDIT_WALK, "SELECT " STORE__AUDIT_COLS " FROM audit ORDER BY id")                         \
	X(AUDIT_COUNT, "SELECT count(*) FROM audit")                                                 \
	X(AUDIT_PAGE, "SELECT " STORE__AUDIT_COLS " FROM audit ORDER BY id DESC LIMIT ?1 OFFSET ?2") \
	X(AREA_COUNT, "SELECT count(*) FROM areas WHERE level = ?1")                                 \
	X(AREA_DELETE, "DELETE FROM areas WHERE level = ?1")                                         \
	X(AREA_INSERT, "INSERT INTO areas (code, level, name, parent_code, geometry, approximate) "  \
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                            \
	X(AREA_LIST, "SELECT code, level, name, parent_code, geometry, approximate FROM areas "      \
		     "WHERE ?1 IS NULL OR level = ?1 ORDER BY code")                                 \
	X(AREA_GET, "SELECT code, level, name, parent_code, geometry, approximate FROM areas "       \
		    "WHERE code = ?1")                                                               \
	X(GRID_COUNT, "SELECT count(*) FROM grid_cells")                                             \
	X(GRID_DELETE, "DELETE FROM grid_cells")                                                     \
	X(GRID_INSERT, "INSERT INTO grid_cells (code, community_code, geometry, min_lat, min_lng, "  \
		       "max_lat, max_lng) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                      \
	X(GRID_LIST, "SELECT code, community_code, geometry, min_lat, min_lng, max_lat, max_lng "    \
		     "FROM grid_cells ORDER BY code")                                                \
	X(UNIT_PUT, "INSERT INTO units (code, name, kind, street_code, handles) "                    \
		    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (code) DO UPDATE SET "                   \
		    "name = excluded.name, kind = excluded.kind, street_code = excluded.street_code, " \
		    "handles = excluded.handles")                                                    \
	X(UNIT_GET, "SELECT code, name, kind, street_code, handles FROM units WHERE code = ?1")      \
	X(UNIT_LIST, "SELECT code, name, kind, street_code, handles FROM units ORDER BY code")       \
	X(UNIT_SNAP, "SELECT json_object('code', code, 'name', name, 'kind', kind, "                \
		     "'street_code', street_code, 'handles', handles) FROM units WHERE code = ?1")    \
	X(USER_INSERT, "INSERT INTO users (username, password_hash, role, street_code, unit_code, "  \
		       "display_name, created_at, disabled) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)") \
	X(USER_BY_NAME, "SELECT " STORE__USER_COLS " FROM users WHERE username = ?1")                \
	X(USER_BY_ID, "SELECT " STORE__USER_COLS " FROM users WHERE id = ?1")                        \
	X(USER_PAGE, "SELECT " STORE__USER_COLS " FROM users ORDER BY id LIMIT ?1 OFFSET ?2")        \
	X(USER_COUNT, "SELECT count(*) FROM users")                                                  \
	X(USER_SNAP, "SELECT json_object('id', id, 'username', username, 'role', role, "            \
		     "'street_code', street_code, 'unit_code', unit_code, 'display_name', "           \
		     "display_name, 'created_at', created_at, 'disabled', disabled) "                 \
		     "FROM users WHERE id = ?1")                                                     \
	X(USER_SET_PASSWORD, "UPDATE users SET password_hash = ?2 WHERE id = ?1")                    \
	X(USER_SET_DISABLED, "UPDATE users SET disabled = ?2 WHERE id = ?1")                         \
	X(SESSION_INSERT, "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "      \
			  "VALUES (?1, ?2, ?3, ?4)")                                                 \
	X(SESSION_LOOKUP, "SELECT u.id, u.username, u.password_hash, u.role, u.street_code, "       \
			  "u.unit_code, u.display_name, u.created_at, u.disabled, s.expires_at "    \
			  "FROM sessions s JOIN users u ON u.id = s.user_id "                       \
			  "WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 " \
			  "AND u.disabled = 0")                                                      \
	X(SESSION_LIVE_USER, "SELECT user_id FROM sessions WHERE token_hash = ?1 "                   \
			     "AND revoked_at IS NULL")                                               \
	X(SESSION_REVOKE, "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1")              \
	X(SESSION_REVOKE_USER, "UPDATE sessions SET revoked_at = ?2 "                                \
			       "WHERE user_id = ?1 AND revoked_at IS NULL")                          \
	X(SESSION_PURGE, "DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1")            \
	X(RESP_COUNT, "SELECT count(*) FROM responsibilities")                                       \
	X(RESP_DELETE, "DELETE FROM responsibilities")                                               \
	X(RESP_INSERT, "INSERT INTO responsibilities (category_code, area_code, unit_code, "        \
		       "priority) VALUES (?1, ?2, ?3, ?4)")                                          \
	X(RESP_LIST, "SELECT category_code, area_code, unit_code, priority FROM responsibilities "    \
		     "ORDER BY category_code, area_code")                                            \
	X(RESP_LOOKUP, "SELECT unit_code FROM responsibilities WHERE category_code = ?1 "            \
		       "AND area_code IN (?2, ?3, '*') "                                             \
		       "ORDER BY CASE area_code WHEN ?2 THEN 0 WHEN ?3 THEN 1 ELSE 2 END LIMIT 1") \
	STORE__CASE_STMTS(X)                                                                         \
	STORE__WEBHOOK_STMTS(X)

/* Cases, events, files and score aggregates (sqlite_cases.c). */
/* An open case, spelt exactly as the partial indexes cases_due_warn and cases_due_deadline spell
 * it (migration 0010: equalities, not an IN list, which costs a temporary b-tree per row). */
#define STORE__CASE_OPEN_COND                                                                    \
	"(status = 'reported' OR status = 'registered' OR status = 'dispatched' "                \
	"OR status = 'accepted' OR status = 'handled' OR status = 'verified')"
#define STORE__CASE_STMTS(X)                                                                         \
	X(CASE_INSERT, "INSERT INTO cases (" STORE__CASE_INSERT_COLS ") "                            \
		       "VALUES (" STORE__CASE_INSERT_VALUES ")")                                     \
	X(CASE_UPDATE, "UPDATE cases SET " STORE__CASE_SETS " WHERE id = ?46 AND version = ?47")     \
	X(CASE_INSERT_ID, "INSERT INTO cases (id, " STORE__CASE_INSERT_COLS ") "                     \
			  "VALUES (?46, " STORE__CASE_INSERT_VALUES ")")                             \
	X(CASE_ID_REF, "SELECT ref FROM cases WHERE id = ?1")                                        \
	X(CASE_MAX_ID, "SELECT max(id) FROM cases")                                                  \
	X(CASE_SEQ_RAISE, "INSERT INTO case_seq (day, last) VALUES (?1, ?2) "                        \
			  "ON CONFLICT (day) DO UPDATE SET last = max(last, excluded.last)")         \
	X(CASE_BY_ID, "SELECT " STORE__CASE_COLS " FROM cases WHERE id = ?1")                        \
	X(CASE_BY_REF, "SELECT " STORE__CASE_COLS " FROM cases WHERE ref = ?1")                      \
	X(CASE_BY_EXT, "SELECT " STORE__CASE_COLS " FROM cases "                                     \
		       "WHERE channel = ?1 AND external_id = ?2 AND external_id IS NOT NULL")         \
	X(CASE_SEQ_GET, "SELECT last FROM case_seq WHERE day = ?1")                                  \
	X(CASE_SEQ_MAX, "SELECT max(ref) FROM cases WHERE ref > ?1 AND ref < ?2")                    \
	X(CASE_SEQ_SET, "INSERT INTO case_seq (day, last) VALUES (?1, ?2) "                           \
			"ON CONFLICT (day) DO UPDATE SET last = excluded.last")                      \
	X(CASE_EVENT_INSERT, "INSERT INTO case_events (case_id, at, actor, role, action, "          \
			     "from_status, to_status, comment, data) "                               \
			     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                          \
	X(CASE_EVENT_LIST, "SELECT id, case_id, at, actor, role, action, from_status, to_status, "  \
			   "comment, data FROM case_events WHERE case_id = ?1 ORDER BY id")          \
	X(CASE_Q_MATCH, "SELECT 1 FROM cases WHERE id = ?1 "                                       \
			"AND (instr(title, ?2) > 0 OR instr(description, ?2) > 0)")                 \
	X(CASE_STATS_ADD, "INSERT INTO case_stats (dim, day, key, received, closed, "                \
			  "closed_on_time, responded, responded_on_time, rework, rated, satisfied, " \
			  "basically_satisfied, dissatisfied, handling_seconds_sum) "                \
			  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "    \
			  "ON CONFLICT (dim, day, key) DO UPDATE SET "                               \
			  "received = received + excluded.received, "                                \
			  "closed = closed + excluded.closed, "                                      \
			  "closed_on_time = closed_on_time + excluded.closed_on_time, "              \
			  "responded = responded + excluded.responded, "                             \
			  "responded_on_time = responded_on_time + excluded.responded_on_time, "     \
			  "rework = rework + excluded.rework, rated = rated + excluded.rated, "      \
			  "satisfied = satisfied + excluded.satisfied, "                             \
			  "basically_satisfied = basically_satisfied + excluded.basically_satisfied, " \
			  "dissatisfied = dissatisfied + excluded.dissatisfied, "                    \
			  "handling_seconds_sum = handling_seconds_sum + excluded.handling_seconds_sum") \
	X(CASE_SCORES, "SELECT key, sum(received), sum(closed), sum(closed_on_time), "              \
		       "sum(responded), sum(responded_on_time), sum(rework), sum(rated), "           \
		       "sum(satisfied), sum(basically_satisfied), sum(dissatisfied), "               \
		       "sum(handling_seconds_sum) FROM case_stats "                                  \
		       "WHERE dim = ?1 AND day >= ?2 AND day <= ?3 GROUP BY key ORDER BY key")       \
	X(CASE_DUE_OVERDUE, "SELECT id, ref, warned FROM cases WHERE overdue = 0 AND "               \
			    STORE__CASE_OPEN_COND " AND deadline <= ?1 ORDER BY deadline LIMIT ?2")  \
	X(CASE_DUE_WARN, "SELECT id, ref FROM cases WHERE warned = 0 AND "                           \
			 STORE__CASE_OPEN_COND " AND warn_at <= ?1 "                                 \
			 "AND (deadline IS NULL OR deadline > ?1) ORDER BY warn_at LIMIT ?2")        \
	X(CASE_RECENT, "SELECT id, ref, status, category_code, grid_code, lat, lng, reported_at, "    \
		       "merged_into FROM cases WHERE id >= ?2 AND reported_at >= ?1 "                \
		       "AND status NOT IN ('rejected', 'merged') ORDER BY reported_at, id")          \
	X(FILE_INSERT, "INSERT INTO files (id, mime, bytes, sha256, created_by, created_at) "        \
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                            \
	X(FILE_GET, "SELECT id, mime, bytes, sha256, created_by, created_at FROM files WHERE id = ?1") \
	X(FILE_SNAP, "SELECT json_object('id', id, 'mime', mime, 'bytes', bytes, 'sha256', sha256, " \
		     "'created_by', created_by, 'created_at', created_at) FROM files WHERE id = ?1")

/* Webhook subscriptions and their delivery queue (sqlite_webhooks.c). */
#define STORE__WEBHOOK_COLS "id, name, url, secret, events, street_code, unit_code, created_at"
#define STORE__WEBHOOK_DCOLS \
	"d.id, d.webhook_id, d.event_id, d.type, d.ref, d.body, d.status, d.attempts, d.next_at_ms, " \
	"d.created_at, d.last_at, d.last_status, d.last_error, w.name"
#define STORE__WEBHOOK_STMTS(X)                                                                      \
	X(WEBHOOK_INSERT, "INSERT INTO webhooks (name, url, secret, events, street_code, unit_code, " \
			  "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                         \
	X(WEBHOOK_BY_NAME, "SELECT " STORE__WEBHOOK_COLS " FROM webhooks WHERE name = ?1")           \
	X(WEBHOOK_LIST, "SELECT " STORE__WEBHOOK_COLS " FROM webhooks ORDER BY id LIMIT ?1")         \
	X(WEBHOOK_DELETE, "DELETE FROM webhooks WHERE id = ?1")                                      \
	X(WEBHOOK_SNAP, "SELECT json_object('id', id, 'name', name, 'url', url, 'events', events, "  \
			"'street_code', street_code, 'unit_code', unit_code, 'created_at', created_at) " \
			"FROM webhooks WHERE id = ?1")                                               \
	X(WEBHOOK_D_INSERT, "INSERT INTO webhook_deliveries (webhook_id, event_id, type, ref, body, " \
			    "next_at_ms, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")           \
	X(WEBHOOK_D_DELETE, "DELETE FROM webhook_deliveries WHERE id = ?1 AND status = 'pending'")   \
	X(WEBHOOK_D_FAIL, "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at_ms = ?2, " \
			  "last_at = ?3, last_status = ?4, last_error = ?5, "                        \
			  "status = CASE WHEN ?6 THEN 'dead' ELSE 'pending' END "                    \
			  "WHERE id = ?1 AND status = 'pending'")                                    \
	X(WEBHOOK_D_DUE, "SELECT " STORE__WEBHOOK_DCOLS " FROM webhook_deliveries d "                \
			 "JOIN webhooks w ON w.id = d.webhook_id WHERE d.webhook_id = ?1 "          \
			 "AND d.status = 'pending' AND d.next_at_ms <= ?2 "                         \
			 "ORDER BY d.next_at_ms, d.id LIMIT ?3")                                     \
	X(WEBHOOK_D_DEAD, "SELECT " STORE__WEBHOOK_DCOLS " FROM webhook_deliveries d "               \
			  "JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'dead' "          \
			  "AND (?1 = 0 OR d.webhook_id = ?1) ORDER BY d.id DESC LIMIT ?2")           \
	X(WEBHOOK_D_REQUEUE, "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "      \
			     "next_at_ms = ?2 WHERE id = ?1 AND status = 'dead'")                    \
	X(WEBHOOK_D_SNAP, "SELECT json_object('id', id, 'webhook_id', webhook_id, 'event_id', "      \
			  "event_id, 'type', type, 'ref', ref, 'status', status, 'attempts', "       \
			  "attempts, 'last_status', last_status, 'last_error', last_error) "         \
			  "FROM webhook_deliveries WHERE id = ?1")                                   \
	X(WEBHOOK_D_COUNT_HOOK, "SELECT count(*) FROM webhook_deliveries "                           \
				"WHERE webhook_id = ?1 AND status = ?2")                             \
	X(WEBHOOK_D_COUNT_PENDING, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") \
	X(WEBHOOK_D_COUNT_DEAD, "SELECT count(*) FROM webhook_deliveries WHERE status = 'dead'")

enum store__stmt {
#define STORE__ENUM(name, sql) STORE__##name,
	STORE__STMTS(STORE__ENUM)
#undef STORE__ENUM
	STORE__NSTMT
};

struct store {
	sqlite3 *db;                         /* the one connection; used only under `lock` */
	pthread_mutex_t lock;                /* serialises every call (see docs/internals/store.md) */
	sqlite3_stmt *stmts[STORE__NSTMT];   /* cached statements, NULL until first use */
	char *path;                          /* database file, for store_size_bytes */
	int version;                         /* user_version after migrations */
	int cases_ready;                     /* sqlite_cases.c applied its connection settings */
	struct store__journal *journal;      /* intake journal (sqlite_journal.c) when on, else NULL */
	_Atomic uint64_t map_gen;            /* bumped after each write to areas, grid, units, responsibilities */
	_Atomic uint64_t auth_gen;           /* bumped after each revocation, disable or password change */
	struct case_index *cindex;           /* the case list index (case_index.h), NULL until built;
					      * shared with the journal applier's connection */
	int cindex_owned;                    /* this store frees cindex (not the applier's) */
};

/* Opens another connection to the database at path (configured and migrated like store_open,
 * without the journal replay): the intake journal's applier writes through it. */
enum cd_err store__open_conn(const char *path, struct store **out) CD_MUST_CHECK;

void store__lock(struct store *st);
void store__unlock(struct store *st);

/* The cached statement `id`, reset and unbound, or NULL (error logged) if it cannot be
 * prepared. Callers hand it back with store__done. */
sqlite3_stmt *store__stmt(struct store *st, enum store__stmt id);
/* Resets a statement and clears its bindings. NULL is fine. */
void store__done(sqlite3_stmt *s);

/* Maps an SQLite result code to the project's error, logging unexpected failures with
 * sqlite3_errmsg. Constraint failures: UNIQUE/PRIMARY KEY -> CD_ERR_EXISTS; FOREIGN KEY,
 * CHECK, NOT NULL -> CD_ERR_INVALID. */
enum cd_err store__err(struct store *st, int src, const char *what);
/* Steps a query expected to give at most one row: CD_OK with the row ready to read,
 * CD_ERR_NOTFOUND when there is none, else the mapped error (logged with `what`). */
enum cd_err store__step_row(struct store *st, sqlite3_stmt *s, const char *what);

/* BEGIN IMMEDIATE (takes the write lock up front, so no upgrade deadlocks between processes). */
enum cd_err store__begin(struct store *st) CD_MUST_CHECK;
/* Commits when rc is CD_OK, else rolls back; returns rc, or the commit's error. */
enum cd_err store__end(struct store *st, enum cd_err rc) CD_MUST_CHECK;

/* Steps a statement that returns no rows (or whose rows are ignored) to completion. */
enum cd_err store__exec(struct store *st, sqlite3_stmt *s, const char *what) CD_MUST_CHECK;
/* Binds text, or NULL when s is NULL or "" (optional columns). */
int store__bind_opt(sqlite3_stmt *s, int idx, const char *text);
/* Binds text that must be present ("" stays ""). */
int store__bind_text(sqlite3_stmt *s, int idx, const char *text);
/* Copies a text column into dst[0..cap) ("" for NULL). CD_ERR_CORRUPT when it does not fit,
 * which only a database edited behind the store's back can cause. */
enum cd_err store__col_copy(sqlite3_stmt *s, int col, char *dst, size_t cap) CD_MUST_CHECK;
/* A copy of a text column (NULL for NULL) for the caller to xfree, in *out. */
enum cd_err store__col_dup(sqlite3_stmt *s, int col, char **out) CD_MUST_CHECK;
/* Runs a one-column one-row snapshot statement (json_object of a row) bound to key (text)
 * or id; *out is a copy to xfree, NULL when the row does not exist. */
enum cd_err store__snapshot_text(struct store *st, enum store__stmt id, const char *key,
				 char **out) CD_MUST_CHECK;
enum cd_err store__snapshot_id(struct store *st, enum store__stmt id, int64_t key,
			       char **out) CD_MUST_CHECK;
/* The single integer a count statement returns, with ?1 bound to `arg` when not NULL. */
enum cd_err store__count(struct store *st, enum store__stmt id, const char *arg,
			 int64_t *out) CD_MUST_CHECK;

/* A statement prepared for one call (the files whose statements are not in the cached table),
 * for the caller to sqlite3_finalize; NULL with the error logged under `what`. Store locked. */
sqlite3_stmt *store__prepare(struct store *st, const char *sql, const char *what);
/* Runs a one-column one-row snapshot statement prepared from sql (json_object of a row) with ?1
 * bound to key (text) when key is not NULL, else to id; *out is a copy to xfree, NULL when the
 * row does not exist. Store locked. */
enum cd_err store__snapshot_sql(struct store *st, const char *sql, const char *key, int64_t id,
				char **out) CD_MUST_CHECK;

/* The work of one write: runs inside the transaction, store locked; its result decides commit. */
typedef enum cd_err (*store__tx_fn)(struct store *st, void *ctx);
/* Takes the store's lock, BEGINs, runs fn(st, ctx), COMMITs when it returned CD_OK (else rolls
 * back) and unlocks. Returns fn's error, or BEGIN's or COMMIT's. */
enum cd_err store__in_tx(struct store *st, store__tx_fn fn, void *ctx) CD_MUST_CHECK;

/* Fills the zeroed element `row` from the current row of s. */
typedef enum cd_err (*store__row_fn)(sqlite3_stmt *s, void *row);
/* Steps s (bound by the caller) to its end and converts every row with conv into a growing
 * array of size-byte elements, handed back in *out (xfree; NULL when there are no rows) and *n.
 * The array grows with try_realloc (CD_ERR_NOMEM, nothing handed back). Neither resets nor
 * finalizes s. Store locked. */
enum cd_err store__collect(struct store *st, sqlite3_stmt *s, size_t size, store__row_fn conv, void **out,
			   size_t *n) CD_MUST_CHECK;

/* A text column copied into a char array member of a row struct (store__text_cols). */
struct store__text_col {
	int col;    /* result column index */
	size_t off; /* offsetof the member */
	size_t cap; /* sizeof the member (capacity with NUL) */
};
#define STORE__TEXT_COL(type, col, member)                                                                   \
	{                                                                                                    \
		(col), offsetof(type, member), sizeof(((type *)0)->member)                                   \
	}
/* Copies each listed text column into its member of row (store__col_copy), in table order,
 * stopping at the first that does not fit (CD_ERR_CORRUPT; later members are left as they were). */
enum cd_err store__text_cols(sqlite3_stmt *s, void *row, const struct store__text_col *cols,
			     size_t n) CD_MUST_CHECK;

/* Appends an audit entry inside the caller's transaction (store locked, BEGIN done).
 * before/after are JSON texts or NULL. */
enum cd_err store__audit_add(struct store *st, const struct store_actor *actor, const char *action,
			     const char *target, const char *before, const char *after) CD_MUST_CHECK;

/* True when the char array holds a NUL (an input struct's fixed field is terminated). */
#define STORE__TERMINATED(arr) (memchr((arr), 0, sizeof(arr)) != NULL)

/* ---- cases: the field table and the intake journal (sqlite_cases.c, sqlite_journal.c) ---- */

/* How a column of struct store_case is stored. */
enum store__ftype {
	STORE__F_TEXT,  /* char array, stored as is ("" stays "") */
	STORE__F_OTEXT, /* char array, "" <-> NULL */
	STORE__F_I64,   /* int64_t, always stored */
	STORE__F_OI64,  /* int64_t, 0 <-> NULL */
	STORE__F_INT,   /* int */
	STORE__F_REAL,  /* double */
	STORE__F_POINT, /* double, NULL unless has_point */
};

struct store__field {
	const char *name;        /* column name, also the key in audit JSON */
	enum store__ftype type;
	size_t off;              /* offsetof in struct store_case */
	size_t size;             /* sizeof the member (char arrays: capacity with NUL) */
};

#define STORE__CASE_NFIELDS 46
/* One entry per column of STORE__CASE_COLS, in that order (sqlite_case_rows.c). */
extern const struct store__field store__case_fields[STORE__CASE_NFIELDS];

/* ---- row-level pieces of case writes (sqlite_case_rows.c) ---- */

/* Fills c from a row of STORE__CASE_COLS (used by sqlite_cases.c, sqlite_case_batch.c and
 * sqlite_case_reads.c). */
enum cd_err store__case_from_row(sqlite3_stmt *s, struct store_case *c) CD_MUST_CHECK;
/* Binds columns 1..STORE__CASE_NFIELDS-1 of c to parameters ?1..?45 of CASE_INSERT or
 * CASE_UPDATE, as the field table says each is stored (texts are borrowed: c must outlive
 * the step). */
void store__case_bind(sqlite3_stmt *s, const struct store_case *c);
/* 1 when every char array of c holds a NUL and its numbers are finite (the point only when
 * present); callers add their own required fields. */
int store__case_well_formed(const struct store_case *c);
/* Fills the defaults store.h promises for empty fields (status, level, urgency, attachments,
 * support_count). */
void store__case_defaults(struct store_case *c);
/* 1 when every char array of ev holds a NUL and it names an action. */
int store__case_event_well_formed(const struct store_case_event *ev);
/* Inserts ev as an event of case_id: CD_ERR_INVALID unless well formed. Fills ev's empty
 * actor (actor->name or "system", truncated to fit), at (now when 0), case_id and id. Store
 * locked, in a transaction. */
enum cd_err store__case_event_insert(struct store *st, int64_t case_id, struct store_case_event *ev,
				     const struct store_actor *actor, int64_t now) CD_MUST_CHECK;

#define STORE__STATS_NCOUNTS 10 /* the int counters of struct store_stats_delta */
/* The case_stats dimensions, in the order unit, street, category. */
extern const char *const store__case_stat_dims[3];
/* 1 when the unit, street and category codes of d hold a NUL. */
int store__case_delta_well_formed(const struct store_stats_delta *d);
/* The counters of d in CASE_STATS_ADD's order (received ... dissatisfied). */
void store__case_delta_counts(const struct store_stats_delta *d, int v[STORE__STATS_NCOUNTS]);
/* Adds v and seconds to the case_stats row (dim, day, key), creating it. Store locked. */
enum cd_err store__case_stats_put(struct store *st, const char *dim, const char *day, const char *key,
				  const int v[STORE__STATS_NCOUNTS], int64_t seconds) CD_MUST_CHECK;
/* Adds one delta under its unit, street and category on the day of d->at (now when 0):
 * three store__case_stats_put. CD_ERR_INVALID when a code lacks its NUL. Store locked. */
enum cd_err store__case_stats_add(struct store *st, const struct store_stats_delta *d) CD_MUST_CHECK;
struct buf; /* util/buf.h */
/* Resets before/after and writes the audit entry's objects into them: id, ref, version and
 * every other field that differs between old and now (NULL columns as null). */
enum cd_err store__case_diff_json(const struct store_case *old, const struct store_case *now,
				  struct buf *before, struct buf *after) CD_MUST_CHECK;
/* The audit entry of one workflow step: "case.<ev->action>" ("case.update" without ev) on
 * "cases/<id>", with store__case_diff_json's objects (before/after are scratch buffers). */
enum cd_err store__case_audit_step(struct store *st, const struct store_actor *actor,
				   const struct store_case *old, const struct store_case *now,
				   const struct store_case_event *ev, struct buf *before,
				   struct buf *after) CD_MUST_CHECK;

/* Applies the cases workload's connection settings once (page cache, checkpoint interval). Store
 * locked. */
void store__cases_setup(struct store *st);
/* "YYYY-MM-DD" with digits where digits belong. */
int store__day_well_formed(const char *d);

/* Checks a new case and its first event as the schema would (terminated strings, channel,
 * status, level, source, limit kind, satisfaction, 0/1 flags, description, reported_at) and
 * fills the defaults store_case_insert_batch promises. CD_ERR_INVALID when refused. */
enum cd_err store__case_prepare_new(struct store_case *c, struct store_case_event *ev,
				    const struct store_actor *actor, int64_t now) CD_MUST_CHECK;
/* YYYYMMDD of t in Asia/Shanghai (the ref's day). */
void store__case_ymd(int64_t t, char out[9]);
/* Writes "LH" + day + 6-digit seq into ref. */
void store__case_ref(char ref[STORE_CASE_REF_MAX], const char day[9], int64_t seq);
/* The last daily sequence number handed out for `day` (the counter row, checked against
 * max(ref) of the day). Store locked. */
enum cd_err store__case_seq_load(struct store *st, const char day[9], int64_t *last) CD_MUST_CHECK;
/* max(id) of cases, 0 when none. Store locked. */
enum cd_err store__case_max_id(struct store *st, int64_t *out) CD_MUST_CHECK;
/* Whether a case with this id is stored in the database. Store locked. */
enum cd_err store__case_exists(struct store *st, int64_t id, int *exists) CD_MUST_CHECK;
/* The case with (channel, external_id) in the database; CD_ERR_NOTFOUND. Store locked. */
enum cd_err store__case_find_external_locked(struct store *st, const char *channel, const char *ext,
					     struct store_case *out) CD_MUST_CHECK;

/* ---- the case list index (case_index.h) kept in step with the cases table ---- */

/* The list columns of one case, copied (a journalled case is decoded into one reused struct). */
struct store__cindex_copy {
	int64_t id, reported_at;
	char status[STORE_CASE_WORD_MAX];
	char street_code[STORE_CODE_MAX];
	char community_code[STORE_CODE_MAX];
	char unit_code[STORE_CODE_MAX];
	char category_code[STORE_CATEGORY_MAX];
	char channel[STORE_CASE_WORD_MAX];
	int overdue;
};
/* The cases one write transaction stored or changed, put into the index once it committed (a
 * rolled-back transaction leaves the index as it was). */
struct store__cindex_batch {
	struct store__cindex_copy *rows;
	size_t n, cap;
};
/* Notes c (as written) in b. */
void store__cindex_note(struct store__cindex_batch *b, const struct store_case *c);
/* Puts b's cases into st->cindex (nothing when there is no index) and empties b; call after
 * the COMMIT, store still locked. A refused row is logged (it cannot happen with ids SQLite
 * hands out). */
void store__cindex_flush(struct store *st, struct store__cindex_batch *b);
/* Frees b's rows. */
void store__cindex_release(struct store__cindex_batch *b);
/* Builds st->cindex from one pass over the cases table unless it is built, and logs how long
 * it took. On first need: the first list, the recent cases, or store_case_journal_start (before
 * the applier starts, which shares the index); a command that never lists never pays for it.
 * Until then writes have no index to keep in step, and the pass sees what they committed.
 * Store locked. */
enum cd_err store__cindex_ready(struct store *st) CD_MUST_CHECK;

/* Hands the next journalled case to store__cases_apply: 1 and *c, *ev, *actor filled; 0 when
 * there are no more; -1 when a record cannot be read (the transaction is rolled back). */
typedef int (*store__apply_next_fn)(void *ctx, struct store_case *c, struct store_case_event *ev,
				    struct store_actor *actor);
/* Writes journalled cases (id, ref and times already assigned) into the database in ONE
 * transaction: row, first event, received counts, the daily counters, one "cases.intake" audit
 * entry per 1,000 cases, and meta[STORE__JOURNAL_MARK] = mark, so the journal position applied
 * commits with the cases. A case already stored under its id (a replay) is skipped. Takes the
 * store's lock. *applied counts the cases written. */
enum cd_err store__cases_apply(struct store *st, store__apply_next_fn next, void *ctx,
			       const char *mark, size_t *applied) CD_MUST_CHECK;
#define STORE__JOURNAL_MARK "intake_journal" /* meta key: "<journal id hex>:<byte offset>" */

/* Journal-mode insert (store_case_insert_batch when st->journal is set): same contract, with
 * the journal's fdatasync as the durability point. */
enum cd_err store__journal_insert(struct store *st, const struct store_actor *actor,
				  struct store_case *const *cases, struct store_case_event *const *evs,
				  size_t n, enum cd_err *results) CD_MUST_CHECK;
/* Waits until every case journalled before the call is in the database (reads that need the
 * rows: lists, due, recent, scores), at most max_ms when max_ms > 0 (then logs that the read
 * may miss the newest cases). Free when nothing is pending. Call without the store's lock. */
void store__journal_barrier(struct store *st, int max_ms);
#define STORE__READ_WAIT_MS 1000 /* how long a list waits for the applier at most */
/* Waits until the case `id` is in the database, if it is pending (store_case_apply). */
void store__journal_wait_case(struct store *st, int64_t id);
/* The first (only) event of a pending case; CD_ERR_NOTFOUND when the case is not pending. */
enum cd_err store__journal_first_event(struct store *st, int64_t id,
				       struct store_case_event *ev) CD_MUST_CHECK;
/* Looks a not-yet-applied case up by id, ref or (channel, external_id): CD_OK and *out filled,
 * or CD_ERR_NOTFOUND (then the database has it or nobody does). */
enum cd_err store__journal_get(struct store *st, int64_t id, const char *ref, const char *channel,
			       const char *ext, struct store_case *out) CD_MUST_CHECK;
/* Replays a journal left by a stopped or killed process into the database (at open), unless
 * another process holds it. */
enum cd_err store__journal_recover(struct store *st) CD_MUST_CHECK;
/* Applies everything pending, stops the applier, closes the journal (store_close). */
void store__journal_close(struct store *st);

#endif
