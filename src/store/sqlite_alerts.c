/* The SQLite store's rules and alerts (store_alerts.h). Statements are prepared per call rather
 * than cached in the store's table: rule and alert writes are events, not a stream (the stream
 * of telemetry never reaches the main store). One transaction per write, with its audit entry. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite_int.h"
#include "store/store_alerts.h"
#include "util/alloc.h"
#include "util/clock.h"

#define ALERT_COLS                                                                                           \
	"id, key, source, rule_id, device, system, type, level, status, title, detail, value, limit_value, " \
	"count, lat, lng, street_code, community_code, grid_code, category_code, want_case, case_id, "       \
	"case_ref, unit_code, raised_at_ms, last_at_ms, acked_at_ms, acked_by, cleared_at_ms, cleared_by, "  \
	"note"

#define ALERT_SNAP                                                                                           \
	"SELECT json_object('id', id, 'key', key, 'source', source, 'device', device, 'system', system, "    \
	"'type', type, 'level', level, 'status', status, 'count', count, 'case_ref', case_ref, "             \
	"'unit_code', unit_code, 'note', note) FROM alerts WHERE id = ?1"

#define RULE_SNAP                                                                                            \
	"SELECT json_object('id', id, 'name', name, 'body', json(body)) FROM alert_rules WHERE id = ?1"

/* Prepares sql on the store's connection (store locked); NULL with the error logged. */
static sqlite3_stmt *prep(struct store *st, const char *sql)
{
	return store__prepare(st, sql, "alerts prepare");
}

/* Steps a no-row statement and finalizes it. */
static enum cd_err run(struct store *st, sqlite3_stmt *s, const char *what)
{
	if (!s)
		return CD_ERR_STORE;
	int src = sqlite3_step(s);
	enum cd_err rc = src == SQLITE_DONE || src == SQLITE_ROW ? CD_OK : store__err(st, src, what);
	sqlite3_finalize(s);
	return rc;
}

/* The single integer a prepared, bound query (count(*)) returns, into *out; finalizes s. */
static enum cd_err one_int(struct store *st, sqlite3_stmt *s, const char *what, int64_t *out)
{
	if (!s)
		return CD_ERR_STORE;
	enum cd_err rc;
	int src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = CD_OK;
	} else {
		rc = store__err(st, src, what);
	}
	sqlite3_finalize(s);
	return rc;
}

/* Sets the replay mark `key` (store_alerts.h) to seq inside the caller's transaction; 0 does
 * nothing. Not audited: it is bookkeeping of the write it goes with, which is. */
static enum cd_err put_mark(struct store *st, const char *key, uint64_t seq)
{
	if (!seq)
		return CD_OK;
	sqlite3_stmt *s = prep(st, "INSERT INTO meta (key, value) VALUES (?1, ?2) "
				   "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
	if (!s)
		return CD_ERR_STORE;
	char v[24];
	snprintf(v, sizeof v, "%llu", (unsigned long long)seq);
	store__bind_text(s, 1, key);
	store__bind_text(s, 2, v);
	return run(st, s, "alerts replay mark");
}

static void target_of(char *out, size_t cap, const char *table, int64_t id)
{
	snprintf(out, cap, "%s/%lld", table, (long long)id);
}

/* ---- rules ------------------------------------------------------------------------------ */

struct rule_op {
	const struct store_actor *actor;
	int64_t id;
	const char *name, *body;
};

/* CD_ERR_INVALID unless text is JSON (SQLite's json_valid). Store locked. */
static enum cd_err check_json(struct store *st, const char *text)
{
	sqlite3_stmt *s = prep(st, "SELECT json_valid(?1)");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, text);
	enum cd_err rc =
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1 ? CD_OK : CD_ERR_INVALID;
	sqlite3_finalize(s);
	return rc;
}

static enum cd_err rule_add_tx(struct store *st, void *ctx)
{
	struct rule_op *op = ctx;
	if (check_json(st, op->body))
		return CD_ERR_INVALID;
	sqlite3_stmt *s = prep(st, "INSERT INTO alert_rules (name, body, created_at, updated_at) "
				   "VALUES (?1, ?2, ?3, ?3)");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, op->name);
	store__bind_text(s, 2, op->body);
	sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
	enum cd_err rc = run(st, s, "rule insert");
	if (rc)
		return rc;
	op->id = sqlite3_last_insert_rowid(st->db);
	char *after = NULL, target[48];
	rc = store__snapshot_sql(st, RULE_SNAP, NULL, op->id, &after);
	target_of(target, sizeof target, "rules", op->id);
	if (!rc)
		rc = store__audit_add(st, op->actor, "rule.add", target, NULL, after);
	xfree(after);
	return rc;
}

