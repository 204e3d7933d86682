/* Bounded growable buffer; see buf.h. */
#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	xfree(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL. */
static enum cd_err grow(struct buf *b, size_t n)
{
	if (n > b->cap || b->len > b->cap - n)
		return CD_ERR_TOOBIG;
	size_t need = b->len + n + 1;
	if (need <= b->alloc)
		return CD_OK;
	size_t want = b->alloc ? b->alloc : 64;
	while (want < need)
		want = want > SIZE_MAX / 2 ? need : want * 2;
	if (want > b->cap + 1)
		want = b->cap + 1;
	char *p = try_realloc(b->data, want);
	if (!p)
		return CD_ERR_NOMEM;
	b->data = p;
	b->alloc = want;
	return CD_OK;
}

enum cd_err buf_reserve(struct buf *b, size_t n)
{
	return grow(b, n);
}

enum cd_err buf_append(struct buf *b, const void *data, size_t n)
{
	enum cd_err rc = grow(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CD_OK;
}

enum cd_err buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum cd_err buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum cd_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	enum cd_err rc = CD_ERR_INVALID;
	if (n < 0)
		goto out;
	rc = grow(b, (size_t)n);
	if (rc)
		goto out;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
	b->len += (size_t)n;
	rc = CD_OK;
out:
	va_end(again);
	return rc;
}

enum cd_err buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum cd_err rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

enum cd_err buf_json_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = b->len;
	const unsigned char *p = (const unsigned char *)s;
	enum cd_err rc = CD_OK;
	while (*p && !rc) {
		/* A run of bytes that need no escape goes in with one append (the audit lines of
		 * every intake batch pass through here). */
		const unsigned char *run = p;
		while (*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			rc = buf_append(b, run, (size_t)(p - run));
		if (rc || !*p)
			break;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};
		switch (*p) {
		case '"': rc = buf_append(b, "\\\"", 2); break;
		case '\\': rc = buf_append(b, "\\\\", 2); break;
		case '\n': rc = buf_append(b, "\\n", 2); break;
		case '\r': rc = buf_append(b, "\\r", 2); break;
		case '\t': rc = buf_append(b, "\\t", 2); break;
		default:
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			rc = buf_append(b, esc, 6);
		}
		p++;
	}
	if (rc) {
		b->len = start; /* leave the buffer as it was */
		if (b->data)
			b->data[start] = '\0';
	}
	return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data ? b->data : xstrdup("");
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
