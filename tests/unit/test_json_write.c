/* The JSON writer (util/json.h): every value it writes must be byte for byte what jansson's
 * compact dump writes for the same value, since hot responses use the writer and the rest of
 * the API jansson, and a client may compare the two. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/alloc.h"
#include "util/json.h"

/* What jansson prints for v (compact), as a new string. */
static char *jansson_text(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return s;
}

static void check_same(struct buf *b, json_t *v)
{
	char *want = jansson_text(v);
	CHECK(want != NULL);
	if (want)
		CHECK_STR_EQ(b->data ? b->data : "", want);
	xfree(want);
	buf_reset(b);
}

static void test_strings(void)
{
	static const char *const samples[] = {
		"",
		"plain ascii",
		"东门老街路口井盖缺失，很危险",
		"quote \" backslash \\ slash /",
		"controls \b\f\n\r\t \x01 \x1f end",
		"\x7f del stays",
		"emoji 😀 and 繁體",
		"\"",
		"\\\\\\",
	};
	struct buf b;
	buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		struct json_writer w = {&b, CD_OK};
		json_w_str(&w, samples[i]);
		CHECK_INT_EQ(w.rc, CD_OK);
		check_same(&b, json_string(samples[i]));
	}
	struct json_writer w = {&b, CD_OK};
	json_w_str(&w, NULL);
	json_w_str_or_null(&w, "");
	CHECK_STR_EQ(b.data, "nullnull");
	buf_release(&b);
}

static void test_numbers(void)
{
	static const double reals[] = {0.0, 1.0, -1.0, 0.8, 22.58352, 114.108051, 0.1 + 0.2, 1e21, 1e-7,
				       1.5e-300, 123456789012345678.0, -2.5e17, 5.0, 1e100, 3.14159};
	struct buf b;
	buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		struct json_writer w = {&b, CD_OK};
		json_w_real(&w, reals[i]);
		CHECK_INT_EQ(w.rc, CD_OK);
		check_same(&b, json_real(reals[i]));
	}
	static const long long ints[] = {0, 1, -1, 42, 9007199254740993LL, -9223372036854775807LL - 1};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		struct json_writer w = {&b, CD_OK};
		json_w_int(&w, ints[i]);
		check_same(&b, json_integer(ints[i]));
	}
	struct json_writer w = {&b, CD_OK};
	json_w_bool(&w, true);
	check_same(&b, json_true());
	json_w_bool(&w, false);
	check_same(&b, json_false());
	buf_release(&b);
}

/* An object written by hand equals the same object built with json_pack. */
static void test_object(void)
{
	struct buf b;
	buf_init(&b, 4096);
	struct json_writer w = {&b, CD_OK};
	json_w_lit(&w, "{\"id\":");
	json_w_str(&w, "LH20261127000123");
	json_w_lit(&w, ",\"location\":{\"lat\":");
	json_w_real(&w, 22.5435);
	json_w_lit(&w, ",\"lng\":");
	json_w_real(&w, 114.1);
	json_w_lit(&w, "},\"name\":");
	json_w_str_or_null(&w, "");
	json_w_lit(&w, ",\"n\":");
	json_w_int(&w, 7);
	json_w_lit(&w, "}");
	CHECK_INT_EQ(w.rc, CD_OK);
	check_same(&b, json_pack("{s:s, s:{s:f, s:f}, s:n, s:I}", "id", "LH20261127000123", "location", "lat",
				 22.5435, "lng", 114.1, "name", "n", (json_int_t)7));
	buf_release(&b);
}

/* Past the buf's cap the first error sticks and later calls change nothing. */
static void test_sticky_error(void)
{
	struct buf b;
	buf_init(&b, 8);
	struct json_writer w = {&b, CD_OK};
	json_w_lit(&w, "[");
	json_w_str(&w, "longer than eight bytes");
	CHECK_INT_EQ(w.rc, CD_ERR_TOOBIG);
	size_t len = b.len;
	json_w_lit(&w, "]");
	json_w_int(&w, 1);
	CHECK_INT_EQ(w.rc, CD_ERR_TOOBIG);
	CHECK_INT_EQ(b.len, len);
	buf_release(&b);
}

