/* The SQLite store's IoT device registry (store_devices.h): audited registrations, updates and
 * new secrets, and the unaudited online/last-seen bookkeeping. Its statements are prepared per
 * call rather than cached in the store's table: registry writes are rare (provisioning), the
 * whole table is read once at start-up, and the bookkeeping runs every few seconds. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "store/store_devices.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define DEV_COLS                                                                                             \
	"id, type, name, site, owner, lat, lng, street_code, community_code, grid_code, address_hex, "       \
	"tags, active, secret_hash, mqtt_hash, online, last_seen_ms, created_at, updated_at"

/* The audit snapshot of a device: every registry field, never the hashes. */
#define DEV_SNAP                                                                                             \
	"SELECT json_object('id', id, 'type', type, 'name', name, 'site', site, 'owner', owner, "            \
	"'lat', lat, 'lng', lng, 'street_code', street_code, 'community_code', community_code, "             \
	"'grid_code', grid_code, 'address_hex', address_hex, 'tags', tags, 'active', active) "               \
	"FROM devices WHERE id = ?1"

/* Prepares sql on the store's connection (store locked); NULL with the error logged. */
static sqlite3_stmt *prep(struct store *st, const char *sql)
{
	return store__prepare(st, sql, "devices prepare");
}

static bool dev_terminated(const struct store_device *d)
{
	return STORE__TERMINATED(d->id) && STORE__TERMINATED(d->type) && STORE__TERMINATED(d->name) &&
	       STORE__TERMINATED(d->site) && STORE__TERMINATED(d->owner) &&
	       STORE__TERMINATED(d->street_code) && STORE__TERMINATED(d->community_code) &&
	       STORE__TERMINATED(d->grid_code) && STORE__TERMINATED(d->address_hex) &&
	       STORE__TERMINATED(d->tags) && STORE__TERMINATED(d->secret_hash) &&
	       STORE__TERMINATED(d->mqtt_hash);
}

/* The text columns of DEV_COLS and the members they fill. */
#define DEV_TEXT(col, member) STORE__TEXT_COL(struct store_device, col, member)
static const struct store__text_col dev_text[] = {
    DEV_TEXT(0, id),	       DEV_TEXT(1, type),	 DEV_TEXT(2, name),	      DEV_TEXT(3, site),
    DEV_TEXT(4, owner),	       DEV_TEXT(7, street_code), DEV_TEXT(8, community_code), DEV_TEXT(9, grid_code),
    DEV_TEXT(10, address_hex), DEV_TEXT(11, tags),	 DEV_TEXT(13, secret_hash),   DEV_TEXT(14, mqtt_hash),
};

/* Fills d from a DEV_COLS row. */
static enum cd_err dev_from_row(sqlite3_stmt *s, struct store_device *d)
{
	memset(d, 0, sizeof *d);
	enum cd_err rc = store__text_cols(s, d, dev_text, sizeof dev_text / sizeof dev_text[0]);
	d->has_point = sqlite3_column_type(s, 5) != SQLITE_NULL && sqlite3_column_type(s, 6) != SQLITE_NULL;
	if (d->has_point) {
		d->lat = sqlite3_column_double(s, 5);
		d->lng = sqlite3_column_double(s, 6);
	}
	d->active = sqlite3_column_int(s, 12);
	d->online = sqlite3_column_int(s, 15);
	d->last_seen_ms = sqlite3_column_int64(s, 16);
	d->created_at = sqlite3_column_int64(s, 17);
	d->updated_at = sqlite3_column_int64(s, 18);
	return rc;
}

static void dev_target(char *out, size_t cap, const char *id)
{
	snprintf(out, cap, "devices/%s", id);
}

