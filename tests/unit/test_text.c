/* Unit tests for core/text: Hong Kong Traditional complaints normalize to the same text as their
 * Simplified versions, full-width forms and punctuation noise fold, bad bytes and small buffers
 * are handled, tokens and hashes are what the models expect, and one shared normalizer serves
 * many threads. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <utf8proc.h>

#include "core/minhash.h"
#include "core/text.h"
#include "messages.h"
#include "test.h"
#include "util/alloc.h"
#include "util/csv.h"

#define TRAIN_CSV "../shared/data/complaints/taidi2020C_train.csv"

static struct text_norm *norm(void)
{
	struct text_norm *tn = NULL;
	enum cd_err rc = text_norm_shared(&tn);
	CHECK_INT_EQ(rc, CD_OK);
	return tn;
}

/* Normalizes s with flags into a static buffer (tests are single-threaded here). */
static const char *nz(const char *s, unsigned flags)
{
	static char out[8192];
	enum cd_err rc = text_normalize(norm(), s, strlen(s), flags, out, sizeof out, NULL);
	CHECK_INT_EQ(rc, CD_OK);
	return out;
}

/* Written the way Hong Kong residents write them (HK variants such as 綫 衞 着 included), each
 * beside the same complaint in mainland Simplified. */
static const char *const pairs[][2] = {
	{"「屋苑門口垃圾堆積，無人清理」", "“屋苑门口垃圾堆积，无人清理”"},
	{"樓上單位漏水，滲到我家天花板，業主不理。", "楼上单位漏水，渗到我家天花板，业主不理。"},
	{"街市附近的士司機亂停車，阻塞交通。", "街市附近的士司机乱停车，阻塞交通。"},
	{"深夜裝修噪音擾民，投訴多次無人處理！！", "深夜装修噪音扰民，投诉多次无人处理！！"},
	{"羅湖區東門步行街的路燈壞了兩個星期", "罗湖区东门步行街的路灯坏了两个星期"},
	{"屋邨電梯經常故障，長者上落樓梯很困難。", "屋邨电梯经常故障，长者上落楼梯很困难。"},
	{"巴士站的候車亭玻璃爆裂，十分危險", "巴士站的候车亭玻璃爆裂，十分危险"},
	{"垃圾桶滿瀉，臭氣熏天，蚊蟲滋生。", "垃圾桶满泻，臭气熏天，蚊虫滋生。"},
	{"請盡快派人清理後巷的雜物", "请尽快派人清理后巷的杂物"},
	{"這條馬路的綫路老化，晚上經常停電", "这条马路的线路老化，晚上经常停电"},
	{"公廁衞生情況很差，水龍頭一直在漏水", "公厕卫生情况很差，水龙头一直在漏水"},
	{"後樓梯着火了，請派消防員處理", "后楼梯着火了，请派消防员处理"},
	{"餐廳油煙直排，影響住戶健康", "餐厅油烟直排，影响住户健康"},
	{"口岸過關排隊時間太長，希望增加開放的櫃檯", "口岸过关排队时间太长，希望增加开放的柜台"},
	{"photo 見附件：ＩＭＧ＿００１２．jpg", "photo 见附件：IMG_0012.jpg"},
};

static void test_traditional_pairs(void)
{
	char a[4096], b[4096];
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		enum cd_err ra = text_normalize(norm(), pairs[i][0], strlen(pairs[i][0]), TEXT_ALL, a,
						sizeof a, NULL);
		enum cd_err rb = text_normalize(norm(), pairs[i][1], strlen(pairs[i][1]), TEXT_ALL, b,
						sizeof b, NULL);
		CHECK_INT_EQ(ra, CD_OK);
		CHECK_INT_EQ(rb, CD_OK);
		CHECK_STR_EQ(a, b);
	}
	CHECK_STR_EQ(nz(pairs[0][0], TEXT_ALL), "“屋苑门口垃圾堆积,无人清理”");
	/* only the segments with Traditional characters go through OpenCC: same result */
	CHECK_STR_EQ(nz("这是简体,但是有一個繁體字。再來看看", TEXT_ALL),
		     "这是简体,但是有一个繁体字。再来看看");
	CHECK_STR_EQ(nz("纯简体文本没有繁体字", TEXT_ALL), "纯简体文本没有繁体字");
	/* without TEXT_SIMPLIFY, Traditional stays */
	CHECK_STR_EQ(nz("無人清理", TEXT_FOLD | TEXT_PUNCT), "無人清理");
}

