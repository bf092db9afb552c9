/*
 * test_kpl.c — kpl/: hash keys, the aggregate encoder and the
 * de-aggregator, checked against known MD5 values, against themselves,
 * against hostile input, and against aws-kinesis-agg (the reference Node
 * codec, driven through tests/kpl_agg_peer.js).  Run from the top of the
 * tree; the peer tests need `make deps` (node_modules).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kpl/kpl.h"

#define MIB (1024 * 1024)

static const uint8_t magic[4] = {0xf3, 0x89, 0x9a, 0xc2};

/* Deterministic randomness: every run tests the same inputs. */
static uint64_t rng_state;

static void
rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
}

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* ---- user record sets ---------------------------------------------------- */

struct urec {
	char *key;
	char *ehk; /* NULL: none */
	uint8_t *data;
	size_t len;
};

struct uset {
	struct urec *r;
	size_t n, cap;
};

static void
uset_add(struct uset *s, const char *key, const char *ehk, size_t len)
{
	struct urec *r;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		ck_assert_ptr_nonnull(s->r);
	}
	r = &s->r[s->n++];
	r->ehk = NULL;
	ck_assert_ptr_nonnull(r->key = strdup(key));
	ck_assert(ehk == NULL || (r->ehk = strdup(ehk)) != NULL);
	r->len = len;
	r->data = xmalloc(len);
	for (size_t i = 0; i < len; i++)
		r->data[i] = (uint8_t)rng();
}

static void
uset_free(struct uset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].key);
		free(s->r[i].ehk);
		free(s->r[i].data);
	}
	free(s->r);
	memset(s, 0, sizeof(*s));
}

static const char *const ehks[] = {
    "0",
    "340282366920938463463374607431768211455",
    "170141183460469231731687303715884105728",
};

/*
 * The sets every round trip runs over.  No integer-like partition key, and
 * "0" is the first explicit hash key: aws-kinesis-agg scrambles its tables
 * otherwise (see tests/kpl_agg_peer.js).
 */
enum { SET_BASIC, SET_MANY, SET_LARGE, NSETS };

static void
uset_make(struct uset *s, int which)
{
	char key[64];

	rng_seed(100 + (uint64_t)which);
	memset(s, 0, sizeof(*s));
	switch (which) {
	case SET_BASIC:
		uset_add(s, "alpha", NULL, 10);
		uset_add(s, "beta", ehks[0], 0);
		uset_add(s, "alpha", NULL, 1);
		uset_add(s, "ключ-é-日本-🎉", NULL, 33);
		uset_add(s, "gamma", ehks[1], 200);
		uset_add(s, "beta", ehks[2], 129);
		uset_add(s, "ключ-é-日本-🎉", ehks[1], 0);
		uset_add(s, "k", NULL, 16384);
		break;
	case SET_MANY:
		for (int i = 0; i < 1000; i++) {
			snprintf(
			    key, sizeof(key), "key-%c%d", 'a' + i % 26, i % 50);
			uset_add(s, key, i % 7 == 0 ? ehks[i % 3] : NULL,
			    (size_t)(rng() % 300));
		}
		break;
	case SET_LARGE:
		uset_add(s, "big-one", NULL, 1000000);
		uset_add(s, "small", NULL, 5);
		uset_add(s, "big-two", ehks[2], 600000);
		uset_add(s, "small", ehks[1], 0);
		break;
	}
}

static int
span_is(const uint8_t *p, size_t len, const char *want)
{
	if (want == NULL)
		return p == NULL;
	return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}

static int
urec_eq(const struct urec *u, const struct kpl_record *r)
{
	return span_is(r->key, r->key_len, u->key) &&
	       span_is(r->ehk, r->ehk_len, u->ehk) && r->data_len == u->len &&
	       (u->len == 0 || memcmp(r->data, u->data, u->len) == 0);
}

/* ---- blobs --------------------------------------------------------------- */

struct blob {
	uint8_t *p;
	size_t len;
};

struct blobs {
	struct blob *b;
	size_t n;
};

static void
blobs_push(struct blobs *bs, uint8_t *p, size_t len)
{
	bs->b = realloc(bs->b, (bs->n + 1) * sizeof(*bs->b));
	ck_assert_ptr_nonnull(bs->b);
	bs->b[bs->n].p = p;
	bs->b[bs->n].len = len;
	bs->n++;
}

static void
blobs_free(struct blobs *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		free(bs->b[i].p);
	free(bs->b);
	memset(bs, 0, sizeof(*bs));
}

static enum kpl_err
agg_add_urec(struct kpl_agg *a, const struct urec *u)
{
	return kpl_agg_add(a, u->key, strlen(u->key), u->ehk,
	    u->ehk ? strlen(u->ehk) : 0, u->data, u->len);
}

/* Aggregates a set as the producer will: a full aggregate is finished
 * and the record goes into the next one. */
