/* The statistical classifier: features, training set, training and prediction (CV is in
 * classify_eval.c, the model file in classify_file.c); see docs/internals/classify.md.
 * A text becomes a sparse vector: hashed character n-grams (1..ngram_max) within runs of
 * letters, plus one feature per taxonomy name found verbatim, counted, damped (1 + ln count)
 * and scaled to unit length. A softmax layer over 2^hash_bits buckets × labels scores it. */
#include "core/classify.h"
#include "core/classify_int.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "util/alloc.h"
#include "util/utf8.h"
#include "util/buf.h"
#include "util/csv.h"

#define NAME_MATCH_CAP 1024 /* name features per text; more matches are ignored */
#define NAME_MAX_CPS 64	    /* code points of a name we look for; longer names only teach */

/* ---- text to code points ---------------------------------------------------------------- */

/* The code point a feature sees: letters lower-cased, full-width forms folded, every digit
 * one symbol (numbers in messages are dates, phones and house numbers, not topics), and 0 for
 * whitespace, punctuation and symbols, which end a run. */
static uint32_t fold_cp(uint32_t cp)
{
	if (cp >= 0xff01 && cp <= 0xff5e)
		cp -= 0xfee0;
	if (cp < 0x80) {
		if (cp >= 'A' && cp <= 'Z')
			return cp + 32;
		if (cp >= 'a' && cp <= 'z')
			return cp;
		if (cp >= '0' && cp <= '9')
			return '0';
		return 0;
	}
	if (cp >= 0x2000 && cp <= 0x2bff) /* punctuation, symbols, arrows, boxes */
		return 0;
	if (cp >= 0x3000 && cp <= 0x303f) /* CJK punctuation */
		return 0;
	if (cp >= 0xfe10 && cp <= 0xfe6f) /* vertical and small forms */
		return 0;
	if (cp >= 0xff00 && cp <= 0xffef)
		return 0;
	if (cp == 0xa0 || cp == 0xb7 || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return cp;
}

/* Writes the folded code points of text (at most len + 1 of them) to cps, with 0 between
 * runs, and returns how many. */
static size_t text_cps(const char *text, size_t len, uint32_t *cps)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp = fold_cp(utf8_next_cp(s, len, &i));
		if (cp || (n && cps[n - 1]))
			cps[n++] = cp;
	}
	return n;
}

/* ---- hashing --------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb3fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint32_t bucket_of(uint64_t h, unsigned bits)
{
	return (uint32_t)(h >> (64 - bits));
}

#define NAME_SEED 0x6e616d65ULL /* "name": name features hash apart from n-grams */

static uint64_t hash_cps(uint64_t seed, const uint32_t *cps, size_t n)
{
	uint64_t h = mix64(seed * 0x9e3779b97f4a7c15ULL + n);
	for (size_t j = 0; j < n; j++)
		h = mix64(h ^ cps[j]);
	return h;
}

static enum cd_err normalized(const char *text, size_t len, char **out, size_t *out_len);

/* ---- the name index -------------------------------------------------------------------- */

static void name_index_release(struct name_index *x)
{
	xfree(x->cps);
	xfree(x->off);
	xfree(x->bucket);
	xfree(x->order);
	xfree(x->keys);
	xfree(x->start);
	xfree(x->count);
	memset(x, 0, sizeof *x);
}

