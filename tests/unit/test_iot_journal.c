/* Unit tests for the IoT hub's journal (src/app/iot_journal.c), on real files: records come back
 * byte for byte after a close and after kill -9 (a child appending from several threads, killed
 * at a random moment, every acknowledged record checked), torn and corrupt tails are cut off, the
 * handled mark limits the replay, compaction deletes handled segments while appends go on, and
 * sequence numbers never restart. Prints an append throughput figure (not asserted). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/alerts.h"
#include "app/iot_journal.h"
#include "test.h"
#include "util/alloc.h"

#define SEG_HEADER 40 /* the format's sizes (docs/internals/iot-journal.md) */
#define SEG_FRAME 20

struct tmpdir {
	char dir[64];
	char path[128]; /* DIR/iot.journal */
};

static void tmp_make(struct tmpdir *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/citydesk-ij-XXXXXX");
	if (!mkdtemp(t->dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(t->path, sizeof t->path, "%s/iot.journal", t->dir);
}

static void tmp_remove(struct tmpdir *t)
{
	DIR *d = opendir(t->dir);
	if (d) {
		struct dirent *de;
		char p[512];
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", t->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
}

/* Segment files (not the lock file, not set-aside ones) in the directory; *newest gets the path of
 * the highest-numbered one. */
static int count_segments(const struct tmpdir *t, char *newest, size_t cap)
{
	DIR *d = opendir(t->dir);
	int n = 0;
	char best[256] = "";
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (strncmp(de->d_name, "iot.journal.", 12) != 0 || l != 20)
			continue;
		n++;
		if (strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", de->d_name);
	}
	closedir(d);
	if (newest)
		snprintf(newest, cap, "%s/%s", t->dir, best);
	return n;
}

/* A deterministic payload for (thread, i): 8 bytes naming it, then filler; 0..600 bytes long. */
static size_t make_payload(uint32_t th, uint32_t i, unsigned char *out)
{
	uint32_t h = (th * 2654435761u) ^ (i * 40503u);
	size_t len = 8 + (h % 593);
	memcpy(out, &th, 4);
	memcpy(out + 4, &i, 4);
	for (size_t k = 8; k < len; k++) {
		h = h * 1103515245u + 12345u;
		out[k] = (unsigned char)(h >> 16);
	}
	return len;
}

/* ---- replay collection ---- */

struct got {
	uint64_t seq;
	unsigned kind, src;
	size_t len;
	unsigned char *p;
};

struct gotlist {
	struct got *v;
	size_t n, cap;
	uint64_t stop_after; /* return CD_ERR_BUSY after this many (0 = never) */
};

static enum cd_err collect(void *ctx, uint64_t seq, unsigned kind, unsigned src, const void *payload, size_t len)
{
	struct gotlist *g = ctx;
	if (g->stop_after && g->n == g->stop_after)
		return CD_ERR_BUSY;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 256;
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	struct got *r = &g->v[g->n++];
	r->seq = seq;
	r->kind = kind;
	r->src = src;
	r->len = len;
	r->p = xmalloc(len ? len : 1);
	if (len)
		memcpy(r->p, payload, len);
	return CD_OK;
}

static void gotlist_free(struct gotlist *g)
{
	for (size_t i = 0; i < g->n; i++)
		xfree(g->v[i].p);
	xfree(g->v);
	memset(g, 0, sizeof *g);
}

/* Checks a replayed record carries the bytes make_payload gives for the (thread, i) it names. */
static int self_consistent(const struct got *r, uint32_t *th, uint32_t *i)
{
	unsigned char want[1024];
	if (r->len < 8)
		return 0;
	memcpy(th, r->p, 4);
	memcpy(i, r->p + 4, 4);
	size_t len = make_payload(*th, *i, want);
	return len == r->len && memcmp(want, r->p, len) == 0 && r->kind == 1 + (*th % 3) && r->src == *th % 4;
}

/* ---- tests ---- */

static void test_pack_roundtrip(void)
{
	unsigned char buf[IOT_JOURNAL_PACK_MAX];
	size_t len = 0;
	struct iot_telemetry t, t2;
	memset(&t, 0, sizeof t);
	snprintf(t.device, sizeof t.device, "hydrant-0042");
	t.ts_ms = 1795708800123;
	t.n = IOT_MAX_VALUES;
	for (size_t i = 0; i < t.n; i++) {
		snprintf(t.v[i].metric, sizeof t.v[i].metric, "pressure_mpa.s%u", (unsigned)(i % 100));
		t.v[i].value = 0.25 * (double)i - 3.5;
	}
	CHECK_INT_EQ(iot_journal_pack_telemetry(&t, buf, &len), CD_OK);
	CHECK(len < 1500);
	CHECK_INT_EQ(iot_journal_unpack_telemetry(buf, len, &t2), CD_OK);
	CHECK(memcmp(&t, &t2, sizeof t) == 0);
	/* every shorter prefix and one extra byte are refused */
	size_t bad = 0;
	for (size_t k = 0; k < len; k++)
		bad += iot_journal_unpack_telemetry(buf, k, &t2) == CD_ERR_CORRUPT;
	CHECK_INT_EQ(bad, len);
	buf[len] = 0;
	CHECK_INT_EQ(iot_journal_unpack_telemetry(buf, len + 1, &t2), CD_ERR_CORRUPT);
	buf[0] = 9; /* another version */
	CHECK_INT_EQ(iot_journal_unpack_telemetry(buf, len, &t2), CD_ERR_CORRUPT);
	t.n = IOT_MAX_VALUES + 1;
	CHECK_INT_EQ(iot_journal_pack_telemetry(&t, buf, &len), CD_ERR_INVALID);

	struct iot_event e, e2;
	memset(&e, 0, sizeof e);
	snprintf(e.device, sizeof e.device, "uitd-7903");
	e.ts_ms = 1795708800999;
	snprintf(e.type, sizeof e.type, "fire_alarm");
	snprintf(e.level, sizeof e.level, "red");
	memset(e.detail, 'x', sizeof e.detail - 1); /* the longest detail */
	CHECK_INT_EQ(iot_journal_pack_event(&e, buf, &len), CD_OK);
	CHECK_INT_EQ(iot_journal_unpack_event(buf, len, &e2), CD_OK);
	CHECK(memcmp(&e, &e2, sizeof e) == 0);
	memset(e.type, 'y', sizeof e.type); /* not terminated */
	CHECK_INT_EQ(iot_journal_pack_event(&e, buf, &len), CD_ERR_INVALID);

	struct iot_status s = {.ts_ms = 5, .online = true}, s2;
	snprintf(s.device, sizeof s.device, "meter-1");
	CHECK_INT_EQ(iot_journal_pack_status(&s, buf, &len), CD_OK);
	CHECK_INT_EQ(iot_journal_unpack_status(buf, len, &s2), CD_OK);
	CHECK(memcmp(&s, &s2, sizeof s) == 0);
	buf[len - 1] = 2; /* online must be 0 or 1 */
	CHECK_INT_EQ(iot_journal_unpack_status(buf, len, &s2), CD_ERR_CORRUPT);
	struct alerts_ingest in, in2;
	memset(&in, 0, sizeof in);
	snprintf(in.system, sizeof in.system, "city-fire-119");
	snprintf(in.id, sizeof in.id, "A-2026-000017");
	snprintf(in.type, sizeof in.type, "gas_leak");
	snprintf(in.level, sizeof in.level, "orange");
	in.cleared = true;
	in.ts_ms = 1795708800555;
	snprintf(in.title, sizeof in.title, "燃气泄漏 东门中路");
	memset(in.detail, 'd', sizeof in.detail - 1);
	memset(in.address, 'a', sizeof in.address - 1);
	memset(in.category, 'c', sizeof in.category - 1);
	in.has_point = true;
	in.lat = 22.5461;
	in.lng = 114.1199;
	CHECK_INT_EQ(iot_journal_pack_ingest(&in, buf, &len), CD_OK);
	CHECK_INT_EQ(iot_journal_unpack_ingest(buf, len, &in2), CD_OK);
	CHECK(memcmp(&in, &in2, sizeof in) == 0);
	CHECK_INT_EQ(iot_journal_unpack_ingest(buf, len - 1, &in2), CD_ERR_CORRUPT);
	/* a string length that runs past the end */
	unsigned char evil[] = {1, 0xff, 0xff, 'a'};
	CHECK_INT_EQ(iot_journal_unpack_status(evil, sizeof evil, &s2), CD_ERR_CORRUPT);
}

static void test_append_close_replay(void)
{
	struct tmpdir t;
	tmp_make(&t);
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (!j)
		return;
	unsigned char p[1024];
	for (uint32_t i = 0; i < 500; i++) {
		uint32_t th = i % 7;
		size_t len = make_payload(th, i, p);
		uint64_t seq = 0;
		CHECK_INT_EQ(iot_journal_append(j, 1 + th % 3, th % 4, p, len, &seq), CD_OK);
		CHECK_INT_EQ(seq, i + 1);
	}
	/* an empty payload is a record too */
	uint64_t seq = 0;
	CHECK_INT_EQ(iot_journal_append(j, 7, 200, NULL, 0, &seq), CD_OK);
	CHECK_INT_EQ(seq, 501);
	CHECK_INT_EQ(iot_journal_append(j, 0, 0, p, 1, &seq), CD_ERR_INVALID);
	CHECK_INT_EQ(iot_journal_append(j, 255, 0, p, 1, &seq), CD_ERR_INVALID);
	CHECK_INT_EQ(iot_journal_append(j, 1, 0, p, IOT_JOURNAL_RECORD_MAX + 1, &seq), CD_ERR_TOOBIG);
	struct iot_journal_stats st;
	iot_journal_get_stats(j, &st);
	CHECK_INT_EQ(st.appended, 501);
	CHECK_INT_EQ(st.durable_seq, 501);
	CHECK(st.batches >= 1 && st.batches <= 501);
	/* a second opener is refused while this one holds the journal */
	struct iot_journal *j2 = NULL;
	CHECK_INT_EQ(iot_journal_open(t.path, &j2), CD_ERR_BUSY);
	CHECK(j2 == NULL);
	iot_journal_close(j);

	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (!j)
		return;
	iot_journal_get_stats(j, &st);
	CHECK_INT_EQ(st.replayable, 501);
	CHECK_INT_EQ(st.torn, 0);
	struct gotlist g = {0};
	CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
	CHECK_INT_EQ(g.n, 501);
	size_t good = 0;
	for (size_t k = 0; k < g.n && k < 500; k++) {
		uint32_t th, i;
		good += g.v[k].seq == k + 1 && self_consistent(&g.v[k], &th, &i) && i == k && th == k % 7;
	}
	CHECK_INT_EQ(good, 500);
	if (g.n == 501)
		CHECK(g.v[500].seq == 501 && g.v[500].len == 0 && g.v[500].kind == 7 && g.v[500].src == 200);
	/* only once */
	CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_ERR_CONFLICT);
	CHECK_INT_EQ(iot_journal_append(j, 1, 0, p, 3, &seq), CD_OK);
	CHECK_INT_EQ(seq, 502);
	gotlist_free(&g);
	iot_journal_close(j);
	tmp_remove(&t);
}

static void test_handled_mark_and_seq_continue(void)
{
	struct tmpdir t;
	tmp_make(&t);
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (!j)
		return;
	unsigned char p[1024];
	for (uint32_t i = 0; i < 100; i++) {
		size_t len = make_payload(3, i, p);
		CHECK_INT_EQ(iot_journal_append(j, 1, 3, p, len, NULL), CD_OK);
	}
	iot_journal_mark_handled(j, 60);
	iot_journal_mark_handled(j, 40); /* lower: ignored */
	iot_journal_close(j);

	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (!j)
		return;
	struct gotlist g = {0};
	CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
	CHECK_INT_EQ(g.n, 40);
	if (g.n == 40)
		CHECK(g.v[0].seq == 61 && g.v[39].seq == 100);
	gotlist_free(&g);
	/* everything handled: the next open deletes the old segments, and seqs go on from 101 */
	iot_journal_mark_handled(j, 1000); /* clamped to the last seq */
	iot_journal_close(j);
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (!j)
		return;
	struct iot_journal_stats st;
	iot_journal_get_stats(j, &st);
	CHECK_INT_EQ(st.replayable, 0);
	CHECK_INT_EQ(st.handled_seq, 100);
	CHECK_INT_EQ(st.segments, 1);
	CHECK_INT_EQ(count_segments(&t, NULL, 0), 1);
	uint64_t seq = 0;
	CHECK_INT_EQ(iot_journal_append(j, 1, 0, p, 10, &seq), CD_OK);
	CHECK_INT_EQ(seq, 101);
	CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
	CHECK_INT_EQ(g.n, 0); /* this run's records are not replayed */
	gotlist_free(&g);
	iot_journal_close(j);
	tmp_remove(&t);
}

/* Writes n records of thread 1, closes; returns the newest segment's path and the offset of the
 * last record's frame. */
static void write_n(struct tmpdir *t, uint32_t n, char *seg, size_t cap, uint64_t *last_off)
{
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t->path, &j), CD_OK);
	if (!j)
		return;
	unsigned char p[1024];
	uint64_t off = SEG_HEADER;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = make_payload(1, i, p);
		*last_off = off;
		off += SEG_FRAME + len;
		CHECK_INT_EQ(iot_journal_append(j, 2, 1, p, len, NULL), CD_OK);
	}
	iot_journal_close(j);
	count_segments(t, seg, cap);
}

