/* Tests for util/json: strict request parsing with positions, field getters that name the
 * field, unknown-field detection, and problems that stay valid UTF-8 when truncated. */
#include "util/json.h"

#include "test.h"

/* True when s is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF). */
static int valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
		if (!n)
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		if (n == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)))
			return 0;
		if (n == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)))
			return 0;
		p += n;
	}
	return 1;
}

static void test_parse_ok(void)
{
	json_t *v = NULL;
	struct json_problem p;
	const char s[] = " {\"a\": [1, {\"b\": \"\xe7\xbd\x97\xe6\xb9\x96\"}], \"c\": null}\n";
	CHECK_INT_EQ(json_parse_request(s, sizeof s - 1, &v, &p), CD_OK);
	CHECK(json_is_object(v));
	json_decref(v);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *in;
		size_t len; /* 0 = strlen */
		int status;
		const char *code;
		int line;      /* expected line, 0 = don't check */
		long position; /* expected byte offset, -2 = don't check */
	} cases[] = {
		{"", 0, 400, "invalid_json", 1, 0},
		{"   \n ", 0, 400, "invalid_json", 0, -2},
		{"{\"a\":1,}", 0, 400, "invalid_json", 1, -2},
		{"{\"a\":1}\n\n{", 0, 400, "invalid_json", 3, -2},
		{"{\"a\":\n\n  tru}", 0, 400, "invalid_json", 3, -2},
		{"{\"a\":\"\xff\"}", 0, 400, "invalid_utf8", 1, -2},
		{"{\"a\":\"\xc0\x80\"}", 0, 400, "invalid_utf8", 1, -2},          /* overlong NUL */
		{"{\"a\":\"\xed\xa0\x80\"}", 0, 400, "invalid_utf8", 1, -2},      /* UTF-16 surrogate */
		{"{\"a\":\"\xf4\x90\x80\x80\"}", 0, 400, "invalid_utf8", 1, -2},  /* past U+10FFFF */
		{"{\"a\":\"x\\u0000y\"}", 0, 400, "invalid_json", 1, -2},         /* NUL escape */
		{"{\"a\":\"x\0y\"}", 12, 400, "invalid_json", 1, -2},              /* raw NUL */
		{"{\"a\":1,\"a\":2}", 0, 400, "duplicate_key", 1, -2},
		{"{\"a\":1} x", 0, 400, "invalid_json", 1, -2},
		{"[1,2,3]", 0, 422, "not_an_object", 0, -1},
		{"\"str\"", 0, 422, "not_an_object", 0, -1},
		{"42", 0, 422, "not_an_object", 0, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *v = (json_t *)1;
		struct json_problem p;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		CHECK_INT_EQ(json_parse_request(cases[i].in, len, &v, &p), CD_ERR_INVALID);
		CHECK(v == NULL);
		CHECK_INT_EQ(p.status, cases[i].status);
		CHECK_STR_EQ(p.code, cases[i].code);
		CHECK_STR_EQ(p.field, "");
		if (cases[i].line)
			CHECK_INT_EQ(p.line, cases[i].line);
		if (cases[i].position != -2)
			CHECK_INT_EQ(p.position, cases[i].position);
		if (p.status == 400)
			CHECK(strstr(p.message, "line ") != NULL);
		CHECK(valid_utf8(p.message));
	}
}

