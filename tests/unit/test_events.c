/* Tests for app/events: the scope rule per role, SSE frames, fan-out filtered by scope, slow
 * and blocked subscribers (publish never waits, drops and losses counted), replay from the
 * ring with Last-Event-ID and its resync cases, heartbeats, release after unsubscribe, order
 * under concurrent publishers, and the case helper's payload. Prints publish figures. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "app/events.h"
#include "test.h"
#include "util/alloc.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a recording subscriber ---- */

#define RX_MAX 70000

struct rx {
	pthread_mutex_t mu;
	uint64_t seq[RX_MAX];  /* ids of the events received, in order */
	char refs[4096];       /* "ref," for each event received (while it fits) */
	size_t n;              /* events received */
	int heartbeats;
	int resyncs;
	uint64_t resync_seq;   /* id of the last resync */
	char resync_frame[160];
	char last_frame[1024]; /* the last event frame, NUL-terminated */
	int fail_after;        /* refuse deliveries after this many events; -1 never */
	int refused;
	atomic_int released;   /* release calls */
	/* blocking: while `blocked`, deliveries wait (to stall the dispatcher on purpose) */
	int blocked;
	pthread_cond_t cond;
	atomic_int waiting;    /* a delivery is waiting on `blocked` */
};

static struct rx *rx_new(void)
{
	struct rx *r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->fail_after = -1;
	return r;
}

static void rx_free(struct rx *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	xfree(r);
}

static int rx_deliver(void *ctx, const struct events_item *it)
{
	struct rx *r = ctx;
	pthread_mutex_lock(&r->mu);
	while (r->blocked) {
		atomic_store(&r->waiting, 1);
		pthread_cond_wait(&r->cond, &r->mu);
	}
	atomic_store(&r->waiting, 0);
	int rc = 0;
	if (it->kind == EVENTS_ITEM_HEARTBEAT) {
		r->heartbeats++;
	} else if (it->kind == EVENTS_ITEM_RESYNC) {
		r->resyncs++;
		r->resync_seq = it->seq;
		snprintf(r->resync_frame, sizeof r->resync_frame, "%.*s", (int)it->sse_len, it->sse);
	} else if (r->fail_after >= 0 && r->n >= (size_t)r->fail_after) {
		r->refused++;
		rc = -1;
	} else if (r->n < RX_MAX) {
		r->seq[r->n++] = it->seq;
		size_t l = strlen(r->refs);
		if (l + strlen(it->ref) + 2 < sizeof r->refs)
			snprintf(r->refs + l, sizeof r->refs - l, "%s,", it->ref);
		snprintf(r->last_frame, sizeof r->last_frame, "%.*s", (int)it->sse_len, it->sse);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static void rx_release(void *ctx)
{
	struct rx *r = ctx;
	atomic_fetch_add(&r->released, 1);
}

static size_t rx_count(struct rx *r)
{
	pthread_mutex_lock(&r->mu);
	size_t n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* Waits until r has at least n events, up to 10 s (a bound against hanging). */
static int rx_wait(struct rx *r, size_t n)
{
	for (int i = 0; i < 5000; i++) {
		if (rx_count(r) >= n)
			return 1;
		sleep_ms(2);
	}
	return 0;
}

static int wait_flag(atomic_int *f, int want)
{
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(f) >= want)
			return 1;
		sleep_ms(2);
	}
	return 0;
}

/* Waits until the bus delivered everything published so far to r1 (via a sentinel-free
 * check: the stats' delivered counter stops moving is fragile, so callers wait on counts). */

static struct events_scope scope_of(enum auth_role role, const char *street, const char *unit, int64_t user)
{
	struct events_scope s = {.role = role, .user_id = user};
	snprintf(s.street_code, sizeof s.street_code, "%s", street ? street : "");
	snprintf(s.unit_code, sizeof s.unit_code, "%s", unit ? unit : "");
	return s;
}

static enum cd_err publish(struct events *bus, const char *ref, const char *street, const char *unit,
			   int64_t reporter)
{
	char payload[128];
	snprintf(payload, sizeof payload, "{\"id\":\"%s\"}", ref);
	struct event_msg m = {.kind = "case", .type = "case.created", .ref = ref, .street_code = street,
			      .unit_code = unit, .reporter_user_id = reporter, .payload = payload};
	return events_publish(bus, &m, NULL);
}

/* ---- tests ---- */

static void test_scope_rule(void)
{
	static const struct {
		enum auth_role role;
		const char *street, *unit;
		int64_t user;
		const char *ev_street, *ev_unit;
		int64_t reporter;
		bool visible;
	} cases[] = {
		{ROLE_ADMIN, NULL, NULL, 1, "S1", "U1", 9, true},
		{ROLE_ADMIN, NULL, NULL, 1, NULL, NULL, 0, true},
		{ROLE_DISTRICT_DISPATCHER, NULL, NULL, 2, "S2", NULL, 0, true},
		{ROLE_AUDITOR, NULL, NULL, 3, NULL, "U9", 0, true},
		{ROLE_SYSTEM, NULL, NULL, 4, "S1", NULL, 0, true},
		{ROLE_STREET_DISPATCHER, "S1", NULL, 5, "S1", "U1", 0, true},
		{ROLE_STREET_DISPATCHER, "S1", NULL, 5, "S2", "U1", 0, false},
		{ROLE_STREET_DISPATCHER, "S1", NULL, 5, NULL, "U1", 0, false}, /* unplaced: not theirs */
		{ROLE_STREET_DISPATCHER, NULL, NULL, 5, "S1", NULL, 0, false}, /* no street of their own */
		{ROLE_GRID_WORKER, "S2", NULL, 6, "S2", NULL, 0, true},
		{ROLE_GRID_WORKER, "S2", NULL, 6, "S1", NULL, 6, false},
		{ROLE_UNIT_STAFF, NULL, "U1", 7, "S1", "U1", 0, true},
		{ROLE_UNIT_STAFF, NULL, "U1", 7, "S1", "U2", 0, false},
		{ROLE_UNIT_STAFF, NULL, "U1", 7, "S1", NULL, 0, false},
		{ROLE_CITIZEN, NULL, NULL, 42, "S1", "U1", 42, true},
		{ROLE_CITIZEN, NULL, NULL, 42, "S1", "U1", 43, false},
		{ROLE_CITIZEN, NULL, NULL, 0, "S1", "U1", 0, false}, /* no account: nothing */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct events_scope s = scope_of(cases[i].role, cases[i].street, cases[i].unit, cases[i].user);
		bool got = events_in_scope(&s, cases[i].ev_street, cases[i].ev_unit, cases[i].reporter);
		if (got != cases[i].visible)
			fprintf(stderr, "  scope row %zu\n", i);
		CHECK_INT_EQ(got, cases[i].visible);
	}
}

static void test_publish_refuses_bad_messages(void)
{
	struct events_config cfg = {.first_seq = 1};
	struct events *bus = events_new(&cfg);
	struct event_msg m = {.kind = "case", .type = "case.created", .payload = "{}"};
	uint64_t seq = 0;
	CHECK_INT_EQ(events_publish(bus, &m, &seq), CD_OK);
	CHECK_INT_EQ(seq, 1);
	m.type = NULL;
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_ERR_INVALID);
	m.type = "";
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_ERR_INVALID);
	m.type = "case.created\nevent: forged";
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_ERR_INVALID);
	m.type = "case.created";
	m.kind = NULL;
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_ERR_INVALID);
	m.kind = "case";
	char *big = xmalloc(EVENTS_PAYLOAD_MAX + 2);
	memset(big, 'x', EVENTS_PAYLOAD_MAX + 1);
	big[EVENTS_PAYLOAD_MAX + 1] = '\0';
	m.payload = big;
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_ERR_TOOBIG);
	big[EVENTS_PAYLOAD_MAX] = '\0'; /* exactly at the cap is fine */
	CHECK_INT_EQ(events_publish(bus, &m, &seq), CD_OK);
	CHECK_INT_EQ(seq, 2);
	xfree(big);
	struct events_stats st;
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.published, 2);
	CHECK_INT_EQ(st.last_seq, 2);
	events_free(bus);
}

