/* The map as the server holds it: the stored district, streets and communities parsed once,
 * the locate index built over them, and the GeoJSON the API serves, serialised once.
 * Read-only after mapview_load, so any number of handler threads may share it. */
#ifndef CD_MAPVIEW_H
#define CD_MAPVIEW_H

#include <pthread.h>
#include <stddef.h>

#include "core/geojson.h"
#include "core/locate.h"
#include "store/store.h"

struct mapview {
	struct geojson_features district;    /* exactly one feature once loaded */
	struct geojson_features streets;     /* in code order */
	struct geojson_features communities; /* in code order */
	struct locate_index *index;          /* NULL until district, streets and communities exist */
	char *district_json;    /* the outline as a GeoJSON Feature (malloc'd by jansson) */
	char *streets_json;     /* FeatureCollection with code, name, approximate */
	char *communities_json; /* FeatureCollection with code, name, street_code, approximate */
};

/* Builds the map from the store. An empty store gives an empty map (no index). */
enum cd_err mapview_load(struct store *st, struct mapview **out) CD_MUST_CHECK;
void mapview_free(struct mapview *m);

/* Copies the name of the street or community with `code` into out ("" when unknown) under the
 * app's map lock. */
void mapview_area_name(pthread_rwlock_t *lock, struct mapview *const *map, const char *code, char *out,
		       size_t cap);

/* Places a free-text address by the area names it mentions: the longest community name found
 * (with or without its 社区 suffix), else the longest street name (with or without 街道).
 * Sets *community (or -1) and *street (the community's street, or the street found, or -1). */
void mapview_match_address(const struct mapview *m, const char *address, long *street, long *community);

#endif
