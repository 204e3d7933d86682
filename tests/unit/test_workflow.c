/* Tests for core/workflow: names, the happy path, every (state, action, role) against a spec
 * written here independently of the module's tables, hand-picked rules, parameters, scope, and
 * whole-graph properties (reachability, no dead ends, admin covers every role). */
#include "core/workflow.h"

#include "test.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* True when `word` is one of the space-separated words in `list`. */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == n && strncmp(p, word, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

static struct workflow_case case_in(enum workflow_state s)
{
	struct workflow_case c = {.state = s, .prior = WF_STATE_NONE, .level = WF_LEVEL_COMMUNITY};
	return c;
}

/* Takes `a` as `role` on *c, checks it is allowed, and moves *c on. Returns the effects. */
static uint32_t step_ok(struct workflow_case *c, enum auth_role role, enum workflow_action a, bool negative,
			enum workflow_state expect)
{
	struct workflow_step st;
	const char *why = "unset";
	enum cd_err rc = workflow_decide(c, role, a, negative, &st, &why);
	CHECK_INT_EQ(rc, CD_OK);
	if (rc != CD_OK) {
		fprintf(stderr, "  %s by %s in %s refused: %s\n", workflow_action_name(a), auth_role_name(role),
			workflow_state_name(c->state), why ? why : "(null)");
		return 0;
	}
	CHECK(why == NULL);
	CHECK_STR_EQ(workflow_state_name(st.after.state), workflow_state_name(expect));
	*c = st.after;
	return st.effects;
}

static enum cd_err try_action(const struct workflow_case *c, enum auth_role role, enum workflow_action a,
			      bool negative)
{
	struct workflow_step st;
	return workflow_decide(c, role, a, negative, &st, NULL);
}

/* ---- names ------------------------------------------------------------------------------ */

static void test_names_round_trip(void)
{
	for (int s = WF_STATE_NONE + 1; s < WF_STATE_COUNT; s++) {
		enum workflow_state back = WF_STATE_NONE;
		CHECK_INT_EQ(workflow_state_parse(workflow_state_name((enum workflow_state)s), &back), CD_OK);
		CHECK_INT_EQ(back, s);
		CHECK(strlen(workflow_state_label_zh((enum workflow_state)s)) >= 6); /* two CJK characters */
		for (int t = WF_STATE_NONE + 1; t < s; t++)
			CHECK(strcmp(workflow_state_label_zh((enum workflow_state)s),
				     workflow_state_label_zh((enum workflow_state)t)) != 0);
	}
	for (int a = 0; a < WF_ACTION_COUNT; a++) {
		enum workflow_action back = WF_ACTION_COUNT;
		CHECK_INT_EQ(workflow_action_parse(workflow_action_name((enum workflow_action)a), &back), CD_OK);
		CHECK_INT_EQ(back, a);
		CHECK(strlen(workflow_action_label_zh((enum workflow_action)a)) >= 6);
	}
	for (int l = 0; l < WF_LEVEL_COUNT; l++) {
		enum workflow_level back = WF_LEVEL_COUNT;
		CHECK_INT_EQ(workflow_level_parse(workflow_level_name((enum workflow_level)l), &back), CD_OK);
		CHECK_INT_EQ(back, l);
	}
	for (int s = WF_SAT_NONE + 1; s < WF_SAT_COUNT; s++) {
		enum workflow_satisfaction back = WF_SAT_NONE;
		CHECK_INT_EQ(workflow_satisfaction_parse(workflow_satisfaction_name((enum workflow_satisfaction)s),
							 &back),
			     CD_OK);
		CHECK_INT_EQ(back, s);
	}
	for (int p = 0; p < WF_PARAM_COUNT; p++) {
		enum workflow_param back = WF_PARAM_COUNT;
		CHECK_INT_EQ(workflow_param_parse(workflow_param_name((enum workflow_param)p), &back), CD_OK);
		CHECK_INT_EQ(back, p);
	}
}

static void test_names_exact(void)
{
	/* The wire names the issue fixes. */
	static const char *const issue_actions[] = {
	    "register", "reject",        "dispatch",       "accept",  "return", "handle",
	    "verify",   "close",         "rate",           "reopen",  "extend_request",
	    "extend_approve", "suspend", "resume",         "supervise", "escalate", "merge", "reassign"};
	for (size_t i = 0; i < sizeof issue_actions / sizeof issue_actions[0]; i++) {
		enum workflow_action a;
		CHECK_INT_EQ(workflow_action_parse(issue_actions[i], &a), CD_OK);
	}
	CHECK_STR_EQ(workflow_state_name(WF_STATE_REGISTERED), "registered");
	CHECK_STR_EQ(workflow_state_label_zh(WF_STATE_REGISTERED), "已立案");
	CHECK_STR_EQ(workflow_state_label_zh(WF_STATE_REJECTED), "不予立案");
	CHECK_STR_EQ(workflow_state_label_zh(WF_STATE_CLOSED), "已结案");
	CHECK_STR_EQ(workflow_action_label_zh(WF_ACTION_SUPERVISE), "督办");
	CHECK_STR_EQ(workflow_satisfaction_name(WF_SAT_BASICALLY_SATISFIED), "basically_satisfied");
	CHECK_STR_EQ(workflow_satisfaction_label_zh(WF_SAT_DISSATISFIED), "不满意");
	CHECK_STR_EQ(workflow_param_name(WF_PARAM_WORKING_DAYS), "working_days");

	/* Refusals leave the output alone. */
	enum workflow_state s = WF_STATE_CLOSED;
	CHECK_INT_EQ(workflow_state_parse("none", &s), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_state_parse("Closed", &s), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_state_parse("", &s), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_state_parse(NULL, &s), CD_ERR_INVALID);
	CHECK_INT_EQ(s, WF_STATE_CLOSED);
	enum workflow_action a = WF_ACTION_RATE;
	CHECK_INT_EQ(workflow_action_parse("approve", &a), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_action_parse("register ", &a), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_action_parse(NULL, &a), CD_ERR_INVALID);
	CHECK_INT_EQ(a, WF_ACTION_RATE);
	enum workflow_satisfaction sat = WF_SAT_SATISFIED;
	CHECK_INT_EQ(workflow_satisfaction_parse("none", &sat), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_satisfaction_parse("very_satisfied", &sat), CD_ERR_INVALID);
	enum workflow_param p;
	CHECK_INT_EQ(workflow_param_parse("action", &p), CD_ERR_INVALID);

	/* Out of range never crashes. */
	CHECK_STR_EQ(workflow_state_name(WF_STATE_COUNT), "unknown");
	CHECK_STR_EQ(workflow_state_name((enum workflow_state)-1), "unknown");
	CHECK_STR_EQ(workflow_action_name(WF_ACTION_COUNT), "unknown");
	CHECK_STR_EQ(workflow_action_label_zh(WF_ACTION_COUNT), "未知");
	CHECK_STR_EQ(workflow_level_name(WF_LEVEL_COUNT), "unknown");
	CHECK_STR_EQ(workflow_param_name(WF_PARAM_COUNT), "unknown");
}

