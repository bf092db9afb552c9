/*
 * deliver.c — from batches to applications: subscriptions, which
 * connection delivers which shard, sending within max_in_flight and the
 * socket's high-water mark, acks and the checkpoint prefix, batch
 * timeouts with redelivery, the failure tolerance and consumer_failure.
 *
 * Invariants:
 *   - a shard is delivered by at most one subscription (sh->sub); its
 *     SENT records are counted in that subscription's in_flight, and
 *     nowhere else (moving a shard makes them NEW again first);
 *   - a shard's records go out in sequence order: the current batch is
 *     sent from its lowest NEW record, and the next batch only starts once
 *     the current one is over (reactive-kinesis: one batch at a time);
 *   - shard_started precedes a shard's records on a connection.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "consumer/consumer_int.h"
#include "ipc/ipc.h"
#include "lease/lease.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define DEFAULT_MAX_IN_FLIGHT 1000
#define MAX_MAX_IN_FLIGHT     10000000
/* Records sent from one shard before the next shard's turn. */
#define PUMP_CHUNK 64

/* ---- messages ------------------------------------------------------------ */

static cJSON *
shard_msg(const struct consumer_shard *sh, const char *op)
{
	cJSON *m = ipc_msg_new(op, NULL);

	if (m == NULL ||
	    cJSON_AddStringToObject(m, "consumer", sh->cons->conf->name) ==
	        NULL ||
	    cJSON_AddStringToObject(m, "shard", sh->id) == NULL) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

void
consumer_shard_send(struct consumer_shard *sh, const char *op)
{
	if (sh->sub != NULL)
		ipc_conn_send(sh->sub->conn, shard_msg(sh, op));
}

/*
 * "record" is the consumer's most frequent line: formatted straight into
 * one reused buffer, base64 included, instead of building and printing a
 * cJSON object per record.  The members and their order are those of the
 * cJSON object it replaces; strings are escaped as cJSON escapes them
 * (aws_json_quote_to) and end at a NUL, as the C strings cJSON was given
 * did.
 */

/* Room for the line's fixed text and its two integers. */
#define RECORD_FIXED 160

static char *
json_put_str(char *o, const char *s, size_t n)
{
	return o + aws_json_quote_to(s, strnlen(s, n), o);
}

static char *
json_put_lit(char *o, const char *lit, size_t n)
{
	memcpy(o, lit, n);
	return o + n;
}
#define PUT_LIT(o, lit) json_put_lit((o), (lit), sizeof(lit) - 1)

static char *
json_put_int(char *o, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	return json_put_lit(o, p, (size_t)(buf + sizeof(buf) - p));
}

/* The line buffer, at least need bytes; NULL when out of memory.  One
 * record of 1 MiB makes it large once: it shrinks back after. */
#define LINE_KEEP (64 * 1024)

static char *
line_buffer(struct consumers *all, size_t need)
{
	char *p;

	if (need <= all->line_cap)
		return all->line;
	if ((p = realloc(all->line, need)) == NULL)
		return NULL;
	all->line = p;
	all->line_cap = need;
	return p;
}

static void
line_trim(struct consumers *all)
{
	if (all->line_cap > LINE_KEEP) {
		free(all->line);
		all->line = NULL;
		all->line_cap = 0;
	}
}

/* recs[i] of the shard's current batch as a "record" line. */
static void
record_send(struct consumer_shard *sh, struct consumer_sub *s, size_t i)
{
	const struct consumer_batch *b = sh->cur;
	const struct consumer_rec *r = &b->recs[i];
	const struct consumer_kin *k = &b->kin[r->kin];
	const char *name = sh->cons->conf->name;
	size_t name_len = strlen(name), id_len = strlen(sh->id);
	size_t ehk_len = r->ehk != CONSUMER_NO_EHK ? r->ehk_len : 0;
	size_t need = RECORD_FIXED + AWS_BASE64_ENCODED_LEN((size_t)r->len) +
	              AWS_JSON_QUOTED_MAX(name_len + id_len + k->seq_len +
	                                  (size_t)r->key_len + ehk_len);
	char *line = line_buffer(sh->cons->all, need), *o = line;

	if (line == NULL)
		return;
	o = PUT_LIT(o, "{\"op\":\"record\",\"consumer\":");
	o = json_put_str(o, name, name_len);
	o = PUT_LIT(o, ",\"shard\":");
	o = json_put_str(o, sh->id, id_len);
	o = PUT_LIT(o, ",\"seq\":");
	o = json_put_str(o, k->seq, k->seq_len);
	o = PUT_LIT(o, ",\"subseq\":");
	o = json_put_int(o, (int64_t)consumer_batch_subseq(b, i));
	o = PUT_LIT(o, ",\"key\":");
	o = json_put_str(o, b->arena + r->key, r->key_len);
	o = PUT_LIT(o, ",\"data\":\"");
	o += aws_base64_encode_to(b->arena + r->data, r->len, o);
	o = PUT_LIT(o, "\",\"ts\":");
	o = json_put_int(o, k->ts);
	if (r->ehk != CONSUMER_NO_EHK) {
		o = PUT_LIT(o, ",\"ehk\":");
		o = json_put_str(o, b->arena + r->ehk, r->ehk_len);
	}
	*o++ = '}';
	ipc_conn_send_line(s->conn, line, (size_t)(o - line));
	line_trim(sh->cons->all);
}

/* ---- assignment ---------------------------------------------------------- */

static struct consumer_sub *
sub_find(struct consumer *c, const struct ipc_conn *conn)
{
	struct consumer_sub *s;

	TAILQ_FOREACH(s, &c->subs, entry)
	{
		if (s->conn == conn)
			return s;
	}
	return NULL;
}

/* Who will deliver the shard once pending moves are done. */
static struct consumer_sub *
shard_owner(const struct consumer_shard *sh)
{
	return sh->move_to != NULL ? sh->move_to : sh->sub;
}

/* Each subscription's load, in list order, into a malloc'd array. */
static size_t *
sub_loads(struct consumer *c, struct consumer_sub ***subs_out)
{
	struct consumer_sub **subs;
	struct consumer_shard *sh;
	struct consumer_sub *s;
	size_t *loads, i = 0;

	loads = calloc(c->n_subs > 0 ? c->n_subs : 1, sizeof(*loads));
	subs = calloc(c->n_subs > 0 ? c->n_subs : 1, sizeof(*subs));
	if (loads == NULL || subs == NULL) {
		free(loads);
		free(subs);
		return NULL;
	}
	TAILQ_FOREACH(s, &c->subs, entry)
	{
		subs[i++] = s;
	}
	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		struct consumer_sub *o = shard_owner(sh);
		for (i = 0; o != NULL && i < c->n_subs; i++)
			if (subs[i] == o)
				loads[i]++;
	}
	*subs_out = subs;
	return loads;
}

