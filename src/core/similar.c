/* The duplicate finder: cells of a square grid about radius_m wide, spread over shards behind
 * readers-writer locks; each cell a flat array of recent cases kept in time order, so a query
 * reads only the cases within the window, newest first, and scores at most FULL_MAX of them
 * per cell (a hot spot can put thousands of copies of one report in a cell within seconds). */
#include "core/similar.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/alloc.h"

#define SHARDS 64
/* Cases per cell that pass the equal-byte screen and are scored in full, newest first; beyond
 * that a cell is flooded with near-copies and the newest of them are the ones worth showing. */
#define FULL_MAX 16
/* Cases per cell examined at all (place, then the equal-byte screen), newest first: in a
 * flooded cell most cases fail the place test (another hot spot in the same cell, beyond the
 * radius), and walking all of them cost a query 10-20 us under the intake benchmark. */
#define SCAN_MAX 256
/* Cases a cell keeps at most: when it is full at this size it keeps its newest half. A query
 * for a case reported now examines only the newest SCAN_MAX of a cell, so the rest of a
 * flooded cell was memory and nothing else (~136 bytes a case: a million reports around 30
 * metro stations in a week held ~140 MB). What it costs: a report dated back (an import) into a
 * cell with more than ~1,000 newer cases in the window may miss an older duplicate. */
#define CELL_KEEP 2048
#define M_PER_DEG_LAT 111320.0

/* A cell's cases are kept as three parallel arrays so that a query reads only what it needs:
 * the time and place of every case (16 bytes), the signature only of those in range, the rest
 * only of those that score. */
struct hot {
	int64_t t;	/* reported_at */
	float lat, lng; /* 0 in area cells (cases without a point) */
};

struct cold {
	int64_t id;
	char ref[SIMILAR_REF_MAX]; /* NUL-terminated, cut to fit */
	uint32_t shingles;	   /* bigrams of its text */
	char cat[SIMILAR_CAT_MAX]; /* category code, NUL-padded */
};

/* The cases of one grid cell (or of one area code, for cases without a point). */
struct cell {
	uint64_t key;  /* point_key or area_key (high bit set) */
	struct hot *h; /* n used of cap, in each array; ordered by h[].t, oldest first */
	struct minhash_sig *sig;
	struct cold *c;
	size_t n, cap;
	int64_t newest; /* latest reported_at added: what cell-local eviction counts from */
};

/* A part of the cell table, with its own lock. */
struct shard {
	pthread_rwlock_t lock;
	struct cell **slots; /* open addressing on key, cap a power of two, NULL = empty */
	size_t used, cap;
	size_t cases; /* entries over all its cells */
};

struct similar_index {
	struct similar_config cfg;
	double dlat; /* cell height in degrees */
	struct shard shards[SHARDS];
};

void similar_config_default(struct similar_config *cfg)
{
	cfg->radius_m = 300;
	cfg->window_s = 7 * 86400;
	cfg->possible = 0.3;
	cfg->merge = 0.8;
	cfg->min_shingles = 4;
}

/* ---- signatures and scores ---- */

enum cd_err similar_sign(const struct text_norm *tn, const char *title, const char *description,
			 struct similar_case *c)
{
	enum cd_err rc;
	if (!tn) {
		struct text_norm *shared;
		if ((rc = text_norm_shared(&shared)))
			return rc;
		tn = shared;
	}
	/* Title and description on separate lines: bigrams never span the break. */
	size_t tl = title ? strlen(title) : 0, dl = description ? strlen(description) : 0;
	size_t rawcap = tl + dl + 2, normcap = 3 * (tl + dl) + 16;
	char *raw = xmalloc(rawcap), *norm = xmalloc(normcap);
	memcpy(raw, title ? title : "", tl);
	raw[tl] = '\n';
	memcpy(raw + tl + 1, description ? description : "", dl);
	raw[tl + 1 + dl] = '\0';
	size_t nl = 0;
	rc = text_normalize(tn, raw, tl + 1 + dl, TEXT_ALL, norm, normcap, &nl);
	if (rc == CD_ERR_TOOBIG)
		rc = CD_OK; /* the valid prefix is signature enough */
	if (!rc) {
		size_t n = minhash_sign_text(norm, nl, &c->sig);
		c->shingles = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	}
	xfree(raw);
	xfree(norm);
	return rc;
}

