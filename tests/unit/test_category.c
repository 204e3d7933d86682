/* Unit tests for core/category: Luohu's default tree (codes, counts, limits), walks,
 * ancestors, the generic CSV import, refusal of bad rows with their line, all-or-nothing
 * loads and allocation failure. Run from the repository root. */
#include <stdlib.h>
#include <string.h>

#include "core/category.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/csv.h"
#include "test.h"

#define HOTLINE_CSV "data/categories/hotline-taxonomy-L1-L2-L3.csv"
#define URBAN_CSV "data/categories/urban-parts-and-matters.csv"
#define LIMITS_CSV "data/categories/limits.csv"

static char *read_file(const char *path, size_t *len)
{
	char *text = NULL;
	if (file_read_all(path, 1 << 22, &text, len) != CD_OK) {
		fprintf(stderr, "  cannot read %s (run from the repository root)\n", path);
		return NULL;
	}
	return text;
}

/* Luohu's default tree, or NULL (with a failed check) when the data cannot be loaded. */
static struct category_tree *default_tree(void)
{
	size_t hl = 0, ul = 0, ll = 0;
	char *h = read_file(HOTLINE_CSV, &hl), *u = read_file(URBAN_CSV, &ul);
	char *l = read_file(LIMITS_CSV, &ll);
	struct category_tree *t = NULL;
	if (h && u && l) {
		t = category_tree_new();
		struct category_error err = {0, ""};
		enum cd_err rc = category_tree_load_default(t, h, hl, u, ul, l, ll, &err);
		if (rc) {
			fprintf(stderr, "  load_default: %s at line %zu: %s\n", cd_err_name(rc), err.line,
				err.message);
			category_tree_free(t);
			t = NULL;
		} else {
			category_tree_freeze(t);
		}
	}
	CHECK(t != NULL);
	xfree(h);
	xfree(u);
	xfree(l);
	return t;
}

static size_t count_depth(const struct category_tree *t, const char *root, int depth)
{
	size_t k = 0;
	for (size_t i = 0; i < category_count(t); i++) {
		const struct category *c = category_at(t, i);
		if (c->depth == depth && category_in_subtree(t, c->code, root))
			k++;
	}
	return k;
}

static void check_node(const struct category_tree *t, const char *code, const char *name,
		       const char *parent)
{
	const struct category *c = category_get(t, code);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_STR_EQ(c->code, code);
	CHECK_STR_EQ(c->name, name);
	if (parent) {
		CHECK(c->parent != NULL);
		CHECK_STR_EQ(c->parent ? c->parent->code : NULL, parent);
	} else {
		CHECK(c->parent == NULL);
	}
}

static void test_default_codes(void)
{
	struct category_tree *t = default_tree();
	if (!t)
		return;
	check_node(t, "H", "市民诉求分类", NULL);
	check_node(t, "H01", "城乡建设", "H");
	check_node(t, "H0101", "安全生产", "H01");
	check_node(t, "H010101", "事故处理", "H0101");
	check_node(t, "H010103", "安全隐患", "H0101");
	check_node(t, "H0102", "城市建设和市政管理", "H01");
	check_node(t, "H010214", "环境卫生", "H0102");
	check_node(t, "H02", "党务政务", "H");
	check_node(t, "H07", "经济管理", "H");
	check_node(t, "H15", "劳动和社会保障", "H");
	check_node(t, "H150906", "病退及提前退休人员待遇", "H1509");
	check_node(t, "U", "城市管理部件事件", NULL);
	check_node(t, "UP", "管理部件", "U");
	check_node(t, "UM", "管理事项", "U");
	check_node(t, "UP01", "市政公用设施", "UP");
	check_node(t, "UP01001", "供水井盖", "UP01");
	check_node(t, "UM01", "市政公用设施类", "UM");
	check_node(t, "UM01001", "供水井盖异常", "UM01");
	check_node(t, "UM06", "市容环境类", "UM");
	check_node(t, "UM06010", "暴露垃圾", "UM06");
	check_node(t, "UM10002", "架空线缆脱落", "UM10");
	CHECK(category_get(t, "H16") == NULL);
	CHECK(category_get(t, "UP06") == NULL);
	CHECK(category_get(t, "") == NULL);
	CHECK(category_get(t, NULL) == NULL);
	CHECK_INT_EQ(category_get(t, "UP01001")->depth, 3);
	CHECK_INT_EQ(category_get(t, "H010101")->depth, 3);
	CHECK_INT_EQ(category_get(t, "H")->depth, 0);
	category_tree_free(t);
}