/* Binds the registry fields ?2..?13 shared by insert and update (?1 is the id). */
static void bind_registry(sqlite3_stmt *s, const struct store_device *d)
{
	store__bind_text(s, 2, d->type);
	store__bind_text(s, 3, d->name);
	store__bind_text(s, 4, d->site);
	store__bind_text(s, 5, d->owner);
	if (d->has_point) {
		sqlite3_bind_double(s, 6, d->lat);
		sqlite3_bind_double(s, 7, d->lng);
	}
	store__bind_text(s, 8, d->street_code);
	store__bind_text(s, 9, d->community_code);
	store__bind_text(s, 10, d->grid_code);
	store__bind_opt(s, 11, d->address_hex); /* "" -> NULL: UNIQUE allows many NULLs */
	store__bind_text(s, 12, d->tags);
	sqlite3_bind_int(s, 13, d->active ? 1 : 0);
}

/* A batch registration: add_tx's arguments. */
struct add_op {
	const struct store_actor *actor;
	struct store_device *v;
	size_t n;
	size_t bad; /* the device the batch stopped at (n when none) */
};

static enum cd_err add_tx(struct store *st, void *ctx)
{
	struct add_op *op = ctx;
	struct store_device *v = op->v;
	size_t n = op->n;
	sqlite3_stmt *s =
	    prep(st, "INSERT INTO devices (" DEV_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
		     "?9, ?10, ?11, ?12, ?13, ?14, ?15, 0, 0, ?16, ?17)");
	if (!s)
		return CD_ERR_STORE;
	enum cd_err rc = CD_OK;
	int64_t now = clock_wall_ms();
	for (size_t i = 0; i < n && !rc; i++) {
		struct store_device *d = &v[i];
		op->bad = i;
		if (!d->created_at)
			d->created_at = now / 1000;
		d->updated_at = now;
		d->online = 0;
		d->last_seen_ms = 0;
		store__bind_text(s, 1, d->id);
		bind_registry(s, d);
		store__bind_text(s, 14, d->secret_hash);
		store__bind_text(s, 15, d->mqtt_hash);
		sqlite3_bind_int64(s, 16, d->created_at);
		sqlite3_bind_int64(s, 17, d->updated_at);
		rc = store__exec(st, s, "device insert"); /* resets s for the next device */
		if (rc)
			break;
		char *after = NULL, target[96];
		dev_target(target, sizeof target, d->id);
		rc = store__snapshot_sql(st, DEV_SNAP, d->id, 0, &after);
		if (!rc)
			rc = store__audit_add(st, op->actor, "device.add", target, NULL, after);
		xfree(after);
	}
	if (!rc)
		op->bad = n;
	sqlite3_finalize(s);
	return rc;
}

enum cd_err store_devices_add(struct store *st, const struct store_actor *actor, struct store_device *v,
			      size_t n, size_t *bad)
{
	struct add_op op = {actor, v, n, n};
	if (bad)
		*bad = n;
	if (n > STORE_DEVICE_BATCH_MAX)
		return CD_ERR_RANGE;
	for (size_t i = 0; i < n; i++) {
		if (!dev_terminated(&v[i]) || !v[i].id[0] || !v[i].secret_hash[0] || !v[i].mqtt_hash[0]) {
			if (bad)
				*bad = i;
			return CD_ERR_INVALID;
		}
	}
	if (n == 0)
		return CD_OK;
	enum cd_err rc = store__in_tx(st, add_tx, &op);
	if (rc && bad)
		*bad = op.bad;
	return rc;
}

/* A registry rewrite: update_tx's arguments. */
struct update_op {
	const struct store_actor *actor;
	struct store_device *d;
	const char *action;	 /* the audit action */
	const char *secret_hash; /* with mqtt_hash, new credentials; NULL keeps them */
	const char *mqtt_hash;
};

/* A row's new updated_at: now, but always past the one it had. The registry in memory
 * (app/devices.c) keeps a row only when its updated_at is newer than the copy it holds, so two
 * changes to one device within the same millisecond (a decommission right after an update)
 * must not share a stamp, or the second never reaches it. */
#define DEV_NEXT_UPDATED(now) "max(" now ", updated_at + 1)"

/* Steps an UPDATE ... RETURNING updated_at: *updated_at gets the stored stamp; CD_ERR_NOTFOUND
 * when no row matched. */
