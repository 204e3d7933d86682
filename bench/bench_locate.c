/* citydesk's side of the locate benchmark: lookups/s of the lattice index over (a) the street
 * polygons and (b) the unit grid cells, single thread, over N random points in the district's
 * bbox (xorshift64, fixed seed; bench_locate_geos.c draws the very same points).
 * Each figure is the best of 3 passes. Prints one line per figure with a checksum of the answers so the two programs can be compared.
 *
 *   bench_locate OUTLINE STREETS COMMUNITIES [POINTS [SEED]]
 *   bench_locate --make-synthetic DIR     writes DIR/{outline,streets,communities}.geojson
 *
 * Output lines:  "citydesk streets 12.345 M/s checksum 123 found 456 bytes 789". */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/geojson.h"
#include "core/locate.h"
#include "util/alloc.h"

#define REPEAT 3 /* passes over the points; the fastest is reported (same in bench_locate_geos.c) */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng;
static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int load(const char *path, struct geojson_features *out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		return -1;
	}
	size_t cap = 1 << 20, n = 0, got;
	char *b = xmalloc(cap);
	while ((got = fread(b + n, 1, cap - n, f)) > 0)
		if ((n += got) == cap)
			b = xrealloc(b, cap *= 2);
	fclose(f);
	char err[300];
	enum cd_err rc = geojson_read(b, n, GEOJSON_WGS84, out, err, sizeof(err));
	xfree(b);
	if (rc) {
		fprintf(stderr, "%s: %s\n", path, err);
		return -1;
	}
	return 0;
}

/* ---- synthetic district, for when no approximate polygons exist ---- */

/* A jittered (NX+1) x (NY+1) vertex lattice over Luohu's bbox: community (i, j) is quad (i, j),
 * street j is row j of quads, the outline is the whole lattice. Neighbours share vertices
 * exactly, so the partition is exact and every shape is valid. */
#define NX 11
#define NY 10

static struct geo_point vtx[NX + 1][NY + 1];

static json_t *ring_feature(const char *code, struct geo_point *pts, size_t n)
{
	struct geo_ring ring = {pts, n};
	struct geo_polygon poly = {&ring, 1};
	struct geo_multipolygon mp = {&poly, 1};
	return geojson_feature_new(code, NULL, &mp);
}

static int write_fc(const char *dir, const char *name, json_t *features)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.geojson", dir, name);
	json_t *fc = json_pack("{s:s,s:o}", "type", "FeatureCollection", "features", features);
	int rc = json_dump_file(fc, path, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(fc);
	if (rc)
		fprintf(stderr, "cannot write %s\n", path);
	return rc;
}

