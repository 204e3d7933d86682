/* Working time for case deadlines: the official holiday calendar with its make-up working days
 * (调休), daily working hours, and deadlines in working days, working hours or plain hours, in
 * the district's zone (Asia/Shanghai, fixed UTC+8). Pure computation over a precomputed day table;
 * only cal_load_dir touches the file system. Rules and layout: docs/internals/calendar.md. */
#ifndef CD_CALENDAR_H
#define CD_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The day table covers these calendar years (local dates). Moments outside it give CD_ERR_RANGE
 * from the working-time functions; plain-hour deadlines work for any moment. */
#define CAL_FIRST_YEAR 2000
#define CAL_LAST_YEAR 2099
#define CAL_UTC_OFFSET (8 * 3600) /* Asia/Shanghai; no DST since 1991 */
#define CAL_MAX_SPANS 8		  /* working periods per day */
#define CAL_MAX_JSON (1 << 20)	  /* bytes accepted for one year file */

/* A working period of a day, [start, end) in minutes after local midnight (0..1440). */
struct cal_span {
	int start; /* first working minute */
	int end;   /* first minute after the period */
};

/* What kind of time a limit counts. */
enum cal_kind {
	CAL_WORKING_DAYS,  /* amount = working days; same clock time on the Nth working day */
	CAL_WORKING_HOURS, /* amount = minutes of working time (so 0.5 h = 30) */
	CAL_HOURS,	   /* amount = minutes of plain time (every hour counts) */
};

/* A time limit such as a category's or an extension's. */
struct cal_limit {
	enum cal_kind kind;
	int32_t amount; /* >= 0; unit depends on kind (days or minutes) */
};

/* Why a day is or is not a working day. */
enum cal_day_type {
	CAL_DAY_WORKDAY, /* Monday..Friday, no notice about it */
	CAL_DAY_WEEKEND, /* Saturday or Sunday, no notice about it */
	CAL_DAY_HOLIDAY, /* a notice makes it a day off (isOffDay true) */
	CAL_DAY_MAKEUP,	 /* a notice makes it a working day (isOffDay false), 调休 */
};

/* A moment as the district's clock shows it. */
struct cal_local {
	int year, month, day;	  /* civil date, month and day from 1 */
	int hour, minute, second; /* 0..23, 0..59, 0..59 */
	int weekday;		  /* 0 = Sunday .. 6 = Saturday */
};

struct cal;

/* A calendar with no holiday data (every year unknown, plain weekends) and the default hours
 * 08:30-12:00 and 14:00-18:00. Aborts on exhaustion (internal size, about 185 KB). Free with
 * cal_free. */
struct cal *cal_new(void);

/* Frees the calendar; NULL is fine. */
void cal_free(struct cal *c);

/* Adds one year of the official calendar in holiday-cn format ({"year":Y,"papers":[...],
 * "days":[{"name","date","isOffDay"}...]}, data/calendar/README.md). A year with an empty `days`
 * list is accepted but stays unknown (not yet published). Adding a year again replaces that year's
 * earlier file. Dates of the neighbouring years (a New Year's holiday starting in December) are
 * applied too, but a year's own file wins over its neighbour's on the same date.
 * Returns CD_OK; CD_ERR_INVALID (bad JSON, missing or wrong-typed field, bad or repeated date),
 * CD_ERR_RANGE (year outside the table, date not within a year of it), CD_ERR_TOOBIG (len >
 * CAL_MAX_JSON or > 400 days), CD_ERR_NOMEM; on failure the calendar is unchanged and an English
 * reason is written to reason (reason_len 0 is fine). Not safe while other threads read c. */
enum cd_err cal_add_year_json(struct cal *c, const char *text, size_t len, char *reason,
			      size_t reason_len) CD_MUST_CHECK;

/* Reads every YYYY.json in dir (other names are skipped), in name order, each checked to hold the
 * year its name says, and adds them. CD_ERR_NOTFOUND when dir holds no such file; CD_ERR_IO when
 * dir or a file cannot be read; otherwise as cal_add_year_json. Stops at the first bad file, whose
 * name starts the reason; files added before it stay added. */
enum cd_err cal_load_dir(struct cal *c, const char *dir, char *reason, size_t reason_len) CD_MUST_CHECK;

/* Sets the working periods of every working day: 1..CAL_MAX_SPANS spans, each 0 <= start < end
 * <= 1440, in order and not overlapping (touching is fine). CD_ERR_INVALID with a reason
 * otherwise, leaving the hours unchanged. */
enum cd_err cal_set_hours(struct cal *c, const struct cal_span *spans, size_t n, char *reason,
			  size_t reason_len) CD_MUST_CHECK;

/* Parses "08:30-12:00,14:00-18:00" (spaces allowed around items; "24:00" allowed as an end)
 * into spans[0..*n). CD_ERR_INVALID with a reason on bad syntax or more than cap spans; the order
 * rules are checked by cal_set_hours, not here. */
enum cd_err cal_parse_hours(const char *text, struct cal_span *spans, size_t cap, size_t *n, char *reason,
			    size_t reason_len) CD_MUST_CHECK;

