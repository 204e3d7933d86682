/* The category tree: loaders for the hotline taxonomy, the urban parts and matters, limits and
 * generic CSV trees; after every load the nodes are put in pre-order, indexed by code and their
 * effective limits recomputed. See docs/internals/category.md. */
#include "core/category.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/csv.h"

struct category_tree {
	struct category *nodes; /* pre-order after every successful load */
	size_t n;               /* nodes in use */
	size_t alloc;           /* nodes allocated */
	size_t *by_code;        /* indexes into nodes, sorted by code */
	size_t indexed;         /* entries in by_code: nodes added by a load in progress are not */
	bool frozen;            /* set by category_tree_freeze; loads refused after */
	uint64_t serial;        /* unique per frozen tree in this process; 0 until frozen */
};

/* ---- errors ---- */

static void set_err(struct category_error *err, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(struct category_error *err, size_t line, const char *fmt, ...)
{
	if (!err)
		return;
	err->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
}

/* ---- a small string -> size_t hash map, used while loading ---- */

struct strmap_slot {
	char *key;    /* owned; NULL when the slot is free */
	size_t value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;  /* a power of two */
	size_t used;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void strmap_init(struct strmap *m)
{
	m->cap = 64;
	m->used = 0;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
}

static void strmap_release(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		xfree(m->slots[i].key);
	xfree(m->slots);
	m->slots = NULL;
	m->cap = m->used = 0;
}

static struct strmap_slot *strmap_slot(const struct strmap *m, const char *key)
{
	size_t i = (size_t)str_hash(key) & (m->cap - 1);
	while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static bool strmap_get(const struct strmap *m, const char *key, size_t *value)
{
	const struct strmap_slot *s = strmap_slot(m, key);
	if (!s->key)
		return false;
	*value = s->value;
	return true;
}

/* Sizes are bounded by CATEGORY_MAX_NODES (a few per node), so growth uses the aborting family. */
static void strmap_put(struct strmap *m, const char *key, size_t value)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct strmap old = *m;
		m->cap *= 2;
		m->used = 0;
		m->slots = xcalloc(m->cap, sizeof *m->slots);
		for (size_t i = 0; i < old.cap; i++) {
			if (old.slots[i].key) {
				struct strmap_slot *s = strmap_slot(m, old.slots[i].key);
				*s = old.slots[i];
				m->used++;
			}
		}
		xfree(old.slots);
	}
	struct strmap_slot *s = strmap_slot(m, key);
	if (!s->key) {
		s->key = xstrdup(key);
		m->used++;
	}
	s->value = value;
}

/* ---- names and codes ---- */

static const char *const limit_kind_names[] = {"", "working_days", "working_hours", "hours"};
static const char *const urgency_names[] = {"", "normal", "urgent", "emergency"};

const char *category_limit_kind_name(enum category_limit_kind k)
{
	return (unsigned)k < 4 ? limit_kind_names[k] : "";
}

const char *category_urgency_name(enum category_urgency u)
{
	return (unsigned)u < 4 ? urgency_names[u] : "";
}

enum cd_err category_limit_kind_parse(const char *s, enum category_limit_kind *out)
{
	for (int i = 1; i < 4; i++) {
		if (strcmp(s, limit_kind_names[i]) == 0) {
			*out = (enum category_limit_kind)i;
			return CD_OK;
		}
	}
	return CD_ERR_INVALID;
}

enum cd_err category_urgency_parse(const char *s, enum category_urgency *out)
{
	for (int i = 1; i < 4; i++) {
		if (strcmp(s, urgency_names[i]) == 0) {
			*out = (enum category_urgency)i;
			return CD_OK;
		}
	}
	return CD_ERR_INVALID;
}

static bool valid_code(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CATEGORY_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Well-formed UTF-8 without control characters, 1..CATEGORY_NAME_MAX-1 bytes. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CATEGORY_NAME_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k;
		uint32_t cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* Strips ASCII blanks at both ends, in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* The trimmed field at column col of the record last read, or "" when the row is short. */
static const char *field(struct csv_reader *r, int col)
{
	if (col < 0 || (size_t)col >= r->nfields)
		return "";
	return trim(r->fields[col]);
}

/* ---- building ---- */

struct category_tree *category_tree_new(void)
{
	return xcalloc(1, sizeof(struct category_tree));
}

void category_tree_free(struct category_tree *t)
{
	if (!t)
		return;
	xfree(t->nodes);
	xfree(t->by_code);
	xfree(t);
}

void category_tree_freeze(struct category_tree *t)
{
	static atomic_uint_fast64_t next_serial = 1;
	if (!t->frozen)
		t->serial = (uint64_t)atomic_fetch_add(&next_serial, 1);
	t->frozen = true;
}

uint64_t category_tree_serial(const struct category_tree *t)
{
	return t->serial;
}

bool category_tree_frozen(const struct category_tree *t)
{
	return t->frozen;
}

/* Appends a node (pointers are resolved by finish()). CD_ERR_TOOBIG past the cap. */
static enum cd_err add_node(struct category_tree *t, const char *code, const char *name,
			    const char *parent_code, size_t line, struct category **out)
{
	if (t->n >= CATEGORY_MAX_NODES)
		return CD_ERR_TOOBIG;
	if (t->n == t->alloc) {
		size_t na = t->alloc ? t->alloc * 2 : 256;
		if (na > CATEGORY_MAX_NODES)
			na = CATEGORY_MAX_NODES;
		struct category *p = try_realloc(t->nodes, na * sizeof *p);
		if (!p)
			return CD_ERR_NOMEM;
		t->nodes = p;
		t->alloc = na;
	}
	struct category *c = &t->nodes[t->n++];
	memset(c, 0, sizeof *c);
	snprintf(c->code, sizeof c->code, "%s", code);
	snprintf(c->name, sizeof c->name, "%s", name);
	snprintf(c->parent_code, sizeof c->parent_code, "%s", parent_code);
	c->line = line;
	if (out)
		*out = c;
	return CD_OK;
}

static int cmp_by_code(const void *a, const void *b, void *ctx)
{
	const size_t *x = a, *y = b;
	const struct category *nodes = ctx;
	return strcmp(nodes[*x].code, nodes[*y].code);
}

static size_t find_index(const struct category_tree *t, const char *code)
{
	size_t lo = 0, hi = t->indexed;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->nodes[t->by_code[mid]].code, code);
		if (c == 0)
			return t->by_code[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

static enum cd_err sort_index(struct category_tree *t, struct category_error *err)
{
	xfree(t->by_code);
	t->by_code = xmalloc((t->n ? t->n : 1) * sizeof *t->by_code);
	for (size_t i = 0; i < t->n; i++)
		t->by_code[i] = i;
	qsort_r(t->by_code, t->n, sizeof *t->by_code, cmp_by_code, t->nodes);
	t->indexed = t->n;
	for (size_t i = 1; i < t->n; i++) {
		const struct category *a = &t->nodes[t->by_code[i - 1]], *b = &t->nodes[t->by_code[i]];
		if (strcmp(a->code, b->code) == 0) {
			set_err(err, a->line > b->line ? a->line : b->line, "duplicate code %s", a->code);
			return CD_ERR_EXISTS;
		}
	}
	return CD_OK;
}

/* Puts the nodes in pre-order, resolves parents, children and depths, indexes codes and
 * computes inherited limits. Fails on duplicate codes, unknown parents and cycles. */
static enum cd_err finish(struct category_tree *t, struct category_error *err)
{
	enum cd_err rc = sort_index(t, err);
	if (rc)
		return rc;
	size_t n = t->n;
	size_t *parent = xmalloc((n ? n : 1) * sizeof *parent);
	size_t *first = xmalloc((n ? n : 1) * sizeof *first);
	size_t *last = xmalloc((n ? n : 1) * sizeof *last);
	size_t *next = xmalloc((n ? n : 1) * sizeof *next);
	size_t *order = xmalloc((n ? n : 1) * sizeof *order);
	size_t *stack = xmalloc((n ? n : 1) * sizeof *stack);
	struct category *sorted = NULL;
	for (size_t i = 0; i < n; i++)
		first[i] = last[i] = next[i] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		struct category *c = &t->nodes[i];
		parent[i] = SIZE_MAX;
		if (!c->parent_code[0])
			continue;
		parent[i] = find_index(t, c->parent_code);
		if (parent[i] == SIZE_MAX) {
			set_err(err, c->line, "parent %s of %s is not defined", c->parent_code, c->code);
			rc = CD_ERR_NOTFOUND;
			goto out;
		}
	}
	/* Depths by walking up; a walk longer than the depth cap is a cycle or too deep. */
	for (size_t i = 0; i < n; i++) {
		int d = 0;
		for (size_t p = parent[i]; p != SIZE_MAX; p = parent[p]) {
			if (++d > CATEGORY_MAX_DEPTH) {
				set_err(err, t->nodes[i].line,
					"%s: parent chain loops or is deeper than %d levels",
					t->nodes[i].code, CATEGORY_MAX_DEPTH);
				rc = CD_ERR_INVALID;
				goto out;
			}
		}
		t->nodes[i].depth = d;
	}
	for (size_t i = 0; i < n; i++) {
		size_t p = parent[i];
		if (p == SIZE_MAX)
			continue;
		if (first[p] == SIZE_MAX)
			first[p] = i;
		else
			next[last[p]] = i;
		last[p] = i;
	}
	/* Pre-order: roots in array order, children in array order. */
	size_t k = 0;
	for (size_t r = 0; r < n; r++) {
		if (parent[r] != SIZE_MAX)
			continue;
		size_t sp = 0;
		stack[sp++] = r;
		while (sp) {
			size_t v = stack[--sp];
			order[k++] = v;
			/* Push children in reverse so the first child is visited first. */
			size_t mark = sp;
			for (size_t c = first[v]; c != SIZE_MAX; c = next[c])
				stack[sp++] = c;
			for (size_t a = mark, b = sp; a + 1 < b; a++, b--) {
				size_t tmp = stack[a];
				stack[a] = stack[b - 1];
				stack[b - 1] = tmp;
			}
		}
	}
	/* k == n: every node reaches a root because depths were bounded above. */
	sorted = xmalloc((t->alloc ? t->alloc : 1) * sizeof *sorted);
	size_t *newpos = first; /* reuse: old index -> new index */
	for (size_t i = 0; i < k; i++) {
		sorted[i] = t->nodes[order[i]];
		newpos[order[i]] = i;
	}
	for (size_t i = 0; i < k; i++) {
		struct category *c = &sorted[i];
		size_t op = parent[order[i]];
		c->index = i;
		c->parent = op == SIZE_MAX ? NULL : &sorted[newpos[op]];
		c->first_child = NULL;
		c->next_sibling = NULL;
	}
	/* Children and siblings in the new positions (pre-order keeps their relative order). */
	for (size_t i = k; i-- > 0;) {
		struct category *c = &sorted[i];
		if (c->parent) {
			struct category *p = &sorted[c->parent->index];
			c->next_sibling = p->first_child;
			p->first_child = c;
		}
	}
	/* Inheritance: parents come before their children in pre-order. */
	for (size_t i = 0; i < k; i++) {
		struct category *c = &sorted[i];
		const struct category *p = c->parent;
		if (c->own_limit.kind != CATEGORY_LIMIT_NONE) {
			c->limit = c->own_limit;
			c->limit_from = c;
		} else {
			c->limit = p ? p->limit : (struct category_limit){CATEGORY_LIMIT_NONE, 0};
			c->limit_from = p ? p->limit_from : NULL;
		}
		if (c->own_urgency != CATEGORY_URGENCY_NONE) {
			c->urgency = c->own_urgency;
			c->urgency_from = c;
		} else {
			c->urgency = p ? p->urgency : CATEGORY_URGENCY_NONE;
			c->urgency_from = p ? p->urgency_from : NULL;
		}
	}
	xfree(t->nodes);
	t->nodes = sorted;
	sorted = NULL;
	rc = sort_index(t, err); /* positions moved; cannot find duplicates this time */
out:
	xfree(sorted);
	xfree(parent);
	xfree(first);
	xfree(last);
	xfree(next);
	xfree(order);
	xfree(stack);
	return rc;
}

/* A copy of the nodes taken before a load, restored when the load fails. */
struct snapshot {
	struct category *nodes;
	size_t n, alloc;
};

static enum cd_err snapshot_take(const struct category_tree *t, struct snapshot *s)
{
	s->n = t->n;
	s->alloc = t->alloc;
	s->nodes = NULL;
	if (t->alloc) {
		s->nodes = try_malloc(t->alloc * sizeof *s->nodes);
		if (!s->nodes)
			return CD_ERR_NOMEM;
		memcpy(s->nodes, t->nodes, t->n * sizeof *s->nodes);
	}
	return CD_OK;
}

/* Ends a load: on success re-finishes the tree and drops the copy; on failure (or if finishing
 * fails) puts the copy back, whose pointers are then re-resolved. */
static enum cd_err snapshot_end(struct category_tree *t, struct snapshot *s, enum cd_err rc,
				struct category_error *err)
{
	if (!rc)
		rc = finish(t, err);
	if (rc) {
		xfree(t->nodes);
		t->nodes = s->nodes;
		t->n = s->n;
		t->alloc = s->alloc;
		s->nodes = NULL;
		enum cd_err again = finish(t, NULL);
		(void)again; /* it was a finished tree a moment ago */
	}
	xfree(s->nodes);
	return rc;
}

/* Opens the CSV, reads the header and checks it has every name in need[]; cols gets their
 * indexes (-1 for names in opt[] that are absent). */
static enum cd_err read_header(struct csv_reader *r, const char *const *need, size_t n_need,
			       int *cols, struct category_error *err)
{
	enum cd_err rc = csv_next(r);
	if (rc == CD_ERR_NOTFOUND) {
		set_err(err, 1, "empty file: a header line is required");
		return CD_ERR_INVALID;
	}
	if (rc) {
		set_err(err, r->line, "unreadable CSV header (%s)", cd_err_name(rc));
		return rc;
	}
	for (size_t i = 0; i < r->nfields; i++)
		trim(r->fields[i]);
	for (size_t i = 0; i < n_need; i++) {
		cols[i] = csv_column(r, need[i]);
		if (cols[i] < 0) {
			set_err(err, r->line, "header lacks the column %s", need[i]);
			return CD_ERR_INVALID;
		}
	}
	return CD_OK;
}

/* csv_next with the error turned into a message; CD_ERR_NOTFOUND at the end. */
static enum cd_err next_row(struct csv_reader *r, struct category_error *err)
{
	/* The line the record starts on, past any blank lines csv_next will skip. */
	size_t start = r->line + 1;
	for (size_t p = r->pos; p < r->len && (r->text[p] == '\n' || r->text[p] == '\r'); p++)
		if (r->text[p] == '\n')
			start++;
	enum cd_err rc = csv_next(r);
	if (rc && rc != CD_ERR_NOTFOUND)
		set_err(err, start, "unreadable CSV record starting here (%s)", cd_err_name(rc));
	return rc;
}

static enum cd_err check_loadable(const struct category_tree *t, struct category_error *err)
{
	if (t->frozen) {
		set_err(err, 0, "the category tree is frozen");
		return CD_ERR_CONFLICT;
	}
	return CD_OK;
}

static enum cd_err ensure_root(struct category_tree *t, const char *code, const char *name,
			       const char *parent_code)
{
	if (find_index(t, code) != SIZE_MAX)
		return CD_OK;
	for (size_t i = 0; i < t->n; i++) /* added earlier in this load, not yet indexed */
		if (strcmp(t->nodes[i].code, code) == 0)
			return CD_OK;
	return add_node(t, code, name, parent_code, 0, NULL);
}

/* Finds the child of parent named name among nodes added in this load, or adds it with the
 * next 2-digit index. */
static enum cd_err hotline_child(struct category_tree *t, struct strmap *m, const char *parent,
				 const char *name, size_t line, char *code_out,
				 struct category_error *err)
{
	char key[CATEGORY_CODE_MAX + CATEGORY_NAME_MAX + 2];
	snprintf(key, sizeof key, "%s|%s", parent, name);
	size_t idx;
	if (strmap_get(m, key, &idx)) {
		snprintf(code_out, CATEGORY_CODE_MAX, "%s", t->nodes[idx].code);
		return CD_OK;
	}
	char ckey[CATEGORY_CODE_MAX + 2];
	snprintf(ckey, sizeof ckey, "#%s", parent);
	size_t count = 0;
	(void)strmap_get(m, ckey, &count);
	if (count >= 99) {
		set_err(err, line, "more than 99 classes under %s", parent);
		return CD_ERR_RANGE;
	}
	count++;
	snprintf(code_out, CATEGORY_CODE_MAX, "%s%02zu", parent, count);
	if (find_index(t, code_out) != SIZE_MAX) {
		set_err(err, line, "code %s (for %s) is already in the tree", code_out, name);
		return CD_ERR_EXISTS;
	}
	enum cd_err rc = add_node(t, code_out, name, parent, line, NULL);
	if (rc) {
		set_err(err, line, "cannot add %s (%s)", code_out, cd_err_name(rc));
		return rc;
	}
	strmap_put(m, ckey, count);
	strmap_put(m, key, t->n - 1);
	return CD_OK;
}

/* The start every loader shares: the tree must accept loads, a snapshot is taken so a refused
 * file changes nothing, and the reader is set on the text. On failure nothing needs undoing;
 * on success the caller ends with csv_release and snapshot_end. */
static enum cd_err load_begin(struct category_tree *t, struct snapshot *snap, struct csv_reader *r,
			      const char *text, size_t len, struct category_error *err)
{
	enum cd_err rc = check_loadable(t, err);
	if (!rc)
		rc = snapshot_take(t, snap);
	if (!rc)
		csv_init(r, text, len);
	return rc;
}

enum cd_err category_tree_load_hotline(struct category_tree *t, const char *text, size_t len,
				       struct category_error *err)
{
	struct snapshot snap;
	struct csv_reader r;
	enum cd_err rc = load_begin(t, &snap, &r, text, len, err);
	if (rc)
		return rc;
	static const char *const need[] = {"一级分类", "二级分类", "三级分类"};
	int cols[3];
	struct strmap m;
	strmap_init(&m);
	rc = read_header(&r, need, 3, cols, err);
	if (rc)
		goto done;
	rc = ensure_root(t, "H", "市民诉求分类", "");
	if (rc)
		goto done;
	while ((rc = next_row(&r, err)) == CD_OK) {
		const char *names[3];
		for (int i = 0; i < 3; i++) {
			names[i] = field(&r, cols[i]);
			if (!valid_name(names[i])) {
				set_err(err, r.line, "%s is empty, too long or not UTF-8 text", need[i]);
				rc = CD_ERR_INVALID;
				goto done;
			}
		}
		char l1[CATEGORY_CODE_MAX], l2[CATEGORY_CODE_MAX], l3[CATEGORY_CODE_MAX];
		rc = hotline_child(t, &m, "H", names[0], r.line, l1, err);
		if (!rc)
			rc = hotline_child(t, &m, l1, names[1], r.line, l2, err);
		if (rc)
			goto done;
		char key[CATEGORY_CODE_MAX + CATEGORY_NAME_MAX + 2];
		snprintf(key, sizeof key, "%s|%s", l2, names[2]);
		size_t prev;
		if (strmap_get(&m, key, &prev)) {
			set_err(err, r.line, "repeats the row on line %zu", t->nodes[prev].line);
			rc = CD_ERR_EXISTS;
			goto done;
		}
		rc = hotline_child(t, &m, l2, names[2], r.line, l3, err);
		if (rc)
			goto done;
	}
	if (rc == CD_ERR_NOTFOUND)
		rc = CD_OK;
done:
	csv_release(&r);
	strmap_release(&m);
	return snapshot_end(t, &snap, rc, err);
}

static bool all_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

enum cd_err category_tree_load_urban(struct category_tree *t, const char *text, size_t len,
				     struct category_error *err)
{
	struct snapshot snap;
	struct csv_reader r;
	enum cd_err rc = load_begin(t, &snap, &r, text, len, err);
	if (rc)
		return rc;
	static const char *const need[] = {"kind", "major_code", "major_name", "code", "name"};
	int cols[5];
	struct strmap m;
	strmap_init(&m);
	rc = read_header(&r, need, 5, cols, err);
	if (rc)
		goto done;
	rc = ensure_root(t, "U", "城市管理部件事件", "");
	if (!rc)
		rc = ensure_root(t, "UP", "管理部件", "U");
	if (!rc)
		rc = ensure_root(t, "UM", "管理事项", "U");
	if (rc)
		goto done;
	while ((rc = next_row(&r, err)) == CD_OK) {
		const char *kind = field(&r, cols[0]), *major = field(&r, cols[1]);
		const char *major_name = field(&r, cols[2]), *code = field(&r, cols[3]);
		const char *name = field(&r, cols[4]);
		const char *prefix;
		if (strcmp(kind, "管理部件") == 0) {
			prefix = "UP";
		} else if (strcmp(kind, "管理事项") == 0) {
			prefix = "UM";
		} else {
			set_err(err, r.line, "kind must be 管理部件 or 管理事项, not \"%.60s\"", kind);
			rc = CD_ERR_INVALID;
			goto done;
		}
		if (!all_digits(major, 2) || !all_digits(code, 5) || memcmp(code, major, 2) != 0) {
			set_err(err, r.line,
				"major_code must be 2 digits and code 5 digits starting with it");
			rc = CD_ERR_INVALID;
			goto done;
		}
		if (!valid_name(major_name) || !valid_name(name)) {
			set_err(err, r.line, "major_name or name is empty, too long or not UTF-8 text");
			rc = CD_ERR_INVALID;
			goto done;
		}
		char mcode[CATEGORY_CODE_MAX], icode[CATEGORY_CODE_MAX];
		snprintf(mcode, sizeof mcode, "%s%s", prefix, major);
		snprintf(icode, sizeof icode, "%s%s", prefix, code);
		size_t idx;
		if (strmap_get(&m, mcode, &idx)) {
			if (strcmp(t->nodes[idx].name, major_name) != 0) {
				set_err(err, r.line, "major %s is named %s on line %zu", mcode,
					t->nodes[idx].name, t->nodes[idx].line);
				rc = CD_ERR_INVALID;
				goto done;
			}
		} else if (find_index(t, mcode) == SIZE_MAX) {
			rc = add_node(t, mcode, major_name, prefix, r.line, NULL);
			if (rc)
				goto add_failed;
			strmap_put(&m, mcode, t->n - 1);
		}
		if (strmap_get(&m, icode, &idx) || find_index(t, icode) != SIZE_MAX) {
			set_err(err, r.line, "code %s appears twice", icode);
			rc = CD_ERR_EXISTS;
			goto done;
		}
		rc = add_node(t, icode, name, mcode, r.line, NULL);
		if (rc)
			goto add_failed;
		strmap_put(&m, icode, t->n - 1);
	}
	if (rc == CD_ERR_NOTFOUND)
		rc = CD_OK;
	goto done;
add_failed:
	set_err(err, r.line, "cannot add a category (%s)", cd_err_name(rc));
done:
	csv_release(&r);
	strmap_release(&m);
	return snapshot_end(t, &snap, rc, err);
}

/* Parses limit_kind/limit_value/urgency fields (any may be empty) into a node's own values. */
static enum cd_err parse_limits(const char *kind, const char *value, const char *urgency,
				size_t line, struct category_limit *lim, enum category_urgency *urg,
				struct category_error *err)
{
	lim->kind = CATEGORY_LIMIT_NONE;
	lim->value = 0;
	*urg = CATEGORY_URGENCY_NONE;
	if (kind[0]) {
		if (category_limit_kind_parse(kind, &lim->kind)) {
			set_err(err, line,
				"limit_kind must be working_days, working_hours or hours, not \"%.40s\"",
				kind);
			return CD_ERR_INVALID;
		}
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (!value[0] || *end || errno) {
			set_err(err, line, "limit_value must be a whole number, not \"%.40s\"", value);
			return CD_ERR_INVALID;
		}
		if (v < 1 || v > CATEGORY_LIMIT_VALUE_MAX) {
			set_err(err, line, "limit_value %ld is outside 1..%d", v, CATEGORY_LIMIT_VALUE_MAX);
			return CD_ERR_RANGE;
		}
		lim->value = (int)v;
	} else if (value[0]) {
		set_err(err, line, "limit_value given without limit_kind");
		return CD_ERR_INVALID;
	}
	if (urgency[0] && category_urgency_parse(urgency, urg)) {
		set_err(err, line, "urgency must be normal, urgent or emergency, not \"%.40s\"", urgency);
		return CD_ERR_INVALID;
	}
	return CD_OK;
}

enum cd_err category_tree_load_limits(struct category_tree *t, const char *text, size_t len,
				      struct category_error *err)
{
	struct snapshot snap;
	struct csv_reader r;
	enum cd_err rc = load_begin(t, &snap, &r, text, len, err);
	if (rc)
		return rc;
	static const char *const need[] = {"category_code", "limit_kind", "limit_value", "urgency"};
	int cols[4];
	rc = read_header(&r, need, 4, cols, err);
	if (rc)
		goto done;
	while ((rc = next_row(&r, err)) == CD_OK) {
		const char *code = field(&r, cols[0]);
		size_t idx = find_index(t, code);
		if (idx == SIZE_MAX) {
			set_err(err, r.line, "unknown category code \"%.40s\"", code);
			rc = CD_ERR_NOTFOUND;
			goto done;
		}
		struct category_limit lim;
		enum category_urgency urg;
		rc = parse_limits(field(&r, cols[1]), field(&r, cols[2]), field(&r, cols[3]), r.line,
				  &lim, &urg, err);
		if (rc)
			goto done;
		t->nodes[idx].own_limit = lim;
		t->nodes[idx].own_urgency = urg;
	}
	if (rc == CD_ERR_NOTFOUND)
		rc = CD_OK;
done:
	csv_release(&r);
	return snapshot_end(t, &snap, rc, err);
}

enum cd_err category_tree_load_csv(struct category_tree *t, const char *text, size_t len,
				   struct category_error *err)
{
	struct snapshot snap;
	struct csv_reader r;
	enum cd_err rc = load_begin(t, &snap, &r, text, len, err);
	if (rc)
		return rc;
	static const char *const need[] = {"code", "name", "parent_code"};
	int cols[3];
	struct strmap m;
	strmap_init(&m);
	rc = read_header(&r, need, 3, cols, err);
	if (rc)
		goto done;
	int ck = csv_column(&r, "limit_kind"), cv = csv_column(&r, "limit_value");
	int cu = csv_column(&r, "urgency");
	while ((rc = next_row(&r, err)) == CD_OK) {
		const char *code = field(&r, cols[0]), *name = field(&r, cols[1]);
		const char *parent = field(&r, cols[2]);
		if (!valid_code(code) || (parent[0] && !valid_code(parent))) {
			set_err(err, r.line, "codes must be 1..%d characters of A-Z a-z 0-9 _ . -",
				CATEGORY_CODE_MAX - 1);
			rc = CD_ERR_INVALID;
			goto done;
		}
		if (!valid_name(name)) {
			set_err(err, r.line, "name is empty, too long or not UTF-8 text");
			rc = CD_ERR_INVALID;
			goto done;
		}
		if (strcmp(code, parent) == 0) {
			set_err(err, r.line, "%s is its own parent", code);
			rc = CD_ERR_INVALID;
			goto done;
		}
		size_t prev;
		if (strmap_get(&m, code, &prev) || find_index(t, code) != SIZE_MAX) {
			set_err(err, r.line, "code %s is already defined", code);
			rc = CD_ERR_EXISTS;
			goto done;
		}
		struct category_limit lim;
		enum category_urgency urg;
		rc = parse_limits(field(&r, ck), field(&r, cv), field(&r, cu), r.line, &lim, &urg, err);
		if (rc)
			goto done;
		struct category *c;
		rc = add_node(t, code, name, parent, r.line, &c);
		if (rc) {
			set_err(err, r.line, "cannot add a category (%s)", cd_err_name(rc));
			goto done;
		}
		c->own_limit = lim;
		c->own_urgency = urg;
		strmap_put(&m, code, t->n - 1);
	}
	if (rc == CD_ERR_NOTFOUND)
		rc = CD_OK;
done:
	csv_release(&r);
	strmap_release(&m);
	return snapshot_end(t, &snap, rc, err);
}

enum cd_err category_tree_load_default(struct category_tree *t, const char *hotline, size_t hotline_len,
				       const char *urban, size_t urban_len, const char *limits,
				       size_t limits_len, struct category_error *err)
{
	enum cd_err rc = category_tree_load_hotline(t, hotline, hotline_len, err);
	if (!rc)
		rc = category_tree_load_urban(t, urban, urban_len, err);
	if (!rc)
		rc = category_tree_load_limits(t, limits, limits_len, err);
	return rc;
}

/* ---- reading ---- */

size_t category_count(const struct category_tree *t)
{
	return t->n;
}

const struct category *category_at(const struct category_tree *t, size_t i)
{
	return i < t->n ? &t->nodes[i] : NULL;
}

const struct category *category_get(const struct category_tree *t, const char *code)
{
	if (!code)
		return NULL;
	size_t i = find_index(t, code);
	return i == SIZE_MAX ? NULL : &t->nodes[i];
}

const struct category *category_find_name(const struct category_tree *t, const char *name,
					  const char *within)
{
	size_t from = 0, to = t->n;
	if (within) {
		const struct category *w = category_get(t, within);
		if (!w)
			return NULL;
		from = w->index;
		/* A subtree is a contiguous run in pre-order: it ends at the first node not deeper. */
		for (to = from + 1; to < t->n && t->nodes[to].depth > w->depth; to++)
			;
	}
	for (size_t i = from; i < to; i++)
		if (strcmp(t->nodes[i].name, name) == 0)
			return &t->nodes[i];
	return NULL;
}

size_t category_find_name_all(const struct category_tree *t, const char *name,
			      const struct category **out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->nodes[i].name, name) == 0) {
			if (k < cap)
				out[k] = &t->nodes[i];
			k++;
		}
	}
	return k;
}

