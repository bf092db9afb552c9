/*
 * fetch.c — one shard's fetcher: the shard iterator from the lease's
 * checkpoint or the initial position, GetRecords at the pace Kinesis
 * allows, KPL de-aggregation into batches, one batch of prefetch, and the
 * shard's end.  The shard's lifecycle is the state machine of
 * enum consumer_shard_state (consumer_int.h):
 *
 *   ITERATOR -> WAITING -> FETCHING -> WAITING -> FETCHING ...
 *                  |           |-> FULL (a batch delivering, one waiting)
 *                  |           |      -> WAITING once the first is done
 *                  |           |-> ITERATOR (ExpiredIteratorException)
 *                  |           `-> DRAINING (no next iterator: the end)
 *                  |                  -> ENDING -> DEAD (shard_ended)
 *                  `-> QUEUED (its turn in the fetch budget) -> FETCHING
 *   any live state -> RELEASING -> DEAD   (consumer_failure, deliver.c)
 *   any live state -> STOPPING -> STOPPED (shutdown, consumers.c)
 *   any state -> DEAD                     (lease lost, last subscriber gone)
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "consumer/consumer_int.h"
#include "kinesis/kinesis.h"
#include "kpl/kpl.h"
#include "lease/lease.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define BACKOFF_CAP_MS 10000

static const char *const shard_state_names[] = {
    "iterator",
    "fetching",
    "waiting",
    "queued",
    "full",
    "draining",
    "ending",
    "releasing",
    "stopping",
    "stopped",
    "dead",
};

const char *
consumer_shard_strstate(enum consumer_shard_state s)
{
	if ((size_t)s >= sizeof(shard_state_names) / sizeof(*shard_state_names))
		return "?";
	return shard_state_names[s];
}

static int
state_held(enum consumer_shard_state s)
{
	return s != SHARD_RELEASING && s != SHARD_DEAD;
}

int
consumer_shard_live(const struct consumer_shard *sh)
{
	return state_held(sh->state);
}

void
consumer_shard_set_state(
    struct consumer_shard *sh, enum consumer_shard_state next)
{
	struct consumer *c = sh->cons;

	if (sh->state == next)
		return;
	log_debug("consumer", "%s %s: %s -> %s", c->conf->name, sh->id,
	    consumer_shard_strstate(sh->state), consumer_shard_strstate(next));
	/* shards_held counts what this worker holds and processes. */
	if (state_held(sh->state) && !state_held(next)) {
		c->n_held--;
		metric_set(c->m_held, (double)c->n_held);
		/* The gauge goes now, not when the shard is freed: the lease
		 * may come back before that, and the registry would hand the
		 * new shard this same series. */
		metric_series_remove(sh->m_behind);
		sh->m_behind = NULL;
	}
	/* The fetch queue holds exactly the QUEUED shards, in the order
	 * they became due. */
	if (sh->state == SHARD_QUEUED)
		TAILQ_REMOVE(&c->fetch_queue, sh, queue);
	if (next == SHARD_QUEUED)
		TAILQ_INSERT_TAIL(&c->fetch_queue, sh, queue);
	sh->state = next;
	if (next == SHARD_DEAD)
		consumers_schedule(c->all);
}

static void shard_on_timer(evutil_socket_t, short, void *);

struct consumer_shard *
consumer_shard_new(struct consumer *c, const char *id,
    const struct consumer_start *st, char **cause)
{
	struct consumer_shard *sh;

	if ((sh = calloc(1, sizeof(*sh))) == NULL)
		goto oom;
	sh->cons = c;
	sh->state = SHARD_WAITING;
	sh->start = *st;
	if ((sh->id = strdup(id)) == NULL)
		goto oom;
	if (st->seq != NULL) {
		if ((sh->start_seq = strdup(st->seq)) == NULL)
			goto oom;
		sh->start.seq = sh->start_seq;
	}
	sh->ev_fetch = evtimer_new(c->all->base, shard_on_timer, sh);
	sh->ev_batch = evtimer_new(c->all->base, consumer_batch_timeout, sh);
	if (sh->ev_fetch == NULL || sh->ev_batch == NULL)
		goto oom;
	sh->m_behind = metric_series(c->all->f_behind, c->conf->name, id);
	return sh;
oom:
	if (asprintf(cause, "shard %s: out of memory", id) == -1)
		*cause = NULL;
	consumer_shard_free(sh);
	return NULL;
}

