/* Loading a district into the store: boundaries from GeoJSON (with the unit grid built from
 * the communities), units and the responsibility list from CSV, and the default data set
 * (data/luohu) that an empty store starts with. Every import is all or nothing. */
#ifndef CD_DISTRICT_H
#define CD_DISTRICT_H

#include <stddef.h>

#include "core/geojson.h"
#include "store/store.h"

/* Imports FILE.geojson as all areas of `level` ("district", "street" or "community").
 * Codes must be 6, 9 or 12 digits and nest (a street's first 6 digits are the district's, a
 * community's first 9 its street's). Importing communities rebuilds the unit grid.
 * `approximate` marks the outlines as reconstructions. On failure nothing changes and
 * reason holds a sentence naming the feature and what is wrong. Bumps the store's
 * map_version so a running server reloads its map. */
enum cd_err district_import_boundaries(struct store *st, const struct store_actor *actor, const char *level,
				       const char *path, enum geojson_crs crs, int approximate, char *reason,
				       size_t reason_cap) CD_MUST_CHECK;
/* Imports units from a CSV with columns code,name,kind,handles[,street_code]. */
enum cd_err district_import_units(struct store *st, const struct store_actor *actor, const char *path,
				  char *reason, size_t reason_cap) CD_MUST_CHECK;
/* Replaces the responsibility list from a CSV with columns
 * category_code,area_code,unit_code[,priority][,note]. */
enum cd_err district_import_responsibilities(struct store *st, const struct store_actor *actor,
					     const char *path, char *reason, size_t reason_cap) CD_MUST_CHECK;
/* Loads the default data set from `dir`: the outline, the (approximate) streets and
 * communities, units.csv and responsibilities.csv, then sets meta district_loaded. */
enum cd_err district_load_default(struct store *st, const struct store_actor *actor, const char *dir,
				  char *reason, size_t reason_cap) CD_MUST_CHECK;

#endif
