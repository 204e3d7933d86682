/* Outgoing webhooks: the bus subscriber, the durable queue and the sender thread. The bus's
 * dispatcher only copies each event into a bounded inbox (it must not block); one thread turns
 * inbox events into stored deliveries, sends due deliveries through net/http_client (libcurl's
 * multi interface: many requests at once on one thread; a per-subscription cap so a hanging
 * receiver only holds its own slots) and records the outcomes, batching store writes so the
 * webhooks cost the store at most one transaction every few milliseconds. See webhooks.h and
 * docs/internals/webhooks.md. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "app/events.h"
#include "app/webhooks.h"
#include "net/http_client.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

/* Store writes are gathered for this long, one transaction each: more often measurably slowed
 * intake under wrk (docs/internals/webhooks.md, "Batched writes"). */
#define COMMIT_MS 50
#define IDLE_MS 100	    /* a subscription with nothing due is asked again after this */
#define READY_MAX 256	    /* due deliveries fetched per subscription at a time */
#define UNCOMMITTED_MAX 256 /* outcomes of one subscription awaiting the store before fetching waits */

/* ---- pure helpers ------------------------------------------------------------------------ */

void webhooks_sign(const char *secret, int64_t t, const char *body, size_t len, char out[WEBHOOKS_SIG_MAX])
{
	char ts[32];
	int tn = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
	crypto_auth_hmacsha256_state h;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
	crypto_auth_hmacsha256_init(&h, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)ts, (unsigned long long)tn);
	crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, (unsigned long long)len);
	crypto_auth_hmacsha256_final(&h, mac);
	sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
	snprintf(out, WEBHOOKS_SIG_MAX, "t=%" PRId64 ",v1=%s", t, hex);
}

enum cd_err webhooks_verify(const char *secret, const char *header, const char *body, size_t len, int64_t now,
			    int64_t tolerance_s)
{
	if (!header || strncmp(header, "t=", 2) != 0)
		return CD_ERR_INVALID;
	char *end = NULL;
	errno = 0;
	long long t = strtoll(header + 2, &end, 10);
	if (errno || end == header + 2 || strncmp(end, ",v1=", 4) != 0)
		return CD_ERR_INVALID;
	const char *given = end + 4;
	if (strlen(given) != 2 * crypto_auth_hmacsha256_BYTES)
		return CD_ERR_INVALID;
	if (t < now - tolerance_s || t > now + tolerance_s)
		return CD_ERR_RANGE;
	char want[WEBHOOKS_SIG_MAX];
	webhooks_sign(secret, (int64_t)t, body, len, want);
	const char *want_hex = strstr(want, ",v1=") + 4;
	return sodium_memcmp(want_hex, given, 2 * crypto_auth_hmacsha256_BYTES) == 0 ? CD_OK : CD_ERR_DENIED;
}

int64_t webhooks_backoff_ms(const struct webhooks_config *cfg, int attempt, uint32_t rnd)
{
	int64_t d = cfg->backoff_ms ? cfg->backoff_ms : 1;
	int64_t cap = cfg->backoff_max_ms >= d ? cfg->backoff_max_ms : d;
	for (int i = 1; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	int64_t half = d / 2;
	return d - half + (int64_t)((double)half * ((double)rnd / (double)UINT32_MAX));
}

/* Whether token tok[0..n) matches type. */
static bool token_match(const char *tok, size_t n, const char *type)
{
	if (n == 1 && tok[0] == '*')
		return true;
	if (n >= 2 && tok[n - 2] == '.' && tok[n - 1] == '*')
		return strncmp(type, tok, n - 1) == 0;
	return strlen(type) == n && memcmp(type, tok, n) == 0;
}

bool webhooks_event_match(const char *events, const char *type)
{
	if (!events || !*events)
		return true;
	const char *p = events;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n && token_match(p, n, type))
			return true;
		if (!comma)
			return false;
		p = comma + 1;
	}
}

enum cd_err webhooks_check_events(const char *events)
{
	if (!events)
		return CD_OK;
	if (strlen(events) >= STORE_WEBHOOK_EVENTS_MAX)
		return CD_ERR_INVALID;
	const char *p = events;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n >= STORE_WEBHOOK_TYPE_MAX)
			return CD_ERR_INVALID;
		for (size_t i = 0; i < n; i++) {
			char c = p[i];
			bool star_ok = c == '*' && i + 1 == n && (n == 1 || p[i - 1] == '.');
			if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
			    c != '_' && c != '.' && !star_ok)
				return CD_ERR_INVALID;
		}
		if (!comma)
			break;
		p = comma + 1;
		if (!*p)
			return CD_ERR_INVALID; /* trailing comma */
	}
	return CD_OK;
}

enum cd_err webhooks_check_url(const char *url)
{
	if (!url || !*url || strlen(url) >= STORE_WEBHOOK_URL_MAX)
		return CD_ERR_INVALID;
	return http_client_check_url(url);
}

