/* Unit tests for core/classify_kw: sensible answers for hand-written messages, confidence
 * ordering and range, level ranking, bad input, and an evaluation on the labelled 泰迪杯 2020
 * messages that must beat the majority-class baseline. Run from the repository root. */
#include <stdlib.h>
#include <string.h>

#include "core/category.h"
#include "core/classify_kw.h"
#include "util/alloc.h"
#include "util/csv.h"
#include "test.h"

#define TRAIN_CSV "../shared/data/complaints/taidi2020C_train.csv"

static char *read_file(const char *path, size_t *len)
{
	char *text = NULL;
	if (file_read_all(path, 1 << 22, &text, len) != CD_OK)
		return NULL;
	return text;
}

static struct category_tree *default_tree(void)
{
	size_t hl = 0, ul = 0, ll = 0;
	char *h = read_file("data/categories/hotline-taxonomy-L1-L2-L3.csv", &hl);
	char *u = read_file("data/categories/urban-parts-and-matters.csv", &ul);
	char *l = read_file("data/categories/limits.csv", &ll);
	struct category_tree *t = NULL;
	if (h && u && l) {
		t = category_tree_new();
		struct category_error err;
		if (category_tree_load_default(t, h, hl, u, ul, l, ll, &err) != CD_OK) {
			fprintf(stderr, "  load: line %zu: %s\n", err.line, err.message);
			category_tree_free(t);
			t = NULL;
		} else {
			category_tree_freeze(t);
		}
	} else {
		fprintf(stderr, "  cannot read data/categories (run from the repository root)\n");
	}
	CHECK(t != NULL);
	xfree(h);
	xfree(u);
	xfree(l);
	return t;
}

struct fixture {
	struct category_tree *tree;
	struct classify_kw *kw;
};

static bool setup(struct fixture *f)
{
	f->kw = NULL;
	f->tree = default_tree();
	if (!f->tree)
		return false;
	CHECK_INT_EQ(classify_kw_new(f->tree, &f->kw), CD_OK);
	return f->kw != NULL;
}

static void teardown(struct fixture *f)
{
	classify_kw_free(f->kw);
	category_tree_free(f->tree);
}

/* Top-1 of text must lie under one of the roots listed (NULL-terminated). */
struct hand_case {
	const char *text;
	const char *under[3];
};

static void test_hand_written_messages(void)
{
	static const struct hand_case cases[] = {
		{"小区门口垃圾堆积无人清理", {"H01", "UM06", NULL}},
		{"楼下烧烤店油烟太大，晚上开窗全是烟", {"UM06", "H0402", NULL}},
		{"工地晚上施工噪音扰民，凌晨还在打桩", {"UM08", "H040203", NULL}},
		{"路灯坏了一个星期没人修", {"UP01037", "UM01037", NULL}},
		{"孩子上学被学校乱收费", {"H14", NULL, NULL}},
		{"公司拖欠工资三个月，工资发放一直拖着", {"H15", "H0108", NULL}},
		{"路边有人占道经营摆摊卖水果", {"UM09", NULL, NULL}},
		{"医院医疗收费太高，还乱开药", {"H12", NULL, NULL}},
		{"网约车司机绕路多收钱", {"H06", NULL, NULL}},
	};
	struct fixture f;
	if (!setup(&f))
		goto out;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct classify_result r[3];
		size_t n = classify_kw_top(f.kw, cases[i].text, strlen(cases[i].text), 3, r);
		CHECK(n > 0);
		if (!n)
			continue;
		bool ok = false;
		for (size_t j = 0; j < 3 && cases[i].under[j]; j++)
			ok = ok || category_in_subtree(f.tree, r[0].code, cases[i].under[j]);
		if (!ok)
			fprintf(stderr, "  \"%s\" -> %s (%s)\n", cases[i].text, r[0].code,
				category_get(f.tree, r[0].code)->name);
		CHECK(ok);
		CHECK_STR_EQ(r[0].source, "keyword");
	}
out:
	teardown(&f);
}

