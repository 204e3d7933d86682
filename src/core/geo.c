/* Polygon geometry over lng/lat doubles: containment, validation, area and clipping.
 * See geo.h for the rules (especially how points on edges are decided) and
 * docs/internals/geo.md for the design. */
#include "core/geo.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define EARTH_RADIUS_M 6371008.8
#define DEG_TO_RAD (3.14159265358979323846 / 180.0)

void geo_multipolygon_release(struct geo_multipolygon *mp)
{
	if (!mp)
		return;
	for (size_t i = 0; i < mp->n_polys; i++) {
		struct geo_polygon *p = &mp->polys[i];
		for (size_t r = 0; r < p->n_rings; r++)
			xfree(p->rings[r].pts);
		xfree(p->rings);
	}
	xfree(mp->polys);
	mp->polys = NULL;
	mp->n_polys = 0;
}

enum cd_err geo_multipolygon_copy(const struct geo_multipolygon *src, struct geo_multipolygon *dst)
{
	dst->polys = NULL;
	dst->n_polys = 0;
	if (src->n_polys == 0)
		return CD_OK;
	dst->polys = try_calloc(src->n_polys, sizeof(*dst->polys));
	if (!dst->polys)
		return CD_ERR_NOMEM;
	dst->n_polys = src->n_polys;
	for (size_t i = 0; i < src->n_polys; i++) {
		const struct geo_polygon *sp = &src->polys[i];
		struct geo_polygon *dp = &dst->polys[i];
		dp->rings = try_calloc(sp->n_rings ? sp->n_rings : 1, sizeof(*dp->rings));
		if (!dp->rings)
			goto fail;
		dp->n_rings = sp->n_rings;
		for (size_t r = 0; r < sp->n_rings; r++) {
			size_t n = sp->rings[r].n;
			dp->rings[r].pts = try_malloc((n ? n : 1) * sizeof(struct geo_point));
			if (!dp->rings[r].pts)
				goto fail;
			if (n)
				memcpy(dp->rings[r].pts, sp->rings[r].pts, n * sizeof(struct geo_point));
			dp->rings[r].n = n;
		}
	}
	return CD_OK;
fail:
	geo_multipolygon_release(dst);
	return CD_ERR_NOMEM;
}

enum cd_err geo_multipolygon_from_bbox(const struct geo_bbox *box, struct geo_multipolygon *out)
{
	out->polys = NULL;
	out->n_polys = 0;
	struct geo_polygon *poly = try_calloc(1, sizeof(*poly));
	struct geo_ring *ring = try_calloc(1, sizeof(*ring));
	struct geo_point *pts = try_malloc(5 * sizeof(*pts));
	if (!poly || !ring || !pts) {
		xfree(poly);
		xfree(ring);
		xfree(pts);
		return CD_ERR_NOMEM;
	}
	pts[0] = (struct geo_point){box->min_lng, box->min_lat};
	pts[1] = (struct geo_point){box->max_lng, box->min_lat};
	pts[2] = (struct geo_point){box->max_lng, box->max_lat};
	pts[3] = (struct geo_point){box->min_lng, box->max_lat};
	pts[4] = pts[0];
	ring->pts = pts;
	ring->n = 5;
	poly->rings = ring;
	poly->n_rings = 1;
	out->polys = poly;
	out->n_polys = 1;
	return CD_OK;
}

static struct geo_bbox bbox_empty(void)
{
	return (struct geo_bbox){INFINITY, INFINITY, -INFINITY, -INFINITY};
}

struct geo_bbox geo_ring_bbox(const struct geo_ring *r)
{
	struct geo_bbox b = bbox_empty();
	for (size_t i = 0; i < r->n; i++) {
		struct geo_point p = r->pts[i];
		if (p.lng < b.min_lng)
			b.min_lng = p.lng;
		if (p.lng > b.max_lng)
			b.max_lng = p.lng;
		if (p.lat < b.min_lat)
			b.min_lat = p.lat;
		if (p.lat > b.max_lat)
			b.max_lat = p.lat;
	}
	return b;
}

