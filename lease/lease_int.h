/*
 * lease_int.h — private to lease/: the item codec (item.c), the taker's
 * pure choice function (taker.c), the shard sync plan and run (sync.c),
 * the table's requests and conditional writes (table.c), the held-lease
 * state machine (held.c), and the manager: lifecycle and timers
 * (manager.c), notes and per-shard calls (api.c).
 *
 * Only the files of lease/ and tests/unit/test_lease.c include it.
 */
#ifndef KD_LEASE_INT_H
#define KD_LEASE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "lease/lease.h"

typedef struct cJSON cJSON;
struct event;
struct kinesis_shard;
struct lease_manager;
struct metric;
struct metric_series;

/* The KCL's attribute names (SPEC section 4). */
#define LEASE_A_KEY         "leaseKey"
#define LEASE_A_OWNER       "leaseOwner"
#define LEASE_A_COUNTER     "leaseCounter"
#define LEASE_A_CHECKPOINT  "checkpoint"
#define LEASE_A_SUBSEQ      "checkpointSubSequenceNumber"
#define LEASE_A_PENDING     "pendingCheckpoint"
#define LEASE_A_PENDING_SUB "pendingCheckpointSubSequenceNumber"
#define LEASE_A_SWITCHES    "ownerSwitchesSinceCheckpoint"
#define LEASE_A_PARENTS     "parentShardId"
#define LEASE_A_CHILDREN    "childShardIds"
#define LEASE_A_HASH_START  "startingHashKey"
#define LEASE_A_HASH_END    "endingHashKey"
#define LEASE_A_ENTITY      "entityType"

/* ---- item.c: one lease item, decoded ------------------------------------- */

/* Every string is owned by the struct; lease_item_clear frees them. */
struct lease_item {
	char *shard_id;
	char *owner; /* NULL: unowned */
	uint64_t counter;
	char *checkpoint; /* NULL when the item has none */
	uint64_t checkpoint_subseq;
	char *pending_checkpoint; /* read only to be shown; never written */
	uint64_t pending_subseq;
	int has_pending_subseq;
	uint64_t owner_switches;
	char **parents;
	size_t n_parents;
	char **children;
	size_t n_children;
	char *hash_start, *hash_end;
};

enum lease_decode {
	LEASE_DECODE_OK,
	LEASE_DECODE_SKIP, /* entityType present and not LEASE */
	LEASE_DECODE_BAD,  /* *cause says why (static text) */
};

/* Decodes a DynamoDB attribute map.  On OK *out owns copies; otherwise
 * *out is left cleared. */
enum lease_decode lease_item_decode(
    const cJSON *item, struct lease_item *out, const char **cause);
/* The item as PutItem writes it (new leases); NULL when out of memory. */
cJSON *lease_item_encode(const struct lease_item *);
void lease_item_clear(struct lease_item *);
/* Deep copy; 0, or -1 (dst cleared) when out of memory. */
int lease_item_copy(struct lease_item *dst, const struct lease_item *src);
/* A borrowed view for callbacks; valid while the item is unchanged. */
void lease_item_info(const struct lease_item *, struct lease_info *);
int lease_item_has_parent(const struct lease_item *, const char *shard_id);

/* TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END. */
int lease_is_sentinel(const char *checkpoint);
/* Non-empty, decimal digits only. */
int lease_seq_valid(const char *seq);
/* Whether a lease with this checkpoint has begun processing: anything
 * but the starting sentinels (and no checkpoint at all). */
int lease_checkpoint_begun(const char *checkpoint);

/* ---- taker.c: which leases to take (KCL 2.x DynamoDBLeaseTaker) ---------- */

enum lease_cand_kind {
	LEASE_CAND_OK,
	/* Counted, but never taken by this worker: one it released with
	 * lease_release(). */
	LEASE_CAND_NOT_FOR_ME,
	/* Left out of every count: at SHARD_END, or a child whose parents
	 * are not all at SHARD_END yet. */
	LEASE_CAND_IGNORE,
};

