/* Reading cases in the SQLite store: filtered lists (ids and exact totals from the in-memory
 * case list index, rows by id from SQLite), the scheduler's due list, the recent cases for the
 * duplicate finder, score aggregates, and uploaded file metadata. docs/internals/store.md
 * ("Cases") explains which index each query relies on. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- lists --------------------------------------------------------------------------- */

/* Time budgets of a list with `q`, in ms. The substring is tested row by row in SQLite (the
 * index has no text), and the store has one mutex: a `q` with no other filter over a million
 * cases would stall intake behind it for seconds. Past the page budget the call fails with
 * CD_ERR_TOOBIG (ask for a narrower filter); past the count budget, or past
 * STORE_CASES_COUNT_CAP matches, the total is reported as capped ("at least"). */
#define LIST_PAGE_BUDGET_MS 250
#define LIST_COUNT_BUDGET_MS 10
/* A list with q answers within this much from its call when it can: the count gets what the
 * page left of it, at least LIST_COUNT_MIN_MS and at most LIST_COUNT_BUDGET_MS. */
#define LIST_TOTAL_BUDGET_MS 8
#define LIST_COUNT_MIN_MS 1

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int given(const char *s)
{
	return s && *s;
}

/* A filter value and the caller's scope on the same column: both must hold. */
static const char *scoped(int *empty, const char *filter, const char *scope)
{
	if (given(filter) && given(scope) && strcmp(filter, scope) != 0)
		*empty = 1;
	return given(scope) ? scope : filter;
}

/* Category prefixes are ASCII letters and digits (what category codes are made of). */
static int category_prefix_ok(const char *p)
{
	size_t len = strlen(p);
	if (len == 0 || len >= STORE_CATEGORY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			return 0;
	}
	return 1;
}

/* The index's filter for f, with the scopes folded in; *empty when nothing can match. */
static void index_filter(const struct store_case_filter *f, struct case_index_filter *cf, int *empty)
{
	memset(cf, 0, sizeof *cf);
	*empty = 0;
	cf->status = f->status;
	cf->street_code = scoped(empty, f->street_code, f->scope_street);
	cf->unit_code = scoped(empty, f->unit_code, f->scope_unit);
	cf->community_code = f->community_code;
	/* Area codes are hierarchical (a community's 12 digits start with its street's 9): a
	 * community outside the street asked for (or the caller's street) matches nothing. */
	if (given(f->community_code) && given(cf->street_code) &&
	    strncmp(f->community_code, cf->street_code, strlen(cf->street_code)) != 0)
		*empty = 1;
	cf->channel = f->channel;
	cf->category_prefix = f->category_prefix;
	cf->uncategorized = f->uncategorized;
	cf->overdue = f->overdue;
	cf->from = f->from;
	cf->to = f->to;
}

/* Appends the row of case `id` to the page (a case missing from the table, which only a
 * database changed behind the store's back can cause, is left out). Store locked. */
static enum cd_err page_add(struct store *st, int64_t id, struct store_case_page *page)
{
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_BY_ID);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, id);
	enum cd_err rc = store__step_row(st, s, "case list row");
	if (!rc)
		rc = store__case_from_row(s, &page->cases[page->n++]);
	store__done(s);
	if (rc == CD_ERR_NOTFOUND) {
		log_msg(LOG_WARN, "store: listed case missing from the table", "\"id\":%lld", (long long)id);
		rc = CD_OK;
	}
	return rc;
}

/* Whether the title or the description of case `id` holds q (bytes, UTF-8 safe). Store locked. */
static enum cd_err q_match(struct store *st, int64_t id, const char *q, int *yes)
{
	*yes = 0;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_Q_MATCH);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, id);
	store__bind_text(s, 2, q);
	int src = sqlite3_step(s);
	enum cd_err rc = CD_OK;
	if (src == SQLITE_ROW)
		*yes = 1;
	else if (src != SQLITE_DONE)
		rc = store__err(st, src, "case list q");
	store__done(s);
	return rc;
}

/* A list with q: the index gives the candidates newest first, SQLite tests their text. Store
 * locked. */