void webhooks_secret_new(char out[WEBHOOKS_SECRET_LEN + 1])
{
	unsigned char raw[WEBHOOKS_SECRET_LEN / 2];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(out, WEBHOOKS_SECRET_LEN + 1, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
}

enum cd_err webhooks_body(uint64_t event_id, const char *type, const char *ref, const char *payload,
			  size_t plen, char **out)
{
	*out = NULL;
	json_error_t jerr;
	json_t *data = json_loadb(payload, plen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!data)
		return CD_ERR_INVALID;
	json_t *v = json_pack("{s:I, s:s, s:s, s:o}", "event_id", (json_int_t)event_id, "type",
			      type ? type : "", "ref", ref ? ref : "", "data", data);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (!text)
		return CD_ERR_INVALID;
	*out = xstrdup(text);
	free(text); /* from json_dumps (jansson's allocator) */
	return CD_OK;
}

/* ---- configuration ----------------------------------------------------------------------- */

static void env_unsigned(const char *name, unsigned min, unsigned max, unsigned *v)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end || x < (long long)min || x > (long long)max) {
		log_warn("webhooks: ignoring a bad setting", "\"name\":\"%s\",\"min\":%u,\"max\":%u", name,
			 min, max);
		return;
	}
	*v = (unsigned)x;
}

void webhooks_config_init(struct webhooks_config *cfg)
{
	*cfg = (struct webhooks_config){
	    .backoff_ms = 1000,
	    .backoff_max_ms = 300000,
	    .max_attempts = 8,
	    .connect_timeout_ms = 2000,
	    .timeout_ms = 5000,
	    .max_in_flight = 64,
	    .per_hook_in_flight = 8,
	    .reload_ms = 1000,
	    .inbox_max = 32u << 20,
	};
	env_unsigned("CITYDESK_WEBHOOK_BACKOFF_MS", 1, 3600000, &cfg->backoff_ms);
	env_unsigned("CITYDESK_WEBHOOK_MAX_ATTEMPTS", 1, 100, &cfg->max_attempts);
	env_unsigned("CITYDESK_WEBHOOK_TIMEOUT_MS", 100, 600000, &cfg->timeout_ms);
	if (cfg->connect_timeout_ms > cfg->timeout_ms)
		cfg->connect_timeout_ms = cfg->timeout_ms;
}

/* ---- the inbox: what the bus hands over ------------------------------------------------- */

/* One event copied out of the bus. */
struct wh_event {
	struct wh_event *next;
	uint64_t seq; /* the bus's id */
	char type[STORE_WEBHOOK_TYPE_MAX];
	char ref[STORE_WEBHOOK_REF_MAX];
	size_t len; /* bytes in sse */
	char sse[]; /* the SSE frame as the bus rendered it */
};

/* Shared by the bus (deliver, release) and the module; freed by whichever lets go last, so
 * the module may stop before or after the bus releases the subscription. */
struct wh_inbox {
	pthread_mutex_t mu;	      /* head, tail, bytes */
	struct wh_event *head, *tail; /* oldest first */
	size_t bytes, max;	      /* sse bytes held; the cap */
	int efd;		      /* eventfd: written when the inbox becomes non-empty */
	atomic_int wanted;	      /* 1 while subscriptions exist: otherwise skip copying */
	atomic_uint refs;	      /* 2 while subscribed, then 1 */
	atomic_uint_fast64_t events, dropped, lost;
};

static void inbox_free_list(struct wh_event *e)
{
	while (e) {
		struct wh_event *next = e->next;
		xfree(e);
		e = next;
	}
}

static void inbox_unref(struct wh_inbox *in)
{
	if (!in || atomic_fetch_sub(&in->refs, 1) != 1)
		return;
	inbox_free_list(in->head);
	close(in->efd);
	pthread_mutex_destroy(&in->mu);
	xfree(in);
}

/* Runs on the bus's dispatcher thread: copy, never block, never refuse (a refusal would end
 * the subscription for good). */
static int inbox_deliver(void *ctx, const struct events_item *it)
{
	struct wh_inbox *in = ctx;
	if (it->kind == EVENTS_ITEM_RESYNC) {
		atomic_fetch_add(&in->lost, 1);
		return 0;
	}
	if (it->kind != EVENTS_ITEM_EVENT || !atomic_load_explicit(&in->wanted, memory_order_relaxed))
		return 0;
	struct wh_event *e = xmalloc(sizeof *e + it->sse_len);
	e->next = NULL;
	e->seq = it->seq;
	snprintf(e->type, sizeof e->type, "%s", it->type ? it->type : "");
	snprintf(e->ref, sizeof e->ref, "%s", it->ref ? it->ref : "");
	e->len = it->sse_len;
	memcpy(e->sse, it->sse, it->sse_len);
	int wake = 0;
	pthread_mutex_lock(&in->mu);
	if (in->bytes + e->len > in->max) {
		pthread_mutex_unlock(&in->mu);
		xfree(e);
		atomic_fetch_add(&in->dropped, 1);
		return 0;
	}
	if (in->tail)
		in->tail->next = e;
	else {
		in->head = e;
		wake = 1;
	}
	in->tail = e;
	in->bytes += e->len;
	pthread_mutex_unlock(&in->mu);
	atomic_fetch_add_explicit(&in->events, 1, memory_order_relaxed);
	if (wake) {
		uint64_t one = 1;
		ssize_t w = write(in->efd, &one, sizeof one); /* non-blocking; a full counter still wakes */
		(void)w;
	}
	return 0;
}

