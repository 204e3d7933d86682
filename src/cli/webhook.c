/* `citydesk webhook`: add, list and remove the subscriptions of other systems to case events,
 * and list or retry the dead-letter list; also while the server runs (it re-reads
 * subscriptions every second and picks up retried deliveries). See docs/internals/webhooks.md. */
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/webhooks.h"
#include "cli/cli.h"
#include "core/auth.h"
#include "util/alloc.h"
#include "util/clock.h"

static const char usage[] =
    "usage: citydesk webhook add --name NAME --url URL [--events TYPE,TYPE,...] [--street CODE] [--unit "
    "CODE]\n"
    "       citydesk webhook list\n"
    "       citydesk webhook remove --name NAME\n"
    "       citydesk webhook deadletters [--name NAME] [--limit N]\n"
    "       citydesk webhook retry --id N\n"
    "Case events are POSTed as JSON to URL (http or https), signed with HMAC-SHA256 in the header\n"
    "X-Citydesk-Signature: t=<unix>,v1=<hex> over \"<t>.<body>\" with the subscription's secret,\n"
    "which `add` prints once. --events takes event types (case.created, case.overdue, ...) or\n"
    "patterns (case.*); none means every event. --street and --unit keep only the events of\n"
    "cases in that street or of that unit. Failed deliveries are retried with backoff and, after\n"
    "the last attempt, kept in the dead-letter list; `retry` queues one again.\n";

struct webhook_opts {
	const char *name, *url, *events, *street, *unit, *limit, *id;
};

static const struct cli_flag webhook_flags[] = {
	{"--name", offsetof(struct webhook_opts, name), 0},
	{"--url", offsetof(struct webhook_opts, url), 0},
	{"--events", offsetof(struct webhook_opts, events), 0},
	{"--street", offsetof(struct webhook_opts, street), 0},
	{"--unit", offsetof(struct webhook_opts, unit), 0},
	{"--limit", offsetof(struct webhook_opts, limit), 0},
	{"--id", offsetof(struct webhook_opts, id), 0},
};