enum cd_err similar_case_make(struct similar_case *c, int64_t id, int64_t reported_at, int has_point,
			      double lat, double lng, const char *category, const char *area,
			      const char *title, const char *description)
{
	memset(c, 0, sizeof *c);
	c->id = id;
	c->reported_at = reported_at;
	c->has_point = has_point ? 1 : 0;
	c->lat = has_point ? lat : 0;
	c->lng = has_point ? lng : 0;
	if (category)
		memcpy(c->category, category, strnlen(category, SIMILAR_CAT_MAX - 1));
	if (area)
		memcpy(c->area, area, strnlen(area, SIMILAR_AREA_MAX - 1));
	return similar_sign(NULL, title, description, c);
}

double similar_score(double text, int cat_agree, double distance_m, double radius_m)
{
	double cat = cat_agree > 0 ? 1.0 : cat_agree == 0 ? 0.6 : 0.9;
	if (cat_agree >= 2)
		cat = cat_agree == 2 ? 0.95 : 0.85;
	double dist = 0.9;
	if (distance_m >= 0 && radius_m > 0) {
		double f = distance_m / radius_m;
		dist = 1.0 - 0.2 * (f > 1 ? 1 : f);
	}
	double s = text * cat * dist;
	return s < 0 ? 0 : s > 1 ? 1 : s;
}

/* Category agreement for similar_score: 1 same, 2 one under the other, 3 same top level
 * (first three characters, e.g. "H01"), 0 different, -1 unknown. */
static int cat_agreement(const char *a, const char *b)
{
	if (!a[0] || !b[0])
		return -1;
	if (strncmp(a, b, SIMILAR_CAT_MAX) == 0)
		return 1;
	size_t la = strnlen(a, SIMILAR_CAT_MAX), lb = strnlen(b, SIMILAR_CAT_MAX);
	size_t m = la < lb ? la : lb;
	if (strncmp(a, b, m) == 0)
		return 2;
	if (m >= 3 && strncmp(a, b, 3) == 0)
		return 3;
	return 0;
}

/* ---- cells ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Cell width in degrees of longitude for row i: radius_m wide at the row's latitude. */
static double cell_dlng(const struct similar_index *ix, int64_t row)
{
	double lat = (row + 0.5) * ix->dlat;
	double c = cos(lat * M_PI / 180.0);
	if (c < 0.01)
		c = 0.01;
	return ix->dlat / c;
}

static uint64_t point_key(int64_t row, int64_t col)
{
	return ((uint64_t)(uint32_t)row & 0x7fffffffu) << 32 | (uint32_t)col;
}

static uint64_t area_key(const char *area)
{
	return text_hash64(area, strnlen(area, SIMILAR_AREA_MAX)) | (1ULL << 63);
}

/* The key of the cell c belongs to; 0 when it has neither point nor area (not indexed). */
static uint64_t case_key(const struct similar_index *ix, const struct similar_case *c)
{
	if (c->has_point) {
		int64_t row = (int64_t)floor(c->lat / ix->dlat);
		return point_key(row, (int64_t)floor(c->lng / cell_dlng(ix, row)));
	}
	return c->area[0] ? area_key(c->area) : 0;
}

/* The cells a query for c must scan (up to 9), nearest first: dmin[i] gets the distance in
 * metres from c's point to cell i's rectangle (0 for its own cell and for an area cell), a
 * metre short to stay below any candidate's distance despite the float storage of points;
 * m_per_deg_lng is the query's, as distance2_m uses it. */
