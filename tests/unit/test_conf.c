/*
 * test_conf.c — conf/: valid files, every error kind, merge precedence,
 * the environment, the reactive-kinesis defaults, the printers.
 *
 * Runs from the top of the tree (fixtures are tests/fixtures/conf/).
 */
#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "log/log.h"

#define FIXTURES "tests/fixtures/conf/"

static const char *const env_vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB",
    "KINESISD_CONFIG", NULL};

/* Every test starts from an environment without the variables conf reads. */
static void
env_clear(void)
{
	for (size_t i = 0; env_vars[i] != NULL; i++)
		unsetenv(env_vars[i]);
}

static struct conf *
load(const char *yaml)
{
	char *cause = NULL;
	struct conf *c = conf_load_string(yaml, "t.yaml", &cause);

	ck_assert_msg(c != NULL, "load failed: %s", cause ? cause : "(null)");
	ck_assert_ptr_null(cause);
	return c;
}

/* Expects yaml to fail with a message containing every given string. */
static void
expect_error(const char *yaml, ...)
{
	char *cause = NULL;
	struct conf *c = conf_load_string(yaml, "t.yaml", &cause);
	const char *want;
	va_list ap;

	ck_assert_msg(c == NULL, "loaded, expected an error:\n%s", yaml);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strncmp(cause, "t.yaml:", 7) == 0, "no file: %s", cause);
	va_start(ap, yaml);
	while ((want = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(cause, want) != NULL,
		    "\"%s\" not in \"%s\"", want, cause);
	va_end(ap);
	free(cause);
}

/* Captures what fn writes to stderr (the log) into a malloc'd string. */
static char *
capture_stderr(
    struct conf *(*fn)(const char *), const char *arg, struct conf **out)
{
	char path[] = "/tmp/test_conf.XXXXXX", *buf;
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	long n;
	FILE *fp;

	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	*out = fn(arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fp = fdopen(fd, "r");
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), n);
	fclose(fp);
	unlink(path);
	return buf;
}

static char *
print_to_string(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	conf_print(c, fp);
	fclose(fp);
	return buf;
}

/* ---- defaults ------------------------------------------------------------ */

/*
 * The values of reactive-kinesis src/main/resources/reference.conf
 * (kinesis.default-producer.kpl, kinesis.default-consumer.*), written out
 * here independently of conf/schema.c, plus the SPEC's own defaults.
 */
START_TEST(test_defaults_reference_conf)
{
	struct conf *c = load("producers: {p: {stream-name: s}}\n"
	                      "consumers: {c: {stream-name: s}}\n");
	const struct conf_producer *p = conf_producer_find(c, "p");
	const struct conf_consumer *k = conf_consumer_find(c, "c");

	ck_assert_ptr_null(c->path);
	ck_assert_str_eq(c->application_name, "KinesisProducer");
	ck_assert_ptr_null(c->region);
	ck_assert_str_eq(c->socket, "/run/kinesisd/kinesisd.sock");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_uint_eq(c->max_line_bytes, 2097152);
	ck_assert_uint_eq(c->n_allowed_uids, 0);
	ck_assert_uint_eq(c->n_allowed_gids, 0);
	ck_assert_str_eq(c->http_listen, "127.0.0.1:9485");
	ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(c->log_format, LOG_FORMAT_TEXT);
	ck_assert_ptr_null(c->kinesis_endpoint);
	ck_assert_ptr_null(c->dynamodb_endpoint);

	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->name, "p");
	ck_assert_str_eq(p->stream_name, "s");
	ck_assert_uint_eq(p->max_outstanding_requests, 50000);
	ck_assert_int_eq(p->kpl.aggregation_enabled, 1);
	ck_assert_uint_eq(p->kpl.aggregation_max_count, 4294967295u);
	ck_assert_uint_eq(p->kpl.aggregation_max_size, 51200);
	ck_assert_uint_eq(p->kpl.collection_max_count, 500);
	ck_assert_uint_eq(p->kpl.collection_max_size, 5242880);
	ck_assert_uint_eq(p->kpl.connect_timeout, 6000);
	ck_assert_int_eq(p->kpl.fail_if_throttled, 0);
	ck_assert_uint_eq(p->kpl.max_connections, 24);
	ck_assert_uint_eq(p->kpl.rate_limit, 150);
	ck_assert_uint_eq(p->kpl.record_max_buffered_time, 100);
	ck_assert_uint_eq(p->kpl.record_ttl, 30000);
	ck_assert_ptr_null(p->kpl.region);
	ck_assert_uint_eq(p->kpl.request_timeout, 6000);
	ck_assert_int_eq(p->kpl.verify_certificate, 1);
	ck_assert_ptr_null(p->kpl.kinesis_endpoint);
	ck_assert_uint_eq(p->kpl.kinesis_port, 443);

	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(k->worker.batch_timeout_seconds, 10);
	ck_assert_uint_eq(k->worker.failed_message_retries, 1);
	ck_assert(k->worker.failure_tolerance_percentage == 0.25);
	ck_assert_uint_eq(k->worker.shutdown_timeout_seconds, 25);
	ck_assert_int_eq(k->worker.graceful_shutdown_hook, 1);
	ck_assert_uint_eq(k->checkpointer.backoff_millis, 3000);
	ck_assert_uint_eq(k->checkpointer.interval_millis, 2000);
	ck_assert_int_eq(k->kcl.initial_position, CONF_POS_TRIM_HORIZON);
	ck_assert_uint_eq(k->kcl.max_records, 10000);
	ck_assert_uint_eq(k->kcl.idle_time_between_reads_millis, 1000);
	ck_assert_uint_eq(k->kcl.failover_time_millis, 10000);
	ck_assert_uint_eq(k->kcl.shard_sync_interval_millis, 60000);
	ck_assert_int_eq(k->kcl.cleanup_leases_upon_shard_completion, 1);
	ck_assert_uint_eq(k->kcl.parent_shard_poll_interval_millis, 10000);
	ck_assert_uint_eq(k->kcl.task_backoff_time_millis, 500);
	ck_assert_uint_eq(k->kcl.max_leases_for_worker, 2147483647);
	ck_assert_uint_eq(k->kcl.max_leases_to_steal_at_one_time, 1);
	ck_assert_uint_eq(k->kcl.initial_lease_table_read_capacity, 10);
	ck_assert_uint_eq(k->kcl.initial_lease_table_write_capacity, 10);
	ck_assert_ptr_null(k->kcl.initial_timestamp);
	ck_assert_ptr_null(k->kcl.initial_sequence_number);
	ck_assert_ptr_null(k->kcl.region_name);
	ck_assert_ptr_null(k->kcl.kinesis_endpoint);
	ck_assert_str_eq(k->kcl.table_name, "KinesisProducer-s");
	conf_free(c);
}
END_TEST