static void test_confidence_ordering(void)
{
	struct fixture f;
	if (!setup(&f))
		goto out;
	static const char *const texts[] = {
		"小区门口垃圾堆积无人清理",
		"工地晚上施工噪音扰民",
		"A市西湖建筑集团占道施工有安全隐患，人行道被圈进施工围墙",
		"路灯",
	};
	for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
		struct classify_result r[8];
		size_t n = classify_kw_top(f.kw, texts[t], strlen(texts[t]), 8, r);
		CHECK(n >= 2);
		for (size_t i = 0; i < n; i++) {
			CHECK(r[i].confidence > 0 && r[i].confidence <= 1);
			CHECK(category_get(f.tree, r[i].code) != NULL);
			if (i)
				CHECK(r[i].confidence <= r[i - 1].confidence);
			for (size_t j = 0; j < i; j++)
				CHECK(strcmp(r[i].code, r[j].code) != 0);
		}
	}
	/* A full, specific name beats a message that only brushes against it. */
	struct classify_result strong, weak;
	static const char s1[] = "施工扰民", s2[] = "施工单位的工人";
	CHECK_INT_EQ(classify_kw_top(f.kw, s1, sizeof s1 - 1, 1, &strong), 1);
	CHECK_INT_EQ(classify_kw_top(f.kw, s2, sizeof s2 - 1, 1, &weak), 1);
	CHECK_STR_EQ(strong.code, "UM08001");
	CHECK(strong.confidence > weak.confidence);
	/* k limits the answers; the first k agree with a longer ranking. */
	struct classify_result one[1], many[5];
	CHECK_INT_EQ(classify_kw_top(f.kw, texts[0], strlen(texts[0]), 1, one), 1);
	CHECK_INT_EQ(classify_kw_top(f.kw, texts[0], strlen(texts[0]), 5, many), 5);
	CHECK_STR_EQ(one[0].code, many[0].code);
	CHECK_NEAR(one[0].confidence, many[0].confidence, 1e-12);
	/* Through the model-agnostic function pointer. */
	classify_fn fn = classify_kw_classify;
	struct classify_result via[1];
	CHECK_INT_EQ(fn(f.kw, texts[0], strlen(texts[0]), 1, via), 1);
	CHECK_STR_EQ(via[0].code, one[0].code);
out:
	teardown(&f);
}

static void test_no_evidence_and_bad_bytes(void)
{
	struct fixture f;
	if (!setup(&f))
		goto out;
	struct classify_result r[3];
	CHECK_INT_EQ(classify_kw_top(f.kw, "", 0, 3, r), 0);
	CHECK_INT_EQ(classify_kw_top(f.kw, "hello world 12345", 17, 3, r), 0);
	CHECK_INT_EQ(classify_kw_top(f.kw, "哈哈哈哈", strlen("哈哈哈哈"), 3, r), 0);
	CHECK_INT_EQ(classify_kw_top(f.kw, "路灯", 6, 0, r), 0);
	/* Invalid UTF-8 and truncated sequences only break runs; a cut-off text is safe. */
	static const char bad[] = "\xff\xfe路\xe8灯\xe8\xb7\xaf\xe7\x81\xaf\xe8";
	size_t n = classify_kw_top(f.kw, bad, sizeof bad - 1, 3, r);
	CHECK(n >= 1);
	if (n)
		CHECK(strstr(category_get(f.tree, r[0].code)->name, "路灯") != NULL);
	CHECK_INT_EQ(classify_kw_top(f.kw, "路灯", 4, 3, r), 0); /* "路" and half of "灯" */
	/* Text need not be NUL-terminated: only len bytes are read. */
	char buf[6];
	memcpy(buf, "路灯", 6);
	CHECK(classify_kw_top(f.kw, buf, sizeof buf, 1, r) == 1);
	/* An unfrozen tree is refused. */
	struct category_tree *t = category_tree_new();
	struct classify_kw *kw = NULL;
	CHECK_INT_EQ(classify_kw_new(t, &kw), CD_ERR_CONFLICT);
	CHECK(kw == NULL);
	category_tree_free(t);
	CHECK(classify_kw_vocabulary(f.kw) > 1000);
out:
	teardown(&f);
}