static void
shard_assign(struct consumer_shard *sh, struct consumer_sub *s)
{
	sh->sub = s;
	s->n_shards++;
	log_debug("consumer", "%s %s: delivered on connection %llu",
	    sh->cons->conf->name, sh->id,
	    (unsigned long long)ipc_conn_id(s->conn));
	consumer_shard_send(sh, "shard_started");
	consumers_schedule(sh->cons->all);
}

/* Takes the shard from its connection: its unacked records will be sent
 * again, in order, wherever it goes next. */
static void
shard_unassign(struct consumer_shard *sh, int send_lost)
{
	struct consumer_sub *s = sh->sub;

	if (s == NULL)
		return;
	if (sh->cur != NULL) {
		s->in_flight -= consumer_batch_requeue(sh->cur);
		/* The batch's time starts again with its next send. */
		sh->cur->timer_armed = 0;
		evtimer_del(sh->ev_batch);
	}
	if (send_lost)
		consumer_shard_send(sh, "shard_lost");
	s->n_shards--;
	sh->sub = NULL;
	sh->move_to = NULL;
}

void
consumer_shard_assign_any(struct consumer_shard *sh)
{
	struct consumer *c = sh->cons;
	struct consumer_sub **subs;
	size_t *loads;
	ssize_t i;

	if (c->n_subs == 0 || (loads = sub_loads(c, &subs)) == NULL)
		return;
	if ((i = consumer_balance_pick(loads, c->n_subs)) >= 0)
		shard_assign(sh, subs[i]);
	free(loads);
	free(subs);
}

