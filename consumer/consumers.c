/*
 * consumers.c — the consumers of the configuration: each with its own
 * Kinesis and DynamoDB clients and lease manager, its lifecycle (enum
 * consumer_state), the lease events, graceful shutdown (SPEC section 5),
 * the `leases` op and the stats.
 *
 *   IDLE -> RUNNING            first subscriber: lease_manager_start
 *   RUNNING -> RELEASING       last subscriber gone: lease_manager_stop
 *   RELEASING -> IDLE|RUNNING  released (RUNNING if someone subscribed)
 *   RUNNING -> DRAINING        shutdown: fetching stops, batches go on
 *   DRAINING -> CLOSING        batches over or out of time: final
 *                              checkpoints, lease_manager_stop
 *   CLOSING -> DONE            consumer_shutdown sent
 *   IDLE|RELEASING -> DONE     shutdown with nothing held
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "conf/conf.h"
#include "consumer/consumer.h"
#include "consumer/consumer_int.h"
#include "dynamo/dynamo.h"
#include "ipc/ipc.h"
#include "kinesis/kinesis.h"
#include "lease/lease.h"
#include "log/log.h"
#include "metrics/metrics.h"

/* GetRecords may carry 10 MB; a hung call must still end (kinesalite
 * never answers some AT_TIMESTAMP reads). */
#define KINESIS_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 6000

static const char *const consumer_state_names[] = {
    "idle",
    "running",
    "releasing",
    "draining",
    "closing",
    "done",
};

const char *
consumer_strstate(enum consumer_state s)
{
	if ((size_t)s >=
	    sizeof(consumer_state_names) / sizeof(*consumer_state_names))
		return "?";
	return consumer_state_names[s];
}

uint64_t
consumers_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t
consumers_random(struct consumers *all)
{
	/* xorshift64*: jitter for back-offs, nothing secret. */
	uint64_t x = all->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	all->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

void
consumers_schedule(struct consumers *all)
{
	if (all->work_scheduled || all->ev_work == NULL)
		return;
	all->work_scheduled = 1;
	event_active(all->ev_work, EV_TIMEOUT, 0);
}

struct consumer *
consumers_find(struct consumers *all, const char *name)
{
	for (size_t i = 0; i < all->n; i++)
		if (strcmp(all->v[i].conf->name, name) == 0)
			return &all->v[i];
	return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void consumer_on_stopped(int ok, void *arg);
static void consumer_on_closed(int ok, void *arg);

/* Drops every shard without a word to the applications (none is left, or
 * the leases are being released as a whole). */
static void
consumer_drop_shards(struct consumer *c)
{
	struct consumer_shard *sh;

	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		consumer_shard_checkpoint_push(sh);
		consumer_shard_stop_fetching(sh);
		consumer_shard_detach(sh, 0);
		consumer_shard_set_state(sh, SHARD_DEAD);
	}
}

void
consumer_set_state(struct consumer *c, enum consumer_state next)
{
	enum consumer_state prev = c->state;

	if (prev == next)
		return;
	log_info("consumer", "%s: %s -> %s", c->conf->name,
	    consumer_strstate(prev), consumer_strstate(next));
	c->state = next;
	switch (next) {
	case CONSUMER_RUNNING:
		lease_manager_start(c->leases);
		break;
	case CONSUMER_RELEASING:
		/* The acked progress goes out with the stop: it writes every
		 * pending checkpoint before releasing. */
		consumer_drop_shards(c);
		lease_manager_stop(c->leases, consumer_on_stopped, c);
		break;
	case CONSUMER_CLOSING: {
		struct consumer_shard *sh;
		TAILQ_FOREACH(sh, &c->shards, entry)
		{
			consumer_shard_checkpoint_push(sh);
			consumer_shard_stop_fetching(sh);
			consumer_shard_drop_batches(sh);
		}
		evtimer_del(c->ev_deadline);
		lease_manager_stop(c->leases, consumer_on_closed, c);
		break;
	}
	case CONSUMER_IDLE:
	case CONSUMER_DRAINING:
	case CONSUMER_DONE:
		break;
	}
	consumers_schedule(c->all);
}

static void
consumer_on_stopped(int ok, void *arg)
{
	struct consumer *c = arg;

	if (!ok)
		log_warnx("consumer",
		    "%s: releasing the leases failed; they "
		    "expire after failoverTimeMillis",
		    c->conf->name);
	if (c->shutdown)
		consumer_set_state(c, CONSUMER_DONE);
	else if (c->n_subs > 0)
		consumer_set_state(c, CONSUMER_RUNNING);
	else
		consumer_set_state(c, CONSUMER_IDLE);
}

static void
consumer_on_closed(int ok, void *arg)
{
	struct consumer *c = arg;
	struct consumer_shard *sh;

	if (!ok)
		log_warnx("consumer",
		    "%s: final checkpoint or release "
		    "failed",
		    c->conf->name);
	/* reactive-kinesis's ConsumerShutdown comes after the checkpoint. */
	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		if (sh->sub != NULL && sh->state != SHARD_DEAD)
			consumer_shard_send(sh, "consumer_shutdown");
		consumer_shard_detach(sh, 0);
		consumer_shard_set_state(sh, SHARD_DEAD);
	}
	consumer_set_state(c, CONSUMER_DONE);
}

