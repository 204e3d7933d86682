/* Open311 GeoReport v2 under /open311/v2 (issue 7; docs/open311.md): services are the category
 * tree's leaves, requests are cases filed through the same intake pipeline (channel "open311"),
 * and mySociety's servicerequestupdates carry their history. Every answer exists in JSON and
 * XML from one document (open311_fmt.c). Only requests filed through Open311 are listed: the
 * district's hotline cases are not public. */
#include "api/open311.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/open311_int.h"
#include "app/casework.h"
#include "app/intake.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/geo.h"
#include "core/pii.h"
#include "core/text.h"
#include "store/store_open311.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "util/hex.h"
#include "util/log.h"

#define O311_CHANNEL "open311"
#define O311_SPAN_MAX_S (90 * 86400)  /* start_date..end_date at most 90 days */
#define O311_PAGE_DEFAULT 1000        /* the specification's default cap */
#define O311_SCAN_MAX 50000           /* cases read for one list before giving up on more */
#define O311_DESC_MAX_CHARS 4000
#define O311_ATTR_MAX 64              /* attributes defined in the data file */
#define O311_UPDATES_MAX 1000

static const char jurisdiction_code[] = "440303"; /* Luohu's administrative division code */

/* ---- service attributes: data/categories/open311-attributes.csv ---- */

struct o311_attr {
	char category[24];    /* applies to this category and everything under it */
	char code[48];
	char datatype[24];    /* string number datetime text singlevaluelist multivaluelist */
	bool required;
	int order;
	char description[256];
	char values[512];     /* "key=name;key=name" for the list types */
};

static struct {
	pthread_once_t once;
	size_t n;
	struct o311_attr a[O311_ATTR_MAX];
} attrs = {.once = PTHREAD_ONCE_INIT};
static const char *attrs_dir; /* CFG_CATEGORIES, set before the first load */

static void attrs_load(void)
{
	char path[4200], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%.4000s/open311-attributes.csv", attrs_dir ? attrs_dir : "data/categories");
	if (file_read_all(path, 1 << 20, &text, &len)) {
		log_info("no Open311 attributes file; services have none", "\"path\":\"%s\"", path);
		return;
	}
	struct csv_reader r;
	csv_init(&r, text, len);
	int col[7] = {-1, -1, -1, -1, -1, -1, -1};
	static const char *const names[7] = {"category_code", "code", "datatype", "required", "order",
					     "description", "values"};
	if (csv_next(&r) == CD_OK)
		for (int k = 0; k < 7; k++)
			col[k] = csv_column(&r, names[k]);
	bool ok = col[0] >= 0 && col[1] >= 0 && col[2] >= 0;
	while (ok && attrs.n < O311_ATTR_MAX && csv_next(&r) == CD_OK) {
		struct o311_attr *a = &attrs.a[attrs.n];
		const char *f[7];
		for (int k = 0; k < 7; k++)
			f[k] = col[k] >= 0 && (size_t)col[k] < r.nfields ? r.fields[col[k]] : "";
		snprintf(a->category, sizeof a->category, "%s", f[0]);
		snprintf(a->code, sizeof a->code, "%s", f[1]);
		snprintf(a->datatype, sizeof a->datatype, "%s", f[2]);
		a->required = strcmp(f[3], "true") == 0;
		a->order = (int)strtol(f[4], NULL, 10);
		snprintf(a->description, sizeof a->description, "%s", f[5]);
		snprintf(a->values, sizeof a->values, "%s", f[6]);
		attrs.n++;
	}
	csv_release(&r);
	xfree(text);
}

/* Calls fn for each attribute that applies to category c (its own and its ancestors'). */
static size_t attrs_for(const struct category *c, const struct o311_attr **out, size_t cap)
{
	pthread_once(&attrs.once, attrs_load);
	size_t n = 0;
	for (size_t i = 0; i < attrs.n && n < cap; i++)
		for (const struct category *up = c; up; up = up->parent)
			if (strcmp(up->code, attrs.a[i].category) == 0) {
				out[n++] = &attrs.a[i];
				break;
			}
	return n;
}

static bool attr_is_list(const struct o311_attr *a)
{
	return strcmp(a->datatype, "singlevaluelist") == 0 || strcmp(a->datatype, "multivaluelist") == 0;
}

/* True when key is one of a list attribute's keys. */
static bool attr_has_key(const struct o311_attr *a, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = a->values; *p;) {
		const char *eq = strchr(p, '='), *semi = strchr(p, ';');
		if (!eq)
			break;
		if ((size_t)(eq - p) == n && strncmp(p, key, n) == 0)
			return true;
		if (!semi)
			break;
		p = semi + 1;
	}
	return false;
}

static json_t *attr_json(const struct o311_attr *a)
{
	json_t *v = json_pack("{s:b, s:s, s:s, s:b, s:s, s:i, s:s}", "variable", 1, "code", a->code, "datatype",
			      a->datatype, "required", a->required, "datatype_description",
			      attr_is_list(a) ? "从列表中选择 / choose from the list" : "", "order", a->order,
			      "description", a->description);
	if (attr_is_list(a)) {
		json_t *values = json_array();
		char buf[512];
		snprintf(buf, sizeof buf, "%s", a->values);
		for (char *p = buf; p && *p;) {
			char *semi = strchr(p, ';');
			if (semi)
				*semi = '\0';
			char *eq = strchr(p, '=');
			if (eq) {
				*eq = '\0';
				json_array_append_new(values, json_pack("{s:s, s:s}", "key", p, "name", eq + 1));
			}
			p = semi ? semi + 1 : NULL;
		}
		json_object_set_new(v, "values", values);
	}
	return v;
}