static enum cd_err step_returning(struct store *st, sqlite3_stmt *s, int64_t *updated_at, const char *what)
{
	int src = sqlite3_step(s);
	if (src == SQLITE_DONE)
		return CD_ERR_NOTFOUND;
	if (src != SQLITE_ROW)
		return store__err(st, src, what);
	*updated_at = sqlite3_column_int64(s, 0);
	src = sqlite3_step(s);
	return src == SQLITE_DONE ? CD_OK : store__err(st, src, what);
}

/* Rewrites the registry fields of d (and, with secret_hash set, the credentials: a
 * decommission withdraws them), audited as `action` with before/after (never the hashes). */
static enum cd_err update_tx(struct store *st, void *ctx)
{
	const struct update_op *op = ctx;
	struct store_device *d = op->d;
	const char *secret_hash = op->secret_hash;
	char *before = NULL, *after = NULL, target[96];
	enum cd_err rc = store__snapshot_sql(st, DEV_SNAP, d->id, 0, &before);
	if (!rc && !before)
		rc = CD_ERR_NOTFOUND;
	sqlite3_stmt *s = NULL;
	if (!rc) {
		s = prep(st, "UPDATE devices SET type = ?2, name = ?3, site = ?4, owner = ?5, lat = ?6, "
			     "lng = ?7, street_code = ?8, community_code = ?9, grid_code = ?10, "
			     "address_hex = ?11, tags = ?12, active = ?13, "
			     "updated_at = " DEV_NEXT_UPDATED("?14") " WHERE id = ?1 RETURNING updated_at");
		if (!s)
			rc = CD_ERR_STORE;
	}
	if (!rc) {
		store__bind_text(s, 1, d->id);
		bind_registry(s, d);
		sqlite3_bind_int64(s, 14, clock_wall_ms());
		rc = step_returning(st, s, &d->updated_at, "device update");
	}
	sqlite3_finalize(s);
	if (!rc && secret_hash) {
		s = prep(st, "UPDATE devices SET secret_hash = ?2, mqtt_hash = ?3 WHERE id = ?1");
		if (!s) {
			rc = CD_ERR_STORE;
		} else {
			store__bind_text(s, 1, d->id);
			store__bind_text(s, 2, secret_hash);
			store__bind_text(s, 3, op->mqtt_hash);
			int src = sqlite3_step(s);
			if (src != SQLITE_DONE)
				rc = store__err(st, src, "device credentials");
			sqlite3_finalize(s);
		}
	}
	if (!rc)
		rc = store__snapshot_sql(st, DEV_SNAP, d->id, 0, &after);
	if (!rc) {
		dev_target(target, sizeof target, d->id);
		rc = store__audit_add(st, op->actor, op->action, target, before, after);
	}
	xfree(before);
	xfree(after);
	return rc;
}

enum cd_err store_device_update(struct store *st, const struct store_actor *actor, struct store_device *d)
{
	struct update_op op = {actor, d, "device.update", NULL, NULL};
	if (!dev_terminated(d) || !d->id[0])
		return CD_ERR_INVALID;
	return store__in_tx(st, update_tx, &op);
}

enum cd_err store_device_decommission(struct store *st, const struct store_actor *actor,
				      struct store_device *d, const char *secret_hash, const char *mqtt_hash)
{
	if (!dev_terminated(d) || !d->id[0] || d->active || !secret_hash || !*secret_hash || !mqtt_hash ||
	    !*mqtt_hash)
		return CD_ERR_INVALID;
	struct update_op op = {actor, d, "device.decommission", secret_hash, mqtt_hash};
	return store__in_tx(st, update_tx, &op);
}

/* New credentials: secret_tx's arguments. */
struct secret_op {
	const struct store_actor *actor;
	const char *id, *secret_hash, *mqtt_hash;
	int64_t updated_at; /* unix ms */
};

