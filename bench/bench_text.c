/* The text module on the labelled citizen messages: normalize and tokenize throughput beside
 * OpenCC alone (the peer: the one step we cannot make faster), and how well MinHash and SimHash
 * separate edited copies of a message (Traditional, typos, truncation, reframing) from other
 * messages, and the same-issue groups of the hot-messages file. Prints figures only.
 * Build and run from the repo root:
 *   gcc -std=c11 -O2 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Isrc bench/bench_text.c src/core/text.c \
 *       src/core/minhash.c src/util/alloc.c -pthread -lm \
 *       $(pkg-config --cflags --libs opencc libutf8proc) -o build/bench_text
 *   build/bench_text [train.csv [hot.csv]]
 * (defaults: ../shared/data/complaints/taidi2020C_{train,hot_messages_with_votes}.csv) */
#include <math.h>
#include <opencc/opencc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/minhash.h"
#include "core/text.h"
#include "util/alloc.h"

#define TRAIN_CSV "../shared/data/complaints/taidi2020C_train.csv"
#define HOT_CSV "../shared/data/complaints/taidi2020C_hot_messages_with_votes.csv"
#define NORM_CAP (1u << 20)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- CSV (RFC 4180: quoted fields may hold commas, quotes and newlines) ---------------- */

struct row {
	char *f[8]; /* fields, NUL-terminated, owned */
	int n;      /* fields present */
};

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	char *d = xmalloc(cap);
	size_t got;
	while ((got = fread(d + n, 1, cap - n - 1, fp)) > 0) {
		n += got;
		if (n + 1 == cap)
			d = xrealloc(d, cap *= 2);
	}
	fclose(fp);
	d[n] = '\0';
	*len = n;
	return d;
}

static size_t csv_read(const char *path, struct row **rows_out)
{
	size_t len;
	char *d = slurp(path, &len);
	if (!d) {
		fprintf(stderr, "bench_text: cannot read %s\n", path);
		exit(1);
	}
	size_t i = 0, nrows = 0, cap = 64;
	struct row *rows = xcalloc(cap, sizeof *rows);
	if (len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len) {
		if (nrows == cap) {
			rows = xrealloc(rows, 2 * cap * sizeof *rows);
			memset(rows + cap, 0, cap * sizeof *rows);
			cap *= 2;
		}
		struct row *r = &rows[nrows++];
		for (;;) {
			char *field = xmalloc(len - i + 1);
			size_t o = 0;
			if (d[i] == '"') {
				i++;
				while (i < len) {
					if (d[i] == '"' && i + 1 < len && d[i + 1] == '"') {
						field[o++] = '"';
						i += 2;
					} else if (d[i] == '"') {
						i++;
						break;
					} else {
						field[o++] = d[i++];
					}
				}
			}
			while (i < len && d[i] != ',' && d[i] != '\n' && d[i] != '\r')
				field[o++] = d[i++];
			field[o] = '\0';
			if (r->n < 8)
				r->f[r->n++] = field;
			else
				xfree(field);
			if (i < len && d[i] == ',') {
				i++;
				continue;
			}
			while (i < len && (d[i] == '\r' || d[i] == '\n'))
				i++;
			break;
		}
	}
	xfree(d);
	*rows_out = rows;
	return nrows;
}

/* ---- throughput ----------------------------------------------------------------------- */

struct corpus {
	char **raw;      /* title + "。" + detail */
	size_t *raw_len;
	char **norm;     /* normalized with TEXT_ALL */
	size_t *norm_len;
	size_t n;
	size_t bytes;    /* sum of raw_len */
};

static void must(enum cd_err rc, const char *what)
{
	if (rc && rc != CD_ERR_TOOBIG) {
		fprintf(stderr, "bench_text: %s: %s\n", what, cd_err_name(rc));
		exit(1);
	}
}

static void bench_normalize(const struct corpus *c, struct text_norm *tn, unsigned flags,
			    const char *name)
{
	char *out = xmalloc(NORM_CAP);
	size_t texts = 0, bytes = 0;
	double t0 = now_s(), t;
	do {
		for (size_t i = 0; i < c->n; i++) {
			size_t ol;
			must(text_normalize(tn, c->raw[i], c->raw_len[i], flags, out, NORM_CAP, &ol),
			     "normalize");
			bytes += c->raw_len[i];
		}
		texts += c->n;
		t = now_s() - t0;
	} while (t < 1.0);
	printf("  normalize %-22s %8.1f MB/s %9.0f texts/s %7.1f us/text\n", name, bytes / t / 1e6,
	       texts / t, t / texts * 1e6);
	xfree(out);
}

