/*
 * requests.c — what the application asks of the daemon: put (with a
 * callback, waiting, or fire-and-forget), flush, subscribe, unsubscribe,
 * ack, hello, ping; the table of requests waiting for their reply (by
 * id), and how a reply completes one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "kdc_int.h"

#define MAX_KEY_CHARS  256
#define MAX_EHK_DIGITS 39 /* 2^128 - 1 has 39 */

/* ---- the table of pending requests --------------------------------------- */

static int
table_grow(struct kinesisd *k)
{
	size_t n = k->n_buckets > 0 ? k->n_buckets * 2 : 64;
	struct kdc_req **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return -1;
	for (struct kdc_req *r = k->first; r != NULL; r = r->next) {
		r->hnext = b[r->id & (n - 1)];
		b[r->id & (n - 1)] = r;
	}
	free(k->buckets);
	k->buckets = b;
	k->n_buckets = n;
	return 0;
}

struct kdc_req *
kdc_req_new(struct kinesisd *k, enum kdc_req_kind kind)
{
	struct kdc_req *r;
	size_t h;

	if (k->n_pending >= k->n_buckets && table_grow(k) == -1)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->id = ++k->next_id;
	r->kind = kind;
	h = r->id & (k->n_buckets - 1);
	r->hnext = k->buckets[h];
	k->buckets[h] = r;
	r->prev = k->last;
	if (k->last != NULL)
		k->last->next = r;
	else
		k->first = r;
	k->last = r;
	k->n_pending++;
	return r;
}

struct kdc_req *
kdc_req_find(struct kinesisd *k, uint64_t id)
{
	struct kdc_req *r;

	if (k->n_buckets == 0)
		return NULL;
	for (r = k->buckets[id & (k->n_buckets - 1)]; r != NULL; r = r->hnext)
		if (r->id == id)
			return r;
	return NULL;
}

void
kdc_req_remove(struct kinesisd *k, struct kdc_req *r)
{
	struct kdc_req **pp = &k->buckets[r->id & (k->n_buckets - 1)];

	while (*pp != NULL && *pp != r)
		pp = &(*pp)->hnext;
	if (*pp == r)
		*pp = r->hnext;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		k->first = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		k->last = r->prev;
	r->prev = r->next = r->hnext = NULL;
	k->n_pending--;
}

void
kdc_req_free(struct kdc_req *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r);
}

size_t
kinesisd_pending(const struct kinesisd *k)
{
	return k == NULL ? 0 : k->n_pending;
}

/* ---- subscriptions to make again ----------------------------------------- */

static void
subs_set(struct kinesisd *k, const char *consumer, unsigned max_in_flight)
{
	struct kdc_sub *v;
	char *name;

	for (size_t i = 0; i < k->n_subs; i++)
		if (strcmp(k->subs[i].consumer, consumer) == 0) {
			k->subs[i].max_in_flight = max_in_flight;
			return;
		}
	/* Out of memory here only loses the re-subscription on reconnect;
	 * the subscription itself stands. */
	if ((name = kdc_strdup(consumer)) == NULL)
		return;
	if ((v = realloc(k->subs, (k->n_subs + 1) * sizeof(*v))) == NULL) {
		free(name);
		return;
	}
	k->subs = v;
	k->subs[k->n_subs].consumer = name;
	k->subs[k->n_subs].max_in_flight = max_in_flight;
	k->n_subs++;
}

static void
subs_del(struct kinesisd *k, const char *consumer)
{
	for (size_t i = 0; i < k->n_subs; i++)
		if (strcmp(k->subs[i].consumer, consumer) == 0) {
			free(k->subs[i].consumer);
			k->subs[i] = k->subs[--k->n_subs];
			return;
		}
}

void
kdc_subs_free(struct kinesisd *k)
{
	for (size_t i = 0; i < k->n_subs; i++)
		free(k->subs[i].consumer);
	free(k->subs);
	k->subs = NULL;
	k->n_subs = 0;
}