static void
encode_set(const struct uset *s, size_t max_size, struct blobs *out)
{
	struct kpl_agg *a;
	uint8_t *p;
	size_t len;

	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(kpl_agg_new(UINT32_MAX, max_size, &a), KPL_OK);
	for (size_t i = 0; i < s->n; i++) {
		enum kpl_err err = agg_add_urec(a, &s->r[i]);

		if (err == KPL_ERR_FULL) {
			ck_assert_int_eq(kpl_agg_finish(a, &p, &len), KPL_OK);
			blobs_push(out, p, len);
			kpl_agg_reset(a);
			err = agg_add_urec(a, &s->r[i]);
		}
		ck_assert_int_eq(err, KPL_OK);
	}
	ck_assert_int_eq(kpl_agg_finish(a, &p, &len), KPL_OK);
	blobs_push(out, p, len);
	kpl_agg_free(a);
}

/* De-aggregates blobs in order; checks they hold exactly set s. */
static void
check_deagg_is_set(const struct blobs *bs, const struct uset *s)
{
	struct kpl_deagg it;
	struct kpl_record r;
	size_t at = 0;

	for (size_t b = 0; b < bs->n; b++) {
		uint64_t idx = 0;

		ck_assert_int_eq(
		    kpl_deagg_open(&it, bs->b[b].p, bs->b[b].len), KPL_OK);
		while (kpl_deagg_next(&it, &r)) {
			ck_assert_uint_lt(at, s->n);
			ck_assert_uint_eq(r.index, idx);
			ck_assert_msg(urec_eq(&s->r[at], &r),
			    "record %zu (blob %zu index %ju) differs", at, b,
			    (uintmax_t)idx);
			idx++;
			at++;
		}
		ck_assert_uint_eq(idx, kpl_deagg_count(&it));
		kpl_deagg_close(&it);
	}
	ck_assert_uint_eq(at, s->n);
}

/* magic + pb + MD5(pb), as any writer would produce it. */
static uint8_t *
wrap(const uint8_t *pb, size_t n, size_t *len)
{
	uint8_t *b = xmalloc(n + 20);

	memcpy(b, magic, 4);
	if (n > 0)
		memcpy(b + 4, pb, n);
	ck_assert_int_eq(
	    EVP_Digest(b + 4, n, b + 4 + n, NULL, EVP_md5(), NULL), 1);
	*len = n + 20;
	return b;
}

/* ---- hash keys ----------------------------------------------------------- */

static const struct {
	const char *key, *dec;
} md5_vectors[] = {
    {"", "281949768489412648962353822266799178366"},
    {"a", "16955237001963240173058271559858726497"},
    {"abc", "191415658344158766168031473277922803570"},
    {"message digest", "331535486309434048055371704012530344400"},
    {"partition-key-1", "33365116028791453877729010807000998774"},
    {"ключ", "259726384039714788407059515981389908711"},
};

START_TEST(test_hash_md5_vectors)
{
	struct kpl_hasher *h = kpl_hasher_new();
	char dec[KPL_HASH_DEC_SIZE];
	struct kpl_hash a, b;

	ck_assert_ptr_nonnull(h);
	for (size_t i = 0; i < sizeof(md5_vectors) / sizeof(*md5_vectors);
	     i++) {
		const char *k = md5_vectors[i].key;

		ck_assert_int_eq(kpl_hash_key(NULL, k, strlen(k), &a), KPL_OK);
		ck_assert_int_eq(kpl_hash_key(h, k, strlen(k), &b), KPL_OK);
		ck_assert_int_eq(kpl_hash_cmp(a, b), 0);
		kpl_hash_format(a, dec);
		ck_assert_str_eq(dec, md5_vectors[i].dec);
	}
	/* Big-endian: the digest's first byte is the top byte of hi. */
	ck_assert_int_eq(kpl_hash_key(h, NULL, 0, &a), KPL_OK);
	ck_assert_uint_eq(a.hi, 0xd41d8cd98f00b204ULL);
	ck_assert_uint_eq(a.lo, 0xe9800998ecf8427eULL);
	kpl_hasher_free(h);
	kpl_hasher_free(NULL);
}
END_TEST

START_TEST(test_hash_parse_accepts)
{
	static const struct {
		const char *s;
		uint64_t hi, lo;
	} ok[] = {
	    {"0", 0, 0},
	    {"1", 0, 1},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"18446744073709551616", 1, 0},
	    {"170141183460469231731687303715884105728", 1ULL << 63, 0},
	    {"340282366920938463463374607431768211455", UINT64_MAX, UINT64_MAX},
	};
	char dec[KPL_HASH_DEC_SIZE];
	struct kpl_hash h;

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		ck_assert_int_eq(
		    kpl_hash_parse(ok[i].s, strlen(ok[i].s), &h, NULL), KPL_OK);
		ck_assert_uint_eq(h.hi, ok[i].hi);
		ck_assert_uint_eq(h.lo, ok[i].lo);
		ck_assert_uint_eq(kpl_hash_format(h, dec), strlen(ok[i].s));
		ck_assert_str_eq(dec, ok[i].s);
	}
	/* Only len bytes are read: no NUL needed. */
	ck_assert_int_eq(kpl_hash_parse("12345", 2, &h, NULL), KPL_OK);
	ck_assert_uint_eq(h.lo, 12);
}
END_TEST

