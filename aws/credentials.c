/*
 * credentials.c — the default credentials chain (SPEC section 2, aws.h).
 *
 * Providers are tried in the AWS SDKs' order: environment, web identity
 * (STS AssumeRoleWithWebIdentity), shared files (profile), container
 * (ECS/EKS), EC2 IMDSv2.  As in the Java SDK's default chain, a provider
 * that fails hands over to the next; each says why, and when none yields
 * credentials the reasons make up one warning.  The environment lives
 * here; the shared files (static keys, credential_process, assume-role
 * profiles) in credentials_profile.c; the ones that make HTTP calls in
 * credentials_remote.c.
 *
 * Lifecycle of the cache (one state machine, creds_set_state()):
 *
 *   EMPTY --get--> RESOLVING --ok--> READY --refresh timer--> REFRESHING
 *                      |               ^                          |
 *                      +--fail--> FAILED         READY <--ok/fail-+
 *
 * RESOLVING walks the whole chain; REFRESHING asks only the provider that
 * gave the current credentials, while those stay in use.  Gets that find
 * no usable credentials wait in a queue; the queue is answered from the
 * loop (an event), never from inside aws_credentials_get().
 *
 * Timing of temporary credentials, L being their lifetime when fetched:
 * refreshed in the background min(5 min, L/2) before they expire; no
 * longer handed out min(1 min, L/4) before they expire, so that a request
 * signed with them does not reach AWS after the fact.  A failed refresh is
 * retried while the old ones remain usable.
 *
 * Secrets (secret keys, session tokens, the web identity and container
 * authorization tokens) are never logged and are wiped before being freed.
 * Logs name the provider and at most the first characters of the key id.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "aws/credentials_int.h"
#include "log/log.h"

#define CREDS_REFRESH_BEFORE 300 /* s, at most */
#define CREDS_STALE_BEFORE   60  /* s, at most */
#define CREDS_RETRY_MAX      60  /* s between refresh attempts, at most */
#define CREDS_KEYID_SHOWN    8   /* leading characters of a key id in logs */

static const char *const creds_state_names[] = {
    "empty",
    "resolving",
    "ready",
    "refreshing",
    "failed",
};

struct creds_provider {
	const char *name;
	void (*start)(struct aws_credentials *);
};

static void creds_env_start(struct aws_credentials *);

static const struct creds_provider creds_chain[] = {
    {"environment", creds_env_start},
    {"web-identity", aws_creds_webid_start},
    {"shared-files", aws_creds_files_start},
    {"container", aws_creds_container_start},
    {"imds", aws_creds_imds_start},
};
#define CREDS_NPROVIDERS ((int)(sizeof(creds_chain) / sizeof(*creds_chain)))

static void creds_walk_run(struct aws_credentials *);
static void creds_walk_start(struct aws_credentials *, int first, int last);

/* ---- small helpers ------------------------------------------------------ */

time_t
aws_creds_now(const struct aws_credentials *c)
{
	return c->clock != NULL ? c->clock(c->clock_arg) : time(NULL);
}

const char *
aws_creds_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

void
aws_creds_wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
aws_creds_json_wipe(cJSON *j)
{
	for (; j != NULL; j = j->next) {
		if (j->valuestring != NULL)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		aws_creds_json_wipe(j->child);
	}
}

void
aws_creds_clear(struct aws_creds *cr)
{
	aws_creds_wipe_free(cr->access_key_id);
	aws_creds_wipe_free(cr->secret_access_key);
	aws_creds_wipe_free(cr->session_token);
	memset(cr, 0, sizeof(*cr));
}

/* A value bound for an HTTP header or a signature: printable, no spaces. */
static int
creds_token_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/*
 * Fills cr from borrowed strings.  token may be NULL or "".  Returns NULL,
 * or why the values cannot be used (a static string).
 */