static void patch(const char *path, uint64_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT_EQ(pwrite(fd, bytes, n, (off_t)off), (long long)n);
	close(fd);
}

static uint64_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Reopens, replays, and checks the records are exactly (thread 1, 0..want-1), seqs 1..want. */
static void expect_replay(struct tmpdir *t, uint32_t want, uint64_t want_torn)
{
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t->path, &j), CD_OK);
	if (!j)
		return;
	struct iot_journal_stats st;
	iot_journal_get_stats(j, &st);
	CHECK_INT_EQ(st.torn, want_torn);
	struct gotlist g = {0};
	CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
	CHECK_INT_EQ(g.n, want);
	size_t good = 0;
	for (size_t k = 0; k < g.n; k++) {
		uint32_t th, i;
		good += g.v[k].seq == k + 1 && self_consistent(&g.v[k], &th, &i) && th == 1 && i == k;
	}
	CHECK_INT_EQ(good, want);
	gotlist_free(&g);
	iot_journal_close(j);
}

static void test_torn_tail(void)
{
	static const struct {
		const char *what;
		int where; /* 0: garbage after the last record, 1: a flipped payload byte in the last
			      record, 2: a huge length in its frame, 3: 5 stray bytes after it, 4: its
			      seq out of order */
	} cases[] = {{"garbage frame", 0}, {"flipped byte", 1}, {"huge length", 2}, {"partial frame", 3},
		     {"seq out of order", 4}};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct tmpdir t;
		tmp_make(&t);
		char seg[256];
		uint64_t last_off = 0;
		write_n(&t, 20, seg, sizeof seg, &last_off);
		unsigned char p[1024];
		size_t last_len = make_payload(1, 19, p);
		uint64_t end = last_off + SEG_FRAME + last_len;
		uint32_t keep = 20;
		switch (cases[c].where) {
		case 0: {
			unsigned char g[SEG_FRAME + 8];
			memset(g, 0xA5, sizeof g);
			patch(seg, end, g, sizeof g);
			break;
		}
		case 1: {
			unsigned char b = (unsigned char)(p[10] ^ 0x40);
			patch(seg, last_off + SEG_FRAME + 10, &b, 1);
			keep = 19;
			break;
		}
		case 2: {
			unsigned char l[4] = {0xff, 0xff, 0xff, 0x7f};
			patch(seg, last_off, l, 4);
			keep = 19;
			break;
		}
		case 3: {
			unsigned char g[5] = {1, 2, 3, 4, 5};
			patch(seg, end, g, 5);
			/* and cut the zeroes after it, as if the file ended there */
			CHECK(truncate(seg, (off_t)(end + 5)) == 0);
			break;
		}
		case 4: {
			unsigned char s8[8] = {19, 0, 0, 0, 0, 0, 0, 0}; /* seq 20 claims to be 19: CRC fails */
			patch(seg, last_off + 8, s8, 8);
			keep = 19;
			break;
		}
		}
		uint64_t valid_end = keep == 20 ? end : last_off;
		expect_replay(&t, keep, 1);
		/* the tail was cut at the last whole record */
		CHECK_INT_EQ(file_size(seg), valid_end);
		/* and stays cut: a second open finds nothing torn, the same records */
		expect_replay(&t, keep, 0);
		if (test_failures_in_case)
			fprintf(stderr, "  (case %s)\n", cases[c].what);
		tmp_remove(&t);
	}
}