/* ---- the happy path --------------------------------------------------------------------- */

static void test_happy_path(void)
{
	struct workflow_case c = case_in(WF_STATE_REPORTED);
	uint32_t e;
	e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_REGISTER, false, WF_STATE_REGISTERED);
	CHECK_INT_EQ(e, 0);
	e = step_ok(&c, ROLE_SYSTEM, WF_ACTION_DISPATCH, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_SET_UNIT);
	e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_ACCEPT, false, WF_STATE_ACCEPTED);
	CHECK_INT_EQ(e, WF_EFFECT_RESPONSE);
	e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_HANDLE, false, WF_STATE_HANDLED);
	CHECK_INT_EQ(e, WF_EFFECT_RESPONSE);
	e = step_ok(&c, ROLE_GRID_WORKER, WF_ACTION_VERIFY, false, WF_STATE_VERIFIED);
	CHECK_INT_EQ(e, 0);
	e = step_ok(&c, ROLE_STREET_DISPATCHER, WF_ACTION_CLOSE, false, WF_STATE_CLOSED);
	CHECK_INT_EQ(e, WF_EFFECT_CLOSURE);
	e = step_ok(&c, ROLE_CITIZEN, WF_ACTION_RATE, false, WF_STATE_RATED);
	CHECK_INT_EQ(e, WF_EFFECT_RATING);
	CHECK_INT_EQ(c.prior, WF_STATE_NONE);
	CHECK_INT_EQ(c.level, WF_LEVEL_COMMUNITY);
	CHECK(!c.supervised);
	CHECK(!c.extension_pending);
	/* Rated is the end for everyone but a dispatcher or an admin reopening it. */
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_CITIZEN), 0);
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_UNIT_STAFF), 0);
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_DISTRICT_DISPATCHER), WF_ACTION_BIT(WF_ACTION_REOPEN));
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_ADMIN), WF_ACTION_BIT(WF_ACTION_REOPEN));
}

/* ---- every (state, action, role) against an independent spec ----------------------------- */

/* The rules as the design note states them, in names. `to` is the positive outcome's state,
 * "=" for no change, "prior" for the saved state. */
static const struct spec {
	const char *action;
	const char *from;
	const char *roles;
	const char *to;
} spec[] = {
    {"register", "reported", "admin district_dispatcher street_dispatcher system", "registered"},
    {"reject", "reported", "admin district_dispatcher street_dispatcher", "rejected"},
    {"dispatch", "registered", "admin district_dispatcher street_dispatcher system", "dispatched"},
    {"accept", "dispatched", "admin unit_staff", "accepted"},
    {"return", "dispatched accepted", "admin unit_staff", "registered"},
    {"handle", "dispatched accepted", "admin unit_staff", "handled"},
    {"verify", "handled", "admin district_dispatcher street_dispatcher grid_worker", "verified"},
    {"close", "registered verified", "admin district_dispatcher street_dispatcher", "closed"},
    {"rate", "closed", "admin citizen district_dispatcher", "rated"},
    {"reopen", "closed rated rejected", "admin district_dispatcher street_dispatcher", "dispatched"},
    {"extend_request", "dispatched accepted", "admin unit_staff", "="},
    {"extend_approve", "dispatched accepted handled verified suspended",
     "admin district_dispatcher street_dispatcher", "="},
    {"suspend", "registered dispatched accepted", "admin district_dispatcher street_dispatcher", "suspended"},
    {"resume", "suspended", "admin district_dispatcher street_dispatcher", "prior"},
    {"supervise", "registered dispatched accepted handled verified suspended",
     "admin district_dispatcher street_dispatcher system", "="},
    {"escalate", "reported registered dispatched accepted handled verified suspended",
     "admin district_dispatcher street_dispatcher system", "="},
    {"merge", "reported registered dispatched accepted", "admin district_dispatcher street_dispatcher",
     "merged"},
    {"reassign", "dispatched accepted", "admin district_dispatcher street_dispatcher", "dispatched"},
    {"unmerge", "merged", "admin", "prior"},
};

static const struct spec *spec_for(enum workflow_action a)
{
	for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++)
		if (strcmp(spec[i].action, workflow_action_name(a)) == 0)
			return &spec[i];
	return NULL;
}

/* Facts under which the action's guard holds, so only state and role decide. */
static struct workflow_case facts_for(enum workflow_state s, enum workflow_action a)
{
	struct workflow_case c = case_in(s);
	c.extension_pending = a == WF_ACTION_EXTEND_APPROVE;
	if (s == WF_STATE_SUSPENDED)
		c.prior = WF_STATE_ACCEPTED;
	if (s == WF_STATE_MERGED)
		c.prior = WF_STATE_REGISTERED;
	return c;
}