static size_t query_keys(const struct similar_index *ix, const struct similar_case *c, double m_per_deg_lng,
			 uint64_t keys[9], double dmin[9])
{
	if (!c->has_point) {
		keys[0] = case_key(ix, c);
		dmin[0] = 0;
		return keys[0] ? 1 : 0;
	}
	size_t n = 0;
	int64_t row = (int64_t)floor(c->lat / ix->dlat);
	for (int64_t r = row - 1; r <= row + 1; r++) {
		double dlng = cell_dlng(ix, r);
		int64_t col = (int64_t)floor(c->lng / dlng);
		double lat0 = (double)r * ix->dlat, lat1 = lat0 + ix->dlat;
		double dy = c->lat < lat0 ? lat0 - c->lat : c->lat > lat1 ? c->lat - lat1 : 0;
		for (int64_t k = col - 1; k <= col + 1; k++) {
			double lng0 = (double)k * dlng, lng1 = lng0 + dlng;
			double dx = c->lng < lng0 ? lng0 - c->lng : c->lng > lng1 ? c->lng - lng1 : 0;
			double d = sqrt(dy * M_PER_DEG_LAT * dy * M_PER_DEG_LAT + dx * m_per_deg_lng * dx * m_per_deg_lng);
			d = d > 1 ? d - 1 : 0;
			size_t i = n++; /* insertion sort: nine entries */
			while (i > 0 && dmin[i - 1] > d) {
				keys[i] = keys[i - 1];
				dmin[i] = dmin[i - 1];
				i--;
			}
			keys[i] = point_key(r, k);
			dmin[i] = d;
		}
	}
	return n;
}

static struct shard *shard_of(struct similar_index *ix, uint64_t key)
{
	return &ix->shards[mix64(key) % SHARDS];
}

/* The cell with key in sh, or NULL. Caller holds the shard's lock. */
static struct cell *shard_find(const struct shard *sh, uint64_t key)
{
	if (!sh->cap)
		return NULL;
	size_t mask = sh->cap - 1;
	for (size_t i = mix64(key ^ 0x9e3779b97f4a7c15ULL) & mask;; i = (i + 1) & mask) {
		struct cell *c = sh->slots[i];
		if (!c)
			return NULL;
		if (c->key == key)
			return c;
	}
}

static void shard_place(struct cell **slots, size_t cap, struct cell *c)
{
	size_t mask = cap - 1;
	size_t i = mix64(c->key ^ 0x9e3779b97f4a7c15ULL) & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = c;
}

/* The cell with key, made when missing. Caller holds the write lock. NULL when out of memory. */
static struct cell *shard_get(struct shard *sh, uint64_t key)
{
	struct cell *c = shard_find(sh, key);
	if (c)
		return c;
	if ((sh->used + 1) * 2 > sh->cap) {
		size_t ncap = sh->cap ? sh->cap * 2 : 64;
		struct cell **ns = try_malloc(ncap * sizeof *ns);
		if (!ns)
			return NULL;
		memset(ns, 0, ncap * sizeof *ns);
		for (size_t i = 0; i < sh->cap; i++)
			if (sh->slots[i])
				shard_place(ns, ncap, sh->slots[i]);
		xfree(sh->slots);
		sh->slots = ns;
		sh->cap = ncap;
	}
	c = try_malloc(sizeof *c);
	if (!c)
		return NULL;
	memset(c, 0, sizeof *c);
	c->key = key;
	shard_place(sh->slots, sh->cap, c);
	sh->used++;
	return c;
}

/* Drops a cell's cases reported before `before`; returns how many. */
static size_t cell_compact(struct cell *c, int64_t before)
{
	size_t w = 0;
	for (size_t r = 0; r < c->n; r++)
		if (c->h[r].t >= before) {
			c->h[w] = c->h[r];
			c->sig[w] = c->sig[r];
			c->c[w++] = c->c[r];
		}
	size_t dropped = c->n - w;
	c->n = w;
	return dropped;
}

/* Keeps a cell's newest `keep` cases (the end of its arrays); returns how many went. */
static size_t cell_keep_newest(struct cell *c, size_t keep)
{
	if (c->n <= keep)
		return 0;
	size_t drop = c->n - keep;
	memmove(c->h, c->h + drop, keep * sizeof *c->h);
	memmove(c->sig, c->sig + drop, keep * sizeof *c->sig);
	memmove(c->c, c->c + drop, keep * sizeof *c->c);
	c->n = keep;
	return drop;
}

static void cell_free(struct cell *c)
{
	xfree(c->h);
	xfree(c->sig);
	xfree(c->c);
	xfree(c);
}