static void test_default_counts(void)
{
	struct category_tree *t = default_tree();
	if (!t)
		return;
	CHECK_INT_EQ(count_depth(t, "H", 1), 15);
	CHECK_INT_EQ(count_depth(t, "H", 2), 118);
	CHECK_INT_EQ(count_depth(t, "H", 3), 517);
	CHECK_INT_EQ(count_depth(t, "UP", 2), 5);
	CHECK_INT_EQ(count_depth(t, "UM", 2), 10);
	CHECK_INT_EQ(count_depth(t, "UP", 3), 153);
	CHECK_INT_EQ(count_depth(t, "UM", 3), 250);
	/* 1 + 15 + 118 + 517 hotline, 3 + 15 + 403 urban. */
	CHECK_INT_EQ(category_count(t), 651 + 421);
	category_tree_free(t);
}

static void test_walk_and_iterate(void)
{
	struct category_tree *t = default_tree();
	if (!t)
		return;
	size_t roots = 0, child_links = 0;
	for (size_t i = 0; i < category_count(t); i++) {
		const struct category *c = category_at(t, i);
		CHECK_INT_EQ(c->index, i);
		CHECK(category_get(t, c->code) == c);
		if (!c->parent)
			roots++;
		else
			CHECK(c->parent->index < c->index); /* pre-order */
		int prev_depth = -1;
		for (const struct category *k = c->first_child; k; k = k->next_sibling) {
			CHECK(k->parent == c);
			CHECK_INT_EQ(k->depth, c->depth + 1);
			prev_depth = k->depth;
			child_links++;
		}
		(void)prev_depth;
	}
	CHECK_INT_EQ(roots, 2);
	CHECK_INT_EQ(child_links, category_count(t) - 2);
	CHECK(category_at(t, category_count(t)) == NULL);
	CHECK_STR_EQ(category_at(t, 0)->code, "H");
	CHECK_STR_EQ(category_at(t, 1)->code, "H01");
	CHECK_STR_EQ(category_at(t, 2)->code, "H0101");
	CHECK_STR_EQ(category_at(t, 3)->code, "H010101");
	CHECK_STR_EQ(category_at(t, 651)->code, "U");
	/* Children in load order: UP before UM, UP01 first under UP. */
	const struct category *u = category_get(t, "U");
	CHECK_STR_EQ(u->first_child->code, "UP");
	CHECK_STR_EQ(u->first_child->next_sibling->code, "UM");
	CHECK(u->first_child->next_sibling->next_sibling == NULL);
	CHECK_STR_EQ(category_get(t, "UP")->first_child->code, "UP01");
	category_tree_free(t);
}

