/*
 * credentials_int.h — private to aws/: what the credentials chain
 * (credentials.c) shares with its remote providers (credentials_remote.c),
 * the shared-files provider (credentials_profile.c) and the runner of
 * credential_process commands (credentials_process.c).  Nothing outside
 * aws/credentials*.c includes this, but for the unit test's hooks.
 */
#ifndef KD_AWS_CREDENTIALS_INT_H
#define KD_AWS_CREDENTIALS_INT_H

#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "aws/aws.h"

enum creds_state {
	CREDS_EMPTY,
	CREDS_RESOLVING,
	CREDS_READY,
	CREDS_REFRESHING,
	CREDS_FAILED,
};

struct creds_waiter {
	aws_credentials_cb cb;
	void *arg;
	TAILQ_ENTRY(creds_waiter) entry;
};
TAILQ_HEAD(creds_waiters, creds_waiter);

struct creds_files;

/* One run over [idx, last] of the chain. */
struct creds_walk {
	int idx;
	int last;
	int pending;  /* the provider at idx has not answered yet */
	int in_start; /* inside its start function */
	struct aws_http_call *call; /* a remote provider's request */
	struct creds_files *files;  /* the shared-files provider's run */
	struct aws_creds result;    /* what the provider at idx found */
	int have_result;
	char reasons[2048];  /* "provider: why; ..." */
	char failures[1024]; /* the same, for configured providers only */
};

struct aws_credentials {
	struct event_base *base;
	struct aws_http *http;
	struct aws_imds *imds;
	time_t (*clock)(void *);
	void *clock_arg;
	char region[AWS_REGION_MAX]; /* for the STS endpoint; "" unknown */
	unsigned process_timeout_ms; /* credential_process; 0: default */

	enum creds_state state;
	struct aws_creds creds; /* valid in READY and REFRESHING */
	int provider;           /* chain index that gave creds, or -1 */
	time_t refresh_at;      /* 0: never */
	time_t stale_at;        /* 0: never */
	char *error;            /* why the last full walk failed */
	int warned;             /* "no credentials" logged this episode */
	int refresh_warned;     /* "refresh failed" logged this episode */

	struct creds_walk walk;
	struct creds_waiters waiters;
	struct creds_waiters answering; /* being called back right now */
	struct event *answer_ev;
	struct event *refresh_ev;
};

/* credentials.c */
time_t aws_creds_now(const struct aws_credentials *);
/* getenv(), with "" read as unset. */
const char *aws_creds_env(const char *name);
void aws_creds_wipe_free(char *);
/* Wipes every string of a parsed reply (the caller still deletes it). */
void aws_creds_json_wipe(cJSON *);
/* Wipes and frees the strings of cr, and zeroes it. */
void aws_creds_clear(struct aws_creds *cr);
/*
 * Fills cr with copies of borrowed strings; token may be NULL or "".
 * Returns NULL, or why the values cannot be used (a static string).
 */
const char *aws_creds_set(struct aws_creds *cr, const char *akid,
    const char *secret, const char *token, time_t expiration,
    const char *provider);
void aws_creds_fmt_time(time_t, char *buf, size_t len);

/*
 * The provider being asked answers, from its start function or later from
 * the loop: with credentials (cr's strings taken over) ...
 */
void aws_creds_step_ok(struct aws_credentials *, struct aws_creds *cr);
/*
 * ... or with why it has none.  configured: the provider was set up
 * (variables or files present) and still failed, which deserves a warning
 * even when a later provider succeeds.  why must hold no secret.
 */
void aws_creds_step_fail(struct aws_credentials *, int configured,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* credentials_remote.c: the providers that make HTTP calls. */
void aws_creds_webid_start(struct aws_credentials *);
void aws_creds_container_start(struct aws_credentials *);
void aws_creds_imds_start(struct aws_credentials *);

/* ... and what they share with the shared-files provider. */
/* Peer text fit for a log line: printable, at most n bytes of src. */
void aws_creds_sanitize(char *dst, size_t dstlen, const char *src, size_t n);
/* RFC 3339 time ("2024-05-01T12:00:00Z", fractions, offsets): 0 or -1. */
int aws_creds_parse_time(const char *s, time_t *out);
/* Credentials out of an STS AssumeRole* reply.  NULL or why (static). */
const char *aws_creds_from_sts(
    const char *xml, size_t len, const char *provider, struct aws_creds *cr);
/* Why an STS call did not answer 200: "STS: HTTP 403 Code: message". */
void aws_creds_sts_error(
    const struct aws_http_response *, char *buf, size_t len);
/* The STS endpoint URL (ending in '/'), and the region to sign for. */
void aws_creds_sts_endpoint(struct aws_credentials *, char *url, size_t len,
    char region[AWS_REGION_MAX]);
/* Appends "&name=value" to out[*o], form-urlencoded; out has room for
 * 3 * strlen(v) + strlen(name) + 3 more bytes. */
void aws_creds_form_add(char *out, size_t *o, const char *name, const char *v);

/* credentials_profile.c: the shared-files provider (static keys,
 * credential_process, assume-role profiles). */
void aws_creds_files_start(struct aws_credentials *);
/* Stops its run (a child process, the state of a role chain); the chain's
 * HTTP call is cancelled by the caller. */
void aws_creds_files_cancel(struct aws_credentials *);
/*
 * Test hook: how long a credential_process may run before it is killed
 * (0: the default, 30 s).  Not a configuration key: the SDKs have none.
 */
void aws_credentials_set_process_timeout(struct aws_credentials *, unsigned ms);

/* credentials_process.c: runs a command off the loop. */
struct aws_creds_proc;
struct aws_creds_proc_result {
	/* NULL: the command ran and exited (see status); else why it did not
	 * (it could not start, it timed out and was killed, its output was
	 * too large), with status -1. */
	const char *error;
	int status; /* as from waitpid() */
	/* Standard output (NUL-terminated; may hold secrets: wiped after the
	 * callback) and the first bytes of standard error; borrowed. */
	const char *out;
	size_t out_len;
	const char *err;
	size_t err_len;
};
typedef void (*aws_creds_proc_cb)(
    const struct aws_creds_proc_result *, void *arg);
/*
 * Runs "/bin/sh -c command" in a process group of its own, with standard
 * input from /dev/null, and reads its output from the loop.  cb runs
 * exactly once, from the loop, unless the run is freed first; the caller
 * frees it (from the callback or later).  NULL (with *cause, static) when
 * it cannot start.
 */
struct aws_creds_proc *aws_creds_proc_start(struct event_base *,
    const char *command, unsigned timeout_ms, aws_creds_proc_cb, void *arg,
    const char **cause);
/* Kills the process group if still running; no callback after this. */
void aws_creds_proc_free(struct aws_creds_proc *);

#endif
