/* Clusters of recurring problems, hot spots and rising terms over cases handed in by the
 * caller; see insights.h and docs/internals/similar.md. */
#include "core/insights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/minhash.h"
#include "util/alloc.h"

#define LSH_BANDS 32	    /* bands of 2 bytes over the 64-byte signature */
#define LSH_WINDOW 32	    /* each case is compared with at most this many earlier ones per bucket */
#define MIN_SHINGLES 4	    /* texts with fewer bigrams join no cluster */
#define LABEL_CANDIDATES 40 /* terms per cluster whose global document frequency is looked up */
#define LABEL_CONSIDER 16   /* best-scoring terms a label is built from */
#define TERM_KINDS (TEXT_TOK_BI | TEXT_TOK_TRI)

void insights_cluster_opts_default(struct insights_cluster_opts *o)
{
	memset(o, 0, sizeof *o);
	o->threshold = 0.2;
	o->min_size = 3;
	o->max_clusters = 50;
	o->same_category = 1;
}

/* ---- a small open-addressing map from 64-bit term hashes to counters ---- */

struct term_slot {
	uint64_t key;  /* 0 = empty (a real hash of 0 is stored as 1) */
	uint32_t a, b; /* counters: meaning depends on the user */
	uint32_t last; /* the last doc counted + 1: counts each doc once */
	uint32_t str;  /* offset + 1 of the term's bytes in the map's strings, 0 = none */
};

struct term_map {
	struct term_slot *s;
	size_t used, cap;
	char *strs; /* NUL-terminated terms, back to back */
	size_t slen, scap;
};

static uint64_t fix_key(uint64_t k)
{
	return k ? k : 1;
}

static void map_init(struct term_map *m, size_t expect)
{
	size_t cap = 64;
	while (cap < expect * 2)
		cap *= 2;
	memset(m, 0, sizeof *m);
	m->s = xcalloc(cap, sizeof *m->s);
	m->cap = cap;
}

static void map_release(struct term_map *m)
{
	xfree(m->s);
	xfree(m->strs);
	memset(m, 0, sizeof *m);
}

static struct term_slot *map_find(const struct term_map *m, uint64_t key)
{
	key = fix_key(key);
	size_t mask = m->cap - 1;
	for (size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 7 & mask;; i = (i + 1) & mask) {
		if (m->s[i].key == key)
			return &m->s[i];
		if (!m->s[i].key)
			return NULL;
	}
}

static struct term_slot *map_get(struct term_map *m, uint64_t key)
{
	key = fix_key(key);
	if ((m->used + 1) * 10 > m->cap * 7) {
		struct term_slot *old = m->s;
		size_t ocap = m->cap;
		m->cap *= 2;
		m->s = xcalloc(m->cap, sizeof *m->s);
		for (size_t i = 0; i < ocap; i++)
			if (old[i].key) {
				size_t mask = m->cap - 1,
				       j = (old[i].key * 0x9e3779b97f4a7c15ULL) >> 7 & mask;
				while (m->s[j].key)
					j = (j + 1) & mask;
				m->s[j] = old[i];
			}
		xfree(old);
	}
	size_t mask = m->cap - 1;
	size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 7 & mask;
	while (m->s[i].key && m->s[i].key != key)
		i = (i + 1) & mask;
	if (!m->s[i].key) {
		m->s[i].key = key;
		m->used++;
	}
	return &m->s[i];
}