static void test_frames(void)
{
	struct events_config cfg = {.first_seq = 500};
	struct events *bus = events_new(&cfg);
	struct rx *r = rx_new();
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	struct events_sub *sub;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, r, &sub), CD_OK);
	struct event_msg m = {.kind = "case", .type = "case.dispatched", .ref = "LH1", .payload = "{\"a\":1}"};
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_OK);
	CHECK(rx_wait(r, 1));
	CHECK_STR_EQ(r->last_frame, "id: 500\nevent: case.dispatched\ndata: {\"a\":1}\n\n");
	/* payload lines become data lines; CR, LF and CRLF all end a line; an event with no
	 * payload sends {} */
	m.payload = "{\n\"a\":1,\r\n\"b\":2\r}";
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_OK);
	CHECK(rx_wait(r, 2));
	CHECK_STR_EQ(r->last_frame, "id: 501\nevent: case.dispatched\ndata: {\ndata: \"a\":1,\ndata: \"b\":2\ndata: }\n\n");
	m.payload = NULL;
	m.type = "alert.raised";
	m.kind = "alert";
	CHECK_INT_EQ(events_publish(bus, &m, NULL), CD_OK);
	CHECK(rx_wait(r, 3));
	CHECK_STR_EQ(r->last_frame, "id: 502\nevent: alert.raised\ndata: {}\n\n");
	events_unsubscribe(bus, sub);
	CHECK(wait_flag(&r->released, 1));
	events_free(bus);
	CHECK_INT_EQ(atomic_load(&r->released), 1);
	rx_free(r);
}