static void bench_opencc_alone(const struct corpus *c)
{
	opencc_t cc = opencc_open("/usr/share/opencc/hk2s.json");
	size_t texts = 0, bytes = 0;
	double t0 = now_s(), t;
	do {
		for (size_t i = 0; i < c->n; i++) {
			char *s = opencc_convert_utf8(cc, c->raw[i], c->raw_len[i]);
			opencc_convert_utf8_free(s);
			bytes += c->raw_len[i];
		}
		texts += c->n;
		t = now_s() - t0;
	} while (t < 1.0);
	printf("  peer: OpenCC hk2s alone        %8.1f MB/s %9.0f texts/s %7.1f us/text\n",
	       bytes / t / 1e6, texts / t, t / texts * 1e6);
	opencc_close(cc);
}

struct thread_arg {
	const struct corpus *c;
	struct text_norm *tn;
	size_t texts;
	double secs;
};

static void *normalize_thread(void *p)
{
	struct thread_arg *a = p;
	char *out = xmalloc(NORM_CAP);
	double t0 = now_s();
	do {
		for (size_t i = 0; i < a->c->n; i++) {
			size_t ol;
			must(text_normalize(a->tn, a->c->raw[i], a->c->raw_len[i], TEXT_ALL, out,
					    NORM_CAP, &ol),
			     "normalize");
		}
		a->texts += a->c->n;
		a->secs = now_s() - t0;
	} while (a->secs < 1.0);
	xfree(out);
	return NULL;
}

static void bench_threads(const struct corpus *c, struct text_norm *tn)
{
	struct thread_arg a[2] = {{c, tn, 0, 0}, {c, tn, 0, 0}};
	pthread_t th[2];
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, normalize_thread, &a[k]);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	printf("  normalize all, 2 threads, one shared handle: %9.0f texts/s\n",
	       a[0].texts / a[0].secs + a[1].texts / a[1].secs);
}

static void bench_tokens(const struct corpus *c)
{
	uint64_t *arr = xmalloc(NORM_CAP * sizeof *arr);
	const unsigned kinds[] = {TEXT_TOK_UNI | TEXT_TOK_BI, MINHASH_SHINGLES};
	const char *names[] = {"uni+bi", "bi"};
	for (int k = 0; k < 2; k++) {
		size_t texts = 0, bytes = 0, toks = 0;
		double t0 = now_s(), t;
		do {
			for (size_t i = 0; i < c->n; i++) {
				toks += text_tokens_array(c->norm[i], c->norm_len[i], kinds[k], arr,
							  NORM_CAP);
				bytes += c->norm_len[i];
			}
			texts += c->n;
			t = now_s() - t0;
		} while (t < 0.5);
		printf("  tokens %-9s %8.1f MB/s %9.0f texts/s %6.0f tokens/text\n", names[k],
		       bytes / t / 1e6, texts / t, (double)toks / texts);
	}
	size_t sigs = 0;
	double t0 = now_s(), t;
	do {
		for (size_t i = 0; i < c->n; i++) {
			size_t n = text_tokens_array(c->norm[i], c->norm_len[i], MINHASH_SHINGLES, arr,
						     NORM_CAP);
			struct minhash_sig s;
			minhash_sign(arr, n, &s);
		}
		sigs += c->n;
		t = now_s() - t0;
	} while (t < 0.5);
	printf("  tokens + MinHash signature       %9.0f texts/s %7.1f us/text\n", sigs / t,
	       t / sigs * 1e6);
	sigs = 0;
	t0 = now_s();
	do {
		for (size_t i = 0; i < c->n; i++) {
			size_t n = text_tokens_array(c->norm[i], c->norm_len[i], MINHASH_SHINGLES, arr,
						     NORM_CAP);
			volatile uint64_t h = simhash_sign(arr, n);
			(void)h;
		}
		sigs += c->n;
		t = now_s() - t0;
	} while (t < 0.5);
	printf("  tokens + SimHash signature       %9.0f texts/s %7.1f us/text\n", sigs / t,
	       t / sigs * 1e6);
	xfree(arr);
}

