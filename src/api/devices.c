/* /api/v1/devices (api/devices.h): registering devices one by one or by CSV (the secret is in
 * the answer once, never again), listing and reading them within the caller's scope, a device's
 * time series, and the HTTP alternative to MQTT for devices, authenticated with their own id and
 * secret and handed to the hub like MQTT messages. */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/devices.h"
#include "app/devices.h"
#include "app/iot.h"
#include "app/mapview.h"
#include "app/series.h"
#include "util/alloc.h"
#include "util/clock.h"

#define DAY_MS 86400000LL

/* The registry, or a 503 in res when IoT is not running. */
static struct devices *registry(struct app *app, struct http_response *res)
{
	if (!app->devices)
		http_error(res, 503, "iot_off", "the device registry is not running (CITYDESK_IOT=off?)",
			   NULL);
	return app->devices;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* The device as the API shows it. A new reference. */
static json_t *device_json(struct app *app, const struct iot_device *d)
{
	char street[STORE_NAME_MAX] = "", community[STORE_NAME_MAX] = "";
	if (d->street_code[0])
		mapview_area_name(&app->map_lock, &app->map, d->street_code, street, sizeof street);
	if (d->community_code[0])
		mapview_area_name(&app->map_lock, &app->map, d->community_code, community, sizeof community);
	json_t *tags = json_array();
	for (const char *p = d->tags; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		json_array_append_new(tags, json_stringn(p, n));
		p = c ? c + 1 : p + n;
	}
	char seen[CLOCK_ISO_MS_LEN] = "";
	if (d->last_seen_ms)
		clock_iso_ms(d->last_seen_ms, seen);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(d->id));
	json_object_set_new(o, "type", json_string(d->type));
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "site", json_string(d->site));
	json_object_set_new(o, "owner", json_string(d->owner));
	json_object_set_new(o, "lat", d->has_point ? json_real(d->lat) : json_null());
	json_object_set_new(o, "lng", d->has_point ? json_real(d->lng) : json_null());
	json_object_set_new(o, "street_code", str_or_null(d->street_code));
	json_object_set_new(o, "street_name", str_or_null(street));
	json_object_set_new(o, "community_code", str_or_null(d->community_code));
	json_object_set_new(o, "community_name", str_or_null(community));
	json_object_set_new(o, "grid_code", str_or_null(d->grid_code));
	json_object_set_new(o, "address_hex", str_or_null(d->address_hex));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "active", json_boolean(d->active));
	json_object_set_new(o, "online", json_boolean(d->online));
	json_object_set_new(o, "last_seen", str_or_null(seen));
	return o;
}

/* Street dispatchers (and grid workers with a street) see their street's devices only. */
static const char *scope_street(const struct api_caller *who)
{
	if (who->role == ROLE_STREET_DISPATCHER ||
	    (who->role == ROLE_GRID_WORKER && who->user.street_code[0]))
		return who->user.street_code;
	return NULL;
}

#define STAFF (API_ANY_ROLE & ~API_ROLE(ROLE_CITIZEN))

/* ---- registering --------------------------------------------------------------------- */

/* Copies a string field of at most cap-1 bytes into dst (absent: ""). */
static enum cd_err get_text(const json_t *body, const char *field, unsigned flags, char *dst, size_t cap,
			    struct json_problem *p)
{
	const char *v = "";
	enum cd_err rc = json_get_string(body, field, flags, 0, &v, p);
	if (rc)
		return rc;
	if (strlen(v) >= cap) {
		json_problem_set(p, 422, "invalid_field", field, "%s is longer than %zu bytes", field,
				 cap - 1);
		return CD_ERR_INVALID;
	}
	snprintf(dst, cap, "%s", v);
	return CD_OK;
}

