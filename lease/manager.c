/*
 * manager.c — the lease manager: its lifecycle, the taker, renewer,
 * checkpointer and shard sync timers, and the public API of lease.h.
 *
 * Lifecycle (lease_mgr_set_state() is the one place it changes):
 *
 *   IDLE -> CREATING_TABLE -> SYNCING -> RUNNING -> STOPPING -> STOPPED
 *   STOPPED -> CREATING_TABLE (started again)
 *
 * The taker follows the KCL 2.x: a full consistent scan every
 * takerInterval ((failoverTimeMillis + 25) * 2 unless set), the first one
 * right after the initial shard sync; expiry is judged on this process's
 * monotonic clock from when each lease's counter was last seen to change;
 * the choice itself is lease_taker_choose() (taker.c).  The renewer runs
 * every failoverTimeMillis / 3 and drops (events.lost) a lease whose last
 * good write is older than failoverTimeMillis.
 *
 * Every user callback (events, completions, lists) is queued as a note
 * and delivered from one libevent event, never from inside the call that
 * caused it nor from inside a DynamoDB callback; lease_manager_free() from
 * such a callback is deferred until it returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lease/lease_int.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define TAKER_EPSILON_MS 25 /* the KCL's epsilonMillis */
#define SYNC_RETRY_MS    10000

static const char *const mgr_state_names[] = {
    "IDLE",
    "CREATING_TABLE",
    "SYNCING",
    "RUNNING",
    "STOPPING",
    "STOPPED",
};

static void lease_mgr_set_state(struct lease_manager *, enum lease_mgr_state);
static void mgr_schedule(struct event *, uint64_t ms);
static void mgr_taker_run(struct lease_manager *);
static void mgr_sync_run(struct lease_manager *);
static void mgr_destroy(struct lease_manager *);

/* ---- small things ----------------------------------------------------------
 */

static uint64_t
mono_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
lease_manager_now(const struct lease_manager *m)
{
	return m->now(m->now_arg);
}

void
lease_manager_set_clock(
    struct lease_manager *m, uint64_t (*now_ms)(void *), void *arg)
{
	m->now = now_ms != NULL ? now_ms : mono_ms;
	m->now_arg = now_ms != NULL ? arg : NULL;
}

const struct lease_opts *
lease_manager_opts(const struct lease_manager *m)
{
	return &m->o;
}

struct lease_table *
lease_manager_table(const struct lease_manager *m)
{
	return m->table;
}

struct event_base *
lease_manager_base(const struct lease_manager *m)
{
	return m->base;
}

const char *
lease_manager_strstate(const struct lease_manager *m)
{
	return mgr_state_names[m->state];
}

static uint32_t
mgr_rnd(void *arg)
{
	struct lease_manager *m = arg;

	/* xorshift32: enough to keep workers from all reaching for the
	 * same leases in the same order. */
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 17;
	m->rng ^= m->rng << 5;
	return m->rng;
}

static void
lease_mgr_set_state(struct lease_manager *m, enum lease_mgr_state s)
{
	if (m->state == s)
		return;
	log_debug("lease", "manager %s: %s -> %s", m->o.table,
	    mgr_state_names[m->state], mgr_state_names[s]);
	m->state = s;
}

static void
mgr_schedule(struct event *ev, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	event_add(ev, &tv);
}

static uint64_t
mgr_taker_interval(const struct lease_manager *m)
{
	if (m->o.taker_interval_millis > 0)
		return m->o.taker_interval_millis;
	return (m->o.failover_time_millis + TAKER_EPSILON_MS) * 2;
}

static uint64_t
mgr_renew_interval(const struct lease_manager *m)
{
	uint64_t ms = m->o.failover_time_millis / 3;

	return ms > 0 ? ms : 1;
}

static void
mgr_update_held_gauge(struct lease_manager *m)
{
	struct lease_held *h;
	size_t n = 0;

	TAILQ_FOREACH(h, &m->held, entry)
	if (h->state != LEASE_TAKING && h->state != LEASE_UNOWNED)
		n++;
	metric_set(m->m_held, (double)n);
}

