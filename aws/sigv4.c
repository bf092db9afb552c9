/*
 * Signature Version 4 (AWS4-HMAC-SHA256) for requests signed in the
 * Authorization header.
 *
 * Four steps, each a small function below:
 *   1. the canonical request: method, canonical URI, canonical query string,
 *      canonical headers, signed headers, hex SHA-256 of the payload;
 *   2. the string to sign: algorithm, x-amz-date, credential scope and the
 *      hex SHA-256 of the canonical request;
 *   3. the signing key: an HMAC chain over date, region, service and
 *      "aws4_request", seeded with "AWS4" + secret key; it only changes once
 *      a day, so it is cached;
 *   4. the signature: hex HMAC of the string to sign under that key.
 *
 * The rules follow the AWS documentation and are checked against AWS's own
 * test suite and against botocore (tests/unit/test_sigv4.c).  Where the two
 * documents leave room, botocore's choice wins: it is what the integration
 * tests verify our requests with.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws.h"

#define SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SHA256_LEN       32
#define SHA256_HEX_LEN   (2 * SHA256_LEN)

/* ---- a growable string ------------------------------------------------- */

/*
 * Building the canonical request is a long run of appends; rather than
 * check each one, the buffer remembers that an allocation failed and
 * sigv4_buf_finish() reports it once.  Every allocation is still checked.
 */
struct sigv4_buf {
	char *p;
	size_t len;
	size_t cap;
	int failed;
};

/*
 * Grows by copying rather than realloc, so that the old block can be wiped:
 * buffers may hold the secret key or the session token.
 */
