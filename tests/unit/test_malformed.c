/*
 * test_malformed.c — AWS answering garbage, through the whole stack
 * (aws/http.c, aws/client.c, kinesis/api.c, dynamo/api.c): a reply cut
 * short by the peer, one larger than the body cap, a status line that is
 * no HTTP, numbers no field can hold (1e300, inf), values of the wrong
 * JSON type.  Each call must end exactly once, with a clean error that is
 * retried (transport hiccups, garbled replies) or reported (a reply too
 * large to ever fit), or with defaults for optional fields — never a
 * crash, never undefined behaviour.  Also the regression tests of what
 * the fuzzers found in the decoders (tests/fuzz/).
 *
 * Two fake endpoints on the test's loop: an evhttp server for well-formed
 * HTTP with any body, and a raw TCP one that writes exact bytes and hangs
 * up, for what evhttp would never send.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"
#include "kinesis/kinesis.h"
#include "log/log.h"

static struct event_base *base;
static struct aws_http *http;
static struct aws_credentials *creds;

/* ---- the evhttp endpoint: status and body for every request ----------------
 */

static struct {
	struct evhttp *http;
	int port;
	int status;
	const char *body;
	size_t len; /* 0: strlen(body) */
	int requests;
} ev;

static void
ev_handler(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	ev.requests++;
	ck_assert_ptr_nonnull(b);
	evbuffer_add(b, ev.body, ev.len > 0 ? ev.len : strlen(ev.body));
	evhttp_send_reply(req, ev.status, "X", b);
	evbuffer_free(b);
}

/* ---- the raw endpoint: reads a request, writes raw, hangs up ---------------
 */

static struct {
	struct evconnlistener *l;
	int port;
	const char *raw;
	int requests;
} rw;

static void
raw_write_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

/* Answers once the request's head and its Content-Length body are in. */
static void
raw_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), head, body = 0;
	struct evbuffer_ptr p;
	char *text;
	const char *cl;

	(void)arg;
	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos < 0)
		return;
	head = (size_t)p.pos + 4;
	text = malloc(head + 1);
	ck_assert_ptr_nonnull(text);
	evbuffer_copyout(in, text, head);
	text[head] = '\0';
	if ((cl = strcasestr(text, "\r\nContent-Length:")) != NULL)
		body = strtoul(cl + 17, NULL, 10);
	free(text);
	if (len < head + body)
		return;
	evbuffer_drain(in, len);
	rw.requests++;
	bufferevent_setcb(bev, NULL, raw_write_cb, NULL, NULL);
	bufferevent_write(bev, rw.raw, strlen(rw.raw));
}

