/* The SQLite back end of the telemetry time series (store_series.h): a file of its own with a
 * write connection used by one writer thread and a read connection shared (under a mutex) by
 * the API's queries. Raw values live in a WITHOUT ROWID table keyed (series, time), so one
 * series' values sit together and a range query is one B-tree walk; the rollups likewise. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_series.h"
#include "util/alloc.h"
#include "util/log.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS series_keys (\n"
    "  id     INTEGER PRIMARY KEY,\n"
    "  device TEXT NOT NULL,\n"
    "  metric TEXT NOT NULL,\n"
    "  UNIQUE (device, metric)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS raw (\n"
    "  key   INTEGER NOT NULL,\n"
    "  ts    INTEGER NOT NULL,\n" /* unix ms */
    "  value REAL NOT NULL,\n"
    "  PRIMARY KEY (key, ts)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS m1 (\n"
    "  key INTEGER NOT NULL, bucket INTEGER NOT NULL,\n" /* bucket: the minute's first ms */
    "  n INTEGER NOT NULL, sum REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,\n"
    "  PRIMARY KEY (key, bucket)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS h1 (\n"
    "  key INTEGER NOT NULL, bucket INTEGER NOT NULL,\n"
    "  n INTEGER NOT NULL, sum REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,\n"
    "  PRIMARY KEY (key, bucket)\n"
    ") WITHOUT ROWID;\n"
    "PRAGMA user_version = 1;\n";

static const char *const res_table[] = {"raw", "m1", "h1"};
static const int64_t res_bucket_ms[] = {0, 60000, 3600000};

enum { W_BEGIN, W_COMMIT, W_ROLLBACK, W_KEY, W_RAW, W_M1, W_H1, W_N };

static const char *const write_sql[W_N] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "INSERT OR IGNORE INTO series_keys (id, device, metric) VALUES (?1, ?2, ?3)",
    "INSERT OR IGNORE INTO raw (key, ts, value) VALUES (?1, ?2, ?3)",
    "INSERT INTO m1 (key, bucket, n, sum, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (key, bucket) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, "
    "lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
    "INSERT INTO h1 (key, bucket, n, sum, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (key, bucket) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, "
    "lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
};

struct store_series {
	sqlite3 *w;	       /* the writer's connection (one thread) */
	sqlite3_stmt *ws[W_N]; /* its statements, prepared at open */
	sqlite3 *r;	       /* the readers' connection */
	pthread_mutex_t rlock; /* guards r */
	char *path;
	unsigned char *fresh; /* per-row "was new" flags of the current write (grown) */
	size_t fresh_cap;
};

static enum cd_err map_err(sqlite3 *db, int src, const char *what)
{
	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return CD_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return CD_ERR_BUSY;
	case SQLITE_NOMEM:
		return CD_ERR_NOMEM;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
		log_error("series: I/O error", "\"what\":\"%s\",\"sqlite\":%d", what, src);
		return CD_ERR_IO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_error("series: file is damaged or not a database", "\"what\":\"%s\",\"sqlite\":%d", what,
			  src);
		return CD_ERR_CORRUPT;
	default:
		log_error("series: database error", "\"what\":\"%s\",\"sqlite\":%d,\"msg_len\":%zu", what,
			  src, strlen(sqlite3_errmsg(db)));
		return CD_ERR_STORE;
	}
}

