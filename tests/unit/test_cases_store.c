/* Unit tests for the cases part of the store: the group-commit batch (duplicates, bad cases,
 * refs per day), optimistic updates, lists checked against a brute-force filter over the same
 * cases (after updates, and from the list index rebuilt after reopening), totals, score
 * aggregates, the scheduler's due list, the grid lookup, files,
 * and migrating a version-2 database. Databases live in fresh directories under /tmp. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_case_batch.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

extern const char *const store_migrations[];

static const struct store_actor intake = {"system", ""};
static const struct store_actor admin = {"admin", "127.0.0.1"};

/* 2026-11-27 00:00:00 +08:00 */
#define DAY0 ((int64_t)1795708800)

static int64_t audit_count(struct store *st)
{
	int64_t n = -1;
	CHECK_INT_EQ(store_audit_count(st, &n), CD_OK);
	return n;
}

static void verify_ok(struct store *st)
{
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
}

/* A heap case (the struct is large) with the fields lists filter on. */
static struct store_case *new_case(const char *channel, const char *ext, const char *street,
				   const char *unit, const char *category, const char *status,
				   int64_t reported_at)
{
	struct store_case *c = xcalloc(1, sizeof *c);
	snprintf(c->channel, sizeof c->channel, "%s", channel);
	snprintf(c->external_id, sizeof c->external_id, "%s", ext ? ext : "");
	snprintf(c->title, sizeof c->title, "井盖缺失 %s", category ? category : "");
	snprintf(c->description, sizeof c->description, "东门路口井盖缺失，行人易跌落。");
	snprintf(c->street_code, sizeof c->street_code, "%s", street ? street : "");
	if (street && *street)
		snprintf(c->community_code, sizeof c->community_code, "%s001", street);
	snprintf(c->unit_code, sizeof c->unit_code, "%s", unit ? unit : "");
	snprintf(c->category_code, sizeof c->category_code, "%s", category ? category : "");
	snprintf(c->status, sizeof c->status, "%s", status ? status : "");
	c->reported_at = reported_at;
	return c;
}

/* Inserts one case alone and returns its id (0 on failure). */
static int64_t insert1(struct store *st, struct store_case *c)
{
	enum cd_err res = CD_ERR_STORE;
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 1, &res), CD_OK);
	CHECK_INT_EQ(res, CD_OK);
	return c->id;
}

/* ---- the batch --------------------------------------------------------------------------- */

static void test_batch_duplicates_and_refs(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);

	struct store_case *first = new_case("hotline", "ext-A", "440303001", "U1", "H010101",
					    NULL, DAY0 + 3600);
	CHECK(insert1(st, first) > 0);
	CHECK_STR_EQ(first->ref, "LH20261127000001");
	CHECK_STR_EQ(first->status, "reported");
	CHECK_INT_EQ(first->version, 1);

	int64_t a0 = audit_count(st);
	struct store_case *batch = xcalloc(6, sizeof *batch);
	const char *ext[6] = {"ext-B", "", "ext-A", "ext-B", "ext-C", "ext-D"};
	for (int i = 0; i < 6; i++) {
		struct store_case *c = new_case("hotline", ext[i], "440303001", "U1", "H010101",
						"registered", DAY0 + 7200 + i);
		batch[i] = *c;
		xfree(c);
	}
	snprintf(batch[4].channel, sizeof batch[4].channel, "fax"); /* refused by the schema */
	struct store_case_event evs[6];
	memset(evs, 0, sizeof evs);
	for (int i = 0; i < 6; i++) {
		snprintf(evs[i].actor, sizeof evs[i].actor, "user%d", i);
		snprintf(evs[i].role, sizeof evs[i].role, "citizen");
		snprintf(evs[i].comment, sizeof evs[i].comment, "via app %d", i);
	}
	enum cd_err res[6];
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, batch, evs, 6, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_OK);
	CHECK_INT_EQ(res[1], CD_OK);
	CHECK_INT_EQ(res[2], CD_ERR_EXISTS); /* stored in an earlier batch */
	CHECK_INT_EQ(res[3], CD_ERR_EXISTS); /* stored earlier in this batch */
	CHECK_INT_EQ(res[4], CD_ERR_INVALID);
	CHECK_INT_EQ(res[5], CD_OK);
	/* Refs continue the day's sequence without gaps for refused or repeated cases. */
	CHECK_STR_EQ(batch[0].ref, "LH20261127000002");
	CHECK_STR_EQ(batch[1].ref, "LH20261127000003");
	CHECK_STR_EQ(batch[5].ref, "LH20261127000004");
	CHECK_INT_EQ(batch[2].id, first->id);
	CHECK_STR_EQ(batch[2].ref, first->ref);
	CHECK_INT_EQ(batch[3].id, batch[0].id);
	CHECK_INT_EQ(batch[4].id, 0);
	CHECK_STR_EQ(batch[4].ref, "");
	/* One audit entry for the batch, naming every stored case and who reported it. */
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "cases.intake");
		CHECK(e[0].after && strstr(e[0].after, "LH20261127000002") &&
		      strstr(e[0].after, "LH20261127000004") && strstr(e[0].after, "\"by\":\"user5\"") &&
		      strstr(e[0].after, "\"count\":3"));
		CHECK(e[0].after && !strstr(e[0].after, "LH20261127000001"));
		/* Valid JSON, each stored case with its numeric id beside its ref. */
		json_t *after = e[0].after ? json_loads(e[0].after, 0, NULL) : NULL;
		json_t *listed = json_object_get(after, "cases");
		CHECK_INT_EQ(json_array_size(listed), 3);
		for (size_t i = 0; i < json_array_size(listed); i++) {
			json_t *one = json_array_get(listed, i);
			CHECK(json_integer_value(json_object_get(one, "id")) > 0);
			const char *ref = json_string_value(json_object_get(one, "ref"));
			CHECK(ref && strlen(ref) == 16);
		}
		json_decref(after);
	}
	store_audit_list_free(e, n);

	/* The first event carries the reporter's actor and the status. */
	CHECK(evs[0].id > 0);
	CHECK_INT_EQ(evs[0].case_id, batch[0].id);
	struct store_case got;
	CHECK_INT_EQ(store_case_get_by_ref(st, "LH20261127000004", &got), CD_OK);
	CHECK_INT_EQ(got.id, batch[5].id);
	CHECK_STR_EQ(got.external_id, "ext-D");
	CHECK_STR_EQ(got.status, "registered");
	CHECK_INT_EQ(store_case_find_external(st, "hotline", "ext-B", &got), CD_OK);
	CHECK_INT_EQ(got.id, batch[0].id);
	CHECK_INT_EQ(store_case_find_external(st, "app", "ext-B", &got), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_case_get_by_ref(st, "LH20261127999999", &got), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_case_get_by_id(st, 999999, &got), CD_ERR_NOTFOUND);

	/* The next day starts again at 1; a later batch on the first day goes on from 4. */
	struct store_case *late = new_case("app", "", "440303002", "", "", NULL, DAY0 + 86399);
	struct store_case *next = new_case("app", "", "440303002", "", "", NULL, DAY0 + 86400);
	CHECK(insert1(st, next) > 0);
	CHECK(insert1(st, late) > 0);
	CHECK_STR_EQ(next->ref, "LH20261128000001");
	CHECK_STR_EQ(late->ref, "LH20261127000005");
	verify_ok(st);

	xfree(first);
	xfree(batch);
	xfree(late);
	xfree(next);
	store_close(st);
	tmpdb_remove(&t);
}

