/* The in-memory case list index (case_index.h): the list columns of every case as one array per
 * column addressed by id (a count scans only the columns it tests), one dictionary per text
 * column with the number of live cases per value, and the newest-first order kept as a sorted
 * array of ids plus a small sorted side array for the cases that did not arrive in order, merged
 * in when it grows. docs/internals/store.md ("The case list index") explains the choices. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/case_index.h"
#include "util/alloc.h"
#include "util/str.h"

#define ANY UINT32_MAX   /* a filter column that is not asked for */
#define NO_ID UINT32_MAX /* dict_find: the string was never seen */
#define DICT16_MAX 0xffffu
#define DICT32_MAX 0xfffffff0u
/* The side array is merged into the main order past this many entries (plus 1/32 of the cases):
 * inserting into it moves at most that many ids, and a merge costs one pass over the order. */
#define SIDE_MIN 256

#define F_LIVE 1u    /* a case with this id is stored */
#define F_PENDING 2u /* being placed at the end of a put */
#define F_OVERDUE 4u

/* Interned strings of one column: id -> string, an open-addressing table string -> id, and the
 * number of live cases holding each id. */
struct dict {
	char **str;     /* value of each id; id 0 is "" */
	uint32_t *cnt;  /* live cases per id */
	uint32_t n;     /* ids handed out */
	uint32_t cap;   /* room in str and cnt */
	uint32_t *slot; /* id + 1 per slot, 0 = empty */
	uint32_t nslot; /* a power of two, kept over twice n */
	uint32_t max;   /* ids this column may have (its array's width) */
};

/* The text columns. Status, street, community and channel have a few to a few hundred values
 * in a district and are kept in 16 bits; unit and category in 32. */
enum { D_STATUS, D_STREET, D_COMMUNITY, D_CHANNEL, D_UNIT, D_CATEGORY, D_N };
#define D_N16 4 /* the first D_N16 columns are 16-bit */

struct case_index {
	pthread_rwlock_t lock;   /* readers: lists; writers: put, clear */
	size_t cap;              /* ids the columns have room for (id 0 unused) */
	int64_t *t;              /* reported_at by id */
	uint16_t *c16[D_N16];    /* dictionary ids by id */
	uint32_t *c32[D_N];      /* [D_UNIT], [D_CATEGORY]: dictionary ids by id */
	uint8_t *flags;          /* F_* by id; gaps (refused journal records) stay 0 */
	int64_t max_id;          /* highest live id (the bound of a full scan) */
	int64_t count;           /* live cases */
	int64_t n_overdue;       /* live cases with F_OVERDUE */
	uint32_t *order;         /* ids ascending by (reported_at, id): newest at the end */
	size_t n_order, cap_order;
	uint32_t *side;          /* ids that arrived out of order, sorted the same way */
	size_t n_side, cap_side;
	struct dict dict[D_N];
};

/* Column k of case id. */
static uint32_t col(const struct case_index *ix, int k, uint32_t id)
{
	return k < D_N16 ? ix->c16[k][id] : ix->c32[k][id];
}

/* ---- dictionaries ------------------------------------------------------------------------ */

static void dict_init(struct dict *d, uint32_t max)
{
	memset(d, 0, sizeof *d);
	d->max = max;
	d->nslot = 64;
	d->slot = xcalloc(d->nslot, sizeof *d->slot);
}

static void dict_release(struct dict *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		xfree(d->str[i]);
	xfree(d->str);
	xfree(d->cnt);
	xfree(d->slot);
	memset(d, 0, sizeof *d);
}

/* The id of s, or NO_ID. */
static uint32_t dict_find(const struct dict *d, const char *s)
{
	uint32_t mask = d->nslot - 1;
	for (uint32_t i = str_fnv1a(STR_FNV_SEED, s) & mask;; i = (i + 1) & mask) {
		uint32_t v = d->slot[i];
		if (v == 0)
			return NO_ID;
		if (strcmp(d->str[v - 1], s) == 0)
			return v - 1;
	}
}

static void dict_slot_put(struct dict *d, uint32_t id)
{
	uint32_t mask = d->nslot - 1;
	uint32_t i = str_fnv1a(STR_FNV_SEED, d->str[id]) & mask;
	while (d->slot[i])
		i = (i + 1) & mask;
	d->slot[i] = id + 1;
}

