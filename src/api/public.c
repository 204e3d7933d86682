/* The residents' endpoints; see public.h. Reports run the same intake pipeline as every other
 * channel (channel "app"), ratings the same workflow action as the console's; what is public
 * here is only how a caller proves who they are (the case number and the phone number they
 * gave) and what they are shown (their own case, personal data masked). */
#include "api/public.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/cases.h"
#include "api/files.h"
#include "app/casework.h"
#include "app/intake.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/gcj02.h"
#include "core/pii.h"
#include "core/workflow.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "util/log.h"

#define PUBLIC_PHONE_DIGITS_MIN 7
#define PUBLIC_PHONE_DIGITS_MAX 15

/* ---- limits per client address (the login limiter's table, under keys of their own) ---- */

/* True (with 429 in res) when `what` from this address is over its limit. */
static bool over_limit(struct http_request *req, struct http_response *res, struct app *app, const char *what)
{
	char key[128];
	snprintf(key, sizeof key, "public.%s:%.64s", what, req->remote ? req->remote : "");
	int64_t wait = auth_limiter_check(app->limiter, key, (int64_t)time(NULL));
	if (!wait)
		return false;
	char secs[24];
	snprintf(secs, sizeof secs, "%lld", (long long)wait);
	if (http_header_add(req, res, "Retry-After", secs))
		log_warn("public: Retry-After not set", NULL);
	http_error(res, 429, "too_many_requests",
		   "操作太频繁，请稍后再试 (too many requests; try again later)", NULL);
	return true;
}

static void count_toward_limit(struct http_request *req, struct app *app, const char *what)
{
	char key[128];
	snprintf(key, sizeof key, "public.%s:%.64s", what, req->remote ? req->remote : "");
	auth_limiter_fail(app->limiter, key, (int64_t)time(NULL));
}

/* ---- phone numbers and masking ---------------------------------------------------------- */

/* The digits of a phone number as typed ("138 1234-5678", "+86 13812345678"); false when it
 * has other characters or too few or many digits. A leading 86 country code is dropped from
 * an 11-digit mobile number, so both spellings match the same report. */
static bool phone_digits(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *s = in; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n + 1 >= cap)
				return false;
			out[n++] = *s;
		} else if (*s != ' ' && *s != '-' && *s != '+') {
			return false;
		}
	}
	out[n] = '\0';
	if (n == 13 && strncmp(out, "86", 2) == 0 && out[2] == '1') {
		memmove(out, out + 2, 12);
		n = 11;
	}
	return n >= PUBLIC_PHONE_DIGITS_MIN && n <= PUBLIC_PHONE_DIGITS_MAX;
}

/* Whether `given` (already digits) is the phone stored on the case, compared in constant time. */
static bool phone_matches(const struct store_case *c, const char *given)
{
	char stored[STORE_CASE_PHONE_MAX];
	if (!c->reporter_phone[0] || !phone_digits(c->reporter_phone, stored, sizeof stored))
		return false;
	size_t n = strlen(stored);
	return n == strlen(given) && sodium_memcmp(stored, given, n) == 0;
}

/* 张三丰 -> 张**: the first character stays. */
static void mask_name(const char *in, char *out, size_t cap)
{
	if (!*in) {
		snprintf(out, cap, "%s", "");
		return;
	}
	const unsigned char *p = (const unsigned char *)in;
	int first = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
	snprintf(out, cap, "%.*s**", first, in);
}

/* A copy of s with phone numbers, ID numbers and the like masked (core/pii). */
static json_t *masked_text(const char *s)
{
	char *m = xstrdup(s);
	pii_mask_inplace(m, strlen(m), PII_ALL);
	json_t *v = json_string(m);
	xfree(m);
	return v ? v : json_string("");
}

static json_t *time_or_null(int64_t t)
{
	char iso[32];
	if (!t)
		return json_null();
	api_time_iso(t, iso);
	return json_string(iso);
}

static json_t *area_or_null(struct app *app, const char *code)
{
	char name[STORE_NAME_MAX];
	if (!code[0])
		return json_null();
	mapview_area_name(&app->map_lock, &app->map, code, name, sizeof name);
	return json_pack("{s:s, s:s}", "code", code, "name", name);
}

/* ---- the reporter's view of a case ------------------------------------------------------ */