struct ev_collect {
	int n;
	char actions[8][32];
	char actor0[64];
};

static int collect_event(void *ctx, const struct store_case_event *ev)
{
	struct ev_collect *c = ctx;
	if (c->n == 0)
		snprintf(c->actor0, sizeof c->actor0, "%s", ev->actor);
	if (c->n < 8)
		snprintf(c->actions[c->n], sizeof c->actions[0], "%s", ev->action);
	c->n++;
	return 0;
}

static void test_batch_refuses_bad_input(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_case *c = new_case("hotline", "", "", "", "", NULL, DAY0);
	enum cd_err res[2] = {CD_OK, CD_OK};
	int64_t a0 = audit_count(st);

	c->description[0] = '\0';
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 1, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_INVALID);
	snprintf(c->description, sizeof c->description, "x");
	memset(c->title, 'x', sizeof c->title); /* not terminated */
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 1, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_INVALID);
	c->title[0] = '\0';
	snprintf(c->status, sizeof c->status, "lost");
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 1, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_INVALID);
	c->status[0] = '\0';
	c->reported_at = 0;
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 1, res), CD_OK);
	CHECK_INT_EQ(res[0], CD_ERR_INVALID);
	/* Nothing stored, nothing audited. */
	CHECK_INT_EQ(audit_count(st), a0);
	struct store_case_page page;
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, 10, &page), CD_OK);
	CHECK_INT_EQ(page.total, 0);
	store_case_page_release(&page);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, STORE_CASE_BATCH_MAX + 1, res),
		     CD_ERR_INVALID);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, c, NULL, 0, res), CD_OK);

	/* Worst-case strings in the batch's audit line (every byte escaped as \u00XX) fit. */
	struct store_case *odd = xcalloc(STORE_CASE_BATCH_MAX, sizeof *odd);
	for (int i = 0; i < STORE_CASE_BATCH_MAX; i++) {
		odd[i] = *c;
		odd[i].reported_at = DAY0;
		memset(odd[i].external_id, 1, sizeof odd[i].external_id - 1);
		snprintf(odd[i].external_id + sizeof odd[i].external_id - 6, 6, "%05u", (unsigned)i % 100000u);
		memset(odd[i].category_code, 2, sizeof odd[i].category_code - 1);
		memset(odd[i].unit_code, 3, sizeof odd[i].unit_code - 1);
	}
	enum cd_err *many = xcalloc(STORE_CASE_BATCH_MAX, sizeof *many);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, odd, NULL, STORE_CASE_BATCH_MAX, many),
		     CD_OK);
	CHECK_INT_EQ(many[0], CD_OK);
	CHECK_INT_EQ(many[STORE_CASE_BATCH_MAX - 1], CD_OK);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	verify_ok(st);
	a0 = audit_count(st);
	xfree(many);
	xfree(odd);

	/* The default first event is "report" by the batch's actor. */
	c->reported_at = DAY0;
	CHECK(insert1(st, c) > 0);
	struct ev_collect ec;
	memset(&ec, 0, sizeof ec);
	CHECK_INT_EQ(store_case_events(st, c->id, collect_event, &ec), CD_OK);
	CHECK_INT_EQ(ec.n, 1);
	CHECK_STR_EQ(ec.actions[0], "report");
	CHECK_STR_EQ(ec.actor0, "system");
	xfree(c);
	store_close(st);
	tmpdb_remove(&t);
}

