/*
 * table.c — the lease table's DynamoDB requests: making sure the table
 * exists, scanning it, and the conditional writes of the KCL's
 * DynamoDBLeaseRefresher (create, renew, take, steal, checkpoint, shard
 * end, release, delete), each conditioned on leaseCounter and, where the
 * KCL does, on leaseOwner.
 *
 * Every write but create is an UpdateItem, so attributes this code does
 * not know (a KCL 2.x throughput field, a tag added by hand) survive.
 *
 * A failed condition is not always a lost race: the client retries a
 * write whose reply was lost, and the retry then fails against the
 * counter its own first attempt bumped.  As the KCL does, such a failure
 * is followed by a consistent GetItem: "owner as I wrote it and counter
 * one past what I expected" means the write did succeed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "dynamo/dynamo.h"
#include "lease/lease_int.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define TABLE_POLL_MS      1000 /* DescribeTable while CREATING */
#define TABLE_RETRY_MIN_MS 1000 /* after a failed DescribeTable/Create */
#define TABLE_RETRY_MAX_MS 30000

enum req_kind {
	REQ_ENSURE,
	REQ_SCAN,
	REQ_WRITE,
};

struct lease_table {
	struct event_base *base;
	struct dynamo *dynamo;
	char *name;
	char *worker_id;
	struct metric *ops; /* kinesisd_lease_operations_total */
	TAILQ_HEAD(, lease_req) reqs;
};

struct lease_req {
	struct lease_table *t;
	enum req_kind kind;
	struct dynamo_call *call;
	int in_cb;     /* its callback runs: cancel is a no-op */
	int cancelled; /* cancelled from inside its callback */

	/* ensure */
	struct event *timer;
	struct lease_table_create_params create;
	uint64_t retry_ms;
	int created; /* CreateTable was sent (logged once) */
	lease_ready_cb ready_cb;

	/* scan */
	lease_scan_cb scan_cb;

	/* write */
	struct lease_write_params wp; /* strings below are owned copies */
	char *shard_id, *old_owner, *checkpoint;
	char **children;
	struct lease_item item;
	int rereading;
	lease_write_cb write_cb;

	void *arg;
	TAILQ_ENTRY(lease_req) entry;
};

static const char *const op_names[] = {
    "create",
    "renew",
    "take",
    "steal",
    "checkpoint",
    "shard_end",
    "release",
    "delete",
    "delete_expired",
};

const char *
lease_op_name(enum lease_op op)
{
	if ((size_t)op < sizeof(op_names) / sizeof(*op_names))
		return op_names[op];
	return "?";
}

static const char *const result_names[] = {
    "ok",
    "lost",
    "throttled",
    "failed",
};

const char *
lease_result_name(enum lease_result r)
{
	if ((size_t)r < sizeof(result_names) / sizeof(*result_names))
		return result_names[r];
	return "?";
}

struct lease_table *
lease_table_new(struct event_base *base, struct dynamo *d,
    struct metrics *metrics, const char *table, const char *worker_id)
{
	struct lease_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	TAILQ_INIT(&t->reqs);
	t->base = base;
	t->dynamo = d;
	if ((t->name = strdup(table)) == NULL ||
	    (t->worker_id = strdup(worker_id)) == NULL) {
		lease_table_free(t);
		return NULL;
	}
	t->ops = metrics_counter(metrics, "kinesisd_lease_operations_total",
	    "Lease table writes by operation and result", "table,op,result");
	return t;
}

const char *
lease_table_name(const struct lease_table *t)
{
	return t->name;
}

void
lease_table_count(struct lease_table *t, enum lease_op op, enum lease_result r)
{
	metric_inc(metric_series(
	    t->ops, t->name, lease_op_name(op), lease_result_name(r)));
}

static void
req_free(struct lease_req *r)
{
	if (r == NULL)
		return;
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->shard_id);
	free(r->old_owner);
	free(r->checkpoint);
	lease_strv_free(r->children, r->wp.n_children);
	lease_item_clear(&r->item);
	free(r);
}

/* Unlinks and frees, cancelling what is in flight. */
static void
req_destroy(struct lease_req *r)
{
	TAILQ_REMOVE(&r->t->reqs, r, entry);
	dynamo_cancel(r->call);
	req_free(r);
}

