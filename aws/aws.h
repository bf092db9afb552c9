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

/* ---- SigV4 (aws/sigv4.c) --------------------------------------------------- */

/* The derived signing key, cached per day, region, service and key id. */
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
 * failure.
 */
int aws_sigv4_sign(const struct aws_sigv4_request *, const struct aws_creds *,
    struct aws_sigv4_cache *cache, char **authorization);

#endif
