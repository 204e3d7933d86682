/* Working-time engine: a day table from CAL_FIRST_YEAR to CAL_LAST_YEAR with each day's type,
 * the count of working days before each day and the day of each working-day ordinal, so that
 * deadlines are a few array lookups. Working time is measured on one axis ("working position":
 * working seconds since the table's start), which makes deadlines, elapsed time and fractions
 * the same arithmetic. See docs/internals/calendar.md. */
#include "core/calendar.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/alloc.h"
#include "util/clock.h"

#define SECS_PER_DAY 86400
#define CAL_YEARS (CAL_LAST_YEAR - CAL_FIRST_YEAR + 1)
#define CAL_MAX_ENTRIES 400 /* dates in one year file; real files hold about 40 */

/* Days in the table: every day of CAL_FIRST_YEAR..CAL_LAST_YEAR. Ordinals and indexes are
 * uint16_t, so the table must stay below 65,536 days (about 179 years). */
#define CAL_DAYS 36525
_Static_assert(CAL_DAYS < 65536, "day indexes are uint16_t");

/* One dated line of a year file. */
struct cal_entry {
	int32_t day; /* table index of the date */
	bool off;    /* isOffDay: true = holiday, false = make-up working day */
};

/* What one year's file said. */
struct cal_year {
	bool loaded;		   /* a file for this year was added */
	bool known;		   /* ...and it had at least one date */
	struct cal_entry *entries; /* owned; n of them */
	size_t n;
};

struct cal {
	uint8_t type[CAL_DAYS];		      /* enum cal_day_type of each table day */
	uint16_t cum[CAL_DAYS + 1];	      /* working days before table day i; cum[CAL_DAYS] = total */
	uint16_t nth[CAL_DAYS];		      /* table day of working day ordinal k, for k < total */
	struct cal_year years[CAL_YEARS];     /* loaded files, by year - CAL_FIRST_YEAR */
	struct cal_span spans[CAL_MAX_SPANS]; /* working periods of a working day, in order */
	size_t n_spans;
	int64_t before[CAL_MAX_SPANS]; /* working seconds of the day before spans[i] starts */
	int64_t day_secs;	       /* working seconds of a whole working day */
};

/* ---- civil dates ---- */

/* The date of day z since 1970-01-01 (util/clock's civil_from_days) with the int year the
 * calendar's structs use. */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t year;
	clock_civil_from_days(z, &year, m, d);
	*y = (int)year;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