/* tags as "a,b" or ["a","b"] into dst. */
static enum cd_err get_tags(const json_t *body, char *dst, size_t cap, struct json_problem *p)
{
	const json_t *t = json_object_get(body, "tags");
	dst[0] = '\0';
	if (!t || json_is_null(t))
		return CD_OK;
	if (json_is_string(t))
		return get_text(body, "tags", JSON_OPTIONAL, dst, cap, p);
	if (!json_is_array(t)) {
		json_problem_set(p, 422, "invalid_field", "tags",
				 "tags is a list of words or a comma-separated string");
		return CD_ERR_INVALID;
	}
	size_t i, len = 0;
	const json_t *v;
	json_array_foreach(t, i, v)
	{
		const char *w = json_string_value(v);
		size_t n = w ? strlen(w) : 0;
		if (!w || !n || strchr(w, ',') || len + n + 2 > cap) {
			json_problem_set(p, 422, "invalid_field", "tags",
					 "tags must be short words without commas");
			return CD_ERR_INVALID;
		}
		if (len)
			dst[len++] = ',';
		memcpy(dst + len, w, n + 1);
		len += n;
	}
	return CD_OK;
}

/* Checks crs (wgs84 or gcj02; NULL is wgs84) and, when has, sets d's point from lat/lng given
 * in it (converted to WGS-84); CD_ERR_INVALID with p for another crs. */
static enum cd_err set_point(struct iot_device *d, bool has, double lat, double lng, const char *crs,
			     struct json_problem *p)
{
	if (crs && strcmp(crs, "wgs84") != 0 && strcmp(crs, "gcj02") != 0) {
		json_problem_set(p, 422, "invalid_field", "crs", "crs must be wgs84 or gcj02");
		return CD_ERR_INVALID;
	}
	if (has) {
		struct geo_point pt = api_point_wgs84(lat, lng, crs);
		d->has_point = true;
		d->lat = pt.lat;
		d->lng = pt.lng;
	}
	return CD_OK;
}

/* Reads a device registration body into d. */
static enum cd_err device_from_body(const json_t *body, struct iot_device *d, struct json_problem *p)
{
	static const char *const allowed[] = {"id",  "type", "name",	    "site", "owner", "lat",
					      "lng", "crs",  "address_hex", "tags", NULL};
	memset(d, 0, sizeof *d);
	double lat = NAN, lng = NAN;
	const char *crs = NULL;
	enum cd_err rc = json_check_fields(body, allowed, p);
	if (!rc)
		rc = get_text(body, "id", JSON_REQUIRED | JSON_NONEMPTY, d->id, sizeof d->id, p);
	if (!rc)
		rc = get_text(body, "type", JSON_REQUIRED | JSON_NONEMPTY, d->type, sizeof d->type, p);
	if (!rc)
		rc = get_text(body, "name", JSON_OPTIONAL, d->name, sizeof d->name, p);
	if (!rc)
		rc = get_text(body, "site", JSON_OPTIONAL, d->site, sizeof d->site, p);
	if (!rc)
		rc = get_text(body, "owner", JSON_OPTIONAL, d->owner, sizeof d->owner, p);
	if (!rc)
		rc = get_text(body, "address_hex", JSON_OPTIONAL, d->address_hex, sizeof d->address_hex, p);
	if (!rc)
		rc = get_tags(body, d->tags, sizeof d->tags, p);
	if (!rc)
		rc = json_get_double(body, "lat", JSON_OPTIONAL, -90, 90, &lat, p);
	if (!rc)
		rc = json_get_double(body, "lng", JSON_OPTIONAL, -180, 180, &lng, p);
	if (!rc)
		rc = json_get_string(body, "crs", JSON_OPTIONAL, 8, &crs, p);
	if (rc)
		return rc;
	if (isnan(lat) != isnan(lng)) {
		json_problem_set(p, 422, "missing_field", isnan(lat) ? "lat" : "lng",
				 "lat and lng go together");
		return CD_ERR_INVALID;
	}
	return set_point(d, !isnan(lat), lat, lng, crs, p);
}

