/*
 * kdaws — performs one Kinesis or DynamoDB call through kinesisd's own
 * aws/, kinesis/ and dynamo/ code and prints the result as JSON.  Used by
 * the integration tests (cross-checked with the AWS CLI) and by the SigV4
 * proxy test.
 *
 *   kdaws [-v] [-k] [-a ATTEMPTS] [-t TIMEOUT_MS] [-c CONNECT_MS]
 *         [-r REGION] SERVICE OPERATION [JSON]
 *
 * JSON is the request, "@FILE" reads it from FILE, none means {}.
 * SERVICE is kinesis or dynamodb; the endpoint comes from
 * AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL_DYNAMODB, else
 * AWS_ENDPOINT_URL, else the region's.  Operations with a typed API are
 * decoded from JSON in the AWS request shape, run through that API and
 * printed back in the AWS reply shape (Data as base64, timestamps in ms
 * as *Ms fields, ListShards and Scan with the number of Pages).  Any other
 * operation is sent as is and its reply printed raw.
 *
 * Exit status: 0 success; 1 the call failed ({"Error":{...}} on stdout);
 * 2 bad usage or set-up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"
#include "kinesis/kinesis.h"
#include "log/log.h"

struct kdaws {
	struct event_base *base;
	int status;
	int finished;
};

static void
kdaws_usage(void)
{
	fprintf(stderr, "usage: kdaws [-v] [-k] [-a attempts] [-t timeout_ms] "
	                "[-c connect_ms] [-r region]\n"
	                "             kinesis|dynamodb OPERATION [JSON]\n");
	exit(2);
}

static void
kdaws_print(cJSON *out)
{
	char *s = out != NULL ? cJSON_Print(out) : NULL;

	if (s == NULL) {
		fprintf(stderr, "kdaws: out of memory\n");
		exit(2);
	}
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	cJSON_Delete(out);
}

static void
kdaws_done(struct kdaws *kd, int status)
{
	kd->status = status;
	kd->finished = 1;
	event_base_loopexit(kd->base, NULL);
}

/* Prints {"Error":{...}} and ends with status 1. */
static void
kdaws_error(struct kdaws *kd, const struct aws_result *res, const char *dyn)
{
	cJSON *out = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(out, "Error");

	cJSON_AddStringToObject(e, "Class", aws_err_name(res->err));
	if (res->type != NULL)
		cJSON_AddStringToObject(e, "Type", res->type);
	if (res->message != NULL)
		cJSON_AddStringToObject(e, "Message", res->message);
	cJSON_AddNumberToObject(e, "Status", (double)res->status);
	cJSON_AddNumberToObject(e, "Attempts", res->attempts);
	if (dyn != NULL)
		cJSON_AddStringToObject(e, "Dynamo", dyn);
	kdaws_print(out);
	kdaws_done(kd, 1);
}

static void
kdaws_add_str(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
}

static const char *
kdaws_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
kdaws_num(const cJSON *o, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *
kdaws_stream(const cJSON *in)
{
	const char *s = kdaws_str(in, "StreamARN");

	return s != NULL ? s : kdaws_str(in, "StreamName");
}

/* ---- kinesis --------------------------------------------------------------
 */

static void
kdaws_shards_cb(
    const struct aws_result *res, const struct kinesis_shards *s, void *arg)
{
	cJSON *out, *arr, *o, *r;

	if (s == NULL) {
		kdaws_error(arg, res, NULL);
		return;
	}
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "Shards");
	for (size_t i = 0; i < s->n; i++) {
		const struct kinesis_shard *sh = &s->shards[i];
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		kdaws_add_str(o, "ShardId", sh->id);
		kdaws_add_str(o, "ParentShardId", sh->parent);
		kdaws_add_str(o, "AdjacentParentShardId", sh->adjacent_parent);
		r = cJSON_AddObjectToObject(o, "HashKeyRange");
		kdaws_add_str(r, "StartingHashKey", sh->hash_start);
		kdaws_add_str(r, "EndingHashKey", sh->hash_end);
		r = cJSON_AddObjectToObject(o, "SequenceNumberRange");
		kdaws_add_str(r, "StartingSequenceNumber", sh->seq_start);
		kdaws_add_str(r, "EndingSequenceNumber", sh->seq_end);
	}
	cJSON_AddNumberToObject(out, "Pages", s->pages);
	cJSON_AddNumberToObject(out, "Attempts", res->attempts);
	kdaws_print(out);
	kdaws_done(arg, 0);
}

