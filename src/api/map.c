/* /api/v1/map: locate a point in the district (street, community, unit grid cell) and the
 * district's boundaries as GeoJSON. The map is public geography: these routes need no login. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app/mapview.h"
#include "core/gcj02.h"

#define GRIDS_MAX 10000 /* cells in one /grids answer: the whole of Luohu (~8,000) fits */

/* Parses a required decimal query parameter within [min, max]. */
static bool query_double(struct http_request *req, struct http_response *res, const char *name, double min,
			 double max, double *out)
{
	const char *s = http_query_get(req, name);
	if (!s || !*s) {
		char msg[96];
		snprintf(msg, sizeof msg, "query parameter %s is required", name);
		http_error(res, 422, "missing_parameter", msg, name);
		return false;
	}
	char *end;
	double v = strtod(s, &end);
	if (*end || !isfinite(v) || v < min || v > max) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s must be a number from %g to %g", name, min, max);
		http_error(res, 422, "invalid_parameter", msg, name);
		return false;
	}
	*out = v;
	return true;
}

/* Reads ?crs= (wgs84 default, or gcj02). */
static bool query_crs(struct http_request *req, struct http_response *res, int *gcj02)
{
	const char *crs = http_query_get(req, "crs");
	*gcj02 = 0;
	if (!crs || !*crs || strcmp(crs, "wgs84") == 0)
		return true;
	if (strcmp(crs, "gcj02") == 0) {
		*gcj02 = 1;
		return true;
	}
	http_error(res, 422, "invalid_parameter", "crs must be wgs84 or gcj02", "crs");
	return false;
}

/* Takes the map for reading; NULL (with 503 in res) when no district is loaded. */
static struct mapview *map_acquire(struct app *app, struct http_response *res)
{
	pthread_rwlock_rdlock(&app->map_lock);
	if (app->map && app->map->index)
		return app->map;
	pthread_rwlock_unlock(&app->map_lock);
	http_error(res, 503, "no_district", "尚未导入辖区边界 (no district boundaries are loaded)", NULL);
	return NULL;
}

static void map_release(struct app *app)
{
	pthread_rwlock_unlock(&app->map_lock);
}

static json_t *area_json(const struct geojson_features *f, long i)
{
	if (i < 0 || (size_t)i >= f->n)
		return json_null();
	return json_pack("{s:s, s:s?}", "code", f->items[i].code, "name", f->items[i].name);
}

void api_map_locate(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct geo_point p;
	int gcj02;
	if (!query_double(req, res, "lat", -90, 90, &p.lat) || !query_double(req, res, "lng", -180, 180, &p.lng) ||
	    !query_crs(req, res, &gcj02))
		return;
	if (gcj02)
		p = gcj02_to_wgs84(p);
	struct mapview *m = map_acquire(app, res);
	if (!m)
		return;
	struct locate_hit hit;
	if (locate_find(m->index, p, &hit)) {
		map_release(app);
		http_error(res, 422, "outside_jurisdiction", "该位置不在本辖区内 (the point is outside the district)",
			   "lat");
		return;
	}
	json_t *grid = hit.grid_code ? json_pack("{s:s}", "code", hit.grid_code) : json_null();
	json_t *reply = json_pack("{s:o, s:o, s:o, s:o, s:{s:f, s:f}}", "district", area_json(&m->district, 0),
				  "street", area_json(&m->streets, hit.street), "community",
				  area_json(&m->communities, hit.community), "grid", grid, "wgs84", "lat", p.lat,
				  "lng", p.lng);
	map_release(app);
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

/* Answers with one of the map's pre-serialised GeoJSON texts. */
static void respond_cached(struct http_request *req, struct http_response *res, struct app *app,
			   size_t offset)
{
	(void)req;
	struct mapview *m = map_acquire(app, res);
	if (!m)
		return;
	const char *text = *(char *const *)((const char *)m + offset);
	res->status = 200;
	res->content_type = "application/geo+json; charset=utf-8";
	if (buf_puts(&res->body, text))
		http_error(res, 500, "internal", "out of memory", NULL);
	map_release(app);
}

void api_map_district(struct http_request *req, struct http_response *res, void *ctx)
{
	respond_cached(req, res, ctx, offsetof(struct mapview, district_json));
}

void api_map_streets(struct http_request *req, struct http_response *res, void *ctx)
{
	respond_cached(req, res, ctx, offsetof(struct mapview, streets_json));
}

void api_map_communities(struct http_request *req, struct http_response *res, void *ctx)
{
	respond_cached(req, res, ctx, offsetof(struct mapview, communities_json));
}

/* Parses ?bbox=minLng,minLat,maxLng,maxLat (the GeoJSON bbox order). */
static bool query_bbox(struct http_request *req, struct http_response *res, struct geo_bbox *box)
{
	const char *s = http_query_get(req, "bbox");
	double v[4];
	if (!s || !*s) {
		http_error(res, 422, "missing_parameter", "bbox=minLng,minLat,maxLng,maxLat is required", "bbox");
		return false;
	}
	for (int i = 0; i < 4; i++) {
		char *end;
		v[i] = strtod(s, &end);
		if (end == s || !isfinite(v[i]) || (i < 3 && *end != ',') || (i == 3 && *end)) {
			http_error(res, 422, "invalid_parameter", "bbox must be four numbers: minLng,minLat,maxLng,maxLat",
				   "bbox");
			return false;
		}
		s = end + 1;
	}
	if (v[0] > v[2] || v[1] > v[3]) {
		http_error(res, 422, "invalid_parameter", "bbox minimums must not exceed its maximums", "bbox");
		return false;
	}
	box->min_lng = v[0];
	box->min_lat = v[1];
	box->max_lng = v[2];
	box->max_lat = v[3];
	return true;
}

void api_map_grids(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct geo_bbox box;
	if (!query_bbox(req, res, &box))
		return;
	size_t *hits = http_alloc(req, GRIDS_MAX * sizeof *hits);
	if (!hits) {
		http_error(res, 500, "internal", "out of memory", NULL);
		return;
	}
	struct mapview *m = map_acquire(app, res);
	if (!m)
		return;
	size_t n = locate_cells_in_bbox(m->index, &box, hits, GRIDS_MAX);
	if (n > GRIDS_MAX) {
		map_release(app);
		char msg[128];
		snprintf(msg, sizeof msg, "the bbox holds %zu grid cells; ask for at most %d at a time", n, GRIDS_MAX);
		http_error(res, 422, "bbox_too_large", msg, "bbox");
		return;
	}
	json_t *features = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct locate_cell *cell = locate_cell_at(m->index, hits[i]);
		json_t *f = geojson_feature_new(cell->code, NULL, &cell->poly);
		if (!f)
			continue;
		json_t *props = json_object_get(f, "properties");
		json_object_set_new(props, "community_code", json_string(m->communities.items[cell->community].code));
		json_array_append_new(features, f);
	}
	map_release(app);
	json_t *fc = json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features);
	http_respond_json(res, 200, fc);
	res->content_type = "application/geo+json; charset=utf-8";
	json_decref(fc);
}