/* ---- shared pieces ---- */

/* Reads the format from the route's last segment ({doc}, {code}, {id} or {token}); answers 404
 * (in JSON) when it has none. */
static bool route_format(struct http_request *req, struct http_response *res, const char *param, char *base,
			 size_t cap, enum o311_fmt *fmt)
{
	const char *name = http_param(req, param);
	if (!name || !o311_split(name, base, cap, fmt)) {
		o311_error(res, O311_JSON, 404, "unknown resource: the name must end in .json or .xml");
		return false;
	}
	return true;
}

/* Checks jurisdiction_id when given (one endpoint, one jurisdiction: Luohu). */
static bool jurisdiction_ok(struct http_request *req, struct http_response *res, const struct o311_params *p,
			    enum o311_fmt fmt)
{
	const char *j = o311_param(req, p, "jurisdiction_id");
	if (j && strcmp(j, jurisdiction_code) != 0 && strcmp(j, "luohu") != 0) {
		o311_error(res, fmt, 404, "unknown jurisdiction_id: this endpoint serves 440303 (luohu)");
		return false;
	}
	return true;
}

static json_t *time_or_null(int64_t t)
{
	if (t <= 0)
		return json_null();
	char iso[32];
	api_time_iso(t, iso);
	return json_string(iso);
}

static json_t *text_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static bool state_closed(const char *status)
{
	return strcmp(status, "closed") == 0 || strcmp(status, "rated") == 0 || strcmp(status, "rejected") == 0 ||
	       strcmp(status, "merged") == 0;
}

/* Counts the UTF-8 characters of s (not bytes: the 4,000 limit is in characters). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The first event's data member `key` of a case filed through Open311 (media_url), or NULL. */
struct first_data {
	char data[STORE_CASE_EVENT_TEXT_MAX];
	bool seen;
};

static int first_event(void *ctx, const struct store_case_event *ev)
{
	struct first_data *f = ctx;
	if (!f->seen) {
		snprintf(f->data, sizeof f->data, "%s", ev->data);
		f->seen = true;
	}
	return 1; /* the first is enough */
}

/* The GeoReport request document of a case; with history, also extended_attributes and notes. */
struct notes_ctx {
	json_t *notes;
};

/* A comment as the public may read it: only the steps whose comments are written for the
 * resident, with phones, ID numbers and plates masked; NULL otherwise. A new reference. */
static json_t *public_comment(const struct store_case_event *ev)
{
	if (!ev->comment[0] || !workflow_comment_public(ev->action))
		return json_null();
	struct buf b;
	buf_init(&b, STORE_CASE_EVENT_TEXT_MAX * 2);
	json_t *v = pii_mask(ev->comment, strlen(ev->comment), PII_ALL, &b) || buf_putc(&b, '\0')
			    ? json_null()
			    : json_string(b.data);
	buf_release(&b);
	return v;
}

static int note_event(void *ctx, const struct store_case_event *ev)
{
	struct notes_ctx *n = ctx;
	if (!workflow_step_public(ev->action))
		return 0;
	enum workflow_action a;
	const char *summary = ev->action;
	if (strcmp(ev->action, "report") == 0)
		summary = "上报";
	else if (workflow_action_parse(ev->action, &a) == CD_OK)
		summary = workflow_action_label_zh(a);
	json_array_append_new(n->notes, json_pack("{s:o, s:s, s:s, s:s, s:o}", "datetime", time_or_null(ev->at),
						   "summary", summary, "action", ev->action, "status", ev->to_status,
						   "description", public_comment(ev)));
	return 0;
}