void api_devices_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, API_ROLE(ROLE_ADMIN));
	json_t *body = NULL;
	if (!who || !registry(app, res) || !http_read_json(req, res, &body))
		return;
	struct iot_device d;
	struct json_problem p;
	char secret[65] = "";
	memset(&p, 0, sizeof p);
	enum cd_err rc = device_from_body(body, &d, &p);
	if (!rc)
		rc = devices_create(app, &who->actor, &d, secret, &p);
	json_decref(body);
	if (rc) {
		if (p.status)
			http_error_json(res, &p);
		else
			api_store_failed(req, res, rc);
		return;
	}
	struct iot_device stored;
	if (devices_get(app->devices, d.id, &stored))
		d = stored;
	json_t *reply = device_json(app, &d);
	json_object_set_new(reply, "secret", json_string(secret));
	sodium_memzero(secret, sizeof secret);
	http_respond_json(res, 201, reply);
	json_decref(reply);
}

void api_devices_import(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, API_ROLE(ROLE_ADMIN));
	if (!who || !registry(app, res))
		return;
	const char *fmt = http_query_get(req, "format");
	if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0) {
		http_error(res, 422, "invalid_parameter", "format is json or csv", "format");
		return;
	}
	bool as_csv = fmt && strcmp(fmt, "csv") == 0;
	struct iot_device *v = NULL;
	size_t n = 0, bad = 0;
	struct json_problem p;
	memset(&p, 0, sizeof p);
	enum cd_err rc = devices_parse_csv(req->body, req->body_len, &v, &n, &p);
	if (!rc && n == 0) {
		http_error(res, 422, "empty_import", "the CSV has no devices", NULL);
		xfree(v);
		return;
	}
	char(*secrets)[65] = NULL;
	if (!rc) {
		secrets = xcalloc(n, sizeof *secrets);
		rc = devices_create_many(app, &who->actor, v, n, secrets, &bad, &p);
		if (rc && bad < n) { /* name the row: line = index + 2 (the header is line 1) */
			char msg[sizeof p.message + 96];
			snprintf(msg, sizeof msg, "row %zu (device %.63s): %s", bad + 2, v[bad].id,
				 p.message);
			size_t l = strnlen(msg, sizeof p.message - 1);
			memcpy(p.message, msg, l);
			p.message[l] = '\0';
		}
	}
	if (rc) {
		if (p.status)
			http_error_json(res, &p);
		else
			api_store_failed(req, res, rc);
		goto out;
	}
	if (as_csv) {
		res->status = 201;
		res->content_type = "text/csv; charset=utf-8";
		enum cd_err wrc = buf_puts(&res->body, "id,secret\r\n");
		for (size_t i = 0; i < n && !wrc; i++)
			wrc = buf_printf(&res->body, "%s,%s\r\n", v[i].id, secrets[i]);
		if (wrc)
			http_error(res, 500, "internal", "the answer did not fit", NULL);
	} else {
		json_t *items = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *o = device_json(app, &v[i]);
			json_object_set_new(o, "secret", json_string(secrets[i]));
			json_array_append_new(items, o);
		}
		json_t *reply = json_pack("{s:I,s:o}", "created", (json_int_t)n, "devices", items);
		http_respond_json(res, 201, reply);
		json_decref(reply);
	}
out:
	if (secrets)
		sodium_memzero(secrets, n * sizeof *secrets);
	xfree(secrets);
	xfree(v);
}

/* ---- changing and decommissioning ---------------------------------------------------- */

/* The device of the {id} parameter within who's scope; false with 404 otherwise. */
static bool device_in_scope(struct http_request *req, struct http_response *res, struct app *app,
			    const struct api_caller *who, struct iot_device *d)
{
	const char *id = http_param(req, "id");
	const char *scope = scope_street(who);
	if (!id || !devices_get(app->devices, id, d) || (scope && strcmp(d->street_code, scope) != 0)) {
		http_error(res, 404, "not_found", "no such device", NULL);
		return false;
	}
	return true;
}

/* The caller of a route on one device, when it holds one of `roles`, the registry runs and the
 * {id} device is in the caller's scope (copied into d); NULL with the answer in res otherwise. */
static struct api_caller *device_caller(struct http_request *req, struct http_response *res, struct app *app,
					unsigned roles, struct iot_device *d)
{
	struct api_caller *who = api_require(req, res, app, roles);
	if (!who || !registry(app, res) || !device_in_scope(req, res, app, who, d))
		return NULL;
	return who;
}

