/* The peer for the intake benchmark: raw SQLite inserts of case-like rows into a WAL database
 * with synchronous=FULL (as citydesk's store), at 1 row per transaction and at 100 rows per
 * transaction. Prints rows/s for each. Usage: bench_sqlite_raw DIR ROWS_1 ROWS_100 [SCHEMA.sql]
 * Without SCHEMA the table is a lean one (two secondary indexes); with it (e.g.
 * src/store/migrations/0003_cases.sql) the rows go into citydesk's own cases table with all of
 * its indexes, the same rows through plain sqlite3 calls. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", err);
		sqlite3_free(err);
		return 1;
	}
	return 0;
}

/* Inserts `rows` rows, `per_tx` to a transaction; returns rows/s or -1. */
static int schema_mode; /* 1: citydesk's schema; each case also gets its first event row */

static double run(sqlite3 *db, long rows, long per_tx)
{
	sqlite3_stmt *ins, *ev = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO cases (ref, channel, external_id, description, category_code, lat, lng, "
			       "street_code, community_code, grid_code, unit_code, status, reported_at, deadline, "
			       "warn_at, created_at, updated_at) "
			       "VALUES (?, 'system', ?, ?, 'UM06010', 22.548, 114.118, '440303003', '440303003013', "
			       "'440303003013032', 'D-CGZF', 'reported', ?, ?, ?, ?, ?)",
			       -1, &ins, NULL) != SQLITE_OK)
		return -1;
	if (schema_mode &&
	    sqlite3_prepare_v2(db,
			       "INSERT INTO case_events (case_id, at, actor, role, action, to_status, data) "
			       "VALUES (?, ?, 'bench', 'system', 'report', 'reported', '{\"channel\":\"system\"}')",
			       -1, &ev, NULL) != SQLITE_OK)
		return -1;
	static long serial;
	double t0 = now();
	for (long i = 0; i < rows; i += per_tx) {
		if (exec(db, "BEGIN"))
			return -1;
		for (long j = i; j < i + per_tx && j < rows; j++) {
			char ref[32], ext[32];
			serial++;
			snprintf(ref, sizeof ref, "LH20261127%06ld", serial % 1000000);
			snprintf(ext, sizeof ext, "raw-%ld", serial);
			sqlite3_bind_text(ins, 1, ref, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 2, ext, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 3, "东门老街路口井盖缺失，很危险，请尽快处理", -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 4, 1790000000 + serial);
			sqlite3_bind_int64(ins, 5, 1790400000 + serial);
			sqlite3_bind_int64(ins, 6, 1790320000 + serial);
			sqlite3_bind_int64(ins, 7, 1790000000 + serial);
			sqlite3_bind_int64(ins, 8, 1790000000 + serial);
			if (sqlite3_step(ins) != SQLITE_DONE)
				return -1;
			sqlite3_reset(ins);
			if (ev) {
				sqlite3_bind_int64(ev, 1, sqlite3_last_insert_rowid(db));
				sqlite3_bind_int64(ev, 2, 1790000000 + serial);
				if (sqlite3_step(ev) != SQLITE_DONE)
					return -1;
				sqlite3_reset(ev);
			}
		}
		if (exec(db, "COMMIT"))
			return -1;
	}
	double dt = now() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(ev);
	return (double)rows / dt;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: bench_sqlite_raw DIR ROWS_1 ROWS_100 [SCHEMA.sql]\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/raw%s.db", argv[1], argc == 5 ? "-schema" : "");
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	if (argc == 5) {
		/* citydesk's schema file as is, with the store's page cache size. */
		static char sql[1 << 20];
		FILE *f = fopen(argv[4], "r");
		size_t n = f ? fread(sql, 1, sizeof sql - 1, f) : 0;
		if (f)
			fclose(f);
		sql[n] = '\0';
		if (!n || exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;") ||
		    exec(db, sql))
			return 1;
		schema_mode = 1;
	} else if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "CREATE TABLE cases (id INTEGER PRIMARY KEY, ref TEXT UNIQUE, channel TEXT, external_id TEXT,"
		     " description TEXT, category_code TEXT, lat REAL, lng REAL, street_code TEXT,"
		     " community_code TEXT, grid_code TEXT, unit_code TEXT, status TEXT, reported_at INTEGER,"
		     " deadline INTEGER, warn_at INTEGER, created_at INTEGER, updated_at INTEGER,"
		     " UNIQUE (channel, external_id));"
		     "CREATE INDEX cases_street ON cases(street_code, reported_at);"
		     "CREATE INDEX cases_unit ON cases(unit_code, status, reported_at);"))
		return 1;
	double one = run(db, strtol(argv[2], NULL, 10), 1);
	double hundred = run(db, strtol(argv[3], NULL, 10), 100);
	printf("%.0f %.0f\n", one, hundred);
	sqlite3_close(db);
	return one < 0 || hundred < 0;
}
