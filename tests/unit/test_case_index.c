/* Unit tests for the in-memory case list index (src/store/case_index.c): every filter alone and
 * combined, pages and totals checked against a brute-force filter over the same cases, through
 * out-of-order arrivals, updates that move cases between statuses, units and times, and gaps. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/case_index.h"
#include "test.h"
#include "util/alloc.h"

#define NCASES 2000
#define ID_GAP 7 /* every 7th id is never stored (a refused journal record) */

static const char *const statuses[] = {"reported", "dispatched", "closed", "handled"};
static const char *const streets[] = {"", "440303001", "440303002", "440303003"};
static const char *const units[] = {"", "D-CGZF", "D-SW", "S-DM"};
static const char *const cats[] = {"", "H010101", "H010102", "H010201", "H020101", "UM06010", "H01"};
static const char *const channels[] = {"hotline", "app", "grid", "iot"};

/* One case as the test keeps it. */
struct tcase {
	int64_t id;
	int64_t reported_at;
	int stored;
	const char *status, *street, *community, *unit, *category, *channel;
	char community_buf[16];
	int overdue;
};

static struct tcase all[NCASES + 1]; /* by id */

static unsigned rnd_state = 4242;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

static void randomize(struct tcase *c)
{
	c->status = statuses[rnd(4)];
	c->street = streets[rnd(4)];
	if (c->street[0])
		snprintf(c->community_buf, sizeof c->community_buf, "%s00%u", c->street, rnd(2) + 1);
	else
		c->community_buf[0] = '\0';
	c->community = c->community_buf;
	c->unit = units[rnd(4)];
	c->category = cats[rnd(7)];
	c->channel = channels[rnd(4)];
	c->overdue = rnd(5) == 0;
}

static struct case_index_row row_of(const struct tcase *c)
{
	struct case_index_row r = {c->id,	 c->reported_at, c->status,  c->street, c->community,
				   c->unit,	 c->category,	 c->channel, c->overdue};
	return r;
}

static int tmatch(const struct tcase *c, const struct case_index_filter *f)
{
	if (!c->stored)
		return 0;
	if (f->status && *f->status && strcmp(c->status, f->status))
		return 0;
	if (f->street_code && *f->street_code && strcmp(c->street, f->street_code))
		return 0;
	if (f->community_code && *f->community_code && strcmp(c->community, f->community_code))
		return 0;
	if (f->unit_code && *f->unit_code && strcmp(c->unit, f->unit_code))
		return 0;
	if (f->channel && *f->channel && strcmp(c->channel, f->channel))
		return 0;
	if (f->category_prefix && *f->category_prefix &&
	    strncmp(c->category, f->category_prefix, strlen(f->category_prefix)))
		return 0;
	if (f->uncategorized && c->category[0])
		return 0;
	if (f->overdue > 0 && !c->overdue)
		return 0;
	if (f->overdue < 0 && c->overdue)
		return 0;
	if (f->from && c->reported_at < f->from)
		return 0;
	if (f->to && c->reported_at >= f->to)
		return 0;
	return 1;
}

static const struct tcase *sorted[NCASES];

static int newer_first(const void *a, const void *b)
{
	const struct tcase *x = *(const struct tcase *const *)a, *y = *(const struct tcase *const *)b;
	if (x->reported_at != y->reported_at)
		return x->reported_at > y->reported_at ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id;
}

/* The stored cases newest first into sorted[]; returns how many. */
static int sort_all(void)
{
	int n = 0;
	for (int id = 1; id <= NCASES; id++)
		if (all[id].stored)
			sorted[n++] = &all[id];
	qsort(sorted, (size_t)n, sizeof sorted[0], newer_first);
	return n;
}

#define NFILTERS 96
static struct case_index_filter filters[NFILTERS];

