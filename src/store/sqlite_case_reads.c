/* Reading cases in the SQLite store: filtered lists with capped totals under time budgets, the
 * scheduler's due list, the recent cases for the duplicate finder, score aggregates, and uploaded
 * file metadata. docs/internals/store.md ("Cases") explains which index each query relies on. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- lists --------------------------------------------------------------------------- */

#define LIST_PARAMS_MAX 16

/* The WHERE clause of a list and its parameters, built from a filter. */
struct where {
	struct buf sql;
	const char *text[LIST_PARAMS_MAX]; /* text parameter, or NULL for num */
	int64_t num[LIST_PARAMS_MAX];
	int n;
	char cat_hi[STORE_CATEGORY_MAX]; /* upper bound of a category prefix range */
	int empty;			 /* the filter cannot match anything */
};

static enum cd_err where_text(struct where *w, const char *cond, const char *value)
{
	if (w->n == LIST_PARAMS_MAX)
		return CD_ERR_TOOBIG;
	w->text[w->n] = value;
	w->n++;
	return buf_printf(&w->sql, " AND %s ?%d", cond, w->n);
}

static enum cd_err where_num(struct where *w, const char *cond, int64_t value)
{
	if (w->n == LIST_PARAMS_MAX)
		return CD_ERR_TOOBIG;
	w->text[w->n] = NULL;
	w->num[w->n] = value;
	w->n++;
	return buf_printf(&w->sql, " AND %s ?%d", cond, w->n);
}

static int given(const char *s)
{
	return s && *s;
}

/* A filter value and the caller's scope on the same column: both must hold. */
static const char *scoped(struct where *w, const char *filter, const char *scope)
{
	if (given(filter) && given(scope) && strcmp(filter, scope) != 0)
		w->empty = 1;
	return given(scope) ? scope : filter;
}

/* Category codes are ASCII letters and digits: the prefix range's upper bound is the prefix
 * with its last byte raised by one. */
static int category_prefix_ok(const char *p, size_t len)
{
	if (len == 0 || len >= STORE_CATEGORY_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			return 0;
	}
	return 1;
}

/* A full code has 7 characters (H + three 2-digit levels, UP/UM + 5 digits): matching it
 * exactly lets the category index deliver newest-first order without a sort. */
#define CATEGORY_LEAF_LEN 7

/* Builds the WHERE for f. for_page: the newest-first page, where a broad category prefix
 * must not pull the category index (it would sort every matching case). */
static enum cd_err where_build(struct where *w, const struct store_case_filter *f, int for_page)
{
	enum cd_err rc = buf_puts(&w->sql, " WHERE 1");
	const char *v;
	/* Closed and rated are where every case ends up: they hold most rows at any age of the
	 * store, so an equality on them never narrows much and the planner must not lead with the
	 * status index for them (its statistics describe a typical status, which is rare; see
	 * stats_distinct in sqlite_cases.c). "+status" keeps the test and leaves the choice of
	 * index to the other filters (or the newest-first walk). */
	if (!rc && given(f->status))
		rc = where_text(w,
				strcmp(f->status, "closed") == 0 || strcmp(f->status, "rated") == 0 ? "+status ="
													 : "status =",
				f->status);
	const char *v_street = scoped(w, f->street_code, f->scope_street);
	/* With a community in that street, the street condition says nothing more (checked just
	 * below) and would only make the community index non-covering: cases_community has no
	 * street column, and every candidate's row was read to test it. */
	if (!rc && given(v_street) && !given(f->community_code))
		rc = where_text(w, "street_code =", v_street);
	v = scoped(w, f->unit_code, f->scope_unit);
	if (!rc && given(v))
		rc = where_text(w, "unit_code =", v);
	/* Area codes are hierarchical (a community's 12 digits start with its street's 9): a
	 * community outside the street asked for (or the caller's street) matches nothing, and
	 * without this the street's whole range would be walked to find that out. */
	if (given(f->community_code) && given(v_street) &&
	    strncmp(f->community_code, v_street, strlen(v_street)) != 0)
		w->empty = 1;
	if (!rc && given(f->community_code))
		rc = where_text(w, "community_code =", f->community_code);
	if (!rc && given(f->channel))
		rc = where_text(w, "channel =", f->channel);
	if (!rc && given(f->category_prefix)) {
		size_t len = strlen(f->category_prefix);
		if (!category_prefix_ok(f->category_prefix, len))
			return CD_ERR_INVALID;
		if (len >= CATEGORY_LEAF_LEN) {
			rc = where_text(w, "category_code =", f->category_prefix);
		} else {
			memcpy(w->cat_hi, f->category_prefix, len + 1);
			w->cat_hi[len - 1]++;
			const char *col = for_page ? "+category_code" : "category_code";
			char cond[32];
			snprintf(cond, sizeof cond, "%s >=", col);
			rc = where_text(w, cond, f->category_prefix);
			snprintf(cond, sizeof cond, "%s <", col);
			if (!rc)
				rc = where_text(w, cond, w->cat_hi);
		}
	}
	if (!rc && f->uncategorized)
		rc = buf_puts(&w->sql, " AND category_code IS NULL"); /* "" is stored as NULL */
	if (!rc && f->overdue)
		rc = buf_puts(&w->sql, f->overdue > 0 ? " AND overdue = 1" : " AND overdue = 0");
	if (!rc && f->from)
		rc = where_num(w, "reported_at >=", f->from);
	if (!rc && f->to)
		rc = where_num(w, "reported_at <", f->to);
	if (!rc && given(f->q)) {
		if (w->n == LIST_PARAMS_MAX)
			return CD_ERR_TOOBIG;
		w->text[w->n] = f->q;
		w->n++;
		/* instr, not LIKE: no wildcards to escape, and it compares bytes (UTF-8 safe). */
		rc = buf_printf(&w->sql, " AND (instr(title, ?%d) > 0 OR instr(description, ?%d) > 0)", w->n,
				w->n);
	}
	return rc;
}

