/* The IoT hub: every way a device's data comes in (MQTT through Mosquitto, HTTP, GB/T 26875.3
 * fire-alarm transmitters, other district systems) is turned into the three messages below and
 * handed to the hub, which marks the device seen, stores telemetry in the time series and runs
 * the rules that raise alerts (and open cases). Design: docs/internals/iot.md. */
#ifndef CD_IOT_H
#define CD_IOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/json.h"

struct app;
struct buf;

#define IOT_ID_MAX 64        /* device id, with NUL: [A-Za-z0-9_.-]{1,63} */
#define IOT_METRIC_MAX 32    /* metric name, with NUL: [A-Za-z0-9_.-]{1,31} */
#define IOT_MAX_VALUES 32    /* metrics in one telemetry message */
#define IOT_WORD_MAX 32      /* event type, level, status word, with NUL */
#define IOT_DETAIL_MAX 1024  /* event detail (JSON text or plain text), with NUL */

/* Where a message came from (for counters and logs). */
enum iot_source {
	IOT_SRC_MQTT,
	IOT_SRC_HTTP,
	IOT_SRC_GB26875,
	IOT_SRC_INGEST,
	IOT_SRC_COUNT,
};

struct iot_value {
	char metric[IOT_METRIC_MAX];
	double value;
};

/* citydesk/v1/{device}/telemetry {"ts", "values": {"metric": number, ...}} */
struct iot_telemetry {
	char device[IOT_ID_MAX];
	int64_t ts_ms;                     /* unix milliseconds (the device's, else arrival) */
	size_t n;                          /* values used */
	struct iot_value v[IOT_MAX_VALUES];
};

/* citydesk/v1/{device}/event {"ts", "type", "level", "detail"} */
struct iot_event {
	char device[IOT_ID_MAX];
	int64_t ts_ms;
	char type[IOT_WORD_MAX];           /* e.g. fire_alarm, fault, smoke, tamper, power_fault */
	char level[IOT_WORD_MAX];          /* blue yellow orange red, or "" (info: no alert) */
	char detail[IOT_DETAIL_MAX];       /* free text or JSON text, UTF-8 */
};

/* citydesk/v1/{device}/status {"ts", "status": "online"|"offline", ...} */
struct iot_status {
	char device[IOT_ID_MAX];
	int64_t ts_ms;
	bool online;
};

/* A registered device as the hub and the rules see it (a copy; src/app/devices.c keeps them). */
struct iot_device {
	char id[IOT_ID_MAX];
	char type[IOT_WORD_MAX];        /* smoke_detector electrical_fire_monitor hydrant_pressure uitd
					   water_meter rfid_reader energy_meter camera */
	char name[128];                 /* what staff call it, UTF-8 */
	char site[128];                 /* building or place, UTF-8 */
	char owner[128];                /* the responsible organisation or person, UTF-8 */
	bool has_point;
	double lat, lng;                /* WGS-84 */
	char street_code[16], community_code[16], grid_code[24]; /* located from the point, "" if none */
	char address_hex[16];           /* GB/T 26875.3 transmitter address (12 hex digits) or "" */
	char tags[256];                 /* comma-separated, e.g. "elderly_alone,fire" (rules select on them) */
	bool active;                    /* false once decommissioned */
	bool online;                    /* from heartbeats and data */
	int64_t last_seen_ms;           /* 0 = never */
};

/* True when s is a valid device id (1..63 of [A-Za-z0-9_.-]); the same rule for metrics. */
bool iot_valid_id(const char *s);

/* Parses an MQTT/HTTP payload for `device` (src/app/payload.c). `now_ms` fills a missing ts.
 * On CD_ERR_INVALID p names the field at fault. */
enum cd_err iot_parse_telemetry(const char *device, const char *json, size_t len, int64_t now_ms,
				struct iot_telemetry *out, struct json_problem *p) CD_MUST_CHECK;
enum cd_err iot_parse_event(const char *device, const char *json, size_t len, int64_t now_ms,
			    struct iot_event *out, struct json_problem *p) CD_MUST_CHECK;
enum cd_err iot_parse_status(const char *device, const char *json, size_t len, int64_t now_ms,
			     struct iot_status *out, struct json_problem *p) CD_MUST_CHECK;


/* The hub (src/app/iot.c). Each writes the message to the hub's journal (DATA/iot.journal,
 * app/iot_journal.h) and queues it; storing and rule evaluation happen on the hub's own threads.
 * For IOT_SRC_HTTP and IOT_SRC_GB26875, whose callers acknowledge to a device, each returns only
 * once the message is durable (one fdatasync shared with concurrent callers): CD_OK means it may
 * be acknowledged (HTTP 202, GB/T 26875.3 ACK) and survives kill -9. CD_ERR_IO (the journal
 * failed) or CD_ERR_BUSY (the hub is not running) means it must not be. IOT_SRC_MQTT and
 * IOT_SRC_INGEST return once journalled, without waiting for the disk. A message from a device
 * the registry does not know is counted and dropped by the worker. */
enum cd_err iot_telemetry_in(struct app *app, enum iot_source src, const struct iot_telemetry *t);
enum cd_err iot_event_in(struct app *app, enum iot_source src, const struct iot_event *e);
enum cd_err iot_status_in(struct app *app, enum iot_source src, const struct iot_status *s);

struct alerts_ingest;
/* Items from another district system (POST /api/v1/ingest/{system}): journalled (one wait for
 * all n), then handed to alerts_ingest by the hub's worker in journal order. CD_OK: every item is
 * durable and may be answered 202; otherwise as above (items before the failure are kept). */
enum cd_err iot_ingest_in(struct app *app, const struct alerts_ingest *items, size_t n);

/* The device registered for a GB/T 26875.3 transmitter address (12 hex digits, lower case,
 * as on the wire: "790300000000"); false when none. */
bool iot_device_for_address(struct app *app, const char *address_hex, char device[IOT_ID_MAX]);

/* Starts and stops everything IoT for `citydesk serve` (broker, MQTT client, listeners, rule
 * threads), as configured. */
enum cd_err iot_start(struct app *app) CD_MUST_CHECK;
void iot_stop(struct app *app);

/* Appends the hub's counters (messages by source, unknown devices, queue depth) to a
 * Prometheus text page. */
enum cd_err iot_metrics(struct app *app, struct buf *out) CD_MUST_CHECK;

#endif
