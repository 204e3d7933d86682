/* Rule sets as files: reading a rules file (data/luohu/rules.json: each rule in the JSON form of
 * docs/internals/rules.md, with where it comes from and what it is for), importing it into the
 * store (checked whole first; a rule of the same name is replaced, an identical one left alone),
 * and loading the district's default set into an empty rules table when the server starts. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/alerts.h"
#include "core/rules.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "util/log.h"

#define RULES_FILE_MAX (1024 * 1024)	  /* a rules file is read whole; more is refused */
#define DEFAULT_RULES_META "rules_loaded" /* store meta: the default set was loaded once */

__attribute__((format(printf, 3, 4))) static void say(char *reason, size_t cap, const char *fmt, ...)
{
	if (!reason || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
}

/* The rule object of one item: the item itself, or its "rule" member when it is documented
 * ({"rule": {...}, "source": "...", "intent": "..."}). NULL when it is neither. */
static const json_t *item_rule(const json_t *item, bool *documented)
{
	const json_t *inner = json_object_get(item, "rule");
	*documented = inner != NULL;
	if (!json_is_object(item))
		return NULL;
	if (!inner)
		return item;
	static const char *const allowed[] = {"rule", "source", "intent"};
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)(uintptr_t)item, k, v)
	{
		bool ok = false;
		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			ok |= strcmp(k, allowed[i]) == 0;
		if (!ok || (strcmp(k, "rule") != 0 && !json_is_string(v)))
			return NULL;
	}
	return json_is_object(inner) ? inner : NULL;
}

enum cd_err alerts_rules_parse(const char *text, size_t len, struct rules_rule **out, size_t *n, char *reason,
			       size_t cap)
{
	*out = NULL;
	*n = 0;
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);
	if (!root) {
		say(reason, cap, "not JSON (line %d: %s)", jerr.line, jerr.text);
		return CD_ERR_INVALID;
	}
	const json_t *list = json_is_array(root) ? root : json_object_get(root, "rules");
	enum cd_err rc = CD_OK;
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > RULES_MAX) {
		say(reason, cap, "a rules file is {\"rules\": [...]} or [...] with 1 to %d rules", RULES_MAX);
		rc = CD_ERR_INVALID;
		goto out;
	}
	size_t count = json_array_size(list);
	struct rules_rule *v = xcalloc(count, sizeof *v);
	for (size_t i = 0; i < count && !rc; i++) {
		bool documented;
		const json_t *item = json_array_get(list, i);
		const json_t *r = item_rule(item, &documented);
		if (!r) {
			say(reason, cap,
			    "rule %zu: a rule object, or {\"rule\": {...}, \"source\": \"...\", \"intent\": "
			    "\"...\"}",
			    i + 1);
			rc = CD_ERR_INVALID;
			break;
		}
		json_t *copy = json_deep_copy(r);
		json_object_del(copy, "id"); /* the store gives ids */
		struct json_problem p;
		memset(&p, 0, sizeof p);
		rc = rules_from_json(copy, &v[i], &p);
		json_decref(copy);
		if (rc) {
			say(reason, cap, "rule %zu (%.127s): %s: %s", i + 1, v[i].name[0] ? v[i].name : "?",
			    p.field[0] ? p.field : "rule", p.message);
			rc = CD_ERR_INVALID;
			break;
		}
		for (size_t j = 0; j < i && !rc; j++) {
			if (strcmp(v[j].name, v[i].name) == 0) {
				say(reason, cap, "rule %zu: the name \"%s\" is used twice", i + 1, v[i].name);
				rc = CD_ERR_INVALID;
			}
		}
	}
	if (rc) {
		xfree(v);
		goto out;
	}
	*out = v;
	*n = count;
out:
	json_decref(root);
	return rc;
}

/* The normal form of a rule as stored (json_dumps memory: free with xfree), NULL when too long. */
static char *stored_text(const struct rules_rule *rule)
{
	json_t *norm = rules_to_json(rule);
	char *text = json_dumps(norm, JSON_COMPACT);
	json_decref(norm);
	if (text && strlen(text) >= STORE_RULE_BODY_MAX) {
		xfree(text);
		return NULL;
	}
	return text;
}

