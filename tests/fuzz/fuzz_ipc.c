/*
 * fuzz_ipc.c — the socket protocol end to end: bytes written by a client
 * into a real ipc_server (framing, UTF-8 check, JSON parse, the dispatch
 * table, back-pressure), with the real producer's put and flush behind it
 * (their field validation) talking to a fake Kinesis on the same loop, and
 * a few stand-in ops that exercise the reply paths (echo any request back,
 * errors quoting the request, requests held unanswered, broadcasts).
 *
 * Each input is one connection's bytes, written in pieces as the socket
 * takes them; then the client half-closes and reads until the server
 * closes.  Every line the server sends must be a JSON object with an "op"
 * (the protocol's promise, whatever was sent), and an iteration must end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "conf/conf.h"
#include "ipc/ipc.h"
#include "ipc/ipc_int.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "producer/producer.h"
#include "tests/fuzz/lib/fuzz.h"

#define MAX_HELD 64

static struct {
	struct event_base *base;
	struct metrics *metrics;
	struct aws_http *http;
	struct aws_credentials *creds;
	struct conf *conf;
	struct ipc_server *ipc;
	struct producers *producers;
	char dir[64], path[96];
	unsigned long long seq;
	struct ipc_conn *held[MAX_HELD];
	size_t n_held;
} F;

/* ---- a Kinesis that takes every record ------------------------------------
 */

static const char SHARDS[] =
    "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\",\"HashKeyRange\":"
    "{\"StartingHashKey\":\"0\",\"EndingHashKey\":"
    "\"340282366920938463463374607431768211455\"},\"SequenceNumberRange\":"
    "{\"StartingSequenceNumber\":\"1\"}}]}";

static void
kinesis_cb(const struct fake_request *r, struct fake_reply *out, void *arg)
{
	static char *reply;
	cJSON *req, *recs, *resp = NULL, *arr;
	int n;

	(void)arg;
	free(reply);
	reply = NULL;
	out->status = 200;
	if (strstr(r->target, "ListShards") != NULL) {
		out->body = SHARDS;
		out->len = strlen(SHARDS);
		return;
	}
	out->body = "{}";
	out->len = 2;
	if (strstr(r->target, "PutRecords") == NULL ||
	    (req = cJSON_Parse(r->body)) == NULL)
		return;
	recs = cJSON_GetObjectItemCaseSensitive(req, "Records");
	n = cJSON_GetArraySize(recs);
	if ((resp = cJSON_CreateObject()) != NULL &&
	    cJSON_AddNumberToObject(resp, "FailedRecordCount", 0) != NULL &&
	    (arr = cJSON_AddArrayToObject(resp, "Records")) != NULL) {
		for (int i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			char seq[32];

			snprintf(seq, sizeof(seq), "%llu", ++F.seq);
			cJSON_AddItemToArray(arr, o);
			cJSON_AddStringToObject(
			    o, "ShardId", "shardId-000000000000");
			cJSON_AddStringToObject(o, "SequenceNumber", seq);
		}
		if ((reply = cJSON_PrintUnformatted(resp)) != NULL) {
			out->body = reply;
			out->len = strlen(reply);
		}
	}
	cJSON_Delete(resp);
	cJSON_Delete(req);
}

/* ---- stand-in ops -----------------------------------------------------------
 */

static void
op_ping(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)req;
	(void)arg;
	ipc_conn_send(c, ipc_msg_new("pong", id));
}

/* Sends the request's members back inside a reply: every string and
 * number the scanner recorded gets printed again. */
static void
op_echo(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	cJSON *m = ipc_msg_new("echo", id), *o;

	(void)arg;
	if (m == NULL || (o = cJSON_AddObjectToObject(m, "request")) == NULL) {
		cJSON_Delete(m);
		return;
	}
	for (size_t i = 0; i < req->n; i++) {
		const struct ipc_member *mb = &req->m[i];
		if (mb->v.type == IPC_STRING)
			cJSON_AddStringToObject(o, mb->name, mb->v.str);
		else if (mb->v.type == IPC_NUMBER)
			cJSON_AddRawToObject(o, mb->name, mb->v.str);
	}
	ipc_conn_send(c, m);
}

/* An error quoting a field of the request, as handlers do. */
static void
op_err(struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	const char *v = ipc_req_string(req, "what");

	(void)arg;
	ipc_conn_error(
	    c, id, "bad_request", "err: \"%.100s\"", v != NULL ? v : "-");
}

/* Held unanswered (as a put waiting for Kinesis) until the loop turns. */
static void
op_hold(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)req;
	(void)id;
	(void)arg;
	if (F.n_held == MAX_HELD)
		return;
	F.held[F.n_held++] = c;
	ipc_conn_hold(c);
}

static void
op_bcast(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)c;
	(void)req;
	(void)id;
	(void)arg;
	ipc_server_broadcast(F.ipc, ipc_msg_new("shutdown", NULL));
}

static void
on_close(struct ipc_conn *c, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < F.n_held; i++)
		if (F.held[i] == c)
			F.held[i] = NULL;
}

static void
release_held(void)
{
	for (size_t i = 0; i < F.n_held; i++)
		if (F.held[i] != NULL) {
			ipc_conn_send(
			    F.held[i], ipc_msg_new("held_done", NULL));
			ipc_conn_release(F.held[i]);
		}
	F.n_held = 0;
}

/* ---- set-up
 * ------------------------------------------------------------------ */

