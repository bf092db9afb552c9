/*
 * held.c — one lease this worker takes, holds and gives up: an explicit
 * state machine (lease_int.h draws it) with at most one write in flight.
 *
 * Renewals, checkpoints, SHARD_END and the release all bump leaseCounter
 * and are all conditional on it, so two of them in flight at once would
 * fail each other's condition.  They are therefore serialized here: a
 * request that comes while a write is in flight is remembered (a flag, a
 * waiter) and lease_held_kick() starts it once the write is back.  Every
 * write renews the lease, so a renewal is only needed when nothing else
 * was written during the renewer's interval.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lease/lease_int.h"
#include "log/log.h"

/* A release is retried this many times, then left to expire. */
#define RELEASE_TRIES 3

static const char *const state_names[] = {
    "UNOWNED",
    "TAKING",
    "HELD",
    "RENEWING",
    "CHECKPOINTING",
    "ENDING",
    "RELEASING",
    "ENDED",
    "RELEASED",
    "LOST",
    "DROPPED",
};

const char *
lease_strstate(enum lease_state s)
{
	if ((size_t)s < sizeof(state_names) / sizeof(*state_names))
		return state_names[s];
	return "?";
}

int
lease_held_final(const struct lease_held *h)
{
	return h->state >= LEASE_ENDED;
}

void
lease_held_set_state(struct lease_held *h, enum lease_state s)
{
	if (h->state == s)
		return;
	log_debug("lease", "%s: %s -> %s", h->item.shard_id,
	    lease_strstate(h->state), lease_strstate(s));
	h->state = s;
	lease_manager_held_changed(h->m, h);
}

static void backoff_cb(evutil_socket_t, short, void *);

struct lease_held *
lease_held_new(struct lease_manager *m, const struct lease_item *item)
{
	struct lease_held *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->m = m;
	h->state = LEASE_UNOWNED;
	TAILQ_INIT(&h->flush_waiters);
	TAILQ_INIT(&h->release_waiters);
	TAILQ_INIT(&h->end_waiters);
	if (lease_item_copy(&h->item, item) != 0 ||
	    (h->backoff_ev = evtimer_new(
	         lease_manager_base(m), backoff_cb, h)) == NULL) {
		lease_held_free(h);
		return NULL;
	}
	return h;
}

static void
waiters_drop(struct lease_waiters *ws)
{
	struct lease_waiter *w;

	while ((w = TAILQ_FIRST(ws)) != NULL) {
		TAILQ_REMOVE(ws, w, entry);
		free(w);
	}
}

/* Hands every waiter its result; the calls run later, from the loop. */
static void
waiters_done(struct lease_held *h, struct lease_waiters *ws, int ok)
{
	struct lease_waiter *w;

	while ((w = TAILQ_FIRST(ws)) != NULL) {
		TAILQ_REMOVE(ws, w, entry);
		lease_manager_note_done(h->m, w->cb, w->arg, ok);
		free(w);
	}
}

void
lease_held_add_waiter(struct lease_waiters *ws, lease_done_cb cb, void *arg)
{
	struct lease_waiter *w;

	if (cb == NULL)
		return;
	/* Out of memory: the caller's done is lost, the work still done. */
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warnx("lease", "out of memory for a completion");
		return;
	}
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(ws, w, entry);
}

void
lease_held_free(struct lease_held *h)
{
	if (h == NULL)
		return;
	lease_req_cancel(h->req);
	if (h->backoff_ev != NULL)
		event_free(h->backoff_ev);
	waiters_drop(&h->flush_waiters);
	waiters_drop(&h->release_waiters);
	waiters_drop(&h->end_waiters);
	lease_item_clear(&h->item);
	free(h->pending);
	free(h->writing);
	lease_strv_free(h->end_children, h->n_end_children);
	free(h);
}

static const char *
held_me(const struct lease_held *h)
{
	return lease_manager_opts(h->m)->worker_id;
}

/* ---- checkpoint values ------------------------------------------------------
 */

int
lease_held_dirty(const struct lease_held *h)
{
	if (h->pending == NULL)
		return 0;
	return h->item.checkpoint == NULL ||
	       strcmp(h->pending, h->item.checkpoint) != 0 ||
	       h->pending_subseq != h->item.checkpoint_subseq;
}

void
lease_held_checkpoint_set(
    struct lease_held *h, const char *seq, uint64_t subseq)
{
	const char *base;
	uint64_t base_sub;
	char *dup;
	int c;

