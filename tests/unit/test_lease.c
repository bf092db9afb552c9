/*
 * test_lease.c — lease/: the item codec against items as the KCL writes
 * them (exact attribute names and types), sequence number order, the
 * taker's choice (pure, KCL 2.x rules one by one), the shard sync plan,
 * and the manager against a fake DynamoDB + Kinesis endpoint (an evhttp
 * server holding one lease item) for what dynalite cannot do: throttled
 * checkpoints and their back-off, a retried write whose condition fails
 * on its own first attempt, a steal, late renewals (injected clock), the
 * release on stop, and lease_manager_free() from inside a callback.
 */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "aws/aws.h"
#include "dynamo/dynamo.h"
#include "kinesis/kinesis.h"
#include "lease/lease.h"
#include "lease/lease_int.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define SEQ_A    "49590338271490256608559692538361571095921575989136588898"
#define SEQ_B    "49590338271490256608559692540925702759324208523137515618"
#define MAX_HASH "340282366920938463463374607431768211455"

/* ---- item codec ------------------------------------------------------------
 */

/* A lease item exactly as KCL 2.x writes it, plus an attribute of its
 * own that the codec must not choke on. */
static const char *kcl_item =
    "{\"leaseKey\":{\"S\":\"shardId-000000000001\"},"
    "\"leaseOwner\":{\"S\":\"host-a:7b0c\"},"
    "\"leaseCounter\":{\"N\":\"42\"},"
    "\"checkpoint\":{\"S\":\"" SEQ_A "\"},"
    "\"checkpointSubSequenceNumber\":{\"N\":\"7\"},"
    "\"pendingCheckpoint\":{\"S\":\"" SEQ_B "\"},"
    "\"pendingCheckpointSubSequenceNumber\":{\"N\":\"2\"},"
    "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"3\"},"
    "\"parentShardId\":{\"SS\":[\"shardId-000000000000\"]},"
    "\"childShardIds\":{\"SS\":[\"shardId-000000000002\","
    "\"shardId-000000000003\"]},"
    "\"startingHashKey\":{\"S\":\"0\"},"
    "\"endingHashKey\":{\"S\":\"170141183460469231731687303715884105727\"},"
    "\"throughputKBps\":{\"N\":\"12.5\"}}";

static enum lease_decode
decode_str(const char *json, struct lease_item *it)
{
	cJSON *j = cJSON_Parse(json);
	const char *why;
	enum lease_decode d;

	ck_assert_ptr_nonnull(j);
	d = lease_item_decode(j, it, &why);
	cJSON_Delete(j);
	return d;
}

START_TEST(test_decode_kcl_item)
{
	struct lease_item it;

	ck_assert_int_eq(decode_str(kcl_item, &it), LEASE_DECODE_OK);
	ck_assert_str_eq(it.shard_id, "shardId-000000000001");
	ck_assert_str_eq(it.owner, "host-a:7b0c");
	ck_assert_uint_eq(it.counter, 42);
	ck_assert_str_eq(it.checkpoint, SEQ_A);
	ck_assert_uint_eq(it.checkpoint_subseq, 7);
	ck_assert_str_eq(it.pending_checkpoint, SEQ_B);
	ck_assert_int_eq(it.has_pending_subseq, 1);
	ck_assert_uint_eq(it.pending_subseq, 2);
	ck_assert_uint_eq(it.owner_switches, 3);
	ck_assert_uint_eq(it.n_parents, 1);
	ck_assert_str_eq(it.parents[0], "shardId-000000000000");
	ck_assert_uint_eq(it.n_children, 2);
	ck_assert_str_eq(it.children[1], "shardId-000000000003");
	ck_assert_str_eq(it.hash_start, "0");
	ck_assert_str_eq(
	    it.hash_end, "170141183460469231731687303715884105727");
	lease_item_clear(&it);
}
END_TEST

START_TEST(test_decode_minimal_and_entities)
{
	struct lease_item it;

	/* KCL 1.x minimum: no owner (unowned), no parents. */
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"s\"},"
	                            "\"leaseCounter\":{\"N\":\"0\"},"
	                            "\"checkpoint\":{\"S\":\"TRIM_HORIZON\"}}",
	                     &it),
	    LEASE_DECODE_OK);
	ck_assert_ptr_null(it.owner);
	ck_assert_uint_eq(it.n_parents, 0);
	ck_assert_ptr_null(it.parents);
	ck_assert_uint_eq(it.checkpoint_subseq, 0);
	ck_assert_int_eq(it.has_pending_subseq, 0);
	lease_item_clear(&it);

	/* KCL 3.x: only entityType LEASE is a lease. */
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"w1\"},"
	                            "\"entityType\":{\"S\":\"WORKER_METRICS\"},"
	                            "\"leaseCounter\":{\"N\":\"1\"}}",
	                     &it),
	    LEASE_DECODE_SKIP);
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"w1\"},"
	                            "\"entityType\":{\"N\":\"1\"}}",
	                     &it),
	    LEASE_DECODE_SKIP);
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"s\"},"
	                            "\"entityType\":{\"S\":\"LEASE\"},"
	                            "\"leaseCounter\":{\"N\":\"5\"}}",
	                     &it),
	    LEASE_DECODE_OK);
	ck_assert_uint_eq(it.counter, 5);
	lease_item_clear(&it);

	/* What the lease logic cannot do without. */
	ck_assert_int_eq(
	    decode_str("{\"leaseKey\":{\"S\":\"s\"}}", &it), LEASE_DECODE_BAD);
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"s\"},"
	                            "\"leaseCounter\":{\"S\":\"5\"}}",
	                     &it),
	    LEASE_DECODE_BAD);
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"N\":\"1\"},"
	                            "\"leaseCounter\":{\"N\":\"5\"}}",
	                     &it),
	    LEASE_DECODE_BAD);
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"s\"},"
	                            "\"leaseCounter\":{\"N\":\"-1\"}}",
	                     &it),
	    LEASE_DECODE_BAD);
	ck_assert_int_eq(decode_str("{\"leaseKey\":{\"S\":\"s\"},"
	                            "\"leaseCounter\":{\"N\":\"1\"},"
	                            "\"parentShardId\":{\"L\":[]}}",
	                     &it),
	    LEASE_DECODE_BAD);
	ck_assert_int_eq(decode_str("[]", &it), LEASE_DECODE_BAD);
}
END_TEST

/* The attribute's one type key ("S", "N", "SS"), or NULL. */
static const char *
attr_type(const cJSON *item, const char *name)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);

	if (!cJSON_IsObject(a) || a->child == NULL || a->child->next != NULL)
		return NULL;
	return a->child->string;
}

