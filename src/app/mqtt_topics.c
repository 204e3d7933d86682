/* The MQTT bridge (mqtt_topics.h): topic → iot_parse_* → sink (the hub), with counters and a
 * rate-limited log of what was refused; the local broker's life and logins; commands out. */
#include "app/mqtt_topics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/config.h"
#include "net/broker.h"
#include "net/http.h"
#include "net/mqtt_client.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define OPEN_WAIT_MS 10000 /* for the first subscription */
#define LOG_EVERY_MS 1000  /* at most one "malformed" line per second; the rest are counted */

static const char *const kind_names[MQTT_KIND_COUNT] = {"telemetry", "event", "status", "command"};

struct mqtt_bridge {
	struct broker *broker; /* the local broker, NULL with an external one */
	struct mqtt_client *client;
	struct mqtt_sink sink;
	int port;
	bool external;
	atomic_bool external_warned; /* set_credentials on an external broker, logged once */
	atomic_ullong handled[MQTT_KIND_COUNT], malformed[MQTT_KIND_COUNT], bad_topic;
	int64_t last_log_ms; /* client thread only */
	uint64_t unlogged;   /* refusals since the last log line; client thread only */
};

bool mqtt_topic_parse(const char *topic, char device[IOT_ID_MAX], enum mqtt_kind *kind)
{
	size_t pl = sizeof MQTT_TOPIC_PREFIX - 1;
	if (strncmp(topic, MQTT_TOPIC_PREFIX, pl) != 0)
		return false;
	const char *d = topic + pl, *slash = strchr(d, '/');
	if (!slash || (size_t)(slash - d) >= IOT_ID_MAX || slash == d)
		return false;
	const char *k = slash + 1;
	for (int i = 0; i < MQTT_KIND_COUNT; i++) {
		if (strcmp(k, kind_names[i]) == 0) {
			size_t n = (size_t)(slash - d);
			memcpy(device, d, n);
			device[n] = '\0';
			if (!iot_valid_id(device))
				return false;
			*kind = (enum mqtt_kind)i;
			return true;
		}
	}
	return false;
}

/* Logs a refusal now and then: the first at once, then at most one line per LOG_EVERY_MS
 * carrying how many were not logged. A device stuck sending garbage must not flood the log. */
static void log_refusal(struct mqtt_bridge *b, const char *topic, const struct json_problem *p)
{
	int64_t now = clock_wall_ms();
	if (now - b->last_log_ms < LOG_EVERY_MS) {
		b->unlogged++;
		return;
	}
	struct buf t, m;
	buf_init(&t, 512);
	buf_init(&m, 512);
	if (buf_json_escape(&t, topic) || buf_json_escape(&m, p ? p->message : "not a citydesk topic")) {
		buf_reset(&t);
		buf_reset(&m);
	}
	log_warn("mqtt: message refused",
		 "\"topic\":\"%s\",\"code\":\"%s\",\"field\":\"%s\",\"reason\":\"%s\",\"not_logged\":%llu",
		 t.data ? t.data : "", p ? p->code : "bad_topic", p ? p->field : "", m.data ? m.data : "",
		 (unsigned long long)b->unlogged);
	buf_release(&t);
	buf_release(&m);
	b->last_log_ms = now;
	b->unlogged = 0;
}

/* Every message from the broker, on the client's thread. False when the sink refused it (the
 * client then holds it and pauses); a malformed one is taken (counted, logged, dropped). */