struct lease_cand {
	const char *shard_id;
	const char *owner; /* NULL: unowned */
	/* Monotonic ms at which the scan first saw the current counter. */
	uint64_t changed_ms;
	/* New and unowned when first seen, unchanged since: never renewed,
	 * older than anything (the KCL's lastCounterIncrementNanos = 0). */
	int never_changed;
	enum lease_cand_kind kind;
};

struct lease_taker_params {
	const char *worker_id;
	uint64_t now_ms;
	uint64_t failover_ms;
	uint64_t max_leases_for_worker; /* 0: unlimited */
	uint64_t max_leases_to_steal;   /* 0: 1 */
	uint64_t very_old_multiplier;   /* 0: 3, as the KCL */
	uint32_t (*rnd)(void *arg); /* shuffles candidates; NULL: keep order */
	void *rnd_arg;
};

struct lease_take {
	size_t idx; /* into the lease_cand array */
	int steal;  /* owned by a live worker */
	int very_old;
};

/* What the taker's round would take, and why (for logs and tests). */
struct lease_taker_stats {
	size_t leases, workers, available, very_old;
	uint64_t target, mine;
};

/*
 * The KCL 2.x choice, pure: leases expired or unowned are available;
 * workers are the distinct owners of the others, plus me; leases expired
 * for very_old_multiplier failovers are taken first, disregarding the
 * target but not max_leases_for_worker; otherwise available leases up to
 * target = ceil(leases / workers) (capped by max_leases_for_worker);
 * otherwise up to max_leases_to_steal from the most loaded worker when it
 * holds more than the target (or as many, when I need more than one).
 * out must have room for n entries; returns how many were chosen.
 */
size_t lease_taker_choose(const struct lease_cand *, size_t n,
    const struct lease_taker_params *, struct lease_take *out,
    struct lease_taker_stats *stats);

/* ---- sync.c: which leases shard sync creates (KCL ShardSyncer) ----------- */

/*
 * For each open shard without a lease, a new lease, and leases for its
 * ancestors as the KCL creates them: a shard descending from a leased
 * shard starts at TRIM_HORIZON; the others at initial (for TRIM_HORIZON
 * and AT_TIMESTAMP their ancestors get leases too, for LATEST not).
 * Ancestors come before descendants in *out (create them in that order
 * so no child is ever seen without its parent's lease).  *out is a
 * malloc'd array of items the caller clears and frees.  0, or -1 when out
 * of memory.
 */
int lease_sync_plan(const struct kinesis_shard *shards, size_t n_shards,
    const struct lease_item *leases, size_t n_leases, const char *initial,
    struct lease_item **out, size_t *n_out);

/*
 * Leases of shards that are gone from the stream: a closed shard that
 * outlived its retention period before it was processed to SHARD_END.
 * Nothing can read it any more, yet its lease would block its children
 * for ever (the parent check).  A lease is a suspect when its shard is
 * not in the listing, is older than the newest shard listed (shard ids
 * are numbered in creation order, so a listing that is merely behind
 * misses only newer shards), and none of its parents is listed (a parent
 * expires before its children).  Ids not of the form shardId-<digits>,
 * and leases at SHARD_END (they block nobody), are never suspects.  *out gets
 * malloc'd copies of the suspects' ids (the caller frees them with
 * lease_strv_free).  0, or -1 when out of memory.
 */
int lease_sync_expired(const struct kinesis_shard *shards, size_t n_shards,
    const struct lease_item *leases, size_t n_leases, char ***out,
    size_t *n_out);

/* ---- table.c: the lease table's requests --------------------------------- */

enum lease_op {
	LEASE_OP_CREATE,
	LEASE_OP_RENEW,
	LEASE_OP_TAKE,
	LEASE_OP_STEAL,
	LEASE_OP_CHECKPOINT,
	LEASE_OP_SHARD_END,
	LEASE_OP_RELEASE,
	LEASE_OP_DELETE,
	LEASE_OP_DELETE_EXPIRED, /* a shard gone from the stream; on counter */
};
const char *lease_op_name(enum lease_op);