/* ---- variants of a message ------------------------------------------------------------ */

/* Characters of s as byte offsets: starts[k] is where character k begins. */
static size_t char_starts(const char *s, size_t len, size_t *starts)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			starts[n++] = i;
	starts[n] = len;
	return n;
}

/* Typos: deletes about 10 % of the characters and replaces about 5 % with a character taken
 * from `donor`. */
static size_t edit_text(const char *s, size_t len, const char *donor, size_t dlen, char *out)
{
	size_t *st = xmalloc((len + 1) * sizeof *st), *ds = xmalloc((dlen + 1) * sizeof *ds);
	size_t n = char_starts(s, len, st), dn = char_starts(donor, dlen, ds), o = 0;
	for (size_t k = 0; k < n; k++) {
		uint64_t r = rng() % 100;
		if (r < 10)
			continue;
		if (r < 15 && dn) {
			size_t d = rng() % dn;
			memcpy(out + o, donor + ds[d], ds[d + 1] - ds[d]);
			o += ds[d + 1] - ds[d];
			continue;
		}
		memcpy(out + o, s + st[k], st[k + 1] - st[k]);
		o += st[k + 1] - st[k];
	}
	xfree(st);
	xfree(ds);
	return o;
}

/* The first 70 % of the characters. */
static size_t truncate_text(const char *s, size_t len, char *out)
{
	size_t *st = xmalloc((len + 1) * sizeof *st);
	size_t n = char_starts(s, len, st);
	size_t keep = st[n * 7 / 10];
	memcpy(out, s, keep);
	xfree(st);
	return keep;
}

/* A greeting, the sentences (split at 。，!?) in a shuffled order, a closing request. */
static size_t reframe_text(const char *s, size_t len, char *out)
{
	size_t cut[512], nc = 0;
	cut[nc++] = 0;
	for (size_t i = 0; i < len && nc < 511; i++) {
		if (s[i] == ',' || s[i] == '!' || s[i] == '?' || s[i] == ';')
			cut[nc++] = i + 1;
		else if (i + 3 <= len && memcmp(s + i, "。", 3) == 0)
			cut[nc++] = i + 3;
	}
	if (cut[nc - 1] != len)
		cut[nc++] = len;
	size_t order[512], ns = nc - 1;
	for (size_t k = 0; k < ns; k++)
		order[k] = k;
	for (size_t k = ns; k > 1; k--) {
		size_t j = rng() % k, tmp = order[k - 1];
		order[k - 1] = order[j], order[j] = tmp;
	}
	static const char head[] = "您好,我想反映一个问题:", tail[] = "希望有关部门尽快处理,谢谢!";
	size_t o = 0;
	memcpy(out, head, sizeof head - 1);
	o += sizeof head - 1;
	for (size_t k = 0; k < ns; k++) {
		memcpy(out + o, s + cut[order[k]], cut[order[k] + 1] - cut[order[k]]);
		o += cut[order[k] + 1] - cut[order[k]];
	}
	memcpy(out + o, tail, sizeof tail - 1);
	return o + sizeof tail - 1;
}

/* ---- evaluation ----------------------------------------------------------------------- */

enum { V_TRAD, V_EDIT, V_TRUNC, V_REFRAME, V_ALL, NVAR };
static const char *const var_names[NVAR] = {"Traditional", "typos", "first 70%", "reframed",
					     "all four"};

