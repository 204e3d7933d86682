/* POST /api/v1/devices/{id}/commands: a dispatcher asks a fire-alarm transmitter for a duty
 * check (查岗: someone on duty must answer within N minutes) or sets its clock. The frame goes
 * out on the transmitter's open GB/T 26875.3 connection; its answer arrives later as an event. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/device_commands.h"
#include "app/devices.h"
#include "app/gb26875_bridge.h"
#include "app/iot.h"
#include "net/gb26875.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define DEFAULT_DUTY_MINUTES 10 /* the reference's example; transmitters show it to the operator */

void api_device_commands(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	static const char *const allowed[] = {"command", "minutes", NULL};
	struct api_caller *who = api_require(req, res, app,
					     API_ROLE(ROLE_ADMIN) | API_ROLE(ROLE_DISTRICT_DISPATCHER) |
						 API_ROLE(ROLE_STREET_DISPATCHER));
	json_t *body = NULL;
	struct json_problem p;
	const char *command = NULL;
	long long minutes = DEFAULT_DUTY_MINUTES;
	if (!who || !http_read_json(req, res, &body))
		return;
	if (json_check_fields(body, allowed, &p) ||
	    json_get_string(body, "command", JSON_REQUIRED | JSON_NONEMPTY, 32, &command, &p) ||
	    json_get_int(body, "minutes", JSON_OPTIONAL, 1, 255, &minutes, &p)) {
		http_error_json(res, &p);
		goto out;
	}
	bool duty = strcmp(command, "duty_check") == 0;
	if (!duty && strcmp(command, "clock_sync") != 0) {
		http_error(res, 422, "invalid_field", "command must be duty_check or clock_sync", "command");
		goto out;
	}
	if (!duty && json_object_get(body, "minutes")) {
		http_error(res, 422, "unknown_field", "minutes belongs to duty_check only", "minutes");
		goto out;
	}

	const char *id = http_param(req, "id");
	struct iot_device dev;
	if (!id || !app->devices || !devices_get(app->devices, id, &dev) ||
	    (who->role == ROLE_STREET_DISPATCHER && strcmp(dev.street_code, who->user.street_code) != 0)) {
		http_error(res, 404, "not_found", "no such device", NULL);
		goto out;
	}
	if (!dev.active) {
		http_error(res, 409, "decommissioned", "the device is decommissioned", NULL);
		goto out;
	}
	if (!dev.address_hex[0]) {
		http_error(res, 409, "not_gb26875", "the device has no GB/T 26875.3 transmitter address",
			   NULL);
		goto out;
	}
	struct gb_listener *l = gb26875_bridge_listener(app);
	if (!l) {
		http_error(res, 409, "gb26875_off", "the GB/T 26875.3 listener is not running", NULL);
		goto out;
	}
	uint16_t serial = 0;
	enum cd_err rc = duty ? gb_listener_duty_check(l, dev.address_hex, (unsigned)minutes, &serial)
			      : gb_listener_clock_sync(l, dev.address_hex, &serial);
	if (rc == CD_ERR_NOTFOUND || rc == CD_ERR_IO) {
		http_error(res, 409, "not_connected", "the transmitter is not connected", NULL);
		goto out;
	}
	if (rc) {
		http_error(res, 409, "not_gb26875", "the device's transmitter address is not valid", NULL);
		goto out;
	}

	/* Who asked, in the audit trail and the device's event history. */
	char after[256], target[96];
	if (duty)
		snprintf(after, sizeof after,
			 "{\"command\":\"duty_check\",\"minutes\":%lld,\"serial\":%u,\"address\":\"%s\"}",
			 minutes, (unsigned)serial, dev.address_hex);
	else
		snprintf(after, sizeof after, "{\"command\":\"clock_sync\",\"serial\":%u,\"address\":\"%s\"}",
			 (unsigned)serial, dev.address_hex);
	snprintf(target, sizeof target, "devices/%s", dev.id);
	rc = store_audit_append(app->st, &who->actor, "device.command", target, NULL, after);
	if (rc)
		log_msg(LOG_ERROR, "device command not audited", "\"device\":\"%s\",\"error\":\"%s\"", dev.id,
			cd_err_name(rc));
	struct iot_event ev;
	memset(&ev, 0, sizeof ev);
	snprintf(ev.device, sizeof ev.device, "%s", dev.id);
	ev.ts_ms = clock_wall_ms();
	snprintf(ev.type, sizeof ev.type, "%s", duty ? "duty_check_sent" : "clock_sync_sent");
	snprintf(ev.detail, sizeof ev.detail, "%s", after);
	iot_event_in(app, IOT_SRC_GB26875, &ev);

	json_t *reply = json_pack("{s:s, s:s, s:s, s:i}", "device", dev.id, "command", command, "address",
				  dev.address_hex, "serial", (int)serial);
	if (duty)
		json_object_set_new(reply, "minutes", json_integer(minutes));
	http_respond_json(res, 202, reply);
	json_decref(reply);
out:
	json_decref(body);
}
