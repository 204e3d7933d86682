/* The telemetry time series (app/series.h): a bounded queue of (series, time, value) rows fed by
 * series_append, a writer thread that stores them in batches through store_series.h, the
 * interning of (device, metric) pairs into series numbers, resolution choice for queries, and
 * hourly retention. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/series.h"
#include "store/store_series.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define BATCH_MAX 65536	  /* rows in one write transaction at most */
#define BATCH_EARLY 16384 /* a queue this long wakes the writer before batch_ms */
#define RETENTION_EVERY_MS HOUR_MS
#define SERIES_RETRY_MIN_MS 100	 /* first wait before a failed batch is written again */
#define SERIES_RETRY_MAX_MS 2000 /* the wait doubles up to this */

/* One interned series. */
struct skey {
	char device[IOT_ID_MAX];
	char metric[IOT_METRIC_MAX];
	uint32_t id;
};

struct series {
	struct store_series *ss;
	struct series_options o;
	pthread_mutex_t lock;	    /* guards the queue, the keys and the counters */
	pthread_cond_t work;	    /* the writer waits here */
	pthread_cond_t room;	    /* appenders wait here when the queue is full */
	pthread_cond_t done;	    /* flushers wait here */
	struct store_series_row *q; /* ring of queued rows */
	size_t qcap, qhead, qcount;
	struct skey *keys; /* keys[id - 1] */
	size_t nkeys, keys_cap;
	uint32_t *slots; /* open addressing: key id, 0 = empty */
	size_t slots_cap;
	struct store_series_key *fresh; /* keys not yet stored */
	size_t nfresh, fresh_cap;
	uint64_t seq_in;   /* values accepted so far */
	uint64_t seq_done; /* of those, stored (a failed batch is kept and retried: not counted) */
	int flushers;	   /* series_flush calls waiting */
	bool stop;
	bool gave_up; /* the writer stopped with a batch it could not store (series_flush fails) */
	struct series_stats st;
	pthread_mutex_t wlock; /* the write connection: batches and retention */
	pthread_t writer;
	bool writer_running;
	int64_t last_retention_ms;
};

/* ---- interning ----------------------------------------------------------------------- */

