/*
 * ops.c — the producers' socket side: put and flush, validation,
 * back-pressure, results, stats, start and shutdown.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "conf/conf.h"
#include "ipc/ipc.h"
#include "kinesis/kinesis.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "producer/internal.h"
#include "producer/producer.h"

/* Kinesis's record limit, data and partition key together. */
#define RECORD_MAX_BYTES 1048576

struct producers {
	struct event_base *base;
	struct ipc_server *ipc;
	struct producer *v;
	size_t n;
	TAILQ_HEAD(, pconn) pconns;
	int stopping;
	void (*done)(void *);
	void *done_arg;
	struct event *done_ev, *deadline_ev;
};

uint64_t
producer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- connections and back-pressure ------------------------------------------
 */

static void
pconn_unref(struct producers *set, struct pconn *pc)
{
	if (pc != NULL && --pc->refs == 0) {
		TAILQ_REMOVE(&set->pconns, pc, entry);
		free(pc->feeds);
		free(pc);
	}
}

static struct pconn *
pconn_get(struct producers *set, struct ipc_conn *c)
{
	struct pconn *pc = ipc_conn_data(c, IPC_SLOT_PRODUCER);

	if (pc != NULL)
		return pc;
	if ((pc = calloc(1, sizeof(*pc))) == NULL ||
	    (pc->feeds = calloc(set->n > 0 ? set->n : 1, 1)) == NULL) {
		free(pc);
		return NULL;
	}
	pc->conn = c;
	pc->refs = 1; /* the slot's */
	TAILQ_INSERT_TAIL(&set->pconns, pc, entry);
	ipc_conn_set_data(c, IPC_SLOT_PRODUCER, pc);
	return pc;
}

static void
pconn_block(struct pconn *pc)
{
	if (pc->blocked_by++ == 0 && pc->conn != NULL)
		ipc_conn_pause(pc->conn, IPC_PAUSE_PRODUCER);
}

static void
pconn_unblock(struct pconn *pc)
{
	if (pc->blocked_by > 0 && --pc->blocked_by == 0 && pc->conn != NULL)
		ipc_conn_resume(pc->conn, IPC_PAUSE_PRODUCER);
}

static void
conn_closed(struct ipc_conn *c, void *arg)
{
	struct pconn *pc = ipc_conn_data(c, IPC_SLOT_PRODUCER);

	if (pc == NULL)
		return;
	/* Records it put still go to Kinesis; their results go nowhere. */
	pc->conn = NULL;
	ipc_conn_set_data(c, IPC_SLOT_PRODUCER, NULL);
	pconn_unref(arg, pc);
}

/*
 * At max-outstanding-requests a producer stops reading the connections
 * that put to it (back-pressure, never errors), and resumes a tenth below
 * so that it does not flap on every result.
 */
static void
producer_saturate(struct producer *p, int on)
{
	struct pconn *pc;

	if (p->saturated == on)
		return;
	p->saturated = on;
	log_debug("producer",
	    "%s: %s reading its connections at %llu "
	    "outstanding puts",
	    p->name, on ? "stops" : "resumes",
	    (unsigned long long)p->outstanding);
	TAILQ_FOREACH(pc, &p->set->pconns, entry)
	{
		if (!pc->feeds[p->index])
			continue;
		if (on)
			pconn_block(pc);
		else
			pconn_unblock(pc);
	}
}

/* ---- flush
 * ------------------------------------------------------------------- */

static void
flushreq_done(struct producers *set, struct flushreq *req)
{
	if (--req->pending > 0)
		return;
	if (req->origin != NULL && req->origin->conn != NULL)
		ipc_conn_send(
		    req->origin->conn, ipc_msg_new("flushed", req->id));
	pconn_unref(set, req->origin);
	free(req->id);
	free(req);
}

