/* Helpers shared by the subcommands. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

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
