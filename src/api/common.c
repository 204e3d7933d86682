/* Helpers shared by the /api/v1 handlers: bearer authentication, role checks, paging,
 * time formatting and the JSON shapes that several resources return. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "core/gcj02.h"
#include "util/clock.h"
#include "util/log.h"

struct geo_point api_point_wgs84(double lat, double lng, const char *crs)
{
	struct geo_point pt = {lng, lat};
	return crs && strcmp(crs, "gcj02") == 0 ? gcj02_to_wgs84(pt) : pt;
}

void api_time_iso(int64_t t, char out[32])
{
	clock_iso_s(t, out); /* fixed UTC+8: exact for Asia/Shanghai since 1991 */
}

/* Session cache. Every API request authenticates, and the store's session lookup is a read
 * transaction on a page cache the intake applier's commits keep invalidating (~5 % of a worker's
 * time per case). Entries are tagged with store_auth_generation read before their lookup, so a
 * logout, a disable or a password change through this process invalidates every entry before
 * the call returns; a change made by another process (the CLI) is seen within the TTL. */
#define SESSION_CACHE_SLOTS 256 /* direct-mapped by the token hash's first bytes */
#define SESSION_CACHE_TTL_MS 1000

struct session_slot {
	const struct store *st;          /* the store the entry came from; NULL = empty */
	uint8_t hash[AUTH_TOKEN_HASH_LEN]; /* SHA-256 of the bearer token */
	uint64_t gen;                    /* store_auth_generation before the lookup that filled it */
	int64_t until_ms;                /* monotonic ms after which the store is asked again */
	int64_t expires_at;              /* the session's own expiry (unix seconds) */
	struct store_user user;          /* the caller, password hash blanked */
};

static struct session_slot session_cache[SESSION_CACHE_SLOTS];
static pthread_mutex_t session_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct session_slot *session_slot_of(const uint8_t hash[AUTH_TOKEN_HASH_LEN])
{
	return &session_cache[((unsigned)hash[0] | (unsigned)hash[1] << 8) % SESSION_CACHE_SLOTS];
}

/* The caller of a live session: from the cache when an entry is fresh and no revocation
 * happened since it was filled, else from the store (and cached). Store errors as
 * store_session_lookup's. */
static enum cd_err session_lookup(struct store *st, const uint8_t hash[AUTH_TOKEN_HASH_LEN], struct store_user *out)
{
	uint64_t gen = store_auth_generation(st);
	int64_t now = (int64_t)time(NULL), now_ms = clock_mono_ms();
	struct session_slot *slot = session_slot_of(hash);
	bool hit = false;
	pthread_mutex_lock(&session_cache_lock);
	if (slot->st == st && slot->gen == gen && now_ms < slot->until_ms && now < slot->expires_at &&
	    memcmp(slot->hash, hash, AUTH_TOKEN_HASH_LEN) == 0) {
		*out = slot->user;
		hit = true;
	}
	pthread_mutex_unlock(&session_cache_lock);
	if (hit)
		return CD_OK;
	int64_t expires_at;
	enum cd_err rc = store_session_lookup(st, hash, now, out, &expires_at);
	if (rc)
		return rc;
	memset(out->password_hash, 0, sizeof out->password_hash);
	pthread_mutex_lock(&session_cache_lock);
	slot->st = st;
	memcpy(slot->hash, hash, AUTH_TOKEN_HASH_LEN);
	slot->gen = gen;
	slot->until_ms = now_ms + SESSION_CACHE_TTL_MS;
	slot->expires_at = expires_at;
	slot->user = *out;
	pthread_mutex_unlock(&session_cache_lock);
	return CD_OK;
}

struct api_caller *api_authenticate(struct http_request *req, struct http_response *res, struct app *app)
{
	if (req->user)
		return req->user;
	const char *h = http_header(req, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		http_error(res, 401, "unauthenticated", "需要登录 (Authorization: Bearer <token>)", NULL);
		return NULL;
	}
	const char *token = h + 7;
	while (*token == ' ')
		token++;
	uint8_t hash[AUTH_TOKEN_HASH_LEN];
	struct api_caller *c = http_alloc(req, sizeof *c);
	if (!c) {
		http_error(res, 500, "internal", "out of memory", NULL);
		return NULL;
	}
	if (auth_token_hash(token, hash)) {
		http_error(res, 401, "invalid_token", "登录凭证无效或已过期 (invalid or expired token)", NULL);
		return NULL;
	}
	enum cd_err rc = session_lookup(app->st, hash, &c->user);
	if (rc == CD_ERR_NOTFOUND) {
		http_error(res, 401, "invalid_token", "登录凭证无效或已过期 (invalid or expired token)", NULL);
		return NULL;
	}
	if (rc) {
		api_store_failed(req, res, rc);
		return NULL;
	}
	if (auth_role_parse(c->user.role, &c->role)) {
		http_error(res, 403, "forbidden", "unknown role", NULL);
		return NULL;
	}
	c->actor.name = c->user.username;
	c->actor.client = req->remote;
	req->user = c;
	return c;
}

