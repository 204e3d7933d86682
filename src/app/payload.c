/* The three device payloads of the district's unified interface (docs/iot.md): telemetry,
 * event and status, read strictly from JSON into the hub's fixed-size messages. The same code
 * serves MQTT and the HTTP alternative, so a device gets the same answer on either path. */
#include "app/iot.h"
#include "net/broker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ts before 2000-01-01 or after 2100-01-01 (unix ms) is refused: a device sending seconds,
 * or a clock that never got set, should hear so rather than have its data filed in 1970. */
#define TS_MIN_MS 946684800000LL
#define TS_MAX_MS 4102444800000LL

bool iot_valid_id(const char *s)
{
	return broker_valid_login(s); /* a device id is its broker login: one rule for both */
}

/* A word (event type, level): 1..IOT_WORD_MAX-1 of [a-z0-9_]. */
static bool valid_word(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') || n >= IOT_WORD_MAX - 1)
			return false;
	}
	return n > 0;
}

/* Reads exactly `n` decimal digits at s; -1 when any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* ISO 8601 / RFC 3339: "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM)", or without an offset,
 * read as Beijing time (+08:00, the district's). Fractions beyond milliseconds are cut. */
static bool parse_iso8601_ms(const char *s, int64_t *out)
{
	size_t len = strlen(s);
	if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return false;
	int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
	    sec > 60)
		return false;
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return false;
	const char *p = s + 19;
	int ms = 0;
	if (*p == '.') {
		p++;
		int k = 0;
		for (; *p >= '0' && *p <= '9'; p++, k++)
			if (k < 3)
				ms = ms * 10 + (*p - '0');
		if (k == 0)
			return false;
		for (; k < 3; k++)
			ms *= 10;
	}
	int off_min = 8 * 60;
	if (*p == 'Z' || *p == 'z') {
		off_min = 0;
		p++;
	} else if (*p == '+' || *p == '-') {
		if (strlen(p) != 6 || p[3] != ':')
			return false;
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 6;
	}
	if (*p)
		return false;
	/* days from the civil date (proleptic Gregorian) */
	int yy = y - (mo <= 2);
	int era = (yy >= 0 ? yy : yy - 399) / 400;
	int yoe = yy - era * 400;
	int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off_min * 60;
	*out = secs * 1000 + ms;
	return true;
}

/* "ts": an ISO 8601 string or unix milliseconds (a JSON number); absent or null → now_ms. */
static enum cd_err get_ts(const json_t *obj, int64_t now_ms, int64_t *out, struct json_problem *p)
{
	const json_t *v = json_object_get(obj, "ts");
	*out = now_ms;
	if (!v || json_is_null(v))
		return CD_OK;
	int64_t ts;
	if (json_is_string(v)) {
		if (!parse_iso8601_ms(json_string_value(v), &ts)) {
			json_problem_set(
			    p, 422, "invalid_field", "ts",
			    "\"ts\" must be ISO 8601 (2024-05-01T08:30:00+08:00) or unix milliseconds");
			return CD_ERR_INVALID;
		}
	} else if (json_is_number(v)) {
		double x = json_number_value(v);
		if (!(x >= -9e15 && x <= 9e15)) {
			json_problem_set(p, 422, "invalid_field", "ts", "\"ts\" is out of range");
			return CD_ERR_INVALID;
		}
		ts = (int64_t)x;
	} else {
		json_problem_set(p, 422, "invalid_field", "ts",
				 "\"ts\" must be an ISO 8601 string or a number (unix milliseconds)");
		return CD_ERR_INVALID;
	}
	if (ts < TS_MIN_MS || ts >= TS_MAX_MS) {
		json_problem_set(
		    p, 422, "invalid_field", "ts",
		    "\"ts\" must lie between 2000 and 2100 (a number is unix milliseconds, not seconds)");
		return CD_ERR_INVALID;
	}
	*out = ts;
	return CD_OK;
}

/* Common start: the device id, the JSON object, its allowed fields and ts. On success *obj is
 * a new reference. */
static enum cd_err begin(const char *device, const char *json, size_t len, int64_t now_ms,
			 const char *const *allowed, char dev_out[IOT_ID_MAX], int64_t *ts, json_t **obj,
			 struct json_problem *p)
{
	*obj = NULL;
	if (!iot_valid_id(device)) {
		json_problem_set(p, 422, "invalid_field", "device",
				 "the device id must be 1 to %d of A-Z a-z 0-9 _ . -", IOT_ID_MAX - 1);
		return CD_ERR_INVALID;
	}
	json_t *o;
	enum cd_err rc = json_parse_request(json, len, &o, p);
	if (rc)
		return rc;
	rc = json_check_fields(o, allowed, p);
	if (!rc)
		rc = get_ts(o, now_ms, ts, p);
	if (rc) {
		json_decref(o);
		return rc;
	}
	size_t n = strlen(device);
	memcpy(dev_out, device, n + 1);
	*obj = o;
	return CD_OK;
}