void
lease_manager_count_checkpoint(struct lease_manager *m, const char *res)
{
	metric_inc(metric_series(m->m_ckpt, m->o.table, res));
}

void
lease_manager_count_lost(struct lease_manager *m)
{
	metric_inc(m->m_lost);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease_manager *m = arg;
	struct lease_held *h;

	(void)fd;
	(void)what;
	while ((h = TAILQ_FIRST(&m->dead)) != NULL) {
		TAILQ_REMOVE(&m->dead, h, entry);
		lease_held_free(h);
	}
	lease_sync_free(m->sync_dead);
	m->sync_dead = NULL;
	lease_manager_deliver_notes(m);
	if (m->dying)
		mgr_destroy(m);
}

/* ---- held leases reaching an end ----------------------------------------- */

static void
mgr_check_stopped(struct lease_manager *m)
{
	if (m->state != LEASE_MGR_STOPPING || !TAILQ_EMPTY(&m->held))
		return;
	evtimer_del(m->renew_ev);
	evtimer_del(m->ckpt_ev);
	lease_mgr_set_state(m, LEASE_MGR_STOPPED);
	log_info("lease", "%s: stopped; every lease released", m->o.table);
	lease_manager_waiters_done(m, &m->stop_waiters, m->stop_ok);
	if (m->restart) {
		m->restart = 0;
		lease_manager_start(m);
	}
}

void
lease_manager_held_changed(struct lease_manager *m, struct lease_held *h)
{
	if (!lease_held_final(h)) {
		mgr_update_held_gauge(m);
		return;
	}
	if (h->release_failed)
		m->stop_ok = 0;
	TAILQ_REMOVE(&m->held, h, entry);
	TAILQ_INSERT_TAIL(&m->dead, h, entry);
	lease_manager_defer(m);
	mgr_update_held_gauge(m);
	mgr_check_stopped(m);
}

/* ---- the taker ----------------------------------------------------------- */

static int
cmp_seen(const void *a, const void *b)
{
	return strcmp(((const struct lease_seen *)a)->item.shard_id,
	    ((const struct lease_seen *)b)->item.shard_id);
}