static void inbox_release(void *ctx)
{
	inbox_unref(ctx);
}

/* Takes everything queued (oldest first). */
static struct wh_event *inbox_take(struct wh_inbox *in)
{
	pthread_mutex_lock(&in->mu);
	struct wh_event *e = in->head;
	in->head = in->tail = NULL;
	in->bytes = 0;
	pthread_mutex_unlock(&in->mu);
	return e;
}

/* ---- the sender ---------------------------------------------------------------------------- */

struct wh_hook;

/* One request in flight. */
struct wh_xfer {
	struct wh_xfer *prev, *next; /* webhooks.xfers */
	struct http_request *req;
	struct wh_hook *hook;
	int64_t delivery_id;
	int attempts; /* made before this one */
	char *body;   /* owned; lent to req */
};

/* A subscription as the sender knows it. */
struct wh_hook {
	struct store_webhook w;
	int gone; /* removed from the store: free when idle */
	int seen; /* present in the latest reload */
	unsigned in_flight;
	int64_t *flying;		      /* ids in flight, per_hook_in_flight slots */
	unsigned uncommitted;		      /* outcomes not yet in the store (left out of fetches) */
	struct store_webhook_delivery *ready; /* fetched, not started */
	size_t nready, iready;
	int64_t idle_until_ms; /* nothing was due: do not ask before this */
};

struct webhooks {
	struct webhooks_config cfg;
	struct store *st; /* its own connection (store_webhook_conn_open) */
	struct events *bus;
	struct events_sub *sub;
	struct wh_inbox *inbox;
	struct http_client *http; /* thread-owned once started */
	pthread_t thread;
	atomic_int stop;
	struct wh_hook **hooks; /* thread-owned */
	size_t nhooks;
	int64_t reload_at_ms;
	unsigned in_flight;
	struct wh_xfer *xfers;		    /* requests in flight */
	struct store_webhook_delivery *add; /* new deliveries not yet stored */
	size_t nadd;
	struct store_webhook_outcome *done; /* outcomes not yet stored */
	int64_t *done_hook;		    /* the subscription of each */
	size_t ndone;
	int64_t last_commit_ms;
	int64_t commit_retry_ms; /* after a failed commit, not before this */
	atomic_uint_fast64_t queued, delivered, failed, dead, dropped_removed, nflight, nsubs;
};

static struct wh_hook *hook_find(struct webhooks *wh, int64_t id)
{
	for (size_t i = 0; i < wh->nhooks; i++)
		if (wh->hooks[i]->w.id == id && !wh->hooks[i]->gone)
			return wh->hooks[i];
	return NULL;
}

static void hook_drop_ready(struct wh_hook *h)
{
	store_webhook_deliveries_free(h->ready, h->nready);
	h->ready = NULL;
	h->nready = h->iready = 0;
}

/* Frees hooks that are gone and idle. */
static void hooks_sweep(struct webhooks *wh)
{
	size_t k = 0;
	for (size_t i = 0; i < wh->nhooks; i++) {
		struct wh_hook *h = wh->hooks[i];
		if (h->gone && h->in_flight == 0) {
			hook_drop_ready(h);
			xfree(h->flying);
			xfree(h);
		} else {
			wh->hooks[k++] = h;
		}
	}
	wh->nhooks = k;
}

/* Re-reads the subscriptions: new ones join, removed or changed ones leave (a changed one
 * rejoins as new: nothing in flight is mixed up). */
/* Subscribed to the bus only while some webhook is live: a subscriber, even one that keeps
 * nothing, has the bus's dispatcher woken and walking every event (~1 us a case under intake).
 * Events published while unsubscribed are not delivered, as they were not wanted before.
 * Only the thread that owns wh (start, then the sender, then stop after the join) calls it. */
static void bus_follow(struct webhooks *wh, bool want)
{
	if (!wh->bus || want == (wh->sub != NULL))
		return;
	if (!want) {
		events_unsubscribe(wh->bus, wh->sub);
		wh->sub = NULL;
		return;
	}
	struct events_scope all = {.role = ROLE_SYSTEM};
	atomic_fetch_add(&wh->inbox->refs, 1); /* the bus's, dropped by inbox_release */
	enum cd_err rc = events_subscribe(wh->bus, &all, 0, inbox_deliver, inbox_release, wh->inbox, &wh->sub);
	if (rc) {
		atomic_fetch_sub(&wh->inbox->refs, 1);
		wh->sub = NULL;
		log_error("webhooks: cannot subscribe to the event bus; will retry", "\"error\":\"%s\"",
			  cd_err_name(rc));
	}
}

