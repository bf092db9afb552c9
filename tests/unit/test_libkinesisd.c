/*
 * test_libkinesisd.c — libkinesisd (clients/c) against a fake daemon
 * written here: the other end of a socketpair, or a listening socket on
 * a temporary path for connect and reconnect.  Checks the lines the
 * library writes, how it reads what comes back (split anywhere, many at
 * once, out of order, malformed), its buffers under back-pressure, and
 * what happens when the connection goes.  Nothing from the daemon's
 * modules is used.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "clients/c/kinesisd.h"

static struct kinesisd *k;
static int srv = -1; /* the fake daemon's end of the connection */
static char *sbuf;   /* what it has read and not yet split into lines */
static size_t slen;

static void
open_pair(const struct kinesisd_opts *opts)
{
	int sv[2];

	ck_assert_int_eq(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	k = kinesisd_new(opts);
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(kinesisd_connect_fd(k, sv[0]), KINESISD_OK);
	ck_assert(kinesisd_is_connected(k));
	srv = sv[1];
}

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	open_pair(NULL);
}

static void
teardown(void)
{
	kinesisd_free(k);
	k = NULL;
	if (srv != -1)
		close(srv);
	srv = -1;
	free(sbuf);
	sbuf = NULL;
	slen = 0;
}

static void
srv_send(const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t w = write(srv, s + off, n - off);
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
}

/* The next line the library sent, parsed; NULL on timeout or EOF. */
static cJSON *
srv_recv(int timeout_ms)
{
	for (;;) {
		char *nl = slen > 0 ? memchr(sbuf, '\n', slen) : NULL;
		struct pollfd pfd = {.fd = srv, .events = POLLIN};
		char chunk[65536];
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - sbuf);
			cJSON *m = cJSON_ParseWithLength(sbuf, len);
			ck_assert_msg(m != NULL, "library sent bad JSON: %.*s",
			    (int)len, sbuf);
			memmove(sbuf, nl + 1, slen - len - 1);
			slen -= len + 1;
			return m;
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return NULL;
		if ((n = read(srv, chunk, sizeof(chunk))) <= 0)
			return NULL;
		sbuf = realloc(sbuf, slen + (size_t)n);
		ck_assert_ptr_nonnull(sbuf);
		memcpy(sbuf + slen, chunk, (size_t)n);
		slen += (size_t)n;
	}
}

static const char *
jstr(const cJSON *m, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
jnum(const cJSON *m, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);

	ck_assert_msg(cJSON_IsNumber(v), "no number \"%s\"", name);
	return v->valuedouble;
}

/* What a put callback saw. */
struct seen {
	int calls;
	struct kinesisd_put_result last;
	int order[16];
};

static void
on_put(const struct kinesisd_put_result *res, void *arg)
{
	struct seen *s = arg;

	if (s->calls < 16)
		s->order[s->calls] = res->status;
	s->calls++;
	s->last = *res;
}

/* ---- what the library writes --------------------------------------------- */

START_TEST(put_line_and_callback)
{
	static const unsigned char data[] = {0, 1, 2, 'a', 0xff, 0xfe, '\n'};
	struct seen s = {0};
	cJSON *m;
	char reply[256];

	ck_assert_int_eq(
	    kinesisd_put(k, "prod", "key-1", data, sizeof(data), on_put, &s),
	    KINESISD_OK);
	ck_assert_uint_eq(kinesisd_pending(k), 1);
	m = srv_recv(2000);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(jstr(m, "op"), "put");
	ck_assert_str_eq(jstr(m, "producer"), "prod");
	ck_assert_str_eq(jstr(m, "key"), "key-1");
	ck_assert_str_eq(jstr(m, "data"), "AAECYf/+Cg==");
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "ehk"));
	snprintf(reply, sizeof(reply),
	    "{\"op\":\"put_ok\",\"id\":%.0f,\"shard\":\"shardId-000000000001\","
	    "\"seq\":\"4960\",\"subseq\":7}\n",
	    jnum(m, "id"));
	cJSON_Delete(m);
	srv_send(reply);
	ck_assert_int_eq(s.calls, 0); /* only inside library calls */
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_OK);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.last.status, KINESISD_OK);
	ck_assert_str_eq(s.last.shard, "shardId-000000000001");
	ck_assert_str_eq(s.last.seq, "4960");
	ck_assert_uint_eq(s.last.subseq, 7);
	ck_assert_uint_eq(kinesisd_pending(k), 0);
}
END_TEST

START_TEST(fire_and_forget_has_no_id)
{
	struct kinesisd_event *ev;
	cJSON *m;

	ck_assert_int_eq(
	    kinesisd_put_forget(k, "prod", "k", "", 0), KINESISD_OK);
	ck_assert_int_eq(kinesisd_put_ehk(k, "prod", "k", "170141183460469231",
	                     "x", 1, NULL, NULL),
	    KINESISD_OK);
	ck_assert_uint_eq(kinesisd_pending(k), 0);
	m = srv_recv(2000);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "id"));
	ck_assert_str_eq(jstr(m, "data"), "");
	cJSON_Delete(m);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "ehk"), "170141183460469231");
	ck_assert_str_eq(jstr(m, "data"), "eA==");
	cJSON_Delete(m);
	/* A refusal of a fire-and-forget put comes as an event. */
	srv_send("{\"op\":\"error\",\"error\":\"unknown_producer\","
	         "\"message\":\"no producer named 'prod'\"}\n");
	ck_assert_int_eq(kinesisd_next_event(k, 2000, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_ERROR);
	ck_assert_str_eq(ev->error, "unknown_producer");
	ck_assert_str_eq(ev->message, "no producer named 'prod'");
	kinesisd_event_free(ev);
}
END_TEST