/* Answers the flushes of every finished epoch, oldest first. */
static void
epoch_settle(struct producer *p)
{
	struct epoch *e;

	while ((e = TAILQ_FIRST(&p->epochs)) != NULL &&
	       e != TAILQ_LAST(&p->epochs, epoch_list) && e->outstanding == 0) {
		struct flushwait *w;
		TAILQ_REMOVE(&p->epochs, e, entry);
		while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
			TAILQ_REMOVE(&e->waiters, w, entry);
			p->flushing--;
			flushreq_done(p->set, w->req);
			free(w);
		}
		free(e);
	}
}

static struct epoch *
epoch_new(void)
{
	struct epoch *e = calloc(1, sizeof(*e));

	if (e != NULL)
		TAILQ_INIT(&e->waiters);
	return e;
}

/* 0 queued (or answered at once), -1 out of memory. */
static int
producer_flush(struct producer *p, struct flushreq *req)
{
	struct epoch *cur = TAILQ_LAST(&p->epochs, epoch_list), *next;
	struct flushwait *w;

	if (p->outstanding == 0) {
		flushreq_done(p->set, req);
		return 0;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	if ((next = epoch_new()) == NULL) {
		free(w);
		return -1;
	}
	w->req = req;
	TAILQ_INSERT_TAIL(&cur->waiters, w, entry);
	TAILQ_INSERT_TAIL(&p->epochs, next, entry);
	p->flushing++;
	epoch_settle(p);
	producer_pump(p);
	return 0;
}

/* ---- results
 * ----------------------------------------------------------------- */

static void producers_check_done(struct producers *);

/* Kinesis shard ids and sequence numbers need no JSON escaping; anything
 * else from the wire takes the slow path. */
static int
json_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		        (*s >= 'A' && *s <= 'Z') || *s == '-' || *s == '_' ||
		        *s == '.' || *s == ':'))
			return 0;
	return 1;
}

static void
reply_put_failed(
    struct ipc_conn *c, const char *id, const char *error, const char *message)
{
	cJSON *m = ipc_msg_new("put_failed", id);

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "error", error);
	cJSON_AddStringToObject(
	    m, "message", message != NULL ? message : error);
	ipc_conn_send(c, m);
}

/* Appends n bytes of s at *o when they fit before end; 0, or -1. */
static int
line_add(char **o, const char *end, const char *s, size_t n)
{
	if ((size_t)(end - *o) < n)
		return -1;
	memcpy(*o, s, n);
	*o += n;
	return 0;
}
#define LINE_ADD_LIT(o, end, lit) line_add(o, end, lit, sizeof(lit) - 1)

/*
 * put_ok is the producer's most frequent line: pieced together by hand
 * from the id kept as JSON text (printf's format parsing cost more than
 * the rest of the reply), instead of building and printing a cJSON
 * object for every record.  Anything unusual takes the cJSON path.
 */
static void
reply_put_ok(struct ipc_conn *c, const char *id, const char *shard,
    const char *seq, uint64_t subseq)
{
	char line[512], digits[24], *o = line, *d = digits + sizeof(digits);
	const char *end = line + sizeof(line);
	uint64_t v = subseq;
	cJSON *m;

	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (json_plain(shard) && json_plain(seq) &&
	    LINE_ADD_LIT(&o, end, "{\"op\":\"put_ok\",\"id\":") == 0 &&
	    line_add(&o, end, id, strlen(id)) == 0 &&
	    LINE_ADD_LIT(&o, end, ",\"shard\":\"") == 0 &&
	    line_add(&o, end, shard, strlen(shard)) == 0 &&
	    LINE_ADD_LIT(&o, end, "\",\"seq\":\"") == 0 &&
	    line_add(&o, end, seq, strlen(seq)) == 0 &&
	    LINE_ADD_LIT(&o, end, "\",\"subseq\":") == 0 &&
	    line_add(&o, end, d, (size_t)(digits + sizeof(digits) - d)) == 0 &&
	    LINE_ADD_LIT(&o, end, "}") == 0) {
		ipc_conn_send_line(c, line, (size_t)(o - line));
		return;
	}
	m = ipc_msg_new("put_ok", id);
	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "shard", shard);
	cJSON_AddStringToObject(m, "seq", seq);
	cJSON_AddNumberToObject(m, "subseq", (double)subseq);
	ipc_conn_send(c, m);
}