static void test_bad_segments(void)
{
	struct tmpdir t;
	tmp_make(&t);
	char seg[256];
	uint64_t last_off = 0;
	write_n(&t, 10, seg, sizeof seg, &last_off);
	/* a newest segment whose creation was cut short (no valid header): deleted, nothing lost */
	char bad[256];
	snprintf(bad, sizeof bad, "%s.00000099", t.path);
	int fd = open(bad, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, "CDIJ\1\0", 6) == 6);
		close(fd);
	}
	expect_replay(&t, 10, 0);
	CHECK(access(bad, F_OK) != 0);
	/* an older segment with a broken header is set aside (kept as .corrupt), not deleted */
	unsigned char z = 'X';
	patch(seg, 0, &z, 1);
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	iot_journal_close(j);
	char aside[300];
	snprintf(aside, sizeof aside, "%s.corrupt", seg);
	CHECK(access(aside, F_OK) == 0);
	CHECK(access(seg, F_OK) != 0);
	tmp_remove(&t);
}

/* ---- many producers ---- */

struct prod {
	struct iot_journal *j;
	uint32_t th, n;
	bool nowait;    /* append_nowait + wait every 16 */
	uint64_t *seqs; /* seq of each of its records */
	int errors;
};

static void *producer(void *arg)
{
	struct prod *pr = arg;
	unsigned char p[1024];
	uint64_t pending = 0;
	for (uint32_t i = 0; i < pr->n; i++) {
		size_t len = make_payload(pr->th, i, p);
		enum cd_err rc = pr->nowait ? iot_journal_append_nowait(pr->j, 1 + pr->th % 3, pr->th % 4, p, len,
									&pr->seqs[i])
					    : iot_journal_append(pr->j, 1 + pr->th % 3, pr->th % 4, p, len, &pr->seqs[i]);
		if (rc)
			pr->errors++;
		pending = pr->seqs[i];
		if (pr->nowait && (i % 16 == 15 || i + 1 == pr->n) && iot_journal_wait(pr->j, pending) != CD_OK)
			pr->errors++;
	}
	return NULL;
}

