/*
 * fire_and_forget.c — reactive-kinesis's "Send" (fire and forget) for
 * kinesisd, in C: one record per line of standard input, no result asked
 * for.  At the end, kinesisd_flush() waits until kinesisd has sent them
 * all, and any refusal (a bad key, an unknown producer) that came back as
 * an event is reported.
 *
 *   printf 'a\nb\n' | fire_and_forget [PRODUCER]
 *
 * PRODUCER defaults to demo-producer; the socket is $KINESISD_SOCKET,
 * else /run/kinesisd/kinesisd.sock.  Exit 0 when nothing was refused.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX: getopt, getline, sigaction */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kinesisd.h>

int
main(int argc, char **argv)
{
	const char *producer = argc > 1 ? argv[1] : "demo-producer";
	struct kinesisd_event *ev;
	struct kinesisd *k;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long sent = 0, refused = 0;
	int status = 1;

	if ((k = kinesisd_new(NULL)) == NULL ||
	    kinesisd_connect(k, NULL, 10000) != KINESISD_OK) {
		fprintf(stderr, "fire_and_forget: %s\n", kinesisd_errmsg(k));
		goto out;
	}
	while ((len = getline(&line, &cap, stdin)) != -1) {
		char key[32];

		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		snprintf(key, sizeof(key), "line-%ld", sent);
		if (kinesisd_put_forget(k, producer, key, line, (size_t)len) !=
		    KINESISD_OK) {
			fprintf(stderr, "fire_and_forget: %s\n",
			    kinesisd_errmsg(k));
			goto out;
		}
		sent++;
	}
	/* Every put before the flush has been sent (or refused) after it. */
	if (kinesisd_flush(k, producer, 120000) != KINESISD_OK) {
		fprintf(stderr, "fire_and_forget: %s\n", kinesisd_errmsg(k));
		goto out;
	}
	while (kinesisd_next_event(k, 0, &ev) == KINESISD_OK) {
		if (ev->type == KINESISD_EV_ERROR) {
			fprintf(stderr, "fire_and_forget: refused: %s: %s\n",
			    ev->error, ev->message);
			refused++;
		}
		kinesisd_event_free(ev);
	}
	fprintf(stderr, "fire_and_forget: %ld records sent, %ld refused\n",
	    sent - refused, refused);
	status = refused == 0 ? 0 : 1;
out:
	free(line);
	kinesisd_free(k);
	return status;
}