/* ---- replies ------------------------------------------------------------- */

static const char *
str_field(const cJSON *msg, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *const expected_op[] = {
    [KDC_REQ_PUT] = "put_ok",
    [KDC_REQ_FLUSH] = "flushed",
    [KDC_REQ_SUBSCRIBE] = "subscribed",
    [KDC_REQ_UNSUBSCRIBE] = "unsubscribed",
    [KDC_REQ_HELLO] = "hello",
    [KDC_REQ_PING] = "pong",
};

static struct kinesisd_hello *
hello_parse(const cJSON *msg)
{
	const cJSON *lists[2] = {
	    cJSON_GetObjectItemCaseSensitive(msg, "producers"),
	    cJSON_GetObjectItemCaseSensitive(msg, "consumers"),
	};
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "version");
	const char *server = str_field(msg, "server");
	struct kinesisd_hello *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->version = cJSON_IsNumber(v) ? v->valueint : 0;
	if ((h->server = kdc_strdup(server != NULL ? server : "")) == NULL)
		goto fail;
	for (int l = 0; l < 2; l++) {
		char ***names = l == 0 ? &h->producers : &h->consumers;
		size_t *n = l == 0 ? &h->n_producers : &h->n_consumers;
		int count =
		    cJSON_IsArray(lists[l]) ? cJSON_GetArraySize(lists[l]) : 0;
		const cJSON *item;

		if ((*names = calloc((size_t)count + 1, sizeof(char *))) ==
		    NULL)
			goto fail;
		cJSON_ArrayForEach(item, lists[l])
		{
			if (!cJSON_IsString(item))
				continue;
			if (((*names)[*n] = kdc_strdup(item->valuestring)) ==
			    NULL)
				goto fail;
			(*n)++;
		}
	}
	return h;
fail:
	kinesisd_hello_free(h);
	return NULL;
}

void
kinesisd_hello_free(struct kinesisd_hello *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; h->producers != NULL && i < h->n_producers; i++)
		free(h->producers[i]);
	for (size_t i = 0; h->consumers != NULL && i < h->n_consumers; i++)
		free(h->consumers[i]);
	free(h->producers);
	free(h->consumers);
	free(h->server);
	free(h);
}

/*
 * Completes a request removed from the table: with the reply msg (op is
 * its "op"), or without one (msg NULL) with status.  The caller frees
 * the request afterwards.
 */
