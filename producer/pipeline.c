/*
 * pipeline.c — from routed user records to PutRecords results.
 *
 * route:  a user record joins the aggregate of its predicted shard (or
 *         becomes a Kinesis record of its own);
 * seal:   an aggregate that is full or has waited RecordMaxBufferedTime
 *         becomes a Kinesis record in the queue;
 * pump:   the queue is cut into PutRecords requests within the collection
 *         limits, the shards' rate limits and MaxConnections;
 * result: each user record gets put_ok, or goes back to routing after a
 *         back-off, or fails (FailIfThrottled, RecordTtl, terminal errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "conf/conf.h"
#include "kinesis/kinesis.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "producer/internal.h"

/* Kinesis's own limits on one PutRecords request and one record. */
#define PUT_MAX_RECORDS 500
#define PUT_MAX_BYTES   (5u << 20)
#define SHARD_RECORDS_S 1000.0
#define SHARD_BYTES_S   1048576.0
#define RETRY_BASE_MS   100
#define RETRY_CAP_MS    3000

struct batch {
	struct producer *p;
	struct krec **k;
	size_t n;
	uint64_t sent_ms;
};

static void krec_free(struct krec *);
static void pipeline_arm(struct producer *, uint64_t now);

/* ---- Kinesis records ------------------------------------------------------
 */

static struct krec *
krec_new(struct pshard *s, uint64_t due_ms)
{
	struct krec *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	TAILQ_INIT(&k->urecs);
	k->shard = s;
	k->due_ms = due_ms;
	k->deadline_ms = UINT64_MAX;
	return k;
}

static void
krec_free(struct krec *k)
{
	if (k == NULL)
		return;
	if (k->aggregated)
		free(k->blob);
	free(k);
}

static void
krec_add_urec(struct krec *k, struct urec *u)
{
	TAILQ_INSERT_TAIL(&k->urecs, u, entry);
	k->n_urecs++;
	if (u->deadline_ms < k->deadline_ms)
		k->deadline_ms = u->deadline_ms;
}

/* The urec as a Kinesis record of its own. */
static void
krec_plain(struct krec *k, struct urec *u)
{
	krec_add_urec(k, u);
	k->pk = u->key;
	k->blob = u->data;
	k->len = u->len;
	k->aggregated = 0;
	if (u->has_ehk)
		memcpy(k->ehk, u->ehk, sizeof(k->ehk));
}

static void
queue_krec(struct producer *p, struct krec *k)
{
	TAILQ_INSERT_TAIL(&p->queue, k, entry);
	p->queued++;
	p->queued_bytes += k->len + strlen(k->pk);
}

static void
unqueue_krec(struct producer *p, struct krec *k)
{
	TAILQ_REMOVE(&p->queue, k, entry);
	p->queued--;
	p->queued_bytes -= k->len + strlen(k->pk);
}

/* ---- routing and aggregation ----------------------------------------------
 */

static void
fail_nomem(struct producer *p, struct urec *u)
{
	producer_complete(p, u, NULL, NULL, 0, "InternalFailure",
	    "kinesisd ran out of memory");
}

static void
send_plain(struct producer *p, struct pshard *s, struct urec *u)
{
	struct krec *k =
	    krec_new(s, u->arrival_ms + p->conf->kpl.record_max_buffered_time);

	if (k == NULL) {
		fail_nomem(p, u);
		return;
	}
	krec_plain(k, u);
	queue_krec(p, k);
}

/* The shard's aggregate becomes a Kinesis record in the queue. */
static void
shard_seal(struct producer *p, struct pshard *s)
{
	size_t count = kpl_agg_count(s->agg);
	struct urec *u;
	struct krec *k;

	if (count == 0)
		return;
	k = krec_new(s, s->oldest_ms + p->conf->kpl.record_max_buffered_time);
	if (k != NULL && count > 1 &&
	    kpl_agg_finish(s->agg, &k->blob, &k->len) != KPL_OK) {
		krec_free(k);
		k = NULL;
	}
	if (k == NULL) {
		while ((u = TAILQ_FIRST(&s->pending)) != NULL) {
			TAILQ_REMOVE(&s->pending, u, entry);
			fail_nomem(p, u);
		}
		kpl_agg_reset(s->agg);
		return;
	}
	if (count == 1) {
		/* An aggregate of one goes out as that plain record. */
		u = TAILQ_FIRST(&s->pending);
		TAILQ_REMOVE(&s->pending, u, entry);
		krec_plain(k, u);
	} else {
		/* The first record's key and hash key route the aggregate, so
		 * it lands where every record inside it was predicted to. */
		k->aggregated = 1;
		while ((u = TAILQ_FIRST(&s->pending)) != NULL) {
			TAILQ_REMOVE(&s->pending, u, entry);
			krec_add_urec(k, u);
		}
		u = TAILQ_FIRST(&k->urecs);
		k->pk = u->key;
		kpl_hash_format(u->hash, k->ehk);
	}
	kpl_agg_reset(s->agg);
	metric_observe(p->m_per_krec, (double)k->n_urecs);
	queue_krec(p, k);
}

