/* The audit trail (留痕) of the SQLite store: appending hash-chained entries inside the
 * writer's transaction, walking the chain to verify it, and listing it. The encoding that
 * is hashed is described in docs/internals/store.md and must never change for old rows. */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"
#include "util/log.h"

/* The fields an entry's hash covers, as stored. Lengths are explicit so a NUL byte smuggled
 * into a tampered row still changes the hash. */
struct audit_fields {
	int64_t id;
	const char *text[8]; /* at, actor, client, action, target, before, after, prev_hash */
	size_t len[8];
	int present[8]; /* 0 = SQL NULL (only before/after may be) */
};

enum { F_AT, F_ACTOR, F_CLIENT, F_ACTION, F_TARGET, F_BEFORE, F_AFTER, F_PREV, F_COUNT };

/* SHA-256 over "citydesk-audit-v1\n", then "I<id>;", then per field either
 * "S<byte length>:<bytes>" or "N;" for NULL. Length prefixes make the encoding unambiguous:
 * no two different field tuples share an input. */
static void sha_update(EVP_MD_CTX *h, const void *p, size_t n, int *ok)
{
	*ok = *ok && EVP_DigestUpdate(h, p, n) == 1;
}

/* OpenSSL's SHA-256 rather than libsodium's: the same digest, and it uses the CPU's SHA
 * instructions (an intake batch's entry lists ~1,000 cases, ~150 KB to hash). False, with out
 * "", when the digest could not be made (OpenSSL out of memory). */
static bool audit_hash(const struct audit_fields *f, char out[STORE_HASH_HEX])
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	char head[32];
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
	static const char tag[] = "citydesk-audit-v1\n";
	sha_update(h, tag, sizeof tag - 1, &ok);
	int n = snprintf(head, sizeof head, "I%lld;", (long long)f->id);
	sha_update(h, head, (size_t)n, &ok);
	for (int i = 0; i < F_COUNT; i++) {
		if (!f->present[i]) {
			sha_update(h, "N;", 2, &ok);
			continue;
		}
		n = snprintf(head, sizeof head, "S%zu:", f->len[i]);
		sha_update(h, head, (size_t)n, &ok);
		sha_update(h, f->text[i], f->len[i], &ok);
	}
	ok = ok && EVP_DigestFinal_ex(h, digest, &dlen) == 1 && dlen == sizeof digest;
	EVP_MD_CTX_free(h);
	if (ok)
		sodium_bin2hex(out, STORE_HASH_HEX, digest, sizeof digest);
	else
		out[0] = '\0';
	return ok;
}

static void field_set(struct audit_fields *f, int i, const char *s)
{
	f->present[i] = s != NULL;
	f->text[i] = s ? s : "";
	f->len[i] = s ? strlen(s) : 0;
}

/* "2026-11-27T15:04:05+08:00": the district's zone, Asia/Shanghai, has had no DST since 1991. */
static void format_now(char out[80])
{
	time_t t = time(NULL) + 8 * 3600;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

enum cd_err store__audit_add(struct store *st, const struct store_actor *actor, const char *action,
			     const char *target, const char *before, const char *after)
{
	sqlite3_stmt *s = store__stmt(st, STORE__AUDIT_HEAD);
	if (!s)
		return CD_ERR_STORE;
	int src = sqlite3_step(s);
	if (src != SQLITE_ROW) {
		store__done(s);
		log_msg(LOG_ERROR, "store: audit head missing", NULL);
		return src == SQLITE_DONE ? CD_ERR_CORRUPT : store__err(st, src, "audit head");
	}
	struct audit_fields f;
	char prev[STORE_HASH_HEX], at[80], hash[STORE_HASH_HEX];
	f.id = sqlite3_column_int64(s, 0) + 1;
	enum cd_err rc = store__col_copy(s, 1, prev, sizeof prev);
	store__done(s);
	if (rc)
		return rc;
	format_now(at);
	field_set(&f, F_AT, at);
	field_set(&f, F_ACTOR, actor && actor->name && *actor->name ? actor->name : "system");
	field_set(&f, F_CLIENT, actor && actor->client ? actor->client : "");
	field_set(&f, F_ACTION, action);
	field_set(&f, F_TARGET, target);
	field_set(&f, F_BEFORE, before);
	field_set(&f, F_AFTER, after);
	field_set(&f, F_PREV, prev);
	if (!audit_hash(&f, hash))
		return CD_ERR_NOMEM; /* no entry without its hash: the write fails with it */

	s = store__stmt(st, STORE__AUDIT_INSERT);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, f.id);
	for (int i = 0; i < F_COUNT; i++) {
		if (f.present[i])
			sqlite3_bind_text(s, i + 2, f.text[i], (int)f.len[i], SQLITE_STATIC);
		else
			sqlite3_bind_null(s, i + 2);
	}
	sqlite3_bind_text(s, 10, hash, -1, SQLITE_STATIC);
	rc = store__exec(st, s, "audit insert");
	if (rc)
		return rc;
	s = store__stmt(st, STORE__AUDIT_HEAD_SET);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, f.id);
	sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	return store__exec(st, s, "audit head");
}