void
producer_complete(struct producer *p, struct urec *u, const char *shard,
    const char *seq, uint64_t subseq, const char *error, const char *message)
{
	double latency = (double)(producer_now_ms() - u->arrival_ms) / 1000.0;
	struct ipc_conn *c = u->origin != NULL ? u->origin->conn : NULL;

	if (u->id != NULL && c != NULL) {
		if (error == NULL)
			reply_put_ok(c, u->id, shard, seq, subseq);
		else
			reply_put_failed(c, u->id, error, message);
		ipc_conn_release(c); /* max-unanswered-puts */
	}
	if (error == NULL) {
		p->n_put++;
		metric_inc(p->m_put);
		p->sum_latency += latency;
		metric_observe(p->m_latency, latency);
	} else if (strcmp(error, "expired") == 0) {
		p->n_expired++;
		metric_inc(p->m_expired);
	} else {
		p->n_failed++;
		metric_inc(p->m_failed);
		log_debug("producer", "%s: put failed: %s: %s", p->name, error,
		    message != NULL ? message : "");
	}
	p->outstanding--;
	metric_set(p->m_outstanding, (double)p->outstanding);
	u->epoch->outstanding--;
	pconn_unref(p->set, u->origin);
	free(u);
	epoch_settle(p);
	if (p->saturated && p->outstanding <= p->max_outstanding -
	                                          (p->max_outstanding + 9) / 10)
		producer_saturate(p, 0);
	if (p->set->stopping)
		producers_check_done(p->set);
}

/* ---- put
 * ---------------------------------------------------------------------- */

static struct producer *
producer_find(struct producers *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}

