/* Cases in the SQLite store: the group-commit batch insert, the journal's apply, optimistic
 * updates with their event, score deltas and audit entry, daily refs, and reads by id, ref and
 * external id; each write hands the rows it committed to the case list index (case_index.c).
 * Lists, the due list and scores are in sqlite_case_reads.c; binding, checking and diffing a
 * row, events and score upserts in sqlite_case_rows.c. docs/internals/store.md ("Cases"). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

/* The parameters of CASE_UPDATE's WHERE (after the 45 of store__case_bind). */
enum { COL_UPDATE_ID = 46, COL_UPDATE_VERSION = 47 };

/* ---- days and refs ------------------------------------------------------------------- */

/* Asia/Shanghai has had no DST since 1991: local time is UTC+8. */
static void shanghai_tm(int64_t t, struct tm *tm)
{
	time_t lt = (time_t)(t + 8 * 3600);
	gmtime_r(&lt, tm);
}

/* Writes v as exactly `width` decimal digits (the low ones) at p. */
static void put_digits(char *p, int64_t v, int width)
{
	if (v < 0)
		v = 0;
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* YYYY, MM, DD of t in Asia/Shanghai at out (with `sep` between them when not 0). */
static size_t put_ymd(char *out, int64_t t, char sep)
{
	struct tm tm;
	shanghai_tm(t, &tm);
	size_t n = 0;
	put_digits(out + n, tm.tm_year + 1900, 4);
	n += 4;
	if (sep)
		out[n++] = sep;
	put_digits(out + n, tm.tm_mon + 1, 2);
	n += 2;
	if (sep)
		out[n++] = sep;
	put_digits(out + n, tm.tm_mday, 2);
	n += 2;
	out[n] = '\0';
	return n;
}

void store_day_of(int64_t t, char out[11])
{
	put_ymd(out, t, '-');
}

static void ymd_of(int64_t t, char out[9])
{
	put_ymd(out, t, 0);
}

/* "YYYY-MM-DD" with digits where digits belong. */
int store__day_well_formed(const char *d)
{
	if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

#define SEQ_DAYS_MAX 16 /* distinct report days one batch may touch before flushing */
#define SEQ_LIMIT 999999

/* The daily counters a batch has touched: read once, written once before the commit. */
struct seq_cache {
	char day[SEQ_DAYS_MAX][9];
	int64_t last[SEQ_DAYS_MAX];
	int dirty[SEQ_DAYS_MAX];
	int n;
};

static enum cd_err seq_flush(struct store *st, struct seq_cache *sc)
{
	for (int i = 0; i < sc->n; i++) {
		if (!sc->dirty[i])
			continue;
		sqlite3_stmt *s = store__stmt(st, STORE__CASE_SEQ_SET);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, sc->day[i]);
		sqlite3_bind_int64(s, 2, sc->last[i]);
		enum cd_err rc = store__exec(st, s, "case seq set");
		if (rc)
			return rc;
		sc->dirty[i] = 0;
	}
	return CD_OK;
}

enum cd_err store__case_seq_load(struct store *st, const char day[9], int64_t *out)
{
	int64_t last = 0;
	*out = 0;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_SEQ_GET);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, day);
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	enum cd_err rc = store__err(st, src, "case seq get");
	store__done(s);
	if (rc)
		return rc;
	char lo[16], hi[16];
	snprintf(lo, sizeof lo, "LH%s", day);
	snprintf(hi, sizeof hi, "LH%s~", day);
	s = store__stmt(st, STORE__CASE_SEQ_MAX);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, lo);
	store__bind_text(s, 2, hi);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_TEXT &&
	    sqlite3_column_bytes(s, 0) == 16) {
		const char *ref = (const char *)sqlite3_column_text(s, 0);
		int64_t seen = 0;
		for (int i = 10; i < 16; i++)
			seen = seen * 10 + (ref[i] >= '0' && ref[i] <= '9' ? ref[i] - '0' : 9);
		if (seen > last)
			last = seen;
	}
	rc = store__err(st, src, "case seq max");
	store__done(s);
	if (!rc)
		*out = last;
	return rc;
}

/* The slot of `day` in the cache, loading the stored counter on first use. The counter is
 * also checked against the highest stored ref of that day, so a counter row lost or edited
 * behind the store's back cannot hand out a ref twice. */
static enum cd_err seq_slot(struct store *st, struct seq_cache *sc, const char *day, int *slot)
{
	for (int i = 0; i < sc->n; i++) {
		if (memcmp(sc->day[i], day, 9) == 0) {
			*slot = i;
			return CD_OK;
		}
	}
	enum cd_err rc;
	if (sc->n == SEQ_DAYS_MAX) {
		rc = seq_flush(st, sc);
		if (rc)
			return rc;
		sc->n = 0;
	}
	int64_t last = 0;
	rc = store__case_seq_load(st, day, &last);
	if (rc)
		return rc;
	int i = sc->n++;
	memcpy(sc->day[i], day, 9);
	sc->last[i] = last;
	sc->dirty[i] = 0;
	*slot = i;
	return CD_OK;
}

