/* Private to the SQLite back end (src/store/sqlite*.c): the store struct, the table of
 * cached statements, and helpers for transactions, errors and column copies. */
#ifndef CD_STORE_SQLITE_INT_H
#define CD_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

#define STORE__USER_COLS \
	"id, username, password_hash, role, street_code, unit_code, display_name, created_at, disabled"
#define STORE__AUDIT_COLS "id, at, actor, client, action, target, before, after, prev_hash, hash"
#define STORE__ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

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
		       "ORDER BY CASE area_code WHEN ?2 THEN 0 WHEN ?3 THEN 1 ELSE 2 END LIMIT 1")

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
};

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

/* Appends an audit entry inside the caller's transaction (store locked, BEGIN done).
 * before/after are JSON texts or NULL. */
enum cd_err store__audit_add(struct store *st, const struct store_actor *actor, const char *action,
			     const char *target, const char *before, const char *after) CD_MUST_CHECK;

/* True when the char array holds a NUL (an input struct's fixed field is terminated). */
#define STORE__TERMINATED(arr) (memchr((arr), 0, sizeof(arr)) != NULL)

#endif