/* Every condition alone, pairs and triples of them, time ranges, and filters matching nothing. */
static int make_filters(void)
{
	int n = 0;
	memset(filters, 0, sizeof filters);
	n++; /* everything */
	for (int i = 0; i < 4; i++) {
		filters[n++].status = statuses[i];
		filters[n++].unit_code = units[i];
		filters[n++].channel = channels[i];
	}
	for (int i = 1; i < 4; i++) {
		filters[n++].street_code = streets[i];
		filters[n].street_code = streets[i];
		filters[n++].status = statuses[i];
	}
	filters[n++].community_code = "440303002001";
	filters[n].community_code = "440303001002";
	filters[n++].overdue = 1;
	static const char *const prefixes[] = {"H", "H01", "H0101", "H010101", "UM", "X9", "H0102"};
	for (int i = 0; i < 7; i++) {
		filters[n].category_prefix = prefixes[i];
		filters[n++].status = i % 2 ? "dispatched" : NULL;
	}
	filters[n++].uncategorized = 1;
	filters[n].uncategorized = 1;
	filters[n++].unit_code = "D-SW";
	filters[n].uncategorized = 1;
	filters[n++].category_prefix = "H"; /* contradiction: nothing */
	filters[n++].overdue = 1;
	filters[n++].overdue = -1;
	filters[n].overdue = -1;
	filters[n++].street_code = streets[1];
	filters[n].from = 1000 + 300;
	filters[n++].to = 1000 + 900;
	filters[n++].from = 1000 + 1500;
	filters[n++].to = 1000 + 200;
	filters[n].from = 1000 + 700;
	filters[n++].to = 1000 + 700; /* empty range */
	filters[n].from = 1000 + 100;
	filters[n].to = 1000 + 1900;
	filters[n].status = "handled";
	filters[n++].unit_code = "S-DM";
	filters[n].street_code = streets[2];
	filters[n].channel = "app";
	filters[n++].category_prefix = "H";
	filters[n].status = "no-such-status";
	n++;
	filters[n].overdue = 1; /* the rarest condition: a count driven by the overdue flags */
	filters[n++].channel = "app";
	filters[n].overdue = -1;
	filters[n++].category_prefix = "H";
	filters[n].unit_code = "D-SW";
	filters[n].status = "dispatched";
	filters[n].street_code = streets[3];
	filters[n++].overdue = -1;
	return n;
}

/* Pages through every filter in pages of `step` and checks ids, order and totals; returns the
 * number of filters that matched something. */
static int check_all(struct case_index *ix, size_t step)
{
	int nsorted = sort_all(), nonempty = 0, nf = make_filters();
	int64_t *ids = xcalloc(step ? step : 1, sizeof *ids);
	for (int k = 0; k < nf; k++) {
		const struct case_index_filter *f = &filters[k];
		int64_t want[NCASES];
		int nwant = 0;
		for (int i = 0; i < nsorted; i++)
			if (tmatch(sorted[i], f))
				want[nwant++] = sorted[i]->id;
		nonempty += nwant > 0;
		int seen = 0;
		for (int64_t off = 0; off <= nwant; off += (int64_t)step) {
			size_t n = 0;
			int64_t total = -1;
			case_index_page(ix, f, off, step, ids, &n, &total);
			if (total != nwant)
				fprintf(stderr, "  filter %d offset %lld\n", k, (long long)off);
			CHECK_INT_EQ(total, nwant);
			for (size_t i = 0; i < n; i++) {
				CHECK(seen < nwant);
				if (seen < nwant && ids[i] != want[seen]) {
					fprintf(stderr, "  filter %d: position %d is %lld, want %lld\n", k, seen,
						(long long)ids[i], (long long)want[seen]);
					test_failures_in_case++;
				}
				seen++;
			}
			if (step == 0)
				break;
		}
		if (step)
			CHECK_INT_EQ(seen, nwant);
		/* Every match at once, as the substring search takes its candidates. */
		int64_t *m = NULL;
		size_t nm = 0;
		CHECK_INT_EQ(case_index_matches(ix, f, &m, &nm), CD_OK);
		CHECK_INT_EQ(nm, nwant);
		for (size_t i = 0; i < nm && (int)i < nwant; i++)
			if (m[i] != want[i]) {
				fprintf(stderr, "  filter %d: match %zu is %lld, want %lld\n", k, i, (long long)m[i],
					(long long)want[i]);
				test_failures_in_case++;
				break;
			}
		xfree(m);
	}
	xfree(ids);
	return nonempty;
}