static void test_rank_level(void)
{
	struct fixture f;
	if (!setup(&f))
		goto out;
	static const char text[] = "我们小区物业服务太差，物业费乱收，房屋租赁合同也有问题";
	struct classify_result r[15];
	size_t n = classify_kw_rank_level(f.kw, text, sizeof text - 1, "H", 1, 15, r);
	CHECK(n >= 1);
	if (n)
		CHECK_STR_EQ(r[0].code, "H01");
	for (size_t i = 0; i < n; i++) {
		CHECK_INT_EQ(category_get(f.tree, r[i].code)->depth, 1);
		CHECK(category_in_subtree(f.tree, r[i].code, "H"));
		if (i)
			CHECK(r[i].confidence <= r[i - 1].confidence);
	}
	n = classify_kw_rank_level(f.kw, text, sizeof text - 1, "H01", 2, 3, r);
	CHECK(n >= 1);
	if (n)
		CHECK_STR_EQ(r[0].code, "H0110"); /* 住房保障与房地产 */
	CHECK_INT_EQ(classify_kw_rank_level(f.kw, text, sizeof text - 1, "NOPE", 1, 3, r), 0);
	/* Top-k within one tree: every answer lies below the root asked for. */
	static const char lamp[] = "路灯坏了，小区物业不管";
	n = classify_kw_top_within(f.kw, lamp, sizeof lamp - 1, "H", 5, r);
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++)
		CHECK(category_in_subtree(f.tree, r[i].code, "H"));
	n = classify_kw_top_within(f.kw, lamp, sizeof lamp - 1, "U", 5, r);
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++)
		CHECK(category_in_subtree(f.tree, r[i].code, "U"));
	if (n)
		CHECK(strstr(category_get(f.tree, r[0].code)->name, "路灯") != NULL);
	CHECK_INT_EQ(classify_kw_top_within(f.kw, lamp, sizeof lamp - 1, "NOPE", 5, r), 0);
	CHECK_INT_EQ(classify_kw_rank_level(f.kw, text, sizeof text - 1, "H01", 0, 3, r), 0);
	static const char urban[] = "垃圾站满溢，暴露垃圾没人清";
	n = classify_kw_rank_level(f.kw, urban, sizeof urban - 1, "UM", 2, 1, r);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(r[0].code, "UM06");
out:
	teardown(&f);
}

/* The labelled messages: title + detail, and the first-level label. */
struct labelled {
	char *text;
	char *label;
};

/* Reads one RFC 4180 record at *pos into fields (xstrdup'd, at most max) without the field
 * cap of util/csv (two messages are longer than CSV_MAX_FIELD). Returns the field count, 0 at
 * the end. */
static size_t next_record(const char *s, size_t len, size_t *pos, char **fields, size_t max)
{
	size_t i = *pos, n = 0;
	while (i < len && (s[i] == '\n' || s[i] == '\r'))
		i++;
	if (i >= len)
		return 0;
	char *cur = xmalloc(len - i + 1);
	size_t cl = 0;
	int in_quotes = 0;
	for (; i <= len; i++) {
		char c = i < len ? s[i] : '\n';
		if (in_quotes) {
			if (c == '"' && i + 1 < len && s[i + 1] == '"')
				cur[cl++] = s[++i];
			else if (c == '"')
				in_quotes = 0;
			else
				cur[cl++] = c;
		} else if (c == '"' && cl == 0) {
			in_quotes = 1;
		} else if (c == ',' || c == '\n' || c == '\r') {
			cur[cl] = '\0';
			if (n < max)
				fields[n++] = xstrdup(cur);
			cl = 0;
			if (c != ',') {
				i++;
				break;
			}
		} else {
			cur[cl++] = c;
		}
	}
	xfree(cur);
	*pos = i;
	return n;
}

static void free_fields(char **f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		xfree(f[i]);
}

static int column(char **f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i], name) == 0)
			return (int)i;
	return -1;
}

static size_t load_train(const char *path, struct labelled **out)
{
	size_t len = 0;
	char *data = read_file(path, &len);
	*out = NULL;
	if (!data)
		return 0;
	size_t pos = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	char *f[16];
	size_t nf = next_record(data, len, &pos, f, 16);
	int ct = column(f, nf, "title"), cd = column(f, nf, "detail"), cl = column(f, nf, "label_l1");
	free_fields(f, nf);
	size_t n = 0, cap = 0;
	struct labelled *rows = NULL;
	while (ct >= 0 && cd >= 0 && cl >= 0 && (nf = next_record(data, len, &pos, f, 16)) > 0) {
		if ((size_t)ct < nf && (size_t)cd < nf && (size_t)cl < nf) {
			if (n == cap) {
				cap = cap ? cap * 2 : 512;
				rows = xrealloc(rows, cap * sizeof *rows);
			}
			size_t tl = strlen(f[ct]), dl = strlen(f[cd]);
			char *text = xmalloc(tl + dl + 4);
			memcpy(text, f[ct], tl);
			memcpy(text + tl, "。", 3);
			memcpy(text + tl + 3, f[cd], dl + 1);
			rows[n].text = text;
			rows[n].label = xstrdup(f[cl]);
			n++;
		}
		free_fields(f, nf);
	}
	xfree(data);
	*out = rows;
	return n;
}