void
lease_table_free(struct lease_table *t)
{
	struct lease_req *r;

	if (t == NULL)
		return;
	while ((r = TAILQ_FIRST(&t->reqs)) != NULL)
		req_destroy(r);
	free(t->name);
	free(t->worker_id);
	free(t);
}

void
lease_req_cancel(struct lease_req *r)
{
	if (r == NULL)
		return;
	if (r->in_cb) {
		r->cancelled = 1;
		return;
	}
	req_destroy(r);
}

static struct lease_req *
req_new(struct lease_table *t, enum req_kind kind, void *arg)
{
	struct lease_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->t = t;
	r->kind = kind;
	r->arg = arg;
	TAILQ_INSERT_TAIL(&t->reqs, r, entry);
	return r;
}

/* ---- ensure: DescribeTable, CreateTable, wait for ACTIVE ------------------
 */

static void ensure_describe(struct lease_req *);

static void
ensure_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ensure_describe(arg);
}

static void
ensure_later(struct lease_req *r, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	event_add(r->timer, &tv);
}

/* After a failure: back off, doubling up to a cap, and say why. */
static void
ensure_retry(
    struct lease_req *r, const char *what, const struct dynamo_result *res)
{
	log_warnx("lease",
	    "%s of lease table %s failed (%s%s%s); retrying in "
	    "%llu ms",
	    what, r->t->name, dynamo_err_name(res->err),
	    res->aws != NULL && res->aws->message != NULL ? ": " : "",
	    res->aws != NULL && res->aws->message != NULL ? res->aws->message
	                                                  : "",
	    (unsigned long long)r->retry_ms);
	ensure_later(r, r->retry_ms);
	r->retry_ms = r->retry_ms * 2 > TABLE_RETRY_MAX_MS ? TABLE_RETRY_MAX_MS
	                                                   : r->retry_ms * 2;
}

static void
ensure_ready(struct lease_req *r)
{
	lease_ready_cb cb = r->ready_cb;
	void *arg = r->arg;

	r->in_cb = 1;
	cb(arg);
	r->in_cb = 0;
	req_destroy(r);
}

static void
ensure_created(const struct dynamo_result *res, void *arg)
{
	struct lease_req *r = arg;

	r->call = NULL;
	if (res->err == DYNAMO_OK || res->err == DYNAMO_ERR_IN_USE) {
		/* IN_USE: another worker created it first; either way,
		 * wait for ACTIVE. */
		ensure_later(r, res->err == DYNAMO_OK ? TABLE_POLL_MS : 0);
		return;
	}
	ensure_retry(r, "CreateTable", res);
}

static void
ensure_described(const struct dynamo_result *res, void *arg)
{
	struct lease_req *r = arg;
	struct dynamo_create_table_params cp;

	r->call = NULL;
	if (res->err == DYNAMO_ERR_NOT_FOUND) {
		if (!r->created)
			log_info("lease", "creating lease table %s (%s)",
			    r->t->name,
			    r->create.read_capacity <= 0 &&
			            r->create.write_capacity <= 0
			        ? "on-demand"
			        : "provisioned");
		r->created = 1;
		memset(&cp, 0, sizeof(cp));
		cp.table = r->t->name;
		cp.hash_key = LEASE_A_KEY;
		cp.read_capacity = r->create.read_capacity;
		cp.write_capacity = r->create.write_capacity;
		if ((r->call = dynamo_create_table(
		         r->t->dynamo, &cp, ensure_created, r)) == NULL)
			ensure_later(r, TABLE_RETRY_MIN_MS);
		return;
	}
	if (res->err != DYNAMO_OK) {
		ensure_retry(r, "DescribeTable", res);
		return;
	}
	if (res->table->hash_key != NULL &&
	    strcmp(res->table->hash_key, LEASE_A_KEY) != 0)
		log_warnx("lease", "lease table %s has hash key %s, not %s",
		    r->t->name, res->table->hash_key, LEASE_A_KEY);
	if (strcmp(res->table->status, "ACTIVE") == 0 ||
	    strcmp(res->table->status, "UPDATING") == 0) {
		ensure_ready(r);
		return;
	}
	log_debug("lease", "lease table %s is %s; waiting", r->t->name,
	    res->table->status);
	ensure_later(r, TABLE_POLL_MS);
}

static void
ensure_describe(struct lease_req *r)
{
	if ((r->call = dynamo_describe_table(
	         r->t->dynamo, r->t->name, ensure_described, r)) == NULL)
		ensure_later(r, TABLE_RETRY_MIN_MS);
}

