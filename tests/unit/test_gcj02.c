/* Unit tests for core/gcj02: the published outline pairs, the round trip under 1 m over
 * Shenzhen, the size of the offset, and the identity outside China. */
#include <stdint.h>

#include "core/gcj02.h"
#include "core/geojson.h"
#include "test.h"
#include "util/alloc.h"

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Distance in metres between two nearby points (equirectangular). */
static double metres(struct geo_point a, struct geo_point b)
{
	double k = 3.14159265358979323846 / 180.0 * 6371008.8;
	double dx = (a.lng - b.lng) * k * cos((a.lat + b.lat) / 2 * 3.14159265358979323846 / 180.0);
	double dy = (a.lat - b.lat) * k;
	return sqrt(dx * dx + dy * dy);
}

static void test_round_trip_under_1m(void)
{
	/* Luohu's box and the whole of Shenzhen's, 20,000 points each. */
	const struct geo_bbox boxes[] = {
		{114.06, 22.52, 114.22, 22.62},
		{113.75, 22.40, 114.65, 22.87},
	};
	for (size_t b = 0; b < 2; b++) {
		double worst = 0, least_offset = 1e9;
		for (int i = 0; i < 20000; i++) {
			struct geo_point w = {boxes[b].min_lng + rnd() * (boxes[b].max_lng - boxes[b].min_lng),
					      boxes[b].min_lat + rnd() * (boxes[b].max_lat - boxes[b].min_lat)};
			struct geo_point g = gcj02_from_wgs84(w);
			struct geo_point back = gcj02_to_wgs84(g);
			worst = fmax(worst, metres(w, back));
			least_offset = fmin(least_offset, metres(w, g));
		}
		printf("  box %zu: worst round-trip error %.3g m, smallest offset %.0f m\n", b, worst,
		       least_offset);
		CHECK(worst < 1.0);
		CHECK(worst < 0.001); /* the iteration actually converges far below a metre */
		/* The offset is real: hundreds of metres in Shenzhen. */
		CHECK(least_offset > 100);
	}
}

static void test_published_outline_pairs(void)
{
	/* The shared data holds Luohu's outline as published (GCJ-02, 6 decimals) and converted
	 * to WGS-84 (7 decimals): our conversions must map one onto the other within rounding. */
	const char *paths[2] = {"../shared/data/luohu/district-outline.wgs84.geojson",
				"../shared/data/luohu/district-outline.gcj02.geojson"};
	struct geojson_features f[2] = {{NULL, 0}, {NULL, 0}};
	for (int i = 0; i < 2; i++) {
		FILE *fp = fopen(paths[i], "rb");
		CHECK(fp != NULL);
		if (!fp)
			goto out;
		static char text[1 << 20];
		size_t len = fread(text, 1, sizeof(text), fp);
		fclose(fp);
		char err[200];
		/* Read the GCJ-02 file raw, so the test below converts it itself. */
		CHECK_INT_EQ(geojson_read(text, len, GEOJSON_WGS84, &f[i], err, sizeof(err)), CD_OK);
	}
	if (!f[0].n || !f[1].n)
		goto out;
	const struct geo_ring *w = &f[0].items[0].geom.polys[0].rings[0];
	const struct geo_ring *g = &f[1].items[0].geom.polys[0].rings[0];
	CHECK_INT_EQ(w->n, g->n);
	double worst_fwd = 0, worst_inv = 0;
	for (size_t i = 0; i < w->n && i < g->n; i++) {
		worst_fwd = fmax(worst_fwd, metres(gcj02_from_wgs84(w->pts[i]), g->pts[i]));
		worst_inv = fmax(worst_inv, metres(gcj02_to_wgs84(g->pts[i]), w->pts[i]));
	}
	/* 1e-6 degree of rounding in the GCJ file is about 0.1 m. */
	CHECK(worst_fwd < 0.3);
	CHECK(worst_inv < 0.3);
out:
	geojson_features_release(&f[0]);
	geojson_features_release(&f[1]);
}

static void test_outside_china_unchanged(void)
{
	const struct geo_point pts[] = {{2.35, 48.85}, {-74.0, 40.7}, {139.7, 35.7}, {114.1, 0.5}};
	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		CHECK(!gcj02_applies(pts[i]));
		struct geo_point a = gcj02_from_wgs84(pts[i]), b = gcj02_to_wgs84(pts[i]);
		CHECK_NEAR(a.lng, pts[i].lng, 0);
		CHECK_NEAR(a.lat, pts[i].lat, 0);
		CHECK_NEAR(b.lng, pts[i].lng, 0);
		CHECK_NEAR(b.lat, pts[i].lat, 0);
	}
	CHECK(gcj02_applies((struct geo_point){114.1, 22.5}));
}

static void test_direction_of_offset(void)
{
	/* In Shenzhen GCJ-02 lies east-south-east of WGS-84 by roughly 540 m east, 290 m south. */
	struct geo_point w = {114.1195, 22.5460};
	struct geo_point g = gcj02_from_wgs84(w);
	CHECK(g.lng > w.lng);
	CHECK(g.lat < w.lat);
	CHECK_NEAR(g.lng - w.lng, 0.0052, 0.0005);
	CHECK_NEAR(g.lat - w.lat, -0.0027, 0.0005);
}

static const struct test_case tests[] = {
	{"round trip under 1 m across Luohu and Shenzhen", test_round_trip_under_1m},
	{"published outline pairs", test_published_outline_pairs},
	{"outside China unchanged", test_outside_china_unchanged},
	{"direction of the offset", test_direction_of_offset},
};

TEST_MAIN(tests)
