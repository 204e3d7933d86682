/* Unit tests for the store's audit chain (留痕): the documented hash encoding, the triggers
 * that keep the table append-only, detection of rows changed, deleted in the middle or cut
 * from the end behind the store's back (with the raw SQLite API, triggers dropped), and a
 * concurrent smoke test whose chain must still verify. */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"

static const struct store_actor admin = {"admin", "10.0.0.7"};

/* The entries a fresh store starts with: one "store.migrate" per migration from the one that
 * created the audit table (0002) on. */
static int64_t migration_entries(void)
{
	return store_schema_latest() - 1;
}

/* A store with `n` entries after the migrations': units and meta writes. */
static void fill(struct tmpdb *t, int n)
{
	struct store *st = open_ok(t);
	for (int i = 0; i < n; i++) {
		struct store_unit u;
		memset(&u, 0, sizeof u);
		snprintf(u.code, sizeof u.code, "U-%d", i % 3);
		snprintf(u.name, sizeof u.name, "单位 %d", i);
		snprintf(u.kind, sizeof u.kind, "district_department");
		CHECK_INT_EQ(store_unit_put(st, &admin, &u), CD_OK);
	}
	store_close(st);
}

/* Runs SQL on the file with a plain connection, as someone with file access could. */
static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	CHECK_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return src;
}

static const char drop_triggers[] = "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; "
				    "DROP TRIGGER audit_chain_insert; DROP TRIGGER audit_head_forward; "
				    "DROP TRIGGER audit_head_no_delete;";

/* Verifies and returns the first bad id (0 when whole); *rc_out gets the result. */
static int64_t verify(const char *path, enum cd_err *rc_out, char *reason, size_t cap)
{
	struct store *st = NULL;
	enum cd_err rc = store_open(path, &st);
	CHECK_INT_EQ(rc, CD_OK);
	int64_t bad = -1;
	if (st) {
		rc = store_audit_verify(st, &bad, reason, cap);
		store_close(st);
	}
	*rc_out = rc;
	return bad;
}

/* ---- encoding ---------------------------------------------------------------------- */

static void put_field(crypto_hash_sha256_state *h, const char *s)
{
	char head[32];
	if (!s) {
		crypto_hash_sha256_update(h, (const unsigned char *)"N;", 2);
		return;
	}
	int n = snprintf(head, sizeof head, "S%zu:", strlen(s));
	crypto_hash_sha256_update(h, (const unsigned char *)head, (unsigned long long)n);
	crypto_hash_sha256_update(h, (const unsigned char *)s, strlen(s));
}

/* Recomputes an entry's hash from the encoding in docs/internals/store.md, independently
 * of the store's code, so the format cannot drift unnoticed. */
static void doc_hash(const struct store_audit_entry *e, char out[65])
{
	crypto_hash_sha256_state h;
	unsigned char d[32];
	char head[32];
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)"citydesk-audit-v1\n", 18);
	int n = snprintf(head, sizeof head, "I%lld;", (long long)e->id);
	crypto_hash_sha256_update(&h, (const unsigned char *)head, (unsigned long long)n);
	put_field(&h, e->at);
	put_field(&h, e->actor);
	put_field(&h, e->client);
	put_field(&h, e->action);
	put_field(&h, e->target);
	put_field(&h, e->before);
	put_field(&h, e->after);
	put_field(&h, e->prev_hash);
	crypto_hash_sha256_final(&h, d);
	sodium_bin2hex(out, 65, d, 32);
}