static enum cd_err open_conn(const char *path, bool writer, sqlite3 **out)
{
	*out = NULL;
	sqlite3 *db = NULL;
	int src = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				  NULL);
	if (src != SQLITE_OK) {
		enum cd_err rc = map_err(db, src, "open");
		sqlite3_close(db);
		return rc ? rc : CD_ERR_IO;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	/* WAL: readers never block the writer. synchronous=NORMAL: commits are not fsynced one by
	 * one (the WAL is at checkpoints), so a power cut can lose the last second or so of
	 * telemetry but never corrupts the file, and a killed process loses nothing committed. */
	const char *pragmas = writer ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
				       "PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; "
				       "PRAGMA journal_size_limit = 67108864;"
				     : "PRAGMA cache_size = -16384; PRAGMA query_only = 1;";
	char *msg = NULL;
	src = sqlite3_exec(db, pragmas, NULL, NULL, &msg);
	sqlite3_free(msg);
	if (src == SQLITE_OK && writer) {
		src = sqlite3_exec(db, schema, NULL, NULL, &msg);
		sqlite3_free(msg);
	}
	if (src != SQLITE_OK) {
		enum cd_err rc = map_err(db, src, "setup");
		sqlite3_close(db);
		return rc ? rc : CD_ERR_STORE;
	}
	*out = db;
	return CD_OK;
}

enum cd_err store_series_open(const char *path, struct store_series **out)
{
	*out = NULL;
	struct store_series *ss = xcalloc(1, sizeof *ss);
	pthread_mutex_init(&ss->rlock, NULL);
	ss->path = xstrdup(path);
	enum cd_err rc = open_conn(path, true, &ss->w);
	for (int i = 0; !rc && i < W_N; i++) {
		int src =
		    sqlite3_prepare_v3(ss->w, write_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ss->ws[i], NULL);
		if (src != SQLITE_OK)
			rc = map_err(ss->w, src, "prepare");
	}
	if (!rc)
		rc = open_conn(path, false, &ss->r);
	if (rc) {
		store_series_close(ss);
		return rc;
	}
	*out = ss;
	return CD_OK;
}

void store_series_close(struct store_series *ss)
{
	if (!ss)
		return;
	for (int i = 0; i < W_N; i++)
		sqlite3_finalize(ss->ws[i]);
	if (ss->w) {
		/* Leave a small file behind: checkpoint and truncate the WAL. */
		sqlite3_wal_checkpoint_v2(ss->w, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_close(ss->r);
	sqlite3_close(ss->w);
	pthread_mutex_destroy(&ss->rlock);
	xfree(ss->fresh);
	xfree(ss->path);
	xfree(ss);
}

enum cd_err store_series_keys(struct store_series *ss, store_series_key_fn fn, void *ctx)
{
	sqlite3_stmt *s = NULL;
	pthread_mutex_lock(&ss->rlock);
	int src =
	    sqlite3_prepare_v2(ss->r, "SELECT id, device, metric FROM series_keys ORDER BY id", -1, &s, NULL);
	enum cd_err rc = map_err(ss->r, src, "keys");
	struct store_series_key k;
	while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&k, 0, sizeof k);
		k.id = (uint32_t)sqlite3_column_int64(s, 0);
		const char *dev = (const char *)sqlite3_column_text(s, 1);
		const char *met = (const char *)sqlite3_column_text(s, 2);
		if (!dev || !met || strlen(dev) >= sizeof k.device || strlen(met) >= sizeof k.metric) {
			rc = CD_ERR_CORRUPT;
			break;
		}
		snprintf(k.device, sizeof k.device, "%s", dev);
		snprintf(k.metric, sizeof k.metric, "%s", met);
		if (fn(ctx, &k))
			break;
	}
	if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
		rc = map_err(ss->r, src, "keys");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&ss->rlock);
	return rc;
}

/* Steps a cached write statement to completion and resets it. */
static int wstep(struct store_series *ss, int which)
{
	int src = sqlite3_step(ss->ws[which]);
	sqlite3_reset(ss->ws[which]);
	return src == SQLITE_ROW ? SQLITE_DONE : src;
}

