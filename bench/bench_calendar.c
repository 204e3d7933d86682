/* Deadline throughput of the calendar engine over random moments in 2025-2026, beside a naive
 * peer that walks day by day asking cal_is_working_day (the loop the day table replaces).
 * Prints figures only. Build and run from the repo root:
 *   gcc -std=c11 -O2 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc bench/bench_calendar.c \
 *       src/core/calendar.c src/util/alloc.c src/util/err.c -ljansson -lm -o build/bench_calendar
 *   build/bench_calendar [N]      (default N = 2,000,000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/calendar.h"
#include "util/alloc.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The peer: same rule for a moment inside working hours, walking one day at a time. */
static int64_t naive_working_days(const struct cal *c, int64_t t, int n)
{
	int64_t d = t;
	while (n > 0) {
		d += 86400;
		struct cal_local l = cal_to_local(d);
		n -= cal_is_working_day(c, l.year, l.month, l.day);
	}
	return d;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	if (n <= 0)
		n = 2000000;
	char why[256] = "";
	struct cal *c = cal_new();
	if (cal_load_dir(c, "data/calendar/holiday-cn", why, sizeof why)) {
		fprintf(stderr, "bench_calendar: %s\n", why);
		return 1;
	}
	int64_t lo = 0, hi = 0;
	if (cal_from_local(2025, 1, 1, 0, 0, 0, &lo) || cal_from_local(2026, 12, 1, 0, 0, 0, &hi))
		return 1;
	int64_t *ts = xmalloc((size_t)n * sizeof(*ts));
	int32_t *amt = xmalloc((size_t)n * sizeof(*amt));
	for (long i = 0; i < n; i++) {
		ts[i] = lo + (int64_t)(rng() % (uint64_t)(hi - lo));
		amt[i] = (int32_t)(1 + rng() % 60);
	}
	static const enum cal_kind kinds[] = {CAL_WORKING_DAYS, CAL_WORKING_HOURS};
	int64_t sink = 0;
	for (size_t k = 0; k < 2; k++) {
		double t0 = now_s();
		for (long i = 0; i < n; i++) {
			int64_t out = 0;
			int32_t a = kinds[k] == CAL_WORKING_HOURS ? amt[i] * 60 : amt[i];
			if (cal_deadline(c, ts[i], (struct cal_limit){kinds[k], a}, &out) == CD_OK)
				sink += out;
		}
		double dt = now_s() - t0;
		printf("calendar deadline %-13s (1..60): %7.1f M/s  (%.0f ns each)\n",
		       cal_kind_name(kinds[k]), (double)n / dt / 1e6, dt / (double)n * 1e9);
	}
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		double f = 0;
		if (cal_fraction_elapsed(c, ts[i], ts[i] + 86400 * 10, ts[i] + 86400 * 8, CAL_WORKING_DAYS,
					 &f) == CD_OK)
			sink += (int64_t)(f * 1000);
	}
	double dt_frac = now_s() - t0;
	printf("calendar fraction_elapsed (scheduler):  %7.1f M/s\n", (double)n / dt_frac / 1e6);
	/* Table vs the day-by-day peer, on the same moments (fewer: the peer is slow). */
	long m = n / 10 ? n / 10 : 1;
	t0 = now_s();
	for (long i = 0; i < m; i++) {
		int64_t out = 0;
		if (cal_deadline(c, ts[i], (struct cal_limit){CAL_WORKING_DAYS, amt[i]}, &out) == CD_OK)
			sink += out;
	}
	double dt_table = now_s() - t0;
	t0 = now_s();
	for (long i = 0; i < m; i++)
		sink += naive_working_days(c, ts[i], amt[i]);
	double dt_naive = now_s() - t0;
	printf("working days: table %.1f M/s, day-by-day peer %.2f M/s, ratio %.0fx\n",
	       (double)m / dt_table / 1e6, (double)m / dt_naive / 1e6, dt_naive / dt_table);
	printf("(sink %lld)\n", (long long)(sink & 0xff));
	xfree(ts);
	xfree(amt);
	cal_free(c);
	return 0;
}
