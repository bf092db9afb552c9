/*
 * client.c — signed AWS JSON-RPC calls (Kinesis, DynamoDB) with a limit on
 * calls in flight, retries with back-off, and credential refresh on an
 * expired token.  See aws.h.
 *
 * A call's life (enum call_state):
 *
 *   QUEUED --slot free--> CREDS --credentials--> SENDING --reply--> DONE
 *     ^                     |                       |
 *     |                     +--no credentials--+    +--throttled/5xx--> BACKOFF
 *     +---------------------(timer)------------|--------------------------+
 *                                              v
 *                                           FAILING --next loop turn--> DONE
 *
 * A call holds one of the client's max_connections slots in CREDS and
 * SENDING only; a call waiting out its back-off lets others through.
 * Results are delivered from the loop, never from inside aws_client_call
 * (FAILING exists so early failures also go through the loop).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define CLIENT_DEFAULT_MAX_CONNECTIONS 24
#define CLIENT_DEFAULT_MAX_ATTEMPTS    3
#define CLIENT_DEFAULT_RETRY_BASE_MS   100
#define CLIENT_DEFAULT_RETRY_CAP_MS    10000
#define CLIENT_TRACE_BODY              1024

enum call_state {
	CALL_QUEUED,
	CALL_CREDS,
	CALL_SENDING,
	CALL_BACKOFF,
	CALL_FAILING,
	CALL_DONE,
};

struct aws_call {
	struct aws_client *c;
	enum call_state state;
	char *op;
	char *target; /* "<prefix>.<op>" */
	char *body;
	size_t body_len;
	unsigned max_attempts;
	unsigned attempts;
	int creds_retried; /* the one extra attempt after an expired token */
	aws_call_cb cb;
	void *arg;
	struct aws_http_call *http;
	struct event *timer; /* back-off, and delivery of early failures */
	struct timespec sent;
	enum aws_err fail_err; /* FAILING: what to report */
	char *fail_msg;
	TAILQ_ENTRY(aws_call) all;  /* every live call of the client */
	TAILQ_ENTRY(aws_call) wait; /* the queue, or the credentials wait */
};
TAILQ_HEAD(call_list, aws_call);

struct aws_client {
	struct aws_http *http;
	struct aws_credentials *creds;
	struct event_base *base;
	char *service;
	char *target_prefix;
	char *content_type;
	char *region;
	char *endpoint;
	char *host; /* the Host header: authority without a default port */
	char *path; /* the signed path: the endpoint's, or "/" */
	long connect_timeout_ms;
	long request_timeout_ms;
	int insecure;
	unsigned max_connections;
	unsigned max_attempts;
	unsigned retry_base_ms;
	unsigned retry_cap_ms;
	struct aws_sigv4_cache sigcache;
	uint64_t rng;
	struct metric *m_requests;
	struct metric *m_duration;
	unsigned in_flight; /* calls holding a slot (CREDS, SENDING) */
	size_t queued;
	struct call_list calls;
	struct call_list queue;
	struct call_list creds_wait;
	int creds_pending; /* an aws_credentials_get() is outstanding */
	int depth;         /* our callbacks on the stack */
	int dead;          /* freed while depth > 0 */
};

/* Parsed outcome of one attempt. */
struct client_reply {
	enum aws_err err;
	long status;
	char *type;
	char *message;
	cJSON *json;
};

static void client_pump(struct aws_client *);
static void client_destroy(struct aws_client *);
static void call_http_done(const struct aws_http_response *, void *);
static void client_creds_cb(const struct aws_creds *, const char *, void *);

static const char *
call_strstate(enum call_state s)
{
	switch (s) {
	case CALL_QUEUED:
		return "queued";
	case CALL_CREDS:
		return "creds";
	case CALL_SENDING:
		return "sending";
	case CALL_BACKOFF:
		return "backoff";
	case CALL_FAILING:
		return "failing";
	case CALL_DONE:
		return "done";
	}
	return "?";
}

