/* The duplicate finder: place, time, category and text rules, eviction, removal, threads, and
 * precision and recall on a labelled duplicate set built from the training messages
 * (paraphrases, Traditional copies, truncations; other places, other days, other messages). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/similar.h"
#include "messages.h"
#include "test.h"
#include "util/alloc.h"
#include "util/csv.h"

#define TRAIN_CSV "../shared/data/complaints/taidi2020C_train.csv"
#define T0 1795000000 /* 2026-11-18, some day */
#define LAT0 22.548
#define LNG0 114.131
#define M_LAT (1.0 / 111320.0)		   /* degrees of latitude per metre */
#define M_LNG (1.0 / (111320.0 * 0.92354)) /* degrees of longitude per metre at 22.5 N */

static const char text_a[] = "东门步行街垃圾桶满了没人清理，臭气熏天，苍蝇很多，请尽快安排清运。";
static const char text_b[] = "晚上十一点以后工地还在施工，噪音很大，影响居民休息，希望相关部门管一管。";

static void make_case(struct similar_case *c, int64_t id, const char *text, double dx_m, double dy_m,
		      int64_t t, const char *cat)
{
	memset(c, 0, sizeof *c);
	c->id = id;
	c->reported_at = t;
	c->has_point = 1;
	c->lat = LAT0 + dy_m * M_LAT;
	c->lng = LNG0 + dx_m * M_LNG;
	snprintf(c->category, sizeof c->category, "%s", cat);
	CHECK_INT_EQ(similar_sign(NULL, NULL, text, c), CD_OK);
}

