/* Unit tests for core/geojson: valid collections and single features, numeric codes, GCJ-02
 * input, errors that name the feature and the reason, all-or-nothing on failure (also under
 * allocation failure), the size caps, and the writer round trip. */
#include <jansson.h>
#include <stdlib.h>

#include "core/gcj02.h"
#include "core/geojson.h"
#include "test.h"
#include "util/alloc.h"

#define SQ "[[114.10,22.50],[114.11,22.50],[114.11,22.51],[114.10,22.51],[114.10,22.50]]"
#define HOLE "[[114.103,22.503],[114.103,22.507],[114.107,22.507],[114.107,22.503],[114.103,22.503]]"
#define FEAT(props, geom) "{\"type\":\"Feature\",\"properties\":" props ",\"geometry\":" geom "}"
#define POLY(rings) "{\"type\":\"Polygon\",\"coordinates\":[" rings "]}"

static enum cd_err rd(const char *text, struct geojson_features *out, char *err, size_t len)
{
	return geojson_read(text, strlen(text), GEOJSON_WGS84, out, err, len);
}

static void test_collection(void)
{
	const char *t = "{\"type\":\"FeatureCollection\",\"features\":["
		FEAT("{\"code\":\"440303001\",\"name\":\"桂园街道\"}", POLY(SQ "," HOLE)) ","
		FEAT("{\"adcode\":440303,\"name\":\"罗湖区\"}",
		     "{\"type\":\"MultiPolygon\",\"coordinates\":[[" SQ "],[[[114.2,22.5],[114.21,22.5],[114.21,22.51],[114.2,22.5]]]]}") ","
		FEAT("null", POLY(SQ)) "]}";
	struct geojson_features f;
	char err[300];
	CHECK_INT_EQ(rd(t, &f, err, sizeof(err)), CD_OK);
	CHECK_INT_EQ(f.n, 3);
	if (f.n != 3)
		return;
	CHECK_STR_EQ(f.items[0].code, "440303001");
	CHECK_STR_EQ(f.items[0].name, "桂园街道");
	CHECK_INT_EQ(f.items[0].geom.n_polys, 1);
	CHECK_INT_EQ(f.items[0].geom.polys[0].n_rings, 2);
	CHECK(!geo_multipolygon_contains(&f.items[0].geom, (struct geo_point){114.105, 22.505}));
	CHECK(geo_multipolygon_contains(&f.items[0].geom, (struct geo_point){114.101, 22.505}));
	CHECK_STR_EQ(f.items[1].code, "440303"); /* numeric adcode */
	CHECK_INT_EQ(f.items[1].geom.n_polys, 2);
	CHECK(f.items[2].code == NULL && f.items[2].name == NULL);
	geojson_features_release(&f);
	CHECK(f.items == NULL && f.n == 0);
}

static void test_single_feature_and_numbers(void)
{
	const char *t = FEAT("{\"code\":440303001001.0,\"name\":\"x\"}", POLY(SQ));
	struct geojson_features f;
	char err[300];
	CHECK_INT_EQ(rd(t, &f, err, sizeof(err)), CD_OK);
	CHECK_INT_EQ(f.n, 1);
	if (f.n)
		CHECK_STR_EQ(f.items[0].code, "440303001001");
	geojson_features_release(&f);
}

static void test_gcj02_input(void)
{
	struct geo_point w = {114.12, 22.55};
	struct geo_point g = gcj02_from_wgs84(w);
	char t[600];
	snprintf(t, sizeof(t),
		 FEAT("{}", "{\"type\":\"Polygon\",\"coordinates\":[[[%.9f,%.9f],[%.9f,%.9f],[%.9f,%.9f],[%.9f,%.9f]]]}"),
		 g.lng, g.lat, g.lng + 0.01, g.lat, g.lng, g.lat + 0.01, g.lng, g.lat);
	struct geojson_features f;
	char err[300];
	CHECK_INT_EQ(geojson_read(t, strlen(t), GEOJSON_GCJ02, &f, err, sizeof(err)), CD_OK);
	if (f.n) {
		struct geo_point p = f.items[0].geom.polys[0].rings[0].pts[0];
		CHECK_NEAR(p.lng, w.lng, 1e-7);
		CHECK_NEAR(p.lat, w.lat, 1e-7);
	}
	geojson_features_release(&f);
}

