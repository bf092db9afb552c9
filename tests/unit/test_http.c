/*
 * test_http.c — aws/http.c against an evhttp server on the same event
 * loop: statuses, request bodies and headers, big bodies and the body cap,
 * timeouts firing, connection refused, keep-alive reuse, cancel, and
 * freeing everything from inside a callback.
 *
 * The server runs in-process on 127.0.0.1 so the test needs nothing but
 * libevent; both sides share one event_base, which is exactly the
 * daemon's situation (nothing may block).
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "aws/aws.h"

struct srv {
	struct evhttp *http;
	int port;
	int requests;
};

static struct event_base *base;
static struct srv srv;
static struct aws_http *h;

/* ---- the server ---------------------------------------------------------- */

static void
srv_reply(struct evhttp_request *req, int code, const void *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, "X", b);
	evbuffer_free(b);
}

static void
srv_slow_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	srv_reply(arg, 200, "slow", 4);
}

static void
srv_handler(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	char buf[512];
	int n;

	(void)arg;
	srv.requests++;
	if (strncmp(uri, "/status/", 8) == 0) {
		int code = atoi(uri + 8);
		n = snprintf(buf, sizeof(buf), "status %d", code);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "x-amzn-RequestId", "req-123");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "x-amzn-ErrorType", "SomeError:http://x/");
		srv_reply(req, code, buf, (size_t)n);
	} else if (strncmp(uri, "/big/", 5) == 0) {
		size_t len = strtoul(uri + 5, NULL, 10);
		char *big = malloc(len);
		for (size_t i = 0; i < len; i++)
			big[i] = (char)('a' + i % 26);
		srv_reply(req, 200, big, len);
		free(big);
	} else if (strncmp(uri, "/crc/", 5) == 0) {
		/* "123456789" with the x-amz-crc32 given in the path. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "x-amz-crc32", uri + 5);
		srv_reply(req, 200, "123456789", 9);
	} else if (strcmp(uri, "/hang") == 0) {
		/* Never answered; evhttp frees it when the peer leaves. */
	} else if (strncmp(uri, "/slow/", 6) == 0) {
		struct timeval tv = {0, atoi(uri + 6) * 1000};
		event_base_once(base, -1, EV_TIMEOUT, srv_slow_cb, req, &tv);
	} else if (strcmp(uri, "/peer") == 0) {
		char *addr;
		ev_uint16_t port;
		evhttp_connection_get_peer(
		    evhttp_request_get_connection(req), &addr, &port);
		n = snprintf(buf, sizeof(buf), "%u", port);
		srv_reply(req, 200, buf, (size_t)n);
	} else if (strcmp(uri, "/echo") == 0) {
		const char *x = evhttp_find_header(in, "X-Test");
		const char *expect = evhttp_find_header(in, "Expect");
		const char *cl = evhttp_find_header(in, "Content-Length");
		const char *host = evhttp_find_header(in, "Host");
		static const char *const methods[] = {"GET", "POST", "HEAD",
		    "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"};
		enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
		const char *m = "?";
		for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++)
			if ((unsigned)cmd == (1u << i))
				m = methods[i];
		n = snprintf(buf, sizeof(buf),
		    "%s len=%zu x=%s expect=%s cl=%s host=%s", m,
		    evbuffer_get_length(evhttp_request_get_input_buffer(req)),
		    x ? x : "-", expect ? expect : "-", cl ? cl : "-",
		    host ? host : "-");
		srv_reply(req, 200, buf, (size_t)n);
	} else {
		srv_reply(req, 404, "no", 2);
	}
}