void
consumer_drain_check(struct consumer *c)
{
	struct consumer_shard *sh;

	if (c->state != CONSUMER_DRAINING)
		return;
	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		if (sh->state == SHARD_STOPPING)
			return;
	}
	consumer_set_state(c, CONSUMER_CLOSING);
}

static void
consumer_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct consumer *c = arg;

	(void)fd;
	(void)what;
	if (c->state != CONSUMER_DRAINING)
		return;
	log_warnx("consumer",
	    "%s: shutdown: batches not acked in time; "
	    "checkpointing what was acked",
	    c->conf->name);
	consumer_set_state(c, CONSUMER_CLOSING);
}

static void
consumer_shutdown_one(struct consumer *c)
{
	uint64_t limit_ms = c->conf->worker.shutdown_timeout_seconds * 1000;
	uint64_t margin_ms = limit_ms / 4 < 5000 ? limit_ms / 4 : 5000;
	struct consumer_shard *sh;
	struct timeval tv;

	c->shutdown = 1;
	switch (c->state) {
	case CONSUMER_IDLE:
		consumer_set_state(c, CONSUMER_DONE);
		return;
	case CONSUMER_RUNNING:
		break;
	default:
		/* RELEASING ends in DONE by itself; the rest is under way. */
		return;
	}
	if (!c->conf->worker.graceful_shutdown_hook) {
		/* Without the hook, as reactive-kinesis: no final
		 * checkpoint; the leases expire after failoverTimeMillis. */
		TAILQ_FOREACH(sh, &c->shards, entry)
		{
			consumer_shard_stop_fetching(sh);
			consumer_shard_detach(sh, 0);
			consumer_shard_set_state(sh, SHARD_DEAD);
		}
		consumer_set_state(c, CONSUMER_DONE);
		return;
	}
	consumer_set_state(c, CONSUMER_DRAINING);
	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		switch (sh->state) {
		case SHARD_ITERATOR:
		case SHARD_FETCHING:
		case SHARD_WAITING:
		case SHARD_QUEUED:
		case SHARD_FULL:
		case SHARD_DRAINING:
			consumer_shard_stop_fetching(sh);
			consumer_shard_set_state(sh,
			    sh->cur != NULL ? SHARD_STOPPING : SHARD_STOPPED);
			break;
		default:
			break;
		}
	}
	/* The rest of shutdownTimeoutSeconds is for the checkpoints. */
	tv.tv_sec = (time_t)((limit_ms - margin_ms) / 1000);
	tv.tv_usec = (suseconds_t)((limit_ms - margin_ms) % 1000 * 1000);
	evtimer_add(c->ev_deadline, &tv);
	consumer_drain_check(c);
}

/* ---- lease events -------------------------------------------------------- */

static struct consumer_shard *
consumer_shard_find(struct consumer *c, const char *id)
{
	struct consumer_shard *sh;

	TAILQ_FOREACH(sh, &c->shards, entry)
	{
		if (consumer_shard_live(sh) && strcmp(sh->id, id) == 0)
			return sh;
	}
	return NULL;
}

