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
#include "locate_common.h"
#include "util/alloc.h"

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
	uint64_t rng = 12345;
	const double x0 = 114.0611834, x1 = 114.215096, y0 = 22.5296614, y1 = 22.6189818;
	for (int i = 0; i <= NX; i++)
		for (int j = 0; j <= NY; j++) {
			double jx = (i > 0 && i < NX) ? (bench_rnd(&rng) - 0.5) * 0.5 : 0;
			double jy = (j > 0 && j < NY) ? (bench_rnd(&rng) - 0.5) * 0.5 : 0;
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
	struct bench_district d;
	int rc = bench_district_load(argc, argv,
				     "usage: bench_locate OUTLINE STREETS COMMUNITIES [POINTS [SEED]]\n"
				     "       bench_locate --make-synthetic DIR\n",
				     &d);
	if (rc)
		return rc;
	long npoints = d.npoints;
	const struct geo_multipolygon **sg = xcalloc(d.streets.n ? d.streets.n : 1, sizeof(*sg));
	for (size_t i = 0; i < d.streets.n; i++)
		sg[i] = &d.streets.items[i].geom;
	struct locate_layer *layer = NULL;
	double t0 = bench_now();
	if (locate_layer_build(sg, d.streets.n, locate_lattice_of(d.idx), &layer)) {
		fprintf(stderr, "locate_layer_build failed\n");
		return 1;
	}
	double t_build = d.build_seconds + (bench_now() - t0);

	struct geo_bbox bb = geo_multipolygon_bbox(&d.outline.items[0].geom);
	struct geo_point *pts = xmalloc((size_t)npoints * sizeof(*pts));
	uint64_t rng = d.seed;
	for (long i = 0; i < npoints; i++)
		pts[i] = bench_point(&bb, &rng);
	printf("citydesk build %.3f s, %zu streets, %zu communities, %zu grid cells, %ld points\n",
	       t_build, d.streets.n, d.comms.n, locate_cell_count(d.idx), npoints);

	/* (a) streets: which street polygon holds the point. Best of REPEAT passes: the machine is
	 * shared, and the fastest pass is the one least disturbed. */
	uint64_t sum = 0;
	long found = 0;
	double dt = 1e30;
	for (int rep = 0; rep < REPEAT; rep++) {
		sum = 0;
		found = 0;
		t0 = bench_now();
		for (long i = 0; i < npoints; i++) {
			long s = locate_layer_find(layer, pts[i]);
			sum += (uint64_t)(s + 1);
			found += s >= 0;
		}
		double t = bench_now() - t0;
		dt = t < dt ? t : dt;
	}
	printf("citydesk streets %.3f M/s checksum %llu found %ld bytes %zu\n", npoints / dt / 1e6,
	       (unsigned long long)sum, found, locate_layer_bytes(layer));

	/* (b) grid: the full lookup (outline, community, cell); the answer is the cell index. */
	dt = 1e30;
	for (int rep = 0; rep < REPEAT; rep++) {
		sum = 0;
		found = 0;
		t0 = bench_now();
		for (long i = 0; i < npoints; i++) {
			struct locate_hit h;
			if (locate_find(d.idx, pts[i], &h) == CD_OK && h.cell >= 0) {
				sum += (uint64_t)(h.cell + 1);
				found++;
			}
		}
		double t = bench_now() - t0;
		dt = t < dt ? t : dt;
	}
	printf("citydesk grid %.3f M/s checksum %llu found %ld\n", npoints / dt / 1e6,
	       (unsigned long long)sum, found);

	xfree(pts);
	locate_layer_free(layer);
	xfree(sg);
	bench_district_release(&d);
	return 0;
}
