/*
 * track.c — the consumer's pure parts: no I/O, no clock, no event loop.
 * See consumer_int.h; tests/unit/test_consumer.c checks each of them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer_int.h"
#include "lease/lease.h"

/* ---- sequence numbers ---------------------------------------------------- */

int
consumer_rec_cmp(
    const char *seq_a, uint64_t sub_a, const char *seq_b, uint64_t sub_b)
{
	int c = lease_seq_cmp(seq_a, seq_b);

	if (c != 0)
		return c;
	return (sub_a > sub_b) - (sub_a < sub_b);
}

int
consumer_resume_keep(
    const char *seq, uint64_t subseq, const char *cp_seq, uint64_t cp_subseq)
{
	return consumer_rec_cmp(seq, subseq, cp_seq, cp_subseq) > 0;
}

static int
is_decimal(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static void
start_initial(enum conf_initial_position pos, int has_parents,
    const char *initial_seq, int64_t initial_ts_ms, struct consumer_start *out)
{
	switch (pos) {
	case CONF_POS_LATEST:
		out->type = KINESIS_ITER_LATEST;
		break;
	case CONF_POS_AT_TIMESTAMP:
		out->type = KINESIS_ITER_AT_TIMESTAMP;
		out->timestamp_ms = initial_ts_ms;
		break;
	case CONF_POS_AT_SEQUENCE_NUMBER:
	case CONF_POS_AFTER_SEQUENCE_NUMBER:
		/* A sequence number names a record of one shard of the
		 * stream: a child of a reshard cannot hold it. */
		if (!has_parents && is_decimal(initial_seq)) {
			out->type = pos == CONF_POS_AT_SEQUENCE_NUMBER
			                ? KINESIS_ITER_AT_SEQUENCE_NUMBER
			                : KINESIS_ITER_AFTER_SEQUENCE_NUMBER;
			out->seq = initial_seq;
			out->from_initial_seq = 1;
			break;
		}
		out->type = KINESIS_ITER_TRIM_HORIZON;
		break;
	case CONF_POS_TRIM_HORIZON:
	default:
		out->type = KINESIS_ITER_TRIM_HORIZON;
		break;
	}
}

int
consumer_start_pick(const char *checkpoint, uint64_t checkpoint_subseq,
    int has_parents, enum conf_initial_position pos, const char *initial_seq,
    int64_t initial_ts_ms, struct consumer_start *out)
{
	memset(out, 0, sizeof(*out));
	if (checkpoint == NULL || *checkpoint == '\0') {
		start_initial(
		    pos, has_parents, initial_seq, initial_ts_ms, out);
		return 0;
	}
	if (is_decimal(checkpoint)) {
		out->type = KINESIS_ITER_AT_SEQUENCE_NUMBER;
		out->seq = checkpoint;
		out->filter = 1;
		out->filter_subseq = checkpoint_subseq;
		return 0;
	}
	if (strcmp(checkpoint, "SHARD_END") == 0) {
		out->ended = 1;
		return 0;
	}
	if (strcmp(checkpoint, "TRIM_HORIZON") == 0) {
		/* The lease manager writes TRIM_HORIZON for AT_/AFTER_
		 * SEQUENCE_NUMBER consumers too (the table has no sentinel
		 * for them): only the configuration can tell. */
		if (pos == CONF_POS_AT_SEQUENCE_NUMBER ||
		    pos == CONF_POS_AFTER_SEQUENCE_NUMBER)
			start_initial(
			    pos, has_parents, initial_seq, initial_ts_ms, out);
		else
			out->type = KINESIS_ITER_TRIM_HORIZON;
		return 0;
	}
	if (strcmp(checkpoint, "LATEST") == 0) {
		out->type = KINESIS_ITER_LATEST;
		return 0;
	}
	if (strcmp(checkpoint, "AT_TIMESTAMP") == 0) {
		out->type = KINESIS_ITER_AT_TIMESTAMP;
		out->timestamp_ms = initial_ts_ms;
		return 0;
	}
	return -1;
}

uint64_t
consumer_fetch_delay(
    uint64_t now_ms, uint64_t last_call_ms, size_t got, uint64_t idle_ms)
{
	uint64_t gap = got == 0 && idle_ms > CONSUMER_MIN_CALL_INTERVAL_MS
	                   ? idle_ms
	                   : CONSUMER_MIN_CALL_INTERVAL_MS;
	uint64_t due = last_call_ms + gap;

	return due > now_ms ? due - now_ms : 0;
}

/* ---- the failure tolerance and balancing --------------------------------- */

size_t
consumer_tolerance_allowed(size_t total, double pct)
{
	double allowed;

	if (!(pct > 0))
		return 0;
	/* The small epsilon keeps 0.25% of 400 at 1, not 0.99999. */
	allowed = floor((double)total * pct / 100.0 + 1e-9);
	if (allowed >= (double)total)
		return total;
	return (size_t)allowed;
}

int
consumer_tolerance_ok(size_t total, size_t unconfirmed, double pct)
{
	return unconfirmed <= consumer_tolerance_allowed(total, pct);
}

ssize_t
consumer_balance_pick(const size_t *loads, size_t n)
{
	ssize_t best = -1;

	for (size_t i = 0; i < n; i++)
		if (best == -1 || loads[i] < loads[best])
			best = (ssize_t)i;
	return best;
}

int
consumer_balance_move(const size_t *loads, size_t n, size_t *from, size_t *to)
{
	size_t hi = 0, lo = 0;

	if (n < 2)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (loads[i] > loads[hi])
			hi = i;
		if (loads[i] < loads[lo])
			lo = i;
	}
	if (loads[hi] <= loads[lo] + 1)
		return 0;
	*from = hi;
	*to = lo;
	return 1;
}

