/* POST /api/v1/ingest/{system}: checks the system's key, reads every item strictly (all or
 * nothing: one bad item refuses the request, naming it), and queues them for the alerts
 * worker, which raises, de-duplicates and clears them and opens their cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/ingest.h"
#include "app/alerts.h"
#include "app/devices.h"
#include "core/rules.h"
#include "util/alloc.h"
#include "util/clock.h"

static bool word_ok(const char *s)
{
	return iot_valid_id(s);
}

/* Reads one item into *out; on failure *p names the field (without the events[i] prefix). */
static enum cd_err read_item(struct app *app, const json_t *o, struct alerts_ingest *out,
			     struct json_problem *p)
{
	static const char *const allowed[] = {"id",  "type",	"level",    "status", "device",
					      "ts",  "title",	"detail",   "lat",    "lng",
					      "crs", "address", "category", NULL};
	const char *id = NULL, *type = NULL, *level = NULL, *status = NULL, *device = NULL, *title = NULL,
		   *address = NULL, *category = NULL, *crs = NULL;
	const json_t *detail = json_object_get(o, "detail"), *ts = json_object_get(o, "ts");
	double lat = NAN, lng = NAN;
	if (!json_is_object(o)) {
		json_problem_set(p, 422, "invalid_field", "", "each event is a JSON object");
		return CD_ERR_INVALID;
	}
	enum cd_err rc = json_check_fields(o, allowed, p);
	if (!rc)
		rc = json_get_string(o, "id", JSON_OPTIONAL, 63, &id, p);
	if (!rc)
		rc = json_get_string(o, "type", JSON_REQUIRED | JSON_NONEMPTY, 31, &type, p);
	if (!rc)
		rc = json_get_string(o, "level", JSON_OPTIONAL, 8, &level, p);
	if (!rc)
		rc = json_get_string(o, "status", JSON_OPTIONAL, 8, &status, p);
	if (!rc)
		rc = json_get_string(o, "device", JSON_OPTIONAL, 63, &device, p);
	if (!rc)
		rc = json_get_string(o, "title", JSON_OPTIONAL, 200, &title, p);
	if (!rc)
		rc = json_get_string(o, "address", JSON_OPTIONAL, 200, &address, p);
	if (!rc)
		rc = json_get_string(o, "category", JSON_OPTIONAL, 31, &category, p);
	if (!rc)
		rc = json_get_string(o, "crs", JSON_OPTIONAL, 8, &crs, p);
	if (!rc)
		rc = json_get_double(o, "lat", JSON_OPTIONAL, -90, 90, &lat, p);
	if (!rc)
		rc = json_get_double(o, "lng", JSON_OPTIONAL, -180, 180, &lng, p);
	if (rc)
		return rc;
	const char *bad = NULL, *why = NULL;
	struct iot_device known;
	enum rules_level lv;
	if (id && *id && !word_ok(id))
		bad = "id", why = "id is 1-63 of [A-Za-z0-9_.-]";
	else if (!word_ok(type))
		bad = "type", why = "type is 1-31 of [A-Za-z0-9_.-]";
	else if (level && *level && !rules_level_parse(level, &lv))
		bad = "level", why = "level is blue, yellow, orange or red";
	else if (status && strcmp(status, "raised") != 0 && strcmp(status, "cleared") != 0)
		bad = "status", why = "status is raised or cleared";
	else if (device && *device &&
		 (!word_ok(device) || (app->devices && !devices_get(app->devices, device, &known))))
		bad = "device", why = "no registered device with this id";
	else if (category && *category && !word_ok(category))
		bad = "category", why = "category is a category code";
	else if (crs && strcmp(crs, "wgs84") != 0 && strcmp(crs, "gcj02") != 0)
		bad = "crs", why = "crs is wgs84 or gcj02";
	else if (isnan(lat) != isnan(lng))
		bad = isnan(lat) ? "lat" : "lng", why = "lat and lng go together";
	else if (detail && !json_is_string(detail) && !json_is_object(detail))
		bad = "detail", why = "detail is a string or an object";
	else if (ts && !json_is_string(ts) && !json_is_integer(ts))
		bad = "ts", why = "ts is an ISO 8601 time or unix milliseconds";
	if (bad) {
		json_problem_set(p, 422, "invalid_field", bad, "%s", why);
		return CD_ERR_INVALID;
	}
	memset(out, 0, sizeof *out);
	snprintf(out->id, sizeof out->id, "%s", id ? id : "");
	snprintf(out->type, sizeof out->type, "%s", type);
	snprintf(out->level, sizeof out->level, "%s", level ? level : "");
	out->cleared = status && strcmp(status, "cleared") == 0;
	snprintf(out->device, sizeof out->device, "%s", device ? device : "");
	snprintf(out->title, sizeof out->title, "%s", title ? title : "");
	snprintf(out->address, sizeof out->address, "%s", address ? address : "");
	snprintf(out->category, sizeof out->category, "%s", category ? category : "");
	out->ts_ms = clock_wall_ms();
	if (ts && json_is_integer(ts)) {
		out->ts_ms = (int64_t)json_integer_value(ts);
	} else if (ts) {
		int64_t t;
		if (!api_parse_time(json_string_value(ts), &t)) {
			json_problem_set(p, 422, "invalid_field", "ts",
					 "ts is an ISO 8601 time or unix milliseconds");
			return CD_ERR_INVALID;
		}
		out->ts_ms = t * 1000;
	}
	if (json_is_string(detail)) {
		if (strlen(json_string_value(detail)) >= sizeof out->detail) {
			json_problem_set(p, 422, "invalid_field", "detail", "detail is too long");
			return CD_ERR_INVALID;
		}
		snprintf(out->detail, sizeof out->detail, "%s", json_string_value(detail));
	} else if (detail) {
		char *text = json_dumps(detail, JSON_COMPACT);
		bool fits = text && strlen(text) < sizeof out->detail;
		if (fits)
			snprintf(out->detail, sizeof out->detail, "%s", text);
		xfree(text);
		if (!fits) {
			json_problem_set(p, 422, "invalid_field", "detail", "detail is too long");
			return CD_ERR_INVALID;
		}
	}
	if (!isnan(lat)) {
		struct geo_point pt = api_point_wgs84(lat, lng, crs);
		out->has_point = true;
		out->lat = pt.lat;
		out->lng = pt.lng;
	}
	return CD_OK;
}

