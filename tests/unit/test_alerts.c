/* The alerts store (rules, alert lifecycle and de-duplication, filters, device events, ingest
 * keys; all audited writes keep the chain whole) and the alerts worker over a real store and
 * event bus: a threshold rule raising and clearing from telemetry, device events with a level,
 * ingested alerts, acknowledge/clear by a person. No intake here (no case is opened); the case
 * side is tested end to end in tests/api/test_alerts.py. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/alerts.h"
#include "app/events.h"
#include "core/rules.h"
#include "store/store_alerts.h"
#include "store/store_devices.h"
#include "test.h"
#include "tmpstore.h"
#include "util/alloc.h"
#include "util/csv.h"

static const struct store_actor admin = {"admin", "127.0.0.1"};

static struct store *open_store(struct tmpdb *t)
{
	tmpdb_make(t);
	struct store *st = NULL;
	CHECK_INT_EQ(store_open(t->path, &st), CD_OK);
	return st;
}

static void audit_whole(struct store *st)
{
	int64_t bad = -1;
	CHECK_INT_EQ(store_audit_verify(st, &bad, NULL, 0), CD_OK);
	CHECK_INT_EQ(bad, 0);
}

static void rules_crud(void)
{
	struct tmpdb t;
	struct store *st = open_store(&t);
	int64_t before = 0, after = 0, id = 0;
	CHECK_INT_EQ(store_audit_count(st, &before), CD_OK);
	CHECK_INT_EQ(store_rule_add(st, &admin, "hot", "{\"kind\":\"threshold\"}", &id), CD_OK);
	CHECK(id > 0);
	CHECK_INT_EQ(store_rule_add(st, &admin, "bad", "{not json", NULL), CD_ERR_INVALID);
	struct store_rule r;
	CHECK_INT_EQ(store_rule_get(st, id, &r), CD_OK);
	CHECK_STR_EQ(r.name, "hot");
	CHECK_INT_EQ(store_rule_update(st, &admin, id, "hotter", "{\"kind\":\"rate\"}"), CD_OK);
	CHECK_INT_EQ(store_rule_update(st, &admin, id + 50, "x", "{}"), CD_ERR_NOTFOUND);
	struct store_rule *list = NULL;
	size_t n = 0;
	CHECK_INT_EQ(store_rules_list(st, &list, &n), CD_OK);
	CHECK_INT_EQ(n, 1);
	if (n)
		CHECK_STR_EQ(list[0].body, "{\"kind\":\"rate\"}");
	xfree(list);
	CHECK_INT_EQ(store_rule_delete(st, &admin, id), CD_OK);
	CHECK_INT_EQ(store_rule_delete(st, &admin, id), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_rule_get(st, id, &r), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_audit_count(st, &after), CD_OK);
	CHECK_INT_EQ(after - before, 3); /* add, update, delete */
	audit_whole(st);
	store_close(st);
	tmpdb_remove(&t);
}

static struct store_alert make_alert(const char *key, const char *device, const char *level,
				     const char *street)
{
	struct store_alert a;
	memset(&a, 0, sizeof a);
	snprintf(a.key, sizeof a.key, "%s", key);
	snprintf(a.source, sizeof a.source, "rule");
	snprintf(a.device, sizeof a.device, "%s", device);
	snprintf(a.type, sizeof a.type, "threshold");
	snprintf(a.level, sizeof a.level, "%s", level);
	snprintf(a.title, sizeof a.title, "温度过高 %s", device);
	snprintf(a.street_code, sizeof a.street_code, "%s", street);
	a.rule_id = 0;
	a.want_case = 1;
	return a;
}

