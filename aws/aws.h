/*
 * aws — talking to AWS: HTTP on the event loop (one CURLM driven by
 * libevent), Signature Version 4, the default credentials chain, region and
 * endpoint resolution, retry classification, and the signed JSON-RPC call
 * that kinesis/ and dynamo/ build on.
 *
 * Nothing here blocks the event loop.  Callbacks run from the loop; a
 * callback may start new calls but must not free the object whose call it
 * is serving (mark it and free it later).
 */
#ifndef KD_AWS_H
#define KD_AWS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct metrics;
typedef struct cJSON cJSON;

struct aws_header {
	const char *name;
	const char *value;
};

/* ---- credentials (aws/credentials.c) ------------------------------------ */

struct aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;  /* NULL for long-term keys */
	time_t expiration;    /* 0: never expires */
	const char *provider; /* static: "environment", "web-identity", ... */
};

/* ---- SigV4 (aws/sigv4.c) ---------------------------------------------------
 */

/*
 * The derived signing key, cached per day, region, service and key id.
 * Zero it before first use; one per signer (e.g. per endpoint) is enough.
 */
struct aws_sigv4_cache {
	char date[9];
	char region[32];
	char service[32];
	char akid[128];
	unsigned char key[32];
};

struct aws_sigv4_request {
	const char *method;
	const char *path;  /* as sent, e.g. "/" */
	const char *query; /* as sent, without '?'; NULL or "" for none */
	/* The headers to sign.  Must include host and x-amz-date (and
	 * x-amz-security-token when the credentials carry a session token). */
	const struct aws_header *headers;
	size_t n_headers;
	const void *payload;
	size_t payload_len;
	const char *region;
	const char *service;
	time_t now; /* injected, so signing is testable */
};

/* "20150830T123600Z"; out must hold 17 bytes. */
void aws_sigv4_amzdate(time_t now, char out[17]);

/*
 * Computes the Authorization header value into *authorization (malloc'd,
 * the caller frees it).  cache may be NULL.  Returns 0, or -1 on allocation
 * failure (or a libcrypto failure).  Signs exactly the headers given.
 */
int aws_sigv4_sign(const struct aws_sigv4_request *, const struct aws_creds *,
    struct aws_sigv4_cache *cache, char **authorization);

/*
 * aws_sigv4_sign, also handing back the canonical request and the string to
 * sign (malloc'd, the caller frees them; pass NULL for either one not
 * wanted), for tests and the debug wire trace.  All three outputs are set,
 * or all left NULL on failure.  The canonical request holds the signed
 * header values, x-amz-security-token included: redact before logging.
 */
int aws_sigv4_sign_trace(const struct aws_sigv4_request *,
    const struct aws_creds *, struct aws_sigv4_cache *cache,
    char **authorization, char **canonical_request, char **string_to_sign);

/* ---- credentials chain (aws/credentials.c) ------------------------------ */

struct aws_http;
struct aws_credentials;

/*
 * The default chain of SPEC section 2: environment, web identity, shared
 * files (a profile's static keys, credential_process, or role_arn with
 * source_profile), container, EC2 IMDSv2.  Temporary credentials are
 * refreshed in the background before they expire.
 */
struct aws_credentials *aws_credentials_new(
    struct event_base *, struct aws_http *);
void aws_credentials_free(struct aws_credentials *);

/*
 * Calls cb with credentials once they are available (at once, from the
 * loop's next turn or synchronously, when fresh ones are cached), or with
 * creds NULL and err set when every provider failed.  creds is borrowed
 * until cb returns.
 */
typedef void (*aws_credentials_cb)(
    const struct aws_creds *creds, const char *err, void *arg);
void aws_credentials_get(
    struct aws_credentials *, aws_credentials_cb, void *arg);
/* The cached credentials if fresh, else NULL (no I/O). */
const struct aws_creds *aws_credentials_peek(struct aws_credentials *);
/*
 * Forget cached credentials (SIGHUP, or an expired-token reply): the next
 * get walks the whole chain again, re-reading files and token files.  A
 * no-op while a full walk is under way (it reads everything anew).
 */
void aws_credentials_reset(struct aws_credentials *);
/* Drops queued gets with this cb and arg: they will not be called. */
void aws_credentials_cancel(
    struct aws_credentials *, aws_credentials_cb, void *arg);
/*
 * The wall clock used to judge expiry (default time(NULL)); tests inject
 * one.  Refresh timers run on the event loop, scheduled from this clock.
 */
