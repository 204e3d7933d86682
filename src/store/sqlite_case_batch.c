/* store_case_apply_steps: many workflow steps in one SQLite transaction (store_case_batch.h).
 * Each step is checked and recorded as store_case_apply records one (sqlite_cases.c): row with
 * optimistic version, event, score deltas, audit entry with the changed fields. What a batch
 * saves: the commit (one WAL sync instead of one per step); the read and the UPDATE of a case
 * between two of its own consecutive steps (the row and its index entries are written
 * once per run of steps, as the last step leaves it); and the score upserts (deltas are sorted
 * and summed per row of case_stats first). The row, event, score and audit pieces are
 * sqlite_case_rows.c's, shared with store_case_apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "store/store_case_batch.h"
#include "util/alloc.h"
#include "util/buf.h"

/* CASE_UPDATE's WHERE parameters follow the 45 SET parameters. */
#define PARAM_WHERE_ID STORE__CASE_NFIELDS
#define PARAM_WHERE_VERSION (STORE__CASE_NFIELDS + 1)

/* ---- score deltas: one line per (dimension, day, key), summed, then one upsert each -------- */

struct stat_line {
	int dim; /* index into store__case_stat_dims */
	char day[11];
	char key[STORE_CATEGORY_MAX];
	int v[STORE__STATS_NCOUNTS];
	int64_t seconds;
};

struct stat_lines {
	struct stat_line *l;
	size_t n, cap;
};

static enum cd_err stat_lines_add(struct stat_lines *sl, const struct store_stats_delta *d, int64_t now)
{
	if (!store__case_delta_well_formed(d))
		return CD_ERR_INVALID;
	const char *keys[3] = {d->unit_code, d->street_code, d->category_code};
	int v[STORE__STATS_NCOUNTS];
	char day[11];
	store__case_delta_counts(d, v);
	store_day_of(d->at ? d->at : now, day);
	if (sl->n + 3 > sl->cap) {
		sl->cap = sl->cap ? sl->cap * 2 : 1024;
		sl->l = xrealloc(sl->l, sl->cap * sizeof *sl->l);
	}
	for (int dim = 0; dim < 3; dim++) {
		struct stat_line *e = &sl->l[sl->n++];
		e->dim = dim;
		memcpy(e->day, day, sizeof e->day);
		snprintf(e->key, sizeof e->key, "%s", keys[dim]);
		memcpy(e->v, v, sizeof e->v);
		e->seconds = d->handling_seconds_sum;
	}
	return CD_OK;
}

static int stat_line_cmp(const void *pa, const void *pb)
{
	const struct stat_line *a = pa, *b = pb;
	if (a->dim != b->dim)
		return a->dim - b->dim;
	int c = strcmp(a->day, b->day);
	return c ? c : strcmp(a->key, b->key);
}

/* Sums the lines of each (dimension, day, key) and adds each sum to case_stats: the same rows
 * and totals as one upsert per delta. */
static enum cd_err stat_lines_write(struct store *st, struct stat_lines *sl)
{
	if (sl->n) /* steps without deltas leave l NULL, which qsort may not be given */
		qsort(sl->l, sl->n, sizeof *sl->l, stat_line_cmp);
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < sl->n && !rc;) {
		struct stat_line sum = sl->l[i];
		size_t j = i + 1;
		for (; j < sl->n && stat_line_cmp(&sum, &sl->l[j]) == 0; j++) {
			for (int k = 0; k < STORE__STATS_NCOUNTS; k++)
				sum.v[k] += sl->l[j].v[k];
			sum.seconds += sl->l[j].seconds;
		}
		i = j;
		rc = store__case_stats_put(st, store__case_stat_dims[sum.dim], sum.day, sum.key, sum.v,
					   sum.seconds);
	}
	return rc;
}

/* ---- the batch -------------------------------------------------------------------------------- */

/* Writes the row of the case being walked: once per run of steps on one case, with the
 * version the run started from (rows between two steps of a run exist only inside this
 * transaction, so nobody could read them: the store ends up exactly as after one UPDATE per
 * step, with one index update instead of one per step). */
static enum cd_err row_write(struct store *st, const struct store_case *row, int64_t stored_version)
{
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_UPDATE);
	if (!s)
		return CD_ERR_STORE;
	store__case_bind(s, row);
	sqlite3_bind_int64(s, PARAM_WHERE_ID, row->id);
	sqlite3_bind_int64(s, PARAM_WHERE_VERSION, stored_version);
	enum cd_err rc = store__exec(st, s, "case update");
	if (!rc && sqlite3_changes(st->db) != 1)
		rc = CD_ERR_CONFLICT;
	return rc;
}

/* One step inside the transaction. *cur is the case as it stands (read, or as the previous step
 * of the same case left it); on success it becomes the step's row, to be written by row_write. */