/* Cancels the shard's call, giving back its place in the fetch budget. */
static void
shard_cancel_call(struct consumer_shard *sh)
{
	if (sh->call == NULL)
		return;
	kinesis_cancel(sh->call);
	sh->call = NULL;
	if (sh->records_call) {
		sh->records_call = 0;
		sh->cons->fetches--;
	}
}

void
consumer_shard_free(struct consumer_shard *sh)
{
	if (sh == NULL)
		return;
	/* No kick from here: the consumer may be going away as a whole. */
	shard_cancel_call(sh);
	if (sh->state == SHARD_QUEUED)
		TAILQ_REMOVE(&sh->cons->fetch_queue, sh, queue);
	if (sh->ev_fetch != NULL)
		event_free(sh->ev_fetch);
	if (sh->ev_batch != NULL)
		event_free(sh->ev_batch);
	consumer_shard_batch_free(sh, sh->cur);
	consumer_shard_batch_free(sh, sh->next);
	/* No stale lag for a shard that another worker reads now. */
	metric_series_remove(sh->m_behind);
	for (size_t i = 0; i < sh->n_children; i++)
		free(sh->children[i]);
	free(sh->children);
	free(sh->iterator);
	free(sh->last_seq);
	free(sh->start_seq);
	free(sh->id);
	free(sh);
}

/* ---- pacing and back-off ------------------------------------------------- */

static void
shard_timer(struct consumer_shard *sh, uint64_t ms)
{
	struct timeval tv = {
	    .tv_sec = (time_t)(ms / 1000),
	    .tv_usec = (suseconds_t)(ms % 1000 * 1000),
	};

	evtimer_add(sh->ev_fetch, &tv);
}

static void
shard_wait(struct consumer_shard *sh, uint64_t ms)
{
	consumer_shard_set_state(sh, SHARD_WAITING);
	shard_timer(sh, ms);
}

static uint64_t
shard_backoff_ms(struct consumer_shard *sh)
{
	uint64_t base = sh->cons->conf->kcl.task_backoff_time_millis;

	if (sh->errors < 32)
		sh->errors++;
	return aws_retry_backoff_ms(sh->errors, base > 0 ? base : 500,
	    BACKOFF_CAP_MS > base ? BACKOFF_CAP_MS : base,
	    consumers_random(sh->cons->all));
}

static void
shard_retry_later(struct consumer_shard *sh)
{
	shard_wait(sh, shard_backoff_ms(sh));
}

/* One batch delivering and one prefetched at most. */
static int
shard_may_fetch(const struct consumer_shard *sh)
{
	return sh->cur == NULL || sh->next == NULL;
}

void
consumer_shard_batch_free(struct consumer_shard *sh, struct consumer_batch *b)
{
	if (b == NULL)
		return;
	sh->cons->buffered -= b->bytes;
	consumer_batch_free(b);
}

/* ---- the fetch budget (consumer_int.h) ----------------------------------- */

static void shard_get_records(struct consumer_shard *);

/* Due for a GetRecords: now when the budget allows it and no shard waits
 * before this one, else at the back of the queue. */
static void
shard_want_records(struct consumer_shard *sh)
{
	struct consumer *c = sh->cons;

	if (!shard_may_fetch(sh)) {
		consumer_shard_set_state(sh, SHARD_FULL);
		return;
	}
	if (TAILQ_EMPTY(&c->fetch_queue) &&
	    consumer_fetch_allowed(c->buffered, c->fetches))
		shard_get_records(sh);
	else
		consumer_shard_set_state(sh, SHARD_QUEUED);
}

