/* The IoT hub (app/iot.h): one bounded queue that every source writes into and one worker
 * thread that reads it, so a slow store or a busy rule never stalls the MQTT loop or the
 * GB/T 26875.3 listener, and messages from one device are handled in the order they came. A
 * full queue makes the producer wait (the broker then holds messages in its own queue) rather
 * than drop anything: an alarm must not be lost. Every message is first written to the hub's
 * journal (app/iot_journal.h), so what was acknowledged survives kill -9: a restart replays what
 * the stores had not got. A ticker marks silent devices offline, keeps the broker's credentials
 * in step with the registry, and checkpoints the journal. */
#include "app/iot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "app/alerts.h"
#include "app/app.h"
#include "app/devices.h"
#include "app/events.h"
#include "app/gb26875_bridge.h"
#include "app/iot_journal.h"
#include "app/mqtt_topics.h"
#include "app/series.h"
#include "net/gb26875.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define HUB_QUEUE_CAP 4096         /* messages waiting for the worker */
#define HUB_BATCH 64               /* taken from the queue under one lock */
#define DEVICE_TIMEOUT_MS (5 * 60 * 1000) /* no data and no heartbeat for this long → offline */
#define HUB_CHECKPOINT_WAIT_MS 500 /* a tick waits this long for each store before it skips the mark */
#define HUB_STOP_WAIT_MS 15000     /* the last checkpoint at stop waits this long */

enum hub_kind { HUB_TELEMETRY, HUB_EVENT, HUB_STATUS, HUB_INGEST };

struct hub_msg {
	enum hub_kind kind;
	enum iot_source src;
	uint64_t seq; /* its record in the journal */
	union {
		struct iot_telemetry t;
		struct iot_event e;
		struct iot_status s;
		struct alerts_ingest in;
	} u;
};

struct iot_hub {
	struct app *app;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, stopped_cv;
	struct hub_msg *ring; /* HUB_QUEUE_CAP slots */
	size_t head, count;
	bool stopping;                   /* the worker drains the queue and ends */
	bool ticker_stopping;            /* the ticker ends (first: it calls into the MQTT bridge) */
	pthread_t worker, ticker;
	bool worker_started, ticker_started;
	uint64_t cred_version;           /* registry credentials last sent to the broker */
	struct mqtt_bridge *mqtt;        /* NULL when IoT listeners are off */
	struct gb_listener *gb;          /* NULL when IoT listeners are off */
	atomic_ullong received[IOT_SRC_COUNT];
	atomic_ullong unknown_device;    /* dropped: the registry does not know the device */
	atomic_ullong handled;
	struct iot_journal *journal;     /* DATA/iot.journal: every message before it is acknowledged */
	atomic_ullong handed_seq;        /* journal seq of the last message the worker handed on */
	uint64_t marked_seq;             /* the last seq marked handled (ticker, then iot_stop) */
	bool accepting;                  /* mu: the replay is done, new messages may come (in seq order) */
	uint64_t series_dropped;         /* worker: series_stats.dropped last seen */
	bool handoff_lost;               /* worker: a message was let go: handed_seq moves no more */
	bool checkpoint_behind;          /* ticker: the last checkpoint found a store not done (logged once) */
};

static const char *const source_names[IOT_SRC_COUNT] = {"mqtt", "http", "gb26875", "ingest"};

/* Sources whose caller acknowledges to a device: they wait until the message is durable. */
static bool hub_waits(enum iot_source src)
{
	return src == IOT_SRC_HTTP || src == IOT_SRC_GB26875;
}

