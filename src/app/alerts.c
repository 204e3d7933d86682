/* The alerts worker: one thread owns the rule engine and does every alert write, so the hub's
 * thread never waits on the store or on intake. Messages arrive on a linked queue (telemetry
 * bounded, events never dropped); each pass handles what is queued, then judges time-based
 * rules once a second. See alerts.h and docs/internals/rules.md. */
#include "app/alerts.h"

#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/devices.h"
#include "app/events.h"
#include "app/intake.h"
#include "core/rules.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define ALERTS_RETRY_MIN_MS 100	 /* first pause before a failed store write is tried again */
#define ALERTS_RETRY_MAX_MS 2000 /* the pause doubles up to this */

enum msg_kind { M_TELEMETRY, M_EVENT, M_STATUS, M_INGEST, M_CLEARED, M_RULES, M_OPEN_CASE };

struct msg {
	struct msg *next;
	enum msg_kind kind;
	int64_t arrived_ms;    /* when it was handed over (the server's clock): "seen" for the rules */
	uint64_t seq;	       /* the IoT journal seq of the device message, 0 = not journalled */
	struct iot_device dev; /* telemetry, event, status */
	union {
		struct iot_telemetry t;
		struct iot_event e;
		struct {
			bool online;
			int64_t ts_ms;
		} s;
		struct alerts_ingest in;
		int64_t alert_id; /* cleared, open_case */
	} u;
};

struct alerts {
	struct app *app;
	struct rules *engine; /* only the worker touches it (after start) */
	pthread_t thread;
	pthread_mutex_t lock; /* guards the queue, the flags and the counters below */
	pthread_cond_t wake;  /* work queued or stop */
	pthread_cond_t idle;  /* the worker finished a pass with the queue empty */
	struct msg *head, *tail;
	size_t queued, queued_telemetry;
	bool busy; /* the worker is handling a batch */
	bool stop;
	uint64_t taken_seq, done_seq; /* messages taken and finished, for alerts_drain */
	uint64_t queued_seq;
	struct alerts_stats stats;
	int64_t started_ms;
	int64_t next_seed_ms;
	uint64_t rules_fp;		  /* fingerprint of the stored rules last loaded */
	struct store_device_event *evbuf; /* device events to store at the end of a pass */
	size_t evn, evcap;
	uint64_t ev_seq; /* worker: the highest journal seq among evbuf's events */
	/* Replay (store_alerts.h "replay marks"): the marks read at start; a message with a seq at
	 * or below one was applied before a crash and is not applied again. Worker only, after
	 * alerts_replay_from. */
	uint64_t mark_alerts, mark_events;
	uint64_t cur_seq;  /* worker: the seq of the message being handled (0: tick, person, none) */
	bool cur_applied;  /* worker: its alert writes are stored already (a replay) */
	bool store_failed; /* lock: a write was given up at stop; alerts_drain_wait fails */
};

static const struct store_actor system_actor = {"system", NULL};

/* Counts one under the lock (alerts_get_stats reads from other threads). Never with a->lock
 * held: the mutex is not recursive. */
static void count_one(struct alerts *a, uint64_t *counter)
{
	pthread_mutex_lock(&a->lock);
	(*counter)++;
	pthread_mutex_unlock(&a->lock);
}

/* Whether a store write that returned rc is tried again. Transient failures (busy, i/o, a
 * SQLite error: another process holding the write lock, say) are, after a pause that doubles
 * from ALERTS_RETRY_MIN_MS to ALERTS_RETRY_MAX_MS, for as long as the worker runs: an alarm is
 * never let go while the store may still take it. At stop the write is given up (logged) and
 * alerts_drain_wait fails from then on, so the IoT hub leaves the message in its journal for
 * the next start. Other errors (invalid, not found ...) are final. Worker thread. */
static bool retry_store(struct alerts *a, enum cd_err rc, int *attempt, const char *what)
{
	if (rc != CD_ERR_BUSY && rc != CD_ERR_IO && rc != CD_ERR_STORE)
		return false;
	pthread_mutex_lock(&a->lock);
	a->stats.store_retries++;
	if (a->stop) {
		a->store_failed = true;
		pthread_mutex_unlock(&a->lock);
		log_error("alerts: a write was given up at stop; the IoT journal keeps its message",
			  "\"write\":\"%s\",\"error\":\"%s\"", what, cd_err_name(rc));
		return false;
	}
	int ms = ALERTS_RETRY_MIN_MS << (*attempt < 5 ? *attempt : 5);
	if (ms > ALERTS_RETRY_MAX_MS)
		ms = ALERTS_RETRY_MAX_MS;
	(*attempt)++;
	if ((*attempt & (*attempt - 1)) == 0) /* 1st, 2nd, 4th ... attempt */
		log_warn("alerts: a write failed; tried again", "\"write\":\"%s\",\"error\":\"%s\",\"attempt\":%d,"
			 "\"retry_ms\":%d", what, cd_err_name(rc), *attempt, ms);
	struct timespec until;
	clock_deadline_in(&until, ms);
	while (!a->stop && pthread_cond_timedwait(&a->wake, &a->lock, &until) == 0)
		; /* enqueues signal `wake`: only stop or the time ends the pause */
	pthread_mutex_unlock(&a->lock);
	return true;
}

/* True once a write was given up at stop: later writes are not even tried (each would wait
 * the store's busy timeout), their messages stay in the journal too. Worker thread. */
static bool writes_given_up(struct alerts *a)
{
	pthread_mutex_lock(&a->lock);
	bool failed = a->store_failed;
	pthread_mutex_unlock(&a->lock);
	return failed;
}

/* ---- categories ------------------------------------------------------------------------- */