static struct lease_seen *
mgr_seen_find(const struct lease_manager *m, const char *shard_id)
{
	struct lease_seen key;

	if (m->n_seen == 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.item.shard_id = (char *)(uintptr_t)shard_id;
	return bsearch(&key, m->seen, m->n_seen, sizeof(*m->seen), cmp_seen);
}

static void
mgr_seen_clear(struct lease_manager *m)
{
	size_t i;

	for (i = 0; i < m->n_seen; i++)
		lease_item_clear(&m->seen[i].item);
	free(m->seen);
	m->seen = NULL;
	m->n_seen = 0;
}

/*
 * The KCL's updateAllLeases: a lease whose counter moved since the last
 * scan was renewed as of now; one seen for the first time counts as
 * renewed now when owned, never renewed when not.
 */
static int
mgr_seen_merge(struct lease_manager *m, const struct lease_item *items,
    size_t n, uint64_t now)
{
	struct lease_seen *fresh = NULL, *old;
	size_t i;

	if (n > 0 && (fresh = calloc(n, sizeof(*fresh))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (lease_item_copy(&fresh[i].item, &items[i]) != 0) {
			while (i-- > 0)
				lease_item_clear(&fresh[i].item);
			free(fresh);
			return -1;
		}
		old = mgr_seen_find(m, items[i].shard_id);
		if (old != NULL && old->item.counter == items[i].counter) {
			fresh[i].changed_ms = old->changed_ms;
			fresh[i].never_changed = old->never_changed;
		} else if (old != NULL || items[i].owner != NULL) {
			fresh[i].changed_ms = now;
		} else {
			fresh[i].never_changed = 1;
		}
	}
	if (n > 0)
		qsort(fresh, n, sizeof(*fresh), cmp_seen);
	mgr_seen_clear(m);
	m->seen = fresh;
	m->n_seen = n;
	return 0;
}

/* The KCL's parent check: a child waits until every parent lease that
 * still exists is at SHARD_END. */
static int
mgr_blocked(const struct lease_manager *m, const struct lease_item *it)
{
	const struct lease_seen *p;
	size_t i;

	for (i = 0; i < it->n_parents; i++) {
		p = mgr_seen_find(m, it->parents[i]);
		if (p != NULL &&
		    (p->item.checkpoint == NULL ||
		        strcmp(p->item.checkpoint, LEASE_SHARD_END) != 0))
			return 1;
	}
	return 0;
}

static void
mgr_taker_choose(struct lease_manager *m, uint64_t now, int *blocked)
{
	struct lease_taker_params tp;
	struct lease_taker_stats st;
	struct lease_cand *c = NULL;
	struct lease_take *take = NULL;
	struct lease_held *h;
	struct lease_seen *s;
	size_t i, n_take, n_steal = 0;

	*blocked = 0;
	if (m->n_seen == 0)
		return;
	if ((c = calloc(m->n_seen, sizeof(*c))) == NULL ||
	    (take = calloc(m->n_seen, sizeof(*take))) == NULL)
		goto out;
	for (i = 0; i < m->n_seen; i++) {
		s = &m->seen[i];
		c[i].shard_id = s->item.shard_id;
		c[i].owner = s->item.owner;
		c[i].changed_ms = s->changed_ms;
		c[i].never_changed = s->never_changed;
		c[i].kind = LEASE_CAND_OK;
		if ((h = lease_manager_find_held(m, s->item.shard_id)) !=
		    NULL) {
			/* Mine, whatever a scan that raced my own write
			 * says. */
			c[i].owner = m->o.worker_id;
			c[i].changed_ms = now;
			c[i].never_changed = 0;
			continue;
		}
		if (s->item.checkpoint != NULL &&
		    strcmp(s->item.checkpoint, LEASE_SHARD_END) == 0) {
			c[i].kind = LEASE_CAND_IGNORE;
		} else if (mgr_blocked(m, &s->item)) {
			c[i].kind = LEASE_CAND_IGNORE;
			*blocked = 1;
		} else if (lease_manager_banned(m, s->item.shard_id)) {
			c[i].kind = LEASE_CAND_NOT_FOR_ME;
		} else if (s->item.owner != NULL &&
		           strcmp(s->item.owner, m->o.worker_id) == 0) {
			/* Mine in the table but not held here: left by an
			 * earlier run with this worker id, or lost for
			 * lateness.  Nobody renews it: take it back. */
			c[i].never_changed = 1;
		}
	}
	memset(&tp, 0, sizeof(tp));
	tp.worker_id = m->o.worker_id;
	tp.now_ms = now;
	tp.failover_ms = m->o.failover_time_millis;
	tp.max_leases_for_worker = m->o.max_leases_for_worker;
	tp.max_leases_to_steal = m->o.max_leases_to_steal_at_one_time;
	tp.rnd = mgr_rnd;
	tp.rnd_arg = m;
	n_take = lease_taker_choose(c, m->n_seen, &tp, take, &st);
	for (i = 0; i < n_take; i++) {
		s = &m->seen[take[i].idx];
		if (lease_manager_find_held(m, s->item.shard_id) != NULL)
			continue;
		if ((h = lease_held_new(m, &s->item)) == NULL)
			break;
		TAILQ_INSERT_TAIL(&m->held, h, entry);
		if (lease_held_take(h, take[i].steal) != 0) {
			TAILQ_REMOVE(&m->held, h, entry);
			lease_held_free(h);
			continue;
		}
		n_steal += take[i].steal != 0;
	}
	if (n_take > 0)
		log_info("lease",
		    "%s: %zu leases, %zu workers, %zu available "
		    "(%zu very old), target %llu, I hold %llu: "
		    "taking %zu (%zu stolen)",
		    m->o.worker_id, st.leases, st.workers, st.available,
		    st.very_old, (unsigned long long)st.target,
		    (unsigned long long)st.mine, n_take, n_steal);
out:
	free(c);
	free(take);
}

static void
mgr_scanned(
    const struct lease_item *items, size_t n, const char *err, void *arg)
{
	struct lease_manager *m = arg;
	uint64_t now = lease_manager_now(m), next = mgr_taker_interval(m);
	int blocked = 0;

	m->scan = NULL;
	if (err != NULL)
		log_warnx("lease", "taker: %s", err);
	else if (mgr_seen_merge(m, items, n, now) != 0)
		log_warnx("lease", "taker: out of memory");
	else if (m->state == LEASE_MGR_RUNNING)
		mgr_taker_choose(m, now, &blocked);
	if (m->state != LEASE_MGR_RUNNING)
		return;
	/* Children waiting for their parents are looked at again every
	 * parentShardPollIntervalMillis. */
	if (blocked && m->o.parent_shard_poll_interval_millis > 0 &&
	    m->o.parent_shard_poll_interval_millis < next)
		next = m->o.parent_shard_poll_interval_millis;
	if (m->taker_soon) {
		m->taker_soon = 0;
		next = 0;
	}
	mgr_schedule(m->taker_ev, next);
}

static void
mgr_taker_run(struct lease_manager *m)
{
	if (m->state != LEASE_MGR_RUNNING)
		return;
	if (m->scan != NULL) {
		m->taker_soon = 1;
		return;
	}
	evtimer_del(m->taker_ev);
	if ((m->scan = lease_table_scan(m->table, mgr_scanned, m)) == NULL) {
		log_warnx("lease", "taker: out of memory");
		mgr_schedule(m->taker_ev, mgr_taker_interval(m));
	}
}

static void
taker_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mgr_taker_run(arg);
}

/* ---- renewer and checkpointer -------------------------------------------- */

static void
renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease_manager *m = arg;
	struct lease_held *h, *next;
	uint64_t now = lease_manager_now(m);

	(void)fd;
	(void)what;
	/* lease_held_lose() moves h to the dead list: keep next first. */
	for (h = TAILQ_FIRST(&m->held); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->state == LEASE_TAKING || h->state == LEASE_UNOWNED)
			continue;
		if (now > h->renewed_ms &&
		    now - h->renewed_ms > m->o.failover_time_millis) {
			lease_held_lose(h,
			    "renewals late by a whole "
			    "failoverTimeMillis",
			    1);
			continue;
		}
		h->renew_due = 1;
		lease_held_kick(h);
	}
	mgr_schedule(m->renew_ev, mgr_renew_interval(m));
}