/* The journal record of m: its payload into rec, its kind into *kind. */
static enum cd_err hub_pack(const struct hub_msg *m, unsigned char rec[IOT_JOURNAL_PACK_MAX], size_t *len,
			    unsigned *kind)
{
	switch (m->kind) {
	case HUB_TELEMETRY:
		*kind = IOT_JOURNAL_TELEMETRY;
		return iot_journal_pack_telemetry(&m->u.t, rec, len);
	case HUB_EVENT:
		*kind = IOT_JOURNAL_EVENT;
		return iot_journal_pack_event(&m->u.e, rec, len);
	case HUB_STATUS:
		*kind = IOT_JOURNAL_STATUS;
		return iot_journal_pack_status(&m->u.s, rec, len);
	case HUB_INGEST:
		*kind = IOT_JOURNAL_INGEST;
		return iot_journal_pack_ingest(&m->u.in, rec, len);
	}
	return CD_ERR_INVALID;
}

/* Puts m on the ring, waiting while it is full. Hub locked; false when stopping. */
static bool hub_enqueue_locked(struct iot_hub *h, const struct hub_msg *m)
{
	while (h->count == HUB_QUEUE_CAP && !h->stopping)
		pthread_cond_wait(&h->not_full, &h->mu);
	if (h->stopping)
		return false;
	h->ring[(h->head + h->count) % HUB_QUEUE_CAP] = *m;
	h->count++;
	pthread_cond_signal(&h->not_empty);
	return true;
}

/* Journals m and puts it on the queue (waiting while it is full); when `durable`, then waits
 * until its record is on disk. *seq (may be NULL) gets the record's number. */
static enum cd_err hub_put(struct app *app, struct hub_msg *m, bool durable, uint64_t *seq)
{
	struct iot_hub *h = app->iot;
	if (!h || !h->journal)
		return CD_ERR_BUSY;
	unsigned char *rec = xmalloc(IOT_JOURNAL_PACK_MAX);
	size_t len = 0;
	unsigned kind = 0;
	enum cd_err rc = hub_pack(m, rec, &len, &kind);
	if (rc) {
		xfree(rec);
		return rc;
	}
	atomic_fetch_add(&h->received[m->src], 1);
	pthread_mutex_lock(&h->mu);
	/* The seq is taken under the hub's lock, with the ring slot: the ring is then in journal
	 * order, the worker hands messages on in seq order, and "everything up to the last seq
	 * handed on" is true when the ticker checkpoints it. */
	while (h->count == HUB_QUEUE_CAP && !h->stopping)
		pthread_cond_wait(&h->not_full, &h->mu);
	rc = h->stopping || !h->accepting ? CD_ERR_BUSY
					  : iot_journal_append_nowait(h->journal, kind, m->src, rec, len, &m->seq);
	if (!rc)
		(void)hub_enqueue_locked(h, m); /* room was made above, under the same lock */
	pthread_mutex_unlock(&h->mu);
	xfree(rec);
	/* Waiting outside the lock: other producers join the same group commit meanwhile. */
	if (!rc && durable)
		rc = iot_journal_wait(h->journal, m->seq);
	if (seq)
		*seq = rc ? 0 : m->seq;
	if (rc)
		log_warn("device message not accepted", "\"source\":\"%s\",\"error\":\"%s\"", source_names[m->src],
			 cd_err_name(rc));
	return rc;
}

/* Journals and queues one message of `kind`, its body (size bytes, the union member's type)
 * copied in; waits for the disk when the source acknowledges to a device. */
static enum cd_err hub_in(struct app *app, enum hub_kind kind, enum iot_source src, const void *body, size_t size)
{
	struct hub_msg *m = xmalloc(sizeof *m); /* about 1.4 KB: off the caller's stack */
	*m = (struct hub_msg){.kind = kind, .src = src};
	memcpy(&m->u, body, size);
	enum cd_err rc = hub_put(app, m, hub_waits(src), NULL);
	xfree(m);
	return rc;
}

enum cd_err iot_telemetry_in(struct app *app, enum iot_source src, const struct iot_telemetry *t)
{
	return hub_in(app, HUB_TELEMETRY, src, t, sizeof *t);
}

enum cd_err iot_event_in(struct app *app, enum iot_source src, const struct iot_event *e)
{
	return hub_in(app, HUB_EVENT, src, e, sizeof *e);
}

