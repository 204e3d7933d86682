/* "One class of things" (一类事) and hot spots over a set of cases: clusters of cases about the
 * same recurring problem across places and time (MinHash LSH + union-find, labelled by TF-IDF
 * terms), grid cells and communities ranked by cases with growth and category mix, and terms
 * rising this week against the four before. Pure: the caller hands in the cases. Design:
 * docs/internals/similar.md. */
#ifndef CD_INSIGHTS_H
#define CD_INSIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/text.h"
#include "util/err.h"

#define INSIGHTS_CODE_MAX 32 /* place or category code bytes kept, with NUL */
#define INSIGHTS_TERM_MAX 40 /* one term (a character bigram or trigram, or ASCII words), NUL */
#define INSIGHTS_LABEL_TERMS 3
#define INSIGHTS_PLACES 5 /* streets and communities listed per cluster */
#define INSIGHTS_MIX 3	  /* categories listed per hot spot */

/* One case as the analyses see it. Strings are borrowed for the call; NULL or "" = unknown. */
struct insights_doc {
	int64_t id;
	int64_t reported_at; /* unix seconds */
	const char *title, *description;
	const char *category;		       /* category code */
	const char *street, *community, *grid; /* place codes */
};

/* A code with a count. */
struct insights_count {
	char code[INSIGHTS_CODE_MAX];
	size_t n;
};

/* One recurring problem. */
struct insights_cluster {
	char label[INSIGHTS_LABEL_TERMS * INSIGHTS_TERM_MAX]; /* top terms joined by "、" */
	char terms[INSIGHTS_LABEL_TERMS][INSIGHTS_TERM_MAX];  /* the same terms, n_terms of them */
	size_t n_terms;
	size_t count;			/* members reported in [from, to) */
	size_t previous;		/* members in the period of the same length before from */
	int64_t first_seen, last_seen;	/* over the members in [from, to) */
	struct insights_count category; /* the most common category ("" when none) */
	struct insights_count streets[INSIGHTS_PLACES]; /* most cases first */
	size_t n_streets;
	struct insights_count communities[INSIGHTS_PLACES];
	size_t n_communities;
	size_t n_places;  /* distinct communities (or streets when none) in [from, to) */
	int64_t *members; /* ids of the members in [from, to), newest first; owned */
	size_t n_members;
};

struct insights_clusters {
	struct insights_cluster *items; /* biggest first; owned */
	size_t n;
	size_t docs; /* cases considered in [from, to) */
};

/* What insights_cluster does. insights_cluster_opts_default fills the documented values. */
struct insights_cluster_opts {
	int64_t from, to;    /* the period; cases before from - (to - from) are ignored */
	double threshold;    /* Jaccard (MinHash) from which two cases join (0.2) */
	size_t min_size;     /* smallest cluster reported, counted in [from, to) (3) */
	size_t max_clusters; /* most clusters reported (50) */
	int same_category;   /* 1: cases of different known top categories never join (1) */
};

void insights_cluster_opts_default(struct insights_cluster_opts *o);

/* Groups docs[0..n) into clusters: two cases join when their MinHash estimates of bigram
 * Jaccard reach o->threshold, transitively (union-find). What is compared is the title (the
 * problem's name), or the start of the description when there is no title. Candidates come
 * from LSH with 32 bands of 2 bytes: a pair at 0.2 is found with probability 0.73, at 0.3
 * with 0.95.
 * Labels: the cluster's bigrams and trigrams with the highest document frequency in the
 * cluster times inverse document frequency over all docs. tn: normalizer (NULL = shared).
 * out is owned by the caller: insights_clusters_release. CD_ERR_NOMEM, CD_ERR_INVALID when
 * o->to <= o->from. */
enum cd_err insights_cluster(const struct text_norm *tn, const struct insights_doc *docs, size_t n,
			     const struct insights_cluster_opts *o,
			     struct insights_clusters *out) CD_MUST_CHECK;
/* Frees the clusters and zeroes *c. NULL is fine. */
void insights_clusters_release(struct insights_clusters *c);

enum insights_level {
	INSIGHTS_GRID,	    /* by grid cell code */
	INSIGHTS_COMMUNITY, /* by community code */
	INSIGHTS_STREET,    /* by street code */
};

/* One hot spot. */
struct insights_hotspot {
	char code[INSIGHTS_CODE_MAX];
	size_t count;				 /* cases in [from, to) */
	size_t previous;			 /* cases in the period of the same length before */
	double growth;				 /* (count - previous) / max(previous, 1) */
	struct insights_count mix[INSIGHTS_MIX]; /* most common categories in [from, to) */
	size_t n_mix;
};

/* Places at `level` ranked by cases in [from, to) (ties: larger growth, then code), at most
 * cap written to out; returns how many. Cases without a code at that level are not counted.
 * CD_ERR_INVALID when to <= from. */
enum cd_err insights_hotspots(const struct insights_doc *docs, size_t n, int64_t from, int64_t to,
			      enum insights_level level, struct insights_hotspot *out, size_t cap,
			      size_t *written) CD_MUST_CHECK;

/* One rising term. */
struct insights_term {
	char term[INSIGHTS_TERM_MAX];
	size_t count;	      /* cases this week holding it */
	double weekly_before; /* mean cases a week over the four weeks before */
	double ratio;	      /* (count + 1) / (weekly_before + 1) */
};

/* Terms (character bigrams and trigrams) of cases in the week before `now` that rise most
 * against the four weeks before it: at least min_count cases this week, ranked by ratio
 * (ties: count). Trigrams win over the bigrams inside them when their counts are close.
 * Returns via *written how many of cap were filled. */
enum cd_err insights_terms(const struct text_norm *tn, const struct insights_doc *docs, size_t n, int64_t now,
			   size_t min_count, struct insights_term *out, size_t cap,
			   size_t *written) CD_MUST_CHECK;

#endif
