/*
 * test_ipc.c — the socket server through its public API: a real server on
 * a temporary path, real client sockets, the event loop turned by hand.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

#include "ipc/ipc.h"

static struct event_base *base;
static struct ipc_server *srv;
static char dir[64], path[128];
static int big_handled;

static void
op_ping(struct ipc_conn *c, const cJSON *req, const cJSON *id, void *arg)
{
	(void)req;
	(void)arg;
	ipc_conn_send(c, ipc_msg_new("pong", id));
}

/* Answers with 256 KiB, to fill a connection that does not read. */
static void
op_big(struct ipc_conn *c, const cJSON *req, const cJSON *id, void *arg)
{
	static char blob[256 * 1024];
	cJSON *m = ipc_msg_new("big", id);

	(void)req;
	(void)arg;
	memset(blob, 'x', sizeof(blob) - 1);
	cJSON_AddStringToObject(m, "data", blob);
	big_handled++;
	ipc_conn_send(c, m);
}

static struct ipc_server *
server_start(const uint32_t *uids, size_t n_uids)
{
	struct ipc_opts o = {.path = path,
	    .mode = 0660,
	    .inherited_fd = -1,
	    .max_line = 2u << 20,
	    .uids = uids,
	    .n_uids = n_uids};
	struct ipc_server *s;
	char *cause = NULL;

	s = ipc_server_new(base, &o, NULL, &cause);
	ck_assert_msg(s != NULL, "server: %s", cause ? cause : "?");
	ck_assert_int_eq(ipc_register(s, "ping", op_ping, NULL), 0);
	ck_assert_int_eq(ipc_register(s, "big", op_big, NULL), 0);
	return s;
}

static void
setup(void)
{
	strcpy(dir, "/tmp/kdipcXXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/kd.sock", dir);
	base = event_base_new();
	srv = server_start(NULL, 0);
	big_handled = 0;
}

static void
teardown(void)
{
	char cmd[128];

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

static void
turn(void)
{
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
send_all(int fd, const char *s, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno == EAGAIN)
			turn(); /* let the server read */
		else
			return; /* closed by the server (too_large) */
	}
}

/* Reads what arrives within ms into a malloc'd string; *eof set on EOF. */
static char *
collect(int fd, int ms, size_t want_lines, int *eof)
{
	size_t len = 0, cap = 1 << 16, lines = 0;
	char *buf = malloc(cap);

	*eof = 0;
	for (int t = 0; t < ms && (want_lines == 0 || lines < want_lines);) {
		ssize_t n;
		turn();
		if (cap - len < 65536)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n > 0) {
			for (ssize_t i = 0; i < n; i++)
				lines += buf[len + (size_t)i] == '\n';
			len += (size_t)n;
			continue;
		}
		if (n == 0) {
			*eof = 1;
			break;
		}
		poll(NULL, 0, 1);
		t++;
	}
	buf[len] = '\0';
	return buf;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

START_TEST(ping_round_trip)
{
	int fd = client(), eof;
	char *out;

	send_all(fd, "{\"op\":\"ping\",\"id\":7}\n", 21);
	out = collect(fd, 2000, 1, &eof);
	ck_assert_str_eq(out, "{\"op\":\"pong\",\"id\":7}\n");
	free(out);
	close(fd);
}
END_TEST

START_TEST(split_byte_by_byte)
{
	const char *req = "{\"op\":\"ping\",\"id\":\"a b\"}\n";
	int fd = client(), eof;
	char *out;

	for (size_t i = 0; req[i] != '\0'; i++) {
		send_all(fd, req + i, 1);
		turn();
	}
	out = collect(fd, 2000, 1, &eof);
	ck_assert_str_eq(out, "{\"op\":\"pong\",\"id\":\"a b\"}\n");
	free(out);
	close(fd);
}
END_TEST

START_TEST(ten_thousand_lines_one_write)
{
	size_t len = 0, cap = 10000 * 40;
	char *in = malloc(cap), *out, want[64];
	int fd = client(), eof;

	for (int i = 0; i < 10000; i++)
		len += (size_t)snprintf(
		    in + len, cap - len, "{\"op\":\"ping\",\"id\":%d}\n", i);
	send_all(fd, in, len);
	out = collect(fd, 5000, 10000, &eof);
	ck_assert_uint_eq(count(out, "\"pong\""), 10000);
	/* in order */
	snprintf(want, sizeof(want), "{\"op\":\"pong\",\"id\":9999}\n");
	ck_assert_str_eq(out + strlen(out) - strlen(want), want);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"pong\",\"id\":0}\n{\"op\":"
	                                  "\"pong\",\"id\":1}\n"));
	free(in);
	free(out);
	close(fd);
}
END_TEST

START_TEST(garbage_then_ping)
{
	int fd = client(), eof;
	char *out;

	for (int i = 0; i < 200; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "not json %d {\n", i);
		send_all(fd, line, (size_t)n);
	}
	send_all(fd, "{\"op\":\"ping\",\"id\":7}\n", 21);
	out = collect(fd, 3000, 201, &eof);
	ck_assert_uint_eq(count(out, "\"error\":\"bad_json\""), 200);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"pong\",\"id\":7}\n"));
	ck_assert_int_eq(eof, 0);
	free(out);
	close(fd);
}
END_TEST

