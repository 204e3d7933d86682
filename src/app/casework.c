/* Recording workflow steps on stored cases; see casework.h. */
#include "app/casework.h"
#include "app/events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/intake.h"
#include "core/calendar.h"
#include "util/alloc.h"
#include "util/log.h"

struct workflow_case casework_facts(const struct store_case *c)
{
	struct workflow_case f;
	memset(&f, 0, sizeof f);
	if (workflow_state_parse(c->status, &f.state))
		f.state = WF_STATE_NONE;
	if (!c->suspended_from[0] || workflow_state_parse(c->suspended_from, &f.prior))
		f.prior = WF_STATE_NONE;
	if (!c->level[0] || workflow_level_parse(c->level, &f.level))
		f.level = WF_LEVEL_COMMUNITY;
	f.extension_pending = c->extension_pending != 0;
	f.supervised = c->supervised != 0;
	return f;
}

/* A counter delta keyed on the case's unit, street and category at time `at`. */
static struct store_stats_delta delta_for(const struct store_case *c, int64_t at)
{
	struct store_stats_delta d;
	memset(&d, 0, sizeof d);
	d.at = at;
	snprintf(d.unit_code, sizeof d.unit_code, "%s", c->unit_code);
	snprintf(d.street_code, sizeof d.street_code, "%s", c->street_code);
	snprintf(d.category_code, sizeof d.category_code, "%s", c->category_code);
	return d;
}

/* Finds when the case was last suspended, from its history. */
struct last_suspend {
	int64_t at;
};

static int note_suspend(void *ctx, const struct store_case_event *ev)
{
	struct last_suspend *ls = ctx;
	if (strcmp(ev->action, "suspend") == 0)
		ls->at = ev->at;
	return 0;
}

/* Moves the deadline of a resumed case by the working (or plain) time it spent suspended. */
static void resume_clock(struct app *app, struct store_case *c, int64_t now)
{
	struct last_suspend ls = {0};
	if (store_case_events(app->st, c->id, note_suspend, &ls) || !ls.at || !c->deadline)
		return;
	struct cal_limit lim = {CAL_HOURS, 0};
	int64_t remaining = 0, deadline, warn;
	if (strcmp(c->limit_kind, "hours") == 0) {
		remaining = c->deadline > ls.at ? c->deadline - ls.at : 0;
	} else {
		lim.kind = CAL_WORKING_HOURS;
		if (c->deadline > ls.at && cal_working_seconds_between(app->cal, ls.at, c->deadline, &remaining))
			return;
	}
	lim.amount = (int32_t)(remaining / 60);
	if (intake_deadline(app, now, lim, &deadline, &warn) == CD_OK) {
		c->deadline = deadline;
		c->warn_at = warn > now ? warn : now;
		c->warned = c->warn_at <= now && c->warned;
		c->overdue = 0;
	}
}

/* Gives a reopened case a fresh limit from `now` (the step's moment). */
static void restart_clock(struct app *app, struct store_case *c, int64_t now)
{
	struct cal_limit lim;
	char urgency[16];
	intake_category_limit(app, c->category_code, &lim, urgency);
	if (intake_deadline(app, now, lim, &c->deadline, &c->warn_at) == CD_OK) {
		c->warned = 0;
		c->overdue = 0;
	}
}

/* The event of a step: who, what, from and to, the text shown and the parameters as JSON. */
static void step_event(const struct casework_actor *who, const struct casework_action *a,
		       const struct store_case *before, const struct store_case *after, int64_t at,
		       struct store_case_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->at = at;
	snprintf(ev->actor, sizeof ev->actor, "%s", who->username);
	snprintf(ev->role, sizeof ev->role, "%s", auth_role_name(who->role));
	snprintf(ev->action, sizeof ev->action, "%s", workflow_action_name(a->action));
	snprintf(ev->from_status, sizeof ev->from_status, "%s", before->status);
	snprintf(ev->to_status, sizeof ev->to_status, "%s", after->status);
	const char *text = a->comment ? a->comment : a->reason ? a->reason : a->result ? a->result : "";
	snprintf(ev->comment, sizeof ev->comment, "%s", text);
	json_t *data = json_object();
	if (a->reason)
		json_object_set_new(data, "reason", json_string(a->reason));
	if (a->result)
		json_object_set_new(data, "result", json_string(a->result));
	if (a->action == WF_ACTION_VERIFY)
		json_object_set_new(data, "passed", json_boolean(a->passed));
	if (a->working_days)
		json_object_set_new(data, "working_days", json_integer(a->working_days));
	if (strcmp(before->unit_code, after->unit_code) != 0)
		json_object_set_new(data, "unit", json_string(after->unit_code));
	if (a->attachments)
		json_object_set_new(data, "attachments", json_loads(a->attachments, 0, NULL));
	char *data_text = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	snprintf(ev->data, sizeof ev->data, "%s", data_text ? data_text : "{}");
	xfree(data_text);
}

