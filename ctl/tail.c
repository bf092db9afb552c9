/*
 * tail.c — kinesisctl tail CONSUMER [-n COUNT] [--no-ack] [--json]
 *
 * Subscribes, prints each record's data (decoded, one per line) or the
 * whole `record` message with --json, acks it unless --no-ack, and after
 * COUNT records unsubscribes and exits 0.  Other events (shard_started,
 * shard_lost, ...) go to standard error.  Unacked records go back to the
 * daemon's other subscribers once this connection closes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "aws/aws.h"
#include "ctl/ctl.h"

#define TAIL_USAGE                                                             \
	"usage: kinesisctl tail CONSUMER [-n COUNT] [--no-ack] [--json]\n"
/* The daemon's window; a tail prints as it reads, so the default is fine. */
#define TAIL_MAX_IN_FLIGHT 1000

static const char *
str_field(const cJSON *m, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
tail_send(struct ctl_conn *c, const char *op, const char *consumer)
{
	cJSON *m = cJSON_CreateObject();
	int rc = -1;

	if (m != NULL && cJSON_AddStringToObject(m, "op", op) != NULL &&
	    cJSON_AddStringToObject(m, "consumer", consumer) != NULL &&
	    (strcmp(op, "subscribe") != 0 ||
	        cJSON_AddNumberToObject(
	            m, "max_in_flight", TAIL_MAX_IN_FLIGHT) != NULL))
		rc = ctl_send(c, m);
	cJSON_Delete(m);
	return rc;
}

static int
tail_ack(struct ctl_conn *c, const cJSON *rec)
{
	const cJSON *sub = cJSON_GetObjectItemCaseSensitive(rec, "subseq");
	cJSON *m = cJSON_CreateObject();
	int rc = -1;

	if (m != NULL && cJSON_AddStringToObject(m, "op", "ack") != NULL &&
	    cJSON_AddStringToObject(
	        m, "consumer", str_field(rec, "consumer")) != NULL &&
	    cJSON_AddStringToObject(m, "shard", str_field(rec, "shard")) !=
	        NULL &&
	    cJSON_AddStringToObject(m, "seq", str_field(rec, "seq")) != NULL &&
	    cJSON_AddNumberToObject(m, "subseq",
	        cJSON_IsNumber(sub) ? sub->valuedouble : 0) != NULL)
		rc = ctl_send(c, m);
	cJSON_Delete(m);
	return rc;
}

/* Prints one record; -1 when it is malformed or stdout failed. */
static int
tail_print(const cJSON *rec, int json)
{
	char *text;

	if (json) {
		if ((text = cJSON_PrintUnformatted(rec)) == NULL)
			return -1;
		printf("%s\n", text);
		free(text);
	} else {
		const char *data = str_field(rec, "data");
		unsigned char *bytes = NULL;
		size_t n;
		if (data == NULL ||
		    aws_base64_decode(data, strlen(data), &bytes, &n) == -1) {
			fprintf(stderr, "kinesisctl: a record's data is not "
			                "base64\n");
			return -1;
		}
		text = (char *)bytes;
		fwrite(text, 1, n, stdout);
		putchar('\n');
		free(text);
	}
	/* Line by line, so a pipe sees each record as it comes. */
	return fflush(stdout) == 0 ? 0 : -1;
}

int
ctl_cmd_tail(struct ctl_conn *c, int argc, char **argv)
{
	enum { OPT_NO_ACK = 256, OPT_JSON };
	static const struct option longopts[] = {
	    {"count", required_argument, NULL, 'n'},
	    {"no-ack", no_argument, NULL, OPT_NO_ACK},
	    {"json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	unsigned long count = 0, seen = 0;
	int ch, ack = 1, json = 0, rc = 1, subscribed = 0;
	const char *consumer;
	char *end;

	/* 0, not 1: glibc then forgets main's "+" (stop at the first
	 * argument), so options may follow CONSUMER. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] == '-' ||
			    count == 0) {
				fprintf(stderr, "kinesisctl: -n wants a "
				                "positive count\n");
				return 64;
			}
			break;
		case OPT_NO_ACK:
			ack = 0;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			fputs(TAIL_USAGE, stderr);
			return 64;
		}
	}
	if (optind != argc - 1) {
		fputs(TAIL_USAGE, stderr);
		return 64;
	}
	consumer = argv[optind];
	if (tail_send(c, "subscribe", consumer) == -1)
		return 1;
	for (;;) {
		cJSON *m = ctl_recv(c, -1);
		const char *op;

		if (m == NULL) {
			/* The daemon went away: fine when it said it would. */
			if (subscribed && count == 0)
				rc = 0;
			else
				fprintf(stderr,
				    "kinesisctl: connection to %s "
				    "closed\n",
				    c->path);
			break;
		}
		op = str_field(m, "op");
		if (op == NULL)
			op = "";
		if (strcmp(op, "record") == 0) {
			if (count > 0 && seen >= count) {
				/* Sent before the unsubscribe arrived: left
				 * unacked, for another subscriber. */
				cJSON_Delete(m);
				continue;
			}
			if (tail_print(m, json) == -1 ||
			    (ack && tail_ack(c, m) == -1)) {
				cJSON_Delete(m);
				break;
			}
			if (count > 0 && ++seen == count) {
				/* Records sent meanwhile stay unacked and go
				 * to the next subscriber. */
				cJSON_Delete(m);
				if (tail_send(c, "unsubscribe", consumer) == -1)
					break;
				continue;
			}
		} else if (strcmp(op, "subscribed") == 0) {
			subscribed = 1;
		} else if (strcmp(op, "unsubscribed") == 0) {
			cJSON_Delete(m);
			rc = 0;
			break;
		} else if (strcmp(op, "error") == 0) {
			fprintf(stderr, "kinesisctl: %s: %s\n",
			    str_field(m, "error") != NULL
			        ? str_field(m, "error")
			        : "error",
			    str_field(m, "message") != NULL
			        ? str_field(m, "message")
			        : "");
			cJSON_Delete(m);
			break;
		} else if (strcmp(op, "shutdown") == 0) {
			fprintf(stderr, "kinesisctl: the daemon is shutting "
			                "down\n");
		} else {
			const char *shard = str_field(m, "shard");
			fprintf(stderr, "kinesisctl: %s%s%s\n", op,
			    shard != NULL ? " " : "",
			    shard != NULL ? shard : "");
		}
		cJSON_Delete(m);
	}
	return rc;
}
