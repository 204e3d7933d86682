/* Acting on a stored case: turns an allowed workflow step into the new case row, its event and
 * the score counters, and writes them in one transaction (or hands them to a caller that
 * writes many steps at once: casework_prepare). The HTTP layer checks scope and parameters;
 * core/workflow decides; this file records. */
#ifndef CD_CASEWORK_H
#define CD_CASEWORK_H

#include <stdbool.h>

#include "app/app.h"
#include "core/workflow.h"
#include "store/store.h"
#include "util/json.h"

/* An action with its checked parameters. */
struct casework_action {
	enum workflow_action action;
	const char *comment;      /* or NULL */
	const char *reason;       /* reject, return, suspend, reopen, extensions */
	const char *result;       /* handle */
	bool passed;              /* verify */
	enum workflow_satisfaction satisfaction; /* rate */
	bool approved;            /* extend_approve (default true) */
	const char *unit;         /* dispatch, reassign: a known unit code, or NULL to route */
	const char *category;     /* register: a corrected category code, or NULL */
	int working_days;         /* extension asked or granted, 0 when absent */
	int64_t into_id;          /* merge: the master case */
	const char *attachments;  /* JSON array text of file ids, or NULL */
	int64_t at;               /* when the step happened (Unix seconds), 0 = now: a moment in
				   * the past records history (the demo, imports) with every stamp,
				   * on-time comparison, new deadline and score day taken at `at` */
};

/* Who acts. */
struct casework_actor {
	const char *username;
	enum auth_role role;
	struct store_actor store_actor;
};

/* A decided step, ready to be stored: what casework_apply writes with store_case_apply. */
struct casework_change {
	struct store_case after;             /* the new row (version not yet raised) */
	struct store_case_event ev;          /* its event, at a->at (or now) */
	struct store_stats_delta deltas[4];  /* score counters: response, closure, reopen, rating,
					      * rework (at most four apply to one step) */
	size_t ndeltas;
	int64_t master_id;                   /* merge / unmerge: the master whose support count
					      * follows (a second write), else 0 */
	int master_step;                     /* +1 (merged into it) or -1 (no longer follows it) */
};

/* Decides `a` on case *c (as read) and builds the change without writing anything: the same
 * decision, row, event and deltas as casework_apply, for a caller that stores many steps in
 * one transaction (store_case_apply_steps; the demo's history). Errors as casework_apply's
 * (CD_ERR_CONFLICT with *why / *allowed when the workflow refuses; CD_ERR_INVALID with *p).
 * A resume reads the case's last suspension from the store, so a batch must not hold both a
 * suspend and the resume that follows it. Deadline marks (warned, overdue) are left as in *c
 * except where the step restarts the clock (reopen, extension, resume). Unlike casework_apply
 * it publishes no event (events_case) and leaves a merge's master to the caller (master_id). */
enum cd_err casework_prepare(struct app *app, const struct casework_actor *who, const struct store_case *c,
			     const struct casework_action *a, struct casework_change *out, uint32_t *allowed,
			     const char **why, struct json_problem *p) CD_MUST_CHECK;

/* Applies `a` to case *c (as read, with its version). On success *c is the stored new row.
 * CD_ERR_CONFLICT with *why when the workflow refuses it (and *allowed holds the actions the
 * role may take, WF_ACTION_BIT set) or when the case changed meanwhile (*allowed = 0);
 * CD_ERR_INVALID with *p for a bad parameter value. */
enum cd_err casework_apply(struct app *app, const struct casework_actor *who, struct store_case *c,
			   const struct casework_action *a, uint32_t *allowed, const char **why,
			   struct json_problem *p) CD_MUST_CHECK;

/* The workflow facts of a stored case. */
struct workflow_case casework_facts(const struct store_case *c);

/* Marks cases whose warning point or deadline passed (yellow / red), as events by "system".
 * Returns how many cases were marked. Called once a second by the server. */
size_t casework_mark_due(struct app *app, int64_t now);

#endif
