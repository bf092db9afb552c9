/*
 * test_retry.c — aws/retry.c: the classification table (error types,
 * HTTP statuses, transport errors) and the bounds of the capped
 * exponential back-off with full jitter.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "aws/aws.h"

struct classify_case {
	long status;
	const char *type;
	int transport;
	enum aws_err want;
};

static const struct classify_case classify_cases[] = {
    /* Throttling, whatever the status it comes with. */
    {400, "ProvisionedThroughputExceededException", 0, AWS_ERR_THROTTLED},
    {400, "LimitExceededException", 0, AWS_ERR_THROTTLED},
    {400, "ThrottlingException", 0, AWS_ERR_THROTTLED},
    {400, "Throttling", 0, AWS_ERR_THROTTLED},
    {400, "RequestLimitExceeded", 0, AWS_ERR_THROTTLED},
    {400, "KMSThrottlingException", 0, AWS_ERR_THROTTLED},
    {429, "TooManyRequestsException", 0, AWS_ERR_THROTTLED},
    {400, "RequestThrottled", 0, AWS_ERR_THROTTLED},
    {503, "ThrottlingException", 0, AWS_ERR_THROTTLED},
    {429, NULL, 0, AWS_ERR_THROTTLED},
    {429, "", 0, AWS_ERR_THROTTLED},
    /* Server-side failures. */
    {500, "InternalFailure", 0, AWS_ERR_RETRIABLE},
    {500, "InternalServerError", 0, AWS_ERR_RETRIABLE},
    {503, "ServiceUnavailable", 0, AWS_ERR_RETRIABLE},
    {500, NULL, 0, AWS_ERR_RETRIABLE},
    {502, NULL, 0, AWS_ERR_RETRIABLE},
    {503, NULL, 0, AWS_ERR_RETRIABLE},
    {504, NULL, 0, AWS_ERR_RETRIABLE},
    {599, NULL, 0, AWS_ERR_RETRIABLE},
    {500, "SomethingNew", 0, AWS_ERR_RETRIABLE},
    /* Expired credentials: refresh, then retry. */
    {400, "ExpiredTokenException", 0, AWS_ERR_CREDENTIALS},
    {403, "ExpiredToken", 0, AWS_ERR_CREDENTIALS},
    {403, "RequestExpired", 0, AWS_ERR_CREDENTIALS},
    /* Not expiry: fresh credentials from the same chain won't help. */
    {400, "InvalidSignatureException", 0, AWS_ERR_TERMINAL},
    {403, "UnrecognizedClientException", 0, AWS_ERR_TERMINAL},
    {403, "AccessDeniedException", 0, AWS_ERR_TERMINAL},
    {400, "ResourceNotFoundException", 0, AWS_ERR_TERMINAL},
    {400, "ConditionalCheckFailedException", 0, AWS_ERR_TERMINAL},
    {400, "ValidationException", 0, AWS_ERR_TERMINAL},
    {400, "ResourceInUseException", 0, AWS_ERR_TERMINAL},
    {400, NULL, 0, AWS_ERR_TERMINAL},
    {404, NULL, 0, AWS_ERR_TERMINAL},
    {301, NULL, 0, AWS_ERR_TERMINAL},
    /* Success. */
    {200, NULL, 0, AWS_OK},
    {204, "", 0, AWS_OK},
    /* Transport errors. */
    {0, NULL, CURLE_OPERATION_TIMEDOUT, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_COULDNT_CONNECT, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_RECV_ERROR, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_SEND_ERROR, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_GOT_NOTHING, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_PARTIAL_FILE, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_COULDNT_RESOLVE_HOST, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_SSL_CONNECT_ERROR, AWS_ERR_RETRIABLE},
    {0, NULL, CURLE_URL_MALFORMAT, AWS_ERR_TERMINAL},
    {0, NULL, CURLE_UNSUPPORTED_PROTOCOL, AWS_ERR_TERMINAL},
    {0, NULL, CURLE_PEER_FAILED_VERIFICATION, AWS_ERR_TERMINAL},
    {0, NULL, CURLE_WRITE_ERROR, AWS_ERR_TERMINAL},
    /* Nothing at all is a broken exchange. */
    {0, NULL, 0, AWS_ERR_RETRIABLE},
};

START_TEST(test_classify)
{
	const struct classify_case *c = &classify_cases[_i];
	enum aws_err got = aws_retry_classify(c->status, c->type, c->transport);

	ck_assert_msg(got == c->want, "(%ld, %s, %d): got %s, want %s",
	    c->status, c->type != NULL ? c->type : "NULL", c->transport,
	    aws_err_name(got), aws_err_name(c->want));
}
END_TEST