static void test_ancestors_and_path(void)
{
	struct category_tree *t = default_tree();
	if (!t)
		return;
	const char *a[8];
	CHECK_INT_EQ(category_ancestors(t, "UP01001", a, 8), 4);
	CHECK_STR_EQ(a[0], "UP01001");
	CHECK_STR_EQ(a[1], "UP01");
	CHECK_STR_EQ(a[2], "UP");
	CHECK_STR_EQ(a[3], "U");
	a[2] = "untouched";
	CHECK_INT_EQ(category_ancestors(t, "H010214", a, 2), 4); /* total, though only 2 written */
	CHECK_STR_EQ(a[0], "H010214");
	CHECK_STR_EQ(a[1], "H0102");
	CHECK_STR_EQ(a[2], "untouched");
	CHECK_INT_EQ(category_ancestors(t, "H", a, 8), 1);
	CHECK_INT_EQ(category_ancestors(t, "NOPE", a, 8), 0);

	const struct category *p[8];
	CHECK_INT_EQ(category_path(t, "UM06010", p, 8), 4);
	CHECK_STR_EQ(p[0]->code, "U");
	CHECK_STR_EQ(p[1]->code, "UM");
	CHECK_STR_EQ(p[2]->code, "UM06");
	CHECK_STR_EQ(p[3]->code, "UM06010");
	struct buf b;
	buf_init(&b, 1024);
	CHECK_INT_EQ(category_path_names(t, "H010103", "/", &b), CD_OK);
	CHECK_STR_EQ(b.data, "市民诉求分类/城乡建设/安全生产/安全隐患");
	buf_reset(&b);
	CHECK_INT_EQ(category_path_names(t, "XX", "/", &b), CD_ERR_NOTFOUND);
	buf_release(&b);

	CHECK(category_is_ancestor(t, "U", "UP01001"));
	CHECK(category_is_ancestor(t, "UP01", "UP01001"));
	CHECK(!category_is_ancestor(t, "UP01001", "UP01001"));
	CHECK(!category_is_ancestor(t, "UM01", "UP01001"));
	CHECK(!category_is_ancestor(t, "UP01001", "UP01"));
	CHECK(!category_is_ancestor(t, "H", "UP01"));
	CHECK(!category_is_ancestor(t, "NOPE", "UP01"));
	CHECK(category_in_subtree(t, "UP01", "UP01"));
	CHECK(category_in_subtree(t, "H150101", "H15"));
	CHECK(!category_in_subtree(t, "H1501", "H150101"));
	const struct category *c = category_get(t, "H010103");
	CHECK_STR_EQ(category_ancestor_at(c, 1)->code, "H01");
	CHECK_STR_EQ(category_ancestor_at(c, 3)->code, "H010103");
	CHECK(category_ancestor_at(c, 4) == NULL);
	category_tree_free(t);
}

static void test_find_name(void)
{
	struct category_tree *t = default_tree();
	if (!t)
		return;
	CHECK_STR_EQ(category_find_name(t, "城乡建设", NULL)->code, "H01");
	CHECK_STR_EQ(category_find_name(t, "暴露垃圾", NULL)->code, "UM06010");
	CHECK_STR_EQ(category_find_name(t, "安全隐患", NULL)->code, "H010103");
	CHECK_STR_EQ(category_find_name(t, "安全隐患", "H07")->code, "H070104");
	CHECK_STR_EQ(category_find_name(t, "其他", "H07")->code, "H070103");
	CHECK(category_find_name(t, "安全隐患", "U") == NULL);
	CHECK(category_find_name(t, "没有这个", NULL) == NULL);
	CHECK(category_find_name(t, "城乡建设", "NOPE") == NULL);
	const struct category *all[4];
	CHECK_INT_EQ(category_find_name_all(t, "其他", all, 4), 15 + 116);
	CHECK_STR_EQ(all[0]->code, "H010205");
	CHECK_INT_EQ(category_find_name_all(t, "安全生产", all, 4), 2);
	CHECK_STR_EQ(all[1]->code, "H0701");
	category_tree_free(t);
}