enum cd_err iot_status_in(struct app *app, enum iot_source src, const struct iot_status *s)
{
	return hub_in(app, HUB_STATUS, src, s, sizeof *s);
}

enum cd_err iot_ingest_in(struct app *app, const struct alerts_ingest *items, size_t n)
{
	struct hub_msg *m = xmalloc(sizeof *m);
	enum cd_err rc = CD_OK;
	uint64_t first = 0, last = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		*m = (struct hub_msg){.kind = HUB_INGEST, .src = IOT_SRC_INGEST};
		m->u.in = items[i];
		rc = hub_put(app, m, false, &last);
		if (!rc && !first)
			first = last;
	}
	xfree(m);
	if (!rc && last) /* all n, even when a failed write refused one in the middle */
		rc = iot_journal_wait_range(app->iot->journal, first, last);
	return rc;
}

/* Puts a record from the journal back on the queue at iot_start (it keeps its seq). */
static enum cd_err hub_replay_one(void *ctx, uint64_t seq, unsigned kind, unsigned src, const void *p, size_t len)
{
	struct iot_hub *h = ctx;
	struct hub_msg *m = xmalloc(sizeof *m);
	*m = (struct hub_msg){.src = src < IOT_SRC_COUNT ? (enum iot_source)src : IOT_SRC_INGEST, .seq = seq};
	enum cd_err rc = CD_ERR_CORRUPT;
	switch (kind) {
	case IOT_JOURNAL_TELEMETRY:
		m->kind = HUB_TELEMETRY;
		rc = iot_journal_unpack_telemetry(p, len, &m->u.t);
		break;
	case IOT_JOURNAL_EVENT:
		m->kind = HUB_EVENT;
		rc = iot_journal_unpack_event(p, len, &m->u.e);
		break;
	case IOT_JOURNAL_STATUS:
		m->kind = HUB_STATUS;
		rc = iot_journal_unpack_status(p, len, &m->u.s);
		break;
	case IOT_JOURNAL_INGEST:
		m->kind = HUB_INGEST;
		rc = iot_journal_unpack_ingest(p, len, &m->u.in);
		break;
	}
	if (rc) {
		/* Whole and CRC-checked, yet not ours: a newer format, say. Skipped, never guessed at. */
		log_error("iot journal record not understood; skipped", "\"seq\":%llu,\"kind\":%u",
			  (unsigned long long)seq, kind);
	} else {
		pthread_mutex_lock(&h->mu);
		bool queued = hub_enqueue_locked(h, m);
		pthread_mutex_unlock(&h->mu);
		if (!queued)
			rc = CD_ERR_BUSY;
	}
	xfree(m);
	return rc == CD_ERR_CORRUPT ? CD_OK : rc;
}

bool iot_device_for_address(struct app *app, const char *address_hex, char device[IOT_ID_MAX])
{
	return app->devices && devices_find_address(app->devices, address_hex, device);
}

/* Tells the bus (and so the console) that a device came online or went offline. */
static void publish_status(struct app *app, const struct iot_device *dev, bool online)
{
	if (!app->events)
		return;
	char payload[256];
	snprintf(payload, sizeof payload, "{\"device\":\"%s\",\"online\":%s}", dev->id, online ? "true" : "false");
	struct event_msg ev = {
		.kind = "alert",
		.type = online ? "device.online" : "device.offline",
		.ref = dev->id,
		.street_code = dev->street_code,
		.payload = payload,
	};
	if (events_publish(app->events, &ev, NULL))
		log_warn("device status not published", "\"device\":\"%s\"", dev->id);
}

static bool hub_stopping(struct iot_hub *h)
{
	pthread_mutex_lock(&h->mu);
	bool stopping = h->stopping;
	pthread_mutex_unlock(&h->mu);
	return stopping;
}