enum lease_result {
	LEASE_RES_OK,
	LEASE_RES_LOST,      /* the condition failed and the re-read agrees */
	LEASE_RES_THROTTLED, /* ProvisionedThroughputExceeded, ... */
	LEASE_RES_FAILED,    /* anything else; worth another try later */
};
const char *lease_result_name(enum lease_result);

struct lease_table;
struct lease_req;

/* dynamo and metrics are borrowed; strings copied. */
struct lease_table *lease_table_new(struct event_base *, struct dynamo *,
    struct metrics *, const char *table, const char *worker_id);
/* Cancels every request without calling back. */
void lease_table_free(struct lease_table *);
const char *lease_table_name(const struct lease_table *);
void lease_table_count(struct lease_table *, enum lease_op, enum lease_result);

/* Cancels a request; its callback will not run.  A no-op from inside
 * that callback (the request is freed once it returns). */
void lease_req_cancel(struct lease_req *);

/* DescribeTable; CreateTable when missing; polls until ACTIVE.  Retries
 * failures forever with back-off (logged); cb runs once, when ACTIVE. */
struct lease_table_create_params {
	long read_capacity, write_capacity; /* both 0: on-demand */
};
typedef void (*lease_ready_cb)(void *arg);
struct lease_req *lease_table_ensure(struct lease_table *,
    const struct lease_table_create_params *, lease_ready_cb, void *arg);

/* A consistent scan; items (decoded, KCL 3 entities skipped, malformed
 * ones logged and skipped) are borrowed until cb returns.  err is NULL on
 * success. */
typedef void (*lease_scan_cb)(
    const struct lease_item *items, size_t n, const char *err, void *arg);
struct lease_req *lease_table_scan(
    struct lease_table *, lease_scan_cb, void *arg);

struct lease_write_params {
	enum lease_op op;
	const char *shard_id;
	uint64_t counter;       /* the leaseCounter the write expects (not for
	                         * CREATE and DELETE) */
	const char *old_owner;  /* TAKE/STEAL: the owner expected (NULL none) */
	const char *checkpoint; /* CHECKPOINT */
	uint64_t subseq;
	const char *const *children; /* SHARD_END: childShardIds */
	size_t n_children;
	const struct lease_item *item; /* CREATE */
};
/* why: a short reason for logs (borrowed until cb returns), or NULL. */
typedef void (*lease_write_cb)(enum lease_result, const char *why, void *arg);
/* NULL when out of memory (cb never runs). */
struct lease_req *lease_table_write(struct lease_table *,
    const struct lease_write_params *, lease_write_cb, void *arg);

/* ---- held.c: one lease this worker takes or holds --------------------------
 */

/*
 * Every lease this worker takes, holds or gives up walks these states;
 * lease_held_set_state() is the only place that changes them (logged at
 * debug level as old -> new).
 *
 *   UNOWNED -> TAKING -> HELD <-> RENEWING | CHECKPOINTING
 *   HELD -> ENDING -> ENDED;  HELD -> RELEASING -> RELEASED
 *   TAKING -> DROPPED (not taken);  any held state -> LOST
 *
 * ENDED, RELEASED, LOST and DROPPED are final: the manager reaps the
 * struct at its next safe point.
 */
enum lease_state {
	LEASE_UNOWNED,
	LEASE_TAKING,
	LEASE_HELD,
	LEASE_RENEWING,
	LEASE_CHECKPOINTING,
	LEASE_ENDING,
	LEASE_RELEASING,
	LEASE_ENDED,
	LEASE_RELEASED,
	LEASE_LOST,
	LEASE_DROPPED,
};
const char *lease_strstate(enum lease_state);

struct lease_waiter {
	lease_done_cb cb;
	void *arg;
	TAILQ_ENTRY(lease_waiter) entry;
};
TAILQ_HEAD(lease_waiters, lease_waiter);