static void hooks_reload(struct webhooks *wh)
{
	struct store_webhook *v = NULL;
	size_t n = 0;
	if (store_webhooks_list(wh->st, &v, &n)) {
		log_warn("webhooks: cannot read the subscriptions", NULL);
		return;
	}
	for (size_t i = 0; i < wh->nhooks; i++)
		wh->hooks[i]->seen = 0;
	for (size_t j = 0; j < n; j++) {
		struct wh_hook *h = hook_find(wh, v[j].id);
		if (h && memcmp(&h->w, &v[j], sizeof v[j]) == 0) {
			h->seen = 1;
			continue;
		}
		h = xcalloc(1, sizeof *h);
		h->w = v[j];
		h->seen = 1;
		h->flying = xcalloc(wh->cfg.per_hook_in_flight, sizeof *h->flying);
		wh->hooks = xrealloc(wh->hooks, (wh->nhooks + 1) * sizeof *wh->hooks);
		wh->hooks[wh->nhooks++] = h;
	}
	size_t live = 0;
	for (size_t i = 0; i < wh->nhooks; i++) {
		struct wh_hook *h = wh->hooks[i];
		if (!h->seen && !h->gone) {
			h->gone = 1;
			hook_drop_ready(h);
		}
		live += !h->gone;
	}
	xfree(v);
	hooks_sweep(wh);
	atomic_store(&wh->inbox->wanted, live > 0);
	atomic_store(&wh->nsubs, live);
	bus_follow(wh, live > 0);
}

/* The payload of an SSE frame: its "data:" lines joined by LF, into b. */
static enum cd_err sse_payload(const char *sse, size_t len, struct buf *b)
{
	size_t pos = 0;
	int first = 1;
	while (pos < len) {
		const char *line = sse + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n >= 5 && memcmp(line, "data:", 5) == 0) {
			size_t skip = n > 5 && line[5] == ' ' ? 6 : 5;
			enum cd_err rc = first ? CD_OK : buf_putc(b, '\n');
			if (!rc)
				rc = buf_append(b, line + skip, n - skip);
			if (rc)
				return rc;
			first = 0;
		}
	}
	return CD_OK;
}

/* The "street" and "unit" strings of a payload object ("" when absent). */
static void payload_place(const char *payload, size_t len, char street[STORE_CODE_MAX],
			  char unit[STORE_CODE_MAX])
{
	street[0] = unit[0] = '\0';
	json_t *v = json_loadb(payload, len, 0, NULL);
	const char *s = json_string_value(json_object_get(v, "street"));
	const char *u = json_string_value(json_object_get(v, "unit"));
	snprintf(street, STORE_CODE_MAX, "%s", s ? s : "");
	snprintf(unit, STORE_CODE_MAX, "%s", u ? u : "");
	json_decref(v);
}

static bool hook_wants(const struct wh_hook *h, const char *type, const char *street, const char *unit)
{
	if (h->gone || !webhooks_event_match(h->w.events, type))
		return false;
	if (h->w.street_code[0] && strcmp(h->w.street_code, street) != 0)
		return false;
	return !h->w.unit_code[0] || strcmp(h->w.unit_code, unit) == 0;
}

/* Turns one event into new deliveries (in wh->add) for every subscription that wants it. */
static void route_event(struct webhooks *wh, const struct wh_event *e)
{
	struct buf payload;
	buf_init(&payload, EVENTS_PAYLOAD_MAX + 1024);
	char *body = NULL;
	if (sse_payload(e->sse, e->len, &payload) || !payload.data ||
	    webhooks_body(e->seq, e->type, e->ref, payload.data, payload.len, &body)) {
		log_warn("webhooks: event without a JSON payload skipped", "\"event_id\":%" PRIu64, e->seq);
		buf_release(&payload);
		return;
	}
	bool need_place = false;
	for (size_t i = 0; i < wh->nhooks; i++)
		need_place |=
		    !wh->hooks[i]->gone && (wh->hooks[i]->w.street_code[0] || wh->hooks[i]->w.unit_code[0]);
	char street[STORE_CODE_MAX] = "", unit[STORE_CODE_MAX] = "";
	if (need_place)
		payload_place(payload.data, payload.len, street, unit);
	buf_release(&payload);
	int64_t now = clock_wall_ms();
	int owner = 1; /* the first delivery owns body; others get copies */
	for (size_t i = 0; i < wh->nhooks; i++) {
		struct wh_hook *h = wh->hooks[i];
		if (!hook_wants(h, e->type, street, unit))
			continue;
		struct store_webhook_delivery *d = &wh->add[wh->nadd++];
		memset(d, 0, sizeof *d);
		d->webhook_id = h->w.id;
		d->event_id = (int64_t)e->seq;
		snprintf(d->type, sizeof d->type, "%s", e->type);
		snprintf(d->ref, sizeof d->ref, "%s", e->ref);
		d->body = owner ? body : xstrdup(body);
		owner = 0;
		d->next_at_ms = now;
	}
	if (owner)
		xfree(body);
}