struct lease_req *
lease_table_ensure(struct lease_table *t,
    const struct lease_table_create_params *p, lease_ready_cb cb, void *arg)
{
	struct lease_req *r;

	if ((r = req_new(t, REQ_ENSURE, arg)) == NULL)
		return NULL;
	r->ready_cb = cb;
	r->create = *p;
	r->retry_ms = TABLE_RETRY_MIN_MS;
	if ((r->timer = evtimer_new(t->base, ensure_timer_cb, r)) == NULL) {
		req_destroy(r);
		return NULL;
	}
	/* From the loop, never from inside this call. */
	ensure_later(r, 0);
	return r;
}

/* ---- scan -------------------------------------------------------------------
 */

static void
scan_done(const struct dynamo_result *res, void *arg)
{
	struct lease_req *r = arg;
	struct lease_item *items = NULL;
	const cJSON *it;
	const char *why;
	char err[256];
	size_t n = 0, i;

	r->call = NULL;
	if (res->err != DYNAMO_OK) {
		snprintf(err, sizeof(err), "Scan: %s%s%s",
		    dynamo_err_name(res->err),
		    res->aws->message != NULL ? ": " : "",
		    res->aws->message != NULL ? res->aws->message : "");
		r->in_cb = 1;
		r->scan_cb(NULL, 0, err, r->arg);
		goto out;
	}
	if (res->count > 0 &&
	    (items = calloc(res->count, sizeof(*items))) == NULL) {
		r->in_cb = 1;
		r->scan_cb(NULL, 0, "Scan: out of memory", r->arg);
		goto out;
	}
	cJSON_ArrayForEach(it, res->items)
	{
		switch (lease_item_decode(it, &items[n], &why)) {
		case LEASE_DECODE_OK:
			n++;
			break;
		case LEASE_DECODE_SKIP:
			break;
		case LEASE_DECODE_BAD:
			log_warnx("lease", "skipping an item of %s: %s",
			    r->t->name, why);
			break;
		}
	}
	r->in_cb = 1;
	r->scan_cb(items, n, NULL, r->arg);
out:
	r->in_cb = 0;
	for (i = 0; i < n; i++)
		lease_item_clear(&items[i]);
	free(items);
	req_destroy(r);
}

struct lease_req *
lease_table_scan(struct lease_table *t, lease_scan_cb cb, void *arg)
{
	struct dynamo_scan_params sp;
	struct lease_req *r;

	if ((r = req_new(t, REQ_SCAN, arg)) == NULL)
		return NULL;
	r->scan_cb = cb;
	memset(&sp, 0, sizeof(sp));
	sp.table = t->name;
	sp.consistent_read = 1;
	if ((r->call = dynamo_scan(t->dynamo, &sp, scan_done, r)) == NULL) {
		req_destroy(r);
		return NULL;
	}
	return r;
}

/* ---- conditional writes -------------------------------------------------- */

static int
add_s(cJSON *vals, const char *name, const char *v)
{
	cJSON *a = cJSON_AddObjectToObject(vals, name);

	return a != NULL && cJSON_AddStringToObject(a, "S", v) != NULL ? 0 : -1;
}

static int
add_n(cJSON *vals, const char *name, uint64_t v)
{
	char buf[32];
	cJSON *a = cJSON_AddObjectToObject(vals, name);

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return a != NULL && cJSON_AddStringToObject(a, "N", buf) != NULL ? 0
	                                                                 : -1;
}

static int
add_ss(cJSON *vals, const char *name, char *const *v, size_t n)
{
	cJSON *a = cJSON_AddObjectToObject(vals, name), *arr, *s;
	size_t i, j;

	if (a == NULL || (arr = cJSON_AddArrayToObject(a, "SS")) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && strcmp(v[i], v[j]) != 0; j++)
			;
		if (j < i)
			continue;
		if ((s = cJSON_CreateString(v[i])) == NULL ||
		    !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return -1;
		}
	}
	return 0;
}

static cJSON *
key_of(const char *shard_id)
{
	cJSON *k = cJSON_CreateObject();

	if (k != NULL && add_s(k, LEASE_A_KEY, shard_id) != 0) {
		cJSON_Delete(k);
		return NULL;
	}
	return k;
}