static void
consumer_on_acquired(const struct lease_info *info, void *arg)
{
	struct consumer *c = arg;
	const struct conf_kcl *kcl = &c->conf->kcl;
	struct consumer_start st;
	struct consumer_shard *sh;
	char *cause = NULL;

	if (c->state != CONSUMER_RUNNING) {
		/* lease_manager_stop is on its way and releases it. */
		log_debug("consumer", "%s %s: acquired while %s; ignored",
		    c->conf->name, info->shard_id, consumer_strstate(c->state));
		return;
	}
	if (consumer_shard_find(c, info->shard_id) != NULL) {
		log_warnx("consumer", "%s %s: acquired twice; ignored",
		    c->conf->name, info->shard_id);
		return;
	}
	if (consumer_start_pick(info->checkpoint, info->checkpoint_subseq,
	        info->n_parents > 0, kcl->initial_position,
	        kcl->initial_sequence_number, kcl->initial_timestamp_ms,
	        &st) == -1) {
		log_warnx("consumer",
		    "%s %s: unknown checkpoint '%s'; "
		    "starting at initialPositionInStream",
		    c->conf->name, info->shard_id, info->checkpoint);
		consumer_start_pick(NULL, 0, info->n_parents > 0,
		    kcl->initial_position, kcl->initial_sequence_number,
		    kcl->initial_timestamp_ms, &st);
	}
	if ((sh = consumer_shard_new(c, info->shard_id, &st, &cause)) == NULL) {
		log_errorx("consumer", "%s: %s", c->conf->name,
		    cause != NULL ? cause : "out of memory");
		free(cause);
		return;
	}
	log_info("consumer",
	    "%s %s: lease acquired, checkpoint %s (subseq "
	    "%llu), reading from %s",
	    c->conf->name, sh->id,
	    info->checkpoint != NULL ? info->checkpoint : "(none)",
	    (unsigned long long)info->checkpoint_subseq,
	    st.ended ? "nowhere (SHARD_END)"
	             : kinesis_iterator_type_name(st.type));
	TAILQ_INSERT_TAIL(&c->shards, sh, entry);
	c->n_held++;
	metric_set(c->m_held, (double)c->n_held);
	consumer_shard_assign_any(sh);
	consumer_shard_begin(sh);
}

static void
consumer_on_lost(const char *shard_id, void *arg)
{
	struct consumer *c = arg;
	struct consumer_shard *sh = consumer_shard_find(c, shard_id);

	if (sh == NULL)
		return;
	log_info("consumer", "%s %s: lease lost", c->conf->name, shard_id);
	sh->lost = 1;
	consumer_shard_stop_fetching(sh);
	consumer_shard_detach(sh, 1);
	consumer_shard_set_state(sh, SHARD_DEAD);
	if (c->state == CONSUMER_DRAINING)
		consumer_drain_check(c);
	consumer_rebalance(c);
}

/* ---- deferred work ------------------------------------------------------- */

static void
consumers_on_work(evutil_socket_t fd, short what, void *arg)
{
	struct consumers *all = arg;
	int done = 1;

	(void)fd;
	(void)what;
	all->work_scheduled = 0;
	for (size_t i = 0; i < all->n; i++) {
		struct consumer *c = &all->v[i];
		struct consumer_shard *sh, *tmp;

		consumer_pump(c);
		/* Freed here, never inside their own callbacks; a shard
		 * with a lease/ call out waits for its answer. */
		for (sh = TAILQ_FIRST(&c->shards); sh != NULL; sh = tmp) {
			tmp = TAILQ_NEXT(sh, entry);
			if (sh->state != SHARD_DEAD || sh->lease_busy)
				continue;
			TAILQ_REMOVE(&c->shards, sh, entry);
			if (c->ack_cache == sh)
				c->ack_cache = NULL;
			consumer_shard_free(sh);
		}
		if (c->state != CONSUMER_DONE)
			done = 0;
	}
	if (all->shutting_down && done && !all->done_called) {
		all->done_called = 1;
		log_info("consumer", "every consumer is shut down");
		if (all->done != NULL)
			all->done(all->done_arg);
	}
}