static void test_fan_out_by_scope(void)
{
	struct events_config cfg = {.first_seq = 1};
	struct events *bus = events_new(&cfg);
	enum { N = 7 };
	static const struct {
		enum auth_role role;
		const char *street, *unit;
		int64_t user;
		const char *want; /* refs received, in order */
	} subs[N] = {
		{ROLE_ADMIN, NULL, NULL, 1, "a,b,c,d,e,"},
		{ROLE_AUDITOR, NULL, NULL, 2, "a,b,c,d,e,"},
		{ROLE_STREET_DISPATCHER, "S1", NULL, 3, "a,c,"},
		{ROLE_GRID_WORKER, "S2", NULL, 4, "b,"},
		{ROLE_UNIT_STAFF, NULL, "U1", 5, "a,b,"},
		{ROLE_CITIZEN, NULL, NULL, 42, "c,e,"},
		{ROLE_CITIZEN, NULL, NULL, 43, ""},
	};
	struct rx *r[N];
	struct events_sub *sub[N];
	for (int i = 0; i < N; i++) {
		r[i] = rx_new();
		struct events_scope s = scope_of(subs[i].role, subs[i].street, subs[i].unit, subs[i].user);
		CHECK_INT_EQ(events_subscribe(bus, &s, 0, rx_deliver, rx_release, r[i], &sub[i]), CD_OK);
	}
	CHECK_INT_EQ(publish(bus, "a", "S1", "U1", 0), CD_OK);
	CHECK_INT_EQ(publish(bus, "b", "S2", "U1", 0), CD_OK);
	CHECK_INT_EQ(publish(bus, "c", "S1", "U2", 42), CD_OK);
	CHECK_INT_EQ(publish(bus, "d", NULL, NULL, 0), CD_OK); /* unplaced: admins and auditors */
	CHECK_INT_EQ(publish(bus, "e", "S3", NULL, 42), CD_OK);
	CHECK(rx_wait(r[0], 5)); /* the admin sees everything, so the rest has been delivered too */
	for (int i = 0; i < N; i++) {
		pthread_mutex_lock(&r[i]->mu);
		CHECK_STR_EQ(r[i]->refs, subs[i].want);
		pthread_mutex_unlock(&r[i]->mu);
	}
	struct events_stats st;
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.subscribers, N);
	CHECK_INT_EQ(st.delivered, 5 + 5 + 2 + 1 + 2 + 2);
	for (int i = 0; i < N; i++)
		events_unsubscribe(bus, sub[i]);
	for (int i = 0; i < N; i++)
		CHECK(wait_flag(&r[i]->released, 1));
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.subscribers, 0);
	/* after release nothing more is delivered */
	CHECK_INT_EQ(publish(bus, "f", "S1", "U1", 42), CD_OK);
	sleep_ms(20);
	CHECK_INT_EQ(rx_count(r[0]), 5);
	events_free(bus);
	for (int i = 0; i < N; i++) {
		CHECK_INT_EQ(atomic_load(&r[i]->released), 1);
		rx_free(r[i]);
	}
}

static void test_slow_subscriber_dropped_others_unaffected(void)
{
	struct events_config cfg = {.first_seq = 1};
	struct events *bus = events_new(&cfg);
	struct rx *slow = rx_new(), *ok = rx_new();
	slow->fail_after = 3; /* its buffer is "full" after three events */
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	struct events_sub *s1, *s2;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, slow, &s1), CD_OK);
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, ok, &s2), CD_OK);
	for (int i = 0; i < 10; i++) {
		char ref[16];
		snprintf(ref, sizeof ref, "r%d", i);
		CHECK_INT_EQ(publish(bus, ref, "S1", NULL, 0), CD_OK);
	}
	CHECK(rx_wait(ok, 10));
	CHECK_INT_EQ(rx_count(slow), 3);
	CHECK_INT_EQ(slow->refused, 1); /* one refusal, then it is skipped */
	struct events_stats st;
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.dropped, 1);
	CHECK_INT_EQ(st.delivered, 13);
	/* dead but not yet unsubscribed: still counted, never released before unsubscribe */
	CHECK_INT_EQ(atomic_load(&slow->released), 0);
	events_unsubscribe(bus, s1);
	events_unsubscribe(bus, s2);
	CHECK(wait_flag(&slow->released, 1));
	events_free(bus);
	rx_free(slow);
	rx_free(ok);
}