void
producer_route(struct producer *p, struct urec *u)
{
	struct pshard *s = NULL;
	enum kpl_err rc;

	if (producer_now_ms() >= u->deadline_ms) {
		producer_complete(p, u, NULL, NULL, 0, "expired",
		    "RecordTtl passed before Kinesis accepted the record");
		return;
	}
	if (p->map_state == PMAP_READY)
		s = producer_map_lookup(p, u->hash);
	if (s == NULL || !p->conf->kpl.aggregation_enabled) {
		send_plain(p, s, u);
		return;
	}
	rc = kpl_agg_add(s->agg, u->key, u->key_len, u->has_ehk ? u->ehk : NULL,
	    u->has_ehk ? strlen(u->ehk) : 0, u->data, u->len);
	if (rc == KPL_ERR_FULL) {
		shard_seal(p, s);
		rc = kpl_agg_add(s->agg, u->key, u->key_len,
		    u->has_ehk ? u->ehk : NULL, u->has_ehk ? strlen(u->ehk) : 0,
		    u->data, u->len);
	}
	if (rc != KPL_OK) {
		/* Too big to aggregate (or no memory for it): alone. */
		send_plain(p, s, u);
		return;
	}
	if (kpl_agg_count(s->agg) == 1)
		s->oldest_ms = u->arrival_ms;
	TAILQ_INSERT_TAIL(&s->pending, u, entry);
}

/* Takes the user records back out of a Kinesis record for routing. */
static void
krec_unpack(struct krec *k, struct urec_list *out)
{
	struct urec *u;

	while ((u = TAILQ_FIRST(&k->urecs)) != NULL) {
		TAILQ_REMOVE(&k->urecs, u, entry);
		TAILQ_INSERT_TAIL(out, u, entry);
	}
	krec_free(k);
}

static void
route_list(struct producer *p, struct urec_list *l)
{
	struct urec *u;

	while ((u = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, u, entry);
		producer_route(p, u);
	}
}

/*
 * A shard left the map (resharding): what waits for it is routed again by
 * the new map.  The shard object is kept: batches in flight point at it.
 */
void
producer_map_retire(struct producer *p, struct pshard *s)
{
	struct urec_list again = TAILQ_HEAD_INITIALIZER(again);
	struct pshard **v;
	struct krec *k, *next;
	struct urec *u;

	s->live = 0;
	while ((u = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, u, entry);
		TAILQ_INSERT_TAIL(&again, u, entry);
	}
	kpl_agg_reset(s->agg);
	TAILQ_FOREACH_SAFE(k, &p->queue, entry, next)
	{
		if (k->shard != s)
			continue;
		unqueue_krec(p, k);
		krec_unpack(k, &again);
	}
	v = realloc(p->retired, (p->n_retired + 1) * sizeof(*v));
	if (v != NULL) {
		p->retired = v;
		p->retired[p->n_retired++] = s;
	} else
		log_warnx("producer", "%s: out of memory retiring shard %s",
		    p->name, s->id); /* leaked rather than freed in use */
	route_list(p, &again);
}

/* ---- results ----------------------------------------------------------------
 */

/* Back to routing after a back-off, unless the error says to fail. */
static void
urec_retry(struct producer *p, struct urec *u, const char *code,
    const char *message, int throttled, uint64_t now)
{
	char why[256];

	if (throttled && p->conf->kpl.fail_if_throttled) {
		producer_complete(p, u, NULL, NULL, 0, code, message);
		return;
	}
	if (now >= u->deadline_ms) {
		snprintf(why, sizeof(why),
		    "RecordTtl passed; last error: %s%s%s", code,
		    message != NULL ? ": " : "",
		    message != NULL ? message : "");
		producer_complete(p, u, NULL, NULL, 0, "expired", why);
		return;
	}
	u->attempts++;
	u->retry_at_ms = now + aws_retry_backoff_ms(u->attempts, RETRY_BASE_MS,
	                           RETRY_CAP_MS, (uint32_t)random());
	if (u->retry_at_ms > u->deadline_ms)
		u->retry_at_ms = u->deadline_ms;
	p->n_retries++;
	metric_inc(p->m_retries);
	TAILQ_INSERT_TAIL(&p->retry, u, entry);
}