static void where_bind(const struct where *w, sqlite3_stmt *s)
{
	for (int i = 0; i < w->n; i++) {
		if (w->text[i])
			store__bind_text(s, i + 1, w->text[i]);
		else
			sqlite3_bind_int64(s, i + 1, w->num[i]);
	}
}

/* Time budgets of one list call, in ms. The store has one mutex: a query that walks a million
 * cases (a rare `q` with no other filter) would stall intake behind it for seconds. Past the
 * page budget the call fails with CD_ERR_TOOBIG (ask for a narrower filter); past the count
 * budget the total is reported as capped ("at least"). The count's budget is small because the
 * total is the expensive half of a list: the page stops after `limit` matches, the count walks
 * every candidate, mostly in older index pages that are not in the cache. */
#define LIST_PAGE_BUDGET_MS 250
#define LIST_COUNT_BUDGET_MS 10
/* A list whose total has to be counted by walking (three conditions, a time range, q) answers
 * within this much from its call when it can: the count gets what the page left of it, at
 * least LIST_COUNT_MIN_MS and at most LIST_COUNT_BUDGET_MS. */
#define LIST_TOTAL_BUDGET_MS 8
#define LIST_COUNT_MIN_MS 1

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* sqlite3_progress_handler callback: non-zero interrupts the statement. */
static int over_budget(void *deadline_ms)
{
	return mono_ms() > *(const double *)deadline_ms;
}

/* Steps s with a deadline; SQLITE_INTERRUPT when it ran out. */
static int step_within(struct store *st, sqlite3_stmt *s, double *deadline)
{
	sqlite3_progress_handler(st->db, 10000, over_budget, deadline);
	int src = sqlite3_step(s);
	sqlite3_progress_handler(st->db, 0, NULL, NULL);
	return src;
}

