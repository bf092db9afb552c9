/*
 * log.c — see log.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"

static const char *const level_names[] = {
    "error", "warn", "info", "debug", "trace"};

/* Set at start-up and on SIGHUP; see log.h. */
static struct {
	enum log_level level;
	enum log_format format;
	int journal;     /* stderr goes to journald: no timestamps of our own */
	char path[4096]; /* stderr's file at start-up, for log_reopen() */
} log_state = {LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 0, ""};

/*
 * systemd sets JOURNAL_STREAM to "device:inode" of the stream it connects
 * to stdout/stderr.  Children and redirections inherit the variable but not
 * the stream, so only a match with stderr itself means journald reads us.
 */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/*
 * The name of stderr's file when it is a regular file, else "".  Taken by
 * log_init() at start-up: once logrotate renamed the file, /proc/self/fd/2
 * names the renamed file, and reopening that would keep the old log.
 */
static void
stderr_path(char *buf, size_t len)
{
	char link[64];
	struct stat st;
	ssize_t n;

	buf[0] = '\0';
	if (fstat(STDERR_FILENO, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink == 0)
		return; /* not a file, or one without a name to open again */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", STDERR_FILENO);
	n = readlink(link, buf, len - 1);
	if (n <= 0 || (size_t)n >= len - 1 || buf[0] != '/') {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
}

void
log_init(enum log_level level, enum log_format format)
{
	log_state.level = level;
	log_state.format = format;
	log_state.journal = stderr_is_journal();
	stderr_path(log_state.path, sizeof(log_state.path));
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
	int fd;

	if (log_state.path[0] == '\0')
		return;
	fd = open(
	    log_state.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("log", "cannot reopen %s", log_state.path);
		return;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* ---- building one line ------------------------------------------------ */

/*
 * A line is built in place and written with one write(2).  Appends stop
 * at lim; the bytes past it are kept for the closing quote, brace and
 * newline, so a cut line is still one line (and, in JSON, still JSON).
 */
#define LINE_BYTES   8192
#define LINE_RESERVE 8

struct line {
	char buf[LINE_BYTES];
	size_t off;
	int full; /* something did not fit: append nothing more */
};

/* Appends n bytes whole, or nothing and marks the line full. */
static int
line_put(struct line *l, const char *s, size_t n)
{
	if (l->full || l->off + n > sizeof(l->buf) - LINE_RESERVE) {
		l->full = 1;
		return -1;
	}
	memcpy(l->buf + l->off, s, n);
	l->off += n;
	return 0;
}

static int
line_raw(struct line *l, const char *s)
{
	return line_put(l, s, strlen(s));
}

/* Closers use the reserve, so they always fit. */
static void
line_close(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (l->off + n <= sizeof(l->buf)) {
		memcpy(l->buf + l->off, s, n);
		l->off += n;
	}
}

/* Length of the valid UTF-8 sequence at s, or 0 (RFC 3629 table). */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf) /* also stops at the NUL */
			return 0;
	return n;
}

/* s as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. */
static void
line_json(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t n;
	int rc;

	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			rc = line_put(l, esc, 2);
			n = 1;
		} else if (*p == '\n') {
			rc = line_put(l, "\\n", 2);
			n = 1;
		} else if (*p == '\t') {
			rc = line_put(l, "\\t", 2);
			n = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			rc = line_put(l, esc, 6);
			n = 1;
		} else if ((n = utf8_len(p)) == 0) {
			rc = line_put(l, "\\ufffd", 6);
			n = 1;
		} else
			rc = line_put(l, (const char *)p, n);
		if (rc == -1)
			return;
		p += n;
	}
}

/* Whether a text value must be quoted to be read back as one token. */
static int
text_needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0')
		return 1;
	for (size_t n; *p != '\0'; p += n) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p == 0x7f || (n = utf8_len(p)) == 0)
			return 1;
	}
	return 0;
}

/*
 * s for a text line: control characters and invalid UTF-8 as C-style
 * escapes, so that no value can start a line of its own.  Inside quotes,
 * " and \ are escaped too.
 */
static void
line_text(struct line *l, const char *s, int quoted)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char esc[4];
	size_t n;
	int rc;

	while (*p != '\0') {
		n = 1;
		if (*p == '\n')
			rc = line_put(l, "\\n", 2);
		else if (*p == '\t')
			rc = line_put(l, "\\t", 2);
		else if (*p == '\r')
			rc = line_put(l, "\\r", 2);
		else if (quoted && (*p == '"' || *p == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)*p;
			rc = line_put(l, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f || (n = utf8_len(p)) == 0) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
			rc = line_put(l, esc, 4);
			n = 1;
		} else
			rc = line_put(l, (const char *)p, n);
		if (rc == -1)
			return;
		p += n;
	}
}

/* ---- fields ----------------------------------------------------------- */

static const char *const reserved_keys[] = {"ts", "level", "subsystem", "msg"};

/* Substrings of key names whose values are never written. */
static const char *const secret_words[] = {
    "token", "secret", "password", "passwd", "authorization", "signature"};