/* Broken documents and the exact message each must give. */
struct bad {
	const char *text;
	enum cd_err rc;
	const char *msg; /* prefix */
};

static const struct bad bads[] = {
	{"{\"type\":\"FeatureCollection\",\"features\":[" FEAT("{\"code\":\"440303002\"}", POLY(SQ)) ","
	 FEAT("{\"code\":\"440303002\"}", POLY(SQ)) "," FEAT("{}", POLY(SQ)) ","
	 FEAT("{\"code\":\"440303001\",\"name\":\"桂园街道\"}",
	      POLY("[[114.10,22.50],[114.11,22.50],[114.11,22.51],[114.10,22.51]]")) "]}",
	 CD_ERR_INVALID, "feature 3 (440303001 桂园街道): ring 0 is not closed"},
	{FEAT("{\"name\":\"bow\"}", POLY("[[114.10,22.50],[114.11,22.51],[114.11,22.50],[114.10,22.51],[114.10,22.50]]")),
	 CD_ERR_INVALID, "feature 0 (bow): ring 0 self-intersects"},
	{FEAT("{\"code\":\"1\"}", POLY("[[2.3,48.8],[2.4,48.8],[2.4,48.9],[2.3,48.8]]")), CD_ERR_INVALID,
	 "feature 0 (1): ring 0 position 0 (2.3000000, 48.8000000) is outside China"},
	{FEAT("{}", POLY("[[114.10,22.50],[114.11,22.50],[114.10,22.50]]")), CD_ERR_INVALID,
	 "feature 0: ring 0 has 3 positions"},
	{FEAT("{}", "{\"type\":\"Point\",\"coordinates\":[114.1,22.5]}"), CD_ERR_INVALID,
	 "feature 0: geometry type Point is not supported"},
	{FEAT("{}", "null"), CD_ERR_INVALID, "feature 0: has no geometry"},
	{FEAT("{}", POLY("[[114.1,\"22.5\"]]")), CD_ERR_INVALID, "feature 0: ring 0 position 0 is not [lng, lat]"},
	{FEAT("{\"code\":[1]}", POLY(SQ)), CD_ERR_INVALID, "feature 0: property code must be a string or a number"},
	{FEAT("{\"code\":-1.5}", POLY(SQ)), CD_ERR_INVALID, "feature 0: property code must be a string or a whole number"},
	{FEAT("{\"name\":7}", POLY(SQ)), CD_ERR_INVALID, "feature 0: property name must be a string"},
	{"{\"type\":\"FeatureCollection\",\"features\":[]}", CD_ERR_INVALID, "GeoJSON: FeatureCollection has no features"},
	{"{\"type\":\"FeatureCollection\"}", CD_ERR_INVALID, "GeoJSON: FeatureCollection has no features array"},
	{"{\"type\":\"Polygon\",\"coordinates\":[]}", CD_ERR_INVALID, "GeoJSON: top level must be"},
	{"{\"type\":\"Feature\",", CD_ERR_INVALID, "GeoJSON: invalid JSON at line 1 column"},
	{"[1,2]", CD_ERR_INVALID, "GeoJSON: top level must be"},
	{"{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Fish\"}]}", CD_ERR_INVALID,
	 "feature 0: is not a GeoJSON Feature object"},
	{FEAT("{}", "{\"type\":\"MultiPolygon\",\"coordinates\":[[" SQ "],[]]}"), CD_ERR_INVALID,
	 "feature 0: polygon 1 has no rings"},
	{FEAT("{\"code\":\"a\",\"code\":\"b\"}", POLY(SQ)), CD_ERR_INVALID, "GeoJSON: invalid JSON"},
};

