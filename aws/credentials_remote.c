/*
 * credentials_remote.c — the providers of the credentials chain that ask
 * a peer over HTTP: web identity (STS AssumeRoleWithWebIdentity), the
 * container agent (ECS/EKS), and EC2 IMDSv2.  Each starts one request and
 * answers the chain (credentials_int.h) from the loop when it ends.
 *
 * Replies are parsed defensively: whatever the bytes, a provider answers
 * with credentials or with a reason, never crashes, and never puts peer
 * text in a log line unsanitized.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "aws/aws.h"
#include "aws/credentials_int.h"
#include "log/log.h"

#define CREDS_MAX_TOKEN_FILE (64 * 1024)

#define STS_CONNECT_TIMEOUT_MS       3000
#define STS_TIMEOUT_MS               10000
#define CONTAINER_CONNECT_TIMEOUT_MS 1000
#define CONTAINER_TIMEOUT_MS         5000
#define CONTAINER_HOST               "http://169.254.170.2"

#define IMDS_CREDS_PATH "/latest/meta-data/iam/security-credentials/"

void
aws_creds_sanitize(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i, o = 0;

	for (i = 0; src != NULL && i < n && src[i] != '\0' && o + 1 < dstlen;
	     i++)
		dst[o++] =
		    (unsigned char)src[i] < ' ' || (unsigned char)src[i] >= 0x7f
		        ? '?'
		        : src[i];
	dst[o] = '\0';
}

/* Reads a small local file (a token), trailing whitespace removed. */
static char *
creds_read_small(const char *path, char *why, size_t whylen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (st.st_size > CREDS_MAX_TOKEN_FILE) {
		snprintf(why, whylen, "%s: too large", path);
		close(fd);
		return NULL;
	}
	if ((buf = malloc(CREDS_MAX_TOKEN_FILE + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		close(fd);
		return NULL;
	}
	while (len < CREDS_MAX_TOKEN_FILE) {
		n = read(fd, buf + len, CREDS_MAX_TOKEN_FILE - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	                      buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		snprintf(why, whylen, "%s: empty", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * "2024-05-01T12:00:00Z", with optional fractional seconds and a "Z",
 * "+hh:mm" or "+hhmm" zone.  0, or -1 on anything else.
 */
int
aws_creds_parse_time(const char *s, time_t *out)
{
	int v[6], len[6] = {4, 2, 2, 2, 2, 2}, off = 0, sign;
	const char seps[] = "--T::";
	struct tm tm;
	time_t t;

	if (s == NULL)
		return -1;
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (int k = 0; k < len[i]; k++, s++) {
			if (*s < '0' || *s > '9')
				return -1;
			v[i] = v[i] * 10 + (*s - '0');
		}
		if (i < 5 && *s++ != seps[i] &&
		    !(i == 2 && (s[-1] == 't' || s[-1] == ' ')))
			return -1;
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
			return -1;
		off = ((s[0] - '0') * 10 + (s[1] - '0')) * 3600;
		s += 2;
		if (*s == ':')
			s++;
		if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
			return -1;
		off += ((s[0] - '0') * 10 + (s[1] - '0')) * 60;
		s += 2;
		off *= sign;
	} else
		return -1;
	if (*s != '\0' || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 ||
	    v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = t - off;
	return 0;
}
/* ---- reply parsing: STS XML and credentials JSON ------------------------ */

/*
 * The text of the first <tag>...</tag> inside xml[0..len) (attributes on
 * the opening tag allowed), entities decoded, malloc'd; NULL when absent,
 * malformed or out of memory.  Not an XML parser: enough for STS replies,
 * and bounded by len whatever the bytes are.
 */
static char *
creds_xml_text(const char *xml, size_t len, const char *tag, const char **endp)
{
	char open[64], close[64];
	const char *p = xml, *end = xml + len, *s, *e;
	size_t olen, clen, n;
	char *out, *o;

	olen = (size_t)snprintf(open, sizeof(open), "<%s", tag);
	clen = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	for (;;) {
		if ((s = memmem(p, (size_t)(end - p), open, olen)) == NULL)
			return NULL;
		s += olen;
		if (s < end && (*s == '>' || *s == ' ' || *s == '\t' ||
		                   *s == '\n' || *s == '\r'))
			break;
		p = s; /* "<AccessKeyIdX>": keep looking */
	}
	if ((s = memchr(s, '>', (size_t)(end - s))) == NULL)
		return NULL;
	if (s[-1] == '/')
		return NULL; /* <Tag/> */
	s++;
	if ((e = memmem(s, (size_t)(end - s), close, clen)) == NULL)
		return NULL;
	if (endp != NULL)
		*endp = e + clen;
	if ((out = o = malloc((size_t)(e - s) + 1)) == NULL)
		return NULL;
	while (s < e) {
		if (*s != '&') {
			*o++ = *s++;
			continue;
		}
		n = (size_t)(e - s);
		if (n >= 5 && memcmp(s, "&amp;", 5) == 0)
			*o++ = '&', s += 5;
		else if (n >= 4 && memcmp(s, "&lt;", 4) == 0)
			*o++ = '<', s += 4;
		else if (n >= 4 && memcmp(s, "&gt;", 4) == 0)
			*o++ = '>', s += 4;
		else if (n >= 6 && memcmp(s, "&quot;", 6) == 0)
			*o++ = '"', s += 6;
		else if (n >= 6 && memcmp(s, "&apos;", 6) == 0)
			*o++ = '\'', s += 6;
		else
			*o++ = *s++; /* numeric or unknown: left as is */
	}
	*o = '\0';
	/* An embedded NUL would cut a secret short silently: refuse. */
	if (strlen(out) != (size_t)(o - out)) {
		aws_creds_wipe_free(out);
		return NULL;
	}
	return out;
}

/* Credentials out of an AssumeRole* reply.  NULL or why. */
const char *
aws_creds_from_sts(
    const char *xml, size_t len, const char *provider, struct aws_creds *cr)
{
	char *akid = NULL, *secret = NULL, *token = NULL, *exp = NULL;
	const char *why = NULL, *s, *e;
	time_t t = 0;

	memset(cr, 0, sizeof(*cr));
	/* Only inside <Credentials>: AssumedRoleUser has its own ids. */
	if ((s = memmem(xml, len, "<Credentials>", 13)) == NULL ||
	    (e = memmem(s, len - (size_t)(s - xml), "</Credentials>", 14)) ==
	        NULL)
		return "no Credentials element in the STS reply";
	len = (size_t)(e - s);
	akid = creds_xml_text(s, len, "AccessKeyId", NULL);
	secret = creds_xml_text(s, len, "SecretAccessKey", NULL);
	token = creds_xml_text(s, len, "SessionToken", NULL);
	exp = creds_xml_text(s, len, "Expiration", NULL);
	if (akid == NULL || secret == NULL || token == NULL || exp == NULL)
		why = "incomplete Credentials in the STS reply";
	else if (aws_creds_parse_time(exp, &t) != 0)
		why = "bad Expiration in the STS reply";
	else
		why = aws_creds_set(cr, akid, secret, token, t, provider);
	aws_creds_wipe_free(akid);
	aws_creds_wipe_free(secret);
	aws_creds_wipe_free(token);
	free(exp);
	return why;
}

static const char *
creds_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Credentials out of a container or IMDS JSON reply.  NULL or why (for
 * an error reply, "code: message" is copied into buf).
 */
static const char *
creds_from_json(const char *body, size_t len, const char *provider,
    struct aws_creds *cr, char *buf, size_t buflen)
{
	const char *code, *msg, *why = NULL;
	cJSON *j;
	time_t t;

	memset(cr, 0, sizeof(*cr));
	if ((j = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(j)) {
		why = "reply is not a JSON object";
		goto done;
	}
	code = creds_json_str(j, "Code");
	if (code == NULL)
		code = creds_json_str(j, "code");
	/* IMDS says Code "Success"; container agents may say nothing. */
	if (creds_json_str(j, "AccessKeyId") == NULL ||
	    (code != NULL && strcmp(code, "Success") != 0)) {
		if ((msg = creds_json_str(j, "Message")) == NULL)
			msg = creds_json_str(j, "message");
		if (code == NULL && msg == NULL) {
			why = "no AccessKeyId in the reply";
			goto done;
		}
		snprintf(buf, buflen, "%.60s: ", code != NULL ? code : "error");
		aws_creds_sanitize(buf + strlen(buf), buflen - strlen(buf),
		    msg != NULL ? msg : "", 200);
		why = buf;
		goto done;
	}
	if (aws_creds_parse_time(creds_json_str(j, "Expiration"), &t) != 0) {
		why = "missing or bad Expiration in the reply";
		goto done;
	}
	why = aws_creds_set(cr, creds_json_str(j, "AccessKeyId"),
	    creds_json_str(j, "SecretAccessKey"), creds_json_str(j, "Token"), t,
	    provider);
done:
	aws_creds_json_wipe(j);
	cJSON_Delete(j);
	return why;
}

/* The provider's credentials must outlive the safety margin. */
static int
creds_check_expiry(struct aws_credentials *c, struct aws_creds *cr)
{
	char exp[32];

	if (cr->expiration == 0 || cr->expiration > aws_creds_now(c))
		return 0;
	aws_creds_fmt_time(cr->expiration, exp, sizeof(exp));
	aws_creds_clear(cr);
	aws_creds_step_fail(c, 1, "credentials already expired (%s)", exp);
	return -1;
}

/* ---- provider: web identity --------------------------------------------- */

/* Appends "&name=" and value, form-urlencoded. */
void
aws_creds_form_add(char *out, size_t *o, const char *name, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	*o += (size_t)sprintf(out + *o, "%s%s=", *o > 0 ? "&" : "", name);
	for (; *v != '\0'; v++) {
		unsigned char ch = (unsigned char)*v;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~')
			out[(*o)++] = (char)ch;
		else {
			out[(*o)++] = '%';
			out[(*o)++] = hex[ch >> 4];
			out[(*o)++] = hex[ch & 15];
		}
	}
	out[*o] = '\0';
}

void
aws_creds_sts_error(const struct aws_http_response *r, char *buf, size_t len)
{
	char code[80], msg[240];
	char *x;

	if (r->status == 0) {
		snprintf(buf, len, "STS: %s",
		    r->error != NULL ? r->error : "no response");
		return;
	}
	x = creds_xml_text(r->body, r->body_len, "Code", NULL);
	aws_creds_sanitize(code, sizeof(code), x != NULL ? x : "", 60);
	free(x);
	x = creds_xml_text(r->body, r->body_len, "Message", NULL);
	aws_creds_sanitize(msg, sizeof(msg), x != NULL ? x : "", 200);
	free(x);
	snprintf(buf, len, "STS: HTTP %ld %s%s%s", r->status, code,
	    msg[0] != '\0' ? ": " : "", msg);
}

static void
creds_webid_cb(const struct aws_http_response *r, void *arg)
{
	struct aws_credentials *c = arg;
	struct aws_creds cr;
	const char *why;
	char err[400];

	c->walk.call = NULL;
	if (r->status != 200) {
		aws_creds_sts_error(r, err, sizeof(err));
		aws_creds_step_fail(c, 1, "%s", err);
		return;
	}
	if ((why = aws_creds_from_sts(
	         r->body, r->body_len, "web-identity", &cr)) != NULL) {
		aws_creds_step_fail(c, 1, "%s", why);
		return;
	}
	if (creds_check_expiry(c, &cr) == 0)
		aws_creds_step_ok(c, &cr);
}

/*
 * The STS endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, or regional
 * (the global one without a region).  region, when not NULL, gets the
 * region to sign for: the one known, else us-east-1, where the global
 * endpoint lives.
 */
void
aws_creds_sts_endpoint(struct aws_credentials *c, char *url, size_t len,
    char region[AWS_REGION_MAX])
{
	const char *e, *src = NULL;
	char r[AWS_REGION_MAX];
	size_t n;

	snprintf(r, sizeof(r), "%s", c->region);
	if (r[0] == '\0' && aws_region_local(NULL, r, &src, NULL) != 0)
		r[0] = '\0';
	if (region != NULL)
		snprintf(region, AWS_REGION_MAX, "%s",
		    r[0] != '\0' ? r : "us-east-1");
	if ((e = aws_creds_env("AWS_ENDPOINT_URL_STS")) == NULL)
		e = aws_creds_env("AWS_ENDPOINT_URL");
	if (e != NULL) {
		snprintf(url, len, "%s", e);
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			url[--n] = '\0';
		snprintf(url + n, len - n, "/");
		return;
	}
	if (r[0] == '\0')
		snprintf(url, len, "https://sts.amazonaws.com/");
	else
		snprintf(url, len, "https://sts.%s.amazonaws.com%s/", r,
		    strncmp(r, "cn-", 3) == 0 ? ".cn" : "");
}

void
aws_creds_webid_start(struct aws_credentials *c)
{
	const char *file = aws_creds_env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = aws_creds_env("AWS_ROLE_ARN");
	const char *session = aws_creds_env("AWS_ROLE_SESSION_NAME");
	struct aws_header h[] = {
	    {"Content-Type",
	        "application/x-www-form-urlencoded; charset=utf-8"},
	    {"Accept", "application/xml"},
	};
	struct aws_http_request req;
	char url[512], why[300], sess[64], *token, *body;
	size_t cap, o = 0;

	if (file == NULL || role == NULL) {
		aws_creds_step_fail(c, file != NULL || role != NULL,
		    "%s not set",
		    file == NULL ? "AWS_WEB_IDENTITY_TOKEN_FILE"
		                 : "AWS_ROLE_ARN");
		return;
	}
	/* Re-read every time: Kubernetes rotates the projected token. */
	if ((token = creds_read_small(file, why, sizeof(why))) == NULL) {
		aws_creds_step_fail(c, 1, "%s", why);
		return;
	}
	if (session == NULL) {
		snprintf(sess, sizeof(sess), "kinesisd-%lld",
		    (long long)aws_creds_now(c));
		session = sess;
	}
	cap = 128 + 3 * (strlen(role) + strlen(session) + strlen(token));
	if ((body = malloc(cap)) == NULL) {
		aws_creds_wipe_free(token);
		aws_creds_step_fail(c, 1, "out of memory");
		return;
	}
	body[0] = '\0';
	aws_creds_form_add(body, &o, "Action", "AssumeRoleWithWebIdentity");
	aws_creds_form_add(body, &o, "Version", "2011-06-15");
	aws_creds_form_add(body, &o, "RoleArn", role);
	aws_creds_form_add(body, &o, "RoleSessionName", session);
	aws_creds_form_add(body, &o, "WebIdentityToken", token);
	aws_creds_wipe_free(token);
	aws_creds_sts_endpoint(c, url, sizeof(url), NULL);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = h;
	req.n_headers = 2;
	req.body = body;
	req.body_len = o;
	req.connect_timeout_ms = STS_CONNECT_TIMEOUT_MS;
	req.timeout_ms = STS_TIMEOUT_MS;
	/* Unsigned: the web identity token is the proof of identity. */
	c->walk.call = aws_http_send(c->http, &req, creds_webid_cb, c);
	explicit_bzero(body, o);
	free(body);
	if (c->walk.call == NULL)
		aws_creds_step_fail(c, 1, "cannot start the STS request");
	else
		log_debug(
		    "aws", "credentials: AssumeRoleWithWebIdentity at %s", url);
}

/* ---- provider: container ------------------------------------------------ */

/*
 * The SDKs accept a plain-HTTP full URI only towards loopback or the
 * ECS/EKS agent addresses.  Host names other than "localhost" would need
 * a DNS lookup to check, which would block: they are refused.
 */
static int
creds_container_host_ok(const char *url)
{
	unsigned char a[16];
	char host[128];
	const char *s, *e;
	size_t n;

	if (strncasecmp(url, "https://", 8) == 0)
		return 1;
	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	s = url + 7;
	if (*s == '[') {
		s++;
		if ((e = strchr(s, ']')) == NULL)
			return 0;
	} else
		e = s + strcspn(s, ":/?#");
	n = (size_t)(e - s);
	if (n == 0 || n >= sizeof(host) || memchr(s, '@', n) != NULL)
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127 || strcmp(host, "169.254.170.2") == 0 ||
		       strcmp(host, "169.254.170.23") == 0;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char lo[16] = {[15] = 1};
		unsigned char eks[16];
		inet_pton(AF_INET6, "fd00:ec2::23", eks);
		return memcmp(a, lo, 16) == 0 || memcmp(a, eks, 16) == 0;
	}
	return 0;
}

static void
creds_container_cb(const struct aws_http_response *r, void *arg)
{
	struct aws_credentials *c = arg;
	char buf[300];
	struct aws_creds cr;
	const char *why;

	c->walk.call = NULL;
	if (r->status == 0) {
		aws_creds_step_fail(
		    c, 1, "%s", r->error != NULL ? r->error : "no response");
		return;
	}
	why = creds_from_json(
	    r->body, r->body_len, "container", &cr, buf, sizeof(buf));
	if (r->status != 200) {
		aws_creds_clear(&cr);
		aws_creds_step_fail(c, 1, "HTTP %ld%s%s", r->status,
		    why == buf ? ": " : "", why == buf ? buf : "");
		return;
	}
	if (why != NULL) {
		aws_creds_step_fail(c, 1, "%s", why);
		return;
	}
	if (creds_check_expiry(c, &cr) == 0)
		aws_creds_step_ok(c, &cr);
}

void
aws_creds_container_start(struct aws_credentials *c)
{
	const char *rel =
	    aws_creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = aws_creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tfile =
	    aws_creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = aws_creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	struct aws_header h[2] = {
	    {"Accept", "application/json"}, {"Authorization", NULL}};
	struct aws_http_request req;
	char url[1024], why[300], *token = NULL;

	if (rel != NULL)
		snprintf(url, sizeof(url), "%s%s%s", CONTAINER_HOST,
		    rel[0] == '/' ? "" : "/", rel);
	else if (full != NULL) {
		if (!creds_container_host_ok(full)) {
			aws_creds_step_fail(c, 1,
			    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https "
			    "or name a loopback or ECS/EKS agent address");
			return;
		}
		snprintf(url, sizeof(url), "%s", full);
	} else {
		aws_creds_step_fail(c, 0,
		    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI "
		    "not set");
		return;
	}
	/* The token file wins, and is re-read: EKS rotates it. */
	if (tfile != NULL) {
		if ((token = creds_read_small(tfile, why, sizeof(why))) ==
		    NULL) {
			aws_creds_step_fail(c, 1, "%s", why);
			return;
		}
	} else if (tenv != NULL && (token = strdup(tenv)) == NULL) {
		aws_creds_step_fail(c, 1, "out of memory");
		return;
	}
	if (token != NULL && strpbrk(token, "\r\n") != NULL) {
		aws_creds_wipe_free(token);
		aws_creds_step_fail(
		    c, 1, "the container authorization token has a line break");
		return;
	}
	h[1].value = token;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = url;
	req.headers = h;
	req.n_headers = token != NULL ? 2 : 1;
	req.connect_timeout_ms = CONTAINER_CONNECT_TIMEOUT_MS;
	req.timeout_ms = CONTAINER_TIMEOUT_MS;
	c->walk.call = aws_http_send(c->http, &req, creds_container_cb, c);
	aws_creds_wipe_free(token);
	if (c->walk.call == NULL)
		aws_creds_step_fail(c, 1, "cannot start the request");
}

/* ---- provider: EC2 instance metadata ------------------------------------ */

static void
creds_imds_creds_cb(
    long status, const char *body, size_t len, const char *err, void *arg)
{
	struct aws_credentials *c = arg;
	char buf[300];
	struct aws_creds cr;
	const char *why;

	(void)status;
	if (err != NULL) {
		aws_creds_step_fail(c, 1, "%s", err);
		return;
	}
	if ((why = creds_from_json(body, len, "imds", &cr, buf, sizeof(buf))) !=
	    NULL) {
		aws_creds_step_fail(c, 1, "%s", why);
		return;
	}
	if (creds_check_expiry(c, &cr) == 0)
		aws_creds_step_ok(c, &cr);
}

static void
creds_imds_role_cb(
    long status, const char *body, size_t len, const char *err, void *arg)
{
	struct aws_credentials *c = arg;
	char path[256];
	size_t n = 0;

	if (err != NULL) {
		/* No answer, or no role: the usual off EC2. */
		aws_creds_step_fail(c, 0, "%s%s", err,
		    status == 404 ? " (no instance role)" : "");
		return;
	}
	/* The first line is the role name. */
	while (n < len && body[n] != '\n' && body[n] != '\r')
		n++;
	for (size_t i = 0; i < n; i++)
		if (body[i] <= ' ' || body[i] == '/' || body[i] >= 0x7f)
			n = 0;
	if (n == 0 || n > 128) {
		aws_creds_step_fail(c, 1, "IMDS: malformed role name");
		return;
	}
	snprintf(path, sizeof(path), "%s%.*s", IMDS_CREDS_PATH, (int)n, body);
	if (aws_imds_get(c->imds, path, creds_imds_creds_cb, c) != 0)
		aws_creds_step_fail(c, 1, "cannot start the IMDS request");
}

void
aws_creds_imds_start(struct aws_credentials *c)
{
	if (aws_imds_disabled()) {
		aws_creds_step_fail(c, 0, "AWS_EC2_METADATA_DISABLED=true");
		return;
	}
	if (aws_imds_get(c->imds, IMDS_CREDS_PATH, creds_imds_role_cb, c) != 0)
		aws_creds_step_fail(c, 1, "cannot start the IMDS request");
}
