/* Recursive-descent JSON parser for request bodies that builds jansson's tree straight from the
 * body bytes; jansson's own lexer reads through a stream a character at a time and copies each
 * token into a growable buffer, which was ~3.5 us of a 200-byte case body. Anything unusual is
 * "not handled" and goes to jansson, so only the common, fully checked case is ours. */
#include "util/json_fast.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define KEY_BUF 128     /* unescaped key with simple escapes; longer ones fall back */
#define STR_BUF 4096    /* unescaped string value with simple escapes; longer ones fall back */
#define REAL_MAX 63     /* longest real token passed to strtod; longer ones fall back */
#define INT_DIGITS 18   /* 18 decimal digits always fit json_int_t (long long) */

/* Where the parse stands; every read checks p < end first. */
struct fast {
	const unsigned char *p;   /* next byte */
	const unsigned char *end; /* one past the last byte of the body */
};

/* Bytes a string can hold as they are: printable ASCII other than '"' and '\\'. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),             /* 0x00-0x1f: control, refused */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' (0x22) not plain */
	R16(1), R16(1),             /* 0x30-0x4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f: '\\' (0x5c) not plain */
	R16(1),                     /* 0x60-0x6f */
	R16(1),                     /* 0x70-0x7f: DEL is allowed in JSON strings */
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x80-0xff: UTF-8 */
#undef R16
};

static void skip_ws(struct fast *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

/* Length (2-4) of the well-formed UTF-8 sequence at p, or 0: no overlongs (C0, C1, E0 80-9F,
 * F0 80-8F), no surrogates (ED A0-BF), nothing past U+10FFFF (F4 90+, F5-FF), no stray
 * continuation bytes, no sequence cut by the end of the body. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xBF;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		n = 2;
	} else if (c < 0xF0) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c < 0xF5) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Reads a string whose opening quote was just consumed. On success *s and *n are the string's
 * bytes: a pointer into the body when it has no escapes, else into buf (cap bytes), unescaped.
 * Fails on a control byte, bad UTF-8, a \u or unknown escape, no closing quote, or an escaped
 * string that does not fit buf. */
static bool read_string(struct fast *f, char *buf, size_t cap, const char **s, size_t *n)
{
	const unsigned char *start = f->p, *p = f->p, *end = f->end;
	bool escaped = false;
	for (;;) {
		while (p < end && plain[*p])
			p++;
		if (p >= end)
			return false;
		unsigned c = *p;
		if (c == '"')
			break;
		if (c == '\\') {
			if (end - p < 2)
				return false;
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			default: /* \u (left to jansson) or not an escape at all */
				return false;
			}
			escaped = true;
			p += 2;
		} else if (c >= 0x80) {
			size_t k = utf8_seq(p, end);
			if (!k)
				return false;
			p += k;
		} else {
			return false; /* control byte */
		}
	}
	f->p = p + 1;
	if (!escaped) {
		*s = (const char *)start;
		*n = (size_t)(p - start);
		return true;
	}
	/* unescaping only shortens, so the escaped length bounds the result */
	if ((size_t)(p - start) > cap)
		return false;
	size_t o = 0;
	for (const unsigned char *q = start; q < p; q++) {
		if (*q != '\\') {
			buf[o++] = (char)*q;
			continue;
		}
		q++;
		switch (*q) {
		case 'b': buf[o++] = '\b'; break;
		case 'f': buf[o++] = '\f'; break;
		case 'n': buf[o++] = '\n'; break;
		case 'r': buf[o++] = '\r'; break;
		case 't': buf[o++] = '\t'; break;
		default: buf[o++] = (char)*q; break; /* '"' '\\' '/' */
		}
	}
	*s = buf;
	*n = o;
	return true;
}

static bool is_digit(const struct fast *f)
{
	return f->p < f->end && *f->p >= '0' && *f->p <= '9';
}

/* A number in JSON's grammar: an integer token (no '.', no exponent) becomes json_integer as
 * jansson's strtoll would give it, anything else json_real from strtod, as jansson does. */
static json_t *read_number(struct fast *f)
{
	const unsigned char *start = f->p;
	bool neg = false;
	if (*f->p == '-') {
		neg = true;
		f->p++;
	}
	const unsigned char *digits = f->p;
	if (f->p < f->end && *f->p == '0') {
		f->p++;
		if (is_digit(f))
			return NULL; /* leading zero */
	} else if (is_digit(f)) {
		while (is_digit(f))
			f->p++;
	} else {
		return NULL;
	}
	size_t ndigits = (size_t)(f->p - digits);
	bool real = false;
	if (f->p < f->end && *f->p == '.') {
		f->p++;
		if (!is_digit(f))
			return NULL;
		while (is_digit(f))
			f->p++;
		real = true;
	}
	if (f->p < f->end && (*f->p == 'e' || *f->p == 'E')) {
		f->p++;
		if (f->p < f->end && (*f->p == '+' || *f->p == '-'))
			f->p++;
		if (!is_digit(f))
			return NULL;
		while (is_digit(f))
			f->p++;
		real = true;
	}
	if (!real) {
		if (ndigits > INT_DIGITS)
			return NULL;
		json_int_t v = 0;
		for (size_t i = 0; i < ndigits; i++)
			v = v * 10 + (json_int_t)(digits[i] - '0');
		return json_integer(neg ? -v : v);
	}
	size_t n = (size_t)(f->p - start);
	if (n > REAL_MAX)
		return NULL;
	char tok[REAL_MAX + 1];
	memcpy(tok, start, n);
	tok[n] = '\0';
	char *stop;
	double d = strtod(tok, &stop);
	if (stop != tok + n || isinf(d)) /* a ',' locale would stop early: leave it to jansson */
		return NULL;
	return json_real(d);
}

