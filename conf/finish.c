/*
 * conf/finish.c — what the loader does once the YAML has been read: build
 * the producer/consumer templates and entries, apply the environment, check
 * keys that depend on each other and fill derived defaults (workerId,
 * tableName, the parsed initialTimestamp).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/schema.h"

/* An empty variable counts as unset, as the AWS SDKs treat it. */
static const char *
env_get(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * Fills *field, when the file left it unset, from the first set variable
 * of vars; the value gets the same check as the key.
 */
static int
env_fill(struct conf_loader *l, char **field, const char *const *vars,
    const char *(*check)(const char *))
{
	const char *v, *bad;

	if (*field != NULL)
		return 0;
	for (; *vars != NULL; vars++) {
		if ((v = env_get(*vars)) == NULL)
			continue;
		if ((bad = check(v)) != NULL) {
			if (asprintf(l->cause,
			        "environment variable %s: expected %s, got "
			        "\"%.200s\"",
			        *vars, bad, v) < 0)
				*l->cause = NULL;
			return -1;
		}
		if ((*field = strdup(v)) == NULL)
			return conf_fail_nomem(l);
		return 0;
	}
	return 0;
}

static int
finish_env(struct conf_loader *l)
{
	static const char *const region[] = {
	    "AWS_REGION", "AWS_DEFAULT_REGION", NULL};
	static const char *const kinesis[] = {
	    "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL", NULL};
	static const char *const dynamodb[] = {
	    "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", NULL};
	struct conf *c = l->conf;

	/* The profile's region and IMDS are aws/'s business, later. */
	if (env_fill(l, &c->region, region, conf_check_region) == -1 ||
	    env_fill(l, &c->kinesis_endpoint, kinesis, conf_check_url) == -1 ||
	    env_fill(l, &c->dynamodb_endpoint, dynamodb, conf_check_url) == -1)
		return -1;
	return 0;
}

static int
random_bytes(unsigned char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	while (off < len) {
		n = getrandom(buf + off, len - off, 0);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;
	}
	if (off == len)
		return 0;
	/* Kernels before 3.17 have no getrandom(2). */
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (off < len) {
		n = read(fd, buf + off, len - off);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;
	}
	close(fd);
	return off == len ? 0 : -1;
}

/*
 * The KCL's default worker id is "<hostname>:<random UUID>": unique per
 * process, so two daemons on one host (or a restarted one) never mistake
 * each other's leases for their own.  One id serves every consumer of this
 * daemon: each consumer has its own lease table.
 */
static int
worker_id(struct conf_loader *l, const char **out)
{
	char host[256];
	unsigned char u[16];

	if (l->worker_id[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if (random_bytes(u, sizeof(u)) == -1)
			return conf_fail(l, NULL, "kcl.workerId",
			    "cannot read random bytes for the default: %s",
			    strerror(errno));
		u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
		u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 */
		snprintf(l->worker_id, sizeof(l->worker_id),
		    "%s:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x%02x%02x%02x%02x",
		    host, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
		    u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	}
	*out = l->worker_id;
	return 0;
}

/* DynamoDB table names: 3-255 of [a-zA-Z0-9_.-]. */
static int
valid_table_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 255)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789_.-") == n;
}

static int
finish_consumer(struct conf_loader *l, struct conf_consumer *c,
    const yaml_node_t *key, const char *path)
{
	struct conf_kcl *kcl = &c->kcl;
	const char *pos = conf_initial_position_name(kcl->initial_position);
	const char *id = NULL;
	char sub[600];

	snprintf(sub, sizeof(sub), "%s.kcl", path);
	switch (kcl->initial_position) {
	case CONF_POS_AT_TIMESTAMP:
		if (kcl->initial_timestamp == NULL)
			return conf_fail(l, key, sub,
			    "initialPositionInStream %s needs initialTimestamp",
			    pos);
		break;
	case CONF_POS_AT_SEQUENCE_NUMBER:
	case CONF_POS_AFTER_SEQUENCE_NUMBER:
		if (kcl->initial_sequence_number == NULL)
			return conf_fail(l, key, sub,
			    "initialPositionInStream %s needs "
			    "initialSequenceNumber",
			    pos);
		break;
	default:
		break;
	}
	kcl->initial_timestamp_ms = 0;
	if (kcl->initial_timestamp != NULL &&
	    conf_timestamp_parse(
	        kcl->initial_timestamp, &kcl->initial_timestamp_ms) == -1)
		return conf_fail(l, key, sub, "bad initialTimestamp");

	/* DynamoDB: provisioned needs both >= 1; on-demand has neither. */
	if ((kcl->initial_lease_table_read_capacity == 0) !=
	    (kcl->initial_lease_table_write_capacity == 0))
		return conf_fail(l, key, sub,
		    "expected initialLeaseTableReadCapacity and "
		    "initialLeaseTableWriteCapacity both 0 (on-demand) or both "
		    ">= 1, got %llu and %llu",
		    (unsigned long long)kcl->initial_lease_table_read_capacity,
		    (unsigned long long)
		        kcl->initial_lease_table_write_capacity);

	if (kcl->table_name == NULL) {
		if (asprintf(&kcl->table_name, "%s-%s",
		        l->conf->application_name, c->stream_name) < 0) {
			kcl->table_name = NULL;
			return conf_fail_nomem(l);
		}
		if (!valid_table_name(kcl->table_name))
			return conf_fail(l, key, sub,
			    "the default lease table name \"%.300s\" "
			    "(<application-name>-<stream-name>) is not a "
			    "DynamoDB table name (3-255 of [a-zA-Z0-9_.-]); "
			    "set kcl.tableName or change application-name",
			    kcl->table_name);
	}
	if (kcl->worker_id == NULL) {
		if (worker_id(l, &id) == -1)
			return -1;
		if ((kcl->worker_id = strdup(id)) == NULL)
			return conf_fail_nomem(l);
	}
	return 0;
}

int
conf_finish_entry(struct conf_loader *l, int consumer, void *entry,
    const yaml_node_t *key, const char *path)
{
	const struct conf_table *t =
	    consumer ? &conf_consumer_table : &conf_producer_table;

	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		if ((k->flags & CONF_F_REQUIRED) && k->type == CONF_T_STRING &&
		    *CONF_FIELD(entry, k, char *) == NULL)
			return conf_fail(
			    l, key, path, "missing required key %s", k->name);
	}
	if (consumer)
		return finish_consumer(l, entry, key, path);
	return 0;
}

int
conf_finish(struct conf_loader *l)
{
	struct conf_producer ptmpl = {0};
	struct conf_consumer ctmpl = {0};
	int rc = -1;

	if (conf_table_defaults(&conf_producer_table, &ptmpl) == -1 ||
	    conf_table_defaults(&conf_consumer_table, &ctmpl) == -1) {
		conf_fail_nomem(l);
		goto out;
	}
	if (l->deferred[0] != NULL &&
	    conf_apply_mapping(l, &conf_producer_table, &ptmpl, l->deferred[0],
	        "default-producer") == -1)
		goto out;
	if (l->deferred[2] != NULL &&
	    conf_apply_mapping(l, &conf_consumer_table, &ctmpl, l->deferred[2],
	        "default-consumer") == -1)
		goto out;
	if (finish_env(l) == -1)
		goto out;
	if (conf_build_named(l, 0, &ptmpl) == -1 ||
	    conf_build_named(l, 1, &ctmpl) == -1)
		goto out;
	rc = 0;
out:
	conf_table_clear(&conf_producer_table, &ptmpl);
	conf_table_clear(&conf_consumer_table, &ctmpl);
	return rc;
}
