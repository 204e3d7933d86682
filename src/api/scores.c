/* GET /api/v1/scores?by=unit|street|category&from=&to=[&format=csv]: the 综合评价 league
 * table from the aggregates kept as cases move (docs/scores.md has the formulas). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "app/mapview.h"
#include "core/category.h"

/* Fewer received cases than this and a row's rates say little: flagged small_sample. */
#define SCORES_SMALL_SAMPLE 30

/* Weights of the composite score (docs/scores.md); they sum to 1. */
static const struct {
	const char *rate;
	double weight;
} weights[] = {
	{"on_time_rate", 0.30}, {"closure_rate", 0.20}, {"response_rate", 0.15},
	{"satisfaction_rate", 0.25}, {"rework_free_rate", 0.10},
};

struct score_ctx {
	struct app *app;
	const char *by;
	json_t *rows;
};

static double ratio(int64_t num, int64_t den)
{
	return den > 0 ? (double)num / (double)den : 0.0;
}

static const char *key_name(struct app *app, const char *by, const char *key, char *buf, size_t cap)
{
	if (!*key)
		return NULL;
	if (strcmp(by, "unit") == 0) {
		struct store_unit u;
		if (store_unit_get(app->st, key, &u))
			return NULL;
		snprintf(buf, cap, "%s", u.name);
		return buf;
	}
	if (strcmp(by, "category") == 0) {
		const struct category *c = category_get(app->cats, key);
		return c ? c->name : NULL;
	}
	const char *found = NULL;
	pthread_rwlock_rdlock(&app->map_lock);
	for (size_t i = 0; i < app->map->streets.n && !found; i++)
		if (strcmp(app->map->streets.items[i].code, key) == 0) {
			snprintf(buf, cap, "%s", app->map->streets.items[i].name);
			found = buf;
		}
	pthread_rwlock_unlock(&app->map_lock);
	return found;
}

static int add_row(void *ctx, const struct store_score_row *r)
{
	struct score_ctx *sc = ctx;
	double rates[] = {
		ratio(r->closed_on_time, r->closed),
		ratio(r->closed, r->received),
		ratio(r->responded_on_time, r->received),
		ratio(r->satisfied + r->basically_satisfied, r->rated),
		1.0 - ratio(r->rework, r->closed > 0 ? r->closed : r->received),
	};
	double score = 0;
	for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
		score += weights[i].weight * rates[i];
	/* Names are looked up after the walk: the store is locked during this callback. */
	json_t *row = json_pack("{s:s, s:n, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:b}", "key", r->key,
				"name", "received",
				(json_int_t)r->received, "closed", (json_int_t)r->closed, "on_time_rate", rates[0],
				"closure_rate", rates[1], "response_rate", rates[2], "rework_rate", 1.0 - rates[4],
				"satisfaction_rate", rates[3], "mean_handling_hours",
				r->closed ? (double)r->handling_seconds_sum / (double)r->closed / 3600.0 : 0.0,
				"score", 100.0 * score, "small_sample", r->received < SCORES_SMALL_SAMPLE);
	json_object_set_new(row, "rated", json_integer(r->rated));
	json_object_set_new(row, "rework", json_integer(r->rework));
	json_array_append_new(sc->rows, row);
	return 0;
}

/* Highest score first; small samples after the others. */
static int by_score(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int sx = json_is_true(json_object_get(x, "small_sample")), sy = json_is_true(json_object_get(y, "small_sample"));
	if (sx != sy)
		return sx - sy;
	double dx = json_real_value(json_object_get(x, "score")), dy = json_real_value(json_object_get(y, "score"));
	return dx < dy ? 1 : dx > dy ? -1 : 0;
}