static size_t name_slot(const struct name_index *x, uint32_t cp)
{
	size_t i = (size_t)mix64(cp) & (x->cap - 1);
	while (x->keys[i] && x->keys[i] != cp)
		i = (i + 1) & (x->cap - 1);
	return i;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Builds the index from names (NUL-terminated UTF-8). Names that fold to nothing, or to a
 * single run longer than NAME_MAX_CPS, are kept out. Sizes are the program's: aborting family. */
static void name_index_build(struct name_index *x, char *const *names, size_t n_names, unsigned hash_bits)
{
	memset(x, 0, sizeof *x);
	size_t total = 0;
	for (size_t i = 0; i < n_names; i++)
		total += strlen(names[i]) + 1;
	x->cps = xmalloc((total + 16 * n_names + 1) * sizeof *x->cps);
	x->off = xmalloc((n_names + 1) * sizeof *x->off);
	x->bucket = xmalloc((n_names + 1) * sizeof *x->bucket);
	size_t used = 0;
	x->off[0] = 0;
	for (size_t i = 0; i < n_names; i++) {
		char *norm = NULL;
		size_t nlen = 0, k = 0;
		if (normalized(names[i], strlen(names[i]), &norm, &nlen) == CD_OK) {
			if (nlen > strlen(names[i]) + 16)
				nlen = strlen(names[i]) + 16; /* room in cps was sized by the raw names */
			k = text_cps(norm, nlen, x->cps + used);
			xfree(norm);
		}
		while (k && x->cps[used + k - 1] == 0)
			k--;
		if (k == 0 || k > NAME_MAX_CPS)
			continue;
		x->bucket[x->n] = bucket_of(hash_cps(NAME_SEED, x->cps + used, k), hash_bits);
		used += k;
		x->off[++x->n] = used;
	}
	x->order = xmalloc((x->n + 1) * sizeof *x->order);
	/* Sort ids by first code point (then id) as packed keys: no shared sort context, so models
	 * may be loaded on several threads at once. */
	uint64_t *keyed = xmalloc((x->n + 1) * sizeof *keyed);
	for (size_t i = 0; i < x->n; i++)
		keyed[i] = (uint64_t)x->cps[x->off[i]] << 32 | i;
	qsort(keyed, x->n, sizeof *keyed, cmp_u64);
	for (size_t i = 0; i < x->n; i++)
		x->order[i] = (uint32_t)keyed[i];
	xfree(keyed);
	x->cap = 16;
	while (x->cap < 2 * x->n + 2)
		x->cap *= 2;
	x->keys = xcalloc(x->cap, sizeof *x->keys);
	x->start = xcalloc(x->cap, sizeof *x->start);
	x->count = xcalloc(x->cap, sizeof *x->count);
	for (size_t j = 0; j < x->n; j++) {
		uint32_t first = x->cps[x->off[x->order[j]]];
		size_t s = name_slot(x, first);
		if (!x->keys[s]) {
			x->keys[s] = first;
			x->start[s] = (uint32_t)j;
		}
		x->count[s]++;
	}
}

/* ---- features -------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Which CJK characters OpenCC's conversion changes when alone (bit set), over the unified
 * ideographs U+3400..U+9FFF: built once by converting each, so that texts without any of them
 * (nearly all Simplified input) skip OpenCC, which costs 20 times the rest of normalization. */
#define T2S_FIRST 0x3400u
#define T2S_LAST 0x9fffu
static uint64_t t2s_bits[(T2S_LAST - T2S_FIRST + 1 + 63) / 64];
static struct text_norm *t2s_tn; /* NULL when OpenCC could not be opened */
static pthread_once_t t2s_once = PTHREAD_ONCE_INIT;

static void t2s_build(void)
{
	if (text_norm_shared(&t2s_tn) != CD_OK) {
		t2s_tn = NULL;
		return;
	}
	for (uint32_t cp = T2S_FIRST; cp <= T2S_LAST; cp++) {
		char in[4] = {(char)(0xe0 | cp >> 12), (char)(0x80 | ((cp >> 6) & 0x3f)),
			      (char)(0x80 | (cp & 0x3f)), 0};
		char out[32];
		size_t n = 0;
		if (text_normalize(t2s_tn, in, 3, TEXT_SIMPLIFY, out, sizeof out, &n) != CD_OK || n != 3 ||
		    memcmp(in, out, 3) != 0)
			t2s_bits[(cp - T2S_FIRST) >> 6] |= 1ULL << ((cp - T2S_FIRST) & 63);
	}
}

/* True when s holds a character OpenCC may change: a marked ideograph, or one beyond the BMP. */
static bool may_be_traditional(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++) {
		if (u[i] < 0xe0)
			continue;
		if (u[i] >= 0xf0)
			return true;
		if (i + 2 >= n)
			return true;
		uint32_t cp =
		    (uint32_t)(u[i] & 0x0f) << 12 | (uint32_t)(u[i + 1] & 0x3f) << 6 | (u[i + 2] & 0x3f);
		if (cp >= T2S_FIRST && cp <= T2S_LAST &&
		    (t2s_bits[(cp - T2S_FIRST) >> 6] >> ((cp - T2S_FIRST) & 63) & 1))
			return true;
		i += 2;
	}
	return false;
}

/* Normalizes text for the model (text_normalize with TEXT_ALL; without TEXT_SIMPLIFY when
 * OpenCC cannot be opened) into a new buffer (xfree it). A result cut to fit is used as is. */
static enum cd_err normalized(const char *text, size_t len, char **out, size_t *out_len)
{
	pthread_once(&t2s_once, t2s_build);
	size_t cap = 2 * len + 64;
	char *norm = try_malloc(cap);
	if (!norm)
		return CD_ERR_NOMEM;
	enum cd_err rc = text_normalize(NULL, text, len, TEXT_FOLD | TEXT_PUNCT, norm, cap, out_len);
	if ((rc == CD_OK || rc == CD_ERR_TOOBIG) && t2s_tn && may_be_traditional(norm, *out_len))
		rc = text_normalize(t2s_tn, text, len, TEXT_ALL, norm, cap, out_len);
	if (rc && rc != CD_ERR_TOOBIG) {
		xfree(norm);
		return rc;
	}
	*out = norm;
	return CD_OK;
}

/* Sorts b[0 .. n), keeps each distinct bucket once in b[0 .. k) with val[i] =
 * weight * (1 + ln count), and returns k. */
static size_t count_runs(uint32_t *b, size_t n, double weight, float *val)
{
	qsort(b, n, sizeof *b, cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && b[j] == b[i])
			j++;
		b[k] = b[i];
		val[k++] = (float)(weight * (1.0 + log((double)(j - i))));
		i = j;
	}
	return k;
}

/* Featurizes text into v (arrays allocated here; fvec_release them): text_tokens' n-grams of
 * the normalized text, one bucket each, plus the names found. CD_ERR_NOMEM when the
 * input-sized scratch cannot be had. */
