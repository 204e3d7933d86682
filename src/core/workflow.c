/* The case workflow: names, the per-action table (roles, parameters) and the transition table
 * (from-states, outcome, to-state, effects, guards). Everything is decided by looking rows up;
 * see workflow.h and docs/internals/workflow.md. */
#include "core/workflow.h"

#include <string.h>

/* ---- names ------------------------------------------------------------------------------ */

struct name_label {
	const char *name;     /* wire name, snake_case */
	const char *label_zh; /* console label */
};

static const struct name_label states[WF_STATE_COUNT] = {
	[WF_STATE_NONE] = {"none", "无"},
	[WF_STATE_REPORTED] = {"reported", "已上报"},
	[WF_STATE_REGISTERED] = {"registered", "已立案"},
	[WF_STATE_REJECTED] = {"rejected", "不予立案"},
	[WF_STATE_DISPATCHED] = {"dispatched", "已派遣"},
	[WF_STATE_ACCEPTED] = {"accepted", "已签收"},
	[WF_STATE_HANDLED] = {"handled", "已处置"},
	[WF_STATE_VERIFIED] = {"verified", "已核查"},
	[WF_STATE_CLOSED] = {"closed", "已结案"},
	[WF_STATE_RATED] = {"rated", "已评价"},
	[WF_STATE_SUSPENDED] = {"suspended", "已挂起"},
	[WF_STATE_MERGED] = {"merged", "已合并"},
};

static const struct name_label levels[WF_LEVEL_COUNT] = {
	[WF_LEVEL_COMMUNITY] = {"community", "社区"},
	[WF_LEVEL_STREET] = {"street", "街道"},
	[WF_LEVEL_DISTRICT] = {"district", "区"},
};

static const struct name_label satisfactions[WF_SAT_COUNT] = {
	[WF_SAT_NONE] = {"none", "未评价"},
	[WF_SAT_SATISFIED] = {"satisfied", "满意"},
	[WF_SAT_BASICALLY_SATISFIED] = {"basically_satisfied", "基本满意"},
	[WF_SAT_DISSATISFIED] = {"dissatisfied", "不满意"},
};

static const char *const params[WF_PARAM_COUNT] = {
	[WF_PARAM_REASON] = "reason",
	[WF_PARAM_RESULT] = "result",
	[WF_PARAM_PASSED] = "passed",
	[WF_PARAM_SATISFACTION] = "satisfaction",
	[WF_PARAM_INTO] = "into",
	[WF_PARAM_UNIT] = "unit",
	[WF_PARAM_WORKING_DAYS] = "working_days",
	[WF_PARAM_APPROVED] = "approved",
	[WF_PARAM_CATEGORY] = "category",
	[WF_PARAM_COMMENT] = "comment",
	[WF_PARAM_ATTACHMENTS] = "attachments",
};

/* ---- the action table ------------------------------------------------------------------- */

#define R(role) (UINT32_C(1) << ROLE_##role)
#define P(param) WF_PARAM_BIT(WF_PARAM_##param)

/* Role groups. Admins are in every action's set: "Admins may take any action", in any state
 * where the transition table has a row for it. Auditors are in none. */
#define DISPATCHERS (R(ADMIN) | R(DISTRICT_DISPATCHER) | R(STREET_DISPATCHER))
#define UNIT (R(ADMIN) | R(UNIT_STAFF))
#define EVERY_ACTION_TAKES (P(COMMENT) | P(ATTACHMENTS))

struct action_spec {
	const char *name;     /* wire name */
	const char *label_zh; /* button label */
	uint32_t roles;       /* bit per enum auth_role that may take it at all */
	uint32_t required;    /* parameters that must be present */
	uint32_t optional;    /* parameters that may be present (plus EVERY_ACTION_TAKES) */
};