/* Every column survives the round trip, NULL-able ones both ways. */
static void test_round_trip_all_fields(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_case *dup = new_case("grid", "", "", "", "", NULL, DAY0);
	CHECK(insert1(st, dup) > 0);
	struct store_case *c = new_case("iot", "dev-7:42", "440303003", "D-SW", "UM06010",
					"dispatched", DAY0 + 100);
	snprintf(c->category_source, sizeof c->category_source, "keyword");
	c->category_confidence = 0.625;
	c->has_point = 1;
	c->lat = 22.5483;
	c->lng = 114.1315;
	snprintf(c->address, sizeof c->address, "深南东路 5002 号");
	snprintf(c->grid_code, sizeof c->grid_code, "440303003001007");
	snprintf(c->level, sizeof c->level, "street");
	c->supervised = 1;
	c->extension_pending = 1;
	snprintf(c->urgency, sizeof c->urgency, "urgent");
	snprintf(c->limit_kind, sizeof c->limit_kind, "working_hours");
	c->limit_value = 4;
	c->registered_at = DAY0 + 200;
	c->dispatched_at = DAY0 + 300;
	c->first_response_at = DAY0 + 400;
	c->deadline = DAY0 + 90000;
	c->warn_at = DAY0 + 72000;
	c->rework_count = 2;
	c->duplicate_of = dup->id;
	c->support_count = 3;
	snprintf(c->reporter_name, sizeof c->reporter_name, "张三");
	snprintf(c->reporter_phone, sizeof c->reporter_phone, "13812341234");
	c->reporter_user_id = 77;
	snprintf(c->attachments, sizeof c->attachments, "[\"0123456789abcdef0123456789abcdef\"]");
	CHECK(insert1(st, c) > 0);
	struct store_case *got = xcalloc(1, sizeof *got);
	CHECK_INT_EQ(store_case_get_by_id(st, c->id, got), CD_OK);
	/* The store filled id, ref, version, created/updated: the whole struct must match. */
	CHECK(memcmp(got, c, sizeof *c) == 0);
	CHECK_INT_EQ(got->has_point, 1);
	CHECK_NEAR(got->lat, 22.5483, 1e-12);
	CHECK_STR_EQ(got->reporter_phone, "13812341234");
	CHECK_INT_EQ(got->duplicate_of, dup->id);

	/* The minimal case reads back with the defaults and no point. */
	CHECK_INT_EQ(store_case_get_by_id(st, dup->id, got), CD_OK);
	CHECK_INT_EQ(got->has_point, 0);
	CHECK_STR_EQ(got->level, "community");
	CHECK_STR_EQ(got->urgency, "normal");
	CHECK_STR_EQ(got->attachments, "[]");
	CHECK_INT_EQ(got->support_count, 1);
	CHECK_STR_EQ(got->street_code, "");
	CHECK_INT_EQ(got->deadline, 0);
	xfree(got);
	xfree(c);
	xfree(dup);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- apply ------------------------------------------------------------------------------- */

struct score_collect {
	int n;
	char key[8][32];
	struct store_score_row row[8];
};

static int collect_score(void *ctx, const struct store_score_row *r)
{
	struct score_collect *c = ctx;
	if (c->n < 8) {
		snprintf(c->key[c->n], sizeof c->key[0], "%s", r->key);
		c->row[c->n] = *r;
		c->row[c->n].key = c->key[c->n];
	}
	c->n++;
	return 0;
}

static const struct store_score_row *score_of(const struct score_collect *c, const char *key)
{
	for (int i = 0; i < c->n && i < 8; i++)
		if (strcmp(c->key[i], key) == 0)
			return &c->row[i];
	return NULL;
}

static void test_apply_and_conflict(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_case *c = new_case("app", "", "440303001", "", "H010101", "registered", DAY0 + 10);
	CHECK(insert1(st, c) > 0);
	int64_t id = c->id;

	/* Dispatch: unit set, status changed, an event, an audit entry with just the changes. */
	struct store_case *after = xmalloc(sizeof *after);
	*after = *c;
	snprintf(after->status, sizeof after->status, "dispatched");
	snprintf(after->unit_code, sizeof after->unit_code, "D-CGZF");
	after->dispatched_at = DAY0 + 500;
	struct store_case_event ev;
	memset(&ev, 0, sizeof ev);
	snprintf(ev.actor, sizeof ev.actor, "disp1");
	snprintf(ev.role, sizeof ev.role, "district_dispatcher");
	snprintf(ev.action, sizeof ev.action, "dispatch");
	snprintf(ev.from_status, sizeof ev.from_status, "registered");
	snprintf(ev.to_status, sizeof ev.to_status, "dispatched");
	ev.at = DAY0 + 500;
	int64_t a0 = audit_count(st);
	CHECK_INT_EQ(store_case_apply(st, &admin, id, 1, after, &ev, NULL, 0), CD_OK);
	CHECK_INT_EQ(after->version, 2);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "case.dispatch");
		CHECK(e[0].before && strstr(e[0].before, "\"status\":\"registered\"") &&
		      strstr(e[0].before, "\"unit_code\":null") &&
		      strstr(e[0].before, "\"dispatched_at\":null") &&
		      !strstr(e[0].before, "description"));
		CHECK(e[0].after && strstr(e[0].after, "\"status\":\"dispatched\"") &&
		      strstr(e[0].after, "\"unit_code\":\"D-CGZF\"") &&
		      strstr(e[0].after, "\"version\":2") && !strstr(e[0].after, "title"));
	}
	store_audit_list_free(e, n);

	/* A stale version: CONFLICT, and neither the row, the events, the counts nor the
	 * audit trail change. */
	struct store_case *stale = xmalloc(sizeof *stale);
	*stale = *c; /* version 1 */
	snprintf(stale->status, sizeof stale->status, "rejected");
	struct store_stats_delta d;
	memset(&d, 0, sizeof d);
	d.at = DAY0 + 600;
	snprintf(d.unit_code, sizeof d.unit_code, "D-CGZF");
	d.closed = 1;
	snprintf(ev.action, sizeof ev.action, "reject");
	CHECK_INT_EQ(store_case_apply(st, &admin, id, 1, stale, &ev, &d, 1), CD_ERR_CONFLICT);
	CHECK_INT_EQ(stale->version, 1);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	struct store_case *got = xmalloc(sizeof *got);
	CHECK_INT_EQ(store_case_get_by_id(st, id, got), CD_OK);
	CHECK_STR_EQ(got->status, "dispatched");
	CHECK_INT_EQ(got->version, 2);
	struct ev_collect ec;
	memset(&ec, 0, sizeof ec);
	CHECK_INT_EQ(store_case_events(st, id, collect_event, &ec), CD_OK);
	CHECK_INT_EQ(ec.n, 2);
	CHECK_STR_EQ(ec.actions[1], "dispatch");
	struct score_collect sc;
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "unit", "2026-11-27", "2026-11-27", collect_score, &sc), CD_OK);
	const struct store_score_row *r = score_of(&sc, "D-CGZF");
	CHECK(r == NULL); /* the case was received before it had a unit, and nothing closed */

	/* Unknown case; a value the schema refuses rolls everything back. */
	CHECK_INT_EQ(store_case_apply(st, &admin, 424242, 1, got, &ev, NULL, 0), CD_ERR_NOTFOUND);
	snprintf(got->satisfaction, sizeof got->satisfaction, "meh");
	CHECK_INT_EQ(store_case_apply(st, &admin, id, 2, got, &ev, &d, 1), CD_ERR_INVALID);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "unit", "2026-11-27", "2026-11-27", collect_score, &sc), CD_OK);
	CHECK(score_of(&sc, "D-CGZF") == NULL);

	/* The current version works, with its delta. */
	got->satisfaction[0] = '\0';
	snprintf(got->status, sizeof got->status, "closed");
	got->closed_at = DAY0 + 600;
	snprintf(ev.action, sizeof ev.action, "close");
	CHECK_INT_EQ(store_case_apply(st, &admin, id, 2, got, &ev, &d, 1), CD_OK);
	CHECK_INT_EQ(got->version, 3);
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "unit", "2026-11-27", "2026-11-27", collect_score, &sc), CD_OK);
	r = score_of(&sc, "D-CGZF");
	CHECK(r && r->closed == 1 && r->received == 0);
	verify_ok(st);
	xfree(got);
	xfree(stale);
	xfree(after);
	xfree(c);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- lists ------------------------------------------------------------------------------- */