static enum cd_err featurize_part(unsigned hash_bits, unsigned ngram_max, const struct name_index *names,
				  double name_boost, uint64_t salt, const char *text, size_t len,
				  struct fvec *v)
{
	static const unsigned kinds[] = {0, TEXT_TOK_UNI, TEXT_TOK_UNI | TEXT_TOK_BI,
					 TEXT_TOK_UNI | TEXT_TOK_BI | TEXT_TOK_TRI};
	v->idx = NULL;
	v->val = NULL;
	v->n = 0;
	if (len > CLASSIFY_MAX_TEXT)
		len = CLASSIFY_MAX_TEXT;
	char *norm = NULL;
	size_t nlen = 0;
	enum cd_err rc = normalized(text, len, &norm, &nlen);
	if (rc)
		return rc;
	rc = CD_ERR_NOMEM;
	size_t hcap = 3 * nlen + 1;
	uint64_t *hashes = try_malloc(hcap * sizeof *hashes);
	uint32_t *cps = names && names->n ? try_malloc((nlen + 1) * sizeof *cps) : NULL;
	uint32_t *raw = try_malloc((hcap + NAME_MATCH_CAP) * sizeof *raw);
	float *val = NULL, *counts = NULL;
	uint32_t *idx = NULL;
	if (!hashes || !raw || (names && names->n && !cps))
		goto out;
	size_t nf = text_tokens_array(norm, nlen, kinds[ngram_max], hashes, hcap);
	if (nf > hcap)
		nf = hcap;
	for (size_t i = 0; i < nf; i++)
		raw[i] = bucket_of(hashes[i] ^ salt, hash_bits);
	size_t ntok = nf;
	if (cps) {
		size_t n = text_cps(norm, nlen, cps), name_hits = 0;
		for (size_t i = 0; i < n && name_hits < NAME_MATCH_CAP; i++) {
			if (!cps[i])
				continue;
			size_t s = name_slot(names, cps[i]);
			if (!names->keys[s])
				continue;
			for (uint32_t j = names->start[s]; j < names->start[s] + names->count[s]; j++) {
				uint32_t id = names->order[j];
				size_t k = names->off[id + 1] - names->off[id];
				if (i + k <= n && name_hits < NAME_MATCH_CAP &&
				    memcmp(cps + i, names->cps + names->off[id], k * sizeof *cps) == 0) {
					raw[nf++] =
					    salt ? bucket_of(mix64(names->bucket[id] ^ salt), hash_bits)
						 : names->bucket[id];
					name_hits++;
				}
			}
		}
	}
	/* Tokens are raw[0 .. ntok), names raw[ntok .. nf): counted apart, then merged. */
	counts = try_malloc((nf + 1) * sizeof *counts);
	val = try_malloc((nf + 1) * sizeof *val);
	idx = try_malloc((nf + 1) * sizeof *idx);
	if (!counts || !val || !idx)
		goto out;
	size_t k1 = count_runs(raw, ntok, 1.0, counts);
	size_t k2 = count_runs(raw + ntok, nf - ntok, name_boost, counts + ntok);
	size_t a = 0, b = 0, out_n = 0;
	const uint32_t *rb = raw + ntok;
	const float *va = counts, *vb = counts + ntok;
	while (a < k1 || b < k2) {
		if (b >= k2 || (a < k1 && raw[a] < rb[b])) {
			idx[out_n] = raw[a];
			val[out_n++] = va[a++];
		} else if (a >= k1 || rb[b] < raw[a]) {
			idx[out_n] = rb[b];
			val[out_n++] = vb[b++];
		} else {
			idx[out_n] = raw[a];
			val[out_n++] = va[a++] + vb[b++];
		}
	}
	double norm2 = 0;
	for (size_t i = 0; i < out_n; i++)
		norm2 += (double)val[i] * val[i];
	double scale = norm2 > 0 ? 1.0 / sqrt(norm2) : 0;
	for (size_t i = 0; i < out_n; i++)
		val[i] = (float)(val[i] * scale);
	v->idx = idx;
	v->val = val;
	v->n = out_n;
	idx = NULL;
	val = NULL;
	rc = CD_OK;
out:
	xfree(norm);
	xfree(hashes);
	xfree(cps);
	xfree(raw);
	xfree(idx);
	xfree(val);
	xfree(counts);
	return rc;
}

void classify__fvec_release(struct fvec *v)
{
	xfree(v->idx);
	xfree(v->val);
	v->idx = NULL;
	v->val = NULL;
	v->n = 0;
}

#define TITLE_SALT 0x7469746c65ULL /* "title": the first line's features hash apart */

/* The features of text: featurize_part of the whole, plus, when title_weight > 0, those of its
 * first line (the title, or the whole text when it is one line) in a space of their own,
 * scaled by title_weight; unit length. */
