/* Point -> (street, community, unit grid cell) for one district, answered from a regular lattice
 * of about 100 m squares that is both the index and the unit grid (单元网格). Built once from
 * validated multipolygons; read-only afterwards, so any number of threads may query it.
 * Design: docs/internals/geo.md. */
#ifndef CD_LOCATE_H
#define CD_LOCATE_H

#include <stddef.h>

#include "core/geo.h"
#include "util/err.h"

/* Most grid cells one community may have: the code has a 3-digit sequence 001..999. */
#define LOCATE_MAX_CELLS_PER_COMMUNITY 999
/* A piece of a square smaller than this fraction of it joins the cell of the same community in
 * the side-adjacent square it touches, so cells stay near 1 ha instead of leaving slivers. */
#define LOCATE_SLIVER 0.25
/* Caps that keep a hostile or mistaken input from exhausting memory (CD_ERR_TOOBIG). */
#define LOCATE_MAX_SQUARES (1L << 24) /* lattice squares over a layer's bounding box */
#define LOCATE_MAX_REGIONS 100000     /* regions in one layer */

/* The lattice: square (col, row) covers lng [origin_lng + col*step_lng, + step_lng) and
 * lat [origin_lat + row*step_lat, + step_lat). Indices are absolute, so the same point always has
 * the same square whatever the district's extent. */
struct locate_lattice {
	double origin_lng, origin_lat; /* the lattice's south-west corner, degrees */
	double step_lng, step_lat;     /* square size, degrees */
};

/* The default lattice for a district centred near latitude center_lat: origin (73 E, 3 N), the
 * south-west corner of GEO_CHINA_*; step_lat 0.0009 deg (100.1 m); step_lng 0.0009 / cos(lat)
 * with lat = center_lat rounded to a whole degree, rounded to 1e-5 deg (so about 100 m too).
 * Luohu (22.6 N -> 23): 0.00098 x 0.0009 deg, 100.4 m x 100.1 m. */
struct locate_lattice locate_lattice_default(double center_lat);

/* ---- a layer: one lattice index over a set of regions (streets, or any polygons) ---- */

struct locate_layer;

/* Builds an index answering "which of these regions contains p". regions[i] need not be
 * validated, but rings should be closed (an open ring is closed implicitly). Regions may
 * overlap: the lowest index wins. *out is owned by the caller (locate_layer_free).
 * CD_ERR_TOOBIG when a cap above is hit or more than 63 regions meet along one lattice row run;
 * CD_ERR_INVALID for a lattice with a non-positive step or a non-finite origin; CD_ERR_NOMEM.
 * Build time is O(edges x squares they touch + squares x regions); meant for district data
 * (tens of thousands of vertices, a few hundred regions), built once at start or import. */
enum cd_err locate_layer_build(const struct geo_multipolygon *const *regions, size_t n,
			       const struct locate_lattice *lattice,
			       struct locate_layer **out) CD_MUST_CHECK;

/* The index of the region containing p (the lowest one when several do), or -1 when none does.
 * Agrees exactly with geo_multipolygon_contains, including for points on edges. */
long locate_layer_find(const struct locate_layer *layer, struct geo_point p);

/* Bytes the layer holds (for benchmarks and /metrics). */
size_t locate_layer_bytes(const struct locate_layer *layer);

void locate_layer_free(struct locate_layer *layer);

/* ---- the district index ---- */

/* One boundary handed to locate_build; the index copies code and name. */
struct locate_area {
	const char *code;                    /* district 6, street 9, community 12 digits */
	const char *name;                    /* may be NULL */
	const struct geo_multipolygon *geom; /* WGS-84 */
};

/* One unit grid cell: the part of one lattice square inside one community, plus any slivers
 * (< LOCATE_SLIVER of a square) of the same community in side-adjacent squares that it absorbed. */
struct locate_cell {
	char code[16];                /* 15 digits: community code + sequence 001..999 */
	size_t community;             /* index into the communities given to locate_build */
	long col, row;                /* absolute lattice indices of its own square */
	struct geo_bbox bbox;         /* of poly */
	struct geo_multipolygon poly; /* the square clipped to the community (+ absorbed slivers) */
};

/* The answer for one point. */
struct locate_hit {
	long street;           /* index into streets, or -1 */
	long community;        /* index into communities, or -1 */
	long cell;             /* grid cell index (locate_cell_at), or -1 */
	const char *grid_code; /* that cell's code, owned by the index, or NULL */
};

struct locate_index;

/* Builds the index. Communities are cut into grid cells: every lattice square meeting a
 * community gives one piece (clipped polygon, positive area); a piece under LOCATE_SLIVER of a
 * square joins the neighbouring piece it touches (see locate_cell); the cells are numbered per
 * community in row-major order of their own squares from the north-west (rows north to south,
 * columns west to east). Each
 * community's street is the street whose 9-digit code is the first 9 digits of its 12-digit
 * code. lattice NULL means locate_lattice_default(centre of the district's bbox).
 * Errors, with an English reason: CD_ERR_INVALID (bad code, community without its street),
 * CD_ERR_RANGE (a community needs more than 999 cells), CD_ERR_TOOBIG, CD_ERR_NOMEM.
 * *out is owned by the caller (locate_free). */
enum cd_err locate_build(const struct locate_area *district, const struct locate_area *streets,
			 size_t n_streets, const struct locate_area *communities, size_t n_communities,
			 const struct locate_lattice *lattice, struct locate_index **out,
			 char *reason, size_t reason_len) CD_MUST_CHECK;

void locate_free(struct locate_index *idx);

/* Locates p. CD_ERR_NOTFOUND when p is outside the district outline (or not a finite point).
 * Inside it, the community (and its street and cell) comes from the community polygons; a point
 * in no community gets community = cell = -1 and its street from the street polygons (or -1).
 * Points on shared edges go east/north, as in geo_multipolygon_contains. */
enum cd_err locate_find(const struct locate_index *idx, struct geo_point p,
			struct locate_hit *out) CD_MUST_CHECK;

/* Grid cells: count, and cell i in [0, count) ordered by (community, sequence). */
size_t locate_cell_count(const struct locate_index *idx);
const struct locate_cell *locate_cell_at(const struct locate_index *idx, size_t i);
/* The cell with this 15-digit code, or -1. O(log n). */
long locate_cell_by_code(const struct locate_index *idx, const char *code);

/* Cells whose bbox meets box (closed), in row-major square order. Writes up to cap indices into
 * out and returns how many there are in all (which may exceed cap). */
size_t locate_cells_in_bbox(const struct locate_index *idx, const struct geo_bbox *box,
			    size_t *out, size_t cap);

/* The lattice in use and the street index of community k (-1 when there are no streets). */
const struct locate_lattice *locate_lattice_of(const struct locate_index *idx);
long locate_community_street(const struct locate_index *idx, size_t k);

#endif
