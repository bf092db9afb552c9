/*
 * test_ipc_limits.c — the socket server's per-connection limits through
 * its public API: the partial-line deadline (slow clients, trickling
 * clients, idle clients), requests held unanswered (ipc_conn_hold) and the
 * back-pressure they cause, the closing flush deadline, and the maximum
 * number of connections.  A real server on a temporary path, real client
 * sockets, the event loop turned by hand against the wall clock.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

#include "conf/conf.h"
#include "ipc/ipc.h"
#include "log/log.h"

static struct event_base *base;
static struct ipc_server *srv;
static char dir[64], path[128];

/* "hold": keeps the request unanswered, as a put waiting for Kinesis. */
#define MAX_HELD 64
static struct {
	struct ipc_conn *conn;
	char *id;
} held[MAX_HELD];
static size_t n_held, n_hold_calls;

static void
op_ping(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)req;
	(void)arg;
	ipc_conn_send(c, ipc_msg_new("pong", id));
}

static void
op_hold(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)req;
	(void)arg;
	n_hold_calls++;
	ck_assert_uint_lt(n_held, MAX_HELD);
	held[n_held].conn = c;
	held[n_held].id = id != NULL ? strdup(id) : NULL;
	n_held++;
	ipc_conn_hold(c);
}

/* Answers the oldest held request, as a module whose put completed. */
static void
answer_one(void)
{
	ck_assert_uint_gt(n_held, 0);
	if (held[0].conn != NULL) {
		ipc_conn_send(held[0].conn, ipc_msg_new("done", held[0].id));
		ipc_conn_release(held[0].conn);
	}
	free(held[0].id);
	memmove(&held[0], &held[1], (n_held - 1) * sizeof(held[0]));
	n_held--;
}

/* The module's close hook: no pointer to a closed connection survives. */
static void
on_close(struct ipc_conn *c, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < n_held; i++)
		if (held[i].conn == c)
			held[i].conn = NULL;
}

static void
server_start(unsigned line_timeout, size_t max_unanswered, size_t max_conns)
{
	struct ipc_opts o = {.path = path,
	    .mode = 0660,
	    .inherited_fd = -1,
	    .max_line = 1u << 20,
	    .line_timeout = line_timeout,
	    .max_unanswered = max_unanswered,
	    .max_conns = max_conns};
	char *cause = NULL;

	srv = ipc_server_new(base, &o, NULL, &cause);
	ck_assert_msg(srv != NULL, "server: %s", cause ? cause : "?");
	ck_assert_int_eq(ipc_register(srv, "ping", op_ping, NULL), 0);
	ck_assert_int_eq(ipc_register(srv, "hold", op_hold, NULL), 0);
	ck_assert_int_eq(ipc_on_close(srv, on_close, NULL), 0);
}

static void
setup(void)
{
	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT);
	strcpy(dir, "/tmp/kdlimXXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kd.sock", dir);
	base = event_base_new();
	srv = NULL;
	n_held = n_hold_calls = 0;
}

static void
teardown(void)
{
	char cmd[128];

	while (n_held > 0) {
		free(held[n_held - 1].id);
		n_held--;
	}
	ipc_server_free(srv);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int
client(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
turn(void)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
send_str(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EAGAIN)
			turn();
		else
			ck_abort_msg("send: %s", strerror(errno));
	}
}

/*
 * Turns the loop for `seconds` of wall clock (or until EOF), appending
 * what fd receives to out (of size cap).  Returns 1 on EOF.
 */
static int
pump(int fd, double seconds, char *out, size_t cap)
{
	double end = now_s() + seconds;
	size_t len = strlen(out);

	while (now_s() < end) {
		ssize_t n;

		turn();
		n = read(fd, out + len, cap - len - 1);
		if (n > 0) {
			len += (size_t)n;
			out[len] = '\0';
			continue;
		}
		if (n == 0)
			return 1;
		poll(NULL, 0, 5);
	}
	return 0;
}

