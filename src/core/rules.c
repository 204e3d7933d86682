/* The rule engine: rules as data, a table of per-(rule, device) memory, and the evaluation of
 * each kind on samples and on ticks. Every decision about raising or clearing goes through
 * trigger()/untrigger(), which hold the de-duplication and suppression logic in one place.
 * See rules.h and docs/internals/rules.md. */
#include "core/rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

#define DAY_MS (86400 * 1000LL)
#define BL_DAYS (RULES_BASELINE_WEEKS_MAX * 7 + 1) /* the baseline ring: 8 weeks and today */
#define OVERLAP_MAX_DAYS 400			   /* window time is counted at most this far back */

struct sample {
	int64_t ts;
	double v;
};

/* What the engine remembers about one (rule, device). */
struct rstate {
	int64_t rule_id;
	size_t rule_ix; /* index of the rule in r->rules */
	char device[RULES_ID_MAX];
	char metric[RULES_WORD_MAX]; /* the sensor, for a prefix rule's per-metric memory; "" = per device */
	/* the alert */
	bool open;	     /* an alert is open for this pair */
	bool fired;	     /* the current episode was already counted (no repeat per sample) */
	bool suppress_noted; /* the current episode was counted as suppressed */
	uint32_t count;	     /* occurrences while open */
	int64_t cleared_ms;  /* last clear, 0 = never (suppression counts from it) */
	/* threshold and rate */
	int64_t since_ms; /* condition true since, 0 = not true */
	int64_t last_ts;  /* newest sample judged (older ones are late and ignored) */
	double last_v;	  /* the newest judged value (rate: per minute) */
	/* absence */
	int64_t seen_ms; /* last heard from, 0 = never */
	/* rate */
	struct sample *ring; /* RULES_RATE_SAMPLES, oldest first, or NULL */
	size_t ring_n;
	/* window idle */
	int64_t quiet_ms; /* window time without activity */
	int64_t quiet_at; /* quiet_ms counts up to this moment, 0 = not started */
	/* window aggregate */
	int64_t win_start; /* start of the window instance being aggregated, 0 = none */
	size_t win_n;
	double win_sum, win_min, win_max, win_last;
	/* baseline */
	double *bl_sum;	    /* BL_DAYS daily sums by local day % BL_DAYS, or NULL */
	int64_t *bl_day;    /* the local day each slot holds */
	int64_t bl_current; /* newest local day seen, 0 = none */
};

struct rules {
	struct rules_rule *rules;
	size_t n;
	struct rstate **slots; /* open addressing, linear probing; never deleted from but rebuilt */
	size_t cap;	       /* power of two */
	size_t used;
	uint64_t raised, repeated, cleared, suppressed;
};

/* ---- names ------------------------------------------------------------------------------ */

static const char *const kind_names[RULES_KIND_COUNT] = {"threshold", "rate", "absence", "window",
							 "baseline"};
static const char *const level_names[RULES_LEVEL_COUNT] = {"", "blue", "yellow", "orange", "red"};
static const char *const op_names[RULES_OP_COUNT] = {">", ">=", "<", "<=", "==", "!="};
static const char *const agg_names[RULES_AGG_KINDS] = {"sum", "avg", "min", "max", "count", "last"};
static const char *const mode_names[] = {"idle", "aggregate"};

const char *rules_kind_name(enum rules_kind k)
{
	return (unsigned)k < RULES_KIND_COUNT ? kind_names[k] : "?";
}

const char *rules_level_name(enum rules_level l)
{
	return (unsigned)l < RULES_LEVEL_COUNT ? level_names[l] : "";
}

const char *rules_op_name(enum rules_op o)
{
	return (unsigned)o < RULES_OP_COUNT ? op_names[o] : "?";
}

/* Index of s in names[0..n), or -1. */
static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (names[i][0] && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

bool rules_level_parse(const char *s, enum rules_level *out)
{
	int i = name_index(level_names, RULES_LEVEL_COUNT, s);
	if (i <= 0)
		return false;
	*out = (enum rules_level)i;
	return true;
}

/* ---- time ------------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t rules_local_day(int64_t ts_ms)
{
	return floor_div(ts_ms + RULES_TZ_OFFSET_MS, DAY_MS);
}

int rules_local_minute(int64_t ts_ms)
{
	int64_t local = ts_ms + RULES_TZ_OFFSET_MS;
	return (int)((local - floor_div(local, DAY_MS) * DAY_MS) / 60000);
}

static int64_t window_len_ms(const struct rules_rule *rule)
{
	int len = (rule->to_min - rule->from_min + 1440) % 1440;
	return (len ? len : 1440) * 60000LL;
}

/* The UTC start of the window instance of local day d. */
static int64_t window_start_of_day(const struct rules_rule *rule, int64_t d)
{
	return d * DAY_MS + rule->from_min * 60000LL - RULES_TZ_OFFSET_MS;
}

/* True when ts is inside a window instance; *start gets its start. */
static bool window_at(const struct rules_rule *rule, int64_t ts, int64_t *start)
{
	int64_t d = rules_local_day(ts), len = window_len_ms(rule);
	for (int64_t c = d; c >= d - 1; c--) {
		int64_t s = window_start_of_day(rule, c);
		if (ts >= s && ts < s + len) {
			*start = s;
			return true;
		}
	}
	return false;
}

/* Milliseconds of [a, b) that fall inside window instances. */
static int64_t window_overlap(const struct rules_rule *rule, int64_t a, int64_t b)
{
	if (b <= a)
		return 0;
	if (b - a > OVERLAP_MAX_DAYS * DAY_MS)
		a = b - OVERLAP_MAX_DAYS * DAY_MS;
	int64_t len = window_len_ms(rule), total = 0;
	for (int64_t d = rules_local_day(a) - 1; d <= rules_local_day(b); d++) {
		int64_t s = window_start_of_day(rule, d), e = s + len;
		int64_t lo = s > a ? s : a, hi = e < b ? e : b;
		if (hi > lo)
			total += hi - lo;
	}
	return total;
}

/* ---- the state table -------------------------------------------------------------------- */

static uint64_t key_hash(int64_t rule_id, const char *device, const char *metric)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)rule_id * 0x9E3779B97F4A7C15ULL;
	for (const unsigned char *p = (const unsigned char *)device; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	h ^= 0x1f; /* separates "ab"+"c" from "a"+"bc" */
	h *= 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)metric; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static void state_free(struct rstate *s)
{
	if (!s)
		return;
	xfree(s->ring);
	xfree(s->bl_sum);
	xfree(s->bl_day);
	xfree(s);
}

