/* An in-process bus for case and alert events. Publishers (intake, casework, the deadline
 * scheduler) hand in a message and never wait for a subscriber: it goes into a ring of the last
 * N events and one dispatcher thread fans it out to the subscribers (the SSE streams), each
 * seeing only what its scope allows. The ring also serves replay after a reconnect
 * (Last-Event-ID). Design and figures: docs/internals/events.md. */
#ifndef CD_EVENTS_H
#define CD_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth.h"
#include "core/workflow.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"

#define EVENTS_RING_DEFAULT 1024          /* events kept for replay (and dispatch slack) */
#define EVENTS_HEARTBEAT_MS_DEFAULT 15000 /* a heartbeat to every subscriber this often */
#define EVENTS_REPLAY_MAX_DEFAULT (128u * 1024u) /* bytes of replay per subscriber, else resync */
#define EVENTS_PAYLOAD_MAX (16u * 1024u)  /* a payload above this is refused */
#define EVENTS_TYPE_MAX 48                /* "case.dispatched" ..., with NUL */

struct events;
struct events_sub;

/* One event as a publisher hands it in. Strings are copied; NULL means none. */
struct event_msg {
	const char *kind;         /* "case" or "alert" */
	const char *type;         /* "case.created", "case.dispatched", "case.overdue", "alert.raised" ... */
	const char *ref;          /* the case ref (LH20261127000123) or the alert's id */
	const char *street_code;  /* where it is, for scope; NULL or "" while unplaced */
	const char *unit_code;    /* the responsible unit, for scope; NULL or "" for none */
	int64_t reporter_user_id; /* the citizen account that reported it, 0 for none */
	const char *payload;      /* JSON text (normally an object); NULL sends {} */
};

/* Who a subscriber is: the same facts as the case list's scope. */
struct events_scope {
	enum auth_role role;
	char street_code[STORE_CODE_MAX]; /* street dispatcher, grid worker: their street */
	char unit_code[STORE_CODE_MAX];   /* unit staff: their unit */
	int64_t user_id;                  /* citizen: their account (only cases they reported) */
};

/* What a subscriber is handed. */
enum events_item_kind {
	EVENTS_ITEM_EVENT,     /* an event in the subscriber's scope */
	EVENTS_ITEM_HEARTBEAT, /* nothing happened for a while (an SSE comment) */
	EVENTS_ITEM_RESYNC,    /* events were missed (replay too old or too big, or the bus fell
				  behind): the client should reload its lists */
};

struct events_item {
	enum events_item_kind kind;
	uint64_t seq;     /* the event's id (for a resync: the id the client is at now) */
	const char *type; /* the event's type, "resync", or "" for a heartbeat */
	const char *ref;  /* the case ref, "" if none */
	const char *sse;  /* the item as one Server-Sent Events frame ("id:", "event:", "data:" lines
			     and a blank line), ready to write as is; not NUL-terminated */
	size_t sse_len;   /* bytes in sse */
};

/* Hands one item to a subscriber. Runs on the dispatcher thread (or, for replay, on the thread
 * calling events_subscribe) and must not block: copy and return. Returns 0 when taken; non-zero
 * when the subscriber cannot take it (its buffer is full, it is closed): then the bus counts a
 * drop and delivers nothing more to it (it must still be unsubscribed). */
typedef int (*events_deliver_fn)(void *ctx, const struct events_item *it);
/* Called exactly once after events_unsubscribe (or by events_free), when no delivery is in
 * progress and none will follow: the subscriber's memory may be freed here. */
typedef void (*events_release_fn)(void *ctx);

struct events_config {
	size_t ring;             /* events kept; 0 = EVENTS_RING_DEFAULT */
	unsigned heartbeat_ms;   /* 0 = EVENTS_HEARTBEAT_MS_DEFAULT */
	size_t replay_max;       /* bytes; 0 = EVENTS_REPLAY_MAX_DEFAULT */
	uint64_t first_seq;      /* id of the first event; 0 = unix seconds x 1,000,000, so ids keep
				    growing across restarts and an id from before one means resync */
};