const char *
aws_creds_set(struct aws_creds *cr, const char *akid, const char *secret,
    const char *token, time_t expiration, const char *provider)
{
	memset(cr, 0, sizeof(*cr));
	if (!creds_token_ok(akid) || !creds_token_ok(secret))
		return "empty or malformed access key id or secret key";
	if (token != NULL && *token != '\0' && !creds_token_ok(token))
		return "malformed session token";
	cr->access_key_id = strdup(akid);
	cr->secret_access_key = strdup(secret);
	if (token != NULL && *token != '\0')
		cr->session_token = strdup(token);
	if (cr->access_key_id == NULL || cr->secret_access_key == NULL ||
	    (token != NULL && *token != '\0' && cr->session_token == NULL)) {
		aws_creds_clear(cr);
		return "out of memory";
	}
	cr->expiration = expiration;
	cr->provider = provider;
	return NULL;
}

/* Text from a peer, made fit for a log line: printable, at most n bytes. */
void
aws_creds_fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
/* ---- state, waiters, timers --------------------------------------------- */

static void
creds_set_state(struct aws_credentials *c, enum creds_state st)
{
	if (c->state == st)
		return;
	log_debug("aws", "credentials: %s -> %s", creds_state_names[c->state],
	    creds_state_names[st]);
	c->state = st;
}

static int
creds_usable(const struct aws_credentials *c)
{
	if (c->state != CREDS_READY && c->state != CREDS_REFRESHING)
		return 0;
	return c->stale_at == 0 || aws_creds_now(c) < c->stale_at;
}

const struct aws_creds *
aws_credentials_peek(struct aws_credentials *c)
{
	return c != NULL && creds_usable(c) ? &c->creds : NULL;
}

static void
creds_answer(struct aws_credentials *c)
{
	if (!TAILQ_EMPTY(&c->waiters))
		event_active(c->answer_ev, EV_TIMEOUT, 0);
}

/*
 * Queued gets need a run: starts a full walk unless one is under way (or
 * answers them, should usable credentials be cached after all).
 */
static void
creds_kick(struct aws_credentials *c)
{
	if (TAILQ_EMPTY(&c->waiters) || c->state == CREDS_RESOLVING ||
	    c->state == CREDS_REFRESHING)
		return;
	if (creds_usable(c)) {
		creds_answer(c);
		return;
	}
	/* Stale credentials, no refresh under way: start over. */
	aws_creds_clear(&c->creds);
	evtimer_del(c->refresh_ev);
	creds_set_state(c, CREDS_RESOLVING);
	creds_walk_start(c, 0, CREDS_NPROVIDERS - 1);
}

static void
creds_answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_credentials *c = arg;
	struct creds_waiter *w;

	(void)fd;
	(void)what;
	/* A callback may get again (queued anew) or cancel a waiter that is
	 * still in this batch (removed from it): walk the batch by popping. */
	TAILQ_CONCAT(&c->answering, &c->waiters, entry);
	while ((w = TAILQ_FIRST(&c->answering)) != NULL) {
		TAILQ_REMOVE(&c->answering, w, entry);
		if (creds_usable(c))
			w->cb(&c->creds, NULL, w->arg);
		else if (c->state == CREDS_FAILED)
			w->cb(NULL,
			    c->error != NULL ? c->error : "no credentials",
			    w->arg);
		else {
			/* A callback reset the cache, or started a new run:
			 * this one waits for the next answer. */
			TAILQ_INSERT_TAIL(&c->waiters, w, entry);
			continue;
		}
		free(w);
	}
	creds_kick(c);
}

static void
creds_schedule(struct aws_credentials *c, time_t at)
{
	struct timeval tv = {0, 0};
	time_t now = aws_creds_now(c);

	if (at > now)
		tv.tv_sec = at - now;
	evtimer_add(c->refresh_ev, &tv);
}

/* ---- the walk ------------------------------------------------------------ */

static void
creds_walk_cancel(struct aws_credentials *c)
{
	aws_http_cancel(c->walk.call);
	c->walk.call = NULL;
	aws_creds_files_cancel(c);
	aws_imds_cancel(c->imds);
	aws_creds_clear(&c->walk.result);
	c->walk.have_result = 0;
	c->walk.pending = 0;
}

