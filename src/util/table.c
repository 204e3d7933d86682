/* The export table: typed columns, rows of cells, one text store, size caps, and the two
 * helpers both writers share (local time text, display width). See table.h. */
#include "util/table.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/clock.h"

/* The district's clock: Asia/Shanghai is UTC+8 all year (no DST since 1991). */
#define TABLE_UTC_OFFSET 28800

static const char replacement[3] = {'\xEF', '\xBF', '\xBD'}; /* U+FFFD */

struct table *table_new(size_t max_rows, size_t max_bytes)
{
	struct table *t = xcalloc(1, sizeof(*t));
	t->max_rows = (max_rows == 0 || max_rows > TABLE_MAX_ROWS) ? TABLE_MAX_ROWS : max_rows;
	t->max_bytes = (max_bytes == 0 || max_bytes > TABLE_MAX_BYTES) ? TABLE_MAX_BYTES : max_bytes;
	buf_init(&t->text, t->max_bytes);
	t->err = CD_OK;
	return t;
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++) {
		xfree(t->cols[i].name);
		xfree(t->cols[i].num_format);
	}
	xfree(t->cols);
	xfree(t->cells);
	buf_release(&t->text);
	xfree(t);
}

void table_add_col(struct table *t, const char *name, enum table_type type, const char *num_format)
{
	assert(name);
	assert(t->ncols < TABLE_MAX_COLS);
	assert(t->nrows == 0);
	t->cols = xrealloc(t->cols, (t->ncols + 1) * sizeof(*t->cols));
	struct table_col *c = &t->cols[t->ncols++];
	c->name = xstrdup(name);
	c->type = type;
	c->num_format = (type == TABLE_REAL && num_format) ? xstrdup(num_format) : NULL;
}

/* Bytes the table holds now: cells of the rows added plus text. */
static size_t bytes_used(const struct table *t)
{
	return t->nrows * t->ncols * sizeof(struct table_cell) + t->text.len;
}

enum cd_err table_add_row(struct table *t)
{
	assert(t->ncols > 0);
	if (t->err)
		return t->err;
	if (t->nrows >= t->max_rows)
		return CD_ERR_TOOBIG;
	size_t row_bytes = t->ncols * sizeof(struct table_cell);
	if (bytes_used(t) > t->max_bytes || t->max_bytes - bytes_used(t) < row_bytes)
		return CD_ERR_TOOBIG;
	size_t need = (t->nrows + 1) * t->ncols;
	if (need > t->cells_alloc) {
		size_t want = t->cells_alloc ? t->cells_alloc * 2 : 64 * t->ncols;
		if (want < need)
			want = need;
		struct table_cell *p = try_realloc(t->cells, want * sizeof(*p));
		if (!p)
			return CD_ERR_NOMEM;
		t->cells = p;
		t->cells_alloc = want;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, row_bytes);
	t->nrows++;
	t->cursor = 0;
	return CD_OK;
}

enum cd_err table_status(const struct table *t)
{
	return t->err;
}

/* The next cell of the last row, after checking the caller's program is right. */
static struct table_cell *next_cell(struct table *t, enum table_type type)
{
	assert(t->nrows > 0);
	assert(t->cursor < t->ncols);
	assert(t->cols[t->cursor].type == type);
	(void)type;
	return &t->cells[(t->nrows - 1) * t->ncols + t->cursor++];
}

/* Length of the valid UTF-8 sequence at s[0..n) that XML 1.0 accepts (no C0 controls but
 * TAB, LF, CR; no U+FFFE, U+FFFF), or 0 when s starts with bytes to replace. */
static size_t good_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
	size_t len;
	uint32_t cp, min;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, cp = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, cp = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
		return 0;
	return len;
}

/* Bytes s[0..n) takes once every bad byte is replaced by U+FFFD. */
static size_t clean_len(const unsigned char *s, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n;) {
		size_t k = good_seq(s + i, n - i);
		out += k ? k : sizeof(replacement);
		i += k ? k : 1;
	}
	return out;
}

/* Appends s[0..n) to the text store with bad bytes replaced; room was checked. */
static enum cd_err append_clean(struct buf *b, const unsigned char *s, size_t n)
{
	enum cd_err rc = CD_OK;
	size_t run = 0; /* start of the pending run of good bytes */
	for (size_t i = 0; i < n && !rc;) {
		size_t k = good_seq(s + i, n - i);
		if (k) {
			i += k;
			continue;
		}
		rc = buf_append(b, s + run, i - run);
		if (!rc)
			rc = buf_append(b, replacement, sizeof(replacement));
		run = ++i;
	}
	if (!rc)
		rc = buf_append(b, s + run, n - run);
	if (!rc)
		rc = buf_putc(b, '\0');
	return rc;
}

