/* The SQLite store's map and organisation data: areas (district, streets, communities), the
 * unit grid, units and the responsibility list (权责清单). Bulk replaces run in one
 * transaction and are audited with counts rather than every row. */
#include <stdio.h>
#include <string.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/buf.h"

static int level_ok(const char *level)
{
	return level && (strcmp(level, "district") == 0 || strcmp(level, "street") == 0 ||
			 strcmp(level, "community") == 0);
}

/* {"level":"street","count":10,"grid_cells":8000} (grid part when cells >= 0). */
static void count_json(char *out, size_t cap, const char *level, int64_t count, int64_t cells)
{
	if (cells >= 0)
		snprintf(out, cap, "{\"level\":\"%s\",\"count\":%lld,\"grid_cells\":%lld}", level,
			 (long long)count, (long long)cells);
	else
		snprintf(out, cap, "{\"level\":\"%s\",\"count\":%lld}", level, (long long)count);
}

static enum cd_err grid_insert_all(struct store *st, const struct store_grid_cell *cells, size_t n)
{
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct store_grid_cell *c = &cells[i];
		if (!STORE__TERMINATED(c->code) || !STORE__TERMINATED(c->community_code))
			return CD_ERR_INVALID;
		sqlite3_stmt *s = store__stmt(st, STORE__GRID_INSERT);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, c->code);
		store__bind_text(s, 2, c->community_code);
		store__bind_opt(s, 3, c->geometry);
		sqlite3_bind_double(s, 4, c->min_lat);
		sqlite3_bind_double(s, 5, c->min_lng);
		sqlite3_bind_double(s, 6, c->max_lat);
		sqlite3_bind_double(s, 7, c->max_lng);
		rc = store__exec(st, s, "grid insert");
		if (rc == CD_ERR_EXISTS)
			rc = CD_ERR_INVALID; /* a repeated code within the input */
	}
	return rc;
}

static enum cd_err areas_replace_tx(struct store *st, const struct store_actor *actor,
				    const char *level, const struct store_area *areas, size_t n,
				    const struct store_grid_cell *cells, size_t ncells)
{
	int community = strcmp(level, "community") == 0;
	int64_t old_areas = 0, old_cells = -1;
	enum cd_err rc = store__count(st, STORE__AREA_COUNT, level, &old_areas);
	if (!rc && community)
		rc = store__count(st, STORE__GRID_COUNT, NULL, &old_cells);
	sqlite3_stmt *s;
	if (!rc && community) {
		s = store__stmt(st, STORE__GRID_DELETE);
		rc = s ? store__exec(st, s, "grid delete") : CD_ERR_STORE;
	}
	if (!rc) {
		s = store__stmt(st, STORE__AREA_DELETE);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, level);
		rc = store__exec(st, s, "area delete");
	}
	for (size_t i = 0; i < n && !rc; i++) {
		const struct store_area *a = &areas[i];
		if (!STORE__TERMINATED(a->code) || !STORE__TERMINATED(a->name) ||
		    !STORE__TERMINATED(a->parent_code) || !STORE__TERMINATED(a->level) ||
		    strcmp(a->level, level) != 0)
			return CD_ERR_INVALID;
		s = store__stmt(st, STORE__AREA_INSERT);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, a->code);
		store__bind_text(s, 2, a->level);
		store__bind_text(s, 3, a->name);
		store__bind_opt(s, 4, a->parent_code);
		store__bind_opt(s, 5, a->geometry);
		sqlite3_bind_int(s, 6, a->approximate ? 1 : 0);
		rc = store__exec(st, s, "area insert");
		if (rc == CD_ERR_EXISTS)
			rc = CD_ERR_INVALID; /* a repeated code, or a code used at another level */
	}
	if (!rc && community)
		rc = grid_insert_all(st, cells, ncells);
	if (rc)
		return rc;
	char before[128], after[128];
	count_json(before, sizeof before, level, old_areas, old_cells);
	count_json(after, sizeof after, level, (int64_t)n, community ? (int64_t)ncells : -1);
	char target[32];
	snprintf(target, sizeof target, "areas/%s", level);
	return store__audit_add(st, actor, "areas.replace", target, before, after);
}

enum cd_err store_areas_replace(struct store *st, const struct store_actor *actor,
				const char *level, const struct store_area *areas, size_t n,
				const struct store_grid_cell *cells, size_t ncells)
{
	if (!level_ok(level) || (n && !areas) || (ncells && !cells))
		return CD_ERR_INVALID;
	if (strcmp(level, "community") != 0 && ncells)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, areas_replace_tx(st, actor, level, areas, n, cells, ncells));
	atomic_fetch_add(&st->map_gen, 1);
	store__unlock(st);
	return rc;
}

/* Fills a from a row of (code, level, name, parent_code, geometry, approximate); the
 * geometry pointer borrows the statement's memory. */