	if (lease_held_final(h) || h->state == LEASE_UNOWNED ||
	    h->state == LEASE_TAKING || h->end_req)
		return;
	base = h->pending != NULL ? h->pending : h->item.checkpoint;
	base_sub =
	    h->pending != NULL ? h->pending_subseq : h->item.checkpoint_subseq;
	if (base != NULL && strcmp(base, LEASE_SHARD_END) == 0)
		return;
	/* A sentinel (TRIM_HORIZON, ...) is before every record. */
	if (lease_seq_valid(base)) {
		c = lease_seq_cmp(seq, base);
		if (c < 0 || (c == 0 && subseq <= base_sub)) {
			log_trace("lease",
			    "%s: checkpoint %s/%llu is not "
			    "past %s/%llu; ignored",
			    h->item.shard_id, seq, (unsigned long long)subseq,
			    base, (unsigned long long)base_sub);
			return;
		}
	}
	if ((dup = strdup(seq)) == NULL) {
		log_warnx("lease", "out of memory for a checkpoint");
		return;
	}
	free(h->pending);
	h->pending = dup;
	h->pending_subseq = subseq;
}

/* ---- writes -----------------------------------------------------------------
 */

static void held_written(enum lease_result, const char *, void *);

static void
held_backoff(struct lease_held *h)
{
	uint64_t ms = lease_manager_opts(h->m)->checkpoint_backoff_millis;
	struct timeval tv;

	if (ms == 0)
		ms = 3000;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	h->backing_off = 1;
	evtimer_add(h->backoff_ev, &tv);
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease_held *h = arg;

	(void)fd;
	(void)what;
	h->backing_off = 0;
	h->ckpt_due = 1;
	lease_held_kick(h);
}

/* Starts op; 0, or -1 when nothing could be sent (tried again later). */
static int
held_write(struct lease_held *h, enum lease_op op)
{
	struct lease_write_params wp;
	enum lease_state next;

	memset(&wp, 0, sizeof(wp));
	wp.op = op;
	wp.shard_id = h->item.shard_id;
	wp.counter = h->item.counter;
	switch (op) {
	case LEASE_OP_RENEW:
		next = LEASE_RENEWING;
		break;
	case LEASE_OP_CHECKPOINT:
		free(h->writing);
		if ((h->writing = strdup(h->pending)) == NULL)
			return -1;
		h->writing_subseq = h->pending_subseq;
		wp.checkpoint = h->writing;
		wp.subseq = h->writing_subseq;
		next = LEASE_CHECKPOINTING;
		break;
	case LEASE_OP_SHARD_END:
		wp.children = (const char *const *)h->end_children;
		wp.n_children = h->n_end_children;
		next = LEASE_ENDING;
		break;
	case LEASE_OP_RELEASE:
		next = LEASE_RELEASING;
		break;
	default:
		return -1;
	}
	h->req_sent_ms = lease_manager_now(h->m);
	if ((h->req = lease_table_write(
	         lease_manager_table(h->m), &wp, held_written, h)) == NULL) {
		log_warnx("lease", "%s: out of memory for a %s",
		    h->item.shard_id, lease_op_name(op));
		return -1;
	}
	/* Every write renews: no separate renewal this interval. */
	h->renew_due = 0;
	if (op == LEASE_OP_CHECKPOINT)
		h->ckpt_due = 0;
	lease_held_set_state(h, next);
	return 0;
}

void
lease_held_kick(struct lease_held *h)
{
	int dirty = lease_held_dirty(h);

	if (h->req != NULL || h->state != LEASE_HELD)
		return;
	if (!h->backing_off) {
		if (h->end_req) {
			held_write(h, LEASE_OP_SHARD_END);
			return;
		}
		if (dirty && (h->ckpt_due || h->release_req ||
		                 !TAILQ_EMPTY(&h->flush_waiters))) {
			held_write(h, LEASE_OP_CHECKPOINT);
			return;
		}
		if (!dirty && !TAILQ_EMPTY(&h->flush_waiters))
			waiters_done(h, &h->flush_waiters, 1);
		if (h->release_req && !dirty) {
			held_write(h, LEASE_OP_RELEASE);
			return;
		}
	}
	if (h->renew_due)
		held_write(h, LEASE_OP_RENEW);
}