/* Characters (code points) of a UTF-8 string the ipc layer validated. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void
op_put(struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	struct producers *set = arg;
	const struct ipc_value *vp = ipc_req_get(req, "producer");
	const struct ipc_value *vk = ipc_req_get(req, "key");
	const struct ipc_value *vd = ipc_req_get(req, "data");
	const struct ipc_value *vt = ipc_req_get(req, "text");
	const struct ipc_value *ve = ipc_req_get(req, "ehk");
	size_t len, room, id_len = id != NULL ? strlen(id) + 1 : 0;
	struct kpl_hash hash;
	struct producer *p;
	struct pconn *pc;
	struct urec *u;
	const char *cause;

	if (set->stopping) {
		ipc_conn_error(c, id, "shutting_down",
		    "kinesisd is shutting down; send no more puts");
		return;
	}
	if (vp == NULL || vp->type != IPC_STRING) {
		ipc_conn_error(c, id, "bad_request",
		    "put: \"producer\" must be a producer's name");
		return;
	}
	if ((p = producer_find(set, vp->str)) == NULL) {
		ipc_conn_error(c, id, "unknown_producer",
		    "put: no producer \"%.100s\" in the configuration",
		    vp->str);
		return;
	}
	if (vk == NULL || vk->type != IPC_STRING || vk->len == 0 ||
	    utf8_chars(vk->str) > 256) {
		ipc_conn_error(c, id, "bad_request",
		    "put: \"key\" must be a string of 1 to 256 characters");
		return;
	}
	if ((vd != NULL) == (vt != NULL)) {
		ipc_conn_error(c, id, "bad_request",
		    "put: give exactly one of \"data\" (base64) and \"text\"");
		return;
	}
	if ((vt != NULL && vt->type != IPC_STRING) ||
	    (vd != NULL && vd->type != IPC_STRING)) {
		ipc_conn_error(c, id, "bad_request",
		    vt != NULL ? "put: \"text\" must be a string"
		               : "put: \"data\" must be standard base64 with "
		                 "padding");
		return;
	}
	/* The data's room: its exact size for text, an upper bound for
	 * base64 (the decoder says the exact one; the size is checked
	 * after, the line's limit bounds it before). */
	len = vt != NULL ? vt->len : AWS_BASE64_DECODED_MAX(vd->len);
	if (ve != NULL) {
		if (ve->type != IPC_STRING ||
		    kpl_hash_parse(ve->str, ve->len, &hash, &cause) != KPL_OK) {
			ipc_conn_error(c, id, "bad_request",
			    "put: \"ehk\" must be a decimal string below "
			    "2^128");
			return;
		}
	} else if (kpl_hash_key(p->hasher, vk->str, vk->len, &hash) != KPL_OK) {
		ipc_conn_error(c, id, "bad_request",
		    "put: cannot hash the key (MD5 unavailable)");
		return;
	}

	/* One allocation holds the record: its key, data and id. */
	room = sizeof(*u) + vk->len + 1 + len + 1 + id_len;
	if ((pc = pconn_get(set, c)) == NULL || (u = malloc(room)) == NULL) {
		ipc_conn_error(c, id, "bad_request", "put: out of memory");
		return;
	}
	memset(u, 0, sizeof(*u));
	u->key = (char *)(u + 1);
	memcpy(u->key, vk->str, vk->len + 1);
	u->key_len = vk->len;
	u->data = (unsigned char *)u->key + vk->len + 1;
	if (vt != NULL)
		memcpy(u->data, vt->str, len);
	else if (aws_base64_decode_to(vd->str, vd->len, u->data, &len) == -1) {
		free(u);
		ipc_conn_error(c, id, "bad_request",
		    "put: \"data\" must be standard base64 with padding");
		return;
	}
	if (len + vk->len > RECORD_MAX_BYTES) {
		free(u);
		ipc_conn_error(c, id, "too_large",
		    "put: the record is %zu bytes with its key; Kinesis takes "
		    "at most %d",
		    len + vk->len, RECORD_MAX_BYTES);
		return;
	}
	u->data[len] = '\0';
	u->len = len;
	u->hash = hash;
	if (ve != NULL) {
		u->has_ehk = 1;
		snprintf(u->ehk, sizeof(u->ehk), "%s", ve->str);
	}
	if (id != NULL) {
		u->id = (char *)u->data + len + 1;
		memcpy(u->id, id, id_len);
		u->origin = pc;
		pc->refs++;
		/* max-unanswered-puts; released in producer_complete. */
		ipc_conn_hold(c);
	}
	u->arrival_ms = producer_now_ms();
	u->deadline_ms = u->arrival_ms + p->conf->kpl.record_ttl;
	u->epoch = TAILQ_LAST(&p->epochs, epoch_list);
	u->epoch->outstanding++;
	p->outstanding++;
	p->n_received++;
	metric_inc(p->m_received);
	metric_set(p->m_outstanding, (double)p->outstanding);

	if (!pc->feeds[p->index]) {
		pc->feeds[p->index] = 1;
		if (p->saturated)
			pconn_block(pc);
	}
	if (p->max_outstanding > 0 && p->outstanding >= p->max_outstanding)
		producer_saturate(p, 1);
	producer_route(p, u);
	producer_nudge(p);
}

static void
op_flush(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	struct producers *set = arg;
	const struct ipc_value *vp = ipc_req_get(req, "producer");
	struct producer *only = NULL;
	struct flushreq *fr;

	if (vp != NULL && vp->type != IPC_STRING) {
		ipc_conn_error(c, id, "bad_request",
		    "flush: \"producer\" must be a producer's name");
		return;
	}
	if (vp != NULL && (only = producer_find(set, vp->str)) == NULL) {
		ipc_conn_error(c, id, "unknown_producer",
		    "flush: no producer \"%.100s\" in the configuration",
		    vp->str);
		return;
	}
	if ((fr = calloc(1, sizeof(*fr))) == NULL ||
	    (id != NULL && (fr->id = strdup(id)) == NULL) ||
	    (fr->origin = pconn_get(set, c)) == NULL) {
		if (fr != NULL)
			free(fr->id);
		free(fr);
		ipc_conn_error(c, id, "bad_request", "flush: out of memory");
		return;
	}
	fr->origin->refs++;
	/* One extra count, dropped below, so that the reply cannot go out
	 * before every producer has been asked. */
	fr->pending = 1 + (only != NULL ? 1 : (unsigned)set->n);
	for (size_t i = 0; i < set->n; i++) {
		if (only != NULL && &set->v[i] != only)
			continue;
		if (producer_flush(&set->v[i], fr) == -1)
			flushreq_done(set, fr); /* out of memory: don't wait */
	}
	flushreq_done(set, fr);
}