static bool tag_in(const char *tags, const char *tag)
{
	size_t n = strlen(tag);
	for (const char *p = tags ? strstr(tags, tag) : NULL; p; p = strstr(p + 1, tag)) {
		bool start = p == tags || p[-1] == ',' || p[-1] == ' ';
		bool end = p[n] == 0 || p[n] == ',' || p[n] == ' ';
		if (start && end)
			return true;
	}
	return false;
}

const char *alerts_category_for(const char *device_type, const char *tags, const char *event_type)
{
	static const struct {
		const char *type, *category;
	} by_type[] = {
	    {"smoke_detector", "H130809"},   {"electrical_fire_monitor", "H130809"},
	    {"hydrant_pressure", "H130809"}, {"uitd", "H130809"},
	    {"water_meter", "H010216"},	     {"energy_meter", "H070602"},
	    {"rfid_reader", "UM06041"},
	};
	if (tag_in(tags, "elderly_alone") || tag_in(tags, "elderly"))
		return "H090805"; /* 民政/社会服务/其他: the community's care for the person */
	if (event_type && (strcmp(event_type, "fire_alarm") == 0 || strcmp(event_type, "smoke") == 0 ||
			   strncmp(event_type, "fire", 4) == 0))
		return "H130809";
	for (size_t i = 0; device_type && i < sizeof by_type / sizeof by_type[0]; i++)
		if (strcmp(by_type[i].type, device_type) == 0)
			return by_type[i].category;
	return NULL;
}

/* ---- JSON and events ---------------------------------------------------------------------- */

static json_t *opt_string(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *opt_time(int64_t ms)
{
	char t[CLOCK_ISO_MS_LEN];
	if (!ms)
		return json_null();
	clock_iso_ms(ms, t);
	return json_string(t);
}

json_t *alerts_json(const struct store_alert *al)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer((json_int_t)al->id));
	json_object_set_new(o, "source", json_string(al->source));
	json_object_set_new(o, "rule_id", al->rule_id ? json_integer((json_int_t)al->rule_id) : json_null());
	json_object_set_new(o, "device", opt_string(al->device));
	json_object_set_new(o, "system", opt_string(al->system));
	json_object_set_new(o, "type", json_string(al->type));
	json_object_set_new(o, "level", json_string(al->level));
	json_object_set_new(o, "status", json_string(al->status));
	json_object_set_new(o, "title", json_string(al->title));
	json_object_set_new(o, "detail", json_string(al->detail));
	json_object_set_new(o, "value", al->has_value ? json_real(al->value) : json_null());
	json_object_set_new(o, "limit", al->has_value ? json_real(al->limit) : json_null());
	json_object_set_new(o, "count", json_integer((json_int_t)al->count));
	json_object_set_new(o, "point",
			    al->has_point ? json_pack("{s:f, s:f}", "lat", al->lat, "lng", al->lng)
					  : json_null());
	json_object_set_new(o, "street_code", opt_string(al->street_code));
	json_object_set_new(o, "community_code", opt_string(al->community_code));
	json_object_set_new(o, "grid_code", opt_string(al->grid_code));
	json_object_set_new(o, "category", opt_string(al->category_code));
	json_object_set_new(o, "case_ref", opt_string(al->case_ref));
	json_object_set_new(o, "unit_code", opt_string(al->unit_code));
	json_object_set_new(o, "raised_at", opt_time(al->raised_at_ms));
	json_object_set_new(o, "last_at", opt_time(al->last_at_ms));
	json_object_set_new(o, "acknowledged_at", opt_time(al->acked_at_ms));
	json_object_set_new(o, "acknowledged_by", opt_string(al->acked_by));
	json_object_set_new(o, "cleared_at", opt_time(al->cleared_at_ms));
	json_object_set_new(o, "cleared_by", opt_string(al->cleared_by));
	json_object_set_new(o, "note", opt_string(al->note));
	return o;
}

void alerts_publish(struct app *app, const char *type, const struct store_alert *al)
{
	if (!app || !app->events)
		return;
	json_t *j = alerts_json(al);
	char *payload = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	char ref[24];
	snprintf(ref, sizeof ref, "%" PRId64, al->id);
	struct event_msg m = {"alert", type, ref, al->street_code, al->unit_code, 0, payload};
	if (!payload || events_publish(app->events, &m, NULL) != CD_OK)
		log_warn("alert event not published", "\"alert\":%" PRId64 ",\"type\":\"%s\"", al->id, type);
	xfree(payload);
}

/* ---- cases ---------------------------------------------------------------------------------- */

/* Opens (or finds, on a retry) the case of alert *al and links it. Worker thread. */
static void open_case(struct alerts *a, struct store_alert *al, const char *address)
{
	struct app *app = a->app;
	if (!al->want_case || al->case_id || !app->intake)
		return;
	char ext[24], desc[2048];
	snprintf(ext, sizeof ext, "%" PRId64, al->id);
	snprintf(desc, sizeof desc, "%s。%s%s%s", al->title, al->detail,
		 al->device[0] ? " 设备 (device): " : "", al->device);
	struct intake_request in;
	memset(&in, 0, sizeof in);
	in.channel = "iot";
	in.external_id = ext;
	in.title = al->title;
	in.description = desc;
	in.has_point = al->has_point != 0;
	in.lat = al->lat;
	in.lng = al->lng;
	in.address = address && *address ? address : NULL;
	in.category = al->category_code[0] ? al->category_code : NULL;
	in.actor = "system";
	in.actor_role = "system";
	struct store_case c;
	struct json_problem p;
	bool created = false;
	memset(&p, 0, sizeof p);
	enum cd_err rc = intake_submit(app, &in, &c, &created, &p);
	if (rc == CD_ERR_INVALID && in.category && strcmp(p.field, "category") == 0) {
		in.category = NULL; /* the district's tree lacks it: let intake classify */
		rc = intake_submit(app, &in, &c, &created, &p);
	}
	if (rc == CD_ERR_INVALID && in.has_point) {
		in.has_point = false; /* outside the map: still a case, placed by a dispatcher */
		rc = intake_submit(app, &in, &c, &created, &p);
	}
	if (rc) {
		count_one(a, &a->stats.case_failures);
		log_warn("alert: no case opened", "\"alert\":%" PRId64 ",\"error\":\"%s\",\"field\":\"%s\"",
			 al->id, cd_err_name(rc), p.field);
		return;
	}
	if (created)
		count_one(a, &a->stats.cases_opened);
	struct store_alert linked;
	rc = store_alert_set_case(app->st, &system_actor, al->id, &c);
	if (rc)
		log_warn("alert: case not linked", "\"alert\":%" PRId64 ",\"case\":\"%s\",\"error\":\"%s\"",
			 al->id, c.ref, cd_err_name(rc));
	else if (store_alert_get(app->st, al->id, &linked) == CD_OK)
		*al = linked;
}