/* Runs the page query; appends rows to page->cases. Store locked. */
static enum cd_err list_page(struct store *st, const struct store_case_filter *f, int64_t offset,
			     int64_t limit, struct store_case_page *page)
{
	struct where w;
	memset(&w, 0, sizeof w);
	buf_init(&w.sql, 8192);
	/* The page's ids first, from index entries alone (every list index holds every filter
	 * column), then only those rows: without the inner query SQLite reads each candidate's
	 * whole row (~1 KB, often a page of its own not in the cache) before the ORDER BY,
	 * and "RIGHT PART OF ORDER BY" sorts whole rows. */
	enum cd_err rc =
		buf_puts(&w.sql, "SELECT " STORE__CASE_COLS " FROM cases WHERE id IN (SELECT id FROM cases");
	if (!rc)
		rc = where_build(&w, f, 1);
	if (!rc)
		rc = buf_printf(&w.sql,
				" ORDER BY reported_at DESC, id DESC LIMIT %lld OFFSET %lld)"
				" ORDER BY reported_at DESC, id DESC",
				(long long)limit, (long long)offset);
	if (rc || w.empty) {
		buf_release(&w.sql);
		return rc;
	}
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(st->db, w.sql.data, -1, &s, NULL);
	if (src != SQLITE_OK) {
		rc = store__err(st, src, "case list prepare");
		buf_release(&w.sql);
		return rc;
	}
	where_bind(&w, s);
	src = SQLITE_DONE;
	double deadline = mono_ms() + LIST_PAGE_BUDGET_MS;
	while (!rc && page->n < (size_t)limit && (src = step_within(st, s, &deadline)) == SQLITE_ROW)
		rc = store__case_from_row(s, &page->cases[page->n++]);
	if (!rc && src == SQLITE_INTERRUPT) {
		log_msg(LOG_WARN, "store: case list over its time budget", "\"budget_ms\":%d",
			LIST_PAGE_BUDGET_MS);
		rc = CD_ERR_TOOBIG;
	} else if (!rc && src != SQLITE_ROW && src != SQLITE_DONE) {
		rc = store__err(st, src, "case list");
	}
	sqlite3_finalize(s);
	buf_release(&w.sql);
	return rc;
}

/* Counts the matches up to STORE_CASES_COUNT_CAP + 1; *out_of_time set when the count ran
 * past its budget (*out is then meaningless). Store locked. */
static enum cd_err list_count(struct store *st, const struct store_case_filter *f, double started_ms,
			      int64_t *out, int *out_of_time)
{
	*out_of_time = 0;
	struct where w;
	memset(&w, 0, sizeof w);
	buf_init(&w.sql, 8192);
	*out = 0;
	enum cd_err rc = buf_puts(&w.sql, "SELECT count(*) FROM (SELECT 1 FROM cases");
	if (!rc)
		rc = where_build(&w, f, 0);
	if (!rc)
		rc = buf_printf(&w.sql, " LIMIT %d)", STORE_CASES_COUNT_CAP + 1);
	if (rc || w.empty) {
		buf_release(&w.sql);
		return rc;
	}
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(st->db, w.sql.data, -1, &s, NULL);
	if (src != SQLITE_OK) {
		rc = store__err(st, src, "case count prepare");
		buf_release(&w.sql);
		return rc;
	}
	where_bind(&w, s);
	double now = mono_ms(), deadline = started_ms + LIST_TOTAL_BUDGET_MS;
	if (deadline < now + LIST_COUNT_MIN_MS)
		deadline = now + LIST_COUNT_MIN_MS;
	if (deadline > now + LIST_COUNT_BUDGET_MS)
		deadline = now + LIST_COUNT_BUDGET_MS;
	src = step_within(st, s, &deadline);
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (src == SQLITE_INTERRUPT)
		*out_of_time = 1;
	else
		rc = store__err(st, src == SQLITE_DONE ? SQLITE_ERROR : src, "case count");
	sqlite3_finalize(s);
	buf_release(&w.sql);
	return rc;
}

/* Appends one condition of kind `dim` to a case_counts key ("|" between conditions); false
 * when the key would not fit or is not counted (a third condition, or a pair that
 * STORE__COUNT_PAIRS leaves to the walking count). */
static int count_key_part(char *key, size_t cap, int *dims, int *nparts, int dim, const char *part,
			  const char *value)
{
	if (*nparts == 2 || (*nparts == 1 && !(STORE__COUNT_PAIRS(dims[0]) & (1u << dim))))
		return 0;
	size_t len = strlen(key);
	int w = snprintf(key + len, cap - len, "%s%s%s", *nparts ? "|" : "", part, value);
	if (w < 0 || (size_t)w >= cap - len)
		return 0;
	dims[(*nparts)++] = dim;
	return 1;
}

