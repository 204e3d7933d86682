/* /api/v1/insights (clusters of one class of things, hot spots, rising terms) and
 * /api/v1/cases/{id}/similar: each reads the cases it needs from the store, within the
 * caller's scope, and runs core/insights or core/similar over them. Also the start-up loader
 * of the app's duplicate finder (api_similar_load). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/insights.h"
#include "core/similar.h"
#include "core/workflow.h"
#include "util/alloc.h"
#include "util/log.h"

/* Declared here until the route table's header (api/api.h) carries them; the same lines go
 * there (see docs/internals/similar.md, "Wiring"). */
void api_insights_clusters(struct http_request *req, struct http_response *res, void *app);
void api_insights_hotspots(struct http_request *req, struct http_response *res, void *app);
void api_insights_terms(struct http_request *req, struct http_response *res, void *app);
void api_cases_similar(struct http_request *req, struct http_response *res, void *app);
/* Fills the duplicate finder with the cases reported since now - its window that are not
 * rejected or merged (one read by id each: start-up only). *loaded gets how many. */
enum cd_err api_similar_load(struct store *st, int64_t now, struct similar_index *ix,
			     size_t *loaded) CD_MUST_CHECK;

#define LOAD_MAX 50000	       /* cases one insights request reads at most */
#define SIMILAR_SCAN_MAX 20000 /* cases GET .../similar compares at most */
#define DAY 86400

/* One case as these handlers keep it. */
struct lcase {
	int64_t id;
	char ref[STORE_CASE_REF_MAX];
	int64_t reported_at;
	char *title, *description; /* owned */
	char category[CATEGORY_CODE_MAX];
	char street[STORE_CODE_MAX], community[STORE_CODE_MAX], grid[STORE_CODE_MAX];
	char status[STORE_CASE_WORD_MAX];
	int has_point;
	double lat, lng;
};

struct lset {
	struct lcase *c;
	size_t n, cap;
	int truncated; /* 1 when LOAD_MAX (or the caller's cap) stopped the read */
};

static void lset_release(struct lset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		xfree(s->c[i].title);
		xfree(s->c[i].description);
	}
	xfree(s->c);
	memset(s, 0, sizeof *s);
}

/* Reads every case matching f (from/to set) newest first, at most max, skipping cases merged
 * into another. Pages by time (keyset), not by offset: deep offsets walk skipped rows. */
static enum cd_err load_cases(struct store *st, struct store_case_filter f, size_t max, struct lset *out)
{
	memset(out, 0, sizeof *out);
	int64_t same = 0; /* cases already read at the current `to - 1` second */
	for (;;) {
		struct store_case_page pg;
		memset(&pg, 0, sizeof pg);
		enum cd_err rc = store_cases_list(st, &f, same, STORE_CASES_PAGE_MAX, &pg);
		if (rc)
			return rc;
		for (size_t i = 0; i < pg.n; i++) {
			const struct store_case *c = &pg.cases[i];
			if (c->reported_at + 1 == f.to)
				same++;
			else
				same = 1, f.to = c->reported_at + 1;
			if (c->merged_into)
				continue;
			if (out->n == max) {
				out->truncated = 1;
				store_case_page_release(&pg);
				return CD_OK;
			}
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 256;
				out->c = xrealloc(out->c, out->cap * sizeof *out->c);
			}
			struct lcase *l = &out->c[out->n++];
			memset(l, 0, sizeof *l);
			l->id = c->id;
			snprintf(l->ref, sizeof l->ref, "%s", c->ref);
			l->reported_at = c->reported_at;
			l->title = xstrdup(c->title);
			l->description = xstrdup(c->description);
			snprintf(l->category, sizeof l->category, "%.23s", c->category_code);
			snprintf(l->street, sizeof l->street, "%s", c->street_code);
			snprintf(l->community, sizeof l->community, "%s", c->community_code);
			snprintf(l->grid, sizeof l->grid, "%s", c->grid_code);
			snprintf(l->status, sizeof l->status, "%s", c->status);
			l->has_point = c->has_point;
			l->lat = c->lat;
			l->lng = c->lng;
		}
		size_t got = pg.n;
		store_case_page_release(&pg);
		if (got < STORE_CASES_PAGE_MAX)
			return CD_OK;
	}
}

