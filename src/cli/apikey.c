/* `citydesk apikey`: the keys civic apps and city systems file Open311 requests with. A key is
 * shown once, when it is made; the store keeps only its SHA-256 (docs/open311.md). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/auth.h"
#include "store/store_open311.h"
#include "util/hex.h"

static const char usage[] =
	"usage: citydesk apikey add --name NAME [--per-minute N]\n"
	"       citydesk apikey list\n"
	"       citydesk apikey revoke --name NAME\n"
	"Open311 clients send the key as api_key when they POST requests or updates; each key may\n"
	"make --per-minute requests a minute (default 60). `add` prints the key once.\n";

struct apikey_opts {
	const char *name, *per_minute;
};

static int apikey_add(struct store *st, const void *opts)
{
	const struct apikey_opts *o = opts;
	size_t n = o->name ? strlen(o->name) : 0;
	if (n == 0 || n >= STORE_APIKEY_NAME_MAX ||
	    strspn(o->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n) {
		fprintf(stderr, "citydesk apikey add: --name must be 1 to %d letters, digits, '-', '_' or '.'\n",
			STORE_APIKEY_NAME_MAX - 1);
		return 2;
	}
	long per_minute = 60;
	if (o->per_minute) {
		char *end;
		per_minute = strtol(o->per_minute, &end, 10);
		if (*end || per_minute < 1 || per_minute > 100000) {
			fprintf(stderr, "citydesk apikey add: --per-minute must be 1 to 100000\n");
			return 2;
		}
	}
	char key[AUTH_TOKEN_LEN + 1];
	uint8_t h[AUTH_TOKEN_HASH_LEN];
	char hex[2 * AUTH_TOKEN_HASH_LEN + 1];
	auth_token_new(key, h);
	hex_encode(h, AUTH_TOKEN_HASH_LEN, hex);
	struct store_actor actor = cli_actor();
	enum cd_err rc = store_api_key_add(st, &actor, o->name, hex, (int)per_minute, NULL);
	if (rc == CD_ERR_EXISTS) {
		fprintf(stderr, "citydesk apikey add: the name \"%s\" is taken\n", o->name);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk apikey add: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("%s\n", key);
	fprintf(stderr, "added the API key %s (%ld requests a minute); it is shown only now\n", o->name, per_minute);
	return 0;
}

static enum cd_err print_key(void *ctx, const struct store_api_key *k)
{
	(void)ctx;
	char made[32], revoked[32];
	cli_format_time(k->created_at, made);
	cli_format_time(k->revoked_at, revoked);
	printf("%-24s %-10d %-26s %s\n", k->name, k->per_minute, made, revoked);
	return CD_OK;
}

static int apikey_list(struct store *st, const void *opts)
{
	(void)opts;
	printf("%-24s %-10s %-26s %s\n", "name", "per_minute", "created", "revoked");
	if (store_api_keys_list(st, print_key, NULL)) {
		fprintf(stderr, "citydesk apikey list: the store failed\n");
		return 1;
	}
	return 0;
}

static int apikey_revoke(struct store *st, const void *opts)
{
	const struct apikey_opts *o = opts;
	if (!o->name) {
		fprintf(stderr, "citydesk apikey revoke: --name is required\n%s", usage);
		return 2;
	}
	struct store_actor actor = cli_actor();
	enum cd_err rc = store_api_key_revoke(st, &actor, o->name);
	if (rc == CD_ERR_NOTFOUND) {
		fprintf(stderr, "citydesk apikey revoke: no usable key \"%s\"\n", o->name);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk apikey revoke: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("revoked the API key %s\n", o->name);
	return 0;
}

int cli_apikey(int argc, char **argv)
{
	static const struct cli_flag flags[] = {
		{"--name", offsetof(struct apikey_opts, name), 0},
		{"--per-minute", offsetof(struct apikey_opts, per_minute), 0},
	};
	static const struct cli_verb verbs[] = {
		{"add", apikey_add},
		{"list", apikey_list},
		{"revoke", apikey_revoke},
	};
	struct apikey_opts o = {0};
	return cli_run_verbs(argc, argv, "apikey", usage, flags, sizeof flags / sizeof flags[0], verbs,
			     sizeof verbs / sizeof verbs[0], &o);
}
