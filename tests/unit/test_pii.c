/* Unit tests for core/pii: every kind found where it is, masked exactly as documented, and the
 * look-alikes in complaints (case references, dates, amounts, hotline numbers) left alone. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/pii.h"
#include "test.h"
#include "util/alloc.h"

/* Masks `in` with every kind and compares with `want`. */
static void check_mask(const char *in, const char *want)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	enum cd_err rc = pii_mask(in, strlen(in), PII_ALL, &b);
	CHECK_INT_EQ(rc, CD_OK);
	CHECK_STR_EQ(b.data, want);
	buf_release(&b);
}

/* The single finding in `in`, its kind and text; anything else fails. */
static void check_one(const char *in, enum pii_kind kind, const char *text)
{
	struct pii_span sp[4];
	size_t n = pii_find(in, strlen(in), PII_ALL, sp, 4);
	CHECK_INT_EQ(n, 1);
	if (n != 1) {
		fprintf(stderr, "  input: %s\n", in);
		return;
	}
	CHECK_STR_EQ(pii_kind_name(sp[0].kind), pii_kind_name(kind));
	char got[128];
	snprintf(got, sizeof got, "%.*s", (int)sp[0].len, in + sp[0].start);
	CHECK_STR_EQ(got, text);
}

static void check_none(const char *in)
{
	struct pii_span sp[4];
	size_t n = pii_find(in, strlen(in), PII_ALL, sp, 4);
	if (n != 0)
		fprintf(stderr, "  false positive in \"%s\": %s \"%.*s\"\n", in, pii_kind_name(sp[0].kind),
			(int)sp[0].len, in + sp[0].start);
	CHECK_INT_EQ(n, 0);
}

static void test_mobile_found(void)
{
	check_one("我的电话13812345678请回电", PII_MOBILE, "13812345678");
	check_one("电话：138 1234 5678。", PII_MOBILE, "138 1234 5678");
	check_one("电话 138-1234-5678", PII_MOBILE, "138-1234-5678");
	check_one("+8613912345678", PII_MOBILE, "+8613912345678");
	check_one("联系+86 139 1234 5678谢谢", PII_MOBILE, "+86 139 1234 5678");
	check_one("0086 19912345678", PII_MOBILE, "0086 19912345678");
	check_one("tel:15012345678", PII_MOBILE, "15012345678");
	check_one("2026-11-27 13812345678", PII_MOBILE, "13812345678");
}

static void test_mobile_not(void)
{
	check_none("12345678901");         /* 12x is not a mobile prefix */
	check_none("1381234567");          /* ten digits */
	check_none("138123456789");        /* twelve */
	check_none("ab13812345678");       /* inside a word */
	check_none("13812345678kg");       /* runs on into a word */
	check_none("拨打12345热线");       /* the citizen hotline */
}

static void test_landline(void)
{
	check_one("座机0755-82345678", PII_LANDLINE, "0755-82345678");
	check_one("座机075582345678", PII_LANDLINE, "075582345678");
	check_one("(0755)82345678", PII_LANDLINE, "0755)82345678");
	check_one("北京010-62345678", PII_LANDLINE, "010-62345678");
	check_one("广州 020 3123 4567", PII_LANDLINE, "020 3123 4567");
	check_one("0771-2345678", PII_LANDLINE, "0771-2345678");
	check_none("0755-0123456");       /* local numbers never start with 0 */
	check_none("075-582345678");      /* first group is no area code */
	check_none("013812345678");       /* 013 is no area code */
}

static void test_id_card(void)
{
	check_one("身份证440304199001011233，", PII_ID_CARD, "440304199001011233");
	check_one("身份证号11010519491231002X", PII_ID_CARD, "11010519491231002X");
	check_one("身份证号11010519491231002x。", PII_ID_CARD, "11010519491231002x");
	check_one("老身份证440304900101123", PII_ID_CARD, "440304900101123");
	check_none("440304199001011234");     /* wrong check digit */
	check_none("440304199013011236");     /* month 13 */
	check_none("940304199001011233");     /* no region starts with 9 */
	check_none("440304900133123");        /* old number, day 33 */
}

