/*
 * credentials_profile.c — the shared-files provider of the credentials
 * chain (credentials.c): the profile in use (AWS_PROFILE, else "default")
 * as the credentials file and the config file have it.
 *
 * Where a profile's credentials come from, as the AWS CLI and SDKs read
 * it (the SDKs' "assume role credential provider" and "process credential
 * provider" settings):
 *
 *   - role_arn: STS AssumeRole, signed with the credentials of the
 *     source_profile.  In the profile in use, role_arn wins over keys (the
 *     keys are there for another use, or the source profile is itself);
 *     in a source profile, keys win over role_arn, and role_arn there
 *     makes a chain of roles, up to FILES_MAX_ROLES, loops refused.
 *     credential_source (Environment, Ec2InstanceMetadata,
 *     EcsContainer) is not supported: an error says so;
 *   - aws_access_key_id / aws_secret_access_key / aws_session_token:
 *     static keys, the credentials file's winning over the config file's;
 *   - credential_process: a command whose standard output is the
 *     credentials as JSON (credentials_process.c runs it off the loop).
 *
 * So a run is: first credentials (static keys, or a process), then zero
 * or more AssumeRole calls, the innermost role first, each signed with
 * what the previous step gave.  The files are read anew at each run:
 * a refresh (credentials.c asks this provider again before its
 * credentials expire) re-runs the process and assumes the roles again.
 *
 * Messages name the profile, the file or command, what went wrong and,
 * where it helps, what to do.  Secrets never reach them: the command's
 * standard output is never logged, its standard error is, with any value
 * it also returned as a secret cut out.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include <cJSON.h>

#include "aws/aws.h"
#include "aws/credentials_int.h"
#include "log/log.h"

#define FILES_MAX_ROLES       5     /* roles chained by source_profile */
#define FILES_PROCESS_TIMEOUT 30000 /* ms a credential_process may run */
#define FILES_CMD_SHOWN       120   /* characters of a command shown */
#define FILES_ERR_LINES       20    /* stderr lines logged per run */
#define FILES_LINE_SHOWN      300   /* characters of a stderr line shown */

#define STS_CONNECT_TIMEOUT_MS 3000
#define STS_TIMEOUT_MS         10000

#define PROVIDER_FILES   "shared-files"
#define PROVIDER_PROCESS "credential-process"
#define PROVIDER_ROLE    "assume-role"

/* One profile as both files have it (either may lack it). */
struct files_view {
	char *path[2];            /* credentials file, config file */
	struct aws_profile *p[2]; /* NULL: not in that file */
	char why[2][300];         /* why not, per file */
};

struct files_role {
	char *profile; /* whose role_arn this is */
	char *arn;
	char *session;     /* NULL: kinesisd-<unix time> */
	char *external_id; /* NULL: none */
	long duration;     /* seconds; 0: STS's default */
};

/* A run of the provider (credentials_int.h: walk.files). */
struct creds_files {
	char *source;  /* the profile the first credentials come from */
	char *command; /* its credential_process; NULL: static keys in cur */
	struct files_role role[FILES_MAX_ROLES];
	int n_roles; /* role[n_roles - 1] is assumed first, role[0] last */
	int next;    /* the role to assume next; -1 when done */
	int have_cur;
	struct aws_creds cur; /* what the last step gave */
	struct aws_creds_proc *proc;
};

static void files_next(struct aws_credentials *);

/* ---- the files ------------------------------------------------------------
 */

static void
files_view_free(struct files_view *v)
{
	for (int i = 0; i < 2; i++) {
		aws_profile_free(v->p[i]);
		free(v->path[i]);
	}
	memset(v, 0, sizeof(*v));
}

/*
 * Reads profile name from both files.  1: in at least one; 0: in neither
 * (v->why says why, per file); -1: a file cannot be read (why).
 */