static void
krec_retry(struct producer *p, struct krec *k, const char *code,
    const char *message, int throttled, uint64_t now)
{
	struct urec *u;

	while ((u = TAILQ_FIRST(&k->urecs)) != NULL) {
		TAILQ_REMOVE(&k->urecs, u, entry);
		urec_retry(p, u, code, message, throttled, now);
	}
	krec_free(k);
}

static void
krec_fail(
    struct producer *p, struct krec *k, const char *code, const char *message)
{
	struct urec *u;

	while ((u = TAILQ_FIRST(&k->urecs)) != NULL) {
		TAILQ_REMOVE(&k->urecs, u, entry);
		producer_complete(p, u, NULL, NULL, 0, code, message);
	}
	krec_free(k);
}

static void
krec_succeed(
    struct producer *p, struct krec *k, const char *shard, const char *seq)
{
	uint64_t subseq = 0;
	struct urec *u;

	while ((u = TAILQ_FIRST(&k->urecs)) != NULL) {
		TAILQ_REMOVE(&k->urecs, u, entry);
		producer_complete(p, u, shard, seq, subseq++, NULL, NULL);
	}
	krec_free(k);
}

static int
is_throttle(const char *code)
{
	return code != NULL &&
	       (strcmp(code, "ProvisionedThroughputExceededException") == 0 ||
	           strcmp(code, "KMSThrottlingException") == 0);
}

static void
on_put_records(const struct aws_result *r,
    const struct kinesis_put_records_result *res, void *arg)
{
	struct batch *b = arg;
	struct producer *p = b->p;
	uint64_t now = producer_now_ms();

	p->in_flight--;
	if (r->err != AWS_OK) {
		const char *code =
		    r->type != NULL ? r->type : aws_err_name(r->err);
		p->n_request_errors++;
		metric_inc(p->m_requests_err);
		log_debug("producer", "%s: PutRecords of %zu records: %s: %s",
		    p->name, b->n, code, r->message ? r->message : "");
		for (size_t i = 0; i < b->n; i++) {
			if (r->err == AWS_ERR_TERMINAL)
				krec_fail(p, b->k[i], code, r->message);
			else
				krec_retry(p, b->k[i], code, r->message,
				    r->err == AWS_ERR_THROTTLED, now);
		}
		if (aws_result_is(r, "ResourceNotFoundException") ||
		    aws_result_is(r, "ResourceInUseException"))
			producer_map_refresh(p);
		goto done;
	}
	metric_inc(p->m_requests_ok);
	for (size_t i = 0; i < b->n; i++) {
		const struct kinesis_put_record_result *rr =
		    i < res->n ? &res->records[i] : NULL;
		struct krec *k = b->k[i];
		int moved;

		if (rr == NULL || rr->error_code != NULL) {
			const char *code =
			    rr != NULL ? rr->error_code : "InternalFailure";
			krec_retry(p, k, code, rr ? rr->error_message : NULL,
			    is_throttle(code), now);
			continue;
		}
		moved = k->shard != NULL && strcmp(k->shard->id, rr->shard_id);
		if (moved || (k->shard == NULL && p->map_state == PMAP_READY))
			p->map_stale = 1;
		if (moved && k->aggregated) {
			/* The map was wrong: some records inside may belong to
			 * another shard, where the KCL would drop them.  Send
			 * them again by the new map, as the KPL does. */
			krec_retry(p, k, "WrongShard", NULL, 0, now);
			continue;
		}
		p->n_krecs++;
		metric_inc(p->m_krecs);
		krec_succeed(p, k, rr->shard_id, rr->seq);
	}
	if (p->map_stale)
		producer_map_refresh(p);
done:
	free(b->k);
	free(b);
	producer_pump(p);
}

/* ---- collection and sending ------------------------------------------------
 */

static int
shard_tokens(struct producer *p, struct pshard *s, size_t bytes, uint64_t now)
{
	double pct = (double)p->conf->kpl.rate_limit / 100.0;
	double rec_cap = SHARD_RECORDS_S * pct, byte_cap = SHARD_BYTES_S * pct;

	if (s == NULL)
		return 1;
	if (s->rec_tokens < 0) {
		s->rec_tokens = rec_cap;
		s->byte_tokens = byte_cap;
	} else if (now > s->refill_ms) {
		double dt = (double)(now - s->refill_ms) / 1000.0;
		s->rec_tokens += dt * rec_cap;
		s->byte_tokens += dt * byte_cap;
		if (s->rec_tokens > rec_cap)
			s->rec_tokens = rec_cap;
		if (s->byte_tokens > byte_cap)
			s->byte_tokens = byte_cap;
	}
	s->refill_ms = now;
	/* A record larger than a whole second's bytes still goes once the
	 * bucket is full, or it could never be sent. */
	return s->rec_tokens >= 1 &&
	       (s->byte_tokens >= (double)bytes || s->byte_tokens >= byte_cap);
}