struct lease_held {
	struct lease_manager *m;
	enum lease_state state;
	/* The lease as this worker last wrote it: item.counter is what the
	 * next write expects, item.checkpoint what the table holds. */
	struct lease_item item;
	uint64_t renewed_ms;   /* monotonic send time of the last good write */
	struct lease_req *req; /* the write in flight, at most one */
	uint64_t req_sent_ms;
	int stolen; /* TAKING: from a live owner */

	/* Checkpointer: the value to write; never behind item.checkpoint. */
	char *pending;
	uint64_t pending_subseq;
	char *writing; /* CHECKPOINTING: the value in flight */
	uint64_t writing_subseq;
	int ckpt_due;             /* the checkpointer's interval came round */
	int renew_due;            /* the renewer's interval came round */
	struct event *backoff_ev; /* throttled: wait backoffMillis */
	int backing_off;

	int release_req; /* give it up once the pending checkpoint is out */
	unsigned release_tries;
	int release_failed; /* gave up releasing: it will expire instead */
	int end_req;        /* write SHARD_END */
	char **end_children;
	size_t n_end_children;

	struct lease_waiters flush_waiters;
	struct lease_waiters release_waiters;
	struct lease_waiters end_waiters;
	TAILQ_ENTRY(lease_held) entry;
};
TAILQ_HEAD(lease_held_list, lease_held);

/* Takes ownership of nothing; copies item.  NULL when out of memory. */
struct lease_held *lease_held_new(
    struct lease_manager *, const struct lease_item *item);
/* Cancels its request and timer; waiters are dropped without a call. */
void lease_held_free(struct lease_held *);
void lease_held_set_state(struct lease_held *, enum lease_state);
int lease_held_final(const struct lease_held *);
/* Starts the take (UNOWNED -> TAKING); -1 when nothing was started. */
int lease_held_take(struct lease_held *, int steal);
/* Starts the next write this lease needs, when none is in flight. */
void lease_held_kick(struct lease_held *);
/* Cancels the write in flight, fails every waiter (ok 0) and goes
 * LOST, telling events.lost() when announce is set. */
void lease_held_lose(struct lease_held *, const char *why, int announce);
/* Records a new pending checkpoint if it moves forward. */
void lease_held_checkpoint_set(
    struct lease_held *, const char *seq, uint64_t subseq);
int lease_held_dirty(const struct lease_held *);
void lease_held_add_waiter(struct lease_waiters *, lease_done_cb, void *);

/* ---- manager.c: the parts held.c and sync.c call back into --------------- */

uint64_t lease_manager_now(const struct lease_manager *);
const struct lease_opts *lease_manager_opts(const struct lease_manager *);
struct lease_table *lease_manager_table(const struct lease_manager *);
struct event_base *lease_manager_base(const struct lease_manager *);
/* Queues a user callback; every user callback runs from one event. */
void lease_manager_note_done(
    struct lease_manager *, lease_done_cb, void *, int ok);
void lease_manager_note_acquired(
    struct lease_manager *, const struct lease_item *);
void lease_manager_note_lost(struct lease_manager *, const char *shard_id);
/* A held lease changed state: the gauge follows; a final one is reaped
 * at the next safe point. */
void lease_manager_held_changed(struct lease_manager *, struct lease_held *);
/* SHARD_END is written: sync shards (children), then the taker. */
/* Takes over the waiters (moved out of *waiters). */
void lease_manager_shard_ended(struct lease_manager *, const char *shard_id,
    char *const *children, size_t n_children, struct lease_waiters *waiters);
void lease_manager_count_checkpoint(struct lease_manager *, const char *res);
void lease_manager_count_lost(struct lease_manager *);

/* ---- sync.c: the shard sync run ------------------------------------------ */

struct lease_sync;
/* Called once when the run ends; ok 0 when ListShards or the scan failed. */
typedef void (*lease_sync_done_cb)(int ok, void *arg);
struct lease_sync_child {
	char *child;
	char *parent;
};
/*
 * ListShards, a scan, the plan's creates one by one (ancestors first),
 * fallback leases for extra children that ListShards did not show yet,
 * then (cleanup) deletes of SHARD_END leases whose children all began.
 * extra is borrowed until the call returns.
 */