#define NLIST 300

static const char *const streets[] = {"440303001", "440303002", "440303003"};
static const char *const units[] = {"", "D-CGZF", "D-SW", "S-DM"};
static const char *const cats[] = {"", "H010101", "H010102", "H010201", "H020101", "UM06010"};
static const char *const statuses[] = {"reported", "dispatched", "closed", "handled"};
static const char *const channels[] = {"hotline", "app", "grid", "iot"};

/* The same filter as the store, written the obvious way. */
static int matches(const struct store_case *c, const struct store_case_filter *f)
{
	if (f->status && *f->status && strcmp(c->status, f->status))
		return 0;
	if (f->street_code && *f->street_code && strcmp(c->street_code, f->street_code))
		return 0;
	if (f->scope_street && *f->scope_street && strcmp(c->street_code, f->scope_street))
		return 0;
	if (f->unit_code && *f->unit_code && strcmp(c->unit_code, f->unit_code))
		return 0;
	if (f->scope_unit && *f->scope_unit && strcmp(c->unit_code, f->scope_unit))
		return 0;
	if (f->community_code && *f->community_code && strcmp(c->community_code, f->community_code))
		return 0;
	if (f->channel && *f->channel && strcmp(c->channel, f->channel))
		return 0;
	if (f->category_prefix && *f->category_prefix &&
	    strncmp(c->category_code, f->category_prefix, strlen(f->category_prefix)))
		return 0;
	if (f->uncategorized && c->category_code[0])
		return 0;
	if (f->overdue > 0 && !c->overdue)
		return 0;
	if (f->overdue < 0 && c->overdue)
		return 0;
	if (f->from && c->reported_at < f->from)
		return 0;
	if (f->to && c->reported_at >= f->to)
		return 0;
	if (f->q && *f->q && !strstr(c->title, f->q) && !strstr(c->description, f->q))
		return 0;
	return 1;
}

static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* Newest first: reported_at, then id, both descending. */
static int newer_first(const void *a, const void *b)
{
	const struct store_case *x = a, *y = b;
	if (x->reported_at != y->reported_at)
		return x->reported_at > y->reported_at ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id;
}

static void test_list_matches_brute_force(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_case *all = xcalloc(NLIST, sizeof *all);
	enum cd_err res[NLIST];
	for (int i = 0; i < NLIST; i++) {
		struct store_case *c = new_case(channels[rnd(4)], "", streets[rnd(3)], units[rnd(4)],
						cats[rnd(6)], statuses[rnd(4)],
						DAY0 + (int64_t)rnd(40) * 3600); /* many ties */
		c->overdue = rnd(5) == 0;
		if (i % 7 == 0)
			snprintf(c->description, sizeof c->description, "路灯不亮 %d", i);
		if (i % 11 == 0)
			c->street_code[0] = c->community_code[0] = '\0'; /* unplaced */
		all[i] = *c;
		xfree(c);
	}
	/* Two batches, to cross a batch boundary. */
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, all, NULL, 100, res), CD_OK);
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, all + 100, NULL, NLIST - 100, res + 100),
		     CD_OK);
	for (int i = 0; i < NLIST; i++)
		CHECK_INT_EQ(res[i], CD_OK);
	qsort(all, NLIST, sizeof *all, newer_first);
	CHECK_INT_EQ(store_cases_optimize(st), CD_OK);

	struct store_case_filter fs[64];
	int nf = 0;
	memset(fs, 0, sizeof fs);
	nf++; /* everything */
	for (int i = 0; i < 3; i++) {
		fs[nf++].street_code = streets[i];
		fs[nf].community_code = "440303002001";
		fs[nf++].status = statuses[i];
		fs[nf].scope_street = streets[i];
		fs[nf++].unit_code = units[i + 1];
		fs[nf].scope_unit = units[i + 1];
		fs[nf++].status = "closed";
		fs[nf].street_code = streets[i];
		fs[nf++].scope_street = streets[(i + 1) % 3]; /* contradicts its scope: nothing */
		fs[nf].street_code = streets[i];
		fs[nf++].scope_street = streets[i];
	}
	const char *prefixes[] = {"H", "H01", "H0101", "H010101", "UM", "X9"};
	for (int i = 0; i < 6; i++) {
		fs[nf].category_prefix = prefixes[i];
		fs[nf++].status = i % 2 ? "dispatched" : NULL;
	}
	for (int i = 0; i < 4; i++)
		fs[nf++].channel = channels[i];
	fs[nf++].overdue = 1;
	fs[nf].overdue = -1;
	fs[nf++].street_code = streets[1];
	fs[nf].from = DAY0 + 10 * 3600;
	fs[nf++].to = DAY0 + 20 * 3600;
	fs[nf].from = DAY0 + 30 * 3600;
	fs[nf++].category_prefix = "H01";
	fs[nf++].q = "路灯";
	fs[nf].q = "不亮 14";
	fs[nf++].overdue = -1;
	fs[nf].q = "%";
	nf++;
	fs[nf].unit_code = "D-SW";
	fs[nf].status = "dispatched";
	fs[nf++].street_code = streets[2];

	for (int k = 0; k < nf; k++) {
		const struct store_case_filter *f = &fs[k];
		int want_ids[NLIST], nwant = 0;
		for (int i = 0; i < NLIST; i++)
			if (matches(&all[i], f))
				want_ids[nwant++] = (int)all[i].id;
		/* Page through in 7s: every page newest first, the total always right. */
		int seen = 0;
		for (int64_t off = 0; off <= nwant; off += 7) {
			struct store_case_page page;
			CHECK_INT_EQ(store_cases_list(st, f, off, 7, &page), CD_OK);
			if (page.total != nwant)
				fprintf(stderr, "  filter %d offset %lld\n", k, (long long)off);
			CHECK_INT_EQ(page.total, nwant);
			CHECK_INT_EQ(page.total_capped, 0);
			for (size_t i = 0; i < page.n; i++) {
				CHECK(seen < nwant);
				if (seen < nwant && page.cases[i].id != want_ids[seen]) {
					fprintf(stderr, "  filter %d: position %d is %lld, want %d\n", k,
						seen, (long long)page.cases[i].id, want_ids[seen]);
					test_failures_in_case++;
				}
				seen++;
			}
			store_case_page_release(&page);
		}
		CHECK_INT_EQ(seen, nwant);
	}
	/* Bad input. */
	struct store_case_page page;
	struct store_case_filter bad;
	memset(&bad, 0, sizeof bad);
	bad.category_prefix = "H01' OR 1=1 --";
	CHECK_INT_EQ(store_cases_list(st, &bad, 0, 10, &page), CD_ERR_INVALID);
	CHECK_INT_EQ(store_cases_list(st, NULL, -1, 10, &page), CD_ERR_RANGE);
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, 100000, &page), CD_OK);
	CHECK_INT_EQ(page.n, NLIST < STORE_CASES_PAGE_MAX ? NLIST : STORE_CASES_PAGE_MAX);
	CHECK_INT_EQ(page.total, NLIST);
	store_case_page_release(&page);
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, 0, &page), CD_OK);
	CHECK_INT_EQ(page.n, 0);
	CHECK_INT_EQ(page.total, NLIST);
	store_case_page_release(&page);
	store_case_page_release(NULL);
	xfree(all);
	store_close(st);
	tmpdb_remove(&t);
}

