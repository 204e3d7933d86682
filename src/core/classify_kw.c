/* Keyword classifier over category names; see classify_kw.h and docs/internals/category.md.
 * Evidence is the set of CJK character bigrams of each name; a bigram weighs
 * idf = ln(1 + nodes / names containing it), and a node scores cov^2 * m, where m is the
 * summed weight of its bigrams found in the text and cov = m / the summed weight of all its
 * bigrams, so a fully present name beats scattered common bigrams. */
#include "core/classify_kw.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/utf8.h"

#define TOP_FOR_CONFIDENCE 10 /* scores summed in the confidence denominator */
#define PARENT_SHARE 0.5      /* share of the parent's own score added to a node's */
#define GRANDPARENT_SHARE 0.25

/* Names that describe the structure of a tree rather than a matter. */
static const char *const stop_names[] = {"其他", "管理部件", "管理事项"};

struct classify_kw {
	const struct category_tree *tree; /* not owned; frozen */
	size_t n_cat;                     /* category_count(tree) */
	/* Bigram vocabulary: open-addressing table of keys -> id. */
	uint64_t *keys;     /* 0 marks a free slot (a real key never is 0) */
	uint32_t *ids;      /* id of the key in the same slot */
	size_t table_cap;   /* a power of two */
	size_t n_bigrams;   /* distinct bigrams */
	double *idf;        /* weight per bigram id */
	size_t *post_start; /* postings of id b: post_cat[post_start[b] .. post_start[b + 1]) */
	uint32_t *post_cat; /* category indexes (pre-order) */
	double *total;      /* per category: summed weight of all its bigrams (0: no evidence) */
	uint64_t filter[1024]; /* 65,536-bit filter on the key's hash: most text bigrams are not
				  name bigrams and are rejected here without probing the table */
};

static int is_cjk(uint32_t cp)
{
	return (cp >= 0x3400 && cp <= 0x9fff) || (cp >= 0xf900 && cp <= 0xfaff) ||
	       (cp >= 0x20000 && cp <= 0x2ffff);
}

/* Calls fn(key, ctx) for each pair of adjacent CJK characters in text, in order. */
static void each_bigram(const char *text, size_t len, void (*fn)(uint64_t key, void *ctx), void *ctx)
{
	const unsigned char *s = (const unsigned char *)text;
	uint32_t prev = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp = utf8_next_cp(s, len, &i);
		if (!is_cjk(cp)) {
			prev = 0;
			continue;
		}
		if (prev)
			fn(((uint64_t)prev << 32) | cp, ctx);
		prev = cp;
	}
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb3fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The slot holding key (whose mix64 is h), or the free slot where it would go. */
static size_t slot_of(const struct classify_kw *c, uint64_t key, uint64_t h)
{
	size_t i = (size_t)h & (c->table_cap - 1);
	while (c->keys[i] && c->keys[i] != key)
		i = (i + 1) & (c->table_cap - 1);
	return i;
}

static long lookup(const struct classify_kw *c, uint64_t key)
{
	uint64_t h = mix64(key);
	uint32_t f = (uint32_t)(h >> 48);
	if (!(c->filter[f >> 6] >> (f & 63) & 1))
		return -1;
	size_t i = slot_of(c, key, h);
	return c->keys[i] ? (long)c->ids[i] : -1;
}

static bool stopped(const struct category *cat)
{
	if (cat->depth == 0)
		return true;
	for (size_t i = 0; i < sizeof stop_names / sizeof stop_names[0]; i++)
		if (strcmp(cat->name, stop_names[i]) == 0)
			return true;
	return false;
}

/* Collects the distinct bigrams of one name (names are short: under CATEGORY_NAME_MAX bytes). */
struct name_bigrams {
	uint64_t keys[CATEGORY_NAME_MAX];
	size_t n;
};

static void collect_name(uint64_t key, void *ctx)
{
	struct name_bigrams *nb = ctx;
	for (size_t i = 0; i < nb->n; i++)
		if (nb->keys[i] == key)
			return;
	if (nb->n < CATEGORY_NAME_MAX)
		nb->keys[nb->n++] = key;
}

static void name_bigrams(const struct category *cat, struct name_bigrams *nb)
{
	nb->n = 0;
	if (!stopped(cat))
		each_bigram(cat->name, strlen(cat->name), collect_name, nb);
}

