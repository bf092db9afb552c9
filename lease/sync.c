/*
 * sync.c — shard sync: a lease for every shard that needs one, as the
 * KCL's shard syncer creates them, and (cleanupLeasesUponShardCompletion)
 * the deletion of finished parents.
 *
 * The plan (lease_sync_plan) is pure: shards from ListShards plus the
 * leases of a scan in, the leases to create out, ancestors first.  The
 * run (lease_sync_start) does the I/O: a scan, ListShards, the creates one
 * by one (conditional, so that several workers syncing at once create
 * each lease once), then the deletes.
 *
 * Cleanup, the simple version: a lease at SHARD_END is deleted once every
 * child it names in childShardIds (or, for leases written without them,
 * every lease naming it in parentShardId) has a lease whose checkpoint has
 * moved past TRIM_HORIZON/LATEST/AT_TIMESTAMP, i.e. the children have
 * begun and will never need the parent's lease for the parent check.
 */
#include <stdlib.h>
#include <string.h>

#include "kinesis/kinesis.h"
#include "lease/lease_int.h"
#include "log/log.h"

/* ---- the plan ------------------------------------------------------------ */

enum {
	DESC_NO = 0,
	DESC_ALL = 1,    /* included because all data is wanted */
	DESC_LEASED = 2, /* descends from a shard that has a lease */
	DESC_UNKNOWN = 3,
};

struct plan {
	const struct kinesis_shard *shards;
	size_t n;
	const struct kinesis_shard **by_id; /* sorted by id */
	const char **leased;                /* sorted shard ids with a lease */
	size_t n_leased;
	const char *initial;
	unsigned char *memo;
	const char **cp; /* per shard: the new lease's checkpoint, or NULL */
	size_t *order;   /* shards to create, ancestors first */
	size_t n_order;
};