static void test_list_totals_exact_q_capped(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	const size_t batch = 500, total = STORE_CASES_COUNT_CAP + 700;
	struct store_case *v = xcalloc(batch, sizeof *v);
	enum cd_err *res = xcalloc(batch, sizeof *res);
	struct store_case *tmpl = new_case("hotline", "", "440303001", "D-SW", "H010101", NULL, DAY0);
	for (size_t done = 0; done < total; done += batch) {
		for (size_t i = 0; i < batch; i++) {
			v[i] = *tmpl;
			v[i].reported_at = DAY0 + (int64_t)(done + i);
			if ((done + i) % 1000 == 0)
				snprintf(v[i].status, sizeof v[i].status, "closed");
		}
		size_t n = total - done < batch ? total - done : batch;
		CHECK_INT_EQ(store_case_insert_batch(st, &intake, v, NULL, n, res), CD_OK);
	}
	struct store_case_page page;
	/* No filter: exact from the list index at any size. */
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, 20, &page), CD_OK);
	CHECK_INT_EQ(page.n, 20);
	CHECK_INT_EQ(page.total, (int64_t)total);
	CHECK_INT_EQ(page.total_capped, 0);
	store_case_page_release(&page);
	/* A time range too. */
	struct store_case_filter since;
	memset(&since, 0, sizeof since);
	since.from = DAY0 + 100;
	CHECK_INT_EQ(store_cases_list(st, &since, 0, 20, &page), CD_OK);
	CHECK_INT_EQ(page.n, 20);
	CHECK_INT_EQ(page.total, (int64_t)total - 100);
	CHECK_INT_EQ(page.total_capped, 0);
	/* Sequence numbers are per day: this many cases in one day reach 10700. */
	CHECK_STR_EQ(page.cases[0].ref, "LH20261127010700");
	store_case_page_release(&page);
	/* A substring of every case's title: the page, and a total that is "at least". */
	struct store_case_filter q;
	memset(&q, 0, sizeof q);
	q.q = "井盖";
	CHECK_INT_EQ(store_cases_list(st, &q, 0, 20, &page), CD_OK);
	CHECK_INT_EQ(page.n, 20);
	CHECK_INT_EQ(page.total_capped, 1);
	CHECK(page.total >= 20 && page.total <= STORE_CASES_COUNT_CAP);
	store_case_page_release(&page);
	/* ... and exact when the candidates are few. */
	q.status = "closed";
	CHECK_INT_EQ(store_cases_list(st, &q, 0, 5, &page), CD_OK);
	CHECK_INT_EQ(page.n, 5);
	CHECK_INT_EQ(page.total, 11);
	CHECK_INT_EQ(page.total_capped, 0);
	store_case_page_release(&page);
	/* A page larger than the store gives is cut to STORE_CASES_PAGE_MAX. */
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, 1000000, &page), CD_OK);
	CHECK_INT_EQ(page.n, STORE_CASES_PAGE_MAX);
	store_case_page_release(&page);
	struct store_case_filter f;
	memset(&f, 0, sizeof f);
	f.status = "closed";
	CHECK_INT_EQ(store_cases_list(st, &f, 0, 5, &page), CD_OK);
	CHECK_INT_EQ(page.total, 11);
	CHECK_INT_EQ(page.total_capped, 0);
	store_case_page_release(&page);
	xfree(tmpl);
	xfree(v);
	xfree(res);
	store_close(st);
	tmpdb_remove(&t);
}

/* Every total of one or two conditions against brute force over the cases as they stand. */
static int check_totals(struct store *st, const struct store_case *all, int n)
{
	static const char *const prefixes[] = {"H0", "H01", "H0101", "H010101", "UM", "UM06010", NULL};
	static const char *const comms[] = {"440303001001", "440303002001", NULL};
	int checked = 0;
	for (int a = 0; a < 9; a++)
		for (int b = a; b < 9; b++)
			for (int v = 0; v < 4; v++) {
				struct store_case_filter f;
				memset(&f, 0, sizeof f);
				int dims[2] = {a, b};
				for (int k = 0; k < (a == b ? 1 : 2); k++) {
					switch (dims[k]) {
					case 0: f.status = statuses[v % 4]; break;
					case 1: f.street_code = streets[v % 3]; break;
					case 2: f.community_code = comms[v % 2]; break;
					case 3: f.unit_code = units[v % 4]; break;
					case 4: f.category_prefix = prefixes[v % 6]; break;
					case 5: f.channel = channels[v % 4]; break;
					case 6: f.overdue = v % 2 ? 1 : -1; break;
					case 7: f.from = DAY0 + 10 * (v + 1); break;
					default: f.uncategorized = 1; break;
					}
				}
				int want = 0;
				for (int i = 0; i < n; i++)
					want += matches(&all[i], &f);
				struct store_case_page page;
				CHECK_INT_EQ(store_cases_list(st, &f, 0, 3, &page), CD_OK);
				if (page.total != want)
					fprintf(stderr, "  dims %d,%d value %d: %lld, want %d\n", a, b, v,
						(long long)page.total, want);
				CHECK_INT_EQ(page.total, want);
				CHECK_INT_EQ(page.total_capped, 0);
				CHECK_INT_EQ(page.n, want < 3 ? want : 3);
				for (size_t i = 0; i < page.n; i++)
					CHECK(matches(&page.cases[i], &f));
				checked += want > 0;
				store_case_page_release(&page);
			}
	return checked;
}

