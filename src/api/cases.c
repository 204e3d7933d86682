/* /api/v1/cases: report (any channel), list within the caller's scope, read one with its
 * history, and act on it through the workflow. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/cases.h"
#include "api/export.h"
#include "app/casework.h"
#include "app/commit_queue.h"
#include "app/events.h"
#include "app/intake.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/gcj02.h"
#include "core/pii.h"
#include "core/workflow.h"
#include "util/alloc.h"

static const char *const channels[] = {"hotline", "app", "grid", "camera", "iot", "enterprise", "open311", "system"};

static bool known_channel(const char *s)
{
	for (size_t i = 0; i < sizeof channels / sizeof channels[0]; i++)
		if (strcmp(s, channels[i]) == 0)
			return true;
	return false;
}

/* The channel a caller's reports come from when they do not say. */
static const char *default_channel(enum auth_role role)
{
	switch (role) {
	case ROLE_CITIZEN: return "app";
	case ROLE_GRID_WORKER: return "grid";
	case ROLE_SYSTEM: return "system";
	default: return "hotline";
	}
}

/* The case `ref` if it exists and the caller may see it; else 404 in res. */
static bool load_case(struct http_request *req, struct http_response *res, struct app *app,
		      const struct api_caller *who, const char *ref, struct store_case *c)
{
	enum cd_err rc = store_case_get_by_ref(app->st, ref ? ref : "", c);
	if (rc && rc != CD_ERR_NOTFOUND) {
		api_store_failed(req, res, rc);
		return false;
	}
	struct workflow_scope scope = {
		who->user.street_code[0] ? who->user.street_code : NULL,
		who->user.unit_code[0] ? who->user.unit_code : NULL,
		rc == CD_OK && c->street_code[0] ? c->street_code : NULL,
		rc == CD_OK && c->unit_code[0] ? c->unit_code : NULL,
		rc == CD_OK && c->reporter_user_id && c->reporter_user_id == who->user.id,
	};
	if (rc == CD_ERR_NOTFOUND || !workflow_in_scope(who->role, &scope)) {
		http_error(res, 404, "not_found", "没有这个案件 (no such case)", NULL);
		return false;
	}
	return true;
}

/* Answers with the case as this caller may see it. */
static void reply_case(struct http_response *res, int status, struct app *app, const struct store_case *c,
		       const struct api_caller *who)
{
	json_t *reply = cases_case_json(app, c, who);
	http_respond_json(res, status, reply);
	json_decref(reply);
}

/* Checks that every id in the JSON array names a stored file; *text gets the array as JSON. */
static bool check_attachments(struct app *app, const json_t *arr, char **text, struct json_problem *p)
{
	size_t i;
	const json_t *v;
	if (json_array_size(arr) > 9) {
		json_problem_set(p, 422, "invalid_field", "attachments", "at most 9 attachments");
		return false;
	}
	json_array_foreach(arr, i, v) {
		struct store_file f;
		if (!json_is_string(v) || store_file_get(app->st, json_string_value(v), &f)) {
			json_problem_set(p, 422, "invalid_field", "attachments",
					 "attachments must be ids returned by POST /api/v1/files");
			return false;
		}
	}
	*text = json_dumps(arr, JSON_COMPACT);
	return *text != NULL;
}

/* Reads {"working_days":N} | {"working_hours":N} | {"hours":N}. */
static bool read_time_limit(const json_t *obj, struct cal_limit *lim, struct json_problem *p)
{
	if (json_object_size(obj) != 1)
		goto bad;
	static const char *const kinds[] = {"working_days", "working_hours", "hours"};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		const json_t *v = json_object_get(obj, kinds[i]);
		if (!v)
			continue;
		if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 1000 ||
		    cal_limit_from(kinds[i], json_number_value(v), lim))
			goto bad;
		return true;
	}
bad:
	json_problem_set(p, 422, "invalid_field", "time_limit",
			 "time_limit must be one of {\"working_days\":N}, {\"working_hours\":N}, {\"hours\":N}");
	return false;
}