enum cd_err store_rule_add(struct store *st, const struct store_actor *actor, const char *name,
			   const char *body, int64_t *id_out)
{
	struct rule_op op = {actor, 0, name, body};
	if (!name || !body || strlen(body) >= STORE_RULE_BODY_MAX)
		return CD_ERR_INVALID;
	enum cd_err rc = store__in_tx(st, rule_add_tx, &op);
	if (id_out)
		*id_out = rc ? 0 : op.id;
	return rc;
}

static enum cd_err rule_update_tx(struct store *st, void *ctx)
{
	struct rule_op *op = ctx;
	char *before = NULL, *after = NULL, target[48];
	enum cd_err rc = store__snapshot_sql(st, RULE_SNAP, NULL, op->id, &before);
	if (!rc && !before)
		rc = CD_ERR_NOTFOUND;
	if (!rc) {
		sqlite3_stmt *s =
		    prep(st, "UPDATE alert_rules SET name = ?2, body = ?3, updated_at = ?4 WHERE id = ?1");
		if (s) {
			sqlite3_bind_int64(s, 1, op->id);
			store__bind_text(s, 2, op->name);
			store__bind_text(s, 3, op->body);
			sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
		}
		rc = run(st, s, "rule update");
	}
	if (!rc)
		rc = store__snapshot_sql(st, RULE_SNAP, NULL, op->id, &after);
	if (!rc) {
		target_of(target, sizeof target, "rules", op->id);
		rc = store__audit_add(st, op->actor, "rule.update", target, before, after);
	}
	xfree(before);
	xfree(after);
	return rc;
}

enum cd_err store_rule_update(struct store *st, const struct store_actor *actor, int64_t id, const char *name,
			      const char *body)
{
	struct rule_op op = {actor, id, name, body};
	if (!name || !body || strlen(body) >= STORE_RULE_BODY_MAX)
		return CD_ERR_INVALID;
	return store__in_tx(st, rule_update_tx, &op);
}

static enum cd_err rule_delete_tx(struct store *st, void *ctx)
{
	struct rule_op *op = ctx;
	char *before = NULL, target[48];
	enum cd_err rc = store__snapshot_sql(st, RULE_SNAP, NULL, op->id, &before);
	if (!rc && !before)
		rc = CD_ERR_NOTFOUND;
	if (!rc) {
		sqlite3_stmt *s = prep(st, "DELETE FROM alert_rules WHERE id = ?1");
		if (s)
			sqlite3_bind_int64(s, 1, op->id);
		rc = run(st, s, "rule delete");
	}
	if (!rc) {
		target_of(target, sizeof target, "rules", op->id);
		rc = store__audit_add(st, op->actor, "rule.delete", target, before, NULL);
	}
	xfree(before);
	return rc;
}

enum cd_err store_rule_delete(struct store *st, const struct store_actor *actor, int64_t id)
{
	struct rule_op op = {actor, id, NULL, NULL};
	return store__in_tx(st, rule_delete_tx, &op);
}

static enum cd_err rule_from_row(sqlite3_stmt *s, struct store_rule *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	enum cd_err rc = store__col_copy(s, 1, r->name, sizeof r->name);
	if (!rc)
		rc = store__col_copy(s, 2, r->body, sizeof r->body);
	r->created_at = sqlite3_column_int64(s, 3);
	r->updated_at = sqlite3_column_int64(s, 4);
	return rc;
}

static enum cd_err rule_conv(sqlite3_stmt *s, void *row)
{
	return rule_from_row(s, row);
}