static void test_errors_name_the_feature(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct geojson_features f = {(void *)1, 99};
		char err[300] = "";
		enum cd_err rc = rd(bads[i].text, &f, err, sizeof(err));
		CHECK_INT_EQ(rc, bads[i].rc);
		CHECK(f.items == NULL && f.n == 0); /* all or nothing */
		if (strncmp(err, bads[i].msg, strlen(bads[i].msg)) != 0) {
			fprintf(stderr, "  case %zu: \"%s\" does not start with \"%s\"\n", i, err, bads[i].msg);
			test_failures_in_case++;
		}
	}
}

static void test_caps(void)
{
	struct geojson_features f;
	char err[300];
	/* Too many features: the count is checked before anything is allocated for them. */
	size_t n = GEOJSON_MAX_FEATURES + 1;
	struct buf_like {
		char *p;
		size_t len, cap;
	} b = {xmalloc(64), 0, 64};
	const char *head = "{\"type\":\"FeatureCollection\",\"features\":[";
	size_t need = strlen(head) + n * 3 + 4;
	b.p = xrealloc(b.p, need);
	memcpy(b.p, head, strlen(head));
	b.len = strlen(head);
	for (size_t i = 0; i < n; i++) {
		memcpy(b.p + b.len, i ? ",{}" : "{}", i ? 3 : 2);
		b.len += i ? 3 : 2;
	}
	memcpy(b.p + b.len, "]}", 2);
	b.len += 2;
	CHECK_INT_EQ(geojson_read(b.p, b.len, GEOJSON_WGS84, &f, err, sizeof(err)), CD_ERR_TOOBIG);
	CHECK(strstr(err, "more than 100000 features") != NULL);
	xfree(b.p);
	/* A code longer than the field cap. */
	char t[1024];
	char longcode[400];
	memset(longcode, '7', sizeof(longcode) - 1);
	longcode[sizeof(longcode) - 1] = '\0';
	snprintf(t, sizeof(t), FEAT("{\"code\":\"%s\"}", POLY(SQ)), longcode);
	CHECK_INT_EQ(rd(t, &f, err, sizeof(err)), CD_ERR_TOOBIG);
	CHECK(f.n == 0);
	/* The byte cap. */
	CHECK_INT_EQ(geojson_read("{}", (size_t)GEOJSON_MAX_BYTES + 1, GEOJSON_WGS84, &f, err, sizeof(err)),
		     CD_ERR_TOOBIG);
}

static void test_allocation_failure_leaves_nothing(void)
{
	const char *t = "{\"type\":\"FeatureCollection\",\"features\":["
		FEAT("{\"code\":\"440303001\",\"name\":\"桂园街道\"}", POLY(SQ "," HOLE)) ","
		FEAT("{\"code\":\"440303002\"}", POLY(SQ)) "]}";
	int nomem = 0, ok = 0;
	for (long k = 0; k < 200 && !ok; k++) {
		struct geojson_features f;
		char err[300];
		alloc_fail_after(k);
		enum cd_err rc = rd(t, &f, err, sizeof(err));
		alloc_fail_after(-1);
		if (rc == CD_OK) {
			ok++;
			CHECK_INT_EQ(f.n, 2);
			geojson_features_release(&f);
		} else {
			CHECK_INT_EQ(rc, CD_ERR_NOMEM);
			CHECK(f.items == NULL && f.n == 0);
			CHECK(strstr(err, "out of memory") != NULL);
			nomem++;
		}
	}
	CHECK(ok == 1 && nomem >= 8);
}