static enum cd_err featurize(unsigned hash_bits, unsigned ngram_max, const struct name_index *names,
			     double name_boost, double title_weight, const char *text, size_t len,
			     struct fvec *v)
{
	enum cd_err rc = featurize_part(hash_bits, ngram_max, names, name_boost, 0, text, len, v);
	if (rc || title_weight <= 0)
		return rc;
	const char *nl = memchr(text, '\n', len > CLASSIFY_MAX_TEXT ? CLASSIFY_MAX_TEXT : len);
	struct fvec t;
	rc = featurize_part(hash_bits, ngram_max, names, name_boost, TITLE_SALT, text,
			    nl ? (size_t)(nl - text) : len, &t);
	if (rc) {
		classify__fvec_release(v);
		return rc;
	}
	uint32_t *idx = try_malloc((v->n + t.n + 1) * sizeof *idx);
	float *val = try_malloc((v->n + t.n + 1) * sizeof *val);
	if (!idx || !val) {
		xfree(idx);
		xfree(val);
		classify__fvec_release(v);
		classify__fvec_release(&t);
		return CD_ERR_NOMEM;
	}
	size_t a = 0, b = 0, n = 0;
	double norm2 = 0;
	while (a < v->n || b < t.n) {
		if (b >= t.n || (a < v->n && v->idx[a] < t.idx[b])) {
			idx[n] = v->idx[a];
			val[n] = v->val[a++];
		} else if (a >= v->n || t.idx[b] < v->idx[a]) {
			idx[n] = t.idx[b];
			val[n] = (float)(title_weight * t.val[b++]);
		} else {
			idx[n] = v->idx[a];
			val[n] = (float)(v->val[a++] + title_weight * t.val[b++]);
		}
		norm2 += (double)val[n] * val[n];
		n++;
	}
	double scale = norm2 > 0 ? 1.0 / sqrt(norm2) : 0;
	for (size_t k = 0; k < n; k++)
		val[k] = (float)(val[k] * scale);
	classify__fvec_release(v);
	classify__fvec_release(&t);
	v->idx = idx;
	v->val = val;
	v->n = n;
	return CD_OK;
}

/* Scales each feature by its weight (idf) and brings the vector back to unit length. */
static void fvec_weight(struct fvec *v, const float *weight)
{
	double norm2 = 0;
	for (size_t i = 0; i < v->n; i++) {
		v->val[i] *= weight[v->idx[i]];
		norm2 += (double)v->val[i] * v->val[i];
	}
	double scale = norm2 > 0 ? 1.0 / sqrt(norm2) : 0;
	for (size_t i = 0; i < v->n; i++)
		v->val[i] = (float)(v->val[i] * scale);
}

/* ---- the training set ------------------------------------------------------------------ */

struct classify_set *classify_set_new(void)
{
	return xcalloc(1, sizeof(struct classify_set));
}

void classify_set_free(struct classify_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_ex; i++)
		xfree(s->ex[i].text);
	xfree(s->ex);
	for (size_t i = 0; i < s->n_tax; i++)
		xfree(s->tax_names[i]);
	xfree(s->tax_names);
	xfree(s);
}

size_t classify_set_count(const struct classify_set *s)
{
	return s->n_real;
}

size_t classify_set_label_count(const struct classify_set *s)
{
	return s->n_labels;
}

/* The i-th real example (pseudo-examples skipped), or NULL. */
static const struct example *real_example(const struct classify_set *s, size_t i)
{
	if (i >= s->n_real)
		return NULL;
	if (s->n_ex == s->n_real)
		return &s->ex[i];
	for (size_t j = 0; j < s->n_ex; j++)
		if (!s->ex[j].pseudo && i-- == 0)
			return &s->ex[j];
	return NULL;
}

const char *classify_set_label_of(const struct classify_set *s, size_t i)
{
	const struct example *e = real_example(s, i);
	return e ? s->names_l[e->label] : NULL;
}

const char *classify_set_text_of(const struct classify_set *s, size_t i, size_t *len)
{
	const struct example *e = real_example(s, i);
	if (len)
		*len = e ? e->len : 0;
	return e ? e->text : NULL;
}

static long set_label(const struct classify_set *s, const char *label)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->names_l[i], label) == 0)
			return (long)i;
	return -1;
}

enum cd_err classify__set_push(struct classify_set *s, const char *text, size_t len, uint32_t label,
			       float weight, int pseudo)
{
	if (s->n_ex >= CLASSIFY_MAX_EXAMPLES)
		return CD_ERR_TOOBIG;
	if (len > CLASSIFY_MAX_TEXT)
		len = CLASSIFY_MAX_TEXT;
	if (s->n_ex == s->cap_ex) {
		size_t cap = s->cap_ex ? s->cap_ex * 2 : 64;
		struct example *ex = try_realloc(s->ex, cap * sizeof *ex);
		if (!ex)
			return CD_ERR_NOMEM;
		s->ex = ex;
		s->cap_ex = cap;
	}
	char *copy = try_malloc(len + 1);
	if (!copy)
		return CD_ERR_NOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	struct example *e = &s->ex[s->n_ex++];
	e->text = copy;
	e->len = len;
	e->label = label;
	e->weight = weight;
	e->pseudo = pseudo;
	if (!pseudo)
		s->n_real++;
	return CD_OK;
}