START_TEST(keys_escaped_and_checked)
{
	const char *keys[] = {"quote\"back\\slash", "new\nline\ttab\x01",
	    "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "/"};
	char big[256 * 2 + 1];
	cJSON *m;

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		ck_assert_int_eq(
		    kinesisd_put_forget(k, "p", keys[i], "d", 1), KINESISD_OK);
		m = srv_recv(2000);
		ck_assert_ptr_nonnull(m);
		ck_assert_str_eq(jstr(m, "key"), keys[i]);
		cJSON_Delete(m);
	}
	/* 256 characters of two bytes each: fine; 257: refused here. */
	for (int i = 0; i < 256; i++)
		memcpy(big + 2 * i, "\xc3\xa9", 2);
	big[512] = '\0';
	ck_assert_int_eq(kinesisd_put_forget(k, "p", big, "d", 1), KINESISD_OK);
	cJSON_Delete(srv_recv(2000));
	{
		char over[258];
		memset(over, 'k', 257);
		over[257] = '\0';
		ck_assert_int_eq(kinesisd_put_forget(k, "p", over, "d", 1),
		    KINESISD_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(kinesisd_errmsg(k), "key"));
	}
	ck_assert_int_eq(
	    kinesisd_put_forget(k, "p", "", "d", 1), KINESISD_ERR_INVALID);
	ck_assert_int_eq(kinesisd_put_forget(k, "p", "bad\xff", "d", 1),
	    KINESISD_ERR_INVALID);
	ck_assert_int_eq(kinesisd_put_forget(k, "p", "\xc0\xaf", "d", 1),
	    KINESISD_ERR_INVALID); /* overlong */
	ck_assert_int_eq(
	    kinesisd_put_forget(k, "p", NULL, "d", 1), KINESISD_ERR_INVALID);
	ck_assert_int_eq(
	    kinesisd_put_forget(k, "", "k", "d", 1), KINESISD_ERR_INVALID);
	ck_assert_int_eq(
	    kinesisd_put_forget(k, "p", "k", NULL, 3), KINESISD_ERR_INVALID);
	ck_assert_int_eq(
	    kinesisd_put_ehk(k, "p", "k", "12a", "d", 1, NULL, NULL),
	    KINESISD_ERR_INVALID);
	ck_assert_int_eq(kinesisd_put_ehk(k, "p", "k", "", "d", 1, NULL, NULL),
	    KINESISD_ERR_INVALID);
	/* Nothing of the refused puts reached the socket. */
	ck_assert_ptr_null(srv_recv(100));
}
END_TEST

START_TEST(ack_skip_lines)
{
	struct kinesisd_event *ev;
	cJSON *m;

	srv_send("{\"op\":\"record\",\"consumer\":\"c\",\"shard\":\"s-1\","
	         "\"seq\":\"123\",\"subseq\":4,\"key\":\"k\",\"data\":\"aGk=\","
	         "\"ts\":1700000000123}\n");
	ck_assert_int_eq(kinesisd_next_event(k, 2000, &ev), KINESISD_OK);
	ck_assert_int_eq(kinesisd_ack(k, ev), KINESISD_OK);
	ck_assert_int_eq(kinesisd_skip(k, ev), KINESISD_OK);
	ck_assert_int_eq(
	    kinesisd_ack_at(k, "c", "s-2", "9", 0, 1), KINESISD_OK);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "op"), "ack");
	ck_assert_str_eq(jstr(m, "consumer"), "c");
	ck_assert_str_eq(jstr(m, "shard"), "s-1");
	ck_assert_str_eq(jstr(m, "seq"), "123");
	ck_assert(jnum(m, "subseq") == 4);
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "ok"));
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "id"));
	cJSON_Delete(m);
	m = srv_recv(2000);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(m, "ok")));
	cJSON_Delete(m);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "shard"), "s-2");
	cJSON_Delete(m);
	kinesisd_event_free(ev);

	srv_send(
	    "{\"op\":\"shard_started\",\"consumer\":\"c\",\"shard\":\"s\"}\n");
	ck_assert_int_eq(kinesisd_next_event(k, 2000, &ev), KINESISD_OK);
	ck_assert_int_eq(kinesisd_ack(k, ev), KINESISD_ERR_INVALID);
	ck_assert_int_eq(kinesisd_ack(k, NULL), KINESISD_ERR_INVALID);
	kinesisd_event_free(ev);
}
END_TEST

/* ---- what the library reads ---------------------------------------------- */

