/* Planar geometry over WGS-84 longitude/latitude doubles: rings, polygons with holes,
 * multipolygons, bounding boxes, point-in-polygon, validation, approximate area and clipping.
 * Pure functions, no I/O; the GeoJSON reader and the locate index are built on top. */
#ifndef CD_GEO_H
#define CD_GEO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* The area a coordinate must fall in to be accepted by validation (mainland China and its seas). */
#define GEO_CHINA_MIN_LNG 73.0
#define GEO_CHINA_MAX_LNG 136.0
#define GEO_CHINA_MIN_LAT 3.0
#define GEO_CHINA_MAX_LAT 54.0

struct geo_point {
	double lng; /* x, degrees east */
	double lat; /* y, degrees north */
};

/* A closed ring: pts[0] equals pts[n - 1] once validated. */
struct geo_ring {
	struct geo_point *pts; /* owned */
	size_t n;              /* positions, including the closing one */
};

/* rings[0] is the outer boundary, the others are holes. */
struct geo_polygon {
	struct geo_ring *rings; /* owned */
	size_t n_rings;
};

struct geo_multipolygon {
	struct geo_polygon *polys; /* owned */
	size_t n_polys;
};

struct geo_bbox {
	double min_lng, min_lat; /* south-west corner */
	double max_lng, max_lat; /* north-east corner */
};

/* The x coordinate where the non-horizontal edge a-b crosses the horizontal line y.
 * Every crossing test in citydesk (geo_*_contains and the locate index) calls this with the
 * endpoints ordered so that a.lat < b.lat, so the same edge always gives the same bits,
 * whichever polygon it belongs to and whichever way its ring runs. */
static inline double geo_edge_x_at(struct geo_point a, struct geo_point b, double y)
{
	return a.lng + (y - a.lat) * ((b.lng - a.lng) / (b.lat - a.lat));
}

/* Frees everything a multipolygon owns and leaves it empty. NULL is fine. */
void geo_multipolygon_release(struct geo_multipolygon *mp);

/* Deep copy of src into *dst. CD_ERR_NOMEM leaves *dst empty. */
enum cd_err geo_multipolygon_copy(const struct geo_multipolygon *src,
				  struct geo_multipolygon *dst) CD_MUST_CHECK;

/* A rectangle as a one-polygon multipolygon (5 positions, counter-clockwise). */
enum cd_err geo_multipolygon_from_bbox(const struct geo_bbox *box,
				       struct geo_multipolygon *out) CD_MUST_CHECK;

/* Bounding boxes. An empty shape gives min > max (an inverted box). */
struct geo_bbox geo_ring_bbox(const struct geo_ring *r);
struct geo_bbox geo_multipolygon_bbox(const struct geo_multipolygon *mp);
/* True when the boxes share at least one point (closed boxes). */
bool geo_bbox_intersects(const struct geo_bbox *a, const struct geo_bbox *b);

/* Point in polygon by crossing number (even-odd): a horizontal ray to the east, each edge counted
 * when lo.lat <= p.lat < hi.lat and p.lng < the crossing. Consequences, relied upon and tested:
 * a point on a non-horizontal edge is inside exactly when the shape lies east of that edge, a
 * point on a horizontal edge exactly when the shape lies north of it, so a point on an edge shared
 * by two shapes of a partition belongs to exactly one of them (the east/north one), just as a
 * lattice square owns its west and south sides. Holes: even-odd over all rings of a polygon,
 * which for a valid polygon means "in the outer ring and in no hole". A multipolygon is even-odd
 * over all rings of all its polygons too: for valid input (disjoint polygons) that is "in any
 * polygon", and for overlapping input it is the answer the locate index gives. */
bool geo_ring_contains(const struct geo_ring *r, struct geo_point p);
bool geo_polygon_contains(const struct geo_polygon *poly, struct geo_point p);
bool geo_multipolygon_contains(const struct geo_multipolygon *mp, struct geo_point p);

/* Checks a multipolygon: every polygon has at least one ring, every ring has >= 4 positions, is
 * closed, has finite coordinates inside China (GEO_CHINA_*), does not cross or touch itself, the
 * rings of one polygon do not cross or touch each other, and different polygons neither cross
 * (touching at points is allowed) nor lie one inside another (repeated consecutive positions are
 * tolerated). Returns CD_OK, or CD_ERR_INVALID with an English reason written into reason
 * (e.g. "ring 0 is not closed"; "polygon 2 ring 0 ..." when there is more than one polygon).
 * The self-intersection test sorts edges by x and sweeps: O(n log n + k) for n edges and k pairs
 * whose x ranges overlap. */
enum cd_err geo_multipolygon_validate(const struct geo_multipolygon *mp, char *reason,
				      size_t reason_len) CD_MUST_CHECK;

/* Approximate area in square metres: shoelace formula in a local equirectangular projection
 * about the shape's mean latitude (error well under 1% at district scale). Holes subtract. */
double geo_ring_area_m2(const struct geo_ring *r);
double geo_multipolygon_area_m2(const struct geo_multipolygon *mp);
/* Signed shoelace area in square degrees (counter-clockwise positive); for comparing pieces. */
double geo_ring_area_deg2(const struct geo_ring *r);

/* Sutherland-Hodgman clipping of every ring of mp to the half-plane a*lng + b*lat <= c, or to an
 * axis-aligned box (four half-planes). Rings that vanish (fewer than 3 distinct positions or
 * zero area) are dropped, and so is a polygon whose outer ring vanishes. A concave ring may come
 * out with zero-width bridges along the clip line; even-odd containment of every point strictly
 * inside the half-plane is preserved exactly (winding numbers do not change), which is what the
 * grid needs. *out is new (release it); CD_ERR_NOMEM leaves it empty. */
enum cd_err geo_multipolygon_clip_halfplane(const struct geo_multipolygon *mp, double a, double b,
					    double c, struct geo_multipolygon *out) CD_MUST_CHECK;
enum cd_err geo_multipolygon_clip_bbox(const struct geo_multipolygon *mp, const struct geo_bbox *box,
				       struct geo_multipolygon *out) CD_MUST_CHECK;

/* Number of positions over all rings. */
size_t geo_multipolygon_npoints(const struct geo_multipolygon *mp);

#endif
