/* Helpers shared by the subcommands. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/auth.h"

int cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

enum cd_err cli_open_store(const struct config *cfg, struct store **out)
{
	char path[4096];
	enum cd_err rc = config_ensure_data_dir(cfg);
	if (rc)
		return rc;
	rc = config_db_path(cfg, path, sizeof path);
	if (rc) {
		fprintf(stderr, "citydesk: data directory path too long\n");
		return rc;
	}
	rc = store_open(path, out);
	if (rc)
		fprintf(stderr, "citydesk: cannot open the store %s: %s\n", path, cd_err_name(rc));
	return rc;
}

int cli_usage_status(int argc, char **argv, const char *usage)
{
	if (argc >= 2 && !cli_wants_help(argc, argv))
		return -1;
	printf("%s\n", usage);
	config_print_help();
	return argc < 2 ? 2 : 0;
}

void cli_format_time(int64_t t, char out[32])
{
	if (!t) {
		snprintf(out, 32, "-");
		return;
	}
	time_t tt = (time_t)t + 8 * 3600; /* Asia/Shanghai has no daylight saving */
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

struct store_actor cli_actor(void)
{
	static char name[64];
	if (!name[0]) {
		struct passwd *pw = getpwuid(geteuid());
		snprintf(name, sizeof name, "cli:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
	}
	struct store_actor a = {name, ""};
	return a;
}

int cli_run_verbs(int argc, char **argv, const char *command, const char *usage, const struct cli_flag *flags,
		  size_t nflags, const struct cli_verb *verbs, size_t nverbs, void *opts)
{
	struct config cfg;
	config_init(&cfg);
	int help = cli_usage_status(argc, argv, usage);
	if (help >= 0)
		return help;
	int urc = cli_parse_flags(argc - 1, argv + 1, &cfg, flags, nflags, opts, command, usage);
	if (urc)
		return urc;
	if (auth_init()) {
		fprintf(stderr, "citydesk: libsodium failed to initialise\n");
		return 1;
	}
	size_t k = 0;
	while (k < nverbs && strcmp(argv[1], verbs[k].verb) != 0)
		k++;
	if (k == nverbs) {
		fprintf(stderr, "citydesk %s: unknown command \"%s\"\n%s", command, argv[1], usage);
		return 2;
	}
	struct store *st = NULL;
	if (cli_open_store(&cfg, &st))
		return 1;
	int status = verbs[k].run(st, opts);
	store_close(st);
	return status;
}

int cli_parse_flags(int argc, char **argv, struct config *cfg, const struct cli_flag *flags, size_t n,
		    void *opts, const char *command, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		int taken = config_take_flag(cfg, argc, argv, &i);
		if (taken < 0)
			return 2;
		if (taken)
			continue;
		size_t k = 0;
		while (k < n && strcmp(argv[i], flags[k].flag) != 0)
			k++;
		if (k == n || (!flags[k].is_switch && i + 1 >= argc)) {
			fprintf(stderr, "citydesk %s: unknown or incomplete option %s\n%s", command, argv[i], usage);
			return 2;
		}
		char *field = (char *)opts + flags[k].offset;
		if (flags[k].is_switch)
			*(int *)(void *)field = 1;
		else
			*(const char **)(void *)field = argv[++i];
	}
	return 0;
}
