/* How a case looks on the wire: names for codes, the category path, times with +08:00, and
 * personal data masked for roles that do not need it. */
#include <stdio.h>
#include <string.h>

#include "api/cases.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/pii.h"
#include "core/workflow.h"
#include "util/alloc.h"

bool cases_sees_personal_data(const struct api_caller *who, const struct store_case *c)
{
	switch (who->role) {
	case ROLE_ADMIN:
	case ROLE_DISTRICT_DISPATCHER:
	case ROLE_STREET_DISPATCHER:
	case ROLE_UNIT_STAFF: /* they call the reporter back */
		return true;
	case ROLE_CITIZEN:
		return c->reporter_user_id && c->reporter_user_id == who->user.id;
	default: /* grid workers, auditors, systems */
		return false;
	}
}

void cases_mask_phone(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	if (n >= 7) /* 13812341234 -> 138****1234: the operator prefix and the last four stay */
		snprintf(out, cap, "%.3s****%s", in, in + n - 4);
	else if (n > 0)
		snprintf(out, cap, "****");
	else
		snprintf(out, cap, "%s", "");
}

/* 张三丰 -> 张**: the first character stays. */
static void mask_name(const char *in, char *out, size_t cap)
{
	size_t first = 0, chars = 0;
	const unsigned char *p = (const unsigned char *)in;
	if (!*p) {
		snprintf(out, cap, "%s", "");
		return;
	}
	first = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
	for (; *p; p++)
		chars += (*p & 0xC0) != 0x80;
	size_t o = (size_t)snprintf(out, cap, "%.*s", (int)first, in);
	for (size_t i = 1; i < chars && i < 4 && o + 1 < cap; i++)
		out[o++] = '*';
	out[o < cap ? o : cap - 1] = '\0';
}

static json_t *time_json(int64_t t)
{
	char iso[32];
	if (!t)
		return json_null();
	api_time_iso(t, iso);
	return json_string(iso);
}

/* {"code","name"} of a street or community from the map, or null. */
static json_t *area_json(struct app *app, const char *code)
{
	char name[STORE_NAME_MAX];
	if (!code || !*code)
		return json_null();
	mapview_area_name(&app->map_lock, &app->map, code, name, sizeof name);
	return json_pack("{s:s, s:s?}", "code", code, "name", name[0] ? name : NULL);
}

json_t *cases_category_json(struct app *app, const char *code, double confidence, const char *source)
{
	if (!code || !*code)
		return json_null();
	const struct category *path[CATEGORY_MAX_DEPTH];
	size_t n = category_path(app->cats, code, path, CATEGORY_MAX_DEPTH);
	json_t *steps = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(steps, json_pack("{s:s, s:s}", "code", path[i]->code, "name", path[i]->name));
	const struct category *c = category_get(app->cats, code);
	return json_pack("{s:s, s:s?, s:o, s:f, s:s?}", "code", code, "name", c ? c->name : NULL, "path", steps,
			 "confidence", confidence, "source", source && *source ? source : NULL);
}

static json_t *unit_json(struct app *app, const char *code)
{
	struct store_unit u;
	if (!code || !*code)
		return json_null();
	if (store_unit_get(app->st, code, &u))
		return json_pack("{s:s, s:n}", "code", code, "name");
	return json_pack("{s:s, s:s}", "code", code, "name", u.name);
}

static json_t *limit_json(const struct store_case *c)
{
	if (!c->limit_kind[0])
		return json_null();
	if (strcmp(c->limit_kind, "working_days") == 0)
		return json_pack("{s:I}", c->limit_kind, (json_int_t)c->limit_value);
	return json_pack("{s:f}", c->limit_kind, c->limit_value);
}

static json_t *id_of(struct app *app, int64_t id)
{
	struct store_case other;
	if (!id || store_case_get_by_id(app->st, id, &other))
		return json_null();
	return json_string(other.ref);
}