/* 0 = Sunday .. 6 = Saturday; 1970-01-01 was a Thursday. */
static int weekday_of(int64_t epoch_day)
{
	int64_t w = (epoch_day + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t table_epoch_day(void)
{
	return clock_days_from_civil(CAL_FIRST_YEAR, 1, 1);
}

/* Splits t into its local epoch day and the seconds since local midnight. */
static void split(int64_t t, int64_t *epoch_day, int64_t *sec)
{
	/* Clamp absurd moments (about +-35 million years) so that nothing overflows; they are
	 * far outside the table anyway. */
	const int64_t lim = INT64_C(1) << 50;
	int64_t local = (t < -lim ? -lim : t > lim ? lim : t) + CAL_UTC_OFFSET;
	*epoch_day = floor_div(local, SECS_PER_DAY);
	*sec = local - *epoch_day * SECS_PER_DAY;
}

/* Unix seconds of local midnight starting table day idx. */
static int64_t day_start(int64_t idx)
{
	return (table_epoch_day() + idx) * SECS_PER_DAY - CAL_UTC_OFFSET;
}

/* ---- reasons ---- */

static void say(char *reason, size_t reason_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *reason, size_t reason_len, const char *fmt, ...)
{
	if (!reason || reason_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, reason_len, fmt, ap);
	va_end(ap);
}

/* ---- the day table ---- */

static bool type_works(uint8_t type)
{
	return type == CAL_DAY_WORKDAY || type == CAL_DAY_MAKEUP;
}

static void apply_entries(struct cal *c, const struct cal_year *yr, int year, bool own)
{
	for (size_t i = 0; i < yr->n; i++) {
		int y, m, d;
		civil_from_days(table_epoch_day() + yr->entries[i].day, &y, &m, &d);
		if ((y == year) != own)
			continue;
		c->type[yr->entries[i].day] = yr->entries[i].off ? CAL_DAY_HOLIDAY : CAL_DAY_MAKEUP;
	}
}

/* Rebuilds every derived array from the weekday rule and the loaded files: first the dates that
 * files give for their neighbouring years, then each year's own dates, so a year's own file wins. */
static void rebuild(struct cal *c)
{
	int64_t e0 = table_epoch_day();
	for (int64_t i = 0; i < CAL_DAYS; i++) {
		int w = weekday_of(e0 + i);
		c->type[i] = (w == 0 || w == 6) ? CAL_DAY_WEEKEND : CAL_DAY_WORKDAY;
	}
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < CAL_YEARS; k++)
			if (c->years[k].loaded)
				apply_entries(c, &c->years[k], CAL_FIRST_YEAR + k, pass == 1);
	uint16_t n = 0;
	for (int64_t i = 0; i < CAL_DAYS; i++) {
		c->cum[i] = n;
		if (type_works(c->type[i]))
			c->nth[n++] = (uint16_t)i;
	}
	c->cum[CAL_DAYS] = n;
}

static const struct cal_span default_spans[] = {{8 * 60 + 30, 12 * 60}, {14 * 60, 18 * 60}};

static bool spans_ok(const struct cal_span *spans, size_t n, char *reason, size_t reason_len)
{
	if (n == 0 || n > CAL_MAX_SPANS) {
		say(reason, reason_len, "need 1 to %d working periods, got %zu", CAL_MAX_SPANS, n);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (spans[i].start < 0 || spans[i].end > 1440 || spans[i].start >= spans[i].end) {
			say(reason, reason_len, "period %zu must have 0 <= start < end <= 1440 minutes",
			    i + 1);
			return false;
		}
		if (i > 0 && spans[i].start < spans[i - 1].end) {
			say(reason, reason_len, "period %zu starts before period %zu ends", i + 1, i);
			return false;
		}
	}
	return true;
}

static void install_spans(struct cal *c, const struct cal_span *spans, size_t n)
{
	int64_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		c->spans[i] = spans[i];
		c->before[i] = acc;
		acc += (int64_t)(spans[i].end - spans[i].start) * 60;
	}
	c->n_spans = n;
	c->day_secs = acc;
}

struct cal *cal_new(void)
{
	struct cal *c = xcalloc(1, sizeof(*c));
	install_spans(c, default_spans, sizeof default_spans / sizeof default_spans[0]);
	rebuild(c);
	return c;
}

void cal_free(struct cal *c)
{
	if (!c)
		return;
	for (int k = 0; k < CAL_YEARS; k++)
		xfree(c->years[k].entries);
	xfree(c);
}

/* ---- year files ---- */

/* Reads "YYYY-MM-DD" exactly. */
static bool parse_date(const char *s, int *y, int *m, int *d)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	int v[3] = {0, 0, 0};
	static const int from[3] = {0, 5, 8}, to[3] = {4, 7, 10};
	for (int f = 0; f < 3; f++)
		for (int i = from[f]; i < to[f]; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			v[f] = v[f] * 10 + (s[i] - '0');
		}
	*y = v[0];
	*m = v[1];
	*d = v[2];
	return valid_date(*y, *m, *d);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct cal_entry *x = a, *y = b;
	return (x->day > y->day) - (x->day < y->day);
}

/* Parses and checks one year file into *out (entries owned by the caller on success).
 * expect_year > 0 demands that year. */