static void test_encoding_matches_document(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 3);
	struct store *st = open_ok(&t);
	CHECK_INT_EQ(store_audit_append(st, &admin, "export.cases", "cases", NULL,
					"{\"rows\":12,\"note\":\"引号\\\" and \\\\\"}"),
		     CD_OK);
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_audit_list(st, 0, 100, &e, &n), CD_OK);
	const size_t all = (size_t)(4 + migration_entries());
	CHECK_INT_EQ(n, all);
	for (size_t i = 0; i < n; i++) {
		char h[65];
		doc_hash(&e[i], h);
		CHECK_STR_EQ(h, e[i].hash);
		/* Newest first, ids without gaps, each linked to the one below it. */
		CHECK_INT_EQ(e[i].id, (int64_t)(n - i));
		if (i + 1 < n)
			CHECK_STR_EQ(e[i].prev_hash, e[i + 1].hash);
		CHECK_INT_EQ(strlen(e[i].at), 25);
		CHECK(strstr(e[i].at, "+08:00") != NULL);
	}
	if (n == all) {
		CHECK_STR_EQ(e[n - 1].prev_hash,
			     "0000000000000000000000000000000000000000000000000000000000000000");
		CHECK_STR_EQ(e[n - 1].actor, "system");
		CHECK_STR_EQ(e[0].action, "export.cases");
		CHECK_STR_EQ(e[0].actor, "admin");
		CHECK_STR_EQ(e[0].client, "10.0.0.7");
		CHECK(e[0].before == NULL);
	}
	store_audit_list_free(e, n);

	/* Paging: offset skips the newest. */
	CHECK_INT_EQ(store_audit_list(st, 3, 100, &e, &n), CD_OK);
	CHECK_INT_EQ(n, all - 3);
	if (n == all - 3)
		CHECK_INT_EQ(e[0].id, all - 3);
	store_audit_list_free(e, n);
	CHECK_INT_EQ(store_audit_list(st, 0, 0, &e, &n), CD_OK);
	CHECK_INT_EQ(n, 0);
	store_audit_list_free(e, n);
	CHECK_INT_EQ(store_audit_list(st, -1, 10, &e, &n), CD_ERR_RANGE);
	CHECK_INT_EQ(store_audit_append(st, &admin, "", "x", NULL, NULL), CD_ERR_INVALID);
	store_audit_list_free(NULL, 0);

	/* A NULL actor is recorded as the system. */
	CHECK_INT_EQ(store_audit_append(st, NULL, "server.start", "server", NULL, NULL), CD_OK);
	CHECK_INT_EQ(store_audit_list(st, 0, 1, &e, &n), CD_OK);
	if (n == 1) {
		CHECK_STR_EQ(e[0].actor, "system");
		CHECK_STR_EQ(e[0].client, "");
	}
	store_audit_list_free(e, n);
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- the database refuses edits while its triggers stand --------------------------- */

static void test_triggers_refuse_edits(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 3);
	CHECK_INT_EQ(raw_exec(t.path, "UPDATE audit SET actor = 'mallory' WHERE id = 2") & 0xff,
		     SQLITE_CONSTRAINT);
	CHECK_INT_EQ(raw_exec(t.path, "DELETE FROM audit WHERE id = 4") & 0xff, SQLITE_CONSTRAINT);
	CHECK_INT_EQ(raw_exec(t.path, "DELETE FROM audit_head") & 0xff, SQLITE_CONSTRAINT);
	CHECK_INT_EQ(raw_exec(t.path, "UPDATE audit_head SET last_id = 2") & 0xff, SQLITE_CONSTRAINT);
	CHECK_INT_EQ(raw_exec(t.path, "INSERT INTO audit VALUES (9, 'x', 'x', '', 'x', 'x', NULL, "
				      "NULL, 'x', 'x')") & 0xff,
		     SQLITE_CONSTRAINT);
	enum cd_err rc;
	CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), 0);
	CHECK_INT_EQ(rc, CD_OK);
	tmpdb_remove(&t);
}

/* ---- tampering behind the store's back ---------------------------------------------- */

static void test_detects_changed_row(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 5); /* the migrations' entries, then five unit writes */
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	/* Change the second unit write, whichever id the migrations before it leave it. */
	const int64_t target = migration_entries() + 2;
	char sql[160];
	snprintf(sql, sizeof sql, "UPDATE audit SET after = replace(after, '单位', '个人') WHERE id = %lld",
		 (long long)target);
	CHECK_INT_EQ(raw_exec(t.path, sql), SQLITE_OK);
	enum cd_err rc;
	char reason[256];
	CHECK_INT_EQ(verify(t.path, &rc, reason, sizeof reason), target);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	CHECK(strstr(reason, "hash") != NULL);
	tmpdb_remove(&t);
}

static void test_detects_changed_actor_or_time(void)
{
	static const char *const edits[] = {
		"UPDATE audit SET actor = 'mallory' WHERE id = 4",
		"UPDATE audit SET at = '2020-01-01T00:00:00+08:00' WHERE id = 4",
		"UPDATE audit SET before = '' WHERE id = 4", /* NULL became empty text */
		"UPDATE audit SET hash = '" /* a well-formed but wrong hash */
		"1111111111111111111111111111111111111111111111111111111111111111' WHERE id = 4",
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		struct tmpdb t;
		tmpdb_make(&t);
		fill(&t, 5);
		CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
		CHECK_INT_EQ(raw_exec(t.path, edits[i]), SQLITE_OK);
		enum cd_err rc;
		CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), 4);
		CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
		tmpdb_remove(&t);
	}
}

