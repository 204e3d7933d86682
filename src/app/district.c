/* Imports of boundaries, units and the responsibility list, and the default data set.
 * See district.h. Validation happens here, before the store is touched, so a refused
 * import names the feature or line at fault and changes nothing. */
#include "app/district.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/grid.h"
#include "util/alloc.h"
#include "util/csv.h"

#define BOUNDARY_FILE_MAX (64u << 20)
#define CSV_FILE_MAX (16u << 20)

static void say(char *reason, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *reason, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
}

static int all_digits(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static size_t code_length(const char *level)
{
	return strcmp(level, "district") == 0 ? 6 : strcmp(level, "street") == 0 ? 9 : 12;
}

/* Callback for store_areas_list: remembers the first code seen. */
static int first_code(void *ctx, const struct store_area *a)
{
	snprintf(ctx, STORE_CODE_MAX, "%s", a->code);
	return 1;
}

/* Is there an area of `level` with `code`? */
static int area_exists(struct store *st, const char *code, const char *level)
{
	struct store_area a;
	return store_area_get(st, code, &a, NULL) == CD_OK && strcmp(a.level, level) == 0;
}

/* Checks the codes of features of `level`: digits, length, nesting in stored parents. */
static enum cd_err check_codes(struct store *st, const char *level, const struct geojson_features *f,
			       char *reason, size_t cap)
{
	size_t len = code_length(level);
	char district[STORE_CODE_MAX] = "";
	if (store_areas_list(st, "district", first_code, district))
		return CD_ERR_STORE;
	if (strcmp(level, "district") == 0 && f->n != 1) {
		say(reason, cap, "a district file must hold exactly one feature, not %zu", f->n);
		return CD_ERR_INVALID;
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct geojson_feature *ft = &f->items[i];
		const char *name = ft->name ? ft->name : "";
		if (!all_digits(ft->code, len)) {
			say(reason, cap, "feature %zu (%s): property `code` must be %zu digits for level %s, not \"%s\"",
			    i, name, len, level, ft->code ? ft->code : "(missing)");
			return CD_ERR_INVALID;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(f->items[j].code, ft->code) == 0) {
				say(reason, cap, "feature %zu (%s %s): code repeats feature %zu", i, ft->code, name, j);
				return CD_ERR_INVALID;
			}
		}
		if (strcmp(level, "street") == 0 && district[0] && strncmp(ft->code, district, 6) != 0) {
			say(reason, cap, "feature %zu (%s %s): a street code must start with the district's %s", i,
			    ft->code, name, district);
			return CD_ERR_INVALID;
		}
		if (strcmp(level, "community") == 0) {
			char parent[10];
			memcpy(parent, ft->code, 9);
			parent[9] = '\0';
			if (!area_exists(st, parent, "street")) {
				say(reason, cap, "feature %zu (%s %s): its street %s is not in the store; import streets first",
				    i, ft->code, name, parent);
				return CD_ERR_INVALID;
			}
		}
	}
	return CD_OK;
}

/* Sets meta map_version to a new value so running servers rebuild their map. */
static enum cd_err bump_map_version(struct store *st, const struct store_actor *actor)
{
	char old[32] = "", fresh[32];
	if (store_meta_get(st, "map_version", old, sizeof old))
		old[0] = '\0';
	long long n = old[0] ? strtoll(old, NULL, 10) : 0;
	snprintf(fresh, sizeof fresh, "%lld", n + 1);
	return store_meta_set(st, actor, "map_version", fresh);
}

