/* The in-memory device registry over the store's devices table (app/devices.h): lookups by id
 * and transmitter address for the hub, online state from heartbeats, device credentials for the
 * broker and for HTTP device posts, and registration (checked, located on the map, audited). */
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/devices.h"
#include "app/mapview.h"
#include "core/auth.h"
#include "core/locate.h"
#include "core/text.h"
#include "net/broker.h"
#include "store/store_devices.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/csv.h"
#include "util/log.h"

/* One device and what only the registry sees of it. */
struct entry {
	struct iot_device dev;
	char secret_hash[STORE_PWHASH_MAX];	    /* "sha256$<hex>" (or a legacy argon2id string) */
	char mqtt_hash[STORE_DEVICE_MQTT_HASH_MAX]; /* for the broker's password file */
	unsigned char ok[crypto_generichash_BYTES]; /* keyed hash of the last secret that verified */
	bool ok_set;				    /* `ok` holds one */
	bool dirty;				    /* online/last seen changed since last saved */
	int64_t updated_at;			    /* the store row's updated_at (ms) */
};

/* An open-addressing index from a key (id or address) to entry number + 1 (0 = empty slot).
 * Devices are never removed (a decommissioned device stays, inactive), so no tombstones. */
struct index {
	uint32_t *slots;
	size_t cap; /* a power of two, at least twice the keys */
	size_t n;
};

struct devices {
	struct store *st;     /* where the registry is kept; not owned */
	pthread_mutex_t lock; /* guards everything below except the thread fields */
	struct entry **v;     /* entries in registration order (pointers stay put) */
	size_t n, cap;
	struct index by_id, by_addr;
	uint64_t version;  /* bumped when credentials or active flags change */
	int64_t seen_upto; /* largest store updated_at merged (ms) */
	size_t online;	   /* entries with dev.online */
	unsigned char cache_key[crypto_generichash_KEYBYTES]; /* keys the remembered-secret hashes */
	pthread_t saver; /* saves online state, picks up other processes' devices */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stop;
	bool saver_running;
};

static const char *const device_types[] = {"smoke_detector",   "electrical_fire_monitor",
					   "hydrant_pressure", "uitd",
					   "water_meter",      "rfid_reader",
					   "energy_meter",     "camera"};

bool devices_valid_type(const char *type)
{
	for (size_t i = 0; i < sizeof device_types / sizeof device_types[0]; i++)
		if (type && strcmp(type, device_types[i]) == 0)
			return true;
	return false;
}

/* ---- the index ----------------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static const char *entry_key(const struct entry *e, bool addr)
{
	return addr ? e->dev.address_hex : e->dev.id;
}

/* The entry with `key`, or NULL. Registry locked. */
static struct entry *index_find(const struct devices *d, const struct index *ix, bool addr, const char *key)
{
	if (!ix->cap || !key || !*key)
		return NULL;
	size_t mask = ix->cap - 1;
	for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
		uint32_t at = ix->slots[i];
		if (!at)
			return NULL;
		if (strcmp(entry_key(d->v[at - 1], addr), key) == 0)
			return d->v[at - 1];
	}
}

static void index_put_slot(struct index *ix, const char *key, uint32_t at)
{
	size_t mask = ix->cap - 1;
	size_t i = hash_str(key) & mask;
	while (ix->slots[i])
		i = (i + 1) & mask;
	ix->slots[i] = at;
	ix->n++;
}

/* Adds entry number `e` (0-based) under its key. Registry locked. */
static void index_add(struct devices *d, struct index *ix, bool addr, size_t e)
{
	if ((ix->n + 1) * 2 > ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		struct index grown = {xcalloc(cap, sizeof *grown.slots), cap, 0};
		for (size_t i = 0; i < ix->cap; i++)
			if (ix->slots[i])
				index_put_slot(&grown, entry_key(d->v[ix->slots[i] - 1], addr), ix->slots[i]);
		xfree(ix->slots);
		*ix = grown;
	}
	index_put_slot(ix, entry_key(d->v[e], addr), (uint32_t)(e + 1));
}

/* Rebuilds the address index (an address changed, rare). Registry locked. */
static void index_rebuild_addr(struct devices *d)
{
	xfree(d->by_addr.slots);
	memset(&d->by_addr, 0, sizeof d->by_addr);
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i]->dev.address_hex[0])
			index_add(d, &d->by_addr, true, i);
}

/* ---- store rows <-> entries ------------------------------------------------------------ */

