/* Tests for the export table and its CSV and XLSX writers: exact CSV bytes
 * (quotes, commas, newlines, Chinese, formula injection), number and time
 * rendering, UTF-8 cleaning, caps, and a real XLSX read back through its zip
 * directory. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "test.h"
#include "util/alloc.h"
#include "util/table.h"

/* 2026-09-30 10:00:00 +08:00 */
#define T_0930 1790733600

static void test_free_null(void) {
  table_free(NULL);
  struct table *t = table_new(0, 0);
  CHECK_INT_EQ(t->max_rows, TABLE_MAX_ROWS);
  CHECK_INT_EQ(t->max_bytes, TABLE_MAX_BYTES);
  CHECK_INT_EQ(table_status(t), CD_OK);
  table_free(t);
}

/* A table with one of every kind of awkward value. */
static struct table *sample(void) {
  struct table *t = table_new(100, 1 << 20);
  table_add_col(t, "案件编号", TABLE_TEXT, NULL);
  table_add_col(t, "描述", TABLE_TEXT, NULL);
  table_add_col(t, "n", TABLE_INT, NULL);
  table_add_col(t, "按期办结率", TABLE_REAL, "0.0%");
  table_add_col(t, "上报时间", TABLE_TIME, NULL);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "LH20261127000123");
  table_put_text(t, "路灯不亮, \"很暗\"\n请处理");
  table_put_int(t, -42);
  table_put_real(t, 0.9734);
  table_put_time(t, T_0930);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "=HYPERLINK(\"http://x\")");
  table_put_text(t, "+1");
  table_put_int(t, 0);
  table_put_real(t, NAN);
  table_put_empty(t);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "-2");
  table_put_text(t, "@SUM(A1)");
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "\tx");
  table_put_text(t, "\rx");
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "");
  table_put_text(t, NULL);
  table_put_int(t, INT64_MAX);
  table_put_real(t, 1.0);
  table_put_time(t, 0);
  return t;
}

static void test_csv_exact(void) {
  struct table *t = sample();
  struct buf b;
  buf_init(&b, 1 << 20);
  CHECK_INT_EQ(table_csv_write(t, &b), CD_OK);
  const char *want =
      "\xEF\xBB\xBF"
      "\"案件编号\",\"描述\",\"n\",\"按期办结率\",\"上报时间\"\r\n"
      "\"LH20261127000123\",\"路灯不亮, \"\"很暗\"\"\n请处理\",-42,97.3%,"
      "2026-09-30 10:00:00\r\n"
      "\"'=HYPERLINK(\"\"http://x\"\")\",\"'+1\",0,,\r\n"
      "\"'-2\",\"'@SUM(A1)\",,,\r\n"
      "\"'\tx\",\"'\rx\",,,\r\n"
      "\"\",,9223372036854775807,100.0%,1970-01-01 08:00:00\r\n";
  CHECK_STR_EQ(b.data, want);
  CHECK_INT_EQ(b.len, strlen(want));
  buf_release(&b);
  table_free(t);
}

static void test_csv_real_formats(void) {
  static const struct {
    const char *fmt;
    double v;
    const char *want;
  } cases[] = {
      {NULL, 0.1, "0.1"},          {NULL, 1234567.5, "1234567.5"},
      {"0.00", 2.0 / 3, "0.67"},   {"0", 2.5, "2"},
      {"#,##0", 12345.4, "12345"}, {"0%", 0.456, "46%"},
      {"0.0%", -0.0001, "0.0%"},   {"0.00;[Red]-0.00", -1.5, "-1.50"},
      {"General", 0.25, "0.25"},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    struct table *t = table_new(1, 4096);
    table_add_col(t, "x", TABLE_REAL, cases[k].fmt);
    CHECK_INT_EQ(table_add_row(t), CD_OK);
    table_put_real(t, cases[k].v);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT_EQ(table_csv_write(t, &b), CD_OK);
    const char *body = b.data ? strstr(b.data, "\r\n") : NULL;
    char want[64];
    snprintf(want, sizeof(want), "\r\n%s\r\n", cases[k].want);
    CHECK_STR_EQ(body, want);
    buf_release(&b);
    table_free(t);
  }
}

static void test_time_format(void) {
  static const struct {
    int64_t t;
    const char *want;
  } cases[] = {
      {0, "1970-01-01 08:00:00"},          {T_0930, "2026-09-30 10:00:00"},
      {1795763045, "2026-11-27 15:04:05"}, {951839999, "2000-02-29 23:59:59"},
      {-115200, "1969-12-31 00:00:00"},    {INT64_MAX, "9999-12-31 23:59:59"},
      {INT64_MIN, "0000-01-01 00:00:00"},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    char out[20];
    table_format_time(cases[k].t, out);
    CHECK_STR_EQ(out, cases[k].want);
  }
}