static void test_matrix(void)
{
	int checked = 0, allowed = 0;
	CHECK_INT_EQ(sizeof spec / sizeof spec[0], WF_ACTION_COUNT);
	for (int a = 0; a < WF_ACTION_COUNT; a++) {
		const struct spec *sp = spec_for((enum workflow_action)a);
		CHECK(sp != NULL);
		if (!sp)
			continue;
		for (int s = WF_STATE_NONE + 1; s < WF_STATE_COUNT; s++) {
			const char *sname = workflow_state_name((enum workflow_state)s);
			int state_ok = has_word(sp->from, sname);
			for (int r = 0; r < ROLE_COUNT; r++) {
				int role_ok = has_word(sp->roles, auth_role_name((enum auth_role)r));
				struct workflow_case c = facts_for((enum workflow_state)s, (enum workflow_action)a);
				struct workflow_step st;
				const char *why = NULL;
				enum cd_err rc = workflow_decide(&c, (enum auth_role)r, (enum workflow_action)a, false,
								 &st, &why);
				enum cd_err want = !role_ok ? CD_ERR_DENIED : !state_ok ? CD_ERR_CONFLICT : CD_OK;
				checked++;
				if (rc != want) {
					fprintf(stderr, "  %s by %s in %s: got %s, want %s\n", sp->action,
						auth_role_name((enum auth_role)r), sname, cd_err_name(rc),
						cd_err_name(want));
					CHECK_INT_EQ(rc, want);
					continue;
				}
				CHECK((rc == CD_OK) == (why == NULL));
				/* The simple form agrees. */
				enum workflow_state next = WF_STATE_COUNT;
				CHECK_INT_EQ(workflow_can((enum workflow_state)s, (enum workflow_action)a,
							  (enum auth_role)r, &next),
					     rc == CD_OK);
				/* The 409 list agrees. */
				uint32_t set = workflow_allowed(&c, (enum auth_role)r);
				CHECK_INT_EQ(!!(set & WF_ACTION_BIT(a)), rc == CD_OK);
				if (rc != CD_OK)
					continue;
				allowed++;
				const char *want_to = strcmp(sp->to, "=") == 0       ? sname
						      : strcmp(sp->to, "prior") == 0 ? workflow_state_name(c.prior)
										     : sp->to;
				/* reopen of a rejection goes back to reported: the one row with a second target */
				if (a == WF_ACTION_REOPEN && s == WF_STATE_REJECTED)
					want_to = "reported";
				CHECK_STR_EQ(workflow_state_name(st.after.state), want_to);
				if (strcmp(sp->to, "prior") != 0)
					CHECK_STR_EQ(workflow_state_name(next), want_to);
			}
		}
	}
	CHECK_INT_EQ(checked, WF_ACTION_COUNT * (WF_STATE_COUNT - 1) * ROLE_COUNT);
	printf("  matrix: %d (state, action, role) triples checked, %d allowed\n", checked, allowed);
}

/* ---- hand-picked rules ------------------------------------------------------------------ */

static void test_role_refusals(void)
{
	struct workflow_case verified = case_in(WF_STATE_VERIFIED);
	CHECK_INT_EQ(try_action(&verified, ROLE_UNIT_STAFF, WF_ACTION_CLOSE, false), CD_ERR_DENIED);
	CHECK_INT_EQ(try_action(&verified, ROLE_GRID_WORKER, WF_ACTION_CLOSE, false), CD_ERR_DENIED);
	struct workflow_case registered = case_in(WF_STATE_REGISTERED);
	CHECK_INT_EQ(try_action(&registered, ROLE_CITIZEN, WF_ACTION_DISPATCH, false), CD_ERR_DENIED);
	CHECK_INT_EQ(try_action(&registered, ROLE_UNIT_STAFF, WF_ACTION_DISPATCH, false), CD_ERR_DENIED);
	/* Unit staff cannot verify their own work. */
	struct workflow_case handled = case_in(WF_STATE_HANDLED);
	CHECK_INT_EQ(try_action(&handled, ROLE_UNIT_STAFF, WF_ACTION_VERIFY, false), CD_ERR_DENIED);
	/* A street dispatcher records no phone ratings: the district centre does the callbacks. */
	struct workflow_case closed = case_in(WF_STATE_CLOSED);
	CHECK_INT_EQ(try_action(&closed, ROLE_STREET_DISPATCHER, WF_ACTION_RATE, false), CD_ERR_DENIED);
	/* Auditors never act, in any state, with any facts. */
	for (int s = WF_STATE_NONE + 1; s < WF_STATE_COUNT; s++) {
		struct workflow_case c = case_in((enum workflow_state)s);
		c.prior = WF_STATE_REGISTERED;
		for (int pending = 0; pending <= 1; pending++) {
			c.extension_pending = pending;
			CHECK_INT_EQ(workflow_allowed(&c, ROLE_AUDITOR), 0);
		}
	}
	/* Citizens only ever rate. */
	for (int a = 0; a < WF_ACTION_COUNT; a++)
		CHECK_INT_EQ(!!(workflow_action_roles((enum workflow_action)a) & (1u << ROLE_CITIZEN)),
			     a == WF_ACTION_RATE);
	/* Admins are in every action's roles. */
	for (int a = 0; a < WF_ACTION_COUNT; a++)
		CHECK(workflow_action_roles((enum workflow_action)a) & (1u << ROLE_ADMIN));
	CHECK_INT_EQ(workflow_action_roles(WF_ACTION_COUNT), 0);
}

static void test_verify_failed_goes_back(void)
{
	struct workflow_case c = case_in(WF_STATE_HANDLED);
	uint32_t e = step_ok(&c, ROLE_GRID_WORKER, WF_ACTION_VERIFY, true, WF_STATE_ACCEPTED);
	CHECK_INT_EQ(e, WF_EFFECT_REWORK);
	/* The unit must handle it again; the verifier cannot verify again before that. */
	CHECK(workflow_allowed(&c, ROLE_UNIT_STAFF) & WF_ACTION_BIT(WF_ACTION_HANDLE));
	CHECK_INT_EQ(try_action(&c, ROLE_GRID_WORKER, WF_ACTION_VERIFY, false), CD_ERR_CONFLICT);
	e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_HANDLE, false, WF_STATE_HANDLED);
	e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_VERIFY, false, WF_STATE_VERIFIED);
	CHECK_INT_EQ(e, 0);
	CHECK(workflow_outcome_negative(WF_ACTION_VERIFY, false, WF_SAT_NONE, true));
	CHECK(!workflow_outcome_negative(WF_ACTION_VERIFY, true, WF_SAT_DISSATISFIED, true));
}