static int make_synthetic(const char *dir)
{
	rng = 12345;
	const double x0 = 114.0611834, x1 = 114.215096, y0 = 22.5296614, y1 = 22.6189818;
	for (int i = 0; i <= NX; i++)
		for (int j = 0; j <= NY; j++) {
			double jx = (i > 0 && i < NX) ? (rnd() - 0.5) * 0.5 : 0;
			double jy = (j > 0 && j < NY) ? (rnd() - 0.5) * 0.5 : 0;
			vtx[i][j] = (struct geo_point){x0 + (x1 - x0) * (i + jx) / NX,
						       y0 + (y1 - y0) * (j + jy) / NY};
		}
	struct geo_point pts[2 * (NX + NY) + 8];
	json_t *outline = json_array(), *streets = json_array(), *comms = json_array();
	size_t n = 0;
	for (int i = 0; i <= NX; i++)
		pts[n++] = vtx[i][0];
	for (int j = 1; j <= NY; j++)
		pts[n++] = vtx[NX][j];
	for (int i = NX - 1; i >= 0; i--)
		pts[n++] = vtx[i][NY];
	for (int j = NY - 1; j >= 0; j--)
		pts[n++] = vtx[0][j];
	json_array_append_new(outline, ring_feature("440303", pts, n));
	for (int j = 0; j < NY; j++) {
		char code[16];
		snprintf(code, sizeof(code), "440303%03d", j + 1);
		n = 0;
		for (int i = 0; i <= NX; i++)
			pts[n++] = vtx[i][j];
		for (int i = NX; i >= 0; i--)
			pts[n++] = vtx[i][j + 1];
		pts[n++] = vtx[0][j];
		json_array_append_new(streets, ring_feature(code, pts, n));
		for (int i = 0; i < NX; i++) {
			struct geo_point q[5] = {vtx[i][j], vtx[i + 1][j], vtx[i + 1][j + 1], vtx[i][j + 1],
						 vtx[i][j]};
			snprintf(code, sizeof(code), "440303%03d%03d", j + 1, i + 1);
			json_array_append_new(comms, ring_feature(code, q, 5));
		}
	}
	return write_fc(dir, "outline", outline) | write_fc(dir, "streets", streets) |
	       write_fc(dir, "communities", comms);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--make-synthetic") == 0)
		return make_synthetic(argv[2]) ? 1 : 0;
	if (argc < 4) {
		fprintf(stderr, "usage: bench_locate OUTLINE STREETS COMMUNITIES [POINTS [SEED]]\n"
				"       bench_locate --make-synthetic DIR\n");
		return 2;
	}
	long npoints = argc > 4 ? strtol(argv[4], NULL, 10) : 1000000;
	uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 20261127;
	if (npoints <= 0 || seed == 0) {
		fprintf(stderr, "POINTS and SEED must be positive\n");
		return 2;
	}
	struct geojson_features outline, streets, comms;
	if (load(argv[1], &outline) || load(argv[2], &streets) || load(argv[3], &comms))
		return 1;

	struct locate_area district = {outline.items[0].code, NULL, &outline.items[0].geom};
	struct locate_area *st = xcalloc(streets.n, sizeof(*st));
	struct locate_area *cm = xcalloc(comms.n, sizeof(*cm));
	const struct geo_multipolygon **sg = xcalloc(streets.n, sizeof(*sg));
	for (size_t i = 0; i < streets.n; i++) {
		st[i] = (struct locate_area){streets.items[i].code, NULL, &streets.items[i].geom};
		sg[i] = &streets.items[i].geom;
	}
	for (size_t i = 0; i < comms.n; i++)
		cm[i] = (struct locate_area){comms.items[i].code, NULL, &comms.items[i].geom};

	double t0 = now();
	struct locate_index *idx = NULL;
	struct locate_layer *layer = NULL;
	char why[300];
	if (locate_build(&district, st, streets.n, cm, comms.n, NULL, &idx, why, sizeof(why))) {
		fprintf(stderr, "locate_build: %s\n", why);
		return 1;
	}
	if (locate_layer_build(sg, streets.n, locate_lattice_of(idx), &layer)) {
		fprintf(stderr, "locate_layer_build failed\n");
		return 1;
	}
	double t_build = now() - t0;

	struct geo_bbox bb = geo_multipolygon_bbox(&outline.items[0].geom);
	struct geo_point *pts = xmalloc((size_t)npoints * sizeof(*pts));
	rng = seed;
	for (long i = 0; i < npoints; i++) {
		pts[i].lng = bb.min_lng + rnd() * (bb.max_lng - bb.min_lng);
		pts[i].lat = bb.min_lat + rnd() * (bb.max_lat - bb.min_lat);
	}
	printf("citydesk build %.3f s, %zu streets, %zu communities, %zu grid cells, %ld points\n",
	       t_build, streets.n, comms.n, locate_cell_count(idx), npoints);

	/* (a) streets: which street polygon holds the point. Best of REPEAT passes: the machine is
	 * shared, and the fastest pass is the one least disturbed. */
	uint64_t sum = 0;
	long found = 0;
	double dt = 1e30;
	for (int rep = 0; rep < REPEAT; rep++) {
		sum = 0;
		found = 0;
		t0 = now();
		for (long i = 0; i < npoints; i++) {
			long s = locate_layer_find(layer, pts[i]);
			sum += (uint64_t)(s + 1);
			found += s >= 0;
		}
		double t = now() - t0;
		dt = t < dt ? t : dt;
	}
	printf("citydesk streets %.3f M/s checksum %llu found %ld bytes %zu\n", npoints / dt / 1e6,
	       (unsigned long long)sum, found, locate_layer_bytes(layer));

	/* (b) grid: the full lookup (outline, community, cell); the answer is the cell index. */
	dt = 1e30;
	for (int rep = 0; rep < REPEAT; rep++) {
		sum = 0;
		found = 0;
		t0 = now();
		for (long i = 0; i < npoints; i++) {
			struct locate_hit h;
			if (locate_find(idx, pts[i], &h) == CD_OK && h.cell >= 0) {
				sum += (uint64_t)(h.cell + 1);
				found++;
			}
		}
		double t = now() - t0;
		dt = t < dt ? t : dt;
	}
	printf("citydesk grid %.3f M/s checksum %llu found %ld\n", npoints / dt / 1e6,
	       (unsigned long long)sum, found);

	xfree(pts);
	locate_layer_free(layer);
	locate_free(idx);
	xfree(st);
	xfree(cm);
	xfree(sg);
	geojson_features_release(&outline);
	geojson_features_release(&streets);
	geojson_features_release(&comms);
	return 0;
}