static void alert_lifecycle(void)
{
	struct tmpdb t;
	struct store *st = open_store(&t);
	struct store_alert a = make_alert("rule:1", "SD-1", "red", "440303001");
	CHECK_INT_EQ(store_alert_raise(st, &admin, &a), CD_OK);
	CHECK(a.id > 0);
	CHECK_STR_EQ(a.status, "open");
	CHECK_INT_EQ(a.count, 1);
	CHECK(a.raised_at_ms > 0);
	/* de-duplicated: the same key and device while active gives the held one */
	struct store_alert b = make_alert("rule:1", "SD-1", "yellow", "");
	CHECK_INT_EQ(store_alert_raise(st, &admin, &b), CD_ERR_EXISTS);
	CHECK_INT_EQ(b.id, a.id);
	CHECK_STR_EQ(b.level, "red");
	/* another device or key is another alert */
	struct store_alert c = make_alert("rule:1", "SD-2", "yellow", "440303002");
	CHECK_INT_EQ(store_alert_raise(st, &admin, &c), CD_OK);
	struct store_alert d = make_alert("event:fire_alarm", "SD-1", "red", "440303001");
	CHECK_INT_EQ(store_alert_raise(st, &admin, &d), CD_OK);
	CHECK(c.id != a.id && d.id != a.id);
	/* repeats */
	CHECK_INT_EQ(store_alert_bump(st, a.id, 0, a.raised_at_ms + 5, 81), CD_OK);
	CHECK_INT_EQ(store_alert_bump(st, a.id, 0, a.raised_at_ms + 6, 82), CD_OK);
	CHECK_INT_EQ(store_alert_get(st, a.id, &b), CD_OK);
	CHECK_INT_EQ(b.count, 3);
	CHECK_NEAR(b.value, 82, 1e-9);
	/* acknowledge once, then clear; then it is history */
	CHECK_INT_EQ(store_alert_ack(st, &admin, a.id, "看到了", 0, &b), CD_OK);
	CHECK_STR_EQ(b.status, "acknowledged");
	CHECK_STR_EQ(b.acked_by, "admin");
	CHECK_INT_EQ(store_alert_ack(st, &admin, a.id, NULL, 0, NULL), CD_ERR_CONFLICT);
	CHECK_INT_EQ(store_alert_find_active(st, "rule:1", "SD-1", &b), CD_OK);
	CHECK_INT_EQ(store_alert_clear(st, &admin, a.id, "已处理", 0, &b), CD_OK);
	CHECK_STR_EQ(b.status, "cleared");
	CHECK_STR_EQ(b.note, "已处理");
	CHECK_INT_EQ(store_alert_clear(st, &admin, a.id, NULL, 0, NULL), CD_ERR_CONFLICT);
	CHECK_INT_EQ(store_alert_bump(st, a.id, 0, 1, 1), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_alert_find_active(st, "rule:1", "SD-1", &b), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_alert_clear(st, &admin, 9999, NULL, 0, NULL), CD_ERR_NOTFOUND);
	/* a new episode after the clear is a new alert */
	struct store_alert e = make_alert("rule:1", "SD-1", "red", "440303001");
	CHECK_INT_EQ(store_alert_raise(st, &admin, &e), CD_OK);
	CHECK(e.id > d.id);
	struct store_case nocase;
	memset(&nocase, 0, sizeof nocase);
	nocase.id = 12345; /* no such case: the link is refused */
	CHECK_INT_EQ(store_alert_set_case(st, &admin, e.id, &nocase), CD_ERR_INVALID);

	/* filters and scope */
	struct store_alert *v = NULL;
	size_t n = 0;
	int64_t total = 0;
	struct store_alert_filter f;
	memset(&f, 0, sizeof f);
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 50, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(n, 4);
	CHECK_INT_EQ(total, 4);
	if (n)
		CHECK_INT_EQ(v[0].id, e.id); /* newest first */
	xfree(v);
	f.status = "active";
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 50, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 3);
	xfree(v);
	f.status = "cleared";
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 50, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 1);
	xfree(v);
	memset(&f, 0, sizeof f);
	f.level = "red";
	f.device = "SD-1";
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 1, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 3);
	CHECK_INT_EQ(n, 1);
	xfree(v);
	memset(&f, 0, sizeof f);
	f.scope_street = "440303002";
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 50, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 1);
	if (n)
		CHECK_STR_EQ(v[0].device, "SD-2");
	xfree(v);
	memset(&f, 0, sizeof f);
	f.scope_unit = "D-XF";
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 50, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 0);
	xfree(v);
	memset(&f, 0, sizeof f);
	f.from_ms = e.raised_at_ms + 1;
	CHECK_INT_EQ(store_alerts_list(st, &f, 0, 50, &v, &n, &total), CD_OK);
	CHECK_INT_EQ(total, 0);
	xfree(v);
	CHECK_INT_EQ(store_alerts_active(st, &v, &n), CD_OK);
	CHECK_INT_EQ(n, 3);
	xfree(v);
	audit_whole(st);
	store_close(st);
	tmpdb_remove(&t);
}