static void
call_set_state(struct aws_call *call, enum call_state s)
{
	log_trace("aws", "%s %s call %p: %s -> %s", call->c->service, call->op,
	    (void *)call, call_strstate(call->state), call_strstate(s));
	call->state = s;
}

static uint32_t
client_random(struct aws_client *c)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (uint32_t)((c->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

char *
aws_endpoint_default(const char *service, const char *region)
{
	char *url;
	int cn = strncmp(region, "cn-", 3) == 0;

	if (asprintf(&url, "https://%s.%s.amazonaws.com%s", service, region,
	        cn ? ".cn" : "") < 0)
		return NULL;
	return url;
}

static void __attribute__((format(printf, 2, 3)))
client_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

static char *
client_strndup_or_cause(const char *s, size_t n, char **cause)
{
	char *d = strndup(s, n);

	if (d == NULL && *cause == NULL)
		*cause = strdup("out of memory");
	return d;
}

/*
 * Splits an endpoint URL into the Host header we send and sign (the
 * authority, without the scheme's default port, as botocore does) and the
 * path we sign.
 */
static int
client_parse_endpoint(struct aws_client *c, char **cause)
{
	const char *url = c->endpoint, *auth, *end, *hostend, *port = NULL;
	const char *close;
	int https;

	if (strncasecmp(url, "http://", 7) == 0) {
		https = 0;
		auth = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		https = 1;
		auth = url + 8;
	} else {
		client_cause(
		    cause, "endpoint %s: not an http:// or https:// URL", url);
		return -1;
	}
	end = auth + strcspn(auth, "/?#");
	if (end == auth || memchr(auth, '@', (size_t)(end - auth)) != NULL) {
		client_cause(
		    cause, "endpoint %s: no host, or user info in it", url);
		return -1;
	}
	if (*end == '?' || *end == '#' || strpbrk(end, "?#") != NULL) {
		client_cause(cause, "endpoint %s: a query or fragment", url);
		return -1;
	}
	hostend = end;
	if (*auth == '[') {
		close = memchr(auth, ']', (size_t)(end - auth));
		if (close == NULL) {
			client_cause(
			    cause, "endpoint %s: bad IPv6 address", url);
			return -1;
		}
		hostend = close + 1;
		if (hostend < end && *hostend == ':')
			port = hostend + 1;
	} else if ((close = memchr(auth, ':', (size_t)(end - auth))) != NULL) {
		hostend = close;
		port = close + 1;
	}
	if (port != NULL) {
		for (const char *p = port; p < end; p++)
			if (!isdigit((unsigned char)*p)) {
				client_cause(
				    cause, "endpoint %s: bad port", url);
				return -1;
			}
		if (port == end ||
		    (end - port == 2 && !https &&
		        strncmp(port, "80", 2) == 0) ||
		    (end - port == 3 && https && strncmp(port, "443", 3) == 0))
			port = NULL;
	}
	c->host = client_strndup_or_cause(
	    auth, (size_t)((port != NULL ? end : hostend) - auth), cause);
	c->path = client_strndup_or_cause(
	    *end == '/' ? end : "/", *end == '/' ? strlen(end) : 1, cause);
	if (c->host == NULL || c->path == NULL)
		return -1;
	if (https && !c->insecure)
		return 0;
	if (https)
		log_warnx("aws", "%s: TLS certificates are not verified",
		    c->endpoint);
	return 0;
}

struct aws_client *
aws_client_new(struct aws_http *http, struct aws_credentials *creds,
    struct metrics *metrics, const struct aws_client_opts *opts, char **cause)
{
	struct aws_client *c;

	*cause = NULL;
	if (http == NULL || creds == NULL || opts->service == NULL ||
	    opts->target_prefix == NULL || opts->region == NULL ||
	    *opts->region == '\0') {
		*cause = strdup("aws client: service, target prefix, region, "
		                "HTTP and credentials are required");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto oom;
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->queue);
	TAILQ_INIT(&c->creds_wait);
	c->http = http;
	c->creds = creds;
	c->base = aws_http_base(http);
	c->connect_timeout_ms = opts->connect_timeout_ms;
	c->request_timeout_ms = opts->request_timeout_ms;
	c->insecure = !opts->verify_certificate;
	c->max_connections = opts->max_connections > 0
	                         ? opts->max_connections
	                         : CLIENT_DEFAULT_MAX_CONNECTIONS;
	c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts
	                                         : CLIENT_DEFAULT_MAX_ATTEMPTS;
	c->retry_base_ms = opts->retry_base_ms > 0
	                       ? opts->retry_base_ms
	                       : CLIENT_DEFAULT_RETRY_BASE_MS;
	c->retry_cap_ms = opts->retry_cap_ms > 0 ? opts->retry_cap_ms
	                                         : CLIENT_DEFAULT_RETRY_CAP_MS;
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(c->rng))
		c->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
	c->rng |= 1; /* xorshift must not start at 0 */
	if ((c->service = strdup(opts->service)) == NULL ||
	    (c->target_prefix = strdup(opts->target_prefix)) == NULL ||
	    (c->content_type = strdup(opts->content_type != NULL
	                                  ? opts->content_type
	                                  : "application/x-amz-json-1.1")) ==
	        NULL ||
	    (c->region = strdup(opts->region)) == NULL)
		goto oom;
	if (opts->endpoint != NULL && *opts->endpoint != '\0')
		c->endpoint = strdup(opts->endpoint);
	else
		c->endpoint = aws_endpoint_default(opts->service, opts->region);
	if (c->endpoint == NULL)
		goto oom;
	if (client_parse_endpoint(c, cause) != 0)
		goto fail;
	c->m_requests = metrics_counter(metrics, "kinesisd_aws_requests_total",
	    "AWS requests sent, by service, operation and HTTP status",
	    "service,operation,status");
	c->m_duration = metrics_histogram(metrics,
	    "kinesisd_aws_request_duration_seconds",
	    "AWS request latency, per attempt", "service,operation", NULL, 0);
	return c;
oom:
	if (*cause == NULL)
		*cause = strdup("out of memory");
fail:
	aws_client_free(c);
	return NULL;
}

static void
call_free(struct aws_call *call)
{
	if (call == NULL)
		return;
	if (call->timer != NULL)
		event_free(call->timer);
	free(call->op);
	free(call->target);
	free(call->body);
	free(call->fail_msg);
	free(call);
}

/* Takes a live call off every list and stops whatever it waits for,
 * releasing its slot; no callback. */
static void
call_detach(struct aws_call *call)
{
	struct aws_client *c = call->c;

	switch (call->state) {
	case CALL_QUEUED:
		TAILQ_REMOVE(&c->queue, call, wait);
		c->queued--;
		break;
	case CALL_CREDS:
		TAILQ_REMOVE(&c->creds_wait, call, wait);
		c->in_flight--;
		break;
	case CALL_SENDING:
		aws_http_cancel(call->http);
		call->http = NULL;
		c->in_flight--;
		break;
	case CALL_BACKOFF:
	case CALL_FAILING:
		evtimer_del(call->timer);
		break;
	case CALL_DONE:
		return; /* already off the lists */
	}
	TAILQ_REMOVE(&c->calls, call, all);
}

static void
client_destroy(struct aws_client *c)
{
	free(c->service);
	free(c->target_prefix);
	free(c->content_type);
	free(c->region);
	free(c->endpoint);
	free(c->host);
	free(c->path);
	free(c);
}

void
aws_client_free(struct aws_client *c)
{
	struct aws_call *call;

	if (c == NULL)
		return;
	while ((call = TAILQ_FIRST(&c->calls)) != NULL) {
		call_detach(call);
		call_free(call);
	}
	/* The credentials callback we wait for would carry c. */
	if (c->creds_pending) {
		aws_credentials_cancel(c->creds, client_creds_cb, c);
		c->creds_pending = 0;
	}
	/* A callback of ours on the stack: the last one out frees c. */
	if (c->depth > 0) {
		c->dead = 1;
		return;
	}
	client_destroy(c);
}

/* Leaves one of our callbacks; frees c if it died meanwhile. */
static int
client_leave(struct aws_client *c)
{
	c->depth--;
	if (c->dead) {
		if (c->depth == 0)
			client_destroy(c);
		return -1;
	}
	return 0;
}

const char *
aws_client_endpoint(const struct aws_client *c)
{
	return c->endpoint;
}

unsigned
aws_client_in_flight(const struct aws_client *c)
{
	return c->in_flight;
}

size_t
aws_client_queued(const struct aws_client *c)
{
	return c->queued;
}

int
aws_result_is(const struct aws_result *res, const char *type)
{
	return res != NULL && res->type != NULL && type != NULL &&
	       strcmp(res->type, type) == 0;
}

/* Runs the user's callback and frees the call. */
static void
call_finish(struct aws_call *call, const struct aws_result *res)
{
	TAILQ_REMOVE(&call->c->calls, call, all);
	call_set_state(call, CALL_DONE);
	call->cb(res, call->arg);
	call_free(call);
}

/* Delivers a failure from the loop's next turn (see the top comment). */
static void
call_fail_later(struct aws_call *call, enum aws_err err, const char *msg)
{
	struct timeval now = {0, 0};

	free(call->fail_msg);
	call->fail_msg = strdup(msg);
	call->fail_err = err;
	call_set_state(call, CALL_FAILING);
	evtimer_add(call->timer, &now);
}

/* A printable, bounded copy of a body for the wire trace. */
static void
client_snippet(char *out, size_t size, const char *body, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)body[i];
		out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '.';
	}
	out[n] = '\0';
}

