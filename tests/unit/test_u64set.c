/* util/u64set: membership is exact for what was added (including 0 and the value a 0 is
 * stored as), through growth, and pairs hash apart when their split differs. */
#include <stdio.h>

#include "test.h"
#include "util/u64set.h"

static uint64_t next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

static void test_membership_through_growth(void)
{
	struct u64set s;
	u64set_init(&s);
	CHECK(!u64set_has(&s, 1));
	uint64_t seed = 42;
	for (int i = 0; i < 100000; i++)
		u64set_add(&s, next_random(&seed));
	for (uint64_t id = 1; id <= 50000; id++) /* dense ids, as case ids are */
		u64set_add(&s, id);
	CHECK_INT_EQ((long long)s.n, 150000);
	seed = 42;
	int found = 0;
	for (int i = 0; i < 100000; i++)
		found += u64set_has(&s, next_random(&seed));
	CHECK_INT_EQ(found, 100000);
	int ids = 0, absent = 0;
	for (uint64_t id = 1; id <= 50000; id++)
		ids += u64set_has(&s, id);
	for (uint64_t id = 50001; id <= 150000; id++)
		absent += !u64set_has(&s, id);
	CHECK_INT_EQ(ids, 50000);
	CHECK_INT_EQ(absent, 100000);
	/* adding again changes nothing */
	u64set_add(&s, 7);
	CHECK_INT_EQ((long long)s.n, 150000);
	u64set_free(&s);
	CHECK(!u64set_has(&s, 7));
}

static void test_zero(void)
{
	struct u64set s;
	u64set_init(&s);
	u64set_add(&s, 0);
	CHECK(u64set_has(&s, 0));
	CHECK_INT_EQ((long long)s.n, 1);
	u64set_add(&s, 0x9e3779b97f4a7c15ULL); /* what a 0 is stored as: the same member */
	CHECK_INT_EQ((long long)s.n, 1);
	CHECK(!u64set_has(&s, 1));
	u64set_free(&s);
}

static void test_pairs(void)
{
	CHECK(u64set_hash_pair("app", "x1") != u64set_hash_pair("ap", "px1"));
	CHECK(u64set_hash_pair("app", "x1") != u64set_hash_pair("app", "x2"));
	CHECK(u64set_hash_pair("app", "x1") == u64set_hash_pair("app", "x1"));
	CHECK(u64set_hash_pair("app", NULL) == u64set_hash_pair("app", ""));
}

static const struct test_case tests[] = {
	{"exact membership through growth", test_membership_through_growth},
	{"0 is a value like any other", test_zero},
	{"pairs hash apart where they split", test_pairs},
};

TEST_MAIN(tests)