void
kdc_req_complete(struct kinesisd *k, struct kdc_req *r, const char *op,
    const cJSON *msg, int status)
{
	struct kinesisd_put_result res;
	const char *error = NULL, *message = NULL;
	struct kinesisd_hello *hello = NULL;

	memset(&res, 0, sizeof(res));
	if (msg == NULL) {
		error = status == KINESISD_ERR_CLOSED ? "connection_lost"
		                                      : "client_error";
		message = k->lost_why;
	} else if (strcmp(op, "error") == 0) {
		error = str_field(msg, "error");
		message = str_field(msg, "message");
		status = error != NULL && strcmp(error, "shutting_down") == 0
		             ? KINESISD_ERR_SHUTTING_DOWN
		             : KINESISD_ERR_REFUSED;
	} else if (r->kind == KDC_REQ_PUT && strcmp(op, "put_failed") == 0) {
		error = str_field(msg, "error");
		message = str_field(msg, "message");
		status = KINESISD_ERR_PUT_FAILED;
	} else if (strcmp(op, expected_op[r->kind]) == 0) {
		status = KINESISD_OK;
	} else {
		status = KINESISD_ERR_PROTOCOL;
		error = "protocol";
		message = "kinesisd answered with an unexpected op";
	}
	if (error == NULL && status != KINESISD_OK)
		error = "unknown";
	if (message == NULL && status != KINESISD_OK)
		message = "";

	res.status = status;
	if (status == KINESISD_OK && r->kind == KDC_REQ_PUT) {
		const cJSON *sub =
		    cJSON_GetObjectItemCaseSensitive(msg, "subseq");
		const char *shard = str_field(msg, "shard");
		const char *seq = str_field(msg, "seq");

		snprintf(res.shard, sizeof(res.shard), "%s",
		    shard != NULL ? shard : "");
		snprintf(
		    res.seq, sizeof(res.seq), "%s", seq != NULL ? seq : "");
		if (cJSON_IsNumber(sub) && sub->valuedouble >= 0)
			res.subseq = (uint64_t)sub->valuedouble;
	} else if (status != KINESISD_OK) {
		snprintf(res.error, sizeof(res.error), "%s", error);
		snprintf(res.message, sizeof(res.message), "%s", message);
	}
	if (status == KINESISD_OK && r->kind == KDC_REQ_SUBSCRIBE)
		subs_set(k, r->name, r->max_in_flight);
	if (r->kind == KDC_REQ_UNSUBSCRIBE &&
	    (status == KINESISD_OK ||
	        (status == KINESISD_ERR_REFUSED &&
	            strcmp(res.error, "not_subscribed") == 0)))
		subs_del(k, r->name);
	if (status == KINESISD_OK && r->kind == KDC_REQ_HELLO &&
	    r->wait != NULL && (hello = hello_parse(msg)) == NULL) {
		res.status = KINESISD_ERR_NOMEM;
		snprintf(res.error, sizeof(res.error), "nomem");
		snprintf(res.message, sizeof(res.message),
		    "out of memory for the hello reply");
	}

	if (r->wait != NULL) {
		struct kdc_wait *w = r->wait;
		w->done = 1;
		w->status = res.status;
		w->hello = hello;
		memcpy(w->error, res.error, sizeof(w->error));
		memcpy(w->message, res.message, sizeof(w->message));
		if (w->put != NULL)
			*w->put = res;
		r->wait = NULL;
	} else if (r->put_cb != NULL) {
		kdc_dispatch_enter(k);
		r->put_cb(&res, r->arg);
		kdc_dispatch_leave(k);
	}
}

/* ---- sending ------------------------------------------------------------- */

static int
check_name(struct kinesisd *k, const char *what, const char *s)
{
	if (s == NULL || s[0] == '\0' || kdc_utf8_chars(s) < 0)
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "%s must be a non-empty UTF-8 string", what);
	return KINESISD_OK;
}

static int
wait_done(struct kinesisd *k, void *arg)
{
	(void)k;
	return ((struct kdc_wait *)arg)->done;
}

/*
 * Starts a request line {"op":op,...: the caller adds its fields, then
 * end_line() adds the id (when req) and the newline.  mark is where the
 * line starts, to take it back on failure.
 */
static int
begin_line(struct kinesisd *k, const char *op, size_t *mark)
{
	*mark = k->out.len;
	if (kdc_buf_adds(&k->out, "{\"op\":\"") == -1 ||
	    kdc_buf_adds(&k->out, op) == -1 ||
	    kdc_buf_adds(&k->out, "\"") == -1)
		return -1;
	return 0;
}

static int
add_str(struct kinesisd *k, const char *name, const char *value)
{
	if (kdc_buf_adds(&k->out, ",\"") == -1 ||
	    kdc_buf_adds(&k->out, name) == -1 ||
	    kdc_buf_adds(&k->out, "\":") == -1 ||
	    kdc_buf_add_json_string(&k->out, value) == -1)
		return -1;
	return 0;
}

static int
add_u64(struct kinesisd *k, const char *name, uint64_t value)
{
	if (kdc_buf_adds(&k->out, ",\"") == -1 ||
	    kdc_buf_adds(&k->out, name) == -1 ||
	    kdc_buf_adds(&k->out, "\":") == -1 ||
	    kdc_buf_add_u64(&k->out, value) == -1)
		return -1;
	return 0;
}

static int
end_line(struct kinesisd *k, const struct kdc_req *r)
{
	if ((r != NULL && add_u64(k, "id", r->id) == -1) ||
	    kdc_buf_adds(&k->out, "}\n") == -1)
		return -1;
	return 0;
}