/* Writes "alert_cleared" or, with acked, "alert_acknowledged" into the history of the alert's
 * case (status unchanged), by who with the person's comment, and republishes the case. */
static void note_on_case(struct app *app, const struct store_alert *al, bool acked, const char *who,
			 const char *role)
{
	if (!al->case_id)
		return;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct store_case c;
		if (store_case_get_by_id(app->st, al->case_id, &c) != CD_OK)
			return;
		struct store_case after = c;
		struct store_case_event ev;
		memset(&ev, 0, sizeof ev);
		snprintf(ev.actor, sizeof ev.actor, "%s", who ? who : "system");
		snprintf(ev.role, sizeof ev.role, "%s", role ? role : "system");
		snprintf(ev.action, sizeof ev.action, "%s", acked ? "alert_acknowledged" : "alert_cleared");
		snprintf(ev.from_status, sizeof ev.from_status, "%s", c.status);
		snprintf(ev.to_status, sizeof ev.to_status, "%s", c.status);
		snprintf(ev.comment, sizeof ev.comment, "%s (alert %" PRId64 " %s by %s)%s%.900s",
			 acked ? "预警已确认" : "预警已解除", al->id, acked ? "acknowledged" : "cleared",
			 who ? who : "system", al->note[0] ? ": " : "", al->note);
		snprintf(ev.data, sizeof ev.data, "{\"alert_id\":%" PRId64 ",\"level\":\"%s\"}", al->id,
			 al->level);
		struct store_actor actor = {who ? who : "system", NULL};
		enum cd_err rc = store_case_apply(app->st, &actor, c.id, c.version, &after, &ev, NULL, 0);
		if (rc == CD_ERR_CONFLICT)
			continue; /* changed meanwhile: read it again */
		if (rc == CD_OK)
			events_case(app->events, acked ? "case.alert_acknowledged" : "case.alert_cleared",
				    &after);
		else
			log_warn("alert: not noted on the case", "\"alert\":%" PRId64 ",\"acknowledged\":%d",
				 al->id, acked);
		return;
	}
}

/* ---- raising ---------------------------------------------------------------------------------- */

/* Fills the place of *al from the device. */
static void place_from_device(struct store_alert *al, const struct iot_device *dev)
{
	if (!dev)
		return;
	if (dev->has_point && !al->has_point) {
		al->has_point = 1;
		al->lat = dev->lat;
		al->lng = dev->lng;
	}
	if (!al->street_code[0]) {
		snprintf(al->street_code, sizeof al->street_code, "%s", dev->street_code);
		snprintf(al->community_code, sizeof al->community_code, "%s", dev->community_code);
		snprintf(al->grid_code, sizeof al->grid_code, "%s", dev->grid_code);
	}
}

/* Stores a new alert (or bumps the active one with its key) and opens its case. A message
 * replayed from the IoT journal whose writes are stored already (cur_applied) writes nothing:
 * *al gets the active alert with its key, if any, for the device event. */
static void raise_alert(struct alerts *a, struct store_alert *al, const struct iot_device *dev,
			const char *address)
{
	struct app *app = a->app;
	if (a->cur_applied) {
		struct store_alert held;
		al->id = store_alert_find_active(app->st, al->key, al->device, &held) == CD_OK ? held.id : 0;
		return;
	}
	if (writes_given_up(a))
		return;
	al->iot_seq = a->cur_seq;
	enum cd_err rc;
	int attempt = 0;
	do
		rc = store_alert_raise(app->st, &system_actor, al);
	while (retry_store(a, rc, &attempt, "alert raise"));
	if (rc == CD_ERR_EXISTS) { /* active already (the engine did not know): a repeat */
		attempt = 0;
		do
			rc = store_alert_bump_seq(app->st, al->id, 0, clock_wall_ms(), al->value, a->cur_seq);
		while (retry_store(a, rc, &attempt, "alert bump"));
		if (rc == CD_OK && store_alert_get(app->st, al->id, al) == CD_OK) {
			count_one(a, &a->stats.repeated);
			alerts_publish(app, "alert.repeated", al);
		}
		return;
	}
	if (rc) {
		log_error("alert not stored", "\"key\":\"%s\",\"device\":\"%s\",\"error\":\"%s\"", al->key,
			  al->device, cd_err_name(rc));
		count_one(a, &a->stats.store_failures);
		return;
	}
	count_one(a, &a->stats.raised);
	open_case(a, al, address ? address : (dev ? dev->site : NULL));
	alerts_publish(app, "alert.raised", al);
}

