/* The interim keyword classifier: scores a text against the names of every category
 * (character bigrams of each name, weighted by how rare they are among names) and returns the
 * best categories with a confidence. It stands in for the statistical model of the
 * Chinese-text issue, which will fill the same struct classify_result through a classify_fn. */
#ifndef CD_CLASSIFY_KW_H
#define CD_CLASSIFY_KW_H

#include <stddef.h>

#include "core/category.h"
#include "util/err.h"

#define CLASSIFY_KW_MAX_TEXT 65536 /* bytes of text looked at; the rest is ignored */
#define CLASSIFY_SOURCE_KEYWORD "keyword"

/* One ranked answer, the same for every classifier. */
struct classify_result {
	char code[CATEGORY_CODE_MAX]; /* a code of the tree the classifier was built on */
	double confidence;            /* in [0, 1]; higher first; not a calibrated probability */
	const char *source;           /* static string naming the classifier, e.g. "keyword" */
};

/* What the intake pipeline calls, whatever the model behind it: writes the k best answers
 * (best first) to out and returns how many it wrote (0 when the text gives no evidence).
 * text is UTF-8, Simplified Chinese (normalized upstream), need not be NUL-terminated. */
typedef size_t (*classify_fn)(const void *model, const char *text, size_t len, size_t k,
			      struct classify_result *out);

struct classify_kw;

/* Builds the classifier from a tree, which must be frozen and outlive it (scoring walks the
 * tree; results hold copies of codes). Every node except roots and names in
 * the stop list (其他, 管理部件, 管理事项) gives evidence. CD_ERR_CONFLICT if the tree is
 * not frozen. Free with classify_kw_free. Safe to use from many threads once built. */
enum cd_err classify_kw_new(const struct category_tree *t, struct classify_kw **out) CD_MUST_CHECK;
void classify_kw_free(struct classify_kw *c);

/* Ranks every category: a node's score is its own name evidence plus half its parent's and a
 * quarter of its grandparent's; only nodes with evidence of their own are ranked. Confidence
 * is score / (sum of the ten best scores + 1): ordered like the scores, near 1 only when one
 * category has strong evidence and no rival. Returns the number written (<= k). */
size_t classify_kw_top(const struct classify_kw *c, const char *text, size_t len, size_t k,
		       struct classify_result *out);
/* classify_kw_top limited to `root` and the categories below it (e.g. "U" for a grid
 * worker's or camera report, "H" for a hotline request). Confidence is computed among those
 * only. 0 for an unknown root. */
size_t classify_kw_top_within(const struct classify_kw *c, const char *text, size_t len,
			      const char *root, size_t k, struct classify_result *out);
/* classify_kw_top with the model as void *, to store in a classify_fn. */
size_t classify_kw_classify(const void *model, const char *text, size_t len, size_t k,
			    struct classify_result *out);

/* Ranks the nodes at `depth` below `root` (e.g. root "H", depth 1: the 15 first-level hotline
 * classes) by the summed evidence of their whole subtree. Same confidence rule. Returns the
 * number written; 0 for an unknown root or no evidence. */
size_t classify_kw_rank_level(const struct classify_kw *c, const char *text, size_t len,
			      const char *root, int depth, size_t k, struct classify_result *out);

/* Number of distinct name bigrams the classifier knows (for logs and tests). */
size_t classify_kw_vocabulary(const struct classify_kw *c);

#endif