/* The fields a registry entry and a store row share, by name: X(text member) and
 * V(value member). Both directions copy through this one list. */
#define DEV_SHARED_FIELDS(X, V)                                                                              \
	X(id)                                                                                                \
	X(type) X(name) X(site) X(owner) V(has_point) V(lat) V(lng) X(street_code) X(community_code)         \
	    X(grid_code) X(address_hex) X(tags) V(active)
#define DEV_COPY_TEXT(f) snprintf(dst->f, sizeof dst->f, "%s", src->f);
#define DEV_COPY_VALUE(f) dst->f = src->f;

static void dev_from_store(const struct store_device *src, struct iot_device *dst)
{
	memset(dst, 0, sizeof *dst);
	DEV_SHARED_FIELDS(DEV_COPY_TEXT, DEV_COPY_VALUE)
	dst->online = src->online != 0;
	dst->last_seen_ms = src->last_seen_ms;
}

static void dev_to_store(const struct iot_device *src, struct store_device *dst)
{
	memset(dst, 0, sizeof *dst);
	DEV_SHARED_FIELDS(DEV_COPY_TEXT, DEV_COPY_VALUE)
}

/* Adds a stored device, or refreshes the one with its id (a change another process made): the
 * online state stays the registry's own. Registry locked. */
static void merge_row(struct devices *d, const struct store_device *s)
{
	struct entry *e = index_find(d, &d->by_id, false, s->id);
	if (s->updated_at > d->seen_upto)
		d->seen_upto = s->updated_at;
	if (e && e->updated_at >= s->updated_at)
		return; /* already have this version (our own write) */
	if (!e) {
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 64;
			d->v = xrealloc(d->v, d->cap * sizeof *d->v);
		}
		e = xcalloc(1, sizeof *e);
		dev_from_store(s, &e->dev);
		d->v[d->n++] = e;
		index_add(d, &d->by_id, false, d->n - 1);
		if (e->dev.address_hex[0])
			index_add(d, &d->by_addr, true, d->n - 1);
		if (e->dev.online)
			d->online++;
	} else {
		bool online = e->dev.online;
		int64_t seen = e->dev.last_seen_ms;
		bool addr_changed = strcmp(e->dev.address_hex, s->address_hex) != 0;
		dev_from_store(s, &e->dev);
		e->dev.online = online;
		e->dev.last_seen_ms = seen > s->last_seen_ms ? seen : s->last_seen_ms;
		if (addr_changed)
			index_rebuild_addr(d);
		if (strcmp(e->secret_hash, s->secret_hash) != 0)
			e->ok_set = false;
	}
	snprintf(e->secret_hash, sizeof e->secret_hash, "%s", s->secret_hash);
	snprintf(e->mqtt_hash, sizeof e->mqtt_hash, "%s", s->mqtt_hash);
	e->updated_at = s->updated_at;
	d->version++;
}

/* Merges one row of a store walk. The walk holds the store's lock and this takes the
 * registry's inside it; nothing takes them the other way round (the registry never calls the
 * store while locked), so the two cannot deadlock. */
static int merge_cb(void *ctx, const struct store_device *s)
{
	struct devices *d = ctx;
	pthread_mutex_lock(&d->lock);
	merge_row(d, s);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Saves what changed and reads what others stored since the last time. */
static void save_and_refresh(struct devices *d)
{
	size_t n = 0, cap = 0;
	struct store_device_seen *v = NULL;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++) {
		struct entry *e = d->v[i];
		if (!e->dirty)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		snprintf(v[n].id, sizeof v[n].id, "%s", e->dev.id);
		v[n].online = e->dev.online;
		v[n].last_seen_ms = e->dev.last_seen_ms;
		n++;
		e->dirty = false;
	}
	int64_t since = d->seen_upto - 2000; /* overlap: a write in the same millisecond is not missed */
	pthread_mutex_unlock(&d->lock);
	if (n && store_devices_save_seen(d->st, v, n))
		log_warn("devices: could not save online states", "\"devices\":%zu", n);
	xfree(v);
	if (store_devices_list(d->st, since < 0 ? 0 : since, merge_cb, d))
		log_warn("devices: could not re-read the registry", NULL);
}