/* Expired user records fail; the rest are routed again. */
static void
krec_expire(struct producer *p, struct krec *k, uint64_t now)
{
	struct urec_list again = TAILQ_HEAD_INITIALIZER(again);
	struct urec *u, *next;

	unqueue_krec(p, k);
	krec_unpack(k, &again);
	TAILQ_FOREACH_SAFE(u, &again, entry, next)
	{
		if (now < u->deadline_ms)
			continue;
		TAILQ_REMOVE(&again, u, entry);
		producer_complete(p, u, NULL, NULL, 0, "expired",
		    "RecordTtl passed before the record could be sent");
	}
	route_list(p, &again);
}

/* Cuts one PutRecords request from the queue; 1 when one was sent. */
static int
pipeline_send(struct producer *p, uint64_t now)
{
	const struct conf_kpl *kpl = &p->conf->kpl;
	size_t max_n = kpl->collection_max_count < PUT_MAX_RECORDS
	                   ? (size_t)kpl->collection_max_count
	                   : PUT_MAX_RECORDS;
	size_t max_bytes = kpl->collection_max_size < PUT_MAX_BYTES
	                       ? (size_t)kpl->collection_max_size
	                       : PUT_MAX_BYTES;
	struct kinesis_put_entry *e = NULL;
	struct krec *k, *next, **pick;
	size_t n = 0, bytes = 0;
	int full = 0, due = p->flushing > 0 || p->stopping;
	struct batch *b;

	if (max_n == 0)
		max_n = 1;
	if ((pick = calloc(max_n, sizeof(*pick))) == NULL)
		return 0;
	for (size_t i = 0; i < p->n_shards; i++)
		p->shards[i]->held_back = 0;
	for (size_t i = 0; i < p->n_retired; i++)
		p->retired[i]->held_back = 0;
	TAILQ_FOREACH_SAFE(k, &p->queue, entry, next)
	{
		size_t sz = k->len + strlen(k->pk);
		if (now >= k->deadline_ms) {
			krec_expire(p, k, now);
			continue;
		}
		if (n > 0 && bytes + sz > max_bytes) {
			full = 1;
			break;
		}
		/* Once a record of a shard is held back by its rate limit, so
		 * is every later one: a smaller one must not overtake it. */
		if (k->shard != NULL && k->shard->held_back)
			continue;
		if (!shard_tokens(p, k->shard, sz, now)) {
			if (k->shard != NULL)
				k->shard->held_back = 1;
			continue;
		}
		if (k->due_ms <= now)
			due = 1;
		pick[n++] = k;
		bytes += sz;
		if (k->shard != NULL) {
			k->shard->rec_tokens -= 1;
			k->shard->byte_tokens -= (double)sz;
		}
		if (n == max_n) {
			full = 1;
			break;
		}
	}
	if (n == 0 || (!full && !due)) {
		/* Not yet: give the tokens back. */
		for (size_t i = 0; i < n; i++)
			if (pick[i]->shard != NULL) {
				pick[i]->shard->rec_tokens += 1;
				pick[i]->shard->byte_tokens +=
				    (double)(pick[i]->len +
				             strlen(pick[i]->pk));
			}
		free(pick);
		return 0;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (e = calloc(n, sizeof(*e))) == NULL) {
		free(b);
		free(pick);
		return 0;
	}
	b->p = p;
	b->k = pick;
	b->n = n;
	b->sent_ms = now;
	for (size_t i = 0; i < n; i++) {
		struct urec *u;
		unqueue_krec(p, pick[i]);
		e[i].partition_key = pick[i]->pk;
		e[i].explicit_hash_key = pick[i]->ehk[0] ? pick[i]->ehk : NULL;
		e[i].data = pick[i]->blob;
		e[i].len = pick[i]->len;
		TAILQ_FOREACH(u, &pick[i]->urecs, entry)
		metric_observe(
		    p->m_buffering, (double)(now - u->arrival_ms) / 1000.0);
	}
	p->in_flight++;
	p->n_requests++;
	if (kinesis_put_records(p->api, p->conf->stream_name, e, n, 1,
	        on_put_records, b) == NULL) {
		/* Could not even start: every record is retried. */
		p->in_flight--;
		for (size_t i = 0; i < n; i++)
			krec_retry(p, pick[i], "InternalFailure",
			    "could not start a PutRecords request", 0, now);
		free(pick);
		free(b);
	}
	free(e);
	return 1;
}

