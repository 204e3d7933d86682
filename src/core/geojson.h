/* RFC 7946 GeoJSON boundaries in and out: reads a FeatureCollection (or one Feature) of
 * Polygon/MultiPolygon features with `code` and `name` properties into validated
 * multipolygons, all or nothing; writes multipolygons back as GeoJSON geometry objects. */
#ifndef CD_GEOJSON_H
#define CD_GEOJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/geo.h"
#include "util/err.h"

/* Hard caps on what one document may hold; exceeding one is CD_ERR_TOOBIG. */
#define GEOJSON_MAX_BYTES (64u << 20)     /* input text */
#define GEOJSON_MAX_FEATURES 100000       /* features in a collection */
#define GEOJSON_MAX_POSITIONS 4000000     /* positions over the whole document */
#define GEOJSON_MAX_RINGS 100000          /* rings over the whole document */
#define GEOJSON_MAX_FIELD 256             /* bytes of a code or name */

enum geojson_crs {
	GEOJSON_WGS84 = 0, /* coordinates are WGS-84, as RFC 7946 says */
	GEOJSON_GCJ02,     /* coordinates are GCJ-02 and are converted to WGS-84 on input */
};

struct geojson_feature {
	char *code;                   /* `code`, else `adcode`; numbers are written in decimal; NULL if absent */
	char *name;                   /* `name`, NULL if absent */
	struct geo_multipolygon geom; /* WGS-84, validated */
};

struct geojson_features {
	struct geojson_feature *items; /* owned */
	size_t n;
};

/* Parses len bytes of text (need not be NUL-terminated). Every feature must have a Polygon or
 * MultiPolygon geometry that passes geo_multipolygon_validate (after conversion from crs).
 * On success *out owns the features (release with geojson_features_release). On failure *out is
 * empty, nothing stays allocated, and err holds one English sentence naming the feature, e.g.
 * "feature 3 (440303001 桂园街道): ring 0 is not closed", or the JSON line and column.
 * Returns CD_ERR_INVALID (bad JSON, bad structure or geometry), CD_ERR_TOOBIG (a cap above),
 * CD_ERR_NOMEM. */
enum cd_err geojson_read(const char *text, size_t len, enum geojson_crs crs,
			 struct geojson_features *out, char *err, size_t err_len) CD_MUST_CHECK;

/* Frees the features and leaves *f empty. NULL is fine. */
void geojson_features_release(struct geojson_features *f);

/* A new GeoJSON geometry object for mp: "Polygon" when it has exactly one polygon, otherwise
 * "MultiPolygon". Coordinates are written as given (WGS-84). The caller owns the reference
 * (json_decref). NULL when memory runs out. */
json_t *geojson_geometry_new(const struct geo_multipolygon *mp);

/* A new Feature {"type":"Feature","properties":{"code":..,"name":..},"geometry":..}; code and
 * name may be NULL (omitted). NULL when memory runs out. */
json_t *geojson_feature_new(const char *code, const char *name, const struct geo_multipolygon *mp);

#endif