enum cd_err store_audit_append(struct store *st, const struct store_actor *actor,
			       const char *action, const char *target, const char *before_json,
			       const char *after_json)
{
	if (!action || !*action || !target)
		return CD_ERR_INVALID;
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, store__audit_add(st, actor, action, target, before_json, after_json));
	store__unlock(st);
	return rc;
}

/* Fills f from a row of STORE__AUDIT_COLS. */
static void fields_from_row(sqlite3_stmt *s, struct audit_fields *f)
{
	f->id = sqlite3_column_int64(s, 0);
	for (int i = 0; i < F_COUNT; i++) {
		const unsigned char *t = sqlite3_column_text(s, i + 1);
		f->present[i] = t != NULL;
		f->text[i] = t ? (const char *)t : "";
		f->len[i] = t ? (size_t)sqlite3_column_bytes(s, i + 1) : 0;
	}
}

/* Records the first bad id and the reason; returns CD_ERR_CORRUPT. */
static enum cd_err bad(int64_t *first_bad, int64_t id, char *reason, size_t cap, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));
static enum cd_err bad(int64_t *first_bad, int64_t id, char *reason, size_t cap, const char *fmt,
		       ...)
{
	*first_bad = id;
	if (reason && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(reason, cap, fmt, ap);
		va_end(ap);
	}
	return CD_ERR_CORRUPT;
}

/* Walks the chain in id order; stops at the first problem. Store locked. */
static enum cd_err verify_locked(struct store *st, int64_t *first_bad, char *reason, size_t cap)
{
	sqlite3_stmt *s = store__stmt(st, STORE__AUDIT_WALK);
	if (!s)
		return CD_ERR_STORE;
	char prev[STORE_HASH_HEX] = STORE__ZERO_HASH, hash[STORE_HASH_HEX];
	int64_t expect = 1;
	enum cd_err rc = CD_OK;
	int src;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		struct audit_fields f;
		fields_from_row(s, &f);
		const unsigned char *stored = sqlite3_column_text(s, 9);
		if (f.id != expect) {
			rc = bad(first_bad, expect, reason, cap,
				 "entry %lld is missing (the next entry present is %lld)",
				 (long long)expect, (long long)f.id);
			break;
		}
		if (!f.present[F_PREV] || f.len[F_PREV] != 64 ||
		    memcmp(f.text[F_PREV], prev, 64) != 0) {
			rc = bad(first_bad, f.id, reason, cap,
				 "prev_hash is not the hash of entry %lld "
				 "(this entry or the one before was altered)",
				 (long long)f.id - 1);
			break;
		}
		if (!audit_hash(&f, hash)) {
			rc = CD_ERR_NOMEM;
			break;
		}
		if (!stored || sqlite3_column_bytes(s, 9) != 64 || memcmp(stored, hash, 64) != 0) {
			rc = bad(first_bad, f.id, reason, cap,
				 "contents do not match the stored hash (altered after writing)");
			break;
		}
		memcpy(prev, hash, sizeof prev);
		expect++;
	}
	store__done(s);
	if (rc)
		return rc;
	if (src != SQLITE_DONE)
		return store__err(st, src, "audit walk");

	int64_t last = expect - 1;
	s = store__stmt(st, STORE__AUDIT_HEAD);
	if (!s)
		return CD_ERR_STORE;
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		int64_t head_id = sqlite3_column_int64(s, 0);
		const unsigned char *head_hash = sqlite3_column_text(s, 1);
		if (head_id > last)
			rc = bad(first_bad, last + 1, reason, cap,
				 "entries %lld..%lld are missing at the end (deleted)",
				 (long long)last + 1, (long long)head_id);
		else if (head_id < last)
			rc = bad(first_bad, head_id + 1, reason, cap,
				 "entry %lld was not written by the store (the head ends at %lld)",
				 (long long)head_id + 1, (long long)head_id);
		else if (!head_hash || sqlite3_column_bytes(s, 1) != 64 ||
			 memcmp(head_hash, prev, 64) != 0)
			rc = bad(first_bad, last, reason, cap,
				 "its hash differs from the head record");
	} else if (src == SQLITE_DONE) {
		rc = bad(first_bad, last + 1, reason, cap,
			 "the audit head record is missing (after entry %lld)", (long long)last);
	} else {
		rc = store__err(st, src, "audit head");
	}
	store__done(s);
	return rc;
}

