/*
 * conf/schema.c — every configuration key of kinesisd, in one table per
 * YAML mapping, and the generic walkers that default, copy and free the
 * structs those tables describe.
 *
 * Where the defaults come from.  SPEC section 2 says the built-in defaults
 * equal reactive-kinesis's src/main/resources/reference.conf unless the SPEC
 * says otherwise.  So:
 *   - application-name, every kpl key, worker, checkpointer and kcl values:
 *     reactive-kinesis reference.conf (kinesis.default-producer.kpl,
 *     kinesis.default-consumer.{worker,checkpointer,kcl}).  The KPL ranges
 *     ("Minimum", "Maximum (inclusive)") are the ones that file documents.
 *     KCL values it leaves commented out are the KCL 1.x defaults it quotes
 *     (maxRecords 10000, idleTimeBetweenReadsInMillis 1000, ...).
 *   - max-outstanding-requests 50000 (commented out, i.e. unlimited, in
 *     reference.conf), socket, socket-mode, max-line-bytes, http-listen and
 *     log: SPEC sections 2 and 3.
 *   - max-connections, partial-line-timeout-seconds and max-unanswered-puts
 *     are kinesisd's own limits on hostile or broken clients: 1024 is the
 *     usual file descriptor limit, 30 s is far beyond any honest client's
 *     time to write one line, and 10000 puts per connection is a fifth of
 *     a producer's max-outstanding-requests, so one client cannot take all
 *     of a producer's room.
 * Ranges of keys the KPL does not document follow the AWS limits they feed
 * (GetRecords returns at most 10000 records, stream names are 1-128 of
 * [a-zA-Z0-9_.-], a sockaddr_un path holds 107 bytes).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/schema.h"
#include "log/log.h"

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Compile-time field type checks: comparing pointers of distinct types is a
 * diagnostic, which -Werror turns into a build failure, so a row can never
 * name a field of the wrong C type.  The comparison sits in sizeof and is
 * never evaluated.
 */
#define TYPED(st, f, t) (offsetof(st, f) + 0 * sizeof(&((st *)0)->f == (t *)0))
#define INTSIZED(st, f)                                                        \
	(offsetof(st, f) +                                                     \
	    0 * sizeof(char[sizeof(((st *)0)->f) == sizeof(int) ? 1 : -1]))

#define K_STR(n, st, f, def, lo, hi, fl, chk, d)                               \
	{                                                                      \
		.name = (n), .type = CONF_T_STRING, .flags = (fl),             \
		.offset = TYPED(st, f, char *), .def_s = (def), .min_u = (lo), \
		.max_u = (hi), .check = (chk), .doc = (d)                      \
	}
#define K_BOOL(n, st, f, def, d)                                               \
	{                                                                      \
		.name = (n), .type = CONF_T_BOOL, .offset = TYPED(st, f, int), \
		.def_u = (def), .min_u = 0, .max_u = 1, .doc = (d)             \
	}
#define K_UINT(n, st, f, def, lo, hi, u, d)                                    \
	{                                                                      \
		.name = (n), .type = CONF_T_UINT,                              \
		.offset = TYPED(st, f, uint64_t), .def_u = (def),              \
		.min_u = (lo), .max_u = (hi), .unit = (u), .doc = (d)          \
	}
#define K_DOUBLE(n, st, f, def, lo, hi, d)                                     \
	{                                                                      \
		.name = (n), .type = CONF_T_DOUBLE,                            \
		.offset = TYPED(st, f, double), .def_d = (def), .min_d = (lo), \
		.max_d = (hi), .doc = (d)                                      \
	}
#define K_ENUM(n, st, f, def, nm, d)                                           \
	{                                                                      \
		.name = (n), .type = CONF_T_ENUM, .offset = INTSIZED(st, f),   \
		.def_u = (def), .names = (nm), .doc = (d)                      \
	}
#define K_SECTION(n, off, tab, d)                                              \
	{                                                                      \
		.name = (n), .type = CONF_T_SECTION, .offset = (off),          \
		.sub = (tab), .doc = (d)                                       \
	}
#define K_IGNORED(n, why)                                                      \
	{                                                                      \
		.name = (n), .type = CONF_T_IGNORED, .doc = (why)              \
	}

/* ---- value checks ------------------------------------------------------ */

static int
all_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

static const char *
check_stream_name(const char *s)
{
	return all_chars(s, "_.-") ? NULL : "a name of [a-zA-Z0-9_.-]";
}

