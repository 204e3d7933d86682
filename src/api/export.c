/* Sending tables as CSV or XLSX files; see export.h. */
#include <stdio.h>
#include <string.h>

#include "api/export.h"
#include "util/log.h"

bool export_format_of(struct http_request *req, struct http_response *res, enum export_format *out)
{
	const char *f = http_query_get(req, "format");
	*out = EXPORT_NONE;
	if (!f || !*f || strcmp(f, "json") == 0)
		return true;
	if (strcmp(f, "csv") == 0) {
		*out = EXPORT_CSV;
		return true;
	}
	if (strcmp(f, "xlsx") == 0) {
		*out = EXPORT_XLSX;
		return true;
	}
	http_error(res, 422, "invalid_parameter", "format is json, csv or xlsx", "format");
	return false;
}

void export_send(struct http_request *req, struct http_response *res, struct app *app,
		 const struct api_caller *who, struct table *t, enum export_format f, const char *name,
		 const char *action)
{
	char tmpdir[4096], disposition[256], after[96];
	enum cd_err rc = table_status(t);
	if (!rc && f == EXPORT_XLSX) {
		snprintf(tmpdir, sizeof tmpdir, "%.4000s", config_get(&app->cfg, CFG_DATA));
		rc = table_xlsx_write(t, name, tmpdir, &res->body);
	} else if (!rc) {
		rc = table_csv_write(t, &res->body);
	}
	if (rc == CD_ERR_TOOBIG) {
		http_error(res, 413, "export_too_large", "导出内容过多，请缩小筛选范围 (too much to export; narrow the filter)",
			   NULL);
		return;
	}
	if (rc) {
		log_error("export failed", "\"error\":\"%s\"", cd_err_name(rc));
		http_error(res, 500, "internal", "the export failed", NULL);
		return;
	}
	/* An export hands personal data to a file: the trail says who took what. */
	snprintf(after, sizeof after, "{\"rows\":%zu,\"format\":\"%s\"}", t->nrows, f == EXPORT_XLSX ? "xlsx" : "csv");
	if (store_audit_append(app->st, &who->actor, action, req->path, NULL, after)) {
		buf_reset(&res->body);
		http_error(res, 503, "busy", "the export could not be recorded; try again", NULL);
		return;
	}
	res->status = 200;
	res->content_type = f == EXPORT_XLSX ? TABLE_XLSX_CONTENT_TYPE : TABLE_CSV_CONTENT_TYPE;
	snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.%s\"", name,
		 f == EXPORT_XLSX ? "xlsx" : "csv");
	if (http_header_add(req, res, "Content-Disposition", disposition))
		log_warn("no Content-Disposition", NULL);
}
