/* The intake pipeline; see intake.h. */
#include "app/intake.h"
#include "app/events.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/automerge.h"
#include "app/case_refs.h"
#include "app/commit_queue.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/classify.h"
#include "core/classify_kw.h"
#include "core/locate.h"
#include "core/similar.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str.h"
#include "core/text.h"
#include "core/workflow.h"

void intake_normalize_text(const char *in, char *out, size_t cap)
{
	/* Cleaned and folded (full-width to half-width, control and zero-width characters out,
	 * white space folded), but in the script the resident wrote: Traditional stays
	 * Traditional on screen; the models see the Simplified form (stage_classify). A text cut
	 * to fit (CD_ERR_TOOBIG) keeps its valid prefix, which is what the caps ask for. */
	enum cd_err rc = text_normalize(NULL, in ? in : "", in ? strlen(in) : 0, TEXT_FOLD, out, cap, NULL);
	if (rc && rc != CD_ERR_TOOBIG)
		out[0] = '\0';
}

void intake_category_limit(struct app *app, const char *category, struct cal_limit *lim, char urgency[16])
{
	const struct category *c = category && *category ? category_get(app->cats, category) : NULL;
	lim->kind = CAL_WORKING_DAYS;
	lim->amount = 5;
	str_copy(urgency, 16, "normal");
	if (!c)
		return;
	switch (c->limit.kind) {
	case CATEGORY_LIMIT_WORKING_DAYS:
		lim->kind = CAL_WORKING_DAYS;
		lim->amount = c->limit.value;
		break;
	case CATEGORY_LIMIT_WORKING_HOURS:
		lim->kind = CAL_WORKING_HOURS;
		lim->amount = c->limit.value * 60; /* the calendar counts hours in minutes */
		break;
	case CATEGORY_LIMIT_HOURS:
		lim->kind = CAL_HOURS;
		lim->amount = c->limit.value * 60;
		break;
	case CATEGORY_LIMIT_NONE:
		break;
	}
	static const char *const urgencies[] = {
		[CATEGORY_URGENCY_NONE] = "normal",
		[CATEGORY_URGENCY_NORMAL] = "normal",
		[CATEGORY_URGENCY_URGENT] = "urgent",
		[CATEGORY_URGENCY_EMERGENCY] = "emergency",
	};
	if ((unsigned)c->urgency < sizeof urgencies / sizeof urgencies[0])
		str_copy(urgency, 16, urgencies[c->urgency]);
}

enum cd_err intake_deadline(struct app *app, int64_t from, struct cal_limit lim, int64_t *deadline,
			    int64_t *warn_at)
{
	enum cd_err rc = cal_deadline(app->cal, from, lim, deadline);
	if (!rc)
		rc = cal_fraction_moment(app->cal, from, *deadline, lim.kind, 0.8, warn_at);
	return rc;
}

/* Routing memo. Routing a case asks the responsibility list up to five times (the category,
 * its ancestors, "*"), each a read transaction on a page cache the intake applier's commits
 * keep invalidating: ~10 % of a worker's time per case. The answer depends only on (category,
 * community, street), the category tree and the list, so it is remembered per triple, tagged
 * with store_map_generation read before the lookups (an import through this process drops
 * every entry) and kept at most ROUTE_MEMO_TTL_MS (an import by another process). */
#define ROUTE_MEMO_SLOTS 4096
#define ROUTE_MEMO_TTL_MS 5000

struct route_memo {
	const struct store *st;               /* NULL = empty */
	const void *cats;                     /* the category tree the ancestors came from */
	uint64_t gen;                         /* store_map_generation before the lookups */
	int64_t until_ms;                     /* monotonic expiry */
	char category[STORE_CATEGORY_MAX];    /* the key ... */
	char community[STORE_CODE_MAX];
	char street[STORE_CODE_MAX];
	char unit[STORE_CODE_MAX];            /* ... and the answer ("" = none) */
};

static struct route_memo route_memo[ROUTE_MEMO_SLOTS];
static pthread_mutex_t route_memo_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t route_hash(const char *a, const char *b, const char *c)
{
	uint32_t h = STR_FNV_SEED;
	const char *parts[3] = {a, b, c};
	for (int i = 0; i < 3; i++) /* a separator after each: ("ab","") differs from ("a","b") */
		h = str_fnv1a(str_fnv1a(h, parts[i]), "\xff");
	return h;
}