START_TEST(test_empty_file)
{
	struct conf *c = load("");

	ck_assert_uint_eq(c->n_producers, 0);
	ck_assert_uint_eq(c->n_consumers, 0);
	conf_free(c);
	c = load("# only a comment\n");
	conf_free(c);
	c = load("producers:\nconsumers: ~\n");
	ck_assert_uint_eq(c->n_producers, 0);
	conf_free(c);
}
END_TEST

/* ---- valid files ----------------------------------------------------------
 */

START_TEST(test_spec_example)
{
	char *cause = NULL;
	struct conf *c = conf_load(FIXTURES "spec-example.yaml", &cause);
	const struct conf_producer *p;
	const struct conf_consumer *k;

	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_str_eq(c->path, FIXTURES "spec-example.yaml");
	ck_assert_str_eq(c->application_name, "SampleService");
	ck_assert_str_eq(c->region, "us-east-1");
	ck_assert_str_eq(c->kinesis_endpoint, "http://127.0.0.1:4567");
	ck_assert_str_eq(c->dynamodb_endpoint, "http://127.0.0.1:4568");
	ck_assert_uint_eq(c->n_producers, 1);
	ck_assert_uint_eq(c->n_consumers, 1);
	p = conf_producer_find(c, "some-producer");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->stream_name, "sample-producer");
	ck_assert_uint_eq(p->kpl.rate_limit, 150);
	ck_assert_uint_eq(p->kpl.record_ttl, 30000);
	k = conf_consumer_find(c, "some-consumer");
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->stream_name, "sample-consumer");
	ck_assert_str_eq(k->kcl.worker_id, "<hostname>:<uuid>");
	ck_assert_str_eq(k->kcl.table_name, "SampleService-sample-consumer");
	ck_assert_ptr_null(conf_producer_find(c, "some-consumer"));
	ck_assert_ptr_null(conf_consumer_find(c, "nope"));
	conf_free(c);
}
END_TEST

START_TEST(test_example_config)
{
	char *cause = NULL;
	struct conf *c = conf_load("conf/kinesisd.yaml", &cause);

	ck_assert_msg(c != NULL, "conf/kinesisd.yaml: %s", cause);
	ck_assert_ptr_nonnull(conf_producer_find(c, "some-producer"));
	ck_assert_ptr_nonnull(conf_consumer_find(c, "some-consumer"));
	conf_free(c);
}
END_TEST