START_TEST(test_hash_parse_rejects)
{
	static const struct {
		const char *s;
		size_t len;
		enum kpl_err err;
	} bad[] = {
	    {"", 0, KPL_ERR_SYNTAX},
	    {"+1", 2, KPL_ERR_SYNTAX},
	    {"-1", 2, KPL_ERR_SYNTAX},
	    {" 1", 2, KPL_ERR_SYNTAX},
	    {"1 ", 2, KPL_ERR_SYNTAX},
	    {"12a4", 4, KPL_ERR_SYNTAX},
	    {"1\0", 2, KPL_ERR_SYNTAX},
	    {"0x10", 4, KPL_ERR_SYNTAX},
	    {"1e5", 3, KPL_ERR_SYNTAX},
	    {"01", 2, KPL_ERR_SYNTAX},
	    {"00", 2, KPL_ERR_SYNTAX},
	    /* 2^128 exactly, 2^128 + 1, 2^129, and 40 digits */
	    {"340282366920938463463374607431768211456", 39, KPL_ERR_RANGE},
	    {"340282366920938463463374607431768211457", 39, KPL_ERR_RANGE},
	    {"680564733841876926926749214863536422912", 39, KPL_ERR_RANGE},
	    {"999999999999999999999999999999999999999", 39, KPL_ERR_RANGE},
	    {"1000000000000000000000000000000000000000", 40, KPL_ERR_RANGE},
	};
	struct kpl_hash h = {7, 7};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *cause = NULL;

		ck_assert_msg(kpl_hash_parse(bad[i].s, bad[i].len, &h,
		                  &cause) == bad[i].err,
		    "'%s' (%zu bytes) not refused as expected", bad[i].s,
		    bad[i].len);
		ck_assert_ptr_nonnull(cause);
		ck_assert_uint_eq(h.hi, 7); /* untouched */
	}
	ck_assert_int_eq(kpl_hash_parse("", 0, &h, NULL), KPL_ERR_SYNTAX);
	ck_assert_str_eq(kpl_strerror(KPL_ERR_NOT_AGG), "not an aggregate");
}
END_TEST

START_TEST(test_hash_roundtrip_and_order)
{
	char da[KPL_HASH_DEC_SIZE], db[KPL_HASH_DEC_SIZE];
	struct kpl_hash a, b, back;

	rng_seed(1);
	for (int i = 0; i < 100000; i++) {
		/* Vary the magnitude so short and long numbers both occur. */
		int shift = (int)(rng() % 128);

		a.hi = rng();
		a.lo = rng();
		if (shift >= 64) {
			a.lo = a.hi >> (shift - 64);
			a.hi = 0;
		} else if (shift > 0) {
			a.lo = a.lo >> shift | a.hi << (64 - shift);
			a.hi >>= shift;
		}
		b.hi = i % 3 ? rng() : a.hi;
		b.lo = rng();
		kpl_hash_format(a, da);
		kpl_hash_format(b, db);
		ck_assert_int_eq(
		    kpl_hash_parse(da, strlen(da), &back, NULL), KPL_OK);
		ck_assert_int_eq(kpl_hash_cmp(a, back), 0);
		/* Canonical decimals order by length, then by digits. */
		int dcmp = strlen(da) != strlen(db)
		               ? (strlen(da) < strlen(db) ? -1 : 1)
		               : (strcmp(da, db) > 0) - (strcmp(da, db) < 0);
		ck_assert_int_eq(kpl_hash_cmp(a, b), dcmp);
	}
}
END_TEST

/* ---- encoder ------------------------------------------------------------- */

START_TEST(test_agg_limits_and_empty)
{
	struct kpl_agg *a = NULL;
	struct kpl_deagg it;
	struct kpl_record r;
	uint8_t *p, *want;
	size_t len, want_len;

	ck_assert_int_eq(kpl_agg_new(0, 1000, &a), KPL_ERR_INVAL);
	ck_assert_int_eq(kpl_agg_new(1, KPL_AGG_OVERHEAD, &a), KPL_ERR_INVAL);
	ck_assert_int_eq(
	    kpl_agg_new(1, KPL_AGG_SIZE_LIMIT + 1, &a), KPL_ERR_INVAL);
	ck_assert_ptr_null(a);
	kpl_agg_free(NULL);
	ck_assert_int_eq(kpl_agg_new(1, KPL_AGG_SIZE_LIMIT, &a), KPL_OK);
	ck_assert_uint_eq(kpl_agg_size(a), KPL_AGG_OVERHEAD);
	ck_assert_int_eq(kpl_agg_record(a, 0, &r), KPL_ERR_INVAL);
	/* Empty: the magic and MD5(""); valid with no user record, as for
	 * the KCL. */
	ck_assert_int_eq(kpl_agg_finish(a, &p, &len), KPL_OK);
	want = wrap(NULL, 0, &want_len);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(p, want, len);
	ck_assert_int_eq(kpl_deagg_open(&it, p, len), KPL_OK);
	ck_assert_uint_eq(kpl_deagg_count(&it), 0);
	ck_assert_int_eq(kpl_deagg_next(&it, &r), 0);
	kpl_deagg_close(&it);
	free(want);
	free(p);
	kpl_agg_free(a);
}
END_TEST