static const char *
check_table_name(const char *s)
{
	return all_chars(s, "_.-") && strlen(s) >= 3
	           ? NULL
	           : "a DynamoDB table name: 3-255 of [a-zA-Z0-9_.-]";
}

const char *
conf_check_region(const char *s)
{
	/* "us-east-1", "us-gov-west-1", "cn-north-1": lower case and digits
	 * in dash-separated words; checked loosely so new partitions pass. */
	if (*s != '\0' && strchr(s, '-') != NULL && all_chars(s, "-")) {
		for (const char *p = s; *p != '\0'; p++)
			if (isupper((unsigned char)*p))
				goto bad;
		return NULL;
	}
bad:
	return "a region name such as us-east-1";
}

const char *
conf_check_url(const char *s)
{
	const char *rest;

	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return "an http:// or https:// URL";
	if (*rest == '\0' || *rest == '/' || strpbrk(s, " \t\r\n") != NULL)
		return "an http:// or https:// URL with a host";
	return NULL;
}

static const char *
check_host(const char *s)
{
	return strpbrk(s, " \t\r\n") == NULL
	           ? NULL
	           : "a host name or URL without spaces";
}

/* "" (disabled), or HOST:PORT with HOST a name, an IPv4 or [IPv6]. */
static const char *
check_listen(const char *s)
{
	const char *colon, *p;
	unsigned long port;
	char *end;

	if (*s == '\0')
		return NULL;
	if (*s == '[') {
		p = strchr(s, ']');
		if (p == NULL || p[1] != ':')
			goto bad;
		colon = p + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s ||
		    memchr(s, ':', (size_t)(colon - s)))
			goto bad;
	}
	if (!isdigit((unsigned char)colon[1]))
		goto bad;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		goto bad;
	return NULL;
bad:
	return "HOST:PORT (e.g. 127.0.0.1:9485, [::1]:9485) or \"\" to disable";
}

static const char *
check_timestamp(const char *s)
{
	int64_t ms;

	return conf_timestamp_parse(s, &ms) == 0
	           ? NULL
	           : "an ISO 8601 time (2024-05-01T12:00:00Z) or epoch seconds";
}

static const char *
check_sequence_number(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return "a Kinesis sequence number (decimal digits)";
	return NULL;
}