static void
sigv4_buf_add(struct sigv4_buf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->failed)
		return;
	if (n > SIZE_MAX / 2 - b->len - 1) {
		b->failed = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = malloc(ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			OPENSSL_cleanse(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sigv4_buf_adds(struct sigv4_buf *b, const char *s)
{
	sigv4_buf_add(b, s, strlen(s));
}

static void
sigv4_buf_addc(struct sigv4_buf *b, char c)
{
	sigv4_buf_add(b, &c, 1);
}

/* Frees the buffer, wiping it first (see sigv4_buf_add). */
static void
sigv4_buf_free(struct sigv4_buf *b)
{
	if (b->p != NULL) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/*
 * Hands the string over to the caller (who frees it), or returns NULL if
 * any append failed.  An empty buffer yields "".
 */
static char *
sigv4_buf_finish(struct sigv4_buf *b)
{
	char *s;

	if (!b->failed && b->p == NULL)
		sigv4_buf_add(b, "", 0);
	if (b->failed) {
		sigv4_buf_free(b);
		return NULL;
	}
	s = b->p;
	memset(b, 0, sizeof(*b));
	return s;
}

/* ---- encoding ------------------------------------------------------------ */

static void
sigv4_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* RFC 3986 unreserved characters, the only ones SigV4 leaves unencoded. */
static int
sigv4_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* SigV4 wants upper-case hex digits in percent-encodings. */
static void
sigv4_encode_byte(struct sigv4_buf *b, unsigned char c)
{
	static const char digits[] = "0123456789ABCDEF";
	char esc[3];

	if (sigv4_unreserved(c)) {
		sigv4_buf_addc(b, (char)c);
		return;
	}
	esc[0] = '%';
	esc[1] = digits[c >> 4];
	esc[2] = digits[c & 0xf];
	sigv4_buf_add(b, esc, sizeof(esc));
}

static void
sigv4_encode(struct sigv4_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sigv4_encode_byte(b, (unsigned char)s[i]);
}

static int
sigv4_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Encodes a query key or value that may or may not be percent-encoded
 * already: valid %XX escapes are decoded first, so "%2f", "%2F" and a raw
 * "/" all come out as "%2F".  A '%' not followed by two hex digits is a
 * literal percent sign.
 */
static void
sigv4_reencode(struct sigv4_buf *b, const char *s, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (hi = sigv4_hexval(s[i + 1])) >= 0 &&
		    (lo = sigv4_hexval(s[i + 2])) >= 0) {
			sigv4_encode_byte(b, (unsigned char)(hi << 4 | lo));
			i += 2;
		} else
			sigv4_encode_byte(b, (unsigned char)s[i]);
	}
}

static int
sigv4_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static char
sigv4_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char
sigv4_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static void
sigv4_add_lower(struct sigv4_buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		sigv4_buf_addc(b, sigv4_lower(*s));
}

static void
sigv4_add_upper(struct sigv4_buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		sigv4_buf_addc(b, sigv4_upper(*s));
}

/* ---- canonical URI ------------------------------------------------------- */

struct sigv4_seg {
	const char *p;
	size_t n;
};

/*
 * The canonical URI: the path with empty, "." and ".." segments removed
 * (RFC 3986 section 5.2.4, plus AWS's collapsing of repeated slashes) and
 * each remaining segment URI-encoded.
 *
 * The path is taken as sent, so an escape in it such as "%20" is encoded
 * again to "%2520": for every service but S3, AWS signs the wire path
 * encoded once more, and botocore does the same.  The test suite's .req
 * files carry unencoded paths ("/example space/"), which this encodes
 * exactly once, as the suite expects.  (S3 wants neither the second
 * encoding nor the normalization; kinesisd never talks to S3.)
 *
 * A trailing slash survives when something is left before it: "/a//" gives
 * "/a/", "/a/.." gives "/", "/a/b/.." gives "/a" -- botocore's rules.
 */
static int
sigv4_canonical_uri(struct sigv4_buf *b, const char *path)
{
	struct sigv4_seg *segs;
	const char *p, *end;
	size_t maxsegs = 1, nsegs = 0, n, i;

	if (path == NULL || *path == '\0') {
		sigv4_buf_addc(b, '/');
		return 0;
	}
	for (p = path; *p != '\0'; p++)
		if (*p == '/')
			maxsegs++;
	if ((segs = calloc(maxsegs, sizeof(*segs))) == NULL)
		return -1;

	for (p = path;; p = end + 1) {
		if ((end = strchr(p, '/')) == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (nsegs > 0)
				nsegs--;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			segs[nsegs].p = p;
			segs[nsegs].n = n;
			nsegs++;
		}
		if (*end == '\0')
			break;
	}

	for (i = 0; i < nsegs; i++) {
		sigv4_buf_addc(b, '/');
		sigv4_encode(b, segs[i].p, segs[i].n);
	}
	if (nsegs == 0 || path[strlen(path) - 1] == '/')
		sigv4_buf_addc(b, '/');
	free(segs);
	return 0;
}

/* ---- canonical query string ---------------------------------------------- */

struct sigv4_param {
	char *key;   /* encoded */
	char *value; /* encoded */
};

static int
sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_param *x = a, *y = b;
	int c;

	/* Byte order of the encoded forms, key first, as AWS specifies. */
	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return strcmp(x->value, y->value);
}

static char *
sigv4_reencode_dup(const char *s, size_t n)
{
	struct sigv4_buf b = {0};

	sigv4_reencode(&b, s, n);
	return sigv4_buf_finish(&b);
}

/*
 * Splits the query into key=value pairs (a pair without '=' has an empty
 * value), normalizes the encoding of each key and value, and sorts them.
 * Empty pairs ("a=1&&b=2") carry nothing and are dropped.
 */
static int
sigv4_canonical_query(struct sigv4_buf *b, const char *query)
{
	struct sigv4_param *params;
	const char *p, *end, *eq;
	size_t maxparams = 1, n = 0, i;
	int rc = -1;

	if (query == NULL || *query == '\0')
		return 0;
	for (p = query; *p != '\0'; p++)
		if (*p == '&')
			maxparams++;
	if ((params = calloc(maxparams, sizeof(*params))) == NULL)
		return -1;

	for (p = query;; p = end + 1) {
		if ((end = strchr(p, '&')) == NULL)
			end = p + strlen(p);
		if (end > p) {
			if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
				eq = end;
			params[n].key = sigv4_reencode_dup(p, (size_t)(eq - p));
			params[n].value = eq == end
			                      ? sigv4_reencode_dup("", 0)
			                      : sigv4_reencode_dup(eq + 1,
			                            (size_t)(end - eq - 1));
			n++;
			if (params[n - 1].key == NULL ||
			    params[n - 1].value == NULL)
				goto out;
		}
		if (*end == '\0')
			break;
	}

	qsort(params, n, sizeof(*params), sigv4_param_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sigv4_buf_addc(b, '&');
		sigv4_buf_adds(b, params[i].key);
		sigv4_buf_addc(b, '=');
		sigv4_buf_adds(b, params[i].value);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	free(params);
	return rc;
}

/* ---- canonical headers --------------------------------------------------- */

struct sigv4_hdr {
	const struct aws_header *h;
	size_t pos; /* in the request, so equal names keep their order */
};

/*
 * Compares header names as their lower-case forms would compare, without
 * depending on the locale.
 */
static int
sigv4_name_cmp(const char *a, const char *b)
{
	unsigned char ca, cb;

	do {
		ca = (unsigned char)sigv4_lower(*a++);
		cb = (unsigned char)sigv4_lower(*b++);
	} while (ca != '\0' && ca == cb);
	return (ca > cb) - (ca < cb);
}

static int
sigv4_hdr_cmp(const void *a, const void *b)
{
	const struct sigv4_hdr *x = a, *y = b;
	int c;

	/* qsort is not stable: fall back on the position in the request. */
	if ((c = sigv4_name_cmp(x->h->name, y->h->name)) != 0)
		return c;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Appends a header value with leading and trailing white space removed and
 * inner runs of white space collapsed to one space ("Trimall").
 */
static void
sigv4_add_trimmed(struct sigv4_buf *b, const char *v)
{
	int started = 0, gap = 0;

	for (; v != NULL && *v != '\0'; v++) {
		if (sigv4_space(*v)) {
			gap = started;
			continue;
		}
		if (gap)
			sigv4_buf_addc(b, ' ');
		sigv4_buf_addc(b, *v);
		started = 1;
		gap = 0;
	}
}

/*
 * Appends the canonical headers ("name:value\n" each, names lower-cased and
 * sorted, the values of a repeated name joined by commas in request order)
 * to creq, and the signed headers list ("a;b;c") to signed_hdrs.
 */
static int
sigv4_canonical_headers(struct sigv4_buf *creq, struct sigv4_buf *signed_hdrs,
    const struct aws_header *headers, size_t n)
{
	struct sigv4_hdr *sorted;
	const struct aws_header *h;
	size_t i;

	if (n == 0)
		return 0;
	if ((sorted = calloc(n, sizeof(*sorted))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		sorted[i].h = &headers[i];
		sorted[i].pos = i;
	}
	qsort(sorted, n, sizeof(*sorted), sigv4_hdr_cmp);

	for (i = 0; i < n; i++) {
		h = sorted[i].h;
		if (i > 0 &&
		    sigv4_name_cmp(h->name, sorted[i - 1].h->name) == 0)
			sigv4_buf_addc(creq, ',');
		else {
			if (i > 0) {
				sigv4_buf_addc(creq, '\n');
				sigv4_buf_addc(signed_hdrs, ';');
			}
			sigv4_add_lower(creq, h->name);
			sigv4_buf_addc(creq, ':');
			sigv4_add_lower(signed_hdrs, h->name);
		}
		sigv4_add_trimmed(creq, h->value);
	}
	sigv4_buf_addc(creq, '\n');
	free(sorted);
	return 0;
}

/* ---- hashes -------------------------------------------------------------- */

static int
sigv4_sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data != NULL ? data : "", n, md, &mdlen, EVP_sha256(),
	        NULL) != 1 ||
	    mdlen != SHA256_LEN)
		return -1;
	sigv4_hex(md, SHA256_LEN, out);
	return 0;
}

static int
sigv4_hmac(const void *key, size_t keylen, const char *msg, size_t msglen,
    unsigned char out[SHA256_LEN])
{
	unsigned int outlen = 0;

	if (keylen > INT_MAX)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	        msglen, out, &outlen) == NULL ||
	    outlen != SHA256_LEN)
		return -1;
	return 0;
}