void store__case_ymd(int64_t t, char out[9])
{
	ymd_of(t, out);
}

void store__case_ref(char ref[STORE_CASE_REF_MAX], const char day[9], int64_t seq)
{
	/* "LH" + YYYYMMDD + 6 digits = 16 characters. */
	ref[0] = 'L';
	ref[1] = 'H';
	memcpy(ref + 2, day, 8);
	put_digits(ref + 10, seq, 6);
	ref[16] = '\0';
}

/* ---- shared pieces of writes --------------------------------------------------------- */

/* Like store__case_event_well_formed, but an empty action (defaulted to "report") is fine. */
static int event_well_formed_or_empty(const struct store_case_event *ev)
{
	return STORE__TERMINATED(ev->actor) && STORE__TERMINATED(ev->role) &&
	       STORE__TERMINATED(ev->action) && STORE__TERMINATED(ev->from_status) &&
	       STORE__TERMINATED(ev->to_status) && STORE__TERMINATED(ev->comment) &&
	       STORE__TERMINATED(ev->data);
}

/* ---- batch insert (group commit) ----------------------------------------------------- */

/* Page cache for the cases workload, in KiB. SQLite's default (2 MB) held neither the pages a
 * batch dirties nor the upper levels of the case indexes over a million rows; measured at
 * 40,000 cases (with the list indexes that migration 0011 dropped), 64 MB took the batch
 * insert from ~5,200 to ~8,100 cases/s and cut the bytes written. */
#define CASES_CACHE_KB 65536
#define CASES_WAL_PAGES 10000 /* 40 MB of WAL between automatic checkpoints */

/* Connection settings the cases functions rely on, applied on first use (the connection is
 * opened in sqlite.c, which the foundation owns). Store locked. */
void store__cases_setup(struct store *st)
{
	if (st->cases_ready)
		return;
	st->cases_ready = 1;
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", CASES_CACHE_KB);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		log_msg(LOG_WARN, "store: cannot set the page cache size", NULL);
	/* Checkpoint every CASES_WAL_PAGES WAL pages rather than every 1,000: a hot index page
	 * rewritten by many batches is copied into the database once per checkpoint, not once per
	 * batch (measured: 20.6 -> 14.8 KB written per case at 100,000 cases). */
	snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %d", CASES_WAL_PAGES);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		log_msg(LOG_WARN, "store: cannot set the checkpoint interval", NULL);
}

/* Fetches the case a bound by-something statement finds; NOTFOUND when none. Store locked. */
static enum cd_err case_fetch(struct store *st, sqlite3_stmt *s, struct store_case *out)
{
	enum cd_err rc = store__step_row(st, s, "case get");
	if (!rc)
		rc = store__case_from_row(s, out);
	store__done(s);
	return rc;
}

enum cd_err store__case_find_external_locked(struct store *st, const char *channel, const char *ext,
					     struct store_case *out)
{
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_BY_EXT);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, channel);
	store__bind_text(s, 2, ext);
	return case_fetch(st, s, out);
}

/* The "received" counts of one batch, summed in memory and written once per (dimension, day,
 * key) before the commit: a batch of 200 cases has far fewer distinct keys than 600 upserts. */
struct recv_slot {
	char key[STORE_CATEGORY_MAX]; /* a copy: journalled cases are decoded one at a time */
	int used;
	int dim;                      /* index into store__case_stat_dims */
	char day[11];
	int count;
};

struct recv_sum {
	struct recv_slot *slot;
	size_t cap;  /* a power of two */
	size_t used; /* slots taken; the table doubles past half full */
};

static void recv_init(struct recv_sum *r, size_t ncases)
{
	r->cap = 64;
	while (r->cap < ncases * 3 * 2 && r->cap < 4096)
		r->cap *= 2;
	r->used = 0;
	r->slot = xcalloc(r->cap, sizeof *r->slot);
}

/* day: "YYYY-MM-DD" (store_day_of) */
static uint32_t recv_hash(int dim, const char *day, const char *key)
{
	return str_fnv1a(str_fnv1a(STR_FNV_SEED ^ (uint32_t)dim, key), day);
}

static void recv_put(struct recv_sum *r, int dim, const char *day, const char *key, int count);

static void recv_grow(struct recv_sum *r)
{
	struct recv_slot *old = r->slot;
	size_t oldcap = r->cap;
	r->cap *= 2;
	r->used = 0;
	r->slot = xcalloc(r->cap, sizeof *r->slot);
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			recv_put(r, old[i].dim, old[i].day, old[i].key, old[i].count);
	xfree(old);
}