enum cd_err iot_parse_telemetry(const char *device, const char *json, size_t len, int64_t now_ms,
				struct iot_telemetry *out, struct json_problem *p)
{
	static const char *const allowed[] = {"ts", "values", NULL};
	json_t *o;
	out->n = 0;
	enum cd_err rc = begin(device, json, len, now_ms, allowed, out->device, &out->ts_ms, &o, p);
	if (rc)
		return rc;
	const json_t *checked = NULL;
	rc = json_get_value(o, "values", JSON_REQUIRED, JSON_OBJECT, &checked, p);
	if (rc)
		goto done;
	json_t *values = json_object_get(o, "values"); /* the same object, not const */
	rc = CD_ERR_INVALID;
	size_t count = json_object_size(values);
	if (count == 0) {
		json_problem_set(p, 422, "invalid_field", "values",
				 "\"values\" must hold at least one metric");
		goto done;
	}
	if (count > IOT_MAX_VALUES) {
		json_problem_set(p, 422, "invalid_field", "values",
				 "\"values\" holds %zu metrics; at most %d in one message", count,
				 IOT_MAX_VALUES);
		goto done;
	}
	const char *key;
	json_t *v;
	/* jansson iterates in insertion order (2.8+), so the first bad metric is the one named */
	json_object_foreach(values, key, v)
	{
		size_t klen = strlen(key);
		if (klen == 0 || klen >= IOT_METRIC_MAX || !iot_valid_id(key)) {
			json_problem_set(p, 422, "invalid_field", "values",
					 "metric names must be 1 to %d of A-Z a-z 0-9 _ . -",
					 IOT_METRIC_MAX - 1);
			goto done;
		}
		if (!json_is_number(v) || !isfinite(json_number_value(v))) {
			char field[96];
			snprintf(field, sizeof field, "values.%s", key);
			json_problem_set(p, 422, "invalid_field", field, "\"values.%s\" must be a number",
					 key);
			goto done;
		}
		memcpy(out->v[out->n].metric, key, klen + 1);
		out->v[out->n].value = json_number_value(v);
		out->n++;
	}
	rc = CD_OK;
done:
	if (rc)
		out->n = 0;
	json_decref(o);
	return rc;
}

enum cd_err iot_parse_event(const char *device, const char *json, size_t len, int64_t now_ms,
			    struct iot_event *out, struct json_problem *p)
{
	static const char *const allowed[] = {"ts", "type", "level", "detail", NULL};
	static const char *const levels[] = {"", "info", "blue", "yellow", "orange", "red"};
	json_t *o;
	out->type[0] = out->level[0] = out->detail[0] = '\0';
	enum cd_err rc = begin(device, json, len, now_ms, allowed, out->device, &out->ts_ms, &o, p);
	if (rc)
		return rc;
	const char *type = NULL, *level = "";
	rc = json_get_string(o, "type", JSON_REQUIRED, 0, &type, p);
	if (!rc)
		rc = json_get_string(o, "level", JSON_OPTIONAL, 0, &level, p);
	if (rc)
		goto done;
	rc = CD_ERR_INVALID;
	if (!valid_word(type)) {
		json_problem_set(p, 422, "invalid_field", "type",
				 "\"type\" must be 1 to %d of a-z 0-9 _ (e.g. fire_alarm)", IOT_WORD_MAX - 1);
		goto done;
	}
	size_t li = 0;
	while (li < sizeof levels / sizeof levels[0] && strcmp(levels[li], level) != 0)
		li++;
	if (li == sizeof levels / sizeof levels[0]) {
		json_problem_set(p, 422, "invalid_field", "level",
				 "\"level\" must be blue, yellow, orange, red, info or empty");
		goto done;
	}
	const json_t *d = json_object_get(o, "detail");
	if (d && !json_is_null(d)) {
		if (json_is_string(d)) {
			size_t n = json_string_length(d);
			if (n >= IOT_DETAIL_MAX) {
				json_problem_set(p, 422, "invalid_field", "detail",
						 "\"detail\" is longer than %d bytes", IOT_DETAIL_MAX - 1);
				goto done;
			}
			memcpy(out->detail, json_string_value(d), n + 1);
		} else if (json_is_object(d) || json_is_array(d)) {
			/* kept as compact JSON text; json_dumpb returns the size it needs */
			size_t n = json_dumpb(d, out->detail, sizeof out->detail - 1, JSON_COMPACT);
			if (n == 0 || n >= IOT_DETAIL_MAX) {
				out->detail[0] = '\0';
				json_problem_set(p, 422, "invalid_field", "detail",
						 "\"detail\" is longer than %d bytes as JSON",
						 IOT_DETAIL_MAX - 1);
				goto done;
			}
			out->detail[n] = '\0';
		} else {
			json_problem_set(p, 422, "invalid_field", "detail",
					 "\"detail\" must be a string or a JSON object");
			goto done;
		}
	}
	memcpy(out->type, type, strlen(type) + 1);
	/* "info" and "" both mean: record it, raise nothing */
	const char *lv = li <= 1 ? "" : levels[li];
	memcpy(out->level, lv, strlen(lv) + 1);
	rc = CD_OK;
done:
	json_decref(o);
	return rc;
}

enum cd_err iot_parse_status(const char *device, const char *json, size_t len, int64_t now_ms,
			     struct iot_status *out, struct json_problem *p)
{
	static const char *const allowed[] = {"ts", "status", NULL};
	json_t *o;
	out->online = false;
	enum cd_err rc = begin(device, json, len, now_ms, allowed, out->device, &out->ts_ms, &o, p);
	if (rc)
		return rc;
	const char *status = NULL;
	rc = json_get_string(o, "status", JSON_REQUIRED, 0, &status, p);
	if (!rc) {
		if (strcmp(status, "online") == 0) {
			out->online = true;
		} else if (strcmp(status, "offline") != 0) {
			json_problem_set(p, 422, "invalid_field", "status",
					 "\"status\" must be \"online\" or \"offline\"");
			rc = CD_ERR_INVALID;
		}
	}
	json_decref(o);
	return rc;
}
