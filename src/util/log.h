/* Structured logging: one JSON object per line on stderr, written with a single write(2)
 * so lines from different threads never interleave. */
#ifndef CD_LOG_H
#define CD_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below `min` are dropped. Default LOG_INFO; CITYDESK_LOG=debug|info|warn|error. */
void log_set_level(enum log_level min);
/* Logs msg with extra fields given as a JSON fragment (`"k":1,"s":"x"`) or NULL. */
void log_msg(enum log_level level, const char *msg, const char *fields_fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Writes a complete pre-built JSON line (without the newline) as is. */
void log_raw_line(const char *json, unsigned long len);

#define log_info(msg, ...) log_msg(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_msg(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_msg(LOG_ERROR, msg, __VA_ARGS__)

#endif
