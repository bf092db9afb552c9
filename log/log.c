/*
 * log.c — see log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"

static const char *const level_names[] = {
	"error", "warn", "info", "debug", "trace",
};

/* Set at start-up and on SIGHUP; see log.h. */
static struct {
	enum log_level level;
	enum log_format format;
	int journal; /* stderr goes to journald: no timestamps of our own */
} log_state = { LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 0 };

void
log_init(enum log_level level, enum log_format format)
{
	log_state.level = level;
	log_state.format = format;
	log_state.journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_level(enum log_level level)
{
	log_state.level = level;
}

int
log_enabled(enum log_level level)
{
	return level <= log_state.level;
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[level];
}

int
log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

void
log_reopen(void)
{
	char path[64], target[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", STDERR_FILENO);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0 || target[0] != '/')
		return;
	target[n] = '\0';
	if (strncmp(target, "/dev/", 5) == 0)
		return;
	fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return;
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Appends s to buf as the inside of a JSON string. */
static size_t
json_escape(char *buf, size_t len, size_t off, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s != '\0' && off + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c == '\n') {
			buf[off++] = '\\';
			buf[off++] = 'n';
		} else if (c < 0x20) {
			memcpy(buf + off, "\\u00", 4);
			buf[off + 4] = hex[c >> 4];
			buf[off + 5] = hex[c & 15];
			off += 6;
		} else
			buf[off++] = (char)c;
	}
	return off;
}

void
log_vmsg(enum log_level level, const char *subsys, const char *fmt,
    va_list ap)
{
	char msg[4096], line[8192], ts[40];
	struct timeval tv;
	struct tm tm;
	size_t off;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	off = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + off, sizeof(ts) - off, ".%03ldZ", (long)tv.tv_usec / 1000);

	if (log_state.format == LOG_FORMAT_JSON) {
		off = (size_t)snprintf(line, sizeof(line),
		    "{\"ts\":\"%s\",\"level\":\"%s\",\"subsystem\":\"", ts,
		    level_names[level]);
		off = json_escape(line, sizeof(line), off, subsys);
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    "\",\"msg\":\"");
		off = json_escape(line, sizeof(line), off, msg);
		off += (size_t)snprintf(line + off, sizeof(line) - off, "\"}\n");
	} else if (log_state.journal) {
		off = (size_t)snprintf(line, sizeof(line), "%s: %s: %s\n",
		    level_names[level], subsys, msg);
	} else {
		off = (size_t)snprintf(line, sizeof(line), "%s %s %s: %s\n", ts,
		    level_names[level], subsys, msg);
	}
	if (off >= sizeof(line)) {
		off = sizeof(line) - 1;
		line[off - 1] = '\n';
	}
	/* One write per line keeps lines whole when several processes log. */
	(void)!write(STDERR_FILENO, line, off);
}

void
log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, subsys, fmt, ap);
	va_end(ap);
}

static void
log_errno(enum log_level level, const char *subsys, const char *fmt,
    va_list ap)
{
	char buf[2048];
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(level, subsys, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_warn(const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_LEVEL_WARN, subsys, fmt, ap);
	va_end(ap);
}

void
log_error(const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_LEVEL_ERROR, subsys, fmt, ap);
	va_end(ap);
}

void
log_fatalx(int code, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, subsys, fmt, ap);
	va_end(ap);
	exit(code);
}