/* The events a resident sees, with what they are called; others (deadline marks, placing,
 * supervision) are the centre's business. */
static const char *const public_actions[] = {"report", "register", "reject", "dispatch", "accept",   "handle",
					     "verify", "close",	   "rate",   "reopen",	 "reassign", "merge"};

struct history_ctx {
	json_t *list;
};

static int history_item(void *ctx, const struct store_case_event *ev)
{
	struct history_ctx *h = ctx;
	size_t i, n = sizeof public_actions / sizeof public_actions[0];
	for (i = 0; i < n && strcmp(ev->action, public_actions[i]) != 0; i++)
		;
	if (i == n)
		return 0;
	enum workflow_action a;
	enum workflow_state s;
	const char *label = strcmp(ev->action, "report") == 0		     ? "已受理您的反映"
			    : workflow_action_parse(ev->action, &a) == CD_OK ? workflow_action_label_zh(a)
									     : ev->action;
	/* What the unit or the centre wrote back is for the resident; a failed check's note and
	 * a rating's comment are not shown again. */
	bool show_comment = strcmp(ev->action, "handle") == 0 || strcmp(ev->action, "close") == 0 ||
			    strcmp(ev->action, "reject") == 0;
	json_t *item =
	    json_pack("{s:o, s:s, s:s, s:s, s:s}", "at", time_or_null(ev->at), "action", ev->action, "label",
		      label, "status", ev->to_status, "status_label",
		      workflow_state_parse(ev->to_status, &s) == CD_OK ? workflow_state_label_zh(s) : "");
	if (item && show_comment && ev->comment[0])
		json_object_set_new(item, "comment", masked_text(ev->comment));
	if (item)
		json_array_append_new(h->list, item);
	return 0;
}

/* The case as its reporter sees it. A new reference. */
static json_t *reporter_view(struct app *app, const struct store_case *c)
{
	enum workflow_state s = WF_STATE_NONE;
	if (workflow_state_parse(c->status, &s))
		s = WF_STATE_NONE;
	char phone[64], name[64];
	cases_mask_phone(c->reporter_phone, phone, sizeof phone);
	mask_name(c->reporter_name, name, sizeof name);
	const struct category *cat = c->category_code[0] ? category_get(app->cats, c->category_code) : NULL;
	json_t *v = json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:{s:s, s:s}}",
	    "ref", c->ref, "status", c->status, "status_label", s ? workflow_state_label_zh(s) : "",
	    "channel", c->channel, "title", masked_text(c->title), "description", masked_text(c->description),
	    "address", masked_text(c->address), "category",
	    cat ? json_pack("{s:s, s:s}", "code", cat->code, "name", cat->name) : json_null(), "street",
	    area_or_null(app, c->street_code), "community", area_or_null(app, c->community_code),
	    "reported_at", time_or_null(c->reported_at), "deadline", time_or_null(c->deadline), "closed_at",
	    time_or_null(c->closed_at), "satisfaction",
	    c->satisfaction[0] ? json_string(c->satisfaction) : json_null(), "can_rate", s == WF_STATE_CLOSED,
	    "reporter", "name", name, "phone", phone);
	if (!v)
		return NULL;
	if (c->has_point)
		json_object_set_new(v, "point", json_pack("{s:f, s:f}", "lat", c->lat, "lng", c->lng));
	json_t *files = json_loads(c->attachments[0] ? c->attachments : "[]", 0, NULL);
	json_object_set_new(v, "photos",
			    json_integer(json_is_array(files) ? (json_int_t)json_array_size(files) : 0));
	json_decref(files);
	struct history_ctx h = {json_array()};
	if (store_case_events(app->st, c->id, history_item, &h))
		log_warn("public: history not read", "\"case\":\"%s\"", c->ref);
	json_object_set_new(v, "history", h.list);
	return v;
}

static void not_found(struct http_response *res)
{
	http_error(res, 404, "not_found",
		   "没有找到该工单，或手机号与反映时留的不一致 (no case with this number and phone)", NULL);
}

