/* citydesk: the district operations platform. This file only dispatches to the
 * subcommands (src/cli/); see README.md for a tour of the source. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"serve", cli_serve, "run the platform: HTTP API and console"},
	{"import", cli_import, "import boundaries, units or the responsibility list"},
	{"user", cli_user, "add, list, change or disable accounts"},
	{"audit", cli_audit, "verify or list the audit trail"},
	{"webhook", cli_webhook, "add, list or remove webhooks; dead letters and retries"},
	{"apikey", cli_apikey, "add, list or revoke Open311 API keys"},
	{"device", cli_device, "register, import or list IoT devices"},
	{"ingest", cli_ingest, "keys for other district systems that push events in"},
	{"rules", cli_rules, "import or list alert rules (监测预警)"},
	{"train", cli_train, "train the category model from labelled messages"},
	{"classify", cli_classify, "classify texts from stdin (one per line)"},
};

static void usage(FILE *out)
{
	fprintf(out, "citydesk — district operations platform (一图 + 一平台 + N应用)\n\n"
		     "usage: citydesk <command> [options]   (citydesk <command> --help for more)\n\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		if (argc >= 2)
			config_print_help();
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "citydesk: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