static void table_put(struct rstate **slots, size_t cap, struct rstate *s)
{
	size_t i = key_hash(s->rule_id, s->device, s->metric) & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = s;
}

static void table_grow(struct rules *r)
{
	size_t cap = r->cap ? r->cap * 2 : 256;
	struct rstate **slots = xcalloc(cap, sizeof *slots);
	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i])
			table_put(slots, cap, r->slots[i]);
	xfree(r->slots);
	r->slots = slots;
	r->cap = cap;
}

static struct rstate *state_find(struct rules *r, int64_t rule_id, const char *device, const char *metric)
{
	if (!r->cap)
		return NULL;
	size_t i = key_hash(rule_id, device, metric) & (r->cap - 1);
	for (; r->slots[i]; i = (i + 1) & (r->cap - 1))
		if (r->slots[i]->rule_id == rule_id && strcmp(r->slots[i]->device, device) == 0 &&
		    strcmp(r->slots[i]->metric, metric) == 0)
			return r->slots[i];
	return NULL;
}

/* The memory of (rule ix, device, metric), made on first use; metric is "" except for the
 * per-sensor memory of a prefix rule. */
static struct rstate *state_get(struct rules *r, size_t ix, const char *device, const char *metric)
{
	const struct rules_rule *rule = &r->rules[ix];
	struct rstate *s = state_find(r, rule->id, device, metric);
	if (s)
		return s;
	if ((r->used + 1) * 10 > r->cap * 7)
		table_grow(r);
	s = xcalloc(1, sizeof *s);
	s->rule_id = rule->id;
	s->rule_ix = ix;
	snprintf(s->device, sizeof s->device, "%s", device);
	snprintf(s->metric, sizeof s->metric, "%s", metric);
	table_put(r->slots, r->cap, s);
	r->used++;
	return s;
}

/* Forgets what a changed rule had worked out; an open alert stays open. */
static void state_reset_memory(struct rstate *s)
{
	s->fired = s->open; /* an open alert is not raised again for the same episode */
	s->suppress_noted = false;
	s->since_ms = s->last_ts = 0;
	s->last_v = 0;
	s->ring_n = 0;
	s->quiet_ms = s->quiet_at = 0;
	s->win_start = 0;
	s->win_n = 0;
	s->bl_current = 0;
	if (s->bl_day)
		for (size_t i = 0; i < BL_DAYS; i++)
			s->bl_day[i] = INT64_MIN;
}

/* ---- engine ----------------------------------------------------------------------------- */

struct rules *rules_new(void)
{
	return xcalloc(1, sizeof(struct rules));
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++)
		state_free(r->slots[i]);
	xfree(r->slots);
	xfree(r->rules);
	xfree(r);
}

/* The fields that decide evaluation (not name, level, category, open_case). */
static bool same_definition(const struct rules_rule *a, const struct rules_rule *b)
{
	return a->kind == b->kind && a->enabled == b->enabled &&
	       strcmp(a->device_type, b->device_type) == 0 && strcmp(a->tag, b->tag) == 0 &&
	       strcmp(a->device, b->device) == 0 && strcmp(a->metric, b->metric) == 0 && a->op == b->op &&
	       a->value == b->value && a->for_s == b->for_s && a->window_s == b->window_s &&
	       a->from_min == b->from_min && a->to_min == b->to_min && a->mode == b->mode &&
	       a->agg == b->agg && a->weeks == b->weeks && a->percent == b->percent;
}

enum cd_err rules_set(struct rules *r, const struct rules_rule *rules, size_t n)
{
	if (n > RULES_MAX)
		return CD_ERR_RANGE;
	for (size_t i = 0; i < n; i++) {
		struct json_problem p;
		if (rules_check(&rules[i], &p))
			return CD_ERR_INVALID;
		for (size_t j = 0; j < i; j++)
			if (rules[j].id == rules[i].id)
				return CD_ERR_INVALID;
	}
	struct rules_rule *old = r->rules;
	size_t old_n = r->n;
	r->rules = n ? xmalloc(n * sizeof *r->rules) : NULL;
	if (n)
		memcpy(r->rules, rules, n * sizeof *r->rules);
	r->n = n;
	/* rebuild the table with the states whose rule is still there */
	struct rstate **slots = r->slots;
	size_t cap = r->cap;
	r->slots = NULL;
	r->cap = r->used = 0;
	for (size_t i = 0; i < cap; i++) {
		struct rstate *s = slots[i];
		if (!s)
			continue;
		size_t ix = SIZE_MAX;
		for (size_t j = 0; j < n; j++)
			if (r->rules[j].id == s->rule_id)
				ix = j;
		if (ix == SIZE_MAX) {
			state_free(s);
			continue;
		}
		if (s->rule_ix >= old_n || !same_definition(&old[s->rule_ix], &r->rules[ix]))
			state_reset_memory(s);
		s->rule_ix = ix;
		if ((r->used + 1) * 10 > r->cap * 7)
			table_grow(r);
		table_put(r->slots, r->cap, s);
		r->used++;
	}
	xfree(slots);
	xfree(old);
	return CD_OK;
}

const struct rules_rule *rules_list(const struct rules *r, size_t *n)
{
	*n = r->n;
	return r->rules;
}