static int
cmp_by_id(const void *a, const void *b)
{
	return strcmp((*(const struct kinesis_shard *const *)a)->id,
	    (*(const struct kinesis_shard *const *)b)->id);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long
plan_find(const struct plan *p, const char *id)
{
	size_t lo = 0, hi = p->n, mid;
	int c;

	if (id == NULL)
		return -1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(id, p->by_id[mid]->id);
		if (c == 0)
			return (long)(p->by_id[mid] - p->shards);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static int
plan_leased(const struct plan *p, const char *id)
{
	if (p->n_leased == 0)
		return 0;
	return bsearch(&id, p->leased, p->n_leased, sizeof(*p->leased),
	           cmp_str) != NULL;
}

static void
plan_add(struct plan *p, size_t i, const char *cp)
{
	if (p->cp[i] == NULL)
		p->order[p->n_order++] = i;
	p->cp[i] = cp;
}

/*
 * The KCL's checkIfDescendantAndAddNewLeasesForAncestors, memoized: how
 * shard i relates to the leased shards, adding leases for the parents of
 * every shard that has to be processed.
 */
static int
plan_desc(struct plan *p, size_t i)
{
	const struct kinesis_shard *s = &p->shards[i];
	long par[2];
	int d = DESC_NO, pd[2] = {DESC_NO, DESC_NO};
	size_t k;

	if (p->memo[i] != DESC_UNKNOWN)
		return p->memo[i];
	/* Guards a malformed shard graph with a cycle. */
	p->memo[i] = DESC_NO;
	if (plan_leased(p, s->id)) {
		p->memo[i] = DESC_LEASED;
		return DESC_LEASED;
	}
	par[0] = plan_find(p, s->parent);
	par[1] = plan_find(p, s->adjacent_parent);
	for (k = 0; k < 2; k++) {
		if (par[k] < 0)
			continue;
		pd[k] = plan_desc(p, (size_t)par[k]);
		if (pd[k] > d)
			d = pd[k];
	}
	if (d != DESC_NO) {
		for (k = 0; k < 2; k++) {
			const char *pid;
			if (par[k] < 0)
				continue;
			pid = p->shards[par[k]].id;
			if (plan_leased(p, pid))
				continue;
			plan_add(p, (size_t)par[k],
			    pd[k] == DESC_LEASED ? LEASE_TRIM_HORIZON
			                         : p->initial);
		}
	} else if (strcmp(p->initial, LEASE_TRIM_HORIZON) == 0 ||
	           strcmp(p->initial, LEASE_AT_TIMESTAMP) == 0) {
		d = DESC_ALL;
	}
	p->memo[i] = (unsigned char)d;
	return d;
}

static int
plan_item(const struct kinesis_shard *s, const char *cp, struct lease_item *it)
{
	const char *parents[2];
	size_t np = 0;

	memset(it, 0, sizeof(*it));
	/* As the KCL writes them: the parent and the adjacent parent,
	 * whichever the shard names. */
	if (s->parent != NULL)
		parents[np++] = s->parent;
	if (s->adjacent_parent != NULL)
		parents[np++] = s->adjacent_parent;
	if ((it->shard_id = strdup(s->id)) == NULL ||
	    (it->checkpoint = strdup(cp)) == NULL ||
	    (s->hash_start != NULL &&
	        (it->hash_start = strdup(s->hash_start)) == NULL) ||
	    (s->hash_end != NULL &&
	        (it->hash_end = strdup(s->hash_end)) == NULL) ||
	    lease_strv_copy(&it->parents, parents, np) != 0) {
		lease_item_clear(it);
		return -1;
	}
	it->n_parents = np;
	return 0;
}

int
lease_sync_plan(const struct kinesis_shard *shards, size_t n_shards,
    const struct lease_item *leases, size_t n_leases, const char *initial,
    struct lease_item **out, size_t *n_out)
{
	struct plan p;
	struct lease_item *items = NULL;
	size_t i, k;
	int rc = -1;

	*out = NULL;
	*n_out = 0;
	memset(&p, 0, sizeof(p));
	p.shards = shards;
	p.n = n_shards;
	p.initial = initial != NULL ? initial : LEASE_TRIM_HORIZON;
	if (n_shards == 0)
		return 0;
	if ((p.by_id = calloc(n_shards, sizeof(*p.by_id))) == NULL ||
	    (p.memo = calloc(n_shards, 1)) == NULL ||
	    (p.cp = calloc(n_shards, sizeof(*p.cp))) == NULL ||
	    (p.order = calloc(n_shards, sizeof(*p.order))) == NULL ||
	    (n_leases > 0 &&
	        (p.leased = calloc(n_leases, sizeof(*p.leased))) == NULL))
		goto out;
	for (i = 0; i < n_shards; i++) {
		p.by_id[i] = &shards[i];
		p.memo[i] = DESC_UNKNOWN;
	}
	qsort(p.by_id, n_shards, sizeof(*p.by_id), cmp_by_id);
	for (i = 0; i < n_leases; i++)
		p.leased[p.n_leased++] = leases[i].shard_id;
	if (p.n_leased > 0) /* qsort and bsearch want a base even for 0 */
		qsort(p.leased, p.n_leased, sizeof(*p.leased), cmp_str);

	/* Open shards drive it: a closed shard gets a lease only as an
	 * ancestor of an open one that needs it, so a parent whose lease
	 * was cleaned up is never created again. */
	for (i = 0; i < n_shards; i++) {
		int d;
		if (shards[i].seq_end != NULL || plan_leased(&p, shards[i].id))
			continue;
		d = plan_desc(&p, i);
		plan_add(
		    &p, i, d == DESC_LEASED ? LEASE_TRIM_HORIZON : p.initial);
	}
	if (p.n_order > 0 &&
	    (items = calloc(p.n_order, sizeof(*items))) == NULL)
		goto out;
	for (k = 0; k < p.n_order; k++) {
		if (plan_item(&shards[p.order[k]], p.cp[p.order[k]],
		        &items[k]) != 0) {
			while (k-- > 0)
				lease_item_clear(&items[k]);
			free(items);
			items = NULL;
			goto out;
		}
	}
	*out = items;
	*n_out = p.n_order;
	rc = 0;
out:
	free(p.by_id);
	free(p.memo);
	free(p.cp);
	free(p.order);
	free(p.leased);
	return rc;
}

/* ---- leases of expired shards -------------------------------------------- */

/* The number in "shardId-000000000042", or -1 for any other form. */
static long long
shard_number(const char *id)
{
	const char *p = id + 8;
	long long n = 0;

	if (strncmp(id, "shardId-", 8) != 0 || *p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || n > 99999999999999LL)
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n;
}

static int
listed(const struct kinesis_shard *shards, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(shards[i].id, id) == 0)
			return 1;
	return 0;
}

int
lease_sync_expired(const struct kinesis_shard *shards, size_t n_shards,
    const struct lease_item *leases, size_t n_leases, char ***out,
    size_t *n_out)
{
	long long newest = -1;
	char **v = NULL;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < n_shards; i++) {
		long long k = shard_number(shards[i].id);
		if (k > newest)
			newest = k;
	}
	for (size_t i = 0; i < n_leases; i++) {
		const struct lease_item *l = &leases[i];
		long long k = shard_number(l->shard_id);
		int parent_listed = 0;

		/* A finished lease blocks nobody: cleanup's to decide. */
		if (k < 0 || k >= newest ||
		    listed(shards, n_shards, l->shard_id) ||
		    (l->checkpoint != NULL &&
		        strcmp(l->checkpoint, LEASE_SHARD_END) == 0))
			continue;
		for (size_t j = 0; j < l->n_parents; j++)
			parent_listed |=
			    listed(shards, n_shards, l->parents[j]);
		if (parent_listed)
			continue;
		if (v == NULL && (v = calloc(n_leases, sizeof(*v))) == NULL)
			return -1;
		if ((v[n] = strdup(l->shard_id)) == NULL) {
			lease_strv_free(v, n);
			return -1;
		}
		n++;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- the run ------------------------------------------------------------- */

struct lease_sync {
	struct lease_manager *m;
	struct kinesis *kinesis;
	struct kinesis_call *call;
	struct lease_req *req;
	struct lease_sync_child *extra;
	size_t n_extra;
	struct lease_item *leases; /* the scan's */
	size_t n_leases;
	struct lease_item *create;
	size_t n_create, i_create;
	char **del;
	size_t n_del, i_del;
	char **expired; /* suspects, then the confirmed ones */
	size_t n_expired, i_expired;
	lease_sync_done_cb cb;
	void *arg;
};

void
lease_sync_free(struct lease_sync *s)
{
	size_t i;

	if (s == NULL)
		return;
	kinesis_cancel(s->call);
	lease_req_cancel(s->req);
	for (i = 0; i < s->n_extra; i++) {
		free(s->extra[i].child);
		free(s->extra[i].parent);
	}
	free(s->extra);
	for (i = 0; i < s->n_leases; i++)
		lease_item_clear(&s->leases[i]);
	free(s->leases);
	for (i = 0; i < s->n_create; i++)
		lease_item_clear(&s->create[i]);
	free(s->create);
	lease_strv_free(s->del, s->n_del);
	lease_strv_free(s->expired, s->n_expired);
	free(s);
}

/* Last thing a step does: the callback may free s. */
static void
sync_finish(struct lease_sync *s, int ok)
{
	s->call = NULL;
	s->req = NULL;
	s->cb(ok, s->arg);
}

static const struct lease_item *
sync_lease(const struct lease_sync *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n_leases; i++)
		if (strcmp(s->leases[i].shard_id, id) == 0)
			return &s->leases[i];
	return NULL;
}

static void sync_delete_next(struct lease_sync *);
static void sync_expired_check(struct lease_sync *);

static void
sync_deleted(enum lease_result r, const char *why, void *arg)
{
	struct lease_sync *s = arg;

	s->req = NULL;
	if (r == LEASE_RES_OK)
		log_info("lease",
		    "deleted the lease of finished shard %s "
		    "(its children have begun)",
		    s->del[s->i_del]);
	else if (r != LEASE_RES_LOST)
		log_warnx("lease", "deleting the lease of %s: %s",
		    s->del[s->i_del], why != NULL ? why : "failed");
	s->i_del++;
	sync_delete_next(s);
}

static void
sync_delete_next(struct lease_sync *s)
{
	struct lease_write_params wp;

	while (s->i_del < s->n_del) {
		memset(&wp, 0, sizeof(wp));
		wp.op = LEASE_OP_DELETE;
		wp.shard_id = s->del[s->i_del];
		if ((s->req = lease_table_write(lease_manager_table(s->m), &wp,
		         sync_deleted, s)) != NULL)
			return;
		s->i_del++;
	}
	sync_expired_check(s);
}

/*
 * Suspects of the first listing are deleted only when a second listing,
 * made now, agrees: one listing that came back short must not cost a
 * lease.  Each delete is conditional on the counter the scan read, so a
 * lease someone wrote since (a renew, a checkpoint) waits for the next
 * sync.
 */
static void sync_expired_next(struct lease_sync *);

static void
sync_expired_deleted(enum lease_result r, const char *why, void *arg)
{
	struct lease_sync *s = arg;
	const char *id = s->expired[s->i_expired];
	const struct lease_item *l = sync_lease(s, id);

	s->req = NULL;
	if (r == LEASE_RES_OK)
		log_warnx("lease",
		    "deleted the lease of %s: the shard is no longer in stream "
		    "%s (it expired after its retention period before it was "
		    "read to its end; its records after %s are lost), and its "
		    "lease would have kept its children from being read",
		    id, lease_manager_opts(s->m)->stream,
		    l != NULL && l->checkpoint != NULL ? l->checkpoint : "?");
	else if (r != LEASE_RES_LOST)
		log_warnx("lease", "deleting the lease of expired shard %s: %s",
		    id, why != NULL ? why : "failed");
	s->i_expired++;
	sync_expired_next(s);
}

static void
sync_expired_next(struct lease_sync *s)
{
	struct lease_write_params wp;
	const struct lease_item *l;

	while (s->i_expired < s->n_expired) {
		if ((l = sync_lease(s, s->expired[s->i_expired])) != NULL) {
			memset(&wp, 0, sizeof(wp));
			wp.op = LEASE_OP_DELETE_EXPIRED;
			wp.shard_id = l->shard_id;
			wp.counter = l->counter;
			if ((s->req =
			            lease_table_write(lease_manager_table(s->m),
			                &wp, sync_expired_deleted, s)) != NULL)
				return;
		}
		s->i_expired++;
	}
	sync_finish(s, 1);
}

static void
sync_relisted(
    const struct aws_result *res, const struct kinesis_shards *sh, void *arg)
{
	struct lease_sync *s = arg;
	char **again = NULL;
	size_t n_again = 0, n = 0;

	s->call = NULL;
	if (res->err != AWS_OK) {
		sync_finish(s, 1); /* the next sync looks again */
		return;
	}
	if (lease_sync_expired(sh->shards, sh->n, s->leases, s->n_leases,
	        &again, &n_again) != 0) {
		log_warnx("lease", "shard sync: out of memory");
		sync_finish(s, 1);
		return;
	}
	/* Keep the suspects both listings agree on. */
	for (size_t i = 0; i < s->n_expired; i++) {
		int both = 0;
		for (size_t j = 0; j < n_again; j++)
			both |= strcmp(s->expired[i], again[j]) == 0;
		if (both) {
			char *t = s->expired[n];
			s->expired[n++] = s->expired[i];
			s->expired[i] = t;
		}
	}
	lease_strv_free(again, n_again);
	for (size_t i = n; i < s->n_expired; i++) {
		free(s->expired[i]);
		s->expired[i] = NULL;
	}
	s->n_expired = n;
	s->i_expired = 0;
	sync_expired_next(s);
}

static void
sync_expired_check(struct lease_sync *s)
{
	struct kinesis_list_shards_params lp;

	if (s->n_expired == 0) {
		sync_finish(s, 1);
		return;
	}
	memset(&lp, 0, sizeof(lp));
	lp.stream = lease_manager_opts(s->m)->stream;
	if ((s->call = kinesis_list_shards(
	         s->kinesis, &lp, sync_relisted, s)) == NULL)
		sync_finish(s, 1);
}

/* Whether every child of the finished lease l has begun. */
static int
sync_children_begun(const struct lease_sync *s, const struct lease_item *l)
{
	const struct lease_item *c;
	size_t i, n = 0;

	for (i = 0; i < l->n_children; i++) {
		c = sync_lease(s, l->children[i]);
		if (c == NULL || !lease_checkpoint_begun(c->checkpoint))
			return 0;
		n++;
	}
	if (n > 0)
		return 1;
	/* Written without childShardIds (older KCLs): look the other way,
	 * through the children's parentShardId. */
	for (i = 0; i < s->n_leases; i++) {
		c = &s->leases[i];
		if (!lease_item_has_parent(c, l->shard_id))
			continue;
		if (!lease_checkpoint_begun(c->checkpoint))
			return 0;
		n++;
	}
	return n > 0;
}

static void
sync_cleanup(struct lease_sync *s)
{
	const struct lease_opts *o = lease_manager_opts(s->m);
	size_t i;

	if (o->cleanup_leases_upon_shard_completion && s->n_leases > 0 &&
	    (s->del = calloc(s->n_leases, sizeof(*s->del))) != NULL) {
		for (i = 0; i < s->n_leases; i++) {
			const struct lease_item *l = &s->leases[i];
			if (l->checkpoint == NULL ||
			    strcmp(l->checkpoint, LEASE_SHARD_END) != 0 ||
			    !sync_children_begun(s, l))
				continue;
			if ((s->del[s->n_del] = strdup(l->shard_id)) == NULL)
				break;
			s->n_del++;
		}
	}
	sync_delete_next(s);
}

static void sync_create_next(struct lease_sync *);

static void
sync_created(enum lease_result r, const char *why, void *arg)
{
	struct lease_sync *s = arg;
	const struct lease_item *it = &s->create[s->i_create];

	s->req = NULL;
	if (r == LEASE_RES_OK) {
		log_info("lease", "created the lease of %s at %s", it->shard_id,
		    it->checkpoint);
	} else if (r != LEASE_RES_LOST) {
		/* Stop here: a child created without its parent's lease
		 * could be taken before the parent is finished. */
		log_warnx("lease",
		    "creating the lease of %s: %s; the next "
		    "shard sync retries",
		    it->shard_id, why != NULL ? why : "failed");
		sync_finish(s, 0);
		return;
	}
	s->i_create++;
	sync_create_next(s);
}

static void
sync_create_next(struct lease_sync *s)
{
	struct lease_write_params wp;

	if (s->i_create >= s->n_create) {
		sync_cleanup(s);
		return;
	}
	memset(&wp, 0, sizeof(wp));
	wp.op = LEASE_OP_CREATE;
	wp.item = &s->create[s->i_create];
	if ((s->req = lease_table_write(
	         lease_manager_table(s->m), &wp, sync_created, s)) == NULL) {
		log_warnx("lease", "shard sync: out of memory");
		sync_finish(s, 0);
	}
}

/* Leases for children that a finished shard named but ListShards did
 * not show (yet): parent = that shard, TRIM_HORIZON. */
static int
sync_add_extra(
    struct lease_sync *s, const struct kinesis_shard *shards, size_t n_shards)
{
	struct lease_item *grown, *it;
	const char *parent;
	size_t i, j;

	for (i = 0; i < s->n_extra; i++) {
		const char *child = s->extra[i].child;
		if (sync_lease(s, child) != NULL)
			continue;
		for (j = 0; j < n_shards && strcmp(shards[j].id, child) != 0;
		     j++)
			;
		if (j < n_shards)
			continue; /* the plan has it, with its real parents */
		for (j = 0; j < s->n_create &&
		            strcmp(s->create[j].shard_id, child) != 0;
		     j++)
			;
		if (j < s->n_create)
			continue;
		if ((grown = realloc(s->create,
		         (s->n_create + 1) * sizeof(*grown))) == NULL)
			return -1;
		s->create = grown;
		it = &s->create[s->n_create];
		memset(it, 0, sizeof(*it));
		parent = s->extra[i].parent;
		if ((it->shard_id = strdup(child)) == NULL ||
		    (it->checkpoint = strdup(LEASE_TRIM_HORIZON)) == NULL ||
		    lease_strv_copy(&it->parents, &parent, 1) != 0) {
			lease_item_clear(it);
			return -1;
		}
		it->n_parents = 1;
		s->n_create++;
	}
	return 0;
}

static void
sync_listed(
    const struct aws_result *res, const struct kinesis_shards *sh, void *arg)
{
	struct lease_sync *s = arg;
	const struct lease_opts *o = lease_manager_opts(s->m);

	s->call = NULL;
	if (res->err != AWS_OK) {
		log_warnx("lease", "shard sync: ListShards %s: %s%s%s",
		    o->stream, aws_err_name(res->err),
		    res->type != NULL ? " " : "",
		    res->type != NULL ? res->type : "");
		sync_finish(s, 0);
		return;
	}
	if (lease_sync_plan(sh->shards, sh->n, s->leases, s->n_leases,
	        o->initial_checkpoint, &s->create, &s->n_create) != 0 ||
	    sync_add_extra(s, sh->shards, sh->n) != 0 ||
	    lease_sync_expired(sh->shards, sh->n, s->leases, s->n_leases,
	        &s->expired, &s->n_expired) != 0) {
		log_warnx("lease", "shard sync: out of memory");
		sync_finish(s, 0);
		return;
	}
	log_debug("lease",
	    "shard sync of %s: %zu shards, %zu leases, %zu to "
	    "create",
	    o->stream, sh->n, s->n_leases, s->n_create);
	sync_create_next(s);
}

static void
sync_scanned(
    const struct lease_item *items, size_t n, const char *err, void *arg)
{
	struct lease_sync *s = arg;
	struct kinesis_list_shards_params lp;
	size_t i;

	s->req = NULL;
	if (err != NULL) {
		log_warnx("lease", "shard sync: %s", err);
		sync_finish(s, 0);
		return;
	}
	if (n > 0 && (s->leases = calloc(n, sizeof(*s->leases))) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (lease_item_copy(&s->leases[i], &items[i]) != 0)
			goto oom;
		s->n_leases++;
	}
	memset(&lp, 0, sizeof(lp));
	lp.stream = lease_manager_opts(s->m)->stream;
	if ((s->call = kinesis_list_shards(s->kinesis, &lp, sync_listed, s)) !=
	    NULL)
		return;
oom:
	log_warnx("lease", "shard sync: out of memory");
	sync_finish(s, 0);
}

struct lease_sync *
lease_sync_start(struct lease_manager *m, struct kinesis *k,
    const struct lease_sync_child *extra, size_t n_extra, lease_sync_done_cb cb,
    void *arg)
{
	struct lease_sync *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->m = m;
	s->kinesis = k;
	s->cb = cb;
	s->arg = arg;
	if (n_extra > 0 &&
	    (s->extra = calloc(n_extra, sizeof(*s->extra))) == NULL)
		goto fail;
	for (i = 0; i < n_extra; i++) {
		if ((s->extra[i].child = strdup(extra[i].child)) == NULL ||
		    (s->extra[i].parent = strdup(extra[i].parent)) == NULL) {
			s->n_extra = i + 1;
			goto fail;
		}
	}
	s->n_extra = n_extra;
	if ((s->req = lease_table_scan(
	         lease_manager_table(m), sync_scanned, s)) == NULL)
		goto fail;
	return s;
fail:
	lease_sync_free(s);
	return NULL;
}