void
lease_held_lose(struct lease_held *h, const char *why, int announce)
{
	if (lease_held_final(h))
		return;
	lease_req_cancel(h->req);
	h->req = NULL;
	evtimer_del(h->backoff_ev);
	h->backing_off = 0;
	waiters_done(h, &h->flush_waiters, 0);
	waiters_done(h, &h->release_waiters, h->release_req);
	waiters_done(h, &h->end_waiters, 0);
	if (announce) {
		log_info(
		    "lease", "lost the lease of %s: %s", h->item.shard_id, why);
		lease_manager_count_lost(h->m);
		lease_manager_note_lost(h->m, h->item.shard_id);
	} else {
		log_info("lease", "%s: %s", h->item.shard_id, why);
	}
	lease_held_set_state(h, LEASE_LOST);
}

/* A good write: counter bumped, renewal time as of the send, and no
 * renewal owed for a tick that came while it was in flight. */
static void
held_bumped(struct lease_held *h)
{
	h->item.counter++;
	h->renewed_ms = h->req_sent_ms;
	h->renew_due = 0;
}

static void
held_renewed(struct lease_held *h, enum lease_result r, const char *why)
{
	switch (r) {
	case LEASE_RES_OK:
		held_bumped(h);
		break;
	case LEASE_RES_LOST:
		lease_held_lose(h, why != NULL ? why : "renewal refused", 1);
		return;
	case LEASE_RES_THROTTLED:
	case LEASE_RES_FAILED:
		/* Next interval; the lease is lost only when a whole
		 * failoverTimeMillis passes without a good write. */
		log_debug("lease", "renewing %s: %s", h->item.shard_id,
		    why != NULL ? why : lease_result_name(r));
		break;
	}
	lease_held_set_state(h, LEASE_HELD);
}

static void
held_checkpointed(struct lease_held *h, enum lease_result r, const char *why)
{
	switch (r) {
	case LEASE_RES_OK:
		held_bumped(h);
		free(h->item.checkpoint);
		h->item.checkpoint = h->writing;
		h->item.checkpoint_subseq = h->writing_subseq;
		h->item.owner_switches = 0;
		h->writing = NULL;
		lease_manager_count_checkpoint(h->m, "ok");
		lease_held_set_state(h, LEASE_HELD);
		if (!lease_held_dirty(h))
			waiters_done(h, &h->flush_waiters, 1);
		return;
	case LEASE_RES_LOST:
		lease_manager_count_checkpoint(h->m, "failed");
		lease_held_lose(h, why != NULL ? why : "checkpoint refused", 1);
		return;
	case LEASE_RES_THROTTLED:
		/* The message reactive-kinesis logs, word for word. */
		log_warnx("lease",
		    "Throttled by DynamoDB on checkpointing -- backing off...");
		lease_manager_count_checkpoint(h->m, "throttled");
		lease_held_set_state(h, LEASE_HELD);
		held_backoff(h);
		return;
	case LEASE_RES_FAILED:
		log_warnx("lease", "checkpointing %s at %s: %s",
		    h->item.shard_id, h->writing, why != NULL ? why : "failed");
		lease_manager_count_checkpoint(h->m, "failed");
		lease_held_set_state(h, LEASE_HELD);
		waiters_done(h, &h->flush_waiters, 0);
		if (h->release_req && ++h->release_tries >= RELEASE_TRIES) {
			/* Give the lease up rather than hold it forever;
			 * the next owner resumes from the older
			 * checkpoint (records are delivered again). */
			log_warnx("lease",
			    "%s: releasing without the last "
			    "checkpoint",
			    h->item.shard_id);
			free(h->pending);
			h->pending = NULL;
			h->release_tries = 0;
		} else if (h->release_req) {
			held_backoff(h);
		}
		return;
	}
}

static void
held_ended(struct lease_held *h, enum lease_result r, const char *why)
{
	switch (r) {
	case LEASE_RES_OK:
		held_bumped(h);
		free(h->item.owner);
		h->item.owner = NULL;
		free(h->pending);
		h->pending = NULL;
		log_info("lease", "%s is at SHARD_END", h->item.shard_id);
		/* SHARD_END is past any checkpoint still pending. */
		waiters_done(h, &h->flush_waiters, 1);
		waiters_done(h, &h->release_waiters, 1);
		lease_manager_shard_ended(h->m, h->item.shard_id,
		    h->end_children, h->n_end_children, &h->end_waiters);
		lease_held_set_state(h, LEASE_ENDED);
		return;
	case LEASE_RES_LOST:
		lease_held_lose(
		    h, "SHARD_END refused: another worker holds the lease", 0);
		return;
	case LEASE_RES_THROTTLED:
		log_warnx("lease", "Throttled by DynamoDB on checkpointing -- "
		                   "backing off...");
		lease_manager_count_checkpoint(h->m, "throttled");
		lease_held_set_state(h, LEASE_HELD);
		held_backoff(h);
		return;
	case LEASE_RES_FAILED:
		log_warnx("lease", "writing SHARD_END for %s: %s",
		    h->item.shard_id, why != NULL ? why : "failed");
		h->end_req = 0;
		waiters_done(h, &h->end_waiters, 0);
		lease_held_set_state(h, LEASE_HELD);
		return;
	}
}

