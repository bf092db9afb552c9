/*
 * consumer_int.h — private to consumer/: the objects the files share and
 * the pure parts (track.c) that tests/unit/test_consumer.c checks.
 *
 * Files:
 *   track.c      pure: sequence numbers, a batch's ack tracking and its
 *                checkpoint prefix, the failure tolerance, the balancing
 *                choice, the start position, fetch pacing
 *   fetch.c      one shard's fetcher: iterator, GetRecords, de-aggregation
 *                into batches, shard end (the shard state machine)
 *   deliver.c    subscriptions, shard assignment, sending, acks, batch
 *                timeouts and redelivery, consumer_failure
 *   consumers.c  consumers_new/free/shutdown/stats, one consumer's
 *                lifecycle, the lease events, the `leases` op
 *
 * Everything runs on the event loop of the daemon; nothing is shared with
 * another thread.
 */
#ifndef KD_CONSUMER_INT_H
#define KD_CONSUMER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/util.h>

#include "conf/conf.h"
#include "kinesis/kinesis.h"

struct event;
struct event_base;
struct ipc_conn;
struct ipc_server;
struct metric;
struct metric_series;
struct metrics;
struct dynamo;
struct lease_manager;

/* ==== pure parts (track.c) ============================================= */

/* -1, 0, 1 comparing two decimal sequence numbers (no sentinels): the
 * shorter one is smaller, equal lengths compare as strings. */
/* The same for (seq, subseq) pairs: user records' order in a shard. */
int consumer_rec_cmp(
    const char *seq_a, uint64_t sub_a, const char *seq_b, uint64_t sub_b);

/*
 * Resuming from a checkpoint (seq, subseq), which means "processed up to
 * and including that user record": the fetch starts AT_SEQUENCE_NUMBER
 * seq, and every user record at or below the checkpoint is dropped.  So a
 * plain record (subseq 0) checkpointed is skipped whole (AFTER_SEQUENCE_
 * NUMBER semantics), while an aggregate checkpointed at subseq k still
 * yields its records k+1...  1: deliver the record, 0: drop it.
 */
int consumer_resume_keep(
    const char *seq, uint64_t subseq, const char *cp_seq, uint64_t cp_subseq);

/* Where a shard's reading starts, from its lease. */
struct consumer_start {
	enum kinesis_iterator_type type;
	const char *seq;      /* AT_/AFTER_SEQUENCE_NUMBER; borrowed */
	int64_t timestamp_ms; /* AT_TIMESTAMP */
	int filter;           /* drop user records <= (seq, filter_subseq) */
	uint64_t filter_subseq;
	int ended;            /* SHARD_END: nothing left to read */
	int from_initial_seq; /* seq is initialSequenceNumber (not a lease's) */
};

/*
 * The lease's checkpoint wins: a sequence number resumes there (see
 * consumer_resume_keep); TRIM_HORIZON, LATEST and AT_TIMESTAMP start
 * there (AT_TIMESTAMP at initial_ts_ms); NULL or "" start at the
 * configured position.  The lease table has no sentinel for AT_/AFTER_
 * SEQUENCE_NUMBER, so leases of such consumers hold TRIM_HORIZON and a
 * shard without parents starts from initial_seq instead; children of a
 * reshard always start at TRIM_HORIZON.  0, or -1 for a checkpoint that is
 * neither a sequence number nor a known sentinel.
 */
int consumer_start_pick(const char *checkpoint, uint64_t checkpoint_subseq,
    int has_parents, enum conf_initial_position pos, const char *initial_seq,
    int64_t initial_ts_ms, struct consumer_start *out);

/*
 * How long to wait before the next GetRecords of a shard: at least
 * min_interval_ms after the previous call started (Kinesis allows 5
 * calls/s per shard), and idle_ms after a call that returned nothing.
 */
#define CONSUMER_MIN_CALL_INTERVAL_MS 200

uint64_t consumer_fetch_delay(
    uint64_t now_ms, uint64_t last_call_ms, size_t got, uint64_t idle_ms);

/*
 * The consumer's memory bound.  Everything a consumer holds in records is
 * in its shards' batches (the one being delivered and the one prefetched)
 * and in its GetRecords in flight (the reply being received, then decoded
 * into a batch).  A shard starts a GetRecords only while the consumer has
 * fewer than CONSUMER_MAX_FETCHES of them in flight and its batches hold
 * less than CONSUMER_FETCH_BUDGET bytes; shards that cannot start wait in
 * one FIFO queue per consumer (SHARD_QUEUED), so none starves.  Hence,
 * whatever the number of shards, a consumer's batches hold less than
 * CONSUMER_FETCH_BUDGET + CONSUMER_MAX_FETCHES * (one GetRecords' batch),
 * and at most CONSUMER_MAX_FETCHES replies are being received at once.
 * Batches only shrink by being acked or timing out, which needs no fetch:
 * the bound cannot deadlock.  A shard's first batch may have to wait for
 * its turn, never for another shard's data to be consumed first.
 */
