/* The case workflow as data: the states a case passes through (GB/T 30428's seven steps plus
 * return, extension, suspension, supervision, escalation, merging and reassignment), the
 * actions that move it, and who may take each action in which state. Pure: no I/O, no SQL,
 * no globals that change; the store and the API keep the facts, this module decides.
 * The table and the reasons behind it are in docs/internals/workflow.md. */
#ifndef CD_WORKFLOW_H
#define CD_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/auth.h"
#include "util/err.h"

/* Case states. WF_STATE_NONE (zero) is "no state": the value of `prior` when nothing is
 * saved, and what a zero-initialised struct holds, so a forgotten field is refused rather
 * than read as "reported". API and store spell states with workflow_state_name(). */
enum workflow_state {
	WF_STATE_NONE = 0,
	WF_STATE_REPORTED,   /* reported: 已上报, waiting for a dispatcher to register or reject */
	WF_STATE_REGISTERED, /* registered: 已立案, waiting to be dispatched */
	WF_STATE_REJECTED,   /* rejected: 不予立案 (with reason) */
	WF_STATE_DISPATCHED, /* dispatched: 已派遣 to a unit, waiting for it to accept */
	WF_STATE_ACCEPTED,   /* accepted: 已签收 by the unit, being handled */
	WF_STATE_HANDLED,    /* handled: 已处置, waiting for verification */
	WF_STATE_VERIFIED,   /* verified: 已核查 (passed), waiting for the dispatcher to close */
	WF_STATE_CLOSED,     /* closed: 已结案, waiting for the reporter's rating */
	WF_STATE_RATED,      /* rated: 已评价 (satisfied or basically satisfied) */
	WF_STATE_SUSPENDED,  /* suspended: 已挂起; `prior` says where resume goes back to */
	WF_STATE_MERGED,     /* merged: 已合并 into a master case, which it follows */
	WF_STATE_COUNT
};

/* Actions: the `action` field of POST /api/v1/cases/{id}/actions. */
enum workflow_action {
	WF_ACTION_REGISTER,       /* 立案 */
	WF_ACTION_REJECT,         /* 不予立案 */
	WF_ACTION_DISPATCH,       /* 派遣 */
	WF_ACTION_ACCEPT,         /* 签收 */
	WF_ACTION_RETURN,         /* 退回 (wrong unit) */
	WF_ACTION_HANDLE,         /* 处置 */
	WF_ACTION_VERIFY,         /* 核查 */
	WF_ACTION_CLOSE,          /* 结案 */
	WF_ACTION_RATE,           /* 评价 */
	WF_ACTION_REOPEN,         /* 重新办理 */
	WF_ACTION_EXTEND_REQUEST, /* 申请延期 */
	WF_ACTION_EXTEND_APPROVE, /* 审批延期 */
	WF_ACTION_SUSPEND,        /* 挂起 */
	WF_ACTION_RESUME,         /* 恢复 */
	WF_ACTION_SUPERVISE,      /* 督办 */
	WF_ACTION_ESCALATE,       /* 升级 */
	WF_ACTION_MERGE,          /* 合并 */
	WF_ACTION_REASSIGN,       /* 改派 */
	WF_ACTION_UNMERGE,        /* 取消合并 (admin only; not in the list, see the doc) */
	WF_ACTION_COUNT
};

/* A set of actions, one bit each (WF_ACTION_BIT(a)). */
#define WF_ACTION_BIT(a) (UINT32_C(1) << (unsigned)(a))

/* The level a case is handled at (1+10+N): escalate moves it up one. An attribute, not a state. */
enum workflow_level {
	WF_LEVEL_COMMUNITY, /* community: 社区 (the default for new cases) */
	WF_LEVEL_STREET,    /* street: 街道 */
	WF_LEVEL_DISTRICT,  /* district: 区 */
	WF_LEVEL_COUNT
};

/* The reporter's rating. WF_SAT_NONE (zero) when not rated. */
enum workflow_satisfaction {
	WF_SAT_NONE = 0,
	WF_SAT_SATISFIED,           /* satisfied: 满意 */
	WF_SAT_BASICALLY_SATISFIED, /* basically_satisfied: 基本满意 */
	WF_SAT_DISSATISFIED,        /* dissatisfied: 不满意 (reopens the case, counts as rework) */
	WF_SAT_COUNT
};

/* Request parameters an action may carry besides "action" (JSON field names by
 * workflow_param_name). `comment` and `attachments` are optional on every action. */