START_TEST(events_parsed)
{
	struct kinesisd_event *ev;

	srv_send(
	    "{\"op\":\"record\",\"consumer\":\"c\",\"shard\":\"s-1\","
	    "\"seq\":\"49590\",\"subseq\":2,\"key\":\"k\\u00e9\","
	    "\"data\":\"AP8=\",\"ts\":1700000000123,\"ehk\":\"42\","
	    "\"future_field\":[1,2]}\n"
	    "{\"op\":\"consumer_failure\",\"consumer\":\"c\",\"shard\":"
	    "\"s-1\",\"failed\":[{\"seq\":\"1\",\"subseq\":0},"
	    "{\"seq\":\"2\",\"subseq\":3}]}\n"
	    "\n"
	    "{\"op\":\"shard_lost\",\"consumer\":\"c\",\"shard\":\"s-2\"}\n"
	    "{\"op\":\"shard_ended\",\"consumer\":\"c\",\"shard\":\"s-3\"}\n"
	    "{\"op\":\"consumer_shutdown\",\"consumer\":\"c\",\"shard\":\"s-"
	    "4\"}\n"
	    "not json at all\n"
	    "{\"op\":\"shutdown\",\"reason\":\"SIGTERM\"}\n"
	    "{\"op\":\"brand_new\",\"x\":1}\n");
	ck_assert_int_eq(kinesisd_next_event(k, 2000, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_RECORD);
	ck_assert_str_eq(ev->op, "record");
	ck_assert_str_eq(ev->consumer, "c");
	ck_assert_str_eq(ev->shard, "s-1");
	ck_assert_str_eq(ev->seq, "49590");
	ck_assert_uint_eq(ev->subseq, 2);
	ck_assert_str_eq(ev->key, "k\xc3\xa9");
	ck_assert_uint_eq(ev->data_len, 2);
	ck_assert_int_eq(ev->data[0], 0);
	ck_assert_int_eq(ev->data[1], 0xff);
	ck_assert_int_eq(ev->data[2], 0);
	ck_assert(ev->ts == 1700000000123LL);
	ck_assert_str_eq(ev->ehk, "42");
	ck_assert_ptr_nonnull(strstr(ev->json, "future_field"));
	kinesisd_event_free(ev);

	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_CONSUMER_FAILURE);
	ck_assert_uint_eq(ev->n_failed, 2);
	ck_assert_str_eq(ev->failed[1].seq, "2");
	ck_assert_uint_eq(ev->failed[1].subseq, 3);
	kinesisd_event_free(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_SHARD_LOST);
	ck_assert_str_eq(ev->shard, "s-2");
	kinesisd_event_free(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_SHARD_ENDED);
	kinesisd_event_free(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_CONSUMER_SHUTDOWN);
	ck_assert_str_eq(ev->shard, "s-4");
	kinesisd_event_free(ev);
	/* The line that is not JSON was skipped. */
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_SHUTDOWN);
	ck_assert_str_eq(ev->reason, "SIGTERM");
	kinesisd_event_free(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_OTHER);
	ck_assert_str_eq(ev->op, "brand_new");
	kinesisd_event_free(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_ERR_TIMEOUT);
	ck_assert_ptr_null(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 30, &ev), KINESISD_ERR_TIMEOUT);
}
END_TEST

/* A message split at every byte arrives once, whole, at its last byte. */
START_TEST(split_byte_by_byte)
{
	const char *line = "{\"op\":\"record\",\"consumer\":\"c\",\"shard\":"
	                   "\"s\",\"seq\":\"1\",\"subseq\":0,\"key\":\"k\","
	                   "\"data\":\"aGVsbG8=\",\"ts\":1}\n";
	struct kinesisd_event *ev;
	size_t n = strlen(line);

	for (size_t i = 0; i < n; i++) {
		char one[2] = {line[i], 0};
		srv_send(one);
		ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_OK);
		if (i + 1 < n)
			ck_assert_int_eq(kinesisd_next_event(k, 0, &ev),
			    KINESISD_ERR_TIMEOUT);
	}
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_str_eq((const char *)ev->data, "hello");
	kinesisd_event_free(ev);
}
END_TEST

/* A 1 MiB record, read in many pieces, and many records in one write. */
START_TEST(big_and_many)
{
	size_t n = 1 << 20, b64 = (n + 2) / 3 * 4;
	char *line = malloc(b64 + 256), *p;
	struct kinesisd_event *ev;
	int count = 0;

	ck_assert_ptr_nonnull(line);
	p = line + sprintf(line, "{\"op\":\"record\",\"consumer\":\"c\","
	                         "\"shard\":\"s\",\"seq\":\"1\",\"subseq\":0,"
	                         "\"key\":\"k\",\"data\":\"");
	/* "////" decodes to 0xff 0xff 0xff */
	memset(p, '/', b64 - 4);
	memcpy(p + b64 - 4, "//8=", 4);
	strcpy(p + b64, "\",\"ts\":1}\n");
	/* Written by a child: the socket holds less than the line. */
	if (fork() == 0) {
		srv_send(line);
		_exit(0);
	}
	ck_assert_int_eq(kinesisd_next_event(k, 10000, &ev), KINESISD_OK);
	ck_assert_uint_eq(ev->data_len, (b64 / 4) * 3 - 1);
	for (size_t i = 0; i < ev->data_len; i++)
		if (ev->data[i] != 0xff)
			ck_abort_msg("byte %zu is %d", i, ev->data[i]);
	kinesisd_event_free(ev);
	wait(NULL);
	free(line);

	line = malloc(5000 * 128);
	ck_assert_ptr_nonnull(line);
	p = line;
	for (int i = 0; i < 5000; i++)
		p += sprintf(p,
		    "{\"op\":\"shard_started\",\"consumer\":\"c\","
		    "\"shard\":\"s-%d\"}\n",
		    i);
	if (fork() == 0) {
		srv_send(line);
		_exit(0);
	}
	while (
	    count < 5000 && kinesisd_next_event(k, 5000, &ev) == KINESISD_OK) {
		char want[32];
		snprintf(want, sizeof(want), "s-%d", count++);
		ck_assert_str_eq(ev->shard, want);
		kinesisd_event_free(ev);
	}
	ck_assert_int_eq(count, 5000);
	wait(NULL);
	free(line);
}
END_TEST

