/* The store's part for rules and alerts (监测预警): rules as JSON documents, alerts with their
 * lifecycle (open → acknowledged → cleared; one active alert per key and device), the events
 * devices sent, and the keys of district systems that push events in. Writes of rules, alert
 * raises, links to cases, acknowledgements and clears are audited; repeat bumps and device
 * events are not (they are frequent, and the alert's count and the event rows are the record).
 * Alert times are unix milliseconds. SQLite back end: sqlite_alerts.c. */
#ifndef CD_STORE_ALERTS_H
#define CD_STORE_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_ALERT_KEY_MAX 160	  /* de-duplication key, with NUL */
#define STORE_ALERT_TEXT_MAX 1024 /* detail and note, with NUL */
#define STORE_ALERT_WORD_MAX 32	  /* source, type, level, status, with NUL */
#define STORE_ALERT_ID_MAX 64	  /* device id or system name, with NUL */
#define STORE_ALERTS_PAGE_MAX 500
#define STORE_RULE_BODY_MAX 4096 /* a rule's JSON text */

/* ---- rules ---------------------------------------------------------------------------- */

struct store_rule {
	int64_t id;
	char name[128];
	char body[STORE_RULE_BODY_MAX]; /* the rule JSON form (core/rules.h), without "id" */
	int64_t created_at, updated_at; /* unix seconds */
};

/* Adds a rule ("rule.add"); *id_out gets its id. CD_ERR_INVALID when body is not JSON. */
enum cd_err store_rule_add(struct store *st, const struct store_actor *actor, const char *name,
			   const char *body, int64_t *id_out) CD_MUST_CHECK;
/* Replaces rule id's name and body ("rule.update"). CD_ERR_NOTFOUND when there is none. */
enum cd_err store_rule_update(struct store *st, const struct store_actor *actor, int64_t id, const char *name,
			      const char *body) CD_MUST_CHECK;
/* Deletes rule id ("rule.delete"); its alerts stay (rule_id kept as history). */
enum cd_err store_rule_delete(struct store *st, const struct store_actor *actor, int64_t id) CD_MUST_CHECK;
enum cd_err store_rule_get(struct store *st, int64_t id, struct store_rule *out) CD_MUST_CHECK;
/* Every rule by id into a new array (xfree). */
enum cd_err store_rules_list(struct store *st, struct store_rule **out, size_t *n) CD_MUST_CHECK;

/* ---- alerts --------------------------------------------------------------------------- */

struct store_alert {
	int64_t id;			   /* assigned by store_alert_raise */
	char key[STORE_ALERT_KEY_MAX];	   /* "rule:12", "event:fire_alarm", "ingest:SYS:ID" */
	char source[STORE_ALERT_WORD_MAX]; /* rule event ingest */
	int64_t rule_id;		   /* 0 = none */
	char device[STORE_ALERT_ID_MAX];   /* "" = none */
	char system[STORE_ALERT_ID_MAX];   /* ingest: the sender */
	char type[STORE_ALERT_WORD_MAX];   /* rule kind or event type */
	char level[STORE_ALERT_WORD_MAX];  /* blue yellow orange red */
	char status[STORE_ALERT_WORD_MAX]; /* open acknowledged cleared */
	char title[STORE_NAME_MAX];
	char detail[STORE_ALERT_TEXT_MAX];
	int has_value; /* value/limit hold numbers */
	double value, limit;
	int64_t count; /* occurrences while active */
	int has_point;
	double lat, lng; /* WGS-84 */
	char street_code[STORE_CODE_MAX], community_code[STORE_CODE_MAX], grid_code[STORE_CODE_MAX];
	char category_code[STORE_CATEGORY_MAX]; /* "" = let intake classify */
	int want_case;				/* raising opens a case */
	int64_t case_id;			/* 0 until the case is open */
	char case_ref[STORE_CASE_REF_MAX];
	char unit_code[STORE_CODE_MAX];				      /* the case's unit */
	int64_t raised_at_ms, last_at_ms, acked_at_ms, cleared_at_ms; /* 0 = not happened */
	char acked_by[STORE_USERNAME_MAX], cleared_by[STORE_USERNAME_MAX];
	char note[STORE_ALERT_TEXT_MAX]; /* the last acknowledge/clear comment */
	uint64_t iot_seq; /* store_alert_raise input, not a column: the replay mark to set, 0 = none */
};

/* Raises *a (status open, count 1 unless set, raised/last times now unless set) in one audited
 * transaction ("alert.raise"). When an active alert with the same key and device exists,
 * nothing is written and CD_ERR_EXISTS is returned with *a overwritten by that alert. On
 * success a->id and the defaults are filled in. */
enum cd_err store_alert_raise(struct store *st, const struct store_actor *actor,
			      struct store_alert *a) CD_MUST_CHECK;
/* A repeat: count + 1 (or set to `count` when > 0), last_at_ms, value. Not audited.
 * CD_ERR_NOTFOUND when the alert is not active. */
enum cd_err store_alert_bump(struct store *st, int64_t id, int64_t count, int64_t at_ms,
			     double value) CD_MUST_CHECK;
/* The same; a non-zero seq is stored as the alerts replay mark in the same transaction. */
enum cd_err store_alert_bump_seq(struct store *st, int64_t id, int64_t count, int64_t at_ms, double value,
				 uint64_t seq) CD_MUST_CHECK;