START_TEST(test_encode_kcl_names_types)
{
	static const char *const want[][2] = {
	    {"leaseKey", "S"},
	    {"leaseCounter", "N"},
	    {"checkpoint", "S"},
	    {"checkpointSubSequenceNumber", "N"},
	    {"ownerSwitchesSinceCheckpoint", "N"},
	    {"parentShardId", "SS"},
	    {"startingHashKey", "S"},
	    {"endingHashKey", "S"},
	};
	const char *parents[] = {
	    "shardId-000000000000", "shardId-000000000003"};
	struct lease_item it, back;
	const cJSON *e;
	cJSON *j;
	const char *why;
	size_t i, n = 0;

	memset(&it, 0, sizeof(it));
	it.shard_id = "shardId-000000000004";
	it.checkpoint = "TRIM_HORIZON";
	it.parents = (char **)parents;
	it.n_parents = 2;
	it.hash_start = "0";
	it.hash_end = MAX_HASH;
	ck_assert_ptr_nonnull(j = lease_item_encode(&it));
	/* Exactly these attributes, with these types: no owner (absent
	 * means unowned), no empty childShardIds. */
	cJSON_ArrayForEach(e, j) n++;
	ck_assert_uint_eq(n, sizeof(want) / sizeof(*want));
	for (i = 0; i < sizeof(want) / sizeof(*want); i++) {
		ck_assert_ptr_nonnull(attr_type(j, want[i][0]));
		ck_assert_str_eq(attr_type(j, want[i][0]), want[i][1]);
	}
	e = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "leaseCounter"), "N");
	ck_assert_str_eq(e->valuestring, "0");
	e = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "parentShardId"), "SS");
	ck_assert_int_eq(cJSON_GetArraySize(e), 2);

	/* And back. */
	ck_assert_int_eq(lease_item_decode(j, &back, &why), LEASE_DECODE_OK);
	ck_assert_str_eq(back.shard_id, it.shard_id);
	ck_assert_ptr_null(back.owner);
	ck_assert_str_eq(back.checkpoint, "TRIM_HORIZON");
	ck_assert_uint_eq(back.n_parents, 2);
	ck_assert_str_eq(back.parents[1], "shardId-000000000003");
	ck_assert_str_eq(back.hash_end, MAX_HASH);
	lease_item_clear(&back);
	cJSON_Delete(j);

	/* The full KCL item survives a decode/encode round trip, owner,
	 * children and pending checkpoint included. */
	ck_assert_int_eq(decode_str(kcl_item, &back), LEASE_DECODE_OK);
	ck_assert_ptr_nonnull(j = lease_item_encode(&back));
	ck_assert_str_eq(attr_type(j, "leaseOwner"), "S");
	ck_assert_str_eq(attr_type(j, "childShardIds"), "SS");
	ck_assert_str_eq(attr_type(j, "pendingCheckpoint"), "S");
	ck_assert_str_eq(
	    attr_type(j, "pendingCheckpointSubSequenceNumber"), "N");
	ck_assert_ptr_null(attr_type(j, "throughputKBps"));
	lease_item_clear(&back);
	ck_assert_int_eq(lease_item_decode(j, &back, &why), LEASE_DECODE_OK);
	ck_assert_uint_eq(back.counter, 42);
	ck_assert_uint_eq(back.checkpoint_subseq, 7);
	ck_assert_uint_eq(back.owner_switches, 3);
	ck_assert_uint_eq(back.pending_subseq, 2);
	lease_item_clear(&back);
	cJSON_Delete(j);
}
END_TEST

START_TEST(test_seq_cmp)
{
	ck_assert_int_eq(lease_seq_cmp("1", "2"), -1);
	ck_assert_int_eq(lease_seq_cmp("10", "9"), 1);
	ck_assert_int_eq(lease_seq_cmp("0009", "9"), 0);
	ck_assert_int_eq(lease_seq_cmp("0", "000"), 0);
	ck_assert_int_eq(lease_seq_cmp(SEQ_A, SEQ_B), -1);
	ck_assert_int_eq(lease_seq_cmp(SEQ_B, SEQ_A), 1);
	ck_assert_int_eq(lease_seq_cmp(SEQ_A, SEQ_A), 0);
	/* Longer than any integer type, differing in the last digit. */
	ck_assert_int_eq(
	    lease_seq_cmp("340282366920938463463374607431768211456",
	        "340282366920938463463374607431768211455"),
	    1);
	ck_assert_int_eq(lease_seq_valid("123"), 1);
	ck_assert_int_eq(lease_seq_valid("TRIM_HORIZON"), 0);
	ck_assert_int_eq(lease_seq_valid(""), 0);
	ck_assert_int_eq(lease_seq_valid("12a"), 0);
	ck_assert_int_eq(lease_checkpoint_begun("TRIM_HORIZON"), 0);
	ck_assert_int_eq(lease_checkpoint_begun("LATEST"), 0);
	ck_assert_int_eq(lease_checkpoint_begun(SEQ_A), 1);
	ck_assert_int_eq(lease_checkpoint_begun("SHARD_END"), 1);
}
END_TEST

/* ---- the taker's choice
 * ------------------------------------------------------- */

#define NOW      1000000u
#define FAILOVER 10000u

static const char *const ids[] = {
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"};

static struct lease_cand cands[10];
static size_t n_cands;

/* count leases owned by owner (NULL: unowned), last changed `age` ms ago
 * (-1: never changed). */
static void
add(size_t count, const char *owner, long age)
{
	while (count-- > 0) {
		struct lease_cand *c = &cands[n_cands];
		c->shard_id = ids[n_cands];
		c->owner = owner;
		c->never_changed = age < 0;
		c->changed_ms = age < 0 ? 0 : NOW - (uint64_t)age;
		c->kind = LEASE_CAND_OK;
		n_cands++;
	}
}

static struct lease_take takes[10];
static struct lease_taker_stats stats;

static size_t
choose(uint64_t max_for, uint64_t max_steal)
{
	struct lease_taker_params p;

	memset(&p, 0, sizeof(p));
	p.worker_id = "me";
	p.now_ms = NOW;
	p.failover_ms = FAILOVER;
	p.max_leases_for_worker = max_for;
	p.max_leases_to_steal = max_steal;
	return lease_taker_choose(cands, n_cands, &p, takes, &stats);
}

static void
taker_reset(void)
{
	memset(cands, 0, sizeof(cands));
	n_cands = 0;
	memset(takes, 0, sizeof(takes));
}

START_TEST(test_taker_fresh_table)
{
	size_t n, i;

	/* Six leases nobody ever renewed: very old, all taken by the first
	 * worker up (the others steal their share later). */
	taker_reset();
	add(6, NULL, -1);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 6);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(takes[i].steal, 0);
		ck_assert_int_eq(takes[i].very_old, 1);
	}
	ck_assert_uint_eq(stats.leases, 6);
	ck_assert_uint_eq(stats.workers, 1);
	/* ... but never above maxLeasesForWorker. */
	ck_assert_uint_eq(choose(2, 1), 2);
	/* An empty table: nothing. */
	taker_reset();
	ck_assert_uint_eq(choose(0, 1), 0);
}
END_TEST