/* ---- the leases op ------------------------------------------------------- */

struct consumer_list_req {
	struct consumers *all;
	struct consumer *cons;
	struct ipc_conn *conn; /* NULL once closed */
	char *id; /* the request's id (JSON text), owned; or NULL */
	TAILQ_ENTRY(consumer_list_req) entry;
};

static void
list_req_free(struct consumer_list_req *r)
{
	if (r == NULL)
		return;
	free(r->id);
	free(r);
}

static cJSON *
leases_msg(
    const struct consumer_list_req *r, const struct lease_info *v, size_t n)
{
	cJSON *m = ipc_msg_new("leases", r->id), *arr;

	if (m == NULL ||
	    cJSON_AddStringToObject(m, "consumer", r->cons->conf->name) ==
	        NULL ||
	    (arr = cJSON_AddArrayToObject(m, "leases")) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (o == NULL)
			goto fail;
		cJSON_AddItemToArray(arr, o);
		if (cJSON_AddStringToObject(o, "shard", v[i].shard_id) ==
		        NULL ||
		    (v[i].owner != NULL
		            ? cJSON_AddStringToObject(o, "owner", v[i].owner)
		            : cJSON_AddNullToObject(o, "owner")) == NULL ||
		    cJSON_AddNumberToObject(
		        o, "counter", (double)v[i].counter) == NULL ||
		    (v[i].checkpoint != NULL
		            ? cJSON_AddStringToObject(
		                  o, "checkpoint", v[i].checkpoint)
		            : cJSON_AddNullToObject(o, "checkpoint")) == NULL ||
		    cJSON_AddNumberToObject(
		        o, "subseq", (double)v[i].checkpoint_subseq) == NULL)
			goto fail;
	}
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}

static void
on_lease_list(const struct lease_info *v, size_t n, const char *err, void *arg)
{
	struct consumer_list_req *r = arg;

	TAILQ_REMOVE(&r->all->lists, r, entry);
	if (r->conn != NULL) {
		ipc_conn_release(r->conn);
		/* SPEC's error codes are all about the request; a table that
		 * cannot be read now is said inside the reply instead. */
		cJSON *m =
		    leases_msg(r, err == NULL ? v : NULL, err == NULL ? n : 0);
		if (m != NULL && err != NULL)
			cJSON_AddStringToObject(m, "error", err);
		ipc_conn_send(r->conn, m);
	}
	list_req_free(r);
}

static void
op_leases(
    struct ipc_conn *conn, const struct ipc_req *req, const char *id, void *arg)
{
	struct consumers *all = arg;
	const struct ipc_value *v = ipc_req_get(req, "consumer");
	struct consumer_list_req *r;
	struct consumer *c;

	if (v == NULL || v->type != IPC_STRING) {
		ipc_conn_error(
		    conn, id, "bad_request", "\"consumer\" must be a string");
		return;
	}
	if ((c = consumers_find(all, v->str)) == NULL) {
		ipc_conn_error(conn, id, "unknown_consumer",
		    "no consumer named '%s' is configured", v->str);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (id != NULL && (r->id = strdup(id)) == NULL)) {
		list_req_free(r);
		ipc_conn_error(conn, id, "bad_request", "out of memory");
		return;
	}
	r->all = all;
	r->cons = c;
	r->conn = conn;
	ipc_conn_set_data(conn, IPC_SLOT_CONSUMER, all);
	/* Answered later: counts against the connection's max_unanswered,
	 * so a client cannot pile up table scans. */
	ipc_conn_hold(conn);
	TAILQ_INSERT_TAIL(&all->lists, r, entry);
	lease_list(c->leases, on_lease_list, r);
}

/* ---- connection hooks ---------------------------------------------------- */

static void
consumers_on_close(struct ipc_conn *conn, void *arg)
{
	struct consumers *all = arg;
	struct consumer_list_req *r;

	/* Unmarked: never subscribed or asked for leases here, or the
	 * consumers are freed already (then arg is gone too). */
	if (ipc_conn_data(conn, IPC_SLOT_CONSUMER) == NULL)
		return;
	ipc_conn_set_data(conn, IPC_SLOT_CONSUMER, NULL);
	TAILQ_FOREACH(r, &all->lists, entry)
	{
		if (r->conn == conn)
			r->conn = NULL;
	}
	consumer_conn_closed(all, conn);
}