static int
files_view_load(struct files_view *v, const char *name, char *why, size_t len)
{
	static const enum aws_profile_file which[2] = {
	    AWS_PROFILE_CREDENTIALS, AWS_PROFILE_CONFIG};
	char *cause = NULL;
	int found = 0;

	memset(v, 0, sizeof(*v));
	for (int i = 0; i < 2; i++) {
		if ((v->path[i] = aws_profile_path(which[i])) == NULL) {
			snprintf(v->why[i], sizeof(v->why[i]),
			    "no HOME to find ~/.aws in");
			continue;
		}
		switch (aws_profile_load(
		    v->path[i], which[i], name, &v->p[i], &cause)) {
		case AWS_PROFILE_FOUND:
			found = 1;
			break;
		case AWS_PROFILE_NO_FILE:
			snprintf(v->why[i], sizeof(v->why[i]),
			    "%s: no such file", v->path[i]);
			break;
		case AWS_PROFILE_NO_PROFILE:
			snprintf(v->why[i], sizeof(v->why[i]),
			    "%s: no profile '%s'", v->path[i], name);
			break;
		case AWS_PROFILE_ERROR:
			snprintf(why, len, "%s",
			    cause != NULL ? cause : "out of memory");
			free(cause);
			return -1;
		}
	}
	return found;
}

/* A setting, the credentials file's first (borrowed from v). */
static const char *
files_get(const struct files_view *v, const char *key)
{
	const char *s;

	for (int i = 0; i < 2; i++)
		if ((s = aws_profile_get(v->p[i], key)) != NULL)
			return s;
	return NULL;
}

/* Which file (0, 1) has static keys for the profile, or -1. */
static int
files_keys_in(const struct files_view *v)
{
	for (int i = 0; i < 2; i++)
		if (aws_profile_get(v->p[i], "aws_access_key_id") != NULL ||
		    aws_profile_get(v->p[i], "aws_secret_access_key") != NULL)
			return i;
	return -1;
}

/* The static keys of the profile into cr: 0, or -1 with why. */
static int
files_keys(const struct files_view *v, const char *name, struct aws_creds *cr,
    char *why, size_t len)
{
	int i = files_keys_in(v);
	const char *akid, *secret, *e;

	akid = aws_profile_get(v->p[i], "aws_access_key_id");
	secret = aws_profile_get(v->p[i], "aws_secret_access_key");
	e = aws_creds_set(cr, akid != NULL ? akid : "",
	    secret != NULL ? secret : "",
	    aws_profile_get(v->p[i], "aws_session_token"), 0, PROVIDER_FILES);
	if (e == NULL)
		return 0;
	snprintf(why, len, "%s: profile '%s': %s", v->path[i], name, e);
	return -1;
}

/* ---- the plan ------------------------------------------------------------ */

static void
files_free(struct creds_files *f)
{
	if (f == NULL)
		return;
	aws_creds_proc_free(f->proc);
	aws_creds_clear(&f->cur);
	for (int i = 0; i < f->n_roles; i++) {
		free(f->role[i].profile);
		free(f->role[i].arn);
		free(f->role[i].session);
		/* The external id is a shared secret of sorts: wiped. */
		aws_creds_wipe_free(f->role[i].external_id);
	}
	free(f->source);
	free(f->command);
	free(f);
}

static char *
files_dup(const char *s, int *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = 1;
	return d;
}

/* Adds the role of profile name (set up in v) to f: 0, or -1 with why. */
static int
files_add_role(struct creds_files *f, const struct files_view *v,
    const char *name, char *why, size_t len)
{
	struct files_role *r = &f->role[f->n_roles];
	const char *d = files_get(v, "duration_seconds");
	char *end;
	int oom = 0;

	if (f->n_roles == FILES_MAX_ROLES) {
		snprintf(why, len,
		    "profile '%s': more than %d roles chained through "
		    "source_profile",
		    name, FILES_MAX_ROLES);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	if (d != NULL) {
		/* STS takes 900 s to 12 h, capped by the role's maximum. */
		r->duration = strtol(d, &end, 10);
		if (!isdigit((unsigned char)*d) || *end != '\0' ||
		    r->duration < 900 || r->duration > 43200) {
			snprintf(why, len,
			    "profile '%s': duration_seconds = %.40s: must be "
			    "seconds, from 900 to 43200",
			    name, d);
			return -1;
		}
	}
	r->profile = files_dup(name, &oom);
	r->arn = files_dup(files_get(v, "role_arn"), &oom);
	r->session = files_dup(files_get(v, "role_session_name"), &oom);
	r->external_id = files_dup(files_get(v, "external_id"), &oom);
	f->n_roles++; /* freed with f, even half made */
	if (oom) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	return 0;
}

/* For a profile with neither keys nor role: "path: profile 'x' uses
 * sso_session, which kinesisd does not support", or NULL. */
static const char *
files_unsupported(const struct files_view *v, int *file)
{
	static const char *const keys[] = {"sso_session", "sso_start_url",
	    "web_identity_token_file", "login_session", "credential_source"};

	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++)
		for (int i = 0; i < 2; i++)
			if (aws_profile_get(v->p[i], keys[k]) != NULL) {
				*file = i;
				return keys[k];
			}
	return NULL;
}