struct marker {
	struct iot_journal *j;
	volatile int stop;
	uint64_t marked;
};

/* Marks the durable seq as handled every millisecond, as the hub's checkpoint would. */
static void *marker_main(void *arg)
{
	struct marker *m = arg;
	while (!m->stop) {
		struct iot_journal_stats st;
		iot_journal_get_stats(m->j, &st);
		iot_journal_mark_handled(m->j, st.durable_seq);
		m->marked = st.durable_seq;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run_producers(struct iot_journal *j, struct prod *pr, int np, uint32_t n, double *secs)
{
	pthread_t tid[16];
	double t0 = mono_s();
	for (int k = 0; k < np; k++) {
		/* two spare slots: test_compaction_under_appends adds records of thread 0 */
		pr[k] = (struct prod){j, (uint32_t)k, n, k % 2 == 1, xcalloc(n + 2, sizeof(uint64_t)), 0};
		pthread_create(&tid[k], NULL, producer, &pr[k]);
	}
	for (int k = 0; k < np; k++)
		pthread_join(tid[k], NULL);
	*secs = mono_s() - t0;
}

/* Checks the replayed records are exactly the producers' records with seq > from, each at the
 * seq its append returned. */
static void check_replay_matches(struct gotlist *g, struct prod *pr, int np, uint32_t n, uint64_t from)
{
	uint64_t want = 0;
	for (int k = 0; k < np; k++)
		for (uint32_t i = 0; i < n; i++)
			want += pr[k].seqs[i] > from;
	CHECK_INT_EQ(g->n, want);
	size_t good = 0;
	for (size_t x = 0; x < g->n; x++) {
		uint32_t th, i;
		good += g->v[x].seq == from + 1 + x && self_consistent(&g->v[x], &th, &i) && th < (uint32_t)np &&
			i < n && pr[th].seqs[i] == g->v[x].seq;
	}
	CHECK_INT_EQ(good, want);
}

static void test_many_producers(void)
{
	struct tmpdir t;
	tmp_make(&t);
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (!j)
		return;
	enum { NP = 8, N = 3000 };
	struct prod pr[NP];
	double secs = 0;
	run_producers(j, pr, NP, N, &secs);
	struct iot_journal_stats st;
	iot_journal_get_stats(j, &st);
	int errors = 0;
	for (int k = 0; k < NP; k++)
		errors += pr[k].errors;
	CHECK_INT_EQ(errors, 0);
	CHECK_INT_EQ(st.durable_seq, NP * N);
	printf("  iot journal: %d producers, %d records in %.3f s = %.0f records/s, %" PRIu64
	       " fdatasyncs (%.1f records each)\n",
	       NP, NP * N, secs, NP * N / secs, st.batches, (double)(NP * N) / (double)(st.batches ? st.batches : 1));
	iot_journal_close(j);
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (j) {
		struct gotlist g = {0};
		CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
		check_replay_matches(&g, pr, NP, N, 0);
		gotlist_free(&g);
		iot_journal_close(j);
	}
	for (int k = 0; k < NP; k++)
		xfree(pr[k].seqs);
	tmp_remove(&t);
}

static void test_compaction_under_appends(void)
{
	struct tmpdir t;
	tmp_make(&t);
	struct iot_journal *j = NULL;
	struct iot_journal_options o = {.segment_bytes = 64 << 10, .pending_bytes = 32 << 10};
	CHECK_INT_EQ(iot_journal_open_with(t.path, &o, &j), CD_OK);
	if (!j)
		return;
	enum { NP = 6, N = 2000 };
	struct prod pr[NP];
	struct marker m = {j, 0, 0};
	pthread_t mt;
	pthread_create(&mt, NULL, marker_main, &m);
	double secs = 0;
	run_producers(j, pr, NP, N, &secs);
	m.stop = 1;
	pthread_join(mt, NULL);
	/* Two more records, each waited for: the flusher has then finished what followed the last
	 * mark (deletions, rotation), and the counters match the directory. */
	unsigned char p[1024];
	for (uint32_t i = N; i < N + 2; i++) {
		size_t len = make_payload(0, i, p);
		CHECK_INT_EQ(iot_journal_append(j, 1, 0, p, len, &pr[0].seqs[i]), CD_OK);
	}
	struct iot_journal_stats st;
	iot_journal_get_stats(j, &st);
	/* ~3.9 MB through 64 KB segments: many rotations, the handled ones deleted on the way */
	CHECK(st.rotations >= 20);
	CHECK(st.deleted >= 10);
	CHECK(st.segments < st.rotations);
	int on_disk = count_segments(&t, NULL, 0);
	CHECK_INT_EQ(on_disk, (long long)st.segments);
	uint64_t h = st.handled_seq;
	CHECK(h > 0 && h <= (uint64_t)NP * N);
	iot_journal_close(j);
	CHECK_INT_EQ(iot_journal_open_with(t.path, &o, &j), CD_OK);
	if (j) {
		iot_journal_get_stats(j, &st);
		CHECK(st.handled_seq >= h);
		struct gotlist g = {0};
		CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
		check_replay_matches(&g, pr, NP, N + 2, st.handled_seq);
		CHECK(g.n >= 2);
		gotlist_free(&g);
		iot_journal_close(j);
	}
	for (int k = 0; k < NP; k++)
		xfree(pr[k].seqs);
	tmp_remove(&t);
}

/* A replay that the callback stops returns its error; the records are all there at the next
 * open (nothing was marked handled). */
static void test_replay_stops(void)
{
	struct tmpdir t;
	tmp_make(&t);
	struct iot_journal_options o = {.segment_bytes = 8 << 10};
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open_with(t.path, &o, &j), CD_OK);
	if (!j)
		return;
	unsigned char p[1024];
	for (uint32_t i = 0; i < 200; i++) {
		size_t len = make_payload(1, i, p);
		CHECK_INT_EQ(iot_journal_append(j, 2, 1, p, len, NULL), CD_OK);
	}
	iot_journal_close(j);
	CHECK_INT_EQ(iot_journal_open_with(t.path, &o, &j), CD_OK);
	if (!j)
		return;
	struct gotlist g = {.stop_after = 50};
	CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_ERR_BUSY);
	CHECK_INT_EQ(g.n, 50);
	gotlist_free(&g);
	iot_journal_close(j);
	expect_replay(&t, 200, 0);
	tmp_remove(&t);
}

