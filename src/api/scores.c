/* GET /api/v1/scores?by=unit|street|category&from=&to=[&format=csv]: the 综合评价 league
 * table from the aggregates kept as cases move (docs/scores.md has the formulas). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/export.h"
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
	mapview_area_name(&app->map_lock, &app->map, key, buf, cap);
	return buf[0] ? buf : NULL;
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

/* The league table as a spreadsheet. */
static void respond_table(struct http_request *req, struct http_response *res, struct app *app,
			  const struct api_caller *who, json_t *rows, const char *by, enum export_format f)
{
	static const struct {
		const char *field, *title;
		enum table_type type;
		const char *format;
	} cols[] = {
		{"rank", "排名", TABLE_INT, NULL},
		{"key", "代码", TABLE_TEXT, NULL},
		{"name", "名称", TABLE_TEXT, NULL},
		{"received", "受理量", TABLE_INT, NULL},
		{"closed", "办结量", TABLE_INT, NULL},
		{"on_time_rate", "按期办结率", TABLE_REAL, "0.0%"},
		{"closure_rate", "办结率", TABLE_REAL, "0.0%"},
		{"response_rate", "响应率", TABLE_REAL, "0.0%"},
		{"rework_rate", "返工率", TABLE_REAL, "0.0%"},
		{"satisfaction_rate", "满意率", TABLE_REAL, "0.0%"},
		{"mean_handling_hours", "平均办理时长(小时)", TABLE_REAL, "0.0"},
		{"score", "综合得分", TABLE_REAL, "0.0"},
		{"small_sample", "样本偏少", TABLE_TEXT, NULL},
	};
	struct table *t = table_new(EXPORT_MAX_ROWS, 16u << 20);
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
		table_add_col(t, cols[c].title, cols[c].type, cols[c].format);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		if (table_add_row(t))
			break;
		for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
			json_t *v = json_object_get(row, cols[c].field);
			if (cols[c].type == TABLE_INT)
				table_put_int(t, json_integer_value(v));
			else if (cols[c].type == TABLE_REAL)
				table_put_real(t, json_number_value(v));
			else if (json_is_boolean(v))
				table_put_text(t, json_is_true(v) ? "是" : "");
			else
				table_put_text(t, json_string_value(v));
		}
	}
	char name[64];
	snprintf(name, sizeof name, "scores-by-%s", by);
	export_send(req, res, app, who, t, f, name, "scores.export");
	table_free(t);
}

void api_scores(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	unsigned readers = API_ROLE(ROLE_ADMIN) | API_ROLE(ROLE_DISTRICT_DISPATCHER) |
			   API_ROLE(ROLE_STREET_DISPATCHER) | API_ROLE(ROLE_AUDITOR) | API_ROLE(ROLE_UNIT_STAFF);
	struct api_caller *who = api_require(req, res, app, readers);
	enum export_format f;
	if (!who || !export_format_of(req, res, &f))
		return;
	const char *by = http_query_get(req, "by"), *from = http_query_get(req, "from"),
		   *to = http_query_get(req, "to");
	if (!by || !*by)
		by = "unit";
	if (strcmp(by, "unit") && strcmp(by, "street") && strcmp(by, "category")) {
		http_error(res, 422, "invalid_parameter", "by is unit, street or category", "by");
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
	if (f != EXPORT_NONE) {
		respond_table(req, res, app, who, rows, by, f);
	} else {
		json_t *reply = json_pack("{s:s, s:s, s:s, s:o}", "by", by, "from", from_day, "to", to_day, "rows", rows);
		rows = NULL;
		http_respond_json(res, 200, reply);
		json_decref(reply);
	}
	json_decref(rows);
}
