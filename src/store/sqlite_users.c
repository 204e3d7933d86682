/* The SQLite store's accounts: users and their sessions. Only the SHA-256 of a bearer token
 * is stored, and audit entries carry user rows without their password hash. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"

/* Fills u from the first nine columns of a STORE__USER_COLS row. */
static enum cd_err user_from_row(sqlite3_stmt *s, struct store_user *u)
{
	u->id = sqlite3_column_int64(s, 0);
	enum cd_err rc = store__col_copy(s, 1, u->username, sizeof u->username);
	if (!rc)
		rc = store__col_copy(s, 2, u->password_hash, sizeof u->password_hash);
	if (!rc)
		rc = store__col_copy(s, 3, u->role, sizeof u->role);
	if (!rc)
		rc = store__col_copy(s, 4, u->street_code, sizeof u->street_code);
	if (!rc)
		rc = store__col_copy(s, 5, u->unit_code, sizeof u->unit_code);
	if (!rc)
		rc = store__col_copy(s, 6, u->display_name, sizeof u->display_name);
	u->created_at = sqlite3_column_int64(s, 7);
	u->disabled = sqlite3_column_int(s, 8);
	return rc;
}

static void user_target(char *out, size_t cap, int64_t id)
{
	snprintf(out, cap, "users/%lld", (long long)id);
}

/* Audits `action` on users/<id> in the caller's transaction: `before` as given, after = the row
 * as it now is (its snapshot carries no password hash), or `after_text` in its place when not
 * NULL (the snapshot is still read, so a missing row fails the same way). */
static enum cd_err user_audit(struct store *st, const struct store_actor *actor, const char *action,
			      int64_t id, const char *before, const char *after_text)
{
	char *after = NULL, target[32];
	user_target(target, sizeof target, id);
	enum cd_err rc = store__snapshot_id(st, STORE__USER_SNAP, id, &after);
	if (!rc)
		rc = store__audit_add(st, actor, action, target, before, after_text ? after_text : after);
	xfree(after);
	return rc;
}

/* A user write: the arguments of user_add_tx and user_update_tx. */
struct user_op {
	const struct store_actor *actor;
	const struct store_user *u; /* add: the new row */
	int64_t id;		    /* add: the new id (out); update: the user changed */
	enum store__stmt update;    /* update: ?1 = id, ?2 = text or value */
	const char *text;	    /* update: bound as text when not NULL (the password hash) */
	int value;		    /* update: else bound as int */
	int revoke;		    /* update: also revoke the user's sessions */
	const char *action;	    /* update: the audit action */
};

static enum cd_err user_add_tx(struct store *st, void *ctx)
{
	struct user_op *op = ctx;
	const struct store_user *u = op->u;
	sqlite3_stmt *s = store__stmt(st, STORE__USER_INSERT);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, u->username);
	store__bind_text(s, 2, u->password_hash);
	store__bind_text(s, 3, u->role);
	store__bind_opt(s, 4, u->street_code);
	store__bind_opt(s, 5, u->unit_code);
	store__bind_text(s, 6, u->display_name);
	sqlite3_bind_int64(s, 7, u->created_at ? u->created_at : (int64_t)time(NULL));
	sqlite3_bind_int(s, 8, u->disabled ? 1 : 0);
	enum cd_err rc = store__exec(st, s, "user insert");
	if (rc)
		return rc;
	op->id = sqlite3_last_insert_rowid(st->db);
	return user_audit(st, op->actor, "user.add", op->id, NULL, NULL);
}

enum cd_err store_user_add(struct store *st, const struct store_actor *actor,
			   const struct store_user *u, int64_t *id_out)
{
	struct user_op op = {.actor = actor, .u = u};
	if (id_out)
		*id_out = 0;
	if (!STORE__TERMINATED(u->username) || !STORE__TERMINATED(u->password_hash) ||
	    !STORE__TERMINATED(u->role) || !STORE__TERMINATED(u->street_code) ||
	    !STORE__TERMINATED(u->unit_code) || !STORE__TERMINATED(u->display_name) ||
	    !u->username[0] || !u->password_hash[0])
		return CD_ERR_INVALID;
	enum cd_err rc = store__in_tx(st, user_add_tx, &op);
	if (!rc && id_out)
		*id_out = op.id;
	return rc;
}

/* Runs a user query whose ?1 is already bound; NOTFOUND when no row. Store locked. */
static enum cd_err user_fetch(struct store *st, sqlite3_stmt *s, struct store_user *out)
{
	enum cd_err rc = store__step_row(st, s, "user get");
	if (!rc)
		rc = user_from_row(s, out);
	store__done(s);
	return rc;
}

