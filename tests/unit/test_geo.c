/* Unit tests for core/geo: containment (holes, edges, multipolygons), validation reasons,
 * area and clipping. */
#include <stdint.h>
#include <stdlib.h>

#include "core/geo.h"
#include "test.h"
#include "util/alloc.h"

/* Builds a one-ring polygon multipolygon from n (lng, lat) pairs; xfree via release. */
static struct geo_multipolygon make_poly(const double *xy, size_t n)
{
	struct geo_multipolygon mp = {xcalloc(1, sizeof(struct geo_polygon)), 1};
	mp.polys[0].rings = xcalloc(1, sizeof(struct geo_ring));
	mp.polys[0].n_rings = 1;
	mp.polys[0].rings[0].pts = xmalloc(n * sizeof(struct geo_point));
	mp.polys[0].rings[0].n = n;
	for (size_t i = 0; i < n; i++)
		mp.polys[0].rings[0].pts[i] = (struct geo_point){xy[2 * i], xy[2 * i + 1]};
	return mp;
}

/* Adds a ring (a hole) to polygon 0. */
static void add_ring(struct geo_multipolygon *mp, const double *xy, size_t n)
{
	struct geo_polygon *p = &mp->polys[0];
	p->rings = xrealloc(p->rings, (p->n_rings + 1) * sizeof(struct geo_ring));
	struct geo_ring *r = &p->rings[p->n_rings++];
	r->pts = xmalloc(n * sizeof(struct geo_point));
	r->n = n;
	for (size_t i = 0; i < n; i++)
		r->pts[i] = (struct geo_point){xy[2 * i], xy[2 * i + 1]};
}

/* Moves the polygons of b into a (a MultiPolygon of both). */
static void merge(struct geo_multipolygon *a, struct geo_multipolygon *b)
{
	a->polys = xrealloc(a->polys, (a->n_polys + b->n_polys) * sizeof(struct geo_polygon));
	for (size_t i = 0; i < b->n_polys; i++)
		a->polys[a->n_polys++] = b->polys[i];
	xfree(b->polys);
	b->polys = NULL;
	b->n_polys = 0;
}

static bool in(const struct geo_multipolygon *mp, double x, double y)
{
	return geo_multipolygon_contains(mp, (struct geo_point){x, y});
}

/* A 0.01-degree square near Luohu. */
static const double SQ[] = {114.10, 22.50, 114.11, 22.50, 114.11, 22.51, 114.10, 22.51, 114.10, 22.50};
static const double HOLE[] = {114.103, 22.503, 114.103, 22.507, 114.107, 22.507, 114.107, 22.503,
			      114.103, 22.503};

static uint64_t rng_state = 88172645463325252ULL;
static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void test_square_inside_outside(void)
{
	struct geo_multipolygon mp = make_poly(SQ, 5);
	CHECK(in(&mp, 114.105, 22.505));
	CHECK(!in(&mp, 114.095, 22.505));
	CHECK(!in(&mp, 114.115, 22.505));
	CHECK(!in(&mp, 114.105, 22.515));
	CHECK(!in(&mp, 114.105, 22.495));
	geo_multipolygon_release(&mp);
}

static void test_edges_west_south_in_east_north_out(void)
{
	struct geo_multipolygon mp = make_poly(SQ, 5);
	CHECK(in(&mp, 114.10, 22.505));   /* west edge */
	CHECK(!in(&mp, 114.11, 22.505));  /* east edge */
	CHECK(in(&mp, 114.105, 22.50));   /* south edge */
	CHECK(!in(&mp, 114.105, 22.51));  /* north edge */
	CHECK(in(&mp, 114.10, 22.50));    /* south-west corner */
	CHECK(!in(&mp, 114.11, 22.51));   /* north-east corner */
	CHECK(!in(&mp, 114.11, 22.50));   /* south-east corner */
	CHECK(!in(&mp, 114.10, 22.51));   /* north-west corner */
	/* The same square wound the other way gives the same answers. */
	double rev[10];
	for (int i = 0; i < 5; i++) {
		rev[2 * i] = SQ[2 * (4 - i)];
		rev[2 * i + 1] = SQ[2 * (4 - i) + 1];
	}
	struct geo_multipolygon r = make_poly(rev, 5);
	CHECK(in(&r, 114.10, 22.505));
	CHECK(!in(&r, 114.11, 22.505));
	CHECK(in(&r, 114.105, 22.50));
	CHECK(!in(&r, 114.105, 22.51));
	geo_multipolygon_release(&mp);
	geo_multipolygon_release(&r);
}

