/*
 * hash.c — the shard hash key: MD5 of the partition key, and explicit hash
 * keys in decimal.  See kpl.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "kpl/kpl.h"
#include "kpl/wire.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "kpl needs OpenSSL 3 (EVP_MD_fetch)"
#endif

const uint8_t kpl_magic[KPL_MAGIC_LEN] = {0xf3, 0x89, 0x9a, 0xc2};

struct kpl_hasher {
	EVP_MD *md; /* fetched once: EVP_md5() would be looked up per call */
	EVP_MD_CTX *ctx;
};

const char *
kpl_strerror(enum kpl_err err)
{
	switch (err) {
	case KPL_OK:
		return "ok";
	case KPL_ERR_NOMEM:
		return "out of memory";
	case KPL_ERR_CRYPTO:
		return "MD5 unavailable from libcrypto";
	case KPL_ERR_INVAL:
		return "invalid argument";
	case KPL_ERR_SYNTAX:
		return "not a decimal hash key";
	case KPL_ERR_RANGE:
		return "hash key out of range";
	case KPL_ERR_FULL:
		return "aggregate full";
	case KPL_ERR_TOO_BIG:
		return "record too big to aggregate";
	case KPL_ERR_NOT_AGG:
		return "not an aggregate";
	}
	return "unknown error";
}

struct kpl_hasher *
kpl_hasher_new(void)
{
	struct kpl_hasher *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->md = EVP_MD_fetch(NULL, "MD5", NULL)) == NULL)
		goto fail;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	return h;
fail:
	kpl_hasher_free(h);
	return NULL;
}

void
kpl_hasher_free(struct kpl_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

enum kpl_err
kpl_md5(
    struct kpl_hasher *h, const void *buf, size_t len, uint8_t out[KPL_MD5_LEN])
{
	/* libcrypto wants a valid pointer even for zero bytes. */
	static const uint8_t none;

	if (len == 0)
		buf = &none;
	if (h == NULL)
		return EVP_Digest(buf, len, out, NULL, EVP_md5(), NULL) == 1
		           ? KPL_OK
		           : KPL_ERR_CRYPTO;
	if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, buf, len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, out, NULL) != 1)
		return KPL_ERR_CRYPTO;
	return KPL_OK;
}

static uint64_t
load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

enum kpl_err
kpl_hash_key(
    struct kpl_hasher *h, const void *key, size_t len, struct kpl_hash *out)
{
	uint8_t md[KPL_MD5_LEN];
	enum kpl_err err;

	if ((err = kpl_md5(h, key, len, md)) != KPL_OK)
		return err;
	out->hi = load_be64(md);
	out->lo = load_be64(md + 8);
	return KPL_OK;
}

int
kpl_hash_cmp(struct kpl_hash a, struct kpl_hash b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

/*
 * Decimal conversion works on four 32-bit limbs, most significant first,
 * so every step fits in uint64_t and no compiler extension is needed.
 */
static void
limbs_from_hash(struct kpl_hash h, uint32_t l[4])
{
	l[0] = (uint32_t)(h.hi >> 32);
	l[1] = (uint32_t)h.hi;
	l[2] = (uint32_t)(h.lo >> 32);
	l[3] = (uint32_t)h.lo;
}

enum kpl_err
kpl_hash_parse(
    const char *s, size_t len, struct kpl_hash *out, const char **cause)
{
	uint32_t l[4] = {0, 0, 0, 0};
	const char *why;
	enum kpl_err err = KPL_ERR_SYNTAX;

	if (len == 0) {
		why = "must not be empty";
		goto fail;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			why = "must be decimal digits only (no sign, space or "
			      "other character)";
			goto fail;
		}
	}
	/* Kinesis refuses "007": refuse it here, with a clearer message. */
	if (s[0] == '0' && len > 1) {
		why = "must not have leading zeros";
		goto fail;
	}
	err = KPL_ERR_RANGE;
	why = "must be below 2^128 "
	      "(340282366920938463463374607431768211456)";
	/* 10^39 > 2^128: more digits cannot fit, however the loop fares. */
	if (len > 39)
		goto fail;
	for (size_t i = 0; i < len; i++) {
		uint64_t carry = (uint64_t)(s[i] - '0');

		for (int k = 3; k >= 0; k--) {
			uint64_t v = (uint64_t)l[k] * 10 + carry;

			l[k] = (uint32_t)v;
			carry = v >> 32;
		}
		if (carry != 0)
			goto fail;
	}
	out->hi = (uint64_t)l[0] << 32 | l[1];
	out->lo = (uint64_t)l[2] << 32 | l[3];
	return KPL_OK;
fail:
	if (cause != NULL)
		*cause = why;
	return err;
}

size_t
kpl_hash_format(struct kpl_hash h, char *buf)
{
	/* Nine digits at a time: 10^9 < 2^32, so each division is exact. */
	const uint32_t base = 1000000000;
	uint32_t l[4], chunk[5];
	size_t nchunk = 0, n;

	limbs_from_hash(h, l);
	do {
		uint64_t rem = 0;

		for (int k = 0; k < 4; k++) {
			uint64_t v = rem << 32 | l[k];

			l[k] = (uint32_t)(v / base);
			rem = v % base;
		}
		chunk[nchunk++] = (uint32_t)rem;
	} while ((l[0] | l[1] | l[2] | l[3]) != 0);

	/* The top chunk without padding, the others as nine digits each. */
	n = 0;
	for (size_t c = nchunk; c-- > 0;) {
		char tmp[9];
		int w = 0;
		uint32_t v = chunk[c];

		do {
			tmp[w++] = (char)('0' + v % 10);
			v /= 10;
		} while (v != 0);
		if (c != nchunk - 1)
			while (w < 9)
				tmp[w++] = '0';
		while (w > 0)
			buf[n++] = tmp[--w];
	}
	buf[n] = '\0';
	return n;
}