START_TEST(replies_out_of_order_and_many)
{
	enum { N = 5000 };
	static struct seen s[N];
	char reply[200];
	cJSON *m;
	double ids[N];

	memset(s, 0, sizeof(s));
	for (int i = 0; i < N; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(
		    kinesisd_put(k, "p", key, key, strlen(key), on_put, &s[i]),
		    KINESISD_OK);
	}
	ck_assert_uint_eq(kinesisd_pending(k), N);
	/* More than the socket holds: the library writes the rest as the
	 * daemon reads and kinesisd_process() runs. */
	for (int i = 0, tries = 0; i < N; i++) {
		while ((m = srv_recv(10)) == NULL) {
			ck_assert_int_lt(tries++, 1000);
			ck_assert_int_eq(kinesisd_process(k, 0), KINESISD_OK);
		}
		ids[i] = jnum(m, "id");
		cJSON_Delete(m);
	}
	/* Answered from the last to the first; every other one fails. */
	for (int i = N - 1; i >= 0; i--) {
		if (i % 2)
			snprintf(reply, sizeof(reply),
			    "{\"op\":\"put_ok\",\"id\":%.0f,\"shard\":\"s-%d\","
			    "\"seq\":\"%d\",\"subseq\":0}\n",
			    ids[i], i, i);
		else
			snprintf(reply, sizeof(reply),
			    "{\"op\":\"put_failed\",\"id\":%.0f,\"error\":"
			    "\"expired\",\"message\":\"RecordTtl %d\"}\n",
			    ids[i], i);
		srv_send(reply);
		if (i % 100 == 0)
			ck_assert_int_eq(
			    kinesisd_process(k, POLLIN), KINESISD_OK);
	}
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_OK);
	ck_assert_uint_eq(kinesisd_pending(k), 0);
	for (int i = 0; i < N; i++) {
		char want[32];
		ck_assert_int_eq(s[i].calls, 1);
		if (i % 2) {
			ck_assert_int_eq(s[i].last.status, KINESISD_OK);
			snprintf(want, sizeof(want), "s-%d", i);
			ck_assert_str_eq(s[i].last.shard, want);
		} else {
			ck_assert_int_eq(
			    s[i].last.status, KINESISD_ERR_PUT_FAILED);
			ck_assert_str_eq(s[i].last.error, "expired");
			snprintf(want, sizeof(want), "RecordTtl %d", i);
			ck_assert_str_eq(s[i].last.message, want);
		}
	}
}
END_TEST

/* ---- waiting calls ------------------------------------------------------- */

/* Replies can be written before the request: ids count from 1. */
START_TEST(put_wait_results)
{
	struct kinesisd_put_result res;
	cJSON *m;

	srv_send("{\"op\":\"put_ok\",\"id\":1,\"shard\":\"s\",\"seq\":\"9\","
	         "\"subseq\":0}\n");
	ck_assert_int_eq(
	    kinesisd_put_wait(k, "p", "k", "d", 1, 2000, &res), KINESISD_OK);
	ck_assert_int_eq(res.status, KINESISD_OK);
	ck_assert_str_eq(res.seq, "9");
	m = srv_recv(2000);
	ck_assert(jnum(m, "id") == 1);
	cJSON_Delete(m);

	srv_send("{\"op\":\"put_failed\",\"id\":2,\"error\":"
	         "\"ResourceNotFoundException\",\"message\":\"no stream\"}\n");
	ck_assert_int_eq(kinesisd_put_wait(k, "p", "k", "d", 1, 2000, &res),
	    KINESISD_ERR_PUT_FAILED);
	ck_assert_str_eq(res.error, "ResourceNotFoundException");
	ck_assert_str_eq(res.message, "no stream");
	ck_assert_ptr_nonnull(strstr(kinesisd_errmsg(k), "no stream"));

	srv_send("{\"op\":\"error\",\"id\":3,\"error\":\"unknown_producer\","
	         "\"message\":\"no producer named 'p'\"}\n");
	ck_assert_int_eq(kinesisd_put_wait(k, "p", "k", "d", 1, 2000, &res),
	    KINESISD_ERR_REFUSED);
	ck_assert_str_eq(res.error, "unknown_producer");

	srv_send("{\"op\":\"error\",\"id\":4,\"error\":\"shutting_down\","
	         "\"message\":\"bye\"}\n");
	ck_assert_int_eq(kinesisd_put_wait(k, "p", "k", "d", 1, 2000, &res),
	    KINESISD_ERR_SHUTTING_DOWN);

	/* No reply: a timeout; the late reply is then dropped quietly. */
	ck_assert_int_eq(kinesisd_put_wait(k, "p", "k", "d", 1, 50, &res),
	    KINESISD_ERR_TIMEOUT);
	ck_assert_int_eq(res.status, KINESISD_ERR_TIMEOUT);
	ck_assert_uint_eq(kinesisd_pending(k), 1);
	srv_send("{\"op\":\"put_ok\",\"id\":5,\"shard\":\"s\",\"seq\":\"10\","
	         "\"subseq\":0}\n");
	ck_assert_int_eq(kinesisd_ping(k, 0), KINESISD_ERR_TIMEOUT);
	ck_assert_uint_eq(kinesisd_pending(k), 1); /* the ping's */
	srv_send("{\"op\":\"pong\",\"id\":6}\n");
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_OK);
	ck_assert_uint_eq(kinesisd_pending(k), 0);
	{
		struct kinesisd_event *ev;
		ck_assert_int_eq(
		    kinesisd_next_event(k, 0, &ev), KINESISD_ERR_TIMEOUT);
	}
}
END_TEST