/* Every attribute name goes through ExpressionAttributeNames so that
 * none can collide with a DynamoDB reserved word. */
static cJSON *
names_all(void)
{
	static const char *const map[][2] = {
	    {"#k", LEASE_A_KEY},
	    {"#o", LEASE_A_OWNER},
	    {"#c", LEASE_A_COUNTER},
	    {"#cp", LEASE_A_CHECKPOINT},
	    {"#cs", LEASE_A_SUBSEQ},
	    {"#sw", LEASE_A_SWITCHES},
	    {"#ch", LEASE_A_CHILDREN},
	};
	cJSON *n = cJSON_CreateObject();
	size_t i;

	if (n == NULL)
		return NULL;
	for (i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (cJSON_AddStringToObject(n, map[i][0], map[i][1]) == NULL) {
			cJSON_Delete(n);
			return NULL;
		}
	}
	return n;
}

/* Whether expr uses the placeholder name ("#c" must not match "#cp"). */
static int
expr_uses(const char *expr, const char *name)
{
	size_t l = strlen(name);
	const char *p = expr;
	char after;

	if (p == NULL)
		return 0;
	while ((p = strstr(p, name)) != NULL) {
		after = p[l];
		if (!((after >= 'a' && after <= 'z') ||
		        (after >= '0' && after <= '9')))
			return 1;
		p += l;
	}
	return 0;
}

/* Keeps only the names the expressions use: DynamoDB rejects unused
 * ExpressionAttributeNames. */
static void
names_prune(cJSON *names, const char *update, const char *cond)
{
	cJSON *e, *next;

	for (e = names->child; e != NULL; e = next) {
		next = e->next;
		if (!expr_uses(update, e->string) &&
		    !expr_uses(cond, e->string))
			cJSON_DeleteItemFromObjectCaseSensitive(
			    names, e->string);
	}
}

static void write_done(const struct dynamo_result *, void *);