/* ---- kill -9 ---- */

struct ack {
	uint64_t seq;
	uint32_t th, i;
};

struct child_ctx {
	struct iot_journal *j;
	uint32_t th;
	int fd; /* the pipe to the parent */
};

static void *child_producer(void *arg)
{
	struct child_ctx *c = arg;
	unsigned char p[1024];
	for (uint32_t i = 0;; i++) {
		size_t len = make_payload(c->th, i, p);
		uint64_t seq = 0;
		enum cd_err rc;
		if (c->th % 2) {
			rc = iot_journal_append_nowait(c->j, 1 + c->th % 3, c->th % 4, p, len, &seq);
			if (!rc)
				rc = iot_journal_wait(c->j, seq);
		} else {
			rc = iot_journal_append(c->j, 1 + c->th % 3, c->th % 4, p, len, &seq);
		}
		if (rc)
			_exit(3);
		struct ack a = {seq, c->th, i};
		if (write(c->fd, &a, sizeof a) != (ssize_t)sizeof a) /* atomic: < PIPE_BUF */
			_exit(4);
	}
	return NULL;
}

/* The child: appends from 6 threads forever, acknowledging each durable record to the parent;
 * a seventh marks handled now and then, lagging, so segments rotate and get deleted. */
static void child_main(const char *path, int fd)
{
	struct iot_journal_options o = {.segment_bytes = 256 << 10};
	struct iot_journal *j = NULL;
	if (iot_journal_open_with(path, &o, &j) != CD_OK)
		_exit(2);
	struct child_ctx c[6];
	pthread_t tid[6];
	for (uint32_t k = 0; k < 6; k++) {
		c[k] = (struct child_ctx){j, k, fd};
		pthread_create(&tid[k], NULL, child_producer, &c[k]);
	}
	for (;;) {
		struct iot_journal_stats st;
		iot_journal_get_stats(j, &st);
		if (st.durable_seq > 2000)
			iot_journal_mark_handled(j, st.durable_seq - 2000);
		struct timespec ts = {0, 3000000};
		nanosleep(&ts, NULL);
	}
}