enum workflow_param {
	WF_PARAM_REASON,       /* "reason": string; why (reject, return, suspend, reopen, extension) */
	WF_PARAM_RESULT,       /* "result": string; what the unit did (handle) */
	WF_PARAM_PASSED,       /* "passed": boolean (verify) */
	WF_PARAM_SATISFACTION, /* "satisfaction": satisfied | basically_satisfied | dissatisfied */
	WF_PARAM_INTO,         /* "into": id of the master case (merge) */
	WF_PARAM_UNIT,         /* "unit": unit code (dispatch: overrides the routed unit; reassign) */
	WF_PARAM_WORKING_DAYS, /* "working_days": positive integer (extension asked or granted) */
	WF_PARAM_APPROVED,     /* "approved": boolean, default true (extend_approve false declines) */
	WF_PARAM_CATEGORY,     /* "category": category code (register may correct it) */
	WF_PARAM_COMMENT,      /* "comment": free text on any action */
	WF_PARAM_ATTACHMENTS,  /* "attachments": uploaded file ids on any action (photos) */
	WF_PARAM_COUNT
};

#define WF_PARAM_BIT(p) (UINT32_C(1) << (unsigned)(p))

/* What else an action means, beside the state change. The caller turns these into stored
 * fields, events and aggregates (docs/internals/workflow.md lists what each implies). */
enum workflow_effect {
	WF_EFFECT_RESPONSE = 1u << 0,      /* contact by the unit: the first one sets first_response_at */
	WF_EFFECT_CLOSURE = 1u << 1,       /* the case is closed now (closed_at; counts as closed) */
	WF_EFFECT_REOPEN = 1u << 2,        /* a closed (or rejected) case is open again */
	WF_EFFECT_REWORK = 1u << 3,        /* counts as rework (返工): failed verify, dissatisfied, reopen */
	WF_EFFECT_RATING = 1u << 4,        /* records the satisfaction given */
	WF_EFFECT_SET_UNIT = 1u << 5,      /* the responsible unit is (re)set: "unit" or the routed one */
	WF_EFFECT_CLEAR_UNIT = 1u << 6,    /* the unit gave the case back: no unit until dispatched */
	WF_EFFECT_SET_MASTER = 1u << 7,    /* the case now follows "into"; the master's support count +1 */
	WF_EFFECT_CLEAR_MASTER = 1u << 8,  /* the case no longer follows its master; support count -1 */
	WF_EFFECT_PAUSE_CLOCK = 1u << 9,   /* the deadline stops running (remember when) */
	WF_EFFECT_RESUME_CLOCK = 1u << 10, /* the deadline runs again, moved by the time suspended */
	WF_EFFECT_EXTEND = 1u << 11,       /* an approved extension moves the deadline */
	WF_EFFECT_NOTIFY_UP = 1u << 12,    /* tell the level above (supervise, escalate) */
	WF_EFFECT_REJECTION = 1u << 13,    /* the case was not accepted for handling (不予立案) */
};

/* The workflow facts of one case: what the store keeps beside the status. */
struct workflow_case {
	enum workflow_state state;  /* the status now */
	enum workflow_state prior;  /* suspended/merged: the state to go back to; else WF_STATE_NONE */
	enum workflow_level level;  /* community, street or district */
	bool extension_pending;     /* an extend_request waits for extend_approve */
	bool supervised;            /* 督办 has been ordered at least once */
};

/* The outcome of an allowed action. */
struct workflow_step {
	struct workflow_case after; /* the case's facts after the action; store them all */
	uint32_t effects;           /* enum workflow_effect bits */
};

/* Scope facts, all plain data the caller looked up; NULL strings mean "none". */
struct workflow_scope {
	const char *caller_street; /* the caller's street code (street dispatcher, grid worker) */
	const char *caller_unit;   /* the caller's unit code (unit staff) */
	const char *case_street;   /* the case's street code; NULL while it is not placed */
	const char *case_unit;     /* the unit the case is dispatched to; NULL when none */
	bool is_reporter;          /* the caller is the citizen who reported the case */
};

/* Wire names (snake_case, never NULL; "unknown" out of range) and console labels. */
const char *workflow_state_name(enum workflow_state s);
const char *workflow_state_label_zh(enum workflow_state s);
const char *workflow_action_name(enum workflow_action a);
const char *workflow_action_label_zh(enum workflow_action a);
const char *workflow_level_name(enum workflow_level l);
const char *workflow_level_label_zh(enum workflow_level l);
const char *workflow_satisfaction_name(enum workflow_satisfaction s);
const char *workflow_satisfaction_label_zh(enum workflow_satisfaction s);
const char *workflow_param_name(enum workflow_param p);

/* Parse wire names (exact, case-sensitive). CD_ERR_INVALID when unknown or NULL; `out` is
 * untouched then. "none" is not a name any parser accepts. */
