/* XLSX writer for export tables, on libxlsxwriter. Debian 12's libxlsxwriter (1.1.4) cannot
 * write to memory, so the workbook goes to a private temporary file that is read back into the
 * caller's buffer and removed. See table.h and docs/internals/table.md. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "util/log.h"
#include "util/table.h"

/* Excel's day count at 1970-01-01 (its epoch is 1899-12-30, counting the phantom 1900-02-29),
 * and the first serial that means the same date in Excel as in the calendar (1900-03-01). */
#define EXCEL_UNIX_EPOCH 25569.0
#define EXCEL_FIRST_TRUE 61.0
#define EXCEL_LAST_DAY 2958465.0 /* 9999-12-31 */
#define UTC_OFFSET 28800	 /* Asia/Shanghai, UTC+8 all year */

/* Column widths in Excel's units (about one digit each), bounded so one long description does
 * not push the rest of the sheet off screen. */
#define WIDTH_MIN 6
#define WIDTH_MAX 60
#define WIDTH_PAD 2
#define WIDTH_TIME 16 /* "yyyy-mm-dd hh:mm" */
#define WIDTH_REAL 9

#define SHEET_NAME_MAX 31 /* Excel's limit, in UTF-16 units */

/* libxlsxwriter 1.1.4 stamps docProps/core.xml through gmtime(), whose static result two
 * concurrent workbook_close calls overwrite (ThreadSanitizer shows it). Closing one workbook
 * at a time fixes that and also keeps exports, which cost a core each, from crowding out
 * intake on a 2-core machine. */
static pthread_mutex_t close_lock = PTHREAD_MUTEX_INITIALIZER;

static enum cd_err from_lxw(lxw_error e)
{
	switch (e) {
	case LXW_NO_ERROR:
		return CD_OK;
	case LXW_ERROR_MEMORY_MALLOC_FAILED:
		return CD_ERR_NOMEM;
	case LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED:
		return CD_ERR_TOOBIG;
	case LXW_ERROR_CREATING_XLSX_FILE:
	case LXW_ERROR_CREATING_TMPFILE:
	case LXW_ERROR_READING_TMPFILE:
	case LXW_ERROR_ZIP_FILE_OPERATION:
	case LXW_ERROR_ZIP_FILE_ADD:
	case LXW_ERROR_ZIP_CLOSE:
		return CD_ERR_IO;
	default:
		return CD_ERR_INVALID;
	}
}

/* Copies name into out as a sheet name Excel accepts: the forbidden []:*?/\ and a leading or
 * trailing apostrophe become '_', it is cut to 31 UTF-16 units on a character boundary, and
 * "History" (reserved by Excel) gets a '_' appended. NULL or empty gives "Sheet1". */
static void sheet_name(const char *name, char *out, size_t size)
{
	size_t n = 0, units = 0;
	for (const char *p = name ? name : ""; *p && n + 4 < size;) {
		unsigned char c = (unsigned char)*p;
		size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (strnlen(p, k) < k)
			break; /* a truncated sequence ends the name */
		size_t u = k == 4 ? 2 : 1;
		if (units + u > SHEET_NAME_MAX)
			break;
		if (k == 1 && strchr("[]:*?/\\", c))
			out[n++] = '_';
		else
			for (size_t i = 0; i < k; i++)
				out[n++] = p[i];
		units += u;
		p += k;
	}
	out[n] = '\0';
	if (n == 0) {
		snprintf(out, size, "Sheet1");
		return;
	}
	if (out[0] == '\'')
		out[0] = '_';
	if (out[n - 1] == '\'')
		out[n - 1] = '_';
	if (strcasecmp(out, "History") == 0)
		snprintf(out, size, "History_");
}

/* Width for column j: its widest header or cell, in display columns. */
static double column_width(const struct table *t, size_t j)
{
	const struct table_col *col = &t->cols[j];
	size_t w = table_text_width(col->name, strlen(col->name)) + 1; /* bold is wider */
	for (size_t i = 0; i < t->nrows && w < WIDTH_MAX; i++) {
		const struct table_cell *c = table_cell_at(t, i, j);
		if (!c->set)
			continue;
		size_t cw = WIDTH_REAL;
		char digits[24];
		switch (col->type) {
		case TABLE_TEXT:
			cw = table_text_width(table_cell_text(t, c), c->len);
			break;
		case TABLE_INT:
			cw = (size_t)snprintf(digits, sizeof(digits), "%" PRId64, c->v.i);
			break;
		case TABLE_REAL:
			break;
		case TABLE_TIME:
			cw = WIDTH_TIME;
			break;
		}
		if (cw > w)
			w = cw;
	}
	if (w > WIDTH_MAX)
		w = WIDTH_MAX;
	if (w < WIDTH_MIN)
		w = WIDTH_MIN;
	return (double)(w + WIDTH_PAD);
}

/* The formats the sheet uses; owned by the workbook. */
struct formats {
	lxw_format *header;		 /* bold */
	lxw_format *time;		 /* yyyy-mm-dd hh:mm */
	lxw_format *col[TABLE_MAX_COLS]; /* per TABLE_REAL column with a number format, or NULL */
};