/* Reads {"ref", "phone"} style identification and loads the case; false with the answer in res. */
static bool load_own_case(struct http_request *req, struct http_response *res, struct app *app,
			  const char *ref, const char *phone_in, struct store_case *c)
{
	char phone[32];
	if (!phone_digits(phone_in, phone, sizeof phone)) {
		http_error(res, 422, "invalid_field",
			   "请填写反映时留下的手机号 (the phone number given with the report)", "phone");
		return false;
	}
	if (over_limit(req, res, app, "track"))
		return false;
	enum cd_err rc =
	    strlen(ref) < STORE_CASE_REF_MAX ? store_case_get_by_ref(app->st, ref, c) : CD_ERR_NOTFOUND;
	if (rc && rc != CD_ERR_NOTFOUND) {
		api_store_failed(req, res, rc);
		return false;
	}
	if (rc || !phone_matches(c, phone)) {
		count_toward_limit(req, app, "track"); /* guessing numbers costs a slot */
		not_found(res);
		return false;
	}
	return true;
}

/* ---- report ------------------------------------------------------------------------------ */

void api_public_report(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"description", "title", "category", "lat",	 "lng", "crs",
					      "address",     "phone", "name",	  "attachments", NULL};
	json_t *body = NULL;
	char *attachments = NULL;
	struct json_problem p;
	struct intake_request in;
	const char *crs = NULL, *phone_in = NULL;
	const json_t *files = NULL;
	double lat = NAN, lng = NAN;
	char phone[32];
	memset(&in, 0, sizeof in);
	if (over_limit(req, res, app, "report") || !http_read_json(req, res, &body))
		return;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "description", JSON_REQUIRED | JSON_NONEMPTY, PUBLIC_DESC_MAX,
			    &in.description, &p) ||
	    json_get_string(body, "title", JSON_OPTIONAL, 100, &in.title, &p) ||
	    json_get_string(body, "category", JSON_OPTIONAL, 23, &in.category, &p) ||
	    json_get_double(body, "lat", JSON_OPTIONAL, -90, 90, &lat, &p) ||
	    json_get_double(body, "lng", JSON_OPTIONAL, -180, 180, &lng, &p) ||
	    json_get_string(body, "crs", JSON_OPTIONAL, 8, &crs, &p) ||
	    json_get_string(body, "address", JSON_OPTIONAL, 200, &in.address, &p) ||
	    json_get_string(body, "phone", JSON_REQUIRED | JSON_NONEMPTY, 24, &phone_in, &p) ||
	    json_get_string(body, "name", JSON_OPTIONAL, 30, &in.reporter_name, &p) ||
	    json_get_value(body, "attachments", JSON_OPTIONAL, JSON_ARRAY, &files, &p))
		goto refuse;
	if (!phone_digits(phone_in, phone, sizeof phone)) {
		json_problem_set(&p, 422, "invalid_field", "phone",
				 "请填写正确的手机号 (a phone number: 7 to 15 digits)");
		goto refuse;
	}
	if (isnan(lat) != isnan(lng)) {
		json_problem_set(&p, 422, "missing_field", isnan(lat) ? "lat" : "lng",
				 "lat and lng go together");
		goto refuse;
	}
	if (isnan(lat) && (!in.address || !*in.address)) {
		json_problem_set(&p, 422, "missing_field", "lat",
				 "请在地图上选择位置或填写地址 (a place: lat/lng or address)");
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
	if (files) {
		size_t i;
		const json_t *v;
		if (json_array_size(files) > PUBLIC_PHOTOS_MAX) {
			json_problem_set(&p, 422, "invalid_field", "attachments", "at most 3 photos");
			goto refuse;
		}
		json_array_foreach(files, i, v)
		{
			struct store_file f;
			if (!json_is_string(v) || strlen(json_string_value(v)) >= STORE_FILE_ID_MAX ||
			    store_file_get(app->st, json_string_value(v), &f)) {
				json_problem_set(
				    &p, 422, "invalid_field", "attachments",
				    "attachments must be ids returned by POST /api/v1/public/files");
				goto refuse;
			}
		}
		attachments = json_dumps(files, JSON_COMPACT);
	}
	in.channel = "app";
	in.reporter_phone = phone;
	in.attachments = attachments;
	in.actor = "resident";
	in.actor_role = "citizen";
	struct store_case *c = http_alloc(req, sizeof *c);
	bool created = false;
	if (!c) {
		http_error(res, 500, "internal", "out of memory", NULL);
		goto out;
	}
	enum cd_err rc = intake_submit(app, &in, c, &created, &p);
	if (rc == CD_ERR_INVALID || rc == CD_ERR_RANGE) /* refused, or the day's refs used up */
		goto refuse;
	if (rc == CD_ERR_BUSY) {
		http_error(res, 503, "busy", "服务繁忙，请稍后重试 (busy; nothing was stored, try again)",
			   NULL);
		goto out;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	count_toward_limit(req, app, "report");
	char masked[64];
	enum workflow_state s = WF_STATE_REPORTED;
	cases_mask_phone(c->reporter_phone, masked, sizeof masked);
	const struct category *cat = c->category_code[0] ? category_get(app->cats, c->category_code) : NULL;
	json_t *reply = json_pack(
	    "{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "ref", c->ref, "status", c->status, "status_label",
	    workflow_state_label_zh(s), "reported_at", time_or_null(c->reported_at), "phone", masked,
	    "category", cat ? json_pack("{s:s, s:s}", "code", cat->code, "name", cat->name) : json_null(),
	    "street", area_or_null(app, c->street_code), "community", area_or_null(app, c->community_code));
	http_respond_json(res, 201, reply);
	json_decref(reply);
	goto out;
refuse:
	http_error_json(res, &p);
out:
	xfree(attachments);
	json_decref(body);
}

/* ---- track and rate ---------------------------------------------------------------------- */

void api_public_track(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"ref", "phone", NULL};
	json_t *body = NULL;
	struct json_problem p;
	const char *ref = NULL, *phone = NULL;
	struct store_case *c = http_alloc(req, sizeof *c);
	if (!c || !http_read_json(req, res, &body))
		goto out;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "ref", JSON_REQUIRED | JSON_NONEMPTY, 32, &ref, &p) ||
	    json_get_string(body, "phone", JSON_REQUIRED | JSON_NONEMPTY, 24, &phone, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	if (load_own_case(req, res, app, ref, phone, c)) {
		json_t *v = reporter_view(app, c);
		http_respond_json(res, 200, v);
		json_decref(v);
	}
out:
	json_decref(body);
}

