/* The MQTT client thread. Why our own poll loop: mosquitto_loop() reads at most a few packets
 * per select() and sleeps in between, so a QoS 1 subscriber fell behind and the broker dropped
 * what no longer fit its queue; reading until the socket is empty (mosquitto_loop_read with a
 * large packet budget), writing only when libmosquitto wants to, and waking on our own pipe for
 * publishes and stop keeps up. See docs/internals/mqtt.md. */
#include "net/mqtt_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define READ_BUDGET 1024  /* packets per mosquitto_loop_read call (it stops early on EAGAIN) */
#define WRITE_BUDGET 1024 /* packets per mosquitto_loop_write call */
#define POLL_MS 1000	  /* upper bound between keepalive checks */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PUBLISH_MAX (256 * 1024)
#define RETRY_MIN_MS 50	  /* first wait before a refused message is offered again */
#define RETRY_MAX_MS 5000

/* A message on_message refused, kept until it is taken (libmosquitto acknowledged it). */
struct held {
	char *topic;
	void *payload;
	size_t len;
};

struct mqtt_client {
	struct mosquitto *m;
	char *host, *user, *password, *client_id;
	char **subs; /* topic filters */
	size_t n_subs;
	mqtt_message_fn on_message;
	void *ctx;
	int port, keepalive;
	int wake[2]; /* pipe: publish and stop wake the poll */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t mu; /* guards the four below */
	pthread_cond_t cv;  /* signalled on subscribed / refused */
	bool stopping;	    /* mqtt_client_stop was called */
	int sub_mid;	    /* message id of our SUBSCRIBE, 0 when none in flight */
	int last_connack;   /* -1 before any, else the last CONNACK code */

	atomic_bool subscribed; /* connected and the SUBACK came */
	atomic_ullong received, connects, connect_failures, published, refused, pauses, nheld;

	/* The client thread's own: messages refused, in order (a FIFO from head). */
	struct held *held;
	size_t held_head, held_len, held_cap;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	mosquitto_lib_init();
}