static lxw_error write_cell(lxw_worksheet *ws, const struct table *t, const struct formats *f, size_t i,
			    size_t j)
{
	const struct table_cell *c = table_cell_at(t, i, j);
	lxw_row_t row = (lxw_row_t)(i + 1);
	lxw_col_t col = (lxw_col_t)j;
	if (!c->set)
		return LXW_NO_ERROR;
	switch (t->cols[j].type) {
	case TABLE_TEXT:
		/* A string cell is never evaluated, so text needs no formula defence here. */
		return worksheet_write_string(ws, row, col, table_cell_text(t, c), NULL);
	case TABLE_INT:
		return worksheet_write_number(ws, row, col, (double)c->v.i, NULL);
	case TABLE_REAL:
		return worksheet_write_number(ws, row, col, c->v.d, f->col[j]);
	case TABLE_TIME: {
		double serial = (double)(c->v.i + UTC_OFFSET) / 86400.0 + EXCEL_UNIX_EPOCH;
		if (serial >= EXCEL_FIRST_TRUE && serial < EXCEL_LAST_DAY + 1)
			return worksheet_write_number(ws, row, col, serial, f->time);
		char when[20]; /* Excel cannot show it as a date; text still says when */
		table_format_time(c->v.i, when);
		return worksheet_write_string(ws, row, col, when, NULL);
	}
	}
	return LXW_ERROR_PARAMETER_VALIDATION;
}

/* Builds the sheet into wb. */
static lxw_error fill_workbook(lxw_workbook *wb, const struct table *t, const char *name)
{
	char sheet[SHEET_NAME_MAX * 4 + 1];
	sheet_name(name, sheet, sizeof(sheet));
	lxw_worksheet *ws = workbook_add_worksheet(wb, sheet);
	if (!ws)
		return LXW_ERROR_PARAMETER_VALIDATION;
	struct formats f = {0};
	f.header = workbook_add_format(wb);
	f.time = workbook_add_format(wb);
	if (!f.header || !f.time)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	format_set_bold(f.header);
	format_set_num_format(f.time, "yyyy-mm-dd hh:mm");
	lxw_error e = LXW_NO_ERROR;
	for (size_t j = 0; j < t->ncols && !e; j++) {
		if (t->cols[j].type == TABLE_REAL && t->cols[j].num_format) {
			f.col[j] = workbook_add_format(wb);
			if (!f.col[j])
				return LXW_ERROR_MEMORY_MALLOC_FAILED;
			format_set_num_format(f.col[j], t->cols[j].num_format);
		}
		e = worksheet_set_column(ws, (lxw_col_t)j, (lxw_col_t)j, column_width(t, j), NULL);
		if (!e)
			e = worksheet_write_string(ws, 0, (lxw_col_t)j, t->cols[j].name, f.header);
	}
	/* Constant-memory mode writes rows out as they come, so rows go strictly in order. */
	for (size_t i = 0; i < t->nrows && !e; i++)
		for (size_t j = 0; j < t->ncols && !e; j++)
			e = write_cell(ws, t, &f, i, j);
	if (e)
		return e;
	worksheet_freeze_panes(ws, 1, 0);
	return worksheet_autofilter(ws, 0, 0, (lxw_row_t)t->nrows, (lxw_col_t)(t->ncols - 1));
}

/* Appends the whole file behind fd to out, failing with CD_ERR_TOOBIG before reading when it
 * cannot fit. */
static enum cd_err read_back(int fd, struct buf *out)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		log_error("xlsx stat failed", "\"errno\":%d", errno);
		return CD_ERR_IO;
	}
	size_t size = (size_t)st.st_size;
	if (size > out->cap || out->len > out->cap - size)
		return CD_ERR_TOOBIG;
	char chunk[16384];
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("xlsx read failed", "\"errno\":%d", n < 0 ? errno : 0);
			return CD_ERR_IO;
		}
		if ((size_t)n > size - done)
			n = (ssize_t)(size - done); /* the file grew: not ours to send */
		enum cd_err rc = buf_append(out, chunk, (size_t)n);
		if (rc)
			return rc;
		done += (size_t)n;
	}
	return CD_OK;
}

enum cd_err table_xlsx_write(const struct table *t, const char *sheet_name_in, const char *tmpdir,
			     struct buf *out)
{
	enum cd_err rc = table_status(t);
	if (rc)
		return rc;
	assert(tmpdir);
	if (t->ncols == 0)
		return CD_ERR_INVALID;
	char dir[4096], path[4096];
	int nd = snprintf(dir, sizeof(dir), "%s", tmpdir);
	int np = snprintf(path, sizeof(path), "%s/citydesk-xlsx-XXXXXX", tmpdir);
	if (nd < 0 || np < 0 || (size_t)np >= sizeof(path))
		return CD_ERR_INVALID;
	int fd = mkstemp(path);
	if (fd < 0) {
		log_error("xlsx temp file failed", "\"errno\":%d", errno);
		return CD_ERR_IO;
	}
	/* The workbook opens the path again with fopen(.., "wb"), which truncates this same file,
	 * so fd reads what it wrote without a second lookup of the name. */
	lxw_workbook_options opts = {.constant_memory = LXW_TRUE, .tmpdir = dir};
	lxw_workbook *wb = workbook_new_opt(path, &opts);
	if (!wb) {
		rc = CD_ERR_NOMEM;
		goto out;
	}
	lxw_error e = fill_workbook(wb, t, sheet_name_in);
	if (e) {
		lxw_workbook_free(wb); /* abandon without writing */
	} else {
		pthread_mutex_lock(&close_lock);
		e = workbook_close(wb); /* writes the file and frees wb */
		pthread_mutex_unlock(&close_lock);
	}
	if (e) {
		log_error("xlsx write failed", "\"lxw\":%d", (int)e);
		rc = from_lxw(e);
		goto out;
	}
	rc = read_back(fd, out);
out:
	close(fd);
	unlink(path);
	return rc;
}