/* ---- stats and readiness
 * ------------------------------------------------------ */

static const char *
map_state_name(enum producer_map_state s)
{
	return s == PMAP_READY     ? "ready"
	       : s == PMAP_MISSING ? "missing"
	                           : "syncing";
}

void
producers_stats(struct producers *set, cJSON *obj)
{
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		struct producer *p = &set->v[i];
		cJSON *o = cJSON_AddObjectToObject(obj, p->name);
		if (o == NULL)
			return;
		cJSON_AddStringToObject(o, "stream", p->conf->stream_name);
		cJSON_AddStringToObject(
		    o, "shard_map", map_state_name(p->map_state));
		cJSON_AddNumberToObject(o, "shards", (double)p->n_shards);
		cJSON_AddNumberToObject(
		    o, "outstanding", (double)p->outstanding);
		cJSON_AddNumberToObject(
		    o, "user_records_received", (double)p->n_received);
		cJSON_AddNumberToObject(
		    o, "user_records_put", (double)p->n_put);
		cJSON_AddNumberToObject(
		    o, "user_records_failed", (double)p->n_failed);
		cJSON_AddNumberToObject(
		    o, "user_records_expired", (double)p->n_expired);
		cJSON_AddNumberToObject(
		    o, "kinesis_records_put", (double)p->n_krecs);
		cJSON_AddNumberToObject(
		    o, "put_records_requests", (double)p->n_requests);
		cJSON_AddNumberToObject(
		    o, "put_records_errors", (double)p->n_request_errors);
		cJSON_AddNumberToObject(o, "retries", (double)p->n_retries);
		cJSON_AddNumberToObject(o, "user_records_per_kinesis_record",
		    p->n_krecs > 0 ? (double)p->n_put / (double)p->n_krecs : 0);
		cJSON_AddNumberToObject(o, "put_latency_ms_avg",
		    p->n_put > 0 ? 1000 * p->sum_latency / (double)p->n_put
		                 : 0);
	}
}

int
producers_ready(const struct producers *set, const char **why)
{
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		if (set->v[i].map_state == PMAP_READY)
			continue;
		*why = set->v[i].map_state == PMAP_MISSING
		           ? "a producer's stream does not exist"
		           : "reading the producers' shard maps";
		return 0;
	}
	return 1;
}

/* ---- life
 * ----------------------------------------------------------------------- */

/* KinesisEndpoint + KinesisPort as the KPL reads them: a host name (or a
 * URL), HTTPS on the port. */
static char *
producer_endpoint(const struct conf *conf, const struct conf_producer *pc)
{
	const char *ep = pc->kpl.kinesis_endpoint;
	char *url;

	if (ep == NULL || *ep == '\0')
		return conf->kinesis_endpoint != NULL
		           ? strdup(conf->kinesis_endpoint)
		           : NULL;
	if (strstr(ep, "://") != NULL)
		return strdup(ep);
	if (pc->kpl.kinesis_port == 443) {
		if (asprintf(&url, "https://%s", ep) == -1)
			return NULL;
	} else if (asprintf(&url, "https://%s:%llu", ep,
	               (unsigned long long)pc->kpl.kinesis_port) == -1)
		return NULL;
	return url;
}

