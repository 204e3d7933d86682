/* The SQLite store's outgoing webhooks: subscriptions (audited, secrets kept out of the audit
 * trail) and the durable queue of deliveries the sender in app/webhooks.c works through. See
 * docs/internals/webhooks.md for the states a delivery goes through. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "util/alloc.h"

enum cd_err store_webhook_conn_open(const char *path, struct store **out)
{
	return store__open_conn(path, out);
}

/* Fills w from a STORE__WEBHOOK_COLS row. */
static enum cd_err webhook_from_row(sqlite3_stmt *s, struct store_webhook *w)
{
	w->id = sqlite3_column_int64(s, 0);
	enum cd_err rc = store__col_copy(s, 1, w->name, sizeof w->name);
	if (!rc)
		rc = store__col_copy(s, 2, w->url, sizeof w->url);
	if (!rc)
		rc = store__col_copy(s, 3, w->secret, sizeof w->secret);
	if (!rc)
		rc = store__col_copy(s, 4, w->events, sizeof w->events);
	if (!rc)
		rc = store__col_copy(s, 5, w->street_code, sizeof w->street_code);
	if (!rc)
		rc = store__col_copy(s, 6, w->unit_code, sizeof w->unit_code);
	w->created_at = sqlite3_column_int64(s, 7);
	return rc;
}

/* Fills d from a STORE__WEBHOOK_DCOLS row; d->body is a copy the caller owns. */
static enum cd_err delivery_from_row(sqlite3_stmt *s, struct store_webhook_delivery *d)
{
	d->id = sqlite3_column_int64(s, 0);
	d->webhook_id = sqlite3_column_int64(s, 1);
	d->event_id = sqlite3_column_int64(s, 2);
	enum cd_err rc = store__col_copy(s, 3, d->type, sizeof d->type);
	if (!rc)
		rc = store__col_copy(s, 4, d->ref, sizeof d->ref);
	if (!rc)
		rc = store__col_dup(s, 5, &d->body);
	if (!rc)
		rc = store__col_copy(s, 6, d->status, sizeof d->status);
	d->attempts = sqlite3_column_int(s, 7);
	d->next_at_ms = sqlite3_column_int64(s, 8);
	d->created_at = sqlite3_column_int64(s, 9);
	d->last_at = sqlite3_column_int64(s, 10);
	d->last_status = sqlite3_column_int(s, 11);
	if (!rc)
		rc = store__col_copy(s, 12, d->last_error, sizeof d->last_error);
	if (!rc)
		rc = store__col_copy(s, 13, d->webhook_name, sizeof d->webhook_name);
	return rc;
}

static void webhook_target(char *out, size_t cap, int64_t id)
{
	snprintf(out, cap, "webhooks/%lld", (long long)id);
}

/* Audits `action` on `target` in the caller's transaction: `before` as given, after = row `id`
 * as the snapshot statement `snap` gives it now (a subscription's carries no secret). */
static enum cd_err hook_audit(struct store *st, const struct store_actor *actor, const char *action,
			      const char *target, enum store__stmt snap, int64_t id, const char *before)
{
	char *after = NULL;
	enum cd_err rc = store__snapshot_id(st, snap, id, &after);
	if (!rc)
		rc = store__audit_add(st, actor, action, target, before, after);
	xfree(after);
	return rc;
}

/* A webhook write: the arguments of the *_tx functions below. */
struct hook_op {
	const struct store_actor *actor;
	const struct store_webhook *w;	    /* add: the new subscription */
	const char *name;		    /* remove */
	int64_t id;			    /* add: the new id (out); retry: the delivery */
	int64_t now_ms;			    /* retry: the requeued delivery's next attempt */
	int64_t now;			    /* commit: unix s, a new delivery's default created_at */
	struct store_webhook_delivery *add; /* commit: new deliveries (their ids filled) */
	size_t nadd;
	const struct store_webhook_outcome *done; /* commit: outcomes to record */
	size_t ndone;
};