static bool on_message(void *ctx, const char *topic, const void *payload, size_t len)
{
	struct mqtt_bridge *b = ctx;
	char dev[IOT_ID_MAX];
	enum mqtt_kind kind;
	if (!mqtt_topic_parse(topic, dev, &kind)) {
		atomic_fetch_add(&b->bad_topic, 1);
		log_refusal(b, topic, NULL);
		return true;
	}
	const char *json = payload ? payload : "";
	int64_t now = clock_wall_ms();
	struct json_problem p;
	enum cd_err rc = CD_OK, taken = CD_OK;
	switch (kind) {
	case MQTT_KIND_TELEMETRY: {
		struct iot_telemetry t;
		rc = iot_parse_telemetry(dev, json, len, now, &t, &p);
		if (!rc && b->sink.telemetry)
			taken = b->sink.telemetry(b->sink.ctx, &t);
		break;
	}
	case MQTT_KIND_EVENT: {
		struct iot_event e;
		rc = iot_parse_event(dev, json, len, now, &e, &p);
		if (!rc && b->sink.event)
			taken = b->sink.event(b->sink.ctx, &e);
		break;
	}
	case MQTT_KIND_STATUS: {
		struct iot_status s;
		rc = iot_parse_status(dev, json, len, now, &s, &p);
		if (!rc && b->sink.status)
			taken = b->sink.status(b->sink.ctx, &s);
		break;
	}
	case MQTT_KIND_COMMAND:
	case MQTT_KIND_COUNT:
		break; /* our own commands, should a subscription ever include them */
	}
	if (rc) {
		atomic_fetch_add(&b->malformed[kind], 1);
		log_refusal(b, topic, &p);
	} else if (taken) {
		return false; /* offered again later: counted as handled once taken */
	} else {
		atomic_fetch_add(&b->handled[kind], 1);
	}
	return true;
}

/* mqtt://[user[:password]@]host[:port] (port 1883 by default; [v6] in brackets). */
static enum cd_err parse_url(const char *url, char *host, size_t hostcap, int *port, char *user,
			     size_t usercap, char *pass, size_t passcap)
{
	static const char scheme[] = "mqtt://";
	user[0] = pass[0] = '\0';
	if (strncmp(url, scheme, sizeof scheme - 1) != 0)
		return CD_ERR_INVALID;
	const char *s = url + sizeof scheme - 1, *at = strrchr(s, '@');
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ul = (size_t)((colon ? colon : at) - s);
		if (ul == 0 || ul >= usercap)
			return CD_ERR_INVALID;
		memcpy(user, s, ul);
		user[ul] = '\0';
		if (colon) {
			size_t pl = (size_t)(at - colon - 1);
			if (pl >= passcap)
				return CD_ERR_INVALID;
			memcpy(pass, colon + 1, pl);
			pass[pl] = '\0';
		}
		s = at + 1;
	}
	size_t sl = strlen(s);
	while (sl && s[sl - 1] == '/')
		sl--;
	char hp[300];
	if (sl == 0 || sl >= sizeof hp - 8)
		return CD_ERR_INVALID;
	memcpy(hp, s, sl);
	hp[sl] = '\0';
	/* no port: add the default so http_parse_listen's HOST:PORT rules apply */
	const char *close = strrchr(hp, ']');
	const char *colon = strrchr(hp, ':');
	if (!colon || (close && colon < close))
		snprintf(hp + sl, sizeof hp - sl, ":1883");
	unsigned p;
	if (http_parse_listen(hp, host, hostcap, &p) || p == 0 || p > 65535)
		return CD_ERR_INVALID;
	*port = (int)p;
	return CD_OK;
}