/* Takes back a line that could not be built, and its request. */
static int
line_failed(struct kinesisd *k, size_t mark, struct kdc_req *r)
{
	k->out.len = mark;
	if (r != NULL) {
		kdc_req_remove(k, r);
		kdc_req_free(r);
	}
	return kdc_err(k, KINESISD_ERR_NOMEM, "out of memory");
}

/*
 * Waits for the reply to request id, whose wait is w; on timeout or a
 * lost connection the request forgets w (a late reply is dropped).
 * Returns w's status, with its message in errmsg.
 */
static int
wait_reply(struct kinesisd *k, uint64_t id, struct kdc_wait *w, int timeout_ms,
    const char *what)
{
	int rc = kdc_wait(k, timeout_ms, wait_done, w);

	if (!w->done) {
		struct kdc_req *r = kdc_req_find(k, id);
		if (r != NULL)
			r->wait = NULL;
		if (rc == KINESISD_ERR_TIMEOUT)
			kdc_err(k, rc,
			    "%s: no reply from kinesisd within %d ms", what,
			    timeout_ms);
		return rc;
	}
	if (w->status != KINESISD_OK)
		kdc_err(k, w->status, "%s: %s: %s", what, w->error, w->message);
	return w->status;
}

static int
put_line(struct kinesisd *k, const char *producer, const char *key,
    const char *ehk, const void *data, size_t len, kinesisd_put_cb cb,
    void *arg, struct kdc_wait *w, uint64_t *id)
{
	struct kdc_req *r = NULL;
	long chars;
	size_t mark;
	int rc;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if ((rc = check_name(k, "producer", producer)) != KINESISD_OK)
		return rc;
	if (key == NULL || (chars = kdc_utf8_chars(key)) < 1 ||
	    chars > MAX_KEY_CHARS)
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "key must be 1 to %d characters of UTF-8", MAX_KEY_CHARS);
	if (ehk != NULL && (ehk[0] == '\0' || strlen(ehk) > MAX_EHK_DIGITS ||
	                       strspn(ehk, "0123456789") != strlen(ehk)))
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "ehk must be a decimal number below 2^128");
	if (data == NULL && len > 0)
		return kdc_err(k, KINESISD_ERR_INVALID, "data is NULL");
	if ((rc = kdc_room(k, 1)) != KINESISD_OK)
		return rc;
	if ((cb != NULL || w != NULL) &&
	    (r = kdc_req_new(k, KDC_REQ_PUT)) == NULL)
		return kdc_err(k, KINESISD_ERR_NOMEM, "out of memory");
	if (begin_line(k, "put", &mark) == -1 ||
	    add_str(k, "producer", producer) == -1 ||
	    add_str(k, "key", key) == -1 ||
	    (ehk != NULL && add_str(k, "ehk", ehk) == -1) ||
	    kdc_buf_adds(&k->out, ",\"data\":\"") == -1 ||
	    kdc_buf_add_base64(&k->out, data, len) == -1 ||
	    kdc_buf_adds(&k->out, "\"") == -1 || end_line(k, r) == -1)
		return line_failed(k, mark, r);
	if (r != NULL) {
		r->put_cb = cb;
		r->arg = arg;
		r->wait = w;
		*id = r->id;
	}
	kdc_try_write(k);
	return KINESISD_OK;
}

int
kinesisd_put_ehk(struct kinesisd *k, const char *producer, const char *key,
    const char *ehk, const void *data, size_t len, kinesisd_put_cb cb,
    void *arg)
{
	uint64_t id;

	return put_line(k, producer, key, ehk, data, len, cb, arg, NULL, &id);
}

int
kinesisd_put(struct kinesisd *k, const char *producer, const char *key,
    const void *data, size_t len, kinesisd_put_cb cb, void *arg)
{
	return kinesisd_put_ehk(k, producer, key, NULL, data, len, cb, arg);
}

