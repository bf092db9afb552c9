/*
 * agg.c — the aggregate encoder.  See kpl.h.
 *
 * The producer calls kpl_agg_add once per user record, so the work is done
 * there, once: each record is encoded into its final protobuf bytes as it
 * arrives and its exact size is known before it is accepted.  The two key
 * tables are kept encoded too, with a hash index for de-duplication.
 * kpl_agg_finish is then three memcpy and one MD5, and kpl_agg_size is a
 * sum.  Protobuf order is tables first, then records (what protobuf
 * encoders, aws-kinesis-agg included, produce), hence three buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "kpl/kpl.h"
#include "kpl/wire.h"

#define NONE UINT32_MAX

/* One distinct string of a table: its bytes sit at buf + off. */
struct tab_ent {
	uint32_t off;
	uint32_t len;
	uint32_t hash;
};

/* partition_key_table or explicit_hash_key_table, encoded and indexed. */
struct strtab {
	uint8_t *buf; /* the repeated field as it goes on the wire */
	size_t len, cap;
	struct tab_ent *ent;
	size_t n, ent_cap;
	uint32_t *slot; /* open addressing: 0 empty, else entry index + 1 */
	size_t nslot;   /* a power of two, at least twice n */
	uint8_t field_key;
};

/* Where record i's data lies in rbuf, and its table indexes. */
struct agg_rec {
	uint32_t data_off;
	uint32_t data_len;
	uint32_t pk;
	uint32_t ehk; /* NONE when the record has no explicit hash key */
};

struct kpl_agg {
	size_t max_count, max_size;
	struct strtab pk, ehk;
	uint8_t *rbuf; /* the encoded records field, one entry per record */
	size_t rlen, rcap;
	struct agg_rec *rec;
	size_t nrec, rec_cap;
	struct kpl_hasher *md5;
};

/*
 * Returns p grown to hold at least need elements of size elem (then *cap
 * is updated), or NULL with p and *cap unchanged.  Doubling keeps adds
 * amortised O(1).
 */
static void *
grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t c = *cap ? *cap : first;
	void *n;

	if (need <= *cap)
		return p;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return NULL;
		c *= 2;
	}
	if (c > SIZE_MAX / elem)
		return NULL;
	if ((n = realloc(p, c * elem)) == NULL)
		return NULL;
	*cap = c;
	return n;
}

/*
 * A fast non-cryptographic hash for the de-duplication index: eight bytes
 * at a time, then a final mix so that the low bits (the slot) depend on
 * every input bit.
 */
static uint32_t
tab_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	if (n > 0)
		memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

static uint32_t
tab_find(const struct strtab *t, const uint8_t *s, size_t len, uint32_t hash)
{
	size_t mask, i;

	if (t->nslot == 0)
		return NONE;
	mask = t->nslot - 1;
	for (i = hash & mask; t->slot[i] != 0; i = (i + 1) & mask) {
		const struct tab_ent *e = &t->ent[t->slot[i] - 1];

		if (e->hash == hash && e->len == len &&
		    memcmp(t->buf + e->off, s, len) == 0)
			return t->slot[i] - 1;
	}
	return NONE;
}

static void
tab_slot_insert(uint32_t *slot, size_t nslot, uint32_t hash, uint32_t idx)
{
	size_t i, mask = nslot - 1;

	for (i = hash & mask; slot[i] != 0; i = (i + 1) & mask)
		;
	slot[i] = idx + 1;
}

/* Makes room for one more string of len bytes; changes no content. */
static enum kpl_err
tab_reserve(struct strtab *t, size_t len)
{
	void *p;

	if ((p = grow(t->buf, &t->cap, t->len + 1 + VARINT_MAX + len, 1,
	         256)) == NULL)
		return KPL_ERR_NOMEM;
	t->buf = p;
	if ((p = grow(t->ent, &t->ent_cap, t->n + 1, sizeof(*t->ent), 16)) ==
	    NULL)
		return KPL_ERR_NOMEM;
	t->ent = p;
	if ((t->n + 1) * 2 > t->nslot) {
		size_t nslot = t->nslot ? t->nslot * 2 : 32;
		uint32_t *slot;

		if ((slot = calloc(nslot, sizeof(*slot))) == NULL)
			return KPL_ERR_NOMEM;
		for (size_t i = 0; i < t->n; i++)
			tab_slot_insert(
			    slot, nslot, t->ent[i].hash, (uint32_t)i);
		free(t->slot);
		t->slot = slot;
		t->nslot = nslot;
	}
	return KPL_OK;
}