static void
consumers_on_drain(struct ipc_conn *conn, void *arg)
{
	(void)conn;
	consumers_schedule(arg);
}

/* ---- new, free ----------------------------------------------------------- */

static int
consumer_init(struct consumers *all, struct consumer *c,
    const struct conf_consumer *cc, struct aws_http *http,
    struct aws_credentials *creds, const char *region, char **cause)
{
	const struct conf *conf = all->conf;
	const struct conf_kcl *kcl = &cc->kcl;
	struct aws_client_opts ko = {0}, dopts = {0};
	struct lease_opts lo = {0};
	struct lease_events ev = {0};
	const char *endpoint = kcl->kinesis_endpoint != NULL
	                           ? kcl->kinesis_endpoint
	                           : conf->kinesis_endpoint;
	char *url = NULL;
	int rc = -1;

	c->all = all;
	c->conf = cc;
	c->state = CONSUMER_IDLE;
	TAILQ_INIT(&c->shards);
	TAILQ_INIT(&c->subs);
	TAILQ_INIT(&c->fetch_queue);
	if (kcl->region_name != NULL && kcl->region_name[0] != '\0')
		region = kcl->region_name;
	if (region == NULL || region[0] == '\0') {
		if (asprintf(cause,
		        "consumer %s: no region (set region, "
		        "kcl.regionName or AWS_REGION)",
		        cc->name) == -1)
			*cause = NULL;
		return -1;
	}
	/* The KCL takes kinesisEndpoint with or without its scheme. */
	if (endpoint != NULL && endpoint[0] != '\0' &&
	    strstr(endpoint, "://") == NULL) {
		if (asprintf(&url, "https://%s", endpoint) == -1)
			goto oom;
		endpoint = url;
	}
	ko.region = region;
	ko.endpoint = endpoint != NULL && endpoint[0] != '\0' ? endpoint : NULL;
	ko.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	ko.request_timeout_ms = KINESIS_TIMEOUT_MS;
	ko.verify_certificate = 1;
	/* The fetchers back off and retry by themselves. */
	ko.max_attempts = 1;
	if ((c->kinesis = kinesis_new(http, creds, all->metrics, &ko, cause)) ==
	    NULL)
		goto out;
	dopts.region = region;
	dopts.endpoint = conf->dynamodb_endpoint;
	dopts.connect_timeout_ms = CONNECT_TIMEOUT_MS;
	dopts.verify_certificate = 1;
	if ((c->dynamo = dynamo_new(
	         http, creds, all->metrics, &dopts, cause)) == NULL)
		goto out;

	lo.table = kcl->table_name;
	lo.stream = cc->stream_name;
	lo.worker_id = kcl->worker_id;
	switch (kcl->initial_position) {
	case CONF_POS_LATEST:
		lo.initial_checkpoint = LEASE_LATEST;
		break;
	case CONF_POS_AT_TIMESTAMP:
		lo.initial_checkpoint = LEASE_AT_TIMESTAMP;
		break;
	default:
		/* AT_/AFTER_SEQUENCE_NUMBER have no sentinel: the fetcher
		 * starts from initialSequenceNumber on TRIM_HORIZON. */
		lo.initial_checkpoint = LEASE_TRIM_HORIZON;
		break;
	}
	lo.failover_time_millis = kcl->failover_time_millis;
	/*
	 * The KCL scans for leases every 2 x failoverTimeMillis.  kinesisd
	 * releases its leases on a graceful stop so that others take them at
	 * once (SPEC section 4); that only shows if they look often enough,
	 * so the taker runs every failoverTimeMillis / 2: one Scan of the
	 * lease table each time, cheap for tables of hundreds of leases.
	 */
	lo.taker_interval_millis = kcl->failover_time_millis / 2;
	lo.shard_sync_interval_millis = kcl->shard_sync_interval_millis;
	lo.max_leases_for_worker = kcl->max_leases_for_worker;
	lo.max_leases_to_steal_at_one_time =
	    kcl->max_leases_to_steal_at_one_time;
	lo.initial_lease_table_read_capacity =
	    kcl->initial_lease_table_read_capacity;
	lo.initial_lease_table_write_capacity =
	    kcl->initial_lease_table_write_capacity;
	lo.cleanup_leases_upon_shard_completion =
	    kcl->cleanup_leases_upon_shard_completion;
	lo.parent_shard_poll_interval_millis =
	    kcl->parent_shard_poll_interval_millis;
	lo.checkpoint_interval_millis = cc->checkpointer.interval_millis;
	lo.checkpoint_backoff_millis = cc->checkpointer.backoff_millis;
	ev.acquired = consumer_on_acquired;
	ev.lost = consumer_on_lost;
	ev.arg = c;
	if ((c->leases = lease_manager_new(all->base, c->dynamo, c->kinesis,
	         all->metrics, &lo, &ev, cause)) == NULL)
		goto out;
	if ((c->ev_deadline =
	            evtimer_new(all->base, consumer_on_deadline, c)) == NULL)
		goto oom;

