/*
 * test_api.c — kinesis/ and dynamo/ against a scripted fake endpoint: the
 * exact request bodies (pagination tokens, filters, timestamps, base64),
 * decoding of good replies, and every kind of reply that is valid JSON but
 * not what the API promises (wrong types, missing fields, bad base64,
 * wrong record counts) ending as a clean AWS_ERR_RETRIABLE, never a crash.
 * Also cancel and free, from outside and from inside callbacks.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"
#include "kinesis/kinesis.h"
#include "log/log.h"

/* ---- the scripted server ------------------------------------------------- */

#define MAX_REQ 16
static struct {
	struct evhttp *http;
	int port;
	const char *const *replies; /* 200 bodies, in order; NULL: hang */
	size_t n_replies;
	int status; /* for every reply */
	int requests;
	char target[MAX_REQ][64];
	char body[MAX_REQ][2048];
} srv;

static struct event_base *base;
static struct aws_http *http;
static struct aws_credentials *creds;

static void
srv_handler(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *t = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "X-Amz-Target");
	size_t i = (size_t)srv.requests++;
	const char *reply;
	struct evbuffer *b;

	(void)arg;
	if (i < MAX_REQ) {
		snprintf(srv.target[i], sizeof(srv.target[i]), "%s",
		    t != NULL ? t : "");
		memset(srv.body[i], 0, sizeof(srv.body[i]));
		evbuffer_copyout(in, srv.body[i], sizeof(srv.body[i]) - 1);
	}
	reply = srv.replies[i < srv.n_replies ? i : srv.n_replies - 1];
	if (reply == NULL)
		return;
	b = evbuffer_new();
	evbuffer_add(b, reply, strlen(reply));
	evhttp_send_reply(req, srv.status, "X", b);
	evbuffer_free(b);
}

#define REPLIES(...)                                                           \
	do {                                                                   \
		static const char *const r_[] = {__VA_ARGS__};                 \
		srv.replies = r_;                                              \
		srv.n_replies = sizeof(r_) / sizeof(*r_);                      \
	} while (0)

static struct kinesis *k;
static struct dynamo *d;
static void seen_reset(void);