/* The docs core/insights reads, pointing into s. xfree the array. */
static struct insights_doc *docs_of(const struct lset *s)
{
	struct insights_doc *d = xcalloc(s->n ? s->n : 1, sizeof *d);
	for (size_t i = 0; i < s->n; i++) {
		const struct lcase *c = &s->c[i];
		d[i] = (struct insights_doc){c->id,	  c->reported_at, c->title,	c->description,
					     c->category, c->street,	  c->community, c->grid};
	}
	return d;
}

/* The caller's scope on a list filter, as GET /api/v1/cases applies it. */
static void scope_filter(const struct api_caller *who, struct store_case_filter *f)
{
	if (who->role == ROLE_STREET_DISPATCHER ||
	    (who->role == ROLE_GRID_WORKER && who->user.street_code[0]))
		f->scope_street = who->user.street_code;
	if (who->role == ROLE_UNIT_STAFF)
		f->scope_unit = who->user.unit_code;
}

/* Reads ?name= as an ISO 8601 time; *out keeps its value when absent. */
static bool query_time(struct http_request *req, struct http_response *res, const char *name, int64_t *out)
{
	const char *v = http_query_get(req, name);
	if (!v || !*v)
		return true;
	if (!api_parse_time(v, out)) {
		http_error(res, 422, "invalid_parameter",
			   "an ISO 8601 date or time, e.g. 2026-11-27T08:00:00+08:00", name);
		return false;
	}
	return true;
}

/* Reads ?from=&to= with defaults (to = now, from = to - default_days); 422 when to <= from or
 * the period is over a year. */
static bool query_period(struct http_request *req, struct http_response *res, int default_days, int64_t *from,
			 int64_t *to)
{
	*to = (int64_t)time(NULL) + 1;
	*from = 0;
	if (!query_time(req, res, "to", to) || !query_time(req, res, "from", from))
		return false;
	if (!*from)
		*from = *to - (int64_t)default_days * DAY;
	if (*to <= *from || *to - *from > 366 * DAY) {
		http_error(res, 422, "invalid_parameter", "from must be before to, at most a year apart",
			   "from");
		return false;
	}
	return true;
}

static const char *ref_of(const struct lset *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++) /* members are few; cases many: linear is fine per member list */
		if (s->c[i].id == id)
			return s->c[i].ref;
	return "";
}

/* {"code","name","count"} for an area code. */
static json_t *area_json(struct app *app, const struct insights_count *c)
{
	char name[STORE_NAME_MAX];
	mapview_area_name(&app->map_lock, &app->map, c->code, name, sizeof name);
	return json_pack("{s:s, s:s, s:I}", "code", c->code, "name", name, "count", (json_int_t)c->n);
}

static json_t *category_json(struct app *app, const char *code, size_t n)
{
	const struct category *cat = code[0] ? category_get(app->cats, code) : NULL;
	return json_pack("{s:s, s:s, s:I}", "code", code, "name", cat ? cat->name : "", "count",
			 (json_int_t)n);
}

static json_t *time_json(int64_t t)
{
	char iso[32];
	api_time_iso(t, iso);
	return json_string(iso);
}

static const char *trend_of(size_t now, size_t before)
{
	if (!before)
		return "new";
	if (now * 4 >= before * 5)
		return "rising";
	if (now * 5 <= before * 4)
		return "falling";
	return "steady";
}

static const unsigned may_analyse = API_ANY_ROLE & ~API_ROLE(ROLE_CITIZEN);

