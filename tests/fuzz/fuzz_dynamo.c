/*
 * fuzz_dynamo.c — DynamoDB replies, whatever their bytes, through the real
 * stack (aws/http.c, aws/client.c, dynamo/api.c) from a fake endpoint on
 * the same loop, as fuzz_kinesis.c does for Kinesis.
 *
 * Input: byte 0 picks the call (DescribeTable, CreateTable, GetItem,
 * PutItem, UpdateItem, DeleteItem, Scan), byte 1 the HTTP status and an
 * error type header; the rest is the body of each request in turn,
 * separated by 0x1e bytes (Scan follows LastEvaluatedKey).  Once they run
 * out the endpoint answers 500.
 *
 * The callback must run exactly once; what the result points to is read
 * whole (ASan checks it) and must have the types dynamo.h promises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"
#include "log/log.h"
#include "tests/fuzz/lib/fuzz.h"

static struct {
	struct event_base *base;
	struct aws_http *http;
	struct aws_credentials *creds;
	struct dynamo *d;
	cJSON *key, *item, *values;
	const uint8_t *data;
	size_t size, off;
	int status;
	const char *error_type;
	int calls;
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

static void
touch(const char *s)
{
	if (s != NULL)
		sink += strlen(s);
}

/* Prints a tree the result hands out: reads every node of it. */
static void
touch_json(const cJSON *j)
{
	char *s;

	if (j == NULL)
		return;
	if ((s = cJSON_PrintUnformatted(j)) != NULL)
		sink += strlen(s);
	free(s);
}

static void
dyn_cb(const struct dynamo_result *r, void *arg)
{
	(void)arg;
	F.calls++;
	if (r->aws == NULL || (r->err == DYNAMO_OK) != (r->aws->err == AWS_OK))
		abort();
	touch(dynamo_err_name(r->err));
	touch(r->aws->type);
	touch(r->aws->message);
	if (r->table != NULL) {
		if (r->table->status == NULL)
			abort();
		touch(r->table->name);
		touch(r->table->status);
		touch(r->table->arn);
		touch(r->table->billing_mode);
		touch(r->table->hash_key);
	}
	if (r->item != NULL && !cJSON_IsObject(r->item))
		abort();
	if (r->attributes != NULL && !cJSON_IsObject(r->attributes))
		abort();
	if (r->items != NULL &&
	    (!cJSON_IsArray(r->items) ||
	        (size_t)cJSON_GetArraySize(r->items) != r->count))
		abort();
	touch_json(r->item);
	touch_json(r->attributes);
	touch_json(r->items);
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
	fuzz_setenv("AWS_SESSION_TOKEN", NULL);
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
	o.max_attempts = 1;
	if ((F.d = dynamo_new(F.http, F.creds, NULL, &o, &cause)) == NULL) {
		fprintf(stderr, "fuzz_dynamo: %s\n", cause);
		abort();
	}
	F.key = cJSON_Parse("{\"leaseKey\":{\"S\":\"shardId-0\"}}");
	F.item = cJSON_Parse("{\"leaseKey\":{\"S\":\"shardId-0\"},"
	                     "\"leaseCounter\":{\"N\":\"1\"}}");
	F.values = cJSON_Parse("{\":c\":{\"N\":\"1\"}}");
	if (F.key == NULL || F.item == NULL || F.values == NULL)
		abort();
	return 0;
}

static const int statuses[] = {200, 200, 200, 200, 200, 400, 500, 503};
static const char *const error_types[] = {NULL,
    "ConditionalCheckFailedException", "ResourceNotFoundException",
    "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dynamo_create_table_params cp = {"t", NULL, 0, 0};
	struct dynamo_write_params w = {0};
	struct dynamo_scan_params sp = {0};
	struct dynamo_call *call = NULL;
	unsigned sel;

	if (size < 2)
		return 0;
	sel = data[1];
	F.data = data + 2;
	F.size = size - 2;
	F.off = 0;
	F.calls = 0;
	F.status = statuses[sel % 8];
	F.error_type = error_types[(sel >> 3) % 4];
	w.table = "t";
	w.item = F.item;
	w.key = F.key;
	w.update = "SET leaseCounter = :c";
	w.condition = "attribute_exists(leaseKey)";
	w.values = F.values;
	w.return_values = (sel & 0x20) ? "ALL_NEW" : NULL;
	sp.table = "t";
	sp.limit = 2;
	switch (data[0] % 7) {
	case 0:
		call = dynamo_describe_table(F.d, "t", dyn_cb, NULL);
		break;
	case 1:
		call = dynamo_create_table(F.d, &cp, dyn_cb, NULL);
		break;
	case 2:
		call = dynamo_get_item(F.d, "t", F.key, 1, dyn_cb, NULL);
		break;
	case 3:
		call = dynamo_put_item(F.d, &w, dyn_cb, NULL);
		break;
	case 4:
		call = dynamo_update_item(F.d, &w, dyn_cb, NULL);
		break;
	case 5:
		call = dynamo_delete_item(F.d, &w, dyn_cb, NULL);
		break;
	case 6:
		call = dynamo_scan(F.d, &sp, dyn_cb, NULL);
		break;
	}
	if (call == NULL)
		abort();
	fuzz_run_until(F.base, &F.calls, 30);
	event_base_loop(F.base, EVLOOP_NONBLOCK);
	if (F.calls != 1)
		abort();
	return 0;
}