/*
 * The role settings of profile name (v), whose role_arn is to be used:
 * adds the role to f and says where its source credentials come from.
 * Returns 1 when the profile is its own source (keys into f->cur), 0 with
 * *src (borrowed from v) the source profile, or -1 with why.
 */
static int
files_role_source(struct creds_files *f, const struct files_view *v,
    const char *name, const char **src, char *why, size_t len)
{
	const char *cs = files_get(v, "credential_source");

	*src = files_get(v, "source_profile");
	if (files_get(v, "web_identity_token_file") != NULL) {
		snprintf(why, len,
		    "profile '%s' assumes its role with "
		    "web_identity_token_file, which kinesisd does not support "
		    "in a profile: set AWS_ROLE_ARN and "
		    "AWS_WEB_IDENTITY_TOKEN_FILE instead",
		    name);
		return -1;
	}
	if (files_get(v, "mfa_serial") != NULL) {
		snprintf(why, len,
		    "profile '%s' sets mfa_serial: a daemon cannot type an "
		    "MFA code; use a role that does not require MFA",
		    name);
		return -1;
	}
	if (*src != NULL && cs != NULL) {
		snprintf(why, len,
		    "profile '%s' sets both source_profile and "
		    "credential_source: keep one",
		    name);
		return -1;
	}
	if (cs != NULL) {
		snprintf(why, len,
		    "profile '%s': credential_source = %.40s is not supported "
		    "by kinesisd; use source_profile, or no profile at all "
		    "(the chain finds environment, container and instance "
		    "credentials itself)",
		    name, cs);
		return -1;
	}
	if (*src == NULL) {
		snprintf(why, len,
		    "profile '%s' has role_arn but no source_profile to "
		    "assume it with",
		    name);
		return -1;
	}
	if (files_add_role(f, v, name, why, len) != 0)
		return -1;
	if (strcmp(*src, name) != 0)
		return 0;
	/* Its own source: its keys, as the SDKs allow. */
	if (files_keys_in(v) < 0) {
		snprintf(why, len,
		    "profile '%s' is its own source_profile but has no keys",
		    name);
		return -1;
	}
	if (files_keys(v, name, &f->cur, why, len) != 0)
		return -1;
	f->have_cur = 1;
	return 1;
}

/*
 * Works out where the credentials of profile top come from, reading the
 * files of each profile on the way.  Returns 1 with *cr set (static keys
 * of top itself: nothing more to do); 2 with *out set (a run to make); 0
 * when top has no credentials (why; *configured when that deserves a
 * warning); -1 when the profiles are broken (why).
 */