static void test_publish_never_waits_for_a_stalled_dispatcher(void)
{
	struct events_config cfg = {.first_seq = 1, .ring = 64};
	struct events *bus = events_new(&cfg);
	struct rx *stuck = rx_new(), *other = rx_new();
	stuck->blocked = 1;
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	struct events_sub *s1, *s2;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, stuck, &s1), CD_OK);
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, other, &s2), CD_OK);
	CHECK_INT_EQ(publish(bus, "first", "S1", NULL, 0), CD_OK);
	CHECK(wait_flag(&stuck->waiting, 1)); /* the dispatcher is stuck inside a delivery */
	/* 10,000 publishes while it is stuck: each returns at once, the ring (64) wraps */
	double t0 = now_s();
	int failures = 0;
	for (int i = 0; i < 10000; i++)
		failures += publish(bus, "x", "S1", NULL, 0) != CD_OK;
	double took = now_s() - t0;
	CHECK_INT_EQ(failures, 0);
	printf("  10000 publishes with the dispatcher stalled: %.0f ns each\n", took * 1e9 / 10000);
	pthread_mutex_lock(&stuck->mu);
	stuck->blocked = 0;
	pthread_cond_broadcast(&stuck->cond);
	pthread_mutex_unlock(&stuck->mu);
	/* the dispatcher skips what the ring lost, tells everyone to resync, sends the rest */
	CHECK(rx_wait(other, 1 + 64));
	struct events_stats st;
	for (int i = 0; i < 500; i++) {
		events_get_stats(bus, &st);
		if (st.lost + 64 + 1 >= 10001 && rx_count(other) >= 65)
			break;
		sleep_ms(2);
	}
	CHECK_INT_EQ(st.lost, 10001 - 1 - 64);
	pthread_mutex_lock(&other->mu);
	CHECK_INT_EQ(other->resyncs, 1);
	CHECK_INT_EQ(other->resync_seq, 10001 - 64);
	CHECK(strstr(other->resync_frame, "event: resync\n") != NULL);
	CHECK(strstr(other->resync_frame, "\"reason\":\"lagged\"") != NULL);
	CHECK_INT_EQ(other->n, 65);
	CHECK_INT_EQ(other->seq[1], 10001 - 63); /* the oldest still in the ring */
	CHECK_INT_EQ(other->seq[64], 10001);
	pthread_mutex_unlock(&other->mu);
	events_unsubscribe(bus, s1);
	events_unsubscribe(bus, s2);
	events_free(bus);
	CHECK_INT_EQ(atomic_load(&stuck->released), 1);
	CHECK_INT_EQ(atomic_load(&other->released), 1);
	rx_free(stuck);
	rx_free(other);
}

static void test_replay(void)
{
	struct events_config cfg = {.first_seq = 1000, .ring = 16, .replay_max = 4096};
	struct events *bus = events_new(&cfg);
	struct rx *probe = rx_new();
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	struct events_sub *ps;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, probe, &ps), CD_OK);
	for (int i = 0; i < 10; i++) {
		char ref[16];
		snprintf(ref, sizeof ref, "e%d", 1000 + i);
		CHECK_INT_EQ(publish(bus, ref, i % 2 ? "S2" : "S1", NULL, 0), CD_OK); /* ids 1000..1009 */
	}
	CHECK(rx_wait(probe, 10)); /* all dispatched */

	/* a street dispatcher of S1 that saw up to 1004 gets 1006 and 1008 (its street only) */
	struct rx *r = rx_new();
	struct events_scope s1 = scope_of(ROLE_STREET_DISPATCHER, "S1", NULL, 2);
	struct events_sub *sub;
	CHECK_INT_EQ(events_subscribe(bus, &s1, 1004, rx_deliver, rx_release, r, &sub), CD_OK);
	CHECK_STR_EQ(r->refs, "e1006,e1008,");
	CHECK_INT_EQ(r->resyncs, 0);
	/* and then the live ones, in order */
	CHECK_INT_EQ(publish(bus, "e1010", "S1", NULL, 0), CD_OK);
	CHECK(rx_wait(r, 3));
	CHECK_STR_EQ(r->refs, "e1006,e1008,e1010,");
	events_unsubscribe(bus, sub);

	/* up to date: nothing replayed, no resync */
	struct rx *r2 = rx_new();
	CHECK_INT_EQ(events_subscribe(bus, &all, 1010, rx_deliver, rx_release, r2, &sub), CD_OK);
	CHECK_INT_EQ(r2->n, 0);
	CHECK_INT_EQ(r2->resyncs, 0);
	events_unsubscribe(bus, sub);

	/* from before the ring's oldest (an id of an earlier process, say): resync */
	for (int i = 0; i < 10; i++)
		CHECK_INT_EQ(publish(bus, "later", "S1", NULL, 0), CD_OK); /* ids to 1020; ring keeps 1005.. */
	CHECK(rx_wait(probe, 21));
	struct rx *r3 = rx_new();
	CHECK_INT_EQ(events_subscribe(bus, &all, 1003, rx_deliver, rx_release, r3, &sub), CD_OK);
	CHECK_INT_EQ(r3->n, 0);
	CHECK_INT_EQ(r3->resyncs, 1);
	CHECK_INT_EQ(r3->resync_seq, 1020);
	CHECK(strstr(r3->resync_frame, "id: 1020\nevent: resync\n") == r3->resync_frame);
	CHECK(strstr(r3->resync_frame, "too_old") != NULL);
	events_unsubscribe(bus, sub);
	/* the oldest still kept is 1005, so a client at 1004 misses nothing */
	struct rx *r4 = rx_new();
	CHECK_INT_EQ(events_subscribe(bus, &all, 1004, rx_deliver, rx_release, r4, &sub), CD_OK);
	CHECK_INT_EQ(r4->n, 16);
	CHECK_INT_EQ(r4->resyncs, 0);
	events_unsubscribe(bus, sub);
	/* an id from the future: resync */
	struct rx *r5 = rx_new();
	CHECK_INT_EQ(events_subscribe(bus, &all, 99999, rx_deliver, rx_release, r5, &sub), CD_OK);
	CHECK_INT_EQ(r5->resyncs, 1);
	CHECK(strstr(r5->resync_frame, "unknown_id") != NULL);
	events_unsubscribe(bus, sub);

	struct events_stats st;
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.replayed, 2 + 16);
	CHECK_INT_EQ(st.resyncs, 2);
	events_unsubscribe(bus, ps);
	events_free(bus);
	struct rx *all_rx[] = {probe, r, r2, r3, r4, r5};
	for (size_t i = 0; i < sizeof all_rx / sizeof all_rx[0]; i++) {
		CHECK_INT_EQ(atomic_load(&all_rx[i]->released), 1);
		rx_free(all_rx[i]);
	}
}