void api_insights_clusters(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, may_analyse);
	int64_t from, to;
	if (!who || !query_period(req, res, 30, &from, &to))
		return;
	const char *street = http_query_get(req, "street");
	if (street && strlen(street) >= STORE_CODE_MAX) {
		http_error(res, 422, "invalid_parameter", "value too long", "street");
		return;
	}
	struct store_case_filter f;
	memset(&f, 0, sizeof f);
	f.from = from - (to - from); /* the period before, for the trend */
	f.to = to;
	f.street_code = street && *street ? street : NULL;
	scope_filter(who, &f);
	struct lset s;
	enum cd_err rc = load_cases(app->st, f, LOAD_MAX, &s);
	if (rc) {
		lset_release(&s);
		api_store_failed(req, res, rc);
		return;
	}
	struct insights_doc *docs = docs_of(&s);
	struct insights_cluster_opts o;
	insights_cluster_opts_default(&o);
	o.from = from;
	o.to = to;
	struct insights_clusters cl;
	rc = insights_cluster(NULL, docs, s.n, &o, &cl);
	if (rc) {
		xfree(docs);
		lset_release(&s);
		api_store_failed(req, res, rc);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < cl.n; i++) {
		const struct insights_cluster *c = &cl.items[i];
		json_t *terms = json_array(), *streets = json_array(), *comms = json_array(),
		       *members = json_array();
		for (size_t k = 0; k < c->n_terms; k++)
			json_array_append_new(terms, json_string(c->terms[k]));
		for (size_t k = 0; k < c->n_streets; k++)
			json_array_append_new(streets, area_json(app, &c->streets[k]));
		for (size_t k = 0; k < c->n_communities; k++)
			json_array_append_new(comms, area_json(app, &c->communities[k]));
		for (size_t k = 0; k < c->n_members; k++)
			json_array_append_new(members,
					      json_pack("{s:I, s:s}", "id", (json_int_t)c->members[k], "ref",
							ref_of(&s, c->members[k])));
		json_array_append_new(
		    items,
		    json_pack("{s:s, s:o, s:I, s:I, s:s, s:o, s:o, s:o, s:{s:I, s:o, s:o}, s:o}", "label",
			      c->label, "terms", terms, "count", (json_int_t)c->count, "previous",
			      (json_int_t)c->previous, "trend", trend_of(c->count, c->previous), "first_seen",
			      time_json(c->first_seen), "last_seen", time_json(c->last_seen), "category",
			      category_json(app, c->category.code, c->category.n), "places", "count",
			      (json_int_t)c->n_places, "streets", streets, "communities", comms, "members",
			      members));
	}
	json_t *reply = json_pack("{s:o, s:o, s:I, s:b, s:o}", "from", time_json(from), "to", time_json(to),
				  "cases", (json_int_t)cl.docs, "truncated", s.truncated, "items", items);
	http_respond_json(res, 200, reply);
	json_decref(reply);
	insights_clusters_release(&cl);
	xfree(docs);
	lset_release(&s);
}

void api_insights_hotspots(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, may_analyse);
	int64_t from, to;
	if (!who || !query_period(req, res, 7, &from, &to))
		return;
	const char *lv = http_query_get(req, "level");
	enum insights_level level = INSIGHTS_GRID;
	if (lv && *lv) {
		if (strcmp(lv, "community") == 0)
			level = INSIGHTS_COMMUNITY;
		else if (strcmp(lv, "street") == 0)
			level = INSIGHTS_STREET;
		else if (strcmp(lv, "grid") != 0) {
			http_error(res, 422, "invalid_parameter", "level is grid, community or street",
				   "level");
			return;
		}
	}
	struct store_case_filter f;
	memset(&f, 0, sizeof f);
	f.from = from - (to - from);
	f.to = to;
	scope_filter(who, &f);
	struct lset s;
	enum cd_err rc = load_cases(app->st, f, LOAD_MAX, &s);
	if (rc) {
		lset_release(&s);
		api_store_failed(req, res, rc);
		return;
	}
	struct insights_doc *docs = docs_of(&s);
	struct insights_hotspot *h = xcalloc(100, sizeof *h);
	size_t n = 0;
	rc = insights_hotspots(docs, s.n, from, to, level, h, 100, &n);
	json_t *items = json_array();
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *mix = json_array();
		for (size_t k = 0; k < h[i].n_mix; k++)
			json_array_append_new(mix, category_json(app, h[i].mix[k].code, h[i].mix[k].n));
		char name[STORE_NAME_MAX] = "";
		if (level != INSIGHTS_GRID)
			mapview_area_name(&app->map_lock, &app->map, h[i].code, name, sizeof name);
		json_array_append_new(items, json_pack("{s:s, s:s, s:I, s:I, s:f, s:o}", "code", h[i].code,
						       "name", name, "count", (json_int_t)h[i].count,
						       "previous", (json_int_t)h[i].previous, "growth",
						       h[i].growth, "categories", mix));
	}
	static const char *const level_names[] = {"grid", "community", "street"};
	json_t *reply =
	    json_pack("{s:s, s:o, s:o, s:b, s:o}", "level", level_names[level], "from", time_json(from), "to",
		      time_json(to), "truncated", s.truncated, "items", items);
	if (rc)
		api_store_failed(req, res, rc);
	else
		http_respond_json(res, 200, reply);
	json_decref(reply);
	xfree(h);
	xfree(docs);
	lset_release(&s);
}