static void test_text_width(void) {
  CHECK_INT_EQ(table_text_width("", 0), 0);
  CHECK_INT_EQ(table_text_width("abc", 3), 3);
  CHECK_INT_EQ(table_text_width("中文", strlen("中文")), 4);
  CHECK_INT_EQ(table_text_width("罗湖区，东门", strlen("罗湖区，东门")), 12);
  CHECK_INT_EQ(table_text_width("abcdefg\n中文", strlen("abcdefg\n中文")), 7);
  CHECK_INT_EQ(table_text_width("ab\n中文字", strlen("ab\n中文字")), 6);
  CHECK_INT_EQ(table_text_width("é", strlen("é")), 1);
  CHECK_INT_EQ(table_text_width("\xff\xfe", 2), 2);
}

/* Bad bytes become U+FFFD in the stored text, so neither writer emits broken
 * output. */
static void test_utf8_cleaned(void) {
  static const struct {
    const char *in;
    const char *want;
  } cases[] = {
      {"ok 中文\t\r\n", "ok 中文\t\r\n"},
      {"a\xff"
       "b",
       "a\xEF\xBF\xBD"
       "b"},
      {"\x01x\x1f", "\xEF\xBF\xBDx\xEF\xBF\xBD"},
      {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"}, /* overlong '/' */
      {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
      {"x\xe4\xb8", "x\xEF\xBF\xBD\xEF\xBF\xBD"},               /* cut short */
      {"\xef\xbf\xbf", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* U+FFFF */
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, /* emoji stays */
  };
  struct table *t = table_new(100, 1 << 16);
  table_add_col(t, "s", TABLE_TEXT, NULL);
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    CHECK_INT_EQ(table_add_row(t), CD_OK);
    table_put_text(t, cases[k].in);
    const struct table_cell *c = table_cell_at(t, k, 0);
    CHECK(c->set);
    CHECK_STR_EQ(table_cell_text(t, c), cases[k].want);
    CHECK_INT_EQ(c->len, strlen(cases[k].want));
  }
  /* An embedded NUL through the counted form is a control character too. */
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_textn(t, "a\0b", 3);
  CHECK_STR_EQ(table_cell_text(t, table_cell_at(t, t->nrows - 1, 0)),
               "a\xEF\xBF\xBD"
               "b");
  table_free(t);
}

static void test_row_cap(void) {
  struct table *t = table_new(2, 0);
  table_add_col(t, "n", TABLE_INT, NULL);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  CHECK_INT_EQ(table_add_row(t), CD_ERR_TOOBIG);
  CHECK_INT_EQ(t->nrows, 2);
  table_free(t);
}

/* A text over the byte cap sticks: later puts do nothing and everything reports
 * it. */
static void test_byte_cap_sticks(void) {
  struct table *t = table_new(1000, 200);
  table_add_col(t, "s", TABLE_TEXT, NULL);
  table_add_col(t, "n", TABLE_INT, NULL);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  char big[300];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  table_put_text(t, big);
  table_put_int(t, 7);
  CHECK_INT_EQ(table_status(t), CD_ERR_TOOBIG);
  CHECK(!table_cell_at(t, 0, 0)->set);
  CHECK_INT_EQ(t->text.len, 0);
  CHECK_INT_EQ(table_add_row(t), CD_ERR_TOOBIG);
  struct buf b;
  buf_init(&b, 1 << 16);
  CHECK_INT_EQ(table_csv_write(t, &b), CD_ERR_TOOBIG);
  CHECK_INT_EQ(b.len, 0);
  CHECK_INT_EQ(table_xlsx_write(t, "s", "/tmp", &b), CD_ERR_TOOBIG);
  buf_release(&b);
  table_free(t);

  /* Rows alone fill the budget too. */
  t = table_new(0, 10 * 2 * sizeof(struct table_cell));
  table_add_col(t, "a", TABLE_INT, NULL);
  table_add_col(t, "b", TABLE_INT, NULL);
  for (int i = 0; i < 10; i++)
    CHECK_INT_EQ(table_add_row(t), CD_OK);
  CHECK_INT_EQ(table_add_row(t), CD_ERR_TOOBIG);
  table_free(t);
}

static void test_cell_cap(void) {
  struct table *t = table_new(10, 0);
  table_add_col(t, "s", TABLE_TEXT, NULL);
  size_t n = TABLE_MAX_CELL_BYTES + 1;
  char *big = xmalloc(n + 1);
  memset(big, 'a', n);
  big[n] = '\0';
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_textn(t, big, n - 1); /* exactly the limit fits */
  CHECK_INT_EQ(table_status(t), CD_OK);
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, big);
  CHECK_INT_EQ(table_status(t), CD_ERR_TOOBIG);
  xfree(big);
  table_free(t);
}

static void test_csv_output_cap(void) {
  struct table *t = sample();
  struct buf b;
  buf_init(&b, 40);
  CHECK_INT_EQ(table_csv_write(t, &b), CD_ERR_TOOBIG);
  CHECK(b.len <= 40);
  buf_release(&b);
  table_free(t);
}

static void test_alloc_failure(void) {
  struct table *t = table_new(0, 0);
  table_add_col(t, "s", TABLE_TEXT, NULL);
  alloc_fail_after(0);
  CHECK_INT_EQ(table_add_row(t), CD_ERR_NOMEM);
  alloc_fail_after(1); /* the row's cells, then the text store fails */
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "中文");
  alloc_fail_after(-1);
  CHECK_INT_EQ(table_status(t), CD_ERR_NOMEM);
  CHECK_INT_EQ(table_add_row(t), CD_ERR_NOMEM);
  table_free(t);
}