static void test_detects_deleted_middle_row(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 5);
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	CHECK_INT_EQ(raw_exec(t.path, "DELETE FROM audit WHERE id = 3"), SQLITE_OK);
	enum cd_err rc;
	char reason[256];
	CHECK_INT_EQ(verify(t.path, &rc, reason, sizeof reason), 3);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	CHECK(strstr(reason, "missing") != NULL);
	tmpdb_remove(&t);
}

static void test_detects_deleted_first_row(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 2);
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	CHECK_INT_EQ(raw_exec(t.path, "DELETE FROM audit WHERE id = 1"), SQLITE_OK);
	enum cd_err rc;
	CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), 1);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	tmpdb_remove(&t);
}

static void test_detects_deleted_last_row(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 5); /* entries 1..last */
	const int64_t last = 5 + migration_entries();
	char sql[64];
	snprintf(sql, sizeof sql, "DELETE FROM audit WHERE id = %lld", (long long)last);
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	CHECK_INT_EQ(raw_exec(t.path, sql), SQLITE_OK);
	enum cd_err rc;
	char reason[256];
	CHECK_INT_EQ(verify(t.path, &rc, reason, sizeof reason), last);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	CHECK(strstr(reason, "end") != NULL);
	tmpdb_remove(&t);
}

static void test_detects_deleted_everything(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 2);
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	CHECK_INT_EQ(raw_exec(t.path, "DELETE FROM audit"), SQLITE_OK);
	enum cd_err rc;
	CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), 1);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	/* ...and with the head gone too: the head's absence is itself the finding. */
	CHECK_INT_EQ(raw_exec(t.path, "DELETE FROM audit_head"), SQLITE_OK);
	CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), 1);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	tmpdb_remove(&t);
}

static void test_detects_forged_append(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 2); /* entries 1..last */
	const int64_t last = 2 + migration_entries();
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	/* A row appended without the store: copy the last entry's link so only the head
	 * disagrees. */
	char sql[160];
	snprintf(sql, sizeof sql, "INSERT INTO audit SELECT %lld, at, actor, client, action, target, "
		 "before, after, hash, hash FROM audit WHERE id = %lld", (long long)last + 1,
		 (long long)last);
	CHECK_INT_EQ(raw_exec(t.path, sql), SQLITE_OK);
	enum cd_err rc;
	CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), last + 1);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	tmpdb_remove(&t);
}

/* A store that found its chain broken refuses nothing else: verify is a report, and the
 * next write still links to the head (documented behaviour). */
static void test_writes_after_tampering_keep_failing_verify(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fill(&t, 3);
	CHECK_INT_EQ(raw_exec(t.path, drop_triggers), SQLITE_OK);
	CHECK_INT_EQ(raw_exec(t.path, "UPDATE audit SET target = 'x' WHERE id = 2"), SQLITE_OK);
	fill(&t, 2);
	enum cd_err rc;
	CHECK_INT_EQ(verify(t.path, &rc, NULL, 0), 2);
	CHECK_INT_EQ(rc, CD_ERR_CORRUPT);
	tmpdb_remove(&t);
}

/* ---- concurrency ----------------------------------------------------------------------- */

#define THREADS 2
#define USERS_PER_THREAD 100

struct worker {
	struct store *st;
	int index;
	int failures;
};