START_TEST(test_agg_size_accounting)
{
	struct kpl_agg *a;
	uint8_t *p;
	size_t len, before, first_add, again_add;
	char key[32];

	rng_seed(2);
	ck_assert_int_eq(kpl_agg_new(UINT32_MAX, 4 * MIB, &a), KPL_OK);
	for (int i = 0; i < 600; i++) {
		/* Lengths around every varint width change: 127/128, 16383/4.
		 */
		static const size_t lens[] = {
		    0, 1, 127, 128, 129, 16383, 16384, 300};
		size_t dlen = lens[rng() % 8];
		uint8_t *d = xmalloc(dlen);
		const char *e = rng() % 4 == 0 ? ehks[rng() % 3] : NULL;

		memset(d, i, dlen);
		snprintf(key, sizeof(key), "k%d", (int)(rng() % 200));
		ck_assert_int_eq(kpl_agg_add(a, key, strlen(key), e,
		                     e ? strlen(e) : 0, d, dlen),
		    KPL_OK);
		free(d);
		ck_assert_uint_eq(kpl_agg_count(a), (size_t)i + 1);
		if (i % 37 == 0 || i == 599) {
			ck_assert_int_eq(kpl_agg_finish(a, &p, &len), KPL_OK);
			ck_assert_uint_eq(len, kpl_agg_size(a));
			free(p);
		}
	}
	/* A repeated key costs only the record: the table is de-duplicated. */
	kpl_agg_reset(a);
	ck_assert_uint_eq(kpl_agg_size(a), KPL_AGG_OVERHEAD);
	before = kpl_agg_size(a);
	ck_assert_int_eq(kpl_agg_add(a, "same", 4, NULL, 0, "xy", 2), KPL_OK);
	first_add = kpl_agg_size(a) - before;
	before = kpl_agg_size(a);
	ck_assert_int_eq(kpl_agg_add(a, "same", 4, NULL, 0, "xy", 2), KPL_OK);
	again_add = kpl_agg_size(a) - before;
	ck_assert_uint_eq(first_add - again_add, 1 + 1 + 4); /* 0a 04 same */
	/* field key, length, then index (08 00) and data (1a 02 'x' 'y') */
	ck_assert_uint_eq(again_add, 1 + 1 + (2 + 4));
	kpl_agg_free(a);
}
END_TEST

static void
finish_copy(struct kpl_agg *a, struct blob *out)
{
	ck_assert_int_eq(kpl_agg_finish(a, &out->p, &out->len), KPL_OK);
}

START_TEST(test_agg_full_and_too_big)
{
	struct kpl_agg *a;
	struct blob b1, b2;
	uint8_t *big = xmalloc(2000);
	uint8_t small[8];
	size_t room;

	memset(big, 'b', 2000);
	/* Count: the fourth record is refused and nothing changes. */
	ck_assert_int_eq(kpl_agg_new(3, 1000, &a), KPL_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
		    kpl_agg_add(a, "key", 3, NULL, 0, "d", 1), KPL_OK);
	finish_copy(a, &b1);
	ck_assert_int_eq(
	    kpl_agg_add(a, "other", 5, ehks[1], 39, "d", 1), KPL_ERR_FULL);
	ck_assert_uint_eq(kpl_agg_count(a), 3);
	finish_copy(a, &b2);
	ck_assert_uint_eq(b1.len, b2.len);
	ck_assert_mem_eq(b1.p, b2.p, b1.len);
	free(b1.p);
	free(b2.p);
	/* Too big even alone: TOO_BIG, not FULL, so the current aggregate
	 * need not be cut short for it. */
	ck_assert_int_eq(
	    kpl_agg_add(a, "key", 3, NULL, 0, big, 1000), KPL_ERR_TOO_BIG);
	kpl_agg_free(a);

	/* Size: a record that makes exactly max_size fits, one byte more
	 * does not.  Alone, with n >= 128: 20 + key entry (0a 01 'k') +
	 * record key and 2-byte length (3) + index (08 00) + data key and
	 * 2-byte length (3) + n. */
	ck_assert_int_eq(kpl_agg_new(10, 1000, &a), KPL_OK);
	room = 1000 - 20 - 3 - 3 - 2 - 3;
	ck_assert_int_eq(
	    kpl_agg_add(a, "k", 1, NULL, 0, big, room + 1), KPL_ERR_TOO_BIG);
	ck_assert_int_eq(kpl_agg_add(a, "k", 1, NULL, 0, big, room), KPL_OK);
	ck_assert_uint_eq(kpl_agg_size(a), 1000);
	ck_assert_int_eq(
	    kpl_agg_add(a, "k", 1, NULL, 0, NULL, 0), KPL_ERR_FULL);
	ck_assert_uint_eq(kpl_agg_size(a), 1000);
	finish_copy(a, &b1);
	ck_assert_uint_eq(b1.len, 1000);
	free(b1.p);
	/* finish_into refuses a short buffer. */
	memset(small, 0, sizeof(small));
	ck_assert_int_eq(
	    kpl_agg_finish_into(a, small, sizeof(small)), KPL_ERR_INVAL);
	/* Lengths past max_size are refused before any arithmetic. */
	ck_assert_int_eq(
	    kpl_agg_add(a, "k", SIZE_MAX, NULL, 0, NULL, 0), KPL_ERR_TOO_BIG);
	ck_assert_int_eq(
	    kpl_agg_add(a, "k", 1, NULL, 0, big, SIZE_MAX), KPL_ERR_TOO_BIG);
	kpl_agg_free(a);
	free(big);
}
END_TEST