static void test_fullwidth(void)
{
	CHECK_STR_EQ(nz("ＡＢＣ１２３４５", TEXT_ALL), "ABC12345");
	CHECK_STR_EQ(nz("电话：１３８　１２３４　５６７８", TEXT_ALL), "电话:138 1234 5678");
	CHECK_STR_EQ(nz("（０７５５）８２３４５６７８", TEXT_ALL), "(0755)82345678");
	CHECK_STR_EQ(nz("ｅｍａｉｌ＠ｅｘａｍｐｌｅ．ｃｏｍ", TEXT_FOLD), "email@example.com");
	CHECK_STR_EQ(nz("①号楼２０㎡", TEXT_FOLD), "1号楼20m2");
	/* without TEXT_FOLD full-width forms stay, but the ideographic space is still a space */
	CHECK_STR_EQ(nz("ＡＢＣ　ｄ", 0), "ＡＢＣ ｄ");
}

static void test_punctuation_noise(void)
{
	CHECK_STR_EQ(nz("太吵了！！！", TEXT_ALL), "太吵了!");
	CHECK_STR_EQ(nz("好臭～～～", TEXT_ALL), "好臭~");
	CHECK_STR_EQ(nz("为什么？！？！", TEXT_ALL), "为什么?");
	CHECK_STR_EQ(nz("等了很久……", TEXT_ALL), "等了很久...");
	CHECK_STR_EQ(nz("等了很久.......", TEXT_ALL), "等了很久...");
	CHECK_STR_EQ(nz("3.5元", TEXT_ALL), "3.5元");
	CHECK_STR_EQ(nz("不行。。。", TEXT_ALL), "不行。");
	CHECK_STR_EQ(nz("问题——没人管", TEXT_ALL), "问题—没人管");
	CHECK_STR_EQ(nz("手机138****5678", TEXT_ALL), "手机138****5678"); /* masks survive */
	CHECK_STR_EQ(nz("http://a.cn//x", TEXT_ALL), "http://a.cn//x");
	CHECK_STR_EQ(nz("垃圾  堆积 　无人 清理", TEXT_ALL), "垃圾堆积无人清理");
	CHECK_STR_EQ(nz("hello   world", TEXT_ALL), "hello world");
	CHECK_STR_EQ(nz("垃圾  堆积", 0), "垃圾 堆积");
	CHECK_STR_EQ(nz("  \t\r\n 前后空白 \n\n ", 0), "前后空白");
	CHECK_STR_EQ(nz("多行\n文本", 0), "多行 文本");
	CHECK_STR_EQ(nz("垃\xE2\x80\x8B圾\xE2\x80\x8D堆\xEF\xBB\xBF积\xC2\xAD", 0), "垃圾堆积");
	CHECK_STR_EQ(nz("a\x01" "b\x7F" "c\xC2\x85" "d", 0), "abc d"); /* NEL is a line break */
	CHECK_STR_EQ(nz("", TEXT_ALL), "");
	CHECK_STR_EQ(nz(" \t ", TEXT_ALL), "");
}