/* ---- XLSX: read the zip the way a spreadsheet would ---- */

static uint32_t le16(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p) {
  return le16(p) | le16(p + 2) << 16;
}

/* The inflated contents of member `name` of the zip in z[0..n), NUL-terminated
 * (free with xfree), or NULL when it is missing or damaged. Walks the central
 * directory, as readers do. */
static char *zip_member(const unsigned char *z, size_t n, const char *name) {
  if (n < 22)
    return NULL;
  size_t eocd = n - 22;
  while (eocd > 0 && le32(z + eocd) != 0x06054b50)
    eocd--;
  if (le32(z + eocd) != 0x06054b50)
    return NULL;
  size_t count = le16(z + eocd + 10), pos = le32(z + eocd + 16);
  for (size_t k = 0; k < count; k++) {
    if (pos + 46 > n || le32(z + pos) != 0x02014b50)
      return NULL;
    size_t method = le16(z + pos + 10), csize = le32(z + pos + 20);
    size_t usize = le32(z + pos + 24), nlen = le16(z + pos + 28);
    size_t elen = le16(z + pos + 30), clen = le16(z + pos + 32);
    size_t local = le32(z + pos + 42);
    if (pos + 46 + nlen > n)
      return NULL;
    if (nlen == strlen(name) && memcmp(z + pos + 46, name, nlen) == 0) {
      if (local + 30 > n || le32(z + local) != 0x04034b50)
        return NULL;
      size_t data = local + 30 + le16(z + local + 26) + le16(z + local + 28);
      if (data > n || csize > n - data)
        return NULL;
      char *out = xmalloc(usize + 1);
      out[usize] = '\0';
      if (method == 0 && csize == usize) {
        memcpy(out, z + data, usize);
        return out;
      }
      z_stream zs;
      memset(&zs, 0, sizeof(zs));
      if (method != 8 || inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        xfree(out);
        return NULL;
      }
      zs.next_in = (unsigned char *)(uintptr_t)(z + data);
      zs.avail_in = (uInt)csize;
      zs.next_out = (unsigned char *)out;
      zs.avail_out = (uInt)usize;
      int zr = inflate(&zs, Z_FINISH);
      inflateEnd(&zs);
      if (zr != Z_STREAM_END || zs.total_out != usize) {
        xfree(out);
        return NULL;
      }
      return out;
    }
    pos += 46 + nlen + elen + clen;
  }
  return NULL;
}

static size_t dir_entries(const char *dir) {
  size_t n = 0;
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      n++;
  closedir(d);
  return n;
}