/* 200 with the device as JSON. */
static void reply_device(struct http_response *res, struct app *app, const struct iot_device *d)
{
	json_t *reply = device_json(app, d);
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

/* Applies a PUT body to d (the device as registered): fields present change, absent ones stay;
 * "lat": null with "lng": null removes the point, "address_hex": null or "" the address. */
static enum cd_err apply_body(const json_t *body, struct iot_device *d, struct json_problem *p)
{
	static const char *const allowed[] = {"id",  "type", "name",	    "site", "owner",  "lat",
					      "lng", "crs",  "address_hex", "tags", "active", NULL};
	enum cd_err rc = json_check_fields(body, allowed, p);
	const char *id = NULL, *type = NULL, *crs = NULL;
	if (!rc)
		rc = json_get_string(body, "id", JSON_OPTIONAL, 0, &id, p);
	if (!rc)
		rc = json_get_string(body, "type", JSON_OPTIONAL, 0, &type, p);
	if (!rc && ((id && strcmp(id, d->id) != 0) || (type && strcmp(type, d->type) != 0))) {
		json_problem_set(p, 422, "invalid_field", id && strcmp(id, d->id) != 0 ? "id" : "type",
				 "a device keeps its id and type (register a new device instead)");
		rc = CD_ERR_INVALID;
	}
	if (!rc && json_object_get(body, "name"))
		rc = get_text(body, "name", JSON_OPTIONAL, d->name, sizeof d->name, p);
	if (!rc && json_object_get(body, "site"))
		rc = get_text(body, "site", JSON_OPTIONAL, d->site, sizeof d->site, p);
	if (!rc && json_object_get(body, "owner"))
		rc = get_text(body, "owner", JSON_OPTIONAL, d->owner, sizeof d->owner, p);
	if (!rc && json_object_get(body, "address_hex"))
		rc = get_text(body, "address_hex", JSON_OPTIONAL, d->address_hex, sizeof d->address_hex, p);
	if (!rc && json_object_get(body, "tags"))
		rc = get_tags(body, d->tags, sizeof d->tags, p);
	if (!rc)
		rc = json_get_bool(body, "active", JSON_OPTIONAL, &d->active, p);
	if (!rc)
		rc = json_get_string(body, "crs", JSON_OPTIONAL, 8, &crs, p);
	if (rc)
		return rc;
	const json_t *jlat = json_object_get(body, "lat"), *jlng = json_object_get(body, "lng");
	if (!jlat && !jlng) {
		if (!crs)
			return CD_OK;
		json_problem_set(p, 422, "invalid_field", "crs", "crs goes with lat and lng");
		return CD_ERR_INVALID;
	}
	if (!jlat || !jlng || json_is_null(jlat) != json_is_null(jlng)) {
		json_problem_set(p, 422, "missing_field", jlat ? "lng" : "lat", "lat and lng go together");
		return CD_ERR_INVALID;
	}
	if (json_is_null(jlat)) {
		d->has_point = false;
		d->lat = d->lng = 0;
		return CD_OK;
	}
	double lat = NAN, lng = NAN;
	rc = json_get_double(body, "lat", JSON_REQUIRED, -90, 90, &lat, p);
	if (!rc)
		rc = json_get_double(body, "lng", JSON_REQUIRED, -180, 180, &lng, p);
	if (rc)
		return rc;
	return set_point(d, true, lat, lng, crs, p);
}

/* The answer to a failed change: the problem when there is one, else the store's error. */
static void change_failed(struct http_request *req, struct http_response *res, enum cd_err rc,
			  const struct json_problem *p)
{
	if (p->status)
		http_error_json(res, p);
	else
		api_store_failed(req, res, rc);
}

void api_devices_update(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct iot_device d;
	struct api_caller *who = device_caller(req, res, app, API_ROLE(ROLE_ADMIN), &d);
	json_t *body = NULL;
	if (!who || !http_read_json(req, res, &body))
		return;
	struct json_problem p;
	memset(&p, 0, sizeof p);
	enum cd_err rc = apply_body(body, &d, &p);
	json_decref(body);
	if (!rc)
		rc = devices_update(app, &who->actor, &d, &p);
	if (rc) {
		change_failed(req, res, rc, &p);
		return;
	}
	reply_device(res, app, &d);
}

void api_devices_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct iot_device d;
	struct api_caller *who = device_caller(req, res, app, API_ROLE(ROLE_ADMIN), &d);
	if (!who)
		return;
	struct json_problem p;
	memset(&p, 0, sizeof p);
	enum cd_err rc = devices_decommission(app, &who->actor, d.id, &d, &p);
	if (rc) {
		change_failed(req, res, rc, &p);
		return;
	}
	reply_device(res, app, &d);
}