static enum cd_err step_write(struct store *st, struct store_case_step *sp, struct store_case *cur,
			      struct store_case_event *ev, struct stat_lines *sl, struct buf *b, struct buf *a,
			      int64_t now)
{
	struct store_case *after = sp->after;
	if (cur->version != sp->expected_version)
		return CD_ERR_CONFLICT;
	after->id = cur->id;
	memcpy(after->ref, cur->ref, sizeof after->ref);
	after->created_at = cur->created_at;
	after->version = sp->expected_version + 1;
	after->updated_at = now;
	store__case_defaults(after);
	enum cd_err rc = CD_OK;
	if (sp->ev) {
		*ev = *sp->ev; /* a copy, as store_case_apply makes: the caller's stays const */
		rc = store__case_event_insert(st, sp->case_id, ev, sp->actor, now);
	}
	for (size_t i = 0; i < sp->ndeltas && !rc; i++)
		rc = stat_lines_add(sl, &sp->deltas[i], now);
	if (!rc)
		rc = store__case_audit_step(st, sp->actor, cur, after, sp->ev ? ev : NULL, b, a);
	if (!rc)
		*cur = *after;
	return rc;
}

static enum cd_err steps_tx(struct store *st, struct store_case_step *steps, size_t n, size_t *failed)
{
	struct store_case *cur = xmalloc(sizeof *cur); /* the case being walked, as it stands */
	struct store_case_event *ev = xmalloc(sizeof *ev); /* the step's event, as inserted */
	struct stat_lines sl = {NULL, 0, 0};
	struct buf b, a;
	int64_t now = (int64_t)time(NULL), cur_id = 0, stored_version = 0;
	enum cd_err rc = CD_OK;
	buf_init(&b, 1 << 20);
	buf_init(&a, 1 << 20);
	size_t i = 0;
	for (; i < n && !rc; i++) {
		const struct store_case *c = steps[i].after;
		if (!c || !store__case_well_formed(c) || !c->description[0] || c->reported_at <= 0 ||
		    (steps[i].ndeltas && !steps[i].deltas)) {
			rc = CD_ERR_INVALID;
			break;
		}
		if (cur_id != steps[i].case_id) {
			if (cur_id && (rc = row_write(st, cur, stored_version)) != CD_OK) {
				i--; /* the previous case's last step */
				break;
			}
			cur_id = 0;
			sqlite3_stmt *s = store__stmt(st, STORE__CASE_BY_ID);
			if (!s) {
				rc = CD_ERR_STORE;
				break;
			}
			sqlite3_bind_int64(s, 1, steps[i].case_id);
			rc = store__step_row(st, s, "case get");
			if (!rc)
				rc = store__case_from_row(s, cur);
			store__done(s);
			if (rc)
				break;
			cur_id = steps[i].case_id;
			stored_version = cur->version;
		}
		rc = step_write(st, &steps[i], cur, ev, &sl, &b, &a, now);
		if (rc)
			break;
	}
	if (!rc && cur_id && (rc = row_write(st, cur, stored_version)) != CD_OK)
		i = n - 1;
	if (!rc) {
		rc = stat_lines_write(st, &sl);
		i = n;
	}
	*failed = i;
	xfree(sl.l);
	buf_release(&b);
	buf_release(&a);
	xfree(ev);
	xfree(cur);
	return rc;
}

enum cd_err store_case_apply_steps(struct store *st, struct store_case_step *steps, size_t n, size_t *failed)
{
	size_t where = 0;
	if (failed)
		*failed = 0;
	if (n > STORE_CASE_STEPS_MAX)
		return CD_ERR_RANGE;
	if (!n)
		return CD_OK;
	/* What store_case_apply gives back on failure: the callers' rows as they were. */
	int64_t *saved = xmalloc(2 * n * sizeof *saved);
	for (size_t i = 0; i < n; i++) {
		saved[2 * i] = steps[i].after ? steps[i].after->version : 0;
		saved[2 * i + 1] = steps[i].after ? steps[i].after->updated_at : 0;
	}
	if (st->journal)
		store__journal_barrier(st, 0);
	store__lock(st);
	store__cases_setup(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, steps_tx(st, steps, n, &where));
	if (!rc) {
		/* committed: the list index follows, each case as its last step left it */
		struct store__cindex_batch idx = {NULL, 0, 0};
		for (size_t i = 0; i < n; i++)
			store__cindex_note(&idx, steps[i].after);
		store__cindex_flush(st, &idx);
		store__cindex_release(&idx);
	}
	store__unlock(st);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			if (!steps[i].after)
				continue;
			steps[i].after->version = saved[2 * i];
			steps[i].after->updated_at = saved[2 * i + 1];
		}
	}
	if (failed)
		*failed = rc ? where : n;
	xfree(saved);
	return rc;
}