/* Room for one more case; false when out of memory. */
static bool cell_reserve(struct cell *c)
{
	if (c->n < c->cap)
		return true;
	size_t ncap = c->cap ? c->cap * 2 : 8;
	struct hot *h = try_realloc(c->h, ncap * sizeof *h);
	if (h)
		c->h = h;
	struct minhash_sig *sg = h ? try_realloc(c->sig, ncap * sizeof *sg) : NULL;
	if (sg)
		c->sig = sg;
	struct cold *cd = sg ? try_realloc(c->c, ncap * sizeof *cd) : NULL;
	if (!cd)
		return false; /* the arrays that grew keep working at the old cap */
	c->c = cd;
	c->cap = ncap;
	return true;
}

/* ---- the index ---- */

struct similar_index *similar_new(const struct similar_config *cfg)
{
	struct similar_index *ix = xcalloc(1, sizeof *ix);
	if (cfg)
		ix->cfg = *cfg;
	else
		similar_config_default(&ix->cfg);
	if (!(ix->cfg.radius_m > 0))
		ix->cfg.radius_m = 300;
	ix->dlat = ix->cfg.radius_m / M_PER_DEG_LAT;
	for (size_t i = 0; i < SHARDS; i++)
		pthread_rwlock_init(&ix->shards[i].lock, NULL);
	return ix;
}

void similar_free(struct similar_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < SHARDS; i++) {
		struct shard *sh = &ix->shards[i];
		for (size_t k = 0; k < sh->cap; k++)
			if (sh->slots[k])
				cell_free(sh->slots[k]);
		xfree(sh->slots);
		pthread_rwlock_destroy(&sh->lock);
	}
	xfree(ix);
}

void similar_get_config(const struct similar_index *ix, struct similar_config *out)
{
	*out = ix->cfg;
}

enum cd_err similar_add(struct similar_index *ix, const struct similar_case *c)
{
	uint64_t key = case_key(ix, c);
	if (!key)
		return CD_OK; /* nowhere to look for it: nothing can ever match it */
	struct shard *sh = shard_of(ix, key);
	enum cd_err rc = CD_ERR_NOMEM;
	pthread_rwlock_wrlock(&sh->lock);
	struct cell *cell = shard_get(sh, key);
	if (!cell)
		goto out;
	if (c->reported_at > cell->newest)
		cell->newest = c->reported_at;
	if (cell->n == cell->cap) {
		sh->cases -= cell_compact(cell, cell->newest - ix->cfg.window_s);
		if (cell->n >= CELL_KEEP)
			sh->cases -= cell_keep_newest(cell, CELL_KEEP / 2);
	}
	if (!cell_reserve(cell))
		goto out;
	/* Keep time order: reports arrive nearly in order, so the move is short or nothing. */
	size_t i = cell->n;
	if (i && cell->h[i - 1].t > c->reported_at) {
		size_t lo = 0, hi = i;
		while (lo < hi) { /* first entry later than the new case */
			size_t mid = lo + (hi - lo) / 2;
			if (cell->h[mid].t > c->reported_at)
				hi = mid;
			else
				lo = mid + 1;
		}
		i = lo;
		memmove(cell->h + i + 1, cell->h + i, (cell->n - i) * sizeof *cell->h);
		memmove(cell->sig + i + 1, cell->sig + i, (cell->n - i) * sizeof *cell->sig);
		memmove(cell->c + i + 1, cell->c + i, (cell->n - i) * sizeof *cell->c);
	}
	cell->n++;
	cell->h[i] =
	    (struct hot){c->reported_at, c->has_point ? (float)c->lat : 0, c->has_point ? (float)c->lng : 0};
	cell->sig[i] = c->sig;
	memset(&cell->c[i], 0, sizeof cell->c[i]);
	cell->c[i].id = c->id;
	memcpy(cell->c[i].ref, c->ref, strnlen(c->ref, SIMILAR_REF_MAX - 1));
	cell->c[i].shingles = c->shingles;
	memcpy(cell->c[i].cat, c->category, strnlen(c->category, SIMILAR_CAT_MAX));
	sh->cases++;
	rc = CD_OK;
out:
	pthread_rwlock_unlock(&sh->lock);
	return rc;
}

