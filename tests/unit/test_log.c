/*
 * test_log.c — log lines as text and JSON, fields, escaping, secrets,
 * truncation and the journal's format, read back from a captured stderr.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "log/log.h"

/* ---- stderr capture -------------------------------------------------- */

static int saved_stderr = -1;
static int capture_fd = -1;

static void
capture_start(void)
{
	char path[] = "/tmp/test_log.XXXXXX";

	capture_fd = mkstemp(path);
	ck_assert_int_ne(capture_fd, -1);
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(saved_stderr, -1);
	ck_assert_int_ne(dup2(capture_fd, STDERR_FILENO), -1);
}

/* Everything written since capture_start(); caller frees. */
static char *
capture_end(void)
{
	struct stat st;
	char *buf;
	ssize_t n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	ck_assert_int_eq(fstat(capture_fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	n = pread(capture_fd, buf, (size_t)st.st_size, 0);
	ck_assert_int_eq(n, st.st_size);
	buf[n] = '\0';
	close(capture_fd);
	return buf;
}

static void
setup(void)
{
	unsetenv("JOURNAL_STREAM");
}

/* "2024-05-01T12:34:56.789Z " */
static int
has_timestamp(const char *s)
{
	int y, mo, d, h, mi, sec, ms;
	char z;

	return sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c ", &y, &mo, &d, &h, &mi,
	           &sec, &ms, &z) == 8 &&
	       z == 'Z' && s[24] == ' ';
}

static cJSON *
parse_line(const char *s)
{
	cJSON *j;

	ck_assert_msg(strchr(s, '\n') == s + strlen(s) - 1,
	    "not exactly one line: %s", s);
	j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "not JSON: %s", s);
	return j;
}

static const char *
member(const cJSON *j, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, name);

	return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* ---- text ------------------------------------------------------------ */

START_TEST(text_line)
{
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	capture_start();
	log_info("daemon", "hello %d", 42);
	out = capture_end();
	ck_assert_msg(has_timestamp(out), "no timestamp: %s", out);
	ck_assert_str_eq(out + 25, "info daemon: hello 42\n");
	free(out);
}
END_TEST

START_TEST(levels_and_errno)
{
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	capture_start();
	log_debug("x", "hidden");
	log_trace("x", "hidden");
	errno = ENOENT;
	log_warn("ipc", "open %s", "/nowhere");
	ck_assert_int_eq(errno, ENOENT);
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("x", "shown");
	log_trace("x", "hidden");
	log_kv(LOG_LEVEL_TRACE, "x", "hidden", "k", "v", NULL);
	out = capture_end();
	ck_assert_ptr_null(strstr(out, "hidden"));
	ck_assert_ptr_nonnull(strstr(
	    out, " warn ipc: open /nowhere: No such file or directory\n"));
	ck_assert_ptr_nonnull(strstr(out, " debug x: shown\n"));
	free(out);
}
END_TEST

START_TEST(text_fields)
{
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	capture_start();
	log_kv(LOG_LEVEL_INFO, "lease", "lease taken", "shard",
	    "shardId-000000000001", "owner", "host:1 w", "empty", "", "null",
	    NULL, "odd", "a\"b\\c=d\ne", "bad key!", "v", "msg", "m", NULL);
	out = capture_end();
	ck_assert_str_eq(out + 25,
	    "info lease: lease taken shard=shardId-000000000001 "
	    "owner=\"host:1 w\" empty=\"\" null=\"\" "
	    "odd=\"a\\\"b\\\\c=d\\ne\" bad_key_=v _msg=m\n");
	free(out);
}
END_TEST

/* No message or value can start a line of its own. */
START_TEST(text_escaping)
{
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	capture_start();
	log_info("ipc", "a\nb\r\tc\x01 \\ \xff é");
	log_kv(LOG_LEVEL_INFO, "ipc", "m", "k", "\xc3\x28", "u", "é", NULL);
	out = capture_end();
	ck_assert_ptr_nonnull(
	    strstr(out, "info ipc: a\\nb\\r\\tc\\x01 \\ \\xff "
	                "é\n"));
	ck_assert_ptr_nonnull(strstr(out, "info ipc: m k=\"\\xc3(\" u=é\n"));
	ck_assert_int_eq((int)(strchr(strchr(out, '\n') + 1, '\n') - out),
	    (int)strlen(out) - 1);
	free(out);
}
END_TEST

/* ---- JSON ------------------------------------------------------------- */

