/*
 * deagg.c — splitting a KPL aggregate into its user records.  See kpl.h.
 *
 * The input is whatever a stream holds, so it is treated as hostile: every
 * length is checked against what is left of the buffer before it is used,
 * varints stop at 10 bytes and 64 bits, and the whole protobuf is
 * validated before the first record is yielded, so a caller never sees
 * half an aggregate and then learns it was a plain record after all.
 *
 * What counts as valid follows protobuf-java, which the KCL uses: fields
 * may come in any order, unknown fields are skipped by wire type, a field
 * whose wire type does not match the schema is an unknown field, the last
 * of a repeated scalar wins, and a missing required field (also inside a
 * Tag) fails the parse.  Groups are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "kpl/kpl.h"
#include "kpl/wire.h"

struct span {
	const uint8_t *p;
	size_t len;
};

/* The two tables, resolved once so each record's lookup is O(1). */
struct kpl_deagg_tab {
	size_t npk, nehk;
	struct span *pk, *ehk; /* point into s[] */
	struct span s[];
};

/* One field as read off the wire. */
struct pb_field {
	uint32_t key;     /* field number << 3 | wire type */
	uint64_t num;     /* WIRE_VARINT */
	const uint8_t *p; /* WIRE_LEN: the value's bytes */
	size_t len;
};

struct pb_rec {
	int has_pk, has_ehk, has_data;
	uint64_t pk, ehk;
	const uint8_t *data;
	size_t data_len;
};

