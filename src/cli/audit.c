/* `citydesk audit`: verify the hash chain of the audit trail, or list its newest entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: citydesk audit verify    exit 0 when the chain is whole; else name the first bad entry\n"
	"       citydesk audit list [--limit N]\n";

static int audit_verify(struct store *st)
{
	int64_t bad = 0, count = 0;
	char reason[512] = "";
	enum cd_err rc = store_audit_verify(st, &bad, reason, sizeof reason);
	if (rc == CD_ERR_CORRUPT) {
		printf("audit chain BROKEN at entry %lld: %s\n", (long long)bad, reason);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk audit verify: could not walk the chain: %s\n", cd_err_name(rc));
		return 1;
	}
	if (store_audit_count(st, &count))
		count = -1;
	printf("audit chain whole: %lld entries\n", (long long)count);
	return 0;
}

static int audit_list(struct store *st, long limit)
{
	struct store_audit_entry *e = NULL;
	size_t n = 0;
	if (store_audit_list(st, 0, limit, &e, &n)) {
		fprintf(stderr, "citydesk audit list: the store failed\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		printf("%lld\t%s\t%s\t%s\t%s\n", (long long)e[i].id, e[i].at, e[i].actor, e[i].action, e[i].target);
	store_audit_list_free(e, n);
	return 0;
}

int cli_audit(int argc, char **argv)
{
	struct config cfg;
	config_init(&cfg);
	int help = cli_usage_status(argc, argv, usage);
	if (help >= 0)
		return help;
	long limit = 50;
	for (int i = 2; i < argc; i++) {
		int taken = config_take_flag(&cfg, argc, argv, &i);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end;
			limit = strtol(argv[++i], &end, 10);
			if (*end || limit < 1 || limit > 500) {
				fprintf(stderr, "citydesk audit: --limit takes 1 to 500\n");
				return 2;
			}
			continue;
		}
		fprintf(stderr, "citydesk audit: unknown option %s\n%s", argv[i], usage);
		return 2;
	}
	struct store *st = NULL;
	if (cli_open_store(&cfg, &st))
		return 1;
	int status;
	if (strcmp(argv[1], "verify") == 0)
		status = audit_verify(st);
	else if (strcmp(argv[1], "list") == 0)
		status = audit_list(st, limit);
	else {
		fprintf(stderr, "citydesk audit: unknown command \"%s\"\n%s", argv[1], usage);
		status = 2;
	}
	store_close(st);
	return status;
}
