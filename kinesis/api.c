/*
 * api.c — the Kinesis Data Streams calls of kinesis.h: requests built and
 * replies decoded with cJSON, sent through aws_client (signing, retries,
 * connection limit).
 *
 * Decoding trusts nothing: every field is type-checked, a missing required
 * one turns the whole reply into an AWS_ERR_RETRIABLE result with a message
 * naming it.  Strings of single-page replies point into the reply's JSON
 * tree (alive until the callback returns); ListShards copies its strings
 * because its pages arrive one by one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "kinesis/kinesis.h"

enum api_kind {
	API_LIST_SHARDS,
	API_SUMMARY,
	API_PUT_RECORDS,
	API_ITERATOR,
	API_RECORDS,
};

struct kinesis {
	struct aws_client *client;
	TAILQ_HEAD(, kinesis_call) calls;
};

struct kinesis_call {
	struct kinesis *k;
	enum api_kind kind;
	struct aws_call *call; /* the request in flight */
	union {
		kinesis_shards_cb shards;
		kinesis_summary_cb summary;
		kinesis_put_records_cb put;
		kinesis_iterator_cb iterator;
		kinesis_records_cb records;
	} cb;
	void *arg;
	int done;     /* its callback is running */
	size_t n_put; /* PutRecords: records sent */
	/* ListShards: pages gathered so far, and the strings they own. */
	struct kinesis_shard *shards;
	size_t n_shards;
	size_t cap_shards;
	unsigned pages;
	int max_results;
	char **owned;
	size_t n_owned;
	size_t cap_owned;
	TAILQ_ENTRY(kinesis_call) entry;
};

static const char *const api_iter_names[] = {
    "TRIM_HORIZON",
    "LATEST",
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "AT_TIMESTAMP",
};

const char *
kinesis_iterator_type_name(enum kinesis_iterator_type t)
{
	if ((size_t)t < sizeof(api_iter_names) / sizeof(*api_iter_names))
		return api_iter_names[t];
	return "?";
}

int
kinesis_iterator_type_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(api_iter_names) / sizeof(*api_iter_names);
	     i++)
		if (s != NULL && strcmp(s, api_iter_names[i]) == 0)
			return (int)i;
	return -1;
}

struct kinesis *
kinesis_new(struct aws_http *http, struct aws_credentials *creds,
    struct metrics *metrics, const struct aws_client_opts *opts, char **cause)
{
	struct aws_client_opts o = *opts;
	struct kinesis *k;

	*cause = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	TAILQ_INIT(&k->calls);
	o.service = "kinesis";
	o.target_prefix = "Kinesis_20131202";
	o.content_type = "application/x-amz-json-1.1";
	if ((k->client = aws_client_new(http, creds, metrics, &o, cause)) ==
	    NULL) {
		free(k);
		return NULL;
	}
	return k;
}

struct aws_client *
kinesis_client(struct kinesis *k)
{
	return k->client;
}

static void
api_call_free(struct kinesis_call *kc)
{
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->n_owned; i++)
		free(kc->owned[i]);
	free(kc->owned);
	free(kc->shards);
	free(kc);
}

void
kinesis_free(struct kinesis *k)
{
	struct kinesis_call *kc;

	if (k == NULL)
		return;
	while ((kc = TAILQ_FIRST(&k->calls)) != NULL) {
		TAILQ_REMOVE(&k->calls, kc, entry);
		aws_call_cancel(kc->call);
		api_call_free(kc);
	}
	/* Deferred by the client itself when one of its callbacks (and so
	 * ours) is on the stack. */
	aws_client_free(k->client);
	free(k);
}

void
kinesis_cancel(struct kinesis_call *kc)
{
	if (kc == NULL || kc->done)
		return;
	TAILQ_REMOVE(&kc->k->calls, kc, entry);
	aws_call_cancel(kc->call);
	api_call_free(kc);
}

/* ---- JSON helpers -------------------------------------------------------- */

static const char *
api_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * A number field, or def when absent, not a number, or beyond 2^53: no
 * field here is that large, and casting such a double (1e300, inf) to an
 * integer type, as callers do, is undefined behaviour.
 */
static double
api_num(const cJSON *obj, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= 9007199254740992.0))
		return def;
	return v->valuedouble;
}