static enum cd_err area_from_row(sqlite3_stmt *s, struct store_area *a)
{
	enum cd_err rc = store__col_copy(s, 0, a->code, sizeof a->code);
	if (!rc)
		rc = store__col_copy(s, 1, a->level, sizeof a->level);
	if (!rc)
		rc = store__col_copy(s, 2, a->name, sizeof a->name);
	if (!rc)
		rc = store__col_copy(s, 3, a->parent_code, sizeof a->parent_code);
	a->geometry = (const char *)sqlite3_column_text(s, 4);
	a->approximate = sqlite3_column_int(s, 5);
	return rc;
}

enum cd_err store_areas_list(struct store *st, const char *level, store_area_fn fn, void *ctx)
{
	if (level && !level_ok(level))
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__AREA_LIST);
	if (s) {
		store__bind_opt(s, 1, level);
		int src;
		rc = CD_OK;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			struct store_area a;
			rc = area_from_row(s, &a);
			if (rc || fn(ctx, &a))
				break;
		}
		if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
			rc = store__err(st, src, "area list");
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_area_get(struct store *st, const char *code, struct store_area *out,
			   char **geometry_out)
{
	memset(out, 0, sizeof *out);
	if (geometry_out)
		*geometry_out = NULL;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__AREA_GET);
	if (s) {
		store__bind_text(s, 1, code);
		rc = store__step_row(st, s, "area get");
		if (!rc) {
			rc = area_from_row(s, out);
			out->geometry = NULL;
			if (!rc && geometry_out)
				rc = store__col_dup(s, 4, geometry_out);
		}
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

static enum cd_err grid_replace_tx(struct store *st, const struct store_actor *actor,
				   const struct store_grid_cell *cells, size_t n)
{
	int64_t old = 0;
	enum cd_err rc = store__count(st, STORE__GRID_COUNT, NULL, &old);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__GRID_DELETE);
	if (!rc)
		rc = s ? store__exec(st, s, "grid delete") : CD_ERR_STORE;
	if (!rc)
		rc = grid_insert_all(st, cells, n);
	if (rc)
		return rc;
	char before[64], after[64];
	snprintf(before, sizeof before, "{\"count\":%lld}", (long long)old);
	snprintf(after, sizeof after, "{\"count\":%zu}", n);
	return store__audit_add(st, actor, "grid.replace", "grid", before, after);
}

enum cd_err store_grid_replace(struct store *st, const struct store_actor *actor,
			       const struct store_grid_cell *cells, size_t n)
{
	if (n && !cells)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, grid_replace_tx(st, actor, cells, n));
	atomic_fetch_add(&st->map_gen, 1);
	store__unlock(st);
	return rc;
}

enum cd_err store_grid_list(struct store *st, store_grid_fn fn, void *ctx)
{
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__GRID_LIST);
	if (s) {
		int src;
		rc = CD_OK;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			struct store_grid_cell c;
			rc = store__col_copy(s, 0, c.code, sizeof c.code);
			if (!rc)
				rc = store__col_copy(s, 1, c.community_code, sizeof c.community_code);
			c.geometry = (const char *)sqlite3_column_text(s, 2);
			c.min_lat = sqlite3_column_double(s, 3);
			c.min_lng = sqlite3_column_double(s, 4);
			c.max_lat = sqlite3_column_double(s, 5);
			c.max_lng = sqlite3_column_double(s, 6);
			if (rc || fn(ctx, &c))
				break;
		}
		if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
			rc = store__err(st, src, "grid list");
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

/* ---- units ----------------------------------------------------------------------------- */

static enum cd_err unit_put_tx(struct store *st, const struct store_actor *actor,
			       const struct store_unit *u)
{
	char *before = NULL, *after = NULL;
	char target[STORE_CODE_MAX + 8];
	snprintf(target, sizeof target, "units/%s", u->code);
	enum cd_err rc = store__snapshot_text(st, STORE__UNIT_SNAP, u->code, &before);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__UNIT_PUT);
	if (!rc && !s)
		rc = CD_ERR_STORE;
	if (!rc) {
		store__bind_text(s, 1, u->code);
		store__bind_text(s, 2, u->name);
		store__bind_text(s, 3, u->kind);
		store__bind_opt(s, 4, u->street_code);
		store__bind_text(s, 5, u->handles);
		rc = store__exec(st, s, "unit put");
	}
	if (!rc)
		rc = store__snapshot_text(st, STORE__UNIT_SNAP, u->code, &after);
	if (!rc)
		rc = store__audit_add(st, actor, "unit.put", target, before, after);
	xfree(before);
	xfree(after);
	return rc;
}

enum cd_err store_unit_put(struct store *st, const struct store_actor *actor,
			   const struct store_unit *u)
{
	if (!STORE__TERMINATED(u->code) || !STORE__TERMINATED(u->name) ||
	    !STORE__TERMINATED(u->kind) || !STORE__TERMINATED(u->street_code) ||
	    !STORE__TERMINATED(u->handles) || !u->code[0])
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, unit_put_tx(st, actor, u));
	atomic_fetch_add(&st->map_gen, 1);
	store__unlock(st);
	return rc;
}