/* Parses exactly n digits at *s, advancing it. */
static int
take_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
conf_timestamp_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = {
	    31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, scale = 1000;
	char *end;

	if (*s == '\0')
		return -1;
	if (strchr(s, '-') == NULL || s[0] == '-') {
		/* Epoch seconds, optionally with a fraction. */
		double v;

		if (!isdigit((unsigned char)*s))
			return -1;
		v = strtod(s, &end);
		if (*end != '\0' || v > 1e11)
			return -1;
		*ms = (int64_t)(v * 1000.0 + 0.5);
		return 0;
	}
	if (take_digits(&s, 4, &y) || *s++ != '-' || take_digits(&s, 2, &mo) ||
	    *s++ != '-' || take_digits(&s, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 &&
	        !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (take_digits(&s, 2, &h) || *s++ != ':' ||
		    take_digits(&s, 2, &mi))
			return -1;
		if (*s == ':') {
			s++;
			if (take_digits(&s, 2, &sec))
				return -1;
			if (*s == '.' || *s == ',') {
				s++;
				if (!isdigit((unsigned char)*s))
					return -1;
				/* Milliseconds: extra digits are truncated. */
				for (; isdigit((unsigned char)*s); s++) {
					if (scale > 1)
						frac +=
						    (*s - '0') * (scale /= 10);
				}
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*s == 'Z' || *s == 'z')
			s++;
		else if (*s == '+' || *s == '-') {
			sign = *s++ == '-' ? -1 : 1;
			if (take_digits(&s, 2, &oh))
				return -1;
			if (*s == ':')
				s++;
			if (*s != '\0' && take_digits(&s, 2, &om))
				return -1;
			if (oh > 23 || om > 59)
				return -1;
		}
	}
	if (*s != '\0')
		return -1;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	          sign * (oh * 3600 + om * 60)) *
	          1000 +
	      frac;
	return 0;
}

/* ---- the tables --------------------------------------------------------- */

static const char *const log_level_names[] = {
    "error", "warn", "info", "debug", "trace", NULL};
static const char *const log_format_names[] = {"text", "json", NULL};
static const char *const position_names[] = {"TRIM_HORIZON", "LATEST",
    "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", NULL};

/* An ENUM stores the index of its name: the arrays follow the enums. */
_Static_assert(LOG_LEVEL_ERROR == 0 && LOG_LEVEL_TRACE == 4, "log levels");
_Static_assert(LOG_FORMAT_TEXT == 0 && LOG_FORMAT_JSON == 1, "log formats");
_Static_assert(CONF_POS_TRIM_HORIZON == 0 && CONF_POS_LATEST == 1 &&
                   CONF_POS_AT_TIMESTAMP == 2 &&
                   CONF_POS_AT_SEQUENCE_NUMBER == 3 &&
                   CONF_POS_AFTER_SEQUENCE_NUMBER == 4,
    "positions");

const char *
conf_initial_position_name(enum conf_initial_position pos)
{
	if ((unsigned)pos >= NKEYS(position_names) - 1)
		return "?";
	return position_names[pos];
}

#define I64MAX ((uint64_t)INT64_MAX)
#define I32MAX ((uint64_t)INT32_MAX)

#define IGN_METRICS "CloudWatch metrics: kinesisd serves Prometheus /metrics"
#define IGN_NATIVE  "the KPL's native process: kinesisd has none"
#define IGN_THREADS "thread pools: kinesisd runs one event loop"
#define IGN_AKKA                                                               \
	"Akka dispatchers: kinesisd runs one event loop "                      \
	"(max-outstanding-requests sits directly under the producer)"

static const struct conf_key log_keys[] = {
    K_ENUM("level", struct conf, log_level, LOG_LEVEL_INFO, log_level_names,
        "least severe level logged"),
    K_ENUM("format", struct conf, log_format, LOG_FORMAT_TEXT, log_format_names,
        "text lines, or JSON lines {ts, level, subsystem, msg}"),
};
static const struct conf_table log_table = {
    "log", "`log`", "Logging to standard error.", log_keys, NKEYS(log_keys)};

static const struct conf_key endpoint_keys[] = {
    {.name = "kinesis",
        .type = CONF_T_STRING,
        .flags = CONF_F_NULLABLE,
        .offset = TYPED(struct conf, kinesis_endpoint, char *),
        .min_u = 1,
        .max_u = 2048,
        .check = conf_check_url,
        .def_doc = "`AWS_ENDPOINT_URL_KINESIS`, else `AWS_ENDPOINT_URL`, "
                   "else the region's",
        .doc = "Kinesis endpoint URL (e.g. a local kinesalite)"},
    {.name = "dynamodb",
        .type = CONF_T_STRING,
        .flags = CONF_F_NULLABLE,
        .offset = TYPED(struct conf, dynamodb_endpoint, char *),
        .min_u = 1,
        .max_u = 2048,
        .check = conf_check_url,
        .def_doc = "`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, "
                   "else the region's",
        .doc = "DynamoDB endpoint URL (lease table)"},
};
static const struct conf_table endpoint_table = {"endpoints", "`endpoints`",
    "Service endpoints; unset means the environment, then the region's "
    "HTTPS endpoints.",
    endpoint_keys, NKEYS(endpoint_keys)};

static const struct conf_key kpl_keys[] = {
    K_BOOL("AggregationEnabled", struct conf_kpl, aggregation_enabled, 1,
        "pack several user records into one Kinesis record"),
    K_UINT("AggregationMaxCount", struct conf_kpl, aggregation_max_count,
        4294967295u, 1, I64MAX, NULL,
        "most user records in one aggregated record"),
    K_UINT("AggregationMaxSize", struct conf_kpl, aggregation_max_size, 51200,
        64, 1048576, "bytes", "largest aggregated record"),
    K_UINT("CollectionMaxCount", struct conf_kpl, collection_max_count, 500, 1,
        500, NULL, "most records in one PutRecords request"),
    K_UINT("CollectionMaxSize", struct conf_kpl, collection_max_size, 5242880,
        52224, I64MAX, "bytes", "largest PutRecords request"),
    K_UINT("ConnectTimeout", struct conf_kpl, connect_timeout, 6000, 100,
        300000, "ms", "timeout for establishing a connection"),
    K_BOOL("FailIfThrottled", struct conf_kpl, fail_if_throttled, 0,
        "fail throttled records at once instead of retrying them"),
    K_UINT("MaxConnections", struct conf_kpl, max_connections, 24, 1, 256, NULL,
        "most parallel connections to Kinesis"),
    K_UINT("RateLimit", struct conf_kpl, rate_limit, 150, 1, I64MAX, "%",
        "put rate limit per shard, percent of the shard's limits"),
    K_UINT("RecordMaxBufferedTime", struct conf_kpl, record_max_buffered_time,
        100, 0, I64MAX, "ms",
        "longest a record waits in the buffer before it is sent"),
    K_UINT("RecordTtl", struct conf_kpl, record_ttl, 30000, 100, I64MAX, "ms",
        "a record not put within this time fails (expired)"),
    K_STR("Region", struct conf_kpl, region, NULL, 1, 64, CONF_F_NULLABLE,
        conf_check_region, "region of this producer's stream"),
    K_UINT("RequestTimeout", struct conf_kpl, request_timeout, 6000, 100,
        600000, "ms", "timeout of one PutRecords request"),
    K_BOOL("VerifyCertificate", struct conf_kpl, verify_certificate, 1,
        "verify the endpoint's TLS certificate"),
    K_STR("KinesisEndpoint", struct conf_kpl, kinesis_endpoint, NULL, 1, 2048,
        CONF_F_NULLABLE, check_host,
        "Kinesis host name or URL for this producer"),
    K_UINT("KinesisPort", struct conf_kpl, kinesis_port, 443, 1, 65535, NULL,
        "port used with KinesisEndpoint"),
    K_IGNORED("CloudwatchEndpoint", IGN_METRICS),
    K_IGNORED("CloudwatchPort", IGN_METRICS),
    K_IGNORED("CredentialsRefreshDelay",
        "kinesisd refreshes credentials before they expire"),
    K_IGNORED("EnableCoreDumps", IGN_NATIVE),
    K_IGNORED("LogLevel", "logging is set by log.level"),
    K_IGNORED("MetricsGranularity", IGN_METRICS),
    K_IGNORED("MetricsLevel", IGN_METRICS),
    K_IGNORED("MetricsNamespace", IGN_METRICS),
    K_IGNORED("MetricsUploadDelay", IGN_METRICS),
    K_IGNORED("MinConnections",
        "connections are opened on demand up to MaxConnections"),
    K_IGNORED("NativeExecutable", IGN_NATIVE),
    K_IGNORED("StsEndpoint", "STS is reached through the credential chain"),
    K_IGNORED("StsPort", "STS is reached through the credential chain"),
    K_IGNORED("TempDirectory", IGN_NATIVE),
    K_IGNORED("ThreadingModel", IGN_THREADS),
    K_IGNORED("ThreadPoolSize", IGN_THREADS),
    K_IGNORED("UserRecordTimeoutInMillis", "records expire after RecordTtl"),
};
static const struct conf_table kpl_table = {"kpl", "`kpl`",
    "Kinesis Producer Library settings, by their KPL names.", kpl_keys,
    NKEYS(kpl_keys)};

static const struct conf_key producer_keys[] = {
    K_STR("stream-name", struct conf_producer, stream_name, NULL, 1, 128,
        CONF_F_NULLABLE | CONF_F_REQUIRED, check_stream_name,
        "the Kinesis stream records are put to (required)"),
    K_UINT("max-outstanding-requests", struct conf_producer,
        max_outstanding_requests, 50000, 0, I64MAX, NULL,
        "unanswered puts before the daemon stops reading its clients; "
        "0 = unlimited"),
    K_SECTION(
        "kpl", offsetof(struct conf_producer, kpl), &kpl_table, "KPL settings"),
    K_IGNORED("akka", IGN_AKKA),
};
const struct conf_table conf_producer_table = {"producer",
    "Producers: `default-producer` and `producers.<name>`",
    "`default-producer` overrides the built-in defaults for every "
    "producer; each `producers.<name>` overrides those, key by key.",
    producer_keys, NKEYS(producer_keys)};

static const struct conf_key worker_keys[] = {
    K_UINT("batchTimeoutSeconds", struct conf_worker, batch_timeout_seconds, 10,
        1, I32MAX, "s", "records unacked this long are delivered again"),
    K_UINT("failedMessageRetries", struct conf_worker, failed_message_retries,
        1, 0, I32MAX, NULL,
        "redeliveries of an unacked record before the batch is judged"),
    K_DOUBLE("failureTolerancePercentage", struct conf_worker,
        failure_tolerance_percentage, 0.25, 0.0, 100.0,
        "percent of a batch that may stay unacked after the retries "
        "(reactive-kinesis: floor(batch * pct / 100) records)"),
    K_UINT("shutdownTimeoutSeconds", struct conf_worker,
        shutdown_timeout_seconds, 25, 1, I32MAX, "s",
        "time allowed for a graceful shutdown"),
    K_BOOL("gracefulShutdownHook", struct conf_worker, graceful_shutdown_hook,
        1, "on SIGTERM, finish batches and checkpoint before exiting"),
};
static const struct conf_table worker_table = {"worker", "`worker`",
    "reactive-kinesis consumer worker: batches, retries, shutdown.",
    worker_keys, NKEYS(worker_keys)};

static const struct conf_key checkpointer_keys[] = {
    K_UINT("backoffMillis", struct conf_checkpointer, backoff_millis, 3000, 1,
        I32MAX, "ms", "wait after a failed or throttled checkpoint"),
    K_UINT("intervalMillis", struct conf_checkpointer, interval_millis, 2000, 0,
        I32MAX, "ms", "least time between two checkpoints"),
    K_IGNORED("notificationDelayMillis",
        "acks drive checkpoints; there is no notification loop"),
};
static const struct conf_table checkpointer_table = {"checkpointer",
    "`checkpointer`", "reactive-kinesis checkpointing of acked records.",
    checkpointer_keys, NKEYS(checkpointer_keys)};

static const struct conf_key kcl_keys[] = {
    K_ENUM("initialPositionInStream", struct conf_kcl, initial_position,
        CONF_POS_TRIM_HORIZON, position_names,
        "where a shard without a checkpoint starts"),
    K_STR("initialTimestamp", struct conf_kcl, initial_timestamp, NULL, 1, 64,
        CONF_F_NULLABLE, check_timestamp,
        "start time for AT_TIMESTAMP (ISO 8601 or epoch seconds)"),
    K_STR("initialSequenceNumber", struct conf_kcl, initial_sequence_number,
        NULL, 1, 128, CONF_F_NULLABLE, check_sequence_number,
        "start for AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER"),
    K_UINT("maxRecords", struct conf_kcl, max_records, 10000, 1, 10000, NULL,
        "most records per GetRecords call"),
    K_UINT("idleTimeBetweenReadsInMillis", struct conf_kcl,
        idle_time_between_reads_millis, 1000, 1, I32MAX, "ms",
        "wait between two GetRecords calls on a shard"),
    K_UINT("failoverTimeMillis", struct conf_kcl, failover_time_millis, 10000,
        1, I32MAX, "ms", "a lease not renewed for this long may be taken"),
    K_UINT("shardSyncIntervalMillis", struct conf_kcl,
        shard_sync_interval_millis, 60000, 1, I32MAX, "ms",
        "time between two syncs of the shard list with the lease table"),
    K_BOOL("cleanupLeasesUponShardCompletion", struct conf_kcl,
        cleanup_leases_upon_shard_completion, 1,
        "delete a finished shard's lease once its children started"),
    K_UINT("parentShardPollIntervalMillis", struct conf_kcl,
        parent_shard_poll_interval_millis, 10000, 1, I32MAX, "ms",
        "polling for a parent shard's completion"),
    K_UINT("taskBackoffTimeMillis", struct conf_kcl, task_backoff_time_millis,
        500, 1, I32MAX, "ms", "backoff after a failed shard task"),
    K_UINT("maxLeasesForWorker", struct conf_kcl, max_leases_for_worker,
        2147483647, 1, I32MAX, NULL, "most leases this worker holds"),
    K_UINT("maxLeasesToStealAtOneTime", struct conf_kcl,
        max_leases_to_steal_at_one_time, 1, 1, I32MAX, NULL,
        "most leases taken from other workers at once"),
    K_UINT("initialLeaseTableReadCapacity", struct conf_kcl,
        initial_lease_table_read_capacity, 10, 0, 40000, NULL,
        "read capacity of a new lease table (both 0: on-demand)"),
    K_UINT("initialLeaseTableWriteCapacity", struct conf_kcl,
        initial_lease_table_write_capacity, 10, 0, 40000, NULL,
        "write capacity of a new lease table (both 0: on-demand)"),
    {.name = "workerId",
        .type = CONF_T_STRING,
        .flags = CONF_F_NULLABLE,
        .offset = TYPED(struct conf_kcl, worker_id, char *),
        .min_u = 1,
        .max_u = 256,
        .def_doc = "`<hostname>:<random uuid>`",
        .doc = "this worker's id in the lease table"},
    {.name = "tableName",
        .type = CONF_T_STRING,
        .flags = CONF_F_NULLABLE,
        .offset = TYPED(struct conf_kcl, table_name, char *),
        .min_u = 3,
        .max_u = 255,
        .check = check_table_name,
        .def_doc = "`<application-name>-<stream-name>`",
        .doc = "DynamoDB lease table"},
    K_STR("regionName", struct conf_kcl, region_name, NULL, 1, 64,
        CONF_F_NULLABLE, conf_check_region,
        "region of this consumer's stream and table"),
    K_STR("kinesisEndpoint", struct conf_kcl, kinesis_endpoint, NULL, 1, 2048,
        CONF_F_NULLABLE, check_host,
        "Kinesis host name or URL for this consumer"),
    K_IGNORED("AWSCredentialsProvider",
        "kinesisd uses the AWS default credential chain"),
    K_IGNORED("AWSCredentialsProviderCloudWatch", IGN_METRICS),
    K_IGNORED("AWSCredentialsProviderDynamoDB",
        "kinesisd uses the AWS default credential chain"),
    K_IGNORED("applicationName", "set from application-name"),
    K_IGNORED("billingMode",
        "set both initialLeaseTable*Capacity to 0 for on-demand"),
    K_IGNORED("callProcessRecordsEvenForEmptyRecordList",
        "records are delivered one by one; empty batches are not"),
    K_IGNORED("completedLeaseCleanupThresholdMillis", IGN_THREADS),
    K_IGNORED("dataFetchingStrategy", "one GetRecords loop per shard"),
    K_IGNORED("dynamoDBEndpoint", "set endpoints.dynamodb"),
    K_IGNORED("garbageLeaseCleanupThresholdMillis", IGN_THREADS),
    K_IGNORED("idleMillisBetweenCalls", "one GetRecords loop per shard"),
    K_IGNORED("ignoreUnexpectedChildShards", "DynamoDB Streams only"),
    K_IGNORED("leaseCleanupIntervalMillis", IGN_THREADS),
    K_IGNORED("listShardsBackoffTimeInMillis", "AWS retries are built in"),
    K_IGNORED("logWarningForTaskAfterMillis", IGN_THREADS),
    K_IGNORED("maxCacheByteSize", "one GetRecords loop per shard"),
    K_IGNORED("maxGetRecordsThreadPool", IGN_THREADS),
    K_IGNORED("maxLeaseRenewalThreads", IGN_THREADS),
    K_IGNORED("maxListShardsRetryAttempts", "AWS retries are built in"),
    K_IGNORED("maxPendingProcessRecordsInput", "one GetRecords loop per shard"),
    K_IGNORED("maxRecordsCount", "one GetRecords loop per shard"),
    K_IGNORED("metricsBufferTimeMillis", IGN_METRICS),
    K_IGNORED("metricsEnabledDimensions", IGN_METRICS),
    K_IGNORED("metricsLevel", IGN_METRICS),
    K_IGNORED("metricsMaxQueueSize", IGN_METRICS),
    K_IGNORED("retryGetRecordsInSeconds", IGN_THREADS),
    K_IGNORED("shardPrioritization", "shards are processed in parallel"),
    K_IGNORED("shutdownGraceMillis", "set worker.shutdownTimeoutSeconds"),
    K_IGNORED("skipShardSyncAtWorkerInitializationIfLeasesExist",
        "shard sync is cheap here"),
    K_IGNORED("streamName", "set from stream-name"),
    K_IGNORED("timeoutInSeconds", "set worker.batchTimeoutSeconds"),
    K_IGNORED("userAgent", "kinesisd sends its own User-Agent"),
    K_IGNORED("validateSequenceNumberBeforeCheckpointing",
        "only delivered records are checkpointed"),
};
static const struct conf_table kcl_table = {"kcl", "`kcl`",
    "Kinesis Client Library settings, by their KCL names.  An existing "
    "checkpoint always wins over initialPositionInStream.",
    kcl_keys, NKEYS(kcl_keys)};

static const struct conf_key consumer_keys[] = {
    K_STR("stream-name", struct conf_consumer, stream_name, NULL, 1, 128,
        CONF_F_NULLABLE | CONF_F_REQUIRED, check_stream_name,
        "the Kinesis stream consumed; must exist (required)"),
    K_SECTION("worker", offsetof(struct conf_consumer, worker), &worker_table,
        "batches, retries and shutdown"),
    K_SECTION("checkpointer", offsetof(struct conf_consumer, checkpointer),
        &checkpointer_table, "checkpoint pacing"),
    K_SECTION(
        "kcl", offsetof(struct conf_consumer, kcl), &kcl_table, "KCL settings"),
    K_IGNORED("akka", IGN_AKKA),
};
const struct conf_table conf_consumer_table = {"consumer",
    "Consumers: `default-consumer` and `consumers.<name>`",
    "`default-consumer` overrides the built-in defaults for every "
    "consumer; each `consumers.<name>` overrides those, key by key.",
    consumer_keys, NKEYS(consumer_keys)};

static const struct conf_key top_keys[] = {
    K_STR("application-name", struct conf, application_name, "KinesisProducer",
        1, 255, 0, NULL,
        "names the lease tables: <application-name>-<stream-name>"),
    {.name = "region",
        .type = CONF_T_STRING,
        .flags = CONF_F_NULLABLE,
        .offset = TYPED(struct conf, region, char *),
        .min_u = 1,
        .max_u = 64,
        .check = conf_check_region,
        .def_doc = "`AWS_REGION`, else `AWS_DEFAULT_REGION`, else the "
                   "profile's, else IMDS",
        .doc = "AWS region"},
    K_STR("socket", struct conf, socket, "/run/kinesisd/kinesisd.sock", 1, 107,
        0, NULL, "path of the Unix socket clients connect to"),
    {.name = "socket-mode",
        .type = CONF_T_MODE,
        .offset = TYPED(struct conf, socket_mode, unsigned),
        .def_u = 0660,
        .min_u = 0,
        .max_u = 0777,
        .doc = "permissions of the socket, an octal string"},
    K_UINT("max-line-bytes", struct conf, max_line_bytes, 2097152, 1024,
        1073741824, "bytes", "longest accepted protocol line"),
    K_UINT("max-connections", struct conf, max_connections, 1024, 1, 1048576,
        NULL, "most client connections open at once; more are refused"),
    K_UINT("partial-line-timeout-seconds", struct conf,
        partial_line_timeout_seconds, 30, 1, 86400, "s",
        "a connection holding part of a line must end a line within this "
        "time, else it is closed; also the time a closing connection gets "
        "to read its last replies"),
    K_UINT("max-unanswered-puts", struct conf, max_unanswered_puts, 10000, 0,
        I64MAX, NULL,
        "puts with an id waiting for their result before the daemon stops "
        "reading that connection; 0 = unlimited"),
    {.name = "allowed-uids",
        .type = CONF_T_UIDS,
        .offset = TYPED(struct conf, allowed_uids, uint32_t *),
        .count_offset = TYPED(struct conf, n_allowed_uids, size_t),
        .doc = "users (names or numbers) allowed to connect; with "
               "allowed-gids empty too: anyone who can open the socket"},
    {.name = "allowed-gids",
        .type = CONF_T_GIDS,
        .offset = TYPED(struct conf, allowed_gids, uint32_t *),
        .count_offset = TYPED(struct conf, n_allowed_gids, size_t),
        .doc = "groups (names or numbers) whose members may connect"},
    K_STR("http-listen", struct conf, http_listen, "127.0.0.1:9485", 0, 300, 0,
        check_listen, "/metrics, /healthz, /readyz; \"\" disables"),
    K_SECTION("log", 0, &log_table, "logging"),
    K_SECTION("endpoints", 0, &endpoint_table, "service endpoints"),
    {.name = "default-producer",
        .type = CONF_T_TEMPLATE,
        .sub = &conf_producer_table,
        .doc = "settings every producer starts from"},
    {.name = "default-consumer",
        .type = CONF_T_TEMPLATE,
        .sub = &conf_consumer_table,
        .doc = "settings every consumer starts from"},
    {.name = "producers",
        .type = CONF_T_NAMED,
        .sub = &conf_producer_table,
        .doc = "named producers, as clients name them in put"},
    {.name = "consumers",
        .type = CONF_T_NAMED,
        .sub = &conf_consumer_table,
        .doc = "named consumers, as clients name them in subscribe"},
    K_IGNORED("akka", IGN_AKKA),
};
const struct conf_table conf_top_table = {
    "", "Top level", "The daemon itself.", top_keys, NKEYS(top_keys)};

/* ---- generic walkers ---------------------------------------------------- */

/*
 * A SECTION row's sub-table describes the struct at base + offset (the
 * top level's `log` and `endpoints` use offset 0: their fields live in
 * struct conf itself).
 */
static void *
section_base(void *base, const struct conf_key *k)
{
	return (char *)base + k->offset;
}

static size_t *
count_field(void *base, const struct conf_key *k)
{
	return (size_t *)(void *)((char *)base + k->count_offset);
}

int
conf_table_defaults(const struct conf_table *t, void *base)
{
	int rc = 0;

	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		switch (k->type) {
		case CONF_T_STRING: {
			char **p = CONF_FIELD(base, k, char *);

			free(*p);
			*p = NULL;
			if (k->def_s != NULL && (*p = strdup(k->def_s)) == NULL)
				rc = -1;
			break;
		}
		case CONF_T_BOOL:
		case CONF_T_ENUM:
			*CONF_FIELD(base, k, int) = (int)k->def_u;
			break;
		case CONF_T_UINT:
			*CONF_FIELD(base, k, uint64_t) = k->def_u;
			break;
		case CONF_T_DOUBLE:
			*CONF_FIELD(base, k, double) = k->def_d;
			break;
		case CONF_T_MODE:
			*CONF_FIELD(base, k, unsigned) = (unsigned)k->def_u;
			break;
		case CONF_T_UIDS:
		case CONF_T_GIDS: /* the default is the empty list */
			free(*CONF_FIELD(base, k, uint32_t *));
			*CONF_FIELD(base, k, uint32_t *) = NULL;
			*count_field(base, k) = 0;
			break;
		case CONF_T_SECTION:
			if (conf_table_defaults(
			        k->sub, section_base(base, k)) == -1)
				rc = -1;
			break;
		case CONF_T_TEMPLATE:
		case CONF_T_NAMED:
		case CONF_T_IGNORED:
			break;
		}
	}
	return rc;
}