static void test_limits_inherited(void)
{
	struct category_tree *t = default_tree();
	if (!t)
		return;
	const struct category *c = category_get(t, "H010102"); /* 安全生产管理: from root H */
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_WORKING_DAYS);
	CHECK_INT_EQ(c->limit.value, 5);
	CHECK_INT_EQ(c->urgency, CATEGORY_URGENCY_NORMAL);
	CHECK_STR_EQ(c->limit_from->code, "H");
	CHECK_INT_EQ(c->own_limit.kind, CATEGORY_LIMIT_NONE);
	c = category_get(t, "H010103"); /* 安全隐患: its own */
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_HOURS);
	CHECK_INT_EQ(c->limit.value, 24);
	CHECK_INT_EQ(c->urgency, CATEGORY_URGENCY_URGENT);
	CHECK(c->limit_from == c);
	c = category_get(t, "H050303"); /* under 纪检监察 */
	CHECK_INT_EQ(c->limit.value, 15);
	CHECK_STR_EQ(c->limit_from->code, "H05");
	c = category_get(t, "H070503"); /* enterprise matters */
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_WORKING_DAYS);
	CHECK_INT_EQ(c->limit.value, 5);
	CHECK_STR_EQ(c->limit_from->code, "H07");
	c = category_get(t, "UP02001"); /* a part with nothing of its own: root U */
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_WORKING_DAYS);
	CHECK_INT_EQ(c->limit.value, 3);
	CHECK_STR_EQ(c->urgency_from->code, "U");
	c = category_get(t, "UP01001"); /* manhole cover: 2 hours, urgent */
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_HOURS);
	CHECK_INT_EQ(c->limit.value, 2);
	CHECK_INT_EQ(c->urgency, CATEGORY_URGENCY_URGENT);
	c = category_get(t, "UM01011");
	CHECK_INT_EQ(c->limit.value, 2);
	CHECK_INT_EQ(c->urgency, CATEGORY_URGENCY_URGENT);
	c = category_get(t, "UM06010"); /* exposed refuse */
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_WORKING_HOURS);
	CHECK_INT_EQ(c->limit.value, 4);
	c = category_get(t, "UM08003"); /* construction: from UM08 */
	CHECK_INT_EQ(c->limit.value, 2);
	CHECK_STR_EQ(c->limit_from->code, "UM08");
	/* Every node ends up with a limit and an urgency. */
	for (size_t i = 0; i < category_count(t); i++) {
		c = category_at(t, i);
		CHECK(c->limit.kind != CATEGORY_LIMIT_NONE && c->limit.value > 0);
		CHECK(c->urgency != CATEGORY_URGENCY_NONE);
	}
	category_tree_free(t);
}

static void test_names_parse(void)
{
	enum category_limit_kind k;
	enum category_urgency u;
	CHECK_INT_EQ(category_limit_kind_parse("working_hours", &k), CD_OK);
	CHECK_INT_EQ(k, CATEGORY_LIMIT_WORKING_HOURS);
	CHECK_INT_EQ(category_limit_kind_parse("days", &k), CD_ERR_INVALID);
	CHECK_INT_EQ(category_limit_kind_parse("", &k), CD_ERR_INVALID);
	CHECK_STR_EQ(category_limit_kind_name(CATEGORY_LIMIT_HOURS), "hours");
	CHECK_STR_EQ(category_limit_kind_name(CATEGORY_LIMIT_NONE), "");
	CHECK_INT_EQ(category_urgency_parse("emergency", &u), CD_OK);
	CHECK_INT_EQ(u, CATEGORY_URGENCY_EMERGENCY);
	CHECK_INT_EQ(category_urgency_parse("URGENT", &u), CD_ERR_INVALID);
	CHECK_STR_EQ(category_urgency_name(CATEGORY_URGENCY_URGENT), "urgent");
}

/* Loads text into a fresh tree with the given loader; returns rc and fills err. */
typedef enum cd_err (*loader_fn)(struct category_tree *, const char *, size_t,
				 struct category_error *);

static enum cd_err load_text(loader_fn fn, const char *text, struct category_error *err)
{
	struct category_tree *t = category_tree_new();
	enum cd_err rc = fn(t, text, strlen(text), err);
	category_tree_free(t);
	return rc;
}