struct geo_bbox geo_multipolygon_bbox(const struct geo_multipolygon *mp)
{
	struct geo_bbox b = bbox_empty();
	for (size_t i = 0; i < mp->n_polys; i++) {
		/* The outer ring bounds the polygon; holes lie inside it when valid, but an
		 * unvalidated shape is measured over all rings so containment never escapes. */
		for (size_t r = 0; r < mp->polys[i].n_rings; r++) {
			struct geo_bbox rb = geo_ring_bbox(&mp->polys[i].rings[r]);
			b.min_lng = fmin(b.min_lng, rb.min_lng);
			b.min_lat = fmin(b.min_lat, rb.min_lat);
			b.max_lng = fmax(b.max_lng, rb.max_lng);
			b.max_lat = fmax(b.max_lat, rb.max_lat);
		}
	}
	return b;
}

bool geo_bbox_intersects(const struct geo_bbox *a, const struct geo_bbox *b)
{
	return a->min_lng <= b->max_lng && b->min_lng <= a->max_lng && a->min_lat <= b->max_lat &&
	       b->min_lat <= a->max_lat;
}

/* Parity of the crossings of the eastward ray from p with the ring's edges. The ring need not be
 * closed: the edge from the last position back to the first is included when they differ. */
static bool ring_parity(const struct geo_ring *r, struct geo_point p)
{
	bool in = false;
	size_t n = r->n;
	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct geo_point a = r->pts[i];
		struct geo_point b = r->pts[i + 1 < n ? i + 1 : 0];
		if (a.lat == b.lat)
			continue;
		if (a.lat > b.lat) {
			struct geo_point t = a;
			a = b;
			b = t;
		}
		if (p.lat >= a.lat && p.lat < b.lat && p.lng < geo_edge_x_at(a, b, p.lat))
			in = !in;
	}
	return in;
}

bool geo_ring_contains(const struct geo_ring *r, struct geo_point p)
{
	return ring_parity(r, p);
}

bool geo_polygon_contains(const struct geo_polygon *poly, struct geo_point p)
{
	bool in = false;
	for (size_t r = 0; r < poly->n_rings; r++)
		in ^= ring_parity(&poly->rings[r], p);
	return in;
}

bool geo_multipolygon_contains(const struct geo_multipolygon *mp, struct geo_point p)
{
	/* Even-odd over every ring: for valid input (disjoint polygons) the same as "in any
	 * polygon", and for invalid input the same answer the locate index gives. */
	bool in = false;
	for (size_t i = 0; i < mp->n_polys; i++)
		in ^= geo_polygon_contains(&mp->polys[i], p);
	return in;
}

size_t geo_multipolygon_npoints(const struct geo_multipolygon *mp)
{
	size_t n = 0;
	for (size_t i = 0; i < mp->n_polys; i++)
		for (size_t r = 0; r < mp->polys[i].n_rings; r++)
			n += mp->polys[i].rings[r].n;
	return n;
}

/* ---- validation ---- */

/* One edge of a polygon under the self-intersection sweep. */
struct vedge {
	struct geo_point a, b; /* endpoints in ring order */
	double min_x, max_x;   /* x extent, the sweep key */
	size_t poly;           /* polygon index within the multipolygon */
	size_t ring;           /* ring index within the polygon */
	size_t k;              /* index among the ring's non-degenerate edges */
	size_t m;              /* number of non-degenerate edges in the ring */
	size_t pos;            /* position index of a in the ring, for messages */
};

static double orient(struct geo_point a, struct geo_point b, struct geo_point c)
{
	return (b.lng - a.lng) * (c.lat - a.lat) - (b.lat - a.lat) * (c.lng - a.lng);
}

/* q lies within the bounding box of segment a-b (used once q is known collinear with it). */
static bool in_box(struct geo_point a, struct geo_point b, struct geo_point q)
{
	return fmin(a.lng, b.lng) <= q.lng && q.lng <= fmax(a.lng, b.lng) &&
	       fmin(a.lat, b.lat) <= q.lat && q.lat <= fmax(a.lat, b.lat);
}

/* Closed segments a-b and c-d share at least one point. */
static bool segments_meet(struct geo_point a, struct geo_point b, struct geo_point c,
			  struct geo_point d)
{
	double d1 = orient(c, d, a), d2 = orient(c, d, b);
	double d3 = orient(a, b, c), d4 = orient(a, b, d);
	if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
		return true;
	if (d1 == 0 && in_box(c, d, a))
		return true;
	if (d2 == 0 && in_box(c, d, b))
		return true;
	if (d3 == 0 && in_box(a, b, c))
		return true;
	if (d4 == 0 && in_box(a, b, d))
		return true;
	return false;
}

