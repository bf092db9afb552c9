/*
 * api.c — the manager's side that faces its user: the notes through
 * which every callback is delivered (from one event, so that no callback
 * ever runs inside the call that caused it), and the per-shard calls of
 * lease.h (checkpoint, flush, shard end, release, is_held, list).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lease/lease_int.h"
#include "log/log.h"

struct lease_held *
lease_manager_find_held(const struct lease_manager *m, const char *shard_id)
{
	struct lease_held *h;

	TAILQ_FOREACH(h, &m->held, entry)
	if (strcmp(h->item.shard_id, shard_id) == 0)
		return h;
	return NULL;
}

int
lease_manager_banned(const struct lease_manager *m, const char *shard_id)
{
	size_t i;

	for (i = 0; i < m->n_banned; i++)
		if (strcmp(m->banned[i], shard_id) == 0)
			return 1;
	return 0;
}

void
lease_manager_waiters_done(
    struct lease_manager *m, struct lease_waiters *ws, int ok)
{
	struct lease_waiter *w;

	while ((w = TAILQ_FIRST(ws)) != NULL) {
		TAILQ_REMOVE(ws, w, entry);
		lease_manager_note_done(m, w->cb, w->arg, ok);
		free(w);
	}
}

/* ---- notes: every user callback runs from here --------------------------- */

static void
note_free(struct lease_note *n)
{
	size_t i;

	if (n == NULL)
		return;
	lease_item_clear(&n->item);
	for (i = 0; i < n->n_items; i++)
		lease_item_clear(&n->items[i]);
	free(n->items);
	free(n->err);
	free(n);
}

void
lease_manager_defer(struct lease_manager *m)
{
	event_active(m->defer_ev, 0, 0);
}

static struct lease_note *
note_new(struct lease_manager *m, enum note_type type)
{
	struct lease_note *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		log_warnx("lease", "out of memory for a notification");
		return NULL;
	}
	n->type = type;
	TAILQ_INSERT_TAIL(&m->notes, n, entry);
	lease_manager_defer(m);
	return n;
}

void
lease_manager_note_done(
    struct lease_manager *m, lease_done_cb cb, void *arg, int ok)
{
	struct lease_note *n;

	if (cb == NULL || (n = note_new(m, NOTE_DONE)) == NULL)
		return;
	n->done = cb;
	n->arg = arg;
	n->ok = ok;
}

void
lease_manager_note_acquired(
    struct lease_manager *m, const struct lease_item *item)
{
	struct lease_note *n;

	if (m->ev.acquired == NULL || (n = note_new(m, NOTE_ACQUIRED)) == NULL)
		return;
	if (lease_item_copy(&n->item, item) != 0 ||
	    (n->item.checkpoint == NULL &&
	        (n->item.checkpoint = strdup(m->o.initial_checkpoint)) ==
	            NULL)) {
		TAILQ_REMOVE(&m->notes, n, entry);
		note_free(n);
		log_warnx("lease", "out of memory: %s acquired unannounced",
		    item->shard_id);
	}
}

void
lease_manager_note_lost(struct lease_manager *m, const char *shard_id)
{
	struct lease_note *n;

	if (m->ev.lost == NULL || (n = note_new(m, NOTE_LOST)) == NULL)
		return;
	if ((n->item.shard_id = strdup(shard_id)) == NULL) {
		TAILQ_REMOVE(&m->notes, n, entry);
		note_free(n);
	}
}

static void
note_deliver(struct lease_manager *m, struct lease_note *n)
{
	struct lease_info info, *infos = NULL;
	size_t i;

	switch (n->type) {
	case NOTE_ACQUIRED:
		lease_item_info(&n->item, &info);
		m->ev.acquired(&info, m->ev.arg);
		break;
	case NOTE_LOST:
		m->ev.lost(n->item.shard_id, m->ev.arg);
		break;
	case NOTE_DONE:
		n->done(n->ok, n->arg);
		break;
	case NOTE_LIST:
		if (n->err != NULL || n->oom) {
			n->list(
			    NULL, 0, n->oom ? "out of memory" : n->err, n->arg);
			break;
		}
		if (n->n_items > 0 &&
		    (infos = calloc(n->n_items, sizeof(*infos))) == NULL) {
			n->list(NULL, 0, "out of memory", n->arg);
			break;
		}
		for (i = 0; i < n->n_items; i++)
			lease_item_info(&n->items[i], &infos[i]);
		n->list(infos, n->n_items, NULL, n->arg);
		free(infos);
		break;
	}
}

void
lease_manager_deliver_notes(struct lease_manager *m)
{
	struct lease_note *n;

	m->flushing = 1;
	while (!m->dying && (n = TAILQ_FIRST(&m->notes)) != NULL) {
		TAILQ_REMOVE(&m->notes, n, entry);
		note_deliver(m, n);
		note_free(n);
	}
	m->flushing = 0;
}

void
lease_manager_clear_notes(struct lease_manager *m)
{
	struct lease_note *n;

	while ((n = TAILQ_FIRST(&m->notes)) != NULL) {
		TAILQ_REMOVE(&m->notes, n, entry);
		note_free(n);
	}
}

/* ---- the rest of the public API ------------------------------------------ */

/* The held lease for API calls: none once it has reached a final state. */
static struct lease_held *
mgr_live(const struct lease_manager *m, const char *shard_id)
{
	struct lease_held *h;

	if (shard_id == NULL ||
	    (h = lease_manager_find_held(m, shard_id)) == NULL ||
	    lease_held_final(h))
		return NULL;
	return h;
}

