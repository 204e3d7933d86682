/* Strict JSON request reading and field getters that name the field; see json.h.
 * jansson already checks UTF-8 strictly and reports line/column/position; we add a nesting
 * cap (checked by a cheap pre-scan so jansson's recursion never goes deep) and 422 problems. */
#include "util/json.h"
#include "util/json_fast.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Copies at most cap-1 bytes of src into dst, cutting only on a UTF-8 character boundary
 * so a truncated copy is still valid UTF-8 (src is assumed valid, as jansson guarantees). */
static void copy_utf8(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Copies text that may hold raw input bytes (jansson's "near '...'"), keeping only printable
 * ASCII so the error message we send back is always valid UTF-8 without control bytes. */
static void copy_ascii(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

__attribute__((format(printf, 5, 0)))
static void problem_vset(struct json_problem *p, int status, const char *code, const char *field,
			 const char *fmt, va_list ap)
{
	p->status = status;
	copy_utf8(p->code, sizeof p->code, code);
	copy_utf8(p->field, sizeof p->field, field ? field : "");
	vsnprintf(p->message, sizeof p->message, fmt, ap);
	/* vsnprintf may cut a multi-byte character in half: trim back to a boundary */
	size_t n = strlen(p->message);
	if (n == sizeof p->message - 1) {
		size_t k = n;
		while (k > 0 && ((unsigned char)p->message[k - 1] & 0xC0) == 0x80)
			k--;
		/* k-1 is now the lead byte of the last character (or an ASCII byte) */
		if (k > 0 && ((unsigned char)p->message[k - 1] & 0xC0) == 0xC0) {
			unsigned char lead = (unsigned char)p->message[k - 1];
			size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
			if (n - (k - 1) < want)
				p->message[k - 1] = '\0';
		}
	}
	p->line = 0;
	p->column = 0;
	p->position = -1;
}

void json_problem_set(struct json_problem *p, int status, const char *code, const char *field,
		      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	problem_vset(p, status, code, field, fmt, ap);
	va_end(ap);
}

/* Finds the first place where nesting exceeds JSON_MAX_DEPTH, outside strings. Counts lines
 * and columns the way jansson does (columns in characters, 1-based) so positions agree.
 * Returns true and fills *p when the input is too deep. */
static bool too_deep(const char *data, size_t len, struct json_problem *p)
{
	int depth = 0, line = 1, column = 0;
	bool in_string = false, escaped = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\n') {
			line++;
			column = 0;
		} else if ((c & 0xC0) != 0x80) {
			column++;
		}
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > JSON_MAX_DEPTH) {
				json_problem_set(p, 400, "too_deep", NULL,
						 "JSON nested deeper than %d levels at line %d column %d (byte %zu)",
						 JSON_MAX_DEPTH, line, column, i);
				p->line = line;
				p->column = column;
				p->position = (long)i;
				return true;
			}
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
		}
	}
	return false;
}

enum cd_err json_parse_request(const char *data, size_t len, json_t **out, struct json_problem *p)
{
	*out = NULL;
	size_t i = 0;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
		i++;
	if (i == len) {
		int line = 1, column = 0;
		for (size_t k = 0; k < len; k++) {
			if (data[k] == '\n') {
				line++;
				column = 0;
			} else {
				column++;
			}
		}
		json_problem_set(p, 400, "invalid_json", NULL,
				 "invalid JSON at line %d column %d (byte %zu): the request body is empty, a JSON object is expected",
				 line, column, len);
		p->line = line;
		p->column = column;
		p->position = (long)len;
		return CD_ERR_INVALID;
	}
	/* the common well-formed object without jansson's lexer; anything else goes on as before */
	if (json_fast_parse(data, len, out))
		return CD_OK;
	if (too_deep(data, len, p))
		return CD_ERR_INVALID;

