/*
 * test_client.c — aws/client.c against a scripted fake AWS endpoint (an
 * evhttp server on the same loop): the signed request's headers, error
 * replies and their __type/message, malformed replies of every kind (never
 * a crash, always a clean error), retries with back-off, the expired-token
 * refresh, the connection limit and its FIFO queue, timeouts, cancel and
 * free at every stage, metrics, and the redacted wire trace.
 *
 * Credentials come from the environment (the real aws/credentials.c);
 * IMDS is disabled so nothing leaves the host.
 */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "aws/aws.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define AKID   "AKIDCLIENTTEST"
#define SECRET "client-test-secret-key"
#define TOKEN  "client-test-session-token"

/* ---- the scripted server ------------------------------------------------- */

struct step {
	int status;
	const char *body;       /* NULL: "{}" */
	size_t body_len;        /* 0: strlen(body) */
	const char *error_type; /* x-amzn-ErrorType header, or NULL */
	int delay_ms;           /* reply after this long; -1: never */
};

#define MAX_SEEN 64
struct seen {
	char target[128];
	char auth[512];
	char token[128];
	char date[32];
	char host[64];
	char ctype[64];
	size_t body_len;
	char body[256];
};

static struct {
	struct evhttp *http;
	int port;
	const struct step *script;
	size_t n_script;
	int requests;
	int pending; /* requests not yet answered */
	int max_pending;
	struct seen seen[MAX_SEEN];
} srv;

static struct event_base *base;
static struct aws_http *http;
static struct aws_credentials *creds;

static void
hdr_copy(char *dst, size_t size, struct evkeyvalq *h, const char *name)
{
	const char *v = evhttp_find_header(h, name);

	snprintf(dst, size, "%s", v != NULL ? v : "");
}

static void
srv_answer(struct evhttp_request *req, const struct step *st)
{
	struct evbuffer *b = evbuffer_new();
	const char *body = st->body != NULL ? st->body : "{}";
	size_t len = st->body_len > 0 ? st->body_len : strlen(body);

	evbuffer_add(b, body, len);
	if (st->error_type != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "x-amzn-ErrorType", st->error_type);
	evhttp_send_reply(req, st->status, "X", b);
	evbuffer_free(b);
	srv.pending--;
}

struct later {
	struct evhttp_request *req;
	const struct step *st;
};

static void
srv_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	(void)fd;
	(void)what;
	srv_answer(l->req, l->st);
	free(l);
}

static void
srv_handler(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t i = (size_t)srv.requests;
	const struct step *st;
	struct seen *s;

	(void)arg;
	if (i < MAX_SEEN) {
		s = &srv.seen[i];
		hdr_copy(s->target, sizeof(s->target), in, "X-Amz-Target");
		hdr_copy(s->auth, sizeof(s->auth), in, "Authorization");
		hdr_copy(
		    s->token, sizeof(s->token), in, "X-Amz-Security-Token");
		hdr_copy(s->date, sizeof(s->date), in, "X-Amz-Date");
		hdr_copy(s->host, sizeof(s->host), in, "Host");
		hdr_copy(s->ctype, sizeof(s->ctype), in, "Content-Type");
		s->body_len = evbuffer_get_length(body);
		evbuffer_copyout(body, s->body, sizeof(s->body) - 1);
	}
	srv.requests++;
	srv.pending++;
	if (srv.pending > srv.max_pending)
		srv.max_pending = srv.pending;
	st = &srv.script[i < srv.n_script ? i : srv.n_script - 1];
	/* Operation "Hang" is never answered, whatever the script says. */
	if (strcmp(evhttp_find_header(in, "X-Amz-Target") != NULL
	               ? evhttp_find_header(in, "X-Amz-Target")
	               : "",
	        "Test_20200101.Hang") == 0)
		return;
	if (st->delay_ms < 0)
		return; /* never answered */
	if (st->delay_ms > 0) {
		struct later *l = malloc(sizeof(*l));
		struct timeval tv = {0, st->delay_ms * 1000};
		l->req = req;
		l->st = st;
		event_base_once(base, -1, EV_TIMEOUT, srv_later_cb, l, &tv);
		return;
	}
	srv_answer(req, st);
}