static void add_release(struct webhooks *wh)
{
	for (size_t i = 0; i < wh->nadd; i++)
		xfree(wh->add[i].body);
	wh->nadd = 0;
}

/* Drops new deliveries whose subscription is gone (after the store refused them). */
static void add_prune(struct webhooks *wh)
{
	size_t k = 0;
	for (size_t i = 0; i < wh->nadd; i++) {
		if (hook_find(wh, wh->add[i].webhook_id)) {
			wh->add[k++] = wh->add[i];
		} else {
			xfree(wh->add[i].body);
			atomic_fetch_add(&wh->dropped_removed, 1);
		}
	}
	wh->nadd = k;
}

/* Stores the new deliveries and the outcomes in one transaction. */
static void commit(struct webhooks *wh)
{
	if (!wh->nadd && !wh->ndone)
		return;
	int64_t now = clock_wall_ms();
	enum cd_err rc = store_webhook_deliveries_commit(wh->st, wh->add, wh->nadd, wh->done, wh->ndone);
	if (rc == CD_ERR_INVALID) { /* most likely a subscription removed meanwhile */
		hooks_reload(wh);
		add_prune(wh);
		rc = store_webhook_deliveries_commit(wh->st, wh->add, wh->nadd, wh->done, wh->ndone);
	}
	wh->last_commit_ms = now;
	if (rc) {
		log_error("webhooks: cannot store deliveries; will retry",
			  "\"error\":\"%s\",\"new\":%zu,\"outcomes\":%zu", cd_err_name(rc), wh->nadd,
			  wh->ndone);
		wh->commit_retry_ms = now + 1000;
		return;
	}
	wh->commit_retry_ms = 0;
	atomic_fetch_add(&wh->queued, wh->nadd);
	for (size_t i = 0; i < wh->nadd; i++) {
		struct wh_hook *h = hook_find(wh, wh->add[i].webhook_id);
		if (h)
			h->idle_until_ms = 0; /* something new to fetch */
	}
	add_release(wh);
	for (size_t i = 0; i < wh->ndone; i++) {
		struct wh_hook *h =
		    wh->done[i].result == STORE_WEBHOOK_RETRY ? hook_find(wh, wh->done_hook[i]) : NULL;
		if (h && wh->done[i].next_at_ms < h->idle_until_ms)
			h->idle_until_ms = wh->done[i].next_at_ms; /* now visible to a fetch */
	}
	for (size_t i = 0; i < wh->nhooks; i++)
		wh->hooks[i]->uncommitted = 0;
	wh->ndone = 0;
}

/* Moves inbox events into new deliveries while there is room for a whole batch. */
static void take_inbox(struct webhooks *wh)
{
	struct wh_event *list = inbox_take(wh->inbox);
	while (list) {
		if (wh->nadd + wh->nhooks > STORE_WEBHOOK_BATCH_MAX)
			commit(wh);
		if (wh->nadd + wh->nhooks > STORE_WEBHOOK_BATCH_MAX) { /* the store is failing */
			size_t n = 0;
			for (struct wh_event *e = list; e; e = e->next)
				n++;
			atomic_fetch_add(&wh->inbox->dropped, n);
			log_error("webhooks: store unavailable, events dropped", "\"events\":%zu", n);
			inbox_free_list(list);
			return;
		}
		struct wh_event *e = list;
		list = e->next;
		route_event(wh, e);
		xfree(e);
	}
}

/* Starts the request for delivery d (its body is taken). */
static void xfer_start(struct webhooks *wh, struct wh_hook *h, struct store_webhook_delivery *d)
{
	struct wh_xfer *x = xcalloc(1, sizeof *x);
	x->hook = h;
	x->delivery_id = d->id;
	x->attempts = d->attempts;
	x->body = d->body;
	d->body = NULL;
	size_t blen = strlen(x->body);
	char sig[WEBHOOKS_SIG_MAX], lines[3][192];
	webhooks_sign(h->w.secret, (int64_t)time(NULL), x->body, blen, sig);
	snprintf(lines[0], sizeof lines[0], "X-Citydesk-Signature: %s", sig);
	snprintf(lines[1], sizeof lines[1], "X-Citydesk-Event: %s", d->type);
	snprintf(lines[2], sizeof lines[2], "X-Citydesk-Delivery: %" PRId64, d->id);
	const char *headers[] = {"Content-Type: application/json", lines[0], lines[1], lines[2]};
	x->req = http_client_post(wh->http, h->w.url, headers, sizeof headers / sizeof headers[0], x->body,
				  blen, x);
	x->next = wh->xfers;
	if (wh->xfers)
		wh->xfers->prev = x;
	wh->xfers = x;
	h->flying[h->in_flight++] = d->id;
	wh->in_flight++;
	atomic_store(&wh->nflight, wh->in_flight);
}

