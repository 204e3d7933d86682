/* Unit tests for the SQLite store: opening and migrations (from empty, from every earlier
 * version, refusing newer ones), and each function's happy and failure paths, including
 * that a failed write leaves neither a change nor an audit row. Databases live in a fresh
 * directory under /tmp that each test removes. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

extern const char *const store_migrations[];

static const struct store_actor admin = {"admin", "127.0.0.1"};

static int64_t audit_count(struct store *st)
{
	int64_t n = -1;
	CHECK_INT_EQ(store_audit_count(st, &n), CD_OK);
	return n;
}

static void verify_ok(struct store *st)
{
	int64_t bad = -1;
	char reason[256];
	CHECK_INT_EQ(store_audit_verify(st, &bad, reason, sizeof reason), CD_OK);
	CHECK_INT_EQ(bad, 0);
}

/* The newest audit entry's action, copied into out. */
static void last_action(struct store *st, char *out, size_t cap)
{
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	out[0] = '\0';
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1)
		snprintf(out, cap, "%s", e[0].action);
	store_audit_list_free(e, n);
}

static void put_unit(struct store *st, const char *code, const char *name)
{
	struct store_unit u;
	memset(&u, 0, sizeof u);
	snprintf(u.code, sizeof u.code, "%s", code);
	snprintf(u.name, sizeof u.name, "%s", name);
	snprintf(u.kind, sizeof u.kind, "district_department");
	CHECK_INT_EQ(store_unit_put(st, &admin, &u), CD_OK);
}

static struct store_user make_user(const char *name, const char *role)
{
	struct store_user u;
	memset(&u, 0, sizeof u);
	snprintf(u.username, sizeof u.username, "%s", name);
	snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$v=19$fake");
	snprintf(u.role, sizeof u.role, "%s", role);
	return u;
}

