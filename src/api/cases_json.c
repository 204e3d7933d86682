/* How a case looks on the wire: names for codes, the category path, times with +08:00, and
 * personal data masked for roles that do not need it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/cases.h"
#include "app/case_refs.h"
#include "app/mapview.h"
#include "core/category.h"
#include "core/pii.h"
#include "core/workflow.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/str.h"

bool cases_sees_personal_data(const struct api_caller *who, const struct store_case *c)
{
	switch (who->role) {
	case ROLE_ADMIN:
	case ROLE_DISTRICT_DISPATCHER:
	case ROLE_STREET_DISPATCHER:
	case ROLE_UNIT_STAFF: /* they call the reporter back */
		return true;
	case ROLE_CITIZEN:
		return c->reporter_user_id && c->reporter_user_id == who->user.id;
	default: /* grid workers, auditors, systems */
		return false;
	}
}

void cases_mask_phone(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	if (n >= 7) /* 13812341234 -> 138****1234: the operator prefix and the last four stay */
		snprintf(out, cap, "%.3s****%s", in, in + n - 4);
	else if (n > 0)
		str_copy(out, cap, "****");
	else
		str_copy(out, cap, "");
}

/* 张三丰 -> 张**: the first character stays. */
static void mask_name(const char *in, char *out, size_t cap)
{
	size_t first = 0, chars = 0;
	const unsigned char *p = (const unsigned char *)in;
	if (!*p) {
		str_copy(out, cap, "");
		return;
	}
	first = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
	for (; *p; p++)
		chars += (*p & 0xC0) != 0x80;
	size_t o = (size_t)snprintf(out, cap, "%.*s", (int)first, in);
	for (size_t i = 1; i < chars && i < 4 && o + 1 < cap; i++)
		out[o++] = '*';
	out[o < cap ? o : cap - 1] = '\0';
}

/* ---- the case, written straight to text ----------------------------------------------------
 * One writer (util/json.h) makes the case's JSON for every answer: the 201 of intake writes it
 * into the response directly (no json_t tree: at thousands of cases a second the tree's
 * allocations and the second walk to print it were ~15 % of a request thread's time);
 * cases_case_json parses the same text when a caller needs a json_t (lists, one case with its
 * history). Keys come in the order the jansson version had, which tests/unit/test_cases_json.c
 * checks against a json_pack-built copy. */

static void time_w(struct json_writer *w, int64_t t)
{
	char iso[32];
	if (!t) {
		json_w_lit(w, "null");
		return;
	}
	api_time_iso(t, iso);
	json_w_str(w, iso);
}

/* {"code","name"} of a street or community from the map, or null. */
static void area_w(struct json_writer *w, struct app *app, const char *code)
{
	char name[STORE_NAME_MAX];
	if (!code || !*code) {
		json_w_lit(w, "null");
		return;
	}
	mapview_area_name(&app->map_lock, &app->map, code, name, sizeof name);
	json_w_lit(w, "{\"code\":");
	json_w_str(w, code);
	json_w_lit(w, ",\"name\":");
	json_w_str_or_null(w, name);
	json_w_lit(w, "}");
}

/* {"code","name","path":[...] of a category, the part of its JSON that depends on the code
 * alone: remembered per code for a frozen tree (keyed by its serial), since every 201 and every
 * listed case writes one and a four-level path took ~1 us to look up and escape. */
#define CATEGORY_JSON_SLOTS 256	 /* direct-mapped by the code's hash */
#define CATEGORY_JSON_MAX 1024 /* longer heads are written each time */

struct category_json_slot {
	uint64_t serial; /* category_tree_serial of the tree it came from; 0 = empty */
	char code[CATEGORY_CODE_MAX];
	size_t len;
	char text[CATEGORY_JSON_MAX];
};

static struct category_json_slot category_json[CATEGORY_JSON_SLOTS];
static pthread_mutex_t category_json_lock = PTHREAD_MUTEX_INITIALIZER;

static void category_head_w(struct json_writer *w, const struct category_tree *cats, const char *code)
{
	const struct category *path[CATEGORY_MAX_DEPTH];
	size_t n = category_path(cats, code, path, CATEGORY_MAX_DEPTH);
	const struct category *c = category_get(cats, code);
	json_w_lit(w, "{\"code\":");
	json_w_str(w, code);
	json_w_lit(w, ",\"name\":");
	json_w_str(w, c ? c->name : NULL);
	json_w_lit(w, ",\"path\":[");
	for (size_t i = 0; i < n; i++) {
		json_w_lit(w, i ? ",{\"code\":" : "{\"code\":");
		json_w_str(w, path[i]->code);
		json_w_lit(w, ",\"name\":");
		json_w_str(w, path[i]->name);
		json_w_lit(w, "}");
	}
	json_w_lit(w, "]");
}