static void
ckpt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease_manager *m = arg;
	struct lease_held *h;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(h, &m->held, entry)
	{
		if (!lease_held_dirty(h))
			continue;
		h->ckpt_due = 1;
		lease_held_kick(h);
	}
	mgr_schedule(m->ckpt_ev, m->o.checkpoint_interval_millis);
}

/* ---- shard sync ---------------------------------------------------------- */

static void
mgr_extra_clear(struct lease_manager *m)
{
	size_t i;

	for (i = 0; i < m->n_extra; i++) {
		free(m->extra[i].child);
		free(m->extra[i].parent);
	}
	free(m->extra);
	m->extra = NULL;
	m->n_extra = 0;
}

static void
mgr_sync_done(int ok, void *arg)
{
	struct lease_manager *m = arg;
	int ended = !TAILQ_EMPTY(&m->sync_cur);

	/* Called from inside the run: free it once it has returned. */
	if (m->sync != NULL) {
		lease_sync_free(m->sync_dead);
		m->sync_dead = m->sync;
		m->sync = NULL;
		lease_manager_defer(m);
	}
	/* SHARD_END is written whatever happened here; children the sync
	 * could not create yet are created by the next one. */
	lease_manager_waiters_done(m, &m->sync_cur, 1);
	if (m->state == LEASE_MGR_SYNCING) {
		if (!ok)
			log_warnx("lease",
			    "%s: initial shard sync failed; "
			    "taking the leases there are",
			    m->o.table);
		lease_mgr_set_state(m, LEASE_MGR_RUNNING);
		mgr_schedule(m->renew_ev, mgr_renew_interval(m));
		mgr_schedule(m->ckpt_ev, m->o.checkpoint_interval_millis);
		mgr_taker_run(m);
	} else if (m->state == LEASE_MGR_RUNNING && ended) {
		/* Children of a shard just ended may be free now. */
		mgr_taker_run(m);
	}
	if (m->state != LEASE_MGR_RUNNING)
		return;
	if (m->sync_again) {
		m->sync_again = 0;
		mgr_sync_run(m);
		return;
	}
	mgr_schedule(
	    m->sync_ev, ok || m->o.shard_sync_interval_millis < SYNC_RETRY_MS
	                    ? m->o.shard_sync_interval_millis
	                    : SYNC_RETRY_MS);
}