/* Builds and sends the write of r->wp; 0, or -1 when nothing was sent. */
static int
write_send(struct lease_req *r)
{
	struct lease_write_params *w = &r->wp;
	struct dynamo_write_params dp;
	const char *me = r->t->worker_id;
	cJSON *key = NULL, *names = NULL, *vals = NULL, *item = NULL;
	char update[256] = "", cond[128] = "";
	int rc = -1;

	memset(&dp, 0, sizeof(dp));
	dp.table = r->t->name;
	if ((names = names_all()) == NULL ||
	    (vals = cJSON_CreateObject()) == NULL)
		goto out;
	if (w->op != LEASE_OP_CREATE && (key = key_of(w->shard_id)) == NULL)
		goto out;
	if (w->op != LEASE_OP_CREATE && w->op != LEASE_OP_DELETE &&
	    (add_n(vals, ":c", w->counter) != 0 ||
	        (w->op != LEASE_OP_DELETE_EXPIRED &&
	            add_n(vals, ":n", w->counter + 1) != 0)))
		goto out;

	switch (w->op) {
	case LEASE_OP_CREATE:
		if ((item = lease_item_encode(&r->item)) == NULL)
			goto out;
		snprintf(cond, sizeof(cond), "attribute_not_exists(#k)");
		break;
	case LEASE_OP_RENEW:
		snprintf(update, sizeof(update), "SET #c = :n");
		snprintf(cond, sizeof(cond), "#c = :c AND #o = :me");
		if (add_s(vals, ":me", me) != 0)
			goto out;
		break;
	case LEASE_OP_TAKE:
	case LEASE_OP_STEAL:
		if (add_s(vals, ":me", me) != 0)
			goto out;
		if (w->old_owner == NULL) {
			snprintf(
			    update, sizeof(update), "SET #c = :n, #o = :me");
			snprintf(cond, sizeof(cond),
			    "#c = :c AND attribute_not_exists(#o)");
			break;
		}
		if (add_s(vals, ":old", w->old_owner) != 0)
			goto out;
		snprintf(cond, sizeof(cond), "#c = :c AND #o = :old");
		/* As the KCL: a switch counts only from one owner to
		 * another, not from nobody, nor from myself. */
		if (strcmp(w->old_owner, me) == 0) {
			snprintf(
			    update, sizeof(update), "SET #c = :n, #o = :me");
		} else {
			snprintf(update, sizeof(update),
			    "SET #c = :n, #o = :me ADD #sw :one");
			if (add_n(vals, ":one", 1) != 0)
				goto out;
		}
		break;
	case LEASE_OP_CHECKPOINT:
		snprintf(update, sizeof(update),
		    "SET #c = :n, #cp = :cp, #cs = :cs, #sw = :zero");
		snprintf(cond, sizeof(cond), "#c = :c AND #o = :me");
		if (add_s(vals, ":me", me) != 0 ||
		    add_s(vals, ":cp", w->checkpoint) != 0 ||
		    add_n(vals, ":cs", w->subseq) != 0 ||
		    add_n(vals, ":zero", 0) != 0)
			goto out;
		break;
	case LEASE_OP_SHARD_END:
		/* Done with it: nobody needs to renew a finished shard, so
		 * the owner goes in the same write (the table then shows
		 * who may take it: nobody). */
		snprintf(update, sizeof(update),
		    "SET #c = :n, #cp = :cp, #cs = :zero, #sw = :zero%s "
		    "REMOVE #o",
		    w->n_children > 0 ? ", #ch = :ch" : "");
		snprintf(cond, sizeof(cond), "#c = :c AND #o = :me");
		if (add_s(vals, ":me", me) != 0 ||
		    add_s(vals, ":cp", LEASE_SHARD_END) != 0 ||
		    add_n(vals, ":zero", 0) != 0 ||
		    (w->n_children > 0 &&
		        add_ss(vals, ":ch", r->children, w->n_children) != 0))
			goto out;
		break;
	case LEASE_OP_RELEASE:
		snprintf(update, sizeof(update), "SET #c = :n REMOVE #o");
		snprintf(cond, sizeof(cond), "#c = :c AND #o = :me");
		if (add_s(vals, ":me", me) != 0)
			goto out;
		break;
	case LEASE_OP_DELETE:
		/* Only finished leases are ever deleted (cleanup). */
		snprintf(cond, sizeof(cond), "#cp = :end");
		if (add_s(vals, ":end", LEASE_SHARD_END) != 0)
			goto out;
		break;
	case LEASE_OP_DELETE_EXPIRED:
		/* As the shard sync saw it: anyone's write since (a renew, a
		 * checkpoint) makes it wait for the next sync. */
		snprintf(cond, sizeof(cond), "#c = :c");
		break;
	}
	names_prune(names, update[0] != '\0' ? update : NULL, cond);
	dp.item = item;
	dp.key = key;
	dp.update = update[0] != '\0' ? update : NULL;
	dp.condition = cond;
	dp.names = names;
	dp.values = vals->child != NULL ? vals : NULL;
	switch (w->op) {
	case LEASE_OP_CREATE:
		r->call = dynamo_put_item(r->t->dynamo, &dp, write_done, r);
		break;
	case LEASE_OP_DELETE:
	case LEASE_OP_DELETE_EXPIRED:
		r->call = dynamo_delete_item(r->t->dynamo, &dp, write_done, r);
		break;
	default:
		r->call = dynamo_update_item(r->t->dynamo, &dp, write_done, r);
		break;
	}
	rc = r->call != NULL ? 0 : -1;
out:
	cJSON_Delete(key);
	cJSON_Delete(names);
	cJSON_Delete(vals);
	cJSON_Delete(item);
	return rc;
}

static void
write_finish(struct lease_req *r, enum lease_result res, const char *why)
{
	lease_table_count(r->t, r->wp.op, res);
	r->in_cb = 1;
	r->write_cb(res, why, r->arg);
	r->in_cb = 0;
	req_destroy(r);
}

static enum lease_result
result_of(enum dynamo_err e)
{
	switch (e) {
	case DYNAMO_OK:
		return LEASE_RES_OK;
	case DYNAMO_ERR_CONDITION:
		return LEASE_RES_LOST;
	case DYNAMO_ERR_THROTTLED:
		return LEASE_RES_THROTTLED;
	default:
		return LEASE_RES_FAILED;
	}
}