enum cd_err classify_set_add(struct classify_set *s, const char *text, size_t len, const char *label,
			     const char *code)
{
	size_t ll = label ? strlen(label) : 0;
	if (ll == 0 || ll >= CLASSIFY_LABEL_MAX || (code && strlen(code) >= CATEGORY_CODE_MAX))
		return CD_ERR_INVALID;
	long li = set_label(s, label);
	if (li < 0) {
		if (s->n_labels >= CLASSIFY_MAX_LABELS)
			return CD_ERR_TOOBIG;
		li = (long)s->n_labels++;
		memcpy(s->names_l[li], label, ll + 1);
		s->codes_l[li][0] = '\0';
	}
	if (code && code[0] && !s->codes_l[li][0])
		snprintf(s->codes_l[li], sizeof s->codes_l[li], "%s", code);
	return classify__set_push(s, text, len, (uint32_t)li, 1.0f, 0);
}

enum cd_err classify_set_add_csv(struct classify_set *s, const char *text, size_t len, size_t *rows,
				 size_t *line)
{
	enum cd_err rc = CD_ERR_INVALID;
	size_t added = 0;
	struct csv_reader r;
	struct buf b;
	csv_init(&r, text, len);
	buf_init(&b, CLASSIFY_MAX_TEXT + 2);
	if (csv_next(&r))
		goto out;
	int c_title = csv_column(&r, "title"), c_detail = csv_column(&r, "detail");
	int c_text = csv_column(&r, "text"), c_label = csv_column(&r, "label_l1");
	if (c_label < 0)
		c_label = csv_column(&r, "label");
	if (c_label < 0 || (c_text < 0 && c_title < 0 && c_detail < 0))
		goto out;
	for (;;) {
		enum cd_err next = csv_next(&r);
		if (next == CD_ERR_NOTFOUND)
			break;
		int nf = (int)r.nfields;
		if (next || nf <= c_label || nf <= c_text || nf <= c_title || nf <= c_detail) {
			rc = next == CD_ERR_NOMEM ? CD_ERR_NOMEM : CD_ERR_INVALID;
			goto out;
		}
		buf_reset(&b);
		const int cols[3] = {c_title, c_detail, c_text};
		for (int k = 0; k < 3; k++) {
			if (cols[k] < 0 || !r.fields[cols[k]][0])
				continue;
			size_t fl = strlen(r.fields[cols[k]]);
			if (b.len + fl + 1 > CLASSIFY_MAX_TEXT)
				fl = CLASSIFY_MAX_TEXT > b.len + 1 ? CLASSIFY_MAX_TEXT - b.len - 1 : 0;
			if ((b.len && buf_putc(&b, '\n')) || buf_append(&b, r.fields[cols[k]], fl)) {
				rc = CD_ERR_NOMEM;
				goto out;
			}
		}
		rc = classify_set_add(s, b.data ? b.data : "", b.len, r.fields[c_label], NULL);
		if (rc)
			goto out;
		added++;
	}
	rc = CD_OK;
out:
	if (rc && line)
		*line = r.line ? r.line : 1;
	if (rows)
		*rows = added;
	csv_release(&r);
	buf_release(&b);
	return rc;
}

static const char *const stop_names[] = {"其他", "管理部件", "管理事项"};

static int stopped(const char *name)
{
	for (size_t i = 0; i < sizeof stop_names / sizeof stop_names[0]; i++)
		if (strcmp(name, stop_names[i]) == 0)
			return 1;
	return 0;
}

enum cd_err classify_set_add_taxonomy(struct classify_set *s, const struct category_tree *t, const char *root,
				      size_t *names)
{
	const struct category *r = category_get(t, root);
	size_t taken = 0;
	if (names)
		*names = 0;
	if (!r)
		return CD_ERR_NOTFOUND;
	for (size_t i = 0; i < category_count(t); i++) {
		const struct category *c = category_at(t, i);
		if (c->depth <= r->depth || !category_in_subtree(t, c->code, r->code))
			continue;
		const struct category *top = category_ancestor_at(c, r->depth + 1);
		long li = top ? set_label(s, top->name) : -1;
		if (li < 0)
			continue;
		if (c == top && !s->codes_l[li][0])
			snprintf(s->codes_l[li], sizeof s->codes_l[li], "%s", c->code);
		if (stopped(c->name))
			continue;
		/* The pseudo-example is the name with its parent's, as a dispatcher reads it. */
		char text[2 * CATEGORY_NAME_MAX + 2];
		if (c->parent && c->parent != r)
			snprintf(text, sizeof text, "%s %s", c->parent->name, c->name);
		else
			snprintf(text, sizeof text, "%s", c->name);
		enum cd_err rc = classify__set_push(s, text, strlen(text), (uint32_t)li, 1.0f, 1);
		if (rc)
			return rc;
		if (s->n_tax >= CLASSIFY_MAX_NAMES)
			return CD_ERR_TOOBIG;
		if (s->n_tax == s->cap_tax) {
			s->cap_tax = s->cap_tax ? s->cap_tax * 2 : 64;
			s->tax_names = xrealloc(s->tax_names, s->cap_tax * sizeof *s->tax_names);
		}
		s->tax_names[s->n_tax++] = xstrdup(c->name);
		taken++;
	}
	if (names)
		*names = taken;
	return CD_OK;
}