/* Kinesis timestamps are seconds since the epoch, with a fraction. */
static int64_t
api_ms(const cJSON *obj, const char *name)
{
	double s = api_num(obj, name, 0);

	if (!isfinite(s) || s < 0 || s > 9e12)
		return 0;
	return (int64_t)llround(s * 1000.0);
}

static int
api_add_stream(cJSON *req, const char *stream)
{
	const char *key =
	    strncmp(stream, "arn:", 4) == 0 ? "StreamARN" : "StreamName";

	return cJSON_AddStringToObject(req, key, stream) != NULL ? 0 : -1;
}

/* ---- calls --------------------------------------------------------------- */

static void api_aws_cb(const struct aws_result *, void *);

static struct kinesis_call *
api_call_new(struct kinesis *k, enum api_kind kind, void *arg)
{
	struct kinesis_call *kc;

	if (k == NULL || (kc = calloc(1, sizeof(*kc))) == NULL)
		return NULL;
	kc->k = k;
	kc->kind = kind;
	kc->arg = arg;
	return kc;
}

/* req printed (and deleted), or NULL. */
static char *
api_print(cJSON *req)
{
	char *body = req != NULL ? cJSON_PrintUnformatted(req) : NULL;

	cJSON_Delete(req);
	return body;
}

/* Sends body (taken over) as op for kc; 0, or -1 when nothing was sent. */
static int
api_send_body(
    struct kinesis_call *kc, const char *op, char *body, unsigned max_attempts)
{
	if (body == NULL)
		return -1;
	kc->call = aws_client_call(
	    kc->k->client, op, body, max_attempts, api_aws_cb, kc);
	return kc->call != NULL ? 0 : -1;
}

static int
api_send(
    struct kinesis_call *kc, const char *op, cJSON *req, unsigned max_attempts)
{
	return api_send_body(kc, op, api_print(req), max_attempts);
}

/* Starts kc with body (taken over), or frees kc and returns NULL. */
static struct kinesis_call *
api_start_body(
    struct kinesis_call *kc, const char *op, char *body, unsigned max_attempts)
{
	if (api_send_body(kc, op, body, max_attempts) != 0) {
		api_call_free(kc);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&kc->k->calls, kc, entry);
	return kc;
}

/* Starts kc with req (deleted here), or frees kc and returns NULL. */
static struct kinesis_call *
api_start(
    struct kinesis_call *kc, const char *op, cJSON *req, unsigned max_attempts)
{
	return api_start_body(kc, op, api_print(req), max_attempts);
}

/* Runs the user's callback with res and the decoded reply (or NULL). */
static void
api_deliver(
    struct kinesis_call *kc, const struct aws_result *res, const void *reply)
{
	TAILQ_REMOVE(&kc->k->calls, kc, entry);
	kc->done = 1;
	switch (kc->kind) {
	case API_LIST_SHARDS:
		kc->cb.shards(res, reply, kc->arg);
		break;
	case API_SUMMARY:
		kc->cb.summary(res, reply, kc->arg);
		break;
	case API_PUT_RECORDS:
		kc->cb.put(res, reply, kc->arg);
		break;
	case API_ITERATOR:
		kc->cb.iterator(res, reply, kc->arg);
		break;
	case API_RECORDS:
		kc->cb.records(res, reply, kc->arg);
		break;
	}
	api_call_free(kc);
}

/* A successful exchange whose reply we cannot use. */
static void
api_deliver_bad(struct kinesis_call *kc, const struct aws_result *res,
    const char *op, const char *what)
{
	struct aws_result bad = *res;
	char msg[256];

	snprintf(msg, sizeof(msg), "%s reply: %s", op, what);
	bad.err = AWS_ERR_RETRIABLE;
	bad.type = NULL;
	bad.message = msg;
	api_deliver(kc, &bad, NULL);
}

static void
api_deliver_oom(struct kinesis_call *kc, const struct aws_result *res)
{
	struct aws_result bad = *res;

	bad.err = AWS_ERR_RETRIABLE;
	bad.type = NULL;
	bad.message = "out of memory";
	api_deliver(kc, &bad, NULL);
}

/* ---- ListShards ---------------------------------------------------------- */