enum cd_err similar_remove(struct similar_index *ix, const struct similar_case *c)
{
	uint64_t key = case_key(ix, c);
	if (!key)
		return CD_ERR_NOTFOUND;
	struct shard *sh = shard_of(ix, key);
	enum cd_err rc = CD_ERR_NOTFOUND;
	pthread_rwlock_wrlock(&sh->lock);
	struct cell *cell = shard_find(sh, key);
	for (size_t i = 0; cell && i < cell->n; i++)
		if (cell->c[i].id == c->id) {
			size_t tail = --cell->n - i; /* close the gap in order */
			memmove(cell->h + i, cell->h + i + 1, tail * sizeof *cell->h);
			memmove(cell->sig + i, cell->sig + i + 1, tail * sizeof *cell->sig);
			memmove(cell->c + i, cell->c + i + 1, tail * sizeof *cell->c);
			sh->cases--;
			rc = CD_OK;
			break;
		}
	pthread_rwlock_unlock(&sh->lock);
	return rc;
}

/* Squared metres between two points: equirectangular with the query's cosine (m_per_deg_lng),
 * exact enough within a few kilometres and without a cosine per candidate. */
static double distance2_m(double lat1, double lng1, double lat2, double lng2, double m_per_deg_lng)
{
	double dy = (lat2 - lat1) * M_PER_DEG_LAT;
	double dx = (lng2 - lng1) * m_per_deg_lng;
	return dx * dx + dy * dy;
}

/* How many of the 64 bytes of a and b are equal. With SSE2 (every x86-64): per 16 bytes, the
 * equal ones as -1 subtracted into byte counters, summed by psadbw (3.4 against 8.0 ns here);
 * elsewhere eight words, zero bytes of their XOR. */
static int same_bytes(const struct minhash_sig *a, const struct minhash_sig *b)
{
#if defined(__SSE2__) && MINHASH_PERM == 64
	__m128i acc = _mm_setzero_si128();
	for (int k = 0; k < 4; k++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a->v + 16 * k));
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b->v + 16 * k));
		acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(x, y)); /* at most 4 per byte */
	}
	__m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128()); /* two 64-bit lane sums */
	return _mm_cvtsi128_si32(sums) + _mm_extract_epi16(sums, 4);
