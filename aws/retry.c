/*
 * retry.c — which AWS failures are worth another attempt, and how long to
 * wait before it.  See aws.h.
 *
 * The error type decides first: a throttled request often comes back as a
 * 400 (ProvisionedThroughputExceededException), which the status alone
 * would call terminal.  Then the status, then the transport error.
 */
#include <stdint.h>
#include <string.h>

#include <curl/curl.h>

#include "aws/aws.h"

/* The service asked us to slow down: back off, then try again. */
static const char *const retry_throttling[] = {
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "KMSThrottlingException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "BandwidthLimitExceeded",
    "TransactionInProgressException",
    "PriorRequestNotComplete",
};

/* The service failed on its side: the same request may well succeed. */
static const char *const retry_transient[] = {
    "InternalFailure",
    "InternalFailureException",
    "InternalServerError",
    "InternalServerErrorException",
    "InternalErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
};

/* Only expiry: a bad signature or an unknown key id does not get better
 * with fresh credentials from the same chain. */
static const char *const retry_expired[] = {
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
};

#define RETRY_NELEM(a) (sizeof(a) / sizeof(*(a)))

static int
retry_in(const char *type, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(type, list[i]) == 0)
			return 1;
	return 0;
}

int
aws_retry_transport_retriable(int transport_err)
{
	switch (transport_err) {
	case CURLE_OK:
		return 0;
	/* A request that can never work as written, or a peer that is not
	 * who it claims to be: retrying only hides the mistake. */
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR: /* our body cap: the reply will be as big */
		return 0;
	default:
		/* Refused, reset, timed out, name not (yet) resolved, TLS
		 * handshake cut short, nothing received... */
		return 1;
	}
}

enum aws_err
aws_retry_classify(long status, const char *type, int transport_err)
{
	if (type != NULL && *type != '\0') {
		if (retry_in(
		        type, retry_throttling, RETRY_NELEM(retry_throttling)))
			return AWS_ERR_THROTTLED;
		if (retry_in(type, retry_expired, RETRY_NELEM(retry_expired)))
			return AWS_ERR_CREDENTIALS;
		if (retry_in(
		        type, retry_transient, RETRY_NELEM(retry_transient)))
			return AWS_ERR_RETRIABLE;
	}
	if (transport_err != 0)
		return aws_retry_transport_retriable(transport_err)
		           ? AWS_ERR_RETRIABLE
		           : AWS_ERR_TERMINAL;
	if (status == 429)
		return AWS_ERR_THROTTLED;
	if (status >= 500 && status <= 599)
		return AWS_ERR_RETRIABLE;
	if (status >= 200 && status <= 299 && (type == NULL || *type == '\0'))
		return AWS_OK;
	/* No HTTP status and no transport error cannot come from a real
	 * exchange; treat it as the broken exchange it is. */
	if (status == 0)
		return AWS_ERR_RETRIABLE;
	return AWS_ERR_TERMINAL;
}

const char *
aws_err_name(enum aws_err err)
{
	switch (err) {
	case AWS_OK:
		return "ok";
	case AWS_ERR_THROTTLED:
		return "throttled";
	case AWS_ERR_RETRIABLE:
		return "retriable";
	case AWS_ERR_CREDENTIALS:
		return "credentials";
	case AWS_ERR_TERMINAL:
		return "terminal";
	}
	return "unknown";
}

uint64_t
aws_retry_backoff_ms(
    unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd)
{
	uint64_t ceiling;

	if (attempt == 0)
		attempt = 1;
	/* ceiling = min(cap, base * 2^(attempt-1)) without overflowing. */
	ceiling = base_ms;
	for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++) {
		if (ceiling > UINT64_MAX / 2) {
			ceiling = UINT64_MAX;
			break;
		}
		ceiling *= 2;
	}
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	/* Full jitter: uniform in [0, ceiling], scaling the 32-bit random
	 * value instead of taking a modulus (no bias, no overflow). */
	if (ceiling < UINT32_MAX)
		return ((ceiling + 1) * (uint64_t)rnd) >> 32;
	return (ceiling >> 32) * rnd +
	       (((ceiling & UINT32_MAX) * (uint64_t)rnd) >> 32);
}
