/* The lattice index and the unit grid; see locate.h and docs/internals/geo.md.
 *
 * A layer covers the bounding box of its regions (plus one square of margin) with lattice
 * squares. A square that no region edge touches lies wholly inside one region or none: its answer
 * is stored and a lookup is two multiplications and a load. A "mixed" square keeps the edges that
 * touch it; a lookup there counts crossings of a horizontal ray from the point, exactly as
 * geo_ring_contains does, but only along the run of mixed squares to its east (or west, whichever
 * holds fewer edges) up to the first plain square, whose stored answer stands for everything
 * beyond. Each crossing is counted in the one square its x falls in, so edges that span several
 * squares are not counted twice. Eastward and westward parities agree exactly because each ring
 * crosses a horizontal line an even number of times. */
#include "core/locate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* Slack, in degrees (about 0.1 mm), when deciding which squares an edge touches: generous against
 * rounding, so a crossing is never computed in a square that does not list its edge. */
#define TOUCH_EPS 1e-9
/* Distinct regions one ray run may meet (the toggles of a lookup live on the stack). */
#define RUN_REGIONS 64
#define MAX_MARKS (1L << 27)

/* One non-horizontal edge as a mixed square stores it: the lower endpoint, the upper y and the
 * slope, so that xa + (y - ya) * k is bit for bit geo_edge_x_at(lower, upper, y). */
struct ledge {
	double xa, ya; /* lower endpoint */
	double yb;     /* upper endpoint's y; ya < yb */
	double k;      /* dx / dy */
	uint32_t region;
};

/* An edge as the build rasterises it (horizontal ones too, which only make squares mixed). */
struct mark {
	struct geo_point lo, hi; /* endpoints, lo.lat <= hi.lat */
	uint32_t region;
};

/* Mixed squares are cut into SUB x SUB sub-squares; those no edge touches store their answer. */
#define SUB 8
#define SUB_WALK 0 /* an edge touches the sub-square: walk */
#define SUB_NONE 1 /* no region */
/* 2 + j: region locals[loc_off + j] */
#define SUB_MAX_LOCAL 254
#define NO_SUB UINT32_MAX

struct lmixed {
	uint32_t edge_off; /* first edge in layer->edges */
	uint32_t edge_n;   /* edges touching this square (non-horizontal ones) */
	int32_t dir;       /* +1: cast the ray east, -1: west */
	uint32_t sub_off;  /* SUB*SUB codes in layer->subs, or NO_SUB */
	uint32_t loc_off;  /* the regions those codes name, in layer->locals */
};

/* A square's regions, as the grid builder needs them. */
struct cand {
	uint32_t region;
	uint32_t full; /* 1: the region covers the whole square (no edge of it touches the square) */
};

struct locate_layer {
	struct locate_lattice lat;
	double inv_lng, inv_lat; /* 1 / step */
	long c0, r0;             /* absolute index of local square (0, 0) */
	long ncols, nrows;
	int32_t *sq;             /* per square: region >= 0 (whole), -1 none, <= -2 mixed -2 - v */
	struct lmixed *mixed;
	size_t n_mixed;
	struct ledge *edges;
	size_t n_edges;
	uint8_t *subs;     /* SUB*SUB answer codes per mixed square that has them */
	uint32_t *locals;  /* regions named by the codes */
	size_t n_subs, n_locals;
	size_t n_regions;
	/* Only when built for the grid: */
	uint32_t *cand_off; /* per square + 1, into cands */
	struct cand *cands;
};

struct locate_index {
	struct locate_lattice lat;
	struct locate_layer *district, *streets, *communities;
	size_t n_streets, n_communities;
	long *comm_street;         /* per community */
	struct locate_cell *cells; /* ordered by (community, sequence) */
	size_t n_cells;
	uint32_t *sq_cell_off;     /* per community-layer square + 1, into sq_cells */
	uint32_t *sq_cells;        /* cell indices per square, row-major */
	uint32_t *by_code;         /* cell indices sorted by code */
	/* Build-time only: squares whose sliver of a community was merged into a neighbour's cell
	 * (square index, cell index), so lookups there find that cell. */
	uint32_t *extra_sq, *extra_cell;
	size_t n_extra;
	uint32_t *cell_comm;       /* community of each cell: a compact copy for lookups, which
				    * would otherwise touch a cache line of cells[] per answer */
	int32_t *fast;             /* per community-layer square: the cell when the square is wholly
				    * in the district and in one community, FAST_OUTSIDE when wholly
				    * outside the district, FAST_SLOW otherwise */
};

#define FAST_OUTSIDE (-1)
#define FAST_SLOW (-2)
#define FAST_INSIDE (-3) /* wholly inside the district; ask the community layer */

struct locate_lattice locate_lattice_default(double center_lat)
{
	double lat = round(center_lat);
	if (!(lat > -80 && lat < 80))
		lat = 0;
	double step = 0.0009 / cos(lat * 3.14159265358979323846 / 180.0);
	struct locate_lattice l = {GEO_CHINA_MIN_LNG, GEO_CHINA_MIN_LAT, round(step * 1e5) / 1e5,
				   0.0009};
	return l;
}

/* floor for finite values in long range; cheaper than floor() on baseline x86-64. */
static inline long ifloor(double v)
{
	long i = (long)v;
	return i - (v < (double)i);
}

static inline long col_of(const struct locate_layer *L, double x)
{
	return ifloor((x - L->lat.origin_lng) * L->inv_lng);
}

static inline long row_of(const struct locate_layer *L, double y)
{
	return ifloor((y - L->lat.origin_lat) * L->inv_lat);
}

/* Local square index of p, or -1 when p is outside the layer (or not finite). */
static inline long square_of(const struct locate_layer *L, struct geo_point p)
{
	double fx = (p.lng - L->lat.origin_lng) * L->inv_lng;
	double fy = (p.lat - L->lat.origin_lat) * L->inv_lat;
	if (!(fx >= (double)L->c0 && fx < (double)(L->c0 + L->ncols) && fy >= (double)L->r0 &&
	      fy < (double)(L->r0 + L->nrows)))
		return -1;
	long c = ifloor(fx) - L->c0, r = ifloor(fy) - L->r0;
	if (c < 0 || c >= L->ncols || r < 0 || r >= L->nrows)
		return -1; /* rounding at the far edge */
	return r * L->ncols + c;
}