static const struct action_spec actions[WF_ACTION_COUNT] = {
	/* System registers and dispatches what the intake pipeline routed with confidence. */
	[WF_ACTION_REGISTER] = {"register", "立案", DISPATCHERS | R(SYSTEM), 0, P(CATEGORY)},
	[WF_ACTION_REJECT] = {"reject", "不予立案", DISPATCHERS, P(REASON), 0},
	[WF_ACTION_DISPATCH] = {"dispatch", "派遣", DISPATCHERS | R(SYSTEM), 0, P(UNIT)},
	[WF_ACTION_ACCEPT] = {"accept", "签收", UNIT, 0, 0},
	[WF_ACTION_RETURN] = {"return", "退回", UNIT, P(REASON), 0},
	[WF_ACTION_HANDLE] = {"handle", "处置", UNIT, P(RESULT), 0},
	/* Verification is done on the spot by the grid worker, or by a dispatcher from photos. */
	[WF_ACTION_VERIFY] = {"verify", "核查", DISPATCHERS | R(GRID_WORKER), P(PASSED), 0},
	[WF_ACTION_CLOSE] = {"close", "结案", DISPATCHERS, 0, 0},
	/* The reporter rates; the district centre also records ratings taken by phone (回访). */
	[WF_ACTION_RATE] = {"rate", "评价", R(ADMIN) | R(CITIZEN) | R(DISTRICT_DISPATCHER), P(SATISFACTION), 0},
	[WF_ACTION_REOPEN] = {"reopen", "重新办理", DISPATCHERS, P(REASON), 0},
	[WF_ACTION_EXTEND_REQUEST] = {"extend_request", "申请延期", UNIT, P(WORKING_DAYS) | P(REASON), 0},
	[WF_ACTION_EXTEND_APPROVE] = {"extend_approve", "审批延期", DISPATCHERS, 0,
				      P(APPROVED) | P(WORKING_DAYS) | P(REASON)},
	[WF_ACTION_SUSPEND] = {"suspend", "挂起", DISPATCHERS, P(REASON), 0},
	[WF_ACTION_RESUME] = {"resume", "恢复", DISPATCHERS, 0, 0},
	/* The scheduler may order 督办 and escalate on its own when a case turns red. */
	[WF_ACTION_SUPERVISE] = {"supervise", "督办", DISPATCHERS | R(SYSTEM), 0, P(REASON)},
	[WF_ACTION_ESCALATE] = {"escalate", "升级", DISPATCHERS | R(SYSTEM), 0, P(REASON)},
	[WF_ACTION_MERGE] = {"merge", "合并", DISPATCHERS, P(INTO), 0},
	[WF_ACTION_REASSIGN] = {"reassign", "改派", DISPATCHERS, P(UNIT), P(REASON)},
	[WF_ACTION_UNMERGE] = {"unmerge", "取消合并", R(ADMIN), 0, P(REASON)},
};

/* ---- the transition table --------------------------------------------------------------- */

#define S(state) (UINT32_C(1) << WF_STATE_##state)

/* States where work is under way: supervision and escalation make sense there. */
#define ACTIVE (S(REGISTERED) | S(DISPATCHED) | S(ACCEPTED) | S(HANDLED) | S(VERIFIED) | S(SUSPENDED))
/* States suspend may leave from, hence the only states resume may go back to. */
#define SUSPENDABLE (S(REGISTERED) | S(DISPATCHED) | S(ACCEPTED))
/* States merge may leave from, hence the only states unmerge may go back to. */
#define MERGEABLE (S(REPORTED) | S(REGISTERED) | S(DISPATCHED) | S(ACCEPTED))
/* States a unit holds the case in: a pending extension request may be decided there. */
#define WITH_UNIT (S(DISPATCHED) | S(ACCEPTED) | S(HANDLED) | S(VERIFIED) | S(SUSPENDED))

enum outcome { ANY, POSITIVE, NEGATIVE };

/* Conditions on the case's facts beyond its state. */
enum guard {
	G_NONE,
	G_NOT_PENDING,      /* no extension request is waiting */
	G_PENDING,          /* an extension request is waiting */
	G_BELOW_TOP,        /* the level can still go up */
	G_PRIOR_SUSPENDABLE, /* `prior` is a state suspend leaves from */
	G_PRIOR_MERGEABLE,  /* `prior` is a state merge leaves from */
};

/* Targets beside real states. */
#define TO_SAME (-1)  /* the state does not change */
#define TO_PRIOR (-2) /* back to the saved `prior` state, which is cleared */

/* Internal effect: remember the current state in `prior`. Above the public bits. */
#define F_SAVE_PRIOR (1u << 24)

struct transition {
	enum workflow_action action;
	enum outcome outcome; /* which outcome this row is for */
	uint32_t from;        /* states (S bits) the action may be taken in */
	int to;               /* enum workflow_state, TO_SAME or TO_PRIOR */
	uint32_t effects;     /* WF_EFFECT_* bits, plus F_SAVE_PRIOR */
	enum guard guard;     /* extra condition on the facts */
};

