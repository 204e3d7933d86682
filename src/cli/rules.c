/* `citydesk rules`: import a rule set from a file (data/luohu/rules.json is the district's
 * default) and list the stored rules. Writes are audited as the local user; a running server
 * picks imported rules up within a minute. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "app/alerts.h"
#include "cli/cli.h"
#include "core/rules.h"
#include "store/store_alerts.h"
#include "util/alloc.h"

static const char usage[] =
    "usage: citydesk rules import FILE   (or --file FILE)\n"
    "       citydesk rules list [--json]\n"
    "import checks every rule of FILE ({\"rules\": [...]} or [...], each a rule in the JSON form of\n"
    "docs/internals/rules.md, or {\"rule\": {...}, \"source\": \"...\", \"intent\": \"...\"}) and then\n"
    "adds them; a stored rule with the same name gets the file's definition, so importing twice\n"
    "changes nothing. A running server uses the new rules within a minute.\n"
    "list prints id, kind, level, enabled and name of each rule (--json: the rules as JSON).\n";

struct rules_opts {
	const char *file;
	int json;
};

static const struct cli_flag rules_flags[] = {
    {"--file", offsetof(struct rules_opts, file), 0},
    {"--json", offsetof(struct rules_opts, json), 1},
};

static int verb_import(struct store *st, const void *opts)
{
	const struct rules_opts *o = opts;
	if (!o->file) {
		fprintf(stderr, "citydesk rules import: FILE is required\n%s", usage);
		return 2;
	}
	struct store_actor actor = cli_actor();
	struct alerts_import_result res;
	char reason[512] = "";
	enum cd_err rc = alerts_rules_import(st, &actor, o->file, &res, reason, sizeof reason);
	if (rc) {
		fprintf(stderr, "citydesk rules import: %s\n", reason[0] ? reason : cd_err_name(rc));
		return rc == CD_ERR_INVALID || rc == CD_ERR_NOTFOUND ? 2 : 1;
	}
	printf("%zu added, %zu updated, %zu unchanged\n", res.added, res.updated, res.unchanged);
	return 0;
}

static int verb_list(struct store *st, const void *opts)
{
	const struct rules_opts *o = opts;
	struct store_rule *rows = NULL;
	size_t n = 0;
	enum cd_err rc = store_rules_list(st, &rows, &n);
	if (rc) {
		fprintf(stderr, "citydesk rules list: %s\n", cd_err_name(rc));
		return 1;
	}
	json_t *all = o->json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *body = json_loads(rows[i].body, 0, NULL);
		struct rules_rule r;
		struct json_problem p;
		bool ok = body && rules_from_json(body, &r, &p) == CD_OK;
		json_decref(body);
		if (all) {
			json_t *j = ok ? rules_to_json(&r) : json_pack("{s:s}", "body", rows[i].body);
			json_object_set_new(j, "id", json_integer((json_int_t)rows[i].id));
			json_array_append_new(all, j);
		} else if (ok) {
			printf("%" JSON_INTEGER_FORMAT "\t%s\t%s\t%s\t%s\n", (json_int_t)rows[i].id,
			       rules_kind_name(r.kind), rules_level_name(r.level), r.enabled ? "on" : "off",
			       r.name);
		} else {
			printf("%" JSON_INTEGER_FORMAT "\t?\t?\t?\t%s (does not read)\n",
			       (json_int_t)rows[i].id, rows[i].name);
		}
	}
	if (all) {
		char *text = json_dumps(all, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		xfree(text);
		json_decref(all);
	}
	xfree(rows);
	return 0;
}

/* Declared in cli/cli.h by the lead; repeated here so this file builds on its own. */
int cli_rules(int argc, char **argv);

int cli_rules(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"import", verb_import},
	    {"list", verb_list},
	};
	struct rules_opts o;
	memset(&o, 0, sizeof o);
	/* `rules import FILE`: the file is positional; the flag parser takes only options */
	char *args[64];
	int n = 0;
	if (argc > (int)(sizeof args / sizeof args[0])) {
		fprintf(stderr, "citydesk rules: too many arguments\n%s", usage);
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		if (i == 2 && argc > 2 && strcmp(argv[1], "import") == 0 && argv[2][0] != '-') {
			o.file = argv[2];
			continue;
		}
		args[n++] = argv[i];
	}
	return cli_run_verbs(n, args, "rules", usage, rules_flags, sizeof rules_flags / sizeof rules_flags[0],
			     verbs, sizeof verbs / sizeof verbs[0], &o);
}