void rules_get_stats(const struct rules *r, struct rules_stats *out)
{
	out->rules = r->n;
	out->states = r->used;
	out->raised = r->raised;
	out->repeated = r->repeated;
	out->cleared = r->cleared;
	out->suppressed = r->suppressed;
}

static bool has_tag(const char *tags, const char *tag)
{
	size_t len = strlen(tag);
	for (const char *p = tags; p && *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if ((size_t)(t - p) == len && memcmp(p, tag, len) == 0)
			return true;
		p = e;
	}
	return false;
}

static bool matches(const struct rules_rule *rule, const struct rules_device *dev)
{
	if (!rule->enabled || !dev || !dev->id)
		return false;
	if (rule->device[0] && strcmp(rule->device, dev->id) != 0)
		return false;
	if (rule->device_type[0] && (!dev->type || strcmp(rule->device_type, dev->type) != 0))
		return false;
	if (rule->tag[0] && !has_tag(dev->tags, rule->tag))
		return false;
	return true;
}

bool rules_metric_is_prefix(const char *pattern)
{
	size_t n = pattern ? strlen(pattern) : 0;
	return n > 2 && pattern[n - 2] == '.' && pattern[n - 1] == '*';
}

bool rules_metric_matches(const char *pattern, const char *metric)
{
	if (!pattern || !metric || !pattern[0])
		return false;
	if (!rules_metric_is_prefix(pattern))
		return strcmp(pattern, metric) == 0;
	size_t n = strlen(pattern) - 2; /* "pressure_mpa" of "pressure_mpa.*" */
	return strncmp(pattern, metric, n) == 0 && (metric[n] == '\0' || metric[n] == '.');
}

/* A prefix rule keeps memory (and raises alerts) per matching metric, so two sensors of one
 * transmitter never mix; an absence rule stays per device (any matching metric is data). */
static bool per_metric(const struct rules_rule *rule)
{
	return rule->kind != RULES_ABSENCE && rules_metric_is_prefix(rule->metric);
}

/* The metric named in reasons: the sensor's for per-metric memory, else the rule's. */
static const char *metric_of(const struct rstate *s, const struct rules_rule *rule)
{
	return s->metric[0] ? s->metric : rule->metric;
}

static bool compare(double a, enum rules_op op, double b)
{
	switch (op) {
	case RULES_GT:
		return a > b;
	case RULES_GE:
		return a >= b;
	case RULES_LT:
		return a < b;
	case RULES_LE:
		return a <= b;
	case RULES_EQ:
		return a == b;
	case RULES_NE:
		return a != b;
	default:
		return false;
	}
}

/* ---- raising and clearing --------------------------------------------------------------- */

struct sink {
	struct rules *r;
	rules_emit_fn emit;
	void *ctx;
};

static void emit_change(struct sink *k, struct rstate *s, enum rules_change ch, int64_t ts, double value,
			double limit, const char *reason)
{
	if (!k->emit)
		return;
	struct rules_alert a;
	memset(&a, 0, sizeof a);
	a.change = ch;
	a.rule = &k->r->rules[s->rule_ix];
	a.device = s->device;
	a.metric = s->metric;
	a.ts_ms = ts;
	a.value = value;
	a.limit = limit;
	a.count = s->count;
	snprintf(a.reason, sizeof a.reason, "%s", reason);
	k->emit(k->ctx, &a);
}

/* The condition holds at ts: raise, count a repeat, or hold back while suppressed. */
static void trigger(struct sink *k, struct rstate *s, int64_t ts, double value, double limit,
		    const char *reason)
{
	const struct rules_rule *rule = &k->r->rules[s->rule_ix];
	if (s->fired)
		return;
	if (s->open) {
		s->fired = true;
		s->count++;
		k->r->repeated++;
		emit_change(k, s, RULES_REPEAT, ts, value, limit, reason);
		return;
	}
	if (s->cleared_ms && ts - s->cleared_ms < rule->suppress_s * 1000) {
		if (!s->suppress_noted)
			k->r->suppressed++;
		s->suppress_noted = true; /* tried again on later samples and ticks */
		return;
	}
	s->fired = true;
	s->suppress_noted = false;
	s->open = true;
	s->count = 1;
	k->r->raised++;
	emit_change(k, s, RULES_RAISE, ts, value, limit, reason);
}

/* The condition no longer holds at ts: the episode ends, and the alert clears if the rule says so. */
static void untrigger(struct sink *k, struct rstate *s, int64_t ts, double value, double limit,
		      const char *reason)
{
	const struct rules_rule *rule = &k->r->rules[s->rule_ix];
	s->fired = false;
	s->suppress_noted = false;
	if (s->open && rule->auto_clear) {
		s->open = false;
		s->cleared_ms = ts;
		k->r->cleared++;
		emit_change(k, s, RULES_CLEAR, ts, value, limit, reason);
	}
}

/* ---- the kinds ---------------------------------------------------------------------------- */

/* Threshold and rate share this: the condition at ts with value v. */
static void judge_held(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t ts, double v,
		       bool cond, const char *what)
{
	char reason[200];
	s->last_v = v;
	if (!cond) {
		s->since_ms = 0;
		snprintf(reason, sizeof reason, "%s = %g, back within %s %g", what, v, op_names[rule->op],
			 rule->value);
		untrigger(k, s, ts, v, rule->value, reason);
		return;
	}
	if (!s->since_ms)
		s->since_ms = ts;
	if (ts - s->since_ms >= rule->for_s * 1000) {
		if (rule->for_s)
			snprintf(reason, sizeof reason, "%s = %g %s %g for %lld s", what, v,
				 op_names[rule->op], rule->value, (long long)((ts - s->since_ms) / 1000));
		else
			snprintf(reason, sizeof reason, "%s = %g %s %g", what, v, op_names[rule->op],
				 rule->value);
		trigger(k, s, ts, v, rule->value, reason);
	}
}