static void
setup(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct aws_client_opts o;
	char *cause = NULL, endpoint[64];

	setenv("AWS_ACCESS_KEY_ID", "AKIDAPITEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "api-test-secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	seen_reset();
	base = event_base_new();
	memset(&srv, 0, sizeof(srv));
	srv.status = 200;
	REPLIES("{}");
	srv.http = evhttp_new(base);
	evhttp_set_gencb(srv.http, srv_handler, NULL);
	bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	getsockname(
	    evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	srv.port = ntohs(sin.sin_port);
	http = aws_http_new(base, &cause);
	creds = aws_credentials_new(base, http);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", srv.port);
	memset(&o, 0, sizeof(o));
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.max_attempts = 1;
	o.service = "ignored"; /* kinesis_new and dynamo_new set their own */
	k = kinesis_new(http, creds, NULL, &o, &cause);
	ck_assert_msg(k != NULL, "kinesis_new: %s", cause);
	d = dynamo_new(http, creds, NULL, &o, &cause);
	ck_assert_msg(d != NULL, "dynamo_new: %s", cause);
}

static void
teardown(void)
{
	kinesis_free(k);
	dynamo_free(d);
	aws_credentials_free(creds);
	aws_http_free(http);
	evhttp_free(srv.http);
	event_base_free(base);
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
#define run()         run_for(5000, 0)
#define run_quiet(ms) run_for((ms), 1)

/* What a callback saw, copied out for the assertions. */
static struct {
	int calls;
	enum aws_err err;
	char message[256];
	int has_reply;
	char text[4096]; /* the decoded reply, flattened */
} seen;

static void
seen_result(const struct aws_result *r, int has_reply)
{
	seen.calls++;
	seen.err = r->err;
	snprintf(seen.message, sizeof(seen.message), "%s",
	    r->message ? r->message : "");
	seen.has_reply = has_reply;
	seen.text[0] = '\0';
	ck_assert_int_eq(has_reply, r->err == AWS_OK);
	event_base_loopbreak(base);
}

static void
seen_add(const char *fmt, const char *v)
{
	size_t n = strlen(seen.text);

	snprintf(seen.text + n, sizeof(seen.text) - n, fmt, v ? v : "NULL");
}

/* ---- kinesis callbacks --------------------------------------------------- */

static void
shards_cb(const struct aws_result *r, const struct kinesis_shards *s, void *arg)
{
	(void)arg;
	seen_result(r, s != NULL);
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		seen_add("%s", s->shards[i].id);
		seen_add("<%s", s->shards[i].parent);
		seen_add(",%s", s->shards[i].adjacent_parent);
		seen_add(" %s", s->shards[i].hash_start);
		seen_add("-%s", s->shards[i].hash_end);
		seen_add(" %s", s->shards[i].seq_start);
		seen_add("-%s;", s->shards[i].seq_end);
	}
	if (s != NULL) {
		char p[16];
		snprintf(p, sizeof(p), "%u", s->pages);
		seen_add("pages=%s", p);
	}
}

static void
records_cb(
    const struct aws_result *r, const struct kinesis_records *rs, void *arg)
{
	char buf[64];

	(void)arg;
	seen_result(r, rs != NULL);
	for (size_t i = 0; rs != NULL && i < rs->n; i++) {
		seen_add("%s:", rs->records[i].seq);
		seen_add("%s:", rs->records[i].partition_key);
		ck_assert_int_eq(rs->records[i].data[rs->records[i].len], 0);
		snprintf(buf, sizeof(buf), "%zu:%.*s:%lld;", rs->records[i].len,
		    (int)rs->records[i].len, (const char *)rs->records[i].data,
		    (long long)rs->records[i].arrival_ms);
		seen_add("%s", buf);
	}
	if (rs == NULL)
		return;
	seen_add("next=%s", rs->next_iterator);
	snprintf(
	    buf, sizeof(buf), " behind=%lld", (long long)rs->millis_behind);
	seen_add("%s", buf);
	for (size_t i = 0; i < rs->n_children; i++) {
		seen_add(" child=%s", rs->children[i].id);
		for (size_t j = 0; j < rs->children[i].n_parents; j++)
			seen_add("<%s", rs->children[i].parents[j]);
		seen_add(" %s", rs->children[i].hash_start);
	}
}

static void
put_cb(const struct aws_result *r, const struct kinesis_put_records_result *p,
    void *arg)
{
	char buf[32];

	(void)arg;
	seen_result(r, p != NULL);
	if (p == NULL)
		return;
	snprintf(buf, sizeof(buf), "failed=%ld;", p->failed_count);
	seen_add("%s", buf);
	for (size_t i = 0; i < p->n; i++) {
		seen_add("%s/", p->records[i].shard_id);
		seen_add("%s/", p->records[i].seq);
		seen_add("%s/", p->records[i].error_code);
		seen_add("%s;", p->records[i].error_message);
	}
}

static void
iterator_cb(const struct aws_result *r, const char *it, void *arg)
{
	(void)arg;
	seen_result(r, it != NULL);
	if (it != NULL)
		seen_add("%s", it);
}

static void
summary_cb(const struct aws_result *r, const struct kinesis_stream_summary *s,
    void *arg)
{
	char buf[128];

	(void)arg;
	seen_result(r, s != NULL);
	if (s == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s %s %ld %ld %ld %lld", s->name, s->status,
	    s->retention_hours, s->open_shard_count, s->consumer_count,
	    (long long)s->creation_ms);
	seen_add("%s", buf);
}

/* ---- kinesis tests ------------------------------------------------------- */

static const char SHARD_A[] =
    "{\"ShardId\":\"shardId-000000000000\",\"ParentShardId\":null,"
    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"9\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"100\"}}";
static const char SHARD_B[] =
    "{\"ShardId\":\"shardId-000000000001\",\"ParentShardId\":\"p1\","
    "\"AdjacentParentShardId\":\"p2\","
    "\"HashKeyRange\":{\"StartingHashKey\":\"10\",\"EndingHashKey\":\"19\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"200\","
    "\"EndingSequenceNumber\":\"300\"}}";

START_TEST(test_list_shards_pages)
{
	struct kinesis_list_shards_params p = {0};
	static char page1[512], page2[512];

	snprintf(page1, sizeof(page1), "{\"Shards\":[%s],\"NextToken\":\"T1\"}",
	    SHARD_A);
	snprintf(page2, sizeof(page2), "{\"Shards\":[%s],\"NextToken\":null}",
	    SHARD_B);
	REPLIES(page1, page2);
	p.stream = "s";
	p.max_results = 1;
	p.filter_type = "AT_TIMESTAMP";
	p.filter_timestamp_ms = 1700000000123;
	ck_assert_ptr_nonnull(kinesis_list_shards(k, &p, shards_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_OK);
	ck_assert_str_eq(seen.text,
	    "shardId-000000000000<NULL,NULL 0-9 100-NULL;"
	    "shardId-000000000001<p1,p2 10-19 200-300;pages=2");
	ck_assert_str_eq(srv.target[0], "Kinesis_20131202.ListShards");
	ck_assert_str_eq(srv.body[0],
	    "{\"StreamName\":\"s\",\"MaxResults\":1,\"ShardFilter\":"
	    "{\"Type\":\"AT_TIMESTAMP\",\"Timestamp\":1700000000.123}}");
	/* Later pages: the token and the page size, nothing else. */
	ck_assert_str_eq(
	    srv.body[1], "{\"NextToken\":\"T1\",\"MaxResults\":1}");
}
END_TEST

START_TEST(test_list_shards_arn_and_after)
{
	struct kinesis_list_shards_params p = {0};

	REPLIES("{\"Shards\":[]}");
	p.stream = "arn:aws:kinesis:us-east-1:1:stream/s";
	p.filter_type = "AFTER_SHARD_ID";
	p.filter_shard_id = "shardId-1";
	p.exclusive_start_shard_id = "shardId-0";
	ck_assert_ptr_nonnull(kinesis_list_shards(k, &p, shards_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_OK);
	ck_assert_str_eq(seen.text, "pages=1");
	ck_assert_str_eq(srv.body[0],
	    "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:1:stream/s\","
	    "\"ExclusiveStartShardId\":\"shardId-0\",\"ShardFilter\":"
	    "{\"Type\":\"AFTER_SHARD_ID\",\"ShardId\":\"shardId-1\"}}");
}
END_TEST

static const char *const bad_list_shards[] = {
    "{}",
    "{\"Shards\":{}}",
    "{\"Shards\":[1]}",
    "{\"Shards\":[{\"ShardId\":5}]}",
    "{\"Shards\":[{\"ShardId\":\"s\",\"HashKeyRange\":[]}]}",
    "{\"Shards\":[{\"ShardId\":\"s\",\"HashKeyRange\":{\"StartingHashKey\":"
    "\"0\",\"EndingHashKey\":1},\"SequenceNumberRange\":{}}]}",
};

START_TEST(test_list_shards_malformed)
{
	struct kinesis_list_shards_params p = {0};
	static const char *r[1];

	r[0] = bad_list_shards[_i];
	srv.replies = r;
	srv.n_replies = 1;
	p.stream = "s";
	ck_assert_ptr_nonnull(kinesis_list_shards(k, &p, shards_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_ERR_RETRIABLE);
	ck_assert_ptr_nonnull(strstr(seen.message, "ListShards reply"));
}
END_TEST

START_TEST(test_list_shards_bad_second_page)
{
	struct kinesis_list_shards_params p = {0};
	static char page1[512];

	snprintf(page1, sizeof(page1), "{\"Shards\":[%s],\"NextToken\":\"T\"}",
	    SHARD_A);
	REPLIES(page1, "{\"Shards\":7}");
	p.stream = "s";
	ck_assert_ptr_nonnull(kinesis_list_shards(k, &p, shards_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_ERR_RETRIABLE);
	ck_assert_int_eq(srv.requests, 2);
}
END_TEST

START_TEST(test_get_records)
{
	REPLIES(
	    "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
	    "\"Data\":\"aGVsbG8=\",\"ApproximateArrivalTimestamp\":"
	    "1700000000.123,\"EncryptionType\":\"KMS\"},"
	    "{\"SequenceNumber\":\"2\",\"PartitionKey\":\"e\",\"Data\":\"\"}],"
	    "\"NextShardIterator\":null,\"MillisBehindLatest\":42,"
	    "\"ChildShards\":[{\"ShardId\":\"c1\",\"ParentShards\":[\"p\","
	    "\"q\"],"
	    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":"
	    "\"5\"}},{\"ShardId\":\"c2\",\"ParentShards\":[\"p\"]}]}");
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 7, records_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_OK);
	ck_assert_str_eq(seen.text,
	    "1:k:5:hello:1700000000123;2:e:0::0;next=NULL behind=42"
	    " child=c1<p<q 0 child=c2<p NULL");
	ck_assert_str_eq(srv.body[0], "{\"ShardIterator\":\"IT\",\"Limit\":7}");
}
END_TEST

static const char *const bad_get_records[] = {
    "{}",
    "{\"Records\":\"x\"}",
    "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\"}]}",
    "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
    "\"Data\":\"not base64!\"}]}",
    "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
    "\"Data\":\"aGVsbG8\"}]}",
    "{\"Records\":[{\"SequenceNumber\":1,\"PartitionKey\":\"k\","
    "\"Data\":\"\"}]}",
    "{\"Records\":[],\"ChildShards\":[{\"ParentShards\":[]}]}",
};

START_TEST(test_get_records_malformed)
{
	static const char *r[1];

	r[0] = bad_get_records[_i];
	srv.replies = r;
	srv.n_replies = 1;
	ck_assert_ptr_nonnull(
	    kinesis_get_records(k, "IT", 0, records_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_ERR_RETRIABLE);
	ck_assert_ptr_nonnull(strstr(seen.message, "GetRecords reply"));
}
END_TEST

START_TEST(test_put_records)
{
	struct kinesis_put_entry e[3] = {
	    {"k1", NULL, "\x00\x01\x02", 3},
	    {"k2", "12345", "hi", 2},
	    {"k3", NULL, NULL, 0},
	};

	REPLIES("{\"FailedRecordCount\":1,\"Records\":["
	        "{\"SequenceNumber\":\"9\",\"ShardId\":\"s0\"},"
	        "{\"ErrorCode\":\"ProvisionedThroughputExceededException\","
	        "\"ErrorMessage\":\"slow down\"},"
	        "{\"SequenceNumber\":\"10\",\"ShardId\":\"s1\"}]}");
	ck_assert_ptr_nonnull(
	    kinesis_put_records(k, "s", e, 3, 0, put_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_OK);
	ck_assert_str_eq(seen.text, "failed=1;s0/9/NULL/NULL;NULL/NULL/"
	                            "ProvisionedThroughputExceededException/"
	                            "slow down;s1/10/NULL/NULL;");
	ck_assert_str_eq(srv.body[0],
	    "{\"StreamName\":\"s\",\"Records\":["
	    "{\"Data\":\"AAEC\",\"PartitionKey\":\"k1\"},"
	    "{\"Data\":\"aGk=\",\"PartitionKey\":\"k2\",\"ExplicitHashKey\":"
	    "\"12345\"},{\"Data\":\"\",\"PartitionKey\":\"k3\"}]}");
}
END_TEST

static const char *const bad_put_records[] = {
    "{}",
    "{\"Records\":[{\"SequenceNumber\":\"1\",\"ShardId\":\"s\"}]}",
    "{\"Records\":[{},{}]}",
    "{\"Records\":[{\"ShardId\":\"s\"},{\"SequenceNumber\":\"1\"}]}",
    "{\"Records\":{\"0\":{}}}",
};

START_TEST(test_put_records_malformed)
{
	struct kinesis_put_entry e[2] = {
	    {"k1", NULL, "a", 1}, {"k2", NULL, "b", 1}};
	static const char *r[1];

	r[0] = bad_put_records[_i];
	srv.replies = r;
	srv.n_replies = 1;
	ck_assert_ptr_nonnull(
	    kinesis_put_records(k, "s", e, 2, 0, put_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_ERR_RETRIABLE);
	ck_assert_ptr_nonnull(strstr(seen.message, "PutRecords reply"));
}
END_TEST

START_TEST(test_iterators)
{
	struct kinesis_iterator_params p = {0};

	REPLIES("{\"ShardIterator\":\"IT1\"}", "{\"ShardIterator\":7}");
	p.stream = "s";
	p.shard_id = "shardId-1";
	p.type = KINESIS_ITER_AT_TIMESTAMP;
	p.timestamp_ms = 1500000000500;
	ck_assert_ptr_nonnull(
	    kinesis_get_shard_iterator(k, &p, iterator_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_OK);
	ck_assert_str_eq(seen.text, "IT1");
	ck_assert_str_eq(srv.body[0],
	    "{\"StreamName\":\"s\",\"ShardId\":\"shardId-1\","
	    "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1500000000."
	    "5}");
	p.type = KINESIS_ITER_AFTER_SEQUENCE_NUMBER;
	p.sequence_number = "123";
	ck_assert_ptr_nonnull(
	    kinesis_get_shard_iterator(k, &p, iterator_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_ERR_RETRIABLE);
	ck_assert_str_eq(srv.body[1],
	    "{\"StreamName\":\"s\",\"ShardId\":\"shardId-1\","
	    "\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
	    "\"StartingSequenceNumber\":\"123\"}");
	/* Missing sequence number, bad type: refused at once. */
	p.sequence_number = NULL;
	ck_assert_ptr_null(
	    kinesis_get_shard_iterator(k, &p, iterator_cb, NULL));
	p.type = (enum kinesis_iterator_type)99;
	ck_assert_ptr_null(
	    kinesis_get_shard_iterator(k, &p, iterator_cb, NULL));
	ck_assert_int_eq(
	    kinesis_iterator_type_parse("LATEST"), KINESIS_ITER_LATEST);
	ck_assert_int_eq(kinesis_iterator_type_parse("latest"), -1);
	ck_assert_int_eq(kinesis_iterator_type_parse(NULL), -1);
	ck_assert_str_eq(kinesis_iterator_type_name(KINESIS_ITER_TRIM_HORIZON),
	    "TRIM_HORIZON");
}
END_TEST

START_TEST(test_summary)
{
	REPLIES("{\"StreamDescriptionSummary\":{\"StreamName\":\"s\","
	        "\"StreamStatus\":\"ACTIVE\",\"RetentionPeriodHours\":24,"
	        "\"OpenShardCount\":3,\"StreamCreationTimestamp\":1.5e9}}",
	    "{\"StreamDescriptionSummary\":{\"StreamName\":\"s\"}}",
	    "{\"StreamDescriptionSummary\":[]}");
	ck_assert_ptr_nonnull(
	    kinesis_describe_stream_summary(k, "s", summary_cb, NULL));
	run();
	ck_assert_int_eq(seen.err, AWS_OK);
	ck_assert_str_eq(seen.text, "s ACTIVE 24 3 -1 1500000000000");
	for (int i = 0; i < 2; i++) {
		kinesis_describe_stream_summary(k, "s", summary_cb, NULL);
		run();
		ck_assert_int_eq(seen.err, AWS_ERR_RETRIABLE);
	}
}
END_TEST

START_TEST(test_kinesis_error_passthrough)
{
	srv.status = 400;
	REPLIES(
	    "{\"__type\":\"ResourceNotFoundException\",\"message\":\"gone\"}");
	kinesis_describe_stream_summary(k, "s", summary_cb, NULL);
	run();
	ck_assert_int_eq(seen.err, AWS_ERR_TERMINAL);
	ck_assert_str_eq(seen.message, "gone");
	ck_assert_int_eq(seen.has_reply, 0);
}
END_TEST

static struct kinesis_call *other;
static void
free_in_cb(const struct aws_result *r, const char *it, void *arg)
{
	(void)r;
	(void)it;
	(void)arg;
	seen.calls++;
	kinesis_free(k); /* with another call pending */
	k = NULL;
	event_base_loopbreak(base);
}

START_TEST(test_kinesis_cancel_and_free)
{
	struct kinesis_iterator_params p = {0};
	struct kinesis_call *c;

	REPLIES(NULL); /* never answered */
	p.stream = "s";
	p.shard_id = "x";
	c = kinesis_get_shard_iterator(k, &p, iterator_cb, NULL);
	kinesis_cancel(c);
	kinesis_cancel(NULL);
	c = kinesis_get_records(k, "IT", 0, records_cb, NULL);
	run_quiet(100);
	kinesis_cancel(c);
	run_quiet(100);
	ck_assert_int_eq(seen.calls, 0);

	/* Free from a callback while a call of the same kinesis is pending
	 * (requests are answered in arrival order: the hanging one first). */
	REPLIES(NULL, "{\"ShardIterator\":\"IT\"}");
	srv.requests = 0;
	other = kinesis_get_records(k, "IT", 0, records_cb, NULL);
	run_quiet(100);
	kinesis_get_shard_iterator(k, &p, free_in_cb, NULL);
	run();
	ck_assert_int_eq(seen.calls, 1);
	run_quiet(100);
	ck_assert_int_eq(seen.calls, 1);
}
END_TEST

/* ---- dynamo -------------------------------------------------------------- */

static struct {
	enum dynamo_err err;
	char text[2048];
} dseen;

static void
seen_reset(void)
{
	memset(&seen, 0, sizeof(seen));
	memset(&dseen, 0, sizeof(dseen));
}

static void
dyn_cb(const struct dynamo_result *r, void *arg)
{
	char *s;
	const cJSON *j;

	(void)arg;
	seen.calls++;
	dseen.err = r->err;
	dseen.text[0] = '\0';
	ck_assert_ptr_nonnull(r->aws);
	if (r->table != NULL)
		snprintf(dseen.text, sizeof(dseen.text), "%s %s %s %s %lld %ld",
		    r->table->name, r->table->status, r->table->billing_mode,
		    r->table->hash_key ? r->table->hash_key : "NULL",
		    (long long)r->table->item_count, r->table->read_capacity);
	j = r->item != NULL         ? r->item
	    : r->attributes != NULL ? r->attributes
	                            : r->items;
	if (j != NULL) {
		s = cJSON_PrintUnformatted(j);
		snprintf(dseen.text, sizeof(dseen.text),
		    "%s count=%zu pages=%u", s, r->count, r->pages);
		free(s);
	}
	snprintf(seen.message, sizeof(seen.message), "%s",
	    r->aws->message ? r->aws->message : "");
	event_base_loopbreak(base);
}

START_TEST(test_dynamo_table)
{
	struct dynamo_create_table_params p = {"t", NULL, 5, 0};

	REPLIES("{\"TableDescription\":{\"TableName\":\"t\",\"TableStatus\":"
	        "\"CREATING\",\"KeySchema\":[{\"AttributeName\":\"leaseKey\","
	        "\"KeyType\":\"HASH\"}],\"ProvisionedThroughput\":{"
	        "\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":1},"
	        "\"ItemCount\":0}}",
	    "{\"Table\":{\"TableName\":\"t\",\"TableStatus\":\"ACTIVE\","
	    "\"KeySchema\":\"oops\",\"BillingModeSummary\":{\"BillingMode\":"
	    "\"PAY_PER_REQUEST\"},\"ItemCount\":12}}",
	    "{\"Table\":{\"TableName\":\"t\"}}", "{\"Table\":5}");
	ck_assert_ptr_nonnull(dynamo_create_table(d, &p, dyn_cb, NULL));
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_OK);
	ck_assert_str_eq(dseen.text, "t CREATING PROVISIONED leaseKey 0 5");
	ck_assert_str_eq(srv.target[0], "DynamoDB_20120810.CreateTable");
	ck_assert_str_eq(srv.body[0],
	    "{\"TableName\":\"t\",\"AttributeDefinitions\":[{\"AttributeName\":"
	    "\"leaseKey\",\"AttributeType\":\"S\"}],\"KeySchema\":[{"
	    "\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}],"
	    "\"BillingMode\":\"PROVISIONED\",\"ProvisionedThroughput\":{"
	    "\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":1}}");
	dynamo_describe_table(d, "t", dyn_cb, NULL);
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_OK);
	ck_assert_str_eq(dseen.text, "t ACTIVE PAY_PER_REQUEST NULL 12 0");
	for (int i = 0; i < 2; i++) {
		dynamo_describe_table(d, "t", dyn_cb, NULL);
		run();
		ck_assert_int_eq(dseen.err, DYNAMO_ERR_RETRIABLE);
		ck_assert_ptr_nonnull(strstr(seen.message, "TableStatus"));
	}
}
END_TEST

START_TEST(test_dynamo_writes)
{
	cJSON *key = cJSON_Parse("{\"leaseKey\":{\"S\":\"k\"}}");
	cJSON *vals = cJSON_Parse("{\":c\":{\"N\":\"3\"}}");
	cJSON *names = cJSON_Parse("{\"#c\":\"leaseCounter\"}");
	struct dynamo_write_params w = {0};

	REPLIES("{\"Item\":{\"leaseKey\":{\"S\":\"k\"}}}", "{}",
	    "{\"Item\":[]}", "{\"Attributes\":{\"a\":{\"N\":\"4\"}}}",
	    "{\"Attributes\":\"x\"}");
	dynamo_get_item(d, "t", key, 1, dyn_cb, NULL);
	run();
	ck_assert_str_eq(
	    dseen.text, "{\"leaseKey\":{\"S\":\"k\"}} count=0 pages=0");
	ck_assert_str_eq(srv.body[0],
	    "{\"TableName\":\"t\",\"Key\":{\"leaseKey\":{\"S\":\"k\"}},"
	    "\"ConsistentRead\":true}");
	dynamo_get_item(d, "t", key, 0, dyn_cb, NULL); /* no item */
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_OK);
	ck_assert_str_eq(dseen.text, "");
	dynamo_get_item(d, "t", key, 0, dyn_cb, NULL); /* Item not a map */
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_ERR_RETRIABLE);

	w.table = "t";
	w.key = key;
	w.update = "SET #c = #c + :c";
	w.condition = "#c = :c";
	w.names = names;
	w.values = vals;
	w.return_values = "ALL_NEW";
	ck_assert_ptr_nonnull(dynamo_update_item(d, &w, dyn_cb, NULL));
	cJSON_Delete(vals); /* copied: may go at once */
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_OK);
	ck_assert_str_eq(dseen.text, "{\"a\":{\"N\":\"4\"}} count=0 pages=0");
	ck_assert_str_eq(srv.body[3],
	    "{\"TableName\":\"t\",\"Key\":{\"leaseKey\":{\"S\":\"k\"}},"
	    "\"UpdateExpression\":\"SET #c = #c + :c\",\"ConditionExpression\":"
	    "\"#c = "
	    ":c\",\"ExpressionAttributeNames\":{\"#c\":\"leaseCounter\"},"
	    "\"ExpressionAttributeValues\":{\":c\":{\"N\":\"3\"}},"
	    "\"ReturnValues\":\"ALL_NEW\"}");
	w.values = NULL;
	ck_assert_ptr_nonnull(dynamo_delete_item(d, &w, dyn_cb, NULL));
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_OK); /* Attributes ignored */
	ck_assert_str_eq(dseen.text, "");
	/* Refused at once: no item, no key, no update. */
	ck_assert_ptr_null(dynamo_put_item(d, &w, dyn_cb, NULL));
	w.key = NULL;
	ck_assert_ptr_null(dynamo_delete_item(d, &w, dyn_cb, NULL));
	ck_assert_ptr_null(dynamo_get_item(d, "t", NULL, 0, dyn_cb, NULL));
	cJSON_Delete(key);
	cJSON_Delete(names);
}
END_TEST

START_TEST(test_dynamo_scan_pages)
{
	struct dynamo_scan_params p = {0};

	REPLIES("{\"Items\":[{\"k\":{\"S\":\"1\"}}],\"LastEvaluatedKey\":"
	        "{\"k\":{\"S\":\"1\"}}}",
	    "{\"Items\":[{\"k\":{\"S\":\"2\"}}],\"LastEvaluatedKey\":"
	    "{\"k\":{\"S\":\"2\"}}}",
	    "{\"Items\":[],\"LastEvaluatedKey\":{}}", "{\"Items\":5}");
	p.table = "t";
	p.limit = 1;
	ck_assert_ptr_nonnull(dynamo_scan(d, &p, dyn_cb, NULL));
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_OK);
	ck_assert_str_eq(dseen.text,
	    "[{\"k\":{\"S\":\"1\"}},{\"k\":{\"S\":\"2\"}}] count=2 pages=3");
	ck_assert_str_eq(srv.body[0], "{\"TableName\":\"t\",\"Limit\":1}");
	ck_assert_str_eq(srv.body[2],
	    "{\"TableName\":\"t\",\"Limit\":1,\"ExclusiveStartKey\":"
	    "{\"k\":{\"S\":\"2\"}}}");
	dynamo_scan(d, &p, dyn_cb, NULL);
	run();
	ck_assert_int_eq(dseen.err, DYNAMO_ERR_RETRIABLE);
}
END_TEST

START_TEST(test_dynamo_errors)
{
	static const struct {
		const char *type;
		int status;
		enum dynamo_err want;
	} cases[] = {
	    {"ConditionalCheckFailedException", 400, DYNAMO_ERR_CONDITION},
	    {"ResourceNotFoundException", 400, DYNAMO_ERR_NOT_FOUND},
	    {"ResourceInUseException", 400, DYNAMO_ERR_IN_USE},
	    {"ProvisionedThroughputExceededException", 400,
	        DYNAMO_ERR_THROTTLED},
	    {"InternalServerError", 500, DYNAMO_ERR_RETRIABLE},
	    {"ExpiredTokenException", 400, DYNAMO_ERR_CREDENTIALS},
	    {"ValidationException", 400, DYNAMO_ERR_OTHER},
	};
	static char body[128];
	static const char *r[1] = {body};
	cJSON *item = cJSON_Parse("{\"leaseKey\":{\"S\":\"k\"}}");
	struct dynamo_write_params w = {0};

	w.table = "t";
	w.item = item;
	w.condition = "attribute_not_exists(leaseKey)";
	srv.replies = r;
	srv.n_replies = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(body, sizeof(body),
		    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\"}",
		    cases[i].type);
		srv.status = cases[i].status;
		ck_assert_ptr_nonnull(dynamo_put_item(d, &w, dyn_cb, NULL));
		run();
		ck_assert_msg(dseen.err == cases[i].want, "%s: %s",
		    cases[i].type, dynamo_err_name(dseen.err));
	}
	ck_assert_str_eq(
	    dynamo_err_name(DYNAMO_ERR_CONDITION), "condition_failed");
	ck_assert_int_eq(dynamo_err_of(NULL), DYNAMO_ERR_OTHER);
	cJSON_Delete(item);
}
END_TEST