/* The list index follows inserts and workflow steps (one at a time and in batches), ignores a
 * step that was refused, and is built the same from the table when the store opens again. */
static void test_index_follows_updates(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_case_page first;
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, 1, &first), CD_OK); /* builds the (empty) index */
	CHECK_INT_EQ(first.total, 0);
	store_case_page_release(&first);
	enum { N = 120 };
	struct store_case *all = xcalloc(N, sizeof *all);
	enum cd_err res[N];
	for (int i = 0; i < N; i++) {
		struct store_case *c = new_case(channels[rnd(4)], "", streets[rnd(3)], units[rnd(4)], cats[rnd(6)],
						"reported", DAY0 + i);
		all[i] = *c;
		xfree(c);
	}
	CHECK_INT_EQ(store_case_insert_batch(st, &intake, all, NULL, N, res), CD_OK);
	struct store_case_event ev;
	memset(&ev, 0, sizeof ev);
	snprintf(ev.actor, sizeof ev.actor, "disp1");
	snprintf(ev.role, sizeof ev.role, "district_dispatcher");
	snprintf(ev.action, sizeof ev.action, "dispatch");
	ev.at = DAY0 + 500;
	for (int i = 0; i < N; i += 2) {
		struct store_case *after = xcalloc(1, sizeof *after);
		CHECK_INT_EQ(store_case_get_by_id(st, all[i].id, after), CD_OK);
		snprintf(after->status, sizeof after->status, "%s", statuses[1 + rnd(3)]);
		snprintf(after->unit_code, sizeof after->unit_code, "%s", units[rnd(4)]);
		if (i % 3 == 0)
			snprintf(after->category_code, sizeof after->category_code, "%s", cats[rnd(6)]);
		after->overdue = rnd(3) == 0;
		if (i % 10 == 0)
			after->street_code[0] = after->community_code[0] = '\0';
		if (i % 8 == 0)
			after->reported_at = DAY0 + 200 + i; /* corrected: moves in the order */
		snprintf(ev.from_status, sizeof ev.from_status, "reported");
		snprintf(ev.to_status, sizeof ev.to_status, "%s", after->status);
		CHECK_INT_EQ(store_case_apply(st, &admin, all[i].id, 1, after, &ev, NULL, 0), CD_OK);
		all[i] = *after;
		/* A stale version is refused, and the index keeps the committed row. */
		struct store_case *stale = xcalloc(1, sizeof *stale);
		*stale = *after;
		snprintf(stale->status, sizeof stale->status, "closed");
		stale->reported_at = DAY0 + 9999;
		CHECK_INT_EQ(store_case_apply(st, &admin, all[i].id, 1, stale, &ev, NULL, 0), CD_ERR_CONFLICT);
		xfree(stale);
		xfree(after);
	}
	/* A batch of steps: two per case, the second from the first's version. */
	struct store_case_step steps[20];
	struct store_case *rows = xcalloc(20, sizeof *rows);
	memset(steps, 0, sizeof steps);
	for (int k = 0; k < 20; k++) {
		int i = 1 + 2 * (k / 2) * 3; /* odd cases, untouched so far */
		rows[k] = all[i];
		snprintf(rows[k].status, sizeof rows[k].status, "%s", k % 2 ? "handled" : "dispatched");
		if (k % 2)
			rows[k].overdue = 1;
		steps[k].case_id = all[i].id;
		steps[k].expected_version = all[i].version + (k % 2);
		steps[k].after = &rows[k];
		steps[k].actor = &admin;
	}
	size_t failed = 99;
	CHECK_INT_EQ(store_case_apply_steps(st, steps, 20, &failed), CD_OK);
	CHECK_INT_EQ(failed, 20);
	for (int k = 1; k < 20; k += 2)
		all[1 + 2 * (k / 2) * 3] = rows[k];
	xfree(rows);
	qsort(all, N, sizeof *all, newer_first);
	CHECK(check_totals(st, all, N) > 60);
	/* The same from an index built from the table after reopening. */
	store_close(st);
	st = open_ok(&t);
	CHECK(check_totals(st, all, N) > 60);
	struct store_case_page page;
	CHECK_INT_EQ(store_cases_list(st, NULL, 0, N, &page), CD_OK);
	CHECK_INT_EQ(page.n, N);
	for (size_t i = 0; i < page.n; i++)
		if (page.cases[i].id != all[i].id) {
			fprintf(stderr, "  position %zu is %lld, want %lld\n", i, (long long)page.cases[i].id,
				(long long)all[i].id);
			test_failures_in_case++;
			break;
		}
	store_case_page_release(&page);
	xfree(all);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- aggregates ---------------------------------------------------------------------------- */