static void test_rating(void)
{
	struct workflow_case c = case_in(WF_STATE_CLOSED);
	uint32_t e = step_ok(&c, ROLE_CITIZEN, WF_ACTION_RATE, true, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_RATING | WF_EFFECT_REOPEN | WF_EFFECT_REWORK);
	/* Back with the unit, which signs for it again. */
	CHECK(workflow_allowed(&c, ROLE_UNIT_STAFF) & WF_ACTION_BIT(WF_ACTION_ACCEPT));
	struct workflow_case c2 = case_in(WF_STATE_CLOSED);
	e = step_ok(&c2, ROLE_DISTRICT_DISPATCHER, WF_ACTION_RATE, false, WF_STATE_RATED);
	CHECK_INT_EQ(e, WF_EFFECT_RATING);
	CHECK(workflow_outcome_negative(WF_ACTION_RATE, true, WF_SAT_DISSATISFIED, true));
	CHECK(!workflow_outcome_negative(WF_ACTION_RATE, true, WF_SAT_BASICALLY_SATISFIED, true));
	CHECK(!workflow_outcome_negative(WF_ACTION_RATE, false, WF_SAT_SATISFIED, false));
	/* Rating twice is not possible; rating before closure neither. */
	CHECK_INT_EQ(try_action(&c2, ROLE_CITIZEN, WF_ACTION_RATE, false), CD_ERR_CONFLICT);
	struct workflow_case v = case_in(WF_STATE_VERIFIED);
	CHECK_INT_EQ(try_action(&v, ROLE_CITIZEN, WF_ACTION_RATE, false), CD_ERR_CONFLICT);
}

static void test_suspend_resume(void)
{
	static const enum workflow_state from[] = {WF_STATE_REGISTERED, WF_STATE_DISPATCHED, WF_STATE_ACCEPTED};
	for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
		struct workflow_case c = case_in(from[i]);
		uint32_t e = step_ok(&c, ROLE_STREET_DISPATCHER, WF_ACTION_SUSPEND, false, WF_STATE_SUSPENDED);
		CHECK_INT_EQ(e, WF_EFFECT_PAUSE_CLOCK);
		CHECK_INT_EQ(c.prior, from[i]);
		CHECK(!workflow_state_clock_runs(c.state));
		/* Suspended: no work moves until resumed; supervising and escalating still can. */
		CHECK_INT_EQ(workflow_allowed(&c, ROLE_UNIT_STAFF), 0);
		CHECK_INT_EQ(try_action(&c, ROLE_ADMIN, WF_ACTION_SUSPEND, false), CD_ERR_CONFLICT);
		e = step_ok(&c, ROLE_SYSTEM, WF_ACTION_ESCALATE, false, WF_STATE_SUSPENDED);
		CHECK_INT_EQ(c.prior, from[i]); /* staying put keeps the saved state */
		CHECK_INT_EQ(c.level, WF_LEVEL_STREET);
		e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_RESUME, false, from[i]);
		CHECK_INT_EQ(e, WF_EFFECT_RESUME_CLOCK);
		CHECK_INT_EQ(c.prior, WF_STATE_NONE);
		CHECK(workflow_state_clock_runs(c.state));
	}
	/* Not from handled, verified or final states. */
	static const enum workflow_state never[] = {WF_STATE_REPORTED, WF_STATE_HANDLED, WF_STATE_VERIFIED,
						    WF_STATE_CLOSED, WF_STATE_RATED, WF_STATE_REJECTED,
						    WF_STATE_MERGED};
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
		struct workflow_case c = case_in(never[i]);
		CHECK_INT_EQ(try_action(&c, ROLE_ADMIN, WF_ACTION_SUSPEND, false), CD_ERR_CONFLICT);
	}
	/* A suspended case whose saved state is missing or nonsense cannot be resumed. */
	struct workflow_case bad = case_in(WF_STATE_SUSPENDED);
	const char *why = NULL;
	struct workflow_step st;
	CHECK_INT_EQ(workflow_decide(&bad, ROLE_ADMIN, WF_ACTION_RESUME, false, &st, &why), CD_ERR_CONFLICT);
	CHECK(why && strstr(why, "not recorded"));
	bad.prior = WF_STATE_CLOSED;
	CHECK_INT_EQ(try_action(&bad, ROLE_ADMIN, WF_ACTION_RESUME, false), CD_ERR_CONFLICT);
	bad.prior = (enum workflow_state)99;
	CHECK_INT_EQ(try_action(&bad, ROLE_ADMIN, WF_ACTION_RESUME, false), CD_ERR_CONFLICT);
}

static void test_merge(void)
{
	struct workflow_case c = case_in(WF_STATE_DISPATCHED);
	c.extension_pending = true;
	uint32_t e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_MERGE, false, WF_STATE_MERGED);
	CHECK_INT_EQ(e, WF_EFFECT_SET_MASTER);
	CHECK_INT_EQ(c.prior, WF_STATE_DISPATCHED);
	CHECK(!c.extension_pending); /* final state: the request lapses */
	CHECK(workflow_state_is_final(c.state));
	/* Only an admin can do anything with it, and only unmerge. */
	for (int r = 0; r < ROLE_COUNT; r++)
		CHECK_INT_EQ(workflow_allowed(&c, (enum auth_role)r),
			     r == ROLE_ADMIN ? WF_ACTION_BIT(WF_ACTION_UNMERGE) : 0);
	e = step_ok(&c, ROLE_ADMIN, WF_ACTION_UNMERGE, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_CLEAR_MASTER);
	CHECK_INT_EQ(c.prior, WF_STATE_NONE);
	/* Handled work is not merged away. */
	struct workflow_case h = case_in(WF_STATE_HANDLED);
	CHECK_INT_EQ(try_action(&h, ROLE_ADMIN, WF_ACTION_MERGE, false), CD_ERR_CONFLICT);
}