/* Appends a string tab_reserve made room for; returns its index. */
static uint32_t
tab_append(struct strtab *t, const uint8_t *s, size_t len, uint32_t hash)
{
	uint8_t *p = t->buf + t->len;
	uint32_t idx = (uint32_t)t->n;

	*p++ = t->field_key;
	p = wire_varint_put(p, len);
	memcpy(p, s, len);
	t->ent[idx].off = (uint32_t)(p - t->buf);
	t->ent[idx].len = (uint32_t)len;
	t->ent[idx].hash = hash;
	t->len = (size_t)(p - t->buf) + len;
	tab_slot_insert(t->slot, t->nslot, hash, idx);
	t->n++;
	return idx;
}

static void
tab_clear(struct strtab *t)
{
	t->len = 0;
	t->n = 0;
	if (t->slot != NULL)
		memset(t->slot, 0, t->nslot * sizeof(*t->slot));
}

static void
tab_free(struct strtab *t)
{
	free(t->buf);
	free(t->ent);
	free(t->slot);
}

/* Bytes one table entry of len bytes takes on the wire. */
static size_t
entry_size(size_t len)
{
	return 1 + wire_varint_size(len) + len;
}

/* Bytes of a Record's fields (inside its length prefix). */
static size_t
record_inner_size(uint64_t pk, uint64_t ehk, int has_ehk, size_t data_len)
{
	size_t n = 1 + wire_varint_size(pk) + entry_size(data_len);

	if (has_ehk)
		n += 1 + wire_varint_size(ehk);
	return n;
}

enum kpl_err
kpl_agg_new(size_t max_count, size_t max_size, struct kpl_agg **out)
{
	struct kpl_agg *a;

	if (max_count < 1 || max_size <= KPL_AGG_OVERHEAD ||
	    max_size > KPL_AGG_SIZE_LIMIT)
		return KPL_ERR_INVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return KPL_ERR_NOMEM;
	a->max_count = max_count;
	a->max_size = max_size;
	a->pk.field_key = KEY_PK_TABLE;
	a->ehk.field_key = KEY_EHK_TABLE;
	if ((a->md5 = kpl_hasher_new()) == NULL) {
		kpl_agg_free(a);
		/* Either is possible; a missing MD5 is the one to report. */
		return KPL_ERR_CRYPTO;
	}
	*out = a;
	return KPL_OK;
}

void
kpl_agg_free(struct kpl_agg *a)
{
	if (a == NULL)
		return;
	tab_free(&a->pk);
	tab_free(&a->ehk);
	free(a->rbuf);
	free(a->rec);
	kpl_hasher_free(a->md5);
	free(a);
}

size_t
kpl_agg_size(const struct kpl_agg *a)
{
	return KPL_AGG_OVERHEAD + a->pk.len + a->ehk.len + a->rlen;
}

size_t
kpl_agg_count(const struct kpl_agg *a)
{
	return a->nrec;
}

/* Would the record fit in an empty aggregate?  (Only asked on refusal.) */
static int
fits_alone(const struct kpl_agg *a, size_t key_len, int has_ehk, size_t ehk_len,
    size_t data_len)
{
	size_t inner = record_inner_size(0, 0, has_ehk, data_len);
	size_t n = KPL_AGG_OVERHEAD + entry_size(key_len) + 1 +
	           wire_varint_size(inner) + inner;

	if (has_ehk)
		n += entry_size(ehk_len);
	return n <= a->max_size;
}

