/*
 * kdlease — runs one lease manager (lease/) for a stream and a lease
 * table, as one worker, so the lease integration tests can watch several
 * workers share a stream before the consumer exists.
 *
 *   kdlease [-v] [-C] [-f failover_ms] [-T taker_ms] [-S sync_ms]
 *           [-P parent_poll_ms] [-c checkpoint_ms] [-b backoff_ms]
 *           [-m max_leases] [-x max_steal] [-i initial] [-t table]
 *           -s stream -w worker
 *   kdlease -l -t table          print the table (lease_list) and exit
 *
 * Prints one line per event on stdout:
 *   acquired SHARD CHECKPOINT SUBSEQ COUNTER
 *   lost SHARD
 * and reads commands from stdin, one per line:
 *   checkpoint SHARD SEQ SUBSEQ   (lease_checkpoint_set; no output)
 *   flush SHARD                   -> flushed SHARD ok|failed
 *   end SHARD [CHILD ...]         -> ended SHARD ok|failed
 *   release SHARD                 -> released SHARD ok|failed
 *   held                          -> held N SHARD,SHARD,...
 *   list                          -> lease SHARD OWNER COUNTER CP SUBSEQ
 *                                    ... then listed N
 *   stop                          -> stopped ok|failed, exit
 * SIGTERM and SIGINT stop the same way (leases released); end of input
 * only stops reading.  Endpoints come from AWS_ENDPOINT_URL_KINESIS and
 * AWS_ENDPOINT_URL_DYNAMODB (else AWS_ENDPOINT_URL).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"
#include "kinesis/kinesis.h"
#include "lease/lease.h"
#include "log/log.h"

#define MAX_SHARDS 1024

struct kdlease {
	struct event_base *base;
	struct lease_manager *m;
	char *shards[MAX_SHARDS]; /* ever acquired, for `held` */
	size_t n_shards;
	char line[8192];
	size_t len;
	int stopping;
	int status;
};

struct kdlease_op {
	struct kdlease *kd;
	char verb[16];
	char shard[256];
};

static void
kdlease_usage(void)
{
	fprintf(stderr,
	    "usage: kdlease [-v] [-C] [-f failover_ms] [-T taker_ms] "
	    "[-S sync_ms]\n"
	    "               [-P parent_poll_ms] [-c checkpoint_ms] "
	    "[-b backoff_ms]\n"
	    "               [-m max_leases] [-x max_steal] [-i initial] "
	    "[-t table]\n"
	    "               -s stream -w worker\n"
	    "       kdlease -l -t table\n");
	exit(2);
}

static void
kdlease_acquired(const struct lease_info *info, void *arg)
{
	struct kdlease *kd = arg;
	size_t i;

	printf("acquired %s %s %llu %llu\n", info->shard_id, info->checkpoint,
	    (unsigned long long)info->checkpoint_subseq,
	    (unsigned long long)info->counter);
	for (i = 0; i < kd->n_shards; i++)
		if (strcmp(kd->shards[i], info->shard_id) == 0)
			return;
	if (kd->n_shards < MAX_SHARDS &&
	    (kd->shards[kd->n_shards] = strdup(info->shard_id)) != NULL)
		kd->n_shards++;
}

static void
kdlease_lost(const char *shard_id, void *arg)
{
	(void)arg;
	printf("lost %s\n", shard_id);
}

static void
kdlease_stopped(int ok, void *arg)
{
	struct kdlease *kd = arg;

	printf("stopped %s\n", ok ? "ok" : "failed");
	kd->status = ok ? 0 : 1;
	event_base_loopexit(kd->base, NULL);
}

static void
kdlease_stop(struct kdlease *kd)
{
	if (kd->stopping)
		return;
	kd->stopping = 1;
	lease_manager_stop(kd->m, kdlease_stopped, kd);
}

static void
kdlease_op_done(int ok, void *arg)
{
	struct kdlease_op *op = arg;

	printf("%s %s %s\n", op->verb, op->shard, ok ? "ok" : "failed");
	free(op);
}

static struct kdlease_op *
kdlease_op_new(struct kdlease *kd, const char *verb, const char *shard)
{
	struct kdlease_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		fprintf(stderr, "kdlease: out of memory\n");
		exit(2);
	}
	op->kd = kd;
	snprintf(op->verb, sizeof(op->verb), "%s", verb);
	snprintf(op->shard, sizeof(op->shard), "%s", shard);
	return op;
}

