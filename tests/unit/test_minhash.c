/* Unit tests for core/minhash: MinHash estimates within tolerance of the exact Jaccard of
 * synthetic sets, SimHash behaving as a similarity, band keys, and the LSH index (recall of
 * near-duplicates, one id per candidate, growth, allocation failure). */
#include <stdint.h>

#include "core/minhash.h"
#include "core/text.h"
#include "test.h"
#include "util/alloc.h"

/* The shingle hashes text_tokens would give: well mixed 64-bit values. */
static uint64_t shingle(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Two sets of `size` shingles sharing `common` of them; `seed` picks fresh values. Jaccard is
 * common / (2 * size - common). */
static void make_pair(uint64_t seed, size_t size, size_t common, uint64_t *a, uint64_t *b)
{
	uint64_t base = seed * 1000003;
	for (size_t i = 0; i < size; i++) {
		a[i] = shingle(base + i);
		b[i] = i < common ? a[i] : shingle(base + 500000 + i);
	}
}

static void test_identical_and_order(void)
{
	uint64_t a[300], r[600];
	for (size_t i = 0; i < 300; i++)
		a[i] = shingle(i);
	for (size_t i = 0; i < 300; i++) /* reversed and every shingle twice: the same set */
		r[2 * i] = r[2 * i + 1] = a[299 - i];
	struct minhash_sig sa, sr;
	minhash_sign(a, 300, &sa);
	minhash_sign(r, 600, &sr);
	CHECK(memcmp(&sa, &sr, sizeof sa) == 0);
	CHECK_NEAR(minhash_similarity(&sa, &sr), 1.0, 1e-12);
	CHECK_INT_EQ(simhash_sign(a, 300), simhash_sign(a, 300));
	CHECK_NEAR(simhash_similarity(simhash_sign(a, 300), simhash_sign(a, 300)), 1.0, 1e-12);
	CHECK_INT_EQ(sizeof(struct minhash_sig), 64);
}

/* Mean estimate over many pairs within 0.02 of the true Jaccard, every single one within
 * 0.25 (four standard errors at J = 0.5). Seeds are fixed: the test is deterministic. */
static void check_jaccard(size_t size, size_t common)
{
	uint64_t a[400], b[400];
	double truth = (double)common / (double)(2 * size - common), sum = 0, worst = 0;
	const int trials = 200;
	for (int t = 0; t < trials; t++) {
		make_pair((uint64_t)t + 1, size, common, a, b);
		struct minhash_sig sa, sb;
		minhash_sign(a, size, &sa);
		minhash_sign(b, size, &sb);
		double est = minhash_similarity(&sa, &sb);
		sum += est;
		if (fabs(est - truth) > worst)
			worst = fabs(est - truth);
	}
	CHECK_NEAR(sum / trials, truth, 0.02);
	CHECK(worst < 0.25);
}

static void test_jaccard_estimates(void)
{
	check_jaccard(200, 200); /* 1.0 */
	check_jaccard(200, 180); /* 0.818 */
	check_jaccard(200, 133); /* 0.499 */
	check_jaccard(300, 100); /* 0.2 */
	check_jaccard(100, 0);   /* 0 */
	check_jaccard(20, 10);   /* short texts: 0.333 */
}

static void test_simhash(void)
{
	uint64_t a[300], b[300];
	double near = 0, far = 0;
	for (int t = 0; t < 100; t++) {
		make_pair((uint64_t)t + 7, 300, 280, a, b);
		near += simhash_similarity(simhash_sign(a, 300), simhash_sign(b, 300));
		make_pair((uint64_t)t + 7, 300, 0, a, b);
		far += simhash_similarity(simhash_sign(a, 300), simhash_sign(b, 300));
	}
	CHECK(near / 100 > 0.85);
	CHECK_NEAR(far / 100, 0.5, 0.05);
	CHECK_INT_EQ(simhash_sign(NULL, 0), 0);
	CHECK_NEAR(simhash_similarity(0, ~0ULL), 0.0, 1e-12);
}

static void test_band_keys(void)
{
	uint64_t a[50];
	for (int i = 0; i < 50; i++)
		a[i] = shingle((uint64_t)i);
	struct minhash_sig s;
	minhash_sign(a, 50, &s);
	struct minhash_sig copy = s;
	for (unsigned b = 0; b < MINHASH_BANDS; b++) {
		CHECK_INT_EQ(minhash_band_key(&s, b), minhash_band_key(&copy, b));
		if (b)
			CHECK(minhash_band_key(&s, b) != minhash_band_key(&s, b - 1));
	}
	copy.v[5]++; /* band 1 differs, every other band stays */
	CHECK(minhash_band_key(&s, 1) != minhash_band_key(&copy, 1));
	CHECK_INT_EQ(minhash_band_key(&s, 0), minhash_band_key(&copy, 0));
}

/* 2,000 unrelated sets plus 50 near-duplicates (J = 0.82) of the first 50: each near-duplicate
 * finds its original, and unrelated sets find (almost) nothing. */
static void test_index_recall(void)
{
	enum { N = 2000, SIZE = 150 };
	struct minhash_index *ix = minhash_index_new(16); /* grows many times */
	static struct minhash_sig sigs[N];
	uint64_t a[SIZE], b[SIZE];
	for (uint32_t id = 0; id < N; id++) {
		make_pair(id + 100, SIZE, 135, a, b);
		minhash_sign(a, SIZE, &sigs[id]);
		CHECK_INT_EQ(minhash_index_add(ix, id, &sigs[id]), CD_OK);
	}
	int found = 0;
	size_t false_candidates = 0;
	for (uint32_t id = 0; id < 50; id++) {
		make_pair(id + 100, SIZE, 135, a, b);
		struct minhash_sig q;
		minhash_sign(b, SIZE, &q);
		uint32_t ids[64];
		size_t n = minhash_index_query(ix, &q, ids, 64);
		for (size_t k = 0; k < n; k++) {
			if (ids[k] == id)
				found++;
			else
				false_candidates++;
		}
	}
	CHECK(found >= 48);
	CHECK(false_candidates < 5);
	/* an exact copy shares all 16 bands and still comes back once */
	uint32_t ids[8];
	CHECK_INT_EQ(minhash_index_query(ix, &sigs[7], ids, 8), 1);
	CHECK_INT_EQ(ids[0], 7);
	minhash_index_free(ix);
	minhash_index_free(NULL);
}

static void test_index_cap_and_range(void)
{
	struct minhash_index *ix = minhash_index_new(100);
	struct minhash_sig s;
	minhash_sign(NULL, 0, &s);
	for (uint32_t id = 0; id < 20; id++)
		CHECK_INT_EQ(minhash_index_add(ix, id, &s), CD_OK);
	uint32_t ids[8];
	CHECK_INT_EQ(minhash_index_query(ix, &s, ids, 8), 8);
	uint32_t all[32];
	CHECK_INT_EQ(minhash_index_query(ix, &s, all, 32), 20);
	CHECK_INT_EQ(minhash_index_add(ix, UINT32_MAX, &s), CD_ERR_RANGE);
	minhash_index_free(ix);
}

/* Growth that cannot allocate reports NOMEM and leaves a working index. */
static void test_index_nomem(void)
{
	struct minhash_index *ix = minhash_index_new(1);
	uint64_t a[30], b[30];
	struct minhash_sig s;
	enum cd_err rc = CD_OK;
	uint32_t id = 0;
	alloc_fail_after(0);
	for (; id < 5000 && !rc; id++) {
		make_pair(id + 9, 30, 0, a, b);
		minhash_sign(a, 30, &s);
		rc = minhash_index_add(ix, id, &s);
	}
	alloc_fail_after(-1);
	CHECK_INT_EQ(rc, CD_ERR_NOMEM);
	make_pair(0 + 9, 30, 0, a, b); /* the set added as id 0 */
	minhash_sign(a, 30, &s);
	uint32_t ids[4];
	size_t n = minhash_index_query(ix, &s, ids, 4);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(ids[0], 0);
	CHECK_INT_EQ(minhash_index_add(ix, id, &s), CD_OK); /* grows now */
	minhash_index_free(ix);
}

/* minhash_sign_text is minhash_sign over the text's bigram tokens. */
static void test_sign_text(void)
{
	const char *s = "屋苑门口垃圾堆积,无人清理!ABC 123";
	uint64_t arr[64];
	size_t n = text_tokens_array(s, strlen(s), MINHASH_SHINGLES, arr, 64);
	CHECK(n > 5 && n < 64);
	struct minhash_sig a, b, c;
	minhash_sign(arr, n, &a);
	CHECK_INT_EQ(minhash_sign_text(s, strlen(s), &b), n);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	CHECK_INT_EQ(minhash_sign_text("", 0, &c), 0);
	minhash_sign(NULL, 0, &a);
	CHECK(memcmp(&a, &c, sizeof a) == 0);
}

static const struct test_case tests[] = {
	{"identical_and_order", test_identical_and_order},
	{"jaccard_estimates", test_jaccard_estimates},
	{"simhash", test_simhash},
	{"band_keys", test_band_keys},
	{"index_recall", test_index_recall},
	{"index_cap_and_range", test_index_cap_and_range},
	{"index_nomem", test_index_nomem},
	{"sign_text", test_sign_text},
};

TEST_MAIN(tests)
