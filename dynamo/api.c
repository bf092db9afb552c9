/*
 * api.c — the DynamoDB calls of dynamo.h, built and decoded with cJSON and
 * sent through aws_client (signing, retries, connection limit).
 *
 * Attribute maps are passed through untouched: the lease layer builds and
 * reads them.  What is decoded here (table descriptions, page keys) is
 * type-checked; a reply missing what the API promises becomes an
 * AWS_ERR_RETRIABLE result with a message, never a crash.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"

enum ddb_kind {
	DDB_DESCRIBE,
	DDB_CREATE,
	DDB_GET,
	DDB_WRITE, /* PutItem, UpdateItem, DeleteItem */
	DDB_SCAN,
};

struct dynamo {
	struct aws_client *client;
	TAILQ_HEAD(, dynamo_call) calls;
};

struct dynamo_call {
	struct dynamo *d;
	enum ddb_kind kind;
	struct aws_call *call; /* the request in flight */
	dynamo_cb cb;
	void *arg;
	int done; /* its callback is running */
	/* Scan: the first page's request, reused with ExclusiveStartKey,
	 * and the items gathered so far. */
	cJSON *scan_req;
	cJSON *items;
	unsigned pages;
	TAILQ_ENTRY(dynamo_call) entry;
};

static const char *const ddb_err_names[] = {
    "ok",
    "condition_failed",
    "not_found",
    "in_use",
    "throttled",
    "retriable",
    "credentials",
    "other",
};

const char *
dynamo_err_name(enum dynamo_err e)
{
	if ((size_t)e < sizeof(ddb_err_names) / sizeof(*ddb_err_names))
		return ddb_err_names[e];
	return "?";
}

enum dynamo_err
dynamo_err_of(const struct aws_result *res)
{
	if (res == NULL)
		return DYNAMO_ERR_OTHER;
	if (aws_result_is(res, "ConditionalCheckFailedException"))
		return DYNAMO_ERR_CONDITION;
	if (aws_result_is(res, "ResourceNotFoundException"))
		return DYNAMO_ERR_NOT_FOUND;
	if (aws_result_is(res, "ResourceInUseException"))
		return DYNAMO_ERR_IN_USE;
	switch (res->err) {
	case AWS_OK:
		return DYNAMO_OK;
	case AWS_ERR_THROTTLED:
		return DYNAMO_ERR_THROTTLED;
	case AWS_ERR_RETRIABLE:
		return DYNAMO_ERR_RETRIABLE;
	case AWS_ERR_CREDENTIALS:
		return DYNAMO_ERR_CREDENTIALS;
	case AWS_ERR_TERMINAL:
		break;
	}
	return DYNAMO_ERR_OTHER;
}

struct dynamo *
dynamo_new(struct aws_http *http, struct aws_credentials *creds,
    struct metrics *metrics, const struct aws_client_opts *opts, char **cause)
{
	struct aws_client_opts o = *opts;
	struct dynamo *d;

	*cause = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	TAILQ_INIT(&d->calls);
	o.service = "dynamodb";
	o.target_prefix = "DynamoDB_20120810";
	o.content_type = "application/x-amz-json-1.0";
	if ((d->client = aws_client_new(http, creds, metrics, &o, cause)) ==
	    NULL) {
		free(d);
		return NULL;
	}
	return d;
}

struct aws_client *
dynamo_client(struct dynamo *d)
{
	return d->client;
}

static void
ddb_call_free(struct dynamo_call *dc)
{
	if (dc == NULL)
		return;
	cJSON_Delete(dc->scan_req);
	cJSON_Delete(dc->items);
	free(dc);
}

void
dynamo_free(struct dynamo *d)
{
	struct dynamo_call *dc;

	if (d == NULL)
		return;
	while ((dc = TAILQ_FIRST(&d->calls)) != NULL) {
		TAILQ_REMOVE(&d->calls, dc, entry);
		aws_call_cancel(dc->call);
		ddb_call_free(dc);
	}
	aws_client_free(d->client); /* deferred when inside its callback */
	free(d);
}

