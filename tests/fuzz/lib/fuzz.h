/*
 * tests/fuzz/lib/fuzz.h — what the libFuzzer harnesses share: an HTTP
 * endpoint served from the harness's own event loop (so that aws/,
 * kinesis/ and dynamo/ are fuzzed through their public API, real HTTP
 * and all, with no test hook in production code), and turning the loop
 * until an iteration is over.
 *
 * Every harness defines LLVMFuzzerTestOneInput and may define
 * LLVMFuzzerInitialize; they run under libFuzzer (make fuzz) or under
 * replay.c's main (make fuzz-regress), which replays files.
 */
#ifndef KD_TESTS_FUZZ_H
#define KD_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One request as the endpoint saw it; borrowed during the handler. */
struct fake_request {
	const char *method; /* "GET", "POST", "PUT", ... */
	const char *uri;
	const char *target; /* X-Amz-Target, or "" */
	const char *body;   /* NUL-terminated after len bytes */
	size_t len;
};

/* The answer; body is copied before the handler's caller returns. */
struct fake_reply {
	int status;
	const void *body;
	size_t len;
	const char *error_type; /* x-amzn-ErrorType header, or NULL */
};

typedef void (*fake_fn)(
    const struct fake_request *, struct fake_reply *, void *arg);

/* Serves 127.0.0.1:<port> on base until the process ends; the port, or
 * aborts (a harness that cannot set up must not report "no finding"). */
int fake_endpoint_start(struct event_base *, fake_fn, void *arg);

/*
 * Turns base until *done is set.  A harness's iteration that has not
 * ended after max_seconds is a hang: abort, so that libFuzzer keeps the
 * input as a crash.
 */
void fuzz_run_until(struct event_base *, const int *done, double max_seconds);

/* The next piece of data[0..size) up to a 0x1e byte (the record
 * separator), advancing *off past it; *off == size when none is left. */
const uint8_t *fuzz_next_piece(
    const uint8_t *data, size_t size, size_t *off, size_t *len);

/* Quiet logs, or debug ones with FUZZ_VERBOSE=1 to see what an input
 * does (replay it with the fuzz-regress binary). */
void fuzz_log_init(void);

/* Sets name=value, aborting on failure (setup only). */
void fuzz_setenv(const char *name, const char *value);

#endif