START_TEST(test_taker_even_split)
{
	size_t n;

	/* A and B hold 2 each; 2 were released just now (unowned, counter
	 * moved): 6 leases, 3 workers, target 2 each: I take the 2. */
	taker_reset();
	add(2, "A", 100);
	add(2, "B", 100);
	add(2, NULL, 100);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(stats.target, 2);
	ck_assert_uint_eq(stats.workers, 3);
	ck_assert_int_eq(takes[0].steal, 0);
	ck_assert_str_eq(ids[takes[0].idx], "s4");
	ck_assert_str_eq(ids[takes[1].idx], "s5");
	ck_assert_int_eq(takes[0].very_old, 0);

	/* Already 2/2/2: nobody takes anything. */
	taker_reset();
	add(2, "A", 100);
	add(2, "B", 100);
	add(2, "me", 100);
	ck_assert_uint_eq(choose(0, 1), 0);
	ck_assert_uint_eq(stats.mine, 2);

	/* 3 workers, 4 free: target 2 for me, not 4. */
	taker_reset();
	add(1, "A", 100);
	add(1, "B", 100);
	add(4, NULL, 100);
	ck_assert_uint_eq(choose(0, 1), 2);
}
END_TEST

START_TEST(test_taker_expiry)
{
	size_t n, i;

	/* A stopped renewing failover + 1 ms ago: its 3 leases are free,
	 * A no longer counts as a worker: target 3, no steal. */
	taker_reset();
	add(3, "A", FAILOVER + 1);
	add(3, "B", 100);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(stats.workers, 2);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(cands[takes[i].idx].owner, "A");
		ck_assert_int_eq(takes[i].steal, 0);
	}
	/* Exactly at failover it is still alive: 3 workers, target 2,
	 * nothing free, so one steal from the most loaded (ties: the
	 * smallest id). */
	taker_reset();
	add(3, "A", FAILOVER);
	add(3, "B", 100);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(takes[0].steal, 1);
	ck_assert_str_eq(cands[takes[0].idx].owner, "A");
}
END_TEST

START_TEST(test_taker_very_old_first)
{
	size_t n;

	/* At my target (5 of 9, 2 workers), yet a lease nobody renewed for
	 * over 3 failovers is taken... */
	taker_reset();
	add(5, "me", 100);
	add(3, "B", 100);
	add(1, "C", 3 * FAILOVER + 1);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(takes[0].very_old, 1);
	ck_assert_str_eq(ids[takes[0].idx], "s8");
	/* ... while one merely expired is not. */
	taker_reset();
	add(5, "me", 100);
	add(3, "B", 100);
	add(1, "C", 2 * FAILOVER);
	ck_assert_uint_eq(choose(0, 1), 0);

	/* Very old ones come alone: the merely expired wait a round. */
	taker_reset();
	add(2, "B", 100);
	add(1, "C", 4 * FAILOVER);
	add(2, "D", FAILOVER + FAILOVER / 2);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(cands[takes[0].idx].owner, "C");
	/* A very old take still obeys maxLeasesForWorker. */
	taker_reset();
	add(2, "me", 100);
	add(3, NULL, -1);
	ck_assert_uint_eq(choose(3, 1), 1);
	ck_assert_uint_eq(choose(2, 1), 0);
}
END_TEST

START_TEST(test_taker_steal)
{
	size_t n, i;

	/* Nothing free; A holds 4 of 6, B and C one each: target 2, I need
	 * 2: one steal (maxLeasesToStealAtOneTime 1), from A. */
	taker_reset();
	add(4, "A", 100);
	add(1, "B", 100);
	add(1, "C", 100);
	n = choose(0, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(takes[0].steal, 1);
	ck_assert_str_eq(cands[takes[0].idx].owner, "A");
	ck_assert_uint_eq(stats.target, 2);

	/* maxLeasesToStealAtOneTime 2: both from A. */
	n = choose(0, 2);
	ck_assert_uint_eq(n, 2);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(takes[i].steal, 1);
		ck_assert_str_eq(cands[takes[i].idx].owner, "A");
	}
	/* maxLeasesToStealAtOneTime 5: still only what A has over the
	 * target (2), and only what I need. */
	ck_assert_uint_eq(choose(0, 5), 2);

	/* The most loaded is at target and I need just one: no steal (it
	 * would only move the imbalance). */
	taker_reset();
	add(2, "A", 100);
	add(2, "B", 100);
	add(1, "me", 100);
	ck_assert_uint_eq(choose(0, 1), 0);

	/* ... but when I need more than one, one is taken even from a
	 * worker at target. */
	taker_reset();
	add(3, "A", 100);
	add(3, "B", 100);
	n = choose(0, 1);
	ck_assert_uint_eq(stats.target, 2);
	ck_assert_uint_eq(n, 1);
	taker_reset();
	add(2, "A", 100);
	add(2, "B", 100);
	add(2, "C", 100);
	add(1, "D", 100);
	/* 7 leases, 5 workers: target 2, I need 2, everyone at or under
	 * target: steal 1 anyway. */
	n = choose(0, 1);
	ck_assert_uint_eq(stats.target, 2);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(cands[takes[0].idx].owner, "A");
}
END_TEST

START_TEST(test_taker_max_leases_for_worker)
{
	/* A dead worker's 6 leases, expired but not very old: target 6 for
	 * me alone, capped to 2. */
	taker_reset();
	add(6, "dead", FAILOVER + FAILOVER / 2);
	ck_assert_uint_eq(choose(2, 1), 2);
	ck_assert_uint_eq(stats.target, 2);
	/* Already at the cap: nothing, not even a steal. */
	taker_reset();
	add(2, "me", 100);
	add(6, "A", 100);
	ck_assert_uint_eq(choose(2, 1), 0);
}
END_TEST

