/*
 * test_consumer.c — consumer/'s pure parts (consumer/track.c): sequence
 * order with sub-sequence numbers, a batch's ack tracking and the
 * highest contiguous acked record, redelivery order, reactive-kinesis's
 * failure tolerance, the balancing choice, the start position from a
 * lease, the resume filter and the fetch pacing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer_int.h"
#include "lease/lease.h"

/* ---- sequence numbers ---------------------------------------------------- */

START_TEST(seq_order)
{
	ck_assert_int_eq(lease_seq_cmp("1", "2"), -1);
	ck_assert_int_eq(lease_seq_cmp("10", "9"), 1);
	ck_assert_int_eq(lease_seq_cmp("123", "123"), 0);
	/* Real ones: 56 digits, beyond any integer type. */
	ck_assert_int_eq(
	    lease_seq_cmp(
	        "49590338271490256608559692538361571095921575989136588898",
	        "49590338271490256608559692540925702759324208523137515618"),
	    -1);
	ck_assert_int_eq(lease_seq_cmp("0", "0"), 0);
	ck_assert_int_eq(lease_seq_cmp("007", "7"), 0);

	ck_assert_int_eq(consumer_rec_cmp("5", 0, "5", 1), -1);
	ck_assert_int_eq(consumer_rec_cmp("5", 3, "5", 3), 0);
	ck_assert_int_eq(consumer_rec_cmp("6", 0, "5", 99), 1);
}
END_TEST

/* ---- resuming from a checkpoint ------------------------------------------ */

START_TEST(resume_plain_record)
{
	/* A plain record checkpointed (subseq 0) is done: AT_SEQUENCE_NUMBER
	 * returns it again and the filter drops it (AFTER semantics). */
	ck_assert(!consumer_resume_keep("100", 0, "100", 0));
	ck_assert(consumer_resume_keep("101", 0, "100", 0));
	ck_assert(!consumer_resume_keep("99", 0, "100", 0));
}
END_TEST

START_TEST(resume_inside_aggregate)
{
	/* Checkpoint (100, 2): records 0..2 of the aggregate are done,
	 * 3.. are not. */
	for (uint64_t i = 0; i <= 2; i++)
		ck_assert(!consumer_resume_keep("100", i, "100", 2));
	ck_assert(consumer_resume_keep("100", 3, "100", 2));
	ck_assert(consumer_resume_keep("100", 9, "100", 2));
	/* Sub-record 0 of an aggregate checkpointed: the rest follows. */
	ck_assert(!consumer_resume_keep("100", 0, "100", 0));
	ck_assert(consumer_resume_keep("100", 1, "100", 0));
}
END_TEST

START_TEST(start_from_checkpoint)
{
	struct consumer_start st;

	ck_assert_int_eq(consumer_start_pick("4959033827149025", 7, 0,
	                     CONF_POS_LATEST, NULL, 0, &st),
	    0);
	/* The checkpoint wins over initialPositionInStream. */
	ck_assert_int_eq(st.type, KINESIS_ITER_AT_SEQUENCE_NUMBER);
	ck_assert_str_eq(st.seq, "4959033827149025");
	ck_assert(st.filter);
	ck_assert_uint_eq(st.filter_subseq, 7);
	ck_assert(!st.ended);

	ck_assert_int_eq(consumer_start_pick("SHARD_END", 0, 0,
	                     CONF_POS_TRIM_HORIZON, NULL, 0, &st),
	    0);
	ck_assert(st.ended);

	ck_assert_int_eq(consumer_start_pick("BOGUS", 0, 0,
	                     CONF_POS_TRIM_HORIZON, NULL, 0, &st),
	    -1);
}
END_TEST