static enum cd_err webhook_add_tx(struct store *st, void *ctx)
{
	struct hook_op *op = ctx;
	const struct store_webhook *w = op->w;
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_INSERT);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, w->name);
	store__bind_text(s, 2, w->url);
	store__bind_text(s, 3, w->secret);
	store__bind_text(s, 4, w->events);
	store__bind_opt(s, 5, w->street_code);
	store__bind_opt(s, 6, w->unit_code);
	sqlite3_bind_int64(s, 7, w->created_at ? w->created_at : (int64_t)time(NULL));
	enum cd_err rc = store__exec(st, s, "webhook insert");
	if (rc)
		return rc;
	op->id = sqlite3_last_insert_rowid(st->db);
	char target[40];
	webhook_target(target, sizeof target, op->id);
	return hook_audit(st, op->actor, "webhook.add", target, STORE__WEBHOOK_SNAP, op->id, NULL);
}

enum cd_err store_webhook_add(struct store *st, const struct store_actor *actor,
			      const struct store_webhook *w, int64_t *id_out)
{
	struct hook_op op = {.actor = actor, .w = w};
	if (id_out)
		*id_out = 0;
	if (!STORE__TERMINATED(w->name) || !STORE__TERMINATED(w->url) || !STORE__TERMINATED(w->secret) ||
	    !STORE__TERMINATED(w->events) || !STORE__TERMINATED(w->street_code) ||
	    !STORE__TERMINATED(w->unit_code) || !w->name[0] || !w->url[0])
		return CD_ERR_INVALID;
	enum cd_err rc = store__in_tx(st, webhook_add_tx, &op);
	if (!rc && id_out)
		*id_out = op.id;
	return rc;
}

/* Runs a webhook query whose ?1 is bound; NOTFOUND when no row. Store locked. */
static enum cd_err webhook_fetch(struct store *st, sqlite3_stmt *s, struct store_webhook *out)
{
	enum cd_err rc = store__step_row(st, s, "webhook get");
	if (!rc)
		rc = webhook_from_row(s, out);
	store__done(s);
	return rc;
}

static enum cd_err webhook_get_locked(struct store *st, const char *name, struct store_webhook *out)
{
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_BY_NAME);
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, name);
	return webhook_fetch(st, s, out);
}

enum cd_err store_webhook_get(struct store *st, const char *name, struct store_webhook *out)
{
	memset(out, 0, sizeof *out);
	if (!name)
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = webhook_get_locked(st, name, out);
	store__unlock(st);
	return rc;
}

/* The number of deliveries of webhook_id with `status`. Store locked. */
static enum cd_err count_hook(struct store *st, int64_t webhook_id, const char *status, int64_t *out)
{
	*out = 0;
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_D_COUNT_HOOK);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, webhook_id);
	store__bind_text(s, 2, status);
	int src = sqlite3_step(s);
	enum cd_err rc = CD_OK;
	if (src == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		rc = store__err(st, src == SQLITE_DONE ? SQLITE_ERROR : src, "webhook count");
	store__done(s);
	return rc;
}

static enum cd_err webhook_remove_tx(struct store *st, void *ctx)
{
	const struct hook_op *op = ctx;
	struct store_webhook w;
	memset(&w, 0, sizeof w);
	enum cd_err rc = webhook_get_locked(st, op->name, &w);
	int64_t pending = 0, dead = 0;
	if (!rc)
		rc = count_hook(st, w.id, "pending", &pending);
	if (!rc)
		rc = count_hook(st, w.id, "dead", &dead);
	char *before = NULL, after[96], target[40];
	if (!rc)
		rc = store__snapshot_id(st, STORE__WEBHOOK_SNAP, w.id, &before);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__WEBHOOK_DELETE);
	if (!rc && !s)
		rc = CD_ERR_STORE;
	if (!rc) {
		sqlite3_bind_int64(s, 1, w.id);
		rc = store__exec(st, s, "webhook delete"); /* deliveries go with it (ON DELETE CASCADE) */
	}
	if (!rc) {
		webhook_target(target, sizeof target, w.id);
		snprintf(after, sizeof after, "{\"dropped_pending\":%lld,\"dropped_dead\":%lld}",
			 (long long)pending, (long long)dead);
		rc = store__audit_add(st, op->actor, "webhook.remove", target, before, after);
	}
	xfree(before);
	return rc;
}

enum cd_err store_webhook_remove(struct store *st, const struct store_actor *actor, const char *name)
{
	if (!name || !*name)
		return CD_ERR_NOTFOUND;
	struct hook_op op = {.actor = actor, .name = name};
	return store__in_tx(st, webhook_remove_tx, &op);
}

