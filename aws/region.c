/*
 * region.c — region resolution, and the EC2 instance metadata (IMDSv2)
 * client that it shares with the credentials chain.  See aws.h.
 *
 * IMDSv2: a PUT to /latest/api/token yields a session token that every GET
 * then carries in X-aws-ec2-metadata-token.  The token is kept for reuse
 * until shortly before its TTL ends.  As the SDKs do, a token PUT answered
 * with 403, 404 or 405 (IMDS configured without v2, or an old proxy in
 * front of it) falls back to plain v1 GETs, unless
 * AWS_EC2_METADATA_V1_DISABLED is true.  Timeouts are short: on a host
 * that is not an EC2 instance the first connect fails and the caller moves
 * on within about a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "log/log.h"

#define IMDS_DEFAULT_ENDPOINT      "http://169.254.169.254"
#define IMDS_DEFAULT_ENDPOINT_IPV6 "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL             21600 /* s: the SDKs' default */
#define IMDS_TOKEN_MARGIN          60    /* s: renewed this long before */
#define IMDS_CONNECT_TIMEOUT_MS    1000
#define IMDS_TOKEN_TIMEOUT_MS      1000
#define IMDS_GET_TIMEOUT_MS        2000
#define IMDS_MAX_TOKEN             4096

enum imds_step {
	IMDS_IDLE,
	IMDS_TOKEN, /* PUT /latest/api/token in flight */
	IMDS_GET,   /* GET path in flight */
};

struct aws_imds {
	struct aws_http *http;
	enum imds_step step;
	struct aws_http_call *call;
	char endpoint[256];
	char *path;
	char *token; /* secret: never logged */
	struct timespec token_until;
	int retried; /* the GET was retried once with a fresh token */
	aws_imds_cb cb;
	void *arg;
};

static int
env_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcasecmp(v, "true") == 0;
}

int
aws_imds_disabled(void)
{
	return env_true("AWS_EC2_METADATA_DISABLED");
}

struct aws_imds *
aws_imds_new(struct aws_http *http)
{
	struct aws_imds *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->http = http;
	return m;
}

static void
imds_drop_token(struct aws_imds *m)
{
	if (m->token != NULL) {
		explicit_bzero(m->token, strlen(m->token));
		free(m->token);
		m->token = NULL;
	}
}

void
aws_imds_cancel(struct aws_imds *m)
{
	if (m == NULL)
		return;
	aws_http_cancel(m->call);
	m->call = NULL;
	m->step = IMDS_IDLE;
	free(m->path);
	m->path = NULL;
	m->cb = NULL;
}

void
aws_imds_free(struct aws_imds *m)
{
	if (m == NULL)
		return;
	aws_imds_cancel(m);
	imds_drop_token(m);
	free(m);
}

const char *
aws_imds_endpoint(char *buf, size_t len)
{
	const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	size_t n;

	if (e == NULL || *e == '\0')
		e = mode != NULL && strcasecmp(mode, "IPv6") == 0
		        ? IMDS_DEFAULT_ENDPOINT_IPV6
		        : IMDS_DEFAULT_ENDPOINT;
	snprintf(buf, len, "%s", e);
	/* Paths are appended with their own leading '/'. */
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return buf;
}

/* Ends the current get: the callback may start the next one. */
static void
imds_finish(struct aws_imds *m, long status, const char *body, size_t len,
    const char *err)
{
	aws_imds_cb cb = m->cb;
	void *arg = m->arg;

	m->call = NULL;
	m->step = IMDS_IDLE;
	m->cb = NULL;
	free(m->path);
	m->path = NULL;
	if (cb != NULL)
		cb(status, body, len, err, arg);
}

static void imds_get_cb(const struct aws_http_response *, void *);
static void imds_token_cb(const struct aws_http_response *, void *);

static int
imds_send_token(struct aws_imds *m)
{
	struct aws_header h[] = {
	    {"X-aws-ec2-metadata-token-ttl-seconds", NULL},
	};
	struct aws_http_request req;
	char url[300], ttl[16];

	snprintf(ttl, sizeof(ttl), "%d", IMDS_TOKEN_TTL);
	h[0].value = ttl;
	snprintf(url, sizeof(url), "%s/latest/api/token", m->endpoint);
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.url = url;
	req.headers = h;
	req.n_headers = 1;
	req.connect_timeout_ms = IMDS_CONNECT_TIMEOUT_MS;
	req.timeout_ms = IMDS_TOKEN_TIMEOUT_MS;
	m->step = IMDS_TOKEN;
	m->call = aws_http_send(m->http, &req, imds_token_cb, m);
	return m->call != NULL ? 0 : -1;
}

