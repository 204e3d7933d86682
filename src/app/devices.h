/* The device registry as the running server holds it: every registered device in memory (by
 * id and by GB/T 26875.3 address) over the store's devices table, with its online state kept
 * from heartbeats and data. Thread-safe: the hub's thread, HTTP threads and the rules call in
 * at once. A background thread saves online/last-seen to the store every few seconds and picks
 * up devices another process (`citydesk device add`) registered. Design:
 * docs/internals/devices.md. */
#ifndef CD_DEVICES_H
#define CD_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/iot.h"
#include "store/store.h"
#include "util/err.h"
#include "util/json.h"

struct app;
struct devices;

#define DEVICES_SECRET_LEN 64	 /* a device secret: 64 lower-case hex digits (256 bits) */
#define DEVICES_SAVE_MS 5000	 /* how often online/last seen are saved and the store re-read */
#define DEVICES_IMPORT_MAX 10000 /* devices one import takes */

/* Loads every device from app->st into a new registry (*out, freed with devices_free) and starts
 * its saver thread. Does not set app->devices (the caller does). */
enum cd_err devices_load(struct app *app, struct devices **out) CD_MUST_CHECK;
/* Saves the online states one last time, stops the thread, frees. NULL is fine. */
void devices_free(struct devices *d);

/* Saves online states and re-reads devices stored by others now, as the saver thread does every
 * DEVICES_SAVE_MS (for tests, and for callers that just changed the store themselves). */
void devices_sync(struct devices *d);

/* Copies the device `id` into *out; false when unknown (out untouched). Decommissioned devices
 * (active false) are found too: callers that take data check out->active. */
bool devices_get(struct devices *d, const char *id, struct iot_device *out);
/* The id of the device registered for a GB/T 26875.3 transmitter address (12 hex digits, any
 * case); false when none. */
bool devices_find_address(struct devices *d, const char *address_hex, char id[IOT_ID_MAX]);
/* Data or a heartbeat from `id` at ts_ms: last seen moves forward (never back) and the device
 * is online. True when it was offline before (it came online now); false otherwise and for an
 * unknown id. */
bool devices_seen(struct devices *d, const char *id, int64_t ts_ms);
/* Sets the online state from a status message. True when it changed; false when it was
 * already so or the id is unknown. Going online also counts as seen at ts_ms. */
bool devices_set_online(struct devices *d, const char *id, bool online, int64_t ts_ms);
/* Marks offline every online device not seen since now_ms - timeout_ms and calls went_offline
 * (may be NULL) with a copy of each, after the registry's lock is released (the callback may
 * call back into the registry). */
void devices_sweep(struct devices *d, int64_t now_ms, int64_t timeout_ms,
		   void (*went_offline)(void *ctx, const struct iot_device *), void *ctx);
/* Calls fn with a copy of each device in registration order, outside the registry's lock (fn
 * may call back in); devices added during the walk may or may not be seen. */
void devices_each(struct devices *d, void (*fn)(void *ctx, const struct iot_device *), void *ctx);
/* A number that changes whenever any device's credentials or active flag change (a new
 * device, a new secret, a decommission): the MQTT bridge re-reads credentials when it moves. */
uint64_t devices_version(struct devices *d);
/* Calls each(ctx, id, mqtt_hash) for every active device, under the registry's lock (each must
 * not call back into the registry), and returns the version the list belongs to. */
uint64_t devices_credentials(struct devices *d,
			     void (*each)(void *ctx, const char *id, const char *mqtt_hash), void *ctx);
/* True when `secret` is the device's secret and the device is active. Secrets are stored as
 * SHA-256 digests (256 random bits need no slow hash), compared in constant time; a device whose
 * stored hash is argon2id pays one verification (tens of ms), after which the good secret is
 * remembered as a keyed hash. */