/* Sizes here follow the tree, which the program built and capped: the aborting family. */
enum cd_err classify_kw_new(const struct category_tree *t, struct classify_kw **out)
{
	*out = NULL;
	if (!category_tree_frozen(t))
		return CD_ERR_CONFLICT;
	struct classify_kw *c = xcalloc(1, sizeof *c);
	c->tree = t;
	c->n_cat = category_count(t);
	size_t n_post = 0;
	struct name_bigrams nb;
	for (size_t i = 0; i < c->n_cat; i++) {
		name_bigrams(category_at(t, i), &nb);
		n_post += nb.n;
	}
	c->table_cap = 16;
	while (c->table_cap < 2 * n_post + 2)
		c->table_cap *= 2;
	c->keys = xcalloc(c->table_cap, sizeof *c->keys);
	c->ids = xcalloc(c->table_cap, sizeof *c->ids);
	/* Pass 1: ids and document frequencies (kept in post_start, shifted by one). */
	size_t *df = xcalloc(n_post + 1, sizeof *df);
	for (size_t i = 0; i < c->n_cat; i++) {
		name_bigrams(category_at(t, i), &nb);
		for (size_t j = 0; j < nb.n; j++) {
			uint64_t h = mix64(nb.keys[j]);
			size_t s = slot_of(c, nb.keys[j], h);
			if (!c->keys[s]) {
				c->keys[s] = nb.keys[j];
				c->ids[s] = (uint32_t)c->n_bigrams++;
				uint32_t f = (uint32_t)(h >> 48);
				c->filter[f >> 6] |= 1ULL << (f & 63);
			}
			df[c->ids[s]]++;
		}
	}
	c->idf = xcalloc(c->n_bigrams + 1, sizeof *c->idf);
	c->post_start = xcalloc(c->n_bigrams + 1, sizeof *c->post_start);
	c->post_cat = xcalloc(n_post + 1, sizeof *c->post_cat);
	c->total = xcalloc(c->n_cat + 1, sizeof *c->total);
	for (size_t b = 0; b < c->n_bigrams; b++) {
		c->idf[b] = log(1.0 + (double)c->n_cat / (double)df[b]);
		c->post_start[b + 1] = c->post_start[b] + df[b];
		df[b] = c->post_start[b]; /* now the next free posting of b */
	}
	/* Pass 2: postings in category order and each category's total weight. */
	for (size_t i = 0; i < c->n_cat; i++) {
		name_bigrams(category_at(t, i), &nb);
		for (size_t j = 0; j < nb.n; j++) {
			uint32_t b = c->ids[slot_of(c, nb.keys[j], mix64(nb.keys[j]))];
			c->post_cat[df[b]++] = (uint32_t)i;
			c->total[i] += c->idf[b];
		}
	}
	xfree(df);
	*out = c;
	return CD_OK;
}

void classify_kw_free(struct classify_kw *c)
{
	if (!c)
		return;
	xfree(c->keys);
	xfree(c->ids);
	xfree(c->idf);
	xfree(c->post_start);
	xfree(c->post_cat);
	xfree(c->total);
	xfree(c);
}

size_t classify_kw_vocabulary(const struct classify_kw *c)
{
	return c->n_bigrams;
}

/* Per-call scratch: which bigrams the text holds, and each category's matched weight. */
struct scan {
	const struct classify_kw *c;
	unsigned char *seen; /* per bigram id */
	uint32_t *hits;      /* distinct bigram ids found, in text order */
	size_t n_hits;
};

static void scan_bigram(uint64_t key, void *ctx)
{
	struct scan *s = ctx;
	long id = lookup(s->c, key);
	if (id < 0 || s->seen[id])
		return;
	s->seen[id] = 1;
	s->hits[s->n_hits++] = (uint32_t)id;
}

/* Fills own[i] (size n_cat, zeroed) with each category's own score for text and lists the
 * categories with a score in touched[] (size n_cat); returns how many. */
static size_t own_scores(const struct classify_kw *c, const char *text, size_t len, double *own,
			 uint32_t *touched)
{
	if (len > CLASSIFY_KW_MAX_TEXT)
		len = CLASSIFY_KW_MAX_TEXT;
	struct scan s = {c, xcalloc(c->n_bigrams + 1, 1), xcalloc(c->n_bigrams + 1, sizeof(uint32_t)), 0};
	each_bigram(text, len, scan_bigram, &s);
	size_t n = 0;
	for (size_t h = 0; h < s.n_hits; h++) {
		uint32_t b = s.hits[h];
		for (size_t p = c->post_start[b]; p < c->post_start[b + 1]; p++) {
			uint32_t cat = c->post_cat[p];
			if (own[cat] == 0)
				touched[n++] = cat;
			own[cat] += c->idf[b];
		}
	}
	for (size_t i = 0; i < n; i++) {
		double m = own[touched[i]], cov = m / c->total[touched[i]];
		own[touched[i]] = cov * cov * m;
	}
	xfree(s.seen);
	xfree(s.hits);
	return n;
}

/* Keeps the k best (score, index) pairs, best first; ties go to the earlier index. */
struct ranked {
	double score;
	size_t index;
};

static bool better(double s, size_t i, const struct ranked *r)
{
	return s > r->score || (s == r->score && i < r->index);
}