/* series_append answers false for telemetry it dropped (its queue stayed full for block_ms) and
 * for telemetry without a valid value. A dropped message is offered again (the producers wait
 * meanwhile, as for a full ring), so that the checkpoint never marks as stored what the series
 * let go; false only when stopping made us give up. */
static bool hub_series_append(struct iot_hub *h, const struct iot_telemetry *t)
{
	while (!series_append(h->app->series, t)) {
		struct series_stats st;
		series_get_stats(h->app->series, &st);
		bool dropped = st.dropped != h->series_dropped; /* the worker is its only producer */
		h->series_dropped = st.dropped;
		if (!dropped)
			return true; /* nothing valid in it: refused, counted as rejected */
		if (hub_stopping(h))
			return false;
	}
	return true;
}

/* Handles one message on the worker thread. */
static void hub_handle(struct iot_hub *h, const struct hub_msg *m)
{
	struct app *app = h->app;
	if (m->kind == HUB_INGEST) { /* not necessarily about a registered device */
		alerts_ingest_seq(app->alerts, &m->u.in, m->seq);
		atomic_fetch_add(&h->handled, 1);
		return;
	}
	const char *id = m->kind == HUB_TELEMETRY ? m->u.t.device : m->kind == HUB_EVENT ? m->u.e.device : m->u.s.device;
	struct iot_device dev;
	if (!devices_get(app->devices, id, &dev) || !dev.active) {
		unsigned long long n = atomic_fetch_add(&h->unknown_device, 1);
		if ((n & (n + 1)) == 0) /* 1st, 2nd, 4th, 8th ...: enough to notice, never a flood */
			log_warn("message from an unknown device dropped",
				 "\"device\":\"%s\",\"source\":\"%s\",\"count\":%llu", id, source_names[m->src], n + 1);
		return;
	}
	/* "Seen" is when the message arrived, not the device's own clock: a device that sends
	 * buffered readings, or whose clock is behind, would otherwise look silent and flap. */
	int64_t arrived = clock_wall_ms();
	switch (m->kind) {
	case HUB_TELEMETRY:
		if (devices_seen(app->devices, id, arrived)) {
			publish_status(app, &dev, true);
			alerts_on_status_seq(app->alerts, &dev, true, arrived, m->seq);
		}
		if (!hub_series_append(h, &m->u.t))
			h->handoff_lost = true; /* left for the replay at the next start */
		alerts_on_telemetry_seq(app->alerts, &dev, &m->u.t, m->seq);
		break;
	case HUB_EVENT:
		if (devices_seen(app->devices, id, arrived)) {
			publish_status(app, &dev, true);
			alerts_on_status_seq(app->alerts, &dev, true, arrived, m->seq);
		}
		alerts_on_event_seq(app->alerts, &dev, &m->u.e, m->seq);
		break;
	case HUB_STATUS:
		if (devices_set_online(app->devices, id, m->u.s.online, arrived)) {
			publish_status(app, &dev, m->u.s.online);
			alerts_on_status_seq(app->alerts, &dev, m->u.s.online, arrived, m->seq);
		}
		break;
	case HUB_INGEST:
		break;
	}
	atomic_fetch_add(&h->handled, 1);
}

static void *hub_worker(void *arg)
{
	struct iot_hub *h = arg;
	struct hub_msg *batch = xcalloc(HUB_BATCH, sizeof *batch);
	for (;;) {
		pthread_mutex_lock(&h->mu);
		while (h->count == 0 && !h->stopping)
			pthread_cond_wait(&h->not_empty, &h->mu);
		if (h->count == 0 && h->stopping) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		size_t n = h->count < HUB_BATCH ? h->count : HUB_BATCH;
		for (size_t i = 0; i < n; i++)
			batch[i] = h->ring[(h->head + i) % HUB_QUEUE_CAP];
		h->head = (h->head + n) % HUB_QUEUE_CAP;
		h->count -= n;
		pthread_cond_broadcast(&h->not_full);
		pthread_mutex_unlock(&h->mu);
		for (size_t i = 0; i < n; i++) {
			hub_handle(h, &batch[i]);
			if (!h->handoff_lost)
				atomic_store(&h->handed_seq, batch[i].seq); /* the ring is in seq order */
		}
	}
	xfree(batch);
	return NULL;
}