/* satisfied | basically_satisfied | dissatisfied, or the words on the app's buttons. */
static bool parse_satisfaction(const char *s, enum workflow_satisfaction *out)
{
	if (workflow_satisfaction_parse(s, out) == CD_OK)
		return true;
	static const struct {
		const char *word;
		enum workflow_satisfaction sat;
	} words[] = {{"满意", WF_SAT_SATISFIED},
		     {"基本满意", WF_SAT_BASICALLY_SATISFIED},
		     {"不满意", WF_SAT_DISSATISFIED}};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(s, words[i].word) == 0) {
			*out = words[i].sat;
			return true;
		}
	return false;
}

void api_public_rate(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"phone", "satisfaction", "comment", NULL};
	json_t *body = NULL;
	struct json_problem p;
	const char *phone = NULL, *word = NULL;
	struct casework_action a;
	struct store_case *c = http_alloc(req, sizeof *c);
	memset(&a, 0, sizeof a);
	a.approved = true;
	a.action = WF_ACTION_RATE;
	if (!c || !http_read_json(req, res, &body))
		goto out;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "phone", JSON_REQUIRED | JSON_NONEMPTY, 24, &phone, &p) ||
	    json_get_string(body, "satisfaction", JSON_REQUIRED | JSON_NONEMPTY, 32, &word, &p) ||
	    json_get_string(body, "comment", JSON_OPTIONAL, 500, &a.comment, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	if (!parse_satisfaction(word, &a.satisfaction)) {
		http_error(res, 422, "invalid_field",
			   "satisfaction is satisfied, basically_satisfied or dissatisfied", "satisfaction");
		goto out;
	}
	const char *ref = http_param(req, "ref");
	if (!load_own_case(req, res, app, ref ? ref : "", phone, c))
		goto out;
	/* The reporter acts as a citizen would in the console: the same rule, the same record. */
	struct casework_actor who = {"resident", ROLE_CITIZEN, {"resident", req->remote}};
	uint32_t allowed_now = 0;
	const char *why = NULL;
	enum cd_err rc = casework_apply(app, &who, c, &a, &allowed_now, &why, &p);
	if (rc == CD_ERR_CONFLICT) {
		http_error(res, 409, "not_ratable",
			   "该工单现在不能评价：办结后才能评价，且只能评价一次 (only a closed case can be "
			   "rated, once)",
			   "satisfaction");
		goto out;
	}
	if (rc == CD_ERR_INVALID) {
		http_error_json(res, &p);
		goto out;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	json_t *v = reporter_view(app, c);
	http_respond_json(res, 200, v);
	json_decref(v);
out:
	json_decref(body);
}

/* ---- photos ------------------------------------------------------------------------------- */

void api_public_file(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct store_actor actor = {"resident", req->remote};
	struct store_file f;
	if (over_limit(req, res, app, "file") || !api_files_save(req, res, app, &actor, "resident", &f))
		return;
	count_toward_limit(req, app, "file");
	json_t *reply =
	    json_pack("{s:s, s:s, s:I}", "id", f.id, "mime", f.mime, "bytes", (json_int_t)f.bytes);
	http_respond_json(res, 201, reply);
	json_decref(reply);
}

/* ---- news and activities ------------------------------------------------------------------ */

/* "YYYY-MM-DD" of today + days in Asia/Shanghai. */
static void day_from_today(long days, char out[11])
{
	store_day_of((int64_t)time(NULL) + (int64_t)days * 86400, out);
}

struct news_item {
	json_t *item; /* borrowed from the document */
	char date[11];
};

static int news_newest_first(const void *a, const void *b)
{
	return strcmp(((const struct news_item *)b)->date, ((const struct news_item *)a)->date);
}

static int news_soonest_first(const void *a, const void *b)
{
	return strcmp(((const struct news_item *)a)->date, ((const struct news_item *)b)->date);
}

void api_public_news(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	long page, page_size;
	const char *kind = http_query_get(req, "kind"), *community = http_query_get(req, "community");
	if (!api_paging(req, res, &page, &page_size))
		return;
	if (!kind || !*kind)
		kind = "news";
	if (strcmp(kind, "news") != 0 && strcmp(kind, "activity") != 0) {
		http_error(res, 422, "invalid_parameter", "kind is news or activity", "kind");
		return;
	}
	if (community && strlen(community) > 12) {
		http_error(res, 422, "invalid_parameter", "a 12-digit community code", "community");
		return;
	}
	char path[4200], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%.4000s/%s", config_get(&app->cfg, CFG_WEB), PUBLIC_NEWS_FILE);
	json_t *doc = NULL;
	if (file_read_all(path, 1u << 20, &text, &len) == CD_OK)
		doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	xfree(text);
	json_t *all = json_object_get(doc, "items");
	size_t n = json_array_size(all), kept = 0;
	struct news_item *items = xcalloc(n ? n : 1, sizeof *items);
	char today[11];
	day_from_today(0, today);
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(all, i);
		const char *k = json_string_value(json_object_get(it, "kind"));
		const char *where = json_string_value(json_object_get(it, "community"));
		if (!json_is_object(it) || !k || strcmp(k, kind) != 0)
			continue;
		if (community && *community && where && *where && strcmp(where, community) != 0)
			continue; /* another community's; district-wide items have none */
		const char *date = json_string_value(json_object_get(it, "date"));
		json_t *ago = json_object_get(it, "days_ago"), *ahead = json_object_get(it, "in_days");
		if (json_is_integer(ago))
			day_from_today(-(long)json_integer_value(ago), items[kept].date);
		else if (json_is_integer(ahead))
			day_from_today((long)json_integer_value(ahead), items[kept].date);
		else if (date && strlen(date) == 10)
			snprintf(items[kept].date, sizeof items[kept].date, "%s", date);
		else
			continue;
		if (strcmp(kind, "activity") == 0 && strcmp(items[kept].date, today) < 0)
			continue; /* past activities are no longer offered */
		items[kept++].item = it;
	}
	qsort(items, kept, sizeof *items, strcmp(kind, "news") == 0 ? news_newest_first : news_soonest_first);
	json_t *out = json_array();
	for (size_t i = (size_t)((page - 1) * page_size);
	     i < kept && json_array_size(out) < (size_t)page_size; i++) {
		json_t *copy = json_deep_copy(items[i].item);
		json_object_del(copy, "days_ago");
		json_object_del(copy, "in_days");
		json_object_set_new(copy, "date", json_string(items[i].date));
		json_array_append_new(out, copy);
	}
	json_t *reply = api_page_json(out, (long long)kept, page, page_size);
	http_respond_json(res, 200, reply);
	json_decref(reply);
	xfree(items);
	json_decref(doc);
}