static int
kdlease_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
kdlease_held(struct kdlease *kd)
{
	const char *held[MAX_SHARDS];
	size_t i, n = 0;

	for (i = 0; i < kd->n_shards; i++)
		if (lease_is_held(kd->m, kd->shards[i]))
			held[n++] = kd->shards[i];
	qsort(held, n, sizeof(*held), kdlease_cmp);
	printf("held %zu ", n);
	for (i = 0; i < n; i++)
		printf("%s%s", i > 0 ? "," : "", held[i]);
	printf("\n");
}

static void
kdlease_listed(const struct lease_info *l, size_t n, const char *err, void *arg)
{
	struct kdlease *kd = arg;
	size_t i;

	if (err != NULL) {
		printf("listed error %s\n", err);
		kd->status = 1;
	}
	for (i = 0; i < n; i++)
		printf("lease %s %s %llu %s %llu\n", l[i].shard_id,
		    l[i].owner != NULL ? l[i].owner : "-",
		    (unsigned long long)l[i].counter,
		    l[i].checkpoint != NULL ? l[i].checkpoint : "-",
		    (unsigned long long)l[i].checkpoint_subseq);
	if (err == NULL)
		printf("listed %zu\n", n);
	/* -l: one list, then exit. */
	if (kd->stopping)
		event_base_loopexit(kd->base, NULL);
}

static void
kdlease_command(struct kdlease *kd, char *line)
{
	char *argv[64], *save = NULL, *tok;
	int argc = 0;

	for (tok = strtok_r(line, " \t\r", &save); tok != NULL && argc < 64;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (strcmp(argv[0], "checkpoint") == 0 && argc == 4) {
		lease_checkpoint_set(
		    kd->m, argv[1], argv[2], strtoull(argv[3], NULL, 10));
	} else if (strcmp(argv[0], "flush") == 0 && argc == 2) {
		lease_checkpoint_flush(kd->m, argv[1], kdlease_op_done,
		    kdlease_op_new(kd, "flushed", argv[1]));
	} else if (strcmp(argv[0], "end") == 0 && argc >= 2) {
		lease_shard_end(kd->m, argv[1], (const char *const *)argv + 2,
		    (size_t)argc - 2, kdlease_op_done,
		    kdlease_op_new(kd, "ended", argv[1]));
	} else if (strcmp(argv[0], "release") == 0 && argc == 2) {
		lease_release(kd->m, argv[1], kdlease_op_done,
		    kdlease_op_new(kd, "released", argv[1]));
	} else if (strcmp(argv[0], "held") == 0) {
		kdlease_held(kd);
	} else if (strcmp(argv[0], "list") == 0) {
		lease_list(kd->m, kdlease_listed, kd);
	} else if (strcmp(argv[0], "stop") == 0) {
		kdlease_stop(kd);
	} else {
		printf("error unknown command %s\n", argv[0]);
	}
}

static void
kdlease_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct kdlease *kd = arg;
	struct event *self = event_base_get_running_event(kd->base);
	ssize_t n;
	char *nl;

	(void)what;
	n = read(fd, kd->line + kd->len, sizeof(kd->line) - 1 - kd->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* End of input: keep running until stop or a signal. */
		event_del(self);
		return;
	}
	kd->len += (size_t)n;
	kd->line[kd->len] = '\0';
	while ((nl = strchr(kd->line, '\n')) != NULL) {
		*nl = '\0';
		kdlease_command(kd, kd->line);
		kd->len -= (size_t)(nl + 1 - kd->line);
		memmove(kd->line, nl + 1, kd->len + 1);
	}
	if (kd->len == sizeof(kd->line) - 1)
		kd->len = 0; /* an overlong line: dropped */
}

static void
kdlease_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	kdlease_stop(arg);
}

static const char *
kdlease_env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((v == NULL || *v == '\0') && b != NULL)
		v = getenv(b);
	return v != NULL && *v != '\0' ? v : NULL;
}

