/*
 * producer.c — reactive-kinesis's "SendWithCallback" producer for
 * kinesisd, in C: sends records each with a message id and a callback,
 * and reports "Successfully sent <id>" (SendSuccessful) or "Failed to send
 * <id>" (SendFailed) as each result comes.  The results are awaited in a
 * poll(2) loop, as an application with its own event loop (libevent,
 * epoll) would: kinesisd_fd(), kinesisd_want(), kinesisd_process().
 *
 *   producer [-n COUNT] [PRODUCER]
 *
 * Sends COUNT records (default 10) through PRODUCER (default
 * demo-producer); the socket is $KINESISD_SOCKET, else
 * /run/kinesisd/kinesisd.sock.  Exit 0 when every record was sent.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX: getopt, getline, sigaction */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <kinesisd.h>

struct send {
	char message_id[37]; /* a random UUID */
	long *ok, *failed;
};

static void
uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		memset(b, 0, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
}

/* The callback: runs once per record, inside kinesisd_process(). */
static void
on_result(const struct kinesisd_put_result *res, void *arg)
{
	struct send *s = arg;

	if (res->status == KINESISD_OK) {
		printf("Successfully sent %s (%s %s/%llu)\n", s->message_id,
		    res->shard, res->seq, (unsigned long long)res->subseq);
		(*s->ok)++;
	} else {
		printf("Failed to send %s, cause: %s: %s\n", s->message_id,
		    res->error, res->message);
		(*s->failed)++;
	}
}

int
main(int argc, char **argv)
{
	const char *producer = "demo-producer";
	long count = 10, ok = 0, failed = 0;
	struct send *sends = NULL;
	struct kinesisd *k;
	int c, status = 1;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n') {
			fprintf(stderr, "usage: producer [-n COUNT] "
			                "[PRODUCER]\n");
			return 64;
		}
		count = atol(optarg);
	}
	if (optind < argc)
		producer = argv[optind];
	if (count < 1 ||
	    (sends = calloc((size_t)count, sizeof(*sends))) == NULL)
		return 64;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((k = kinesisd_new(NULL)) == NULL ||
	    kinesisd_connect(k, NULL, 10000) != KINESISD_OK) {
		fprintf(stderr, "producer: %s\n", kinesisd_errmsg(k));
		goto out;
	}
	for (long i = 0; i < count; i++) {
		char payload[64];

		uuid(sends[i].message_id);
		sends[i].ok = &ok;
		sends[i].failed = &failed;
		snprintf(payload, sizeof(payload), "{Some Payload %ld}", i);
		/* The key: a random one, as ProducerEvent(UUID, payload). */
		if (kinesisd_put(k, producer, sends[i].message_id, payload,
		        strlen(payload), on_result, &sends[i]) != KINESISD_OK) {
			fprintf(stderr, "producer: %s\n", kinesisd_errmsg(k));
			goto out;
		}
	}
	/* The application's event loop, until every result is in. */
	while (ok + failed < count) {
		struct pollfd pfd = {
		    .fd = kinesisd_fd(k), .events = kinesisd_want(k)};

		if (poll(&pfd, 1, 60000) <= 0) {
			fprintf(stderr, "producer: no result for 60 s\n");
			goto out;
		}
		if (kinesisd_process(k, pfd.revents) != KINESISD_OK) {
			/* Lost: the callbacks left ran with
			 * KINESISD_ERR_CLOSED. */
			fprintf(stderr, "producer: %s\n", kinesisd_errmsg(k));
			break;
		}
	}
	fprintf(stderr, "producer: %ld sent, %ld failed\n", ok, failed);
	status = ok == count ? 0 : 1;
out:
	kinesisd_free(k);
	free(sends);
	return status;
}