START_TEST(flush_after_callbacks)
{
	struct seen s = {0};
	cJSON *m;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
		    kinesisd_put(k, "p", "k", "d", 1, on_put, &s), KINESISD_OK);
	srv_send("{\"op\":\"put_ok\",\"id\":2,\"shard\":\"s\",\"seq\":\"2\"}\n"
	         "{\"op\":\"put_ok\",\"id\":1,\"shard\":\"s\",\"seq\":\"1\"}\n"
	         "{\"op\":\"put_failed\",\"id\":3,\"error\":\"expired\"}\n"
	         "{\"op\":\"flushed\",\"id\":4}\n");
	ck_assert_int_eq(kinesisd_flush(k, "p", 2000), KINESISD_OK);
	ck_assert_int_eq(s.calls, 3);
	ck_assert_int_eq(s.order[2], KINESISD_ERR_PUT_FAILED);
	ck_assert_str_eq(s.last.message, "");
	for (int i = 0; i < 3; i++)
		cJSON_Delete(srv_recv(2000));
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "op"), "flush");
	ck_assert_str_eq(jstr(m, "producer"), "p");
	cJSON_Delete(m);
	srv_send("{\"op\":\"flushed\",\"id\":5}\n");
	ck_assert_int_eq(kinesisd_flush(k, NULL, 2000), KINESISD_OK);
	m = srv_recv(2000);
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "producer"));
	cJSON_Delete(m);
}
END_TEST

START_TEST(hello_subscribe_unsubscribe)
{
	struct kinesisd_hello *h = NULL;
	cJSON *m;

	srv_send("{\"op\":\"hello\",\"id\":1,\"version\":1,\"server\":"
	         "\"kinesisd/0.1.0\",\"producers\":[\"a\",\"b\"],"
	         "\"consumers\":[\"c\"]}\n");
	ck_assert_int_eq(kinesisd_hello(k, 2000, &h), KINESISD_OK);
	ck_assert_int_eq(h->version, 1);
	ck_assert_str_eq(h->server, "kinesisd/0.1.0");
	ck_assert_uint_eq(h->n_producers, 2);
	ck_assert_str_eq(h->producers[1], "b");
	ck_assert_uint_eq(h->n_consumers, 1);
	ck_assert_str_eq(h->consumers[0], "c");
	kinesisd_hello_free(h);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "op"), "hello");
	ck_assert_ptr_nonnull(strstr(jstr(m, "client"), "libkinesisd/"));
	ck_assert(jnum(m, "version") == 1);
	cJSON_Delete(m);

	srv_send("{\"op\":\"subscribed\",\"id\":2,\"consumer\":\"c\"}\n");
	ck_assert_int_eq(kinesisd_subscribe(k, "c", 10, 2000), KINESISD_OK);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "op"), "subscribe");
	ck_assert_str_eq(jstr(m, "consumer"), "c");
	ck_assert(jnum(m, "max_in_flight") == 10);
	cJSON_Delete(m);

	srv_send("{\"op\":\"error\",\"id\":3,\"error\":\"unknown_consumer\","
	         "\"message\":\"no consumer named 'x' is configured\"}\n");
	ck_assert_int_eq(
	    kinesisd_subscribe(k, "x", 0, 2000), KINESISD_ERR_REFUSED);
	ck_assert_ptr_nonnull(strstr(kinesisd_errmsg(k), "unknown_consumer"));
	m = srv_recv(2000);
	ck_assert_ptr_null(cJSON_GetObjectItem(m, "max_in_flight"));
	cJSON_Delete(m);

	srv_send("{\"op\":\"unsubscribed\",\"id\":4,\"consumer\":\"c\"}\n");
	ck_assert_int_eq(kinesisd_unsubscribe(k, "c", 2000), KINESISD_OK);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "op"), "unsubscribe");
	cJSON_Delete(m);
}
END_TEST

/* ---- buffers and back-pressure ------------------------------------------- */