static size_t best_k(const double *score, const uint32_t *idx, size_t n, size_t k,
		     struct ranked *top)
{
	size_t m = 0;
	for (size_t t = 0; t < n; t++) {
		size_t i = idx[t];
		double s = score[i];
		if (!(s > 0) || (m == k && !better(s, i, &top[m - 1])))
			continue;
		size_t j = m < k ? m++ : m - 1;
		while (j > 0 && better(s, i, &top[j - 1])) {
			top[j] = top[j - 1];
			j--;
		}
		top[j].score = s;
		top[j].index = i;
	}
	return m;
}

/* Writes the k best of score[] (over the n indexes in idx) to out with the confidence rule of
 * classify_kw.h. */
static size_t emit(const struct classify_kw *c, const double *score, const uint32_t *idx, size_t n,
		   size_t k, struct classify_result *out)
{
	if (k == 0 || n == 0)
		return 0;
	size_t want = k > TOP_FOR_CONFIDENCE ? k : TOP_FOR_CONFIDENCE;
	struct ranked *top = xmalloc(want * sizeof *top);
	size_t m = best_k(score, idx, n, want, top);
	double sum = 1.0;
	for (size_t i = 0; i < m && i < TOP_FOR_CONFIDENCE; i++)
		sum += top[i].score;
	size_t w = m < k ? m : k;
	for (size_t i = 0; i < w; i++) {
		const struct category *cat = category_at(c->tree, top[i].index);
		snprintf(out[i].code, sizeof out[i].code, "%s", cat->code);
		out[i].confidence = top[i].score / sum;
		out[i].source = CLASSIFY_SOURCE_KEYWORD;
	}
	xfree(top);
	return w;
}

/* classify_kw_top and classify_kw_top_within: root NULL ranks the whole tree. */
static size_t top_within(const struct classify_kw *c, const char *text, size_t len,
			 const struct category *root, size_t k, struct classify_result *out)
{
	if (k == 0 || c->n_cat == 0)
		return 0;
	double *own = xcalloc(c->n_cat, sizeof *own);
	double *score = xcalloc(c->n_cat, sizeof *score);
	uint32_t *touched = xmalloc(c->n_cat * sizeof *touched);
	uint32_t *ranked = xmalloc(c->n_cat * sizeof *ranked);
	size_t n = own_scores(c, text, len, own, touched), n_ranked = 0;
	for (size_t t = 0; t < n; t++) {
		const struct category *cat = category_at(c->tree, touched[t]);
		if (root && category_ancestor_at(cat, root->depth) != root)
			continue;
		double s = own[touched[t]];
		if (cat->parent) {
			s += PARENT_SHARE * own[cat->parent->index];
			if (cat->parent->parent)
				s += GRANDPARENT_SHARE * own[cat->parent->parent->index];
		}
		score[touched[t]] = s;
		ranked[n_ranked++] = touched[t];
	}
	size_t w = emit(c, score, ranked, n_ranked, k, out);
	xfree(own);
	xfree(score);
	xfree(touched);
	xfree(ranked);
	return w;
}

size_t classify_kw_top(const struct classify_kw *c, const char *text, size_t len, size_t k,
		       struct classify_result *out)
{
	return top_within(c, text, len, NULL, k, out);
}

size_t classify_kw_top_within(const struct classify_kw *c, const char *text, size_t len,
			      const char *root, size_t k, struct classify_result *out)
{
	const struct category *r = category_get(c->tree, root);
	return r ? top_within(c, text, len, r, k, out) : 0;
}

size_t classify_kw_classify(const void *model, const char *text, size_t len, size_t k,
			    struct classify_result *out)
{
	return classify_kw_top(model, text, len, k, out);
}

size_t classify_kw_rank_level(const struct classify_kw *c, const char *text, size_t len,
			      const char *root, int depth, size_t k, struct classify_result *out)
{
	const struct category *r = category_get(c->tree, root);
	if (!r || k == 0 || depth < r->depth)
		return 0;
	double *own = xcalloc(c->n_cat, sizeof *own);
	double *agg = xcalloc(c->n_cat, sizeof *agg);
	uint32_t *touched = xmalloc(c->n_cat * sizeof *touched);
	uint32_t *levels = xmalloc(c->n_cat * sizeof *levels);
	size_t n = own_scores(c, text, len, own, touched), n_levels = 0;
	for (size_t t = 0; t < n; t++) {
		const struct category *cat = category_at(c->tree, touched[t]);
		const struct category *a = category_ancestor_at(cat, depth);
		if (!a || category_ancestor_at(a, r->depth) != r) /* not below root */
			continue;
		if (agg[a->index] == 0)
			levels[n_levels++] = (uint32_t)a->index;
		agg[a->index] += own[touched[t]];
	}
	size_t w = emit(c, agg, levels, n_levels, k, out);
	xfree(own);
	xfree(agg);
	xfree(touched);
	xfree(levels);
	return w;
}