/* ---- batches ------------------------------------------------------------- */

#define CHUNK_SIZE (64 * 1024)

struct consumer_chunk {
	struct consumer_chunk *next;
	size_t used, cap;
	char mem[];
};

struct consumer_batch *
consumer_batch_new(void)
{
	return calloc(1, sizeof(struct consumer_batch));
}

void
consumer_batch_free(struct consumer_batch *b)
{
	struct consumer_chunk *c;

	if (b == NULL)
		return;
	while ((c = b->chunks) != NULL) {
		b->chunks = c->next;
		free(c);
	}
	free(b->recs);
	free(b);
}

/* n bytes from the batch's arena (records' bytes need no alignment). */
static char *
batch_alloc(struct consumer_batch *b, size_t n)
{
	struct consumer_chunk *c = b->chunks;
	char *p;

	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = b->chunks;
		b->chunks = c;
		b->bytes += sizeof(*c) + cap;
	}
	p = c->mem + c->used;
	c->used += n;
	return p;
}

static char *
batch_strndup(struct consumer_batch *b, const void *s, size_t len)
{
	char *p = batch_alloc(b, len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

int
consumer_batch_add(struct consumer_batch *b, const char *seq, uint64_t subseq,
    const void *key, size_t key_len, const void *ehk, size_t ehk_len,
    const void *data, size_t len, int64_t ts)
{
	struct consumer_rec r = {0};

	if (b->n == b->cap) {
		size_t cap = b->cap > 0 ? b->cap * 2 : 64;
		struct consumer_rec *v = realloc(b->recs, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		b->bytes += (cap - b->cap) * sizeof(*v);
		b->recs = v;
		b->cap = cap;
	}
	/* The records of one aggregate share their Kinesis record's seq.  A
	 * failed add may leave some arena bytes unused: harmless. */
	if (b->n > 0 && strcmp(b->recs[b->n - 1].seq, seq) == 0)
		r.seq = b->recs[b->n - 1].seq;
	else if ((r.seq = batch_strndup(b, seq, strlen(seq))) == NULL)
		return -1;
	if ((r.key = batch_strndup(b, key, key_len)) == NULL ||
	    (ehk != NULL && (r.ehk = batch_strndup(b, ehk, ehk_len)) == NULL) ||
	    (r.data = (const unsigned char *)batch_alloc(b, len)) == NULL)
		return -1;
	memcpy((unsigned char *)r.data, data, len);
	r.len = len;
	r.subseq = subseq;
	r.ts = ts;
	r.state = CONSUMER_REC_NEW;
	b->recs[b->n++] = r;
	return 0;
}

ssize_t
consumer_batch_find(
    const struct consumer_batch *b, const char *seq, uint64_t subseq)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = consumer_rec_cmp(
		    b->recs[mid].seq, b->recs[mid].subseq, seq, subseq);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int
consumer_batch_next(struct consumer_batch *b, size_t *i)
{
	while (b->cursor < b->n && b->recs[b->cursor].state != CONSUMER_REC_NEW)
		b->cursor++;
	if (b->cursor == b->n)
		return 0;
	*i = b->cursor++;
	b->recs[*i].state = CONSUMER_REC_SENT;
	b->recs[*i].sends++;
	b->n_sent++;
	return 1;
}

int
consumer_batch_ack(struct consumer_batch *b, size_t i, int ok, int *was_sent)
{
	struct consumer_rec *r = &b->recs[i];

	*was_sent = 0;
	if (r->state == CONSUMER_REC_DONE)
		return 0;
	if (r->state == CONSUMER_REC_SENT) {
		b->n_sent--;
		*was_sent = 1;
	}
	r->state = CONSUMER_REC_DONE;
	r->skipped = !ok;
	b->n_done++;
	while (
	    b->prefix < b->n && b->recs[b->prefix].state == CONSUMER_REC_DONE)
		b->prefix++;
	return 1;
}

size_t
consumer_batch_requeue(struct consumer_batch *b)
{
	size_t n = 0, first = b->n;

	for (size_t i = b->prefix; i < b->n && n < b->n_sent; i++) {
		if (b->recs[i].state != CONSUMER_REC_SENT)
			continue;
		b->recs[i].state = CONSUMER_REC_NEW;
		if (first == b->n)
			first = i;
		n++;
	}
	b->n_sent -= n;
	if (first < b->cursor)
		b->cursor = first;
	return n;
}

const struct consumer_rec *
consumer_batch_checkpoint(const struct consumer_batch *b)
{
	return b->prefix > 0 ? &b->recs[b->prefix - 1] : NULL;
}

int
consumer_batch_complete(const struct consumer_batch *b)
{
	return b->n_done == b->n;
}