static enum cd_err list_q(struct store *st, const struct case_index_filter *cf, const char *q, int64_t offset,
			  int64_t limit, double started_ms, struct store_case_page *page)
{
	int64_t *cand = NULL;
	size_t ncand = 0, i = 0;
	enum cd_err rc = case_index_matches(st->cindex, cf, &cand, &ncand);
	int64_t matched = 0;
	double deadline = started_ms + LIST_PAGE_BUDGET_MS;
	int yes = 0;
	/* The page. */
	for (; !rc && i < ncand && (int64_t)page->n < limit; i++) {
		if (mono_ms() > deadline) {
			log_msg(LOG_WARN, "store: case list over its time budget", "\"budget_ms\":%d",
				LIST_PAGE_BUDGET_MS);
			rc = CD_ERR_TOOBIG;
			break;
		}
		rc = q_match(st, cand[i], q, &yes);
		if (!rc && yes && matched++ >= offset)
			rc = page_add(st, cand[i], page);
	}
	/* The total, within what is left of the count's budget. */
	double now = mono_ms();
	deadline = started_ms + LIST_TOTAL_BUDGET_MS;
	if (deadline < now + LIST_COUNT_MIN_MS)
		deadline = now + LIST_COUNT_MIN_MS;
	if (deadline > now + LIST_COUNT_BUDGET_MS)
		deadline = now + LIST_COUNT_BUDGET_MS;
	for (; !rc && i < ncand && matched <= STORE_CASES_COUNT_CAP; i++) {
		if (mono_ms() > deadline)
			break;
		rc = q_match(st, cand[i], q, &yes);
		matched += yes;
	}
	if (!rc) {
		if (matched > STORE_CASES_COUNT_CAP) {
			page->total = STORE_CASES_COUNT_CAP;
			page->total_capped = 1;
		} else {
			page->total = matched;
			page->total_capped = i < ncand; /* ran out of time: "at least" */
		}
	}
	xfree(cand);
	return rc;
}

void store_case_page_release(struct store_case_page *page)
{
	if (!page)
		return;
	xfree(page->cases);
	memset(page, 0, sizeof *page);
}

enum cd_err store_cases_list(struct store *st, const struct store_case_filter *f, int64_t offset,
			     int64_t limit, struct store_case_page *page)
{
	static const struct store_case_filter none;
	double started_ms = mono_ms();
	memset(page, 0, sizeof *page);
	if (offset < 0 || limit < 0)
		return CD_ERR_RANGE;
	if (!f)
		f = &none;
	if (given(f->category_prefix) && !category_prefix_ok(f->category_prefix))
		return CD_ERR_INVALID;
	if (limit > STORE_CASES_PAGE_MAX)
		limit = STORE_CASES_PAGE_MAX;
	page->cases = try_calloc((size_t)limit + 1, sizeof *page->cases);
	if (!page->cases)
		return CD_ERR_NOMEM;
	struct case_index_filter cf;
	int empty = 0;
	index_filter(f, &cf, &empty);
	store__journal_barrier(st, STORE__READ_WAIT_MS);
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = store__cindex_ready(st); /* built on the first list */
	if (!rc && empty) {
		page->total = 0;
	} else if (!rc && given(f->q)) {
		rc = list_q(st, &cf, f->q, offset, limit, started_ms, page);
	} else if (!rc) {
		int64_t ids[STORE_CASES_PAGE_MAX];
		size_t n = 0;
		case_index_page(st->cindex, &cf, offset, (size_t)limit, ids, &n, &page->total);
		for (size_t i = 0; i < n && !rc; i++)
			rc = page_add(st, ids[i], page);
	}
	store__unlock(st);
	if (rc)
		store_case_page_release(page);
	return rc;
}
/* ---- scheduler, duplicates, scores --------------------------------------------------- */

