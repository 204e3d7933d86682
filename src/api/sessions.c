/* /api/v1/sessions: log in with a username and password to get a bearer token, see who you
 * are, log out. Failed logins are limited per username and per client address. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "util/log.h"

/* Answers 429 with Retry-After when `key` must wait. */
static bool limited(struct http_request *req, struct http_response *res, struct app *app, const char *key,
		    int64_t now)
{
	int64_t wait = auth_limiter_check(app->limiter, key, now);
	if (!wait)
		return false;
	char secs[24];
	snprintf(secs, sizeof secs, "%lld", (long long)wait);
	http_error(res, 429, "too_many_attempts", "登录失败次数过多，请稍后再试 (too many failed logins; try later)",
		   NULL);
	if (http_header_add(req, res, "Retry-After", secs))
		res->status = 429; /* the header is a courtesy; the status says it all */
	return true;
}

void api_sessions_create(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"username", "password", NULL};
	json_t *body = NULL;
	struct json_problem p;
	const char *username = NULL, *password = NULL;
	if (!http_read_json(req, res, &body))
		return;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "username", JSON_REQUIRED | JSON_NONEMPTY, 64, &username, &p) ||
	    json_get_string(body, "password", JSON_REQUIRED, 256, &password, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	int64_t now = (int64_t)time(NULL);
	char user_key[96], addr_key[96];
	snprintf(user_key, sizeof user_key, "u:%s", username);
	snprintf(addr_key, sizeof addr_key, "a:%s", req->remote);
	if (limited(req, res, app, user_key, now) || limited(req, res, app, addr_key, now))
		goto out;

	struct store_user u;
	enum cd_err rc = store_user_get_by_name(app->st, username, &u);
	if (rc && rc != CD_ERR_NOTFOUND) {
		api_store_failed(req, res, rc);
		goto out;
	}
	int ok = auth_password_verify(rc ? NULL : u.password_hash, password);
	if (!ok || u.disabled) {
		auth_limiter_fail(app->limiter, user_key, now);
		auth_limiter_fail(app->limiter, addr_key, now);
		struct store_actor actor = {username, req->remote};
		/* The refusal stands even if it could not be recorded. */
		if (store_audit_append(app->st, &actor, "session.refused", "sessions", NULL, NULL))
			log_warn("could not audit a refused login", "\"remote\":\"%s\"", req->remote);
		http_error(res, 401, "invalid_credentials", "用户名或密码错误 (wrong username or password)", NULL);
		goto out;
	}
	auth_limiter_clear(app->limiter, user_key);

	char token[AUTH_TOKEN_LEN + 1];
	uint8_t hash[AUTH_TOKEN_HASH_LEN];
	int64_t expires = now + app->session_seconds;
	struct store_actor actor = {u.username, req->remote};
	for (int attempt = 0;; attempt++) {
		auth_token_new(token, hash);
		rc = store_session_add(app->st, &actor, hash, u.id, now, expires);
		if (rc != CD_ERR_EXISTS || attempt == 2)
			break;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		goto out;
	}
	char exp_iso[32];
	api_time_iso(expires, exp_iso);
	json_t *reply = json_pack("{s:s, s:s, s:o}", "token", token, "expires_at", exp_iso, "user",
				  api_user_json(&u));
	http_respond_json(res, 201, reply);
	json_decref(reply);
out:
	json_decref(body);
}

void api_sessions_current(struct http_request *req, struct http_response *res, void *ctx)
{
	struct api_caller *c = api_authenticate(req, res, ctx);
	if (!c)
		return;
	json_t *reply = json_pack("{s:o}", "user", api_user_json(&c->user));
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

void api_sessions_delete(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *c = api_authenticate(req, res, app);
	if (!c)
		return;
	const char *h = http_header(req, "Authorization") + 7;
	while (*h == ' ')
		h++;
	uint8_t hash[AUTH_TOKEN_HASH_LEN];
	enum cd_err rc = auth_token_hash(h, hash);
	if (!rc)
		rc = store_session_revoke(app->st, &c->actor, hash, (int64_t)time(NULL));
	if (rc && rc != CD_ERR_NOTFOUND) {
		api_store_failed(req, res, rc);
		return;
	}
	res->status = 204;
}