static void rate_sample(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t ts, double v)
{
	if (!s->ring)
		s->ring = xcalloc(RULES_RATE_SAMPLES, sizeof *s->ring);
	int64_t window = rule->window_s * 1000;
	size_t keep = 0;
	for (size_t i = 0; i < s->ring_n; i++) /* drop what left the window */
		if (s->ring[i].ts >= ts - window)
			s->ring[keep++] = s->ring[i];
	s->ring_n = keep;
	if (s->ring_n == RULES_RATE_SAMPLES) { /* full: keep every other one, the oldest and newest stay */
		size_t j = 0;
		for (size_t i = 0; i < s->ring_n; i += 2)
			s->ring[j++] = s->ring[i];
		if (s->ring[j - 1].ts != s->ring[s->ring_n - 1].ts)
			s->ring[j++] = s->ring[s->ring_n - 1];
		s->ring_n = j;
	}
	s->ring[s->ring_n++] = (struct sample){ts, v};
	int64_t span = ts - s->ring[0].ts;
	if (s->ring_n < 2 || span <= 0 || span * 2 < window)
		return; /* too little of the window seen to judge */
	double per_min = (v - s->ring[0].v) / (double)span * 60000.0;
	char what[64];
	snprintf(what, sizeof what, "%s change per minute", metric_of(s, rule));
	judge_held(k, s, rule, ts, per_min, compare(per_min, rule->op, rule->value), what);
}

static void idle_advance(struct rstate *s, const struct rules_rule *rule, int64_t to)
{
	if (!s->quiet_at) {
		s->quiet_at = to;
		return;
	}
	if (to > s->quiet_at) {
		s->quiet_ms += window_overlap(rule, s->quiet_at, to);
		s->quiet_at = to;
	}
}

static void idle_check(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t now)
{
	if (s->quiet_ms < rule->for_s * 1000)
		return;
	char reason[200];
	snprintf(reason, sizeof reason, "no %s %s %g for %.1f h of the %02d:%02d-%02d:%02d window",
		 metric_of(s, rule), op_names[rule->op], rule->value, (double)s->quiet_ms / 3600000.0,
		 rule->from_min / 60, rule->from_min % 60, rule->to_min / 60, rule->to_min % 60);
	trigger(k, s, now, (double)s->quiet_ms / 60000.0, (double)rule->for_s / 60.0, reason);
}

static double window_aggregate(const struct rstate *s, enum rules_agg agg)
{
	switch (agg) {
	case RULES_AGG_SUM:
		return s->win_sum;
	case RULES_AGG_AVG:
		return s->win_sum / (double)s->win_n;
	case RULES_AGG_MIN:
		return s->win_min;
	case RULES_AGG_MAX:
		return s->win_max;
	case RULES_AGG_COUNT:
		return (double)s->win_n;
	case RULES_AGG_LAST:
		return s->win_last;
	default:
		return 0;
	}
}

/* Judges the window instance being aggregated if it has ended by `now`. */
static void window_close(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t now)
{
	if (!s->win_start || now < s->win_start + window_len_ms(rule))
		return;
	int64_t end = s->win_start + window_len_ms(rule);
	bool empty_ok = rule->agg == RULES_AGG_SUM || rule->agg == RULES_AGG_COUNT;
	if (s->win_n || empty_ok) {
		double v = window_aggregate(s, rule->agg);
		char reason[200];
		snprintf(reason, sizeof reason, "%s of %s over the %02d:%02d-%02d:%02d window = %g (%s %g)",
			 agg_names[rule->agg], metric_of(s, rule), rule->from_min / 60, rule->from_min % 60,
			 rule->to_min / 60, rule->to_min % 60, v, op_names[rule->op], rule->value);
		if (compare(v, rule->op, rule->value))
			trigger(k, s, end, v, rule->value, reason);
		else
			untrigger(k, s, end, v, rule->value, reason);
	}
	s->win_start = 0;
	s->win_n = 0;
}

/* Starts aggregating the window instance that holds `at`, if any and not already. */
static void window_open(struct rstate *s, const struct rules_rule *rule, int64_t at)
{
	int64_t start;
	if (!window_at(rule, at, &start) || s->win_start == start)
		return;
	s->win_start = start;
	s->win_n = 0;
	s->win_sum = s->win_last = 0;
	s->win_min = INFINITY;
	s->win_max = -INFINITY;
}

static void window_sample(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t ts,
			  double v)
{
	if (rule->mode == RULES_MODE_IDLE) {
		idle_advance(s, rule, ts);
		if (compare(v, rule->op, rule->value)) { /* activity: the person is about */
			s->quiet_ms = 0;
			char reason[160];
			snprintf(reason, sizeof reason, "%s = %g: activity again", metric_of(s, rule), v);
			if (s->fired || s->open)
				untrigger(k, s, ts, v, rule->value, reason);
		} else {
			idle_check(k, s, rule, ts);
		}
		return;
	}
	window_close(k, s, rule, ts);
	window_open(s, rule, ts);
	int64_t start;
	if (!window_at(rule, ts, &start) || start != s->win_start)
		return;
	s->win_n++;
	s->win_sum += v;
	s->win_last = v;
	if (v < s->win_min)
		s->win_min = v;
	if (v > s->win_max)
		s->win_max = v;
}

/* The same-weekday mean of day d over `weeks` weeks; false when too few of them are known. */
static bool baseline_of(const struct rstate *s, const struct rules_rule *rule, int64_t d, double *out)
{
	double sum = 0;
	int have = 0;
	for (int w = 1; w <= rule->weeks; w++) {
		int64_t day = d - 7 * w;
		size_t slot = (size_t)(((day % BL_DAYS) + BL_DAYS) % BL_DAYS);
		if (s->bl_day[slot] == day) {
			sum += s->bl_sum[slot];
			have++;
		}
	}
	if (have * 2 < rule->weeks || have == 0)
		return false;
	*out = sum / have;
	return *out > 0;
}

static double baseline_total(const struct rstate *s, int64_t d)
{
	size_t slot = (size_t)(((d % BL_DAYS) + BL_DAYS) % BL_DAYS);
	return s->bl_day[slot] == d ? s->bl_sum[slot] : 0;
}