static void repeat_alert(struct alerts *a, const char *key, const char *device, int64_t count, double value)
{
	struct store_alert al;
	if (a->cur_applied || writes_given_up(a) || store_alert_find_active(a->app->st, key, device, &al) != CD_OK)
		return;
	enum cd_err rc;
	int attempt = 0;
	do
		rc = store_alert_bump_seq(a->app->st, al.id, count, clock_wall_ms(), value, a->cur_seq);
	while (retry_store(a, rc, &attempt, "alert bump"));
	if (rc == CD_OK && store_alert_get(a->app->st, al.id, &al) == CD_OK) {
		count_one(a, &a->stats.repeated);
		alerts_publish(a->app, "alert.repeated", &al);
	}
}

/* Clears the active alert (key, device) as "system" with `why` and notes it on its case. */
static void clear_alert(struct alerts *a, const char *key, const char *device, const char *why)
{
	struct store_alert al;
	if (a->cur_applied || writes_given_up(a) || store_alert_find_active(a->app->st, key, device, &al) != CD_OK)
		return;
	enum cd_err rc;
	int attempt = 0;
	do
		rc = store_alert_clear_seq(a->app->st, &system_actor, al.id, why, clock_wall_ms(), a->cur_seq, &al);
	while (retry_store(a, rc, &attempt, "alert clear"));
	if (rc) {
		if (rc != CD_ERR_CONFLICT)
			log_error("alert clearing not stored", "\"alert\":%" PRId64 ",\"error\":\"%s\"", al.id,
				  cd_err_name(rc));
		return;
	}
	count_one(a, &a->stats.cleared);
	note_on_case(a->app, &al, false, "system", "system");
	alerts_publish(a->app, "alert.cleared", &al);
}

struct emit_ctx {
	struct alerts *a;
	const struct iot_device *dev; /* the device of the message being handled, or NULL (tick) */
};

/* The sensor of a prefix rule's alert key "rule:<id>:<metric>", "" for "rule:<id>". */
static const char *key_metric(const char *key)
{
	const char *c = strncmp(key, "rule:", 5) == 0 ? strchr(key + 5, ':') : NULL;
	return c ? c + 1 : "";
}

/* The engine reports a change. */
static void on_rule_change(void *ctx, const struct rules_alert *ra)
{
	struct emit_ctx *ec = ctx;
	struct alerts *a = ec->a;
	char key[STORE_ALERT_KEY_MAX];
	if (ra->metric && ra->metric[0]) /* a prefix rule: one alert per sensor */
		snprintf(key, sizeof key, "rule:%" PRId64 ":%s", ra->rule->id, ra->metric);
	else
		snprintf(key, sizeof key, "rule:%" PRId64, ra->rule->id);
	if (ra->change == RULES_REPEAT) {
		repeat_alert(a, key, ra->device, ra->count, ra->value);
		return;
	}
	if (ra->change == RULES_CLEAR) {
		clear_alert(a, key, ra->device, ra->reason);
		return;
	}
	struct iot_device looked;
	const struct iot_device *dev = ec->dev && strcmp(ec->dev->id, ra->device) == 0 ? ec->dev : NULL;
	if (!dev && a->app->devices && devices_get(a->app->devices, ra->device, &looked))
		dev = &looked;
	struct store_alert al;
	memset(&al, 0, sizeof al);
	snprintf(al.key, sizeof al.key, "%s", key);
	snprintf(al.source, sizeof al.source, "rule");
	al.rule_id = ra->rule->id;
	snprintf(al.device, sizeof al.device, "%s", ra->device);
	snprintf(al.type, sizeof al.type, "%s", rules_kind_name(ra->rule->kind));
	snprintf(al.level, sizeof al.level, "%s", rules_level_name(ra->rule->level));
	snprintf(al.title, sizeof al.title, "%.100s: %.100s%s%.31s%s", ra->rule->name,
		 dev && dev->name[0] ? dev->name : ra->device, ra->metric[0] ? " (" : "", ra->metric,
		 ra->metric[0] ? ")" : "");
	snprintf(al.detail, sizeof al.detail, "%s%s%.200s", ra->reason,
		 dev && dev->site[0] ? "; 位置 (site): " : "", dev ? dev->site : "");
	al.has_value = 1;
	al.value = ra->value;
	al.limit = ra->limit;
	al.raised_at_ms = ra->ts_ms;
	place_from_device(&al, dev);
	const char *cat = ra->rule->category[0]
			      ? ra->rule->category
			      : alerts_category_for(dev ? dev->type : NULL, dev ? dev->tags : NULL, NULL);
	snprintf(al.category_code, sizeof al.category_code, "%s", cat ? cat : "");
	al.want_case = ra->rule->open_case;
	raise_alert(a, &al, dev, NULL);
}

static struct rules_device rdev(const struct iot_device *d)
{
	return (struct rules_device){d->id, d->type, d->tags};
}

static bool level_word(const char *s)
{
	enum rules_level l;
	return rules_level_parse(s, &l);
}

/* Keeps a device event for the store (written at the end of the pass). */
static void keep_event(struct alerts *a, const char *device, int64_t ts, const char *type, const char *level,
		       const char *detail, const char *source, int64_t alert_id)
{
	if (a->cur_seq && a->cur_seq <= a->mark_events)
		return; /* a replayed message whose event is stored already */
	if (a->cur_seq > a->ev_seq)
		a->ev_seq = a->cur_seq;
	if (a->evn == a->evcap) {
		a->evcap = a->evcap ? a->evcap * 2 : 16;
		a->evbuf = xrealloc(a->evbuf, a->evcap * sizeof *a->evbuf);
	}
	struct store_device_event *e = &a->evbuf[a->evn++];
	memset(e, 0, sizeof *e);
	snprintf(e->device, sizeof e->device, "%s", device);
	e->ts_ms = ts;
	snprintf(e->type, sizeof e->type, "%s", type);
	snprintf(e->level, sizeof e->level, "%s", level);
	snprintf(e->detail, sizeof e->detail, "%s", detail);
	snprintf(e->source, sizeof e->source, "%s", source);
	e->alert_id = alert_id;
}