START_TEST(test_taker_ignored_and_not_for_me)
{
	size_t n;

	/* Two children waiting for their parent are not counted and never
	 * taken; one lease I released is counted, not taken by me. */
	taker_reset();
	add(1, "A", 100);
	add(2, NULL, -1);
	cands[1].kind = LEASE_CAND_IGNORE;
	cands[2].kind = LEASE_CAND_IGNORE;
	add(1, NULL, 100);
	cands[3].kind = LEASE_CAND_NOT_FOR_ME;
	add(1, NULL, 100);
	n = choose(0, 1);
	ck_assert_uint_eq(stats.leases, 3);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(ids[takes[0].idx], "s4");
}
END_TEST

static uint32_t
fixed_rnd(void *arg)
{
	unsigned *state = arg;

	return (*state = *state * 1103515245u + 12345u) >> 8;
}

START_TEST(test_taker_shuffle)
{
	struct lease_taker_params p;
	unsigned state = 7;
	int seen[10] = {0};
	size_t n, i;

	/* With randomness, still exactly `need` distinct free leases. */
	taker_reset();
	add(1, "A", 100);
	add(1, "B", 100);
	add(7, NULL, 100);
	memset(&p, 0, sizeof(p));
	p.worker_id = "me";
	p.now_ms = NOW;
	p.failover_ms = FAILOVER;
	p.rnd = fixed_rnd;
	p.rnd_arg = &state;
	n = lease_taker_choose(cands, n_cands, &p, takes, &stats);
	ck_assert_uint_eq(n, 3); /* 9 leases, 3 workers */
	for (i = 0; i < n; i++) {
		ck_assert_ptr_null(cands[takes[i].idx].owner);
		ck_assert_int_eq(seen[takes[i].idx], 0);
		seen[takes[i].idx] = 1;
	}
}
END_TEST

/* ---- the shard sync plan
 * ----------------------------------------------------------- */

static struct kinesis_shard shards[8];
static size_t n_shards;

static void
shard(const char *id, const char *parent, const char *adjacent, int open)
{
	struct kinesis_shard *s = &shards[n_shards++];

	memset(s, 0, sizeof(*s));
	s->id = id;
	s->parent = parent;
	s->adjacent_parent = adjacent;
	s->hash_start = "0";
	s->hash_end = MAX_HASH;
	s->seq_start = "1";
	s->seq_end = open ? NULL : "9";
}

static struct lease_item plan_leases[8];
static size_t n_plan_leases;

static void
leased(const char *id)
{
	memset(&plan_leases[n_plan_leases], 0, sizeof(*plan_leases));
	plan_leases[n_plan_leases++].shard_id = (char *)(uintptr_t)id;
}

static struct lease_item *plan;
static size_t n_plan;

static void
plan_run(const char *initial)
{
	ck_assert_int_eq(lease_sync_plan(shards, n_shards, plan_leases,
	                     n_plan_leases, initial, &plan, &n_plan),
	    0);
}

static void
plan_free(void)
{
	size_t i;

	for (i = 0; i < n_plan; i++)
		lease_item_clear(&plan[i]);
	free(plan);
	plan = NULL;
	n_plan = 0;
	n_shards = 0;
	n_plan_leases = 0;
}

START_TEST(test_sync_fresh_stream)
{
	size_t i;

	shard("shardId-0", NULL, NULL, 1);
	shard("shardId-1", NULL, NULL, 1);
	shard("shardId-2", NULL, NULL, 1);
	plan_run("LATEST");
	ck_assert_uint_eq(n_plan, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_str_eq(plan[i].checkpoint, "LATEST");
		ck_assert_uint_eq(plan[i].n_parents, 0);
		ck_assert_ptr_null(plan[i].owner);
		ck_assert_uint_eq(plan[i].counter, 0);
		ck_assert_str_eq(plan[i].hash_end, MAX_HASH);
	}
	plan_free();

	/* Already leased: nothing to do. */
	shard("shardId-0", NULL, NULL, 1);
	leased("shardId-0");
	plan_run("TRIM_HORIZON");
	ck_assert_uint_eq(n_plan, 0);
	plan_free();
}
END_TEST

START_TEST(test_sync_split_of_leased_parent)
{
	/* The parent has a lease: its children start at TRIM_HORIZON
	 * whatever the initial position, naming their parent. */
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-1", "shardId-0", NULL, 1);
	shard("shardId-2", "shardId-0", NULL, 1);
	leased("shardId-0");
	plan_run("LATEST");
	ck_assert_uint_eq(n_plan, 2);
	ck_assert_str_eq(plan[0].shard_id, "shardId-1");
	ck_assert_str_eq(plan[0].checkpoint, "TRIM_HORIZON");
	ck_assert_uint_eq(plan[0].n_parents, 1);
	ck_assert_str_eq(plan[0].parents[0], "shardId-0");
	ck_assert_str_eq(plan[1].checkpoint, "TRIM_HORIZON");
	plan_free();

	/* A merge: both parents named, in the KCL's order. */
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-1", NULL, NULL, 0);
	shard("shardId-2", "shardId-0", "shardId-1", 1);
	leased("shardId-0");
	leased("shardId-1");
	plan_run("TRIM_HORIZON");
	ck_assert_uint_eq(n_plan, 1);
	ck_assert_uint_eq(plan[0].n_parents, 2);
	ck_assert_str_eq(plan[0].parents[0], "shardId-0");
	ck_assert_str_eq(plan[0].parents[1], "shardId-1");
	plan_free();
}
END_TEST

START_TEST(test_sync_resharded_stream_fresh_table)
{
	/* TRIM_HORIZON wants everything: the closed parent gets a lease,
	 * created before its children. */
	shard("shardId-1", "shardId-0", NULL, 1);
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-2", "shardId-0", NULL, 1);
	plan_run("TRIM_HORIZON");
	ck_assert_uint_eq(n_plan, 3);
	ck_assert_str_eq(plan[0].shard_id, "shardId-0");
	ck_assert_str_eq(plan[0].checkpoint, "TRIM_HORIZON");
	ck_assert_str_eq(plan[1].shard_id, "shardId-1");
	ck_assert_str_eq(plan[2].shard_id, "shardId-2");
	plan_free();

	/* LATEST: only the open shards, at LATEST. */
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-1", "shardId-0", NULL, 1);
	shard("shardId-2", "shardId-0", NULL, 1);
	plan_run("LATEST");
	ck_assert_uint_eq(n_plan, 2);
	ck_assert_str_eq(plan[0].checkpoint, "LATEST");
	ck_assert_str_eq(plan[1].checkpoint, "LATEST");
	plan_free();

	/* AT_TIMESTAMP: like TRIM_HORIZON, everyone at AT_TIMESTAMP. */
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-1", "shardId-0", NULL, 1);
	plan_run("AT_TIMESTAMP");
	ck_assert_uint_eq(n_plan, 2);
	ck_assert_str_eq(plan[0].shard_id, "shardId-0");
	ck_assert_str_eq(plan[0].checkpoint, "AT_TIMESTAMP");
	ck_assert_str_eq(plan[1].checkpoint, "AT_TIMESTAMP");
	plan_free();
}
END_TEST