static void *saver_main(void *arg)
{
	struct devices *d = arg;
	pthread_mutex_lock(&d->stop_lock);
	while (!d->stop) {
		struct timespec until;
		clock_deadline_in(&until, DEVICES_SAVE_MS);
		pthread_cond_timedwait(&d->stop_cond, &d->stop_lock, &until);
		if (d->stop)
			break;
		pthread_mutex_unlock(&d->stop_lock);
		save_and_refresh(d);
		pthread_mutex_lock(&d->stop_lock);
	}
	pthread_mutex_unlock(&d->stop_lock);
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------- */

enum cd_err devices_load(struct app *app, struct devices **out)
{
	*out = NULL;
	struct devices *d = xcalloc(1, sizeof *d);
	d->st = app->st;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->stop_lock, NULL);
	pthread_cond_init(&d->stop_cond, NULL);
	randombytes_buf(d->cache_key, sizeof d->cache_key);
	d->version = 1;
	enum cd_err rc = store_devices_list(d->st, 0, merge_cb, d);
	if (rc) {
		devices_free(d);
		return rc;
	}
	if (pthread_create(&d->saver, NULL, saver_main, d) != 0) {
		devices_free(d);
		return CD_ERR_NOMEM;
	}
	d->saver_running = true;
	log_info("devices: registry loaded", "\"devices\":%zu,\"online\":%zu", d->n, d->online);
	*out = d;
	return CD_OK;
}

void devices_free(struct devices *d)
{
	if (!d)
		return;
	if (d->saver_running) {
		pthread_mutex_lock(&d->stop_lock);
		d->stop = true;
		pthread_cond_signal(&d->stop_cond);
		pthread_mutex_unlock(&d->stop_lock);
		pthread_join(d->saver, NULL);
		save_and_refresh(d);
	}
	for (size_t i = 0; i < d->n; i++)
		xfree(d->v[i]);
	xfree(d->v);
	xfree(d->by_id.slots);
	xfree(d->by_addr.slots);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->stop_lock);
	pthread_cond_destroy(&d->stop_cond);
	xfree(d);
}

void devices_sync(struct devices *d)
{
	if (d)
		save_and_refresh(d);
}

/* ---- lookups and online state -------------------------------------------------------- */

bool devices_get(struct devices *d, const char *id, struct iot_device *out)
{
	if (!d || !id)
		return false;
	pthread_mutex_lock(&d->lock);
	struct entry *e = index_find(d, &d->by_id, false, id);
	if (e)
		*out = e->dev;
	pthread_mutex_unlock(&d->lock);
	return e != NULL;
}

/* address_hex in lower case into out[16]; false unless 12 hex digits. */
static bool norm_address(const char *in, char out[16])
{
	size_t n = in ? strlen(in) : 0;
	if (n != 12)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = c;
	}
	out[n] = '\0';
	return true;
}

bool devices_find_address(struct devices *d, const char *address_hex, char id[IOT_ID_MAX])
{
	char key[16];
	if (!d || !norm_address(address_hex, key))
		return false;
	pthread_mutex_lock(&d->lock);
	struct entry *e = index_find(d, &d->by_addr, true, key);
	if (e)
		snprintf(id, IOT_ID_MAX, "%s", e->dev.id);
	pthread_mutex_unlock(&d->lock);
	return e != NULL;
}

/* Marks e seen at ts and online; true when it came online. Registry locked. */
static bool mark_seen(struct devices *d, struct entry *e, int64_t ts_ms)
{
	if (ts_ms > e->dev.last_seen_ms) {
		e->dev.last_seen_ms = ts_ms;
		e->dirty = true;
	}
	if (e->dev.online)
		return false;
	e->dev.online = true;
	e->dirty = true;
	d->online++;
	return true;
}

bool devices_seen(struct devices *d, const char *id, int64_t ts_ms)
{
	if (!d || !id)
		return false;
	pthread_mutex_lock(&d->lock);
	struct entry *e = index_find(d, &d->by_id, false, id);
	bool came = e && mark_seen(d, e, ts_ms);
	pthread_mutex_unlock(&d->lock);
	return came;
}

bool devices_set_online(struct devices *d, const char *id, bool online, int64_t ts_ms)
{
	if (!d || !id)
		return false;
	bool changed = false;
	pthread_mutex_lock(&d->lock);
	struct entry *e = index_find(d, &d->by_id, false, id);
	if (e && online) {
		changed = mark_seen(d, e, ts_ms);
	} else if (e && e->dev.online) {
		e->dev.online = false;
		e->dirty = true;
		d->online--;
		changed = true;
	}
	pthread_mutex_unlock(&d->lock);
	return changed;
}