/* ---- the model ------------------------------------------------------------------------- */

void classify_params_default(struct classify_params *p)
{
	p->hash_bits = 20;
	p->ngram_max = 2;
	p->epochs = 50;
	p->lr = 2.0;
	p->name_weight = 3.0;
	p->name_features = 1;
	p->idf = 1;
	p->title_weight = 1.0;
	p->name_boost = 2.5;
	p->balance = 1.0;
	p->nb_weight = 2.0;
	p->seed = 20261127;
}

static int params_ok(const struct classify_params *p)
{
	return p->hash_bits >= 12 && p->hash_bits <= 24 && p->ngram_max >= 1 && p->ngram_max <= 3 &&
	       p->epochs >= 1 && p->epochs <= 1000 && p->lr > 0 && p->lr < 100 && p->name_weight >= 0 &&
	       p->title_weight >= 0 && p->title_weight <= 10 && p->name_boost > 0 && p->name_boost <= 10 &&
	       p->balance >= 0 && p->balance <= 1 && p->nb_weight >= 0 && p->nb_weight <= 100;
}

void classify_model_free(struct classify_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_names; i++)
		xfree(m->names[i]);
	xfree(m->names);
	name_index_release(&m->index);
	xfree(m->label_name);
	xfree(m->label_code);
	xfree(m->w);
	xfree(m->bias);
	xfree(m->idf);
	xfree(m);
}

/* A model with empty weights; w is input-sized (CD_ERR_NOMEM when it cannot be had). */
enum cd_err classify__model_alloc(unsigned hash_bits, unsigned ngram_max, size_t n_labels,
				  struct classify_model **out)
{
	struct classify_model *m = xcalloc(1, sizeof *m);
	m->hash_bits = hash_bits;
	m->ngram_max = ngram_max;
	m->temperature = 1.0;
	m->n_labels = n_labels;
	m->label_name = xcalloc(n_labels, sizeof *m->label_name);
	m->label_code = xcalloc(n_labels, sizeof *m->label_code);
	m->bias = xcalloc(n_labels, sizeof *m->bias);
	m->w = try_calloc((size_t)1 << hash_bits, n_labels * sizeof *m->w);
	if (!m->w) {
		classify_model_free(m);
		return CD_ERR_NOMEM;
	}
	*out = m;
	return CD_OK;
}

void classify__model_take_names(struct classify_model *m, char *const *names, size_t n)
{
	m->names = xcalloc(n + 1, sizeof *m->names);
	for (size_t i = 0; i < n; i++)
		m->names[i] = xstrdup(names[i]);
	m->n_names = n;
	if (m->name_features)
		name_index_build(&m->index, m->names, m->n_names, m->hash_bits);
}

void classify_model_set_temperature(struct classify_model *m, double temperature)
{
	if (temperature > 0 && isfinite(temperature))
		m->temperature = temperature;
}

double classify_model_temperature(const struct classify_model *m)
{
	return m->temperature;
}

size_t classify_model_label_count(const struct classify_model *m)
{
	return m->n_labels;
}

const char *classify_model_label_name(const struct classify_model *m, size_t i)
{
	return i < m->n_labels ? m->label_name[i] : NULL;
}

const char *classify_model_label_code(const struct classify_model *m, size_t i)
{
	return i < m->n_labels ? m->label_code[i] : NULL;
}

long classify_model_label_index(const struct classify_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_labels; i++)
		if (strcmp(m->label_name[i], name) == 0)
			return (long)i;
	return -1;
}

/* The model's view of text: features, weighted by the model's idf when it has one. */
enum cd_err classify__model_features(const struct classify_model *m, const char *text, size_t len,
				     struct fvec *v)
{
	enum cd_err rc = featurize(m->hash_bits, m->ngram_max, m->name_features ? &m->index : NULL,
				   m->name_boost, m->title_weight, text, len, v);
	if (!rc && m->idf)
		fvec_weight(v, m->idf);
	return rc;
}

/* Raw scores (before temperature) of a feature vector. */
void classify__model_scores(const struct classify_model *m, const struct fvec *v, double *scores)
{
	size_t c = m->n_labels;
	for (size_t k = 0; k < c; k++)
		scores[k] = m->bias[k];
	for (size_t j = 0; j < v->n; j++) {
		const float *row = m->w + (size_t)v->idx[j] * c;
		double x = v->val[j];
		for (size_t k = 0; k < c; k++)
			scores[k] += x * row[k];
	}
}

/* In place: scores / t → probabilities. */
void classify__softmax(double *s, size_t n, double t)
{
	double mx = -INFINITY, sum = 0;
	for (size_t k = 0; k < n; k++)
		if (s[k] / t > mx)
			mx = s[k] / t;
	for (size_t k = 0; k < n; k++) {
		s[k] = exp(s[k] / t - mx);
		sum += s[k];
	}
	for (size_t k = 0; k < n; k++)
		s[k] /= sum;
}

uint64_t classify__rng_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return mix64(*state);
}

#define NB_SMOOTH 0.1 /* additive smoothing of the naive Bayes feature mass */