#define SCRIPT(...)                                                            \
	do {                                                                   \
		static const struct step s_[] = {__VA_ARGS__};                 \
		srv.script = s_;                                               \
		srv.n_script = sizeof(s_) / sizeof(*s_);                       \
	} while (0)

static void
setup(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *cause = NULL;

	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);

	base = event_base_new();
	memset(&srv, 0, sizeof(srv));
	SCRIPT({200, NULL, 0, NULL, 0});
	srv.http = evhttp_new(base);
	evhttp_set_gencb(srv.http, srv_handler, NULL);
	bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	getsockname(
	    evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	srv.port = ntohs(sin.sin_port);
	http = aws_http_new(base, &cause);
	ck_assert_ptr_nonnull(http);
	creds = aws_credentials_new(base, http);
	ck_assert_ptr_nonnull(creds);
}

static void
teardown(void)
{
	aws_credentials_free(creds);
	aws_http_free(http);
	evhttp_free(srv.http);
	event_base_free(base);
}

/* ---- the client side ----------------------------------------------------- */

static char endpoint[64];

static struct aws_client *
client(unsigned max_conn, unsigned max_attempts, long timeout_ms,
    struct metrics *m)
{
	struct aws_client_opts o;
	struct aws_client *c;
	char *cause = NULL;

	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
	memset(&o, 0, sizeof(o));
	o.service = "kinesis";
	o.target_prefix = "Test_20200101";
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.verify_certificate = 1;
	o.max_connections = max_conn;
	o.max_attempts = max_attempts;
	o.request_timeout_ms = timeout_ms;
	o.retry_base_ms = 5;
	o.retry_cap_ms = 50;
	c = aws_client_new(http, creds, m, &o, &cause);
	ck_assert_msg(c != NULL, "aws_client_new: %s", cause);
	return c;
}

struct got {
	int calls;
	enum aws_err err;
	long status;
	char type[128];
	char message[512];
	int has_type;
	unsigned attempts;
	char *json; /* printed reply */
	int stop_after;
	int in_call; /* set while aws_client_call runs */
};

static void
got_cb(const struct aws_result *r, void *arg)
{
	struct got *g = arg;

	ck_assert_msg(!g->in_call, "callback from inside aws_client_call");
	g->calls++;
	g->err = r->err;
	g->status = r->status;
	g->has_type = r->type != NULL;
	snprintf(g->type, sizeof(g->type), "%s", r->type ? r->type : "");
	snprintf(
	    g->message, sizeof(g->message), "%s", r->message ? r->message : "");
	g->attempts = r->attempts;
	free(g->json);
	g->json = r->json != NULL ? cJSON_PrintUnformatted(r->json) : NULL;
	if (r->err == AWS_OK)
		ck_assert_ptr_nonnull(r->json);
	else
		ck_assert_ptr_null(r->json);
	if (g->calls >= (g->stop_after > 0 ? g->stop_after : 1))
		event_base_loopbreak(base);
}

static struct aws_call *
call(struct aws_client *c, const char *op, const char *body, unsigned attempts,
    struct got *g)
{
	struct aws_call *ac;

	g->in_call = 1;
	ac = aws_client_call(c, op, strdup(body), attempts, got_cb, g);
	g->in_call = 0;
	return ac;
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopbreak(base);
}