static void
small_buffers(int fd)
{
	int sz = 4096;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* Non-blocking: puts queue until out_limit, then AGAIN; POLLOUT asked
 * for; everything arrives whole and in order once the daemon reads. */
START_TEST(partial_writes_nonblock)
{
	struct kinesisd_opts o = {
	    .out_limit = 64 * 1024, .flags = KINESISD_NONBLOCK};
	static char data[10000];
	int sent = 0, again = 0, got = 0;
	cJSON *m;

	teardown();
	open_pair(&o);
	small_buffers(srv);
	small_buffers(kinesisd_fd(k));
	memset(data, 'z', sizeof(data));
	while (sent < 200) {
		char key[16];
		int rc;
		snprintf(key, sizeof(key), "%d", sent);
		rc = kinesisd_put_forget(k, "p", key, data, sizeof(data));
		if (rc == KINESISD_ERR_AGAIN) {
			again++;
			ck_assert(kinesisd_want(k) & POLLOUT);
			/* The daemon reads a little; the library writes on. */
			while ((m = srv_recv(0)) != NULL) {
				ck_assert_int_eq(atoi(jstr(m, "key")), got++);
				cJSON_Delete(m);
			}
			{
				char sink[8192];
				struct pollfd pfd = {
				    .fd = srv, .events = POLLIN};
				if (poll(&pfd, 1, 0) > 0) {
					ssize_t n =
					    read(srv, sink, sizeof(sink));
					ck_assert_int_gt(n, 0);
					sbuf = realloc(sbuf, slen + (size_t)n);
					memcpy(sbuf + slen, sink, (size_t)n);
					slen += (size_t)n;
				}
			}
			ck_assert_int_eq(
			    kinesisd_process(k, POLLOUT), KINESISD_OK);
			continue;
		}
		ck_assert_int_eq(rc, KINESISD_OK);
		sent++;
	}
	ck_assert_int_gt(again, 0);
	for (int tries = 0; got < 200; tries++) {
		ck_assert_int_lt(tries, 100000);
		ck_assert_int_eq(kinesisd_process(k, 0), KINESISD_OK);
		if ((m = srv_recv(1)) == NULL)
			continue;
		ck_assert_int_eq(atoi(jstr(m, "key")), got++);
		ck_assert_uint_eq(
		    strlen(jstr(m, "data")), (sizeof(data) + 2) / 3 * 4);
		cJSON_Delete(m);
	}
	ck_assert_int_eq(kinesisd_want(k) & POLLOUT, 0);
}
END_TEST

/* Blocking: a put beyond out_limit waits, reading (and answering put
 * callbacks) meanwhile, while a slow daemon (a child) drains. */
START_TEST(blocking_put_waits_for_room)
{
	struct kinesisd_opts o = {.out_limit = 16 * 1024};
	static char data[4000];
	struct seen s = {0};
	pid_t pid;
	int status;

	teardown();
	open_pair(&o);
	small_buffers(srv);
	small_buffers(kinesisd_fd(k));
	memset(data, 'y', sizeof(data));
	if ((pid = fork()) == 0) {
		/* Reads 300 puts slowly, answering each. */
		for (int i = 0; i < 300; i++) {
			cJSON *m = srv_recv(10000);
			char reply[128];
			if (m == NULL)
				_exit(2);
			if (atoi(jstr(m, "key")) != i)
				_exit(3);
			snprintf(reply, sizeof(reply),
			    "{\"op\":\"put_ok\",\"id\":%.0f,\"shard\":\"s\","
			    "\"seq\":\"%d\"}\n",
			    jnum(m, "id"), i);
			srv_send(reply);
			cJSON_Delete(m);
			if (i % 50 == 0)
				usleep(20000);
		}
		srv_send("{\"op\":\"flushed\",\"id\":301}\n");
		_exit(0);
	}
	for (int i = 0; i < 300; i++) {
		char key[16];
		snprintf(key, sizeof(key), "%d", i);
		ck_assert_int_eq(
		    kinesisd_put(k, "p", key, data, sizeof(data), on_put, &s),
		    KINESISD_OK);
	}
	ck_assert_int_gt(s.calls, 0); /* callbacks ran while waiting */
	ck_assert_int_eq(kinesisd_flush(k, NULL, 10000), KINESISD_OK);
	ck_assert_int_eq(s.calls, 300);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(send_timeout)
{
	struct kinesisd_opts o = {
	    .out_limit = 8 * 1024, .send_timeout_ms = 100};
	static char data[4000];
	int rc = KINESISD_OK, i;

	teardown();
	open_pair(&o);
	small_buffers(srv);
	small_buffers(kinesisd_fd(k));
	for (i = 0; i < 10000 && rc == KINESISD_OK; i++)
		rc = kinesisd_put_forget(k, "p", "k", data, sizeof(data));
	ck_assert_int_eq(rc, KINESISD_ERR_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(kinesisd_errmsg(k), "send_timeout_ms"));
}
END_TEST

/* ---- callbacks ----------------------------------------------------------- */

struct cb_state {
	int events, busy, acked;
	struct kinesisd_event *kept;
};

static void
on_event(struct kinesisd_event *ev, void *arg)
{
	struct cb_state *st = arg;
	struct kinesisd_put_result res;

	st->events++;
	if (kinesisd_put_wait(k, "p", "k", "d", 1, 1000, &res) ==
	    KINESISD_ERR_BUSY)
		st->busy++;
	if (kinesisd_next_event(k, 0, &(struct kinesisd_event *){NULL}) ==
	    KINESISD_ERR_BUSY)
		st->busy++;
	if (kinesisd_process(k, 0) == KINESISD_ERR_BUSY)
		st->busy++;
	if (ev->type == KINESISD_EV_RECORD &&
	    kinesisd_ack(k, ev) == KINESISD_OK)
		st->acked++;
	/* The callback owns ev: keeps the first, frees the others. */
	if (st->kept == NULL)
		st->kept = ev;
	else
		kinesisd_event_free(ev);
}

START_TEST(event_callback_owns_events)
{
	struct cb_state st = {0};
	cJSON *m;

	kinesisd_set_event_cb(k, on_event, &st);
	srv_send("{\"op\":\"record\",\"consumer\":\"c\",\"shard\":\"s\","
	         "\"seq\":\"1\",\"subseq\":0,\"key\":\"k\",\"data\":\"\"}\n"
	         "{\"op\":\"record\",\"consumer\":\"c\",\"shard\":\"s\","
	         "\"seq\":\"2\",\"subseq\":0,\"key\":\"k\",\"data\":\"\"}\n");
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_OK);
	ck_assert_int_eq(st.events, 2);
	ck_assert_int_eq(st.busy, 6);
	ck_assert_int_eq(st.acked, 2);
	ck_assert_str_eq(st.kept->seq, "1");
	kinesisd_event_free(st.kept);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "op"), "ack");
	ck_assert_str_eq(jstr(m, "seq"), "1");
	cJSON_Delete(m);
	m = srv_recv(2000);
	ck_assert_str_eq(jstr(m, "seq"), "2");
	cJSON_Delete(m);
	kinesisd_set_event_cb(k, NULL, NULL);
}
END_TEST

static int put_in_teardown = KINESISD_OK;