static void
creds_walk_start(struct aws_credentials *c, int first, int last)
{
	creds_walk_cancel(c);
	c->walk.idx = first;
	c->walk.last = last;
	c->walk.reasons[0] = '\0';
	c->walk.failures[0] = '\0';
	creds_walk_run(c);
}

static void
creds_append(char *buf, size_t len, const char *name, const char *why)
{
	size_t n = strlen(buf);

	if (n + 4 < len)
		snprintf(
		    buf + n, len - n, "%s%s: %s", n > 0 ? "; " : "", name, why);
}

/* Records the answer of the provider at walk.idx, and moves on unless it
 * answered from inside its start function (creds_walk_run() carries on). */
static void
creds_step_end(struct aws_credentials *c)
{
	c->walk.call = NULL;
	c->walk.pending = 0;
	if (c->walk.in_start)
		return;
	if (!c->walk.have_result)
		c->walk.idx++;
	creds_walk_run(c);
}

void
aws_creds_step_ok(struct aws_credentials *c, struct aws_creds *cr)
{
	c->walk.result = *cr;
	memset(cr, 0, sizeof(*cr));
	c->walk.have_result = 1;
	creds_step_end(c);
}

void
aws_creds_step_fail(
    struct aws_credentials *c, int configured, const char *fmt, ...)
{
	const char *name = creds_chain[c->walk.idx].name;
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	creds_append(c->walk.reasons, sizeof(c->walk.reasons), name, why);
	if (configured)
		creds_append(
		    c->walk.failures, sizeof(c->walk.failures), name, why);
	log_debug("aws", "credentials: %s: %s", name, why);
	creds_step_end(c);
}

static void creds_walk_finish(struct aws_credentials *);

static void
creds_walk_run(struct aws_credentials *c)
{
	while (!c->walk.have_result && c->walk.idx <= c->walk.last) {
		c->walk.pending = 1;
		c->walk.in_start = 1;
		creds_chain[c->walk.idx].start(c);
		c->walk.in_start = 0;
		if (c->walk.pending)
			return; /* asynchronous: it answers later */
		if (!c->walk.have_result)
			c->walk.idx++;
	}
	creds_walk_finish(c);
}

static void
creds_adopt(struct aws_credentials *c)
{
	time_t now = aws_creds_now(c), life, before;
	char exp[32], shown[CREDS_KEYID_SHOWN + 1];
	int refresh = c->state == CREDS_REFRESHING;
	int same = c->provider == c->walk.idx;

	aws_creds_clear(&c->creds);
	c->creds = c->walk.result;
	memset(&c->walk.result, 0, sizeof(c->walk.result));
	c->walk.have_result = 0;
	c->provider = c->walk.idx;
	c->refresh_at = c->stale_at = 0;
	evtimer_del(c->refresh_ev);
	if (c->creds.expiration != 0) {
		life = c->creds.expiration - now;
		before = life / 2 < CREDS_REFRESH_BEFORE ? life / 2
		                                         : CREDS_REFRESH_BEFORE;
		c->refresh_at = c->creds.expiration - before;
		before = life / 4 < CREDS_STALE_BEFORE ? life / 4
		                                       : CREDS_STALE_BEFORE;
		c->stale_at = c->creds.expiration - before;
		creds_schedule(c, c->refresh_at);
	}
	free(c->error);
	c->error = NULL;
	c->warned = 0;
	c->refresh_warned = 0;
	creds_set_state(c, CREDS_READY);

	aws_creds_fmt_time(c->creds.expiration, exp, sizeof(exp));
	snprintf(shown, sizeof(shown), "%s", c->creds.access_key_id);
	if (c->walk.failures[0] != '\0')
		log_warnx("aws", "credentials: %s; using %s instead",
		    c->walk.failures, c->creds.provider);
	if (refresh && same)
		log_debug("aws",
		    "credentials: refreshed from %s (key id %s...), "
		    "expire %s",
		    c->creds.provider, shown, exp);
	else
		log_info("aws",
		    "credentials: using %s (key id %s...), expire %s",
		    c->creds.provider, shown, exp);
}