enum cd_err store_webhooks_list(struct store *st, struct store_webhook **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 16, count = 0;
	struct store_webhook *v = xcalloc(cap, sizeof *v);
	store__lock(st);
	enum cd_err rc = CD_OK;
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_LIST);
	if (!s)
		rc = CD_ERR_STORE;
	if (!rc) {
		sqlite3_bind_int64(s, 1, STORE_WEBHOOKS_MAX);
		int src;
		while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
			if (count == cap) {
				cap *= 2;
				v = xrealloc(v, cap * sizeof *v);
			}
			memset(&v[count], 0, sizeof v[count]);
			rc = webhook_from_row(s, &v[count]);
			count++;
		}
		if (!rc && src != SQLITE_DONE)
			rc = store__err(st, src, "webhook list");
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

/* ---- deliveries ---------------------------------------------------------------------- */

static enum cd_err delivery_insert(struct store *st, struct store_webhook_delivery *d, int64_t now)
{
	if (!d->body || !STORE__TERMINATED(d->type) || !STORE__TERMINATED(d->ref) || !d->type[0])
		return CD_ERR_INVALID;
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_D_INSERT);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, d->webhook_id);
	sqlite3_bind_int64(s, 2, d->event_id);
	store__bind_text(s, 3, d->type);
	store__bind_text(s, 4, d->ref);
	store__bind_text(s, 5, d->body);
	sqlite3_bind_int64(s, 6, d->next_at_ms);
	sqlite3_bind_int64(s, 7, d->created_at ? d->created_at : now);
	enum cd_err rc = store__exec(st, s, "webhook delivery insert");
	if (!rc)
		d->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

static enum cd_err outcome_record(struct store *st, const struct store_webhook_outcome *o)
{
	sqlite3_stmt *s;
	if (o->result == STORE_WEBHOOK_DELIVERED) {
		s = store__stmt(st, STORE__WEBHOOK_D_DELETE);
		if (!s)
			return CD_ERR_STORE;
		sqlite3_bind_int64(s, 1, o->delivery_id);
		return store__exec(st, s, "webhook delivery delete");
	}
	if (!STORE__TERMINATED(o->error))
		return CD_ERR_INVALID;
	s = store__stmt(st, STORE__WEBHOOK_D_FAIL);
	if (!s)
		return CD_ERR_STORE;
	sqlite3_bind_int64(s, 1, o->delivery_id);
	sqlite3_bind_int64(s, 2, o->next_at_ms);
	sqlite3_bind_int64(s, 3, o->at);
	sqlite3_bind_int(s, 4, o->http_status);
	store__bind_opt(s, 5, o->error);
	sqlite3_bind_int(s, 6, o->result == STORE_WEBHOOK_DEAD);
	return store__exec(st, s, "webhook delivery failed");
}

static enum cd_err deliveries_commit_tx(struct store *st, void *ctx)
{
	const struct hook_op *op = ctx;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; !rc && i < op->nadd; i++)
		rc = delivery_insert(st, &op->add[i], op->now);
	for (size_t i = 0; !rc && i < op->ndone; i++)
		rc = outcome_record(st, &op->done[i]);
	return rc;
}

enum cd_err store_webhook_deliveries_commit(struct store *st, struct store_webhook_delivery *add, size_t nadd,
					    const struct store_webhook_outcome *done, size_t ndone)
{
	if (nadd > STORE_WEBHOOK_BATCH_MAX || ndone > STORE_WEBHOOK_BATCH_MAX)
		return CD_ERR_RANGE;
	if (nadd == 0 && ndone == 0)
		return CD_OK;
	struct hook_op op = {
	    .add = add, .nadd = nadd, .done = done, .ndone = ndone, .now = (int64_t)time(NULL)};
	enum cd_err rc = store__in_tx(st, deliveries_commit_tx, &op);
	if (rc)
		for (size_t i = 0; i < nadd; i++)
			add[i].id = 0;
	return rc;
}

void store_webhook_deliveries_free(struct store_webhook_delivery *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		xfree(v[i].body);
	xfree(v);
}

