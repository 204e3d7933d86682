/* Fuzz target for the GeoJSON boundary reader (core/geojson.c) and, behind it, the locate
 * layer: any input either fails with a message and nothing allocated, or gives features that
 * validate, survive a write/read round trip, and index into a locate layer that agrees with
 * brute-force point-in-polygon on points derived from the input. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/geojson.h"
#include "core/locate.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes the features back out and reads them again: same count, same positions. */
static void round_trip(const struct geojson_features *f)
{
	json_t *list = json_array();
	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(list, geojson_feature_new(f->items[i].code, f->items[i].name,
								&f->items[i].geom));
	json_t *fc = json_pack("{s:s,s:o}", "type", "FeatureCollection", "features", list);
	char *text = json_dumps(fc, JSON_COMPACT);
	json_decref(fc);
	if (!text)
		abort();
	struct geojson_features back;
	char err[300];
	if (geojson_read(text, strlen(text), GEOJSON_WGS84, &back, err, sizeof(err)) != CD_OK)
		abort();
	free(text);
	if (back.n != f->n)
		abort();
	for (size_t i = 0; i < f->n; i++)
		if (geo_multipolygon_npoints(&back.items[i].geom) !=
		    geo_multipolygon_npoints(&f->items[i].geom))
			abort();
	geojson_features_release(&back);
}

/* Indexes the features (when their extent is small enough to be quick) and checks lookups. */
static void check_layer(const struct geojson_features *f, const uint8_t *data, size_t size)
{
	const struct geo_multipolygon **regions = xcalloc(f->n, sizeof(*regions));
	struct geo_bbox all = {1e9, 1e9, -1e9, -1e9};
	for (size_t i = 0; i < f->n; i++) {
		regions[i] = &f->items[i].geom;
		struct geo_bbox b = geo_multipolygon_bbox(regions[i]);
		all.min_lng = b.min_lng < all.min_lng ? b.min_lng : all.min_lng;
		all.min_lat = b.min_lat < all.min_lat ? b.min_lat : all.min_lat;
		all.max_lng = b.max_lng > all.max_lng ? b.max_lng : all.max_lng;
		all.max_lat = b.max_lat > all.max_lat ? b.max_lat : all.max_lat;
	}
	struct locate_lattice lat = locate_lattice_default((all.min_lat + all.max_lat) / 2);
	struct locate_layer *L = NULL;
	if (all.max_lng - all.min_lng < 0.2 && all.max_lat - all.min_lat < 0.2 &&
	    locate_layer_build(regions, f->n, &lat, &L) == CD_OK) {
		uint64_t h = 1469598103934665603ULL;
		for (size_t i = 0; i < size; i++)
			h = (h ^ data[i]) * 1099511628211ULL;
		for (int k = 0; k < 256; k++) {
			h ^= h << 13;
			h ^= h >> 7;
			h ^= h << 17;
			double u = (double)(h >> 11) / 9007199254740992.0;
			double v = (double)((h * 0x9E3779B97F4A7C15ULL) >> 11) / 9007199254740992.0;
			struct geo_point p = {all.min_lng + u * (all.max_lng - all.min_lng),
					      all.min_lat + v * (all.max_lat - all.min_lat)};
			if (k % 4 == 1) /* exactly on a vertex: the hardest case */
				p = f->items[h % f->n].geom.polys[0].rings[0].pts[0];
			long want = -1;
			for (size_t i = 0; i < f->n && want < 0; i++)
				if (geo_multipolygon_contains(regions[i], p))
					want = (long)i;
			if (locate_layer_find(L, p) != want)
				abort();
		}
	}
	locate_layer_free(L);
	xfree(regions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int crs = 0; crs < 2; crs++) {
		struct geojson_features f;
		char err[300];
		enum cd_err rc = geojson_read((const char *)data, size, (enum geojson_crs)crs, &f, err,
					      sizeof(err));
		if (rc != CD_OK) {
			if (f.items || f.n || err[0] == '\0')
				abort(); /* all or nothing, and always a reason */
			continue;
		}
		char why[200];
		for (size_t i = 0; i < f.n; i++)
			if (geo_multipolygon_validate(&f.items[i].geom, why, sizeof(why)) != CD_OK)
				abort();
		round_trip(&f);
		if (crs == 0)
			check_layer(&f, data, size);
		geojson_features_release(&f);
	}
	return 0;
}
