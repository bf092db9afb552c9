/*
 * live_check.c — libkinesisd against a running kinesisd (and kinesalite
 * and dynalite behind it), for tests/integration/t_client_c.sh, which
 * builds it plain (run under valgrind) and with ASan+UBSan.
 *
 *   live_check roundtrip PRODUCER CONSUMER N
 *   live_check failures GONE_PRODUCER
 *   live_check consumer_failure PRODUCER CONSUMER
 *   live_check restart PRODUCER CONSUMER N READY_FILE GO_FILE
 *
 * The socket is $KINESISD_SOCKET.  Exit 0 when every check held; each
 * failed check is said on stderr.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kinesisd.h"

#define TIMEOUT_MS 30000

static int failures;

static void
check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	failures++;
	fprintf(stderr, "live_check: FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct kinesisd *
connect_or_die(void)
{
	struct kinesisd *k = kinesisd_new(NULL);

	if (k == NULL || kinesisd_connect(k, NULL, 10000) != KINESISD_OK) {
		fprintf(
		    stderr, "live_check: connect: %s\n", kinesisd_errmsg(k));
		exit(1);
	}
	return k;
}

/* Record i's key and data: every byte value, lengths 1 to 300. */
static void
record(int i, char *key, size_t keysz, unsigned char *data, size_t *len)
{
	snprintf(key, keysz, "key-%d", i);
	*len = (size_t)(i % 300) + 1;
	for (size_t j = 0; j < *len; j++)
		data[j] = (unsigned char)(i * 7 + (int)j);
}

/* ---- roundtrip ----------------------------------------------------------- */

struct rt {
	int n;
	int *seen; /* per record: times received */
	int puts_ok, puts_failed;
	int records, dups, bad;
	struct kinesisd *k;
};

static void
on_put(const struct kinesisd_put_result *res, void *arg)
{
	struct rt *rt = arg;

	if (res->status == KINESISD_OK && res->seq[0] != '\0' &&
	    strncmp(res->shard, "shardId-", 8) == 0)
		rt->puts_ok++;
	else {
		rt->puts_failed++;
		fprintf(stderr, "live_check: put: %s %s %s\n",
		    kinesisd_strerror(res->status), res->error, res->message);
	}
}

static void
on_ehk_put(const struct kinesisd_put_result *res, void *arg)
{
	on_put(res, arg);
	check(res->status != KINESISD_OK ||
	          strcmp(res->shard, "shardId-000000000000") == 0,
	    "ehk 0 went to %s", res->shard);
}

/* The event callback of the consuming half: checks and acks. */
static void
on_event(struct kinesisd_event *ev, void *arg)
{
	struct rt *rt = arg;
	unsigned char want[300];
	char key[32];
	size_t len;
	int i;

	if (ev->type == KINESISD_EV_RECORD) {
		if (sscanf(ev->key, "key-%d", &i) != 1 || i < 0 || i >= rt->n) {
			rt->bad++;
			fprintf(
			    stderr, "live_check: stray record %s\n", ev->key);
		} else {
			record(i, key, sizeof(key), want, &len);
			if (ev->data_len != len ||
			    memcmp(ev->data, want, len) != 0) {
				rt->bad++;
				fprintf(stderr, "live_check: %s: wrong data\n",
				    ev->key);
			}
			if (rt->seen[i]++ > 0)
				rt->dups++;
			else
				rt->records++;
		}
		check(kinesisd_ack(rt->k, ev) == KINESISD_OK, "ack: %s",
		    kinesisd_errmsg(rt->k));
	} else if (ev->type == KINESISD_EV_ERROR) {
		check(0, "error event: %s: %s", ev->error, ev->message);
	}
	kinesisd_event_free(ev);
}