static void test_shared_edge_belongs_to_exactly_one(void)
{
	/* Two triangles splitting the square along a diagonal, and many points exactly on it. */
	const double t1[] = {114.10, 22.50, 114.11, 22.50, 114.11, 22.51, 114.10, 22.50};
	const double t2[] = {114.10, 22.50, 114.11, 22.51, 114.10, 22.51, 114.10, 22.50};
	struct geo_multipolygon a = make_poly(t1, 4), b = make_poly(t2, 4);
	struct geo_point lo = {114.10, 22.50}, hi = {114.11, 22.51};
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		double y = 22.50 + 0.01 * rnd();
		double x = geo_edge_x_at(lo, hi, y); /* exactly "on" the shared edge */
		int n = in(&a, x, y) + in(&b, x, y);
		bad += n != 1;
	}
	CHECK_INT_EQ(bad, 0);
	/* Random points anywhere in the square: still exactly one. */
	bad = 0;
	for (int i = 0; i < 10000; i++) {
		double x = 114.10 + 0.01 * rnd(), y = 22.50 + 0.01 * rnd();
		bad += in(&a, x, y) + in(&b, x, y) != 1;
	}
	CHECK_INT_EQ(bad, 0);
	geo_multipolygon_release(&a);
	geo_multipolygon_release(&b);
}

static void test_hole(void)
{
	struct geo_multipolygon mp = make_poly(SQ, 5);
	add_ring(&mp, HOLE, 5);
	CHECK(in(&mp, 114.101, 22.501));
	CHECK(!in(&mp, 114.105, 22.505)); /* in the hole */
	CHECK(in(&mp, 114.108, 22.505));
	char why[200];
	CHECK_INT_EQ(geo_multipolygon_validate(&mp, why, sizeof(why)), CD_OK);
	/* Area: outer minus hole. */
	struct geo_multipolygon outer = make_poly(SQ, 5), hole = make_poly(HOLE, 5);
	CHECK_NEAR(geo_multipolygon_area_m2(&mp),
		   geo_multipolygon_area_m2(&outer) - geo_multipolygon_area_m2(&hole), 1.0);
	geo_multipolygon_release(&mp);
	geo_multipolygon_release(&outer);
	geo_multipolygon_release(&hole);
}

static void test_multipolygon(void)
{
	const double sq2[] = {114.20, 22.50, 114.21, 22.50, 114.21, 22.51, 114.20, 22.51, 114.20, 22.50};
	struct geo_multipolygon a = make_poly(SQ, 5), b = make_poly(sq2, 5);
	merge(&a, &b);
	CHECK_INT_EQ(a.n_polys, 2);
	CHECK(in(&a, 114.105, 22.505));
	CHECK(in(&a, 114.205, 22.505));
	CHECK(!in(&a, 114.155, 22.505));
	struct geo_bbox bb = geo_multipolygon_bbox(&a);
	CHECK_NEAR(bb.min_lng, 114.10, 0);
	CHECK_NEAR(bb.max_lng, 114.21, 0);
	char why[200];
	CHECK_INT_EQ(geo_multipolygon_validate(&a, why, sizeof(why)), CD_OK);
	/* Reasons name the polygon once there are several. */
	a.polys[1].rings[0].pts[4].lat = 22.5001;
	CHECK_INT_EQ(geo_multipolygon_validate(&a, why, sizeof(why)), CD_ERR_INVALID);
	CHECK_STR_EQ(why, "polygon 1 ring 0 is not closed (first and last positions differ)");
	geo_multipolygon_release(&a);
}

/* Validation: each (coordinates, expected reason prefix). */
struct bad_case {
	const char *name;
	double xy[16];
	size_t n;
	const char *reason;
};