/* Adds nb_weight times a complement naive Bayes model (Rennie et al. 2003) to m's weights:
 * for each bucket j seen in training and label k, -ln P(j | not k) from the feature mass
 * (the same weighted, unit-length vectors SGD saw, with the same example weights) of every
 * other label, centred over the labels. Naive Bayes is linear in the features, so the sum is
 * still one linear model: prediction costs nothing more and the model file is unchanged.
 * On a few hundred messages the two disagree usefully: NB trusts rare but telling n-grams
 * and names that SGD's few passes leave small. CD_ERR_NOMEM for the scratch counts. */
static enum cd_err add_complement_nb(struct classify_model *m, const struct classify_set *s,
				     const struct fvec *fv, const uint32_t *order, size_t n,
				     const double *label_weight, const struct classify_params *p)
{
	size_t rows = (size_t)1 << m->hash_bits, c = m->n_labels;
	float *mass = try_calloc(rows * c, sizeof *mass);
	unsigned char *seen = try_calloc(rows, 1);
	if (!mass || !seen) {
		xfree(mass);
		xfree(seen);
		return CD_ERR_NOMEM;
	}
	double per_label[CLASSIFY_MAX_LABELS] = {0}, all = 0;
	size_t n_seen = 0;
	for (size_t t = 0; t < n; t++) {
		const struct example *e = &s->ex[order[t]];
		const struct fvec *v = &fv[order[t]];
		double wgt = e->pseudo ? p->name_weight : e->weight * label_weight[e->label];
		for (size_t j = 0; j < v->n; j++) {
			double x = wgt * v->val[j];
			mass[(size_t)v->idx[j] * c + e->label] += (float)x;
			per_label[e->label] += x;
			all += x;
			n_seen += !seen[v->idx[j]];
			seen[v->idx[j]] = 1;
		}
	}
	double lt[CLASSIFY_MAX_LABELS];
	for (size_t r = 0; r < rows; r++) {
		if (!seen[r])
			continue; /* never seen: no evidence either way, and the row stays empty */
		const float *row = mass + r * c;
		double row_sum = 0, mean = 0;
		for (size_t k = 0; k < c; k++)
			row_sum += row[k];
		for (size_t k = 0; k < c; k++) {
			lt[k] = -log((row_sum - row[k] + NB_SMOOTH) / (all - per_label[k] + NB_SMOOTH * (double)n_seen));
			mean += lt[k];
		}
		mean /= (double)c; /* a per-bucket constant changes no ranking and no probability */
		float *w = m->w + r * c;
		for (size_t k = 0; k < c; k++)
			w[k] += (float)(p->nb_weight * (lt[k] - mean));
	}
	xfree(mass);
	xfree(seen);
	return CD_OK;
}

/* Trains on the examples of s for which use[i] is nonzero (NULL: all). */
enum cd_err classify__train_subset(const struct classify_set *s, const struct classify_params *p,
				   const unsigned char *use, struct classify_model **out)
{
	enum cd_err rc = CD_ERR_INVALID;
	struct classify_model *m = NULL;
	struct fvec *fv = NULL;
	uint32_t *order = NULL;
	double *prob = NULL;
	size_t n = 0;
	*out = NULL;
	if (!params_ok(p) || s->n_labels < 2)
		return CD_ERR_INVALID;
	rc = classify__model_alloc(p->hash_bits, p->ngram_max, s->n_labels, &m);
	if (rc)
		return rc;
	m->name_features = p->name_features;
	m->title_weight = p->title_weight;
	m->name_boost = p->name_boost;
	for (size_t i = 0; i < s->n_labels; i++) {
		memcpy(m->label_name[i], s->names_l[i], CLASSIFY_LABEL_MAX);
		memcpy(m->label_code[i], s->codes_l[i], CATEGORY_CODE_MAX);
	}
	classify__model_take_names(m, s->tax_names, p->name_weight > 0 || p->name_features ? s->n_tax : 0);
	fv = try_calloc(s->n_ex + 1, sizeof *fv);
	order = try_malloc((s->n_ex + 1) * sizeof *order);
	prob = xcalloc(m->n_labels, sizeof *prob);
	rc = CD_ERR_NOMEM;
	if (!fv || !order)
		goto out;
	for (size_t i = 0; i < s->n_ex; i++) {
		const struct example *e = &s->ex[i];
		if ((use && !use[i]) || (e->pseudo && p->name_weight <= 0))
			continue;
		rc = featurize(m->hash_bits, m->ngram_max, m->name_features ? &m->index : NULL, m->name_boost,
			       m->title_weight, e->text, e->len, &fv[i]);
		if (rc)
			goto out;
		order[n++] = (uint32_t)i;
	}
	if (p->idf) {
		/* Document frequencies over the training texts (pseudo-examples included). */
		size_t rows = (size_t)1 << m->hash_bits;
		uint32_t *df = try_calloc(rows, sizeof *df);
		m->idf = try_malloc(rows * sizeof *m->idf);
		if (!df || !m->idf) {
			xfree(df);
			rc = CD_ERR_NOMEM;
			goto out;
		}
		for (size_t t = 0; t < n; t++)
			for (size_t j = 0; j < fv[order[t]].n; j++)
				df[fv[order[t]].idx[j]]++;
		for (size_t r = 0; r < rows; r++)
			m->idf[r] = (float)(log((double)(n + 1) / (double)(df[r] + 1)) + 1.0);
		xfree(df);
		for (size_t t = 0; t < n; t++)
			fvec_weight(&fv[order[t]], m->idf);
	}
	/* Class balance: real examples of label k weigh (n / (labels * n_k))^balance, so a broad
	 * frequent class does not swallow the small ones. */
	double label_weight[CLASSIFY_MAX_LABELS];
	size_t per_label[CLASSIFY_MAX_LABELS] = {0}, n_real = 0;
	for (size_t t = 0; t < n; t++)
		if (!s->ex[order[t]].pseudo) {
			per_label[s->ex[order[t]].label]++;
			n_real++;
		}
	for (size_t k = 0; k < s->n_labels; k++)
		label_weight[k] =
		    per_label[k]
			? pow((double)n_real / ((double)s->n_labels * (double)per_label[k]), p->balance)
			: 1.0;
	uint64_t rng = p->seed;
	size_t total = (size_t)p->epochs * n, step = 0;
	size_t c = m->n_labels;
	for (unsigned ep = 0; ep < p->epochs; ep++) {
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)(classify__rng_next(&rng) % i);
			uint32_t tmp = order[i - 1];
			order[i - 1] = order[j];
			order[j] = tmp;
		}
		for (size_t t = 0; t < n; t++, step++) {
			const struct example *e = &s->ex[order[t]];
			const struct fvec *v = &fv[order[t]];
			double lr = p->lr * (1.0 - (double)step / (double)total);
			double wgt = e->pseudo ? p->name_weight : e->weight * label_weight[e->label];
			classify__model_scores(m, v, prob);
			classify__softmax(prob, c, 1.0);
			for (size_t k = 0; k < c; k++) {
				double g = lr * wgt * (prob[k] - (k == e->label ? 1.0 : 0.0));
				prob[k] = g;
				m->bias[k] -= (float)g;
			}
			for (size_t j = 0; j < v->n; j++) {
				float *row = m->w + (size_t)v->idx[j] * c;
				double x = v->val[j];
				for (size_t k = 0; k < c; k++)
					row[k] -= (float)(prob[k] * x);
			}
		}
	}
	if (p->nb_weight > 0) {
		rc = add_complement_nb(m, s, fv, order, n, label_weight, p);
		if (rc)
			goto out;
	}
	*out = m;
	m = NULL;
	rc = CD_OK;