static void
close_in_callback(const struct kinesisd_put_result *res, void *arg)
{
	(*(int *)arg)++;
	kinesisd_close(k); /* deferred until the callback is over */
	/* Failed by the close: a put now must not queue anything. */
	if (res->status == KINESISD_ERR_CLOSED)
		put_in_teardown =
		    kinesisd_put(k, "p", "k", "d", 1, close_in_callback, arg);
}

START_TEST(close_from_callback)
{
	int calls = 0;

	ck_assert_int_eq(
	    kinesisd_put(k, "p", "k", "d", 1, close_in_callback, &calls),
	    KINESISD_OK);
	ck_assert_int_eq(
	    kinesisd_put(k, "p", "k", "d", 1, close_in_callback, &calls),
	    KINESISD_OK);
	srv_send(
	    "{\"op\":\"put_ok\",\"id\":1,\"shard\":\"s\",\"seq\":\"1\"}\n"
	    "{\"op\":\"put_ok\",\"id\":2,\"shard\":\"s\",\"seq\":\"2\"}\n");
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_ERR_CLOSED);
	/* The first reply's callback closed; the second put failed. */
	ck_assert_int_eq(calls, 2);
	ck_assert(!kinesisd_is_connected(k));
	ck_assert_int_eq(put_in_teardown, KINESISD_ERR_CLOSED);
	ck_assert_uint_eq(kinesisd_pending(k), 0);
	ck_assert_int_eq(kinesisd_want(k), 0);
}
END_TEST

/* ---- the end of a connection --------------------------------------------- */

START_TEST(connection_lost)
{
	struct kinesisd_put_result res;
	struct kinesisd_event *ev, *old;
	struct seen s = {0};

	srv_send("{\"op\":\"record\",\"consumer\":\"c\",\"shard\":\"s\","
	         "\"seq\":\"1\",\"subseq\":0,\"key\":\"k\",\"data\":\"\"}\n");
	ck_assert_int_eq(kinesisd_next_event(k, 2000, &old), KINESISD_OK);
	ck_assert_int_eq(
	    kinesisd_put(k, "p", "k", "d", 1, on_put, &s), KINESISD_OK);
	srv_send(
	    "{\"op\":\"record\",\"consumer\":\"c\",\"shard\":\"s\","
	    "\"seq\":\"2\",\"subseq\":0,\"key\":\"k\",\"data\":\"\"}\n"
	    "{\"op\":\"shard_lost\",\"consumer\":\"c\",\"shard\":\"s\"}\n");
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_OK);
	close(srv);
	srv = -1;
	ck_assert_int_eq(kinesisd_process(k, POLLIN), KINESISD_ERR_CLOSED);
	ck_assert_msg(strstr(kinesisd_errmsg(k), "lost") != NULL, "%s",
	    kinesisd_errmsg(k));
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.last.status, KINESISD_ERR_CLOSED);
	ck_assert_str_eq(s.last.error, "connection_lost");
	ck_assert_uint_eq(kinesisd_pending(k), 0);
	ck_assert_int_eq(kinesisd_fd(k), -1);
	ck_assert_int_eq(kinesisd_want(k), 0);
	/* The queued record of that connection is gone; the event stays. */
	ck_assert_int_eq(kinesisd_next_event(k, 0, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_SHARD_LOST);
	kinesisd_event_free(ev);
	ck_assert_int_eq(kinesisd_next_event(k, 100, &ev), KINESISD_ERR_CLOSED);
	/* An ack for a record of a connection that is gone is dropped. */
	ck_assert_int_eq(kinesisd_ack(k, old), KINESISD_OK);
	kinesisd_event_free(old);
	ck_assert_int_eq(
	    kinesisd_put_forget(k, "p", "k", "d", 1), KINESISD_ERR_CLOSED);
	ck_assert_int_eq(kinesisd_put_wait(k, "p", "k", "d", 1, 100, &res),
	    KINESISD_ERR_CLOSED);
	ck_assert_int_eq(kinesisd_flush(k, NULL, 100), KINESISD_ERR_CLOSED);
	/* connect_fd connections cannot be made again. */
	ck_assert_int_eq(kinesisd_reconnect(k, 0), KINESISD_ERR_INVALID);
}
END_TEST

/* The daemon goes away while a put waits for its result. */
START_TEST(lost_while_waiting)
{
	struct kinesisd_put_result res;
	pid_t pid;

	if ((pid = fork()) == 0) {
		cJSON_Delete(srv_recv(5000));
		_exit(0); /* closes its end: the library sees EOF */
	}
	close(srv);
	srv = -1;
	ck_assert_int_eq(kinesisd_put_wait(k, "p", "k", "d", 1, 5000, &res),
	    KINESISD_ERR_CLOSED);
	ck_assert_str_eq(res.error, "connection_lost");
	waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(not_connected_and_nulls)
{
	struct kinesisd *n = kinesisd_new(NULL);
	struct kinesisd_event *ev;
	struct kinesisd_put_result res;

	ck_assert_int_eq(kinesisd_put_forget(n, "p", "k", "d", 1),
	    KINESISD_ERR_NOT_CONNECTED);
	ck_assert_int_eq(kinesisd_put_wait(n, "p", "k", "d", 1, 10, &res),
	    KINESISD_ERR_NOT_CONNECTED);
	ck_assert_int_eq(
	    kinesisd_next_event(n, 10, &ev), KINESISD_ERR_NOT_CONNECTED);
	ck_assert_int_eq(kinesisd_process(n, 0), KINESISD_ERR_NOT_CONNECTED);
	ck_assert_int_eq(kinesisd_reconnect(n, 0), KINESISD_ERR_INVALID);
	ck_assert_int_eq(kinesisd_fd(n), -1);
	kinesisd_close(n);
	kinesisd_free(n);
	kinesisd_free(NULL);
	kinesisd_close(NULL);
	kinesisd_event_free(NULL);
	kinesisd_hello_free(NULL);
	ck_assert_ptr_nonnull(kinesisd_errmsg(NULL));
	ck_assert_int_eq(kinesisd_put(NULL, "p", "k", "d", 1, NULL, NULL),
	    KINESISD_ERR_INVALID);
	ck_assert_int_eq(
	    kinesisd_next_event(NULL, 0, &ev), KINESISD_ERR_INVALID);
	ck_assert_int_eq(kinesisd_connect_fd(NULL, -1), KINESISD_ERR_INVALID);
	ck_assert_str_eq(
	    kinesisd_strerror(KINESISD_ERR_CLOSED), "KINESISD_ERR_CLOSED");
	ck_assert_str_eq(kinesisd_strerror(12345), "KINESISD_ERR_UNKNOWN");
	ck_assert_uint_eq(kinesisd_pending(NULL), 0);
}
END_TEST

/* ---- connect and reconnect on a path ------------------------------------- */

static char dir[64], path[128];

static int
listen_on(const char *p)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sun.sun_path, p);
	unlink(p);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* A fake daemon in a child: accepts one connection, answers each
 * subscribe with subscribed, records what it got, then closes. */