START_TEST(test_agg_record_and_reset)
{
	struct kpl_agg *a, *fresh;
	struct kpl_record r;
	struct blob b1, b2;
	struct uset s;

	uset_make(&s, SET_BASIC);
	ck_assert_int_eq(kpl_agg_new(100, MIB, &a), KPL_OK);
	ck_assert_int_eq(kpl_agg_new(100, MIB, &fresh), KPL_OK);
	/* Dirty a, reset it: it must then encode exactly as a fresh one. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(
		    kpl_agg_add(a, "junk", 4, "1", 1, "zz", 2), KPL_OK);
	kpl_agg_reset(a);
	for (size_t i = 0; i < s.n; i++) {
		ck_assert_int_eq(agg_add_urec(a, &s.r[i]), KPL_OK);
		ck_assert_int_eq(agg_add_urec(fresh, &s.r[i]), KPL_OK);
	}
	for (size_t i = 0; i < s.n; i++) {
		ck_assert_int_eq(kpl_agg_record(a, i, &r), KPL_OK);
		ck_assert_uint_eq(r.index, i);
		ck_assert(urec_eq(&s.r[i], &r));
	}
	ck_assert_int_eq(kpl_agg_record(a, s.n, &r), KPL_ERR_INVAL);
	finish_copy(a, &b1);
	finish_copy(fresh, &b2);
	ck_assert_uint_eq(b1.len, b2.len);
	ck_assert_mem_eq(b1.p, b2.p, b1.len);
	free(b1.p);
	free(b2.p);
	kpl_agg_free(a);
	kpl_agg_free(fresh);
	uset_free(&s);
}
END_TEST

/* ---- de-aggregation ------------------------------------------------------ */

START_TEST(test_deagg_roundtrip)
{
	for (int set = 0; set < NSETS; set++) {
		struct uset s;
		struct blobs bs;

		uset_make(&s, set);
		encode_set(&s, MIB, &bs);
		check_deagg_is_set(&bs, &s);
		blobs_free(&bs);
		uset_free(&s);
	}
}
END_TEST

/*
 * Opens a copy of exactly len bytes (so ASan sees any read past it) and
 * walks it, checking that every record lies inside.  When first is not
 * NULL, the first record must have key first[0], ehk first[1] and data
 * first[2] (NULL: none).  *count, when asked for, gets the record count.
 */
static enum kpl_err
deagg_exact(
    const void *p, size_t len, const char *const *first, uint64_t *count)
{
	uint8_t *c = xmalloc(len);
	struct kpl_deagg it;
	struct kpl_record r;
	enum kpl_err err;

	if (len > 0)
		memcpy(c, p, len);
	err = kpl_deagg_open(&it, c, len);
	if (count != NULL)
		*count = kpl_deagg_count(&it);
	while (kpl_deagg_next(&it, &r)) {
		ck_assert(r.key + r.key_len <= c + len && r.key >= c);
		ck_assert(r.data + r.data_len <= c + len && r.data >= c);
		ck_assert(r.ehk == NULL ||
		          (r.ehk >= c && r.ehk + r.ehk_len <= c + len));
		ck_assert(first == NULL || r.index > 0 ||
		          (span_is(r.key, r.key_len, first[0]) &&
		              span_is(r.ehk, r.ehk_len, first[1]) &&
		              span_is(r.data, r.data_len, first[2])));
	}
	kpl_deagg_close(&it);
	free(c);
	return err;
}

START_TEST(test_deagg_hostile)
{
	struct uset s;
	struct blobs bs;
	struct blob *b;
	struct kpl_deagg it;
	uint8_t *pb;
	size_t pblen;
	int accepted = 0;

	rng_seed(3);
	memset(&s, 0, sizeof(s));
	uset_add(&s, "first", ehks[1], 40);
	uset_add(&s, "second", NULL, 0);
	uset_add(&s, "first", NULL, 300);
	uset_add(&s, "third", ehks[0], 3);
	encode_set(&s, MIB, &bs);
	ck_assert_uint_eq(bs.n, 1);
	b = &bs.b[0];
	ck_assert_int_eq(deagg_exact(b->p, b->len, NULL, NULL), KPL_OK);
	ck_assert_int_eq(deagg_exact("hello", 5, NULL, NULL), KPL_ERR_NOT_AGG);
	ck_assert_int_eq(kpl_deagg_open(&it, NULL, 0), KPL_ERR_NOT_AGG);
	kpl_deagg_close(&it);
	/* Every prefix: empty, part of the magic, the magic alone, too short
	 * for an MD5, then a wrong MD5. */
	for (size_t len = 0; len < b->len; len++)
		ck_assert_msg(
		    deagg_exact(b->p, len, NULL, NULL) == KPL_ERR_NOT_AGG,
		    "prefix of %zu bytes taken for an aggregate", len);
	/* Any changed byte breaks the magic, the protobuf or the MD5. */
	for (size_t i = 0; i < b->len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b->p[i] ^= (uint8_t)(1 << bit);
			ck_assert_msg(deagg_exact(b->p, b->len, NULL, NULL) ==
			                  KPL_ERR_NOT_AGG,
			    "flip of bit %d of byte %zu went unseen", bit, i);
			b->p[i] ^= (uint8_t)(1 << bit);
		}
	}

	/* Random damage with the MD5 put right, so that the parser (not the
	 * checksum) meets it: never a crash, never a record outside. */
	pblen = b->len - 20;
	pb = xmalloc(pblen);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = pblen, len;
		uint8_t *w;

		memcpy(pb, b->p + 4, pblen);
		for (int k = 0, edits = 1 + (int)(rng() % 4); k < edits; k++) {
			size_t at = rng() % n;

			switch (rng() % 4) {
			case 0:
				pb[at] = (uint8_t)rng();
				break;
			case 1:
				pb[at] ^= (uint8_t)(1 << (rng() % 8));
				break;
			case 2: /* truncate */
				n = at + 1;
				break;
			default: /* a length or varint byte gone huge */
				pb[at] = 0xff;
				break;
			}
		}
		w = wrap(pb, n, &len);
		accepted += deagg_exact(w, len, NULL, NULL) == KPL_OK;
		free(w);
	}
	/* Some mutations keep a valid protobuf (e.g. a data byte). */
	ck_assert_int_gt(accepted, 0);
	free(pb);
	blobs_free(&bs);
	uset_free(&s);
}
END_TEST