void devices_sweep(struct devices *d, int64_t now_ms, int64_t timeout_ms,
		   void (*went_offline)(void *ctx, const struct iot_device *), void *ctx)
{
	if (!d)
		return;
	struct iot_device *gone = NULL;
	size_t n = 0, cap = 0;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++) {
		struct entry *e = d->v[i];
		if (!e->dev.online || e->dev.last_seen_ms >= now_ms - timeout_ms)
			continue;
		e->dev.online = false;
		e->dirty = true;
		d->online--;
		if (!went_offline)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			gone = xrealloc(gone, cap * sizeof *gone);
		}
		gone[n++] = e->dev;
	}
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; i < n; i++)
		went_offline(ctx, &gone[i]);
	xfree(gone);
}

void devices_each(struct devices *d, void (*fn)(void *ctx, const struct iot_device *), void *ctx)
{
	if (!d)
		return;
	enum { CHUNK = 256 };
	struct iot_device *chunk = xmalloc(CHUNK * sizeof *chunk);
	for (size_t at = 0;;) {
		size_t k = 0;
		pthread_mutex_lock(&d->lock);
		while (k < CHUNK && at < d->n)
			chunk[k++] = d->v[at++]->dev;
		pthread_mutex_unlock(&d->lock);
		if (!k)
			break;
		for (size_t i = 0; i < k; i++)
			fn(ctx, &chunk[i]);
	}
	xfree(chunk);
}

uint64_t devices_version(struct devices *d)
{
	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	uint64_t v = d->version;
	pthread_mutex_unlock(&d->lock);
	return v;
}

uint64_t devices_credentials(struct devices *d,
			     void (*each)(void *ctx, const char *id, const char *mqtt_hash), void *ctx)
{
	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i]->dev.active)
			each(ctx, d->v[i]->dev.id, d->v[i]->mqtt_hash);
	uint64_t v = d->version;
	pthread_mutex_unlock(&d->lock);
	return v;
}

/* "sha256$" and the hex SHA-256 of a secret: what is stored for it. A device secret is 256
 * random bits, so a plain digest protects it as well as a slow password hash would (the same
 * reasoning as for bearer tokens in core/auth), and an import of 10,000 devices takes
 * milliseconds of hashing instead of the ~15 minutes argon2id would. */
#define SECRET_PREFIX "sha256$"
static void secret_digest(const char *secret, char out[STORE_PWHASH_MAX])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
	memcpy(out, SECRET_PREFIX, sizeof SECRET_PREFIX);
	sodium_bin2hex(out + sizeof SECRET_PREFIX - 1, STORE_PWHASH_MAX - (sizeof SECRET_PREFIX - 1), h,
		       sizeof h);
}

bool devices_check_secret(struct devices *d, const char *id, const char *secret)
{
	if (!d || !id || !secret)
		return false;
	size_t len = strlen(secret);
	if (len > AUTH_PASSWORD_MAX)
		return false;
	char digest[STORE_PWHASH_MAX];
	secret_digest(secret, digest); /* also for unknown ids: the same work either way */
	unsigned char mac[crypto_generichash_BYTES];
	crypto_generichash(mac, sizeof mac, (const unsigned char *)secret, len, d->cache_key,
			   sizeof d->cache_key);
	char hash[STORE_PWHASH_MAX] = "";
	bool known = false, active = false;
	pthread_mutex_lock(&d->lock);
	struct entry *e = index_find(d, &d->by_id, false, id);
	if (e && strncmp(e->secret_hash, SECRET_PREFIX, sizeof SECRET_PREFIX - 1) == 0) {
		size_t n = strlen(digest);
		bool ok = strlen(e->secret_hash) == n && sodium_memcmp(e->secret_hash, digest, n) == 0;
		active = e->dev.active;
		pthread_mutex_unlock(&d->lock);
		return ok && active;
	}
	if (e) { /* an argon2id hash (stored by hand or by an older citydesk) */
		known = true;
		active = e->dev.active;
		if (e->ok_set && sodium_memcmp(e->ok, mac, sizeof mac) == 0) {
			pthread_mutex_unlock(&d->lock);
			return active;
		}
		snprintf(hash, sizeof hash, "%s", e->secret_hash);
	}
	pthread_mutex_unlock(&d->lock);
	if (!known)
		return false;
	bool ok = auth_password_verify(hash, secret) != 0;
	if (!ok)
		return false;
	pthread_mutex_lock(&d->lock);
	e = index_find(d, &d->by_id, false, id);
	if (e && strcmp(e->secret_hash, hash) == 0) { /* not replaced meanwhile */
		memcpy(e->ok, mac, sizeof mac);
		e->ok_set = true;
		active = e->dev.active;
	} else {
		ok = false;
	}
	pthread_mutex_unlock(&d->lock);
	return ok && active;
}