/* The shingle sets of one text, sorted and unique (for exact Jaccard). */
struct shingles {
	uint64_t *h;
	size_t n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct shingles shingle_text(const char *s, size_t len, unsigned kinds)
{
	size_t n = text_tokens_array(s, len, kinds, NULL, 0);
	struct shingles sh = {xmalloc((n + 1) * sizeof(uint64_t)), 0};
	text_tokens_array(s, len, kinds, sh.h, n);
	qsort(sh.h, n, sizeof *sh.h, cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (sh.n == 0 || sh.h[sh.n - 1] != sh.h[i])
			sh.h[sh.n++] = sh.h[i];
	return sh;
}

static double jaccard(const struct shingles *a, const struct shingles *b)
{
	size_t i = 0, j = 0, both = 0;
	while (i < a->n && j < b->n) {
		if (a->h[i] == b->h[j])
			both++, i++, j++;
		else if (a->h[i] < b->h[j])
			i++;
		else
			j++;
	}
	size_t uni = a->n + b->n - both;
	return uni ? (double)both / (double)uni : 1.0;
}

/* One text's three representations. */
struct rep {
	struct shingles sh;
	struct minhash_sig mh;
	uint64_t sim;
};

static struct rep represent(struct text_norm *tn, const char *raw, size_t len, unsigned kinds)
{
	static char buf[NORM_CAP];
	size_t nl;
	must(text_normalize(tn, raw, len, TEXT_ALL, buf, sizeof buf, &nl), "normalize");
	struct rep r;
	r.sh = shingle_text(buf, nl, kinds);
	minhash_sign(r.sh.h, r.sh.n, &r.mh);
	r.sim = simhash_sign(r.sh.h, r.sh.n);
	return r;
}

enum { M_JACCARD, M_MINHASH, M_SIMHASH, NMETH };
static const char *const meth_names[NMETH] = {"exact Jaccard", "MinHash 64x8 bit", "SimHash 64"};

static double score(int m, const struct rep *a, const struct rep *b)
{
	switch (m) {
	case M_JACCARD: return jaccard(&a->sh, &b->sh);
	case M_MINHASH: return minhash_similarity(&a->mh, &b->mh);
	default: return simhash_similarity(a->sim, b->sim);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Area under the ROC curve: the chance a positive scores above a negative (ties count half). */
static double auc(const double *pos, size_t np, const double *neg_sorted, size_t nn)
{
	double sum = 0;
	for (size_t i = 0; i < np; i++) {
		size_t lo = 0, hi = nn; /* negatives below pos[i] */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (neg_sorted[mid] < pos[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t below = lo, eq = 0;
		while (below + eq < nn && neg_sorted[below + eq] == pos[i])
			eq++;
		sum += (double)below + 0.5 * (double)eq;
	}
	return sum / ((double)np * (double)nn);
}

static void evaluate(const struct corpus *c, struct text_norm *tn, struct text_norm *to_trad,
		     unsigned kinds, const char *kname)
{
	size_t n = c->n;
	struct rep *orig = xcalloc(n, sizeof *orig);
	struct rep(*var)[NVAR] = xcalloc(n, sizeof *var);
	char *a = xmalloc(NORM_CAP), *b = xmalloc(NORM_CAP);
	rng_state = 0x9E3779B97F4A7C15ULL;
	for (size_t i = 0; i < n; i++) {
		orig[i] = represent(tn, c->raw[i], c->raw_len[i], kinds);
		size_t al, bl;
		const char *donor = c->norm[(i + 1) % n];
		size_t dlen = c->norm_len[(i + 1) % n];
		must(text_normalize(to_trad, c->raw[i], c->raw_len[i], TEXT_SIMPLIFY, a, NORM_CAP, &al),
		     "to Traditional");
		var[i][V_TRAD] = represent(tn, a, al, kinds);
		al = edit_text(c->norm[i], c->norm_len[i], donor, dlen, a);
		var[i][V_EDIT] = represent(tn, a, al, kinds);
		al = truncate_text(c->norm[i], c->norm_len[i], a);
		var[i][V_TRUNC] = represent(tn, a, al, kinds);
		al = reframe_text(c->norm[i], c->norm_len[i], a);
		var[i][V_REFRAME] = represent(tn, a, al, kinds);
		/* all four: reframe, truncate, typos, then Traditional */
		al = reframe_text(c->norm[i], c->norm_len[i], a);
		bl = truncate_text(a, al, b);
		al = edit_text(b, bl, donor, dlen, a);
		must(text_normalize(to_trad, a, al, TEXT_SIMPLIFY, b, NORM_CAP, &bl), "to Traditional");
		var[i][V_ALL] = represent(tn, b, bl, kinds);
	}
	size_t nneg = n * (n - 1) / 2;
	double *neg = xmalloc(nneg * sizeof *neg), *pos = xmalloc(n * NVAR * sizeof *pos);
	printf("\n  shingles %s; positives: each of %zu messages against its variant; negatives: all"
	       " %zu pairs of different messages\n", kname, n, nneg);
	printf("  %-17s %6s %6s %6s %5s |", "method", "AUC", "neg99.9", "negmax", ">=0.3");
	for (int v = 0; v < NVAR; v++)
		printf(" %11s", var_names[v]);
	printf("   (mean score / recall at neg99.9)\n");
	for (int m = 0; m < NMETH; m++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				neg[k++] = score(m, &orig[i], &orig[j]);
		qsort(neg, nneg, sizeof *neg, cmp_double);
		double thr = neg[(size_t)(nneg * 0.999)];
		size_t np = 0;
		double mean[NVAR], recall[NVAR];
		for (int v = 0; v < NVAR; v++) {
			double sum = 0;
			size_t hit = 0;
			for (size_t i = 0; i < n; i++) {
				double s = score(m, &orig[i], &var[i][v]);
				pos[np++] = s;
				sum += s;
				hit += s > thr;
			}
			mean[v] = sum / n;
			recall[v] = (double)hit / n;
		}
		size_t above = 0; /* different messages at 0.3 or more: the corpus's own repeats */
		for (size_t q = 0; q < nneg; q++)
			above += neg[q] >= 0.3;
		printf("  %-17s %6.4f %6.3f %6.3f %5zu |", meth_names[m], auc(pos, np, neg, nneg), thr,
		       neg[nneg - 1], above);
		for (int v = 0; v < NVAR; v++)
			printf("  %.2f/%.3f", mean[v], recall[v]);
		printf("\n");
	}
	for (size_t i = 0; i < n; i++) {
		xfree(orig[i].sh.h);
		for (int v = 0; v < NVAR; v++)
			xfree(var[i][v].sh.h);
	}
	xfree(orig);
	xfree(var);
	xfree(neg);
	xfree(pos);
	xfree(a);
	xfree(b);
}

/* The hot-messages file: 30 messages by different people, two groups about one problem each
 * (grouped by hand from their titles and details): the 魅力之城 shops (oil smoke and noise) and
 * the 经济学院 internships. Pairs inside a group are positives, all other pairs negatives. */
static const char *const hot_groups[][11] = {
	{"360103", "360107", "360108", "360100", "360101", "360106", "360105", "360104", "360109",
	 "360102", NULL},
	{"360114", "360110", "360112", "360113", "360111", NULL},
};

static int hot_group(const char *id)
{
	for (int g = 0; g < 2; g++)
		for (int k = 0; hot_groups[g][k]; k++)
			if (strcmp(hot_groups[g][k], id) == 0)
				return g;
	return -1;
}

static void evaluate_hot(const char *path, struct text_norm *tn, unsigned kinds, const char *kname)
{
	struct row *rows;
	size_t nr = csv_read(path, &rows);
	struct rep reps[64];
	int group[64];
	size_t n = 0;
	char *buf = xmalloc(NORM_CAP);
	for (size_t r = 1; r < nr && n < 64; r++) {
		if (rows[r].n < 5)
			continue;
		int w = snprintf(buf, NORM_CAP, "%s。%s", rows[r].f[2], rows[r].f[4]);
		reps[n] = represent(tn, buf, (size_t)w, kinds);
		group[n] = hot_group(rows[r].f[0]);
		n++;
	}
	printf("  hot messages (%zu, same-issue groups), shingles %-7s:", n, kname);
	for (int m = 0; m < NMETH; m++) {
		double pos[2048], neg[2048], ps = 0, ns = 0;
		size_t np = 0, nn = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				double s = score(m, &reps[i], &reps[j]);
				if (group[i] >= 0 && group[i] == group[j])
					pos[np++] = s, ps += s;
				else
					neg[nn++] = s, ns += s;
			}
		qsort(neg, nn, sizeof *neg, cmp_double);
		printf("  %s AUC %.3f (pos %.2f, neg %.2f)", m == M_JACCARD ? "Jaccard" :
			m == M_MINHASH ? "MinHash" : "SimHash", auc(pos, np, neg, nn), ps / np, ns / nn);
	}
	printf("\n");
	for (size_t i = 0; i < n; i++)
		xfree(reps[i].sh.h);
	for (size_t r = 0; r < nr; r++)
		for (int k = 0; k < rows[r].n; k++)
			xfree(rows[r].f[k]);
	xfree(rows);
	xfree(buf);
}

/* The LSH index at district scale: 1,000,000 stored signatures (random, plus the 403 real
 * messages), queried with a typo'd copy of each real message; query latency p50/p99, recall. */
static void bench_index(const struct corpus *c)
{
	enum { STORED = 1000000 };
	struct minhash_index *ix = minhash_index_new(STORED + c->n);
	struct minhash_sig s;
	double t0 = now_s();
	for (uint32_t id = 0; id < STORED; id++) {
		for (int k = 0; k < MINHASH_PERM; k += 8) {
			uint64_t r = rng();
			memcpy(s.v + k, &r, 8);
		}
		if (minhash_index_add(ix, id, &s))
			exit(1);
	}
	uint64_t *arr = xmalloc(NORM_CAP * sizeof *arr);
	char *edited = xmalloc(NORM_CAP);
	for (size_t i = 0; i < c->n; i++) {
		size_t n = text_tokens_array(c->norm[i], c->norm_len[i], MINHASH_SHINGLES, arr, NORM_CAP);
		minhash_sign(arr, n, &s);
		if (minhash_index_add(ix, (uint32_t)(STORED + i), &s))
			exit(1);
	}
	double build = now_s() - t0;
	double *lat = xmalloc(c->n * sizeof *lat);
	size_t found = 0, cands = 0;
	uint32_t ids[256];
	for (size_t i = 0; i < c->n; i++) {
		size_t el = edit_text(c->norm[i], c->norm_len[i], c->norm[(i + 1) % c->n],
				      c->norm_len[(i + 1) % c->n], edited);
		size_t n = text_tokens_array(edited, el, MINHASH_SHINGLES, arr, NORM_CAP);
		double q0 = now_s();
		minhash_sign(arr, n, &s);
		size_t got = minhash_index_query(ix, &s, ids, 256);
		lat[i] = now_s() - q0;
		cands += got;
		for (size_t k = 0; k < got; k++)
			found += ids[k] == STORED + i;
	}
	qsort(lat, c->n, sizeof *lat, cmp_double);
	printf("\nLSH index: %d random + %zu real signatures added in %.2f s (~%.0f MB of tables);\n"
	       "  sign + query a typo'd copy: p50 %.1f us, p99 %.1f us; found its original %zu/%zu,"
	       " %.2f candidates per query\n",
	       STORED, c->n, build, 16.0 * 8 * 2097152 / 1e6, lat[c->n / 2] * 1e6,
	       lat[c->n * 99 / 100] * 1e6, found, c->n, (double)cands / c->n);
	xfree(lat);
	xfree(arr);
	xfree(edited);
	minhash_index_free(ix);
}

int main(int argc, char **argv)
{
	const char *train = argc > 1 ? argv[1] : TRAIN_CSV;
	const char *hot = argc > 2 ? argv[2] : HOT_CSV;
	struct text_norm *tn, *to_trad;
	must(text_norm_shared(&tn), "open hk2s.json");
	must(text_norm_open("s2hk.json", &to_trad), "open s2hk.json");

	struct row *rows;
	size_t nr = csv_read(train, &rows);
	struct corpus c = {0};
	c.raw = xcalloc(nr, sizeof *c.raw);
	c.raw_len = xcalloc(nr, sizeof *c.raw_len);
	c.norm = xcalloc(nr, sizeof *c.norm);
	c.norm_len = xcalloc(nr, sizeof *c.norm_len);
	char *buf = xmalloc(NORM_CAP);
	for (size_t r = 1; r < nr; r++) {
		if (rows[r].n < 5)
			continue;
		size_t need = strlen(rows[r].f[2]) + strlen(rows[r].f[4]) + 8;
		char *t = xmalloc(need);
		int w = snprintf(t, need, "%s。%s", rows[r].f[2], rows[r].f[4]);
		c.raw[c.n] = t;
		c.raw_len[c.n] = (size_t)w;
		size_t nl;
		must(text_normalize(tn, t, (size_t)w, TEXT_ALL, buf, NORM_CAP, &nl), "normalize");
		c.norm[c.n] = xstrndup(buf, nl);
		c.norm_len[c.n] = nl;
		c.bytes += (size_t)w;
		c.n++;
	}
	printf("bench_text: %zu messages, %.1f KB, mean %.0f bytes (%s)\n", c.n, c.bytes / 1e3,
	       (double)c.bytes / c.n, train);

	printf("throughput (one core unless said):\n");
	bench_normalize(&c, tn, 0, "clean only");
	bench_normalize(&c, tn, TEXT_FOLD | TEXT_PUNCT, "clean+NFKC+punct");
	bench_normalize(&c, tn, TEXT_ALL, "all (+hk2s)");
	/* the same messages as a Hong Kong resident would write them */
	struct corpus trad = c;
	trad.raw = xcalloc(c.n, sizeof *trad.raw);
	trad.raw_len = xcalloc(c.n, sizeof *trad.raw_len);
	for (size_t i = 0; i < c.n; i++) {
		size_t tl;
		must(text_normalize(to_trad, c.raw[i], c.raw_len[i], TEXT_SIMPLIFY, buf, NORM_CAP, &tl),
		     "to Traditional");
		trad.raw[i] = xstrndup(buf, tl);
		trad.raw_len[i] = tl;
	}
	bench_normalize(&trad, tn, TEXT_ALL, "all, HK Traditional in");
	bench_opencc_alone(&c);
	bench_threads(&c, tn);
	bench_tokens(&c);

	bench_index(&c);

	printf("\nnear-duplicate separation:");
	const unsigned kinds[] = {TEXT_TOK_BI, TEXT_TOK_TRI, TEXT_TOK_BI | TEXT_TOK_TRI,
				  TEXT_TOK_UNI | TEXT_TOK_BI};
	const char *knames[] = {"bi", "tri", "bi+tri", "uni+bi"};
	for (int k = 0; k < 4; k++)
		evaluate(&c, tn, to_trad, kinds[k], knames[k]);
	/* titles alone: short texts, as many intake descriptions are */
	struct corpus titles = {0};
	titles.raw = xcalloc(c.n, sizeof *titles.raw);
	titles.raw_len = xcalloc(c.n, sizeof *titles.raw_len);
	titles.norm = xcalloc(c.n, sizeof *titles.norm);
	titles.norm_len = xcalloc(c.n, sizeof *titles.norm_len);
	for (size_t r = 1; r < nr; r++) {
		if (rows[r].n < 5)
			continue;
		size_t nl, k = titles.n++;
		titles.raw[k] = rows[r].f[2];
		titles.raw_len[k] = strlen(rows[r].f[2]);
		must(text_normalize(tn, titles.raw[k], titles.raw_len[k], TEXT_ALL, buf, NORM_CAP, &nl),
		     "normalize");
		titles.norm[k] = xstrndup(buf, nl);
		titles.norm_len[k] = nl;
	}
	size_t tbytes = 0;
	for (size_t i = 0; i < titles.n; i++)
		tbytes += titles.raw_len[i];
	printf("\ntitles only (mean %.0f bytes):", titles.n ? (double)tbytes / titles.n : 0.0);
	for (int k = 0; k < 4; k++)
		evaluate(&titles, tn, to_trad, kinds[k], knames[k]);
	printf("\n");
	for (int k = 0; k < 4; k++)
		evaluate_hot(hot, tn, kinds[k], knames[k]);

	for (size_t i = 0; i < c.n; i++) {
		xfree(c.raw[i]);
		xfree(c.norm[i]);
		xfree(trad.raw[i]);
		xfree(titles.norm[i]);
	}
	xfree(trad.raw);
	xfree(trad.raw_len);
	xfree(titles.raw);
	xfree(titles.raw_len);
	xfree(titles.norm);
	xfree(titles.norm_len);
	for (size_t r = 0; r < nr; r++)
		for (int k = 0; k < rows[r].n; k++)
			xfree(rows[r].f[k]);
	xfree(rows);
	xfree(c.raw);
	xfree(c.raw_len);
	xfree(c.norm);
	xfree(c.norm_len);
	xfree(buf);
	text_norm_free(to_trad);
	return 0;
}