/* A report on its way into the store: lives in the request's memory until the answer is sent. */
struct pending_intake {
	struct app *app;
	const struct api_caller *who;
	struct http_deferred *deferred;
	struct store_case c;
	struct store_case_event ev;
	struct commit_slot slot;
	struct similar_case sig; /* its duplicate-finder signature, made before the commit */
	enum cd_err rc;          /* the store's answer for this case */
};

/* Runs on a server thread when the answer goes out: builds it from the stored case. */
static void intake_respond(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	struct pending_intake *pi = ctx;
	if (pi->rc == CD_OK || pi->rc == CD_ERR_EXISTS) {
		/* Written straight into the response: no json_t tree on the hot path. */
		buf_reset(&res->body);
		res->static_body = NULL;
		res->static_len = 0;
		if (cases_case_write(&res->body, pi->app, &pi->c, pi->who)) {
			http_error(res, 500, "internal", "the response could not be built", NULL);
			return;
		}
		res->status = pi->rc == CD_OK ? 201 : 200;
		res->content_type = HTTP_JSON_TYPE;
	} else if (pi->rc == CD_ERR_INVALID) {
		http_error(res, 422, "invalid_field", "the store refused the case", NULL);
	} else if (pi->rc == CD_ERR_BUSY) {
		http_error(res, 503, "busy", "服务繁忙，请稍后重试 (busy; nothing was stored, try again)", NULL);
	} else if (pi->rc == CD_ERR_RANGE) {
		http_error(res, 503, "day_full", INTAKE_DAY_FULL_MESSAGE, "reported_at");
	} else {
		http_error(res, 500, "internal", "服务器内部错误 (the store failed; nothing was changed)", NULL);
	}
}

/* Runs on the intake notifier (commit_queue.h) once the batch holding this case is durable:
 * announces it and lets the connection's own thread write the answer. */
static void intake_stored(void *ctx, enum cd_err rc)
{
	struct pending_intake *pi = ctx;
	pi->rc = rc;
	if (rc == CD_OK) {
		/* Indexed here, not when the answer is written: a client that has gone away does not
		 * keep its case out of the duplicate finder. The signature was made before the commit. */
		intake_index_case(pi->app, &pi->c, &pi->sig);
		events_case(pi->app->events, "case.created", &pi->c);
	}
	http_deferred_finish_with(pi->deferred, intake_respond, pi);
}