struct offline_ctx {
	struct app *app;
	int64_t now;
};

static void went_offline(void *ctx, const struct iot_device *dev)
{
	struct offline_ctx *c = ctx;
	publish_status(c->app, dev, false);
	alerts_on_status(c->app->alerts, dev, false, c->now);
}

struct cred_list {
	size_t n, cap;
	char **ids, **hashes;
};

static void collect_cred(void *ctx, const char *id, const char *mqtt_hash)
{
	struct cred_list *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xrealloc(l->ids, l->cap * sizeof *l->ids);
		l->hashes = xrealloc(l->hashes, l->cap * sizeof *l->hashes);
	}
	l->ids[l->n] = xstrdup(id);
	l->hashes[l->n] = xstrdup(mqtt_hash);
	l->n++;
}

/* Sends the registry's device credentials to the broker when they changed. */
static void sync_credentials(struct iot_hub *h)
{
	if (!h->mqtt)
		return;
	uint64_t v = devices_version(h->app->devices);
	if (v == h->cred_version)
		return;
	struct cred_list l = {0};
	h->cred_version = devices_credentials(h->app->devices, collect_cred, &l);
	mqtt_bridge_set_credentials(h->mqtt, (const char *const *)l.ids, (const char *const *)l.hashes, l.n);
	for (size_t i = 0; i < l.n; i++) {
		xfree(l.ids[i]);
		xfree(l.hashes[i]);
	}
	xfree(l.ids);
	xfree(l.hashes);
}

/* Marks in the journal what the stores have: everything the worker handed on before the two
 * waits below is stored once both answer CD_OK (each waits for what was queued before it, and
 * neither counts a write that failed: the series keeps a failed batch and the alerts worker a
 * failed write, both retrying). When either is not done within timeout_ms, nothing is marked:
 * the next tick tries again, and a crash meanwhile replays those messages. Ticker thread, then
 * iot_stop. */
static void hub_checkpoint(struct iot_hub *h, int timeout_ms)
{
	uint64_t seq = atomic_load(&h->handed_seq);
	if (!h->journal || seq <= h->marked_seq)
		return;
	enum cd_err rc = series_flush_wait(h->app->series, timeout_ms);
	const char *behind = rc ? "series" : NULL;
	if (!rc) {
		rc = alerts_drain_wait(h->app->alerts, timeout_ms);
		behind = rc ? "alerts" : NULL;
	}
	if (rc) {
		if (!h->checkpoint_behind) /* once per episode, not every second */
			log_warn("iot journal not checkpointed: a store has not taken everything yet",
				 "\"store\":\"%s\",\"error\":\"%s\",\"marked_seq\":%llu,\"handed_seq\":%llu", behind,
				 cd_err_name(rc), (unsigned long long)h->marked_seq, (unsigned long long)seq);
		h->checkpoint_behind = true;
		return;
	}
	if (h->checkpoint_behind)
		log_info("iot journal checkpointed again", "\"seq\":%llu", (unsigned long long)seq);
	h->checkpoint_behind = false;
	iot_journal_mark_handled(h->journal, seq);
	h->marked_seq = seq;
}