static int
producer_init(struct producers *set, struct producer *p, size_t index,
    const struct conf *conf, struct aws_http *http,
    struct aws_credentials *creds, const char *region, struct metrics *m,
    char **cause)
{
	const struct conf_producer *pc = &conf->producers[index];
	struct aws_client_opts o = {0};
	struct epoch *e;
	char *endpoint = NULL;

	p->set = set;
	p->base = set->base;
	p->index = index;
	p->conf = pc;
	p->name = pc->name;
	p->region = pc->kpl.region != NULL ? pc->kpl.region : region;
	p->max_outstanding = pc->max_outstanding_requests;
	TAILQ_INIT(&p->epochs);
	if ((e = epoch_new()) == NULL)
		goto nomem;
	TAILQ_INSERT_TAIL(&p->epochs, e, entry);
	if (producer_pipeline_init(p) == -1 || producer_map_init(p) == -1 ||
	    (p->hasher = kpl_hasher_new()) == NULL)
		goto nomem;

	if (pc->kpl.kinesis_endpoint != NULL ||
	    conf->kinesis_endpoint != NULL) {
		if ((endpoint = producer_endpoint(conf, pc)) == NULL)
			goto nomem;
	}
	o.region = p->region;
	o.endpoint = endpoint;
	o.connect_timeout_ms = (long)pc->kpl.connect_timeout;
	o.request_timeout_ms = (long)pc->kpl.request_timeout;
	o.verify_certificate = pc->kpl.verify_certificate;
	o.max_connections = (unsigned)pc->kpl.max_connections;
	o.max_attempts = 1;
	p->api = kinesis_new(http, creds, m, &o, cause);
	free(endpoint);
	if (p->api == NULL)
		return -1;
	if (!pc->kpl.verify_certificate)
		log_warnx("producer",
		    "%s: VerifyCertificate is false: TLS "
		    "certificates of Kinesis are NOT checked",
		    p->name);

	p->m_received = metric_series(
	    metrics_counter(m, "kinesisd_user_records_received_total",
	        "User records received by put, per producer.", "producer"),
	    p->name);
	p->m_put = metric_series(
	    metrics_counter(m, "kinesisd_user_records_put_total",
	        "User records accepted by Kinesis (put_ok), per producer.",
	        "producer"),
	    p->name);
	p->m_failed = metric_series(
	    metrics_counter(m, "kinesisd_user_records_failed_total",
	        "User records that failed (put_failed other than expired).",
	        "producer"),
	    p->name);
	p->m_expired = metric_series(
	    metrics_counter(m, "kinesisd_user_records_expired_total",
	        "User records whose RecordTtl passed before Kinesis took them.",
	        "producer"),
	    p->name);
	p->m_krecs = metric_series(
	    metrics_counter(m, "kinesisd_kinesis_records_put_total",
	        "Kinesis records (aggregates or plain) accepted by Kinesis.",
	        "producer"),
	    p->name);
	p->m_requests_ok = metric_series(
	    metrics_counter(m, "kinesisd_put_records_requests_total",
	        "PutRecords requests sent, by result.", "producer,result"),
	    p->name, "ok");
	p->m_requests_err = metric_series(
	    metrics_counter(m, "kinesisd_put_records_requests_total", NULL,
	        "producer,result"),
	    p->name, "error");
	p->m_retries = metric_series(
	    metrics_counter(m, "kinesisd_user_record_retries_total",
	        "User records sent again after a failure.", "producer"),
	    p->name);
	p->m_outstanding = metric_series(
	    metrics_gauge(m, "kinesisd_outstanding_puts",
	        "User records received and not yet answered.", "producer"),
	    p->name);
	p->m_latency = metric_series(
	    metrics_histogram(m, "kinesisd_put_latency_seconds",
	        "From put to put_ok, per producer.", "producer", NULL, 0),
	    p->name);
	p->m_buffering = metric_series(
	    metrics_histogram(m, "kinesisd_buffering_time_seconds",
	        "Time a user record waited before its PutRecords was sent.",
	        "producer", NULL, 0),
	    p->name);
	{
		static const double b[] = {
		    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
		p->m_per_krec = metric_series(
		    metrics_histogram(m,
		        "kinesisd_user_records_per_kinesis_record",
		        "User records inside each Kinesis record sent.",
		        "producer", b, sizeof(b) / sizeof(*b)),
		    p->name);
	}
	metric_set(p->m_outstanding, 0);
	producer_map_refresh(p);
	return 0;
nomem:
	*cause = strdup("out of memory");
	return -1;
}

static void
producer_destroy(struct producer *p)
{
	struct epoch *e;

	producer_pipeline_free(p);
	kinesis_free(p->api);
	kpl_hasher_free(p->hasher);
	while ((e = TAILQ_FIRST(&p->epochs)) != NULL) {
		struct flushwait *w;
		TAILQ_REMOVE(&p->epochs, e, entry);
		while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
			TAILQ_REMOVE(&e->waiters, w, entry);
			free(w); /* the flushreqs leak with the process end */
		}
		free(e);
	}
}

