/* The rule engine of 监测预警: pure evaluation of alert rules over device data, with no store,
 * no threads and no clock of its own (every call is given the time), so it can be tested with
 * synthetic time. Not thread-safe: one owner (the alerts worker, app/alerts.c) calls it.
 * Design, rule JSON and semantics: docs/internals/rules.md. */
#ifndef CD_RULES_H
#define CD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"
#include "util/json.h"

#define RULES_NAME_MAX 128    /* rule name, UTF-8, with NUL */
#define RULES_ID_MAX 64	      /* device id, with NUL (IOT_ID_MAX) */
#define RULES_WORD_MAX 32     /* device type, metric, with NUL (IOT_WORD_MAX, IOT_METRIC_MAX) */
#define RULES_TAG_MAX 64      /* one tag, with NUL */
#define RULES_CATEGORY_MAX 32 /* a category code, with NUL */
#define RULES_MAX 1024	      /* rules in one engine */
#define RULES_RATE_SAMPLES 64 /* samples a rate rule keeps per device (thinned, never more) */
#define RULES_BASELINE_WEEKS_MAX 8
#define RULES_TZ_OFFSET_MS (8 * 3600 * 1000LL) /* Asia/Shanghai: UTC+8, no daylight saving since 1991 */

enum rules_kind {
	RULES_THRESHOLD, /* metric op value, held for for_s */
	RULES_RATE,	 /* change per minute over window_s, op value, held for for_s */
	RULES_ABSENCE,	 /* no data (of metric, or any) for window_s */
	RULES_WINDOW,	 /* a daily local-time window: idle (no activity for for_s of window time) or
			    aggregate (agg of the window's samples op value, judged when it closes) */
	RULES_BASELINE,	 /* a day's sum above (1 + percent/100) x the same weekday's mean of `weeks` weeks */
	RULES_KIND_COUNT
};

enum rules_level { RULES_LEVEL_NONE, RULES_BLUE, RULES_YELLOW, RULES_ORANGE, RULES_RED, RULES_LEVEL_COUNT };
enum rules_op { RULES_GT, RULES_GE, RULES_LT, RULES_LE, RULES_EQ, RULES_NE, RULES_OP_COUNT };
enum rules_mode { RULES_MODE_IDLE, RULES_MODE_AGGREGATE };
enum rules_agg {
	RULES_AGG_SUM,
	RULES_AGG_AVG,
	RULES_AGG_MIN,
	RULES_AGG_MAX,
	RULES_AGG_COUNT,
	RULES_AGG_LAST,
	RULES_AGG_KINDS
};

/* One rule, as data (stored as JSON by the alerts store, see rules_from_json). */
struct rules_rule {
	int64_t id;		   /* the store's id; unique within an engine */
	char name[RULES_NAME_MAX]; /* what staff call it */
	enum rules_kind kind;
	bool enabled;			   /* false: kept, never evaluated */
	char device_type[RULES_WORD_MAX];  /* selector: this device type, "" = any */
	char tag[RULES_TAG_MAX];	   /* selector: devices carrying this tag, "" = any */
	char device[RULES_ID_MAX];	   /* selector: this one device, "" = any */
	char metric[RULES_WORD_MAX];	   /* the metric judged ("" only for absence: any data), or a
					      prefix "name.*": name and every name.<sensor> */
	enum rules_op op;		   /* threshold, rate, window (activity / aggregate) */
	double value;			   /* compared with */
	int64_t for_s;			   /* threshold, rate: how long the condition must hold;
					      window idle: window time without activity */
	int64_t window_s;		   /* rate: look-back; absence: silence that raises */
	int from_min, to_min;		   /* window: local minutes of the day [from, to); equal =
					      whole day; to < from crosses midnight */
	enum rules_mode mode;		   /* window */
	enum rules_agg agg;		   /* window aggregate */
	int weeks;			   /* baseline: same-weekday days averaged (1..8) */
	double percent;			   /* baseline: how far above the baseline raises (> 0) */
	enum rules_level level;		   /* of the alerts it raises */
	int64_t suppress_s;		   /* after a clear, no new raise for this long */
	bool auto_clear;		   /* the rule clears its alert when the condition ends */
	char category[RULES_CATEGORY_MAX]; /* the case category, "" = from the device type */
	bool open_case;			   /* raising opens a case */
};

/* The facts of a device the selectors look at; strings are borrowed. */
struct rules_device {
	const char *id;
	const char *type; /* may be NULL */
	const char *tags; /* comma-separated, may be NULL */
};

enum rules_change {
	RULES_RAISE,  /* a new alert for (rule, device) */
	RULES_REPEAT, /* the condition came back while the alert is open: count bumped */
	RULES_CLEAR,  /* the condition ended (auto_clear) */
};

/* What the engine reports; valid only during the callback. */
struct rules_alert {
	enum rules_change change;
	const struct rules_rule *rule;
	const char *device;
	const char *metric; /* the sensor when the rule matches by prefix (one alert per matching
			       metric, e.g. "pressure_mpa.1.0.7"); "" = one alert per device */
	int64_t ts_ms;	  /* when (the sample's time or the tick's) */
	double value;	  /* observed: the sample, the rate per minute, silent minutes, the window's
			     aggregate or quiet minutes, the day's total */
	double limit;	  /* what it was compared with (baseline: the raising level) */
	uint32_t count;	  /* occurrences while open (1 on raise) */
	char reason[256]; /* one sentence, for people */
};