void table_put_textn(struct table *t, const char *s, size_t n)
{
	struct table_cell *c = next_cell(t, TABLE_TEXT);
	if (t->err || !s)
		return;
	const unsigned char *u = (const unsigned char *)s;
	/* Cleaning never shrinks a text, so a long one is refused before it is scanned. */
	size_t len = n > TABLE_MAX_CELL_BYTES ? n : clean_len(u, n);
	if (len > TABLE_MAX_CELL_BYTES) {
		t->err = CD_ERR_TOOBIG;
		return;
	}
	size_t used = bytes_used(t);
	if (used > t->max_bytes || t->max_bytes - used < len + 1) {
		t->err = CD_ERR_TOOBIG;
		return;
	}
	size_t off = t->text.len;
	enum cd_err rc = append_clean(&t->text, u, n);
	if (rc) {
		t->text.len = off; /* drop a half-copied text */
		t->err = rc;
		return;
	}
	c->v.off = off;
	c->len = (uint32_t)len;
	c->set = true;
}

void table_put_text(struct table *t, const char *s)
{
	table_put_textn(t, s, s ? strlen(s) : 0);
}

void table_put_int(struct table *t, int64_t v)
{
	struct table_cell *c = next_cell(t, TABLE_INT);
	c->v.i = v;
	c->set = true;
}

void table_put_real(struct table *t, double v)
{
	struct table_cell *c = next_cell(t, TABLE_REAL);
	c->v.d = v;
	c->set = isfinite(v); /* neither CSV readers nor Excel have NaN or infinity */
}

void table_put_time(struct table *t, int64_t unix_seconds)
{
	struct table_cell *c = next_cell(t, TABLE_TIME);
	c->v.i = unix_seconds;
	c->set = true;
}

void table_put_empty(struct table *t)
{
	assert(t->nrows > 0);
	assert(t->cursor < t->ncols);
	t->cursor++;
}

const struct table_cell *table_cell_at(const struct table *t, size_t row, size_t col)
{
	assert(row < t->nrows && col < t->ncols);
	return &t->cells[row * t->ncols + col];
}

const char *table_cell_text(const struct table *t, const struct table_cell *c)
{
	assert(c->set);
	return t->text.data + c->v.off;
}

void table_format_time(int64_t unix_seconds, char out[20])
{
	/* Local seconds of 0000-01-01 00:00:00 and 9999-12-31 23:59:59. */
	const int64_t lo = -62167219200, hi = 253402300799;
	int64_t local = unix_seconds;
	if (local > hi - TABLE_UTC_OFFSET)
		local = hi;
	else if (local < lo - TABLE_UTC_OFFSET)
		local = lo;
	else
		local += TABLE_UTC_OFFSET;
	int64_t days = local / 86400, secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t y;
	int m, d;
	clock_civil_from_days(days, &y, &m, &d);
	/* The moduli change nothing after the clamp; they show snprintf the fields fit. */
	snprintf(out, 20, "%04u-%02u-%02u %02u:%02u:%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
		 (unsigned)d % 100u, (unsigned)(secs / 3600) % 100u, (unsigned)(secs / 60 % 60),
		 (unsigned)(secs % 60));
}

/* Whether code point cp is East Asian Wide or Fullwidth (Unicode UAX #11), in the blocks
 * Chinese text uses; rarer wide symbols count 1, which only makes a column a bit narrow. */
static bool is_wide(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
	    {0x1100, 0x115F},	/* Hangul Jamo initials */
	    {0x2E80, 0x303E},	/* CJK radicals, punctuation 。、「」 */
	    {0x3041, 0x33FF},	/* kana, bopomofo, CJK compatibility */
	    {0x3400, 0x4DBF},	/* CJK extension A */
	    {0x4E00, 0x9FFF},	/* CJK unified ideographs */
	    {0xA000, 0xA4CF},	/* Yi */
	    {0xAC00, 0xD7A3},	/* Hangul syllables */
	    {0xF900, 0xFAFF},	/* CJK compatibility ideographs */
	    {0xFE30, 0xFE4F},	/* CJK compatibility forms */
	    {0xFF00, 0xFF60},	/* full-width forms ，（） */
	    {0xFFE0, 0xFFE6},	/* full-width signs ￥ */
	    {0x1F300, 0x1F64F}, /* emoji */
	    {0x20000, 0x3FFFD}, /* CJK extensions B onwards */
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return true;
	return false;
}

size_t table_text_width(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t best = 0, line = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		if (c == '\n') {
			line = 0;
			i++;
			continue;
		}
		size_t k = c < 0x80 ? 1 : good_seq(u + i, len - i);
		if (k == 0) {
			line++; /* a stray byte shows as one replacement character */
			i++;
		} else {
			uint32_t cp = k == 1 ? c : (uint32_t)(c & (0x7F >> k));
			for (size_t j = 1; j < k; j++)
				cp = (cp << 6) | (u[i + j] & 0x3F);
			line += is_wide(cp) ? 2 : 1;
			i += k;
		}
		if (line > best)
			best = line;
	}
	return best;
}