START_TEST(test_sync_cleaned_and_trimmed_parents)
{
	/* The parent's lease was cleaned up after its children began: it
	 * is never created again. */
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-1", "shardId-0", NULL, 1);
	shard("shardId-2", "shardId-0", NULL, 1);
	leased("shardId-1");
	leased("shardId-2");
	plan_run("TRIM_HORIZON");
	ck_assert_uint_eq(n_plan, 0);
	plan_free();

	/* The parent expired from the stream: the child is a root, at the
	 * initial position, still naming its parent as the KCL does. */
	shard("shardId-5", "shardId-4", NULL, 1);
	plan_run("LATEST");
	ck_assert_uint_eq(n_plan, 1);
	ck_assert_str_eq(plan[0].checkpoint, "LATEST");
	ck_assert_uint_eq(plan[0].n_parents, 1);
	ck_assert_str_eq(plan[0].parents[0], "shardId-4");
	plan_free();

	/* Grandchildren of a leased shard: parent and child both created,
	 * parent first, both at TRIM_HORIZON. */
	shard("shardId-0", NULL, NULL, 0);
	shard("shardId-1", "shardId-0", NULL, 0);
	shard("shardId-3", "shardId-1", NULL, 1);
	leased("shardId-0");
	plan_run("LATEST");
	ck_assert_uint_eq(n_plan, 2);
	ck_assert_str_eq(plan[0].shard_id, "shardId-1");
	ck_assert_str_eq(plan[0].checkpoint, "TRIM_HORIZON");
	ck_assert_str_eq(plan[1].shard_id, "shardId-3");
	ck_assert_str_eq(plan[1].checkpoint, "TRIM_HORIZON");
	plan_free();
}
END_TEST

/* Leases of shards gone from the stream (lease_sync_expired). */
static void
expired_run(const char *const *want, size_t n_want)
{
	char **got = NULL;
	size_t n_got = 99;

	ck_assert_int_eq(lease_sync_expired(shards, n_shards, plan_leases,
	                     n_plan_leases, &got, &n_got),
	    0);
	ck_assert_uint_eq(n_got, n_want);
	for (size_t i = 0; i < n_want; i++)
		ck_assert_str_eq(got[i], want[i]);
	lease_strv_free(got, n_got);
	n_shards = 0;
	n_plan_leases = 0;
}

START_TEST(test_sync_expired_shards)
{
	static const char *const zero[] = {"shardId-000000000000"};
	static char *const parents0[] = {"shardId-000000000000"};

	/* Split long ago; the unfinished parent expired since. */
	shard("shardId-000000000001", "shardId-000000000000", NULL, 1);
	shard("shardId-000000000002", "shardId-000000000000", NULL, 1);
	leased("shardId-000000000000");
	leased("shardId-000000000001");
	leased("shardId-000000000002");
	expired_run(zero, 1);

	/* Finished (SHARD_END): blocks nobody, cleanup's business. */
	shard("shardId-000000000002", "shardId-000000000000", NULL, 1);
	leased("shardId-000000000000");
	plan_leases[0].checkpoint = (char *)(uintptr_t) "SHARD_END";
	expired_run(NULL, 0);

	/* Newer than anything listed: a listing that is behind. */
	shard("shardId-000000000001", NULL, NULL, 1);
	leased("shardId-000000000001");
	leased("shardId-000000000003");
	expired_run(NULL, 0);

	/* Its parent is still listed, so it cannot have expired. */
	shard("shardId-000000000000", NULL, NULL, 0);
	shard("shardId-000000000005", NULL, NULL, 1);
	leased("shardId-000000000002");
	plan_leases[0].parents = (char **)(uintptr_t)parents0;
	plan_leases[0].n_parents = 1;
	expired_run(NULL, 0);

	/* Ids of another form, and an empty listing: never. */
	shard("shardId-000000000009", NULL, NULL, 1);
	leased("custom-lease");
	leased("shardId-");
	expired_run(NULL, 0);
	leased("shardId-000000000000");
	expired_run(NULL, 0);
}
END_TEST

/* ---- the manager against a fake endpoint
 * ----------------------------------------------- */

#define SHARD "shardId-000000000000"

static struct {
	struct evhttp *http;
	int port;
	/* The one lease item. */
	uint64_t counter;
	char owner[64]; /* "" when unowned */
	char checkpoint[128];
	uint64_t subseq, switches;
	/* Behaviour. */
	int throttle_ckpt;  /* checkpoint writes still to throttle */
	int spurious_renew; /* renewals to apply, then answer "failed" */
	int steal;          /* next renewal: another worker has it */
	/* What happened. */
	int ckpt_ok, ckpt_throttled, renews, releases, takes;
	uint64_t ckpt_at[16]; /* monotonic ms of each checkpoint write */
	int n_ckpt_at;
	int order_ckpt_before_release; /* the last checkpoint came first */
} fake;

static struct event_base *base;
static struct aws_http *http;
static struct aws_credentials *creds;
static struct dynamo *dyn;
static struct kinesis *kin;
static struct metrics *reg;

static uint64_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *
fake_item(void)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "{\"leaseKey\":{\"S\":\"" SHARD "\"},"
	    "%s%s%s"
	    "\"leaseCounter\":{\"N\":\"%llu\"},"
	    "\"checkpoint\":{\"S\":\"%s\"},"
	    "\"checkpointSubSequenceNumber\":{\"N\":\"%llu\"},"
	    "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"%llu\"}}",
	    fake.owner[0] != '\0' ? "\"leaseOwner\":{\"S\":\"" : "", fake.owner,
	    fake.owner[0] != '\0' ? "\"}," : "",
	    (unsigned long long)fake.counter, fake.checkpoint,
	    (unsigned long long)fake.subseq, (unsigned long long)fake.switches);
	return buf;
}

static void
reply(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, status, "X", b);
	evbuffer_free(b);
}

static void
reply_error(struct evhttp_request *req, const char *type)
{
	char body[256];

	snprintf(body, sizeof(body),
	    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\","
	    "\"message\":\"fake\"}",
	    type);
	reply(req, 400, body);
}