void api_cases_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"channel", "description", "title", "lat", "lng", "crs", "address",
					      "category", "reporter", "attachments", "external_id", "time_limit",
					      "reported_at", NULL};
	static const char *const reporter_fields[] = {"name", "phone", NULL};
	const unsigned may_report = API_ANY_ROLE & ~API_ROLE(ROLE_AUDITOR);
	struct api_caller *who = api_require(req, res, app, may_report);
	json_t *body = NULL;
	char *attachments = NULL;
	struct json_problem p;
	struct intake_request in;
	const json_t *reporter = NULL, *files = NULL, *limit = NULL;
	const char *crs = NULL, *reported = NULL;
	double lat = NAN, lng = NAN;
	memset(&in, 0, sizeof in);
	if (!who || !http_read_json(req, res, &body))
		return;
	in.channel = default_channel(who->role);
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "channel", JSON_OPTIONAL, 16, &in.channel, &p) ||
	    json_get_string(body, "description", JSON_REQUIRED | JSON_NONEMPTY, 4000, &in.description, &p) ||
	    json_get_string(body, "title", JSON_OPTIONAL, 200, &in.title, &p) ||
	    json_get_double(body, "lat", JSON_OPTIONAL, -90, 90, &lat, &p) ||
	    json_get_double(body, "lng", JSON_OPTIONAL, -180, 180, &lng, &p) ||
	    json_get_string(body, "crs", JSON_OPTIONAL, 8, &crs, &p) ||
	    json_get_string(body, "address", JSON_OPTIONAL, 300, &in.address, &p) ||
	    json_get_string(body, "category", JSON_OPTIONAL, 23, &in.category, &p) ||
	    json_get_value(body, "reporter", JSON_OPTIONAL, JSON_OBJECT, &reporter, &p) ||
	    json_get_value(body, "attachments", JSON_OPTIONAL, JSON_ARRAY, &files, &p) ||
	    json_get_string(body, "external_id", JSON_OPTIONAL, 64, &in.external_id, &p) ||
	    json_get_value(body, "time_limit", JSON_OPTIONAL, JSON_OBJECT, &limit, &p) ||
	    json_get_string(body, "reported_at", JSON_OPTIONAL, 40, &reported, &p))
		goto refuse;
	if (reporter && (json_check_fields(reporter, reporter_fields, &p) ||
			 json_get_string(reporter, "name", JSON_OPTIONAL, 50, &in.reporter_name, &p) ||
			 json_get_string(reporter, "phone", JSON_OPTIONAL, 20, &in.reporter_phone, &p))) {
		char inner[64];
		snprintf(inner, sizeof inner, "%.60s", p.field[0] ? p.field : "name");
		snprintf(p.field, sizeof p.field, "reporter.%s", inner);
		goto refuse;
	}
	if (in.reporter_phone && strspn(in.reporter_phone, "0123456789+- ") != strlen(in.reporter_phone)) {
		json_problem_set(&p, 422, "invalid_field", "reporter.phone", "a phone number has digits, +, - and spaces");
		goto refuse;
	}
	if (!known_channel(in.channel)) {
		json_problem_set(&p, 422, "invalid_field", "channel", "unknown channel \"%.16s\"", in.channel);
		goto refuse;
	}
	if (who->role == ROLE_CITIZEN && strcmp(in.channel, "app") != 0) {
		http_error(res, 403, "forbidden", "residents report through the app channel", "channel");
		goto out;
	}
	if (isnan(lat) != isnan(lng)) {
		json_problem_set(&p, 422, "missing_field", isnan(lat) ? "lat" : "lng", "lat and lng go together");
		goto refuse;
	}
	if (crs && strcmp(crs, "wgs84") != 0 && strcmp(crs, "gcj02") != 0) {
		json_problem_set(&p, 422, "invalid_field", "crs", "crs must be wgs84 or gcj02");
		goto refuse;
	}
	if (!isnan(lat)) {
		struct geo_point pt = {lng, lat};
		if (crs && strcmp(crs, "gcj02") == 0)
			pt = gcj02_to_wgs84(pt);
		in.has_point = true;
		in.lat = pt.lat;
		in.lng = pt.lng;
	}
	if (files && !check_attachments(app, files, &attachments, &p))
		goto refuse;
	in.attachments = attachments;
	if (limit) {
		if (who->role != ROLE_ADMIN && who->role != ROLE_DISTRICT_DISPATCHER &&
		    who->role != ROLE_STREET_DISPATCHER) {
			http_error(res, 403, "forbidden", "only dispatchers and admins may set a time limit", "time_limit");
			goto out;
		}
		if (!read_time_limit(limit, &in.limit, &p))
			goto refuse;
		in.has_limit = true;
	}
	if (reported) {
		if (who->role != ROLE_ADMIN && who->role != ROLE_SYSTEM) {
			http_error(res, 403, "forbidden", "only admins and systems may set reported_at", "reported_at");
			goto out;
		}
		if (!api_parse_time(reported, &in.reported_at) || in.reported_at > (int64_t)time(NULL) + 300) {
			json_problem_set(&p, 422, "invalid_field", "reported_at",
					 "reported_at must be an ISO 8601 time, not in the future");
			goto refuse;
		}
	}
	in.reporter_user_id = who->role == ROLE_CITIZEN ? who->user.id : 0;
	in.actor = who->user.username;
	in.actor_role = who->user.role;

	/* Every stage but the store runs here; the store write joins the next group commit and
	 * the answer goes out when it is durable, without holding this thread meanwhile. */
	struct pending_intake *pi = http_alloc(req, sizeof *pi);
	if (!pi) {
		http_error(res, 500, "internal", "out of memory", NULL);
		goto out;
	}
	enum cd_err rc = intake_prepare(app, &in, &pi->c, &pi->ev, &pi->sig, &p);
	if (rc == CD_ERR_INVALID)
		goto refuse;
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	pi->app = app;
	pi->who = who;
	pi->deferred = http_defer(req, res);
	if (!pi->deferred) {
		http_error(res, 500, "internal", "could not defer the response", NULL);
		goto out;
	}
	if (commit_queue_submit_async(app->intake, &pi->c, &pi->ev, &pi->slot, intake_stored, pi)) {
		http_error(http_deferred_response(pi->deferred), 503, "shutting_down", "服务正在停止 (stopping)", NULL);
		http_deferred_finish(pi->deferred);
	}
	goto out;