static void
kdaws_summary_cb(const struct aws_result *res,
    const struct kinesis_stream_summary *s, void *arg)
{
	cJSON *out, *o;

	if (s == NULL) {
		kdaws_error(arg, res, NULL);
		return;
	}
	out = cJSON_CreateObject();
	o = cJSON_AddObjectToObject(out, "StreamDescriptionSummary");
	kdaws_add_str(o, "StreamName", s->name);
	kdaws_add_str(o, "StreamARN", s->arn);
	kdaws_add_str(o, "StreamStatus", s->status);
	kdaws_add_str(o, "StreamMode", s->mode);
	kdaws_add_str(o, "EncryptionType", s->encryption_type);
	kdaws_add_str(o, "KeyId", s->key_id);
	cJSON_AddNumberToObject(
	    o, "StreamCreationTimestampMs", (double)s->creation_ms);
	cJSON_AddNumberToObject(
	    o, "RetentionPeriodHours", (double)s->retention_hours);
	cJSON_AddNumberToObject(
	    o, "OpenShardCount", (double)s->open_shard_count);
	if (s->consumer_count >= 0)
		cJSON_AddNumberToObject(
		    o, "ConsumerCount", (double)s->consumer_count);
	kdaws_print(out);
	kdaws_done(arg, 0);
}

static void
kdaws_put_cb(const struct aws_result *res,
    const struct kinesis_put_records_result *p, void *arg)
{
	cJSON *out, *arr, *o;

	if (p == NULL) {
		kdaws_error(arg, res, NULL);
		return;
	}
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(
	    out, "FailedRecordCount", (double)p->failed_count);
	arr = cJSON_AddArrayToObject(out, "Records");
	for (size_t i = 0; i < p->n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		kdaws_add_str(o, "ShardId", p->records[i].shard_id);
		kdaws_add_str(o, "SequenceNumber", p->records[i].seq);
		kdaws_add_str(o, "ErrorCode", p->records[i].error_code);
		kdaws_add_str(o, "ErrorMessage", p->records[i].error_message);
	}
	kdaws_add_str(out, "EncryptionType", p->encryption_type);
	kdaws_print(out);
	kdaws_done(arg, 0);
}

static void
kdaws_iterator_cb(const struct aws_result *res, const char *it, void *arg)
{
	cJSON *out;

	if (it == NULL) {
		kdaws_error(arg, res, NULL);
		return;
	}
	out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "ShardIterator", it);
	kdaws_print(out);
	kdaws_done(arg, 0);
}