/* A copy of s owned by kc (NULL stays NULL); -1 on allocation failure. */
static int
api_own(struct kinesis_call *kc, const char *s, const char **out)
{
	char **p;

	*out = NULL;
	if (s == NULL)
		return 0;
	if (kc->n_owned == kc->cap_owned) {
		size_t cap = kc->cap_owned > 0 ? kc->cap_owned * 2 : 32;
		if ((p = realloc(kc->owned, cap * sizeof(*p))) == NULL)
			return -1;
		kc->owned = p;
		kc->cap_owned = cap;
	}
	if ((kc->owned[kc->n_owned] = strdup(s)) == NULL)
		return -1;
	*out = kc->owned[kc->n_owned++];
	return 0;
}

/* Appends one page's shards; 0, -1 on a bad page (*why), -2 on OOM. */
static int
api_shards_page(struct kinesis_call *kc, const cJSON *json, const char **why)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "Shards");
	const cJSON *s;
	size_t n;

	if (!cJSON_IsArray(arr)) {
		*why = "Shards is not an array";
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	if (kc->n_shards + n > kc->cap_shards) {
		size_t cap = kc->cap_shards > 0 ? kc->cap_shards : 16;
		struct kinesis_shard *p;
		while (cap < kc->n_shards + n)
			cap *= 2;
		if ((p = realloc(kc->shards, cap * sizeof(*p))) == NULL)
			return -2;
		kc->shards = p;
		kc->cap_shards = cap;
	}
	cJSON_ArrayForEach(s, arr)
	{
		const cJSON *hr =
		    cJSON_GetObjectItemCaseSensitive(s, "HashKeyRange");
		const cJSON *sr =
		    cJSON_GetObjectItemCaseSensitive(s, "SequenceNumberRange");
		struct kinesis_shard *sh = &kc->shards[kc->n_shards];
		const char *id = api_str(s, "ShardId");
		const char *hs = api_str(hr, "StartingHashKey");
		const char *he = api_str(hr, "EndingHashKey");
		const char *ss = api_str(sr, "StartingSequenceNumber");

		if (id == NULL || hs == NULL || he == NULL || ss == NULL) {
			*why = "a shard without ShardId, HashKeyRange or "
			       "SequenceNumberRange";
			return -1;
		}
		memset(sh, 0, sizeof(*sh));
		if (api_own(kc, id, &sh->id) != 0 ||
		    api_own(kc, api_str(s, "ParentShardId"), &sh->parent) !=
		        0 ||
		    api_own(kc, api_str(s, "AdjacentParentShardId"),
		        &sh->adjacent_parent) != 0 ||
		    api_own(kc, hs, &sh->hash_start) != 0 ||
		    api_own(kc, he, &sh->hash_end) != 0 ||
		    api_own(kc, ss, &sh->seq_start) != 0 ||
		    api_own(kc, api_str(sr, "EndingSequenceNumber"),
		        &sh->seq_end) != 0)
			return -2;
		kc->n_shards++;
	}
	return 0;
}

