/* Unit tests for util/csv and util/buf. */
#include "util/alloc.h"
#include "util/buf.h"
#include "util/csv.h"
#include "test.h"

static void test_csv_quotes_and_newlines(void)
{
	static const char text[] = "\xEF\xBB\xBF" "code,name\r\n"
				   "440303001,\"桂园街道\"\r\n"
				   "\n"
				   "2,\"a \"\"quoted\"\", with comma\"\n"
				   "3,\"two\nlines\"\n"
				   "4,";
	struct csv_reader r;
	csv_init(&r, text, sizeof text - 1);
	CHECK_INT_EQ(csv_next(&r), CD_OK);
	CHECK_INT_EQ(r.nfields, 2);
	CHECK_STR_EQ(r.fields[0], "code");
	CHECK_INT_EQ(csv_column(&r, "name"), 1);
	CHECK_INT_EQ(csv_column(&r, "nope"), -1);
	CHECK_INT_EQ(csv_next(&r), CD_OK);
	CHECK_STR_EQ(r.fields[1], "桂园街道");
	CHECK_INT_EQ(csv_next(&r), CD_OK);
	CHECK_STR_EQ(r.fields[1], "a \"quoted\", with comma");
	CHECK_INT_EQ(csv_next(&r), CD_OK);
	CHECK_STR_EQ(r.fields[1], "two\nlines");
	CHECK_INT_EQ(r.line, 5); /* where the record starts, not where it ends */
	CHECK_INT_EQ(csv_next(&r), CD_OK);
	CHECK_INT_EQ(r.line, 7);
	CHECK_INT_EQ(r.nfields, 2);
	CHECK_STR_EQ(r.fields[1], "");
	CHECK_INT_EQ(csv_next(&r), CD_ERR_NOTFOUND);
	csv_release(&r);
}

static void test_csv_unterminated_quote(void)
{
	static const char text[] = "a,\"never closed\n";
	struct csv_reader r;
	csv_init(&r, text, sizeof text - 1);
	CHECK_INT_EQ(csv_next(&r), CD_ERR_INVALID);
	CHECK_INT_EQ(r.nfields, 0);
	csv_release(&r);
}

static void test_buf_cap_and_escape(void)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK_INT_EQ(buf_puts(&b, "12345678"), CD_OK);
	CHECK_INT_EQ(buf_putc(&b, '9'), CD_ERR_TOOBIG);
	CHECK_STR_EQ(b.data, "12345678");
	buf_release(&b);
	buf_init(&b, 16);
	CHECK_INT_EQ(buf_json_escape(&b, "a\"\n\x01"), CD_OK);
	CHECK_STR_EQ(b.data, "a\\\"\\n\\u0001");
	CHECK_INT_EQ(buf_json_escape(&b, "too long now"), CD_ERR_TOOBIG);
	CHECK_STR_EQ(b.data, "a\\\"\\n\\u0001"); /* unchanged on failure */
	buf_release(&b);
	/* Every byte, in runs and alone, escaped as a byte-at-a-time reference does. */
	char all[600], want[4000];
	size_t n = 0, w = 0;
	for (int rep = 0; rep < 2; rep++)
		for (int c = 1; c < 256; c++)
			all[n++] = (char)c;
	all[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)all[i];
		const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
		if (e)
			w += (size_t)snprintf(want + w, sizeof want - w, "%s", e);
		else if (c < 0x20)
			w += (size_t)snprintf(want + w, sizeof want - w, "\\u%04x", c);
		else
			want[w++] = (char)c;
	}
	want[w] = '\0';
	buf_init(&b, 1 << 16);
	CHECK_INT_EQ(buf_json_escape(&b, all), CD_OK);
	CHECK_INT_EQ(b.len, w);
	CHECK(b.data && memcmp(b.data, want, w) == 0);
	buf_release(&b);
}

static void test_buf_nomem_leaves_buffer(void)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	CHECK_INT_EQ(buf_puts(&b, "keep"), CD_OK);
	alloc_fail_after(0);
	char big[200];
	memset(big, 'x', sizeof big);
	CHECK_INT_EQ(buf_append(&b, big, sizeof big), CD_ERR_NOMEM);
	alloc_fail_after(-1);
	CHECK_STR_EQ(b.data, "keep");
	size_t len;
	char *s = buf_detach(&b, &len);
	CHECK_INT_EQ(len, 4);
	xfree(s);
	buf_release(&b);
}

static const struct test_case tests[] = {
	{"csv_quotes_and_newlines", test_csv_quotes_and_newlines},
	{"csv_unterminated_quote", test_csv_unterminated_quote},
	{"buf_cap_and_escape", test_buf_cap_and_escape},
	{"buf_nomem_leaves_buffer", test_buf_nomem_leaves_buffer},
};

TEST_MAIN(tests)