enum cd_err district_import_boundaries(struct store *st, const struct store_actor *actor, const char *level,
				       const char *path, enum geojson_crs crs, int approximate, char *reason,
				       size_t cap)
{
	enum cd_err rc;
	char *text = NULL;
	size_t len = 0;
	struct geojson_features f = {NULL, 0};
	struct store_area *areas = NULL;
	char **geoms = NULL; /* owned geometry texts, areas[i].geometry borrows geoms[i] */
	struct grid_cells grid = {NULL, NULL, 0};
	size_t n_areas = 0;

	rc = file_read_all(path, BOUNDARY_FILE_MAX, &text, &len);
	if (rc) {
		say(reason, cap, "cannot read the file (%s)", cd_err_name(rc));
		goto out;
	}
	rc = geojson_read(text, len, crs, &f, reason, cap);
	if (rc)
		goto out;
	rc = check_codes(st, level, &f, reason, cap);
	if (rc)
		goto out;
	areas = xcalloc(f.n, sizeof *areas);
	geoms = xcalloc(f.n, sizeof *geoms);
	for (n_areas = 0; n_areas < f.n; n_areas++) {
		const struct geojson_feature *ft = &f.items[n_areas];
		struct store_area *a = &areas[n_areas];
		snprintf(a->code, sizeof a->code, "%s", ft->code);
		snprintf(a->level, sizeof a->level, "%s", level);
		snprintf(a->name, sizeof a->name, "%s", ft->name ? ft->name : ft->code);
		if (strcmp(level, "street") == 0)
			snprintf(a->parent_code, sizeof a->parent_code, "%.6s", ft->code);
		else if (strcmp(level, "community") == 0)
			snprintf(a->parent_code, sizeof a->parent_code, "%.9s", ft->code);
		a->approximate = approximate;
		json_t *g = geojson_geometry_new(&ft->geom);
		geoms[n_areas] = g ? json_dumps(g, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
		a->geometry = geoms[n_areas];
		json_decref(g);
		if (!a->geometry) {
			rc = CD_ERR_NOMEM;
			say(reason, cap, "out of memory");
			n_areas++;
			goto out;
		}
	}
	if (strcmp(level, "community") == 0) {
		rc = grid_build_for_communities(st, &f, &grid, reason, cap);
		if (rc)
			goto out;
	}
	rc = store_areas_replace(st, actor, level, areas, n_areas, grid.cells, grid.n);
	if (rc) {
		say(reason, cap, "the store refused the areas (%s)", cd_err_name(rc));
		goto out;
	}
	rc = bump_map_version(st, actor);
	if (rc) {
		say(reason, cap, "could not record the new map version (%s)", cd_err_name(rc));
		goto out;
	}
	if (strcmp(level, "community") == 0)
		say(reason, cap, "%zu %s areas, %zu grid cells", n_areas, level, grid.n);
	else
		say(reason, cap, "%zu %s areas", n_areas, level);
out:
	for (size_t i = 0; i < n_areas; i++)
		xfree(geoms[i]); /* from jansson's json_dumps */
	xfree(geoms);
	xfree(areas);
	grid_cells_release(&grid);
	geojson_features_release(&f);
	xfree(text);
	return rc;
}

/* Opens a CSV file and reads its header. */
static enum cd_err open_csv(const char *path, char **text, struct csv_reader *r, char *reason, size_t cap)
{
	size_t len;
	enum cd_err rc = file_read_all(path, CSV_FILE_MAX, text, &len);
	if (rc) {
		say(reason, cap, "cannot read the file (%s)", cd_err_name(rc));
		return rc;
	}
	csv_init(r, *text, len);
	rc = csv_next(r);
	if (rc)
		say(reason, cap, "the file has no header line");
	return rc;
}

/* The field at column `col` of the current record, or "" when the column is absent. */
static const char *field(const struct csv_reader *r, int col)
{
	return col >= 0 && (size_t)col < r->nfields ? r->fields[col] : "";
}

enum cd_err district_import_units(struct store *st, const struct store_actor *actor, const char *path,
				  char *reason, size_t cap)
{
	char *text = NULL;
	struct csv_reader r;
	struct store_unit *units = NULL;
	size_t n = 0, alloc = 0;
	enum cd_err rc = open_csv(path, &text, &r, reason, cap);
	if (rc)
		goto out;
	int c_code = csv_column(&r, "code"), c_name = csv_column(&r, "name"), c_kind = csv_column(&r, "kind"),
	    c_handles = csv_column(&r, "handles"), c_street = csv_column(&r, "street_code");
	if (c_code < 0 || c_name < 0 || c_kind < 0) {
		say(reason, cap, "the header must name the columns code, name and kind");
		rc = CD_ERR_INVALID;
		goto out;
	}
	/* Read and check every line before writing any. */
	while ((rc = csv_next(&r)) == CD_OK) {
		if (!*field(&r, c_code) || !*field(&r, c_name)) {
			say(reason, cap, "line %zu: code and name must not be empty", r.line);
			rc = CD_ERR_INVALID;
			goto out;
		}
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 32;
			units = xrealloc(units, alloc * sizeof *units);
		}
		struct store_unit *u = &units[n++];
		memset(u, 0, sizeof *u);
		snprintf(u->code, sizeof u->code, "%s", field(&r, c_code));
		snprintf(u->name, sizeof u->name, "%s", field(&r, c_name));
		snprintf(u->kind, sizeof u->kind, "%s", field(&r, c_kind));
		snprintf(u->handles, sizeof u->handles, "%s", field(&r, c_handles));
		snprintf(u->street_code, sizeof u->street_code, "%s", field(&r, c_street));
	}
	if (rc != CD_ERR_NOTFOUND) {
		say(reason, cap, "line %zu: malformed CSV (%s)", r.line, cd_err_name(rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = store_unit_put(st, actor, &units[i]);
		if (rc) {
			say(reason, cap, "unit %s: the store refused it (%s)", units[i].code, cd_err_name(rc));
			goto out;
		}
	}
	say(reason, cap, "%zu units", n);
	rc = CD_OK;
out:
	csv_release(&r);
	xfree(units);
	xfree(text);
	return rc;
}

enum cd_err district_import_responsibilities(struct store *st, const struct store_actor *actor,
					     const char *path, char *reason, size_t cap)
{
	char *text = NULL;
	struct csv_reader r;
	struct store_resp *rows = NULL;
	size_t n = 0, alloc = 0;
	enum cd_err rc = open_csv(path, &text, &r, reason, cap);
	if (rc)
		goto out;
	int c_cat = csv_column(&r, "category_code"), c_area = csv_column(&r, "area_code"),
	    c_unit = csv_column(&r, "unit_code"), c_prio = csv_column(&r, "priority");
	if (c_cat < 0 || c_area < 0 || c_unit < 0) {
		say(reason, cap, "the header must name the columns category_code, area_code and unit_code");
		rc = CD_ERR_INVALID;
		goto out;
	}
	while ((rc = csv_next(&r)) == CD_OK) {
		struct store_unit unit;
		const char *area = field(&r, c_area);
		if (!*field(&r, c_cat) || !*area) {
			say(reason, cap, "line %zu: category_code and area_code must not be empty", r.line);
			rc = CD_ERR_INVALID;
			goto out;
		}
		if (store_unit_get(st, field(&r, c_unit), &unit)) {
			say(reason, cap, "line %zu: unknown unit \"%s\"", r.line, field(&r, c_unit));
			rc = CD_ERR_INVALID;
			goto out;
		}
		if (strcmp(area, "*") != 0 && !area_exists(st, area, "street") && !area_exists(st, area, "community")) {
			say(reason, cap, "line %zu: area_code \"%s\" is neither * nor a known street or community",
			    r.line, area);
			rc = CD_ERR_INVALID;
			goto out;
		}
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			rows = xrealloc(rows, alloc * sizeof *rows);
		}
		struct store_resp *row = &rows[n++];
		memset(row, 0, sizeof *row);
		snprintf(row->category_code, sizeof row->category_code, "%s", field(&r, c_cat));
		snprintf(row->area_code, sizeof row->area_code, "%s", area);
		snprintf(row->unit_code, sizeof row->unit_code, "%s", field(&r, c_unit));
		row->priority = (int)strtol(field(&r, c_prio), NULL, 10);
	}
	if (rc != CD_ERR_NOTFOUND) {
		say(reason, cap, "line %zu: malformed CSV (%s)", r.line, cd_err_name(rc));
		goto out;
	}
	rc = store_resp_replace(st, actor, rows, n);
	if (rc == CD_ERR_EXISTS)
		say(reason, cap, "a (category_code, area_code) pair appears twice");
	else if (rc)
		say(reason, cap, "the store refused the list (%s)", cd_err_name(rc));
	else
		say(reason, cap, "%zu rows", n);
out:
	csv_release(&r);
	xfree(rows);
	xfree(text);
	return rc;
}

enum cd_err district_load_default(struct store *st, const struct store_actor *actor, const char *dir,
				  char *reason, size_t cap)
{
	static const struct {
		const char *kind;  /* "boundaries:<level>", "units" or "responsibilities" */
		const char *file;
		int approximate;
	} steps[] = {
		{"boundaries:district", "district-outline.wgs84.geojson", 0},
		{"boundaries:street", "streets.approximate.geojson", 1},
		{"boundaries:community", "communities.approximate.geojson", 1},
		{"units", "units.csv", 0},
		{"responsibilities", "responsibilities.csv", 0},
	};
	char path[4096];
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		enum cd_err rc;
		snprintf(path, sizeof path, "%s/%s", dir, steps[i].file);
		if (strncmp(steps[i].kind, "boundaries:", 11) == 0)
			rc = district_import_boundaries(st, actor, steps[i].kind + 11, path, GEOJSON_WGS84,
							 steps[i].approximate, reason, cap);
		else if (strcmp(steps[i].kind, "units") == 0)
			rc = district_import_units(st, actor, path, reason, cap);
		else
			rc = district_import_responsibilities(st, actor, path, reason, cap);
		if (rc) {
			size_t used = strlen(reason);
			snprintf(reason + used, cap > used ? cap - used : 0, " (in %s)", path);
			return rc;
		}
	}
	char now[32];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	return store_meta_set(st, actor, "district_loaded", now);
}