struct lease_sync *lease_sync_start(struct lease_manager *, struct kinesis *,
    const struct lease_sync_child *extra, size_t n_extra, lease_sync_done_cb,
    void *arg);
void lease_sync_free(struct lease_sync *);

/* ---- manager.c, api.c: the manager --------------------------------------- */

enum lease_mgr_state {
	LEASE_MGR_IDLE,
	LEASE_MGR_CREATING_TABLE,
	LEASE_MGR_SYNCING,
	LEASE_MGR_RUNNING,
	LEASE_MGR_STOPPING,
	LEASE_MGR_STOPPED,
};

/* One lease as the taker's last scan saw it (the KCL's allLeases). */
struct lease_seen {
	struct lease_item item;
	uint64_t changed_ms;
	int never_changed;
};

enum note_type {
	NOTE_ACQUIRED,
	NOTE_LOST,
	NOTE_DONE,
	NOTE_LIST,
};

struct lease_note {
	enum note_type type;
	struct lease_item item; /* ACQUIRED; LOST: shard_id only */
	lease_done_cb done;
	lease_list_cb list;
	void *arg;
	int ok;
	struct lease_item *items; /* LIST */
	size_t n_items;
	char *err;
	int oom; /* LIST: report "out of memory" */
	TAILQ_ENTRY(lease_note) entry;
};

struct lease_lister {
	struct lease_manager *m;
	struct lease_req *req;
	lease_list_cb cb;
	void *arg;
	TAILQ_ENTRY(lease_lister) entry;
};

struct lease_manager {
	struct event_base *base;
	struct kinesis *kinesis;
	struct lease_table *table;
	struct lease_opts o; /* strings below are owned copies */
	char *s_table, *s_stream, *s_worker, *s_initial;
	struct lease_events ev;
	enum lease_mgr_state state;
	uint64_t (*now)(void *);
	void *now_arg;
	uint32_t rng;

	struct lease_req *ensure;
	/* taker */
	struct event *taker_ev;
	struct lease_req *scan;
	int taker_soon; /* run again as soon as the scan in flight ends */
	struct lease_seen *seen; /* sorted by shard id */
	size_t n_seen;
	/* renewer, checkpointer */
	struct event *renew_ev;
	struct event *ckpt_ev;
	/* shard sync */
	struct event *sync_ev;
	struct lease_sync *sync;
	struct lease_sync *sync_dead; /* finished, freed from defer_cb */
	int sync_again;
	struct lease_sync_child *extra; /* children named at SHARD_END */
	size_t n_extra;
	struct lease_waiters sync_next; /* shard ends: done after a sync */
	struct lease_waiters sync_cur;

	struct lease_held_list held;
	struct lease_held_list dead; /* final, freed at the next safe point */
	char **banned;               /* lease_release()d: not taken again */
	size_t n_banned;

	struct lease_waiters stop_waiters;
	int stop_ok;
	int restart;

	TAILQ_HEAD(, lease_note) notes;
	TAILQ_HEAD(, lease_lister) listers;
	struct event *defer_ev;
	int flushing, dying;

	struct metric_series *m_held;
	struct metric *m_ckpt;
	struct metric_series *m_lost;
};

struct lease_held *lease_manager_find_held(
    const struct lease_manager *, const char *shard_id);
int lease_manager_banned(const struct lease_manager *, const char *shard_id);
/* Queues every waiter's completion and empties the list. */
void lease_manager_waiters_done(
    struct lease_manager *, struct lease_waiters *, int ok);
/* Makes the deferred event run: notes, and reaping of final leases. */
void lease_manager_defer(struct lease_manager *);
void lease_manager_deliver_notes(struct lease_manager *);
void lease_manager_clear_notes(struct lease_manager *);

/* ---- helpers shared by the folder ---------------------------------------- */

char *lease_strdup(const char *); /* NULL in, NULL out */
void lease_strv_free(char **, size_t);
/* Copies n strings; 0, or -1 (nothing allocated) when out of memory. */
int lease_strv_copy(char ***dst, const char *const *src, size_t n);

#endif
