/*
 * aggbench — kpl/ (the daemon's own KPL aggregate codec) alone: N user
 * records of SIZE bytes over 10,000 partition keys packed into aggregates
 * of at most 51,200 bytes (the KPL's AggregationMaxSize), then every
 * aggregate split again.  The same work bench/agg_node.js gives
 * aws-kinesis-agg.  Prints one JSON line: records/s and CPU microseconds
 * per record for each direction.
 *
 *   aggbench N SIZE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpl/kpl.h"

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct blob {
	uint8_t *p;
	size_t len;
};

int
main(int argc, char **argv)
{
	size_t n, size, n_blobs = 0, cap = 1024, got = 0;
	struct blob *blobs;
	struct kpl_agg *agg;
	unsigned char *data;
	char key[32];
	double w0, c0, w1, c1, w2, c2;

	if (argc != 3) {
		fprintf(stderr, "usage: aggbench N SIZE\n");
		return 64;
	}
	n = strtoul(argv[1], NULL, 10);
	size = strtoul(argv[2], NULL, 10);
	data = malloc(size);
	blobs = malloc(cap * sizeof(*blobs));
	if (data == NULL || blobs == NULL ||
	    kpl_agg_new(SIZE_MAX, 51200, &agg) != KPL_OK)
		return 1;
	for (size_t j = 0; j < size; j++)
		data[j] = (unsigned char)(j * 31 + 7);

	w0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (size_t i = 0; i <= n; i++) {
		int klen = 0;
		enum kpl_err rc = KPL_ERR_FULL;
		if (i < n) {
			klen = snprintf(
			    key, sizeof(key), "k%zu", (i * 7919) % 10000);
			memcpy(data, &i, sizeof(i) < size ? sizeof(i) : size);
			rc = kpl_agg_add(
			    agg, key, (size_t)klen, NULL, 0, data, size);
		}
		if (rc == KPL_ERR_FULL) {
			if (n_blobs == cap) {
				cap *= 2;
				if ((blobs = realloc(
				         blobs, cap * sizeof(*blobs))) == NULL)
					return 1;
			}
			if (kpl_agg_count(agg) > 0) {
				if (kpl_agg_finish(agg, &blobs[n_blobs].p,
				        &blobs[n_blobs].len) != KPL_OK)
					return 1;
				n_blobs++;
			}
			kpl_agg_reset(agg);
			if (i < n && kpl_agg_add(agg, key, (size_t)klen, NULL,
			                 0, data, size) != KPL_OK)
				return 1;
		} else if (rc != KPL_OK)
			return 1;
	}
	w1 = clock_s(CLOCK_MONOTONIC);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (size_t b = 0; b < n_blobs; b++) {
		struct kpl_deagg it;
		struct kpl_record r;
		if (kpl_deagg_open(&it, blobs[b].p, blobs[b].len) != KPL_OK)
			return 1;
		while (kpl_deagg_next(&it, &r))
			got += r.data_len == size;
		kpl_deagg_close(&it);
	}
	w2 = clock_s(CLOCK_MONOTONIC);
	c2 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	if (got != n) {
		fprintf(
		    stderr, "aggbench: %zu of %zu records came back\n", got, n);
		return 1;
	}
	printf("{\"records\":%zu,\"aggregates\":%zu,"
	       "\"agg_rps\":%.0f,\"agg_cpu_us\":%.3f,"
	       "\"deagg_rps\":%.0f,\"deagg_cpu_us\":%.3f}\n",
	    n, n_blobs, (double)n / (w1 - w0), (c1 - c0) * 1e6 / (double)n,
	    (double)n / (w2 - w1), (c2 - c1) * 1e6 / (double)n);
	for (size_t b = 0; b < n_blobs; b++)
		free(blobs[b].p);
	free(blobs);
	free(data);
	kpl_agg_free(agg);
	return 0;
}