static void test_plate(void)
{
	check_one("车牌粤B12345乱停", PII_PLATE, "粤B12345");
	check_one("粤BD12345新能源", PII_PLATE, "粤BD12345");
	check_one("粤B12345F货车", PII_PLATE, "粤B12345F");
	check_one("粤B·A1234", PII_PLATE, "粤B·A1234");
	check_one("粵B 12345", PII_PLATE, "粵B 12345");
	check_one("粤Z1234港过境", PII_PLATE, "粤Z1234港");
	check_one("京a12345", PII_PLATE, "京a12345");
	check_none("粤BHELLO");     /* not enough digits */
	check_none("粤B1234567");   /* too long */
	check_none("新A区12345");   /* not contiguous */
	check_none("广东省深圳市");
}

static void test_email(void)
{
	check_one("邮箱zhang.san@example.com谢谢", PII_EMAIL, "zhang.san@example.com");
	check_one("13812345678@qq.com", PII_EMAIL, "13812345678@qq.com");
	check_none("a@b");
	check_none("user@localhost");
	check_none("@example.com");
}

static void test_false_positives(void)
{
	check_none("案件编号LH20261127000123已受理");
	check_none("LH-20261127-000123");
	check_none("2026-11-27 08:30:00");
	check_none("2026年11月27日");
	check_none("2020/1/6 12:09:38");
	check_none("罚款13800元");
	check_none("金额￥1,380,012.50元");
	check_none("共计1380012345.67元");
	check_none("工单号20261127000123");
	check_none("A3区杜鹃路123号5栋1201房");
	check_none("面积89.5平方米，单价38000元");
	check_none("电费0.68元/度");
	check_none("邮编518001");
}

static void test_mask_exact(void)
{
	check_mask("电话13812345678", "电话138****5678");
	check_mask("+86 138 1234 5678", "+86 138 **** 5678");
	check_mask("0086-13812345678", "0086-138****5678");
	check_mask("0755-82345678", "0755-****5678");
	check_mask("010-62345678", "010-****5678");
	check_mask("0771-2345678", "0771-***5678");
	check_mask("440304199001011233", "4403**********1233");
	check_mask("11010519491231002X", "1101**********002X");
	check_mask("440304900101123", "4403*******1123");
	check_mask("粤B12345", "粤B***45");
	check_mask("粤BD12345", "粤B****45");
	check_mask("粤B·A1234", "粤B·***34");
	check_mask("粤Z1234港", "粤Z**34港");
	check_mask("zhang.san@example.com", "z********@example.com");
	check_mask("案件LH20261127000123，电话13812345678，车牌粤B12345。",
		   "案件LH20261127000123，电话138****5678，车牌粤B***45。");
	check_mask("", "");
}

static void test_kinds_filter(void)
{
	const char *s = "13812345678 粤B12345 a@example.com";
	struct pii_span sp[4];
	CHECK_INT_EQ(pii_find(s, strlen(s), PII_PLATE, sp, 4), 1);
	CHECK_INT_EQ(sp[0].kind, PII_PLATE);
	CHECK_INT_EQ(pii_find(s, strlen(s), PII_MOBILE | PII_EMAIL, sp, 4), 2);
	CHECK_INT_EQ(pii_find(s, strlen(s), 0, sp, 4), 0);
}

/* More findings than the caller's array: the count is still right and masking gets them all. */
static void test_many(void)
{
	struct buf in;
	buf_init(&in, 1 << 20);
	for (int i = 0; i < 100; i++)
		CHECK_INT_EQ(buf_printf(&in, "第%d个 139%08d ", i, i), CD_OK);
	struct pii_span sp[8];
	CHECK_INT_EQ(pii_find(in.data, in.len, PII_ALL, sp, 8), 100);
	CHECK_INT_EQ(sp[7].kind, PII_MOBILE);
	CHECK_INT_EQ(pii_mask_inplace(in.data, in.len, PII_ALL), 100);
	CHECK(strstr(in.data, "第99个 139****0099 ") != NULL);
	CHECK_INT_EQ(pii_find(in.data, in.len, PII_ALL, sp, 8), 0);
	buf_release(&in);
}