static const struct bad_case bad_cases[] = {
	{"unclosed", {114.10, 22.50, 114.11, 22.50, 114.11, 22.51, 114.10, 22.51}, 4,
	 "ring 0 is not closed (first and last positions differ)"},
	{"three positions", {114.10, 22.50, 114.11, 22.50, 114.10, 22.50}, 3,
	 "ring 0 has 3 positions (a ring needs at least 4)"},
	{"bow tie", {114.10, 22.50, 114.11, 22.51, 114.11, 22.50, 114.10, 22.51, 114.10, 22.50}, 5,
	 "ring 0 self-intersects (edge 0 meets edge 2 near"},
	{"outside China", {-0.1, 51.5, 0.0, 51.5, 0.0, 51.6, -0.1, 51.5}, 4,
	 "ring 0 position 0 (-0.1000000, 51.5000000) is outside China"},
	{"spike", {114.10, 22.50, 114.11, 22.50, 114.12, 22.50, 114.11, 22.50, 114.11, 22.51, 114.10, 22.50},
	 6, "ring 0 self-intersects"},
	{"self-touching", {114.10, 22.50, 114.12, 22.50, 114.11, 22.51, 114.12, 22.52, 114.10, 22.52,
			   114.11, 22.51, 114.10, 22.50}, 7, "ring 0 self-intersects"},
	{"collinear", {114.10, 22.50, 114.11, 22.50, 114.12, 22.50, 114.10, 22.50}, 4,
	 "ring 0 self-intersects"},
	{"not a number", {114.10, 22.50, NAN, 22.50, 114.11, 22.51, 114.10, 22.50}, 4,
	 "ring 0 position 1 is not a finite number"},
};

static void test_validate_reasons(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct geo_multipolygon mp = make_poly(bc->xy, bc->n);
		char why[200] = "";
		enum cd_err rc = geo_multipolygon_validate(&mp, why, sizeof(why));
		CHECK_INT_EQ(rc, CD_ERR_INVALID);
		if (strncmp(why, bc->reason, strlen(bc->reason)) != 0) {
			fprintf(stderr, "  case %s: reason \"%s\" does not start with \"%s\"\n", bc->name,
				why, bc->reason);
			test_failures_in_case++;
		}
		geo_multipolygon_release(&mp);
	}
}

static void test_validate_accepts(void)
{
	char why[200];
	/* A concave ring, a repeated consecutive position, and a square. */
	const double concave[] = {114.10, 22.50, 114.13, 22.50, 114.13, 22.53, 114.12, 22.53, 114.12,
				  22.51, 114.11, 22.51, 114.11, 22.53, 114.11, 22.53, 114.10, 22.53,
				  114.10, 22.50};
	struct geo_multipolygon a = make_poly(concave, 10), b = make_poly(SQ, 5);
	CHECK_INT_EQ(geo_multipolygon_validate(&a, why, sizeof(why)), CD_OK);
	CHECK_INT_EQ(geo_multipolygon_validate(&b, why, sizeof(why)), CD_OK);
	geo_multipolygon_release(&a);
	geo_multipolygon_release(&b);
}

static void test_validate_hole_crossing_shell(void)
{
	const double hole[] = {114.105, 22.505, 114.115, 22.505, 114.115, 22.507, 114.105, 22.507,
			       114.105, 22.505};
	struct geo_multipolygon mp = make_poly(SQ, 5);
	add_ring(&mp, hole, 5);
	char why[200];
	CHECK_INT_EQ(geo_multipolygon_validate(&mp, why, sizeof(why)), CD_ERR_INVALID);
	CHECK(strncmp(why, "ring 0 and ring 1 intersect", 27) == 0);
	geo_multipolygon_release(&mp);
}

static void test_validate_large_ring_fast_and_right(void)
{
	/* A 4000-vertex circle is valid; moving one vertex across the ring makes it invalid. */
	size_t n = 4001;
	double *xy = xmalloc(2 * n * sizeof(double));
	for (size_t i = 0; i < n - 1; i++) {
		double t = 2 * 3.14159265358979 * (double)i / (double)(n - 1);
		xy[2 * i] = 114.1 + 0.01 * cos(t);
		xy[2 * i + 1] = 22.5 + 0.01 * sin(t);
	}
	xy[2 * (n - 1)] = xy[0];
	xy[2 * (n - 1) + 1] = xy[1];
	struct geo_multipolygon mp = make_poly(xy, n);
	char why[200];
	CHECK_INT_EQ(geo_multipolygon_validate(&mp, why, sizeof(why)), CD_OK);
	mp.polys[0].rings[0].pts[1000].lat = 22.49; /* top vertex pulled below the bottom */
	CHECK_INT_EQ(geo_multipolygon_validate(&mp, why, sizeof(why)), CD_ERR_INVALID);
	CHECK(strstr(why, "self-intersects") != NULL);
	geo_multipolygon_release(&mp);
	xfree(xy);
}