static json_t *request_json(struct app *app, const struct store_case *c, bool extensions)
{
	const struct category *cat = c->category_code[0] ? category_get(app->cats, c->category_code) : NULL;
	char unit_name[STORE_NAME_MAX] = "", street[STORE_NAME_MAX] = "", community[STORE_NAME_MAX] = "";
	struct store_unit u;
	if (c->unit_code[0] && store_unit_get(app->st, c->unit_code, &u) == CD_OK)
		snprintf(unit_name, sizeof unit_name, "%s", u.name);
	mapview_area_name(&app->map_lock, &app->map, c->street_code, street, sizeof street);
	mapview_area_name(&app->map_lock, &app->map, c->community_code, community, sizeof community);

	enum workflow_state st = WF_STATE_NONE;
	const char *notes = c->status;
	if (workflow_state_parse(c->status, &st) == CD_OK)
		notes = workflow_state_label_zh(st);
	char status_notes[160];
	snprintf(status_notes, sizeof status_notes, "%s", notes);
	if (c->merged_into) {
		struct store_case master;
		if (store_case_get_by_id(app->st, c->merged_into, &master) == CD_OK)
			snprintf(status_notes, sizeof status_notes, "%s：与 %s 为同一问题 (duplicate of %s)", notes,
				 master.ref, master.ref);
	}

	/* Personal data in what residents wrote is masked: these lists are public. */
	struct buf desc;
	buf_init(&desc, 64 * 1024);
	if (pii_mask(c->description, strlen(c->description), PII_ALL, &desc) || buf_putc(&desc, '\0'))
		buf_reset(&desc);

	char address[STORE_TEXT_MAX * 2 + 2 * STORE_NAME_MAX + 8];
	struct buf ab;
	buf_init(&ab, STORE_TEXT_MAX * 2);
	if (c->address[0] && !pii_mask(c->address, strlen(c->address), PII_ALL, &ab) && !buf_putc(&ab, '\0'))
		snprintf(address, sizeof address, "%s", ab.data); /* what residents typed may hold a phone */
	else
		snprintf(address, sizeof address, "%s%s%s", street, street[0] && community[0] ? " " : "", community);

	char notice[96] = "";
	if (c->limit_kind[0] && c->limit_value > 0)
		snprintf(notice, sizeof notice, "%s%g%s", "按时限办理：", c->limit_value,
			 strcmp(c->limit_kind, "working_days") == 0   ? "个工作日"
			 : strcmp(c->limit_kind, "working_hours") == 0 ? "个工作小时"
								       : "小时");

	char media[1100] = "";
	if (strcmp(c->channel, O311_CHANNEL) == 0) {
		struct first_data *f = xcalloc(1, sizeof *f);
		if (store_case_events(app->st, c->id, first_event, f) == CD_OK && f->seen) {
			json_t *d = json_loads(f->data, 0, NULL);
			const char *m = json_string_value(json_object_get(d, "media_url"));
			if (m)
				snprintf(media, sizeof media, "%s", m);
			json_decref(d);
		}
		xfree(f);
	}

	json_t *r = json_object();
	json_object_set_new(r, "service_request_id", json_string(c->ref));
	json_object_set_new(r, "status", json_string(state_closed(c->status) ? "closed" : "open"));
	json_object_set_new(r, "status_notes", json_string(status_notes));
	json_object_set_new(r, "service_name", cat ? json_string(cat->name) : json_null());
	json_object_set_new(r, "service_code", json_string(c->category_code));
	json_object_set_new(r, "description", json_string(desc.len ? desc.data : ""));
	json_object_set_new(r, "agency_responsible", text_or_null(unit_name));
	json_object_set_new(r, "service_notice", text_or_null(notice));
	json_object_set_new(r, "requested_datetime", time_or_null(c->reported_at));
	json_object_set_new(r, "updated_datetime", time_or_null(c->updated_at ? c->updated_at : c->reported_at));
	json_object_set_new(r, "expected_datetime", time_or_null(c->deadline));
	json_object_set_new(r, "address", text_or_null(address));
	json_object_set_new(r, "address_id", json_null());
	json_object_set_new(r, "zipcode", json_null());
	json_object_set_new(r, "lat", c->has_point ? json_real(c->lat) : json_null());
	json_object_set_new(r, "long", c->has_point ? json_real(c->lng) : json_null());
	json_object_set_new(r, "media_url", text_or_null(media));
	buf_release(&desc);
	buf_release(&ab);
	if (extensions) {
		json_object_set_new(r, "extended_attributes",
				    json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:i}", "channel", c->channel, "status_code",
					      c->status, "street", text_or_null(street), "community",
					      text_or_null(community), "grid", c->grid_code, "unit_code", c->unit_code,
					      "support_count", c->support_count ? c->support_count : 1));
		struct notes_ctx n = {json_array()};
		if (store_case_events(app->st, c->id, note_event, &n) != CD_OK)
			json_array_clear(n.notes);
		json_object_set_new(r, "notes", n.notes);
	}
	return r;
}

/* ---- GET discovery, services, requests, servicerequestupdates ---- */

static void base_url(struct http_request *req, char *out, size_t cap)
{
	const char *host = http_header(req, "Host");
	bool ok = host && *host && strlen(host) < 200;
	for (const char *p = host; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr(".-:[]", *p);
	snprintf(out, cap, "http://%s/open311/v2", ok ? host : "127.0.0.1:8080");
}

static void send_discovery(struct http_request *req, struct http_response *res, enum o311_fmt fmt)
{
	char url[300];
	base_url(req, url, sizeof url);
	static const char changeset[] = "2026-11-27T00:00:00+08:00";
	json_t *d = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:[s, s]}]}", "changeset", changeset, "contact",
			      "罗湖区政务服务数据管理局 citydesk 运维 (Luohu District, Shenzhen: citydesk operations)",
			      "key_service", "API key: ask the district's citydesk administrators (citydesk apikey add)",
			      "endpoints", "specification", "http://wiki.open311.org/GeoReport_v2", "url", url, "changeset",
			      changeset, "type", "production", "formats", "text/xml", "application/json");
	o311_send(res, fmt, 200, "discovery", "endpoint", d);
}

static json_t *service_json(const struct category *c)
{
	const struct o311_attr *a[O311_ATTR_MAX];
	size_t na = attrs_for(c, a, O311_ATTR_MAX);
	char path[1024] = "", keywords[1024] = "";
	const struct category *chain[CATEGORY_MAX_DEPTH];
	int depth = 0;
	for (const struct category *up = c; up && depth < CATEGORY_MAX_DEPTH; up = up->parent)
		chain[depth++] = up;
	size_t pl = 0, kl = 0;
	for (int i = depth - 1; i >= 0; i--) {
		int n = snprintf(path + pl, sizeof path - pl, "%s%s", pl ? " / " : "", chain[i]->name);
		pl = n > 0 && (size_t)n < sizeof path - pl ? pl + (size_t)n : pl;
		if (i > 0) {
			n = snprintf(keywords + kl, sizeof keywords - kl, "%s%s", kl ? "," : "", chain[i]->name);
			kl = n > 0 && (size_t)n < sizeof keywords - kl ? kl + (size_t)n : kl;
		}
	}
	const struct category *group = depth >= 2 ? chain[depth - 2] : c;
	return json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "service_code", c->code, "service_name", c->name,
			 "description", path, "metadata", na > 0, "type", "realtime", "keywords", keywords, "group",
			 group->name);
}

