/* The duplicate finder: an in-memory index of recent cases keyed by a square grid of cells
 * about one search radius wide, each case with its 64-byte MinHash signature, category and
 * point. A new case is compared with the cases in its cell and the eight around it, within
 * the time window; design and figures in docs/internals/similar.md. */
#ifndef CD_SIMILAR_H
#define CD_SIMILAR_H

#include <stddef.h>
#include <stdint.h>

#include "core/minhash.h"
#include "core/text.h"
#include "util/err.h"

#define SIMILAR_CAT_MAX 16  /* category code bytes kept (codes are short; longer ones are cut) */
#define SIMILAR_AREA_MAX 32 /* area code bytes kept for cases without a point */
#define SIMILAR_REF_MAX 24  /* the case's readable ref with its NUL ("LH20261127000123") */

/* Settings; similar_config_default fills the documented defaults. */
struct similar_config {
	double radius_m;       /* how far apart duplicates may be (300) */
	int64_t window_s;      /* how far apart in time (7 days); also the eviction age */
	double possible;       /* score from which a candidate is reported (0.3) */
	double merge;	       /* score from which a caller may merge automatically (0.8) */
	unsigned min_shingles; /* texts with fewer bigrams are never matched (4) */
};

void similar_config_default(struct similar_config *cfg);

/* One case as the finder sees it. */
struct similar_case {
	int64_t id;			/* case id; queries never return the asking id */
	char ref[SIMILAR_REF_MAX];	/* its readable ref, "" when not known yet (hits carry it) */
	int64_t reported_at;		/* unix seconds */
	int has_point;			/* lat/lng valid */
	double lat, lng;		/* WGS-84 degrees */
	char category[SIMILAR_CAT_MAX]; /* category code, "" when unclassified */
	char area[SIMILAR_AREA_MAX];	/* grid or community code, used only without a point */
	struct minhash_sig sig;		/* similar_sign of its title and description */
	uint32_t shingles;		/* how many bigrams the text had (similar_sign sets it) */
};

/* A candidate duplicate. */
struct similar_hit {
	int64_t id;
	char ref[SIMILAR_REF_MAX]; /* as added, "" when it was added without one */
	double score;	   /* combined: text x category x distance, in [0, 1] */
	double text;	   /* estimated Jaccard similarity of the bigram sets */
	double distance_m; /* -1 when either case has no point */
	int64_t dt_s;	   /* reported_at difference, absolute */
	int same_category; /* 1 same code, 0 different, -1 either unknown */
};

/* Fills c->sig and c->shingles from title and description (either may be NULL): normalized
 * with TEXT_ALL through tn (NULL: the shared normalizer), bigrams signed. CD_ERR_NOTFOUND
 * when no normalizer can be opened. Thread-safe. */
enum cd_err similar_sign(const struct text_norm *tn, const char *title, const char *description,
			 struct similar_case *c) CD_MUST_CHECK;

/* Fills *c from a case's fields and signs its text (similar_sign with the shared normalizer):
 * the one call intake and start-up need. category, area, title, description may be NULL;
 * area (grid or community code) is used only when has_point is 0. */
enum cd_err similar_case_make(struct similar_case *c, int64_t id, int64_t reported_at, int has_point,
			      double lat, double lng, const char *category, const char *area,
			      const char *title, const char *description) CD_MUST_CHECK;

/* Combines the parts into a score in [0, 1]: text similarity, scaled by category agreement
 * (same code 1, one code under the other 0.95, same top level 0.85, different 0.6, unknown
 * 0.9) and distance (1 at the same point down to 0.8 at the radius; 0.9 without points).
 * Exposed so tests and callers rank the same way. */
double similar_score(double text, int cat_agree, double distance_m, double radius_m);

/* The index. Thread-safe: any number of threads may add, query and evict at once (cells are
 * spread over shards, each behind a readers-writer lock). */
struct similar_index;

/* A new empty index; cfg NULL means the defaults (copied). */
struct similar_index *similar_new(const struct similar_config *cfg);
/* NULL is fine. */
void similar_free(struct similar_index *ix);
/* The settings in use (a copy). */
void similar_get_config(const struct similar_index *ix, struct similar_config *out);

/* Adds a case (copied). Adding the same id again adds a second entry: callers add each case
 * once. Cases older than window_s before the newest seen in the same cell are dropped from
 * that cell as it grows, so memory stays bounded by the window. CD_ERR_NOMEM. */
enum cd_err similar_add(struct similar_index *ix, const struct similar_case *c) CD_MUST_CHECK;

/* Removes id (a case that was merged or rejected). CD_ERR_NOTFOUND when it is not there.
 * c gives the place to look (its point or area), so this costs what a query costs. */
enum cd_err similar_remove(struct similar_index *ix, const struct similar_case *c) CD_MUST_CHECK;

/* The candidates for c: cases within radius_m (or, without a point, with the same area code)
 * and window_s of c->reported_at, scoring at least cfg.possible, best first. Writes at most
 * cap and returns how many it wrote. Never returns c->id. */
size_t similar_query(struct similar_index *ix, const struct similar_case *c, struct similar_hit *out,
		     size_t cap);

/* Drops every case reported before `before`. Returns how many were dropped. */
size_t similar_evict(struct similar_index *ix, int64_t before);

/* Cases held. */
size_t similar_count(struct similar_index *ix);

#endif
