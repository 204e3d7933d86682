/* Telemetry time series for the running server: series_append hands values to a bounded queue
 * and returns; a writer thread of its own stores them in batches in DATA/series.db (raw values,
 * 1-minute and 1-hour rollups) and applies retention every hour. Queries pick the resolution.
 * Thread-safe. Design and what a crash can lose: docs/internals/series.md. */
#ifndef CD_SERIES_H
#define CD_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/iot.h"
#include "util/err.h"

struct series;

/* Settings; zero fields take the defaults. */
struct series_options {
	int raw_days;	     /* raw values kept (default 7) */
	int minute_days;     /* 1-minute rollups kept (default 90) */
	int hour_days;	     /* 1-hour rollups kept (default 730) */
	size_t queue_values; /* values the queue holds before series_append waits (default 262144) */
	int batch_ms;	     /* longest a value waits in the queue before a write (default 200) */
	int block_ms;	     /* how long series_append waits for room before dropping (default 2000) */
	bool no_retention;   /* do not run retention on the writer (tests, benchmarks) */
};

/* Opens (creating) the series file at `path` with default settings and starts the writer. */
enum cd_err series_open(const char *path, struct series **out) CD_MUST_CHECK;
/* The same with settings (o may be NULL). */
enum cd_err series_open_with(const char *path, const struct series_options *o,
			     struct series **out) CD_MUST_CHECK;
/* Stores what is queued, stops the writer, closes. NULL is fine. */
void series_close(struct series *s);

/* Queues t's values (device and metrics must be valid ids; ts_ms > 0). Returns at once while
 * the queue has room; when it is full it waits up to block_ms for the writer, and only then
 * drops the message (counted in series_stats.dropped) and returns false. Values with a metric
 * that is not a valid id, or a non-finite value, are skipped (counted as rejected). */
bool series_append(struct series *s, const struct iot_telemetry *t);
/* Waits until everything appended before the call is stored, or the writer gave up (it keeps a
 * batch that failed to store and writes it again with a growing pause, 100 ms to 2 s; it gives
 * up only when stopping). */
void series_flush(struct series *s);
/* The same, waiting at most timeout_ms (< 0: no limit). CD_OK when everything appended before
 * the call is stored; CD_ERR_BUSY when not yet (e.g. a failed batch waits for its retry);
 * CD_ERR_IO when the writer gave up. The IoT hub checkpoints its journal only after CD_OK. */
enum cd_err series_flush_wait(struct series *s, int timeout_ms) CD_MUST_CHECK;

/* What resolution a query reads. */
enum series_step {
	SERIES_STEP_AUTO, /* by the range: raw up to 3 h, minutes up to 3 days, else hours */
	SERIES_STEP_RAW,
	SERIES_STEP_1M,
	SERIES_STEP_1H,
};
/* "raw", "1m", "1h", "auto" -> *out; false otherwise. */
bool series_parse_step(const char *s, enum series_step *out);
/* The wire name of a step ("raw", "1m", "1h", "auto"). */
const char *series_step_name(enum series_step step);

/* One point of a query: a raw value (count 1, avg = min = max) or a rollup bucket starting
 * at ts_ms. */
struct series_point {
	int64_t ts_ms;
	int64_t count;
	double avg, min, max;
};

#define SERIES_QUERY_MAX 10000 /* points one query returns at most */

/* Points of device's metric with from_ms <= ts < to_ms, oldest first, at most `limit` (capped
 * at SERIES_QUERY_MAX), into a new array (*out, *n; xfree it). *used gets the resolution read
 * (AUTO resolved; a raw or minute request older than what is kept falls back to the next
 * coarser one) and *truncated whether points were left out. An unknown series gives no points
 * and CD_OK. CD_ERR_INVALID when from_ms >= to_ms. Sees what the writer has stored (at most
 * batch_ms behind; series_flush first to see everything). */
enum cd_err series_query(struct series *s, const char *device, const char *metric, int64_t from_ms,
			 int64_t to_ms, enum series_step step, size_t limit, struct series_point **out,
			 size_t *n, enum series_step *used, bool *truncated) CD_MUST_CHECK;

/* The metrics stored for `device`, sorted, into a new array (*out, *n; xfree it). */
enum cd_err series_metrics(struct series *s, const char *device, char (**out)[IOT_METRIC_MAX],
			   size_t *n) CD_MUST_CHECK;

/* Deletes what is older than the retention settings as of now_ms (the writer does this by
 * itself every hour). *deleted (may be NULL) gets the rows removed at the three resolutions. */
enum cd_err series_retention_run(struct series *s, int64_t now_ms, int64_t *deleted) CD_MUST_CHECK;

/* Counters since open, for /metrics and benchmarks. */
struct series_stats {
	uint64_t appended; /* values accepted into the queue */
	uint64_t written;  /* values stored (repeats of a stored (series, ts) are not) */
	uint64_t repeated; /* values skipped as repeats */
	uint64_t failed;   /* values not stored when the writer gave up at stop (a store error) */
	uint64_t retries;  /* batch writes that failed and were tried again */
	uint64_t dropped;  /* values dropped because the queue stayed full */
	uint64_t rejected; /* values with a bad metric name or a non-finite number */
	uint64_t batches;  /* write transactions */
	uint64_t waits;	   /* appends that had to wait for room */
	size_t queued;	   /* values in the queue now */
	size_t max_queued; /* the most seen at once */
	size_t series;	   /* distinct (device, metric) series known */
};
void series_get_stats(struct series *s, struct series_stats *out);

#endif
