/* Builds the server's in-memory map from the store; see mapview.h. */
#include "app/mapview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/areas.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/str.h"

struct approx_ctx {
	json_t *flags; /* code -> approximate (bool) */
};

static int note_approximate(void *ctx, const struct store_area *a)
{
	struct approx_ctx *c = ctx;
	json_object_set_new(c->flags, a->code, json_boolean(a->approximate));
	return 0;
}

/* A FeatureCollection of the features with code, name, level, parent and approximate. */
static char *collection_json(const struct geojson_features *f, const char *level, json_t *approx)
{
	json_t *features = json_array();
	for (size_t i = 0; i < f->n; i++) {
		const struct geojson_feature *ft = &f->items[i];
		json_t *feature = geojson_feature_new(ft->code, ft->name, &ft->geom);
		if (!feature)
			continue;
		json_t *props = json_object_get(feature, "properties");
		json_object_set_new(props, "level", json_string(level));
		if (strcmp(level, "community") == 0)
			json_object_set_new(props, "street_code", json_stringn(ft->code, 9));
		json_t *a = json_object_get(approx, ft->code);
		json_object_set_new(props, "approximate", json_boolean(a && json_is_true(a)));
		json_array_append_new(features, feature);
	}
	json_t *fc = json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features);
	char *text = json_dumps(fc, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(fc);
	return text;
}

enum cd_err mapview_load(struct store *st, struct mapview **out)
{
	struct mapview *m = xcalloc(1, sizeof *m);
	struct approx_ctx approx = {json_object()};
	char reason[512] = "";
	struct locate_area *s = NULL, *c = NULL;
	enum cd_err rc = areas_load(st, "district", &m->district, reason, sizeof reason);
	if (!rc)
		rc = areas_load(st, "street", &m->streets, reason, sizeof reason);
	if (!rc)
		rc = areas_load(st, "community", &m->communities, reason, sizeof reason);
	if (!rc)
		rc = store_areas_list(st, NULL, note_approximate, &approx);
	if (rc)
		goto out;
	m->streets_json = collection_json(&m->streets, "street", approx.flags);
	m->communities_json = collection_json(&m->communities, "community", approx.flags);
	if (m->district.n == 1) {
		const struct geojson_feature *d = &m->district.items[0];
		json_t *feature = geojson_feature_new(d->code, d->name, &d->geom);
		m->district_json = feature ? json_dumps(feature, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
		json_decref(feature);
		struct locate_area da = {d->code, d->name, &d->geom};
		s = areas_as_locate(&m->streets);
		c = areas_as_locate(&m->communities);
		rc = locate_build(&da, s, m->streets.n, c, m->communities.n, NULL, &m->index, reason, sizeof reason);
		if (rc)
			goto out;
	}
	if (!m->streets_json || !m->communities_json || (m->district.n == 1 && !m->district_json)) {
		rc = CD_ERR_NOMEM;
		goto out;
	}
	log_info("map loaded", "\"streets\":%zu,\"communities\":%zu,\"grid_cells\":%zu", m->streets.n,
		 m->communities.n, m->index ? locate_cell_count(m->index) : 0);
out:
	json_decref(approx.flags);
	xfree(s);
	xfree(c);
	if (rc) {
		log_error("map load failed", "\"error\":\"%s\"", cd_err_name(rc));
		fprintf(stderr, "citydesk: map: %s\n", reason);
		mapview_free(m);
		m = NULL;
	}
	*out = m;
	return rc;
}

void mapview_free(struct mapview *m)
{
	if (!m)
		return;
	locate_free(m->index);
	geojson_features_release(&m->district);
	geojson_features_release(&m->streets);
	geojson_features_release(&m->communities);
	xfree(m->district_json); /* json_dumps allocates with malloc */
	xfree(m->streets_json);
	xfree(m->communities_json);
	xfree(m);
}

/* Length in bytes of the longest form of `name` found in `text`: the whole name, or the name
 * without `suffix` when at least two characters (6 UTF-8 bytes) remain. 0 when neither is. */
static size_t mention_length(const char *text, const char *name, const char *suffix)
{
	if (!name || !*name)
		return 0;
	size_t len = strlen(name), slen = strlen(suffix);
	if (strstr(text, name))
		return len;
	if (len > slen && strcmp(name + len - slen, suffix) == 0 && len - slen >= 6) {
		char shortname[256];
		snprintf(shortname, sizeof shortname, "%.*s", (int)(len - slen), name);
		if (strstr(text, shortname))
			return len - slen;
	}
	return 0;
}

static long longest_mention(const struct geojson_features *f, const char *text, const char *suffix)
{
	long best = -1;
	size_t best_len = 0;
	for (size_t i = 0; i < f->n; i++) {
		size_t l = mention_length(text, f->items[i].name, suffix);
		if (l > best_len) {
			best_len = l;
			best = (long)i;
		}
	}
	return best;
}

void mapview_match_address(const struct mapview *m, const char *address, long *street, long *community)
{
	*street = -1;
	*community = -1;
	if (!address || !*address)
		return;
	*community = longest_mention(&m->communities, address, "社区");
	if (*community >= 0) {
		const char *code = m->communities.items[*community].code;
		for (size_t i = 0; i < m->streets.n; i++)
			if (strncmp(m->streets.items[i].code, code, 9) == 0)
				*street = (long)i;
		return;
	}
	*street = longest_mention(&m->streets, address, "街道");
}

/* The feature with `code` in a list kept in code order (as the store lists areas), or NULL. */
static const struct geojson_feature *find_code(const struct geojson_features *f, const char *code)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(f->items[mid].code, code);
		if (cmp == 0)
			return &f->items[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void mapview_area_name(pthread_rwlock_t *lock, struct mapview *const *map, const char *code, char *out, size_t cap)
{
	out[0] = '\0';
	if (!code || !*code)
		return;
	pthread_rwlock_rdlock(lock);
	const struct mapview *m = *map;
	const struct geojson_feature *ft = NULL;
	if (m)
		ft = find_code(strlen(code) == 12 ? &m->communities : &m->streets, code);
	if (ft && ft->name)
		str_copy(out, cap, ft->name);
	pthread_rwlock_unlock(lock);
}