/* Whether the re-read item shows this write as done. */
static int
reread_says_done(const struct lease_req *r, const struct lease_item *it)
{
	const char *me = r->t->worker_id;

	if (it->counter != r->wp.counter + 1)
		return 0;
	switch (r->wp.op) {
	case LEASE_OP_RENEW:
	case LEASE_OP_TAKE:
	case LEASE_OP_STEAL:
		return it->owner != NULL && strcmp(it->owner, me) == 0;
	case LEASE_OP_CHECKPOINT:
		return it->owner != NULL && strcmp(it->owner, me) == 0 &&
		       it->checkpoint != NULL &&
		       strcmp(it->checkpoint, r->wp.checkpoint) == 0 &&
		       it->checkpoint_subseq == r->wp.subseq;
	case LEASE_OP_SHARD_END:
		return it->owner == NULL && it->checkpoint != NULL &&
		       strcmp(it->checkpoint, LEASE_SHARD_END) == 0;
	case LEASE_OP_RELEASE:
		return it->owner == NULL;
	default:
		return 0;
	}
}

static void
reread_done(const struct dynamo_result *res, void *arg)
{
	struct lease_req *r = arg;
	struct lease_item it;
	const char *why;

	r->call = NULL;
	if (res->err != DYNAMO_OK) {
		/* Cannot tell: the condition did fail, so assume lost, the
		 * safe side for every caller (a renewal is retried). */
		write_finish(
		    r, LEASE_RES_LOST, "condition failed; re-read failed");
		return;
	}
	if (res->item == NULL) {
		write_finish(r, LEASE_RES_LOST, "condition failed; no item");
		return;
	}
	if (lease_item_decode(res->item, &it, &why) != LEASE_DECODE_OK) {
		write_finish(
		    r, LEASE_RES_LOST, "condition failed; item unreadable");
		return;
	}
	if (reread_says_done(r, &it)) {
		log_info("lease",
		    "%s of %s: condition failed on a retry "
		    "that had already succeeded; recovered",
		    lease_op_name(r->wp.op), r->wp.shard_id);
		lease_item_clear(&it);
		write_finish(r, LEASE_RES_OK, NULL);
		return;
	}
	lease_item_clear(&it);
	write_finish(r, LEASE_RES_LOST, "condition failed");
}

static void
write_done(const struct dynamo_result *res, void *arg)
{
	struct lease_req *r = arg;
	enum lease_result lr = result_of(res->err);
	cJSON *key;

	r->call = NULL;
	if (lr == LEASE_RES_LOST && !r->rereading &&
	    r->wp.op != LEASE_OP_CREATE && r->wp.op != LEASE_OP_DELETE &&
	    r->wp.op != LEASE_OP_DELETE_EXPIRED) {
		r->rereading = 1;
		if ((key = key_of(r->wp.shard_id)) != NULL)
			r->call = dynamo_get_item(
			    r->t->dynamo, r->t->name, key, 1, reread_done, r);
		cJSON_Delete(key);
		if (r->call != NULL)
			return;
	}
	write_finish(r, lr,
	    lr == LEASE_RES_OK ? NULL
	                       : (res->aws != NULL && res->aws->message != NULL
	                                 ? res->aws->message
	                                 : dynamo_err_name(res->err)));
}

struct lease_req *
lease_table_write(struct lease_table *t, const struct lease_write_params *p,
    lease_write_cb cb, void *arg)
{
	struct lease_req *r;

	if ((r = req_new(t, REQ_WRITE, arg)) == NULL)
		return NULL;
	r->write_cb = cb;
	r->wp = *p;
	if (p->op == LEASE_OP_CREATE) {
		if (p->item == NULL || lease_item_copy(&r->item, p->item) != 0)
			goto fail;
		r->wp.shard_id = r->item.shard_id;
	} else {
		if ((r->shard_id = lease_strdup(p->shard_id)) == NULL)
			goto fail;
		r->wp.shard_id = r->shard_id;
	}
	if ((p->old_owner != NULL &&
	        (r->old_owner = strdup(p->old_owner)) == NULL) ||
	    (p->checkpoint != NULL &&
	        (r->checkpoint = strdup(p->checkpoint)) == NULL) ||
	    lease_strv_copy(&r->children, p->children, p->n_children) != 0)
		goto fail;
	r->wp.old_owner = r->old_owner;
	r->wp.checkpoint = r->checkpoint;
	r->wp.children = (const char *const *)r->children;
	r->wp.item = NULL;
	if (write_send(r) != 0)
		goto fail;
	return r;
fail:
	/* children is counted by wp.n_children: keep them in step. */
	if (r->children == NULL)
		r->wp.n_children = 0;
	req_destroy(r);
	return NULL;
}