static uint64_t key_hash(const char *device, const char *metric)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = device; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull; /* a byte no id holds, between the two */
	for (const char *p = metric; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

/* The id of (device, metric), or 0. Locked. */
static uint32_t key_find(const struct series *s, const char *device, const char *metric)
{
	if (!s->slots_cap)
		return 0;
	size_t mask = s->slots_cap - 1;
	for (size_t i = key_hash(device, metric) & mask;; i = (i + 1) & mask) {
		uint32_t id = s->slots[i];
		if (!id)
			return 0;
		const struct skey *k = &s->keys[id - 1];
		if (strcmp(k->device, device) == 0 && strcmp(k->metric, metric) == 0)
			return id;
	}
}

static void slot_put(uint32_t *slots, size_t cap, const struct skey *k)
{
	size_t mask = cap - 1;
	size_t i = key_hash(k->device, k->metric) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = k->id;
}

/* Adds a key with the given id (ids are dense: id == nkeys + 1). Locked. */
static void key_add(struct series *s, const char *device, const char *metric, uint32_t id)
{
	if (s->nkeys == s->keys_cap) {
		s->keys_cap = s->keys_cap ? s->keys_cap * 2 : 256;
		s->keys = xrealloc(s->keys, s->keys_cap * sizeof *s->keys);
	}
	struct skey *k = &s->keys[s->nkeys++];
	snprintf(k->device, sizeof k->device, "%s", device);
	snprintf(k->metric, sizeof k->metric, "%s", metric);
	k->id = id;
	if ((s->nkeys + 1) * 2 > s->slots_cap) {
		size_t cap = s->slots_cap ? s->slots_cap * 2 : 512;
		uint32_t *slots = xcalloc(cap, sizeof *slots);
		for (size_t i = 0; i < s->nkeys; i++)
			slot_put(slots, cap, &s->keys[i]);
		xfree(s->slots);
		s->slots = slots;
		s->slots_cap = cap;
	} else {
		slot_put(s->slots, s->slots_cap, k);
	}
}

/* The id of (device, metric), interning it (to be stored with the next batch). Locked. */
static uint32_t key_intern(struct series *s, const char *device, const char *metric)
{
	uint32_t id = key_find(s, device, metric);
	if (id)
		return id;
	id = (uint32_t)s->nkeys + 1;
	key_add(s, device, metric, id);
	if (s->nfresh == s->fresh_cap) {
		s->fresh_cap = s->fresh_cap ? s->fresh_cap * 2 : 64;
		s->fresh = xrealloc(s->fresh, s->fresh_cap * sizeof *s->fresh);
	}
	struct store_series_key *f = &s->fresh[s->nfresh++];
	memset(f, 0, sizeof *f);
	f->id = id;
	snprintf(f->device, sizeof f->device, "%s", device);
	snprintf(f->metric, sizeof f->metric, "%s", metric);
	return id;
}

static int load_key(void *ctx, const struct store_series_key *k)
{
	struct series *s = ctx;
	/* Ids are stored dense from 1; a gap (never written by this code) would break keys[id-1]. */
	if (k->id != s->nkeys + 1) {
		log_error("series: series keys are not dense", "\"id\":%u,\"expected\":%zu", k->id,
			  s->nkeys + 1);
		return 1;
	}
	key_add(s, k->device, k->metric, k->id);
	return 0;
}

/* ---- the writer ---------------------------------------------------------------------- */

static void run_retention(struct series *s, int64_t now, int64_t *deleted)
{
	const int64_t keep[3] = {s->o.raw_days * DAY_MS, s->o.minute_days * DAY_MS, s->o.hour_days * DAY_MS};
	static const enum store_series_res res[3] = {STORE_SERIES_RAW, STORE_SERIES_1M, STORE_SERIES_1H};
	int64_t total = 0;
	for (int i = 0; i < 3; i++) {
		int64_t d = 0;
		if (store_series_retention(s->ss, res[i], now - keep[i], &d))
			log_warn("series: retention failed", "\"resolution\":%d", i);
		total += d;
	}
	if (total)
		log_info("series: retention", "\"deleted\":%lld", (long long)total);
	if (deleted)
		*deleted = total;
}

/* Waits ms on the writer's condition (locked), cut short only by stop: flushers and appenders
 * signal `work` too, and a failing store must not be retried at their pace. */
static void writer_pause(struct series *s, int ms)
{
	struct timespec until;
	clock_deadline_in(&until, ms);
	while (!s->stop && pthread_cond_timedwait(&s->work, &s->lock, &until) == 0)
		;
}

static void *writer_main(void *arg)
{
	struct series *s = arg;
	struct store_series_row *rows = xmalloc(BATCH_MAX * sizeof *rows);
	struct store_series_key *keys = NULL;
	size_t keys_cap = 0, n = 0, nkeys = 0;
	bool retry = false; /* rows[0..n) and keys[0..nkeys) failed to store: write them again */
	int backoff_ms = 0;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (retry) {
			writer_pause(s, backoff_ms);
		} else {
			if (!s->stop && !s->flushers && s->qcount < BATCH_EARLY) {
				struct timespec until;
				clock_deadline_in(&until, s->o.batch_ms);
				pthread_cond_timedwait(&s->work, &s->lock, &until);
			}
			if (s->stop && !s->qcount && !s->nfresh)
				break;
			/* Take a batch: rows from the ring, and every key not yet stored. */
			n = s->qcount < BATCH_MAX ? s->qcount : BATCH_MAX;
			for (size_t i = 0; i < n; i++)
				rows[i] = s->q[(s->qhead + i) % s->qcap];
			s->qhead = (s->qhead + n) % s->qcap;
			s->qcount -= n;
			nkeys = s->nfresh;
			if (nkeys > keys_cap) {
				keys_cap = nkeys;
				keys = xrealloc(keys, keys_cap * sizeof *keys);
			}
			if (nkeys)
				memcpy(keys, s->fresh, nkeys * sizeof *keys);
			s->nfresh = 0;
			if (n)
				pthread_cond_broadcast(&s->room);
		}
		pthread_mutex_unlock(&s->lock);

		size_t written = 0;
		enum cd_err rc = CD_OK;
		if (n || nkeys) {
			pthread_mutex_lock(&s->wlock);
			rc = store_series_write(s->ss, keys, nkeys, rows, n, &written);
			pthread_mutex_unlock(&s->wlock);
			if (rc)
				log_error("series: a batch could not be stored; kept, retried",
					  "\"values\":%zu,\"error\":\"%s\",\"retry_ms\":%d", n, cd_err_name(rc),
					  backoff_ms ? backoff_ms * 2 : SERIES_RETRY_MIN_MS);
		}
		int64_t now = clock_wall_ms();
		if (!rc && !s->o.no_retention && now - s->last_retention_ms >= RETENTION_EVERY_MS) {
			pthread_mutex_lock(&s->wlock);
			run_retention(s, now, NULL);
			pthread_mutex_unlock(&s->wlock);
			s->last_retention_ms = now;
		}

		pthread_mutex_lock(&s->lock);
		if (rc) {
			/* The batch stays ours: seq_done does not move, so series_flush (and the hub's
			 * checkpoint behind it) never counts these rows as stored. Keys stay with it and are
			 * written before any later row that uses them. */
			s->st.retries++;
			if (s->stop) { /* one failure at stop (after the store's busy wait): give up */
				s->st.failed += n + s->qcount;
				s->gave_up = true;
				pthread_cond_broadcast(&s->done);
				break;
			}
			retry = true;
			backoff_ms = backoff_ms ? backoff_ms * 2 : SERIES_RETRY_MIN_MS;
			if (backoff_ms > SERIES_RETRY_MAX_MS)
				backoff_ms = SERIES_RETRY_MAX_MS;
			continue;
		}
		if (retry)
			log_info("series: a kept batch is stored", "\"values\":%zu", n);
		retry = false;
		backoff_ms = 0;
		if (n) {
			s->st.batches++;
			s->st.written += written;
			s->st.repeated += n - written;
		}
		s->seq_done += n;
		n = nkeys = 0;
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->lock);
	xfree(rows);
	xfree(keys);
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------- */

enum cd_err series_open(const char *path, struct series **out)
{
	return series_open_with(path, NULL, out);
}

enum cd_err series_open_with(const char *path, const struct series_options *o, struct series **out)
{
	*out = NULL;
	struct series *s = xcalloc(1, sizeof *s);
	if (o)
		s->o = *o;
	if (s->o.raw_days <= 0)
		s->o.raw_days = 7;
	if (s->o.minute_days <= 0)
		s->o.minute_days = 90;
	if (s->o.hour_days <= 0)
		s->o.hour_days = 730;
	if (!s->o.queue_values)
		s->o.queue_values = 262144;
	if (s->o.queue_values < IOT_MAX_VALUES)
		s->o.queue_values = IOT_MAX_VALUES;
	if (s->o.batch_ms <= 0)
		s->o.batch_ms = 200;
	if (s->o.block_ms <= 0)
		s->o.block_ms = 2000;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->room, NULL);
	pthread_cond_init(&s->done, NULL);
	s->qcap = s->o.queue_values;
	s->q = xmalloc(s->qcap * sizeof *s->q);
	enum cd_err rc = store_series_open(path, &s->ss);
	if (!rc)
		rc = store_series_keys(s->ss, load_key, s);
	if (!rc && pthread_create(&s->writer, NULL, writer_main, s) != 0)
		rc = CD_ERR_NOMEM;
	if (rc) {
		series_close(s);
		return rc;
	}
	s->writer_running = true;
	log_info("series: opened", "\"series\":%zu,\"raw_days\":%d,\"minute_days\":%d,\"hour_days\":%d",
		 s->nkeys, s->o.raw_days, s->o.minute_days, s->o.hour_days);
	*out = s;
	return CD_OK;
}