static void test_writer_round_trip(void)
{
	const char *t = "{\"type\":\"FeatureCollection\",\"features\":["
		FEAT("{\"code\":\"440303001\",\"name\":\"桂园街道\"}", POLY(SQ "," HOLE)) ","
		FEAT("{\"code\":\"440303002\"}",
		     "{\"type\":\"MultiPolygon\",\"coordinates\":[[" SQ "],[[[114.2,22.5],[114.21,22.5],[114.21,22.51],[114.2,22.5]]]]}") "]}";
	struct geojson_features f;
	char err[300];
	CHECK_INT_EQ(rd(t, &f, err, sizeof(err)), CD_OK);
	if (f.n != 2)
		return;
	json_t *fc = json_pack("{s:s,s:[]}", "type", "FeatureCollection", "features");
	for (size_t i = 0; i < f.n; i++)
		json_array_append_new(json_object_get(fc, "features"),
				      geojson_feature_new(f.items[i].code, f.items[i].name, &f.items[i].geom));
	json_t *g0 = geojson_geometry_new(&f.items[0].geom), *g1 = geojson_geometry_new(&f.items[1].geom);
	CHECK_STR_EQ(json_string_value(json_object_get(g0, "type")), "Polygon");
	CHECK_STR_EQ(json_string_value(json_object_get(g1, "type")), "MultiPolygon");
	json_decref(g0);
	json_decref(g1);
	char *text = json_dumps(fc, JSON_COMPACT);
	json_decref(fc);
	struct geojson_features back;
	CHECK_INT_EQ(rd(text, &back, err, sizeof(err)), CD_OK);
	free(text); /* jansson's allocation */
	CHECK_INT_EQ(back.n, 2);
	for (size_t i = 0; i < back.n && i < 2; i++) {
		CHECK_STR_EQ(back.items[i].code, f.items[i].code);
		CHECK_INT_EQ(back.items[i].geom.n_polys, f.items[i].geom.n_polys);
		CHECK_INT_EQ(geo_multipolygon_npoints(&back.items[i].geom),
			     geo_multipolygon_npoints(&f.items[i].geom));
		/* jansson prints doubles with 17 digits: positions come back bit-exact. */
		const struct geo_ring *a = &back.items[i].geom.polys[0].rings[0];
		const struct geo_ring *b = &f.items[i].geom.polys[0].rings[0];
		CHECK(memcmp(a->pts, b->pts, a->n * sizeof(*a->pts)) == 0);
	}
	CHECK(back.n < 2 || back.items[1].name == NULL);
	geojson_features_release(&back);
	geojson_features_release(&f);
}

static void test_real_files(void)
{
	/* The district's own files parse: 1 outline, 10 streets, 109 communities. */
	const struct {
		const char *path;
		size_t n;
		bool optional;
	} files[] = {
		{"../shared/data/luohu/district-outline.wgs84.geojson", 1, false},
		{"data/luohu/streets.approximate.geojson", 10, true},
		{"data/luohu/communities.approximate.geojson", 109, true},
	};
	for (size_t i = 0; i < 3; i++) {
		FILE *fp = fopen(files[i].path, "rb");
		if (!fp) {
			CHECK(files[i].optional);
			continue;
		}
		static char text[4 << 20];
		size_t len = fread(text, 1, sizeof(text), fp);
		fclose(fp);
		struct geojson_features f;
		char err[300];
		enum cd_err rc = geojson_read(text, len, GEOJSON_WGS84, &f, err, sizeof(err));
		if (rc)
			fprintf(stderr, "  %s: %s\n", files[i].path, err);
		CHECK_INT_EQ(rc, CD_OK);
		CHECK_INT_EQ(f.n, files[i].n);
		if (i == 0 && f.n) {
			CHECK_STR_EQ(f.items[0].code, "440303");
			double km2 = geo_multipolygon_area_m2(&f.items[0].geom) / 1e6;
			printf("  Luohu outline: %.1f km2\n", km2);
			CHECK(km2 > 70 && km2 < 90); /* officially 78.8 km2 */
		}
		geojson_features_release(&f);
	}
}

static const struct test_case tests[] = {
	{"FeatureCollection with holes, MultiPolygon, numeric adcode", test_collection},
	{"single Feature, numeric code", test_single_feature_and_numbers},
	{"GCJ-02 input", test_gcj02_input},
	{"errors name the feature and the reason", test_errors_name_the_feature},
	{"caps", test_caps},
	{"allocation failure leaves nothing", test_allocation_failure_leaves_nothing},
	{"writer round trip", test_writer_round_trip},
	{"real files", test_real_files},
};

TEST_MAIN(tests)
