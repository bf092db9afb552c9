/*
 * tests/fuzz/lib/fuzz.c — the in-process HTTP endpoint and loop helpers
 * of fuzz.h.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log/log.h"
#include "tests/fuzz/lib/fuzz.h"

struct fake_endpoint {
	struct evhttp *http;
	fake_fn fn;
	void *arg;
};

static const char *
method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	default:
		return "OTHER";
	}
}

static void
endpoint_cb(struct evhttp_request *req, void *arg)
{
	struct fake_endpoint *fe = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *target = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "X-Amz-Target");
	struct fake_request r;
	struct fake_reply out = {200, "", 0, NULL};
	struct evbuffer *b;
	size_t len = evbuffer_get_length(in);
	char *body;

	/* NUL-terminated, as handlers parse it with cJSON or strstr. */
	if ((body = malloc(len + 1)) == NULL)
		abort();
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	r.method = method_name(evhttp_request_get_command(req));
	r.uri = evhttp_request_get_uri(req);
	r.target = target != NULL ? target : "";
	r.body = body;
	r.len = len;
	fe->fn(&r, &out, fe->arg);
	if ((b = evbuffer_new()) == NULL)
		abort();
	if (out.len > 0 && evbuffer_add(b, out.body, out.len) == -1)
		abort();
	if (out.error_type != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "x-amzn-ErrorType", out.error_type);
	evhttp_send_reply(req, out.status, "X", b);
	evbuffer_free(b);
	free(body);
}

int
fake_endpoint_start(struct event_base *base, fake_fn fn, void *arg)
{
	struct fake_endpoint *fe = calloc(1, sizeof(*fe));
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (fe == NULL || (fe->http = evhttp_new(base)) == NULL)
		abort();
	fe->fn = fn;
	fe->arg = arg;
	/* Any status a peer may send, bodies up to what aws/ accepts. */
	evhttp_set_allowed_methods(
	    fe->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
	evhttp_set_gencb(fe->http, endpoint_cb, fe);
	if ((bs = evhttp_bind_socket_with_handle(fe->http, "127.0.0.1", 0)) ==
	        NULL ||
	    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
	        &len) == -1) {
		fprintf(stderr, "fuzz: cannot bind the fake endpoint\n");
		abort();
	}
	return ntohs(sin.sin_port);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
fuzz_run_until(struct event_base *base, const int *done, double max_seconds)
{
	double end = now_s() + max_seconds;

	while (!*done) {
		if (now_s() > end) {
			fprintf(stderr, "fuzz: iteration hung for %.0f s\n",
			    max_seconds);
			abort();
		}
		event_base_loop(base, EVLOOP_ONCE);
	}
}

const uint8_t *
fuzz_next_piece(const uint8_t *data, size_t size, size_t *off, size_t *len)
{
	const uint8_t *start = data + *off, *sep;

	if (*off >= size) {
		*len = 0;
		return start;
	}
	sep = memchr(start, 0x1e, size - *off);
	*len = sep != NULL ? (size_t)(sep - start) : size - *off;
	*off += *len + (sep != NULL ? 1 : 0);
	return start;
}

void
fuzz_setenv(const char *name, const char *value)
{
	if (value == NULL ? unsetenv(name) : setenv(name, value, 1)) {
		perror("fuzz: setenv");
		abort();
	}
}

void
fuzz_log_init(void)
{
	const char *v = getenv("FUZZ_VERBOSE");

	log_init(v != NULL && *v == '1' ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR,
	    LOG_FORMAT_TEXT);
}
