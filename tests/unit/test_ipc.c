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
#include "ipc/ipc_int.h"

static struct event_base *base;
static struct ipc_server *srv;
static char dir[64], path[128];
static int big_handled;

static void
op_ping(
    struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
{
	(void)req;
	(void)arg;
	ipc_conn_send(c, ipc_msg_new("pong", id));
}

/* Answers with 256 KiB, to fill a connection that does not read. */
static void
op_big(struct ipc_conn *c, const struct ipc_req *req, const char *id, void *arg)
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

/* ---- the request scanner (ipc/request.c) --------------------------------- */

static enum ipc_scan
scan(struct ipc_req *r, const char *line)
{
	const char *why = NULL;
	size_t at = 0;

	return ipc_req_scan(r, line, strlen(line), &why, &at);
}

START_TEST(scan_members_and_escapes)
{
	struct ipc_req r = {0};
	const struct ipc_value *v;

	ck_assert_int_eq(scan(&r, " {\"op\" : \"put\", \"k\\u0065y\":"
	                          "\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\","
	                          "\"n\":-1.5e+3,\"t\":true,\"f\":false,"
	                          "\"z\":null,\"o\":{\"a\":[1,{}]},\"a\":[]} "),
	    IPC_SCAN_OBJECT);
	ck_assert_str_eq(ipc_req_string(&r, "op"), "put");
	/* Names are unescaped too: "k\u0065y" is "key". */
	v = ipc_req_get(&r, "key");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, IPC_STRING);
	ck_assert_str_eq(v->str, "\xc3\xa9\xf0\x9f\x98\x80\n\"\\/");
	ck_assert_uint_eq(v->len, strlen(v->str));
	v = ipc_req_get(&r, "n");
	ck_assert_int_eq(v->type, IPC_NUMBER);
	ck_assert_str_eq(v->str, "-1.5e+3");
	ck_assert_int_eq(ipc_req_get(&r, "t")->type, IPC_TRUE);
	ck_assert_int_eq(ipc_req_get(&r, "f")->type, IPC_FALSE);
	ck_assert_int_eq(ipc_req_get(&r, "z")->type, IPC_NULL);
	ck_assert_int_eq(ipc_req_get(&r, "o")->type, IPC_OBJECT);
	ck_assert_int_eq(ipc_req_get(&r, "a")->type, IPC_ARRAY);
	ck_assert_ptr_null(ipc_req_get(&r, "missing"));
	ck_assert_ptr_null(ipc_req_string(&r, "n")); /* not a string */
	ipc_req_free(&r);
}
END_TEST

/* The word-at-a-time skip over plain characters must stop at a special
 * byte wherever it sits in the word. */
START_TEST(scan_special_byte_at_every_offset)
{
	static const char *const special[] = {
	    "\\n", "\xc3\xa9", "\\\"", "\\u0041"};
	static const char *const want[] = {"\n", "\xc3\xa9", "\"", "A"};

	for (size_t k = 0; k < 4; k++)
		for (size_t at = 0; at < 24; at++) {
			struct ipc_req r = {0};
			char line[128], text[64];
			int n;

			memset(text, 'x', at);
			text[at] = '\0';
			n = snprintf(line, sizeof(line),
			    "{\"t\":\"%s%sxxxxxxxxxxxxxxxx\",\"op\":\"p\"}",
			    text, special[k]);
			ck_assert_int_lt(n, (int)sizeof(line));
			ck_assert_int_eq(scan(&r, line), IPC_SCAN_OBJECT);
			snprintf(line, sizeof(line), "%s%sxxxxxxxxxxxxxxxx",
			    text, want[k]);
			ck_assert_str_eq(ipc_req_string(&r, "t"), line);
			ck_assert_str_eq(ipc_req_string(&r, "op"), "p");
			ipc_req_free(&r);
		}
}
END_TEST

START_TEST(scan_first_duplicate_wins)
{
	struct ipc_req r = {0};

	ck_assert_int_eq(
	    scan(&r, "{\"op\":\"a\",\"op\":\"b\",\"x\":{\"op\":\"c\"}}"),
	    IPC_SCAN_OBJECT);
	ck_assert_str_eq(ipc_req_string(&r, "op"), "a");
	ipc_req_free(&r);
}
END_TEST