static void
api_list_shards_done(struct kinesis_call *kc, const struct aws_result *res)
{
	struct kinesis_shards out;
	const char *why = NULL, *token;
	cJSON *req;
	int rc;

	kc->pages++;
	if ((rc = api_shards_page(kc, res->json, &why)) == -1) {
		api_deliver_bad(kc, res, "ListShards", why);
		return;
	}
	if (rc == -2) {
		api_deliver_oom(kc, res);
		return;
	}
	token = api_str(res->json, "NextToken");
	if (token != NULL && *token != '\0') {
		/* The token names the stream and the filter: nothing else
		 * may go with it but MaxResults. */
		if ((req = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(req, "NextToken", token) == NULL ||
		    (kc->max_results > 0 &&
		        cJSON_AddNumberToObject(
		            req, "MaxResults", kc->max_results) == NULL)) {
			cJSON_Delete(req);
			api_deliver_oom(kc, res);
		} else if (api_send(kc, "ListShards", req, 0) != 0) {
			api_deliver_oom(kc, res);
		}
		return;
	}
	out.shards = kc->shards;
	out.n = kc->n_shards;
	out.pages = kc->pages;
	api_deliver(kc, res, &out);
}

struct kinesis_call *
kinesis_list_shards(struct kinesis *k,
    const struct kinesis_list_shards_params *p, kinesis_shards_cb cb, void *arg)
{
	struct kinesis_call *kc;
	cJSON *req, *f;

	if (p == NULL || p->stream == NULL || cb == NULL ||
	    (kc = api_call_new(k, API_LIST_SHARDS, arg)) == NULL)
		return NULL;
	kc->cb.shards = cb;
	kc->max_results = p->max_results;
	if ((req = cJSON_CreateObject()) == NULL ||
	    api_add_stream(req, p->stream) != 0)
		goto fail;
	if (p->max_results > 0 &&
	    cJSON_AddNumberToObject(req, "MaxResults", p->max_results) == NULL)
		goto fail;
	if (p->exclusive_start_shard_id != NULL &&
	    cJSON_AddStringToObject(req, "ExclusiveStartShardId",
	        p->exclusive_start_shard_id) == NULL)
		goto fail;
	if (p->filter_type != NULL) {
		if ((f = cJSON_AddObjectToObject(req, "ShardFilter")) == NULL ||
		    cJSON_AddStringToObject(f, "Type", p->filter_type) == NULL)
			goto fail;
		if (p->filter_shard_id != NULL &&
		    cJSON_AddStringToObject(f, "ShardId", p->filter_shard_id) ==
		        NULL)
			goto fail;
		if (strstr(p->filter_type, "TIMESTAMP") != NULL &&
		    cJSON_AddNumberToObject(f, "Timestamp",
		        (double)p->filter_timestamp_ms / 1000.0) == NULL)
			goto fail;
	}
	return api_start(kc, "ListShards", req, 0);
fail:
	cJSON_Delete(req);
	api_call_free(kc);
	return NULL;
}

/* ---- DescribeStreamSummary ----------------------------------------------- */

static void
api_summary_done(struct kinesis_call *kc, const struct aws_result *res)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(
	    res->json, "StreamDescriptionSummary");
	const cJSON *mode =
	    cJSON_GetObjectItemCaseSensitive(d, "StreamModeDetails");
	struct kinesis_stream_summary s;

	memset(&s, 0, sizeof(s));
	if (!cJSON_IsObject(d) ||
	    (s.status = api_str(d, "StreamStatus")) == NULL) {
		api_deliver_bad(kc, res, "DescribeStreamSummary",
		    "no StreamDescriptionSummary.StreamStatus");
		return;
	}
	s.name = api_str(d, "StreamName");
	s.arn = api_str(d, "StreamARN");
	s.mode = api_str(mode, "StreamMode");
	s.encryption_type = api_str(d, "EncryptionType");
	s.key_id = api_str(d, "KeyId");
	s.creation_ms = api_ms(d, "StreamCreationTimestamp");
	s.retention_hours = (long)api_num(d, "RetentionPeriodHours", 0);
	s.open_shard_count = (long)api_num(d, "OpenShardCount", 0);
	s.consumer_count = (long)api_num(d, "ConsumerCount", -1);
	api_deliver(kc, res, &s);
}

struct kinesis_call *
kinesis_describe_stream_summary(
    struct kinesis *k, const char *stream, kinesis_summary_cb cb, void *arg)
{
	struct kinesis_call *kc;
	cJSON *req;

	if (stream == NULL || cb == NULL ||
	    (kc = api_call_new(k, API_SUMMARY, arg)) == NULL)
		return NULL;
	kc->cb.summary = cb;
	if ((req = cJSON_CreateObject()) != NULL &&
	    api_add_stream(req, stream) != 0) {
		cJSON_Delete(req);
		req = NULL;
	}
	return api_start(kc, "DescribeStreamSummary", req, 0);
}

/* ---- PutRecords ---------------------------------------------------------- */

