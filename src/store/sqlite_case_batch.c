/* store_case_apply_steps: many workflow steps in one SQLite transaction (store_case_batch.h).
 * Each step is checked and recorded as store_case_apply records one (sqlite_cases.c): row with
 * optimistic version, event, score deltas, audit entry with the changed fields. What a batch
 * saves: the commit (one WAL sync instead of one per step); the read and the UPDATE of a case
 * between two of its own consecutive steps (the row and its fourteen index entries are written
 * once per run of steps, as the last step leaves it); and the score upserts (deltas are sorted
 * and summed per row of case_stats first). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "store/store_case_batch.h"
#include "util/alloc.h"
#include "util/buf.h"

#define NF STORE__CASE_NFIELDS
#define F store__case_fields
/* CASE_UPDATE's WHERE parameters follow the 45 SET parameters. */
#define PARAM_WHERE_ID NF
#define PARAM_WHERE_VERSION (NF + 1)

/* ---- reading a field of struct store_case through the field table --------------------------- */

static const char *ftext(const struct store_case *c, size_t k)
{
	return (const char *)c + F[k].off;
}

static int64_t fint64(const struct store_case *c, size_t k)
{
	int64_t v;
	memcpy(&v, (const char *)c + F[k].off, sizeof v);
	return v;
}

static int fint32(const struct store_case *c, size_t k)
{
	int v;
	memcpy(&v, (const char *)c + F[k].off, sizeof v);
	return v;
}

static double fdouble(const struct store_case *c, size_t k)
{
	double v;
	memcpy(&v, (const char *)c + F[k].off, sizeof v);
	return v;
}

/* The columns the audit diff leaves out (never change, or change on every write). */
static int bookkeeping(size_t k)
{
	static const char *const names[] = {"id", "ref", "version", "created_at", "updated_at"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(F[k].name, names[i]) == 0)
			return 1;
	return 0;
}

/* What store_case_apply accepts as a new row: terminated texts, finite numbers, a description
 * and a report time. */
static int row_acceptable(const struct store_case *c)
{
	for (size_t k = 0; k < NF; k++)
		if ((F[k].type == STORE__F_TEXT || F[k].type == STORE__F_OTEXT) &&
		    !memchr(ftext(c, k), 0, F[k].size))
			return 0;
	if (c->has_point && (!isfinite(c->lat) || !isfinite(c->lng)))
		return 0;
	return isfinite(c->category_confidence) && isfinite(c->limit_value) && c->description[0] &&
	       c->reported_at > 0;
}

/* The defaults a stored row has for empty fields (store.h, store_case_insert_batch). */
static void row_defaults(struct store_case *c)
{
	if (!c->status[0])
		snprintf(c->status, sizeof c->status, "reported");
	if (!c->level[0])
		snprintf(c->level, sizeof c->level, "community");
	if (!c->urgency[0])
		snprintf(c->urgency, sizeof c->urgency, "normal");
	if (!c->attachments[0])
		snprintf(c->attachments, sizeof c->attachments, "[]");
	if (c->support_count <= 0)
		c->support_count = 1;
}

/* Binds every column but id to CASE_UPDATE's ?1..?45, as the field table says it is stored. */
static void bind_row(sqlite3_stmt *s, const struct store_case *c)
{
	for (size_t k = 1; k < NF; k++) {
		int p = (int)k;
		int null = (F[k].type == STORE__F_OI64 && !fint64(c, k)) ||
			   (F[k].type == STORE__F_POINT && !c->has_point);
		if (null)
			sqlite3_bind_null(s, p);
		else if (F[k].type == STORE__F_TEXT)
			store__bind_text(s, p, ftext(c, k));
		else if (F[k].type == STORE__F_OTEXT)
			store__bind_opt(s, p, ftext(c, k));
		else if (F[k].type == STORE__F_INT)
			sqlite3_bind_int(s, p, fint32(c, k));
		else if (F[k].type == STORE__F_REAL || F[k].type == STORE__F_POINT)
			sqlite3_bind_double(s, p, fdouble(c, k));
		else
			sqlite3_bind_int64(s, p, fint64(c, k));
	}
}