static void send_services(struct app *app, struct http_response *res, enum o311_fmt fmt)
{
	json_t *list = json_array();
	for (size_t i = 0;; i++) {
		const struct category *c = category_at(app->cats, i);
		if (!c)
			break;
		if (!c->first_child && c->depth > 0)
			json_array_append_new(list, service_json(c));
	}
	o311_send(res, fmt, 200, "services", "service", list);
}

/* Reads an optional ISO 8601 parameter; false with 400 sent when malformed. */
static bool param_time(struct http_request *req, struct http_response *res, const struct o311_params *p,
		       enum o311_fmt fmt, const char *name, int64_t *out)
{
	const char *v = o311_param(req, p, name);
	*out = 0;
	if (v && !api_parse_time(v, out)) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s must be an ISO 8601 date-time", name);
		o311_error(res, fmt, 400, msg);
		return false;
	}
	return true;
}

/* True when `word` is one of the comma-separated items of `list`. */
static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

static bool param_long(struct http_request *req, struct http_response *res, const struct o311_params *p,
		       enum o311_fmt fmt, const char *name, long min, long max, long def, long *out)
{
	const char *v = o311_param(req, p, name);
	*out = def;
	if (!v)
		return true;
	char *end;
	long x = strtol(v, &end, 10);
	if (*end || x < min || x > max) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s must be a whole number from %ld to %ld", name, min, max);
		o311_error(res, fmt, 400, msg);
		return false;
	}
	*out = x;
	return true;
}

/* Fills c with the case of ref when Open311 filed it (its channel); false otherwise. */
static bool channel_case(struct app *app, const char *ref, struct store_case *c)
{
	return store_case_get_by_ref(app->st, ref, c) == CD_OK && strcmp(c->channel, O311_CHANNEL) == 0;
}

static void send_requests(struct http_request *req, struct http_response *res, struct app *app, enum o311_fmt fmt,
			  const struct o311_params *p)
{
	bool ext = false;
	const char *e = o311_param(req, p, "extensions");
	if (e)
		ext = strcmp(e, "true") == 0;
	json_t *list = json_array();
	const char *ids = o311_param(req, p, "service_request_id");
	if (ids) { /* every other filter is ignored */
		char ref[STORE_CASE_REF_MAX];
		for (const char *s = ids; *s;) {
			const char *comma = strchr(s, ',');
			size_t n = comma ? (size_t)(comma - s) : strlen(s);
			struct store_case c;
			if (n < sizeof ref) {
				memcpy(ref, s, n);
				ref[n] = '\0';
				if (channel_case(app, ref, &c))
					json_array_append_new(list, request_json(app, &c, ext));
			}
			if (!comma || json_array_size(list) >= O311_PAGE_DEFAULT)
				break;
			s = comma + 1;
		}
		o311_send(res, fmt, 200, "service_requests", "request", list);
		return;
	}
	int64_t start, end, after, before;
	long page, page_size;
	if (!param_time(req, res, p, fmt, "start_date", &start) || !param_time(req, res, p, fmt, "end_date", &end) ||
	    !param_time(req, res, p, fmt, "updated_after", &after) ||
	    !param_time(req, res, p, fmt, "updated_before", &before) ||
	    !param_long(req, res, p, fmt, "page", 1, 1000000, 1, &page) ||
	    !param_long(req, res, p, fmt, "page_size", 1, O311_PAGE_DEFAULT, O311_PAGE_DEFAULT, &page_size)) {
		json_decref(list);
		return;
	}
	if (!end)
		end = start ? start + O311_SPAN_MAX_S : (int64_t)time(NULL) + 1;
	if (!start)
		start = end - O311_SPAN_MAX_S;
	if (end < start || end - start > O311_SPAN_MAX_S) {
		json_decref(list);
		o311_error(res, fmt, 400, "start_date to end_date must be at most 90 days, in order");
		return;
	}
	const char *codes = o311_param(req, p, "service_code");
	const char *status = o311_param(req, p, "status");
	if (status) {
		for (const char *s = status; *s; s++)
			if (!strchr("openclsd, ", *s))
				status = "invalid";
		if (!in_list(status, "open") && !in_list(status, "closed")) {
			json_decref(list);
			o311_error(res, fmt, 400, "status must be open, closed, or both (comma-separated)");
			return;
		}
	}
	struct store_case_filter f;
	memset(&f, 0, sizeof f);
	f.channel = O311_CHANNEL;
	f.from = start;
	f.to = end;
	int64_t skip = (int64_t)(page - 1) * page_size, offset = 0;
	while (offset < O311_SCAN_MAX && (long)json_array_size(list) < page_size) {
		struct store_case_page pg;
		if (store_cases_list(app->st, &f, offset, 500, &pg)) {
			json_decref(list);
			o311_error(res, fmt, 500, "the store failed");
			return;
		}
		for (size_t i = 0; i < pg.n && (long)json_array_size(list) < page_size; i++) {
			const struct store_case *c = &pg.cases[i];
			if (codes && !in_list(codes, c->category_code))
				continue;
			if (status && !in_list(status, state_closed(c->status) ? "closed" : "open"))
				continue;
			if ((after && c->updated_at <= after) || (before && c->updated_at >= before))
				continue;
			if (skip > 0) {
				skip--;
				continue;
			}
			json_array_append_new(list, request_json(app, c, ext));
		}
		size_t got = pg.n;
		store_case_page_release(&pg);
		if (got < 500)
			break;
		offset += 500;
	}
	o311_send(res, fmt, 200, "service_requests", "request", list);
}