	c->m_delivered = metric_series(
	    metrics_counter(all->metrics, "kinesisd_records_delivered_total",
	        "User records sent to applications for the first time",
	        "consumer"),
	    cc->name);
	c->m_redelivered = metric_series(
	    metrics_counter(all->metrics, "kinesisd_records_redelivered_total",
	        "User records sent again (batch timeout, connection gone)",
	        "consumer"),
	    cc->name);
	c->m_acked = metric_series(
	    metrics_counter(all->metrics, "kinesisd_records_acked_total",
	        "User records acked by applications (skips included)",
	        "consumer"),
	    cc->name);
	c->m_skipped = metric_series(
	    metrics_counter(all->metrics, "kinesisd_records_skipped_total",
	        "User records acked with ok:false", "consumer"),
	    cc->name);
	c->m_failures = metric_series(
	    metrics_counter(all->metrics, "kinesisd_consumer_failures_total",
	        "Shards stopped after a batch stayed above "
	        "failureTolerancePercentage",
	        "consumer"),
	    cc->name);
	c->m_fetched = metric_series(
	    metrics_counter(all->metrics, "kinesisd_records_fetched_total",
	        "Kinesis records read by GetRecords (aggregates count once)",
	        "consumer"),
	    cc->name);
	c->m_held =
	    metric_series(metrics_gauge(all->metrics, "kinesisd_shards_held",
	                      "Shards this worker processes", "consumer"),
	        cc->name);
	metric_set(c->m_held, 0);
	rc = 0;
	goto out;
oom:
	if (asprintf(cause, "consumer %s: out of memory", cc->name) == -1)
		*cause = NULL;
out:
	free(url);
	return rc;
}

static void
consumer_fini(struct consumer *c)
{
	struct consumer_shard *sh;
	struct consumer_sub *s;

	/* The manager first: it calls back no more and stops using the
	 * clients; shards before the clients, whose calls they cancel. */
	lease_manager_free(c->leases);
	while ((sh = TAILQ_FIRST(&c->shards)) != NULL) {
		TAILQ_REMOVE(&c->shards, sh, entry);
		consumer_shard_free(sh);
	}
	while ((s = TAILQ_FIRST(&c->subs)) != NULL) {
		TAILQ_REMOVE(&c->subs, s, entry);
		free(s);
	}
	if (c->ev_deadline != NULL)
		event_free(c->ev_deadline);
	dynamo_free(c->dynamo);
	kinesis_free(c->kinesis);
}

struct consumers *
consumers_new(struct event_base *base, const struct conf *conf,
    struct aws_http *http, struct aws_credentials *creds, const char *region,
    struct ipc_server *ipc, struct metrics *metrics, char **cause)
{
	struct consumers *all;