enum cd_err store_rule_get(struct store *st, int64_t id, struct store_rule *out)
{
	memset(out, 0, sizeof *out);
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s =
	    prep(st, "SELECT id, name, body, created_at, updated_at FROM alert_rules WHERE id = ?1");
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		int src = sqlite3_step(s);
		if (src == SQLITE_ROW)
			rc = rule_from_row(s, out);
		else
			rc = src == SQLITE_DONE ? CD_ERR_NOTFOUND : store__err(st, src, "rule get");
		sqlite3_finalize(s);
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_rules_list(struct store *st, struct store_rule **out, size_t *n)
{
	void *v = NULL;
	*n = 0;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s =
	    prep(st, "SELECT id, name, body, created_at, updated_at FROM alert_rules ORDER BY id");
	if (s) {
		rc = store__collect(st, s, sizeof **out, rule_conv, &v, n);
		sqlite3_finalize(s);
	}
	store__unlock(st);
	*out = v;
	return rc;
}

/* ---- alerts ----------------------------------------------------------------------------- */

/* The text columns of ALERT_COLS and the members they fill. */
#define ALERT_TEXT(col, member) STORE__TEXT_COL(struct store_alert, col, member)
static const struct store__text_col alert_text[] = {
    ALERT_TEXT(1, key),
    ALERT_TEXT(2, source),
    ALERT_TEXT(4, device),
    ALERT_TEXT(5, system),
    ALERT_TEXT(6, type),
    ALERT_TEXT(7, level),
    ALERT_TEXT(8, status),
    ALERT_TEXT(9, title),
    ALERT_TEXT(10, detail),
    ALERT_TEXT(16, street_code),
    ALERT_TEXT(17, community_code),
    ALERT_TEXT(18, grid_code),
    ALERT_TEXT(19, category_code),
    ALERT_TEXT(22, case_ref),
    ALERT_TEXT(23, unit_code),
    ALERT_TEXT(27, acked_by),
    ALERT_TEXT(29, cleared_by),
    ALERT_TEXT(30, note),
};

static enum cd_err alert_from_row(sqlite3_stmt *s, struct store_alert *a)
{
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(s, 0);
	a->rule_id = sqlite3_column_int64(s, 3);
	a->has_value = sqlite3_column_type(s, 11) != SQLITE_NULL;
	a->value = sqlite3_column_double(s, 11);
	a->limit = sqlite3_column_double(s, 12);
	a->count = sqlite3_column_int64(s, 13);
	a->has_point = sqlite3_column_type(s, 14) != SQLITE_NULL && sqlite3_column_type(s, 15) != SQLITE_NULL;
	a->lat = sqlite3_column_double(s, 14);
	a->lng = sqlite3_column_double(s, 15);
	a->want_case = sqlite3_column_int(s, 20);
	a->case_id = sqlite3_column_int64(s, 21);
	a->raised_at_ms = sqlite3_column_int64(s, 24);
	a->last_at_ms = sqlite3_column_int64(s, 25);
	a->acked_at_ms = sqlite3_column_int64(s, 26);
	a->cleared_at_ms = sqlite3_column_int64(s, 28);
	return store__text_cols(s, a, alert_text, sizeof alert_text / sizeof alert_text[0]);
}

/* One alert by a query whose ?1 (and ?2) are bound by the caller; store locked. */
static enum cd_err alert_fetch(struct store *st, sqlite3_stmt *s, struct store_alert *out)
{
	if (!s)
		return CD_ERR_STORE;
	int src = sqlite3_step(s);
	enum cd_err rc;
	if (src == SQLITE_ROW)
		rc = alert_from_row(s, out);
	else
		rc = src == SQLITE_DONE ? CD_ERR_NOTFOUND : store__err(st, src, "alert get");
	sqlite3_finalize(s);
	return rc;
}

static enum cd_err alert_get_locked(struct store *st, int64_t id, struct store_alert *out)
{
	sqlite3_stmt *s = prep(st, "SELECT " ALERT_COLS " FROM alerts WHERE id = ?1");
	if (s)
		sqlite3_bind_int64(s, 1, id);
	return alert_fetch(st, s, out);
}

static enum cd_err find_active_locked(struct store *st, const char *key, const char *device,
				      struct store_alert *out)
{
	sqlite3_stmt *s = prep(st, "SELECT " ALERT_COLS " FROM alerts WHERE key = ?1 AND device = ?2 "
				   "AND status != 'cleared'");
	if (s) {
		store__bind_text(s, 1, key);
		store__bind_text(s, 2, device);
	}
	return alert_fetch(st, s, out);
}

enum cd_err store_alert_get(struct store *st, int64_t id, struct store_alert *out)
{
	store__lock(st);
	enum cd_err rc = alert_get_locked(st, id, out);
	store__unlock(st);
	return rc;
}

enum cd_err store_alert_find_active(struct store *st, const char *key, const char *device,
				    struct store_alert *out)
{
	store__lock(st);
	enum cd_err rc = find_active_locked(st, key ? key : "", device ? device : "", out);
	store__unlock(st);
	return rc;
}

struct raise_op {
	const struct store_actor *actor;
	struct store_alert *a;
};

static enum cd_err raise_tx(struct store *st, void *ctx)
{
	struct raise_op *op = ctx;
	struct store_alert *a = op->a;
	sqlite3_stmt *s =
	    prep(st, "INSERT INTO alerts (key, source, rule_id, device, system, type, level, status, "
		     "title, detail, value, limit_value, count, lat, lng, street_code, community_code, "
		     "grid_code, category_code, want_case, raised_at_ms, last_at_ms) VALUES (?1, ?2, ?3, "
		     "?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
		     "?20, ?21)");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, a->key);
	store__bind_text(s, 2, a->source);
	if (a->rule_id)
		sqlite3_bind_int64(s, 3, a->rule_id);
	store__bind_text(s, 4, a->device);
	store__bind_text(s, 5, a->system);
	store__bind_text(s, 6, a->type);
	store__bind_text(s, 7, a->level);
	store__bind_text(s, 8, a->title);
	store__bind_text(s, 9, a->detail);
	if (a->has_value) {
		sqlite3_bind_double(s, 10, a->value);
		sqlite3_bind_double(s, 11, a->limit);
	}
	sqlite3_bind_int64(s, 12, a->count > 0 ? a->count : 1);
	if (a->has_point) {
		sqlite3_bind_double(s, 13, a->lat);
		sqlite3_bind_double(s, 14, a->lng);
	}
	store__bind_opt(s, 15, a->street_code);
	store__bind_opt(s, 16, a->community_code);
	store__bind_opt(s, 17, a->grid_code);
	store__bind_opt(s, 18, a->category_code);
	sqlite3_bind_int(s, 19, a->want_case ? 1 : 0);
	sqlite3_bind_int64(s, 20, a->raised_at_ms);
	sqlite3_bind_int64(s, 21, a->last_at_ms);
	enum cd_err rc = run(st, s, "alert insert");
	if (rc)
		return rc;
	int64_t id = sqlite3_last_insert_rowid(st->db);
	char *after = NULL, target[48];
	rc = store__snapshot_sql(st, ALERT_SNAP, NULL, id, &after);
	target_of(target, sizeof target, "alerts", id);
	if (!rc)
		rc = store__audit_add(st, op->actor, "alert.raise", target, NULL, after);
	xfree(after);
	if (!rc)
		rc = put_mark(st, STORE_ALERTS_MARK, a->iot_seq);
	if (!rc)
		rc = alert_get_locked(st, id, a);
	return rc;
}