void
dynamo_cancel(struct dynamo_call *dc)
{
	if (dc == NULL || dc->done)
		return;
	TAILQ_REMOVE(&dc->d->calls, dc, entry);
	aws_call_cancel(dc->call);
	ddb_call_free(dc);
}

/* ---- plumbing ------------------------------------------------------------ */

static void ddb_aws_cb(const struct aws_result *, void *);

static struct dynamo_call *
ddb_call_new(struct dynamo *d, enum ddb_kind kind, dynamo_cb cb, void *arg)
{
	struct dynamo_call *dc;

	if (d == NULL || cb == NULL || (dc = calloc(1, sizeof(*dc))) == NULL)
		return NULL;
	dc->d = d;
	dc->kind = kind;
	dc->cb = cb;
	dc->arg = arg;
	return dc;
}

/* Sends req (not consumed) as op; 0, or -1 when nothing was sent. */
static int
ddb_send(struct dynamo_call *dc, const char *op, const cJSON *req,
    unsigned max_attempts)
{
	char *body = cJSON_PrintUnformatted(req);

	if (body == NULL)
		return -1;
	dc->call = aws_client_call(
	    dc->d->client, op, body, max_attempts, ddb_aws_cb, dc);
	return dc->call != NULL ? 0 : -1;
}

/* Starts dc with req (deleted here), or frees dc and returns NULL. */
static struct dynamo_call *
ddb_start(
    struct dynamo_call *dc, const char *op, cJSON *req, unsigned max_attempts)
{
	int rc = req != NULL ? ddb_send(dc, op, req, max_attempts) : -1;

	cJSON_Delete(req);
	if (rc != 0) {
		ddb_call_free(dc);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&dc->d->calls, dc, entry);
	return dc;
}

static void
ddb_deliver(struct dynamo_call *dc, struct dynamo_result *r)
{
	TAILQ_REMOVE(&dc->d->calls, dc, entry);
	dc->done = 1;
	dc->cb(r, dc->arg);
	ddb_call_free(dc);
}

/* A successful exchange whose reply we cannot use. */
static void
ddb_deliver_bad(
    struct dynamo_call *dc, const struct aws_result *res, const char *what)
{
	struct aws_result bad = *res;
	struct dynamo_result r;

	memset(&r, 0, sizeof(r));
	bad.err = AWS_ERR_RETRIABLE;
	bad.type = NULL;
	bad.message = what;
	r.err = DYNAMO_ERR_RETRIABLE;
	r.aws = &bad;
	ddb_deliver(dc, &r);
}

/* Adds a copy of a borrowed attribute map; NULL maps are left out. */
static int
ddb_add_copy(cJSON *req, const char *name, const cJSON *v)
{
	cJSON *dup;

	if (v == NULL)
		return 0;
	if ((dup = cJSON_Duplicate(v, 1)) == NULL)
		return -1;
	if (!cJSON_AddItemToObject(req, name, dup)) {
		cJSON_Delete(dup);
		return -1;
	}
	return 0;
}

static int
ddb_add_str(cJSON *req, const char *name, const char *v)
{
	if (v == NULL)
		return 0;
	return cJSON_AddStringToObject(req, name, v) != NULL ? 0 : -1;
}

static const char *
ddb_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* As kinesis/api.c's api_num: def beyond 2^53, so that callers may cast
 * the result to an integer type (1e300 or inf would be undefined). */
static double
ddb_num(const cJSON *obj, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= 9007199254740992.0))
		return def;
	return v->valuedouble;
}

/* ---- DescribeTable, CreateTable ------------------------------------------ */

