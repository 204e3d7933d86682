/* The statistical classifier: a multinomial logistic regression (softmax, trained by SGD) plus a
 * complement naive Bayes model folded into the same weights, over hashed character 1..3-grams
 * of the normalized text, with the taxonomy's names as extra evidence (pseudo-examples, and a
 * feature per category name found verbatim in a text).
 * Models are saved as versioned, checksummed files; see docs/internals/classify.md. */
#ifndef CD_CLASSIFY_H
#define CD_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/category.h"
#include "core/classify_kw.h"
#include "util/err.h"

#define CLASSIFY_MODEL_VERSION 1	   /* written into every model file; newer files are refused */
#define CLASSIFY_MAX_LABELS 256		   /* distinct labels a model may have */
#define CLASSIFY_LABEL_MAX 128		   /* bytes of a label name, NUL included */
#define CLASSIFY_MAX_TEXT 65536		   /* bytes of a text looked at; the rest is ignored */
#define CLASSIFY_MAX_EXAMPLES 10000000	   /* examples a training set may hold */
#define CLASSIFY_MAX_NAMES 100000	   /* taxonomy names a model may hold */
#define CLASSIFY_MODEL_FILE_MAX (1u << 30) /* larger model files are refused */
#define CLASSIFY_SOURCE_MODEL "model"
#define CLASSIFY_MODEL_FILE "classify-hotline.model" /* in the data directory */

/* How a model is trained. classify_params_default gives the fixed protocol the figures in
 * docs/internals/classify.md were measured with. */
struct classify_params {
	unsigned hash_bits;  /* 2^hash_bits feature buckets, 12..24 */
	unsigned ngram_max;  /* character n-grams of length 1..ngram_max, 1..3 */
	unsigned epochs;     /* passes over the training set, 1..1000 */
	double lr;	     /* initial SGD step, decays linearly to 0 */
	double name_weight;  /* weight of each taxonomy pseudo-example (0: none) */
	int name_features;   /* nonzero: a category name found in a text fires its own feature */
	int idf;	     /* nonzero: features weighted by inverse document frequency */
	double title_weight; /* weight of the first line's own features, 0..10 (0: none) */
	double name_boost;   /* weight of a name found in a text against a token's, (0, 10] */
	double balance;	     /* 0..1: real examples of label k weigh (n / (labels * n_k))^balance */
	double nb_weight;    /* weight of the complement naive Bayes model added to the trained
				weights, 0..100 (0: plain logistic regression) */
	uint64_t seed;	     /* shuffling; the same seed and data give the same model */
};

/* A labelled training set: texts with label names (and codes), plus taxonomy names. */
struct classify_set;
/* A trained model; immutable, safe to share between threads. */
struct classify_model;

/* Cross-validation figures. */
struct classify_cv_result {
	size_t n; /* examples evaluated (every real example once) */
	size_t folds;
	double accuracy;    /* share of examples whose top label is right */
	double macro_f1;    /* mean over labels of F1 */
	double majority;    /* accuracy of always answering the most frequent label */
	double nll;	    /* mean negative log-likelihood of the right label */
	double ece;	    /* expected calibration error of the top answer, 10 bins */
	double temperature; /* softmax temperature fitted on the out-of-fold scores */
};

void classify_params_default(struct classify_params *p);

/* An empty set. Never NULL (aborts on OOM); free with classify_set_free (NULL is fine). */
struct classify_set *classify_set_new(void);
void classify_set_free(struct classify_set *s);
/* Adds one labelled text (copied; cut at CLASSIFY_MAX_TEXT bytes). label is the name the model
 * will answer with (1..CLASSIFY_LABEL_MAX-1 bytes), code its category code or NULL/"" (the
 * first non-empty code given for a label sticks). This is also how the store's closed cases
 * and dispatchers' corrections join a training run. CD_ERR_INVALID for an empty or too long
 * label, CD_ERR_TOOBIG past CLASSIFY_MAX_LABELS labels or CLASSIFY_MAX_EXAMPLES examples,
 * CD_ERR_NOMEM. */
enum cd_err classify_set_add(struct classify_set *s, const char *text, size_t len, const char *label,
			     const char *code) CD_MUST_CHECK;
/* Reads a labelled CSV (header with columns title, detail and label_l1; or text and label):
 * each row adds title + "\n" + detail with its label. *rows (may be NULL) gets the rows added;
 * *line (may be NULL) the CSV line of a failure. CD_ERR_INVALID for a missing column or a bad
 * row; the set keeps the rows added before it. */
enum cd_err classify_set_add_csv(struct classify_set *s, const char *text, size_t len, size_t *rows,
				 size_t *line) CD_MUST_CHECK;
/* Takes the taxonomy as evidence: for every label that names a node at depth 1 below `root`
 * (e.g. "H"), records that node's code as the label's code and adds each non-root name below
 * it (the node, its children, grandchildren, ...) as a pseudo-example of the label and as a
 * name the model looks for in texts. Labels not found in the tree keep no names.
 * Returns the number of names taken through *names (may be NULL). CD_ERR_NOTFOUND for an
 * unknown root. */
enum cd_err classify_set_add_taxonomy(struct classify_set *s, const struct category_tree *t, const char *root,
				      size_t *names) CD_MUST_CHECK;
/* Real examples (not pseudo-examples) and distinct labels. */
size_t classify_set_count(const struct classify_set *s);
size_t classify_set_label_count(const struct classify_set *s);