static int
pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;

	for (int i = 0; i < VARINT_MAX; i++) {
		uint8_t b;

		if (p == end)
			return -1;
		b = *p++;
		/* The tenth byte holds bit 63 only; more would overflow. */
		if (i == VARINT_MAX - 1 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* Reads one field at *pp and moves *pp past it; -1 when malformed. */
static int
pb_next(const uint8_t **pp, const uint8_t *end, struct pb_field *f)
{
	const uint8_t *p = *pp;
	uint64_t key, n;

	/* Field numbers are 1 .. 2^29-1: the key fits 32 bits. */
	if (pb_varint(&p, end, &key) != 0 || key > UINT32_MAX ||
	    (key >> 3) == 0)
		return -1;
	f->key = (uint32_t)key;
	switch (key & 7) {
	case WIRE_VARINT:
		if (pb_varint(&p, end, &f->num) != 0)
			return -1;
		break;
	case WIRE_FIXED64:
		if (end - p < 8)
			return -1;
		p += 8;
		break;
	case WIRE_FIXED32:
		if (end - p < 4)
			return -1;
		p += 4;
		break;
	case WIRE_LEN:
		if (pb_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
			return -1;
		f->p = p;
		f->len = (size_t)n;
		p += n;
		break;
	default: /* groups, deprecated and unused here, and wire types 6, 7 */
		return -1;
	}
	*pp = p;
	return 0;
}

/* A Tag: only checked to parse and to hold its required key. */
static int
pb_tag_check(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	struct pb_field f;
	int has_key = 0;

	while (p < end) {
		if (pb_next(&p, end, &f) != 0)
			return -1;
		if (f.key == WIRE_KEY(1, WIRE_LEN))
			has_key = 1;
	}
	return has_key ? 0 : -1;
}

static int
pb_record(const uint8_t *p, size_t len, struct pb_rec *r)
{
	const uint8_t *end = p + len;
	struct pb_field f;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		if (pb_next(&p, end, &f) != 0)
			return -1;
		switch (f.key) {
		case KEY_REC_PK_INDEX:
			r->pk = f.num;
			r->has_pk = 1;
			break;
		case KEY_REC_EHK_INDEX:
			r->ehk = f.num;
			r->has_ehk = 1;
			break;
		case KEY_REC_DATA:
			r->data = f.p;
			r->data_len = f.len;
			r->has_data = 1;
			break;
		case KEY_REC_TAG:
			if (pb_tag_check(f.p, f.len) != 0)
				return -1;
			break;
		default:
			break;
		}
	}
	return r->has_pk && r->has_data ? 0 : -1;
}

/*
 * First pass: the message parses to its end, records are complete, and
 * their indexes are within tables whose sizes are only known at the end
 * (a writer may put tables after records).
 */
static int
deagg_validate(const uint8_t *p, const uint8_t *end, size_t *npk, size_t *nehk,
    uint64_t *nrec)
{
	struct pb_field f;
	struct pb_rec r;
	uint64_t max_pk = 0, max_ehk = 0;
	int any_ehk = 0;

	*npk = *nehk = 0;
	*nrec = 0;
	while (p < end) {
		if (pb_next(&p, end, &f) != 0)
			return -1;
		switch (f.key) {
		case KEY_PK_TABLE:
			(*npk)++;
			break;
		case KEY_EHK_TABLE:
			(*nehk)++;
			break;
		case KEY_RECORD:
			if (pb_record(f.p, f.len, &r) != 0)
				return -1;
			if (r.pk > max_pk)
				max_pk = r.pk;
			if (r.has_ehk) {
				any_ehk = 1;
				if (r.ehk > max_ehk)
					max_ehk = r.ehk;
			}
			(*nrec)++;
			break;
		default:
			break;
		}
	}
	if (*nrec > 0 && max_pk >= *npk)
		return -1;
	if (any_ehk && max_ehk >= *nehk)
		return -1;
	return 0;
}

enum kpl_err
kpl_deagg_open(struct kpl_deagg *it, const void *buf, size_t len)
{
	const uint8_t *b = buf, *pb, *end, *p;
	uint8_t md[KPL_MD5_LEN];
	struct kpl_deagg_tab *tab = NULL;
	struct pb_field f;
	size_t npk, nehk, ipk = 0, iehk = 0;
	uint64_t nrec;
	enum kpl_err err;

	memset(it, 0, sizeof(*it));
	if (buf == NULL || len < KPL_MAGIC_LEN + KPL_MD5_LEN ||
	    memcmp(b, kpl_magic, KPL_MAGIC_LEN) != 0)
		return KPL_ERR_NOT_AGG;
	pb = b + KPL_MAGIC_LEN;
	end = b + len - KPL_MD5_LEN;

	/* Parse before hashing: garbage is refused without reading it all. */
	if (deagg_validate(pb, end, &npk, &nehk, &nrec) != 0)
		return KPL_ERR_NOT_AGG;
	if ((err = kpl_md5(NULL, pb, (size_t)(end - pb), md)) != KPL_OK)
		return err;
	if (memcmp(md, end, KPL_MD5_LEN) != 0)
		return KPL_ERR_NOT_AGG;

	/* Each entry took at least 2 bytes of buf: no overflow here. */
	if ((tab = malloc(sizeof(*tab) + (npk + nehk) * sizeof(tab->s[0]))) ==
	    NULL)
		return KPL_ERR_NOMEM;
	tab->npk = npk;
	tab->nehk = nehk;
	tab->pk = tab->s;
	tab->ehk = tab->s + npk;
	for (p = pb; p < end && pb_next(&p, end, &f) == 0;) {
		if (f.key == KEY_PK_TABLE && ipk < npk)
			tab->pk[ipk++] = (struct span){f.p, f.len};
		else if (f.key == KEY_EHK_TABLE && iehk < nehk)
			tab->ehk[iehk++] = (struct span){f.p, f.len};
	}

	it->pos = pb;
	it->end = end;
	it->next = 0;
	it->count = nrec;
	it->tab = tab;
	return KPL_OK;
}

uint64_t
kpl_deagg_count(const struct kpl_deagg *it)
{
	return it->count;
}

int
kpl_deagg_next(struct kpl_deagg *it, struct kpl_record *out)
{
	const struct kpl_deagg_tab *tab = it->tab;
	struct pb_field f;
	struct pb_rec r;

	while (tab != NULL && it->next < it->count && it->pos < it->end) {
		if (pb_next(&it->pos, it->end, &f) != 0)
			break;
		if (f.key != KEY_RECORD)
			continue;
		/* _open checked all this; checked again so a bug cannot
		 * turn into a read out of bounds. */
		if (pb_record(f.p, f.len, &r) != 0 || r.pk >= tab->npk ||
		    (r.has_ehk && r.ehk >= tab->nehk))
			break;
		out->index = it->next++;
		out->key = tab->pk[r.pk].p;
		out->key_len = tab->pk[r.pk].len;
		out->ehk = NULL;
		out->ehk_len = 0;
		if (r.has_ehk) {
			out->ehk = tab->ehk[r.ehk].p;
			out->ehk_len = tab->ehk[r.ehk].len;
		}
		out->data = r.data;
		out->data_len = r.data_len;
		return 1;
	}
	it->pos = it->end;
	return 0;
}

void
kpl_deagg_close(struct kpl_deagg *it)
{
	free(it->tab);
	memset(it, 0, sizeof(*it));
}