#define CONSUMER_FETCH_BUDGET (16u << 20)
#define CONSUMER_MAX_FETCHES  8
/* Whether a GetRecords may start now: held bytes in batches, calls in
 * flight. */
int consumer_fetch_allowed(size_t held, unsigned calls);

/*
 * reactive-kinesis's failure tolerance: after the retries a batch goes on
 * when its unconfirmed records are at most floor(total * pct / 100).
 * failureTolerancePercentage is a percentage, as reactive-kinesis computes
 * it (its reference.conf: "for a batch of 500 messages, the default (0.25)
 * allows 1 unprocessed message").  1: go on, 0: consumer_failure.
 */
size_t consumer_tolerance_allowed(size_t total, double pct);
int consumer_tolerance_ok(size_t total, size_t unconfirmed, double pct);

/* Balancing shards across the subscribed connections: the index of the
 * smallest load (the earliest on ties), or -1 when n is 0. */
ssize_t consumer_balance_pick(const size_t *loads, size_t n);
/* Whether one shard should move: 1 with *from (the largest load, earliest
 * on ties) and *to (the smallest) when they differ by more than one. */
int consumer_balance_move(
    const size_t *loads, size_t n, size_t *from, size_t *to);

/* ---- a batch: the user records of one GetRecords, in order ------------ */

enum consumer_rec_state {
	CONSUMER_REC_NEW,  /* to be sent (again) */
	CONSUMER_REC_SENT, /* delivered, not acked: counts as in flight */
	CONSUMER_REC_DONE, /* acked (ok or skipped) */
};

/*
 * One Kinesis record of a batch: its user records are recs[first ..
 * first + n), with the consecutive subseqs sub0, sub0 + 1, ... (an
 * aggregate's records in order; the resume filter only drops a prefix).
 */
struct consumer_kin {
	const char *seq; /* in the arena, NUL-terminated */
	size_t seq_len;
	int64_t ts; /* approximate arrival, ms since the epoch */
	uint64_t sub0;
	uint32_t first, n;
};

/*
 * One user record, 32 bytes: its key, EHK and data are offsets into the
 * batch's arena (not NUL-terminated), its seq, subseq and ts come from its
 * Kinesis record (consumer_batch_seq and friends).
 */
#define CONSUMER_NO_EHK UINT32_MAX
struct consumer_rec {
	uint32_t data, len;
	uint32_t key, key_len;
	uint32_t ehk, ehk_len; /* ehk CONSUMER_NO_EHK: none */
	uint32_t kin;          /* index in kin[] */
	uint16_t sends;        /* saturates at UINT16_MAX */
	uint8_t state;
	uint8_t skipped;
};

/*
 * A batch is one allocation (this struct, kin[], recs[], then the arena),
 * sized exactly before it is filled: the arena holds each Kinesis
 * record's sequence number and its bytes as read (an aggregate whole:
 * user records point into it, nothing is copied per user record).
 */
struct consumer_batch {
	struct consumer_kin *kin;
	struct consumer_rec *recs;
	char *arena;
	size_t n_kin, cap_kin;
	size_t n, cap;
	size_t used, arena_cap;
	size_t cursor; /* no NEW record below it */
	size_t prefix; /* recs[0..prefix) are DONE */
	size_t n_done;
	size_t n_sent;    /* records SENT: the batch's share of in-flight */
	size_t hint;      /* kin[] of the last lookup */
	unsigned retries; /* redelivery rounds after a timeout */
	int timer_armed;
	size_t bytes; /* the allocation's size */
};

/* Room for n_kin Kinesis records, n_recs user records and arena bytes;
 * NULL when out of memory or beyond 32-bit offsets. */
struct consumer_batch *consumer_batch_new(
    size_t n_kin, size_t n_recs, size_t arena);
void consumer_batch_free(struct consumer_batch *);
/* Copies len bytes into the arena: the copy, or NULL when it is full. */
const char *consumer_batch_copy(
    struct consumer_batch *, const void *, size_t len);
/* Starts the next Kinesis record (ascending sequence numbers), copying
 * seq into the arena.  0, or -1 when the batch is full. */
int consumer_batch_add_kin(
    struct consumer_batch *, const char *seq, int64_t ts);
/* Appends a user record to the current Kinesis record.  key, ehk (NULL:
 * none) and data must lie in the arena (consumer_batch_copy); subseq must
 * follow the previous one of the same Kinesis record.  0, or -1. */
