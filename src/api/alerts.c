/* /api/v1/alerts: list with filters (level, status, device, street, rule, from, to), read one,
 * and POST /api/v1/alerts/{id}/actions {"action":"acknowledge"|"clear","comment"}. Scope is
 * the case list's: admins, district dispatchers, auditors and systems see every alert; street
 * dispatchers and grid workers their street's; unit staff their unit's; residents none. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/alerts.h"
#include "api/api.h"
#include "app/alerts.h"
#include "core/rules.h"
#include "store/store_alerts.h"
#include "util/alloc.h"

#define VIEWERS (API_ANY_ROLE & ~API_ROLE(ROLE_CITIZEN))
#define ACTORS (VIEWERS & ~API_ROLE(ROLE_AUDITOR))

/* Narrows a filter to what the caller may see. */
static void scope_of(const struct api_caller *who, struct store_alert_filter *f)
{
	switch (who->role) {
	case ROLE_STREET_DISPATCHER:
	case ROLE_GRID_WORKER:
		f->scope_street = who->user.street_code[0] ? who->user.street_code : "-";
		break;
	case ROLE_UNIT_STAFF:
		f->scope_unit = who->user.unit_code[0] ? who->user.unit_code : "-";
		break;
	default:
		break;
	}
}

static bool in_scope(const struct api_caller *who, const struct store_alert *al)
{
	struct store_alert_filter f;
	memset(&f, 0, sizeof f);
	scope_of(who, &f);
	if (f.scope_street && strcmp(f.scope_street, al->street_code) != 0)
		return false;
	if (f.scope_unit && strcmp(f.scope_unit, al->unit_code) != 0)
		return false;
	return true;
}

/* The alert {id} if the caller may see it; else 404 in res. */
static bool load_alert(struct http_request *req, struct http_response *res, struct app *app,
		       const struct api_caller *who, struct store_alert *al)
{
	const char *s = http_param(req, "id");
	char *end;
	errno = 0;
	long long id = s ? strtoll(s, &end, 10) : 0;
	enum cd_err rc = CD_ERR_NOTFOUND;
	if (s && !errno && end != s && !*end && id > 0)
		rc = store_alert_get(app->st, (int64_t)id, al);
	if (rc && rc != CD_ERR_NOTFOUND) {
		api_store_failed(req, res, rc);
		return false;
	}
	if (rc || !in_scope(who, al)) {
		http_error(res, 404, "not_found", "没有这条预警 (no such alert)", NULL);
		return false;
	}
	return true;
}

static bool query_time_ms(struct http_request *req, struct http_response *res, const char *name, int64_t *out)
{
	const char *v = http_query_get(req, name);
	int64_t t = 0;
	*out = 0;
	if (!v || !*v)
		return true;
	if (!api_parse_time(v, &t)) {
		http_error(res, 422, "invalid_parameter",
			   "an ISO 8601 date or time, e.g. 2026-11-27T08:00:00+08:00", name);
		return false;
	}
	*out = t * 1000;
	return true;
}

/* An optional query word that must be one of words[] (NULL-ended). */
static bool query_choice(struct http_request *req, struct http_response *res, const char *name,
			 const char *const *words, const char **out)
{
	const char *v = http_query_get(req, name);
	*out = NULL;
	if (!v || !*v)
		return true;
	for (size_t i = 0; words[i]; i++)
		if (strcmp(words[i], v) == 0) {
			*out = words[i];
			return true;
		}
	http_error(res, 422, "invalid_parameter", "not one of the allowed values", name);
	return false;
}

void api_alerts_list(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const levels[] = {"blue", "yellow", "orange", "red", NULL};
	static const char *const statuses[] = {"open", "acknowledged", "cleared", "active", NULL};
	struct app *app = ctx;
	long page, page_size;
	struct api_caller *who = api_require(req, res, app, VIEWERS);
	struct store_alert_filter f;
	memset(&f, 0, sizeof f);
	const char *rule = NULL;
	if (!who || !api_paging(req, res, &page, &page_size) ||
	    !query_choice(req, res, "level", levels, &f.level) ||
	    !query_choice(req, res, "status", statuses, &f.status) ||
	    !api_query_text(req, res, "device", 63, &f.device) ||
	    !api_query_text(req, res, "street", 31, &f.street) ||
	    !api_query_text(req, res, "rule", 19, &rule) || !query_time_ms(req, res, "from", &f.from_ms) ||
	    !query_time_ms(req, res, "to", &f.to_ms))
		return;
	if (rule) {
		char *end;
		errno = 0;
		long long v = strtoll(rule, &end, 10);
		if (errno || *end || v <= 0) {
			http_error(res, 422, "invalid_parameter", "a rule id", "rule");
			return;
		}
		f.rule_id = (int64_t)v;
	}
	scope_of(who, &f);
	struct store_alert *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	enum cd_err rc = store_alerts_list(app->st, &f, (page - 1) * page_size, page_size, &v, &n, &total);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, alerts_json(&v[i]));
	xfree(v);
	api_respond_page(res, items, (long long)total, page, page_size);
}

void api_alerts_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, VIEWERS);
	struct store_alert al;
	if (!who || !load_alert(req, res, app, who, &al))
		return;
	json_t *o = alerts_json(&al);
	http_respond_json(res, 200, o);
	json_decref(o);
}

void api_alerts_action(struct http_request *req, struct http_response *res, void *ctx)
{
	static const char *const allowed[] = {"action", "comment", NULL};
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, ACTORS);
	struct store_alert al;
	json_t *body = NULL;
	struct json_problem p;
	const char *action = NULL, *comment = NULL;
	if (!who || !load_alert(req, res, app, who, &al) || !http_read_json(req, res, &body))
		return;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "action", JSON_REQUIRED | JSON_NONEMPTY, 16, &action, &p) ||
	    json_get_string(body, "comment", JSON_OPTIONAL, 300, &comment, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	bool clear = strcmp(action, "clear") == 0;
	if (!clear && strcmp(action, "acknowledge") != 0) {
		http_error(res, 422, "invalid_field", "action must be acknowledge or clear", "action");
		goto out;
	}
	enum cd_err rc = alerts_act(app, &who->actor, who->user.role, al.id, clear, comment, &al);
	if (rc == CD_ERR_CONFLICT) {
		http_error(res, 409, "conflict",
			   clear ? "这条预警已解除 (the alert is cleared already)"
				 : "这条预警已确认或已解除 (the alert is acknowledged or cleared already)",
			   "action");
		goto out;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	json_t *o = alerts_json(&al);
	http_respond_json(res, 200, o);
	json_decref(o);
out:
	json_decref(body);
}
