/* json_fast against jansson: whatever the fast path accepts, jansson must accept with the same
 * tree (key order, integer/real types, string bytes, real bits); invalid input must never be
 * accepted. Hand-written inputs, a seeded mutation loop over realistic case bodies, and
 * json_parse_request's answers (tree or problem) with the fast path in front. */
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json.h"
#include "util/json_fast.h"

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

/* Strict sameness: types, key order, string bytes, integer values, real bit patterns. */
static bool same_tree(const json_t *a, const json_t *b)
{
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		if (json_object_size(a) != json_object_size(b))
			return false;
		void *ia = json_object_iter((json_t *)(uintptr_t)a);
		void *ib = json_object_iter((json_t *)(uintptr_t)b);
		while (ia && ib) {
			size_t ka = json_object_iter_key_len(ia), kb = json_object_iter_key_len(ib);
			if (ka != kb || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), ka) != 0)
				return false;
			if (!same_tree(json_object_iter_value(ia), json_object_iter_value(ib)))
				return false;
			ia = json_object_iter_next((json_t *)(uintptr_t)a, ia);
			ib = json_object_iter_next((json_t *)(uintptr_t)b, ib);
		}
		return !ia && !ib;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!same_tree(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL: {
		double x = json_real_value(a), y = json_real_value(b);
		return memcmp(&x, &y, sizeof x) == 0;
	}
	default:
		return true;
	}
}

static int tree_depth(const json_t *v)
{
	int d = 0;
	if (json_is_object(v)) {
		const char *k;
		const json_t *x;
		json_object_foreach((json_t *)(uintptr_t)v, k, x) {
			int c = tree_depth(x);
			if (c > d)
				d = c;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			int c = tree_depth(json_array_get(v, i));
			if (c > d)
				d = c;
		}
		return d + 1;
	}
	return 0;
}

/* The invariant: fast accepts => jansson accepts, an object no deeper than the cap, same tree.
 * Returns 1 when the fast path handled the input, 0 when it fell back; *jansson_ok tells
 * whether jansson accepted it. */
static int differ(const char *data, size_t len, bool *jansson_ok)
{
	json_t *fast = (json_t *)1;
	bool handled = json_fast_parse(data, len, &fast);
	json_error_t e;
	json_t *ref = json_loadb(data, len, FLAGS, &e);
	*jansson_ok = ref != NULL;
	if (handled) {
		CHECK(fast != NULL);
		CHECK(ref != NULL);
		if (ref && fast) {
			CHECK(json_is_object(ref));
			CHECK(tree_depth(ref) <= JSON_MAX_DEPTH);
			CHECK(json_equal(fast, ref));
			bool same = same_tree(fast, ref);
			CHECK(same);
			if (!same || !json_equal(fast, ref))
				fprintf(stderr, "    input: %.*s\n", (int)(len > 300 ? 300 : len), data);
		}
	} else {
		CHECK(fast == NULL);
	}
	json_decref(fast);
	json_decref(ref);
	return handled ? 1 : 0;
}

/* ---- hand-written inputs ------------------------------------------------------------------ */

enum want {
	HANDLED,  /* valid, the fast path must build it */
	FALLBACK, /* the fast path must not take it (jansson may well accept it) */
	INVALID,  /* jansson refuses it; the fast path must not take it */
};

struct input {
	const char *text;
	size_t len; /* 0: strlen(text) */
	enum want want;
};

#define BENCH_BODY                                                                          \
	"{\"channel\":\"system\",\"external_id\":\"bench-1764300000-1-42\",\"description\":"  \
	"\"东门老街路口井盖缺失，很危险\",\"lat\":22.583520,\"lng\":114.108051,\"category\":\"UM06010\"}"

