/* /api/v1/users (admins): list accounts, and create one. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "util/alloc.h"

void api_users_list(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	long page, page_size;
	if (!api_require(req, res, app, API_ROLE(ROLE_ADMIN) | API_ROLE(ROLE_AUDITOR)) ||
	    !api_paging(req, res, &page, &page_size))
		return;
	struct store_user *users = NULL;
	size_t n = 0;
	int64_t total = 0;
	enum cd_err rc = store_users_list(app->st, (page - 1) * page_size, page_size, &users, &n, &total);
	if (rc) {
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, api_user_json(&users[i]));
	xfree(users);
	api_respond_page(res, items, total, page, page_size);
}

void api_users_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"username", "password", "role", "street_code", "unit_code",
					      "display_name", NULL};
	struct api_caller *c = api_require(req, res, app, API_ROLE(ROLE_ADMIN));
	json_t *body = NULL;
	struct json_problem p;
	const char *username = NULL, *password = NULL, *role_name = NULL, *street = "", *unit = "", *display = "";
	enum auth_role role;
	if (!c || !http_read_json(req, res, &body))
		return;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "username", JSON_REQUIRED | JSON_NONEMPTY, 60, &username, &p) ||
	    json_get_string(body, "password", JSON_REQUIRED, AUTH_PASSWORD_MAX, &password, &p) ||
	    json_get_string(body, "role", JSON_REQUIRED, 32, &role_name, &p) ||
	    json_get_string(body, "street_code", JSON_OPTIONAL, 12, &street, &p) ||
	    json_get_string(body, "unit_code", JSON_OPTIONAL, 30, &unit, &p) ||
	    json_get_string(body, "display_name", JSON_OPTIONAL, 80, &display, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	if (auth_role_parse(role_name, &role)) {
		http_error(res, 422, "invalid_field", "unknown role", "role");
		goto out;
	}
	if (role == ROLE_STREET_DISPATCHER && !*street) {
		http_error(res, 422, "missing_field", "a street dispatcher needs street_code", "street_code");
		goto out;
	}
	if (role == ROLE_UNIT_STAFF && !*unit) {
		http_error(res, 422, "missing_field", "unit staff need unit_code", "unit_code");
		goto out;
	}
	struct store_area area;
	if (*street && (store_area_get(app->st, street, &area, NULL) || strcmp(area.level, "street") != 0)) {
		http_error(res, 422, "invalid_field", "not a street code of this district", "street_code");
		goto out;
	}
	struct store_unit known_unit;
	if (*unit && store_unit_get(app->st, unit, &known_unit)) {
		http_error(res, 422, "invalid_field", "unknown unit", "unit_code");
		goto out;
	}
	struct store_user u;
	memset(&u, 0, sizeof u);
	enum cd_err rc = auth_password_hash(password, u.password_hash);
	if (rc == CD_ERR_RANGE) {
		http_error(res, 422, "invalid_field", "the password must be 8 to 256 bytes long", "password");
		goto out;
	}
	if (rc) {
		http_error(res, 500, "internal", "could not hash the password", NULL);
		goto out;
	}
	snprintf(u.username, sizeof u.username, "%s", username);
	snprintf(u.role, sizeof u.role, "%s", auth_role_name(role));
	snprintf(u.street_code, sizeof u.street_code, "%s", street);
	snprintf(u.unit_code, sizeof u.unit_code, "%s", unit);
	snprintf(u.display_name, sizeof u.display_name, "%s", display);
	rc = store_user_add(app->st, &c->actor, &u, &u.id);
	if (rc == CD_ERR_EXISTS) {
		http_error(res, 409, "username_taken", "用户名已存在 (the username is taken)", "username");
		goto out;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	struct store_user created;
	if (store_user_get_by_id(app->st, u.id, &created) == CD_OK)
		u = created;
	json_t *reply = api_user_json(&u);
	http_respond_json(res, 201, reply);
	json_decref(reply);
out:
	json_decref(body);
}
