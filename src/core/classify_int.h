/* Private to the classifier's files (classify.c: features, training, prediction;
 * classify_eval.c: cross-validation and selection; classify_file.c: the model file). */
#ifndef CD_CLASSIFY_INT_H
#define CD_CLASSIFY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/classify.h"

#define CLASSIFY_FILE_MAGIC "CDCLSMDL"
#define CLASSIFY_FILE_MAGIC_LEN 8

/* Category names looked for in texts, grouped by their first code point. */
struct name_index {
	size_t n;	  /* names */
	uint32_t *cps;	  /* all names' folded code points, back to back */
	size_t *off;	  /* name i is cps[off[i] .. off[i + 1]) */
	uint32_t *bucket; /* feature bucket of name i */
	uint32_t *order;  /* name ids sorted by first code point */
	uint32_t *keys;	  /* open addressing: first code point (0: free) */
	uint32_t *start;  /* names with that first code point: order[start .. start + count) */
	uint32_t *count;
	size_t cap; /* table size, a power of two */
};

/* A sparse, unit-length feature vector. */
struct fvec {
	uint32_t *idx; /* buckets, ascending, distinct */
	float *val;
	size_t n;
};

/* One training text: a real message or a taxonomy name's pseudo-example. */
struct example {
	char *text; /* owned, NUL-terminated */
	size_t len;
	uint32_t label;
	float weight; /* 1 for real examples */
	int pseudo;   /* 1 for a taxonomy name */
};

/* A training set (classify.h). Labels are indexes into names_l/codes_l. */
struct classify_set {
	struct example *ex; /* in the order added */
	size_t n_ex, cap_ex;
	size_t n_real;					       /* examples that are not pseudo-examples */
	char names_l[CLASSIFY_MAX_LABELS][CLASSIFY_LABEL_MAX]; /* label names */
	char codes_l[CLASSIFY_MAX_LABELS][CATEGORY_CODE_MAX];  /* their codes ("" when none) */
	size_t n_labels;
	char **tax_names; /* names looked for in texts (owned) */
	size_t n_tax, cap_tax;
};

/* A trained model (classify.h): what the file holds, plus the name index built from it. */
struct classify_model {
	unsigned hash_bits;  /* 2^hash_bits rows of weights */
	unsigned ngram_max;  /* character n-grams 1..ngram_max */
	int name_features;   /* 1: names found in a text are features */
	double title_weight; /* weight of the first line's own features (0: none) */
	double name_boost;   /* weight of a name feature against a token's */
	double temperature;  /* softmax(score / temperature) */
	size_t n_labels;
	char (*label_name)[CLASSIFY_LABEL_MAX]; /* [n_labels] */
	char (*label_code)[CATEGORY_CODE_MAX];	/* [n_labels], "" when none */
	char **names;				/* taxonomy names looked for (owned) */
	size_t n_names;
	struct name_index index; /* built from names when name_features */
	float *idf;		 /* [2^hash_bits] inverse document frequency, or NULL (all 1) */
	float *w;		 /* [2^hash_bits][n_labels], row per bucket */
	float *bias;		 /* [n_labels] */
};

/* Frees v's arrays and empties it. */
void classify__fvec_release(struct fvec *v);
/* The model's view of text: features, idf-weighted when the model has idf, unit length. */
enum cd_err classify__model_features(const struct classify_model *m, const char *text, size_t len,
				     struct fvec *v);
/* Raw scores (before temperature) of v, one per label. */
void classify__model_scores(const struct classify_model *m, const struct fvec *v, double *scores);
/* In place: scores / t to probabilities. */
void classify__softmax(double *s, size_t n, double t);
/* The next number of a splitmix64 sequence. */
uint64_t classify__rng_next(uint64_t *state);
/* Trains on the examples of s for which use[i] is nonzero (NULL: all). */
enum cd_err classify__train_subset(const struct classify_set *s, const struct classify_params *p,
				   const unsigned char *use, struct classify_model **out);
/* Appends one example (text copied, cut at CLASSIFY_MAX_TEXT). */
enum cd_err classify__set_push(struct classify_set *s, const char *text, size_t len, uint32_t label,
			       float weight, int pseudo);
/* A model with zeroed weights; CD_ERR_NOMEM when the input-sized weights cannot be had. */
enum cd_err classify__model_alloc(unsigned hash_bits, unsigned ngram_max, size_t n_labels,
				  struct classify_model **out);
/* Copies the names into m and builds its name index when m->name_features. */
void classify__model_take_names(struct classify_model *m, char *const *names, size_t n);

#endif
