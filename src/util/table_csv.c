/* CSV writer for export tables: RFC 4180 with what Excel needs to open Chinese text and dates
 * correctly, and the OWASP defence against formula injection. See table.h and
 * docs/internals/table.md. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/table.h"

/* Excel reads a CSV as the local ANSI code page unless it starts with a UTF-8 BOM. */
static const char bom[3] = {'\xEF', '\xBB', '\xBF'};

/* A quoted text field. Text that a spreadsheet would take for a formula (= + - @, and TAB or
 * CR, which some strip before looking) gets a leading apostrophe, which Excel hides. */
static enum cd_err put_text(struct buf *out, const char *s, size_t len)
{
	enum cd_err rc = buf_putc(out, '"');
	if (!rc && len > 0 && strchr("=+-@\t\r", s[0]))
		rc = buf_putc(out, '\'');
	size_t run = 0;
	for (size_t i = 0; i < len && !rc; i++) {
		if (s[i] != '"')
			continue;
		rc = buf_append(out, s + run, i + 1 - run); /* the quote, then once more */
		run = i;
	}
	if (!rc)
		rc = buf_append(out, s + run, len - run);
	if (!rc)
		rc = buf_putc(out, '"');
	return rc;
}

/* How a number format shows a real: decimals and whether it is a percentage. Only this much
 * of Excel's format language survives into CSV; grouping (#,##0) is dropped because the comma
 * would read as a separator in half the world's locales. */
struct real_style {
	int decimals; /* digits after the point, or -1 for the shortest exact-enough form */
	bool percent; /* show v * 100 followed by '%' */
};

static struct real_style real_style(const char *fmt)
{
	struct real_style st = {-1, false};
	if (!fmt || !strpbrk(fmt, "0#"))
		return st;
	size_t end = strcspn(fmt, ";"); /* the positive section only */
	st.decimals = 0;
	const char *dot = memchr(fmt, '.', end);
	if (dot)
		for (const char *p = dot + 1; p < fmt + end && (*p == '0' || *p == '#'); p++)
			st.decimals++;
	st.percent = memchr(fmt, '%', end) != NULL;
	return st;
}

static enum cd_err put_real(struct buf *out, double v, struct real_style st)
{
	if (st.decimals < 0)
		return buf_printf(out, "%.15g", v);
	if (st.decimals > 15)
		st.decimals = 15;
	double x = st.percent ? v * 100.0 : v;
	/* Values that round to zero print as 0, not -0. */
	if (fabs(x) < 0.5 * pow(10.0, -st.decimals))
		x = 0.0;
	return buf_printf(out, "%.*f%s", st.decimals, x, st.percent ? "%" : "");
}

static enum cd_err put_cell(const struct table *t, struct buf *out, const struct table_cell *c,
			    const struct table_col *col, struct real_style st)
{
	if (!c->set)
		return CD_OK;
	char when[20];
	switch (col->type) {
	case TABLE_TEXT:
		return put_text(out, table_cell_text(t, c), c->len);
	case TABLE_INT:
		return buf_printf(out, "%" PRId64, c->v.i);
	case TABLE_REAL:
		return put_real(out, c->v.d, st);
	case TABLE_TIME:
		/* Excel takes "2026-11-27 15:04:05" for a date-time; ISO's T and offset it does not. */
		table_format_time(c->v.i, when);
		return buf_puts(out, when);
	}
	return CD_ERR_INVALID;
}

enum cd_err table_csv_write(const struct table *t, struct buf *out)
{
	enum cd_err rc = table_status(t);
	if (rc)
		return rc;
	struct real_style styles[TABLE_MAX_COLS];
	rc = buf_append(out, bom, sizeof(bom));
	for (size_t j = 0; j < t->ncols && !rc; j++) {
		styles[j] = real_style(t->cols[j].num_format);
		if (j > 0)
			rc = buf_putc(out, ',');
		if (!rc)
			rc = put_text(out, t->cols[j].name, strlen(t->cols[j].name));
	}
	if (!rc)
		rc = buf_puts(out, "\r\n");
	for (size_t i = 0; i < t->nrows && !rc; i++) {
		for (size_t j = 0; j < t->ncols && !rc; j++) {
			if (j > 0)
				rc = buf_putc(out, ',');
			if (!rc)
				rc = put_cell(t, out, table_cell_at(t, i, j), &t->cols[j], styles[j]);
		}
		if (!rc)
			rc = buf_puts(out, "\r\n");
	}
	return rc;
}