/* Two consecutive edges u-v and v-w meet in more than v only when they fold back on each other. */
static bool adjacent_overlap(struct geo_point u, struct geo_point v, struct geo_point w)
{
	if (orient(u, v, w) != 0)
		return false;
	return (u.lng - v.lng) * (w.lng - v.lng) + (u.lat - v.lat) * (w.lat - v.lat) > 0;
}

static int vedge_cmp(const void *pa, const void *pb)
{
	const struct vedge *a = pa, *b = pb;
	if (a->min_x < b->min_x)
		return -1;
	if (a->min_x > b->min_x)
		return 1;
	return 0;
}

/* Formats "ring R" or "polygon P ring R" into out. */
static void ring_name(char *out, size_t len, const struct geo_multipolygon *mp, size_t p, size_t r)
{
	if (mp->n_polys > 1)
		snprintf(out, len, "polygon %zu ring %zu", p, r);
	else
		snprintf(out, len, "ring %zu", r);
}

/* Checks one ring's shape alone; writes the reason and returns false when it fails. */
static bool ring_check(const struct geo_multipolygon *mp, size_t p, size_t r, char *reason,
		       size_t reason_len)
{
	const struct geo_ring *ring = &mp->polys[p].rings[r];
	char name[64];
	ring_name(name, sizeof(name), mp, p, r);
	if (ring->n < 4) {
		snprintf(reason, reason_len, "%s has %zu positions (a ring needs at least 4)", name,
			 ring->n);
		return false;
	}
	for (size_t i = 0; i < ring->n; i++) {
		struct geo_point q = ring->pts[i];
		if (!isfinite(q.lng) || !isfinite(q.lat)) {
			snprintf(reason, reason_len, "%s position %zu is not a finite number", name, i);
			return false;
		}
		if (q.lng < GEO_CHINA_MIN_LNG || q.lng > GEO_CHINA_MAX_LNG ||
		    q.lat < GEO_CHINA_MIN_LAT || q.lat > GEO_CHINA_MAX_LAT) {
			snprintf(reason, reason_len,
				 "%s position %zu (%.7f, %.7f) is outside China (lng 73..136, lat 3..54)",
				 name, i, q.lng, q.lat);
			return false;
		}
	}
	struct geo_point first = ring->pts[0], last = ring->pts[ring->n - 1];
	if (first.lng != last.lng || first.lat != last.lat) {
		snprintf(reason, reason_len, "%s is not closed (first and last positions differ)", name);
		return false;
	}
	size_t distinct = 0;
	for (size_t i = 0; i + 1 < ring->n; i++) {
		struct geo_point a = ring->pts[i], b = ring->pts[i + 1];
		if (a.lng != b.lng || a.lat != b.lat)
			distinct++;
	}
	if (distinct < 3) {
		snprintf(reason, reason_len, "%s has fewer than 3 distinct positions", name);
		return false;
	}
	return true;
}

/* Segments a-b and c-d cross properly or overlap along a stretch; a single shared point is
 * allowed (two polygons of a MultiPolygon may touch at points). */
static bool segments_cross(struct geo_point a, struct geo_point b, struct geo_point c,
			   struct geo_point d)
{
	double d1 = orient(c, d, a), d2 = orient(c, d, b);
	double d3 = orient(a, b, c), d4 = orient(a, b, d);
	if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
		return true;
	if (d1 != 0 || d2 != 0 || d3 != 0 || d4 != 0)
		return false;
	/* Collinear: project on the longer axis and compare the overlap with zero. */
	bool use_x = fabs(b.lng - a.lng) >= fabs(b.lat - a.lat);
	double a0 = use_x ? a.lng : a.lat, a1 = use_x ? b.lng : b.lat;
	double c0 = use_x ? c.lng : c.lat, c1 = use_x ? d.lng : d.lat;
	return fmin(fmax(a0, a1), fmax(c0, c1)) > fmax(fmin(a0, a1), fmin(c0, c1));
}

/* Sweeps all edges of the multipolygon: rings of one polygon must not meet at all (apart from
 * consecutive edges at their shared vertex), rings of different polygons must not cross. */