void devices_count(struct devices *d, size_t *total, size_t *online)
{
	size_t t = 0, o = 0;
	if (d) {
		pthread_mutex_lock(&d->lock);
		t = d->n;
		o = d->online;
		pthread_mutex_unlock(&d->lock);
	}
	if (total)
		*total = t;
	if (online)
		*online = o;
}

/* ---- registration -------------------------------------------------------------------- */

/* Tags: comma-separated words of [A-Za-z0-9_.-], no empty ones. "" is fine. */
static bool valid_tags(const char *s)
{
	if (!*s)
		return true;
	char word[IOT_ID_MAX];
	for (const char *p = s;;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n == 0 || n >= sizeof word)
			return false;
		memcpy(word, p, n);
		word[n] = '\0';
		if (!iot_valid_id(word))
			return false;
		if (!c)
			return true;
		p = c + 1;
	}
}

static bool text_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	return n < cap && text_utf8_valid(s, n);
}

/* Checks one device's fields (not yet located). CD_ERR_INVALID with p (422). */
static enum cd_err check_device(struct iot_device *dev, struct json_problem *p)
{
	if (!text_ok(dev->id, sizeof dev->id) || !iot_valid_id(dev->id)) {
		json_problem_set(p, 422, "invalid_field", "id",
				 "a device id is 1 to 63 letters, digits, '_', '.' or '-'");
		return CD_ERR_INVALID;
	}
	if (!text_ok(dev->type, sizeof dev->type) || !devices_valid_type(dev->type)) {
		json_problem_set(
		    p, 422, "invalid_field", "type",
		    "type is one of smoke_detector, electrical_fire_monitor, hydrant_pressure, uitd, "
		    "water_meter, rfid_reader, energy_meter, camera");
		return CD_ERR_INVALID;
	}
	static const char *const names[] = {"name", "site", "owner"};
	char *texts[] = {dev->name, dev->site, dev->owner};
	for (size_t i = 0; i < 3; i++) {
		if (!text_ok(texts[i], 128)) {
			json_problem_set(p, 422, "invalid_field", names[i],
					 "%s must be UTF-8 of at most 127 bytes", names[i]);
			return CD_ERR_INVALID;
		}
	}
	if (!text_ok(dev->tags, sizeof dev->tags) || !valid_tags(dev->tags)) {
		json_problem_set(p, 422, "invalid_field", "tags",
				 "tags are comma-separated words of letters, digits, '_', '.' or '-'");
		return CD_ERR_INVALID;
	}
	if (dev->address_hex[0]) {
		char norm[16];
		if (!text_ok(dev->address_hex, sizeof dev->address_hex) ||
		    !norm_address(dev->address_hex, norm)) {
			json_problem_set(p, 422, "invalid_field", "address_hex",
					 "a GB/T 26875.3 address is 12 hex digits");
			return CD_ERR_INVALID;
		}
		memcpy(dev->address_hex, norm, sizeof norm);
	}
	if (dev->has_point &&
	    (!isfinite(dev->lat) || !isfinite(dev->lng) || fabs(dev->lat) > 90 || fabs(dev->lng) > 180)) {
		json_problem_set(p, 422, "invalid_field", "lat", "lat/lng are WGS-84 degrees");
		return CD_ERR_INVALID;
	}
	return CD_OK;
}

/* Places dev's point on the map (street, community, grid), as intake places a case. */
static enum cd_err locate_device(struct app *app, struct iot_device *dev, struct json_problem *p)
{
	dev->street_code[0] = dev->community_code[0] = dev->grid_code[0] = '\0';
	if (!dev->has_point)
		return CD_OK;
	enum cd_err rc = CD_OK;
	pthread_rwlock_rdlock(&app->map_lock);
	const struct mapview *m = app->map;
	struct locate_hit hit;
	struct geo_point pt = {dev->lng, dev->lat};
	if (!m || !m->index) {
		rc = CD_ERR_INVALID;
		json_problem_set(p, 422, "no_district", "lat", "no district boundaries are loaded");
	} else if (locate_find(m->index, pt, &hit)) {
		rc = CD_ERR_INVALID;
		json_problem_set(p, 422, "outside_jurisdiction", "lat",
				 "该位置不在本辖区内 (the point is outside the district)");
	} else {
		if (hit.street >= 0)
			snprintf(dev->street_code, sizeof dev->street_code, "%s",
				 m->streets.items[hit.street].code);
		if (hit.community >= 0)
			snprintf(dev->community_code, sizeof dev->community_code, "%s",
				 m->communities.items[hit.community].code);
		if (hit.grid_code)
			snprintf(dev->grid_code, sizeof dev->grid_code, "%s", hit.grid_code);
	}
	pthread_rwlock_unlock(&app->map_lock);
	return rc;
}