/* The id of s, added when new; NO_ID when the column is full. Write-locked. */
static uint32_t dict_intern(struct dict *d, const char *s)
{
	uint32_t id = dict_find(d, s);
	if (id != NO_ID)
		return id;
	if (d->n >= d->max)
		return NO_ID;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->str = xrealloc(d->str, (size_t)d->cap * sizeof *d->str);
		d->cnt = xrealloc(d->cnt, (size_t)d->cap * sizeof *d->cnt);
	}
	id = d->n++;
	d->str[id] = xstrdup(s);
	d->cnt[id] = 0;
	if ((uint64_t)d->n * 2 > d->nslot) {
		xfree(d->slot);
		d->nslot *= 2;
		d->slot = xcalloc(d->nslot, sizeof *d->slot);
		for (uint32_t k = 0; k < d->n; k++)
			dict_slot_put(d, k);
	} else {
		dict_slot_put(d, id);
	}
	return id;
}

static void dicts_init(struct case_index *ix)
{
	for (int k = 0; k < D_N; k++) {
		dict_init(&ix->dict[k], k < D_N16 ? DICT16_MAX : DICT32_MAX);
		(void)dict_intern(&ix->dict[k], ""); /* id 0: filters test "uncategorized" as 0 */
	}
}

/* ---- the order ----------------------------------------------------------------------------- */

/* (reported_at of a, a) < (t, id) */
static int key_below(const struct case_index *ix, uint32_t a, int64_t t, uint32_t id)
{
	int64_t ta = ix->t[a];
	return ta < t || (ta == t && a < id);
}

/* The first position of arr[0..n) whose key is >= (t, id). */
static size_t lower_bound(const struct case_index *ix, const uint32_t *arr, size_t n, int64_t t, uint32_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_below(ix, arr[mid], t, id))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void arr_insert(uint32_t **arr, size_t *n, size_t *cap, size_t pos, uint32_t id)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*arr = xrealloc(*arr, *cap * sizeof **arr);
	}
	memmove(*arr + pos + 1, *arr + pos, (*n - pos) * sizeof **arr);
	(*arr)[pos] = id;
	(*n)++;
}

/* Removes id (whose entry still holds the reported_at it was placed under) from the order. */
static void unplace(struct case_index *ix, uint32_t id)
{
	int64_t t = ix->t[id];
	size_t pos = lower_bound(ix, ix->order, ix->n_order, t, id);
	if (pos < ix->n_order && ix->order[pos] == id) {
		memmove(ix->order + pos, ix->order + pos + 1, (ix->n_order - pos - 1) * sizeof *ix->order);
		ix->n_order--;
		return;
	}
	pos = lower_bound(ix, ix->side, ix->n_side, t, id);
	if (pos < ix->n_side && ix->side[pos] == id) {
		memmove(ix->side + pos, ix->side + pos + 1, (ix->n_side - pos - 1) * sizeof *ix->side);
		ix->n_side--;
	}
}

/* Whether id goes after every id of the order (the usual case: the newest case). */
static int appendable(const struct case_index *ix, uint32_t id)
{
	if (ix->n_order == 0)
		return 1;
	uint32_t last = ix->order[ix->n_order - 1];
	return !key_below(ix, id, ix->t[last], last);
}

static int cmp_key(const void *pa, const void *pb, void *ctx)
{
	const struct case_index *ix = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	if (a == b)
		return 0;
	return key_below(ix, a, ix->t[b], b) ? -1 : 1;
}

/* Puts the n ids of pend (out of order arrivals of one put) into the side array: one by one
 * when few, else sorted and merged in one pass (a bulk import or the first load). */
static void side_add(struct case_index *ix, uint32_t *pend, size_t n)
{
	if (n <= 32) {
		for (size_t i = 0; i < n; i++) {
			size_t pos = lower_bound(ix, ix->side, ix->n_side, ix->t[pend[i]], pend[i]);
			arr_insert(&ix->side, &ix->n_side, &ix->cap_side, pos, pend[i]);
		}
		return;
	}
	qsort_r(pend, n, sizeof *pend, cmp_key, ix);
	size_t total = ix->n_side + n, i = ix->n_side, j = n, k = total;
	if (total > ix->cap_side) {
		ix->cap_side = total;
		ix->side = xrealloc(ix->side, total * sizeof *ix->side);
	}
	/* merge from the top, in place */
	while (j > 0) {
		if (i > 0 && cmp_key(&ix->side[i - 1], &pend[j - 1], ix) > 0)
			ix->side[--k] = ix->side[--i];
		else
			ix->side[--k] = pend[--j];
	}
	ix->n_side = total;
}