static enum cd_err check_crossings(const struct geo_multipolygon *mp, char *reason,
				   size_t reason_len)
{
	size_t total = geo_multipolygon_npoints(mp);
	struct vedge *e = try_malloc((total ? total : 1) * sizeof(*e));
	if (!e)
		return CD_ERR_NOMEM;
	size_t ne = 0;
	for (size_t p = 0; p < mp->n_polys; p++) {
		const struct geo_polygon *poly = &mp->polys[p];
		for (size_t r = 0; r < poly->n_rings; r++) {
			const struct geo_ring *ring = &poly->rings[r];
			size_t first = ne;
			for (size_t i = 0; i + 1 < ring->n; i++) {
				struct geo_point a = ring->pts[i], b = ring->pts[i + 1];
				if (a.lng == b.lng && a.lat == b.lat)
					continue; /* a repeated position is harmless */
				e[ne] = (struct vedge){a, b, fmin(a.lng, b.lng), fmax(a.lng, b.lng), p, r,
						       ne - first, 0, i};
				ne++;
			}
			for (size_t i = first; i < ne; i++)
				e[i].m = ne - first;
		}
	}
	qsort(e, ne, sizeof(*e), vedge_cmp);
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < ne && rc == CD_OK; i++) {
		double lo_y = fmin(e[i].a.lat, e[i].b.lat), hi_y = fmax(e[i].a.lat, e[i].b.lat);
		for (size_t j = i + 1; j < ne && e[j].min_x <= e[i].max_x; j++) {
			if (fmax(e[j].a.lat, e[j].b.lat) < lo_y || fmin(e[j].a.lat, e[j].b.lat) > hi_y)
				continue;
			const struct vedge *x = &e[i], *y = &e[j];
			bool same_ring = x->poly == y->poly && x->ring == y->ring;
			bool bad;
			if (x->poly != y->poly) {
				bad = segments_cross(x->a, x->b, y->a, y->b);
			} else if (same_ring && (x->k + 1 == y->k || (y->k == 0 && x->k + 1 == x->m))) {
				bad = adjacent_overlap(x->a, x->b, y->b); /* x then y */
			} else if (same_ring && (y->k + 1 == x->k || (x->k == 0 && y->k + 1 == y->m))) {
				bad = adjacent_overlap(y->a, y->b, x->b); /* y then x */
			} else {
				bad = segments_meet(x->a, x->b, y->a, y->b);
			}
			if (!bad)
				continue;
			char name[64];
			if (x->poly != y->poly) {
				size_t p1 = x->poly < y->poly ? x->poly : y->poly;
				size_t p2 = x->poly < y->poly ? y->poly : x->poly;
				snprintf(reason, reason_len,
					 "polygon %zu and polygon %zu intersect (near %.7f, %.7f)", p1, p2,
					 x->a.lng, x->a.lat);
			} else if (same_ring) {
				ring_name(name, sizeof(name), mp, x->poly, x->ring);
				size_t lo = x->pos < y->pos ? x->pos : y->pos;
				size_t hi = x->pos < y->pos ? y->pos : x->pos;
				snprintf(reason, reason_len,
					 "%s self-intersects (edge %zu meets edge %zu near %.7f, %.7f)",
					 name, lo, hi, x->a.lng, x->a.lat);
			} else {
				size_t r1 = x->ring < y->ring ? x->ring : y->ring;
				size_t r2 = x->ring < y->ring ? y->ring : x->ring;
				ring_name(name, sizeof(name), mp, x->poly, r1);
				snprintf(reason, reason_len,
					 "%s and ring %zu intersect (self-intersection near %.7f, %.7f)",
					 name, r2, x->a.lng, x->a.lat);
			}
			rc = CD_ERR_INVALID;
			break;
		}
	}
	xfree(e);
	return rc;
}

/* One polygon of a MultiPolygon lying inside another (without crossing) is also an overlap.
 * Tested on two points of the inner outer ring, so polygons that merely touch pass. */
static bool polygons_nest(const struct geo_multipolygon *mp, char *reason, size_t reason_len)
{
	if (mp->n_polys < 2)
		return false;
	for (size_t i = 0; i < mp->n_polys; i++) {
		struct geo_bbox bi = geo_ring_bbox(&mp->polys[i].rings[0]);
		for (size_t j = 0; j < mp->n_polys; j++) {
			if (i == j)
				continue;
			const struct geo_ring *rj = &mp->polys[j].rings[0];
			struct geo_bbox bj = geo_ring_bbox(rj);
			if (!geo_bbox_intersects(&bi, &bj))
				continue;
			struct geo_point v = rj->pts[0], w = rj->pts[1];
			struct geo_point mid = {(v.lng + w.lng) / 2, (v.lat + w.lat) / 2};
			if (geo_polygon_contains(&mp->polys[i], v) &&
			    geo_polygon_contains(&mp->polys[i], mid)) {
				snprintf(reason, reason_len, "polygon %zu lies inside polygon %zu", j, i);
				return true;
			}
		}
	}
	return false;
}