static void test_area(void)
{
	/* 0.01 x 0.01 degrees at 22.505 N: (0.01 * 111195 m)^2 * cos(22.505 deg) = 1.1423e6 m2. */
	struct geo_multipolygon mp = make_poly(SQ, 5);
	double a = geo_multipolygon_area_m2(&mp);
	CHECK_NEAR(a, 1.1423e6, 0.002e6);
	CHECK_NEAR(geo_ring_area_deg2(&mp.polys[0].rings[0]), 1e-4, 1e-12);
	geo_multipolygon_release(&mp);
}

static void test_clip_bbox_square(void)
{
	struct geo_multipolygon mp = make_poly(SQ, 5), out;
	struct geo_bbox half = {114.105, 22.0, 115.0, 23.0};
	CHECK_INT_EQ(geo_multipolygon_clip_bbox(&mp, &half, &out), CD_OK);
	CHECK_INT_EQ(out.n_polys, 1);
	CHECK_NEAR(geo_multipolygon_area_m2(&out), geo_multipolygon_area_m2(&mp) / 2, 1.0);
	CHECK(in(&out, 114.107, 22.505));
	CHECK(!in(&out, 114.103, 22.505));
	geo_multipolygon_release(&out);
	/* A box that misses gives nothing; a box that only touches gives nothing. */
	struct geo_bbox miss = {114.2, 22.5, 114.3, 22.6}, touch = {114.11, 22.5, 114.2, 22.51};
	CHECK_INT_EQ(geo_multipolygon_clip_bbox(&mp, &miss, &out), CD_OK);
	CHECK_INT_EQ(out.n_polys, 0);
	CHECK_INT_EQ(geo_multipolygon_clip_bbox(&mp, &touch, &out), CD_OK);
	CHECK_INT_EQ(out.n_polys, 0);
	geo_multipolygon_release(&mp);
}

static void test_clip_concave_keeps_containment(void)
{
	/* A U shape (concave) with a hole in its base, clipped by a box across both arms: every
	 * point inside the box must get the same answer from the clipped shape as from the whole. */
	const double u[] = {114.10, 22.50, 114.13, 22.50, 114.13, 22.53, 114.12, 22.53, 114.12, 22.51,
			    114.11, 22.51, 114.11, 22.53, 114.10, 22.53, 114.10, 22.50};
	const double hole[] = {114.104, 22.502, 114.126, 22.502, 114.126, 22.506, 114.104, 22.506,
			       114.104, 22.502};
	struct geo_multipolygon mp = make_poly(u, 9), out;
	add_ring(&mp, hole, 5);
	struct geo_bbox box = {114.105, 22.504, 114.125, 22.525};
	CHECK_INT_EQ(geo_multipolygon_clip_bbox(&mp, &box, &out), CD_OK);
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		double x = box.min_lng + (box.max_lng - box.min_lng) * rnd();
		double y = box.min_lat + (box.max_lat - box.min_lat) * rnd();
		bad += in(&mp, x, y) != in(&out, x, y);
	}
	CHECK_INT_EQ(bad, 0);
	/* Area of the clip: two arm pieces above the hole, the base strip, minus the hole part. */
	double want = 0;
	for (int i = 0; i < 40000; i++) {
		double x = box.min_lng + (box.max_lng - box.min_lng) * rnd();
		double y = box.min_lat + (box.max_lat - box.min_lat) * rnd();
		want += in(&mp, x, y);
	}
	struct geo_multipolygon boxmp;
	CHECK_INT_EQ(geo_multipolygon_from_bbox(&box, &boxmp), CD_OK);
	want = want / 40000 * geo_multipolygon_area_m2(&boxmp);
	CHECK_NEAR(geo_multipolygon_area_m2(&out), want, want * 0.03);
	geo_multipolygon_release(&boxmp);
	geo_multipolygon_release(&out);
	geo_multipolygon_release(&mp);
}

