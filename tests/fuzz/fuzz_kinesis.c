/*
 * fuzz_kinesis.c — Kinesis replies, whatever their bytes, through the real
 * stack: aws/http.c (curl on the loop), aws/client.c (status, JSON and
 * error decoding) and kinesis/api.c (each operation's reply decoder),
 * answered by a fake endpoint on the same loop.  No production code is
 * changed for it: the endpoint is just an http:// URL.
 *
 * Input: byte 0 picks the operation, byte 1 the HTTP status (and an
 * x-amzn-ErrorType header), byte 2 the number of records of a PutRecords;
 * the rest is the reply body of each request in turn, separated by 0x1e
 * bytes (ListShards follows NextToken).  Once they run out the endpoint
 * answers 500, so that every call ends.
 *
 * The callback must run exactly once, with a decoded reply exactly when
 * the result is AWS_OK; every string of a reply is read (ASan checks it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "kinesis/kinesis.h"
#include "log/log.h"
#include "tests/fuzz/lib/fuzz.h"

static struct {
	struct event_base *base;
	struct aws_http *http;
	struct aws_credentials *creds;
	struct kinesis *k;
	/* the current input */
	const uint8_t *data;
	size_t size, off;
	int status;
	const char *error_type;
	int calls;
	size_t put_n;
} F;

static void
endpoint_cb(const struct fake_request *r, struct fake_reply *out, void *arg)
{
	size_t len;
	const uint8_t *p;

	(void)r;
	(void)arg;
	if (F.off >= F.size) {
		out->status = 500;
		out->body = "{}";
		out->len = 2;
		return;
	}
	p = fuzz_next_piece(F.data, F.size, &F.off, &len);
	out->status = F.status;
	out->body = p;
	out->len = len;
	out->error_type = F.error_type;
}

static size_t sink;

/* Reads a string the reply hands out, to the end. */
static void
touch(const char *s)
{
	if (s != NULL)
		sink += strlen(s);
}

static void
result(const struct aws_result *res, const void *reply)
{
	F.calls++;
	if ((res->err == AWS_OK) != (reply != NULL)) {
		fprintf(stderr, "result %s with%s a reply\n",
		    aws_err_name(res->err), reply != NULL ? "" : "out");
		abort();
	}
	touch(res->type);
	touch(res->message);
}

static void
shards_cb(
    const struct aws_result *res, const struct kinesis_shards *s, void *arg)
{
	(void)arg;
	result(res, s);
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		const struct kinesis_shard *sh = &s->shards[i];

		if (sh->id == NULL || sh->hash_start == NULL ||
		    sh->hash_end == NULL || sh->seq_start == NULL)
			abort(); /* required fields, kinesis.h says */
		touch(sh->id);
		touch(sh->parent);
		touch(sh->adjacent_parent);
		touch(sh->hash_start);
		touch(sh->hash_end);
		touch(sh->seq_start);
		touch(sh->seq_end);
	}
}

static void
summary_cb(const struct aws_result *res, const struct kinesis_stream_summary *s,
    void *arg)
{
	(void)arg;
	result(res, s);
	if (s == NULL)
		return;
	if (s->status == NULL)
		abort();
	touch(s->name);
	touch(s->arn);
	touch(s->mode);
	touch(s->encryption_type);
	touch(s->key_id);
}

static void
put_cb(const struct aws_result *res, const struct kinesis_put_records_result *p,
    void *arg)
{
	(void)arg;
	result(res, p);
	if (p == NULL)
		return;
	if (p->n != F.put_n)
		abort(); /* one result per record sent, in order */
	for (size_t i = 0; i < p->n; i++) {
		const struct kinesis_put_record_result *r = &p->records[i];

		if (r->error_code == NULL &&
		    (r->shard_id == NULL || r->seq == NULL))
			abort();
		touch(r->shard_id);
		touch(r->seq);
		touch(r->error_code);
		touch(r->error_message);
	}
	touch(p->encryption_type);
}

