/*
 * leases.c — kinesisctl leases CONSUMER: the consumer's lease table as a
 * table (shard, owner, counter, checkpoint and its sub-sequence number).
 */
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "ctl/ctl.h"

#define LEASES_USAGE "usage: kinesisctl leases CONSUMER\n"

static const char *
str_or(const cJSON *o, const char *name, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double
num_or(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int
width(const cJSON *leases, const char *name, const char *dflt, int min)
{
	const cJSON *l;
	int w = min;

	cJSON_ArrayForEach(l, leases)
	{
		int n = (int)strlen(str_or(l, name, dflt));
		if (n > w)
			w = n;
	}
	return w;
}

int
ctl_cmd_leases(struct ctl_conn *c, int argc, char **argv)
{
	cJSON *req, *reply;
	const cJSON *leases, *l;
	const char *op;
	int rc = 1, ws, wo;

	if (argc != 2 || argv[1][0] == '-') {
		fputs(LEASES_USAGE, stderr);
		return 64;
	}
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "op", "leases") == NULL ||
	    cJSON_AddStringToObject(req, "consumer", argv[1]) == NULL) {
		cJSON_Delete(req);
		return 1;
	}
	if ((reply = ctl_request(c, req, 30000)) == NULL) {
		fprintf(stderr, "kinesisctl: no answer from %s\n", c->path);
		cJSON_Delete(req);
		return 1;
	}
	op = str_or(reply, "op", "");
	leases = cJSON_GetObjectItemCaseSensitive(reply, "leases");
	if (strcmp(op, "leases") == 0 &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(reply, "error"))) {
		fprintf(stderr, "kinesisctl: cannot read the lease table: %s\n",
		    str_or(reply, "error", ""));
		goto out;
	}
	if (strcmp(op, "leases") != 0 || !cJSON_IsArray(leases)) {
		fprintf(stderr, "kinesisctl: %s: %s\n",
		    str_or(reply, "error", "unexpected reply"),
		    str_or(reply, "message", op));
		goto out;
	}
	ws = width(leases, "shard", "", 5);
	wo = width(leases, "owner", "-", 5);
	printf("%-*s  %-*s  %8s  %s\n", ws, "SHARD", wo, "OWNER", "COUNTER",
	    "CHECKPOINT");
	cJSON_ArrayForEach(l, leases)
	{
		double sub = num_or(l, "subseq");
		printf("%-*s  %-*s  %8.0f  %s", ws, str_or(l, "shard", ""), wo,
		    str_or(l, "owner", "-"), num_or(l, "counter"),
		    str_or(l, "checkpoint", "-"));
		/* The sub-sequence number only means something inside a KPL
		 * aggregate. */
		if (sub > 0)
			printf(" (subseq %.0f)", sub);
		putchar('\n');
	}
	rc = 0;
out:
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}