/* Judges day d: whole (it has ended: raise or clear) or so far (can only raise). */
static void baseline_judge(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t d,
			   bool whole, int64_t at)
{
	double base;
	if (!baseline_of(s, rule, d, &base))
		return;
	double limit = base * (1.0 + rule->percent / 100.0), total = baseline_total(s, d);
	char reason[200];
	snprintf(reason, sizeof reason, "%s %s %g against a same-weekday baseline of %g (limit +%g %% = %g)",
		 metric_of(s, rule), whole ? "for the day" : "so far today", total, base, rule->percent,
		 limit);
	if (total > limit)
		trigger(k, s, at, total, limit, reason);
	else if (whole)
		untrigger(k, s, at, total, limit, reason);
}

/* Moves the baseline's day on to d (judging the day that ended). */
static void baseline_advance(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t d)
{
	if (s->bl_current && d > s->bl_current) {
		int64_t ended = s->bl_current;
		s->bl_current = d;
		baseline_judge(k, s, rule, ended, true, (ended + 1) * DAY_MS - RULES_TZ_OFFSET_MS);
	} else if (!s->bl_current) {
		s->bl_current = d;
	}
}

static void baseline_sample(struct sink *k, struct rstate *s, const struct rules_rule *rule, int64_t ts,
			    double v)
{
	if (!s->bl_sum) {
		s->bl_sum = xcalloc(BL_DAYS, sizeof *s->bl_sum);
		s->bl_day = xmalloc(BL_DAYS * sizeof *s->bl_day);
		for (size_t i = 0; i < BL_DAYS; i++)
			s->bl_day[i] = INT64_MIN;
	}
	int64_t d = rules_local_day(ts);
	if (s->bl_current && d <= s->bl_current - (BL_DAYS - 1))
		return; /* older than the ring */
	baseline_advance(k, s, rule, d);
	size_t slot = (size_t)(((d % BL_DAYS) + BL_DAYS) % BL_DAYS);
	if (s->bl_day[slot] != d) {
		s->bl_day[slot] = d;
		s->bl_sum[slot] = 0;
	}
	s->bl_sum[slot] += v;
	if (d == s->bl_current)
		baseline_judge(k, s, rule, d, false, ts);
}

/* ---- entry points ------------------------------------------------------------------------ */

void rules_sample(struct rules *r, const struct rules_device *dev, const char *metric, int64_t ts_ms,
		  double v, rules_emit_fn emit, void *ctx)
{
	rules_sample_arrived(r, dev, metric, ts_ms, ts_ms, v, emit, ctx);
}

void rules_sample_arrived(struct rules *r, const struct rules_device *dev, const char *metric, int64_t ts_ms,
			  int64_t arrived_ms, double v, rules_emit_fn emit, void *ctx)
{
	struct sink k = {r, emit, ctx};
	if (!metric || !isfinite(v))
		return;
	for (size_t i = 0; i < r->n; i++) {
		const struct rules_rule *rule = &r->rules[i];
		if (!rules_metric_matches(rule->metric, metric) || !matches(rule, dev))
			continue;
		struct rstate *s = state_get(r, i, dev->id, per_metric(rule) ? metric : "");
		switch (rule->kind) {
		case RULES_THRESHOLD:
			if (ts_ms < s->last_ts)
				break; /* late: a newer value was judged already */
			s->last_ts = ts_ms;
			judge_held(&k, s, rule, ts_ms, v, compare(v, rule->op, rule->value),
				   metric_of(s, rule));
			break;
		case RULES_RATE:
			if (ts_ms <= s->last_ts)
				break;
			s->last_ts = ts_ms;
			rate_sample(&k, s, rule, ts_ms, v);
			break;
		case RULES_ABSENCE: /* the server's clock: a device's clock in 2099 must not silence it */
			if (arrived_ms > s->seen_ms) {
				s->seen_ms = arrived_ms;
				if (s->fired || s->open)
					untrigger(&k, s, arrived_ms, v, 0, "data again");
			}
			break;
		case RULES_WINDOW:
			window_sample(&k, s, rule, ts_ms, v);
			break;
		case RULES_BASELINE:
			baseline_sample(&k, s, rule, ts_ms, v);
			break;
		default:
			break;
		}
	}
}

/* The device was heard from at ts (seeding: the registry's last-seen time, from the periodic
 * walk). Only news untriggers: a time not after the one recorded is a re-report of what is
 * known (the walk repeats the same old last-seen every minute; clearing on it cleared a raised
 * absence alert and raised it again a minute later, a new case each time). The walk never
 * untriggers and leaves the recorded time of a fired episode alone: it is the real message
 * that ends it. */
static void mark_seen(struct rules *r, const struct rules_device *dev, int64_t ts_ms, bool seeding,
		      rules_emit_fn emit, void *ctx)
{
	struct sink k = {r, emit, ctx};
	for (size_t i = 0; i < r->n; i++) {
		const struct rules_rule *rule = &r->rules[i];
		if (!matches(rule, dev))
			continue;
		if (rule->kind == RULES_ABSENCE && !rule->metric[0]) {
			struct rstate *s = state_get(r, i, dev->id, "");
			bool news = ts_ms > s->seen_ms;
			if (seeding) {
				if (news && (!s->fired || !s->seen_ms))
					s->seen_ms = ts_ms;
				continue;
			}
			if (news)
				s->seen_ms = ts_ms;
			if (news && (s->fired || s->open))
				untrigger(&k, s, ts_ms, 0, 0, "heard from again");
		} else if ((rule->kind == RULES_WINDOW && !per_metric(rule)) ||
			   (rule->kind == RULES_ABSENCE && rule->metric[0])) {
			/* (a prefix window rule's sensors are known only from their samples) */
			struct rstate *s = state_get(r, i, dev->id, "");
			if (rule->kind == RULES_WINDOW && rule->mode == RULES_MODE_IDLE && !s->quiet_at)
				s->quiet_at = ts_ms; /* quiet time counts from when the device is known */
			if (rule->kind == RULES_ABSENCE && !s->seen_ms)
				s->seen_ms = ts_ms; /* silence of the metric counts from here */
		}
	}
}