static void
kdaws_records_cb(
    const struct aws_result *res, const struct kinesis_records *r, void *arg)
{
	cJSON *out, *arr, *o, *ps;
	char *b64;

	if (r == NULL) {
		kdaws_error(arg, res, NULL);
		return;
	}
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "Records");
	for (size_t i = 0; i < r->n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		kdaws_add_str(o, "SequenceNumber", r->records[i].seq);
		kdaws_add_str(o, "PartitionKey", r->records[i].partition_key);
		b64 = aws_base64_encode(
		    r->records[i].data, r->records[i].len, NULL);
		kdaws_add_str(o, "Data", b64);
		free(b64);
		cJSON_AddNumberToObject(o, "ApproximateArrivalTimestampMs",
		    (double)r->records[i].arrival_ms);
	}
	if (r->next_iterator != NULL)
		cJSON_AddStringToObject(
		    out, "NextShardIterator", r->next_iterator);
	else
		cJSON_AddNullToObject(out, "NextShardIterator");
	if (r->millis_behind >= 0)
		cJSON_AddNumberToObject(
		    out, "MillisBehindLatest", (double)r->millis_behind);
	if (r->n_children > 0) {
		arr = cJSON_AddArrayToObject(out, "ChildShards");
		for (size_t i = 0; i < r->n_children; i++) {
			const struct kinesis_child_shard *c = &r->children[i];
			o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			kdaws_add_str(o, "ShardId", c->id);
			ps = cJSON_AddObjectToObject(o, "HashKeyRange");
			kdaws_add_str(ps, "StartingHashKey", c->hash_start);
			kdaws_add_str(ps, "EndingHashKey", c->hash_end);
			ps = cJSON_AddArrayToObject(o, "ParentShards");
			for (size_t j = 0; j < c->n_parents; j++)
				cJSON_AddItemToArray(
				    ps, cJSON_CreateString(c->parents[j]));
		}
	}
	kdaws_print(out);
	kdaws_done(arg, 0);
}

static void
kdaws_raw_cb(const struct aws_result *res, void *arg)
{
	if (res->err != AWS_OK) {
		kdaws_error(arg, res, NULL);
		return;
	}
	kdaws_print(cJSON_Duplicate(res->json, 1));
	kdaws_done(arg, 0);
}

/* Starts the call; 0, or -1 when the input does not make one. */
static int
kdaws_kinesis(struct kinesis *k, const char *op, const cJSON *in,
    const char *raw, struct kdaws *kd)
{
	const char *stream = kdaws_stream(in);

	if (strcmp(op, "ListShards") == 0) {
		struct kinesis_list_shards_params p;
		const cJSON *f =
		    cJSON_GetObjectItemCaseSensitive(in, "ShardFilter");
		memset(&p, 0, sizeof(p));
		p.stream = stream;
		p.max_results = (int)kdaws_num(in, "MaxResults", 0);
		p.exclusive_start_shard_id =
		    kdaws_str(in, "ExclusiveStartShardId");
		p.filter_type = kdaws_str(f, "Type");
		p.filter_shard_id = kdaws_str(f, "ShardId");
		p.filter_timestamp_ms =
		    (int64_t)(kdaws_num(f, "Timestamp", 0) * 1000.0);
		return kinesis_list_shards(k, &p, kdaws_shards_cb, kd) != NULL
		           ? 0
		           : -1;
	}
	if (strcmp(op, "DescribeStreamSummary") == 0)
		return kinesis_describe_stream_summary(
		           k, stream, kdaws_summary_cb, kd) != NULL
		           ? 0
		           : -1;
	if (strcmp(op, "PutRecords") == 0) {
		const cJSON *recs =
		                cJSON_GetObjectItemCaseSensitive(in, "Records"),
		            *r;
		size_t n = (size_t)cJSON_GetArraySize(recs), i = 0;
		struct kinesis_put_entry *e = calloc(n + 1, sizeof(*e));
		unsigned char **bufs = calloc(n + 1, sizeof(*bufs));
		int rc = -1;

		if (e == NULL || bufs == NULL || !cJSON_IsArray(recs))
			goto put_out;
		cJSON_ArrayForEach(r, recs)
		{
			const char *d = kdaws_str(r, "Data");
			if (d == NULL || aws_base64_decode(d, strlen(d),
			                     &bufs[i], &e[i].len) != 0) {
				fprintf(stderr,
				    "kdaws: record %zu: Data is "
				    "not base64\n",
				    i);
				goto put_out;
			}
			e[i].data = bufs[i];
			e[i].partition_key = kdaws_str(r, "PartitionKey");
			e[i].explicit_hash_key =
			    kdaws_str(r, "ExplicitHashKey");
			i++;
		}
		rc = kinesis_put_records(
		         k, stream, e, n, 0, kdaws_put_cb, kd) != NULL
		         ? 0
		         : -1;
	put_out:
		for (i = 0; bufs != NULL && i < n; i++)
			free(bufs[i]);
		free(bufs);
		free(e);
		return rc;
	}
	if (strcmp(op, "GetShardIterator") == 0) {
		struct kinesis_iterator_params p;
		int t = kinesis_iterator_type_parse(
		    kdaws_str(in, "ShardIteratorType"));
		if (t < 0)
			return -1;
		memset(&p, 0, sizeof(p));
		p.stream = stream;
		p.shard_id = kdaws_str(in, "ShardId");
		p.type = (enum kinesis_iterator_type)t;
		p.sequence_number = kdaws_str(in, "StartingSequenceNumber");
		p.timestamp_ms =
		    (int64_t)(kdaws_num(in, "Timestamp", 0) * 1000.0);
		return kinesis_get_shard_iterator(
		           k, &p, kdaws_iterator_cb, kd) != NULL
		           ? 0
		           : -1;
	}
	if (strcmp(op, "GetRecords") == 0)
		return kinesis_get_records(k, kdaws_str(in, "ShardIterator"),
		           (int)kdaws_num(in, "Limit", 0), kdaws_records_cb,
		           kd) != NULL
		           ? 0
		           : -1;
	return aws_client_call(kinesis_client(k), op, strdup(raw), 0,
	           kdaws_raw_cb, kd) != NULL
	           ? 0
	           : -1;
}