/* mySociety's status words for what happened to a case. */
static const char *update_status(const char *action, const char *to_status)
{
	static const char *const map[][2] = {
		{"report", "OPEN"},         {"register", "INVESTIGATING"},
		{"reject", "NO_FURTHER_ACTION"}, {"dispatch", "ACTION_SCHEDULED"},
		{"accept", "IN_PROGRESS"},  {"return", "INVESTIGATING"},
		{"handle", "IN_PROGRESS"},  {"verify", "IN_PROGRESS"},
		{"close", "FIXED"},         {"rate", "CLOSED"},
		{"reopen", "REOPEN"},       {"merge", "DUPLICATE"},
		{"escalate", "INTERNAL_REFERRAL"}, {"reassign", "INTERNAL_REFERRAL"},
		{"suspend", "ACTION_SCHEDULED"}, {"resume", "IN_PROGRESS"},
		{"extend_request", "ACTION_SCHEDULED"}, {"extend_approve", "ACTION_SCHEDULED"},
		{"supervise", "IN_PROGRESS"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(action, map[i][0]) == 0)
			return strcmp(action, "verify") == 0 && strcmp(to_status, "verified") == 0 ? "FIXED" : map[i][1];
	return NULL; /* internal marks (warn, overdue) are not updates */
}

struct updates_ctx {
	json_t *list;
};

static enum cd_err update_row(void *ctx, const char *ref, const struct store_case_event *ev)
{
	struct updates_ctx *u = ctx;
	const char *status = update_status(ev->action, ev->to_status);
	if (!status || !workflow_step_public(ev->action))
		return CD_OK;
	char id[32];
	snprintf(id, sizeof id, "%lld", (long long)ev->id);
	enum workflow_action a;
	const char *label = strcmp(ev->action, "report") == 0			 ? "上报"
			    : workflow_action_parse(ev->action, &a) == CD_OK ? workflow_action_label_zh(a)
									     : ev->action;
	json_t *comment = public_comment(ev);
	const char *said = json_string_value(comment);
	char desc[2 * STORE_CASE_EVENT_TEXT_MAX + 64];
	snprintf(desc, sizeof desc, "%s%s%s", label, said ? "：" : "", said ? said : "");
	json_decref(comment);
	json_array_append_new(u->list, json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:s}", "update_id", id,
						  "service_request_id", ref, "status", status, "updated_datetime",
						  time_or_null(ev->at), "description", desc, "media_url", json_null(),
						  "external_status_code", ev->action));
	return CD_OK;
}

static void send_updates(struct http_request *req, struct http_response *res, struct app *app, enum o311_fmt fmt,
			 const struct o311_params *p)
{
	int64_t start, end;
	if (!param_time(req, res, p, fmt, "start_date", &start) || !param_time(req, res, p, fmt, "end_date", &end))
		return;
	if (!end)
		end = (int64_t)time(NULL) + 1;
	if (!start)
		start = end - 86400;
	if (end < start || end - start > O311_SPAN_MAX_S) {
		o311_error(res, fmt, 400, "start_date to end_date must be at most 90 days, in order");
		return;
	}
	struct updates_ctx u = {json_array()};
	if (store_channel_events(app->st, O311_CHANNEL, start, end, O311_UPDATES_MAX, update_row, &u)) {
		json_decref(u.list);
		o311_error(res, fmt, 500, "the store failed");
		return;
	}
	o311_send(res, fmt, 200, "service_request_updates", "request_update", u.list);
}

void api_open311_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	char doc[32];
	enum o311_fmt fmt;
	struct o311_params p = {0};
	if (!route_format(req, res, "doc", doc, sizeof doc, &fmt) || !jurisdiction_ok(req, res, &p, fmt))
		return;
	if (strcmp(doc, "discovery") == 0)
		send_discovery(req, res, fmt);
	else if (strcmp(doc, "services") == 0)
		send_services(app, res, fmt);
	else if (strcmp(doc, "requests") == 0)
		send_requests(req, res, app, fmt, &p);
	else if (strcmp(doc, "servicerequestupdates") == 0)
		send_updates(req, res, app, fmt, &p);
	else
		o311_error(res, fmt, 404, "unknown resource");
}

void api_open311_service(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	char code[CATEGORY_CODE_MAX];
	enum o311_fmt fmt;
	struct o311_params p = {0};
	if (!route_format(req, res, "code", code, sizeof code, &fmt) || !jurisdiction_ok(req, res, &p, fmt))
		return;
	const struct category *c = category_get(app->cats, code);
	if (!c || c->first_child || c->depth == 0) {
		o311_error(res, fmt, 404, "unknown service_code");
		return;
	}
	const struct o311_attr *a[O311_ATTR_MAX];
	size_t na = attrs_for(c, a, O311_ATTR_MAX);
	json_t *list = json_array();
	for (size_t i = 0; i < na; i++)
		json_array_append_new(list, attr_json(a[i]));
	o311_send(res, fmt, 200, "service_definition", "attribute",
		  json_pack("{s:s, s:o}", "service_code", c->code, "attributes", list));
}

/* The Open311 request whose ref the path's `param` holds, with the route's format and
 * parameters; false with the answer in res (404 `unknown` when no request of the channel has
 * that ref). */
static bool route_case(struct http_request *req, struct http_response *res, struct app *app,
		       const char *param, const char *unknown, enum o311_fmt *fmt, struct o311_params *p,
		       struct store_case *c)
{
	char ref[STORE_CASE_REF_MAX];
	if (!route_format(req, res, param, ref, sizeof ref, fmt) || !jurisdiction_ok(req, res, p, *fmt))
		return false;
	if (!channel_case(app, ref, c)) {
		o311_error(res, *fmt, 404, unknown);
		return false;
	}
	return true;
}