static void test_invalid_utf8(void)
{
	/* a run of bad bytes becomes one U+FFFD; the rest survives */
	CHECK_STR_EQ(nz("a\xFF\xFE" "b", 0), "a\xEF\xBF\xBD" "b");
	CHECK_STR_EQ(nz("\xC0\x80x", TEXT_ALL), "\xEF\xBF\xBDx");       /* overlong NUL */
	CHECK_STR_EQ(nz("\xED\xA0\x80y", TEXT_ALL), "\xEF\xBF\xBDy");   /* surrogate */
	CHECK_STR_EQ(nz("z\xE5\x9E", TEXT_ALL), "z\xEF\xBF\xBD");       /* truncated 垃 */
	CHECK(text_utf8_valid("垃圾abc", strlen("垃圾abc")));
	CHECK(text_utf8_valid("", 0));
	CHECK(!text_utf8_valid("\xC0\x80", 2));
	CHECK(!text_utf8_valid("\xED\xA0\x80", 3));
	CHECK(!text_utf8_valid("\xF4\x90\x80\x80", 4));
	CHECK(!text_utf8_valid("\xE5\x9E", 2));
	CHECK(!text_utf8_valid("\x80", 1));
	CHECK(text_utf8_valid("\xF0\x9F\x98\x80", 4));
	/* the output is always valid UTF-8, whatever came in */
	unsigned char junk[256];
	for (int i = 0; i < 256; i++)
		junk[i] = (unsigned char)(255 - i);
	char out[2048];
	size_t ol;
	CHECK_INT_EQ(text_normalize(norm(), (const char *)junk, sizeof junk, TEXT_ALL, out,
				    sizeof out, &ol),
		     CD_OK);
	CHECK(text_utf8_valid(out, ol));
	CHECK_INT_EQ(strlen(out), ol);
}

static void test_bounded_output(void)
{
	const char *s = "屋苑门口垃圾堆积无人清理";
	char out[64];
	size_t ol = 99;
	/* 10 bytes of room (cap 11 with the NUL): three characters of three bytes fit */
	CHECK_INT_EQ(text_normalize(norm(), s, strlen(s), TEXT_ALL, out, 11, &ol), CD_ERR_TOOBIG);
	CHECK_STR_EQ(out, "屋苑门");
	CHECK_INT_EQ(ol, 9);
	CHECK_INT_EQ(text_normalize(norm(), s, strlen(s), TEXT_ALL, out, 1, &ol), CD_ERR_TOOBIG);
	CHECK_STR_EQ(out, "");
	CHECK_INT_EQ(text_normalize(norm(), s, strlen(s), TEXT_ALL, out, 0, &ol), CD_ERR_TOOBIG);
	CHECK_INT_EQ(text_normalize(norm(), s, strlen(s), TEXT_ALL, out, strlen(s) + 1, &ol), CD_OK);
	CHECK_INT_EQ(ol, strlen(s));
	/* not NUL-terminated input: only len bytes are read */
	CHECK_INT_EQ(text_normalize(norm(), "abcdef", 3, 0, out, sizeof out, &ol), CD_OK);
	CHECK_STR_EQ(out, "abc");
	/* too much input */
	char *big = xmalloc(TEXT_MAX_INPUT + 1);
	memset(big, 'a', TEXT_MAX_INPUT + 1);
	CHECK_INT_EQ(text_normalize(norm(), big, TEXT_MAX_INPUT + 1, TEXT_ALL, out, sizeof out, &ol),
		     CD_ERR_TOOBIG);
	CHECK_STR_EQ(out, "");
	xfree(big);
	/* NULL input is empty input */
	CHECK_INT_EQ(text_normalize(norm(), NULL, 0, TEXT_ALL, out, sizeof out, &ol), CD_OK);
	CHECK_STR_EQ(out, "");
}

static void test_flags_and_open(void)
{
	char out[64];
	CHECK_INT_EQ(text_normalize(NULL, "無人", strlen("無人"), TEXT_ALL, out, sizeof out, NULL),
		     CD_ERR_INVALID);
	CHECK_INT_EQ(text_normalize(NULL, "ＡＢ！！", strlen("ＡＢ！！"), TEXT_FOLD | TEXT_PUNCT, out,
				    sizeof out, NULL),
		     CD_OK);
	CHECK_STR_EQ(out, "AB!");
	struct text_norm *a = NULL, *b = NULL;
	CHECK_INT_EQ(text_norm_shared(&a), CD_OK);
	CHECK_INT_EQ(text_norm_shared(&b), CD_OK);
	CHECK(a != NULL && a == b);
	struct text_norm *bad = (struct text_norm *)&bad;
	CHECK_INT_EQ(text_norm_open("no-such-config.json", &bad), CD_ERR_NOTFOUND);
	CHECK(bad == NULL);
	/* Taiwan text through the default (hk2s) normalizer too */
	struct text_norm *t2s = NULL;
	CHECK_INT_EQ(text_norm_open("t2s.json", &t2s), CD_OK);
	CHECK_INT_EQ(text_normalize(t2s, "臺灣的裡面", strlen("臺灣的裡面"), TEXT_ALL, out, sizeof out,
				    NULL),
		     CD_OK);
	CHECK_STR_EQ(out, nz("臺灣的裡面", TEXT_ALL));
	text_norm_free(t2s);
	text_norm_free(NULL);
}