void api_insights_terms(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, may_analyse);
	int64_t now = (int64_t)time(NULL) + 1;
	if (!who || !query_time(req, res, "to", &now))
		return;
	struct store_case_filter f;
	memset(&f, 0, sizeof f);
	f.from = now - 35 * DAY;
	f.to = now;
	scope_filter(who, &f);
	struct lset s;
	enum cd_err rc = load_cases(app->st, f, LOAD_MAX, &s);
	if (rc) {
		lset_release(&s);
		api_store_failed(req, res, rc);
		return;
	}
	struct insights_doc *docs = docs_of(&s);
	struct insights_term t[30];
	size_t n = 0;
	rc = insights_terms(NULL, docs, s.n, now, 3, t, 30, &n);
	json_t *items = json_array();
	for (size_t i = 0; !rc && i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:I, s:f, s:f}", "term", t[i].term, "count",
						       (json_int_t)t[i].count, "weekly_before",
						       t[i].weekly_before, "ratio", t[i].ratio));
	json_t *reply = json_pack("{s:o, s:o, s:b, s:o}", "week_from", time_json(now - 7 * DAY), "week_to",
				  time_json(now), "truncated", s.truncated, "items", items);
	if (rc)
		api_store_failed(req, res, rc);
	else
		http_respond_json(res, 200, reply);
	json_decref(reply);
	xfree(docs);
	lset_release(&s);
}