/* One device event that arrived at arrived_ms (seen then, whatever the device's clock says). */
static void handle_event(struct alerts *a, const struct iot_device *dev, const struct iot_event *e,
			 int64_t arrived_ms)
{
	struct emit_ctx ec = {a, dev};
	struct rules_device d = rdev(dev);
	rules_seen(a->engine, &d, arrived_ms, on_rule_change, &ec);
	int64_t alert_id = 0;
	if (level_word(e->level)) {
		struct store_alert al;
		memset(&al, 0, sizeof al);
		snprintf(al.key, sizeof al.key, "event:%s", e->type);
		snprintf(al.source, sizeof al.source, "event");
		snprintf(al.device, sizeof al.device, "%s", dev->id);
		snprintf(al.type, sizeof al.type, "%s", e->type);
		snprintf(al.level, sizeof al.level, "%s", e->level);
		snprintf(al.title, sizeof al.title, "%.60s: %.160s", e->type,
			 dev->name[0] ? dev->name : dev->id);
		snprintf(al.detail, sizeof al.detail, "%.800s%s%.200s", e->detail,
			 dev->site[0] ? "; 位置 (site): " : "", dev->site);
		al.raised_at_ms = e->ts_ms;
		place_from_device(&al, dev);
		const char *cat = alerts_category_for(dev->type, dev->tags, e->type);
		snprintf(al.category_code, sizeof al.category_code, "%s", cat ? cat : "");
		al.want_case = 1;
		raise_alert(a, &al, dev, NULL);
		alert_id = al.id;
	}
	keep_event(a, dev->id, e->ts_ms, e->type, e->level, e->detail, "device", alert_id);
}

static void handle_ingest(struct alerts *a, const struct alerts_ingest *in)
{
	struct iot_device dev;
	bool have_dev = in->device[0] && a->app->devices && devices_get(a->app->devices, in->device, &dev);
	char key[STORE_ALERT_KEY_MAX];
	snprintf(key, sizeof key, "ingest:%s:%s", in->system, in->id[0] ? in->id : in->type);
	if (in->cleared) {
		clear_alert(a, key, in->device, "the sending system cleared it");
		return;
	}
	if (!level_word(in->level)) {
		if (in->device[0])
			keep_event(a, in->device, in->ts_ms, in->type, "", in->detail, in->system, 0);
		return;
	}
	struct store_alert al;
	memset(&al, 0, sizeof al);
	snprintf(al.key, sizeof al.key, "%s", key);
	snprintf(al.source, sizeof al.source, "ingest");
	snprintf(al.system, sizeof al.system, "%s", in->system);
	snprintf(al.device, sizeof al.device, "%s", in->device);
	snprintf(al.type, sizeof al.type, "%s", in->type);
	snprintf(al.level, sizeof al.level, "%s", in->level);
	if (in->title[0])
		snprintf(al.title, sizeof al.title, "%s", in->title);
	else
		snprintf(al.title, sizeof al.title, "%.60s: %.60s %.100s", in->type, in->system,
			 have_dev ? (dev.name[0] ? dev.name : dev.id) : "");
	snprintf(al.detail, sizeof al.detail, "%s", in->detail);
	al.raised_at_ms = in->ts_ms;
	if (in->has_point) {
		al.has_point = 1;
		al.lat = in->lat;
		al.lng = in->lng;
	}
	place_from_device(&al, have_dev ? &dev : NULL);
	const char *cat = in->category[0] ? in->category
					  : alerts_category_for(have_dev ? dev.type : NULL,
								have_dev ? dev.tags : NULL, in->type);
	snprintf(al.category_code, sizeof al.category_code, "%s", cat ? cat : "");
	al.want_case = 1;
	raise_alert(a, &al, have_dev ? &dev : NULL, in->address);
	if (in->device[0])
		keep_event(a, in->device, in->ts_ms, in->type, in->level, in->detail, in->system, al.id);
}

/* ---- rules from the store ------------------------------------------------------------------ */