/* ---- dynamodb -------------------------------------------------------------
 */

static cJSON *
kdaws_table_json(const struct dynamo_table *t)
{
	cJSON *o = cJSON_CreateObject();

	kdaws_add_str(o, "TableName", t->name);
	kdaws_add_str(o, "TableStatus", t->status);
	kdaws_add_str(o, "TableArn", t->arn);
	kdaws_add_str(o, "BillingMode", t->billing_mode);
	kdaws_add_str(o, "HashKey", t->hash_key);
	cJSON_AddNumberToObject(o, "ItemCount", (double)t->item_count);
	cJSON_AddNumberToObject(
	    o, "ReadCapacityUnits", (double)t->read_capacity);
	cJSON_AddNumberToObject(
	    o, "WriteCapacityUnits", (double)t->write_capacity);
	return o;
}

struct kdaws_dyn {
	struct kdaws *kd;
	const char *op;
};

static void
kdaws_dynamo_cb(const struct dynamo_result *r, void *arg)
{
	struct kdaws_dyn *dd = arg;
	cJSON *out;

	if (r->err != DYNAMO_OK) {
		kdaws_error(dd->kd, r->aws, dynamo_err_name(r->err));
		return;
	}
	out = cJSON_CreateObject();
	if (r->table != NULL)
		cJSON_AddItemToObject(out,
		    strcmp(dd->op, "CreateTable") == 0 ? "TableDescription"
		                                       : "Table",
		    kdaws_table_json(r->table));
	if (r->item != NULL)
		cJSON_AddItemToObject(out, "Item", cJSON_Duplicate(r->item, 1));
	if (r->attributes != NULL)
		cJSON_AddItemToObject(
		    out, "Attributes", cJSON_Duplicate(r->attributes, 1));
	if (r->items != NULL) {
		cJSON_AddItemToObject(
		    out, "Items", cJSON_Duplicate(r->items, 1));
		cJSON_AddNumberToObject(out, "Count", (double)r->count);
		cJSON_AddNumberToObject(out, "Pages", r->pages);
	}
	kdaws_print(out);
	kdaws_done(dd->kd, 0);
}

static int
kdaws_dynamo(struct dynamo *d, const char *op, const cJSON *in, const char *raw,
    struct kdaws_dyn *dd)
{
	const char *table = kdaws_str(in, "TableName");