enum cd_err mqtt_bridge_open(const struct mqtt_bridge_options *o, struct mqtt_bridge **out)
{
	*out = NULL;
	struct mqtt_bridge *b = xcalloc(1, sizeof *b);
	b->sink = o->sink;
	char host[256], user[128], pass[256];
	const char *login = BROKER_SERVICE_USER, *password = NULL;
	enum cd_err rc;
	if (o->url && *o->url) {
		b->external = true;
		rc = parse_url(o->url, host, sizeof host, &b->port, user, sizeof user, pass, sizeof pass);
		if (rc) {
			log_error("mqtt: CITYDESK_MQTT_URL must be mqtt://[user[:password]@]host[:port]",
				  NULL);
			goto fail;
		}
		login = user[0] ? user : NULL;
		password = user[0] ? pass : NULL;
	} else {
		struct broker_options bo = {.dir = o->dir, .listen = o->listen};
		rc = broker_start(&bo, &b->broker);
		if (rc)
			goto fail;
		snprintf(host, sizeof host, "%s", broker_host(b->broker));
		b->port = broker_port(b->broker);
		password = broker_service_password(b->broker);
	}
	static const char *const subs[] = {MQTT_TOPIC_PREFIX "+/telemetry", MQTT_TOPIC_PREFIX "+/event",
					   MQTT_TOPIC_PREFIX "+/status"};
	struct mqtt_client_options co = {
	    .host = host,
	    .port = b->port,
	    .user = login,
	    .password = password,
	    /* the local broker would replace any other id with the login name anyway */
	    .client_id = !b->external ? BROKER_SERVICE_USER : o->client_id ? o->client_id : MQTT_CLIENT_ID,
	    .subscriptions = subs,
	    .n_subscriptions = sizeof subs / sizeof subs[0],
	    .on_message = on_message,
	    .ctx = b,
	};
	rc = mqtt_client_start(&co, OPEN_WAIT_MS, &b->client);
	if (rc) {
		log_error("mqtt: could not subscribe at the broker", "\"port\":%d,\"error\":\"%s\"", b->port,
			  cd_err_name(rc));
		goto fail;
	}
	log_info("mqtt: subscribed", "\"port\":%d,\"external\":%s", b->port, b->external ? "true" : "false");
	*out = b;
	return CD_OK;
fail:
	mqtt_bridge_stop(b);
	return rc;
}

static enum cd_err hub_telemetry(void *ctx, const struct iot_telemetry *t)
{
	return iot_telemetry_in(ctx, IOT_SRC_MQTT, t);
}

static enum cd_err hub_event(void *ctx, const struct iot_event *e)
{
	return iot_event_in(ctx, IOT_SRC_MQTT, e);
}

static enum cd_err hub_status(void *ctx, const struct iot_status *s)
{
	return iot_status_in(ctx, IOT_SRC_MQTT, s);
}

enum cd_err mqtt_bridge_start(struct app *app, struct mqtt_bridge **out)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%.4000s/mosquitto", config_get(&app->cfg, CFG_DATA));
	struct mqtt_bridge_options o = {
	    .listen = config_get(&app->cfg, CFG_MQTT_LISTEN),
	    .url = config_get(&app->cfg, CFG_MQTT_URL),
	    .dir = dir,
	    .sink = {hub_telemetry, hub_event, hub_status, app},
	};
	return mqtt_bridge_open(&o, out);
}

void mqtt_bridge_stop(struct mqtt_bridge *b)
{
	if (!b)
		return;
	mqtt_client_stop(b->client);
	broker_stop(b->broker);
	xfree(b);
}

void mqtt_bridge_set_credentials(struct mqtt_bridge *b, const char *const *ids, const char *const *hashes,
				 size_t n)
{
	if (!b)
		return;
	if (!b->broker) {
		if (!atomic_exchange(&b->external_warned, true))
			log_info("mqtt: device logins are managed by the external broker, not by citydesk",
				 NULL);
		return;
	}
	enum cd_err rc = broker_set_credentials(b->broker, ids, hashes, n);
	if (rc)
		log_error("mqtt: could not update the broker's logins", "\"error\":\"%s\"", cd_err_name(rc));
}

enum cd_err mqtt_bridge_command(struct mqtt_bridge *b, const char *device, const char *payload, size_t len)
{
	if (!iot_valid_id(device))
		return CD_ERR_INVALID;
	char topic[sizeof MQTT_TOPIC_PREFIX + IOT_ID_MAX + 16];
	snprintf(topic, sizeof topic, MQTT_TOPIC_PREFIX "%s/command", device);
	return mqtt_client_publish(b->client, topic, payload, len);
}

void mqtt_bridge_get_stats(struct mqtt_bridge *b, struct mqtt_bridge_stats *out)
{
	memset(out, 0, sizeof *out);
	struct mqtt_client_stats cs;
	mqtt_client_get_stats(b->client, &cs);
	out->connected = cs.connected;
	out->received = cs.received;
	out->connects = cs.connects;
	out->connect_failures = cs.connect_failures;
	out->refused = cs.refused;
	out->pauses = cs.pauses;
	out->held = cs.held;
	for (int k = 0; k < MQTT_KIND_COUNT; k++) {
		out->handled[k] = atomic_load(&b->handled[k]);
		out->malformed[k] = atomic_load(&b->malformed[k]);
	}
	out->bad_topic = atomic_load(&b->bad_topic);
	out->port = b->port;
	if (b->broker) {
		out->broker_restarts = broker_restarts(b->broker);
		out->broker_pid = broker_pid(b->broker);
	}
}

