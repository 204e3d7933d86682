/* Alerts (监测预警) for the running server: a worker thread that owns the rule engine
 * (core/rules.h), fed by the IoT hub and by other district systems, that stores each raised
 * alert (audited), publishes it on the event bus (kind "alert") and opens a case for it through
 * the intake pipeline (channel "iot", external_id = the alert id, so a retry never makes two
 * cases). Acknowledge and clear come from people (the API) or from the rule when its condition
 * ends; clearing is noted on the case. Design: docs/internals/rules.md. */
#ifndef CD_ALERTS_H
#define CD_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app/app.h"
#include "app/iot.h"
#include "store/store_alerts.h"
#include "util/buf.h"

#define ALERTS_TELEMETRY_QUEUE_MAX 20000 /* telemetry waiting for the worker; more is dropped (counted) */
#define ALERTS_TICK_MS 1000		 /* time-based rules are judged this often */
#define ALERTS_SEED_MS 60000		 /* the registry is walked this often (absence of silent devices) */

struct alerts;

/* Loads the rules from the store, restores the active alerts into the engine, and starts the
 * worker (with its 1 s ticker). Uses app->st, app->events, app->devices and app->intake when
 * set (without app->intake no case is opened). Does not set app->alerts (the caller does). */
enum cd_err alerts_start(struct app *app, struct alerts **out) CD_MUST_CHECK;
/* Finishes what is queued, stops the worker and frees. NULL is fine. */
void alerts_stop(struct alerts *a);

/* The hub's calls, from its worker thread: each copies its arguments, queues them and returns.
 * Telemetry past ALERTS_TELEMETRY_QUEUE_MAX waiting is dropped and counted; events and status
 * changes are never dropped. A NULL `a` does nothing. */
void alerts_on_telemetry(struct alerts *a, const struct iot_device *dev, const struct iot_telemetry *t);
void alerts_on_event(struct alerts *a, const struct iot_device *dev, const struct iot_event *e);
void alerts_on_status(struct alerts *a, const struct iot_device *dev, bool online, int64_t ts_ms);
/* The same for a message from the IoT hub's journal with its seq (app/iot_journal.h): every alert
 * write it causes stores the seq as the replay mark in the same transaction (store_alerts.h),
 * and a message at or below the mark read at start is not applied again (a replay after a
 * crash: no second alert, no second case). seq 0 = not journalled. */
void alerts_on_telemetry_seq(struct alerts *a, const struct iot_device *dev, const struct iot_telemetry *t,
			     uint64_t seq);
void alerts_on_event_seq(struct alerts *a, const struct iot_device *dev, const struct iot_event *e, uint64_t seq);
void alerts_on_status_seq(struct alerts *a, const struct iot_device *dev, bool online, int64_t ts_ms,
			  uint64_t seq);

/* One event or alert from another district system (POST /api/v1/ingest/{system}). */
struct alerts_ingest {
	char system[STORE_ALERT_ID_MAX]; /* the sender (its key was checked) */
	char id[STORE_ALERT_ID_MAX];	 /* the sender's own id of the alert, "" when none */
	char device[IOT_ID_MAX];	 /* a registered device it concerns, or "" */
	char type[IOT_WORD_MAX];	 /* e.g. fire_alarm, gas_leak, elderly_no_activity */
	char level[IOT_WORD_MAX];	 /* blue yellow orange red, or "" (recorded, no alert) */
	bool cleared;			 /* the sender says it is over: clears the alert */
	int64_t ts_ms;
	char title[STORE_NAME_MAX]; /* "" = made from type and device */
	char detail[STORE_ALERT_TEXT_MAX];
	bool has_point;	 /* else the device's point, if any */
	double lat, lng; /* WGS-84 */
	char address[256];
	char category[STORE_CATEGORY_MAX]; /* case category, "" = from type/device */
};
/* Queues it for the worker (never dropped). */
void alerts_ingest(struct alerts *a, const struct alerts_ingest *in);
/* The same with its IoT journal seq (see alerts_on_telemetry_seq). */
void alerts_ingest_seq(struct alerts *a, const struct alerts_ingest *in, uint64_t seq);
/* Tells the worker the IoT journal's last seq when it was opened, before its replay: replay marks
 * beyond it come from a journal that no longer exists and are dropped (else they would skip
 * new messages). */
void alerts_replay_from(struct alerts *a, uint64_t journal_last_seq);

#define ALERTS_INGEST_KEY_MAX 72 /* "cdi_" + 64 hex digits, with NUL */

/* A new random key for a district system (shown once) and its SHA-256 (hex) to store. Needs
 * libsodium initialised (auth_init). */
void alerts_ingest_key_new(char key[ALERTS_INGEST_KEY_MAX], char hash[STORE_HASH_HEX]);
/* The SHA-256 (hex) of a key, as stored. */
void alerts_ingest_key_hash(const char *key, char hash[STORE_HASH_HEX]);
/* True when `key` is the key of the enabled system `system` (compared in constant time). */
bool alerts_ingest_check(struct store *st, const char *system, const char *key);