START_TEST(json_line)
{
	cJSON *j;
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	capture_start();
	log_errorx("aws", "say \"hi\"\\\n\x01\xff");
	out = capture_end();
	j = parse_line(out);
	ck_assert_str_eq(member(j, "level"), "error");
	ck_assert_str_eq(member(j, "subsystem"), "aws");
	ck_assert_str_eq(member(j, "msg"), "say \"hi\"\\\n\x01\xef\xbf\xbd");
	ck_assert_int_eq((int)strlen(member(j, "ts")), 24);
	ck_assert(has_timestamp(member(j, "ts")) || member(j, "ts")[23] == 'Z');
	/* Members in a fixed order, so lines read well in a terminal too. */
	ck_assert_ptr_eq(strstr(out, "{\"ts\":\""), out);
	ck_assert_ptr_nonnull(strstr(out, "\",\"level\":\"error\","
	                                  "\"subsystem\":\"aws\",\"msg\":\""));
	cJSON_Delete(j);
	free(out);
}
END_TEST

START_TEST(json_fields)
{
	struct log_field f[] = {
	    {"stream", "orders"},
	    {"note", "tab\there \"q\" é \xc3\x28"},
	    {"gone", NULL},
	    {"level", "shadow"},
	};
	cJSON *j;
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	capture_start();
	log_fields(LOG_LEVEL_WARN, "producer", "put failed", f, 4);
	out = capture_end();
	j = parse_line(out);
	ck_assert_str_eq(member(j, "level"), "warn");
	ck_assert_str_eq(member(j, "msg"), "put failed");
	ck_assert_str_eq(member(j, "stream"), "orders");
	ck_assert_str_eq(member(j, "note"), "tab\there \"q\" é \xef\xbf\xbd(");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "gone")));
	ck_assert_str_eq(member(j, "_level"), "shadow");
	cJSON_Delete(j);
	free(out);
}
END_TEST

START_TEST(field_limit)
{
	const char *k = "k";
	cJSON *j;
	char *out;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	capture_start();
	/* 34 pairs: the last two are dropped. */
	log_kv(LOG_LEVEL_INFO, "t", "many", "a0", k, "a1", k, "a2", k, "a3", k,
	    "a4", k, "a5", k, "a6", k, "a7", k, "a8", k, "a9", k, "b0", k, "b1",
	    k, "b2", k, "b3", k, "b4", k, "b5", k, "b6", k, "b7", k, "b8", k,
	    "b9", k, "c0", k, "c1", k, "c2", k, "c3", k, "c4", k, "c5", k, "c6",
	    k, "c7", k, "c8", k, "c9", k, "d0", k, "d1", k, "d2", k, "d3", k,
	    NULL);
	out = capture_end();
	j = parse_line(out);
	ck_assert_int_eq(cJSON_GetArraySize(j), 4 + LOG_MAX_FIELDS);
	ck_assert_ptr_nonnull(member(j, "d1"));
	ck_assert_ptr_null(member(j, "d2"));
	cJSON_Delete(j);
	free(out);
}
END_TEST

/* ---- secrets ----------------------------------------------------------- */

START_TEST(secrets_redacted)
{
	static const char *const keys[] = {"session_token", "SecretAccessKey",
	    "Authorization", "password", "X-Amz-Signature",
	    "web_identity_token_file_contents"};
	cJSON *j;
	char *out;

	for (int fmt = 0; fmt < 2; fmt++) {
		log_init(LOG_LEVEL_INFO, (enum log_format)fmt);
		capture_start();
		for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
			log_kv(LOG_LEVEL_INFO, "aws", "credentials", keys[i],
			    "hunter2-SECRET-VALUE", "provider", "env", NULL);
		out = capture_end();
		ck_assert_ptr_null(strstr(out, "hunter2"));
		ck_assert_ptr_nonnull(strstr(out, "[redacted]"));
		ck_assert_ptr_nonnull(strstr(out, "env"));
		if (fmt == LOG_FORMAT_JSON) {
			j = parse_line(strrchr(out, '{'));
			ck_assert_str_eq(member(j, keys[5]), "[redacted]");
			ck_assert_str_eq(member(j, "provider"), "env");
			cJSON_Delete(j);
		} else
			ck_assert_ptr_nonnull(
			    strstr(out, " Authorization=[redacted] "));
		free(out);
	}
}
END_TEST

/* ---- truncation -------------------------------------------------------- */