static void test_idempotent(void)
{
	char once[4096], twice[4096];
	const char *extra[] = {"太吵了！！！ ～～ 等了很久……", "ＡＢＣ　１２３ 垃 圾", "a\xFF\xFE" "b  c"};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0] + 3; i++) {
		const char *s = i < sizeof pairs / sizeof pairs[0] ? pairs[i][0] :
								 extra[i - sizeof pairs / sizeof pairs[0]];
		size_t l1, l2;
		CHECK_INT_EQ(text_normalize(norm(), s, strlen(s), TEXT_ALL, once, sizeof once, &l1),
			     CD_OK);
		CHECK_INT_EQ(text_normalize(norm(), once, l1, TEXT_ALL, twice, sizeof twice, &l2), CD_OK);
		CHECK_STR_EQ(once, twice);
	}
}

/* Allocation failure inside normalize is reported, not fatal, and leaves "" in out. */
static void test_nomem(void)
{
	char out[64];
	const char *s = "無人清理ＡＢ";
	alloc_fail_after(0);
	enum cd_err rc = text_normalize(norm(), s, strlen(s), TEXT_ALL, out, sizeof out, NULL);
	alloc_fail_after(-1);
	CHECK_INT_EQ(rc, CD_ERR_NOMEM);
	CHECK_STR_EQ(out, "");
	for (long after = 1; after < 4; after++) { /* later stages fail one by one */
		alloc_fail_after(after);
		rc = text_normalize(norm(), s, strlen(s), TEXT_ALL, out, sizeof out, NULL);
		alloc_fail_after(-1);
		CHECK(rc == CD_OK || rc == CD_ERR_NOMEM);
	}
}

/* ---- tokens --------------------------------------------------------------------------- */

struct seen {
	char text[16][32]; /* token texts in order */
	int order[16];     /* their orders */
	uint64_t hash[16]; /* their hashes */
	size_t n;
};

static void collect(void *ctx, uint64_t hash, const char *s, size_t n, int order)
{
	struct seen *w = ctx;
	if (w->n < 16) {
		snprintf(w->text[w->n], sizeof w->text[0], "%.*s", (int)n, s);
		w->order[w->n] = order;
		w->hash[w->n] = hash;
	}
	w->n++;
}