static enum cd_err parse_year(const char *text, size_t len, int expect_year, int *year_out,
			      struct cal_year *out, char *reason, size_t reason_len)
{
	enum cd_err rc = CD_ERR_INVALID;
	struct cal_entry *entries = NULL;
	json_t *root = NULL;
	if (len > CAL_MAX_JSON) {
		say(reason, reason_len, "year file is larger than %d bytes", CAL_MAX_JSON);
		return CD_ERR_TOOBIG;
	}
	json_error_t jerr;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		say(reason, reason_len, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
		    jerr.text);
		return CD_ERR_INVALID;
	}
	if (!json_is_object(root)) {
		say(reason, reason_len, "top level must be an object");
		goto done;
	}
	json_t *jy = json_object_get(root, "year");
	json_t *days = json_object_get(root, "days");
	json_t *papers = json_object_get(root, "papers");
	double yv = json_number_value(jy);
	if (!json_is_number(jy)) {
		say(reason, reason_len, "\"year\" must be a number");
		goto done;
	}
	if (!(yv >= CAL_FIRST_YEAR && yv <= CAL_LAST_YEAR)) {
		say(reason, reason_len, "\"year\" %g is outside %d..%d", yv, CAL_FIRST_YEAR, CAL_LAST_YEAR);
		rc = CD_ERR_RANGE;
		goto done;
	}
	int year = (int)yv;
	if ((double)year != yv) {
		say(reason, reason_len, "\"year\" must be a whole number");
		goto done;
	}
	if (expect_year > 0 && year != expect_year) {
		say(reason, reason_len, "\"year\" is %d but %d was expected", year, expect_year);
		goto done;
	}
	if (papers && !json_is_array(papers)) {
		say(reason, reason_len, "\"papers\" must be an array");
		goto done;
	}
	if (!json_is_array(days)) {
		say(reason, reason_len, "\"days\" must be an array");
		goto done;
	}
	size_t n = json_array_size(days);
	if (n > CAL_MAX_ENTRIES) {
		say(reason, reason_len, "more than %d days", CAL_MAX_ENTRIES);
		rc = CD_ERR_TOOBIG;
		goto done;
	}
	if (n) {
		entries = try_calloc(n, sizeof(*entries));
		if (!entries) {
			say(reason, reason_len, "out of memory");
			rc = CD_ERR_NOMEM;
			goto done;
		}
	}
	int64_t e0 = table_epoch_day();
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(days, i);
		json_t *date = json_object_get(it, "date");
		json_t *off = json_object_get(it, "isOffDay");
		json_t *name = json_object_get(it, "name");
		int y, m, d;
		if (!json_is_object(it) || !json_is_string(date) || !json_is_boolean(off) ||
		    !json_is_string(name)) {
			say(reason, reason_len,
			    "days[%zu] needs \"name\" (string), \"date\" (string), \"isOffDay\" (boolean)",
			    i);
			goto done;
		}
		if (!parse_date(json_string_value(date), &y, &m, &d)) {
			say(reason, reason_len, "days[%zu]: \"date\" is not a valid YYYY-MM-DD", i);
			goto done;
		}
		if (y < year - 1 || y > year + 1) {
			say(reason, reason_len, "days[%zu]: %s is not within a year of %d", i,
			    json_string_value(date), year);
			rc = CD_ERR_RANGE;
			goto done;
		}
		int64_t idx = clock_days_from_civil(y, m, d) - e0;
		if (idx < 0 || idx >= CAL_DAYS) {
			say(reason, reason_len, "days[%zu]: %s is outside the table (%d..%d)", i,
			    json_string_value(date), CAL_FIRST_YEAR, CAL_LAST_YEAR);
			rc = CD_ERR_RANGE;
			goto done;
		}
		entries[i].day = (int32_t)idx;
		entries[i].off = json_is_true(off);
	}
	if (n)
		qsort(entries, n, sizeof(*entries), cmp_entry);
	for (size_t i = 1; i < n; i++)
		if (entries[i].day == entries[i - 1].day) {
			int y, m, d;
			civil_from_days(e0 + entries[i].day, &y, &m, &d);
			say(reason, reason_len, "date %04d-%02d-%02d is listed twice", y, m, d);
			goto done;
		}
	out->loaded = true;
	out->known = n > 0;
	out->entries = entries;
	out->n = n;
	entries = NULL;
	*year_out = year;
	rc = CD_OK;
done:
	xfree(entries);
	json_decref(root);
	return rc;
}

static enum cd_err add_year(struct cal *c, const char *text, size_t len, int expect_year, char *reason,
			    size_t reason_len)
{
	struct cal_year yr = {0};
	int year = 0;
	if (reason && reason_len)
		reason[0] = '\0';
	enum cd_err rc = parse_year(text, len, expect_year, &year, &yr, reason, reason_len);
	if (rc)
		return rc;
	struct cal_year *slot = &c->years[year - CAL_FIRST_YEAR];
	xfree(slot->entries);
	*slot = yr;
	rebuild(c);
	return CD_OK;
}