enum cd_err store_user_get_by_name(struct store *st, const char *username, struct store_user *out)
{
	memset(out, 0, sizeof *out);
	if (!username)
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__USER_BY_NAME);
	if (s) {
		store__bind_text(s, 1, username);
		rc = user_fetch(st, s, out);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_user_get_by_id(struct store *st, int64_t id, struct store_user *out)
{
	memset(out, 0, sizeof *out);
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__USER_BY_ID);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = user_fetch(st, s, out);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_users_list(struct store *st, int64_t offset, int64_t limit,
			     struct store_user **out, size_t *n, int64_t *total)
{
	*out = NULL;
	*n = 0;
	*total = 0;
	if (offset < 0 || limit < 0)
		return CD_ERR_RANGE;
	if (limit > 500)
		limit = 500;
	struct store_user *v = xcalloc((size_t)limit + 1, sizeof *v);
	size_t count = 0;
	store__lock(st);
	enum cd_err rc = store__count(st, STORE__USER_COUNT, NULL, total);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__USER_PAGE);
	if (!rc && !s)
		rc = CD_ERR_STORE;
	if (!rc) {
		sqlite3_bind_int64(s, 1, limit);
		sqlite3_bind_int64(s, 2, offset);
		int src = SQLITE_DONE;
		while (!rc && count < (size_t)limit && (src = sqlite3_step(s)) == SQLITE_ROW) {
			rc = user_from_row(s, &v[count]);
			v[count].password_hash[0] = '\0';
			count++;
		}
		if (!rc && count < (size_t)limit && src != SQLITE_DONE)
			rc = store__err(st, src, "user list");
		store__done(s);
	}
	store__unlock(st);
	if (rc) {
		xfree(v);
		return rc;
	}
	*out = v;
	*n = count;
	return CD_OK;
}

/* Revokes every live session of user `id` at the current time. */
static enum cd_err revoke_user_sessions(struct store *st, int64_t id)
{
	sqlite3_stmt *s = store__stmt(st, STORE__SESSION_REVOKE_USER);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
	return store__exec(st, s, "session revoke user");
}

/* Applies op->update to user op->id, revokes its sessions when asked, and audits before/after. */
static enum cd_err user_update_tx(struct store *st, void *ctx)
{
	const struct user_op *op = ctx;
	char *before = NULL;
	enum cd_err rc = store__snapshot_id(st, STORE__USER_SNAP, op->id, &before);
	if (!rc && !before)
		rc = CD_ERR_NOTFOUND;
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, op->update);
	if (!rc && !s)
		rc = CD_ERR_STORE;
	if (!rc) {
		sqlite3_bind_int64(s, 1, op->id);
		if (op->text)
			store__bind_text(s, 2, op->text);
		else
			sqlite3_bind_int(s, 2, op->value);
		rc = store__exec(st, s, op->action);
	}
	if (!rc && op->revoke)
		rc = revoke_user_sessions(st, op->id);
	/* The hash itself never enters the audit trail; record that it changed. */
	if (!rc)
		rc = user_audit(st, op->actor, op->action, op->id, before,
				op->text ? "{\"password\":\"changed\",\"sessions\":\"revoked\"}" : NULL);
	xfree(before);
	return rc;
}

/* store__in_tx for the writes that can end a session's validity (revocation, disable, password
 * change): moves auth_gen after the commit (or rollback), see store_auth_generation. */
static enum cd_err auth_tx(struct store *st, store__tx_fn fn, void *ctx)
{
	enum cd_err rc = store__in_tx(st, fn, ctx);
	atomic_fetch_add(&st->auth_gen, 1);
	return rc;
}

enum cd_err store_user_set_password(struct store *st, const struct store_actor *actor,
				    int64_t user_id, const char *password_hash)
{
	if (!password_hash || !*password_hash || strlen(password_hash) >= STORE_PWHASH_MAX)
		return CD_ERR_INVALID;
	struct user_op op = {.actor = actor, .id = user_id, .update = STORE__USER_SET_PASSWORD,
			     .text = password_hash, .revoke = 1, .action = "user.set_password"};
	return auth_tx(st, user_update_tx, &op);
}

enum cd_err store_user_set_disabled(struct store *st, const struct store_actor *actor,
				    int64_t user_id, int disabled)
{
	struct user_op op = {.actor = actor, .id = user_id, .update = STORE__USER_SET_DISABLED,
			     .value = disabled ? 1 : 0, .revoke = disabled, .action = "user.set_disabled"};
	return auth_tx(st, user_update_tx, &op);
}

/* ---- sessions ---------------------------------------------------------------------- */

/* The first 4 bytes of a token hash in hex: enough to tell sessions apart in the audit
 * trail, far too little to help anyone find or forge one. */
static void token_tag(const uint8_t hash[STORE_TOKEN_HASH_LEN], char out[9])
{
	sodium_bin2hex(out, 9, hash, 4);
}

/* A session write: the arguments of session_add_tx, session_revoke_tx and session_purge_tx. */
struct session_op {
	const struct store_actor *actor;
	const uint8_t *hash;		 /* add, revoke: STORE_TOKEN_HASH_LEN bytes */
	int64_t user_id;		 /* add */
	int64_t created_at, expires_at; /* add */
	int64_t at;			 /* revoke: now; purge: the expiry bound */
	int64_t *removed;		 /* purge: sessions deleted (out) */
};

