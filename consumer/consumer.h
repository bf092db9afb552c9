/*
 * consumer — the KCL's and reactive-kinesis's ConsumerWorker behind the
 * socket: per-shard fetchers, KPL de-aggregation, delivery to subscribed
 * connections, acks, batches with retries and a failure tolerance, and
 * checkpoints of the acked prefix through lease/ (SPEC sections 3 and 5).
 *
 * The consumers object registers the socket ops subscribe, unsubscribe,
 * ack and leases, and a close hook, on the ipc server it is given.
 *
 * Ownership: conf, http, creds, ipc and metrics are borrowed and must
 * outlive the consumers object.  consumers_free() and ipc_server_free()
 * may come in either order: consumers_free() takes its mark off the
 * connections it knows, so the close hook leaves them alone afterwards.
 */
#ifndef KD_CONSUMER_H
#define KD_CONSUMER_H

typedef struct cJSON cJSON;
struct aws_credentials;
struct aws_http;
struct conf;
struct event_base;
struct ipc_server;
struct metrics;

struct consumers;

/* region: the daemon's resolved region (a consumer's kcl.regionName wins).
 * Start-up only: NULL and a malloc'd *cause on failure. */
struct consumers *consumers_new(struct event_base *, const struct conf *,
    struct aws_http *, struct aws_credentials *, const char *region,
    struct ipc_server *, struct metrics *, char **cause);
void consumers_free(struct consumers *);

/*
 * SPEC section 5 for every consumer: finish or time out the current batch
 * of each shard, write the final checkpoints, release the leases, send
 * consumer_shutdown; done runs once all of that is over (within the
 * largest shutdownTimeoutSeconds).  With gracefulShutdownHook false a
 * consumer stops at once, without the final checkpoint.
 */
void consumers_shutdown(struct consumers *, void (*done)(void *arg), void *arg);

/* Fills the stats reply's "consumers" object, one member per consumer. */
void consumers_stats(struct consumers *, cJSON *consumers_obj);

#endif