/* With nobody subscribed, publishing does not wake the dispatcher (a futex call and a context
 * switch per case under load); it catches up when someone subscribes. A newcomer without
 * Last-Event-ID gets only what follows it, with no resync even after more than the ring went
 * by; one with Last-Event-ID gets exactly the events after it, replayed then live. */
static void test_nobody_subscribed(void)
{
	struct events_config cfg = {.first_seq = 1, .ring = 64, .replay_max = 1 << 20, .heartbeat_ms = 600000};
	struct events *bus = events_new(&cfg);
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	for (int i = 0; i < 200; i++) /* ids 1..200: more than the ring */
		CHECK_INT_EQ(publish(bus, "before", "S1", NULL, 0), CD_OK);
	struct rx *fresh = rx_new();
	struct events_sub *sf;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, fresh, &sf), CD_OK);
	CHECK_INT_EQ(publish(bus, "after", "S1", NULL, 0), CD_OK); /* id 201 */
	CHECK(rx_wait(fresh, 1));
	sleep_ms(50); /* time for anything else to (wrongly) arrive */
	CHECK_INT_EQ(rx_count(fresh), 1);
	CHECK_INT_EQ(fresh->seq[0], 201);
	CHECK_INT_EQ(fresh->resyncs, 0);
	events_unsubscribe(bus, sf);
	sleep_ms(50); /* swept: nobody subscribed again */

	for (int i = 0; i < 20; i++) /* ids 202..221, no wake */
		CHECK_INT_EQ(publish(bus, "gap", "S1", NULL, 0), CD_OK);
	struct rx *back = rx_new();
	struct events_sub *sb;
	CHECK_INT_EQ(events_subscribe(bus, &all, 210, rx_deliver, rx_release, back, &sb), CD_OK);
	CHECK_INT_EQ(publish(bus, "live", "S1", NULL, 0), CD_OK); /* id 222 */
	CHECK(rx_wait(back, 12));
	sleep_ms(50);
	CHECK_INT_EQ(rx_count(back), 12); /* 211..222, each once, in order */
	int in_order = 1;
	for (size_t i = 0; i < back->n; i++)
		in_order &= back->seq[i] == 211 + i;
	CHECK(in_order);
	CHECK_INT_EQ(back->resyncs, 0);
	struct events_stats st;
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.lost, 0);
	events_unsubscribe(bus, sb);
	events_free(bus);
	rx_free(fresh);
	rx_free(back);
}

static void test_replay_too_big_resyncs(void)
{
	struct events_config cfg = {.first_seq = 1, .ring = 1024, .replay_max = 1000};
	struct events *bus = events_new(&cfg);
	struct rx *probe = rx_new();
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	struct events_sub *ps, *sub;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, probe, &ps), CD_OK);
	for (int i = 0; i < 100; i++)
		CHECK_INT_EQ(publish(bus, "big", "S1", NULL, 0), CD_OK); /* ~60 bytes each */
	CHECK(rx_wait(probe, 100));
	struct rx *r = rx_new();
	CHECK_INT_EQ(events_subscribe(bus, &all, 10, rx_deliver, rx_release, r, &sub), CD_OK);
	CHECK_INT_EQ(r->n, 0);
	CHECK_INT_EQ(r->resyncs, 1);
	CHECK(strstr(r->resync_frame, "too_many") != NULL);
	/* a street with few events in the same window still replays */
	struct rx *r2 = rx_new();
	struct events_scope other = scope_of(ROLE_STREET_DISPATCHER, "S9", NULL, 2);
	struct events_sub *sub2;
	CHECK_INT_EQ(events_subscribe(bus, &other, 10, rx_deliver, rx_release, r2, &sub2), CD_OK);
	CHECK_INT_EQ(r2->resyncs, 0);
	CHECK_INT_EQ(r2->n, 0);
	events_unsubscribe(bus, sub);
	events_unsubscribe(bus, sub2);
	events_unsubscribe(bus, ps);
	events_free(bus);
	rx_free(probe);
	rx_free(r);
	rx_free(r2);
}