/* Parity walk from a mixed square; see the file comment. */
static long layer_mixed_find(const struct locate_layer *L, long s, struct geo_point p)
{
	uint32_t reg[RUN_REGIONS];
	uint8_t par[RUN_REGIONS];
	int nreg = 0;
	long ncols = L->ncols;
	long row_start = s - s % ncols;
	long c = s % ncols;
	int dir = L->mixed[-2 - L->sq[s]].dir;
	double x = p.lng, y = p.lat;
	int32_t end = -1;
	for (;;) {
		int32_t v = L->sq[row_start + c];
		if (v >= -1) {
			end = v;
			break;
		}
		const struct lmixed *m = &L->mixed[-2 - v];
		const struct ledge *e = L->edges + m->edge_off;
		long cabs = c + L->c0;
		for (uint32_t i = 0; i < m->edge_n; i++) {
			if (!(y >= e[i].ya && y < e[i].yb))
				continue;
			double xi = e[i].xa + (y - e[i].ya) * e[i].k;
			if (col_of(L, xi) != cabs || (dir > 0 ? !(x < xi) : !(xi <= x)))
				continue;
			int j = 0;
			while (j < nreg && reg[j] != e[i].region)
				j++;
			if (j == nreg) {
				reg[nreg] = e[i].region; /* build guarantees room */
				par[nreg++] = 0;
			}
			par[j] ^= 1;
		}
		c += dir;
		if (c < 0 || c >= ncols)
			break; /* the margin makes this unreachable; outside everything */
	}
	long best = -1;
	bool end_seen = false;
	for (int j = 0; j < nreg; j++) {
		int inside = par[j];
		if (end >= 0 && reg[j] == (uint32_t)end) {
			inside ^= 1;
			end_seen = true;
		}
		if (inside && (best < 0 || reg[j] < best))
			best = reg[j];
	}
	if (end >= 0 && !end_seen && (best < 0 || end < best))
		best = end;
	return best;
}

/* A lookup in mixed square s: the sub-square's stored answer, else the walk. */
static inline long layer_mixed_lookup(const struct locate_layer *L, long s, struct geo_point p)
{
	const struct lmixed *m = &L->mixed[-2 - L->sq[s]];
	if (m->sub_off != NO_SUB) {
		/* Multiplying by SUB (a power of two) is exact, so these agree with square_of. */
		double fx = (p.lng - L->lat.origin_lng) * L->inv_lng;
		double fy = (p.lat - L->lat.origin_lat) * L->inv_lat;
		long sx = ifloor(fx * SUB) - SUB * ifloor(fx), sy = ifloor(fy * SUB) - SUB * ifloor(fy);
		if (sx >= 0 && sx < SUB && sy >= 0 && sy < SUB) {
			uint8_t code = L->subs[m->sub_off + (size_t)(sy * SUB + sx)];
			if (code == SUB_NONE)
				return -1;
			if (code != SUB_WALK)
				return L->locals[m->loc_off + code - 2];
		}
	}
	return layer_mixed_find(L, s, p);
}

long locate_layer_find(const struct locate_layer *L, struct geo_point p)
{
	long s = square_of(L, p);
	if (s < 0)
		return -1;
	int32_t v = L->sq[s];
	if (v >= -1)
		return v;
	return layer_mixed_lookup(L, s, p);
}

size_t locate_layer_bytes(const struct locate_layer *L)
{
	if (!L)
		return 0;
	size_t nsq = (size_t)(L->ncols * L->nrows);
	size_t b = sizeof(*L) + nsq * sizeof(*L->sq) + L->n_mixed * sizeof(*L->mixed) +
		   L->n_edges * sizeof(*L->edges) + L->n_subs + L->n_locals * sizeof(*L->locals);
	if (L->cand_off)
		b += (nsq + 1) * sizeof(*L->cand_off) + L->cand_off[nsq] * sizeof(*L->cands);
	return b;
}

void locate_layer_free(struct locate_layer *L)
{
	if (!L)
		return;
	xfree(L->sq);
	xfree(L->mixed);
	xfree(L->edges);
	xfree(L->subs);
	xfree(L->locals);
	xfree(L->cand_off);
	xfree(L->cands);
	xfree(L);
}

/* ---- layer build ---- */

/* Calls visit(ctx, square) for every local square the edge a-b touches (with TOUCH_EPS slack). */
struct visit_ctx {
	uint32_t *count;     /* pass 1: marks per square */
	uint32_t *fill;      /* pass 2: next free slot per square */
	struct mark *marks;  /* pass 2: the marks */
	struct mark edge;    /* the edge being visited */
	long total;          /* marks so far */
};

static void visit_edge(const struct locate_layer *L, struct geo_point a, struct geo_point b,
		       struct visit_ctx *v)
{
	if (a.lat > b.lat) {
		struct geo_point t = a;
		a = b;
		b = t;
	}
	double step = L->lat.step_lat;
	long rlo = row_of(L, a.lat - TOUCH_EPS), rhi = row_of(L, b.lat + TOUCH_EPS);
	for (long r = rlo; r <= rhi; r++) {
		double y0 = L->lat.origin_lat + (double)r * step - TOUCH_EPS;
		double y1 = L->lat.origin_lat + (double)(r + 1) * step + TOUCH_EPS;
		double xlo, xhi;
		if (a.lat == b.lat) {
			xlo = fmin(a.lng, b.lng);
			xhi = fmax(a.lng, b.lng);
		} else {
			double ylo = fmax(y0, a.lat), yhi = fmin(y1, b.lat);
			double k = (b.lng - a.lng) / (b.lat - a.lat);
			double xa = a.lng + (ylo - a.lat) * k, xb = a.lng + (yhi - a.lat) * k;
			xlo = fmin(xa, xb);
			xhi = fmax(xa, xb);
		}
		long clo = col_of(L, xlo - TOUCH_EPS), chi = col_of(L, xhi + TOUCH_EPS);
		for (long c = clo; c <= chi; c++) {
			long s = (r - L->r0) * L->ncols + (c - L->c0);
			if (v->marks)
				v->marks[v->fill[s]++] = v->edge;
			else
				v->count[s]++;
			v->total++;
		}
	}
}

static void visit_region(const struct locate_layer *L, const struct geo_multipolygon *mp,
			 uint32_t region, struct visit_ctx *v)
{
	for (size_t i = 0; i < mp->n_polys; i++) {
		for (size_t r = 0; r < mp->polys[i].n_rings; r++) {
			const struct geo_ring *ring = &mp->polys[i].rings[r];
			for (size_t j = 0; ring->n >= 2 && j < ring->n; j++) {
				struct geo_point a = ring->pts[j];
				struct geo_point b = ring->pts[j + 1 < ring->n ? j + 1 : 0];
				if (a.lng == b.lng && a.lat == b.lat)
					continue;
				struct geo_point lo = a.lat <= b.lat ? a : b;
				struct geo_point hi = a.lat <= b.lat ? b : a;
				v->edge = (struct mark){lo, hi, region};
				visit_edge(L, a, b, v);
			}
		}
	}
}

/* The lowest region containing p, or -1 (brute force; used for plain squares at build).
 * *several tells whether a second region contains p too. */
static int32_t brute_find(const struct geo_multipolygon *const *regions, size_t n,
			  const struct geo_bbox *boxes, struct geo_point p, bool *several)
{
	int32_t first = -1;
	*several = false;
	for (size_t i = 0; i < n; i++) {
		const struct geo_bbox *b = &boxes[i];
		if (p.lng < b->min_lng || p.lng > b->max_lng || p.lat < b->min_lat || p.lat > b->max_lat)
			continue;
		if (!geo_multipolygon_contains(regions[i], p))
			continue;
		if (first >= 0) {
			*several = true;
			break;
		}
		first = (int32_t)i;
	}
	return first;
}