/* FNV-1a over the stored rules (ids, times, bodies): another process's change moves it. */
static uint64_t rules_fingerprint(const struct store_rule *rows, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ n;
	for (size_t i = 0; i < n; i++) {
		int64_t nums[3] = {rows[i].id, rows[i].created_at, rows[i].updated_at};
		const unsigned char *p = (const unsigned char *)nums;
		for (size_t k = 0; k < sizeof nums; k++)
			h = (h ^ p[k]) * 1099511628211ULL;
		for (p = (const unsigned char *)rows[i].body; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
	}
	return h;
}

/* Loads the rules from the store into the engine; only_if_changed skips it when the stored
 * rules are what was loaded last (the periodic check for other processes' changes). */
static void load_rules(struct alerts *a, bool only_if_changed)
{
	struct store_rule *rows = NULL;
	size_t n = 0;
	if (store_rules_list(a->app->st, &rows, &n) != CD_OK) {
		log_warn("alerts: rules not loaded", NULL);
		return;
	}
	uint64_t fp = rules_fingerprint(rows, n);
	if (only_if_changed && fp == a->rules_fp) {
		xfree(rows);
		return;
	}
	a->rules_fp = fp;
	if (only_if_changed)
		log_info("alerts: rules changed in the store, reloaded", "\"rules\":%zu", n);
	struct rules_rule *rules = xcalloc(n ? n : 1, sizeof *rules);
	size_t used = 0;
	for (size_t i = 0; i < n && used < RULES_MAX; i++) {
		json_t *j = json_loads(rows[i].body, 0, NULL);
		struct json_problem p;
		if (j) {
			json_object_del(j, "id");
			if (rules_from_json(j, &rules[used], &p) == CD_OK) {
				rules[used].id = rows[i].id;
				used++;
			} else {
				log_warn("alerts: a stored rule is not valid",
					 "\"rule\":%" PRId64 ",\"field\":\"%s\"", rows[i].id, p.field);
			}
			json_decref(j);
		}
	}
	if (rules_set(a->engine, rules, used) != CD_OK)
		log_warn("alerts: rules refused by the engine", NULL);
	pthread_mutex_lock(&a->lock);
	a->stats.rules = used;
	pthread_mutex_unlock(&a->lock);
	xfree(rules);
	xfree(rows);
}

/* ---- the worker ----------------------------------------------------------------------------- */

static void seed_one(void *ctx, const struct iot_device *dev)
{
	struct alerts *a = ctx;
	if (!dev->active)
		return;
	struct rules_device d = rdev(dev);
	/* never heard from: silence counts from the server's start. Not rules_seen: this is the
	 * same old time every minute, not news (it cleared and re-raised absence alerts). */
	rules_seed(a->engine, &d, dev->last_seen_ms ? dev->last_seen_ms : a->started_ms);
}

static void handle(struct alerts *a, struct msg *m)
{
	a->cur_seq = m->seq;
	a->cur_applied = m->seq && m->seq <= a->mark_alerts;
	struct emit_ctx ec = {a, &m->dev};
	struct rules_device d = rdev(&m->dev);
	switch (m->kind) {
	case M_TELEMETRY:
		/* seen when it arrived; the device's own time only for the readings (a device clock in
		 * 2099 used to keep absence rules from ever raising) */
		rules_seen(a->engine, &d, m->arrived_ms, on_rule_change, &ec);
		for (size_t i = 0; i < m->u.t.n && i < IOT_MAX_VALUES; i++)
			rules_sample_arrived(a->engine, &d, m->u.t.v[i].metric, m->u.t.ts_ms, m->arrived_ms,
					     m->u.t.v[i].value, on_rule_change, &ec);
		count_one(a, &a->stats.telemetry);
		break;
	case M_EVENT:
		handle_event(a, &m->dev, &m->u.e, m->arrived_ms);
		count_one(a, &a->stats.events);
		break;
	case M_STATUS:
		if (m->u.s.online)
			rules_seen(a->engine, &d, m->u.s.ts_ms, on_rule_change, &ec);
		count_one(a, &a->stats.status);
		break;
	case M_INGEST:
		handle_ingest(a, &m->u.in);
		count_one(a, &a->stats.ingested);
		break;
	case M_CLEARED: {
		struct store_alert al;
		if (store_alert_get(a->app->st, m->u.alert_id, &al) == CD_OK) {
			if (al.rule_id)
				rules_cleared(a->engine, al.rule_id, al.device, key_metric(al.key),
					      al.cleared_at_ms ? al.cleared_at_ms : clock_wall_ms());
			note_on_case(a->app, &al, false, al.cleared_by, NULL);
		}
		break;
	}
	case M_RULES:
		load_rules(a, false);
		break;
	case M_OPEN_CASE: {
		struct store_alert al;
		if (store_alert_get(a->app->st, m->u.alert_id, &al) == CD_OK && !al.case_id &&
		    strcmp(al.status, "cleared") != 0) {
			open_case(a, &al, NULL);
			if (al.case_id)
				alerts_publish(a->app, "alert.updated", &al);
		}
		break;
	}
	}
}

static void *worker(void *arg)
{
	struct alerts *a = arg;
	int64_t next_tick = clock_wall_ms() + ALERTS_TICK_MS;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->head && !a->stop && clock_wall_ms() < next_tick) {
			struct timespec until = {(time_t)(next_tick / 1000),
						 (long)(next_tick % 1000) * 1000000L};
			pthread_cond_timedwait(&a->wake, &a->lock, &until);
		}
		if (a->stop && !a->head)
			break;
		struct msg *batch = a->head;
		uint64_t taken = a->queued_seq;
		a->head = a->tail = NULL;
		a->queued = a->queued_telemetry = 0;
		a->busy = true;
		pthread_mutex_unlock(&a->lock);

		for (struct msg *m = batch, *next; m; m = next) {
			next = m->next;
			handle(a, m);
			xfree(m);
		}
		a->cur_seq = 0; /* the tick's writes belong to no message */
		a->cur_applied = false;
		int64_t now = clock_wall_ms();
		if (now >= next_tick) {
			if (a->app->devices && now >= a->next_seed_ms) {
				devices_each(a->app->devices, seed_one, a);
			}
			if (now >= a->next_seed_ms) {
				load_rules(a, true); /* e.g. `citydesk rules import` while serving */
				a->next_seed_ms = now + ALERTS_SEED_MS;
			}
			struct emit_ctx ec = {a, NULL};
			rules_tick(a->engine, now, on_rule_change, &ec);
			next_tick = now + ALERTS_TICK_MS;
		}
		if ((a->evn || a->ev_seq) && !writes_given_up(a)) {
			enum cd_err rc;
			int attempt = 0;
			do
				rc = store_device_events_add_seq(a->app->st, a->evbuf, a->evn, a->ev_seq);
			while (retry_store(a, rc, &attempt, "device events"));
			if (rc)
				log_error("alerts: device events not stored", "\"count\":%zu,\"error\":\"%s\"", a->evn,
					  cd_err_name(rc));
		}
		a->evn = 0;
		a->ev_seq = 0;

		pthread_mutex_lock(&a->lock);
		a->busy = false;
		a->done_seq = taken;
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void enqueue(struct alerts *a, struct msg *m)
{
	m->next = NULL;
	m->arrived_ms = clock_wall_ms(); /* the hub's thread, right after it marked the device seen */
	pthread_mutex_lock(&a->lock);
	if (m->kind == M_TELEMETRY && a->queued_telemetry >= ALERTS_TELEMETRY_QUEUE_MAX) {
		a->stats.dropped++; /* a->lock is held (count_one would lock it again: deadlock) */
		pthread_mutex_unlock(&a->lock);
		xfree(m);
		return;
	}
	if (a->tail)
		a->tail->next = m;
	else
		a->head = m;
	a->tail = m;
	a->queued++;
	if (m->kind == M_TELEMETRY)
		a->queued_telemetry++;
	a->queued_seq++;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

static struct msg *msg_new(enum msg_kind kind, const struct iot_device *dev)
{
	struct msg *m = xmalloc(sizeof *m);
	memset(m, 0, offsetof(struct msg, u));
	m->kind = kind;
	if (dev)
		m->dev = *dev;
	return m;
}

void alerts_on_telemetry(struct alerts *a, const struct iot_device *dev, const struct iot_telemetry *t)
{
	alerts_on_telemetry_seq(a, dev, t, 0);
}

void alerts_on_telemetry_seq(struct alerts *a, const struct iot_device *dev, const struct iot_telemetry *t,
			     uint64_t seq)
{
	if (!a || !dev || !t)
		return;
	struct msg *m = msg_new(M_TELEMETRY, dev);
	m->seq = seq;
	m->u.t = *t;
	enqueue(a, m);
}

void alerts_on_event(struct alerts *a, const struct iot_device *dev, const struct iot_event *e)
{
	alerts_on_event_seq(a, dev, e, 0);
}

void alerts_on_event_seq(struct alerts *a, const struct iot_device *dev, const struct iot_event *e, uint64_t seq)
{
	if (!a || !dev || !e)
		return;
	struct msg *m = msg_new(M_EVENT, dev);
	m->seq = seq;
	m->u.e = *e;
	enqueue(a, m);
}

void alerts_on_status(struct alerts *a, const struct iot_device *dev, bool online, int64_t ts_ms)
{
	alerts_on_status_seq(a, dev, online, ts_ms, 0);
}

void alerts_on_status_seq(struct alerts *a, const struct iot_device *dev, bool online, int64_t ts_ms,
			  uint64_t seq)
{
	if (!a || !dev)
		return;
	struct msg *m = msg_new(M_STATUS, dev);
	m->seq = seq;
	m->u.s.online = online;
	m->u.s.ts_ms = ts_ms;
	enqueue(a, m);
}

void alerts_ingest(struct alerts *a, const struct alerts_ingest *in)
{
	alerts_ingest_seq(a, in, 0);
}

void alerts_ingest_seq(struct alerts *a, const struct alerts_ingest *in, uint64_t seq)
{
	if (!a || !in)
		return;
	struct msg *m = msg_new(M_INGEST, NULL);
	m->seq = seq;
	m->u.in = *in;
	enqueue(a, m);
}

void alerts_ingest_key_hash(const char *key, char hash[STORE_HASH_HEX])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, (const unsigned char *)key, strlen(key));
	sodium_bin2hex(hash, STORE_HASH_HEX, d, sizeof d);
}