enum cd_err casework_prepare(struct app *app, const struct casework_actor *who, const struct store_case *c,
			     const struct casework_action *a, struct casework_change *out, uint32_t *allowed,
			     const char **why, struct json_problem *p)
{
	/* Every stamp, comparison and new limit below is taken at `now`: the wall clock for a step
	 * taken now, the step's own moment for history. */
	int64_t now = a->at ? a->at : (int64_t)time(NULL);
	struct workflow_case facts = casework_facts(c);
	struct workflow_step step;
	bool negative = workflow_outcome_negative(a->action, a->passed, a->satisfaction, a->approved);
	*allowed = 0;
	*why = NULL;
	enum cd_err rc = workflow_decide(&facts, who->role, a->action, negative, &step, why);
	if (rc == CD_ERR_DENIED || rc == CD_ERR_CONFLICT) {
		*allowed = workflow_allowed(&facts, who->role);
		return CD_ERR_CONFLICT;
	}
	if (rc)
		return rc;

	const struct store_case *before = c;
	struct store_case *after = &out->after;
	struct store_stats_delta *deltas = out->deltas;
	size_t nd = 0;
	*after = *c;
	out->master_id = 0;
	out->master_step = 0;
	snprintf(after->status, sizeof after->status, "%s", workflow_state_name(step.after.state));
	snprintf(after->suspended_from, sizeof after->suspended_from, "%s",
		 step.after.prior ? workflow_state_name(step.after.prior) : "");
	snprintf(after->level, sizeof after->level, "%s", workflow_level_name(step.after.level));
	after->extension_pending = step.after.extension_pending;
	after->supervised = step.after.supervised;

	switch (a->action) {
	case WF_ACTION_REGISTER:
		after->registered_at = now;
		if (a->category && strcmp(a->category, after->category_code) != 0) {
			/* The dispatcher's correction: a label for the next training, a new route and limit. */
			snprintf(after->category_code, sizeof after->category_code, "%s", a->category);
			snprintf(after->category_source, sizeof after->category_source, "dispatcher");
			after->category_confidence = 1.0;
			intake_route(app, after->category_code, after->community_code, after->street_code,
				     after->unit_code);
			struct cal_limit lim;
			intake_category_limit(app, after->category_code, &lim, after->urgency);
			snprintf(after->limit_kind, sizeof after->limit_kind, "%s", cal_kind_name(lim.kind));
			after->limit_value = lim.kind == CAL_WORKING_DAYS ? lim.amount : lim.amount / 60.0;
			if (intake_deadline(app, after->reported_at, lim, &after->deadline, &after->warn_at)) {
				json_problem_set(p, 422, "invalid_field", "category", "no deadline for this category");
				return CD_ERR_INVALID;
			}
		}
		break;
	case WF_ACTION_HANDLE:
		after->handled_at = now;
		break;
	default:
		break;
	}
	if (step.effects & WF_EFFECT_SET_UNIT) {
		if (a->unit)
			snprintf(after->unit_code, sizeof after->unit_code, "%s", a->unit);
		else if (!after->unit_code[0])
			intake_route(app, after->category_code, after->community_code, after->street_code,
				     after->unit_code);
		if (!after->unit_code[0]) {
			json_problem_set(p, 422, "missing_field", "unit",
					 "no unit is responsible for this category here; name one in \"unit\"");
			return CD_ERR_INVALID;
		}
		if (a->action == WF_ACTION_DISPATCH)
			after->dispatched_at = now;
	}
	if (step.effects & WF_EFFECT_CLEAR_UNIT)
		after->unit_code[0] = '\0';
	if (step.effects & WF_EFFECT_RESPONSE && !after->first_response_at) {
		after->first_response_at = now;
		struct store_stats_delta d = delta_for(after, now);
		d.responded = 1;
		d.responded_on_time = !after->deadline || now <= after->deadline;
		deltas[nd++] = d;
	}
	if (step.effects & WF_EFFECT_CLOSURE) {
		after->closed_at = now;
		struct store_stats_delta d = delta_for(after, now);
		d.closed = 1;
		d.closed_on_time = !after->deadline || now <= after->deadline;
		d.handling_seconds_sum = now - after->reported_at;
		deltas[nd++] = d;
	}
	if (step.effects & WF_EFFECT_REOPEN) {
		if (before->closed_at) {
			/* Undo the closure's counts on the day it was counted. */
			struct store_stats_delta d = delta_for(before, before->closed_at);
			d.closed = -1;
			d.closed_on_time = -(!before->deadline || before->closed_at <= before->deadline);
			d.handling_seconds_sum = -(before->closed_at - before->reported_at);
			deltas[nd++] = d;
		}
		after->closed_at = 0;
		restart_clock(app, after, now);
	}
	if (step.effects & WF_EFFECT_RATING) {
		snprintf(after->satisfaction, sizeof after->satisfaction, "%s",
			 workflow_satisfaction_name(a->satisfaction));
		struct store_stats_delta d = delta_for(after, now);
		d.rated = 1;
		d.satisfied = a->satisfaction == WF_SAT_SATISFIED;
		d.basically_satisfied = a->satisfaction == WF_SAT_BASICALLY_SATISFIED;
		d.dissatisfied = a->satisfaction == WF_SAT_DISSATISFIED;
		deltas[nd++] = d;
	}
	if (step.effects & WF_EFFECT_REWORK) {
		after->rework_count++;
		struct store_stats_delta d = delta_for(after, now);
		d.rework = 1;
		if (nd < sizeof out->deltas / sizeof out->deltas[0])
			deltas[nd++] = d;
	}
	if (step.effects & WF_EFFECT_EXTEND && a->working_days > 0) {
		struct cal_limit ext = {CAL_WORKING_DAYS, a->working_days};
		int64_t moved;
		if (cal_extend(app->cal, after->deadline ? after->deadline : now, ext, &moved) == CD_OK) {
			after->deadline = moved;
			if (cal_fraction_moment(app->cal, after->reported_at, moved,
						strcmp(after->limit_kind, "hours") == 0 ? CAL_HOURS : CAL_WORKING_HOURS, 0.8,
						&after->warn_at))
				after->warn_at = moved;
			after->warned = after->warn_at <= now;
			after->overdue = 0;
		}
	}
	if (step.effects & WF_EFFECT_RESUME_CLOCK)
		resume_clock(app, after, now);
	if (step.effects & WF_EFFECT_SET_MASTER) {
		after->merged_into = a->into_id;
		out->master_id = a->into_id;
		out->master_step = 1;
	}
	if (step.effects & WF_EFFECT_CLEAR_MASTER) {
		after->merged_into = 0;
		out->master_id = before->merged_into;
		out->master_step = -1;
	}
	out->ndeltas = nd;
	step_event(who, a, before, after, now, &out->ev);
	return CD_OK;
}

