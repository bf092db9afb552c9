/*
 * main.c — kinesisctl [-s SOCKET] COMMAND: ping, stats, put, tail, leases.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "ctl/ctl.h"

#define EXIT_USAGE     64
#define DEFAULT_SOCKET "/run/kinesisd/kinesisd.sock"

static const struct {
	const char *name;
	int (*fn)(struct ctl_conn *, int, char **);
} commands[] = {
    {"ping", ctl_cmd_ping},
    {"stats", ctl_cmd_stats},
    {"put", ctl_cmd_put},
    {"tail", ctl_cmd_tail},
    {"leases", ctl_cmd_leases},
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kinesisctl [-s SOCKET] COMMAND [ARGS]\n"
	    "\n"
	    "  ping                      exit 0 when the daemon answers\n"
	    "  stats                     the daemon's counters\n"
	    "  put PRODUCER [--key K] [--ehk HASHKEY] [DATA ...]\n"
	    "                            one record per DATA, or per line of "
	    "stdin;\n"
	    "                            waits for every result (exit 1 if any "
	    "failed)\n"
	    "  tail CONSUMER [-n COUNT] [--no-ack] [--json]\n"
	    "                            print records' data (or whole "
	    "messages),\n"
	    "                            acking each; stop after COUNT "
	    "records\n"
	    "  leases CONSUMER           the consumer's lease table\n"
	    "\n"
	    "SOCKET defaults to $KINESISD_SOCKET, else " DEFAULT_SOCKET ".\n");
}

int
ctl_cmd_ping(struct ctl_conn *c, int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *reply;
	int rc = 1;

	(void)argc;
	(void)argv;
	cJSON_AddStringToObject(req, "op", "ping");
	if ((reply = ctl_request(c, req, 5000)) != NULL) {
		const cJSON *op = cJSON_GetObjectItem(reply, "op");
		if (cJSON_IsString(op) &&
		    strcmp(op->valuestring, "pong") == 0) {
			printf("pong from %s\n", c->path);
			rc = 0;
		}
	} else
		fprintf(stderr, "kinesisctl: no answer from %s\n", c->path);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

int
ctl_cmd_stats(struct ctl_conn *c, int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *reply;
	char *text;
	int rc = 1;

	(void)argc;
	(void)argv;
	cJSON_AddStringToObject(req, "op", "stats");
	if ((reply = ctl_request(c, req, 5000)) != NULL) {
		cJSON_DeleteItemFromObject(reply, "id");
		cJSON_DeleteItemFromObject(reply, "op");
		if ((text = cJSON_Print(reply)) != NULL) {
			printf("%s\n", text);
			free(text);
			rc = 0;
		}
	} else
		fprintf(stderr, "kinesisctl: no answer from %s\n", c->path);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = getenv("KINESISD_SOCKET");
	struct ctl_conn c;
	int ch, rc;

	if (path == NULL || *path == '\0')
		path = DEFAULT_SOCKET;
	/* '+': options after the command belong to the command. */
	while ((ch = getopt_long(argc, argv, "+s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (ctl_connect(&c, path) == -1)
			return 1;
		optind++;
		rc = commands[i].fn(&c, argc - optind + 1, argv + optind - 1);
		ctl_close(&c);
		return rc;
	}
	fprintf(stderr, "kinesisctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