/* The rules in the store changed: the worker reloads them. (It also notices changes made by
 * another process, such as `citydesk rules import`, within ALERTS_SEED_MS.) */
void alerts_rules_changed(struct alerts *a);

/* ---- rule sets as files (alerts_rules.c) ---- */

struct rules_rule;

/* Reads a rules file: {"rules": [...]} or [...] with 1..RULES_MAX items, each a rule in the
 * JSON form of docs/internals/rules.md or {"rule": {...}, "source": "...", "intent": "..."}
 * (the documented form of data/luohu/rules.json). Every rule is checked; names must be unique.
 * On success *out (xfree) holds *n rules with id 0. CD_ERR_INVALID with a sentence in reason
 * naming the rule and field at fault. */
enum cd_err alerts_rules_parse(const char *text, size_t len, struct rules_rule **out, size_t *n, char *reason,
			       size_t cap) CD_MUST_CHECK;

struct alerts_import_result {
	size_t added;	  /* new rules */
	size_t updated;	  /* a stored rule of the same name got the file's definition */
	size_t unchanged; /* a stored rule of the same name already had it */
};
/* Imports the rules file at path into the store as actor: the whole file is checked before
 * anything is written; a rule whose name is stored already replaces that rule's definition
 * ("rule.update") unless it is the same, others are added ("rule.add"), so importing a file
 * twice changes nothing. A running server picks the rules up within ALERTS_SEED_MS.
 * CD_ERR_NOTFOUND (no file), CD_ERR_INVALID, CD_ERR_RANGE (too many rules), store errors; the
 * reason says which. */
enum cd_err alerts_rules_import(struct store *st, const struct store_actor *actor, const char *path,
				struct alerts_import_result *res, char *reason, size_t cap) CD_MUST_CHECK;
/* For `citydesk serve`, after the district is loaded: when the store's rules table is empty
 * and the default set was never loaded, imports district_dir/rules.json as "system" and tells
 * app->alerts (if running). Marks the store ("rules_loaded") so that an administrator who
 * deletes every rule is not overruled at the next start. A missing file is logged and is not
 * an error; a file that does not read is (the server should not run a broken district). */
enum cd_err alerts_load_default_rules(struct app *app, const char *district_dir) CD_MUST_CHECK;

/* A person acknowledges (clear false) or clears alert id: stored (audited, as actor), published
 * ("alert.acknowledged" / "alert.cleared") and noted on the alert's case ("alert_acknowledged"
 * at once, on the caller's thread; "alert_cleared" by the worker, which also tells the engine so
 * that suppression starts). Works with app->alerts NULL (IoT off):
 * then the note is written at once. *out (may be NULL) gets the new row. CD_ERR_NOTFOUND,
 * CD_ERR_CONFLICT (already acknowledged/cleared), CD_ERR_INVALID (comment too long). */
enum cd_err alerts_act(struct app *app, const struct store_actor *actor, const char *role, int64_t id,
		       bool clear, const char *comment, struct store_alert *out) CD_MUST_CHECK;

/* Waits until everything queued before the call has been handled (tests, shutdown). */
void alerts_drain(struct alerts *a);
/* The same, waiting at most timeout_ms (< 0: no limit). CD_OK when everything queued before the
 * call is handled and its writes stored (a write failing with a transient store error, e.g. the
 * database locked by another process, is retried until it is stored); CD_ERR_BUSY when not yet;
 * CD_ERR_IO once a write was given up at stop. The IoT hub checkpoints its journal only after
 * CD_OK. */
enum cd_err alerts_drain_wait(struct alerts *a, int timeout_ms) CD_MUST_CHECK;

/* The category a case about a device of this type and tags gets when the rule names none:
 * fire-safety devices → H130809 (消防安全), a water meter of a person living alone → H090805
 * (民政/社会服务), water → H010216, energy → H070602, sorting points → UM06041; NULL = classify
 * from the text. */
const char *alerts_category_for(const char *device_type, const char *tags, const char *event_type);

/* The alert as the API shows it: a new reference. */
json_t *alerts_json(const struct store_alert *al);
/* Publishes `type` ("alert.raised" ...) for the alert on app->events. Failures are logged. */
void alerts_publish(struct app *app, const char *type, const struct store_alert *al);

struct alerts_stats {
	uint64_t telemetry, events, status, ingested; /* messages handled */
	uint64_t dropped;			      /* telemetry dropped at a full queue */
	uint64_t raised, repeated, cleared;	      /* alert changes written */
	uint64_t cases_opened, case_failures;
	uint64_t store_retries;	 /* alert writes that failed transiently and were tried again */
	uint64_t store_failures; /* alert raises refused for good (logged as errors) */
	uint64_t queued; /* waiting now */
	uint64_t rules;	 /* rules in use */
};
void alerts_get_stats(struct alerts *a, struct alerts_stats *out);
/* Appends the counters as Prometheus text (citydesk_alerts_*). */
enum cd_err alerts_metrics(struct alerts *a, struct buf *out) CD_MUST_CHECK;

#endif