static int
shard_movable(const struct consumer_shard *sh)
{
	switch (sh->state) {
	case SHARD_ITERATOR:
	case SHARD_FETCHING:
	case SHARD_WAITING:
	case SHARD_QUEUED:
	case SHARD_FULL:
	case SHARD_DRAINING:
		return sh->move_to == NULL;
	default:
		return 0;
	}
}

/* A move waits until the shard has nothing in flight, so that a record
 * is never out on two connections because of balancing alone. */
static void
shard_move(struct consumer_shard *sh, struct consumer_sub *to)
{
	if (sh->cur != NULL && sh->cur->n_sent > 0) {
		sh->move_to = to;
		return;
	}
	shard_unassign(sh, 1);
	shard_assign(sh, to);
}

void
consumer_rebalance(struct consumer *c)
{
	/* Each round moves one shard; more rounds than shards means no
	 * movable shard is left on the busiest connection. */
	for (size_t round = 0; round < 4096; round++) {
		struct consumer_sub **subs;
		struct consumer_shard *sh, *pick = NULL;
		size_t *loads, from, to;

		if ((loads = sub_loads(c, &subs)) == NULL)
			return;
		if (consumer_balance_move(loads, c->n_subs, &from, &to)) {
			TAILQ_FOREACH(sh, &c->shards, entry)
			{
				if (sh->sub != subs[from] || !shard_movable(sh))
					continue;
				/* Prefer one that can move at once. */
				if (pick == NULL || sh->cur == NULL ||
				    sh->cur->n_sent == 0)
					pick = sh;
				if (sh->cur == NULL || sh->cur->n_sent == 0)
					break;
			}
			if (pick != NULL) {
				log_info("consumer",
				    "%s %s: moving to "
				    "connection %llu to balance",
				    c->conf->name, pick->id,
				    (unsigned long long)ipc_conn_id(
				        subs[to]->conn));
				shard_move(pick, subs[to]);
			}
		}
		free(loads);
		free(subs);
		if (pick == NULL)
			return;
	}
}

void
consumer_shard_drop_batches(struct consumer_shard *sh)
{
	if (sh->cur != NULL && sh->sub != NULL)
		sh->sub->in_flight -= sh->cur->n_sent;
	consumer_shard_batch_free(sh, sh->cur);
	consumer_shard_batch_free(sh, sh->next);
	sh->cur = sh->next = NULL;
	sh->cp_dirty = 0;
	evtimer_del(sh->ev_batch);
	consumer_fetch_kick(sh->cons);
}

void
consumer_shard_detach(struct consumer_shard *sh, int send_lost)
{
	consumer_shard_drop_batches(sh);
	shard_unassign(sh, send_lost);
}

/* ---- subscriptions ------------------------------------------------------- */

static void
sub_remove(struct consumer_sub *s)
{
	struct consumer *c = s->cons;
	struct consumer_shard *sh;

	TAILQ_REMOVE(&c->subs, s, entry);
	c->n_subs--;
	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		if (sh->move_to == s)
			sh->move_to = NULL;
		if (sh->sub != s)
			continue;
		shard_unassign(sh, 0);
		if (c->n_subs > 0 && consumer_shard_live(sh))
			consumer_shard_assign_any(sh);
	}
	log_info("consumer", "%s: connection %llu unsubscribed, %zu left",
	    c->conf->name, (unsigned long long)ipc_conn_id(s->conn), c->n_subs);
	free(s);
	if (c->n_subs == 0 && c->state == CONSUMER_RUNNING)
		consumer_set_state(c, CONSUMER_RELEASING);
	if (c->n_subs == 0 && c->state == CONSUMER_DRAINING) {
		/* Shutting down and nobody left to ack: the acked prefix is
		 * all there will be, no need to wait for the deadline. */
		TAILQ_FOREACH(sh, &c->shards, entry)
		{
			if (sh->state != SHARD_STOPPING)
				continue;
			consumer_shard_checkpoint_push(sh);
			consumer_shard_drop_batches(sh);
			consumer_shard_set_state(sh, SHARD_STOPPED);
		}
		consumer_drain_check(c);
	}
	consumers_schedule(c->all);
}