void aws_credentials_set_clock(
    struct aws_credentials *, time_t (*clock)(void *arg), void *arg);
/* The region whose STS endpoint web identity uses (copied; NULL or an
 * invalid name: AWS_REGION etc., else the global endpoint). */
void aws_credentials_set_region(struct aws_credentials *, const char *region);

/* ---- shared config and credentials files (aws/ini.c) -------------------- */

/* The profile in use: AWS_PROFILE, else AWS_DEFAULT_PROFILE, else
 * "default" (borrowed from the environment or static). */
const char *aws_profile_name(void);

/*
 * The credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials)
 * names profiles "[name]"; the config file (AWS_CONFIG_FILE, ~/.aws/config)
 * "[profile name]", and the default one also "[default]".
 */
enum aws_profile_file {
	AWS_PROFILE_CREDENTIALS,
	AWS_PROFILE_CONFIG,
};
/* The file's path, malloc'd; NULL without HOME (or memory). */
char *aws_profile_path(enum aws_profile_file);

enum aws_profile_status {
	AWS_PROFILE_FOUND,
	AWS_PROFILE_NO_FILE,
	AWS_PROFILE_NO_PROFILE,
	AWS_PROFILE_ERROR, /* *cause set (malloc'd) */
};
struct aws_profile;
/*
 * Reads one profile's settings (synchronously: a small local file).  With
 * AWS_PROFILE_FOUND, *out is set; free it with aws_profile_free (it wipes
 * the values, which may be secrets).
 */
enum aws_profile_status aws_profile_load(const char *path,
    enum aws_profile_file, const char *name, struct aws_profile **out,
    char **cause);
/* A setting (key case-insensitive), borrowed from p; NULL when absent. */
const char *aws_profile_get(const struct aws_profile *p, const char *key);
void aws_profile_free(struct aws_profile *);

/* ---- region, and EC2 instance metadata (aws/region.c) ------------------- */

#define AWS_REGION_MAX 32 /* with the NUL; as aws_sigv4_cache.region */

/* 1 when r looks like a region name: [a-z0-9-], 1..31 characters. */
int aws_region_valid(const char *r);
/*
 * The region without network I/O: configured (when not NULL or ""), else
 * AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region` in the
 * config file.  0: found, out set, *source (static) names where from:
 * "configuration", "AWS_REGION", "AWS_DEFAULT_REGION", "profile".  1: none.
 * -1: the first value found is not a region name; *cause (malloc'd, may be
 * NULL when out of memory) says which.
 */
int aws_region_local(const char *configured, char out[AWS_REGION_MAX],
    const char **source, char **cause);

/*
 * aws_region_local, then IMDS (placement/region, source "imds") unless
 * AWS_EC2_METADATA_DISABLED.  cb runs exactly once from the loop, never
 * from inside this call, unless the query is cancelled first; region is
 * NULL and err set when there is none.  Strings are borrowed until cb
 * returns; the query frees itself after cb.  NULL when out of memory.
 */
typedef void (*aws_region_cb)(
    const char *region, const char *source, const char *err, void *arg);
struct aws_region_query;
struct aws_region_query *aws_region_resolve(struct event_base *,
    struct aws_http *, const char *configured, aws_region_cb, void *arg);
void aws_region_cancel(struct aws_region_query *);

/*
 * IMDSv2 client: a session token (PUT /latest/api/token, kept for reuse),
 * then GETs; falls back to v1 on 403/404/405 as the SDKs do, unless
 * AWS_EC2_METADATA_V1_DISABLED.  Endpoint AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * or per AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE, else 169.254.169.254.
 * Short timeouts: off EC2 it fails within about a second.
 */
struct aws_imds;
struct aws_imds *aws_imds_new(struct aws_http *);
/* Cancels the get in flight without calling back. */
void aws_imds_free(struct aws_imds *);
/* 1 when AWS_EC2_METADATA_DISABLED is true: do not ask IMDS at all. */
int aws_imds_disabled(void);
/* The endpoint in use, without a trailing '/', into buf. */
const char *aws_imds_endpoint(char *buf, size_t len);
/*
 * One GET at a time.  cb runs from the loop exactly once unless cancelled:
 * status 200 and body (borrowed until cb returns), or err (status is the
 * HTTP status, 0 with no response).  A cb may start the next get.
 * Returns -1 (cb never runs) when busy or out of memory.
 */
