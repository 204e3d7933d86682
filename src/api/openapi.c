/* GET /api/v1/openapi.json: an OpenAPI 3.1 document built from the route table, so it lists
 * exactly the routes the server answers; what a route means (summary, query parameters, body)
 * comes from the table below, one row per /api/v1 route name. A unit test walks the route
 * table and fails when a route has no row here, or a row no route. */
#include "api/openapi.h"

#include <string.h>

#include "api/api.h"
#include "util/alloc.h"

/* Query parameters shared by several routes. */
#define Q_PAGE "page,page_size"
#define Q_CASES "status,street,community,unit,category,channel,overdue,triage,q,from,to," Q_PAGE ",format"

static const struct api_doc docs[] = {
	{"sessions_create", "sessions", "Log in: a bearer token for a username and password", "登录", NULL, "json", true},
	{"sessions_current", "sessions", "The account of the token", "当前账号", NULL, NULL, false},
	{"sessions_delete", "sessions", "Log out: the token stops working", "退出登录", NULL, NULL, false},
	{"users_list", "users", "Accounts (admins)", "账号列表", Q_PAGE, NULL, false},
	{"users_create", "users", "Create an account (admins)", "新建账号", NULL, "json", false},
	{"units_list", "units", "Responsible units", "责任单位", NULL, NULL, false},
	{"responsibilities_list", "units", "The responsibility list (权责清单)", "权责清单", NULL, NULL, false},
	{"audit_list", "audit", "The audit trail (admins)", "审计日志", Q_PAGE, NULL, false},
	{"cases_create", "cases", "Report a case through the intake pipeline", "上报案件", NULL, "json", false},
	{"cases_list", "cases", "Cases in the caller's scope, filtered; csv or xlsx with format", "案件列表", Q_CASES, NULL,
	 false},
	{"cases_get", "cases", "One case with its whole history", "案件详情", NULL, NULL, false},
	{"cases_action", "cases", "A workflow action on a case (register, dispatch, handle, verify, close ...)",
	 "案件办理", NULL, "json", false},
	{"cases_locate", "cases", "Place a case that could not be placed", "案件定位", NULL, "json", false},
	{"cases_similar", "cases", "Possible duplicates of a case", "疑似重复案件", NULL, NULL, false},
	{"insights_clusters", "insights", "Groups of cases about one recurring problem (一类事)", "一类事聚类",
	 "from,to,street", NULL, false},
	{"insights_hotspots", "insights", "Grid cells and communities ranked by cases", "热点网格与社区",
	 "from,to,street,level", NULL, false},
	{"insights_terms", "insights", "Rising terms this week against the four before", "上升热词", "to", NULL, false},
	{"categories_list", "categories", "The category tree", "事项分类", "root,max_depth", NULL, false},
	{"classify", "categories", "Classify a text: category, confidence, alternatives", "智能分类", NULL, "json", false},
	{"files_create", "files", "Upload an image (the body is the image)", "上传图片", NULL, "image", false},
	{"files_get", "files", "An uploaded image", "查看图片", NULL, NULL, false},
	{"scores", "scores", "Scores by unit, street or category (综合评价)", "综合评价", "by,from,to,format", NULL, false},
	{"map_locate", "map", "Street, community and grid cell of a point", "坐标定位", "lat,lng,crs", NULL, true},
	{"map_district", "map", "The district's outline (GeoJSON)", "辖区边界", "crs", NULL, true},
	{"map_streets", "map", "Streets (GeoJSON)", "街道边界", "crs", NULL, true},
	{"map_communities", "map", "Communities (GeoJSON)", "社区边界", "crs,street", NULL, true},
	{"map_grids", "map", "Grid cells in a box (GeoJSON)", "网格", "bbox,crs", NULL, true},
	{"openapi", "meta", "This document (OpenAPI 3.1)", "接口文档", NULL, NULL, true},
	{"devices_create", "devices", "Register a device (admins); its secret is shown once", "登记设备", NULL, "json",
	 false},
	{"devices_list", "devices", "Devices in the caller's scope", "设备列表", "type,street,online,q," Q_PAGE, NULL, false},
	{"devices_import", "devices", "Register devices from CSV, all or nothing", "批量导入设备", "format", "csv", false},
	{"devices_get", "devices", "One device with its metrics", "设备详情", NULL, NULL, false},
	{"devices_update", "devices", "Change a device (name, site, owner, place, tags, address, active; admins)",
	 "修改设备", NULL, "json", false},
	{"devices_delete", "devices", "Decommission a device: its login is withdrawn (admins)", "停用设备", NULL, NULL,
	 false},
	{"devices_series", "devices", "A device's time series (raw, 1-minute or 1-hour)", "设备时序数据",
	 "metric,from,to,step,limit", NULL, false},
	{"devices_telemetry", "devices", "Telemetry from a device over HTTP (Basic auth: id and secret)", "设备上报遥测",
	 NULL, "json", true},
	{"devices_event", "devices", "An event from a device over HTTP (Basic auth)", "设备上报事件", NULL, "json", true},
	{"devices_status", "devices", "A device's status over HTTP (Basic auth)", "设备上报状态", NULL, "json", true},
	{"devices_commands", "devices", "Duty check (查岗) or clock sync to a fire-alarm transmitter", "下发查岗/校时",
	 NULL, "json", false},
	{"rules_list", "alerts", "Alert rules (监测预警)", "预警规则", NULL, NULL, false},
	{"rules_create", "alerts", "Create a rule (admins)", "新建预警规则", NULL, "json", false},
	{"rules_get", "alerts", "One rule", "预警规则详情", NULL, NULL, false},
	{"rules_update", "alerts", "Replace a rule (admins)", "修改预警规则", NULL, "json", false},
	{"rules_delete", "alerts", "Delete a rule (admins)", "删除预警规则", NULL, NULL, false},
	{"alerts_list", "alerts", "Alerts in the caller's scope", "告警列表",
	 "status,level,device,rule,street,from,to," Q_PAGE, NULL, false},
	{"alerts_get", "alerts", "One alert", "告警详情", NULL, NULL, false},
	{"alerts_action", "alerts", "Acknowledge or clear an alert", "告警确认/解除", NULL, "json", false},
	{"ingest", "alerts", "Events and alerts from another district system (X-Api-Key)", "外部系统事件接入", NULL,
	 "json", true},
	{"public_report", "public", "A resident reports without an account (phone required; rate-limited)", "市民上报",
	 NULL, "json", true},
	{"public_track", "public", "Track a report by its number and the reporter's phone", "进度查询", NULL, "json",
	 true},
	{"public_rate", "public", "The resident rates a closed report (dissatisfied reopens it)", "办结评价", NULL,
	 "json", true},
	{"public_file", "public", "A resident's photo for a report (images only, size-capped)", "上传照片", NULL, "image",
	 true},
	{"public_news", "public", "Community news and activities", "社区资讯与活动", "kind,community", NULL, true},
	{"stream", "stream", "Server-Sent Events of cases and alerts in the caller's scope", "实时事件流",
	 "last_event_id", NULL, false},
};