refuse:
	http_error_json(res, &p);
out:
	xfree(attachments);
	json_decref(body);
}

static bool query_time(struct http_request *req, struct http_response *res, const char *name, int64_t *out)
{
	const char *v = http_query_get(req, name);
	*out = 0;
	if (!v || !*v)
		return true;
	if (!api_parse_time(v, out)) {
		http_error(res, 422, "invalid_parameter", "an ISO 8601 date or time, e.g. 2026-11-27T08:00:00+08:00",
			   name);
		return false;
	}
	return true;
}

/* The matching cases (up to EXPORT_MAX_ROWS) as a spreadsheet, personal data as on screen. */
static void export_cases(struct http_request *req, struct http_response *res, struct app *app,
			 const struct api_caller *who, struct store_case_filter *f, enum export_format fmt)
{
	static const struct {
		const char *title;
		enum table_type type;
	} cols[] = {
		{"案件编号", TABLE_TEXT}, {"状态", TABLE_TEXT}, {"渠道", TABLE_TEXT}, {"类别代码", TABLE_TEXT},
		{"类别", TABLE_TEXT}, {"街道", TABLE_TEXT}, {"社区", TABLE_TEXT}, {"网格", TABLE_TEXT},
		{"责任单位", TABLE_TEXT}, {"标题", TABLE_TEXT}, {"描述", TABLE_TEXT}, {"地址", TABLE_TEXT},
		{"上报时间", TABLE_TIME}, {"办理期限", TABLE_TIME}, {"结案时间", TABLE_TIME}, {"超期", TABLE_TEXT},
		{"返工次数", TABLE_INT}, {"满意度", TABLE_TEXT}, {"报告人", TABLE_TEXT}, {"电话", TABLE_TEXT},
	};
	struct table *t = table_new(EXPORT_MAX_ROWS, 64u << 20);
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
		table_add_col(t, cols[c].title, cols[c].type, NULL);
	struct store_case_page pg;
	enum cd_err rc = CD_OK;
	for (int64_t offset = 0; offset < EXPORT_MAX_ROWS && !rc; offset += STORE_CASES_PAGE_MAX) {
		memset(&pg, 0, sizeof pg);
		rc = store_cases_list(app->st, f, offset, STORE_CASES_PAGE_MAX, &pg);
		for (size_t i = 0; !rc && i < pg.n; i++) {
			const struct store_case *c = &pg.cases[i];
			struct store_unit unit;
			char street[STORE_NAME_MAX], community[STORE_NAME_MAX], phone[64];
			const struct category *cat = c->category_code[0] ? category_get(app->cats, c->category_code) : NULL;
			mapview_area_name(&app->map_lock, &app->map, c->street_code, street, sizeof street);
			mapview_area_name(&app->map_lock, &app->map, c->community_code, community, sizeof community);
			bool pii = cases_sees_personal_data(who, c);
			if (pii)
				snprintf(phone, sizeof phone, "%s", c->reporter_phone);
			else
				cases_mask_phone(c->reporter_phone, phone, sizeof phone);
			if ((rc = table_add_row(t)))
				break;
			table_put_text(t, c->ref);
			table_put_text(t, c->status);
			table_put_text(t, c->channel);
			table_put_text(t, c->category_code);
			table_put_text(t, cat ? cat->name : "");
			table_put_text(t, street);
			table_put_text(t, community);
			table_put_text(t, c->grid_code);
			table_put_text(t, c->unit_code[0] && !store_unit_get(app->st, c->unit_code, &unit) ? unit.name
											   : c->unit_code);
			if (pii) {
				table_put_text(t, c->title);
				table_put_text(t, c->description);
				table_put_text(t, c->address);
			} else { /* as on screen: personal data in the text masked too */
				const char *texts[] = {c->title, c->description, c->address};
				for (size_t k = 0; k < 3; k++) {
					char *masked = xstrdup(texts[k]);
					pii_mask_inplace(masked, strlen(masked), PII_ALL);
					table_put_text(t, masked);
					xfree(masked);
				}
			}
			table_put_time(t, c->reported_at);
			if (c->deadline)
				table_put_time(t, c->deadline);
			else
				table_put_empty(t);
			if (c->closed_at)
				table_put_time(t, c->closed_at);
			else
				table_put_empty(t);
			table_put_text(t, c->overdue ? "是" : "");
			table_put_int(t, c->rework_count);
			table_put_text(t, c->satisfaction);
			table_put_text(t, pii ? c->reporter_name : (c->reporter_name[0] ? "*" : ""));
			table_put_text(t, phone);
		}
		size_t got = pg.n;
		store_case_page_release(&pg);
		if (got < STORE_CASES_PAGE_MAX)
			break;
	}
	if (rc && rc != CD_ERR_TOOBIG) {
		table_free(t);
		api_store_failed(req, res, rc);
		return;
	}
	export_send(req, res, app, who, t, fmt, "cases", "cases.export");
	table_free(t);
}

