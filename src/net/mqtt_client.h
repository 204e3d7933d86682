/* citydesk's MQTT client: one libmosquitto connection on its own thread, driven by our own
 * poll loop (mosquitto_loop_read/write/misc, never mosquitto_loop), a persistent session
 * (clean_session false, a fixed client id) with QoS 1 subscriptions, reconnection with backoff,
 * and counters. Design: docs/internals/mqtt.md. */
#ifndef CD_NET_MQTT_CLIENT_H
#define CD_NET_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct mqtt_client;

/* Called on the client's thread for every message, in the order the broker sent them. The
 * payload is not NUL-terminated. May block (back-pressure): the broker then queues for us.
 * Returns true when the message is taken. False (its consumer cannot take it now: the hub's
 * journal failed) pauses the client: libmosquitto has already acknowledged the message (and
 * those read with it), so the client keeps them in memory, stops reading (the broker queues
 * the rest for our persistent session; the connection and its keepalive stay), offers them
 * again with backoff (50 ms doubling to 5 s) until all are taken, then reads on. */
typedef bool (*mqtt_message_fn)(void *ctx, const char *topic, const void *payload, size_t len);

struct mqtt_client_options {
	const char *host;      /* broker host */
	int port;	       /* broker port */
	const char *user;      /* login, or NULL */
	const char *password;  /* password, or NULL */
	const char *client_id; /* fixed, so the broker keeps our session (and queues) while we are away */
	const char *const *subscriptions; /* topic filters, subscribed at QoS 1 on every connect */
	size_t n_subscriptions;
	mqtt_message_fn on_message;
	void *ctx;	 /* passed to on_message */
	int keepalive_s; /* 0 = 30 */
};

struct mqtt_client_stats {
	bool connected;		   /* connected and subscribed right now */
	uint64_t received;	   /* messages delivered to on_message */
	uint64_t connects;	   /* successful connections (the first one included) */
	uint64_t connect_failures; /* refused or failed attempts */
	uint64_t published;	   /* messages accepted by mqtt_client_publish */
	uint64_t refused;	   /* on_message calls that returned false (retries included) */
	uint64_t pauses;	   /* times the client stopped reading because a message was refused */
	uint64_t held;		   /* messages held in memory now, waiting to be taken */
};

/* Starts the client thread and waits up to wait_ms for the first connection and SUBACK.
 * CD_OK when subscribed in time; CD_ERR_BUSY when not yet (the client stays up and keeps
 * trying: *out is set either way unless the return is another error). CD_ERR_DENIED when the
 * broker refused the login. Free with mqtt_client_stop. */
enum cd_err mqtt_client_start(const struct mqtt_client_options *o, long wait_ms,
			      struct mqtt_client **out) CD_MUST_CHECK;

/* Disconnects cleanly and joins the thread. NULL is fine. Messages still held (refused by
 * on_message, already acknowledged to the broker) are lost, and logged. */
void mqtt_client_stop(struct mqtt_client *c);

/* Publishes at QoS 1 from any thread. CD_ERR_CONFLICT when not connected (the caller decides
 * whether to retry), CD_ERR_INVALID for a bad topic, CD_ERR_TOOBIG past 256 KiB. */
enum cd_err mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload,
				size_t len) CD_MUST_CHECK;

/* A snapshot of the counters. */
void mqtt_client_get_stats(struct mqtt_client *c, struct mqtt_client_stats *out);

#endif