void series_close(struct series *s)
{
	if (!s)
		return;
	if (s->writer_running) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->work);
		pthread_cond_broadcast(&s->room);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->writer, NULL);
	}
	store_series_close(s->ss);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->wlock);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->done);
	xfree(s->q);
	xfree(s->keys);
	xfree(s->slots);
	xfree(s->fresh);
	xfree(s);
}

/* ---- appending ----------------------------------------------------------------------- */

bool series_append(struct series *s, const struct iot_telemetry *t)
{
	if (!s || !t)
		return false;
	size_t n = t->n <= IOT_MAX_VALUES ? t->n : IOT_MAX_VALUES;
	bool ok_dev = memchr(t->device, 0, sizeof t->device) && iot_valid_id(t->device) && t->ts_ms > 0;
	bool good[IOT_MAX_VALUES];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		good[i] = ok_dev && memchr(t->v[i].metric, 0, sizeof t->v[i].metric) &&
			  iot_valid_id(t->v[i].metric) && isfinite(t->v[i].value);
		k += good[i];
	}
	pthread_mutex_lock(&s->lock);
	s->st.rejected += n - k;
	if (!k) {
		pthread_mutex_unlock(&s->lock);
		return n == 0;
	}
	if (s->qcap - s->qcount < k) {
		s->st.waits++;
		struct timespec until;
		clock_deadline_in(&until, s->o.block_ms);
		pthread_cond_signal(&s->work);
		while (s->qcap - s->qcount < k && !s->stop)
			if (pthread_cond_timedwait(&s->room, &s->lock, &until))
				break;
		if (s->qcap - s->qcount < k || s->stop) {
			s->st.dropped += k;
			pthread_mutex_unlock(&s->lock);
			return false;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!good[i])
			continue;
		struct store_series_row *r = &s->q[(s->qhead + s->qcount) % s->qcap];
		r->key = key_intern(s, t->device, t->v[i].metric);
		r->ts_ms = t->ts_ms;
		r->value = t->v[i].value;
		s->qcount++;
	}
	s->seq_in += k;
	s->st.appended += k;
	if (s->qcount > s->st.max_queued)
		s->st.max_queued = s->qcount;
	if (s->qcount >= BATCH_EARLY && s->qcount - k < BATCH_EARLY)
		pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
	return true;
}

