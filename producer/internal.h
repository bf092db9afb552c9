/*
 * internal.h — the producer's pieces, private to producer/.
 *
 * A user record (struct urec) lives from its `put` to its result.  It is
 * routed to the shard its hash key predicts, aggregated there (struct
 * pshard), sealed into a Kinesis record (struct krec) and queued; the
 * queue is cut into PutRecords requests (struct batch).  A record that
 * must be retried goes back to routing as a user record, so it is
 * re-aggregated for whatever shard map holds then, as the KPL does.
 */
#ifndef KD_PRODUCER_INTERNAL_H
#define KD_PRODUCER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "kpl/kpl.h"

/* BSD's, which glibc's sys/queue.h lacks. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                             \
	for ((var) = TAILQ_FIRST(head);                                        \
	     (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);            \
	     (var) = (tvar))
#endif

struct conf_producer;
struct event;
struct event_base;
struct ipc_conn;
struct kinesis;
struct metric_series;
struct producers;
typedef struct cJSON cJSON;

/*
 * A connection's producer state, in its IPC_SLOT_PRODUCER slot.  Records
 * hold a reference, so a connection that closes with puts in flight
 * leaves this behind (conn NULL) until their results are in.
 */
struct pconn {
	struct ipc_conn *conn;    /* NULL once the connection closed */
	unsigned refs;            /* the slot, and each urec answering here */
	unsigned blocked_by;      /* saturated producers it feeds */
	unsigned char *feeds;     /* per producer index: it has put there */
	TAILQ_ENTRY(pconn) entry; /* in the producers' list */
};

/* Flush requests waiting for an epoch (see struct epoch). */
struct flushreq {
	struct pconn *origin;
	char *id;         /* its id's JSON text, owned; or NULL */
	unsigned pending; /* producers still flushing */
};

struct flushwait {
	struct flushreq *req;
	TAILQ_ENTRY(flushwait) entry;
};

/*
 * Every put belongs to the epoch current when it arrived; a flush closes
 * the current epoch and is answered once it and every older one have no
 * outstanding record.
 */
struct epoch {
	uint64_t outstanding;
	TAILQ_HEAD(, flushwait) waiters;
	TAILQ_ENTRY(epoch) entry;
};

struct pshard;

struct urec {
	TAILQ_ENTRY(urec) entry;
	struct pconn *origin; /* to answer; NULL: fire and forget */
	char *id;             /* the request's id as JSON text, inside this
	                       * allocation; NULL: no reply wanted */
	struct epoch *epoch;
	struct kpl_hash hash; /* from the explicit hash key, else MD5(key) */
	int has_ehk;
	char ehk[KPL_HASH_DEC_SIZE];
	uint64_t arrival_ms, deadline_ms, retry_at_ms;
	unsigned attempts;
	size_t key_len, len;
	char *key;           /* NUL-terminated, inside this allocation */
	unsigned char *data; /* inside this allocation */
};
TAILQ_HEAD(urec_list, urec);

/* A Kinesis record: a KPL aggregate, or one user record as it is. */
struct krec {
	TAILQ_ENTRY(krec) entry;
	struct pshard *shard; /* predicted; NULL without a shard map */
	struct urec_list urecs;
	size_t n_urecs;
	const char *pk;              /* the first user record's key */
	char ehk[KPL_HASH_DEC_SIZE]; /* "" for none */
	unsigned char *blob; /* owned for aggregates, else the urec's data */
	size_t len;
	int aggregated;
	uint64_t due_ms;      /* first arrival + RecordMaxBufferedTime */
	uint64_t deadline_ms; /* the earliest RecordTtl deadline inside */
};
TAILQ_HEAD(krec_list, krec);

/* A shard of the map, with its aggregate being filled and rate limits. */
struct pshard {
	char *id;
	struct kpl_hash start, end;
	struct kpl_agg *agg;
	struct urec_list pending; /* the user records inside agg */
	uint64_t oldest_ms;       /* arrival of the first of them */
	double rec_tokens, byte_tokens;
	uint64_t refill_ms;
	int live;      /* in the current map */
	int held_back; /* pipeline_send: refused by its rate limit this pass */
};

/*
 * A producer's shard map: SYNCING until the first ListShards answers,
 * then READY; MISSING while the stream does not exist (checked again
 * every few seconds).  Without a map, records go out unaggregated.
 */
enum producer_map_state {
	PMAP_SYNCING,
	PMAP_READY,
	PMAP_MISSING,
};

struct producer {
	struct producers *set;
	struct event_base *base;
	size_t index;
	const struct conf_producer *conf;
	const char *name;
	const char *region;
	struct kinesis *api;
	struct kpl_hasher *hasher;
	struct event *timer, *map_timer;

	enum producer_map_state map_state;
	int map_refreshing, map_stale;
	unsigned map_warned;    /* ListShards failures since the last answer */
	struct pshard **shards; /* the map, sorted by start */
	size_t n_shards;
	struct pshard **retired; /* shards gone from the map, kept for
	                          * batches in flight that point at them */
	size_t n_retired;

	struct krec_list queue;
	size_t queued, queued_bytes;
	struct urec_list retry; /* waiting for their back-off */
	unsigned in_flight;
	unsigned flushing; /* flush requests under way: send at once */
	int stopping;

	uint64_t outstanding, max_outstanding;
	int saturated;

	TAILQ_HEAD(epoch_list, epoch) epochs; /* oldest first; last: current */

	/* counters for stats */
	uint64_t n_received, n_put, n_failed, n_expired;
	uint64_t n_krecs, n_requests, n_request_errors, n_retries;
	double sum_latency, sum_buffering;

	struct metric_series *m_received, *m_put, *m_failed, *m_expired;
	struct metric_series *m_krecs, *m_requests_ok, *m_requests_err;
	struct metric_series *m_outstanding, *m_latency, *m_buffering;
	struct metric_series *m_per_krec, *m_retries;
};

/* shardmap.c */
int producer_map_init(struct producer *);
void producer_map_refresh(struct producer *);
struct pshard *producer_map_lookup(struct producer *, struct kpl_hash);
void producer_shard_free(struct pshard *);

/* pipeline.c */
int producer_pipeline_init(struct producer *);
void producer_pipeline_free(struct producer *);
void producer_route(struct producer *, struct urec *);
void producer_pump(struct producer *);
void producer_nudge(struct producer *);
void producer_map_retire(struct producer *, struct pshard *);
void producer_fail_all(
    struct producer *, const char *error, const char *message);

/* ops.c: a record's result, however it ends. */
void producer_complete(struct producer *, struct urec *, const char *shard,
    const char *seq, uint64_t subseq, const char *error, const char *message);
uint64_t producer_now_ms(void);

#endif