START_TEST(test_value_forms)
{
	struct conf *c = load(
	    "socket-mode: 0600\n"
	    "allowed-uids: [0, root, 1000]\n"
	    "allowed-gids:\n  - root\n  - 5\n"
	    "http-listen: \"\"\n"
	    "log: {level: debug, format: json}\n"
	    "region: ~\n"
	    "producers:\n"
	    "  p:\n    stream-name: s.1_x-y\n"
	    "    kpl: {AggregationEnabled: no, FailIfThrottled: On,\n"
	    "          Region: eu-west-1, KinesisEndpoint: kinesis.local}\n"
	    "  q:\n    stream-name: s\n    kpl:\n"
	    "consumers:\n"
	    "  c:\n    stream-name: s\n"
	    "    worker: {failureTolerancePercentage: 1}\n"
	    "    kcl: {initialPositionInStream: AT_TIMESTAMP,\n"
	    "          initialTimestamp: 2024-05-01T12:00:00.250+02:00,\n"
	    "          initialLeaseTableReadCapacity: 0,\n"
	    "          initialLeaseTableWriteCapacity: 0}\n"
	    "  d:\n    stream-name: s\n"
	    "    kcl: {initialPositionInStream: AFTER_SEQUENCE_NUMBER,\n"
	    "          initialSequenceNumber: \"4959\", tableName: "
	    "my.table}\n");
	const struct conf_producer *p = conf_producer_find(c, "p");
	const struct conf_consumer *k = conf_consumer_find(c, "c");

	ck_assert_uint_eq(c->socket_mode, 0600);
	ck_assert_uint_eq(c->n_allowed_uids, 3);
	ck_assert_uint_eq(c->allowed_uids[0], 0);
	ck_assert_uint_eq(c->allowed_uids[1], 0);
	ck_assert_uint_eq(c->allowed_uids[2], 1000);
	ck_assert_uint_eq(c->n_allowed_gids, 2);
	ck_assert_uint_eq(c->allowed_gids[1], 5);
	ck_assert_str_eq(c->http_listen, "");
	ck_assert_int_eq(c->log_level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(c->log_format, LOG_FORMAT_JSON);
	ck_assert_str_eq(p->stream_name, "s.1_x-y");
	ck_assert_int_eq(p->kpl.aggregation_enabled, 0);
	ck_assert_int_eq(p->kpl.fail_if_throttled, 1);
	ck_assert_str_eq(p->kpl.region, "eu-west-1");
	ck_assert_str_eq(p->kpl.kinesis_endpoint, "kinesis.local");
	ck_assert_uint_eq(conf_producer_find(c, "q")->kpl.rate_limit, 150);
	ck_assert(k->worker.failure_tolerance_percentage == 1.0);
	ck_assert_int_eq(k->kcl.initial_position, CONF_POS_AT_TIMESTAMP);
	/* 2024-05-01T10:00:00Z is 1714557600. */
	ck_assert_int_eq(k->kcl.initial_timestamp_ms, 1714557600250LL);
	k = conf_consumer_find(c, "d");
	ck_assert_int_eq(
	    k->kcl.initial_position, CONF_POS_AFTER_SEQUENCE_NUMBER);
	ck_assert_str_eq(k->kcl.initial_sequence_number, "4959");
	ck_assert_str_eq(k->kcl.table_name, "my.table");
	conf_free(c);

	c = load("socket-mode: \"0o640\"\n");
	ck_assert_uint_eq(c->socket_mode, 0640);
	conf_free(c);
	c = load("socket-mode: \"0660\"\n");
	ck_assert_uint_eq(c->socket_mode, 0660);
	conf_free(c);
}
END_TEST

START_TEST(test_timestamps)
{
	static const struct {
		const char *in;
		long long ms;
	} ok[] = {
	    {"1714564800", 1714564800000LL},
	    {"1714564800.5", 1714564800500LL},
	    {"2024-05-01T12:00:00Z", 1714564800000LL},
	    {"2024-05-01T12:00:00.123456Z", 1714564800123LL},
	    {"2024-05-01T14:00:00+02:00", 1714564800000LL},
	    {"2024-05-01T07:00-0500", 1714564800000LL},
	    {"2024-05-01", 1714521600000LL},
	    {"2024-02-29T00:00:00Z", 1709164800000LL},
	    {"1970-01-01T00:00:00Z", 0},
	};
	static const char *const bad[] = {"2023-02-29", "2024-13-01",
	    "2024-05-01T25:00:00Z", "2024-05-01T12:00:00X", "yesterday", "-5",
	    "2024-5-1", "2024-05-01T12:00:00.Z"};
	char yaml[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct conf *c;

		snprintf(yaml, sizeof(yaml),
		    "consumers: {c: {stream-name: s, kcl: "
		    "{initialPositionInStream: AT_TIMESTAMP, "
		    "initialTimestamp: \"%s\"}}}\n",
		    ok[i].in);
		c = load(yaml);
		ck_assert_msg(
		    c->consumers[0].kcl.initial_timestamp_ms == ok[i].ms,
		    "%s: %lld", ok[i].in,
		    (long long)c->consumers[0].kcl.initial_timestamp_ms);
		conf_free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		    "consumers: {c: {stream-name: s, kcl: "
		    "{initialTimestamp: \"%s\"}}}\n",
		    bad[i]);
		expect_error(
		    yaml, "consumers.c.kcl.initialTimestamp", "ISO 8601", NULL);
	}
}
END_TEST

/* ---- errors ----------------------------------------------------------------
 */

START_TEST(test_ratelimt_fixture)
{
	char *cause = NULL;
	struct conf *c = conf_load(FIXTURES "bad-ratelimt.yaml", &cause);

	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, ":6:") != NULL, "%s", cause);
	ck_assert_msg(strstr(cause, "RateLimt") != NULL, "%s", cause);
	ck_assert_msg(strstr(cause, "RateLimit") != NULL, "%s", cause);
	ck_assert_msg(strncmp(cause,
	                  FIXTURES "bad-ratelimt.yaml:6:7: "
	                           "producers.x.kpl.RateLimt: ",
	                  strlen(FIXTURES) + 34) == 0,
	    "%s", cause);
	free(cause);
}
END_TEST

START_TEST(test_unknown_keys)
{
	expect_error("application-nme: x\n",
	    "t.yaml:1:1: application-nme:", "unknown key \"application-nme\"",
	    "\"application-name\"", NULL);
	expect_error("producers:\n  p:\n    stream-name: s\n    RateLimit: 1\n",
	    "t.yaml:4:5: producers.p.RateLimit:", "kpl.RateLimit", NULL);
	expect_error("worker: {}\n", "default-consumer.worker", NULL);
	expect_error("consumers:\n  c:\n    stream-name: s\n"
	             "    kcl: {maxrecords: 5}\n",
	    "t.yaml:4:11: consumers.c.kcl.maxrecords:", "\"maxRecords\"", NULL);
	expect_error(
	    "log: {lvl: info}\n", "t.yaml:1:7: log.lvl:", "\"level\"", NULL);
	expect_error("default-producer:\n  kpl: {RecordTTL: 5}\n",
	    "t.yaml:2:9: default-producer.kpl.RecordTTL:", "\"RecordTtl\"",
	    NULL);
}
END_TEST

