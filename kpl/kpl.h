/*
 * kpl — the KPL's aggregated record format and the shard hash key.
 *
 * A pure codec: no I/O, no event loop, no logging, no globals.  Errors come
 * back as a small enum (plus a static human string where one helps); the
 * caller logs them where it handles them.
 *
 * Hash key.  Kinesis maps a record to the shard whose hash key range holds
 * MD5(partition key) read as a big-endian 128-bit number, or the record's
 * explicit hash key (a decimal below 2^128) when it has one.  struct
 * kpl_hash holds such a number as two 64-bit halves.
 *
 * Aggregate.  The bytes F3 89 9A C2, then a protobuf AggregatedRecord
 *   { repeated string partition_key_table = 1;
 *     repeated string explicit_hash_key_table = 2;
 *     repeated Record records = 3; }
 *   Record { required uint64 partition_key_index = 1;
 *            optional uint64 explicit_hash_key_index = 2;
 *            required bytes data = 3; repeated Tag tags = 4; }
 * then the 16-byte MD5 of the protobuf bytes.  kpl_agg builds one (never
 * writing tags), kpl_deagg splits one (skipping tags).
 *
 * Thread safety: none of these objects may be used from two threads at
 * once; distinct objects are independent.
 */
#ifndef KD_KPL_H
#define KD_KPL_H

#include <stddef.h>
#include <stdint.h>

enum kpl_err {
	KPL_OK = 0,
	KPL_ERR_NOMEM,   /* an allocation failed; nothing was changed */
	KPL_ERR_CRYPTO,  /* libcrypto would not compute MD5 (FIPS-only?) */
	KPL_ERR_INVAL,   /* an argument is out of its documented range */
	KPL_ERR_SYNTAX,  /* hash key: not a canonical decimal number */
	KPL_ERR_RANGE,   /* hash key: 2^128 or more */
	KPL_ERR_FULL,    /* agg: the record does not fit beside the others */
	KPL_ERR_TOO_BIG, /* agg: the record does not fit even on its own */
	KPL_ERR_NOT_AGG, /* deagg: not a valid aggregate: deliver it as is */
};

/* A static, lower-case description of the error ("not an aggregate"). */
const char *kpl_strerror(enum kpl_err);

/* ---- hash key ---------------------------------------------------------- */

struct kpl_hash {
	uint64_t hi; /* bits 127..64 */
	uint64_t lo; /* bits 63..0 */
};

/* Room for the 39 digits of 2^128-1 and the NUL. */
#define KPL_HASH_DEC_SIZE 40

/*
 * A reusable MD5 state.  kpl_hash_key works without one, but libcrypto 3
 * then looks the algorithm up and allocates a context on every call, which
 * costs three times the hash itself on a short key; the producer keeps one
 * hasher and passes it on its hot path.
 */
struct kpl_hasher;

/* NULL when out of memory or MD5 is unavailable.  Free with _free. */
struct kpl_hasher *kpl_hasher_new(void);
/* Accepts NULL. */
void kpl_hasher_free(struct kpl_hasher *);

/*
 * *out = MD5(key[0..len)) as a big-endian number: the hash key Kinesis
 * gives a record without an explicit hash key.  h may be NULL (slower, see
 * above).  key is read only during the call.  KPL_OK or KPL_ERR_CRYPTO.
 */
enum kpl_err kpl_hash_key(
    struct kpl_hasher *h, const void *key, size_t len, struct kpl_hash *out);

/* -1, 0 or 1 as a is below, equal to or above b. */
int kpl_hash_cmp(struct kpl_hash a, struct kpl_hash b);

/*
 * Parses s[0..len) (no NUL needed) as an explicit hash key or a shard's
 * Starting/EndingHashKey.  Accepts exactly what Kinesis accepts,
 * 0|[1-9][0-9]{0,38} below 2^128, so an accepted string may be forwarded
 * to Kinesis unchanged.  KPL_ERR_SYNTAX (empty, a sign, a space, any
 * non-digit, a leading zero) or KPL_ERR_RANGE (2^128 or more); then, when
 * cause is not NULL, *cause is a static phrase to put after the field's
 * name, e.g. "must be below 2^128".  *out is written only on KPL_OK.
 */
enum kpl_err kpl_hash_parse(
    const char *s, size_t len, struct kpl_hash *out, const char **cause);

/*
 * Writes h in decimal, NUL-terminated, into buf (KPL_HASH_DEC_SIZE bytes)
 * and returns the number of digits.  kpl_hash_parse takes it back.
 */
size_t kpl_hash_format(struct kpl_hash h, char *buf);

/* ---- user records ------------------------------------------------------ */

/*
 * One user record as kpl hands it out.  Every pointer is borrowed: it
 * points into the buffer or object it came from and is valid for as long
 * as the function that produced it says.  key and ehk are bytes as stored,
 * not NUL-terminated and not checked to be UTF-8 (nor ehk to be decimal).
 */
struct kpl_record {
	uint64_t index; /* position in the aggregate: the subsequence number */
	const uint8_t *key;
	size_t key_len;
	const uint8_t *ehk; /* explicit hash key; NULL when there is none */
	size_t ehk_len;
	const uint8_t *data; /* not NULL, even when data_len is 0 */
	size_t data_len;
};

/* ---- aggregate encoder (the producer's hot path) ----------------------- */

