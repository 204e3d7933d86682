/* Unit tests for the intake journal (src/store/sqlite_journal.c): journal-mode batches keep the
 * batch contract (duplicates within the batch, against pending and stored cases; refused
 * cases; sequential refs), pending cases are readable at once, a process killed with unapplied
 * cases loses none of them at the next open, a torn last record is dropped, a replay is
 * exactly once, and the daily counter continues after recovery. */
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

static const struct store_actor intake = {"system", ""};

/* 2026-11-27 00:00:00 +08:00 */
#define DAY0 ((int64_t)1795708800)

static void fill_case(struct store_case *c, const char *channel, const char *ext, int64_t reported_at)
{
	memset(c, 0, sizeof *c);
	snprintf(c->channel, sizeof c->channel, "%s", channel);
	snprintf(c->external_id, sizeof c->external_id, "%s", ext ? ext : "");
	snprintf(c->title, sizeof c->title, "井盖缺失");
	snprintf(c->description, sizeof c->description, "东门路口井盖缺失，行人易跌落。%s", ext ? ext : "");
	snprintf(c->street_code, sizeof c->street_code, "440303001");
	snprintf(c->unit_code, sizeof c->unit_code, "U1");
	snprintf(c->category_code, sizeof c->category_code, "UM06010");
	c->has_point = 1;
	c->lat = 22.54;
	c->lng = 114.11;
	c->reported_at = reported_at;
}

static int64_t list_total(struct store *st, const char *channel)
{
	struct store_case_filter f;
	struct store_case_page pg;
	memset(&f, 0, sizeof f);
	f.channel = channel;
	CHECK_INT_EQ(store_cases_list(st, &f, 0, 1, &pg), CD_OK);
	int64_t total = pg.total;
	store_case_page_release(&pg);
	return total;
}

/* Waits (up to 60 s) until the applier has written every journalled case: lists wait for it
 * only up to a bound, and a loaded test machine may be slower than that. */
static void drain(struct store *st)
{
	struct store_journal_stats js;
	for (int i = 0; i < 60000; i++) {
		store_case_journal_stats(st, &js);
		if (js.pending == 0)
			return;
		usleep(1000);
	}
}

static int64_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static int count_event(void *ctx, const struct store_case_event *ev)
{
	int64_t *n = ctx;
	if (strcmp(ev->action, "report") == 0 && strcmp(ev->to_status, "reported") == 0 && ev->case_id == 5)
		(*n)++;
	return 0;
}

/* ---- the batch contract in journal mode ------------------------------------------------ */

/* A new database in t, opened with the intake journal on. */
static struct store *open_journalled(struct tmpdb *t)
{
	tmpdb_make(t);
	struct store *st = open_ok(t);
	CHECK_INT_EQ(store_case_journal_start(st), CD_OK);
	return st;
}