void
producer_pump(struct producer *p)
{
	struct urec_list again = TAILQ_HEAD_INITIALIZER(again);
	uint64_t now = producer_now_ms();
	int hurry = p->flushing > 0 || p->stopping;
	struct urec *u, *next;

	TAILQ_FOREACH_SAFE(u, &p->retry, entry, next)
	{
		if (u->retry_at_ms > now && !p->stopping)
			continue;
		TAILQ_REMOVE(&p->retry, u, entry);
		TAILQ_INSERT_TAIL(&again, u, entry);
	}
	route_list(p, &again);
	for (size_t i = 0; i < p->n_shards; i++) {
		struct pshard *s = p->shards[i];
		if (kpl_agg_count(s->agg) > 0 &&
		    (hurry ||
		        s->oldest_ms + p->conf->kpl.record_max_buffered_time <=
		            now))
			shard_seal(p, s);
	}
	while (p->in_flight < p->conf->kpl.max_connections &&
	       !TAILQ_EMPTY(&p->queue) && pipeline_send(p, now))
		;
	pipeline_arm(p, now);
}

static void
pipeline_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	producer_pump(arg);
}

/* Wakes up when the next aggregate, queued record or retry is due. */
static void
pipeline_arm(struct producer *p, uint64_t now)
{
	uint64_t wake = UINT64_MAX;
	struct timeval tv;
	struct urec *u;

	for (size_t i = 0; i < p->n_shards; i++)
		if (kpl_agg_count(p->shards[i]->agg) > 0) {
			uint64_t t = p->shards[i]->oldest_ms +
			             p->conf->kpl.record_max_buffered_time;
			if (t < wake)
				wake = t;
		}
	if (!TAILQ_EMPTY(&p->queue) &&
	    p->in_flight < p->conf->kpl.max_connections) {
		/* Due, or held back by a rate limit: look again soon. */
		uint64_t t = TAILQ_FIRST(&p->queue)->due_ms;
		if (t <= now)
			t = now + 10;
		if (t < wake)
			wake = t;
	}
	TAILQ_FOREACH(u, &p->retry, entry)
	if (u->retry_at_ms < wake)
		wake = u->retry_at_ms;
	if (wake == UINT64_MAX) {
		evtimer_del(p->timer);
		return;
	}
	wake = wake > now ? wake - now : 0;
	tv.tv_sec = (time_t)(wake / 1000);
	tv.tv_usec = (suseconds_t)(wake % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

/* After a put: send at once when a request is full, else make sure the
 * timer will come by. */
void
producer_nudge(struct producer *p)
{
	const struct conf_kpl *kpl = &p->conf->kpl;

	if (p->queued >= kpl->collection_max_count ||
	    p->queued >= PUT_MAX_RECORDS ||
	    p->queued_bytes >= kpl->collection_max_size || p->flushing ||
	    !evtimer_pending(p->timer, NULL))
		producer_pump(p);
}

/* ---- life ------------------------------------------------------------------
 */

int
producer_pipeline_init(struct producer *p)
{
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->retry);
	p->timer = evtimer_new(p->base, pipeline_timer_cb, p);
	return p->timer != NULL ? 0 : -1;
}

/* Every record still held fails with error (shutdown's deadline). */
void
producer_fail_all(struct producer *p, const char *error, const char *message)
{
	struct krec *k;
	struct urec *u;

	while ((u = TAILQ_FIRST(&p->retry)) != NULL) {
		TAILQ_REMOVE(&p->retry, u, entry);
		producer_complete(p, u, NULL, NULL, 0, error, message);
	}
	for (size_t i = 0; i < p->n_shards; i++) {
		struct pshard *s = p->shards[i];
		while ((u = TAILQ_FIRST(&s->pending)) != NULL) {
			TAILQ_REMOVE(&s->pending, u, entry);
			producer_complete(p, u, NULL, NULL, 0, error, message);
		}
		kpl_agg_reset(s->agg);
	}
	while ((k = TAILQ_FIRST(&p->queue)) != NULL) {
		unqueue_krec(p, k);
		krec_fail(p, k, error, message);
	}
}

void
producer_pipeline_free(struct producer *p)
{
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->map_timer != NULL)
		event_free(p->map_timer);
	for (size_t i = 0; i < p->n_shards; i++)
		producer_shard_free(p->shards[i]);
	for (size_t i = 0; i < p->n_retired; i++)
		producer_shard_free(p->retired[i]);
	free(p->shards);
	free(p->retired);
}