static void test_error_message_is_clean(void)
{
	/* jansson quotes the bad token; raw bytes in it must not reach our error message */
	const char s[] = "{\"a\": \x01\x02zz\x7f}";
	json_t *v;
	struct json_problem p;
	CHECK_INT_EQ(json_parse_request(s, sizeof s - 1, &v, &p), CD_ERR_INVALID);
	for (const char *m = p.message; *m; m++)
		CHECK((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
}

static void test_depth(void)
{
	char buf[256];
	json_t *v;
	struct json_problem p;
	/* 1 object + 31 arrays = 32 levels: fine */
	size_t n = 0;
	buf[n++] = '{';
	memcpy(buf + n, "\"a\":", 4);
	n += 4;
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		buf[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	CHECK_INT_EQ(json_parse_request(buf, n, &v, &p), CD_OK);
	json_decref(v);
	/* one more level: too deep, naming the position of the bracket that crossed the line */
	n = 0;
	buf[n++] = '{';
	memcpy(buf + n, "\"a\":", 4);
	n += 4;
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	CHECK_INT_EQ(json_parse_request(buf, n, &v, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "too_deep");
	CHECK_INT_EQ(p.status, 400);
	CHECK_INT_EQ(p.position, 5 + JSON_MAX_DEPTH - 1);
	/* brackets inside strings (even after escaped quotes) do not count */
	char s[200];
	int k = snprintf(s, sizeof s, "{\"a\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}");
	CHECK_INT_EQ(json_parse_request(s, (size_t)k, &v, &p), CD_OK);
	json_decref(v);
}

static json_t *obj(const char *text)
{
	json_t *v = NULL;
	struct json_problem p;
	if (json_parse_request(text, strlen(text), &v, &p))
		return NULL;
	return v;
}

static void test_get_string(void)
{
	json_t *o = obj("{\"s\":\"\xe7\xbd\x97\xe6\xb9\x96\xe5\x8c\xba\",\"n\":1,\"e\":\" \",\"z\":null}");
	CHECK(o != NULL);
	struct json_problem p;
	const char *s = "default";
	CHECK_INT_EQ(json_get_string(o, "s", JSON_REQUIRED, 3, &s, &p), CD_OK);
	CHECK_STR_EQ(s, "\xe7\xbd\x97\xe6\xb9\x96\xe5\x8c\xba");
	/* three characters (nine bytes): a limit of 2 characters refuses it */
	CHECK_INT_EQ(json_get_string(o, "s", JSON_REQUIRED, 2, &s, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "invalid_field");
	CHECK_STR_EQ(p.field, "s");
	CHECK_INT_EQ(p.status, 422);
	CHECK_INT_EQ(json_get_string(o, "n", JSON_OPTIONAL, 0, &s, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.field, "n");
	CHECK(strstr(p.message, "must be a string") != NULL);
	CHECK_INT_EQ(json_get_string(o, "e", JSON_NONEMPTY, 0, &s, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.field, "e");
	s = "default";
	CHECK_INT_EQ(json_get_string(o, "absent", JSON_OPTIONAL, 0, &s, &p), CD_OK);
	CHECK_STR_EQ(s, "default");
	CHECK_INT_EQ(json_get_string(o, "z", JSON_OPTIONAL, 0, &s, &p), CD_OK);
	CHECK_STR_EQ(s, "default");
	CHECK_INT_EQ(json_get_string(o, "absent", JSON_REQUIRED, 0, &s, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "missing_field");
	CHECK_STR_EQ(p.field, "absent");
	CHECK_INT_EQ(json_get_string(o, "z", JSON_REQUIRED, 0, &s, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "missing_field");
	json_decref(o);
}

static void test_get_numbers(void)
{
	json_t *o = obj("{\"i\":42,\"neg\":-7,\"r\":2.5,\"big\":1e3,\"s\":\"3\",\"t\":true}");
	CHECK(o != NULL);
	struct json_problem p;
	long long i = -1;
	double d = -1;
	bool b = false;
	CHECK_INT_EQ(json_get_int(o, "i", JSON_REQUIRED, 0, 100, &i, &p), CD_OK);
	CHECK_INT_EQ(i, 42);
	CHECK_INT_EQ(json_get_int(o, "neg", JSON_REQUIRED, 0, 100, &i, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.field, "neg");
	CHECK_INT_EQ(i, 42); /* untouched on failure */
	CHECK_INT_EQ(json_get_int(o, "r", JSON_REQUIRED, 0, 100, &i, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.field, "r");
	CHECK_INT_EQ(json_get_int(o, "s", JSON_REQUIRED, 0, 100, &i, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "invalid_field");
	CHECK_INT_EQ(json_get_double(o, "r", JSON_REQUIRED, -90, 90, &d, &p), CD_OK);
	CHECK_NEAR(d, 2.5, 0);
	CHECK_INT_EQ(json_get_double(o, "i", JSON_REQUIRED, -90, 90, &d, &p), CD_OK); /* ints are numbers */
	CHECK_NEAR(d, 42, 0);
	CHECK_INT_EQ(json_get_double(o, "big", JSON_REQUIRED, -90, 90, &d, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.field, "big");
	CHECK_INT_EQ(json_get_bool(o, "t", JSON_REQUIRED, &b, &p), CD_OK);
	CHECK(b);
	CHECK_INT_EQ(json_get_bool(o, "i", JSON_REQUIRED, &b, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.field, "i");
	const json_t *sub = NULL;
	CHECK_INT_EQ(json_get_value(o, "i", JSON_REQUIRED, JSON_ARRAY, &sub, &p), CD_ERR_INVALID);
	CHECK(strstr(p.message, "must be an array") != NULL);
	json_decref(o);
}

static void test_check_fields(void)
{
	static const char *const allowed[] = {"title", "lat", "lng", NULL};
	json_t *ok = obj("{\"title\":\"x\",\"lat\":22.5}");
	json_t *bad = obj("{\"title\":\"x\",\"zeta\":1,\"alpha\":2}");
	struct json_problem p;
	CHECK_INT_EQ(json_check_fields(ok, allowed, &p), CD_OK);
	CHECK_INT_EQ(json_check_fields(bad, allowed, &p), CD_ERR_INVALID);
	CHECK_STR_EQ(p.code, "unknown_field");
	CHECK_STR_EQ(p.field, "zeta"); /* the first one in the document, not alphabetically */
	CHECK_INT_EQ(p.status, 422);
	json_decref(ok);
	json_decref(bad);
}

static void test_problem_truncation_keeps_utf8(void)
{
	/* a long key of three-byte characters: field and message are cut on character boundaries */
	char key[600];
	size_t n = 0;
	for (int i = 0; i < 150; i++) {
		memcpy(key + n, "\xe7\xbd\x97", 3);
		n += 3;
	}
	key[n] = '\0';
	for (int shift = 0; shift < 3; shift++) {
		struct json_problem p;
		json_problem_set(&p, 422, "unknown_field", key + 0, "%.*sunknown field \"%s\"", shift, "ab", key);
		CHECK(valid_utf8(p.message));
		CHECK(valid_utf8(p.field));
		CHECK(strlen(p.field) % 3 == 0);
		CHECK(strlen(p.message) > 200);
	}
}

static const struct test_case tests[] = {
	{"parse_ok", test_parse_ok},
	{"parse_errors", test_parse_errors},
	{"error_message_is_clean", test_error_message_is_clean},
	{"depth", test_depth},
	{"get_string", test_get_string},
	{"get_numbers", test_get_numbers},
	{"check_fields", test_check_fields},
	{"problem_truncation_keeps_utf8", test_problem_truncation_keeps_utf8},
};

TEST_MAIN(tests)