static void recv_put(struct recv_sum *r, int dim, const char *day, const char *key, int count)
{
	size_t i = recv_hash(dim, day, key) & (r->cap - 1);
	while (r->slot[i].used) {
		struct recv_slot *e = &r->slot[i];
		if (e->dim == dim && memcmp(e->day, day, 11) == 0 && strcmp(e->key, key) == 0) {
			e->count += count;
			return;
		}
		i = (i + 1) & (r->cap - 1);
	}
	struct recv_slot *e = &r->slot[i];
	e->used = 1;
	str_copy(e->key, sizeof e->key, key);
	e->dim = dim;
	memcpy(e->day, day, 11);
	e->count = count;
	if (++r->used * 2 > r->cap)
		recv_grow(r);
}

static void recv_add(struct recv_sum *r, int dim, const char *day, const char *key)
{
	recv_put(r, dim, day, key, 1);
}

static enum cd_err recv_flush(struct store *st, struct recv_sum *r)
{
	int v[STORE__STATS_NCOUNTS] = {0}; /* a "received" count only */
	for (size_t i = 0; i < r->cap; i++) {
		if (!r->slot[i].used || r->slot[i].count == 0)
			continue;
		v[0] = r->slot[i].count;
		enum cd_err rc = store__case_stats_put(st, store__case_stat_dims[r->slot[i].dim],
						       r->slot[i].day, r->slot[i].key, v, 0);
		if (rc)
			return rc;
	}
	return CD_OK;
}

/* Inserts one case: row, first event, received counts (the list index follows after the
 * commit, store_case_insert_batch). Only the row's INSERT may fail
 * because of the case (a CHECK, NOT NULL or FOREIGN KEY refusal: CD_ERR_INVALID), and a
 * one-row INSERT that fails leaves nothing behind, so no savepoint is needed; a failure
 * after it is the store's and fails the whole batch. (A savepoint per case was measured:
 * it copies every page the case touches into the sub-journal, ~60 KB per case.) */
static enum cd_err insert_one(struct store *st, const struct store_actor *actor,
			      struct store_case *c, struct store_case_event *ev,
			      struct seq_cache *sc, struct recv_sum *recv, int64_t now, int *refused)
{
	char day[9];
	*refused = 0;
	int slot = 0;
	ymd_of(c->reported_at, day);
	enum cd_err rc = seq_slot(st, sc, day, &slot);
	if (rc)
		return rc;
	if (sc->last[slot] >= SEQ_LIMIT) {
		*refused = 1;
		return CD_ERR_RANGE;
	}
	int64_t seq = sc->last[slot] + 1;
	store__case_ref(c->ref, day, seq);
	c->version = 1;
	c->created_at = now;
	c->updated_at = now;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_INSERT);
	if (!s)
		return CD_ERR_STORE;
	store__case_bind(s, c);
	rc = store__exec(st, s, "case insert");
	if (rc == CD_ERR_EXISTS) {
		/* (channel, external_id) was looked up first, and refs come from the counter
		 * checked against max(ref): a UNIQUE failure here means a damaged database. */
		log_msg(LOG_ERROR, "store: case ref collision", "\"ref\":\"%s\"", c->ref);
		return CD_ERR_CORRUPT;
	}
	if (rc == CD_ERR_INVALID || rc == CD_ERR_RANGE) {
		*refused = 1;
		return rc;
	}
	if (rc)
		return rc;
	c->id = sqlite3_last_insert_rowid(st->db);
	rc = store__case_event_insert(st, c->id, ev, actor, now);
	if (rc)
		return rc;
	char sday[11];
	store_day_of(c->reported_at, sday);
	recv_add(recv, 0, sday, c->unit_code);
	recv_add(recv, 1, sday, c->street_code);
	recv_add(recv, 2, sday, c->category_code);
	sc->last[slot] = seq;
	sc->dirty[slot] = 1;
	return CD_OK;
}

/* Appends one case's line of the batch audit entry. */
static enum cd_err audit_case_line(struct buf *b, const struct store_case *c,
				   const struct store_case_event *ev, int first)
{
	/* No printf: at intake rates its format parsing was most of the line's cost. */
	struct json_writer w = {b, CD_OK};
	json_w_lit(&w, first ? "{\"id\":" : ",{\"id\":");
	json_w_int(&w, (long long)c->id);
	json_w_lit(&w, ",\"ref\":\"");
	enum cd_err rc = w.rc ? w.rc : buf_json_escape(b, c->ref);
	if (!rc)
		rc = buf_puts(b, "\",\"channel\":\"");
	if (!rc)
		rc = buf_json_escape(b, c->channel);
	if (!rc && c->external_id[0]) {
		rc = buf_puts(b, "\",\"external_id\":\"");
		if (!rc)
			rc = buf_json_escape(b, c->external_id);
	}
	if (!rc)
		rc = buf_puts(b, "\",\"status\":\"");
	if (!rc)
		rc = buf_json_escape(b, c->status);
	if (!rc)
		rc = buf_puts(b, "\",\"unit\":\"");
	if (!rc)
		rc = buf_json_escape(b, c->unit_code);
	if (!rc)
		rc = buf_puts(b, "\",\"category\":\"");
	if (!rc)
		rc = buf_json_escape(b, c->category_code);
	if (!rc)
		rc = buf_puts(b, "\",\"by\":\"");
	if (!rc)
		rc = buf_json_escape(b, ev->actor);
	if (!rc)
		rc = buf_puts(b, "\"}");
	return rc;
}