static const struct transition transitions[] = {
	{WF_ACTION_REGISTER, ANY, S(REPORTED), WF_STATE_REGISTERED, 0, G_NONE},
	{WF_ACTION_REJECT, ANY, S(REPORTED), WF_STATE_REJECTED, WF_EFFECT_REJECTION, G_NONE},
	{WF_ACTION_DISPATCH, ANY, S(REGISTERED), WF_STATE_DISPATCHED, WF_EFFECT_SET_UNIT, G_NONE},
	{WF_ACTION_ACCEPT, ANY, S(DISPATCHED), WF_STATE_ACCEPTED, WF_EFFECT_RESPONSE, G_NONE},
	/* Wrong unit: back to the dispatcher, who re-routes it. */
	{WF_ACTION_RETURN, ANY, S(DISPATCHED) | S(ACCEPTED), WF_STATE_REGISTERED, WF_EFFECT_CLEAR_UNIT, G_NONE},
	/* Handling straight from dispatched signs for it implicitly (签收并处置). */
	{WF_ACTION_HANDLE, ANY, S(DISPATCHED) | S(ACCEPTED), WF_STATE_HANDLED, WF_EFFECT_RESPONSE, G_NONE},
	{WF_ACTION_VERIFY, POSITIVE, S(HANDLED), WF_STATE_VERIFIED, 0, G_NONE},
	/* Failed verification: the unit still holds the case and must handle it again. */
	{WF_ACTION_VERIFY, NEGATIVE, S(HANDLED), WF_STATE_ACCEPTED, WF_EFFECT_REWORK, G_NONE},
	/* From registered: answered at the desk (直接办结), e.g. a hotline question. */
	{WF_ACTION_CLOSE, ANY, S(REGISTERED) | S(VERIFIED), WF_STATE_CLOSED, WF_EFFECT_CLOSURE, G_NONE},
	{WF_ACTION_RATE, POSITIVE, S(CLOSED), WF_STATE_RATED, WF_EFFECT_RATING, G_NONE},
	/* Dissatisfied: back to the same unit as a new dispatch. */
	{WF_ACTION_RATE, NEGATIVE, S(CLOSED), WF_STATE_DISPATCHED,
	 WF_EFFECT_RATING | WF_EFFECT_REOPEN | WF_EFFECT_REWORK, G_NONE},
	{WF_ACTION_REOPEN, ANY, S(CLOSED) | S(RATED), WF_STATE_DISPATCHED, WF_EFFECT_REOPEN | WF_EFFECT_REWORK,
	 G_NONE},
	/* A rejection reconsidered: nothing was handled, so no rework. */
	{WF_ACTION_REOPEN, ANY, S(REJECTED), WF_STATE_REPORTED, WF_EFFECT_REOPEN, G_NONE},
	{WF_ACTION_EXTEND_REQUEST, ANY, S(DISPATCHED) | S(ACCEPTED), TO_SAME, 0, G_NOT_PENDING},
	{WF_ACTION_EXTEND_APPROVE, POSITIVE, WITH_UNIT, TO_SAME, WF_EFFECT_EXTEND, G_PENDING},
	{WF_ACTION_EXTEND_APPROVE, NEGATIVE, WITH_UNIT, TO_SAME, 0, G_PENDING},
	{WF_ACTION_SUSPEND, ANY, SUSPENDABLE, WF_STATE_SUSPENDED, WF_EFFECT_PAUSE_CLOCK | F_SAVE_PRIOR, G_NONE},
	{WF_ACTION_RESUME, ANY, S(SUSPENDED), TO_PRIOR, WF_EFFECT_RESUME_CLOCK, G_PRIOR_SUSPENDABLE},
	{WF_ACTION_SUPERVISE, ANY, ACTIVE, TO_SAME, WF_EFFECT_NOTIFY_UP, G_NONE},
	/* A community that cannot deal with a report may pass it up before registering it. */
	{WF_ACTION_ESCALATE, ANY, ACTIVE | S(REPORTED), TO_SAME, WF_EFFECT_NOTIFY_UP, G_BELOW_TOP},
	{WF_ACTION_MERGE, ANY, MERGEABLE, WF_STATE_MERGED, WF_EFFECT_SET_MASTER | F_SAVE_PRIOR, G_NONE},
	{WF_ACTION_REASSIGN, ANY, S(DISPATCHED) | S(ACCEPTED), WF_STATE_DISPATCHED, WF_EFFECT_SET_UNIT, G_NONE},
	{WF_ACTION_UNMERGE, ANY, S(MERGED), TO_PRIOR, WF_EFFECT_CLEAR_MASTER, G_PRIOR_MERGEABLE},
};

