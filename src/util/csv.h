/* A small RFC 4180 CSV reader over an in-memory text: quoted fields, doubled quotes,
 * CRLF or LF, an optional UTF-8 byte-order mark. Fields are returned as NUL-terminated
 * copies owned by the reader and valid until the next call. */
#ifndef CD_CSV_H
#define CD_CSV_H

#include <stddef.h>

#include "util/err.h"

#define CSV_MAX_FIELDS 64
#define CSV_MAX_FIELD 65536 /* a citizen message runs to about 11 KB */

struct csv_reader {
	const char *text;   /* the whole input, not owned */
	size_t len;         /* its length */
	size_t pos;         /* where the next record starts */
	size_t line;        /* 1-based line where the record last read starts */
	size_t lines_inside; /* newlines inside that record's quoted fields, counted at the next read */
	size_t nfields;     /* fields in the record last read */
	char *fields[CSV_MAX_FIELDS]; /* owned copies of those fields */
};

void csv_init(struct csv_reader *r, const char *text, size_t len);
void csv_release(struct csv_reader *r);
/* Reads the next record. CD_OK with r->nfields set; CD_ERR_NOTFOUND at the end;
 * CD_ERR_INVALID for an unterminated quote; CD_ERR_TOOBIG past the caps. Blank lines are
 * skipped. */
enum cd_err csv_next(struct csv_reader *r) CD_MUST_CHECK;
/* The index of `name` among the fields of the record last read (the header), or -1. */
int csv_column(const struct csv_reader *r, const char *name);

/* Reads a whole file into a NUL-terminated buffer of at most `cap` bytes (xfree it). */
enum cd_err file_read_all(const char *path, size_t cap, char **out, size_t *len) CD_MUST_CHECK;

#endif
