/* Micro benchmark of the cases store, beside raw SQLite measured in the same run: inserts N
 * synthetic Luohu cases (default 1,000,000) in group-commit batches of 200 into a temporary
 * store, then times filtered list pages, a month of scores and point reads on the full store,
 * prints the process's resident memory, and times opening the store again and its first list
 * (the case list index is built from the table then). The peer is plain sqlite3 INSERTs of the same rows
 * into the same cases table (same indexes, WAL, synchronous=FULL) at 1 and at 100 rows per
 * transaction, and into a table without secondary indexes. Figures are printed, never asserted.
 * Usage: bench_store_cases [N] [DIR]   (DIR defaults to a new directory under /tmp, removed at
 * the end; a DIR given is kept). Environment: BENCH_BATCH=n (cases per batch, default 200, at
 * most 1000), BENCH_NO_PEERS=1, BENCH_REUSE=1 (with DIR: measure the reads of a store an earlier
 * run left there), BENCH_DROP="SQL" (run on the file before inserting, for experiments),
 * BENCH_SLOW=1 (print every list call over 10 ms), BENCH_JOURNAL=1 (intake through the intake
 * journal, as the server does: prints the journal's rate and when the database had every case).
 * Build: cc -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc -O2 -pthread -o build/bench_store_cases
 *        bench/bench_store_cases.c build/libcitydesk.a $(pkg-config --libs libmicrohttpd
 *        jansson sqlite3 libsodium) -lm */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/alloc.h"

extern const char *const store_migrations[];

#define BATCH_DEFAULT 200
#define BATCH_MAX 1000
#define NSTREETS 10
#define NCOMMUNITIES 8   /* per street */
#define NUNITS 60
#define NCATS 1500
#define DAYS 180          /* cases spread over this many days before "now" */
#define NFILTERS 1000

static const struct store_actor intake = {"system", ""};
static const char *const channels[] = {"hotline", "hotline", "hotline", "app", "app", "grid",
				       "grid", "camera", "iot", "enterprise", "open311", "system"};
static const char *const open_statuses[] = {"reported", "registered", "dispatched", "accepted",
					    "handled", "verified", "suspended"};
static const char *const words[] = {"井盖", "路灯", "噪音", "占道经营", "垃圾", "漏水", "违建",
				    "油烟", "停车", "树木", "积水", "广告牌"};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* A skewed pick: small indexes are much more frequent (real categories and units are). */
static uint32_t skewed(uint32_t n)
{
	uint32_t a = rnd(n), b = rnd(n);
	return a < b ? a : b;
}

static void street_code(char *out, size_t cap, uint32_t s)
{
	snprintf(out, cap, "440303%03u", s + 1);
}

static void category_code(char *out, size_t cap, uint32_t c)
{
	if (c < 1200)
		snprintf(out, cap, "H%02u%02u%02u", c / 100 + 1, (c / 10) % 10 + 1, c % 10 + 1);
	else if (c < 1350)
		snprintf(out, cap, "UP%05u", 1000 + c);
	else
		snprintf(out, cap, "UM%05u", 6000 + c);
}

static void unit_code(char *out, size_t cap, uint32_t u)
{
	snprintf(out, cap, "U-%02u", u);
}