static void test_reopen(void)
{
	static const enum auth_role may[] = {ROLE_ADMIN, ROLE_DISTRICT_DISPATCHER, ROLE_STREET_DISPATCHER};
	static const enum auth_role may_not[] = {ROLE_UNIT_STAFF, ROLE_GRID_WORKER, ROLE_CITIZEN, ROLE_AUDITOR,
						 ROLE_SYSTEM};
	static const enum workflow_state done[] = {WF_STATE_CLOSED, WF_STATE_RATED};
	for (size_t i = 0; i < 2; i++) {
		for (size_t r = 0; r < sizeof may / sizeof may[0]; r++) {
			struct workflow_case c = case_in(done[i]);
			uint32_t e = step_ok(&c, may[r], WF_ACTION_REOPEN, false, WF_STATE_DISPATCHED);
			CHECK_INT_EQ(e, WF_EFFECT_REOPEN | WF_EFFECT_REWORK);
		}
		for (size_t r = 0; r < sizeof may_not / sizeof may_not[0]; r++) {
			struct workflow_case c = case_in(done[i]);
			CHECK_INT_EQ(try_action(&c, may_not[r], WF_ACTION_REOPEN, false), CD_ERR_DENIED);
		}
	}
	/* A reconsidered rejection is no rework. */
	struct workflow_case c = case_in(WF_STATE_REJECTED);
	uint32_t e = step_ok(&c, ROLE_STREET_DISPATCHER, WF_ACTION_REOPEN, false, WF_STATE_REPORTED);
	CHECK_INT_EQ(e, WF_EFFECT_REOPEN);
	/* Open cases are not "reopened". */
	struct workflow_case open = case_in(WF_STATE_ACCEPTED);
	CHECK_INT_EQ(try_action(&open, ROLE_ADMIN, WF_ACTION_REOPEN, false), CD_ERR_CONFLICT);
}

static void test_extension(void)
{
	struct workflow_case c = case_in(WF_STATE_ACCEPTED);
	CHECK(!(workflow_allowed(&c, ROLE_DISTRICT_DISPATCHER) & WF_ACTION_BIT(WF_ACTION_EXTEND_APPROVE)));
	const char *why = NULL;
	struct workflow_step st;
	CHECK_INT_EQ(workflow_decide(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_EXTEND_APPROVE, false, &st, &why),
		     CD_ERR_CONFLICT);
	CHECK(why && strstr(why, "no extension request"));
	uint32_t e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_EXTEND_REQUEST, false, WF_STATE_ACCEPTED);
	CHECK_INT_EQ(e, 0);
	CHECK(c.extension_pending);
	CHECK_INT_EQ(try_action(&c, ROLE_UNIT_STAFF, WF_ACTION_EXTEND_REQUEST, false), CD_ERR_CONFLICT);
	CHECK(workflow_allowed(&c, ROLE_STREET_DISPATCHER) & WF_ACTION_BIT(WF_ACTION_EXTEND_APPROVE));
	/* The unit may handle it meanwhile; the request survives that. */
	e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_HANDLE, false, WF_STATE_HANDLED);
	CHECK(c.extension_pending);
	struct workflow_case declined = c;
	e = step_ok(&c, ROLE_STREET_DISPATCHER, WF_ACTION_EXTEND_APPROVE, false, WF_STATE_HANDLED);
	CHECK_INT_EQ(e, WF_EFFECT_EXTEND);
	CHECK(!c.extension_pending);
	e = step_ok(&declined, ROLE_STREET_DISPATCHER, WF_ACTION_EXTEND_APPROVE, true, WF_STATE_HANDLED);
	CHECK_INT_EQ(e, 0);
	CHECK(!declined.extension_pending);
	CHECK(workflow_outcome_negative(WF_ACTION_EXTEND_APPROVE, true, WF_SAT_NONE, false));
	/* A unit that gives the case back, or loses it to another unit, drops its request. */
	struct workflow_case r = case_in(WF_STATE_DISPATCHED);
	r.extension_pending = true;
	e = step_ok(&r, ROLE_UNIT_STAFF, WF_ACTION_RETURN, false, WF_STATE_REGISTERED);
	CHECK_INT_EQ(e, WF_EFFECT_CLEAR_UNIT);
	CHECK(!r.extension_pending);
	struct workflow_case ra = case_in(WF_STATE_ACCEPTED);
	ra.extension_pending = true;
	e = step_ok(&ra, ROLE_DISTRICT_DISPATCHER, WF_ACTION_REASSIGN, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_SET_UNIT);
	CHECK(!ra.extension_pending);
}

static void test_supervise_escalate(void)
{
	struct workflow_case c = case_in(WF_STATE_DISPATCHED);
	uint32_t e = step_ok(&c, ROLE_SYSTEM, WF_ACTION_SUPERVISE, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_NOTIFY_UP);
	CHECK(c.supervised);
	/* 督办 may be ordered again. */
	e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_SUPERVISE, false, WF_STATE_DISPATCHED);
	CHECK(c.supervised);
	e = step_ok(&c, ROLE_STREET_DISPATCHER, WF_ACTION_ESCALATE, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_NOTIFY_UP);
	CHECK_INT_EQ(c.level, WF_LEVEL_STREET);
	e = step_ok(&c, ROLE_SYSTEM, WF_ACTION_ESCALATE, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(c.level, WF_LEVEL_DISTRICT);
	const char *why = NULL;
	struct workflow_step st;
	CHECK_INT_EQ(workflow_decide(&c, ROLE_ADMIN, WF_ACTION_ESCALATE, false, &st, &why), CD_ERR_CONFLICT);
	CHECK(why && strstr(why, "district level"));
	CHECK(!(workflow_allowed(&c, ROLE_ADMIN) & WF_ACTION_BIT(WF_ACTION_ESCALATE)));
	/* Nothing to supervise once it is over. */
	struct workflow_case closed = case_in(WF_STATE_CLOSED);
	CHECK_INT_EQ(try_action(&closed, ROLE_SYSTEM, WF_ACTION_SUPERVISE, false), CD_ERR_CONFLICT);
	CHECK_INT_EQ(try_action(&closed, ROLE_SYSTEM, WF_ACTION_ESCALATE, false), CD_ERR_CONFLICT);
}

