/* Wall-clock time in Unix milliseconds and its ISO 8601 form in Asia/Shanghai: the one copy of
 * what the store, the alert engine, webhooks, the series writer and the device API each had. */
#ifndef CD_CLOCK_H
#define CD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Room for clock_iso_ms's text with its NUL ("2026-11-27T15:04:05.123+08:00" is 30 bytes;
 * the rest is for years the compiler cannot rule out). */
#define CLOCK_ISO_MS_LEN 48

/* The wall clock (CLOCK_REALTIME) in Unix milliseconds. Not monotonic: stamps, not timeouts. */
int64_t clock_wall_ms(void);
/* CLOCK_MONOTONIC in milliseconds (from an arbitrary start): intervals, timeouts, rate limits. */
int64_t clock_mono_ms(void);

/* Unix ms as ISO 8601 with milliseconds at UTC+8 ("2026-11-27T15:04:05.123+08:00") into out;
 * China has kept UTC+8 all year since 1991, so a fixed offset is exact for Asia/Shanghai.
 * Negative ms round down to the earlier second (the milliseconds stay 000..999). */
void clock_iso_ms(int64_t ms, char out[CLOCK_ISO_MS_LEN]);

/* Length of clock_iso_s's text with its NUL ("2026-11-27T15:04:05+08:00" is 25 bytes). */
#define CLOCK_ISO_LEN 26

/* Unix seconds as ISO 8601 at UTC+8 ("2026-11-27T15:04:05+08:00") into out, for years 0..9999
 * (others are clamped to them): digits written directly, without gmtime_r and snprintf, since
 * every case in every answer and event carries several of these. */
void clock_iso_s(int64_t t, char out[CLOCK_ISO_LEN]);

/* Moves t on by ms (>= 0), carrying nanoseconds into seconds; for either clock. */
void clock_add_ms(struct timespec *t, int64_t ms);
/* t = the wall clock now plus ms (>= 0): the absolute deadline pthread_cond_timedwait takes with
 * condition variables on their default clock (CLOCK_REALTIME). */
void clock_deadline_in(struct timespec *t, int64_t ms);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31; Howard
 * Hinnant's days_from_civil, exact for any year). */
int64_t clock_days_from_civil(int64_t y, int m, int d);
/* The proleptic Gregorian date of day z since 1970-01-01 (civil_from_days, the inverse). */
void clock_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