/* ---- canonical request --------------------------------------------------- */

/*
 * Builds the canonical request into creq and the signed headers list into
 * signed_hdrs (the Authorization header repeats it).
 */
static int
sigv4_canonical_request(const struct aws_sigv4_request *req,
    struct sigv4_buf *creq, struct sigv4_buf *signed_hdrs)
{
	char payload_hash[SHA256_HEX_LEN + 1];

	/* Methods are upper case on the wire; botocore upper-cases too. */
	sigv4_add_upper(creq, req->method);
	sigv4_buf_addc(creq, '\n');
	if (sigv4_canonical_uri(creq, req->path) == -1)
		return -1;
	sigv4_buf_addc(creq, '\n');
	if (sigv4_canonical_query(creq, req->query) == -1)
		return -1;
	sigv4_buf_addc(creq, '\n');
	if (sigv4_canonical_headers(
	        creq, signed_hdrs, req->headers, req->n_headers) == -1)
		return -1;
	sigv4_buf_addc(creq, '\n');
	if (signed_hdrs->p != NULL)
		sigv4_buf_add(creq, signed_hdrs->p, signed_hdrs->len);
	sigv4_buf_addc(creq, '\n');
	if (sigv4_sha256_hex(req->payload, req->payload_len, payload_hash) ==
	    -1)
		return -1;
	sigv4_buf_adds(creq, payload_hash);
	return creq->failed || signed_hdrs->failed ? -1 : 0;
}