static enum cd_err unit_from_row(sqlite3_stmt *s, struct store_unit *u)
{
	enum cd_err rc = store__col_copy(s, 0, u->code, sizeof u->code);
	if (!rc)
		rc = store__col_copy(s, 1, u->name, sizeof u->name);
	if (!rc)
		rc = store__col_copy(s, 2, u->kind, sizeof u->kind);
	if (!rc)
		rc = store__col_copy(s, 3, u->street_code, sizeof u->street_code);
	if (!rc)
		rc = store__col_copy(s, 4, u->handles, sizeof u->handles);
	return rc;
}

enum cd_err store_unit_get(struct store *st, const char *code, struct store_unit *out)
{
	memset(out, 0, sizeof *out);
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__UNIT_GET);
	if (s) {
		store__bind_text(s, 1, code);
		rc = store__step_row(st, s, "unit get");
		if (!rc)
			rc = unit_from_row(s, out);
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

/* Runs statement `id` (no parameters) and collects every row with `conv` (store__collect).
 * Store locked by caller. */
static enum cd_err collect(struct store *st, enum store__stmt id, size_t size, store__row_fn conv, void **out,
			   size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = store__stmt(st, id);
	if (!s)
		return CD_ERR_STORE;
	enum cd_err rc = store__collect(st, s, size, conv, out, n);
	store__done(s);
	return rc;
}

static enum cd_err unit_conv(sqlite3_stmt *s, void *p)
{
	return unit_from_row(s, p);
}

enum cd_err store_units_list(struct store *st, struct store_unit **out, size_t *n)
{
	void *v = NULL;
	store__lock(st);
	enum cd_err rc = collect(st, STORE__UNIT_LIST, sizeof **out, unit_conv, &v, n);
	store__unlock(st);
	*out = v;
	return rc;
}

/* ---- responsibility list ------------------------------------------------------------- */

static enum cd_err resp_replace_tx(struct store *st, const struct store_actor *actor,
				   const struct store_resp *rows, size_t n)
{
	int64_t old = 0;
	enum cd_err rc = store__count(st, STORE__RESP_COUNT, NULL, &old);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__RESP_DELETE);
	if (!rc)
		rc = s ? store__exec(st, s, "resp delete") : CD_ERR_STORE;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct store_resp *r = &rows[i];
		if (!STORE__TERMINATED(r->category_code) || !STORE__TERMINATED(r->area_code) ||
		    !STORE__TERMINATED(r->unit_code))
			return CD_ERR_INVALID;
		s = store__stmt(st, STORE__RESP_INSERT);
		if (!s)
			return CD_ERR_STORE;
		store__bind_text(s, 1, r->category_code);
		store__bind_text(s, 2, r->area_code);
		store__bind_text(s, 3, r->unit_code);
		sqlite3_bind_int(s, 4, r->priority);
		rc = store__exec(st, s, "resp insert");
	}
	if (rc)
		return rc;
	char before[64], after[64];
	snprintf(before, sizeof before, "{\"count\":%lld}", (long long)old);
	snprintf(after, sizeof after, "{\"count\":%zu}", n);
	return store__audit_add(st, actor, "resp.replace", "responsibilities", before, after);
}

enum cd_err store_resp_replace(struct store *st, const struct store_actor *actor,
			       const struct store_resp *rows, size_t n)
{
	if (n && !rows)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, resp_replace_tx(st, actor, rows, n));
	atomic_fetch_add(&st->map_gen, 1);
	store__unlock(st);
	return rc;
}

static enum cd_err resp_conv(sqlite3_stmt *s, void *p)
{
	struct store_resp *r = p;
	enum cd_err rc = store__col_copy(s, 0, r->category_code, sizeof r->category_code);
	if (!rc)
		rc = store__col_copy(s, 1, r->area_code, sizeof r->area_code);
	if (!rc)
		rc = store__col_copy(s, 2, r->unit_code, sizeof r->unit_code);
	r->priority = sqlite3_column_int(s, 3);
	return rc;
}

enum cd_err store_resp_list(struct store *st, struct store_resp **out, size_t *n)
{
	void *v = NULL;
	store__lock(st);
	enum cd_err rc = collect(st, STORE__RESP_LIST, sizeof **out, resp_conv, &v, n);
	store__unlock(st);
	*out = v;
	return rc;
}

enum cd_err store_resp_lookup(struct store *st, const char *category, const char *community,
			      const char *street, char unit_out[STORE_CODE_MAX])
{
	unit_out[0] = '\0';
	if (!category)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__RESP_LOOKUP);
	if (s) {
		store__bind_text(s, 1, category);
		store__bind_opt(s, 2, community);
		store__bind_opt(s, 3, street);
		rc = store__step_row(st, s, "resp lookup");
		if (!rc)
			rc = store__col_copy(s, 0, unit_out, STORE_CODE_MAX);
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

uint64_t store_map_generation(struct store *st)
{
	return atomic_load(&st->map_gen);
}
