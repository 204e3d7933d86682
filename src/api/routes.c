/* The route table of the HTTP API: every route the server answers, in one place. The
 * OpenAPI document and its test walk this table. */
#include "api/api.h"
#include "api/open311.h"
#include "api/openapi.h"

const struct http_route api_routes[] = {
	{"GET", "/healthz", api_health, "health"},
	{"GET", "/metrics", http_handle_metrics, "metrics"},
	{"POST", "/api/v1/sessions", api_sessions_create, "sessions_create"},
	{"GET", "/api/v1/sessions/current", api_sessions_current, "sessions_current"},
	{"DELETE", "/api/v1/sessions/current", api_sessions_delete, "sessions_delete"},
	{"GET", "/api/v1/users", api_users_list, "users_list"},
	{"POST", "/api/v1/users", api_users_create, "users_create"},
	{"GET", "/api/v1/units", api_units_list, "units_list"},
	{"GET", "/api/v1/responsibilities", api_responsibilities_list, "responsibilities_list"},
	{"GET", "/api/v1/audit", api_audit_list, "audit_list"},
	{"POST", "/api/v1/cases", api_cases_create, "cases_create"},
	{"GET", "/api/v1/cases", api_cases_list, "cases_list"},
	{"GET", "/api/v1/cases/{id}", api_cases_get, "cases_get"},
	{"POST", "/api/v1/cases/{id}/actions", api_cases_action, "cases_action"},
	{"POST", "/api/v1/cases/{id}/location", api_cases_locate, "cases_locate"},
	{"GET", "/api/v1/cases/{id}/similar", api_cases_similar, "cases_similar"},
	{"GET", "/api/v1/insights/clusters", api_insights_clusters, "insights_clusters"},
	{"GET", "/api/v1/insights/hotspots", api_insights_hotspots, "insights_hotspots"},
	{"GET", "/api/v1/insights/terms", api_insights_terms, "insights_terms"},
	{"GET", "/api/v1/categories", api_categories_list, "categories_list"},
	{"POST", "/api/v1/classify", api_classify, "classify"},
	{"POST", "/api/v1/files", api_files_create, "files_create"},
	{"GET", "/api/v1/files/{id}", api_files_get, "files_get"},
	{"GET", "/api/v1/scores", api_scores, "scores"},
	{"GET", "/api/v1/map/locate", api_map_locate, "map_locate"},
	{"GET", "/api/v1/map/district", api_map_district, "map_district"},
	{"GET", "/api/v1/map/streets", api_map_streets, "map_streets"},
	{"GET", "/api/v1/map/communities", api_map_communities, "map_communities"},
	{"GET", "/api/v1/map/grids", api_map_grids, "map_grids"},
	{"GET", "/api/v1/stream", api_stream, "stream"},
	{"GET", "/api/v1/openapi.json", api_openapi, "openapi"},
	{"GET", "/open311/v2/{doc}", api_open311_get, "open311_get"},
	{"POST", "/open311/v2/{doc}", api_open311_post, "open311_post"},
	{"GET", "/open311/v2/services/{code}", api_open311_service, "open311_service"},
	{"GET", "/open311/v2/requests/{id}", api_open311_request, "open311_request"},
	{"GET", "/open311/v2/tokens/{token}", api_open311_token, "open311_token"},
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