static int differs(const struct store_case *a, const struct store_case *b, size_t k)
{
	switch (F[k].type) {
	case STORE__F_TEXT:
	case STORE__F_OTEXT:
		return strcmp(ftext(a, k), ftext(b, k)) != 0;
	case STORE__F_I64:
	case STORE__F_OI64:
		return fint64(a, k) != fint64(b, k);
	case STORE__F_INT:
		return fint32(a, k) != fint32(b, k);
	case STORE__F_POINT:
		if (a->has_point != b->has_point)
			return 1;
		if (!a->has_point)
			return 0;
		break;
	case STORE__F_REAL:
		break;
	}
	return memcmp((const char *)a + F[k].off, (const char *)b + F[k].off, sizeof(double)) != 0;
}

/* Appends ,"name":value of field k (the audit JSON's spelling: NULL columns as null). */
static enum cd_err put_field(struct buf *b, const struct store_case *c, size_t k)
{
	enum cd_err rc = buf_printf(b, ",\"%s\":", F[k].name);
	enum store__ftype t = F[k].type;
	if (rc)
		return rc;
	if ((t == STORE__F_OTEXT && !ftext(c, k)[0]) || (t == STORE__F_OI64 && !fint64(c, k)) ||
	    (t == STORE__F_POINT && !c->has_point))
		return buf_puts(b, "null");
	if (t == STORE__F_TEXT || t == STORE__F_OTEXT) {
		rc = buf_putc(b, '"');
		if (!rc)
			rc = buf_json_escape(b, ftext(c, k));
		return rc ? rc : buf_putc(b, '"');
	}
	if (t == STORE__F_INT)
		return buf_printf(b, "%d", fint32(c, k));
	if (t == STORE__F_REAL || t == STORE__F_POINT)
		return buf_printf(b, "%.17g", fdouble(c, k));
	return buf_printf(b, "%lld", (long long)fint64(c, k));
}

/* The audit entry of one step: before/after objects with id, ref, version and the changed
 * fields (the same JSON as store_case_apply's). */
static enum cd_err audit_step(struct store *st, const struct store_actor *actor, const struct store_case *old,
			      const struct store_case *now, const struct store_case_event *ev, struct buf *b,
			      struct buf *a)
{
	buf_reset(b);
	buf_reset(a);
	enum cd_err rc = buf_printf(b, "{\"id\":%lld,\"ref\":\"%s\",\"version\":%lld", (long long)old->id,
				    old->ref, (long long)old->version);
	if (!rc)
		rc = buf_printf(a, "{\"id\":%lld,\"ref\":\"%s\",\"version\":%lld", (long long)now->id, now->ref,
				(long long)now->version);
	for (size_t k = 0; k < NF && !rc; k++) {
		if (bookkeeping(k) || !differs(old, now, k))
			continue;
		rc = put_field(b, old, k);
		if (!rc)
			rc = put_field(a, now, k);
	}
	if (!rc)
		rc = buf_putc(b, '}');
	if (!rc)
		rc = buf_putc(a, '}');
	if (rc)
		return rc;
	char action[64], target[48];
	snprintf(action, sizeof action, "case.%s", ev && ev->action[0] ? ev->action : "update");
	snprintf(target, sizeof target, "cases/%lld", (long long)now->id);
	return store__audit_add(st, actor, action, target, b->data, a->data);
}

/* Inserts the step's event (a copy: the caller's stays const), as store_case_apply does. */
static enum cd_err event_write(struct store *st, int64_t case_id, const struct store_case_event *in,
			       const struct store_actor *actor, int64_t now)
{
	if (!STORE__TERMINATED(in->actor) || !STORE__TERMINATED(in->role) || !STORE__TERMINATED(in->action) ||
	    !STORE__TERMINATED(in->from_status) || !STORE__TERMINATED(in->to_status) ||
	    !STORE__TERMINATED(in->comment) || !STORE__TERMINATED(in->data) || !in->action[0])
		return CD_ERR_INVALID;
	const char *who = in->actor[0] ? in->actor : actor && actor->name && *actor->name ? actor->name : "system";
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_EVENT_INSERT);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, case_id);
	sqlite3_bind_int64(s, 2, in->at ? in->at : now);
	store__bind_text(s, 3, who);
	store__bind_text(s, 4, in->role);
	store__bind_text(s, 5, in->action);
	store__bind_opt(s, 6, in->from_status);
	store__bind_opt(s, 7, in->to_status);
	store__bind_text(s, 8, in->comment);
	store__bind_opt(s, 9, in->data);
	return store__exec(st, s, "case event insert");
}