void series_flush(struct series *s)
{
	enum cd_err rc = series_flush_wait(s, -1); /* no limit: only the writer giving up ends it early */
	(void)rc;
}

enum cd_err series_flush_wait(struct series *s, int timeout_ms)
{
	if (!s)
		return CD_OK;
	struct timespec until;
	if (timeout_ms >= 0)
		clock_deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&s->lock);
	uint64_t target = s->seq_in;
	s->flushers++;
	pthread_cond_signal(&s->work);
	bool timed_out = false;
	while (s->seq_done < target && s->writer_running && !s->gave_up && !timed_out) {
		if (s->qcount || s->nfresh)
			pthread_cond_signal(&s->work);
		if (timeout_ms < 0)
			pthread_cond_wait(&s->done, &s->lock);
		else
			timed_out = pthread_cond_timedwait(&s->done, &s->lock, &until) != 0;
	}
	enum cd_err rc = s->seq_done >= target ? CD_OK : s->gave_up || !s->writer_running ? CD_ERR_IO : CD_ERR_BUSY;
	s->flushers--;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- queries ------------------------------------------------------------------------- */

static const char *const step_names[] = {"auto", "raw", "1m", "1h"};

bool series_parse_step(const char *str, enum series_step *out)
{
	for (int i = 0; i < 4; i++) {
		if (str && strcmp(str, step_names[i]) == 0) {
			*out = (enum series_step)i;
			return true;
		}
	}
	return false;
}