/* Applies the first k migrations with the raw SQLite API, as an older binary would have. */
static void raw_migrate_to(const char *path, int k)
{
	sqlite3 *db = NULL;
	CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < k; i++) {
		CHECK_INT_EQ(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
		CHECK_INT_EQ(sqlite3_exec(db, store_migrations[i], NULL, NULL, NULL), SQLITE_OK);
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", i + 1);
		CHECK_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		CHECK_INT_EQ(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(db);
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	int src = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (src != SQLITE_OK)
		fprintf(stderr, "  raw_exec: %s\n", err ? err : "?");
	CHECK_INT_EQ(src, SQLITE_OK);
	sqlite3_free(err);
	sqlite3_close(db);
}

static void raw_text(const char *path, const char *sql, char *out, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	out[0] = '\0';
	CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* ---- opening and migrations ------------------------------------------------------------ */

static void test_open_creates_wal_and_migrates(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	CHECK(store_schema_latest() >= 2);
	CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
	/* One "store.migrate" per migration from the one that created the audit table on. */
	CHECK_INT_EQ(audit_count(st), store_schema_latest() - 1);
	char action[64];
	last_action(st, action, sizeof action);
	CHECK_STR_EQ(action, "store.migrate");
	verify_ok(st);
	int64_t size = 0;
	CHECK_INT_EQ(store_size_bytes(st, &size), CD_OK);
	CHECK(size > 0);
	store_close(st);

	char mode[16];
	raw_text(t.path, "PRAGMA journal_mode", mode, sizeof mode);
	CHECK_STR_EQ(mode, "wal");

	/* Opening again migrates nothing and appends nothing. */
	st = open_ok(&t);
	CHECK_INT_EQ(store_schema_version(st), store_schema_latest());
	CHECK_INT_EQ(audit_count(st), store_schema_latest() - 1);
	store_close(st);
	store_close(NULL);
	tmpdb_remove(&t);
}

static void test_migrate_from_every_version(void)
{
	int latest = store_schema_latest();
	for (int k = 0; k <= latest; k++) {
		struct tmpdb t;
		tmpdb_make(&t);
		raw_migrate_to(t.path, k);
		struct store *st = open_ok(&t);
		CHECK_INT_EQ(store_schema_version(st), latest);
		/* The schema works end to end: a write with its audit entry, and a whole chain. */
		put_unit(st, "U-1", "unit one");
		struct store_unit u;
		CHECK_INT_EQ(store_unit_get(st, "U-1", &u), CD_OK);
		verify_ok(st);
		store_close(st);
		tmpdb_remove(&t);
	}
}

static void test_refuses_newer_schema(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	store_close(st);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_latest() + 1);
	raw_exec(t.path, sql);
	st = NULL;
	CHECK_INT_EQ(store_open(t.path, &st), CD_ERR_CONFLICT);
	CHECK(st == NULL);
	tmpdb_remove(&t);
}

static void test_refuses_non_database(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	FILE *f = fopen(t.path, "w");
	CHECK(f != NULL);
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this is not a database file. ", f);
		fclose(f);
	}
	struct store *st = NULL;
	CHECK_INT_EQ(store_open(t.path, &st), CD_ERR_CORRUPT);
	CHECK(st == NULL);
	tmpdb_remove(&t);
}

static void test_open_bad_path(void)
{
	struct store *st = NULL;
	CHECK(store_open("/nonexistent-dir-citydesk/x.db", &st) != CD_OK);
	CHECK(st == NULL);
}

/* ---- units ----------------------------------------------------------------------------- */

static void test_units(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	int64_t a0 = audit_count(st);
	put_unit(st, "D-SW", "罗湖区水务局");
	put_unit(st, "D-CGZF", "罗湖区城市管理和综合执法局");
	CHECK_INT_EQ(audit_count(st), a0 + 2);

	struct store_unit u;
	CHECK_INT_EQ(store_unit_get(st, "D-SW", &u), CD_OK);
	CHECK_STR_EQ(u.name, "罗湖区水务局");
	CHECK_STR_EQ(u.street_code, "");

	/* Upsert changes the row and records before and after. */
	snprintf(u.handles, sizeof u.handles, "供水 排水");
	snprintf(u.street_code, sizeof u.street_code, "440303001");
	CHECK_INT_EQ(store_unit_put(st, &admin, &u), CD_OK);
	struct store_unit u2;
	CHECK_INT_EQ(store_unit_get(st, "D-SW", &u2), CD_OK);
	CHECK_STR_EQ(u2.handles, "供水 排水");
	CHECK_STR_EQ(u2.street_code, "440303001");
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "unit.put");
		CHECK_STR_EQ(e[0].target, "units/D-SW");
		CHECK_STR_EQ(e[0].actor, "admin");
		CHECK_STR_EQ(e[0].client, "127.0.0.1");
		CHECK(e[0].before && strstr(e[0].before, "\"handles\":\"\""));
		CHECK(e[0].after && strstr(e[0].after, "供水 排水"));
	}
	store_audit_list_free(e, n);

	struct store_unit *list = NULL;
	CHECK_INT_EQ(store_units_list(st, &list, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	if (n == 2) {
		CHECK_STR_EQ(list[0].code, "D-CGZF");
		CHECK_STR_EQ(list[1].code, "D-SW");
	}
	xfree(list);

	CHECK_INT_EQ(store_unit_get(st, "NOPE", &u), CD_ERR_NOTFOUND);
	memset(&u, 0, sizeof u);
	int64_t a1 = audit_count(st);
	CHECK_INT_EQ(store_unit_put(st, &admin, &u), CD_ERR_INVALID); /* empty code */
	memset(u.code, 'x', sizeof u.code);                                /* unterminated */
	CHECK_INT_EQ(store_unit_put(st, &admin, &u), CD_ERR_INVALID);
	CHECK_INT_EQ(audit_count(st), a1);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- users ----------------------------------------------------------------------------- */

static void test_users(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	put_unit(st, "D-SW", "水务局");
	int64_t a0 = audit_count(st);

	struct store_user u = make_user("alice", "admin");
	snprintf(u.display_name, sizeof u.display_name, "Alice 管理员");
	int64_t alice = 0;
	CHECK_INT_EQ(store_user_add(st, &admin, &u, &alice), CD_OK);
	CHECK(alice > 0);
	CHECK_INT_EQ(audit_count(st), a0 + 1);

	/* The audit entry has the row but never the password hash. */
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "user.add");
		CHECK(e[0].before == NULL);
		CHECK(e[0].after && strstr(e[0].after, "\"username\":\"alice\""));
		CHECK(e[0].after && !strstr(e[0].after, "argon2"));
	}
	store_audit_list_free(e, n);

	/* Failures change nothing and leave no audit row. */
	int64_t id = 0;
	CHECK_INT_EQ(store_user_add(st, &admin, &u, &id), CD_ERR_EXISTS);
	CHECK_INT_EQ(id, 0);
	struct store_user bad = make_user("bob", "unit_staff");
	snprintf(bad.unit_code, sizeof bad.unit_code, "NO-SUCH-UNIT");
	CHECK_INT_EQ(store_user_add(st, &admin, &bad, &id), CD_ERR_INVALID);
	bad = make_user("bob", "unit_staff"); /* unit staff without a unit */
	CHECK_INT_EQ(store_user_add(st, &admin, &bad, &id), CD_ERR_INVALID);
	bad = make_user("bob", "street_dispatcher"); /* without a street */
	CHECK_INT_EQ(store_user_add(st, &admin, &bad, &id), CD_ERR_INVALID);
	bad = make_user("bob", "superuser");
	CHECK_INT_EQ(store_user_add(st, &admin, &bad, &id), CD_ERR_INVALID);
	bad = make_user("", "admin");
	CHECK_INT_EQ(store_user_add(st, &admin, &bad, &id), CD_ERR_INVALID);
	CHECK_INT_EQ(audit_count(st), a0 + 1);
	struct store_user got;
	CHECK_INT_EQ(store_user_get_by_name(st, "bob", &got), CD_ERR_NOTFOUND);

	struct store_user bob = make_user("bob", "unit_staff");
	snprintf(bob.unit_code, sizeof bob.unit_code, "D-SW");
	bob.created_at = 1700000000;
	int64_t bob_id = 0;
	CHECK_INT_EQ(store_user_add(st, &admin, &bob, &bob_id), CD_OK);
	struct store_user carol = make_user("carol", "street_dispatcher");
	snprintf(carol.street_code, sizeof carol.street_code, "440303001");
	CHECK_INT_EQ(store_user_add(st, &admin, &carol, NULL), CD_OK);

	CHECK_INT_EQ(store_user_get_by_name(st, "bob", &got), CD_OK);
	CHECK_INT_EQ(got.id, bob_id);
	CHECK_STR_EQ(got.role, "unit_staff");
	CHECK_STR_EQ(got.unit_code, "D-SW");
	CHECK_STR_EQ(got.street_code, "");
	CHECK_STR_EQ(got.password_hash, "$argon2id$v=19$fake");
	CHECK_INT_EQ(got.created_at, 1700000000);
	CHECK_INT_EQ(got.disabled, 0);
	CHECK_INT_EQ(store_user_get_by_id(st, alice, &got), CD_OK);
	CHECK_STR_EQ(got.username, "alice");
	CHECK_STR_EQ(got.display_name, "Alice 管理员");
	CHECK(got.created_at > 1700000000); /* defaulted to now */
	CHECK_INT_EQ(store_user_get_by_id(st, 9999, &got), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_user_get_by_name(st, NULL, &got), CD_ERR_NOTFOUND);

	/* Paging. */
	struct store_user *page = NULL;
	int64_t total = 0;
	CHECK_INT_EQ(store_users_list(st, 1, 1, &page, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 3);
	CHECK_INT_EQ(n, 1);
	if (n == 1) {
		CHECK_STR_EQ(page[0].username, "bob");
		CHECK_STR_EQ(page[0].password_hash, "");
	}
	xfree(page);
	CHECK_INT_EQ(store_users_list(st, 0, 100, &page, &n, &total), CD_OK);
	CHECK_INT_EQ(n, 3);
	xfree(page);
	CHECK_INT_EQ(store_users_list(st, 10, 100, &page, &n, &total), CD_OK);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(total, 3);
	xfree(page);
	CHECK_INT_EQ(store_users_list(st, -1, 10, &page, &n, &total), CD_ERR_RANGE);

	/* Password and disable. */
	CHECK_INT_EQ(store_user_set_password(st, &admin, bob_id, "$argon2id$new"), CD_OK);
	CHECK_INT_EQ(store_user_get_by_id(st, bob_id, &got), CD_OK);
	CHECK_STR_EQ(got.password_hash, "$argon2id$new");
	char action[64];
	last_action(st, action, sizeof action);
	CHECK_STR_EQ(action, "user.set_password");
	CHECK_INT_EQ(store_user_set_password(st, &admin, 9999, "$x"), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_user_set_password(st, &admin, bob_id, ""), CD_ERR_INVALID);
	CHECK_INT_EQ(store_user_set_disabled(st, &admin, bob_id, 1), CD_OK);
	CHECK_INT_EQ(store_user_get_by_id(st, bob_id, &got), CD_OK);
	CHECK_INT_EQ(got.disabled, 1);
	CHECK_INT_EQ(store_user_set_disabled(st, &admin, bob_id, 0), CD_OK);
	CHECK_INT_EQ(store_user_get_by_id(st, bob_id, &got), CD_OK);
	CHECK_INT_EQ(got.disabled, 0);
	int64_t a1 = audit_count(st);
	CHECK_INT_EQ(store_user_set_disabled(st, &admin, 9999, 1), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(audit_count(st), a1);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- sessions -------------------------------------------------------------------------- */

static void test_sessions(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	struct store_user u = make_user("dave", "grid_worker");
	int64_t dave = 0;
	CHECK_INT_EQ(store_user_add(st, &admin, &u, &dave), CD_OK);

	uint8_t h1[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN], h3[STORE_TOKEN_HASH_LEN];
	memset(h1, 1, sizeof h1);
	memset(h2, 2, sizeof h2);
	memset(h3, 3, sizeof h3);
	const int64_t now = 1800000000;
	CHECK_INT_EQ(store_session_add(st, &admin, h1, dave, now, now + 3600), CD_OK);
	CHECK_INT_EQ(store_session_add(st, &admin, h2, dave, now, now + 60), CD_OK);
	CHECK_INT_EQ(store_session_add(st, &admin, h1, dave, now, now + 3600), CD_ERR_EXISTS);
	CHECK_INT_EQ(store_session_add(st, &admin, h3, 4242, now, now + 60), CD_ERR_INVALID);
	CHECK_INT_EQ(store_session_add(st, &admin, h3, dave, now, now), CD_ERR_INVALID);

	struct store_user got;
	int64_t exp = 0;
	CHECK_INT_EQ(store_session_lookup(st, h1, now + 10, &got, &exp), CD_OK);
	CHECK_STR_EQ(got.username, "dave");
	CHECK_INT_EQ(got.id, dave);
	CHECK_INT_EQ(exp, now + 3600);
	CHECK_INT_EQ(store_session_lookup(st, h2, now + 60, &got, NULL), CD_ERR_NOTFOUND); /* expired */
	CHECK_INT_EQ(store_session_lookup(st, h3, now, &got, NULL), CD_ERR_NOTFOUND);

	/* The audit trail names the session by a short tag, never the whole hash. */
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 10, &e, &n), CD_OK);
	int seen = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].action, "session.add") == 0) {
			seen++;
			CHECK(e[i].after && !strstr(e[i].after, "0101010101010101"));
		}
	CHECK_INT_EQ(seen, 2);
	store_audit_list_free(e, n);

	/* A disabled user's sessions die with it. */
	CHECK_INT_EQ(store_user_set_disabled(st, &admin, dave, 1), CD_OK);
	CHECK_INT_EQ(store_session_lookup(st, h1, now + 10, &got, NULL), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_user_set_disabled(st, &admin, dave, 0), CD_OK);
	CHECK_INT_EQ(store_session_lookup(st, h1, now + 10, &got, NULL), CD_ERR_NOTFOUND);

	/* Logout. */
	CHECK_INT_EQ(store_session_add(st, &admin, h3, dave, now, now + 3600), CD_OK);
	CHECK_INT_EQ(store_session_lookup(st, h3, now + 1, &got, NULL), CD_OK);
	CHECK_INT_EQ(store_session_revoke(st, &admin, h3, now + 2), CD_OK);
	CHECK_INT_EQ(store_session_lookup(st, h3, now + 3, &got, NULL), CD_ERR_NOTFOUND);
	int64_t a0 = audit_count(st);
	CHECK_INT_EQ(store_session_revoke(st, &admin, h3, now + 4), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(audit_count(st), a0);

	/* A new password also ends live sessions. */
	uint8_t h4[STORE_TOKEN_HASH_LEN];
	memset(h4, 4, sizeof h4);
	int64_t real_now = (int64_t)time(NULL);
	CHECK_INT_EQ(store_session_add(st, &admin, h4, dave, real_now, real_now + 3600), CD_OK);
	CHECK_INT_EQ(store_session_lookup(st, h4, real_now, &got, NULL), CD_OK);
	CHECK_INT_EQ(store_user_set_password(st, &admin, dave, "$argon2id$other"), CD_OK);
	CHECK_INT_EQ(store_session_lookup(st, h4, real_now, &got, NULL), CD_ERR_NOTFOUND);

	/* Purge removes everything expired or revoked before the cut-off. */
	int64_t removed = -1;
	CHECK_INT_EQ(store_session_purge(st, &admin, now + 7200, &removed), CD_OK);
	CHECK_INT_EQ(removed, 4);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- areas and grid -------------------------------------------------------------------- */

static struct store_area make_area(const char *code, const char *level, const char *name,
				   const char *parent, const char *geom)
{
	struct store_area a;
	memset(&a, 0, sizeof a);
	snprintf(a.code, sizeof a.code, "%s", code);
	snprintf(a.level, sizeof a.level, "%s", level);
	snprintf(a.name, sizeof a.name, "%s", name);
	snprintf(a.parent_code, sizeof a.parent_code, "%s", parent);
	a.geometry = geom;
	a.approximate = strcmp(level, "district") != 0;
	return a;
}

static struct store_grid_cell make_cell(const char *code, const char *community)
{
	struct store_grid_cell c;
	memset(&c, 0, sizeof c);
	snprintf(c.code, sizeof c.code, "%s", code);
	snprintf(c.community_code, sizeof c.community_code, "%s", community);
	c.min_lat = 22.5;
	c.min_lng = 114.1;
	c.max_lat = 22.501;
	c.max_lng = 114.101;
	c.geometry = "{\"type\":\"Polygon\",\"coordinates\":[]}";
	return c;
}

struct count_ctx {
	int n;
	int stop_at;
	int with_geometry;
	char first[STORE_CODE_MAX];
};

static int count_area(void *p, const struct store_area *a)
{
	struct count_ctx *c = p;
	if (c->n == 0)
		snprintf(c->first, sizeof c->first, "%s", a->code);
	if (a->geometry)
		c->with_geometry++;
	return ++c->n == c->stop_at;
}

static int count_cell(void *p, const struct store_grid_cell *cell)
{
	struct count_ctx *c = p;
	if (c->n == 0)
		snprintf(c->first, sizeof c->first, "%s", cell->code);
	if (cell->geometry && cell->max_lat > cell->min_lat)
		c->with_geometry++;
	return ++c->n == c->stop_at;
}

static void test_areas_and_grid(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	const char *poly = "{\"type\":\"Polygon\",\"coordinates\":[[[114.1,22.5],[114.2,22.5],"
			   "[114.2,22.6],[114.1,22.5]]]}";
	struct store_area d = make_area("440303", "district", "罗湖区", "", poly);
	CHECK_INT_EQ(store_areas_replace(st, &admin, "district", &d, 1, NULL, 0), CD_OK);
	struct store_area streets[2] = {
		make_area("440303001", "street", "桂园街道", "440303", poly),
		make_area("440303002", "street", "黄贝街道", "440303", NULL),
	};
	CHECK_INT_EQ(store_areas_replace(st, &admin, "street", streets, 2, NULL, 0), CD_OK);
	struct store_area comms[3] = {
		make_area("440303001001", "community", "大塘龙社区", "440303001", poly),
		make_area("440303001002", "community", "桂木园社区", "440303001", poly),
		make_area("440303002001", "community", "黄贝岭社区", "440303002", poly),
	};
	struct store_grid_cell cells[4] = {
		make_cell("440303001001001", "440303001001"),
		make_cell("440303001001002", "440303001001"),
		make_cell("440303001002001", "440303001002"),
		make_cell("440303002001001", "440303002001"),
	};
	CHECK_INT_EQ(store_areas_replace(st, &admin, "community", comms, 3, cells, 4), CD_OK);

	struct count_ctx c = {0, -1, 0, ""};
	CHECK_INT_EQ(store_areas_list(st, "street", count_area, &c), CD_OK);
	CHECK_INT_EQ(c.n, 2);
	CHECK_INT_EQ(c.with_geometry, 1);
	CHECK_STR_EQ(c.first, "440303001");
	memset(&c, 0, sizeof c);
	c.stop_at = -1;
	CHECK_INT_EQ(store_areas_list(st, NULL, count_area, &c), CD_OK);
	CHECK_INT_EQ(c.n, 6);
	CHECK_STR_EQ(c.first, "440303");
	memset(&c, 0, sizeof c);
	c.stop_at = 2; /* the callback can stop the walk */
	CHECK_INT_EQ(store_areas_list(st, NULL, count_area, &c), CD_OK);
	CHECK_INT_EQ(c.n, 2);
	CHECK_INT_EQ(store_areas_list(st, "province", count_area, &c), CD_ERR_INVALID);
	memset(&c, 0, sizeof c);
	c.stop_at = -1;
	CHECK_INT_EQ(store_grid_list(st, count_cell, &c), CD_OK);
	CHECK_INT_EQ(c.n, 4);
	CHECK_INT_EQ(c.with_geometry, 4);
	CHECK_STR_EQ(c.first, "440303001001001");

	struct store_area got;
	char *geom = NULL;
	CHECK_INT_EQ(store_area_get(st, "440303001", &got, &geom), CD_OK);
	CHECK_STR_EQ(got.name, "桂园街道");
	CHECK_STR_EQ(got.parent_code, "440303");
	CHECK_STR_EQ(got.level, "street");
	CHECK_INT_EQ(got.approximate, 1);
	CHECK_STR_EQ(geom, poly);
	xfree(geom);
	CHECK_INT_EQ(store_area_get(st, "440303002", &got, &geom), CD_OK);
	CHECK(geom == NULL);
	CHECK_INT_EQ(store_area_get(st, "440303", &got, NULL), CD_OK);
	CHECK_INT_EQ(got.approximate, 0);
	CHECK_INT_EQ(store_area_get(st, "999", &got, &geom), CD_ERR_NOTFOUND);

	/* Failures leave everything as it was, audit included. */
	int64_t a0 = audit_count(st);
	struct store_grid_cell orphan[2] = {make_cell("440303001001001", "440303001001"),
					    make_cell("440303009009001", "440303009009")};
	CHECK_INT_EQ(store_areas_replace(st, &admin, "community", comms, 2, orphan, 2), CD_ERR_INVALID);
	struct store_grid_cell short_code = make_cell("44030300100101", "440303001001");
	CHECK_INT_EQ(store_grid_replace(st, &admin, &short_code, 1), CD_ERR_INVALID);
	struct store_grid_cell dup[2] = {cells[0], cells[0]};
	CHECK_INT_EQ(store_grid_replace(st, &admin, dup, 2), CD_ERR_INVALID);
	CHECK_INT_EQ(store_areas_replace(st, &admin, "street", comms, 1, NULL, 0), CD_ERR_INVALID);
	CHECK_INT_EQ(store_areas_replace(st, &admin, "street", streets, 2, cells, 1), CD_ERR_INVALID);
	CHECK_INT_EQ(store_areas_replace(st, &admin, "city", streets, 2, NULL, 0), CD_ERR_INVALID);
	/* A street code reused as a community collides with the street row. */
	struct store_area clash = make_area("440303001", "community", "x", "440303001", NULL);
	CHECK_INT_EQ(store_areas_replace(st, &admin, "community", &clash, 1, NULL, 0), CD_ERR_INVALID);
	CHECK_INT_EQ(audit_count(st), a0);
	memset(&c, 0, sizeof c);
	c.stop_at = -1;
	CHECK_INT_EQ(store_areas_list(st, "community", count_area, &c), CD_OK);
	CHECK_INT_EQ(c.n, 3);
	memset(&c, 0, sizeof c);
	c.stop_at = -1;
	CHECK_INT_EQ(store_grid_list(st, count_cell, &c), CD_OK);
	CHECK_INT_EQ(c.n, 4);

	/* Replacing the communities replaces the grid; the audit entry carries counts. */
	CHECK_INT_EQ(store_areas_replace(st, &admin, "community", comms, 1, cells, 2), CD_OK);
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "areas.replace");
		CHECK_STR_EQ(e[0].target, "areas/community");
		CHECK_STR_EQ(e[0].before, "{\"level\":\"community\",\"count\":3,\"grid_cells\":4}");
		CHECK_STR_EQ(e[0].after, "{\"level\":\"community\",\"count\":1,\"grid_cells\":2}");
	}
	store_audit_list_free(e, n);
	memset(&c, 0, sizeof c);
	c.stop_at = -1;
	CHECK_INT_EQ(store_grid_list(st, count_cell, &c), CD_OK);
	CHECK_INT_EQ(c.n, 2);
	/* Re-gridding alone. */
	CHECK_INT_EQ(store_grid_replace(st, &admin, cells, 1), CD_OK);
	memset(&c, 0, sizeof c);
	c.stop_at = -1;
	CHECK_INT_EQ(store_grid_list(st, count_cell, &c), CD_OK);
	CHECK_INT_EQ(c.n, 1);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- responsibility list --------------------------------------------------------------- */