/* Puts the cases with ids in [lo, hi) in batches of `batch`. */
static void put_range(struct case_index *ix, int lo, int hi, int batch)
{
	struct case_index_row *rows = xcalloc((size_t)batch, sizeof *rows);
	int n = 0;
	for (int id = lo; id < hi; id++) {
		if (!all[id].stored)
			continue;
		rows[n++] = row_of(&all[id]);
		if (n == batch || id == hi - 1) {
			CHECK_INT_EQ(case_index_put(ix, rows, (size_t)n), CD_OK);
			n = 0;
		}
	}
	if (n)
		CHECK_INT_EQ(case_index_put(ix, rows, (size_t)n), CD_OK);
	xfree(rows);
}

/* Mostly in order, with ties and a share of old reported_at (imports), and id gaps. */
static void make_cases(void)
{
	memset(all, 0, sizeof all);
	for (int id = 1; id <= NCASES; id++) {
		struct tcase *c = &all[id];
		c->id = id;
		c->stored = id % ID_GAP != 0;
		c->reported_at = 1000 + id - (int64_t)rnd(3); /* ties */
		if (rnd(10) == 0)
			c->reported_at = 1000 + (int64_t)rnd((unsigned)id); /* an import of an old case */
		randomize(c);
	}
}

static void test_filters_after_inserts(void)
{
	make_cases();
	struct case_index *ix = case_index_new();
	put_range(ix, 1, NCASES + 1, 100);
	int stored = 0;
	for (int id = 1; id <= NCASES; id++)
		stored += all[id].stored;
	CHECK_INT_EQ(case_index_count(ix), stored);
	CHECK(check_all(ix, 13) > 30);
	CHECK(check_all(ix, 500) > 30);
	check_all(ix, 0); /* totals alone */
	case_index_free(ix);
}

/* Conditions every case meets (one channel, one category, none overdue, as in a load test)
 * are left out of the count: the answers must not change. */
static void test_conditions_every_case_meets(void)
{
	make_cases();
	for (int id = 1; id <= NCASES; id++) {
		all[id].channel = "app";
		all[id].category = "UM06010";
		all[id].overdue = 0;
	}
	struct case_index *ix = case_index_new();
	put_range(ix, 1, NCASES + 1, 100);
	CHECK(check_all(ix, 13) > 10);
	check_all(ix, 0);
	struct case_index_filter f;
	memset(&f, 0, sizeof f);
	f.channel = "app";
	f.category_prefix = "UM";
	f.overdue = -1;
	size_t n = 0;
	int64_t total = 0, ids[20];
	case_index_page(ix, &f, 0, 20, ids, &n, &total);
	CHECK_INT_EQ(total, case_index_count(ix));
	CHECK_INT_EQ(n, 20);
	f.overdue = 1; /* and one that no case meets */
	case_index_page(ix, &f, 0, 20, ids, &n, &total);
	CHECK_INT_EQ(total, 0);
	CHECK_INT_EQ(n, 0);
	case_index_free(ix);
}