/* Planner statistics: the cases table's remaining indexes (ref, external id, the scheduler's
 * partial ones, the Open311 channel's) need none to be chosen; lists are answered by the case
 * list index (case_index.c), so the computed statistics that the list indexes needed are gone
 * with them (migration 0011). A sampled ANALYZE on request still describes the table. */
enum cd_err store_cases_optimize(struct store *st)
{
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc) {
		int src = sqlite3_exec(st->db, "PRAGMA analysis_limit = 400; ANALYZE cases", NULL, NULL, NULL);
		rc = store__end(st, src == SQLITE_OK ? CD_OK : store__err(st, src, "analyze"));
	}
	store__unlock(st);
	return rc;
}

static enum cd_err insert_batch_tx(struct store *st, const struct store_actor *actor,
				   struct store_case *cases, struct store_case_event *evs, size_t n,
				   enum cd_err *results, size_t *stored)
{
	struct seq_cache sc;
	struct recv_sum recv;
	struct store_case_event dflt;
	struct buf audit;
	int64_t now = (int64_t)time(NULL);
	enum cd_err rc = CD_OK;
	size_t nstored = 0;
	memset(&sc, 0, sizeof sc);
	recv_init(&recv, n);
	/* A cap, not an allocation: room for each case's line with every string escaped at
	 * worst (\u00XX, six bytes per byte). */
	buf_init(&audit, 64 + n * (6 * (STORE_CASE_EXTID_MAX + STORE_CATEGORY_MAX + STORE_CODE_MAX +
					 STORE_USERNAME_MAX + 2 * STORE_CASE_WORD_MAX) + 256));
	for (size_t i = 0; i < n && !rc; i++) {
		struct store_case *c = &cases[i];
		struct store_case_event *ev = evs ? &evs[i] : &dflt;
		if (!store__case_well_formed(c) || !c->description[0] || c->reported_at <= 0 ||
		    !c->channel[0]) {
			results[i] = CD_ERR_INVALID;
			continue;
		}
		if (c->external_id[0]) {
			rc = store__case_find_external_locked(st, c->channel, c->external_id, c);
			if (rc == CD_OK) {
				results[i] = CD_ERR_EXISTS;
				continue;
			}
			if (rc != CD_ERR_NOTFOUND)
				break;
			rc = CD_OK;
		}
		store__case_defaults(c);
		if (!evs)
			memset(&dflt, 0, sizeof dflt);
		if (!ev->action[0])
			str_copy(ev->action, sizeof ev->action, "report");
		if (!ev->to_status[0])
			memcpy(ev->to_status, c->status, sizeof ev->to_status);
		if (!store__case_event_well_formed(ev)) {
			results[i] = CD_ERR_INVALID;
			continue;
		}
		int refused = 0;
		enum cd_err one = insert_one(st, actor, c, ev, &sc, &recv, now, &refused);
		if (one) {
			c->id = 0;
			c->ref[0] = '\0';
			results[i] = one;
			if (refused)
				continue;
			rc = one;
			break;
		}
		results[i] = CD_OK;
		if (nstored == 0)
			rc = buf_printf(&audit, "{\"cases\":[");
		if (!rc)
			rc = audit_case_line(&audit, c, ev, nstored == 0);
		nstored++;
	}
	if (!rc)
		rc = seq_flush(st, &sc);
	if (!rc)
		rc = recv_flush(st, &recv);
	xfree(recv.slot);
	if (!rc && nstored) {
		rc = buf_printf(&audit, "],\"count\":%zu}", nstored);
		if (!rc)
			rc = store__audit_add(st, actor, "cases.intake", "cases", NULL, audit.data);
	}
	buf_release(&audit);
	*stored = nstored;
	return rc;
}