static void test_batch_contract(void)
{
	struct tmpdb t;
	struct store *st = open_journalled(&t);

	struct store_case *b = xcalloc(6, sizeof *b);
	enum cd_err res[6];
	const char *ext[6] = {"A", "", "A", "B", "C", "D"};
	for (int i = 0; i < 6; i++)
		fill_case(&b[i], "hotline", ext[i], DAY0 + 3600 + i);
	snprintf(b[4].channel, sizeof b[4].channel, "fax"); /* the schema's CHECK, in C */
	b[5].duplicate_of = 999;			    /* no such case: the foreign key, in C */
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 6, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_OK);
	CHECK_INT_EQ(res[1], CD_OK);
	CHECK_INT_EQ(res[2], CD_ERR_EXISTS); /* earlier in the same batch */
	CHECK_INT_EQ(res[3], CD_OK);
	CHECK_INT_EQ(res[4], CD_ERR_INVALID);
	CHECK_INT_EQ(res[5], CD_ERR_INVALID);
	CHECK_STR_EQ(b[0].ref, "LH20261127000001");
	CHECK_STR_EQ(b[1].ref, "LH20261127000002");
	CHECK_STR_EQ(b[2].ref, "LH20261127000001"); /* the existing case handed back */
	CHECK_STR_EQ(b[3].ref, "LH20261127000003");
	CHECK_INT_EQ(b[0].id, 1);
	CHECK_INT_EQ(b[3].id, 3);
	CHECK_STR_EQ(b[0].status, "reported");

	/* Readable at once, applied or not. */
	struct store_case *got = xmalloc(sizeof *got);
	CHECK_INT_EQ(store_case_get_by_ref(st, "LH20261127000003", got), CD_OK);
	CHECK_STR_EQ(got->external_id, "B");
	CHECK_INT_EQ(got->has_point, 1);
	CHECK_NEAR(got->lat, 22.54, 1e-12);
	CHECK_INT_EQ(store_case_get_by_id(st, 2, got), CD_OK);
	CHECK_STR_EQ(got->ref, "LH20261127000002");
	CHECK_INT_EQ(store_case_find_external(st, "hotline", "A", got), CD_OK);
	CHECK_INT_EQ(got->id, 1);

	/* A second batch while another connection holds the database's write lock, so it stays
	 * pending: duplicates against what is pending or stored, and a case pointing at a
	 * journalled one. */
	drain(st);
	sqlite3 *blocker = NULL;
	CHECK_INT_EQ(sqlite3_open(t.path, &blocker), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	fill_case(&b[0], "hotline", "B", DAY0 + 7200);
	fill_case(&b[1], "app", "B", DAY0 + 7201); /* another channel: a new case */
	fill_case(&b[2], "hotline", "", DAY0 + 7202);
	b[2].duplicate_of = 3;
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 3, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_EXISTS);
	CHECK_INT_EQ(b[0].id, 3);
	CHECK_INT_EQ(res[1], CD_OK);
	CHECK_STR_EQ(b[1].ref, "LH20261127000004");
	CHECK_INT_EQ(res[2], CD_OK);
	CHECK_INT_EQ(b[2].duplicate_of, 3);
	fill_case(&b[0], "app", "B", DAY0 + 7203); /* pending: found in the journal's index */
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 1, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_EXISTS);
	CHECK_STR_EQ(b[0].ref, "LH20261127000004");
	struct store_journal_stats js;
	store_case_journal_stats(st, &js);
	CHECK_INT_EQ(js.pending, 2);
	CHECK_INT_EQ(store_case_get_by_ref(st, "LH20261127000005", got), CD_OK);
	CHECK_INT_EQ(got->duplicate_of, 3);

	/* The first event of a case not yet applied comes from its journal record; a list waits
	 * for the applier (up to a bound). */
	int64_t nev = 0;
	CHECK_INT_EQ(store_case_events(st, 5, count_event, &nev), CD_OK);
	CHECK_INT_EQ(nev, 1);
	CHECK_INT_EQ(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	drain(st);
	nev = 0;
	CHECK_INT_EQ(store_case_events(st, 5, count_event, &nev), CD_OK);
	CHECK_INT_EQ(nev, 1);
	CHECK_INT_EQ(list_total(st, NULL), 5);
	store_case_journal_stats(st, &js);
	CHECK_INT_EQ(js.on, 1);
	CHECK_INT_EQ(js.journalled, 5);
	CHECK_INT_EQ(js.applied, 5);
	CHECK_INT_EQ(js.pending, 0);
	store_close(st);
	CHECK(file_size(t.journal) > 16); /* kept for reuse; its records are void after a clean stop */

	st = open_ok(&t);
	CHECK_INT_EQ(list_total(st, NULL), 5);
	CHECK_INT_EQ(store_case_get_by_ref(st, "LH20261127000005", got), CD_OK);
	CHECK_INT_EQ(got->duplicate_of, 3);
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	store_close(st);
	xfree(got);
	xfree(b);
	tmpdb_remove(&t);
}

/* ---- kill -9 with cases journalled but not applied ------------------------------------- */

#define KILL_BATCHES 3
#define KILL_PER_BATCH 100

/* The child: journals KILL_BATCHES batches; the first is applied, then another connection
 * holds the database's write lock so the rest stay pending; then it is killed. */
static void child_journal_and_die(const struct tmpdb *t)
{
	struct store *st = NULL;
	if (store_open(t->path, &st) || store_case_journal_start(st))
		_exit(3);
	struct store_case *b = xcalloc(KILL_PER_BATCH, sizeof *b);
	enum cd_err res[KILL_PER_BATCH];
	sqlite3 *blocker = NULL;
	for (int k = 0; k < KILL_BATCHES; k++) {
		for (int i = 0; i < KILL_PER_BATCH; i++) {
			char ext[32];
			snprintf(ext, sizeof ext, "k%d-%d", k, i);
			fill_case(&b[i], "system", ext, DAY0 + 60 * (k * KILL_PER_BATCH + i));
		}
		if (store_case_insert_batch(st, &intake, b, NULL, KILL_PER_BATCH, res))
			_exit(4);
		if (k == 0) {
			drain(st);
			if (list_total(st, "system") != KILL_PER_BATCH)
				_exit(5);
			if (sqlite3_open(t->path, &blocker) != SQLITE_OK ||
			    sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
				_exit(6);
		}
	}
	raise(SIGKILL);
	_exit(7);
}

/* CRC-32 (IEEE 802.3, reflected, as zlib and the journal compute it) a byte at a time: the
 * journal's records must keep checking out under the definition, whatever computes it. */
static uint32_t crc32_ieee(uint32_t crc, const unsigned char *p, size_t n)
{
	uint32_t c = ~crc;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
	}
	return ~c;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	if (!in || !out) {
		perror("copy");
		exit(2);
	}
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			exit(2);
	fclose(in);
	fclose(out);
}

