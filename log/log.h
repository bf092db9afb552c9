/*
 * log — levelled logging to stderr, as text or JSON lines.
 *
 * Every line names its subsystem ("ipc", "aws", ...).  Text lines carry a
 * timestamp unless stderr is the journal (JOURNAL_STREAM names stderr's
 * device and inode): journald stamps lines itself, and reads the level from
 * a "<N>" prefix that we then add.  JSON lines are one object each:
 * ts, level, subsystem, msg, then any fields.  Either way one event is one
 * line: control characters are escaped, invalid UTF-8 too.
 * The logger's settings are the one process-wide state outside struct kd:
 * they are written at start-up and on SIGHUP only, from the event loop.
 *
 * Never pass a secret (secret key, session token, Authorization header,
 * web identity token) to these functions; aws/ redacts its wire traces.
 */
#ifndef KD_LOG_H
#define KD_LOG_H

#include <stdarg.h>
#include <stddef.h>

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

/* SIGHUP: when stderr was a regular file at log_init(), opens that name
 * again (appending, created if missing), so that a log rotated by rename
 * goes on in a new file.  Journal, terminal or pipe: nothing to do. */
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

/*
 * Structured lines: a fixed message plus key/value fields, so that JSON
 * consumers can filter on them ("shard", "stream", "error") and text
 * readers still see them, as key=value pairs after the message.
 *
 *   log_kv(LOG_LEVEL_INFO, "lease", "lease taken", "shard", id,
 *       "owner", worker, NULL);
 *   text: ... info lease: lease taken shard=shardId-000000000001 owner=w1
 *   json: {...,"msg":"lease taken","shard":"shardId-...","owner":"w1"}
 *
 * Keys should be [A-Za-z0-9_.-]; other bytes become '_'.  Keys named like
 * the line's own members (ts, level, subsystem, msg) get a '_' prefix.  A
 * NULL value is written as "" (text) or null (JSON).  Values of keys that
 * name a secret (containing token, secret, password, passwd,
 * authorization, signature) are written as "[redacted]": a second line of
 * defence, not a licence to pass secrets.  At most LOG_MAX_FIELDS fields;
 * a line longer than 8 KiB is cut, staying valid JSON.
 */
#define LOG_MAX_FIELDS 32
struct log_field {
	const char *key;
	const char *value;
};
void log_kv(enum log_level, const char *subsys, const char *msg, ...)
    __attribute__((sentinel));
void log_fields(enum log_level, const char *subsys, const char *msg,
    const struct log_field *, size_t n);

/* Start-up only: logs and exits with the given code. */
void log_fatalx(int code, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