static void respond_csv(struct http_request *req, struct http_response *res, json_t *rows)
{
	static const char *const cols[] = {"key", "name", "received", "closed", "on_time_rate", "closure_rate",
					   "response_rate", "rework_rate", "satisfaction_rate",
					   "mean_handling_hours", "score", "small_sample"};
	enum cd_err rc = buf_puts(&res->body, "\xEF\xBB\xBF"); /* BOM: Excel then reads UTF-8 */
	for (size_t c = 0; c < sizeof cols / sizeof cols[0] && !rc; c++)
		rc = buf_printf(&res->body, "%s%s", c ? "," : "", cols[c]);
	rc = rc ? rc : buf_puts(&res->body, "\r\n");
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		for (size_t c = 0; c < sizeof cols / sizeof cols[0] && !rc; c++) {
			json_t *v = json_object_get(row, cols[c]);
			rc = buf_puts(&res->body, c ? "," : "");
			if (rc)
				break;
			if (json_is_string(v)) {
				/* Quote every text field; double its quotes (RFC 4180). */
				rc = buf_putc(&res->body, '"');
				for (const char *s = json_string_value(v); *s && !rc; s++)
					rc = *s == '"' ? buf_puts(&res->body, "\"\"") : buf_putc(&res->body, *s);
				rc = rc ? rc : buf_putc(&res->body, '"');
			} else if (json_is_real(v)) {
				rc = buf_printf(&res->body, "%.4f", json_real_value(v));
			} else if (json_is_integer(v)) {
				rc = buf_printf(&res->body, "%lld", (long long)json_integer_value(v));
			} else if (json_is_boolean(v)) {
				rc = buf_puts(&res->body, json_is_true(v) ? "true" : "false");
			}
		}
		rc = rc ? rc : buf_puts(&res->body, "\r\n");
	}
	if (rc) {
		http_error(res, 500, "internal", "the table is too large", NULL);
		return;
	}
	res->status = 200;
	res->content_type = "text/csv; charset=utf-8";
	if (http_header_add(req, res, "Content-Disposition", "attachment; filename=\"scores.csv\""))
		res->status = 200;
}

void api_scores(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	unsigned readers = API_ROLE(ROLE_ADMIN) | API_ROLE(ROLE_DISTRICT_DISPATCHER) |
			   API_ROLE(ROLE_STREET_DISPATCHER) | API_ROLE(ROLE_AUDITOR) | API_ROLE(ROLE_UNIT_STAFF);
	if (!api_require(req, res, app, readers))
		return;
	const char *by = http_query_get(req, "by"), *from = http_query_get(req, "from"),
		   *to = http_query_get(req, "to"), *format = http_query_get(req, "format");
	if (!by || !*by)
		by = "unit";
	if (strcmp(by, "unit") && strcmp(by, "street") && strcmp(by, "category")) {
		http_error(res, 422, "invalid_parameter", "by is unit, street or category", "by");
		return;
	}
	if (format && *format && strcmp(format, "json") && strcmp(format, "csv")) {
		http_error(res, 422, "invalid_parameter", "format is json or csv", "format");
		return;
	}
	/* Days in Asia/Shanghai; default: the last 30 days up to today. */
	char from_day[11], to_day[11];
	int64_t t, now = (int64_t)time(NULL);
	store_day_of(now - 29 * 86400, from_day);
	store_day_of(now, to_day);
	if (from && *from) {
		if (!api_parse_time(from, &t)) {
			http_error(res, 422, "invalid_parameter", "from is a date, e.g. 2026-11-01", "from");
			return;
		}
		store_day_of(t, from_day);
	}
	if (to && *to) {
		if (!api_parse_time(to, &t)) {
			http_error(res, 422, "invalid_parameter", "to is a date, e.g. 2026-11-30", "to");
			return;
		}
		store_day_of(t, to_day);
	}
	struct score_ctx sc = {app, by, json_array()};
	enum cd_err rc = store_scores(app->st, by, from_day, to_day, add_row, &sc);
	if (rc) {
		json_decref(sc.rows);
		api_store_failed(req, res, rc);
		return;
	}
	/* Sort the rows by score (the league table). */
	size_t n = json_array_size(sc.rows);
	json_t **sorted = http_alloc(req, (n ? n : 1) * sizeof *sorted);
	json_t *rows = json_array();
	for (size_t i = 0; sorted && i < n; i++)
		sorted[i] = json_array_get(sc.rows, i);
	if (sorted)
		qsort(sorted, n, sizeof *sorted, by_score);
	for (size_t i = 0; sorted && i < n; i++) {
		char name[STORE_NAME_MAX];
		const char *key = json_string_value(json_object_get(sorted[i], "key"));
		const char *found = key_name(app, by, key ? key : "", name, sizeof name);
		json_object_set_new(sorted[i], "name", found ? json_string(found) : json_null());
		json_object_set_new(sorted[i], "rank", json_integer((json_int_t)i + 1));
		json_array_append(rows, sorted[i]);
	}
	json_decref(sc.rows);
	if (format && strcmp(format, "csv") == 0) {
		respond_csv(req, res, rows);
	} else {
		json_t *reply = json_pack("{s:s, s:s, s:s, s:o}", "by", by, "from", from_day, "to", to_day, "rows", rows);
		rows = NULL;
		http_respond_json(res, 200, reply);
		json_decref(reply);
	}
	json_decref(rows);
}