static void category_w(struct json_writer *w, struct app *app, const char *code, double confidence,
		       const char *source)
{
	if (!code || !*code) {
		json_w_lit(w, "null");
		return;
	}
	uint64_t serial = category_tree_serial(app->cats);
	struct category_json_slot *slot = NULL;
	if (serial && strlen(code) < CATEGORY_CODE_MAX)
		slot = &category_json[str_fnv1a(STR_FNV_SEED, code) % CATEGORY_JSON_SLOTS];
	bool hit = false;
	if (slot) {
		pthread_mutex_lock(&category_json_lock);
		if (slot->serial == serial && strcmp(slot->code, code) == 0) {
			json_w_raw(w, slot->text, slot->len);
			hit = true;
		}
		pthread_mutex_unlock(&category_json_lock);
	}
	if (!hit) {
		size_t start = w->b->len;
		category_head_w(w, app->cats, code);
		size_t len = w->b->len - start;
		if (slot && !w->rc && len <= CATEGORY_JSON_MAX) {
			pthread_mutex_lock(&category_json_lock);
			slot->serial = serial;
			str_copy(slot->code, sizeof slot->code, code);
			memcpy(slot->text, w->b->data + start, len);
			slot->len = len;
			pthread_mutex_unlock(&category_json_lock);
		}
	}
	json_w_lit(w, ",\"confidence\":");
	json_w_real(w, confidence);
	json_w_lit(w, ",\"source\":");
	json_w_str_or_null(w, source);
	json_w_lit(w, "}");
}

/* Parses text the writer made; NULL when it could not be made. */
static json_t *parse_written(const struct buf *b, enum cd_err rc)
{
	if (rc || !b->data)
		return NULL;
	return json_loadb(b->data, b->len, 0, NULL);
}

json_t *cases_category_json(struct app *app, const char *code, double confidence, const char *source)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	struct json_writer w = {&b, CD_OK};
	category_w(&w, app, code, confidence, source);
	json_t *v = parse_written(&b, w.rc);
	buf_release(&b);
	return v ? v : json_null();
}

/* Unit names for the JSON. Every case printed names its unit, and store_unit_get is a read
 * transaction on a page cache the intake applier's commits keep invalidating. A unit's name
 * changes only by import: entries are tagged with store_map_generation read before the lookup
 * (an import through this process drops them all) and kept at most UNIT_NAME_TTL_MS (an
 * import by another process). */
#define UNIT_NAME_SLOTS 256
#define UNIT_NAME_TTL_MS 5000

struct unit_name_slot {
	const struct store *st;      /* NULL = empty */
	uint64_t gen;                /* store_map_generation before the lookup */
	int64_t until_ms;            /* monotonic expiry */
	bool found;                  /* the unit exists */
	char code[STORE_CODE_MAX];   /* key */
	char name[STORE_NAME_MAX];   /* its name when found */
};

static struct unit_name_slot unit_names[UNIT_NAME_SLOTS];
static pthread_mutex_t unit_names_lock = PTHREAD_MUTEX_INITIALIZER;

/* Copies the name of unit `code` into name[0..STORE_NAME_MAX); false when there is no such
 * unit (or the store failed: the JSON then shows null, as before the cache). */
static bool unit_name(struct app *app, const char *code, char name[STORE_NAME_MAX])
{
	if (strlen(code) >= STORE_CODE_MAX)
		return false;
	struct unit_name_slot *slot = &unit_names[str_fnv1a(STR_FNV_SEED, code) % UNIT_NAME_SLOTS];
	uint64_t gen = store_map_generation(app->st);
	int64_t now = clock_mono_ms();
	bool hit = false, found = false;
	pthread_mutex_lock(&unit_names_lock);
	if (slot->st == app->st && slot->gen == gen && now < slot->until_ms && strcmp(slot->code, code) == 0) {
		hit = true;
		found = slot->found;
		if (found)
			memcpy(name, slot->name, STORE_NAME_MAX);
	}
	pthread_mutex_unlock(&unit_names_lock);
	if (hit)
		return found;
	struct store_unit u;
	enum cd_err rc = store_unit_get(app->st, code, &u);
	if (rc && rc != CD_ERR_NOTFOUND)
		return false; /* not remembered: a store failure is not an answer */
	found = rc == CD_OK;
	if (found)
		memcpy(name, u.name, STORE_NAME_MAX);
	pthread_mutex_lock(&unit_names_lock);
	slot->st = app->st;
	slot->gen = gen;
	slot->until_ms = now + UNIT_NAME_TTL_MS;
	slot->found = found;
	str_copy(slot->code, sizeof slot->code, code);
	memcpy(slot->name, found ? u.name : "", found ? STORE_NAME_MAX : 1);
	pthread_mutex_unlock(&unit_names_lock);
	return found;
}