const char *series_step_name(enum series_step step)
{
	return (unsigned)step < 4 ? step_names[step] : "auto";
}

enum cd_err series_query(struct series *s, const char *device, const char *metric, int64_t from_ms,
			 int64_t to_ms, enum series_step step, size_t limit, struct series_point **out,
			 size_t *n, enum series_step *used, bool *truncated)
{
	*out = NULL;
	*n = 0;
	*truncated = false;
	*used = step;
	if (from_ms >= to_ms)
		return CD_ERR_INVALID;
	if (!limit || limit > SERIES_QUERY_MAX)
		limit = SERIES_QUERY_MAX;
	int64_t now = clock_wall_ms();
	if (step == SERIES_STEP_AUTO) {
		int64_t range = to_ms - from_ms;
		step = range <= 3 * HOUR_MS  ? SERIES_STEP_RAW
		       : range <= 3 * DAY_MS ? SERIES_STEP_1M
					     : SERIES_STEP_1H;
	}
	/* What is no longer kept at this resolution is only in a coarser one. */
	if (step == SERIES_STEP_RAW && from_ms < now - s->o.raw_days * DAY_MS)
		step = SERIES_STEP_1M;
	if (step == SERIES_STEP_1M && from_ms < now - s->o.minute_days * DAY_MS)
		step = SERIES_STEP_1H;
	*used = step;
	pthread_mutex_lock(&s->lock);
	uint32_t key = device && metric ? key_find(s, device, metric) : 0;
	pthread_mutex_unlock(&s->lock);
	if (!key)
		return CD_OK;
	enum store_series_res res = step == SERIES_STEP_RAW  ? STORE_SERIES_RAW
				    : step == SERIES_STEP_1M ? STORE_SERIES_1M
							     : STORE_SERIES_1H;
	int64_t width = res == STORE_SERIES_1M ? 60000 : res == STORE_SERIES_1H ? HOUR_MS : 1;
	int64_t from_b = from_ms > 0 ? from_ms - from_ms % width : from_ms; /* the bucket holding from */
	struct store_series_point *pts = xmalloc(limit * sizeof *pts);
	size_t got = 0;
	enum cd_err rc = store_series_query(s->ss, key, res, from_b, to_ms, limit, pts, &got, truncated);
	if (!rc) {
		struct series_point *v = xmalloc((got ? got : 1) * sizeof *v);
		for (size_t i = 0; i < got; i++) {
			v[i].ts_ms = pts[i].ts_ms;
			v[i].count = pts[i].n;
			v[i].avg = pts[i].n ? pts[i].sum / (double)pts[i].n : 0;
			v[i].min = pts[i].min;
			v[i].max = pts[i].max;
		}
		*out = v;
		*n = got;
	}
	xfree(pts);
	return rc;
}

static int metric_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

enum cd_err series_metrics(struct series *s, const char *device, char (**out)[IOT_METRIC_MAX], size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 8, count = 0;
	char(*v)[IOT_METRIC_MAX] = xmalloc(cap * sizeof *v);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; device && i < s->nkeys; i++) {
		if (strcmp(s->keys[i].device, device) != 0)
			continue;
		if (count == cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof *v);
		}
		memcpy(v[count++], s->keys[i].metric, IOT_METRIC_MAX);
	}
	pthread_mutex_unlock(&s->lock);
	if (count)
		qsort(v, count, sizeof *v, metric_cmp);
	*out = v;
	*n = count;
	return CD_OK;
}

enum cd_err series_retention_run(struct series *s, int64_t now_ms, int64_t *deleted)
{
	pthread_mutex_lock(&s->wlock);
	run_retention(s, now_ms, deleted);
	pthread_mutex_unlock(&s->wlock);
	return CD_OK;
}

void series_get_stats(struct series *s, struct series_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->queued = s->qcount;
	out->series = s->nkeys;
	pthread_mutex_unlock(&s->lock);
}
