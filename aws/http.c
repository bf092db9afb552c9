/*
 * http.c — HTTP(S) on the event loop: one curl multi handle driven by the
 * daemon's event_base through CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION (the "multi_socket" API).  See aws.h.
 *
 * curl tells us which sockets to watch and when its next timeout is; we
 * turn those into libevent events, and hand every readiness and timeout
 * back through curl_multi_socket_action().  Finished transfers are reaped
 * with curl_multi_info_read() and their callbacks run from there, never
 * from inside a curl callback, so a callback may start or cancel calls.
 *
 * Connections stay in the multi handle's cache between calls (keep-alive),
 * which is what makes a steady PutRecords stream cheap.  Names are resolved
 * by curl's threaded resolver (AsynchDNS) so nothing blocks the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "log/log.h"

#define HTTP_DEFAULT_TIMEOUT_MS 6000
#define HTTP_DEFAULT_MAX_BODY   ((size_t)64 << 20)
/* Idle connections kept for reuse across every endpoint. */
#define HTTP_MAXCONNECTS 256
/* A safety bound only: aws_client limits its own calls in flight
 * (MaxConnections), and curl would queue beyond this, with the queued
 * time counted against the request timeout. */
#define HTTP_MAX_HOST_CONNECTIONS 256

struct aws_http_call {
	struct aws_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *body; /* our copy of the request body */
	char *resp; /* the response body, NUL-terminated */
	size_t resp_len;
	size_t resp_cap;
	int too_big;
	int oom;
	int done; /* reaped: its callback is running */
	aws_http_cb cb;
	void *arg;
	struct timespec start;
	char errbuf[CURL_ERROR_SIZE];
	TAILQ_ENTRY(aws_http_call) entry;
};

/* One socket curl asked us to watch. */
struct http_sock {
	struct aws_http *h;
	curl_socket_t fd;
	struct event *ev;
	TAILQ_ENTRY(http_sock) entry;
};

struct aws_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	size_t max_body;
	TAILQ_HEAD(, aws_http_call) calls;
	TAILQ_HEAD(, http_sock) socks;
	int reaping; /* inside http_reap(): callbacks may run */
	int dead;    /* aws_http_free() was called while reaping */
	int curl_inited;
};

static double
http_elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void
http_call_free(struct aws_http_call *call)
{
	if (call == NULL)
		return;
	if (call->easy != NULL)
		curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
	free(call->body);
	free(call->resp);
	free(call);
}

static const char *
http_header(CURL *easy, const char *name)
{
#if LIBCURL_VERSION_NUM >= 0x075400
	struct curl_header *hdr;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &hdr) ==
	    CURLHE_OK)
		return hdr->value;
#else
	(void)easy;
	(void)name;
#endif
	return NULL;
}

/*
 * Whether the body matches the reply's x-amz-crc32 header, when it has one
 * (DynamoDB's replies do).  A mismatch is a body damaged on the way, which
 * could parse as a valid, different answer: the SDKs retry such replies,
 * and so do we (it is reported as a transport error).
 */
static int
http_crc_ok(CURL *easy, const char *body, size_t len)
{
	const char *h = http_header(easy, "x-amz-crc32");
	unsigned long long want;
	char *end;

	if (h == NULL)
		return 1;
	want = strtoull(h, &end, 10);
	if (end == h || *end != '\0' || want > 0xffffffffull)
		return 0; /* a header we cannot read vouches for nothing */
	return aws_crc32(body, len) == (uint32_t)want;
}

/* Runs a finished call's callback; the caller frees the call after. */
static void
http_call_finish(struct aws_http_call *call, CURLcode rc)
{
	struct aws_http_response resp;
	long status = 0;

	memset(&resp, 0, sizeof(resp));
	resp.seconds = http_elapsed(&call->start);
	resp.body = call->resp != NULL ? call->resp : "";
	resp.body_len = call->resp_len;
	if (rc == CURLE_OK &&
	    !http_crc_ok(call->easy, resp.body, resp.body_len)) {
		/* Rare enough in life to be worth a line each time. */
		log_warnx("aws",
		    "a reply's body (%zu bytes) does not match its "
		    "x-amz-crc32 header: damaged in transit; the call is "
		    "retried",
		    resp.body_len);
		resp.transport_err = (int)CURLE_RECV_ERROR;
		resp.error = "the reply's body does not match its x-amz-crc32 "
		             "header (damaged in transit)";
	} else if (rc == CURLE_OK) {
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
		resp.status = status;
		resp.request_id = http_header(call->easy, "x-amzn-RequestId");
		if (resp.request_id == NULL)
			resp.request_id =
			    http_header(call->easy, "x-amz-request-id");
		resp.error_type = http_header(call->easy, "x-amzn-ErrorType");
	} else {
		/* A half-received reply is no reply: status stays 0 so
		 * nobody mistakes a truncated body for an answer. */
		resp.transport_err = (int)rc;
		if (call->too_big)
			resp.error = "response body too large";
		else if (call->oom)
			resp.error = "out of memory reading the response";
		else if (call->errbuf[0] != '\0')
			resp.error = call->errbuf;
		else
			resp.error = curl_easy_strerror(rc);
	}
	call->cb(&resp, call->arg);
}