void api_cases_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const unsigned may_list = API_ANY_ROLE & ~API_ROLE(ROLE_CITIZEN);
	struct api_caller *who = api_require(req, res, app, may_list);
	struct store_case_filter f;
	const char *overdue = NULL, *triage = NULL;
	long page, page_size;
	memset(&f, 0, sizeof f);
	if (!who || !api_paging(req, res, &page, &page_size) ||
	    !api_query_text(req, res, "status", 20, &f.status) ||
	    !api_query_text(req, res, "street", 12, &f.street_code) ||
	    !api_query_text(req, res, "community", 12, &f.community_code) ||
	    !api_query_text(req, res, "unit", 30, &f.unit_code) ||
	    !api_query_text(req, res, "category", 23, &f.category_prefix) ||
	    !api_query_text(req, res, "channel", 16, &f.channel) ||
	    !api_query_text(req, res, "overdue", 5, &overdue) ||
	    !api_query_text(req, res, "triage", 5, &triage) ||
	    !api_query_text(req, res, "q", 100, &f.q) || !query_time(req, res, "from", &f.from) ||
	    !query_time(req, res, "to", &f.to))
		return;
	enum workflow_state st;
	if (f.status && workflow_state_parse(f.status, &st)) {
		http_error(res, 422, "invalid_parameter", "unknown status", "status");
		return;
	}
	if (f.channel && !known_channel(f.channel)) {
		http_error(res, 422, "invalid_parameter", "unknown channel", "channel");
		return;
	}
	if (overdue) {
		if (strcmp(overdue, "true") != 0 && strcmp(overdue, "false") != 0) {
			http_error(res, 422, "invalid_parameter", "overdue is true or false", "overdue");
			return;
		}
		f.overdue = strcmp(overdue, "true") == 0 ? 1 : -1;
	}
	if (triage) {
		if (strcmp(triage, "true") != 0 && strcmp(triage, "false") != 0) {
			http_error(res, 422, "invalid_parameter", "triage is true or false", "triage");
			return;
		}
		f.uncategorized = strcmp(triage, "true") == 0; /* the queue of cases waiting for a category */
	}
	/* The caller's scope narrows every list. */
	if (who->role == ROLE_STREET_DISPATCHER || (who->role == ROLE_GRID_WORKER && who->user.street_code[0]))
		f.scope_street = who->user.street_code;
	if (who->role == ROLE_UNIT_STAFF)
		f.scope_unit = who->user.unit_code;
	enum export_format fmt;
	if (!export_format_of(req, res, &fmt))
		return;
	if (fmt != EXPORT_NONE) {
		export_cases(req, res, app, who, &f, fmt);
		return;
	}
	struct store_case_page pg;
	memset(&pg, 0, sizeof pg);
	enum cd_err rc = store_cases_list(app->st, &f, (int64_t)(page - 1) * page_size, page_size, &pg);
	if (rc == CD_ERR_TOOBIG) {
		http_error(res, 422, "filter_too_broad", "查询过于宽泛，请加上时间范围等条件 (narrow the filter, e.g. from/to)", "q");
		return;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < pg.n; i++)
		json_array_append_new(items, cases_case_json(app, &pg.cases[i], who));
	json_t *reply = api_page_json(items, pg.total, page, page_size);
	if (pg.total_capped)
		json_object_set_new(reply, "total_capped", json_true());
	store_case_page_release(&pg);
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

