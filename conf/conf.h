/*
 * conf — the YAML configuration (SPEC section 2), loaded into typed structs.
 *
 * One schema table (conf/schema.c) lists every key with its type, default,
 * allowed range and a one-line doc; it drives the loader, --print-defaults,
 * --check-config and docs/config.md.  default-producer / default-consumer
 * override the built-in defaults; each named producer or consumer overrides
 * those key by key.
 *
 * Ownership: conf_load() returns a struct conf that the caller owns and
 * frees with conf_free(); every string inside belongs to it.
 * Durations keep the unit of their key's name (…Millis, …Seconds, the KPL's
 * milliseconds) so they read as the KCL/KPL documentation says.
 */
#ifndef KD_CONF_H
#define KD_CONF_H

#include <stdint.h>
#include <stdio.h>

/* The KPL keys a producer honours (names as in the KPL's config). */
struct conf_kpl {
	int aggregation_enabled;           /* AggregationEnabled */
	uint64_t aggregation_max_count;    /* AggregationMaxCount */
	uint64_t aggregation_max_size;     /* AggregationMaxSize, bytes */
	uint64_t collection_max_count;     /* CollectionMaxCount */
	uint64_t collection_max_size;      /* CollectionMaxSize, bytes */
	uint64_t connect_timeout;          /* ConnectTimeout, ms */
	int fail_if_throttled;             /* FailIfThrottled */
	uint64_t max_connections;          /* MaxConnections */
	uint64_t rate_limit;               /* RateLimit, % of shard limit */
	uint64_t record_max_buffered_time; /* RecordMaxBufferedTime, ms */
	uint64_t record_ttl;               /* RecordTtl, ms */
	char *region;                      /* Region; NULL: the daemon's */
	uint64_t request_timeout;          /* RequestTimeout, ms */
	int verify_certificate;            /* VerifyCertificate */
	char *kinesis_endpoint;            /* KinesisEndpoint; NULL: default */
	uint64_t kinesis_port;             /* KinesisPort */
};

struct conf_producer {
	char *name;
	char *stream_name;                 /* stream-name, required */
	uint64_t max_outstanding_requests; /* 0 = unlimited */
	struct conf_kpl kpl;
};

enum conf_initial_position {
	CONF_POS_TRIM_HORIZON,
	CONF_POS_LATEST,
	CONF_POS_AT_TIMESTAMP,
	CONF_POS_AT_SEQUENCE_NUMBER,
	CONF_POS_AFTER_SEQUENCE_NUMBER,
};

struct conf_worker {
	uint64_t batch_timeout_seconds;      /* batchTimeoutSeconds */
	uint64_t failed_message_retries;     /* failedMessageRetries */
	double failure_tolerance_percentage; /* failureTolerancePercentage */
	uint64_t shutdown_timeout_seconds;   /* shutdownTimeoutSeconds */
	int graceful_shutdown_hook;          /* gracefulShutdownHook */
};

struct conf_checkpointer {
	uint64_t backoff_millis;  /* backoffMillis */
	uint64_t interval_millis; /* intervalMillis */
};