/* A new secret (hex of 32 random bytes) and its two hashes. */
static enum cd_err make_secret(char secret[65], struct store_device *s)
{
	unsigned char raw[DEVICES_SECRET_LEN / 2];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(secret, DEVICES_SECRET_LEN + 1, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
	secret_digest(secret, s->secret_hash);
	return broker_password_hash(secret, s->mqtt_hash);
}

enum cd_err devices_create_many(struct app *app, const struct store_actor *actor, struct iot_device *devs,
				size_t n, char (*secrets)[65], size_t *bad, struct json_problem *p)
{
	*bad = n;
	if (n > DEVICES_IMPORT_MAX) {
		json_problem_set(p, 413, "too_many", NULL, "at most %d devices at once", DEVICES_IMPORT_MAX);
		return CD_ERR_TOOBIG;
	}
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		*bad = i;
		devs[i].active = true;
		devs[i].online = false;
		devs[i].last_seen_ms = 0;
		rc = check_device(&devs[i], p);
		if (!rc)
			rc = locate_device(app, &devs[i], p);
		for (size_t j = 0; j < i && !rc; j++) { /* repeats inside the batch, before hashing */
			if (strcmp(devs[j].id, devs[i].id) == 0) {
				json_problem_set(p, 409, "device_exists", "id", "device %s appears twice",
						 devs[i].id);
				rc = CD_ERR_EXISTS;
			} else if (devs[i].address_hex[0] &&
				   strcmp(devs[j].address_hex, devs[i].address_hex) == 0) {
				json_problem_set(p, 409, "address_taken", "address_hex",
						 "address %s appears twice", devs[i].address_hex);
				rc = CD_ERR_EXISTS;
			}
		}
		if (!rc && app->devices) { /* refuse known ids before paying for the hashes */
			struct iot_device known;
			char other[IOT_ID_MAX];
			if (devices_get(app->devices, devs[i].id, &known)) {
				json_problem_set(p, 409, "device_exists", "id",
						 "device %s is already registered", devs[i].id);
				rc = CD_ERR_EXISTS;
			} else if (devs[i].address_hex[0] &&
				   devices_find_address(app->devices, devs[i].address_hex, other)) {
				json_problem_set(p, 409, "address_taken", "address_hex",
						 "address %s is registered to device %s", devs[i].address_hex,
						 other);
				rc = CD_ERR_EXISTS;
			}
		}
	}
	if (rc)
		return rc;
	*bad = n;
	struct store_device *rows = xcalloc(n ? n : 1, sizeof *rows);
	for (size_t i = 0; i < n && !rc; i++) {
		dev_to_store(&devs[i], &rows[i]);
		rc = make_secret(secrets[i], &rows[i]);
	}
	if (rc) {
		json_problem_set(p, 500, "internal", NULL, "could not hash a device secret");
		goto out;
	}
	size_t at = n;
	rc = store_devices_add(app->st, actor, rows, n, &at);
	if (rc == CD_ERR_EXISTS) {
		*bad = at;
		json_problem_set(p, 409, "device_exists", at < n ? "id" : NULL,
				 "device %s or its address is already registered", at < n ? devs[at].id : "");
		goto out;
	}
	if (rc == CD_ERR_INVALID) {
		*bad = at;
		json_problem_set(p, 422, "invalid_field", NULL, "the store refused device %s",
				 at < n ? devs[at].id : "");
		goto out;
	}
	if (rc) {
		json_problem_set(p, 500, "internal", NULL, "the store failed");
		goto out;
	}
	if (app->devices) {
		pthread_mutex_lock(&app->devices->lock);
		for (size_t i = 0; i < n; i++)
			merge_row(app->devices, &rows[i]);
		pthread_mutex_unlock(&app->devices->lock);
	}
out:
	sodium_memzero(rows, n * sizeof *rows);
	xfree(rows);
	if (rc)
		for (size_t i = 0; i < n; i++)
			sodium_memzero(secrets[i], 65);
	return rc;
}