typedef void (*aws_imds_cb)(
    long status, const char *body, size_t len, const char *err, void *arg);
int aws_imds_get(struct aws_imds *, const char *path, aws_imds_cb, void *arg);
void aws_imds_cancel(struct aws_imds *);

/* ---- HTTP on the event loop (aws/http.c) -------------------------------- */

/*
 * One curl multi handle driven by the event base: connections are kept
 * alive and reused across calls, names are resolved off the loop (curl's
 * threaded resolver).  Returns NULL and a malloc'd *cause on failure.
 */
struct aws_http *aws_http_new(struct event_base *, char **cause);
/*
 * Cancels every call in flight without calling back.  Called from inside
 * an aws_http callback, the object is torn down once that callback returns.
 */
void aws_http_free(struct aws_http *);
struct event_base *aws_http_base(const struct aws_http *);
/* Largest response body accepted (default 64 MiB); a longer one ends the
 * call with a transport error. */
void aws_http_set_max_body(struct aws_http *, size_t bytes);

struct aws_http_request {
	const char *method;
	const char *url;
	/* A header with value NULL removes one curl would add (e.g.
	 * "Expect"); "" sends it empty.  A Host header replaces curl's. */
	const struct aws_header *headers;
	size_t n_headers;
	const void *body; /* copied */
	size_t body_len;
	long connect_timeout_ms; /* 0: 6000 */
	long timeout_ms;         /* whole request; 0: 6000 */
	int insecure;            /* 1: skip TLS verification */
};

struct aws_http_response {
	long status;       /* 0 when there was no HTTP response */
	int transport_err; /* 0, or the CURLcode that ended the transfer */
	const char *error; /* transport error text, or NULL */
	const char *body;  /* borrowed until the callback returns; never NULL,
	                    * always NUL-terminated after body_len bytes */
	size_t body_len;
	double seconds; /* time the request took */
	/* x-amzn-RequestId (or x-amz-request-id) and x-amzn-ErrorType
	 * response headers, or NULL; borrowed like body. */
	const char *request_id;
	const char *error_type;
};

typedef void (*aws_http_cb)(const struct aws_http_response *, void *arg);
struct aws_http_call;
/*
 * Starts a request; the callback runs exactly once, from the loop, unless
 * the call is cancelled first.  The request's strings and body are copied.
 * Returns NULL (and never calls back) on a bad request or allocation
 * failure.  The call is freed after its callback returns.
 */
struct aws_http_call *aws_http_send(
    struct aws_http *, const struct aws_http_request *, aws_http_cb, void *arg);
/* The callback will not be called.  A no-op from inside the call's own
 * callback. */
void aws_http_cancel(struct aws_http_call *);

/* ---- retry classification (aws/retry.c) --------------------------------- */

enum aws_err {
	AWS_OK,
	AWS_ERR_THROTTLED, /* ProvisionedThroughputExceeded, Throttling, ... */
	AWS_ERR_RETRIABLE, /* 5xx, InternalFailure, network, timeouts */
	AWS_ERR_CREDENTIALS, /* expired token: refresh, then retry */
	AWS_ERR_TERMINAL,    /* everything else */
};

/* status, the error type (without namespace), the transport error. */
enum aws_err aws_retry_classify(
    long status, const char *type, int transport_err);
const char *aws_err_name(enum aws_err);
/* Capped exponential back-off with full jitter: a delay in ms for the
 * attempt-th retry (1-based), rnd a uniform random 32-bit value. */
uint64_t aws_retry_backoff_ms(
    unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd);
/* Whether a transport error (a CURLcode) is worth retrying: connection
 * failures, resets and timeouts are, a malformed URL or a certificate
 * that does not verify is not. */
int aws_retry_transport_retriable(int transport_err);

/* ---- signed JSON-RPC calls (aws/client.c) ------------------------------- */

struct aws_client_opts {
	const char *service;       /* "kinesis", "dynamodb": signing name */
	const char *target_prefix; /* "Kinesis_20131202", "DynamoDB_20120810" */
	const char *content_type;  /* application/x-amz-json-1.1 or 1.0 */
	const char *region;
	const char *endpoint; /* "http://127.0.0.1:4567"; NULL: the region's */
	long connect_timeout_ms;
	long request_timeout_ms;
	int verify_certificate;
	unsigned max_connections; /* calls in flight; more wait in a queue;
	                           * 0: 24 (the KPL's MaxConnections) */
	unsigned max_attempts;    /* default for calls; 1 = no retries; 0: 3 */
	unsigned retry_base_ms;   /* back-off base; 0: 100 */
	unsigned retry_cap_ms;    /* back-off cap; 0: 10000 */
};