static void
setup(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *cause = NULL;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&srv, 0, sizeof(srv));
	srv.http = evhttp_new(base);
	evhttp_set_allowed_methods(
	    srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                  EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(srv.http, srv_handler, NULL);
	bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	getsockname(
	    evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	srv.port = ntohs(sin.sin_port);
	h = aws_http_new(base, &cause);
	ck_assert_msg(h != NULL, "aws_http_new: %s", cause);
}

static void
teardown(void)
{
	aws_http_free(h);
	h = NULL;
	evhttp_free(srv.http);
	event_base_free(base);
}

/* ---- the client side ----------------------------------------------------- */

struct got {
	int calls;
	long status;
	int terr;
	char err[256];
	char *body;
	size_t len;
	double secs;
	char reqid[64];
	char etype[64];
	int stop_after; /* loopbreak when calls reaches this */
};

static void
got_cb(const struct aws_http_response *r, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->status = r->status;
	g->terr = r->transport_err;
	snprintf(g->err, sizeof(g->err), "%s", r->error ? r->error : "");
	snprintf(g->reqid, sizeof(g->reqid), "%s",
	    r->request_id ? r->request_id : "");
	snprintf(g->etype, sizeof(g->etype), "%s",
	    r->error_type ? r->error_type : "");
	free(g->body);
	ck_assert_ptr_nonnull(r->body);
	ck_assert_int_eq(r->body[r->body_len], '\0');
	g->body = malloc(r->body_len + 1);
	memcpy(g->body, r->body, r->body_len + 1);
	g->len = r->body_len;
	g->secs = r->seconds;
	if (g->calls >= (g->stop_after > 0 ? g->stop_after : 1))
		event_base_loopbreak(base);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopbreak(base);
}

/* Runs the loop until a callback breaks it; fails after limit_ms. */
static void
run(int limit_ms)
{
	struct timeval tv = {limit_ms / 1000, (limit_ms % 1000) * 1000};
	int fired = 0;
	struct event *w = evtimer_new(base, watchdog_cb, &fired);

	evtimer_add(w, &tv);
	event_base_dispatch(base);
	event_free(w);
	ck_assert_msg(!fired, "nothing happened within %d ms", limit_ms);
}

/* Runs the loop for ms, expecting nothing to break it. */
static void
run_quiet(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int fired = 0;
	struct event *w = evtimer_new(base, watchdog_cb, &fired);

	evtimer_add(w, &tv);
	event_base_dispatch(base);
	event_free(w);
	ck_assert_msg(fired, "the loop ended early");
}

static char url[128];

static const char *
u(const char *path)
{
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv.port, path);
	return url;
}

static struct aws_http_call *
get(const char *path, struct got *g, long timeout_ms)
{
	struct aws_http_request req;

	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = u(path);
	req.timeout_ms = timeout_ms;
	return aws_http_send(h, &req, got_cb, g);
}

START_TEST(test_get_ok)
{
	struct got g = {0};

	ck_assert_ptr_nonnull(get("/status/200", &g, 0));
	run(5000);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(g.terr, 0);
	ck_assert_str_eq(g.body, "status 200");
	ck_assert_str_eq(g.reqid, "req-123");
	ck_assert_str_eq(g.etype, "SomeError:http://x/");
	ck_assert(g.secs > 0 && g.secs < 5);
	free(g.body);
}
END_TEST

/* zlib's check value, then a reply whose body does not match its
 * x-amz-crc32: a retriable transport error, never a 200 with that body. */
START_TEST(test_crc32)
{
	static const struct {
		const char *path;
		int ok;
	} cases[] = {
	    {"/crc/3421780262", 1}, /* 0xcbf43926 */
	    {"/crc/3421780263", 0},
	    {"/crc/x", 0},
	    {"/crc/99999999999", 0},
	};

	ck_assert_uint_eq(aws_crc32("123456789", 9), 0xcbf43926u);
	ck_assert_uint_eq(aws_crc32("", 0), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct got g = {0};
		ck_assert_ptr_nonnull(get(cases[i].path, &g, 0));
		run(5000);
		ck_assert_int_eq(g.calls, 1);
		if (cases[i].ok) {
			ck_assert_int_eq(g.status, 200);
			ck_assert_int_eq(g.terr, 0);
			ck_assert_str_eq(g.body, "123456789");
		} else {
			ck_assert_int_eq(g.status, 0);
			ck_assert_int_ne(g.terr, 0);
			ck_assert_int_eq(aws_retry_classify(0, NULL, g.terr),
			    AWS_ERR_RETRIABLE);
		}
		free(g.body);
	}
}
END_TEST

START_TEST(test_statuses)
{
	static const int codes[] = {201, 400, 403, 404, 429, 500, 502, 503};

	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++) {
		struct got g = {0};
		char path[32], want[32];
		snprintf(path, sizeof(path), "/status/%d", codes[i]);
		snprintf(want, sizeof(want), "status %d", codes[i]);
		ck_assert_ptr_nonnull(get(path, &g, 0));
		run(5000);
		ck_assert_int_eq(g.status, codes[i]);
		ck_assert_int_eq(g.terr, 0);
		ck_assert_str_eq(g.body, want);
		free(g.body);
	}
}
END_TEST