/*
 * Hand-made protobufs (hex), wrapped with magic and MD5.  What is valid
 * follows protobuf-java, as the KCL does (see deagg.c).  For the valid
 * ones the first record's key, ehk and data are checked (NULL: none).
 */
#define BAD(what, hex)                                                         \
	{                                                                      \
		what, hex, 0, 0,                                               \
		{                                                              \
			NULL, NULL, NULL                                       \
		}                                                              \
	}
static const struct {
	const char *what, *hex;
	int ok;
	uint64_t count;
	const char *first[3]; /* key, ehk, data */
} handmade[] = {
    {"tags and unknown fields (5 varint, 6 fixed64, 7 fixed32, 8 bytes, "
     "1 as varint) skipped at both levels",
        "0a 03 70 6b 30  28 05  31 01 02 03 04 05 06 07 08  3d 01 02 03 04"
        "  42 02 68 69  08 07  1a 21 08 00 28 05 1a 05 64 61 74 61 30"
        "  22 08 0a 02 74 6b 12 02 74 76  22 0a 0a 08 6f 6e 6c 79 2d 6b 65 79",
        1, 1, {"pk0", NULL, "data0"}},
    {"tables after the records; a repeated index: the last wins",
        "1a 07 08 00 1a 01 78 08 01  1a 06 08 00 10 00 1a 00"
        "  0a 01 6b  0a 01 6a  12 02 34 32",
        1, 2, {"j", NULL, "x"}},
    {"no field at all", "", 1, 0, {NULL, NULL, NULL}},
    {"only an unknown field", "28 01", 1, 0, {NULL, NULL, NULL}},
    {"an unknown varint of 10 bytes",
        "0a 01 6b 28 80 80 80 80 80 80 80 80 80 00", 1, 0, {NULL, NULL, NULL}},
    {"a 10-byte index, 0", /* the same bytes as the two cases below */
        "0a 01 6b 1a 0e 08 80 80 80 80 80 80 80 80 80 00 1a 01 64", 1, 1,
        {"k", NULL, "d"}},
    BAD("partition key index out of range", "1a 04 08 01 1a 00 0a 01 6b"),
    BAD("ehk index without an ehk table", "0a 01 6b 1a 06 08 00 10 00 1a 00"),
    BAD("no partition key table", "1a 04 08 00 1a 00"),
    BAD("required data missing", "0a 01 6b 1a 02 08 00"),
    BAD("required partition_key_index missing", "0a 01 6b 1a 02 1a 00"),
    BAD("a tag without its required key",
        "0a 01 6b 1a 0b 08 00 1a 00 22 05 12 03 76 61 6c"),
    BAD("index of 10 bytes, 2^64-1: out of range",
        "0a 01 6b 1a 0e 08 ff ff ff ff ff ff ff ff ff 01 1a 01 64"),
    BAD("10-byte varint over 64 bits",
        "0a 01 6b 1a 0e 08 ff ff ff ff ff ff ff ff ff 02 1a 01 64"),
    BAD("11-byte varint", "0a 01 6b 28 80 80 80 80 80 80 80 80 80 80 00"),
    BAD("a group", "0a 01 6b 2b 2c"),
    BAD("wire type 6", "0a 01 6b 2e 00"),
    BAD("field number 0", "02 00"),
    BAD("field number above 2^29-1", "0a 01 6b fa ff ff ff 1f 00"),
    BAD("length past the end", "0a 05 6b"),
    BAD("record past the end", "0a 01 6b 1a 09 08 00 1a 00"),
    BAD("data past its record", "0a 01 6b 1a 04 08 00 1a 05"),
    BAD("fixed64 cut short", "0a 01 6b 31 01 02 03"),
    BAD("fixed32 cut short", "0a 01 6b 3d 01 02"),
    BAD("varint cut short", "0a 01 6b 28 80"),
};