static void *add_users(void *p)
{
	struct worker *w = p;
	char who[32];
	snprintf(who, sizeof who, "worker-%d", w->index);
	struct store_actor actor = {who, "127.0.0.1"};
	for (int i = 0; i < USERS_PER_THREAD; i++) {
		struct store_user u;
		memset(&u, 0, sizeof u);
		snprintf(u.username, sizeof u.username, "user-%d-%d", w->index, i);
		snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
		snprintf(u.role, sizeof u.role, "citizen");
		if (store_user_add(w->st, &actor, &u, NULL) != CD_OK)
			w->failures++;
		struct store_user got;
		if (store_user_get_by_name(w->st, u.username, &got) != CD_OK)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_writers_keep_chain(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *st = open_ok(&t);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){st, i, 0};
		CHECK_INT_EQ(pthread_create(&th[i], NULL, add_users, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT_EQ(w[i].failures, 0);
	}
	int64_t n = 0;
	CHECK_INT_EQ(store_audit_count(st, &n), CD_OK);
	CHECK_INT_EQ(n, migration_entries() + THREADS * USERS_PER_THREAD);
	struct store_user *page = NULL;
	size_t got = 0;
	int64_t total = 0;
	CHECK_INT_EQ(store_users_list(st, 0, 10, &page, &got, &total), CD_OK);
	CHECK_INT_EQ(total, THREADS * USERS_PER_THREAD);
	xfree(page);
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
	store_close(st);
	tmpdb_remove(&t);
}

/* Two stores on one file (the server and `citydesk user add` in another process behave the
 * same): writes interleave through SQLite's file lock and the chain stays whole. */
static void test_two_connections_keep_chain(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	struct store *a = open_ok(&t);
	struct store *b = open_ok(&t);
	for (int i = 0; i < 20; i++) {
		struct store *st = (i % 2) ? a : b;
		char key[16], val[16];
		snprintf(key, sizeof key, "k%d", i % 4);
		snprintf(val, sizeof val, "v%d", i);
		CHECK_INT_EQ(store_meta_set(st, &admin, key, val), CD_OK);
	}
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(b, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
	int64_t n = 0;
	CHECK_INT_EQ(store_audit_count(a, &n), CD_OK);
	CHECK_INT_EQ(n, 20 + migration_entries());
	store_close(a);
	store_close(b);
	tmpdb_remove(&t);
}

/* ---- kill -9 -------------------------------------------------------------------------- */

/* A child adds users as fast as it can and reports each acknowledged id down a pipe; the
 * parent kills it with SIGKILL mid-stream. Every acknowledged user must be there after
 * reopening, and the chain must verify (the interrupted transaction is simply absent). */
static void test_kill_9_loses_no_acknowledged_write(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	int fds[2];
	CHECK_INT_EQ(pipe(fds), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		struct store *st = NULL;
		if (store_open(t.path, &st) != CD_OK)
			_exit(3);
		for (int i = 0;; i++) {
			struct store_user u;
			memset(&u, 0, sizeof u);
			snprintf(u.username, sizeof u.username, "k%d", i);
			snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
			snprintf(u.role, sizeof u.role, "citizen");
			if (store_user_add(st, &admin, &u, NULL) != CD_OK)
				_exit(4);
			if (write(fds[1], &i, sizeof i) != (ssize_t)sizeof i)
				_exit(5);
		}
	}
	close(fds[1]);
	int acked = -1, v;
	while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v) {
		acked = v;
		if (acked == 40)
			kill(pid, SIGKILL);
	}
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(acked >= 40);

	struct store *st = open_ok(&t);
	struct store_user u;
	for (int i = 0; i <= acked; i++) {
		char name[32];
		snprintf(name, sizeof name, "k%d", i);
		CHECK_INT_EQ(store_user_get_by_name(st, name, &u), CD_OK);
	}
	int64_t total = 0, count = 0;
	struct store_user *page = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_users_list(st, 0, 1, &page, &n, &total), CD_OK);
	xfree(page);
	CHECK(total == acked + 1 || total == acked + 2); /* at most one committed, not yet acked */
	CHECK_INT_EQ(store_audit_count(st, &count), CD_OK);
	CHECK_INT_EQ(count, migration_entries() + total);
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
	store_close(st);
	tmpdb_remove(&t);
}

static const struct test_case tests[] = {
	{"hash encoding matches the documented one; list and append", test_encoding_matches_document},
	{"triggers refuse update, delete and out-of-chain insert", test_triggers_refuse_edits},
	{"detects a changed row", test_detects_changed_row},
	{"detects changed actor, time, before, hash", test_detects_changed_actor_or_time},
	{"detects a deleted middle row", test_detects_deleted_middle_row},
	{"detects a deleted first row", test_detects_deleted_first_row},
	{"detects a deleted last row", test_detects_deleted_last_row},
	{"detects an emptied table and a deleted head", test_detects_deleted_everything},
	{"detects a row appended behind the store", test_detects_forged_append},
	{"later writes do not hide earlier tampering", test_writes_after_tampering_keep_failing_verify},
	{"concurrent writers keep the chain whole", test_concurrent_writers_keep_chain},
	{"two connections on one file keep the chain whole", test_two_connections_keep_chain},
	{"kill -9 mid-write loses no acknowledged write", test_kill_9_loses_no_acknowledged_write},
};

TEST_MAIN(tests)