static struct store_resp make_resp(const char *cat, const char *area, const char *unit)
{
	struct store_resp r;
	memset(&r, 0, sizeof r);
	snprintf(r.category_code, sizeof r.category_code, "%s", cat);
	snprintf(r.area_code, sizeof r.area_code, "%s", area);
	snprintf(r.unit_code, sizeof r.unit_code, "%s", unit);
	return r;
}

static void test_responsibilities(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	put_unit(st, "D-CGZF", "城管");
	put_unit(st, "S-GY", "桂园街道办");
	put_unit(st, "C-DTL", "大塘龙社区工作站");
	struct store_resp rows[4] = {
		make_resp("市容环卫", "*", "D-CGZF"),
		make_resp("市容环卫", "440303001", "S-GY"),
		make_resp("市容环卫", "440303001001", "C-DTL"),
		make_resp("占道经营", "440303001", "S-GY"),
	};
	CHECK_INT_EQ(store_resp_replace(st, &admin, rows, 4), CD_OK);
	char unit[STORE_CODE_MAX];
	CHECK_INT_EQ(store_resp_lookup(st, "市容环卫", "440303001001", "440303001", unit), CD_OK);
	CHECK_STR_EQ(unit, "C-DTL");
	CHECK_INT_EQ(store_resp_lookup(st, "市容环卫", "440303001002", "440303001", unit), CD_OK);
	CHECK_STR_EQ(unit, "S-GY");
	CHECK_INT_EQ(store_resp_lookup(st, "市容环卫", "440303002001", "440303002", unit), CD_OK);
	CHECK_STR_EQ(unit, "D-CGZF");
	CHECK_INT_EQ(store_resp_lookup(st, "市容环卫", NULL, NULL, unit), CD_OK);
	CHECK_STR_EQ(unit, "D-CGZF");
	CHECK_INT_EQ(store_resp_lookup(st, "占道经营", "440303002001", "440303002", unit),
		     CD_ERR_NOTFOUND);
	CHECK_STR_EQ(unit, "");
	CHECK_INT_EQ(store_resp_lookup(st, "占道经营", "", "440303001", unit), CD_OK);
	CHECK_STR_EQ(unit, "S-GY");

	struct store_resp *list = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_resp_list(st, &list, &n), CD_OK);
	CHECK_INT_EQ(n, 4);
	xfree(list);

	/* An unknown unit or a repeated key rolls the whole import back. */
	int64_t a0 = audit_count(st);
	struct store_resp bad[2] = {make_resp("绿化", "*", "D-CGZF"), make_resp("路灯", "*", "NOPE")};
	CHECK_INT_EQ(store_resp_replace(st, &admin, bad, 2), CD_ERR_INVALID);
	struct store_resp dup[2] = {make_resp("绿化", "*", "D-CGZF"), make_resp("绿化", "*", "S-GY")};
	CHECK_INT_EQ(store_resp_replace(st, &admin, dup, 2), CD_ERR_EXISTS);
	CHECK_INT_EQ(audit_count(st), a0);
	CHECK_INT_EQ(store_resp_list(st, &list, &n), CD_OK);
	CHECK_INT_EQ(n, 4);
	xfree(list);

	CHECK_INT_EQ(store_resp_replace(st, &admin, bad, 1), CD_OK);
	CHECK_INT_EQ(store_resp_list(st, &list, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n == 1)
		CHECK_STR_EQ(list[0].category_code, "绿化");
	xfree(list);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- change counters for the app's caches ---------------------------------------------- */

/* The session cache and the routing/unit-name memos drop their entries when these move: every
 * revocation, disable and password change moves the auth counter, every map write the map
 * counter, and reads move neither. */
static void test_generations(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	uint64_t m0 = store_map_generation(st), a0 = store_auth_generation(st);
	put_unit(st, "D-CGZF", "城管");
	uint64_t m1 = store_map_generation(st);
	CHECK(m1 > m0);
	struct store_resp rows[1] = {make_resp("市容环卫", "*", "D-CGZF")};
	CHECK_INT_EQ(store_resp_replace(st, &admin, rows, 1), CD_OK);
	uint64_t m2 = store_map_generation(st);
	CHECK(m2 > m1);
	char unit[STORE_CODE_MAX];
	CHECK_INT_EQ(store_resp_lookup(st, "市容环卫", NULL, NULL, unit), CD_OK);
	struct store_unit u;
	CHECK_INT_EQ(store_unit_get(st, "D-CGZF", &u), CD_OK);
	CHECK(store_map_generation(st) == m2);
	CHECK(store_auth_generation(st) == a0);

	struct store_user usr = make_user("erin", "grid_worker");
	int64_t erin = 0;
	CHECK_INT_EQ(store_user_add(st, &admin, &usr, &erin), CD_OK);
	uint8_t h[STORE_TOKEN_HASH_LEN];
	memset(h, 7, sizeof h);
	const int64_t now = 1800000000;
	CHECK_INT_EQ(store_session_add(st, &admin, h, erin, now, now + 3600), CD_OK);
	struct store_user got;
	CHECK_INT_EQ(store_session_lookup(st, h, now, &got, NULL), CD_OK);
	uint64_t a1 = store_auth_generation(st);
	CHECK(a1 == a0); /* adding users and sessions and reading them revoke nothing */
	CHECK_INT_EQ(store_session_revoke(st, &admin, h, now + 1), CD_OK);
	uint64_t a2 = store_auth_generation(st);
	CHECK(a2 > a1);
	CHECK_INT_EQ(store_user_set_disabled(st, &admin, erin, 1), CD_OK);
	uint64_t a3 = store_auth_generation(st);
	CHECK(a3 > a2);
	CHECK_INT_EQ(store_user_set_password(st, &admin, erin, "$argon2id$v=19$m=65536,t=2,p=1$x$y"), CD_OK);
	CHECK(store_auth_generation(st) > a3);
	CHECK(store_map_generation(st) == m2);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- meta, size, checkpoint ---------------------------------------------------------- */

static void test_meta_and_maintenance(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	char v[16];
	CHECK_INT_EQ(store_meta_get(st, "district_loaded", v, sizeof v), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_meta_set(st, &admin, "district_loaded", "luohu"), CD_OK);
	CHECK_INT_EQ(store_meta_get(st, "district_loaded", v, sizeof v), CD_OK);
	CHECK_STR_EQ(v, "luohu");
	CHECK_INT_EQ(store_meta_set(st, &admin, "district_loaded", "luohu-2026-11"), CD_OK);
	CHECK_INT_EQ(store_meta_get(st, "district_loaded", v, sizeof v), CD_OK);
	CHECK_STR_EQ(v, "luohu-2026-11");
	CHECK_INT_EQ(store_meta_get(st, "district_loaded", v, 0), CD_ERR_TOOBIG);
	char tiny[4];
	CHECK_INT_EQ(store_meta_get(st, "district_loaded", tiny, sizeof tiny), CD_ERR_TOOBIG);
	CHECK_INT_EQ(store_meta_set(st, &admin, "", "x"), CD_ERR_INVALID);
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].action, "meta.set");
		CHECK_STR_EQ(e[0].target, "meta/district_loaded");
		CHECK_STR_EQ(e[0].before, "{\"key\":\"district_loaded\",\"value\":\"luohu\"}");
		CHECK_STR_EQ(e[0].after, "{\"key\":\"district_loaded\",\"value\":\"luohu-2026-11\"}");
	}
	store_audit_list_free(e, n);

	CHECK_INT_EQ(store_checkpoint(st), CD_OK);
	char wal[200];
	snprintf(wal, sizeof wal, "%s-wal", t.path);
	struct stat sb;
	CHECK(stat(wal, &sb) != 0 || sb.st_size == 0); /* truncated */
	int64_t size = 0;
	CHECK_INT_EQ(store_size_bytes(st, &size), CD_OK);
	CHECK(size >= 4096);
	store_close(st);

	/* Survives close and reopen (durability of acknowledged writes within the process). */
	st = open_ok(&t);
	CHECK_INT_EQ(store_meta_get(st, "district_loaded", v, sizeof v), CD_OK);
	CHECK_STR_EQ(v, "luohu-2026-11");
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- allocation failure ------------------------------------------------------------ */