void
consumer_conn_closed(struct consumers *all, struct ipc_conn *conn)
{
	for (size_t i = 0; i < all->n; i++) {
		struct consumer_sub *s = sub_find(&all->v[i], conn);
		if (s != NULL)
			sub_remove(s);
	}
}

static struct consumer *
req_consumer(struct consumers *all, struct ipc_conn *conn,
    const struct ipc_req *req, const char *id)
{
	const char *name = ipc_req_string(req, "consumer");
	struct consumer *c;

	if (name == NULL) {
		ipc_conn_error(conn, id, "bad_request",
		    "\"consumer\" must be a non-empty string");
		return NULL;
	}
	if ((c = consumers_find(all, name)) == NULL)
		ipc_conn_error(conn, id, "unknown_consumer",
		    "no consumer named '%s' is configured", name);
	return c;
}

static cJSON *
consumer_reply(const struct consumer *c, const char *op, const char *id)
{
	cJSON *m = ipc_msg_new(op, id);

	if (m != NULL &&
	    cJSON_AddStringToObject(m, "consumer", c->conf->name) == NULL) {
		cJSON_Delete(m);
		m = NULL;
	}
	return m;
}

static void
op_subscribe(
    struct ipc_conn *conn, const struct ipc_req *req, const char *id, void *arg)
{
	struct consumers *all = arg;
	const struct ipc_value *v = ipc_req_get(req, "max_in_flight");
	size_t max = DEFAULT_MAX_IN_FLIGHT;
	uint64_t want;
	struct consumer_sub *s;
	struct consumer *c;

	if ((c = req_consumer(all, conn, req, id)) == NULL)
		return;
	if (v != NULL && v->type != IPC_NULL) {
		if (ipc_value_uint(v, MAX_MAX_IN_FLIGHT, &want) == -1 ||
		    want < 1) {
			ipc_conn_error(conn, id, "bad_request",
			    "\"max_in_flight\" must be an integer from 1 to %d",
			    MAX_MAX_IN_FLIGHT);
			return;
		}
		max = (size_t)want;
	}
	if (all->shutting_down || c->shutdown) {
		ipc_conn_error(
		    conn, id, "shutting_down", "the daemon is shutting down");
		return;
	}
	if ((s = sub_find(c, conn)) != NULL) {
		/* Subscribing again changes the window, nothing else. */
		s->max_in_flight = max;
		ipc_conn_send(conn, consumer_reply(c, "subscribed", id));
		consumers_schedule(all);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warnx("consumer", "%s: out of memory", c->conf->name);
		ipc_conn_error(conn, id, "bad_request", "out of memory");
		return;
	}
	s->cons = c;
	s->conn = conn;
	s->max_in_flight = max;
	TAILQ_INSERT_TAIL(&c->subs, s, entry);
	c->n_subs++;
	/* The close hook's mark: this connection has state here. */
	ipc_conn_set_data(conn, IPC_SLOT_CONSUMER, all);
	log_info("consumer",
	    "%s: connection %llu subscribed (max_in_flight "
	    "%zu), %zu in all",
	    c->conf->name, (unsigned long long)ipc_conn_id(conn), max,
	    c->n_subs);
	ipc_conn_send(conn, consumer_reply(c, "subscribed", id));
	switch (c->state) {
	case CONSUMER_IDLE:
		consumer_set_state(c, CONSUMER_RUNNING);
		break;
	case CONSUMER_RUNNING:
		consumer_rebalance(c);
		break;
	default:
		/* RELEASING: starts again once the release is over. */
		break;
	}
	consumers_schedule(all);
}

