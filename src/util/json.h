/* Strict reading of JSON request bodies on top of jansson: parse errors carry their position,
 * field getters check type and range and name the offending field, and unknown fields are
 * found against an allowed list. Failures fill a `struct json_problem` that the HTTP layer turns
 * into {"error":{...}} (400 for malformed input, 422 for well-formed input with bad values). */
#ifndef CD_UTIL_JSON_H
#define CD_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/err.h"

#define JSON_MAX_DEPTH 32 /* nesting levels accepted in a request body */

/* Why a request body was refused, ready to become an HTTP error. */
struct json_problem {
	int status;        /* 400 (malformed) or 422 (valid JSON, bad value) */
	char code[32];     /* snake_case: invalid_json, invalid_utf8, too_deep, duplicate_key,
			      not_an_object, missing_field, invalid_field, unknown_field */
	char message[256]; /* human sentence */
	char field[96];    /* offending field name, "" when none */
	int line;          /* 1-based position of a parse error, 0 otherwise */
	int column;        /* 1-based column (in bytes) of a parse error, 0 otherwise */
	long position;     /* byte offset of a parse error, -1 otherwise */
};

/* Flags for the getters. */
enum json_flags {
	JSON_OPTIONAL = 0,     /* absent (or null) is fine: *out is left unchanged */
	JSON_REQUIRED = 1 << 0, /* absent or null gives 422 missing_field */
	JSON_NONEMPTY = 1 << 1, /* strings: "" (or only spaces) gives 422 invalid_field */
};

/* Parses exactly one JSON object from data[0..len): strict UTF-8, no NUL in strings, no
 * duplicate keys, nesting at most JSON_MAX_DEPTH, nothing but whitespace after it.
 * On success *out is a new reference (json_decref it). Otherwise returns CD_ERR_INVALID and
 * fills *p: 400 with line/column/byte position for malformed input, 422 not_an_object when
 * the JSON is valid but not an object. */
enum cd_err json_parse_request(const char *data, size_t len, json_t **out,
			       struct json_problem *p) CD_MUST_CHECK;

/* Field getters. Each looks up `field` in `obj` (a JSON object). When the field is absent or
 * null and JSON_REQUIRED is not set they return CD_OK and leave *out unchanged, so set the
 * default first. A wrong type, a value out of range, or a required field missing returns
 * CD_ERR_INVALID with *p naming the field (422). */

/* A string of at most max_chars Unicode characters (0 = no limit). *out points into obj. */
enum cd_err json_get_string(const json_t *obj, const char *field, unsigned flags, size_t max_chars,
			    const char **out, struct json_problem *p) CD_MUST_CHECK;
/* An integer (no fraction, no exponent) within [min, max]. */
enum cd_err json_get_int(const json_t *obj, const char *field, unsigned flags, long long min,
			 long long max, long long *out, struct json_problem *p) CD_MUST_CHECK;
/* A number (integer or real) within [min, max]. */
enum cd_err json_get_double(const json_t *obj, const char *field, unsigned flags, double min,
			    double max, double *out, struct json_problem *p) CD_MUST_CHECK;
/* true or false. */
enum cd_err json_get_bool(const json_t *obj, const char *field, unsigned flags, bool *out,
			  struct json_problem *p) CD_MUST_CHECK;
/* A nested object or array (type JSON_OBJECT or JSON_ARRAY); *out is borrowed from obj. */
enum cd_err json_get_value(const json_t *obj, const char *field, unsigned flags, json_type type,
			   const json_t **out, struct json_problem *p) CD_MUST_CHECK;

/* Checks that every key of obj is in the NULL-terminated list `allowed`. The first unknown key
 * (in document order) gives CD_ERR_INVALID and 422 unknown_field naming it. */
enum cd_err json_check_fields(const json_t *obj, const char *const *allowed,
			      struct json_problem *p) CD_MUST_CHECK;

/* ---- writing -------------------------------------------------------------------------------
 * JSON text appended straight to a buf, byte for byte as jansson's compact dump writes it
 * (json_dumps(v, JSON_COMPACT)): hot responses skip building a json_t tree, allocating each
 * value and walking it again to print. The writer keeps the first error (CD_ERR_TOOBIG past
 * the buf's cap, CD_ERR_NOMEM) and ignores every call after it, so a long sequence of calls
 * needs one check at the end. Strings must be valid UTF-8 (jansson refuses others). */
struct json_writer {
	struct buf *b;  /* where the text goes (borrowed) */
	enum cd_err rc; /* the first failure, CD_OK while all went well */
};

/* Appends n bytes of ready JSON text (punctuation, keys the caller wrote by hand). */
void json_w_raw(struct json_writer *w, const char *text, size_t n);
/* Appends a NUL-terminated piece of ready JSON text. Inline: for the literals it is meant
 * for, the compiler folds strlen to a constant (the hot answers write dozens each). */
static inline void json_w_lit(struct json_writer *w, const char *text)
{
	json_w_raw(w, text, strlen(text));
}
/* Appends s as a quoted JSON string, escaped as jansson escapes; NULL gives null. */
void json_w_str(struct json_writer *w, const char *s);
/* A string, or null when s is NULL or empty. */
void json_w_str_or_null(struct json_writer *w, const char *s);
/* Appends an integer. */
void json_w_int(struct json_writer *w, long long v);
/* Appends a real as jansson does: 17 significant digits, always with "." or "e". */
void json_w_real(struct json_writer *w, double v);
/* Appends true or false. */
void json_w_bool(struct json_writer *w, bool v);

/* Fills *p by hand (e.g. a handler's own 422 outside_jurisdiction). field may be NULL. */
void json_problem_set(struct json_problem *p, int status, const char *code, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
