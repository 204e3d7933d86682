/* Personal data in complaint text: mainland mobile and landline numbers, resident ID card
 * numbers (checked), vehicle plates and e-mail addresses; found as spans and masked in place
 * for roles that must not see them. Rules and examples: docs/internals/text.md. */
#ifndef CD_PII_H
#define CD_PII_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

enum pii_kind {
	PII_MOBILE = 1u << 0,   /* 1[3-9] + 9 digits, optionally +86 / 0086 / 86 first */
	PII_LANDLINE = 1u << 1, /* 0 + 2-3 digit area code + 7-8 digit number */
	PII_ID_CARD = 1u << 2,  /* 18 digits (last may be X) with a valid check digit, or 15 */
	PII_PLATE = 1u << 3,    /* 粤B12345, 粤BD12345 (new energy), 粤Z1234港 */
	PII_EMAIL = 1u << 4,    /* local@domain.tld */
	PII_ALL = 0x1F,
};

/* One finding: bytes [start, start + len) of the text. */
struct pii_span {
	size_t start;        /* byte offset of its first character */
	size_t len;          /* its length in bytes (separators inside included) */
	enum pii_kind kind;  /* what it is */
};

/* Finds the kinds asked for (a mask of enum pii_kind) in UTF-8 text s[0..len), best run on
 * text_normalize output (ASCII digits: full-width ones are folded there). Spans come in text
 * order and never overlap. Writes the first min(count, cap) to spans and returns the count,
 * as snprintf does. Pure: no allocation, thread-safe. */
size_t pii_find(const char *s, size_t len, unsigned kinds, struct pii_span *spans, size_t cap);

/* False when s[0..len) cannot hold a finding: every kind needs an ASCII digit or an '@'.
 * Lets a caller skip copying a text to mask it (most complaint texts have neither). */
bool pii_may_contain(const char *s, size_t len);

/* Masks every finding in s[0..len) in place and returns how many there were. Only ASCII
 * letters and digits (and, in an e-mail address, the whole local part after its first
 * character) become '*', so the length and every other byte stay as they were:
 *   mobile   13812345678 -> 138****5678, +86 138 1234 5678 -> +86 138 **** 5678
 *   landline 0755-12345678 -> 0755-****5678 (area code and last 4 kept)
 *   ID card  440304199001011233 -> 4403**********1233 (first 4, last 4 kept)
 *   plate    粤B12345 -> 粤B***45, 粤BD12345 -> 粤B****45 (province, letter, last 2 kept)
 *   e-mail   zhang.san@example.com -> z********@example.com */
size_t pii_mask_inplace(char *s, size_t len, unsigned kinds);

/* Appends a masked copy of s[0..len) to out. CD_OK, or the buffer's error (TOOBIG, NOMEM). */
enum cd_err pii_mask(const char *s, size_t len, unsigned kinds, struct buf *out) CD_MUST_CHECK;

/* "mobile", "landline", "id_card", "plate", "email"; "unknown" for anything else. */
const char *pii_kind_name(enum pii_kind kind);

#endif