static void
op_unsubscribe(
    struct ipc_conn *conn, const struct ipc_req *req, const char *id, void *arg)
{
	struct consumer_sub *s;
	struct consumer *c;

	if ((c = req_consumer(arg, conn, req, id)) == NULL)
		return;
	if ((s = sub_find(c, conn)) == NULL) {
		ipc_conn_error(conn, id, "not_subscribed",
		    "this connection is not subscribed to '%s'", c->conf->name);
		return;
	}
	sub_remove(s);
	ipc_conn_send(conn, consumer_reply(c, "unsubscribed", id));
}

/* ---- acks and batches ---------------------------------------------------- */

void
consumer_shard_checkpoint_push(struct consumer_shard *sh)
{
	ssize_t i;

	if (!sh->cp_dirty || sh->cur == NULL)
		return;
	sh->cp_dirty = 0;
	if ((i = consumer_batch_checkpoint(sh->cur)) >= 0)
		lease_checkpoint_set(sh->cons->leases, sh->id,
		    consumer_batch_seq(sh->cur, (size_t)i),
		    consumer_batch_subseq(sh->cur, (size_t)i));
}

/* The current batch is over (all acked, or given up within the
 * tolerance): checkpoint its last record and start the next one. */
static void
batch_finish(struct consumer_shard *sh)
{
	struct consumer_batch *b = sh->cur;

	if (b->n > 0)
		lease_checkpoint_set(sh->cons->leases, sh->id,
		    consumer_batch_seq(b, b->n - 1),
		    consumer_batch_subseq(b, b->n - 1));
	if (sh->sub != NULL)
		sh->sub->in_flight -= b->n_sent;
	evtimer_del(sh->ev_batch);
	consumer_shard_batch_free(sh, b);
	sh->cur = sh->next;
	sh->next = NULL;
	sh->cp_dirty = 0;
	consumers_schedule(sh->cons->all);
	consumer_shard_batch_done(sh);
	consumer_fetch_kick(sh->cons);
}

void
consumer_shard_batch_ready(struct consumer_shard *sh, struct consumer_batch *b)
{
	if (b->n == 0) {
		consumer_batch_free(b);
		return;
	}
	sh->cons->buffered += b->bytes;
	if (sh->cur == NULL)
		sh->cur = b;
	else
		sh->next = b;
	consumers_schedule(sh->cons->all);
}

static struct consumer_shard *
ack_shard(struct consumer *c, const char *id)
{
	struct consumer_shard *sh = c->ack_cache;

	if (sh != NULL && consumer_shard_live(sh) && strcmp(sh->id, id) == 0)
		return sh;
	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		if (consumer_shard_live(sh) && strcmp(sh->id, id) == 0) {
			c->ack_cache = sh;
			return sh;
		}
	}
	return NULL;
}

static void
op_ack(
    struct ipc_conn *conn, const struct ipc_req *req, const char *id, void *arg)
{
	const struct ipc_value *vsub = ipc_req_get(req, "subseq");
	const struct ipc_value *vok = ipc_req_get(req, "ok");
	const char *shard = ipc_req_string(req, "shard");
	const char *seq = ipc_req_string(req, "seq");
	struct consumer_shard *sh;
	struct consumer *c;
	uint64_t subseq = 0;
	int ok = vok == NULL || vok->type != IPC_FALSE, was_sent;
	ssize_t i;