static void test_clip_halfplane_diagonal(void)
{
	struct geo_multipolygon mp = make_poly(SQ, 5), out;
	/* Keep lng + lat <= 114.10 + 22.51: the lower-left triangle, half the area. */
	CHECK_INT_EQ(geo_multipolygon_clip_halfplane(&mp, 1, 1, 114.10 + 22.51, &out), CD_OK);
	CHECK_NEAR(geo_ring_area_deg2(&out.polys[0].rings[0]), 0.5e-4, 1e-9);
	geo_multipolygon_release(&out);
	geo_multipolygon_release(&mp);
}

static void test_clip_nomem_leaves_empty(void)
{
	struct geo_multipolygon mp = make_poly(SQ, 5), out;
	add_ring(&mp, HOLE, 5);
	struct geo_bbox box = {114.101, 22.501, 114.109, 22.509};
	int nomem = 0;
	for (long k = 0; k < 40; k++) {
		alloc_fail_after(k);
		enum cd_err rc = geo_multipolygon_clip_bbox(&mp, &box, &out);
		alloc_fail_after(-1);
		if (rc == CD_ERR_NOMEM) {
			nomem++;
			CHECK(out.polys == NULL && out.n_polys == 0);
		} else {
			CHECK_INT_EQ(rc, CD_OK);
			CHECK_INT_EQ(out.n_polys, 1);
			geo_multipolygon_release(&out);
		}
	}
	CHECK(nomem > 3);
	geo_multipolygon_release(&mp);
}

static void test_multipolygon_overlaps(void)
{
	char why[200];
	/* Crossing polygons, nested polygons, and polygons touching at a corner (allowed). */
	const double cross[] = {114.105, 22.505, 114.115, 22.505, 114.115, 22.515, 114.105, 22.505};
	const double inner[] = {114.102, 22.502, 114.104, 22.502, 114.104, 22.504, 114.102, 22.502};
	const double corner[] = {114.11, 22.51, 114.12, 22.51, 114.12, 22.52, 114.11, 22.51};
	const double *others[3] = {cross, inner, corner};
	const char *want[3] = {"polygon 0 and polygon 1 intersect", "polygon 1 lies inside polygon 0", NULL};
	for (int i = 0; i < 3; i++) {
		struct geo_multipolygon a = make_poly(SQ, 5), b = make_poly(others[i], 4);
		merge(&a, &b);
		enum cd_err rc = geo_multipolygon_validate(&a, why, sizeof(why));
		if (want[i]) {
			CHECK_INT_EQ(rc, CD_ERR_INVALID);
			CHECK(strncmp(why, want[i], strlen(want[i])) == 0 || (fprintf(stderr, "  %s\n", why), 0));
		} else {
			CHECK_INT_EQ(rc, CD_OK);
		}
		/* Containment is even-odd over all rings: the nested part counts as outside. */
		if (i == 1)
			CHECK(!in(&a, 114.1035, 22.5025));
		geo_multipolygon_release(&a);
	}
}

static const struct test_case tests[] = {
	{"multipolygon: overlaps rejected, corner touch allowed", test_multipolygon_overlaps},
	{"square inside/outside", test_square_inside_outside},
	{"edges: west/south in, east/north out", test_edges_west_south_in_east_north_out},
	{"shared edge belongs to exactly one", test_shared_edge_belongs_to_exactly_one},
	{"hole", test_hole},
	{"multipolygon", test_multipolygon},
	{"validate: reasons", test_validate_reasons},
	{"validate: accepts valid shapes", test_validate_accepts},
	{"validate: hole crossing shell", test_validate_hole_crossing_shell},
	{"validate: 4000-vertex ring", test_validate_large_ring_fast_and_right},
	{"area", test_area},
	{"clip: square by box", test_clip_bbox_square},
	{"clip: concave with hole keeps containment", test_clip_concave_keeps_containment},
	{"clip: diagonal half-plane", test_clip_halfplane_diagonal},
	{"clip: allocation failure", test_clip_nomem_leaves_empty},
};

TEST_MAIN(tests)
