/* /api/v1/units, /api/v1/responsibilities (the 权责清单) and /api/v1/audit. */
#include "api/api.h"
#include "util/alloc.h"

void api_units_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	if (!api_authenticate(req, res, app))
		return;
	struct store_unit *units = NULL;
	size_t n = 0;
	enum cd_err rc = store_units_list(app->st, &units, &n);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s?, s:s}", "code", units[i].code, "name",
						       units[i].name, "kind", units[i].kind, "street_code",
						       units[i].street_code[0] ? units[i].street_code : NULL,
						       "handles", units[i].handles));
	xfree(units);
	api_respond_page(res, items, (long long)n, 1, (long)n);
}

void api_responsibilities_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	if (!api_authenticate(req, res, app))
		return;
	struct store_resp *rows = NULL;
	size_t n = 0;
	enum cd_err rc = store_resp_list(app->st, &rows, &n);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:i}", "category_code", rows[i].category_code,
						       "area_code", rows[i].area_code, "unit_code",
						       rows[i].unit_code, "priority", rows[i].priority));
	xfree(rows);
	api_respond_page(res, items, (long long)n, 1, (long)n);
}

/* Parses a stored JSON text for output; NULL stays null, unparsable text stays a string. */
static json_t *stored_json(const char *text)
{
	if (!text)
		return json_null();
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

void api_audit_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	long page, page_size;
	if (!api_require(req, res, app, API_ROLE(ROLE_ADMIN) | API_ROLE(ROLE_AUDITOR)) ||
	    !api_paging(req, res, &page, &page_size))
		return;
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	int64_t total = 0;
	enum cd_err rc = store_audit_count(app->st, &total);
	if (!rc)
		rc = store_audit_list(app->st, (page - 1) * page_size, page_size, &e, &n);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "id",
						       (json_int_t)e[i].id, "at", e[i].at, "actor", e[i].actor,
						       "client", e[i].client, "action", e[i].action, "target",
						       e[i].target, "before", stored_json(e[i].before), "after",
						       stored_json(e[i].after), "hash", e[i].hash));
	store_audit_list_free(e, n);
	api_respond_page(res, items, total, page, page_size);
}
