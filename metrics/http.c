/*
 * http.c — /metrics, /healthz and /readyz on evhttp.
 *
 * /healthz answers from the event loop itself, so an answer proves the loop
 * turns; /readyz asks the daemon (configuration, credentials, socket).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "metrics/metrics.h"

struct metrics_http {
	struct evhttp *http;
	struct metrics *metrics;
	metrics_ready_fn ready;
	void *arg;
};

static void
http_reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void
http_handle(struct evhttp_request *req, void *arg)
{
	struct metrics_http *mh = arg;
	const char *uri = evhttp_request_get_uri(req), *why = NULL;
	struct evbuffer *body = evbuffer_new();
	size_t len;

	if (body == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	len = strcspn(uri, "?");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evbuffer_add_printf(body, "method not allowed\n");
		http_reply(req, 405, "Method Not Allowed", "text/plain", body);
	} else if (len == 8 && strncmp(uri, "/metrics", len) == 0) {
		metrics_render(mh->metrics, body);
		http_reply(req, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", body);
	} else if (len == 8 && strncmp(uri, "/healthz", len) == 0) {
		evbuffer_add_printf(body, "ok\n");
		http_reply(req, 200, "OK", "text/plain", body);
	} else if (len == 7 && strncmp(uri, "/readyz", len) == 0) {
		if (mh->ready == NULL || mh->ready(mh->arg, &why)) {
			evbuffer_add_printf(body, "ready\n");
			http_reply(req, 200, "OK", "text/plain", body);
		} else {
			evbuffer_add_printf(body, "not ready: %s\n",
			    why != NULL ? why : "starting");
			http_reply(req, 503, "Service Unavailable",
			    "text/plain", body);
		}
	} else {
		evbuffer_add_printf(
		    body, "not found; try /metrics, /healthz or /readyz\n");
		http_reply(req, 404, "Not Found", "text/plain", body);
	}
	evbuffer_free(body);
}

/* "host:port" or "[v6]:port" into host and port; 0 or -1. */
static int
http_parse_listen(
    const char *listen, char *host, size_t hostlen, unsigned short *port)
{
	const char *colon;
	char *end;
	unsigned long p;
	size_t n;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t)(close - listen - 1);
		if (n >= hostlen)
			return -1;
		memcpy(host, listen + 1, n);
		colon = close + 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			return -1;
		n = (size_t)(colon - listen);
		if (n >= hostlen)
			return -1;
		memcpy(host, listen, n);
	}
	host[n] = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || p > 65535)
		return -1;
	*port = (unsigned short)p;
	return 0;
}

struct metrics_http *
metrics_http_start(struct metrics *m, struct event_base *base,
    const char *listen, metrics_ready_fn ready, void *arg, char **cause)
{
	struct metrics_http *mh;
	char host[256];
	unsigned short port;

	*cause = NULL;
	if (http_parse_listen(listen, host, sizeof(host), &port) == -1) {
		if (asprintf(cause,
		        "http-listen: \"%s\" is not host:port "
		        "(e.g. 127.0.0.1:9485, [::1]:9485)",
		        listen) == -1)
			*cause = NULL;
		return NULL;
	}
	if ((mh = calloc(1, sizeof(*mh))) == NULL ||
	    (mh->http = evhttp_new(base)) == NULL) {
		free(mh);
		*cause = strdup("out of memory");
		return NULL;
	}
	mh->metrics = m;
	mh->ready = ready;
	mh->arg = arg;
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(mh->http, http_handle, mh);
	evhttp_set_timeout(mh->http, 10);
	if (evhttp_bind_socket(mh->http, host, port) != 0) {
		if (asprintf(cause,
		        "http-listen %s: cannot listen there "
		        "(in use, or not a local address)",
		        listen) == -1)
			*cause = NULL;
		metrics_http_stop(mh);
		return NULL;
	}
	return mh;
}

void
metrics_http_stop(struct metrics_http *mh)
{
	if (mh == NULL)
		return;
	if (mh->http != NULL)
		evhttp_free(mh->http);
	free(mh);
}
