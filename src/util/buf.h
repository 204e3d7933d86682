/* A growable byte buffer with a hard cap, always NUL-terminated (after the `len` bytes).
 * Modelled on git's strbuf and curl's dynbuf: appends fail with CD_ERR_TOOBIG past the cap
 * and CD_ERR_NOMEM when memory runs out, and leave the buffer as it was. */
#ifndef CD_BUF_H
#define CD_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/err.h"

struct buf {
	char *data;    /* NUL-terminated contents, or NULL before the first append */
	size_t len;    /* bytes in use, not counting the NUL */
	size_t alloc;  /* bytes allocated */
	size_t cap;    /* the most `len` may ever reach */
};

/* Prepares an empty buffer that will never hold more than `cap` bytes. */
void buf_init(struct buf *b, size_t cap);
/* Frees the contents; the buffer may be reused after buf_init. NULL is fine. */
void buf_release(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);

enum cd_err buf_append(struct buf *b, const void *data, size_t n) CD_MUST_CHECK;
enum cd_err buf_puts(struct buf *b, const char *s) CD_MUST_CHECK;
enum cd_err buf_putc(struct buf *b, char c) CD_MUST_CHECK;
/* Makes room for n more bytes at once (one allocation instead of doubling from 64 bytes when
 * the size is known roughly in advance). CD_ERR_TOOBIG past the cap, CD_ERR_NOMEM. */
enum cd_err buf_reserve(struct buf *b, size_t n) CD_MUST_CHECK;
enum cd_err buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) CD_MUST_CHECK;
enum cd_err buf_vprintf(struct buf *b, const char *fmt, va_list ap) CD_MUST_CHECK;
/* Appends s as the inside of a JSON string (quotes not included), escaping as RFC 8259 asks. */
enum cd_err buf_json_escape(struct buf *b, const char *s) CD_MUST_CHECK;

/* Hands the contents to the caller (free with xfree) and leaves the buffer empty.
 * Never returns NULL: an empty buffer gives "". */
char *buf_detach(struct buf *b, size_t *len);

#endif
