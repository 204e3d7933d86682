/* Passwords (argon2id), bearer tokens and the login limiter; see auth.h. */
#include "core/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "util/alloc.h"

static const struct {
	const char *name;
	const char *label_zh;
} roles[ROLE_COUNT] = {
	[ROLE_ADMIN] = {"admin", "系统管理员"},
	[ROLE_DISTRICT_DISPATCHER] = {"district_dispatcher", "区级调度员"},
	[ROLE_STREET_DISPATCHER] = {"street_dispatcher", "街道调度员"},
	[ROLE_UNIT_STAFF] = {"unit_staff", "责任单位人员"},
	[ROLE_GRID_WORKER] = {"grid_worker", "网格员"},
	[ROLE_CITIZEN] = {"citizen", "居民"},
	[ROLE_AUDITOR] = {"auditor", "审计员"},
	[ROLE_SYSTEM] = {"system", "系统接入"},
};

/* A hash of a throwaway password, verified against when the user does not exist. */
static char dummy_hash[AUTH_HASH_MAX];

enum cd_err auth_init(void)
{
	if (sodium_init() < 0)
		return CD_ERR_IO;
	if (!dummy_hash[0]) {
		char pw[33];
		uint8_t raw[16];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
		if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
			return CD_ERR_NOMEM;
	}
	return CD_OK;
}

const char *auth_role_name(enum auth_role role)
{
	return (unsigned)role < ROLE_COUNT ? roles[role].name : "unknown";
}

const char *auth_role_label_zh(enum auth_role role)
{
	return (unsigned)role < ROLE_COUNT ? roles[role].label_zh : "未知";
}

enum cd_err auth_role_parse(const char *name, enum auth_role *out)
{
	for (int i = 0; i < ROLE_COUNT; i++) {
		if (name && strcmp(name, roles[i].name) == 0) {
			*out = (enum auth_role)i;
			return CD_OK;
		}
	}
	return CD_ERR_INVALID;
}

enum cd_err auth_password_hash(const char *password, char out[AUTH_HASH_MAX])
{
	size_t len = strlen(password);
	if (len < AUTH_PASSWORD_MIN || len > AUTH_PASSWORD_MAX)
		return CD_ERR_RANGE;
	_Static_assert(crypto_pwhash_STRBYTES <= AUTH_HASH_MAX, "argon2 string fits");
	if (crypto_pwhash_str_alg(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return CD_ERR_NOMEM;
	return CD_OK;
}

int auth_password_verify(const char *stored_hash, const char *password)
{
	size_t len = strlen(password);
	if (len > AUTH_PASSWORD_MAX)
		len = AUTH_PASSWORD_MAX; /* still spend the time, never match */
	if (!stored_hash) {
		/* Only for its cost: the dummy password is random and never matches. */
		if (crypto_pwhash_str_verify(dummy_hash, password, len) == 0)
			return 0;
		return 0;
	}
	return crypto_pwhash_str_verify(stored_hash, password, len) == 0;
}

void auth_token_new(char token[AUTH_TOKEN_LEN + 1], uint8_t hash[AUTH_TOKEN_HASH_LEN])
{
	uint8_t raw[32];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(token, AUTH_TOKEN_LEN + 1, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	crypto_hash_sha256(hash, (const unsigned char *)token, AUTH_TOKEN_LEN);
}

enum cd_err auth_token_hash(const char *token, uint8_t hash[AUTH_TOKEN_HASH_LEN])
{
	size_t len = strnlen(token, AUTH_TOKEN_LEN + 1);
	if (len != AUTH_TOKEN_LEN)
		return CD_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		char c = token[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '-' || c == '_';
		if (!ok)
			return CD_ERR_INVALID;
	}
	crypto_hash_sha256(hash, (const unsigned char *)token, len);
	return CD_OK;
}

/* ---- login limiter ---- */

#define KEY_MAX 64

struct limiter_slot {
	char key[KEY_MAX];                       /* "" when free */
	int64_t failures[AUTH_LIMIT_FAILURES];   /* ring of failure times, 0 = none */
	unsigned next;                           /* ring position of the next failure */
	int64_t last_used;                       /* for eviction */
};

struct auth_limiter {
	pthread_mutex_t lock;
	size_t nslots;
	struct limiter_slot *slots;
};

struct auth_limiter *auth_limiter_new(size_t slots)
{
	struct auth_limiter *lim = xcalloc(1, sizeof *lim);
	pthread_mutex_init(&lim->lock, NULL);
	lim->nslots = slots ? slots : 1;
	lim->slots = xcalloc(lim->nslots, sizeof *lim->slots);
	return lim;
}

void auth_limiter_free(struct auth_limiter *lim)
{
	if (!lim)
		return;
	pthread_mutex_destroy(&lim->lock);
	xfree(lim->slots);
	xfree(lim);
}

/* Finds key's slot; when `create`, takes a free or the least recently used one. */
static struct limiter_slot *find_slot(struct auth_limiter *lim, const char *key, int create)
{
	char k[KEY_MAX];
	snprintf(k, sizeof k, "%s", key);
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *p = k; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	struct limiter_slot *victim = NULL;
	/* Probe a short run of slots: bounded work, good enough spread. */
	for (size_t i = 0; i < 8 && i < lim->nslots; i++) {
		struct limiter_slot *s = &lim->slots[(h + i) % lim->nslots];
		if (strcmp(s->key, k) == 0 && s->key[0])
			return s;
		if (!victim || !s->key[0] || (victim->key[0] && s->last_used < victim->last_used))
			victim = s;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof *victim);
	memcpy(victim->key, k, sizeof k);
	return victim;
}

static int64_t wait_seconds(const struct limiter_slot *s, int64_t now)
{
	int64_t oldest = INT64_MAX;
	for (int i = 0; i < AUTH_LIMIT_FAILURES; i++) {
		if (s->failures[i] == 0 || s->failures[i] <= now - AUTH_LIMIT_WINDOW)
			return 0; /* fewer than the limit inside the window */
		if (s->failures[i] < oldest)
			oldest = s->failures[i];
	}
	return oldest + AUTH_LIMIT_WINDOW - now;
}

int64_t auth_limiter_check(struct auth_limiter *lim, const char *key, int64_t now)
{
	pthread_mutex_lock(&lim->lock);
	struct limiter_slot *s = find_slot(lim, key, 0);
	int64_t wait = s ? wait_seconds(s, now) : 0;
	pthread_mutex_unlock(&lim->lock);
	return wait > 0 ? wait : 0;
}

void auth_limiter_fail(struct auth_limiter *lim, const char *key, int64_t now)
{
	pthread_mutex_lock(&lim->lock);
	struct limiter_slot *s = find_slot(lim, key, 1);
	s->failures[s->next] = now;
	s->next = (s->next + 1) % AUTH_LIMIT_FAILURES;
	s->last_used = now;
	pthread_mutex_unlock(&lim->lock);
}

void auth_limiter_clear(struct auth_limiter *lim, const char *key)
{
	pthread_mutex_lock(&lim->lock);
	struct limiter_slot *s = find_slot(lim, key, 0);
	if (s)
		memset(s, 0, sizeof *s);
	pthread_mutex_unlock(&lim->lock);
}