static enum cd_err session_add_tx(struct store *st, void *ctx)
{
	const struct session_op *op = ctx;
	const uint8_t *hash = op->hash;
	int64_t user_id = op->user_id, created_at = op->created_at, expires_at = op->expires_at;
	sqlite3_stmt *s = store__stmt(st, STORE__SESSION_INSERT);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, user_id);
	sqlite3_bind_int64(s, 3, created_at);
	sqlite3_bind_int64(s, 4, expires_at);
	enum cd_err rc = store__exec(st, s, "session insert");
	if (rc)
		return rc;
	char tag[9], target[48], after[160];
	token_tag(hash, tag);
	snprintf(target, sizeof target, "users/%lld/sessions", (long long)user_id);
	snprintf(after, sizeof after,
		 "{\"user_id\":%lld,\"token_tag\":\"%s\",\"created_at\":%lld,\"expires_at\":%lld}",
		 (long long)user_id, tag, (long long)created_at, (long long)expires_at);
	return store__audit_add(st, op->actor, "session.add", target, NULL, after);
}

enum cd_err store_session_add(struct store *st, const struct store_actor *actor,
			      const uint8_t token_hash[STORE_TOKEN_HASH_LEN], int64_t user_id,
			      int64_t created_at, int64_t expires_at)
{
	if (!token_hash || expires_at <= created_at)
		return CD_ERR_INVALID;
	struct session_op op = {.actor = actor, .hash = token_hash, .user_id = user_id,
				.created_at = created_at, .expires_at = expires_at};
	return store__in_tx(st, session_add_tx, &op);
}

enum cd_err store_session_lookup(struct store *st, const uint8_t token_hash[STORE_TOKEN_HASH_LEN],
				 int64_t now, struct store_user *out, int64_t *expires_at_out)
{
	memset(out, 0, sizeof *out);
	if (expires_at_out)
		*expires_at_out = 0;
	if (!token_hash)
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__SESSION_LOOKUP);
	if (s) {
		sqlite3_bind_blob(s, 1, token_hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now);
		rc = store__step_row(st, s, "session lookup");
		if (!rc) {
			rc = user_from_row(s, out);
			if (expires_at_out)
				*expires_at_out = sqlite3_column_int64(s, 9);
		}
		store__done(s);
	}
	store__unlock(st);
	return rc;
}

static enum cd_err session_revoke_tx(struct store *st, void *ctx)
{
	const struct session_op *op = ctx;
	const uint8_t *hash = op->hash;
	int64_t now = op->at;
	sqlite3_stmt *s = store__stmt(st, STORE__SESSION_LIVE_USER);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	int src = sqlite3_step(s);
	int64_t user_id = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	store__done(s);
	if (src == SQLITE_DONE)
		return CD_ERR_NOTFOUND;
	if (src != SQLITE_ROW)
		return store__err(st, src, "session find");
	s = store__stmt(st, STORE__SESSION_REVOKE);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	enum cd_err rc = store__exec(st, s, "session revoke");
	if (rc)
		return rc;
	char tag[9], target[48], after[96];
	token_tag(hash, tag);
	snprintf(target, sizeof target, "users/%lld/sessions", (long long)user_id);
	snprintf(after, sizeof after, "{\"token_tag\":\"%s\",\"revoked_at\":%lld}", tag,
		 (long long)now);
	return store__audit_add(st, op->actor, "session.revoke", target, NULL, after);
}

enum cd_err store_session_revoke(struct store *st, const struct store_actor *actor,
				 const uint8_t token_hash[STORE_TOKEN_HASH_LEN], int64_t now)
{
	if (!token_hash)
		return CD_ERR_INVALID;
	struct session_op op = {.actor = actor, .hash = token_hash, .at = now};
	return auth_tx(st, session_revoke_tx, &op);
}

static enum cd_err session_purge_tx(struct store *st, void *ctx)
{
	const struct session_op *op = ctx;
	int64_t before = op->at, *removed = op->removed;
	sqlite3_stmt *s = store__stmt(st, STORE__SESSION_PURGE);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, before);
	enum cd_err rc = store__exec(st, s, "session purge");
	if (rc)
		return rc;
	*removed = sqlite3_changes64(st->db);
	char after[96];
	snprintf(after, sizeof after, "{\"before\":%lld,\"removed\":%lld}", (long long)before,
		 (long long)*removed);
	return store__audit_add(st, op->actor, "session.purge", "sessions", NULL, after);
}

enum cd_err store_session_purge(struct store *st, const struct store_actor *actor,
				int64_t before, int64_t *removed)
{
	int64_t dummy;
	if (!removed)
		removed = &dummy;
	*removed = 0;
	struct session_op op = {.actor = actor, .at = before, .removed = removed};
	return store__in_tx(st, session_purge_tx, &op);
}

uint64_t store_auth_generation(struct store *st)
{
	return atomic_load(&st->auth_gen);
}