static void test_kill_replay_torn_and_exactly_once(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t); /* create and migrate before the child runs */
	store_close(st);
	pid_t pid = fork();
	if (pid == 0)
		child_journal_and_die(&t);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	int64_t size = file_size(t.journal);
	CHECK(size > 16);

	/* A torn record right after the last whole one: its frame promises more bytes than made
	 * it to the disk (killed mid-write). The end is the first zero frame. */
	FILE *f = fopen(t.journal, "r+b");
	CHECK(f != NULL);
	if (f) {
		long off = 16;
		unsigned char header[16], fr[8];
		static unsigned char payload[64 * 1024];
		int records = 0, crc_ok = 0;
		CHECK_INT_EQ(fread(header, 1, sizeof header, f), sizeof header);
		while (fseek(f, off, SEEK_SET) == 0 && fread(fr, 1, 8, f) == 8) {
			long len = fr[0] | fr[1] << 8 | fr[2] << 16 | (long)fr[3] << 24;
			if (len == 0 || len > (long)sizeof payload || fread(payload, 1, (size_t)len, f) != (size_t)len)
				break;
			/* The on-disk format: CRC-32 (IEEE) of the journal id, then the payload. */
			uint32_t crc = crc32_ieee(crc32_ieee(0, header + 8, 8), payload, (size_t)len);
			crc_ok += crc == (uint32_t)(fr[4] | fr[5] << 8 | fr[6] << 16 | (uint32_t)fr[7] << 24);
			off += 8 + len;
			records++;
		}
		CHECK_INT_EQ(records, KILL_BATCHES * KILL_PER_BATCH);
		CHECK_INT_EQ(crc_ok, records);
		const unsigned char torn[12] = {0xf4, 0x01, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, 6, 0, 's'};
		CHECK_INT_EQ(fseek(f, off, SEEK_SET), 0);
		CHECK_INT_EQ(fwrite(torn, 1, sizeof torn, f), sizeof torn);
		fclose(f);
	}
	char copy[200];
	snprintf(copy, sizeof copy, "%s.copy", t.journal);
	copy_file(t.journal, copy);

	st = open_ok(&t); /* replays the two pending batches */
	CHECK_INT_EQ(list_total(st, "system"), KILL_BATCHES * KILL_PER_BATCH);
	struct store_case *got = xmalloc(sizeof *got);
	CHECK_INT_EQ(store_case_find_external(st, "system", "k2-99", got), CD_OK);
	CHECK_STR_EQ(got->ref, "LH20261127000300");
	CHECK_INT_EQ(got->id, 300);
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
	int64_t audits = 0;
	CHECK_INT_EQ(store_audit_count(st, &audits), CD_OK);
	/* Exactly once: the same journal again, with its applied position forgotten, adds
	 * nothing (every id is already stored). */
	CHECK_INT_EQ(store_meta_set(st, &intake, "intake_journal", "0:0"), CD_OK);
	store_close(st);
	copy_file(copy, t.journal);
	st = open_ok(&t);
	CHECK_INT_EQ(list_total(st, "system"), KILL_BATCHES * KILL_PER_BATCH);

	/* The daily counter continues after the recovered cases. */
	CHECK_INT_EQ(store_case_journal_start(st), CD_OK);
	struct store_case *c = xmalloc(sizeof *c);
	enum cd_err res = CD_ERR_STORE;
	fill_case(c, "system", "after", DAY0 + 86399);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 1, &res), CD_OK);
	CHECK_INT_EQ(res, CD_OK);
	CHECK_STR_EQ(c->ref, "LH20261127000301");
	CHECK_INT_EQ(c->id, 301);
	/* The journal is the server's: another process gets BUSY, and a second open in this one
	 * does not replay it under the owner. */
	struct store *other = open_ok(&t);
	CHECK_INT_EQ(store_case_journal_start(other), CD_ERR_BUSY);
	store_close(other);
	store_close(st);
	xfree(c);
	xfree(got);
	unlink(copy);
	tmpdb_remove(&t);
}