static void xfer_free(struct webhooks *wh, struct wh_xfer *x)
{
	struct wh_hook *h = x->hook;
	for (unsigned i = 0; i < h->in_flight; i++)
		if (h->flying[i] == x->delivery_id) {
			h->flying[i] = h->flying[--h->in_flight];
			break;
		}
	if (x->prev)
		x->prev->next = x->next;
	else
		wh->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	wh->in_flight--;
	atomic_store(&wh->nflight, wh->in_flight);
	http_request_free(wh->http, x->req);
	xfree(x->body);
	xfree(x);
}

/* Keeps printable ASCII of s, for last_error. */
static void clean_text(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = ' ';
}

/* Records the outcome of a finished request. */
static void xfer_done(struct webhooks *wh, struct wh_xfer *x, const struct http_client_result *res)
{
	long status = res->status;
	struct store_webhook_outcome *o = &wh->done[wh->ndone++];
	memset(o, 0, sizeof *o);
	o->delivery_id = x->delivery_id;
	o->at = (int64_t)time(NULL);
	o->http_status = (int)status;
	if (!res->error && status >= 200 && status < 300) {
		o->result = STORE_WEBHOOK_DELIVERED;
		atomic_fetch_add(&wh->delivered, 1);
	} else {
		if (res->error)
			snprintf(o->error, sizeof o->error, "%s", res->error);
		else
			snprintf(o->error, sizeof o->error, "HTTP %ld: %s", status, res->snippet);
		clean_text(o->error);
		int made = x->attempts + 1;
		atomic_fetch_add(&wh->failed, 1);
		if (made >= (int)wh->cfg.max_attempts) {
			o->result = STORE_WEBHOOK_DEAD;
			o->next_at_ms = clock_wall_ms();
			atomic_fetch_add(&wh->dead, 1);
			log_warn("webhook delivery dead-lettered",
				 "\"delivery\":%" PRId64 ",\"webhook\":\"%s\",\"attempts\":%d,\"status\":%ld",
				 x->delivery_id, x->hook->w.name, made, status);
		} else {
			o->result = STORE_WEBHOOK_RETRY;
			o->next_at_ms =
			    clock_wall_ms() + webhooks_backoff_ms(&wh->cfg, made, randombytes_random());
			if (o->next_at_ms < x->hook->idle_until_ms)
				x->hook->idle_until_ms = o->next_at_ms; /* look again when it is due */
		}
	}
	wh->done_hook[wh->ndone - 1] = x->hook->w.id;
	x->hook->uncommitted++;
	xfer_free(wh, x);
}

/* http_client_run's callback: a request of ours has finished. */
static void reap_one(void *ctx, struct http_request *req, void *user, const struct http_client_result *res)
{
	struct webhooks *wh = ctx;
	struct wh_xfer *x = user;
	(void)req; /* x->req, freed by xfer_free */
	if (wh->ndone == STORE_WEBHOOK_BATCH_MAX)
		commit(wh);
	if (wh->ndone == STORE_WEBHOOK_BATCH_MAX) /* the store is failing: the delivery stays */
		xfer_free(wh, x);		  /* pending and is sent again (at least once) */
	else
		xfer_done(wh, x, res);
}

static void reap(struct webhooks *wh)
{
	http_client_run(wh->http, reap_one, wh);
}

/* Reads up to READY_MAX due deliveries of h into its ready list, leaving out those in flight
 * and those whose outcome is not stored yet. Returns how many. */
static size_t fetch_due(struct webhooks *wh, struct wh_hook *h, int64_t now)
{
	size_t nskip = 0;
	int64_t *skip = xcalloc((size_t)h->in_flight + h->uncommitted + 1, sizeof *skip);
	for (unsigned i = 0; i < h->in_flight; i++)
		skip[nskip++] = h->flying[i];
	for (size_t i = 0; i < wh->ndone && nskip < (size_t)h->in_flight + h->uncommitted; i++)
		if (wh->done_hook[i] == h->w.id)
			skip[nskip++] = wh->done[i].delivery_id;
	if (store_webhook_deliveries_due(wh->st, h->w.id, now, skip, nskip, READY_MAX, &h->ready, &h->nready))
		hook_drop_ready(h);
	xfree(skip);
	return h->nready;
}