enum cd_err geo_multipolygon_validate(const struct geo_multipolygon *mp, char *reason,
				      size_t reason_len)
{
	if (reason_len)
		reason[0] = '\0';
	if (mp->n_polys == 0) {
		snprintf(reason, reason_len, "geometry has no polygons");
		return CD_ERR_INVALID;
	}
	for (size_t p = 0; p < mp->n_polys; p++) {
		if (mp->polys[p].n_rings == 0) {
			if (mp->n_polys > 1)
				snprintf(reason, reason_len, "polygon %zu has no rings", p);
			else
				snprintf(reason, reason_len, "polygon has no rings");
			return CD_ERR_INVALID;
		}
		for (size_t r = 0; r < mp->polys[p].n_rings; r++)
			if (!ring_check(mp, p, r, reason, reason_len))
				return CD_ERR_INVALID;
	}
	enum cd_err rc = check_crossings(mp, reason, reason_len);
	if (rc == CD_ERR_NOMEM)
		snprintf(reason, reason_len, "out of memory while checking the geometry");
	if (rc)
		return rc;
	if (polygons_nest(mp, reason, reason_len))
		return CD_ERR_INVALID;
	return CD_OK;
}

/* ---- area ---- */

double geo_ring_area_deg2(const struct geo_ring *r)
{
	double s = 0;
	for (size_t i = 0; i + 1 < r->n; i++)
		s += r->pts[i].lng * r->pts[i + 1].lat - r->pts[i + 1].lng * r->pts[i].lat;
	if (r->n > 2) {
		struct geo_point a = r->pts[r->n - 1], b = r->pts[0];
		s += a.lng * b.lat - b.lng * a.lat; /* zero when the ring is closed */
	}
	return s / 2;
}

double geo_ring_area_m2(const struct geo_ring *r)
{
	if (r->n < 3)
		return 0;
	double lat0 = 0;
	for (size_t i = 0; i < r->n; i++)
		lat0 += r->pts[i].lat;
	lat0 /= (double)r->n;
	double kx = cos(lat0 * DEG_TO_RAD) * EARTH_RADIUS_M * DEG_TO_RAD;
	double ky = EARTH_RADIUS_M * DEG_TO_RAD;
	/* Offsets from the first position keep the products small and precise. */
	struct geo_point o = r->pts[0];
	double s = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct geo_point a = r->pts[i], b = r->pts[(i + 1) % r->n];
		double ax = (a.lng - o.lng) * kx, ay = (a.lat - o.lat) * ky;
		double bx = (b.lng - o.lng) * kx, by = (b.lat - o.lat) * ky;
		s += ax * by - bx * ay;
	}
	return fabs(s) / 2;
}

double geo_multipolygon_area_m2(const struct geo_multipolygon *mp)
{
	double total = 0;
	for (size_t i = 0; i < mp->n_polys; i++) {
		const struct geo_polygon *p = &mp->polys[i];
		for (size_t r = 0; r < p->n_rings; r++) {
			double a = geo_ring_area_m2(&p->rings[r]);
			total += r == 0 ? a : -a;
		}
	}
	return total;
}

/* ---- clipping ---- */

/* Which side of the line a point is on; <= 0 is kept. */
static double side(double a, double b, double c, struct geo_point p)
{
	return a * p.lng + b * p.lat - c;
}

static struct geo_point cut(double a, double b, double c, struct geo_point s, struct geo_point e)
{
	double fs = side(a, b, c, s), fe = side(a, b, c, e);
	double t = fs / (fs - fe);
	struct geo_point q = {s.lng + t * (e.lng - s.lng), s.lat + t * (e.lat - s.lat)};
	/* On an axis-parallel line the cut lands exactly on it, so neighbouring grid cells share
	 * bit-identical sides. */
	if (b == 0)
		q.lng = c / a;
	else if (a == 0)
		q.lat = c / b;
	return q;
}

