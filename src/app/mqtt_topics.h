/* The MQTT bridge: the district's topics (citydesk/v1/{device}/{telemetry|event|status}) read
 * from the broker, parsed with iot_parse_* and handed to the hub; malformed payloads are
 * counted and logged (rate-limited) and never stop the stream. It also runs the local broker
 * (net/broker.h) unless CITYDESK_MQTT_URL names an external one, keeps the broker's logins in
 * step with the registry, and sends commands to devices. Design: docs/internals/mqtt.md. */
#ifndef CD_APP_MQTT_TOPICS_H
#define CD_APP_MQTT_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/iot.h"
#include "util/buf.h"
#include "util/err.h"

struct app;
struct mqtt_bridge;

#define MQTT_TOPIC_PREFIX "citydesk/v1/"
/* Our client id at an external broker (fixed: the broker keeps this session's queue). The local
 * broker sets every client's id to its login name (use_username_as_clientid), so there our id
 * is BROKER_SERVICE_USER, which no device can log in as. */
#define MQTT_CLIENT_ID "citydesk-hub"

enum mqtt_kind {
	MQTT_KIND_TELEMETRY,
	MQTT_KIND_EVENT,
	MQTT_KIND_STATUS,
	MQTT_KIND_COMMAND, /* ours, going out: seen on the subscription, not handled */
	MQTT_KIND_COUNT,
};

/* Splits "citydesk/v1/{device}/{kind}". False for anything else (other prefixes, more or fewer
 * levels, an invalid device id, an unknown kind). */
bool mqtt_topic_parse(const char *topic, char device[IOT_ID_MAX], enum mqtt_kind *kind);

/* Where parsed messages go: the hub in the server, a recorder in tests. Called on the MQTT
 * client's thread; may block briefly (back-pressure). CD_OK when the message is taken; any
 * error (the hub's journal failed, the hub is stopping) pauses the bridge: it stops reading,
 * so the broker keeps the rest queued for citydesk's session, and offers the refused message
 * again with backoff until it is taken (see mqtt_client.h). */
struct mqtt_sink {
	enum cd_err (*telemetry)(void *ctx, const struct iot_telemetry *t);
	enum cd_err (*event)(void *ctx, const struct iot_event *e);
	enum cd_err (*status)(void *ctx, const struct iot_status *s);
	void *ctx;
};

struct mqtt_bridge_options {
	const char *listen;    /* HOST:PORT for the local broker (CFG_MQTT_LISTEN) */
	const char *url;       /* mqtt://[user[:password]@]host[:port] of an external broker, or "" */
	const char *dir;       /* the local broker's directory (DATA/mosquitto) */
	const char *client_id; /* external broker: NULL = MQTT_CLIENT_ID; local: always the login */
	struct mqtt_sink sink;
};

struct mqtt_bridge_stats {
	bool connected;			     /* subscribed right now */
	uint64_t received;		     /* messages from the broker */
	uint64_t handled[MQTT_KIND_COUNT];   /* parsed and handed on, by kind (commands: seen) */
	uint64_t malformed[MQTT_KIND_COUNT]; /* refused by iot_parse_*, by kind */
	uint64_t bad_topic;		     /* under citydesk/v1/ but not a known topic */
	uint64_t connects, connect_failures; /* of our client */
	uint64_t refused;		     /* messages the sink refused (each offered again later) */
	uint64_t pauses;		     /* times reading stopped because the sink refused one */
	uint64_t held;			     /* refused messages held in memory now */
	uint64_t broker_restarts;	     /* of the local broker (0 with an external one) */
	int broker_pid;			     /* the local broker, 0 when down or external */
	int port;			     /* the broker's port */
};

/* Starts the local broker (unless o->url is set), then the client, and waits up to 10 s for
 * the subscription. CD_ERR_INVALID for a bad url/listen, CD_ERR_BUSY when the port is taken or
 * an external broker cannot be reached in time (then nothing is left running), CD_ERR_DENIED
 * when the broker refused our login. Free with mqtt_bridge_stop. */
enum cd_err mqtt_bridge_open(const struct mqtt_bridge_options *o, struct mqtt_bridge **out) CD_MUST_CHECK;

/* mqtt_bridge_open as `citydesk serve` wants it: settings from app->cfg (CFG_MQTT_LISTEN,
 * CFG_MQTT_URL, DATA/mosquitto) and every message handed to the hub (iot_*_in with
 * IOT_SRC_MQTT). Called from iot_start. */
enum cd_err mqtt_bridge_start(struct app *app, struct mqtt_bridge **out) CD_MUST_CHECK;

/* Stops the client (cleanly: the broker keeps our session), then the local broker. NULL is fine. */
void mqtt_bridge_stop(struct mqtt_bridge *b);

/* Replaces the device logins of the local broker with these n (id, broker_password_hash
 * form) and reloads it. Ignored (logged once) with an external broker, whose logins are
 * managed there. NULL b is fine. */
void mqtt_bridge_set_credentials(struct mqtt_bridge *b, const char *const *ids, const char *const *hashes,
				 size_t n);

/* Publishes payload (JSON) to citydesk/v1/{device}/command at QoS 1. CD_ERR_INVALID for a bad
 * device id, CD_ERR_CONFLICT while not connected to the broker. */
enum cd_err mqtt_bridge_command(struct mqtt_bridge *b, const char *device, const char *payload,
				size_t len) CD_MUST_CHECK;

/* A snapshot of the counters. */
void mqtt_bridge_get_stats(struct mqtt_bridge *b, struct mqtt_bridge_stats *out);

/* Appends the counters as Prometheus text (citydesk_mqtt_*) for GET /metrics. NULL b is fine. */
enum cd_err mqtt_bridge_metrics(struct mqtt_bridge *b, struct buf *out) CD_MUST_CHECK;

#endif