/* ---- reading ------------------------------------------------------------------------- */

struct list_ctx {
	const char *type, *street, *q, *scope;
	int online; /* -1 any, 0 offline, 1 online */
	struct iot_device *v;
	size_t n, cap;
};

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void list_each(void *ctx, const struct iot_device *d)
{
	struct list_ctx *c = ctx;
	if ((c->scope && strcmp(d->street_code, c->scope) != 0) ||
	    (c->type && strcmp(d->type, c->type) != 0) ||
	    (c->street && strcmp(d->street_code, c->street) != 0) ||
	    (c->online >= 0 && d->online != (c->online == 1)))
		return;
	if (c->q && !contains(d->id, c->q) && !contains(d->name, c->q) && !contains(d->site, c->q) &&
	    !contains(d->owner, c->q) && !contains(d->tags, c->q))
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	c->v[c->n++] = *d;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct iot_device *)a)->id, ((const struct iot_device *)b)->id);
}

void api_devices_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, STAFF);
	struct list_ctx c;
	memset(&c, 0, sizeof c);
	const char *online = NULL;
	long page, page_size;
	if (!who || !registry(app, res) || !api_paging(req, res, &page, &page_size) ||
	    !api_query_text(req, res, "type", 31, &c.type) ||
	    !api_query_text(req, res, "street", 12, &c.street) ||
	    !api_query_text(req, res, "online", 5, &online) || !api_query_text(req, res, "q", 100, &c.q))
		return;
	if (c.type && !devices_valid_type(c.type)) {
		http_error(res, 422, "invalid_parameter", "unknown device type", "type");
		return;
	}
	c.online = -1;
	if (online) {
		if (strcmp(online, "true") != 0 && strcmp(online, "false") != 0) {
			http_error(res, 422, "invalid_parameter", "online is true or false", "online");
			return;
		}
		c.online = strcmp(online, "true") == 0;
	}
	c.scope = scope_street(who);
	devices_each(app->devices, list_each, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof *c.v, by_id);
	json_t *items = json_array();
	size_t from = (size_t)(page - 1) * (size_t)page_size;
	for (size_t i = from; i < c.n && i < from + (size_t)page_size; i++)
		json_array_append_new(items, device_json(app, &c.v[i]));
	api_respond_page(res, items, (long long)c.n, page, page_size);
	xfree(c.v);
}