/* Merges the side array into the order. */
static void merge_side(struct case_index *ix)
{
	size_t n = ix->n_order + ix->n_side, i = 0, j = 0, k = 0;
	uint32_t *out = xmalloc((n ? n : 1) * sizeof *out);
	while (i < ix->n_order && j < ix->n_side) {
		uint32_t a = ix->order[i], b = ix->side[j];
		if (key_below(ix, a, ix->t[b], b)) {
			out[k++] = a;
			i++;
		} else {
			out[k++] = b;
			j++;
		}
	}
	while (i < ix->n_order)
		out[k++] = ix->order[i++];
	while (j < ix->n_side)
		out[k++] = ix->side[j++];
	xfree(ix->order);
	ix->order = out;
	ix->cap_order = n ? n : 1;
	ix->n_order = n;
	ix->n_side = 0;
}

/* ---- life ---------------------------------------------------------------------------------- */

struct case_index *case_index_new(void)
{
	struct case_index *ix = xcalloc(1, sizeof *ix);
	pthread_rwlock_init(&ix->lock, NULL);
	dicts_init(ix);
	return ix;
}

static void release_all(struct case_index *ix)
{
	xfree(ix->t);
	for (int k = 0; k < D_N; k++) {
		if (k < D_N16)
			xfree(ix->c16[k]);
		xfree(ix->c32[k]);
		dict_release(&ix->dict[k]);
	}
	xfree(ix->flags);
	xfree(ix->order);
	xfree(ix->side);
	ix->t = NULL;
	memset(ix->c16, 0, sizeof ix->c16);
	memset(ix->c32, 0, sizeof ix->c32);
	ix->flags = NULL;
	ix->order = ix->side = NULL;
	ix->cap = ix->n_order = ix->cap_order = ix->n_side = ix->cap_side = 0;
	ix->max_id = ix->count = ix->n_overdue = 0;
}

void case_index_free(struct case_index *ix)
{
	if (!ix)
		return;
	release_all(ix);
	pthread_rwlock_destroy(&ix->lock);
	xfree(ix);
}

void case_index_clear(struct case_index *ix)
{
	pthread_rwlock_wrlock(&ix->lock);
	release_all(ix);
	dicts_init(ix);
	pthread_rwlock_unlock(&ix->lock);
}

int64_t case_index_count(struct case_index *ix)
{
	pthread_rwlock_rdlock(&ix->lock);
	int64_t n = ix->count;
	pthread_rwlock_unlock(&ix->lock);
	return n;
}

/* ---- writes -------------------------------------------------------------------------------- */

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* Grows an array of `size`-byte elements from old to cap elements, zeroing the new ones. */
static void *grow(void *p, size_t size, size_t old, size_t cap)
{
	unsigned char *q = xrealloc(p, cap * size);
	memset(q + old * size, 0, (cap - old) * size);
	return q;
}

static void reserve(struct case_index *ix, int64_t id)
{
	if ((size_t)id < ix->cap)
		return;
	size_t cap = ix->cap ? ix->cap : 1024;
	while (cap <= (size_t)id)
		cap *= 2;
	ix->t = grow(ix->t, sizeof *ix->t, ix->cap, cap);
	for (int k = 0; k < D_N; k++) {
		if (k < D_N16)
			ix->c16[k] = grow(ix->c16[k], sizeof **ix->c16, ix->cap, cap);
		else
			ix->c32[k] = grow(ix->c32[k], sizeof **ix->c32, ix->cap, cap);
	}
	ix->flags = grow(ix->flags, 1, ix->cap, cap);
	ix->cap = cap;
}

