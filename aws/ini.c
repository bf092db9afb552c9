/*
 * ini.c — the shared AWS config and credentials files (see aws.h).
 *
 * The format is the SDKs' INI dialect:
 *   - "[name]" sections in the credentials file; "[profile name]" in the
 *     config file, where the default profile may also be "[default]";
 *   - "key = value" lines, keys case-insensitive (botocore lower-cases
 *     them), values trimmed;
 *   - whole-line comments starting with '#' or ';', and trailing comments
 *     after whitespace (" # ...", " ; ...") on section and property lines;
 *   - lines starting with whitespace continue a property (nested settings
 *     such as "s3 =" blocks); kinesisd reads no nested setting, so they are
 *     skipped (an indented "[section]" line is still a section header).
 * A section that appears twice is merged, later keys winning.  A line that
 * fits none of these is ignored, as the SDKs ignore it with a warning: a
 * stray line must not cost the daemon its credentials.
 *
 * The files are small and local, so they are read synchronously.  They may
 * hold secrets: every buffer that held file text is wiped before it is
 * freed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/aws.h"

/* A credentials file bigger than this is not a credentials file. */
#define INI_MAX_FILE (1 << 20)

struct aws_profile_kv {
	char *key;
	char *value;
};

struct aws_profile {
	struct aws_profile_kv *kv;
	size_t n;
	size_t cap;
};

const char *
aws_profile_name(void)
{
	const char *p;

	if ((p = getenv("AWS_PROFILE")) != NULL && *p != '\0')
		return p;
	/* The AWS CLI v1's name, still honoured by botocore. */
	if ((p = getenv("AWS_DEFAULT_PROFILE")) != NULL && *p != '\0')
		return p;
	return "default";
}

char *
aws_profile_path(enum aws_profile_file which)
{
	const char *env, *home, *leaf;
	struct passwd pw, *pwp = NULL;
	char buf[4096], *path;

	env = getenv(which == AWS_PROFILE_CREDENTIALS
	                 ? "AWS_SHARED_CREDENTIALS_FILE"
	                 : "AWS_CONFIG_FILE");
	leaf = which == AWS_PROFILE_CREDENTIALS ? "credentials" : "config";
	if (env != NULL && *env != '\0') {
		/* "~/" is expanded by the SDKs too. */
		if (env[0] != '~' || env[1] != '/')
			return strdup(env);
		env++;
		leaf = NULL;
	}
	home = getenv("HOME");
	if (home == NULL || *home == '\0') {
		/* A service user may run without HOME; the passwd entry is a
		 * local file lookup, fine at start-up. */
		if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &pwp) != 0 ||
		    pwp == NULL)
			return NULL;
		home = pwp->pw_dir;
	}
	if (leaf == NULL) {
		if (asprintf(&path, "%s%s", home, env) < 0)
			return NULL;
	} else if (asprintf(&path, "%s/.aws/%s", home, leaf) < 0)
		return NULL;
	return path;
}

static void
ini_wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
aws_profile_free(struct aws_profile *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		ini_wipe_free(p->kv[i].key);
		ini_wipe_free(p->kv[i].value);
	}
	free(p->kv);
	free(p);
}

const char *
aws_profile_get(const struct aws_profile *p, const char *key)
{
	if (p == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (strcasecmp(p->kv[i].key, key) == 0)
			return p->kv[i].value;
	return NULL;
}

/* Sets key (already lower-cased) to value; later values win.  0 or -1. */
static int
ini_profile_set(struct aws_profile *p, const char *key, const char *value)
{
	struct aws_profile_kv *nkv;
	char *v;
	size_t ncap;

	if ((v = strdup(value)) == NULL)
		return -1;
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->kv[i].key, key) == 0) {
			ini_wipe_free(p->kv[i].value);
			p->kv[i].value = v;
			return 0;
		}
	}
	if (p->n == p->cap) {
		ncap = p->cap ? p->cap * 2 : 8;
		if ((nkv = reallocarray(p->kv, ncap, sizeof(*nkv))) == NULL) {
			free(v);
			return -1;
		}
		p->kv = nkv;
		p->cap = ncap;
	}
	if ((p->kv[p->n].key = strdup(key)) == NULL) {
		free(v);
		return -1;
	}
	p->kv[p->n++].value = v;
	return 0;
}