void api_devices_get(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct iot_device d;
	if (!device_caller(req, res, app, STAFF, &d))
		return;
	json_t *reply = device_json(app, &d);
	json_t *metrics = json_array();
	char(*m)[IOT_METRIC_MAX] = NULL;
	size_t n = 0;
	if (app->series && series_metrics(app->series, d.id, &m, &n) == CD_OK)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(metrics, json_string(m[i]));
	xfree(m);
	json_object_set_new(reply, "metrics", metrics);
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

/* A time from the query: ISO 8601, or unix milliseconds (digits); false with 422. */
static bool query_ms(struct http_request *req, struct http_response *res, const char *name, int64_t *out)
{
	const char *v = http_query_get(req, name);
	if (!v || !*v)
		return true;
	if (strspn(v, "0123456789") == strlen(v) && strlen(v) <= 15) {
		char *end;
		errno = 0;
		long long ms = strtoll(v, &end, 10);
		if (!errno && !*end) {
			*out = ms;
			return true;
		}
	}
	int64_t sec;
	if (!api_parse_time(v, &sec)) {
		http_error(res, 422, "invalid_parameter",
			   "an ISO 8601 time (2026-11-27T08:00:00+08:00) or unix milliseconds", name);
		return false;
	}
	*out = sec * 1000;
	return true;
}

void api_devices_series(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct iot_device d;
	const char *metric = NULL, *step_s = NULL, *limit_s = NULL;
	if (!device_caller(req, res, app, STAFF, &d) ||
	    !api_query_text(req, res, "metric", IOT_METRIC_MAX - 1, &metric) ||
	    !api_query_text(req, res, "step", 8, &step_s) || !api_query_text(req, res, "limit", 6, &limit_s))
		return;
	if (!app->series) {
		http_error(res, 503, "series_off", "the time series is not running", NULL);
		return;
	}
	if (!metric || !iot_valid_id(metric)) {
		http_error(res, 422, metric ? "invalid_parameter" : "missing_parameter",
			   "metric names one of the device's metrics (see GET /api/v1/devices/{id})",
			   "metric");
		return;
	}
	enum series_step step = SERIES_STEP_AUTO;
	if (step_s && !series_parse_step(step_s, &step)) {
		http_error(res, 422, "invalid_parameter", "step is raw, 1m, 1h or auto", "step");
		return;
	}
	long limit = SERIES_QUERY_MAX;
	if (limit_s) {
		char *end;
		limit = strtol(limit_s, &end, 10);
		if (*end || limit < 1 || limit > SERIES_QUERY_MAX) {
			http_error(res, 422, "invalid_parameter", "limit is 1 to 10000", "limit");
			return;
		}
	}
	int64_t to = clock_wall_ms() + 1, from = 0;
	if (!query_ms(req, res, "to", &to))
		return;
	from = to - DAY_MS;
	if (!query_ms(req, res, "from", &from))
		return;
	if (from >= to) {
		http_error(res, 422, "invalid_parameter", "from must be before to", "from");
		return;
	}
	struct series_point *pts = NULL;
	size_t n = 0;
	enum series_step used;
	bool truncated;
	enum cd_err rc = series_query(app->series, d.id, metric, from, to, step, (size_t)limit, &pts, &n,
				      &used, &truncated);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *points = json_array();
	char iso[CLOCK_ISO_MS_LEN];
	for (size_t i = 0; i < n; i++) {
		clock_iso_ms(pts[i].ts_ms, iso);
		json_t *o = used == SERIES_STEP_RAW
				? json_pack("{s:s,s:I,s:f}", "ts", iso, "ts_ms", (json_int_t)pts[i].ts_ms,
					    "value", pts[i].avg)
				: json_pack("{s:s,s:I,s:I,s:f,s:f,s:f}", "ts", iso, "ts_ms",
					    (json_int_t)pts[i].ts_ms, "count", (json_int_t)pts[i].count,
					    "avg", pts[i].avg, "min", pts[i].min, "max", pts[i].max);
		if (o)
			json_array_append_new(points, o);
	}
	xfree(pts);
	char from_iso[CLOCK_ISO_MS_LEN], to_iso[CLOCK_ISO_MS_LEN];
	clock_iso_ms(from, from_iso);
	clock_iso_ms(to, to_iso);
	json_t *reply = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:b}", "device", d.id, "metric", metric, "step",
				  series_step_name(used), "from", from_iso, "to", to_iso, "points", points,
				  "truncated", truncated);
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

/* ---- devices posting over HTTP ------------------------------------------------------- */

/* The login limiter's key of failures by one client address for one device id: hashed, as the
 * two together may be longer than the limiter keeps (64 bytes), and a cut key would merge ids. */
static void limiter_key(const char *remote, const char *id, char key[40])
{
	unsigned char d[16];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof d);
	crypto_generichash_update(&st, (const unsigned char *)(remote ? remote : ""),
				  strlen(remote ? remote : "") + 1);
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_final(&st, d, sizeof d);
	memcpy(key, "dev:", 4);
	sodium_bin2hex(key + 4, 33, d, sizeof d);
}