static void test_kill9(void)
{
	struct tmpdir t;
	tmp_make(&t);
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	srand(seed);
	size_t total_acked = 0, total_replayed = 0;
	for (int round = 0; round < 6; round++) {
		int fds[2];
		CHECK(pipe(fds) == 0);
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			child_main(t.path, fds[1]);
			_exit(1);
		}
		close(fds[1]);
		int delay_ms = 30 + rand() % 400;
		struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		/* what the child acknowledged before it died, all of it (the pipe keeps it) */
		size_t n = 0, cap = 4096;
		struct ack *acks = xmalloc(cap * sizeof *acks);
		unsigned char part[sizeof(struct ack)];
		size_t have = 0;
		for (;;) {
			ssize_t r = read(fds[0], part + have, sizeof part - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			have += (size_t)r;
			if (have == sizeof part) {
				if (n == cap) {
					cap *= 2;
					acks = xrealloc(acks, cap * sizeof *acks);
				}
				memcpy(&acks[n++], part, sizeof part);
				have = 0;
			}
		}
		close(fds[0]);
		int status = 0;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

		struct iot_journal *j = NULL;
		CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
		if (!j) {
			xfree(acks);
			break;
		}
		struct iot_journal_stats st;
		iot_journal_get_stats(j, &st);
		struct gotlist g = {0};
		CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
		/* the replay is contiguous from the mark, and every record is one the child wrote */
		size_t good = 0;
		for (size_t x = 0; x < g.n; x++) {
			uint32_t th, i;
			good += g.v[x].seq == st.handled_seq + 1 + x && self_consistent(&g.v[x], &th, &i);
		}
		CHECK_INT_EQ(good, g.n);
		/* every acknowledged record after the mark is there, at its seq, with its bytes */
		size_t missing = 0, checked = 0;
		for (size_t a = 0; a < n; a++) {
			if (acks[a].seq <= st.handled_seq)
				continue;
			checked++;
			uint64_t x = acks[a].seq - st.handled_seq - 1;
			uint32_t th, i;
			if (x >= g.n || !self_consistent(&g.v[x], &th, &i) || th != acks[a].th || i != acks[a].i)
				missing++;
		}
		CHECK_INT_EQ(missing, 0);
		CHECK(checked > 0 || n == 0);
		if (test_failures_in_case)
			fprintf(stderr, "  kill -9 round %d (seed %u, after %d ms): %zu acked, %zu replayed\n", round,
				seed, delay_ms, n, g.n);
		total_acked += n;
		total_replayed += g.n;
		/* the replayed records are handled now: the next round starts from a clean mark */
		iot_journal_mark_handled(j, st.last_seq);
		gotlist_free(&g);
		iot_journal_close(j);
		xfree(acks);
	}
	printf("  iot journal kill -9: 6 rounds, %zu records acknowledged, %zu replayed after the kills (seed %u)\n",
	       total_acked, total_replayed, seed);
	CHECK(total_acked > 0);
	tmp_remove(&t);
}