static int
files_plan(const char *top, struct creds_files **out, struct aws_creds *cr,
    char *why, size_t len, int *configured)
{
	char *names[FILES_MAX_ROLES + 1];
	struct files_view v;
	struct creds_files *f;
	const char *name, *src, *cmd, *key;
	int n_names = 0, rc = -1, i;

	*out = NULL;
	memset(&v, 0, sizeof(v));
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (names[n_names++] = strdup(top)) == NULL) {
		snprintf(why, len, "out of memory");
		free(f);
		return -1;
	}
	for (int depth = 0;; depth++) {
		name = names[depth];
		files_view_free(&v);
		if ((i = files_view_load(&v, name, why, len)) < 0)
			goto done;
		if (i == 0 && depth == 0) {
			/* A profile named in AWS_PROFILE that exists nowhere
			 * is a mistake; a missing default is the usual. */
			snprintf(why, len, "%s; %s", v.why[0], v.why[1]);
			*configured = strcmp(top, "default") != 0;
			rc = 0;
			goto done;
		}
		if (i == 0) {
			snprintf(why, len,
			    "profile '%s': source_profile '%s' is in neither "
			    "%s nor %s",
			    names[depth - 1], name,
			    v.path[0] != NULL ? v.path[0]
			                      : "~/.aws/credentials",
			    v.path[1] != NULL ? v.path[1] : "~/.aws/config");
			goto done;
		}
		/* role_arn wins in the profile in use, keys in a source. */
		if (files_get(&v, "role_arn") != NULL &&
		    (depth == 0 || files_keys_in(&v) < 0)) {
			if ((i = files_role_source(
			         f, &v, name, &src, why, len)) < 0)
				goto done;
			if (i == 1)
				break;
			for (int k = 0; k < n_names; k++) {
				if (strcmp(names[k], src) != 0)
					continue;
				snprintf(why, len,
				    "profile '%s': source_profile '%s' makes "
				    "a loop",
				    name, src);
				goto done;
			}
			if (n_names == FILES_MAX_ROLES + 1) {
				snprintf(why, len,
				    "profile '%s': more than %d roles "
				    "chained through source_profile",
				    top, FILES_MAX_ROLES);
				goto done;
			}
			if ((names[n_names] = strdup(src)) == NULL) {
				snprintf(why, len, "out of memory");
				goto done;
			}
			n_names++;
			continue;
		}
		if (files_keys_in(&v) >= 0) {
			if (files_keys(&v, name, &f->cur, why, len) != 0)
				goto done;
			f->have_cur = 1;
			break;
		}
		if ((cmd = files_get(&v, "credential_process")) != NULL) {
			if ((f->command = strdup(cmd)) == NULL) {
				snprintf(why, len, "out of memory");
				goto done;
			}
			break;
		}
		key = files_unsupported(&v, &i);
		if (depth > 0) {
			snprintf(why, len,
			    "profile '%s': source_profile '%s' has no "
			    "credentials (no keys, no credential_process%s%s)",
			    names[depth - 1], name,
			    key != NULL ? "; it uses " : "",
			    key != NULL ? key : "");
			goto done;
		}
		if (key != NULL) {
			snprintf(why, len,
			    "%s: profile '%s' uses %s, which kinesisd does "
			    "not support",
			    v.path[i], name, key);
			*configured = 1;
		} else {
			/* As before this file learnt roles and processes:
			 * one reason per file. */
			char w[2][300];
			for (i = 0; i < 2; i++)
				if (v.p[i] != NULL)
					snprintf(w[i], sizeof(w[i]),
					    "%s: profile '%s' has no keys",
					    v.path[i], name);
				else
					snprintf(
					    w[i], sizeof(w[i]), "%s", v.why[i]);
			snprintf(why, len, "%s; %s", w[0], w[1]);
		}
		rc = 0;
		goto done;
	}
	/* The profile whose keys or process start the run. */
	if ((f->source = strdup(name)) == NULL) {
		snprintf(why, len, "out of memory");
		goto done;
	}
	f->next = f->n_roles - 1;
	if (f->command == NULL && f->n_roles == 0) {
		*cr = f->cur; /* plain keys, the common case */
		memset(&f->cur, 0, sizeof(f->cur));
		rc = 1;
		goto done;
	}
	*out = f;
	f = NULL;
	rc = 2;
done:
	files_view_free(&v);
	files_free(f);
	for (i = 0; i < n_names; i++)
		free(names[i]);
	return rc;
}

/* ---- running it ------------------------------------------------------------
 */

void
aws_creds_files_cancel(struct aws_credentials *c)
{
	files_free(c->walk.files);
	c->walk.files = NULL;
}

void
aws_credentials_set_process_timeout(struct aws_credentials *c, unsigned ms)
{
	c->process_timeout_ms = ms;
}

/* The run failed: why goes to the chain. */
static void __attribute__((format(printf, 2, 3)))
files_fail(struct aws_credentials *c, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	aws_creds_files_cancel(c);
	aws_creds_step_fail(c, 1, "%s", why);
}