static void
raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct bufferevent *bev =
	    bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	ck_assert_ptr_nonnull(bev);
	bufferevent_setcb(bev, raw_read_cb, NULL, raw_event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---- set-up ----------------------------------------------------------------
 */

static int
bound_port(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static void
setup(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct evhttp_bound_socket *bs;
	char *cause = NULL;

	setenv("AWS_ACCESS_KEY_ID", "AKIDMALFORMED", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "malformed-secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&ev, 0, sizeof(ev));
	memset(&rw, 0, sizeof(rw));
	ev.http = evhttp_new(base);
	evhttp_set_gencb(ev.http, ev_handler, NULL);
	bs = evhttp_bind_socket_with_handle(ev.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ev.port = bound_port(evhttp_bound_socket_get_fd(bs));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rw.l = evconnlistener_new_bind(base, raw_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_ptr_nonnull(rw.l);
	rw.port = bound_port(evconnlistener_get_fd(rw.l));
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
	evconnlistener_free(rw.l);
	evhttp_free(ev.http);
	event_base_free(base);
}

static struct aws_client_opts
opts(int port, unsigned max_attempts, char *endpoint, size_t len)
{
	struct aws_client_opts o;

	snprintf(endpoint, len, "http://127.0.0.1:%d", port);
	memset(&o, 0, sizeof(o));
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.max_attempts = max_attempts;
	o.retry_base_ms = 1;
	o.retry_cap_ms = 5;
	o.request_timeout_ms = 3000;
	return o;
}

static struct kinesis *
kinesis_at(int port, unsigned max_attempts)
{
	char endpoint[64], *cause = NULL;
	struct aws_client_opts o =
	    opts(port, max_attempts, endpoint, sizeof(endpoint));
	struct kinesis *k = kinesis_new(http, creds, NULL, &o, &cause);

	ck_assert_msg(k != NULL, "kinesis_new: %s", cause);
	return k;
}

static struct dynamo *
dynamo_at(int port)
{
	char endpoint[64], *cause = NULL;
	struct aws_client_opts o = opts(port, 1, endpoint, sizeof(endpoint));
	struct dynamo *d = dynamo_new(http, creds, NULL, &o, &cause);

	ck_assert_msg(d != NULL, "dynamo_new: %s", cause);
	return d;
}

/* What the callbacks saw. */
static struct {
	int calls;
	enum aws_err err;
	char message[256];
	/* GetRecords */
	size_t n_records, n_children, n_parents;
	int64_t millis_behind;
	/* DescribeStreamSummary */
	long retention, open_shards, consumers;
	/* DescribeTable */
	int64_t item_count;
	long rcu, wcu;
	enum dynamo_err derr;
} got;

static void
got_result(const struct aws_result *r, const void *reply)
{
	got.calls++;
	got.err = r->err;
	snprintf(got.message, sizeof(got.message), "%s",
	    r->message != NULL ? r->message : "");
	ck_assert_int_eq(reply != NULL, r->err == AWS_OK);
}

static void
records_cb(
    const struct aws_result *r, const struct kinesis_records *rs, void *arg)
{
	(void)arg;
	got_result(r, rs);
	if (rs == NULL)
		return;
	got.n_records = rs->n;
	got.n_children = rs->n_children;
	got.millis_behind = rs->millis_behind;
	got.n_parents = 0;
	for (size_t i = 0; i < rs->n_children; i++)
		got.n_parents += rs->children[i].n_parents;
}

static void
summary_cb(const struct aws_result *r, const struct kinesis_stream_summary *s,
    void *arg)
{
	(void)arg;
	got_result(r, s);
	if (s == NULL)
		return;
	got.retention = s->retention_hours;
	got.open_shards = s->open_shard_count;
	got.consumers = s->consumer_count;
}

static void
iterator_cb(const struct aws_result *r, const char *it, void *arg)
{
	(void)arg;
	got_result(r, it);
}

static void
put_cb(const struct aws_result *r, const struct kinesis_put_records_result *p,
    void *arg)
{
	(void)arg;
	got_result(r, p);
}

static void
dyn_cb(const struct dynamo_result *r, void *arg)
{
	(void)arg;
	got_result(r->aws, r->aws->err == AWS_OK ? r : NULL);
	got.derr = r->err;
	if (r->table != NULL) {
		got.item_count = r->table->item_count;
		got.rcu = r->table->read_capacity;
		got.wcu = r->table->write_capacity;
	}
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopbreak(base);
}

/* Runs until the callback ran, then 100 ms more: it must not run again. */
static void
run(void)
{
	struct timeval limit = {10, 0}, settle = {0, 100000};
	int expired = 0;
	struct event *t = evtimer_new(base, stop_cb, &expired);

	memset(&got, 0, sizeof(got));
	evtimer_add(t, &limit);
	while (got.calls == 0 && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_msg(!expired, "the call never ended");
	evtimer_del(t);
	evtimer_add(t, &settle);
	expired = 0;
	while (!expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	ck_assert_int_eq(got.calls, 1);
}

/* ---- transport-level garbage -----------------------------------------------
 */

/* The peer promises 1000 bytes and hangs up after 12: retried, then a
 * retriable error. */
START_TEST(truncated_reply_retried)
{
	struct kinesis *k = kinesis_at(rw.port, 3);

	rw.raw = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1"
	         "\r\nContent-Length: 1000\r\n\r\n{\"Records\":[";
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 0, records_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_ERR_RETRIABLE);
	ck_assert_int_eq(rw.requests, 3);
	kinesis_free(k);
}
END_TEST

/* Not HTTP at all. */
START_TEST(garbage_status_line)
{
	struct kinesis *k = kinesis_at(rw.port, 2);

	rw.raw = "\x16\x03\x01 this is not HTTP\r\n\r\n";
	ck_assert_ptr_nonnull(kinesis_get_shard_iterator(k,
	    &(struct kinesis_iterator_params){.stream = "s",
	        .shard_id = "shardId-0",
	        .type = KINESIS_ITER_LATEST},
	    iterator_cb, NULL));
	run();
	ck_assert_int_ne(got.err, AWS_OK);
	ck_assert_int_ge(rw.requests, 1);
	kinesis_free(k);
}
END_TEST

/* Headers and no body, then the peer is gone. */
START_TEST(headers_then_hang_up)
{
	struct kinesis *k = kinesis_at(rw.port, 2);

	rw.raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	ck_assert_ptr_nonnull(
	    kinesis_describe_stream_summary(k, "s", summary_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_ERR_RETRIABLE);
	ck_assert_int_eq(rw.requests, 2);
	kinesis_free(k);
}
END_TEST

/* A 200 larger than the body cap: refused, reported, not retried (the
 * same request would get the same answer). */
START_TEST(huge_reply_reported)
{
	size_t n = 1u << 20;
	char *body = malloc(n + 64);
	struct kinesis *k = kinesis_at(ev.port, 3);
	size_t off;

	ck_assert_ptr_nonnull(body);
	off = (size_t)sprintf(body, "{\"Records\":[],\"x\":\"");
	memset(body + off, 'a', n);
	strcpy(body + off + n, "\"}");
	ev.status = 200;
	ev.body = body;
	aws_http_set_max_body(http, 64 * 1024);
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 0, records_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_ERR_TERMINAL);
	ck_assert_int_eq(ev.requests, 1);
	/* Under the cap, the same reply is fine. */
	aws_http_set_max_body(http, 4u << 20);
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 0, records_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_OK);
	kinesis_free(k);
	free(body);
}
END_TEST

/* ---- JSON that is valid but not what the API promises
 * ------------------------ */

/* fuzz_kinesis found it: ParentShards as an object overflowed the parents
 * array (tests/fuzz/corpus/fuzz_kinesis/regress-child-parents-object). */
START_TEST(child_parents_not_an_array)
{
	struct kinesis *k = kinesis_at(ev.port, 1);

	ev.status = 200;
	ev.body =
	    "{\"Records\":[],\"ChildShards\":["
	    "{\"ShardId\":\"a\",\"ParentShards\":{\"x\":\"p\",\"y\":\"q\","
	    "\"z\":\"r\"}},"
	    "{\"ShardId\":\"b\",\"ParentShards\":\"p\"},"
	    "{\"ShardId\":\"c\",\"ParentShards\":[\"p\",5,\"q\"]}]}";
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 0, records_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_OK);
	ck_assert_uint_eq(got.n_children, 3);
	ck_assert_uint_eq(got.n_parents, 2); /* c's two strings only */
	kinesis_free(k);
}
END_TEST

/* fuzz_kinesis found it: 1e300 cast to long is undefined behaviour
 * (tests/fuzz/corpus/fuzz_kinesis/regress-huge-numbers).  Numbers no
 * field can hold count as absent. */
START_TEST(huge_numbers_are_absent)
{
	struct kinesis *k = kinesis_at(ev.port, 1);
	struct dynamo *d = dynamo_at(ev.port);

	ev.status = 200;
	ev.body = "{\"StreamDescriptionSummary\":{\"StreamStatus\":\"ACTIVE\","
	          "\"RetentionPeriodHours\":1e300,\"OpenShardCount\":-1e300,"
	          "\"ConsumerCount\":1e999}}";
	ck_assert_ptr_nonnull(
	    kinesis_describe_stream_summary(k, "s", summary_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_OK);
	ck_assert_int_eq(got.retention, 0);
	ck_assert_int_eq(got.open_shards, 0);
	ck_assert_int_eq(got.consumers, -1);

	ev.body = "{\"Records\":[],\"MillisBehindLatest\":9.3e18}";
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 0, records_cb, NULL));
	run();
	ck_assert_int_eq(got.err, AWS_OK);
	ck_assert_int_eq(got.millis_behind, -1);

	ev.body = "{\"Table\":{\"TableStatus\":\"ACTIVE\",\"ItemCount\":1e300,"
	          "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":-1e999,"
	          "\"WriteCapacityUnits\":7}}}";
	ck_assert_ptr_nonnull(dynamo_describe_table(d, "t", dyn_cb, NULL));
	run();
	ck_assert_int_eq(got.derr, DYNAMO_OK);
	ck_assert_int_eq(got.item_count, 0);
	ck_assert_int_eq(got.rcu, 0);
	ck_assert_int_eq(got.wcu, 7);
	kinesis_free(k);
	dynamo_free(d);
}
END_TEST

/* Wrong types in every Kinesis reply: a retriable error naming the call. */
static const struct {
	int op; /* 0 summary, 1 iterator, 2 records, 3 put */
	const char *body;
} wrong[] = {
    {0, "{\"StreamDescriptionSummary\":[]}"},
    {0, "{\"StreamDescriptionSummary\":{\"StreamStatus\":5}}"},
    {0, "{\"StreamDescriptionSummary\":null}"},
    {1, "{\"ShardIterator\":null}"},
    {1, "{\"ShardIterator\":{\"a\":1}}"},
    {1, "{\"ShardIterator\":[\"x\"]}"},
    {2, "{\"Records\":[null]}"},
    {2, "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
        "\"Data\":5}]}"},
    {2, "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":[],"
        "\"Data\":\"\"}]}"},
    {2, "{\"Records\":[],\"ChildShards\":[{\"ShardId\":7}]}"},
    {2, "{\"Records\":[],\"ChildShards\":[null]}"},
    {2, ""}, /* a 200 with no body */
    {3, "{\"Records\":[1]}"},
    {3, "{\"Records\":[{\"SequenceNumber\":1,\"ShardId\":\"s\"}]}"},
    {3, "{\"Records\":\"x\"}"},
};

START_TEST(wrong_types_retriable)
{
	struct kinesis *k = kinesis_at(ev.port, 1);
	struct kinesis_put_entry e = {"k", NULL, "d", 1};
	struct kinesis_iterator_params ip = {.stream = "s",
	    .shard_id = "shardId-0",
	    .type = KINESIS_ITER_TRIM_HORIZON};
	static const char *const names[] = {"DescribeStreamSummary",
	    "GetShardIterator", "GetRecords", "PutRecords"};

	ev.status = 200;
	ev.body = wrong[_i].body;
	switch (wrong[_i].op) {
	case 0:
		kinesis_describe_stream_summary(k, "s", summary_cb, NULL);
		break;
	case 1:
		kinesis_get_shard_iterator(k, &ip, iterator_cb, NULL);
		break;
	case 2:
		kinesis_get_records(k, "IT", 0, records_cb, NULL);
		break;
	case 3:
		kinesis_put_records(k, "s", &e, 1, 0, put_cb, NULL);
		break;
	}
	run();
	ck_assert_int_eq(got.err, AWS_ERR_RETRIABLE);
	ck_assert_msg(strstr(got.message, names[wrong[_i].op]) != NULL,
	    "%s: %s", wrong[_i].body, got.message);
	kinesis_free(k);
}
END_TEST

/* DynamoDB: wrong types are retriable errors too. */
START_TEST(dynamo_wrong_types)
{
	static const char *const bodies[] = {
	    "{\"Item\":[1]}", "{\"Item\":\"x\"}", "{\"Item\":7}"};
	struct dynamo *d = dynamo_at(ev.port);
	struct dynamo_scan_params sp = {.table = "t"};
	cJSON *key = cJSON_Parse("{\"leaseKey\":{\"S\":\"a\"}}");

	ev.status = 200;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
		ev.body = bodies[i];
		ck_assert_ptr_nonnull(
		    dynamo_get_item(d, "t", key, 1, dyn_cb, NULL));
		run();
		ck_assert_int_eq(got.derr, DYNAMO_ERR_RETRIABLE);
	}
	ev.body = "{\"Items\":{\"a\":1}}";
	ck_assert_ptr_nonnull(dynamo_scan(d, &sp, dyn_cb, NULL));
	run();
	ck_assert_int_eq(got.derr, DYNAMO_ERR_RETRIABLE);
	ev.body = "{\"Table\":{\"TableStatus\":[\"ACTIVE\"]}}";
	ck_assert_ptr_nonnull(dynamo_describe_table(d, "t", dyn_cb, NULL));
	run();
	ck_assert_int_eq(got.derr, DYNAMO_ERR_RETRIABLE);
	/* An error reply whose __type is not a string: still an error. */
	ev.status = 400;
	ev.body = "{\"__type\":{\"x\":1},\"message\":[1]}";
	ck_assert_ptr_nonnull(dynamo_get_item(d, "t", key, 1, dyn_cb, NULL));
	run();
	ck_assert_int_eq(got.derr, DYNAMO_ERR_OTHER);
	cJSON_Delete(key);
	dynamo_free(d);
}
END_TEST

static Suite *
malformed_suite(void)
{
	Suite *s = suite_create("malformed");
	TCase *tc = tcase_create("replies");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, truncated_reply_retried);
	tcase_add_test(tc, garbage_status_line);
	tcase_add_test(tc, headers_then_hang_up);
	tcase_add_test(tc, huge_reply_reported);
	tcase_add_test(tc, child_parents_not_an_array);
	tcase_add_test(tc, huge_numbers_are_absent);
	tcase_add_loop_test(
	    tc, wrong_types_retriable, 0, sizeof(wrong) / sizeof(*wrong));
	tcase_add_test(tc, dynamo_wrong_types);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(malformed_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
