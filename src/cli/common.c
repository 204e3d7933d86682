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