out:
	if (fv)
		for (size_t i = 0; i < s->n_ex; i++)
			classify__fvec_release(&fv[i]);
	xfree(fv);
	xfree(order);
	xfree(prob);
	classify_model_free(m);
	return rc;
}

enum cd_err classify_train(const struct classify_set *s, const struct classify_params *p,
			   struct classify_model **out)
{
	return classify__train_subset(s, p, NULL, out);
}

/* Probabilities (temperature t) of every label for text; NULL scratch means allocate. */
static enum cd_err model_probs(const struct classify_model *m, const char *text, size_t len, double t,
			       double *probs)
{
	struct fvec v;
	enum cd_err rc = classify__model_features(m, text, len, &v);
	if (rc)
		return rc;
	classify__model_scores(m, &v, probs);
	classify__fvec_release(&v);
	classify__softmax(probs, m->n_labels, t);
	return CD_OK;
}

size_t classify_model_rank(const struct classify_model *m, const char *text, size_t len, size_t k,
			   size_t *labels, double *probs)
{
	double stack[64];
	double *p = m->n_labels <= 64 ? stack : try_malloc(m->n_labels * sizeof *p);
	if (!p || k == 0)
		goto fail;
	if (model_probs(m, text, len, m->temperature, p))
		goto fail;
	if (k > m->n_labels)
		k = m->n_labels;
	for (size_t r = 0; r < k; r++) {
		size_t best = 0;
		double bp = -1;
		for (size_t i = 0; i < m->n_labels; i++)
			if (p[i] > bp) {
				bp = p[i];
				best = i;
			}
		if (labels)
			labels[r] = best;
		if (probs)
			probs[r] = bp;
		p[best] = -2; /* taken */
	}
	if (p != stack)
		xfree(p);
	return k;
fail:
	if (p != stack)
		xfree(p);
	return 0;
}

size_t classify_model_top(const struct classify_model *m, const char *text, size_t len, size_t k,
			  struct classify_result *out)
{
	size_t lab[16];
	double pr[16];
	if (k > 16)
		k = 16;
	size_t n = classify_model_rank(m, text, len, k, lab, pr);
	for (size_t i = 0; i < n; i++) {
		const char *code = m->label_code[lab[i]][0] ? m->label_code[lab[i]] : m->label_name[lab[i]];
		snprintf(out[i].code, sizeof out[i].code, "%s", code);
		out[i].confidence = pr[i];
		out[i].source = CLASSIFY_SOURCE_MODEL;
	}
	return n;
}

size_t classify_model_classify(const void *model, const char *text, size_t len, size_t k,
			       struct classify_result *out)
{
	return classify_model_top(model, text, len, k, out);
}