/* Clips one ring; on success *out holds a closed ring, or n == 0 when nothing is left. */
static enum cd_err clip_ring(const struct geo_ring *in, double a, double b, double c,
			     struct geo_ring *out)
{
	out->pts = NULL;
	out->n = 0;
	size_t n = in->n;
	if (n >= 2 && in->pts[0].lng == in->pts[n - 1].lng && in->pts[0].lat == in->pts[n - 1].lat)
		n--; /* work on the open vertex list */
	if (n < 3)
		return CD_OK;
	/* Each input vertex adds at most two outputs; one more for the closing copy. */
	struct geo_point *o = try_malloc((2 * n + 1) * sizeof(*o));
	if (!o)
		return CD_ERR_NOMEM;
	size_t k = 0;
	struct geo_point s = in->pts[n - 1];
	bool s_in = side(a, b, c, s) <= 0;
	for (size_t i = 0; i < n; i++) {
		struct geo_point e = in->pts[i];
		bool e_in = side(a, b, c, e) <= 0;
		if (e_in != s_in)
			o[k++] = cut(a, b, c, s, e);
		if (e_in)
			o[k++] = e;
		s = e;
		s_in = e_in;
	}
	/* Drop consecutive repeats, including between the end and the start. */
	size_t m = 0;
	for (size_t i = 0; i < k; i++)
		if (m == 0 || o[i].lng != o[m - 1].lng || o[i].lat != o[m - 1].lat)
			o[m++] = o[i];
	while (m > 1 && o[m - 1].lng == o[0].lng && o[m - 1].lat == o[0].lat)
		m--;
	if (m < 3) {
		xfree(o);
		return CD_OK;
	}
	o[m++] = o[0];
	struct geo_ring r = {o, m};
	if (geo_ring_area_deg2(&r) == 0) {
		xfree(o);
		return CD_OK;
	}
	*out = r;
	return CD_OK;
}

enum cd_err geo_multipolygon_clip_halfplane(const struct geo_multipolygon *mp, double a, double b,
					    double c, struct geo_multipolygon *out)
{
	out->polys = NULL;
	out->n_polys = 0;
	if (mp->n_polys == 0)
		return CD_OK;
	out->polys = try_calloc(mp->n_polys, sizeof(*out->polys));
	if (!out->polys)
		return CD_ERR_NOMEM;
	for (size_t i = 0; i < mp->n_polys; i++) {
		const struct geo_polygon *sp = &mp->polys[i];
		if (sp->n_rings == 0)
			continue;
		struct geo_ring outer;
		if (clip_ring(&sp->rings[0], a, b, c, &outer))
			goto nomem;
		if (outer.n == 0)
			continue;
		struct geo_polygon *dp = &out->polys[out->n_polys++];
		dp->rings = try_calloc(sp->n_rings, sizeof(*dp->rings));
		if (!dp->rings) {
			xfree(outer.pts);
			goto nomem;
		}
		dp->rings[0] = outer;
		dp->n_rings = 1;
		for (size_t r = 1; r < sp->n_rings; r++) {
			struct geo_ring hole;
			if (clip_ring(&sp->rings[r], a, b, c, &hole))
				goto nomem;
			if (hole.n)
				dp->rings[dp->n_rings++] = hole;
		}
	}
	if (out->n_polys == 0) {
		xfree(out->polys);
		out->polys = NULL;
	}
	return CD_OK;
nomem:
	geo_multipolygon_release(out);
	return CD_ERR_NOMEM;
}

enum cd_err geo_multipolygon_clip_bbox(const struct geo_multipolygon *mp, const struct geo_bbox *box,
				       struct geo_multipolygon *out)
{
	/* west, east, south, north as a*lng + b*lat <= c */
	const double planes[4][3] = {
		{-1, 0, -box->min_lng},
		{1, 0, box->max_lng},
		{0, -1, -box->min_lat},
		{0, 1, box->max_lat},
	};
	struct geo_multipolygon cur;
	out->polys = NULL;
	out->n_polys = 0;
	enum cd_err rc = geo_multipolygon_copy(mp, &cur);
	if (rc)
		return rc;
	for (size_t i = 0; i < 4; i++) {
		struct geo_multipolygon next;
		rc = geo_multipolygon_clip_halfplane(&cur, planes[i][0], planes[i][1], planes[i][2],
						     &next);
		geo_multipolygon_release(&cur);
		if (rc) {
			out->polys = NULL;
			out->n_polys = 0;
			return rc;
		}
		cur = next;
	}
	*out = cur;
	return CD_OK;
}