static void test_generic_csv(void)
{
	static const char csv[] = "\xEF\xBB\xBF" "code,name,parent_code,limit_kind,limit_value,urgency,extra\r\n"
				  "A1,街道事务,,working_days,4,normal,x\r\n"
				  "A101,占道,A1,,,,\r\n"
				  "A10101,夜市占道,A101,hours,6,urgent,\r\n"
				  "A102,噪声,A1\r\n"
				  "B,\"其他, 杂项\",,,,\r\n"
				  "A10201,深夜噪声,A102,,,emergency,\r\n";
	struct category_tree *t = category_tree_new();
	struct category_error err = {0, ""};
	CHECK_INT_EQ(category_tree_load_csv(t, csv, sizeof csv - 1, &err), CD_OK);
	CHECK_INT_EQ(category_count(t), 6);
	const struct category *c = category_get(t, "A10201");
	CHECK(c != NULL);
	if (c) {
		CHECK_INT_EQ(c->depth, 2);
		CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_WORKING_DAYS);
		CHECK_INT_EQ(c->limit.value, 4);
		CHECK_INT_EQ(c->urgency, CATEGORY_URGENCY_EMERGENCY);
		CHECK_INT_EQ(c->line, 7);
	}
	c = category_get(t, "A10101");
	CHECK_INT_EQ(c->limit.kind, CATEGORY_LIMIT_HOURS);
	CHECK_INT_EQ(c->limit.value, 6);
	CHECK_STR_EQ(category_get(t, "B")->name, "其他, 杂项");
	CHECK(category_get(t, "B")->limit.kind == CATEGORY_LIMIT_NONE);
	/* Pre-order: A1, A101, A10101, A102, A10201, B. */
	CHECK_STR_EQ(category_at(t, 3)->code, "A102");
	CHECK_STR_EQ(category_at(t, 5)->code, "B");

	/* Forward references: the child comes before its parent. */
	static const char fwd[] = "code,parent_code,name\nC01,C,子\nC,,根\n";
	CHECK_INT_EQ(category_tree_load_csv(t, fwd, sizeof fwd - 1, &err), CD_OK);
	CHECK_STR_EQ(category_get(t, "C01")->parent->code, "C");
	/* A second file may hang under nodes already present. */
	static const char more[] = "code,name,parent_code\nA103,新增,A1\n";
	CHECK_INT_EQ(category_tree_load_csv(t, more, sizeof more - 1, &err), CD_OK);
	CHECK_INT_EQ(category_find_name(t, "新增", "A1") != NULL, 1);
	category_tree_free(t);
}

struct bad_case {
	loader_fn fn;
	const char *text;
	enum cd_err rc;
	size_t line;
};