	if (strcmp(op, "DescribeTable") == 0)
		return dynamo_describe_table(d, table, kdaws_dynamo_cb, dd) !=
		               NULL
		           ? 0
		           : -1;
	if (strcmp(op, "CreateTable") == 0) {
		struct dynamo_create_table_params p;
		const cJSON *ks = cJSON_GetObjectItemCaseSensitive(
		                in, "KeySchema"),
		            *k;
		const cJSON *pt = cJSON_GetObjectItemCaseSensitive(
		    in, "ProvisionedThroughput");
		memset(&p, 0, sizeof(p));
		p.table = table;
		cJSON_ArrayForEach(k, ks)
		{
			const char *type = kdaws_str(k, "KeyType");
			if (type != NULL && strcmp(type, "HASH") == 0)
				p.hash_key = kdaws_str(k, "AttributeName");
		}
		p.read_capacity = (long)kdaws_num(pt, "ReadCapacityUnits", 0);
		p.write_capacity = (long)kdaws_num(pt, "WriteCapacityUnits", 0);
		return dynamo_create_table(d, &p, kdaws_dynamo_cb, dd) != NULL
		           ? 0
		           : -1;
	}
	if (strcmp(op, "GetItem") == 0) {
		const cJSON *cr =
		    cJSON_GetObjectItemCaseSensitive(in, "ConsistentRead");
		return dynamo_get_item(d, table,
		           cJSON_GetObjectItemCaseSensitive(in, "Key"),
		           cJSON_IsTrue(cr), kdaws_dynamo_cb, dd) != NULL
		           ? 0
		           : -1;
	}
	if (strcmp(op, "PutItem") == 0 || strcmp(op, "UpdateItem") == 0 ||
	    strcmp(op, "DeleteItem") == 0) {
		struct dynamo_write_params p;
		struct dynamo_call *c;
		memset(&p, 0, sizeof(p));
		p.table = table;
		p.item = cJSON_GetObjectItemCaseSensitive(in, "Item");
		p.key = cJSON_GetObjectItemCaseSensitive(in, "Key");
		p.update = kdaws_str(in, "UpdateExpression");
		p.condition = kdaws_str(in, "ConditionExpression");
		p.names = cJSON_GetObjectItemCaseSensitive(
		    in, "ExpressionAttributeNames");
		p.values = cJSON_GetObjectItemCaseSensitive(
		    in, "ExpressionAttributeValues");
		p.return_values = kdaws_str(in, "ReturnValues");
		if (op[0] == 'P')
			c = dynamo_put_item(d, &p, kdaws_dynamo_cb, dd);
		else if (op[0] == 'U')
			c = dynamo_update_item(d, &p, kdaws_dynamo_cb, dd);
		else
			c = dynamo_delete_item(d, &p, kdaws_dynamo_cb, dd);
		return c != NULL ? 0 : -1;
	}
	if (strcmp(op, "Scan") == 0) {
		struct dynamo_scan_params p;
		memset(&p, 0, sizeof(p));
		p.table = table;
		p.limit = (int)kdaws_num(in, "Limit", 0);
		p.consistent_read = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(in, "ConsistentRead"));
		p.filter = kdaws_str(in, "FilterExpression");
		p.names = cJSON_GetObjectItemCaseSensitive(
		    in, "ExpressionAttributeNames");
		p.values = cJSON_GetObjectItemCaseSensitive(
		    in, "ExpressionAttributeValues");
		return dynamo_scan(d, &p, kdaws_dynamo_cb, dd) != NULL ? 0 : -1;
	}
	return aws_client_call(dynamo_client(d), op, strdup(raw), 0,
	           kdaws_raw_cb, dd->kd) != NULL
	           ? 0
	           : -1;
}