static void device_events_and_ingest_keys(void)
{
	struct tmpdb t;
	struct store *st = open_store(&t);
	struct store_device_event ev[3];
	memset(ev, 0, sizeof ev);
	for (int i = 0; i < 3; i++) {
		snprintf(ev[i].device, sizeof ev[i].device, "%s", i ? "SD-1" : "SD-2");
		ev[i].ts_ms = 1000 + i;
		snprintf(ev[i].type, sizeof ev[i].type, "fault");
		snprintf(ev[i].source, sizeof ev[i].source, "mqtt");
	}
	CHECK_INT_EQ(store_device_events_add(st, ev, 3), CD_OK);
	int64_t n = 0;
	CHECK_INT_EQ(store_device_events_count(st, "SD-1", &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(store_device_events_count(st, NULL, &n), CD_OK);
	CHECK_INT_EQ(n, 3);

	char hash[STORE_HASH_HEX];
	const char *h1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *h2 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
	CHECK_INT_EQ(store_ingest_get(st, "fire119", hash), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(store_ingest_put(st, &admin, "fire119", h1), CD_OK);
	CHECK_INT_EQ(store_ingest_get(st, "fire119", hash), CD_OK);
	CHECK_STR_EQ(hash, h1);
	CHECK_INT_EQ(store_ingest_put(st, &admin, "fire119", h2), CD_OK); /* a new key replaces the old */
	CHECK_INT_EQ(store_ingest_get(st, "fire119", hash), CD_OK);
	CHECK_STR_EQ(hash, h2);
	CHECK_INT_EQ(store_ingest_put(st, &admin, "bad name", h1), CD_ERR_INVALID);
	CHECK_INT_EQ(store_ingest_put(st, &admin, "ok", "ABC"), CD_ERR_INVALID);
	audit_whole(st);
	store_close(st);
	tmpdb_remove(&t);
}

/* ---- the worker ------------------------------------------------------------------------- */

struct seen {
	pthread_mutex_t lock;
	char types[32][EVENTS_TYPE_MAX];
	int n;
};

static int on_item(void *ctx, const struct events_item *it)
{
	struct seen *s = ctx;
	if (it->kind != EVENTS_ITEM_EVENT)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (s->n < 32)
		snprintf(s->types[s->n++], EVENTS_TYPE_MAX, "%s", it->type);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void on_release(void *ctx)
{
	(void)ctx;
}

/* Waits (up to ~2 s) until the bus has delivered `want` events. */
static int wait_seen(struct seen *s, int want)
{
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&s->lock);
		int n = s->n;
		pthread_mutex_unlock(&s->lock);
		if (n >= want)
			return n;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return s->n;
}

static struct iot_device device(const char *id, const char *type, const char *tags)
{
	struct iot_device d;
	memset(&d, 0, sizeof d);
	snprintf(d.id, sizeof d.id, "%s", id);
	snprintf(d.type, sizeof d.type, "%s", type);
	snprintf(d.tags, sizeof d.tags, "%s", tags);
	snprintf(d.name, sizeof d.name, "%s 号烟感", id);
	snprintf(d.street_code, sizeof d.street_code, "440303003");
	d.has_point = true;
	d.lat = 22.548;
	d.lng = 114.118;
	d.active = true;
	return d;
}

static void worker_rules_events_ingest(void)
{
	struct tmpdb t;
	struct app app;
	memset(&app, 0, sizeof app);
	app.st = open_store(&t);
	app.events = events_new(NULL);
	struct seen seen;
	memset(&seen, 0, sizeof seen);
	pthread_mutex_init(&seen.lock, NULL);
	struct events_scope all = {ROLE_ADMIN, "", "", 0};
	struct events_sub *sub = NULL;
	CHECK_INT_EQ(events_subscribe(app.events, &all, 0, on_item, on_release, &seen, &sub), CD_OK);

	int64_t rule_id = 0;
	CHECK_INT_EQ(
	    store_rule_add(app.st, &admin, "烟感高温",
			   "{\"name\":\"烟感高温\",\"kind\":\"threshold\",\"device_type\":\"smoke_detector\","
			   "\"metric\":\"temperature_c\",\"op\":\">\",\"value\":60,\"level\":\"red\"}",
			   &rule_id),
	    CD_OK);
	struct alerts *a = NULL;
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	app.alerts = a;
	struct alerts_stats s;
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.rules, 1);

	struct iot_device sd = device("SD-1", "smoke_detector", "fire");
	struct iot_telemetry tm;
	memset(&tm, 0, sizeof tm);
	snprintf(tm.device, sizeof tm.device, "SD-1");
	tm.ts_ms = 1795363200000LL;
	tm.n = 2;
	snprintf(tm.v[0].metric, sizeof tm.v[0].metric, "humidity");
	tm.v[0].value = 99;
	snprintf(tm.v[1].metric, sizeof tm.v[1].metric, "temperature_c");
	tm.v[1].value = 72.5;
	alerts_on_telemetry(a, &sd, &tm);
	tm.ts_ms += 1000;
	tm.v[1].value = 75; /* still high: no second alert */
	alerts_on_telemetry(a, &sd, &tm);
	alerts_drain(a);
	struct store_alert al;
	char key[32];
	snprintf(key, sizeof key, "rule:%lld", (long long)rule_id);
	CHECK_INT_EQ(store_alert_find_active(app.st, key, "SD-1", &al), CD_OK);
	CHECK_STR_EQ(al.level, "red");
	CHECK_STR_EQ(al.category_code, "H130809");
	CHECK_STR_EQ(al.street_code, "440303003");
	CHECK_INT_EQ(al.rule_id, rule_id);
	CHECK_NEAR(al.value, 72.5, 1e-9);
	CHECK(al.has_point);
	int64_t first = al.id;
	/* back to normal: cleared by the rule */
	tm.ts_ms += 1000;
	tm.v[1].value = 30;
	alerts_on_telemetry(a, &sd, &tm);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_get(app.st, first, &al), CD_OK);
	CHECK_STR_EQ(al.status, "cleared");
	CHECK_STR_EQ(al.cleared_by, "system");

	/* a fire alarm event: an alert at once, repeats counted */
	struct iot_event ev;
	memset(&ev, 0, sizeof ev);
	snprintf(ev.device, sizeof ev.device, "SD-1");
	ev.ts_ms = tm.ts_ms + 5000;
	snprintf(ev.type, sizeof ev.type, "fire_alarm");
	snprintf(ev.level, sizeof ev.level, "red");
	snprintf(ev.detail, sizeof ev.detail, "3 号楼 2 层 火警");
	alerts_on_event(a, &sd, &ev);
	alerts_on_event(a, &sd, &ev);
	snprintf(ev.type, sizeof ev.type, "heartbeat_note");
	ev.level[0] = 0; /* no level: recorded only */
	alerts_on_event(a, &sd, &ev);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_find_active(app.st, "event:fire_alarm", "SD-1", &al), CD_OK);
	CHECK_INT_EQ(al.count, 2);
	CHECK_STR_EQ(al.source, "event");
	int64_t nev = 0;
	CHECK_INT_EQ(store_device_events_count(app.st, "SD-1", &nev), CD_OK);
	CHECK_INT_EQ(nev, 3);

	/* a person acknowledges, then clears it */
	struct store_actor disp = {"disp", "10.0.0.1"};
	CHECK_INT_EQ(alerts_act(&app, &disp, "district_dispatcher", al.id, false, "已派人", &al), CD_OK);
	CHECK_STR_EQ(al.status, "acknowledged");
	CHECK_INT_EQ(alerts_act(&app, &disp, "district_dispatcher", al.id, false, NULL, NULL),
		     CD_ERR_CONFLICT);
	CHECK_INT_EQ(alerts_act(&app, &disp, "district_dispatcher", al.id, true, "误报", &al), CD_OK);
	CHECK_STR_EQ(al.status, "cleared");

	/* an ingested alert from another system, sent twice, then cleared by it */
	struct alerts_ingest in;
	memset(&in, 0, sizeof in);
	snprintf(in.system, sizeof in.system, "gas");
	snprintf(in.id, sizeof in.id, "G-77");
	snprintf(in.type, sizeof in.type, "gas_leak");
	snprintf(in.level, sizeof in.level, "orange");
	in.ts_ms = tm.ts_ms;
	in.has_point = true;
	in.lat = 22.55;
	in.lng = 114.12;
	alerts_ingest(a, &in);
	alerts_ingest(a, &in);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_find_active(app.st, "ingest:gas:G-77", "", &al), CD_OK);
	CHECK_INT_EQ(al.count, 2);
	CHECK_STR_EQ(al.system, "gas");
	in.cleared = true;
	alerts_ingest(a, &in);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_find_active(app.st, "ingest:gas:G-77", "", &al), CD_ERR_NOTFOUND);

	/* on the bus, in order */
	static const char *const want[] = {"alert.raised",   "alert.cleared",	   "alert.raised",
					   "alert.repeated", "alert.acknowledged", "alert.cleared",
					   "alert.raised",   "alert.repeated",	   "alert.cleared"};
	int n = wait_seen(&seen, 9);
	CHECK_INT_EQ(n, 9);
	for (int i = 0; i < n && i < 9; i++)
		CHECK_STR_EQ(seen.types[i], want[i]);

	/* a restart keeps de-duplication: the open alert is known to the new engine */
	alerts_stop(a);
	app.alerts = NULL;
	tm.ts_ms += 10000;
	tm.v[1].value = 90;
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	alerts_on_telemetry(a, &sd, &tm);
	alerts_drain(a);
	alerts_stop(a);
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	alerts_on_telemetry(a, &sd, &tm);
	alerts_drain(a);
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.raised, 0);
	alerts_stop(a);
	struct store_alert_filter f;
	memset(&f, 0, sizeof f);
	f.rule_id = rule_id;
	struct store_alert *v = NULL;
	size_t nv = 0;
	int64_t total = 0;
	CHECK_INT_EQ(store_alerts_list(app.st, &f, 0, 10, &v, &nv, &total), CD_OK);
	CHECK_INT_EQ(total, 2); /* the first (cleared) and one more, not three */
	xfree(v);

	events_unsubscribe(app.events, sub);
	events_free(app.events);
	audit_whole(app.st);
	store_close(app.st);
	tmpdb_remove(&t);
	pthread_mutex_destroy(&seen.lock);
}