static const struct input inputs[] = {
	/* valid, handled */
	{BENCH_BODY, 0, HANDLED},
	{"{}", 0, HANDLED},
	{" \t\r\n{ \t\r\n} \t\r\n", 0, HANDLED},
	{"{\"\":\"\"}", 0, HANDLED},
	{"{\"a\":{\"b\":{\"c\":[1,[2,[3,{}]],[]]}},\"d\":[]}", 0, HANDLED},
	{"{\"z\":1,\"a\":2,\"m\":3,\"b\":4}", 0, HANDLED},
	{"{\"t\":true,\"f\":false,\"n\":null,\"arr\":[true,false,null]}", 0, HANDLED},
	{"{\"i\":0,\"n\":-0,\"p\":7,\"m\":-7,\"big\":999999999999999999,\"nbig\":-999999999999999999}", 0, HANDLED},
	{"{\"r\":1.0,\"s\":-0.0,\"e\":1e5,\"E\":1E5,\"ep\":1e+5,\"em\":1e-5,\"f\":12.5e-3,\"z\":0e0}", 0, HANDLED},
	{"{\"pi\":3.141592653589793238462643383279,\"tiny\":1e-400,\"sub\":4.9e-324,\"max\":1.7976931348623157e308}", 0, HANDLED},
	{"{\"lat\":22.583520,\"lng\":114.108051,\"x\":0.1,\"y\":-1.5E-10}", 0, HANDLED},
	{"{\"esc\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}", 0, HANDLED},
	{"{\"k\\n\\\"ey\":\"v\",\"k\\tey\":1}", 0, HANDLED},
	{"{\"zh\":\"東門老街路口井蓋缺失，很危險\",\"简\":\"深圳市罗湖区\"}", 0, HANDLED},
	{"{\"emoji\":\"\xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBF \xE0\xA0\x80 \xC2\x80 \xED\x9F\xBF\"}", 0, HANDLED},
	{"{\"del\":\"\x7f\",\"sp\":\" ~\"}", 0, HANDLED},
	{"{\"reporter\":{\"name\":\"王小明\",\"phone\":\"13800138000\"},\"attachments\":[\"a.jpg\",\"b.png\"],"
	 "\"time_limit\":{\"hours\":24,\"working_days\":false}}", 0, HANDLED},
	{"{\"a\":1,\"A\":2}", 0, HANDLED},
	/* valid, left to jansson */
	{"{\"u\":\"\\u4e1c\"}", 0, FALLBACK},
	{"{\"u\":\"\\ud83d\\ude00\"}", 0, FALLBACK},
	{"{\"\\u0041\":1}", 0, FALLBACK},
	{"{\"i\":1234567890123456789}", 0, FALLBACK},
	{"{\"i\":-9223372036854775808}", 0, FALLBACK},
	{"{\"r\":1.00000000000000000000000000000000000000000000000000000000000000001}", 0, FALLBACK},
	{"[1,2]", 0, FALLBACK},
	{"\"s\"", 0, FALLBACK},
	{"1", 0, FALLBACK},
	{"null", 0, FALLBACK},
	/* jansson's stream skips a NUL byte that follows a number (an unget quirk) */
	{"{\"a\":1\0}", 8, FALLBACK},
	/* invalid */
	{"", 0, INVALID},
	{"   ", 0, INVALID},
	{"{", 0, INVALID},
	{"{\"a\"", 0, INVALID},
	{"{\"a\":", 0, INVALID},
	{"{\"a\":1", 0, INVALID},
	{"{\"a\":1,", 0, INVALID},
	{"{\"a\":\"x", 0, INVALID},
	{"{\"a\":\"x\\", 0, INVALID},
	{"{\"a\":1,}", 0, INVALID},
	{"{\"a\":[1,]}", 0, INVALID},
	{"{\"a\":[,1]}", 0, INVALID},
	{"{,}", 0, INVALID},
	{"{\"a\" 1}", 0, INVALID},
	{"{\"a\":1 \"b\":2}", 0, INVALID},
	{"{a:1}", 0, INVALID},
	{"{'a':1}", 0, INVALID},
	{"{\"a\":1}}", 0, INVALID},
	{"{\"a\":1} x", 0, INVALID},
	{"{\"a\":1}{}", 0, INVALID},
	{"{\"a\":1}\0", 8, INVALID},
	{"{\"a\":\"x\0y\"}", 11, INVALID},
	{"\xEF\xBB\xBF{}", 0, INVALID},
	{"{\"a\":1}\f", 0, INVALID},
	{"\v{}", 0, INVALID},
	{"{\"a\":\"\x80\"}", 0, INVALID},
	{"{\"a\":\"\xC0\xAF\"}", 0, INVALID},
	{"{\"a\":\"\xC1\xBF\"}", 0, INVALID},
	{"{\"a\":\"\xE0\x80\xAF\"}", 0, INVALID},
	{"{\"a\":\"\xE0\x9F\xBF\"}", 0, INVALID},
	{"{\"a\":\"\xF0\x80\x80\xAF\"}", 0, INVALID},
	{"{\"a\":\"\xF0\x8F\xBF\xBF\"}", 0, INVALID},
	{"{\"a\":\"\xED\xA0\x80\"}", 0, INVALID},
	{"{\"a\":\"\xED\xBF\xBF\"}", 0, INVALID},
	{"{\"a\":\"\xF4\x90\x80\x80\"}", 0, INVALID},
	{"{\"a\":\"\xF5\x80\x80\x80\"}", 0, INVALID},
	{"{\"a\":\"\xFF\"}", 0, INVALID},
	{"{\"a\":\"\xE4\xB8\"}", 0, INVALID},
	{"{\"a\":\"\xE4\xB8\x41\"}", 0, INVALID},
	{"{\"\xE4\xB8\":1}", 0, INVALID},
	{"{\"a\":\"\xE4\xB8", 0, INVALID},
	{"{\"a\":\"tab\there\"}", 0, INVALID},
	{"{\"a\":\"nl\nhere\"}", 0, INVALID},
	{"{\"a\":\"\x1f\"}", 0, INVALID},
	{"{\"a\":\"\\x\"}", 0, INVALID},
	{"{\"a\":\"\\'\"}", 0, INVALID},
	{"{\"a\":\"\\u12\"}", 0, INVALID},
	{"{\"a\":\"\\ud800\"}", 0, INVALID},
	{"{\"a\":\"\\u0000\"}", 0, INVALID},
	{"{\"a\":1,\"a\":2}", 0, INVALID},
	{"{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", 0, INVALID},
	{"{\"a\":1,\"\\u0061\":2}", 0, INVALID},
	{"{\"a\\n\":1,\"a\\u000a\":2}", 0, INVALID},
	{"{\"x\":1,\"x\":1,\"y\":}", 0, INVALID},
	{"{\"a\":01}", 0, INVALID},
	{"{\"a\":-01}", 0, INVALID},
	{"{\"a\":00}", 0, INVALID},
	{"{\"a\":1.}", 0, INVALID},
	{"{\"a\":.5}", 0, INVALID},
	{"{\"a\":-}", 0, INVALID},
	{"{\"a\":-.5}", 0, INVALID},
	{"{\"a\":+1}", 0, INVALID},
	{"{\"a\":1e}", 0, INVALID},
	{"{\"a\":1e+}", 0, INVALID},
	{"{\"a\":1E-}", 0, INVALID},
	{"{\"a\":1.e5}", 0, INVALID},
	{"{\"a\":1.5.3}", 0, INVALID},
	{"{\"a\":1x}", 0, INVALID},
	{"{\"a\":0x10}", 0, INVALID},
	{"{\"a\":1 2}", 0, INVALID},
	{"{\"a\":NaN}", 0, INVALID},
	{"{\"a\":Infinity}", 0, INVALID},
	{"{\"a\":-Infinity}", 0, INVALID},
	{"{\"a\":99999999999999999999}", 0, INVALID},
	{"{\"a\":-99999999999999999999}", 0, INVALID},
	{"{\"a\":9223372036854775808}", 0, INVALID},
	{"{\"a\":1e999}", 0, INVALID},
	{"{\"a\":-1e999}", 0, INVALID},
	{"{\"a\":1.8e308}", 0, INVALID},
	{"{\"a\":tru}", 0, INVALID},
	{"{\"a\":truex}", 0, INVALID},
	{"{\"a\":True}", 0, INVALID},
	{"{\"a\":nul}", 0, INVALID},
	{"{\"a\":falsey}", 0, INVALID},
	{"{\"a\":[1,2}", 0, INVALID},
	{"{\"a\":{\"b\":1]}", 0, INVALID},
	{"{\"a\":1]", 0, INVALID},
	{"}", 0, INVALID},
	{"{\"a\":\"\xE4\xB8\x9C\"", 0, INVALID},
};

