/*
 * fuzz_kpl.c — the KPL de-aggregator on any bytes, as a consumer gets
 * them from GetRecords.  Whatever the bytes, kpl_deagg_* must answer
 * NOT_AGG or yield records inside the buffer.  When they are an aggregate,
 * the records are aggregated again with kpl_agg and must come back equal:
 * the two halves of kpl/ agree on the format.  Hash keys found inside go
 * through kpl_hash_parse / kpl_hash_format, which must round-trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpl/kpl.h"
#include "tests/fuzz/lib/fuzz.h"

#define MAX_RECS 4096

static void
check_hash(const uint8_t *s, size_t len)
{
	char dec[KPL_HASH_DEC_SIZE];
	struct kpl_hash h, again;
	const char *cause;
	size_t n;

	if (kpl_hash_parse((const char *)s, len, &h, &cause) != KPL_OK)
		return;
	n = kpl_hash_format(h, dec);
	if (n != len || memcmp(dec, s, len) != 0 ||
	    kpl_hash_parse(dec, n, &again, NULL) != KPL_OK ||
	    kpl_hash_cmp(h, again) != 0)
		abort(); /* parse accepts only canonical decimals */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kpl_record recs[MAX_RECS];
	struct kpl_deagg it, it2;
	struct kpl_record r;
	struct kpl_agg *agg = NULL;
	uint8_t *blob = NULL;
	size_t n = 0, blen;
	enum kpl_err e;

	check_hash(data, size < 64 ? size : 64);
	if ((e = kpl_deagg_open(&it, data, size)) != KPL_OK) {
		kpl_deagg_close(&it);
		return 0;
	}
	while (kpl_deagg_next(&it, &r)) {
		const uint8_t *lo = data, *hi = data + size;

		/* Every pointer borrows the input. */
		if (r.key < lo || r.key + r.key_len > hi || r.data < lo ||
		    r.data + r.data_len > hi ||
		    (r.ehk != NULL && (r.ehk < lo || r.ehk + r.ehk_len > hi)))
			abort();
		if (r.index != n)
			abort();
		if (r.ehk != NULL)
			check_hash(r.ehk, r.ehk_len);
		if (n < MAX_RECS)
			recs[n] = r;
		n++;
	}
	if (n != kpl_deagg_count(&it))
		abort();
	if (n == 0 || n > MAX_RECS)
		goto out;

	/* Aggregate the same records again; they must read back equal. */
	if (kpl_agg_new(n, KPL_AGG_OVERHEAD + 2 * size + 64, &agg) != KPL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		e = kpl_agg_add(agg, recs[i].key, recs[i].key_len, recs[i].ehk,
		    recs[i].ehk_len, recs[i].data, recs[i].data_len);
		if (e == KPL_ERR_NOMEM)
			goto out;
		if (e != KPL_OK) {
			fprintf(stderr,
			    "re-aggregation refused record %zu: %s\n", i,
			    kpl_strerror(e));
			abort();
		}
	}
	if (kpl_agg_finish(agg, &blob, &blen) != KPL_OK)
		goto out;
	if (blen != kpl_agg_size(agg))
		abort();
	if (kpl_deagg_open(&it2, blob, blen) != KPL_OK)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!kpl_deagg_next(&it2, &r) || r.key_len != recs[i].key_len ||
		    memcmp(r.key, recs[i].key, r.key_len) != 0 ||
		    r.data_len != recs[i].data_len ||
		    memcmp(r.data, recs[i].data, r.data_len) != 0 ||
		    (r.ehk == NULL) != (recs[i].ehk == NULL) ||
		    (r.ehk != NULL &&
		        (r.ehk_len != recs[i].ehk_len ||
		            memcmp(r.ehk, recs[i].ehk, r.ehk_len) != 0)))
			abort();
	}
	if (kpl_deagg_next(&it2, &r))
		abort();
	kpl_deagg_close(&it2);
out:
	free(blob);
	kpl_agg_free(agg);
	kpl_deagg_close(&it);
	return 0;
}