static void
mgr_sync_run(struct lease_manager *m)
{
	if (m->sync != NULL) {
		m->sync_again = 1;
		return;
	}
	evtimer_del(m->sync_ev);
	TAILQ_CONCAT(&m->sync_cur, &m->sync_next, entry);
	m->sync = lease_sync_start(
	    m, m->kinesis, m->extra, m->n_extra, mgr_sync_done, m);
	mgr_extra_clear(m);
	if (m->sync == NULL) {
		log_warnx("lease", "shard sync: out of memory");
		/* From the loop, as if it had failed. */
		mgr_schedule(m->sync_ev, 0);
	}
}

static void
sync_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mgr_sync_run(arg);
}

void
lease_manager_shard_ended(struct lease_manager *m, const char *shard_id,
    char *const *children, size_t n, struct lease_waiters *waiters)
{
	struct lease_sync_child *grown;
	size_t i;

	if (n > 0 && (grown = realloc(m->extra,
	                  (m->n_extra + n) * sizeof(*grown))) != NULL) {
		m->extra = grown;
		for (i = 0; i < n; i++) {
			struct lease_sync_child *e = &m->extra[m->n_extra];
			e->child = strdup(children[i]);
			e->parent = strdup(shard_id);
			if (e->child == NULL || e->parent == NULL) {
				free(e->child);
				free(e->parent);
				break;
			}
			m->n_extra++;
		}
	}
	TAILQ_CONCAT(&m->sync_next, waiters, entry);
	if (m->state == LEASE_MGR_RUNNING)
		mgr_sync_run(m);
	else
		/* Stopping: the children are for the other workers'
		 * shard sync to create. */
		lease_manager_waiters_done(m, &m->sync_next, 1);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void
mgr_table_ready(void *arg)
{
	struct lease_manager *m = arg;

	m->ensure = NULL;
	lease_mgr_set_state(m, LEASE_MGR_SYNCING);
	mgr_sync_run(m);
}

void
lease_manager_start(struct lease_manager *m)
{
	struct lease_table_create_params cp;

	switch (m->state) {
	case LEASE_MGR_IDLE:
	case LEASE_MGR_STOPPED:
		break;
	case LEASE_MGR_STOPPING:
		m->restart = 1;
		return;
	default:
		return;
	}
	/* A new start forgets what lease_release() refused. */
	lease_strv_free(m->banned, m->n_banned);
	m->banned = NULL;
	m->n_banned = 0;
	m->stop_ok = 1;
	memset(&cp, 0, sizeof(cp));
	cp.read_capacity = (long)m->o.initial_lease_table_read_capacity;
	cp.write_capacity = (long)m->o.initial_lease_table_write_capacity;
	lease_mgr_set_state(m, LEASE_MGR_CREATING_TABLE);
	if ((m->ensure = lease_table_ensure(
	         m->table, &cp, mgr_table_ready, m)) == NULL) {
		log_warnx("lease", "%s: out of memory starting", m->o.table);
		lease_mgr_set_state(m, LEASE_MGR_STOPPED);
	}
}

void
lease_manager_stop(struct lease_manager *m, lease_done_cb cb, void *arg)
{
	struct lease_held *h, *next;

	m->restart = 0;
	switch (m->state) {
	case LEASE_MGR_IDLE:
	case LEASE_MGR_STOPPED:
		lease_manager_note_done(m, cb, arg, 1);
		return;
	case LEASE_MGR_STOPPING:
		lease_held_add_waiter(&m->stop_waiters, cb, arg);
		return;
	default:
		break;
	}
	lease_req_cancel(m->ensure);
	m->ensure = NULL;
	lease_req_cancel(m->scan);
	m->scan = NULL;
	lease_sync_free(m->sync);
	m->sync = NULL;
	m->sync_again = 0;
	m->taker_soon = 0;
	evtimer_del(m->taker_ev);
	evtimer_del(m->sync_ev);
	lease_held_add_waiter(&m->stop_waiters, cb, arg);
	lease_mgr_set_state(m, LEASE_MGR_STOPPING);
	/* Shard ends whose sync will not run now: SHARD_END is written. */
	lease_manager_waiters_done(m, &m->sync_cur, 1);
	lease_manager_waiters_done(m, &m->sync_next, 1);
	log_info("lease", "%s: stopping; releasing %s", m->o.table,
	    TAILQ_EMPTY(&m->held) ? "nothing" : "every lease held");
	/* Renewals go on until each lease is released.  lease_held_kick
	 * may finish a lease at once (moving it off the list). */
	for (h = TAILQ_FIRST(&m->held); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		h->release_req = 1;
		lease_held_kick(h);
	}
	mgr_check_stopped(m);
}

static char *
opt_dup(const char *s, const char *def)
{
	return strdup(s != NULL ? s : def);
}

struct lease_manager *
lease_manager_new(struct event_base *base, struct dynamo *d, struct kinesis *k,
    struct metrics *metrics, const struct lease_opts *o,
    const struct lease_events *ev, char **cause)
{
	struct lease_manager *m;

	*cause = NULL;
	if (o == NULL || o->table == NULL || o->stream == NULL ||
	    o->worker_id == NULL || *o->worker_id == '\0') {
		*cause = strdup("lease: table, stream and worker id are "
		                "required");
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto oom;
	TAILQ_INIT(&m->held);
	TAILQ_INIT(&m->dead);
	TAILQ_INIT(&m->notes);
	TAILQ_INIT(&m->listers);
	TAILQ_INIT(&m->stop_waiters);
	TAILQ_INIT(&m->sync_next);
	TAILQ_INIT(&m->sync_cur);
	m->base = base;
	m->kinesis = k;
	m->o = *o;
	if (ev != NULL)
		m->ev = *ev;
	m->now = mono_ms;
	m->rng = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^
	         (uint32_t)(uintptr_t)m;
	if (m->rng == 0)
		m->rng = 0x9e3779b9u;
	if ((m->s_table = strdup(o->table)) == NULL ||
	    (m->s_stream = strdup(o->stream)) == NULL ||
	    (m->s_worker = strdup(o->worker_id)) == NULL ||
	    (m->s_initial =
	            opt_dup(o->initial_checkpoint, LEASE_TRIM_HORIZON)) == NULL)
		goto oom;
	m->o.table = m->s_table;
	m->o.stream = m->s_stream;
	m->o.worker_id = m->s_worker;
	m->o.initial_checkpoint = m->s_initial;
	if (m->o.failover_time_millis == 0)
		m->o.failover_time_millis = 10000;
	if (m->o.shard_sync_interval_millis == 0)
		m->o.shard_sync_interval_millis = 60000;
	if (m->o.checkpoint_interval_millis == 0)
		m->o.checkpoint_interval_millis = 2000;
	if (m->o.checkpoint_backoff_millis == 0)
		m->o.checkpoint_backoff_millis = 3000;
	if (m->o.parent_shard_poll_interval_millis == 0)
		m->o.parent_shard_poll_interval_millis = 10000;
	if ((m->table = lease_table_new(
	         base, d, metrics, o->table, o->worker_id)) == NULL ||
	    (m->taker_ev = evtimer_new(base, taker_cb, m)) == NULL ||
	    (m->renew_ev = evtimer_new(base, renew_cb, m)) == NULL ||
	    (m->ckpt_ev = evtimer_new(base, ckpt_cb, m)) == NULL ||
	    (m->sync_ev = evtimer_new(base, sync_cb, m)) == NULL ||
	    (m->defer_ev = event_new(base, -1, 0, defer_cb, m)) == NULL)
		goto oom;
	m->m_held = metric_series(metrics_gauge(metrics, "kinesisd_leases_held",
	                              "Leases this worker holds", "table"),
	    o->table);
	m->m_ckpt = metrics_counter(metrics, "kinesisd_checkpoints_total",
	    "Checkpoint writes by result", "table,result");
	m->m_lost =
	    metric_series(metrics_counter(metrics, "kinesisd_leases_lost_total",
	                      "Leases lost to another worker or to "
	                      "late renewals",
	                      "table"),
	        o->table);
	metric_set(m->m_held, 0);
	return m;
oom:
	mgr_destroy(m);
	*cause = strdup("lease: out of memory");
	return NULL;
}

static void
mgr_destroy(struct lease_manager *m)
{
	struct lease_held *h;
	struct lease_lister *l;
	struct lease_waiter *w;
	struct lease_waiters *lists[3];
	size_t i;

	if (m == NULL)
		return;
	lease_sync_free(m->sync);
	lease_sync_free(m->sync_dead);
	while ((h = TAILQ_FIRST(&m->held)) != NULL) {
		TAILQ_REMOVE(&m->held, h, entry);
		lease_held_free(h);
	}
	while ((h = TAILQ_FIRST(&m->dead)) != NULL) {
		TAILQ_REMOVE(&m->dead, h, entry);
		lease_held_free(h);
	}
	while ((l = TAILQ_FIRST(&m->listers)) != NULL) {
		TAILQ_REMOVE(&m->listers, l, entry);
		free(l);
	}
	/* The table cancels every request still in flight. */
	lease_table_free(m->table);
	lease_manager_clear_notes(m);
	lists[0] = &m->stop_waiters;
	lists[1] = &m->sync_next;
	lists[2] = &m->sync_cur;
	for (i = 0; i < 3; i++) {
		while ((w = TAILQ_FIRST(lists[i])) != NULL) {
			TAILQ_REMOVE(lists[i], w, entry);
			free(w);
		}
	}
	if (m->taker_ev != NULL)
		event_free(m->taker_ev);
	if (m->renew_ev != NULL)
		event_free(m->renew_ev);
	if (m->ckpt_ev != NULL)
		event_free(m->ckpt_ev);
	if (m->sync_ev != NULL)
		event_free(m->sync_ev);
	if (m->defer_ev != NULL)
		event_free(m->defer_ev);
	mgr_seen_clear(m);
	mgr_extra_clear(m);
	lease_strv_free(m->banned, m->n_banned);
	free(m->s_table);
	free(m->s_stream);
	free(m->s_worker);
	free(m->s_initial);
	free(m);
}

void
lease_manager_free(struct lease_manager *m)
{
	if (m == NULL)
		return;
	if (m->flushing) {
		/* From inside one of our own callbacks: once it returns. */
		m->dying = 1;
		return;
	}
	mgr_destroy(m);
}
