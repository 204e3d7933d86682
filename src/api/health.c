/* GET /healthz and the app's own Prometheus gauges. */
#include "api/api.h"
#include "api/devices.h"
#include "app/alerts.h"
#include "app/events.h"
#include "app/iot.h"
#include "app/webhooks.h"

void api_health(struct http_request *req, struct http_response *res, void *ctx)
{
	(void)req;
	(void)ctx;
	static const char ok[] = "{\"status\":\"ok\"}";
	http_respond_static(res, 200, HTTP_JSON_TYPE, ok, sizeof ok - 1);
}

enum cd_err api_metrics(struct buf *out, void *ctx)
{
	struct app *app = ctx;
	int64_t bytes = 0;
	enum cd_err rc = store_size_bytes(app->st, &bytes);
	if (rc)
		return rc;
	if (app->events && (rc = events_metrics(app->events, out)))
		return rc;
	if (app->webhooks && (rc = webhooks_metrics(app->webhooks, out)))
		return rc;
	if ((rc = iot_metrics(app, out)))
		return rc;
	if (app->devices && (rc = api_devices_metrics(out, app)))
		return rc;
	if (app->alerts && (rc = alerts_metrics(app->alerts, out)))
		return rc;
	struct store_journal_stats js;
	store_case_journal_stats(app->st, &js);
	rc = buf_printf(out,
			"# HELP citydesk_intake_journal_pending Acknowledged cases not yet written into the database.\n"
			"# TYPE citydesk_intake_journal_pending gauge\n"
			"citydesk_intake_journal_pending %lld\n"
			"# HELP citydesk_intake_journal_cases_total Cases journalled (acknowledged) since start.\n"
			"# TYPE citydesk_intake_journal_cases_total counter\n"
			"citydesk_intake_journal_cases_total %lld\n"
			"# HELP citydesk_intake_journal_batches_total Journal appends, one fdatasync each.\n"
			"# TYPE citydesk_intake_journal_batches_total counter\n"
			"citydesk_intake_journal_batches_total %lld\n",
			(long long)js.pending, (long long)js.journalled, (long long)js.batches);
	if (rc)
		return rc;
	return buf_printf(out,
			  "# HELP citydesk_store_bytes Size of the store: database file and its write-ahead log.\n"
			  "# TYPE citydesk_store_bytes gauge\n"
			  "citydesk_store_bytes %lld\n",
			  (long long)bytes);
}