enum cd_err store_case_insert_batch(struct store *st, const struct store_actor *actor,
				    struct store_case *cases, struct store_case_event *first_events,
				    size_t n, enum cd_err *results)
{
	if (n == 0)
		return CD_OK;
	if (n > STORE_CASE_BATCH_MAX || !cases || !results)
		return CD_ERR_INVALID;
	if (st->journal) {
		struct store_case **cp = xcalloc(n, sizeof *cp);
		struct store_case_event **ep = xcalloc(n, sizeof *ep);
		for (size_t i = 0; i < n; i++) {
			cp[i] = &cases[i];
			ep[i] = first_events ? &first_events[i] : NULL;
		}
		enum cd_err rc = store__journal_insert(st, actor, cp, ep, n, results);
		xfree(cp);
		xfree(ep);
		return rc;
	}
	size_t stored = 0;
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, insert_batch_tx(st, actor, cases, first_events, n, results, &stored));
	if (!rc) {
		/* committed: the list index follows */
		struct store__cindex_batch idx = {NULL, 0, 0};
		for (size_t i = 0; i < n; i++)
			if (results[i] == CD_OK)
				store__cindex_note(&idx, &cases[i]);
		store__cindex_flush(st, &idx);
		store__cindex_release(&idx);
	}
	store__unlock(st);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			results[i] = rc;
			cases[i].id = 0;
			cases[i].ref[0] = '\0';
		}
	}
	return rc;
}

enum cd_err store_case_insert_each(struct store *st, const struct store_actor *actor,
				   struct store_case *const *cases, struct store_case_event *const *first_events,
				   size_t n, enum cd_err *results)
{
	if (n == 0)
		return CD_OK;
	if (n > STORE_CASE_BATCH_MAX || !cases || !results)
		return CD_ERR_INVALID;
	if (st->journal)
		return store__journal_insert(st, actor, cases, first_events, n, results);
	/* Without the journal: the batch wants arrays. */
	struct store_case *cs = xmalloc(n * sizeof *cs);
	struct store_case_event *es = xcalloc(n, sizeof *es);
	for (size_t i = 0; i < n; i++) {
		cs[i] = *cases[i];
		if (first_events && first_events[i])
			es[i] = *first_events[i];
	}
	enum cd_err rc = store_case_insert_batch(st, actor, cs, es, n, results);
	for (size_t i = 0; i < n; i++) {
		*cases[i] = cs[i];
		if (first_events && first_events[i])
			*first_events[i] = es[i];
	}
	xfree(cs);
	xfree(es);
	return rc;
}

/* ---- journalled intake: checks at journal time, apply in large transactions ------------ */

static int word_in(const char *w, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(w, *set) == 0)
			return 1;
	return 0;
}

static const char *const channels[] = {"hotline", "app", "grid", "camera", "iot", "enterprise", "open311",
				       "system", NULL};
static const char *const statuses[] = {"reported", "registered", "rejected", "dispatched", "accepted",
				       "handled", "verified", "closed", "rated", "suspended", "merged", NULL};
static const char *const levels[] = {"community", "street", "district", NULL};
static const char *const sources[] = {"given", "auto", "keyword", "dispatcher", NULL};
static const char *const limit_kinds[] = {"working_days", "working_hours", "hours", NULL};
static const char *const satisfactions[] = {"satisfied", "basically_satisfied", "dissatisfied", NULL};

/* The CHECK constraints of 0003_cases.sql, in C: a journalled case is acknowledged before the
 * database sees it, so it must be refused here or never. */
static int case_checks(const struct store_case *c)
{
	return word_in(c->channel, channels) && word_in(c->status, statuses) && word_in(c->level, levels) &&
	       (!c->category_source[0] || word_in(c->category_source, sources)) &&
	       (!c->limit_kind[0] || word_in(c->limit_kind, limit_kinds)) &&
	       (!c->satisfaction[0] || word_in(c->satisfaction, satisfactions)) &&
	       (c->supervised == 0 || c->supervised == 1) &&
	       (c->extension_pending == 0 || c->extension_pending == 1) && (c->warned == 0 || c->warned == 1) &&
	       (c->overdue == 0 || c->overdue == 1);
}

enum cd_err store__case_prepare_new(struct store_case *c, struct store_case_event *ev,
				    const struct store_actor *actor, int64_t now)
{
	if (!store__case_well_formed(c) || !c->description[0] || c->reported_at <= 0 || !c->channel[0])
		return CD_ERR_INVALID;
	store__case_defaults(c);
	if (!case_checks(c))
		return CD_ERR_INVALID;
	if (!event_well_formed_or_empty(ev))
		return CD_ERR_INVALID;
	if (!ev->action[0])
		str_copy(ev->action, sizeof ev->action, "report");
	if (!ev->to_status[0])
		memcpy(ev->to_status, c->status, sizeof ev->to_status);
	if (!ev->actor[0])
		snprintf(ev->actor, sizeof ev->actor, "%s",
			 actor && actor->name && *actor->name ? actor->name : "system");
	if (!ev->at)
		ev->at = now;
	return CD_OK;
}