void
lease_checkpoint_set(struct lease_manager *m, const char *shard_id,
    const char *seq, uint64_t subseq)
{
	struct lease_held *h;

	if (!lease_seq_valid(seq)) {
		log_warnx("lease",
		    "%s: checkpoint '%s' is not a sequence "
		    "number; ignored",
		    shard_id != NULL ? shard_id : "?", seq != NULL ? seq : "");
		return;
	}
	if ((h = mgr_live(m, shard_id)) == NULL) {
		log_debug("lease",
		    "checkpoint for %s, which is not held; "
		    "ignored",
		    shard_id != NULL ? shard_id : "?");
		return;
	}
	lease_held_checkpoint_set(h, seq, subseq);
}

void
lease_checkpoint_flush(
    struct lease_manager *m, const char *shard_id, lease_done_cb cb, void *arg)
{
	struct lease_held *h = mgr_live(m, shard_id);

	if (h == NULL || h->state == LEASE_TAKING) {
		lease_manager_note_done(m, cb, arg, 0);
		return;
	}
	if (!lease_held_dirty(h) && h->state != LEASE_CHECKPOINTING) {
		lease_manager_note_done(m, cb, arg, 1);
		return;
	}
	lease_held_add_waiter(&h->flush_waiters, cb, arg);
	lease_held_kick(h);
}

void
lease_shard_end(struct lease_manager *m, const char *shard_id,
    const char *const *children, size_t n_children, lease_done_cb cb, void *arg)
{
	struct lease_held *h = mgr_live(m, shard_id);

	if (h == NULL || h->state == LEASE_TAKING || h->end_req) {
		lease_manager_note_done(m, cb, arg, 0);
		return;
	}
	if (lease_strv_copy(&h->end_children, children, n_children) != 0) {
		lease_manager_note_done(m, cb, arg, 0);
		return;
	}
	h->n_end_children = n_children;
	h->end_req = 1;
	lease_held_add_waiter(&h->end_waiters, cb, arg);
	lease_held_kick(h);
}

void
lease_release(
    struct lease_manager *m, const char *shard_id, lease_done_cb cb, void *arg)
{
	struct lease_held *h;
	char **grown;

	if (shard_id == NULL) {
		lease_manager_note_done(m, cb, arg, 0);
		return;
	}
	if (!lease_manager_banned(m, shard_id) &&
	    (grown = realloc(m->banned, (m->n_banned + 1) * sizeof(*grown))) !=
	        NULL) {
		m->banned = grown;
		if ((m->banned[m->n_banned] = strdup(shard_id)) != NULL)
			m->n_banned++;
	}
	if ((h = mgr_live(m, shard_id)) == NULL) {
		lease_manager_note_done(m, cb, arg, 1);
		return;
	}
	h->release_req = 1;
	lease_held_add_waiter(&h->release_waiters, cb, arg);
	lease_held_kick(h);
}

int
lease_is_held(const struct lease_manager *m, const char *shard_id)
{
	struct lease_held *h = mgr_live(m, shard_id);
	uint64_t now;

	if (h == NULL || h->state == LEASE_TAKING || h->state == LEASE_UNOWNED)
		return 0;
	now = lease_manager_now(m);
	return now <= h->renewed_ms ||
	       now - h->renewed_ms <= m->o.failover_time_millis;
}

size_t
lease_manager_held_count(const struct lease_manager *m)
{
	struct lease_held *h;
	size_t n = 0;

	TAILQ_FOREACH(h, &m->held, entry)
	if (lease_is_held(m, h->item.shard_id))
		n++;
	return n;
}

static void
mgr_listed(const struct lease_item *items, size_t n, const char *err, void *arg)
{
	struct lease_lister *l = arg;
	struct lease_manager *m = l->m;
	struct lease_note *note;
	size_t i;

	TAILQ_REMOVE(&m->listers, l, entry);
	if ((note = note_new(m, NOTE_LIST)) == NULL)
		goto out;
	note->list = l->cb;
	note->arg = l->arg;
	if (err != NULL) {
		if ((note->err = strdup(err)) == NULL)
			note->oom = 1;
		goto out;
	}
	if (n > 0 && (note->items = calloc(n, sizeof(*note->items))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (lease_item_copy(&note->items[i], &items[i]) != 0)
			goto oom;
		note->n_items++;
	}
	goto out;
oom:
	/* Better an error than a silently short list. */
	for (i = 0; i < note->n_items; i++)
		lease_item_clear(&note->items[i]);
	free(note->items);
	note->items = NULL;
	note->n_items = 0;
	note->oom = 1;
out:
	free(l);
}

void
lease_list(struct lease_manager *m, lease_list_cb cb, void *arg)
{
	struct lease_lister *l;
	struct lease_note *n;

	if (cb == NULL)
		return;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto fail;
	l->m = m;
	l->cb = cb;
	l->arg = arg;
	TAILQ_INSERT_TAIL(&m->listers, l, entry);
	if ((l->req = lease_table_scan(m->table, mgr_listed, l)) != NULL)
		return;
	TAILQ_REMOVE(&m->listers, l, entry);
	free(l);
fail:
	if ((n = note_new(m, NOTE_LIST)) != NULL) {
		n->list = cb;
		n->arg = arg;
		n->oom = 1;
	}
}