json_t *cases_case_json(struct app *app, const struct store_case *c, const struct api_caller *who)
{
	enum workflow_state st;
	bool pii = cases_sees_personal_data(who, c);
	char name[STORE_NAME_MAX], phone[64];
	if (pii) {
		snprintf(name, sizeof name, "%s", c->reporter_name);
		snprintf(phone, sizeof phone, "%s", c->reporter_phone);
	} else {
		mask_name(c->reporter_name, name, sizeof name);
		cases_mask_phone(c->reporter_phone, phone, sizeof phone);
	}
	json_t *attachments = json_loads(c->attachments[0] ? c->attachments : "[]", 0, NULL);
	/* Residents write phone numbers, ID numbers and plates into the text itself: mask those too
	 * for roles that do not see personal data (lengths do not change). */
	char *title = NULL, *description = NULL, *address = NULL;
	if (!pii) {
		title = xstrdup(c->title);
		description = xstrdup(c->description);
		address = xstrdup(c->address);
		pii_mask_inplace(title, strlen(title), PII_ALL);
		pii_mask_inplace(description, strlen(description), PII_ALL);
		pii_mask_inplace(address, strlen(address), PII_ALL);
	}
	const char *shown_title = pii ? c->title : title, *shown_address = pii ? c->address : address;
	json_t *v = json_pack("{s:s, s:I, s:s, s:s?, s:s, s:s?, s:s, s:s?, s:o, s:o, s:o, s:o, s:o, s:o}",
			      "id", c->ref, "version", (json_int_t)c->version, "status", c->status,
			      "status_label",
			      workflow_state_parse(c->status, &st) ? NULL : workflow_state_label_zh(st), "channel",
			      c->channel, "external_id", c->external_id[0] ? c->external_id : NULL, "title",
			      shown_title, "address", shown_address[0] ? shown_address : NULL, "category",
			      cases_category_json(app, c->category_code, c->category_confidence, c->category_source),
			      "location",
			      c->has_point ? json_pack("{s:f, s:f}", "lat", c->lat, "lng", c->lng) : json_null(),
			      "street", area_json(app, c->street_code), "community",
			      area_json(app, c->community_code), "grid",
			      c->grid_code[0] ? json_pack("{s:s}", "code", c->grid_code) : json_null(), "unit",
			      unit_json(app, c->unit_code));
	json_object_set_new(v, "description", json_string(pii ? c->description : description));
	xfree(title);
	xfree(description);
	xfree(address);
	json_object_set_new(v, "level", json_string(c->level[0] ? c->level : "community"));
	json_object_set_new(v, "urgency", json_string(c->urgency[0] ? c->urgency : "normal"));
	json_object_set_new(v, "time_limit", limit_json(c));
	json_object_set_new(v, "reported_at", time_json(c->reported_at));
	json_object_set_new(v, "registered_at", time_json(c->registered_at));
	json_object_set_new(v, "dispatched_at", time_json(c->dispatched_at));
	json_object_set_new(v, "first_response_at", time_json(c->first_response_at));
	json_object_set_new(v, "handled_at", time_json(c->handled_at));
	json_object_set_new(v, "closed_at", time_json(c->closed_at));
	json_object_set_new(v, "deadline", time_json(c->deadline));
	json_object_set_new(v, "warn_at", time_json(c->warn_at));
	json_object_set_new(v, "warned", json_boolean(c->warned));
	json_object_set_new(v, "overdue", json_boolean(c->overdue));
	json_object_set_new(v, "supervised", json_boolean(c->supervised));
	json_object_set_new(v, "extension_pending", json_boolean(c->extension_pending));
	json_object_set_new(v, "rework_count", json_integer(c->rework_count));
	json_object_set_new(v, "satisfaction", c->satisfaction[0] ? json_string(c->satisfaction) : json_null());
	json_object_set_new(v, "duplicate_of", id_of(app, c->duplicate_of));
	json_object_set_new(v, "merged_into", id_of(app, c->merged_into));
	json_object_set_new(v, "support_count", json_integer(c->support_count > 0 ? c->support_count : 1));
	json_object_set_new(v, "reporter",
			    c->reporter_name[0] || c->reporter_phone[0]
				    ? json_pack("{s:s, s:s, s:b}", "name", name, "phone", phone, "masked", !pii)
				    : json_null());
	json_object_set_new(v, "attachments", attachments ? attachments : json_array());
	json_object_set_new(v, "created_at", time_json(c->created_at));
	json_object_set_new(v, "updated_at", time_json(c->updated_at));
	return v;
}

static int add_event(void *ctx, const struct store_case_event *ev)
{
	json_t *events = ctx;
	json_t *data = ev->data[0] ? json_loads(ev->data, 0, NULL) : NULL;
	json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s?}", "action", ev->action, "actor", ev->actor,
			      "role", ev->role, "to_status", ev->to_status, "from_status",
			      ev->from_status[0] ? ev->from_status : NULL, "comment", ev->comment, "at", NULL);
	json_object_set_new(e, "at", time_json(ev->at));
	json_object_set_new(e, "data", data ? data : json_object());
	json_array_append_new(events, e);
	return 0;
}

json_t *cases_history_json(struct app *app, const struct store_case *c)
{
	json_t *events = json_array();
	if (store_case_events(app->st, c->id, add_event, events)) {
		json_decref(events);
		return json_null();
	}
	return events;
}