START_TEST(long_lines_stay_whole)
{
	static char big[20001];
	const cJSON *v;
	cJSON *j;
	char *out;
	size_t n;

	/* "é" is two bytes: a cut in the middle would leave invalid UTF-8. */
	for (size_t i = 0; i + 1 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	capture_start();
	log_kv(LOG_LEVEL_INFO, "t", "big", "a", "x", "big", big, "after", "y",
	    NULL);
	out = capture_end();
	n = strlen(out);
	ck_assert_int_le((int)n, 8192);
	ck_assert_int_ge((int)n, 8000);
	j = parse_line(out);
	ck_assert_str_eq(member(j, "a"), "x");
	v = cJSON_GetObjectItemCaseSensitive(j, "big");
	ck_assert(cJSON_IsString(v));
	ck_assert_int_eq((int)strlen(v->valuestring) % 2, 0);
	ck_assert_ptr_eq(strstr(big, v->valuestring), big);
	ck_assert_ptr_null(member(j, "after"));
	cJSON_Delete(j);
	free(out);

	/* A long message, then a field that no longer fits. */
	capture_start();
	log_kv(LOG_LEVEL_INFO, "t", big, "k", "v", NULL);
	out = capture_end();
	j = parse_line(out);
	ck_assert_ptr_null(member(j, "k"));
	cJSON_Delete(j);
	free(out);

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	capture_start();
	big[0] = big[1] = ' '; /* a value that must be quoted */
	log_kv(LOG_LEVEL_INFO, "t", "big", "big", big, NULL);
	log_info("t", "%s", big);
	out = capture_end();
	n = strlen(out);
	ck_assert_int_eq(out[n - 1], '\n');
	ck_assert_ptr_nonnull(strstr(out, "\"\n")); /* quoted value closed */
	ck_assert_ptr_eq(strchr(strchr(out, '\n') + 1, '\n'), out + n - 1);
	free(out);
}
END_TEST

/* ---- journal ------------------------------------------------------------ */

START_TEST(journal_stream)
{
	struct stat st;
	char env[64], *out;

	capture_start();
	/* stderr is now the capture file: make JOURNAL_STREAM name it. */
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
	log_errorx("daemon", "bad");
	log_warnx("daemon", "careful");
	log_info("daemon", "hi");
	log_kv(LOG_LEVEL_DEBUG, "lease", "renewed", "shard", "s-1", NULL);
	/* JSON lines carry their own ts and level; no prefix there. */
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON);
	log_info("daemon", "j");
	out = capture_end();
	ck_assert_ptr_eq(strstr(out, "<3>error daemon: bad\n"
	                             "<4>warn daemon: careful\n"
	                             "<6>info daemon: hi\n"
	                             "<7>debug lease: renewed shard=s-1\n"
	                             "{\"ts\":\""),
	    out);
	free(out);

	/* Inherited but not ours (a redirection): timestamps stay. */
	setenv("JOURNAL_STREAM", "1:1", 1);
	capture_start();
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	log_info("daemon", "hi");
	out = capture_end();
	ck_assert_msg(has_timestamp(out), "%s", out);
	free(out);

	setenv("JOURNAL_STREAM", "garbage", 1);
	capture_start();
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	log_info("daemon", "hi");
	out = capture_end();
	ck_assert_msg(has_timestamp(out), "%s", out);
	free(out);
}
END_TEST

/* logrotate renames the file, then sends SIGHUP: lines go to a new file
 * under the old name. */
START_TEST(reopen_after_rename)
{
	char dir[] = "/tmp/test_log.XXXXXX", path[64], old[64], buf[256];
	int fd, saved;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kinesisd.log", dir);
	snprintf(old, sizeof(old), "%s/kinesisd.log.1", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ne(fd, -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	log_info("t", "before");
	ck_assert_int_eq(rename(path, old), 0);
	log_reopen();
	log_info("t", "after");
	dup2(saved, STDERR_FILENO);
	close(saved);

	ck_assert_ptr_nonnull(f = fopen(old, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	ck_assert_ptr_nonnull(strstr(buf, "info t: before\n"));
	ck_assert_ptr_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	ck_assert_ptr_nonnull(strstr(buf, "info t: after\n"));
	fclose(f);
	unlink(old);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(parse_names)
{
	ck_assert_int_eq(log_level_parse("warn"), LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("trace"), LOG_LEVEL_TRACE);
	ck_assert_int_eq(log_level_parse("verbose"), -1);
	ck_assert_str_eq(log_level_name(LOG_LEVEL_DEBUG), "debug");
	ck_assert_int_eq(log_format_parse("json"), LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("text"), LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_parse("xml"), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, text_line);
	tcase_add_test(tc, levels_and_errno);
	tcase_add_test(tc, text_fields);
	tcase_add_test(tc, text_escaping);
	tcase_add_test(tc, json_line);
	tcase_add_test(tc, json_fields);
	tcase_add_test(tc, field_limit);
	tcase_add_test(tc, secrets_redacted);
	tcase_add_test(tc, long_lines_stay_whole);
	tcase_add_test(tc, journal_stream);
	tcase_add_test(tc, reopen_after_rename);
	tcase_add_test(tc, parse_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