	json_error_t e;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!v) {
		const char *code = "invalid_json";
		switch (json_error_code(&e)) {
		case json_error_invalid_utf8: code = "invalid_utf8"; break;
		case json_error_duplicate_key: code = "duplicate_key"; break;
		default: break;
		}
		char text[JSON_ERROR_TEXT_LENGTH];
		copy_ascii(text, sizeof text, e.text);
		json_problem_set(p, 400, code, NULL, "invalid JSON at line %d column %d (byte %ld): %s",
				 e.line, e.column, (long)e.position, text);
		p->line = e.line;
		p->column = e.column;
		p->position = (long)e.position;
		return CD_ERR_INVALID;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		json_problem_set(p, 422, "not_an_object", NULL, "the request body must be a JSON object");
		return CD_ERR_INVALID;
	}
	*out = v;
	return CD_OK;
}

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Common start of every getter: finds the field and settles absent/null.
 * Returns 1 when *v holds a value to check, 0 when absent and fine, -1 on a problem. */
static int lookup(const json_t *obj, const char *field, unsigned flags, const json_t **v,
		  struct json_problem *p)
{
	if (!json_is_object(obj)) {
		json_problem_set(p, 422, "not_an_object", NULL, "expected a JSON object holding \"%s\"", field);
		return -1;
	}
	*v = json_object_get(obj, field);
	if (!*v || json_is_null(*v)) {
		if (!(flags & JSON_REQUIRED))
			return 0;
		json_problem_set(p, 422, "missing_field", field, "\"%s\" is required", field);
		return -1;
	}
	return 1;
}

static enum cd_err wrong_type(const char *field, const char *want, const json_t *v,
			      struct json_problem *p)
{
	json_problem_set(p, 422, "invalid_field", field, "\"%s\" must be %s, not %s", field, want,
			 type_name(json_typeof(v)));
	return CD_ERR_INVALID;
}

enum cd_err json_get_string(const json_t *obj, const char *field, unsigned flags, size_t max_chars,
			    const char **out, struct json_problem *p)
{
	const json_t *v;
	int r = lookup(obj, field, flags, &v, p);
	if (r <= 0)
		return r ? CD_ERR_INVALID : CD_OK;
	if (!json_is_string(v))
		return wrong_type(field, "a string", v, p);
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (max_chars) {
		size_t chars = 0;
		for (size_t i = 0; i < len; i++)
			chars += ((unsigned char)s[i] & 0xC0) != 0x80;
		if (chars > max_chars) {
			json_problem_set(p, 422, "invalid_field", field,
					 "\"%s\" is longer than %zu characters", field, max_chars);
			return CD_ERR_INVALID;
		}
	}
	if (flags & JSON_NONEMPTY) {
		size_t i = 0;
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		if (i == len) {
			json_problem_set(p, 422, "invalid_field", field, "\"%s\" must not be empty", field);
			return CD_ERR_INVALID;
		}
	}
	*out = s;
	return CD_OK;
}

enum cd_err json_get_int(const json_t *obj, const char *field, unsigned flags, long long min,
			 long long max, long long *out, struct json_problem *p)
{
	const json_t *v;
	int r = lookup(obj, field, flags, &v, p);
	if (r <= 0)
		return r ? CD_ERR_INVALID : CD_OK;
	if (!json_is_integer(v))
		return wrong_type(field, "an integer", v, p);
	long long x = (long long)json_integer_value(v);
	if (x < min || x > max) {
		json_problem_set(p, 422, "invalid_field", field, "\"%s\" must be between %lld and %lld",
				 field, min, max);
		return CD_ERR_INVALID;
	}
	*out = x;
	return CD_OK;
}

enum cd_err json_get_double(const json_t *obj, const char *field, unsigned flags, double min,
			    double max, double *out, struct json_problem *p)
{
	const json_t *v;
	int r = lookup(obj, field, flags, &v, p);
	if (r <= 0)
		return r ? CD_ERR_INVALID : CD_OK;
	if (!json_is_number(v))
		return wrong_type(field, "a number", v, p);
	double x = json_number_value(v);
	if (!(x >= min && x <= max)) {
		json_problem_set(p, 422, "invalid_field", field, "\"%s\" must be between %g and %g",
				 field, min, max);
		return CD_ERR_INVALID;
	}
	*out = x;
	return CD_OK;
}

