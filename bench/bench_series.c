/* Telemetry into the time series: one thread (as the IoT hub) appends VALUES values from DEVICES
 * devices with 4 metrics each (one message per device every 10 s of device time) through
 * series_append; the figure is values/s from the first append until series_flush returns, i.e.
 * sustained into DATA/series.db with its 1-minute and 1-hour rollups. The peer, in the same run:
 * the same rows through plain sqlite3 calls into the same raw table alone (no queue, no rollups,
 * 65,536 rows a transaction, WAL, synchronous=NORMAL): the ceiling of the file itself.
 * Usage: bench_series DIR [VALUES] [DEVICES] */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/series.h"

#define METRICS 4

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long arg_long(const char *s, long dflt)
{
	if (!s)
		return dflt;
	char *end;
	long v = strtol(s, &end, 10);
	return *end || v <= 0 ? dflt : v;
}

static void rm_db(const char *path)
{
	char p[600];
	static const char *const suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		unlink(p);
	}
}

struct row {
	long key;
	int64_t ts;
	double value;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

static double peer_raw(const char *path, long values, long devices, int64_t base)
{
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_exec(db,
		     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;"
		     "CREATE TABLE raw (key INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, "
		     "PRIMARY KEY (key, ts)) WITHOUT ROWID;",
		     NULL, NULL, NULL);
	sqlite3_stmt *ins = NULL;
	sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO raw (key, ts, value) VALUES (?1, ?2, ?3)", -1, &ins,
			   NULL);
	struct row *rows = malloc(65536 * sizeof *rows);
	if (!rows)
		return -1;
	double t0 = mono();
	/* the same arrival order as the series run, message after message, 4 values each, and each
	 * transaction's rows sorted by series and time as the series writer sorts them */
	for (long done = 0; done < values;) {
		long n = values - done < 65536 ? values - done : 65536;
		for (long i = 0; i < n; i++) {
			long v = done + i, m = v / METRICS;
			rows[i].key = (m % devices) * METRICS + v % METRICS + 1;
			rows[i].ts = base + (m / devices) * 10000;
			rows[i].value = (double)(m % 1000) / 10.0;
		}
		qsort(rows, (size_t)n, sizeof *rows, row_cmp);
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (long i = 0; i < n; i++) {
			sqlite3_bind_int64(ins, 1, rows[i].key);
			sqlite3_bind_int64(ins, 2, rows[i].ts);
			sqlite3_bind_double(ins, 3, rows[i].value);
			sqlite3_step(ins);
			sqlite3_reset(ins);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		done += n;
	}
	free(rows);
	double dt = mono() - t0;
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return (double)values / dt;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_series DIR [VALUES] [DEVICES]\n");
		return 2;
	}
	long values = arg_long(argc > 2 ? argv[2] : NULL, 2000000);
	long devices = arg_long(argc > 3 ? argv[3] : NULL, 1000);
	values -= values % METRICS;
	char path[512], peer[512];
	snprintf(path, sizeof path, "%s/series.db", argv[1]);
	snprintf(peer, sizeof peer, "%s/peer.db", argv[1]);
	rm_db(path);
	rm_db(peer);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* device time: ending now, one message per device every 10 s */
	long msgs = values / METRICS;
	int64_t base = (int64_t)now.tv_sec * 1000 - (msgs / devices + 1) * 10000;

	struct series_options o = {.no_retention = true};
	struct series *s = NULL;
	if (series_open_with(path, &o, &s)) {
		fprintf(stderr, "bench_series: cannot open %s\n", path);
		return 1;
	}
	static const char *const names[METRICS] = {"temperature_c", "pressure_mpa", "current_a", "kwh"};
	struct iot_telemetry t;
	memset(&t, 0, sizeof t);
	t.n = METRICS;
	for (int i = 0; i < METRICS; i++)
		snprintf(t.v[i].metric, sizeof t.v[i].metric, "%s", names[i]);
	double t0 = mono();
	for (long m = 0; m < msgs; m++) {
		snprintf(t.device, sizeof t.device, "dev-%05ld", m % devices);
		t.ts_ms = base + (m / devices) * 10000;
		for (int i = 0; i < METRICS; i++)
			t.v[i].value = (double)(m % 1000) / 10.0;
		series_append(s, &t);
	}
	double t_appended = mono() - t0;
	series_flush(s);
	double dt = mono() - t0;
	struct series_stats st;
	series_get_stats(s, &st);
	series_close(s);
	FILE *f = fopen(path, "rb");
	long bytes = 0;
	if (f) {
		fseek(f, 0, SEEK_END);
		bytes = ftell(f);
		fclose(f);
	}
	double rate = (double)values / dt;
	printf("series: %ld values (%ld devices x %d metrics) stored with rollups in %.2f s: %.0f values/s "
	       "(appends returned after %.2f s; %llu batches, max queue %zu, waits %llu, dropped %llu, "
	       "written %llu; %.1f bytes/value on disk)\n",
	       values, devices, METRICS, dt, rate, t_appended, (unsigned long long)st.batches, st.max_queued,
	       (unsigned long long)st.waits, (unsigned long long)st.dropped, (unsigned long long)st.written,
	       values ? (double)bytes / (double)values : 0);
	double prate = peer_raw(peer, values, devices, base);
	printf("peer: plain sqlite3 inserts of the same rows into the raw table alone: %.0f values/s\n",
	       prate);
	printf("ratio: %.2f of the raw-table ceiling; target >= 30000 values/s: %s\n",
	       prate > 0 ? rate / prate : 0, rate >= 30000 ? "met" : "NOT met");
	rm_db(path);
	rm_db(peer);
	return 0;
}