START_TEST(start_from_sentinels)
{
	struct consumer_start st;

	consumer_start_pick(
	    "TRIM_HORIZON", 0, 0, CONF_POS_TRIM_HORIZON, NULL, 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_TRIM_HORIZON);
	ck_assert(!st.filter);

	consumer_start_pick("LATEST", 0, 0, CONF_POS_LATEST, NULL, 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_LATEST);

	consumer_start_pick("AT_TIMESTAMP", 0, 0, CONF_POS_AT_TIMESTAMP, NULL,
	    1700000000123, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_AT_TIMESTAMP);
	ck_assert_int_eq(st.timestamp_ms, 1700000000123);

	/* A lease's sentinel wins even when the configuration changed. */
	consumer_start_pick(
	    "TRIM_HORIZON", 0, 0, CONF_POS_LATEST, NULL, 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_TRIM_HORIZON);

	/* No checkpoint at all: the configured position. */
	consumer_start_pick(NULL, 0, 0, CONF_POS_LATEST, NULL, 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_LATEST);
}
END_TEST

START_TEST(start_from_initial_sequence_number)
{
	struct consumer_start st;

	/* The lease table holds TRIM_HORIZON for these consumers. */
	consumer_start_pick(
	    "TRIM_HORIZON", 0, 0, CONF_POS_AT_SEQUENCE_NUMBER, "12345", 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_AT_SEQUENCE_NUMBER);
	ck_assert_str_eq(st.seq, "12345");
	ck_assert(st.from_initial_seq);
	ck_assert(!st.filter);

	consumer_start_pick("TRIM_HORIZON", 0, 0,
	    CONF_POS_AFTER_SEQUENCE_NUMBER, "12345", 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_AFTER_SEQUENCE_NUMBER);
	ck_assert_str_eq(st.seq, "12345");

	/* Children of a reshard start at their trim horizon. */
	consumer_start_pick(
	    "TRIM_HORIZON", 0, 1, CONF_POS_AT_SEQUENCE_NUMBER, "12345", 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_TRIM_HORIZON);
	ck_assert(!st.from_initial_seq);

	/* Once checkpointed, the checkpoint wins. */
	consumer_start_pick(
	    "99999", 0, 0, CONF_POS_AT_SEQUENCE_NUMBER, "12345", 0, &st);
	ck_assert_int_eq(st.type, KINESIS_ITER_AT_SEQUENCE_NUMBER);
	ck_assert_str_eq(st.seq, "99999");
	ck_assert(st.filter);
	ck_assert(!st.from_initial_seq);
}
END_TEST

/* ---- pacing -------------------------------------------------------------- */

START_TEST(fetch_pacing)
{
	/* At most 5 calls/s per shard. */
	ck_assert_uint_eq(consumer_fetch_delay(1000, 1000, 10, 1000), 200);
	ck_assert_uint_eq(consumer_fetch_delay(1150, 1000, 10, 1000), 50);
	ck_assert_uint_eq(consumer_fetch_delay(5000, 1000, 10, 1000), 0);
	/* Nothing came back: idleTimeBetweenReadsInMillis. */
	ck_assert_uint_eq(consumer_fetch_delay(1100, 1000, 0, 1000), 900);
	ck_assert_uint_eq(consumer_fetch_delay(1100, 1000, 0, 50), 100);
}
END_TEST

/* ---- failure tolerance --------------------------------------------------- */

START_TEST(tolerance_as_reactive_kinesis)
{
	/* reference.conf: "for a batch of 500 messages, the default (0.25)
	 * allows 1 unprocessed message". */
	ck_assert_uint_eq(consumer_tolerance_allowed(500, 0.25), 1);
	ck_assert_uint_eq(consumer_tolerance_allowed(400, 0.25), 1);
	ck_assert_uint_eq(consumer_tolerance_allowed(399, 0.25), 0);
	ck_assert_uint_eq(consumer_tolerance_allowed(10000, 0.25), 25);
	ck_assert_uint_eq(consumer_tolerance_allowed(10, 0), 0);
	ck_assert_uint_eq(consumer_tolerance_allowed(10, 100), 10);
	ck_assert_uint_eq(consumer_tolerance_allowed(10, 1000), 10);
	ck_assert_uint_eq(consumer_tolerance_allowed(0, 0.25), 0);

	ck_assert(consumer_tolerance_ok(500, 1, 0.25));
	ck_assert(!consumer_tolerance_ok(500, 2, 0.25));
	ck_assert(consumer_tolerance_ok(500, 0, 0));
	ck_assert(!consumer_tolerance_ok(500, 1, 0));
	/* An empty batch never fails. */
	ck_assert(consumer_tolerance_ok(0, 0, 0));
}
END_TEST