/* Starts due deliveries while slots are free. */
static void start_due(struct webhooks *wh, int64_t now)
{
	for (size_t i = 0; i < wh->nhooks; i++) {
		struct wh_hook *h = wh->hooks[i];
		while (!h->gone && h->in_flight < wh->cfg.per_hook_in_flight &&
		       wh->in_flight < wh->cfg.max_in_flight) {
			if (h->iready == h->nready) {
				hook_drop_ready(h);
				if (h->uncommitted > UNCOMMITTED_MAX || h->idle_until_ms > now)
					break;
				if (fetch_due(wh, h, now) == 0) {
					h->idle_until_ms = now + IDLE_MS;
					break;
				}
			}
			xfer_start(wh, h, &h->ready[h->iready++]);
		}
	}
}

/* How long the thread may sleep (ms, at most IDLE_MS) before some subscription with a free
 * slot could start a request: 0 when one can now. */
static int start_wait(const struct webhooks *wh, int64_t now)
{
	int64_t wait = IDLE_MS;
	if (wh->in_flight >= wh->cfg.max_in_flight)
		return IDLE_MS;
	for (size_t i = 0; i < wh->nhooks; i++) {
		const struct wh_hook *h = wh->hooks[i];
		if (h->gone || h->in_flight >= wh->cfg.per_hook_in_flight || h->uncommitted > UNCOMMITTED_MAX)
			continue;
		if (h->iready < h->nready || h->idle_until_ms <= now)
			return 0;
		if (h->idle_until_ms - now < wait)
			wait = h->idle_until_ms - now;
	}
	return (int)wait;
}

/* Ends every request without an outcome: the deliveries stay pending in the store and are
 * sent again after a restart (at least once). */
static void abandon_all(struct webhooks *wh)
{
	while (wh->xfers)
		xfer_free(wh, wh->xfers);
}

static void *sender_main(void *arg)
{
	struct webhooks *wh = arg;
	pthread_setname_np(pthread_self(), "webhooks"); /* for top -H and perf */
	for (;;) {
		int stopping = atomic_load(&wh->stop);
		int64_t now = clock_wall_ms();
		if (now >= wh->reload_at_ms) {
			hooks_reload(wh);
			wh->reload_at_ms = now + wh->cfg.reload_ms;
		}
		take_inbox(wh);
		reap(wh);
		if (stopping)
			break;
		bool due_commit = (wh->nadd || wh->ndone) && now >= wh->commit_retry_ms;
		if (due_commit &&
		    (now - wh->last_commit_ms >= COMMIT_MS || wh->nadd >= STORE_WEBHOOK_BATCH_MAX / 2 ||
		     wh->ndone >= STORE_WEBHOOK_BATCH_MAX / 2))
			commit(wh);
		start_due(wh, clock_wall_ms()); /* not `now`: deliveries routed above are due from later */
		hooks_sweep(wh);
		now = clock_wall_ms();
		int timeout = start_wait(wh, now);
		if (wh->nadd || wh->ndone) {
			int64_t at = wh->commit_retry_ms > wh->last_commit_ms + COMMIT_MS
					 ? wh->commit_retry_ms
					 : wh->last_commit_ms + COMMIT_MS;
			int64_t wait = at > now ? at - now : 0;
			if (wait < timeout)
				timeout = (int)wait;
		}
		if (http_client_wait(wh->http, wh->inbox->efd, timeout)) {
			uint64_t v;
			ssize_t r = read(wh->inbox->efd, &v, sizeof v);
			(void)r;
		}
	}
	abandon_all(wh);
	commit(wh);
	return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

enum cd_err webhooks_start(const char *db_path, struct events *bus, const struct webhooks_config *cfg,
			   struct webhooks **out)
{
	*out = NULL;
	struct store *st = NULL;
	enum cd_err rc = store_webhook_conn_open(db_path, &st);
	if (rc) {
		log_error("webhooks: cannot open the store", "\"error\":\"%s\"", cd_err_name(rc));
		return rc;
	}
	struct webhooks *wh = xcalloc(1, sizeof *wh);
	if (cfg)
		wh->cfg = *cfg;
	else
		webhooks_config_init(&wh->cfg);
	if (!wh->cfg.per_hook_in_flight)
		wh->cfg.per_hook_in_flight = 1;
	if (!wh->cfg.max_in_flight)
		wh->cfg.max_in_flight = 1;
	if (!wh->cfg.max_attempts)
		wh->cfg.max_attempts = 1;
	wh->st = st;
	wh->bus = bus;
	wh->add = xcalloc(STORE_WEBHOOK_BATCH_MAX, sizeof *wh->add);
	wh->done = xcalloc(STORE_WEBHOOK_BATCH_MAX, sizeof *wh->done);
	wh->done_hook = xcalloc(STORE_WEBHOOK_BATCH_MAX, sizeof *wh->done_hook);
	struct wh_inbox *in = xcalloc(1, sizeof *in);
	pthread_mutex_init(&in->mu, NULL);
	in->max = wh->cfg.inbox_max ? wh->cfg.inbox_max : (32u << 20);
	atomic_init(&in->refs, 1);
	in->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	wh->inbox = in;
	if (in->efd < 0) {
		log_error("webhooks: cannot start", "\"errno\":%d", errno);
		rc = CD_ERR_IO;
		goto fail;
	}
	struct http_client_config hc = {wh->cfg.max_in_flight, wh->cfg.connect_timeout_ms, wh->cfg.timeout_ms,
					WEBHOOKS_RESPONSE_MAX, WEBHOOKS_USER_AGENT};
	rc = http_client_new(&hc, &wh->http);
	if (rc) {
		log_error("webhooks: libcurl failed to initialise", NULL);
		goto fail;
	}
	hooks_reload(wh); /* before the thread: subscribes when a webhook exists, so events
			   * published from now on find the inbox open */
	wh->reload_at_ms = clock_wall_ms() + wh->cfg.reload_ms;
	if (pthread_create(&wh->thread, NULL, sender_main, wh) != 0) {
		log_error("webhooks: cannot start the sender thread", NULL);
		rc = CD_ERR_IO;
		goto fail;
	}
	*out = wh;
	return CD_OK;
fail:
	if (wh->sub)
		events_unsubscribe(bus, wh->sub);
	http_client_free(wh->http);
	inbox_unref(in);
	for (size_t i = 0; i < wh->nhooks; i++)
		wh->hooks[i]->gone = 1;
	hooks_sweep(wh);
	xfree(wh->hooks);
	xfree(wh->add);
	xfree(wh->done);
	xfree(wh->done_hook);
	xfree(wh);
	store_close(st);
	return rc;
}

void webhooks_stop(struct webhooks *wh)
{
	if (!wh)
		return;
	atomic_store(&wh->stop, 1);
	uint64_t one = 1;
	ssize_t w = write(wh->inbox->efd, &one, sizeof one);
	(void)w;
	pthread_join(wh->thread, NULL);
	bus_follow(wh, false); /* after the join: the sender may have (un)subscribed until then */
	http_client_free(wh->http);
	inbox_unref(wh->inbox);
	for (size_t i = 0; i < wh->nhooks; i++)
		wh->hooks[i]->gone = 1;
	hooks_sweep(wh);
	xfree(wh->hooks);
	add_release(wh);
	xfree(wh->add);
	xfree(wh->done);
	xfree(wh->done_hook);
	store_close(wh->st);
	xfree(wh);
}

void webhooks_get_stats(struct webhooks *wh, struct webhooks_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!wh)
		return;
	out->events = atomic_load(&wh->inbox->events);
	out->queued = atomic_load(&wh->queued);
	out->delivered = atomic_load(&wh->delivered);
	out->failed = atomic_load(&wh->failed);
	out->dead = atomic_load(&wh->dead);
	out->dropped = atomic_load(&wh->inbox->dropped) + atomic_load(&wh->dropped_removed);
	out->lost = atomic_load(&wh->inbox->lost);
	out->in_flight = atomic_load(&wh->nflight);
	out->subscriptions = atomic_load(&wh->nsubs);
}