/* Spans stop at the end of the text: nothing is read past len (ASan would tell). */
static void test_truncated_input(void)
{
	const char *s = "电话1381234567890";
	char *copy = xstrndup(s, strlen(s));
	for (size_t n = 0; n <= strlen(s); n++) {
		struct pii_span sp[2];
		size_t found = pii_find(copy, n, PII_ALL, sp, 2);
		CHECK_INT_EQ(found, n == strlen("电话13812345678") ? 1 : 0);
	}
	xfree(copy);
	const char *p = "车牌粤B1234";
	for (size_t n = 0; n <= strlen(p); n++) {
		struct pii_span sp[2];
		CHECK_INT_EQ(pii_find(p, n, PII_ALL, sp, 2), 0);
	}
}

/* pii_may_contain is the shortcut past masking: wherever pii_find finds anything, it must say
 * so (random texts built from the pieces findings are made of, and without digits and '@'). */
static void test_may_contain(void)
{
	CHECK(!pii_may_contain("东门老街路口井盖缺失，很危险", strlen("东门老街路口井盖缺失，很危险")));
	CHECK(!pii_may_contain("粤BD 车牌 abc.def", strlen("粤BD 车牌 abc.def")));
	CHECK(pii_may_contain("电话13812345678", strlen("电话13812345678")));
	CHECK(pii_may_contain("a@b.cn", 6));
	static const char *const pieces[] = {"粤", "B", "D", "F", "港", "1", "3", "8", "0755", "-", " ", "·",
					     "@", "x", "qq.com", "东门", "X", "4403", "19900101", ".", "+86",
					     "13812345678", "粤B12345", "a@qq.com"};
	const size_t npieces = sizeof pieces / sizeof pieces[0];
	unsigned seed = 12345;
	size_t found_total = 0, no_digit_texts = 0;
	for (int t = 0; t < 100000; t++) {
		char text[256];
		size_t len = 0;
		int parts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
		bool digitless = ((seed >> 8) & 3) == 0; /* a quarter without digits or '@' */
		for (int k = 0; k < parts; k++) {
			seed = seed * 1103515245u + 12345u;
			const char *p = pieces[(seed >> 16) % npieces];
			if (digitless && strpbrk(p, "0123456789@"))
				continue;
			size_t pl = strlen(p);
			if (len + pl >= sizeof text)
				break;
			memcpy(text + len, p, pl);
			len += pl;
		}
		text[len] = '\0';
		struct pii_span sp[8];
		size_t n = pii_find(text, len, PII_ALL, sp, 8);
		found_total += n > 0;
		no_digit_texts += !pii_may_contain(text, len);
		if (n > 0 && !pii_may_contain(text, len)) {
			fprintf(stderr, "  missed by pii_may_contain: \"%s\"\n", text);
			CHECK(false);
			break;
		}
	}
	printf("  may_contain: %zu of 100000 texts had findings, %zu ruled out\n", found_total, no_digit_texts);
	CHECK(found_total > 1000 && no_digit_texts > 1000);
}

static const struct test_case tests[] = {
	{"mobile_found", test_mobile_found},
	{"mobile_not", test_mobile_not},
	{"landline", test_landline},
	{"id_card", test_id_card},
	{"plate", test_plate},
	{"email", test_email},
	{"false_positives", test_false_positives},
	{"mask_exact", test_mask_exact},
	{"kinds_filter", test_kinds_filter},
	{"many", test_many},
	{"truncated_input", test_truncated_input},
	{"may_contain", test_may_contain},
};

TEST_MAIN(tests)