START_TEST(test_dynamo_cancel_and_free)
{
	struct dynamo_scan_params p = {0};
	struct dynamo_call *c;

	REPLIES(NULL);
	p.table = "t";
	c = dynamo_scan(d, &p, dyn_cb, NULL);
	run_quiet(100);
	dynamo_cancel(c);
	dynamo_cancel(NULL);
	dynamo_describe_table(d, "t", dyn_cb, NULL);
	dynamo_describe_table(d, "t", dyn_cb, NULL);
	run_quiet(100);
	dynamo_free(d); /* two calls in flight */
	d = NULL;
	run_quiet(100);
	ck_assert_int_eq(seen.calls, 0);
}
END_TEST

static Suite *
api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("kinesis");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_list_shards_pages);
	tcase_add_test(tc, test_list_shards_arn_and_after);
	tcase_add_loop_test(tc, test_list_shards_malformed, 0,
	    (int)(sizeof(bad_list_shards) / sizeof(*bad_list_shards)));
	tcase_add_test(tc, test_list_shards_bad_second_page);
	tcase_add_test(tc, test_get_records);
	tcase_add_loop_test(tc, test_get_records_malformed, 0,
	    (int)(sizeof(bad_get_records) / sizeof(*bad_get_records)));
	tcase_add_test(tc, test_put_records);
	tcase_add_loop_test(tc, test_put_records_malformed, 0,
	    (int)(sizeof(bad_put_records) / sizeof(*bad_put_records)));
	tcase_add_test(tc, test_iterators);
	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_kinesis_error_passthrough);
	tcase_add_test(tc, test_kinesis_cancel_and_free);
	suite_add_tcase(s, tc);

	tc = tcase_create("dynamo");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dynamo_table);
	tcase_add_test(tc, test_dynamo_writes);
	tcase_add_test(tc, test_dynamo_scan_pages);
	tcase_add_test(tc, test_dynamo_errors);
	tcase_add_test(tc, test_dynamo_cancel_and_free);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(api_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