/* Authenticates the device of the {id} parameter by HTTP Basic auth (id:secret). On success
 * returns true with id set; otherwise false with 401/403/429 in res (429 only for a wrong
 * secret, after AUTH_LIMIT_FAILURES from this address for this id within AUTH_LIMIT_WINDOW). */
static bool device_auth(struct http_request *req, struct http_response *res, struct app *app,
			char id[IOT_ID_MAX])
{
	const char *want = http_param(req, "id");
	const char *h = http_header(req, "Authorization");
	if (!registry(app, res))
		return false;
	if (!h || strncasecmp(h, "Basic ", 6) != 0) {
		http_error(res, 401, "unauthenticated",
			   "a device logs in with HTTP Basic auth: its id and secret", NULL);
		if (http_header_add(req, res, "WWW-Authenticate", "Basic realm=\"citydesk devices\""))
			return false; /* the 401 stands without the hint */
		return false;
	}
	const char *b64 = h + 6;
	while (*b64 == ' ')
		b64++;
	unsigned char raw[IOT_ID_MAX + AUTH_PASSWORD_MAX + 2];
	size_t len = 0;
	if (strlen(b64) > 4 * (sizeof raw / 3) ||
	    sodium_base642bin(raw, sizeof raw - 1, b64, strlen(b64), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL)) {
		http_error(res, 401, "unauthenticated", "malformed Basic credentials", NULL);
		return false;
	}
	raw[len] = '\0';
	char *colon = memchr(raw, ':', len);
	if (!colon || memchr(raw, 0, len) || (size_t)(colon - (char *)raw) >= IOT_ID_MAX) {
		http_error(res, 401, "unauthenticated", "malformed Basic credentials", NULL);
		sodium_memzero(raw, sizeof raw);
		return false;
	}
	*colon = '\0';
	memcpy(id, raw, (size_t)(colon - (char *)raw) + 1);
	const char *secret = colon + 1;
	char key[40];
	limiter_key(req->remote, id, key);
	int64_t now = (int64_t)time(NULL);
	bool ok = false;
	/* The secret first, and a right one is always taken: the limiter only slows guessing, so
	 * wrong attempts by anyone can never hold back a device's fire alarm. Failures count per
	 * (client address, device id). */
	if (devices_check_secret(app->devices, id, secret)) {
		if (app->limiter)
			auth_limiter_clear(app->limiter, key);
		if (!want || strcmp(want, id) != 0)
			http_error(res, 403, "forbidden", "a device may post only under its own id", NULL);
		else
			ok = true;
	} else {
		int64_t wait = app->limiter ? auth_limiter_check(app->limiter, key, now) : 0;
		if (wait > 0) {
			char after[24];
			snprintf(after, sizeof after, "%lld", (long long)wait);
			http_error(res, 429, "too_many_attempts",
				   "too many failed device logins; try again later", NULL);
			if (http_header_add(req, res, "Retry-After", after))
				res->n_headers = 0; /* the 429 stands without the hint */
		} else {
			if (app->limiter)
				auth_limiter_fail(app->limiter, key, now);
			http_error(res, 401, "unauthenticated",
				   "unknown device, wrong secret or decommissioned device", NULL);
		}
	}
	sodium_memzero(raw, sizeof raw);
	return ok;
}

/* 400/422 from a payload parser's problem. */
static void payload_refused(struct http_response *res, const struct json_problem *p)
{
	if (p->status)
		http_error_json(res, p);
	else
		http_error(res, 422, "invalid_payload", "the payload was refused", NULL);
}

static void accepted(struct http_response *res)
{
	http_respond_static(res, 202, HTTP_JSON_TYPE, "{\"accepted\":true}", 17);
}

/* The three messages a device posts (docs/iot.md); one is parsed per request. */
enum device_msg_kind { DEVICE_MSG_TELEMETRY, DEVICE_MSG_EVENT, DEVICE_MSG_STATUS };
union device_msg {
	struct iot_telemetry telemetry;
	struct iot_event event;
	struct iot_status status;
};

/* Authenticates the device, parses its message of `kind` and hands it to the hub: 202 once it is
 * durable, 400 for a bad payload, 503 when it could not be stored (the device sends it again). */