static pid_t
fake_daemon(int lfd, int lines)
{
	pid_t pid = fork();

	if (pid == 0) {
		srv = accept(lfd, NULL, NULL);
		for (int i = 0; i < lines; i++) {
			cJSON *m = srv_recv(10000);
			char reply[200];
			if (m == NULL)
				_exit(2);
			if (strcmp(jstr(m, "op"), "subscribe") != 0 ||
			    strcmp(jstr(m, "consumer"), "c") != 0 ||
			    jnum(m, "max_in_flight") != 7)
				_exit(3);
			snprintf(reply, sizeof(reply),
			    "{\"op\":\"subscribed\",\"id\":%.0f,"
			    "\"consumer\":\"c\"}\n{\"op\":\"shard_started\","
			    "\"consumer\":\"c\",\"shard\":\"s\"}\n",
			    jnum(m, "id"));
			srv_send(reply);
			cJSON_Delete(m);
		}
		usleep(100000);
		_exit(0);
	}
	return pid;
}

START_TEST(connect_reconnect_resubscribe)
{
	struct kinesisd_event *ev;
	int lfd, status;
	pid_t pid;
	struct timespec t0, t1;

	strcpy(dir, "/tmp/kdcli.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kd.sock", dir);

	/* Nobody there: one try, then tries for 300 ms. */
	ck_assert_int_eq(kinesisd_connect(k, path, 0), KINESISD_ERR_SYSTEM);
	ck_assert_ptr_nonnull(strstr(kinesisd_errmsg(k), path));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(kinesisd_connect(k, path, 300), KINESISD_ERR_SYSTEM);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 +
	                     (t1.tv_nsec - t0.tv_nsec) / 1000000,
	    250);

	/* $KINESISD_SOCKET is used when path is NULL. */
	lfd = listen_on(path);
	setenv("KINESISD_SOCKET", path, 1);
	pid = fake_daemon(lfd, 1);
	ck_assert_int_eq(kinesisd_connect(k, NULL, 1000), KINESISD_OK);
	ck_assert_int_eq(kinesisd_subscribe(k, "c", 7, 5000), KINESISD_OK);
	ck_assert_int_eq(kinesisd_next_event(k, 5000, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_SHARD_STARTED);
	kinesisd_event_free(ev);
	/* The daemon goes away... */
	ck_assert_int_eq(
	    kinesisd_next_event(k, 5000, &ev), KINESISD_ERR_CLOSED);
	waitpid(pid, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* ...and comes back: reconnect subscribes again. */
	pid = fake_daemon(lfd, 1);
	ck_assert_int_eq(kinesisd_reconnect(k, 5000), KINESISD_OK);
	ck_assert(kinesisd_is_connected(k));
	ck_assert_int_eq(kinesisd_next_event(k, 5000, &ev), KINESISD_OK);
	ck_assert_int_eq(ev->type, KINESISD_EV_SHARD_STARTED);
	kinesisd_event_free(ev);
	waitpid(pid, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(lfd);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *
libkinesisd_suite(void)
{
	Suite *s = suite_create("libkinesisd");
	TCase *tc = tcase_create("client");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, put_line_and_callback);
	tcase_add_test(tc, fire_and_forget_has_no_id);
	tcase_add_test(tc, keys_escaped_and_checked);
	tcase_add_test(tc, ack_skip_lines);
	tcase_add_test(tc, events_parsed);
	tcase_add_test(tc, split_byte_by_byte);
	tcase_add_test(tc, big_and_many);
	tcase_add_test(tc, replies_out_of_order_and_many);
	tcase_add_test(tc, put_wait_results);
	tcase_add_test(tc, flush_after_callbacks);
	tcase_add_test(tc, hello_subscribe_unsubscribe);
	tcase_add_test(tc, partial_writes_nonblock);
	tcase_add_test(tc, blocking_put_waits_for_room);
	tcase_add_test(tc, send_timeout);
	tcase_add_test(tc, event_callback_owns_events);
	tcase_add_test(tc, close_from_callback);
	tcase_add_test(tc, connection_lost);
	tcase_add_test(tc, lost_while_waiting);
	tcase_add_test(tc, not_connected_and_nulls);
	tcase_add_test(tc, connect_reconnect_resubscribe);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(libkinesisd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