static void route_lookup(struct app *app, const char *category, const char *community, const char *street,
			 char unit[STORE_CODE_MAX])
{
	const char *codes[CATEGORY_MAX_DEPTH + 2];
	size_t n = 0;
	unit[0] = '\0';
	if (*category)
		n = category_ancestors(app->cats, category, codes, CATEGORY_MAX_DEPTH);
	codes[n++] = "*";
	for (size_t i = 0; i < n; i++)
		if (store_resp_lookup(app->st, codes[i], community, street, unit) == CD_OK)
			return;
	unit[0] = '\0';
}

void intake_route(struct app *app, const char *category, const char *community, const char *street,
		  char unit[STORE_CODE_MAX])
{
	category = category ? category : "";
	community = community ? community : "";
	street = street ? street : "";
	if (strlen(category) >= STORE_CATEGORY_MAX || strlen(community) >= STORE_CODE_MAX ||
	    strlen(street) >= STORE_CODE_MAX) {
		route_lookup(app, category, community, street, unit); /* too long to remember */
		return;
	}
	uint64_t gen = store_map_generation(app->st);
	int64_t now = clock_mono_ms();
	struct route_memo *m = &route_memo[route_hash(category, community, street) % ROUTE_MEMO_SLOTS];
	bool hit = false;
	pthread_mutex_lock(&route_memo_lock);
	if (m->st == app->st && m->cats == (const void *)app->cats && m->gen == gen && now < m->until_ms &&
	    strcmp(m->category, category) == 0 && strcmp(m->community, community) == 0 &&
	    strcmp(m->street, street) == 0) {
		memcpy(unit, m->unit, STORE_CODE_MAX);
		hit = true;
	}
	pthread_mutex_unlock(&route_memo_lock);
	if (hit)
		return;
	route_lookup(app, category, community, street, unit);
	pthread_mutex_lock(&route_memo_lock);
	m->st = app->st;
	m->cats = app->cats;
	m->gen = gen;
	m->until_ms = now + ROUTE_MEMO_TTL_MS;
	str_copy(m->category, sizeof m->category, category);
	str_copy(m->community, sizeof m->community, community);
	str_copy(m->street, sizeof m->street, street);
	memcpy(m->unit, unit, STORE_CODE_MAX);
	pthread_mutex_unlock(&route_memo_lock);
}

/* Stage: locate. Fills the case's place from the point, or else from the address. */
static enum cd_err stage_locate(struct app *app, const struct intake_request *in, struct store_case *c,
				struct json_problem *p)
{
	pthread_rwlock_rdlock(&app->map_lock);
	const struct mapview *m = app->map;
	enum cd_err rc = CD_OK;
	if (!m || !m->index) {
		rc = CD_ERR_INVALID;
		json_problem_set(p, 422, "no_district", NULL, "no district boundaries are loaded");
		goto out;
	}
	if (in->has_point) {
		struct locate_hit hit;
		struct geo_point pt = {in->lng, in->lat};
		if (locate_find(m->index, pt, &hit)) {
			rc = CD_ERR_INVALID;
			json_problem_set(p, 422, "outside_jurisdiction", "lat",
					 "该位置不在本辖区内 (the point is outside the district)");
			goto out;
		}
		c->has_point = 1;
		c->lat = in->lat;
		c->lng = in->lng;
		if (hit.street >= 0)
			str_copy(c->street_code, sizeof c->street_code, m->streets.items[hit.street].code);
		if (hit.community >= 0)
			str_copy(c->community_code, sizeof c->community_code, m->communities.items[hit.community].code);
		if (hit.grid_code)
			str_copy(c->grid_code, sizeof c->grid_code, hit.grid_code);
		goto out;
	}
	long street, community;
	mapview_match_address(m, in->address, &street, &community);
	if (street >= 0)
		str_copy(c->street_code, sizeof c->street_code, m->streets.items[street].code);
	if (community >= 0)
		str_copy(c->community_code, sizeof c->community_code, m->communities.items[community].code);
out:
	pthread_rwlock_unlock(&app->map_lock);
	return rc;
}

size_t intake_classify(struct app *app, const char *title, const char *description, size_t k,
		       struct classify_result *out, double *auto_min)
{
	char raw[STORE_CASE_TITLE_MAX + STORE_CASE_DESC_MAX];
	snprintf(raw, sizeof raw, "%s\n%s", title ? title : "", description ? description : "");
	if (app->model) {
		*auto_min = INTAKE_AUTO_MODEL_MIN;
		return classify_model_top(app->model, raw, strlen(raw), k, out); /* normalizes itself */
	}
	/* Traditional, full-width and noisy input classify as their Simplified, clean form. */
	char text[sizeof raw];
	struct text_norm *tn = NULL;
	enum cd_err rc = text_norm_shared(&tn);
	if (!rc)
		rc = text_normalize(tn, raw, strlen(raw), TEXT_ALL, text, sizeof text, NULL);
	if (rc && rc != CD_ERR_TOOBIG)
		str_copy(text, sizeof text, raw);
	*auto_min = INTAKE_AUTO_KEYWORD_MIN;
	return classify_kw_top(app->classifier, text, strlen(text), k, out);
}