void alerts_ingest_key_new(char key[ALERTS_INGEST_KEY_MAX], char hash[STORE_HASH_HEX])
{
	unsigned char raw[32];
	char hex[65];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
	snprintf(key, ALERTS_INGEST_KEY_MAX, "cdi_%s", hex);
	sodium_memzero(raw, sizeof raw);
	alerts_ingest_key_hash(key, hash);
}

bool alerts_ingest_check(struct store *st, const char *system, const char *key)
{
	char want[STORE_HASH_HEX], got[STORE_HASH_HEX];
	alerts_ingest_key_hash(key ? key : "", got);
	if (!key || store_ingest_get(st, system, want) != CD_OK)
		return false;
	return sodium_memcmp(want, got, 64) == 0;
}

void alerts_rules_changed(struct alerts *a)
{
	if (a)
		enqueue(a, msg_new(M_RULES, NULL));
}

void alerts_drain(struct alerts *a)
{
	enum cd_err rc = alerts_drain_wait(a, -1); /* no limit: only a stop ends it early */
	(void)rc;
}

enum cd_err alerts_drain_wait(struct alerts *a, int timeout_ms)
{
	if (!a)
		return CD_OK;
	struct timespec until;
	if (timeout_ms >= 0)
		clock_deadline_in(&until, timeout_ms);
	pthread_mutex_lock(&a->lock);
	uint64_t want = a->queued_seq;
	bool timed_out = false;
	while (a->done_seq < want && !a->stop && !timed_out) {
		if (timeout_ms < 0)
			pthread_cond_wait(&a->idle, &a->lock);
		else
			timed_out = pthread_cond_timedwait(&a->idle, &a->lock, &until) != 0;
	}
	enum cd_err rc = a->store_failed ? CD_ERR_IO : a->done_seq >= want ? CD_OK : CD_ERR_BUSY;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void alerts_replay_from(struct alerts *a, uint64_t journal_last_seq)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->mark_alerts > journal_last_seq || a->mark_events > journal_last_seq) {
		/* The journal that numbered them is gone (a data directory restored without it): its
		 * seqs start again, and the marks would skip new messages. */
		log_warn("alerts: replay marks are ahead of the IoT journal; ignored",
			 "\"alerts_seq\":%llu,\"events_seq\":%llu,\"journal_seq\":%llu",
			 (unsigned long long)a->mark_alerts, (unsigned long long)a->mark_events,
			 (unsigned long long)journal_last_seq);
		a->mark_alerts = a->mark_events = 0;
	}
	pthread_mutex_unlock(&a->lock);
}