#define N_TRANSITIONS (sizeof transitions / sizeof transitions[0])

/* ---- names API -------------------------------------------------------------------------- */

const char *workflow_state_name(enum workflow_state s)
{
	return (unsigned)s < WF_STATE_COUNT ? states[s].name : "unknown";
}

const char *workflow_state_label_zh(enum workflow_state s)
{
	return (unsigned)s < WF_STATE_COUNT ? states[s].label_zh : "未知";
}

const char *workflow_action_name(enum workflow_action a)
{
	return (unsigned)a < WF_ACTION_COUNT ? actions[a].name : "unknown";
}

const char *workflow_action_label_zh(enum workflow_action a)
{
	return (unsigned)a < WF_ACTION_COUNT ? actions[a].label_zh : "未知";
}

const char *workflow_level_name(enum workflow_level l)
{
	return (unsigned)l < WF_LEVEL_COUNT ? levels[l].name : "unknown";
}

const char *workflow_level_label_zh(enum workflow_level l)
{
	return (unsigned)l < WF_LEVEL_COUNT ? levels[l].label_zh : "未知";
}

const char *workflow_satisfaction_name(enum workflow_satisfaction s)
{
	return (unsigned)s < WF_SAT_COUNT ? satisfactions[s].name : "unknown";
}

const char *workflow_satisfaction_label_zh(enum workflow_satisfaction s)
{
	return (unsigned)s < WF_SAT_COUNT ? satisfactions[s].label_zh : "未知";
}

const char *workflow_param_name(enum workflow_param p)
{
	return (unsigned)p < WF_PARAM_COUNT ? params[p] : "unknown";
}

