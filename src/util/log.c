/* JSON-lines logger on stderr; see log.h. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level min)
{
	min_level = min;
}

void log_raw_line(const char *json, unsigned long len)
{
	char line[8192];
	if (len > sizeof line - 1)
		len = sizeof line - 1;
	memcpy(line, json, len);
	line[len] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len + 1);
	(void)w; /* nowhere to report a failed log write */
}

void log_msg(enum log_level level, const char *msg, const char *fields_fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	if (level < min_level)
		return;
	char line[8192];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
			 "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000000, names[level], msg);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	if (fields_fmt && *fields_fmt) {
		line[n++] = ',';
		va_list ap;
		va_start(ap, fields_fmt);
		int m = vsnprintf(line + n, sizeof line - (size_t)n, fields_fmt, ap);
		va_end(ap);
		if (m < 0)
			return;
		n = (size_t)(n + m) >= sizeof line - 2 ? (int)sizeof line - 3 : n + m;
	}
	line[n++] = '}';
	log_raw_line(line, (unsigned long)n);
}