/* A prefix rule ("pressure_mpa.*") raises one alert per sensor of a transmitter, keyed
 * "rule:<id>:<metric>"; a person's clear reaches that sensor's memory (suppression), and a
 * restart keeps each sensor's alert de-duplicated. */
static void prefix_rule_alert_per_sensor(void)
{
	struct tmpdb t;
	struct app app;
	memset(&app, 0, sizeof app);
	app.st = open_store(&t);
	int64_t rule_id = 0;
	CHECK_INT_EQ(
	    store_rule_add(app.st, &admin, "消火栓压力低",
			   "{\"name\":\"消火栓压力低\",\"kind\":\"threshold\",\"metric\":\"pressure_mpa.*\","
			   "\"op\":\"<\",\"value\":0.1,\"level\":\"orange\",\"suppress_s\":3600}",
			   &rule_id),
	    CD_OK);
	struct alerts *a = NULL;
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	app.alerts = a;
	struct iot_device u = device("UITD-1", "uitd", "");
	struct iot_telemetry tm;
	memset(&tm, 0, sizeof tm);
	snprintf(tm.device, sizeof tm.device, "UITD-1");
	tm.ts_ms = 1795363200000LL;
	tm.n = 3;
	snprintf(tm.v[0].metric, sizeof tm.v[0].metric, "pressure_mpa.1.0.7");
	tm.v[0].value = 0.05;
	snprintf(tm.v[1].metric, sizeof tm.v[1].metric, "pressure_mpa.1.0.8");
	tm.v[1].value = 0.02;
	snprintf(tm.v[2].metric, sizeof tm.v[2].metric, "temperature_c.1.0.8");
	tm.v[2].value = 0.01;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	char k7[64], k8[64];
	snprintf(k7, sizeof k7, "rule:%lld:pressure_mpa.1.0.7", (long long)rule_id);
	snprintf(k8, sizeof k8, "rule:%lld:pressure_mpa.1.0.8", (long long)rule_id);
	struct store_alert a7, a8;
	CHECK_INT_EQ(store_alert_find_active(app.st, k7, "UITD-1", &a7), CD_OK);
	CHECK_INT_EQ(store_alert_find_active(app.st, k8, "UITD-1", &a8), CD_OK);
	CHECK(a7.id != a8.id);
	CHECK_STR_EQ(a7.level, "orange");
	CHECK(strstr(a8.title, "pressure_mpa.1.0.8") != NULL);
	CHECK_NEAR(a8.value, 0.02, 1e-12);
	struct alerts_stats s;
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.raised, 2);

	/* a person clears sensor 8; still low, it stays quiet for the suppression hour */
	struct store_actor disp = {"disp", "10.0.0.1"};
	CHECK_INT_EQ(alerts_act(&app, &disp, "district_dispatcher", a8.id, true, "已排查", NULL), CD_OK);
	tm.ts_ms += 1000;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_find_active(app.st, k8, "UITD-1", &a8), CD_ERR_NOTFOUND);
	/* sensor 7 recovers: only its alert is cleared by the rule */
	tm.v[0].value = 0.3;
	tm.ts_ms += 1000;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_get(app.st, a7.id, &a7), CD_OK);
	CHECK_STR_EQ(a7.status, "cleared");
	CHECK_STR_EQ(a7.cleared_by, "system");

	/* sensor 7 low again within the hour after its clear: suppressed */
	tm.v[0].value = 0.01;
	tm.ts_ms += 1000;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_find_active(app.st, k7, "UITD-1", &a7), CD_ERR_NOTFOUND);
	/* sensor 9 drops: a new alert, which a restart keeps de-duplicated */
	tm.v[0].value = 0.3;
	tm.v[1].value = 0.3;
	snprintf(tm.v[2].metric, sizeof tm.v[2].metric, "pressure_mpa.1.0.9");
	tm.v[2].value = 0.01;
	tm.ts_ms += 1000;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	char k9[64];
	snprintf(k9, sizeof k9, "rule:%lld:pressure_mpa.1.0.9", (long long)rule_id);
	struct store_alert a9;
	CHECK_INT_EQ(store_alert_find_active(app.st, k9, "UITD-1", &a9), CD_OK);
	alerts_stop(a);
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	app.alerts = a;
	tm.ts_ms += 1000;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.raised, 0);
	CHECK_INT_EQ(store_alert_find_active(app.st, k9, "UITD-1", &a9), CD_OK);
	CHECK_INT_EQ(a9.count, 1);
	tm.v[2].value = 0.2; /* and the restored alert of sensor 9 clears with its sensor */
	tm.ts_ms += 1000;
	alerts_on_telemetry(a, &u, &tm);
	alerts_drain(a);
	CHECK_INT_EQ(store_alert_find_active(app.st, k9, "UITD-1", &a9), CD_ERR_NOTFOUND);
	alerts_stop(a);
	audit_whole(app.st);
	store_close(app.st);
	tmpdb_remove(&t);
}