/* Stage: classify. A given category must exist; otherwise the classifier proposes one, taken
 * only above its threshold (the case then waits for a dispatcher to set it). */
static enum cd_err stage_classify(struct app *app, const struct intake_request *in, struct store_case *c,
				  struct json_problem *p)
{
	if (in->category && *in->category) {
		if (!category_get(app->cats, in->category)) {
			json_problem_set(p, 422, "unknown_category", "category", "unknown category code \"%.40s\"",
					 in->category);
			return CD_ERR_INVALID;
		}
		str_copy(c->category_code, sizeof c->category_code, in->category);
		str_copy(c->category_source, sizeof c->category_source, "given");
		c->category_confidence = 1.0;
		return CD_OK;
	}
	struct classify_result top;
	double auto_min;
	if (intake_classify(app, c->title, c->description, 1, &top, &auto_min) == 1 &&
	    category_get(app->cats, top.code)) {
		c->category_confidence = top.confidence;
		if (top.confidence >= auto_min) {
			str_copy(c->category_code, sizeof c->category_code, top.code);
			str_copy(c->category_source, sizeof c->category_source,
				 strcmp(top.source, "keyword") == 0 ? "keyword" : "auto");
		}
	}
	return CD_OK;
}

/* Zeroes *c and *ev except their large texts, which are left empty: the description (12 of the
 * case's 16 KB; written whole, terminated, by the normalize stage) and the event's comment and
 * data (8 of its 8 KB; data is written below). Every reader stops at a text's terminator, and
 * two 24 KB memsets per report were ~3 % of an HTTP worker's time. */
static void clear_but_texts(struct store_case *c, struct store_case_event *ev)
{
	const size_t desc = offsetof(struct store_case, description), desc_end = desc + sizeof c->description;
	memset(c, 0, desc);
	c->description[0] = '\0';
	memset((char *)c + desc_end, 0, sizeof *c - desc_end);
	const size_t texts = offsetof(struct store_case_event, comment);
	_Static_assert(offsetof(struct store_case_event, data) == offsetof(struct store_case_event, comment) +
										STORE_CASE_EVENT_TEXT_MAX &&
			       sizeof(struct store_case_event) == offsetof(struct store_case_event, data) +
									  STORE_CASE_EVENT_TEXT_MAX,
		       "the event's comment and data are its last fields");
	memset(ev, 0, texts);
	ev->comment[0] = '\0';
	ev->data[0] = '\0';
}

enum cd_err intake_prepare(struct app *app, const struct intake_request *in, struct store_case *c,
			   struct store_case_event *ev, struct similar_case *sig, struct json_problem *p)
{
	clear_but_texts(c, ev);
	int64_t now = (int64_t)time(NULL);

	/* normalize */
	str_copy(c->channel, sizeof c->channel, in->channel);
	str_copy(c->external_id, sizeof c->external_id, in->external_id ? in->external_id : "");
	intake_normalize_text(in->title, c->title, sizeof c->title);
	intake_normalize_text(in->description, c->description, sizeof c->description);
	intake_normalize_text(in->address, c->address, sizeof c->address);
	intake_normalize_text(in->reporter_name, c->reporter_name, sizeof c->reporter_name);
	intake_normalize_text(in->reporter_phone, c->reporter_phone, sizeof c->reporter_phone);
	if (!c->description[0]) {
		json_problem_set(p, 422, "invalid_field", "description", "description must not be empty");
		return CD_ERR_INVALID;
	}
	str_copy(c->attachments, sizeof c->attachments, in->attachments ? in->attachments : "[]");
	c->reported_at = in->reported_at ? in->reported_at : now;
	c->reporter_user_id = in->reporter_user_id;

	/* locate, classify */
	enum cd_err rc = stage_locate(app, in, c, p);
	if (!rc)
		rc = stage_classify(app, in, c, p);
	if (rc)
		return rc;

	/* route: the unit the dispatcher will send it to unless told otherwise */
	intake_route(app, c->category_code, c->community_code, c->street_code, c->unit_code);