enum cd_err store_alert_raise(struct store *st, const struct store_actor *actor, struct store_alert *a)
{
	if (!STORE__TERMINATED(a->key) || !STORE__TERMINATED(a->device) || !STORE__TERMINATED(a->title) ||
	    !STORE__TERMINATED(a->detail) || !STORE__TERMINATED(a->type) || !STORE__TERMINATED(a->level) ||
	    !STORE__TERMINATED(a->source) || !STORE__TERMINATED(a->system) || !a->key[0] || !a->title[0])
		return CD_ERR_INVALID;
	int64_t now = clock_wall_ms();
	if (!a->raised_at_ms)
		a->raised_at_ms = now;
	if (!a->last_at_ms)
		a->last_at_ms = a->raised_at_ms;
	struct raise_op op = {actor, a};
	store__lock(st);
	enum cd_err rc = store__begin(st);
	if (!rc)
		rc = store__end(st, raise_tx(st, &op));
	if (rc == CD_ERR_EXISTS) { /* an active alert holds the key: hand it back */
		struct store_alert held;
		if (find_active_locked(st, a->key, a->device, &held) == CD_OK)
			*a = held;
	}
	store__unlock(st);
	return rc;
}

struct bump_op {
	int64_t id, count, at_ms;
	double value;
	uint64_t seq;
};