/* A command as shown in messages: printable, cut short. */
static void
files_show_cmd(const char *cmd, char *buf, size_t len)
{
	size_t n = strlen(cmd);

	aws_creds_sanitize(
	    buf, len, cmd, n > FILES_CMD_SHOWN ? FILES_CMD_SHOWN : n);
	if (n > FILES_CMD_SHOWN && strlen(buf) + 4 < len)
		strcat(buf, "...");
}

/*
 * One line of the command's standard error made fit for the log: every
 * value it also returned as a secret cut out ("[redacted]"), then
 * printable and at most FILES_LINE_SHOWN characters.
 */
static void
files_fmt_line(const char *line, size_t n, const struct aws_creds *cr,
    char *out, size_t outlen)
{
	const char *secrets[2] = {cr->secret_access_key, cr->session_token};
	char *mark;
	size_t o = 0, slen;

	if ((mark = calloc(1, n + 1)) == NULL) {
		snprintf(out, outlen, "(out of memory)");
		return;
	}
	for (int s = 0; s < 2; s++) {
		if (secrets[s] == NULL || (slen = strlen(secrets[s])) == 0)
			continue;
		for (size_t i = 0; i + slen <= n; i++)
			if (memcmp(line + i, secrets[s], slen) == 0)
				memset(mark + i, 1, slen);
	}
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		if (mark[i]) {
			if (i == 0 || !mark[i - 1]) {
				if (o + 11 >= outlen)
					break;
				memcpy(out + o, "[redacted]", 10);
				o += 10;
			}
			continue;
		}
		if (o >= FILES_LINE_SHOWN) {
			if (o + 4 < outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		out[o++] = (unsigned char)line[i] < ' ' ||
		                   (unsigned char)line[i] >= 0x7f
		               ? '?'
		               : line[i];
	}
	out[o] = '\0';
	free(mark);
}

/*
 * Logs the command's standard error, line by line (a warning when the run
 * failed), and copies its last line into last (for the error message).
 */
static void
files_log_stderr(const char *profile, const char *err, size_t len,
    const struct aws_creds *cr, int failed, char *last, size_t lastlen)
{
	char line[FILES_LINE_SHOWN + 16];
	const char *p = err, *end = err + len, *nl;
	size_t n;
	int shown = 0, more = 0;

	last[0] = '\0';
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			files_fmt_line(p, n, cr, line, sizeof(line));
			snprintf(last, lastlen, "%s", line);
			if (shown < FILES_ERR_LINES) {
				log_msg(
				    failed ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
				    "aws",
				    "credentials: profile '%s': "
				    "credential_process: %s",
				    profile, line);
				shown++;
			} else
				more++;
		}
		p = nl + 1;
	}
	if (more > 0)
		log_msg(failed ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "aws",
		    "credentials: profile '%s': credential_process: (%d more "
		    "lines)",
		    profile, more);
}

/*
 * Credentials out of the command's output: {"Version": 1, "AccessKeyId",
 * "SecretAccessKey", "SessionToken"?, "Expiration"?}.  No Expiration: they
 * do not expire.  0, or -1 with why.
 */
static int
files_process_parse(const char *out, size_t len, const char *provider,
    struct aws_creds *cr, char *why, size_t whylen)
{
	const cJSON *ver, *tok, *exp;
	const char *e;
	time_t t = 0;
	char shown[48];
	cJSON *j;
	int rc = -1;