START_TEST(partial_line_times_out)
{
	char out[4096] = "";
	double t0;
	int fd, eof;

	server_start(1, 0, 0);
	fd = client();
	t0 = now_s();
	send_str(fd, "{\"op\":\"ping\",\"id\":1}\n{\"op\":\"pi");
	eof = pump(fd, 3.0, out, sizeof(out));
	ck_assert_int_eq(eof, 1);
	ck_assert_double_ge(now_s() - t0, 0.9);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"pong\",\"id\":1}\n"));
	ck_assert_ptr_nonnull(strstr(out, "\"error\":\"bad_request\""));
	ck_assert_ptr_nonnull(strstr(out, "no end of line within 1 seconds"));
	ck_assert_uint_eq(ipc_server_conn_count(srv), 0);
	close(fd);
}
END_TEST

/* Bytes that never end a line do not keep the connection alive. */
START_TEST(trickle_does_not_reset_deadline)
{
	char out[4096] = "";
	int fd, eof = 0;
	double t0 = now_s();

	server_start(1, 0, 0);
	fd = client();
	for (int i = 0; i < 30 && !eof; i++) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
			break;
		eof = pump(fd, 0.2, out, sizeof(out));
	}
	if (!eof)
		eof = pump(fd, 1.0, out, sizeof(out));
	ck_assert_int_eq(eof, 1);
	ck_assert_double_lt(now_s() - t0, 2.5);
	ck_assert_ptr_nonnull(strstr(out, "no end of line"));
	close(fd);
}
END_TEST

/* Lines completed in time restart the count; an idle client stays. */
START_TEST(progress_and_idle_are_fine)
{
	char out[4096] = "";
	int fd, idle;

	server_start(1, 0, 0);
	fd = client();
	idle = client();
	send_str(fd, "{\"op\":\"ping\",\"id\":1");
	for (int i = 2; i <= 5; i++) {
		char s[64];

		ck_assert_int_eq(pump(fd, 0.6, out, sizeof(out)), 0);
		snprintf(s, sizeof(s), "}\n{\"op\":\"ping\",\"id\":%d", i);
		send_str(fd, s);
	}
	send_str(fd, "}\n");
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"pong\",\"id\":5}\n"));
	ck_assert_ptr_null(strstr(out, "error"));
	/* 2.7 s with nothing buffered: still served. */
	out[0] = '\0';
	send_str(idle, "{\"op\":\"ping\",\"id\":\"idle\"}\n");
	ck_assert_int_eq(pump(idle, 0.3, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"op\":\"pong\",\"id\":\"idle\"}\n");
	ck_assert_uint_eq(ipc_server_conn_count(srv), 2);
	close(fd);
	close(idle);
}
END_TEST

/* While paused by back-pressure we do not read: no deadline runs. */
START_TEST(no_deadline_while_paused)
{
	char out[4096] = "";
	int fd;

	server_start(1, 2, 0);
	fd = client();
	send_str(fd, "{\"op\":\"hold\",\"id\":1}\n{\"op\":\"hold\",\"id\":2}\n"
	             "{\"op\":\"ping\",\"id\":3");
	ck_assert_int_eq(pump(fd, 1.8, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(n_hold_calls, 2);
	answer_one();
	send_str(fd, "}\n");
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"pong\",\"id\":3}\n"));
	close(fd);
}
END_TEST

START_TEST(unanswered_limit_pauses_reading)
{
	char out[8192] = "", line[64];
	int fd, other;

	/* 10: stops at 10 held, reads again at 9 (a tenth below). */
	server_start(0, 10, 0);
	fd = client();
	other = client();
	for (int i = 0; i < 15; i++) {
		snprintf(
		    line, sizeof(line), "{\"op\":\"hold\",\"id\":%d}\n", i);
		send_str(fd, line);
	}
	send_str(fd, "{\"op\":\"ping\",\"id\":\"after\"}\n");
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	ck_assert_uint_eq(n_hold_calls, 10);
	ck_assert_uint_eq(ipc_conn_unanswered(held[0].conn), 10);
	ck_assert_str_eq(out, "");

	/* Another connection is not affected. */
	send_str(other, "{\"op\":\"ping\",\"id\":\"o\"}\n");
	ck_assert_int_eq(pump(other, 0.2, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"op\":\"pong\",\"id\":\"o\"}\n");

	/* One answer frees a slot: one more request is read, then paused. */
	out[0] = '\0';
	answer_one();
	ck_assert_int_eq(pump(fd, 0.2, out, sizeof(out)), 0);
	ck_assert_uint_eq(n_hold_calls, 11);
	ck_assert_str_eq(out, "{\"op\":\"done\",\"id\":0}\n");
	while (n_held > 0)
		answer_one();
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	while (n_held > 0)
		answer_one();
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	ck_assert_uint_eq(n_hold_calls, 15);
	/* In order: the ping was read after the tenth hold was answered. */
	ck_assert_ptr_nonnull(
	    strstr(out, "{\"op\":\"done\",\"id\":10}\n"
	                "{\"op\":\"pong\",\"id\":\"after\"}\n"));
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"done\",\"id\":14}\n"));
	close(fd);
	close(other);
}
END_TEST

