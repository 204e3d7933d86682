/* /api/v1/devices: the device registry (register one, import a CSV, list within the caller's
 * scope, read one), a device's time series, and the HTTP alternative to MQTT for devices that
 * cannot speak it (POST .../telemetry|event|status with the device's own id and secret in HTTP
 * Basic auth, handed to the IoT hub). Routes in the report for src/api/routes.c. */
#ifndef CD_API_DEVICES_H
#define CD_API_DEVICES_H

#include "net/http.h"
#include "util/buf.h"

struct app;

/* Staff (admins) */
void api_devices_create(struct http_request *req, struct http_response *res, void *app);
void api_devices_import(struct http_request *req, struct http_response *res, void *app);
/* Admins: PUT changes name, site, owner, point, tags, address_hex, active (absent fields stay);
 * DELETE decommissions (active false, credentials withdrawn; the row and its history stay). */
void api_devices_update(struct http_request *req, struct http_response *res, void *app);
void api_devices_delete(struct http_request *req, struct http_response *res, void *app);
/* Staff except citizens; street dispatchers see their street's devices */
void api_devices_list(struct http_request *req, struct http_response *res, void *app);
void api_devices_get(struct http_request *req, struct http_response *res, void *app);
void api_devices_series(struct http_request *req, struct http_response *res, void *app);
/* Devices themselves (Basic auth: id and secret) */
void api_devices_telemetry(struct http_request *req, struct http_response *res, void *app);
void api_devices_event(struct http_request *req, struct http_response *res, void *app);
void api_devices_status(struct http_request *req, struct http_response *res, void *app);

/* Prometheus gauges of the registry and the time series (citydesk_devices, _online,
 * citydesk_series_values_written_total ...), for the app's metrics hook. */
enum cd_err api_devices_metrics(struct buf *out, struct app *app) CD_MUST_CHECK;

#endif