static struct geo_point square_center(const struct locate_layer *L, long s)
{
	long c = s % L->ncols + L->c0, r = s / L->ncols + L->r0;
	return (struct geo_point){L->lat.origin_lng + ((double)c + 0.5) * L->lat.step_lng,
				  L->lat.origin_lat + ((double)r + 0.5) * L->lat.step_lat};
}

/* Distinct regions met by the ray run from mixed square s in direction dir, plus the region of
 * the plain square that ends it. */
static int run_regions(const struct locate_layer *L, long s, int dir)
{
	uint32_t reg[RUN_REGIONS + 1];
	int n = 0;
	long row_start = s - s % L->ncols;
	for (long c = s % L->ncols; c >= 0 && c < L->ncols; c += dir) {
		int32_t v = L->sq[row_start + c];
		if (v >= -1) {
			if (v >= 0) {
				int j = 0;
				while (j < n && reg[j] != (uint32_t)v)
					j++;
				if (j == n)
					n++; /* the end region; no need to remember it */
			}
			break;
		}
		const struct lmixed *m = &L->mixed[-2 - v];
		for (uint32_t i = 0; i < m->edge_n; i++) {
			uint32_t rg = L->edges[m->edge_off + i].region;
			int j = 0;
			while (j < n && reg[j] != rg)
				j++;
			if (j == n) {
				if (n == RUN_REGIONS)
					return RUN_REGIONS + 1;
				reg[n++] = rg;
			}
		}
	}
	return n;
}

/* Edges walked by a lookup starting in mixed square s going dir. */
static size_t run_cost(const struct locate_layer *L, long s, int dir)
{
	size_t cost = 0;
	long row_start = s - s % L->ncols;
	for (long c = s % L->ncols; c >= 0 && c < L->ncols; c += dir) {
		int32_t v = L->sq[row_start + c];
		if (v >= -1)
			break;
		cost += L->mixed[-2 - v].edge_n + 1;
	}
	return cost;
}

/* Fills the per-square region lists the grid builder needs. marks/mark_off are the build's
 * temporary marks (all edges, horizontal ones included). */
static enum cd_err layer_cands(struct locate_layer *L, const struct geo_multipolygon *const *regions,
			       size_t n, const struct geo_bbox *boxes, const struct mark *marks,
			       const uint32_t *mark_off)
{
	size_t nsq = (size_t)(L->ncols * L->nrows);
	L->cand_off = try_calloc(nsq + 1, sizeof(*L->cand_off));
	if (!L->cand_off)
		return CD_ERR_NOMEM;
	uint32_t *seen = try_calloc(n ? n : 1, sizeof(*seen)); /* stamp: square + 1 */
	size_t cap = nsq + 16, len = 0;
	L->cands = try_malloc(cap * sizeof(*L->cands));
	if (!seen || !L->cands) {
		xfree(seen);
		return CD_ERR_NOMEM;
	}
	for (size_t s = 0; s < nsq; s++) {
		L->cand_off[s] = (uint32_t)len;
		size_t first = len;
		int32_t v = L->sq[s];
		/* Enough room for every region the square can list. */
		size_t need = len + (v >= -1 ? 1 : (size_t)(mark_off[s + 1] - mark_off[s]) + n);
		if (need > cap) {
			size_t ncap = need * 2;
			struct cand *nc = try_realloc(L->cands, ncap * sizeof(*nc));
			if (!nc) {
				xfree(seen);
				return CD_ERR_NOMEM;
			}
			L->cands = nc;
			cap = ncap;
		}
		if (v >= 0) {
			L->cands[len++] = (struct cand){(uint32_t)v, 1};
		} else if (v <= -2) {
			for (uint32_t i = mark_off[s]; i < mark_off[s + 1]; i++) {
				uint32_t rg = marks[i].region;
				if (seen[rg] != s + 1) {
					seen[rg] = (uint32_t)(s + 1);
					L->cands[len++] = (struct cand){rg, 0};
				}
			}
			/* A region that covers this square without an edge in it (overlapping
			 * input) still owns part of the answer. */
			struct geo_point ctr = square_center(L, (long)s);
			for (size_t k = 0; k < n; k++) {
				const struct geo_bbox *b = &boxes[k];
				if (seen[k] == s + 1 || ctr.lng < b->min_lng || ctr.lng > b->max_lng ||
				    ctr.lat < b->min_lat || ctr.lat > b->max_lat)
					continue;
				if (geo_multipolygon_contains(regions[k], ctr))
					L->cands[len++] = (struct cand){(uint32_t)k, 1};
			}
			/* Ascending region order, for a deterministic grid. */
			for (size_t i = first + 1; i < len; i++)
				for (size_t j = i; j > first && L->cands[j - 1].region > L->cands[j].region; j--) {
					struct cand t = L->cands[j];
					L->cands[j] = L->cands[j - 1];
					L->cands[j - 1] = t;
				}
		}
	}
	L->cand_off[nsq] = (uint32_t)len;
	xfree(seen);
	return CD_OK;
}

/* Segment lo-hi meets the closed box [x0, x1] x [y0, y1] (Liang-Barsky). */
static bool seg_meets_box(struct geo_point a, struct geo_point b, double x0, double y0, double x1,
			  double y1)
{
	double dx = b.lng - a.lng, dy = b.lat - a.lat;
	double p[4] = {-dx, dx, -dy, dy};
	double q[4] = {a.lng - x0, x1 - a.lng, a.lat - y0, y1 - a.lat};
	double t0 = 0, t1 = 1;
	for (int i = 0; i < 4; i++) {
		if (p[i] == 0) {
			if (q[i] < 0)
				return false;
			continue;
		}
		double r = q[i] / p[i];
		if (p[i] < 0)
			t0 = fmax(t0, r);
		else
			t1 = fmin(t1, r);
		if (t0 > t1)
			return false;
	}
	return true;
}

/* Gives every mixed square its SUB x SUB table: a sub-square that no edge touches (with the
 * same slack as squares) has one answer, found by the exact walk from its centre. Lookups that
 * land there need no walk. */
