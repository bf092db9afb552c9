/*
 * event_processor.c — reactive-kinesis's "Event Processor" for kinesisd,
 * in C: receives every record of a consumer, processes it and acks it
 * (EventProcessed), skips records whose data starts with "skip"
 * (EventProcessed with successful = false), and handles the consumer's
 * failure (ConsumerWorkerFailure) and shutdown (ConsumerShutdown) events.
 * When kinesisd restarts it reconnects and subscribes again.
 *
 *   event_processor [-n COUNT] [-t SECONDS] [CONSUMER]
 *
 * CONSUMER defaults to demo-consumer; the socket is $KINESISD_SOCKET, else
 * /run/kinesisd/kinesisd.sock.  Stops after COUNT records, after SECONDS
 * without any event (exit 1), or on SIGINT/SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX: getopt, getline, sigaction */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kinesisd.h>

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* "Do some processing here": print the record. */
static int
process(const struct kinesisd_event *rec)
{
	printf("%s %s/%llu key=%s data=%.*s\n", rec->shard, rec->seq,
	    (unsigned long long)rec->subseq, rec->key, (int)rec->data_len,
	    (const char *)rec->data);
	return strncmp((const char *)rec->data, "skip", 4) != 0;
}

int
main(int argc, char **argv)
{
	const char *consumer = "demo-consumer";
	long count = 0, idle_s = 0, done = 0, idle_ms = 0;
	struct sigaction sa;
	struct kinesisd *k;
	int c, rc, status = 0;

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		if (c == 'n')
			count = atol(optarg);
		else if (c == 't')
			idle_s = atol(optarg);
		else {
			fprintf(stderr, "usage: event_processor [-n COUNT] "
			                "[-t SECONDS] [CONSUMER]\n");
			return 64;
		}
	}
	if (optind < argc)
		consumer = argv[optind];
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((k = kinesisd_new(NULL)) == NULL ||
	    kinesisd_connect(k, NULL, 10000) != KINESISD_OK ||
	    kinesisd_subscribe(k, consumer, 0, 10000) != KINESISD_OK) {
		fprintf(stderr, "event_processor: %s\n", kinesisd_errmsg(k));
		kinesisd_free(k);
		return 1;
	}
	fprintf(stderr, "event_processor: subscribed to %s\n", consumer);

	while (!stopping && (count == 0 || done < count)) {
		struct kinesisd_event *ev;

		rc = kinesisd_next_event(k, 1000, &ev);
		if (rc == KINESISD_ERR_TIMEOUT) {
			idle_ms += 1000;
			if (idle_s > 0 && idle_ms >= idle_s * 1000) {
				fprintf(stderr,
				    "event_processor: nothing for "
				    "%ld s, %ld records\n",
				    idle_s, done);
				status = 1;
				break;
			}
			continue;
		}
		idle_ms = 0;
		if (rc == KINESISD_ERR_CLOSED) {
			/* kinesisd restarts: unacked records come again. */
			fprintf(stderr, "event_processor: %s\n",
			    kinesisd_errmsg(k));
			if (kinesisd_reconnect(k, 60000) != KINESISD_OK) {
				fprintf(stderr, "event_processor: %s\n",
				    kinesisd_errmsg(k));
				status = 1;
				break;
			}
			fprintf(stderr, "event_processor: reconnected\n");
			continue;
		}
		if (rc != KINESISD_OK) {
			fprintf(stderr, "event_processor: %s\n",
			    kinesisd_errmsg(k));
			status = 1;
			break;
		}
		switch (ev->type) {
		case KINESISD_EV_RECORD:
			if (process(ev))
				rc = kinesisd_ack(k, ev);
			else
				rc = kinesisd_skip(k, ev);
			if (rc != KINESISD_OK)
				fprintf(stderr, "event_processor: ack: %s\n",
				    kinesisd_errmsg(k));
			done++;
			break;
		case KINESISD_EV_CONSUMER_FAILURE:
			/* No more records of this shard will come here:
			 * depending on the service this may be critical. */
			fprintf(stderr,
			    "event_processor: consumer failure on "
			    "%s: %zu records unconfirmed, the shard "
			    "stopped here\n",
			    ev->shard, ev->n_failed);
			for (size_t i = 0; i < ev->n_failed; i++)
				fprintf(stderr, "  failed %s/%llu\n",
				    ev->failed[i].seq,
				    (unsigned long long)ev->failed[i].subseq);
			break;
		case KINESISD_EV_CONSUMER_SHUTDOWN:
			fprintf(stderr,
			    "event_processor: shard %s shut down "
			    "gracefully\n",
			    ev->shard);
			break;
		case KINESISD_EV_SHARD_STARTED:
		case KINESISD_EV_SHARD_LOST:
		case KINESISD_EV_SHARD_ENDED:
			fprintf(stderr, "event_processor: %s %s\n", ev->op,
			    ev->shard);
			break;
		case KINESISD_EV_SHUTDOWN:
			fprintf(stderr,
			    "event_processor: kinesisd is shutting "
			    "down (%s)\n",
			    ev->reason != NULL ? ev->reason : "?");
			break;
		case KINESISD_EV_ERROR:
			fprintf(stderr, "event_processor: refused: %s: %s\n",
			    ev->error, ev->message);
			break;
		default:
			break;
		}
		kinesisd_event_free(ev);
	}
	/* Unsubscribing also waits until every ack is written. */
	if (kinesisd_is_connected(k))
		kinesisd_unsubscribe(k, consumer, 5000);
	fprintf(stderr, "event_processor: %ld records processed\n", done);
	kinesisd_free(k);
	return status;
}