static void wake(struct mqtt_client *c)
{
	char b = 1;
	ssize_t w = write(c->wake[1], &b, 1); /* a full pipe already means "wake" */
	(void)w;
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	struct mqtt_client *c = ud;
	pthread_mutex_lock(&c->mu);
	c->last_connack = rc;
	pthread_mutex_unlock(&c->mu);
	if (rc != 0) {
		atomic_fetch_add(&c->connect_failures, 1);
		log_warn("mqtt: the broker refused our login", "\"connack\":%d,\"reason\":\"%s\"", rc,
			 mosquitto_connack_string(rc));
		pthread_cond_broadcast(&c->cv);
		return;
	}
	atomic_fetch_add(&c->connects, 1);
	/* With a persistent session the broker remembers our subscriptions, but it may have lost
	 * its state (no persistence, a new broker): subscribing again is harmless. */
	int mid = 0;
	int src = mosquitto_subscribe_multiple(m, &mid, (int)c->n_subs, c->subs, 1, 0, NULL);
	if (src != MOSQ_ERR_SUCCESS)
		log_warn("mqtt: subscribe failed", "\"error\":\"%s\"", mosquitto_strerror(src));
	pthread_mutex_lock(&c->mu);
	c->sub_mid = mid;
	pthread_mutex_unlock(&c->mu);
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	(void)m;
	struct mqtt_client *c = ud;
	for (int i = 0; i < n; i++)
		if (granted[i] > 2)
			log_warn("mqtt: a subscription was refused", "\"filter\":\"%s\"",
				 i < (int)c->n_subs ? c->subs[i] : "?");
	pthread_mutex_lock(&c->mu);
	if (mid == c->sub_mid) {
		c->sub_mid = 0;
		atomic_store(&c->subscribed, true);
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
	(void)m, (void)rc;
	atomic_store(&((struct mqtt_client *)ud)->subscribed, false);
}

static void hold(struct mqtt_client *c, const char *topic, const void *payload, size_t len)
{
	if (c->held_len == c->held_cap) {
		c->held_cap = c->held_cap ? c->held_cap * 2 : 64;
		c->held = xrealloc(c->held, c->held_cap * sizeof *c->held);
	}
	struct held *h = &c->held[c->held_len++];
	h->topic = xstrdup(topic);
	h->payload = xmalloc(len ? len : 1);
	if (len)
		memcpy(h->payload, payload, len);
	h->len = len;
	atomic_fetch_add(&c->nheld, 1);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m;
	struct mqtt_client *c = ud;
	atomic_fetch_add(&c->received, 1);
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	/* Once one is refused, the rest read with it wait behind it: order is kept. */
	if (c->held_len > c->held_head) {
		hold(c, msg->topic, msg->payload, len);
		return;
	}
	if (!c->on_message(c->ctx, msg->topic, msg->payload, len)) {
		atomic_fetch_add(&c->refused, 1);
		atomic_fetch_add(&c->pauses, 1);
		hold(c, msg->topic, msg->payload, len);
	}
}

static void held_free(struct mqtt_client *c)
{
	for (size_t i = c->held_head; i < c->held_len; i++) {
		xfree(c->held[i].topic);
		xfree(c->held[i].payload);
	}
	xfree(c->held);
	c->held = NULL;
	c->held_head = c->held_len = c->held_cap = 0;
	atomic_store(&c->nheld, 0);
}

static bool is_stopping(struct mqtt_client *c)
{
	pthread_mutex_lock(&c->mu);
	bool s = c->stopping;
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* Sleeps ms, or less when woken (stop, publish). */
static void nap(struct mqtt_client *c, long ms)
{
	struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
	if (poll(&p, 1, (int)ms) > 0) {
		char b[64];
		while (read(c->wake[0], b, sizeof b) > 0)
			;
	}
}

/* Offers the held messages again, oldest first; true when all were taken. */
static bool retry_held(struct mqtt_client *c)
{
	while (c->held_head < c->held_len) {
		struct held *h = &c->held[c->held_head];
		if (!c->on_message(c->ctx, h->topic, h->payload, h->len)) {
			atomic_fetch_add(&c->refused, 1);
			return false;
		}
		xfree(h->topic);
		xfree(h->payload);
		c->held_head++;
		atomic_fetch_sub(&c->nheld, 1);
	}
	c->held_head = c->held_len = 0;
	return true;
}

static void *client_thread(void *arg)
{
	struct mqtt_client *c = arg;
	long backoff = BACKOFF_MIN_MS, hold_backoff = RETRY_MIN_MS;
	bool have_socket = false, first = true, paused = false;
	while (!is_stopping(c)) {
		if (c->held_len > c->held_head) {
			/* The consumer refused a message: we stop reading, so what the broker has not
			 * sent us yet stays queued for our session (our unread socket buffer fills, then
			 * its window), and offer the held ones again with backoff. The connection is
			 * kept (keepalive goes on) so nothing we acknowledged is sent to us again; if it
			 * drops meanwhile, we reconnect only once all are taken. */
			if (!paused) {
				paused = true;
				log_warn("mqtt: the hub refused a message; reading paused until it takes it",
					 "\"held\":%zu", c->held_len - c->held_head);
			}
			nap(c, hold_backoff);
			if (is_stopping(c))
				break;
			if (!retry_held(c)) {
				hold_backoff = hold_backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : hold_backoff * 2;
				if (have_socket) {
					int mrc = mosquitto_loop_misc(c->m);
					if (mrc == MOSQ_ERR_SUCCESS && mosquitto_want_write(c->m))
						mrc = mosquitto_loop_write(c->m, WRITE_BUDGET);
					if (mrc != MOSQ_ERR_SUCCESS) {
						atomic_store(&c->subscribed, false);
						have_socket = false;
					}
				}
				continue;
			}
		}
		if (paused) {
			paused = false;
			hold_backoff = RETRY_MIN_MS;
			log_info("mqtt: the hub takes messages again; reading resumes", NULL);
		}
		if (!have_socket) {
			int rc = first ? mosquitto_connect_async(c->m, c->host, c->port, c->keepalive)
				       : mosquitto_reconnect_async(c->m);
			if (rc != MOSQ_ERR_SUCCESS) {
				atomic_fetch_add(&c->connect_failures, 1);
				nap(c, backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			first = false;
			have_socket = true;
		}
		int sock = mosquitto_socket(c->m);
		if (sock < 0) {
			have_socket = false;
			continue;
		}
		struct pollfd fds[2] = {
		    {.fd = sock, .events = (short)(POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0))},
		    {.fd = c->wake[0], .events = POLLIN},
		};
		int n = poll(fds, 2, POLL_MS);
		if (n < 0 && errno != EINTR) {
			log_error("mqtt: poll failed", "\"errno\":%d", errno);
			nap(c, BACKOFF_MIN_MS);
			continue;
		}
		if (n > 0 && fds[1].revents) {
			char b[64];
			while (read(c->wake[0], b, sizeof b) > 0)
				;
		}
		int rc = MOSQ_ERR_SUCCESS;
		if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			rc = mosquitto_loop_read(c->m, READ_BUDGET);
		if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(c->m))
			rc = mosquitto_loop_write(c->m, WRITE_BUDGET);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_loop_misc(c->m);
		if (rc != MOSQ_ERR_SUCCESS) {
			atomic_store(&c->subscribed, false);
			have_socket = false;
			if (is_stopping(c))
				break;
			log_warn("mqtt: connection lost; reconnecting", "\"error\":\"%s\",\"backoff_ms\":%ld",
				 mosquitto_strerror(rc), backoff);
			nap(c, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		} else if (atomic_load(&c->subscribed)) {
			backoff = BACKOFF_MIN_MS;
		}
	}
	if (have_socket) {
		/* a clean DISCONNECT: the broker keeps our session and queues for us */
		mosquitto_disconnect(c->m);
		for (int i = 0; i < 10 && mosquitto_want_write(c->m); i++)
			if (mosquitto_loop_write(c->m, WRITE_BUDGET) != MOSQ_ERR_SUCCESS)
				break;
	}
	if (c->held_len > c->held_head)
		log_error("mqtt: stopping with messages the hub never took; they are lost",
			  "\"lost\":%zu", c->held_len - c->held_head);
	atomic_store(&c->subscribed, false);
	return NULL;
}

static void client_free(struct mqtt_client *c)
{
	if (c->m)
		mosquitto_destroy(c->m);
	held_free(c);
	for (size_t i = 0; i < c->n_subs; i++)
		xfree(c->subs[i]);
	xfree(c->subs);
	xfree(c->host);
	xfree(c->user);
	xfree(c->password);
	xfree(c->client_id);
	if (c->wake[0] >= 0)
		close(c->wake[0]);
	if (c->wake[1] >= 0)
		close(c->wake[1]);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	xfree(c);
}

enum cd_err mqtt_client_start(const struct mqtt_client_options *o, long wait_ms, struct mqtt_client **out)
{
	*out = NULL;
	pthread_once(&lib_once, lib_init);
	struct mqtt_client *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->wake[0] = c->wake[1] = -1;
	c->last_connack = -1;
	c->host = xstrdup(o->host);
	c->port = o->port;
	c->user = o->user ? xstrdup(o->user) : NULL;
	c->password = o->password ? xstrdup(o->password) : NULL;
	c->client_id = xstrdup(o->client_id);
	c->n_subs = o->n_subscriptions;
	c->subs = xcalloc(c->n_subs ? c->n_subs : 1, sizeof *c->subs);
	for (size_t i = 0; i < c->n_subs; i++)
		c->subs[i] = xstrdup(o->subscriptions[i]);
	c->on_message = o->on_message;
	c->ctx = o->ctx;
	c->keepalive = o->keepalive_s > 0 ? o->keepalive_s : 30;
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_error("mqtt: pipe failed", "\"errno\":%d", errno);
		client_free(c);
		return CD_ERR_IO;
	}
	c->m = mosquitto_new(c->client_id, false, c);
	if (!c->m) {
		client_free(c);
		return CD_ERR_NOMEM;
	}
	mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(c->m, 100);
	if (c->user && mosquitto_username_pw_set(c->m, c->user, c->password) != MOSQ_ERR_SUCCESS) {
		client_free(c);
		return CD_ERR_INVALID;
	}
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_disconnect_callback_set(c->m, on_disconnect);
	mosquitto_message_callback_set(c->m, on_message);
	if (pthread_create(&c->thread, NULL, client_thread, c) != 0) {
		client_free(c);
		return CD_ERR_IO;
	}
	c->thread_started = true;

	struct timespec until;
	clock_deadline_in(&until, wait_ms);
	enum cd_err rc = CD_ERR_BUSY;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (atomic_load(&c->subscribed)) {
			rc = CD_OK;
			break;
		}
		/* 4 bad user name or password, 5 not authorised: retrying will not help */
		if (c->last_connack == 4 || c->last_connack == 5) {
			rc = CD_ERR_DENIED;
			break;
		}
		if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&c->mu);
	if (rc == CD_ERR_DENIED) {
		mqtt_client_stop(c);
		return rc;
	}
	*out = c;
	return rc;
}

void mqtt_client_stop(struct mqtt_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	wake(c);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	client_free(c);
}

enum cd_err mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload, size_t len)
{
	if (len > PUBLISH_MAX)
		return CD_ERR_TOOBIG;
	if (!atomic_load(&c->subscribed))
		return CD_ERR_CONFLICT;
	int rc = mosquitto_publish(c->m, NULL, topic, (int)len, payload, 1, false);
	if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8)
		return CD_ERR_INVALID;
	if (rc == MOSQ_ERR_NOMEM)
		return CD_ERR_NOMEM;
	if (rc != MOSQ_ERR_SUCCESS)
		return CD_ERR_CONFLICT;
	atomic_fetch_add(&c->published, 1);
	wake(c); /* the loop polls for POLLOUT when libmosquitto could not write it all at once */
	return CD_OK;
}

void mqtt_client_get_stats(struct mqtt_client *c, struct mqtt_client_stats *out)
{
	out->connected = atomic_load(&c->subscribed);
	out->received = atomic_load(&c->received);
	out->connects = atomic_load(&c->connects);
	out->connect_failures = atomic_load(&c->connect_failures);
	out->published = atomic_load(&c->published);
	out->refused = atomic_load(&c->refused);
	out->pauses = atomic_load(&c->pauses);
	out->held = atomic_load(&c->nheld);
}
