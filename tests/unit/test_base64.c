/*
 * test_base64.c — aws/base64.c: RFC 4648 vectors, binary round trips, and
 * the strict decoder refusing anything but padded standard base64; and
 * aws/jsonstr.c's quoted strings, read back by cJSON.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

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

/* The _to forms write exactly the bytes the allocating forms return,
 * within their stated room, and nothing past it. */
START_TEST(test_base64_into_caller_memory)
{
	unsigned char buf[300], dec[300 + 8];
	char enc[AWS_BASE64_ENCODED_LEN(300) + 8];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 13 + 1);
	for (size_t len = 0; len <= sizeof(buf); len++) {
		size_t n, dn;
		char *e = aws_base64_encode(buf, len, &n);

		memset(enc, '#', sizeof(enc));
		ck_assert_uint_eq(aws_base64_encode_to(buf, len, enc), n);
		ck_assert_uint_eq(n, AWS_BASE64_ENCODED_LEN(len));
		ck_assert_mem_eq(enc, e, n);
		ck_assert_int_eq(enc[n], '#');
		memset(dec, '#', sizeof(dec));
		ck_assert_int_eq(aws_base64_decode_to(e, n, dec, &dn), 0);
		ck_assert_uint_eq(dn, len);
		ck_assert_uint_le(dn, AWS_BASE64_DECODED_MAX(n));
		ck_assert_mem_eq(dec, buf, len);
		ck_assert_int_eq(dec[AWS_BASE64_DECODED_MAX(n)], '#');
		free(e);
	}
}
END_TEST

/* Every byte 1..255 in a string (UTF-8 where it has to be), quoted by
 * hand and read back by cJSON: the same text comes back. */
START_TEST(test_json_quote)
{
	char text[512], out[AWS_JSON_QUOTED_MAX(512) + 1];
	size_t n = 0, q;
	cJSON *j;

	for (int c = 1; c < 128; c++)
		text[n++] = (char)c;
	memcpy(text + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	n += 9;
	q = aws_json_quote_to(text, n, out);
	ck_assert_uint_le(q, AWS_JSON_QUOTED_MAX(n));
	out[q] = '\0';
	j = cJSON_Parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert(cJSON_IsString(j));
	ck_assert_uint_eq(strlen(j->valuestring), n);
	ck_assert_mem_eq(j->valuestring, text, n);
	cJSON_Delete(j);
	/* The worst case is all control characters. */
	memset(text, 1, 10);
	ck_assert_uint_eq(
	    aws_json_quote_to(text, 10, out), AWS_JSON_QUOTED_MAX(10));
	ck_assert_uint_eq(aws_json_quote_to("", 0, out), 2);
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

/* decode_to in place, over the base64 itself (as kinesis/api.c decodes
 * GetRecords' Data). */
START_TEST(test_base64_in_place)
{
	unsigned char bin[256];
	char text[400];
	size_t n, len;

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(255 - i);
	for (size_t k = 0; k <= sizeof(bin); k += k < 8 ? 1 : 37) {
		n = aws_base64_encode_to(bin, k, text);
		ck_assert_int_eq(
		    aws_base64_decode_to(text, n, (unsigned char *)text, &len),
		    0);
		ck_assert_uint_eq(len, k);
		ck_assert_mem_eq(text, bin, k);
	}
	memcpy(text, "Zh==", 4);
	ck_assert_int_eq(
	    aws_base64_decode_to(text, 4, (unsigned char *)text, &len), -1);
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
	tcase_add_test(tc, test_base64_in_place);
	tcase_add_test(tc, test_base64_into_caller_memory);
	tcase_add_test(tc, test_json_quote);
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