int consumer_batch_add(struct consumer_batch *, uint64_t subseq,
    const char *key, size_t key_len, const char *ehk, size_t ehk_len,
    const char *data, size_t len);
const char *consumer_batch_seq(const struct consumer_batch *, size_t i);
uint64_t consumer_batch_subseq(const struct consumer_batch *, size_t i);
int64_t consumer_batch_ts(const struct consumer_batch *, size_t i);
/* The index of (seq, subseq), or -1: O(1) for acks in order, a binary
 * search over the Kinesis records otherwise (the hint changes). */
ssize_t consumer_batch_find(
    struct consumer_batch *, const char *seq, uint64_t subseq);
/* The next record to send (NEW, lowest index): marks it SENT and returns
 * 1 with *i, or 0 when there is none. */
int consumer_batch_next(struct consumer_batch *, size_t *i);
/* An ack for recs[i]: 1 when it was not DONE before (now it is), else 0.
 * *was_sent tells whether it was counted in flight. */
int consumer_batch_ack(
    struct consumer_batch *, size_t i, int ok, int *was_sent);
/* Every SENT record becomes NEW again, to be sent in order; returns how
 * many (they are no longer in flight). */
size_t consumer_batch_requeue(struct consumer_batch *);
/* The index of the last record of the acked prefix (the checkpoint), or
 * -1. */
ssize_t consumer_batch_checkpoint(const struct consumer_batch *);
int consumer_batch_complete(const struct consumer_batch *);

/* ==== the objects ====================================================== */

/* One shard's lifecycle (fetch.c; consumer_shard_set_state logs it). */
enum consumer_shard_state {
	SHARD_ITERATOR, /* GetShardIterator in flight */
	SHARD_FETCHING, /* GetRecords in flight */
	SHARD_WAITING, /* a timer until the next call: pacing, idle, back-off */
	SHARD_QUEUED,  /* due for GetRecords: its turn in the fetch budget */
	SHARD_FULL,    /* one batch delivering, one prefetched: wait */
	SHARD_DRAINING,  /* the shard's end was read: waiting for the last acks
	                  */
	SHARD_ENDING,    /* lease_shard_end in flight (or its retry timer) */
	SHARD_RELEASING, /* consumer_failure: lease_release in flight */
	SHARD_STOPPING,  /* shutdown: no fetching; the current batch may end */
	SHARD_STOPPED,   /* shutdown: done, waiting for the final checkpoint */
	SHARD_DEAD,      /* lost, ended, released or dropped: to be freed */
};
const char *consumer_shard_strstate(enum consumer_shard_state);

/* One consumer's lifecycle (consumers.c). */
enum consumer_state {
	CONSUMER_IDLE,      /* no subscriber, no lease */
	CONSUMER_RUNNING,   /* subscribed: taking leases, delivering */
	CONSUMER_RELEASING, /* the last subscriber left: lease_manager_stop */
	CONSUMER_DRAINING,  /* shutdown: current batches get their time */
	CONSUMER_CLOSING,   /* shutdown: final checkpoints and release */
	CONSUMER_DONE,      /* shut down */
};
const char *consumer_strstate(enum consumer_state);

struct consumer;

/* One connection subscribed to one consumer. */
struct consumer_sub {
	struct consumer *cons;
	struct ipc_conn *conn; /* borrowed; dropped in the close hook */
	size_t max_in_flight;
	size_t in_flight; /* SENT records of the shards it delivers */
	size_t n_shards;  /* shards assigned (sub == this) */
	TAILQ_ENTRY(consumer_sub) entry;
};
TAILQ_HEAD(consumer_sub_list, consumer_sub);

struct consumer_shard {
	struct consumer *cons;
	char *id;
	enum consumer_shard_state state;
	struct consumer_sub *sub; /* delivering it, or NULL */
	struct consumer_sub
	    *move_to; /* rebalancing: once nothing is in flight */

	/* fetching (fetch.c) */
	struct consumer_start start;
	char *start_seq; /* owned copy behind start.seq */
	char *iterator;
	char *last_seq; /* last Kinesis record fetched, for expired iterators */
	struct kinesis_call *call;
	int records_call;       /* call is a GetRecords: counted in fetches */
	struct event *ev_fetch; /* WAITING's timer; ENDING's retry */
	uint64_t last_call_ms;
	unsigned errors; /* consecutive failures, for the back-off */
	char **children; /* read at the shard's end */
	size_t n_children;
	struct metric_series *m_behind;

	/* delivering (deliver.c) */
	struct consumer_batch *cur;  /* being delivered */
	struct consumer_batch *next; /* prefetched */
	struct event *ev_batch;      /* the batch timeout */
	int cp_dirty;                /* cur's prefix moved: tell lease/ */
	int lease_busy;              /* a lease/ call with us as arg is out */
	int lost;                    /* the lease went elsewhere meanwhile */