/* data/luohu/rules.json reads, every rule checked; the default loader fills an empty table
 * once (an admin who deletes all rules is not overruled); import is idempotent, replaces by
 * name, and refuses a broken file whole. */
static void default_rules_and_import(void)
{
	char *text = NULL;
	size_t len = 0;
	CHECK_INT_EQ(file_read_all("data/luohu/rules.json", 1 << 20, &text, &len), CD_OK);
	struct rules_rule *v = NULL;
	size_t n = 0;
	char reason[512] = "";
	CHECK_INT_EQ(alerts_rules_parse(text, len, &v, &n, reason, sizeof reason), CD_OK);
	if (reason[0])
		fprintf(stderr, "  %s\n", reason);
	CHECK_INT_EQ(n, 10);
	int kinds[RULES_KIND_COUNT] = {0}, prefixes = 0;
	for (size_t i = 0; i < n; i++) {
		kinds[v[i].kind]++;
		prefixes += rules_metric_is_prefix(v[i].metric);
	}
	CHECK_INT_EQ(kinds[RULES_WINDOW], 3);
	CHECK_INT_EQ(kinds[RULES_BASELINE], 1);
	CHECK_INT_EQ(kinds[RULES_THRESHOLD], 5);
	CHECK_INT_EQ(kinds[RULES_ABSENCE], 1);
	CHECK_INT_EQ(prefixes, 5);
	xfree(v);
	xfree(text);

	struct tmpdb t;
	struct app app;
	memset(&app, 0, sizeof app);
	app.st = open_store(&t);
	CHECK_INT_EQ(alerts_load_default_rules(&app, "data/luohu"), CD_OK);
	struct store_rule *rows = NULL;
	CHECK_INT_EQ(store_rules_list(app.st, &rows, &n), CD_OK);
	CHECK_INT_EQ(n, 10);
	/* the engine takes them all */
	struct alerts *a = NULL;
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	struct alerts_stats s;
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.rules, 10);
	alerts_stop(a);
	/* loaded once: deleting every rule sticks across the next start */
	for (size_t i = 0; i < n; i++)
		CHECK_INT_EQ(store_rule_delete(app.st, &admin, rows[i].id), CD_OK);
	xfree(rows);
	CHECK_INT_EQ(alerts_load_default_rules(&app, "data/luohu"), CD_OK);
	CHECK_INT_EQ(store_rules_list(app.st, &rows, &n), CD_OK);
	CHECK_INT_EQ(n, 0);
	xfree(rows);

	/* import: add, then nothing, then a changed rule replaced by name */
	char path[192];
	snprintf(path, sizeof path, "%s/rules.json", t.dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("[{\"name\":\"高温\",\"kind\":\"threshold\",\"metric\":\"temperature_c.*\",\"op\":\">\","
	      "\"value\":60},"
	      "{\"rule\":{\"name\":\"离线\",\"kind\":\"absence\",\"window_s\":600},\"source\":\"s\","
	      "\"intent\":\"i\"}]",
	      f);
	fclose(f);
	struct alerts_import_result res;
	CHECK_INT_EQ(alerts_rules_import(app.st, &admin, path, &res, reason, sizeof reason), CD_OK);
	CHECK_INT_EQ(res.added, 2);
	CHECK_INT_EQ(alerts_rules_import(app.st, &admin, path, &res, reason, sizeof reason), CD_OK);
	CHECK_INT_EQ(res.added, 0);
	CHECK_INT_EQ(res.unchanged, 2);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"rules\":[{\"name\":\"高温\",\"kind\":\"threshold\",\"metric\":\"temperature_c.*\",\"op\":"
	      "\">\","
	      "\"value\":70}]}",
	      f);
	fclose(f);
	CHECK_INT_EQ(alerts_rules_import(app.st, &admin, path, &res, reason, sizeof reason), CD_OK);
	CHECK_INT_EQ(res.updated, 1);
	CHECK_INT_EQ(store_rules_list(app.st, &rows, &n), CD_OK);
	CHECK_INT_EQ(n, 2);
	CHECK(n >= 1 && strstr(rows[0].body, "\"value\":70") != NULL);
	xfree(rows);

	/* refused whole: one bad rule (named), a duplicate name, no list, not JSON, no file */
	static const char *const bad[] = {
	    "[{\"name\":\"新\",\"kind\":\"absence\",\"window_s\":60},{\"name\":\"坏\",\"kind\":\"threshold\","
	    "\"metric\":\"t\",\"value\":1,\"colour\":\"red\"}]",
	    "[{\"name\":\"x\",\"kind\":\"absence\",\"window_s\":60},{\"name\":\"x\",\"kind\":\"absence\","
	    "\"window_s\":60}]",
	    "{\"about\":\"no rules\"}",
	    "[]",
	    "[{\"rule\":{\"name\":\"x\",\"kind\":\"absence\",\"window_s\":60},\"source\":5}]",
	    "{not json",
	};
	static const char *const says[] = {"colour", "twice", "rules", "rules", "rule 1", "not JSON"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f = fopen(path, "w");
		CHECK(f != NULL);
		fputs(bad[i], f);
		fclose(f);
		reason[0] = 0;
		CHECK_INT_EQ(alerts_rules_import(app.st, &admin, path, &res, reason, sizeof reason),
			     CD_ERR_INVALID);
		CHECK(strstr(reason, says[i]) != NULL);
		if (!strstr(reason, says[i]))
			fprintf(stderr, "  bad %zu: %s\n", i, reason);
	}
	CHECK_INT_EQ(store_rules_list(app.st, &rows, &n), CD_OK);
	CHECK_INT_EQ(n, 2); /* nothing of the bad files was added */
	xfree(rows);
	unlink(path);
	CHECK_INT_EQ(alerts_rules_import(app.st, &admin, path, &res, reason, sizeof reason), CD_ERR_NOTFOUND);
	audit_whole(app.st);
	store_close(app.st);
	tmpdb_remove(&t);
}