static int
key_is_secret(const char *key)
{
	char low[64];
	size_t i;

	for (i = 0; key[i] != '\0' && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	low[i] = '\0';
	for (i = 0; i < sizeof(secret_words) / sizeof(*secret_words); i++)
		if (strstr(low, secret_words[i]) != NULL)
			return 1;
	return 0;
}

/* The key as written: safe bytes only, and never one of the line's own
 * member names (a JSON object with two "msg" is read differently by
 * different parsers). */
static void
line_key(struct line *l, const char *key)
{
	char k[64];
	size_t i, o = 0;

	for (i = 0; i < sizeof(reserved_keys) / sizeof(*reserved_keys); i++)
		if (strcmp(key, reserved_keys[i]) == 0)
			k[o++] = '_';
	for (i = 0; key[i] != '\0' && o < sizeof(k) - 1; i++) {
		unsigned char c = (unsigned char)key[i];
		int safe = isalnum(c) || c == '_' || c == '.' || c == '-';
		k[o++] = safe ? (char)c : '_';
	}
	if (o == 0)
		k[o++] = '_';
	k[o] = '\0';
	line_raw(l, k);
}

static void
fields_json(struct line *l, const struct log_field *f, size_t n)
{
	for (size_t i = 0; i < n && !l->full; i++) {
		size_t mark = l->off;
		const char *v = f[i].value;

		line_raw(l, ",\"");
		line_key(l, f[i].key != NULL ? f[i].key : "");
		if (line_raw(l, v != NULL ? "\":\"" : "\":null") == -1) {
			l->off = mark; /* no member without its value */
			return;
		}
		if (v == NULL)
			continue;
		line_json(l, key_is_secret(f[i].key) ? "[redacted]" : v);
		line_close(l, "\"");
	}
}

static void
fields_text(struct line *l, const struct log_field *f, size_t n)
{
	for (size_t i = 0; i < n && !l->full; i++) {
		size_t mark = l->off;
		const char *v = f[i].value != NULL ? f[i].value : "";
		int quoted;

		if (f[i].key != NULL && key_is_secret(f[i].key))
			v = "[redacted]";
		quoted = text_needs_quotes(v);
		line_raw(l, " ");
		line_key(l, f[i].key != NULL ? f[i].key : "");
		if (line_raw(l, quoted ? "=\"" : "=") == -1) {
			l->off = mark;
			return;
		}
		line_text(l, v, quoted);
		if (quoted)
			line_close(l, "\"");
	}
}

/* ---- output ------------------------------------------------------------ */

/* syslog priorities for journald's "<N>" line prefix (sd-daemon(3)). */
static const char *const journal_prefix[] = {"<3>", "<4>", "<6>", "<7>", "<7>"};

static void
log_emit(enum log_level level, const char *subsys, const char *msg,
    const struct log_field *fields, size_t n)
{
	struct line l;
	char ts[40];
	struct timeval tv;
	struct tm tm;
	size_t off;

	l.off = 0;
	l.full = 0;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	off = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(
	    ts + off, sizeof(ts) - off, ".%03ldZ", (long)tv.tv_usec / 1000);

	if (log_state.format == LOG_FORMAT_JSON) {
		line_raw(&l, "{\"ts\":\"");
		line_raw(&l, ts);
		line_raw(&l, "\",\"level\":\"");
		line_raw(&l, level_names[level]);
		line_raw(&l, "\",\"subsystem\":\"");
		line_json(&l, subsys);
		line_raw(&l, "\",\"msg\":\"");
		line_json(&l, msg);
		line_close(&l, "\"");
		fields_json(&l, fields, n);
		line_close(&l, "}\n");
	} else {
		if (log_state.journal)
			line_raw(&l, journal_prefix[level]);
		else {
			line_raw(&l, ts);
			line_raw(&l, " ");
		}
		line_raw(&l, level_names[level]);
		line_raw(&l, " ");
		line_text(&l, subsys, 0);
		line_raw(&l, ": ");
		line_text(&l, msg, 0);
		fields_text(&l, fields, n);
		line_close(&l, "\n");
	}
	/* One write per line keeps lines whole when several processes log. */
	(void)!write(STDERR_FILENO, l.buf, l.off);
}

void
log_vmsg(enum log_level level, const char *subsys, const char *fmt, va_list ap)
{
	char msg[4096];

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(level, subsys, msg, NULL, 0);
}

void
log_fields(enum log_level level, const char *subsys, const char *msg,
    const struct log_field *fields, size_t n)
{
	if (!log_enabled(level))
		return;
	log_emit(level, subsys, msg, fields,
	    n > LOG_MAX_FIELDS ? LOG_MAX_FIELDS : n);
}

void
log_kv(enum log_level level, const char *subsys, const char *msg, ...)
{
	struct log_field f[LOG_MAX_FIELDS];
	const char *key;
	size_t n = 0;
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, msg);
	/* Pairs are read whole, so a NULL value does not end the list. */
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);
		if (n < LOG_MAX_FIELDS) {
			f[n].key = key;
			f[n].value = value;
			n++;
		}
	}
	va_end(ap);
	log_emit(level, subsys, msg, f, n);
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
log_errno(enum log_level level, const char *subsys, const char *fmt, va_list ap)
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