enum cd_err store_cases_due(struct store *st, int64_t now, size_t max, store_case_due_fn fn, void *ctx)
{
	if (max == 0)
		max = 10000;
	char ref[STORE_CASE_REF_MAX];
	size_t calls = 0;
	int stop = 0;
	store__journal_barrier(st, STORE__READ_WAIT_MS);
	store__lock(st);
	enum cd_err rc = CD_OK;
	static const enum store__stmt which[2] = {STORE__CASE_DUE_OVERDUE, STORE__CASE_DUE_WARN};
	for (int q = 0; q < 2 && !rc && !stop && calls < max; q++) {
		sqlite3_stmt *s = store__stmt(st, which[q]);
		if (!s) {
			rc = CD_ERR_STORE;
			break;
		}
		sqlite3_bind_int64(s, 1, now);
		sqlite3_bind_int64(s, 2, (int64_t)(max - calls));
		int src;
		while (!stop && (src = sqlite3_step(s)) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(s, 0);
			rc = store__col_copy(s, 1, ref, sizeof ref);
			if (rc)
				break;
			int warn = q == 0 ? sqlite3_column_int(s, 2) == 0 : 1;
			calls++;
			stop = fn(ctx, id, ref, warn, q == 0);
		}
		if (!rc && !stop && src != SQLITE_DONE)
			rc = store__err(st, src, "cases due");
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_cases_recent(struct store *st, int64_t since, store_case_recent_fn fn, void *ctx)
{
	struct store_case_brief b;
	store__journal_barrier(st, STORE__READ_WAIT_MS);
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_RECENT);
	if (s) {
		sqlite3_bind_int64(s, 1, since);
		/* No index on reported_at: the list index names the oldest id of the range, and
		 * the table is read by rowid from there (ids grow with time, imports aside). */
		int64_t first = store__cindex_ready(st) == CD_OK ? case_index_first_id(st->cindex, since) : 0;
		sqlite3_bind_int64(s, 2, st->cindex && !first ? INT64_MAX : first);
		int src;
		rc = CD_OK;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			memset(&b, 0, sizeof b);
			b.id = sqlite3_column_int64(s, 0);
			rc = store__col_copy(s, 1, b.ref, sizeof b.ref);
			if (!rc)
				rc = store__col_copy(s, 2, b.status, sizeof b.status);
			if (!rc)
				rc = store__col_copy(s, 3, b.category_code, sizeof b.category_code);
			if (!rc)
				rc = store__col_copy(s, 4, b.grid_code, sizeof b.grid_code);
			b.has_point = sqlite3_column_type(s, 5) != SQLITE_NULL;
			b.lat = sqlite3_column_double(s, 5);
			b.lng = sqlite3_column_double(s, 6);
			b.reported_at = sqlite3_column_int64(s, 7);
			b.merged_into = sqlite3_column_int64(s, 8);
			if (rc || fn(ctx, &b))
				break;
		}
		if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
			rc = store__err(st, src, "cases recent");
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_scores(struct store *st, const char *by, const char *from_day, const char *to_day,
			 store_score_fn fn, void *ctx)
{
	if (!by || (strcmp(by, "unit") != 0 && strcmp(by, "street") != 0 && strcmp(by, "category") != 0) ||
	    !store__day_well_formed(from_day) || !store__day_well_formed(to_day))
		return CD_ERR_INVALID;
	store__journal_barrier(st, STORE__READ_WAIT_MS);
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_SCORES);
	if (s) {
		store__bind_text(s, 1, by);
		store__bind_text(s, 2, from_day);
		store__bind_text(s, 3, to_day);
		int src;
		rc = CD_OK;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			struct store_score_row r;
			const unsigned char *key = sqlite3_column_text(s, 0);
			r.key = key ? (const char *)key : "";
			int64_t *v[] = {&r.received,
					&r.closed,
					&r.closed_on_time,
					&r.responded,
					&r.responded_on_time,
					&r.rework,
					&r.rated,
					&r.satisfied,
					&r.basically_satisfied,
					&r.dissatisfied,
					&r.handling_seconds_sum};
			for (int i = 0; i < 11; i++)
				*v[i] = sqlite3_column_int64(s, i + 1);
			if (fn(ctx, &r))
				break;
		}
		if (src != SQLITE_ROW && src != SQLITE_DONE)
			rc = store__err(st, src, "scores");
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

/* ---- files --------------------------------------------------------------------------- */

static int hex_ok(const char *s, size_t want)
{
	if (strlen(s) != want)
		return 0;
	for (size_t i = 0; i < want; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static enum cd_err file_add_tx(struct store *st, const struct store_actor *actor, const struct store_file *f)
{
	sqlite3_stmt *s = store__stmt(st, STORE__FILE_INSERT);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, f->id);
	store__bind_text(s, 2, f->mime);
	sqlite3_bind_int64(s, 3, f->bytes);
	store__bind_text(s, 4, f->sha256);
	store__bind_text(s, 5,
			 f->created_by[0]			? f->created_by
			 : actor && actor->name && *actor->name ? actor->name
								: "system");
	sqlite3_bind_int64(s, 6, f->created_at ? f->created_at : (int64_t)time(NULL));
	enum cd_err rc = store__exec(st, s, "file insert");
	char *after = NULL, target[48];
	snprintf(target, sizeof target, "files/%s", f->id);
	if (!rc)
		rc = store__snapshot_text(st, STORE__FILE_SNAP, f->id, &after);
	if (!rc)
		rc = store__audit_add(st, actor, "file.add", target, NULL, after);
	xfree(after);
	return rc;
}

enum cd_err store_file_add(struct store *st, const struct store_actor *actor, const struct store_file *f)
{
	if (!STORE__TERMINATED(f->id) || !STORE__TERMINATED(f->mime) || !STORE__TERMINATED(f->sha256) ||
	    !STORE__TERMINATED(f->created_by) || !hex_ok(f->id, 32) || !hex_ok(f->sha256, 64) ||
	    !f->mime[0] || f->bytes < 0)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, file_add_tx(st, actor, f));
	store__unlock(st);
	return rc;
}

enum cd_err store_file_get(struct store *st, const char *id, struct store_file *out)
{
	memset(out, 0, sizeof *out);
	if (!id || !*id)
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__FILE_GET);
	if (s) {
		store__bind_text(s, 1, id);
		rc = store__step_row(st, s, "file get");
		if (!rc) {
			rc = store__col_copy(s, 0, out->id, sizeof out->id);
			if (!rc)
				rc = store__col_copy(s, 1, out->mime, sizeof out->mime);
			out->bytes = sqlite3_column_int64(s, 2);
			if (!rc)
				rc = store__col_copy(s, 3, out->sha256, sizeof out->sha256);
			if (!rc)
				rc = store__col_copy(s, 4, out->created_by, sizeof out->created_by);
			out->created_at = sqlite3_column_int64(s, 5);
		}
		store__done(s);
	}
	store__unlock(st);
	return rc;
}
