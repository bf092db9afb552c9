/*
 * credentials_int.h — private to aws/: what the credentials chain
 * (credentials.c) shares with its remote providers (credentials_remote.c).
 * Nothing outside aws/credentials*.c includes this.
 */
#ifndef KD_AWS_CREDENTIALS_INT_H
#define KD_AWS_CREDENTIALS_INT_H

#include <sys/queue.h>
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

/* One run over [idx, last] of the chain. */
struct creds_walk {
	int idx;
	int last;
	int pending;  /* the provider at idx has not answered yet */
	int in_start; /* inside its start function */
	struct aws_http_call *call; /* a remote provider's request */
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

#endif
