/* Row-level pieces of case writes shared by store_case_apply, the batch insert (sqlite_cases.c)
 * and store_case_apply_steps (sqlite_case_batch.c): the field table and the binding and reading
 * of a row through it, the checks and defaults of a new row, the event insert, the score
 * upserts and the audit diff, and the case list index kept in step with the rows written. One copy, so the batch writes exactly what one step writes. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"

/* ---- the field table: one entry per column of STORE__CASE_COLS, in that order ------------- */

#define FLD(name, type) {#name, type, offsetof(struct store_case, name), sizeof(((struct store_case *)0)->name)}

const struct store__field store__case_fields[STORE__CASE_NFIELDS] = {
	FLD(id, STORE__F_I64),
	FLD(ref, STORE__F_TEXT),
	FLD(version, STORE__F_I64),
	FLD(channel, STORE__F_TEXT),
	FLD(external_id, STORE__F_OTEXT),
	FLD(title, STORE__F_TEXT),
	FLD(description, STORE__F_TEXT),
	FLD(category_code, STORE__F_OTEXT),
	FLD(category_source, STORE__F_OTEXT),
	FLD(category_confidence, STORE__F_REAL),
	FLD(lat, STORE__F_POINT),
	FLD(lng, STORE__F_POINT),
	FLD(address, STORE__F_TEXT),
	FLD(street_code, STORE__F_OTEXT),
	FLD(community_code, STORE__F_OTEXT),
	FLD(grid_code, STORE__F_OTEXT),
	FLD(unit_code, STORE__F_OTEXT),
	FLD(status, STORE__F_TEXT),
	FLD(level, STORE__F_TEXT),
	FLD(supervised, STORE__F_INT),
	FLD(extension_pending, STORE__F_INT),
	FLD(suspended_from, STORE__F_OTEXT),
	FLD(urgency, STORE__F_TEXT),
	FLD(limit_kind, STORE__F_OTEXT),
	FLD(limit_value, STORE__F_REAL),
	FLD(reported_at, STORE__F_I64),
	FLD(registered_at, STORE__F_OI64),
	FLD(dispatched_at, STORE__F_OI64),
	FLD(first_response_at, STORE__F_OI64),
	FLD(handled_at, STORE__F_OI64),
	FLD(closed_at, STORE__F_OI64),
	FLD(deadline, STORE__F_OI64),
	FLD(warn_at, STORE__F_OI64),
	FLD(warned, STORE__F_INT),
	FLD(overdue, STORE__F_INT),
	FLD(rework_count, STORE__F_INT),
	FLD(satisfaction, STORE__F_OTEXT),
	FLD(duplicate_of, STORE__F_OI64),
	FLD(merged_into, STORE__F_OI64),
	FLD(support_count, STORE__F_INT),
	FLD(reporter_name, STORE__F_OTEXT),
	FLD(reporter_phone, STORE__F_OTEXT),
	FLD(reporter_user_id, STORE__F_OI64),
	FLD(attachments, STORE__F_TEXT),
	FLD(created_at, STORE__F_I64),
	FLD(updated_at, STORE__F_I64),
};

#define NFIELDS STORE__CASE_NFIELDS
#define fields store__case_fields
/* Positions in `fields` of the columns the audit diff leaves out. */
enum { COL_ID = 0, COL_REF = 1, COL_VERSION = 2, COL_CREATED_AT = 44, COL_UPDATED_AT = 45 };

const char *const store__case_stat_dims[3] = {"unit", "street", "category"};

/* Columns the audit diff leaves out: they never change or change on every write (the
 * version is written by store__case_diff_json itself). */
static int field_is_bookkeeping(size_t k)
{
	return k == COL_ID || k == COL_REF || k == COL_VERSION || k == COL_CREATED_AT ||
	       k == COL_UPDATED_AT;
}

static const char *cftext(const struct store_case *c, size_t k)
{
	return (const char *)c + fields[k].off;
}

