/* A bounded in-memory table of typed columns (text, integer, real, date-time) filled row by
 * row, and its two export writers: CSV (RFC 4180, for Excel) and XLSX (libxlsxwriter). API
 * handlers build one table from a case list or score rows and hand it to the writer that
 * `format=csv|xlsx` asks for; see docs/internals/table.md. */
#ifndef CD_TABLE_H
#define CD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* Hard limits, whatever the caller asks for. Excel holds 1,048,576 rows a sheet (one is our
 * header) and 32,767 characters a cell; a text longer than that bytes is refused. */
#define TABLE_MAX_COLS 256
#define TABLE_MAX_ROWS 1048575u
#define TABLE_MAX_CELL_BYTES 32767u
#define TABLE_MAX_BYTES ((size_t)1 << 31)

/* What to send in Content-Type with the writers' output. */
#define TABLE_CSV_CONTENT_TYPE "text/csv; charset=utf-8"
#define TABLE_XLSX_CONTENT_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

enum table_type {
	TABLE_TEXT, /* UTF-8 text; never a formula in either writer */
	TABLE_INT,  /* int64_t; exact in CSV, a double in XLSX (exact up to 2^53) */
	TABLE_REAL, /* double, shown with the column's number format */
	TABLE_TIME, /* unix seconds, shown as Asia/Shanghai (UTC+8) local date and time */
};

struct table_col {
	char *name;	      /* header text, UTF-8, owned */
	enum table_type type; /* what every cell of the column holds */
	char *num_format;     /* TABLE_REAL: Excel number format ("0.0%", "0.00"), or NULL; owned */
};

struct table_cell {
	union {
		int64_t i;  /* TABLE_INT; TABLE_TIME in unix seconds */
		double d;   /* TABLE_REAL */
		size_t off; /* TABLE_TEXT: where the NUL-terminated text starts in table.text */
	} v;
	uint32_t len; /* TABLE_TEXT: bytes, not counting the NUL */
	bool set;     /* false: an empty cell (NULL, not yet put, or a non-finite real) */
};

/* Read the fields freely; change them only through the functions below. */
struct table {
	struct table_col *cols;	  /* ncols columns, in order */
	size_t ncols;		  /* columns defined so far */
	struct table_cell *cells; /* nrows * ncols cells, row-major */
	size_t cells_alloc;	  /* cells allocated */
	size_t nrows;		  /* rows added so far */
	size_t cursor;		  /* column the next put fills in the last row */
	struct buf text;	  /* every text cell, each NUL-terminated; cells hold offsets */
	size_t max_rows;	  /* the caller's row cap (clamped to TABLE_MAX_ROWS) */
	size_t max_bytes;	  /* the cap on cells plus text, in bytes */
	enum cd_err err;	  /* the first failure of a put; sticks until the table is freed */
};

/* A new empty table holding at most max_rows rows and max_bytes bytes of cells and text
 * (each clamped to the hard limits; 0 means the hard limit). Never NULL; free with
 * table_free. */
struct table *table_new(size_t max_rows, size_t max_bytes);
/* Frees the table and everything it holds. NULL is fine. */
void table_free(struct table *t);

/* Appends a column. Columns are program constants, so misuse is a programmer error and
 * asserts: name must be non-NULL, at most TABLE_MAX_COLS columns, none after the first row.
 * num_format is used only by TABLE_REAL columns (NULL: general). Both strings are copied. */
void table_add_col(struct table *t, const char *name, enum table_type type, const char *num_format);

/* Starts a new row of empty cells; the puts below fill it left to right.
 * CD_ERR_TOOBIG past max_rows or max_bytes, CD_ERR_NOMEM when memory runs out, or the
 * failure a put recorded earlier (see table_status). Needs at least one column. */
enum cd_err table_add_row(struct table *t) CD_MUST_CHECK;

/* Fill the next cell of the last row. Putting more cells than columns, or a value of another
 * type than the column's, asserts. Text is copied; invalid UTF-8 and control characters
 * other than TAB, LF and CR become U+FFFD so both writers emit well-formed output; NULL is
 * an empty cell. A put cannot fail on its own: when a text is too long (TABLE_MAX_CELL_BYTES)
 * or over the byte cap, or memory runs out, the failure is recorded in t->err, later puts do
 * nothing, and table_add_row and the writers return it. */
void table_put_text(struct table *t, const char *s);
void table_put_textn(struct table *t, const char *s, size_t n);
void table_put_int(struct table *t, int64_t v);
void table_put_real(struct table *t, double v);
void table_put_time(struct table *t, int64_t unix_seconds);
void table_put_empty(struct table *t);

/* CD_OK, or the first failure a put recorded. */
enum cd_err table_status(const struct table *t) CD_MUST_CHECK;

/* The cell at (row, col); both must be in range (asserts). */
const struct table_cell *table_cell_at(const struct table *t, size_t row, size_t col);
/* The NUL-terminated text of a TABLE_TEXT cell that is set, valid until the table changes. */
const char *table_cell_text(const struct table *t, const struct table_cell *c);

/* Writes unix seconds as Asia/Shanghai local "YYYY-MM-DD hh:mm:ss" into out (at least 20
 * bytes, NUL included) for years 0000-9999; other times are clamped to that range. */
void table_format_time(int64_t unix_seconds, char out[20]);
/* The width of UTF-8 text in monospace columns: East Asian wide and full-width characters
 * (CJK, Hangul, kana, full-width forms) count 2, others 1; LF starts a new line and the
 * widest line counts. */
size_t table_text_width(const char *s, size_t len);

/* Appends the table as CSV to out (a UTF-8 BOM, a header row, CRLF after every record, text
 * always quoted, a leading apostrophe before text starting with = + - @ TAB or CR).
 * out's cap bounds the output: CD_ERR_TOOBIG past it, CD_ERR_NOMEM, or the table's recorded
 * failure. On failure out may hold part of the output; reset or release it. */
enum cd_err table_csv_write(const struct table *t, struct buf *out) CD_MUST_CHECK;

/* Appends the table as an XLSX workbook of one sheet to out: a bold frozen header row with a
 * filter, column widths from the content, TABLE_TIME cells as real dates ("yyyy-mm-dd hh:mm",
 * Asia/Shanghai), TABLE_REAL cells with their column's number format. sheet_name NULL or
 * empty gives "Sheet1"; characters Excel forbids ([]:*?/\) become '_' and it is cut to 31
 * characters. libxlsxwriter 1.1 writes only to files: the workbook and its scratch files go
 * under tmpdir (non-NULL; it must exist and be writable) and are removed before returning.
 * CD_ERR_TOOBIG when the file outgrows out's cap, CD_ERR_IO when a file cannot be written
 * or read, CD_ERR_INVALID for a table without columns, CD_ERR_NOMEM, or the table's recorded
 * failure. Thread-safe: calls use separate temporary files
 * and write their workbooks one at a time (libxlsxwriter calls gmtime). */
enum cd_err table_xlsx_write(const struct table *t, const char *sheet_name, const char *tmpdir,
			     struct buf *out) CD_MUST_CHECK;

#endif