void rules_seen(struct rules *r, const struct rules_device *dev, int64_t ts_ms, rules_emit_fn emit, void *ctx)
{
	mark_seen(r, dev, ts_ms, false, emit, ctx);
}

void rules_seed(struct rules *r, const struct rules_device *dev, int64_t last_seen_ms)
{
	mark_seen(r, dev, last_seen_ms, true, NULL, NULL);
}

static void tick_state(struct sink *k, struct rstate *s, int64_t now)
{
	const struct rules_rule *rule = &k->r->rules[s->rule_ix];
	if (!rule->enabled)
		return;
	char reason[200];
	switch (rule->kind) {
	case RULES_THRESHOLD:
	case RULES_RATE:
		if (s->since_ms && !s->fired && now - s->since_ms >= rule->for_s * 1000) {
			snprintf(reason, sizeof reason, "%s%s = %g %s %g for %lld s", metric_of(s, rule),
				 rule->kind == RULES_RATE ? " change per minute" : "", s->last_v,
				 op_names[rule->op], rule->value, (long long)((now - s->since_ms) / 1000));
			trigger(k, s, now, s->last_v, rule->value, reason);
		}
		break;
	case RULES_ABSENCE:
		if (s->seen_ms && !s->fired && now - s->seen_ms >= rule->window_s * 1000) {
			double mins = (double)(now - s->seen_ms) / 60000.0;
			snprintf(reason, sizeof reason, "no %s%s for %.1f min (limit %lld min)",
				 rule->metric[0] ? rule->metric : "data", rule->metric[0] ? " data" : "",
				 mins, (long long)(rule->window_s / 60));
			trigger(k, s, now, mins, (double)rule->window_s / 60.0, reason);
		}
		break;
	case RULES_WINDOW:
		if (rule->mode == RULES_MODE_IDLE) {
			if (s->quiet_at) {
				idle_advance(s, rule, now);
				idle_check(k, s, rule, now);
			}
		} else {
			window_close(k, s, rule, now);
			window_open(s, rule, now);
		}
		break;
	case RULES_BASELINE:
		if (s->bl_sum)
			baseline_advance(k, s, rule, rules_local_day(now));
		break;
	default:
		break;
	}
}

void rules_tick(struct rules *r, int64_t now_ms, rules_emit_fn emit, void *ctx)
{
	struct sink k = {r, emit, ctx};
	for (size_t i = 0; i < r->cap; i++)
		if (r->slots[i])
			tick_state(&k, r->slots[i], now_ms);
}

void rules_restore_open(struct rules *r, int64_t rule_id, const char *device, const char *metric,
			uint32_t count)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->rules[i].id != rule_id)
			continue;
		struct rstate *s = state_get(r, i, device, per_metric(&r->rules[i]) && metric ? metric : "");
		s->open = true;
		s->fired = true; /* the episode it was raised for; a false condition ends it */
		s->count = count ? count : 1;
		return;
	}
}

void rules_cleared(struct rules *r, int64_t rule_id, const char *device, const char *metric, int64_t now_ms)
{
	struct rstate *s = state_find(r, rule_id, device, metric ? metric : "");
	if (!s)
		return;
	s->open = false;
	s->fired = false; /* a condition that still holds raises again after the suppression window */
	s->suppress_noted = false;
	s->cleared_ms = now_ms;
	s->count = 0;
}

/* ---- the JSON form ------------------------------------------------------------------------ */

static enum cd_err bad(struct json_problem *p, const char *field, const char *msg)
{
	json_problem_set(p, 422, "invalid_field", field, "%s", msg);
	return CD_ERR_INVALID;
}

