/* The category tree: every code a case can be filed under, with its Chinese name, place in the
 * tree and the time limit and urgency it inherits from the nearest ancestor that sets them.
 * Built once from CSV text (the hotline taxonomy, the urban parts and matters, a limits file,
 * or a district's own tree), then frozen and read concurrently without locks. */
#ifndef CD_CATEGORY_H
#define CD_CATEGORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define CATEGORY_CODE_MAX 24   /* bytes of a code, NUL included ("UP01001" needs 8) */
#define CATEGORY_NAME_MAX 128  /* bytes of a UTF-8 name, NUL included */
#define CATEGORY_MAX_NODES 100000 /* a tree larger than this is refused (CD_ERR_TOOBIG) */
#define CATEGORY_MAX_DEPTH 16  /* deeper trees are refused; real ones have 4 levels */
#define CATEGORY_LIMIT_VALUE_MAX 10000 /* largest N accepted for a time limit */

/* How a time limit counts; the calendar engine interprets it. */
enum category_limit_kind {
	CATEGORY_LIMIT_NONE = 0,      /* not set (on the node, or anywhere up to its root) */
	CATEGORY_LIMIT_WORKING_DAYS,  /* same clock time on the Nth working day */
	CATEGORY_LIMIT_WORKING_HOURS, /* N hours of working time */
	CATEGORY_LIMIT_HOURS,         /* N wall-clock hours, for urgent matters */
};

enum category_urgency {
	CATEGORY_URGENCY_NONE = 0, /* not set */
	CATEGORY_URGENCY_NORMAL,
	CATEGORY_URGENCY_URGENT,
	CATEGORY_URGENCY_EMERGENCY,
};

struct category_limit {
	enum category_limit_kind kind; /* CATEGORY_LIMIT_NONE when nothing sets one */
	int value;                     /* N, 1..CATEGORY_LIMIT_VALUE_MAX; 0 with NONE */
};

/* One node. Pointers point into the tree and stay valid until the next load call or
 * category_tree_free; after category_tree_freeze they never change. */
struct category {
	char code[CATEGORY_CODE_MAX];        /* unique key, e.g. "H0101", "UM06010" */
	char name[CATEGORY_NAME_MAX];        /* Chinese name, e.g. "安全生产" */
	char parent_code[CATEGORY_CODE_MAX]; /* "" for a root */
	const struct category *parent;       /* NULL for a root */
	const struct category *first_child;  /* children in load order */
	const struct category *next_sibling;
	int depth;                           /* 0 for a root */
	struct category_limit limit;         /* effective: own, else inherited */
	enum category_urgency urgency;       /* effective: own, else inherited */
	const struct category *limit_from;   /* the node that set `limit` (self or ancestor), or NULL */
	const struct category *urgency_from; /* the node that set `urgency`, or NULL */
	struct category_limit own_limit;     /* what this node itself sets (kind NONE: inherit) */
	enum category_urgency own_urgency;   /* what this node itself sets (NONE: inherit) */
	size_t line;                         /* CSV line the node came from (0: made up, e.g. a root) */
	size_t index;                        /* position in pre-order, for category_at and arrays */
};

/* Why a load failed: the 1-based CSV line (0 when not tied to a line) and a sentence. */
struct category_error {
	size_t line;
	char message[200];
};

struct category_tree;

/* An empty, unfrozen tree. Free with category_tree_free. Never NULL (aborts on OOM). */
struct category_tree *category_tree_new(void);
/* Frees the tree and every node; NULL is fine. */
void category_tree_free(struct category_tree *t);

/* Loaders. Each takes a CSV text (not owned, need not be NUL-terminated; a UTF-8 BOM is fine)
 * and adds to the tree all or nothing: on failure the tree is as it was before the call and
 * *err (may be NULL) names the line. CD_ERR_INVALID for a malformed row or header,
 * CD_ERR_EXISTS for a code already present, CD_ERR_NOTFOUND for an unknown code or parent,
 * CD_ERR_RANGE for a value out of range, CD_ERR_TOOBIG past CATEGORY_MAX_NODES,
 * CD_ERR_CONFLICT once the tree is frozen. After success lookups see the new nodes. */

/* The hotline taxonomy (header 一级分类,二级分类,三级分类): root "H" (市民诉求分类) is added if
 * missing; codes are "H" + 2 digits per level, numbered 01.. within the parent in order of
 * first appearance. Repeated rows are refused. */
enum cd_err category_tree_load_hotline(struct category_tree *t, const char *text, size_t len,
				       struct category_error *err) CD_MUST_CHECK;
/* Urban parts and matters (header kind,major_code,major_name,code,name): roots "U"
 * (城市管理部件事件) with "UP" (管理部件) and "UM" (管理事项) are added if missing; majors
 * become "UP01"/"UM06", items "UP01001"/"UM06010". The 5-digit code must start with the
 * 2-digit major code. */