enum cd_err mqtt_bridge_metrics(struct mqtt_bridge *b, struct buf *out)
{
	if (!b)
		return CD_OK;
	struct mqtt_bridge_stats s;
	mqtt_bridge_get_stats(b, &s);
	enum cd_err rc =
	    buf_printf(out,
		       "# HELP citydesk_mqtt_connected 1 while citydesk is subscribed at the broker.\n"
		       "# TYPE citydesk_mqtt_connected gauge\n"
		       "citydesk_mqtt_connected %d\n"
		       "# HELP citydesk_mqtt_received_total Messages received from the broker.\n"
		       "# TYPE citydesk_mqtt_received_total counter\n"
		       "citydesk_mqtt_received_total %llu\n"
		       "# HELP citydesk_mqtt_messages_total Messages parsed and handed to the hub, by kind.\n"
		       "# TYPE citydesk_mqtt_messages_total counter\n",
		       s.connected ? 1 : 0, (unsigned long long)s.received);
	for (int k = 0; k < MQTT_KIND_STATUS + 1 && !rc; k++)
		rc = buf_printf(out, "citydesk_mqtt_messages_total{kind=\"%s\"} %llu\n", kind_names[k],
				(unsigned long long)s.handled[k]);
	if (!rc)
		rc = buf_printf(
		    out,
		    "# HELP citydesk_mqtt_malformed_total Payloads refused (bad JSON or fields), by kind.\n"
		    "# TYPE citydesk_mqtt_malformed_total counter\n");
	for (int k = 0; k < MQTT_KIND_STATUS + 1 && !rc; k++)
		rc = buf_printf(out, "citydesk_mqtt_malformed_total{kind=\"%s\"} %llu\n", kind_names[k],
				(unsigned long long)s.malformed[k]);
	if (!rc)
		rc = buf_printf(out,
				"# HELP citydesk_mqtt_bad_topic_total Messages on a topic that is not "
				"citydesk/v1/{device}/{kind}.\n"
				"# TYPE citydesk_mqtt_bad_topic_total counter\n"
				"citydesk_mqtt_bad_topic_total %llu\n"
				"# HELP citydesk_mqtt_connects_total Connections of citydesk's MQTT client.\n"
				"# TYPE citydesk_mqtt_connects_total counter\n"
				"citydesk_mqtt_connects_total %llu\n"
				"# HELP citydesk_mqtt_paused_total Times reading stopped because the hub refused "
				"a message (its journal failed).\n"
				"# TYPE citydesk_mqtt_paused_total counter\n"
				"citydesk_mqtt_paused_total %llu\n"
				"# HELP citydesk_mqtt_held Messages refused by the hub, held until it takes them.\n"
				"# TYPE citydesk_mqtt_held gauge\n"
				"citydesk_mqtt_held %llu\n"
				"# HELP citydesk_mqtt_broker_restarts_total Restarts of the supervised "
				"Mosquitto after it died.\n"
				"# TYPE citydesk_mqtt_broker_restarts_total counter\n"
				"citydesk_mqtt_broker_restarts_total %llu\n"
				"# HELP citydesk_mqtt_broker_up 1 while the supervised Mosquitto runs "
				"(external broker: 0).\n"
				"# TYPE citydesk_mqtt_broker_up gauge\n"
				"citydesk_mqtt_broker_up %d\n",
				(unsigned long long)s.bad_topic, (unsigned long long)s.connects,
				(unsigned long long)s.pauses, (unsigned long long)s.held,
				(unsigned long long)s.broker_restarts, s.broker_pid > 0 ? 1 : 0);
	return rc;
}