void api_cases_similar(struct http_request *req, struct http_response *res, void *ctx)
{
	struct app *app = ctx;
	struct api_caller *who = api_require(req, res, app, may_analyse);
	struct store_case *c = http_alloc(req, sizeof *c);
	if (!who || !c)
		return;
	/* the case, if it exists and the caller may see it (as GET /api/v1/cases/{id}) */
	enum cd_err rc =
	    store_case_get_by_ref(app->st, http_param(req, "id") ? http_param(req, "id") : "", c);
	if (rc && rc != CD_ERR_NOTFOUND) {
		api_store_failed(req, res, rc);
		return;
	}
	struct workflow_scope scope = {
	    who->user.street_code[0] ? who->user.street_code : NULL,
	    who->user.unit_code[0] ? who->user.unit_code : NULL,
	    rc == CD_OK && c->street_code[0] ? c->street_code : NULL,
	    rc == CD_OK && c->unit_code[0] ? c->unit_code : NULL,
	    0,
	};
	if (rc == CD_ERR_NOTFOUND || !workflow_in_scope(who->role, &scope)) {
		http_error(res, 404, "not_found", "没有这个案件 (no such case)", NULL);
		return;
	}
	/* its neighbours in time (and street, when placed), scored by the duplicate finder */
	struct similar_config cfg;
	similar_config_default(&cfg);
	struct store_case_filter f;
	memset(&f, 0, sizeof f);
	f.from = c->reported_at - cfg.window_s;
	f.to = c->reported_at + cfg.window_s + 1;
	f.street_code = c->street_code[0] ? c->street_code : NULL;
	scope_filter(who, &f);
	struct lset s;
	struct similar_index *ix = similar_new(&cfg);
	struct similar_case q;
	rc = load_cases(app->st, f, SIMILAR_SCAN_MAX, &s);
	for (size_t i = 0; !rc && i < s.n; i++) {
		const struct lcase *l = &s.c[i];
		struct similar_case sc;
		if (l->id == c->id || !strcmp(l->status, "rejected"))
			continue;
		rc = similar_case_make(&sc, l->id, l->reported_at, l->has_point, l->lat, l->lng, l->category,
				       l->grid[0] ? l->grid : l->community, l->title, l->description);
		if (!rc)
			rc = similar_add(ix, &sc);
	}
	if (!rc)
		rc = similar_case_make(&q, c->id, c->reported_at, c->has_point, c->lat, c->lng,
				       c->category_code, c->grid_code[0] ? c->grid_code : c->community_code,
				       c->title, c->description);
	if (rc) {
		similar_free(ix);
		lset_release(&s);
		api_store_failed(req, res, rc);
		return;
	}
	struct similar_hit hits[20];
	size_t n = similar_query(ix, &q, hits, 20);
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct lcase *l = NULL;
		for (size_t k = 0; k < s.n && !l; k++)
			if (s.c[k].id == hits[i].id)
				l = &s.c[k];
		if (!l)
			continue;
		json_t *it =
		    json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:f, s:f, s:f, s:s}", "id", (json_int_t)l->id,
			      "ref", l->ref, "title", l->title, "status", l->status, "reported_at",
			      time_json(l->reported_at), "category_code", l->category, "score", hits[i].score,
			      "text_similarity", hits[i].text, "hours_apart", hits[i].dt_s / 3600.0, "level",
			      hits[i].score >= cfg.merge ? "merge" : "possible");
		json_object_set_new(it, "distance_m",
				    hits[i].distance_m >= 0 ? json_real(hits[i].distance_m) : json_null());
		json_object_set_new(it, "same_category",
				    hits[i].same_category < 0 ? json_null()
							      : json_boolean(hits[i].same_category));
		json_array_append_new(items, it);
	}
	json_t *reply = json_pack("{s:s, s:{s:f, s:f, s:f, s:I}, s:o}", "ref", c->ref, "thresholds",
				  "possible", cfg.possible, "merge", cfg.merge, "radius_m", cfg.radius_m,
				  "window_days", (json_int_t)(cfg.window_s / DAY), "items", items);
	http_respond_json(res, 200, reply);
	json_decref(reply);
	similar_free(ix);
	lset_release(&s);
}

/* Collects the ids store_cases_recent hands over (the store is busy during the walk). */
struct id_list {
	int64_t *ids;
	size_t n, cap;
};

static int collect_id(void *ctx, const struct store_case_brief *b)
{
	struct id_list *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->ids = xrealloc(l->ids, l->cap * sizeof *l->ids);
	}
	l->ids[l->n++] = b->id;
	return 0;
}

enum cd_err api_similar_load(struct store *st, int64_t now, struct similar_index *ix, size_t *loaded)
{
	struct similar_config cfg;
	similar_get_config(ix, &cfg);
	struct id_list l = {0};
	*loaded = 0;
	enum cd_err rc = store_cases_recent(st, now - cfg.window_s, collect_id, &l);
	struct store_case *c = xmalloc(sizeof *c);
	for (size_t i = 0; !rc && i < l.n; i++) {
		struct similar_case sc;
		rc = store_case_get_by_id(st, l.ids[i], c);
		if (rc == CD_ERR_NOTFOUND) {
			rc = CD_OK;
			continue;
		}
		if (!rc)
			rc = similar_case_make(
			    &sc, c->id, c->reported_at, c->has_point, c->lat, c->lng, c->category_code,
			    c->grid_code[0] ? c->grid_code : c->community_code, c->title, c->description);
		if (!rc) {
			snprintf(sc.ref, sizeof sc.ref, "%s", c->ref);
			rc = similar_add(ix, &sc);
		}
		*loaded += !rc;
	}
	xfree(c);
	xfree(l.ids);
	return rc;
}