static enum cd_err secret_tx(struct store *st, void *ctx)
{
	struct secret_op *op = ctx;
	const char *id = op->id;
	sqlite3_stmt *s = prep(st, "UPDATE devices SET secret_hash = ?2, mqtt_hash = ?3, "
				   "updated_at = " DEV_NEXT_UPDATED("?4") " WHERE id = ?1 RETURNING updated_at");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, id);
	store__bind_text(s, 2, op->secret_hash);
	store__bind_text(s, 3, op->mqtt_hash);
	sqlite3_bind_int64(s, 4, clock_wall_ms());
	enum cd_err rc = step_returning(st, s, &op->updated_at, "device secret");
	sqlite3_finalize(s);
	if (!rc) {
		char target[96];
		dev_target(target, sizeof target, id);
		rc = store__audit_add(st, op->actor, "device.secret", target, NULL,
				      "{\"secret\":\"replaced\"}");
	}
	return rc;
}

enum cd_err store_device_set_secret(struct store *st, const struct store_actor *actor, const char *id,
				    const char *secret_hash, const char *mqtt_hash, int64_t *updated_at)
{
	if (!id || !*id || !secret_hash || !*secret_hash || !mqtt_hash || !*mqtt_hash)
		return CD_ERR_INVALID;
	struct secret_op op = {actor, id, secret_hash, mqtt_hash, 0};
	enum cd_err rc = store__in_tx(st, secret_tx, &op);
	if (!rc && updated_at)
		*updated_at = op.updated_at;
	return rc;
}

enum cd_err store_device_get(struct store *st, const char *id, struct store_device *out)
{
	memset(out, 0, sizeof *out);
	if (!id || !*id)
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = CD_OK;
	sqlite3_stmt *s = prep(st, "SELECT " DEV_COLS " FROM devices WHERE id = ?1");
	if (!s)
		rc = CD_ERR_STORE;
	if (!rc) {
		store__bind_text(s, 1, id);
		rc = store__step_row(st, s, "device get");
		if (!rc)
			rc = dev_from_row(s, out);
	}
	sqlite3_finalize(s);
	store__unlock(st);
	return rc;
}

enum cd_err store_devices_list(struct store *st, int64_t since_ms, store_device_fn fn, void *ctx)
{
	store__lock(st);
	enum cd_err rc = CD_OK;
	sqlite3_stmt *s = prep(st, "SELECT " DEV_COLS " FROM devices WHERE updated_at > ?1 ORDER BY id");
	if (!s)
		rc = CD_ERR_STORE;
	if (!rc) {
		sqlite3_bind_int64(s, 1, since_ms);
		int src;
		struct store_device d;
		while ((src = sqlite3_step(s)) == SQLITE_ROW) {
			rc = dev_from_row(s, &d);
			if (rc || fn(ctx, &d))
				break;
		}
		if (!rc && src != SQLITE_ROW && src != SQLITE_DONE)
			rc = store__err(st, src, "device list");
	}
	sqlite3_finalize(s);
	store__unlock(st);
	return rc;
}

/* The online states to save: seen_tx's arguments. */
struct seen_op {
	const struct store_device_seen *v;
	size_t n;
};

static enum cd_err seen_tx(struct store *st, void *ctx)
{
	const struct seen_op *op = ctx;
	const struct store_device_seen *v = op->v;
	size_t n = op->n;
	sqlite3_stmt *s = prep(st, "UPDATE devices SET online = ?2, last_seen_ms = max(last_seen_ms, ?3) "
				   "WHERE id = ?1");
	if (!s)
		return CD_ERR_STORE;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!STORE__TERMINATED(v[i].id))
			continue;
		store__bind_text(s, 1, v[i].id);
		sqlite3_bind_int(s, 2, v[i].online ? 1 : 0);
		sqlite3_bind_int64(s, 3, v[i].last_seen_ms);
		rc = store__exec(st, s, "device seen");
	}
	sqlite3_finalize(s);
	return rc;
}

enum cd_err store_devices_save_seen(struct store *st, const struct store_device_seen *v, size_t n)
{
	if (n == 0)
		return CD_OK;
	struct seen_op op = {v, n};
	return store__in_tx(st, seen_tx, &op);
}
