/* The rule engine with synthetic time: every kind raising, not raising and clearing;
 * de-duplication, repeats and suppression; windows across midnight in Asia/Shanghai time;
 * a baseline over four weeks of history; rule changes; the JSON form. */
#include <string.h>

#include "core/rules.h"
#include "test.h"

/* Monday 2026-11-23 00:00 Asia/Shanghai (2026-11-22T16:00:00Z). */
#define MON 1795363200000LL
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

struct got {
	int n;
	enum rules_change ch[64];
	char device[64][RULES_ID_MAX];
	char metric[64][RULES_WORD_MAX];
	int64_t ts[64];
	double value[64];
	uint32_t count[64];
};

static void collect(void *ctx, const struct rules_alert *a)
{
	struct got *g = ctx;
	if (g->n >= 64)
		return;
	g->ch[g->n] = a->change;
	snprintf(g->device[g->n], sizeof g->device[g->n], "%s", a->device);
	snprintf(g->metric[g->n], sizeof g->metric[g->n], "%s", a->metric);
	g->ts[g->n] = a->ts_ms;
	g->value[g->n] = a->value;
	g->count[g->n] = a->count;
	g->n++;
}

static struct rules_rule base_rule(int64_t id, enum rules_kind kind, const char *metric)
{
	struct rules_rule r;
	memset(&r, 0, sizeof r);
	r.id = id;
	snprintf(r.name, sizeof r.name, "rule %lld", (long long)id);
	r.kind = kind;
	r.enabled = true;
	r.auto_clear = true;
	r.open_case = true;
	r.level = RULES_RED;
	r.weeks = 4;
	snprintf(r.metric, sizeof r.metric, "%s", metric);
	return r;
}

static struct rules *engine_with(const struct rules_rule *rule)
{
	struct rules *r = rules_new();
	CHECK_INT_EQ(rules_set(r, rule, 1), CD_OK);
	return r;
}

static const struct rules_device smoke = {"SD-1", "smoke_detector", "fire,building_a"};
static const struct rules_device meter = {"WM-7", "water_meter", "elderly_alone"};