enum cd_err store__case_max_id(struct store *st, int64_t *out)
{
	*out = 0;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_MAX_ID);
	if (!s)
		return CD_ERR_STORE;
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	enum cd_err rc = store__err(st, src, "case max id");
	store__done(s);
	return rc;
}

/* The ref stored under id into ref_out ("" when there is no such case). Store locked. */
static enum cd_err ref_of_id(struct store *st, int64_t id, char ref_out[STORE_CASE_REF_MAX])
{
	ref_out[0] = '\0';
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_ID_REF);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, id);
	int src = sqlite3_step(s);
	enum cd_err rc = CD_OK;
	if (src == SQLITE_ROW)
		rc = store__col_copy(s, 0, ref_out, STORE_CASE_REF_MAX);
	else
		rc = store__err(st, src, "case ref of id");
	store__done(s);
	return rc;
}

enum cd_err store__case_exists(struct store *st, int64_t id, int *exists)
{
	char ref[STORE_CASE_REF_MAX];
	enum cd_err rc = ref_of_id(st, id, ref);
	*exists = !rc && ref[0];
	return rc;
}

#define APPLY_SEQ_DAYS 64    /* distinct ref days tracked before writing their counters */
#define APPLY_AUDIT_CASES 1000 /* cases listed per "cases.intake" audit entry */

/* The highest sequence number applied per ref day, written once per transaction. */
struct seq_max {
	char day[APPLY_SEQ_DAYS][9];
	int64_t last[APPLY_SEQ_DAYS];
	int n;
};

static enum cd_err seq_max_flush(struct store *st, struct seq_max *m)
{
	for (int i = 0; i < m->n; i++) {
		sqlite3_stmt *s = store__stmt(st, STORE__CASE_SEQ_RAISE);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, m->day[i]);
		sqlite3_bind_int64(s, 2, m->last[i]);
		enum cd_err rc = store__exec(st, s, "case seq raise");
		if (rc)
			return rc;
	}
	m->n = 0;
	return CD_OK;
}

static enum cd_err seq_max_note(struct store *st, struct seq_max *m, const char *ref)
{
	if (strlen(ref) != 16)
		return CD_OK;
	char day[9];
	memcpy(day, ref + 2, 8);
	day[8] = '\0';
	int64_t seq = 0;
	for (int i = 10; i < 16; i++)
		seq = seq * 10 + (ref[i] >= '0' && ref[i] <= '9' ? ref[i] - '0' : 0);
	for (int i = 0; i < m->n; i++) {
		if (memcmp(m->day[i], day, 9) == 0) {
			if (seq > m->last[i])
				m->last[i] = seq;
			return CD_OK;
		}
	}
	if (m->n == APPLY_SEQ_DAYS) {
		enum cd_err rc = seq_max_flush(st, m);
		if (rc)
			return rc;
	}
	memcpy(m->day[m->n], day, 9);
	m->last[m->n++] = seq;
	return CD_OK;
}

/* One "cases.intake" audit entry for the cases listed in b so far. */
static enum cd_err apply_audit_flush(struct store *st, struct buf *b, size_t *listed, const char *actor,
				     const char *client)
{
	if (*listed == 0)
		return CD_OK;
	enum cd_err rc = buf_printf(b, "],\"count\":%zu}", *listed);
	struct store_actor a = {actor, client};
	if (!rc)
		rc = store__audit_add(st, &a, "cases.intake", "cases", NULL, b->data);
	buf_reset(b);
	*listed = 0;
	return rc;
}