	if ((c = req_consumer(arg, conn, req, id)) == NULL)
		return;
	if (shard == NULL || seq == NULL) {
		ipc_conn_error(conn, id, "bad_request",
		    "ack needs \"shard\" and \"seq\" strings");
		return;
	}
	if (vsub != NULL && ipc_value_uint(vsub, UINT64_MAX, &subseq) == -1) {
		ipc_conn_error(conn, id, "bad_request",
		    "\"subseq\" must be a non-negative integer");
		return;
	}
	/* docs/protocol.md: acks come from subscribed connections (one that
	 * unsubscribed had its unacked records sent elsewhere). */
	if (sub_find(c, conn) == NULL) {
		ipc_conn_error(conn, id, "not_subscribed",
		    "this connection is not subscribed to '%s'", c->conf->name);
		return;
	}
	/* SPEC: acks for a shard no longer held here (lost, ended, failed)
	 * or for records not out any more are ignored. */
	if ((sh = ack_shard(c, shard)) == NULL || sh->cur == NULL ||
	    (i = consumer_batch_find(sh->cur, seq, subseq)) < 0 ||
	    !consumer_batch_ack(sh->cur, (size_t)i, ok, &was_sent))
		return;
	if (was_sent)
		sh->sub->in_flight--;
	c->acked++;
	metric_inc(c->m_acked);
	if (!ok) {
		c->skipped++;
		metric_inc(c->m_skipped);
		log_info("consumer",
		    "%s %s: record %s/%llu skipped by the "
		    "application",
		    c->conf->name, sh->id, seq, (unsigned long long)subseq);
	}
	sh->cp_dirty = 1;
	if (consumer_batch_complete(sh->cur))
		batch_finish(sh);
	consumers_schedule(c->all);
}

static void
shard_on_released(int ok, void *arg)
{
	struct consumer_shard *sh = arg;

	sh->lease_busy = 0;
	if (!ok)
		log_warnx("consumer",
		    "%s %s: releasing the lease failed; it "
		    "expires after failoverTimeMillis",
		    sh->cons->conf->name, sh->id);
	consumer_shard_set_state(sh, SHARD_DEAD);
	consumers_schedule(sh->cons->all);
}