enum cd_err casework_apply(struct app *app, const struct casework_actor *who, struct store_case *c,
			   const struct casework_action *a, uint32_t *allowed, const char **why,
			   struct json_problem *p)
{
	struct casework_change *ch = xmalloc(sizeof *ch);
	enum cd_err rc = casework_prepare(app, who, c, a, ch, allowed, why, p);
	if (!rc) {
		rc = store_case_apply(app->st, &who->store_actor, c->id, c->version, &ch->after, &ch->ev,
				      ch->deltas, ch->ndeltas);
		if (rc == CD_ERR_CONFLICT)
			*why = "the case changed meanwhile; read it again and retry";
	}
	if (rc) {
		xfree(ch);
		return rc;
	}
	*c = ch->after;
	events_case(app->events, events_action_type(a->action), c);

	/* The master's support count follows its merged cases (a second, separate write). */
	struct store_case master;
	if (ch->master_id && store_case_get_by_id(app->st, ch->master_id, &master) == CD_OK) {
		int64_t v = master.version;
		int count = master.support_count > 0 ? master.support_count : 1;
		master.support_count = ch->master_step > 0 ? count + 1 : (count > 1 ? count - 1 : 1);
		if (store_case_apply(app->st, &who->store_actor, master.id, v, &master, NULL, NULL, 0))
			log_warn("support count not updated", "\"case\":\"%s\"", master.ref);
	}
	xfree(ch);
	return CD_OK;
}

struct due_list {
	int64_t ids[256];
	int warn[256], overdue[256];
	size_t n;
};

static int collect_due(void *ctx, int64_t case_id, const char *ref, int due_warn, int due_overdue)
{
	(void)ref;
	struct due_list *d = ctx;
	if (d->n >= sizeof d->ids / sizeof d->ids[0])
		return 1;
	d->ids[d->n] = case_id;
	d->warn[d->n] = due_warn;
	d->overdue[d->n] = due_overdue;
	d->n++;
	return 0;
}

size_t casework_mark_due(struct app *app, int64_t now)
{
	struct due_list due;
	struct store_actor system = {"system", ""};
	size_t marked = 0;
	due.n = 0;
	if (store_cases_due(app->st, now, 256, collect_due, &due))
		return 0;
	for (size_t i = 0; i < due.n; i++) {
		struct store_case c;
		if (store_case_get_by_id(app->st, due.ids[i], &c))
			continue;
		struct store_case after = c;
		struct store_case_event ev;
		memset(&ev, 0, sizeof ev);
		ev.at = now;
		snprintf(ev.actor, sizeof ev.actor, "system");
		snprintf(ev.role, sizeof ev.role, "system");
		snprintf(ev.from_status, sizeof ev.from_status, "%s", c.status);
		snprintf(ev.to_status, sizeof ev.to_status, "%s", c.status);
		if (due.overdue[i]) {
			after.overdue = 1;
			after.warned = 1;
			snprintf(ev.action, sizeof ev.action, "overdue");
			snprintf(ev.comment, sizeof ev.comment, "已超期 (overdue; unit %s)", c.unit_code);
		} else {
			after.warned = 1;
			snprintf(ev.action, sizeof ev.action, "warn");
			snprintf(ev.comment, sizeof ev.comment, "已用时限 80%% (80%% of the limit used; unit %s)",
				 c.unit_code);
		}
		if (store_case_apply(app->st, &system, c.id, c.version, &after, &ev, NULL, 0) == CD_OK) {
			marked++;
			events_case(app->events, due.overdue[i] ? "case.overdue" : "case.warned", &after);
		}
	}
	return marked;
}