static void
iterator_cb(const struct aws_result *res, const char *it, void *arg)
{
	(void)arg;
	result(res, it);
	touch(it);
}

static void
records_cb(
    const struct aws_result *res, const struct kinesis_records *rs, void *arg)
{
	(void)arg;
	result(res, rs);
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		const struct kinesis_record *r = &rs->records[i];

		touch(r->seq);
		touch(r->partition_key);
		for (size_t b = 0; b < r->len; b++)
			sink += r->data[b];
		if (r->data[r->len] != '\0')
			abort(); /* kinesis.h: a NUL after len */
	}
	touch(rs->next_iterator);
	for (size_t i = 0; i < rs->n_children; i++) {
		const struct kinesis_child_shard *c = &rs->children[i];

		touch(c->id);
		touch(c->hash_start);
		touch(c->hash_end);
		for (size_t j = 0; j < c->n_parents; j++)
			touch(c->parents[j]);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct aws_client_opts o;
	char *cause = NULL, endpoint[64];
	int port;

	(void)argc;
	(void)argv;
	fuzz_log_init();
	fuzz_setenv("AWS_ACCESS_KEY_ID", "AKIDFUZZ");
	fuzz_setenv("AWS_SECRET_ACCESS_KEY", "fuzz-secret");
	fuzz_setenv("AWS_SESSION_TOKEN", "fuzz-token");
	fuzz_setenv("AWS_EC2_METADATA_DISABLED", "true");
	if ((F.base = event_base_new()) == NULL ||
	    (F.http = aws_http_new(F.base, &cause)) == NULL ||
	    (F.creds = aws_credentials_new(F.base, F.http)) == NULL)
		abort();
	port = fake_endpoint_start(F.base, endpoint_cb, NULL);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
	memset(&o, 0, sizeof(o));
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.max_attempts = 1; /* every reply is seen by the decoder, once */
	if ((F.k = kinesis_new(F.http, F.creds, NULL, &o, &cause)) == NULL) {
		fprintf(stderr, "fuzz_kinesis: %s\n", cause);
		abort();
	}
	return 0;
}

static const int statuses[] = {200, 200, 200, 200, 200, 400, 500, 503};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kinesis_put_entry e[8];
	struct kinesis_list_shards_params lp = {0};
	struct kinesis_iterator_params ip = {0};
	struct kinesis_call *call = NULL;
	unsigned op, sel;

	if (size < 3)
		return 0;
	op = data[0] % 5;
	sel = data[1];
	F.put_n = 1 + data[2] % 8;
	F.data = data + 3;
	F.size = size - 3;
	F.off = 0;
	F.calls = 0;
	F.status = statuses[sel % 8];
	F.error_type = (sel & 0x8) ? "ThrottlingException:http://x/" : NULL;
	switch (op) {
	case 0:
		lp.stream = "s";
		lp.max_results = 2;
		call = kinesis_list_shards(F.k, &lp, shards_cb, NULL);
		break;
	case 1:
		call =
		    kinesis_describe_stream_summary(F.k, "s", summary_cb, NULL);
		break;
	case 2:
		for (size_t i = 0; i < F.put_n; i++)
			e[i] = (struct kinesis_put_entry){"k", NULL, "d", 1};
		call =
		    kinesis_put_records(F.k, "s", e, F.put_n, 0, put_cb, NULL);
		break;
	case 3:
		ip.stream = "s";
		ip.shard_id = "shardId-000000000000";
		ip.type = KINESIS_ITER_TRIM_HORIZON;
		call = kinesis_get_shard_iterator(F.k, &ip, iterator_cb, NULL);
		break;
	case 4:
		call = kinesis_get_records(F.k, "IT", 0, records_cb, NULL);
		break;
	}
	if (call == NULL)
		abort();
	fuzz_run_until(F.base, &F.calls, 30);
	/* The callback ran once; nothing runs after it. */
	event_base_loop(F.base, EVLOOP_NONBLOCK);
	if (F.calls != 1)
		abort();
	return 0;
}