static int64_t fi64(const struct store_case *c, size_t k)
{
	int64_t v;
	memcpy(&v, (const char *)c + fields[k].off, sizeof v);
	return v;
}

static int fint(const struct store_case *c, size_t k)
{
	int v;
	memcpy(&v, (const char *)c + fields[k].off, sizeof v);
	return v;
}

static double freal(const struct store_case *c, size_t k)
{
	double v;
	memcpy(&v, (const char *)c + fields[k].off, sizeof v);
	return v;
}

/* ---- a row through the field table ------------------------------------------------------ */

void store__case_bind(sqlite3_stmt *s, const struct store_case *c)
{
	for (size_t k = 1; k < NFIELDS; k++) {
		int idx = (int)k;
		switch (fields[k].type) {
		case STORE__F_TEXT:
			store__bind_text(s, idx, cftext(c, k));
			break;
		case STORE__F_OTEXT:
			store__bind_opt(s, idx, cftext(c, k));
			break;
		case STORE__F_I64:
			sqlite3_bind_int64(s, idx, fi64(c, k));
			break;
		case STORE__F_OI64:
			if (fi64(c, k))
				sqlite3_bind_int64(s, idx, fi64(c, k));
			else
				sqlite3_bind_null(s, idx);
			break;
		case STORE__F_INT:
			sqlite3_bind_int(s, idx, fint(c, k));
			break;
		case STORE__F_REAL:
			sqlite3_bind_double(s, idx, freal(c, k));
			break;
		case STORE__F_POINT:
			if (c->has_point)
				sqlite3_bind_double(s, idx, freal(c, k));
			else
				sqlite3_bind_null(s, idx);
			break;
		}
	}
}

enum cd_err store__case_from_row(sqlite3_stmt *s, struct store_case *c)
{
	enum cd_err rc = CD_OK;
	memset(c, 0, sizeof *c);
	for (size_t k = 0; k < NFIELDS && !rc; k++) {
		int col = (int)k;
		char *p = (char *)c + fields[k].off;
		switch (fields[k].type) {
		case STORE__F_TEXT:
		case STORE__F_OTEXT:
			rc = store__col_copy(s, col, p, fields[k].size);
			break;
		case STORE__F_I64:
		case STORE__F_OI64: {
			int64_t v = sqlite3_column_int64(s, col);
			memcpy(p, &v, sizeof v);
			break;
		}
		case STORE__F_INT: {
			int v = sqlite3_column_int(s, col);
			memcpy(p, &v, sizeof v);
			break;
		}
		case STORE__F_REAL:
		case STORE__F_POINT: {
			double v = sqlite3_column_double(s, col);
			memcpy(p, &v, sizeof v);
			if (fields[k].type == STORE__F_POINT && sqlite3_column_type(s, col) != SQLITE_NULL)
				c->has_point = 1;
			break;
		}
		}
	}
	return rc;
}

int store__case_well_formed(const struct store_case *c)
{
	for (size_t k = 0; k < NFIELDS; k++) {
		if ((fields[k].type == STORE__F_TEXT || fields[k].type == STORE__F_OTEXT) &&
		    !memchr(cftext(c, k), 0, fields[k].size))
			return 0;
	}
	if (c->has_point && (!isfinite(c->lat) || !isfinite(c->lng)))
		return 0;
	return isfinite(c->category_confidence) && isfinite(c->limit_value);
}

void store__case_defaults(struct store_case *c)
{
	if (!c->status[0])
		str_copy(c->status, sizeof c->status, "reported");
	if (!c->level[0])
		str_copy(c->level, sizeof c->level, "community");
	if (!c->urgency[0])
		str_copy(c->urgency, sizeof c->urgency, "normal");
	if (!c->attachments[0])
		str_copy(c->attachments, sizeof c->attachments, "[]");
	if (c->support_count <= 0)
		c->support_count = 1;
}

