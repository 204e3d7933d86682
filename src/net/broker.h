/* The Mosquitto broker that `citydesk serve` runs beside itself: a generated configuration
 * (listener, password file, ACL, persistence, queue sizes) in its own directory, a service
 * account for citydesk's own client, a supervisor thread that restarts the broker when it dies,
 * and device logins kept in step with the registry (password file rewritten, then SIGHUP).
 * Design: docs/internals/mqtt.md. */
#ifndef CD_NET_BROKER_H
#define CD_NET_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The service account's user name: '@' is not allowed in device ids, so no device can take it. */
#define BROKER_SERVICE_USER "citydesk@service"
#define BROKER_SECRET_LEN 65 /* the service password: 32 random bytes in hex, with NUL */
#define BROKER_HASH_MAX 160  /* a password-file hash ("$7$101$salt$hash"), with NUL */
#define BROKER_LOGIN_MAX 64  /* a device login (its id), with NUL */

/* The Mosquitto password-file form of a secret (PBKDF2-SHA512, "$7$101$<salt>$<hash>", as
 * mosquitto_passwd writes it) into out (net/mqtt_auth.c). CD_ERR_INVALID for an empty secret. */
enum cd_err broker_password_hash(const char *secret, char out[BROKER_HASH_MAX]) CD_MUST_CHECK;

/* Whether s may be a device login: 1..BROKER_LOGIN_MAX-1 of [A-Za-z0-9_.-], so it can stand in
 * the password file and the ACL as it is (device ids follow the same rule: iot_valid_id). */
bool broker_valid_login(const char *s);

struct broker;

struct broker_options {
	const char *dir;    /* the broker's directory (created, mode 0700): config, passwd, acl, db, log */
	const char *listen; /* HOST:PORT ("127.0.0.1:1883"); port 0 picks a free one */
	const char *exe;    /* the broker binary; NULL = /usr/sbin/mosquitto */
	long max_queued;    /* messages queued per client (the service account's backlog); 0 = 1,000,000 */
};

/* Writes the configuration, starts the broker and waits (up to 10 s) until it accepts TCP
 * connections, then leaves a supervisor thread watching it. CD_ERR_BUSY when the port is taken,
 * CD_ERR_IO when the broker cannot start (its complaint is logged). *out is freed with
 * broker_stop. The broker is killed if this process dies, even by SIGKILL. */
enum cd_err broker_start(const struct broker_options *opts, struct broker **out) CD_MUST_CHECK;

/* Stops the supervisor, then the broker (SIGTERM, so it saves its sessions; SIGKILL after 5 s).
 * NULL is fine. */
void broker_stop(struct broker *b);

/* Replaces the device logins (user = device id, hash = broker_password_hash form) with these
 * n, keeps the service account, writes the password file atomically and tells the broker to
 * reload it (SIGHUP). Entries with an invalid id or hash are skipped (and logged). The lists are
 * copied. A device no longer listed is disconnected by the broker on reload. */
enum cd_err broker_set_credentials(struct broker *b, const char *const *ids, const char *const *hashes,
				   size_t n) CD_MUST_CHECK;

/* Where to reach the broker (loopback for a wildcard listen; the port chosen when 0 was
 * asked for). The string lives as long as b. */
const char *broker_host(const struct broker *b);
int broker_port(const struct broker *b);

/* The service account's password (random for each start; never written anywhere in clear). */
const char *broker_service_password(const struct broker *b);

/* How many times the supervisor restarted the broker after it died. */
uint64_t broker_restarts(struct broker *b);

/* The broker's current process id, 0 while it is down (for tests and /metrics). */
int broker_pid(struct broker *b);

#endif