static int row_cmp(const void *a, const void *b)
{
	const struct store_series_row *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

/* The rollup bucket of `ts` at `ms` width (ts > 0). */
static int64_t bucket_of(int64_t ts, int64_t ms)
{
	return ts - ts % ms;
}

/* Upserts the rollups of rows[0..n) (sorted, fresh[i] marks the new ones) at resolution res. */
static int write_rollups(struct store_series *ss, const struct store_series_row *rows, size_t n, int which,
			 int64_t width)
{
	sqlite3_stmt *s = ss->ws[which];
	for (size_t i = 0; i < n;) {
		if (!ss->fresh[i]) {
			i++;
			continue;
		}
		uint32_t key = rows[i].key;
		int64_t b = bucket_of(rows[i].ts_ms, width);
		int64_t cnt = 0;
		double sum = 0, lo = rows[i].value, hi = rows[i].value;
		for (; i < n && rows[i].key == key && bucket_of(rows[i].ts_ms, width) == b; i++) {
			if (!ss->fresh[i])
				continue;
			cnt++;
			sum += rows[i].value;
			if (rows[i].value < lo)
				lo = rows[i].value;
			if (rows[i].value > hi)
				hi = rows[i].value;
		}
		sqlite3_bind_int64(s, 1, key);
		sqlite3_bind_int64(s, 2, b);
		sqlite3_bind_int64(s, 3, cnt);
		sqlite3_bind_double(s, 4, sum);
		sqlite3_bind_double(s, 5, lo);
		sqlite3_bind_double(s, 6, hi);
		int src = wstep(ss, which);
		if (src != SQLITE_DONE)
			return src;
	}
	return SQLITE_DONE;
}

enum cd_err store_series_write(struct store_series *ss, const struct store_series_key *keys, size_t nkeys,
			       struct store_series_row *rows, size_t n, size_t *written)
{
	size_t stored = 0;
	if (written)
		*written = 0;
	if (!nkeys && !n)
		return CD_OK;
	if (n > ss->fresh_cap) {
		ss->fresh_cap = n;
		ss->fresh = xrealloc(ss->fresh, n);
	}
	if (n)
		qsort(rows, n, sizeof *rows, row_cmp);
	int src = wstep(ss, W_BEGIN);
	for (size_t i = 0; src == SQLITE_DONE && i < nkeys; i++) {
		sqlite3_stmt *s = ss->ws[W_KEY];
		sqlite3_bind_int64(s, 1, keys[i].id);
		sqlite3_bind_text(s, 2, keys[i].device, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, keys[i].metric, -1, SQLITE_STATIC);
		src = wstep(ss, W_KEY);
	}
	for (size_t i = 0; src == SQLITE_DONE && i < n; i++) {
		sqlite3_stmt *s = ss->ws[W_RAW];
		sqlite3_bind_int64(s, 1, rows[i].key);
		sqlite3_bind_int64(s, 2, rows[i].ts_ms);
		sqlite3_bind_double(s, 3, rows[i].value);
		src = wstep(ss, W_RAW);
		ss->fresh[i] = src == SQLITE_DONE && sqlite3_changes(ss->w) > 0;
		stored += ss->fresh[i];
	}
	if (src == SQLITE_DONE)
		src = write_rollups(ss, rows, n, W_M1, res_bucket_ms[STORE_SERIES_1M]);
	if (src == SQLITE_DONE)
		src = write_rollups(ss, rows, n, W_H1, res_bucket_ms[STORE_SERIES_1H]);
	if (src == SQLITE_DONE)
		src = wstep(ss, W_COMMIT);
	if (src != SQLITE_DONE) {
		enum cd_err rc = map_err(ss->w, src, "write");
		if (!sqlite3_get_autocommit(ss->w))
			(void)wstep(ss, W_ROLLBACK);
		return rc ? rc : CD_ERR_STORE;
	}
	if (written)
		*written = stored;
	return CD_OK;
}

enum cd_err store_series_query(struct store_series *ss, uint32_t key, enum store_series_res res,
			       int64_t from_ms, int64_t to_ms, size_t limit, struct store_series_point *out,
			       size_t *n, bool *more)
{
	*n = 0;
	*more = false;
	if ((unsigned)res > STORE_SERIES_1H)
		return CD_ERR_INVALID;
	char sql[160];
	if (res == STORE_SERIES_RAW)
		snprintf(sql, sizeof sql,
			 "SELECT ts, 1, value, value, value FROM raw "
			 "WHERE key = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts LIMIT ?4");
	else
		snprintf(sql, sizeof sql,
			 "SELECT bucket, n, sum, lo, hi FROM %s "
			 "WHERE key = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket LIMIT ?4",
			 res_table[res]);
	sqlite3_stmt *s = NULL;
	pthread_mutex_lock(&ss->rlock);
	int src = sqlite3_prepare_v2(ss->r, sql, -1, &s, NULL);
	enum cd_err rc = map_err(ss->r, src, "query");
	if (!rc) {
		sqlite3_bind_int64(s, 1, key);
		sqlite3_bind_int64(s, 2, from_ms);
		sqlite3_bind_int64(s, 3, to_ms);
		sqlite3_bind_int64(s, 4, (int64_t)limit + 1);
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			if (*n == limit) {
				*more = true;
				break;
			}
			struct store_series_point *p = &out[(*n)++];
			p->ts_ms = sqlite3_column_int64(s, 0);
			p->n = sqlite3_column_int64(s, 1);
			p->sum = sqlite3_column_double(s, 2);
			p->min = sqlite3_column_double(s, 3);
			p->max = sqlite3_column_double(s, 4);
		}
		if (src != SQLITE_ROW && src != SQLITE_DONE)
			rc = map_err(ss->r, src, "query");
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&ss->rlock);
	return rc;
}