/* true, false or null: the word must be followed by a byte that cannot continue it, which the
 * caller's check for ',' '}' ']' or whitespace ensures. */
static json_t *read_word(struct fast *f, const char *word, size_t n, json_t *v)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
		return NULL;
	f->p += n;
	return v;
}

/* A string value whose opening quote was just consumed. Not inlined so that its buffer lives on
 * the stack only while a string is read, not in every level of the recursion. */
__attribute__((noinline)) static json_t *read_string_value(struct fast *f)
{
	char buf[STR_BUF];
	const char *s;
	size_t n;
	if (!read_string(f, buf, sizeof buf, &s, &n))
		return NULL;
	return json_stringn_nocheck(s, n); /* UTF-8 checked; no NUL: raw ones refused, no \u */
}

static json_t *read_value(struct fast *f, int depth);

/* True, with the close consumed, when the container just opened is empty. */
static bool closes_empty(struct fast *f, char close)
{
	skip_ws(f);
	if (f->p < f->end && *f->p == close) {
		f->p++;
		return true;
	}
	return false;
}

/* After a member or an element: 1 at the container's end (consumed), 0 after a comma (the
 * next one's whitespace skipped), -1 for anything else. */
static int next_or_end(struct fast *f, char close)
{
	skip_ws(f);
	if (f->p >= f->end)
		return -1;
	if (*f->p == close) {
		f->p++;
		return 1;
	}
	if (*f->p != ',')
		return -1;
	f->p++;
	skip_ws(f);
	return 0;
}

/* An object whose '{' was just consumed, at nesting level depth (1 = the body's object). */
static json_t *read_object(struct fast *f, int depth)
{
	json_t *obj = json_object();
	if (!obj || closes_empty(f, '}'))
		return obj;
	char keybuf[KEY_BUF];
	for (;;) {
		if (f->p >= f->end || *f->p != '"')
			goto fail;
		f->p++;
		const char *key;
		size_t klen;
		if (!read_string(f, keybuf, sizeof keybuf, &key, &klen))
			goto fail;
		skip_ws(f);
		if (f->p >= f->end || *f->p != ':')
			goto fail;
		f->p++;
		skip_ws(f);
		json_t *v = read_value(f, depth);
		if (!v)
			goto fail;
		/* a duplicate key replaces the value and leaves the size alone: one hash lookup
		 * where checking first with json_object_getn would take two */
		size_t before = json_object_size(obj);
		if (json_object_setn_new_nocheck(obj, key, klen, v) != 0) /* v freed on failure */
			goto fail;
		if (json_object_size(obj) == before)
			goto fail;
		int end = next_or_end(f, '}');
		if (end < 0)
			goto fail;
		if (end)
			return obj;
	}
fail:
	json_decref(obj);
	return NULL;
}

/* An array whose '[' was just consumed. */
static json_t *read_array(struct fast *f, int depth)
{
	json_t *arr = json_array();
	if (!arr || closes_empty(f, ']'))
		return arr;
	for (;;) {
		json_t *v = read_value(f, depth);
		if (!v || json_array_append_new(arr, v) != 0) /* v freed on failure */
			goto fail;
		int end = next_or_end(f, ']');
		if (end < 0)
			goto fail;
		if (end)
			return arr;
	}
fail:
	json_decref(arr);
	return NULL;
}

/* Any value starting at f->p (whitespace already skipped), inside a container at level depth. */
static json_t *read_value(struct fast *f, int depth)
{
	if (f->p >= f->end)
		return NULL;
	switch (*f->p) {
	case '"':
		f->p++;
		return read_string_value(f);
	case '{':
		if (depth + 1 > JSON_MAX_DEPTH)
			return NULL;
		f->p++;
		return read_object(f, depth + 1);
	case '[':
		if (depth + 1 > JSON_MAX_DEPTH)
			return NULL;
		f->p++;
		return read_array(f, depth + 1);
	case 't': return read_word(f, "true", 4, json_true());
	case 'f': return read_word(f, "false", 5, json_false());
	case 'n': return read_word(f, "null", 4, json_null());
	default:
		if (*f->p == '-' || (*f->p >= '0' && *f->p <= '9'))
			return read_number(f);
		return NULL;
	}
}

bool json_fast_parse(const char *data, size_t len, json_t **out)
{
	*out = NULL;
	struct fast f = {(const unsigned char *)data, (const unsigned char *)data + len};
	skip_ws(&f);
	if (f.p >= f.end || *f.p != '{')
		return false;
	f.p++;
	json_t *v = read_object(&f, 1);
	if (!v)
		return false;
	skip_ws(&f);
	if (f.p != f.end) {
		json_decref(v);
		return false;
	}
	*out = v;
	return true;
}