static bool valid_word(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* A metric name, or a prefix pattern "name.*" (rules_metric_matches). */
static bool valid_metric(const char *s)
{
	size_t n = strlen(s);
	if (!rules_metric_is_prefix(s))
		return strchr(s, '*') == NULL && valid_word(s);
	char base[RULES_WORD_MAX];
	snprintf(base, sizeof base, "%.*s", (int)(n - 2), s);
	return strchr(base, '*') == NULL && valid_word(base);
}

enum cd_err rules_check(const struct rules_rule *rule, struct json_problem *p)
{
	if ((unsigned)rule->kind >= RULES_KIND_COUNT)
		return bad(p, "kind", "kind must be threshold, rate, absence, window or baseline");
	if (!memchr(rule->name, 0, sizeof rule->name) || !rule->name[0])
		return bad(p, "name", "a rule needs a name");
	if (!valid_word(rule->device_type) || !valid_word(rule->device) || !valid_word(rule->category))
		return bad(p, "device_type", "device_type, device and category are [A-Za-z0-9_.-]");
	if (!valid_metric(rule->metric))
		return bad(
		    p, "metric",
		    "metric is a name of [A-Za-z0-9_.-], or a prefix \"name.*\" (name and name.anything)");
	if (rule->level <= RULES_LEVEL_NONE || rule->level >= RULES_LEVEL_COUNT)
		return bad(p, "level", "level must be blue, yellow, orange or red");
	if ((unsigned)rule->op >= RULES_OP_COUNT)
		return bad(p, "op", "op must be one of > >= < <= == !=");
	if (!isfinite(rule->value))
		return bad(p, "value", "value must be a number");
	if (rule->for_s < 0 || rule->for_s > 366 * 86400)
		return bad(p, "for_s", "for_s must be 0..31622400");
	if (rule->suppress_s < 0 || rule->suppress_s > 366 * 86400)
		return bad(p, "suppress_s", "suppress_s must be 0..31622400");
	if (rule->kind != RULES_ABSENCE && !rule->metric[0])
		return bad(p, "metric", "this kind of rule needs a metric");
	switch (rule->kind) {
	case RULES_RATE:
		if (rule->window_s < 2 || rule->window_s > 7 * 86400)
			return bad(p, "window_s", "a rate rule needs window_s of 2..604800 seconds");
		break;
	case RULES_ABSENCE:
		if (rule->window_s < 1 || rule->window_s > 366 * 86400)
			return bad(p, "window_s",
				   "an absence rule needs window_s (silence that raises), 1..31622400");
		break;
	case RULES_WINDOW:
		if (rule->from_min < 0 || rule->from_min >= 1440 || rule->to_min < 0 || rule->to_min > 1440)
			return bad(p, "from", "from and to are HH:MM (to may be 24:00)");
		if (rule->mode != RULES_MODE_IDLE && rule->mode != RULES_MODE_AGGREGATE)
			return bad(p, "mode", "mode must be idle or aggregate");
		if (rule->mode == RULES_MODE_IDLE && rule->for_s <= 0)
			return bad(p, "for_s",
				   "an idle window rule needs for_s (window time without activity)");
		if ((unsigned)rule->agg >= RULES_AGG_KINDS)
			return bad(p, "agg", "agg must be sum, avg, min, max, count or last");
		break;
	case RULES_BASELINE:
		if (rule->weeks < 1 || rule->weeks > RULES_BASELINE_WEEKS_MAX)
			return bad(p, "weeks", "weeks must be 1..8");
		if (!(rule->percent > 0) || rule->percent > 10000)
			return bad(p, "percent",
				   "percent must be above 0 (how far above the baseline raises)");
		break;
	default:
		break;
	}
	return CD_OK;
}

/* "HH:MM" (00:00..24:00) into minutes. */
static bool parse_hhmm(const char *s, int *out)
{
	if (strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return false;
	*out = h * 60 + m;
	return true;
}

/* Copies an optional string field that must fit cap bytes. */
static enum cd_err get_text(const json_t *obj, const char *field, char *dst, size_t cap,
			    struct json_problem *p)
{
	const char *v = NULL;
	enum cd_err rc = json_get_string(obj, field, JSON_OPTIONAL, 0, &v, p);
	if (rc || !v)
		return rc;
	if (strlen(v) >= cap) {
		json_problem_set(p, 422, "invalid_field", field, "%s is too long (at most %zu bytes)", field,
				 cap - 1);
		return CD_ERR_INVALID;
	}
	snprintf(dst, cap, "%s", v);
	return CD_OK;
}

/* An optional word field that must be one of names[0..n) (empty names skipped). */
static enum cd_err get_choice(const json_t *obj, const char *field, const char *const *names, size_t n,
			      int *out, struct json_problem *p)
{
	const char *v = NULL;
	enum cd_err rc = json_get_string(obj, field, JSON_OPTIONAL, 16, &v, p);
	if (rc || !v)
		return rc;
	int i = name_index(names, n, v);
	if (i < 0) {
		json_problem_set(p, 422, "invalid_field", field, "unknown %s \"%.16s\"", field, v);
		return CD_ERR_INVALID;
	}
	*out = i;
	return CD_OK;
}

static const char *const op_words[RULES_OP_COUNT] = {"gt", "ge", "lt", "le", "eq", "ne"};

enum cd_err rules_from_json(const json_t *obj, struct rules_rule *out, struct json_problem *p)
{
	static const char *const allowed[] = {
	    "id",    "name",	"kind",	 "enabled",    "device_type", "tag",	  "device",    "metric",
	    "op",    "value",	"for_s", "window_s",   "from",	      "to",	  "mode",      "agg",
	    "weeks", "percent", "level", "suppress_s", "auto_clear",  "category", "open_case", NULL};
	memset(out, 0, sizeof *out);
	out->enabled = true;
	out->auto_clear = true;
	out->open_case = true;
	out->level = RULES_YELLOW;
	out->weeks = 4;
	out->op = RULES_GT;
	const char *from = NULL, *to = NULL, *op = NULL;
	long long for_s = 0, window_s = 0, weeks = 4, suppress_s = 0;
	int kind = -1, mode = RULES_MODE_IDLE, agg = RULES_AGG_SUM, level = RULES_YELLOW;
	enum cd_err rc = json_check_fields(obj, allowed, p);
	if (!rc && !json_object_get(obj, "kind")) {
		json_problem_set(p, 422, "missing_field", "kind", "kind is required");
		rc = CD_ERR_INVALID;
	}
	if (!rc)
		rc = get_choice(obj, "kind", kind_names, RULES_KIND_COUNT, &kind, p);
	if (!rc && !json_object_get(obj, "name")) {
		json_problem_set(p, 422, "missing_field", "name", "name is required");
		rc = CD_ERR_INVALID;
	}
	if (!rc)
		rc = get_text(obj, "name", out->name, sizeof out->name, p);
	if (!rc)
		rc = json_get_bool(obj, "enabled", JSON_OPTIONAL, &out->enabled, p);
	if (!rc)
		rc = get_text(obj, "device_type", out->device_type, sizeof out->device_type, p);
	if (!rc)
		rc = get_text(obj, "tag", out->tag, sizeof out->tag, p);
	if (!rc)
		rc = get_text(obj, "device", out->device, sizeof out->device, p);
	if (!rc)
		rc = get_text(obj, "metric", out->metric, sizeof out->metric, p);
	if (!rc)
		rc = json_get_string(obj, "op", JSON_OPTIONAL, 4, &op, p);
	if (!rc && op) {
		int i = name_index(op_names, RULES_OP_COUNT, op);
		if (i < 0)
			i = name_index(op_words, RULES_OP_COUNT, op);
		if (i < 0)
			rc = bad(p, "op", "op must be one of > >= < <= == != (or gt ge lt le eq ne)");
		else
			out->op = (enum rules_op)i;
	}
	if (!rc)
		rc = json_get_double(obj, "value", JSON_OPTIONAL, -1e15, 1e15, &out->value, p);
	if (!rc)
		rc = json_get_int(obj, "for_s", JSON_OPTIONAL, 0, 366 * 86400, &for_s, p);
	if (!rc)
		rc = json_get_int(obj, "window_s", JSON_OPTIONAL, 0, 366 * 86400, &window_s, p);
	if (!rc)
		rc = json_get_string(obj, "from", JSON_OPTIONAL, 5, &from, p);
	if (!rc)
		rc = json_get_string(obj, "to", JSON_OPTIONAL, 5, &to, p);
	if (!rc && from && !parse_hhmm(from, &out->from_min))
		rc = bad(p, "from", "from is HH:MM local time (Asia/Shanghai)");
	if (!rc && to && !parse_hhmm(to, &out->to_min))
		rc = bad(p, "to", "to is HH:MM local time (Asia/Shanghai), 24:00 allowed");
	if (!rc)
		rc = get_choice(obj, "mode", mode_names, 2, &mode, p);
	if (!rc)
		rc = get_choice(obj, "agg", agg_names, RULES_AGG_KINDS, &agg, p);
	if (!rc)
		rc = json_get_int(obj, "weeks", JSON_OPTIONAL, 1, RULES_BASELINE_WEEKS_MAX, &weeks, p);
	if (!rc)
		rc = json_get_double(obj, "percent", JSON_OPTIONAL, 0, 10000, &out->percent, p);
	if (!rc)
		rc = get_choice(obj, "level", level_names, RULES_LEVEL_COUNT, &level, p);
	if (!rc)
		rc = json_get_int(obj, "suppress_s", JSON_OPTIONAL, 0, 366 * 86400, &suppress_s, p);
	if (!rc)
		rc = json_get_bool(obj, "auto_clear", JSON_OPTIONAL, &out->auto_clear, p);
	if (!rc)
		rc = json_get_bool(obj, "open_case", JSON_OPTIONAL, &out->open_case, p);
	if (!rc)
		rc = get_text(obj, "category", out->category, sizeof out->category, p);
	if (rc)
		return rc;
	out->kind = (enum rules_kind)kind;
	out->mode = (enum rules_mode)mode;
	out->agg = (enum rules_agg)agg;
	out->level = (enum rules_level)level;
	out->for_s = for_s;
	out->window_s = window_s;
	out->weeks = (int)weeks;
	out->suppress_s = suppress_s;
	if (out->kind == RULES_WINDOW && (!from || !to))
		return bad(p, from ? "to" : "from", "a window rule needs from and to (HH:MM)");
	if ((out->kind == RULES_THRESHOLD || out->kind == RULES_RATE ||
	     (out->kind == RULES_WINDOW && out->mode == RULES_MODE_AGGREGATE)) &&
	    !json_object_get(obj, "value")) {
		json_problem_set(p, 422, "missing_field", "value",
				 "this kind of rule needs a value to compare with");
		return CD_ERR_INVALID;
	}
	if (out->kind == RULES_BASELINE && !json_object_get(obj, "percent")) {
		json_problem_set(p, 422, "missing_field", "percent", "a baseline rule needs percent");
		return CD_ERR_INVALID;
	}
	return rules_check(out, p);
}

json_t *rules_to_json(const struct rules_rule *rule)
{
	json_t *o = json_object();
	if (rule->id)
		json_object_set_new(o, "id", json_integer((json_int_t)rule->id));
	json_object_set_new(o, "name", json_string(rule->name));
	json_object_set_new(o, "kind", json_string(rules_kind_name(rule->kind)));
	json_object_set_new(o, "enabled", json_boolean(rule->enabled));
	if (rule->device_type[0])
		json_object_set_new(o, "device_type", json_string(rule->device_type));
	if (rule->tag[0])
		json_object_set_new(o, "tag", json_string(rule->tag));
	if (rule->device[0])
		json_object_set_new(o, "device", json_string(rule->device));
	if (rule->metric[0])
		json_object_set_new(o, "metric", json_string(rule->metric));
	if (rule->kind != RULES_ABSENCE && rule->kind != RULES_BASELINE) {
		json_object_set_new(o, "op", json_string(rules_op_name(rule->op)));
		json_object_set_new(o, "value", json_real(rule->value));
	}
	if (rule->kind == RULES_THRESHOLD || rule->kind == RULES_RATE ||
	    (rule->kind == RULES_WINDOW && rule->mode == RULES_MODE_IDLE))
		json_object_set_new(o, "for_s", json_integer((json_int_t)rule->for_s));
	if (rule->kind == RULES_RATE || rule->kind == RULES_ABSENCE)
		json_object_set_new(o, "window_s", json_integer((json_int_t)rule->window_s));
	if (rule->kind == RULES_WINDOW) {
		char t[16];
		snprintf(t, sizeof t, "%02d:%02d", rule->from_min / 60, rule->from_min % 60);
		json_object_set_new(o, "from", json_string(t));
		snprintf(t, sizeof t, "%02d:%02d", rule->to_min / 60, rule->to_min % 60);
		json_object_set_new(o, "to", json_string(t));
		json_object_set_new(o, "mode", json_string(mode_names[rule->mode]));
		if (rule->mode == RULES_MODE_AGGREGATE)
			json_object_set_new(o, "agg", json_string(agg_names[rule->agg]));
	}
	if (rule->kind == RULES_BASELINE) {
		json_object_set_new(o, "weeks", json_integer(rule->weeks));
		json_object_set_new(o, "percent", json_real(rule->percent));
	}
	json_object_set_new(o, "level", json_string(rules_level_name(rule->level)));
	json_object_set_new(o, "suppress_s", json_integer((json_int_t)rule->suppress_s));
	json_object_set_new(o, "auto_clear", json_boolean(rule->auto_clear));
	json_object_set_new(o, "open_case", json_boolean(rule->open_case));
	if (rule->category[0])
		json_object_set_new(o, "category", json_string(rule->category));
	return o;
}