static int
imds_send_get(struct aws_imds *m)
{
	struct aws_header h[] = {
	    {"X-aws-ec2-metadata-token", m->token},
	};
	struct aws_http_request req;
	char *url;
	int rc;

	if (asprintf(&url, "%s%s", m->endpoint, m->path) < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.headers = h;
	req.n_headers = m->token != NULL ? 1 : 0;
	req.connect_timeout_ms = IMDS_CONNECT_TIMEOUT_MS;
	req.timeout_ms = IMDS_GET_TIMEOUT_MS;
	m->step = IMDS_GET;
	m->call = aws_http_send(m->http, &req, imds_get_cb, m);
	rc = m->call != NULL ? 0 : -1;
	free(url);
	return rc;
}

static int
imds_token_fresh(const struct aws_imds *m)
{
	struct timespec now;

	if (m->token == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < m->token_until.tv_sec;
}

static void
imds_token_cb(const struct aws_http_response *r, void *arg)
{
	struct aws_imds *m = arg;
	char err[512];
	size_t n;

	m->call = NULL;
	if (r->status == 200 && r->body_len > 0 &&
	    r->body_len < IMDS_MAX_TOKEN) {
		imds_drop_token(m);
		n = r->body_len;
		while (n > 0 &&
		       (r->body[n - 1] == '\n' || r->body[n - 1] == '\r' ||
		           r->body[n - 1] == ' '))
			n--;
		if ((m->token = strndup(r->body, n)) == NULL) {
			imds_finish(m, 0, NULL, 0, "out of memory");
			return;
		}
		/* The token goes into a header: nothing that could end it. */
		if (strpbrk(m->token, "\r\n") != NULL || n == 0) {
			imds_drop_token(m);
			imds_finish(m, 0, NULL, 0, "malformed IMDSv2 token");
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &m->token_until);
		m->token_until.tv_sec += IMDS_TOKEN_TTL - IMDS_TOKEN_MARGIN;
	} else if ((r->status == 403 || r->status == 404 || r->status == 405) &&
	           !env_true("AWS_EC2_METADATA_V1_DISABLED")) {
		log_debug("aws", "IMDSv2 token refused (HTTP %ld): trying v1",
		    r->status);
		imds_drop_token(m);
	} else {
		if (r->status == 0)
			snprintf(err, sizeof(err), "%s: %s", m->endpoint,
			    r->error != NULL ? r->error : "no response");
		else
			snprintf(err, sizeof(err),
			    "%s: token request answered HTTP %ld", m->endpoint,
			    r->status);
		imds_finish(m, r->status, NULL, 0, err);
		return;
	}
	if (imds_send_get(m) != 0)
		imds_finish(m, 0, NULL, 0, "cannot start the IMDS request");
}

static void
imds_get_cb(const struct aws_http_response *r, void *arg)
{
	struct aws_imds *m = arg;
	char err[512];

	m->call = NULL;
	/* 401: the token expired or was revoked; one retry with a new one. */
	if (r->status == 401 && m->token != NULL && !m->retried) {
		m->retried = 1;
		imds_drop_token(m);
		if (imds_send_token(m) != 0)
			imds_finish(
			    m, 0, NULL, 0, "cannot start the IMDS request");
		return;
	}
	if (r->status == 200) {
		imds_finish(m, 200, r->body, r->body_len, NULL);
		return;
	}
	if (r->status == 0)
		snprintf(err, sizeof(err), "%s: %s", m->endpoint,
		    r->error != NULL ? r->error : "no response");
	else
		snprintf(err, sizeof(err), "%s%s: HTTP %ld", m->endpoint,
		    m->path, r->status);
	imds_finish(m, r->status, NULL, 0, err);
}

int
aws_imds_get(struct aws_imds *m, const char *path, aws_imds_cb cb, void *arg)
{
	if (m == NULL || m->step != IMDS_IDLE || path == NULL || cb == NULL)
		return -1;
	if ((m->path = strdup(path)) == NULL)
		return -1;
	aws_imds_endpoint(m->endpoint, sizeof(m->endpoint));
	m->cb = cb;
	m->arg = arg;
	m->retried = 0;
	if ((imds_token_fresh(m) ? imds_send_get(m) : imds_send_token(m)) !=
	    0) {
		m->step = IMDS_IDLE;
		m->cb = NULL;
		free(m->path);
		m->path = NULL;
		return -1;
	}
	return 0;
}

/* ---- region ------------------------------------------------------------- */

int
aws_region_valid(const char *r)
{
	size_t n = 0;

	if (r == NULL || *r == '\0')
		return 0;
	for (; r[n] != '\0'; n++)
		if (!((r[n] >= 'a' && r[n] <= 'z') ||
		        (r[n] >= '0' && r[n] <= '9') || r[n] == '-'))
			return 0;
	return n < AWS_REGION_MAX;
}

/* Copies a candidate into out; -1 with *cause when it is not a region. */
static int
region_take(const char *value, const char *source, char *out,
    const char **sourcep, char **cause)
{
	if (!aws_region_valid(value)) {
		if (cause != NULL &&
		    asprintf(cause, "%s: '%.40s' is not a region name", source,
		        value) < 0)
			*cause = NULL;
		return -1;
	}
	snprintf(out, AWS_REGION_MAX, "%s", value);
	if (sourcep != NULL)
		*sourcep = source;
	return 0;
}

int
aws_region_local(const char *configured, char out[AWS_REGION_MAX],
    const char **source, char **cause)
{
	static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
	struct aws_profile *p = NULL;
	const char *v;
	char *path, *why = NULL;
	int rc = -1;

	out[0] = '\0';
	if (cause != NULL)
		*cause = NULL;
	if (configured != NULL && *configured != '\0')
		return region_take(
		    configured, "configuration", out, source, cause);
	for (size_t i = 0; i < 2; i++)
		if ((v = getenv(vars[i])) != NULL && *v != '\0')
			return region_take(v, vars[i], out, source, cause);
	if ((path = aws_profile_path(AWS_PROFILE_CONFIG)) == NULL)
		return 1;
	switch (aws_profile_load(
	    path, AWS_PROFILE_CONFIG, aws_profile_name(), &p, &why)) {
	case AWS_PROFILE_FOUND:
		if ((v = aws_profile_get(p, "region")) != NULL && *v != '\0')
			rc = region_take(v, "profile", out, source, cause);
		else
			rc = 1;
		break;
	case AWS_PROFILE_ERROR:
		/* An unreadable config file is worth saying, but it is not
		 * fatal: IMDS may still know the region. */
		log_warnx("aws", "cannot read the config file: %s",
		    why != NULL ? why : "out of memory");
		rc = 1;
		break;
	default:
		rc = 1;
		break;
	}
	free(why);
	aws_profile_free(p);
	free(path);
	return rc;
}

struct aws_region_query {
	struct aws_imds *imds;
	struct event *ev; /* answers from the loop, never from resolve() */
	aws_region_cb cb;
	void *arg;
	char region[AWS_REGION_MAX];
	const char *source;
	char *err;
};

void
aws_region_cancel(struct aws_region_query *q)
{
	if (q == NULL)
		return;
	aws_imds_free(q->imds);
	if (q->ev != NULL)
		event_free(q->ev);
	free(q->err);
	free(q);
}

static void
region_answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_region_query *q = arg;

	(void)fd;
	(void)what;
	q->cb(q->err == NULL ? q->region : NULL, q->source, q->err, q->arg);
	aws_region_cancel(q);
}

static void
region_answer(struct aws_region_query *q)
{
	event_active(q->ev, EV_TIMEOUT, 0);
}

static void
region_imds_cb(
    long status, const char *body, size_t len, const char *err, void *arg)
{
	struct aws_region_query *q = arg;
	char buf[AWS_REGION_MAX + 1];

	(void)status;
	if (err == NULL) {
		while (len > 0 &&
		       (body[len - 1] == '\n' || body[len - 1] == '\r' ||
		           body[len - 1] == ' '))
			len--;
		if (len > AWS_REGION_MAX)
			len = AWS_REGION_MAX;
		memcpy(buf, body, len);
		buf[len] = '\0';
		if (aws_region_valid(buf)) {
			memcpy(q->region, buf, len + 1);
			q->source = "imds";
			region_answer(q);
			return;
		}
		err = "IMDS placement/region is not a region name";
	}
	if (asprintf(&q->err,
	        "no region: not configured, AWS_REGION and AWS_DEFAULT_REGION "
	        "unset, no region in profile '%s', IMDS: %s",
	        aws_profile_name(), err) < 0)
		q->err = NULL;
	if (q->err == NULL && (q->err = strdup("no region")) == NULL) {
		/* Out of memory: say it with a static string. */
		q->source = NULL;
		q->cb(NULL, NULL, "out of memory", q->arg);
		aws_region_cancel(q);
		return;
	}
	region_answer(q);
}

struct aws_region_query *
aws_region_resolve(struct event_base *base, struct aws_http *http,
    const char *configured, aws_region_cb cb, void *arg)
{
	struct aws_region_query *q;
	int rc;

	if (cb == NULL || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->cb = cb;
	q->arg = arg;
	if ((q->ev = event_new(base, -1, 0, region_answer_cb, q)) == NULL)
		goto fail;
	rc = aws_region_local(configured, q->region, &q->source, &q->err);
	if (rc == 0 || (rc < 0 && q->err != NULL)) {
		region_answer(q);
		return q;
	}
	if (rc < 0)
		goto fail; /* out of memory formatting the cause */
	if (aws_imds_disabled()) {
		if (asprintf(&q->err,
		        "no region: not configured, AWS_REGION and "
		        "AWS_DEFAULT_REGION unset, no region in profile '%s', "
		        "IMDS disabled (AWS_EC2_METADATA_DISABLED)",
		        aws_profile_name()) < 0)
			goto fail;
		region_answer(q);
		return q;
	}
	if ((q->imds = aws_imds_new(http)) == NULL ||
	    aws_imds_get(q->imds, "/latest/meta-data/placement/region",
	        region_imds_cb, q) != 0)
		goto fail;
	return q;
fail:
	aws_region_cancel(q);
	return NULL;
}