static void test_tokens(void)
{
	const char *s = "垃圾ABC清理";
	struct seen w = {0};
	CHECK_INT_EQ(text_tokens(s, strlen(s), TEXT_TOK_UNI | TEXT_TOK_BI | TEXT_TOK_TRI, collect, &w),
		     12);
	CHECK_INT_EQ(w.n, 12);
	/* in text order: each unit, then the bigram and trigram ending with it */
	CHECK_STR_EQ(w.text[0], "垃");
	CHECK_STR_EQ(w.text[1], "圾");
	CHECK_STR_EQ(w.text[2], "垃圾");
	CHECK_STR_EQ(w.text[3], "ABC");
	CHECK_STR_EQ(w.text[4], "圾ABC");
	CHECK_STR_EQ(w.text[5], "垃圾ABC");
	CHECK_INT_EQ(w.order[5], 3);
	CHECK_STR_EQ(w.text[11], "ABC清理");
	CHECK_INT_EQ(text_tokens(s, strlen(s), TEXT_TOK_UNI, NULL, NULL), 5);
	CHECK_INT_EQ(text_tokens(s, strlen(s), TEXT_TOK_BI, NULL, NULL), 4);
	CHECK_INT_EQ(text_tokens(s, strlen(s), TEXT_TOK_TRI, NULL, NULL), 3);
	/* punctuation and spaces break n-grams; they are no tokens */
	CHECK_INT_EQ(text_tokens("垃圾,清理 好", strlen("垃圾,清理 好"), TEXT_TOK_BI, NULL, NULL), 2);
	CHECK_INT_EQ(text_tokens("!!! ,. ", 7, TEXT_TOK_UNI | TEXT_TOK_BI, NULL, NULL), 0);
	CHECK_INT_EQ(text_tokens("", 0, TEXT_TOK_UNI, NULL, NULL), 0);
	/* bad bytes separate, and are never read past len */
	CHECK_INT_EQ(text_tokens("垃\xFF圾", 7, TEXT_TOK_UNI | TEXT_TOK_BI, NULL, NULL), 2);
	CHECK_INT_EQ(text_tokens("垃圾", 4, TEXT_TOK_UNI, NULL, NULL), 1);
}

static void test_token_hashes(void)
{
	uint64_t a[8], b[8];
	/* ASCII words are case-insensitive */
	CHECK_INT_EQ(text_tokens_array("ABC", 3, TEXT_TOK_UNI, a, 8), 1);
	CHECK_INT_EQ(text_tokens_array("abc", 3, TEXT_TOK_UNI, b, 8), 1);
	CHECK(a[0] == b[0]);
	/* order matters in n-grams; orders live in different spaces */
	CHECK_INT_EQ(text_tokens_array("垃圾", 6, TEXT_TOK_BI, a, 8), 1);
	CHECK_INT_EQ(text_tokens_array("圾垃", 6, TEXT_TOK_BI, b, 8), 1);
	CHECK(a[0] != b[0]);
	CHECK_INT_EQ(text_tokens_array("垃", 3, TEXT_TOK_UNI, b, 8), 1);
	CHECK(a[0] != b[0]);
	/* the array form counts past cap, as snprintf does */
	CHECK_INT_EQ(text_tokens_array("垃圾堆积", 12, TEXT_TOK_UNI, a, 2), 4);
	CHECK_INT_EQ(text_tokens_array("垃圾堆积", 12, TEXT_TOK_UNI, NULL, 0), 4);
	/* stored models depend on these values never changing */
	CHECK(text_hash64("", 0) == text_hash64("", 0));
	CHECK(text_hash64("a", 1) != text_hash64("b", 1));
	CHECK_INT_EQ((long long)(text_hash64("垃圾", 6) % 1000003), 270417);
}

/* ---- threads -------------------------------------------------------------------------- */

struct worker {
	int mismatches; /* results that differ from the single-threaded ones */
	char (*want)[2][512];
};

static void *work(void *p)
{
	struct worker *w = p;
	char out[512];
	for (int round = 0; round < 50; round++)
		for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
			for (int k = 0; k < 2; k++) {
				const char *s = pairs[i][k];
				if (text_normalize(norm(), s, strlen(s), TEXT_ALL, out, sizeof out,
						   NULL) != CD_OK ||
				    strcmp(out, w->want[i][k]) != 0)
					w->mismatches++;
			}
	return NULL;
}

static void test_threads(void)
{
	static char want[sizeof pairs / sizeof pairs[0]][2][512];
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		for (int k = 0; k < 2; k++)
			CHECK_INT_EQ(text_normalize(norm(), pairs[i][k], strlen(pairs[i][k]), TEXT_ALL,
						    want[i][k], sizeof want[i][k], NULL),
				     CD_OK);
	struct worker w[4];
	pthread_t th[4];
	for (int t = 0; t < 4; t++) {
		w[t].mismatches = 0;
		w[t].want = want;
		CHECK_INT_EQ(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		CHECK_INT_EQ(w[t].mismatches, 0);
	}
}

/* ---- signatures on the labelled messages ----------------------------------------------- */

/* title + "。" + detail of every message (columns 3 and 5); returns the count. */
static size_t load_messages(char ***out)
{
	struct message *m;
	size_t n = messages_load(TRAIN_CSV, 1024, &m);
	char **msgs = xcalloc(1024, sizeof *msgs);
	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(m[i].title), dl = strlen(m[i].detail);
		msgs[i] = xmalloc(tl + dl + 4);
		memcpy(msgs[i], m[i].title, tl);
		memcpy(msgs[i] + tl, "。", 3);
		memcpy(msgs[i] + tl + 3, m[i].detail, dl + 1);
	}
	messages_free(m, n);
	*out = msgs;
	return n;
}