/* The whole of a file, NUL-terminated; NULL (and a message) on failure. */
static char *
kdaws_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	do {
		if (cap - len < 65536) {
			cap = cap > 0 ? cap * 2 : 131072;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static const char *
kdaws_env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((v == NULL || *v == '\0') && b != NULL)
		v = getenv(b);
	return v != NULL && *v != '\0' ? v : NULL;
}

int
main(int argc, char **argv)
{
	struct aws_client_opts opts;
	struct aws_credentials *creds = NULL;
	struct aws_http *http = NULL;
	struct kinesis *k = NULL;
	struct dynamo *d = NULL;
	struct kdaws kd;
	struct kdaws_dyn dd;
	const char *service, *op, *raw, *region;
	char *cause = NULL, *file = NULL;
	cJSON *in;
	int c, rc;

	memset(&opts, 0, sizeof(opts));
	memset(&kd, 0, sizeof(kd));
	opts.verify_certificate = 1;
	region = kdaws_env("AWS_REGION", "AWS_DEFAULT_REGION");
	log_init(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
	while ((c = getopt(argc, argv, "a:c:kr:t:v")) != -1) {
		switch (c) {
		case 'a':
			opts.max_attempts = (unsigned)atoi(optarg);
			break;
		case 'c':
			opts.connect_timeout_ms = atol(optarg);
			break;
		case 'k':
			opts.verify_certificate = 0;
			break;
		case 'r':
			region = optarg;
			break;
		case 't':
			opts.request_timeout_ms = atol(optarg);
			break;
		case 'v':
			log_set_level(log_enabled(LOG_LEVEL_DEBUG)
			                  ? LOG_LEVEL_TRACE
			                  : LOG_LEVEL_DEBUG);
			break;
		default:
			kdaws_usage();
		}
	}
	if (argc - optind < 2 || argc - optind > 3)
		kdaws_usage();
	service = argv[optind];
	op = argv[optind + 1];
	raw = argc - optind == 3 ? argv[optind + 2] : "{}";
	if (raw[0] == '@' && (raw = file = kdaws_read(raw + 1)) == NULL)
		return 2;
	if ((in = cJSON_Parse(raw)) == NULL || !cJSON_IsObject(in)) {
		fprintf(stderr, "kdaws: the input is not a JSON object\n");
		return 2;
	}
	opts.region = region != NULL ? region : "us-east-1";
	if (strcmp(service, "kinesis") == 0)
		opts.endpoint =
		    kdaws_env("AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL");
	else if (strcmp(service, "dynamodb") == 0)
		opts.endpoint =
		    kdaws_env("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL");
	else
		kdaws_usage();

	if ((kd.base = event_base_new()) == NULL ||
	    (http = aws_http_new(kd.base, &cause)) == NULL ||
	    (creds = aws_credentials_new(kd.base, http)) == NULL) {
		fprintf(
		    stderr, "kdaws: %s\n", cause != NULL ? cause : "set-up");
		return 2;
	}
	if (service[0] == 'k')
		k = kinesis_new(http, creds, NULL, &opts, &cause);
	else
		d = dynamo_new(http, creds, NULL, &opts, &cause);
	if (k == NULL && d == NULL) {
		fprintf(
		    stderr, "kdaws: %s\n", cause != NULL ? cause : "set-up");
		return 2;
	}
	dd.kd = &kd;
	dd.op = op;
	rc = k != NULL ? kdaws_kinesis(k, op, in, raw, &kd)
	               : kdaws_dynamo(d, op, in, raw, &dd);
	if (rc != 0) {
		fprintf(stderr, "kdaws: %s: missing or bad parameters\n", op);
		kd.status = 2;
	} else {
		event_base_dispatch(kd.base);
		if (!kd.finished) {
			fprintf(stderr, "kdaws: the loop ended early\n");
			kd.status = 2;
		}
	}
	kinesis_free(k);
	dynamo_free(d);
	aws_credentials_free(creds);
	aws_http_free(http);
	event_base_free(kd.base);
	cJSON_Delete(in);
	free(cause);
	free(file);
	return kd.status;
}