/* ---- signing key --------------------------------------------------------- */

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request").  Two buffers alternate so no HMAC reads the key it is
 * writing.
 */
static int
sigv4_derive_key(const char *secret, const char *date, const char *region,
    const char *service, unsigned char key[SHA256_LEN])
{
	struct sigv4_buf seed = {0};
	unsigned char k[SHA256_LEN], t[SHA256_LEN];
	int rc = -1;

	sigv4_buf_adds(&seed, "AWS4");
	sigv4_buf_adds(&seed, secret);
	if (seed.failed)
		goto out;
	if (sigv4_hmac(seed.p, seed.len, date, strlen(date), k) == -1 ||
	    sigv4_hmac(k, sizeof(k), region, strlen(region), t) == -1 ||
	    sigv4_hmac(t, sizeof(t), service, strlen(service), k) == -1 ||
	    sigv4_hmac(k, sizeof(k), SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR),
	        key) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(t, sizeof(t));
	sigv4_buf_free(&seed);
	return rc;
}

/*
 * Whether the cache's fixed-size fields can hold this scope; a region or
 * key id too long for them is signed without the cache.
 */
static int
sigv4_cache_fits(const struct aws_sigv4_cache *c, const char *date,
    const char *region, const char *service, const char *akid)
{
	return strlen(date) < sizeof(c->date) &&
	       strlen(region) < sizeof(c->region) &&
	       strlen(service) < sizeof(c->service) &&
	       strlen(akid) < sizeof(c->akid);
}

/*
 * The key id stands for its secret: AWS never gives one key id two
 * secrets, and refreshed temporary credentials come with a new key id.  A
 * zeroed cache never matches, since the date is never empty.
 */
static int
sigv4_cache_hit(const struct aws_sigv4_cache *c, const char *date,
    const char *region, const char *service, const char *akid)
{
	return strcmp(c->date, date) == 0 && strcmp(c->region, region) == 0 &&
	       strcmp(c->service, service) == 0 && strcmp(c->akid, akid) == 0;
}

static int
sigv4_signing_key(struct aws_sigv4_cache *cache, const struct aws_creds *creds,
    const char *date, const char *region, const char *service,
    unsigned char key[SHA256_LEN])
{
	const char *akid = creds->access_key_id;
	int cacheable;

	cacheable = cache != NULL &&
	            sigv4_cache_fits(cache, date, region, service, akid);
	if (cacheable && sigv4_cache_hit(cache, date, region, service, akid)) {
		memcpy(key, cache->key, SHA256_LEN);
		return 0;
	}
	if (sigv4_derive_key(
	        creds->secret_access_key, date, region, service, key) == -1)
		return -1;
	if (cacheable) {
		strcpy(cache->date, date);
		strcpy(cache->region, region);
		strcpy(cache->service, service);
		strcpy(cache->akid, akid);
		memcpy(cache->key, key, SHA256_LEN);
	}
	return 0;
}

/* ---- public -------------------------------------------------------------- */

