/* `citydesk user`: add, list, set passwords of and disable accounts, also while the server
 * runs (the store is shared through SQLite's WAL). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/auth.h"
#include "util/alloc.h"

static const char usage[] =
	"usage: citydesk user add --username U --role ROLE [--street CODE] [--unit CODE]\n"
	"                         [--name DISPLAY_NAME] --password-stdin\n"
	"       citydesk user list\n"
	"       citydesk user passwd --username U --password-stdin\n"
	"       citydesk user disable|enable --username U\n"
	"Roles: admin district_dispatcher street_dispatcher unit_staff grid_worker citizen auditor system.\n"
	"A street_dispatcher needs --street (a 9-digit street code); unit_staff needs --unit.\n"
	"The password (8 to 256 bytes) is read from the first line of standard input.\n";

struct user_opts {
	const char *username, *role, *street, *unit, *name;
	int password_stdin;
};

/* Reads one line from stdin into pw, without its newline. */
static enum cd_err read_password(char *pw, size_t cap)
{
	if (!fgets(pw, (int)cap, stdin)) {
		fprintf(stderr, "citydesk: no password on standard input\n");
		return CD_ERR_INVALID;
	}
	size_t n = strlen(pw);
	while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
		pw[--n] = '\0';
	return CD_OK;
}

static int parse_opts(int argc, char **argv, struct config *cfg, struct user_opts *o)
{
	static const struct cli_flag flags[] = {
		{"--username", offsetof(struct user_opts, username), 0},
		{"--role", offsetof(struct user_opts, role), 0},
		{"--street", offsetof(struct user_opts, street), 0},
		{"--unit", offsetof(struct user_opts, unit), 0},
		{"--name", offsetof(struct user_opts, name), 0},
		{"--password-stdin", offsetof(struct user_opts, password_stdin), 1},
	};
	return cli_parse_flags(argc, argv, cfg, flags, sizeof flags / sizeof flags[0], o, "user", usage);
}