static void
client_trace_request(
    struct aws_call *call, const struct aws_header *hdrs, size_t n)
{
	char line[1024], body[CLIENT_TRACE_BODY + 1];
	size_t off = 0;

	line[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(line); i++) {
		/* Never the signature nor the session token. */
		int secret =
		    strcasecmp(hdrs[i].name, "authorization") == 0 ||
		    strcasecmp(hdrs[i].name, "x-amz-security-token") == 0;
		int w = snprintf(line + off, sizeof(line) - off, "%s%s: %s",
		    i > 0 ? ", " : "", hdrs[i].name,
		    secret ? "<redacted>" : hdrs[i].value);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	client_snippet(body, sizeof(body), call->body, call->body_len);
	log_debug("aws", "> POST %s target=%s attempt=%u [%s] body(%zu)=%s%s",
	    call->c->endpoint, call->target, call->attempts, line,
	    call->body_len, body,
	    call->body_len > CLIENT_TRACE_BODY ? "..." : "");
}

/* Signs and sends one attempt with these credentials. */
static void
call_send(struct aws_call *call, const struct aws_creds *creds)
{
	struct aws_client *c = call->c;
	struct aws_sigv4_request sreq;
	struct aws_http_request hreq;
	struct aws_header hdrs[6];
	char amzdate[17];
	char *auth = NULL;
	time_t now = time(NULL);
	size_t n = 0;

	aws_sigv4_amzdate(now, amzdate);
	hdrs[n++] = (struct aws_header){"Host", c->host};
	hdrs[n++] = (struct aws_header){"Content-Type", c->content_type};
	hdrs[n++] = (struct aws_header){"X-Amz-Date", amzdate};
	hdrs[n++] = (struct aws_header){"X-Amz-Target", call->target};
	if (creds->session_token != NULL && *creds->session_token != '\0')
		hdrs[n++] = (struct aws_header){
		    "X-Amz-Security-Token", creds->session_token};
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = "POST";
	sreq.path = c->path;
	sreq.query = NULL;
	sreq.headers = hdrs;
	sreq.n_headers = n;
	sreq.payload = call->body;
	sreq.payload_len = call->body_len;
	sreq.region = c->region;
	sreq.service = c->service;
	sreq.now = now;
	if (aws_sigv4_sign(&sreq, creds, &c->sigcache, &auth) != 0) {
		c->in_flight--;
		call_fail_later(call, AWS_ERR_RETRIABLE,
		    "cannot sign the request (out of memory)");
		return;
	}
	hdrs[n++] = (struct aws_header){"Authorization", auth};

	memset(&hreq, 0, sizeof(hreq));
	hreq.method = "POST";
	hreq.url = c->endpoint;
	hreq.headers = hdrs;
	hreq.n_headers = n;
	hreq.body = call->body;
	hreq.body_len = call->body_len;
	hreq.connect_timeout_ms = c->connect_timeout_ms;
	hreq.timeout_ms = c->request_timeout_ms;
	hreq.insecure = c->insecure;
	if (log_enabled(LOG_LEVEL_DEBUG))
		client_trace_request(call, hdrs, n);
	clock_gettime(CLOCK_MONOTONIC, &call->sent);
	call_set_state(call, CALL_SENDING);
	call->http = aws_http_send(c->http, &hreq, call_http_done, call);
	free(auth);
	if (call->http == NULL) {
		c->in_flight--;
		call_fail_later(call, AWS_ERR_RETRIABLE,
		    "cannot start the HTTP request (out of memory)");
	}
}

/* Waits out a back-off, then queues the call again. */
static void
call_backoff(struct aws_call *call, enum aws_err err, const char *why)
{
	struct aws_client *c = call->c;
	uint64_t ms = aws_retry_backoff_ms(call->attempts, c->retry_base_ms,
	    c->retry_cap_ms, client_random(c));
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	log_debug("aws",
	    "%s %s: %s (%s), attempt %u of %u, retrying in %llu ms", c->service,
	    call->op, aws_err_name(err), why != NULL ? why : "-",
	    call->attempts, call->max_attempts, (unsigned long long)ms);
	call_set_state(call, CALL_BACKOFF);
	evtimer_add(call->timer, &tv);
}

static void
call_start(struct aws_call *call)
{
	struct aws_client *c = call->c;
	const struct aws_creds *creds;

	call->attempts++;
	if ((creds = aws_credentials_peek(c->creds)) != NULL) {
		call_send(call, creds);
		return;
	}
	call_set_state(call, CALL_CREDS);
	TAILQ_INSERT_TAIL(&c->creds_wait, call, wait);
	if (!c->creds_pending) {
		/* One request for every waiting call; the answer may come
		 * before aws_credentials_get() returns. */
		c->creds_pending = 1;
		aws_credentials_get(c->creds, client_creds_cb, c);
	}
}

static void
client_creds_cb(const struct aws_creds *creds, const char *err, void *arg)
{
	struct aws_client *c = arg;
	struct aws_call *call;
	char *msg = NULL;

	c->creds_pending = 0;
	if (c->dead) /* cannot happen: aws_client_free cancels us */
		return;
	if (creds == NULL &&
	    asprintf(&msg, "no AWS credentials: %s",
	        err != NULL ? err : "every provider failed") < 0)
		msg = NULL;
	while ((call = TAILQ_FIRST(&c->creds_wait)) != NULL) {
		TAILQ_REMOVE(&c->creds_wait, call, wait);
		if (creds != NULL) {
			call_send(call, creds);
			continue;
		}
		/* The chain may recover (IMDS or STS hiccup): retry like
		 * any transient failure.  No pump from here: the slot is
		 * taken again when the back-off or failure timer runs. */
		c->in_flight--;
		if (call->attempts < call->max_attempts)
			call_backoff(call, AWS_ERR_CREDENTIALS, msg);
		else
			call_fail_later(call, AWS_ERR_CREDENTIALS,
			    msg != NULL ? msg : "no AWS credentials");
	}
	free(msg);
}

/* "ns#Type" and "Type:http://..." -> "Type"; NULL when nothing is left. */
static char *
client_error_type(const char *s)
{
	const char *hash = strrchr(s, '#');

	if (hash != NULL)
		s = hash + 1;
	size_t n = strcspn(s, ":");
	return n > 0 ? strndup(s, n) : NULL;
}

static int
client_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Turns an HTTP outcome into err/type/message/json; never trusts the body. */
static void
client_parse_reply(const struct aws_http_response *resp, struct client_reply *r)
{
	const cJSON *t, *m;
	const char *end = NULL;
	cJSON *j = NULL;
	char snippet[201];

	memset(r, 0, sizeof(*r));
	r->status = resp->status;
	if (resp->transport_err != 0) {
		r->err = aws_retry_classify(0, NULL, resp->transport_err);
		r->message = strdup(
		    resp->error != NULL ? resp->error : "transport error");
		return;
	}
	if (!client_blank(resp->body, resp->body_len)) {
		/* Trailing bytes after the value make it no JSON at all. */
		j = cJSON_ParseWithLengthOpts(
		    resp->body, resp->body_len, &end, 0);
		if (j != NULL &&
		    !client_blank(
		        end, resp->body_len - (size_t)(end - resp->body))) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	if (resp->status >= 200 && resp->status <= 299) {
		/* Some calls (DeleteStream, ...) answer 200 with no body. */
		if (client_blank(resp->body, resp->body_len))
			j = cJSON_CreateObject();
		if (cJSON_IsObject(j)) {
			r->err = AWS_OK;
			r->json = j;
			return;
		}
		cJSON_Delete(j);
		/* A proxy's or load balancer's page, or a cut reply: the
		 * same request may well get a real answer next time. */
		r->err = AWS_ERR_RETRIABLE;
		client_snippet(snippet, 61, resp->body, resp->body_len);
		if (asprintf(&r->message,
		        "HTTP %ld reply is not a JSON object (%zu bytes: %s)",
		        resp->status, resp->body_len, snippet) < 0)
			r->message = NULL;
		return;
	}
	if (cJSON_IsObject(j)) {
		t = cJSON_GetObjectItemCaseSensitive(j, "__type");
		if (cJSON_IsString(t) && t->valuestring != NULL)
			r->type = client_error_type(t->valuestring);
		m = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(j, "Message");
		if (cJSON_IsString(m) && m->valuestring != NULL)
			r->message = strdup(m->valuestring);
	}
	cJSON_Delete(j);
	if (r->type == NULL && resp->error_type != NULL)
		r->type = client_error_type(resp->error_type);
	if (r->message == NULL) {
		client_snippet(
		    snippet, sizeof(snippet), resp->body, resp->body_len);
		if (asprintf(&r->message, "HTTP %ld%s%s", resp->status,
		        *snippet != '\0' ? ": " : "", snippet) < 0)
			r->message = NULL;
	}
	r->err = aws_retry_classify(resp->status, r->type, 0);
	if (r->err == AWS_OK) /* a 1xx or 3xx: not an answer we can use */
		r->err = AWS_ERR_TERMINAL;
}

static void
client_reply_free(struct client_reply *r)
{
	free(r->type);
	free(r->message);
	cJSON_Delete(r->json);
}

static void
client_trace_reply(struct aws_call *call, const struct aws_http_response *resp,
    const struct client_reply *r)
{
	char body[CLIENT_TRACE_BODY + 1];

	client_snippet(body, sizeof(body), resp->body, resp->body_len);
	log_debug("aws",
	    "< %ld %s target=%s %.3fs request-id=%s %s%s%s body(%zu)=%s%s",
	    resp->status, aws_err_name(r->err), call->target, resp->seconds,
	    resp->request_id != NULL ? resp->request_id : "-",
	    r->type != NULL ? r->type : "", r->type != NULL ? " " : "",
	    resp->transport_err != 0 && resp->error != NULL ? resp->error : "",
	    resp->body_len, body,
	    resp->body_len > CLIENT_TRACE_BODY ? "..." : "");
}

static void
call_http_done(const struct aws_http_response *resp, void *arg)
{
	struct aws_call *call = arg;
	struct aws_client *c = call->c;
	struct client_reply r;
	struct aws_result res;
	char status[24];

	call->http = NULL;
	c->in_flight--;
	client_parse_reply(resp, &r);
	if (resp->transport_err == 0 && resp->status > 0)
		snprintf(status, sizeof(status), "%ld", resp->status);
	else
		snprintf(status, sizeof(status), "error");
	metric_inc(metric_series(c->m_requests, c->service, call->op, status));
	metric_observe(
	    metric_series(c->m_duration, c->service, call->op), resp->seconds);
	if (log_enabled(LOG_LEVEL_DEBUG))
		client_trace_reply(call, resp, &r);

	c->depth++;
	if (r.err == AWS_ERR_CREDENTIALS && !call->creds_retried) {
		/* Once, even past max_attempts: the token expired under us,
		 * the request itself was fine. */
		call->creds_retried = 1;
		log_info("aws", "%s %s: %s, refreshing credentials", c->service,
		    call->op, r.type != NULL ? r.type : "expired credentials");
		aws_credentials_reset(c->creds);
		call_set_state(call, CALL_QUEUED);
		TAILQ_INSERT_HEAD(&c->queue, call, wait);
		c->queued++;
	} else if ((r.err == AWS_ERR_THROTTLED || r.err == AWS_ERR_RETRIABLE) &&
	           call->attempts < call->max_attempts) {
		call_backoff(call, r.err, r.type != NULL ? r.type : r.message);
	} else {
		memset(&res, 0, sizeof(res));
		res.err = r.err;
		res.status = r.status;
		res.type = r.type;
		res.message = r.message;
		res.json = r.json;
		res.attempts = call->attempts;
		call_finish(call, &res);
	}
	client_reply_free(&r);
	if (client_leave(c) == 0)
		client_pump(c);
}

static void
call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_call *call = arg;
	struct aws_client *c = call->c;
	struct aws_result res;

	(void)fd;
	(void)what;
	if (call->state == CALL_BACKOFF) {
		/* Older than anything queued since: goes first. */
		call_set_state(call, CALL_QUEUED);
		TAILQ_INSERT_HEAD(&c->queue, call, wait);
		c->queued++;
		client_pump(c);
		return;
	}
	if (call->state != CALL_FAILING)
		return;
	memset(&res, 0, sizeof(res));
	res.err = call->fail_err;
	res.message = call->fail_msg != NULL ? call->fail_msg : "out of memory";
	res.attempts = call->attempts;
	c->depth++;
	call_finish(call, &res);
	if (client_leave(c) == 0)
		client_pump(c);
}

static void
client_pump(struct aws_client *c)
{
	struct aws_call *call;

	while (!c->dead && c->in_flight < c->max_connections &&
	       (call = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, call, wait);
		c->queued--;
		c->in_flight++;
		call_start(call);
	}
}

struct aws_call *
aws_client_call(struct aws_client *c, const char *operation, char *body,
    unsigned max_attempts, aws_call_cb cb, void *arg)
{
	struct aws_call *call;

	if (c == NULL || c->dead || operation == NULL || body == NULL ||
	    cb == NULL || (call = calloc(1, sizeof(*call))) == NULL) {
		free(body);
		return NULL;
	}
	call->c = c;
	call->body = body;
	call->body_len = strlen(body);
	call->cb = cb;
	call->arg = arg;
	call->max_attempts = max_attempts > 0 ? max_attempts : c->max_attempts;
	call->state = CALL_QUEUED;
	if (asprintf(&call->target, "%s.%s", c->target_prefix, operation) < 0)
		call->target = NULL;
	if ((call->op = strdup(operation)) == NULL || call->target == NULL ||
	    (call->timer = evtimer_new(c->base, call_timer_cb, call)) == NULL) {
		call_free(call);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&c->calls, call, all);
	TAILQ_INSERT_TAIL(&c->queue, call, wait);
	c->queued++;
	client_pump(c);
	return call;
}

void
aws_call_cancel(struct aws_call *call)
{
	struct aws_client *c;

	if (call == NULL || call->state == CALL_DONE)
		return;
	c = call->c;
	call_detach(call);
	call_free(call);
	client_pump(c);
}