/* Keeps the bytes of a term (cut to fit INSIGHTS_TERM_MAX between characters) for slot t. */
static void map_keep_str(struct term_map *m, struct term_slot *t, const char *s, size_t n)
{
	if (t->str)
		return;
	if (n >= INSIGHTS_TERM_MAX) {
		n = INSIGHTS_TERM_MAX - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if (m->slen + n + 1 > m->scap) {
		m->scap = (m->slen + n + 1) * 2 + 256;
		m->strs = xrealloc(m->strs, m->scap);
	}
	memcpy(m->strs + m->slen, s, n);
	m->strs[m->slen + n] = '\0';
	t->str = (uint32_t)(m->slen + 1);
	m->slen += n + 1;
}

static const char *map_str(const struct term_map *m, const struct term_slot *t)
{
	return t->str ? m->strs + t->str - 1 : "";
}

/* ---- per-doc preparation ---- */

struct prep {
	char *norm; /* normalized title + description, owned */
	size_t len;
	struct minhash_sig sig; /* of the title, or of the description's start without one */
	uint32_t shingles;	/* bigrams behind sig */
	uint64_t *set;		/* those bigrams, sorted, unique, owned: for exact Jaccard */
	size_t nset;
	int period; /* 1 in [from, to), 0 in the period before, -1 outside */
};

/* What a doc is clustered on: its title when it has one of at least this many bigrams (titles
 * name the problem; details dilute it with circumstances: on the hot messages, same-problem
 * titles score 0.1-0.8, whole texts 0.02-0.15), else the first CLUSTER_LEAD bytes of its
 * normalized description. */
#define TITLE_MIN_SHINGLES 4
#define CLUSTER_LEAD 180

/* Normalizes in[0..len) into a new string (xfree it). */
static enum cd_err norm_new(const struct text_norm *tn, const char *in, size_t len, char **out,
			    size_t *out_len)
{
	if (len > TEXT_MAX_INPUT)
		len = TEXT_MAX_INPUT;
	size_t cap = 3 * len + 16;
	*out = xmalloc(cap);
	enum cd_err rc = text_normalize(tn, in, len, TEXT_ALL, *out, cap, out_len);
	return rc == CD_ERR_TOOBIG ? CD_OK : rc;
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Signs s[0..len) into p and keeps its bigram set. */
static void sign_into(const char *s, size_t len, struct prep *p)
{
	minhash_sign_text(s, len, &p->sig);
	size_t n = text_tokens_array(s, len, MINHASH_SHINGLES, NULL, 0);
	p->set = xmalloc((n ? n : 1) * sizeof *p->set);
	text_tokens_array(s, len, MINHASH_SHINGLES, p->set, n);
	qsort(p->set, n, sizeof *p->set, u64_cmp);
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (!w || p->set[w - 1] != p->set[i])
			p->set[w++] = p->set[i];
	p->nset = w;
	p->shingles = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Exact Jaccard similarity of two sorted sets. */
static double jaccard(const struct prep *a, const struct prep *b)
{
	size_t i = 0, j = 0, both = 0;
	while (i < a->nset && j < b->nset) {
		if (a->set[i] == b->set[j])
			both++, i++, j++;
		else if (a->set[i] < b->set[j])
			i++;
		else
			j++;
	}
	size_t any = a->nset + b->nset - both;
	return any ? (double)both / (double)any : 0;
}

/* Normalizes one doc (title and description, for terms) and signs what it is clustered on. */
static enum cd_err prep_doc(const struct text_norm *tn, const struct insights_doc *d, struct prep *p)
{
	size_t tl = d->title ? strlen(d->title) : 0, dl = d->description ? strlen(d->description) : 0;
	if (tl + dl + 2 > TEXT_MAX_INPUT)
		dl = TEXT_MAX_INPUT - tl - 2;
	char *raw = xmalloc(tl + dl + 2);
	memcpy(raw, d->title ? d->title : "", tl);
	raw[tl] = '\n';
	memcpy(raw + tl + 1, d->description ? d->description : "", dl);
	raw[tl + 1 + dl] = '\0';
	enum cd_err rc = norm_new(tn, raw, tl + 1 + dl, &p->norm, &p->len);
	xfree(raw);
	if (rc)
		return rc;
	char *title = NULL;
	size_t nl = 0, n = 0;
	if (tl && !(rc = norm_new(tn, d->title, tl, &title, &nl)))
		n = text_tokens(title, nl, MINHASH_SHINGLES, NULL, NULL);
	if (n >= TITLE_MIN_SHINGLES) {
		sign_into(title, nl, p);
	} else {
		char *desc = NULL;
		size_t dn = 0;
		if (!(rc = norm_new(tn, d->description ? d->description : "", dl, &desc, &dn))) {
			if (dn > CLUSTER_LEAD) {
				dn = CLUSTER_LEAD;
				while (dn > 0 && ((unsigned char)desc[dn] & 0xC0) == 0x80)
					dn--;
			}
			sign_into(desc, dn, p);
		}
		xfree(desc);
	}
	xfree(title);
	return rc;
}

/* ---- union-find ---- */

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
	while (parent[x] != x) {
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

static void uf_union(uint32_t *parent, uint32_t a, uint32_t b)
{
	a = uf_find(parent, a);
	b = uf_find(parent, b);
	if (a != b)
		parent[a < b ? b : a] = a < b ? a : b; /* the older doc stays root: stable results */
}

/* Whether two categories may share a cluster: equal top levels (first three bytes) or either
 * unknown. */
static int categories_agree(const char *a, const char *b)
{
	if (!a || !b || !a[0] || !b[0])
		return 1;
	return strncmp(a, b, 3) == 0;
}

/* ---- labels ---- */

struct label_ctx {
	struct term_map *m;
	uint32_t doc; /* current doc + 1 */
	int keep_strings;
};

/* Counts each term once per doc in counter a (and its bytes when asked). */
static void count_term(void *ctx, uint64_t hash, const char *s, size_t n, int order)
{
	(void)order;
	struct label_ctx *c = ctx;
	struct term_slot *t = map_get(c->m, hash);
	if (t->last == c->doc)
		return;
	t->last = c->doc;
	t->a++;
	if (c->keep_strings)
		map_keep_str(c->m, t, s, n);
}

/* Counts, in counter b of `wanted`, the docs holding each term already in it. */
static void count_wanted(void *ctx, uint64_t hash, const char *s, size_t n, int order)
{
	(void)s, (void)n, (void)order;
	struct label_ctx *c = ctx;
	struct term_slot *t = map_find(c->m, hash);
	if (!t || t->last == c->doc)
		return;
	t->last = c->doc;
	t->b++;
}

/* A term worth showing: not a single ASCII character or digits only, no punctuation. */
static int showable(const char *s)
{
	size_t n = strlen(s), digits = 0;
	for (size_t i = 0; i < n; i++)
		digits += s[i] >= '0' && s[i] <= '9';
	return n >= 2 && digits < n;
}

/* Whether one of a, b holds the other. */
static int overlaps(const char *a, const char *b)
{
	return strstr(a, b) || strstr(b, a);
}

/* Joins b to phrase a when they overlap by at least one whole character (a's end is b's start,
 * or b's end is a's start): "力之城" + "城小区" = "力之城小区". Returns 1 when joined (or when a
 * would grow past INSIGHTS_TERM_MAX: b is then dropped as part of it), 0 when they do not meet. */
static int merge_phrase(char a[INSIGHTS_TERM_MAX], const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	for (int dir = 0; dir < 2; dir++) {
		const char *x = dir ? b : a, *y = dir ? a : b; /* x's end meets y's start */
		size_t lx = dir ? lb : la, ly = dir ? la : lb;
		for (size_t k = (lx < ly ? lx : ly) - 1; k > 0; k--) {
			if (((unsigned char)x[lx - k] & 0xC0) == 0x80 || memcmp(x + lx - k, y, k) != 0)
				continue;
			if (lx + ly - k >= INSIGHTS_TERM_MAX)
				return 1;
			char joined[INSIGHTS_TERM_MAX];
			memcpy(joined, x, lx);
			memcpy(joined + lx, y + k, ly - k + 1);
			memcpy(a, joined, lx + ly - k + 1);
			return 1;
		}
	}
	return 0;
}

struct ranked {
	const struct term_slot *t;
	double score;
};

static int ranked_cmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;
	if (a->score != b->score)
		return a->score < b->score ? 1 : -1;
	return a->t->key < b->t->key ? -1 : a->t->key > b->t->key;
}

/* ---- clusters ---- */

struct group {
	uint32_t root;
	size_t count; /* in [from, to) */
	size_t previous;
};

static int group_cmp(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return a->root < b->root ? -1 : a->root > b->root;
}

static int count_cmp(const void *x, const void *y)
{
	const struct insights_count *a = x, *b = y;
	if (a->n != b->n)
		return a->n < b->n ? 1 : -1;
	return strcmp(a->code, b->code);
}

/* Adds code to a small tally (linear: clusters list few places). */
static void tally(struct insights_count **t, size_t *n, size_t *cap, const char *code)
{
	if (!code || !code[0])
		return;
	for (size_t i = 0; i < *n; i++)
		if (strncmp((*t)[i].code, code, INSIGHTS_CODE_MAX - 1) == 0) {
			(*t)[i].n++;
			return;
		}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*t = xrealloc(*t, *cap * sizeof **t);
	}
	snprintf((*t)[*n].code, INSIGHTS_CODE_MAX, "%s", code);
	(*t)[(*n)++].n = 1;
}

static int int64_t_cmp_desc(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* Fills the label of cluster `cl` from its members' terms against global frequencies. */
static void label_cluster(struct insights_cluster *cl, struct term_map *cm, const struct term_map *global,
			  size_t ndocs)
{
	size_t nr = 0;
	struct ranked *r = xmalloc((cm->used + 1) * sizeof *r);
	for (size_t i = 0; i < cm->cap; i++) {
		const struct term_slot *t = &cm->s[i];
		if (!t->key || t->a < 2 || !showable(map_str(cm, t)))
			continue;
		const struct term_slot *g = map_find(global, t->key);
		double df = g ? g->b : t->a;
		double idf = log((double)(ndocs + 1) / (df + 1)) + 1;
		double tf = (double)t->a / (double)cl->count;
		r[nr].t = t;
		r[nr++].score = tf * idf * (strlen(map_str(cm, t)) > 6 ? 1.15 : 1.0);
	}
	qsort(r, nr, sizeof *r, ranked_cmp);
	cl->n_terms = 0;
	cl->label[0] = '\0';
	double best[INSIGHTS_LABEL_TERMS] = {0};
	for (size_t i = 0; i < nr && i < LABEL_CONSIDER; i++) {
		const char *s = map_str(cm, r[i].t);
		int used = 0;
		for (size_t k = 0; k < cl->n_terms && !used; k++) {
			if (strstr(cl->terms[k], s))
				used = 1;
			else if (r[i].score >= 0.5 * best[k])
				used = merge_phrase(cl->terms[k], s);
		}
		if (!used && cl->n_terms < INSIGHTS_LABEL_TERMS) {
			best[cl->n_terms] = r[i].score;
			snprintf(cl->terms[cl->n_terms++], INSIGHTS_TERM_MAX, "%s", s);
		}
	}
	/* a term a later merge swallowed goes */
	for (size_t k = 0; k < cl->n_terms; k++)
		for (size_t j = 0; j < cl->n_terms; j++)
			if (j != k && strstr(cl->terms[j], cl->terms[k])) {
				memmove(cl->terms[k], cl->terms[k + 1],
					(cl->n_terms - k - 1) * sizeof cl->terms[0]);
				cl->n_terms--;
				k--;
				break;
			}
	size_t o = 0;
	for (size_t k = 0; k < cl->n_terms; k++) {
		int w = snprintf(cl->label + o, sizeof cl->label - o, "%s%s", k ? "、" : "", cl->terms[k]);
		if (w < 0 || (size_t)w >= sizeof cl->label - o)
			break;
		o += (size_t)w;
	}
	xfree(r);
}

enum cd_err insights_cluster(const struct text_norm *tn, const struct insights_doc *docs, size_t n,
			     const struct insights_cluster_opts *o, struct insights_clusters *out)
{
	memset(out, 0, sizeof *out);
	if (o->to <= o->from)
		return CD_ERR_INVALID;
	if (n >= UINT32_MAX / LSH_BANDS)
		return CD_ERR_TOOBIG;
	enum cd_err rc = CD_OK;
	if (!tn) {
		struct text_norm *shared;
		if ((rc = text_norm_shared(&shared)))
			return rc;
		tn = shared;
	}
	int64_t prev_from = o->from - (o->to - o->from);
	struct prep *p = xcalloc(n ? n : 1, sizeof *p);
	uint32_t *parent = xmalloc((n ? n : 1) * sizeof *parent);
	uint32_t *size = xmalloc((n ? n : 1) * sizeof *size); /* members, valid at roots */
	uint32_t *bucket_start = NULL, *bucket_docs = NULL;
	struct group *groups = NULL;
	struct term_map global = {0};
	for (size_t i = 0; i < n; i++) {
		parent[i] = (uint32_t)i;
		size[i] = 1;
		const struct insights_doc *d = &docs[i];
		p[i].period = d->reported_at >= o->from && d->reported_at < o->to	? 1
			      : d->reported_at >= prev_from && d->reported_at < o->from ? 0
											: -1;
		if (p[i].period < 0)
			continue;
		out->docs += p[i].period == 1;
		if ((rc = prep_doc(tn, d, &p[i])))
			goto out;
	}

	/* LSH: bucket every doc by each band's two bytes (counting sort), then compare each doc
	 * with the last LSH_WINDOW earlier docs of its buckets. */
	const size_t nbuckets = (size_t)LSH_BANDS << 16;
	bucket_start = xcalloc(nbuckets + 1, sizeof *bucket_start);
	for (size_t i = 0; i < n; i++)
		if (p[i].period >= 0 && p[i].shingles >= MIN_SHINGLES)
			for (unsigned b = 0; b < LSH_BANDS; b++)
				bucket_start[((size_t)b << 16 | p[i].sig.v[2 * b] |
					      (size_t)p[i].sig.v[2 * b + 1] << 8) +
					     1]++;
	for (size_t k = 0; k < nbuckets; k++)
		bucket_start[k + 1] += bucket_start[k];
	bucket_docs = xmalloc((bucket_start[nbuckets] + 1) * sizeof *bucket_docs);
	{
		uint32_t *fill = xmalloc(nbuckets * sizeof *fill);
		memcpy(fill, bucket_start, nbuckets * sizeof *fill);
		for (size_t i = 0; i < n; i++)
			if (p[i].period >= 0 && p[i].shingles >= MIN_SHINGLES)
				for (unsigned b = 0; b < LSH_BANDS; b++)
					bucket_docs[fill[(size_t)b << 16 | p[i].sig.v[2 * b] |
							 (size_t)p[i].sig.v[2 * b + 1] << 8]++] = (uint32_t)i;
		xfree(fill);
	}
	for (size_t k = 0; k < nbuckets; k++) {
		uint32_t lo = bucket_start[k], hi = bucket_start[k + 1];
		for (uint32_t x = lo + 1; x < hi; x++) {
			uint32_t i = bucket_docs[x];
			uint32_t from = x - lo > LSH_WINDOW ? x - LSH_WINDOW : lo;
			for (uint32_t y = from; y < x; y++) {
				uint32_t j = bucket_docs[y];
				uint32_t ri = uf_find(parent, i), rj = uf_find(parent, j);
				if (ri == rj)
					continue;
				if (o->same_category && !categories_agree(docs[i].category, docs[j].category))
					continue;
				/* the estimate screens, the exact Jaccard decides: MinHash's noise (0.05 at
				 * 0.2) would let unrelated short titles chain whole clusters together */
				if (minhash_similarity(&p[i].sig, &p[j].sig) < o->threshold - 0.15 ||
				    jaccard(&p[i], &p[j]) < o->threshold)
					continue;
				/* two grown clusters merge only when their first cases are related too */
				if (size[ri] > 1 && size[rj] > 1 &&
				    jaccard(&p[ri], &p[rj]) < o->threshold / 2)
					continue;
				uf_union(parent, i, j);
				uint32_t r = uf_find(parent, i);
				size[r] = size[ri] + size[rj];
			}
		}
	}

	/* Groups: counts per root, the big ones first. */
	size_t ng = 0;
	{
		uint32_t *slot = xmalloc((n ? n : 1) * sizeof *slot);
		groups = xmalloc((n ? n : 1) * sizeof *groups);
		for (size_t i = 0; i < n; i++) {
			if (p[i].period < 0)
				continue;
			uint32_t r = uf_find(parent, (uint32_t)i);
			if (r == i) {
				slot[i] = (uint32_t)ng;
				groups[ng++] = (struct group){r, 0, 0};
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (p[i].period < 0)
				continue;
			struct group *g = &groups[slot[uf_find(parent, (uint32_t)i)]];
			if (p[i].period)
				g->count++;
			else
				g->previous++;
		}
		xfree(slot);
	}
	qsort(groups, ng, sizeof *groups, group_cmp);
	size_t keep = 0;
	size_t min_size = o->min_size ? o->min_size : 2;
	while (keep < ng && keep < o->max_clusters && groups[keep].count >= min_size)
		keep++;
	out->items = xcalloc(keep ? keep : 1, sizeof *out->items);
	out->n = keep;

	/* Members, places, categories; per-cluster term counts for the labels. */
	struct term_map *cmaps = xcalloc(keep ? keep : 1, sizeof *cmaps);
	map_init(&global, 1024);
	for (size_t g = 0; g < keep; g++) {
		struct insights_cluster *cl = &out->items[g];
		struct insights_count *streets = NULL, *comms = NULL, *cats = NULL;
		size_t ns = 0, nc = 0, nk = 0, cs = 0, cc = 0, ck = 0;
		cl->count = groups[g].count;
		cl->previous = groups[g].previous;
		cl->members = xmalloc(cl->count * sizeof *cl->members);
		map_init(&cmaps[g], 256);
		struct label_ctx lc = {&cmaps[g], 0, 1};
		for (size_t i = 0; i < n; i++) {
			if (p[i].period != 1 || uf_find(parent, (uint32_t)i) != groups[g].root)
				continue;
			const struct insights_doc *d = &docs[i];
			cl->members[cl->n_members++] = d->id;
			if (!cl->first_seen || d->reported_at < cl->first_seen)
				cl->first_seen = d->reported_at;
			if (d->reported_at > cl->last_seen)
				cl->last_seen = d->reported_at;
			tally(&streets, &ns, &cs, d->street);
			tally(&comms, &nc, &cc, d->community);
			tally(&cats, &nk, &ck, d->category);
			lc.doc = (uint32_t)i + 1;
			text_tokens(p[i].norm, p[i].len, TERM_KINDS, count_term, &lc);
		}
		qsort(cl->members, cl->n_members, sizeof *cl->members, int64_t_cmp_desc);
		if (ns)
			qsort(streets, ns, sizeof *streets, count_cmp);
		if (nc)
			qsort(comms, nc, sizeof *comms, count_cmp);
		if (nk)
			qsort(cats, nk, sizeof *cats, count_cmp);
		cl->n_streets = ns < INSIGHTS_PLACES ? ns : INSIGHTS_PLACES;
		cl->n_communities = nc < INSIGHTS_PLACES ? nc : INSIGHTS_PLACES;
		if (cl->n_streets)
			memcpy(cl->streets, streets, cl->n_streets * sizeof *streets);
		if (cl->n_communities)
			memcpy(cl->communities, comms, cl->n_communities * sizeof *comms);
		cl->n_places = nc ? nc : ns;
		if (nk)
			cl->category = cats[0];
		xfree(streets);
		xfree(comms);
		xfree(cats);
		/* the candidate terms: the most frequent in the cluster */
		size_t nr = 0;
		struct ranked *r = xmalloc((cmaps[g].used + 1) * sizeof *r);
		for (size_t s = 0; s < cmaps[g].cap; s++)
			if (cmaps[g].s[s].key)
				r[nr++] = (struct ranked){&cmaps[g].s[s], cmaps[g].s[s].a};
		qsort(r, nr, sizeof *r, ranked_cmp);
		for (size_t k = 0; k < nr && k < LABEL_CANDIDATES; k++)
			map_get(&global, r[k].t->key);
		xfree(r);
	}
	/* Document frequencies of the candidate terms over every doc considered. */
	{
		struct label_ctx lc = {&global, 0, 0};
		size_t considered = 0;
		for (size_t i = 0; i < n && keep; i++) {
			if (p[i].period < 0)
				continue;
			considered++;
			lc.doc = (uint32_t)i + 1;
			text_tokens(p[i].norm, p[i].len, TERM_KINDS, count_wanted, &lc);
		}
		for (size_t g = 0; g < keep; g++) {
			label_cluster(&out->items[g], &cmaps[g], &global, considered);
			map_release(&cmaps[g]);
		}
	}
	xfree(cmaps);
out:
	if (rc)
		insights_clusters_release(out);
	map_release(&global);
	for (size_t i = 0; i < n; i++) {
		xfree(p[i].norm);
		xfree(p[i].set);
	}
	xfree(p);
	xfree(parent);
	xfree(size);
	xfree(bucket_start);
	xfree(bucket_docs);
	xfree(groups);
	return rc;
}

void insights_clusters_release(struct insights_clusters *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		xfree(c->items[i].members);
	xfree(c->items);
	memset(c, 0, sizeof *c);
}

/* ---- hot spots ---- */

struct spot_row {
	const char *code;
	const char *cat;
	int current; /* 1 in [from, to), 0 before */
};

static int spot_row_cmp(const void *x, const void *y)
{
	const struct spot_row *a = x, *b = y;
	int c = strcmp(a->code, b->code);
	return c ? c : strcmp(a->cat, b->cat);
}

static int hotspot_cmp(const void *x, const void *y)
{
	const struct insights_hotspot *a = x, *b = y;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	if (a->growth != b->growth)
		return a->growth < b->growth ? 1 : -1;
	return strcmp(a->code, b->code);
}

enum cd_err insights_hotspots(const struct insights_doc *docs, size_t n, int64_t from, int64_t to,
			      enum insights_level level, struct insights_hotspot *out, size_t cap,
			      size_t *written)
{
	*written = 0;
	if (to <= from)
		return CD_ERR_INVALID;
	int64_t prev_from = from - (to - from);
	struct spot_row *rows = xmalloc((n ? n : 1) * sizeof *rows);
	size_t nr = 0;
	for (size_t i = 0; i < n; i++) {
		const struct insights_doc *d = &docs[i];
		const char *code = level == INSIGHTS_GRID	 ? d->grid
				   : level == INSIGHTS_COMMUNITY ? d->community
								 : d->street;
		if (!code || !code[0] || d->reported_at < prev_from || d->reported_at >= to)
			continue;
		rows[nr++] = (struct spot_row){code, d->category ? d->category : "", d->reported_at >= from};
	}
	qsort(rows, nr, sizeof *rows, spot_row_cmp);
	size_t nspots = 0, spots_cap = 16;
	struct insights_hotspot *spots = xmalloc(spots_cap * sizeof *spots);
	for (size_t i = 0; i < nr;) {
		size_t j = i;
		if (nspots == spots_cap) {
			spots_cap *= 2;
			spots = xrealloc(spots, spots_cap * sizeof *spots);
		}
		struct insights_hotspot *h = &spots[nspots++];
		memset(h, 0, sizeof *h);
		snprintf(h->code, sizeof h->code, "%s", rows[i].code);
		while (j < nr && strcmp(rows[j].code, rows[i].code) == 0) {
			/* one category run */
			size_t k = j, cur = 0;
			while (k < nr && strcmp(rows[k].code, rows[i].code) == 0 &&
			       strcmp(rows[k].cat, rows[j].cat) == 0) {
				cur += (size_t)rows[k].current;
				h->previous += (size_t)!rows[k].current;
				k++;
			}
			h->count += cur;
			if (cur && rows[j].cat[0]) {
				struct insights_count c;
				snprintf(c.code, sizeof c.code, "%s", rows[j].cat);
				c.n = cur;
				/* keep the INSIGHTS_MIX largest, sorted */
				size_t pos = h->n_mix < INSIGHTS_MIX ? h->n_mix++ : INSIGHTS_MIX;
				if (pos == INSIGHTS_MIX && h->mix[INSIGHTS_MIX - 1].n < c.n)
					pos = INSIGHTS_MIX - 1;
				if (pos < INSIGHTS_MIX) {
					h->mix[pos] = c;
					while (pos > 0 && count_cmp(&h->mix[pos - 1], &h->mix[pos]) > 0) {
						struct insights_count tmp = h->mix[pos - 1];
						h->mix[pos - 1] = h->mix[pos];
						h->mix[pos] = tmp;
						pos--;
					}
				}
			}
			j = k;
		}
		h->growth =
		    ((double)h->count - (double)h->previous) / (h->previous ? (double)h->previous : 1.0);
		if (!h->count)
			nspots--; /* quiet now: not a hot spot */
		i = j;
	}
	qsort(spots, nspots, sizeof *spots, hotspot_cmp);
	*written = nspots < cap ? nspots : cap;
	if (*written)
		memcpy(out, spots, *written * sizeof *out);
	xfree(spots);
	xfree(rows);
	return CD_OK;
}

/* ---- rising terms ---- */

struct term_ctx {
	struct term_map *m;
	uint32_t doc;
	int current;
};

/* Counts each term once per doc: a = this week, b = the four before; keeps this week's bytes. */
static void count_rising(void *ctx, uint64_t hash, const char *s, size_t n, int order)
{
	(void)order;
	struct term_ctx *c = ctx;
	struct term_slot *t = map_get(c->m, hash);
	if (t->last == c->doc)
		return;
	t->last = c->doc;
	if (c->current) {
		t->a++;
		map_keep_str(c->m, t, s, n);
	} else {
		t->b++;
	}
}

enum cd_err insights_terms(const struct text_norm *tn, const struct insights_doc *docs, size_t n, int64_t now,
			   size_t min_count, struct insights_term *out, size_t cap, size_t *written)
{
	*written = 0;
	enum cd_err rc = CD_OK;
	if (!tn) {
		struct text_norm *shared;
		if ((rc = text_norm_shared(&shared)))
			return rc;
		tn = shared;
	}
	const int64_t week = 7 * 86400;
	struct term_map m;
	map_init(&m, 4096);
	for (size_t i = 0; i < n; i++) {
		const struct insights_doc *d = &docs[i];
		if (d->reported_at >= now || d->reported_at < now - 5 * week)
			continue;
		struct prep p = {0};
		if ((rc = prep_doc(tn, d, &p))) {
			xfree(p.norm);
			xfree(p.set);
			goto out;
		}
		struct term_ctx c = {&m, (uint32_t)i + 1, d->reported_at >= now - week};
		text_tokens(p.norm, p.len, TERM_KINDS, count_rising, &c);
		xfree(p.norm);
		xfree(p.set);
	}
	struct ranked *r = xmalloc((m.used + 1) * sizeof *r);
	size_t nr = 0;
	for (size_t s = 0; s < m.cap; s++) {
		const struct term_slot *t = &m.s[s];
		if (!t->key || t->a < (min_count ? min_count : 1) || !showable(map_str(&m, t)))
			continue;
		double ratio = (t->a + 1.0) / (t->b / 4.0 + 1.0);
		if (ratio <= 1.0)
			continue;
		r[nr].t = t;
		r[nr++].score = ratio + t->a * 1e-6;
	}
	qsort(r, nr, sizeof *r, ranked_cmp);
	for (size_t k = 0; k < nr && *written < cap; k++) {
		const char *s = map_str(&m, r[k].t);
		int dup = 0;
		/* n-grams of one rising phrase (as often in the same cases) join it: "电梯" + "梯坏了" */
		for (size_t j = 0; j < *written && !dup; j++)
			dup = strstr(out[j].term, s) ||
			      (out[j].count == r[k].t->a && merge_phrase(out[j].term, s)) ||
			      overlaps(out[j].term, s);
		if (dup)
			continue;
		struct insights_term *o = &out[(*written)++];
		snprintf(o->term, sizeof o->term, "%s", s);
		o->count = r[k].t->a;
		o->weekly_before = r[k].t->b / 4.0;
		o->ratio = (o->count + 1.0) / (o->weekly_before + 1.0);
	}
	xfree(r);
out:
	map_release(&m);
	return rc;
}