int
main(int argc, char **argv)
{
	struct aws_client_opts ko, dopts;
	struct aws_credentials *creds = NULL;
	struct aws_http *http = NULL;
	struct kinesis *k = NULL;
	struct dynamo *d = NULL;
	struct lease_opts o;
	struct lease_events ev;
	struct event *sigterm = NULL, *sigint = NULL, *in = NULL;
	struct kdlease kd;
	const char *region;
	char table[512], *cause = NULL;
	int c, list_only = 0;
	size_t i;

	memset(&kd, 0, sizeof(kd));
	memset(&o, 0, sizeof(o));
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	o.initial_checkpoint = LEASE_TRIM_HORIZON;
	o.failover_time_millis = 3000;
	o.shard_sync_interval_millis = 60000;
	o.max_leases_for_worker = 2147483647;
	o.max_leases_to_steal_at_one_time = 1;
	o.parent_shard_poll_interval_millis = 10000;
	o.checkpoint_interval_millis = 1000;
	o.checkpoint_backoff_millis = 3000;
	while ((c = getopt(argc, argv, "b:c:Cf:i:lm:P:s:S:t:T:vw:x:")) != -1) {
		switch (c) {
		case 'b':
			o.checkpoint_backoff_millis =
			    strtoull(optarg, NULL, 10);
			break;
		case 'c':
			o.checkpoint_interval_millis =
			    strtoull(optarg, NULL, 10);
			break;
		case 'C':
			o.cleanup_leases_upon_shard_completion = 1;
			break;
		case 'f':
			o.failover_time_millis = strtoull(optarg, NULL, 10);
			break;
		case 'i':
			o.initial_checkpoint = optarg;
			break;
		case 'l':
			list_only = 1;
			break;
		case 'm':
			o.max_leases_for_worker = strtoull(optarg, NULL, 10);
			break;
		case 'P':
			o.parent_shard_poll_interval_millis =
			    strtoull(optarg, NULL, 10);
			break;
		case 's':
			o.stream = optarg;
			break;
		case 'S':
			o.shard_sync_interval_millis =
			    strtoull(optarg, NULL, 10);
			break;
		case 't':
			o.table = optarg;
			break;
		case 'T':
			o.taker_interval_millis = strtoull(optarg, NULL, 10);
			break;
		case 'v':
			log_set_level(log_enabled(LOG_LEVEL_DEBUG)
			                  ? LOG_LEVEL_TRACE
			                  : LOG_LEVEL_DEBUG);
			break;
		case 'w':
			o.worker_id = optarg;
			break;
		case 'x':
			o.max_leases_to_steal_at_one_time =
			    strtoull(optarg, NULL, 10);
			break;
		default:
			kdlease_usage();
		}
	}
	if (optind != argc)
		kdlease_usage();
	if (list_only) {
		log_set_level(LOG_LEVEL_WARN);
		if (o.table == NULL)
			kdlease_usage();
		if (o.stream == NULL)
			o.stream = "-";
		if (o.worker_id == NULL)
			o.worker_id = "kdlease-list";
	}
	if (o.stream == NULL || o.worker_id == NULL)
		kdlease_usage();
	if (o.table == NULL) {
		snprintf(table, sizeof(table), "kdlease-%s", o.stream);
		o.table = table;
	}

	region = kdlease_env("AWS_REGION", "AWS_DEFAULT_REGION");
	memset(&ko, 0, sizeof(ko));
	ko.verify_certificate = 1;
	ko.region = region != NULL ? region : "us-east-1";
	dopts = ko;
	ko.endpoint =
	    kdlease_env("AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL");
	dopts.endpoint =
	    kdlease_env("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL");
	memset(&ev, 0, sizeof(ev));
	ev.acquired = kdlease_acquired;
	ev.lost = kdlease_lost;
	ev.arg = &kd;
	if ((kd.base = event_base_new()) == NULL ||
	    (http = aws_http_new(kd.base, &cause)) == NULL ||
	    (creds = aws_credentials_new(kd.base, http)) == NULL ||
	    (k = kinesis_new(http, creds, NULL, &ko, &cause)) == NULL ||
	    (d = dynamo_new(http, creds, NULL, &dopts, &cause)) == NULL ||
	    (kd.m = lease_manager_new(kd.base, d, k, NULL, &o, &ev, &cause)) ==
	        NULL) {
		fprintf(stderr, "kdlease: %s\n",
		    cause != NULL ? cause : "out of memory");
		return 2;
	}
	if (list_only) {
		kd.stopping = 1;
		lease_list(kd.m, kdlease_listed, &kd);
	} else {
		if ((sigterm = evsignal_new(
		         kd.base, SIGTERM, kdlease_signal, &kd)) == NULL ||
		    (sigint = evsignal_new(
		         kd.base, SIGINT, kdlease_signal, &kd)) == NULL ||
		    (in = event_new(kd.base, 0, EV_READ | EV_PERSIST,
		         kdlease_stdin, &kd)) == NULL ||
		    event_add(sigterm, NULL) != 0 ||
		    event_add(sigint, NULL) != 0 || event_add(in, NULL) != 0) {
			fprintf(
			    stderr, "kdlease: cannot watch signals/stdin\n");
			return 2;
		}
		lease_manager_start(kd.m);
	}
	event_base_dispatch(kd.base);

	lease_manager_free(kd.m);
	if (in != NULL)
		event_free(in);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	dynamo_free(d);
	kinesis_free(k);
	aws_credentials_free(creds);
	aws_http_free(http);
	event_base_free(kd.base);
	for (i = 0; i < kd.n_shards; i++)
		free(kd.shards[i]);
	return kd.status;
}