/* The socket and its folder go with the process. */
static void
cleanup(void)
{
	unlink(F.path);
	rmdir(F.dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ipc_opts io = {0};
	char yaml[1024], *cause = NULL;
	int port;

	(void)argc;
	(void)argv;
	fuzz_log_init();
	fuzz_setenv("AWS_ACCESS_KEY_ID", "AKIDFUZZ");
	fuzz_setenv("AWS_SECRET_ACCESS_KEY", "fuzz-secret");
	fuzz_setenv("AWS_SESSION_TOKEN", NULL);
	fuzz_setenv("AWS_EC2_METADATA_DISABLED", "true");
	fuzz_setenv("AWS_ENDPOINT_URL", NULL);
	fuzz_setenv("AWS_ENDPOINT_URL_KINESIS", NULL);
	if ((F.base = event_base_new()) == NULL ||
	    (F.metrics = metrics_new()) == NULL ||
	    (F.http = aws_http_new(F.base, &cause)) == NULL ||
	    (F.creds = aws_credentials_new(F.base, F.http)) == NULL)
		abort();
	port = fake_endpoint_start(F.base, kinesis_cb, NULL);
	snprintf(F.dir, sizeof(F.dir), "/tmp/kdfuzzXXXXXX");
	if (mkdtemp(F.dir) == NULL)
		abort();
	snprintf(F.path, sizeof(F.path), "%s/kd.sock", F.dir);
	atexit(cleanup);
	/* Aggregated and plain producers, records sent at once. */
	snprintf(yaml, sizeof(yaml),
	    "region: us-east-1\n"
	    "endpoints: { kinesis: \"http://127.0.0.1:%d\" }\n"
	    "producers:\n"
	    "  p: { stream-name: s, kpl: { RecordMaxBufferedTime: 0 } }\n"
	    "  q:\n"
	    "    stream-name: t\n"
	    "    max-outstanding-requests: 20\n"
	    "    kpl: { AggregationEnabled: false, RecordMaxBufferedTime: 0 "
	    "}\n",
	    port);
	if ((F.conf = conf_load_string(yaml, "fuzz.yaml", &cause)) == NULL) {
		fprintf(stderr, "fuzz_ipc: %s\n", cause);
		abort();
	}
	io.path = F.path;
	io.mode = 0600;
	io.inherited_fd = -1;
	io.max_line = 8192; /* small, so that too_large is reached */
	io.max_unanswered = 4;
	io.line_timeout = 30;
	if ((F.ipc = ipc_server_new(F.base, &io, F.metrics, &cause)) == NULL ||
	    ipc_register(F.ipc, "ping", op_ping, NULL) == -1 ||
	    ipc_register(F.ipc, "echo", op_echo, NULL) == -1 ||
	    ipc_register(F.ipc, "err", op_err, NULL) == -1 ||
	    ipc_register(F.ipc, "hold", op_hold, NULL) == -1 ||
	    ipc_register(F.ipc, "bcast", op_bcast, NULL) == -1 ||
	    ipc_on_close(F.ipc, on_close, NULL) == -1) {
		fprintf(stderr, "fuzz_ipc: %s\n", cause ? cause : "ipc");
		abort();
	}
	F.producers = producers_new(F.base, F.conf, F.http, F.creds,
	    "us-east-1", F.ipc, F.metrics, &cause);
	if (F.producers == NULL) {
		fprintf(stderr, "fuzz_ipc: %s\n", cause);
		abort();
	}
	return 0;
}

/* ---- one connection
 * ------------------------------------------------------------ */

/* Every complete line in buf must be a JSON object with a string "op". */
static size_t
check_lines(char *buf, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		cJSON *m;

		if (buf[i] != '\n')
			continue;
		m = cJSON_ParseWithLength(buf + start, i - start);
		if (!cJSON_IsObject(m) ||
		    !cJSON_IsString(
		        cJSON_GetObjectItemCaseSensitive(m, "op"))) {
			fprintf(stderr, "server sent a bad line: %.*s\n",
			    (int)(i - start), buf + start);
			abort();
		}
		cJSON_Delete(m);
		start = i + 1;
	}
	memmove(buf, buf + start, len - start);
	return len - start;
}

/* Reads what is there; 1 on EOF. */
static int
drain(int fd, char *buf, size_t *len, size_t cap)
{
	for (;;) {
		ssize_t n = read(fd, buf + *len, cap - *len);

		if (n > 0) {
			*len = check_lines(buf, *len + (size_t)n);
			if (*len == cap) /* one line longer than we keep */
				*len = 0;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return 1; /* reset by the server: also an end */
	}
}

static void
turn(void)
{
	event_base_loop(F.base, EVLOOP_NONBLOCK);
	release_held();
	event_base_loop(F.base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 20];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t off = 0, len = 0;
	int fd, eof = 0;
	time_t start = time(NULL);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		abort();
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", F.path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("fuzz_ipc: connect");
		abort();
	}
	while (off < size && !eof) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			break; /* the server closed it (too_large) */
		turn();
		eof = drain(fd, buf, &len, sizeof(buf));
	}
	shutdown(fd, SHUT_WR);
	/* The server must close once it has answered what it read. */
	while (!eof) {
		if (time(NULL) - start > 20) {
			fprintf(stderr, "fuzz_ipc: the server never closed\n");
			abort();
		}
		turn();
		eof = drain(fd, buf, &len, sizeof(buf));
	}
	close(fd);
	/* Let results of puts reach the (closed) connection's state. */
	for (int i = 0; i < 4; i++)
		turn();
	return 0;
}
