/* The SQLite back end of store.h: opening, durability settings, migrations, the statement
 * cache and the helpers the other sqlite_*.c files share. One connection serves the whole
 * process behind one mutex; see docs/internals/store.md for why. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

/* Made by scripts/embed-sql.sh from the migration .sql files, in file order, NULL-ended. */
extern const char *const store_migrations[];

static const char *const stmt_sql[STORE__NSTMT] = {
#define STORE__SQL(name, sql) [STORE__##name] = sql,
	STORE__STMTS(STORE__SQL)
#undef STORE__SQL
};

/* How long a writer waits for another process (e.g. `citydesk user add` beside the server)
 * to release the write lock before giving up with CD_ERR_BUSY. */
#define BUSY_TIMEOUT_MS 5000

void store__lock(struct store *st)
{
	pthread_mutex_lock(&st->lock);
}

void store__unlock(struct store *st)
{
	pthread_mutex_unlock(&st->lock);
}

/* Logs msg with where it happened (a path, a statement, an operation) and SQLite's message
 * as JSON fields, both escaped. */
static void log_db(enum log_level level, const char *msg, const char *where, const char *detail)
{
	struct buf b;
	buf_init(&b, 2048);
	enum cd_err rc = buf_puts(&b, "\"where\":\"");
	if (!rc)
		rc = buf_json_escape(&b, where ? where : "");
	if (!rc)
		rc = buf_puts(&b, "\",\"detail\":\"");
	if (!rc)
		rc = buf_json_escape(&b, detail ? detail : "");
	if (!rc)
		rc = buf_puts(&b, "\"");
	log_msg(level, msg, "%s", rc ? "" : b.data);
	buf_release(&b);
}

enum cd_err store__err(struct store *st, int src, const char *what)
{
	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return CD_OK;
	case SQLITE_CONSTRAINT:
		if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
			return CD_ERR_EXISTS;
		if (src == SQLITE_CONSTRAINT_TRIGGER) {
			/* Only the audit triggers RAISE: something is trying to rewrite history. */
			log_db(LOG_ERROR, "store: audit trigger refused a write", what,
			       sqlite3_errmsg(st->db));
			return CD_ERR_CORRUPT;
		}
		return CD_ERR_INVALID;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_db(LOG_WARN, "store: database busy", what, sqlite3_errmsg(st->db));
		return CD_ERR_BUSY;
	case SQLITE_NOMEM:
		return CD_ERR_NOMEM;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
		log_db(LOG_ERROR, "store: i/o failure", what, sqlite3_errmsg(st->db));
		return CD_ERR_IO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_db(LOG_ERROR, "store: database is corrupt or not a database", what,
		       sqlite3_errmsg(st->db));
		return CD_ERR_CORRUPT;
	case SQLITE_TOOBIG:
		return CD_ERR_TOOBIG;
	default:
		log_db(LOG_ERROR, "store: sqlite error", what, sqlite3_errmsg(st->db));
		return CD_ERR_STORE;
	}
}

enum cd_err store__step_row(struct store *st, sqlite3_stmt *s, const char *what)
{
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		return CD_OK;
	return src == SQLITE_DONE ? CD_ERR_NOTFOUND : store__err(st, src, what);
}

sqlite3_stmt *store__stmt(struct store *st, enum store__stmt id)
{
	if (!st->stmts[id]) {
		int src = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &st->stmts[id], NULL);
		if (src != SQLITE_OK) {
			log_db(LOG_ERROR, "store: cannot prepare statement", stmt_sql[id],
			       sqlite3_errmsg(st->db));
			st->stmts[id] = NULL;
			return NULL;
		}
	}
	return st->stmts[id];
}

void store__done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

enum cd_err store__begin(struct store *st)
{
	sqlite3_stmt *s = store__stmt(st, STORE__BEGIN);
	if (!s)
		return CD_ERR_STORE;
	return store__exec(st, s, "begin");
}

enum cd_err store__end(struct store *st, enum cd_err rc)
{
	if (rc == CD_OK) {
		sqlite3_stmt *c = store__stmt(st, STORE__COMMIT);
		rc = c ? store__exec(st, c, "commit") : CD_ERR_STORE;
		if (rc == CD_OK)
			return CD_OK;
	}
	if (!sqlite3_get_autocommit(st->db)) {
		sqlite3_stmt *r = store__stmt(st, STORE__ROLLBACK);
		if (!r || store__exec(st, r, "rollback") != CD_OK)
			log_msg(LOG_ERROR, "store: rollback failed", NULL);
	}
	return rc;
}