static void device_message(struct http_request *req, struct http_response *res, struct app *app,
			   enum device_msg_kind kind)
{
	char id[IOT_ID_MAX];
	if (!device_auth(req, res, app, id))
		return;
	union device_msg *m = http_alloc(req, sizeof *m); /* over a KB: not on a handler's stack */
	struct json_problem p;
	memset(&p, 0, sizeof p);
	if (!m) {
		http_error(res, 503, "busy", "out of memory for this request", NULL);
		return;
	}
	int64_t now = clock_wall_ms();
	enum cd_err parsed, stored = CD_OK;
	switch (kind) {
	case DEVICE_MSG_TELEMETRY:
		parsed = iot_parse_telemetry(id, req->body, req->body_len, now, &m->telemetry, &p);
		if (!parsed)
			stored = iot_telemetry_in(app, IOT_SRC_HTTP, &m->telemetry);
		break;
	case DEVICE_MSG_EVENT:
		parsed = iot_parse_event(id, req->body, req->body_len, now, &m->event, &p);
		if (!parsed)
			stored = iot_event_in(app, IOT_SRC_HTTP, &m->event);
		break;
	default:
		parsed = iot_parse_status(id, req->body, req->body_len, now, &m->status, &p);
		if (!parsed)
			stored = iot_status_in(app, IOT_SRC_HTTP, &m->status);
		break;
	}
	if (parsed) {
		payload_refused(res, &p);
		return;
	}
	if (stored) { /* not durable: no 202, the device sends it again */
		http_error(res, 503, "unavailable", "the message could not be stored; send it again", NULL);
		return;
	}
	accepted(res);
}

void api_devices_telemetry(struct http_request *req, struct http_response *res, void *ctx)
{
	device_message(req, res, ctx, DEVICE_MSG_TELEMETRY);
}

void api_devices_event(struct http_request *req, struct http_response *res, void *ctx)
{
	device_message(req, res, ctx, DEVICE_MSG_EVENT);
}

void api_devices_status(struct http_request *req, struct http_response *res, void *ctx)
{
	device_message(req, res, ctx, DEVICE_MSG_STATUS);
}

/* ---- metrics ------------------------------------------------------------------------- */

enum cd_err api_devices_metrics(struct buf *out, struct app *app)
{
	size_t total = 0, online = 0;
	devices_count(app->devices, &total, &online);
	enum cd_err rc = buf_printf(out,
				    "# HELP citydesk_devices Registered devices.\n"
				    "# TYPE citydesk_devices gauge\n"
				    "citydesk_devices %zu\n"
				    "# HELP citydesk_devices_online Devices online (heartbeats and data).\n"
				    "# TYPE citydesk_devices_online gauge\n"
				    "citydesk_devices_online %zu\n",
				    total, online);
	if (rc || !app->series)
		return rc;
	struct series_stats st;
	series_get_stats(app->series, &st);
	return buf_printf(
	    out,
	    "# HELP citydesk_series_values_written_total Telemetry values stored in the time series.\n"
	    "# TYPE citydesk_series_values_written_total counter\n"
	    "citydesk_series_values_written_total %llu\n"
	    "# HELP citydesk_series_values_dropped_total Telemetry values dropped: the queue stayed full.\n"
	    "# TYPE citydesk_series_values_dropped_total counter\n"
	    "citydesk_series_values_dropped_total %llu\n"
	    "# HELP citydesk_series_values_failed_total Telemetry values lost to a store error.\n"
	    "# TYPE citydesk_series_values_failed_total counter\n"
	    "citydesk_series_values_failed_total %llu\n"
	    "# HELP citydesk_series_queue Telemetry values waiting for the series writer.\n"
	    "# TYPE citydesk_series_queue gauge\n"
	    "citydesk_series_queue %zu\n"
	    "# HELP citydesk_series Distinct (device, metric) series.\n"
	    "# TYPE citydesk_series gauge\n"
	    "citydesk_series %zu\n",
	    (unsigned long long)st.written, (unsigned long long)st.dropped, (unsigned long long)st.failed,
	    st.queued, st.series);
}