/* A running bus (its dispatcher thread started). cfg may be NULL for the defaults. Never NULL. */
struct events *events_new(const struct events_config *cfg);
/* Stops the dispatcher, releases every remaining subscriber (release_fn) and frees. Stop the
 * HTTP server first, so no stream unsubscribes afterwards. NULL is fine. */
void events_free(struct events *bus);

/* Publishes one event: assigns the next id, keeps it in the ring and wakes the dispatcher.
 * Never waits for subscribers (one short lock); safe from any thread. CD_ERR_INVALID when kind
 * or type is missing, too long or holds a control character; CD_ERR_TOOBIG for a payload over
 * EVENTS_PAYLOAD_MAX. *seq_out (may be NULL) gets the id. */
enum cd_err events_publish(struct events *bus, const struct event_msg *m, uint64_t *seq_out) CD_MUST_CHECK;

/* Subscribes: from now on every event within `scope` is delivered, in order. With last_id > 0
 * (Last-Event-ID), the events after it still in the ring are delivered first, on this thread,
 * if they fit in cfg.replay_max bytes; when they do not, or last_id is older than the ring or
 * unknown, one EVENTS_ITEM_RESYNC is delivered instead. *out is the handle for unsubscribe. */
enum cd_err events_subscribe(struct events *bus, const struct events_scope *scope, uint64_t last_id,
			     events_deliver_fn deliver, events_release_fn release, void *ctx,
			     struct events_sub **out) CD_MUST_CHECK;
/* Ends a subscription: exactly once per subscribe, from any thread (also from inside an HTTP
 * on_close). Never blocks on delivery: release_fn follows from the dispatcher thread. */
void events_unsubscribe(struct events *bus, struct events_sub *sub);

/* Whether an event about a place (street, unit) reported by reporter_user_id is visible to
 * `scope`: workflow_in_scope's rule (admin, district dispatcher, auditor, system: all; street
 * dispatcher, grid worker: their street; unit staff: their unit; citizen: their own). */
bool events_in_scope(const struct events_scope *scope, const char *street_code, const char *unit_code,
		     int64_t reporter_user_id);

/* Counters since events_new. */
struct events_stats {
	uint64_t published;    /* events accepted */
	uint64_t delivered;    /* items handed to subscribers (events, replays, heartbeats) */
	uint64_t dropped;      /* deliveries refused by a full or closed subscriber */
	uint64_t lost;         /* events overwritten in the ring before the dispatcher got to them */
	uint64_t replayed;     /* events delivered as replay */
	uint64_t resyncs;      /* resync items delivered */
	uint64_t subscribers;  /* subscribed now */
	uint64_t last_seq;     /* id of the newest event, 0 if none */
};
void events_get_stats(struct events *bus, struct events_stats *out);
/* Appends the counters as Prometheus text (citydesk_events_*), for the app's metrics hook. */
enum cd_err events_metrics(struct events *bus, struct buf *out) CD_MUST_CHECK;

/* The event type for a case after workflow action `a`, past tense ("case.registered",
 * "case.dispatched", "case.extension_requested", ...; the table is in docs/internals/events.md).
 * Besides these, intake publishes "case.created" and the deadline scheduler "case.warned"
 * (yellow) and "case.overdue" (red). "case.updated" for an unknown action. */
const char *events_action_type(enum workflow_action a);

/* Builds and publishes the event of a changed case (`type` as in event_msg, e.g.
 * "case.created"): scope from its street, unit and reporter; the payload is the case's public
 * summary (id, status, category, street, community, grid, unit, urgency, level, deadline,
 * warned, overdue, supervised, version, channel, title, point, times), never the reporter's
 * name or phone. Failures are logged, never returned: intake must not fail on them. NULL bus
 * or case does nothing. */
void events_case(struct events *bus, const char *type, const struct store_case *c);

#endif