static enum cd_err bump_tx(struct store *st, void *ctx)
{
	struct bump_op *op = ctx;
	sqlite3_stmt *s =
	    prep(st, "UPDATE alerts SET count = CASE WHEN ?2 > 0 THEN ?2 ELSE count + 1 END, "
		     "last_at_ms = max(last_at_ms, ?3), value = ?4 WHERE id = ?1 AND status != 'cleared'");
	if (s) {
		sqlite3_bind_int64(s, 1, op->id);
		sqlite3_bind_int64(s, 2, op->count);
		sqlite3_bind_int64(s, 3, op->at_ms);
		sqlite3_bind_double(s, 4, op->value);
	}
	enum cd_err rc = run(st, s, "alert bump");
	if (!rc && sqlite3_changes(st->db) != 1)
		rc = CD_ERR_NOTFOUND;
	if (!rc)
		rc = put_mark(st, STORE_ALERTS_MARK, op->seq);
	return rc;
}

enum cd_err store_alert_bump(struct store *st, int64_t id, int64_t count, int64_t at_ms, double value)
{
	return store_alert_bump_seq(st, id, count, at_ms, value, 0);
}

enum cd_err store_alert_bump_seq(struct store *st, int64_t id, int64_t count, int64_t at_ms, double value,
				 uint64_t seq)
{
	struct bump_op op = {id, count, at_ms, value, seq};
	if (seq)
		return store__in_tx(st, bump_tx, &op);
	store__lock(st); /* one statement: its own transaction */
	enum cd_err rc = bump_tx(st, &op);
	store__unlock(st);
	return rc;
}

/* A change of one alert (acknowledge, clear, link to its case), audited as `action`. */
struct change_op {
	const struct store_actor *actor;
	int64_t id;
	const char *action;
	const char *comment;
	int64_t at_ms;
	const struct store_case *c; /* set_case */
	struct store_alert *out;
	uint64_t seq; /* the replay mark to store with it, 0 = none */
};

static enum cd_err change_tx(struct store *st, void *ctx)
{
	struct change_op *op = ctx;
	struct store_alert cur;
	enum cd_err rc = alert_get_locked(st, op->id, &cur);
	if (rc)
		return rc;
	bool ack = strcmp(op->action, "alert.acknowledge") == 0,
	     clear = strcmp(op->action, "alert.clear") == 0;
	if ((ack && strcmp(cur.status, "open") != 0) || (clear && strcmp(cur.status, "cleared") == 0))
		return CD_ERR_CONFLICT;
	char *before = NULL, *after = NULL, target[48];
	rc = store__snapshot_sql(st, ALERT_SNAP, NULL, op->id, &before);
	sqlite3_stmt *s = NULL;
	if (!rc && ack)
		s = prep(st, "UPDATE alerts SET status = 'acknowledged', acked_at_ms = ?2, acked_by = ?3, "
			     "note = ?4 WHERE id = ?1");
	else if (!rc && clear)
		s = prep(st, "UPDATE alerts SET status = 'cleared', cleared_at_ms = ?2, cleared_by = ?3, "
			     "note = ?4 WHERE id = ?1");
	else if (!rc)
		s = prep(
		    st,
		    "UPDATE alerts SET case_id = ?2, case_ref = ?3, unit_code = ?4, "
		    "street_code = coalesce(street_code, ?5), community_code = coalesce(community_code, ?6), "
		    "grid_code = coalesce(grid_code, ?7) WHERE id = ?1");
	if (!rc) {
		if (s) {
			sqlite3_bind_int64(s, 1, op->id);
			if (ack || clear) {
				sqlite3_bind_int64(s, 2, op->at_ms ? op->at_ms : clock_wall_ms());
				store__bind_text(s, 3,
						 op->actor && op->actor->name ? op->actor->name : "system");
				store__bind_text(s, 4, op->comment ? op->comment : "");
			} else {
				sqlite3_bind_int64(s, 2, op->c->id);
				store__bind_opt(s, 3, op->c->ref);
				store__bind_opt(s, 4, op->c->unit_code);
				store__bind_opt(s, 5, op->c->street_code);
				store__bind_opt(s, 6, op->c->community_code);
				store__bind_opt(s, 7, op->c->grid_code);
			}
		}
		rc = run(st, s, op->action);
	}
	if (!rc)
		rc = store__snapshot_sql(st, ALERT_SNAP, NULL, op->id, &after);
	if (!rc) {
		target_of(target, sizeof target, "alerts", op->id);
		rc = store__audit_add(st, op->actor, op->action, target, before, after);
	}
	if (!rc)
		rc = put_mark(st, STORE_ALERTS_MARK, op->seq);
	if (!rc && op->out)
		rc = alert_get_locked(st, op->id, op->out);
	xfree(before);
	xfree(after);
	return rc;
}