enum cd_err devices_create(struct app *app, const struct store_actor *actor, struct iot_device *dev,
			   char secret_out[65], struct json_problem *p)
{
	size_t bad;
	char(*one)[65] = (char(*)[65])secret_out;
	return devices_create_many(app, actor, dev, 1, one, &bad, p);
}

enum cd_err devices_new_secret(struct app *app, const struct store_actor *actor, const char *id,
			       char secret_out[65])
{
	struct store_device row;
	enum cd_err rc = store_device_get(app->st, id, &row);
	if (!rc)
		rc = make_secret(secret_out, &row);
	if (!rc)
		rc = store_device_set_secret(app->st, actor, id, row.secret_hash, row.mqtt_hash,
					     &row.updated_at);
	if (!rc && app->devices) {
		pthread_mutex_lock(&app->devices->lock);
		merge_row(app->devices, &row);
		pthread_mutex_unlock(&app->devices->lock);
	}
	sodium_memzero(&row, sizeof row);
	if (rc)
		sodium_memzero(secret_out, 65);
	return rc;
}

/* ---- changing and decommissioning ------------------------------------------------------ */

/* Re-reads device id from the store into the registry; offline too when it is inactive. */
static void registry_refresh(struct app *app, const char *id)
{
	struct store_device row;
	if (!app->devices || store_device_get(app->st, id, &row) != CD_OK)
		return;
	struct devices *d = app->devices;
	pthread_mutex_lock(&d->lock);
	merge_row(d, &row);
	struct entry *e = index_find(d, &d->by_id, false, id);
	if (e && !e->dev.active && e->dev.online) {
		e->dev.online = false;
		e->dirty = true;
		d->online--;
	}
	pthread_mutex_unlock(&d->lock);
	sodium_memzero(&row, sizeof row);
}

enum cd_err devices_update(struct app *app, const struct store_actor *actor, struct iot_device *dev,
			   struct json_problem *p)
{
	struct store_device cur;
	enum cd_err rc = store_device_get(app->st, dev->id, &cur);
	if (rc == CD_ERR_NOTFOUND) {
		json_problem_set(p, 404, "not_found", NULL, "no such device");
		return rc;
	}
	if (rc)
		return rc;
	sodium_memzero(cur.secret_hash, sizeof cur.secret_hash);
	snprintf(dev->type, sizeof dev->type, "%s", cur.type); /* a device does not change its kind */
	rc = check_device(dev, p);
	if (!rc)
		rc = locate_device(app, dev, p);
	char other[IOT_ID_MAX];
	if (!rc && dev->address_hex[0] && app->devices &&
	    devices_find_address(app->devices, dev->address_hex, other) && strcmp(other, dev->id) != 0) {
		json_problem_set(p, 409, "address_taken", "address_hex",
				 "address %s is registered to device %s", dev->address_hex, other);
		rc = CD_ERR_EXISTS;
	}
	if (rc)
		return rc;
	struct store_device row;
	dev_to_store(dev, &row);
	if (cur.active && !dev->active) { /* decommissioned here: withdraw the credentials too */
		char nobody[65];
		rc = make_secret(nobody, &row);
		sodium_memzero(nobody, sizeof nobody);
		if (!rc)
			rc = store_device_decommission(app->st, actor, &row, row.secret_hash, row.mqtt_hash);
	} else {
		rc = store_device_update(app->st, actor, &row);
	}
	sodium_memzero(&row, sizeof row);
	if (rc == CD_ERR_EXISTS)
		json_problem_set(p, 409, "address_taken", "address_hex",
				 "address %s is registered to another device", dev->address_hex);
	else if (rc == CD_ERR_NOTFOUND)
		json_problem_set(p, 404, "not_found", NULL, "no such device");
	if (rc)
		return rc;
	registry_refresh(app, dev->id);
	if (app->devices)
		devices_get(app->devices, dev->id, dev);
	return CD_OK;
}

enum cd_err devices_decommission(struct app *app, const struct store_actor *actor, const char *id,
				 struct iot_device *out, struct json_problem *p)
{
	struct store_device cur;
	enum cd_err rc = store_device_get(app->st, id, &cur);
	if (rc == CD_ERR_NOTFOUND)
		json_problem_set(p, 404, "not_found", NULL, "no such device");
	if (rc)
		return rc;
	sodium_memzero(cur.secret_hash, sizeof cur.secret_hash);
	if (!cur.active) {
		json_problem_set(p, 409, "decommissioned", NULL, "device %s is decommissioned already", id);
		return CD_ERR_CONFLICT;
	}
	struct iot_device dev;
	dev_from_store(&cur, &dev);
	dev.active = false;
	rc = devices_update(app, actor, &dev, p);
	if (!rc && out)
		*out = dev;
	return rc;
}