START_TEST(test_post_echo)
{
	struct aws_header hdrs[] = {
	    {"X-Test", "hello"}, {"Host", "example.test:99"}};
	struct aws_http_request req;
	char body[3000];
	struct got g = {0};

	memset(body, 'b', sizeof(body));
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = u("/echo");
	req.headers = hdrs;
	req.n_headers = 2;
	req.body = body;
	req.body_len = sizeof(body);
	ck_assert_ptr_nonnull(aws_http_send(h, &req, got_cb, &g));
	memset(body, 0, sizeof(body)); /* the body was copied */
	run(5000);
	ck_assert_int_eq(g.status, 200);
	/* No Expect: 100-continue round trip; our Host header wins. */
	ck_assert_str_eq(g.body, "POST len=3000 x=hello expect=- cl=3000 "
	                         "host=example.test:99");
	free(g.body);

	/* An empty PUT still says Content-Length: 0 (IMDSv2 needs it). */
	memset(&g, 0, sizeof(g));
	req.method = "PUT";
	req.headers = NULL;
	req.n_headers = 0;
	req.body = NULL;
	req.body_len = 0;
	ck_assert_ptr_nonnull(aws_http_send(h, &req, got_cb, &g));
	run(5000);
	ck_assert_int_eq(g.status, 200);
	ck_assert_ptr_nonnull(strstr(g.body, "PUT len=0 x=- expect=- cl=0"));
	free(g.body);
}
END_TEST

START_TEST(test_big_body)
{
	struct got g = {0};
	const size_t len = 10u << 20;

	ck_assert_ptr_nonnull(get("/big/10485760", &g, 20000));
	run(20000);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(g.len, len);
	for (size_t i = 0; i < len; i += 4099)
		ck_assert_int_eq(g.body[i], 'a' + (int)(i % 26));
	free(g.body);
}
END_TEST

START_TEST(test_body_cap)
{
	struct got g = {0};

	aws_http_set_max_body(h, 1u << 20);
	ck_assert_ptr_nonnull(get("/big/2097152", &g, 10000));
	run(10000);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.terr, CURLE_WRITE_ERROR);
	ck_assert_str_eq(g.err, "response body too large");
	free(g.body);

	/* Exactly at the cap is fine. */
	memset(&g, 0, sizeof(g));
	ck_assert_ptr_nonnull(get("/big/1048576", &g, 10000));
	run(10000);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(g.len, 1u << 20);
	free(g.body);
}
END_TEST

START_TEST(test_timeout)
{
	struct got g = {0};

	ck_assert_ptr_nonnull(get("/hang", &g, 300));
	run(5000);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.terr, CURLE_OPERATION_TIMEDOUT);
	ck_assert_msg(g.secs >= 0.25 && g.secs < 2.0, "took %.3f s", g.secs);
	ck_assert_int_eq(
	    aws_retry_classify(g.status, NULL, g.terr), AWS_ERR_RETRIABLE);
	free(g.body);
}
END_TEST

START_TEST(test_refused)
{
	struct aws_http_request req;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct got g = {0};
	char where[64];
	int fd;

	/* A port that was free a moment ago and has no listener. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	close(fd);
	snprintf(
	    where, sizeof(where), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = where;
	ck_assert_ptr_nonnull(aws_http_send(h, &req, got_cb, &g));
	run(5000);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.terr, CURLE_COULDNT_CONNECT);
	ck_assert_str_ne(g.err, "");
	free(g.body);
}
END_TEST

START_TEST(test_bad_requests)
{
	struct aws_http_request req;
	struct got g = {0};

	memset(&req, 0, sizeof(req));
	ck_assert_ptr_null(aws_http_send(h, &req, got_cb, &g)); /* no URL */
	req.url = u("/status/200");
	ck_assert_ptr_null(aws_http_send(h, &req, NULL, &g)); /* no cb */
	ck_assert_ptr_null(aws_http_send(NULL, &req, got_cb, &g));
	/* Only http and https. */
	req.url = "ftp://127.0.0.1/x";
	ck_assert_ptr_nonnull(aws_http_send(h, &req, got_cb, &g));
	run(5000);
	ck_assert_int_eq(g.terr, CURLE_UNSUPPORTED_PROTOCOL);
	ck_assert_int_eq(aws_retry_classify(0, NULL, g.terr), AWS_ERR_TERMINAL);
	free(g.body);
}
END_TEST