static void
run_for(int ms, int expect_quiet)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	int fired = 0;
	struct event *w = evtimer_new(base, watchdog_cb, &fired);

	evtimer_add(w, &tv);
	event_base_dispatch(base);
	event_free(w);
	if (expect_quiet)
		ck_assert_msg(fired, "the loop ended early");
	else
		ck_assert_msg(!fired, "nothing happened within %d ms", ms);
}
#define run(ms)       run_for((ms), 0)
#define run_quiet(ms) run_for((ms), 1)

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_signed_request)
{
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};
	char want_host[64];

	SCRIPT({200, "{\"a\":1,\"b\":\"x\"}", 0, NULL, 0});
	ck_assert_ptr_nonnull(call(c, "DoThing", "{\"q\":\"v\"}", 0, &g));
	run(5000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(g.attempts, 1);
	ck_assert_str_eq(g.json, "{\"a\":1,\"b\":\"x\"}");
	ck_assert_str_eq(srv.seen[0].target, "Test_20200101.DoThing");
	ck_assert_str_eq(srv.seen[0].ctype, "application/x-amz-json-1.1");
	ck_assert_str_eq(srv.seen[0].token, TOKEN);
	ck_assert_str_eq(srv.seen[0].body, "{\"q\":\"v\"}");
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%d", srv.port);
	ck_assert_str_eq(srv.seen[0].host, want_host);
	ck_assert_uint_eq(strlen(srv.seen[0].date), 16);
	ck_assert_msg(strncmp(srv.seen[0].auth,
	                  "AWS4-HMAC-SHA256 Credential=" AKID "/", 37) == 0,
	    "auth: %s", srv.seen[0].auth);
	ck_assert_ptr_nonnull(
	    strstr(srv.seen[0].auth, "/us-east-1/kinesis/aws4_request"));
	ck_assert_ptr_nonnull(strstr(srv.seen[0].auth,
	    "SignedHeaders=content-type;host;x-amz-date;"
	    "x-amz-security-token;x-amz-target"));
	ck_assert_ptr_nonnull(strstr(srv.seen[0].auth, "Signature="));
	ck_assert_str_eq(aws_client_endpoint(c), endpoint);
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_no_session_token)
{
	struct aws_client *c;
	struct got g = {0};

	unsetenv("AWS_SESSION_TOKEN");
	aws_credentials_reset(creds);
	c = client(0, 1, 0, NULL);
	call(c, "Op", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_str_eq(srv.seen[0].token, "");
	ck_assert_ptr_nonnull(strstr(srv.seen[0].auth,
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_empty_200)
{
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};

	SCRIPT({200, "", 0, NULL, 0}, {200, " \r\n", 0, NULL, 0});
	call(c, "DeleteStream", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_str_eq(g.json, "{}");
	call(c, "DeleteStream", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_str_eq(g.json, "{}");
	aws_client_free(c);
	free(g.json);
}
END_TEST

/* Error replies: what __type, message and the class come out as. */
struct err_case {
	int status;
	const char *body;
	const char *header;
	enum aws_err err;
	const char *type; /* NULL: none expected */
	const char *message_has;
};

static const struct err_case err_cases[] = {
    {400,
        "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
        "ConditionalCheckFailedException\",\"message\":\"nope\"}",
        NULL, AWS_ERR_TERMINAL, "ConditionalCheckFailedException", "nope"},
    {400, "{\"__type\":\"ResourceNotFoundException\",\"Message\":\"gone\"}",
        NULL, AWS_ERR_TERMINAL, "ResourceNotFoundException", "gone"},
    {400, "{\"__type\":\"a#b#Throttling:x\",\"message\":\"m\"}", NULL,
        AWS_ERR_THROTTLED, "Throttling", "m"},
    {400, "{\"__type\":\"#\"}", NULL, AWS_ERR_TERMINAL, NULL, "HTTP 400"},
    {400, "{\"__type\":5,\"message\":[1,2]}", NULL, AWS_ERR_TERMINAL, NULL,
        "HTTP 400"},
    {400, "{\"__type\":null,\"message\":{\"a\":1}}", NULL, AWS_ERR_TERMINAL,
        NULL, "HTTP 400"},
    {400, "[\"__type\"]", NULL, AWS_ERR_TERMINAL, NULL, "HTTP 400"},
    {400, "not json at all", "ValidationException:http://internal/",
        AWS_ERR_TERMINAL, "ValidationException", "not json at all"},
    {403, "<AccessDenied/>", NULL, AWS_ERR_TERMINAL, NULL, "HTTP 403"},
    {429, "", NULL, AWS_ERR_THROTTLED, NULL, "HTTP 429"},
    {500, "{\"__type\":\"InternalFailure\"}", NULL, AWS_ERR_RETRIABLE,
        "InternalFailure", "HTTP 500"},
    {502, "<html>bad gateway</html>", NULL, AWS_ERR_RETRIABLE, NULL,
        "bad gateway"},
    {400, "{\"__type\":\"ExpiredTokenException\",\"message\":\"old\"}", NULL,
        AWS_ERR_CREDENTIALS, "ExpiredTokenException", "old"},
    {302, "", NULL, AWS_ERR_TERMINAL, NULL, "HTTP 302"},
};

START_TEST(test_error_replies)
{
	const struct err_case *ec = &err_cases[_i];
	struct step st = {ec->status, ec->body, 0, ec->header, 0};
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};

	srv.script = &st;
	srv.n_script = 1;
	call(c, "Op", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_msg(g.err == ec->err, "class %s, want %s",
	    aws_err_name(g.err), aws_err_name(ec->err));
	ck_assert_int_eq(g.status, ec->status);
	if (ec->type != NULL)
		ck_assert_str_eq(g.type, ec->type);
	else
		ck_assert_msg(!g.has_type, "unexpected type %s", g.type);
	ck_assert_msg(strstr(g.message, ec->message_has) != NULL,
	    "message \"%s\" lacks \"%s\"", g.message, ec->message_has);
	/* The expired token is retried once whatever max_attempts says. */
	ck_assert_uint_eq(g.attempts, ec->err == AWS_ERR_CREDENTIALS ? 2 : 1);
	aws_client_free(c);
	free(g.json);
}
END_TEST

/* 200 replies that are not a JSON object: a clean retriable error. */
static const char *const bad_bodies[] = {
    "{\"a\":",
    "{\"a\":1",
    "[1,2,3]",
    "\"just a string\"",
    "123",
    "null",
    "true",
    "<html><body>Service Unavailable</body></html>",
    "{\"a\":1}garbage",
    "{\"a\":\"\\ud800\"", /* truncated in a string escape */
    "\xff\xfe\x00\x01binary",
};

START_TEST(test_malformed_200)
{
	const char *body = bad_bodies[_i];
	size_t len = _i == 10 ? 10 : strlen(body);
	struct step st = {200, body, len, NULL, 0};
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};

	srv.script = &st;
	srv.n_script = 1;
	call(c, "Op", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.calls, 1);
	ck_assert_int_eq(g.err, AWS_ERR_RETRIABLE);
	ck_assert_int_eq(g.status, 200);
	ck_assert_msg(
	    strstr(g.message, "not a JSON object") != NULL, "%s", g.message);
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_deep_nesting)
{
	/* cJSON's nesting limit, not our stack, stops this. */
	size_t n = 200000;
	char *body = malloc(n + 1);
	struct step st = {200, NULL, 0, NULL, 0};
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};

	memset(body, '[', n);
	body[n] = '\0';
	st.body = body;
	srv.script = &st;
	srv.n_script = 1;
	call(c, "Op", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_ERR_RETRIABLE);
	aws_client_free(c);
	free(body);
	free(g.json);
}
END_TEST

START_TEST(test_retry_then_ok)
{
	struct aws_client *c = client(0, 3, 0, NULL);
	struct got g = {0};

	SCRIPT({400, "{\"__type\":\"ProvisionedThroughputExceededException\"}",
	           0, NULL, 0},
	    {503, "", 0, NULL, 0}, {200, "{\"ok\":true}", 0, NULL, 0});
	call(c, "PutRecords", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_uint_eq(g.attempts, 3);
	ck_assert_int_eq(srv.requests, 3);
	/* Each attempt signed anew. */
	ck_assert_str_eq(srv.seen[2].target, "Test_20200101.PutRecords");
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_retries_exhausted)
{
	struct aws_client *c = client(0, 2, 0, NULL);
	struct got g = {0};

	SCRIPT({500, "{\"__type\":\"InternalFailure\"}", 0, NULL, 0});
	call(c, "Op", "{}", 4, &g); /* per call: 4 */
	run(5000);
	ck_assert_int_eq(g.err, AWS_ERR_RETRIABLE);
	ck_assert_uint_eq(g.attempts, 4);
	ck_assert_int_eq(srv.requests, 4);
	ck_assert_str_eq(g.type, "InternalFailure");
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_terminal_not_retried)
{
	struct aws_client *c = client(0, 5, 0, NULL);
	struct got g = {0};

	SCRIPT({400, "{\"__type\":\"ValidationException\"}", 0, NULL, 0});
	call(c, "Op", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_ERR_TERMINAL);
	ck_assert_uint_eq(g.attempts, 1);
	run_quiet(100);
	ck_assert_int_eq(srv.requests, 1);
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_expired_token_refreshed)
{
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};

	SCRIPT({400, "{\"__type\":\"ExpiredTokenException\"}", 0, NULL, 0},
	    {200, "{}", 0, NULL, 0});
	/* The refresh re-reads the chain: the new token is used. */
	call(c, "Op", "{}", 0, &g);
	setenv("AWS_SESSION_TOKEN", "fresh-token", 1);
	run(5000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_uint_eq(g.attempts, 2);
	ck_assert_str_eq(srv.seen[0].token, TOKEN);
	ck_assert_str_eq(srv.seen[1].token, "fresh-token");
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_no_credentials)
{
	struct aws_client *c;
	struct got g = {0};

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	aws_credentials_reset(creds);
	c = client(0, 2, 0, NULL);
	call(c, "Op", "{}", 0, &g);
	run(10000);
	ck_assert_int_eq(g.err, AWS_ERR_CREDENTIALS);
	ck_assert_uint_eq(g.attempts, 2);
	ck_assert_int_eq(srv.requests, 0);
	ck_assert_ptr_nonnull(strstr(g.message, "no AWS credentials"));
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_connection_limit_fifo)
{
	struct aws_client *c = client(2, 1, 0, NULL);
	struct got g = {0};
	char body[32];

	SCRIPT({200, "{}", 0, NULL, 30});
	g.stop_after = 7;
	for (int i = 0; i < 7; i++) {
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		ck_assert_ptr_nonnull(call(c, "Op", body, 0, &g));
	}
	ck_assert_uint_le(aws_client_in_flight(c), 2);
	ck_assert_uint_ge(aws_client_queued(c), 5);
	run(10000);
	ck_assert_int_eq(g.calls, 7);
	ck_assert_int_eq(srv.requests, 7);
	ck_assert_int_le(srv.max_pending, 2);
	ck_assert_int_eq(srv.max_pending, 2);
	/* First in, first out: with two connections, call n reaches the
	 * server as request n-1, n or n+1, never later. */
	for (int i = 0; i < 7; i++) {
		int n = -1;
		sscanf(srv.seen[i].body, "{\"n\":%d}", &n);
		ck_assert_msg(
		    n >= i - 1 && n <= i + 1, "call %d arrived %d-th", n, i);
	}
	ck_assert_uint_eq(aws_client_in_flight(c), 0);
	ck_assert_uint_eq(aws_client_queued(c), 0);
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_timeout_retried)
{
	struct aws_client *c = client(0, 2, 200, NULL);
	struct got g = {0};

	SCRIPT({200, "{}", 0, NULL, -1});
	call(c, "GetShardIterator", "{}", 0, &g);
	run(5000);
	ck_assert_int_eq(g.err, AWS_ERR_RETRIABLE);
	ck_assert_int_eq(g.status, 0);
	ck_assert_uint_eq(g.attempts, 2);
	ck_assert_int_eq(srv.requests, 2);
	ck_assert_msg(strstr(g.message, "imed out") != NULL, "%s", g.message);
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_refused_async)
{
	struct aws_client_opts o;
	struct aws_client *c;
	struct got g = {0};
	char *cause = NULL;

	/* Port 1 on loopback: refused at once, reported from the loop. */
	memset(&o, 0, sizeof(o));
	o.service = "kinesis";
	o.target_prefix = "T";
	o.region = "us-east-1";
	o.endpoint = "http://127.0.0.1:1";
	o.max_attempts = 1;
	c = aws_client_new(http, creds, NULL, &o, &cause);
	ck_assert_ptr_nonnull(c);
	call(c, "Op", "{}", 0, &g);
	ck_assert_int_eq(g.calls, 0);
	run(5000);
	ck_assert_int_eq(g.err, AWS_ERR_RETRIABLE);
	ck_assert_int_eq(g.status, 0);
	aws_client_free(c);
	free(g.json);
}
END_TEST

/* A client whose back-off is long enough to catch a call waiting in it. */
static struct aws_client *
slow_retry_client(unsigned max_conn)
{
	struct aws_client_opts o;
	struct aws_client *c;
	char *cause = NULL;

	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
	memset(&o, 0, sizeof(o));
	o.service = "kinesis";
	o.target_prefix = "Test_20200101";
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.max_connections = max_conn;
	o.max_attempts = 5;
	o.retry_base_ms = 60000;
	o.retry_cap_ms = 60000;
	c = aws_client_new(http, creds, NULL, &o, &cause);
	ck_assert_ptr_nonnull(c);
	return c;
}

START_TEST(test_cancel_queued_and_in_flight)
{
	struct aws_client *c = client(1, 3, 0, NULL);
	struct got a = {0}, b = {0};
	struct aws_call *ca, *cb;

	SCRIPT({200, "{}", 0, NULL, -1});
	ca = call(c, "Op", "{}", 0, &a);
	cb = call(c, "Op", "{}", 0, &b);
	ck_assert_uint_eq(aws_client_queued(c), 1); /* limit 1 */
	aws_call_cancel(cb);
	ck_assert_uint_eq(aws_client_queued(c), 0);
	run_quiet(50);
	ck_assert_int_eq(srv.requests, 1);
	aws_call_cancel(ca);
	ck_assert_uint_eq(aws_client_in_flight(c), 0);
	aws_call_cancel(NULL);
	run_quiet(100);
	ck_assert_int_eq(a.calls + b.calls, 0);
	aws_client_free(c);
}
END_TEST

START_TEST(test_cancel_in_backoff)
{
	/* Retry base 60 s: a full-jitter delay of under 0.2 s would make
	 * this test see a second request; at 1 in 300 it is rare enough
	 * not to matter, and the assertion names it. */
	struct aws_client *c = slow_retry_client(0);
	struct got g = {0};
	struct aws_call *ac;

	SCRIPT({503, "", 0, NULL, 0});
	ac = call(c, "Op", "{}", 0, &g);
	run_quiet(200);
	ck_assert_msg(srv.requests == 1, "back-off shorter than 0.2 s?");
	ck_assert_uint_eq(aws_client_in_flight(c), 0);
	aws_call_cancel(ac);
	run_quiet(100);
	ck_assert_int_eq(g.calls, 0);
	aws_client_free(c);
}
END_TEST

START_TEST(test_free_with_calls_everywhere)
{
	struct aws_client *c = slow_retry_client(2);
	struct got a = {0}, b = {0}, d = {0};

	/* a: answered 503, now in back-off; b: never answered, in flight;
	 * d: queued behind them once the limit is reached. */
	SCRIPT({503, "", 0, NULL, 0}, {200, "{}", 0, NULL, -1},
	    {200, "{}", 0, NULL, -1});
	call(c, "Op", "{}", 0, &a);
	run_quiet(100);
	call(c, "Op", "{}", 0, &b);
	call(c, "Op", "{}", 0, &d);
	call(c, "Op", "{}", 0, &d);
	run_quiet(100);
	ck_assert_uint_eq(aws_client_in_flight(c), 2);
	ck_assert_uint_eq(aws_client_queued(c), 1);
	aws_client_free(c);
	run_quiet(100);
	ck_assert_int_eq(a.calls + b.calls + d.calls, 0);
}
END_TEST

struct selfish {
	struct aws_client *c;
	struct aws_call *self;
	int calls;
	int free_client;
	struct got next;
};

static void
selfish_cb(const struct aws_result *r, void *arg)
{
	struct selfish *s = arg;

	(void)r;
	s->calls++;
	aws_call_cancel(s->self); /* its own call: a no-op */
	if (s->free_client) {
		aws_client_free(s->c);
	} else {
		/* A new call from the callback works. */
		ck_assert_ptr_nonnull(aws_client_call(
		    s->c, "Next", strdup("{}"), 0, got_cb, &s->next));
		return;
	}
	event_base_loopbreak(base);
}

START_TEST(test_callbacks_may_call_cancel_free)
{
	struct selfish s = {0};
	struct got other = {0};

	SCRIPT({200, "{}", 0, NULL, 0});
	s.c = client(0, 1, 0, NULL);
	s.self = aws_client_call(s.c, "Op", strdup("{}"), 0, selfish_cb, &s);
	run(5000); /* got_cb of "Next" breaks the loop */
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.next.calls, 1);
	ck_assert_int_eq(s.next.err, AWS_OK);
	free(s.next.json);

	/* Free the client from inside one callback, another call pending. */
	s.free_client = 1;
	s.calls = 0;
	call(s.c, "Hang", "{}", 0, &other);
	s.self = aws_client_call(s.c, "Op", strdup("{}"), 0, selfish_cb, &s);
	run(5000);
	ck_assert_int_eq(s.calls, 1);
	run_quiet(100);
	ck_assert_int_eq(other.calls, 0);
}
END_TEST

START_TEST(test_metrics)
{
	struct metrics *m = metrics_new();
	struct aws_client *c = client(0, 1, 0, m);
	struct evbuffer *out = evbuffer_new();
	struct got g = {0};
	char *text;

	SCRIPT({200, "{}", 0, NULL, 0},
	    {400, "{\"__type\":\"ValidationException\"}", 0, NULL, 0});
	call(c, "PutRecords", "{}", 0, &g);
	run(5000);
	call(c, "PutRecords", "{}", 0, &g);
	run(5000);
	aws_client_free(c);
	/* A transport error counts as status "error". */
	{
		struct aws_client_opts o;
		char *cause = NULL;
		memset(&o, 0, sizeof(o));
		o.service = "dynamodb";
		o.target_prefix = "T";
		o.region = "us-east-1";
		o.endpoint = "http://127.0.0.1:1";
		o.max_attempts = 1;
		c = aws_client_new(http, creds, m, &o, &cause);
		call(c, "Scan", "{}", 0, &g);
		run(5000);
		aws_client_free(c);
	}
	metrics_render(m, out);
	evbuffer_add(out, "", 1);
	text = (char *)evbuffer_pullup(out, -1);
	ck_assert_msg(strstr(text, "kinesisd_aws_requests_total{service="
	                           "\"kinesis\",operation=\"PutRecords\","
	                           "status=\"200\"} 1") != NULL,
	    "%s", text);
	ck_assert_ptr_nonnull(strstr(text,
	    "kinesisd_aws_requests_total{service=\"kinesis\",operation="
	    "\"PutRecords\",status=\"400\"} 1"));
	ck_assert_ptr_nonnull(strstr(text,
	    "kinesisd_aws_requests_total{service=\"dynamodb\",operation="
	    "\"Scan\",status=\"error\"} 1"));
	ck_assert_ptr_nonnull(
	    strstr(text, "kinesisd_aws_request_duration_seconds_count{service="
	                 "\"kinesis\",operation=\"PutRecords\"} 2"));
	evbuffer_free(out);
	metrics_free(m);
	free(g.json);
}
END_TEST

START_TEST(test_wire_trace_redacted)
{
	char path[] = "/tmp/kd-trace-XXXXXX", buf[65536];
	struct aws_client *c = client(0, 1, 0, NULL);
	struct got g = {0};
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	SCRIPT({200, "{\"reply\":\"visible\"}", 0, NULL, 0});
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	log_set_level(LOG_LEVEL_DEBUG);
	call(c, "Op", "{\"request\":\"visible\"}", 0, &g);
	run(5000);
	log_set_level(LOG_LEVEL_ERROR);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "Test_20200101.Op") != NULL, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "{\"request\":\"visible\"}"));
	ck_assert_ptr_nonnull(strstr(buf, "{\"reply\":\"visible\"}"));
	ck_assert_ptr_nonnull(strstr(buf, "Authorization: <redacted>"));
	ck_assert_ptr_nonnull(strstr(buf, "X-Amz-Security-Token: <redacted>"));
	ck_assert_msg(strstr(buf, SECRET) == NULL, "secret in: %s", buf);
	ck_assert_msg(strstr(buf, TOKEN) == NULL, "token in: %s", buf);
	ck_assert_msg(strstr(buf, "Signature=") == NULL, "sig in: %s", buf);
	aws_client_free(c);
	free(g.json);
}
END_TEST