enum cd_err json_get_bool(const json_t *obj, const char *field, unsigned flags, bool *out,
			  struct json_problem *p)
{
	const json_t *v;
	int r = lookup(obj, field, flags, &v, p);
	if (r <= 0)
		return r ? CD_ERR_INVALID : CD_OK;
	if (!json_is_boolean(v))
		return wrong_type(field, "true or false", v, p);
	*out = json_is_true(v);
	return CD_OK;
}

enum cd_err json_get_value(const json_t *obj, const char *field, unsigned flags, json_type type,
			   const json_t **out, struct json_problem *p)
{
	const json_t *v;
	int r = lookup(obj, field, flags, &v, p);
	if (r <= 0)
		return r ? CD_ERR_INVALID : CD_OK;
	if (json_typeof(v) != type)
		return wrong_type(field, type_name(type), v, p);
	*out = v;
	return CD_OK;
}

enum cd_err json_check_fields(const json_t *obj, const char *const *allowed, struct json_problem *p)
{
	if (!json_is_object(obj)) {
		json_problem_set(p, 422, "not_an_object", NULL, "expected a JSON object");
		return CD_ERR_INVALID;
	}
	json_t *o = (json_t *)(uintptr_t)obj; /* jansson's iterator API is not const-correct */
	const char *key;
	json_t *value;
	/* jansson iterates in insertion order, so the first unknown key in the text is named */
	json_object_foreach(o, key, value) {
		(void)value;
		bool known = false;
		for (const char *const *a = allowed; *a; a++) {
			if (strcmp(*a, key) == 0) {
				known = true;
				break;
			}
		}
		if (!known) {
			json_problem_set(p, 422, "unknown_field", key, "unknown field \"%s\"", key);
			return CD_ERR_INVALID;
		}
	}
	return CD_OK;
}

/* ---- writing ---------------------------------------------------------------------------- */

void json_w_raw(struct json_writer *w, const char *text, size_t n)
{
	if (!w->rc)
		w->rc = buf_append(w->b, text, n);
}

void json_w_str(struct json_writer *w, const char *s)
{
	if (!s) {
		json_w_raw(w, "null", 4);
		return;
	}
	json_w_raw(w, "\"", 1);
	/* Runs of bytes that need no escape go in with one append each. */
	const unsigned char *p = (const unsigned char *)s, *run = p;
	for (; *p; p++) {
		unsigned char ch = *p;
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		json_w_raw(w, (const char *)run, (size_t)(p - run));
		run = p + 1;
		char esc[8];
		switch (ch) {
		case '"': json_w_raw(w, "\\\"", 2); break;
		case '\\': json_w_raw(w, "\\\\", 2); break;
		case '\b': json_w_raw(w, "\\b", 2); break;
		case '\f': json_w_raw(w, "\\f", 2); break;
		case '\n': json_w_raw(w, "\\n", 2); break;
		case '\r': json_w_raw(w, "\\r", 2); break;
		case '\t': json_w_raw(w, "\\t", 2); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04X", (unsigned)ch); /* jansson's upper case */
			json_w_raw(w, esc, 6);
		}
	}
	json_w_raw(w, (const char *)run, (size_t)(p - run));
	json_w_raw(w, "\"", 1);
}

void json_w_str_or_null(struct json_writer *w, const char *s)
{
	json_w_str(w, s && *s ? s : NULL);
}

void json_w_int(struct json_writer *w, long long v)
{
	char tmp[24];
	char *p = tmp + sizeof tmp;
	/* Digits from the right, on the magnitude as unsigned (LLONG_MIN has no positive twin). */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	json_w_raw(w, p, (size_t)(tmp + sizeof tmp - p));
}

__extension__ typedef unsigned __int128 u128; /* GCC's and Clang's; -pedantic asks for the mark */

