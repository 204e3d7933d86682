/* Outgoing webhooks: case events POSTed to other district systems, HMAC-SHA256 signed, retried
 * with exponential backoff and jitter, dead-lettered after the last attempt. The module
 * subscribes to the event bus with an all-seeing scope, filters per subscription, queues each
 * delivery durably in the store, and one background thread sends them with libcurl's multi
 * interface, so publishing (and intake) never waits for a receiver. Design, wire format and
 * receiver's guide: docs/internals/webhooks.md. */
#ifndef CD_WEBHOOKS_H
#define CD_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

struct events;
struct webhooks;

#define WEBHOOKS_SECRET_LEN 64 /* hex digits of a generated secret (32 random bytes) */
#define WEBHOOKS_SIG_MAX 96    /* "t=<unix>,v1=<64 hex>" with its NUL */
#define WEBHOOKS_USER_AGENT "citydesk-webhooks/1"
#define WEBHOOKS_RESPONSE_MAX (64u * 1024u) /* bytes of a receiver's answer read before giving up */
#define WEBHOOKS_TOLERANCE_S 300	    /* receivers should refuse older signatures (docs) */

struct webhooks_config {
	unsigned backoff_ms;	     /* delay after the first failure, doubled per attempt (1000;
					CITYDESK_WEBHOOK_BACKOFF_MS) */
	unsigned backoff_max_ms;     /* the delay's cap (300000) */
	unsigned max_attempts;	     /* attempts before the dead-letter list (8;
					CITYDESK_WEBHOOK_MAX_ATTEMPTS) */
	unsigned connect_timeout_ms; /* per attempt (2000) */
	unsigned timeout_ms;	     /* whole attempt (5000; CITYDESK_WEBHOOK_TIMEOUT_MS) */
	unsigned max_in_flight;	     /* concurrent requests over all subscriptions (64) */
	unsigned per_hook_in_flight; /* concurrent requests to one subscription (8): a hanging
					receiver cannot take every slot */
	unsigned reload_ms;	     /* how often subscriptions are re-read from the store (1000):
					`citydesk webhook add` from another process takes effect */
	size_t inbox_max;	     /* bytes of events waiting for the sender thread (32 MiB);
					beyond it events are dropped and counted, never waited for */
};

/* Fills cfg with the defaults above, then the CITYDESK_WEBHOOK_* environment overrides (a
 * malformed or out-of-range value is logged and ignored). */
void webhooks_config_init(struct webhooks_config *cfg);

/* Starts the sender thread and subscribes to `bus` (may be NULL: nothing is queued, stored
 * deliveries are still sent). db_path is the store's database, already opened (and migrated)
 * by the caller's store_open: the module keeps its own connection to it
 * (store_webhook_conn_open), so its store writes never hold the main store's mutex. cfg NULL =
 * webhooks_config_init. CD_ERR_IO when the thread or libcurl cannot start; the store's error
 * when the database cannot be opened. *out is freed by webhooks_stop. */
enum cd_err webhooks_start(const char *db_path, struct events *bus, const struct webhooks_config *cfg,
			   struct webhooks **out) CD_MUST_CHECK;
/* Unsubscribes, stores every event already taken (so none is lost), abandons requests in
 * flight (their deliveries stay pending and are sent again after a restart: at least once),
 * joins the thread and frees. Call before events_free. NULL is fine. */
void webhooks_stop(struct webhooks *wh);

/* Counters since webhooks_start. */
struct webhooks_stats {
	uint64_t events;	/* events taken from the bus while subscriptions existed */
	uint64_t queued;	/* deliveries stored */
	uint64_t delivered;	/* 2xx answers */
	uint64_t failed;	/* attempts that failed (each retry counts) */
	uint64_t dead;		/* deliveries moved to the dead-letter list */
	uint64_t dropped;	/* events refused because the inbox was full, or queued for a
				   subscription removed before they were stored */
	uint64_t lost;		/* resyncs from the bus: it fell behind and events were lost */
	uint64_t in_flight;	/* requests now */
	uint64_t subscriptions; /* subscriptions known now */
};
void webhooks_get_stats(struct webhooks *wh, struct webhooks_stats *out);
/* Appends the counters as Prometheus text (citydesk_webhooks_*), for the app's metrics hook. */
enum cd_err webhooks_metrics(struct webhooks *wh, struct buf *out) CD_MUST_CHECK;

/* ---- pure helpers (also for the CLI and for tests) ---------------------------------------- */

/* The X-Citydesk-Signature value "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>" into
 * out[0..WEBHOOKS_SIG_MAX). The key is the secret string's bytes. */
void webhooks_sign(const char *secret, int64_t t, const char *body, size_t len, char out[WEBHOOKS_SIG_MAX]);
/* What a receiver does: CD_OK when `header` carries a v1 signature of body under secret made
 * at most tolerance_s seconds from now; CD_ERR_RANGE for a stale (or future) timestamp,
 * CD_ERR_DENIED for a wrong signature (compared in constant time), CD_ERR_INVALID for a
 * malformed header. */
enum cd_err webhooks_verify(const char *secret, const char *header, const char *body, size_t len, int64_t now,
			    int64_t tolerance_s) CD_MUST_CHECK;
/* The delay (ms) after the attempt-th failure (1-based): backoff_ms * 2^(attempt-1) capped at
 * backoff_max_ms, then "equal jitter": half of it fixed, the other half scaled by
 * rnd / UINT32_MAX (pass a uniform random number). */
int64_t webhooks_backoff_ms(const struct webhooks_config *cfg, int attempt, uint32_t rnd);
/* Whether event `type` passes a subscription's events list: "" or "*" = all; otherwise
 * comma-separated exact types or "prefix.*" patterns ("case.*"). */
bool webhooks_event_match(const char *events, const char *type);
/* CD_OK for an events list webhooks_event_match understands (tokens of letters, digits, '_',
 * '.', ending optionally in ".*"; or "*"; or ""); CD_ERR_INVALID otherwise. */
enum cd_err webhooks_check_events(const char *events) CD_MUST_CHECK;
/* CD_OK for an absolute http:// or https:// URL with a host that fits
 * STORE_WEBHOOK_URL_MAX; CD_ERR_INVALID otherwise (other schemes are refused). */
enum cd_err webhooks_check_url(const char *url) CD_MUST_CHECK;
/* A new random secret: WEBHOOKS_SECRET_LEN lowercase hex digits and a NUL. Needs libsodium
 * initialised (auth_init). */
void webhooks_secret_new(char out[WEBHOOKS_SECRET_LEN + 1]);
/* The body POSTed for an event: {"event_id":N,"type":T,"ref":R,"data":<payload>}, compact.
 * *out is a new string to xfree. CD_ERR_INVALID when payload is not JSON. */
enum cd_err webhooks_body(uint64_t event_id, const char *type, const char *ref, const char *payload,
			  size_t plen, char **out) CD_MUST_CHECK;

#endif
