/* The IoT hub's journal (src/app/iot_journal.c): durable appends per second and append latency
 * (p50, p99, max) with 1, 8 and 64 producers each appending a packed telemetry message and
 * waiting for it to be on disk; beside the peer, one fdatasync per record (what a journal without
 * group commit would manage on this disk), measured in the same run, and the ratio.
 * Usage: bench_iot_journal DIR [SECONDS per configuration, default 3]. */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/iot_journal.h"
#include "util/alloc.h"

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct worker {
	struct iot_journal *j;
	atomic_int *stop;
	int id;
	uint32_t *lat_us; /* one per append */
	size_t n, cap;
	int errors;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct iot_telemetry t;
	memset(&t, 0, sizeof t);
	snprintf(t.device, sizeof t.device, "hydrant-%04d", w->id);
	t.n = 3;
	snprintf(t.v[0].metric, sizeof t.v[0].metric, "pressure_mpa");
	snprintf(t.v[1].metric, sizeof t.v[1].metric, "temperature_c");
	snprintf(t.v[2].metric, sizeof t.v[2].metric, "battery_pct");
	unsigned char p[IOT_JOURNAL_PACK_MAX];
	for (uint32_t i = 0; !atomic_load(w->stop); i++) {
		t.ts_ms = 1795708800000 + i;
		t.v[0].value = 0.3 + 0.001 * (i % 100);
		t.v[1].value = 21.5;
		t.v[2].value = 88;
		size_t len = 0;
		if (iot_journal_pack_telemetry(&t, p, &len) != CD_OK) {
			w->errors++;
			break;
		}
		double t0 = mono_s();
		if (iot_journal_append(w->j, IOT_JOURNAL_TELEMETRY, IOT_SRC_MQTT, p, len, NULL) != CD_OK) {
			w->errors++;
			break;
		}
		double us = (mono_s() - t0) * 1e6;
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 4096;
			w->lat_us = xrealloc(w->lat_us, w->cap * sizeof *w->lat_us);
		}
		w->lat_us[w->n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* One configuration: np producers for `secs` seconds on a fresh journal in dir; no_sync skips
 * the fdatasync (the journal's own cost: locking, copying, CRC, wake-ups). */
static int run(const char *dir, int np, double secs, double peer, bool no_sync)
{
	char path[4200];
	snprintf(path, sizeof path, "%.4000s/iot-%d%s.journal", dir, np, no_sync ? "-nosync" : "");
	struct iot_journal *j = NULL;
	struct iot_journal_options o = {.no_sync = no_sync};
	if (iot_journal_open_with(path, &o, &j) != CD_OK) {
		fprintf(stderr, "cannot open %s\n", path);
		return 1;
	}
	atomic_int stop = 0;
	struct worker *w = xcalloc((size_t)np, sizeof *w);
	pthread_t *tid = xcalloc((size_t)np, sizeof *tid);
	double t0 = mono_s();
	for (int k = 0; k < np; k++) {
		w[k] = (struct worker){j, &stop, k, NULL, 0, 0, 0};
		pthread_create(&tid[k], NULL, worker_main, &w[k]);
	}
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	size_t total = 0;
	int errors = 0;
	for (int k = 0; k < np; k++) {
		pthread_join(tid[k], NULL);
		total += w[k].n;
		errors += w[k].errors;
	}
	double elapsed = mono_s() - t0;
	struct iot_journal_stats st;
	iot_journal_get_stats(j, &st);
	uint32_t *all = xmalloc((total ? total : 1) * sizeof *all);
	size_t at = 0;
	for (int k = 0; k < np; k++) {
		if (w[k].n)
			memcpy(all + at, w[k].lat_us, w[k].n * sizeof *all);
		at += w[k].n;
		xfree(w[k].lat_us);
	}
	qsort(all, total, sizeof *all, cmp_u32);
	double rate = (double)total / elapsed;
	if (no_sync) {
		printf("iot journal, %2d producers, no fdatasync (its own cost): %8.0f records/s, append p50 %5u us, "
		       "p99 %6u us, %.1f records per batch%s\n",
		       np, rate, total ? all[total / 2] : 0, total ? all[total * 99 / 100] : 0,
		       st.batches ? (double)total / (double)st.batches : 0.0, errors ? " (ERRORS)" : "");
		fflush(stdout);
		xfree(all);
		xfree(w);
		xfree(tid);
		iot_journal_close(j);
		return errors ? 1 : 0;
	}
	printf("iot journal, %2d producers: %8.0f durable records/s, append p50 %5u us, p99 %6u us, max %7u us, "
	       "%.1f records per fdatasync; peer (one fdatasync per record) %.0f/s, ratio %.1fx%s\n",
	       np, rate, total ? all[total / 2] : 0, total ? all[total * 99 / 100] : 0, total ? all[total - 1] : 0,
	       st.batches ? (double)total / (double)st.batches : 0.0, peer, peer > 0 ? rate / peer : 0.0,
	       errors ? " (ERRORS)" : "");
	fflush(stdout);
	xfree(all);
	xfree(w);
	xfree(tid);
	iot_journal_mark_handled(j, st.last_seq);
	iot_journal_close(j); /* the segments stay in DIR: the caller removes it */
	return errors ? 1 : 0;
}

/* The peer: 128-byte records appended, one fdatasync each, over allocated blocks (the journal's
 * own trick, so the comparison is about batching alone). */
static double peer_syncs(const char *dir, double secs)
{
	char path[4200];
	snprintf(path, sizeof path, "%.4000s/peer.dat", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	static unsigned char zero[1 << 20];
	unsigned char rec[128];
	memset(rec, 0x5a, sizeof rec);
	if (write(fd, zero, sizeof zero) != (ssize_t)sizeof zero || fdatasync(fd) != 0) {
		close(fd);
		unlink(path);
		return 0;
	}
	double t0 = mono_s();
	size_t n = 0;
	while (mono_s() - t0 < secs) {
		if (pwrite(fd, rec, sizeof rec, (off_t)((n * sizeof rec) % sizeof zero)) != (ssize_t)sizeof rec ||
		    fdatasync(fd) != 0)
			break;
		n++;
	}
	double rate = (double)n / (mono_s() - t0);
	close(fd);
	unlink(path);
	return rate;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [SECONDS]\n", argv[0]);
		return 2;
	}
	double secs = 3;
	if (argc > 2) {
		char *end = NULL;
		secs = strtod(argv[2], &end);
		if (!end || *end || secs <= 0 || secs > 600) {
			fprintf(stderr, "SECONDS: a number in (0, 600]\n");
			return 2;
		}
	}
	double peer = peer_syncs(argv[1], secs < 2 ? secs : 2);
	static const int producers[] = {1, 8, 64};
	int status = 0;
	for (size_t i = 0; i < sizeof producers / sizeof producers[0]; i++)
		status |= run(argv[1], producers[i], secs, peer, false);
	status |= run(argv[1], 8, secs < 1 ? secs : 1, peer, true);
	return status;
}