enum cd_err store_alert_set_case(struct store *st, const struct store_actor *actor, int64_t id,
				 const struct store_case *c)
{
	struct change_op op = {actor, id, "alert.case", NULL, 0, c, NULL, 0};
	/* a case just taken by the intake journal may not be in the cases table yet: the link
	 * (a foreign key) waits for it rather than failing */
	store__journal_wait_case(st, c->id);
	return store__in_tx(st, change_tx, &op);
}

/* An acknowledgement or a clearing (op->action) with its optional comment. */
static enum cd_err commented_change(struct store *st, struct change_op *op)
{
	if (op->comment && strlen(op->comment) >= STORE_ALERT_TEXT_MAX)
		return CD_ERR_INVALID;
	return store__in_tx(st, change_tx, op);
}

enum cd_err store_alert_ack(struct store *st, const struct store_actor *actor, int64_t id,
			    const char *comment, int64_t at_ms, struct store_alert *out)
{
	struct change_op op = {actor, id, "alert.acknowledge", comment, at_ms, NULL, out, 0};
	return commented_change(st, &op);
}

enum cd_err store_alert_clear(struct store *st, const struct store_actor *actor, int64_t id,
			      const char *comment, int64_t at_ms, struct store_alert *out)
{
	return store_alert_clear_seq(st, actor, id, comment, at_ms, 0, out);
}

enum cd_err store_alert_clear_seq(struct store *st, const struct store_actor *actor, int64_t id,
				  const char *comment, int64_t at_ms, uint64_t seq, struct store_alert *out)
{
	struct change_op op = {actor, id, "alert.clear", comment, at_ms, NULL, out, seq};
	return commented_change(st, &op);
}

static enum cd_err alert_conv(sqlite3_stmt *s, void *row)
{
	return alert_from_row(s, row);
}

/* Collects the rows of a bound query into a new array (store__collect). Store locked; finalizes s. */
static enum cd_err collect_alerts(struct store *st, sqlite3_stmt *s, struct store_alert **out, size_t *n)
{
	void *v = NULL;
	enum cd_err rc = store__collect(st, s, sizeof **out, alert_conv, &v, n);
	sqlite3_finalize(s);
	*out = v;
	return rc;
}

/* The filter's WHERE clause, its parameters bound from ?1 in order. */
struct bound {
	char where[1024];
	size_t len;
	const char *text[12];
	int64_t num[12];
	int is_num[12];
	int n;
};

static void add_clause(struct bound *bd, const char *clause)
{
	int w = snprintf(bd->where + bd->len, sizeof bd->where - bd->len, " AND %s ?%d", clause, bd->n);
	if (w > 0 && (size_t)w < sizeof bd->where - bd->len)
		bd->len += (size_t)w;
}

static void add_text(struct bound *bd, const char *clause, const char *v)
{
	if (!v || !*v)
		return;
	bd->text[bd->n] = v;
	bd->is_num[bd->n] = 0;
	bd->n++;
	add_clause(bd, clause);
}

static void add_num(struct bound *bd, const char *clause, int64_t v)
{
	if (!v)
		return;
	bd->num[bd->n] = v;
	bd->is_num[bd->n] = 1;
	bd->n++;
	add_clause(bd, clause);
}

static void bind_all(sqlite3_stmt *s, const struct bound *bd)
{
	for (int i = 0; i < bd->n; i++) {
		if (bd->is_num[i])
			sqlite3_bind_int64(s, i + 1, bd->num[i]);
		else
			store__bind_text(s, i + 1, bd->text[i]);
	}
}