enum cd_err alerts_start(struct app *app, struct alerts **out)
{
	*out = NULL;
	struct alerts *a = xcalloc(1, sizeof *a);
	a->app = app;
	a->engine = rules_new();
	a->started_ms = clock_wall_ms();
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	pthread_cond_init(&a->idle, NULL);
	load_rules(a, false);
	if (store_alerts_marks(app->st, &a->mark_alerts, &a->mark_events) != CD_OK)
		log_warn("alerts: replay marks not read; a replay may repeat alerts", NULL);
	/* the active alerts: de-duplicated by the engine, and cases still to open */
	struct store_alert *act = NULL;
	size_t n = 0;
	if (store_alerts_active(app->st, &act, &n) == CD_OK) {
		for (size_t i = 0; i < n; i++) {
			if (act[i].rule_id)
				rules_restore_open(a->engine, act[i].rule_id, act[i].device,
						   key_metric(act[i].key), (uint32_t)act[i].count);
			if (act[i].want_case && !act[i].case_id) {
				struct msg *m = msg_new(M_OPEN_CASE, NULL);
				m->u.alert_id = act[i].id;
				enqueue(a, m);
			}
		}
		xfree(act);
	}
	int err = pthread_create(&a->thread, NULL, worker, a);
	if (err) {
		log_error("alerts: cannot start the worker", "\"errno\":%d", err);
		for (struct msg *m = a->head, *next; m; m = next) {
			next = m->next;
			xfree(m);
		}
		rules_free(a->engine);
		xfree(a);
		return CD_ERR_IO;
	}
	*out = a;
	return CD_OK;
}

void alerts_stop(struct alerts *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->wake);
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	for (struct msg *m = a->head, *next; m; m = next) {
		next = m->next;
		xfree(m);
	}
	rules_free(a->engine);
	xfree(a->evbuf);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	pthread_cond_destroy(&a->idle);
	xfree(a);
}

enum cd_err alerts_act(struct app *app, const struct store_actor *actor, const char *role, int64_t id,
		       bool clear, const char *comment, struct store_alert *out)
{
	struct store_alert al;
	int64_t at = clock_wall_ms();
	enum cd_err rc = clear ? store_alert_clear(app->st, actor, id, comment, at, &al)
			       : store_alert_ack(app->st, actor, id, comment, at, &al);
	if (rc)
		return rc;
	alerts_publish(app, clear ? "alert.cleared" : "alert.acknowledged", &al);
	if (!clear) /* on the caller's thread: the engine has nothing to do with it */
		note_on_case(app, &al, true, actor->name, role);
	if (clear) {
		if (app->alerts) {
			struct msg *m = msg_new(M_CLEARED, NULL);
			m->u.alert_id = id;
			enqueue(app->alerts, m);
			count_one(app->alerts, &app->alerts->stats.cleared);
		} else {
			note_on_case(app, &al, false, actor->name, role);
		}
	}
	if (out)
		*out = al;
	return CD_OK;
}

void alerts_get_stats(struct alerts *a, struct alerts_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	out->queued = a->queued;
	pthread_mutex_unlock(&a->lock);
}

enum cd_err alerts_metrics(struct alerts *a, struct buf *out)
{
	struct alerts_stats s;
	alerts_get_stats(a, &s);
	return buf_printf(
	    out,
	    "# HELP citydesk_alerts_total Alert changes written, by kind.\n"
	    "# TYPE citydesk_alerts_total counter\n"
	    "citydesk_alerts_total{change=\"raised\"} %" PRIu64 "\n"
	    "citydesk_alerts_total{change=\"repeated\"} %" PRIu64 "\n"
	    "citydesk_alerts_total{change=\"cleared\"} %" PRIu64 "\n"
	    "# HELP citydesk_alerts_messages_total Messages the alerts worker handled, by kind.\n"
	    "# TYPE citydesk_alerts_messages_total counter\n"
	    "citydesk_alerts_messages_total{kind=\"telemetry\"} %" PRIu64 "\n"
	    "citydesk_alerts_messages_total{kind=\"event\"} %" PRIu64 "\n"
	    "citydesk_alerts_messages_total{kind=\"status\"} %" PRIu64 "\n"
	    "citydesk_alerts_messages_total{kind=\"ingest\"} %" PRIu64 "\n"
	    "# HELP citydesk_alerts_telemetry_dropped_total Telemetry dropped at the worker's full queue.\n"
	    "# TYPE citydesk_alerts_telemetry_dropped_total counter\n"
	    "citydesk_alerts_telemetry_dropped_total %" PRIu64 "\n"
	    "# HELP citydesk_alerts_cases_total Cases opened for alerts, and failures to open one.\n"
	    "# TYPE citydesk_alerts_cases_total counter\n"
	    "citydesk_alerts_cases_total{result=\"opened\"} %" PRIu64 "\n"
	    "citydesk_alerts_cases_total{result=\"failed\"} %" PRIu64 "\n"
	    "# HELP citydesk_alerts_queued Messages waiting for the alerts worker.\n"
	    "# TYPE citydesk_alerts_queued gauge\n"
	    "citydesk_alerts_queued %" PRIu64 "\n"
	    "# HELP citydesk_alerts_rules Rules in use.\n"
	    "# TYPE citydesk_alerts_rules gauge\n"
	    "citydesk_alerts_rules %" PRIu64 "\n",
	    s.raised, s.repeated, s.cleared, s.telemetry, s.events, s.status, s.ingested, s.dropped,
	    s.cases_opened, s.case_failures, s.queued, s.rules);
}