enum cd_err workflow_state_parse(const char *name, enum workflow_state *out) CD_MUST_CHECK;
enum cd_err workflow_action_parse(const char *name, enum workflow_action *out) CD_MUST_CHECK;
enum cd_err workflow_level_parse(const char *name, enum workflow_level *out) CD_MUST_CHECK;
enum cd_err workflow_satisfaction_parse(const char *name, enum workflow_satisfaction *out) CD_MUST_CHECK;
enum cd_err workflow_param_parse(const char *name, enum workflow_param *out) CD_MUST_CHECK;

/* True for states no deadline applies to any more: rejected, closed, rated, merged. */
bool workflow_state_is_final(enum workflow_state s);
/* Whether a recorded step ("report", "dispatch", ...) is shown to the public (the reporter,
 * Open311 clients): the steps a resident recognises. Deadline marks, placing, supervision,
 * escalation and extensions are the centre's business. */
bool workflow_step_public(const char *action);
/* Whether a step's comment is written for the resident (what the unit did, why a report was not
 * taken); every other comment is an internal note and is never published. */
bool workflow_comment_public(const char *action);
/* True when the case's deadline clock runs: every state that is not final and not suspended. */
bool workflow_state_clock_runs(enum workflow_state s);

/* The roles that may ever take `a` (bit per enum auth_role), before state and scope. */
uint32_t workflow_action_roles(enum workflow_action a);

/* The parameters `a` requires and the ones it also accepts (WF_PARAM_BIT sets; the optional
 * set includes comment and attachments). Both 0 for an unknown action. */
void workflow_action_params(enum workflow_action a, uint32_t *required, uint32_t *optional);

/* Checks the parameters present in a request (WF_PARAM_BIT set) against `a`: CD_OK, or
 * CD_ERR_INVALID with *field set to the first required parameter missing or, failing that,
 * the first one present that `a` does not take (the API answers 422 naming it). Values are
 * the caller's to validate. */
enum cd_err workflow_params_check(enum workflow_action a, uint32_t present, enum workflow_param *field) CD_MUST_CHECK;

/* Whether `negative` applies: verify with passed=false, rate with dissatisfied, extend_approve
 * with approved=false. Helper so callers derive it one way. */
bool workflow_outcome_negative(enum workflow_action a, bool passed, enum workflow_satisfaction sat,
			       bool approved);

/* Decides whether `role` may take `a` on a case with facts `c` (state, prior, level, pending
 * extension), with the outcome `negative` (see workflow_outcome_negative; false for other
 * actions). Scope is not checked here: call workflow_in_scope first.
 * CD_OK with *out filled; CD_ERR_DENIED when the role may never take `a` (auditors, citizens
 * dispatching, unit staff closing...); CD_ERR_CONFLICT when the role could, but not in this
 * state or with these facts (the API answers 409 with workflow_allowed()); CD_ERR_INVALID for
 * out-of-range arguments. *why, when `why` is not NULL, gets a static English sentence on
 * refusal and NULL on success. */
enum cd_err workflow_decide(const struct workflow_case *c, enum auth_role role, enum workflow_action a,
			    bool negative, struct workflow_step *out, const char **why) CD_MUST_CHECK;

/* The simple form: allowed or not for (state, action, role), and the next state, ignoring the
 * other facts (pending extension, level, prior). Returns true and sets *next (when not NULL) if
 * some row allows it; for verify, rate and extend_approve *next is the positive outcome's state;
 * for resume and unmerge it is WF_STATE_NONE, since only `prior` knows. workflow_decide is the
 * check to act on. */
bool workflow_can(enum workflow_state s, enum workflow_action a, enum auth_role role, enum workflow_state *next);

/* The actions `role` may take on case `c` now (WF_ACTION_BIT set): what the 409 lists and the
 * console shows as buttons. An action counts when either of its outcomes is allowed. */
uint32_t workflow_allowed(const struct workflow_case *c, enum auth_role role);

/* Writes the wire names of the actions in `set` into `names`, in enum order (the order the
 * 409 body and the console list them), and returns how many. The strings are static. */
size_t workflow_action_set_names(uint32_t set, const char *names[WF_ACTION_COUNT]);

/* Whether a caller with `role` may see and act on a case (another street's case is 404 to a
 * street dispatcher): admin, district dispatcher, auditor and system see every case; a street
 * dispatcher and a grid worker only their street's (a case with no street is outside it);
 * unit staff only cases dispatched to their unit; a citizen only the cases they reported. */
bool workflow_in_scope(enum auth_role role, const struct workflow_scope *s);

#endif
