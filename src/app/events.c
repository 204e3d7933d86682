/* The event bus: a ring of refcounted, pre-rendered events (one short lock to publish) and one
 * dispatcher thread that fans them out to subscribers under a second lock, so a publisher
 * never waits for a subscriber and a subscriber never sees another's scope. See events.h for
 * the contract and docs/internals/events.md for the design.
 *
 * Locks: `mu` guards the ring and the wake-up flags (publishers, briefly); `subs_mu` guards the
 * subscriber list and `done`, and is held while delivering (dispatcher, replay). Order: subs_mu
 * before mu; the dispatcher never holds both. Deliver callbacks run under subs_mu and must not
 * block; unsubscribe takes only `mu`, so it is safe from anywhere, including from a callback of
 * the HTTP layer that a delivery triggered. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/events.h"
#include "core/workflow.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

#define ID_ROOM 32 /* bytes kept in front of a frame for its "id: N\n" line */
#define BATCH 256  /* events the dispatcher takes per round */
#define COALESCE_NS 1000000L /* after a wake-up the dispatcher waits this long for more events:
				one wake-up (a futex call for the publisher) per millisecond, not per event */

static const char heartbeat_frame[] = ": heartbeat\n\n";

/* One published event, immutable once in the ring; freed with its last reference. */
struct events_rec {
	atomic_uint refs;                /* the ring's, plus one per dispatcher batch or replay */
	uint64_t seq;                    /* its id */
	char type[EVENTS_TYPE_MAX];
	char ref[STORE_CASE_REF_MAX + 24]; /* case ref or alert id (cut to fit) */
	char street[STORE_CODE_MAX];     /* for scope */
	char unit[STORE_CODE_MAX];       /* for scope */
	int64_t reporter;                /* for scope */
	const char *sse;                 /* the frame, inside buf */
	size_t sse_len;
	char buf[];                      /* ID_ROOM bytes, then the frame from "event:" on */
};

struct events_sub {
	struct events_scope scope;   /* what it may see */
	events_deliver_fn deliver;
	events_release_fn release;
	void *ctx;
	int dead;                    /* a delivery failed: deliver nothing more (under subs_mu) */
	uint64_t from;               /* only events after this seq: its Last-Event-ID, or the
				      * newest seq when it subscribed */
	atomic_int unsubscribed;     /* events_unsubscribe was called */
	struct events_sub *next;     /* bus->subs, under subs_mu */
};

struct events {
	struct events_config cfg;    /* defaults filled in */
	pthread_mutex_t mu;          /* ring, head, stop, sweep */
	pthread_cond_t cond;         /* wakes the dispatcher (monotonic clock) */
	struct events_rec **ring;    /* cfg.ring slots; event seq lives in slot seq % cfg.ring */
	uint64_t head;               /* newest seq, cfg.first_seq - 1 before the first */
	int stop;                    /* events_free asks the dispatcher to end */
	int sweep;                   /* some subscriber unsubscribed */
	int idle;                    /* the dispatcher waits on cond: the next publish signals */
	int skip;                    /* a first subscriber moved `done` to head: the dispatcher's
				      * cursor follows (events_subscribe) */
	pthread_mutex_t subs_mu;     /* subs and done; held while delivering */
	struct events_sub *subs;     /* subscribers not yet released */
	uint64_t done;               /* newest seq fanned out to every subscriber */
	pthread_t thread;            /* the dispatcher */
	atomic_uint_fast64_t published, delivered, dropped, lost, replayed, resyncs, nsubs;
};

/* ---- records ---- */

static void rec_unref(struct events_rec *r)
{
	if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		xfree(r);
}