static void
api_put_done(struct kinesis_call *kc, const struct aws_result *res)
{
	const cJSON *arr =
	    cJSON_GetObjectItemCaseSensitive(res->json, "Records");
	struct kinesis_put_record_result *rs;
	struct kinesis_put_records_result out;
	const cJSON *r;
	size_t i = 0;
	long failed = 0;

	if (!cJSON_IsArray(arr) ||
	    (size_t)cJSON_GetArraySize(arr) != kc->n_put) {
		api_deliver_bad(kc, res, "PutRecords",
		    "Records is not an array as long as the request's");
		return;
	}
	if ((rs = calloc(kc->n_put > 0 ? kc->n_put : 1, sizeof(*rs))) == NULL) {
		api_deliver_oom(kc, res);
		return;
	}
	cJSON_ArrayForEach(r, arr)
	{
		rs[i].shard_id = api_str(r, "ShardId");
		rs[i].seq = api_str(r, "SequenceNumber");
		rs[i].error_code = api_str(r, "ErrorCode");
		rs[i].error_message = api_str(r, "ErrorMessage");
		if (rs[i].error_code == NULL &&
		    (rs[i].shard_id == NULL || rs[i].seq == NULL)) {
			free(rs);
			api_deliver_bad(kc, res, "PutRecords",
			    "a record with neither a sequence number nor "
			    "an error code");
			return;
		}
		if (rs[i].error_code != NULL)
			failed++;
		i++;
	}
	out.records = rs;
	out.n = kc->n_put;
	out.failed_count =
	    (long)api_num(res->json, "FailedRecordCount", (double)failed);
	out.encryption_type = api_str(res->json, "EncryptionType");
	api_deliver(kc, res, &out);
	free(rs);
}

/* Copies a literal and moves on. */
#define PUT_LIT(o, lit)                                                        \
	(memcpy((o), (lit), sizeof(lit) - 1), (o) += sizeof(lit) - 1)

/*
 * The PutRecords body, written by hand into one allocation: up to 5 MiB
 * of base64 per request that a cJSON tree would copy and scan again to
 * print.  NULL when out of memory or an entry is malformed.
 */
static char *
put_records_body(
    const char *stream, const struct kinesis_put_entry *entries, size_t n)
{
	size_t room = 64 + AWS_JSON_QUOTED_MAX(strlen(stream));
	char *body, *o;

	for (size_t i = 0; i < n; i++) {
		const struct kinesis_put_entry *e = &entries[i];
		if (e->partition_key == NULL || (e->data == NULL && e->len > 0))
			return NULL;
		room +=
		    64 + AWS_BASE64_ENCODED_LEN(e->len) +
		    AWS_JSON_QUOTED_MAX(strlen(e->partition_key)) +
		    (e->explicit_hash_key != NULL
		            ? AWS_JSON_QUOTED_MAX(strlen(e->explicit_hash_key))
		            : 0);
	}
	if ((o = body = malloc(room + 1)) == NULL)
		return NULL;
	if (strncmp(stream, "arn:", 4) == 0)
		PUT_LIT(o, "{\"StreamARN\":");
	else
		PUT_LIT(o, "{\"StreamName\":");
	o += aws_json_quote_to(stream, strlen(stream), o);
	PUT_LIT(o, ",\"Records\":[");
	for (size_t i = 0; i < n; i++) {
		const struct kinesis_put_entry *e = &entries[i];
		if (i > 0)
			*o++ = ',';
		PUT_LIT(o, "{\"Data\":\"");
		if (e->len > 0)
			o += aws_base64_encode_to(e->data, e->len, o);
		PUT_LIT(o, "\",\"PartitionKey\":");
		o += aws_json_quote_to(
		    e->partition_key, strlen(e->partition_key), o);
		if (e->explicit_hash_key != NULL) {
			PUT_LIT(o, ",\"ExplicitHashKey\":");
			o += aws_json_quote_to(e->explicit_hash_key,
			    strlen(e->explicit_hash_key), o);
		}
		*o++ = '}';
	}
	PUT_LIT(o, "]}");
	*o = '\0';
	return body;
}

struct kinesis_call *
kinesis_put_records(struct kinesis *k, const char *stream,
    const struct kinesis_put_entry *entries, size_t n, unsigned max_attempts,
    kinesis_put_records_cb cb, void *arg)
{
	struct kinesis_call *kc;

	if (stream == NULL || (entries == NULL && n > 0) || cb == NULL ||
	    (kc = api_call_new(k, API_PUT_RECORDS, arg)) == NULL)
		return NULL;
	kc->cb.put = cb;
	kc->n_put = n;
	return api_start_body(kc, "PutRecords",
	    put_records_body(stream, entries, n), max_attempts);
}