/* Magic and MD5: the size of an aggregate holding no record. */
#define KPL_AGG_OVERHEAD 20
/* Largest max_size kpl_agg_new takes (internal offsets are 32-bit). */
#define KPL_AGG_SIZE_LIMIT ((size_t)1 << 30)

struct kpl_agg;

/*
 * A builder of aggregates of at most max_count records (>= 1) and at most
 * max_size bytes in all, magic and MD5 included (KPL_AGG_OVERHEAD + 1 ..
 * KPL_AGG_SIZE_LIMIT).  Kinesis counts the partition key an aggregate is
 * sent with against its record limit too: leave room for it in max_size.
 * On KPL_OK *out is the caller's, to free with kpl_agg_free.  Memory grows
 * with use up to about max_size and is kept across kpl_agg_reset.
 */
enum kpl_err kpl_agg_new(
    size_t max_count, size_t max_size, struct kpl_agg **out);
/* Accepts NULL. */
void kpl_agg_free(struct kpl_agg *);

/*
 * Appends one user record (it gets index kpl_agg_count() before the call).
 * ehk is its explicit hash key, or NULL for none; the caller has validated
 * it (kpl_hash_parse).  key, ehk and data are copied: nothing stays
 * borrowed after the call.  A partition key or explicit hash key already
 * in the aggregate is not stored twice.
 *   KPL_OK           added
 *   KPL_ERR_FULL     it would take the aggregate over max_count or
 *                    max_size: finish this one and add it to a new one
 *   KPL_ERR_TOO_BIG  it does not fit even in an empty aggregate: send it
 *                    as a plain record
 *   KPL_ERR_NOMEM
 * On any error the aggregate is unchanged.
 */
enum kpl_err kpl_agg_add(struct kpl_agg *, const void *key, size_t key_len,
    const void *ehk, size_t ehk_len, const void *data, size_t data_len);

/* The exact length kpl_agg_finish would produce now. */
size_t kpl_agg_size(const struct kpl_agg *);
/* User records added since the last reset. */
size_t kpl_agg_count(const struct kpl_agg *);

/*
 * Record i (< kpl_agg_count) as added, e.g. to send an aggregate of one
 * as that plain record.  The pointers borrow the aggregate's memory until
 * its next add, reset or free.  KPL_OK or KPL_ERR_INVAL.
 */
enum kpl_err kpl_agg_record(
    const struct kpl_agg *, size_t i, struct kpl_record *out);

/*
 * Encodes the aggregate into buf, which must hold cap >= kpl_agg_size()
 * bytes (exactly that many are written).  Leaves the records in place: call
 * kpl_agg_reset to start the next aggregate.  KPL_OK, KPL_ERR_INVAL (cap
 * too small) or KPL_ERR_CRYPTO.
 */
enum kpl_err kpl_agg_finish_into(struct kpl_agg *, uint8_t *buf, size_t cap);

/*
 * The same into a new buffer of *len bytes: on KPL_OK *out is the
 * caller's, to release with free().  KPL_ERR_NOMEM or KPL_ERR_CRYPTO
 * otherwise, with *out and *len untouched.
 */
enum kpl_err kpl_agg_finish(struct kpl_agg *, uint8_t **out, size_t *len);

/* Forgets every record; keeps the memory for the next aggregate. */
void kpl_agg_reset(struct kpl_agg *);

/* ---- de-aggregation (the consumer) ------------------------------------- */

/*
 * An iterator over the user records of one Kinesis record's data.  Lives
 * where the caller likes (the stack is fine); the fields are private.
 */
struct kpl_deagg_tab;
struct kpl_deagg {
	const uint8_t *pos; /* next top-level protobuf field */
	const uint8_t *end; /* end of the protobuf bytes */
	uint64_t next;      /* index of the next record */
	uint64_t count;
	struct kpl_deagg_tab *tab; /* owned: the two key tables */
};

/*
 * Checks buf[0..len) and, when it is a KPL aggregate, readies *it to
 * yield its records.  An aggregate is: the magic, a protobuf that parses
 * to its last byte with every required field present and every table
 * index in range, and a matching MD5 trailer.  buf is borrowed: it must
 * stay unchanged until kpl_deagg_close, and every record yielded points
 * into it.
 *   KPL_OK           an aggregate of kpl_deagg_count(it) records (maybe
 *                    0, as the KCL and aws-kinesis-agg yield none for it:
 *                    the Kinesis record is then done with no user record)
 *   KPL_ERR_NOT_AGG  anything else: a plain record, to deliver as is
 *                    with subsequence number 0
 *   KPL_ERR_NOMEM, KPL_ERR_CRYPTO: could not tell; retry or fail
 * *it is overwritten (close an iterator before reusing it).  Whatever
 * this returns, *it may (and after KPL_OK must) be passed to
 * kpl_deagg_close.  Never reads outside buf[0..len), whatever it holds.
 * Where a record's hash key must be checked against the shard (the KCL
 * drops records outside it), use kpl_hash_parse on ehk, else
 * kpl_hash_key on key.
 */
enum kpl_err kpl_deagg_open(struct kpl_deagg *it, const void *buf, size_t len);

uint64_t kpl_deagg_count(const struct kpl_deagg *);

/*
 * Fills *out with the next record in index order and returns 1, or
 * returns 0 after the last one.  out's pointers borrow buf (see _open).
 */
int kpl_deagg_next(struct kpl_deagg *, struct kpl_record *out);

/* Releases what _open allocated; the iterator then yields nothing. */
void kpl_deagg_close(struct kpl_deagg *);

#endif