static const char *
val(const cJSON *vals, const char *name, const char *type)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(vals, name), type);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
fake_update(struct evhttp_request *req, const cJSON *in)
{
	const cJSON *vals =
	    cJSON_GetObjectItemCaseSensitive(in, "ExpressionAttributeValues");
	const char *update =
	    cJSON_GetObjectItemCaseSensitive(in, "UpdateExpression")
	        ->valuestring;
	const char *c = val(vals, ":c", "N"), *n = val(vals, ":n", "N");
	int is_ckpt = strstr(update, "#cp = :cp") != NULL;
	int is_release = strstr(update, "REMOVE #o") != NULL && !is_ckpt;
	int is_take = strstr(update, "#o = :me") != NULL;
	int spurious = 0;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(n);
	if (is_ckpt && fake.throttle_ckpt > 0) {
		fake.throttle_ckpt--;
		fake.ckpt_throttled++;
		if (fake.n_ckpt_at < 16)
			fake.ckpt_at[fake.n_ckpt_at++] = mono();
		reply_error(req, "ProvisionedThroughputExceededException");
		return;
	}
	if (!is_ckpt && !is_release && !is_take && fake.steal) {
		fake.steal = 0;
		snprintf(fake.owner, sizeof(fake.owner), "other");
		fake.counter += 5;
	}
	if (strtoull(c, NULL, 10) != fake.counter) {
		reply_error(req, "ConditionalCheckFailedException");
		return;
	}
	if (!is_ckpt && !is_release && !is_take && fake.spurious_renew > 0) {
		/* The write lands, its reply is lost, the client's retry
		 * then fails the condition: exactly what the re-read is
		 * for. */
		fake.spurious_renew--;
		spurious = 1;
	}
	fake.counter = strtoull(n, NULL, 10);
	if (is_take) {
		if (strstr(update, "ADD #sw") != NULL)
			fake.switches++;
		snprintf(fake.owner, sizeof(fake.owner), "%s",
		    val(vals, ":me", "S"));
		fake.takes++;
	} else if (is_release) {
		fake.owner[0] = '\0';
		fake.releases++;
		fake.order_ckpt_before_release = fake.ckpt_ok > 0;
	} else if (is_ckpt) {
		snprintf(fake.checkpoint, sizeof(fake.checkpoint), "%s",
		    val(vals, ":cp", "S"));
		fake.subseq = strtoull(val(vals, ":cs", "N"), NULL, 10);
		fake.switches = 0;
		fake.ckpt_ok++;
		if (fake.n_ckpt_at < 16)
			fake.ckpt_at[fake.n_ckpt_at++] = mono();
	} else {
		fake.renews++;
	}
	if (spurious)
		reply_error(req, "ConditionalCheckFailedException");
	else
		reply(req, 200, "{}");
}

static void
fake_handler(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	const char *target = evhttp_find_header(h, "X-Amz-Target");
	char body[8192], out[2048];
	size_t len;
	cJSON *in;

	(void)arg;
	len = evbuffer_copyout(b, body, sizeof(body) - 1);
	body[len] = '\0';
	in = cJSON_Parse(body);
	ck_assert_ptr_nonnull(target);
	if (strstr(target, "DescribeTable") != NULL) {
		reply(req, 200,
		    "{\"Table\":{\"TableName\":\"t\",\"TableStatus\":"
		    "\"ACTIVE\",\"KeySchema\":[{\"AttributeName\":"
		    "\"leaseKey\",\"KeyType\":\"HASH\"}]}}");
	} else if (strstr(target, "ListShards") != NULL) {
		reply(req, 200,
		    "{\"Shards\":[{\"ShardId\":\"" SHARD "\","
		    "\"HashKeyRange\":{\"StartingHashKey\":\"0\","
		    "\"EndingHashKey\":\"" MAX_HASH "\"},"
		    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":"
		    "\"1\"}}]}");
	} else if (strstr(target, "Scan") != NULL) {
		snprintf(out, sizeof(out), "{\"Count\":1,\"Items\":[%s]}",
		    fake_item());
		reply(req, 200, out);
	} else if (strstr(target, "GetItem") != NULL) {
		snprintf(out, sizeof(out), "{\"Item\":%s}", fake_item());
		reply(req, 200, out);
	} else if (strstr(target, "PutItem") != NULL) {
		reply_error(req, "ConditionalCheckFailedException");
	} else if (strstr(target, "UpdateItem") != NULL) {
		fake_update(req, in);
	} else {
		reply(req, 200, "{}");
	}
	cJSON_Delete(in);
}