/* Fills c with the i-th synthetic case; the same i always gives the same case. */
static void make_case(struct store_case *c, uint64_t i, int64_t t0, uint64_t n)
{
	memset(c, 0, sizeof *c);
	uint32_t s = rnd(NSTREETS), cat = skewed(NCATS);
	snprintf(c->channel, sizeof c->channel, "%s", channels[rnd(12)]);
	if (rnd(2))
		snprintf(c->external_id, sizeof c->external_id, "ext-%llu", (unsigned long long)i);
	const char *w = words[cat % 12];
	snprintf(c->title, sizeof c->title, "%s问题反映 %llu", w, (unsigned long long)i);
	snprintf(c->description, sizeof c->description,
		 "市民反映：%s附近%s问题已持续多日，影响周边居民正常生活，希望有关部门尽快到场处理。"
		 "联系时请先电话告知。编号%llu，补充说明：夜间尤为严重。",
		 "东门步行街", w, (unsigned long long)i);
	category_code(c->category_code, sizeof c->category_code, cat);
	snprintf(c->category_source, sizeof c->category_source, "keyword");
	c->category_confidence = 0.8;
	c->has_point = 1;
	c->lat = 22.53 + rnd(1000) / 20000.0;
	c->lng = 114.10 + rnd(1000) / 10000.0;
	snprintf(c->address, sizeof c->address, "罗湖区某路 %u 号", rnd(2000));
	street_code(c->street_code, sizeof c->street_code, s);
	uint32_t comm = rnd(NCOMMUNITIES) + 1;
	snprintf(c->community_code, sizeof c->community_code, "440303%03u%03u", s + 1, comm);
	snprintf(c->grid_code, sizeof c->grid_code, "440303%03u%03u%03u", s + 1, comm, rnd(60) + 1);
	/* The unit follows the category mostly (the responsibility list), else the street. */
	uint32_t u = rnd(4) ? cat % (NUNITS - NSTREETS) + NSTREETS : s;
	unit_code(c->unit_code, sizeof c->unit_code, u);
	/* Older cases are closed; the newest are spread over the open states. */
	c->reported_at = t0 + (int64_t)((double)i / (double)n * DAYS * 86400.0) + rnd(60);
	int recent = i > n - n / 30;
	if (recent && rnd(2))
		snprintf(c->status, sizeof c->status, "%s", open_statuses[rnd(7)]);
	else
		snprintf(c->status, sizeof c->status, "%s", rnd(3) ? "rated" : "closed");
	c->overdue = rnd(100) < 3;
	c->deadline = c->reported_at + 5 * 86400;
	c->warn_at = c->reported_at + 4 * 86400;
	snprintf(c->limit_kind, sizeof c->limit_kind, "working_days");
	c->limit_value = 5;
	if (rnd(3) == 0) {
		snprintf(c->reporter_name, sizeof c->reporter_name, "市民%u", rnd(10000));
		snprintf(c->reporter_phone, sizeof c->reporter_phone, "138%08u", rnd(100000000));
	}
}

static long rss_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	size_t len = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, len) == 0)
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* A counter from /proc/self/io (bytes or calls), -1 when unavailable. */
static long long io_field(const char *field)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[256];
	long long v = -1;
	if (!f)
		return -1;
	size_t len = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, len) == 0)
			v = strtoll(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp_double);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* Prints 52000 as "52,000". */
static const char *grouped(double v, char *buf, size_t cap)
{
	char raw[32];
	snprintf(raw, sizeof raw, "%.0f", v);
	size_t len = strlen(raw), o = 0;
	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
	return buf;
}

/* ---- the peer: raw SQLite ------------------------------------------------------------- */