/* ---- balancing ----------------------------------------------------------- */

START_TEST(balance_choice)
{
	size_t a[] = {3, 1, 1, 2}, from = 99, to = 99;
	size_t even[] = {2, 2, 1};
	size_t skew[] = {0, 4};

	ck_assert_int_eq(consumer_balance_pick(a, 4), 1); /* earliest tie */
	ck_assert_int_eq(consumer_balance_pick(a, 0), -1);
	ck_assert(consumer_balance_move(a, 4, &from, &to));
	ck_assert_uint_eq(from, 0);
	ck_assert_uint_eq(to, 1);
	/* Within one: sticky, nothing moves. */
	ck_assert(!consumer_balance_move(even, 3, &from, &to));
	ck_assert(!consumer_balance_move(a, 1, &from, &to));
	ck_assert(consumer_balance_move(skew, 2, &from, &to));
	ck_assert_uint_eq(from, 1);
	ck_assert_uint_eq(to, 0);
}
END_TEST

/* A new subscriber next to one holding 4 shards ends with 2 and 2. */
START_TEST(balance_converges)
{
	size_t loads[] = {4, 0, 0}, from, to, moves = 0;

	while (consumer_balance_move(loads, 3, &from, &to)) {
		loads[from]--;
		loads[to]++;
		ck_assert_uint_lt(++moves, 10);
	}
	ck_assert_uint_eq(moves, 2);
	ck_assert_uint_eq(loads[0] + loads[1] + loads[2], 4);
	for (int i = 0; i < 3; i++)
		ck_assert(loads[i] >= 1 && loads[i] <= 2);
}
END_TEST

/* ---- batches ------------------------------------------------------------- */

/* Copies s into b's arena (key, ehk, data must lie there). */
static const char *
arena_str(struct consumer_batch *b, const char *s)
{
	const char *p = consumer_batch_copy(b, s, strlen(s));

	ck_assert_ptr_nonnull(p);
	return p;
}

/* Records 100/0, 101/0..3 (an aggregate), 102/0. */
static struct consumer_batch *
batch_sample(void)
{
	struct consumer_batch *b = consumer_batch_new(3, 6, 256);
	const char *ehk, *hello;

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(consumer_batch_add_kin(b, "100", 1000), 0);
	ck_assert_int_eq(consumer_batch_add(b, 0, arena_str(b, "k0"), 2, NULL,
	                     0, arena_str(b, "a"), 1),
	    0);
	ck_assert_int_eq(consumer_batch_add_kin(b, "101", 2000), 0);
	ehk = arena_str(b, "340282366920938463");
	hello = arena_str(b, "hello");
	for (uint64_t i = 0; i < 4; i++) {
		char key[8];
		snprintf(key, sizeof(key), "u%llu", (unsigned long long)i);
		ck_assert_int_eq(consumer_batch_add(b, i, arena_str(b, key),
		                     strlen(key), ehk, 18, hello, 5),
		    0);
	}
	ck_assert_int_eq(consumer_batch_add_kin(b, "102", 3000), 0);
	ck_assert_int_eq(consumer_batch_add(b, 0, arena_str(b, "k2"), 2, NULL,
	                     0, arena_str(b, ""), 0),
	    0);
	ck_assert_uint_eq(b->n, 6);
	return b;
}

