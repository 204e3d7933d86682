/* The store's part for Open311 (issue 7): API keys, and the history of requests filed through
 * it for mySociety's servicerequestupdates. Same rules as store.h: thread-safe, audited writes. */
#ifndef CD_STORE_OPEN311_H
#define CD_STORE_OPEN311_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_APIKEY_NAME_MAX 64 /* with NUL */
#define STORE_APIKEY_HASH_LEN 64 /* hex SHA-256, without NUL */

struct store_api_key {
	int64_t id;
	char name[STORE_APIKEY_NAME_MAX];
	int per_minute;      /* requests a minute this key may make */
	int64_t created_at;  /* unix seconds */
	int64_t revoked_at;  /* 0 while usable */
};

/* Adds a key by its hash (64 hex digits). CD_ERR_EXISTS when the name is taken,
 * CD_ERR_INVALID for a bad name, hash or rate. */
enum cd_err store_api_key_add(struct store *st, const struct store_actor *actor, const char *name,
			      const char *key_hash, int per_minute, int64_t *id) CD_MUST_CHECK;
/* Revokes the key called `name`. CD_ERR_NOTFOUND when there is no usable key of that name. */
enum cd_err store_api_key_revoke(struct store *st, const struct store_actor *actor,
				 const char *name) CD_MUST_CHECK;
/* The usable key with this hash; CD_ERR_NOTFOUND when none (or revoked). */
enum cd_err store_api_key_find(struct store *st, const char *key_hash, struct store_api_key *out) CD_MUST_CHECK;

typedef enum cd_err (*store_api_key_fn)(void *ctx, const struct store_api_key *k);
/* Every key, revoked ones too, by name. */
enum cd_err store_api_keys_list(struct store *st, store_api_key_fn fn, void *ctx) CD_MUST_CHECK;

typedef enum cd_err (*store_channel_event_fn)(void *ctx, const char *case_ref, const struct store_case_event *ev);
/* The events in [from, to) (unix seconds) of cases that came in on `channel`, oldest first, at
 * most `max`. */
enum cd_err store_channel_events(struct store *st, const char *channel, int64_t from, int64_t to, size_t max,
				 store_channel_event_fn fn, void *ctx) CD_MUST_CHECK;

#endif