enum cd_err alerts_rules_import(struct store *st, const struct store_actor *actor, const char *path,
				struct alerts_import_result *res, char *reason, size_t cap)
{
	memset(res, 0, sizeof *res);
	char *text = NULL;
	size_t len = 0;
	enum cd_err rc = file_read_all(path, RULES_FILE_MAX, &text, &len);
	if (rc) {
		say(reason, cap, "cannot read %s (%s)", path, cd_err_name(rc));
		return rc;
	}
	struct rules_rule *v = NULL;
	size_t n = 0;
	struct store_rule *have = NULL;
	size_t nhave = 0;
	char **bodies = NULL;
	rc = alerts_rules_parse(text, len, &v, &n, reason, cap);
	if (rc)
		goto out;
	bodies = xcalloc(n, sizeof *bodies);
	for (size_t i = 0; i < n; i++) {
		bodies[i] = stored_text(&v[i]);
		if (!bodies[i]) {
			say(reason, cap, "rule \"%s\" is too long", v[i].name);
			rc = CD_ERR_INVALID;
			goto out;
		}
	}
	rc = store_rules_list(st, &have, &nhave);
	if (rc) {
		say(reason, cap, "cannot list the stored rules (%s)", cd_err_name(rc));
		goto out;
	}
	if (nhave + n > RULES_MAX) {
		say(reason, cap, "more than %d rules in all", RULES_MAX);
		rc = CD_ERR_RANGE;
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		const struct store_rule *same = NULL;
		for (size_t j = 0; j < nhave && !same; j++)
			if (strcmp(have[j].name, v[i].name) == 0)
				same = &have[j];
		if (same && strcmp(same->body, bodies[i]) == 0) {
			res->unchanged++;
		} else if (same) {
			rc = store_rule_update(st, actor, same->id, v[i].name, bodies[i]);
			if (!rc)
				res->updated++;
		} else {
			rc = store_rule_add(st, actor, v[i].name, bodies[i], NULL);
			if (!rc)
				res->added++;
		}
		if (rc)
			say(reason, cap, "the store refused rule \"%s\" (%s)", v[i].name, cd_err_name(rc));
	}
out:
	for (size_t i = 0; bodies && i < n; i++)
		xfree(bodies[i]);
	xfree(bodies);
	xfree(have);
	xfree(v);
	xfree(text);
	return rc;
}

enum cd_err alerts_load_default_rules(struct app *app, const char *district_dir)
{
	char flag[32];
	enum cd_err rc = store_meta_get(app->st, DEFAULT_RULES_META, flag, sizeof flag);
	if (rc != CD_ERR_NOTFOUND)
		return rc; /* loaded once already (or a store error): an admin's deletions stand */
	struct store_rule *have = NULL;
	size_t nhave = 0;
	rc = store_rules_list(app->st, &have, &nhave);
	xfree(have);
	if (rc)
		return rc;
	struct store_actor actor = {"system", ""};
	char path[4096], reason[512] = "";
	snprintf(path, sizeof path, "%s/rules.json", district_dir ? district_dir : ".");
	if (nhave == 0) {
		struct alerts_import_result res;
		rc = alerts_rules_import(app->st, &actor, path, &res, reason, sizeof reason);
		if (rc == CD_ERR_NOTFOUND) {
			log_warn("alerts: no default rules", "\"path\":\"%s\"", path);
			return CD_OK; /* a district without a rule set: not an error, try again next start */
		}
		if (rc) {
			log_error("alerts: default rules refused", "\"path\":\"%s\",\"reason\":\"%s\"", path,
				  reason);
			return rc;
		}
		log_info("alerts: default rules loaded", "\"path\":\"%s\",\"rules\":%zu", path, res.added);
		alerts_rules_changed(app->alerts);
	}
	char now[32];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	return store_meta_set(app->st, &actor, DEFAULT_RULES_META, now);
}