static void test_xlsx_parts(void) {
  char dir[] = "/tmp/test_table_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  struct table *t = sample();
  CHECK_INT_EQ(table_add_row(t), CD_OK);
  table_put_text(t, "x");
  table_put_text(t, "中文中文中文中文中文"); /* 10 wide characters: width 20 */
  struct buf b;
  buf_init(&b, 1 << 20);
  CHECK_INT_EQ(table_xlsx_write(t, "案件/2026:11", dir, &b), CD_OK);
  CHECK_INT_EQ(dir_entries(dir),
               0); /* the workbook and scratch files are gone */
  CHECK(b.len > 4 && memcmp(b.data, "PK\x03\x04", 4) == 0);

  const unsigned char *z = (const unsigned char *)b.data;
  char *sheet = zip_member(z, b.len, "xl/worksheets/sheet1.xml");
  char *styles = zip_member(z, b.len, "xl/styles.xml");
  char *book = zip_member(z, b.len, "xl/workbook.xml");
  char *types = zip_member(z, b.len, "[Content_Types].xml");
  CHECK(sheet && styles && book && types);
  if (sheet && styles && book && types) {
    CHECK(strstr(sheet, "案件编号")); /* the header, as an inline string */
    CHECK(strstr(sheet, "按期办结率"));
    CHECK(strstr(sheet, "路灯不亮, &quot;很暗&quot;") ||
          strstr(sheet, "路灯不亮, \"很暗\""));
    CHECK(strstr(sheet, "=HYPERLINK")); /* as a string: */
    CHECK(!strstr(sheet, "<f>"));       /* no cell is a formula */
    CHECK(strstr(sheet, "state=\"frozen\""));
    CHECK(strstr(sheet, "ySplit=\"1\""));
    CHECK(strstr(sheet, "<autoFilter ref=\"A1:E7\""));
    CHECK(strstr(sheet,
                 "<v>46295.41666")); /* 2026-09-30 10:00 as an Excel date */
    CHECK(strstr(sheet, "<v>0.9734</v>"));
    CHECK(strstr(sheet, "<v>-42</v>"));
    CHECK(strstr(sheet, "<col min=\"2\" max=\"2\" width=\"22."));
    CHECK(strstr(styles, "formatCode=\"0.0%\""));
    CHECK(strstr(styles, "formatCode=\"yyyy-mm-dd hh:mm\""));
    CHECK(strstr(styles, "<b/>"));
    CHECK(strstr(book, "name=\"案件_2026_11\""));
    CHECK(strstr(types, "spreadsheetml.sheet.main+xml"));
  }
  xfree(sheet);
  xfree(styles);
  xfree(book);
  xfree(types);
  buf_release(&b);
  table_free(t);
  rmdir(dir);
}

static void test_xlsx_sheet_names(void) {
  static const struct {
    const char *in;
    const char *want;
  } cases
      [] =
          {
              {NULL, "Sheet1"},
              {"", "Sheet1"},
              {"'scores'", "_scores_"},
              {"history", "History_"},
              {"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一"
               "二三", /* 33 */
               "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"
               "一"},
          };
  char dir[] = "/tmp/test_table_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    struct table *t = table_new(0, 0);
    table_add_col(t, "x", TABLE_INT, NULL);
    struct buf b;
    buf_init(&b, 1 << 20);
    CHECK_INT_EQ(table_xlsx_write(t, cases[k].in, dir, &b), CD_OK);
    char *book =
        zip_member((const unsigned char *)b.data, b.len, "xl/workbook.xml");
    char want[256];
    snprintf(want, sizeof(want), "name=\"%s\"", cases[k].want);
    CHECK(book && strstr(book, want));
    if (book && !strstr(book, want))
      fprintf(stderr, "  want %s in %s\n", want, book);
    xfree(book);
    buf_release(&b);
    table_free(t);
  }
  rmdir(dir);
}

static void test_xlsx_failures(void) {
  char dir[] = "/tmp/test_table_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  struct table *t = sample();
  struct buf b;
  buf_init(&b, 1000); /* a workbook is several KB */
  CHECK_INT_EQ(table_xlsx_write(t, "s", dir, &b), CD_ERR_TOOBIG);
  CHECK_INT_EQ(b.len, 0);
  CHECK_INT_EQ(dir_entries(dir), 0);
  buf_release(&b);
  buf_init(&b, 1 << 20);
  CHECK_INT_EQ(table_xlsx_write(t, "s", "/nonexistent/dir", &b), CD_ERR_IO);
  CHECK_INT_EQ(b.len, 0);
  buf_release(&b);
  table_free(t);
  rmdir(dir);
}

static const struct test_case tests[] = {
    {"free_null", test_free_null},
    {"csv_exact", test_csv_exact},
    {"csv_real_formats", test_csv_real_formats},
    {"time_format", test_time_format},
    {"text_width", test_text_width},
    {"utf8_cleaned", test_utf8_cleaned},
    {"row_cap", test_row_cap},
    {"byte_cap_sticks", test_byte_cap_sticks},
    {"cell_cap", test_cell_cap},
    {"csv_output_cap", test_csv_output_cap},
    {"alloc_failure", test_alloc_failure},
    {"xlsx_parts", test_xlsx_parts},
    {"xlsx_sheet_names", test_xlsx_sheet_names},
    {"xlsx_failures", test_xlsx_failures},
};

TEST_MAIN(tests)
