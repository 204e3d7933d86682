/* Stored areas back in memory: every area of one level read from the store and parsed into
 * validated multipolygons, for the map view and for building the unit grid. */
#ifndef CD_AREAS_H
#define CD_AREAS_H

#include "core/geojson.h"
#include "core/locate.h"
#include "store/store.h"

/* Reads all areas of `level` from the store, in code order, into *out (release with
 * geojson_features_release). reason gets a sentence on failure. */
enum cd_err areas_load(struct store *st, const char *level, struct geojson_features *out, char *reason,
		       size_t reason_cap) CD_MUST_CHECK;

/* A new array of n locate_area views of the features (borrowed pointers; xfree the array). */
struct locate_area *areas_as_locate(const struct geojson_features *f);

#endif
