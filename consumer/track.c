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

/* ---- the fetch budget ---------------------------------------------------- */

int
consumer_fetch_allowed(size_t held, unsigned calls)
{
	return calls < CONSUMER_MAX_FETCHES && held < CONSUMER_FETCH_BUDGET;
}

/* ---- batches ------------------------------------------------------------- */

/* Rounds up to a multiple of 8 so that the arrays after it stay aligned. */
static int
batch_align(size_t *n)
{
	if (*n > SIZE_MAX - 7)
		return -1;
	*n = (*n + 7) & ~(size_t)7;
	return 0;
}

struct consumer_batch *
consumer_batch_new(size_t n_kin, size_t n_recs, size_t arena)
{
	size_t head = sizeof(struct consumer_batch), kin_bytes, rec_bytes;
	size_t total;
	struct consumer_batch *b;
	char *p;

	/* Offsets and indexes are 32-bit: a batch is one GetRecords, at
	 * most 10 MiB and 10,000 Kinesis records from Kinesis itself. */
	if (n_kin >= UINT32_MAX || n_recs >= UINT32_MAX || arena >= UINT32_MAX)
		return NULL;
	kin_bytes = n_kin * sizeof(struct consumer_kin);
	rec_bytes = n_recs * sizeof(struct consumer_rec);
	if (batch_align(&head) == -1 || batch_align(&kin_bytes) == -1 ||
	    batch_align(&rec_bytes) == -1)
		return NULL;
	total = head + kin_bytes + rec_bytes + arena;
	if ((p = malloc(total > 0 ? total : 1)) == NULL)
		return NULL;
	b = (struct consumer_batch *)(void *)p;
	memset(b, 0, sizeof(*b));
	b->kin = (struct consumer_kin *)(void *)(p + head);
	b->recs = (struct consumer_rec *)(void *)(p + head + kin_bytes);
	b->arena = p + head + kin_bytes + rec_bytes;
	b->cap_kin = n_kin;
	b->cap = n_recs;
	b->arena_cap = arena;
	b->bytes = total;
	return b;
}

void
consumer_batch_free(struct consumer_batch *b)
{
	free(b);
}

const char *
consumer_batch_copy(struct consumer_batch *b, const void *src, size_t len)
{
	char *p;

	if (b->arena_cap - b->used < len)
		return NULL;
	p = b->arena + b->used;
	if (len > 0)
		memcpy(p, src, len);
	b->used += len;
	return p;
}

int
consumer_batch_add_kin(struct consumer_batch *b, const char *seq, int64_t ts)
{
	size_t len = strlen(seq);
	struct consumer_kin *k;
	const char *copy;

	if (b->n_kin == b->cap_kin ||
	    (copy = consumer_batch_copy(b, seq, len + 1)) == NULL)
		return -1;
	k = &b->kin[b->n_kin++];
	k->seq = copy;
	k->seq_len = len;
	k->ts = ts;
	k->sub0 = 0;
	k->first = (uint32_t)b->n;
	k->n = 0;
	return 0;
}

/* p[0..len) within the arena as an offset, or -1. */
static int
batch_offset(
    const struct consumer_batch *b, const char *p, size_t len, uint32_t *off)
{
	if (p < b->arena || (size_t)(p - b->arena) > b->used ||
	    len > b->used - (size_t)(p - b->arena))
		return -1;
	*off = (uint32_t)(p - b->arena);
	return 0;
}

int
consumer_batch_add(struct consumer_batch *b, uint64_t subseq, const char *key,
    size_t key_len, const char *ehk, size_t ehk_len, const char *data,
    size_t len)
{
	struct consumer_rec *r;
	struct consumer_kin *k;

	if (b->n_kin == 0 || b->n == b->cap)
		return -1;
	k = &b->kin[b->n_kin - 1];
	/* Consecutive subseqs are what make a lookup O(1): index = first +
	 * subseq - sub0. */
	if (k->n > 0 && subseq != k->sub0 + k->n)
		return -1;
	r = &b->recs[b->n];
	memset(r, 0, sizeof(*r));
	if (batch_offset(b, key, key_len, &r->key) == -1 ||
	    batch_offset(b, data, len, &r->data) == -1)
		return -1;
	r->key_len = (uint32_t)key_len;
	r->len = (uint32_t)len;
	r->ehk = CONSUMER_NO_EHK;
	if (ehk != NULL) {
		if (batch_offset(b, ehk, ehk_len, &r->ehk) == -1)
			return -1;
		r->ehk_len = (uint32_t)ehk_len;
	}
	r->kin = (uint32_t)(b->n_kin - 1);
	r->state = CONSUMER_REC_NEW;
	if (k->n == 0)
		k->sub0 = subseq;
	k->n++;
	b->n++;
	return 0;
}

const char *
consumer_batch_seq(const struct consumer_batch *b, size_t i)
{
	return b->kin[b->recs[i].kin].seq;
}

uint64_t
consumer_batch_subseq(const struct consumer_batch *b, size_t i)
{
	const struct consumer_kin *k = &b->kin[b->recs[i].kin];

	return k->sub0 + (i - k->first);
}

int64_t
consumer_batch_ts(const struct consumer_batch *b, size_t i)
{
	return b->kin[b->recs[i].kin].ts;
}

/* The index of (seq, subseq) inside Kinesis record k, or -1. */
static ssize_t
batch_in_kin(const struct consumer_kin *k, uint64_t subseq)
{
	if (subseq < k->sub0 || subseq - k->sub0 >= k->n)
		return -1;
	return (ssize_t)(k->first + (subseq - k->sub0));
}

ssize_t
consumer_batch_find(struct consumer_batch *b, const char *seq, uint64_t subseq)
{
	size_t lo = 0, hi = b->n_kin;

	/* Acks come mostly in order: the Kinesis record of the last one
	 * first, then a binary search over the Kinesis records (not the
	 * user records). */
	if (b->hint < b->n_kin && strcmp(b->kin[b->hint].seq, seq) == 0)
		return batch_in_kin(&b->kin[b->hint], subseq);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = lease_seq_cmp(b->kin[mid].seq, seq);
		if (c == 0) {
			b->hint = mid;
			return batch_in_kin(&b->kin[mid], subseq);
		}
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
	/* Only "sent before" matters (redelivered or not): saturating keeps
	 * the record at 32 bytes. */
	if (b->recs[*i].sends < UINT16_MAX)
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

ssize_t
consumer_batch_checkpoint(const struct consumer_batch *b)
{
	return b->prefix > 0 ? (ssize_t)(b->prefix - 1) : -1;
}

int
consumer_batch_complete(const struct consumer_batch *b)
{
	return b->n_done == b->n;
}