/* External ids and duplicate masters are checked without the database where memory can
 * answer (the journal's set of stored external ids, its memo of applied ids): the answers must
 * stay those of the database, for cases stored by an earlier run (read at start), applied in
 * this one, and never stored. */
static void test_checks_from_memory_match_the_database(void)
{
	struct tmpdb t;
	struct store *st = open_journalled(&t);
	struct store_case *b = xcalloc(3, sizeof *b);
	enum cd_err res[3];
	fill_case(&b[0], "hotline", "old-1", DAY0 + 60);
	fill_case(&b[1], "app", "old-1", DAY0 + 61);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 2, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_OK);
	CHECK_INT_EQ(res[1], CD_OK);
	drain(st);
	store_close(st);

	/* A new run: the set is read from the database. */
	st = open_ok(&t);
	CHECK_INT_EQ(store_case_journal_start(st), CD_OK);
	fill_case(&b[0], "hotline", "old-1", DAY0 + 120); /* stored by the earlier run */
	fill_case(&b[1], "grid", "old-1", DAY0 + 121);    /* same id, another channel: new */
	fill_case(&b[2], "hotline", "new-1", DAY0 + 122);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 3, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_EXISTS);
	CHECK_INT_EQ(b[0].id, 1);
	CHECK_INT_EQ(res[1], CD_OK);
	CHECK_INT_EQ(res[2], CD_OK);
	int64_t applied_id = b[2].id;
	drain(st);
	/* Applied in this run, then named again; a duplicate of it, of a case of the earlier run,
	 * and of an id never stored. */
	fill_case(&b[0], "hotline", "new-1", DAY0 + 180);
	fill_case(&b[1], "hotline", "dup-1", DAY0 + 181);
	b[1].duplicate_of = applied_id;
	fill_case(&b[2], "hotline", "dup-2", DAY0 + 182);
	b[2].duplicate_of = 2;
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 3, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_EXISTS);
	CHECK_INT_EQ(b[0].id, applied_id);
	CHECK_INT_EQ(res[1], CD_OK);
	CHECK_INT_EQ(res[2], CD_OK);
	fill_case(&b[0], "hotline", "dup-3", DAY0 + 183);
	b[0].duplicate_of = 1000;
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, 1, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_INVALID);
	drain(st);
	CHECK_INT_EQ(list_total(st, "hotline"), 4); /* old-1, new-1, dup-1, dup-2 */
	xfree(b);
	store_close(st);
	tmpdb_remove(&t);
}

/* Small appends 1 ms apart: the applier gathers (waits up to J_APPLY_GATHER_MS, 5 ms, for
 * more) and some transaction finds more cases than it woke for; every case is applied. Taken
 * as they come, no transaction would ever have waited (apply_gathered stays 0). */
static void test_applier_gathers_small_batches(void)
{
	struct tmpdb t;
	struct store *st = open_journalled(&t);
	enum { APPENDS = 30, EACH = 10 };
	struct store_case *b = xcalloc(EACH, sizeof *b);
	enum cd_err res[EACH];
	for (int k = 0; k < APPENDS; k++) {
		for (int i = 0; i < EACH; i++) {
			char ext[32];
			snprintf(ext, sizeof ext, "g%d-%d", k, i);
			fill_case(&b[i], "app", ext, DAY0 + 60 * (k * EACH + i));
		}
		CHECK_INT_EQ(store_case_insert_batch(st, &intake, b, NULL, EACH, res), CD_OK);
		usleep(1000);
	}
	drain(st);
	struct store_journal_stats js;
	store_case_journal_stats(st, &js);
	CHECK_INT_EQ(js.batches, APPENDS);
	CHECK_INT_EQ(js.applied, APPENDS * EACH);
	CHECK(js.apply_transactions >= 1 && js.apply_transactions <= APPENDS);
	CHECK(js.apply_gathered >= 1);
	printf("  %d appends of %d applied in %lld transactions, %lld of them gathered\n", APPENDS, EACH,
	       (long long)js.apply_transactions, (long long)js.apply_gathered);
	CHECK_INT_EQ(list_total(st, "app"), APPENDS * EACH);
	store_close(st);
	xfree(b);
	tmpdb_remove(&t);
}

static const struct test_case tests[] = {
    {"journal-mode batches keep the contract; pending cases readable", test_batch_contract},
    {"the applier gathers small appends into few transactions", test_applier_gathers_small_batches},
    {"external ids and masters checked from memory as the database would", test_checks_from_memory_match_the_database},
    {"kill -9 with pending cases: replay, torn tail, exactly once, counter",
     test_kill_replay_torn_and_exactly_once},
};

TEST_MAIN(tests)