enum cd_err cal_add_year_json(struct cal *c, const char *text, size_t len, char *reason, size_t reason_len)
{
	return add_year(c, text, len, 0, reason, reason_len);
}

/* "2026.json" -> 2026; 0 for any other name. */
static int year_file_name(const char *name)
{
	if (strlen(name) != 9 || strcmp(name + 4, ".json") != 0)
		return 0;
	int y = 0;
	for (int i = 0; i < 4; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		y = y * 10 + (name[i] - '0');
	}
	return y;
}

/* Reads a whole file of at most CAL_MAX_JSON bytes into a new buffer. */
static enum cd_err read_file(const char *path, char **out, size_t *len, char *reason, size_t reason_len)
{
	enum cd_err rc = CD_ERR_IO;
	char *data = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		say(reason, reason_len, "cannot open: %s", strerror(errno));
		return CD_ERR_IO;
	}
	data = try_malloc(CAL_MAX_JSON + 1);
	if (!data) {
		say(reason, reason_len, "out of memory");
		rc = CD_ERR_NOMEM;
		goto done;
	}
	size_t n = fread(data, 1, CAL_MAX_JSON + 1, f);
	if (ferror(f)) {
		say(reason, reason_len, "read failed");
		goto done;
	}
	if (n > CAL_MAX_JSON) {
		say(reason, reason_len, "larger than %d bytes", CAL_MAX_JSON);
		rc = CD_ERR_TOOBIG;
		goto done;
	}
	*out = data;
	*len = n;
	data = NULL;
	rc = CD_OK;
done:
	xfree(data);
	fclose(f);
	return rc;
}

enum cd_err cal_load_dir(struct cal *c, const char *dir, char *reason, size_t reason_len)
{
	bool want[CAL_YEARS] = {false};
	size_t found = 0;
	if (reason && reason_len)
		reason[0] = '\0';
	DIR *d = opendir(dir);
	if (!d) {
		say(reason, reason_len, "%s: %s", dir, strerror(errno));
		return CD_ERR_IO;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		int y = year_file_name(de->d_name);
		if (y >= CAL_FIRST_YEAR && y <= CAL_LAST_YEAR && !want[y - CAL_FIRST_YEAR]) {
			want[y - CAL_FIRST_YEAR] = true;
			found++;
		}
	}
	closedir(d);
	if (!found) {
		say(reason, reason_len, "%s: no YYYY.json files for %d..%d", dir, CAL_FIRST_YEAR,
		    CAL_LAST_YEAR);
		return CD_ERR_NOTFOUND;
	}
	for (int k = 0; k < CAL_YEARS; k++) {
		if (!want[k])
			continue;
		char path[4096], why[256] = "";
		char *text = NULL;
		size_t len = 0;
		int n = snprintf(path, sizeof path, "%s/%04d.json", dir, CAL_FIRST_YEAR + k);
		if (n < 0 || (size_t)n >= sizeof path) {
			say(reason, reason_len, "%s: path too long", dir);
			return CD_ERR_RANGE;
		}
		enum cd_err rc = read_file(path, &text, &len, why, sizeof why);
		if (!rc) {
			rc = add_year(c, text, len, CAL_FIRST_YEAR + k, why, sizeof why);
			xfree(text);
		}
		if (rc) {
			say(reason, reason_len, "%04d.json: %s", CAL_FIRST_YEAR + k, why);
			return rc;
		}
	}
	return CD_OK;
}

/* ---- hours ---- */

enum cd_err cal_set_hours(struct cal *c, const struct cal_span *spans, size_t n, char *reason,
			  size_t reason_len)
{
	if (!spans_ok(spans, n, reason, reason_len))
		return CD_ERR_INVALID;
	install_spans(c, spans, n);
	return CD_OK;
}

/* "HH:MM" at *p; advances *p. 24:00 is allowed (as an end). */
static bool parse_clock(const char **p, int *minutes)
{
	const char *s = *p;
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' || s[3] > '9' ||
	    s[4] < '0' || s[4] > '9')
		return false;
	int h = (s[0] - '0') * 10 + (s[1] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return false;
	*minutes = h * 60 + m;
	*p = s + 5;
	return true;
}