/* reactive-kinesis's ConsumerWorkerFailure: the shard stops here. */
static void
shard_fail(struct consumer_shard *sh)
{
	struct consumer *c = sh->cons;
	struct consumer_batch *b = sh->cur;
	cJSON *m = shard_msg(sh, "consumer_failure"), *failed = NULL;
	size_t n = 0;

	if (m != NULL &&
	    (failed = cJSON_AddArrayToObject(m, "failed")) == NULL) {
		cJSON_Delete(m);
		m = NULL;
	}
	for (size_t i = 0; i < b->n; i++) {
		cJSON *f;
		if (b->recs[i].state == CONSUMER_REC_DONE)
			continue;
		n++;
		if (m == NULL || (f = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddItemToArray(failed, f);
		cJSON_AddStringToObject(f, "seq", consumer_batch_seq(b, i));
		cJSON_AddNumberToObject(
		    f, "subseq", (double)consumer_batch_subseq(b, i));
	}
	log_warnx("consumer",
	    "%s %s: %zu of %zu records unconfirmed after %u "
	    "retries, above failureTolerancePercentage %g: stopping the "
	    "shard here",
	    c->conf->name, sh->id, n, b->n, b->retries,
	    c->conf->worker.failure_tolerance_percentage);
	if (sh->sub != NULL && m != NULL)
		ipc_conn_send(sh->sub->conn, m);
	else
		cJSON_Delete(m);
	c->failures++;
	metric_inc(c->m_failures);
	consumer_shard_checkpoint_push(sh);
	consumer_shard_stop_fetching(sh);
	consumer_shard_detach(sh, 0);
	consumer_shard_set_state(sh, SHARD_RELEASING);
	sh->lease_busy = 1;
	lease_release(c->leases, sh->id, shard_on_released, sh);
	consumer_rebalance(c);
}

static void
batch_arm(struct consumer_shard *sh)
{
	struct timeval tv = {
	    .tv_sec = (time_t)sh->cons->conf->worker.batch_timeout_seconds,
	};

	sh->cur->timer_armed = 1;
	evtimer_add(sh->ev_batch, &tv);
}

void
consumer_batch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct consumer_shard *sh = arg;
	struct consumer *c = sh->cons;
	struct consumer_batch *b = sh->cur;
	size_t unconfirmed, n;

	(void)fd;
	(void)what;
	if (b == NULL)
		return;
	b->timer_armed = 0;
	unconfirmed = b->n - b->n_done;
	if (b->retries < c->conf->worker.failed_message_retries) {
		b->retries++;
		n = consumer_batch_requeue(b);
		if (sh->sub != NULL)
			sh->sub->in_flight -= n;
		log_info("consumer",
		    "%s %s: batch timed out with %zu of %zu "
		    "records unconfirmed; delivering them again (retry %u)",
		    c->conf->name, sh->id, unconfirmed, b->n, b->retries);
		/* Armed now, not at the next send: a batch whose records
		 * cannot go out (a full connection) still times out. */
		batch_arm(sh);
		consumers_schedule(c->all);
		return;
	}
	if (consumer_tolerance_ok(b->n, unconfirmed,
	        c->conf->worker.failure_tolerance_percentage)) {
		log_warnx("consumer",
		    "%s %s: batch timed out; %zu of %zu "
		    "records unconfirmed, within failureTolerancePercentage: "
		    "going on",
		    c->conf->name, sh->id, unconfirmed, b->n);
		batch_finish(sh);
		return;
	}
	if (sh->state == SHARD_STOPPING) {
		/* Shutting down: no failure to report, the acked prefix is
		 * what gets checkpointed. */
		consumer_shard_checkpoint_push(sh);
		consumer_shard_drop_batches(sh);
		consumer_shard_batch_done(sh);
		return;
	}
	shard_fail(sh);
}

/* ---- sending ------------------------------------------------------------- */

static int
shard_deliverable(const struct consumer_shard *sh)
{
	switch (sh->state) {
	case SHARD_ITERATOR:
	case SHARD_FETCHING:
	case SHARD_WAITING:
	case SHARD_QUEUED:
	case SHARD_FULL:
	case SHARD_DRAINING:
	case SHARD_STOPPING:
		return sh->cur != NULL && sh->move_to == NULL;
	default:
		return 0;
	}
}

static void
send_record(struct consumer_shard *sh, struct consumer_sub *s, size_t i)
{
	struct consumer *c = sh->cons;
	const struct consumer_rec *r = &sh->cur->recs[i];

	s->in_flight++;
	if (r->sends > 1) {
		c->redelivered++;
		metric_inc(c->m_redelivered);
	} else {
		c->delivered++;
		metric_inc(c->m_delivered);
	}
	if (!sh->cur->timer_armed)
		batch_arm(sh);
	/* Encoded per send, not kept: base64 is a third bigger, and most
	 * records go out once.  A failed send (the connection closing,
	 * memory) leaves the record SENT: the close hook or the batch timeout
	 * sends it again. */
	record_send(sh, s, i);
}

static void
sub_pump(struct consumer_sub *s)
{
	struct consumer *c = s->cons;
	struct consumer_shard *sh;
	int progress = 1;
	size_t i;

	while (progress) {
		progress = 0;
		TAILQ_FOREACH(sh, &c->shards, entry)
		{
			if (sh->sub != s || !shard_deliverable(sh))
				continue;
			for (int k = 0; k < PUMP_CHUNK; k++) {
				if (s->in_flight >= s->max_in_flight ||
				    !ipc_conn_writable(s->conn))
					return;
				if (!consumer_batch_next(sh->cur, &i))
					break;
				send_record(sh, s, i);
				progress = 1;
			}
		}
	}
}

void
consumer_pump(struct consumer *c)
{
	struct consumer_shard *sh;
	struct consumer_sub *s;

	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		consumer_shard_checkpoint_push(sh);
		if (sh->move_to != NULL &&
		    (sh->cur == NULL || sh->cur->n_sent == 0)) {
			struct consumer_sub *to = sh->move_to;
			shard_unassign(sh, 1);
			shard_assign(sh, to);
		}
	}
	TAILQ_FOREACH(s, &c->subs, entry)
	{
		sub_pump(s);
	}
}

int
consumer_ops_register(struct consumers *all)
{
	if (ipc_register(all->ipc, "subscribe", op_subscribe, all) == -1 ||
	    ipc_register(all->ipc, "unsubscribe", op_unsubscribe, all) == -1 ||
	    ipc_register(all->ipc, "ack", op_ack, all) == -1)
		return -1;
	return 0;
}