START_TEST(test_type_errors)
{
	expect_error("max-line-bytes: lots\n", "t.yaml:1:17: max-line-bytes:",
	    "expected an integer in 1024..1073741824, got lots", NULL);
	expect_error("max-line-bytes: \"4096\"\n",
	    "expected an integer in 1024..1073741824",
	    "got \"4096\" (a quoted string)", NULL);
	expect_error("max-line-bytes: 4096.5\n", "got 4096.5", NULL);
	expect_error("max-line-bytes: [1]\n", "got a sequence", NULL);
	expect_error("max-line-bytes:\n", "got nothing (null)", NULL);
	expect_error("socket: {a: b}\n",
	    "t.yaml:1:9: socket:", "expected a string", "got a mapping", NULL);
	expect_error(
	    "socket: ~\n", "socket: expected a string of 1..107 bytes", NULL);
	expect_error("socket-mode: 0999\n",
	    "socket-mode:", "octal permission string", "got 0999", NULL);
	expect_error("socket-mode: \"1777\"\n", "socket-mode:", NULL);
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{VerifyCertificate: maybe}}}\n",
	    "producers.p.kpl.VerifyCertificate:",
	    "expected true or false, got maybe", NULL);
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{VerifyCertificate: \"true\"}}}\n",
	    "expected true or false", NULL);
	expect_error("consumers: {c: {stream-name: s, worker: "
	             "{failureTolerancePercentage: lots}}}\n",
	    "consumers.c.worker.failureTolerancePercentage:",
	    "expected a number in 0..100, got lots", NULL);
	expect_error("allowed-uids: 0\n",
	    "allowed-uids:", "expected a list of users, got 0", NULL);
	expect_error("allowed-gids: [root, no-such-group-zz]\n",
	    "t.yaml:1:22: allowed-gids:", "group name or gid",
	    "got no-such-group-zz", NULL);
	expect_error("allowed-uids: [4294967295]\n", "user name or uid", NULL);
	expect_error("allowed-uids: [[1]]\n", "got a sequence", NULL);
	expect_error("http-listen: 9485\n", "http-listen:", "HOST:PORT", NULL);
	expect_error("http-listen: \"host:99999\"\n", "HOST:PORT", NULL);
	expect_error("endpoints: {kinesis: \"localhost:4567\"}\n",
	    "endpoints.kinesis:", "http:// or https:// URL", NULL);
	expect_error("region: US-EAST-1\n", "region:", "us-east-1", NULL);
	expect_error("socket: \"a\\0b\"\n", "without NUL bytes", NULL);
}
END_TEST

START_TEST(test_range_errors)
{
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{CollectionMaxCount: 501}}}\n",
	    "producers.p.kpl.CollectionMaxCount:",
	    "expected an integer in 1..500, got 501", NULL);
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{CollectionMaxCount: 0}}}\n",
	    "got 0", NULL);
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{RateLimit: -1}}}\n",
	    "expected an integer >= 1, got -1", NULL);
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{RecordTtl: 99999999999999999999}}}\n",
	    "got 99999999999999999999", NULL);
	expect_error("producers: {p: {stream-name: s, kpl: "
	             "{RecordTtl: 99}}}\n",
	    ">= 100", NULL);
	expect_error("consumers: {c: {stream-name: s, kcl: "
	             "{maxRecords: 10001}}}\n",
	    "consumers.c.kcl.maxRecords:", "1..10000", NULL);
	expect_error("consumers: {c: {stream-name: s, worker: "
	             "{failureTolerancePercentage: 100.5}}}\n",
	    "got 100.5", NULL);
	expect_error("consumers: {c: {stream-name: s, worker: "
	             "{failureTolerancePercentage: -0.1}}}\n",
	    "got -0.1", NULL);
	expect_error("max-line-bytes: 100\n", "got 100", NULL);
	expect_error("socket: /run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	             "xxxxxxxxxxxx.sock\n",
	    "socket:", "1..107 bytes", "got 122 bytes", NULL);
	expect_error("producers: {p: {stream-name: \"bad name\"}}\n",
	    "producers.p.stream-name:", "[a-zA-Z0-9_.-]", NULL);
}
END_TEST

START_TEST(test_enum_errors)
{
	expect_error("consumers: {c: {stream-name: s, kcl: "
	             "{initialPositionInStream: trim_horizon}}}\n",
	    "consumers.c.kcl.initialPositionInStream:",
	    "expected one of TRIM_HORIZON, LATEST, AT_TIMESTAMP, "
	    "AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, got trim_horizon",
	    NULL);
	expect_error("log:\n  level: verbose\n", "t.yaml:2:10: log.level:",
	    "expected one of error, warn, info, debug, trace, got verbose",
	    NULL);
	expect_error(
	    "log: {format: xml}\n", "one of text, json, got xml", NULL);
}
END_TEST