static void threshold_raises_after_holding(void)
{
	struct rules_rule rule = base_rule(1, RULES_THRESHOLD, "temperature_c");
	rule.op = RULES_GT;
	rule.value = 60;
	rule.for_s = 30;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &smoke, "temperature_c", MON, 70, collect, &g);
	rules_sample(r, &smoke, "temperature_c", MON + 20 * SEC, 72, collect, &g);
	rules_tick(r, MON + 29 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + 30 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_STR_EQ(g.device[0], "SD-1");
	CHECK_NEAR(g.value[0], 72, 1e-9);
	/* de-duplicated: more high samples and ticks raise nothing more */
	rules_sample(r, &smoke, "temperature_c", MON + 40 * SEC, 75, collect, &g);
	rules_tick(r, MON + 41 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	/* back under: cleared */
	rules_sample(r, &smoke, "temperature_c", MON + 50 * SEC, 40, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	CHECK_INT_EQ(g.ts[1], MON + 50 * SEC);
	rules_free(r);
}

static void threshold_brief_excursion_does_not_raise(void)
{
	struct rules_rule rule = base_rule(1, RULES_THRESHOLD, "temperature_c");
	rule.value = 60;
	rule.for_s = 30;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &smoke, "temperature_c", MON, 70, collect, &g);
	rules_sample(r, &smoke, "temperature_c", MON + 10 * SEC, 50, collect, &g);
	rules_tick(r, MON + 60 * SEC, collect, &g);
	rules_sample(r, &smoke, "temperature_c", MON + 70 * SEC, 60, collect, &g); /* equal is not above */
	rules_tick(r, MON + 200 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	/* a late (older) sample is ignored */
	rules_sample(r, &smoke, "temperature_c", MON + 5 * SEC, 99, collect, &g);
	rules_tick(r, MON + 300 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	rules_free(r);
}

static void threshold_selectors(void)
{
	struct rules_rule rules[3];
	rules[0] = base_rule(1, RULES_THRESHOLD, "temperature_c");
	snprintf(rules[0].device_type, sizeof rules[0].device_type, "smoke_detector");
	rules[0].value = 60;
	rules[1] = base_rule(2, RULES_THRESHOLD, "temperature_c");
	snprintf(rules[1].tag, sizeof rules[1].tag, "building_a");
	rules[1].value = 60;
	rules[2] = base_rule(3, RULES_THRESHOLD, "temperature_c");
	snprintf(rules[2].device, sizeof rules[2].device, "SD-2");
	rules[2].value = 60;
	struct rules *r = rules_new();
	CHECK_INT_EQ(rules_set(r, rules, 3), CD_OK);
	struct got g = {0};
	rules_sample(r, &smoke, "temperature_c", MON, 70, collect, &g); /* type and tag match, id not */
	CHECK_INT_EQ(g.n, 2);
	rules_sample(r, &meter, "temperature_c", MON, 70, collect, &g); /* none match */
	CHECK_INT_EQ(g.n, 2);
	struct rules_device other = {"SD-2", "smoke_detector", "building_ab, x"}; /* tag must match whole */
	rules_sample(r, &other, "temperature_c", MON, 70, collect, &g);
	CHECK_INT_EQ(g.n, 4);						 /* type rule and id rule */
	rules_sample(r, &smoke, "humidity", MON + SEC, 99, collect, &g); /* other metric */
	CHECK_INT_EQ(g.n, 4);
	struct rules_stats st;
	rules_get_stats(r, &st);
	CHECK_INT_EQ(st.raised, 4);
	CHECK_INT_EQ(st.states, 4);
	rules_free(r);
}

static void repeats_bump_count_without_auto_clear(void)
{
	struct rules_rule rule = base_rule(1, RULES_THRESHOLD, "gas_lel");
	rule.value = 10;
	rule.auto_clear = false;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &smoke, "gas_lel", MON, 20, collect, &g);
	rules_sample(r, &smoke, "gas_lel", MON + SEC, 25, collect, &g);	    /* same episode */
	rules_sample(r, &smoke, "gas_lel", MON + 2 * SEC, 5, collect, &g);  /* ends; no clear */
	rules_sample(r, &smoke, "gas_lel", MON + 3 * SEC, 30, collect, &g); /* again */
	rules_sample(r, &smoke, "gas_lel", MON + 4 * SEC, 2, collect, &g);
	rules_sample(r, &smoke, "gas_lel", MON + 5 * SEC, 31, collect, &g);
	CHECK_INT_EQ(g.n, 3);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_INT_EQ(g.ch[1], RULES_REPEAT);
	CHECK_INT_EQ(g.count[1], 2);
	CHECK_INT_EQ(g.ch[2], RULES_REPEAT);
	CHECK_INT_EQ(g.count[2], 3);
	/* a person clears it: the next episode raises anew */
	rules_cleared(r, 1, "SD-1", NULL, MON + 6 * SEC);
	rules_sample(r, &smoke, "gas_lel", MON + 7 * SEC, 40, collect, &g);
	CHECK_INT_EQ(g.n, 4);
	CHECK_INT_EQ(g.ch[3], RULES_RAISE);
	CHECK_INT_EQ(g.count[3], 1);
	rules_free(r);
}

static void suppression_window(void)
{
	struct rules_rule rule = base_rule(1, RULES_THRESHOLD, "temperature_c");
	rule.value = 60;
	rule.suppress_s = 600;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &smoke, "temperature_c", MON, 70, collect, &g);
	rules_sample(r, &smoke, "temperature_c", MON + MIN, 50, collect, &g);
	CHECK_INT_EQ(g.n, 2); /* raise, clear */
	rules_sample(r, &smoke, "temperature_c", MON + 2 * MIN, 70, collect, &g);
	rules_tick(r, MON + 5 * MIN, collect, &g);
	CHECK_INT_EQ(g.n, 2); /* within 10 min of the clear: held back */
	struct rules_stats st;
	rules_get_stats(r, &st);
	CHECK_INT_EQ(st.suppressed, 1);
	rules_tick(r, MON + 11 * MIN - SEC, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	rules_tick(r, MON + 11 * MIN, collect, &g); /* still high when the window ends: raised */
	CHECK_INT_EQ(g.n, 3);
	CHECK_INT_EQ(g.ch[2], RULES_RAISE);
	/* cleared by a person while still high: raised again only after the window */
	rules_cleared(r, 1, "SD-1", NULL, MON + 12 * MIN);
	rules_sample(r, &smoke, "temperature_c", MON + 13 * MIN, 80, collect, &g);
	rules_tick(r, MON + 21 * MIN, collect, &g);
	CHECK_INT_EQ(g.n, 3);
	rules_tick(r, MON + 22 * MIN, collect, &g);
	CHECK_INT_EQ(g.n, 4);
	CHECK_INT_EQ(g.ch[3], RULES_RAISE);
	rules_free(r);
}

static void rate_of_change(void)
{
	struct rules_rule rule = base_rule(1, RULES_RATE, "temperature_c");
	rule.op = RULES_GT;
	rule.value = 2; /* more than 2 degrees a minute */
	rule.window_s = 300;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	/* slow rise: 1 degree a minute */
	for (int i = 0; i <= 10; i++)
		rules_sample(r, &smoke, "temperature_c", MON + i * MIN, 20 + i, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	/* fast rise: 5 degrees a minute; judged once half the window is seen */
	rules_sample(r, &smoke, "temperature_c", MON + 11 * MIN, 45, collect, &g); /* (45-26)/5 */
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_NEAR(g.value[0], 3.8, 1e-9);
	/* then flat: the 5-minute change falls under 2 a minute once 11:00 is the oldest sample */
	rules_sample(r, &smoke, "temperature_c", MON + 12 * MIN, 50, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	for (int i = 13; i <= 15; i++)
		rules_sample(r, &smoke, "temperature_c", MON + i * MIN, 50, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_sample(r, &smoke, "temperature_c", MON + 16 * MIN, 50, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	rules_free(r);

	/* a jump seen over too little of the window decides nothing */
	r = engine_with(&rule);
	struct got h = {0};
	rules_sample(r, &smoke, "temperature_c", MON, 20, collect, &h);
	rules_sample(r, &smoke, "temperature_c", MON + 10 * SEC, 60, collect, &h);
	CHECK_INT_EQ(h.n, 0);
	/* many samples a second: the ring thins but keeps the span */
	for (int i = 0; i < 400; i++)
		rules_sample(r, &smoke, "temperature_c", MON + 20 * SEC + i * SEC, 60 + i * 0.2, collect, &h);
	CHECK_INT_EQ(h.n, 1); /* 12 degrees a minute */
	CHECK(h.value[0] > 2);
	rules_free(r);
}

static void absence_of_any_data(void)
{
	struct rules_rule rule = base_rule(1, RULES_ABSENCE, "");
	rule.window_s = 600;
	rule.level = RULES_YELLOW;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_tick(r, MON, collect, &g); /* never seen: nothing to judge */
	rules_seen(r, &smoke, MON, collect, &g);
	rules_tick(r, MON + 599 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + 600 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_NEAR(g.value[0], 10, 1e-9);
	rules_tick(r, MON + 900 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_seen(r, &smoke, MON + 901 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	rules_tick(r, MON + 1000 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	rules_free(r);
}

static void absence_of_one_metric(void)
{
	struct rules_rule rule = base_rule(1, RULES_ABSENCE, "pressure_mpa");
	rule.window_s = 3600;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &smoke, "pressure_mpa", MON, 0.3, collect, &g);
	rules_seen(r, &smoke, MON + 30 * MIN, collect, &g); /* a heartbeat is not a pressure reading */
	rules_tick(r, MON + HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_seen(r, &smoke, MON + HOUR + MIN, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_sample(r, &smoke, "pressure_mpa", MON + HOUR + 2 * MIN, 0.3, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	rules_free(r);
}

/* A silent device under a 60 s absence rule, with the registry walk of the alerts worker
 * reporting the device's old last-seen time every minute: raised once, stays raised (the walk
 * re-reporting the old time used to clear it, and the next tick raised it again: a new alert
 * and a new case every minute). A real message, newer, still clears it. */
static void absence_stays_raised_across_seeding(void)
{
	struct rules_rule rule = base_rule(1, RULES_ABSENCE, "");
	rule.window_s = 60;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_seen(r, &smoke, MON, collect, &g); /* its last message */
	for (int64_t t = MON + SEC; t <= MON + 10 * MIN; t += SEC) {
		rules_tick(r, t, collect, &g);
		if ((t - MON) % MIN == 0) /* the walk, as it was: the same old time, as news */
			rules_seen(r, &smoke, MON, collect, &g);
	}
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_INT_EQ(g.ts[0], MON + MIN);
	rules_seen(r, &smoke, MON + 10 * MIN + SEC, collect, &g); /* heard from again */
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	rules_free(r);
}

/* rules_seed (the walk's own entry): starts the silence of a device never heard from, moves it
 * forward while nothing is raised, and never clears: not a raised alert, not one restored
 * after a restart (whose engine memory has no seen time). */
static void absence_seeding_never_clears(void)
{
	struct rules_rule rule = base_rule(1, RULES_ABSENCE, "");
	rule.window_s = 60;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	static const struct rules_device quiet = {"SD-Q", "smoke_detector", ""};
	rules_seed(r, &quiet, MON); /* never heard from: silence from the server's start */
	rules_seed(r, &smoke, MON);
	rules_tick(r, MON + 30 * SEC, collect, &g);
	rules_seed(r, &smoke, MON + 30 * SEC); /* the registry heard it (e.g. dropped telemetry) */
	rules_tick(r, MON + 60 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 1); /* only SD-Q */
	CHECK_STR_EQ(g.device[0], "SD-Q");
	rules_tick(r, MON + 90 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_STR_EQ(g.device[1], "SD-1");
	for (int64_t t = MON + 2 * MIN; t <= MON + 6 * MIN; t += MIN) {
		rules_seed(r, &quiet, MON);
		rules_seed(r, &smoke, t); /* even a newer time: the message itself will clear it */
		rules_tick(r, t, collect, &g);
	}
	CHECK_INT_EQ(g.n, 2);
	rules_seen(r, &smoke, MON + 7 * MIN, collect, &g);
	CHECK_INT_EQ(g.n, 3);
	CHECK_INT_EQ(g.ch[2], RULES_CLEAR);
	CHECK_STR_EQ(g.device[2], "SD-1");
	rules_free(r);

	/* after a restart: the open alert is restored, the walk gives the saved last-seen time */
	r = engine_with(&rule);
	memset(&g, 0, sizeof g);
	rules_restore_open(r, 1, "SD-1", NULL, 3);
	for (int64_t t = MON + HOUR; t <= MON + HOUR + 5 * MIN; t += MIN) {
		rules_seed(r, &smoke, MON);
		rules_tick(r, t, collect, &g);
	}
	CHECK_INT_EQ(g.n, 0); /* neither cleared nor raised again */
	rules_seen(r, &smoke, MON + 2 * HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_CLEAR);
	rules_free(r);
}

/* "no water used for 12 hours between 06:00 and 22:00" */
static struct rules_rule water_rule(void)
{
	struct rules_rule rule = base_rule(7, RULES_WINDOW, "water_l");
	snprintf(rule.tag, sizeof rule.tag, "elderly_alone");
	rule.mode = RULES_MODE_IDLE;
	rule.op = RULES_GT;
	rule.value = 0;
	rule.for_s = 12 * 3600;
	rule.from_min = 6 * 60;
	rule.to_min = 22 * 60;
	rule.level = RULES_ORANGE;
	return rule;
}

static void window_idle_water(void)
{
	struct rules_rule rule = water_rule();
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_seen(r, &meter, MON + 5 * HOUR, collect, &g);			  /* known from 05:00 */
	rules_sample(r, &meter, "water_l", MON + 5 * HOUR + MIN, 0, collect, &g); /* no use */
	rules_tick(r, MON + 18 * HOUR - SEC, collect, &g); /* 11:59:59 of window time */
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + 18 * HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_INT_EQ(g.ts[0], MON + 18 * HOUR);
	CHECK_NEAR(g.value[0], 12 * 60, 1e-6);
	rules_tick(r, MON + 19 * HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_sample(r, &meter, "water_l", MON + 21 * HOUR, 3.5, collect, &g); /* water at 21:00 */
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	/* the night does not count: 21:00-22:00 and 06:00-17:00 make 12 h on Tuesday at 17:00 */
	rules_tick(r, MON + DAY + 9 * HOUR, collect, &g);
	rules_tick(r, MON + DAY + 17 * HOUR - SEC, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	rules_tick(r, MON + DAY + 17 * HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 3);
	CHECK_INT_EQ(g.ch[2], RULES_RAISE);
	rules_free(r);

	/* a meter without the tag is not watched */
	r = engine_with(&rule);
	struct got h = {0};
	struct rules_device plain = {"WM-8", "water_meter", ""};
	rules_seen(r, &plain, MON, collect, &h);
	rules_tick(r, MON + 2 * DAY, collect, &h);
	CHECK_INT_EQ(h.n, 0);
	rules_free(r);
}

static void window_across_midnight(void)
{
	/* door openings between 22:00 and 06:00: fewer than 20 in the night is fine, 20+ raises */
	struct rules_rule rule = base_rule(9, RULES_WINDOW, "door_open");
	rule.mode = RULES_MODE_AGGREGATE;
	rule.agg = RULES_AGG_SUM;
	rule.op = RULES_GE;
	rule.value = 20;
	rule.from_min = 22 * 60;
	rule.to_min = 6 * 60;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &smoke, "door_open", MON + 23 * HOUR, 12, collect, &g); /* Mon night */
	rules_sample(r, &smoke, "door_open", MON + DAY + 1 * HOUR, 9, collect,
		     &g); /* Tue 01:00, same night */
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + DAY + 6 * HOUR - SEC, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + DAY + 6 * HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_NEAR(g.value[0], 21, 1e-9);
	CHECK_INT_EQ(g.ts[0], MON + DAY + 6 * HOUR);
	rules_sample(r, &smoke, "door_open", MON + DAY + 7 * HOUR, 50, collect, &g); /* daytime: outside */
	/* Tue night: only 3, judged at Wed 06:00: clears */
	rules_sample(r, &smoke, "door_open", MON + DAY + 22 * HOUR, 3, collect, &g);
	rules_tick(r, MON + 2 * DAY + 6 * HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	CHECK_NEAR(g.value[1], 3, 1e-9);
	rules_free(r);

	/* the window is Shanghai time: 23:00Z is 07:00 local (outside 22:00-06:00) */
	CHECK_INT_EQ(rules_local_minute(MON + 7 * HOUR), 7 * 60);
	CHECK_INT_EQ(rules_local_day(MON) + 1, rules_local_day(MON + DAY));
	CHECK_INT_EQ(rules_local_day(MON - 1), rules_local_day(MON) - 1); /* 15:59:59.999Z is still Sunday */
	CHECK_INT_EQ(rules_local_minute(MON - 1), 1439);
}

static void window_daily_participation(void)
{
	/* a sorting point's daily participation below 60 % (last reading of the day) */
	struct rules_rule rule = base_rule(11, RULES_WINDOW, "participation_pct");
	rule.mode = RULES_MODE_AGGREGATE;
	rule.agg = RULES_AGG_LAST;
	rule.op = RULES_LT;
	rule.value = 60;
	rule.from_min = 0;
	rule.to_min = 1440;
	rule.level = RULES_BLUE;
	struct rules_device point = {"RF-3", "rfid_reader", "sorting_point"};
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	rules_sample(r, &point, "participation_pct", MON + 10 * HOUR, 40, collect, &g);
	rules_sample(r, &point, "participation_pct", MON + 20 * HOUR, 72, collect, &g);
	rules_tick(r, MON + DAY, collect, &g); /* Monday ends at 72 % */
	CHECK_INT_EQ(g.n, 0);
	rules_sample(r, &point, "participation_pct", MON + DAY + 20 * HOUR, 55, collect, &g);
	rules_tick(r, MON + 2 * DAY - SEC, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + 2 * DAY, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_INT_EQ(rules_local_minute(g.ts[0]), 0);
	/* Wednesday: no readings at all: "last" has nothing to judge, the alert stays */
	rules_tick(r, MON + 3 * DAY, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_free(r);

	/* with sum, a day without a single reading is a zero day */
	rule.agg = RULES_AGG_SUM;
	r = engine_with(&rule);
	struct got h = {0};
	rules_sample(r, &point, "participation_pct", MON + 10 * HOUR, 80, collect, &h);
	rules_tick(r, MON + DAY, collect, &h);
	rules_tick(r, MON + DAY + HOUR, collect, &h);
	CHECK_INT_EQ(h.n, 0);
	rules_tick(r, MON + 2 * DAY, collect, &h);
	CHECK_INT_EQ(h.n, 1);
	CHECK_NEAR(h.value[0], 0, 1e-9);
	rules_free(r);
}

/* Hourly readings of an energy meter: `kwh` for the whole day, spread over 24 samples. */
static void feed_day(struct rules *r, const struct rules_device *dev, int64_t day_start, double kwh,
		     struct got *g)
{
	for (int h = 0; h < 24; h++) {
		rules_sample(r, dev, "energy_kwh", day_start + h * HOUR + 30 * MIN, kwh / 24.0, collect, g);
		rules_tick(r, day_start + h * HOUR + 31 * MIN, collect, g);
	}
}

static void baseline_four_weeks(void)
{
	struct rules_rule rule = base_rule(21, RULES_BASELINE, "energy_kwh");
	snprintf(rule.device_type, sizeof rule.device_type, "energy_meter");
	rule.weeks = 4;
	rule.percent = 30;
	rule.level = RULES_YELLOW;
	struct rules_device hosp = {"EM-1", "energy_meter", "hospital"};
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	/* four weeks of history: Mondays 1,000 kWh (a busy day), other days 600 */
	for (int d = 0; d < 28; d++)
		feed_day(r, &hosp, MON + d * DAY, d % 7 == 0 ? 1000 : 600, &g);
	CHECK_INT_EQ(g.n, 0);
	/* week 5 Monday: 1,200 is under 1,300 (Monday's baseline + 30 %), though twice a Tuesday */
	feed_day(r, &hosp, MON + 28 * DAY, 1200, &g);
	rules_tick(r, MON + 29 * DAY, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	/* week 5 Tuesday: 900 > 780 (600 + 30 %): raised during the day, once the total passes */
	feed_day(r, &hosp, MON + 29 * DAY, 900, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK(g.ts[0] < MON + 30 * DAY);
	CHECK(g.ts[0] > MON + 29 * DAY + 20 * HOUR); /* 780/37.5 = 20.8 hours in */
	/* Wednesday back to normal: the alert clears when Wednesday is judged whole */
	feed_day(r, &hosp, MON + 30 * DAY, 600, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_tick(r, MON + 31 * DAY, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	CHECK_INT_EQ(g.ts[1], MON + 31 * DAY);
	rules_free(r);

	/* one week of history is not a baseline of four */
	r = engine_with(&rule);
	struct got h = {0};
	for (int d = 0; d < 7; d++)
		feed_day(r, &hosp, MON + d * DAY, 600, &h);
	feed_day(r, &hosp, MON + 7 * DAY, 5000, &h);
	rules_tick(r, MON + 8 * DAY, collect, &h);
	CHECK_INT_EQ(h.n, 0);
	rules_free(r);
}

static void rule_changes_keep_or_drop_memory(void)
{
	struct rules_rule rules[2];
	rules[0] = base_rule(1, RULES_THRESHOLD, "temperature_c");
	rules[0].value = 60;
	rules[1] = base_rule(2, RULES_ABSENCE, "");
	rules[1].window_s = 60;
	struct rules *r = rules_new();
	CHECK_INT_EQ(rules_set(r, rules, 2), CD_OK);
	struct got g = {0};
	rules_sample(r, &smoke, "temperature_c", MON, 70, collect, &g);
	rules_seen(r, &smoke, MON, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	/* renamed only: the open alert is remembered (no second raise) */
	snprintf(rules[0].name, sizeof rules[0].name, "renamed");
	CHECK_INT_EQ(rules_set(r, rules, 2), CD_OK);
	rules_sample(r, &smoke, "temperature_c", MON + SEC, 71, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	/* limit changed: memory reset, the alert stays open (a lower value clears it) */
	rules[0].value = 65;
	CHECK_INT_EQ(rules_set(r, rules, 2), CD_OK);
	rules_sample(r, &smoke, "temperature_c", MON + 2 * SEC, 72, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	rules_sample(r, &smoke, "temperature_c", MON + 3 * SEC, 50, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	/* rule 2 removed: its memory goes, no absence alert later */
	CHECK_INT_EQ(rules_set(r, rules, 1), CD_OK);
	rules_tick(r, MON + HOUR, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	struct rules_stats st;
	rules_get_stats(r, &st);
	CHECK_INT_EQ(st.states, 1);
	/* duplicate ids and invalid rules are refused, nothing changes */
	rules[1] = rules[0];
	CHECK_INT_EQ(rules_set(r, rules, 2), CD_ERR_INVALID);
	rules[1].id = 5;
	rules[1].metric[0] = 0;
	CHECK_INT_EQ(rules_set(r, rules, 2), CD_ERR_INVALID);
	size_t n = 0;
	rules_list(r, &n);
	CHECK_INT_EQ(n, 1);
	/* an alert restored from the store is de-duplicated, and clears */
	rules_restore_open(r, 1, "SD-9", "", 3);
	struct rules_device sd9 = {"SD-9", "smoke_detector", ""};
	rules_sample(r, &sd9, "temperature_c", MON + 4 * SEC, 90, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	rules_sample(r, &sd9, "temperature_c", MON + 5 * SEC, 20, collect, &g);
	CHECK_INT_EQ(g.n, 3);
	CHECK_INT_EQ(g.ch[2], RULES_CLEAR);
	CHECK_INT_EQ(g.count[2], 3);
	rules_free(r);
}

static void many_devices(void)
{
	struct rules_rule rule = base_rule(1, RULES_THRESHOLD, "t");
	rule.value = 0;
	struct rules *r = engine_with(&rule);
	struct got g = {0};
	char id[RULES_ID_MAX];
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "dev-%d", i);
		struct rules_device d = {id, "x", ""};
		rules_sample(r, &d, "t", MON, i % 2 ? 1 : -1, NULL, NULL);
	}
	struct rules_stats st;
	rules_get_stats(r, &st);
	CHECK_INT_EQ(st.states, 5000);
	CHECK_INT_EQ(st.raised, 2500);
	struct rules_device d1 = {"dev-1", "x", ""};
	rules_sample(r, &d1, "t", MON + SEC, -1, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_STR_EQ(g.device[0], "dev-1");
	rules_free(r);
}

static void json_round_trip(void)
{
	static const char *const good[] = {
	    "{\"name\":\"烟感高温\",\"kind\":\"threshold\",\"device_type\":\"smoke_detector\","
	    "\"metric\":\"temperature_c\",\"op\":\">\",\"value\":60,\"for_s\":30,\"level\":\"red\","
	    "\"suppress_s\":600,\"category\":\"H130809\"}",
	    "{\"name\":\"升温过快\",\"kind\":\"rate\",\"metric\":\"temperature_c\",\"op\":\"gt\",\"value\":2,"
	    "\"window_s\":300}",
	    "{\"name\":\"离线\",\"kind\":\"absence\",\"window_s\":900,\"level\":\"blue\"}",
	    "{\"name\":\"独居老人用水\",\"kind\":\"window\",\"tag\":\"elderly_alone\",\"metric\":\"water_l\","
	    "\"mode\":\"idle\",\"op\":\">\",\"value\":0,\"for_s\":43200,\"from\":\"06:00\",\"to\":\"22:00\","
	    "\"level\":\"orange\"}",
	    "{\"name\":\"参与率\",\"kind\":\"window\",\"metric\":\"participation_pct\",\"mode\":"
	    "\"aggregate\","
	    "\"agg\":\"last\",\"op\":\"<\",\"value\":60,\"from\":\"00:00\",\"to\":\"24:00\",\"open_case\":"
	    "false}",
	    "{\"name\":\"能耗\",\"kind\":\"baseline\",\"metric\":\"energy_kwh\",\"weeks\":4,\"percent\":30,"
	    "\"enabled\":false,\"auto_clear\":false}",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		json_error_t e;
		json_t *in = json_loads(good[i], 0, &e);
		CHECK(in != NULL);
		struct rules_rule a, b;
		struct json_problem p;
		memset(&p, 0, sizeof p);
		CHECK_INT_EQ(rules_from_json(in, &a, &p), CD_OK);
		if (p.field[0])
			fprintf(stderr, "  rule %zu: %s %s\n", i, p.field, p.message);
		json_t *out = rules_to_json(&a);
		CHECK_INT_EQ(rules_from_json(out, &b, &p), CD_OK);
		CHECK(memcmp(&a, &b, sizeof a) == 0);
		json_decref(in);
		json_decref(out);
	}
	struct rules_rule a;
	struct json_problem p;
	json_t *in = json_loads(good[3], 0, NULL);
	CHECK_INT_EQ(rules_from_json(in, &a, &p), CD_OK);
	CHECK_INT_EQ(a.kind, RULES_WINDOW);
	CHECK_INT_EQ(a.from_min, 360);
	CHECK_INT_EQ(a.to_min, 1320);
	CHECK_INT_EQ(a.level, RULES_ORANGE);
	CHECK_STR_EQ(a.tag, "elderly_alone");
	json_decref(in);

	static const struct {
		const char *json, *field;
	} badcases[] = {
	    {"{\"name\":\"x\",\"kind\":\"threshold\",\"metric\":\"t\",\"value\":1,\"colour\":\"red\"}",
	     "colour"},
	    {"{\"name\":\"x\",\"kind\":\"threshold\",\"value\":1}", "metric"},
	    {"{\"name\":\"x\",\"kind\":\"threshold\",\"metric\":\"t\"}", "value"},
	    {"{\"name\":\"x\",\"kind\":\"threshold\",\"metric\":\"t\",\"value\":1,\"op\":\"=>\"}", "op"},
	    {"{\"name\":\"x\",\"kind\":\"blink\"}", "kind"},
	    {"{\"kind\":\"absence\",\"window_s\":5}", "name"},
	    {"{\"name\":\"x\",\"kind\":\"absence\"}", "window_s"},
	    {"{\"name\":\"x\",\"kind\":\"rate\",\"metric\":\"t\",\"value\":1}", "window_s"},
	    {"{\"name\":\"x\",\"kind\":\"window\",\"metric\":\"t\",\"for_s\":5,\"to\":\"22:00\"}", "from"},
	    {"{\"name\":\"x\",\"kind\":\"window\",\"metric\":\"t\",\"for_s\":5,\"from\":\"6:00\",\"to\":\"22:"
	     "00\"}",
	     "from"},
	    {"{\"name\":\"x\",\"kind\":\"window\",\"metric\":\"t\",\"from\":\"06:00\",\"to\":\"22:00\"}",
	     "for_s"},
	    {"{\"name\":\"x\",\"kind\":\"window\",\"metric\":\"t\",\"from\":\"06:00\",\"to\":\"24:30\",\"for_"
	     "s\":1}",
	     "to"},
	    {"{\"name\":\"x\",\"kind\":\"baseline\",\"metric\":\"e\"}", "percent"},
	    {"{\"name\":\"x\",\"kind\":\"baseline\",\"metric\":\"e\",\"percent\":30,\"weeks\":9}", "weeks"},
	    {"{\"name\":\"x\",\"kind\":\"absence\",\"window_s\":5,\"level\":\"purple\"}", "level"},
	    {"{\"name\":\"x\",\"kind\":\"absence\",\"window_s\":5,\"metric\":\"a b\"}", "metric"},
	    {"{\"name\":\"x\",\"kind\":\"threshold\",\"metric\":\"t\",\"value\":\"1\"}", "value"},
	};
	for (size_t i = 0; i < sizeof badcases / sizeof badcases[0]; i++) {
		json_t *v = json_loads(badcases[i].json, 0, NULL);
		CHECK(v != NULL);
		memset(&p, 0, sizeof p);
		CHECK_INT_EQ(rules_from_json(v, &a, &p), CD_ERR_INVALID);
		CHECK_INT_EQ(p.status, 422);
		CHECK_STR_EQ(p.field, badcases[i].field);
		json_decref(v);
	}
}

static void prefix_matching(void)
{
	CHECK(rules_metric_matches("pressure_mpa.*", "pressure_mpa.1.0.7"));
	CHECK(rules_metric_matches("pressure_mpa.*", "pressure_mpa"));
	CHECK(rules_metric_matches("pressure_mpa.*", "pressure_mpa.x"));
	CHECK(!rules_metric_matches("pressure_mpa.*", "pressure_mpa2"));
	CHECK(!rules_metric_matches("pressure_mpa.*", "pressure_mp"));
	CHECK(!rules_metric_matches("pressure_mpa.*", "pressure_kpa.1.0.7"));
	CHECK(!rules_metric_matches("pressure_mpa.*", ""));
	CHECK(rules_metric_matches("pressure_mpa", "pressure_mpa"));
	CHECK(!rules_metric_matches("pressure_mpa", "pressure_mpa.1.0.7")); /* exact stays exact */
	CHECK(!rules_metric_matches("", "pressure_mpa"));
	CHECK(!rules_metric_matches("pressure_mpa.*", NULL));
	CHECK(rules_metric_is_prefix("t.*"));
	CHECK(!rules_metric_is_prefix(".*"));
	CHECK(!rules_metric_is_prefix("t*"));
	CHECK(!rules_metric_is_prefix("t"));
}

/* "pressure_mpa.*" below 0.1: each sensor of a transmitter has its own episode and alert. */
static void prefix_threshold_per_sensor(void)
{
	struct rules_rule rule = base_rule(1, RULES_THRESHOLD, "pressure_mpa.*");
	rule.op = RULES_LT;
	rule.value = 0.1;
	rule.suppress_s = 600;
	struct rules *r = engine_with(&rule);
	struct rules_device uitd = {"U-1", "uitd", ""};
	struct got g = {0};
	rules_sample(r, &uitd, "pressure_mpa.1.0.7", MON, 0.05, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_STR_EQ(g.metric[0], "pressure_mpa.1.0.7");
	CHECK_STR_EQ(g.device[0], "U-1");
	/* another sensor, fine: neither raises nor clears the first one's alert */
	rules_sample(r, &uitd, "pressure_mpa.1.0.8", MON + SEC, 0.3, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	/* the same sensor still low: de-duplicated */
	rules_sample(r, &uitd, "pressure_mpa.1.0.7", MON + 2 * SEC, 0.04, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	/* the second sensor drops: its own alert */
	rules_sample(r, &uitd, "pressure_mpa.1.0.8", MON + 3 * SEC, 0.02, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_RAISE);
	CHECK_STR_EQ(g.metric[1], "pressure_mpa.1.0.8");
	CHECK_NEAR(g.value[1], 0.02, 1e-12);
	/* names that only look alike are not selected; the bare name is */
	rules_sample(r, &uitd, "pressure_mpa2", MON + 4 * SEC, 0, collect, &g);
	rules_sample(r, &uitd, "pressure_kpa.1.0.7", MON + 4 * SEC, 0, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	rules_sample(r, &uitd, "pressure_mpa", MON + 4 * SEC, 0.01, collect, &g);
	CHECK_INT_EQ(g.n, 3);
	CHECK_STR_EQ(g.metric[2], "pressure_mpa");
	/* sensor 7 recovers: only its alert clears */
	rules_sample(r, &uitd, "pressure_mpa.1.0.7", MON + 5 * SEC, 0.3, collect, &g);
	CHECK_INT_EQ(g.n, 4);
	CHECK_INT_EQ(g.ch[3], RULES_CLEAR);
	CHECK_STR_EQ(g.metric[3], "pressure_mpa.1.0.7");
	/* a person clears sensor 8's alert: suppressed for 600 s, then raised again */
	rules_cleared(r, 1, "U-1", "pressure_mpa.1.0.8", MON + 6 * SEC);
	rules_sample(r, &uitd, "pressure_mpa.1.0.8", MON + 7 * SEC, 0.02, collect, &g);
	CHECK_INT_EQ(g.n, 4);
	rules_tick(r, MON + 700 * SEC, collect, &g);
	CHECK_INT_EQ(g.n, 5);
	CHECK_INT_EQ(g.ch[4], RULES_RAISE);
	CHECK_STR_EQ(g.metric[4], "pressure_mpa.1.0.8");
	/* clearing "per device" (no metric) does not touch a sensor's memory */
	rules_cleared(r, 1, "U-1", NULL, MON + 701 * SEC);
	rules_sample(r, &uitd, "pressure_mpa.1.0.8", MON + 702 * SEC, 0.3, collect, &g);
	CHECK_INT_EQ(g.n, 6);
	CHECK_INT_EQ(g.ch[5], RULES_CLEAR);
	/* a restored alert of a sensor is de-duplicated and clears with its sensor */
	rules_restore_open(r, 1, "U-2", "pressure_mpa.2.0.1", 4);
	struct rules_device u2 = {"U-2", "uitd", ""};
	rules_sample(r, &u2, "pressure_mpa.2.0.1", MON + 800 * SEC, 0.01, collect, &g);
	CHECK_INT_EQ(g.n, 6);
	rules_sample(r, &u2, "pressure_mpa.2.0.1", MON + 801 * SEC, 0.2, collect, &g);
	CHECK_INT_EQ(g.n, 7);
	CHECK_INT_EQ(g.ch[6], RULES_CLEAR);
	CHECK_INT_EQ(g.count[6], 4);
	CHECK_STR_EQ(g.metric[6], "pressure_mpa.2.0.1");
	struct rules_stats st;
	rules_get_stats(r, &st);
	CHECK_INT_EQ(st.states, 4); /* U-1: .1.0.7 .1.0.8 bare; U-2: .2.0.1 */
	rules_free(r);
}

/* A prefix rate rule judges each sensor's own series (mixing two would make every alternation
 * a jump), and an exact rule keeps one alert per device with metric "". */
static void prefix_rate_keeps_sensors_apart(void)
{
	struct rules_rule rules[2] = {base_rule(1, RULES_RATE, "temperature_c.*"),
				      base_rule(2, RULES_THRESHOLD, "temperature_c.1.0.7")};
	rules[0].op = RULES_GT;
	rules[0].value = 2;
	rules[0].window_s = 300;
	rules[1].value = 80;
	struct rules *r = rules_new();
	CHECK_INT_EQ(rules_set(r, rules, 2), CD_OK);
	struct rules_device uitd = {"U-1", "uitd", ""};
	struct got g = {0};
	for (int i = 0; i <= 10; i++) { /* two steady sensors, 20 degrees apart, interleaved */
		rules_sample(r, &uitd, "temperature_c.1.0.7", MON + i * MIN, 20, collect, &g);
		rules_sample(r, &uitd, "temperature_c.1.0.8", MON + i * MIN + SEC, 40, collect, &g);
	}
	CHECK_INT_EQ(g.n, 0);
	rules_sample(r, &uitd, "temperature_c.1.0.8", MON + 11 * MIN, 70, collect, &g); /* +30 in 5 min */
	CHECK_INT_EQ(g.n, 1);
	CHECK_STR_EQ(g.metric[0], "temperature_c.1.0.8");
	rules_sample(r, &uitd, "temperature_c.1.0.7", MON + 12 * MIN, 90, collect, &g);
	CHECK_INT_EQ(g.n, 3); /* the rate of sensor 7, and the exact rule */
	int exact = g.metric[1][0] == 0 ? 1 : 2;
	CHECK_STR_EQ(g.metric[exact], "");
	CHECK_STR_EQ(g.metric[3 - exact], "temperature_c.1.0.7");
	rules_free(r);
}

/* An absence rule with a prefix stays one per device: any matching sensor is data. */
static void prefix_absence_per_device(void)
{
	struct rules_rule rule = base_rule(1, RULES_ABSENCE, "pressure_mpa.*");
	rule.window_s = 600;
	rule.level = RULES_BLUE;
	struct rules *r = engine_with(&rule);
	struct rules_device uitd = {"U-1", "uitd", ""};
	struct got g = {0};
	rules_sample(r, &uitd, "pressure_mpa.1.0.7", MON, 0.3, collect, &g);
	rules_sample(r, &uitd, "pressure_mpa.1.0.8", MON + 5 * MIN, 0.3, collect, &g);
	rules_sample(r, &uitd, "temperature_c.1.0.8", MON + 14 * MIN, 20, collect, &g); /* not data */
	rules_tick(r, MON + 14 * MIN, collect, &g);
	CHECK_INT_EQ(g.n, 0);
	rules_tick(r, MON + 15 * MIN, collect, &g);
	CHECK_INT_EQ(g.n, 1);
	CHECK_INT_EQ(g.ch[0], RULES_RAISE);
	CHECK_STR_EQ(g.metric[0], "");
	rules_sample(r, &uitd, "pressure_mpa.1.0.9", MON + 16 * MIN, 0.3, collect, &g);
	CHECK_INT_EQ(g.n, 2);
	CHECK_INT_EQ(g.ch[1], RULES_CLEAR);
	rules_free(r);
}

static void prefix_json(void)
{
	struct rules_rule a;
	struct json_problem p;
	memset(&p, 0, sizeof p);
	json_t *in = json_pack("{s:s,s:s,s:s,s:s,s:f}", "name", "消火栓压力低", "kind", "threshold", "metric",
			       "pressure_mpa.*", "op", "<", "value", 0.1);
	CHECK_INT_EQ(rules_from_json(in, &a, &p), CD_OK);
	CHECK_STR_EQ(a.metric, "pressure_mpa.*");
	json_t *out = rules_to_json(&a);
	CHECK_STR_EQ(json_string_value(json_object_get(out, "metric")), "pressure_mpa.*");
	json_decref(out);
	json_decref(in);
	static const char *const bad_metrics[] = {"pressure*", "*", ".*", "a.*.*", "a*.*", "a b.*", "p.**"};
	for (size_t i = 0; i < sizeof bad_metrics / sizeof bad_metrics[0]; i++) {
		json_t *v = json_pack("{s:s,s:s,s:s,s:f}", "name", "x", "kind", "threshold", "metric",
				      bad_metrics[i], "value", 1.0);
		memset(&p, 0, sizeof p);
		CHECK_INT_EQ(rules_from_json(v, &a, &p), CD_ERR_INVALID);
		CHECK_STR_EQ(p.field, "metric");
		json_decref(v);
	}
}

static const struct test_case tests[] = {
    {"threshold_raises_after_holding", threshold_raises_after_holding},
    {"threshold_brief_excursion_does_not_raise", threshold_brief_excursion_does_not_raise},
    {"threshold_selectors", threshold_selectors},
    {"repeats_bump_count_without_auto_clear", repeats_bump_count_without_auto_clear},
    {"suppression_window", suppression_window},
    {"rate_of_change", rate_of_change},
    {"absence_of_any_data", absence_of_any_data},
    {"absence_of_one_metric", absence_of_one_metric},
    {"absence_stays_raised_across_seeding", absence_stays_raised_across_seeding},
    {"absence_seeding_never_clears", absence_seeding_never_clears},
    {"window_idle_water", window_idle_water},
    {"window_across_midnight", window_across_midnight},
    {"window_daily_participation", window_daily_participation},
    {"baseline_four_weeks", baseline_four_weeks},
    {"rule_changes_keep_or_drop_memory", rule_changes_keep_or_drop_memory},
    {"many_devices", many_devices},
    {"json_round_trip", json_round_trip},
    {"prefix_matching", prefix_matching},
    {"prefix_threshold_per_sensor", prefix_threshold_per_sensor},
    {"prefix_rate_keeps_sensors_apart", prefix_rate_keeps_sensors_apart},
    {"prefix_absence_per_device", prefix_absence_per_device},
    {"prefix_json", prefix_json},
};

TEST_MAIN(tests)
