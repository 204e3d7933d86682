/* Credentials and access: argon2id password hashes, opaque bearer tokens (only their
 * SHA-256 is stored), the role list, and a login rate limiter. No I/O, no SQL. */
#ifndef CD_AUTH_H
#define CD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Roles, least to most general is not implied: each is a set of permissions of its own. */
enum auth_role {
	ROLE_ADMIN,
	ROLE_DISTRICT_DISPATCHER,
	ROLE_STREET_DISPATCHER,
	ROLE_UNIT_STAFF,
	ROLE_GRID_WORKER,
	ROLE_CITIZEN,
	ROLE_AUDITOR,
	ROLE_SYSTEM,
	ROLE_COUNT
};

#define AUTH_HASH_MAX 128      /* room for an argon2id encoded hash string with its NUL */
#define AUTH_TOKEN_LEN 43      /* 256 random bits in unpadded base64url */
#define AUTH_TOKEN_HASH_LEN 32 /* SHA-256 */
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 256

/* Must be called once before anything else here (initialises libsodium). */
enum cd_err auth_init(void) CD_MUST_CHECK;

/* The role's wire name ("street_dispatcher"); never NULL for a valid role. */
const char *auth_role_name(enum auth_role role);
/* Parses a wire name. CD_ERR_INVALID when unknown. */
enum cd_err auth_role_parse(const char *name, enum auth_role *out) CD_MUST_CHECK;
/* Simplified-Chinese label for the role, for the console and messages. */
const char *auth_role_label_zh(enum auth_role role);

/* Hashes a password with argon2id (libsodium's interactive limits) into `out`.
 * CD_ERR_RANGE when the password is shorter than AUTH_PASSWORD_MIN or longer than
 * AUTH_PASSWORD_MAX bytes; CD_ERR_NOMEM when argon2's memory could not be had. */
enum cd_err auth_password_hash(const char *password, char out[AUTH_HASH_MAX]) CD_MUST_CHECK;
/* True when `password` matches the stored hash. A NULL hash runs a dummy verification of
 * the same cost, so unknown usernames take as long as wrong passwords. */
int auth_password_verify(const char *stored_hash, const char *password);

/* A new bearer token (AUTH_TOKEN_LEN chars + NUL) and the hash to store for it. */
void auth_token_new(char token[AUTH_TOKEN_LEN + 1], uint8_t hash[AUTH_TOKEN_HASH_LEN]);
/* The hash of a presented token. CD_ERR_INVALID when it cannot be one of ours (length or
 * alphabet), so lookups of junk never reach the store. */
enum cd_err auth_token_hash(const char *token, uint8_t hash[AUTH_TOKEN_HASH_LEN]) CD_MUST_CHECK;

/* Login rate limiting by key (a username or a client address): a key with
 * AUTH_LIMIT_FAILURES failed logins in the last AUTH_LIMIT_WINDOW seconds is refused
 * until the oldest of them leaves the window. Memory is fixed; the least recently used key
 * is forgotten when the table is full. Thread-safe. */
#define AUTH_LIMIT_FAILURES 5
#define AUTH_LIMIT_WINDOW 60

struct auth_limiter;

struct auth_limiter *auth_limiter_new(size_t slots);
void auth_limiter_free(struct auth_limiter *lim);
/* 0 when `key` may try now; otherwise the seconds to wait (for Retry-After). */
int64_t auth_limiter_check(struct auth_limiter *lim, const char *key, int64_t now);
/* Records a failed attempt by `key` at `now`. */
void auth_limiter_fail(struct auth_limiter *lim, const char *key, int64_t now);
/* Forgets `key`'s failures (after a successful login). */
void auth_limiter_clear(struct auth_limiter *lim, const char *key);

#endif