enum cd_err store_audit_verify(struct store *st, int64_t *first_bad_id, char *reason,
			       size_t reason_cap)
{
	int64_t dummy;
	if (!first_bad_id)
		first_bad_id = &dummy;
	*first_bad_id = 0;
	if (reason && reason_cap)
		reason[0] = '\0';
	store__lock(st);
	/* One read transaction, so the walk sees one consistent snapshot even if another
	 * process appends meanwhile. */
	char *errmsg = NULL;
	enum cd_err rc = CD_OK;
	if (sqlite3_exec(st->db, "BEGIN DEFERRED", NULL, NULL, &errmsg) != SQLITE_OK) {
		sqlite3_free(errmsg);
		rc = CD_ERR_STORE;
	}
	if (!rc) {
		rc = verify_locked(st, first_bad_id, reason, reason_cap);
		if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	store__unlock(st);
	if (rc == CD_ERR_CORRUPT)
		log_msg(LOG_ERROR, "store: audit chain broken", "\"first_bad_id\":%lld",
			(long long)*first_bad_id);
	return rc;
}

enum cd_err store_audit_count(struct store *st, int64_t *out)
{
	store__lock(st);
	enum cd_err rc = store__count(st, STORE__AUDIT_COUNT, NULL, out);
	store__unlock(st);
	return rc;
}

void store_audit_list_free(struct store_audit_entry *entries, size_t n)
{
	if (!entries)
		return;
	for (size_t i = 0; i < n; i++) {
		xfree(entries[i].before);
		xfree(entries[i].after);
	}
	xfree(entries);
}

static enum cd_err entry_from_row(sqlite3_stmt *s, struct store_audit_entry *e)
{
	e->id = sqlite3_column_int64(s, 0);
	enum cd_err rc = store__col_copy(s, 1, e->at, sizeof e->at);
	if (!rc)
		rc = store__col_copy(s, 2, e->actor, sizeof e->actor);
	if (!rc)
		rc = store__col_copy(s, 3, e->client, sizeof e->client);
	if (!rc)
		rc = store__col_copy(s, 4, e->action, sizeof e->action);
	if (!rc)
		rc = store__col_copy(s, 5, e->target, sizeof e->target);
	if (!rc)
		rc = store__col_dup(s, 6, &e->before);
	if (!rc)
		rc = store__col_dup(s, 7, &e->after);
	if (!rc)
		rc = store__col_copy(s, 8, e->prev_hash, sizeof e->prev_hash);
	if (!rc)
		rc = store__col_copy(s, 9, e->hash, sizeof e->hash);
	return rc;
}

enum cd_err store_audit_list(struct store *st, int64_t offset, int64_t limit,
			     struct store_audit_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (offset < 0 || limit < 0)
		return CD_ERR_RANGE;
	if (limit > 500)
		limit = 500;
	struct store_audit_entry *v = xcalloc((size_t)limit + 1, sizeof *v);
	size_t count = 0;
	enum cd_err rc = CD_ERR_STORE;
	store__lock(st);
	sqlite3_stmt *s = store__stmt(st, STORE__AUDIT_PAGE);
	if (s) {
		sqlite3_bind_int64(s, 1, limit);
		sqlite3_bind_int64(s, 2, offset);
		int src = SQLITE_DONE;
		rc = CD_OK;
		while (!rc && count < (size_t)limit && (src = sqlite3_step(s)) == SQLITE_ROW)
			rc = entry_from_row(s, &v[count++]);
		if (!rc && count < (size_t)limit && src != SQLITE_DONE)
			rc = store__err(st, src, "audit list");
		store__done(s);
	}
	store__unlock(st);
	if (rc) {
		store_audit_list_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return CD_OK;
}
