/*
 * kinesis — typed asynchronous Kinesis Data Streams calls on top of
 * aws_client: ListShards, DescribeStreamSummary, PutRecords,
 * GetShardIterator and GetRecords.
 *
 * A struct kinesis talks to one endpoint in one region.  Every call takes
 * a callback that runs exactly once from the event loop, unless the call
 * is cancelled (kinesis_cancel) or the struct kinesis freed first.  The
 * callback gets the aws_result (error class, AWS error type without its
 * namespace, message, attempts) and, on success only, the decoded reply.
 *
 * Ownership: parameters are copied before the call returns (the caller may
 * free them at once).  Decoded replies are owned by this module and
 * borrowed by the callback: every pointer in them is valid until the
 * callback returns; copy what must outlive it.  A reply that is not what
 * the API promises (a missing field, a wrong type) is reported as
 * AWS_ERR_RETRIABLE with a message and no type, never as a crash.
 *
 * Streams are named by name or by ARN: a name starting with "arn:" is sent
 * as StreamARN, anything else as StreamName.  Timestamps are milliseconds
 * since the epoch.  Hash keys and sequence numbers stay decimal strings.
 */
#ifndef KD_KINESIS_H
#define KD_KINESIS_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"

struct kinesis;
struct kinesis_call;

/*
 * opts->service, target_prefix and content_type are ignored (Kinesis's own
 * are used); the rest is as for aws_client_new.  http, creds and metrics
 * are borrowed.  Returns NULL and a malloc'd *cause on failure.
 */
struct kinesis *kinesis_new(struct aws_http *, struct aws_credentials *,
    struct metrics *, const struct aws_client_opts *, char **cause);
/* Cancels every call without calling back.  Safe from a callback. */
void kinesis_free(struct kinesis *);
struct aws_client *kinesis_client(struct kinesis *);

/* The callback will not run.  A no-op from inside the call's callback. */
void kinesis_cancel(struct kinesis_call *);

/* ---- ListShards --------------------------------------------------------- */

struct kinesis_shard {
	const char *id;
	const char *parent;          /* NULL when none */
	const char *adjacent_parent; /* NULL when none */
	const char *hash_start;      /* decimal */
	const char *hash_end;
	const char *seq_start;
	const char *seq_end; /* NULL while the shard is open */
};

struct kinesis_shards {
	const struct kinesis_shard *shards;
	size_t n;
	unsigned pages; /* ListShards requests it took */
};

struct kinesis_list_shards_params {
	const char *stream;
	/* ShardFilter: NULL for none, else AT_TRIM_HORIZON, AT_LATEST,
	 * AT_TIMESTAMP, FROM_TRIM_HORIZON, FROM_TIMESTAMP or AFTER_SHARD_ID,
	 * with filter_shard_id / filter_timestamp_ms as the type needs. */
	const char *filter_type;
	const char *filter_shard_id;
	int64_t filter_timestamp_ms;
	const char *exclusive_start_shard_id; /* NULL: from the first */
	int max_results;                      /* page size; 0: the service's */
};

/* Follows NextToken until every page is read; the callback gets all of
 * them at once. */
typedef void (*kinesis_shards_cb)(
    const struct aws_result *, const struct kinesis_shards *, void *arg);
struct kinesis_call *kinesis_list_shards(struct kinesis *,
    const struct kinesis_list_shards_params *, kinesis_shards_cb, void *arg);

/* ---- DescribeStreamSummary ---------------------------------------------- */

struct kinesis_stream_summary {
	const char *name;
	const char *arn;
	const char *status; /* CREATING, DELETING, ACTIVE, UPDATING */
	const char *mode;   /* PROVISIONED, ON_DEMAND, or NULL */
	const char *encryption_type;
	const char *key_id;
	int64_t creation_ms;
	long retention_hours;
	long open_shard_count;
	long consumer_count; /* -1 when not reported */
};

typedef void (*kinesis_summary_cb)(const struct aws_result *,
    const struct kinesis_stream_summary *, void *arg);
struct kinesis_call *kinesis_describe_stream_summary(
    struct kinesis *, const char *stream, kinesis_summary_cb, void *arg);

/* ---- PutRecords --------------------------------------------------------- */

struct kinesis_put_entry {
	const char *partition_key;
	const char *explicit_hash_key; /* decimal, or NULL */
	const void *data;
	size_t len;
};

struct kinesis_put_record_result {
	/* Either shard_id and seq, or error_code and error_message. */
	const char *shard_id;
	const char *seq;
	const char *error_code;
	const char *error_message;
};

struct kinesis_put_records_result {
	long failed_count;
	const struct kinesis_put_record_result *records; /* in request order */
	size_t n;
	const char *encryption_type; /* or NULL */
};

typedef void (*kinesis_put_records_cb)(const struct aws_result *,
    const struct kinesis_put_records_result *, void *arg);
/* max_attempts as for aws_client_call (0: the client's default). */
struct kinesis_call *kinesis_put_records(struct kinesis *, const char *stream,
    const struct kinesis_put_entry *, size_t n, unsigned max_attempts,
    kinesis_put_records_cb, void *arg);

/* ---- GetShardIterator --------------------------------------------------- */

enum kinesis_iterator_type {
	KINESIS_ITER_TRIM_HORIZON,
	KINESIS_ITER_LATEST,
	KINESIS_ITER_AT_SEQUENCE_NUMBER,
	KINESIS_ITER_AFTER_SEQUENCE_NUMBER,
	KINESIS_ITER_AT_TIMESTAMP,
};
/* "TRIM_HORIZON" ... ; parse returns -1 when unknown. */
const char *kinesis_iterator_type_name(enum kinesis_iterator_type);
int kinesis_iterator_type_parse(const char *);

struct kinesis_iterator_params {
	const char *stream;
	const char *shard_id;
	enum kinesis_iterator_type type;
	const char *sequence_number; /* AT_ / AFTER_SEQUENCE_NUMBER */
	int64_t timestamp_ms;        /* AT_TIMESTAMP */
};

typedef void (*kinesis_iterator_cb)(
    const struct aws_result *, const char *iterator, void *arg);
struct kinesis_call *kinesis_get_shard_iterator(struct kinesis *,
    const struct kinesis_iterator_params *, kinesis_iterator_cb, void *arg);

/* ---- GetRecords --------------------------------------------------------- */

struct kinesis_record {
	const char *seq;
	const char *partition_key;
	const unsigned char *data; /* decoded from base64; NUL after len */
	size_t len;
	int64_t arrival_ms; /* ApproximateArrivalTimestamp; 0 if absent */
};

struct kinesis_child_shard {
	const char *id;
	const char *const *parents;
	size_t n_parents;
	const char *hash_start;
	const char *hash_end;
};

struct kinesis_records {
	const struct kinesis_record *records;
	size_t n;
	const char *next_iterator; /* NULL once the shard is closed and read */
	int64_t millis_behind;     /* -1 when not reported */
	const struct kinesis_child_shard *children;
	size_t n_children;
};

typedef void (*kinesis_records_cb)(
    const struct aws_result *, const struct kinesis_records *, void *arg);
/* limit: records per call, 0: the service's (10000). */
struct kinesis_call *kinesis_get_records(struct kinesis *, const char *iterator,
    int limit, kinesis_records_cb, void *arg);

#endif
