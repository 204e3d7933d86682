/* GEOS's side of the locate benchmark: the same polygons (read and gridded by citydesk's own
 * reader and grid builder, so both sides index identical shapes) in an STRtree of prepared
 * geometries, queried with each of the same N points (same xorshift seed as bench_locate.c);
 * the answer is the lowest index whose prepared geometry contains the point. Point geometries are
 * created before the clock starts, to give GEOS its best case; each figure is the best of 3 passes.
 *
 *   bench_locate_geos OUTLINE STREETS COMMUNITIES [POINTS [SEED]]
 *
 * Output lines:  "geos streets 3.210 M/s checksum 123 found 456". */
#include <geos_c.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/geojson.h"
#include "core/locate.h"
#include "locate_common.h"
#include "util/alloc.h"


static void geos_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static GEOSGeometry *ring_geos(GEOSContextHandle_t h, const struct geo_ring *r)
{
	GEOSCoordSequence *cs = GEOSCoordSeq_create_r(h, (unsigned)r->n, 2);
	for (size_t i = 0; i < r->n; i++)
		GEOSCoordSeq_setXY_r(h, cs, (unsigned)i, r->pts[i].lng, r->pts[i].lat);
	return GEOSGeom_createLinearRing_r(h, cs);
}

static GEOSGeometry *mp_geos(GEOSContextHandle_t h, const struct geo_multipolygon *mp)
{
	GEOSGeometry **polys = xcalloc(mp->n_polys ? mp->n_polys : 1, sizeof(*polys));
	for (size_t i = 0; i < mp->n_polys; i++) {
		const struct geo_polygon *p = &mp->polys[i];
		GEOSGeometry **holes = xcalloc(p->n_rings, sizeof(*holes));
		for (size_t r = 1; r < p->n_rings; r++)
			holes[r - 1] = ring_geos(h, &p->rings[r]);
		polys[i] = GEOSGeom_createPolygon_r(h, ring_geos(h, &p->rings[0]), holes,
						    (unsigned)(p->n_rings - 1));
		xfree(holes);
	}
	GEOSGeometry *g = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys, (unsigned)mp->n_polys);
	xfree(polys);
	return g;
}

/* One indexed shape. */
struct item {
	long index;
	const GEOSPreparedGeometry *prep;
};

struct query {
	GEOSContextHandle_t h;
	const GEOSGeometry *pt;
	long best;
};

static void on_candidate(void *item, void *userdata)
{
	const struct item *it = item;
	struct query *q = userdata;
	if (q->best >= 0 && it->index > q->best)
		return;
	if (GEOSPreparedContains_r(q->h, it->prep, q->pt) == 1)
		q->best = it->index;
}

/* Builds the tree over n shapes, runs every point through it, prints the figure. */
static void run(GEOSContextHandle_t h, const char *label, const struct geo_multipolygon *const *shapes,
		size_t n, GEOSGeometry **pts, long npoints)
{
	double t0 = bench_now();
	GEOSGeometry **geoms = xcalloc(n, sizeof(*geoms));
	struct item *items = xcalloc(n, sizeof(*items));
	GEOSSTRtree *tree = GEOSSTRtree_create_r(h, 10);
	for (size_t i = 0; i < n; i++) {
		geoms[i] = mp_geos(h, shapes[i]);
		items[i].index = (long)i;
		items[i].prep = GEOSPrepare_r(h, geoms[i]);
		GEOSSTRtree_insert_r(h, tree, geoms[i], &items[i]);
	}
	/* The tree builds itself on the first query; do that outside the clock. */
	struct query q = {h, pts[0], -1};
	GEOSSTRtree_query_r(h, tree, pts[0], on_candidate, &q);
	double t_build = bench_now() - t0;
	uint64_t sum = 0;
	long found = 0;
	double dt = 1e30;
	for (int rep = 0; rep < REPEAT; rep++) {
		sum = 0;
		found = 0;
		t0 = bench_now();
		for (long i = 0; i < npoints; i++) {
			q.pt = pts[i];
			q.best = -1;
			GEOSSTRtree_query_r(h, tree, pts[i], on_candidate, &q);
			sum += (uint64_t)(q.best + 1);
			found += q.best >= 0;
		}
		double t = bench_now() - t0;
		dt = t < dt ? t : dt;
	}
	printf("geos %s %.3f M/s checksum %llu found %ld build %.3f s\n", label, npoints / dt / 1e6,
	       (unsigned long long)sum, found, t_build);
	GEOSSTRtree_destroy_r(h, tree);
	for (size_t i = 0; i < n; i++) {
		GEOSPreparedGeom_destroy_r(h, items[i].prep);
		GEOSGeom_destroy_r(h, geoms[i]);
	}
	xfree(items);
	xfree(geoms);
}

int main(int argc, char **argv)
{
	/* The grid cells come from citydesk's builder, so both sides see the same polygons. */
	struct bench_district d;
	int rc = bench_district_load(argc, argv,
				     "usage: bench_locate_geos OUTLINE STREETS COMMUNITIES [POINTS [SEED]]\n", &d);
	if (rc)
		return rc;
	long npoints = d.npoints;
	const struct geojson_features *streets = &d.streets;
	const struct locate_index *idx = d.idx;

	GEOSContextHandle_t h = GEOS_init_r();
	GEOSContext_setNoticeHandler_r(h, geos_msg);
	GEOSContext_setErrorHandler_r(h, geos_msg);
	struct geo_bbox bb = geo_multipolygon_bbox(&d.outline.items[0].geom);
	GEOSGeometry **pts = xmalloc((size_t)npoints * sizeof(*pts));
	uint64_t rng = d.seed;
	for (long i = 0; i < npoints; i++) {
		struct geo_point p = bench_point(&bb, &rng);
		pts[i] = GEOSGeom_createPointFromXY_r(h, p.lng, p.lat);
	}
	printf("geos %s, %zu streets, %zu grid cells, %ld points\n", GEOSversion(), streets->n,
	       locate_cell_count(idx), npoints);

	const struct geo_multipolygon **sg = xcalloc(streets->n, sizeof(*sg));
	for (size_t i = 0; i < streets->n; i++)
		sg[i] = &streets->items[i].geom;
	run(h, "streets", sg, streets->n, pts, npoints);
	size_t nc = locate_cell_count(idx);
	const struct geo_multipolygon **cg = xcalloc(nc, sizeof(*cg));
	for (size_t i = 0; i < nc; i++)
		cg[i] = &locate_cell_at(idx, i)->poly;
	run(h, "grid", cg, nc, pts, npoints);

	for (long i = 0; i < npoints; i++)
		GEOSGeom_destroy_r(h, pts[i]);
	xfree(pts);
	xfree(sg);
	xfree(cg);
	GEOS_finish_r(h);
	bench_district_release(&d);
	return 0;
}
