/* A fast path for request bodies in front of jansson's json_loadb: a strict recursive-descent
 * parser over the body bytes that builds the same jansson tree for the common well-formed
 * object and says "not handled" for everything else, so the caller falls back to jansson
 * (which then produces the error message, or the tree for the rare shapes skipped here). */
#ifndef CD_UTIL_JSON_FAST_H
#define CD_UTIL_JSON_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Parses data[0..len) when it is one JSON object (whitespace around it allowed) that jansson's
 * json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, nesting at most
 * JSON_MAX_DEPTH, and that stays inside what this parser handles. Returns true with *out a new
 * reference to a tree json_equal to jansson's, with keys in document order, the same
 * integer/real types and the same string bytes. Returns false with *out NULL for anything else:
 * malformed input, bad UTF-8, \u escapes, duplicate keys, too deep, integers over 18 digits,
 * long or overflowing reals, a top value that is not an object, strings with escapes longer
 * than the stack buffer, allocation failure. data need not be NUL-terminated. */
bool json_fast_parse(const char *data, size_t len, json_t **out);

#endif