	/* duplicates: the best earlier case near in place and time with similar text */
	struct similar_case scratch, *sc = sig ? sig : &scratch;
	memset(sc, 0, sizeof *sc);
	if (app->similar &&
	    similar_case_make(sc, 0, c->reported_at, c->has_point, c->lat, c->lng, c->category_code,
			      c->grid_code[0] ? c->grid_code : c->community_code, c->title, c->description) == CD_OK) {
		struct similar_hit hit;
		if (similar_query(app->similar, sc, &hit, 1) == 1) {
			c->duplicate_of = hit.id;
			case_refs_note(app->st, hit.id, hit.ref); /* the answer prints it */
		}
	} else {
		sc->shingles = 0; /* nothing signed: intake_index_case signs it itself */
	}

	/* deadline */
	struct cal_limit lim;
	intake_category_limit(app, c->category_code, &lim, c->urgency);
	if (in->has_limit)
		lim = in->limit;
	rc = intake_deadline(app, c->reported_at, lim, &c->deadline, &c->warn_at);
	if (rc) {
		json_problem_set(p, 422, "invalid_field", in->reported_at ? "reported_at" : "time_limit",
				 "no deadline can be computed from this time and limit");
		return CD_ERR_INVALID;
	}
	str_copy(c->limit_kind, sizeof c->limit_kind, cal_kind_name(lim.kind));
	c->limit_value = lim.kind == CAL_WORKING_DAYS ? lim.amount : lim.amount / 60.0;
	str_copy(c->status, sizeof c->status, workflow_state_name(WF_STATE_REPORTED));
	str_copy(c->level, sizeof c->level, workflow_level_name(WF_LEVEL_COMMUNITY));
	c->support_count = 1;

	/* the first event of its history */
	ev->at = now;
	str_copy(ev->actor, sizeof ev->actor, in->actor);
	str_copy(ev->role, sizeof ev->role, in->actor_role);
	str_copy(ev->action, sizeof ev->action, "report");
	str_copy(ev->to_status, sizeof ev->to_status, c->status);
	const char *extra = in->event_data ? in->event_data : "";
	while (*extra == ' ')
		extra++;
	if (extra[0] == '{' && extra[1] != '}') { /* "{...}": its members after the channel */
		int n = snprintf(ev->data, sizeof ev->data, "{\"channel\":\"%s\",%s", c->channel, extra + 1);
		if (n < 0 || (size_t)n >= sizeof ev->data) {
			json_problem_set(p, 422, "invalid_field", "attributes", "the report's extra data is too long");
			return CD_ERR_INVALID;
		}
	} else {
		snprintf(ev->data, sizeof ev->data, "{\"channel\":\"%s\"}", c->channel);
	}
	return CD_OK;
}

enum cd_err intake_submit(struct app *app, const struct intake_request *in, struct store_case *c,
			  bool *created, struct json_problem *p)
{
	struct store_case_event ev;
	struct similar_case sig;
	*created = false;
	enum cd_err rc = intake_prepare(app, in, c, &ev, &sig, p);
	if (rc)
		return rc;
	/* one transaction, with every other case that arrived meanwhile */
	rc = commit_queue_submit(app->intake, c, &ev);
	if (rc == CD_ERR_EXISTS)
		return CD_OK; /* the same report again: *c is the stored one */
	if (rc == CD_ERR_INVALID) {
		json_problem_set(p, 422, "invalid_field", NULL, "the store refused the case");
		return rc;
	}
	if (rc == CD_ERR_RANGE) {
		json_problem_set(p, 503, "day_full", "reported_at", "%s", INTAKE_DAY_FULL_MESSAGE);
		return rc;
	}
	if (rc)
		return rc;
	*created = true;
	events_case(app->events, "case.created", c);
	intake_index_case(app, c, &sig);
	return CD_OK;
}

void intake_index_case(struct app *app, const struct store_case *c, struct similar_case *sig)
{
	struct similar_case own;
	case_refs_note(app->st, c->id, c->ref);
	if (!app->similar)
		return;
	enum cd_err rc = CD_OK;
	if (!sig || !sig->shingles) { /* not signed at intake: sign now */
		sig = &own;
		rc = similar_case_make(sig, c->id, c->reported_at, c->has_point, c->lat, c->lng, c->category_code,
				       c->grid_code[0] ? c->grid_code : c->community_code, c->title, c->description);
	}
	sig->id = c->id;
	str_copy(sig->ref, sizeof sig->ref, c->ref);
	if (!rc)
		rc = similar_add(app->similar, sig);
	if (rc)
		log_warn("duplicate finder: case not indexed", "\"case\":%lld", (long long)c->id);
	else
		automerge_offer(app, c, sig); /* queued; merged later on its own thread when it qualifies */
}