	TAILQ_ENTRY(consumer_shard) entry;
	TAILQ_ENTRY(consumer_shard) queue; /* in fetch_queue while QUEUED */
};
TAILQ_HEAD(consumer_shard_list, consumer_shard);

struct consumers;

struct consumer {
	struct consumers *all;
	const struct conf_consumer *conf;
	enum consumer_state state;
	struct kinesis *kinesis;
	struct dynamo *dynamo;
	struct lease_manager *leases;
	struct consumer_shard_list shards;
	struct consumer_sub_list subs;
	size_t n_subs;
	size_t n_held; /* live shards (not DEAD, not being released) */
	struct consumer_shard *ack_cache; /* the shard of the last ack */
	struct event *ev_deadline;        /* shutdown: the batches' time */
	int shutdown;                     /* consumers_shutdown was called */

	/* The fetch budget (CONSUMER_FETCH_BUDGET): bytes of every shard's
	 * batches (cur and next), GetRecords in flight, and the shards
	 * waiting for their turn, oldest first. */
	size_t buffered;
	unsigned fetches;
	struct consumer_shard_list fetch_queue;
	uint64_t delivered, acked, redelivered, skipped, failures, fetched;
	struct metric_series *m_delivered, *m_acked, *m_redelivered, *m_skipped,
	    *m_held, *m_failures, *m_fetched;
};

struct consumer_list_req;
TAILQ_HEAD(consumer_list_reqs, consumer_list_req);

struct consumers {
	struct event_base *base;
	const struct conf *conf;
	struct ipc_server *ipc;
	struct metrics *metrics;
	struct metric *f_behind;
	struct consumer *v;
	size_t n;
	struct event *ev_work; /* deferred: pump, checkpoints, reaping */
	int work_scheduled;
	int shutting_down;
	int done_called;
	void (*done)(void *);
	void *done_arg;
	struct consumer_list_reqs lists;
	uint64_t rng;
	char *line; /* deliver.c: "record" lines are formatted here */
	size_t line_cap;
};

/* consumers.c */
void consumers_schedule(struct consumers *);
uint64_t consumers_now_ms(void);
uint32_t consumers_random(struct consumers *);
struct consumer *consumers_find(struct consumers *, const char *name);
void consumer_set_state(struct consumer *, enum consumer_state);
/* A shard's current batch is over during shutdown (or it has none). */
void consumer_drain_check(struct consumer *);

/* fetch.c */
struct consumer_shard *consumer_shard_new(struct consumer *, const char *id,
    const struct consumer_start *, char **cause);
void consumer_shard_free(struct consumer_shard *);
void consumer_shard_set_state(
    struct consumer_shard *, enum consumer_shard_state);
void consumer_shard_begin(struct consumer_shard *);
/* Stops fetching: cancels the call and the timer, leaves the fetch queue,
 * drops the prefetched batch.  The current batch stays. */
void consumer_shard_stop_fetching(struct consumer_shard *);
/* The current batch is over: fetch again if the prefetch slot was full,
 * or end the shard once everything read is done. */
void consumer_shard_batch_done(struct consumer_shard *);
/* Frees one of the shard's batches (cur or next), with the accounting. */
void consumer_shard_batch_free(
    struct consumer_shard *, struct consumer_batch *);
/* Batches were freed or a GetRecords ended: shards waiting for the fetch
 * budget go on, oldest first. */
void consumer_fetch_kick(struct consumer *);
int consumer_shard_live(const struct consumer_shard *);

/* deliver.c */
int consumer_ops_register(struct consumers *);
void consumer_conn_closed(struct consumers *, struct ipc_conn *);
/* Takes over a fetched batch (or frees it when empty). */
void consumer_shard_batch_ready(
    struct consumer_shard *, struct consumer_batch *);
/* A shard to deliver: to the least loaded subscriber, shard_started. */
void consumer_shard_assign_any(struct consumer_shard *);
/* Drops the shard's batches and its connection (with shard_lost when
 * send_lost); in-flight counts are given back. */
void consumer_shard_detach(struct consumer_shard *, int send_lost);
void consumer_shard_drop_batches(struct consumer_shard *);
/* Tells lease/ the acked prefix if it moved. */
void consumer_shard_checkpoint_push(struct consumer_shard *);
/* The batch timer's callback (arg: the shard). */
void consumer_batch_timeout(evutil_socket_t fd, short what, void *arg);
void consumer_shard_send(struct consumer_shard *, const char *op);
void consumer_pump(struct consumer *);
void consumer_rebalance(struct consumer *);

#endif