/* Answers that come after the connection closed are harmless. */
START_TEST(unanswered_after_close)
{
	char out[256] = "";
	int fd;

	server_start(0, 5, 0);
	fd = client();
	send_str(
	    fd, "{\"op\":\"hold\",\"id\":1}\n{\"op\":\"hold\",\"id\":2}\n");
	ck_assert_int_eq(pump(fd, 0.2, out, sizeof(out)), 0);
	ck_assert_uint_eq(n_held, 2);
	close(fd);
	turn();
	turn();
	ck_assert_uint_eq(ipc_server_conn_count(srv), 0);
	ck_assert_ptr_null(held[0].conn);
	answer_one();
	answer_one();
}
END_TEST

/* Without max_unanswered, holding never stops reading. */
START_TEST(unanswered_unlimited)
{
	char out[256] = "", line[64];
	int fd;

	server_start(0, 0, 0);
	fd = client();
	for (int i = 0; i < MAX_HELD; i++) {
		snprintf(
		    line, sizeof(line), "{\"op\":\"hold\",\"id\":%d}\n", i);
		send_str(fd, line);
	}
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	ck_assert_uint_eq(n_hold_calls, MAX_HELD);
	close(fd);
}
END_TEST

START_TEST(max_connections)
{
	char out[256] = "";
	int a, b, c;

	server_start(0, 0, 2);
	a = client();
	b = client();
	turn();
	c = client();
	ck_assert_int_eq(pump(c, 0.3, out, sizeof(out)), 1); /* refused */
	ck_assert_uint_eq(ipc_server_conn_count(srv), 2);
	close(a);
	turn();
	turn();
	c = (close(c), client());
	send_str(c, "{\"op\":\"ping\"}\n");
	ck_assert_int_eq(pump(c, 0.3, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"op\":\"pong\"}\n");
	close(b);
	close(c);
}
END_TEST

/*
 * A connection closed after an error whose peer never reads: the reply
 * cannot be flushed, and the connection is dropped all the same.
 */
START_TEST(closing_does_not_wait_forever)
{
	static char big[(1u << 20) + 2];
	int fd, sz = 4096;
	double t0;

	server_start(1, 0, 0);
	fd = client();
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* Fill our receive side with pongs we never read, then go over
	 * max-line-bytes: too_large can only be queued, not sent. */
	for (int i = 0; i < 20000; i++)
		send_str(fd,
		    "{\"op\":\"ping\",\"id\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n");
	memset(big, 'a', sizeof(big));
	for (size_t off = 0; off < sizeof(big);) {
		ssize_t n =
		    send(fd, big + off, sizeof(big) - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EAGAIN) {
			turn();
			poll(NULL, 0, 2);
		} else
			break;
		if (ipc_server_conn_count(srv) == 0)
			break;
	}
	t0 = now_s();
	while (ipc_server_conn_count(srv) > 0 && now_s() - t0 < 5) {
		turn();
		poll(NULL, 0, 20);
	}
	ck_assert_uint_eq(ipc_server_conn_count(srv), 0);
	close(fd);
}
END_TEST

/* U+0000 would cut names and texts short inside (C strings): lines with
 * an escaped one are refused, and a raw one is no JSON at all (a control
 * character inside a string). */
START_TEST(nul_in_strings_refused)
{
	static const char in[] =
	    "{\"op\":\"ping\\u0000x\",\"id\":1}\n"        /* escaped NUL */
	    "{\"op\":\"ping\",\"x\":\"a\0b\",\"id\":2}\n" /* raw NUL */
	    "{\"op\":\"ping\",\"id\":\"a\\\\u0000\"}\n"   /* "\\u0000" */
	    "{\"op\":\"ping\",\"x\":\"\\\\\\u0000\",\"id\":4}\n";
	char out[4096] = "";
	int fd;

	server_start(0, 0, 0);
	fd = client();
	ck_assert_int_eq(send(fd, in, sizeof(in) - 1, 0), sizeof(in) - 1);
	ck_assert_int_eq(pump(fd, 0.3, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"error\",\"id\":1,"
	                                  "\"error\":\"bad_request\""));
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"error\","
	                                  "\"error\":\"bad_json\""));
	/* A backslash, then "u0000": no NUL in that string. */
	ck_assert_ptr_nonnull(
	    strstr(out, "{\"op\":\"pong\",\"id\":\"a\\\\u0000\"}\n"));
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"error\",\"id\":4,"));
	ck_assert_ptr_null(strstr(out, "\"pong\",\"id\":1"));
	close(fd);
}
END_TEST