void api_open311_request(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	enum o311_fmt fmt;
	struct o311_params p = {0};
	struct store_case c;
	if (!route_case(req, res, app, "id", "unknown service_request_id", &fmt, &p, &c))
		return;
	const char *e = o311_param(req, &p, "extensions");
	json_t *list = json_array();
	json_array_append_new(list, request_json(app, &c, e && strcmp(e, "true") == 0));
	o311_send(res, fmt, 200, "service_requests", "request", list);
}

void api_open311_token(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	enum o311_fmt fmt;
	struct o311_params p = {0};
	struct store_case c;
	/* Requests are created at once, so a token is the request's own id. */
	if (!route_case(req, res, app, "token", "unknown token", &fmt, &p, &c))
		return;
	o311_send(res, fmt, 200, "service_requests", "request",
		  json_pack("[{s:s, s:s}]", "service_request_id", c.ref, "token", c.ref));
}

/* ---- POST requests, servicerequestupdates ---- */

/* Requests a minute per key: a fixed one-minute window per key id. */
#define O311_LIMIT_SLOTS 256
static struct {
	pthread_mutex_t mu;
	struct {
		int64_t key_id; /* 0 = free */
		int64_t minute;
		int count;
	} slot[O311_LIMIT_SLOTS];
} limiter = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool rate_ok(const struct store_api_key *k)
{
	int64_t minute = (int64_t)time(NULL) / 60;
	pthread_mutex_lock(&limiter.mu);
	/* The key's own slot, else a free one or one whose minute is over (keys are few: a scan). */
	size_t i = O311_LIMIT_SLOTS, spare = O311_LIMIT_SLOTS;
	for (size_t j = 0; j < O311_LIMIT_SLOTS && i == O311_LIMIT_SLOTS; j++) {
		if (limiter.slot[j].key_id == k->id)
			i = j;
		else if (spare == O311_LIMIT_SLOTS && (!limiter.slot[j].key_id || limiter.slot[j].minute != minute))
			spare = j;
	}
	if (i == O311_LIMIT_SLOTS) {
		if (spare == O311_LIMIT_SLOTS) { /* 256 keys busy this very minute */
			pthread_mutex_unlock(&limiter.mu);
			return false;
		}
		i = spare;
		limiter.slot[i].key_id = k->id;
		limiter.slot[i].minute = minute;
		limiter.slot[i].count = 0;
	}
	if (limiter.slot[i].minute != minute) {
		limiter.slot[i].minute = minute;
		limiter.slot[i].count = 0;
	}
	bool ok = limiter.slot[i].count < k->per_minute;
	if (ok)
		limiter.slot[i].count++;
	pthread_mutex_unlock(&limiter.mu);
	return ok;
}

/* Checks api_key (403 when missing or unknown, 429 past its rate). */
static bool key_ok(struct http_request *req, struct http_response *res, struct app *app, const struct o311_params *p,
		   enum o311_fmt fmt, struct store_api_key *k)
{
	const char *key = o311_param(req, p, "api_key");
	uint8_t h[AUTH_TOKEN_HASH_LEN];
	char hex[2 * AUTH_TOKEN_HASH_LEN + 1];
	if (!key || strlen(key) > 256 || auth_token_hash(key, h)) {
		o311_error(res, fmt, 403, "api_key is missing or invalid");
		return false;
	}
	hex_encode(h, AUTH_TOKEN_HASH_LEN, hex);
	if (store_api_key_find(app->st, hex, k) != CD_OK) {
		o311_error(res, fmt, 403, "api_key is missing or invalid");
		return false;
	}
	if (!rate_ok(k)) {
		o311_error(res, fmt, 429, "too many requests for this api_key: wait a minute");
		if (http_header_add(req, res, "Retry-After", "60"))
			log_warn("Retry-After not added", NULL);
		return false;
	}
	return true;
}

static bool is_url(const char *s)
{
	return (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) && strlen(s) < 1000 &&
	       !strpbrk(s, " \"<>\\\r\n");
}

/* True when s looks like it holds HTML markup ("<b>", "</p>", "<!--"). */
static bool has_markup(const char *s)
{
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<'))
		if (isalpha((unsigned char)p[1]) || p[1] == '/' || p[1] == '!')
			return true;
	return false;
}

/* Checks the service's attributes and writes them, with media_url and the client's own ids, as
 * the first event's data. False with 400 sent when one is missing or wrong. */