/* ---- GetShardIterator ---------------------------------------------------- */

static void
api_iterator_done(struct kinesis_call *kc, const struct aws_result *res)
{
	const char *it = api_str(res->json, "ShardIterator");

	if (it == NULL) {
		api_deliver_bad(
		    kc, res, "GetShardIterator", "no ShardIterator");
		return;
	}
	api_deliver(kc, res, it);
}

struct kinesis_call *
kinesis_get_shard_iterator(struct kinesis *k,
    const struct kinesis_iterator_params *p, kinesis_iterator_cb cb, void *arg)
{
	struct kinesis_call *kc;
	cJSON *req;
	int bad;

	if (p == NULL || p->stream == NULL || p->shard_id == NULL ||
	    cb == NULL || (unsigned)p->type > KINESIS_ITER_AT_TIMESTAMP)
		return NULL;
	if ((p->type == KINESIS_ITER_AT_SEQUENCE_NUMBER ||
	        p->type == KINESIS_ITER_AFTER_SEQUENCE_NUMBER) &&
	    p->sequence_number == NULL)
		return NULL;
	if ((kc = api_call_new(k, API_ITERATOR, arg)) == NULL)
		return NULL;
	kc->cb.iterator = cb;
	if ((req = cJSON_CreateObject()) == NULL)
		return api_start(kc, "GetShardIterator", NULL, 0);
	bad = api_add_stream(req, p->stream) != 0 ||
	      cJSON_AddStringToObject(req, "ShardId", p->shard_id) == NULL ||
	      cJSON_AddStringToObject(req, "ShardIteratorType",
	          kinesis_iterator_type_name(p->type)) == NULL;
	if (p->type == KINESIS_ITER_AT_SEQUENCE_NUMBER ||
	    p->type == KINESIS_ITER_AFTER_SEQUENCE_NUMBER)
		bad |= cJSON_AddStringToObject(req, "StartingSequenceNumber",
		           p->sequence_number) == NULL;
	if (p->type == KINESIS_ITER_AT_TIMESTAMP)
		bad |= cJSON_AddNumberToObject(req, "Timestamp",
		           (double)p->timestamp_ms / 1000.0) == NULL;
	if (bad) {
		cJSON_Delete(req);
		req = NULL;
	}
	return api_start(kc, "GetShardIterator", req, 0);
}

/* ---- GetRecords ---------------------------------------------------------- */

struct api_records {
	struct kinesis_record *recs;
	size_t n;
	struct kinesis_child_shard *children;
	const char **parents; /* every child's parents, back to back */
	size_t n_children;
};

static void
api_records_free(struct api_records *a)
{
	free(a->recs);
	free(a->children);
	free(a->parents);
}