bool devices_check_secret(struct devices *d, const char *id, const char *secret);
/* How many devices are registered, and how many of them are online. Either may be NULL. */
void devices_count(struct devices *d, size_t *total, size_t *online);

/* Registers a device: checks it (id, type, tags, address), locates its point on app's map
 * (street, community, grid; a point outside the district is refused), makes a new secret into
 * secret_out (DEVICES_SECRET_LEN hex digits and NUL: shown once, only its hashes are stored),
 * stores it audited as actor, and adds it to app->devices when that is set. `dev` is in/out:
 * id, type, name, site, owner, has_point/lat/lng, address_hex, tags are read; the rest is filled
 * (codes, active true, online false). CD_ERR_INVALID with p 422 naming the field;
 * CD_ERR_EXISTS with p 409 (id or address taken); other errors from the store. */
enum cd_err devices_create(struct app *app, const struct store_actor *actor, struct iot_device *dev,
			   char secret_out[65], struct json_problem *p) CD_MUST_CHECK;
/* devices_create for devs[0..n) (n <= DEVICES_IMPORT_MAX) all or nothing: every device is
 * checked and located first, then all are stored in one transaction. secrets[i] gets device
 * i's secret. On failure *bad is the index of the device at fault (n when none in particular)
 * and p names the field; nothing is stored. */
enum cd_err devices_create_many(struct app *app, const struct store_actor *actor, struct iot_device *devs,
				size_t n, char (*secrets)[65], size_t *bad,
				struct json_problem *p) CD_MUST_CHECK;

/* Gives device `id` a new secret (secret_out, shown once; the old one stops working, also for
 * MQTT once the broker's password file is rewritten), audited as "device.secret".
 * CD_ERR_NOTFOUND when there is no such device. */
enum cd_err devices_new_secret(struct app *app, const struct store_actor *actor, const char *id,
			       char secret_out[65]) CD_MUST_CHECK;

/* Changes a registered device: dev->id names it; name, site, owner, has_point/lat/lng,
 * address_hex, tags and active are its new values (the type stays; the caller fills every
 * field, e.g. from devices_get, and changes what it wants). Checked and located again like a
 * new device; audited "device.update" with before/after. Setting active false decommissions
 * it: the credentials are replaced by those of a secret nobody holds ("device.decommission",
 * one transaction), devices_version moves so the broker's password file drops it, HTTP device
 * posts get 401, the hub drops its messages, and it is offline. Setting active true again
 * does not give it a secret back (devices_new_secret does; GB/T 26875.3 transmitters need
 * none). On success *dev is the device as the registry now holds it. CD_ERR_NOTFOUND (p 404),
 * CD_ERR_INVALID (p 422), CD_ERR_EXISTS (p 409: the address belongs to another device). */
enum cd_err devices_update(struct app *app, const struct store_actor *actor, struct iot_device *dev,
			   struct json_problem *p) CD_MUST_CHECK;
/* Decommissions device id (devices_update with active false, everything else kept, the
 * transmitter address included, so history still reads). *out (may be NULL) gets the device.
 * CD_ERR_NOTFOUND (p 404), CD_ERR_CONFLICT (p 409: decommissioned already). */
enum cd_err devices_decommission(struct app *app, const struct store_actor *actor, const char *id,
				 struct iot_device *out, struct json_problem *p) CD_MUST_CHECK;

/* True when `type` is one of the eight device types. */
bool devices_valid_type(const char *type);
/* Parses one CSV import file (header row naming the columns: id,type,name,site,owner,lat,lng,
 * address_hex,tags; id and type required, others optional, any order) into a new array
 * (*out, *n; xfree it). CD_ERR_INVALID with p 422 naming the line and column at fault;
 * CD_ERR_TOOBIG above DEVICES_IMPORT_MAX rows. */
enum cd_err devices_parse_csv(const char *text, size_t len, struct iot_device **out, size_t *n,
			      struct json_problem *p) CD_MUST_CHECK;

#endif