struct api_caller *api_require(struct http_request *req, struct http_response *res, struct app *app,
			       unsigned roles)
{
	struct api_caller *c = api_authenticate(req, res, app);
	if (!c)
		return NULL;
	if (!(roles & API_ROLE(c->role))) {
		http_error(res, 403, "forbidden", "当前角色无权执行此操作 (your role may not do this)", NULL);
		return NULL;
	}
	return c;
}

/* Parses a whole number query parameter within [min, max]; absent or empty keeps *out. */
static bool query_long(struct http_request *req, struct http_response *res, const char *name, long min,
		       long max, long *out)
{
	const char *s = http_query_get(req, name);
	if (!s || !*s)
		return true;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < min || v > max) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s must be a whole number from %ld to %ld", name, min, max);
		http_error(res, 422, "invalid_parameter", msg, name);
		return false;
	}
	*out = v;
	return true;
}

bool api_query_text(struct http_request *req, struct http_response *res, const char *name, size_t max,
		    const char **out)
{
	const char *v = http_query_get(req, name);
	*out = v && *v ? v : NULL;
	if (*out && strlen(*out) > max) {
		http_error(res, 422, "invalid_parameter", "value too long", name);
		return false;
	}
	return true;
}

bool api_paging(struct http_request *req, struct http_response *res, long *page, long *page_size)
{
	*page = 1;
	*page_size = 50;
	return query_long(req, res, "page", 1, 1000000, page) &&
	       query_long(req, res, "page_size", 1, 500, page_size);
}

json_t *api_user_json(const struct store_user *u)
{
	enum auth_role role;
	char created[32];
	api_time_iso(u->created_at, created);
	return json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:b}", "id", (json_int_t)u->id,
			 "username", u->username, "role", u->role, "role_label",
			 auth_role_parse(u->role, &role) ? u->role : auth_role_label_zh(role), "street_code",
			 u->street_code[0] ? u->street_code : NULL, "unit_code",
			 u->unit_code[0] ? u->unit_code : NULL, "display_name", u->display_name, "created_at",
			 created, "disabled", u->disabled);
}

json_t *api_page_json(json_t *items, long long total, long page, long page_size)
{
	return json_pack("{s:o, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "page", (int)page,
			 "page_size", (int)page_size);
}

void api_respond_page(struct http_response *res, json_t *items, long long total, long page, long page_size)
{
	json_t *reply = api_page_json(items, total, page, page_size);
	http_respond_json(res, 200, reply);
	json_decref(reply);
}

void api_store_failed(struct http_request *req, struct http_response *res, enum cd_err rc)
{
	log_error("store failed", "\"route\":\"%s\",\"error\":\"%s\"", req->route ? req->route : "",
		  cd_err_name(rc));
	http_error(res, rc == CD_ERR_BUSY ? 503 : 500, rc == CD_ERR_BUSY ? "busy" : "internal",
		   "服务器内部错误 (the store failed; nothing was changed)", NULL);
}

bool api_parse_time(const char *s, int64_t *out)
{
	/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" with "Z", "+HH:MM" or no offset (= +08:00). */
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 8 * 60;
	char *end;
	if (!s || strlen(s) < 10 || s[4] != '-' || s[7] != '-')
		return false;
	y = (int)strtol(s, &end, 10);
	if (end != s + 4)
		return false;
	mo = (int)strtol(s + 5, &end, 10);
	if (end != s + 7)
		return false;
	d = (int)strtol(s + 8, &end, 10);
	if (end != s + 10)
		return false;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		if (strlen(p) < 6 || p[3] != ':')
			return false;
		h = (int)strtol(p + 1, &end, 10);
		if (end != p + 3)
			return false;
		mi = (int)strtol(p + 4, &end, 10);
		if (end != p + 6)
			return false;
		p += 6;
		if (*p == ':') {
			sec = (int)strtol(p + 1, &end, 10);
			if (end != p + 3)
				return false;
			p += 3;
			if (*p == '.') /* fractions of a second are ignored */
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
		}
		if (*p == 'Z') {
			off = 0;
			p++;
		} else if (*p == '+' || *p == '-') {
			if (strlen(p) != 6 || p[3] != ':')
				return false;
			int oh = (int)strtol(p + 1, &end, 10);
			if (end != p + 3)
				return false;
			int om = (int)strtol(p + 4, &end, 10);
			if (end != p + 6)
				return false;
			off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
			p += 6;
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	int64_t days = clock_days_from_civil(y, mo, d); /* then the offset */
	*out = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
	return true;
}
