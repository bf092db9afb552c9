/*
 * request.c — the request scanner: one pass over a line that checks it is
 * exactly one JSON value (RFC 8259) and, when it is an object, records its
 * top-level members.
 *
 * Why not a JSON library: a put line is the daemon's most frequent input,
 * and building a tree for it (an allocation per member and per string,
 * strtod for every number, a lookup by strcmp per field) cost more than
 * everything else the producer does with the record.  Requests are flat
 * (SPEC section 3), so the scanner only needs to record the top level:
 * nested values are checked and skipped, never built, and strings are
 * unescaped into one buffer the connection keeps, so a steady stream of
 * requests allocates nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "ipc/ipc_int.h"

/* Sizes kept after a line; anything larger was one unusual line. */
#define KEEP_MEMBERS 64
#define KEEP_BUF     65536

struct scan {
	const char *start, *p, *end;
	struct ipc_req *r;
	const char *why; /* the first error */
	const char *at;
	int nul;   /* a string held U+0000 */
	int nomem; /* the member array could not grow */
};

static int
scan_fail(struct scan *s, const char *why)
{
	if (s->why == NULL) {
		s->why = why;
		s->at = s->p;
	}
	return -1;
}

static void
scan_blanks(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	                            *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Appends cp as UTF-8 at o (room for 4 bytes is the caller's). */
static char *
put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/*
 * A \u escape at s->p (just past the backslash and the u), with its low
 * surrogate when it is a high one.  The code point, or -1.
 */
static int64_t
scan_unicode(struct scan *s)
{
	uint32_t hi, lo;

	if (s->end - s->p < 4 || hex4(s->p, &hi) == -1)
		return scan_fail(s, "\\u needs four hex digits");
	s->p += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return scan_fail(s, "\\u escape is a lone low surrogate");
	if (hi < 0xd800 || hi > 0xdbff)
		return hi;
	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
	    hex4(s->p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
		return scan_fail(
		    s, "\\u escape is a high surrogate without its low half");
	s->p += 6;
	return 0x10000 + (((int64_t)hi - 0xd800) << 10) + (lo - 0xdc00);
}

/*
 * One UTF-8 sequence at s->p (its lead byte >= 0x80), by RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF.  Its length, or 0.
 */
static size_t
utf8_seq(const struct scan *s)
{
	const unsigned char *p = (const unsigned char *)s->p;
	size_t len, avail = (size_t)(s->end - s->p);
	uint32_t cp;

	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > avail)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Whether any of the 8 bytes at p may end a run of plain characters: a
 * quote, a backslash, a control character or a non-ASCII byte.  The
 * classic "has a zero byte" test (x - 0x01..) & ~x & 0x80.., applied to
 * the word XORed with each of the two characters, and the same shape for
 * "below 0x20"; it may say yes for a plain byte after a special one (a
 * borrow), never no for a special one, and a yes only sends the caller to
 * its byte-by-byte loop.
 */
static int
word_special(const char *p)
{
	const uint64_t ones = 0x0101010101010101ull,
	               high = 0x8080808080808080ull;
	uint64_t v, q, b;

	memcpy(&v, p, 8);
	q = v ^ (ones * '"');
	b = v ^ (ones * '\\');
	return ((((q - ones) & ~q) | ((b - ones) & ~b) |
	            ((v - ones * 0x20) & ~v) | v) &
	           high) != 0;
}

/*
 * A string at s->p (on its opening quote).  With out, its unescaped text
 * and a NUL go to *out (room for the escaped length is the caller's) and
 * *len is the text's length.  0, or -1.
 */
static int
scan_string(struct scan *s, char **out, size_t *len)
{
	char *o = out != NULL ? *out : NULL, *o0 = o;

	s->p++; /* the quote */
	for (;;) {
		const char *run = s->p;
		unsigned char c;

		/* The common case: a run of plain ASCII characters, eight at
		 * a time while no byte of the word may end it. */
		while (s->end - s->p >= 8 && !word_special(s->p))
			s->p += 8;
		while (s->p < s->end && (c = (unsigned char)*s->p) != '"' &&
		       c != '\\' && c >= 0x20 && c < 0x80)
			s->p++;
		if (o != NULL) {
			memcpy(o, run, (size_t)(s->p - run));
			o += s->p - run;
		}
		if (s->p == s->end)
			return scan_fail(s, "string without its closing quote");
		c = (unsigned char)*s->p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			/* Strings are the only place for non-ASCII bytes, so
			 * the line's UTF-8 is checked here, in the same pass.
			 */
			size_t n = utf8_seq(s);
			if (n == 0)
				return scan_fail(s, "invalid UTF-8");
			if (o != NULL) {
				memcpy(o, s->p, n);
				o += n;
			}
			s->p += n;
			continue;
		}
		if (c < 0x20)
			return scan_fail(s,
			    "control character inside a string; "
			    "escape it (\\n, \\t, \\u00XX)");
		/* A backslash. */
		if (++s->p == s->end)
			return scan_fail(s, "string without its closing quote");
		switch (*s->p++) {
		case '"':
			c = '"';
			break;
		case '\\':
			c = '\\';
			break;
		case '/':
			c = '/';
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u': {
			int64_t cp = scan_unicode(s);
			if (cp == -1)
				return -1;
			if (cp == 0)
				s->nul = 1;
			if (o != NULL)
				o = put_utf8(o, (uint32_t)cp);
			continue;
		}
		default:
			s->p--;
			return scan_fail(s, "unknown escape in a string");
		}
		if (o != NULL)
			*o++ = (char)c;
	}
	s->p++; /* the closing quote */
	if (o != NULL) {
		*o = '\0';
		*len = (size_t)(o - o0);
		*out = o + 1;
	}
	return 0;
}

static int
is_digit(const struct scan *s)
{
	return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

/* A number at s->p: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (!is_digit(s))
		return scan_fail(s, "a number needs digits");
	if (*s->p++ != '0')
		while (is_digit(s))
			s->p++;
	else if (is_digit(s))
		return scan_fail(s, "numbers have no leading zeros");
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!is_digit(s))
			return scan_fail(s, "a number needs digits after '.'");
		while (is_digit(s))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!is_digit(s))
			return scan_fail(
			    s, "a number needs digits in its exponent");
		while (is_digit(s))
			s->p++;
	}
	return 0;
}

static int
scan_word(struct scan *s, const char *word, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return scan_fail(s,
		    "unexpected character; a value is a string, "
		    "number, object, array, true, false or null");
	s->p += n;
	return 0;
}

static int scan_value(struct scan *, int depth, struct ipc_member *);

/*
 * An object or an array at s->p; with members (depth 0 only), each member
 * of the object is recorded in s->r.
 */
static int
scan_container(struct scan *s, int depth, int members)
{
	char close = *s->p == '{' ? '}' : ']';

	if (depth >= IPC_SCAN_MAX_DEPTH)
		return scan_fail(s, "nested too deeply");
	s->p++;
	scan_blanks(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		struct ipc_member *m = NULL;

		if (close == '}') {
			char *name;

			if (s->p == s->end || *s->p != '"')
				return scan_fail(
				    s, "expected a member name in quotes");
			if (members) {
				struct ipc_req *r = s->r;

				if (r->n == r->cap) {
					size_t cap =
					    r->cap > 0 ? 2 * r->cap : 16;
					void *v =
					    realloc(r->m, cap * sizeof(*r->m));
					if (v == NULL) {
						s->nomem = 1;
						return scan_fail(
						    s, "out of memory");
					}
					r->m = v;
					r->cap = cap;
				}
				m = &r->m[r->n++];
				name = r->buf + r->buf_len;
				m->name = name;
				if (scan_string(s, &name, &m->name_len) == -1)
					return -1;
				r->buf_len = (size_t)(name - r->buf);
			} else if (scan_string(s, NULL, NULL) == -1)
				return -1;
			scan_blanks(s);
			if (s->p == s->end || *s->p != ':')
				return scan_fail(
				    s, "expected ':' after a member name");
			s->p++;
			scan_blanks(s);
		}
		if (scan_value(s, depth + 1, m) == -1)
			return -1;
		scan_blanks(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			scan_blanks(s);
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		return scan_fail(s, close == '}' ? "expected ',' or '}'"
		                                 : "expected ',' or ']'");
	}
}

/* A value at s->p (blanks skipped); with m, recorded there. */
static int
scan_value(struct scan *s, int depth, struct ipc_member *m)
{
	const char *from = s->p;
	struct ipc_req *r = s->r;
	enum ipc_type type;

	if (s->p == s->end)
		return scan_fail(s, "expected a value");
	switch (*s->p) {
	case '"':
		type = IPC_STRING;
		if (m != NULL) {
			char *o = r->buf + r->buf_len;
			m->v.str = o;
			if (scan_string(s, &o, &m->v.len) == -1)
				return -1;
			r->buf_len = (size_t)(o - r->buf);
		} else if (scan_string(s, NULL, NULL) == -1)
			return -1;
		break;
	case '{':
	case '[':
		type = *s->p == '{' ? IPC_OBJECT : IPC_ARRAY;
		if (scan_container(s, depth, 0) == -1)
			return -1;
		break;
	case 't':
		type = IPC_TRUE;
		if (scan_word(s, "true", 4) == -1)
			return -1;
		break;
	case 'f':
		type = IPC_FALSE;
		if (scan_word(s, "false", 5) == -1)
			return -1;
		break;
	case 'n':
		type = IPC_NULL;
		if (scan_word(s, "null", 4) == -1)
			return -1;
		break;
	default:
		type = IPC_NUMBER;
		if (scan_number(s) == -1)
			return -1;
		if (m != NULL) {
			char *o = r->buf + r->buf_len;
			m->v.str = o;
			m->v.len = (size_t)(s->p - from);
			memcpy(o, from, m->v.len);
			o[m->v.len] = '\0';
			r->buf_len += m->v.len + 1;
		}
		break;
	}
	if (m != NULL) {
		m->v.type = type;
		if (type != IPC_STRING && type != IPC_NUMBER) {
			m->v.str = NULL;
			m->v.len = 0;
		}
		m->raw = from;
		m->raw_len = (size_t)(s->p - from);
	}
	return 0;
}

enum ipc_scan
ipc_req_scan(struct ipc_req *r, const char *line, size_t len, const char **why,
    size_t *at)
{
	struct scan s = {.start = line, .p = line, .end = line + len, .r = r};
	int object;

	/*
	 * Everything copied out of the line is shorter than what it was in
	 * the line: a string loses its two quotes and gains a NUL, and a
	 * member's number is followed by at least a ',' or a '}'.  So len + 1
	 * bytes always hold the unescaped text.
	 */
	if (r->buf_cap < len + 1) {
		char *b = realloc(r->buf, len + 1);
		if (b == NULL)
			return IPC_SCAN_NOMEM;
		r->buf = b;
		r->buf_cap = len + 1;
	}
	r->n = 0;
	r->buf_len = 0;
	scan_blanks(&s);
	object = s.p < s.end && *s.p == '{';
	if ((object ? scan_container(&s, 0, 1) : scan_value(&s, 0, NULL)) ==
	    0) {
		scan_blanks(&s);
		if (s.p != s.end)
			scan_fail(&s, "more after the first value; send one "
			              "object per line");
	}
	if (s.why != NULL) {
		*why = s.why;
		*at = (size_t)(s.at - s.start);
		r->n = 0;
		return s.nomem ? IPC_SCAN_NOMEM : IPC_SCAN_BAD_JSON;
	}
	if (!object)
		return IPC_SCAN_NOT_OBJECT;
	return s.nul ? IPC_SCAN_NUL : IPC_SCAN_OBJECT;
}

void
ipc_req_trim(struct ipc_req *r)
{
	if (r->cap > KEEP_MEMBERS) {
		free(r->m);
		r->m = NULL;
		r->cap = 0;
	}
	if (r->buf_cap > KEEP_BUF) {
		free(r->buf);
		r->buf = NULL;
		r->buf_cap = 0;
	}
	r->n = 0;
	r->buf_len = 0;
}

void
ipc_req_free(struct ipc_req *r)
{
	free(r->m);
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

const struct ipc_value *
ipc_req_get(const struct ipc_req *r, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < r->n; i++)
		if (r->m[i].name_len == len &&
		    memcmp(r->m[i].name, name, len) == 0)
			return &r->m[i].v;
	return NULL;
}

const char *
ipc_req_string(const struct ipc_req *r, const char *name)
{
	const struct ipc_value *v = ipc_req_get(r, name);

	return v != NULL && v->type == IPC_STRING && v->len > 0 ? v->str : NULL;
}

int
ipc_value_uint(const struct ipc_value *v, uint64_t max, uint64_t *out)
{
	const uint64_t exact = UINT64_C(9007199254740992); /* 2^53 */
	uint64_t n = 0;
	size_t i;
	double d;

	if (v == NULL || v->type != IPC_NUMBER)
		return -1;
	if (max > exact)
		max = exact;
	/* Plain digits, the usual case; anything else (7.0, 7e0) by strtod. */
	for (i = 0; i < v->len && v->str[i] >= '0' && v->str[i] <= '9'; i++) {
		n = n * 10 + (uint64_t)(v->str[i] - '0');
		if (n > max)
			return -1;
	}
	if (i < v->len) {
		d = strtod(v->str, NULL);
		if (!(d >= 0) || d != floor(d) || d > (double)max)
			return -1;
		n = (uint64_t)d;
	}
	*out = n;
	return 0;
}
