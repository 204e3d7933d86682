/* The /api/v1 resources: the route table and the helpers every handler shares
 * (authentication, role checks, paging, JSON replies). One file per resource. */
#ifndef CD_API_H
#define CD_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "app/app.h"
#include "core/auth.h"
#include "core/geo.h"
#include "net/http.h"
#include "store/store.h"

/* The full route table and its size. */
extern const struct http_route api_routes[];
extern const size_t api_routes_count;

/* The caller of an authenticated request (req->user points at one). */
struct api_caller {
	struct store_user user; /* the account (password_hash blanked) */
	enum auth_role role;    /* parsed user.role */
	struct store_actor actor; /* for the store's audit entries */
};

/* Authenticates the bearer token. On success returns the caller (in per-request memory, also
 * set as req->user). Otherwise returns NULL with res holding 401. */
struct api_caller *api_authenticate(struct http_request *req, struct http_response *res, struct app *app);
/* Authenticates and checks that the caller's role is in `roles` (a bit set of 1u << role);
 * NULL with 401 or 403 in res otherwise. */
struct api_caller *api_require(struct http_request *req, struct http_response *res, struct app *app,
			       unsigned roles);
#define API_ROLE(r) (1u << (r))
#define API_ANY_ROLE ((1u << ROLE_COUNT) - 1)

/* Reads ?page= and ?page_size= (1-based page, size 1..500, default 50). False with 422 in res
 * when either is not a whole number in range. */
bool api_paging(struct http_request *req, struct http_response *res, long *page, long *page_size);
/* Reads the query parameter `name` into *out (borrowed from req): NULL when absent or empty.
 * False with 422 (invalid_parameter, the name as field) in res when it is longer than max bytes. */
bool api_query_text(struct http_request *req, struct http_response *res, const char *name, size_t max,
		    const char **out);

/* The user as JSON: id, username, role, role_label, street_code, unit_code, display_name,
 * created_at, disabled. A new reference. */
json_t *api_user_json(const struct store_user *u);
/* The WGS-84 point of lat/lng given in the body's crs: "gcj02" (the maps Chinese apps use) is
 * converted, anything else (NULL, "wgs84") taken as is; callers check crs first. */
struct geo_point api_point_wgs84(double lat, double lng, const char *crs);
/* Formats unix seconds as ISO 8601 in Asia/Shanghai (+08:00) into out[32]. */
void api_time_iso(int64_t t, char out[32]);
/* Parses ISO 8601 ("2026-11-27", "2026-11-27T15:04:05+08:00", "...Z"; no offset means
 * +08:00) into unix seconds. False when malformed. */
bool api_parse_time(const char *s, int64_t *out);
/* A JSON object {"items": items, "total", "page", "page_size"}; steals items. */
json_t *api_page_json(json_t *items, long long total, long page, long page_size);
/* Answers 200 with api_page_json(items, ...); steals items. */
void api_respond_page(struct http_response *res, json_t *items, long long total, long page, long page_size);
/* Answers 500 with a generic message and logs the store error with the route. */
void api_store_failed(struct http_request *req, struct http_response *res, enum cd_err rc);

/* Handlers, by resource file. */
void api_health(struct http_request *req, struct http_response *res, void *app);
void api_sessions_create(struct http_request *req, struct http_response *res, void *app);
void api_sessions_current(struct http_request *req, struct http_response *res, void *app);
void api_sessions_delete(struct http_request *req, struct http_response *res, void *app);
void api_users_list(struct http_request *req, struct http_response *res, void *app);
void api_users_create(struct http_request *req, struct http_response *res, void *app);
void api_units_list(struct http_request *req, struct http_response *res, void *app);
void api_responsibilities_list(struct http_request *req, struct http_response *res, void *app);
void api_audit_list(struct http_request *req, struct http_response *res, void *app);
void api_cases_create(struct http_request *req, struct http_response *res, void *app);
void api_cases_list(struct http_request *req, struct http_response *res, void *app);
void api_cases_get(struct http_request *req, struct http_response *res, void *app);
void api_cases_action(struct http_request *req, struct http_response *res, void *app);
void api_cases_locate(struct http_request *req, struct http_response *res, void *app);
void api_classify(struct http_request *req, struct http_response *res, void *app);
void api_categories_list(struct http_request *req, struct http_response *res, void *app);
void api_files_create(struct http_request *req, struct http_response *res, void *app);
void api_files_get(struct http_request *req, struct http_response *res, void *app);
void api_scores(struct http_request *req, struct http_response *res, void *app);
void api_map_locate(struct http_request *req, struct http_response *res, void *app);
void api_map_district(struct http_request *req, struct http_response *res, void *app);
void api_map_streets(struct http_request *req, struct http_response *res, void *app);
void api_map_communities(struct http_request *req, struct http_response *res, void *app);
void api_map_grids(struct http_request *req, struct http_response *res, void *app);
void api_stream(struct http_request *req, struct http_response *res, void *app);
void api_insights_clusters(struct http_request *req, struct http_response *res, void *app);
void api_insights_hotspots(struct http_request *req, struct http_response *res, void *app);
void api_insights_terms(struct http_request *req, struct http_response *res, void *app);
void api_cases_similar(struct http_request *req, struct http_response *res, void *app);
/* Fills the duplicate finder with the cases reported since now - its window (start-up). */
struct similar_index;
enum cd_err api_similar_load(struct store *st, int64_t now, struct similar_index *ix, size_t *loaded) CD_MUST_CHECK;

/* Prometheus gauges of the app (store size) for http_config.metrics_hook. */
enum cd_err api_metrics(struct buf *out, void *app);

#endif
