/* What bench_locate.c and bench_locate_geos.c share, so both sides see the same district and
 * the very same points: the command line, loading and gridding the polygons with citydesk's own
 * reader and grid builder, the point generator (xorshift64, fixed seed) and the clock. */
#ifndef CD_BENCH_LOCATE_COMMON_H
#define CD_BENCH_LOCATE_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/geojson.h"
#include "core/locate.h"
#include "util/alloc.h"
#include "util/csv.h"

#define REPEAT 3 /* passes over the points; the fastest is reported */

struct bench_district {
	struct geojson_features outline, streets, comms;
	struct locate_area *st, *cm;  /* views of streets and comms for locate_build */
	struct locate_index *idx;     /* citydesk's index, whose grid cells both sides query */
	long npoints;                 /* points to draw */
	uint64_t seed;                /* their seed */
	double build_seconds;         /* time locate_build took */
};

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The next uniform number in [0, 1) of the shared point sequence. */
static inline double bench_rnd(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return (double)(*rng >> 11) / 9007199254740992.0;
}

/* Point i of the sequence from `seed`, uniform in the outline's bounding box; call with
 * i = 0, 1, 2 ... in order, with the same *rng. */
static inline struct geo_point bench_point(const struct geo_bbox *bb, uint64_t *rng)
{
	struct geo_point p;
	p.lng = bb->min_lng + bench_rnd(rng) * (bb->max_lng - bb->min_lng);
	p.lat = bb->min_lat + bench_rnd(rng) * (bb->max_lat - bb->min_lat);
	return p;
}

static inline int bench_load(const char *path, struct geojson_features *out)
{
	char *text = NULL, err[300];
	size_t len = 0;
	if (file_read_all(path, GEOJSON_MAX_BYTES, &text, &len)) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	enum cd_err rc = geojson_read(text, len, GEOJSON_WGS84, out, err, sizeof err);
	xfree(text);
	if (rc) {
		fprintf(stderr, "%s: %s\n", path, err);
		return -1;
	}
	return 0;
}

/* Reads OUTLINE STREETS COMMUNITIES [POINTS [SEED]] from argv[1..] and builds the index.
 * Returns 0, or 1 (load or build failed), or 2 (usage, printed with `usage`). */
static inline int bench_district_load(int argc, char **argv, const char *usage, struct bench_district *d)
{
	if (argc < 4) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	d->npoints = argc > 4 ? strtol(argv[4], NULL, 10) : 1000000;
	d->seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 20261127;
	if (d->npoints <= 0 || d->seed == 0) {
		fprintf(stderr, "POINTS and SEED must be positive\n");
		return 2;
	}
	if (bench_load(argv[1], &d->outline) || bench_load(argv[2], &d->streets) || bench_load(argv[3], &d->comms))
		return 1;
	struct locate_area district = {d->outline.items[0].code, NULL, &d->outline.items[0].geom};
	d->st = xcalloc(d->streets.n ? d->streets.n : 1, sizeof *d->st);
	d->cm = xcalloc(d->comms.n ? d->comms.n : 1, sizeof *d->cm);
	for (size_t i = 0; i < d->streets.n; i++)
		d->st[i] = (struct locate_area){d->streets.items[i].code, NULL, &d->streets.items[i].geom};
	for (size_t i = 0; i < d->comms.n; i++)
		d->cm[i] = (struct locate_area){d->comms.items[i].code, NULL, &d->comms.items[i].geom};
	char why[300];
	double t0 = bench_now();
	if (locate_build(&district, d->st, d->streets.n, d->cm, d->comms.n, NULL, &d->idx, why, sizeof why)) {
		fprintf(stderr, "locate_build: %s\n", why);
		return 1;
	}
	d->build_seconds = bench_now() - t0;
	return 0;
}

static inline void bench_district_release(struct bench_district *d)
{
	locate_free(d->idx);
	xfree(d->st);
	xfree(d->cm);
	geojson_features_release(&d->outline);
	geojson_features_release(&d->streets);
	geojson_features_release(&d->comms);
}

#endif