static const char *skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

enum cd_err cal_parse_hours(const char *text, struct cal_span *spans, size_t cap, size_t *n, char *reason,
			    size_t reason_len)
{
	size_t k = 0;
	const char *p = skip_spaces(text);
	*n = 0;
	for (;;) {
		struct cal_span sp;
		if (!parse_clock(&p, &sp.start)) {
			say(reason, reason_len, "period %zu: expected HH:MM at \"%.16s\"", k + 1, p);
			return CD_ERR_INVALID;
		}
		p = skip_spaces(p);
		if (*p != '-') {
			say(reason, reason_len, "period %zu: expected '-' after the start", k + 1);
			return CD_ERR_INVALID;
		}
		p = skip_spaces(p + 1);
		if (!parse_clock(&p, &sp.end)) {
			say(reason, reason_len, "period %zu: expected HH:MM at \"%.16s\"", k + 1, p);
			return CD_ERR_INVALID;
		}
		if (k >= cap) {
			say(reason, reason_len, "more than %zu periods", cap);
			return CD_ERR_INVALID;
		}
		spans[k++] = sp;
		p = skip_spaces(p);
		if (*p == '\0')
			break;
		if (*p != ',') {
			say(reason, reason_len, "period %zu: expected ',' or the end", k);
			return CD_ERR_INVALID;
		}
		p = skip_spaces(p + 1);
	}
	*n = k;
	return CD_OK;
}

size_t cal_get_hours(const struct cal *c, struct cal_span *out, size_t cap)
{
	for (size_t i = 0; i < c->n_spans && i < cap; i++)
		out[i] = c->spans[i];
	return c->n_spans;
}

int64_t cal_day_seconds(const struct cal *c)
{
	return c->day_secs;
}

/* ---- queries ---- */

bool cal_year_known(const struct cal *c, int year)
{
	if (year < CAL_FIRST_YEAR || year > CAL_LAST_YEAR)
		return false;
	return c->years[year - CAL_FIRST_YEAR].known;
}

bool cal_range_known(const struct cal *c, int64_t from, int64_t to)
{
	int ya = cal_to_local(from).year, yb = cal_to_local(to).year;
	if (ya > yb) {
		int tmp = ya;
		ya = yb;
		yb = tmp;
	}
	for (int y = ya; y <= yb; y++)
		if (!cal_year_known(c, y))
			return false;
	return true;
}

enum cal_day_type cal_day_type(const struct cal *c, int year, int month, int day)
{
	if (!valid_date(year, month, day))
		return CAL_DAY_WEEKEND;
	int64_t e = clock_days_from_civil(year, month, day);
	int64_t idx = e - table_epoch_day();
	if (idx >= 0 && idx < CAL_DAYS)
		return (enum cal_day_type)c->type[idx];
	int w = weekday_of(e);
	return (w == 0 || w == 6) ? CAL_DAY_WEEKEND : CAL_DAY_WORKDAY;
}

bool cal_is_working_day(const struct cal *c, int year, int month, int day)
{
	return type_works((uint8_t)cal_day_type(c, year, month, day));
}

/* Table index of t's local date, or -1 outside the table; *sec gets the seconds since midnight. */
static int64_t table_day(int64_t t, int64_t *sec)
{
	int64_t e;
	split(t, &e, sec);
	int64_t idx = e - table_epoch_day();
	return (idx >= 0 && idx < CAL_DAYS) ? idx : -1;
}

/* Working seconds of a working day before clock second sec. */
static int64_t worked_before(const struct cal *c, int64_t sec)
{
	int64_t acc = 0;
	for (size_t i = 0; i < c->n_spans; i++) {
		int64_t a = (int64_t)c->spans[i].start * 60, b = (int64_t)c->spans[i].end * 60;
		if (sec <= a)
			break;
		acc += (sec < b ? sec : b) - a;
	}
	return acc;
}

/* Working position of t: working seconds from the table's start to t. Constant across
 * non-working time, so it equals the position of the next working moment. */