START_TEST(test_structure_errors)
{
	/* Missing required key, at the entry's name. */
	expect_error("producers:\n  p:\n    kpl: {}\n",
	    "t.yaml:2:3: producers.p: missing required key stream-name", NULL);
	expect_error("consumers:\n  c: ~\n",
	    "t.yaml:2:3: consumers.c: missing required key stream-name", NULL);
	expect_error("producers:\n  p:\n    stream-name: ~\n",
	    "missing required key stream-name", NULL);
	/* Duplicates: keys, names, sections. */
	expect_error("socket: /a\nlog: {}\nsocket: /b\n",
	    "t.yaml:3:1: socket: duplicate key (first at line 1)", NULL);
	expect_error(
	    "producers:\n  p: {stream-name: s}\n  p: {stream-name: t}\n",
	    "t.yaml:3:3: producers.p: duplicate key (first at line 2)", NULL);
	expect_error("producers:\n  p:\n    stream-name: s\n"
	             "    kpl: {RateLimit: 1, RateLimit: 2}\n",
	    "producers.p.kpl.RateLimit: duplicate key", NULL);
	expect_error("consumers: {c: {stream-name: s}}\n"
	             "consumers: {d: {stream-name: s}}\n",
	    "t.yaml:2:1: consumers: duplicate key", NULL);
	/* Not mappings. */
	expect_error("producers:\n  p: [stream-name, s]\n",
	    "t.yaml:2:6: producers.p: expected a mapping, got a sequence",
	    NULL);
	expect_error(
	    "producers:\n  p: s\n", "producers.p: expected a mapping", NULL);
	expect_error("producers: [p]\n",
	    "producers: expected a mapping of names, got a sequence", NULL);
	expect_error("default-producer: 5\n",
	    "default-producer: expected a mapping, got 5", NULL);
	expect_error("consumers: {c: {stream-name: s, kcl: 5}}\n",
	    "consumers.c.kcl: expected a mapping, got 5", NULL);
	expect_error("log: text\n", "log: expected a mapping", NULL);
	expect_error("- a\n- b\n",
	    "t.yaml:1:1: expected a mapping at the top level, got a sequence",
	    NULL);
	expect_error(
	    "just a string\n", "expected a mapping at the top level", NULL);
	expect_error("? [a, b]\n: c\n", "expected a key", NULL);
	expect_error("producers:\n  \"a b\": {stream-name: s}\n",
	    "producers.a b: expected a name of 1-128", NULL);
}
END_TEST

START_TEST(test_yaml_errors)
{
	/* libyaml's own position and words. */
	expect_error("log: {level: info\n", "t.yaml:2:1: invalid YAML:", NULL);
	expect_error("a: b\n  c: d\n",
	    "t.yaml:2:4: invalid YAML:", "mapping values are not allowed",
	    NULL);
	expect_error(
	    "socket: \"unterminated\n", "invalid YAML:", "quoted scalar", NULL);
	expect_error("\tsocket: x\n", "invalid YAML:", NULL);
	expect_error(
	    "socket: *nowhere\n", "invalid YAML:", "undefined alias", NULL);
	expect_error("socket: /a\n---\nsocket: /b\n",
	    "t.yaml:3:1: expected one YAML document, found a second", NULL);
}
END_TEST

START_TEST(test_dependent_errors)
{
	expect_error("consumers:\n  c:\n    stream-name: s\n"
	             "    kcl: {initialPositionInStream: AT_TIMESTAMP}\n",
	    "t.yaml:2:3: consumers.c.kcl:",
	    "initialPositionInStream AT_TIMESTAMP needs initialTimestamp",
	    NULL);
	expect_error("consumers:\n  c:\n    stream-name: s\n"
	             "    kcl: {initialPositionInStream: AT_SEQUENCE_NUMBER}\n",
	    "AT_SEQUENCE_NUMBER needs initialSequenceNumber", NULL);
	expect_error("default-consumer:\n"
	             "  kcl: {initialPositionInStream: AFTER_SEQUENCE_NUMBER}\n"
	             "consumers: {c: {stream-name: s}}\n",
	    "consumers.c.kcl:", "AFTER_SEQUENCE_NUMBER needs", NULL);
	expect_error("consumers: {c: {stream-name: s, kcl: "
	             "{initialSequenceNumber: 12ab}}}\n",
	    "decimal digits", NULL);
	expect_error("consumers: {c: {stream-name: s, kcl: "
	             "{initialLeaseTableWriteCapacity: 0}}}\n",
	    "both 0 (on-demand) or both >= 1, got 10 and 0", NULL);
	expect_error("application-name: \"my app\"\n"
	             "consumers: {c: {stream-name: s}}\n",
	    "consumers.c.kcl:", "\"my app-s\"", "set kcl.tableName", NULL);
	expect_error("consumers: {c: {stream-name: s, kcl: {tableName: ab}}}\n",
	    "consumers.c.kcl.tableName:", "3..255 bytes, got 2 bytes", NULL);
	expect_error(
	    "consumers: {c: {stream-name: s, kcl: {tableName: a/b}}}\n",
	    "consumers.c.kcl.tableName:", "DynamoDB table name", NULL);
}
END_TEST

START_TEST(test_file_errors)
{
	char *cause = NULL;
	struct conf *c = conf_load(FIXTURES "does-not-exist.yaml", &cause);

	ck_assert_ptr_null(c);
	ck_assert_str_eq(cause,
	    FIXTURES "does-not-exist.yaml: cannot open: No such file or "
	             "directory");
	free(cause);
	c = conf_load(FIXTURES, &cause);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(cause, "cannot read YAML"));
	free(cause);
}
END_TEST

/* ---- merging ----------------------------------------------------------------
 */