static enum cd_err journal_apply_tx(struct store *st, store__apply_next_fn next, void *ctx, const char *mark,
				    struct store_case *c, struct store_case_event *ev, size_t *applied,
				    struct store__cindex_batch *idx)
{
	struct recv_sum recv;
	struct seq_max sm;
	struct buf audit;
	char audit_actor[STORE_USERNAME_MAX] = "", audit_client[64] = "";
	size_t listed = 0;
	int64_t now = (int64_t)time(NULL);
	enum cd_err rc = CD_OK;
	sm.n = 0;
	recv_init(&recv, 256);
	buf_init(&audit, 64 + APPLY_AUDIT_CASES * (6 * (STORE_CASE_EXTID_MAX + STORE_CATEGORY_MAX +
							STORE_CODE_MAX + STORE_USERNAME_MAX +
							2 * STORE_CASE_WORD_MAX) + 256));
	for (;;) {
		struct store_actor actor = {"system", ""};
		int more = next(ctx, c, ev, &actor);
		if (more < 0) {
			rc = CD_ERR_CORRUPT;
			break;
		}
		if (more == 0)
			break;
		sqlite3_stmt *s = store__stmt(st, STORE__CASE_INSERT_ID);
		if (!s) {
			rc = CD_ERR_STORE;
			break;
		}
		store__case_bind(s, c);
		sqlite3_bind_int64(s, 46, c->id);
		rc = store__exec(st, s, "journal case insert");
		if (rc == CD_ERR_EXISTS || rc == CD_ERR_INVALID) {
			char have[STORE_CASE_REF_MAX];
			enum cd_err why = rc;
			rc = ref_of_id(st, c->id, have);
			if (rc)
				break;
			if (why == CD_ERR_EXISTS && strcmp(have, c->ref) == 0)
				continue; /* applied before (a replay): exactly once */
			/* Checked at journal time, so only a database changed behind the store's back
			 * gets here; the record stays in the journal file until it rotates. */
			log_msg(LOG_ERROR, "store: journalled case refused by the database",
				"\"ref\":\"%s\",\"id\":%lld,\"error\":\"%s\"", c->ref, (long long)c->id,
				cd_err_name(why));
			continue;
		}
		if (rc)
			break;
		rc = store__case_event_insert(st, c->id, ev, &actor, now);
		if (!rc)
			rc = seq_max_note(st, &sm, c->ref);
		if (rc)
			break;
		char sday[11];
		store_day_of(c->reported_at, sday);
		recv_add(&recv, 0, sday, c->unit_code);
		recv_add(&recv, 1, sday, c->street_code);
		recv_add(&recv, 2, sday, c->category_code);
		store__cindex_note(idx, c);
		if (listed == 0) {
			str_copy(audit_actor, sizeof audit_actor, actor.name ? actor.name : "system");
			str_copy(audit_client, sizeof audit_client, actor.client ? actor.client : "");
			rc = buf_puts(&audit, "{\"cases\":[");
		}
		if (!rc)
			rc = audit_case_line(&audit, c, ev, listed == 0);
		listed++;
		(*applied)++;
		if (!rc && listed == APPLY_AUDIT_CASES)
			rc = apply_audit_flush(st, &audit, &listed, audit_actor, audit_client);
		if (rc)
			break;
	}
	if (!rc)
		rc = apply_audit_flush(st, &audit, &listed, audit_actor, audit_client);
	if (!rc)
		rc = seq_max_flush(st, &sm);
	if (!rc)
		rc = recv_flush(st, &recv);
	if (!rc && mark) {
		sqlite3_stmt *s = store__stmt(st, STORE__META_SET);
		if (!s) {
			rc = CD_ERR_STORE;
		} else {
			store__bind_text(s, 1, STORE__JOURNAL_MARK);
			store__bind_text(s, 2, mark);
			rc = store__exec(st, s, "journal mark");
		}
	}
	xfree(recv.slot);
	buf_release(&audit);
	return rc;
}

enum cd_err store__cases_apply(struct store *st, store__apply_next_fn next, void *ctx, const char *mark,
			       size_t *applied)
{
	struct store_case *c = xmalloc(sizeof *c);
	struct store_case_event *ev = xmalloc(sizeof *ev);
	struct store__cindex_batch idx = {NULL, 0, 0};
	*applied = 0;
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, journal_apply_tx(st, next, ctx, mark, c, ev, applied, &idx));
	if (!rc)
		store__cindex_flush(st, &idx); /* committed: the list index follows */
	else
		*applied = 0;
	store__unlock(st);
	store__cindex_release(&idx);
	xfree(c);
	xfree(ev);
	return rc;
}

/* ---- reads --------------------------------------------------------------------------- */