static void categories(void)
{
	CHECK_STR_EQ(alerts_category_for("smoke_detector", "", NULL), "H130809");
	CHECK_STR_EQ(alerts_category_for("uitd", NULL, "fault"), "H130809");
	CHECK_STR_EQ(alerts_category_for("water_meter", "building_3,elderly_alone", NULL), "H090805");
	CHECK_STR_EQ(alerts_category_for("water_meter", "elderly_alone_x", NULL), "H010216");
	CHECK_STR_EQ(alerts_category_for(NULL, NULL, "fire_alarm"), "H130809");
	CHECK_STR_EQ(alerts_category_for("energy_meter", "hospital", NULL), "H070602");
	CHECK(alerts_category_for("camera", "", "motion") == NULL);
}

/* Waits (up to ~20 s: the worker judges absence once a second) until the active alert of
 * (key, device) exists; false when it never came. */
static bool wait_active(struct store *st, const char *key, const char *device, struct store_alert *out)
{
	for (int i = 0; i < 200; i++) {
		if (store_alert_find_active(st, key, device, out) == CD_OK)
			return true;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* "Seen" is when a message arrives, not the device's own clock: a device that posted with ts in
 * 2099 used to be seen "in 2099" and never fell silent for absence rules (of any data or of one
 * metric); its readings keep their own time. Arrival again clears the alerts. */
static void absence_uses_arrival_not_device_clock(void)
{
	struct tmpdb t;
	struct app app;
	memset(&app, 0, sizeof app);
	app.st = open_store(&t);
	int64_t any_id = 0, metric_id = 0;
	CHECK_INT_EQ(
	    store_rule_add(app.st, &admin, "离线",
			   "{\"name\":\"离线\",\"kind\":\"absence\",\"device_type\":\"smoke_detector\","
			   "\"window_s\":1,\"level\":\"blue\",\"open_case\":false}",
			   &any_id),
	    CD_OK);
	CHECK_INT_EQ(
	    store_rule_add(
		app.st, &admin, "无温度",
		"{\"name\":\"无温度\",\"kind\":\"absence\",\"device_type\":\"smoke_detector\","
		"\"metric\":\"temperature_c\",\"window_s\":1,\"level\":\"blue\",\"open_case\":false}",
		&metric_id),
	    CD_OK);
	struct alerts *a = NULL;
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	if (!a)
		return;
	app.alerts = a;
	const int64_t y2099 = 4070908800000LL; /* 2099-01-01T00:00:00Z */
	struct iot_device f = device("SD-F", "smoke_detector", "");
	struct iot_telemetry tm;
	memset(&tm, 0, sizeof tm);
	snprintf(tm.device, sizeof tm.device, "SD-F");
	tm.ts_ms = y2099;
	tm.n = 1;
	snprintf(tm.v[0].metric, sizeof tm.v[0].metric, "temperature_c");
	tm.v[0].value = 21;
	alerts_on_telemetry(a, &f, &tm);
	struct iot_device e = device("SD-E", "smoke_detector", "");
	struct iot_event ev;
	memset(&ev, 0, sizeof ev);
	snprintf(ev.device, sizeof ev.device, "SD-E");
	ev.ts_ms = y2099;
	snprintf(ev.type, sizeof ev.type, "self_test");
	alerts_on_event(a, &e, &ev);

	char any_key[32], metric_key[32];
	snprintf(any_key, sizeof any_key, "rule:%lld", (long long)any_id);
	snprintf(metric_key, sizeof metric_key, "rule:%lld", (long long)metric_id);
	struct store_alert fa, fm, ea;
	memset(&fa, 0, sizeof fa);
	memset(&fm, 0, sizeof fm);
	CHECK(wait_active(app.st, any_key, "SD-F", &fa));
	CHECK(wait_active(app.st, metric_key, "SD-F", &fm));
	CHECK(wait_active(app.st, any_key, "SD-E", &ea));
	CHECK(fa.raised_at_ms > 0 && fa.raised_at_ms < y2099 - 365 * 86400000LL);

	/* heard from again (the same device time): both of SD-F's alerts clear */
	alerts_on_telemetry(a, &f, &tm);
	alerts_drain(a);
	struct store_alert now;
	CHECK_INT_EQ(store_alert_get(app.st, fa.id, &now), CD_OK);
	CHECK_STR_EQ(now.status, "cleared");
	CHECK_INT_EQ(store_alert_get(app.st, fm.id, &now), CD_OK);
	CHECK_STR_EQ(now.status, "cleared");
	alerts_stop(a);
	store_close(app.st);
	tmpdb_remove(&t);
}

/* ---- a full queue ------------------------------------------------------------------------ */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool holding, release;
};

/* store_devices_list's callback: keeps the store locked until the gate is released. */
static int hold_store(void *ctx, const struct store_device *d)
{
	struct gate *g = ctx;
	(void)d;
	pthread_mutex_lock(&g->lock);
	g->holding = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->release)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return 1;
}

