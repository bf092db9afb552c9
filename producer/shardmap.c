/*
 * shardmap.c — which shard a hash key lands on, from ListShards.
 *
 * The map holds the stream's open shards sorted by starting hash key.  It
 * is read at start, and again when a put lands on another shard than
 * predicted or Kinesis says the stream changed; until the first answer,
 * and while the stream is missing, records go out unaggregated.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "kinesis/kinesis.h"
#include "log/log.h"
#include "producer/internal.h"

#define MAP_RETRY_MS   1000
#define MAP_MISSING_MS 5000

static const char *
map_strstate(enum producer_map_state s)
{
	switch (s) {
	case PMAP_SYNCING:
		return "syncing";
	case PMAP_READY:
		return "ready";
	case PMAP_MISSING:
		return "missing";
	}
	return "?";
}

static void
map_set_state(struct producer *p, enum producer_map_state next)
{
	if (p->map_state == next)
		return;
	log_debug("producer", "%s: shard map %s -> %s", p->name,
	    map_strstate(p->map_state), map_strstate(next));
	p->map_state = next;
}

struct pshard *
producer_map_lookup(struct producer *p, struct kpl_hash h)
{
	size_t lo = 0, hi = p->n_shards;

	/* The last shard whose start is <= h, if h is inside it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (kpl_hash_cmp(p->shards[mid]->start, h) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (kpl_hash_cmp(h, p->shards[lo - 1]->end) > 0)
		return NULL;
	return p->shards[lo - 1];
}

static int
shard_cmp(const void *a, const void *b)
{
	const struct pshard *x = *(struct pshard *const *)a;
	const struct pshard *y = *(struct pshard *const *)b;

	return kpl_hash_cmp(x->start, y->start);
}

void
producer_shard_free(struct pshard *s)
{
	if (s == NULL)
		return;
	kpl_agg_free(s->agg);
	free(s->id);
	free(s);
}

static struct pshard *
shard_new(struct producer *p, const struct kinesis_shard *ks)
{
	uint64_t max_size = p->conf->kpl.aggregation_max_size;
	struct pshard *s;
	const char *cause;

	/* Kinesis counts the partition key against the 1 MiB record limit. */
	if (max_size > 1048576 - 256)
		max_size = 1048576 - 256;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	TAILQ_INIT(&s->pending);
	s->live = 1;
	if ((s->id = strdup(ks->id)) == NULL ||
	    kpl_hash_parse(ks->hash_start, strlen(ks->hash_start), &s->start,
	        &cause) != KPL_OK ||
	    kpl_hash_parse(ks->hash_end, strlen(ks->hash_end), &s->end,
	        &cause) != KPL_OK ||
	    kpl_agg_new(p->conf->kpl.aggregation_max_count > SIZE_MAX
	                    ? SIZE_MAX
	                    : (size_t)p->conf->kpl.aggregation_max_count,
	        (size_t)max_size, &s->agg) != KPL_OK) {
		producer_shard_free(s);
		return NULL;
	}
	s->rec_tokens = -1; /* full bucket at first use */
	return s;
}

static struct pshard *
map_find_id(struct pshard **v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i]->id, id) == 0)
			return v[i];
	return NULL;
}

/* Installs the open shards of a ListShards answer. */
static int
map_install(struct producer *p, const struct kinesis_shards *ks)
{
	struct pshard **next, **old = p->shards;
	size_t n = 0, n_old = p->n_shards;

	if ((next = calloc(ks->n > 0 ? ks->n : 1, sizeof(*next))) == NULL)
		return -1;
	for (size_t i = 0; i < ks->n; i++) {
		struct pshard *s;
		if (ks->shards[i].seq_end != NULL)
			continue; /* closed: nothing can be put there */
		s = map_find_id(old, n_old, ks->shards[i].id);
		if (s == NULL && (s = shard_new(p, &ks->shards[i])) == NULL) {
			for (size_t k = 0; k < n; k++)
				if (map_find_id(old, n_old, next[k]->id) ==
				    NULL)
					producer_shard_free(next[k]);
			free(next);
			return -1;
		}
		next[n++] = s;
	}
	qsort(next, n, sizeof(*next), shard_cmp);
	p->shards = next;
	p->n_shards = n;
	/* Shards gone from the stream give their records back to routing. */
	for (size_t i = 0; i < n_old; i++)
		if (map_find_id(next, n, old[i]->id) == NULL)
			producer_map_retire(p, old[i]);
	free(old);
	return 0;
}

static void
map_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	producer_map_refresh(arg);
}

static void
map_retry_in(struct producer *p, uint64_t ms)
{
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(p->map_timer, &tv);
}

static void
map_on_shards(
    const struct aws_result *r, const struct kinesis_shards *ks, void *arg)
{
	struct producer *p = arg;

	p->map_refreshing = 0;
	if (r->err != AWS_OK) {
		if (aws_result_is(r, "ResourceNotFoundException")) {
			if (p->map_state != PMAP_MISSING)
				log_errorx("producer",
				    "%s: stream %s not found "
				    "in region %s: puts to it fail with "
				    "ResourceNotFoundException until it "
				    "exists; "
				    "checking every %d s",
				    p->name, p->conf->stream_name, p->region,
				    MAP_MISSING_MS / 1000);
			map_set_state(p, PMAP_MISSING);
			map_retry_in(p, MAP_MISSING_MS);
		} else {
			/* Once per outage, not once a second. */
			enum log_level lvl =
			    p->map_warned++ ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN;
			log_msg(lvl, "producer",
			    "%s: ListShards %s: %s%s%s; "
			    "retrying every %d s",
			    p->name, p->conf->stream_name,
			    r->type != NULL ? r->type : aws_err_name(r->err),
			    r->message != NULL ? ": " : "",
			    r->message != NULL ? r->message : "",
			    MAP_RETRY_MS / 1000);
			map_retry_in(p, MAP_RETRY_MS);
		}
		return;
	}
	p->map_warned = 0;
	if (map_install(p, ks) == -1) {
		log_warnx("producer",
		    "%s: out of memory reading the shard "
		    "map; retrying",
		    p->name);
		map_retry_in(p, MAP_RETRY_MS);
		return;
	}
	if (p->map_state != PMAP_READY || p->map_stale)
		log_info("producer", "%s: stream %s has %zu open shards",
		    p->name, p->conf->stream_name, p->n_shards);
	p->map_stale = 0;
	map_set_state(p, PMAP_READY);
	producer_pump(p);
}

void
producer_map_refresh(struct producer *p)
{
	struct kinesis_list_shards_params params = {
	    .stream = p->conf->stream_name,
	};

	if (p->map_refreshing)
		return;
	p->map_refreshing = 1;
	if (kinesis_list_shards(p->api, &params, map_on_shards, p) == NULL) {
		p->map_refreshing = 0;
		map_retry_in(p, MAP_RETRY_MS);
	}
}

int
producer_map_init(struct producer *p)
{
	p->map_timer = evtimer_new(p->base, map_retry_cb, p);
	return p->map_timer != NULL ? 0 : -1;
}