static void *hub_ticker(void *arg)
{
	struct iot_hub *h = arg;
	pthread_mutex_lock(&h->mu);
	while (!h->ticker_stopping) {
		pthread_mutex_unlock(&h->mu);
		struct offline_ctx c = {h->app, clock_wall_ms()};
		devices_sweep(h->app->devices, c.now, DEVICE_TIMEOUT_MS, went_offline, &c);
		sync_credentials(h);
		hub_checkpoint(h, HUB_CHECKPOINT_WAIT_MS);
		pthread_mutex_lock(&h->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!h->ticker_stopping)
			pthread_cond_timedwait(&h->stopped_cv, &h->mu, &until);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static bool iot_listeners_on(struct app *app)
{
	return strcmp(config_get(&app->cfg, CFG_IOT), "off") != 0;
}

enum cd_err iot_start(struct app *app)
{
	const char *iot = config_get(&app->cfg, CFG_IOT);
	if (strcmp(iot, "on") != 0 && strcmp(iot, "off") != 0) {
		log_error("CITYDESK_IOT must be on or off", "\"value\":\"%s\"", iot);
		return CD_ERR_INVALID;
	}
	struct iot_hub *h = xcalloc(1, sizeof *h);
	h->app = app;
	h->ring = xcalloc(HUB_QUEUE_CAP, sizeof *h->ring);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->not_empty, NULL);
	pthread_cond_init(&h->not_full, NULL);
	pthread_cond_init(&h->stopped_cv, NULL);
	app->iot = h;

	char series_path[4200], journal_path[4200];
	snprintf(series_path, sizeof series_path, "%.4000s/series.db", config_get(&app->cfg, CFG_DATA));
	snprintf(journal_path, sizeof journal_path, "%.4000s/iot.journal", config_get(&app->cfg, CFG_DATA));
	enum cd_err rc = devices_load(app, &app->devices);
	if (!rc)
		rc = series_open(series_path, &app->series);
	if (!rc)
		rc = alerts_start(app, &app->alerts);
	if (!rc)
		rc = iot_journal_open(journal_path, &h->journal);
	if (rc) {
		log_error("IoT services failed to start", "\"error\":\"%s\"", cd_err_name(rc));
		return rc;
	}
	struct iot_journal_stats js;
	iot_journal_get_stats(h->journal, &js);
	alerts_replay_from(app->alerts, js.last_seq); /* before any message reaches the alerts worker */
	if (pthread_create(&h->worker, NULL, hub_worker, h))
		return CD_ERR_IO;
	h->worker_started = true;
	/* What was acknowledged before a crash and not yet stored goes to the worker first, before
	 * any source starts (series and alerts take a repeat once). */
	rc = iot_journal_replay(h->journal, hub_replay_one, h);
	if (rc) {
		log_error("IoT journal replay failed", "\"error\":\"%s\"", cd_err_name(rc));
		return rc;
	}
	pthread_mutex_lock(&h->mu);
	h->accepting = true;
	pthread_mutex_unlock(&h->mu);
	if (iot_listeners_on(app)) {
		rc = mqtt_bridge_start(app, &h->mqtt);
		if (!rc)
			rc = gb26875_bridge_start(app, &h->gb);
		if (rc) {
			log_error("IoT listeners failed to start", "\"error\":\"%s\"", cd_err_name(rc));
			return rc;
		}
	}
	sync_credentials(h); /* registered devices can log in from the start */
	if (pthread_create(&h->ticker, NULL, hub_ticker, h))
		return CD_ERR_IO;
	h->ticker_started = true;
	return CD_OK;
}

void iot_stop(struct app *app)
{
	struct iot_hub *h = app->iot;
	if (!h)
		return;
	/* The ticker first (it calls into the MQTT bridge), then the sources, so nothing new
	 * arrives; then drain the queue; then what it feeds. */
	pthread_mutex_lock(&h->mu);
	h->ticker_stopping = true;
	pthread_cond_broadcast(&h->stopped_cv);
	pthread_mutex_unlock(&h->mu);
	if (h->ticker_started)
		pthread_join(h->ticker, NULL);
	gb26875_bridge_stop(h->gb);
	h->gb = NULL;
	mqtt_bridge_stop(h->mqtt);
	h->mqtt = NULL;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_broadcast(&h->not_empty);
	pthread_cond_broadcast(&h->not_full);
	pthread_mutex_unlock(&h->mu);
	if (h->worker_started)
		pthread_join(h->worker, NULL);
	/* The worker has handed everything on: once stored, the journal has nothing to replay. A
	 * store that cannot take it now leaves it in the journal for the next start. */
	hub_checkpoint(h, HUB_STOP_WAIT_MS);
	iot_journal_close(h->journal);
	h->journal = NULL;
	alerts_stop(app->alerts);
	app->alerts = NULL;
	series_close(app->series);
	app->series = NULL;
	devices_free(app->devices);
	app->devices = NULL;
	app->iot = NULL;
	pthread_cond_destroy(&h->stopped_cv);
	pthread_cond_destroy(&h->not_full);
	pthread_cond_destroy(&h->not_empty);
	pthread_mutex_destroy(&h->mu);
	xfree(h->ring);
	xfree(h);
}

/* The GB/T 26875.3 listener's counters: connections, frames, refusals (unregistered addresses,
 * address conflicts, caps) and the addresses refused last, for an operator to register. */
static enum cd_err gb_metrics(struct gb_listener *l, struct buf *out)
{
	struct gb_listener_stats st;
	gb_listener_stats(l, &st);
	enum cd_err rc = buf_printf(
		out,
		"# HELP citydesk_gb26875_connections Transmitter connections open now.\n"
		"# TYPE citydesk_gb26875_connections gauge\n"
		"citydesk_gb26875_connections %llu\n"
		"# HELP citydesk_gb26875_max_connections Connections the listener keeps at most.\n"
		"# TYPE citydesk_gb26875_max_connections gauge\n"
		"citydesk_gb26875_max_connections %llu\n"
		"# HELP citydesk_gb26875_frames_total Frames by outcome.\n"
		"# TYPE citydesk_gb26875_frames_total counter\n"
		"citydesk_gb26875_frames_total{outcome=\"good\"} %llu\n"
		"citydesk_gb26875_frames_total{outcome=\"bad\"} %llu\n"
		"citydesk_gb26875_frames_total{outcome=\"unregistered\"} %llu\n"
		"citydesk_gb26875_frames_total{outcome=\"address_conflict\"} %llu\n"
		"citydesk_gb26875_frames_total{outcome=\"not_taken\"} %llu\n"
		"# HELP citydesk_gb26875_refused_total Connections refused or closed, by reason.\n"
		"# TYPE citydesk_gb26875_refused_total counter\n"
		"citydesk_gb26875_refused_total{reason=\"full\"} %llu\n"
		"citydesk_gb26875_refused_total{reason=\"per_host\"} %llu\n"
		"citydesk_gb26875_refused_total{reason=\"evicted\"} %llu\n"
		"citydesk_gb26875_refused_total{reason=\"garbage\"} %llu\n"
		"citydesk_gb26875_refused_total{reason=\"silent\"} %llu\n"
		"# HELP citydesk_gb26875_accept_pauses_total Times accepting paused (out of file descriptors).\n"
		"# TYPE citydesk_gb26875_accept_pauses_total counter\n"
		"citydesk_gb26875_accept_pauses_total %llu\n",
		(unsigned long long)st.open, (unsigned long long)st.max_connections, (unsigned long long)st.frames,
		(unsigned long long)st.bad_frames, (unsigned long long)st.unknown, (unsigned long long)st.conflicts,
		(unsigned long long)st.not_taken,
		(unsigned long long)st.refused, (unsigned long long)st.refused_host, (unsigned long long)st.evicted,
		(unsigned long long)st.closed_garbage, (unsigned long long)st.timeouts,
		(unsigned long long)st.accept_pauses);
	for (size_t i = 0; i < GB_UNKNOWN_KEEP && !rc && st.unknown_addrs[i][0]; i++)
		rc = buf_printf(out, "%scitydesk_gb26875_unregistered_address{address=\"%s\",rank=\"%zu\"} 1\n",
				i == 0 ? "# HELP citydesk_gb26875_unregistered_address Addresses refused last, newest "
					 "first (register them if they are the district's).\n"
					 "# TYPE citydesk_gb26875_unregistered_address gauge\n"
				       : "",
				st.unknown_addrs[i], i + 1);
	return rc;
}

enum cd_err iot_metrics(struct app *app, struct buf *out)
{
	struct iot_hub *h = app->iot;
	if (!h)
		return CD_OK;
	enum cd_err rc = buf_printf(out, "# HELP citydesk_iot_messages_total Device messages handed to the hub, by source.\n"
					 "# TYPE citydesk_iot_messages_total counter\n");
	for (int s = 0; s < IOT_SRC_COUNT && !rc; s++)
		rc = buf_printf(out, "citydesk_iot_messages_total{source=\"%s\"} %llu\n", source_names[s],
				(unsigned long long)atomic_load(&h->received[s]));
	if (!rc)
		rc = mqtt_bridge_metrics(h->mqtt, out);
	if (!rc && h->gb)
		rc = gb_metrics(h->gb, out);
	if (rc)
		return rc;
	pthread_mutex_lock(&h->mu);
	size_t queued = h->count;
	pthread_mutex_unlock(&h->mu);
	if (h->journal) {
		struct iot_journal_stats js;
		iot_journal_get_stats(h->journal, &js);
		rc = buf_printf(out,
				"# HELP citydesk_iot_journal_records_total Device messages journalled in this run.\n"
				"# TYPE citydesk_iot_journal_records_total counter\n"
				"citydesk_iot_journal_records_total %llu\n"
				"# HELP citydesk_iot_journal_syncs_total Group commits (one fdatasync each).\n"
				"# TYPE citydesk_iot_journal_syncs_total counter\n"
				"citydesk_iot_journal_syncs_total %llu\n"
				"# HELP citydesk_iot_journal_unhandled Journalled messages not yet known to be stored.\n"
				"# TYPE citydesk_iot_journal_unhandled gauge\n"
				"citydesk_iot_journal_unhandled %llu\n"
				"# HELP citydesk_iot_journal_segments Journal segment files.\n"
				"# TYPE citydesk_iot_journal_segments gauge\n"
				"citydesk_iot_journal_segments %llu\n"
				"# HELP citydesk_iot_journal_failed 1 when a journal write failed (messages refused).\n"
				"# TYPE citydesk_iot_journal_failed gauge\n"
				"citydesk_iot_journal_failed %d\n"
				"# HELP citydesk_iot_journal_failures_total Journal writes that failed (their messages refused).\n"
				"# TYPE citydesk_iot_journal_failures_total counter\n"
				"citydesk_iot_journal_failures_total %llu\n"
				"# HELP citydesk_iot_journal_recoveries_total New segments started after a failure.\n"
				"# TYPE citydesk_iot_journal_recoveries_total counter\n"
				"citydesk_iot_journal_recoveries_total %llu\n",
				(unsigned long long)js.appended, (unsigned long long)js.batches,
				(unsigned long long)(js.last_seq - js.handled_seq), (unsigned long long)js.segments,
				js.failed ? 1 : 0, (unsigned long long)js.failures, (unsigned long long)js.recoveries);
		if (rc)
			return rc;
	}
	return buf_printf(out,
			  "# HELP citydesk_iot_unknown_device_total Messages dropped because the device is not registered.\n"
			  "# TYPE citydesk_iot_unknown_device_total counter\n"
			  "citydesk_iot_unknown_device_total %llu\n"
			  "# HELP citydesk_iot_handled_total Messages the hub has handled.\n"
			  "# TYPE citydesk_iot_handled_total counter\n"
			  "citydesk_iot_handled_total %llu\n"
			  "# HELP citydesk_iot_queued Messages waiting for the hub's worker.\n"
			  "# TYPE citydesk_iot_queued gauge\n"
			  "citydesk_iot_queued %zu\n",
			  (unsigned long long)atomic_load(&h->unknown_device), (unsigned long long)atomic_load(&h->handled),
			  queued);
}