/* ---- events ------------------------------------------------------------------------------ */

int store__case_event_well_formed(const struct store_case_event *ev)
{
	return STORE__TERMINATED(ev->actor) && STORE__TERMINATED(ev->role) &&
	       STORE__TERMINATED(ev->action) && STORE__TERMINATED(ev->from_status) &&
	       STORE__TERMINATED(ev->to_status) && STORE__TERMINATED(ev->comment) &&
	       STORE__TERMINATED(ev->data) && ev->action[0];
}

enum cd_err store__case_event_insert(struct store *st, int64_t case_id, struct store_case_event *ev,
				     const struct store_actor *actor, int64_t now)
{
	if (!store__case_event_well_formed(ev))
		return CD_ERR_INVALID;
	if (!ev->actor[0])
		snprintf(ev->actor, sizeof ev->actor, "%s",
			 actor && actor->name && *actor->name ? actor->name : "system");
	if (!ev->at)
		ev->at = now;
	ev->case_id = case_id;
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_EVENT_INSERT);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, case_id);
	sqlite3_bind_int64(s, 2, ev->at);
	store__bind_text(s, 3, ev->actor);
	store__bind_text(s, 4, ev->role);
	store__bind_text(s, 5, ev->action);
	store__bind_opt(s, 6, ev->from_status);
	store__bind_opt(s, 7, ev->to_status);
	store__bind_text(s, 8, ev->comment);
	store__bind_opt(s, 9, ev->data);
	enum cd_err rc = store__exec(st, s, "case event insert");
	if (!rc)
		ev->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

/* ---- score aggregates -------------------------------------------------------------------- */

int store__case_delta_well_formed(const struct store_stats_delta *d)
{
	return STORE__TERMINATED(d->unit_code) && STORE__TERMINATED(d->street_code) &&
	       STORE__TERMINATED(d->category_code);
}

void store__case_delta_counts(const struct store_stats_delta *d, int v[STORE__STATS_NCOUNTS])
{
	const int c[STORE__STATS_NCOUNTS] = {d->received, d->closed, d->closed_on_time, d->responded,
					     d->responded_on_time, d->rework, d->rated, d->satisfied,
					     d->basically_satisfied, d->dissatisfied};
	memcpy(v, c, sizeof c);
}

enum cd_err store__case_stats_put(struct store *st, const char *dim, const char *day, const char *key,
				  const int v[STORE__STATS_NCOUNTS], int64_t seconds)
{
	sqlite3_stmt *s = store__stmt(st, STORE__CASE_STATS_ADD);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, dim);
	store__bind_text(s, 2, day);
	store__bind_text(s, 3, key);
	for (int i = 0; i < STORE__STATS_NCOUNTS; i++)
		sqlite3_bind_int(s, 4 + i, v[i]);
	sqlite3_bind_int64(s, 14, seconds);
	return store__exec(st, s, "case stats");
}

enum cd_err store__case_stats_add(struct store *st, const struct store_stats_delta *d)
{
	if (!store__case_delta_well_formed(d))
		return CD_ERR_INVALID;
	char day[11];
	int v[STORE__STATS_NCOUNTS];
	const char *keys[3] = {d->unit_code, d->street_code, d->category_code};
	store_day_of(d->at ? d->at : (int64_t)time(NULL), day);
	store__case_delta_counts(d, v);
	enum cd_err rc = CD_OK;
	for (int dim = 0; dim < 3 && !rc; dim++)
		rc = store__case_stats_put(st, store__case_stat_dims[dim], day, keys[dim], v,
					   d->handling_seconds_sum);
	return rc;
}

/* ---- the audit diff ---------------------------------------------------------------------- */