void
consumer_fetch_kick(struct consumer *c)
{
	struct consumer_shard *sh;

	/* Outside RUNNING, or shutting down, every shard is being stopped
	 * or dropped. */
	if (c->state != CONSUMER_RUNNING || c->shutdown)
		return;
	/* Each turn takes the head out of the queue (FETCHING, or WAITING
	 * when the call could not start): the loop ends. */
	while ((sh = TAILQ_FIRST(&c->fetch_queue)) != NULL &&
	       consumer_fetch_allowed(c->buffered, c->fetches))
		shard_get_records(sh);
}

/* ---- GetShardIterator ---------------------------------------------------- */

static void
shard_on_iterator(const struct aws_result *res, const char *iterator, void *arg)
{
	struct consumer_shard *sh = arg;
	const char *name = sh->cons->conf->name;

	sh->call = NULL;
	if (res->err != AWS_OK) {
		/* initialSequenceNumber names one shard's record: the
		 * others of the stream start at their trim horizon. */
		if (sh->start.from_initial_seq && sh->last_seq == NULL &&
		    aws_result_is(res, "InvalidArgumentException")) {
			log_info("consumer",
			    "%s %s: initialSequenceNumber %s is not in this "
			    "shard; starting at TRIM_HORIZON",
			    name, sh->id, sh->start.seq);
			sh->start.type = KINESIS_ITER_TRIM_HORIZON;
			sh->start.from_initial_seq = 0;
			shard_wait(sh, 0);
			return;
		}
		log_warnx("consumer", "%s %s: GetShardIterator: %s: %s", name,
		    sh->id,
		    res->type != NULL ? res->type : aws_err_name(res->err),
		    res->message != NULL ? res->message : "");
		shard_retry_later(sh);
		return;
	}
	free(sh->iterator);
	if ((sh->iterator = strdup(iterator)) == NULL) {
		log_warnx("consumer", "%s %s: out of memory", name, sh->id);
		shard_retry_later(sh);
		return;
	}
	sh->errors = 0;
	shard_wait(sh,
	    consumer_fetch_delay(consumers_now_ms(), sh->last_call_ms, 1, 0));
}

static void
shard_get_iterator(struct consumer_shard *sh)
{
	struct consumer *c = sh->cons;
	struct kinesis_iterator_params p = {
	    .stream = c->conf->stream_name,
	    .shard_id = sh->id,
	    .type = sh->start.type,
	    .sequence_number = sh->start.seq,
	    .timestamp_ms = sh->start.timestamp_ms,
	};

	/* Once records were read, go on after the last one fetched (they
	 * are all in a batch here, delivered or about to be). */
	if (sh->last_seq != NULL) {
		p.type = KINESIS_ITER_AFTER_SEQUENCE_NUMBER;
		p.sequence_number = sh->last_seq;
	}
	consumer_shard_set_state(sh, SHARD_ITERATOR);
	log_debug("consumer", "%s %s: GetShardIterator %s%s%s", c->conf->name,
	    sh->id, kinesis_iterator_type_name(p.type),
	    p.sequence_number != NULL ? " " : "",
	    p.sequence_number != NULL ? p.sequence_number : "");
	sh->call =
	    kinesis_get_shard_iterator(c->kinesis, &p, shard_on_iterator, sh);
	if (sh->call == NULL)
		shard_retry_later(sh);
}

/* ---- GetRecords ---------------------------------------------------------- */

/* Whether the resume filter keeps (seq, subseq); past the checkpoint
 * nothing later can be at or below it, so the filter goes. */
static int
shard_keep(struct consumer_shard *sh, const char *seq, uint64_t subseq)
{
	if (!sh->start.filter)
		return 1;
	if (!consumer_resume_keep(
	        seq, subseq, sh->start.seq, sh->start.filter_subseq))
		return 0;
	sh->start.filter = 0;
	return 1;
}