static void test_scores_sum_deltas(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	/* Received counts come from the inserts, on the Shanghai day of reported_at. */
	struct store_case *a = new_case("app", "", "S1", "U1", "H010101", NULL, DAY0 + 10);
	struct store_case *b = new_case("app", "", "S1", "U2", "H010101", NULL, DAY0 + 86400 - 1);
	struct store_case *c = new_case("app", "", "S2", "U1", "UM06010", NULL, DAY0 + 86400);
	struct store_case *d = new_case("app", "", "S2", "U1", "UM06010", NULL, DAY0 - 1);
	CHECK(insert1(st, a) && insert1(st, b) && insert1(st, c) && insert1(st, d));

	struct store_stats_delta ds[3];
	memset(ds, 0, sizeof ds);
	ds[0].at = DAY0 + 86400 + 100; /* day 2 */
	snprintf(ds[0].unit_code, sizeof ds[0].unit_code, "U1");
	snprintf(ds[0].street_code, sizeof ds[0].street_code, "S1");
	snprintf(ds[0].category_code, sizeof ds[0].category_code, "H010101");
	ds[0].closed = 1;
	ds[0].closed_on_time = 1;
	ds[0].handling_seconds_sum = 86400;
	ds[0].rated = 1;
	ds[0].satisfied = 1;
	ds[1] = ds[0];
	ds[1].satisfied = 0;
	ds[1].dissatisfied = 1;
	ds[1].rework = 1;
	ds[1].closed_on_time = 0;
	ds[2] = ds[0]; /* undo of ds[0]'s satisfaction, as a re-rating would */
	memset(&ds[2].received, 0, sizeof(int) * 10);
	ds[2].handling_seconds_sum = 0;
	ds[2].satisfied = -1;
	ds[2].rated = -1;
	struct store_case *after = xmalloc(sizeof *after);
	*after = *a;
	snprintf(after->status, sizeof after->status, "closed");
	CHECK_INT_EQ(store_case_apply(st, &admin, a->id, 1, after, NULL, ds, 3), CD_OK);

	struct score_collect sc;
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "unit", "2026-11-27", "2026-11-28", collect_score, &sc), CD_OK);
	CHECK_INT_EQ(sc.n, 2);
	const struct store_score_row *u1 = score_of(&sc, "U1"), *u2 = score_of(&sc, "U2");
	CHECK(u1 && u2);
	if (u1 && u2) {
		CHECK_INT_EQ(u1->received, 2); /* a and c; d was the day before */
		CHECK_INT_EQ(u1->closed, 2);
		CHECK_INT_EQ(u1->closed_on_time, 1);
		CHECK_INT_EQ(u1->rated, 1);
		CHECK_INT_EQ(u1->satisfied, 0);
		CHECK_INT_EQ(u1->dissatisfied, 1);
		CHECK_INT_EQ(u1->rework, 1);
		CHECK_INT_EQ(u1->handling_seconds_sum, 2 * 86400);
		CHECK_INT_EQ(u2->received, 1);
		CHECK_INT_EQ(u2->closed, 0);
		CHECK_STR_EQ(sc.key[0], "U1"); /* key order */
	}
	/* One day only; the other dimensions; a range with nothing. */
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "unit", "2026-11-27", "2026-11-27", collect_score, &sc), CD_OK);
	u1 = score_of(&sc, "U1");
	CHECK(u1 && u1->received == 1 && u1->closed == 0);
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "street", "2026-11-26", "2026-11-28", collect_score, &sc), CD_OK);
	CHECK_INT_EQ(sc.n, 2);
	const struct store_score_row *s1 = score_of(&sc, "S1"), *s2 = score_of(&sc, "S2");
	CHECK(s1 && s1->received == 2 && s1->closed == 2);
	CHECK(s2 && s2->received == 2 && s2->closed == 0);
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "category", "2026-11-28", "2026-11-28", collect_score, &sc),
		     CD_OK);
	const struct store_score_row *um = score_of(&sc, "UM06010"), *h = score_of(&sc, "H010101");
	CHECK(um && um->received == 1);
	CHECK(h && h->received == 0 && h->closed == 2);
	memset(&sc, 0, sizeof sc);
	CHECK_INT_EQ(store_scores(st, "unit", "2027-01-01", "2027-01-31", collect_score, &sc), CD_OK);
	CHECK_INT_EQ(sc.n, 0);
	CHECK_INT_EQ(store_scores(st, "person", "2026-11-27", "2026-11-28", collect_score, &sc),
		     CD_ERR_INVALID);
	CHECK_INT_EQ(store_scores(st, "unit", "2026-11-2", "2026-11-28", collect_score, &sc),
		     CD_ERR_INVALID);
	char day[11];
	store_day_of(DAY0 - 1, day);
	CHECK_STR_EQ(day, "2026-11-26");
	store_day_of(DAY0, day);
	CHECK_STR_EQ(day, "2026-11-27");
	xfree(after);
	xfree(a);
	xfree(b);
	xfree(c);
	xfree(d);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- scheduler, grid, files ------------------------------------------------------------------- */

struct due_collect {
	int n;
	int64_t id[16];
	int warn[16], overdue[16];
};

static int collect_due(void *ctx, int64_t id, const char *ref, int due_warn, int due_overdue)
{
	struct due_collect *c = ctx;
	if (c->n < 16 && ref[0] == 'L') {
		c->id[c->n] = id;
		c->warn[c->n] = due_warn;
		c->overdue[c->n] = due_overdue;
	}
	c->n++;
	return 0;
}

struct recent_collect {
	int n, stop_after;
	int64_t id[16];
	char grid0[32];
};