START_TEST(bad_requests)
{
	const char *in = "\n   \n"                          /* blank: ignored */
	                 "\xff\xfe{\"op\":\"ping\"}\n"      /* bad UTF-8 */
	                 "[1,2]\n"                          /* not an object */
	                 "{\"id\":3}\n"                     /* no op */
	                 "{\"op\":\"nope\",\"id\":\"x\"}\n" /* unknown op */
	                 "{\"op\":\"ping\",\"id\":[1]}\n"   /* bad id */
	                 "{\"op\":\"ping\"} trailing\n"     /* two values */
	                 "{\"op\":\"ping\",\"id\":9}\n";
	int fd = client(), eof;
	char *out;

	send_all(fd, in, strlen(in));
	out = collect(fd, 3000, 7, &eof);
	ck_assert_uint_eq(count(out, "\n"), 7);
	ck_assert_uint_eq(count(out, "\"bad_json\""), 2);
	ck_assert_uint_eq(count(out, "\"bad_request\""), 3);
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"error\",\"id\":\"x\","
	                                  "\"error\":\"unknown_op\""));
	ck_assert_ptr_nonnull(
	    strstr(out, "\"id\":3,\"error\":\"bad_request\""));
	ck_assert_ptr_nonnull(strstr(out, "{\"op\":\"pong\",\"id\":9}"));
	free(out);
	close(fd);
}
END_TEST

START_TEST(oversize_closes_only_that_connection)
{
	size_t big = 3u << 20;
	char *line = malloc(big + 1), *out;
	int fd = client(), other = client(), eof;

	memset(line, 'a', big);
	line[big] = '\n';
	send_all(fd, line, big + 1);
	out = collect(fd, 3000, 0, &eof);
	ck_assert_ptr_nonnull(strstr(out, "\"error\":\"too_large\""));
	ck_assert_int_eq(eof, 1);
	free(out);

	send_all(other, "{\"op\":\"ping\",\"id\":1}\n", 21);
	out = collect(other, 2000, 1, &eof);
	ck_assert_str_eq(out, "{\"op\":\"pong\",\"id\":1}\n");
	free(out);
	free(line);
	close(fd);
	close(other);
}
END_TEST

START_TEST(slow_reader_is_not_buffered_without_limit)
{
	int fd = client(), eof;
	size_t total = 0;
	char line[64];
	char *out;

	for (int i = 0; i < 100; i++) {
		int n = snprintf(
		    line, sizeof(line), "{\"op\":\"big\",\"id\":%d}\n", i);
		ck_assert_int_eq(write(fd, line, (size_t)n), n);
	}
	for (int i = 0; i < 200; i++)
		turn();
	/* 4 MiB high water / 256 KiB replies: it stopped long before 100. */
	ck_assert_int_lt(big_handled, 40);
	/* Reading everything lets the rest through. */
	for (int round = 0; round < 200 && big_handled < 100; round++) {
		out = collect(fd, 50, 0, &eof);
		total += strlen(out);
		free(out);
	}
	out = collect(fd, 500, 0, &eof);
	total += strlen(out);
	free(out);
	ck_assert_int_eq(big_handled, 100);
	ck_assert_uint_gt(total, 100u * 256 * 1024);
	close(fd);
}
END_TEST

START_TEST(socket_mode_and_folder)
{
	struct stat st;
	char sub[128];

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0750);
}
END_TEST

START_TEST(live_socket_refused_stale_removed)
{
	struct ipc_opts o = {.path = path, .mode = 0660, .inherited_fd = -1};
	char *cause = NULL;
	struct ipc_server *second;
	int fd, eof;
	char *out;

	second = ipc_server_new(base, &o, NULL, &cause);
	ck_assert_ptr_null(second);
	ck_assert_ptr_nonnull(strstr(cause, "another kinesisd"));
	free(cause);

	/* A socket file nobody listens on is a crash's leftover. */
	ipc_server_free(srv);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		strcpy(sun.sun_path, path);
		ck_assert_int_eq(
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	}
	close(fd);
	srv = server_start(NULL, 0);
	fd = client();
	send_all(fd, "{\"op\":\"ping\"}\n", 14);
	out = collect(fd, 2000, 1, &eof);
	ck_assert_str_eq(out, "{\"op\":\"pong\"}\n");
	free(out);
	close(fd);
}
END_TEST

START_TEST(allowed_uids_refuse_others)
{
	uint32_t nobody = 65534;
	int fd, eof;
	char *out;

	ipc_server_free(srv);
	srv = server_start(&nobody, 1);
	fd = client();
	send_all(fd, "{\"op\":\"ping\"}\n", 14);
	out = collect(fd, 2000, 0, &eof);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(eof, 1);
	free(out);
	close(fd);
}
END_TEST

static Suite *
ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ping_round_trip);
	tcase_add_test(tc, split_byte_by_byte);
	tcase_add_test(tc, ten_thousand_lines_one_write);
	tcase_add_test(tc, garbage_then_ping);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, oversize_closes_only_that_connection);
	tcase_add_test(tc, slow_reader_is_not_buffered_without_limit);
	tcase_add_test(tc, socket_mode_and_folder);
	tcase_add_test(tc, live_socket_refused_stale_removed);
	tcase_add_test(tc, allowed_uids_refuse_others);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ipc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
