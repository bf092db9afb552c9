/*
 * put.c — kinesisctl put PRODUCER [--key K] [--ehk HASHKEY] [DATA ...]
 *
 * One record per DATA argument, or one per line of standard input.  Puts
 * and results travel at the same time, with a bounded window of
 * unanswered puts, so neither side's buffers fill up while the other
 * waits.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "ctl/ctl.h"

#define PUT_WINDOW 2000

struct put_state {
	const char *producer, *key, *ehk;
	unsigned long next_id, ok, failed;
	unsigned long answered;
	unsigned shown_errors;
};

/* A random 16-hex-digit key per record, as the KPL examples use. */
static const char *
random_key(char buf[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[8];
	FILE *f = fopen("/dev/urandom", "re");

	if (f == NULL || fread(r, 1, sizeof(r), f) != sizeof(r)) {
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)rand();
	}
	if (f != NULL)
		fclose(f);
	for (size_t i = 0; i < sizeof(r); i++) {
		buf[2 * i] = hex[r[i] >> 4];
		buf[2 * i + 1] = hex[r[i] & 15];
	}
	buf[16] = '\0';
	return buf;
}

static int
put_send(struct ctl_conn *c, struct put_state *st, const char *text)
{
	cJSON *m = cJSON_CreateObject();
	char key[17];
	int rc;

	cJSON_AddStringToObject(m, "op", "put");
	cJSON_AddStringToObject(m, "producer", st->producer);
	cJSON_AddStringToObject(
	    m, "key", st->key != NULL ? st->key : random_key(key));
	if (st->ehk != NULL)
		cJSON_AddStringToObject(m, "ehk", st->ehk);
	cJSON_AddStringToObject(m, "text", text);
	cJSON_AddNumberToObject(m, "id", (double)++st->next_id);
	rc = ctl_send(c, m);
	cJSON_Delete(m);
	return rc;
}

/* Handles one reply; -1 when the daemon says something fatal. */
static int
put_reply(struct put_state *st, cJSON *m)
{
	const cJSON *op = cJSON_GetObjectItem(m, "op");
	const char *o = cJSON_IsString(op) ? op->valuestring : "";

	if (strcmp(o, "put_ok") == 0) {
		st->ok++;
		st->answered++;
	} else if (strcmp(o, "put_failed") == 0 || strcmp(o, "error") == 0) {
		const cJSON *e = cJSON_GetObjectItem(m, "error");
		const cJSON *msg = cJSON_GetObjectItem(m, "message");
		st->failed++;
		st->answered++;
		if (st->shown_errors++ < 5)
			fprintf(stderr, "kinesisctl: put %s: %s\n",
			    cJSON_IsString(e) ? e->valuestring : "failed",
			    cJSON_IsString(msg) ? msg->valuestring : "");
		if (strcmp(o, "error") == 0 && cJSON_IsString(e) &&
		    (strcmp(e->valuestring, "unknown_producer") == 0 ||
		        strcmp(e->valuestring, "shutting_down") == 0))
			return -1;
	}
	return 0;
}

/* Reads replies until fewer than window puts are unanswered. */
static int
put_drain(struct ctl_conn *c, struct put_state *st, unsigned long window)
{
	while (st->next_id - st->answered > window) {
		cJSON *m = ctl_recv(c, 120000);
		int rc;
		if (m == NULL) {
			fprintf(stderr, "kinesisctl: no answer for %lu puts\n",
			    st->next_id - st->answered);
			return -1;
		}
		rc = put_reply(st, m);
		cJSON_Delete(m);
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
ctl_cmd_put(struct ctl_conn *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"ehk", required_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	struct put_state st = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ch, rc = 0;

	/* 0, not 1: glibc then starts afresh, permuting again, so options
	 * may follow PRODUCER (main's "+" mode must not carry over). */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "k:e:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			st.key = optarg;
			break;
		case 'e':
			st.ehk = optarg;
			break;
		default:
			fprintf(stderr,
			    "usage: kinesisctl put PRODUCER [--key K] "
			    "[--ehk HASHKEY] [DATA ...]\n");
			return 64;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: kinesisctl put PRODUCER [--key K] "
		                "[--ehk HASHKEY] [DATA ...]\n");
		return 64;
	}
	st.producer = argv[optind++];
	if (optind < argc) {
		for (; optind < argc && rc == 0; optind++)
			if (put_send(c, &st, argv[optind]) == -1 ||
			    put_drain(c, &st, PUT_WINDOW) == -1)
				rc = -1;
	} else {
		while (rc == 0 && (n = getline(&line, &cap, stdin)) != -1) {
			if (n > 0 && line[n - 1] == '\n')
				line[--n] = '\0';
			if (put_send(c, &st, line) == -1 ||
			    put_drain(c, &st, PUT_WINDOW) == -1)
				rc = -1;
		}
		free(line);
	}
	if (rc == 0)
		rc = put_drain(c, &st, 0);
	printf("%lu put, %lu failed\n", st.ok, st.failed);
	return rc == 0 && st.failed == 0 && st.ok == st.next_id ? 0 : 1;
}