START_TEST(batch_fields)
{
	struct consumer_batch *b = batch_sample();
	const struct consumer_rec *r = b->recs;

	ck_assert_str_eq(consumer_batch_seq(b, 0), "100");
	ck_assert_mem_eq(b->arena + r[0].key, "k0", 2);
	ck_assert_uint_eq(r[0].key_len, 2);
	ck_assert_uint_eq(r[0].ehk, CONSUMER_NO_EHK);
	ck_assert_uint_eq(r[0].len, 1);
	ck_assert_mem_eq(b->arena + r[0].data, "a", 1);
	ck_assert_mem_eq(b->arena + r[3].key, "u2", 2);
	ck_assert_mem_eq(b->arena + r[3].ehk, "340282366920938463", 18);
	ck_assert_uint_eq(r[3].ehk_len, 18);
	ck_assert_uint_eq(r[3].len, 5);
	ck_assert_mem_eq(b->arena + r[3].data, "hello", 5);
	ck_assert_uint_eq(consumer_batch_subseq(b, 3), 2);
	ck_assert_int_eq(consumer_batch_ts(b, 3), 2000);
	ck_assert_uint_eq(r[5].len, 0);
	/* One copy of an aggregate's sequence number. */
	ck_assert_ptr_eq(consumer_batch_seq(b, 1), consumer_batch_seq(b, 4));
	ck_assert_ptr_ne(consumer_batch_seq(b, 0), consumer_batch_seq(b, 1));
	ck_assert_uint_gt(b->bytes, 0);
	ck_assert_int_eq(consumer_batch_find(b, "101", 3), 4);
	ck_assert_int_eq(consumer_batch_find(b, "100", 0), 0);
	ck_assert_int_eq(consumer_batch_find(b, "102", 0), 5);
	ck_assert_int_eq(consumer_batch_find(b, "101", 4), -1);
	ck_assert_int_eq(consumer_batch_find(b, "101", 0), 1);
	ck_assert_int_eq(consumer_batch_find(b, "100", 1), -1);
	ck_assert_int_eq(consumer_batch_find(b, "99", 0), -1);
	ck_assert_int_eq(consumer_batch_find(b, "1010", 0), -1);
	ck_assert_int_eq(consumer_batch_find(b, "", 0), -1);
	consumer_batch_free(b);
}
END_TEST

/* A batch is sized once: adding past any of its three sizes fails
 * cleanly, and subseqs inside a Kinesis record must follow each other. */
START_TEST(batch_bounds)
{
	struct consumer_batch *b = consumer_batch_new(1, 2, 8);
	char outside[4] = "abc";
	const char *k;

	ck_assert_ptr_nonnull(b);
	/* No Kinesis record yet. */
	ck_assert_int_eq(
	    consumer_batch_add(b, 0, b->arena, 0, NULL, 0, b->arena, 0), -1);
	ck_assert_int_eq(consumer_batch_add_kin(b, "12345", 1), 0);
	ck_assert_int_eq(consumer_batch_add_kin(b, "6", 1), -1);
	ck_assert_ptr_null(consumer_batch_copy(b, "abc", 3));
	ck_assert_ptr_nonnull(k = consumer_batch_copy(b, "ab", 2));
	ck_assert_ptr_null(consumer_batch_copy(b, "c", 1));
	/* Pointers outside the arena, or past what was copied, are
	 * refused. */
	ck_assert_int_eq(
	    consumer_batch_add(b, 5, outside, 3, NULL, 0, k, 2), -1);
	ck_assert_int_eq(consumer_batch_add(b, 5, k, 3, NULL, 0, k, 2), -1);
	ck_assert_int_eq(consumer_batch_add(b, 5, k, 1, NULL, 0, k + 1, 1), 0);
	ck_assert_int_eq(consumer_batch_add(b, 7, k, 1, NULL, 0, k, 1), -1);
	ck_assert_int_eq(consumer_batch_add(b, 6, k, 1, NULL, 0, k, 2), 0);
	ck_assert_int_eq(consumer_batch_add(b, 7, k, 1, NULL, 0, k, 1), -1);
	ck_assert_uint_eq(b->n, 2);
	ck_assert_int_eq(consumer_batch_find(b, "12345", 6), 1);
	ck_assert_int_eq(consumer_batch_find(b, "12345", 4), -1);
	consumer_batch_free(b);
	/* Beyond 32-bit offsets. */
	ck_assert_ptr_null(consumer_batch_new(1, 1, (size_t)UINT32_MAX));
}
END_TEST