static void
held_released(struct lease_held *h, enum lease_result r, const char *why)
{
	switch (r) {
	case LEASE_RES_OK:
	case LEASE_RES_LOST: /* someone else's now: given up all the same */
		log_info("lease", "released the lease of %s", h->item.shard_id);
		waiters_done(h, &h->flush_waiters, !lease_held_dirty(h));
		waiters_done(h, &h->release_waiters, 1);
		waiters_done(h, &h->end_waiters, 0);
		lease_held_set_state(h, LEASE_RELEASED);
		return;
	case LEASE_RES_THROTTLED:
	case LEASE_RES_FAILED:
		if (++h->release_tries < RELEASE_TRIES) {
			lease_held_set_state(h, LEASE_HELD);
			held_backoff(h);
			return;
		}
		log_warnx("lease",
		    "could not release %s (%s); it expires "
		    "after failoverTimeMillis instead",
		    h->item.shard_id, why != NULL ? why : "failed");
		h->release_failed = 1;
		waiters_done(h, &h->flush_waiters, 0);
		waiters_done(h, &h->release_waiters, 0);
		waiters_done(h, &h->end_waiters, 0);
		lease_held_set_state(h, LEASE_RELEASED);
		return;
	}
}

static void
held_written(enum lease_result r, const char *why, void *arg)
{
	struct lease_held *h = arg;

	h->req = NULL;
	switch (h->state) {
	case LEASE_RENEWING:
		held_renewed(h, r, why);
		break;
	case LEASE_CHECKPOINTING:
		held_checkpointed(h, r, why);
		break;
	case LEASE_ENDING:
		held_ended(h, r, why);
		break;
	case LEASE_RELEASING:
		held_released(h, r, why);
		break;
	default:
		return;
	}
	if (!lease_held_final(h))
		lease_held_kick(h);
}

/* ---- taking -------------------------------------------------------------- */

static void
held_taken(enum lease_result r, const char *why, void *arg)
{
	struct lease_held *h = arg;
	const char *me = held_me(h);
	char *old;

	h->req = NULL;
	if (r != LEASE_RES_OK) {
		log_debug("lease", "could not take %s: %s", h->item.shard_id,
		    why != NULL ? why : lease_result_name(r));
		/* A release asked for meanwhile is done: it is not ours. */
		waiters_done(h, &h->release_waiters, 1);
		waiters_done(h, &h->flush_waiters, 0);
		waiters_done(h, &h->end_waiters, 0);
		lease_held_set_state(h, LEASE_DROPPED);
		return;
	}
	held_bumped(h);
	old = h->item.owner;
	if (old != NULL && strcmp(old, me) != 0)
		h->item.owner_switches++;
	if ((h->item.owner = strdup(me)) == NULL) {
		/* Cannot even say who holds it: let it expire. */
		h->item.owner = old;
		lease_held_lose(h, "out of memory", 0);
		return;
	}
	log_info("lease", "%s the lease of %s%s%s at %s",
	    h->stolen ? "stole" : "took", h->item.shard_id,
	    old != NULL ? " from " : "", old != NULL ? old : "",
	    h->item.checkpoint != NULL ? h->item.checkpoint : "(none)");
	free(old);
	lease_held_set_state(h, LEASE_HELD);
	if (!h->release_req)
		lease_manager_note_acquired(h->m, &h->item);
	lease_held_kick(h);
}

int
lease_held_take(struct lease_held *h, int steal)
{
	struct lease_write_params wp;

	if (h->state != LEASE_UNOWNED)
		return -1;
	memset(&wp, 0, sizeof(wp));
	wp.op = steal ? LEASE_OP_STEAL : LEASE_OP_TAKE;
	wp.shard_id = h->item.shard_id;
	wp.counter = h->item.counter;
	wp.old_owner = h->item.owner;
	h->stolen = steal;
	h->req_sent_ms = lease_manager_now(h->m);
	if ((h->req = lease_table_write(
	         lease_manager_table(h->m), &wp, held_taken, h)) == NULL)
		return -1;
	lease_held_set_state(h, LEASE_TAKING);
	return 0;
}
