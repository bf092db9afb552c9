/*
 * dynamo — typed asynchronous DynamoDB calls on top of aws_client, as the
 * lease table needs them: DescribeTable, CreateTable, GetItem, PutItem,
 * UpdateItem, DeleteItem (with ConditionExpression) and Scan (all pages).
 *
 * Items, keys and expression values are DynamoDB attribute maps as cJSON
 * ({"leaseKey":{"S":"shardId-000000000000"}}); the lease layer above owns
 * their meaning.
 *
 * Every call takes one callback type, dynamo_cb, that runs exactly once
 * from the event loop unless the call is cancelled (dynamo_cancel) or the
 * struct dynamo freed first.  Its dynamo_result says what happened in the
 * terms a caller branches on (a failed condition, a missing table, a
 * throttle) and carries the aws_result for the details.
 *
 * Ownership: parameters, cJSON ones included, are copied before the call
 * returns.  Everything the result points to is owned by this module and
 * borrowed by the callback until it returns.
 */
#ifndef KD_DYNAMO_H
#define KD_DYNAMO_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"

struct dynamo;
struct dynamo_call;

/* As kinesis_new: opts->service, target_prefix and content_type are
 * DynamoDB's own whatever they say. */
struct dynamo *dynamo_new(struct aws_http *, struct aws_credentials *,
    struct metrics *, const struct aws_client_opts *, char **cause);
/* Cancels every call without calling back.  Safe from a callback. */
void dynamo_free(struct dynamo *);
struct aws_client *dynamo_client(struct dynamo *);
/* The callback will not run.  A no-op from inside the call's callback. */
void dynamo_cancel(struct dynamo_call *);

enum dynamo_err {
	DYNAMO_OK,
	DYNAMO_ERR_CONDITION,   /* ConditionalCheckFailedException */
	DYNAMO_ERR_NOT_FOUND,   /* ResourceNotFoundException: no such table */
	DYNAMO_ERR_IN_USE,      /* ResourceInUseException: it exists already */
	DYNAMO_ERR_THROTTLED,   /* after the client's retries */
	DYNAMO_ERR_RETRIABLE,   /* 5xx, network, timeouts, a garbled reply */
	DYNAMO_ERR_CREDENTIALS, /* none, or expired even after a refresh */
	DYNAMO_ERR_OTHER,       /* validation, access denied, ... */
};
const char *dynamo_err_name(enum dynamo_err);
/* The dynamo_err of an aws_result. */
enum dynamo_err dynamo_err_of(const struct aws_result *);

struct dynamo_table {
	const char *name;
	const char *status; /* CREATING, ACTIVE, UPDATING, DELETING, ... */
	const char *arn;
	const char *billing_mode; /* PROVISIONED or PAY_PER_REQUEST */
	const char *hash_key;     /* the HASH key's attribute name */
	int64_t item_count;
	long read_capacity;
	long write_capacity;
};

struct dynamo_result {
	enum dynamo_err err;
	const struct aws_result *aws; /* type, message, status, attempts */
	/* DescribeTable, CreateTable: the table; NULL otherwise. */
	const struct dynamo_table *table;
	/* GetItem: the item, NULL when there is none. */
	const cJSON *item;
	/* Put/Update/DeleteItem with ReturnValues: the attributes, or NULL. */
	const cJSON *attributes;
	/* Scan: every page's items, an array; count is its size. */
	const cJSON *items;
	size_t count;
	unsigned pages;
};

typedef void (*dynamo_cb)(const struct dynamo_result *, void *arg);

struct dynamo_call *dynamo_describe_table(
    struct dynamo *, const char *table, dynamo_cb, void *arg);

struct dynamo_create_table_params {
	const char *table;
	const char *hash_key; /* NULL: "leaseKey" (type S) */
	/* Both 0: PAY_PER_REQUEST (on-demand), else PROVISIONED. */
	long read_capacity;
	long write_capacity;
};
struct dynamo_call *dynamo_create_table(struct dynamo *,
    const struct dynamo_create_table_params *, dynamo_cb, void *arg);

struct dynamo_call *dynamo_get_item(struct dynamo *, const char *table,
    const cJSON *key, int consistent_read, dynamo_cb, void *arg);

/* PutItem (item), UpdateItem (key, update), DeleteItem (key). */
struct dynamo_write_params {
	const char *table;
	const cJSON *item;
	const cJSON *key;
	const char *update;        /* UpdateExpression */
	const char *condition;     /* ConditionExpression, or NULL */
	const cJSON *names;        /* ExpressionAttributeNames, or NULL */
	const cJSON *values;       /* ExpressionAttributeValues, or NULL */
	const char *return_values; /* ALL_NEW, ALL_OLD, ...; NULL: NONE */
	unsigned max_attempts;     /* 0: the client's default */
};
struct dynamo_call *dynamo_put_item(
    struct dynamo *, const struct dynamo_write_params *, dynamo_cb, void *arg);
struct dynamo_call *dynamo_update_item(
    struct dynamo *, const struct dynamo_write_params *, dynamo_cb, void *arg);
struct dynamo_call *dynamo_delete_item(
    struct dynamo *, const struct dynamo_write_params *, dynamo_cb, void *arg);

/* Follows LastEvaluatedKey until the table is read. */
struct dynamo_scan_params {
	const char *table;
	int limit; /* items per page; 0: the service's (1 MB pages) */
	int consistent_read;
	const char *filter; /* FilterExpression, or NULL */
	const cJSON *names;
	const cJSON *values;
};
struct dynamo_call *dynamo_scan(
    struct dynamo *, const struct dynamo_scan_params *, dynamo_cb, void *arg);

#endif