/* ---- CSV import ---------------------------------------------------------------------- */

/* Copies a CSV field into dst[cap]; false when it does not fit. */
static bool field_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static bool parse_coord(const char *s, double *out)
{
	char *end;
	if (!*s)
		return false;
	double v = strtod(s, &end);
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

enum cd_err devices_parse_csv(const char *text, size_t len, struct iot_device **out, size_t *n,
			      struct json_problem *p)
{
	static const char *const cols[] = {"id",  "type", "name",	 "site", "owner",
					   "lat", "lng",  "address_hex", "tags"};
	enum { C_ID, C_TYPE, C_NAME, C_SITE, C_OWNER, C_LAT, C_LNG, C_ADDR, C_TAGS, C_N };
	int at[C_N];
	*out = NULL;
	*n = 0;
	struct csv_reader r;
	csv_init(&r, text, len);
	struct iot_device *v = NULL;
	size_t count = 0, cap = 0;
	enum cd_err rc = csv_next(&r);
	if (rc) {
		json_problem_set(p, 422, "invalid_csv", NULL, "the CSV has no header row");
		rc = CD_ERR_INVALID;
		goto out;
	}
	for (size_t i = 0; i < r.nfields; i++) {
		bool known = false;
		for (size_t c = 0; c < C_N; c++)
			known |= strcmp(r.fields[i], cols[c]) == 0;
		if (!known) {
			json_problem_set(p, 422, "unknown_column", NULL, "line 1: unknown column \"%.40s\"",
					 r.fields[i]);
			rc = CD_ERR_INVALID;
			goto out;
		}
	}
	for (size_t c = 0; c < C_N; c++)
		at[c] = csv_column(&r, cols[c]);
	if (at[C_ID] < 0 || at[C_TYPE] < 0 || (at[C_LAT] < 0) != (at[C_LNG] < 0)) {
		json_problem_set(p, 422, "missing_column", NULL,
				 "the header needs id and type (and lat with lng, or neither)");
		rc = CD_ERR_INVALID;
		goto out;
	}
	while ((rc = csv_next(&r)) == CD_OK) {
		if (count == DEVICES_IMPORT_MAX) {
			json_problem_set(p, 413, "too_many", NULL, "at most %d devices at once",
					 DEVICES_IMPORT_MAX);
			rc = CD_ERR_TOOBIG;
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		struct iot_device *dv = &v[count];
		memset(dv, 0, sizeof *dv);
		char *dst[C_N] = {dv->id, dv->type, dv->name,	     dv->site, dv->owner,
				  NULL,	  NULL,	    dv->address_hex, dv->tags};
		size_t caps[C_N] = {sizeof dv->id,
				    sizeof dv->type,
				    sizeof dv->name,
				    sizeof dv->site,
				    sizeof dv->owner,
				    0,
				    0,
				    sizeof dv->address_hex,
				    sizeof dv->tags};
		const char *lat = "", *lng = "";
		for (size_t c = 0; c < C_N; c++) {
			if (at[c] < 0 || (size_t)at[c] >= r.nfields)
				continue;
			const char *f = r.fields[at[c]];
			if (c == C_LAT) {
				lat = f;
			} else if (c == C_LNG) {
				lng = f;
			} else if (!field_copy(dst[c], caps[c], f)) {
				json_problem_set(p, 422, "invalid_field", cols[c], "line %zu: %s is too long",
						 r.line, cols[c]);
				rc = CD_ERR_INVALID;
				goto out;
			}
		}
		if (*lat || *lng) {
			if (!parse_coord(lat, &dv->lat) || !parse_coord(lng, &dv->lng)) {
				json_problem_set(p, 422, "invalid_field", "lat",
						 "line %zu: lat/lng are not numbers", r.line);
				rc = CD_ERR_INVALID;
				goto out;
			}
			dv->has_point = true;
		}
		count++;
	}
	if (rc != CD_ERR_NOTFOUND) {
		json_problem_set(p, 422, "invalid_csv", NULL, "line %zu: malformed CSV", r.line);
		rc = CD_ERR_INVALID;
		goto out;
	}
	rc = CD_OK;
	*out = v;
	*n = count;
	v = NULL;
out:
	xfree(v);
	csv_release(&r);
	return rc;
}
