/* Decoding UTF-8 one code point at a time, for the modules that walk text by character. */
#ifndef CD_UTF8_H
#define CD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The code point starting at s[*i] (i < n), advancing *i past it. A malformed or truncated
 * sequence yields 0 and advances by one byte, so a loop always makes progress. Overlong forms
 * and surrogates are not rejected: callers that need strict UTF-8 check it first
 * (text_utf8_valid; the HTTP layer refuses bad bodies before they get here). */
static inline uint32_t utf8_next_cp(const unsigned char *s, size_t n, size_t *i)
{
	unsigned c = s[*i];
	size_t k;
	uint32_t cp;
	if (c < 0x80) {
		(*i)++;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		k = 1, cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		k = 2, cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		k = 3, cp = c & 0x07;
	} else {
		(*i)++;
		return 0;
	}
	if (*i + k >= n) {
		(*i)++;
		return 0;
	}
	for (size_t j = 1; j <= k; j++) {
		if ((s[*i + j] & 0xc0) != 0x80) {
			(*i)++;
			return 0;
		}
		cp = (cp << 6) | (s[*i + j] & 0x3f);
	}
	*i += k + 1;
	return cp;
}

#endif