/* Appends "key":<value of field k> to b, as JSON. */
static enum cd_err json_field(struct buf *b, const struct store_case *c, size_t k, int first)
{
	enum cd_err rc = buf_printf(b, "%s\"%s\":", first ? "" : ",", fields[k].name);
	if (rc)
		return rc;
	switch (fields[k].type) {
	case STORE__F_OTEXT:
		if (!cftext(c, k)[0])
			return buf_puts(b, "null");
		/* fall through */
	case STORE__F_TEXT:
		rc = buf_putc(b, '"');
		if (!rc)
			rc = buf_json_escape(b, cftext(c, k));
		if (!rc)
			rc = buf_putc(b, '"');
		return rc;
	case STORE__F_I64:
		return buf_printf(b, "%lld", (long long)fi64(c, k));
	case STORE__F_OI64:
		if (!fi64(c, k))
			return buf_puts(b, "null");
		return buf_printf(b, "%lld", (long long)fi64(c, k));
	case STORE__F_INT:
		return buf_printf(b, "%d", fint(c, k));
	case STORE__F_POINT:
		if (!c->has_point)
			return buf_puts(b, "null");
		/* fall through */
	case STORE__F_REAL:
		return buf_printf(b, "%.17g", freal(c, k));
	}
	return CD_ERR_INVALID;
}

static int field_differs(const struct store_case *a, const struct store_case *b, size_t k)
{
	switch (fields[k].type) {
	case STORE__F_TEXT:
	case STORE__F_OTEXT:
		return strcmp(cftext(a, k), cftext(b, k)) != 0;
	case STORE__F_I64:
	case STORE__F_OI64:
		return fi64(a, k) != fi64(b, k);
	case STORE__F_INT:
		return fint(a, k) != fint(b, k);
	case STORE__F_POINT:
		if (a->has_point != b->has_point)
			return 1;
		if (!a->has_point)
			return 0;
		/* fall through */
	case STORE__F_REAL:
		return memcmp((const char *)a + fields[k].off, (const char *)b + fields[k].off,
			      sizeof(double)) != 0;
	}
	return 1;
}

enum cd_err store__case_diff_json(const struct store_case *old, const struct store_case *now,
				  struct buf *before, struct buf *after)
{
	buf_reset(before);
	buf_reset(after);
	enum cd_err rc = buf_printf(before, "{\"id\":%lld,\"ref\":\"%s\",\"version\":%lld",
				    (long long)old->id, old->ref, (long long)old->version);
	if (!rc)
		rc = buf_printf(after, "{\"id\":%lld,\"ref\":\"%s\",\"version\":%lld",
				(long long)now->id, now->ref, (long long)now->version);
	for (size_t k = 0; k < NFIELDS && !rc; k++) {
		if (field_is_bookkeeping(k) || !field_differs(old, now, k))
			continue;
		rc = json_field(before, old, k, 0);
		if (!rc)
			rc = json_field(after, now, k, 0);
	}
	if (!rc)
		rc = buf_putc(before, '}');
	if (!rc)
		rc = buf_putc(after, '}');
	return rc;
}

enum cd_err store__case_audit_step(struct store *st, const struct store_actor *actor,
				   const struct store_case *old, const struct store_case *now,
				   const struct store_case_event *ev, struct buf *before, struct buf *after)
{
	enum cd_err rc = store__case_diff_json(old, now, before, after);
	if (rc)
		return rc;
	char action[64], target[48];
	snprintf(action, sizeof action, "case.%s", ev && ev->action[0] ? ev->action : "update");
	snprintf(target, sizeof target, "cases/%lld", (long long)now->id);
	return store__audit_add(st, actor, action, target, before->data, after->data);
}

/* ---- the case list index ------------------------------------------------------------------ */