struct producers *
producers_new(struct event_base *base, const struct conf *conf,
    struct aws_http *http, struct aws_credentials *creds, const char *region,
    struct ipc_server *ipc, struct metrics *m, char **cause)
{
	struct producers *set;

	*cause = NULL;
	if ((set = calloc(1, sizeof(*set))) == NULL)
		goto nomem;
	set->base = base;
	set->ipc = ipc;
	TAILQ_INIT(&set->pconns);
	if (conf->n_producers > 0 &&
	    (set->v = calloc(conf->n_producers, sizeof(*set->v))) == NULL)
		goto nomem;
	for (size_t i = 0; i < conf->n_producers; i++) {
		set->n = i + 1;
		if (producer_init(set, &set->v[i], i, conf, http, creds, region,
		        m, cause) == -1)
			goto fail;
	}
	if (ipc_register(ipc, "put", op_put, set) == -1 ||
	    ipc_register(ipc, "flush", op_flush, set) == -1 ||
	    ipc_on_close(ipc, conn_closed, set) == -1) {
		*cause = strdup("cannot register the producer's socket ops");
		goto fail;
	}
	return set;
nomem:
	*cause = strdup("out of memory");
fail:
	producers_free(set);
	return NULL;
}

void
producers_free(struct producers *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		producer_destroy(&set->v[i]);
	free(set->v);
	if (set->done_ev != NULL)
		event_free(set->done_ev);
	if (set->deadline_ev != NULL)
		event_free(set->deadline_ev);
	/* pconns still referenced by live connections are freed by them. */
	free(set);
}

static void
producers_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct producers *set = arg;
	void (*done)(void *) = set->done;

	(void)fd;
	(void)what;
	set->done = NULL;
	if (set->deadline_ev != NULL)
		evtimer_del(set->deadline_ev);
	if (done != NULL)
		done(set->done_arg);
}

static void
producers_check_done(struct producers *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].outstanding > 0)
			return;
	if (set->done != NULL && set->done_ev != NULL)
		event_active(set->done_ev, EV_TIMEOUT, 0);
}

static void
producers_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct producers *set = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < set->n; i++) {
		if (set->v[i].outstanding == 0)
			continue;
		log_warnx("producer",
		    "%s: %llu puts unanswered at the "
		    "shutdown deadline: failing them with shutting_down",
		    set->v[i].name, (unsigned long long)set->v[i].outstanding);
		producer_fail_all(&set->v[i], "shutting_down",
		    "kinesisd shut down before Kinesis accepted the record");
	}
	producers_check_done(set);
}

void
producers_shutdown(struct producers *set, uint64_t timeout_ms,
    void (*done)(void *arg), void *arg)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
	    (suseconds_t)(timeout_ms % 1000) * 1000};

	set->stopping = 1;
	set->done = done;
	set->done_arg = arg;
	set->done_ev = event_new(set->base, -1, 0, producers_done_cb, set);
	set->deadline_ev = evtimer_new(set->base, producers_deadline_cb, set);
	if (set->deadline_ev != NULL)
		evtimer_add(set->deadline_ev, &tv);
	for (size_t i = 0; i < set->n; i++) {
		set->v[i].stopping = 1;
		producer_pump(&set->v[i]);
	}
	if (set->done_ev == NULL) {
		set->done = NULL;
		done(arg);
		return;
	}
	producers_check_done(set);
}