static void unit_w(struct json_writer *w, struct app *app, const char *code)
{
	char name[STORE_NAME_MAX];
	if (!code || !*code) {
		json_w_lit(w, "null");
		return;
	}
	json_w_lit(w, "{\"code\":");
	json_w_str(w, code);
	json_w_lit(w, ",\"name\":");
	json_w_str(w, unit_name(app, code, name) ? name : NULL);
	json_w_lit(w, "}");
}

static void limit_w(struct json_writer *w, const struct store_case *c)
{
	if (!c->limit_kind[0]) {
		json_w_lit(w, "null");
		return;
	}
	json_w_lit(w, "{");
	json_w_str(w, c->limit_kind);
	json_w_lit(w, ":");
	if (strcmp(c->limit_kind, "working_days") == 0)
		json_w_int(w, (long long)c->limit_value);
	else
		json_w_real(w, c->limit_value);
	json_w_lit(w, "}");
}

/* Copies the ref of case id into out; false when unknown. */
static bool ref_of(struct app *app, int64_t id, char out[STORE_CASE_REF_MAX])
{
	if (case_refs_get(app->st, id, out))
		return true;
	struct store_case *other = xmalloc(sizeof *other); /* ~24 KB: not on a server thread's stack */
	bool found = store_case_get_by_id(app->st, id, other) == CD_OK;
	if (found) {
		memcpy(out, other->ref, STORE_CASE_REF_MAX);
		case_refs_note(app->st, id, other->ref);
	}
	xfree(other);
	return found;
}

/* The ref of another case (duplicate_of, merged_into), or null. */
static void ref_w(struct json_writer *w, struct app *app, int64_t id)
{
	char ref[STORE_CASE_REF_MAX];
	json_w_str(w, id && ref_of(app, id, ref) ? ref : NULL);
}

/* The stored attachments array (ids), as jansson would print it again. */
static void attachments_w(struct json_writer *w, const char *text)
{
	if (!text[0] || strcmp(text, "[]") == 0) {
		json_w_lit(w, "[]");
		return;
	}
	json_t *a = json_loads(text, 0, NULL);
	char *out = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_w_lit(w, out ? out : "[]");
	xfree(out);
	json_decref(a);
}

/* A text field, with personal data masked in place for roles that do not see it. */
static void masked_w(struct json_writer *w, const char *text, bool pii, bool null_if_empty)
{
	size_t n = strlen(text);
	if (pii || !text[0] || !pii_may_contain(text, n)) {
		if (null_if_empty)
			json_w_str_or_null(w, text);
		else
			json_w_str(w, text);
		return;
	}
	char *copy = xmalloc(n + 1);
	memcpy(copy, text, n + 1);
	pii_mask_inplace(copy, n, PII_ALL);
	json_w_str(w, copy);
	xfree(copy);
}

