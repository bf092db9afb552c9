/*
 * codec.c — the bytes of the protocol: growing buffers, JSON strings,
 * base64 both ways, UTF-8 checks.  Lines are written here by hand (the
 * put path runs per record); they are read with cJSON (events.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_int.h"

int
kdc_buf_reserve(struct kdc_buf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (more > SIZE_MAX - b->len)
		return -1;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	if (b->off > 0 && need - b->off <= b->cap) {
		kdc_buf_compact(b);
		return 0;
	}
	cap = b->cap > 0 ? b->cap : 4096;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void
kdc_buf_compact(struct kdc_buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->p, b->p + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

void
kdc_buf_free(struct kdc_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int
kdc_buf_add(struct kdc_buf *b, const char *s, size_t n)
{
	if (kdc_buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

int
kdc_buf_adds(struct kdc_buf *b, const char *s)
{
	return kdc_buf_add(b, s, strlen(s));
}

/* s must be valid UTF-8 (checked by the callers): bytes from 0x80 go as
 * they are, control characters as \u00XX. */
int
kdc_buf_add_json_string(struct kdc_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	char *o;

	if (n > (SIZE_MAX - 2) / 6 || kdc_buf_reserve(b, n * 6 + 2) == -1)
		return -1;
	o = b->p + b->len;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			*o++ = '\\';
			*o++ = (char)*p;
		} else if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (*p < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[*p >> 4];
			o[5] = hex[*p & 0xf];
			o += 6;
		} else
			*o++ = (char)*p;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
kdc_buf_add_base64(struct kdc_buf *b, const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t i = 0, out;
	char *o;

	if (len > (SIZE_MAX / 4) * 3 - 3)
		return -1;
	out = (len + 2) / 3 * 4;
	if (kdc_buf_reserve(b, out) == -1)
		return -1;
	o = b->p + b->len;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = '=';
	}
	b->len += out;
	return 0;
}

int
kdc_buf_add_u64(struct kdc_buf *b, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	return kdc_buf_add(b, tmp + i, sizeof(tmp) - i);
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
kdc_base64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	const unsigned char *in = (const unsigned char *)s;
	unsigned char *o;
	size_t pad = 0, len = 0;

	*out = NULL;
	*outlen = 0;
	if (n % 4 != 0)
		return -1;
	if (n > 0 && in[n - 1] == '=')
		pad++;
	if (n > 1 && in[n - 2] == '=')
		pad++;
	if ((o = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int last = i + 4 == n;

		for (int j = 0; j < 4; j++) {
			v[j] = b64val(in[i + j]);
			if (v[j] < 0 &&
			    !(last && in[i + j] == '=' && j >= 4 - (int)pad)) {
				free(o);
				return -1;
			}
		}
		o[len++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (!last || pad < 2)
			o[len++] =
			    (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (!last || pad < 1)
			o[len++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	o[len] = '\0';
	*out = o;
	*outlen = len;
	return 0;
}

long
kdc_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long chars = 0;

	while (*p) {
		uint32_t cp;
		int more;

		if (*p < 0x80) {
			p++;
			chars++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			more = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			more = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			more = 3;
		} else
			return -1;
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (*p & 0x3f);
		}
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		chars++;
	}
	return chars;
}

char *
kdc_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}