/*
 * Reaps finished transfers and runs their callbacks.  A callback may send,
 * cancel, or free the whole aws_http; the last is deferred to the end.
 */
static void
http_reap(struct aws_http *h)
{
	struct aws_http_call *call;
	CURLMsg *msg;
	CURL *easy;
	CURLcode rc;
	char *priv;
	int left;

	h->reaping++;
	while (!h->dead && (msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg dies with curl_multi_remove_handle: copy first. */
		easy = msg->easy_handle;
		rc = msg->data.result;
		priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		call = (struct aws_http_call *)(void *)priv;
		curl_multi_remove_handle(h->multi, easy);
		if (call == NULL)
			continue;
		TAILQ_REMOVE(&h->calls, call, entry);
		call->done = 1;
		http_call_finish(call, rc);
		http_call_free(call);
	}
	h->reaping--;
	if (h->dead && h->reaping == 0)
		aws_http_free(h);
}

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sock *s = arg;
	struct aws_http *h = s->h; /* s may be gone after socket_action */
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, action, &running);
	http_reap(h);
}

static void
http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_http *h = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_reap(h);
}

/* curl: "call curl_multi_socket_action(TIMEOUT) in timeout_ms". */
static int
http_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct aws_http *h = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	/* 0 means "at once"; curl must not be re-entered from here, so it
	 * still goes through the loop. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv) == 0 ? 0 : -1;
}

static void
http_sock_free(struct aws_http *h, struct http_sock *s)
{
	TAILQ_REMOVE(&h->socks, s, entry);
	if (s->ev != NULL)
		event_free(s->ev);
	free(s);
}

/* curl: "watch fd for what" (or stop watching it). */
static int
http_curl_socket(
    CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct aws_http *h = userp;
	struct http_sock *s = socketp;
	short events;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			http_sock_free(h, s);
		return 0;
	}
	events = EV_PERSIST;
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->h = h;
		s->fd = fd;
		TAILQ_INSERT_TAIL(&h->socks, s, entry);
		s->ev = event_new(h->base, fd, events, http_event_cb, s);
		if (s->ev == NULL) {
			http_sock_free(h, s);
			return -1;
		}
		if (curl_multi_assign(h->multi, fd, s) != CURLM_OK) {
			http_sock_free(h, s);
			return -1;
		}
	} else {
		/* An event may only be re-assigned while not pending. */
		event_del(s->ev);
		if (event_assign(
		        s->ev, h->base, fd, events, http_event_cb, s) != 0)
			return -1;
	}
	return event_add(s->ev, NULL) == 0 ? 0 : -1;
}

struct aws_http *
aws_http_new(struct event_base *base, char **cause)
{
	const curl_version_info_data *ver;
	struct aws_http *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		goto oom;
	h->base = base;
	h->max_body = HTTP_DEFAULT_MAX_BODY;
	TAILQ_INIT(&h->calls);
	TAILQ_INIT(&h->socks);
	/* Reference-counted by curl; paired with the cleanup in free. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*cause = strdup("curl_global_init failed");
		goto fail;
	}
	h->curl_inited = 1;
	ver = curl_version_info(CURLVERSION_NOW);
	if (!(ver->features & CURL_VERSION_ASYNCHDNS))
		log_warnx("aws",
		    "libcurl %s resolves names synchronously: "
		    "use IP addresses in endpoints or the loop may stall",
		    ver->version);
	if ((h->timer = evtimer_new(base, http_timer_cb, h)) == NULL)
		goto oom;
	if ((h->multi = curl_multi_init()) == NULL)
		goto oom;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_curl_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(
	    h->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_MAXCONNECTS);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)HTTP_MAX_HOST_CONNECTIONS);
	return h;
oom:
	*cause = strdup("out of memory");
fail:
	aws_http_free(h);
	return NULL;
}

void
aws_http_free(struct aws_http *h)
{
	struct aws_http_call *call;
	struct http_sock *s;

	if (h == NULL)
		return;
	while ((call = TAILQ_FIRST(&h->calls)) != NULL) {
		TAILQ_REMOVE(&h->calls, call, entry);
		curl_multi_remove_handle(h->multi, call->easy);
		http_call_free(call);
	}
	if (h->reaping > 0) {
		/* A callback of ours is on the stack: http_reap() finishes
		 * the job when it unwinds. */
		h->dead = 1;
		return;
	}
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	/* Whatever curl did not tell us to stop watching. */
	while ((s = TAILQ_FIRST(&h->socks)) != NULL)
		http_sock_free(h, s);
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->curl_inited)
		curl_global_cleanup();
	free(h);
}

struct event_base *
aws_http_base(const struct aws_http *h)
{
	return h->base;
}