/* A full disk (here: the file size limit, per file) fails a commit: its waiters get CD_ERR_IO
 * and so do appends until the journal, after a backoff, starts a new segment (a new file: room
 * again until it too reaches the limit); nothing is acknowledged that is not on disk, and the
 * next open replays exactly the acknowledged records, in order, the refused seqs skipped. Runs
 * in a child: the limit is per process. */
static void test_write_failure(void)
{
	struct tmpdir t;
	tmp_make(&t);
	int fds[2];
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		signal(SIGXFSZ, SIG_IGN); /* past the limit, write() fails with EFBIG instead */
		struct rlimit rl = {300 << 10, 300 << 10};
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(2);
		struct iot_journal *j = NULL;
		struct iot_journal_options o = {.retry_ms = 20};
		if (iot_journal_open_with(t.path, &o, &j) != CD_OK)
			_exit(3);
		unsigned char p[1024];
		uint32_t i = 0;
		int refused = 0, bad = 0, acked = 0;
		struct iot_journal_stats st;
		for (; i < 100000; i++) {
			iot_journal_get_stats(j, &st);
			if (st.recoveries >= 3 && acked > 0)
				break;
			size_t len = make_payload(1, i, p);
			uint64_t seq = 0;
			enum cd_err rc = iot_journal_append(j, 2, 1, p, len, &seq);
			if (rc) {
				refused++;
				bad += rc != CD_ERR_IO || seq != 0;
				acked = 0;
				struct timespec ts = {0, 5 * 1000000L};
				nanosleep(&ts, NULL);
				continue;
			}
			acked++;
			struct ack a = {seq, 1, i};
			if (write(fds[1], &a, sizeof a) != (ssize_t)sizeof a)
				_exit(4);
		}
		iot_journal_get_stats(j, &st);
		iot_journal_close(j);
		_exit(!bad && refused > 0 && st.failures >= 3 && st.recoveries >= 3 && !st.failed ? 0 : 5);
	}
	close(fds[1]);
	size_t n = 0;
	static struct ack a[4096];
	for (;;) {
		ssize_t r = read(fds[0], &a[n], sizeof a[0]);
		if (r != (ssize_t)sizeof a[0] || ++n == sizeof a / sizeof a[0])
			break;
	}
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(n > 10);
	size_t gaps = 0;
	for (size_t k = 1; k < n; k++)
		gaps += a[k].seq != a[k - 1].seq + 1;
	CHECK(gaps >= 3); /* each failure's refused seqs are skipped, never reused */
	struct iot_journal *j = NULL;
	CHECK_INT_EQ(iot_journal_open(t.path, &j), CD_OK);
	if (j) {
		struct gotlist g = {0};
		CHECK_INT_EQ(iot_journal_replay(j, collect, &g), CD_OK);
		CHECK_INT_EQ(g.n, n); /* the refused records were cut off the failed segments */
		size_t good = 0;
		for (size_t k = 0; k < n && k < g.n; k++) {
			uint32_t th, i;
			good += g.v[k].seq == a[k].seq && self_consistent(&g.v[k], &th, &i) && i == a[k].i;
		}
		CHECK_INT_EQ(good, n);
		gotlist_free(&g);
		iot_journal_close(j);
	}
	tmp_remove(&t);
}