#else
	int same = 0;
	for (int w = 0; w < MINHASH_PERM / 8; w++) {
		uint64_t x, y;
		memcpy(&x, a->v + 8 * w, 8);
		memcpy(&y, b->v + 8 * w, 8);
		x ^= y;
		/* high bit of each byte set when the byte is zero */
		uint64_t z =
		    ~(((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x | 0x7f7f7f7f7f7f7f7fULL);
		same += (int)(((z >> 7) * 0x0101010101010101ULL) >> 56); /* sum of the bytes' 0/1 */
	}
	return same;
#endif
}

/* The first of cell's cases reported at or after t (cell->n when none). */
static size_t cell_lower(const struct cell *cell, int64_t t)
{
	size_t lo = 0, hi = cell->n;
	/* the common cases first: the bisection's reads are cache misses on a cold cell */
	if (!hi || cell->h[0].t >= t)
		return 0;
	if (cell->h[hi - 1].t < t)
		return hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cell->h[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Inserts h into out[0..*n) kept best first, at most cap. */
static void keep_best(struct similar_hit *out, size_t *n, size_t cap, const struct similar_hit *h)
{
	if (!cap || (*n == cap && out[cap - 1].score >= h->score))
		return;
	size_t i = *n < cap ? (*n)++ : cap - 1;
	while (i > 0 && out[i - 1].score < h->score) {
		out[i] = out[i - 1];
		i--;
	}
	out[i] = *h;
}

size_t similar_query(struct similar_index *ix, const struct similar_case *c, struct similar_hit *out,
		     size_t cap)
{
	const struct similar_config *cfg = &ix->cfg;
	if (c->shingles < cfg->min_shingles)
		return 0;
	const double m_per_deg_lng = M_PER_DEG_LAT * cos(c->lat * M_PI / 180.0);
	uint64_t keys[9];
	double dmin[9];
	size_t nk = query_keys(ix, c, m_per_deg_lng, keys, dmin), n = 0;
	const double r2 = cfg->radius_m * cfg->radius_m;
	/* equal bytes a signature needs for an estimated Jaccard of `possible` (see minhash.h) */
	const int need = (int)ceil(MINHASH_PERM * (cfg->possible + (1 - cfg->possible) / 256.0) - 1e-9);
	for (size_t k = 0; k < nk; k++) {
		if (dmin[k] > cfg->radius_m)
			break; /* this cell and the rest lie beyond the radius */
		/* The best score a case of this cell could reach (same text, same category, at the
		 * cell's nearest edge): when the list is full and its last entry already has it, no
		 * case here or in the farther cells can enter (keep_best takes only better ones). */
		if (n == cap && cap && out[cap - 1].score >= similar_score(1.0, 1, dmin[k], cfg->radius_m))
			break;
		struct shard *sh = shard_of(ix, keys[k]);
		pthread_rwlock_rdlock(&sh->lock);
		const struct cell *cell = shard_find(sh, keys[k]);
		const bool points = !(keys[k] >> 63);
		/* the window's cases: [lo, hi) in time order, read newest first */
		size_t lo = cell ? cell_lower(cell, c->reported_at - cfg->window_s) : 0;
		size_t hi = cell ? cell_lower(cell, c->reported_at + cfg->window_s + 1) : 0;
		unsigned full = 0;
		if (hi - lo > SCAN_MAX)
			lo = hi - SCAN_MAX;
		for (size_t i = hi; i-- > lo && full < FULL_MAX;) {
			const struct hot *e = &cell->h[i];
			double d = -1;
			if (points) {
				double d2 = distance2_m(c->lat, c->lng, e->lat, e->lng, m_per_deg_lng);
				if (d2 > r2)
					continue;
				d = sqrt(d2);
			}
			int same = same_bytes(&c->sig, &cell->sig[i]);
			if (same < need)
				continue; /* below `possible` in text alone: no factor raises a score */
			const struct cold *o = &cell->c[i];
			if (o->id == c->id || o->shingles < cfg->min_shingles)
				continue;
			full++;
			/* minhash_similarity from the count already made: P(equal byte) = J + (1 - J) / 256 */
			double j = ((double)same / MINHASH_PERM - 1.0 / 256) / (1.0 - 1.0 / 256);
			j = j < 0 ? 0 : j > 1 ? 1 : j;
			if (n == cap && (!cap || out[cap - 1].score >= j))
				continue; /* j bounds the score: it cannot enter the list */
			int64_t dt = e->t > c->reported_at ? e->t - c->reported_at : c->reported_at - e->t;
			int agree = cat_agreement(c->category, o->cat);
			struct similar_hit h = {o->id, "", similar_score(j, agree, d, cfg->radius_m), j, d,
						dt,    agree < 0 ? -1 : agree == 0 ? 0 : 1};
			if (h.score >= cfg->possible) {
				memcpy(h.ref, o->ref, SIMILAR_REF_MAX);
				keep_best(out, &n, cap, &h);
			}
		}
		pthread_rwlock_unlock(&sh->lock);
	}
	return n;
}

size_t similar_evict(struct similar_index *ix, int64_t before)
{
	size_t dropped = 0;
	for (size_t s = 0; s < SHARDS; s++) {
		struct shard *sh = &ix->shards[s];
		pthread_rwlock_wrlock(&sh->lock);
		for (size_t k = 0; k < sh->cap; k++)
			if (sh->slots[k]) {
				size_t d = cell_compact(sh->slots[k], before);
				sh->cases -= d;
				dropped += d;
			}
		pthread_rwlock_unlock(&sh->lock);
	}
	return dropped;
}

size_t similar_count(struct similar_index *ix)
{
	size_t n = 0;
	for (size_t s = 0; s < SHARDS; s++) {
		pthread_rwlock_rdlock(&ix->shards[s].lock);
		n += ix->shards[s].cases;
		pthread_rwlock_unlock(&ix->shards[s].lock);
	}
	return n;
}