	memset(cr, 0, sizeof(*cr));
	if ((j = cJSON_ParseWithLength(out, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		snprintf(why, whylen,
		    len == 0 ? "it printed nothing"
		             : "its output is not a JSON object");
		goto done;
	}
	ver = cJSON_GetObjectItemCaseSensitive(j, "Version");
	tok = cJSON_GetObjectItemCaseSensitive(j, "SessionToken");
	exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
	if (!cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		snprintf(why, whylen, "its output has no \"Version\": 1");
		goto done;
	}
	if ((tok != NULL && !cJSON_IsString(tok) && !cJSON_IsNull(tok)) ||
	    (exp != NULL && !cJSON_IsString(exp) && !cJSON_IsNull(exp))) {
		snprintf(
		    why, whylen, "SessionToken or Expiration is not a string");
		goto done;
	}
	if (cJSON_IsString(exp) &&
	    aws_creds_parse_time(exp->valuestring, &t) != 0) {
		aws_creds_sanitize(
		    shown, sizeof(shown), exp->valuestring, sizeof(shown) - 1);
		snprintf(why, whylen,
		    "Expiration \"%s\" is not an RFC 3339 time", shown);
		goto done;
	}
	if (!cJSON_IsString(
	        cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId")) ||
	    !cJSON_IsString(
	        cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey"))) {
		snprintf(why, whylen,
		    "its output lacks AccessKeyId or SecretAccessKey");
		goto done;
	}
	e = aws_creds_set(cr,
	    cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId")->valuestring,
	    cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey")->valuestring,
	    cJSON_IsString(tok) ? tok->valuestring : NULL, t, provider);
	if (e != NULL) {
		snprintf(why, whylen, "%s", e);
		goto done;
	}
	rc = 0;
done:
	aws_creds_json_wipe(j);
	cJSON_Delete(j);
	return rc;
}

/* Fresh enough to be used: 0, or -1 with why. */
static int
files_check_expiry(struct aws_credentials *c, const struct aws_creds *cr,
    char *why, size_t len)
{
	char exp[32];

	if (cr->expiration == 0 || cr->expiration > aws_creds_now(c))
		return 0;
	aws_creds_fmt_time(cr->expiration, exp, sizeof(exp));
	snprintf(why, len, "credentials already expired (%s)", exp);
	return -1;
}

/* What a non-zero exit status says, the shell's conventions included. */
static void
files_exit_why(int st, char *why, size_t len)
{
	if (st == 127)
		snprintf(
		    why, len, "exited with status 127 (command not found?)");
	else if (st == 126)
		snprintf(why, len, "exited with status 126 (not executable?)");
	else if (st > 128 && st < 128 + 65)
		snprintf(why, len,
		    "exited with status %d (killed by signal %d?)", st,
		    st - 128);
	else
		snprintf(why, len, "exited with status %d", st);
}

static void
files_proc_cb(const struct aws_creds_proc_result *r, void *arg)
{
	struct aws_credentials *c = arg;
	struct creds_files *f = c->walk.files;
	struct aws_creds cr;
	char cmd[FILES_CMD_SHOWN + 8], why[300], bad[160];
	char last[FILES_LINE_SHOWN + 16];
	const char *provider =
	    f->n_roles > 0 ? PROVIDER_ROLE : PROVIDER_PROCESS;
	int failed = 1;

	memset(&cr, 0, sizeof(cr));
	files_show_cmd(f->command, cmd, sizeof(cmd));
	if (r->error != NULL)
		snprintf(why, sizeof(why), "%s", r->error);
	else if (WIFSIGNALED(r->status))
		snprintf(why, sizeof(why), "was killed by signal %d",
		    WTERMSIG(r->status));
	else if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
		files_exit_why(WEXITSTATUS(r->status), why, sizeof(why));
	else if (files_process_parse(
	             r->out, r->out_len, provider, &cr, bad, sizeof(bad)) == 0)
		failed = 0;
	else
		snprintf(why, sizeof(why),
		    "printed no usable credentials (%s); it must print "
		    "{\"Version\": 1, \"AccessKeyId\": ..., "
		    "\"SecretAccessKey\": ...} on standard output",
		    bad);
	/* With the credentials known, stderr can be cleaned of them. */
	files_log_stderr(
	    f->source, r->err, r->err_len, &cr, failed, last, sizeof(last));
	aws_creds_proc_free(f->proc);
	f->proc = NULL; /* r is gone now */
	if (failed) {
		files_fail(c,
		    "profile '%s': credential_process `%s` %s%s%.120s; run it "
		    "by hand, as the user kinesisd runs as, to see why",
		    f->source, cmd, why, last[0] != '\0' ? ": " : "", last);
		return;
	}
	if (files_check_expiry(c, &cr, why, sizeof(why)) != 0) {
		aws_creds_clear(&cr);
		files_fail(c, "profile '%s': credential_process `%s`: %s",
		    f->source, cmd, why);
		return;
	}
	f->cur = cr;
	f->have_cur = 1;
	files_next(c);
}

static void
files_run_process(struct aws_credentials *c)
{
	struct creds_files *f = c->walk.files;
	unsigned ms = c->process_timeout_ms != 0 ? c->process_timeout_ms
	                                         : FILES_PROCESS_TIMEOUT;
	char cmd[FILES_CMD_SHOWN + 8];
	const char *cause;

	files_show_cmd(f->command, cmd, sizeof(cmd));
	log_debug(
	    "aws", "credentials: profile '%s': running `%s`", f->source, cmd);
	if ((f->proc = aws_creds_proc_start(
	         c->base, f->command, ms, files_proc_cb, c, &cause)) == NULL)
		files_fail(c, "profile '%s': credential_process `%s`: %s",
		    f->source, cmd, cause);
}

/*
 * Splits the STS URL into the Host header (without the scheme's default
 * port, as botocore signs it) and the path.  0, or -1 when it is not an
 * http(s) URL with a host.
 */
static int
files_split_url(
    const char *url, char *host, size_t hlen, char *path, size_t plen)
{
	const char *a, *end, *colon;
	size_t n;
	int https;

	if (strncasecmp(url, "http://", 7) == 0)
		https = 0, a = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		https = 1, a = url + 8;
	else
		return -1;
	end = a + strcspn(a, "/?#");
	if (end == a || memchr(a, '@', (size_t)(end - a)) != NULL ||
	    strpbrk(end, "?#") != NULL)
		return -1;
	n = (size_t)(end - a);
	colon = memrchr(a, ':', n);
	if (colon != NULL &&
	    memchr(colon, ']', (size_t)(end - colon)) == NULL &&
	    ((!https && end - colon == 3 && memcmp(colon, ":80", 3) == 0) ||
	        (https && end - colon == 4 && memcmp(colon, ":443", 4) == 0)))
		n = (size_t)(colon - a);
	if (n >= hlen)
		return -1;
	memcpy(host, a, n);
	host[n] = '\0';
	snprintf(path, plen, "%s", *end == '/' ? end : "/");
	return 0;
}

static void
files_sts_cb(const struct aws_http_response *r, void *arg)
{
	struct aws_credentials *c = arg;
	struct creds_files *f = c->walk.files;
	struct files_role *role = &f->role[f->next];
	char err[400], exp[32], shown[9];
	struct aws_creds cr;
	const char *why;

	c->walk.call = NULL;
	if (r->status != 200) {
		aws_creds_sts_error(r, err, sizeof(err));
		files_fail(c,
		    "profile '%s': AssumeRole %s with the credentials "
		    "of profile '%s': %s",
		    role->profile, role->arn,
		    f->next + 1 < f->n_roles ? f->role[f->next + 1].profile
		                             : f->source,
		    err);
		return;
	}
	if ((why = aws_creds_from_sts(
	         r->body, r->body_len, PROVIDER_ROLE, &cr)) != NULL ||
	    files_check_expiry(c, &cr, err, sizeof(err)) != 0) {
		aws_creds_clear(&cr);
		files_fail(c, "profile '%s': AssumeRole %s: %s", role->profile,
		    role->arn, why != NULL ? why : err);
		return;
	}
	aws_creds_fmt_time(cr.expiration, exp, sizeof(exp));
	snprintf(shown, sizeof(shown), "%s", cr.access_key_id);
	log_debug("aws",
	    "credentials: profile '%s': assumed %s (key id %s...), expire %s",
	    role->profile, role->arn, shown, exp);
	aws_creds_clear(&f->cur);
	f->cur = cr;
	f->next--;
	files_next(c);
}

/* STS AssumeRole for f->role[f->next], signed with f->cur. */
static void
files_assume(struct aws_credentials *c)
{
	struct creds_files *f = c->walk.files;
	struct files_role *role = &f->role[f->next];
	const char *session = role->session, *token = f->cur.session_token;
	char url[512], region[AWS_REGION_MAX], host[256], path[256];
	char sess[64], dur[16], amzdate[17], *body, *auth = NULL;
	struct aws_header h[5];
	struct aws_sigv4_request sreq;
	struct aws_http_request req;
	time_t now = time(NULL);
	size_t cap, o = 0, n = 0;

	aws_creds_sts_endpoint(c, url, sizeof(url), region);
	if (files_split_url(url, host, sizeof(host), path, sizeof(path)) != 0) {
		files_fail(
		    c, "the STS endpoint %.200s is not an http(s) URL", url);
		return;
	}
	if (session == NULL) {
		snprintf(sess, sizeof(sess), "kinesisd-%lld",
		    (long long)aws_creds_now(c));
		session = sess;
	}
	cap =
	    256 + 3 * (strlen(role->arn) + strlen(session) +
	                  (role->external_id != NULL ? strlen(role->external_id)
	                                             : 0));
	if ((body = malloc(cap)) == NULL) {
		files_fail(c, "out of memory");
		return;
	}
	body[0] = '\0';
	aws_creds_form_add(body, &o, "Action", "AssumeRole");
	aws_creds_form_add(body, &o, "Version", "2011-06-15");
	aws_creds_form_add(body, &o, "RoleArn", role->arn);
	aws_creds_form_add(body, &o, "RoleSessionName", session);
	if (role->duration != 0) {
		snprintf(dur, sizeof(dur), "%ld", role->duration);
		aws_creds_form_add(body, &o, "DurationSeconds", dur);
	}
	if (role->external_id != NULL)
		aws_creds_form_add(body, &o, "ExternalId", role->external_id);

	aws_sigv4_amzdate(now, amzdate);
	h[n++] = (struct aws_header){"Host", host};
	h[n++] = (struct aws_header){
	    "Content-Type", "application/x-www-form-urlencoded; charset=utf-8"};
	h[n++] = (struct aws_header){"X-Amz-Date", amzdate};
	if (token != NULL && *token != '\0')
		h[n++] = (struct aws_header){"X-Amz-Security-Token", token};
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = "POST";
	sreq.path = path;
	sreq.headers = h;
	sreq.n_headers = n;
	sreq.payload = body;
	sreq.payload_len = o;
	sreq.region = region;
	sreq.service = "sts";
	sreq.now = now;
	if (aws_sigv4_sign(&sreq, &f->cur, NULL, &auth) != 0) {
		explicit_bzero(body, o);
		free(body);
		files_fail(c, "cannot sign the AssumeRole request");
		return;
	}
	h[n++] = (struct aws_header){"Authorization", auth};
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = h;
	req.n_headers = n;
	req.body = body;
	req.body_len = o;
	req.connect_timeout_ms = STS_CONNECT_TIMEOUT_MS;
	req.timeout_ms = STS_TIMEOUT_MS;
	c->walk.call = aws_http_send(c->http, &req, files_sts_cb, c);
	explicit_bzero(body, o);
	free(body);
	explicit_bzero(auth, strlen(auth));
	free(auth);
	if (c->walk.call == NULL) {
		files_fail(c,
		    "profile '%s': cannot start the AssumeRole request",
		    role->profile);
		return;
	}
	log_debug("aws",
	    "credentials: profile '%s': AssumeRole %s at %s (region %s)",
	    role->profile, role->arn, url, region);
}

/* The next step of the run, or its answer. */
static void
files_next(struct aws_credentials *c)
{
	struct creds_files *f = c->walk.files;
	struct aws_creds cr;

	if (!f->have_cur) {
		files_run_process(c);
		return;
	}
	if (f->next >= 0) {
		files_assume(c);
		return;
	}
	cr = f->cur;
	memset(&f->cur, 0, sizeof(f->cur));
	aws_creds_files_cancel(c);
	aws_creds_step_ok(c, &cr);
}

void
aws_creds_files_start(struct aws_credentials *c)
{
	const char *profile = aws_profile_name();
	struct creds_files *f = NULL;
	struct aws_creds cr;
	char why[700];
	int configured = 0;

	aws_creds_files_cancel(c);
	switch (files_plan(profile, &f, &cr, why, sizeof(why), &configured)) {
	case 1:
		aws_creds_step_ok(c, &cr);
		break;
	case 2:
		c->walk.files = f;
		files_next(c);
		break;
	case 0:
		aws_creds_step_fail(c, configured, "%s", why);
		break;
	default:
		aws_creds_step_fail(c, 1, "%s", why);
		break;
	}
}
