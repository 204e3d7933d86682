/* The telemetry time series on disk (src/store/sqlite_series.c): its own SQLite file
 * (DATA/series.db), apart from the main store so that telemetry never waits for, or holds up,
 * the case store's writer lock. Raw values per series key (one device's one metric, interned to
 * a small integer) and 1-minute and 1-hour rollups (count, sum, min, max). One writer (the
 * series thread in app/series.c) and any number of readers. Design: docs/internals/series.md. */
#ifndef CD_STORE_SERIES_H
#define CD_STORE_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store_series;

#define STORE_SERIES_DEVICE_MAX 64 /* IOT_ID_MAX */
#define STORE_SERIES_METRIC_MAX 32 /* IOT_METRIC_MAX */

/* The resolutions kept. */
enum store_series_res {
	STORE_SERIES_RAW, /* every value as it came */
	STORE_SERIES_1M,  /* one row per series and minute */
	STORE_SERIES_1H,  /* one row per series and hour */
};

/* One series: a device's metric, with the number standing for it in the tables. */
struct store_series_key {
	uint32_t id; /* 1, 2, 3 ... assigned by the caller (app/series.c interns them) */
	char device[STORE_SERIES_DEVICE_MAX];
	char metric[STORE_SERIES_METRIC_MAX];
};

/* One value of one series. */
struct store_series_row {
	uint32_t key;  /* a store_series_key id */
	int64_t ts_ms; /* unix milliseconds, > 0 */
	double value;
};

/* One point of a query: a raw value (n = 1, sum = min = max = the value) or a rollup bucket
 * starting at ts_ms. */
struct store_series_point {
	int64_t ts_ms;
	int64_t n;
	double sum, min, max;
};

/* Opens (creating if missing) the series file at `path`: WAL, synchronous=NORMAL (a power cut
 * may lose the last commits; a killed process loses nothing committed), one write and one read
 * connection. CD_ERR_CORRUPT when it is not a database; CD_ERR_STORE/CD_ERR_IO otherwise. */
enum cd_err store_series_open(const char *path, struct store_series **out) CD_MUST_CHECK;
/* Closes both connections. NULL is fine. */
void store_series_close(struct store_series *ss);

typedef int (*store_series_key_fn)(void *ctx, const struct store_series_key *k);
/* Calls fn for every stored series key (id order); non-zero from fn stops the walk. */
enum cd_err store_series_keys(struct store_series *ss, store_series_key_fn fn, void *ctx) CD_MUST_CHECK;

/* The writer's one call: in ONE transaction stores the new keys[0..nkeys), the rows[0..n)
 * (sorted in place by key and time) and adds each row that was new to its minute and hour
 * rollups. A row whose (key, ts_ms) is already stored (a device or broker repeating a message)
 * is skipped and not counted twice. *written (may be NULL) gets the rows stored. Not
 * thread-safe against itself: one writer. */
enum cd_err store_series_write(struct store_series *ss, const struct store_series_key *keys, size_t nkeys,
			       struct store_series_row *rows, size_t n, size_t *written) CD_MUST_CHECK;

/* Up to `limit` points of series `key` at resolution `res` with from_ms <= ts < to_ms, oldest
 * first, into out[]; *n gets the count and *more whether points were left out past the limit.
 * Thread-safe (the read connection has its own lock); sees what the writer committed. */
enum cd_err store_series_query(struct store_series *ss, uint32_t key, enum store_series_res res,
			       int64_t from_ms, int64_t to_ms, size_t limit, struct store_series_point *out,
			       size_t *n, bool *more) CD_MUST_CHECK;

/* Deletes the rows of resolution `res` older than before_ms, series by series in short
 * transactions; *deleted (may be NULL) gets the count. Runs on the writer's connection: call it
 * from the writer only. */
enum cd_err store_series_retention(struct store_series *ss, enum store_series_res res, int64_t before_ms,
				   int64_t *deleted) CD_MUST_CHECK;

/* Bytes of the series file plus its WAL. */
enum cd_err store_series_size_bytes(struct store_series *ss, int64_t *out) CD_MUST_CHECK;

#endif