static void test_other_paths(void)
{
	/* Rejection. */
	struct workflow_case c = case_in(WF_STATE_REPORTED);
	uint32_t e = step_ok(&c, ROLE_STREET_DISPATCHER, WF_ACTION_REJECT, false, WF_STATE_REJECTED);
	CHECK_INT_EQ(e, WF_EFFECT_REJECTION);
	CHECK(workflow_state_is_final(c.state));
	/* Answered at the desk: registered straight to closed. */
	c = case_in(WF_STATE_REGISTERED);
	e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_CLOSE, false, WF_STATE_CLOSED);
	CHECK_INT_EQ(e, WF_EFFECT_CLOSURE);
	/* But handled work must be verified before closing. */
	c = case_in(WF_STATE_HANDLED);
	CHECK_INT_EQ(try_action(&c, ROLE_ADMIN, WF_ACTION_CLOSE, false), CD_ERR_CONFLICT);
	/* Handle straight from dispatched: the first contact. */
	c = case_in(WF_STATE_DISPATCHED);
	e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_HANDLE, false, WF_STATE_HANDLED);
	CHECK_INT_EQ(e, WF_EFFECT_RESPONSE);
	/* Return, re-dispatch, reassign. */
	c = case_in(WF_STATE_ACCEPTED);
	e = step_ok(&c, ROLE_UNIT_STAFF, WF_ACTION_RETURN, false, WF_STATE_REGISTERED);
	CHECK_INT_EQ(e, WF_EFFECT_CLEAR_UNIT);
	e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_DISPATCH, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_SET_UNIT);
	e = step_ok(&c, ROLE_DISTRICT_DISPATCHER, WF_ACTION_REASSIGN, false, WF_STATE_DISPATCHED);
	CHECK_INT_EQ(e, WF_EFFECT_SET_UNIT);
	/* The 409 list for unit staff on a dispatched case. */
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_UNIT_STAFF),
		     WF_ACTION_BIT(WF_ACTION_ACCEPT) | WF_ACTION_BIT(WF_ACTION_RETURN) |
			 WF_ACTION_BIT(WF_ACTION_HANDLE) | WF_ACTION_BIT(WF_ACTION_EXTEND_REQUEST));
	const char *names[WF_ACTION_COUNT];
	size_t n = workflow_action_set_names(workflow_allowed(&c, ROLE_UNIT_STAFF), names);
	CHECK_INT_EQ(n, 4);
	if (n == 4) {
		CHECK_STR_EQ(names[0], "accept");
		CHECK_STR_EQ(names[1], "return");
		CHECK_STR_EQ(names[2], "handle");
		CHECK_STR_EQ(names[3], "extend_request");
	}
	CHECK_INT_EQ(workflow_action_set_names(0, names), 0);
	CHECK_INT_EQ(workflow_action_set_names(UINT32_MAX, names), WF_ACTION_COUNT);
	/* Grid workers on a handled case: verify only. */
	c = case_in(WF_STATE_HANDLED);
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_GRID_WORKER), WF_ACTION_BIT(WF_ACTION_VERIFY));
	/* System on a new report: register and escalate. */
	c = case_in(WF_STATE_REPORTED);
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_SYSTEM),
		     WF_ACTION_BIT(WF_ACTION_REGISTER) | WF_ACTION_BIT(WF_ACTION_ESCALATE));
}

static void test_invalid_arguments(void)
{
	struct workflow_case c = case_in(WF_STATE_NONE);
	struct workflow_step st;
	const char *why = NULL;
	CHECK_INT_EQ(workflow_decide(&c, ROLE_ADMIN, WF_ACTION_REGISTER, false, &st, &why), CD_ERR_INVALID);
	CHECK(why != NULL);
	CHECK_INT_EQ(workflow_decide(NULL, ROLE_ADMIN, WF_ACTION_REGISTER, false, &st, NULL), CD_ERR_INVALID);
	c = case_in(WF_STATE_REPORTED);
	CHECK_INT_EQ(workflow_decide(&c, ROLE_ADMIN, WF_ACTION_COUNT, false, &st, NULL), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_decide(&c, ROLE_COUNT, WF_ACTION_REGISTER, false, &st, NULL), CD_ERR_INVALID);
	c.state = WF_STATE_COUNT;
	CHECK_INT_EQ(workflow_decide(&c, ROLE_ADMIN, WF_ACTION_REGISTER, false, &st, NULL), CD_ERR_INVALID);
	CHECK_INT_EQ(workflow_allowed(&c, ROLE_ADMIN), 0);
	c = case_in(WF_STATE_REPORTED);
	c.level = WF_LEVEL_COUNT;
	CHECK_INT_EQ(workflow_decide(&c, ROLE_ADMIN, WF_ACTION_ESCALATE, false, &st, NULL), CD_ERR_INVALID);
	enum workflow_state next = WF_STATE_CLOSED;
	CHECK(!workflow_can(WF_STATE_NONE, WF_ACTION_REGISTER, ROLE_ADMIN, &next));
	CHECK(!workflow_can(WF_STATE_REPORTED, WF_ACTION_COUNT, ROLE_ADMIN, &next));
	CHECK(!workflow_can(WF_STATE_REPORTED, WF_ACTION_REGISTER, ROLE_COUNT, &next));
	CHECK_INT_EQ(next, WF_STATE_CLOSED);
	CHECK(workflow_can(WF_STATE_REPORTED, WF_ACTION_REGISTER, ROLE_SYSTEM, NULL));
}