/* The exact total of f from case_counts when f is "*", one counted condition or a counted pair
 * (status, street, community, unit, category code or a 2/3/5-character prefix, uncategorized,
 * channel, overdue; no time range, no q): *known = 1 and *out the count. Otherwise *known = 0.
 * The conditions are taken as the list takes them (a scope is the same condition as the filter
 * on its column; a community makes the street redundant). Store locked. */
static enum cd_err count_from_table(struct store *st, const struct store_case_filter *f, int64_t *out,
				    int *known)
{
	*known = 0;
	*out = 0;
	if (f->from || f->to || given(f->q) || (given(f->category_prefix) && f->uncategorized))
		return CD_OK;
	struct where w;
	memset(&w, 0, sizeof w);
	const char *street = scoped(&w, f->street_code, f->scope_street);
	const char *unit = scoped(&w, f->unit_code, f->scope_unit);
	if (given(f->community_code) && given(street) &&
	    strncmp(f->community_code, street, strlen(street)) != 0)
		w.empty = 1;
	if (w.empty) {
		*known = 1; /* nothing can match */
		return CD_OK;
	}
	char key[2 * STORE_CATEGORY_MAX + 16] = "";
	int dims[2], parts = 0, ok = 1;
	if (given(f->status))
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_STATUS, "s=", f->status);
	if (ok && given(street) && !given(f->community_code))
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_STREET, "st=", street);
	if (ok && given(f->community_code))
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_COMMUNITY, "cm=", f->community_code);
	if (ok && given(unit))
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_UNIT, "u=", unit);
	if (ok && given(f->category_prefix)) {
		size_t len = strlen(f->category_prefix);
		if (!category_prefix_ok(f->category_prefix, len))
			return CD_ERR_INVALID;
		if (len >= CATEGORY_LEAF_LEN)
			ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_CAT, "c=", f->category_prefix);
		else if (len == 2 || len == 3 || len == 5)
			ok = count_key_part(key, sizeof key, dims, &parts,
					    len == 2 ? STORE__CD_CAT2 : len == 3 ? STORE__CD_CAT3 : STORE__CD_CAT5,
					    "c^", f->category_prefix);
		else
			ok = 0;
	}
	if (ok && f->uncategorized)
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_CAT, "c=", "");
	if (ok && given(f->channel))
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_CHANNEL, "h=", f->channel);
	if (ok && f->overdue)
		ok = count_key_part(key, sizeof key, dims, &parts, STORE__CD_OVERDUE, "o=", f->overdue > 0 ? "1" : "0");
	if (!ok)
		return CD_OK;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_COUNT_GET);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, parts ? key : "*");
	enum cd_err rc = store__step_row(st, s, "case count lookup");
	if (rc == CD_OK)
		*out = sqlite3_column_int64(s, 0);
	store__done(s);
	if (rc == CD_ERR_NOTFOUND)
		rc = CD_OK; /* no such case ever counted: 0 */
	if (!rc)
		*known = 1;
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
	if (limit > STORE_CASES_PAGE_MAX)
		limit = STORE_CASES_PAGE_MAX;
	page->cases = try_calloc((size_t)limit + 1, sizeof *page->cases);
	if (!page->cases)
		return CD_ERR_NOMEM;
	store__journal_barrier(st, STORE__READ_WAIT_MS);
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = limit ? list_page(st, f, offset, limit, page) : CD_OK;
	int64_t total = 0;
	int out_of_time = 0;
	if (!rc) {
		int known = 0;
		if (page->n && (int64_t)page->n < limit)
			total = offset + (int64_t)page->n; /* the last page: no need to count */
		else if (!(rc = count_from_table(st, f, &total, &known)) && !known)
			rc = list_count(st, f, started_ms, &total, &out_of_time);
		if (known) {
			/* Exact at any size: no cap. */
			store__unlock(st);
			page->total = total;
			return CD_OK;
		}
	}
	store__unlock(st);
	if (rc) {
		store_case_page_release(page);
		return rc;
	}
	if (out_of_time) {
		/* Unknown, but at least what this page reaches. */
		page->total = offset + (int64_t)page->n;
		page->total_capped = 1;
	} else if (total > STORE_CASES_COUNT_CAP) {
		page->total = STORE_CASES_COUNT_CAP;
		page->total_capped = 1;
	} else {
		page->total = total;
	}
	return CD_OK;
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