static void
creds_walk_finish(struct aws_credentials *c)
{
	int was_refresh = c->state == CREDS_REFRESHING;
	time_t now, retry;
	char exp[32];

	if (c->walk.have_result) {
		creds_adopt(c);
		creds_answer(c);
		return;
	}
	if (was_refresh) {
		/* Keep the current credentials while they last. */
		creds_set_state(c, CREDS_READY);
		if (creds_usable(c)) {
			now = aws_creds_now(c);
			retry = (c->stale_at - now) / 3;
			retry = retry < 1                 ? 1
			        : retry > CREDS_RETRY_MAX ? CREDS_RETRY_MAX
			                                  : retry;
			aws_creds_fmt_time(
			    c->creds.expiration, exp, sizeof(exp));
			if (!c->refresh_warned)
				log_warnx("aws",
				    "credentials: refresh failed (%s); the "
				    "current ones expire %s, retrying",
				    c->walk.reasons, exp);
			else
				log_debug("aws",
				    "credentials: refresh failed (%s)",
				    c->walk.reasons);
			c->refresh_warned = 1;
			creds_schedule(c, now + retry);
			creds_answer(c);
			return;
		}
		/* Stale now: start over with the whole chain. */
		log_warnx("aws",
		    "credentials from %s are about to expire and could not "
		    "be refreshed (%s); trying the whole chain",
		    c->creds.provider, c->walk.reasons);
		aws_creds_clear(&c->creds);
		evtimer_del(c->refresh_ev);
		creds_set_state(c, CREDS_RESOLVING);
		creds_walk_start(c, 0, CREDS_NPROVIDERS - 1);
		return;
	}
	free(c->error);
	if (asprintf(&c->error, "no AWS credentials: %s", c->walk.reasons) < 0)
		c->error = NULL;
	if (!c->warned)
		log_warnx("aws", "%s",
		    c->error != NULL ? c->error : "no AWS credentials");
	else
		log_debug("aws", "%s",
		    c->error != NULL ? c->error : "no AWS credentials");
	c->warned = 1;
	creds_set_state(c, CREDS_FAILED);
	creds_answer(c);
}

static void
creds_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_credentials *c = arg;

	(void)fd;
	(void)what;
	if (c->state != CREDS_READY)
		return;
	if (creds_usable(c)) {
		creds_set_state(c, CREDS_REFRESHING);
		creds_walk_start(c, c->provider, c->provider);
		return;
	}
	/* Expired before a refresh succeeded. */
	aws_creds_clear(&c->creds);
	creds_set_state(c, CREDS_RESOLVING);
	creds_walk_start(c, 0, CREDS_NPROVIDERS - 1);
}

/* ---- public API ---------------------------------------------------------- */

struct aws_credentials *
aws_credentials_new(struct event_base *base, struct aws_http *http)
{
	struct aws_credentials *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = base;
	c->http = http;
	c->provider = -1;
	TAILQ_INIT(&c->waiters);
	TAILQ_INIT(&c->answering);
	if ((c->imds = aws_imds_new(http)) == NULL ||
	    (c->answer_ev = event_new(base, -1, 0, creds_answer_cb, c)) ==
	        NULL ||
	    (c->refresh_ev = evtimer_new(base, creds_refresh_cb, c)) == NULL) {
		aws_credentials_free(c);
		return NULL;
	}
	return c;
}

void
aws_credentials_free(struct aws_credentials *c)
{
	struct creds_waiter *w;

	if (c == NULL)
		return;
	creds_walk_cancel(c);
	aws_imds_free(c->imds);
	if (c->answer_ev != NULL)
		event_free(c->answer_ev);
	if (c->refresh_ev != NULL)
		event_free(c->refresh_ev);
	while ((w = TAILQ_FIRST(&c->waiters)) != NULL) {
		TAILQ_REMOVE(&c->waiters, w, entry);
		free(w);
	}
	while ((w = TAILQ_FIRST(&c->answering)) != NULL) {
		TAILQ_REMOVE(&c->answering, w, entry);
		free(w);
	}
	aws_creds_clear(&c->creds);
	free(c->error);
	free(c);
}