/* ---- parameters ------------------------------------------------------------------------- */

static void test_params(void)
{
	static const struct {
		enum workflow_action action;
		uint32_t present;
		enum cd_err want;
		int field; /* expected *field on failure */
	} cases[] = {
	    {WF_ACTION_REJECT, 0, CD_ERR_INVALID, WF_PARAM_REASON},
	    {WF_ACTION_REJECT, WF_PARAM_BIT(WF_PARAM_REASON), CD_OK, -1},
	    {WF_ACTION_RETURN, WF_PARAM_BIT(WF_PARAM_COMMENT), CD_ERR_INVALID, WF_PARAM_REASON},
	    {WF_ACTION_VERIFY, 0, CD_ERR_INVALID, WF_PARAM_PASSED},
	    {WF_ACTION_VERIFY, WF_PARAM_BIT(WF_PARAM_PASSED) | WF_PARAM_BIT(WF_PARAM_ATTACHMENTS), CD_OK, -1},
	    {WF_ACTION_VERIFY, WF_PARAM_BIT(WF_PARAM_PASSED) | WF_PARAM_BIT(WF_PARAM_SATISFACTION),
	     CD_ERR_INVALID, WF_PARAM_SATISFACTION},
	    {WF_ACTION_RATE, 0, CD_ERR_INVALID, WF_PARAM_SATISFACTION},
	    {WF_ACTION_RATE, WF_PARAM_BIT(WF_PARAM_SATISFACTION) | WF_PARAM_BIT(WF_PARAM_COMMENT), CD_OK, -1},
	    {WF_ACTION_MERGE, 0, CD_ERR_INVALID, WF_PARAM_INTO},
	    {WF_ACTION_MERGE, WF_PARAM_BIT(WF_PARAM_INTO), CD_OK, -1},
	    {WF_ACTION_HANDLE, WF_PARAM_BIT(WF_PARAM_ATTACHMENTS), CD_ERR_INVALID, WF_PARAM_RESULT},
	    {WF_ACTION_HANDLE, WF_PARAM_BIT(WF_PARAM_RESULT) | WF_PARAM_BIT(WF_PARAM_ATTACHMENTS), CD_OK, -1},
	    {WF_ACTION_EXTEND_REQUEST, WF_PARAM_BIT(WF_PARAM_REASON), CD_ERR_INVALID, WF_PARAM_WORKING_DAYS},
	    {WF_ACTION_EXTEND_REQUEST, WF_PARAM_BIT(WF_PARAM_REASON) | WF_PARAM_BIT(WF_PARAM_WORKING_DAYS), CD_OK,
	     -1},
	    {WF_ACTION_EXTEND_APPROVE, 0, CD_OK, -1},
	    {WF_ACTION_EXTEND_APPROVE, WF_PARAM_BIT(WF_PARAM_APPROVED) | WF_PARAM_BIT(WF_PARAM_WORKING_DAYS),
	     CD_OK, -1},
	    {WF_ACTION_DISPATCH, 0, CD_OK, -1},
	    {WF_ACTION_DISPATCH, WF_PARAM_BIT(WF_PARAM_UNIT), CD_OK, -1},
	    {WF_ACTION_DISPATCH, WF_PARAM_BIT(WF_PARAM_INTO), CD_ERR_INVALID, WF_PARAM_INTO},
	    {WF_ACTION_REASSIGN, 0, CD_ERR_INVALID, WF_PARAM_UNIT},
	    {WF_ACTION_REGISTER, WF_PARAM_BIT(WF_PARAM_CATEGORY), CD_OK, -1},
	    {WF_ACTION_SUSPEND, 0, CD_ERR_INVALID, WF_PARAM_REASON},
	    {WF_ACTION_REOPEN, 0, CD_ERR_INVALID, WF_PARAM_REASON},
	    /* missing is named before unknown */
	    {WF_ACTION_REJECT, WF_PARAM_BIT(WF_PARAM_PASSED), CD_ERR_INVALID, WF_PARAM_REASON},
	    {WF_ACTION_ACCEPT, WF_PARAM_BIT(WF_PARAM_PASSED), CD_ERR_INVALID, WF_PARAM_PASSED},
	    {WF_ACTION_COUNT, 0, CD_ERR_INVALID, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum workflow_param field = WF_PARAM_COUNT;
		enum cd_err rc = workflow_params_check(cases[i].action, cases[i].present, &field);
		if (rc != cases[i].want)
			fprintf(stderr, "  params case %zu (%s)\n", i, workflow_action_name(cases[i].action));
		CHECK_INT_EQ(rc, cases[i].want);
		if (cases[i].field >= 0)
			CHECK_STR_EQ(workflow_param_name(field), workflow_param_name((enum workflow_param)cases[i].field));
		else
			CHECK_INT_EQ(field, WF_PARAM_COUNT);
	}
	/* comment and attachments are taken by every action; nothing is both required and optional. */
	for (int a = 0; a < WF_ACTION_COUNT; a++) {
		uint32_t req, opt;
		workflow_action_params((enum workflow_action)a, &req, &opt);
		CHECK(opt & WF_PARAM_BIT(WF_PARAM_COMMENT));
		CHECK(opt & WF_PARAM_BIT(WF_PARAM_ATTACHMENTS));
		CHECK_INT_EQ(req & opt, 0);
		enum workflow_param f;
		CHECK_INT_EQ(workflow_params_check((enum workflow_action)a, req, &f), CD_OK);
		CHECK_INT_EQ(workflow_params_check((enum workflow_action)a, req | opt, &f), CD_OK);
	}
}

/* ---- scope ------------------------------------------------------------------------------ */

static void test_scope(void)
{
	static const struct {
		enum auth_role role;
		struct workflow_scope s;
		bool want;
	} cases[] = {
	    {ROLE_ADMIN, {NULL, NULL, NULL, NULL, false}, true},
	    {ROLE_DISTRICT_DISPATCHER, {NULL, NULL, "440303001", "U1", false}, true},
	    {ROLE_AUDITOR, {NULL, NULL, "440303001", NULL, false}, true},
	    {ROLE_SYSTEM, {NULL, NULL, NULL, NULL, false}, true},
	    {ROLE_STREET_DISPATCHER, {"440303001", NULL, "440303001", NULL, false}, true},
	    {ROLE_STREET_DISPATCHER, {"440303001", NULL, "440303002", NULL, false}, false},
	    {ROLE_STREET_DISPATCHER, {"440303001", NULL, NULL, NULL, false}, false}, /* not placed yet */
	    {ROLE_STREET_DISPATCHER, {NULL, NULL, NULL, NULL, false}, false},
	    {ROLE_STREET_DISPATCHER, {"", NULL, "", NULL, false}, false},
	    {ROLE_STREET_DISPATCHER, {"440303001", "U1", "440303002", "U1", false}, false}, /* unit is no help */
	    {ROLE_GRID_WORKER, {"440303005", NULL, "440303005", "U9", false}, true},
	    {ROLE_GRID_WORKER, {"440303005", NULL, "440303006", NULL, false}, false},
	    {ROLE_UNIT_STAFF, {NULL, "U1", "440303001", "U1", false}, true},
	    {ROLE_UNIT_STAFF, {NULL, "U1", "440303001", "U2", false}, false},
	    {ROLE_UNIT_STAFF, {NULL, "U1", "440303001", NULL, false}, false}, /* returned: no unit */
	    {ROLE_UNIT_STAFF, {"440303001", NULL, "440303001", NULL, false}, false},
	    {ROLE_CITIZEN, {NULL, NULL, "440303001", "U1", true}, true},
	    {ROLE_CITIZEN, {NULL, NULL, "440303001", "U1", false}, false},
	    {ROLE_COUNT, {NULL, NULL, NULL, NULL, true}, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = workflow_in_scope(cases[i].role, &cases[i].s);
		if (got != cases[i].want)
			fprintf(stderr, "  scope case %zu (%s)\n", i, auth_role_name(cases[i].role));
		CHECK_INT_EQ(got, cases[i].want);
	}
}

/* ---- graph properties ------------------------------------------------------------------- */

/* Every state is reachable from reported by admin actions (both outcomes); every non-final
 * state has a way out for someone; admins can do whatever any other role can. */
static void test_graph(void)
{
	bool seen[WF_STATE_COUNT] = {false};
	struct workflow_case queue[64];
	size_t head = 0, tail = 0;
	queue[tail++] = case_in(WF_STATE_REPORTED);
	seen[WF_STATE_REPORTED] = true;
	while (head < tail) {
		struct workflow_case c = queue[head++];
		for (int a = 0; a < WF_ACTION_COUNT; a++) {
			for (int neg = 0; neg <= 1; neg++) {
				struct workflow_step st;
				if (workflow_decide(&c, ROLE_ADMIN, (enum workflow_action)a, neg, &st, NULL) != CD_OK)
					continue;
				if (!seen[st.after.state] && tail < sizeof queue / sizeof queue[0]) {
					seen[st.after.state] = true;
					queue[tail++] = st.after;
				}
			}
		}
	}
	for (int s = WF_STATE_NONE + 1; s < WF_STATE_COUNT; s++) {
		if (!seen[s])
			fprintf(stderr, "  unreachable: %s\n", workflow_state_name((enum workflow_state)s));
		CHECK(seen[s]);
	}
	for (int s = WF_STATE_NONE + 1; s < WF_STATE_COUNT; s++) {
		struct workflow_case c = case_in((enum workflow_state)s);
		c.prior = s == WF_STATE_MERGED ? WF_STATE_REPORTED : WF_STATE_DISPATCHED;
		uint32_t any = 0;
		for (int r = 0; r < ROLE_COUNT; r++) {
			uint32_t set = workflow_allowed(&c, (enum auth_role)r);
			CHECK_INT_EQ(set & ~workflow_allowed(&c, ROLE_ADMIN), 0);
			any |= set;
		}
		/* Every state but rated has a state-changing way forward; rated can be reopened. */
		CHECK(any != 0);
	}
	/* The store's scheduler indexes (STORE__CASE_OPEN, migration 0003) list these names. */
	for (int s = WF_STATE_NONE + 1; s < WF_STATE_COUNT; s++)
		CHECK_INT_EQ(workflow_state_clock_runs((enum workflow_state)s),
			     has_word("reported registered dispatched accepted handled verified",
				      workflow_state_name((enum workflow_state)s)));
	CHECK(workflow_state_is_final(WF_STATE_RATED));
	CHECK(!workflow_state_is_final(WF_STATE_SUSPENDED));
	CHECK(!workflow_state_is_final(WF_STATE_NONE));
	CHECK(!workflow_state_clock_runs(WF_STATE_NONE));
	CHECK(!workflow_state_clock_runs(WF_STATE_CLOSED));
	CHECK(workflow_state_clock_runs(WF_STATE_REPORTED));
	CHECK(workflow_state_clock_runs(WF_STATE_VERIFIED));
	CHECK(!workflow_state_clock_runs(WF_STATE_COUNT));
}

static const struct test_case tests[] = {
    {"names_round_trip", test_names_round_trip},
    {"names_exact", test_names_exact},
    {"happy_path", test_happy_path},
    {"matrix", test_matrix},
    {"role_refusals", test_role_refusals},
    {"verify_failed_goes_back", test_verify_failed_goes_back},
    {"rating", test_rating},
    {"suspend_resume", test_suspend_resume},
    {"merge", test_merge},
    {"reopen", test_reopen},
    {"extension", test_extension},
    {"supervise_escalate", test_supervise_escalate},
    {"other_paths", test_other_paths},
    {"invalid_arguments", test_invalid_arguments},
    {"params", test_params},
    {"scope", test_scope},
    {"graph", test_graph},
};

TEST_MAIN(tests)