static void
ddb_table_done(
    struct dynamo_call *dc, const struct aws_result *res, const char *field)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(res->json, field);
	const cJSON *pt =
	    cJSON_GetObjectItemCaseSensitive(t, "ProvisionedThroughput");
	const cJSON *bm =
	    cJSON_GetObjectItemCaseSensitive(t, "BillingModeSummary");
	const cJSON *ks = cJSON_GetObjectItemCaseSensitive(t, "KeySchema");
	const cJSON *keys = cJSON_IsArray(ks) ? ks : NULL;
	struct dynamo_table table;
	struct dynamo_result r;
	const cJSON *k;
	char why[64];

	memset(&table, 0, sizeof(table));
	if (!cJSON_IsObject(t) ||
	    (table.status = ddb_str(t, "TableStatus")) == NULL) {
		snprintf(
		    why, sizeof(why), "no %s.TableStatus in the reply", field);
		ddb_deliver_bad(dc, res, why);
		return;
	}
	table.name = ddb_str(t, "TableName");
	table.arn = ddb_str(t, "TableArn");
	table.billing_mode = ddb_str(bm, "BillingMode");
	table.item_count = (int64_t)ddb_num(t, "ItemCount", 0);
	table.read_capacity = (long)ddb_num(pt, "ReadCapacityUnits", 0);
	table.write_capacity = (long)ddb_num(pt, "WriteCapacityUnits", 0);
	/* Tables made before on-demand billing existed have no summary. */
	if (table.billing_mode == NULL)
		table.billing_mode = "PROVISIONED";
	cJSON_ArrayForEach(k, keys)
	{
		const char *type = ddb_str(k, "KeyType");
		if (type != NULL && strcmp(type, "HASH") == 0)
			table.hash_key = ddb_str(k, "AttributeName");
	}
	memset(&r, 0, sizeof(r));
	r.aws = res;
	r.table = &table;
	ddb_deliver(dc, &r);
}

struct dynamo_call *
dynamo_describe_table(
    struct dynamo *d, const char *table, dynamo_cb cb, void *arg)
{
	struct dynamo_call *dc;
	cJSON *req;

	if (table == NULL ||
	    (dc = ddb_call_new(d, DDB_DESCRIBE, cb, arg)) == NULL)
		return NULL;
	if ((req = cJSON_CreateObject()) != NULL &&
	    ddb_add_str(req, "TableName", table) != 0) {
		cJSON_Delete(req);
		req = NULL;
	}
	return ddb_start(dc, "DescribeTable", req, 0);
}

struct dynamo_call *
dynamo_create_table(struct dynamo *d,
    const struct dynamo_create_table_params *p, dynamo_cb cb, void *arg)
{
	const char *key =
	    p != NULL && p->hash_key != NULL ? p->hash_key : "leaseKey";
	struct dynamo_call *dc;
	cJSON *req, *arr, *o, *pt;
	int on_demand;

	if (p == NULL || p->table == NULL ||
	    (dc = ddb_call_new(d, DDB_CREATE, cb, arg)) == NULL)
		return NULL;
	on_demand = p->read_capacity <= 0 && p->write_capacity <= 0;
	if ((req = cJSON_CreateObject()) == NULL ||
	    ddb_add_str(req, "TableName", p->table) != 0)
		goto fail;
	if ((arr = cJSON_AddArrayToObject(req, "AttributeDefinitions")) ==
	        NULL ||
	    (o = cJSON_CreateObject()) == NULL)
		goto fail;
	cJSON_AddItemToArray(arr, o);
	if (ddb_add_str(o, "AttributeName", key) != 0 ||
	    ddb_add_str(o, "AttributeType", "S") != 0)
		goto fail;
	if ((arr = cJSON_AddArrayToObject(req, "KeySchema")) == NULL ||
	    (o = cJSON_CreateObject()) == NULL)
		goto fail;
	cJSON_AddItemToArray(arr, o);
	if (ddb_add_str(o, "AttributeName", key) != 0 ||
	    ddb_add_str(o, "KeyType", "HASH") != 0)
		goto fail;
	if (ddb_add_str(req, "BillingMode",
	        on_demand ? "PAY_PER_REQUEST" : "PROVISIONED") != 0)
		goto fail;
	if (!on_demand) {
		/* Both are required once either is given; 1 is the least
		 * DynamoDB accepts. */
		if ((pt = cJSON_AddObjectToObject(
		         req, "ProvisionedThroughput")) == NULL ||
		    cJSON_AddNumberToObject(pt, "ReadCapacityUnits",
		        (double)(p->read_capacity > 0 ? p->read_capacity
		                                      : 1)) == NULL ||
		    cJSON_AddNumberToObject(pt, "WriteCapacityUnits",
		        (double)(p->write_capacity > 0 ? p->write_capacity
		                                       : 1)) == NULL)
			goto fail;
	}
	return ddb_start(dc, "CreateTable", req, 0);
fail:
	cJSON_Delete(req);
	ddb_call_free(dc);
	return NULL;
}