void store__cindex_note(struct store__cindex_batch *b, const struct store_case *c)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->rows = xrealloc(b->rows, b->cap * sizeof *b->rows);
	}
	struct store__cindex_copy *r = &b->rows[b->n++];
	r->id = c->id;
	r->reported_at = c->reported_at;
	str_copy(r->status, sizeof r->status, c->status);
	str_copy(r->street_code, sizeof r->street_code, c->street_code);
	str_copy(r->community_code, sizeof r->community_code, c->community_code);
	str_copy(r->unit_code, sizeof r->unit_code, c->unit_code);
	str_copy(r->category_code, sizeof r->category_code, c->category_code);
	str_copy(r->channel, sizeof r->channel, c->channel);
	r->overdue = c->overdue;
}

#define CINDEX_PUT_CHUNK 1024 /* rows handed to case_index_put at once (one write lock each) */

void store__cindex_flush(struct store *st, struct store__cindex_batch *b)
{
	struct case_index_row rows[CINDEX_PUT_CHUNK];
	for (size_t done = 0; st->cindex && done < b->n;) {
		size_t k = 0;
		for (; k < CINDEX_PUT_CHUNK && done + k < b->n; k++) {
			const struct store__cindex_copy *c = &b->rows[done + k];
			rows[k] = (struct case_index_row){c->id,	     c->reported_at, c->status,
							  c->street_code,    c->community_code, c->unit_code,
							  c->category_code, c->channel,	     c->overdue};
		}
		if (case_index_put(st->cindex, rows, k) != CD_OK)
			log_msg(LOG_ERROR, "store: a case was left out of the list index", "\"first_id\":%lld",
				(long long)rows[0].id);
		done += k;
	}
	b->n = 0;
}

void store__cindex_release(struct store__cindex_batch *b)
{
	xfree(b->rows);
	memset(b, 0, sizeof *b);
}

#define CINDEX_LOAD_CHUNK 4096

/* Copies one row of the load query into its slot of the chunk (strings in text[]). */
static void load_row(sqlite3_stmt *s, struct case_index_row *r, char (*text)[STORE_CATEGORY_MAX])
{
	const char **dst[6] = {&r->status, &r->street_code, &r->community_code, &r->unit_code, &r->category_code,
			       &r->channel};
	r->id = sqlite3_column_int64(s, 0);
	r->reported_at = sqlite3_column_int64(s, 1);
	for (int k = 0; k < 6; k++) {
		const unsigned char *v = sqlite3_column_text(s, 2 + k);
		str_copy(text[k], STORE_CATEGORY_MAX, v ? (const char *)v : "");
		*dst[k] = text[k];
	}
	r->overdue = sqlite3_column_int(s, 8);
}

enum cd_err store__cindex_ready(struct store *st)
{
	if (st->cindex)
		return CD_OK;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct case_index *ix = case_index_new();
	struct case_index_row *rows = xmalloc(CINDEX_LOAD_CHUNK * sizeof *rows);
	char(*text)[STORE_CATEGORY_MAX] = xmalloc(CINDEX_LOAD_CHUNK * 6 * sizeof *text);
	int bad = 0;
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__prepare(st,
					 "SELECT id, reported_at, status, street_code, community_code, unit_code, "
					 "category_code, channel, overdue FROM cases",
					 "case index load");
	if (s) {
		int src;
		size_t k = 0;
		rc = CD_OK;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			load_row(s, &rows[k], text + 6 * k);
			if (++k == CINDEX_LOAD_CHUNK) {
				bad |= case_index_put(ix, rows, k) != CD_OK;
				k = 0;
			}
		}
		if (k)
			bad |= case_index_put(ix, rows, k) != CD_OK;
		if (src != SQLITE_DONE)
			rc = store__err(st, src, "case index load");
		sqlite3_finalize(s);
	}
	xfree(rows);
	xfree(text);
	if (rc) {
		case_index_free(ix);
		return rc;
	}
	st->cindex = ix;
	st->cindex_owned = 1;
	if (bad)
		log_msg(LOG_ERROR, "store: cases left out of the list index", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_msg(LOG_INFO, "store: case list index built", "\"cases\":%lld,\"ms\":%.0f",
		(long long)case_index_count(ix),
		(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return CD_OK;
}
