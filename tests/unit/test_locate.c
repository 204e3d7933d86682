/* Unit tests for core/locate: the lattice index agrees with brute-force point-in-polygon on
 * 200,000 random points over Luohu, grid codes are 15 digits, unique and deterministic, the
 * 999-cell limit and bad codes are reported. Uses the real outline (../shared/data/luohu) and
 * data/luohu/{streets,communities}.approximate.geojson when present, else a synthetic Voronoi partition. */
#include <stdint.h>
#include <stdlib.h>

#include "core/geojson.h"
#include "core/locate.h"
#include "test.h"
#include "util/alloc.h"

#define OUTLINE_PATH "../shared/data/luohu/district-outline.wgs84.geojson"
#define STREETS_PATH "data/luohu/streets.approximate.geojson"
#define COMMUNITIES_PATH "data/luohu/communities.approximate.geojson"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Reads a whole file; NULL when it does not exist. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = xmalloc(cap);
	size_t got;
	while ((got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			b = xrealloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

static bool read_features(const char *path, struct geojson_features *out)
{
	size_t len;
	char *text = slurp(path, &len);
	if (!text)
		return false;
	char err[300];
	enum cd_err rc = geojson_read(text, len, GEOJSON_WGS84, out, err, sizeof(err));
	xfree(text);
	if (rc)
		fprintf(stderr, "  %s: %s\n", path, err);
	return rc == CD_OK;
}

/* The district: outline, streets, communities, as locate_build wants them. */
struct district {
	struct geojson_features outline;
	struct geo_multipolygon *street_geom, *comm_geom; /* synthetic ones, owned */
	struct geojson_features streets, communities;     /* from files */
	struct locate_area district;
	struct locate_area *st, *cm;
	size_t n_st, n_cm;
	char (*codes)[16]; /* synthetic codes */
	bool synthetic;
};

/* Approximate street seeds (data/luohu/street-seeds.approximate.csv). */
static const double SEEDS[10][2] = {
	{114.100, 22.547}, {114.138, 22.548}, {114.117, 22.549}, {114.124, 22.561}, {114.113, 22.537},
	{114.104, 22.567}, {114.152, 22.582}, {114.170, 22.563}, {114.131, 22.578}, {114.108, 22.588},
};

/* Clips src to the Voronoi cell of seeds[i] among seeds[0..n) (distances with lng scaled by
 * cos 22.57 deg). *out is new. */
static void voronoi_cell(const struct geo_multipolygon *src, const double (*seeds)[2], size_t n,
			 size_t i, struct geo_multipolygon *out)
{
	const double kx = 0.9234;
	struct geo_multipolygon cur;
	CHECK_INT_EQ(geo_multipolygon_copy(src, &cur), CD_OK);
	for (size_t j = 0; j < n; j++) {
		if (j == i)
			continue;
		double xi = seeds[i][0] * kx, yi = seeds[i][1], xj = seeds[j][0] * kx, yj = seeds[j][1];
		double a = (xj - xi) * kx, b = yj - yi;
		double c = (xj * xj + yj * yj - xi * xi - yi * yi) / 2;
		struct geo_multipolygon next;
		CHECK_INT_EQ(geo_multipolygon_clip_halfplane(&cur, a, b, c, &next), CD_OK);
		geo_multipolygon_release(&cur);
		cur = next;
	}
	*out = cur;
}

/* 10 Voronoi streets in the outline, each cut into 11 Voronoi communities. */
static void make_synthetic(struct district *d)
{
	const struct geo_multipolygon *outline = &d->outline.items[0].geom;
	d->synthetic = true;
	d->n_st = 10;
	d->n_cm = 110;
	d->street_geom = xcalloc(d->n_st, sizeof(*d->street_geom));
	d->comm_geom = xcalloc(d->n_cm, sizeof(*d->comm_geom));
	d->codes = xcalloc(d->n_st + d->n_cm, sizeof(*d->codes));
	d->st = xcalloc(d->n_st, sizeof(*d->st));
	d->cm = xcalloc(d->n_cm, sizeof(*d->cm));
	size_t k = 0;
	for (size_t i = 0; i < d->n_st; i++) {
		voronoi_cell(outline, SEEDS, 10, i, &d->street_geom[i]);
		snprintf(d->codes[i], 16, "440303%03d", (int)(i + 1) % 1000);
		d->st[i] = (struct locate_area){d->codes[i], NULL, &d->street_geom[i]};
		struct geo_bbox bb = geo_multipolygon_bbox(&d->street_geom[i]);
		double sub[11][2];
		size_t ns = 0;
		while (ns < 11) {
			struct geo_point p = {bb.min_lng + rnd() * (bb.max_lng - bb.min_lng),
					      bb.min_lat + rnd() * (bb.max_lat - bb.min_lat)};
			if (!geo_multipolygon_contains(&d->street_geom[i], p))
				continue;
			sub[ns][0] = p.lng;
			sub[ns][1] = p.lat;
			ns++;
		}
		for (size_t j = 0; j < 11; j++, k++) {
			voronoi_cell(&d->street_geom[i], (const double(*)[2])sub, 11, j, &d->comm_geom[k]);
			snprintf(d->codes[d->n_st + k], 16, "440303%03d%03d", (int)(i + 1) % 1000,
				 (int)(j + 1) % 1000);
			d->cm[k] = (struct locate_area){d->codes[d->n_st + k], NULL, &d->comm_geom[k]};
		}
	}
}

/* Loads the district; synthetic forces the generated partition. */
static bool load_district(struct district *d, bool synthetic)
{
	memset(d, 0, sizeof(*d));
	if (!read_features(OUTLINE_PATH, &d->outline)) {
		fprintf(stderr, "  cannot read %s (run tests from the repo root)\n", OUTLINE_PATH);
		return false;
	}
	d->district = (struct locate_area){"440303", "罗湖区", &d->outline.items[0].geom};
	if (!synthetic && read_features(STREETS_PATH, &d->streets) &&
	    read_features(COMMUNITIES_PATH, &d->communities)) {
		d->n_st = d->streets.n;
		d->n_cm = d->communities.n;
		d->st = xcalloc(d->n_st, sizeof(*d->st));
		d->cm = xcalloc(d->n_cm, sizeof(*d->cm));
		for (size_t i = 0; i < d->n_st; i++)
			d->st[i] = (struct locate_area){d->streets.items[i].code, d->streets.items[i].name,
							&d->streets.items[i].geom};
		for (size_t i = 0; i < d->n_cm; i++)
			d->cm[i] = (struct locate_area){d->communities.items[i].code,
							d->communities.items[i].name,
							&d->communities.items[i].geom};
		return true;
	}
	geojson_features_release(&d->streets);
	make_synthetic(d);
	return true;
}

static void free_district(struct district *d)
{
	geojson_features_release(&d->outline);
	geojson_features_release(&d->streets);
	geojson_features_release(&d->communities);
	for (size_t i = 0; d->street_geom && i < d->n_st; i++)
		geo_multipolygon_release(&d->street_geom[i]);
	for (size_t i = 0; d->comm_geom && i < d->n_cm; i++)
		geo_multipolygon_release(&d->comm_geom[i]);
	xfree(d->street_geom);
	xfree(d->comm_geom);
	xfree(d->codes);
	xfree(d->st);
	xfree(d->cm);
}

/* The lowest area containing p, by brute force. */
static long brute(const struct locate_area *a, size_t n, struct geo_point p)
{
	for (size_t i = 0; i < n; i++)
		if (geo_multipolygon_contains(a[i].geom, p))
			return (long)i;
	return -1;
}

/* The key test: locate agrees with brute force on `points` random points in the bbox. */
static void agree_with_brute_force(bool synthetic, int points)
{
	struct district d;
	if (!load_district(&d, synthetic)) {
		CHECK(!"district data");
		return;
	}
	struct locate_index *idx = NULL;
	char why[300];
	enum cd_err rc = locate_build(&d.district, d.st, d.n_st, d.cm, d.n_cm, NULL, &idx, why,
				      sizeof(why));
	if (rc)
		fprintf(stderr, "  locate_build: %s\n", why);
	CHECK_INT_EQ(rc, CD_OK);
	if (!idx) {
		free_district(&d);
		return;
	}
	struct geo_bbox bb = geo_multipolygon_bbox(d.district.geom);
	/* A little beyond the outline so "outside" is exercised too. */
	bb.min_lng -= 0.005;
	bb.max_lng += 0.005;
	bb.min_lat -= 0.005;
	bb.max_lat += 0.005;
	int bad_district = 0, bad_comm = 0, bad_street = 0, bad_cell = 0, inside = 0, in_comm = 0;
	for (int i = 0; i < points; i++) {
		struct geo_point p = {bb.min_lng + rnd() * (bb.max_lng - bb.min_lng),
				      bb.min_lat + rnd() * (bb.max_lat - bb.min_lat)};
		/* Every 16th point sits exactly on a lattice line, where rounding is hardest. */
		if (i % 16 == 1) {
			const struct locate_lattice *l = locate_lattice_of(idx);
			p.lng = l->origin_lng + l->step_lng * floor((p.lng - l->origin_lng) / l->step_lng);
		}
		/* and every 16th on a line of the 1/8-square sub-lattice that mixed squares use. */
		if (i % 16 == 2) {
			const struct locate_lattice *l = locate_lattice_of(idx);
			double h = l->step_lat / 8;
			p.lat = l->origin_lat + h * floor((p.lat - l->origin_lat) / h);
		}
		struct locate_hit h;
		rc = locate_find(idx, p, &h);
		bool in_d = geo_multipolygon_contains(d.district.geom, p);
		if ((rc == CD_OK) != in_d) {
			bad_district++;
			continue;
		}
		if (!in_d)
			continue;
		inside++;
		long want = brute(d.cm, d.n_cm, p);
		if (h.community != want) {
			if (bad_comm++ < 5)
				fprintf(stderr, "  point (%.10f, %.10f): locate %ld, brute force %ld\n",
					p.lng, p.lat, h.community, want);
			continue;
		}
		long want_st = want >= 0 ? locate_community_street(idx, (size_t)want)
					 : brute(d.st, d.n_st, p);
		bad_street += h.street != want_st;
		if (want >= 0) {
			in_comm++;
			const struct locate_cell *c = h.cell >= 0 ? locate_cell_at(idx, (size_t)h.cell) : NULL;
			/* The cell is this community's and its clipped polygon holds the point (points
			 * on lattice lines may fall on the cell's own boundary: skip those). */
			if (!c || c->community != (size_t)want || strcmp(c->code, h.grid_code) != 0 ||
			    (i % 16 > 2 && !geo_multipolygon_contains(&c->poly, p)))
				bad_cell++;
		}
	}
	CHECK_INT_EQ(bad_district, 0);
	CHECK_INT_EQ(bad_comm, 0);
	CHECK_INT_EQ(bad_street, 0);
	CHECK_INT_EQ(bad_cell, 0);
	/* The bbox is about 60% district; make sure the test really looked inside. */
	CHECK(inside > points / 3);
	CHECK(in_comm > inside * 9 / 10);
	locate_free(idx);
	free_district(&d);
}

static void test_agrees_200k_points(void)
{
	agree_with_brute_force(false, 200000);
}

static void test_agrees_synthetic_partition(void)
{
	agree_with_brute_force(true, 50000);
}

static void test_grid_codes(void)
{
	struct district d;
	if (!load_district(&d, false)) {
		CHECK(!"district data");
		return;
	}
	struct locate_index *a = NULL, *b = NULL;
	char why[300];
	CHECK_INT_EQ(locate_build(&d.district, d.st, d.n_st, d.cm, d.n_cm, NULL, &a, why, sizeof(why)),
		     CD_OK);
	CHECK_INT_EQ(locate_build(&d.district, d.st, d.n_st, d.cm, d.n_cm, NULL, &b, why, sizeof(why)),
		     CD_OK);
	if (!a || !b) {
		locate_free(a);
		locate_free(b);
		free_district(&d);
		return;
	}
	size_t n = locate_cell_count(a);
	printf("  grid: %zu cells over %zu communities\n", n, d.n_cm);
	/* Luohu, 78.8 km2 in squares of ~1 ha; squares split by a community boundary give a cell per
	 * community, less the slivers merged into their neighbours. */
	CHECK(n >= 7000 && n <= 10000); /* "about 8,000" */
	CHECK_INT_EQ(locate_cell_count(b), n);
	int bad_format = 0, bad_prefix = 0, dup = 0, differ = 0, bad_seq = 0, bad_lookup = 0;
	int slivers = 0, too_big = 0;
	const struct locate_lattice *lat = locate_lattice_of(a);
	struct geo_bbox sq0 = {114.1, 22.55, 114.1 + lat->step_lng, 22.55 + lat->step_lat};
	struct geo_multipolygon sqmp;
	CHECK_INT_EQ(geo_multipolygon_from_bbox(&sq0, &sqmp), CD_OK);
	double square_m2 = geo_multipolygon_area_m2(&sqmp);
	geo_multipolygon_release(&sqmp);
	double area = 0;
	for (size_t i = 0; i < n; i++) {
		const struct locate_cell *c = locate_cell_at(a, i), *c2 = locate_cell_at(b, i);
		size_t len = strlen(c->code);
		bool digits = len == 15;
		for (size_t j = 0; j < len; j++)
			digits &= c->code[j] >= '0' && c->code[j] <= '9';
		bad_format += !digits;
		bad_prefix += strncmp(c->code, d.cm[c->community].code, 12) != 0;
		differ += strcmp(c->code, c2->code) != 0 || c->community != c2->community ||
			  c->poly.n_polys != c2->poly.n_polys ||
			  geo_multipolygon_area_m2(&c->poly) != geo_multipolygon_area_m2(&c2->poly);
		/* Sequences run 001, 002, ... within each community. */
		long seq = strtol(c->code + 12, NULL, 10);
		long want = (i > 0 && locate_cell_at(a, i - 1)->community == c->community)
				    ? strtol(locate_cell_at(a, i - 1)->code + 12, NULL, 10) + 1
				    : 1;
		bad_seq += seq != want;
		if (i > 0 && strcmp(locate_cell_at(a, i - 1)->code, c->code) == 0)
			dup++;
		bad_lookup += locate_cell_by_code(a, c->code) != (long)i;
		double ca = geo_multipolygon_area_m2(&c->poly);
		area += ca;
		slivers += ca < LOCATE_SLIVER * square_m2 * 0.99;
		too_big += ca > 2 * square_m2;
	}
	/* Slivers joined their neighbours: a few remain (no neighbour to join), none is huge. */
	printf("  %d cells under a quarter square, %d over two squares\n", slivers, too_big);
	CHECK(slivers < (int)n / 100);
	CHECK_INT_EQ(too_big, 0);
	CHECK_INT_EQ(bad_format, 0);
	CHECK_INT_EQ(bad_prefix, 0);
	CHECK_INT_EQ(dup, 0);
	CHECK_INT_EQ(differ, 0);
	CHECK_INT_EQ(bad_seq, 0);
	CHECK_INT_EQ(bad_lookup, 0);
	CHECK_INT_EQ(locate_cell_by_code(a, "440303001001999"), -1);
	/* The cells tile the communities: same total area. */
	double comm_area = 0;
	for (size_t i = 0; i < d.n_cm; i++)
		comm_area += geo_multipolygon_area_m2(d.cm[i].geom);
	CHECK_NEAR(area, comm_area, comm_area * 0.001);
	/* Row-major from the north-west: cell 0's square is not south of cell 1's in its community. */
	const struct locate_cell *c0 = locate_cell_at(a, 0), *c1 = locate_cell_at(a, 1);
	CHECK(c0->community != c1->community || c0->row > c1->row ||
	      (c0->row == c1->row && c0->col < c1->col));
	locate_free(a);
	locate_free(b);
	free_district(&d);
}

static void test_bbox_query(void)
{
	struct district d;
	if (!load_district(&d, false)) {
		CHECK(!"district data");
		return;
	}
	struct locate_index *idx = NULL;
	char why[300];
	CHECK_INT_EQ(locate_build(&d.district, d.st, d.n_st, d.cm, d.n_cm, NULL, &idx, why, sizeof(why)),
		     CD_OK);
	if (!idx) {
		free_district(&d);
		return;
	}
	size_t n = locate_cell_count(idx);
	size_t *got = xmalloc(n * sizeof(*got));
	char *mark = xcalloc(n, 1);
	int bad = 0;
	for (int q = 0; q < 50; q++) {
		double x = 114.06 + rnd() * 0.16, y = 22.52 + rnd() * 0.10;
		struct geo_bbox box = {x, y, x + rnd() * 0.02, y + rnd() * 0.02};
		size_t total = locate_cells_in_bbox(idx, &box, got, n);
		memset(mark, 0, n);
		for (size_t i = 0; i < total && i < n; i++)
			mark[got[i]]++;
		size_t want = 0;
		for (size_t i = 0; i < n; i++) {
			bool hit = geo_bbox_intersects(&locate_cell_at(idx, i)->bbox, &box);
			want += hit;
			bad += mark[i] != hit;
		}
		CHECK_INT_EQ(total, want);
	}
	CHECK_INT_EQ(bad, 0);
	/* The cap is honoured and the count still reported. */
	struct geo_bbox all = {114.0, 22.4, 114.3, 22.7};
	CHECK_INT_EQ(locate_cells_in_bbox(idx, &all, got, 10), n);
	struct geo_bbox nowhere = {100, 30, 101, 31}, inverted = {114.2, 22.6, 114.1, 22.5};
	CHECK_INT_EQ(locate_cells_in_bbox(idx, &nowhere, got, n), 0);
	CHECK_INT_EQ(locate_cells_in_bbox(idx, &inverted, got, n), 0);
	xfree(got);
	xfree(mark);
	locate_free(idx);
	free_district(&d);
}

static void test_outside_and_bad_points(void)
{
	struct district d;
	if (!load_district(&d, false)) {
		CHECK(!"district data");
		return;
	}
	struct locate_index *idx = NULL;
	char why[300];
	CHECK_INT_EQ(locate_build(&d.district, d.st, d.n_st, d.cm, d.n_cm, NULL, &idx, why, sizeof(why)),
		     CD_OK);
	if (!idx) {
		free_district(&d);
		return;
	}
	struct locate_hit h;
	const struct geo_point outside[] = {
		{116.397, 39.909},       /* Beijing */
		{114.05, 22.54},         /* Futian, west of Luohu */
		{NAN, 22.55},  {114.12, INFINITY}, {-1e308, 1e308}, {0, 0},
	};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		CHECK_INT_EQ(locate_find(idx, outside[i], &h), CD_ERR_NOTFOUND);
		CHECK_INT_EQ(h.community, -1);
		CHECK(h.grid_code == NULL);
	}
	/* 东门 (Dongmen), in the middle of Luohu. */
	CHECK_INT_EQ(locate_find(idx, (struct geo_point){114.1195, 22.5460}, &h), CD_OK);
	CHECK(h.community >= 0 && h.street >= 0 && h.grid_code && strlen(h.grid_code) == 15);
	locate_free(idx);
	free_district(&d);
}

static void test_lattice_default(void)
{
	struct locate_lattice l = locate_lattice_default(22.57);
	CHECK_NEAR(l.origin_lng, 73.0, 0);
	CHECK_NEAR(l.origin_lat, 3.0, 0);
	CHECK_NEAR(l.step_lat, 0.0009, 0);
	CHECK_NEAR(l.step_lng, 0.00098, 1e-12);
	struct locate_lattice beijing = locate_lattice_default(39.9);
	CHECK_NEAR(beijing.step_lng, 0.00117, 1e-12); /* 0.0009 / cos 40 deg = 0.001175 */
}

/* A square community of side `deg` degrees at Luohu. */
static struct geo_multipolygon square(double x, double y, double deg)
{
	struct geo_bbox b = {x, y, x + deg, y + deg};
	struct geo_multipolygon mp;
	if (geo_multipolygon_from_bbox(&b, &mp))
		abort();
	return mp;
}

static void test_more_than_999_cells_is_range(void)
{
	/* 0.04 x 0.04 degrees is about 41 x 45 squares: more than 999 cells for one community. */
	struct geo_multipolygon big = square(114.10, 22.52, 0.04);
	struct locate_area dist = {"440303", NULL, &big}, st = {"440303001", NULL, &big},
			   cm = {"440303001001", NULL, &big};
	struct locate_index *idx = NULL;
	char why[300];
	CHECK_INT_EQ(locate_build(&dist, &st, 1, &cm, 1, NULL, &idx, why, sizeof(why)), CD_ERR_RANGE);
	CHECK(idx == NULL);
	CHECK(strstr(why, "440303001001") != NULL);
	/* 0.025 degrees (about 26 x 28 squares) fits. */
	struct geo_multipolygon ok = square(114.10, 22.52, 0.025);
	cm.geom = &ok;
	CHECK_INT_EQ(locate_build(&dist, &st, 1, &cm, 1, NULL, &idx, why, sizeof(why)), CD_OK);
	if (idx) {
		CHECK(locate_cell_count(idx) >= 26 * 28 && locate_cell_count(idx) <= 27 * 29);
		CHECK_STR_EQ(locate_cell_at(idx, 0)->code, "440303001001001");
	}
	locate_free(idx);
	geo_multipolygon_release(&big);
	geo_multipolygon_release(&ok);
}

static void test_bad_codes(void)
{
	struct geo_multipolygon g = square(114.10, 22.52, 0.01);
	struct locate_area dist = {"440303", NULL, &g};
	struct locate_area st = {"440303001", NULL, &g};
	struct locate_area cm_short = {"44030300100", NULL, &g}, cm_orphan = {"440303002001", NULL, &g};
	struct locate_area st_bad = {"44030300x", NULL, &g};
	struct locate_index *idx = NULL;
	char why[300];
	CHECK_INT_EQ(locate_build(&dist, &st, 1, &cm_short, 1, NULL, &idx, why, sizeof(why)),
		     CD_ERR_INVALID);
	CHECK(strstr(why, "is not 12 digits") != NULL);
	CHECK_INT_EQ(locate_build(&dist, &st, 1, &cm_orphan, 1, NULL, &idx, why, sizeof(why)),
		     CD_ERR_INVALID);
	CHECK_STR_EQ(why, "community 440303002001 has no street with code 440303002");
	CHECK_INT_EQ(locate_build(&dist, &st_bad, 1, NULL, 0, NULL, &idx, why, sizeof(why)),
		     CD_ERR_INVALID);
	CHECK(idx == NULL);
	geo_multipolygon_release(&g);
}

static void test_layer_edges_and_overlaps(void)
{
	/* Four squares sharing edges and a corner, plus one overlapping square (index 4) over
	 * them all; then the same without it. Points on every shared edge and lattice line agree
	 * with brute force, which sends them east/north. */
	struct geo_multipolygon sq[5] = {
		square(114.100, 22.500, 0.0031), square(114.1031, 22.500, 0.0031),
		square(114.100, 22.5031, 0.0031), square(114.1031, 22.5031, 0.0031),
		square(114.1015, 22.5015, 0.0031),
	};
	for (size_t n = 4; n <= 5; n++) {
		const struct geo_multipolygon *regions[5] = {&sq[0], &sq[1], &sq[2], &sq[3], &sq[4]};
		/* With the overlap first, it wins where it lies. */
		if (n == 5) {
			regions[0] = &sq[4];
			regions[4] = &sq[0];
		}
		struct locate_layer *L = NULL;
		struct locate_lattice lat = locate_lattice_default(22.5);
		CHECK_INT_EQ(locate_layer_build(regions, n, &lat, &L), CD_OK);
		if (!L)
			continue;
		int bad = 0;
		for (int i = 0; i < 40000; i++) {
			struct geo_point p = {114.099 + rnd() * 0.0082, 22.499 + rnd() * 0.0082};
			switch (i % 4) {
			case 1: p.lng = 114.1031; break;  /* on the shared vertical edge */
			case 2: p.lat = 22.5031; break;   /* on the shared horizontal edge */
			case 3: p.lng = lat.origin_lng + lat.step_lng * floor((p.lng - lat.origin_lng) / lat.step_lng); break;
			}
			long want = -1;
			for (size_t k = 0; k < n && want < 0; k++)
				if (geo_multipolygon_contains(regions[k], p))
					want = (long)k;
			bad += locate_layer_find(L, p) != want;
		}
		CHECK_INT_EQ(bad, 0);
		CHECK_INT_EQ(locate_layer_find(L, (struct geo_point){114.1031, 22.5031}), n == 5 ? 0 : 3);
		CHECK(locate_layer_bytes(L) > 0);
		locate_layer_free(L);
	}
	for (int i = 0; i < 5; i++)
		geo_multipolygon_release(&sq[i]);
	/* An empty layer answers "none". */
	struct locate_layer *E = NULL;
	struct locate_lattice lat = locate_lattice_default(22.5);
	CHECK_INT_EQ(locate_layer_build(NULL, 0, &lat, &E), CD_OK);
	if (E)
		CHECK_INT_EQ(locate_layer_find(E, (struct geo_point){114.1, 22.5}), -1);
	locate_layer_free(E);
}

static void test_district_only(void)
{
	/* No streets, no communities: the index still answers "inside" with nothing else. */
	struct geo_multipolygon g = square(114.10, 22.52, 0.01);
	struct locate_area dist = {"440303", NULL, &g};
	struct locate_index *idx = NULL;
	char why[300];
	CHECK_INT_EQ(locate_build(&dist, NULL, 0, NULL, 0, NULL, &idx, why, sizeof(why)), CD_OK);
	if (!idx)
		return;
	struct locate_hit h;
	CHECK_INT_EQ(locate_find(idx, (struct geo_point){114.105, 22.525}, &h), CD_OK);
	CHECK(h.street == -1 && h.community == -1 && h.cell == -1 && h.grid_code == NULL);
	CHECK_INT_EQ(locate_find(idx, (struct geo_point){114.115, 22.525}, &h), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(locate_cell_count(idx), 0);
	struct geo_bbox all = {114.0, 22.4, 114.3, 22.7};
	size_t out[4];
	CHECK_INT_EQ(locate_cells_in_bbox(idx, &all, out, 4), 0);
	locate_free(idx);
	geo_multipolygon_release(&g);
}

static void test_build_nomem(void)
{
	struct geo_multipolygon g = square(114.10, 22.52, 0.005), h = square(114.105, 22.52, 0.005);
	struct locate_area dist = {"440303", NULL, &g}, st = {"440303001", NULL, &g};
	struct locate_area cm[2] = {{"440303001001", NULL, &g}, {"440303001002", NULL, &h}};
	int nomem = 0, ok = 0;
	for (long k = 0; k < 1000000 && ok == 0; k += 1 + k / 8) {
		struct locate_index *idx = NULL;
		char why[300];
		alloc_fail_after(k);
		enum cd_err rc = locate_build(&dist, &st, 1, cm, 2, NULL, &idx, why, sizeof(why));
		alloc_fail_after(-1);
		if (rc == CD_ERR_NOMEM) {
			nomem++;
			CHECK(idx == NULL);
		} else {
			CHECK_INT_EQ(rc, CD_OK);
			ok++;
		}
		locate_free(idx);
	}
	CHECK(nomem > 10);
	CHECK_INT_EQ(ok, 1);
	geo_multipolygon_release(&g);
	geo_multipolygon_release(&h);
}

static const struct test_case tests[] = {
	{"lattice default", test_lattice_default},
	{"locate agrees with brute force on 200,000 points", test_agrees_200k_points},
	{"locate agrees on a synthetic Voronoi partition", test_agrees_synthetic_partition},
	{"grid codes: 15 digits, prefix, unique, deterministic", test_grid_codes},
	{"bbox query", test_bbox_query},
	{"outside and non-finite points", test_outside_and_bad_points},
	{"more than 999 cells is CD_ERR_RANGE", test_more_than_999_cells_is_range},
	{"bad codes", test_bad_codes},
	{"layer: shared edges, lattice lines, overlaps", test_layer_edges_and_overlaps},
	{"district only", test_district_only},
	{"build: allocation failure", test_build_nomem},
};

TEST_MAIN(tests)