static void test_allocation_failures(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	put_unit(st, "D-SW", "水务局");
	put_unit(st, "D-JT", "交通局");
	const char *poly = "{\"type\":\"Polygon\",\"coordinates\":[]}";
	struct store_area d = make_area("440303", "district", "罗湖区", "", poly);
	CHECK_INT_EQ(store_areas_replace(st, &admin, "district", &d, 1, NULL, 0), CD_OK);

	/* Input-sized copies fail cleanly (no leak: ASan's leak checker runs at exit). */
	alloc_fail_after(0);
	struct store_unit *units = NULL;
	size_t n = 7;
	CHECK_INT_EQ(store_units_list(st, &units, &n), CD_ERR_NOMEM);
	CHECK(units == NULL);
	CHECK_INT_EQ(n, 0);
	struct store_audit_entry *e = NULL;
	CHECK_INT_EQ(store_audit_list(st, 0, 10, &e, &n), CD_ERR_NOMEM);
	CHECK(e == NULL);
	struct store_area a;
	char *geom = NULL;
	CHECK_INT_EQ(store_area_get(st, "440303", &a, &geom), CD_ERR_NOMEM);
	CHECK(geom == NULL);
	/* A write whose snapshot cannot be copied rolls back, audit included. */
	alloc_fail_after(-1);
	int64_t before = 0, after = 0;
	CHECK_INT_EQ(store_audit_count(st, &before), CD_OK);
	alloc_fail_after(0);
	struct store_unit u;
	memset(&u, 0, sizeof u);
	snprintf(u.code, sizeof u.code, "D-SW");
	snprintf(u.name, sizeof u.name, "renamed");
	CHECK_INT_EQ(store_unit_put(st, &admin, &u), CD_ERR_NOMEM);
	alloc_fail_after(-1);
	CHECK_INT_EQ(store_audit_count(st, &after), CD_OK);
	CHECK_INT_EQ(after, before);
	CHECK_INT_EQ(store_unit_get(st, "D-SW", &u), CD_OK);
	CHECK_STR_EQ(u.name, "水务局");

	CHECK_INT_EQ(store_units_list(st, &units, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	xfree(units);
	verify_ok(st);
	store_close(st);
	tmpdb_remove(&t);
}

static const struct test_case tests[] = {
	{"open creates a WAL database and migrates", test_open_creates_wal_and_migrates},
	{"migrate from every earlier version", test_migrate_from_every_version},
	{"refuse a newer schema", test_refuses_newer_schema},
	{"refuse a file that is not a database", test_refuses_non_database},
	{"open in a missing directory fails", test_open_bad_path},
	{"units: put, update, get, list, failures", test_units},
	{"users: add, duplicates, scope checks, paging, password, disable", test_users},
	{"sessions: add, lookup, expiry, revoke, disable, purge", test_sessions},
	{"areas and grid: replace, list, get, atomic failures", test_areas_and_grid},
	{"responsibilities: replace, lookup specificity, rollback", test_responsibilities},
	{"change counters: map writes and revocations move them, reads do not", test_generations},
	{"meta, checkpoint, size", test_meta_and_maintenance},
	{"allocation failures: NOMEM, nothing leaked, nothing half-written", test_allocation_failures},
};

TEST_MAIN(tests)