/* buf_reserve makes the room once: appends within it do not move the data; past the cap it
 * refuses and leaves the buffer as it was. */
static void test_reserve(void)
{
	struct buf b;
	buf_init(&b, 4096);
	CHECK_INT_EQ(buf_reserve(&b, 1024), CD_OK);
	CHECK(b.alloc >= 1025);
	const char *before = b.data;
	for (int i = 0; i < 100; i++)
		CHECK_INT_EQ(buf_puts(&b, "0123456789"), CD_OK);
	CHECK(b.data == before);
	CHECK_INT_EQ(b.len, 1000);
	CHECK_INT_EQ(buf_reserve(&b, 4000), CD_ERR_TOOBIG);
	CHECK_INT_EQ(b.len, 1000);
	CHECK(b.data == before);
	buf_release(&b);
}

/* xorshift64*: the same sequence on every run. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ULL;
}

/* The writer formats most reals with its own exact arithmetic and leaves the rest to
 * snprintf: every kind of value on both sides of that line must come out as jansson's dump.
 * Compared in bulk (a mismatch count, then the first few shown) rather than one CHECK each. */
static void test_reals_in_bulk(void)
{
	struct buf b;
	buf_init(&b, 4096);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	int checked = 0, differ = 0;
	for (int i = 0; i < 400000; i++) {
		double v;
		uint64_t r = next_random(&seed);
		switch (i % 8) {
		case 0: /* a latitude in and around Shenzhen, 6 decimals as clients send them */
			v = round((22.0 + (double)(r % 1000000) / 1e6) * 1e6) / 1e6;
			break;
		case 1: /* a longitude */
			v = 113.5 + (double)(r >> 11) / 9007199254740992.0;
			break;
		case 2: /* any bit pattern whose magnitude the fast path covers, and beyond */
			memcpy(&v, &r, sizeof v);
			v = ldexp(1.0 + (double)(r >> 12) / 4503599627370496.0, (int)(r % 80) - 20);
			break;
		case 3: /* next to a power of ten, where the first digit's place changes */
			v = nextafter(pow(10.0, (double)((int)(r % 24) - 6)), (r >> 40) & 1 ? INFINITY : 0.0);
			break;
		case 4: /* a confidence */
			v = (double)(r % 10001) / 10000.0;
			break;
		case 5: /* whole numbers, hours and working days */
			v = (double)(r % 100000);
			break;
		case 6: /* quarters: ties of the 17th digit (1234567890123456.25 -> ...456.2) */
			v = (double)(r % 9000000000000000ULL + 1000000000000000ULL) / 4.0;
			break;
		default: /* the negative of any of the above kinds */
			v = -ldexp((double)(r >> 11), -(int)(r % 60));
			break;
		}
		if (!isfinite(v))
			continue;
		struct json_writer w = {&b, CD_OK};
		json_w_real(&w, v);
		char *want = jansson_text(json_real(v));
		checked++;
		if (w.rc != CD_OK || !want || strcmp(b.data ? b.data : "", want) != 0) {
			if (differ++ < 5)
				fprintf(stderr, "real %.17g: wrote %s, jansson %s\n", v, b.data ? b.data : "", want);
		}
		xfree(want);
		buf_reset(&b);
	}
	CHECK_INT_EQ(differ, 0);
	CHECK(checked > 390000);
	/* The tie named above, by hand. */
	struct json_writer w = {&b, CD_OK};
	json_w_real(&w, 1234567890123456.25);
	CHECK_STR_EQ(b.data, "1234567890123456.2");
	buf_release(&b);
}

static const struct test_case tests[] = {
	{"buf_reserve makes room once", test_reserve},
	{"strings escape as jansson does", test_strings},
	{"numbers print as jansson prints them", test_numbers},
	{"400,000 reals print as jansson prints them", test_reals_in_bulk},
	{"a hand-written object equals json_pack's", test_object},
	{"the first error sticks", test_sticky_error},
};

TEST_MAIN(tests)