typedef void (*rules_emit_fn)(void *ctx, const struct rules_alert *a);

struct rules;

/* A new engine without rules. Never NULL. */
struct rules *rules_new(void);
/* Frees it. NULL is fine. */
void rules_free(struct rules *r);

/* Replaces the rule set with rules[0..n) (copied; ids unique, each rules_check'ed:
 * CD_ERR_INVALID otherwise, nothing changed; CD_ERR_RANGE past RULES_MAX). The memory of a
 * (rule, device) whose rule is gone is dropped; of a rule whose definition changed, the
 * evaluation memory is reset but an open alert stays open. */
enum cd_err rules_set(struct rules *r, const struct rules_rule *rules, size_t n) CD_MUST_CHECK;
/* The rules in use (n in *n); valid until the next rules_set. */
const struct rules_rule *rules_list(const struct rules *r, size_t *n);

/* One telemetry value of a device at ts_ms. Evaluates the matching threshold, rate, window and
 * baseline rules and marks the device seen for absence rules on that metric. */
void rules_sample(struct rules *r, const struct rules_device *dev, const char *metric, int64_t ts_ms,
		  double v, rules_emit_fn emit, void *ctx);
/* rules_sample with the two clocks apart: ts_ms (the device's, the reading's own time) for the
 * threshold, rate, window and baseline rules; arrived_ms (the server's, when it arrived) for
 * absence rules on that metric. rules_sample is this with both equal (synthetic time). */
void rules_sample_arrived(struct rules *r, const struct rules_device *dev, const char *metric, int64_t ts_ms,
			  int64_t arrived_ms, double v, rules_emit_fn emit, void *ctx);
/* The device was heard from at ts_ms (any message, a heartbeat, online): absence rules
 * without a metric. ts_ms is when the message arrived (the server's clock), never the device's
 * own: a device clock in 2099 would otherwise silence absence for good. Only a time after the
 * one recorded clears a fired absence alert. Also starts the clock of window rules for a device
 * not seen before. */
void rules_seen(struct rules *r, const struct rules_device *dev, int64_t ts_ms, rules_emit_fn emit,
		void *ctx);
/* The registry's walk (app/alerts.c, once a minute): the device exists and was last heard from
 * at last_seen_ms (the server's start for one never heard from). Starts the silence of absence
 * rules and the clock of window rules for devices that send nothing; moves a silence's start
 * forward, but never clears (nor reports) anything: only a real message ends a fired episode. */
void rules_seed(struct rules *r, const struct rules_device *dev, int64_t last_seen_ms);
/* Time passes: threshold/rate conditions that have now held for for_s, absence, window
 * time without activity, windows and days that closed. Call about once a second. */
void rules_tick(struct rules *r, int64_t now_ms, rules_emit_fn emit, void *ctx);

/* Restores an open alert (at start, from the store) so it is de-duplicated and can clear.
 * metric is the alert's rules_alert.metric ("" or NULL for a per-device alert). */
void rules_restore_open(struct rules *r, int64_t rule_id, const char *device, const char *metric,
			uint32_t count);
/* A person cleared the alert of (rule, device, metric as in rules_alert; "" or NULL per device)
 * at now_ms: the suppression window starts and a condition that still holds raises again once
 * it has passed. Unknown ones are ignored. */
void rules_cleared(struct rules *r, int64_t rule_id, const char *device, const char *metric, int64_t now_ms);

/* True when pattern is a prefix form "name.*". */
bool rules_metric_is_prefix(const char *pattern);
/* True when a rule's metric selects this metric: equal, or for "name.*" the metric is "name" or
 * starts with "name." ("pressure_mpa.*" selects "pressure_mpa" and "pressure_mpa.1.0.7", not
 * "pressure_mpa2"). */
bool rules_metric_matches(const char *pattern, const char *metric);

/* Counters. */
struct rules_stats {
	size_t rules;  /* rules in use */
	size_t states; /* (rule, device) pairs remembered */
	uint64_t raised, repeated, cleared, suppressed;
};
void rules_get_stats(const struct rules *r, struct rules_stats *out);

/* Checks a rule's fields for its kind (the JSON reader calls it). CD_ERR_INVALID with *p
 * naming the field. */
enum cd_err rules_check(const struct rules_rule *rule, struct json_problem *p) CD_MUST_CHECK;
/* Reads the rule JSON form (docs/internals/rules.md) into *out (id 0). Unknown fields,
 * wrong types and values that do not fit the kind give CD_ERR_INVALID with *p (422). */
enum cd_err rules_from_json(const json_t *obj, struct rules_rule *out, struct json_problem *p) CD_MUST_CHECK;
/* The rule as JSON (with "id" when non-zero): a new reference. */
json_t *rules_to_json(const struct rules_rule *rule);

/* Names: "threshold"..., "blue"..., ">"... and back (false when unknown). */
const char *rules_kind_name(enum rules_kind k);
const char *rules_level_name(enum rules_level l);
const char *rules_op_name(enum rules_op o);
bool rules_level_parse(const char *s, enum rules_level *out);

/* Local (Asia/Shanghai) day number of a unix-ms time (days since 1970-01-01 local) and the
 * minute of that day. */
int64_t rules_local_day(int64_t ts_ms);
int rules_local_minute(int64_t ts_ms);

#endif