static bool read_attributes(struct http_response *res, const struct o311_params *p,
			    enum o311_fmt fmt, const struct category *cat, json_t *data)
{
	const struct o311_attr *a[O311_ATTR_MAX];
	size_t na = attrs_for(cat, a, O311_ATTR_MAX);
	json_t *given = json_object();
	char msg[200];
	for (size_t i = 0; i < p->n; i++) {
		const char *k = p->keys[i];
		if (strncmp(k, "attribute[", 10) != 0 || !p->values[i][0])
			continue;
		const char *close = strchr(k + 10, ']');
		if (!close || close == k + 10 || close - (k + 10) >= 48)
			continue;
		char code[48];
		memcpy(code, k + 10, (size_t)(close - (k + 10)));
		code[close - (k + 10)] = '\0';
		bool multi = strcmp(close, "][]") == 0;
		json_t *prev = json_object_get(given, code);
		if (multi) {
			if (!json_is_array(prev)) {
				prev = json_array();
				json_object_set_new(given, code, prev);
			}
			json_array_append_new(prev, json_string(p->values[i]));
		} else if (!prev) {
			json_object_set_new(given, code, json_string(p->values[i]));
		}
	}
	for (size_t i = 0; i < na; i++) {
		json_t *v = json_object_get(given, a[i]->code);
		if (!v) {
			if (a[i]->required) {
				snprintf(msg, sizeof msg, "attribute[%s] is required", a[i]->code);
				goto bad;
			}
			continue;
		}
		size_t nv = json_is_array(v) ? json_array_size(v) : 1;
		for (size_t j = 0; j < nv; j++) {
			const char *s = json_string_value(json_is_array(v) ? json_array_get(v, j) : v);
			char *end;
			int64_t t;
			if (attr_is_list(a[i]) && !attr_has_key(a[i], s)) {
				snprintf(msg, sizeof msg, "attribute[%s] must be one of the service's keys", a[i]->code);
				goto bad;
			}
			if (strcmp(a[i]->datatype, "number") == 0 && (strtod(s, &end), *end)) {
				snprintf(msg, sizeof msg, "attribute[%s] must be a number", a[i]->code);
				goto bad;
			}
			if (strcmp(a[i]->datatype, "datetime") == 0 && !api_parse_time(s, &t)) {
				snprintf(msg, sizeof msg, "attribute[%s] must be an ISO 8601 date-time", a[i]->code);
				goto bad;
			}
		}
		if (json_is_array(v) && strcmp(a[i]->datatype, "multivaluelist") != 0) {
			snprintf(msg, sizeof msg, "attribute[%s] takes one value", a[i]->code);
			goto bad;
		}
	}
	json_object_set_new(data, "attributes", given);
	return true;
bad:
	json_decref(given);
	o311_error(res, fmt, 400, msg);
	return false;
}

static void create_request(struct http_request *req, struct http_response *res, struct app *app, enum o311_fmt fmt,
			   const struct o311_params *p)
{
	struct store_api_key key;
	if (!key_ok(req, res, app, p, fmt, &key))
		return;
	const char *code = o311_param(req, p, "service_code");
	if (!code) {
		o311_error(res, fmt, 400, "service_code is required");
		return;
	}
	const struct category *cat = category_get(app->cats, code);
	if (!cat || cat->first_child || cat->depth == 0) {
		o311_error(res, fmt, 404, "unknown service_code");
		return;
	}
	const char *lat_s = o311_param(req, p, "lat"), *lng_s = o311_param(req, p, "long");
	const char *addr = o311_param(req, p, "address_string"), *addr_id = o311_param(req, p, "address_id");
	const char *desc = o311_param(req, p, "description"), *media = o311_param(req, p, "media_url");
	struct intake_request in;
	memset(&in, 0, sizeof in);
	if (lat_s || lng_s) {
		char *e1 = NULL, *e2 = NULL;
		in.lat = lat_s ? strtod(lat_s, &e1) : NAN;
		in.lng = lng_s ? strtod(lng_s, &e2) : NAN;
		if (!lat_s || !lng_s || *e1 || *e2 || !isfinite(in.lat) || !isfinite(in.lng) || fabs(in.lat) > 90 ||
		    fabs(in.lng) > 180) {
			o311_error(res, fmt, 400, "lat and long must both be decimal degrees (WGS-84)");
			return;
		}
		in.has_point = true;
	} else if (!addr && !addr_id) {
		o311_error(res, fmt, 400, "a location is required: lat and long, address_string or address_id");
		return;
	}
	if (desc && utf8_chars(desc) > O311_DESC_MAX_CHARS) {
		o311_error(res, fmt, 400, "description is longer than 4000 characters");
		return;
	}
	if (desc && has_markup(desc)) {
		o311_error(res, fmt, 400, "description must be plain text, without HTML");
		return;
	}
	if (media && !is_url(media)) {
		o311_error(res, fmt, 400, "media_url must be an http or https URL");
		return;
	}
	const char *first = o311_param(req, p, "first_name"), *last = o311_param(req, p, "last_name");
	const char *phone = o311_param(req, p, "phone");
	if (phone && (strlen(phone) > 20 || strspn(phone, "0123456789+- ") != strlen(phone))) {
		o311_error(res, fmt, 400, "phone must be digits, +, - and spaces");
		return;
	}
	char name[STORE_NAME_MAX] = "";
	if (first || last)
		snprintf(name, sizeof name, "%s%s%s", last ? last : "", last && first ? " " : "", first ? first : "");

	json_t *data = json_object();
	if (!read_attributes(res, p, fmt, cat, data)) {
		json_decref(data);
		return;
	}
	json_object_set_new(data, "api_key", json_string(key.name));
	if (media)
		json_object_set_new(data, "media_url", json_string(media));
	static const char *const client_ids[] = {"device_id", "account_id", "address_id", "email"};
	for (size_t i = 0; i < sizeof client_ids / sizeof client_ids[0]; i++) {
		const char *v = o311_param(req, p, client_ids[i]);
		if (v && strlen(v) <= 200)
			json_object_set_new(data, client_ids[i], json_string(v));
	}
	/* FixMyStreet names its own report: a repeat of it returns the same request. */
	const char *fms = json_string_value(json_object_get(json_object_get(data, "attributes"), "fixmystreet_id"));
	/* Namespaced by the key: another client's id can never name this client's request. */
	char ext[STORE_CASE_EXTID_MAX] = "";
	if (fms && strlen(fms) <= 40)
		snprintf(ext, sizeof ext, "k%lld:%s", (long long)key.id, fms);
	char *data_text = json_dumps(data, JSON_COMPACT);
	json_decref(data);

	char description[O311_DESC_MAX_CHARS * 4 + 1];
	snprintf(description, sizeof description, "%s", desc ? desc : cat->name);
	char actor[STORE_APIKEY_NAME_MAX + 16];
	snprintf(actor, sizeof actor, "open311:%s", key.name);
	in.channel = O311_CHANNEL;
	in.external_id = ext[0] ? ext : NULL;
	in.description = description;
	in.address = addr;
	in.category = cat->code;
	in.reporter_name = name[0] ? name : NULL;
	in.reporter_phone = phone;
	in.event_data = data_text;
	in.actor = actor;
	in.actor_role = "system";

	struct store_case c;
	bool created = false;
	struct json_problem prob;
	memset(&prob, 0, sizeof prob);
	enum cd_err rc = intake_submit(app, &in, &c, &created, &prob);
	free(data_text); /* from json_dumps (jansson's allocator) */
	if (rc == CD_ERR_INVALID) {
		char msg[400];
		snprintf(msg, sizeof msg, "%s%s%s", prob.field[0] ? prob.field : "", prob.field[0] ? ": " : "",
			 prob.message);
		o311_error(res, fmt, 400, msg);
		return;
	}
	if (rc == CD_ERR_RANGE) {
		o311_error(res, fmt, 503, prob.message);
		return;
	}
	if (rc) {
		o311_error(res, fmt, 500, "the request could not be stored; try again");
		return;
	}
	json_t *r = request_json(app, &c, false);
	json_t *ans = json_pack("[{s:s, s:O, s:n}]", "service_request_id", c.ref, "service_notice",
				json_object_get(r, "service_notice"), "account_id");
	json_decref(r);
	o311_send(res, fmt, created ? 201 : 200, "service_requests", "request", ans);
}