static const char peer_insert[] =
	"INSERT INTO cases (ref, channel, external_id, title, description, category_code, "
	"category_source, category_confidence, lat, lng, address, street_code, community_code, "
	"grid_code, unit_code, status, reported_at, deadline, warn_at, overdue, limit_kind, "
	"limit_value, reporter_name, reporter_phone, created_at, updated_at) VALUES (?1, ?2, ?3, "
	"?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
	"?23, ?24, ?25, ?26)";

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (*v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* rows/s of raw inserts of `n` cases, `per_tx` per transaction, into a fresh file with the
 * store's schema (bare: only the cases table, without its secondary indexes). */
static double peer_run(const char *dir, uint64_t n, int per_tx, int bare, int64_t t0)
{
	char path[512];
	snprintf(path, sizeof path, "%s/peer-%d-%d.db", dir, per_tx, bare);
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL, NULL, NULL);
	for (int i = 0; store_migrations[i]; i++)
		sqlite3_exec(db, store_migrations[i], NULL, NULL, NULL);
	if (bare)
		sqlite3_exec(db,
			     "DROP INDEX cases_external; DROP INDEX cases_reported; DROP INDEX cases_status; "
			     "DROP INDEX cases_street; DROP INDEX cases_street_status; "
			     "DROP INDEX cases_community; DROP INDEX cases_unit; DROP INDEX cases_unit_status; "
			     "DROP INDEX cases_category; DROP INDEX cases_channel; "
			     "DROP INDEX cases_overdue; DROP INDEX cases_due_warn; DROP INDEX cases_due_deadline",
			     NULL, NULL, NULL);
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, peer_insert, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "peer: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	struct store_case *c = xmalloc(sizeof *c);
	uint64_t saved = rng;
	double start = now_s();
	for (uint64_t i = 0; i < n; i++) {
		if (i % (uint64_t)per_tx == 0)
			sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		make_case(c, i, t0, n);
		snprintf(c->ref, sizeof c->ref, "LH%014llu", (unsigned long long)i);
		sqlite3_bind_text(s, 1, c->ref, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, c->channel, -1, SQLITE_STATIC);
		bind_opt(s, 3, c->external_id);
		sqlite3_bind_text(s, 4, c->title, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, c->description, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, c->category_code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, c->category_source, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 8, c->category_confidence);
		sqlite3_bind_double(s, 9, c->lat);
		sqlite3_bind_double(s, 10, c->lng);
		sqlite3_bind_text(s, 11, c->address, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 12, c->street_code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 13, c->community_code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 14, c->grid_code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 15, c->unit_code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 16, c->status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 17, c->reported_at);
		sqlite3_bind_int64(s, 18, c->deadline);
		sqlite3_bind_int64(s, 19, c->warn_at);
		sqlite3_bind_int(s, 20, c->overdue);
		sqlite3_bind_text(s, 21, c->limit_kind, -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 22, c->limit_value);
		bind_opt(s, 23, c->reporter_name);
		bind_opt(s, 24, c->reporter_phone);
		sqlite3_bind_int64(s, 25, (int64_t)time(NULL));
		sqlite3_bind_int64(s, 26, (int64_t)time(NULL));
		if (sqlite3_step(s) != SQLITE_DONE) {
			fprintf(stderr, "peer insert: %s\n", sqlite3_errmsg(db));
			break;
		}
		sqlite3_reset(s);
		if ((i + 1) % (uint64_t)per_tx == 0 || i + 1 == n)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	double dt = now_s() - start;
	rng = saved;
	xfree(c);
	sqlite3_finalize(s);
	sqlite3_close(db);
	static const char *const suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		unlink(p);
	}
	return (double)n / dt;
}

/* ---- filters -------------------------------------------------------------------------- */

/* A random list filter of the kinds the case pages use: one to three conditions, sometimes a
 * scope, mostly the first page. Strings live in `bufs`. */
struct filter_bufs {
	char street[16], community[20], unit[16], cat[16];
};


static void random_filter(struct store_case_filter *f, struct filter_bufs *b, int64_t t_end,
			  int64_t *offset)
{
	memset(f, 0, sizeof *f);
	int nconds = 1 + (int)rnd(3);
	*offset = rnd(10) == 0 ? 20 * (int64_t)(1 + rnd(5)) : 0;
	for (int k = 0; k < nconds; k++) {
		switch (rnd(9)) {
		case 0:
			f->status = rnd(3) ? open_statuses[rnd(6)] : "closed";
			break;
		case 1:
			street_code(b->street, sizeof b->street, rnd(NSTREETS));
			if (rnd(2))
				f->street_code = b->street;
			else
				f->scope_street = b->street;
			break;
		case 2:
			snprintf(b->community, sizeof b->community, "440303%03u%03u", rnd(NSTREETS) + 1,
				 rnd(NCOMMUNITIES) + 1);
			f->community_code = b->community;
			break;
		case 3:
			unit_code(b->unit, sizeof b->unit, rnd(NUNITS));
			if (rnd(2))
				f->unit_code = b->unit;
			else
				f->scope_unit = b->unit;
			break;
		case 4: {
			category_code(b->cat, sizeof b->cat, skewed(NCATS));
			static const size_t lens[] = {3, 5, 7};
			size_t len = lens[rnd(3)];
			if (b->cat[0] != 'H')
				len = rnd(2) ? 2 : 7;
			b->cat[len] = '\0';
			f->category_prefix = b->cat;
			break;
		}
		case 5:
			f->channel = channels[rnd(12)];
			break;
		case 6:
			f->overdue = 1;
			break;
		case 7:
			f->from = t_end - (rnd(2) ? 7 : 30) * 86400;
			break;
		default:
			f->from = t_end - 30 * 86400;
			f->to = t_end - 23 * 86400;
			break;
		}
	}
}