void api_ingest(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	const char *system = http_param(req, "system");
	const char *key = http_header(req, "X-Api-Key");
	if (!system || !key || !alerts_ingest_check(app->st, system, key)) {
		http_error(res, 401, "unauthorized",
			   "需要该系统的接入密钥 (X-Api-Key: the system's ingest key)", NULL);
		return;
	}
	if (!app->alerts) {
		http_error(res, 503, "unavailable", "监测预警未启用 (IoT and alerts are off on this server)",
			   NULL);
		return;
	}
	json_t *body = NULL;
	if (!http_read_json(req, res, &body))
		return;
	const json_t *list = json_object_get(body, "events");
	size_t n = list ? json_array_size(list) : 1;
	if (list && (!json_is_array(list) || json_object_size(body) != 1 || n == 0 || n > INGEST_ITEMS_MAX)) {
		http_error(res, 422, "invalid_field",
			   "events is an array of 1 to 100 events (and alone in the body)", "events");
		json_decref(body);
		return;
	}
	struct alerts_ingest *items = http_alloc(req, n * sizeof *items);
	if (!items) {
		http_error(res, 500, "internal", "out of memory", NULL);
		json_decref(body);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_problem p;
		memset(&p, 0, sizeof p);
		if (read_item(app, list ? json_array_get(list, i) : body, &items[i], &p)) {
			if (list) {
				char inner[64];
				snprintf(inner, sizeof inner, "%.60s", p.field);
				snprintf(p.field, sizeof p.field, "events[%zu]%s%.60s", i, inner[0] ? "." : "",
					 inner);
			}
			http_error_json(res, &p);
			json_decref(body);
			return;
		}
		snprintf(items[i].system, sizeof items[i].system, "%s", system);
	}
	/* Journalled by the hub (one fdatasync for all n) before the 202; the hub's worker hands
	 * them to alerts_ingest in journal order. */
	if (iot_ingest_in(app, items, n)) {
		http_error(res, 503, "unavailable", "the events could not be stored; send them again", NULL);
		json_decref(body);
		return;
	}
	json_decref(body);
	json_t *reply = json_pack("{s:I}", "accepted", (json_int_t)n);
	http_respond_json(res, 202, reply);
	json_decref(reply);
}