enum cd_err webhooks_metrics(struct webhooks *wh, struct buf *out)
{
	struct webhooks_stats s;
	webhooks_get_stats(wh, &s);
	return buf_printf(
	    out,
	    "# HELP citydesk_webhooks_events_total Events taken from the bus for webhook subscriptions.\n"
	    "# TYPE citydesk_webhooks_events_total counter\n"
	    "citydesk_webhooks_events_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_queued_total Webhook deliveries stored.\n"
	    "# TYPE citydesk_webhooks_queued_total counter\n"
	    "citydesk_webhooks_queued_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_delivered_total Webhook deliveries answered 2xx.\n"
	    "# TYPE citydesk_webhooks_delivered_total counter\n"
	    "citydesk_webhooks_delivered_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_failed_total Webhook attempts that failed.\n"
	    "# TYPE citydesk_webhooks_failed_total counter\n"
	    "citydesk_webhooks_failed_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_dead_total Webhook deliveries moved to the dead-letter list.\n"
	    "# TYPE citydesk_webhooks_dead_total counter\n"
	    "citydesk_webhooks_dead_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_dropped_total Events not queued (inbox full, subscription removed).\n"
	    "# TYPE citydesk_webhooks_dropped_total counter\n"
	    "citydesk_webhooks_dropped_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_lost_total Bus resyncs seen by the webhooks (events lost upstream).\n"
	    "# TYPE citydesk_webhooks_lost_total counter\n"
	    "citydesk_webhooks_lost_total %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_in_flight Webhook requests in flight.\n"
	    "# TYPE citydesk_webhooks_in_flight gauge\n"
	    "citydesk_webhooks_in_flight %" PRIu64 "\n"
	    "# HELP citydesk_webhooks_subscriptions Webhook subscriptions.\n"
	    "# TYPE citydesk_webhooks_subscriptions gauge\n"
	    "citydesk_webhooks_subscriptions %" PRIu64 "\n",
	    s.events, s.queued, s.delivered, s.failed, s.dead, s.dropped, s.lost, s.in_flight,
	    s.subscriptions);
}