/* Adds Kinesis record r (opened as it when an aggregate, agg) and its
 * user records: r's bytes are copied once, user records point into
 * them. */
static int
shard_add_record(struct consumer_shard *sh, struct consumer_batch *b,
    const struct kinesis_record *r, struct kpl_deagg *it, int agg)
{
	const char *blob, *key;
	struct kpl_record u;
	size_t klen;

	if (consumer_batch_add_kin(b, r->seq, r->arrival_ms) == -1 ||
	    (blob = consumer_batch_copy(b, r->data, r->len)) == NULL)
		return -1;
	if (!agg) {
		klen = strlen(r->partition_key);
		if (!shard_keep(sh, r->seq, 0))
			return 0;
		if ((key = consumer_batch_copy(b, r->partition_key, klen)) ==
		    NULL)
			return -1;
		return consumer_batch_add(
		    b, 0, key, klen, NULL, 0, blob, r->len);
	}
	/* kpl_deagg_open checked every span to lie inside r->data. */
	while (kpl_deagg_next(it, &u)) {
		const char *base = (const char *)r->data;
		if (!shard_keep(sh, r->seq, u.index))
			continue;
		if (consumer_batch_add(b, u.index,
		        blob + ((const char *)u.key - base), u.key_len,
		        u.ehk != NULL ? blob + ((const char *)u.ehk - base)
		                      : NULL,
		        u.ehk_len, blob + ((const char *)u.data - base),
		        u.data_len) == -1)
			return -1;
	}
	return 0;
}

struct shard_open_record {
	struct kpl_deagg it;
	int agg; /* it is open */
};

/*
 * The user records of one GetRecords as one allocation, or NULL (memory,
 * libcrypto: the same records are read again later).  Every aggregate is
 * opened (validated, MD5 checked) first, so that the batch's size is
 * known exactly before it is allocated.
 */
static struct consumer_batch *
shard_build_batch(struct consumer_shard *sh, const struct kinesis_records *rs)
{
	struct consumer_batch *b = NULL;
	struct shard_open_record *its;
	size_t n_recs = 0, arena = 0, i;
	int ok = 0;

	if ((its = calloc(rs->n > 0 ? rs->n : 1, sizeof(*its))) == NULL)
		return NULL;
	for (i = 0; i < rs->n; i++) {
		const struct kinesis_record *r = &rs->records[i];
		enum kpl_err e = kpl_deagg_open(&its[i].it, r->data, r->len);

		/* Each part came out of one reply: no overflow. */
		arena += strlen(r->seq) + 1 + r->len;
		if (e == KPL_OK) {
			its[i].agg = 1;
			n_recs += kpl_deagg_count(&its[i].it);
		} else if (e == KPL_ERR_NOT_AGG) {
			n_recs++;
			arena += strlen(r->partition_key);
		} else {
			log_warnx("consumer", "%s %s: de-aggregating %s: %s",
			    sh->cons->conf->name, sh->id, r->seq,
			    kpl_strerror(e));
			goto done;
		}
	}
	if ((b = consumer_batch_new(rs->n, n_recs, arena)) == NULL)
		goto done;
	for (i = 0; i < rs->n; i++)
		if (shard_add_record(
		        sh, b, &rs->records[i], &its[i].it, its[i].agg) == -1)
			goto done;
	ok = 1;
done:
	for (i = 0; i < rs->n; i++)
		if (its[i].agg)
			kpl_deagg_close(&its[i].it);
	free(its);
	if (!ok) {
		consumer_batch_free(b);
		return NULL;
	}
	return b;
}

static int
shard_keep_children(struct consumer_shard *sh, const struct kinesis_records *rs)
{
	if (rs->n_children == 0 || sh->children != NULL)
		return 0;
	if ((sh->children = calloc(rs->n_children, sizeof(char *))) == NULL)
		return -1;
	for (size_t i = 0; i < rs->n_children; i++) {
		if ((sh->children[i] = strdup(rs->children[i].id)) == NULL)
			return -1;
		sh->n_children++;
	}
	return 0;
}