void
conf_table_clear(const struct conf_table *t, void *base)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		switch (k->type) {
		case CONF_T_STRING:
			free(*CONF_FIELD(base, k, char *));
			*CONF_FIELD(base, k, char *) = NULL;
			break;
		case CONF_T_UIDS:
		case CONF_T_GIDS:
			free(*CONF_FIELD(base, k, uint32_t *));
			*CONF_FIELD(base, k, uint32_t *) = NULL;
			*count_field(base, k) = 0;
			break;
		case CONF_T_SECTION:
			conf_table_clear(k->sub, section_base(base, k));
			break;
		default:
			break;
		}
	}
}

/* Copies the values the table covers, pointers included (shallow). */
static void
table_copy_values(const struct conf_table *t, void *dst, const void *src)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];
		size_t size;

		switch (k->type) {
		case CONF_T_STRING:
			size = sizeof(char *);
			break;
		case CONF_T_BOOL:
		case CONF_T_ENUM:
			size = sizeof(int);
			break;
		case CONF_T_UINT:
			size = sizeof(uint64_t);
			break;
		case CONF_T_DOUBLE:
			size = sizeof(double);
			break;
		case CONF_T_MODE:
			size = sizeof(unsigned);
			break;
		case CONF_T_UIDS:
		case CONF_T_GIDS:
			size = sizeof(uint32_t *);
			*count_field(dst, k) =
			    *(const size_t *)(const void *)((const char *)src +
			                                    k->count_offset);
			break;
		case CONF_T_SECTION:
			table_copy_values(k->sub, section_base(dst, k),
			    (const char *)src + k->offset);
			continue;
		default:
			continue;
		}
		memcpy((char *)dst + k->offset, (const char *)src + k->offset,
		    size);
	}
}

