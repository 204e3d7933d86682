/* RFC 4180 CSV reader and a whole-file reader; see csv.h. */
#include "util/csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

void csv_init(struct csv_reader *r, const char *text, size_t len)
{
	memset(r, 0, sizeof *r);
	r->text = text;
	r->len = len;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		r->pos = 3;
}

static void clear_fields(struct csv_reader *r)
{
	for (size_t i = 0; i < r->nfields; i++) {
		xfree(r->fields[i]);
		r->fields[i] = NULL;
	}
	r->nfields = 0;
}

void csv_release(struct csv_reader *r)
{
	if (r)
		clear_fields(r);
}

static enum cd_err push_field(struct csv_reader *r, struct buf *f)
{
	if (r->nfields >= CSV_MAX_FIELDS)
		return CD_ERR_TOOBIG;
	r->fields[r->nfields++] = buf_detach(f, NULL);
	return CD_OK;
}

enum cd_err csv_next(struct csv_reader *r)
{
	clear_fields(r);
	r->line += r->lines_inside;
	r->lines_inside = 0;
	/* Skip blank lines. */
	while (r->pos < r->len && (r->text[r->pos] == '\n' || r->text[r->pos] == '\r')) {
		if (r->text[r->pos] == '\n')
			r->line++;
		r->pos++;
	}
	if (r->pos >= r->len)
		return CD_ERR_NOTFOUND;
	r->line++;
	struct buf f;
	buf_init(&f, CSV_MAX_FIELD);
	enum cd_err rc = CD_OK;
	int quoted = 0, in_quotes = 0;
	while (r->pos < r->len) {
		char c = r->text[r->pos++];
		if (in_quotes) {
			if (c == '"') {
				if (r->pos < r->len && r->text[r->pos] == '"') {
					r->pos++;
					rc = buf_putc(&f, '"');
				} else {
					in_quotes = 0;
				}
			} else {
				if (c == '\n')
					r->lines_inside++;
				rc = buf_putc(&f, c);
			}
		} else if (c == '"' && f.len == 0 && !quoted) {
			in_quotes = quoted = 1;
		} else if (c == ',') {
			rc = push_field(r, &f);
			quoted = 0;
		} else if (c == '\n' || c == '\r') {
			if (c == '\r' && r->pos < r->len && r->text[r->pos] == '\n')
				r->pos++;
			break;
		} else {
			rc = buf_putc(&f, c);
		}
		if (rc)
			goto out;
	}
	if (in_quotes) {
		rc = CD_ERR_INVALID;
		goto out;
	}
	rc = push_field(r, &f);
out:
	buf_release(&f);
	if (rc)
		clear_fields(r);
	return rc;
}

int csv_column(const struct csv_reader *r, const char *name)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (strcmp(r->fields[i], name) == 0)
			return (int)i;
	return -1;
}

enum cd_err file_read_all(const char *path, size_t cap, char **out, size_t *len)
{
	enum cd_err rc = CD_ERR_IO;
	struct buf b;
	buf_init(&b, cap);
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? CD_ERR_NOTFOUND : CD_ERR_IO;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		rc = buf_append(&b, chunk, n);
		if (rc)
			goto out;
	}
	if (ferror(f)) {
		rc = CD_ERR_IO;
		goto out;
	}
	*out = buf_detach(&b, len);
	rc = CD_OK;
out:
	fclose(f);
	buf_release(&b);
	return rc;
}