static void shard_end_check(struct consumer_shard *);

static void
shard_records_done(struct consumer_shard *sh, const struct aws_result *res,
    const struct kinesis_records *rs)
{
	struct consumer *c = sh->cons;
	struct consumer_batch *b;
	char *next_it = NULL, *last = NULL;

	if (res->err != AWS_OK) {
		if (aws_result_is(res, "ExpiredIteratorException")) {
			log_info("consumer",
			    "%s %s: iterator expired; "
			    "a new one after %s",
			    c->conf->name, sh->id,
			    sh->last_seq != NULL ? sh->last_seq : "the start");
			free(sh->iterator);
			sh->iterator = NULL;
			shard_get_iterator(sh);
			return;
		}
		if (res->err == AWS_ERR_THROTTLED)
			log_info("consumer", "%s %s: GetRecords throttled",
			    c->conf->name, sh->id);
		else
			log_warnx("consumer", "%s %s: GetRecords: %s: %s",
			    c->conf->name, sh->id,
			    res->type != NULL ? res->type
			                      : aws_err_name(res->err),
			    res->message != NULL ? res->message : "");
		shard_retry_later(sh);
		return;
	}
	if ((b = shard_build_batch(sh, rs)) == NULL ||
	    (rs->next_iterator != NULL &&
	        (next_it = strdup(rs->next_iterator)) == NULL) ||
	    (rs->n > 0 &&
	        (last = strdup(rs->records[rs->n - 1].seq)) == NULL) ||
	    shard_keep_children(sh, rs) == -1) {
		/* Iterators stay valid for minutes: ask again with it. */
		log_warnx("consumer", "%s %s: out of memory reading records",
		    c->conf->name, sh->id);
		consumer_batch_free(b);
		free(next_it);
		shard_retry_later(sh);
		return;
	}
	sh->errors = 0;
	c->fetched += rs->n;
	metric_add(c->m_fetched, (double)rs->n);
	if (rs->millis_behind >= 0)
		metric_set(sh->m_behind, (double)rs->millis_behind / 1000.0);
	if (last != NULL) {
		free(sh->last_seq);
		sh->last_seq = last;
	}
	free(sh->iterator);
	sh->iterator = next_it;
	log_trace("consumer",
	    "%s %s: %zu records, %zu user records, %lld ms "
	    "behind",
	    c->conf->name, sh->id, rs->n, b->n, (long long)rs->millis_behind);
	consumer_shard_batch_ready(sh, b);

	if (sh->iterator == NULL) {
		log_info("consumer",
		    "%s %s: reached the shard's end (%zu "
		    "children)",
		    c->conf->name, sh->id, sh->n_children);
		consumer_shard_set_state(sh, SHARD_DRAINING);
		shard_end_check(sh);
	} else if (!shard_may_fetch(sh))
		consumer_shard_set_state(sh, SHARD_FULL);
	else
		shard_wait(sh,
		    consumer_fetch_delay(consumers_now_ms(), sh->last_call_ms,
		        rs->n, c->conf->kcl.idle_time_between_reads_millis));
}

static void
shard_on_records(
    const struct aws_result *res, const struct kinesis_records *rs, void *arg)
{
	struct consumer_shard *sh = arg;
	struct consumer *c = sh->cons;

	sh->call = NULL;
	sh->records_call = 0;
	c->fetches--;
	shard_records_done(sh, res, rs);
	/* Its place in the budget is free now, its batch counted. */
	consumer_fetch_kick(c);
}

static void
shard_get_records(struct consumer_shard *sh)
{
	struct consumer *c = sh->cons;
	uint64_t limit = c->conf->kcl.max_records;

	consumer_shard_set_state(sh, SHARD_FETCHING);
	sh->last_call_ms = consumers_now_ms();
	sh->call = kinesis_get_records(c->kinesis, sh->iterator,
	    limit > 0 && limit <= 10000 ? (int)limit : 10000, shard_on_records,
	    sh);
	if (sh->call == NULL) {
		shard_retry_later(sh);
		return;
	}
	sh->records_call = 1;
	c->fetches++;
}