static enum cd_err layer_subs(struct locate_layer *L, const struct mark *marks, const uint32_t *off)
{
	if (L->n_mixed == 0)
		return CD_OK;
	size_t nsq = (size_t)(L->ncols * L->nrows);
	if (L->n_mixed > UINT32_MAX / (SUB * SUB))
		return CD_ERR_TOOBIG;
	L->subs = try_malloc(L->n_mixed * SUB * SUB);
	size_t loc_cap = L->n_mixed * 2 + 16;
	L->locals = try_malloc(loc_cap * sizeof(*L->locals));
	if (!L->subs || !L->locals)
		return CD_ERR_NOMEM;
	double w = L->lat.step_lng / SUB, h = L->lat.step_lat / SUB;
	for (size_t s = 0; s < nsq; s++) {
		if (L->sq[s] >= -1)
			continue;
		struct lmixed *m = &L->mixed[-2 - L->sq[s]];
		long col = (long)(s % (size_t)L->ncols) + L->c0, row = (long)(s / (size_t)L->ncols) + L->r0;
		double sx0 = L->lat.origin_lng + (double)col * L->lat.step_lng;
		double sy0 = L->lat.origin_lat + (double)row * L->lat.step_lat;
		uint8_t *codes = L->subs + L->n_subs;
		size_t loc0 = L->n_locals;
		for (int j = 0; j < SUB; j++) {
			for (int i = 0; i < SUB; i++) {
				double x0 = sx0 + i * w, y0 = sy0 + j * h;
				uint8_t code = SUB_WALK;
				bool touched = false;
				for (uint32_t e = off[s]; e < off[s + 1] && !touched; e++)
					touched = seg_meets_box(marks[e].lo, marks[e].hi, x0 - TOUCH_EPS,
								y0 - TOUCH_EPS, x0 + w + TOUCH_EPS,
								y0 + h + TOUCH_EPS);
				if (!touched) {
					struct geo_point ctr = {x0 + w / 2, y0 + h / 2};
					long r = layer_mixed_find(L, (long)s, ctr);
					if (r < 0) {
						code = SUB_NONE;
					} else {
						size_t k = loc0;
						while (k < L->n_locals && L->locals[k] != (uint32_t)r)
							k++;
						if (k - loc0 < SUB_MAX_LOCAL) {
							if (k == L->n_locals) {
								if (L->n_locals == loc_cap) {
									size_t nc = loc_cap * 2;
									uint32_t *nl = try_realloc(
										L->locals, nc * sizeof(*nl));
									if (!nl)
										return CD_ERR_NOMEM;
									L->locals = nl;
									loc_cap = nc;
								}
								L->locals[L->n_locals++] = (uint32_t)r;
							}
							code = (uint8_t)(2 + (k - loc0));
						}
					}
				}
				codes[j * SUB + i] = code;
			}
		}
		m->sub_off = (uint32_t)L->n_subs;
		m->loc_off = (uint32_t)loc0;
		L->n_subs += SUB * SUB;
	}
	return CD_OK;
}

/* Builds a layer; with_cands also records the per-square region lists for the grid. */
static enum cd_err layer_build(const struct geo_multipolygon *const *regions, size_t n,
			       const struct locate_lattice *lat, bool with_cands,
			       struct locate_layer **out)
{
	enum cd_err rc = CD_ERR_NOMEM;
	struct geo_bbox *boxes = NULL;
	uint32_t *count = NULL, *off = NULL, *fill = NULL;
	struct mark *marks = NULL;
	*out = NULL;
	if (n > LOCATE_MAX_REGIONS || !(lat->step_lng > 0) || !(lat->step_lat > 0) ||
	    !isfinite(lat->origin_lng) || !isfinite(lat->origin_lat))
		return n > LOCATE_MAX_REGIONS ? CD_ERR_TOOBIG : CD_ERR_INVALID;
	struct locate_layer *L = xcalloc(1, sizeof(*L));
	L->lat = *lat;
	L->inv_lng = 1.0 / lat->step_lng;
	L->inv_lat = 1.0 / lat->step_lat;
	L->n_regions = n;
	boxes = try_malloc((n ? n : 1) * sizeof(*boxes));
	if (!boxes)
		goto done;
	struct geo_bbox all = {INFINITY, INFINITY, -INFINITY, -INFINITY};
	for (size_t i = 0; i < n; i++) {
		boxes[i] = geo_multipolygon_bbox(regions[i]);
		if (boxes[i].min_lng > boxes[i].max_lng)
			continue; /* empty region */
		all.min_lng = fmin(all.min_lng, boxes[i].min_lng);
		all.min_lat = fmin(all.min_lat, boxes[i].min_lat);
		all.max_lng = fmax(all.max_lng, boxes[i].max_lng);
		all.max_lat = fmax(all.max_lat, boxes[i].max_lat);
	}
	if (all.min_lng > all.max_lng) {
		/* Nothing to index: a one-square layer that answers "none". */
		L->ncols = L->nrows = 1;
		L->sq = xcalloc(1, sizeof(*L->sq));
		L->sq[0] = -1;
		if (with_cands)
			L->cand_off = xcalloc(2, sizeof(*L->cand_off));
		rc = CD_OK;
		goto done;
	}
	rc = CD_ERR_TOOBIG;
	double span_c = ((all.max_lng - all.min_lng) * L->inv_lng) + 4;
	double span_r = ((all.max_lat - all.min_lat) * L->inv_lat) + 4;
	double far = 1e15;
	if (!isfinite(all.min_lng + all.max_lng + all.min_lat + all.max_lat) ||
	    !(span_c * span_r <= (double)LOCATE_MAX_SQUARES) ||
	    fabs((all.min_lng - lat->origin_lng) * L->inv_lng) > far ||
	    fabs((all.max_lng - lat->origin_lng) * L->inv_lng) > far ||
	    fabs((all.min_lat - lat->origin_lat) * L->inv_lat) > far ||
	    fabs((all.max_lat - lat->origin_lat) * L->inv_lat) > far)
		goto done;
	/* One square of margin (plus the touch slack) on every side: every ray run ends in a plain
	 * square. */
	L->c0 = col_of(L, all.min_lng - TOUCH_EPS) - 1;
	L->r0 = row_of(L, all.min_lat - TOUCH_EPS) - 1;
	L->ncols = col_of(L, all.max_lng + TOUCH_EPS) + 2 - L->c0;
	L->nrows = row_of(L, all.max_lat + TOUCH_EPS) + 2 - L->r0;
	if (L->ncols * L->nrows > LOCATE_MAX_SQUARES)
		goto done;
	size_t nsq = (size_t)(L->ncols * L->nrows);
	rc = CD_ERR_NOMEM;
	count = try_calloc(nsq + 1, sizeof(*count));
	off = try_malloc((nsq + 1) * sizeof(*off));
	fill = try_malloc((nsq + 1) * sizeof(*fill));
	L->sq = try_malloc(nsq * sizeof(*L->sq));
	if (!count || !off || !fill || !L->sq)
		goto done;

	/* Pass 1 counts the squares each edge touches, pass 2 stores the marks. */
	struct visit_ctx v = {.count = count};
	for (size_t i = 0; i < n; i++) {
		visit_region(L, regions[i], (uint32_t)i, &v);
		if (v.total > MAX_MARKS) {
			rc = CD_ERR_TOOBIG;
			goto done;
		}
	}
	off[0] = 0;
	for (size_t s = 0; s < nsq; s++)
		off[s + 1] = off[s] + count[s];
	memcpy(fill, off, (nsq + 1) * sizeof(*off));
	marks = try_malloc(((size_t)v.total + 1) * sizeof(*marks));
	if (!marks)
		goto done;
	v = (struct visit_ctx){.fill = fill, .marks = marks};
	for (size_t i = 0; i < n; i++)
		visit_region(L, regions[i], (uint32_t)i, &v);