static void test_updates_move_cases(void)
{
	make_cases();
	struct case_index *ix = case_index_new();
	put_range(ix, 1, NCASES + 1, 250);
	/* Workflow steps: statuses, units, categories, overdue change in place; a few cases get
	 * a new reported_at; one batch holds two versions of the same case (the later wins). */
	struct case_index_row rows[64];
	for (int round = 0; round < 40; round++) {
		int n = 0;
		for (int k = 0; k < 60; k++) {
			int id = 1 + (int)rnd(NCASES);
			if (!all[id].stored)
				continue;
			struct tcase *c = &all[id];
			c->status = statuses[rnd(4)];
			c->unit = units[rnd(4)];
			if (k % 3 == 0)
				c->category = cats[rnd(7)];
			c->overdue = rnd(3) == 0;
			if (k % 17 == 0)
				c->reported_at = 1000 + (int64_t)rnd(NCASES + 200);
			rows[n++] = row_of(c);
		}
		if (n > 1) {
			/* a stale version first, then the current one */
			struct case_index_row stale = rows[n - 1];
			stale.status = "closed";
			stale.reported_at = 5;
			int64_t last = rows[n - 1].id;
			rows[n - 1] = stale;
			rows[n] = row_of(&all[last]);
			n++;
		}
		CHECK_INT_EQ(case_index_put(ix, rows, (size_t)n), CD_OK);
	}
	CHECK(check_all(ix, 17) > 30);
	case_index_free(ix);
}

/* Arrival wholly out of order (every case goes through the side array and its merges). */
static void test_reverse_arrival(void)
{
	make_cases();
	struct case_index *ix = case_index_new();
	struct case_index_row r;
	for (int id = NCASES; id >= 1; id--) {
		if (!all[id].stored)
			continue;
		r = row_of(&all[id]);
		CHECK_INT_EQ(case_index_put(ix, &r, 1), CD_OK);
	}
	CHECK(check_all(ix, 50) > 30);
	/* Cleared and loaded again in one call: the same answers. */
	case_index_clear(ix);
	CHECK_INT_EQ(case_index_count(ix), 0);
	put_range(ix, 1, NCASES + 1, NCASES);
	CHECK(check_all(ix, 50) > 30);
	case_index_free(ix);
}

static void test_bad_rows_and_empty(void)
{
	struct case_index *ix = case_index_new();
	struct case_index_filter none;
	memset(&none, 0, sizeof none);
	int64_t ids[4];
	size_t n = 9;
	int64_t total = -1;
	case_index_page(ix, &none, 0, 4, ids, &n, &total);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(total, 0);
	int64_t *m = (int64_t *)1;
	size_t nm = 1;
	CHECK_INT_EQ(case_index_matches(ix, &none, &m, &nm), CD_OK);
	CHECK(m == NULL);
	CHECK_INT_EQ(nm, 0);
	struct case_index_row rows[3] = {
		{0, 10, "reported", NULL, NULL, NULL, NULL, "app", 0},
		{CASE_INDEX_ID_MAX + 1, 10, "reported", NULL, NULL, NULL, NULL, "app", 0},
		{5, 10, "reported", NULL, NULL, NULL, NULL, "app", 0},
	};
	CHECK_INT_EQ(case_index_put(ix, rows, 3), CD_ERR_RANGE);
	CHECK_INT_EQ(case_index_count(ix), 1); /* the good row is in */
	none.uncategorized = 1;
	case_index_page(ix, &none, 0, 4, ids, &n, &total);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(total, 1);
	CHECK_INT_EQ(ids[0], 5);
	/* an offset past the end */
	case_index_page(ix, &none, 3, 4, ids, &n, &total);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(total, 1);
	case_index_free(ix);
	case_index_free(NULL);
}

static const struct test_case tests[] = {
	{"filters, pages and totals match brute force", test_filters_after_inserts},
	{"updates move cases between statuses, units and times", test_updates_move_cases},
	{"conditions every case meets change no answer", test_conditions_every_case_meets},
	{"arrival in reverse order, clear and reload", test_reverse_arrival},
	{"bad rows are skipped; an empty index", test_bad_rows_and_empty},
};

TEST_MAIN(tests)