int
kinesisd_put_forget(struct kinesisd *k, const char *producer, const char *key,
    const void *data, size_t len)
{
	return kinesisd_put_ehk(k, producer, key, NULL, data, len, NULL, NULL);
}

int
kinesisd_put_wait(struct kinesisd *k, const char *producer, const char *key,
    const void *data, size_t len, int timeout_ms,
    struct kinesisd_put_result *res)
{
	struct kdc_wait w;
	uint64_t id = 0;
	int rc;

	if (res == NULL)
		return kdc_err(k, KINESISD_ERR_INVALID, "res is NULL");
	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	w.put = res;
	if (k != NULL && k->depth > 0)
		rc = kdc_err(k, KINESISD_ERR_BUSY,
		    "kinesisd_put_wait() from a callback");
	else
		rc = put_line(
		    k, producer, key, NULL, data, len, NULL, NULL, &w, &id);
	if (rc == KINESISD_OK)
		rc = wait_reply(k, id, &w, timeout_ms, "put");
	if (!w.done) {
		res->status = rc;
		snprintf(res->error, sizeof(res->error), "%s",
		    kinesisd_strerror(rc));
		snprintf(res->message, sizeof(res->message), "%s",
		    kinesisd_errmsg(k));
	}
	return res->status;
}

/* Sends a request that waits for its reply (flush, subscribe, ...). */
static int
request(struct kinesisd *k, enum kdc_req_kind kind, const char *op,
    const char *name_field, const char *name, unsigned max_in_flight,
    int timeout_ms, struct kdc_wait *w)
{
	struct kdc_req *r;
	size_t mark;
	int rc;

	if (k->depth > 0)
		return kdc_err(k, KINESISD_ERR_BUSY, "%s from a callback", op);
	if ((rc = kdc_room(k, 0)) != KINESISD_OK)
		return rc;
	if ((r = kdc_req_new(k, kind)) == NULL)
		return kdc_err(k, KINESISD_ERR_NOMEM, "out of memory");
	if (name != NULL && (r->name = kdc_strdup(name)) == NULL)
		return line_failed(k, k->out.len, r);
	r->max_in_flight = max_in_flight;
	r->wait = w;
	if (begin_line(k, op, &mark) == -1 ||
	    (name != NULL && add_str(k, name_field, name) == -1) ||
	    (max_in_flight > 0 &&
	        add_u64(k, "max_in_flight", max_in_flight) == -1) ||
	    (kind == KDC_REQ_HELLO &&
	        (add_str(k, "client", k->client) == -1 ||
	            add_u64(k, "version", KINESISD_PROTOCOL_VERSION) == -1)) ||
	    end_line(k, r) == -1)
		return line_failed(k, mark, r);
	kdc_try_write(k);
	return wait_reply(k, r->id, w, timeout_ms, op);
}

int
kinesisd_flush(struct kinesisd *k, const char *producer, int timeout_ms)
{
	struct kdc_wait w;
	int rc;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if (producer != NULL &&
	    (rc = check_name(k, "producer", producer)) != KINESISD_OK)
		return rc;
	memset(&w, 0, sizeof(w));
	return request(
	    k, KDC_REQ_FLUSH, "flush", "producer", producer, 0, timeout_ms, &w);
}

int
kinesisd_subscribe(struct kinesisd *k, const char *consumer,
    unsigned max_in_flight, int timeout_ms)
{
	struct kdc_wait w;
	int rc;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if ((rc = check_name(k, "consumer", consumer)) != KINESISD_OK)
		return rc;
	memset(&w, 0, sizeof(w));
	return request(k, KDC_REQ_SUBSCRIBE, "subscribe", "consumer", consumer,
	    max_in_flight, timeout_ms, &w);
}