/* ---- the shard's end ----------------------------------------------------- */

static void
shard_on_end(int ok, void *arg)
{
	struct consumer_shard *sh = arg;
	struct consumer *c = sh->cons;

	sh->lease_busy = 0;
	if (sh->state != SHARD_ENDING) {
		/* Lost, or dropped with the consumer meanwhile: the reaper
		 * may have it now. */
		consumers_schedule(c->all);
		return;
	}
	if (!ok) {
		log_warnx("consumer",
		    "%s %s: checkpointing SHARD_END failed; "
		    "retrying",
		    c->conf->name, sh->id);
		shard_timer(sh, shard_backoff_ms(sh));
		return;
	}
	log_info("consumer", "%s %s: shard ended and checkpointed",
	    c->conf->name, sh->id);
	consumer_shard_send(sh, "shard_ended");
	consumer_shard_detach(sh, 0);
	consumer_shard_set_state(sh, SHARD_DEAD);
	consumer_rebalance(c);
}

static void
shard_end(struct consumer_shard *sh)
{
	consumer_shard_checkpoint_push(sh);
	sh->lease_busy = 1;
	lease_shard_end(sh->cons->leases, sh->id,
	    (const char *const *)sh->children, sh->n_children, shard_on_end,
	    sh);
}

static void
shard_end_check(struct consumer_shard *sh)
{
	if (sh->state != SHARD_DRAINING || sh->cur != NULL || sh->next != NULL)
		return;
	consumer_shard_set_state(sh, SHARD_ENDING);
	shard_end(sh);
}

/* ---- driving ------------------------------------------------------------- */

static void
shard_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct consumer_shard *sh = arg;

	(void)fd;
	(void)what;
	switch (sh->state) {
	case SHARD_WAITING:
		if (sh->iterator == NULL)
			shard_get_iterator(sh);
		else
			shard_want_records(sh);
		break;
	case SHARD_ENDING:
		if (!sh->lease_busy)
			shard_end(sh);
		break;
	default:
		break;
	}
}

void
consumer_shard_begin(struct consumer_shard *sh)
{
	if (sh->start.ended) {
		/* Finished by an earlier owner that stopped before handing
		 * over the children: redo the end, as the KCL does. */
		log_info("consumer", "%s %s: lease at SHARD_END",
		    sh->cons->conf->name, sh->id);
		consumer_shard_set_state(sh, SHARD_DRAINING);
		shard_end_check(sh);
		return;
	}
	shard_get_iterator(sh);
}

void
consumer_shard_stop_fetching(struct consumer_shard *sh)
{
	shard_cancel_call(sh);
	evtimer_del(sh->ev_fetch);
	/* Out of the queue now: a kick before the caller's next state must
	 * not start a call for it.  WAITING without its timer is inert. */
	if (sh->state == SHARD_QUEUED)
		consumer_shard_set_state(sh, SHARD_WAITING);
	/* Prefetched records were never sent: nothing is in flight. */
	consumer_shard_batch_free(sh, sh->next);
	sh->next = NULL;
	/* What this shard gave back goes to the next in line. */
	consumer_fetch_kick(sh->cons);
}

void
consumer_shard_batch_done(struct consumer_shard *sh)
{
	switch (sh->state) {
	case SHARD_FULL:
		if (shard_may_fetch(sh))
			shard_wait(sh, consumer_fetch_delay(consumers_now_ms(),
			                   sh->last_call_ms, 1, 0));
		break;
	case SHARD_DRAINING:
		shard_end_check(sh);
		break;
	case SHARD_STOPPING:
		if (sh->cur == NULL) {
			consumer_shard_set_state(sh, SHARD_STOPPED);
			consumer_drain_check(sh->cons);
		}
		break;
	default:
		break;
	}
}