struct holder {
	struct store *st;
	struct gate *gate;
	enum cd_err rc;
};

static void *hold_thread(void *arg)
{
	struct holder *h = arg;
	h->rc = store_devices_list(h->st, 0, hold_store, h->gate);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The child of full_queue_drops_without_deadlock: the worker is held inside the store (its
 * lock taken by a walk that waits) while the queue is filled past the drop point. */
static void full_queue_child(const char *db)
{
	struct app app;
	memset(&app, 0, sizeof app);
	CHECK_INT_EQ(store_open(db, &app.st), CD_OK);
	struct store_device sd;
	memset(&sd, 0, sizeof sd);
	snprintf(sd.id, sizeof sd.id, "SD-Q");
	snprintf(sd.type, sizeof sd.type, "smoke_detector");
	snprintf(sd.secret_hash, sizeof sd.secret_hash, "sha256$00");
	snprintf(sd.mqtt_hash, sizeof sd.mqtt_hash, "x");
	sd.active = 1;
	CHECK_INT_EQ(store_devices_add(app.st, &admin, &sd, 1, NULL), CD_OK);
	struct alerts *a = NULL;
	CHECK_INT_EQ(alerts_start(&app, &a), CD_OK);
	if (!a)
		return;
	app.alerts = a;

	struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
	struct holder h = {app.st, &g, CD_OK};
	pthread_t th;
	CHECK_INT_EQ(pthread_create(&th, NULL, hold_thread, &h), 0);
	pthread_mutex_lock(&g.lock);
	while (!g.holding)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);

	/* a fire alarm: the worker takes it and waits for the store to store its alert */
	struct iot_device dev = device("SD-Q", "smoke_detector", "");
	struct iot_event ev;
	memset(&ev, 0, sizeof ev);
	snprintf(ev.device, sizeof ev.device, "SD-Q");
	ev.ts_ms = 1795363200000LL;
	snprintf(ev.type, sizeof ev.type, "fire_alarm");
	snprintf(ev.level, sizeof ev.level, "red");
	alerts_on_event(a, &dev, &ev);
	struct alerts_stats s;
	for (int i = 0; i < 1000; i++) {
		alerts_get_stats(a, &s);
		if (s.queued == 0)
			break;
		sleep_ms(10);
	}
	CHECK_INT_EQ(s.queued, 0);

	/* telemetry past the drop point while the worker is held */
	struct iot_telemetry tm;
	memset(&tm, 0, sizeof tm);
	snprintf(tm.device, sizeof tm.device, "SD-Q");
	tm.ts_ms = ev.ts_ms;
	tm.n = 1;
	snprintf(tm.v[0].metric, sizeof tm.v[0].metric, "temperature_c");
	tm.v[0].value = 21;
	for (int i = 0; i < ALERTS_TELEMETRY_QUEUE_MAX + 5; i++)
		alerts_on_telemetry(a, &dev, &tm); /* the 20,001st deadlocked here */
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.queued, ALERTS_TELEMETRY_QUEUE_MAX);
	CHECK_INT_EQ(s.dropped, 5);
	alerts_on_event(a, &dev, &ev); /* events are never dropped */
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.queued, ALERTS_TELEMETRY_QUEUE_MAX + 1);

	pthread_mutex_lock(&g.lock);
	g.release = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	pthread_join(th, NULL);
	CHECK_INT_EQ(h.rc, CD_OK);
	alerts_drain(a);
	alerts_get_stats(a, &s);
	CHECK_INT_EQ(s.telemetry, ALERTS_TELEMETRY_QUEUE_MAX);
	CHECK_INT_EQ(s.events, 2);
	CHECK_INT_EQ(s.dropped, 5);
	struct store_alert al;
	CHECK_INT_EQ(store_alert_find_active(app.st, "event:fire_alarm", "SD-Q", &al), CD_OK);
	CHECK_INT_EQ(al.count, 2);
	alerts_stop(a);
	store_close(app.st);
}

