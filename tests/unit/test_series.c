/* Unit tests for the telemetry time series: values stored and read back raw, 1-minute and
 * 1-hour rollups (count, avg, min, max), repeated messages not counted twice, series kept across
 * a reopen, retention per resolution, the resolution a query picks, refused values, a tiny queue
 * that makes appenders wait without losing anything, and several appending threads at once. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/series.h"
#include "test.h"
#include "util/alloc.h"
#include "util/clock.h"

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

struct tmpseries {
	char dir[64];
	char path[128];
};

static void tmp_make(struct tmpseries *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/citydesk-series-XXXXXX");
	if (!mkdtemp(t->dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(t->path, sizeof t->path, "%s/series.db", t->dir);
}

static void tmp_remove(struct tmpseries *t)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[160];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

/* A message with one or two values. */
static struct iot_telemetry msg(const char *dev, int64_t ts, const char *m1, double v1, const char *m2,
				double v2)
{
	struct iot_telemetry t;
	memset(&t, 0, sizeof t);
	snprintf(t.device, sizeof t.device, "%s", dev);
	t.ts_ms = ts;
	snprintf(t.v[0].metric, sizeof t.v[0].metric, "%s", m1);
	t.v[0].value = v1;
	t.n = 1;
	if (m2) {
		snprintf(t.v[1].metric, sizeof t.v[1].metric, "%s", m2);
		t.v[1].value = v2;
		t.n = 2;
	}
	return t;
}

static struct series *open_ok(const char *path, const struct series_options *o)
{
	struct series *s = NULL;
	CHECK_INT_EQ(series_open_with(path, o, &s), CD_OK);
	if (!s)
		exit(2);
	return s;
}

static const struct series_options quiet = {.no_retention = true};