static void test_bad_rows_refused_with_line(void)
{
	static const struct bad_case cases[] = {
		{category_tree_load_hotline, "", CD_ERR_INVALID, 1},
		{category_tree_load_hotline, "一级分类,二级分类\n城乡建设,安全生产\n", CD_ERR_INVALID, 1},
		{category_tree_load_hotline, "一级分类,二级分类,三级分类\nA,B,C\nA,B,\n", CD_ERR_INVALID, 3},
		{category_tree_load_hotline, "一级分类,二级分类,三级分类\nA,B,C\nA,B,D\nA,B,C\n", CD_ERR_EXISTS, 4},
		{category_tree_load_hotline, "一级分类,二级分类,三级分类\nA,B,\"C\n", CD_ERR_INVALID, 2},
		{category_tree_load_hotline, "一级分类,二级分类,三级分类\nA,B,\xff\xfe\n", CD_ERR_INVALID, 2},
		{category_tree_load_urban, "kind,major_code,major_name,code,name\n管理部件,01,市政,01001,井盖\n别的,01,市政,01002,x\n", CD_ERR_INVALID, 3},
		{category_tree_load_urban, "kind,major_code,major_name,code,name\n管理部件,01,市政,02001,井盖\n", CD_ERR_INVALID, 2},
		{category_tree_load_urban, "kind,major_code,major_name,code,name\n管理部件,1,市政,01001,井盖\n", CD_ERR_INVALID, 2},
		{category_tree_load_urban, "kind,major_code,major_name,code,name\n管理部件,01,市政,01001,井盖\n管理部件,01,市政,01001,井盖二\n", CD_ERR_EXISTS, 3},
		{category_tree_load_urban, "kind,major_code,major_name,code,name\n管理部件,01,市政,01001,井盖\n管理部件,01,环卫,01002,垃圾箱\n", CD_ERR_INVALID, 3},
		{category_tree_load_limits, "category_code,limit_kind,limit_value,urgency\nNOPE,hours,2,urgent\n", CD_ERR_NOTFOUND, 2},
		{category_tree_load_limits, "category_code,limit_kind,urgency\n", CD_ERR_INVALID, 1},
		{category_tree_load_csv, "code,name,parent_code\nA,根,\nA1,子,Z\n", CD_ERR_NOTFOUND, 3},
		{category_tree_load_csv, "code,name,parent_code\nA,根,\nA,又,\n", CD_ERR_EXISTS, 3},
		{category_tree_load_csv, "code,name,parent_code\nA,根,\nB,乙,C\nC,丙,B\n", CD_ERR_INVALID, 3},
		{category_tree_load_csv, "code,name,parent_code\nA,根,A\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code\n甲,根,\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code\nA,,\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code\nA,ok,\nB,bell\x07,\n", CD_ERR_INVALID, 3},
		{category_tree_load_csv, "code,name,parent_code\nA234567890123456789012345,名,\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code,limit_kind,limit_value,urgency\nA,根,,days,2,\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code,limit_kind,limit_value,urgency\nA,根,,hours,0,\n", CD_ERR_RANGE, 2},
		{category_tree_load_csv, "code,name,parent_code,limit_kind,limit_value,urgency\nA,根,,hours,2x,\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code,limit_kind,limit_value,urgency\nA,根,,hours,99999,\n", CD_ERR_RANGE, 2},
		{category_tree_load_csv, "code,name,parent_code,limit_kind,limit_value,urgency\nA,根,,,3,\n", CD_ERR_INVALID, 2},
		{category_tree_load_csv, "code,name,parent_code,limit_kind,limit_value,urgency\nA,根,,hours,3,soon\n", CD_ERR_INVALID, 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct category_error err = {0, ""};
		enum cd_err rc = load_text(cases[i].fn, cases[i].text, &err);
		if (rc != cases[i].rc || err.line != cases[i].line)
			fprintf(stderr, "  case %zu: rc %s line %zu (%s)\n", i, cd_err_name(rc), err.line,
				err.message);
		CHECK_INT_EQ(rc, cases[i].rc);
		CHECK_INT_EQ(err.line, cases[i].line);
		CHECK(err.message[0] != '\0');
	}
	/* NULL err is fine. */
	struct category_tree *t = category_tree_new();
	static const char bad[] = "code,name,parent_code\nA,,\n";
	CHECK_INT_EQ(category_tree_load_csv(t, bad, sizeof bad - 1, NULL), CD_ERR_INVALID);
	category_tree_free(t);
}

static void test_failed_load_leaves_tree_unchanged(void)
{
	struct category_tree *t = category_tree_new();
	struct category_error err;
	static const char good[] = "code,name,parent_code,limit_kind,limit_value\nA,根,,hours,3\nA1,子,A,,\n";
	CHECK_INT_EQ(category_tree_load_csv(t, good, sizeof good - 1, &err), CD_OK);
	static const char bad[] = "code,name,parent_code\nA2,二,A\nA3,三,A\nA4,四,NOPE\n";
	CHECK_INT_EQ(category_tree_load_csv(t, bad, sizeof bad - 1, &err), CD_ERR_NOTFOUND);
	CHECK_INT_EQ(err.line, 4);
	CHECK_INT_EQ(category_count(t), 2);
	CHECK(category_get(t, "A2") == NULL);
	CHECK(category_get(t, "A1") != NULL && category_get(t, "A1")->parent == category_get(t, "A"));
	CHECK_INT_EQ(category_get(t, "A1")->limit.value, 3);
	static const char badlim[] = "category_code,limit_kind,limit_value,urgency\nA1,hours,9,urgent\nA,weeks,1,\n";
	CHECK_INT_EQ(category_tree_load_limits(t, badlim, sizeof badlim - 1, &err), CD_ERR_INVALID);
	CHECK_INT_EQ(err.line, 3);
	CHECK_INT_EQ(category_get(t, "A1")->limit.value, 3); /* the good row 2 was rolled back */
	CHECK_INT_EQ(category_get(t, "A1")->urgency, CATEGORY_URGENCY_NONE);
	/* Limits replace and clear: an empty kind means inherit again. */
	static const char lim[] = "category_code,limit_kind,limit_value,urgency,note\nA1,hours,9,urgent,x\nA,,,,\n";
	CHECK_INT_EQ(category_tree_load_limits(t, lim, sizeof lim - 1, &err), CD_OK);
	CHECK_INT_EQ(category_get(t, "A1")->limit.value, 9);
	CHECK_INT_EQ(category_get(t, "A")->limit.kind, CATEGORY_LIMIT_NONE);
	/* Frozen trees refuse loads. */
	CHECK(category_tree_serial(t) == 0);
	category_tree_freeze(t);
	CHECK(category_tree_frozen(t));
	/* Frozen trees carry a serial no other tree has (what derived caches key on). */
	uint64_t serial = category_tree_serial(t);
	CHECK(serial != 0);
	category_tree_freeze(t);
	CHECK(category_tree_serial(t) == serial);
	struct category_tree *other = category_tree_new();
	category_tree_freeze(other);
	CHECK(category_tree_serial(other) != 0 && category_tree_serial(other) != serial);
	category_tree_free(other);
	CHECK_INT_EQ(category_tree_load_csv(t, good, sizeof good - 1, &err), CD_ERR_CONFLICT);
	CHECK_INT_EQ(category_count(t), 2);
	category_tree_free(t);
	category_tree_free(NULL);
}

static void test_allocation_failure(void)
{
	size_t hl = 0;
	char *h = read_file(HOTLINE_CSV, &hl);
	CHECK(h != NULL);
	if (!h)
		return;
	int saw_nomem = 0, saw_ok = 0;
	for (long k = 0; k < (1L << 22) && !saw_ok; k = k * 2 + 1) {
		struct category_tree *t = category_tree_new();
		static const char pre[] = "code,name,parent_code\nZ,预先,\n";
		CHECK_INT_EQ(category_tree_load_csv(t, pre, sizeof pre - 1, NULL), CD_OK);
		alloc_fail_after(k);
		enum cd_err rc = category_tree_load_hotline(t, h, hl, NULL);
		alloc_fail_after(-1);
		CHECK(rc == CD_OK || rc == CD_ERR_NOMEM);
		if (rc == CD_ERR_NOMEM) {
			saw_nomem++;
			CHECK_INT_EQ(category_count(t), 1);
			CHECK(category_get(t, "Z") != NULL);
		} else {
			saw_ok++;
			CHECK_INT_EQ(category_count(t), 652);
		}
		category_tree_free(t);
	}
	CHECK(saw_nomem > 0);
	CHECK(saw_ok > 0);
	xfree(h);
}

static const struct test_case tests[] = {
	{"default_codes", test_default_codes},
	{"default_counts", test_default_counts},
	{"walk_and_iterate", test_walk_and_iterate},
	{"ancestors_and_path", test_ancestors_and_path},
	{"find_name", test_find_name},
	{"limits_inherited", test_limits_inherited},
	{"names_parse", test_names_parse},
	{"generic_csv", test_generic_csv},
	{"bad_rows_refused_with_line", test_bad_rows_refused_with_line},
	{"failed_load_leaves_tree_unchanged", test_failed_load_leaves_tree_unchanged},
	{"allocation_failure", test_allocation_failure},
};

TEST_MAIN(tests)