static int
roundtrip(const char *producer, const char *consumer, int n)
{
	struct rt rt = {.n = n};
	struct kinesisd_put_result res;
	unsigned char data[300];
	char key[32];
	size_t len;
	int waited = 0, forgotten = 0;

	rt.seen = calloc((size_t)n, sizeof(*rt.seen));
	rt.k = connect_or_die();
	if (rt.seen == NULL)
		return 1;
	/* Four ways to put, in turn. */
	for (int i = 0; i < n; i++) {
		int rc;

		record(i, key, sizeof(key), data, &len);
		switch (i % 4) {
		case 0:
			rc = kinesisd_put(
			    rt.k, producer, key, data, len, on_put, &rt);
			break;
		case 1:
			rc = kinesisd_put_wait(
			    rt.k, producer, key, data, len, TIMEOUT_MS, &res);
			check(rc != KINESISD_OK || res.seq[0] != '\0',
			    "put_wait without seq");
			waited += rc == KINESISD_OK;
			break;
		case 2:
			rc =
			    kinesisd_put_forget(rt.k, producer, key, data, len);
			forgotten += rc == KINESISD_OK;
			break;
		default:
			rc = kinesisd_put_ehk(rt.k, producer, key, "0", data,
			    len, on_ehk_put, &rt);
			break;
		}
		check(
		    rc == KINESISD_OK, "put %d: %s", i, kinesisd_errmsg(rt.k));
	}
	check(kinesisd_flush(rt.k, producer, TIMEOUT_MS) == KINESISD_OK,
	    "flush: %s", kinesisd_errmsg(rt.k));
	check(rt.puts_ok + waited + forgotten == n && rt.puts_failed == 0,
	    "%d put ok, %d waited, %d forgotten, %d failed of %d", rt.puts_ok,
	    waited, forgotten, rt.puts_failed, n);
	check(kinesisd_pending(rt.k) == 0, "requests still pending");

	/* Read them back, in an event loop of our own. */
	kinesisd_set_event_cb(rt.k, on_event, &rt);
	check(
	    kinesisd_subscribe(rt.k, consumer, 100, TIMEOUT_MS) == KINESISD_OK,
	    "subscribe: %s", kinesisd_errmsg(rt.k));
	for (int idle = 0; rt.records < n && idle < 60;) {
		struct pollfd pfd = {
		    .fd = kinesisd_fd(rt.k), .events = kinesisd_want(rt.k)};
		int r = poll(&pfd, 1, 1000);

		idle = r == 0 ? idle + 1 : 0;
		if (kinesisd_process(rt.k, r > 0 ? pfd.revents : 0) !=
		    KINESISD_OK) {
			check(0, "process: %s", kinesisd_errmsg(rt.k));
			break;
		}
	}
	check(rt.records == n, "%d of %d records came back", rt.records, n);
	check(rt.bad == 0, "%d bad records", rt.bad);
	check(kinesisd_unsubscribe(rt.k, consumer, TIMEOUT_MS) == KINESISD_OK,
	    "unsubscribe: %s", kinesisd_errmsg(rt.k));
	fprintf(stderr, "live_check: roundtrip: %d records, %d duplicates\n",
	    rt.records, rt.dups);
	kinesisd_free(rt.k);
	free(rt.seen);
	return failures > 0;
}

/* ---- failures ------------------------------------------------------------ */

static int
failures_check(const char *gone)
{
	struct kinesisd *k = connect_or_die();
	struct kinesisd_put_result res;
	struct kinesisd_hello *h = NULL;
	struct kinesisd_event *ev;
	int rc;

	check(kinesisd_ping(k, TIMEOUT_MS) == KINESISD_OK, "ping: %s",
	    kinesisd_errmsg(k));
	rc = kinesisd_hello(k, TIMEOUT_MS, &h);
	check(rc == KINESISD_OK && h->version == 1 &&
	          strncmp(h->server, "kinesisd/", 9) == 0 && h->n_producers > 0,
	    "hello: %s", kinesisd_errmsg(k));
	kinesisd_hello_free(h);

	/* The stream does not exist: Kinesis's error comes back. */
	rc = kinesisd_put_wait(k, gone, "k", "x", 1, 60000, &res);
	check(rc == KINESISD_ERR_PUT_FAILED &&
	          strcmp(res.error, "ResourceNotFoundException") == 0,
	    "put to a missing stream: %s %s %s", kinesisd_strerror(rc),
	    res.error, res.message);
	/* Refusals: with an id, as the result; without, as an event. */
	rc = kinesisd_put_wait(
	    k, "no-such-producer", "k", "x", 1, TIMEOUT_MS, &res);
	check(rc == KINESISD_ERR_REFUSED &&
	          strcmp(res.error, "unknown_producer") == 0 &&
	          strstr(res.message, "no-such-producer") != NULL,
	    "unknown producer: %s %s", kinesisd_strerror(rc), res.error);
	check(kinesisd_put_forget(k, "no-such-producer", "k", "x", 1) ==
	          KINESISD_OK,
	    "put_forget");
	check(kinesisd_ping(k, TIMEOUT_MS) == KINESISD_OK, "ping 2");
	rc = kinesisd_next_event(k, TIMEOUT_MS, &ev);
	check(rc == KINESISD_OK && ev->type == KINESISD_EV_ERROR &&
	          strcmp(ev->error, "unknown_producer") == 0,
	    "refused fire-and-forget put: no error event");
	kinesisd_event_free(ev);
	rc = kinesisd_subscribe(k, "no-such-consumer", 0, TIMEOUT_MS);
	check(rc == KINESISD_ERR_REFUSED &&
	          strstr(kinesisd_errmsg(k), "unknown_consumer") != NULL,
	    "subscribe to an unknown consumer: %s: %s", kinesisd_strerror(rc),
	    kinesisd_errmsg(k));
	rc = kinesisd_flush(k, "no-such-producer", TIMEOUT_MS);
	check(rc == KINESISD_ERR_REFUSED, "flush of an unknown producer: %s",
	    kinesisd_strerror(rc));
	/* The connection goes on after all of that. */
	check(kinesisd_ping(k, TIMEOUT_MS) == KINESISD_OK, "ping 3");
	kinesisd_free(k);
	return failures > 0;
}