START_TEST(test_err_names)
{
	ck_assert_str_eq(aws_err_name(AWS_OK), "ok");
	ck_assert_str_eq(aws_err_name(AWS_ERR_THROTTLED), "throttled");
	ck_assert_str_eq(aws_err_name(AWS_ERR_RETRIABLE), "retriable");
	ck_assert_str_eq(aws_err_name(AWS_ERR_CREDENTIALS), "credentials");
	ck_assert_str_eq(aws_err_name(AWS_ERR_TERMINAL), "terminal");
}
END_TEST

START_TEST(test_backoff_bounds)
{
	/* Never above min(cap, base * 2^(attempt-1)), whatever rnd is. */
	static const uint32_t rnds[] = {
	    0, 1, 12345, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
	for (unsigned attempt = 1; attempt <= 70; attempt++) {
		uint64_t ceiling = 100;
		for (unsigned i = 1; i < attempt && ceiling < 20000; i++)
			ceiling *= 2;
		if (ceiling > 20000)
			ceiling = 20000;
		for (size_t r = 0; r < sizeof(rnds) / sizeof(*rnds); r++) {
			uint64_t d =
			    aws_retry_backoff_ms(attempt, 100, 20000, rnds[r]);
			ck_assert_msg(d <= ceiling,
			    "attempt %u rnd %u: %llu > %llu", attempt, rnds[r],
			    (unsigned long long)d, (unsigned long long)ceiling);
		}
		/* Full jitter reaches both ends of the range. */
		ck_assert_uint_eq(
		    aws_retry_backoff_ms(attempt, 100, 20000, 0), 0);
		ck_assert_uint_ge(
		    aws_retry_backoff_ms(attempt, 100, 20000, 0xffffffff),
		    ceiling - 1);
	}
}
END_TEST

START_TEST(test_backoff_grows)
{
	/* With the top random value the delay tracks the ceiling. */
	ck_assert_uint_eq(aws_retry_backoff_ms(1, 100, 10000, 0xffffffff), 100);
	ck_assert_uint_eq(aws_retry_backoff_ms(2, 100, 10000, 0xffffffff), 200);
	ck_assert_uint_eq(aws_retry_backoff_ms(3, 100, 10000, 0xffffffff), 400);
	ck_assert_uint_eq(
	    aws_retry_backoff_ms(8, 100, 10000, 0xffffffff), 10000);
	ck_assert_uint_eq(
	    aws_retry_backoff_ms(1000, 100, 10000, 0xffffffff), 10000);
	/* Half the random range gives about half the ceiling. */
	uint64_t d = aws_retry_backoff_ms(3, 100, 10000, 0x80000000);
	ck_assert_uint_ge(d, 199);
	ck_assert_uint_le(d, 201);
	/* Attempt 0 is treated as the first. */
	ck_assert_uint_eq(aws_retry_backoff_ms(0, 100, 10000, 0xffffffff), 100);
}
END_TEST

START_TEST(test_backoff_huge)
{
	/* No overflow with absurd bases, caps and attempts. */
	uint64_t d =
	    aws_retry_backoff_ms(200, UINT64_MAX / 3, UINT64_MAX, 0xffffffff);
	ck_assert_uint_le(d, UINT64_MAX);
	ck_assert_uint_gt(d, UINT64_MAX / 2);
	ck_assert_uint_eq(aws_retry_backoff_ms(64, 1, UINT64_MAX, 0), 0);
	ck_assert_uint_eq(aws_retry_backoff_ms(5, 0, 1000, 0xffffffff), 0);
	ck_assert_uint_eq(aws_retry_backoff_ms(5, 100, 0, 0xffffffff), 0);
}
END_TEST

START_TEST(test_backoff_spread)
{
	/* Uniform-ish: the mean of many draws is near half the ceiling. */
	uint64_t sum = 0, x = 88172645463325252ULL;
	const unsigned n = 20000;

	for (unsigned i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sum += aws_retry_backoff_ms(4, 100, 10000, (uint32_t)x);
	}
	ck_assert_uint_ge(sum / n, 380);
	ck_assert_uint_le(sum / n, 420);
}
END_TEST

static Suite *
retry_suite(void)
{
	Suite *s = suite_create("retry");
	TCase *tc;

	tc = tcase_create("classify");
	tcase_add_loop_test(tc, test_classify, 0,
	    (int)(sizeof(classify_cases) / sizeof(*classify_cases)));
	tcase_add_test(tc, test_err_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_add_test(tc, test_backoff_bounds);
	tcase_add_test(tc, test_backoff_grows);
	tcase_add_test(tc, test_backoff_huge);
	tcase_add_test(tc, test_backoff_spread);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(retry_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