const struct api_doc *api_openapi_doc(const char *route_name)
{
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
		if (strcmp(docs[i].name, route_name) == 0)
			return &docs[i];
	return NULL;
}

const struct api_doc *api_openapi_doc_at(size_t i)
{
	return i < sizeof docs / sizeof docs[0] ? &docs[i] : NULL;
}

static json_t *string_schema(void)
{
	return json_pack("{s:s}", "type", "string");
}

/* The operation object of one route. */
static json_t *operation(const struct http_route *r, const struct api_doc *d)
{
	json_t *params = json_array();
	for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		if (!end)
			break;
		json_t *name = json_stringn(p + 1, (size_t)(end - p - 1));
		json_array_append_new(params, json_pack("{s:o, s:s, s:b, s:o}", "name", name, "in", "path", "required", 1,
							"schema", string_schema()));
	}
	for (const char *q = d->query; q && *q;) {
		const char *comma = strchr(q, ',');
		size_t n = comma ? (size_t)(comma - q) : strlen(q);
		json_array_append_new(params, json_pack("{s:o, s:s, s:b, s:o}", "name", json_stringn(q, n), "in", "query",
							"required", 0, "schema", string_schema()));
		q = comma ? comma + 1 : NULL;
	}
	json_t *op = json_pack("{s:s, s:s, s:s, s:[s], s:o}", "operationId", r->name, "summary", d->summary,
			       "description", d->summary_zh, "tags", d->tag, "parameters", params);
	if (d->body) {
		const char *type = strcmp(d->body, "json") == 0   ? "application/json"
				   : strcmp(d->body, "form") == 0  ? "application/x-www-form-urlencoded"
				   : strcmp(d->body, "csv") == 0   ? "text/csv"
				   : strcmp(d->body, "image") == 0 ? "image/*"
								   : "application/octet-stream";
		json_t *schema = strcmp(d->body, "json") == 0 ? json_pack("{s:s}", "type", "object")
							      : json_pack("{s:s, s:s}", "type", "string", "format", "binary");
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content", type, "schema", schema));
	}
	json_t *err = json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "错误 Error", "content", "application/json",
				"schema", "$ref", "#/components/schemas/Error");
	json_object_set_new(op, "responses",
			    json_pack("{s:{s:s}, s:o}", "2XX", "description", "成功 Success", "4XX", err));
	if (d->public_route)
		json_object_set_new(op, "security", json_array());
	return op;
}

void api_openapi(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	(void)ctx;
	json_t *paths = json_object();
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct http_route *r = &api_routes[i];
		const struct api_doc *d = api_openapi_doc(r->name);
		if (strncmp(r->pattern, "/api/v1/", 8) != 0 || !d)
			continue;
		json_t *item = json_object_get(paths, r->pattern);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, r->pattern, item);
		}
		char method[16];
		size_t n = strlen(r->method);
		for (size_t k = 0; k < n && k + 1 < sizeof method; k++)
			method[k] = (char)(r->method[k] | 0x20); /* lower case: "get", "post" */
		method[n < sizeof method ? n : sizeof method - 1] = '\0';
		json_object_set_new(item, method, operation(r, d));
	}
	json_t *doc = json_pack(
		"{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:{s:{s:{s:s, s:s}}, s:{s:{s:s, s:[s], s:{s:{s:s, s:[s, s, s], "
		"s:{s:{s:s}, s:{s:s}, s:{s:[s, s]}}}}}}}, s:[{s:[]}]}",
		"openapi", "3.1.0", "info", "title", "citydesk API", "version", "1",
		"description", "罗湖区一图一平台：案件、地图、评价、物联网告警。 Luohu district operations platform: cases, map, "
			       "scores, IoT alerts. Errors are {\"error\":{code,message,field}}.",
		"servers", "url", "/",
		"paths", paths,
		"components", "securitySchemes", "bearer", "type", "http", "scheme", "bearer",
		"schemas", "Error", "type", "object", "required", "error", "properties", "error", "type", "object",
		"required", "code", "message", "field", "properties", "code", "type", "string", "message", "type",
		"string", "field", "type", "string", "null",
		"security", "bearer");
	http_respond_json(res, 200, doc);
	json_decref(doc);
}
