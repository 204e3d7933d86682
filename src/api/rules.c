/* /api/v1/rules: list, create, read, replace and delete alert rules. The body is checked with
 * rules_from_json and stored in its normal form (rules_to_json), so what is read back is what
 * the engine runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/rules.h"
#include "app/alerts.h"
#include "core/rules.h"
#include "store/store_alerts.h"
#include "util/alloc.h"

#define READERS (API_ANY_ROLE & ~API_ROLE(ROLE_CITIZEN))

/* Tells the engine and waits until it has reloaded, so a rule is in force when the API answers. */
static void rules_in_force(struct app *app)
{
	alerts_rules_changed(app->alerts);
	alerts_drain(app->alerts);
}

/* The stored rule as the API shows it: the rule JSON with id and times, or the stored text
 * under "body" if it no longer reads (a newer or hand-edited form). */
static json_t *rule_json(const struct store_rule *r)
{
	json_t *body = json_loads(r->body, 0, NULL);
	struct rules_rule rule;
	struct json_problem p;
	json_t *o;
	if (body && rules_from_json(body, &rule, &p) == CD_OK) {
		rule.id = r->id;
		o = rules_to_json(&rule);
	} else {
		o = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)r->id, "name", r->name, "body",
			      r->body, "valid", 0);
	}
	json_decref(body);
	char t[32];
	api_time_iso(r->created_at, t);
	json_object_set_new(o, "created_at", json_string(t));
	api_time_iso(r->updated_at, t);
	json_object_set_new(o, "updated_at", json_string(t));
	return o;
}

#define NO_SUCH_RULE "没有这条规则 (no such rule)"

/* The {id} of the path, or 0 with 404 in res. */
static int64_t path_id(struct http_request *req, struct http_response *res)
{
	const char *s = http_param(req, "id");
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || errno || end == s || *end || v <= 0) {
		http_error(res, 404, "not_found", NO_SUCH_RULE, NULL);
		return 0;
	}
	return (int64_t)v;
}

/* True when the store call on a rule named by the path succeeded; else false with 404 (no such
 * rule) or the store's failure in res. */
static bool rule_found(struct http_request *req, struct http_response *res, enum cd_err rc)
{
	if (rc == CD_ERR_NOTFOUND)
		http_error(res, 404, "not_found", NO_SUCH_RULE, NULL);
	else if (rc)
		api_store_failed(req, res, rc);
	return !rc;
}

/* Reads and checks the body; on success *body_text is the normal form to store (xfree). */
static bool read_rule(struct http_request *req, struct http_response *res, struct rules_rule *rule,
		      char **body_text)
{
	json_t *body = NULL;
	struct json_problem p;
	if (!http_read_json(req, res, &body))
		return false;
	json_object_del(body, "id"); /* the path names it */
	enum cd_err rc = rules_from_json(body, rule, &p);
	json_decref(body);
	if (rc) {
		http_error_json(res, &p);
		return false;
	}
	json_t *norm = rules_to_json(rule);
	*body_text = json_dumps(norm, JSON_COMPACT);
	json_decref(norm);
	if (!*body_text || strlen(*body_text) >= STORE_RULE_BODY_MAX) {
		http_error(res, 422, "invalid_field", "the rule is too long", NULL);
		xfree(*body_text);
		return false;
	}
	return true;
}

static void respond_rule(struct http_response *res, const struct store_rule *r, int status)
{
	json_t *o = rule_json(r);
	http_respond_json(res, status, o);
	json_decref(o);
}

/* Answers a write with the rule as stored (a store failure when it cannot be read back). */
static void reply_rule(struct http_request *req, struct http_response *res, struct app *app, int64_t id,
		       int status)
{
	struct store_rule r;
	enum cd_err rc = store_rule_get(app->st, id, &r);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	respond_rule(res, &r, status);
}

void api_rules_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	if (!api_require(req, res, app, READERS))
		return;
	struct store_rule *rows = NULL;
	size_t n = 0;
	enum cd_err rc = store_rules_list(app->st, &rows, &n);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, rule_json(&rows[i]));
	xfree(rows);
	api_respond_page(res, items, (long long)n, 1, (long)(n ? n : 1));
}

void api_rules_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, API_ROLE(ROLE_ADMIN));
	struct rules_rule rule;
	char *text = NULL;
	if (!who || !read_rule(req, res, &rule, &text))
		return;
	int64_t id = 0;
	enum cd_err rc = store_rule_add(app->st, &who->actor, rule.name, text, &id);
	xfree(text);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	rules_in_force(app);
	reply_rule(req, res, app, id, 201);
}

void api_rules_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	if (!api_require(req, res, app, READERS))
		return;
	int64_t id = path_id(req, res);
	if (!id)
		return;
	struct store_rule r;
	if (rule_found(req, res, store_rule_get(app->st, id, &r)))
		respond_rule(res, &r, 200);
}

void api_rules_update(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, API_ROLE(ROLE_ADMIN));
	if (!who)
		return;
	int64_t id = path_id(req, res);
	struct rules_rule rule;
	char *text = NULL;
	if (!id || !read_rule(req, res, &rule, &text))
		return;
	enum cd_err rc = store_rule_update(app->st, &who->actor, id, rule.name, text);
	xfree(text);
	if (!rule_found(req, res, rc))
		return;
	rules_in_force(app);
	reply_rule(req, res, app, id, 200);
}

void api_rules_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, API_ROLE(ROLE_ADMIN));
	if (!who)
		return;
	int64_t id = path_id(req, res);
	if (!id)
		return;
	if (!rule_found(req, res, store_rule_delete(app->st, &who->actor, id)))
		return;
	rules_in_force(app);
	res->status = 204;
}