enum cd_err category_tree_load_urban(struct category_tree *t, const char *text, size_t len,
				     struct category_error *err) CD_MUST_CHECK;
/* Limits for codes already in the tree (header category_code,limit_kind,limit_value,urgency[,note]).
 * limit_kind is working_days|working_hours|hours or empty (with an empty value: inherit);
 * urgency is normal|urgent|emergency or empty. A later row for the same code replaces it. */
enum cd_err category_tree_load_limits(struct category_tree *t, const char *text, size_t len,
				      struct category_error *err) CD_MUST_CHECK;
/* A district's own tree (header code,name,parent_code[,limit_kind,limit_value,urgency]; more
 * columns are ignored). An empty parent_code makes a root; a parent may be defined later in
 * the file or already be in the tree. Codes are 1..23 bytes of [A-Za-z0-9_.-]. */
enum cd_err category_tree_load_csv(struct category_tree *t, const char *text, size_t len,
				   struct category_error *err) CD_MUST_CHECK;
/* Luohu's default in one call: hotline taxonomy, urban parts and matters, then the limits. */
enum cd_err category_tree_load_default(struct category_tree *t, const char *hotline, size_t hotline_len,
				       const char *urban, size_t urban_len, const char *limits,
				       size_t limits_len, struct category_error *err) CD_MUST_CHECK;

/* Marks the tree read-only: later loads fail with CD_ERR_CONFLICT. Share it with other threads
 * only after this; every reader below is then safe to call concurrently. */
void category_tree_freeze(struct category_tree *t);
bool category_tree_frozen(const struct category_tree *t);
/* A number no other tree frozen in this process has (0 while not frozen): what a cache of
 * something derived from a frozen tree keys on, since a freed tree's address may be reused. */
uint64_t category_tree_serial(const struct category_tree *t);

/* Number of nodes. */
size_t category_count(const struct category_tree *t);
/* The i-th node in pre-order (roots in load order, each followed by its subtree; children in
 * load order), or NULL when i >= category_count. Use for iteration. */
const struct category *category_at(const struct category_tree *t, size_t i);
/* The node with this code (binary search, O(log n)), or NULL. */
const struct category *category_get(const struct category_tree *t, const char *code);
/* The first node in pre-order whose name is exactly `name`, or NULL. Names repeat (其他 is under
 * most classes): pass a `within` code to search only that subtree, or NULL for the whole tree. */
const struct category *category_find_name(const struct category_tree *t, const char *name,
					  const char *within);
/* Every node named `name`: writes up to cap of them to out in pre-order; returns how many
 * there are (which may exceed cap). */
size_t category_find_name_all(const struct category_tree *t, const char *name,
			      const struct category **out, size_t cap);

/* The codes from `code` up to its root: out[0] = code, out[1] = its parent, ... Writes at most
 * cap entries (pointers into the tree); returns how many there are in all (depth + 1), or 0 for
 * an unknown code. The router tries them in this order, most specific first. */
size_t category_ancestors(const struct category_tree *t, const char *code, const char **out,
			  size_t cap);
/* The same chain from the root down: out[0] = root, ..., out[depth] = the node itself. */
size_t category_path(const struct category_tree *t, const char *code,
		     const struct category **out, size_t cap);
/* Appends the names from the root down joined by sep (e.g. "市民诉求分类/城乡建设/安全生产").
 * CD_ERR_NOTFOUND for an unknown code. */
enum cd_err category_path_names(const struct category_tree *t, const char *code, const char *sep,
				struct buf *out) CD_MUST_CHECK;
/* True when `ancestor` is a proper ancestor of `code` (false for the same code or unknown codes). */
bool category_is_ancestor(const struct category_tree *t, const char *ancestor, const char *code);
/* True when `code` is `root` or below it: what a list filter by category means. */
bool category_in_subtree(const struct category_tree *t, const char *code, const char *root);
/* The ancestor of c at `depth` (c itself when depth == c->depth), or NULL when deeper than c. */
const struct category *category_ancestor_at(const struct category *c, int depth);

/* "working_days", "working_hours", "hours", or "" for NONE. */
const char *category_limit_kind_name(enum category_limit_kind k);
/* "normal", "urgent", "emergency", or "" for NONE. */
const char *category_urgency_name(enum category_urgency u);
/* Parses the names above (not ""); CD_ERR_INVALID for anything else. */
enum cd_err category_limit_kind_parse(const char *s, enum category_limit_kind *out) CD_MUST_CHECK;
enum cd_err category_urgency_parse(const char *s, enum category_urgency *out) CD_MUST_CHECK;

#endif
