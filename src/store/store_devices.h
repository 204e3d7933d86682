/* The store's IoT device registry (src/store/sqlite_devices.c): devices with their place,
 * credentials (hashes only) and last known online state. Writes of the registry are audited in
 * the same transaction; online/last-seen bookkeeping is not (it is the system's, not a person's).
 * Conventions as in store.h. */
#ifndef CD_STORE_DEVICES_H
#define CD_STORE_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_DEVICE_ID_MAX 64	       /* [A-Za-z0-9_.-]{1,63} and NUL (IOT_ID_MAX) */
#define STORE_DEVICE_WORD_MAX 32       /* the type, with NUL */
#define STORE_DEVICE_TEXT_MAX 128      /* name, site, owner, with NUL */
#define STORE_DEVICE_TAGS_MAX 256      /* comma-separated tags, with NUL */
#define STORE_DEVICE_MQTT_HASH_MAX 160 /* BROKER_HASH_MAX */
#define STORE_DEVICE_BATCH_MAX 10000   /* devices one store_devices_add call takes */

/* One registered device, every stored column. */
struct store_device {
	char id[STORE_DEVICE_ID_MAX];
	char type[STORE_DEVICE_WORD_MAX]; /* one of the eight types (the schema checks) */
	char name[STORE_DEVICE_TEXT_MAX];
	char site[STORE_DEVICE_TEXT_MAX];
	char owner[STORE_DEVICE_TEXT_MAX];
	int has_point;	      /* 1 when lat/lng hold a point */
	double lat, lng;      /* WGS-84 */
	char street_code[16]; /* "" when not placed */
	char community_code[16];
	char grid_code[24];
	char address_hex[16]; /* GB/T 26875.3 address, 12 lower-case hex, or "" */
	char tags[STORE_DEVICE_TAGS_MAX];
	int active;				    /* 0 once decommissioned */
	char secret_hash[STORE_PWHASH_MAX];	    /* "sha256$<hex>" (app/devices.c); never audited */
	char mqtt_hash[STORE_DEVICE_MQTT_HASH_MAX]; /* Mosquitto password-file hash; never audited */
	int online;				    /* last saved online state */
	int64_t last_seen_ms;			    /* unix ms, 0 = never */
	int64_t created_at;			    /* unix seconds; set by the store when 0 */
	int64_t updated_at;			    /* unix ms of the last audited change; set by the store */
};

/* Adds devices v[0..n) (n <= STORE_DEVICE_BATCH_MAX) in ONE transaction, all or nothing, with
 * one audit entry "device.add" per device (no hashes in it). created_at/updated_at are filled
 * in. CD_ERR_EXISTS when an id or a transmitter address is taken (by a stored device or an
 * earlier one of the batch); CD_ERR_INVALID for a value the schema refuses or a field that is
 * not terminated. On failure *bad (may be NULL) is the index of the device at fault, or n when
 * the failure is not one device's. */
enum cd_err store_devices_add(struct store *st, const struct store_actor *actor, struct store_device *v,
			      size_t n, size_t *bad) CD_MUST_CHECK;

/* Rewrites the registry fields of device d->id (type, name, site, owner, point, codes, address,
 * tags, active; not the hashes, not online/last seen) and sets d->updated_at. Audited as
 * "device.update" with before/after. CD_ERR_NOTFOUND when there is no such device; CD_ERR_EXISTS
 * when the address belongs to another device. */
enum cd_err store_device_update(struct store *st, const struct store_actor *actor,
				struct store_device *d) CD_MUST_CHECK;

/* Decommissions device d->id: writes d's registry fields (d->active must be 0) and replaces the
 * credentials with the given hashes (of a secret nobody holds), in one transaction audited as
 * "device.decommission" with before/after (no hashes). CD_ERR_NOTFOUND, CD_ERR_INVALID. */
enum cd_err store_device_decommission(struct store *st, const struct store_actor *actor, struct store_device *d,
				      const char *secret_hash, const char *mqtt_hash) CD_MUST_CHECK;

/* Replaces the device's credentials (a new secret): "device.secret" audited without the hashes.
 * *updated_at (may be NULL) gets the new updated_at. CD_ERR_NOTFOUND when no such device. */
enum cd_err store_device_set_secret(struct store *st, const struct store_actor *actor, const char *id,
				    const char *secret_hash, const char *mqtt_hash,
				    int64_t *updated_at) CD_MUST_CHECK;

/* The device with that id, hashes included. CD_ERR_NOTFOUND when none. */
enum cd_err store_device_get(struct store *st, const char *id, struct store_device *out) CD_MUST_CHECK;

typedef int (*store_device_fn)(void *ctx, const struct store_device *d);
/* Calls fn for every device whose updated_at is > since_ms (0 = all), in id order; fn returning
 * non-zero stops the walk. The store is locked during the walk (see store.h). */
enum cd_err store_devices_list(struct store *st, int64_t since_ms, store_device_fn fn,
			       void *ctx) CD_MUST_CHECK;

/* One device's online state for store_devices_save_seen. */
struct store_device_seen {
	char id[STORE_DEVICE_ID_MAX];
	int online;
	int64_t last_seen_ms;
};

/* Saves the online state and last-seen time of v[0..n) in one transaction, not audited (the
 * registry's own bookkeeping, written every few seconds). Unknown ids are skipped. */
enum cd_err store_devices_save_seen(struct store *st, const struct store_device_seen *v,
				    size_t n) CD_MUST_CHECK;

#endif