size_t category_ancestors(const struct category_tree *t, const char *code, const char **out,
			  size_t cap)
{
	const struct category *c = category_get(t, code);
	if (!c)
		return 0;
	size_t k = 0;
	for (; c; c = c->parent, k++)
		if (k < cap)
			out[k] = c->code;
	return k;
}

size_t category_path(const struct category_tree *t, const char *code,
		     const struct category **out, size_t cap)
{
	const struct category *c = category_get(t, code);
	if (!c)
		return 0;
	size_t total = (size_t)c->depth + 1;
	for (size_t i = total; c; c = c->parent) {
		i--;
		if (i < cap)
			out[i] = c;
	}
	return total;
}

enum cd_err category_path_names(const struct category_tree *t, const char *code, const char *sep,
				struct buf *out)
{
	const struct category *path[CATEGORY_MAX_DEPTH + 1];
	size_t n = category_path(t, code, path, CATEGORY_MAX_DEPTH + 1);
	if (n == 0)
		return CD_ERR_NOTFOUND;
	enum cd_err rc = CD_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = buf_puts(out, sep);
		if (!rc)
			rc = buf_puts(out, path[i]->name);
	}
	return rc;
}

bool category_is_ancestor(const struct category_tree *t, const char *ancestor, const char *code)
{
	const struct category *a = category_get(t, ancestor), *c = category_get(t, code);
	if (!a || !c || a == c)
		return false;
	for (c = c->parent; c; c = c->parent)
		if (c == a)
			return true;
	return false;
}

bool category_in_subtree(const struct category_tree *t, const char *code, const char *root)
{
	const struct category *c = category_get(t, code), *r = category_get(t, root);
	if (!c || !r)
		return false;
	return c == r || category_is_ancestor(t, root, code);
}

const struct category *category_ancestor_at(const struct category *c, int depth)
{
	if (!c || depth < 0 || depth > c->depth)
		return NULL;
	while (c->depth > depth)
		c = c->parent;
	return c;
}