enum cd_err store_alerts_list(struct store *st, const struct store_alert_filter *f, int64_t offset,
			      int64_t limit, struct store_alert **out, size_t *n, int64_t *total)
{
	*out = NULL;
	*n = 0;
	if (total)
		*total = 0;
	if (limit > STORE_ALERTS_PAGE_MAX)
		limit = STORE_ALERTS_PAGE_MAX;
	if (limit < 1)
		limit = 1;
	struct bound bd;
	memset(&bd, 0, sizeof bd);
	bd.len =
	    (size_t)snprintf(bd.where, sizeof bd.where, " WHERE 1 = 1%s",
			     f->status && strcmp(f->status, "active") == 0 ? " AND status != 'cleared'" : "");
	if (!f->status || strcmp(f->status, "active") != 0)
		add_text(&bd, "status =", f->status);
	add_text(&bd, "level =", f->level);
	add_text(&bd, "device =", f->device);
	add_text(&bd, "street_code =", f->street);
	add_text(&bd, "street_code =", f->scope_street);
	add_text(&bd, "unit_code =", f->scope_unit);
	add_num(&bd, "rule_id =", f->rule_id);
	add_num(&bd, "raised_at_ms >=", f->from_ms);
	add_num(&bd, "raised_at_ms <", f->to_ms);
	char q[2048], cq[1536];
	snprintf(q, sizeof q,
		 "SELECT " ALERT_COLS
		 " FROM alerts%s ORDER BY raised_at_ms DESC, id DESC LIMIT %lld OFFSET %lld",
		 bd.where, (long long)limit, (long long)(offset > 0 ? offset : 0));
	snprintf(cq, sizeof cq, "SELECT count(*) FROM alerts%s", bd.where);
	enum cd_err rc = CD_ERR_STORE;
	store__lock(st);
	sqlite3_stmt *s = prep(st, q);
	if (s) {
		bind_all(s, &bd);
		rc = collect_alerts(st, s, out, n);
	}
	if (!rc && total) {
		sqlite3_stmt *c = prep(st, cq);
		if (c)
			bind_all(c, &bd);
		rc = one_int(st, c, "alerts count", total);
		if (rc) {
			xfree(*out);
			*out = NULL;
			*n = 0;
		}
	}
	store__unlock(st);
	return rc;
}

enum cd_err store_alerts_active(struct store *st, struct store_alert **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = prep(st, "SELECT " ALERT_COLS " FROM alerts WHERE status != 'cleared' ORDER BY id");
	if (s)
		rc = collect_alerts(st, s, out, n);
	store__unlock(st);
	return rc;
}

/* ---- device events ---------------------------------------------------------------------- */

struct events_op {
	const struct store_device_event *ev;
	size_t n;
	uint64_t seq;
};

static enum cd_err events_tx(struct store *st, void *ctx)
{
	struct events_op *op = ctx;
	sqlite3_stmt *s =
	    prep(st, "INSERT INTO device_events (device, ts_ms, type, level, detail, source, alert_id) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (!s)
		return CD_ERR_STORE;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; !rc && i < op->n; i++) {
		const struct store_device_event *e = &op->ev[i];
		if (!STORE__TERMINATED(e->device) || !STORE__TERMINATED(e->type) ||
		    !STORE__TERMINATED(e->level) || !STORE__TERMINATED(e->detail) ||
		    !STORE__TERMINATED(e->source)) {
			rc = CD_ERR_INVALID;
			break;
		}
		store__bind_text(s, 1, e->device);
		sqlite3_bind_int64(s, 2, e->ts_ms);
		store__bind_text(s, 3, e->type);
		store__bind_text(s, 4, e->level);
		store__bind_text(s, 5, e->detail);
		store__bind_text(s, 6, e->source);
		if (e->alert_id)
			sqlite3_bind_int64(s, 7, e->alert_id);
		rc = store__exec(st, s, "device event insert"); /* resets s, bindings cleared */
	}
	sqlite3_finalize(s);
	if (!rc)
		rc = put_mark(st, STORE_EVENTS_MARK, op->seq);
	return rc;
}

enum cd_err store_device_events_add(struct store *st, const struct store_device_event *ev, size_t n)
{
	return store_device_events_add_seq(st, ev, n, 0);
}

enum cd_err store_device_events_add_seq(struct store *st, const struct store_device_event *ev, size_t n,
					uint64_t seq)
{
	if (n == 0 && !seq)
		return CD_OK;
	struct events_op op = {ev, n, seq};
	return store__in_tx(st, events_tx, &op);
}