static int collect_recent(void *ctx, const struct store_case_brief *b)
{
	struct recent_collect *c = ctx;
	if (c->n == 0)
		snprintf(c->grid0, sizeof c->grid0, "%s", b->grid_code);
	if (c->n < 16)
		c->id[c->n] = b->id;
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static void test_due_and_recent(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	const int64_t now = DAY0 + 100000;
	struct {
		const char *status;
		int64_t warn_at, deadline;
		int warned, overdue;
	} rows[] = {
		{"dispatched", now - 50, now + 50, 0, 0},  /* 0: warn only */
		{"accepted", now - 90, now - 10, 0, 0},    /* 1: overdue and warn */
		{"handled", now - 90, now - 20, 1, 0},     /* 2: overdue, already warned */
		{"accepted", now - 90, now - 30, 1, 1},    /* 3: both marked: nothing */
		{"closed", now - 90, now - 40, 0, 0},      /* 4: closed: nothing */
		{"suspended", now - 90, now - 40, 0, 0},   /* 5: clock stopped: nothing */
		{"registered", now + 10, now + 50, 0, 0},  /* 6: not yet */
		{"reported", 0, 0, 0, 0},                  /* 7: no deadline */
	};
	int64_t ids[8];
	for (int i = 0; i < 8; i++) {
		struct store_case *c = new_case("grid", "", "S1", "U1", "H010101", rows[i].status,
						DAY0 + i);
		c->warn_at = rows[i].warn_at;
		c->deadline = rows[i].deadline;
		c->warned = rows[i].warned;
		c->overdue = rows[i].overdue;
		snprintf(c->grid_code, sizeof c->grid_code, "%s", i < 3 ? "440303001001001" : "G2");
		if (i == 2)
			snprintf(c->status, sizeof c->status, "merged");
		ids[i] = insert1(st, c);
		if (i == 2) {
			/* Back to "handled" through apply, so the partial indexes see an update. */
			struct store_case *a = xmalloc(sizeof *a);
			*a = *c;
			snprintf(a->status, sizeof a->status, "handled");
			CHECK_INT_EQ(store_case_apply(st, &admin, c->id, 1, a, NULL, NULL, 0), CD_OK);
			xfree(a);
		}
		xfree(c);
	}
	struct due_collect dc;
	memset(&dc, 0, sizeof dc);
	CHECK_INT_EQ(store_cases_due(st, now, 0, collect_due, &dc), CD_OK);
	CHECK_INT_EQ(dc.n, 3);
	/* Deadlines first, earliest first; then warn-only. */
	CHECK_INT_EQ(dc.id[0], ids[2]);
	CHECK_INT_EQ(dc.overdue[0], 1);
	CHECK_INT_EQ(dc.warn[0], 0);
	CHECK_INT_EQ(dc.id[1], ids[1]);
	CHECK_INT_EQ(dc.overdue[1], 1);
	CHECK_INT_EQ(dc.warn[1], 1);
	CHECK_INT_EQ(dc.id[2], ids[0]);
	CHECK_INT_EQ(dc.overdue[2], 0);
	CHECK_INT_EQ(dc.warn[2], 1);
	memset(&dc, 0, sizeof dc);
	CHECK_INT_EQ(store_cases_due(st, now, 2, collect_due, &dc), CD_OK);
	CHECK_INT_EQ(dc.n, 2);

	/* Recent cases for the duplicate finder: not the merged one (index 2 was merged, then
	 * handled again, so it is back), oldest first, from `since`. */
	struct recent_collect rc;
	memset(&rc, 0, sizeof rc);
	CHECK_INT_EQ(store_cases_recent(st, DAY0 + 1, collect_recent, &rc), CD_OK);
	CHECK_INT_EQ(rc.n, 7);
	CHECK_INT_EQ(rc.id[0], ids[1]);
	CHECK_STR_EQ(rc.grid0, "440303001001001");
	memset(&rc, 0, sizeof rc);
	rc.stop_after = 2;
	CHECK_INT_EQ(store_cases_recent(st, 0, collect_recent, &rc), CD_OK);
	CHECK_INT_EQ(rc.n, 2);
	CHECK_INT_EQ(rc.id[0], ids[0]);
	store_close(st);
	tmpdb_remove(&t);
}

static void test_files(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_file f;
	memset(&f, 0, sizeof f);
	snprintf(f.id, sizeof f.id, "0123456789abcdef0123456789abcdef");
	snprintf(f.mime, sizeof f.mime, "image/jpeg");
	f.bytes = 52341;
	memset(f.sha256, 'a', 64);
	int64_t a0 = audit_count(st);
	CHECK_INT_EQ(store_file_add(st, &admin, &f), CD_OK);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	CHECK_INT_EQ(store_file_add(st, &admin, &f), CD_ERR_EXISTS);
	struct store_file g;
	CHECK_INT_EQ(store_file_get(st, f.id, &g), CD_OK);
	CHECK_STR_EQ(g.mime, "image/jpeg");
	CHECK_INT_EQ(g.bytes, 52341);
	CHECK_STR_EQ(g.created_by, "admin");
	CHECK(g.created_at > 0);
	CHECK_INT_EQ(store_file_get(st, "ffffffffffffffffffffffffffffffff", &g), CD_ERR_NOTFOUND);
	f.id[0] = 'G';
	CHECK_INT_EQ(store_file_add(st, &admin, &f), CD_ERR_INVALID);
	f.id[0] = '1';
	f.sha256[3] = '\0';
	CHECK_INT_EQ(store_file_add(st, &admin, &f), CD_ERR_INVALID);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* A database left at version 2 by the foundation's binary gains the cases tables. */
static void test_migrate_from_version_2(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	sqlite3 *db = NULL;
	CHECK_INT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		CHECK_INT_EQ(sqlite3_exec(db, store_migrations[i], NULL, NULL, NULL), SQLITE_OK);
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", i + 1);
		CHECK_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	CHECK_INT_EQ(sqlite3_exec(db, "INSERT INTO units (code, name, kind) VALUES ('U1', 'x', 'y')",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	struct store *st = open_ok(&t);
	CHECK(store_schema_version(st) >= 3);
	struct store_unit u;
	CHECK_INT_EQ(store_unit_get(st, "U1", &u), CD_OK);
	struct store_case *c = new_case("hotline", "x", "S", "U1", "H01", NULL, DAY0);
	CHECK(insert1(st, c) > 0);
	CHECK_STR_EQ(c->ref, "LH20261127000001");
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 2, &e, &n), CD_OK);
	if (n == 2)
		CHECK_STR_EQ(e[1].action, "store.migrate");
	store_audit_list_free(e, n);
	verify_ok(st);
	xfree(c);
	store_close(st);
	tmpdb_remove(&t);
}

static const struct test_case tests[] = {
	{"batch: duplicate external ids, refused cases, refs per day", test_batch_duplicates_and_refs},
	{"batch: bad input stores nothing", test_batch_refuses_bad_input},
	{"every field round-trips", test_round_trip_all_fields},
	{"apply: version conflict changes nothing", test_apply_and_conflict},
	{"list: filters, scope, order and totals match brute force", test_list_matches_brute_force},
	{"list: totals exact at any size, q totals capped", test_list_totals_exact_q_capped},
	{"list: the index follows writes and is rebuilt after reopening", test_index_follows_updates},
	{"scores: deltas summed by unit, street, category and day", test_scores_sum_deltas},
	{"due list and recent cases", test_due_and_recent},
	{"files", test_files},
	{"migration from version 2", test_migrate_from_version_2},
};

TEST_MAIN(tests)