/*
 * A long line arriving in small pieces: each search for its end resumes
 * where the last one stopped (not from the line's start, quadratic work),
 * and the end is still found, whatever the pieces.
 */
START_TEST(long_line_in_small_pieces)
{
	static const char head[] = "{\"op\":\"ping\",\"id\":1,\"pad\":\"";
	static char line[1000000];
	char out[256] = "";
	double t0;
	int fd;

	server_start(0, 0, 0);
	fd = client();
	memcpy(line, head, sizeof(head) - 1);
	memset(line + sizeof(head) - 1, 'a',
	    sizeof(line) - (sizeof(head) - 1) - 3);
	memcpy(line + sizeof(line) - 3, "\"}\n", 3);
	t0 = now_s();
	for (size_t off = 0; off < sizeof(line);) {
		size_t n = sizeof(line) - off < 64 ? sizeof(line) - off : 64;
		ssize_t w = send(fd, line + off, n, MSG_NOSIGNAL);

		if (w > 0)
			off += (size_t)w;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	while (strstr(out, "pong") == NULL && now_s() - t0 < 10)
		ck_assert_int_eq(pump(fd, 0.05, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"op\":\"pong\",\"id\":1}\n");
	ck_assert_double_lt(now_s() - t0, 5.0);
	close(fd);
}
END_TEST

/* The configuration keys behind the limits: defaults and ranges. */
START_TEST(limit_keys)
{
	char *cause = NULL;
	struct conf *c =
	    conf_load_string("application-name: a\n", "t.yaml", &cause);

	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_uint_eq(c->max_connections, 1024);
	ck_assert_uint_eq(c->partial_line_timeout_seconds, 30);
	ck_assert_uint_eq(c->max_unanswered_puts, 10000);
	conf_free(c);
	c = conf_load_string("max-connections: 5\n"
	                     "partial-line-timeout-seconds: 86400\n"
	                     "max-unanswered-puts: 0\n",
	    "t.yaml", &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_uint_eq(c->max_connections, 5);
	ck_assert_uint_eq(c->partial_line_timeout_seconds, 86400);
	ck_assert_uint_eq(c->max_unanswered_puts, 0);
	conf_free(c);
	static const char *const bad[] = {"max-connections: 0\n",
	    "partial-line-timeout-seconds: 0\n",
	    "partial-line-timeout-seconds: 86401\n",
	    "max-unanswered-puts: -1\n", "max-connections: many\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cause = NULL;
		c = conf_load_string(bad[i], "t.yaml", &cause);
		ck_assert_msg(c == NULL, "accepted %s", bad[i]);
		ck_assert_ptr_nonnull(strstr(cause, "t.yaml:1:"));
		free(cause);
	}
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("ipc_limits");
	TCase *tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, partial_line_times_out);
	tcase_add_test(tc, trickle_does_not_reset_deadline);
	tcase_add_test(tc, progress_and_idle_are_fine);
	tcase_add_test(tc, no_deadline_while_paused);
	tcase_add_test(tc, unanswered_limit_pauses_reading);
	tcase_add_test(tc, unanswered_after_close);
	tcase_add_test(tc, unanswered_unlimited);
	tcase_add_test(tc, max_connections);
	tcase_add_test(tc, closing_does_not_wait_forever);
	tcase_add_test(tc, nul_in_strings_refused);
	tcase_add_test(tc, limit_keys);
	tcase_add_test(tc, long_line_in_small_pieces);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(limits_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