enum cd_err cases_case_write(struct buf *b, struct app *app, const struct store_case *c,
			     const struct api_caller *who)
{
	enum workflow_state st;
	bool pii = cases_sees_personal_data(who, c);
	char name[STORE_NAME_MAX], phone[64];
	struct json_writer w = {b, CD_OK};
	if (pii) {
		str_copy(name, sizeof name, c->reporter_name);
		str_copy(phone, sizeof phone, c->reporter_phone);
	} else {
		mask_name(c->reporter_name, name, sizeof name);
		cases_mask_phone(c->reporter_phone, phone, sizeof phone);
	}
	json_w_lit(&w, "{\"id\":");
	json_w_str(&w, c->ref);
	json_w_lit(&w, ",\"version\":");
	json_w_int(&w, (long long)c->version);
	json_w_lit(&w, ",\"status\":");
	json_w_str(&w, c->status);
	json_w_lit(&w, ",\"status_label\":");
	json_w_str(&w, workflow_state_parse(c->status, &st) ? NULL : workflow_state_label_zh(st));
	json_w_lit(&w, ",\"channel\":");
	json_w_str(&w, c->channel);
	json_w_lit(&w, ",\"external_id\":");
	json_w_str_or_null(&w, c->external_id);
	/* Residents write phone numbers, ID numbers and plates into the text itself: masked too
	 * for roles that do not see personal data (lengths do not change). */
	json_w_lit(&w, ",\"title\":");
	masked_w(&w, c->title, pii, false);
	json_w_lit(&w, ",\"address\":");
	masked_w(&w, c->address, pii, true);
	json_w_lit(&w, ",\"category\":");
	category_w(&w, app, c->category_code, c->category_confidence, c->category_source);
	json_w_lit(&w, ",\"location\":");
	if (c->has_point) {
		json_w_lit(&w, "{\"lat\":");
		json_w_real(&w, c->lat);
		json_w_lit(&w, ",\"lng\":");
		json_w_real(&w, c->lng);
		json_w_lit(&w, "}");
	} else {
		json_w_lit(&w, "null");
	}
	json_w_lit(&w, ",\"street\":");
	area_w(&w, app, c->street_code);
	json_w_lit(&w, ",\"community\":");
	area_w(&w, app, c->community_code);
	json_w_lit(&w, ",\"grid\":");
	if (c->grid_code[0]) {
		json_w_lit(&w, "{\"code\":");
		json_w_str(&w, c->grid_code);
		json_w_lit(&w, "}");
	} else {
		json_w_lit(&w, "null");
	}
	json_w_lit(&w, ",\"unit\":");
	unit_w(&w, app, c->unit_code);
	json_w_lit(&w, ",\"description\":");
	masked_w(&w, c->description, pii, false);
	json_w_lit(&w, ",\"level\":");
	json_w_str(&w, c->level[0] ? c->level : "community");
	json_w_lit(&w, ",\"urgency\":");
	json_w_str(&w, c->urgency[0] ? c->urgency : "normal");
	json_w_lit(&w, ",\"time_limit\":");
	limit_w(&w, c);
	static const char *const time_keys[] = {",\"reported_at\":", ",\"registered_at\":", ",\"dispatched_at\":",
						",\"first_response_at\":", ",\"handled_at\":", ",\"closed_at\":",
						",\"deadline\":", ",\"warn_at\":"};
	const int64_t times[] = {c->reported_at, c->registered_at, c->dispatched_at, c->first_response_at,
				 c->handled_at, c->closed_at, c->deadline, c->warn_at};
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		json_w_lit(&w, time_keys[i]);
		time_w(&w, times[i]);
	}
	json_w_lit(&w, ",\"warned\":");
	json_w_bool(&w, c->warned);
	json_w_lit(&w, ",\"overdue\":");
	json_w_bool(&w, c->overdue);
	json_w_lit(&w, ",\"supervised\":");
	json_w_bool(&w, c->supervised);
	json_w_lit(&w, ",\"extension_pending\":");
	json_w_bool(&w, c->extension_pending);
	json_w_lit(&w, ",\"rework_count\":");
	json_w_int(&w, (long long)c->rework_count);
	json_w_lit(&w, ",\"satisfaction\":");
	json_w_str_or_null(&w, c->satisfaction);
	json_w_lit(&w, ",\"duplicate_of\":");
	ref_w(&w, app, c->duplicate_of);
	json_w_lit(&w, ",\"merged_into\":");
	ref_w(&w, app, c->merged_into);
	json_w_lit(&w, ",\"support_count\":");
	json_w_int(&w, (long long)(c->support_count > 0 ? c->support_count : 1));
	json_w_lit(&w, ",\"reporter\":");
	if (c->reporter_name[0] || c->reporter_phone[0]) {
		json_w_lit(&w, "{\"name\":");
		json_w_str(&w, name);
		json_w_lit(&w, ",\"phone\":");
		json_w_str(&w, phone);
		json_w_lit(&w, ",\"masked\":");
		json_w_bool(&w, !pii);
		json_w_lit(&w, "}");
	} else {
		json_w_lit(&w, "null");
	}
	json_w_lit(&w, ",\"attachments\":");
	attachments_w(&w, c->attachments);
	json_w_lit(&w, ",\"created_at\":");
	time_w(&w, c->created_at);
	json_w_lit(&w, ",\"updated_at\":");
	time_w(&w, c->updated_at);
	json_w_lit(&w, "}");
	return w.rc;
}

json_t *cases_case_json(struct app *app, const struct store_case *c, const struct api_caller *who)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	enum cd_err rc = cases_case_write(&b, app, c, who);
	json_t *v = parse_written(&b, rc);
	buf_release(&b);
	return v ? v : json_null();
}

static json_t *time_json(int64_t t)
{
	char iso[32];
	if (!t)
		return json_null();
	api_time_iso(t, iso);
	return json_string(iso);
}

static int add_event(void *ctx, const struct store_case_event *ev)
{
	json_t *events = ctx;
	json_t *data = ev->data[0] ? json_loads(ev->data, 0, NULL) : NULL;
	json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s?}", "action", ev->action, "actor", ev->actor,
			      "role", ev->role, "to_status", ev->to_status, "from_status",
			      ev->from_status[0] ? ev->from_status : NULL, "comment", ev->comment, "at", NULL);
	json_object_set_new(e, "at", time_json(ev->at));
	json_object_set_new(e, "data", data ? data : json_object());
	json_array_append_new(events, e);
	return 0;
}

json_t *cases_history_json(struct app *app, const struct store_case *c)
{
	json_t *events = json_array();
	if (store_case_events(app->st, c->id, add_event, events)) {
		json_decref(events);
		return json_null();
	}
	return events;
}