enum cd_err store__exec(struct store *st, sqlite3_stmt *s, const char *what)
{
	int src;
	while ((src = sqlite3_step(s)) == SQLITE_ROW)
		;
	/* sqlite3_reset repeats the step's extended error code; take it before clearing. */
	enum cd_err rc = store__err(st, src, what);
	store__done(s);
	return rc;
}

int store__bind_opt(sqlite3_stmt *s, int idx, const char *text)
{
	if (!text || !*text)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, text, -1, SQLITE_STATIC);
}

int store__bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	return sqlite3_bind_text(s, idx, text ? text : "", -1, SQLITE_STATIC);
}

enum cd_err store__col_copy(sqlite3_stmt *s, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t len = (size_t)sqlite3_column_bytes(s, col);
	if (!t) {
		dst[0] = '\0';
		return CD_OK;
	}
	if (len >= cap) {
		dst[0] = '\0';
		return CD_ERR_CORRUPT;
	}
	memcpy(dst, t, len);
	dst[len] = '\0';
	return CD_OK;
}

enum cd_err store__col_dup(sqlite3_stmt *s, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t len = (size_t)sqlite3_column_bytes(s, col);
	*out = NULL;
	if (!t)
		return CD_OK;
	char *p = try_malloc(len + 1);
	if (!p)
		return CD_ERR_NOMEM;
	memcpy(p, t, len);
	p[len] = '\0';
	*out = p;
	return CD_OK;
}

enum cd_err store__text_cols(sqlite3_stmt *s, void *row, const struct store__text_col *cols, size_t n)
{
	enum cd_err rc = CD_OK;
	for (size_t i = 0; !rc && i < n; i++)
		rc = store__col_copy(s, cols[i].col, (char *)row + cols[i].off, cols[i].cap);
	return rc;
}

enum cd_err store__collect(struct store *st, sqlite3_stmt *s, size_t size, store__row_fn conv, void **out,
			   size_t *n)
{
	*out = NULL;
	*n = 0;
	char *v = NULL;
	size_t count = 0, cap = 0;
	enum cd_err rc = CD_OK;
	int src;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char *nv = try_realloc(v, ncap * size);
			if (!nv) {
				rc = CD_ERR_NOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		memset(v + count * size, 0, size);
		rc = conv(s, v + count * size);
		if (rc)
			break;
		count++;
	}
	if (!rc && src != SQLITE_DONE)
		rc = store__err(st, src, "list");
	if (rc) {
		xfree(v);
		return rc;
	}
	*out = v;
	*n = count;
	return CD_OK;
}

sqlite3_stmt *store__prepare(struct store *st, const char *sql, const char *what)
{
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (src != SQLITE_OK) {
		(void)store__err(st, src, what);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

enum cd_err store__in_tx(struct store *st, store__tx_fn fn, void *ctx)
{
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, fn(st, ctx));
	store__unlock(st);
	return rc;
}

static enum cd_err snapshot_run(struct store *st, sqlite3_stmt *s, char **out)
{
	*out = NULL;
	int src = sqlite3_step(s);
	enum cd_err rc = CD_OK;
	if (src == SQLITE_ROW)
		rc = store__col_dup(s, 0, out);
	else if (src != SQLITE_DONE)
		rc = store__err(st, src, "snapshot");
	store__done(s);
	return rc;
}

enum cd_err store__snapshot_text(struct store *st, enum store__stmt id, const char *key, char **out)
{
	sqlite3_stmt *s = store__stmt(st, id);
	*out = NULL;
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, key);
	return snapshot_run(st, s, out);
}

enum cd_err store__snapshot_id(struct store *st, enum store__stmt id, int64_t key, char **out)
{
	sqlite3_stmt *s = store__stmt(st, id);
	*out = NULL;
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, key);
	return snapshot_run(st, s, out);
}

enum cd_err store__snapshot_sql(struct store *st, const char *sql, const char *key, int64_t id, char **out)
{
	sqlite3_stmt *s = store__prepare(st, sql, "snapshot prepare");
	*out = NULL;
	if (!s)
		return CD_ERR_STORE;
	if (key)
		store__bind_text(s, 1, key);
	else
		sqlite3_bind_int64(s, 1, id);
	enum cd_err rc = snapshot_run(st, s, out);
	sqlite3_finalize(s);
	return rc;
}

enum cd_err store__count(struct store *st, enum store__stmt id, const char *arg, int64_t *out)
{
	sqlite3_stmt *s = store__stmt(st, id);
	*out = 0;
	if (!s)
		return CD_ERR_STORE;
	if (arg)
		store__bind_text(s, 1, arg);
	int src = sqlite3_step(s);
	enum cd_err rc = CD_OK;
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = store__err(st, src == SQLITE_DONE ? SQLITE_ERROR : src, "count");
	store__done(s);
	return rc;
}