enum cd_err store_series_retention(struct store_series *ss, enum store_series_res res, int64_t before_ms,
				   int64_t *deleted)
{
	if (deleted)
		*deleted = 0;
	if ((unsigned)res > STORE_SERIES_1H)
		return CD_ERR_INVALID;
	/* Series by series, so each delete is a range of the primary key and no transaction holds
	 * the writer for long; a hundred series per transaction. */
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(ss->w, "SELECT id FROM series_keys ORDER BY id", -1, &s, NULL);
	while (src == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		ids[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	s = NULL;
	char sql[96];
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE key = ?1 AND %s < ?2", res_table[res],
		 res == STORE_SERIES_RAW ? "ts" : "bucket");
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(ss->w, sql, -1, &s, NULL);
	int64_t total = 0;
	for (size_t i = 0; src == SQLITE_OK && i < n; i += 100) {
		src = wstep(ss, W_BEGIN);
		for (size_t j = i; src == SQLITE_DONE && j < n && j < i + 100; j++) {
			sqlite3_bind_int64(s, 1, ids[j]);
			sqlite3_bind_int64(s, 2, before_ms);
			src = sqlite3_step(s);
			sqlite3_reset(s);
			if (src == SQLITE_DONE)
				total += sqlite3_changes(ss->w);
		}
		if (src == SQLITE_DONE)
			src = wstep(ss, W_COMMIT);
		if (src == SQLITE_DONE)
			src = SQLITE_OK;
	}
	enum cd_err rc = src == SQLITE_OK ? CD_OK : map_err(ss->w, src, "retention");
	if (rc && !sqlite3_get_autocommit(ss->w))
		(void)wstep(ss, W_ROLLBACK);
	sqlite3_finalize(s);
	xfree(ids);
	if (!rc && deleted)
		*deleted = total;
	return rc ? rc : CD_OK;
}

enum cd_err store_series_size_bytes(struct store_series *ss, int64_t *out)
{
	*out = 0;
	struct stat sb;
	char p[4096];
	if (stat(ss->path, &sb) != 0)
		return CD_ERR_IO;
	*out = sb.st_size;
	snprintf(p, sizeof p, "%s-wal", ss->path);
	if (stat(p, &sb) == 0)
		*out += sb.st_size;
	return CD_OK;
}