/* A subscription name: 1-63 bytes of letters, digits, '-', '_' and '.'. */
static int valid_name(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < STORE_WEBHOOK_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* A whole number in [min, max] from text, or -1. */
static long long parse_count(const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

static int webhook_add(struct store *st, const void *opts)
{
	const struct webhook_opts *o = opts;
	if (!o->name || !o->url) {
		fprintf(stderr, "citydesk webhook add: --name and --url are required\n%s", usage);
		return 2;
	}
	if (!valid_name(o->name)) {
		fprintf(stderr,
			"citydesk webhook add: the name must be 1 to %d letters, digits, '-', '_' or '.'\n",
			STORE_WEBHOOK_NAME_MAX - 1);
		return 2;
	}
	if (webhooks_check_url(o->url)) {
		fprintf(stderr, "citydesk webhook add: \"%s\" is not an http:// or https:// URL\n", o->url);
		return 2;
	}
	if (webhooks_check_events(o->events)) {
		fprintf(stderr, "citydesk webhook add: --events must be comma-separated event types such as "
				"case.created,case.overdue or case.*\n");
		return 2;
	}
	if (o->street) {
		struct store_area area;
		if (store_area_get(st, o->street, &area, NULL) || strcmp(area.level, "street") != 0) {
			fprintf(stderr, "citydesk webhook add: %s is not a street code of this district\n",
				o->street);
			return 1;
		}
	}
	if (o->unit) {
		struct store_unit u;
		if (store_unit_get(st, o->unit, &u)) {
			fprintf(stderr, "citydesk webhook add: no unit %s\n", o->unit);
			return 1;
		}
	}
	struct store_webhook w;
	memset(&w, 0, sizeof w);
	snprintf(w.name, sizeof w.name, "%s", o->name);
	snprintf(w.url, sizeof w.url, "%s", o->url);
	snprintf(w.events, sizeof w.events, "%s", o->events ? o->events : "");
	snprintf(w.street_code, sizeof w.street_code, "%s", o->street ? o->street : "");
	snprintf(w.unit_code, sizeof w.unit_code, "%s", o->unit ? o->unit : "");
	webhooks_secret_new(w.secret);
	struct store_actor actor = cli_actor();
	int64_t id = 0;
	enum cd_err rc = store_webhook_add(st, &actor, &w, &id);
	if (rc == CD_ERR_EXISTS) {
		fprintf(stderr, "citydesk webhook add: the name \"%s\" is taken\n", o->name);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk webhook add: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("added webhook %s (id %lld) -> %s, events: %s\n", w.name, (long long)id, w.url,
	       w.events[0] ? w.events : "all");
	printf("secret: %s\n", w.secret);
	printf("(shown only now: the receiver checks X-Citydesk-Signature with it)\n");
	return 0;
}

static int webhook_list(struct store *st, const void *opts)
{
	(void)opts;
	struct store_webhook *v = NULL;
	size_t n = 0;
	if (store_webhooks_list(st, &v, &n)) {
		fprintf(stderr, "citydesk webhook list: the store failed\n");
		return 1;
	}
	printf("%-5s %-20s %-9s %-6s %-10s %-8s %-28s %s\n", "id", "name", "pending", "dead", "street",
	       "unit", "events", "url");
	for (size_t i = 0; i < n; i++) {
		int64_t pending = 0, dead = 0;
		if (store_webhook_counts(st, v[i].id, &pending, &dead))
			pending = dead = -1;
		printf("%-5lld %-20s %-9lld %-6lld %-10s %-8s %-28s %s\n", (long long)v[i].id, v[i].name,
		       (long long)pending, (long long)dead, v[i].street_code[0] ? v[i].street_code : "-",
		       v[i].unit_code[0] ? v[i].unit_code : "-", v[i].events[0] ? v[i].events : "all",
		       v[i].url);
	}
	for (size_t i = 0; i < n; i++)
		sodium_memzero(v[i].secret, sizeof v[i].secret);
	xfree(v);
	return 0;
}

static int webhook_remove(struct store *st, const void *opts)
{
	const struct webhook_opts *o = opts;
	if (!o->name) {
		fprintf(stderr, "citydesk webhook remove: --name is required\n%s", usage);
		return 2;
	}
	struct store_actor actor = cli_actor();
	enum cd_err rc = store_webhook_remove(st, &actor, o->name);
	if (rc == CD_ERR_NOTFOUND) {
		fprintf(stderr, "citydesk webhook remove: no webhook \"%s\"\n", o->name);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk webhook remove: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("removed webhook %s with its pending and dead deliveries\n", o->name);
	return 0;
}

static int webhook_deadletters(struct store *st, const void *opts)
{
	const struct webhook_opts *o = opts;
	long long limit = 50;
	if (o->limit && (limit = parse_count(o->limit, 1, STORE_WEBHOOK_PAGE_MAX)) < 0) {
		fprintf(stderr, "citydesk webhook deadletters: --limit must be 1 to %d\n",
			STORE_WEBHOOK_PAGE_MAX);
		return 2;
	}
	int64_t hook = 0;
	if (o->name) {
		struct store_webhook w;
		if (store_webhook_get(st, o->name, &w)) {
			fprintf(stderr, "citydesk webhook deadletters: no webhook \"%s\"\n", o->name);
			return 1;
		}
		hook = w.id;
		sodium_memzero(w.secret, sizeof w.secret);
	}
	struct store_webhook_delivery *v = NULL;
	size_t n = 0;
	if (store_webhook_deadletters(st, hook, (size_t)limit, &v, &n)) {
		fprintf(stderr, "citydesk webhook deadletters: the store failed\n");
		return 1;
	}
	printf("%-8s %-20s %-26s %-18s %-8s %-6s %-25s %s\n", "id", "webhook", "type", "ref", "attempts",
	       "status", "last attempt", "last error");
	for (size_t i = 0; i < n; i++) {
		char at[32];
		cli_format_time(v[i].last_at, at);
		printf("%-8lld %-20s %-26s %-18s %-8d %-6d %-25s %s\n", (long long)v[i].id, v[i].webhook_name,
		       v[i].type, v[i].ref[0] ? v[i].ref : "-", v[i].attempts, v[i].last_status, at,
		       v[i].last_error);
	}
	store_webhook_deliveries_free(v, n);
	return 0;
}

static int webhook_retry(struct store *st, const void *opts)
{
	const struct webhook_opts *o = opts;
	long long id = o->id ? parse_count(o->id, 1, INT64_MAX) : -1;
	if (id < 0) {
		fprintf(stderr, "citydesk webhook retry: --id N (a delivery id from `webhook deadletters`) "
				"is required\n");
		return 2;
	}
	struct store_actor actor = cli_actor();
	enum cd_err rc = store_webhook_retry(st, &actor, (int64_t)id, clock_wall_ms());
	if (rc == CD_ERR_NOTFOUND) {
		fprintf(stderr, "citydesk webhook retry: no dead delivery %lld\n", id);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "citydesk webhook retry: %s\n", cd_err_name(rc));
		return 1;
	}
	printf("delivery %lld queued again (a running server sends it within a second)\n", id);
	return 0;
}

int cli_webhook(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{"add", webhook_add},	    {"list", webhook_list},
		{"remove", webhook_remove}, {"deadletters", webhook_deadletters},
		{"retry", webhook_retry},
	};
	struct webhook_opts o;
	memset(&o, 0, sizeof o);
	return cli_run_verbs(argc, argv, "webhook", usage, webhook_flags, sizeof webhook_flags / sizeof webhook_flags[0],
			     verbs, sizeof verbs / sizeof verbs[0], &o);
}