/* The wire names of a set of workflow actions, as a JSON array. */
static json_t *action_names_json(uint32_t set)
{
	const char *names[WF_ACTION_COUNT];
	size_t n = workflow_action_set_names(set, names);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(names[i]));
	return list;
}

void api_cases_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_authenticate(req, res, app);
	struct store_case *c = http_alloc(req, sizeof *c);
	if (!who || !c || !load_case(req, res, app, who, http_param(req, "id"), c))
		return;
	json_t *reply = cases_case_json(app, c, who);
	json_object_set_new(reply, "history", cases_history_json(app, c));
	struct workflow_case facts = casework_facts(c);
	json_object_set_new(reply, "allowed_actions", action_names_json(workflow_allowed(&facts, who->role)));
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

/* The 409 for an action the workflow refuses, listing what the caller may do instead. */
static void refuse_action(struct http_response *res, const char *why, uint32_t allowed)
{
	json_t *err = json_pack("{s:{s:s, s:s, s:s, s:o}}", "error", "code", "action_not_allowed", "message",
				why ? why : "not allowed now", "field", "action", "allowed_actions",
				action_names_json(allowed));
	http_respond_json(res, 409, err);
	json_decref(err);
}

void api_cases_action(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"action", "comment", "reason", "result", "passed", "satisfaction",
					      "into", "unit", "working_days", "approved", "category",
					      "attachments", "version", NULL};
	struct api_caller *who = api_authenticate(req, res, app);
	struct store_case *c = http_alloc(req, sizeof *c);
	json_t *body = NULL;
	char *attachments = NULL;
	struct json_problem p;
	struct casework_action a;
	const char *action = NULL, *satisfaction = NULL, *into = NULL;
	const json_t *files = NULL;
	long long version = 0, working_days = 0;
	memset(&a, 0, sizeof a);
	a.approved = true;
	if (!who || !c || !load_case(req, res, app, who, http_param(req, "id"), c) || !http_read_json(req, res, &body))
		goto out;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "action", JSON_REQUIRED | JSON_NONEMPTY, 32, &action, &p) ||
	    json_get_string(body, "comment", JSON_OPTIONAL, 1000, &a.comment, &p) ||
	    json_get_string(body, "reason", JSON_OPTIONAL | JSON_NONEMPTY, 1000, &a.reason, &p) ||
	    json_get_string(body, "result", JSON_OPTIONAL | JSON_NONEMPTY, 2000, &a.result, &p) ||
	    json_get_bool(body, "passed", JSON_OPTIONAL, &a.passed, &p) ||
	    json_get_string(body, "satisfaction", JSON_OPTIONAL, 32, &satisfaction, &p) ||
	    json_get_string(body, "into", JSON_OPTIONAL, 32, &into, &p) ||
	    json_get_string(body, "unit", JSON_OPTIONAL, 30, &a.unit, &p) ||
	    json_get_int(body, "working_days", JSON_OPTIONAL, 1, 60, &working_days, &p) ||
	    json_get_bool(body, "approved", JSON_OPTIONAL, &a.approved, &p) ||
	    json_get_string(body, "category", JSON_OPTIONAL, 23, &a.category, &p) ||
	    json_get_value(body, "attachments", JSON_OPTIONAL, JSON_ARRAY, &files, &p) ||
	    json_get_int(body, "version", JSON_OPTIONAL, 1, INT64_MAX, &version, &p))
		goto refuse;
	if (workflow_action_parse(action, &a.action)) {
		json_problem_set(&p, 422, "invalid_field", "action", "unknown action \"%.32s\"", action);
		goto refuse;
	}
	/* Which parameters are present, for the workflow's per-action check. */
	uint32_t present = 0;
	for (int k = 0; k < WF_PARAM_COUNT; k++)
		if (json_object_get(body, workflow_param_name((enum workflow_param)k)))
			present |= WF_PARAM_BIT(k);
	enum workflow_param missing;
	if (workflow_params_check(a.action, present, &missing)) {
		bool absent = !(present & WF_PARAM_BIT(missing));
		json_problem_set(&p, 422, absent ? "missing_field" : "unknown_field", workflow_param_name(missing),
				 absent ? "this action needs %s" : "this action does not take %s",
				 workflow_param_name(missing));
		goto refuse;
	}
	a.working_days = (int)working_days;
	if (satisfaction && workflow_satisfaction_parse(satisfaction, &a.satisfaction)) {
		json_problem_set(&p, 422, "invalid_field", "satisfaction",
				 "satisfaction is satisfied, basically_satisfied or dissatisfied");
		goto refuse;
	}
	struct store_unit unit;
	if (a.unit && store_unit_get(app->st, a.unit, &unit)) {
		json_problem_set(&p, 422, "invalid_field", "unit", "unknown unit \"%.30s\"", a.unit);
		goto refuse;
	}
	if (a.category && !category_get(app->cats, a.category)) {
		json_problem_set(&p, 422, "unknown_category", "category", "unknown category code");
		goto refuse;
	}
	if (into) {
		struct store_case *master = http_alloc(req, sizeof *master);
		if (!master || store_case_get_by_ref(app->st, into, master) || master->id == c->id ||
		    master->merged_into) {
			json_problem_set(&p, 422, "invalid_field", "into", "into must name another case that is not merged");
			goto refuse;
		}
		a.into_id = master->id;
	}
	if (files && !check_attachments(app, files, &attachments, &p))
		goto refuse;
	a.attachments = attachments;
	if (version && version != c->version) {
		http_error(res, 409, "version_conflict", "the case changed since you read it; read it again", "version");
		goto out;
	}
	struct casework_actor actor = {who->user.username, who->role, who->actor};
	uint32_t allowed_now = 0;
	const char *why = NULL;
	enum cd_err rc = casework_apply(app, &actor, c, &a, &allowed_now, &why, &p);
	if (rc == CD_ERR_CONFLICT) {
		refuse_action(res, why, allowed_now);
		goto out;
	}
	if (rc == CD_ERR_INVALID)
		goto refuse;
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	reply_case(res, 200, app, c, who);
	goto out;