/* The mark `key` from meta into *out (0 when unset or not a number). Store locked. */
static enum cd_err get_mark(struct store *st, const char *key, uint64_t *out)
{
	*out = 0;
	sqlite3_stmt *s = prep(st, "SELECT value FROM meta WHERE key = ?1");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, key);
	int src = sqlite3_step(s);
	enum cd_err rc = CD_OK;
	if (src == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		char *end = NULL;
		unsigned long long x = v ? strtoull(v, &end, 10) : 0;
		if (v && end != v && *end == 0)
			*out = x;
	} else if (src != SQLITE_DONE) {
		rc = store__err(st, src, "alerts replay mark");
	}
	sqlite3_finalize(s);
	return rc;
}

enum cd_err store_alerts_marks(struct store *st, uint64_t *alerts_seq, uint64_t *events_seq)
{
	store__lock(st);
	enum cd_err rc = get_mark(st, STORE_ALERTS_MARK, alerts_seq);
	if (!rc)
		rc = get_mark(st, STORE_EVENTS_MARK, events_seq);
	store__unlock(st);
	return rc;
}

enum cd_err store_device_events_count(struct store *st, const char *device, int64_t *out)
{
	*out = 0;
	store__lock(st);
	sqlite3_stmt *s = prep(st, "SELECT count(*) FROM device_events WHERE ?1 IS NULL OR device = ?1");
	if (s)
		store__bind_opt(s, 1, device);
	enum cd_err rc = one_int(st, s, "device events count", out);
	store__unlock(st);
	return rc;
}

/* ---- ingest keys ------------------------------------------------------------------------ */

struct ingest_op {
	const struct store_actor *actor;
	const char *name, *hash;
};

static enum cd_err ingest_put_tx(struct store *st, void *ctx)
{
	struct ingest_op *op = ctx;
	sqlite3_stmt *s = prep(st, "SELECT count(*) FROM ingest_systems WHERE name = ?1");
	if (!s)
		return CD_ERR_STORE;
	store__bind_text(s, 1, op->name);
	int existed = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0;
	sqlite3_finalize(s);
	s = prep(st, "INSERT INTO ingest_systems (name, key_hash, created_at) VALUES (?1, ?2, ?3) "
		     "ON CONFLICT (name) DO UPDATE SET key_hash = excluded.key_hash, disabled = 0");
	if (s) {
		store__bind_text(s, 1, op->name);
		store__bind_text(s, 2, op->hash);
		sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
	}
	enum cd_err rc = run(st, s, "ingest key");
	if (rc)
		return rc;
	char target[96], after[64];
	snprintf(target, sizeof target, "ingest_systems/%s", op->name);
	snprintf(after, sizeof after, "{\"key\":\"%s\"}", existed ? "replaced" : "new");
	return store__audit_add(st, op->actor, "ingest.key", target, NULL, after);
}

static bool valid_system_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

enum cd_err store_ingest_put(struct store *st, const struct store_actor *actor, const char *name,
			     const char *key_hash)
{
	if (!name || !key_hash || !valid_system_name(name) || strlen(key_hash) != 64 ||
	    strspn(key_hash, "0123456789abcdef") != 64)
		return CD_ERR_INVALID;
	struct ingest_op op = {actor, name, key_hash};
	return store__in_tx(st, ingest_put_tx, &op);
}

enum cd_err store_ingest_get(struct store *st, const char *name, char key_hash[STORE_HASH_HEX])
{
	key_hash[0] = 0;
	if (!name || !valid_system_name(name))
		return CD_ERR_NOTFOUND;
	store__lock(st);
	enum cd_err rc = CD_ERR_STORE;
	sqlite3_stmt *s = prep(st, "SELECT key_hash FROM ingest_systems WHERE name = ?1 AND disabled = 0");
	if (s) {
		store__bind_text(s, 1, name);
		int src = sqlite3_step(s);
		if (src == SQLITE_ROW)
			rc = store__col_copy(s, 0, key_hash, STORE_HASH_HEX);
		else
			rc = src == SQLITE_DONE ? CD_ERR_NOTFOUND : store__err(st, src, "ingest get");
		sqlite3_finalize(s);
	}
	store__unlock(st);
	return rc;
}