static void
fake_setup(void)
{
	struct evhttp_bound_socket *bs;
	struct aws_client_opts o;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *cause = NULL, endpoint[64];

	setenv("AWS_ACCESS_KEY_ID", "AKIDLEASETEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "lease-test-secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);

	memset(&fake, 0, sizeof(fake));
	snprintf(fake.checkpoint, sizeof(fake.checkpoint), "TRIM_HORIZON");
	base = event_base_new();
	fake.http = evhttp_new(base);
	evhttp_set_gencb(fake.http, fake_handler, NULL);
	bs = evhttp_bind_socket_with_handle(fake.http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	getsockname(
	    evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
	fake.port = ntohs(sin.sin_port);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", fake.port);
	ck_assert_ptr_nonnull(http = aws_http_new(base, &cause));
	ck_assert_ptr_nonnull(creds = aws_credentials_new(base, http));
	memset(&o, 0, sizeof(o));
	o.region = "us-east-1";
	o.endpoint = endpoint;
	/* One attempt: throttling reaches the lease layer at once. */
	o.max_attempts = 1;
	ck_assert_ptr_nonnull(dyn = dynamo_new(http, creds, NULL, &o, &cause));
	ck_assert_ptr_nonnull(kin = kinesis_new(http, creds, NULL, &o, &cause));
	ck_assert_ptr_nonnull(reg = metrics_new());
}

static void
fake_teardown(void)
{
	dynamo_free(dyn);
	kinesis_free(kin);
	aws_credentials_free(creds);
	aws_http_free(http);
	evhttp_free(fake.http);
	event_base_free(base);
	metrics_free(reg);
}

/* What the events said. */
static struct {
	int acquired, lost, done, done_ok, list_n;
	char checkpoint[128];
	int free_in_cb;
	struct lease_manager *m;
} got;

static void
on_acquired(const struct lease_info *info, void *arg)
{
	(void)arg;
	got.acquired++;
	snprintf(
	    got.checkpoint, sizeof(got.checkpoint), "%s", info->checkpoint);
	ck_assert_str_eq(info->shard_id, SHARD);
	ck_assert_str_eq(info->owner, "me");
	if (got.free_in_cb) {
		lease_manager_free(got.m);
		got.m = NULL;
	}
}

static void
on_lost(const char *shard_id, void *arg)
{
	(void)arg;
	ck_assert_str_eq(shard_id, SHARD);
	got.lost++;
}

static void
on_done(int ok, void *arg)
{
	(void)arg;
	got.done++;
	got.done_ok += ok != 0;
}

static uint64_t fake_now; /* 0: the real clock */

static uint64_t
test_clock(void *arg)
{
	(void)arg;
	return fake_now != 0 ? fake_now : mono();
}

static struct lease_manager *
manager(void)
{
	struct lease_opts o;
	struct lease_events ev;
	char *cause = NULL;
	struct lease_manager *m;

	memset(&got, 0, sizeof(got));
	memset(&o, 0, sizeof(o));
	o.table = "t";
	o.stream = "s";
	o.worker_id = "me";
	o.initial_checkpoint = "TRIM_HORIZON";
	o.failover_time_millis = 3000;
	o.shard_sync_interval_millis = 60000;
	o.max_leases_for_worker = 100;
	o.max_leases_to_steal_at_one_time = 1;
	o.checkpoint_interval_millis = 50;
	o.checkpoint_backoff_millis = 400;
	o.parent_shard_poll_interval_millis = 1000;
	o.taker_interval_millis = 200;
	memset(&ev, 0, sizeof(ev));
	ev.acquired = on_acquired;
	ev.lost = on_lost;
	m = lease_manager_new(base, dyn, kin, reg, &o, &ev, &cause);
	ck_assert_ptr_nonnull(m);
	lease_manager_set_clock(m, test_clock, NULL);
	got.m = m;
	return m;
}

/* Runs the loop until *flag reaches want or ms pass; 1 when reached. */
static int
run_until(const int *flag, int want, unsigned ms)
{
	uint64_t end = mono() + ms;
	struct timeval tv = {0, 10000};

	while (*flag < want && mono() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return *flag >= want;
}

static void
run_for(unsigned ms)
{
	int never = 0;

	run_until(&never, 1, ms);
}

static double
counter_value(
    const char *name, const char *labels, const char *a, const char *b)
{
	struct metric *f = metrics_counter(reg, name, "", labels);

	return metric_value(
	    b != NULL ? metric_series(f, a, b) : metric_series(f, a));
}

START_TEST(test_throttled_checkpoint_backs_off)
{
	struct lease_manager *m = manager();
	char path[] = "/tmp/test_lease_log.XXXXXX";
	char buf[65536];
	int fd, saved;
	ssize_t n;

	/* Capture stderr: the warning must be logged word for word. */
	ck_assert_int_ge(fd = mkstemp(path), 0);
	saved = dup(2);
	dup2(fd, 2);
	log_init(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);

	fake.throttle_ckpt = 2;
	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 1, 3000));
	lease_checkpoint_set(m, SHARD, SEQ_A, 3);
	ck_assert(run_until(&fake.ckpt_ok, 1, 5000));

	dup2(saved, 2);
	close(saved);
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "lease: Throttled by DynamoDB on "
	                                  "checkpointing -- backing off..."));

	ck_assert_int_eq(fake.ckpt_throttled, 2);
	ck_assert_str_eq(fake.checkpoint, SEQ_A);
	ck_assert_uint_eq(fake.subseq, 3);
	/* Each retry waited backoffMillis (400), though the checkpointer
	 * ticks every 50 ms. */
	ck_assert_int_eq(fake.n_ckpt_at, 3);
	ck_assert_uint_ge(fake.ckpt_at[1] - fake.ckpt_at[0], 380);
	ck_assert_uint_ge(fake.ckpt_at[2] - fake.ckpt_at[1], 380);
	ck_assert(lease_is_held(m, SHARD));
	ck_assert_double_eq(counter_value("kinesisd_checkpoints_total",
	                        "table,result", "t", "throttled"),
	    2);
	ck_assert_double_eq(counter_value("kinesisd_checkpoints_total",
	                        "table,result", "t", "ok"),
	    1);
	ck_assert_double_eq(
	    metric_value(metric_series(
	        metrics_gauge(reg, "kinesisd_leases_held", "", "table"), "t")),
	    1);
	lease_manager_free(m);
}
END_TEST

START_TEST(test_checkpoint_never_backwards)
{
	struct lease_manager *m = manager();

	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 1, 3000));
	ck_assert_str_eq(got.checkpoint, "TRIM_HORIZON");
	lease_checkpoint_set(m, SHARD, SEQ_B, 0);
	lease_checkpoint_set(m, SHARD, SEQ_A, 9); /* behind: ignored */
	lease_checkpoint_set(m, SHARD, "not-a-number", 0);
	lease_checkpoint_flush(m, SHARD, on_done, NULL);
	ck_assert(run_until(&got.done, 1, 3000));
	ck_assert_int_eq(got.done_ok, 1);
	ck_assert_str_eq(fake.checkpoint, SEQ_B);
	ck_assert_uint_eq(fake.subseq, 0);
	/* Same sequence number, later sub-sequence: forward. */
	lease_checkpoint_set(m, SHARD, SEQ_B, 4);
	lease_checkpoint_flush(m, SHARD, on_done, NULL);
	ck_assert(run_until(&got.done, 2, 3000));
	ck_assert_uint_eq(fake.subseq, 4);
	ck_assert_int_eq(fake.ckpt_ok, 2);
	/* Nothing pending: flush answers at once, and never from inside
	 * the call. */
	lease_checkpoint_flush(m, SHARD, on_done, NULL);
	ck_assert_int_eq(got.done, 2);
	ck_assert(run_until(&got.done, 3, 1000));
	ck_assert_int_eq(fake.ckpt_ok, 2);
	/* Not held: not ok. */
	lease_checkpoint_flush(m, "shardId-000000000009", on_done, NULL);
	ck_assert(run_until(&got.done, 4, 1000));
	ck_assert_int_eq(got.done_ok, 3);
	lease_manager_free(m);
}
END_TEST

START_TEST(test_spurious_condition_failure_recovered)
{
	struct lease_manager *m = manager();

	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 1, 3000));
	fake.spurious_renew = 1;
	/* A renewal lands but "fails"; the re-read shows it as ours with
	 * the counter one up: still held, nothing lost. */
	ck_assert(run_until(&fake.renews, 3, 5000));
	ck_assert_int_eq(fake.spurious_renew, 0);
	ck_assert_int_eq(got.lost, 0);
	ck_assert(lease_is_held(m, SHARD));
	ck_assert_str_eq(fake.owner, "me");
	lease_manager_free(m);
}
END_TEST

