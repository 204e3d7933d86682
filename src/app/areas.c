/* Loads stored areas back into multipolygons; see areas.h. The stored geometry is GeoJSON,
 * so the features are reassembled into one collection and parsed by the same reader that
 * checks imports: what comes back has passed the same validation as what went in. */
#include "app/areas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

struct collect {
	json_t *features; /* the FeatureCollection's array */
	int failed;       /* a geometry could not be parsed */
	char code[STORE_CODE_MAX];
};

static int collect_area(void *ctx, const struct store_area *a)
{
	struct collect *c = ctx;
	json_t *geom = a->geometry ? json_loads(a->geometry, 0, NULL) : NULL;
	if (!geom) {
		c->failed = 1;
		snprintf(c->code, sizeof c->code, "%s", a->code);
		return 1;
	}
	json_array_append_new(c->features, json_pack("{s:s, s:{s:s, s:s}, s:o}", "type", "Feature", "properties",
						     "code", a->code, "name", a->name, "geometry", geom));
	return 0;
}

enum cd_err areas_load(struct store *st, const char *level, struct geojson_features *out, char *reason,
		       size_t cap)
{
	struct collect c = {json_array(), 0, ""};
	enum cd_err rc = store_areas_list(st, level, collect_area, &c);
	char *text = NULL;
	out->items = NULL;
	out->n = 0;
	if (rc) {
		snprintf(reason, cap, "the store failed listing %s areas (%s)", level, cd_err_name(rc));
		goto out;
	}
	if (c.failed) {
		snprintf(reason, cap, "area %s has no readable geometry", c.code);
		rc = CD_ERR_CORRUPT;
		goto out;
	}
	if (json_array_size(c.features) == 0)
		goto out; /* none of this level yet */
	json_t *fc = json_pack("{s:s, s:O}", "type", "FeatureCollection", "features", c.features);
	text = fc ? json_dumps(fc, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(fc);
	if (!text) {
		rc = CD_ERR_NOMEM;
		snprintf(reason, cap, "out of memory");
		goto out;
	}
	rc = geojson_read(text, strlen(text), GEOJSON_WGS84, out, reason, cap);
out:
	xfree(text); /* json_dumps allocates with malloc */
	json_decref(c.features);
	return rc;
}

struct locate_area *areas_as_locate(const struct geojson_features *f)
{
	struct locate_area *a = xcalloc(f->n ? f->n : 1, sizeof *a);
	for (size_t i = 0; i < f->n; i++) {
		a[i].code = f->items[i].code;
		a[i].name = f->items[i].name;
		a[i].geom = &f->items[i].geom;
	}
	return a;
}
