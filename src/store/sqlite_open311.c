/* Open311's tables (store_open311.h): API keys, and the event history of requests filed through
 * Open311. These calls are rare (a key is looked up per Open311 POST, a few per second at most),
 * so their statements are prepared per call instead of joining the cached table. */
#include "store/store_open311.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"

/* Prepares sql on the store's connection (store locked); NULL with the error logged. */
static sqlite3_stmt *prepare(struct store *st, const char *sql)
{
	return store__prepare(st, sql, "open311 prepare");
}

static bool hash_well_formed(const char *h)
{
	if (strlen(h) != STORE_APIKEY_HASH_LEN)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* The key's row as JSON (without its hash), for the audit trail; a copy to xfree. */
static enum cd_err key_snapshot(struct store *st, const char *name, char **out)
{
	return store__snapshot_sql(
	    st,
	    "SELECT json_object('id', id, 'name', name, 'per_minute', per_minute, "
	    "'created_at', created_at, 'revoked_at', revoked_at) FROM api_keys WHERE name = ?1",
	    name, 0, out);
}

/* An API key write: the arguments of key_add_tx and key_revoke_tx. */
struct key_op {
	const struct store_actor *actor;
	const char *name;
	const char *key_hash; /* add only */
	int per_minute;	      /* add only */
	int64_t id;	      /* add: the new key's id */
};

static enum cd_err key_add_tx(struct store *st, void *ctx)
{
	struct key_op *op = ctx;
	const char *name = op->name;
	sqlite3_stmt *s = prepare(st, "INSERT INTO api_keys (name, key_hash, per_minute, created_at) "
				      "VALUES (?1, ?2, ?3, ?4)");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, name);
	store__bind_text(s, 2, op->key_hash);
	sqlite3_bind_int(s, 3, op->per_minute);
	sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	enum cd_err rc = store__exec(st, s, "api key insert");
	sqlite3_finalize(s);
	if (rc)
		return rc;
	op->id = sqlite3_last_insert_rowid(st->db);
	char *after = NULL, target[96];
	snprintf(target, sizeof target, "api_keys/%s", name);
	rc = key_snapshot(st, name, &after);
	if (!rc)
		rc = store__audit_add(st, op->actor, "apikey.add", target, NULL, after);
	xfree(after);
	return rc;
}

enum cd_err store_api_key_add(struct store *st, const struct store_actor *actor, const char *name,
			      const char *key_hash, int per_minute, int64_t *id)
{
	struct key_op op = {actor, name, key_hash, per_minute, 0};
	if (id)
		*id = 0;
	size_t n = strlen(name);
	if (n == 0 || n >= STORE_APIKEY_NAME_MAX || !hash_well_formed(key_hash) || per_minute < 1 ||
	    per_minute > 100000)
		return CD_ERR_INVALID;
	enum cd_err rc = store__in_tx(st, key_add_tx, &op);
	if (!rc && id)
		*id = op.id;
	return rc;
}

static enum cd_err key_revoke_tx(struct store *st, void *ctx)
{
	const struct key_op *op = ctx;
	const char *name = op->name;
	char *before = NULL, *after = NULL, target[96];
	enum cd_err rc = key_snapshot(st, name, &before);
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL");
	if (!s) {
		xfree(before);
		return CD_ERR_STORE;
	}
	store__bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
	rc = store__exec(st, s, "api key revoke");
	sqlite3_finalize(s);
	if (!rc && sqlite3_changes(st->db) == 0)
		rc = CD_ERR_NOTFOUND;
	if (!rc)
		rc = key_snapshot(st, name, &after);
	snprintf(target, sizeof target, "api_keys/%s", name);
	if (!rc)
		rc = store__audit_add(st, op->actor, "apikey.revoke", target, before, after);
	xfree(before);
	xfree(after);
	return rc;
}

enum cd_err store_api_key_revoke(struct store *st, const struct store_actor *actor, const char *name)
{
	struct key_op op = {actor, name, NULL, 0, 0};
	return store__in_tx(st, key_revoke_tx, &op);
}