/* ---- consumer_failure ---------------------------------------------------- */

static int
consumer_failure(const char *producer, const char *consumer)
{
	struct kinesisd *k = connect_or_die();
	struct kinesisd_put_result res;
	char held_seq[129] = "";
	int got_failure = 0;

	for (int i = 0; i < 5; i++) {
		char key[32], data[32];
		snprintf(key, sizeof(key), "f-%d", i);
		snprintf(data, sizeof(data), "f-data-%d", i);
		check(kinesisd_put_wait(k, producer, key, data, strlen(data),
		          TIMEOUT_MS, &res) == KINESISD_OK,
		    "put %s: %s", key, kinesisd_errmsg(k));
	}
	check(kinesisd_subscribe(k, consumer, 0, TIMEOUT_MS) == KINESISD_OK,
	    "subscribe: %s", kinesisd_errmsg(k));
	/* f-2 is never acked: the batch fails (tolerance 0). */
	while (!got_failure) {
		struct kinesisd_event *ev;
		int rc = kinesisd_next_event(k, 60000, &ev);

		if (rc != KINESISD_OK) {
			check(0, "no consumer_failure: %s", kinesisd_errmsg(k));
			break;
		}
		if (ev->type == KINESISD_EV_RECORD) {
			if (strcmp(ev->key, "f-2") == 0)
				snprintf(
				    held_seq, sizeof(held_seq), "%s", ev->seq);
			else
				kinesisd_ack(k, ev);
		} else if (ev->type == KINESISD_EV_CONSUMER_FAILURE) {
			int listed = 0;
			got_failure = 1;
			for (size_t i = 0; i < ev->n_failed; i++)
				listed |=
				    strcmp(ev->failed[i].seq, held_seq) == 0;
			check(listed && ev->n_failed == 1,
			    "consumer_failure lists %zu records, not f-2",
			    ev->n_failed);
			check(strcmp(ev->consumer, consumer) == 0 &&
			          ev->shard != NULL,
			    "consumer_failure fields");
		}
		kinesisd_event_free(ev);
	}
	kinesisd_free(k);
	return failures > 0;
}

/* ---- restart
 * ------------------------------------------------------------------ */

static void
await_file(const char *path)
{
	for (int i = 0; access(path, F_OK) != 0; i++) {
		if (i > 1200) {
			fprintf(stderr, "live_check: %s never came\n", path);
			exit(1);
		}
		usleep(100000);
	}
}