/* The budget: a call starts only below both limits. */
START_TEST(fetch_budget)
{
	ck_assert(consumer_fetch_allowed(0, 0));
	ck_assert(consumer_fetch_allowed(
	    CONSUMER_FETCH_BUDGET - 1, CONSUMER_MAX_FETCHES - 1));
	ck_assert(!consumer_fetch_allowed(CONSUMER_FETCH_BUDGET, 0));
	ck_assert(!consumer_fetch_allowed(0, CONSUMER_MAX_FETCHES));
}
END_TEST

START_TEST(batch_acks_any_order)
{
	struct consumer_batch *b = batch_sample();
	ssize_t cp;
	size_t i;
	int sent;

	for (size_t k = 0; k < 6; k++) {
		ck_assert(consumer_batch_next(b, &i));
		ck_assert_uint_eq(i, k);
	}
	ck_assert(!consumer_batch_next(b, &i));
	ck_assert_uint_eq(b->n_sent, 6);
	ck_assert_int_eq(consumer_batch_checkpoint(b), -1);

	/* 101/1 acked first: nothing contiguous yet. */
	ck_assert(consumer_batch_ack(b, 2, 1, &sent));
	ck_assert(sent);
	ck_assert_int_eq(consumer_batch_checkpoint(b), -1);
	/* 100/0: the prefix is 100/0 .. 101/1? no: 101/0 is missing. */
	ck_assert(consumer_batch_ack(b, 0, 1, &sent));
	cp = consumer_batch_checkpoint(b);
	ck_assert_int_eq(cp, 0);
	/* 101/0 skipped (ok false) still counts as processed. */
	ck_assert(consumer_batch_ack(b, 1, 0, &sent));
	cp = consumer_batch_checkpoint(b);
	ck_assert_str_eq(consumer_batch_seq(b, (size_t)cp), "101");
	ck_assert_uint_eq(consumer_batch_subseq(b, (size_t)cp), 1);
	ck_assert(b->recs[1].skipped);
	/* A duplicate ack changes nothing. */
	ck_assert(!consumer_batch_ack(b, 1, 1, &sent));
	ck_assert_uint_eq(b->n_done, 3);
	ck_assert_uint_eq(b->n_sent, 3);
	/* Inside the aggregate: 101/3, then 101/2 closes the gap. */
	ck_assert(consumer_batch_ack(b, 4, 1, &sent));
	ck_assert_int_eq(consumer_batch_checkpoint(b), 2);
	ck_assert(consumer_batch_ack(b, 3, 1, &sent));
	cp = consumer_batch_checkpoint(b);
	ck_assert_str_eq(consumer_batch_seq(b, (size_t)cp), "101");
	ck_assert_uint_eq(consumer_batch_subseq(b, (size_t)cp), 3);
	ck_assert(!consumer_batch_complete(b));
	ck_assert(consumer_batch_ack(b, 5, 1, &sent));
	ck_assert(consumer_batch_complete(b));
	ck_assert_int_eq(consumer_batch_checkpoint(b), 5);
	ck_assert_uint_eq(b->n_sent, 0);
	consumer_batch_free(b);
}
END_TEST

START_TEST(batch_redelivery_in_order)
{
	struct consumer_batch *b = batch_sample();
	size_t i;
	int sent;

	/* 4 of 6 sent (max_in_flight), 101/0 and 101/2 acked. */
	for (size_t k = 0; k < 4; k++)
		ck_assert(consumer_batch_next(b, &i));
	consumer_batch_ack(b, 1, 1, &sent);
	consumer_batch_ack(b, 3, 1, &sent);
	ck_assert_uint_eq(b->n_sent, 2);
	/* Timeout: the two unacked ones go again, first, in order. */
	ck_assert_uint_eq(consumer_batch_requeue(b), 2);
	ck_assert_uint_eq(b->n_sent, 0);
	ck_assert(consumer_batch_next(b, &i));
	ck_assert_uint_eq(i, 0);
	ck_assert_uint_eq(b->recs[0].sends, 2);
	ck_assert(consumer_batch_next(b, &i));
	ck_assert_uint_eq(i, 2);
	ck_assert(consumer_batch_next(b, &i));
	ck_assert_uint_eq(i, 4);
	ck_assert_uint_eq(b->recs[4].sends, 1);
	ck_assert(consumer_batch_next(b, &i));
	ck_assert_uint_eq(i, 5);
	ck_assert(!consumer_batch_next(b, &i));
	/* An ack for a record requeued but not sent again still counts,
	 * without being in flight. */
	ck_assert_uint_eq(consumer_batch_requeue(b), 4);
	ck_assert(consumer_batch_ack(b, 0, 1, &sent));
	ck_assert(!sent);
	ck_assert(consumer_batch_next(b, &i));
	ck_assert_uint_eq(i, 2);
	consumer_batch_free(b);
}
END_TEST

