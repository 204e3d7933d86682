/* The route table of the HTTP API: every route the server answers, in one place. The
 * OpenAPI document and its test walk this table. */
#include "api/alerts.h"
#include "api/api.h"
#include "api/device_commands.h"
#include "api/devices.h"
#include "api/ingest.h"
#include "api/open311.h"
#include "api/openapi.h"
#include "api/public.h"
#include "api/rules.h"
#include "api/web.h"

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
	{"POST", "/api/v1/devices", api_devices_create, "devices_create"},
	{"GET", "/api/v1/devices", api_devices_list, "devices_list"},
	{"POST", "/api/v1/devices/import", api_devices_import, "devices_import"},
	{"GET", "/api/v1/devices/{id}", api_devices_get, "devices_get"},
	{"PUT", "/api/v1/devices/{id}", api_devices_update, "devices_update"},
	{"DELETE", "/api/v1/devices/{id}", api_devices_delete, "devices_delete"},
	{"GET", "/api/v1/devices/{id}/series", api_devices_series, "devices_series"},
	{"POST", "/api/v1/devices/{id}/telemetry", api_devices_telemetry, "devices_telemetry"},
	{"POST", "/api/v1/devices/{id}/event", api_devices_event, "devices_event"},
	{"POST", "/api/v1/devices/{id}/status", api_devices_status, "devices_status"},
	{"POST", "/api/v1/devices/{id}/commands", api_device_commands, "devices_commands"},
	{"GET", "/api/v1/rules", api_rules_list, "rules_list"},
	{"POST", "/api/v1/rules", api_rules_create, "rules_create"},
	{"GET", "/api/v1/rules/{id}", api_rules_get, "rules_get"},
	{"PUT", "/api/v1/rules/{id}", api_rules_update, "rules_update"},
	{"DELETE", "/api/v1/rules/{id}", api_rules_delete, "rules_delete"},
	{"GET", "/api/v1/alerts", api_alerts_list, "alerts_list"},
	{"GET", "/api/v1/alerts/{id}", api_alerts_get, "alerts_get"},
	{"POST", "/api/v1/alerts/{id}/actions", api_alerts_action, "alerts_action"},
	{"POST", "/api/v1/ingest/{system}", api_ingest, "ingest"},
	{"POST", "/api/v1/public/reports", api_public_report, "public_report"},
	{"POST", "/api/v1/public/track", api_public_track, "public_track"},
	{"POST", "/api/v1/public/reports/{ref}/rating", api_public_rate, "public_rate"},
	{"POST", "/api/v1/public/files", api_public_file, "public_file"},
	{"GET", "/api/v1/public/news", api_public_news, "public_news"},
	{"GET", "/", web_index, "web_index"},
	{"GET", "/app", web_app, "web_app"},
	{"GET", "/static/{file}", web_static, "web_static"},
	{"GET", "/open311/v2/{doc}", api_open311_get, "open311_get"},
	{"POST", "/open311/v2/{doc}", api_open311_post, "open311_post"},
	{"GET", "/open311/v2/services/{code}", api_open311_service, "open311_service"},
	{"GET", "/open311/v2/requests/{id}", api_open311_request, "open311_request"},
	{"GET", "/open311/v2/tokens/{token}", api_open311_token, "open311_token"},
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