/* Checks one input against its table row. */
static void check_input(const char *text, size_t len, enum want want, int row)
{
	bool jok;
	int handled = differ(text, len, &jok);
	if (want == HANDLED && !handled)
		fprintf(stderr, "    row %d: valid input not handled\n", row);
	if (want != HANDLED && handled)
		fprintf(stderr, "    row %d: input taken by the fast path\n", row);
	if (want == INVALID && jok)
		fprintf(stderr, "    row %d: jansson accepts an input the table calls invalid\n", row);
	CHECK_INT_EQ(handled, want == HANDLED);
	if (want == HANDLED)
		CHECK(jok);
	if (want == INVALID)
		CHECK(!jok);
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		const struct input *in = &inputs[i];
		check_input(in->text, in->len ? in->len : strlen(in->text), in->want, (int)i);
	}
}

/* {"a":[[[0]]]}: the object is level 1, so `brackets` levels reach depth brackets+1. An empty
 * close leaves the brackets unclosed (and without the 0). */
static size_t nested(char *out, size_t cap, int brackets, const char *open, const char *close)
{
	size_t n = 0;
	n += (size_t)snprintf(out + n, cap - n, "{\"a\":");
	for (int i = 0; i < brackets; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s", open);
	if (*close)
		n += (size_t)snprintf(out + n, cap - n, "0");
	for (int i = 0; i < brackets; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s", close);
	n += (size_t)snprintf(out + n, cap - n, "}");
	return n;
}

static void test_depth(void)
{
	char buf[4096];
	size_t n = nested(buf, sizeof buf, JSON_MAX_DEPTH - 1, "[", "]");
	check_input(buf, n, HANDLED, -1);
	n = nested(buf, sizeof buf, JSON_MAX_DEPTH, "[", "]");
	check_input(buf, n, FALLBACK, -1);
	n = nested(buf, sizeof buf, JSON_MAX_DEPTH - 1, "{\"b\":", "}");
	check_input(buf, n, HANDLED, -1);
	n = nested(buf, sizeof buf, JSON_MAX_DEPTH, "{\"b\":", "}");
	check_input(buf, n, FALLBACK, -1);
	n = nested(buf, sizeof buf, 500, "[", "]");
	check_input(buf, n, FALLBACK, -1);
	n = nested(buf, sizeof buf, 40, "[", ""); /* deep and unclosed */
	check_input(buf, n, INVALID, -1);
}

/* Long strings: no escapes are always taken from the body; escaped ones only up to the
 * stack buffer, longer ones go to jansson and must still come out right there. */
static void test_long_strings(void)
{
	size_t cap = 40000;
	char *buf = xmalloc(cap);
	const size_t sizes[] = {100, 127, 128, 129, 4000, 4095, 4096, 4097, 10000, 30000};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		for (int esc = 0; esc < 2; esc++) {
			size_t n = 0;
			memcpy(buf, "{\"", 2);
			n = 2;
			/* a long key too, then a long value */
			for (size_t i = 0; i < sizes[s] && i < 300; i++) {
				if (esc && i % 7 == 0)
					buf[n++] = '\\';
				buf[n++] = esc && i % 7 == 0 ? 'n' : 'k';
			}
			memcpy(buf + n, "\":\"", 3);
			n += 3;
			for (size_t i = 0; i < sizes[s]; i++) {
				if (esc && i % 5 == 0) {
					buf[n++] = '\\';
					buf[n++] = 't';
				} else {
					/* 深 in UTF-8 */
					memcpy(buf + n, "\xE6\xB7\xB1", 3);
					n += 3;
					i += 2;
				}
			}
			memcpy(buf + n, "\"}", 2);
			n += 2;
			bool jok;
			int handled = differ(buf, n, &jok);
			CHECK(jok);
			if (!esc)
				CHECK_INT_EQ(handled, 1);
		}
	}
	xfree(buf);
}

/* ---- mutations ---------------------------------------------------------------------------- */

static const char *const bodies[] = {
	BENCH_BODY,
	"{\"channel\":\"hotline\",\"external_id\":\"12345-2024-0001\",\"description\":\"翠竹路垃圾桶满溢，臭味很大，请尽快处理。\","
	"\"lat\":22.55873,\"lng\":114.13012,\"category\":\"UM03002\",\"reporter\":{\"name\":\"李女士\",\"phone\":\"13912345678\"},"
	"\"anonymous\":false}",
	"{\"channel\":\"app\",\"description\":\"人民南路路燈不亮已經三天了，晚上很暗很危險\",\"address\":\"深圳市羅湖區人民南路\","
	"\"attachments\":[{\"url\":\"https://img.example.cn/a/1.jpg\",\"bytes\":204800},{\"url\":\"https://img.example.cn/a/2.jpg\",\"bytes\":1024}],"
	"\"priority\":2,\"tags\":[\"路燈\",\"夜間\"]}",
	"{\"channel\":\"wechat\",\"external_id\":\"wx-778\",\"description\":\"Line one\\nLine two \\\"quoted\\\" \\\\ path\\/x\",\"lat\":-0.5,"
	"\"lng\":1e2,\"time_limit\":{\"hours\":48,\"working_days\":true,\"deadline\":null},\"score\":-12,\"ratio\":0.000125}",
	"{\"channel\":\"system\",\"external_id\":\"iot-sensor-42\",\"category\":\"UM01001\",\"metrics\":{\"water_level_cm\":37.25,"
	"\"battery\":88,\"alarms\":[[1,2],[3,[4,5]],[]]},\"reporter\":{\"name\":\"系統\",\"phone\":\"\"},\"note\":\"\xF0\x9F\x9A\xA7 施工\"}",
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, the same run every time */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* Bytes worth inserting: structure, number parts, escapes, UTF-8 pieces, controls. */
static const unsigned char interesting[] = {
	'{', '}', '[', ']', ':', ',', '"', '\\', '/', 'u', 'n', 't', 'f', 'e', 'E', '.', '-', '+', '0',
	'1', '9', ' ', '\t', '\n', '\r', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
	0xE0, 0xE4, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F, 0x8F, 0x90, 'a', 'x',
};

#define MUTATIONS 200000
#define MUT_CAP 1024

static size_t mutate(unsigned char *b, size_t n)
{
	int steps = 1 + (int)(rng() % 3);
	for (int s = 0; s < steps; s++) {
		uint64_t r = rng();
		size_t at = n ? (size_t)(r >> 8) % n : 0;
		switch (r % 7) {
		case 0: /* bit flip */
			if (n)
				b[at] ^= (unsigned char)(1u << ((r >> 40) % 8));
			break;
		case 1: /* replace with an interesting byte */
			if (n)
				b[at] = interesting[(r >> 40) % sizeof interesting];
			break;
		case 2: /* insert an interesting byte */
			if (n + 1 < MUT_CAP) {
				memmove(b + at + 1, b + at, n - at);
				b[at] = interesting[(r >> 40) % sizeof interesting];
				n++;
			}
			break;
		case 3: /* delete a short run */
			if (n) {
				size_t k = 1 + (size_t)((r >> 40) % 4);
				if (k > n - at)
					k = n - at;
				memmove(b + at, b + at + k, n - at - k);
				n -= k;
			}
			break;
		case 4: /* truncate */
			n = at;
			break;
		case 5: /* duplicate a short run (repeats keys, digits, brackets) */
			if (n) {
				size_t k = 1 + (size_t)((r >> 40) % 12);
				if (k > n - at)
					k = n - at;
				if (n + k < MUT_CAP) {
					memmove(b + at + k, b + at, n - at);
					n += k;
				}
			}
			break;
		default: /* random byte */
			if (n)
				b[at] = (unsigned char)(r >> 40);
			break;
		}
	}
	return n;
}

static void test_mutations(void)
{
	size_t nb = sizeof bodies / sizeof bodies[0];
	for (size_t i = 0; i < nb; i++) {
		bool jok;
		int handled = differ(bodies[i], strlen(bodies[i]), &jok);
		CHECK(jok);
		CHECK_INT_EQ(handled, 1);
	}
	unsigned char *b = xmalloc(MUT_CAP);
	long handled = 0, jansson_ok = 0, missed = 0;
	for (long m = 0; m < MUTATIONS; m++) {
		const char *src = bodies[(size_t)m % nb];
		size_t n = strlen(src);
		memcpy(b, src, n);
		n = mutate(b, n);
		bool jok;
		int before = test_failures_in_case;
		int h = differ((const char *)b, n, &jok);
		if (test_failures_in_case != before) {
			fprintf(stderr, "    mutation %ld failed\n", m);
			break;
		}
		handled += h;
		jansson_ok += jok;
		missed += jok && !h;
	}
	xfree(b);
	printf("  mutations: %d, handled by the fast path: %ld, accepted by jansson: %ld, "
	       "accepted by jansson but left to it: %ld\n",
	       MUTATIONS, handled, jansson_ok, missed);
	CHECK(handled > 0);
}

/* ---- through json_parse_request ------------------------------------------------------------ */

/* What json_parse_request answered before the fast path, for input jansson refuses and that is
 * not too deep: the same code and message, built here from a direct json_loadb. */
static void expected_problem(const char *data, size_t len, struct json_problem *want)
{
	json_error_t e;
	json_t *v = json_loadb(data, len, FLAGS, &e);
	if (v) {
		json_decref(v);
		json_problem_set(want, 422, "not_an_object", NULL, "the request body must be a JSON object");
		return;
	}
	const char *code = "invalid_json";
	if (json_error_code(&e) == json_error_invalid_utf8)
		code = "invalid_utf8";
	else if (json_error_code(&e) == json_error_duplicate_key)
		code = "duplicate_key";
	char text[JSON_ERROR_TEXT_LENGTH];
	size_t i = 0;
	for (; e.text[i] && i + 1 < sizeof text; i++) {
		unsigned char c = (unsigned char)e.text[i];
		text[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	text[i] = '\0';
	json_problem_set(want, 400, code, NULL, "invalid JSON at line %d column %d (byte %ld): %s",
			 e.line, e.column, (long)e.position, text);
	want->line = e.line;
	want->column = e.column;
	want->position = (long)e.position;
}

static void test_parse_request(void)
{
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		const struct input *in = &inputs[i];
		size_t len = in->len ? in->len : strlen(in->text);
		size_t ws = 0;
		while (ws < len && strchr(" \t\r\n", in->text[ws]) && in->text[ws])
			ws++;
		if (ws == len)
			continue; /* the empty-body message is json.c's own, checked below */
		json_t *got = NULL;
		struct json_problem p;
		memset(&p, 0, sizeof p);
		enum cd_err rc = json_parse_request(in->text, len, &got, &p);
		json_error_t e;
		json_t *ref = json_loadb(in->text, len, FLAGS, &e);
		if (ref && json_is_object(ref)) {
			CHECK_INT_EQ(rc, CD_OK);
			CHECK(got && same_tree(got, ref));
		} else {
			struct json_problem want;
			expected_problem(in->text, len, &want);
			CHECK_INT_EQ(rc, CD_ERR_INVALID);
			CHECK(got == NULL);
			CHECK_INT_EQ(p.status, want.status);
			CHECK_STR_EQ(p.code, want.code);
			CHECK_STR_EQ(p.message, want.message);
			CHECK_INT_EQ(p.line, want.line);
			CHECK_INT_EQ(p.column, want.column);
			CHECK_INT_EQ(p.position, want.position);
		}
		json_decref(got);
		json_decref(ref);
	}
}

static enum cd_err parse(const char *s, json_t **out, struct json_problem *p)
{
	return json_parse_request(s, strlen(s), out, p);
}

static void test_parse_request_codes(void)
{
	json_t *v = NULL;
	struct json_problem p;

	CHECK_INT_EQ(parse(BENCH_BODY, &v, &p), CD_OK);
	CHECK(v && json_is_real(json_object_get(v, "lat")));
	CHECK_STR_EQ(json_string_value(json_object_get(v, "description")), "东门老街路口井盖缺失，很危险");
	json_decref(v);

	CHECK_INT_EQ(parse("{\"a\":1,\"a\":2}", &v, &p), CD_ERR_INVALID);
	CHECK_INT_EQ(p.status, 400);
	CHECK_STR_EQ(p.code, "duplicate_key");
	CHECK_STR_EQ(p.message, "invalid JSON at line 1 column 10 (byte 10): duplicate object key near '\"a\"'");

	CHECK_INT_EQ(parse("{\"a\":\"\xED\xA0\x80\"}", &v, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "invalid_utf8");

	CHECK_INT_EQ(parse("{\"a\":01}", &v, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "invalid_json");

	CHECK_INT_EQ(parse("{\"a\":1e999}", &v, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "invalid_json");

	char deep[256];
	size_t n = nested(deep, sizeof deep, JSON_MAX_DEPTH, "[", "]");
	CHECK_INT_EQ(json_parse_request(deep, n, &v, &p), CD_ERR_INVALID);
	CHECK_INT_EQ(p.status, 400);
	CHECK_STR_EQ(p.code, "too_deep");
	CHECK_STR_EQ(p.message, "JSON nested deeper than 32 levels at line 1 column 37 (byte 36)");
	CHECK_INT_EQ(p.position, 36);

	n = nested(deep, sizeof deep, JSON_MAX_DEPTH - 1, "[", "]");
	CHECK_INT_EQ(json_parse_request(deep, n, &v, &p), CD_OK);
	json_decref(v);

	CHECK_INT_EQ(parse("[1,2]", &v, &p), CD_ERR_INVALID);
	CHECK_INT_EQ(p.status, 422);
	CHECK_STR_EQ(p.code, "not_an_object");

	CHECK_INT_EQ(parse(" \n ", &v, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "invalid_json");
	CHECK_STR_EQ(p.message,
		     "invalid JSON at line 2 column 1 (byte 3): the request body is empty, a JSON object is expected");

	/* \u escapes still work (through jansson) */
	CHECK_INT_EQ(parse("{\"a\":\"\\u4e1c\"}", &v, &p), CD_OK);
	CHECK_STR_EQ(json_string_value(json_object_get(v, "a")), "东");
	json_decref(v);
}

/* Valid mutants through json_parse_request agree with jansson's tree. */
static void test_parse_request_bodies(void)
{
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		json_t *v = NULL, *ref;
		struct json_problem p;
		CHECK_INT_EQ(parse(bodies[i], &v, &p), CD_OK);
		ref = json_loads(bodies[i], FLAGS, NULL);
		CHECK(v && ref && same_tree(v, ref));
		json_decref(v);
		json_decref(ref);
	}
}

static const struct test_case tests[] = {
	{"table", test_table},
	{"depth", test_depth},
	{"long_strings", test_long_strings},
	{"mutations", test_mutations},
	{"parse_request", test_parse_request},
	{"parse_request_codes", test_parse_request_codes},
	{"parse_request_bodies", test_parse_request_bodies},
};
TEST_MAIN(tests)