/* 0, -1 on a bad reply (*why), -2 on OOM. */
static int
api_records_decode(const cJSON *json, struct api_records *a, const char **why)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "Records");
	const cJSON *kids =
	    cJSON_GetObjectItemCaseSensitive(json, "ChildShards");
	const cJSON *r, *c, *p;
	size_t n, np = 0, pi = 0;

	if (!cJSON_IsArray(arr)) {
		*why = "Records is not an array";
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	if ((a->recs = calloc(n > 0 ? n : 1, sizeof(*a->recs))) == NULL)
		return -2;
	cJSON_ArrayForEach(r, arr)
	{
		struct kinesis_record *rec = &a->recs[a->n];
		cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "Data");
		unsigned char *bytes;
		size_t len;

		rec->seq = api_str(r, "SequenceNumber");
		rec->partition_key = api_str(r, "PartitionKey");
		if (rec->seq == NULL || rec->partition_key == NULL ||
		    !cJSON_IsString(data) || data->valuestring == NULL) {
			*why = "a record without SequenceNumber, "
			       "PartitionKey or Data";
			return -1;
		}
		/* Decoded in place, over its base64 in the reply's tree (only
		 * this call reads it): a reply's records are not copied once
		 * more.  The bytes are shorter, a NUL still fits after them. */
		bytes = (unsigned char *)data->valuestring;
		if (aws_base64_decode_to(data->valuestring,
		        strlen(data->valuestring), bytes, &len) != 0) {
			*why = "a record whose Data is not base64";
			return -1;
		}
		bytes[len] = '\0';
		rec->data = bytes;
		rec->len = len;
		rec->arrival_ms = api_ms(r, "ApproximateArrivalTimestamp");
		a->n++;
	}
	if (!cJSON_IsArray(kids))
		return 0;
	a->n_children = (size_t)cJSON_GetArraySize(kids);
	cJSON_ArrayForEach(c, kids)
	{
		const cJSON *ps =
		    cJSON_GetObjectItemCaseSensitive(c, "ParentShards");
		if (cJSON_IsArray(ps))
			np += (size_t)cJSON_GetArraySize(ps);
	}
	if ((a->children = calloc(a->n_children > 0 ? a->n_children : 1,
	         sizeof(*a->children))) == NULL ||
	    (a->parents = calloc(np > 0 ? np : 1, sizeof(*a->parents))) == NULL)
		return -2;
	size_t ci = 0;
	cJSON_ArrayForEach(c, kids)
	{
		struct kinesis_child_shard *ch = &a->children[ci++];
		const cJSON *hr =
		    cJSON_GetObjectItemCaseSensitive(c, "HashKeyRange");
		const cJSON *ps =
		    cJSON_GetObjectItemCaseSensitive(c, "ParentShards");

		/* Only an array was counted above: cJSON_ArrayForEach would
		 * walk an object's members too, past a->parents' end. */
		if (!cJSON_IsArray(ps))
			ps = NULL;
		if ((ch->id = api_str(c, "ShardId")) == NULL) {
			*why = "a child shard without ShardId";
			return -1;
		}
		ch->hash_start = api_str(hr, "StartingHashKey");
		ch->hash_end = api_str(hr, "EndingHashKey");
		ch->parents = &a->parents[pi];
		cJSON_ArrayForEach(p, ps)
		{
			if (!cJSON_IsString(p))
				continue;
			a->parents[pi++] = p->valuestring;
			ch->n_parents++;
		}
	}
	return 0;
}

static void
api_records_done(struct kinesis_call *kc, const struct aws_result *res)
{
	struct api_records a;
	struct kinesis_records out;
	const char *why = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = api_records_decode(res->json, &a, &why)) != 0) {
		api_records_free(&a);
		if (rc == -1)
			api_deliver_bad(kc, res, "GetRecords", why);
		else
			api_deliver_oom(kc, res);
		return;
	}
	out.records = a.recs;
	out.n = a.n;
	out.next_iterator = api_str(res->json, "NextShardIterator");
	out.millis_behind =
	    (int64_t)api_num(res->json, "MillisBehindLatest", -1);
	out.children = a.children;
	out.n_children = a.n_children;
	api_deliver(kc, res, &out);
	api_records_free(&a);
}

struct kinesis_call *
kinesis_get_records(struct kinesis *k, const char *iterator, int limit,
    kinesis_records_cb cb, void *arg)
{
	struct kinesis_call *kc;
	cJSON *req;

	if (iterator == NULL || cb == NULL ||
	    (kc = api_call_new(k, API_RECORDS, arg)) == NULL)
		return NULL;
	kc->cb.records = cb;
	if ((req = cJSON_CreateObject()) != NULL &&
	    (cJSON_AddStringToObject(req, "ShardIterator", iterator) == NULL ||
	        (limit > 0 &&
	            cJSON_AddNumberToObject(req, "Limit", limit) == NULL))) {
		cJSON_Delete(req);
		req = NULL;
	}
	return api_start(kc, "GetRecords", req, 0);
}

/* ---- dispatch ------------------------------------------------------------ */

static void
api_aws_cb(const struct aws_result *res, void *arg)
{
	struct kinesis_call *kc = arg;

	kc->call = NULL;
	if (res->err != AWS_OK) {
		api_deliver(kc, res, NULL);
		return;
	}
	switch (kc->kind) {
	case API_LIST_SHARDS:
		api_list_shards_done(kc, res);
		break;
	case API_SUMMARY:
		api_summary_done(kc, res);
		break;
	case API_PUT_RECORDS:
		api_put_done(kc, res);
		break;
	case API_ITERATOR:
		api_iterator_done(kc, res);
		break;
	case API_RECORDS:
		api_records_done(kc, res);
		break;
	}
}
