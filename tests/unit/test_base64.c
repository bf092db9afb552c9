/*
 * test_base64.c — aws/base64.c: RFC 4648 vectors, binary round trips, and
 * the strict decoder refusing anything but padded standard base64.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

static const char *const b64_vectors[][2] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_base64_rfc4648)
{
	const char *plain = b64_vectors[_i][0], *enc = b64_vectors[_i][1];
	unsigned char *dec;
	size_t n, dn;
	char *e = aws_base64_encode(plain, strlen(plain), &n);

	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e, enc);
	ck_assert_uint_eq(n, strlen(enc));
	free(e);
	ck_assert_int_eq(aws_base64_decode(enc, strlen(enc), &dec, &dn), 0);
	ck_assert_uint_eq(dn, strlen(plain));
	ck_assert_mem_eq(dec, plain, dn);
	ck_assert_int_eq(dec[dn], 0);
	free(dec);
}
END_TEST

START_TEST(test_base64_binary_roundtrip)
{
	unsigned char buf[1027], *dec;
	size_t n, dn;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(buf); len += 1 + len / 3) {
		char *e = aws_base64_encode(buf, len, &n);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(n, (len + 2) / 3 * 4);
		ck_assert_int_eq(aws_base64_decode(e, n, &dec, &dn), 0);
		ck_assert_uint_eq(dn, len);
		ck_assert_int_eq(memcmp(dec, buf, len), 0);
		free(dec);
		free(e);
	}
}
END_TEST

static const char *const b64_bad[] = {
    "Zg=",      /* length not a multiple of 4 */
    "Zg",       /* no padding */
    "Z===",     /* too much padding */
    "Zg=a",     /* padding in the middle */
    "Zh==",     /* non-zero leftover bits */
    "Zm9=",     /* non-zero leftover bits */
    "Zm9v\n",   /* whitespace */
    "Zm 9",     /* whitespace */
    "Zm9-",     /* the URL alphabet */
    "Zm9_",     /* the URL alphabet */
    "=Zm9",     /* padding first */
    "Zg==Zg==", /* padding before the end */
};

START_TEST(test_base64_invalid)
{
	unsigned char *dec = (unsigned char *)"x";
	size_t dn = 99;

	ck_assert_int_eq(
	    aws_base64_decode(b64_bad[_i], strlen(b64_bad[_i]), &dec, &dn), -1);
	ck_assert_ptr_null(dec);
	ck_assert_uint_eq(dn, 0);
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("codec");

	tcase_add_loop_test(tc, test_base64_rfc4648, 0,
	    (int)(sizeof(b64_vectors) / sizeof(*b64_vectors)));
	tcase_add_test(tc, test_base64_binary_roundtrip);
	tcase_add_loop_test(tc, test_base64_invalid, 0,
	    (int)(sizeof(b64_bad) / sizeof(*b64_bad)));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(base64_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