static void test_place_time_text(void)
{
	struct similar_index *ix = similar_new(NULL);
	struct similar_case a, b, q;
	struct similar_hit h[8];
	make_case(&a, 1, text_a, 0, 0, T0, "H0101");
	make_case(&b, 2, text_b, 10, 10, T0, "H0201");
	snprintf(a.ref, sizeof a.ref, "LH20261127000001"); /* b is added without one */
	CHECK_INT_EQ(similar_add(ix, &a), CD_OK);
	CHECK_INT_EQ(similar_add(ix, &b), CD_OK);
	CHECK_INT_EQ(similar_count(ix), 2);

	/* the same text 120 m away, a day later, same category: a near-certain duplicate */
	make_case(&q, 10, text_a, 120, 0, T0 + 86400, "H0101");
	size_t n = similar_query(ix, &q, h, 8);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(h[0].id, 1);
	CHECK_STR_EQ(h[0].ref, "LH20261127000001"); /* the answer prints it without a store read */
	CHECK(h[0].score > 0.8);
	CHECK_NEAR(h[0].distance_m, 120, 2);
	CHECK_INT_EQ(h[0].dt_s, 86400);
	CHECK_INT_EQ(h[0].same_category, 1);
	/* across cell borders in every direction, within the radius */
	for (int dir = 0; dir < 8; dir++) {
		static const int dx[] = {1, 1, 0, -1, -1, -1, 0, 1}, dy[] = {0, 1, 1, 1, 0, -1, -1, -1};
		double r = (dx[dir] && dy[dir]) ? 200 : 280;
		make_case(&q, 10, text_a, dx[dir] * r, dy[dir] * r, T0, "H0101");
		CHECK_INT_EQ(similar_query(ix, &q, h, 8), 1);
	}
	/* too far, too late, too early */
	make_case(&q, 10, text_a, 400, 0, T0, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	make_case(&q, 10, text_a, 0, 0, T0 + 8 * 86400, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	make_case(&q, 10, text_a, 0, 0, T0 - 8 * 86400, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	/* a different complaint at the same spot */
	make_case(&q, 10, "小区门口的路灯坏了好几天，晚上一片漆黑，老人小孩出行很不安全。", 0, 0, T0,
		  "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	/* never itself */
	CHECK_INT_EQ(similar_query(ix, &a, h, 8), 0);
	/* another category lowers the score but a copy still counts as possible */
	make_case(&q, 10, text_a, 0, 0, T0, "H0901");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 1);
	CHECK_INT_EQ(h[0].same_category, 0);
	CHECK(h[0].score < 0.7);
	/* too few shingles to judge */
	make_case(&q, 10, "垃圾", 0, 0, T0, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	similar_free(ix);
}

static void test_score(void)
{
	CHECK_NEAR(similar_score(1, 1, 0, 300), 1.0, 1e-9);
	CHECK_NEAR(similar_score(1, 1, 300, 300), 0.8, 1e-9);
	CHECK_NEAR(similar_score(1, 1, 900, 300), 0.8, 1e-9);
	CHECK_NEAR(similar_score(0.5, 0, 0, 300), 0.3, 1e-9);
	CHECK_NEAR(similar_score(1, -1, -1, 300), 0.81, 1e-9);
	CHECK_NEAR(similar_score(1, 2, 0, 300), 0.95, 1e-9);
	CHECK_NEAR(similar_score(1, 3, 0, 300), 0.85, 1e-9);
	CHECK(similar_score(0.9, 1, 10, 300) > similar_score(0.9, 1, 200, 300));
}

static void test_ranking_and_cap(void)
{
	struct similar_index *ix = similar_new(NULL);
	struct similar_case c, q;
	struct similar_hit h[3];
	/* five copies at growing distances: ranked nearest first, the cap respected */
	for (int i = 0; i < 5; i++) {
		make_case(&c, 100 + i, text_a, 50.0 * i, 0, T0, "H0101");
		CHECK_INT_EQ(similar_add(ix, &c), CD_OK);
	}
	make_case(&q, 1, text_a, 0, 0, T0, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 3), 3);
	CHECK_INT_EQ(h[0].id, 100);
	CHECK_INT_EQ(h[1].id, 101);
	CHECK_INT_EQ(h[2].id, 102);
	CHECK(h[0].score >= h[1].score && h[1].score >= h[2].score);
	CHECK_INT_EQ(similar_query(ix, &q, h, 0), 0);
	/* removal */
	make_case(&c, 100, text_a, 0, 0, T0, "H0101");
	CHECK_INT_EQ(similar_remove(ix, &c), CD_OK);
	CHECK_INT_EQ(similar_remove(ix, &c), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(similar_query(ix, &q, h, 3), 3);
	CHECK_INT_EQ(h[0].id, 101);
	similar_free(ix);
}

/* The best candidate equals a brute-force search over every stored case (few cases per cell,
 * so the per-cell caps never apply): the query reads the nearest cells first and stops where
 * no case of a farther cell could beat the best found, which must never change the answer. */
static void test_best_equals_brute_force(void)
{
	static const char *const texts[] = {
	    text_a, text_b, "小区门口的路灯坏了好几天，晚上一片漆黑，老人小孩出行很不安全。",
	    "东门步行街垃圾桶满了没有人清理，臭气熏天，苍蝇很多，请安排清运。",
	};
	enum { STORED = 300, QUERIES = 300 };
	struct similar_index *ix = similar_new(NULL);
	struct similar_config cfg;
	similar_get_config(ix, &cfg);
	struct similar_case *c = xcalloc(STORED, sizeof *c);
	uint64_t seed = 12345;
	for (int i = 0; i < STORED; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		double dx = (double)(seed >> 40 & 0xfff) / 4096.0 * 2400 - 1200; /* a 2.4 km square */
		double dy = (double)(seed >> 20 & 0xfff) / 4096.0 * 2400 - 1200;
		make_case(&c[i], i + 1, texts[seed >> 60 & 3], dx, dy, T0 + (int64_t)(seed >> 8 & 0xff), "H0101");
		CHECK_INT_EQ(similar_add(ix, &c[i]), CD_OK);
	}
	int same = 0, found = 0; /* queries answered as brute force answers; with a candidate */
	for (int k = 0; k < QUERIES; k++) {
		struct similar_case q;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		double dx = (double)(seed >> 40 & 0xfff) / 4096.0 * 2400 - 1200;
		double dy = (double)(seed >> 20 & 0xfff) / 4096.0 * 2400 - 1200;
		make_case(&q, 100000 + k, texts[seed >> 60 & 3], dx, dy, T0 + 100, "H0101");
		/* best inside the radius, and counting the 2 m band around its edge, where the
		 * index's float-stored points may fall on the other side */
		double best_in = 0, best_all = 0;
		for (int i = 0; i < STORED; i++) {
			double my = (c[i].lat - q.lat) / M_LAT, mx = (c[i].lng - q.lng) / M_LNG;
			double d = sqrt(mx * mx + my * my);
			if (d > cfg.radius_m + 2)
				continue;
			double score = similar_score(minhash_similarity(&q.sig, &c[i].sig), 1, d, cfg.radius_m);
			if (score < cfg.possible)
				continue;
			if (score > best_all)
				best_all = score;
			if (d <= cfg.radius_m - 2 && score > best_in)
				best_in = score;
		}
		struct similar_hit h;
		size_t n = similar_query(ix, &q, &h, 1);
		found += best_in > 0;
		if (best_all == 0)
			same += n == 0;
		else if (best_in > 0)
			same += n == 1 && h.score >= best_in - 1e-3 && h.score <= best_all + 1e-3;
		else
			same += n == 0 || h.distance_m > cfg.radius_m - 3;
	}
	CHECK_INT_EQ(same, QUERIES);
	CHECK(found > QUERIES / 10); /* the set is dense enough for the comparison to mean something */
	xfree(c);
	similar_free(ix);
}

static void test_no_point(void)
{
	struct similar_index *ix = similar_new(NULL);
	struct similar_case c, q;
	struct similar_hit h[2];
	make_case(&c, 1, text_a, 0, 0, T0, "");
	c.has_point = 0;
	snprintf(c.area, sizeof c.area, "440303001001");
	CHECK_INT_EQ(similar_add(ix, &c), CD_OK);
	q = c;
	q.id = 2;
	CHECK_INT_EQ(similar_query(ix, &q, h, 2), 1);
	CHECK_INT_EQ(h[0].same_category, -1);
	CHECK_NEAR(h[0].distance_m, -1, 0);
	snprintf(q.area, sizeof q.area, "440303001002");
	CHECK_INT_EQ(similar_query(ix, &q, h, 2), 0);
	/* neither point nor area: not indexed, never matched */
	q.area[0] = '\0';
	CHECK_INT_EQ(similar_add(ix, &q), CD_OK);
	CHECK_INT_EQ(similar_count(ix), 1);
	CHECK_INT_EQ(similar_query(ix, &q, h, 2), 0);
	similar_free(ix);
}

static void test_eviction(void)
{
	struct similar_config cfg;
	similar_config_default(&cfg);
	cfg.window_s = 3600;
	struct similar_index *ix = similar_new(&cfg);
	struct similar_case c;
	/* 10,000 cases a minute apart at one spot: the cell keeps about an hour of them */
	make_case(&c, 0, text_b, 0, 0, T0, "H0201");
	for (int i = 0; i < 10000; i++) {
		c.id = i + 1;
		c.reported_at = T0 + 60 * i;
		CHECK_INT_EQ(similar_add(ix, &c), CD_OK);
	}
	size_t held = similar_count(ix);
	CHECK(held >= 61 && held <= 2 * 61 + 8);
	CHECK_INT_EQ(similar_evict(ix, T0 + 60 * 9990), held - 10);
	CHECK_INT_EQ(similar_count(ix), 10);
	struct similar_hit h[16];
	c.id = 0;
	CHECK_INT_EQ(similar_query(ix, &c, h, 16), 10);
	similar_free(ix);
}

/* Cases added out of time order and removed still meet the window exactly; a cell flooded with
 * copies is scored newest first, at most a bounded number of them. */
static void test_order_and_flood(void)
{
	struct similar_index *ix = similar_new(NULL);
	struct similar_case c, q;
	struct similar_hit h[8];
	/* 300 copies at one spot, a second apart, added newest first (every add goes to the front) */
	make_case(&c, 0, text_a, 0, 0, T0, "H0101");
	for (int i = 299; i >= 0; i--) {
		c.id = i + 1;
		c.reported_at = T0 + i;
		CHECK_INT_EQ(similar_add(ix, &c), CD_OK);
	}
	c.id = 300;
	c.reported_at = T0 + 299;
	CHECK_INT_EQ(similar_remove(ix, &c), CD_OK);
	CHECK_INT_EQ(similar_remove(ix, &c), CD_ERR_NOTFOUND);
	make_case(&q, 0, text_a, 0, 0, T0 + 1000, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 8);
	for (int k = 0; k < 8; k++) /* equal scores: any of the newest 64, never the removed one */
		CHECK(h[k].id >= 300 - 64 && h[k].id < 300);
	/* window edges: exactly window_s apart counts, one second more does not */
	make_case(&q, 0, text_a, 0, 0, T0 + 7 * 86400, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 8);
	make_case(&q, 0, text_a, 0, 0, T0 - 7 * 86400 + 298, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 8);
	CHECK(h[0].id <= 299);
	make_case(&q, 0, text_a, 0, 0, T0 + 299 + 7 * 86400 + 1, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	make_case(&q, 0, text_a, 0, 0, T0 - 7 * 86400 - 1, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 0);
	make_case(&q, 0, text_a, 0, 0, T0 + 298 + 7 * 86400, "H0101"); /* only case 299 is in reach */
	CHECK_INT_EQ(similar_query(ix, &q, h, 8), 1);
	CHECK_INT_EQ(h[0].id, 299);
	similar_free(ix);
}

/* A cell flooded with more than it keeps holds a bounded number of cases, the newest, and a
 * new copy still finds the newest as its duplicates. */
static void test_flooded_cell_is_bounded(void)
{
	struct similar_index *ix = similar_new(NULL);
	struct similar_case c, q;
	struct similar_hit h[4];
	make_case(&c, 0, text_a, 0, 0, T0, "H0101");
	for (int i = 1; i <= 10000; i++) {
		c.id = i;
		c.reported_at = T0 + i;
		CHECK_INT_EQ(similar_add(ix, &c), CD_OK);
	}
	size_t kept = similar_count(ix);
	CHECK(kept >= 1024 && kept <= 2048);
	make_case(&q, 0, text_a, 0, 0, T0 + 10001, "H0101");
	CHECK_INT_EQ(similar_query(ix, &q, h, 4), 4);
	for (int k = 0; k < 4; k++)
		CHECK(h[k].id > 10000 - (int64_t)kept);
	c.id = 1; /* long gone: removing it finds nothing */
	c.reported_at = T0 + 1;
	CHECK_INT_EQ(similar_remove(ix, &c), CD_ERR_NOTFOUND);
	similar_free(ix);
}

/* Threads adding and querying at once: every query finds the case its thread added. */
struct worker {
	struct similar_index *ix;
	int t;
	int misses;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct similar_case c;
	struct similar_hit h[4];
	make_case(&c, 0, w->t % 2 ? text_a : text_b, 0, 0, T0, "H0101");
	for (int i = 0; i < 2000; i++) {
		c.id = w->t * 100000 + i + 1;
		c.lat = LAT0 + (double)((i * 7919 + w->t * 131) % 4000) * 2.5 * M_LAT;
		c.lng = LNG0 + (double)((i * 104729 + w->t * 37) % 4000) * 2.5 * M_LNG;
		if (similar_add(w->ix, &c))
			w->misses++;
		struct similar_case q = c;
		q.id = -1;
		size_t n = similar_query(w->ix, &q, h, 4);
		bool found = false;
		for (size_t k = 0; k < n; k++)
			found |= h[k].id == c.id;
		if (!found)
			w->misses++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct similar_index *ix = similar_new(NULL);
	pthread_t th[4];
	struct worker w[4];
	for (int t = 0; t < 4; t++) {
		w[t] = (struct worker){ix, t, 0};
		CHECK_INT_EQ(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		CHECK_INT_EQ(w[t].misses, 0);
	}
	CHECK_INT_EQ(similar_count(ix), 8000);
	similar_free(ix);
}

/* ---- the labelled duplicate set ------------------------------------------------------- */

/* The messages of the training file (title, detail, first-level label); returns the count. */
static size_t load_messages(struct message **out)
{
	return messages_load(TRAIN_CSV, 1024, out);
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}
static double rnd01(void)
{
	return rnd() / 4294967296.0;
}

static size_t utf8_len(unsigned char b)
{
	return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

/* Typos: about 10 % of characters deleted and 5 % replaced by common ones. xfree the result. */
static char *typos(const char *s)
{
	static const char *const common[] = {"的", "一", "是", "在", "了", "有", "和", "人", "这", "中"};
	size_t len = strlen(s), o = 0;
	char *out = xmalloc(2 * len + 1);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((unsigned char)s[i]);
		if (i + n > len)
			n = len - i;
		uint32_t r = rnd() % 100;
		if (r >= 10 && r < 15) {
			const char *c = common[rnd() % 10];
			memcpy(out + o, c, 3);
			o += 3;
		} else if (r >= 15) {
			memcpy(out + o, s + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}

/* The first `frac` of s, cut between characters. xfree the result. */
static char *truncated(const char *s, double frac)
{
	size_t len = strlen(s), cut = (size_t)(len * frac);
	while (cut > 0 && cut < len && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	char *out = xmalloc(cut + 1);
	memcpy(out, s, cut);
	out[cut] = '\0';
	return out;
}

/* Reframed: a greeting, the sentences (split at 。！？) in another order, a closing request. */
static char *reframed(const char *s)
{
	size_t len = strlen(s), starts[256], ns = 0, o = 0;
	starts[ns++] = 0;
	for (size_t i = 0; i + 3 <= len && ns < 255; i++)
		if (!memcmp(s + i, "。", 3) || !memcmp(s + i, "！", 3) || !memcmp(s + i, "？", 3))
			starts[ns++] = i + 3;
	starts[ns] = len;
	size_t order[256];
	for (size_t k = 0; k < ns; k++)
		order[k] = k;
	for (size_t k = ns; k > 1; k--) {
		size_t j = rnd() % k, tmp = order[k - 1];
		order[k - 1] = order[j];
		order[j] = tmp;
	}
	char *out = xmalloc(len + 128);
	static const char hello[] = "您好，我想反映一个问题：", bye[] = "希望有关部门尽快处理，谢谢！";
	memcpy(out, hello, sizeof hello - 1);
	o = sizeof hello - 1;
	for (size_t k = 0; k < ns; k++) {
		size_t a = starts[order[k]], b = order[k] + 1 <= ns ? starts[order[k] + 1] : len;
		memcpy(out + o, s + a, b - a);
		o += b - a;
	}
	memcpy(out + o, bye, sizeof bye);
	return out;
}

/* Traditional (Hong Kong) form of s through OpenCC s2hk. xfree the result. */
static char *traditional(const struct text_norm *s2hk, const char *s)
{
	size_t len = strlen(s), cap = 2 * len + 16, nl = 0;
	char *out = xmalloc(cap);
	if (text_normalize(s2hk, s, len, TEXT_SIMPLIFY, out, cap, &nl) != CD_OK)
		snprintf(out, cap, "%s", s);
	return out;
}

static void test_labelled_set(void)
{
	struct message *m = NULL;
	size_t nm = load_messages(&m);
	if (nm < 100) {
		printf("  SKIP labelled set: %s not readable\n", TRAIN_CSV);
		xfree(m);
		return;
	}
	struct text_norm *s2hk = NULL;
	CHECK_INT_EQ(text_norm_open("s2hk.json", &s2hk), CD_OK);
	if (!s2hk)
		return;
	struct similar_index *ix = similar_new(NULL);
	struct similar_case *orig = xcalloc(nm, sizeof *orig);
	size_t *pick = xcalloc(nm, sizeof *pick), np = 0;
	/* Originals: messages with some text, each unlike every one already picked (the corpus
	 * repeats a few messages: those are duplicates, not negatives), spread over a 6 km
	 * square and one week. */
	for (size_t i = 0; i < nm; i++) {
		struct similar_case c;
		make_case(&c, (int64_t)np + 1, m[i].detail, rnd01() * 6000, rnd01() * 6000,
			  T0 + (int64_t)(rnd01() * 7 * 86400), m[i].label);
		c.category[0] = (char)('A' + (text_hash64(m[i].label, strlen(m[i].label)) % 7));
		c.category[1] = '\0';
		if (c.shingles < 20)
			continue;
		bool unlike = true;
		for (size_t k = 0; k < np && unlike; k++)
			unlike = minhash_similarity(&c.sig, &orig[k].sig) < 0.3;
		if (!unlike)
			continue;
		orig[np] = c;
		pick[np++] = i;
	}
	for (size_t k = 0; k < np; k++) {
		orig[k].has_point = 1;
		CHECK_INT_EQ(similar_add(ix, &orig[k]), CD_OK);
	}
	/* Queries: positives (variants near in place and time) and negatives (copies elsewhere
	 * or long after, other messages at the same spot). */
	enum { TRAD, TYPO, TRUNC, REFRAME, ALL4, N_POS, FAR = N_POS, LATE, OTHER, N_KIND };
	static const char *const kind_names[] = {"traditional",	  "typos",	  "first 60 %",
						 "reframed",	  "all four",	  "2 km away",
						 "10 days later", "other message"};
	size_t found[N_KIND] = {0}, asked[N_KIND] = {0}, tp = 0, fp = 0;
	struct similar_hit h[8];
	for (size_t k = 0; k < np; k++) {
		const struct message *mm = &m[pick[k]];
		for (int kind = 0; kind < N_KIND; kind++) {
			char *text = NULL, *t1 = NULL, *t2 = NULL;
			switch (kind) {
			case TRAD:
				text = traditional(s2hk, mm->detail);
				break;
			case TYPO:
				text = typos(mm->detail);
				break;
			case TRUNC:
				text = truncated(mm->detail, 0.6);
				break;
			case REFRAME:
				text = reframed(mm->detail);
				break;
			case ALL4:
				t1 = reframed(mm->detail);
				t2 = truncated(t1, 0.7);
				xfree(t1);
				t1 = typos(t2);
				text = traditional(s2hk, t1);
				break;
			case FAR:
			case LATE:
				text = xstrdup(mm->detail);
				break;
			default:
				text = xstrdup(m[pick[(k + 1) % np]].detail);
				break;
			}
			xfree(t1);
			xfree(t2);
			struct similar_case q = orig[k];
			q.id = 1000000 + (int64_t)k;
			CHECK_INT_EQ(similar_sign(NULL, NULL, text, &q), CD_OK);
			xfree(text);
			double ang = rnd01() * 6.283185307, r = rnd01() * 250;
			q.lat += r * sin(ang) * M_LAT;
			q.lng += r * cos(ang) * M_LNG;
			q.reported_at += (int64_t)((rnd01() - 0.5) * 6 * 86400);
			if (kind == FAR)
				q.lat += 2000 * M_LAT;
			if (kind == LATE)
				q.reported_at = orig[k].reported_at + 10 * 86400;
			if (kind == TRUNC || kind == ALL4)
				q.category[0] = '\0'; /* not classified yet */
			size_t n = similar_query(ix, &q, h, 8);
			asked[kind]++;
			for (size_t i = 0; i < n; i++) {
				/* the other message's own original may lie near by chance: a true duplicate
				 */
				if (kind == OTHER && h[i].id == orig[(k + 1) % np].id)
					continue;
				bool right = kind < N_POS && h[i].id == orig[k].id;
				tp += right;
				fp += !right;
				found[kind] += right || kind >= N_POS;
			}
		}
	}
	size_t pos = 0, hit = 0;
	for (int kind = 0; kind < N_POS; kind++)
		pos += asked[kind], hit += found[kind];
	double precision = tp + fp ? (double)tp / (double)(tp + fp) : 1, recall = (double)hit / (double)pos;
	printf("  labelled set: %zu originals, %zu positive and %zu negative queries\n", np, pos,
	       asked[FAR] + asked[LATE] + asked[OTHER]);
	for (int kind = 0; kind < N_KIND; kind++)
		printf("    %-14s %s %zu/%zu\n", kind_names[kind], kind < N_POS ? "found" : "false hits",
		       found[kind], asked[kind]);
	printf("  precision %.4f recall %.4f (threshold 0.3)\n", precision, recall);
	CHECK(np >= 300);
	CHECK(precision >= 0.99);
	CHECK(recall >= 0.95);
	CHECK_INT_EQ(found[TRAD], asked[TRAD]);
	CHECK_INT_EQ(found[FAR] + found[LATE], 0);
	for (size_t i = 0; i < nm; i++) {
		xfree(m[i].title);
		xfree(m[i].detail);
		xfree(m[i].label);
	}
	xfree(m);
	xfree(orig);
	xfree(pick);
	similar_free(ix);
	text_norm_free(s2hk);
}

static const struct test_case tests[] = {
    {"best equals brute force", test_best_equals_brute_force},
    {"place, time and text rules", test_place_time_text},
    {"score", test_score},
    {"ranking, cap, removal", test_ranking_and_cap},
    {"cases without a point", test_no_point},
    {"eviction", test_eviction},
    {"time order, window edges, flooded cell", test_order_and_flood},
    {"a flooded cell keeps its newest, bounded", test_flooded_cell_is_bounded},
    {"threads", test_threads},
    {"labelled duplicate set: precision and recall", test_labelled_set},
};

TEST_MAIN(tests)