START_TEST(test_merge_precedence)
{
	/* The templates come after the named entries on purpose: where a
	 * template sits in the file must not matter. */
	struct conf *c = load(
	    "producers:\n"
	    "  p1:\n    stream-name: s1\n    kpl: {RateLimit: 90}\n"
	    "  p2:\n    stream-name: s2\n    max-outstanding-requests: 0\n"
	    "consumers:\n"
	    "  c1:\n    stream-name: s1\n"
	    "    kcl: {maxRecords: 5}\n    worker: {failedMessageRetries: 3}\n"
	    "  c2:\n    stream-name: s2\n    checkpointer: ~\n"
	    "default-producer:\n"
	    "  max-outstanding-requests: 100\n"
	    "  kpl: {RateLimit: 80, RecordTtl: 5000}\n"
	    "default-consumer:\n"
	    "  worker: {batchTimeoutSeconds: 30}\n"
	    "  checkpointer: {intervalMillis: 500}\n"
	    "  kcl: {maxRecords: 100, failoverTimeMillis: 20000}\n");
	const struct conf_producer *p1 = conf_producer_find(c, "p1"),
	                           *p2 = conf_producer_find(c, "p2");
	const struct conf_consumer *c1 = conf_consumer_find(c, "c1"),
	                           *c2 = conf_consumer_find(c, "c2");

	/* named > default-producer > built-in, key by key */
	ck_assert_uint_eq(p1->kpl.rate_limit, 90);
	ck_assert_uint_eq(p1->kpl.record_ttl, 5000);
	ck_assert_uint_eq(p1->kpl.max_connections, 24);
	ck_assert_uint_eq(p1->max_outstanding_requests, 100);
	ck_assert_uint_eq(p2->kpl.rate_limit, 80);
	ck_assert_uint_eq(p2->kpl.record_ttl, 5000);
	ck_assert_uint_eq(p2->max_outstanding_requests, 0);
	ck_assert_str_eq(p1->stream_name, "s1");
	ck_assert_str_eq(p2->stream_name, "s2");

	ck_assert_uint_eq(c1->kcl.max_records, 5);
	ck_assert_uint_eq(c1->kcl.failover_time_millis, 20000);
	ck_assert_uint_eq(c1->kcl.shard_sync_interval_millis, 60000);
	ck_assert_uint_eq(c1->worker.failed_message_retries, 3);
	ck_assert_uint_eq(c1->worker.batch_timeout_seconds, 30);
	ck_assert_uint_eq(c1->checkpointer.interval_millis, 500);
	ck_assert_uint_eq(c1->checkpointer.backoff_millis, 3000);
	ck_assert_uint_eq(c2->kcl.max_records, 100);
	ck_assert_uint_eq(c2->worker.failed_message_retries, 1);
	ck_assert_uint_eq(c2->checkpointer.interval_millis, 500);
	ck_assert_str_eq(c2->kcl.table_name, "KinesisProducer-s2");
	conf_free(c);
}
END_TEST

START_TEST(test_merge_strings)
{
	/* Strings set by the template are copied per entry; an explicit null
	 * in an entry unsets what the template set. */
	struct conf *c = load("default-producer:\n"
	                      "  stream-name: shared\n"
	                      "  kpl: {Region: eu-west-1}\n"
	                      "default-consumer:\n"
	                      "  kcl: {regionName: eu-west-2, tableName: t-1}\n"
	                      "producers:\n  a: {}\n"
	                      "  b: {kpl: {Region: ~}}\n"
	                      "consumers:\n  c: {stream-name: s}\n"
	                      "  d: {stream-name: s, kcl: {tableName: t-2}}\n");

	ck_assert_str_eq(conf_producer_find(c, "a")->stream_name, "shared");
	ck_assert_str_eq(conf_producer_find(c, "a")->kpl.region, "eu-west-1");
	ck_assert_ptr_ne(conf_producer_find(c, "a")->stream_name,
	    conf_producer_find(c, "b")->stream_name);
	ck_assert_ptr_null(conf_producer_find(c, "b")->kpl.region);
	ck_assert_str_eq(
	    conf_consumer_find(c, "c")->kcl.region_name, "eu-west-2");
	ck_assert_str_eq(conf_consumer_find(c, "c")->kcl.table_name, "t-1");
	ck_assert_str_eq(conf_consumer_find(c, "d")->kcl.table_name, "t-2");
	conf_free(c);
}
END_TEST

START_TEST(test_derived)
{
	struct conf *c = load("application-name: App\n"
	                      "consumers:\n  a: {stream-name: s1}\n"
	                      "  b: {stream-name: s2}\n"
	                      "  c: {stream-name: s3, kcl: {workerId: me}}\n");
	const char *id = conf_consumer_find(c, "a")->kcl.worker_id, *uuid;
	char host[256];

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	ck_assert_msg(
	    strncmp(id, host, strlen(host)) == 0 && id[strlen(host)] == ':',
	    "%s", id);
	uuid = id + strlen(host) + 1;
	ck_assert_uint_eq(strlen(uuid), 36);
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(uuid[i], '-');
		else
			ck_assert_msg(isxdigit((unsigned char)uuid[i]) &&
			                  !isupper((unsigned char)uuid[i]),
			    "%s", uuid);
	}
	ck_assert_int_eq(uuid[14], '4');
	ck_assert_ptr_nonnull(strchr("89ab", uuid[19]));
	/* One id per daemon, shared by its consumers. */
	ck_assert_str_eq(conf_consumer_find(c, "b")->kcl.worker_id, id);
	ck_assert_str_eq(conf_consumer_find(c, "c")->kcl.worker_id, "me");
	ck_assert_str_eq(conf_consumer_find(c, "a")->kcl.table_name, "App-s1");
	ck_assert_str_eq(conf_consumer_find(c, "b")->kcl.table_name, "App-s2");
	ck_assert_str_eq(conf_initial_position_name(CONF_POS_LATEST), "LATEST");
	ck_assert_str_eq(
	    conf_initial_position_name(CONF_POS_AFTER_SEQUENCE_NUMBER),
	    "AFTER_SEQUENCE_NUMBER");
	conf_free(c);
}
END_TEST