/* ---- score deltas: one line per (dimension, day, key), summed, then one upsert each -------- */

#define NCOUNTS 10 /* the int counters of struct store_stats_delta, in CASE_STATS_ADD's order */

struct stat_line {
	int dim; /* 0 unit, 1 street, 2 category */
	char day[11];
	char key[STORE_CATEGORY_MAX];
	int v[NCOUNTS];
	int64_t seconds;
};

struct stat_lines {
	struct stat_line *l;
	size_t n, cap;
};

static const char *const stat_dims[3] = {"unit", "street", "category"};

static enum cd_err stat_lines_add(struct stat_lines *sl, const struct store_stats_delta *d, int64_t now)
{
	if (!STORE__TERMINATED(d->unit_code) || !STORE__TERMINATED(d->street_code) ||
	    !STORE__TERMINATED(d->category_code))
		return CD_ERR_INVALID;
	const char *keys[3] = {d->unit_code, d->street_code, d->category_code};
	const int v[NCOUNTS] = {d->received, d->closed, d->closed_on_time, d->responded, d->responded_on_time,
				d->rework, d->rated, d->satisfied, d->basically_satisfied, d->dissatisfied};
	char day[11];
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
	qsort(sl->l, sl->n, sizeof *sl->l, stat_line_cmp);
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < sl->n && !rc;) {
		struct stat_line sum = sl->l[i];
		size_t j = i + 1;
		for (; j < sl->n && stat_line_cmp(&sum, &sl->l[j]) == 0; j++) {
			for (int k = 0; k < NCOUNTS; k++)
				sum.v[k] += sl->l[j].v[k];
			sum.seconds += sl->l[j].seconds;
		}
		i = j;
		sqlite3_stmt *s = store__stmt(st, STORE__CASE_STATS_ADD);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, stat_dims[sum.dim]);
		store__bind_text(s, 2, sum.day);
		store__bind_text(s, 3, sum.key);
		for (int k = 0; k < NCOUNTS; k++)
			sqlite3_bind_int(s, 4 + k, sum.v[k]);
		sqlite3_bind_int64(s, 14, sum.seconds);
		rc = store__exec(st, s, "case stats");
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
	bind_row(s, row);
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
			      struct stat_lines *sl, struct buf *b, struct buf *a, int64_t now)
{
	struct store_case *after = sp->after;
	if (cur->version != sp->expected_version)
		return CD_ERR_CONFLICT;
	after->id = cur->id;
	memcpy(after->ref, cur->ref, sizeof after->ref);
	after->created_at = cur->created_at;
	after->version = sp->expected_version + 1;
	after->updated_at = now;
	row_defaults(after);
	enum cd_err rc = CD_OK;
	if (sp->ev)
		rc = event_write(st, sp->case_id, sp->ev, sp->actor, now);
	for (size_t i = 0; i < sp->ndeltas && !rc; i++)
		rc = stat_lines_add(sl, &sp->deltas[i], now);
	if (!rc)
		rc = audit_step(st, sp->actor, cur, after, sp->ev, b, a);
	if (!rc)
		*cur = *after;
	return rc;
}

static enum cd_err steps_tx(struct store *st, struct store_case_step *steps, size_t n, size_t *failed)
{
	struct store_case *cur = xmalloc(sizeof *cur); /* the case being walked, as it stands */
	struct stat_lines sl = {NULL, 0, 0};
	struct buf b, a;
	int64_t now = (int64_t)time(NULL), cur_id = 0, stored_version = 0;
	enum cd_err rc = CD_OK;
	buf_init(&b, 1 << 20);
	buf_init(&a, 1 << 20);
	size_t i = 0;
	for (; i < n && !rc; i++) {
		if (!steps[i].after || !row_acceptable(steps[i].after) || (steps[i].ndeltas && !steps[i].deltas)) {
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
		rc = step_write(st, &steps[i], cur, &sl, &b, &a, now);
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
