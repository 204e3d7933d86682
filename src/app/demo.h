/* Demo mode (`citydesk serve --demo on`, `make run`): on an empty store, a realistic year of
 * cases written through the real intake pipeline and workflow rules, then a simulator that
 * keeps the console alive (new reports, cases moving along, device data and fire alarms when
 * the IoT hub is running). A store that already holds cases is never seeded again. Design:
 * docs/internals/demo.md. */
#ifndef CD_DEMO_H
#define CD_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct app;
struct demo;

#define DEMO_DEFAULT_CASES                                                                                   \
	30000 /* a year for `--demo on` (~80 a day): ~23 s to seed on the 2-core machine (demo.md) */
#define DEMO_MAX_CASES 1000000

/* What a seeding run is asked to do. */
struct demo_options {
	size_t cases;	  /* cases to write over the period (1..DEMO_MAX_CASES) */
	int days;	  /* the period: reported_at spread over the last `days` days (1..3660) */
	uint64_t seed;	  /* pseudo-random seed: the same seed and store give the same history */
	char texts[4200]; /* CSV of citizen messages (columns title, detail), or "" for the
			     built-in templates only; a missing file is not an error */
};

/* What a seeding run did. */
struct demo_seed_stats {
	size_t cases;	       /* cases stored */
	size_t refused;	       /* cases intake refused (a point that failed to locate ...) */
	size_t steps;	       /* workflow steps recorded */
	size_t dropped;	       /* cases whose past was not written: someone acted on them first */
	size_t texts;	       /* messages read from opt->texts */
	double intake_seconds; /* wall time of the intake part */
	double steps_seconds;  /* wall time of the workflow part (deciding and writing) */
	double write_seconds;  /* of that, writing the steps (store_case_apply_steps) */
};

/* Fills opt with the defaults for app: DEMO_DEFAULT_CASES over 365 days, and the messages file
 * DISTRICT/../demo/messages.csv (CFG_DISTRICT's sibling). */
void demo_options_default(const struct app *app, struct demo_options *opt);

/* Parses the CFG_DEMO value: "off" (or "", "0", "no") → *cases 0; "on" → DEMO_DEFAULT_CASES;
 * a whole number 1..DEMO_MAX_CASES → that many cases. CD_ERR_INVALID for anything else. */
enum cd_err demo_parse_setting(const char *value, size_t *cases) CD_MUST_CHECK;

/* True when the store holds no case yet (the only store demo_seed writes to). */
bool demo_store_empty(struct app *app);

/* Writes opt->cases cases reported over the last opt->days days into app's store, each through
 * intake_prepare and the commit queue (app->intake), then the workflow steps each would have
 * taken by now (register, dispatch, accept, handle, verify, close, rate; some rejected, some
 * failing verification, some rated dissatisfied and reopened), at the moments they would have
 * happened, with the score counters they imply. Needs a serving app (store, map, calendar,
 * categories, classifier, intake queue); app->events may be NULL. Refuses (CD_ERR_CONFLICT) a
 * store that already holds cases. *stats (may be NULL) says what was done. */
enum cd_err demo_seed(struct app *app, const struct demo_options *opt,
		      struct demo_seed_stats *stats) CD_MUST_CHECK;

/* Starts demo mode as CFG_DEMO says. When it is off, *out is NULL and nothing runs. When on,
 * starts one thread that seeds an empty store (logging "demo seeded" with figures when done)
 * and then simulates: a new report every few seconds, open cases moving one step, and (when
 * app->iot and app->devices are set) telemetry and now and then a fire alarm. The server may
 * serve meanwhile. Call after the app is complete (intake queue, events, similar, IoT). */
enum cd_err demo_start(struct app *app, struct demo **out) CD_MUST_CHECK;
/* Stops the thread (an unfinished seeding stops between batches) and frees. Call before the
 * intake queue and the IoT hub stop. NULL is fine. */
void demo_stop(struct demo *d);

#endif