/* Reads a whole small file, NUL-terminated.  0, or -1 with errno set. */
static int
ini_read_file(const char *path, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (st.st_size > INI_MAX_FILE) {
		errno = EFBIG;
		goto fail;
	}
	/* One byte more than the size, so growth during the read shows. */
	if ((buf = malloc((size_t)st.st_size + 2)) == NULL)
		goto fail;
	while (len < (size_t)st.st_size + 1) {
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	saved = errno;
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	errno = saved;
	return -1;
}

static char *
ini_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Cuts a trailing " # comment" or " ; comment" (whitespace before it). */
static void
ini_cut_comment(char *s)
{
	for (char *p = s; *p != '\0'; p++) {
		if ((*p == '#' || *p == ';') && p > s &&
		    (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

/*
 * Does the section header text (inside the brackets, trimmed) name profile
 * `name` in a file of this kind?
 */
static int
ini_section_matches(
    const char *sect, enum aws_profile_file which, const char *name)
{
	if (which == AWS_PROFILE_CREDENTIALS)
		return strcmp(sect, name) == 0;
	if (strcmp(sect, "default") == 0)
		return strcmp(name, "default") == 0;
	if (strncmp(sect, "profile", 7) != 0 ||
	    (sect[7] != ' ' && sect[7] != '\t'))
		return 0;
	sect += 7;
	while (*sect == ' ' || *sect == '\t')
		sect++;
	return strcmp(sect, name) == 0;
}

/* Parses text (modified in place) into p.  Returns sections matched, or -1
 * when out of memory. */
static int
ini_parse(char *text, enum aws_profile_file which, const char *name,
    struct aws_profile *p)
{
	char *line, *next, *s, *eq, *end;
	int in_section = 0, matched = 0;

	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		s = ini_trim(line);
		/* Indented lines continue a nested property ("s3 =" blocks),
		 * which kinesisd does not read; an indented header is still a
		 * header. */
		if ((*line == ' ' || *line == '\t') && *s != '[')
			continue;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			if ((end = strchr(s, ']')) == NULL) {
				in_section = 0; /* malformed: skip its keys */
				continue;
			}
			*end = '\0';
			in_section =
			    ini_section_matches(ini_trim(s + 1), which, name);
			matched += in_section;
			continue;
		}
		if (!in_section || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		s = ini_trim(s);
		if (*s == '\0')
			continue;
		for (char *k = s; *k != '\0'; k++)
			*k = (char)tolower((unsigned char)*k);
		ini_cut_comment(eq + 1);
		if (ini_profile_set(p, s, ini_trim(eq + 1)) != 0)
			return -1;
	}
	return matched;
}

enum aws_profile_status
aws_profile_load(const char *path, enum aws_profile_file which,
    const char *name, struct aws_profile **out, char **cause)
{
	struct aws_profile *p = NULL;
	char *text = NULL;
	size_t len = 0;
	int matched;

	*out = NULL;
	if (cause != NULL)
		*cause = NULL;
	if (ini_read_file(path, &text, &len) != 0) {
		if (errno == ENOENT)
			return AWS_PROFILE_NO_FILE;
		if (cause != NULL &&
		    asprintf(cause, "%s: %s", path, strerror(errno)) < 0)
			*cause = NULL;
		return AWS_PROFILE_ERROR;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto oom;
	if ((matched = ini_parse(text, which, name, p)) < 0)
		goto oom;
	explicit_bzero(text, len);
	free(text);
	if (matched == 0) {
		aws_profile_free(p);
		return AWS_PROFILE_NO_PROFILE;
	}
	*out = p;
	return AWS_PROFILE_FOUND;
oom:
	explicit_bzero(text, len);
	free(text);
	aws_profile_free(p);
	if (cause != NULL)
		*cause = strdup("out of memory");
	return AWS_PROFILE_ERROR;
}
