/*
 * wire.h — private to kpl/: the bytes the aggregate format is made of,
 * shared by the encoder (agg.c) and the decoder (deagg.c).
 */
#ifndef KD_KPL_WIRE_H
#define KD_KPL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "kpl/kpl.h"

#define KPL_MAGIC_LEN 4
#define KPL_MD5_LEN   16

extern const uint8_t kpl_magic[KPL_MAGIC_LEN];

/* Protobuf wire types used by the format. */
enum {
	WIRE_VARINT = 0,
	WIRE_FIXED64 = 1,
	WIRE_LEN = 2,
	WIRE_SGROUP = 3,
	WIRE_EGROUP = 4,
	WIRE_FIXED32 = 5,
};

#define WIRE_KEY(field, type) ((uint32_t)((field) << 3 | (type)))

/* AggregatedRecord fields. */
#define KEY_PK_TABLE  WIRE_KEY(1, WIRE_LEN)
#define KEY_EHK_TABLE WIRE_KEY(2, WIRE_LEN)
#define KEY_RECORD    WIRE_KEY(3, WIRE_LEN)
/* Record fields. */
#define KEY_REC_PK_INDEX  WIRE_KEY(1, WIRE_VARINT)
#define KEY_REC_EHK_INDEX WIRE_KEY(2, WIRE_VARINT)
#define KEY_REC_DATA      WIRE_KEY(3, WIRE_LEN)
#define KEY_REC_TAG       WIRE_KEY(4, WIRE_LEN)

/* A varint never takes more than 10 bytes (64 bits, 7 per byte). */
#define VARINT_MAX 10

static inline size_t
wire_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *
wire_varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*
 * MD5 of buf[0..len) into out, with h's context when h is not NULL.
 * KPL_OK or KPL_ERR_CRYPTO.  (hash.c)
 */
enum kpl_err kpl_md5(struct kpl_hasher *h, const void *buf, size_t len,
    uint8_t out[KPL_MD5_LEN]);

#endif