refuse:
	http_error_json(res, &p);
out:
	xfree(attachments);
	json_decref(body);
}

/* POST /api/v1/cases/{id}/location {"lat","lng"[,"crs"]} | {"address"}: a dispatcher places a
 * case (one that came without a usable place, or one placed wrongly). The street, community,
 * grid cell and, while it has not been dispatched, the routed unit follow the new place. */
void api_cases_locate(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"lat", "lng", "crs", "address", "comment", "version", NULL};
	unsigned placers = API_ROLE(ROLE_ADMIN) | API_ROLE(ROLE_DISTRICT_DISPATCHER) | API_ROLE(ROLE_STREET_DISPATCHER);
	struct api_caller *who = api_require(req, res, app, placers);
	struct store_case *c = http_alloc(req, sizeof *c), *placed = http_alloc(req, sizeof *placed);
	struct store_case_event ev;
	json_t *body = NULL;
	struct json_problem p;
	struct intake_request in;
	const char *crs = NULL, *comment = NULL;
	double lat = NAN, lng = NAN;
	long long version = 0;
	memset(&in, 0, sizeof in);
	if (!who || !c || !placed || !load_case(req, res, app, who, http_param(req, "id"), c) ||
	    !http_read_json(req, res, &body))
		goto out;
	if (json_check_fields(body, allowed, &p) || json_get_double(body, "lat", JSON_OPTIONAL, -90, 90, &lat, &p) ||
	    json_get_double(body, "lng", JSON_OPTIONAL, -180, 180, &lng, &p) ||
	    json_get_string(body, "crs", JSON_OPTIONAL, 8, &crs, &p) ||
	    json_get_string(body, "address", JSON_OPTIONAL, 300, &in.address, &p) ||
	    json_get_string(body, "comment", JSON_OPTIONAL, 1000, &comment, &p) ||
	    json_get_int(body, "version", JSON_OPTIONAL, 1, INT64_MAX, &version, &p))
		goto refuse;
	if (isnan(lat) != isnan(lng) || (isnan(lat) && !in.address)) {
		json_problem_set(&p, 422, "missing_field", isnan(lat) && !isnan(lng) ? "lat" : "lng",
				 "give lat and lng, or an address");
		goto refuse;
	}
	if (!isnan(lat)) {
		struct geo_point pt = {lng, lat};
		if (crs && strcmp(crs, "gcj02") == 0)
			pt = gcj02_to_wgs84(pt);
		else if (crs && strcmp(crs, "wgs84") != 0) {
			json_problem_set(&p, 422, "invalid_field", "crs", "crs must be wgs84 or gcj02");
			goto refuse;
		}
		in.has_point = true;
		in.lat = pt.lat;
		in.lng = pt.lng;
	}
	if (version && version != c->version) {
		http_error(res, 409, "version_conflict", "the case changed since you read it; read it again", "version");
		goto out;
	}
	/* Run the locate stage alone on a scratch case, then copy the place over. */
	in.channel = c->channel;
	in.description = c->description;
	in.category = c->category_code[0] ? c->category_code : NULL;
	in.reported_at = c->reported_at;
	in.actor = who->user.username;
	in.actor_role = who->user.role;
	if (intake_prepare(app, &in, placed, &ev, NULL, &p))
		goto refuse;
	if (who->role == ROLE_STREET_DISPATCHER && strcmp(placed->street_code, who->user.street_code) != 0) {
		http_error(res, 403, "forbidden", "a street dispatcher places cases within their street", "lat");
		goto out;
	}
	struct store_case after = *c;
	after.has_point = placed->has_point;
	after.lat = placed->lat;
	after.lng = placed->lng;
	if (in.address)
		snprintf(after.address, sizeof after.address, "%s", placed->address);
	snprintf(after.street_code, sizeof after.street_code, "%s", placed->street_code);
	snprintf(after.community_code, sizeof after.community_code, "%s", placed->community_code);
	snprintf(after.grid_code, sizeof after.grid_code, "%s", placed->grid_code);
	if (!c->dispatched_at)
		snprintf(after.unit_code, sizeof after.unit_code, "%s", placed->unit_code);
	memset(&ev, 0, sizeof ev);
	ev.at = (int64_t)time(NULL);
	snprintf(ev.actor, sizeof ev.actor, "%s", who->user.username);
	snprintf(ev.role, sizeof ev.role, "%s", who->user.role);
	snprintf(ev.action, sizeof ev.action, "place");
	snprintf(ev.from_status, sizeof ev.from_status, "%s", c->status);
	snprintf(ev.to_status, sizeof ev.to_status, "%s", c->status);
	snprintf(ev.comment, sizeof ev.comment, "%s", comment ? comment : "");
	snprintf(ev.data, sizeof ev.data, "{\"street\":\"%s\",\"community\":\"%s\",\"grid\":\"%s\"}",
		 after.street_code, after.community_code, after.grid_code);
	enum cd_err rc = store_case_apply(app->st, &who->actor, c->id, c->version, &after, &ev, NULL, 0);
	if (rc == CD_ERR_CONFLICT) {
		http_error(res, 409, "version_conflict", "the case changed meanwhile; read it again", NULL);
		goto out;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	events_case(app->events, "case.placed", &after);
	reply_case(res, 200, app, &after, who);
	goto out;
refuse:
	http_error_json(res, &p);
out:
	json_decref(body);
}
