/* Acting on a stored case: turns an allowed workflow step into the new case row, its event and
 * the score counters, and writes them in one transaction. The HTTP layer checks scope and
 * parameters; core/workflow decides; this file records. */
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
};

/* Who acts. */
struct casework_actor {
	const char *username;
	enum auth_role role;
	struct store_actor store_actor;
};

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
