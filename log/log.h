/*
 * log — levelled logging to stderr, as text or JSON lines.
 *
 * Every line names its subsystem ("ipc", "aws", ...).  Text lines carry a
 * timestamp unless JOURNAL_STREAM is set (journald stamps them itself).
 * The logger's settings are the one process-wide state outside struct kd:
 * they are written at start-up and on SIGHUP only, from the event loop.
 *
 * Never pass a secret (secret key, session token, Authorization header,
 * web identity token) to these functions; aws/ redacts its wire traces.
 */
#ifndef KD_LOG_H
#define KD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

void log_init(enum log_level, enum log_format);
void log_set_level(enum log_level);
int log_enabled(enum log_level);
/* "error".."trace" / "text","json" <-> enums; -1 when unknown. */
int log_level_parse(const char *);
const char *log_level_name(enum log_level);
int log_format_parse(const char *);

/* Reopens stderr's target if it is a regular file (SIGHUP). */
void log_reopen(void);

void log_msg(enum log_level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level, const char *subsys, const char *fmt, va_list)
    __attribute__((format(printf, 3, 0)));

/* log_warn/log_error append ": strerror(errno)"; the x forms do not. */
void log_warn(const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_error(const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_errorx(s, ...) log_msg(LOG_LEVEL_ERROR, (s), __VA_ARGS__)
#define log_warnx(s, ...)  log_msg(LOG_LEVEL_WARN, (s), __VA_ARGS__)
#define log_info(s, ...)   log_msg(LOG_LEVEL_INFO, (s), __VA_ARGS__)
#define log_debug(s, ...)                                                      \
	do {                                                                   \
		if (log_enabled(LOG_LEVEL_DEBUG))                              \
			log_msg(LOG_LEVEL_DEBUG, (s), __VA_ARGS__);            \
	} while (0)
#define log_trace(s, ...)                                                      \
	do {                                                                   \
		if (log_enabled(LOG_LEVEL_TRACE))                              \
			log_msg(LOG_LEVEL_TRACE, (s), __VA_ARGS__);            \
	} while (0)

/* Start-up only: logs and exits with the given code. */
void log_fatalx(int code, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
