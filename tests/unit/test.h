/* A very small table-driven unit test harness. Each test file defines
 *   static const struct test_case tests[] = {{"name", fn}, ...};
 * and ends with TEST_MAIN(tests). Checks print both values on failure and let the test go on;
 * the binary prints "<file>: N passed, N failed" and exits non-zero when anything failed. */
#ifndef CD_TEST_H
#define CD_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

static int test_failures_in_case;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			test_failures_in_case++;                                      \
		}                                                                     \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                            \
	do {                                                                          \
		long long va_ = (long long)(a), vb_ = (long long)(b);                 \
		if (va_ != vb_) {                                                     \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, va_, vb_);                          \
			test_failures_in_case++;                                      \
		}                                                                     \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                            \
	do {                                                                          \
		const char *sa_ = (a), *sb_ = (b);                                    \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                          \
			fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
			test_failures_in_case++;                                      \
		}                                                                     \
	} while (0)

#define CHECK_NEAR(a, b, eps)                                                         \
	do {                                                                          \
		double da_ = (a), db_ = (b);                                          \
		if (!(fabs(da_ - db_) <= (eps))) {                                    \
			fprintf(stderr, "  %s:%d: %s ~= %s failed: %.9g vs %.9g (eps %g)\n", \
				__FILE__, __LINE__, #a, #b, da_, db_, (double)(eps)); \
			test_failures_in_case++;                                      \
		}                                                                     \
	} while (0)

static inline int test_run_all(const char *file, const struct test_case *tests, size_t n)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		test_failures_in_case = 0;
		tests[i].fn();
		if (test_failures_in_case) {
			fprintf(stderr, "FAIL %s\n", tests[i].name);
			failed++;
		} else {
			passed++;
		}
	}
	const char *base = strrchr(file, '/');
	printf("%s: %d passed, %d failed\n", base ? base + 1 : file, passed, failed);
	return failed ? 1 : 0;
}

#define TEST_MAIN(table)                                                              \
	int main(void)                                                                \
	{                                                                             \
		return test_run_all(__FILE__, table, sizeof(table) / sizeof(table[0])); \
	}

#endif