static bool valid_word(const char *s, size_t cap)
{
	if (!s || !*s || strlen(s) >= cap)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Builds the record for m without its id: "event: T\n", one "data:" line per payload line
 * (SSE ends lines at CR, LF or CRLF), then the blank line. */
static struct events_rec *rec_build(const struct event_msg *m, const char *payload, size_t plen)
{
	/* Line breaks are rare (a case's payload has none): runs between them are found with
	 * strcspn and copied whole. */
	size_t lines = 1;
	for (size_t i = strcspn(payload, "\r\n"); i < plen; i += 1 + strcspn(payload + i + 1, "\r\n"))
		if (payload[i] == '\n' || (payload[i] == '\r' && (i + 1 == plen || payload[i + 1] != '\n')))
			lines++;
	size_t tlen = strlen(m->type);
	size_t body = 7 + tlen + 1 + plen + lines * 7 + 1;
	struct events_rec *r = xmalloc(sizeof *r + ID_ROOM + body + 1);
	atomic_init(&r->refs, 1);
	r->seq = 0;
	str_copy(r->type, sizeof r->type, m->type);
	str_copy(r->ref, sizeof r->ref, m->ref);
	str_copy(r->street, sizeof r->street, m->street_code);
	str_copy(r->unit, sizeof r->unit, m->unit_code);
	r->reporter = m->reporter_user_id;
	char *p = r->buf + ID_ROOM;
	memcpy(p, "event: ", 7);
	p += 7;
	memcpy(p, m->type, tlen);
	p += tlen;
	*p++ = '\n';
	memcpy(p, "data: ", 6);
	p += 6;
	for (size_t i = 0; i < plen;) {
		size_t run = strcspn(payload + i, "\r\n");
		memcpy(p, payload + i, run);
		p += run;
		i += run;
		if (i == plen)
			break;
		if (payload[i] == '\r' && i + 1 < plen && payload[i + 1] == '\n')
			i++;
		i++;
		memcpy(p, "\ndata: ", 7);
		p += 7;
	}
	*p++ = '\n';
	*p++ = '\n';
	*p = '\0';
	r->sse_len = (size_t)(p - (r->buf + ID_ROOM));
	return r;
}

/* The oldest seq still in the ring. Under mu. */
static uint64_t ring_oldest(const struct events *bus)
{
	uint64_t first = bus->cfg.first_seq;
	return bus->head >= first + bus->cfg.ring ? bus->head - bus->cfg.ring + 1 : first;
}

enum cd_err events_publish(struct events *bus, const struct event_msg *m, uint64_t *seq_out)
{
	if (!valid_word(m->kind, 16) || !valid_word(m->type, EVENTS_TYPE_MAX))
		return CD_ERR_INVALID;
	const char *payload = m->payload ? m->payload : "{}";
	size_t plen = strlen(payload);
	if (plen > EVENTS_PAYLOAD_MAX)
		return CD_ERR_TOOBIG;
	struct events_rec *r = rec_build(m, payload, plen);
	char idl[ID_ROOM];
	pthread_mutex_lock(&bus->mu);
	uint64_t seq = ++bus->head;
	int n = snprintf(idl, sizeof idl, "id: %" PRIu64 "\n", seq);
	r->seq = seq;
	memcpy(r->buf + ID_ROOM - n, idl, (size_t)n);
	r->sse = r->buf + ID_ROOM - n;
	r->sse_len += (size_t)n;
	struct events_rec **slot = &bus->ring[seq % bus->cfg.ring];
	struct events_rec *old = *slot;
	*slot = r;
	/* With nobody subscribed the dispatcher is left asleep: a wake per case was a futex call
	 * here and a context switch there, for nothing (dispatcher_main catches up). */
	if (bus->idle && atomic_load_explicit(&bus->nsubs, memory_order_relaxed)) {
		bus->idle = 0;
		pthread_cond_signal(&bus->cond);
	}
	pthread_mutex_unlock(&bus->mu);
	rec_unref(old);
	atomic_fetch_add_explicit(&bus->published, 1, memory_order_relaxed);
	if (seq_out)
		*seq_out = seq;
	return CD_OK;
}

/* ---- scope and delivery ---- */

bool events_in_scope(const struct events_scope *scope, const char *street_code, const char *unit_code,
		     int64_t reporter_user_id)
{
	struct workflow_scope ws = {
		.caller_street = scope->street_code[0] ? scope->street_code : NULL,
		.caller_unit = scope->unit_code[0] ? scope->unit_code : NULL,
		.case_street = street_code && *street_code ? street_code : NULL,
		.case_unit = unit_code && *unit_code ? unit_code : NULL,
		.is_reporter = scope->user_id != 0 && scope->user_id == reporter_user_id,
	};
	return workflow_in_scope(scope->role, &ws);
}

/* Hands `it` to s unless it is dead or gone. Under subs_mu. */
static void deliver(struct events *bus, struct events_sub *s, const struct events_item *it)
{
	if (s->dead || atomic_load_explicit(&s->unsubscribed, memory_order_relaxed))
		return;
	if (s->deliver(s->ctx, it)) {
		s->dead = 1;
		atomic_fetch_add_explicit(&bus->dropped, 1, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&bus->delivered, 1, memory_order_relaxed);
	}
}

static void deliver_rec(struct events *bus, struct events_sub *s, const struct events_rec *r)
{
	if (r->seq <= s->from || !events_in_scope(&s->scope, r->street, r->unit, r->reporter))
		return;
	struct events_item it = {EVENTS_ITEM_EVENT, r->seq, r->type, r->ref, r->sse, r->sse_len};
	deliver(bus, s, &it);
}

/* A resync item telling the client it is now at `seq`. */
static void deliver_resync(struct events *bus, struct events_sub *s, uint64_t seq, const char *reason)
{
	char frame[160];
	int n = snprintf(frame, sizeof frame, "id: %" PRIu64 "\nevent: resync\ndata: {\"reason\":\"%s\"}\n\n", seq,
			 reason);
	struct events_item it = {EVENTS_ITEM_RESYNC, seq, "resync", "", frame, (size_t)n};
	uint64_t before = atomic_load_explicit(&bus->dropped, memory_order_relaxed);
	deliver(bus, s, &it);
	if (atomic_load_explicit(&bus->dropped, memory_order_relaxed) == before && !s->dead)
		atomic_fetch_add_explicit(&bus->resyncs, 1, memory_order_relaxed);
}

/* ---- the dispatcher ---- */

static bool reached(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *dispatcher_main(void *arg)
{
	struct events *bus = arg;
	struct events_rec *batch[BATCH];
	struct timespec next_hb;
	clock_gettime(CLOCK_MONOTONIC, &next_hb);
	clock_add_ms(&next_hb, bus->cfg.heartbeat_ms);
	uint64_t cursor = bus->cfg.first_seq - 1; /* newest seq taken from the ring */
	pthread_mutex_lock(&bus->mu);
	for (;;) {
		int waited = 0;
		while (!bus->stop && bus->head == cursor && !bus->sweep && !reached(&next_hb)) {
			bus->idle = 1;
			pthread_cond_timedwait(&bus->cond, &bus->mu, &next_hb);
			waited = 1;
		}
		bus->idle = 0;
		if (bus->stop)
			break;
		/* Publishes do not wake us while nobody is subscribed (events_publish): what they
		 * left is skipped, here or by the first subscriber (under mu and subs_mu, before its
		 * replay reads `done`). */
		if (bus->skip) {
			bus->skip = 0;
			if (cursor < bus->done)
				cursor = bus->done;
		}
		if (!atomic_load(&bus->nsubs) && cursor < bus->head) {
			cursor = bus->head;
			bus->done = cursor;
		}
		if (waited && bus->head - cursor < BATCH) {
			/* woken by a publish: let a few more arrive before fanning out */
			pthread_mutex_unlock(&bus->mu);
			struct timespec ts = {0, COALESCE_NS};
			nanosleep(&ts, NULL);
			pthread_mutex_lock(&bus->mu);
			if (bus->stop)
				break;
		}
		uint64_t oldest = ring_oldest(bus), lost = 0;
		if (cursor + 1 < oldest) { /* publishers outran us by more than the ring */
			lost = oldest - 1 - cursor;
			cursor = oldest - 1;
		}
		uint64_t resync_at = cursor;
		size_t n = 0;
		while (n < BATCH && cursor < bus->head) {
			struct events_rec *r = bus->ring[(cursor + 1) % bus->cfg.ring];
			atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
			batch[n++] = r;
			cursor++;
		}
		int sweep = bus->sweep;
		bus->sweep = 0;
		int hb = reached(&next_hb);
		if (hb) {
			clock_gettime(CLOCK_MONOTONIC, &next_hb);
			clock_add_ms(&next_hb, bus->cfg.heartbeat_ms);
		}
		pthread_mutex_unlock(&bus->mu);

		struct events_sub *released = NULL;
		pthread_mutex_lock(&bus->subs_mu);
		if (lost) {
			atomic_fetch_add_explicit(&bus->lost, lost, memory_order_relaxed);
			for (struct events_sub *s = bus->subs; s; s = s->next)
				deliver_resync(bus, s, resync_at, "lagged");
		}
		for (size_t i = 0; i < n; i++)
			for (struct events_sub *s = bus->subs; s; s = s->next)
				deliver_rec(bus, s, batch[i]);
		if (hb) {
			struct events_item it = {EVENTS_ITEM_HEARTBEAT, 0, "", "", heartbeat_frame,
						 sizeof heartbeat_frame - 1};
			for (struct events_sub *s = bus->subs; s; s = s->next)
				deliver(bus, s, &it);
		}
		bus->done = cursor;
		if (sweep) {
			for (struct events_sub **pp = &bus->subs; *pp;) {
				struct events_sub *s = *pp;
				if (atomic_load(&s->unsubscribed)) {
					*pp = s->next;
					s->next = released;
					released = s;
				} else {
					pp = &s->next;
				}
			}
		}
		pthread_mutex_unlock(&bus->subs_mu);
		while (released) {
			struct events_sub *s = released;
			released = s->next;
			atomic_fetch_sub_explicit(&bus->nsubs, 1, memory_order_relaxed);
			if (s->release)
				s->release(s->ctx);
			xfree(s);
		}
		for (size_t i = 0; i < n; i++)
			rec_unref(batch[i]);
		pthread_mutex_lock(&bus->mu);
	}
	pthread_mutex_unlock(&bus->mu);
	return NULL;
}

/* ---- lifecycle and subscriptions ---- */

struct events *events_new(const struct events_config *cfg)
{
	struct events *bus = xcalloc(1, sizeof *bus);
	if (cfg)
		bus->cfg = *cfg;
	if (!bus->cfg.ring)
		bus->cfg.ring = EVENTS_RING_DEFAULT;
	if (!bus->cfg.heartbeat_ms)
		bus->cfg.heartbeat_ms = EVENTS_HEARTBEAT_MS_DEFAULT;
	if (!bus->cfg.replay_max)
		bus->cfg.replay_max = EVENTS_REPLAY_MAX_DEFAULT;
	if (!bus->cfg.first_seq)
		bus->cfg.first_seq = (uint64_t)time(NULL) * 1000000u;
	bus->ring = xcalloc(bus->cfg.ring, sizeof *bus->ring);
	bus->head = bus->cfg.first_seq - 1;
	bus->done = bus->head;
	pthread_mutex_init(&bus->mu, NULL);
	pthread_mutex_init(&bus->subs_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bus->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&bus->thread, NULL, dispatcher_main, bus) != 0) {
		/* without a thread nothing would ever be delivered: that is a broken process */
		log_error("cannot start the event dispatcher", "\"errno\":%d", errno);
		abort();
	}
	return bus;
}

void events_free(struct events *bus)
{
	if (!bus)
		return;
	pthread_mutex_lock(&bus->mu);
	bus->stop = 1;
	pthread_cond_signal(&bus->cond);
	pthread_mutex_unlock(&bus->mu);
	pthread_join(bus->thread, NULL);
	while (bus->subs) {
		struct events_sub *s = bus->subs;
		bus->subs = s->next;
		if (s->release)
			s->release(s->ctx);
		xfree(s);
	}
	for (size_t i = 0; i < bus->cfg.ring; i++)
		rec_unref(bus->ring[i]);
	xfree(bus->ring);
	pthread_mutex_destroy(&bus->mu);
	pthread_mutex_destroy(&bus->subs_mu);
	pthread_cond_destroy(&bus->cond);
	xfree(bus);
}

enum cd_err events_subscribe(struct events *bus, const struct events_scope *scope, uint64_t last_id,
			     events_deliver_fn deliver_fn, events_release_fn release, void *ctx,
			     struct events_sub **out)
{
	*out = NULL;
	if (!scope || !deliver_fn || (unsigned)scope->role >= ROLE_COUNT)
		return CD_ERR_INVALID;
	struct events_sub *s = xcalloc(1, sizeof *s);
	s->scope = *scope;
	s->scope.street_code[sizeof s->scope.street_code - 1] = '\0';
	s->scope.unit_code[sizeof s->scope.unit_code - 1] = '\0';
	s->deliver = deliver_fn;
	s->release = release;
	s->ctx = ctx;
	/* Under both locks: the dispatcher is between batches (every event up to `done` has gone
	 * to the existing subscribers, every later one will go to this one too), and the count
	 * goes up before `done` is read (see dispatcher_main). Publishes wake the dispatcher for
	 * what follows, now that somebody is subscribed. */
	struct events_rec **replay = NULL;
	size_t n = 0, bytes = 0;
	const char *resync = NULL;
	pthread_mutex_lock(&bus->subs_mu);
	pthread_mutex_lock(&bus->mu);
	if (atomic_fetch_add(&bus->nsubs, 1) == 0) {
		bus->done = bus->head;
		bus->skip = 1;
	}
	s->from = last_id ? last_id : bus->head;
	uint64_t done = bus->done;
	if (last_id) { /* replay (last_id, done] */
		if (last_id > bus->head)
			resync = "unknown_id";
		else if (last_id + 1 < ring_oldest(bus))
			resync = "too_old";
		else if (last_id < done)
			replay = xcalloc((size_t)(done - last_id), sizeof *replay);
	}
	for (uint64_t seq = last_id + 1; replay && !resync && seq <= done; seq++) {
		struct events_rec *r = bus->ring[seq % bus->cfg.ring];
		if (!events_in_scope(&s->scope, r->street, r->unit, r->reporter))
			continue;
		bytes += r->sse_len;
		if (bytes > bus->cfg.replay_max) {
			resync = "too_many";
			break;
		}
		atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
		replay[n++] = r;
	}
	pthread_mutex_unlock(&bus->mu);
	if (resync) {
		s->from = done; /* told it is at `done`: later events from there */
		deliver_resync(bus, s, done, resync);
	} else if (n) {
		for (size_t i = 0; i < n; i++)
			deliver_rec(bus, s, replay[i]);
		atomic_fetch_add_explicit(&bus->replayed, n, memory_order_relaxed);
	}
	for (size_t i = 0; i < n; i++)
		rec_unref(replay[i]);
	xfree(replay);
	s->next = bus->subs;
	bus->subs = s;
	pthread_mutex_unlock(&bus->subs_mu);
	*out = s;
	return CD_OK;
}

void events_unsubscribe(struct events *bus, struct events_sub *sub)
{
	if (!sub)
		return;
	atomic_store(&sub->unsubscribed, 1);
	pthread_mutex_lock(&bus->mu);
	bus->sweep = 1;
	bus->idle = 0;
	pthread_cond_signal(&bus->cond);
	pthread_mutex_unlock(&bus->mu);
}

/* ---- counters ---- */

void events_get_stats(struct events *bus, struct events_stats *out)
{
	out->published = atomic_load(&bus->published);
	out->delivered = atomic_load(&bus->delivered);
	out->dropped = atomic_load(&bus->dropped);
	out->lost = atomic_load(&bus->lost);
	out->replayed = atomic_load(&bus->replayed);
	out->resyncs = atomic_load(&bus->resyncs);
	out->subscribers = atomic_load(&bus->nsubs);
	pthread_mutex_lock(&bus->mu);
	out->last_seq = bus->head >= bus->cfg.first_seq ? bus->head : 0;
	pthread_mutex_unlock(&bus->mu);
}

enum cd_err events_metrics(struct events *bus, struct buf *out)
{
	struct events_stats st;
	events_get_stats(bus, &st);
	return buf_printf(out,
			  "# HELP citydesk_events_published_total Case and alert events published.\n"
			  "# TYPE citydesk_events_published_total counter\n"
			  "citydesk_events_published_total %" PRIu64 "\n"
			  "# HELP citydesk_events_delivered_total Items handed to subscribers (events, replays, heartbeats).\n"
			  "# TYPE citydesk_events_delivered_total counter\n"
			  "citydesk_events_delivered_total %" PRIu64 "\n"
			  "# HELP citydesk_events_dropped_total Deliveries refused by a slow or closed subscriber.\n"
			  "# TYPE citydesk_events_dropped_total counter\n"
			  "citydesk_events_dropped_total %" PRIu64 "\n"
			  "# HELP citydesk_events_lost_total Events overwritten before the dispatcher sent them.\n"
			  "# TYPE citydesk_events_lost_total counter\n"
			  "citydesk_events_lost_total %" PRIu64 "\n"
			  "# HELP citydesk_events_replayed_total Events replayed after a reconnect (Last-Event-ID).\n"
			  "# TYPE citydesk_events_replayed_total counter\n"
			  "citydesk_events_replayed_total %" PRIu64 "\n"
			  "# HELP citydesk_events_resyncs_total Resync notices sent instead of a replay.\n"
			  "# TYPE citydesk_events_resyncs_total counter\n"
			  "citydesk_events_resyncs_total %" PRIu64 "\n"
			  "# HELP citydesk_events_subscribers Event stream subscribers now.\n"
			  "# TYPE citydesk_events_subscribers gauge\n"
			  "citydesk_events_subscribers %" PRIu64 "\n",
			  st.published, st.delivered, st.dropped, st.lost, st.replayed, st.resyncs, st.subscribers);
}

/* ---- the case helpers ---- */

const char *events_action_type(enum workflow_action a)
{
	static const char *const types[WF_ACTION_COUNT] = {
		[WF_ACTION_REGISTER] = "case.registered",
		[WF_ACTION_REJECT] = "case.rejected",
		[WF_ACTION_DISPATCH] = "case.dispatched",
		[WF_ACTION_ACCEPT] = "case.accepted",
		[WF_ACTION_RETURN] = "case.returned",
		[WF_ACTION_HANDLE] = "case.handled",
		[WF_ACTION_VERIFY] = "case.verified",
		[WF_ACTION_CLOSE] = "case.closed",
		[WF_ACTION_RATE] = "case.rated",
		[WF_ACTION_REOPEN] = "case.reopened",
		[WF_ACTION_EXTEND_REQUEST] = "case.extension_requested",
		[WF_ACTION_EXTEND_APPROVE] = "case.extension_decided",
		[WF_ACTION_SUSPEND] = "case.suspended",
		[WF_ACTION_RESUME] = "case.resumed",
		[WF_ACTION_SUPERVISE] = "case.supervised",
		[WF_ACTION_ESCALATE] = "case.escalated",
		[WF_ACTION_MERGE] = "case.merged",
		[WF_ACTION_REASSIGN] = "case.reassigned",
		[WF_ACTION_UNMERGE] = "case.unmerged",
	};
	return (unsigned)a < WF_ACTION_COUNT && types[a] ? types[a] : "case.updated";
}

/* "key": the moment as ISO 8601 at UTC+8, or null when it has not happened (0). */
static void time_member(struct json_writer *w, const char *key, int64_t t)
{
	json_w_lit(w, key);
	if (!t) {
		json_w_lit(w, "null");
		return;
	}
	char iso[CLOCK_ISO_LEN];
	clock_iso_s(t, iso);
	json_w_raw(w, "\"", 1);
	json_w_raw(w, iso, CLOCK_ISO_LEN - 1);
	json_w_raw(w, "\"", 1);
}

/* "key": s, or null when s is empty. */
static void str_member(struct json_writer *w, const char *key, const char *s)
{
	json_w_lit(w, key);
	json_w_str_or_null(w, s);
}

void events_case(struct events *bus, const char *type, const struct store_case *c)
{
	if (!bus || !c || !type)
		return;
	/* Written straight into a buffer (json_w_*), byte for byte what json_pack and json_dumps
	 * printed before: every new case and every step publishes one of these. */
	struct buf b;
	buf_init(&b, EVENTS_PAYLOAD_MAX);
	struct json_writer w = {&b, buf_reserve(&b, 1024)}; /* a typical payload is ~600 bytes */
	json_w_lit(&w, "{\"type\":");
	json_w_str(&w, type);
	json_w_lit(&w, ",\"id\":");
	json_w_str(&w, c->ref);
	str_member(&w, ",\"status\":", c->status);
	str_member(&w, ",\"category\":", c->category_code);
	str_member(&w, ",\"street\":", c->street_code);
	str_member(&w, ",\"community\":", c->community_code);
	str_member(&w, ",\"grid\":", c->grid_code);
	str_member(&w, ",\"unit\":", c->unit_code);
	str_member(&w, ",\"urgency\":", c->urgency[0] ? c->urgency : "normal");
	str_member(&w, ",\"level\":", c->level[0] ? c->level : "community");
	time_member(&w, ",\"deadline\":", c->deadline);
	json_w_lit(&w, ",\"warned\":");
	json_w_bool(&w, c->warned != 0);
	json_w_lit(&w, ",\"overdue\":");
	json_w_bool(&w, c->overdue != 0);
	json_w_lit(&w, ",\"supervised\":");
	json_w_bool(&w, c->supervised != 0);
	json_w_lit(&w, ",\"version\":");
	json_w_int(&w, (long long)c->version);
	str_member(&w, ",\"channel\":", c->channel);
	str_member(&w, ",\"title\":", c->title);
	time_member(&w, ",\"reported_at\":", c->reported_at);
	time_member(&w, ",\"updated_at\":", c->updated_at);
	json_w_lit(&w, ",\"support_count\":");
	json_w_int(&w, (long long)(c->support_count ? c->support_count : 1));
	if (c->has_point) {
		json_w_lit(&w, ",\"lat\":");
		json_w_real(&w, c->lat);
		json_w_lit(&w, ",\"lng\":");
		json_w_real(&w, c->lng);
	}
	json_w_lit(&w, "}");
	if (w.rc) {
		buf_release(&b);
		log_warn("event not published: payload failed", "\"type\":\"%s\"", strpbrk(type, "\"\\") ? "?" : type);
		return;
	}
	const char *text = b.data;
	struct event_msg m = {
		.kind = "case",
		.type = type,
		.ref = c->ref,
		.street_code = c->street_code,
		.unit_code = c->unit_code,
		.reporter_user_id = c->reporter_user_id,
		.payload = text,
	};
	enum cd_err rc = events_publish(bus, &m, NULL);
	if (rc)
		log_warn("event not published", "\"type\":\"%s\",\"error\":\"%s\"", strpbrk(type, "\"\\") ? "?" : type,
			 cd_err_name(rc));
	buf_release(&b);
}
