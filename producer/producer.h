/*
 * producer — the KPL's job behind the socket: put and flush, shard
 * prediction, KPL aggregation, PutRecords collection, per-shard rate
 * limits, retries, record TTL and max-outstanding back-pressure (SPEC
 * section 3).
 *
 * The producers object registers the socket ops put and flush, and a close
 * hook, on the ipc server it is given.
 *
 * Ownership: conf, http, creds, ipc and metrics are borrowed and must
 * outlive the producers object.
 */
#ifndef KD_PRODUCER_H
#define KD_PRODUCER_H

#include <stdint.h>

typedef struct cJSON cJSON;
struct aws_credentials;
struct aws_http;
struct conf;
struct event_base;
struct ipc_server;
struct metrics;

struct producers;

/* region: the daemon's resolved region (a producer's kpl.Region wins).
 * Start-up only: NULL and a malloc'd *cause on failure. */
struct producers *producers_new(struct event_base *, const struct conf *,
    struct aws_http *, struct aws_credentials *, const char *region,
    struct ipc_server *, struct metrics *, char **cause);
void producers_free(struct producers *);

/*
 * Refuses new puts (shutting_down), sends every buffered record, answers
 * every outstanding put; done runs when nothing is outstanding.  Puts still
 * unanswered after timeout_ms fail with shutting_down.
 */
void producers_shutdown(struct producers *, uint64_t timeout_ms,
    void (*done)(void *arg), void *arg);

/* Whether every producer knows its stream; *why (static) says otherwise. */
int producers_ready(const struct producers *, const char **why);

/* Fills the stats reply's "producers" object, one member per producer. */
void producers_stats(struct producers *, cJSON *producers_obj);

#endif
