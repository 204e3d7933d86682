/* The unit grid (单元网格) as rows for the store, built by the locate index from a set of
 * community boundaries and the stored district and streets. */
#ifndef CD_GRID_H
#define CD_GRID_H

#include "core/geojson.h"
#include "store/store.h"

struct grid_cells {
	struct store_grid_cell *cells; /* owned; each geometry points into geoms */
	char **geoms;                  /* owned GeoJSON texts, one per cell */
	size_t n;
};

/* Builds the grid for `communities` (parsed, not yet stored) against the stored district and
 * streets. reason gets a sentence on failure. Release *out with grid_cells_release. */
enum cd_err grid_build_for_communities(struct store *st, const struct geojson_features *communities,
				       struct grid_cells *out, char *reason, size_t reason_cap) CD_MUST_CHECK;
void grid_cells_release(struct grid_cells *g);

#endif