/* Links the alert to its case c (id, ref, unit) and, where the alert has no place yet (an
 * ingested alert with only a point), takes the case's street, community and grid
 * ("alert.case"). */
enum cd_err store_alert_set_case(struct store *st, const struct store_actor *actor, int64_t id,
				 const struct store_case *c) CD_MUST_CHECK;
/* Acknowledges an open alert ("alert.acknowledge"). CD_ERR_CONFLICT when it is not open,
 * CD_ERR_NOTFOUND when there is none. *out (may be NULL) gets the new row. */
enum cd_err store_alert_ack(struct store *st, const struct store_actor *actor, int64_t id,
			    const char *comment, int64_t at_ms, struct store_alert *out) CD_MUST_CHECK;
/* Clears an open or acknowledged alert ("alert.clear"). CD_ERR_CONFLICT when it is cleared
 * already, CD_ERR_NOTFOUND when there is none. *out (may be NULL) gets the new row. */
enum cd_err store_alert_clear(struct store *st, const struct store_actor *actor, int64_t id,
			      const char *comment, int64_t at_ms, struct store_alert *out) CD_MUST_CHECK;
/* The same; a non-zero seq is stored as the alerts replay mark in the same transaction. */
enum cd_err store_alert_clear_seq(struct store *st, const struct store_actor *actor, int64_t id,
				  const char *comment, int64_t at_ms, uint64_t seq,
				  struct store_alert *out) CD_MUST_CHECK;
enum cd_err store_alert_get(struct store *st, int64_t id, struct store_alert *out) CD_MUST_CHECK;
/* The active alert with this key and device. CD_ERR_NOTFOUND when none. */
enum cd_err store_alert_find_active(struct store *st, const char *key, const char *device,
				    struct store_alert *out) CD_MUST_CHECK;

/* What GET /api/v1/alerts asks for; NULL/0 fields do not filter. */
struct store_alert_filter {
	const char *status; /* open acknowledged cleared, or "active" (open or acknowledged) */
	const char *level;
	const char *device;
	const char *street;	  /* street_code */
	const char *scope_street; /* the caller's scope: only this street */
	const char *scope_unit;	  /* the caller's scope: only this unit */
	int64_t rule_id;
	int64_t from_ms, to_ms; /* raised_at_ms in [from, to) */
};
/* One page (newest first; limit capped at STORE_ALERTS_PAGE_MAX) into a new array (xfree) and
 * the number of matches in *total (may be NULL). */
enum cd_err store_alerts_list(struct store *st, const struct store_alert_filter *f, int64_t offset,
			      int64_t limit, struct store_alert **out, size_t *n,
			      int64_t *total) CD_MUST_CHECK;
/* Every active alert (for the engine at start), into a new array (xfree). */
enum cd_err store_alerts_active(struct store *st, struct store_alert **out, size_t *n) CD_MUST_CHECK;

/* ---- device events -------------------------------------------------------------------- */

struct store_device_event {
	char device[STORE_ALERT_ID_MAX];
	int64_t ts_ms;
	char type[STORE_ALERT_WORD_MAX];
	char level[STORE_ALERT_WORD_MAX];
	char detail[STORE_ALERT_TEXT_MAX];
	char source[16];
	int64_t alert_id; /* 0 = none */
};
/* Appends n events in one transaction (not audited). */
enum cd_err store_device_events_add(struct store *st, const struct store_device_event *ev,
				    size_t n) CD_MUST_CHECK;
/* The same; a non-zero seq is stored as the device-events replay mark in the same transaction
 * (n may then be 0). */
enum cd_err store_device_events_add_seq(struct store *st, const struct store_device_event *ev, size_t n,
					uint64_t seq) CD_MUST_CHECK;
/* How many events are stored for device (all when NULL). */
enum cd_err store_device_events_count(struct store *st, const char *device, int64_t *out) CD_MUST_CHECK;

/* ---- replay marks ---------------------------------------------------------------------- */

/* The IoT hub replays its journal after a crash (app/iot_journal.h): the alerts worker must not
 * apply a device message twice. Every alert write made for a journalled message (raise with
 * iot_seq, bump_seq, clear_seq) stores that message's journal seq in meta[STORE_ALERTS_MARK]
 * in the same transaction, and every device-event batch the highest seq it holds in
 * meta[STORE_EVENTS_MARK]; a replayed message at or below a mark is not applied again. */
#define STORE_ALERTS_MARK "iot_alerts_seq"
#define STORE_EVENTS_MARK "iot_device_events_seq"
/* Both marks (0 when never set). */
enum cd_err store_alerts_marks(struct store *st, uint64_t *alerts_seq, uint64_t *events_seq) CD_MUST_CHECK;

/* ---- ingest keys ---------------------------------------------------------------------- */

/* Sets the key hash (64 hex digits) of system `name`, adding it or replacing its key
 * ("ingest.key"; the hash is not written into the audit trail). CD_ERR_INVALID for a bad name
 * or hash. */
enum cd_err store_ingest_put(struct store *st, const struct store_actor *actor, const char *name,
			     const char *key_hash) CD_MUST_CHECK;
/* The key hash of an enabled system. CD_ERR_NOTFOUND when unknown or disabled. */
enum cd_err store_ingest_get(struct store *st, const char *name, char key_hash[STORE_HASH_HEX]) CD_MUST_CHECK;

#endif