START_TEST(test_keepalive)
{
	char first[32] = "";

	for (int i = 0; i < 4; i++) {
		struct got g = {0};
		ck_assert_ptr_nonnull(get("/peer", &g, 0));
		run(5000);
		ck_assert_int_eq(g.status, 200);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", g.body);
		else /* the same client port: the same connection */
			ck_assert_str_eq(g.body, first);
		free(g.body);
	}
}
END_TEST

START_TEST(test_concurrent)
{
	struct got g = {0};

	g.stop_after = 25;
	for (int i = 0; i < 25; i++)
		ck_assert_ptr_nonnull(
		    get(i % 2 ? "/slow/50" : "/status/200", &g, 0));
	run(10000);
	ck_assert_int_eq(g.calls, 25);
	free(g.body);
}
END_TEST

START_TEST(test_cancel)
{
	struct got cancelled = {0}, g = {0};
	struct aws_http_call *c;

	c = get("/slow/100", &cancelled, 0);
	ck_assert_ptr_nonnull(c);
	aws_http_cancel(c);
	aws_http_cancel(NULL);
	/* One that got going before being cancelled. */
	c = get("/hang", &cancelled, 0);
	ck_assert_ptr_nonnull(get("/slow/200", &g, 0));
	run_quiet(100);
	aws_http_cancel(c);
	run(5000);
	ck_assert_int_eq(g.calls, 1);
	run_quiet(300);
	ck_assert_int_eq(cancelled.calls, 0);
	free(g.body);
}
END_TEST

START_TEST(test_free_with_calls)
{
	struct got g = {0};

	/* (Only /hang: a /slow reply to a client that left would be the
	 * test server's use-after-free.) */
	ck_assert_ptr_nonnull(get("/hang", &g, 0));
	ck_assert_ptr_nonnull(get("/hang", &g, 0));
	run_quiet(20);
	aws_http_free(h);
	h = NULL;
	run_quiet(200);
	ck_assert_int_eq(g.calls, 0);
}
END_TEST

/* A callback that tears the whole aws_http down. */
static void
free_cb(const struct aws_http_response *r, void *arg)
{
	struct got *g = arg;

	(void)r;
	g->calls++;
	aws_http_free(h);
	h = NULL;
	event_base_loopbreak(base);
}

START_TEST(test_free_in_callback)
{
	struct aws_http_request req;
	struct got g = {0}, other = {0};

	ck_assert_ptr_nonnull(get("/hang", &other, 0));
	memset(&req, 0, sizeof(req));
	req.url = u("/status/200"); /* u() reuses one buffer */
	ck_assert_ptr_nonnull(aws_http_send(h, &req, free_cb, &g));
	run(5000);
	ck_assert_int_eq(g.calls, 1);
	run_quiet(200);
	ck_assert_int_eq(other.calls, 0);
}
END_TEST

/* A callback that starts the next request, and cancels itself (no-op). */
struct chain {
	int left;
	struct aws_http_call *self;
	int done;
};

static void
chain_cb(const struct aws_http_response *r, void *arg)
{
	struct chain *c = arg;
	struct aws_http_request req;

	ck_assert_int_eq(r->status, 200);
	aws_http_cancel(c->self); /* inside its own callback: no effect */
	if (--c->left == 0) {
		c->done = 1;
		event_base_loopbreak(base);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.url = u("/status/200");
	c->self = aws_http_send(h, &req, chain_cb, c);
	ck_assert_ptr_nonnull(c->self);
}

START_TEST(test_send_from_callback)
{
	struct aws_http_request req;
	struct chain c = {5, NULL, 0};

	memset(&req, 0, sizeof(req));
	req.url = u("/status/200");
	c.self = aws_http_send(h, &req, chain_cb, &c);
	run(5000);
	ck_assert_int_eq(c.done, 1);
	ck_assert_int_eq(srv.requests, 5);
}
END_TEST

START_TEST(test_asynch_dns)
{
	/* The daemon relies on curl resolving names off the loop. */
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	ck_assert(v->features & CURL_VERSION_ASYNCHDNS);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("loopback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_get_ok);
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_statuses);
	tcase_add_test(tc, test_post_echo);
	tcase_add_test(tc, test_big_body);
	tcase_add_test(tc, test_body_cap);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_free_with_calls);
	tcase_add_test(tc, test_free_in_callback);
	tcase_add_test(tc, test_send_from_callback);
	tcase_add_test(tc, test_asynch_dns);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