/* "https://<service>.<region>.amazonaws.com" (".com.cn" in China regions),
 * malloc'd; NULL on allocation failure. */
char *aws_endpoint_default(const char *service, const char *region);

struct aws_client;
/* http and creds are borrowed and must outlive the client; metrics may be
 * NULL.  Strings in opts are copied. */
struct aws_client *aws_client_new(struct aws_http *, struct aws_credentials *,
    struct metrics *, const struct aws_client_opts *, char **cause);
/*
 * Cancels every call without calling back.  Called from inside one of the
 * client's callbacks, the client is torn down once that callback returns.
 */
void aws_client_free(struct aws_client *);
const char *aws_client_endpoint(const struct aws_client *);
/* Calls sent and not yet answered, and calls waiting for a connection. */
unsigned aws_client_in_flight(const struct aws_client *);
size_t aws_client_queued(const struct aws_client *);

struct aws_result {
	enum aws_err err;
	long status;
	const char *type;    /* AWS __type without namespace, or NULL */
	const char *message; /* AWS or transport message, or NULL */
	cJSON *json;         /* parsed reply body on success; borrowed */
	unsigned attempts;
};

typedef void (*aws_call_cb)(const struct aws_result *, void *arg);
struct aws_call;
/*
 * Calls operation ("PutRecords") with the JSON body (taken over; freed by
 * the client).  Throttled and retriable errors are retried up to
 * max_attempts (0: the client's default) with back-off; expired
 * credentials are refreshed and retried.  The callback runs exactly once,
 * from the loop (never from inside aws_client_call), unless the call is
 * cancelled first; the call is freed after its callback returns.  Returns
 * NULL on allocation failure (body is freed then too).
 */
struct aws_call *aws_client_call(struct aws_client *, const char *operation,
    char *body, unsigned max_attempts, aws_call_cb, void *arg);
/* A no-op from inside the call's own callback. */
void aws_call_cancel(struct aws_call *);
/* Whether the result is the AWS error type (e.g. "ResourceNotFoundException").
 */
int aws_result_is(const struct aws_result *, const char *type);

/* ---- base64 (aws/base64.c) ---------------------------------------------- */

/* Standard base64 with padding (RFC 4648 section 4), malloc'd and
 * NUL-terminated; *out_len (may be NULL) gets its length.  NULL on
 * allocation failure. */
char *aws_base64_encode(const void *data, size_t len, size_t *out_len);
/* Decodes standard base64 with padding into a malloc'd buffer (one spare
 * NUL byte after *out_len bytes).  Returns 0, or -1 on invalid input or
 * allocation failure. */
int aws_base64_decode(
    const char *in, size_t len, unsigned char **out, size_t *out_len);

/* The same into the caller's memory, for hot paths that place the text or
 * the bytes inside a larger allocation: encode_to writes
 * AWS_BASE64_ENCODED_LEN(len) characters (no NUL) and returns that count;
 * decode_to needs AWS_BASE64_DECODED_MAX(len) bytes of room (no NUL), and
 * out may be in itself (decoding in place: kinesis/api.c does). */
#define AWS_BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)
#define AWS_BASE64_DECODED_MAX(n) ((n) / 4 * 3)
size_t aws_base64_encode_to(const void *data, size_t len, char *out);
int aws_base64_decode_to(
    const char *in, size_t len, unsigned char *out, size_t *out_len);

/* ---- CRC-32 (aws/crc32.c) --------------------------------------------------- */

/* zlib's crc32() of buf, the value of DynamoDB's x-amz-crc32 header. */
uint32_t aws_crc32(const void *buf, size_t len);

/* ---- JSON strings (aws/jsonstr.c) -----------------------------------------
 */

/* Writes s[0..len) (UTF-8) as a quoted JSON string at out, which has room
 * for AWS_JSON_QUOTED_MAX(len) bytes (no NUL); returns the bytes written.
 * For text built by hand on hot paths; cJSON prints the same. */
#define AWS_JSON_QUOTED_MAX(n) (6 * (n) + 2)
size_t aws_json_quote_to(const char *s, size_t len, char *out);

#endif
