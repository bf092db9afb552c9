/*
 * lease — KCL-compatible shard leases in a DynamoDB lease table (SPEC
 * section 4): the table's item codec, the taker and renewer of the KCL 2.x
 * algorithm, shard sync, resharding, release, and the checkpointer.
 *
 * One lease manager serves one consumer (one stream, one table, one worker
 * id).  It tells its owner, through struct lease_events, when a shard's
 * lease is acquired and when it is lost; the owner (consumer/) processes
 * the shard meanwhile and reports its acked progress with
 * lease_checkpoint_set(), which the checkpointer writes every
 * checkpointer.intervalMillis.
 *
 * Ownership: strings passed in are copied.  Everything handed to an
 * event callback or a completion callback is borrowed until it returns.
 * Every callback runs from the event loop, never from inside the call
 * that started the work.
 */
#ifndef KD_LEASE_H
#define KD_LEASE_H

#include <stddef.h>
#include <stdint.h>

struct dynamo;
struct event_base;
struct kinesis;
struct metrics;

/* Checkpoint sentinels, as the KCL writes them. */
#define LEASE_TRIM_HORIZON "TRIM_HORIZON"
#define LEASE_LATEST       "LATEST"
#define LEASE_AT_TIMESTAMP "AT_TIMESTAMP"
#define LEASE_SHARD_END    "SHARD_END"

struct lease_opts {
	const char *table;     /* kcl.tableName */
	const char *stream;    /* stream-name */
	const char *worker_id; /* kcl.workerId */
	/* Checkpoint written into leases that shard sync creates for shards
	 * without parents: TRIM_HORIZON, LATEST or AT_TIMESTAMP.  Children
	 * of a reshard always start at TRIM_HORIZON, as in the KCL. */
	const char *initial_checkpoint;
	uint64_t failover_time_millis;
	uint64_t shard_sync_interval_millis;
	uint64_t max_leases_for_worker;
	uint64_t max_leases_to_steal_at_one_time;
	uint64_t initial_lease_table_read_capacity; /* both 0: on-demand */
	uint64_t initial_lease_table_write_capacity;
	int cleanup_leases_upon_shard_completion;
	uint64_t parent_shard_poll_interval_millis;
	uint64_t checkpoint_interval_millis; /* checkpointer.intervalMillis */
	uint64_t checkpoint_backoff_millis;  /* checkpointer.backoffMillis */
	/* How often the taker scans the table; 0 (keep it so unless
	 * testing or tuning): the KCL's (failoverTimeMillis + 25) * 2.
	 * Zero-initialize the struct so fields added later default too. */
	uint64_t taker_interval_millis;
};

/* One lease as the table holds it (the `leases` op, acquired events). */
struct lease_info {
	const char *shard_id;
	const char *owner; /* NULL when unowned */
	uint64_t counter;
	const char *checkpoint; /* a sequence number or a sentinel */
	uint64_t checkpoint_subseq;
	const char *const *parents; /* parentShardId */
	size_t n_parents;
	const char *hash_start, *hash_end; /* NULL when absent */
};

struct lease_events {
	/* This worker holds the shard's lease now: process it from
	 * info->checkpoint.  A child is handed over only once every parent's
	 * lease is at SHARD_END (or gone). */
	void (*acquired)(const struct lease_info *info, void *arg);
	/* The lease went elsewhere (stolen, expired, renewals late by a whole
	 * failoverTimeMillis): stop handing out its records at once; acked
	 * progress not yet written is lost to this worker. */
	void (*lost)(const char *shard_id, void *arg);
	void *arg;
};

struct lease_manager;

/* dynamo and kinesis are borrowed and must outlive the manager. */
struct lease_manager *lease_manager_new(struct event_base *, struct dynamo *,
    struct kinesis *, struct metrics *, const struct lease_opts *,
    const struct lease_events *, char **cause);
/* Stops everything at once, without writing or calling back. */
void lease_manager_free(struct lease_manager *);

/* Begins taking leases (DescribeTable, CreateTable if missing, shard
 * sync, then the taker/renewer loop).  Idempotent. */
void lease_manager_start(struct lease_manager *);

typedef void (*lease_done_cb)(int ok, void *arg);
/*
 * Stops taking leases, writes every held lease's pending checkpoint, then
 * releases the held leases (owner removed) so other workers take them at
 * once; done runs when that is finished or has failed (ok 0).
 */
void lease_manager_stop(struct lease_manager *, lease_done_cb, void *arg);

/* The highest (seq, subseq) below which every record of the shard is
 * processed.  Never moves the checkpoint backwards; written by the
 * checkpointer within checkpointer.intervalMillis. */
void lease_checkpoint_set(struct lease_manager *, const char *shard_id,
    const char *seq, uint64_t subseq);
/* Writes the shard's pending checkpoint now. */
void lease_checkpoint_flush(
    struct lease_manager *, const char *shard_id, lease_done_cb, void *arg);

/* The shard is closed and fully processed: checkpoint SHARD_END, write
 * childShardIds, create the children's leases (and, with
 * cleanupLeasesUponShardCompletion, delete the parent's lease later). */
void lease_shard_end(struct lease_manager *, const char *shard_id,
    const char *const *children, size_t n_children, lease_done_cb, void *arg);

/* Writes the pending checkpoint, then gives the lease up (owner removed)
 * and takes no lease of that shard again until lease_manager_start() is
 * called anew (consumer_failure). */
void lease_release(
    struct lease_manager *, const char *shard_id, lease_done_cb, void *arg);

/* Whether this worker holds the shard's lease and its renewals are on
 * time. */
int lease_is_held(const struct lease_manager *, const char *shard_id);

/* A consistent scan of the whole table, for the `leases` op. */
typedef void (*lease_list_cb)(
    const struct lease_info *, size_t n, const char *err, void *arg);
void lease_list(struct lease_manager *, lease_list_cb, void *arg);

/* -1, 0, 1 comparing two decimal sequence numbers (no sentinels). */
int lease_seq_cmp(const char *a, const char *b);

/* The manager's lifecycle state, for logs and stats: IDLE,
 * CREATING_TABLE, SYNCING, RUNNING, STOPPING or STOPPED (static). */
const char *lease_manager_strstate(const struct lease_manager *);
/* How many leases lease_is_held() would say yes to. */
size_t lease_manager_held_count(const struct lease_manager *);
/* The monotonic clock, in ms, that judges expiry and renewal lateness
 * (default CLOCK_MONOTONIC; NULL restores it); for tests. */
void lease_manager_set_clock(
    struct lease_manager *, uint64_t (*now_ms)(void *arg), void *arg);

#endif