START_TEST(test_stolen_lease_is_lost)
{
	struct lease_manager *m = manager();

	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 1, 3000));
	ck_assert_uint_eq(fake.switches, 0); /* taken from nobody */
	fake.steal = 1;
	ck_assert(run_until(&got.lost, 1, 3000));
	ck_assert(!lease_is_held(m, SHARD));
	ck_assert_str_eq(fake.owner, "other");
	ck_assert_double_eq(
	    metric_value(metric_series(
	        metrics_counter(reg, "kinesisd_leases_lost_total", "", "table"),
	        "t")),
	    1);
	{
		struct metric *ops = metrics_counter(reg,
		    "kinesisd_lease_operations_total", "", "table,op,result");
		ck_assert_double_eq(
		    metric_value(metric_series(ops, "t", "renew", "lost")), 1);
		ck_assert_double_eq(
		    metric_value(metric_series(ops, "t", "take", "ok")), 1);
	}
	/* The thief keeps renewing (here: nobody does; the counter stays):
	 * after failover, and with "other" not renewing, it is expired and
	 * taken back, counting an owner switch. */
	ck_assert(run_until(&got.acquired, 2, 6000));
	ck_assert_uint_eq(fake.switches, 1);
	lease_manager_free(m);
}
END_TEST

START_TEST(test_late_renewals_lose_the_lease)
{
	struct lease_manager *m = manager();

	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 1, 3000));
	/* The process stalled for longer than failoverTimeMillis: at the
	 * next renewer tick the lease is dropped, whatever DynamoDB says. */
	fake_now = mono() + 3001 + 1000;
	ck_assert(!lease_is_held(m, SHARD));
	ck_assert(run_until(&got.lost, 1, 3000));
	fake_now = 0;
	lease_manager_free(m);
}
END_TEST

START_TEST(test_stop_checkpoints_then_releases)
{
	struct lease_manager *m = manager();

	lease_manager_start(m);
	ck_assert_str_eq(lease_manager_strstate(m), "CREATING_TABLE");
	ck_assert(run_until(&got.acquired, 1, 3000));
	ck_assert_str_eq(lease_manager_strstate(m), "RUNNING");
	ck_assert_uint_eq(lease_manager_held_count(m), 1);
	lease_checkpoint_set(m, SHARD, SEQ_A, 1);
	lease_manager_stop(m, on_done, NULL);
	ck_assert(run_until(&got.done, 1, 3000));
	ck_assert_int_eq(got.done_ok, 1);
	ck_assert_str_eq(lease_manager_strstate(m), "STOPPED");
	ck_assert_int_eq(fake.releases, 1);
	ck_assert_int_eq(fake.order_ckpt_before_release, 1);
	ck_assert_str_eq(fake.checkpoint, SEQ_A);
	ck_assert_str_eq(fake.owner, "");
	ck_assert_int_eq(got.lost, 0);
	ck_assert_uint_eq(lease_manager_held_count(m), 0);
	/* Stopped: nothing more is taken... */
	run_for(500);
	ck_assert_int_eq(fake.takes, 1);
	/* ... until started again. */
	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 2, 3000));
	ck_assert_str_eq(got.checkpoint, SEQ_A);
	lease_manager_free(m);
}
END_TEST

START_TEST(test_release_one_shard)
{
	struct lease_manager *m = manager();

	lease_manager_start(m);
	ck_assert(run_until(&got.acquired, 1, 3000));
	lease_release(m, SHARD, on_done, NULL);
	ck_assert(run_until(&got.done, 1, 3000));
	ck_assert_int_eq(got.done_ok, 1);
	ck_assert_str_eq(fake.owner, "");
	/* Released with lease_release: not taken again by this worker. */
	run_for(800);
	ck_assert_int_eq(fake.takes, 1);
	ck_assert(!lease_is_held(m, SHARD));
	lease_manager_free(m);
}
END_TEST

START_TEST(test_free_from_callback)
{
	lease_manager_start(manager());
	got.free_in_cb = 1;
	ck_assert(run_until(&got.acquired, 1, 3000));
	ck_assert_ptr_null(got.m);
	/* Requests of the freed manager were cancelled: the loop goes on
	 * without them (ASan would see a use after free). */
	run_for(300);
}
END_TEST

static void
on_list(const struct lease_info *l, size_t n, const char *err, void *arg)
{
	(void)arg;
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(l[0].shard_id, SHARD);
	got.list_n++;
}

START_TEST(test_list)
{
	struct lease_manager *m = manager();

	/* Works before start: it only scans. */
	lease_list(m, on_list, NULL);
	ck_assert_int_eq(got.list_n, 0);
	ck_assert(run_until(&got.list_n, 1, 3000));
	lease_manager_free(m);
}
END_TEST

static Suite *
lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("pure");
	TCase *tf = tcase_create("fake");

	tcase_add_test(tc, test_decode_kcl_item);
	tcase_add_test(tc, test_decode_minimal_and_entities);
	tcase_add_test(tc, test_encode_kcl_names_types);
	tcase_add_test(tc, test_seq_cmp);
	tcase_add_test(tc, test_taker_fresh_table);
	tcase_add_test(tc, test_taker_even_split);
	tcase_add_test(tc, test_taker_expiry);
	tcase_add_test(tc, test_taker_very_old_first);
	tcase_add_test(tc, test_taker_steal);
	tcase_add_test(tc, test_taker_max_leases_for_worker);
	tcase_add_test(tc, test_taker_ignored_and_not_for_me);
	tcase_add_test(tc, test_taker_shuffle);
	tcase_add_test(tc, test_sync_fresh_stream);
	tcase_add_test(tc, test_sync_split_of_leased_parent);
	tcase_add_test(tc, test_sync_resharded_stream_fresh_table);
	tcase_add_test(tc, test_sync_cleaned_and_trimmed_parents);
	tcase_add_test(tc, test_sync_expired_shards);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, fake_setup, fake_teardown);
	tcase_set_timeout(tf, 30);
	tcase_add_test(tf, test_throttled_checkpoint_backs_off);
	tcase_add_test(tf, test_checkpoint_never_backwards);
	tcase_add_test(tf, test_spurious_condition_failure_recovered);
	tcase_add_test(tf, test_stolen_lease_is_lost);
	tcase_add_test(tf, test_late_renewals_lose_the_lease);
	tcase_add_test(tf, test_stop_checkpoints_then_releases);
	tcase_add_test(tf, test_release_one_shard);
	tcase_add_test(tf, test_free_from_callback);
	tcase_add_test(tf, test_list);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lease_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