	/* Plain squares: one point-in-polygon per run of plain squares in a row, since no boundary
	 * passes between neighbours that no edge touches. Mixed squares keep their edges. */
	size_t n_edges = 0;
	for (size_t s = 0; s < nsq; s++)
		for (uint32_t i = off[s]; i < off[s + 1]; i++)
			n_edges += marks[i].lo.lat != marks[i].hi.lat;
	if (n_edges > UINT32_MAX / 2) {
		rc = CD_ERR_TOOBIG;
		goto done;
	}
	L->edges = try_malloc((n_edges ? n_edges : 1) * sizeof(*L->edges));
	L->mixed = try_malloc(nsq * sizeof(*L->mixed));
	if (!L->edges || !L->mixed)
		goto done;
	/* A plain square inside several (overlapping) regions cannot end a ray run, whose end
	 * must stand for one answer set of at most one region: it becomes a mixed square with no
	 * edges, which runs pass through. */
	bool several = false;
	for (size_t s = 0; s < nsq; s++) {
		if (count[s] == 0) {
			bool prev_plain = s % (size_t)L->ncols != 0 && count[s - 1] == 0;
			if (!prev_plain)
				L->sq[s] = brute_find(regions, n, boxes, square_center(L, (long)s), &several);
			else
				L->sq[s] = L->sq[s - 1];
			if (!several)
				continue;
		}
		struct lmixed *m = &L->mixed[L->n_mixed];
		m->edge_off = (uint32_t)L->n_edges;
		for (uint32_t i = off[s]; i < off[s + 1]; i++)
			if (marks[i].lo.lat != marks[i].hi.lat) {
				struct geo_point lo = marks[i].lo, hi = marks[i].hi;
				L->edges[L->n_edges++] = (struct ledge){
					lo.lng, lo.lat, hi.lat, (hi.lng - lo.lng) / (hi.lat - lo.lat),
					marks[i].region};
			}
		m->edge_n = (uint32_t)(L->n_edges - m->edge_off);
		m->dir = 1;
		m->sub_off = NO_SUB;
		L->sq[s] = -2 - (int32_t)L->n_mixed++;
	}
	/* Cast each mixed square's ray the cheaper way that meets few enough regions. */
	rc = CD_ERR_TOOBIG;
	for (size_t s = 0; s < nsq; s++) {
		if (L->sq[s] >= -1)
			continue;
		struct lmixed *m = &L->mixed[-2 - L->sq[s]];
		int first = run_cost(L, (long)s, -1) < run_cost(L, (long)s, 1) ? -1 : 1;
		if (run_regions(L, (long)s, first) < RUN_REGIONS)
			m->dir = first;
		else if (run_regions(L, (long)s, -first) < RUN_REGIONS)
			m->dir = -first;
		else
			goto done;
	}
	rc = layer_subs(L, marks, off);
	if (rc == CD_OK && with_cands)
		rc = layer_cands(L, regions, n, boxes, marks, off);
done:
	xfree(boxes);
	xfree(count);
	xfree(off);
	xfree(fill);
	xfree(marks);
	if (rc) {
		locate_layer_free(L);
		return rc;
	}
	*out = L;
	return CD_OK;
}

enum cd_err locate_layer_build(const struct geo_multipolygon *const *regions, size_t n,
			       const struct locate_lattice *lattice, struct locate_layer **out)
{
	return layer_build(regions, n, lattice, false, out);
}

/* ---- the district index and its unit grid ---- */