int
kinesisd_unsubscribe(struct kinesisd *k, const char *consumer, int timeout_ms)
{
	struct kdc_wait w;
	int rc;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if ((rc = check_name(k, "consumer", consumer)) != KINESISD_OK)
		return rc;
	memset(&w, 0, sizeof(w));
	return request(k, KDC_REQ_UNSUBSCRIBE, "unsubscribe", "consumer",
	    consumer, 0, timeout_ms, &w);
}

int
kdc_resubscribe(struct kinesisd *k, int timeout_ms)
{
	int first = KINESISD_OK;
	char msg[sizeof(k->err)] = "";

	/* Completions only update entries in place here (same names). */
	for (size_t i = 0; i < k->n_subs; i++) {
		struct kdc_wait w;
		int rc;

		memset(&w, 0, sizeof(w));
		rc = request(k, KDC_REQ_SUBSCRIBE, "subscribe", "consumer",
		    k->subs[i].consumer, k->subs[i].max_in_flight, timeout_ms,
		    &w);
		if (rc != KINESISD_OK && first == KINESISD_OK) {
			first = rc;
			snprintf(msg, sizeof(msg), "%s", k->err);
		}
		if (rc == KINESISD_ERR_CLOSED || rc == KINESISD_ERR_TIMEOUT)
			break;
	}
	if (first != KINESISD_OK)
		kdc_err(k, first, "%s", msg);
	return first;
}

int
kinesisd_hello(struct kinesisd *k, int timeout_ms, struct kinesisd_hello **out)
{
	struct kdc_wait w;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (k == NULL || out == NULL)
		return kdc_err(k, KINESISD_ERR_INVALID, "out is NULL");
	memset(&w, 0, sizeof(w));
	rc = request(k, KDC_REQ_HELLO, "hello", NULL, NULL, 0, timeout_ms, &w);
	if (rc == KINESISD_OK)
		*out = w.hello;
	else
		kinesisd_hello_free(w.hello);
	return rc;
}

int
kinesisd_ping(struct kinesisd *k, int timeout_ms)
{
	struct kdc_wait w;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	memset(&w, 0, sizeof(w));
	return request(k, KDC_REQ_PING, "ping", NULL, NULL, 0, timeout_ms, &w);
}

/* ---- acks ---------------------------------------------------------------- */

int
kinesisd_ack_at(struct kinesisd *k, const char *consumer, const char *shard,
    const char *seq, uint64_t subseq, int ok)
{
	size_t mark;
	int rc;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if ((rc = check_name(k, "consumer", consumer)) != KINESISD_OK ||
	    (rc = check_name(k, "shard", shard)) != KINESISD_OK ||
	    (rc = check_name(k, "seq", seq)) != KINESISD_OK)
		return rc;
	if ((rc = kdc_room(k, 0)) != KINESISD_OK)
		return rc;
	if (begin_line(k, "ack", &mark) == -1 ||
	    add_str(k, "consumer", consumer) == -1 ||
	    add_str(k, "shard", shard) == -1 || add_str(k, "seq", seq) == -1 ||
	    add_u64(k, "subseq", subseq) == -1 ||
	    (!ok && kdc_buf_adds(&k->out, ",\"ok\":false") == -1) ||
	    end_line(k, NULL) == -1)
		return line_failed(k, mark, NULL);
	kdc_try_write(k);
	return KINESISD_OK;
}

static int
ack_record(struct kinesisd *k, const struct kinesisd_event *rec, int ok)
{
	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if (rec == NULL || rec->type != KINESISD_EV_RECORD)
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "only a record event can be acked");
	/* A record of a connection that is gone comes again: drop it. */
	if (rec->conn_gen != k->gen || k->fd == -1 || k->lost)
		return KINESISD_OK;
	return kinesisd_ack_at(
	    k, rec->consumer, rec->shard, rec->seq, rec->subseq, ok);
}

int
kinesisd_ack(struct kinesisd *k, const struct kinesisd_event *rec)
{
	return ack_record(k, rec, 1);
}

int
kinesisd_skip(struct kinesisd *k, const struct kinesisd_event *rec)
{
	return ack_record(k, rec, 0);
}