	*cause = NULL;
	if ((all = calloc(1, sizeof(*all))) == NULL)
		goto oom;
	all->base = base;
	all->conf = conf;
	all->ipc = ipc;
	all->metrics = metrics;
	all->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
	           0x9e3779b97f4a7c15ULL;
	TAILQ_INIT(&all->lists);
	all->f_behind = metrics_gauge(metrics, "kinesisd_behind_latest_seconds",
	    "MillisBehindLatest of the last GetRecords, per shard held",
	    "consumer,shard");
	if ((all->ev_work = event_new(base, -1, 0, consumers_on_work, all)) ==
	    NULL)
		goto oom;
	if (conf->n_consumers > 0 &&
	    (all->v = calloc(conf->n_consumers, sizeof(*all->v))) == NULL)
		goto oom;
	for (size_t i = 0; i < conf->n_consumers; i++) {
		all->n++;
		if (consumer_init(all, &all->v[i], &conf->consumers[i], http,
		        creds, region, cause) == -1)
			goto fail;
	}
	if (consumer_ops_register(all) == -1 ||
	    ipc_register(ipc, "leases", op_leases, all) == -1 ||
	    ipc_on_close(ipc, consumers_on_close, all) == -1 ||
	    ipc_on_drain(ipc, consumers_on_drain, all) == -1) {
		if (asprintf(cause, "cannot register the consumer's socket "
		                    "ops") == -1)
			*cause = NULL;
		goto fail;
	}
	return all;
oom:
	if (asprintf(cause, "consumers: out of memory") == -1)
		*cause = NULL;
fail:
	consumers_free(all);
	return NULL;
}

void
consumers_free(struct consumers *all)
{
	struct consumer_list_req *r;

	if (all == NULL)
		return;
	/* Connections outliving us must not call back into freed memory:
	 * take the mark off every one that has it. */
	for (size_t i = 0; i < all->n; i++) {
		struct consumer_sub *s;
		TAILQ_FOREACH(s, &all->v[i].subs, entry)
		{
			ipc_conn_set_data(s->conn, IPC_SLOT_CONSUMER, NULL);
		}
	}
	TAILQ_FOREACH(r, &all->lists, entry)
	{
		if (r->conn != NULL)
			ipc_conn_set_data(r->conn, IPC_SLOT_CONSUMER, NULL);
	}
	for (size_t i = 0; i < all->n; i++)
		consumer_fini(&all->v[i]);
	free(all->v);
	while ((r = TAILQ_FIRST(&all->lists)) != NULL) {
		TAILQ_REMOVE(&all->lists, r, entry);
		list_req_free(r);
	}
	if (all->ev_work != NULL)
		event_free(all->ev_work);
	free(all->line);
	free(all);
}

void
consumers_shutdown(struct consumers *all, void (*done)(void *arg), void *arg)
{
	all->done = done;
	all->done_arg = arg;
	if (all->shutting_down)
		return;
	all->shutting_down = 1;
	for (size_t i = 0; i < all->n; i++)
		consumer_shutdown_one(&all->v[i]);
	/* done runs from the loop, never from inside this call. */
	consumers_schedule(all);
}

void
consumers_stats(struct consumers *all, cJSON *obj)
{
	for (size_t i = 0; i < all->n; i++) {
		const struct consumer *c = &all->v[i];
		const struct consumer_sub *s;
		size_t in_flight = 0;
		cJSON *o = cJSON_AddObjectToObject(obj, c->conf->name);

		if (o == NULL)
			return;
		TAILQ_FOREACH(s, &c->subs, entry)
		{
			in_flight += s->in_flight;
		}
		cJSON_AddStringToObject(o, "stream", c->conf->stream_name);
		cJSON_AddStringToObject(
		    o, "state", consumer_strstate(c->state));
		cJSON_AddNumberToObject(o, "subscribers", (double)c->n_subs);
		cJSON_AddNumberToObject(o, "shards", (double)c->n_held);
		cJSON_AddNumberToObject(o, "delivered", (double)c->delivered);
		cJSON_AddNumberToObject(o, "acked", (double)c->acked);
		cJSON_AddNumberToObject(
		    o, "redelivered", (double)c->redelivered);
		cJSON_AddNumberToObject(o, "skipped", (double)c->skipped);
		cJSON_AddNumberToObject(o, "failures", (double)c->failures);
		cJSON_AddNumberToObject(o, "in_flight", (double)in_flight);
		cJSON_AddNumberToObject(o, "fetched", (double)c->fetched);
	}
}