static bool all_digits(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int cell_cmp(const void *pa, const void *pb)
{
	const struct locate_cell *a = pa, *b = pb;
	if (a->community != b->community)
		return a->community < b->community ? -1 : 1;
	if (a->row != b->row)
		return a->row > b->row ? -1 : 1; /* north first */
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

static int code_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct locate_cell *cells = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return strcmp(cells[a].code, cells[b].code);
}

void locate_free(struct locate_index *idx)
{
	if (!idx)
		return;
	locate_layer_free(idx->district);
	locate_layer_free(idx->streets);
	locate_layer_free(idx->communities);
	xfree(idx->comm_street);
	for (size_t i = 0; i < idx->n_cells; i++)
		geo_multipolygon_release(&idx->cells[i].poly);
	xfree(idx->cells);
	xfree(idx->sq_cell_off);
	xfree(idx->sq_cells);
	xfree(idx->by_code);
	xfree(idx->fast);
	xfree(idx->cell_comm);
	xfree(idx->extra_sq);
	xfree(idx->extra_cell);
	xfree(idx);
}

/* Cuts the community layer's squares into cells (unnumbered, in square order). */
static enum cd_err grid_cut(struct locate_index *idx, const struct locate_area *communities,
			    char *reason, size_t reason_len)
{
	const struct locate_layer *L = idx->communities;
	size_t nsq = (size_t)(L->ncols * L->nrows);
	size_t cap = 0;
	size_t *per = try_calloc(idx->n_communities ? idx->n_communities : 1, sizeof(*per));
	if (!per)
		return CD_ERR_NOMEM;
	enum cd_err rc = CD_OK;
	for (size_t s = 0; s < nsq && rc == CD_OK; s++) {
		long col = (long)(s % (size_t)L->ncols) + L->c0, row = (long)(s / (size_t)L->ncols) + L->r0;
		struct geo_bbox sqbox = {
			L->lat.origin_lng + (double)col * L->lat.step_lng,
			L->lat.origin_lat + (double)row * L->lat.step_lat,
			L->lat.origin_lng + (double)(col + 1) * L->lat.step_lng,
			L->lat.origin_lat + (double)(row + 1) * L->lat.step_lat,
		};
		for (uint32_t i = L->cand_off[s]; i < L->cand_off[s + 1]; i++) {
			const struct cand *cd = &L->cands[i];
			struct geo_multipolygon poly;
			rc = cd->full ? geo_multipolygon_from_bbox(&sqbox, &poly)
				      : geo_multipolygon_clip_bbox(communities[cd->region].geom, &sqbox,
								   &poly);
			if (rc)
				break;
			if (poly.n_polys == 0)
				continue; /* the edge only grazes this square */
			/* Pieces, before slivers merge: a loose bound that stops runaway input
			 * early; the exact limit is checked once cells are numbered. */
			if (++per[cd->region] > 4 * LOCATE_MAX_CELLS_PER_COMMUNITY) {
				geo_multipolygon_release(&poly);
				snprintf(reason, reason_len,
					 "community %s needs more than %d grid cells (the code's sequence has 3 digits)",
					 communities[cd->region].code, LOCATE_MAX_CELLS_PER_COMMUNITY);
				rc = CD_ERR_RANGE;
				break;
			}
			if (idx->n_cells == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				struct locate_cell *nc = try_realloc(idx->cells, ncap * sizeof(*nc));
				if (!nc) {
					geo_multipolygon_release(&poly);
					rc = CD_ERR_NOMEM;
					break;
				}
				idx->cells = nc;
				cap = ncap;
			}
			struct locate_cell *c = &idx->cells[idx->n_cells++];
			memset(c, 0, sizeof(*c));
			c->community = cd->region;
			c->col = col;
			c->row = row;
			c->poly = poly;
			c->bbox = geo_multipolygon_bbox(&poly);
		}
	}
	xfree(per);
	return rc;
}

/* Area in square degrees, holes subtracted. */
static double area_deg2(const struct geo_multipolygon *mp)
{
	double a = 0;
	for (size_t i = 0; i < mp->n_polys; i++)
		for (size_t r = 0; r < mp->polys[i].n_rings; r++) {
			double ra = fabs(geo_ring_area_deg2(&mp->polys[i].rings[r]));
			a += r == 0 ? ra : -ra;
		}
	return a;
}

/* Merges each sliver (a piece under LOCATE_SLIVER of a square) into the piece of the same
 * community in a side-adjacent square that it touches along the shared side, choosing the
 * largest such piece that is not a sliver itself. Slivers with no such neighbour stay cells.
 * Cells are still in square order (grid_cut's), which the neighbour search relies on. */
static enum cd_err grid_merge(struct locate_index *idx)
{
	const struct locate_layer *L = idx->communities;
	size_t nsq = (size_t)(L->ncols * L->nrows), n = idx->n_cells;
	if (n == 0)
		return CD_OK;
	enum cd_err rc = CD_ERR_NOMEM;
	uint32_t *first = try_calloc(nsq + 1, sizeof(*first));
	double *frac = try_malloc(n * sizeof(*frac));
	long *host = try_malloc(n * sizeof(*host));
	long *renum = try_malloc(n * sizeof(*renum));
	idx->extra_sq = try_malloc(n * sizeof(*idx->extra_sq));
	idx->extra_cell = try_malloc(n * sizeof(*idx->extra_cell));
	if (!first || !frac || !host || !renum || !idx->extra_sq || !idx->extra_cell)
		goto done;
	double full = L->lat.step_lng * L->lat.step_lat;
	for (size_t i = 0; i < n; i++) {
		struct locate_cell *c = &idx->cells[i];
		first[(size_t)((c->row - L->r0) * L->ncols + (c->col - L->c0)) + 1]++;
		frac[i] = area_deg2(&c->poly) / full;
		host[i] = -1;
	}
	for (size_t q = 0; q < nsq; q++)
		first[q + 1] += first[q];
	for (size_t i = 0; i < n; i++) {
		const struct locate_cell *c = &idx->cells[i];
		if (frac[i] >= LOCATE_SLIVER)
			continue;
		/* west, east, south, north: the neighbour's offset and the shared side. */
		const long dc[4] = {-1, 1, 0, 0}, dr[4] = {0, 0, -1, 1};
		double best = 0;
		for (int d = 0; d < 4; d++) {
			long tc = c->col + dc[d] - L->c0, tr = c->row + dr[d] - L->r0;
			if (tc < 0 || tc >= L->ncols || tr < 0 || tr >= L->nrows)
				continue;
			size_t t = (size_t)(tr * L->ncols + tc);
			for (uint32_t j = first[t]; j < first[t + 1]; j++) {
				const struct locate_cell *h = &idx->cells[j];
				if (h->community != c->community || frac[j] < LOCATE_SLIVER ||
				    frac[j] <= best)
					continue;
				/* Both pieces reach the shared side, over overlapping stretches. */
				bool meet;
				if (dc[d]) {
					double x = L->lat.origin_lng +
						   (double)(dc[d] > 0 ? c->col + 1 : c->col) * L->lat.step_lng;
					meet = (dc[d] > 0 ? c->bbox.max_lng == x && h->bbox.min_lng == x
							  : c->bbox.min_lng == x && h->bbox.max_lng == x) &&
					       fmin(c->bbox.max_lat, h->bbox.max_lat) >
						       fmax(c->bbox.min_lat, h->bbox.min_lat);
				} else {
					double y = L->lat.origin_lat +
						   (double)(dr[d] > 0 ? c->row + 1 : c->row) * L->lat.step_lat;
					meet = (dr[d] > 0 ? c->bbox.max_lat == y && h->bbox.min_lat == y
							  : c->bbox.min_lat == y && h->bbox.max_lat == y) &&
					       fmin(c->bbox.max_lng, h->bbox.max_lng) >
						       fmax(c->bbox.min_lng, h->bbox.min_lng);
				}
				if (meet) {
					best = frac[j];
					host[i] = (long)j;
				}
			}
		}
	}
	/* Move each merged sliver's polygons into its host. */
	for (size_t i = 0; i < n; i++) {
		if (host[i] < 0)
			continue;
		struct locate_cell *c = &idx->cells[i], *h = &idx->cells[host[i]];
		size_t np = h->poly.n_polys + c->poly.n_polys;
		struct geo_polygon *polys = try_realloc(h->poly.polys, np * sizeof(*polys));
		if (!polys)
			goto done;
		memcpy(polys + h->poly.n_polys, c->poly.polys, c->poly.n_polys * sizeof(*polys));
		h->poly.polys = polys;
		h->poly.n_polys = np;
		xfree(c->poly.polys);
		c->poly.polys = NULL;
		c->poly.n_polys = 0;
		h->bbox.min_lng = fmin(h->bbox.min_lng, c->bbox.min_lng);
		h->bbox.min_lat = fmin(h->bbox.min_lat, c->bbox.min_lat);
		h->bbox.max_lng = fmax(h->bbox.max_lng, c->bbox.max_lng);
		h->bbox.max_lat = fmax(h->bbox.max_lat, c->bbox.max_lat);
	}
	/* Drop the merged ones; remember their squares. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		renum[i] = host[i] < 0 ? (long)k++ : -1;
	for (size_t i = 0; i < n; i++) {
		if (host[i] < 0)
			continue;
		const struct locate_cell *c = &idx->cells[i];
		idx->extra_sq[idx->n_extra] = (uint32_t)((c->row - L->r0) * L->ncols + (c->col - L->c0));
		idx->extra_cell[idx->n_extra++] = (uint32_t)renum[host[i]];
	}
	for (size_t i = 0; i < n; i++)
		if (renum[i] >= 0)
			idx->cells[renum[i]] = idx->cells[i];
	idx->n_cells = k;
	rc = CD_OK;
done:
	xfree(first);
	xfree(frac);
	xfree(host);
	xfree(renum);
	return rc;
}

static int cell_idx_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct locate_cell *cells = ctx;
	return cell_cmp(&cells[*(const uint32_t *)pa], &cells[*(const uint32_t *)pb]);
}

/* Numbers the cells and builds the per-square and by-code lookups. */
static enum cd_err grid_number(struct locate_index *idx, const struct locate_area *communities,
			       char *reason, size_t reason_len)
{
	const struct locate_layer *L = idx->communities;
	size_t nsq = (size_t)(L->ncols * L->nrows), n = idx->n_cells;
	/* Sort through a permutation so the merged squares' cell numbers can follow. */
	uint32_t *perm = try_malloc((n ? n : 1) * sizeof(*perm));
	uint32_t *inv = try_malloc((n ? n : 1) * sizeof(*inv));
	struct locate_cell *sorted = try_malloc((n ? n : 1) * sizeof(*sorted));
	if (!perm || !inv || !sorted) {
		xfree(perm);
		xfree(inv);
		xfree(sorted);
		return CD_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	if (n)
		qsort_r(perm, n, sizeof(*perm), cell_idx_cmp, idx->cells);
	for (size_t i = 0; i < n; i++) {
		sorted[i] = idx->cells[perm[i]];
		inv[perm[i]] = (uint32_t)i;
	}
	xfree(idx->cells);
	idx->cells = sorted;
	for (size_t e = 0; e < idx->n_extra; e++)
		idx->extra_cell[e] = inv[idx->extra_cell[e]];
	xfree(perm);
	xfree(inv);
	size_t seq = 0;
	for (size_t i = 0; i < n; i++) {
		struct locate_cell *c = &idx->cells[i];
		seq = (i > 0 && idx->cells[i - 1].community == c->community) ? seq + 1 : 1;
		if (seq > LOCATE_MAX_CELLS_PER_COMMUNITY) {
			snprintf(reason, reason_len,
				 "community %s needs more than %d grid cells (the code's sequence has 3 digits)",
				 communities[c->community].code, LOCATE_MAX_CELLS_PER_COMMUNITY);
			return CD_ERR_RANGE;
		}
		snprintf(c->code, sizeof(c->code), "%.12s%03d", communities[c->community].code,
			 (int)seq);
	}
	size_t nref = n + idx->n_extra;
	idx->sq_cell_off = try_calloc(nsq + 1, sizeof(*idx->sq_cell_off));
	idx->sq_cells = try_malloc((nref ? nref : 1) * sizeof(*idx->sq_cells));
	idx->by_code = try_malloc((n ? n : 1) * sizeof(*idx->by_code));
	if (!idx->sq_cell_off || !idx->sq_cells || !idx->by_code)
		return CD_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct locate_cell *c = &idx->cells[i];
		size_t s = (size_t)((c->row - L->r0) * L->ncols + (c->col - L->c0));
		idx->sq_cell_off[s + 1]++;
	}
	for (size_t e = 0; e < idx->n_extra; e++)
		idx->sq_cell_off[idx->extra_sq[e] + 1]++;
	for (size_t s = 0; s < nsq; s++)
		idx->sq_cell_off[s + 1] += idx->sq_cell_off[s];
	uint32_t *fill = try_malloc((nsq + 1) * sizeof(*fill));
	if (!fill)
		return CD_ERR_NOMEM;
	memcpy(fill, idx->sq_cell_off, (nsq + 1) * sizeof(*fill));
	for (size_t i = 0; i < n; i++) {
		const struct locate_cell *c = &idx->cells[i];
		size_t s = (size_t)((c->row - L->r0) * L->ncols + (c->col - L->c0));
		idx->sq_cells[fill[s]++] = (uint32_t)i;
		idx->by_code[i] = (uint32_t)i;
	}
	for (size_t e = 0; e < idx->n_extra; e++)
		idx->sq_cells[fill[idx->extra_sq[e]]++] = idx->extra_cell[e];
	xfree(fill);
	if (n)
		qsort_r(idx->by_code, n, sizeof(*idx->by_code), code_cmp, idx->cells);

	/* Most lookups end here: one load answers district, community and cell together. The
	 * district layer shares the lattice, so its square for the same absolute (col, row) is
	 * found by offset. */
	idx->fast = try_malloc(nsq * sizeof(*idx->fast));
	idx->cell_comm = try_malloc((n ? n : 1) * sizeof(*idx->cell_comm));
	if (!idx->fast || !idx->cell_comm)
		return CD_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		idx->cell_comm[i] = (uint32_t)idx->cells[i].community;
	const struct locate_layer *D = idx->district;
	for (size_t s = 0; s < nsq; s++) {
		long col = (long)(s % (size_t)L->ncols) + L->c0, row = (long)(s / (size_t)L->ncols) + L->r0;
		long dc = col - D->c0, dr = row - D->r0;
		int32_t dv = (dc >= 0 && dc < D->ncols && dr >= 0 && dr < D->nrows)
				     ? D->sq[dr * D->ncols + dc]
				     : -1;
		idx->fast[s] = FAST_SLOW;
		if (dv == -1) {
			idx->fast[s] = FAST_OUTSIDE;
		} else if (dv == 0 && L->sq[s] >= 0) {
			for (uint32_t i = idx->sq_cell_off[s]; i < idx->sq_cell_off[s + 1]; i++)
				if (idx->cells[idx->sq_cells[i]].community == (size_t)L->sq[s])
					idx->fast[s] = (int32_t)idx->sq_cells[i];
		} else if (dv == 0) {
			idx->fast[s] = FAST_INSIDE;
		}
	}
	return CD_OK;
}

enum cd_err locate_build(const struct locate_area *district, const struct locate_area *streets,
			 size_t n_streets, const struct locate_area *communities, size_t n_communities,
			 const struct locate_lattice *lattice, struct locate_index **out,
			 char *reason, size_t reason_len)
{
	enum cd_err rc = CD_ERR_INVALID;
	const struct geo_multipolygon **geoms = NULL;
	*out = NULL;
	if (reason_len)
		reason[0] = '\0';
	if (!district || !district->geom) {
		snprintf(reason, reason_len, "no district outline");
		return CD_ERR_INVALID;
	}
	for (size_t i = 0; i < n_streets; i++) {
		if (!all_digits(streets[i].code, 9) || !streets[i].geom) {
			snprintf(reason, reason_len, "street %zu: code \"%.20s\" is not 9 digits", i,
				 streets[i].code ? streets[i].code : "");
			return CD_ERR_INVALID;
		}
	}
	if (n_streets > LOCATE_MAX_REGIONS || n_communities > LOCATE_MAX_REGIONS) {
		snprintf(reason, reason_len, "too many streets or communities");
		return CD_ERR_TOOBIG;
	}
	struct locate_index *idx = xcalloc(1, sizeof(*idx));
	idx->n_streets = n_streets;
	idx->n_communities = n_communities;
	idx->comm_street = xcalloc(n_communities ? n_communities : 1, sizeof(*idx->comm_street));
	for (size_t i = 0; i < n_communities; i++) {
		if (!all_digits(communities[i].code, 12) || !communities[i].geom) {
			snprintf(reason, reason_len, "community %zu: code \"%.20s\" is not 12 digits", i,
				 communities[i].code ? communities[i].code : "");
			goto done;
		}
		idx->comm_street[i] = -1;
		for (size_t j = 0; j < n_streets; j++)
			if (memcmp(streets[j].code, communities[i].code, 9) == 0) {
				idx->comm_street[i] = (long)j;
				break;
			}
		if (n_streets && idx->comm_street[i] < 0) {
			snprintf(reason, reason_len, "community %s has no street with code %.9s",
				 communities[i].code, communities[i].code);
			goto done;
		}
	}
	if (lattice) {
		idx->lat = *lattice;
	} else {
		struct geo_bbox b = geo_multipolygon_bbox(district->geom);
		idx->lat = locate_lattice_default((b.min_lat + b.max_lat) / 2);
	}
	size_t ng = n_streets > n_communities ? n_streets : n_communities;
	geoms = xmalloc((ng ? ng : 1) * sizeof(*geoms));
	rc = layer_build(&district->geom, 1, &idx->lat, false, &idx->district);
	if (rc) {
		snprintf(reason, reason_len, "cannot index the district outline: %s", cd_err_name(rc));
		goto done;
	}
	for (size_t i = 0; i < n_streets; i++)
		geoms[i] = streets[i].geom;
	rc = layer_build(geoms, n_streets, &idx->lat, false, &idx->streets);
	if (rc) {
		snprintf(reason, reason_len, "cannot index the streets: %s", cd_err_name(rc));
		goto done;
	}
	for (size_t i = 0; i < n_communities; i++)
		geoms[i] = communities[i].geom;
	rc = layer_build(geoms, n_communities, &idx->lat, true, &idx->communities);
	if (rc) {
		snprintf(reason, reason_len, "cannot index the communities: %s", cd_err_name(rc));
		goto done;
	}
	rc = grid_cut(idx, communities, reason, reason_len);
	if (rc == CD_OK)
		rc = grid_merge(idx);
	if (rc == CD_OK)
		rc = grid_number(idx, communities, reason, reason_len);
	if (rc && reason_len && !reason[0])
		snprintf(reason, reason_len, "cannot build the unit grid: %s", cd_err_name(rc));
done:
	xfree(geoms);
	if (rc) {
		locate_free(idx);
		return rc;
	}
	/* The grid builder's region lists are not needed for lookups. */
	xfree(idx->communities->cand_off);
	xfree(idx->communities->cands);
	idx->communities->cand_off = NULL;
	idx->communities->cands = NULL;
	*out = idx;
	return CD_OK;
}

enum cd_err locate_find(const struct locate_index *idx, struct geo_point p, struct locate_hit *out)
{
	const struct locate_layer *L = idx->communities;
	long s = square_of(L, p);
	if (s >= 0) {
		int32_t f = idx->fast[s];
		if (f >= 0) {
			uint32_t k = idx->cell_comm[f];
			*out = (struct locate_hit){idx->comm_street[k], (long)k, f, idx->cells[f].code};
			return CD_OK;
		}
		if (f == FAST_OUTSIDE) {
			*out = (struct locate_hit){-1, -1, -1, NULL};
			return CD_ERR_NOTFOUND;
		}
	}
	*out = (struct locate_hit){-1, -1, -1, NULL};
	if ((s < 0 || idx->fast[s] != FAST_INSIDE) && locate_layer_find(idx->district, p) < 0)
		return CD_ERR_NOTFOUND;
	long k = -1;
	if (s >= 0) {
		int32_t v = L->sq[s];
		k = v >= -1 ? v : layer_mixed_lookup(L, s, p);
	}
	if (k < 0) {
		out->street = locate_layer_find(idx->streets, p);
		return CD_OK;
	}
	out->community = k;
	out->street = idx->comm_street[k];
	for (uint32_t i = idx->sq_cell_off[s]; i < idx->sq_cell_off[s + 1]; i++) {
		if (idx->cell_comm[idx->sq_cells[i]] == (uint32_t)k) {
			out->cell = idx->sq_cells[i];
			out->grid_code = idx->cells[out->cell].code;
			break;
		}
	}
	return CD_OK;
}

size_t locate_cell_count(const struct locate_index *idx)
{
	return idx->n_cells;
}

const struct locate_cell *locate_cell_at(const struct locate_index *idx, size_t i)
{
	return i < idx->n_cells ? &idx->cells[i] : NULL;
}

long locate_cell_by_code(const struct locate_index *idx, const char *code)
{
	size_t lo = 0, hi = idx->n_cells;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(idx->cells[idx->by_code[mid]].code, code);
		if (c == 0)
			return idx->by_code[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

size_t locate_cells_in_bbox(const struct locate_index *idx, const struct geo_bbox *box,
			    size_t *out, size_t cap)
{
	const struct locate_layer *L = idx->communities;
	if (!(box->min_lng <= box->max_lng && box->min_lat <= box->max_lat))
		return 0;
	/* Clamp in double before converting, so huge boxes cannot overflow. */
	double fc0 = (box->min_lng - L->lat.origin_lng) * L->inv_lng - (double)L->c0;
	double fc1 = (box->max_lng - L->lat.origin_lng) * L->inv_lng - (double)L->c0;
	double fr0 = (box->min_lat - L->lat.origin_lat) * L->inv_lat - (double)L->r0;
	double fr1 = (box->max_lat - L->lat.origin_lat) * L->inv_lat - (double)L->r0;
	fc0 = fmax(fc0 - 1, 0);
	fr0 = fmax(fr0 - 1, 0);
	fc1 = fmin(fc1 + 1, (double)(L->ncols - 1));
	fr1 = fmin(fr1 + 1, (double)(L->nrows - 1));
	if (!(fc0 <= fc1 && fr0 <= fr1))
		return 0;
	long c0 = (long)fc0, c1 = (long)fc1, r0 = (long)fr0, r1 = (long)fr1;
	size_t total = 0;
	for (long r = r1; r >= r0; r--) {
		for (long c = c0; c <= c1; c++) {
			size_t s = (size_t)(r * L->ncols + c);
			for (uint32_t i = idx->sq_cell_off[s]; i < idx->sq_cell_off[s + 1]; i++) {
				uint32_t ci = idx->sq_cells[i];
				const struct locate_cell *cell = &idx->cells[ci];
				/* A cell is listed in its own square and in any square whose sliver it
				 * absorbed; report it from its own square only (at most one square
				 * away, inside the widened walk). */
				if (cell->col != c + L->c0 || cell->row != r + L->r0 ||
				    !geo_bbox_intersects(&cell->bbox, box))
					continue;
				if (total < cap)
					out[total] = ci;
				total++;
			}
		}
	}
	return total;
}

const struct locate_lattice *locate_lattice_of(const struct locate_index *idx)
{
	return &idx->lat;
}

long locate_community_street(const struct locate_index *idx, size_t k)
{
	return k < idx->n_communities ? idx->comm_street[k] : -1;
}