START_TEST(test_endpoints)
{
	static const char *const bad[] = {"ftp://x", "http://", "http:///x",
	    "http://u:p@h/", "http://h:8x/", "http://h/?q=1", "http://h#f",
	    "https://[::1", "kinesis.us-east-1.amazonaws.com"};
	struct aws_client_opts o;
	struct aws_client *c;
	char *cause = NULL, *e;

	e = aws_endpoint_default("kinesis", "us-east-1");
	ck_assert_str_eq(e, "https://kinesis.us-east-1.amazonaws.com");
	free(e);
	e = aws_endpoint_default("dynamodb", "cn-north-1");
	ck_assert_str_eq(e, "https://dynamodb.cn-north-1.amazonaws.com.cn");
	free(e);

	memset(&o, 0, sizeof(o));
	o.service = "kinesis";
	o.target_prefix = "Kinesis_20131202";
	o.region = "eu-west-1";
	o.verify_certificate = 1;
	c = aws_client_new(http, creds, NULL, &o, &cause);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(
	    aws_client_endpoint(c), "https://kinesis.eu-west-1.amazonaws.com");
	aws_client_free(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		o.endpoint = bad[i];
		cause = NULL;
		c = aws_client_new(http, creds, NULL, &o, &cause);
		ck_assert_msg(c == NULL, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(cause);
		free(cause);
	}
	o.endpoint = "https://[::1]:8443/base";
	c = aws_client_new(http, creds, NULL, &o, &cause);
	ck_assert_ptr_nonnull(c);
	aws_client_free(c);
	/* Missing essentials. */
	o.region = NULL;
	cause = NULL;
	ck_assert_ptr_null(aws_client_new(http, creds, NULL, &o, &cause));
	free(cause);
	aws_client_free(NULL);
	ck_assert_ptr_null(
	    aws_client_call(NULL, "Op", strdup("{}"), 0, NULL, NULL));
}
END_TEST

START_TEST(test_big_request)
{
	struct aws_client *c = client(0, 1, 0, NULL);
	size_t n = 5u << 20;
	char *body = malloc(n + 1);
	struct got g = {0};

	memset(body, 'x', n);
	memcpy(body, "{\"d\":\"", 6);
	memcpy(body + n - 2, "\"}", 2);
	body[n] = '\0';
	ck_assert_ptr_nonnull(aws_client_call(
	    c, "PutRecords", body, 0, got_cb, &g)); /* body taken over */
	run(10000);
	ck_assert_int_eq(g.err, AWS_OK);
	ck_assert_uint_eq(srv.seen[0].body_len, n);
	aws_client_free(c);
	free(g.json);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("fake");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_signed_request);
	tcase_add_test(tc, test_no_session_token);
	tcase_add_test(tc, test_empty_200);
	tcase_add_loop_test(tc, test_error_replies, 0,
	    (int)(sizeof(err_cases) / sizeof(*err_cases)));
	tcase_add_loop_test(tc, test_malformed_200, 0,
	    (int)(sizeof(bad_bodies) / sizeof(*bad_bodies)));
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_retry_then_ok);
	tcase_add_test(tc, test_retries_exhausted);
	tcase_add_test(tc, test_terminal_not_retried);
	tcase_add_test(tc, test_expired_token_refreshed);
	tcase_add_test(tc, test_no_credentials);
	tcase_add_test(tc, test_connection_limit_fifo);
	tcase_add_test(tc, test_timeout_retried);
	tcase_add_test(tc, test_refused_async);
	tcase_add_test(tc, test_cancel_queued_and_in_flight);
	tcase_add_test(tc, test_cancel_in_backoff);
	tcase_add_test(tc, test_free_with_calls_everywhere);
	tcase_add_test(tc, test_callbacks_may_call_cancel_free);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_wire_trace_redacted);
	tcase_add_test(tc, test_endpoints);
	tcase_add_test(tc, test_big_request);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
