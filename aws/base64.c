/*
 * base64.c — standard base64 with padding (RFC 4648 section 4), the
 * encoding of Kinesis record data and of the socket protocol's payloads.
 * See aws.h.
 *
 * The decoder is strict: no whitespace, no missing or misplaced padding,
 * no non-zero bits left over in the last quantum.  Every payload here
 * comes from AWS or from a client that was told to send exactly this.
 */
#include <stdint.h>
#include <stdlib.h>

#include "aws/aws.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
aws_base64_encode_to(const void *data, size_t len, char *out)
{
	const unsigned char *in = data;
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

char *
aws_base64_encode(const void *data, size_t len, size_t *out_len)
{
	size_t o;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc(AWS_BASE64_ENCODED_LEN(len) + 1)) == NULL)
		return NULL;
	o = aws_base64_encode_to(data, len, out);
	out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return out;
}

/*
 * Each character's 6-bit value plus one; 0 marks a character outside the
 * alphabet.  A table, because decoding every put's data is on the
 * producer's hot path.
 */
#define B64_ROW(c0, v0)                                                        \
	[(c0)] = (v0) + 1, [(c0) + 1] = (v0) + 2, [(c0) + 2] = (v0) + 3,       \
	[(c0) + 3] = (v0) + 4, [(c0) + 4] = (v0) + 5, [(c0) + 5] = (v0) + 6,   \
	[(c0) + 6] = (v0) + 7, [(c0) + 7] = (v0) + 8, [(c0) + 8] = (v0) + 9,   \
	[(c0) + 9] = (v0) + 10
static const unsigned char b64_table[256] = {
    B64_ROW('A', 0),
    B64_ROW('K', 10),
    ['U'] = 21,
    ['V'] = 22,
    ['W'] = 23,
    ['X'] = 24,
    ['Y'] = 25,
    ['Z'] = 26,
    B64_ROW('a', 26),
    B64_ROW('k', 36),
    ['u'] = 47,
    ['v'] = 48,
    ['w'] = 49,
    ['x'] = 50,
    ['y'] = 51,
    ['z'] = 52,
    B64_ROW('0', 52),
    ['+'] = 63,
    ['/'] = 64,
};

/* The 6-bit value of c, or -1. */
static int
b64_value(unsigned char c)
{
	return (int)b64_table[c] - 1;
}

int
aws_base64_decode_to(
    const char *in, size_t len, unsigned char *buf, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, o = 0;

	*out_len = 0;
	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
	/* Every quantum but the last has no padding: the plain loop.  Each
	 * quantum is read whole before its (fewer) bytes are written, at or
	 * before where it was read: decoding in place works (aws.h). */
	for (size_t i = 0; i + 4 < len; i += 4) {
		unsigned a = b64_table[s[i]], b = b64_table[s[i + 1]];
		unsigned c = b64_table[s[i + 2]], d = b64_table[s[i + 3]];
		uint32_t q;
		if (a == 0 || b == 0 || c == 0 || d == 0)
			return -1;
		q = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		buf[o++] = (unsigned char)(q >> 16);
		buf[o++] = (unsigned char)(q >> 8);
		buf[o++] = (unsigned char)q;
	}
	for (size_t i = len >= 4 ? len - 4 : len; i < len; i += 4) {
		int last = 1;
		int v[4];
		for (int j = 0; j < 4; j++) {
			/* '=' only in the padding positions of the last
			 * quantum. */
			if (last && j >= 4 - (int)pad) {
				v[j] = 0;
				continue;
			}
			if ((v[j] = b64_value(s[i + j])) < 0)
				return -1;
		}
		uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		             (uint32_t)v[2] << 6 | (uint32_t)v[3];
		buf[o++] = (unsigned char)(q >> 16);
		if (last && pad == 2) {
			if ((q & 0xffff) != 0)
				return -1;
			break;
		}
		buf[o++] = (unsigned char)(q >> 8);
		if (last && pad == 1) {
			if ((q & 0xff) != 0)
				return -1;
			break;
		}
		buf[o++] = (unsigned char)q;
	}
	*out_len = o;
	return 0;
}

int
aws_base64_decode(
    const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0 || (buf = malloc(len / 4 * 3 + 1)) == NULL)
		return -1;
	if (aws_base64_decode_to(in, len, buf, out_len) == -1) {
		free(buf);
		return -1;
	}
	buf[*out_len] = '\0';
	*out = buf;
	return 0;
}