static void test_eval_on_labelled_messages(void)
{
	struct labelled *rows = NULL;
	size_t n = load_train(TRAIN_CSV, &rows);
	if (n == 0) {
		printf("  SKIP eval_on_labelled_messages: %s not found (it is present in CI)\n", TRAIN_CSV);
		return;
	}
	struct fixture f;
	if (!setup(&f))
		goto out;
	/* The labels used, and the majority-class baseline. */
	const char *labels[16];
	size_t counts[16] = {0}, n_labels = 0, best = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < n_labels && strcmp(labels[j], rows[i].label) != 0)
			j++;
		if (j == n_labels && n_labels < 16)
			labels[n_labels++] = rows[i].label;
		if (j < 16 && ++counts[j] > best)
			best = counts[j];
	}
	size_t ok_level = 0, ok_restricted = 0, ok_top = 0, ok_top_h = 0, no_answer = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(rows[i].text);
		struct classify_result r[15];
		size_t m = classify_kw_rank_level(f.kw, rows[i].text, len, "H", 1, 15, r);
		if (m == 0)
			no_answer++;
		if (m && strcmp(category_get(f.tree, r[0].code)->name, rows[i].label) == 0)
			ok_level++;
		/* Restricted to the classes the labels use. */
		for (size_t j = 0; j < m; j++) {
			const char *name = category_get(f.tree, r[j].code)->name;
			size_t l = 0;
			while (l < n_labels && strcmp(labels[l], name) != 0)
				l++;
			if (l < n_labels) {
				ok_restricted += strcmp(name, rows[i].label) == 0;
				break;
			}
		}
		/* The first-level class of the overall top-1 category. */
		struct classify_result top;
		if (classify_kw_top(f.kw, rows[i].text, len, 1, &top) == 1) {
			const struct category *a = category_ancestor_at(category_get(f.tree, top.code), 1);
			if (a && category_in_subtree(f.tree, a->code, "H") &&
			    strcmp(a->name, rows[i].label) == 0)
				ok_top++;
		}
		if (classify_kw_top_within(f.kw, rows[i].text, len, "H", 1, &top) == 1) {
			const struct category *a = category_ancestor_at(category_get(f.tree, top.code), 1);
			if (a && strcmp(a->name, rows[i].label) == 0)
				ok_top_h++;
		}
	}
	printf("  eval on %zu labelled messages (%zu classes): majority baseline %.1f%%; "
	       "L1 by subtree evidence %.1f%% over 15 classes, %.1f%% over the %zu used; "
	       "L1 of the top-1 category %.1f%% (%.1f%% within H); no evidence %zu\n",
	       n, n_labels, 100.0 * (double)best / (double)n, 100.0 * (double)ok_level / (double)n,
	       100.0 * (double)ok_restricted / (double)n, n_labels, 100.0 * (double)ok_top / (double)n,
	       100.0 * (double)ok_top_h / (double)n, no_answer);
	CHECK(n >= 400);
	CHECK(ok_level > best);
	CHECK(ok_restricted > best);
	CHECK(ok_top > best);
	CHECK(ok_top_h >= ok_top);
out:
	teardown(&f);
	for (size_t i = 0; i < n; i++) {
		xfree(rows[i].text);
		xfree(rows[i].label);
	}
	xfree(rows);
}

static const struct test_case tests[] = {
	{"hand_written_messages", test_hand_written_messages},
	{"confidence_ordering", test_confidence_ordering},
	{"no_evidence_and_bad_bytes", test_no_evidence_and_bad_bytes},
	{"rank_level", test_rank_level},
	{"eval_on_labelled_messages", test_eval_on_labelled_messages},
};

TEST_MAIN(tests)