void
aws_http_set_max_body(struct aws_http *h, size_t bytes)
{
	h->max_body = bytes;
}

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct aws_http_call *call = arg;
	size_t len = size * nmemb, cap;
	char *p;

	if (len > call->h->max_body - call->resp_len) {
		call->too_big = 1;
		return 0; /* ends the transfer with CURLE_WRITE_ERROR */
	}
	if (call->resp_len + len + 1 > call->resp_cap) {
		cap = call->resp_cap > 0 ? call->resp_cap : 16384;
		/* A body whose length is announced gets exactly that much
		 * at once: doubling up to it would hold up to twice as much
		 * (GetRecords replies are megabytes, several in flight). */
		if (call->resp_cap == 0) {
			curl_off_t cl = -1;
			if (curl_easy_getinfo(call->easy,
			        CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			        &cl) == CURLE_OK &&
			    cl > 0 && (uint64_t)cl < call->h->max_body)
				cap = (size_t)cl + 1;
		}
		while (cap < call->resp_len + len + 1)
			cap *= 2;
		if ((p = realloc(call->resp, cap)) == NULL) {
			call->oom = 1;
			return 0;
		}
		call->resp = p;
		call->resp_cap = cap;
	}
	memcpy(call->resp + call->resp_len, ptr, len);
	call->resp_len += len;
	call->resp[call->resp_len] = '\0';
	return len;
}

static int
http_add_header(struct curl_slist **list, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;
	int n;

	/* curl's syntax: "Name:" removes a header curl would add itself,
	 * "Name;" sends one with an empty value. */
	if (value == NULL)
		n = asprintf(&line, "%s:", name);
	else if (*value == '\0')
		n = asprintf(&line, "%s;", name);
	else
		n = asprintf(&line, "%s: %s", name, value);
	if (n < 0)
		return -1;
	l = curl_slist_append(*list, line);
	free(line);
	if (l == NULL)
		return -1;
	*list = l;
	return 0;
}

/* Sets the method and body; 0 or -1. */
static int
http_set_method(struct aws_http_call *call, const struct aws_http_request *req)
{
	const char *m = req->method != NULL ? req->method : "GET";
	CURL *e = call->easy;

	if (strcmp(m, "GET") == 0 && req->body_len == 0)
		return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK
		           ? 0
		           : -1;
	if (strcmp(m, "HEAD") == 0)
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0
		                                                           : -1;
	if (req->body_len > 0) {
		if ((call->body = malloc(req->body_len)) == NULL)
			return -1;
		memcpy(call->body, req->body, req->body_len);
	}
	/* POSTFIELDS with an explicit size also for an empty body, so curl
	 * sends Content-Length: 0 (IMDSv2's token PUT wants it). */
	if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	        (curl_off_t)req->body_len) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS,
	        call->body != NULL ? call->body : "") != CURLE_OK)
		return -1;
	if (strcmp(m, "POST") != 0 &&
	    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
		return -1;
	return 0;
}

struct aws_http_call *
aws_http_send(struct aws_http *h, const struct aws_http_request *req,
    aws_http_cb cb, void *arg)
{
	struct aws_http_call *call;
	long timeout, connect_timeout;
	CURL *e;
	int bad = 0;

	if (h == NULL || h->dead || req == NULL || req->url == NULL ||
	    cb == NULL)
		return NULL;
	if ((call = calloc(1, sizeof(*call))) == NULL)
		return NULL;
	call->h = h;
	call->cb = cb;
	call->arg = arg;
	if ((call->easy = e = curl_easy_init()) == NULL)
		goto fail;
	for (size_t i = 0; i < req->n_headers; i++)
		if (http_add_header(&call->headers, req->headers[i].name,
		        req->headers[i].value) != 0)
			goto fail;
	/* No "Expect: 100-continue" round trip before big bodies: AWS
	 * answers at once, and the emulators do not all speak it. */
	if (http_add_header(&call->headers, "Expect", NULL) != 0 ||
	    http_set_method(call, req) != 0)
		goto fail;
	timeout =
	    req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	connect_timeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
	                                              : HTTP_DEFAULT_TIMEOUT_MS;
	bad |= curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
	       CURLE_OK;
#else
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	           (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
	bad |=
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, call) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb) !=
	       CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, call) != CURLE_OK;
	bad |=
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
	bad |= curl_easy_setopt(
	           e, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	/* One request per connection at a time, as the KPL does: the
	 * client's MaxConnections then means connections. */
	bad |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	           (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER,
	           req->insecure ? 0L : 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST,
	           req->insecure ? 0L : 2L) != CURLE_OK;
	if (bad)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &call->start);
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&h->calls, call, entry);
	return call;
fail:
	http_call_free(call);
	return NULL;
}

void
aws_http_cancel(struct aws_http_call *call)
{
	if (call == NULL || call->done)
		return;
	TAILQ_REMOVE(&call->h->calls, call, entry);
	curl_multi_remove_handle(call->h->multi, call->easy);
	http_call_free(call);
}