/* A waiter for a record a failure refused gets CD_ERR_IO even when it asks after the journal
 * recovered and later records are durable; a range wait spanning the refused seqs fails too. */
static void test_wait_after_recovery(void)
{
	struct tmpdir t;
	tmp_make(&t);
	int fds[2];
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {300 << 10, 300 << 10};
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(2);
		struct iot_journal *j = NULL;
		struct iot_journal_options o = {.retry_ms = 20};
		if (iot_journal_open_with(t.path, &o, &j) != CD_OK)
			_exit(3);
		unsigned char p[1024];
		uint64_t first_ok = 0, refused_seq = 0, seq = 0;
		uint32_t i = 0;
		/* _nowait appends until one is refused on waiting */
		for (; i < 100000 && !refused_seq; i++) {
			size_t len = make_payload(1, i, p);
			if (iot_journal_append_nowait(j, 2, 1, p, len, &seq) != CD_OK)
				_exit(6);
			if (iot_journal_wait(j, seq) != CD_OK)
				refused_seq = seq;
			else if (!first_ok)
				first_ok = seq;
		}
		/* then appends until one is taken again */
		uint64_t later = 0;
		for (; i < 100000 && !later; i++) {
			size_t len = make_payload(1, i, p);
			if (iot_journal_append(j, 2, 1, p, len, &later) != CD_OK) {
				struct timespec ts = {0, 5 * 1000000L};
				nanosleep(&ts, NULL);
			}
		}
		int code = 0;
		if (!refused_seq || !later || later <= refused_seq)
			code = 7;
		else if (iot_journal_wait(j, refused_seq) != CD_ERR_IO)
			code = 8;
		else if (iot_journal_wait_range(j, first_ok, later) != CD_ERR_IO)
			code = 9;
		else if (iot_journal_wait(j, later) != CD_OK || iot_journal_wait_range(j, later, later) != CD_OK ||
			 iot_journal_wait(j, first_ok) != CD_OK)
			code = 10;
		iot_journal_close(j);
		_exit(code);
	}
	close(fds[1]);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	CHECK_INT_EQ(WEXITSTATUS(status), 0);
	tmp_remove(&t);
}

static const struct test_case tests[] = {
	{"pack_roundtrip", test_pack_roundtrip},
	{"append_close_replay", test_append_close_replay},
	{"handled_mark_and_seq_continue", test_handled_mark_and_seq_continue},
	{"torn_tail", test_torn_tail},
	{"bad_segments", test_bad_segments},
	{"many_producers", test_many_producers},
	{"compaction_under_appends", test_compaction_under_appends},
	{"replay_stops", test_replay_stops},
	{"kill9", test_kill9},
	{"write_failure", test_write_failure},
	{"wait_after_recovery", test_wait_after_recovery},
};

TEST_MAIN(tests)
