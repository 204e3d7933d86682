/* `citydesk ingest`: gives a district system (the 119 fire system, gas, an elderly-care
 * platform ...) its key for POST /api/v1/ingest/{system}. The key is printed once; only its
 * SHA-256 is stored, so `add` again for the same system replaces a lost key. */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "app/alerts.h"
#include "cli/cli.h"
#include "store/store_alerts.h"

static const char usage[] =
    "usage: citydesk ingest add --system NAME\n"
    "Prints a new key for the district system NAME (1-63 of letters, digits, '-', '_', '.'),\n"
    "replacing its old key if it had one. The system sends events and alerts with\n"
    "  POST /api/v1/ingest/NAME   X-Api-Key: <key>\n"
    "in the JSON form of docs/internals/rules.md (\"Ingest\").\n";

struct ingest_opts {
	const char *system;
};

static const struct cli_flag ingest_flags[] = {
    {"--system", offsetof(struct ingest_opts, system), 0},
};

static int ingest_add(struct store *st, const void *opts)
{
	const struct ingest_opts *o = opts;
	if (!o->system) {
		fprintf(stderr, "citydesk ingest add: --system NAME is required\n%s", usage);
		return 2;
	}
	char key[ALERTS_INGEST_KEY_MAX], hash[STORE_HASH_HEX];
	alerts_ingest_key_new(key, hash);
	struct store_actor actor = cli_actor();
	enum cd_err rc = store_ingest_put(st, &actor, o->system, hash);
	if (rc == CD_ERR_INVALID) {
		fprintf(stderr, "citydesk ingest add: the system name must be 1 to 63 letters, digits, '-', "
				"'_' or '.'\n");
		sodium_memzero(key, sizeof key);
		return 2;
	}
	if (rc) {
		fprintf(stderr, "citydesk ingest add: %s\n", cd_err_name(rc));
		sodium_memzero(key, sizeof key);
		return 1;
	}
	printf("%s\n", key);
	fprintf(stderr, "key for system \"%s\" (shown once; send it as X-Api-Key)\n", o->system);
	sodium_memzero(key, sizeof key);
	return 0;
}

int cli_ingest(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"add", ingest_add},
	};
	struct ingest_opts o;
	memset(&o, 0, sizeof o);
	return cli_run_verbs(argc, argv, "ingest", usage, ingest_flags,
			     sizeof ingest_flags / sizeof ingest_flags[0], verbs,
			     sizeof verbs / sizeof verbs[0], &o);
}