static void describe(const struct store_case_filter *f, int64_t off, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s off=%lld", f->status ? " status=" : "",
		 f->status ? f->status : "", f->street_code ? " street=" : "",
		 f->street_code ? f->street_code : "", f->scope_street ? " scope_street=" : "",
		 f->scope_street ? f->scope_street : "", f->unit_code ? " unit=" : "",
		 f->unit_code ? f->unit_code : "", f->scope_unit ? " scope_unit=" : "",
		 f->scope_unit ? f->scope_unit : "", f->community_code ? " community=" : "",
		 f->community_code ? f->community_code : "", f->category_prefix ? " category=" : "",
		 f->category_prefix ? f->category_prefix : "", f->channel ? " channel=" : "",
		 f->channel ? f->channel : "", f->overdue ? " overdue" : "",
		 f->from ? (f->to ? " from..to" : " from") : "", (long long)off);
}

struct score_sink {
	int rows;
	int64_t received;
};

static int score_cb(void *ctx, const struct store_score_row *r)
{
	struct score_sink *s = ctx;
	s->rows++;
	s->received += r->received;
	return 0;
}

/* Inserts the n cases in batches and prints the intake figures beside the peers'. */
static void insert_phase(struct store *st, uint64_t n, int64_t t0, int batch_size, uint64_t n100,
			 double p1, double p100, double p100b, double p200)
{
	char g1[32], g2[32], g3[32], g4[32];
	uint64_t n1 = n / 200 < 5000 ? n / 200 : 5000;
	struct store_case *batch = xcalloc(BATCH_MAX, sizeof *batch);
	enum cd_err res[BATCH_MAX];
	size_t nbatches = (size_t)((n + (uint64_t)batch_size - 1) / (uint64_t)batch_size);
	double *bt = xcalloc(nbatches, sizeof *bt);
	long long wchar0 = io_field("wchar:"), syncs0 = io_field("syscw:");
	double start = now_s(), first_window = 0;
	uint64_t done = 0, failed = 0;
	for (size_t b = 0; b < nbatches; b++) {
		size_t k = 0;
		for (; k < (size_t)batch_size && done + k < n; k++)
			make_case(&batch[k], done + k, t0, n);
		double t = now_s();
		if (store_case_insert_batch(st, &intake, batch, NULL, k, res) != CD_OK) {
			fprintf(stderr, "batch %zu failed\n", b);
			exit(1);
		}
		bt[b] = now_s() - t;
		for (size_t i = 0; i < k; i++)
			failed += res[i] != CD_OK;
		done += k;
		if (done == n100)
			first_window = now_s() - start;
	}
	double total = now_s() - start;
	struct store_journal_stats js;
	store_case_journal_stats(st, &js);
	if (js.on) {
		/* Until the database has every journalled case. */
		while (js.pending > 0) {
			usleep(1000);
			store_case_journal_stats(st, &js);
		}
		double applied = now_s() - start;
		printf("journal: %s cases journalled in %.1f s (%s/s), all in the database after %.1f s "
		       "(%s/s applied; %lld apply transactions, backlog max %lld)\n",
		       grouped((double)n, g1, sizeof g1), total, grouped((double)n / total, g2, sizeof g2), applied,
		       grouped((double)n / applied, g3, sizeof g3), (long long)js.apply_transactions,
		       (long long)js.max_pending);
		total = applied;
	}
	long long wchar1 = io_field("wchar:"), syncs1 = io_field("syscw:");
	double ins_rate = (double)n / total, first_rate = (double)n100 / first_window;
	double b50 = pct(bt, nbatches, 0.5) * 1e3, b99 = pct(bt, nbatches, 0.99) * 1e3;
	xfree(bt);
	xfree(batch);

	printf("cases stored: %s in %.1f s (%llu refused)\n", grouped((double)n, g1, sizeof g1),
	       total, (unsigned long long)failed);
	printf("intake store: citydesk %s rows/s  raw sqlite (100/tx) %s rows/s  ratio %.2f"
	       "   [citydesk first %s rows: %s rows/s; peer on a fresh file of %s rows]\n",
	       grouped(ins_rate, g1, sizeof g1), grouped(p100, g2, sizeof g2), ins_rate / p100,
	       grouped((double)n100, g3, sizeof g3), grouped(first_rate, g4, sizeof g4),
	       grouped((double)n100, g3, sizeof g3));
	printf("  peers: raw sqlite same schema 1/tx %s rows/s (%llu rows), 100/tx %s rows/s, "
	       "%d/tx %s rows/s; no secondary indexes 100/tx %s rows/s\n",
	       grouped(p1, g1, sizeof g1), (unsigned long long)n1, grouped(p100, g2, sizeof g2),
	       batch_size, grouped(p200, g3, sizeof g3), grouped(p100b, g4, sizeof g4));
	printf("  written by the store: %.1f KB per case, %.1f write calls per case\n",
	       (double)(wchar1 - wchar0) / 1024.0 / (double)n, (double)(syncs1 - syncs0) / (double)n);
	printf("  citydesk per case: row + first event + received counts (summed per batch) + share of one audit "
	       "entry; batch of %d commit p50 %.2f ms p99 %.2f ms; ratio to 1/tx %.1f\n",
	       batch_size, b50, b99, ins_rate / p1);

}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	char dir[256];
	if (argc > 2) {
		snprintf(dir, sizeof dir, "%s", argv[2]);
	} else {
		snprintf(dir, sizeof dir, "/tmp/citydesk-bench-cases-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 2;
		}
	}
	if (n < 1000)
		n = 1000;
	/* BENCH_BATCH changes the group-commit batch (default 200, at most 1000). */
	int batch_size = getenv("BENCH_BATCH") ? (int)strtol(getenv("BENCH_BATCH"), NULL, 10) : 0;
	if (batch_size <= 0 || batch_size > BATCH_MAX)
		batch_size = BATCH_DEFAULT;
	char g1[32], path[300];
	snprintf(path, sizeof path, "%s/citydesk.db", dir);
	const int64_t t_end = (int64_t)time(NULL);
	const int64_t t0 = t_end - DAYS * 86400;

	/* BENCH_REUSE=1 with a DIR holding a store from an earlier run skips the peers and the
	 * inserts and measures the reads only. */
	int reuse = getenv("BENCH_REUSE") && argc > 2 && access(path, F_OK) == 0;
	if (reuse) {
		sqlite3 *db = NULL;
		sqlite3_stmt *cs = NULL;
		sqlite3_open(path, &db);
		sqlite3_prepare_v2(db, "SELECT count(*) FROM cases", -1, &cs, NULL);
		if (sqlite3_step(cs) == SQLITE_ROW)
			n = (uint64_t)sqlite3_column_int64(cs, 0);
		sqlite3_finalize(cs);
		sqlite3_close(db);
		printf("reusing %s with %s cases\n", path, grouped((double)n, g1, sizeof g1));
	}
	/* The peers first, on an idle disk, each on a fresh file. */
	uint64_t n1 = n / 200 < 5000 ? n / 200 : 5000, n100 = n / 10 < 100000 ? n / 10 : 100000;
	/* BENCH_NO_PEERS=1 skips them (for profiling the store alone). */
	int peers = !getenv("BENCH_NO_PEERS") && !reuse;
	double p1 = peers ? peer_run(dir, n1, 1, 0, t0) : 1;
	double p100 = peers ? peer_run(dir, n100, 100, 0, t0) : 1;
	double p100b = peers ? peer_run(dir, n100, 100, 1, t0) : 1;
	double p200 = peers ? peer_run(dir, n100, batch_size, 0, t0) : 1;

	struct store *st = NULL;
	if (store_open(path, &st) != CD_OK) {
		fprintf(stderr, "cannot open %s\n", path);
		return 2;
	}
	if (getenv("BENCH_DROP")) {
		sqlite3 *db = NULL;
		sqlite3_open(path, &db);
		sqlite3_exec(db, getenv("BENCH_DROP"), NULL, NULL, NULL);
		sqlite3_close(db);
	}
	if (getenv("BENCH_JOURNAL") && store_case_journal_start(st) != CD_OK) {
		fprintf(stderr, "cannot start the intake journal\n");
		return 2;
	}
	/* The case list index is built on first need; the server builds it at start (the
	 * journal's start). Here too, so that the inserts keep it up to date and the first timed
	 * list does not build it. */
	{
		double t = now_s();
		struct store_case_page page;
		if (store_cases_list(st, NULL, 0, 1, &page) != CD_OK) {
			fprintf(stderr, "cannot list %s\n", path);
			return 2;
		}
		store_case_page_release(&page);
		if (reuse)
			printf("case list index built from the table in %.0f ms\n", (now_s() - t) * 1e3);
	}
	if (!reuse) {
		insert_phase(st, n, t0, batch_size, n100, p1, p100, p100b, p200);
	} else {
		/* A store left by an earlier build may hold statistics of another kind: take them
		 * again, as the intake does every 100,000 cases. */
		double t = now_s();
		enum cd_err orc = store_cases_optimize(st);
		printf("planner statistics refreshed in %.0f ms (%s)\n", (now_s() - t) * 1e3, cd_err_name(orc));
	}
	/* Filtered pages. */
	double *lat = xcalloc(NFILTERS, sizeof *lat);
	char worst[NFILTERS > 0 ? 512 : 1] = "";
	double worst_t = 0;
	int64_t capped = 0, rows = 0;
	for (int i = 0; i < NFILTERS; i++) {
		struct store_case_filter f;
		struct filter_bufs fb;
		int64_t off = 0;
		random_filter(&f, &fb, t_end, &off);
		struct store_case_page page;
		double t = now_s();
		enum cd_err rc = store_cases_list(st, &f, off, 20, &page);
		lat[i] = now_s() - t;
		if (rc != CD_OK)
			fprintf(stderr, "list failed: %s\n", cd_err_name(rc));
		capped += page.total_capped;
		rows += (int64_t)page.n;
		if (lat[i] > worst_t) {
			worst_t = lat[i];
			describe(&f, off, worst, sizeof worst);
		}
		if (getenv("BENCH_SLOW") && lat[i] > 0.010) {
			char d[512];
			describe(&f, off, d, sizeof d);
			printf("  slow %.1f ms:%s (n=%zu total=%lld%s)\n", lat[i] * 1e3, d, page.n,
			       (long long)page.total, page.total_capped ? "+" : "");
		}
		store_case_page_release(&page);
	}
	double l50 = pct(lat, NFILTERS, 0.5) * 1e3, l99 = pct(lat, NFILTERS, 0.99) * 1e3;
	printf("filtered page (20 rows + total, %d random filters of 1-3 conditions): p50 %.2f ms  "
	       "p99 %.2f ms  max %.1f ms (goal <= 10 ms); %lld of %d totals capped at %d\n",
	       NFILTERS, l50, l99, worst_t * 1e3, (long long)capped, NFILTERS, STORE_CASES_COUNT_CAP);
	printf("  slowest filter:%s\n", worst);
	xfree(lat);

	/* Substring search scans; shown apart, with a common and a rare word. */
	static const char *const qs[] = {"井盖", "编号999999，"};
	for (int i = 0; i < 2; i++) {
		struct store_case_filter f;
		memset(&f, 0, sizeof f);
		f.q = qs[i];
		struct store_case_page page;
		double t = now_s();
		enum cd_err rc = store_cases_list(st, &f, 0, 20, &page);
		double dt = now_s() - t;
		printf("  q=\"%s\" (no other filter): %.1f ms, %zu rows, total %lld%s (%s)\n", qs[i],
		       dt * 1e3, page.n, (long long)page.total, page.total_capped ? "+" : "",
		       cd_err_name(rc));
		f.from = t_end - 7 * 86400;
		store_case_page_release(&page);
		t = now_s();
		rc = store_cases_list(st, &f, 0, 20, &page);
		dt = now_s() - t;
		printf("  q=\"%s\" last 7 days: %.1f ms, %zu rows, total %lld%s\n", qs[i], dt * 1e3,
		       page.n, (long long)page.total, page.total_capped ? "+" : "");
		store_case_page_release(&page);
	}

	/* A month of scores by each dimension. */
	char from_day[11], to_day[11];
	store_day_of(t_end - 30 * 86400, from_day);
	store_day_of(t_end, to_day);
	static const char *const dims[] = {"unit", "street", "category"};
	for (int d = 0; d < 3; d++) {
		double best = 1e9, worst_s = 0;
		struct score_sink sink = {0, 0};
		for (int r = 0; r < 20; r++) {
			memset(&sink, 0, sizeof sink);
			double t = now_s();
			if (store_scores(st, dims[d], from_day, to_day, score_cb, &sink) != CD_OK)
				fprintf(stderr, "scores failed\n");
			double dt = now_s() - t;
			best = dt < best ? dt : best;
			worst_s = dt > worst_s ? dt : worst_s;
		}
		printf("scores month by %s: %.2f ms (worst of 20: %.2f ms; goal <= 100 ms), %d rows, "
		       "%lld cases received\n",
		       dims[d], best * 1e3, worst_s * 1e3, sink.rows, (long long)sink.received);
	}
	/* The peer for scores: the plain GROUP BY over the cases themselves. */
	{
		sqlite3 *db = NULL;
		sqlite3_open(path, &db);
		sqlite3_stmt *s = NULL;
		sqlite3_prepare_v2(db,
				   "SELECT unit_code, count(*), sum(status IN ('closed','rated')), "
				   "sum(overdue) FROM cases WHERE reported_at >= ?1 GROUP BY unit_code",
				   -1, &s, NULL);
		sqlite3_bind_int64(s, 1, t_end - 30 * 86400);
		double t = now_s();
		int nrows = 0;
		while (sqlite3_step(s) == SQLITE_ROW)
			nrows++;
		double dt = now_s() - t;
		sqlite3_finalize(s);
		sqlite3_prepare_v2(db,
				   "SELECT unit_code, count(*), sum(status IN ('closed','rated')), "
				   "sum(overdue) FROM cases GROUP BY unit_code",
				   -1, &s, NULL);
		t = now_s();
		while (sqlite3_step(s) == SQLITE_ROW)
			nrows++;
		double dt_all = now_s() - t;
		sqlite3_finalize(s);
		sqlite3_close(db);
		printf("  peer: raw GROUP BY unit over the month's cases %.1f ms; over all cases %.1f ms\n",
		       dt * 1e3, dt_all * 1e3);
	}

	/* Point reads. */
	{
		struct store_case *c = xmalloc(sizeof *c);
		int reps = 20000;
		double t = now_s();
		for (int i = 0; i < reps; i++)
			if (store_case_get_by_id(st, 1 + (int64_t)rnd((uint32_t)n), c) != CD_OK)
				fprintf(stderr, "get failed\n");
		double dt = now_s() - t;
		printf("case by id: %.1f us each\n", dt / reps * 1e6);
		xfree(c);
	}

	int64_t size = 0;
	if (store_size_bytes(st, &size) != CD_OK)
		size = -1;
	printf("resident memory: %ld MB now, peak %ld MB (goal <= 300 MB); database %.0f MB\n",
	       rss_kb("VmRSS:") / 1024, rss_kb("VmHWM:") / 1024, (double)size / 1048576.0);
	store_close(st);
	/* Opening again and listing builds the case list index from one pass over the table (warm
	 * page cache: the file was just written). */
	{
		double t = now_s();
		struct store_case_page page;
		if (store_open(path, &st) != CD_OK || store_cases_list(st, NULL, 0, 20, &page) != CD_OK) {
			fprintf(stderr, "cannot reopen %s\n", path);
			return 2;
		}
		printf("reopen and first list (the case list index built from the table): %.0f ms\n",
		       (now_s() - t) * 1e3);
		store_case_page_release(&page);
		store_close(st);
	}
	if (argc <= 2) {
		static const char *const suffix[] = {"", "-wal", "-shm"};
		for (int i = 0; i < 3; i++) {
			char p[400];
			snprintf(p, sizeof p, "%s%s", path, suffix[i]);
			unlink(p);
		}
		rmdir(dir);
	}
	return 0;
}