START_TEST(test_deagg_handmade)
{
	for (size_t i = 0; i < sizeof(handmade) / sizeof(*handmade); i++) {
		uint8_t pb[256], *b;
		size_t n = 0, len;
		unsigned v;
		uint64_t count;
		int used;

		for (const char *h = handmade[i].hex; *h != '\0'; h += used) {
			used = 1;
			if (*h != ' ') {
				ck_assert(sscanf(h, "%2x%n", &v, &used) == 1 &&
				          n < sizeof(pb));
				pb[n++] = (uint8_t)v;
			}
		}
		b = wrap(pb, n, &len);
		ck_assert_msg(deagg_exact(b, len, handmade[i].first, &count) ==
		                  (handmade[i].ok ? KPL_OK : KPL_ERR_NOT_AGG),
		    "%s: wrong verdict", handmade[i].what);
		ck_assert_msg(count == handmade[i].count, "%s: %ju records",
		    handmade[i].what, (uintmax_t)count);
		free(b);
	}
}
END_TEST

/* ---- against aws-kinesis-agg -------------------------------------------- */

static void
peer_require(void)
{
	ck_assert_msg(access("tests/kpl_agg_peer.js", R_OK) == 0,
	    "tests/kpl_agg_peer.js not found: run from the top of the tree");
	ck_assert_msg(
	    access("node_modules/aws-kinesis-agg/package.json", R_OK) == 0 &&
	        system("node --version >/dev/null 2>&1") == 0,
	    "node or node_modules/aws-kinesis-agg is missing: run `make deps`");
}

static char *
b64_encode(const uint8_t *p, size_t len)
{
	char *s = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)s, p, (int)len);
	return s;
}

static uint8_t *
b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *p = xmalloc(n / 4 * 3 + 1);
	int r = EVP_DecodeBlock(p, (const unsigned char *)s, (int)n);

	ck_assert_msg(r >= 0 && n % 4 == 0, "bad base64 from the peer");
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (n >= 1 && s[n - 1] == '=')
		pad = n >= 2 && s[n - 2] == '=' ? 2 : 1;
	*len = (size_t)r - pad;
	return p;
}

/* Runs the peer with input on its stdin and returns its parsed output. */
static cJSON *
peer_run(const char *verb, const cJSON *input)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512], cmd[1024], *text, *out = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int fd, status;
	cJSON *res;

	snprintf(path, sizeof(path), "%s/kpl_peer.XXXXXX", tmp);
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(text = cJSON_PrintUnformatted(input));
	n = strlen(text);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
	cJSON_free(text);
	snprintf(cmd, sizeof(cmd), "node tests/kpl_agg_peer.js %s < '%s'", verb,
	    path);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	do {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			ck_assert_ptr_nonnull(out = realloc(out, cap + 1));
		}
		len += n = fread(out + len, 1, cap - len, f);
	} while (n > 0);
	out[len] = '\0';
	status = pclose(f);
	unlink(path);
	ck_assert_msg(status == 0,
	    "`%s` failed (status %d); its stderr is above", cmd, status);
	res = cJSON_Parse(out);
	free(out);
	ck_assert_msg(res != NULL, "`%s` printed no JSON", cmd);
	return res;
}