/* The MinHash signature of text after normalize (with tn) and bigram tokens. */
static void sign(struct text_norm *tn, const char *text, size_t len, struct minhash_sig *sig)
{
	char *norm = xmalloc(4 * len + 16);
	size_t nl = 0;
	CHECK_INT_EQ(text_normalize(tn, text, len, TEXT_ALL, norm, 4 * len + 16, &nl), CD_OK);
	size_t n = text_tokens_array(norm, nl, MINHASH_SHINGLES, NULL, 0);
	uint64_t *sh = xmalloc((n + 1) * sizeof *sh);
	text_tokens_array(norm, nl, MINHASH_SHINGLES, sh, n);
	minhash_sign(sh, n, sig);
	xfree(sh);
	xfree(norm);
}

/* Every message against its Hong Kong Traditional version and a copy with typos (every 8th
 * character dropped, every 13th doubled), and all pairs of different messages: at the
 * "possible duplicate" threshold 0.3 the copies are found and different messages are not
 * (bench_text measures more variants; docs/internals/text.md has the figures). */
static void test_signatures_on_messages(void)
{
	char **msgs;
	size_t n = load_messages(&msgs);
	if (n == 0) {
		printf("  SKIP signatures_on_messages: %s not found (it is present in CI)\n", TRAIN_CSV);
		return;
	}
	CHECK(n >= 400);
	struct text_norm *to_trad = NULL;
	CHECK_INT_EQ(text_norm_open("s2hk.json", &to_trad), CD_OK);
	if (!to_trad)
		return;
	struct minhash_sig *orig = xcalloc(n, sizeof *orig);
	size_t trad_found = 0, typo_found = 0;
	double trad_min = 1;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(msgs[i]);
		sign(norm(), msgs[i], len, &orig[i]);
		char *t = xmalloc(2 * len + 16), *e = xmalloc(2 * len + 16);
		size_t tl = 0, el = 0, k = 0;
		CHECK_INT_EQ(text_normalize(to_trad, msgs[i], len, TEXT_SIMPLIFY, t, 2 * len + 16, &tl),
			     CD_OK);
		struct minhash_sig s;
		sign(norm(), t, tl, &s);
		double sim = minhash_similarity(&orig[i], &s);
		trad_found += sim >= 0.3;
		trad_min = sim < trad_min ? sim : trad_min;
		for (size_t b = 0; b < len; k++) { /* typos, character by character */
			size_t cl = 1;
			while (b + cl < len && ((unsigned char)msgs[i][b + cl] & 0xC0) == 0x80)
				cl++;
			if (k % 8 != 7) {
				memcpy(e + el, msgs[i] + b, cl), el += cl;
				if (k % 13 == 12)
					memcpy(e + el, msgs[i] + b, cl), el += cl;
			}
			b += cl;
		}
		sign(norm(), e, el, &s);
		typo_found += minhash_similarity(&orig[i], &s) >= 0.3;
		xfree(t);
		xfree(e);
	}
	size_t npairs = 0, false_pos = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++, npairs++)
			false_pos += minhash_similarity(&orig[i], &orig[j]) >= 0.3;
	printf("  signatures: %zu messages; at 0.3: Traditional %zu/%zu (min %.2f), typos %zu/%zu, "
	       "different pairs %zu/%zu\n", n, trad_found, n, trad_min, typo_found, n, false_pos, npairs);
	CHECK_INT_EQ(trad_found, n);
	CHECK(trad_min >= 0.8);
	CHECK(typo_found >= n * 99 / 100);
	CHECK(false_pos * 1000 <= npairs); /* at most 0.1 %; the corpus repeats a few messages */
	for (size_t i = 0; i < n; i++)
		xfree(msgs[i]);
	xfree(msgs);
	xfree(orig);
	text_norm_free(to_trad);
}