enum cd_err store_case_get_by_id(struct store *st, int64_t id, struct store_case *out)
{
	memset(out, 0, sizeof *out);
	if (st->journal && store__journal_get(st, id, NULL, NULL, NULL, out) == CD_OK)
		return CD_OK;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_BY_ID);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = case_fetch(st, s, out);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_case_get_by_ref(struct store *st, const char *ref, struct store_case *out)
{
	memset(out, 0, sizeof *out);
	if (!ref || !*ref)
		return CD_ERR_NOTFOUND;
	if (st->journal && store__journal_get(st, 0, ref, NULL, NULL, out) == CD_OK)
		return CD_OK;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_BY_REF);
	if (s) {
		store__bind_text(s, 1, ref);
		rc = case_fetch(st, s, out);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_case_find_external(struct store *st, const char *channel, const char *external_id,
				     struct store_case *out)
{
	memset(out, 0, sizeof *out);
	if (!channel || !*channel || !external_id || !*external_id)
		return CD_ERR_NOTFOUND;
	if (st->journal && store__journal_get(st, 0, NULL, channel, external_id, out) == CD_OK)
		return CD_OK;
	store__lock(st);
	enum cd_err rc = store__case_find_external_locked(st, channel, external_id, out);
	store__unlock(st);
	return rc;
}

static enum cd_err event_from_row(sqlite3_stmt *s, struct store_case_event *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(s, 0);
	e->case_id = sqlite3_column_int64(s, 1);
	e->at = sqlite3_column_int64(s, 2);
	enum cd_err rc = store__col_copy(s, 3, e->actor, sizeof e->actor);
	if (!rc)
		rc = store__col_copy(s, 4, e->role, sizeof e->role);
	if (!rc)
		rc = store__col_copy(s, 5, e->action, sizeof e->action);
	if (!rc)
		rc = store__col_copy(s, 6, e->from_status, sizeof e->from_status);
	if (!rc)
		rc = store__col_copy(s, 7, e->to_status, sizeof e->to_status);
	if (!rc)
		rc = store__col_copy(s, 8, e->comment, sizeof e->comment);
	if (!rc)
		rc = store__col_copy(s, 9, e->data, sizeof e->data);
	return rc;
}

enum cd_err store_case_events(struct store *st, int64_t case_id, store_case_event_fn fn, void *ctx)
{
	struct store_case_event *e = xmalloc(sizeof *e);
	if (st->journal && store__journal_first_event(st, case_id, e) == CD_OK) {
		/* Not applied yet: its one event is in the journal record. */
		(void)fn(ctx, e);
		xfree(e);
		return CD_OK;
	}
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_EVENT_LIST);
	if (s) {
		sqlite3_bind_int64(s, 1, case_id);
		int src;
		rc = CD_OK;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			rc = event_from_row(s, e);
			if (rc || fn(ctx, e))
				break;
		}
		if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
			rc = store__err(st, src, "case events");
		store__done(s);
	}
	store__unlock(st);
	xfree(e);
	return rc;
}

/* ---- apply (one workflow step) ------------------------------------------------------- */

static enum cd_err apply_tx(struct store *st, const struct store_actor *actor, int64_t case_id,
			    int64_t expected, struct store_case *after,
			    const struct store_case_event *ev_in, const struct store_stats_delta *deltas,
			    size_t ndeltas)
{
	struct store_case *old = xmalloc(sizeof *old);
	struct store_case_event *ev = NULL;
	struct buf before_json, after_json;
	int64_t now = (int64_t)time(NULL);
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_BY_ID);
	enum cd_err rc = CD_ERR_STORE;
	buf_init(&before_json, 1 << 20);
	buf_init(&after_json, 1 << 20);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, case_id);
	rc = case_fetch(st, s, old);
	if (rc)
		goto out;
	if (old->version != expected) {
		rc = CD_ERR_CONFLICT;
		goto out;
	}
	after->id = old->id;
	memcpy(after->ref, old->ref, sizeof after->ref);
	after->created_at = old->created_at;
	after->version = expected + 1;
	after->updated_at = now;
	store__case_defaults(after);
	s = store__stmt(st, STORE__CASE_UPDATE);
	if (!s) {
		rc = CD_ERR_STORE;
		goto out;
	}
	store__case_bind(s, after);
	sqlite3_bind_int64(s, COL_UPDATE_ID, case_id);
	sqlite3_bind_int64(s, COL_UPDATE_VERSION, expected);
	rc = store__exec(st, s, "case update");
	if (!rc && sqlite3_changes(st->db) != 1)
		rc = CD_ERR_CONFLICT;
	if (!rc && ev_in) {
		ev = xmalloc(sizeof *ev);
		memcpy(ev, ev_in, sizeof *ev);
		rc = store__case_event_insert(st, case_id, ev, actor, now);
	}
	for (size_t i = 0; i < ndeltas && !rc; i++)
		rc = store__case_stats_add(st, &deltas[i]);
	if (!rc)
		rc = store__case_audit_step(st, actor, old, after, ev, &before_json, &after_json);
out:
	buf_release(&before_json);
	buf_release(&after_json);
	xfree(ev);
	xfree(old);
	return rc;
}

enum cd_err store_case_apply(struct store *st, const struct store_actor *actor, int64_t case_id,
			     int64_t expected_version, struct store_case *after,
			     const struct store_case_event *ev, const struct store_stats_delta *deltas,
			     size_t ndeltas)
{
	if (!after || !store__case_well_formed(after) || !after->description[0] || after->reported_at <= 0 ||
	    (ndeltas && !deltas))
		return CD_ERR_INVALID;
	int64_t saved_version = after->version, saved_updated = after->updated_at;
	store__journal_wait_case(st, case_id);
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, apply_tx(st, actor, case_id, expected_version, after, ev, deltas,
					     ndeltas));
	if (!rc) {
		/* committed: the list index follows */
		struct store__cindex_batch idx = {NULL, 0, 0};
		store__cindex_note(&idx, after);
		store__cindex_flush(st, &idx);
		store__cindex_release(&idx);
	}
	store__unlock(st);
	if (rc) {
		after->version = saved_version;
		after->updated_at = saved_updated;
	}
	return rc;
}