/* Receives until every record below n is seen; counts events. */
static void
consume_until(struct kinesisd *k, int *seen, int n, int *shutdowns, int *closed)
{
	int have = 0;

	for (int i = 0; i < n; i++)
		have += seen[i] > 0;
	while (have < n) {
		struct kinesisd_event *ev;
		int rc = kinesisd_next_event(k, 60000, &ev), i;

		if (rc == KINESISD_ERR_CLOSED) {
			(*closed)++;
			rc = kinesisd_reconnect(k, 60000);
			check(rc == KINESISD_OK, "consumer reconnect: %s",
			    kinesisd_errmsg(k));
			if (rc != KINESISD_OK)
				return;
			continue;
		}
		if (rc != KINESISD_OK) {
			check(0, "consumer: %s (%d of %d)", kinesisd_errmsg(k),
			    have, n);
			return;
		}
		if (ev->type == KINESISD_EV_RECORD &&
		    sscanf(ev->key, "r-%d", &i) == 1 && i >= 0 && i < n) {
			have += seen[i]++ == 0;
			kinesisd_ack(k, ev);
		} else if (ev->type == KINESISD_EV_CONSUMER_SHUTDOWN ||
		           ev->type == KINESISD_EV_SHUTDOWN) {
			(*shutdowns)++;
		}
		kinesisd_event_free(ev);
	}
}

static int
restart(const char *producer, const char *consumer, int n, const char *ready,
    const char *go)
{
	struct kinesisd *kp = connect_or_die(), *kc = connect_or_die();
	struct kinesisd_put_result res;
	int *seen = calloc((size_t)n * 2, sizeof(int));
	int shutdowns = 0, closed = 0, rc;
	FILE *f;

	if (seen == NULL)
		return 1;
	check(kinesisd_subscribe(kc, consumer, 0, TIMEOUT_MS) == KINESISD_OK,
	    "subscribe: %s", kinesisd_errmsg(kc));
	for (int i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "r-%d", i);
		check(kinesisd_put_wait(kp, producer, key, key, strlen(key),
		          TIMEOUT_MS, &res) == KINESISD_OK,
		    "put %s: %s", key, kinesisd_errmsg(kp));
	}
	consume_until(kc, seen, n, &shutdowns, &closed);
	check(closed == 0, "closed before the restart");

	/* The test restarts kinesisd now. */
	if ((f = fopen(ready, "w")) != NULL)
		fclose(f);
	await_file(go);

	/* The producer's connection is gone: the put says so... */
	rc = kinesisd_put_wait(kp, producer, "r-x", "x", 1, TIMEOUT_MS, &res);
	check(rc == KINESISD_ERR_CLOSED &&
	          strcmp(res.error, "connection_lost") == 0,
	    "put after the restart: %s %s", kinesisd_strerror(rc), res.error);
	/* ...and works again on a new connection. */
	check(kinesisd_reconnect(kp, 60000) == KINESISD_OK,
	    "producer reconnect: %s", kinesisd_errmsg(kp));
	for (int i = n; i < 2 * n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "r-%d", i);
		check(kinesisd_put_wait(kp, producer, key, key, strlen(key),
		          TIMEOUT_MS, &res) == KINESISD_OK,
		    "put %s after reconnect: %s", key, kinesisd_errmsg(kp));
	}
	/* The consumer sees the graceful shutdown, reconnects, subscribes
	 * again and gets the records put after the restart. */
	consume_until(kc, seen, 2 * n, &shutdowns, &closed);
	check(closed == 1, "consumer saw %d closes", closed);
	check(shutdowns >= 2, "consumer saw %d shutdown events", shutdowns);
	fprintf(stderr, "live_check: restart: %d shutdown events, %d close\n",
	    shutdowns, closed);
	kinesisd_free(kp);
	kinesisd_free(kc);
	free(seen);
	return failures > 0;
}

int
main(int argc, char **argv)
{
	int rc = 64;

	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "roundtrip") == 0)
		rc = roundtrip(argv[2], argv[3], atoi(argv[4]));
	else if (argc == 3 && strcmp(argv[1], "failures") == 0)
		rc = failures_check(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "consumer_failure") == 0)
		rc = consumer_failure(argv[2], argv[3]);
	else if (argc == 7 && strcmp(argv[1], "restart") == 0)
		rc = restart(argv[2], argv[3], atoi(argv[4]), argv[5], argv[6]);
	else
		fprintf(stderr, "usage: live_check roundtrip|failures|"
		                "consumer_failure|restart ...\n");
	if (rc == 0)
		fprintf(stderr, "live_check: %s ok\n", argv[1]);
	return rc;
}