static enum cd_err position(const struct cal *c, int64_t t, int64_t *out)
{
	int64_t sec;
	int64_t idx = table_day(t, &sec);
	if (idx < 0)
		return CD_ERR_RANGE;
	int64_t p = (int64_t)c->cum[idx] * c->day_secs;
	if (type_works(c->type[idx]))
		p += worked_before(c, sec);
	*out = p;
	return CD_OK;
}

/* The earliest moment whose working position is pos (pos > 0): the end of a period when pos
 * falls on one. */
static enum cd_err moment_at(const struct cal *c, int64_t pos, int64_t *out)
{
	if (pos <= 0)
		return CD_ERR_RANGE;
	int64_t k = (pos - 1) / c->day_secs;
	int64_t r = pos - k * c->day_secs; /* 1..day_secs */
	if (k >= c->cum[CAL_DAYS])
		return CD_ERR_RANGE;
	size_t i = 0;
	while (i + 1 < c->n_spans && r > c->before[i + 1])
		i++;
	*out = day_start(c->nth[k]) + (int64_t)c->spans[i].start * 60 + (r - c->before[i]);
	return CD_OK;
}

bool cal_is_working_time(const struct cal *c, int64_t t)
{
	int64_t sec;
	int64_t idx = table_day(t, &sec);
	if (idx < 0 || !type_works(c->type[idx]))
		return false;
	for (size_t i = 0; i < c->n_spans; i++)
		if (sec >= (int64_t)c->spans[i].start * 60 && sec < (int64_t)c->spans[i].end * 60)
			return true;
	return false;
}

enum cd_err cal_next_working_moment(const struct cal *c, int64_t t, int64_t *out)
{
	int64_t sec;
	int64_t idx = table_day(t, &sec);
	if (idx < 0)
		return CD_ERR_RANGE;
	if (type_works(c->type[idx]))
		for (size_t i = 0; i < c->n_spans; i++) {
			int64_t a = (int64_t)c->spans[i].start * 60, b = (int64_t)c->spans[i].end * 60;
			if (sec < b) {
				*out = sec >= a ? t : t - sec + a;
				return CD_OK;
			}
		}
	uint16_t k = c->cum[idx + 1]; /* ordinal of the first working day after idx */
	if (k >= c->cum[CAL_DAYS])
		return CD_ERR_RANGE;
	*out = day_start(c->nth[k]) + (int64_t)c->spans[0].start * 60;
	return CD_OK;
}

enum cd_err cal_deadline(const struct cal *c, int64_t t, struct cal_limit lim, int64_t *out)
{
	enum cd_err rc;
	if (lim.amount < 0)
		return CD_ERR_RANGE;
	switch (lim.kind) {
	case CAL_HOURS:
		if (t > INT64_MAX - (int64_t)lim.amount * 60)
			return CD_ERR_RANGE;
		*out = t + (int64_t)lim.amount * 60;
		return CD_OK;
	case CAL_WORKING_DAYS: {
		int64_t s, sec;
		rc = cal_next_working_moment(c, t, &s);
		if (rc)
			return rc;
		int64_t idx = table_day(s, &sec);
		int64_t k = (int64_t)c->cum[idx] + lim.amount;
		if (k >= c->cum[CAL_DAYS])
			return CD_ERR_RANGE;
		*out = day_start(c->nth[k]) + sec;
		return CD_OK;
	}
	case CAL_WORKING_HOURS: {
		int64_t p;
		if (lim.amount == 0)
			return cal_next_working_moment(c, t, out);
		rc = position(c, t, &p);
		if (rc)
			return rc;
		return moment_at(c, p + (int64_t)lim.amount * 60, out);
	}
	}
	return CD_ERR_INVALID;
}

enum cd_err cal_extend(const struct cal *c, int64_t deadline, struct cal_limit ext, int64_t *out)
{
	return cal_deadline(c, deadline, ext, out);
}

enum cd_err cal_working_seconds_between(const struct cal *c, int64_t a, int64_t b, int64_t *out)
{
	int64_t pa, pb;
	enum cd_err rc = position(c, a, &pa);
	if (!rc)
		rc = position(c, b, &pb);
	if (rc)
		return rc;
	*out = pb - pa;
	return CD_OK;
}

