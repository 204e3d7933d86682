/* The intake pipeline, the same for every channel: normalize → locate → classify → route →
 * deadline → one transaction (case + first event + audit, by group commit). Each stage is a
 * small function over in-memory indexes (map, category tree, calendar); only the last one
 * touches the store. */
#ifndef CD_INTAKE_H
#define CD_INTAKE_H

#include <stdbool.h>

#include "app/app.h"
#include "core/calendar.h"
#include "core/classify_kw.h"
#include "core/similar.h"
#include "store/store.h"
#include "util/json.h"

/* Confidence at or above which a proposed category is taken; below it the case waits for a
 * dispatcher with no category. The trained model's probabilities are calibrated, so its bar is
 * a real probability; the keyword scores are not, and their bar is lower. */
#define INTAKE_AUTO_MODEL_MIN 0.6
#define INTAKE_AUTO_KEYWORD_MIN 0.2

/* Proposes up to k categories for a text (the trained model when there is one, else keywords),
 * best first, with the threshold for taking the first automatically in *auto_min. */
size_t intake_classify(struct app *app, const char *title, const char *description, size_t k,
		       struct classify_result *out, double *auto_min);

/* One report as a channel hands it in; strings are borrowed. */
struct intake_request {
	const char *channel;       /* hotline app grid camera iot enterprise open311 system */
	const char *external_id;   /* the channel's own id, or NULL */
	const char *title;         /* or NULL */
	const char *description;   /* required, at most 4,000 characters */
	bool has_point;            /* lat/lng given (already WGS-84) */
	double lat, lng;
	const char *address;       /* free text, or NULL */
	const char *category;      /* a category code, or NULL to classify */
	const char *reporter_name; /* personal data, or NULL */
	const char *reporter_phone;
	const char *attachments;   /* JSON array text of stored file ids, or NULL */
	bool has_limit;            /* time limit override (dispatchers, admins) */
	struct cal_limit limit;
	int64_t reported_at;       /* 0 = now (others are for admins and systems: imports, replays) */
	int64_t reporter_user_id;  /* citizen account, or 0 */
	const char *event_data;    /* a JSON object text whose members join the first event's data
				      (e.g. Open311's attributes and media_url), or NULL */
	const char *actor;         /* username recorded on the first event */
	const char *actor_role;
};

/* Runs every stage but the store: on success *c is the case ready to be stored and *ev its
 * first event (hand both to commit_queue_submit or _submit_async), and *sig (may be NULL) its
 * duplicate-finder signature, for intake_index_case once the case has its id. On a refusal
 * returns CD_ERR_INVALID with *p naming the field (422). */
enum cd_err intake_prepare(struct app *app, const struct intake_request *in, struct store_case *c,
			   struct store_case_event *ev, struct similar_case *sig,
			   struct json_problem *p) CD_MUST_CHECK;

/* The answer when the day a case is reported on has used up its refs: a ref holds six digits
 * of sequence per day (LH20261127000123), so a day holds at most 999,999 cases. */
#define INTAKE_DAY_FULL_MESSAGE                                                                    \
	"该日案件编号已用完（每日最多 999,999 件），未保存 (the case numbers of the day it was "      \
	"reported are used up: at most 999,999 a day; nothing was stored)"

/* Runs the pipeline and stores the case, waiting for the commit. On success *out is the stored case and *created
 * says whether it is new (false: the same channel + external_id was stored before, and *out
 * is that case). On a refusal returns CD_ERR_INVALID with *p naming the field (422), e.g.
 * outside_jurisdiction for a point outside the district or unknown_category; CD_ERR_RANGE with
 * *p the 503 day_full problem (field reported_at) when the day's refs are used up. */
enum cd_err intake_submit(struct app *app, const struct intake_request *in, struct store_case *out,
			  bool *created, struct json_problem *p) CD_MUST_CHECK;

/* Stage helpers, exposed for the actions that re-run them (register with a corrected
 * category, dispatch and reassign):
 * the responsible unit for a category at a place (the category, then its ancestors, then "*",
 * each at the community, then the street, then the whole district); "" when none. */
void intake_route(struct app *app, const char *category, const char *community, const char *street,
		  char unit[STORE_CODE_MAX]);
/* Deadline and the 80 % warning moment from `from` for limit `lim`. */
enum cd_err intake_deadline(struct app *app, int64_t from, struct cal_limit lim, int64_t *deadline,
			    int64_t *warn_at) CD_MUST_CHECK;
/* The default limit and urgency of a category (5 working days, normal, when none is set). */
void intake_category_limit(struct app *app, const char *category, struct cal_limit *lim, char urgency[16]);
/* Cleans a resident's text for storing (core/text TEXT_FOLD: white space folded, control and
 * zero-width characters dropped, full-width to half-width), in the script it was written in,
 * writing at most cap bytes (whole characters) into out. */
void intake_normalize_text(const char *in, char *out, size_t cap);

/* Adds a stored case (id assigned) to the duplicate finder, when there is one, with the
 * signature intake_prepare made (cheap: the intake notifier calls it); with a NULL or empty sig
 * it signs the text itself (~20 us). */
void intake_index_case(struct app *app, const struct store_case *c, struct similar_case *sig);

#endif
