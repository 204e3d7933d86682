/* The subcommands of the citydesk binary. Each takes the arguments after its own name and
 * returns the process exit status (0 success, 1 failure, 2 usage error). */
#ifndef CD_CLI_H
#define CD_CLI_H

#include <stddef.h>

#include "app/config.h"
#include "store/store.h"

int cli_serve(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_webhook(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_classify(int argc, char **argv);
int cli_apikey(int argc, char **argv);
int cli_device(int argc, char **argv);
int cli_ingest(int argc, char **argv);
int cli_rules(int argc, char **argv);

/* One option of a subcommand: "--flag VALUE" stores VALUE in the `const char *` field at
 * `offset` of the options struct; a switch ("--flag" alone) sets the `int` field there to 1. */
struct cli_flag {
	const char *flag;
	size_t offset;
	int is_switch;
};

/* Parses argv[1..argc): the config flags (config.h) and the subcommand's own flags into opts.
 * Returns 0, or 2 after printing "citydesk <command>: unknown or incomplete option" and usage. */
int cli_parse_flags(int argc, char **argv, struct config *cfg, const struct cli_flag *flags, size_t n,
		    void *opts, const char *command, const char *usage);

/* One verb of a subcommand with verbs ("citydesk webhook add ..."): it runs on the open store
 * with the parsed options and returns the exit status. */
struct cli_verb {
	const char *verb;
	int (*run)(struct store *st, const void *opts);
};

/* The whole of a subcommand with verbs: help, flags (into opts), libsodium, the verb, the
 * store opened for it and closed after. argv[0] is the subcommand, argv[1] the verb. */
int cli_run_verbs(int argc, char **argv, const char *command, const char *usage, const struct cli_flag *flags,
		  size_t nflags, const struct cli_verb *verbs, size_t nverbs, void *opts);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);
/* For a command with verbs: prints usage and the common flags when argv names no verb (returns
 * 2) or asks for help (returns 0); returns -1 when the command should go on. */
int cli_usage_status(int argc, char **argv, const char *usage);
/* Opens the store in the configured data directory (creating both if needed). Prints the
 * reason on failure. */
enum cd_err cli_open_store(const struct config *cfg, struct store **out) CD_MUST_CHECK;
/* The actor recorded in the audit trail for local commands: "cli:<login name>". */
struct store_actor cli_actor(void);
/* Unix seconds as ISO 8601 at UTC+8 ("2026-11-27T15:04:05+08:00") into out; "-" for 0 (never). */
void cli_format_time(int64_t t, char out[32]);

#endif