/* ---- GetItem, PutItem, UpdateItem, DeleteItem ---------------------------- */

struct dynamo_call *
dynamo_get_item(struct dynamo *d, const char *table, const cJSON *key,
    int consistent_read, dynamo_cb cb, void *arg)
{
	struct dynamo_call *dc;
	cJSON *req;

	if (table == NULL || !cJSON_IsObject(key) ||
	    (dc = ddb_call_new(d, DDB_GET, cb, arg)) == NULL)
		return NULL;
	if ((req = cJSON_CreateObject()) != NULL &&
	    (ddb_add_str(req, "TableName", table) != 0 ||
	        ddb_add_copy(req, "Key", key) != 0 ||
	        cJSON_AddBoolToObject(
	            req, "ConsistentRead", consistent_read ? 1 : 0) == NULL)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return ddb_start(dc, "GetItem", req, 0);
}

static struct dynamo_call *
ddb_write(struct dynamo *d, const char *op, const struct dynamo_write_params *p,
    dynamo_cb cb, void *arg)
{
	struct dynamo_call *dc;
	cJSON *req;

	if ((dc = ddb_call_new(d, DDB_WRITE, cb, arg)) == NULL)
		return NULL;
	if ((req = cJSON_CreateObject()) != NULL &&
	    (ddb_add_str(req, "TableName", p->table) != 0 ||
	        ddb_add_copy(req, "Item", p->item) != 0 ||
	        ddb_add_copy(req, "Key", p->key) != 0 ||
	        ddb_add_str(req, "UpdateExpression", p->update) != 0 ||
	        ddb_add_str(req, "ConditionExpression", p->condition) != 0 ||
	        ddb_add_copy(req, "ExpressionAttributeNames", p->names) != 0 ||
	        ddb_add_copy(req, "ExpressionAttributeValues", p->values) !=
	            0 ||
	        ddb_add_str(req, "ReturnValues", p->return_values) != 0)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return ddb_start(dc, op, req, p->max_attempts);
}

struct dynamo_call *
dynamo_put_item(struct dynamo *d, const struct dynamo_write_params *p,
    dynamo_cb cb, void *arg)
{
	if (p == NULL || p->table == NULL || !cJSON_IsObject(p->item))
		return NULL;
	return ddb_write(d, "PutItem", p, cb, arg);
}

struct dynamo_call *
dynamo_update_item(struct dynamo *d, const struct dynamo_write_params *p,
    dynamo_cb cb, void *arg)
{
	if (p == NULL || p->table == NULL || !cJSON_IsObject(p->key) ||
	    p->update == NULL)
		return NULL;
	return ddb_write(d, "UpdateItem", p, cb, arg);
}

struct dynamo_call *
dynamo_delete_item(struct dynamo *d, const struct dynamo_write_params *p,
    dynamo_cb cb, void *arg)
{
	if (p == NULL || p->table == NULL || !cJSON_IsObject(p->key))
		return NULL;
	return ddb_write(d, "DeleteItem", p, cb, arg);
}

/* ---- Scan ---------------------------------------------------------------- */

static void
ddb_scan_done(struct dynamo_call *dc, const struct aws_result *res)
{
	const cJSON *items =
	    cJSON_GetObjectItemCaseSensitive(res->json, "Items");
	const cJSON *last =
	    cJSON_GetObjectItemCaseSensitive(res->json, "LastEvaluatedKey");
	struct dynamo_result r;
	const cJSON *it;
	cJSON *dup;

	dc->pages++;
	if (!cJSON_IsArray(items)) {
		ddb_deliver_bad(dc, res, "Scan reply: Items is not an array");
		return;
	}
	cJSON_ArrayForEach(it, items)
	{
		if ((dup = cJSON_Duplicate(it, 1)) == NULL ||
		    !cJSON_AddItemToArray(dc->items, dup)) {
			cJSON_Delete(dup);
			ddb_deliver_bad(dc, res, "out of memory");
			return;
		}
	}
	if (cJSON_IsObject(last) && last->child != NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(
		    dc->scan_req, "ExclusiveStartKey");
		if (ddb_add_copy(dc->scan_req, "ExclusiveStartKey", last) !=
		        0 ||
		    ddb_send(dc, "Scan", dc->scan_req, 0) != 0)
			ddb_deliver_bad(dc, res, "out of memory");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.aws = res;
	r.items = dc->items;
	r.count = (size_t)cJSON_GetArraySize(dc->items);
	r.pages = dc->pages;
	ddb_deliver(dc, &r);
}

struct dynamo_call *
dynamo_scan(struct dynamo *d, const struct dynamo_scan_params *p, dynamo_cb cb,
    void *arg)
{
	struct dynamo_call *dc;
	cJSON *req;

	if (p == NULL || p->table == NULL ||
	    (dc = ddb_call_new(d, DDB_SCAN, cb, arg)) == NULL)
		return NULL;
	if ((dc->items = cJSON_CreateArray()) == NULL ||
	    (req = cJSON_CreateObject()) == NULL)
		goto fail;
	dc->scan_req = req;
	if (ddb_add_str(req, "TableName", p->table) != 0 ||
	    (p->limit > 0 &&
	        cJSON_AddNumberToObject(req, "Limit", p->limit) == NULL) ||
	    (p->consistent_read &&
	        cJSON_AddBoolToObject(req, "ConsistentRead", 1) == NULL) ||
	    ddb_add_str(req, "FilterExpression", p->filter) != 0 ||
	    ddb_add_copy(req, "ExpressionAttributeNames", p->names) != 0 ||
	    ddb_add_copy(req, "ExpressionAttributeValues", p->values) != 0 ||
	    ddb_send(dc, "Scan", req, 0) != 0)
		goto fail;
	TAILQ_INSERT_TAIL(&d->calls, dc, entry);
	return dc;
fail:
	ddb_call_free(dc);
	return NULL;
}

/* ---- dispatch ------------------------------------------------------------ */

static void
ddb_aws_cb(const struct aws_result *res, void *arg)
{
	struct dynamo_call *dc = arg;
	struct dynamo_result r;

	dc->call = NULL;
	if (res->err != AWS_OK) {
		memset(&r, 0, sizeof(r));
		r.err = dynamo_err_of(res);
		r.aws = res;
		ddb_deliver(dc, &r);
		return;
	}
	switch (dc->kind) {
	case DDB_DESCRIBE:
		ddb_table_done(dc, res, "Table");
		return;
	case DDB_CREATE:
		ddb_table_done(dc, res, "TableDescription");
		return;
	case DDB_SCAN:
		ddb_scan_done(dc, res);
		return;
	case DDB_GET:
	case DDB_WRITE:
		break;
	}
	memset(&r, 0, sizeof(r));
	r.aws = res;
	if (dc->kind == DDB_GET) {
		r.item = cJSON_GetObjectItemCaseSensitive(res->json, "Item");
		if (r.item != NULL && !cJSON_IsObject(r.item)) {
			ddb_deliver_bad(
			    dc, res, "GetItem reply: Item is not a map");
			return;
		}
	} else {
		r.attributes =
		    cJSON_GetObjectItemCaseSensitive(res->json, "Attributes");
		if (!cJSON_IsObject(r.attributes))
			r.attributes = NULL;
	}
	ddb_deliver(dc, &r);
}