static const char *
json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *
uset_json(const struct uset *s)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o;

	ck_assert_ptr_nonnull(root);
	ck_assert_ptr_nonnull(arr = cJSON_AddArrayToObject(root, "records"));
	for (size_t i = 0; i < s->n; i++) {
		char *d = b64_encode(s->r[i].data, s->r[i].len);

		ck_assert_ptr_nonnull(o = cJSON_CreateObject());
		cJSON_AddItemToArray(arr, o);
		ck_assert_ptr_nonnull(
		    cJSON_AddStringToObject(o, "key", s->r[i].key));
		if (s->r[i].ehk != NULL)
			ck_assert_ptr_nonnull(
			    cJSON_AddStringToObject(o, "ehk", s->r[i].ehk));
		ck_assert_ptr_nonnull(cJSON_AddStringToObject(o, "data", d));
		free(d);
	}
	return root;
}

/* We aggregate; aws-kinesis-agg (checksums on) splits. */
static void
check_their_deagg(const struct blobs *ours, const struct uset *s)
{
	size_t at = 0;

	for (size_t b = 0; b < ours->n; b++) {
		char *d = b64_encode(ours->b[b].p, ours->b[b].len);
		cJSON *in = cJSON_CreateObject(), *out;
		const cJSON *j;
		uint64_t idx = 0;

		ck_assert_ptr_nonnull(cJSON_AddStringToObject(in, "data", d));
		free(d);
		out = peer_run("deaggregate", in);
		ck_assert_msg(
		    cJSON_IsTrue(cJSON_GetObjectItem(out, "aggregate")),
		    "aws-kinesis-agg refused our aggregate %zu", b);
		cJSON_ArrayForEach(j, cJSON_GetObjectItem(out, "records"))
		{
			struct kpl_record r = {
			    .index = (uint64_t)cJSON_GetObjectItem(j, "index")
			                 ->valuedouble,
			    .key = (const uint8_t *)json_str(j, "key"),
			    .ehk = (const uint8_t *)json_str(j, "ehk"),
			};
			uint8_t *data;

			ck_assert_uint_lt(at, s->n);
			r.key_len = r.key ? strlen((const char *)r.key) : 0;
			r.ehk_len = r.ehk ? strlen((const char *)r.ehk) : 0;
			r.data = data =
			    b64_decode(json_str(j, "data"), &r.data_len);
			ck_assert_msg(urec_eq(&s->r[at], &r),
			    "record %zu (blob %zu) differs", at, b);
			ck_assert_uint_eq(r.index, idx++);
			free(data);
			at++;
		}
		cJSON_Delete(in);
		cJSON_Delete(out);
	}
	ck_assert_uint_eq(at, s->n);
}

/*
 * Both ways, for every set: aws-kinesis-agg's aggregates split by us into
 * exactly the records, ours split by aws-kinesis-agg into exactly the
 * records, and (same records in, same bytes out) ours equal to theirs to
 * the byte.
 */
START_TEST(test_peer_both_ways)
{
	peer_require();
	for (int set = 0; set < NSETS; set++) {
		struct uset s;
		struct blobs theirs = {0}, ours;
		cJSON *in, *out;
		const cJSON *a;

		uset_make(&s, set);
		in = uset_json(&s);
		out = peer_run("aggregate", in);
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(out, "aggregates"))
		{
			size_t len;
			uint8_t *p;

			ck_assert_ptr_nonnull(json_str(a, "data"));
			p = b64_decode(json_str(a, "data"), &len);
			blobs_push(&theirs, p, len);
		}
		ck_assert_uint_gt(theirs.n, 0);
		check_deagg_is_set(&theirs, &s);

		encode_set(&s, MIB, &ours);
		check_their_deagg(&ours, &s);
		ck_assert_uint_eq(ours.n, theirs.n);
		for (size_t i = 0; i < ours.n; i++) {
			ck_assert_uint_eq(ours.b[i].len, theirs.b[i].len);
			ck_assert_msg(memcmp(ours.b[i].p, theirs.b[i].p,
			                  ours.b[i].len) == 0,
			    "set %d aggregate %zu: bytes differ", set, i);
		}
		blobs_free(&ours);
		blobs_free(&theirs);
		cJSON_Delete(in);
		cJSON_Delete(out);
		uset_free(&s);
	}
}
END_TEST

static Suite *
kpl_suite(void)
{
	Suite *s = suite_create("kpl");
	TCase *tc;

	tc = tcase_create("hash");
	tcase_add_test(tc, test_hash_md5_vectors);
	tcase_add_test(tc, test_hash_parse_accepts);
	tcase_add_test(tc, test_hash_parse_rejects);
	tcase_add_test(tc, test_hash_roundtrip_and_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("agg");
	tcase_add_test(tc, test_agg_limits_and_empty);
	tcase_add_test(tc, test_agg_size_accounting);
	tcase_add_test(tc, test_agg_full_and_too_big);
	tcase_add_test(tc, test_agg_record_and_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("deagg");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_deagg_roundtrip);
	tcase_add_test(tc, test_deagg_hostile);
	tcase_add_test(tc, test_deagg_handmade);
	suite_add_tcase(s, tc);

	tc = tcase_create("peer");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_peer_both_ways);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(kpl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