START_TEST(scan_refuses_what_json_refuses)
{
	static const char *const bad[] = {
	    "", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "{a:1}",
	    "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}",
	    "{\"a\":+1}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
	    "{\"a\":\"\\u12g4\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
	    "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"tab\there\"}",
	    "{\"a\":\"open}", "{\"a\":[1,2}", "{} {}", "[1,]", "nul",
	    "{\"a\":\"\xc0\xaf\"}",         /* overlong */
	    "{\"a\":\"\xed\xa0\x80\"}",     /* a surrogate */
	    "{\"a\":\"\xe2\x82\"}",         /* cut short */
	    "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
	    "{\"a\":[\"\xff\"]}",           /* nested strings too */
	    "\xef\xbb\xbf{}",               /* a BOM is no blank */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ipc_req r = {0};
		const char *why = NULL;
		size_t at = 99;

		ck_assert_msg(ipc_req_scan(&r, bad[i], strlen(bad[i]), &why,
		                  &at) == IPC_SCAN_BAD_JSON,
		    "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_le(at, strlen(bad[i]));
		ck_assert_uint_eq(r.n, 0);
		ipc_req_free(&r);
	}
}
END_TEST

START_TEST(scan_depth_nul_and_non_objects)
{
	struct ipc_req r = {0};
	char deep[2 * IPC_SCAN_MAX_DEPTH + 16];
	size_t n = 0;

	ck_assert_int_eq(
	    scan(&r, "[1,\"two\",{\"three\":3}]"), IPC_SCAN_NOT_OBJECT);
	ck_assert_int_eq(scan(&r, "  42 "), IPC_SCAN_NOT_OBJECT);
	ck_assert_int_eq(scan(&r, "{\"text\":\"a\\u0000b\"}"), IPC_SCAN_NUL);
	ck_assert_int_eq(
	    scan(&r, "{\"x\":[\"\\u0000\"],\"op\":\"p\"}"), IPC_SCAN_NUL);
	/* "\\u0000" is a backslash and the text u0000: no NUL. */
	ck_assert_int_eq(scan(&r, "{\"t\":\"\\\\u0000\"}"), IPC_SCAN_OBJECT);
	ck_assert_str_eq(ipc_req_string(&r, "t"), "\\u0000");

	/* IPC_SCAN_MAX_DEPTH levels are fine, one more is not. */
	for (int i = 0; i < IPC_SCAN_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < IPC_SCAN_MAX_DEPTH; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	ck_assert_int_eq(scan(&r, deep), IPC_SCAN_NOT_OBJECT);
	memmove(deep + 1, deep, n + 1);
	deep[0] = '[';
	deep[n + 1] = ']';
	deep[n + 2] = '\0';
	ck_assert_int_eq(scan(&r, deep), IPC_SCAN_BAD_JSON);
	ipc_req_free(&r);
}
END_TEST

START_TEST(value_uint)
{
	static const struct {
		const char *text;
		int ok;
		uint64_t want;
	} cases[] = {
	    {"0", 1, 0},
	    {"7", 1, 7},
	    {"7.0", 1, 7},
	    {"7e0", 1, 7},
	    {"70E-1", 1, 7},
	    {"-0", 1, 0},
	    {"9007199254740992", 1, 9007199254740992ull},
	    {"9007199254740993", 0, 0},
	    {"18446744073709551616", 0, 0},
	    {"-1", 0, 0},
	    {"1.5", 0, 0},
	    {"1e400", 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ipc_value v = {
		    IPC_NUMBER, cases[i].text, strlen(cases[i].text)};
		uint64_t got = 12345;
		int rc = ipc_value_uint(&v, UINT64_MAX, &got);

		ck_assert_msg((rc == 0) == cases[i].ok, "%s", cases[i].text);
		if (cases[i].ok)
			ck_assert_uint_eq(got, cases[i].want);
	}
	{
		struct ipc_value v = {IPC_NUMBER, "11", 2},
		                 s = {IPC_STRING, "1", 1};
		uint64_t got;
		ck_assert_int_eq(ipc_value_uint(&v, 10, &got), -1);
		ck_assert_int_eq(ipc_value_uint(&s, 10, &got), -1);
		ck_assert_int_eq(ipc_value_uint(NULL, 10, &got), -1);
	}
}
END_TEST

/* A steady stream of lines reuses the request's memory; a huge line's is
 * given back. */
START_TEST(scan_memory_reused_and_trimmed)
{
	struct ipc_req r = {0};
	size_t big = 200000;
	char *line = malloc(big + 16);
	char *buf;

	ck_assert_int_eq(
	    scan(&r, "{\"op\":\"ping\",\"id\":1}"), IPC_SCAN_OBJECT);
	buf = r.buf;
	ipc_req_trim(&r);
	ck_assert_int_eq(
	    scan(&r, "{\"op\":\"ping\",\"id\":2}"), IPC_SCAN_OBJECT);
	ck_assert_ptr_eq(r.buf, buf);
	memcpy(line, "{\"t\":\"", 6);
	memset(line + 6, 'x', big);
	memcpy(line + 6 + big, "\"}", 3);
	ck_assert_int_eq(scan(&r, line), IPC_SCAN_OBJECT);
	ck_assert_uint_eq(ipc_req_get(&r, "t")->len, big);
	ipc_req_trim(&r);
	ck_assert_uint_le(r.buf_cap, 65536);
	ipc_req_free(&r);
	free(line);
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
	tc = tcase_create("scanner");
	tcase_add_test(tc, scan_members_and_escapes);
	tcase_add_test(tc, scan_special_byte_at_every_offset);
	tcase_add_test(tc, scan_first_duplicate_wins);
	tcase_add_test(tc, scan_refuses_what_json_refuses);
	tcase_add_test(tc, scan_depth_nul_and_non_objects);
	tcase_add_test(tc, value_uint);
	tcase_add_test(tc, scan_memory_reused_and_trimmed);
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