static void test_heartbeats(void)
{
	struct events_config cfg = {.first_seq = 1, .heartbeat_ms = 20};
	struct events *bus = events_new(&cfg);
	struct rx *r = rx_new();
	struct events_scope s = scope_of(ROLE_CITIZEN, NULL, NULL, 7);
	struct events_sub *sub;
	CHECK_INT_EQ(events_subscribe(bus, &s, 0, rx_deliver, rx_release, r, &sub), CD_OK);
	int beats = 0;
	for (int i = 0; i < 2500 && beats < 3; i++) {
		sleep_ms(4);
		pthread_mutex_lock(&r->mu);
		beats = r->heartbeats;
		pthread_mutex_unlock(&r->mu);
	}
	CHECK(beats >= 3); /* citizens with nothing in scope still get heartbeats */
	events_unsubscribe(bus, sub);
	events_free(bus);
	CHECK_INT_EQ(atomic_load(&r->released), 1);
	rx_free(r);
}

struct pub_arg {
	struct events *bus;
	int count;
	int failures;
};

static void *publisher_main(void *arg)
{
	struct pub_arg *p = arg;
	for (int i = 0; i < p->count; i++)
		p->failures += publish(p->bus, "p", i % 2 ? "S1" : "S2", "U1", 0) != CD_OK;
	return NULL;
}

static void test_concurrent_publishers_in_order(void)
{
	enum { PUBS = 4, EACH = 5000, SUBS = 3 };
	struct events_config cfg = {.first_seq = 1, .ring = 32768}; /* holds all: no loss possible */
	struct events *bus = events_new(&cfg);
	struct rx *r[SUBS];
	struct events_sub *sub[SUBS];
	struct events_scope scopes[SUBS] = {
		scope_of(ROLE_ADMIN, NULL, NULL, 1),
		scope_of(ROLE_STREET_DISPATCHER, "S1", NULL, 2),
		scope_of(ROLE_UNIT_STAFF, NULL, "U1", 3),
	};
	for (int i = 0; i < SUBS; i++) {
		r[i] = rx_new();
		CHECK_INT_EQ(events_subscribe(bus, &scopes[i], 0, rx_deliver, rx_release, r[i], &sub[i]), CD_OK);
	}
	struct pub_arg pa[PUBS];
	pthread_t t[PUBS];
	double t0 = now_s();
	for (int i = 0; i < PUBS; i++) {
		pa[i] = (struct pub_arg){bus, EACH, 0};
		pthread_create(&t[i], NULL, publisher_main, &pa[i]);
	}
	for (int i = 0; i < PUBS; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT_EQ(pa[i].failures, 0);
	}
	double pub_s = now_s() - t0;
	CHECK(rx_wait(r[0], PUBS * EACH));
	CHECK(rx_wait(r[2], PUBS * EACH));
	double all_s = now_s() - t0;
	printf("  %d publishes from %d threads: %.0f ns each; all delivered to %d subscribers after %.0f ms\n",
	       PUBS * EACH, PUBS, pub_s * 1e9 / (PUBS * EACH), SUBS, all_s * 1000);
	CHECK_INT_EQ(rx_count(r[0]), PUBS * EACH);
	CHECK_INT_EQ(rx_count(r[1]), PUBS * EACH / 2);
	CHECK_INT_EQ(rx_count(r[2]), PUBS * EACH);
	for (int i = 0; i < SUBS; i++) {
		int bad = 0;
		for (size_t k = 1; k < r[i]->n; k++)
			bad += r[i]->seq[k] <= r[i]->seq[k - 1];
		CHECK_INT_EQ(bad, 0);
		events_unsubscribe(bus, sub[i]);
	}
	struct events_stats st;
	events_get_stats(bus, &st);
	CHECK_INT_EQ(st.lost, 0);
	CHECK_INT_EQ(st.published, PUBS * EACH);
	events_free(bus);
	for (int i = 0; i < SUBS; i++)
		rx_free(r[i]);
}

static int count_deliver(void *ctx, const struct events_item *it)
{
	(void)it;
	atomic_fetch_add((atomic_int *)ctx, 1);
	return 0;
}

