/*
 * taker.c — the KCL 2.x lease taker's decision (DynamoDBLeaseTaker's
 * computeLeasesToTake and chooseLeasesToSteal), as a pure function over
 * an array of leases and a clock reading, so that every rule is unit
 * tested without DynamoDB or time passing.
 *
 * The manager feeds it the leases of its latest scan, with the monotonic
 * time at which each lease's counter was last seen changing; the
 * function says which ones to try to take, and which of those are steals.
 */
#include <stdlib.h>
#include <string.h>

#include "lease/lease_int.h"

/* A live lease's age is judged against failover; an unowned one is
 * available at once (the KCL's Lease.isAvailable). */
static int
cand_expired(const struct lease_cand *c, const struct lease_taker_params *p)
{
	if (c->never_changed)
		return 1;
	return p->now_ms > c->changed_ms &&
	       p->now_ms - c->changed_ms > p->failover_ms;
}

static int
cand_available(const struct lease_cand *c, const struct lease_taker_params *p)
{
	return c->owner == NULL || cand_expired(c, p);
}

static int
cand_very_old(const struct lease_cand *c, const struct lease_taker_params *p,
    uint64_t mult)
{
	if (c->never_changed)
		return 1;
	return p->now_ms > c->changed_ms &&
	       p->now_ms - c->changed_ms > mult * p->failover_ms;
}

static void
shuffle(size_t *v, size_t n, const struct lease_taker_params *p)
{
	size_t i, j, t;

	if (p->rnd == NULL || n < 2)
		return;
	for (i = n - 1; i > 0; i--) {
		j = (size_t)(p->rnd(p->rnd_arg) % (uint32_t)(i + 1));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

/* Owners of live leases and their counts.  Linear: a lease table holds
 * hundreds of leases and a handful of workers. */
struct worker_count {
	const char *owner;
	uint64_t n;
};

static struct worker_count *
count_workers(const struct lease_cand *c, size_t n,
    const struct lease_taker_params *p, size_t *n_workers)
{
	struct worker_count *w;
	size_t i, j, nw = 0;

	if ((w = calloc(n + 1, sizeof(*w))) == NULL)
		return NULL;
	/* Always count myself, with none when I hold none. */
	w[nw++].owner = p->worker_id;
	for (i = 0; i < n; i++) {
		if (c[i].kind == LEASE_CAND_IGNORE || cand_available(&c[i], p))
			continue;
		for (j = 0; j < nw && strcmp(w[j].owner, c[i].owner) != 0; j++)
			;
		if (j == nw)
			w[nw++].owner = c[i].owner;
		w[j].n++;
	}
	*n_workers = nw;
	return w;
}

size_t
lease_taker_choose(const struct lease_cand *c, size_t n,
    const struct lease_taker_params *p, struct lease_take *out,
    struct lease_taker_stats *stats)
{
	uint64_t max_for = p->max_leases_for_worker > 0
	                       ? p->max_leases_for_worker
	                       : UINT64_MAX;
	uint64_t max_steal =
	    p->max_leases_to_steal > 0 ? p->max_leases_to_steal : 1;
	uint64_t mult = p->very_old_multiplier > 0 ? p->very_old_multiplier : 3;
	struct lease_taker_stats st;
	struct worker_count *w = NULL, *most;
	size_t *idx = NULL, n_idx = 0, n_out = 0, nw = 0, i, n_avail_any = 0;
	uint64_t target, need, steal;

	memset(&st, 0, sizeof(st));
	if (n == 0 || (idx = calloc(n, sizeof(*idx))) == NULL ||
	    (w = count_workers(c, n, p, &nw)) == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		if (c[i].kind == LEASE_CAND_IGNORE)
			continue;
		st.leases++;
		if (cand_available(&c[i], p))
			n_avail_any++;
	}
	st.workers = nw;
	st.mine = w[0].n;
	if (st.leases == 0)
		goto done;

	/* Leases nobody renewed for several failovers first, whatever the
	 * target: a fresh table's leases all count as such, so the first
	 * worker up takes everything and the others steal their share
	 * (the KCL does the same). */
	for (i = 0; i < n; i++)
		if (c[i].kind == LEASE_CAND_OK && cand_available(&c[i], p) &&
		    cand_very_old(&c[i], p, mult))
			idx[n_idx++] = i;
	st.very_old = n_idx;
	if (n_idx > 0) {
		uint64_t room = max_for > st.mine ? max_for - st.mine : 0;
		shuffle(idx, n_idx, p);
		for (i = 0; i < n_idx && n_out < room; i++) {
			out[n_out].idx = idx[i];
			out[n_out].steal = 0;
			out[n_out].very_old = 1;
			n_out++;
		}
		goto done;
	}

	if (nw >= st.leases)
		target = 1;
	else
		target = st.leases / nw + (st.leases % nw != 0);
	if (target > max_for)
		target = max_for;
	st.target = target;
	if (st.mine >= target)
		goto done;
	need = target - st.mine;

	if (n_avail_any > 0) {
		for (i = 0; i < n; i++)
			if (c[i].kind == LEASE_CAND_OK &&
			    cand_available(&c[i], p))
				idx[n_idx++] = i;
		st.available = n_idx;
		shuffle(idx, n_idx, p);
		for (i = 0; i < n_idx && n_out < need; i++) {
			out[n_out].idx = idx[i];
			out[n_out].steal = 0;
			out[n_out].very_old = 0;
			n_out++;
		}
		goto done;
	}

	/* Nothing free: steal from the most loaded worker (ties go to the
	 * smallest id, so that the choice is reproducible). */
	most = NULL;
	for (i = 1; i < nw; i++)
		if (most == NULL || w[i].n > most->n ||
		    (w[i].n == most->n && strcmp(w[i].owner, most->owner) < 0))
			most = &w[i];
	/* Myself (w[0]) is never the victim: I hold fewer than target. */
	if (most == NULL || most->n < target)
		goto done;
	steal = most->n - target;
	if (steal > need)
		steal = need;
	/* Someone exactly at target while I need more than one: take one
	 * so the spread keeps narrowing. */
	if (steal == 0 && need > 1)
		steal = 1;
	if (steal > max_steal)
		steal = max_steal;
	for (i = 0; i < n; i++)
		if (c[i].kind == LEASE_CAND_OK && c[i].owner != NULL &&
		    strcmp(c[i].owner, most->owner) == 0 &&
		    !cand_available(&c[i], p))
			idx[n_idx++] = i;
	shuffle(idx, n_idx, p);
	for (i = 0; i < n_idx && n_out < steal; i++) {
		out[n_out].idx = idx[i];
		out[n_out].steal = 1;
		out[n_out].very_old = 0;
		n_out++;
	}
done:
	if (stats != NULL)
		*stats = st;
	free(idx);
	free(w);
	return n_out;
}