/* True when the request was filed with the key called `key_name` (its first event's data). */
static bool filed_by(struct app *app, const struct store_case *c, const char *key_name)
{
	struct first_data *f = xcalloc(1, sizeof *f);
	bool mine = false;
	if (store_case_events(app->st, c->id, first_event, f) == CD_OK && f->seen) {
		json_t *d = json_loads(f->data, 0, NULL);
		const char *k = json_string_value(json_object_get(d, "api_key"));
		mine = k && strcmp(k, key_name) == 0;
		json_decref(d);
	}
	xfree(f);
	return mine;
}

/* mySociety's POST servicerequestupdates: a client's update to a request. A reopening moves the
 * case back into the workflow; other words are noted as what the client said. */
static void post_update(struct http_request *req, struct http_response *res, struct app *app, enum o311_fmt fmt,
			const struct o311_params *p)
{
	struct store_api_key key;
	if (!key_ok(req, res, app, p, fmt, &key))
		return;
	const char *ref = o311_param(req, p, "service_request_id");
	const char *status = o311_param(req, p, "status");
	const char *desc = o311_param(req, p, "description");
	if (!ref || !status) {
		o311_error(res, fmt, 400, "service_request_id and status are required");
		return;
	}
	if (desc && utf8_chars(desc) > O311_DESC_MAX_CHARS) {
		o311_error(res, fmt, 400, "description is longer than 4000 characters");
		return;
	}
	struct store_case c;
	if (!channel_case(app, ref, &c)) {
		o311_error(res, fmt, 404, "unknown service_request_id");
		return;
	}
	if (!filed_by(app, &c, key.name)) {
		o311_error(res, fmt, 403, "only the client that filed a request may update it");
		return;
	}
	bool reopen = strcmp(status, "REOPEN") == 0 || ((strcmp(status, "OPEN") == 0 || strcmp(status, "open") == 0) &&
							 state_closed(c.status));
	if (!reopen) {
		o311_error(res, fmt, 400,
			   "only REOPEN (or OPEN on a closed request) is taken from clients; the district sets every "
			   "other status");
		return;
	}
	char actor[STORE_APIKEY_NAME_MAX + 16];
	snprintf(actor, sizeof actor, "open311:%s", key.name);
	/* The client speaks for the resident; reopening is a dispatcher's step in the workflow,
	 * and the only one a client may ask for. */
	struct casework_actor who = {.username = actor, .role = ROLE_DISTRICT_DISPATCHER};
	who.store_actor.name = actor;
	who.store_actor.client = req->remote;
	struct casework_action a = {.action = WF_ACTION_REOPEN, .comment = desc, .reason = desc ? desc : "市民重新提出"};
	uint32_t allowed = 0;
	const char *why = NULL;
	struct json_problem prob;
	enum cd_err rc = casework_apply(app, &who, &c, &a, &allowed, &why, &prob);
	if (rc == CD_ERR_CONFLICT || rc == CD_ERR_INVALID) {
		char msg[300];
		snprintf(msg, sizeof msg, "the request cannot be reopened now: %s", why ? why : prob.message);
		o311_error(res, fmt, 400, msg);
		return;
	}
	if (rc) {
		o311_error(res, fmt, 500, "the update could not be stored; try again");
		return;
	}
	char id[32];
	snprintf(id, sizeof id, "%lld", (long long)c.version);
	o311_send(res, fmt, 200, "service_request_updates", "request_update", json_pack("[{s:s}]", "update_id", id));
}

void api_open311_post(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	char doc[32];
	enum o311_fmt fmt;
	if (!route_format(req, res, "doc", doc, sizeof doc, &fmt))
		return;
	struct o311_params p;
	const char *why = NULL;
	if (!o311_params_read(req, &p, &why)) {
		o311_error(res, fmt, 400, why);
		return;
	}
	if (!jurisdiction_ok(req, res, &p, fmt))
		return;
	if (strcmp(doc, "requests") == 0)
		create_request(req, res, app, fmt, &p);
	else if (strcmp(doc, "servicerequestupdates") == 0)
		post_update(req, res, app, fmt, &p);
	else
		o311_error(res, fmt, 404, "unknown resource");
}

void api_open311_configure(const char *categories_dir)
{
	attrs_dir = categories_dir;
}