#define KEY_COLS "id, name, per_minute, created_at, coalesce(revoked_at, 0)"

static enum cd_err key_from_row(sqlite3_stmt *s, struct store_api_key *k)
{
	memset(k, 0, sizeof *k);
	k->id = sqlite3_column_int64(s, 0);
	k->per_minute = sqlite3_column_int(s, 2);
	k->created_at = sqlite3_column_int64(s, 3);
	k->revoked_at = sqlite3_column_int64(s, 4);
	return store__col_copy(s, 1, k->name, sizeof k->name);
}

enum cd_err store_api_key_find(struct store *st, const char *key_hash, struct store_api_key *out)
{
	if (!hash_well_formed(key_hash))
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = prepare(st, "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL");
	if (s) {
		store__bind_text(s, 1, key_hash);
		rc = store__step_row(st, s, "api key find");
		if (!rc)
			rc = key_from_row(s, out);
		sqlite3_finalize(s);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_api_keys_list(struct store *st, store_api_key_fn fn, void *ctx)
{
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = prepare(st, "SELECT " KEY_COLS " FROM api_keys ORDER BY name");
	if (s) {
		rc = CD_OK;
		int src = SQLITE_DONE;
		while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
			struct store_api_key k;
			rc = key_from_row(s, &k);
			if (!rc)
				rc = fn(ctx, &k);
		}
		if (!rc && src != SQLITE_DONE)
			rc = store__err(st, src, "api keys list");
		sqlite3_finalize(s);
	}
	store__unlock(st);
	return rc;
}

/* The event columns of store_channel_events' query and the members they fill. */
#define EVENT_TEXT(col, member) STORE__TEXT_COL(struct store_case_event, col, member)
static const struct store__text_col event_text[] = {
    EVENT_TEXT(4, actor),     EVENT_TEXT(5, role),    EVENT_TEXT(6, action), EVENT_TEXT(7, from_status),
    EVENT_TEXT(8, to_status), EVENT_TEXT(9, comment), EVENT_TEXT(10, data),
};

enum cd_err store_channel_events(struct store *st, const char *channel, int64_t from, int64_t to, size_t max,
				 store_channel_event_fn fn, void *ctx)
{
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	/* The channel's cases by their index, then each case's events by theirs: Open311's cases
	 * are a small part of all, so this reads little even in a large store. */
	sqlite3_stmt *s = prepare(st, "SELECT c.ref, e.id, e.case_id, e.at, e.actor, e.role, e.action, "
				      "coalesce(e.from_status, ''), coalesce(e.to_status, ''), e.comment, "
				      "coalesce(e.data, '') FROM cases c JOIN case_events e ON e.case_id = c.id "
				      "WHERE c.channel = ?1 AND e.at >= ?2 AND e.at < ?3 ORDER BY e.at, e.id LIMIT ?4");
	if (s) {
		store__bind_text(s, 1, channel);
		sqlite3_bind_int64(s, 2, from);
		sqlite3_bind_int64(s, 3, to);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)max);
		rc = CD_OK;
		int src = SQLITE_DONE;
		while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
			char ref[STORE_CASE_REF_MAX];
			struct store_case_event *ev = xcalloc(1, sizeof *ev);
			ev->id = sqlite3_column_int64(s, 1);
			ev->case_id = sqlite3_column_int64(s, 2);
			ev->at = sqlite3_column_int64(s, 3);
			rc = store__col_copy(s, 0, ref, sizeof ref);
			if (!rc)
				rc = store__text_cols(s, ev, event_text,
						      sizeof event_text / sizeof event_text[0]);
			if (!rc)
				rc = fn(ctx, ref, ev);
			xfree(ev);
		}
		if (!rc && src != SQLITE_DONE)
			rc = store__err(st, src, "channel events");
		sqlite3_finalize(s);
	}
	store__unlock(st);
	return rc;
}