/* ---- environment
 * ---------------------------------------------------------------- */

START_TEST(test_env)
{
	struct conf *c;
	char *cause = NULL;

	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	c = load("");
	ck_assert_str_eq(c->region, "eu-west-1");
	conf_free(c);

	setenv("AWS_REGION", "eu-central-1", 1);
	c = load("");
	ck_assert_str_eq(c->region, "eu-central-1");
	conf_free(c);
	c = load("region: ap-south-1\n"); /* the file wins */
	ck_assert_str_eq(c->region, "ap-south-1");
	conf_free(c);
	setenv("AWS_REGION", "", 1); /* empty is unset */
	c = load("");
	ck_assert_str_eq(c->region, "eu-west-1");
	conf_free(c);

	setenv("AWS_ENDPOINT_URL", "http://localhost:4566", 1);
	c = load("");
	ck_assert_str_eq(c->kinesis_endpoint, "http://localhost:4566");
	ck_assert_str_eq(c->dynamodb_endpoint, "http://localhost:4566");
	conf_free(c);
	setenv("AWS_ENDPOINT_URL_KINESIS", "http://localhost:4567", 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "https://ddb.local", 1);
	c = load("");
	ck_assert_str_eq(c->kinesis_endpoint, "http://localhost:4567");
	ck_assert_str_eq(c->dynamodb_endpoint, "https://ddb.local");
	conf_free(c);
	c = load("endpoints: {kinesis: \"http://k:1\"}\n");
	ck_assert_str_eq(c->kinesis_endpoint, "http://k:1");
	ck_assert_str_eq(c->dynamodb_endpoint, "https://ddb.local");
	conf_free(c);

	setenv("AWS_ENDPOINT_URL_KINESIS", "localhost:4567", 1);
	c = conf_load_string("", "t.yaml", &cause);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(cause,
	    "environment variable AWS_ENDPOINT_URL_KINESIS: expected an "
	    "http:// or https:// URL, got \"localhost:4567\"");
	free(cause);
	env_clear();
}
END_TEST

START_TEST(test_env_config_path)
{
	char *cause = NULL;
	struct conf *c;

	setenv("KINESISD_CONFIG", FIXTURES "spec-example.yaml", 1);
	c = conf_load(NULL, &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_str_eq(c->path, FIXTURES "spec-example.yaml");
	conf_free(c);
	/* An explicit path wins over the variable. */
	c = conf_load(FIXTURES "bad-ratelimt.yaml", &cause);
	ck_assert_ptr_null(c);
	free(cause);
	setenv("KINESISD_CONFIG", FIXTURES "none.yaml", 1);
	c = conf_load(NULL, &cause);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(cause, FIXTURES "none.yaml: cannot open"));
	free(cause);
	env_clear();
}
END_TEST

/* ---- warnings
 * ------------------------------------------------------------------ */

static struct conf *
load_quiet(const char *yaml)
{
	char *cause = NULL;
	struct conf *c = conf_load_string(yaml, "w.yaml", &cause);

	free(cause);
	return c;
}

START_TEST(test_ignored_keys_warn)
{
	struct conf *c;
	char *log = capture_stderr(load_quiet,
	    "producers:\n  p:\n    stream-name: s\n"
	    "    kpl: {ThreadingModel: POOLED, MetricsLevel: none}\n"
	    "    akka: {dispatcher: x}\n"
	    "consumers:\n  c:\n    stream-name: s\n"
	    "    checkpointer: {notificationDelayMillis: 5}\n"
	    "    kcl:\n      callProcessRecordsEvenForEmptyRecordList: true\n",
	    &c);

	ck_assert_ptr_nonnull(c);
	ck_assert_msg(strstr(log, "w.yaml:4:11: producers.p.kpl.ThreadingModel:"
	                          " ignored") != NULL,
	    "%s", log);
	ck_assert_ptr_nonnull(strstr(log, "producers.p.kpl.MetricsLevel"));
	ck_assert_ptr_nonnull(strstr(log, "w.yaml:5:5: producers.p.akka"));
	ck_assert_ptr_nonnull(
	    strstr(log, "consumers.c.checkpointer.notificationDelayMillis"));
	ck_assert_ptr_nonnull(
	    strstr(log, "w.yaml:11:7: consumers.c.kcl."
	                "callProcessRecordsEvenForEmptyRecordList"));
	ck_assert_ptr_nonnull(strstr(log, "warn"));
	free(log);
	conf_free(c);
}
END_TEST

/* ---- printers
 * -------------------------------------------------------------------- */

static const char named[] = "producers:\n  p:\n    stream-name: s\n"
                            "consumers:\n  c:\n    stream-name: s\n"
                            "    kcl: {workerId: w}\n";