/* Adds delta to the per-value counts of the live case id. */
static void count_case(struct case_index *ix, uint32_t id, int delta)
{
	for (int k = 0; k < D_N; k++)
		ix->dict[k].cnt[col(ix, k, id)] += (uint32_t)delta;
	ix->count += delta;
	if (ix->flags[id] & F_OVERDUE)
		ix->n_overdue += delta;
}

enum cd_err case_index_put(struct case_index *ix, const struct case_index_row *rows, size_t n)
{
	enum cd_err rc = CD_OK;
	uint32_t *pend = NULL; /* ids to place in the side array */
	size_t npend = 0, cap_pend = 0;
	pthread_rwlock_wrlock(&ix->lock);
	for (size_t r = 0; r < n; r++) {
		const struct case_index_row *row = &rows[r];
		if (row->id <= 0 || row->id > CASE_INDEX_ID_MAX) {
			rc = CD_ERR_RANGE;
			continue;
		}
		const char *text[D_N];
		text[D_STATUS] = or_empty(row->status);
		text[D_STREET] = or_empty(row->street_code);
		text[D_COMMUNITY] = or_empty(row->community_code);
		text[D_CHANNEL] = or_empty(row->channel);
		text[D_UNIT] = or_empty(row->unit_code);
		text[D_CATEGORY] = or_empty(row->category_code);
		uint32_t v[D_N];
		int full = 0;
		for (int k = 0; k < D_N; k++)
			full |= (v[k] = dict_intern(&ix->dict[k], text[k])) == NO_ID;
		if (full) {
			rc = CD_ERR_RANGE;
			continue;
		}
		uint32_t id = (uint32_t)row->id;
		reserve(ix, row->id);
		uint8_t fl = ix->flags[id];
		int placed = (fl & F_LIVE) && !(fl & F_PENDING); /* pending: placed by its final key below */
		if (placed && ix->t[id] != row->reported_at) {
			unplace(ix, id);
			placed = 0;
		}
		if (fl & F_LIVE)
			count_case(ix, id, -1);
		ix->t[id] = row->reported_at;
		for (int k = 0; k < D_N; k++) {
			if (k < D_N16)
				ix->c16[k][id] = (uint16_t)v[k];
			else
				ix->c32[k][id] = v[k];
		}
		fl = (uint8_t)((fl & F_PENDING) | F_LIVE | (row->overdue ? F_OVERDUE : 0));
		ix->flags[id] = fl;
		count_case(ix, id, 1);
		if (row->id > ix->max_id)
			ix->max_id = row->id;
		if (placed || (fl & F_PENDING))
			continue;
		if (appendable(ix, id)) {
			arr_insert(&ix->order, &ix->n_order, &ix->cap_order, ix->n_order, id);
			continue;
		}
		if (npend == cap_pend) {
			cap_pend = cap_pend ? cap_pend * 2 : 64;
			pend = xrealloc(pend, cap_pend * sizeof *pend);
		}
		pend[npend++] = id;
		ix->flags[id] |= F_PENDING;
	}
	for (size_t i = 0; i < npend; i++)
		ix->flags[pend[i]] &= (uint8_t)~F_PENDING;
	side_add(ix, pend, npend);
	xfree(pend);
	if (ix->n_side > SIDE_MIN + (size_t)ix->count / 32)
		merge_side(ix);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

/* ---- reads --------------------------------------------------------------------------------- */

/* A filter in dictionary ids, with the condition a count drives its scan by. */
struct cfilter {
	uint32_t v[D_N];      /* wanted id per column, or ANY (the category's with cats NULL) */
	const uint8_t *cats;  /* 1 per category id that the prefix matches, or NULL */
	int overdue;          /* as in the filter */
	int none;             /* nothing can match (a value never stored, a contradiction) */
	int nconds;           /* conditions besides the time range */
	int driver;           /* the rarest condition: a column k, D_N for the prefix, -1 overdue */
	int64_t driver_n;     /* live cases that meet it */
};

static int given(const char *s)
{
	return s && *s;
}

/* Notes a condition that est cases meet; the rarest drives the counts. */
static void consider(struct cfilter *cf, int driver, int64_t est)
{
	if (cf->nconds++ == 0 || est < cf->driver_n) {
		cf->driver = driver;
		cf->driver_n = est;
	}
}

/* Compiles f; *cats_out is the category set to xfree (NULL when none). A condition every live
 * case meets is left out: it would only make the count test each case against it (at 1,000,000
 * cases all of one channel and category, "channel + category prefix" took 13 ms that way).
 * Read-locked. */
static void compile(const struct case_index *ix, const struct case_index_filter *f, struct cfilter *cf,
		    uint8_t **cats_out)
{
	const char *want[D_N] = {f->status, f->street_code, f->community_code, f->channel, f->unit_code, NULL};
	memset(cf, 0, sizeof *cf);
	*cats_out = NULL;
	for (int k = 0; k < D_N; k++) {
		cf->v[k] = ANY;
		if (!given(want[k]))
			continue;
		uint32_t v = dict_find(&ix->dict[k], want[k]);
		if (v == NO_ID) {
			cf->none = 1;
			continue;
		}
		if (ix->dict[k].cnt[v] == ix->count)
			continue; /* every case has it */
		cf->v[k] = v;
		consider(cf, k, ix->dict[k].cnt[v]);
	}
	int64_t overdue_n = f->overdue > 0 ? ix->n_overdue : ix->count - ix->n_overdue;
	cf->overdue = f->overdue && overdue_n < ix->count ? f->overdue : 0;
	if (cf->overdue)
		consider(cf, -1, overdue_n);
	const struct dict *d = &ix->dict[D_CATEGORY];
	if (f->uncategorized) {
		if (d->cnt[0] < ix->count) {
			cf->v[D_CATEGORY] = 0; /* "" */
			consider(cf, D_CATEGORY, d->cnt[0]);
		}
		if (given(f->category_prefix))
			cf->none = 1; /* a prefix is never empty */
	} else if (given(f->category_prefix)) {
		size_t len = strlen(f->category_prefix);
		uint8_t *cats = xcalloc(d->n ? d->n : 1, 1);
		int64_t est = 0;
		for (uint32_t i = 0; i < d->n; i++)
			if (strncmp(d->str[i], f->category_prefix, len) == 0) {
				cats[i] = 1;
				est += d->cnt[i];
			}
		*cats_out = cats;
		if (est == 0)
			cf->none = 1;
		if (est < ix->count) {
			cf->cats = cats;
			consider(cf, D_N, est);
		}
	}
	if (f->from && f->to && f->from >= f->to)
		cf->none = 1;
}

/* Whether the live-or-not case id meets every condition but the time range. */
static int match(const struct case_index *ix, uint32_t id, const struct cfilter *cf)
{
	uint8_t fl = ix->flags[id];
	if (!(fl & F_LIVE))
		return 0;
	for (int k = 0; k < D_N; k++)
		if (cf->v[k] != ANY && col(ix, k, id) != cf->v[k])
			return 0;
	if (cf->cats && !cf->cats[ix->c32[D_CATEGORY][id]])
		return 0;
	return cf->overdue == 0 || (cf->overdue > 0) == ((fl & F_OVERDUE) != 0);
}

/* A newest-first walk over the order and the side array within a time range. */
struct walk {
	const struct case_index *ix;
	size_t lo_o, io; /* order[lo_o .. io) still to visit, from the top */
	size_t lo_s, is; /* side[lo_s .. is) */
};

static void walk_init(struct walk *w, const struct case_index *ix, int64_t from, int64_t to)
{
	w->ix = ix;
	w->lo_o = from ? lower_bound(ix, ix->order, ix->n_order, from, 0) : 0;
	w->lo_s = from ? lower_bound(ix, ix->side, ix->n_side, from, 0) : 0;
	w->io = to ? lower_bound(ix, ix->order, ix->n_order, to, 0) : ix->n_order;
	w->is = to ? lower_bound(ix, ix->side, ix->n_side, to, 0) : ix->n_side;
	if (w->io < w->lo_o)
		w->io = w->lo_o;
	if (w->is < w->lo_s)
		w->is = w->lo_s;
}

static size_t walk_left(const struct walk *w)
{
	return (w->io - w->lo_o) + (w->is - w->lo_s);
}

/* The next id, newest first; 0 when the walk is over. */
static uint32_t walk_next(struct walk *w)
{
	const struct case_index *ix = w->ix;
	int have_o = w->io > w->lo_o, have_s = w->is > w->lo_s;
	if (have_o && have_s) {
		uint32_t a = ix->order[w->io - 1], b = ix->side[w->is - 1];
		if (key_below(ix, b, ix->t[a], a)) {
			w->io--;
			return a;
		}
		w->is--;
		return b;
	}
	if (have_o)
		return ix->order[--w->io];
	if (have_s)
		return ix->side[--w->is];
	return 0;
}

/* The newest k matches seen by a scan: a min-heap by (reported_at, id), the oldest at the root. */
struct topk {
	uint32_t *h;
	size_t n, k;
};

static void topk_push(const struct case_index *ix, struct topk *tk, uint32_t id)
{
	uint32_t *h = tk->h;
	if (tk->n < tk->k) {
		size_t i = tk->n++;
		while (i > 0 && key_below(ix, id, ix->t[h[(i - 1) / 2]], h[(i - 1) / 2])) {
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = id;
		return;
	}
	if (tk->k == 0 || key_below(ix, id, ix->t[h[0]], h[0]))
		return; /* older than every kept one */
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= tk->n)
			break;
		if (c + 1 < tk->n && key_below(ix, h[c + 1], ix->t[h[c]], h[c]))
			c++;
		if (!key_below(ix, h[c], ix->t[id], id))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = id;
}

/* Whether id (a driver candidate) is a match within [from, to). */
static int match_in(const struct case_index *ix, uint32_t id, const struct cfilter *cf, int64_t from, int64_t to)
{
	int64_t t = ix->t[id];
	return (!from || t >= from) && (!to || t < to) && match(ix, id, cf);
}

#define SCAN_HIT(id)                                                                                         \
	do {                                                                                                 \
		if (match_in(ix, (id), cf, from, to)) {                                                      \
			total++;                                                                             \
			if (tk)                                                                              \
				topk_push(ix, tk, (id));                                                     \
		}                                                                                            \
	} while (0)

/* Every match in [from, to) by a sequential pass over the driver's column (the rarest
 * condition's: 2 or 4 bytes a case; the others are tested only where it holds), in id order,
 * which is also the order of the other columns in memory. Returns how many; tk (if not NULL)
 * keeps the newest. Read-locked. */
static int64_t scan(const struct case_index *ix, const struct cfilter *cf, int64_t from, int64_t to,
		    struct topk *tk)
{
	int64_t total = 0;
	uint32_t end = (uint32_t)ix->max_id + 1;
	int k = cf->driver;
	if (k >= 0 && k < D_N16) {
		const uint16_t *c = ix->c16[k];
		uint16_t v = (uint16_t)cf->v[k];
		for (uint32_t id = 1; id < end; id++)
			if (c[id] == v)
				SCAN_HIT(id);
	} else if (k >= D_N16 && k < D_N) {
		const uint32_t *c = ix->c32[k];
		uint32_t v = cf->v[k];
		for (uint32_t id = 1; id < end; id++)
			if (c[id] == v)
				SCAN_HIT(id);
	} else if (k == D_N) {
		const uint32_t *c = ix->c32[D_CATEGORY];
		for (uint32_t id = 1; id < end; id++)
			if (cf->cats[c[id]])
				SCAN_HIT(id);
	} else {
		const uint8_t *fl = ix->flags;
		uint8_t want = cf->overdue > 0 ? F_OVERDUE | F_LIVE : F_LIVE;
		for (uint32_t id = 1; id < end; id++)
			if ((fl[id] & (F_OVERDUE | F_LIVE)) == want)
				SCAN_HIT(id);
	}
	return total;
}

/* The number of cases matching cf (at least one condition) in [from, to). With one condition
 * and no range it is the per-value count; a narrow range is walked; otherwise a scan. */
static int64_t count_all(const struct case_index *ix, const struct cfilter *cf, int64_t from, int64_t to)
{
	if (cf->nconds == 1 && !from && !to)
		return cf->driver_n;
	struct walk w;
	walk_init(&w, ix, from, to);
	if ((int64_t)walk_left(&w) * 4 < ix->max_id || (int64_t)walk_left(&w) < cf->driver_n) {
		int64_t total = 0;
		uint32_t id;
		while ((id = walk_next(&w)) != 0)
			total += match(ix, id, cf);
		return total;
	}
	return scan(ix, cf, from, to, NULL);
}

/* How far a page walks newest first before it takes the scan instead: past this many cases the
 * matches are rare enough that one pass over the driver's column in memory order (and keeping
 * the newest offset + limit) costs less than walking on in time order, which reads the columns
 * at scattered places. */
#define WALK_MIN 1024
#define WALK_SHARE 16 /* 1/16 of the cases */

void case_index_page(struct case_index *ix, const struct case_index_filter *f, int64_t offset, size_t limit,
		     int64_t *ids, size_t *n, int64_t *total)
{
	*n = 0;
	*total = 0;
	pthread_rwlock_rdlock(&ix->lock);
	struct cfilter cf;
	uint8_t *cats = NULL;
	compile(ix, f, &cf, &cats);
	if (cf.none)
		goto out;
	struct walk w;
	walk_init(&w, ix, f->from, f->to);
	int64_t seen = 0;
	uint32_t id = 0;
	if (cf.nconds == 0) {
		/* Every id in the walk matches: skip the offset without looking. */
		*total = (int64_t)walk_left(&w);
		if (offset >= *total)
			goto out;
		for (int64_t k = 0; k < offset; k++)
			(void)walk_next(&w);
		while (*n < limit && (id = walk_next(&w)) != 0)
			ids[(*n)++] = id;
		goto out;
	}
	int64_t budget = ix->max_id / WALK_SHARE > WALK_MIN ? ix->max_id / WALK_SHARE : WALK_MIN, walked = 0;
	while (*n < limit && walked < budget && (id = walk_next(&w)) != 0) {
		walked++;
		if (!match(ix, id, &cf))
			continue;
		if (seen++ >= offset)
			ids[(*n)++] = id;
	}
	if (*n == limit) {
		*total = count_all(ix, &cf, f->from, f->to);
	} else if (id == 0) {
		*total = seen; /* the walk ran out: every match was seen */
	} else {
		/* Rare matches: the scan finds them all, keeps the newest offset + limit. */
		struct topk tk;
		int64_t want = offset + (int64_t)limit;
		tk.k = want < cf.driver_n ? (size_t)want : (size_t)cf.driver_n;
		tk.n = 0;
		tk.h = xmalloc((tk.k ? tk.k : 1) * sizeof *tk.h);
		*total = scan(ix, &cf, f->from, f->to, &tk);
		qsort_r(tk.h, tk.n, sizeof *tk.h, cmp_key, ix);
		*n = 0;
		for (int64_t pos = (int64_t)tk.n - 1 - offset; pos >= 0 && *n < limit; pos--)
			ids[(*n)++] = tk.h[pos];
		xfree(tk.h);
	}
out:
	pthread_rwlock_unlock(&ix->lock);
	xfree(cats);
}

enum cd_err case_index_matches(struct case_index *ix, const struct case_index_filter *f, int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	enum cd_err rc = CD_OK;
	pthread_rwlock_rdlock(&ix->lock);
	struct cfilter cf;
	uint8_t *cats = NULL;
	compile(ix, f, &cf, &cats);
	if (!cf.none) {
		struct walk w;
		walk_init(&w, ix, f->from, f->to);
		size_t room = walk_left(&w);
		int64_t *out = room ? try_malloc(room * sizeof *out) : NULL;
		if (room && !out) {
			rc = CD_ERR_NOMEM;
		} else {
			uint32_t id;
			while ((id = walk_next(&w)) != 0)
				if (match(ix, id, &cf))
					out[(*n)++] = id;
			*ids = out;
		}
	}
	pthread_rwlock_unlock(&ix->lock);
	xfree(cats);
	if (*ids && *n == 0) {
		xfree(*ids);
		*ids = NULL;
	}
	return rc;
}

int64_t case_index_first_id(struct case_index *ix, int64_t from)
{
	pthread_rwlock_rdlock(&ix->lock);
	struct walk w;
	walk_init(&w, ix, from, 0);
	uint32_t best = 0;
	for (size_t i = w.lo_o; i < w.io; i++)
		if (!best || ix->order[i] < best)
			best = ix->order[i];
	for (size_t i = w.lo_s; i < w.is; i++)
		if (!best || ix->side[i] < best)
			best = ix->side[i];
	pthread_rwlock_unlock(&ix->lock);
	return best;
}