/* The shortcut past utf8proc (text_nfkc_simple) must be NFKC exactly: every code point it
 * takes alone, and whole messages, match utf8proc's answer; a combining mark, a compatibility
 * ideograph or an ellipsis is left to utf8proc. */
static char *nfkc_of(const char *s, size_t n)
{
	utf8proc_uint8_t *r = NULL;
	utf8proc_ssize_t got = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &r,
					   UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE);
	return got < 0 ? NULL : (char *)r;
}

static void test_nfkc_simple_is_nfkc(void)
{
	size_t taken = 0, wrong = 0;
	char in[8], out[16];
	for (int32_t cp = 1; cp <= 0x10FFFF; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		utf8proc_ssize_t n = utf8proc_encode_char(cp, (utf8proc_uint8_t *)in);
		size_t ol = 0;
		if (!text_nfkc_simple(in, (size_t)n, out, &ol))
			continue;
		taken++;
		char *want = nfkc_of(in, (size_t)n);
		if (!want || strlen(want) != ol || memcmp(want, out, ol) != 0) {
			if (wrong++ < 5)
				printf("  U+%04X: shortcut differs from utf8proc\n", (unsigned)cp);
		}
		free(want);
	}
	CHECK_INT_EQ(wrong, 0);
	CHECK(taken > 20000); /* the CJK Unified Ideographs alone are 20,992 */

	const char *mixed[] = {"东门老街路口井盖缺失，很危险", "ＩＭＧ＿００１２．jpg 见附件：",
			       "《罗湖区》“东门”【通知】、第１２号。", "e\xCC\x81 combining", "等了很久……",
			       "兼容\xEF\xA4\x80字", "全角空格\xE3\x80\x80在此"};
	const bool simple[] = {true, true, true, false, false, false, false};
	for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++) {
		size_t n = strlen(mixed[i]), ol = 0;
		char *o = xmalloc(n + 1);
		bool took = text_nfkc_simple(mixed[i], n, o, &ol);
		CHECK_INT_EQ(took, simple[i]);
		if (took) {
			char *want = nfkc_of(mixed[i], n);
			CHECK(want && strcmp(want, o) == 0 && strlen(o) == ol);
			free(want);
		}
		xfree(o);
	}

	char **msgs;
	size_t nm = load_messages(&msgs), msg_taken = 0;
	for (size_t i = 0; i < nm; i++) {
		size_t n = strlen(msgs[i]), ol = 0;
		char *o = xmalloc(n + 1);
		if (text_nfkc_simple(msgs[i], n, o, &ol)) {
			msg_taken++;
			char *want = nfkc_of(msgs[i], n);
			CHECK(want && strcmp(want, o) == 0);
			free(want);
		}
		xfree(o);
		xfree(msgs[i]);
	}
	if (nm)
		xfree(msgs);
	printf("  nfkc shortcut: %zu code points; %zu of %zu messages\n", taken, msg_taken, nm);
}

static const struct test_case tests[] = {
	{"traditional_pairs", test_traditional_pairs},
	{"fullwidth", test_fullwidth},
	{"punctuation_noise", test_punctuation_noise},
	{"invalid_utf8", test_invalid_utf8},
	{"bounded_output", test_bounded_output},
	{"flags_and_open", test_flags_and_open},
	{"idempotent", test_idempotent},
	{"nomem", test_nomem},
	{"tokens", test_tokens},
	{"token_hashes", test_token_hashes},
	{"threads", test_threads},
	{"signatures_on_messages", test_signatures_on_messages},
	{"nfkc_simple_is_nfkc", test_nfkc_simple_is_nfkc},
};

TEST_MAIN(tests)