void
aws_sigv4_amzdate(time_t now, char out[17])
{
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) {
		/*
		 * Only a time outside years 0-9999 gets here.  Sign with the
		 * epoch rather than garbage: AWS rejects it as skewed, which
		 * says what is wrong.
		 */
		memcpy(out, "19700101T000000Z", 17);
	}
}

int
aws_sigv4_sign(const struct aws_sigv4_request *req,
    const struct aws_creds *creds, struct aws_sigv4_cache *cache,
    char **authorization)
{
	return aws_sigv4_sign_trace(
	    req, creds, cache, authorization, NULL, NULL);
}

int
aws_sigv4_sign_trace(const struct aws_sigv4_request *req,
    const struct aws_creds *creds, struct aws_sigv4_cache *cache,
    char **authorization, char **canonical_request, char **string_to_sign)
{
	struct sigv4_buf creq = {0}, signed_hdrs = {0}, scope = {0};
	struct sigv4_buf sts = {0}, authz = {0};
	char amzdate[17], date[9], creq_hash[SHA256_HEX_LEN + 1];
	char signature[SHA256_HEX_LEN + 1];
	unsigned char key[SHA256_LEN], mac[SHA256_LEN];
	char *a = NULL, *c = NULL, *s = NULL;
	int rc = -1;

	*authorization = NULL;
	if (canonical_request != NULL)
		*canonical_request = NULL;
	if (string_to_sign != NULL)
		*string_to_sign = NULL;

	aws_sigv4_amzdate(req->now, amzdate);
	memcpy(date, amzdate, 8);
	date[8] = '\0';

	if (sigv4_canonical_request(req, &creq, &signed_hdrs) == -1 ||
	    sigv4_sha256_hex(creq.p, creq.len, creq_hash) == -1)
		goto out;

	sigv4_buf_adds(&scope, date);
	sigv4_buf_addc(&scope, '/');
	sigv4_buf_adds(&scope, req->region);
	sigv4_buf_addc(&scope, '/');
	sigv4_buf_adds(&scope, req->service);
	sigv4_buf_adds(&scope, "/" SIGV4_TERMINATOR);

	sigv4_buf_adds(&sts, SIGV4_ALGORITHM "\n");
	sigv4_buf_adds(&sts, amzdate);
	sigv4_buf_addc(&sts, '\n');
	if (scope.p != NULL)
		sigv4_buf_adds(&sts, scope.p);
	sigv4_buf_addc(&sts, '\n');
	sigv4_buf_adds(&sts, creq_hash);
	if (scope.failed || sts.failed)
		goto out;

	if (sigv4_signing_key(
	        cache, creds, date, req->region, req->service, key) == -1 ||
	    sigv4_hmac(key, sizeof(key), sts.p, sts.len, mac) == -1)
		goto out;
	sigv4_hex(mac, sizeof(mac), signature);

	sigv4_buf_adds(&authz, SIGV4_ALGORITHM " Credential=");
	sigv4_buf_adds(&authz, creds->access_key_id);
	sigv4_buf_addc(&authz, '/');
	sigv4_buf_adds(&authz, scope.p);
	sigv4_buf_adds(&authz, ", SignedHeaders=");
	if (signed_hdrs.p != NULL)
		sigv4_buf_adds(&authz, signed_hdrs.p);
	sigv4_buf_adds(&authz, ", Signature=");
	sigv4_buf_adds(&authz, signature);

	/* Hand over all or nothing. */
	a = sigv4_buf_finish(&authz);
	if (canonical_request != NULL)
		c = sigv4_buf_finish(&creq);
	if (string_to_sign != NULL)
		s = sigv4_buf_finish(&sts);
	if (a == NULL || (canonical_request != NULL && c == NULL) ||
	    (string_to_sign != NULL && s == NULL)) {
		free(a);
		free(c);
		free(s);
		goto out;
	}
	*authorization = a;
	if (canonical_request != NULL)
		*canonical_request = c;
	if (string_to_sign != NULL)
		*string_to_sign = s;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	sigv4_buf_free(&creq);
	sigv4_buf_free(&signed_hdrs);
	sigv4_buf_free(&scope);
	sigv4_buf_free(&sts);
	sigv4_buf_free(&authz);
	return rc;
}