enum cd_err cal_fraction_elapsed(const struct cal *c, int64_t start, int64_t deadline, int64_t now,
				 enum cal_kind kind, double *out)
{
	int64_t total, used;
	if (kind == CAL_HOURS) {
		total = deadline - start;
		used = now - start;
	} else if (kind == CAL_WORKING_DAYS || kind == CAL_WORKING_HOURS) {
		enum cd_err rc = cal_working_seconds_between(c, start, deadline, &total);
		if (!rc)
			rc = cal_working_seconds_between(c, start, now, &used);
		if (rc)
			return rc;
	} else {
		return CD_ERR_INVALID;
	}
	if (total <= 0)
		*out = now >= deadline ? 1.0 : 0.0;
	else
		*out = used <= 0 ? 0.0 : (double)used / (double)total;
	return CD_OK;
}

enum cd_err cal_fraction_moment(const struct cal *c, int64_t start, int64_t deadline, enum cal_kind kind,
				double frac, int64_t *out)
{
	int64_t base, total;
	if (!(frac > 0) || !isfinite(frac) || frac > 1e6)
		return CD_ERR_RANGE;
	if (kind == CAL_HOURS) {
		base = start;
		total = deadline - start;
	} else if (kind == CAL_WORKING_DAYS || kind == CAL_WORKING_HOURS) {
		enum cd_err rc = position(c, start, &base);
		if (!rc)
			rc = cal_working_seconds_between(c, start, deadline, &total);
		if (rc)
			return rc;
	} else {
		return CD_ERR_INVALID;
	}
	if (total <= 0) {
		*out = deadline;
		return CD_OK;
	}
	double want = ceil(frac * (double)total - 1e-6); /* tolerate 0.8 * x being x.0000001 */
	if (want > 1e15)
		return CD_ERR_RANGE;
	int64_t step = (int64_t)want;
	if (step < 1)
		step = 1;
	if (kind == CAL_HOURS) {
		*out = start + step;
		return CD_OK;
	}
	return moment_at(c, base + step, out);
}

enum cd_err cal_limit_from(const char *key, double value, struct cal_limit *out)
{
	if (!key)
		return CD_ERR_INVALID;
	if (!isfinite(value) || value < 0)
		return CD_ERR_RANGE;
	if (strcmp(key, "working_days") == 0) {
		if (value > 3650 || value != floor(value))
			return CD_ERR_RANGE;
		*out = (struct cal_limit){CAL_WORKING_DAYS, (int32_t)value};
		return CD_OK;
	}
	enum cal_kind kind;
	if (strcmp(key, "working_hours") == 0)
		kind = CAL_WORKING_HOURS;
	else if (strcmp(key, "hours") == 0)
		kind = CAL_HOURS;
	else
		return CD_ERR_INVALID;
	if (value > 43800)
		return CD_ERR_RANGE;
	*out = (struct cal_limit){kind, (int32_t)lround(value * 60)};
	return CD_OK;
}

/* ---- clock ---- */

enum cd_err cal_from_local(int year, int month, int day, int hour, int minute, int second, int64_t *out)
{
	if (!valid_date(year, month, day) || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
	    second < 0 || second > 59)
		return CD_ERR_RANGE;
	*out = clock_days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second -
	       CAL_UTC_OFFSET;
	return CD_OK;
}

struct cal_local cal_to_local(int64_t t)
{
	struct cal_local l;
	int64_t e, sec;
	split(t, &e, &sec);
	civil_from_days(e, &l.year, &l.month, &l.day);
	l.hour = (int)(sec / 3600);
	l.minute = (int)(sec / 60 % 60);
	l.second = (int)(sec % 60);
	l.weekday = weekday_of(e);
	return l;
}

char *cal_format(int64_t t, char *out, size_t out_len)
{
	struct cal_local l = cal_to_local(t);
	if (out_len)
		snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", l.year, l.month, l.day, l.hour,
			 l.minute, l.second);
	return out;
}

const char *cal_kind_name(enum cal_kind kind)
{
	switch (kind) {
	case CAL_WORKING_DAYS:
		return "working_days";
	case CAL_WORKING_HOURS:
		return "working_hours";
	case CAL_HOURS:
		return "hours";
	}
	return "unknown";
}