/* ---- opening and migrations ----------------------------------------------------------- */

int store_schema_latest(void)
{
	int n = 0;
	while (store_migrations[n])
		n++;
	return n;
}

/* Runs one uncached statement and returns its first column as an integer in *out (if not NULL). */
static enum cd_err exec_int(struct store *st, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (src != SQLITE_OK)
		return store__err(st, src, sql);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW && out)
		*out = sqlite3_column_int64(s, 0);
	else if (out)
		*out = 0;
	enum cd_err rc = store__err(st, src, sql);
	sqlite3_finalize(s);
	return rc;
}

/* Applies migration `from` (0-based: the one that takes user_version from -> from+1) in the
 * open transaction, and records it in the audit trail once the audit table exists. */
static enum cd_err migrate_one(struct store *st, int from)
{
	char *errmsg = NULL;
	int src = sqlite3_exec(st->db, store_migrations[from], NULL, NULL, &errmsg);
	if (src != SQLITE_OK) {
		char what[64];
		snprintf(what, sizeof what, "migration %d", from + 1);
		log_db(LOG_ERROR, "store: migration failed", what, errmsg);
		sqlite3_free(errmsg);
		return CD_ERR_STORE;
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", from + 1);
	enum cd_err rc = exec_int(st, sql, NULL);
	if (rc)
		return rc;
	int64_t has_audit = 0;
	rc = exec_int(st, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit'",
		      &has_audit);
	if (rc || !has_audit)
		return rc;
	char before[32], after[32];
	snprintf(before, sizeof before, "{\"version\":%d}", from);
	snprintf(after, sizeof after, "{\"version\":%d}", from + 1);
	static const struct store_actor system_actor = {"system", ""};
	return store__audit_add(st, &system_actor, "store.migrate", "schema", before, after);
}

/* Brings the schema to the latest version, one transaction per migration. The version is
 * read inside each write transaction, so two processes opening a new file at once cannot
 * both apply the same migration. */
static enum cd_err migrate(struct store *st)
{
	int latest = store_schema_latest();
	for (;;) {
		enum cd_err rc = store__begin(st);
		if (rc)
			return rc;
		int64_t v = 0;
		rc = exec_int(st, "PRAGMA user_version", &v);
		if (!rc && v > latest) {
			char detail[128];
			snprintf(detail, sizeof detail,
				 "database schema version %lld is newer than this binary's %d; "
				 "upgrade citydesk", (long long)v, latest);
			log_db(LOG_ERROR, "store: refusing to open a newer database", st->path, detail);
			rc = CD_ERR_CONFLICT;
		}
		if (rc || v == latest) {
			enum cd_err end = store__end(st, rc);
			st->version = (int)v;
			return end;
		}
		rc = migrate_one(st, (int)v);
		rc = store__end(st, rc);
		if (rc)
			return rc;
		log_msg(LOG_INFO, "store: migrated", "\"version\":%lld", (long long)v + 1);
	}
}

/* Sets journal_mode=WAL, synchronous=FULL, foreign_keys=ON and checks they took. */
static enum cd_err configure(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (src != SQLITE_OK)
		return store__err(st, src, "journal_mode");
	src = sqlite3_step(s);
	enum cd_err rc = store__err(st, src, "journal_mode");
	if (!rc && (src != SQLITE_ROW ||
		    strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)) {
		log_db(LOG_ERROR, "store: cannot switch to WAL mode", st->path, "");
		rc = CD_ERR_STORE;
	}
	sqlite3_finalize(s);
	if (rc)
		return rc;
	/* FULL: in WAL mode every COMMIT fsyncs the WAL, so an acknowledged write survives a
	 * power cut as well as kill -9 (NORMAL would survive kill -9 but may lose the last
	 * commits on power loss). */
	rc = exec_int(st, "PRAGMA synchronous = FULL", NULL);
	if (!rc)
		rc = exec_int(st, "PRAGMA foreign_keys = ON", NULL);
	int64_t fk = 0;
	if (!rc)
		rc = exec_int(st, "PRAGMA foreign_keys", &fk);
	if (!rc && fk != 1) {
		log_db(LOG_ERROR, "store: foreign keys unavailable", st->path, "");
		rc = CD_ERR_STORE;
	}
	return rc;
}

/* Process-wide SQLite settings, before the library initialises (sqlite3_config refuses them
 * afterwards, harmlessly). Memory statistics off: with them on, every sqlite3_malloc takes a
 * global mutex, ~8 % of the intake applier's time in a profile; the store never reads them. */
static void sqlite_global_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static enum cd_err open_store(const char *path, int recover, struct store **out)
{
	enum cd_err rc = CD_ERR_STORE;
	*out = NULL;
	if (sodium_init() < 0)
		return CD_ERR_STORE;
	pthread_once(&sqlite_once, sqlite_global_setup);
	struct store *st = xcalloc(1, sizeof *st);
	pthread_mutex_init(&st->lock, NULL);
	st->path = xstrdup(path);
	/* NOMUTEX: the store's own mutex already serialises every use of the connection. */
	int src = sqlite3_open_v2(path, &st->db,
				  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				  NULL);
	if (src != SQLITE_OK) {
		log_db(LOG_ERROR, "store: cannot open database", path,
		       st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
		rc = (src == SQLITE_NOMEM) ? CD_ERR_NOMEM : CD_ERR_IO;
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	/* Our own connection may not corrupt the file even through writable_schema tricks. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	rc = configure(st);
	if (!rc)
		rc = migrate(st);
	if (!rc && recover)
		rc = store__journal_recover(st); /* cases a killed server journalled but did not apply */
	if (rc)
		goto fail;
	*out = st;
	return CD_OK;
fail:
	store_close(st);
	return rc;
}

enum cd_err store_open(const char *path, struct store **out)
{
	return open_store(path, 1, out);
}

enum cd_err store__open_conn(const char *path, struct store **out)
{
	return open_store(path, 0, out);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store__journal_close(st); /* applies what is pending, on its own connection */
	for (int i = 0; i < STORE__NSTMT; i++)
		sqlite3_finalize(st->stmts[i]);
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		log_db(LOG_ERROR, "store: close failed", st->path, sqlite3_errmsg(st->db));
	if (st->cindex_owned)
		case_index_free(st->cindex);
	pthread_mutex_destroy(&st->lock);
	xfree(st->path);
	xfree(st);
}

int store_schema_version(struct store *st)
{
	store__lock(st);
	int v = st->version;
	store__unlock(st);
	return v;
}

enum cd_err store_size_bytes(struct store *st, int64_t *out)
{
	*out = 0;
	struct stat sb;
	if (stat(st->path, &sb) != 0) {
		log_msg(LOG_ERROR, "store: stat failed", "\"errno\":%d", errno);
		return CD_ERR_IO;
	}
	int64_t total = (int64_t)sb.st_size;
	struct buf wal;
	buf_init(&wal, 4096);
	if (buf_printf(&wal, "%s-wal", st->path) == CD_OK && stat(wal.data, &sb) == 0)
		total += (int64_t)sb.st_size;
	buf_release(&wal);
	*out = total;
	return CD_OK;
}

enum cd_err store_checkpoint(struct store *st)
{
	store__lock(st);
	int log_frames = 0, done = 0;
	int src = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
					    &done);
	enum cd_err rc = store__err(st, src, "checkpoint");
	store__unlock(st);
	if (!rc)
		log_msg(LOG_INFO, "store: checkpoint", "\"frames\":%d,\"copied\":%d", log_frames, done);
	return rc;
}

/* ---- meta ------------------------------------------------------------------------------ */

enum cd_err store_meta_get(struct store *st, const char *key, char *out, size_t cap)
{
	if (!cap)
		return CD_ERR_TOOBIG;
	out[0] = '\0';
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__META_GET);
	if (s) {
		store__bind_text(s, 1, key);
		int src = sqlite3_step(s);
		if (src == SQLITE_ROW)
			rc = store__col_copy(s, 0, out, cap) ? CD_ERR_TOOBIG : CD_OK;
		else if (src == SQLITE_DONE)
			rc = CD_ERR_NOTFOUND;
		else
			rc = store__err(st, src, "meta get");
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

static enum cd_err meta_set_tx(struct store *st, const struct store_actor *actor, const char *key,
			       const char *value)
{
	char *before = NULL, *after = NULL;
	char target[STORE_KEY_MAX + 8];
	snprintf(target, sizeof target, "meta/%s", key);
	enum cd_err rc = store__snapshot_text(st, STORE__META_SNAP, key, &before);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__META_SET);
	if (!rc && !s)
		rc = CD_ERR_STORE;
	if (!rc) {
		store__bind_text(s, 1, key);
		store__bind_text(s, 2, value);
		rc = store__exec(st, s, "meta set");
	}
	if (!rc)
		rc = store__snapshot_text(st, STORE__META_SNAP, key, &after);
	if (!rc)
		rc = store__audit_add(st, actor, "meta.set", target, before, after);
	xfree(before);
	xfree(after);
	return rc;
}

enum cd_err store_meta_set(struct store *st, const struct store_actor *actor, const char *key,
			   const char *value)
{
	if (!key || !*key || strlen(key) >= STORE_KEY_MAX || !value)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, meta_set_tx(st, actor, key, value));
	store__unlock(st);
	return rc;
}