/* Large records and many small ones in one batch. */
START_TEST(batch_large)
{
	size_t big = 300 * 1024;
	struct consumer_batch *b = consumer_batch_new(5002, 5002, 4 * big);
	char *data = malloc(big), seq[32];
	const char *p;

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(data);
	memset(data, 'x', big);
	data[big - 1] = 'y';
	ck_assert_int_eq(consumer_batch_add_kin(b, "1", 1), 0);
	ck_assert_ptr_nonnull(p = consumer_batch_copy(b, data, big));
	ck_assert_int_eq(consumer_batch_add(b, 0, p, 1, NULL, 0, p, big), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(seq, sizeof(seq), "%d", 2 + i);
		ck_assert_int_eq(consumer_batch_add_kin(b, seq, 1), 0);
		ck_assert_int_eq(
		    consumer_batch_add(b, 0, arena_str(b, "key"), 3, NULL, 0,
		        arena_str(b, "0123456789"), 10),
		    0);
	}
	ck_assert_int_eq(consumer_batch_add_kin(b, "9999", 1), 0);
	ck_assert_ptr_nonnull(p = consumer_batch_copy(b, data, big));
	ck_assert_int_eq(consumer_batch_add(b, 0, p, 1, NULL, 0, p, big), 0);
	ck_assert_uint_eq(b->n, 5002);
	ck_assert_uint_eq(b->recs[0].len, big);
	ck_assert_int_eq(b->arena[b->recs[0].data + big - 1], 'y');
	ck_assert_int_eq(b->arena[b->recs[5001].data + big - 1], 'y');
	ck_assert_str_eq(consumer_batch_seq(b, 4000), "4001");
	ck_assert_mem_eq(b->arena + b->recs[4000].data, "0123456789", 10);
	ck_assert_int_eq(consumer_batch_find(b, "4001", 0), 4000);
	ck_assert_int_eq(consumer_batch_find(b, "4001", 0), 4000);
	ck_assert_int_eq(consumer_batch_find(b, "17", 0), 16);
	ck_assert_uint_ge(b->bytes, 2 * big + 5000 * 10);
	free(data);
	consumer_batch_free(b);
}
END_TEST

START_TEST(batch_free_null)
{
	consumer_batch_free(NULL);
}
END_TEST

static Suite *
consumer_suite(void)
{
	Suite *s = suite_create("consumer");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, seq_order);
	tcase_add_test(tc, resume_plain_record);
	tcase_add_test(tc, resume_inside_aggregate);
	tcase_add_test(tc, start_from_checkpoint);
	tcase_add_test(tc, start_from_sentinels);
	tcase_add_test(tc, start_from_initial_sequence_number);
	tcase_add_test(tc, fetch_pacing);
	tcase_add_test(tc, tolerance_as_reactive_kinesis);
	tcase_add_test(tc, balance_choice);
	tcase_add_test(tc, balance_converges);
	tcase_add_test(tc, batch_fields);
	tcase_add_test(tc, batch_bounds);
	tcase_add_test(tc, fetch_budget);
	tcase_add_test(tc, batch_acks_any_order);
	tcase_add_test(tc, batch_redelivery_in_order);
	tcase_add_test(tc, batch_large);
	tcase_add_test(tc, batch_free_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(consumer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