/* Telemetry beyond ALERTS_TELEMETRY_QUEUE_MAX is dropped and counted, and the producer (the
 * hub's thread) returns: counting the drop used to lock the queue's mutex a second time, so the
 * hub froze for good. Run in a forked child so that a hang fails the test instead of the run. */
static void full_queue_drops_without_deadlock(void)
{
	struct tmpdb t;
	tmpdb_make(&t);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		full_queue_child(t.path);
		_exit(test_failures_in_case ? 1 : 0);
	}
	CHECK(pid > 0);
	if (pid < 0) {
		tmpdb_remove(&t);
		return;
	}
	int status = 0;
	pid_t got = 0;
	for (int i = 0; i < 600 && got == 0; i++) { /* up to a minute: a loaded machine, sanitizers */
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			sleep_ms(100);
	}
	if (got == 0) {
		fprintf(stderr, "  the producer hung at the full queue (deadlock); child killed\n");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CHECK(got == pid);
	CHECK(got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	tmpdb_remove(&t);
}

static const struct test_case tests[] = {
    {"rules_crud", rules_crud},
    {"alert_lifecycle", alert_lifecycle},
    {"device_events_and_ingest_keys", device_events_and_ingest_keys},
    {"worker_rules_events_ingest", worker_rules_events_ingest},
    {"prefix_rule_alert_per_sensor", prefix_rule_alert_per_sensor},
    {"default_rules_and_import", default_rules_and_import},
    {"categories", categories},
    {"full_queue_drops_without_deadlock", full_queue_drops_without_deadlock},
    {"absence_uses_arrival_not_device_clock", absence_uses_arrival_not_device_clock},
};

TEST_MAIN(tests)