static int in_list(const int64_t *v, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

/* Steps s (bound) and collects up to max rows not in skip[]. Store locked. */
static enum cd_err deliveries_collect(struct store *st, sqlite3_stmt *s, const int64_t *skip, size_t nskip,
				      size_t max, struct store_webhook_delivery **out, size_t *n)
{
	struct store_webhook_delivery *v = xcalloc(max ? max : 1, sizeof *v);
	size_t count = 0;
	enum cd_err rc = CD_OK;
	int src = SQLITE_DONE;
	while (!rc && count < max && (src = sqlite3_step(s)) == SQLITE_ROW) {
		if (nskip && in_list(skip, nskip, sqlite3_column_int64(s, 0)))
			continue;
		rc = delivery_from_row(s, &v[count]);
		count++;
	}
	if (!rc && count < max && src != SQLITE_DONE)
		rc = store__err(st, src, "webhook deliveries");
	store__done(s);
	if (rc) {
		store_webhook_deliveries_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return CD_OK;
}

enum cd_err store_webhook_deliveries_due(struct store *st, int64_t webhook_id, int64_t now_ms,
					 const int64_t *skip, size_t nskip, size_t max,
					 struct store_webhook_delivery **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (max > STORE_WEBHOOK_PAGE_MAX)
		max = STORE_WEBHOOK_PAGE_MAX;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_D_DUE);
	if (s) {
		sqlite3_bind_int64(s, 1, webhook_id);
		sqlite3_bind_int64(s, 2, now_ms);
		sqlite3_bind_int64(s, 3, (int64_t)(max + nskip));
		rc = deliveries_collect(st, s, skip, nskip, max, out, n);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_webhook_deadletters(struct store *st, int64_t webhook_id, size_t limit,
				      struct store_webhook_delivery **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (limit > STORE_WEBHOOK_PAGE_MAX)
		limit = STORE_WEBHOOK_PAGE_MAX;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = store__stmt(st, STORE__WEBHOOK_D_DEAD);
	if (s) {
		sqlite3_bind_int64(s, 1, webhook_id);
		sqlite3_bind_int64(s, 2, (int64_t)limit);
		rc = deliveries_collect(st, s, NULL, 0, limit, out, n);
	}
	store__unlock(st);
	return rc;
}

static enum cd_err retry_tx(struct store *st, void *ctx)
{
	const struct hook_op *op = ctx;
	int64_t id = op->id, now_ms = op->now_ms;
	char *before = NULL, target[48];
	enum cd_err rc = store__snapshot_id(st, STORE__WEBHOOK_D_SNAP, id, &before);
	sqlite3_stmt *s = rc ? NULL : store__stmt(st, STORE__WEBHOOK_D_REQUEUE);
	if (!rc && !s)
		rc = CD_ERR_STORE;
	if (!rc) {
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, now_ms);
		rc = store__exec(st, s, "webhook delivery requeue");
	}
	if (!rc && sqlite3_changes(st->db) != 1)
		rc = CD_ERR_NOTFOUND; /* no such delivery, or it is not dead */
	if (!rc) {
		snprintf(target, sizeof target, "webhook_deliveries/%lld", (long long)id);
		rc = hook_audit(st, op->actor, "webhook.retry", target, STORE__WEBHOOK_D_SNAP, id, before);
	}
	xfree(before);
	return rc;
}

enum cd_err store_webhook_retry(struct store *st, const struct store_actor *actor, int64_t delivery_id,
				int64_t now_ms)
{
	struct hook_op op = {.actor = actor, .id = delivery_id, .now_ms = now_ms};
	return store__in_tx(st, retry_tx, &op);
}

enum cd_err store_webhook_counts(struct store *st, int64_t webhook_id, int64_t *pending, int64_t *dead)
{
	int64_t p = 0, d = 0;
	store__lock(st);
	enum cd_err rc;
	if (webhook_id) {
		rc = count_hook(st, webhook_id, "pending", &p);
		if (!rc)
			rc = count_hook(st, webhook_id, "dead", &d);
	} else {
		rc = store__count(st, STORE__WEBHOOK_D_COUNT_PENDING, NULL, &p);
		if (!rc)
			rc = store__count(st, STORE__WEBHOOK_D_COUNT_DEAD, NULL, &d);
	}
	store__unlock(st);
	if (pending)
		*pending = rc ? 0 : p;
	if (dead)
		*dead = rc ? 0 : d;
	return rc;
}
