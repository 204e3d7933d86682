/* Unit tests for core/auth: password hashing, tokens, roles, the login limiter. */
#include <stdlib.h>

#include "core/auth.h"
#include "test.h"

static void init_once(void)
{
	static int done;
	if (!done) {
		CHECK_INT_EQ(auth_init(), CD_OK);
		done = 1;
	}
}

static void test_password_roundtrip(void)
{
	init_once();
	char h[AUTH_HASH_MAX];
	CHECK_INT_EQ(auth_password_hash("correct horse", h), CD_OK);
	CHECK(strncmp(h, "$argon2id$", 10) == 0);
	CHECK(auth_password_verify(h, "correct horse"));
	CHECK(!auth_password_verify(h, "correct hors"));
	CHECK(!auth_password_verify(h, ""));
	CHECK(!auth_password_verify(NULL, "correct horse"));
	char h2[AUTH_HASH_MAX];
	CHECK_INT_EQ(auth_password_hash("correct horse", h2), CD_OK);
	CHECK(strcmp(h, h2) != 0); /* salted */
}

static void test_password_length_limits(void)
{
	init_once();
	char h[AUTH_HASH_MAX];
	CHECK_INT_EQ(auth_password_hash("short", h), CD_ERR_RANGE);
	char long_pw[AUTH_PASSWORD_MAX + 2];
	memset(long_pw, 'a', sizeof long_pw - 1);
	long_pw[sizeof long_pw - 1] = '\0';
	CHECK_INT_EQ(auth_password_hash(long_pw, h), CD_ERR_RANGE);
	CHECK_INT_EQ(auth_password_hash("密码是八个字符以上", h), CD_OK);
	CHECK(auth_password_verify(h, "密码是八个字符以上"));
}

static void test_tokens(void)
{
	init_once();
	char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1];
	uint8_t h1[AUTH_TOKEN_HASH_LEN], h2[AUTH_TOKEN_HASH_LEN], again[AUTH_TOKEN_HASH_LEN];
	auth_token_new(t1, h1);
	auth_token_new(t2, h2);
	CHECK_INT_EQ(strlen(t1), AUTH_TOKEN_LEN);
	CHECK(strcmp(t1, t2) != 0);
	CHECK_INT_EQ(auth_token_hash(t1, again), CD_OK);
	CHECK(memcmp(h1, again, sizeof again) == 0);
	CHECK(memcmp(h1, h2, sizeof h2) != 0);
	CHECK_INT_EQ(auth_token_hash("short", again), CD_ERR_INVALID);
	char bad[AUTH_TOKEN_LEN + 1];
	memcpy(bad, t1, sizeof bad);
	bad[5] = '+';
	CHECK_INT_EQ(auth_token_hash(bad, again), CD_ERR_INVALID);
	char longer[AUTH_TOKEN_LEN + 2];
	memcpy(longer, t1, AUTH_TOKEN_LEN);
	longer[AUTH_TOKEN_LEN] = 'A';
	longer[AUTH_TOKEN_LEN + 1] = '\0';
	CHECK_INT_EQ(auth_token_hash(longer, again), CD_ERR_INVALID);
}

static void test_roles(void)
{
	enum auth_role r;
	static const char *const names[] = {"admin", "district_dispatcher", "street_dispatcher", "unit_staff",
					    "grid_worker", "citizen", "auditor", "system"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		CHECK_INT_EQ(auth_role_parse(names[i], &r), CD_OK);
		CHECK_STR_EQ(auth_role_name(r), names[i]);
	}
	CHECK_INT_EQ(auth_role_parse("root", &r), CD_ERR_INVALID);
	CHECK_INT_EQ(auth_role_parse(NULL, &r), CD_ERR_INVALID);
	CHECK_STR_EQ(auth_role_label_zh(ROLE_GRID_WORKER), "网格员");
}

static void test_limiter_window(void)
{
	struct auth_limiter *lim = auth_limiter_new(64);
	int64_t t = 1000000;
	for (int i = 0; i < AUTH_LIMIT_FAILURES; i++) {
		CHECK_INT_EQ(auth_limiter_check(lim, "alice", t + i), 0);
		auth_limiter_fail(lim, "alice", t + i);
	}
	/* Five failures inside a minute: the sixth try is refused until the first ages out. */
	CHECK_INT_EQ(auth_limiter_check(lim, "alice", t + 10), 50);
	CHECK_INT_EQ(auth_limiter_check(lim, "bob", t + 10), 0);
	CHECK_INT_EQ(auth_limiter_check(lim, "alice", t + 59), 1);
	CHECK_INT_EQ(auth_limiter_check(lim, "alice", t + 60), 0);
	/* A new failure while four are still inside the window blocks again. */
	auth_limiter_fail(lim, "alice", t + 60);
	CHECK_INT_EQ(auth_limiter_check(lim, "alice", t + 60), 1);
	auth_limiter_clear(lim, "alice");
	CHECK_INT_EQ(auth_limiter_check(lim, "alice", t + 60), 0);
	auth_limiter_free(lim);
	auth_limiter_free(NULL);
}

static void test_limiter_spread_failures(void)
{
	struct auth_limiter *lim = auth_limiter_new(64);
	/* One failure every 15 s never gathers five inside 60 s. */
	for (int i = 0; i < 20; i++) {
		CHECK_INT_EQ(auth_limiter_check(lim, "10.0.0.1", 5000 + 15 * i), 0);
		auth_limiter_fail(lim, "10.0.0.1", 5000 + 15 * i);
	}
	auth_limiter_free(lim);
}

static void test_limiter_eviction_is_bounded(void)
{
	struct auth_limiter *lim = auth_limiter_new(16);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "user%d", i);
		auth_limiter_fail(lim, key, 100 + i);
	}
	/* The table never grows; the newest key is still tracked. */
	for (int i = 0; i < AUTH_LIMIT_FAILURES; i++)
		auth_limiter_fail(lim, "user999", 2000);
	CHECK(auth_limiter_check(lim, "user999", 2000) > 0);
	auth_limiter_free(lim);
}

static const struct test_case tests[] = {
	{"password_roundtrip", test_password_roundtrip},
	{"password_length_limits", test_password_length_limits},
	{"tokens", test_tokens},
	{"roles", test_roles},
	{"limiter_window", test_limiter_window},
	{"limiter_spread_failures", test_limiter_spread_failures},
	{"limiter_eviction_is_bounded", test_limiter_eviction_is_bounded},
};

TEST_MAIN(tests)
