/* An in-memory index of every stored case's list columns (id, reported_at, status, street,
 * community, unit, category, channel, overdue), from which the store answers filtered,
 * newest-first case lists and their exact totals without any SQLite index
 * (docs/internals/store.md, "Cases"). Strings are interned into small integer ids; one case
 * costs 36 bytes. Thread safe: one rwlock, lists read, writers put. */
#ifndef CD_STORE_CASE_INDEX_H
#define CD_STORE_CASE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct case_index;

/* Ids above this are refused (CD_ERR_RANGE): the index is addressed by id, and the order
 * arrays hold ids as 32-bit numbers. SQLite hands out max(id) + 1, so this is never reached. */
#define CASE_INDEX_ID_MAX ((int64_t)0x7fffffff)

/* The list columns of one case, as put into the index. Strings are borrowed for the call;
 * NULL is taken as "" (the store keeps "" as NULL for optional codes). */
struct case_index_row {
	int64_t id;                 /* > 0 and <= CASE_INDEX_ID_MAX */
	int64_t reported_at;        /* the order key, with id */
	const char *status;
	const char *street_code;
	const char *community_code;
	const char *unit_code;
	const char *category_code;  /* "" when uncategorized */
	const char *channel;
	int overdue;                /* 0 or 1 */
};

/* What a list asks for; every condition must hold. NULL or "" strings mean any value. */
struct case_index_filter {
	const char *status;
	const char *street_code;
	const char *community_code;
	const char *unit_code;
	const char *channel;
	const char *category_prefix; /* codes that start with it ("H01" matches H01, H0101 ...) */
	int uncategorized;           /* 1: only category "" */
	int overdue;                 /* 0 any, 1 only overdue, -1 only not overdue */
	int64_t from, to;            /* reported_at in [from, to); 0 = open end */
};

/* A new empty index, for case_index_free. */
struct case_index *case_index_new(void);
/* Frees the index and its dictionaries. NULL is fine. */
void case_index_free(struct case_index *ix);
/* Empties the index (before a reload). */
void case_index_clear(struct case_index *ix);

/* Inserts or replaces n cases by id, in array order (a later row of the same id wins). A
 * changed reported_at moves the case in the order. Rows with an id out of range, or that would
 * take a dictionary past its capacity (65,535 statuses or channels, 4 billion codes), are
 * skipped and make the call return CD_ERR_RANGE; the others are in. */
enum cd_err case_index_put(struct case_index *ix, const struct case_index_row *rows, size_t n) CD_MUST_CHECK;

/* How many cases the index holds. */
int64_t case_index_count(struct case_index *ix);

/* The ids of the cases matching f from the offset-th match on, newest first (reported_at, then
 * id, descending): at most `limit` into ids[], their number in *n, and the exact number of
 * matches in *total. */
void case_index_page(struct case_index *ix, const struct case_index_filter *f, int64_t offset, size_t limit,
		     int64_t *ids, size_t *n, int64_t *total);

/* The smallest id of a case reported at or after `from` (0 when there is none): a lower bound
 * on the ids a time range holds, for reading it from the table by rowid. */
int64_t case_index_first_id(struct case_index *ix, int64_t from);

/* Every id matching f, newest first, in *ids (try_malloc'ed: xfree; NULL when none) and *n.
 * CD_ERR_NOMEM when the array cannot be had. For filters the index cannot decide alone (a
 * substring of the title): the caller tests these candidates itself. */
enum cd_err case_index_matches(struct case_index *ix, const struct case_index_filter *f, int64_t **ids,
			       size_t *n) CD_MUST_CHECK;

#endif