enum kpl_err
kpl_agg_add(struct kpl_agg *a, const void *key, size_t key_len, const void *ehk,
    size_t ehk_len, const void *data, size_t data_len)
{
	const uint8_t *k = key_len ? key : (const uint8_t *)"";
	const uint8_t *e = ehk_len ? ehk : (const uint8_t *)"";
	const uint8_t *d = data_len ? data : (const uint8_t *)"";
	int has_ehk = ehk != NULL;
	uint32_t khash, ehash = 0, pk, ei = NONE;
	size_t add = 0, inner, rec_size;
	struct agg_rec *r;
	uint8_t *p;
	void *np;
	enum kpl_err err;

	/*
	 * Every length is at most max_size (<= 2^30) past this point, so the
	 * sums below cannot overflow.
	 */
	if (key_len > a->max_size || ehk_len > a->max_size ||
	    data_len > a->max_size)
		return KPL_ERR_TOO_BIG;

	khash = tab_hash(k, key_len);
	if ((pk = tab_find(&a->pk, k, key_len, khash)) == NONE) {
		pk = (uint32_t)a->pk.n;
		add += entry_size(key_len);
	}
	if (has_ehk) {
		ehash = tab_hash(e, ehk_len);
		if ((ei = tab_find(&a->ehk, e, ehk_len, ehash)) == NONE) {
			ei = (uint32_t)a->ehk.n;
			add += entry_size(ehk_len);
		}
	}
	inner = record_inner_size(pk, ei, has_ehk, data_len);
	rec_size = 1 + wire_varint_size(inner) + inner;
	add += rec_size;
	if (a->nrec >= a->max_count || add > a->max_size - kpl_agg_size(a))
		return fits_alone(a, key_len, has_ehk, ehk_len, data_len)
		           ? KPL_ERR_FULL
		           : KPL_ERR_TOO_BIG;

	/* Reserve everything first, so a failure leaves no trace. */
	if (pk == a->pk.n && (err = tab_reserve(&a->pk, key_len)) != KPL_OK)
		return err;
	if (has_ehk && ei == a->ehk.n &&
	    (err = tab_reserve(&a->ehk, ehk_len)) != KPL_OK)
		return err;
	if ((np = grow(a->rbuf, &a->rcap, a->rlen + rec_size, 1, 4096)) == NULL)
		return KPL_ERR_NOMEM;
	a->rbuf = np;
	if ((np = grow(a->rec, &a->rec_cap, a->nrec + 1, sizeof(*a->rec),
	         64)) == NULL)
		return KPL_ERR_NOMEM;
	a->rec = np;

	if (pk == a->pk.n)
		tab_append(&a->pk, k, key_len, khash);
	if (has_ehk && ei == a->ehk.n)
		tab_append(&a->ehk, e, ehk_len, ehash);

	p = a->rbuf + a->rlen;
	*p++ = KEY_RECORD;
	p = wire_varint_put(p, inner);
	*p++ = KEY_REC_PK_INDEX;
	p = wire_varint_put(p, pk);
	if (has_ehk) {
		*p++ = KEY_REC_EHK_INDEX;
		p = wire_varint_put(p, ei);
	}
	*p++ = KEY_REC_DATA;
	p = wire_varint_put(p, data_len);
	memcpy(p, d, data_len);

	r = &a->rec[a->nrec++];
	r->data_off = (uint32_t)(p - a->rbuf);
	r->data_len = (uint32_t)data_len;
	r->pk = pk;
	r->ehk = ei;
	a->rlen = (size_t)(p - a->rbuf) + data_len;
	return KPL_OK;
}

enum kpl_err
kpl_agg_record(const struct kpl_agg *a, size_t i, struct kpl_record *out)
{
	const struct agg_rec *r;
	const struct tab_ent *e;

	if (i >= a->nrec)
		return KPL_ERR_INVAL;
	r = &a->rec[i];
	e = &a->pk.ent[r->pk];
	out->index = i;
	out->key = a->pk.buf + e->off;
	out->key_len = e->len;
	out->ehk = NULL;
	out->ehk_len = 0;
	if (r->ehk != NONE) {
		e = &a->ehk.ent[r->ehk];
		out->ehk = a->ehk.buf + e->off;
		out->ehk_len = e->len;
	}
	out->data = a->rbuf + r->data_off;
	out->data_len = r->data_len;
	return KPL_OK;
}

enum kpl_err
kpl_agg_finish_into(struct kpl_agg *a, uint8_t *buf, size_t cap)
{
	size_t size = kpl_agg_size(a);
	uint8_t *p = buf;

	if (cap < size)
		return KPL_ERR_INVAL;
	memcpy(p, kpl_magic, KPL_MAGIC_LEN);
	p += KPL_MAGIC_LEN;
	if (a->pk.len > 0)
		memcpy(p, a->pk.buf, a->pk.len);
	p += a->pk.len;
	if (a->ehk.len > 0)
		memcpy(p, a->ehk.buf, a->ehk.len);
	p += a->ehk.len;
	if (a->rlen > 0)
		memcpy(p, a->rbuf, a->rlen);
	p += a->rlen;
	return kpl_md5(
	    a->md5, buf + KPL_MAGIC_LEN, (size_t)(p - buf) - KPL_MAGIC_LEN, p);
}

enum kpl_err
kpl_agg_finish(struct kpl_agg *a, uint8_t **out, size_t *len)
{
	size_t size = kpl_agg_size(a);
	uint8_t *buf;
	enum kpl_err err;

	if ((buf = malloc(size)) == NULL)
		return KPL_ERR_NOMEM;
	if ((err = kpl_agg_finish_into(a, buf, size)) != KPL_OK) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = size;
	return KPL_OK;
}

void
kpl_agg_reset(struct kpl_agg *a)
{
	tab_clear(&a->pk);
	tab_clear(&a->ehk);
	a->rlen = 0;
	a->nrec = 0;
}