void
aws_credentials_set_clock(
    struct aws_credentials *c, time_t (*clock)(void *), void *arg)
{
	c->clock = clock;
	c->clock_arg = arg;
}

void
aws_credentials_set_region(struct aws_credentials *c, const char *region)
{
	snprintf(c->region, sizeof(c->region), "%s",
	    aws_region_valid(region) ? region : "");
}

void
aws_credentials_get(struct aws_credentials *c, aws_credentials_cb cb, void *arg)
{
	struct creds_waiter *w;

	if (creds_usable(c)) {
		cb(&c->creds, NULL, arg);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		cb(NULL, "out of memory", arg);
		return;
	}
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&c->waiters, w, entry);
	/* A run under way answers it when it ends. */
	creds_kick(c);
}

void
aws_credentials_cancel(
    struct aws_credentials *c, aws_credentials_cb cb, void *arg)
{
	struct creds_waiter *w, *next;

	if (c == NULL)
		return;
	for (w = TAILQ_FIRST(&c->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->cb == cb && w->arg == arg) {
			TAILQ_REMOVE(&c->waiters, w, entry);
			free(w);
		}
	}
	for (w = TAILQ_FIRST(&c->answering); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->cb == cb && w->arg == arg) {
			TAILQ_REMOVE(&c->answering, w, entry);
			free(w);
		}
	}
}

void
aws_credentials_reset(struct aws_credentials *c)
{
	if (c == NULL)
		return;
	c->warned = 0;
	c->refresh_warned = 0;
	/* A full walk under way reads every source anew anyway. */
	if (c->state == CREDS_RESOLVING)
		return;
	log_info("aws", "credentials: reset%s%s",
	    c->creds.provider != NULL ? ", dropping those from " : "",
	    c->creds.provider != NULL ? c->creds.provider : "");
	creds_walk_cancel(c);
	evtimer_del(c->refresh_ev);
	aws_creds_clear(&c->creds);
	c->refresh_at = c->stale_at = 0;
	c->provider = -1;
	free(c->error);
	c->error = NULL;
	creds_set_state(c, CREDS_EMPTY);
	/* Gets that were waiting for a refresh now wait for a full walk. */
	creds_kick(c);
}

/* ---- provider: environment ---------------------------------------------- */

static void
creds_env_start(struct aws_credentials *c)
{
	const char *akid, *secret, *token, *why;
	struct aws_creds cr;

	/* The second names are legacy ones the SDKs still read. */
	if ((akid = aws_creds_env("AWS_ACCESS_KEY_ID")) == NULL)
		akid = aws_creds_env("AWS_ACCESS_KEY");
	if ((secret = aws_creds_env("AWS_SECRET_ACCESS_KEY")) == NULL)
		secret = aws_creds_env("AWS_SECRET_KEY");
	if ((token = aws_creds_env("AWS_SESSION_TOKEN")) == NULL)
		token = aws_creds_env("AWS_SECURITY_TOKEN");
	if (akid == NULL && secret == NULL) {
		aws_creds_step_fail(c, 0, "AWS_ACCESS_KEY_ID not set");
		return;
	}
	if (akid == NULL || secret == NULL) {
		aws_creds_step_fail(c, 1, "%s set but %s not",
		    akid != NULL ? "AWS_ACCESS_KEY_ID"
		                 : "AWS_SECRET_ACCESS_KEY",
		    akid != NULL ? "AWS_SECRET_ACCESS_KEY"
		                 : "AWS_ACCESS_KEY_ID");
		return;
	}
	/* Environment credentials cannot change under a running process:
	 * no expiry, even with a session token. */
	if ((why = aws_creds_set(&cr, akid, secret, token, 0, "environment")) !=
	    NULL) {
		aws_creds_step_fail(c, 1, "%s", why);
		return;
	}
	aws_creds_step_ok(c, &cr);
}