struct conf_kcl {
	enum conf_initial_position
	    initial_position;    /* initialPositionInStream */
	char *initial_timestamp; /* initialTimestamp (ISO 8601 or epoch s) */
	char *initial_sequence_number; /* initialSequenceNumber */
	uint64_t max_records;          /* maxRecords */
	uint64_t
	    idle_time_between_reads_millis;  /* idleTimeBetweenReadsInMillis */
	uint64_t failover_time_millis;       /* failoverTimeMillis */
	uint64_t shard_sync_interval_millis; /* shardSyncIntervalMillis */
	int cleanup_leases_upon_shard_completion; /* cleanupLeasesUponShardCompletion
	                                           */
	uint64_t
	    parent_shard_poll_interval_millis; /* parentShardPollIntervalMillis
	                                        */
	uint64_t task_backoff_time_millis;     /* taskBackoffTimeMillis */
	uint64_t max_leases_for_worker;        /* maxLeasesForWorker */
	uint64_t
	    max_leases_to_steal_at_one_time; /* maxLeasesToStealAtOneTime */
	uint64_t
	    initial_lease_table_read_capacity; /* initialLeaseTableReadCapacity
	                                        */
	uint64_t
	    initial_lease_table_write_capacity; /* initialLeaseTableWriteCapacity
	                                         */
	char *worker_id;   /* workerId; conf_load fills <hostname>:<uuid> */
	char *table_name;  /* tableName; conf_load fills <app>-<stream> */
	char *region_name; /* regionName; NULL: the daemon's */
	char *kinesis_endpoint; /* kinesisEndpoint; NULL: the daemon's */
	/* Derived by conf_load: initialTimestamp in ms since the epoch, 0 when
	 * unset. */
	int64_t initial_timestamp_ms;
};

struct conf_consumer {
	char *name;
	char *stream_name; /* stream-name, required */
	struct conf_worker worker;
	struct conf_checkpointer checkpointer;
	struct conf_kcl kcl;
};

struct conf {
	char *path;             /* the file loaded, or NULL for defaults */
	char *application_name; /* application-name */
	char *region;         /* region, else env, profile, IMDS; may be NULL */
	char *socket;         /* socket */
	unsigned socket_mode; /* socket-mode, parsed from octal "0660" */
	uint64_t max_line_bytes;  /* max-line-bytes */
	uint64_t max_connections; /* max-connections */
	uint64_t
	    partial_line_timeout_seconds; /* partial-line-timeout-seconds */
	uint64_t max_unanswered_puts; /* max-unanswered-puts; 0 = unlimited */
	uint32_t *allowed_uids;       /* allowed-uids */
	size_t n_allowed_uids;
	uint32_t *allowed_gids; /* allowed-gids */
	size_t n_allowed_gids;
	char *http_listen;       /* http-listen; "" disables */
	int log_level;           /* log.level, an enum log_level */
	int log_format;          /* log.format, an enum log_format */
	char *kinesis_endpoint;  /* endpoints.kinesis, else env; may be NULL */
	char *dynamodb_endpoint; /* endpoints.dynamodb, else env; may be NULL */

	struct conf_producer *producers;
	size_t n_producers;
	struct conf_consumer *consumers;
	size_t n_consumers;
};

/* "TRIM_HORIZON", "LATEST", ... as the KCL and the lease table spell it. */
const char *conf_initial_position_name(enum conf_initial_position);

/* Exit code for configuration errors (SPEC section 1: EX_CONFIG). */
#define CONF_EXIT 78

/*
 * Loads path (NULL: $KINESISD_CONFIG, else /etc/kinesisd/kinesisd.yaml),
 * applies the environment (AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL,
 * AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB) and fills derived
 * defaults.  On error returns NULL and sets *cause to a malloc'd message
 * naming file:line:column, the key path, what was expected and, for an
 * unknown key, the nearest known one; the caller frees it (it is NULL only
 * when memory ran out while building it).  Warnings (known
 * KPL/KCL keys with no meaning here) are logged through log/.
 */
struct conf *conf_load(const char *path, char **cause);

/* Parses YAML text; name is used in messages.  Same contract as conf_load. */
struct conf *conf_load_string(const char *text, const char *name, char **cause);

void conf_free(struct conf *);

const struct conf_producer *conf_producer_find(
    const struct conf *, const char *name);
const struct conf_consumer *conf_consumer_find(
    const struct conf *, const char *name);

/* --check-config: the effective merged configuration, as YAML. */
void conf_print(const struct conf *, FILE *);
/* --print-defaults: the built-in defaults, as YAML. */
void conf_print_defaults(FILE *);
/* docs/config.md: every key with type, default, range and doc (Markdown). */
void conf_print_reference(FILE *);

#endif
