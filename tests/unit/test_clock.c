/* util/clock: wall-clock milliseconds and their ISO 8601 text at UTC+8. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "util/clock.h"

static void test_iso_ms_table(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} rows[] = {
	    {0, "1970-01-01T08:00:00.000+08:00"},
	    {1, "1970-01-01T08:00:00.001+08:00"},
	    {1795763045123LL, "2026-11-27T15:04:05.123+08:00"},
	    {1795763045999LL, "2026-11-27T15:04:05.999+08:00"},
	    {-1, "1970-01-01T07:59:59.999+08:00"},
	    {-1000, "1970-01-01T07:59:59.000+08:00"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char out[CLOCK_ISO_MS_LEN];
		clock_iso_ms(rows[i].ms, out);
		CHECK_STR_EQ(out, rows[i].want);
	}
}

/* clock_iso_s agrees with gmtime_r + snprintf (what it replaced) over a sweep of moments, month
 * and leap-day edges and negative times included. */
static void test_iso_s_matches_gmtime(void)
{
	int64_t t = -5000000000LL;
	int checked = 0;
	while (t < 5000000000LL) {
		char want[64], got[CLOCK_ISO_LEN];
		time_t local = (time_t)(t + 8 * 3600);
		struct tm tm;
		gmtime_r(&local, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		clock_iso_s(t, got);
		if (strcmp(want, got) != 0) {
			CHECK_STR_EQ(got, want);
			return;
		}
		checked++;
		t += 86399 + (t & 0xfff); /* every day or so, at drifting times of day */
	}
	CHECK(checked > 100000);
	char out[CLOCK_ISO_LEN];
	clock_iso_s(1795763045, out);
	CHECK_STR_EQ(out, "2026-11-27T15:04:05+08:00");
	clock_iso_s(951753600, out); /* 2000-02-28T16:00Z: 2000-02-29 00:00 at UTC+8 */
	CHECK_STR_EQ(out, "2000-02-29T00:00:00+08:00");
	clock_iso_s(INT64_MAX, out); /* clamped, never more digits */
	CHECK_STR_EQ(out, "9999-12-31T23:59:59+08:00");
	clock_iso_s(INT64_MIN, out);
	CHECK_STR_EQ(out, "0000-01-01T00:00:00+08:00");
}

static void test_wall_ms_is_realtime(void)
{
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t ms = clock_wall_ms();
	int64_t after = ((int64_t)time(NULL) + 1) * 1000;
	CHECK(ms >= before);
	CHECK(ms < after);
}

static void test_add_ms_carries(void)
{
	struct timespec t = {10, 999000000L};
	clock_add_ms(&t, 1);
	CHECK_INT_EQ(t.tv_sec, 11);
	CHECK_INT_EQ(t.tv_nsec, 0);
	clock_add_ms(&t, 2500);
	CHECK_INT_EQ(t.tv_sec, 13);
	CHECK_INT_EQ(t.tv_nsec, 500000000L);
	clock_add_ms(&t, 0);
	CHECK_INT_EQ(t.tv_sec, 13);
	CHECK_INT_EQ(t.tv_nsec, 500000000L);
}

static void test_deadline_in_is_ahead(void)
{
	struct timespec now, t;
	clock_gettime(CLOCK_REALTIME, &now);
	clock_deadline_in(&t, 60000);
	CHECK(t.tv_sec >= now.tv_sec + 60);
	CHECK(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
}

static void test_mono_ms_never_goes_back(void)
{
	int64_t a = clock_mono_ms(), b = clock_mono_ms();
	CHECK(a > 0);
	CHECK(b >= a);
}

static void test_civil_days_table(void)
{
	static const struct {
		int64_t y;
		int m, d;
		int64_t days;
	} rows[] = {
	    {1970, 1, 1, 0},	  {1969, 12, 31, -1},	 {2000, 1, 1, 10957}, {2000, 2, 29, 11016},
	    {2024, 2, 29, 19782}, {2026, 11, 27, 20784}, {2100, 1, 1, 47482}, {1600, 3, 1, -135080},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK_INT_EQ(clock_days_from_civil(rows[i].y, rows[i].m, rows[i].d), rows[i].days);
		int64_t y = 0;
		int m = 0, d = 0;
		clock_civil_from_days(rows[i].days, &y, &m, &d);
		CHECK_INT_EQ(y, rows[i].y);
		CHECK_INT_EQ(m, rows[i].m);
		CHECK_INT_EQ(d, rows[i].d);
	}
}

static const struct test_case tests[] = {
    {"civil_days_table", test_civil_days_table}, {"mono_ms_never_goes_back", test_mono_ms_never_goes_back},
    {"add_ms_carries", test_add_ms_carries},	 {"deadline_in_is_ahead", test_deadline_in_is_ahead},
    {"iso_ms_table", test_iso_ms_table},	 {"wall_ms_is_realtime", test_wall_ms_is_realtime},
    {"iso_s_matches_gmtime", test_iso_s_matches_gmtime},
};
TEST_MAIN(tests)