static void test_publish_cost_figure(void)
{
	/* figures only: publish cost with 0 and with 100 subscribers (the dispatcher does the fan-out) */
	for (int nsubs = 0; nsubs <= 100; nsubs += 100) {
		struct events_config cfg = {.first_seq = 1, .ring = 1024};
		struct events *bus = events_new(&cfg);
		atomic_int got = 0;
		struct events_sub **subs = xcalloc(nsubs ? (size_t)nsubs : 1, sizeof *subs);
		for (int i = 0; i < nsubs; i++) {
			struct events_scope s = scope_of(i % 2 ? ROLE_ADMIN : ROLE_STREET_DISPATCHER, "S1", NULL, i + 1);
			CHECK_INT_EQ(events_subscribe(bus, &s, 0, count_deliver, NULL, &got, &subs[i]), CD_OK);
		}
		char payload[400];
		memset(payload, 'a', sizeof payload - 1);
		payload[0] = '"';
		payload[sizeof payload - 2] = '"';
		payload[sizeof payload - 1] = '\0';
		struct event_msg m = {.kind = "case", .type = "case.created", .ref = "LH2026", .street_code = "S1",
				      .unit_code = "U1", .payload = payload};
		/* at 20,000 events/s (the intake goal): 20 per millisecond */
		enum { N = 20000 };
		double t0 = now_s(), busy = 0;
		int fails = 0;
		for (int i = 0; i < N; i += 20) {
			double b0 = now_s();
			for (int k = 0; k < 20; k++)
				fails += events_publish(bus, &m, NULL) != CD_OK;
			busy += now_s() - b0;
			sleep_ms(1);
		}
		double took = busy;
		CHECK_INT_EQ(fails, 0);
		struct events_stats st;
		for (int i = 0; i < 2500; i++) {
			events_get_stats(bus, &st);
			if (st.delivered + st.lost * (uint64_t)nsubs >= (uint64_t)N * (uint64_t)nsubs)
				break;
			sleep_ms(2);
		}
		double all = now_s() - t0;
		printf("  %d subscribers, 20 events per ms: publish %.0f ns each (400-byte payload); %llu deliveries, %llu lost to lag, %.0f ms\n",
		       nsubs, took * 1e9 / N, (unsigned long long)st.delivered, (unsigned long long)st.lost,
		       all * 1000);
		for (int i = 0; i < nsubs; i++)
			events_unsubscribe(bus, subs[i]);
		events_free(bus);
		xfree(subs);
	}
}

static void test_case_helper(void)
{
	struct events_config cfg = {.first_seq = 1};
	struct events *bus = events_new(&cfg);
	struct rx *citizen = rx_new(), *unit = rx_new(), *other = rx_new();
	struct events_scope sc = scope_of(ROLE_CITIZEN, NULL, NULL, 77);
	struct events_scope su = scope_of(ROLE_UNIT_STAFF, NULL, "440303001", 8);
	struct events_scope so = scope_of(ROLE_STREET_DISPATCHER, "440303999", NULL, 9);
	struct events_sub *s1, *s2, *s3;
	CHECK_INT_EQ(events_subscribe(bus, &sc, 0, rx_deliver, rx_release, citizen, &s1), CD_OK);
	CHECK_INT_EQ(events_subscribe(bus, &su, 0, rx_deliver, rx_release, unit, &s2), CD_OK);
	CHECK_INT_EQ(events_subscribe(bus, &so, 0, rx_deliver, rx_release, other, &s3), CD_OK);
	struct store_case *c = xcalloc(1, sizeof *c);
	snprintf(c->ref, sizeof c->ref, "LH20261127000123");
	snprintf(c->status, sizeof c->status, "dispatched");
	snprintf(c->street_code, sizeof c->street_code, "440303001");
	snprintf(c->unit_code, sizeof c->unit_code, "440303001");
	snprintf(c->title, sizeof c->title, "路灯不亮 \"quoted\"\n");
	snprintf(c->reporter_name, sizeof c->reporter_name, "张三");
	snprintf(c->reporter_phone, sizeof c->reporter_phone, "13812341234");
	c->reporter_user_id = 77;
	c->version = 3;
	c->deadline = 1796000000;
	c->has_point = 1;
	c->lat = 22.54;
	c->lng = 114.12;
	events_case(bus, "case.dispatched", c);
	events_case(NULL, "case.dispatched", c); /* no bus: nothing, no crash */
	CHECK(rx_wait(citizen, 1));
	CHECK(rx_wait(unit, 1));
	sleep_ms(10);
	CHECK_INT_EQ(rx_count(other), 0);
	const char *f = unit->last_frame;
	CHECK(strncmp(f, "id: 1\nevent: case.dispatched\ndata: {", 36) == 0);
	const char *data = strstr(f, "data: ");
	json_error_t e;
	json_t *v = data ? json_loads(data + 6, JSON_DISABLE_EOF_CHECK, &e) : NULL;
	CHECK(v != NULL);
	if (v) {
		CHECK_STR_EQ(json_string_value(json_object_get(v, "id")), "LH20261127000123");
		CHECK_STR_EQ(json_string_value(json_object_get(v, "status")), "dispatched");
		CHECK_STR_EQ(json_string_value(json_object_get(v, "type")), "case.dispatched");
		CHECK_STR_EQ(json_string_value(json_object_get(v, "title")), "路灯不亮 \"quoted\"\n");
		CHECK_STR_EQ(json_string_value(json_object_get(v, "deadline")), "2026-11-30T08:53:20+08:00");
		CHECK_INT_EQ(json_integer_value(json_object_get(v, "version")), 3);
		CHECK(json_is_null(json_object_get(v, "category")));
		CHECK(json_object_get(v, "lat") != NULL);
		json_decref(v);
	}
	/* byte for byte what jansson printed for the same object before the payload was written
	 * directly (events_case) */
	json_t *want = json_pack("{s:s, s:s, s:s, s:n, s:s, s:n, s:n, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:I,"
				 " s:n, s:s, s:n, s:n, s:I, s:f, s:f}",
				 "type", "case.dispatched", "id", "LH20261127000123", "status", "dispatched",
				 "category", "street", "440303001", "community", "grid", "unit", "440303001",
				 "urgency", "normal", "level", "community", "deadline", "2026-11-30T08:53:20+08:00",
				 "warned", 0, "overdue", 0, "supervised", 0, "version", (json_int_t)3, "channel",
				 "title", "路灯不亮 \"quoted\"\n", "reported_at", "updated_at", "support_count",
				 (json_int_t)1, "lat", 22.54, "lng", 114.12);
	char *want_text = want ? json_dumps(want, JSON_COMPACT) : NULL;
	CHECK(want_text != NULL);
	if (want_text && data) {
		size_t n = strlen(want_text);
		CHECK(strncmp(data + 6, want_text, n) == 0);
		CHECK(data[6 + n] == '\n');
	}
	free(want_text);
	json_decref(want);
	/* no personal data on the wire */
	CHECK(strstr(f, "13812341234") == NULL);
	CHECK(strstr(f, "张三") == NULL);
	CHECK(strstr(f, "reporter") == NULL);
	xfree(c);
	events_unsubscribe(bus, s1);
	events_unsubscribe(bus, s2);
	events_unsubscribe(bus, s3);
	struct buf b;
	buf_init(&b, 1 << 16);
	CHECK_INT_EQ(events_metrics(bus, &b), CD_OK);
	CHECK(strstr(b.data, "\ncitydesk_events_published_total 1\n") != NULL);
	CHECK(strstr(b.data, "# TYPE citydesk_events_subscribers gauge\n") != NULL);
	buf_release(&b);
	events_free(bus);
	rx_free(citizen);
	rx_free(unit);
	rx_free(other);
}