START_TEST(test_print_defaults_reloads)
{
	char *text = NULL, *a, *b, *yaml;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	struct conf *fromdefaults, *builtin;

	conf_print_defaults(fp);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(text, "AggregationMaxCount: 4294967295"));
	ck_assert_ptr_nonnull(strstr(text, "socket-mode: \"0660\""));
	/* The printed defaults, used as a file, change nothing. */
	ck_assert_int_ge(asprintf(&yaml, "%s%s", text, named), 0);
	fromdefaults = load(yaml);
	builtin = load(named);
	a = print_to_string(fromdefaults);
	b = print_to_string(builtin);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	free(yaml);
	free(text);
	conf_free(fromdefaults);
	conf_free(builtin);
}
END_TEST

START_TEST(test_print_reloads)
{
	char *cause = NULL, *a, *b;
	struct conf *c = conf_load(FIXTURES "spec-example.yaml", &cause),
	            *again;

	ck_assert_msg(c != NULL, "%s", cause);
	a = print_to_string(c);
	again = load(a);
	b = print_to_string(again);
	/* Only the header names the file. */
	ck_assert_str_eq(strchr(a, '\n'), strchr(b, '\n'));
	ck_assert_ptr_nonnull(
	    strstr(a, "  \"some-producer\":\n"
	              "    stream-name: \"sample-producer\"\n"));
	ck_assert_ptr_nonnull(strstr(a, "failureTolerancePercentage: 0.25\n"));
	free(a);
	free(b);
	conf_free(c);
	conf_free(again);

	/* Quoting survives the round trip. */
	c = load("application-name: \"a \\\"q\\\" \\\\ \\t x\"\n");
	a = print_to_string(c);
	again = load(a);
	ck_assert_str_eq(again->application_name, "a \"q\" \\ \t x");
	free(a);
	conf_free(c);
	conf_free(again);
}
END_TEST

START_TEST(test_reference)
{
	/* Every key SPEC section 2 says is honoured is documented. */
	static const char *const keys[] = {"AggregationEnabled",
	    "AggregationMaxCount", "AggregationMaxSize", "CollectionMaxCount",
	    "CollectionMaxSize", "ConnectTimeout", "FailIfThrottled",
	    "MaxConnections", "RateLimit", "RecordMaxBufferedTime", "RecordTtl",
	    "Region", "RequestTimeout", "VerifyCertificate", "KinesisEndpoint",
	    "KinesisPort", "initialPositionInStream", "initialTimestamp",
	    "initialSequenceNumber", "maxRecords",
	    "idleTimeBetweenReadsInMillis", "failoverTimeMillis",
	    "shardSyncIntervalMillis", "cleanupLeasesUponShardCompletion",
	    "parentShardPollIntervalMillis", "taskBackoffTimeMillis",
	    "maxLeasesForWorker", "maxLeasesToStealAtOneTime",
	    "initialLeaseTableReadCapacity", "initialLeaseTableWriteCapacity",
	    "workerId", "tableName", "regionName", "kinesisEndpoint",
	    "batchTimeoutSeconds", "failedMessageRetries",
	    "failureTolerancePercentage", "shutdownTimeoutSeconds",
	    "gracefulShutdownHook", "backoffMillis", "intervalMillis",
	    "application-name", "region", "socket", "socket-mode",
	    "max-line-bytes", "allowed-uids", "allowed-gids", "http-listen",
	    "stream-name", "max-outstanding-requests", NULL};
	char *text = NULL, *file = NULL, needle[128];
	size_t len = 0, flen = 0;
	FILE *fp = open_memstream(&text, &len);

	conf_print_reference(fp);
	fclose(fp);
	for (size_t i = 0; keys[i] != NULL; i++) {
		snprintf(needle, sizeof(needle), "| `%s` |", keys[i]);
		ck_assert_msg(strstr(text, needle) != NULL, "%s", keys[i]);
	}
	ck_assert_ptr_nonnull(strstr(text, "- `ThreadingModel`:"));

	/* docs/config.md is this output: regenerate it with `make docs`. */
	fp = fopen("docs/config.md", "r");
	ck_assert_msg(fp != NULL, "docs/config.md missing");
	file = calloc(1, len + 2);
	ck_assert_ptr_nonnull(file);
	flen = fread(file, 1, len + 1, fp);
	fclose(fp);
	ck_assert_msg(flen == len && memcmp(file, text, len) == 0,
	    "docs/config.md is stale: run make docs");
	free(file);
	free(text);
}
END_TEST

START_TEST(test_free_null)
{
	conf_free(NULL);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, env_clear, env_clear);
	tcase_add_test(tc, test_defaults_reference_conf);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_spec_example);
	tcase_add_test(tc, test_example_config);
	tcase_add_test(tc, test_value_forms);
	tcase_add_test(tc, test_timestamps);
	tcase_add_test(tc, test_ratelimt_fixture);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_type_errors);
	tcase_add_test(tc, test_range_errors);
	tcase_add_test(tc, test_enum_errors);
	tcase_add_test(tc, test_structure_errors);
	tcase_add_test(tc, test_yaml_errors);
	tcase_add_test(tc, test_dependent_errors);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_merge_precedence);
	tcase_add_test(tc, test_merge_strings);
	tcase_add_test(tc, test_derived);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_env_config_path);
	tcase_add_test(tc, test_ignored_keys_warn);
	tcase_add_test(tc, test_print_defaults_reloads);
	tcase_add_test(tc, test_print_reloads);
	tcase_add_test(tc, test_reference);
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