static void test_raw_and_rollups(void)
{
	struct tmpseries t;
	tmp_make(&t);
	struct series *s = open_ok(t.path, &quiet);
	/* an hour-aligned base two hours ago: 3 values in minute 0, 2 in minute 1, 1 in the next hour */
	int64_t base = clock_wall_ms() - 2 * HOUR_MS;
	base -= base % HOUR_MS;
	const struct {
		int64_t at;
		double v;
	} pts[] = {{0, 10},	     {20000, 30},	 {40000, 20},
		   {MIN_MS + 1, -5}, {MIN_MS + 2000, 5}, {HOUR_MS + 7, 100}};
	for (size_t i = 0; i < 6; i++) {
		struct iot_telemetry m =
		    msg("pump-1", base + pts[i].at, "pressure_mpa", pts[i].v, "temp_c", 20 + (double)i);
		CHECK(series_append(s, &m));
	}
	series_flush(s);
	struct series_point *p = NULL;
	size_t n = 0;
	enum series_step used;
	bool more;
	CHECK_INT_EQ(series_query(s, "pump-1", "pressure_mpa", base, base + 2 * HOUR_MS, SERIES_STEP_RAW, 0,
				  &p, &n, &used, &more),
		     CD_OK);
	CHECK_INT_EQ(used, SERIES_STEP_RAW);
	CHECK_INT_EQ(n, 6);
	if (n == 6) {
		CHECK_INT_EQ(p[0].ts_ms, base);
		CHECK_NEAR(p[1].avg, 30, 0);
		CHECK_INT_EQ(p[5].ts_ms, base + HOUR_MS + 7);
		CHECK_INT_EQ(p[3].count, 1);
	}
	xfree(p);
	/* a limit leaves the rest out and says so */
	CHECK_INT_EQ(series_query(s, "pump-1", "pressure_mpa", base, base + 2 * HOUR_MS, SERIES_STEP_RAW, 4,
				  &p, &n, &used, &more),
		     CD_OK);
	CHECK_INT_EQ(n, 4);
	CHECK(more);
	xfree(p);

	/* minutes: [10,30,20] -> n 3 avg 20 min 10 max 30; [-5,5] -> avg 0; [100] */
	CHECK_INT_EQ(series_query(s, "pump-1", "pressure_mpa", base + 30000, base + 2 * HOUR_MS,
				  SERIES_STEP_1M, 0, &p, &n, &used, &more),
		     CD_OK); /* from inside the first minute: its bucket is included */
	CHECK_INT_EQ(used, SERIES_STEP_1M);
	CHECK_INT_EQ(n, 3);
	if (n == 3) {
		CHECK_INT_EQ(p[0].ts_ms, base);
		CHECK_INT_EQ(p[0].count, 3);
		CHECK_NEAR(p[0].avg, 20, 1e-9);
		CHECK_NEAR(p[0].min, 10, 0);
		CHECK_NEAR(p[0].max, 30, 0);
		CHECK_INT_EQ(p[1].ts_ms, base + MIN_MS);
		CHECK_NEAR(p[1].avg, 0, 1e-9);
		CHECK_NEAR(p[1].min, -5, 0);
		CHECK_INT_EQ(p[2].ts_ms, base + HOUR_MS);
	}
	xfree(p);
	CHECK_INT_EQ(series_query(s, "pump-1", "pressure_mpa", base, base + 2 * HOUR_MS, SERIES_STEP_1H, 0,
				  &p, &n, &used, &more),
		     CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_INT_EQ(p[0].count, 5);
		CHECK_NEAR(p[0].avg, 12, 1e-9);
		CHECK_NEAR(p[0].max, 30, 0);
		CHECK_INT_EQ(p[1].count, 1);
		CHECK_NEAR(p[1].avg, 100, 0);
	}
	xfree(p);

	/* the same message again (a QoS 1 redelivery): stored once, rollups unchanged */
	struct iot_telemetry again = msg("pump-1", base, "pressure_mpa", 10, NULL, 0);
	CHECK(series_append(s, &again));
	series_flush(s);
	struct series_stats st;
	series_get_stats(s, &st);
	CHECK_INT_EQ(st.appended, 13);
	CHECK_INT_EQ(st.written, 12);
	CHECK_INT_EQ(st.repeated, 1);
	CHECK_INT_EQ(st.series, 2);
	CHECK_INT_EQ(series_query(s, "pump-1", "pressure_mpa", base, base + MIN_MS, SERIES_STEP_1M, 0, &p, &n,
				  &used, &more),
		     CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1)
		CHECK_INT_EQ(p[0].count, 3);
	xfree(p);

	char(*metrics)[IOT_METRIC_MAX] = NULL;
	CHECK_INT_EQ(series_metrics(s, "pump-1", &metrics, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(metrics[0], "pressure_mpa");
		CHECK_STR_EQ(metrics[1], "temp_c");
	}
	xfree(metrics);

	/* kept across a reopen: the series numbers are found again and new values join them */
	series_close(s);
	s = open_ok(t.path, &quiet);
	struct iot_telemetry later = msg("pump-1", base + 30000, "pressure_mpa", 50, NULL, 0);
	CHECK(series_append(s, &later));
	series_flush(s);
	series_get_stats(s, &st);
	CHECK_INT_EQ(st.series, 2);
	CHECK_INT_EQ(series_query(s, "pump-1", "pressure_mpa", base, base + MIN_MS, SERIES_STEP_1M, 0, &p, &n,
				  &used, &more),
		     CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1) {
		CHECK_INT_EQ(p[0].count, 4);
		CHECK_NEAR(p[0].max, 50, 0);
	}
	xfree(p);
	series_close(s);
	tmp_remove(&t);
}

static void test_steps_and_refusals(void)
{
	struct tmpseries t;
	tmp_make(&t);
	struct series *s = open_ok(t.path, &quiet);
	int64_t now = clock_wall_ms();
	struct series_point *p = NULL;
	size_t n = 0;
	enum series_step used;
	bool more;
	const struct {
		int64_t from, to;
		enum series_step asked, used;
	} cases[] = {
	    {now - HOUR_MS, now, SERIES_STEP_AUTO, SERIES_STEP_RAW},
	    {now - DAY_MS, now, SERIES_STEP_AUTO, SERIES_STEP_1M},
	    {now - 10 * DAY_MS, now, SERIES_STEP_AUTO, SERIES_STEP_1H},
	    {now - 8 * DAY_MS, now - 8 * DAY_MS + HOUR_MS, SERIES_STEP_RAW, SERIES_STEP_1M}, /* raw gone */
	    {now - 100 * DAY_MS, now - 99 * DAY_MS, SERIES_STEP_1M, SERIES_STEP_1H}, /* minutes gone */
	    {now - DAY_MS, now, SERIES_STEP_1H, SERIES_STEP_1H},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_INT_EQ(series_query(s, "none", "x", cases[i].from, cases[i].to, cases[i].asked, 0, &p,
					  &n, &used, &more),
			     CD_OK);
		CHECK_INT_EQ(used, cases[i].used);
		CHECK_INT_EQ(n, 0); /* an unknown series has no points */
		xfree(p);
	}
	CHECK_INT_EQ(series_query(s, "none", "x", now, now, SERIES_STEP_RAW, 0, &p, &n, &used, &more),
		     CD_ERR_INVALID);
	enum series_step st;
	CHECK(series_parse_step("1m", &st) && st == SERIES_STEP_1M);
	CHECK(series_parse_step("auto", &st) && st == SERIES_STEP_AUTO);
	CHECK(!series_parse_step("5m", &st));
	CHECK_STR_EQ(series_step_name(SERIES_STEP_1H), "1h");

	/* bad metric names, NaN, infinities, a bad device, no time: rejected, the rest kept */
	struct iot_telemetry m = msg("meter-1", now, "kwh", 1.5, "bad metric", 2);
	CHECK(series_append(s, &m));
	m = msg("meter-1", now + 1, "kwh", NAN, "kwh2", INFINITY);
	CHECK(!series_append(s, &m));
	m = msg("bad device", now, "kwh", 1, NULL, 0);
	CHECK(!series_append(s, &m));
	m = msg("meter-1", 0, "kwh", 1, NULL, 0);
	CHECK(!series_append(s, &m));
	series_flush(s);
	struct series_stats stats;
	series_get_stats(s, &stats);
	CHECK_INT_EQ(stats.appended, 1);
	CHECK_INT_EQ(stats.written, 1);
	CHECK_INT_EQ(stats.rejected, 5);
	series_close(s);
	tmp_remove(&t);
}

static void test_retention(void)
{
	struct tmpseries t;
	tmp_make(&t);
	struct series_options o = quiet;
	o.raw_days = 7;
	o.minute_days = 9;
	o.hour_days = 30;
	struct series *s = open_ok(t.path, &o);
	int64_t now = clock_wall_ms();
	struct iot_telemetry m = msg("wm-1", now - 10 * DAY_MS, "litres", 3, NULL, 0);
	CHECK(series_append(s, &m));
	m = msg("wm-1", now - HOUR_MS, "litres", 4, NULL, 0);
	CHECK(series_append(s, &m));
	m = msg("wm-1", now - 40 * DAY_MS, "litres", 5, NULL, 0);
	CHECK(series_append(s, &m));
	series_flush(s);
	int64_t deleted = -1;
	CHECK_INT_EQ(series_retention_run(s, now, &deleted), CD_OK);
	/* raw: the 10- and 40-day-old values; minutes: the same two; hours: the 40-day-old one */
	CHECK_INT_EQ(deleted, 5);
	struct series_point *p = NULL;
	size_t n = 0;
	enum series_step used;
	bool more;
	CHECK_INT_EQ(series_query(s, "wm-1", "litres", now - 2 * HOUR_MS, now, SERIES_STEP_RAW, 0, &p, &n,
				  &used, &more),
		     CD_OK);
	CHECK_INT_EQ(n, 1);
	xfree(p);
	CHECK_INT_EQ(series_query(s, "wm-1", "litres", now - 50 * DAY_MS, now, SERIES_STEP_1H, 0, &p, &n,
				  &used, &more),
		     CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2)
		CHECK_NEAR(p[0].avg, 3, 0);
	xfree(p);
	CHECK_INT_EQ(series_retention_run(s, now, &deleted), CD_OK);
	CHECK_INT_EQ(deleted, 0);
	series_close(s);
	tmp_remove(&t);
}

struct writer_arg {
	struct series *s;
	int id;
	int messages;
};

static void *append_many(void *p)
{
	struct writer_arg *a = p;
	char dev[32];
	snprintf(dev, sizeof dev, "dev-%d", a->id);
	int64_t base = clock_wall_ms() - HOUR_MS;
	for (int i = 0; i < a->messages; i++) {
		struct iot_telemetry m = msg(dev, base + i, "a", i, "b", -i);
		if (!series_append(a->s, &m))
			fprintf(stderr, "  append refused\n");
	}
	return NULL;
}

static void test_small_queue_threads(void)
{
	struct tmpseries t;
	tmp_make(&t);
	struct series_options o = quiet;
	o.queue_values = 64; /* appenders have to wait for the writer again and again */
	o.batch_ms = 5;
	o.block_ms = 30000;
	struct series *s = open_ok(t.path, &o);
	pthread_t th[4];
	struct writer_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct writer_arg){s, i, 5000};
		CHECK_INT_EQ(pthread_create(&th[i], NULL, append_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	series_flush(s);
	struct series_stats st;
	series_get_stats(s, &st);
	CHECK_INT_EQ(st.appended, 40000);
	CHECK_INT_EQ(st.written, 40000);
	CHECK_INT_EQ(st.dropped, 0);
	CHECK_INT_EQ(st.series, 8);
	CHECK(st.max_queued <= 64);
	CHECK(st.waits > 0);
	struct series_point *p = NULL;
	size_t n = 0;
	enum series_step used;
	bool more;
	int64_t from = clock_wall_ms() - 2 * HOUR_MS;
	CHECK_INT_EQ(
	    series_query(s, "dev-3", "b", from, clock_wall_ms(), SERIES_STEP_RAW, 0, &p, &n, &used, &more),
	    CD_OK);
	CHECK_INT_EQ(n, 5000);
	if (n == 5000)
		CHECK_NEAR(p[4999].avg, -4999, 0);
	xfree(p);
	series_close(s);
	tmp_remove(&t);
}

static const struct test_case tests[] = {
    {"raw_and_rollups", test_raw_and_rollups},
    {"steps_and_refusals", test_steps_and_refusals},
    {"retention", test_retention},
    {"small_queue_threads", test_small_queue_threads},
};
TEST_MAIN(tests)