static void test_action_types(void)
{
	CHECK_STR_EQ(events_action_type(WF_ACTION_REGISTER), "case.registered");
	CHECK_STR_EQ(events_action_type(WF_ACTION_DISPATCH), "case.dispatched");
	CHECK_STR_EQ(events_action_type(WF_ACTION_EXTEND_REQUEST), "case.extension_requested");
	CHECK_STR_EQ(events_action_type(WF_ACTION_COUNT), "case.updated");
	/* every action has its own type, and every type is a valid event type */
	for (int a = 0; a < WF_ACTION_COUNT; a++) {
		const char *t = events_action_type((enum workflow_action)a);
		CHECK(strncmp(t, "case.", 5) == 0 && strcmp(t, "case.updated") != 0 && strlen(t) < EVENTS_TYPE_MAX);
		for (int b = 0; b < a; b++)
			CHECK(strcmp(t, events_action_type((enum workflow_action)b)) != 0);
	}
}

static void test_free_releases_remaining(void)
{
	struct events *bus = events_new(NULL);
	struct rx *r = rx_new();
	struct events_scope all = scope_of(ROLE_ADMIN, NULL, NULL, 1);
	struct events_sub *sub;
	CHECK_INT_EQ(events_subscribe(bus, &all, 0, rx_deliver, rx_release, r, &sub), CD_OK);
	uint64_t seq = 0;
	CHECK_INT_EQ(publish(bus, "a", "S1", NULL, 0), CD_OK);
	struct event_msg m = {.kind = "case", .type = "case.created"};
	CHECK_INT_EQ(events_publish(bus, &m, &seq), CD_OK);
	CHECK(seq > (uint64_t)time(NULL) * 1000000u - 100000000u); /* ids start from the clock */
	events_free(bus); /* never unsubscribed: released here */
	CHECK_INT_EQ(atomic_load(&r->released), 1);
	rx_free(r);
	struct events_scope bad = scope_of(ROLE_COUNT, NULL, NULL, 1);
	bus = events_new(NULL);
	CHECK_INT_EQ(events_subscribe(bus, &bad, 0, rx_deliver, NULL, NULL, &sub), CD_ERR_INVALID);
	CHECK(sub == NULL);
	events_free(bus);
}

static const struct test_case tests[] = {
	{"scope_rule", test_scope_rule},
	{"publish_refuses_bad_messages", test_publish_refuses_bad_messages},
	{"frames", test_frames},
	{"fan_out_by_scope", test_fan_out_by_scope},
	{"slow_subscriber_dropped_others_unaffected", test_slow_subscriber_dropped_others_unaffected},
	{"publish_never_waits_for_a_stalled_dispatcher", test_publish_never_waits_for_a_stalled_dispatcher},
	{"replay", test_replay},
	{"replay_too_big_resyncs", test_replay_too_big_resyncs},
	{"nobody_subscribed", test_nobody_subscribed},
	{"heartbeats", test_heartbeats},
	{"concurrent_publishers_in_order", test_concurrent_publishers_in_order},
	{"case_helper", test_case_helper},
	{"action_types", test_action_types},
	{"free_releases_remaining", test_free_releases_remaining},
	{"publish_cost_figure", test_publish_cost_figure},
};

TEST_MAIN(tests)