/* The working periods in force: copies up to cap of them to out, returns how many there are. */
size_t cal_get_hours(const struct cal *c, struct cal_span *out, size_t cap);

/* Working seconds in one working day (27,000 with the default hours). */
int64_t cal_day_seconds(const struct cal *c);

/* True when the year's official arrangement has been loaded (a non-empty file). For an unknown
 * year the calendar counts plain weekends and no holidays: callers should say so. */
bool cal_year_known(const struct cal *c, int year);

/* True when every calendar year from from's to to's (local dates, either order) is known: a
 * deadline computed across them used the official arrangement throughout. */
bool cal_range_known(const struct cal *c, int64_t from, int64_t to);

/* The type of a civil date. Dates outside the table or invalid dates are judged by weekday alone
 * (an invalid date gives CAL_DAY_WEEKEND). */
enum cal_day_type cal_day_type(const struct cal *c, int year, int month, int day);

/* True for CAL_DAY_WORKDAY and CAL_DAY_MAKEUP. */
bool cal_is_working_day(const struct cal *c, int year, int month, int day);

/* True when t lies inside a working period of a working day. Outside the table: false. */
bool cal_is_working_time(const struct cal *c, int64_t t);

/* The first moment >= t inside working time (t itself when it is already inside): the moment a
 * report received at t counts as received. CD_ERR_RANGE outside the table. */
enum cd_err cal_next_working_moment(const struct cal *c, int64_t t, int64_t *out) CD_MUST_CHECK;

/* The deadline of a limit counted from t (unix seconds), into *out:
 *  - CAL_WORKING_DAYS: let s = cal_next_working_moment(t); the same clock time as s on the Nth
 *    working day after s's date. So a report inside working hours keeps its clock time, and one
 *    received outside (evening, lunch, a holiday) counts from when work next starts.
 *  - CAL_WORKING_HOURS: the moment at which `amount` minutes of working time have passed since t.
 *    Landing exactly on the end of a period gives that end (12:00, not 14:00).
 *  - CAL_HOURS: t + amount minutes.
 * amount 0 gives s for the working kinds and t for plain hours. CD_ERR_RANGE for a negative
 * amount or a result outside the table, CD_ERR_INVALID for an unknown kind. O(1). */
enum cd_err cal_deadline(const struct cal *c, int64_t t, struct cal_limit lim, int64_t *out) CD_MUST_CHECK;

/* An approved extension: the deadline counted from the current deadline with the same rules as
 * cal_deadline (the extension may be of a different kind than the original limit). */
enum cd_err cal_extend(const struct cal *c, int64_t deadline, struct cal_limit ext,
		       int64_t *out) CD_MUST_CHECK;

/* Working time in seconds from a to b: working seconds in [a, b), negative when b < a.
 * CD_ERR_RANGE when either moment is outside the table. */
enum cd_err cal_working_seconds_between(const struct cal *c, int64_t a, int64_t b,
					int64_t *out) CD_MUST_CHECK;

/* Share of the limit used at now, for a case started at start and due at deadline, measured in
 * the limit's kind of time (working time for the working kinds, plain time for CAL_HOURS):
 * 0 at start (and before it), 0.8 at the yellow line, 1.0 at the deadline, above 1 when overdue.
 * A limit of no length gives 0 before the deadline and 1 from it on. CD_ERR_RANGE as above. */
enum cd_err cal_fraction_elapsed(const struct cal *c, int64_t start, int64_t deadline, int64_t now,
				 enum cal_kind kind, double *out) CD_MUST_CHECK;

/* The earliest moment at which cal_fraction_elapsed reaches frac (0 < frac, e.g. 0.8 for the
 * yellow line): store it at intake and the scheduler needs only "yellow_at <= now", no calendar
 * work per open case. Rounded up to a whole second; a limit of no length gives the deadline.
 * CD_ERR_RANGE for frac <= 0 or not finite, or a moment outside the table. */
enum cd_err cal_fraction_moment(const struct cal *c, int64_t start, int64_t deadline, enum cal_kind kind,
				double frac, int64_t *out) CD_MUST_CHECK;

/* A limit from the intake API's time_limit object: key "working_days" (a whole number, at most
 * 3,650), "working_hours" or "hours" (fractions allowed, rounded to the nearest minute; at most
 * 43,800 h). CD_ERR_INVALID for another key, CD_ERR_RANGE for a negative, too large, not finite
 * or fractional-day value. */
enum cd_err cal_limit_from(const char *key, double value, struct cal_limit *out) CD_MUST_CHECK;

/* Unix seconds of a local (UTC+8) civil time. CD_ERR_RANGE for an invalid date or time. */
enum cd_err cal_from_local(int year, int month, int day, int hour, int minute, int second,
			   int64_t *out) CD_MUST_CHECK;

/* The local (UTC+8) clock reading of t. */
struct cal_local cal_to_local(int64_t t);

/* Writes t as "2026-10-13T10:00:00+08:00" into out (at least 26 bytes; truncated otherwise)
 * and returns out. */
char *cal_format(int64_t t, char *out, size_t out_len);

/* "working_days", "working_hours" or "hours" (the intake API's time_limit keys). */
const char *cal_kind_name(enum cal_kind kind);

#endif