/* "%.17g" of v into out (at least 24 bytes) by exact integer arithmetic, for the finite
 * values 1e-4 <= |v| < 1e16 that are not integers too large for a fraction (every coordinate,
 * confidence and limit citydesk writes): returns the length, or 0 to leave v to snprintf.
 * glibc formats through multi-precision arithmetic, ~0.7 us per number; this is the same
 * answer (v * 10^k rounded half to even, as glibc does in the default rounding mode, then %g's
 * trailing zeros dropped), checked against snprintf in tests/unit/test_json_write.c. */
static size_t real_g17(double v, char *out)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	int biased = (int)((bits >> 52) & 0x7ff);
	if (biased == 0 || biased == 0x7ff)
		return 0; /* zero, subnormal, infinite, NaN */
	uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
	int shift = 1075 - biased; /* |v| = m / 2^shift */
	double a = fabs(v);
	if (shift <= 0 || shift > 120 || a < 1e-4 || a >= 1e16)
		return 0;
	static const uint64_t pow10[] = {
	    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
	    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
	    1000000000000000000ULL, 10000000000000000000ULL};
	/* x = the decimal exponent of v's first digit: a guess, corrected until the 17 digits
	 * q = round(|v| * 10^(16 - x)) really are 17 (rounding up may carry into an 18th). */
	int x = (int)floor(log10(a));
	uint64_t q = 0;
	for (int tries = 0;; tries++) {
		int k = 16 - x; /* 0..20 in this range */
		if (tries == 3 || k < 0 || k > 20)
			return 0;
		u128 p10 = k <= 19 ? (u128)pow10[k] : (u128)pow10[19] * 10;
		u128 prod = (u128)m * p10; /* < 2^53 * 2^67 */
		u128 qq = prod >> shift;
		u128 rem = prod - (qq << shift);
		u128 half = (u128)1 << (shift - 1);
		if (rem > half || (rem == half && (qq & 1)))
			qq++;
		if (qq >= pow10[17]) {
			x++;
			continue;
		}
		if (qq < pow10[16]) {
			x--;
			continue;
		}
		q = (uint64_t)qq;
		break;
	}
	char d[17];
	for (int i = 16; i >= 0; i--) {
		d[i] = (char)('0' + q % 10);
		q /= 10;
	}
	int last = 16; /* %g drops the fraction's trailing zeros */
	while (last > x && last > 0 && d[last] == '0')
		last--;
	size_t n = 0;
	if (v < 0)
		out[n++] = '-';
	if (x >= 0) {
		memcpy(out + n, d, (size_t)x + 1);
		n += (size_t)x + 1;
		if (last > x) {
			out[n++] = '.';
			memcpy(out + n, d + x + 1, (size_t)(last - x));
			n += (size_t)(last - x);
		}
	} else {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -x - 1; i++)
			out[n++] = '0';
		memcpy(out + n, d, (size_t)last + 1);
		n += (size_t)last + 1;
	}
	out[n] = '\0';
	return n;
}

void json_w_real(struct json_writer *w, double v)
{
	/* jansson (dump.c, jsonp_dtostr): "%.17g", ".0" added when neither "." nor "e" shows,
	 * and the exponent's "+" and leading zeros dropped (1e+21 -> 1e21, 1e-07 -> 1e-7). */
	char tmp[40];
	size_t fast = real_g17(v, tmp);
	int n = fast ? (int)fast : snprintf(tmp, sizeof tmp, "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof tmp - 2) {
		if (!w->rc)
			w->rc = CD_ERR_INVALID;
		return;
	}
	if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	char *e = strchr(tmp, 'e');
	if (e) {
		char *start = e + 1, *end = e + 1;
		if (*start == '+') {
			end++; /* "+" goes */
		} else if (*start == '-') {
			start++;
			end++;
		}
		while (*end == '0' && end[1])
			end++;
		memmove(start, end, strlen(end) + 1);
		n = (int)strlen(tmp);
	}
	json_w_raw(w, tmp, (size_t)n);
}

void json_w_bool(struct json_writer *w, bool v)
{
	if (v)
		json_w_raw(w, "true", 4);
	else
		json_w_raw(w, "false", 5);
}