/* Index of `name` in a name_label table from `first`, or -1. */
static int find_name(const struct name_label *t, int first, int n, const char *name)
{
	if (!name)
		return -1;
	for (int i = first; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return i;
	return -1;
}

enum cd_err workflow_state_parse(const char *name, enum workflow_state *out)
{
	int i = find_name(states, WF_STATE_NONE + 1, WF_STATE_COUNT, name);
	if (i < 0)
		return CD_ERR_INVALID;
	*out = (enum workflow_state)i;
	return CD_OK;
}

enum cd_err workflow_level_parse(const char *name, enum workflow_level *out)
{
	int i = find_name(levels, 0, WF_LEVEL_COUNT, name);
	if (i < 0)
		return CD_ERR_INVALID;
	*out = (enum workflow_level)i;
	return CD_OK;
}

enum cd_err workflow_satisfaction_parse(const char *name, enum workflow_satisfaction *out)
{
	int i = find_name(satisfactions, WF_SAT_NONE + 1, WF_SAT_COUNT, name);
	if (i < 0)
		return CD_ERR_INVALID;
	*out = (enum workflow_satisfaction)i;
	return CD_OK;
}

enum cd_err workflow_action_parse(const char *name, enum workflow_action *out)
{
	for (int i = 0; name && i < WF_ACTION_COUNT; i++) {
		if (strcmp(actions[i].name, name) == 0) {
			*out = (enum workflow_action)i;
			return CD_OK;
		}
	}
	return CD_ERR_INVALID;
}

enum cd_err workflow_param_parse(const char *name, enum workflow_param *out)
{
	for (int i = 0; name && i < WF_PARAM_COUNT; i++) {
		if (strcmp(params[i], name) == 0) {
			*out = (enum workflow_param)i;
			return CD_OK;
		}
	}
	return CD_ERR_INVALID;
}

/* ---- states ----------------------------------------------------------------------------- */

#define FINAL (S(REJECTED) | S(CLOSED) | S(RATED) | S(MERGED))

bool workflow_state_is_final(enum workflow_state s)
{
	return (unsigned)s < WF_STATE_COUNT && (FINAL & (UINT32_C(1) << s));
}

bool workflow_state_clock_runs(enum workflow_state s)
{
	return s != WF_STATE_NONE && (unsigned)s < WF_STATE_COUNT && !workflow_state_is_final(s) &&
	       s != WF_STATE_SUSPENDED;
}

/* ---- actions and parameters ------------------------------------------------------------- */

uint32_t workflow_action_roles(enum workflow_action a)
{
	return (unsigned)a < WF_ACTION_COUNT ? actions[a].roles : 0;
}

void workflow_action_params(enum workflow_action a, uint32_t *required, uint32_t *optional)
{
	bool ok = (unsigned)a < WF_ACTION_COUNT;
	*required = ok ? actions[a].required : 0;
	*optional = ok ? actions[a].optional | EVERY_ACTION_TAKES : 0;
}

enum cd_err workflow_params_check(enum workflow_action a, uint32_t present, enum workflow_param *field)
{
	uint32_t required, optional;
	if ((unsigned)a >= WF_ACTION_COUNT)
		return CD_ERR_INVALID;
	workflow_action_params(a, &required, &optional);
	uint32_t missing = required & ~present;
	uint32_t unknown = present & ~(required | optional);
	uint32_t bad = missing ? missing : unknown;
	if (!bad)
		return CD_OK;
	for (int p = 0; p < WF_PARAM_COUNT; p++) {
		if (bad & WF_PARAM_BIT(p)) {
			*field = (enum workflow_param)p;
			break;
		}
	}
	return CD_ERR_INVALID;
}

bool workflow_outcome_negative(enum workflow_action a, bool passed, enum workflow_satisfaction sat,
			       bool approved)
{
	switch (a) {
	case WF_ACTION_VERIFY:
		return !passed;
	case WF_ACTION_RATE:
		return sat == WF_SAT_DISSATISFIED;
	case WF_ACTION_EXTEND_APPROVE:
		return !approved;
	default:
		return false;
	}
}

/* ---- decisions -------------------------------------------------------------------------- */

static bool guard_holds(enum guard g, const struct workflow_case *c)
{
	switch (g) {
	case G_NONE:
		return true;
	case G_NOT_PENDING:
		return !c->extension_pending;
	case G_PENDING:
		return c->extension_pending;
	case G_BELOW_TOP:
		return c->level < WF_LEVEL_DISTRICT;
	case G_PRIOR_SUSPENDABLE:
		return (unsigned)c->prior < WF_STATE_COUNT && (SUSPENDABLE & (UINT32_C(1) << c->prior));
	case G_PRIOR_MERGEABLE:
		return (unsigned)c->prior < WF_STATE_COUNT && (MERGEABLE & (UINT32_C(1) << c->prior));
	}
	return false;
}

static const char *guard_refusal(enum guard g)
{
	switch (g) {
	case G_NOT_PENDING:
		return "an extension request is already waiting for a decision";
	case G_PENDING:
		return "there is no extension request to decide";
	case G_BELOW_TOP:
		return "the case is already at district level";
	case G_PRIOR_SUSPENDABLE:
	case G_PRIOR_MERGEABLE:
		return "the state to return to is not recorded";
	case G_NONE:
		break;
	}
	return "the action is not allowed now";
}

static bool outcome_matches(enum outcome o, bool negative)
{
	return o == ANY || (o == NEGATIVE) == negative;
}

/* The row for (state, action, outcome) whose guard holds; NULL if none. *guard_failed is set
 * to the guard of a row that matched the state but not the facts, for the refusal message. */
static const struct transition *find_row(const struct workflow_case *c, enum workflow_action a, bool negative,
					 enum guard *guard_failed)
{
	uint32_t bit = UINT32_C(1) << c->state;
	*guard_failed = G_NONE;
	for (size_t i = 0; i < N_TRANSITIONS; i++) {
		const struct transition *t = &transitions[i];
		if (t->action != a || !outcome_matches(t->outcome, negative) || !(t->from & bit))
			continue;
		if (guard_holds(t->guard, c))
			return t;
		*guard_failed = t->guard;
	}
	return NULL;
}

enum cd_err workflow_decide(const struct workflow_case *c, enum auth_role role, enum workflow_action a,
			    bool negative, struct workflow_step *out, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	if (!c || (unsigned)c->state >= WF_STATE_COUNT || c->state == WF_STATE_NONE ||
	    (unsigned)c->level >= WF_LEVEL_COUNT || (unsigned)a >= WF_ACTION_COUNT || (unsigned)role >= ROLE_COUNT) {
		*why = "invalid case facts, action or role";
		return CD_ERR_INVALID;
	}
	if (!(actions[a].roles & (UINT32_C(1) << role))) {
		*why = "the caller's role may not take this action";
		return CD_ERR_DENIED;
	}
	enum guard failed;
	const struct transition *t = find_row(c, a, negative, &failed);
	if (!t) {
		*why = failed != G_NONE ? guard_refusal(failed) : "the action is not allowed in the case's state";
		return CD_ERR_CONFLICT;
	}

	struct workflow_case after = *c;
	if (t->to == TO_SAME) {
		/* facts below may still change */
	} else if (t->to == TO_PRIOR) {
		after.state = c->prior;
		after.prior = WF_STATE_NONE;
	} else {
		after.state = (enum workflow_state)t->to;
		after.prior = (t->effects & F_SAVE_PRIOR) ? c->state : WF_STATE_NONE;
	}
	switch (a) {
	case WF_ACTION_EXTEND_REQUEST:
		after.extension_pending = true;
		break;
	case WF_ACTION_EXTEND_APPROVE:
		after.extension_pending = false;
		break;
	case WF_ACTION_SUPERVISE:
		after.supervised = true;
		break;
	case WF_ACTION_ESCALATE:
		after.level = (enum workflow_level)(c->level + 1);
		break;
	default:
		break;
	}
	/* A request belongs to the unit that made it and to an open case: it lapses when the
	 * unit changes or the case reaches a final state. */
	if ((t->effects & (WF_EFFECT_SET_UNIT | WF_EFFECT_CLEAR_UNIT)) || workflow_state_is_final(after.state))
		after.extension_pending = false;

	out->after = after;
	out->effects = t->effects & ~F_SAVE_PRIOR;
	return CD_OK;
}

bool workflow_can(enum workflow_state s, enum workflow_action a, enum auth_role role, enum workflow_state *next)
{
	if ((unsigned)s >= WF_STATE_COUNT || s == WF_STATE_NONE || (unsigned)a >= WF_ACTION_COUNT ||
	    (unsigned)role >= ROLE_COUNT || !(actions[a].roles & (UINT32_C(1) << role)))
		return false;
	uint32_t bit = UINT32_C(1) << s;
	for (size_t i = 0; i < N_TRANSITIONS; i++) {
		const struct transition *t = &transitions[i];
		if (t->action != a || !(t->from & bit))
			continue;
		if (next)
			*next = t->to == TO_SAME ? s : t->to == TO_PRIOR ? WF_STATE_NONE : (enum workflow_state)t->to;
		return true;
	}
	return false;
}

uint32_t workflow_allowed(const struct workflow_case *c, enum auth_role role)
{
	uint32_t set = 0;
	struct workflow_step step;
	for (int a = 0; a < WF_ACTION_COUNT; a++) {
		for (int neg = 0; neg <= 1; neg++) {
			if (workflow_decide(c, role, (enum workflow_action)a, neg, &step, NULL) == CD_OK) {
				set |= WF_ACTION_BIT(a);
				break;
			}
		}
	}
	return set;
}

size_t workflow_action_set_names(uint32_t set, const char *names[WF_ACTION_COUNT])
{
	size_t n = 0;
	for (int a = 0; a < WF_ACTION_COUNT; a++)
		if (set & WF_ACTION_BIT(a))
			names[n++] = actions[a].name;
	return n;
}

/* ---- scope ------------------------------------------------------------------------------ */

static bool same_code(const char *a, const char *b)
{
	return a && b && a[0] && strcmp(a, b) == 0;
}

bool workflow_in_scope(enum auth_role role, const struct workflow_scope *s)
{
	switch (role) {
	case ROLE_ADMIN:
	case ROLE_DISTRICT_DISPATCHER:
	case ROLE_AUDITOR:
	case ROLE_SYSTEM:
		return true;
	case ROLE_STREET_DISPATCHER:
	case ROLE_GRID_WORKER:
		return same_code(s->caller_street, s->case_street);
	case ROLE_UNIT_STAFF:
		return same_code(s->caller_unit, s->case_unit);
	case ROLE_CITIZEN:
		return s->is_reporter;
	case ROLE_COUNT:
		break;
	}
	return false;
}

bool workflow_step_public(const char *action)
{
	static const char *const steps[] = {"report", "register", "reject", "dispatch", "accept", "handle",
					    "verify", "close",	"rate",	  "reopen",   "reassign", "merge"};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		if (strcmp(action, steps[i]) == 0)
			return true;
	return false;
}

bool workflow_comment_public(const char *action)
{
	return strcmp(action, "handle") == 0 || strcmp(action, "close") == 0 || strcmp(action, "reject") == 0;
}