/* Trains on every example of s. *out is the model (free with classify_model_free).
 * CD_ERR_INVALID for bad params or fewer than 2 labels, CD_ERR_NOMEM. */
enum cd_err classify_train(const struct classify_set *s, const struct classify_params *p,
			   struct classify_model **out) CD_MUST_CHECK;
/* Stratified k-fold cross-validation with a fixed seed: each real example is predicted by a
 * model that never saw it (taxonomy names are in every training fold; they are not test
 * data). Fills *out. CD_ERR_INVALID for folds < 2 or more folds than examples. */
enum cd_err classify_cv(const struct classify_set *s, const struct classify_params *p, unsigned folds,
			uint64_t seed, struct classify_cv_result *out) CD_MUST_CHECK;
/* Like classify_cv, and also writes each real example's out-of-fold predicted label index into
 * pred[i] and true label index into truth[i] (arrays of classify_set_count entries; either may
 * be NULL), in the order the examples were added. */
enum cd_err classify_cv_predictions(const struct classify_set *s, const struct classify_params *p,
				    unsigned folds, uint64_t seed, struct classify_cv_result *out,
				    size_t *pred, size_t *truth) CD_MUST_CHECK;
/* The fold (0..folds-1) of each real example, in the order added, as classify_cv deals them:
 * stratified by label, shuffled with seed. fold has classify_set_count entries. For running a
 * peer on the same folds. */
void classify_cv_folds(const struct classify_set *s, unsigned folds, uint64_t seed, unsigned *fold);
/* Label name of real example i (in the order added) and its text, or NULL past the end. */
const char *classify_set_label_of(const struct classify_set *s, size_t i);
const char *classify_set_text_of(const struct classify_set *s, size_t i, size_t *len);

/* Chooses among a small grid around base (idf weighting off/on × title features off/on ×
 * complement naive Bayes off/base's) the configuration with the best `folds`-fold
 * cross-validated accuracy on s (macro-F1 breaks ties): *best gets it and *best_cv (may be
 * NULL) its figures. Eight CV runs (four when base->nb_weight is 0). */
enum cd_err classify_select(const struct classify_set *s, const struct classify_params *base, unsigned folds,
			    uint64_t seed, struct classify_params *best,
			    struct classify_cv_result *best_cv) CD_MUST_CHECK;
/* Nested cross-validation of "classify_select, then train": each outer fold's model is trained
 * with the configuration that inner_folds-fold CV on that fold's training part chose, so the
 * figures are of the whole procedure on messages neither step saw. out->temperature is fitted
 * on the outer out-of-fold scores. */
enum cd_err classify_cv_nested(const struct classify_set *s, const struct classify_params *base,
			       unsigned folds, unsigned inner_folds, uint64_t seed,
			       struct classify_cv_result *out) CD_MUST_CHECK;

/* Frees the model; NULL is fine. */
void classify_model_free(struct classify_model *m);
/* Sets the softmax temperature (> 0; 1 = as trained): probabilities become softmax(score / T).
 * Does not change the ranking. Call before sharing the model. */
void classify_model_set_temperature(struct classify_model *m, double temperature);
double classify_model_temperature(const struct classify_model *m);
size_t classify_model_label_count(const struct classify_model *m);
/* Name and code ("" when none) of label i, or NULL past the end. Owned by the model. */
const char *classify_model_label_name(const struct classify_model *m, size_t i);
const char *classify_model_label_code(const struct classify_model *m, size_t i);
/* The label index with this name, or -1. */
long classify_model_label_index(const struct classify_model *m, const char *name);

/* Ranks the labels for text (UTF-8, Traditional or Simplified; any length, the first
 * CLASSIFY_MAX_TEXT bytes are used): writes up to k label indexes, best first, to labels and
 * their softmax probabilities to probs (either may be NULL). Returns the number written
 * (min(k, labels)); 0 only when k is 0 or memory runs out. Thread-safe. */
size_t classify_model_rank(const struct classify_model *m, const char *text, size_t len, size_t k,
			   size_t *labels, double *probs);
/* classify_model_rank through the shared result struct: code is the label's category code (or
 * its name when it has none, cut to fit), confidence the probability, source "model". */
size_t classify_model_top(const struct classify_model *m, const char *text, size_t len, size_t k,
			  struct classify_result *out);
/* classify_model_top with the model as void *, to store in a classify_fn. */
size_t classify_model_classify(const void *model, const char *text, size_t len, size_t k,
			       struct classify_result *out);

/* Serializes the model (the file format of docs/internals/classify.md) into out (appended).
 * CD_ERR_TOOBIG past the buffer's cap. */
enum cd_err classify_model_encode(const struct classify_model *m, struct buf *out) CD_MUST_CHECK;
/* Parses a serialized model. CD_ERR_INVALID for a wrong magic, CD_ERR_RANGE for a newer
 * version, CD_ERR_CORRUPT for a checksum mismatch, a truncated or inconsistent body. */
enum cd_err classify_model_decode(const void *data, size_t len, struct classify_model **out) CD_MUST_CHECK;
/* Writes the model to path atomically (path.tmp, fsync, rename). CD_ERR_IO on failure. */
enum cd_err classify_model_save(const struct classify_model *m, const char *path) CD_MUST_CHECK;
/* Reads a model file (errors as classify_model_decode; CD_ERR_NOTFOUND when missing). */
enum cd_err classify_model_load(const char *path, struct classify_model **out) CD_MUST_CHECK;

#endif