static int user_add(struct store *st, const struct user_opts *o)
{
	struct store_actor actor = cli_actor();
	enum auth_role role;
	if (!o->username || !o->role || !o->password_stdin) {
		fprintf(stderr, "citydesk user add: --username, --role and --password-stdin are required\n%s", usage);
		return 2;
	}
	if (auth_role_parse(o->role, &role)) {
		fprintf(stderr, "citydesk user add: unknown role \"%s\"\n%s", o->role, usage);
		return 2;
	}
	if (o->street) {
		struct store_area area;
		if (store_area_get(st, o->street, &area, NULL) || strcmp(area.level, "street") != 0) {
			fprintf(stderr, "citydesk user add: %s is not a street code of this district\n", o->street);
			return 1;
		}
	}
	char pw[AUTH_PASSWORD_MAX + 4];
	struct store_user u;
	memset(&u, 0, sizeof u);
	if (read_password(pw, sizeof pw))
		return 1;
	enum cd_err rc = auth_password_hash(pw, u.password_hash);
	memset(pw, 0, sizeof pw);
	if (rc == CD_ERR_RANGE) {
		fprintf(stderr, "citydesk user add: the password must be %d to %d bytes long\n", AUTH_PASSWORD_MIN,
			AUTH_PASSWORD_MAX);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk user add: cannot hash the password: %s\n", cd_err_name(rc));
		return 1;
	}
	snprintf(u.username, sizeof u.username, "%s", o->username);
	snprintf(u.role, sizeof u.role, "%s", auth_role_name(role));
	snprintf(u.street_code, sizeof u.street_code, "%s", o->street ? o->street : "");
	snprintf(u.unit_code, sizeof u.unit_code, "%s", o->unit ? o->unit : "");
	snprintf(u.display_name, sizeof u.display_name, "%s", o->name ? o->name : "");
	int64_t id = 0;
	rc = store_user_add(st, &actor, &u, &id);
	if (rc == CD_ERR_EXISTS) {
		fprintf(stderr, "citydesk user add: the username \"%s\" is taken\n", o->username);
		return 1;
	}
	if (rc == CD_ERR_INVALID) {
		fprintf(stderr, "citydesk user add: refused: unknown unit, or the role's scope is missing "
				"(street_dispatcher needs --street, unit_staff needs --unit)\n");
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk user add: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("added user %s (id %lld, role %s)\n", u.username, (long long)id, u.role);
	return 0;
}

static int user_list(struct store *st)
{
	struct store_user *users = NULL;
	size_t n = 0;
	int64_t total = 0;
	if (store_users_list(st, 0, 500, &users, &n, &total)) {
		fprintf(stderr, "citydesk user list: the store failed\n");
		return 1;
	}
	printf("%-6s %-24s %-20s %-10s %-8s %s\n", "id", "username", "role", "street", "unit", "disabled");
	for (size_t i = 0; i < n; i++)
		printf("%-6lld %-24s %-20s %-10s %-8s %s\n", (long long)users[i].id, users[i].username,
		       users[i].role, users[i].street_code, users[i].unit_code, users[i].disabled ? "yes" : "no");
	if (total > (int64_t)n)
		printf("(%lld more)\n", (long long)(total - (int64_t)n));
	xfree(users);
	return 0;
}

static int user_passwd(struct store *st, const struct user_opts *o)
{
	struct store_actor actor = cli_actor();
	struct store_user u;
	if (!o->username || !o->password_stdin) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (store_user_get_by_name(st, o->username, &u)) {
		fprintf(stderr, "citydesk user passwd: no user \"%s\"\n", o->username);
		return 1;
	}
	char pw[AUTH_PASSWORD_MAX + 4];
	char hash[AUTH_HASH_MAX];
	if (read_password(pw, sizeof pw))
		return 1;
	enum cd_err rc = auth_password_hash(pw, hash);
	memset(pw, 0, sizeof pw);
	if (rc) {
		fprintf(stderr, "citydesk user passwd: the password must be %d to %d bytes long\n",
			AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
		return 1;
	}
	if (store_user_set_password(st, &actor, u.id, hash)) {
		fprintf(stderr, "citydesk user passwd: the store failed\n");
		return 1;
	}
	printf("password of %s changed; their sessions were ended\n", u.username);
	return 0;
}

static int user_set_disabled(struct store *st, const struct user_opts *o, int disabled)
{
	struct store_actor actor = cli_actor();
	struct store_user u;
	if (!o->username) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (store_user_get_by_name(st, o->username, &u)) {
		fprintf(stderr, "citydesk user: no user \"%s\"\n", o->username);
		return 1;
	}
	if (store_user_set_disabled(st, &actor, u.id, disabled)) {
		fprintf(stderr, "citydesk user: the store failed\n");
		return 1;
	}
	printf("%s %s\n", u.username, disabled ? "disabled; their sessions were ended" : "enabled");
	return 0;
}

int cli_user(int argc, char **argv)
{
	struct config cfg;
	struct user_opts o;
	memset(&o, 0, sizeof o);
	config_init(&cfg);
	int help = cli_usage_status(argc, argv, usage);
	if (help >= 0)
		return help;
	int urc = parse_opts(argc - 1, argv + 1, &cfg, &o);
	if (urc)
		return urc;
	if (auth_init()) {
		fprintf(stderr, "citydesk: libsodium failed to initialise\n");
		return 1;
	}
	struct store *st = NULL;
	if (cli_open_store(&cfg, &st))
		return 1;
	int status;
	const char *verb = argv[1];
	if (strcmp(verb, "add") == 0)
		status = user_add(st, &o);
	else if (strcmp(verb, "list") == 0)
		status = user_list(st);
	else if (strcmp(verb, "passwd") == 0)
		status = user_passwd(st, &o);
	else if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0)
		status = user_set_disabled(st, &o, strcmp(verb, "disable") == 0);
	else {
		fprintf(stderr, "citydesk user: unknown command \"%s\"\n%s", verb, usage);
		status = 2;
	}
	store_close(st);
	return status;
}