/*
 * Replaces every owned pointer in dst (shallow-copied from src) with a
 * copy, or with NULL when memory runs out, so dst never aliases src.
 */
static int
table_unshare(const struct conf_table *t, void *dst)
{
	int rc = 0;

	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		switch (k->type) {
		case CONF_T_STRING: {
			char **p = CONF_FIELD(dst, k, char *);

			if (*p != NULL && (*p = strdup(*p)) == NULL)
				rc = -1;
			break;
		}
		case CONF_T_UIDS:
		case CONF_T_GIDS: {
			uint32_t **p = CONF_FIELD(dst, k, uint32_t *);
			size_t *n = count_field(dst, k);
			uint32_t *copy = NULL;

			if (*p != NULL && *n > 0 &&
			    (copy = calloc(*n, sizeof(**p))) != NULL)
				memcpy(copy, *p, *n * sizeof(**p));
			if (copy == NULL) {
				if (*p != NULL && *n > 0)
					rc = -1;
				*n = 0;
			}
			*p = copy;
			break;
		}
		case CONF_T_SECTION:
			if (table_unshare(k->sub, section_base(dst, k)) == -1)
				rc = -1;
			break;
		default:
			break;
		}
	}
	return rc;
}

int
conf_table_copy(const struct conf_table *t, void *dst, const void *src)
{
	table_copy_values(t, dst, src);
	return table_unshare(t, dst);
}
