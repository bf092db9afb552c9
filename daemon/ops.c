/*
 * ops.c — the socket ops the daemon answers itself: hello, ping, stats.
 */
#include <time.h>

#include <cJSON.h>

#include "conf/conf.h"
#include "consumer/consumer.h"
#include "daemon/kd.h"
#include "ipc/ipc.h"
#include "producer/producer.h"

static void
op_ping(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)req;
	(void)arg;
	ipc_conn_send(c, ipc_msg_new("pong", id));
}

static void
op_hello(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	struct kd *kd = arg;
	cJSON *m, *producers, *consumers;

	(void)req;
	if ((m = ipc_msg_new("hello", id)) == NULL)
		return;
	cJSON_AddNumberToObject(m, "version", 1);
	cJSON_AddStringToObject(m, "server", "kinesisd/" KD_VERSION);
	producers = cJSON_AddArrayToObject(m, "producers");
	consumers = cJSON_AddArrayToObject(m, "consumers");
	for (size_t i = 0; producers != NULL && i < kd->conf->n_producers; i++)
		cJSON_AddItemToArray(
		    producers, cJSON_CreateString(kd->conf->producers[i].name));
	for (size_t i = 0; consumers != NULL && i < kd->conf->n_consumers; i++)
		cJSON_AddItemToArray(
		    consumers, cJSON_CreateString(kd->conf->consumers[i].name));
	ipc_conn_send(c, m);
}

static void
op_stats(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	struct kd *kd = arg;
	cJSON *m;

	(void)req;
	if ((m = ipc_msg_new("stats", id)) == NULL)
		return;
	cJSON_AddStringToObject(m, "server", "kinesisd/" KD_VERSION);
	cJSON_AddStringToObject(m, "state", kd_strstate(kd->state));
	cJSON_AddNumberToObject(
	    m, "uptime_seconds", (double)(time(NULL) - kd->started));
	cJSON_AddNumberToObject(
	    m, "connections", (double)ipc_server_conn_count(kd->ipc));
	producers_stats(kd->producers, cJSON_AddObjectToObject(m, "producers"));
	consumers_stats(kd->consumers, cJSON_AddObjectToObject(m, "consumers"));
	ipc_conn_send(c, m);
}

int
kd_ops_register(struct kd *kd)
{
	if (ipc_register(kd->ipc, "ping", op_ping, kd) == -1 ||
	    ipc_register(kd->ipc, "hello", op_hello, kd) == -1 ||
	    ipc_register(kd->ipc, "stats", op_stats, kd) == -1)
		return -1;
	return 0;
}
