/*
 * aws/credentials*.c, aws/ini.c and aws/region.c: the credentials chain,
 * the shared files, region resolution and the IMDS client.
 *
 * Every remote provider talks real HTTP (aws/http.c) to
 * tests/tools/fake_aws_meta.py, a FAKE IMDSv2 / container agent / STS
 * started once on a free loopback port; no real peer exists here for
 * those.  Its AssumeRole checks each request's SigV4 signature with
 * botocore.  credential_process commands are small shell scripts each
 * test writes into its HOME.  Each test runs in its own process (CK_FORK) with
 * a scrubbed environment, a private HOME, and stderr captured to a file, so the
 * log lines can be checked, and checked for secrets (teardown).
 *
 * Run from the top of the tree (make unit does).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/aws.h"
#include "aws/credentials_int.h" /* the credential_process timeout hook */
#include "log/log.h"

#define FAKE_SCRIPT "tests/tools/fake_aws_meta.py"
#define PYTHON      "/usr/bin/python3"

/* Every secret the fake or the tests hand out contains one of these. */
static const char *const secret_marks[] = {"fake-secret", "fake-session-token",
    "fake-web-identity-token", "fake-container-token", "imds-token-",
    "env-secret", "env-token", "file-secret", "file-token"};

static int fake_port;
static pid_t fake_pid = -1;
static int fake_stdin = -1;

/* Per test (each in its own process). */
static struct event_base *base;
static struct aws_http *http;
static struct aws_credentials *creds;
static char home[64];
static char logpath[96];
static int saved_stderr = -1;
static time_t clock_offset;

/* ---- the fake ------------------------------------------------------------ */

static void
fake_start(void)
{
	int in[2], out[2];
	char line[64];
	struct pollfd pfd;
	ssize_t n;
	size_t len = 0;

	if (pipe(in) != 0 || pipe(out) != 0)
		abort();
	if ((fake_pid = fork()) == -1)
		abort();
	if (fake_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(PYTHON, PYTHON, FAKE_SCRIPT, "--port", "0", "--stdin",
		    (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fake_stdin = in[1];
	pfd.fd = out[0];
	pfd.events = POLLIN;
	while (len < sizeof(line) - 1 && poll(&pfd, 1, 10000) == 1) {
		if ((n = read(out[0], line + len, 1)) != 1)
			break;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	close(out[0]);
	if (sscanf(line, "PORT %d", &fake_port) != 1) {
		fprintf(stderr, "fake_aws_meta.py did not start\n");
		exit(1);
	}
}

static void
fake_stop(void)
{
	if (fake_pid > 0) {
		close(fake_stdin);
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
}

static size_t
curl_sink(char *p, size_t size, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), add = size * n;

	if (have + add >= 65536)
		add = 65535 - have;
	memcpy(buf + have, p, add);
	buf[have + add] = '\0';
	return size * n;
}

/* A blocking GET to the fake (test set-up only); body into buf (64 KiB). */
static long
fake_get(const char *path, char *buf)
{
	char url[512];
	long status = 0;
	CURL *e = curl_easy_init();

	ck_assert_ptr_nonnull(e);
	buf[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fake_port, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, buf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	return status;
}

static void
fake_ctl(const char *query)
{
	static char buf[65536];
	char path[512];

	snprintf(path, sizeof(path), "/_ctl?%s", query);
	ck_assert_int_eq(fake_get(path, buf), 200);
}

static cJSON *
fake_stats(void)
{
	static char buf[65536];
	cJSON *j;

	ck_assert_int_eq(fake_get("/_stats", buf), 200);
	ck_assert_ptr_nonnull(j = cJSON_Parse(buf));
	return j;
}

static int
fake_count(const char *what)
{
	cJSON *j = fake_stats();
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "counts"), what);
	int n = cJSON_IsNumber(v) ? v->valueint : 0;

	cJSON_Delete(j);
	return n;
}

/* A field of "last" in /_stats: 1 true, 0 false, -1 absent. */
static int
fake_last_bool(const char *what)
{
	cJSON *j = fake_stats();
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "last"), what);
	int r = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;

	cJSON_Delete(j);
	return r;
}

static char *
fake_last_str(const char *what)
{
	cJSON *j = fake_stats();
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "last"), what);
	char *r = strdup(cJSON_IsString(v) ? v->valuestring : "");

	cJSON_Delete(j);
	return r;
}

static void
fake_url_env(const char *name, const char *path)
{
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fake_port, path);
	setenv(name, url, 1);
}

/* ---- fixture ---------------------------------------------------------------
 */

static time_t
test_clock(void *arg)
{
	(void)arg;
	return time(NULL) + clock_offset;
}

static void
env_scrub(void)
{
	extern char **environ;
	char name[256];
	int again = 1;

	/* unsetenv shifts environ: start over after each removal. */
	while (again) {
		again = 0;
		for (char **e = environ; *e != NULL; e++) {
			if (strncmp(*e, "AWS_", 4) != 0)
				continue;
			snprintf(name, sizeof(name), "%.*s",
			    (int)strcspn(*e, "="), *e);
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static void
setup(void)
{
	char *cause = NULL;
	int fd;

	env_scrub();
	snprintf(home, sizeof(home), "/tmp/kdcreds.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(home));
	setenv("HOME", home, 1);
	/* Off by default: a test that wants IMDS points it at the fake. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	fake_ctl("reset=1");

	snprintf(logpath, sizeof(logpath), "%s/log", home);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(2);
	/* A failed test skips teardown: KD_TEST_VERBOSE keeps its log. */
	if (getenv("KD_TEST_VERBOSE") != NULL)
		dprintf(saved_stderr, "log: %s\n", logpath);
	dup2(fd, 2);
	close(fd);
	/* Trace: every line the code can write is checked for secrets. */
	log_init(LOG_LEVEL_TRACE, LOG_FORMAT_TEXT);

	clock_offset = 0;
	ck_assert_ptr_nonnull(base = event_base_new());
	http = aws_http_new(base, &cause);
	ck_assert_msg(http != NULL, "aws_http_new: %s", cause);
	ck_assert_ptr_nonnull(creds = aws_credentials_new(base, http));
	aws_credentials_set_clock(creds, test_clock, NULL);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n)
		buf[0] = '\0';
	fclose(f);
	return buf;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	char *log;

	aws_credentials_free(creds);
	aws_http_free(http);
	event_base_free(base);
	creds = NULL;
	log = slurp(logpath);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	if (getenv("KD_TEST_VERBOSE") == NULL)
		nftw(home, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < sizeof(secret_marks) / sizeof(*secret_marks);
	     i++)
		ck_assert_msg(strstr(log, secret_marks[i]) == NULL,
		    "a secret (%s...) reached the log", secret_marks[i]);
	free(log);
}

/* ---- helpers ---------------------------------------------------------------
 */

struct got {
	int n;
	int in_get; /* set around aws_credentials_get() */
	int sync;   /* called back from inside it */
	int ok;
	char akid[128];
	char secret[128];
	char token[256];
	char provider[32];
	time_t exp;
	char err[4096];
};

static void
got_cb(const struct aws_creds *cr, const char *err, void *arg)
{
	struct got *g = arg;

	g->n++;
	g->sync = g->in_get;
	g->ok = cr != NULL;
	if (cr != NULL) {
		snprintf(g->akid, sizeof(g->akid), "%s", cr->access_key_id);
		snprintf(
		    g->secret, sizeof(g->secret), "%s", cr->secret_access_key);
		snprintf(g->token, sizeof(g->token), "%s",
		    cr->session_token != NULL ? cr->session_token : "");
		snprintf(g->provider, sizeof(g->provider), "%s", cr->provider);
		g->exp = cr->expiration;
	} else
		snprintf(g->err, sizeof(g->err), "%s", err != NULL ? err : "");
}

static void
run_for_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Turns the loop for that long. */
static void
run_for(double seconds)
{
	struct timeval tv = {(time_t)seconds,
	    (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
	struct event *ev;
	int done = 0;

	ck_assert_ptr_nonnull(ev = evtimer_new(base, run_for_done, &done));
	evtimer_add(ev, &tv);
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
}

/* Runs the loop until g has n answers or the time is up. */
static void
wait_for(struct got *g, int n, double seconds)
{
	struct timeval tv = {(time_t)seconds, 0};
	struct event *ev;
	int done = 0;

	ck_assert_ptr_nonnull(ev = evtimer_new(base, run_for_done, &done));
	evtimer_add(ev, &tv);
	while (!done && g->n < n)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
}

static void
start_get(struct got *g)
{
	g->in_get = 1;
	aws_credentials_get(creds, got_cb, g);
	g->in_get = 0;
}

static void
fetch(struct got *g)
{
	memset(g, 0, sizeof(*g));
	start_get(g);
	wait_for(g, 1, 10);
	ck_assert_int_eq(g->n, 1);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* path = HOME/name */
static const char *
home_file(const char *name, const char *text)
{
	static char path[4][128];
	static int i;
	char *p = path[i++ % 4];

	snprintf(p, 128, "%s/%s", home, name);
	if (text != NULL)
		write_file(p, text);
	return p;
}

static int
log_count(const char *needle)
{
	char *log = slurp(logpath);
	int n = 0;

	for (char *p = log; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(log);
	return n;
}

static void
use_imds(void)
{
	unsetenv("AWS_EC2_METADATA_DISABLED");
	fake_url_env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "");
}

static void
use_container(void)
{
	fake_url_env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "/container/creds");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "fake-container-token", 1);
}

static void
use_webid(const char *token)
{
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", home_file("webid", token), 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/fake", 1);
	fake_url_env("AWS_ENDPOINT_URL_STS", "/sts");
}

static void
use_files(void)
{
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	    home_file("creds", "[default]\naws_access_key_id = AKIDFILE\n"
	                       "aws_secret_access_key = file-secret\n"),
	    1);
}

/* ---- environment ------------------------------------------------------------
 */

START_TEST(test_env_keys)
{
	struct got g;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	setenv("AWS_SESSION_TOKEN", "env-token", 1);
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_int_eq(g.sync, 0); /* nothing cached: from the loop */
	ck_assert_str_eq(g.akid, "AKIDENV1");
	ck_assert_str_eq(g.secret, "env-secret");
	ck_assert_str_eq(g.token, "env-token");
	ck_assert_str_eq(g.provider, "environment");
	ck_assert_int_eq(g.exp, 0);
	/* Cached now: answered at once, and peek agrees. */
	memset(&g, 0, sizeof(g));
	start_get(&g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.sync, 1);
	ck_assert_str_eq(
	    aws_credentials_peek(creds)->access_key_id, "AKIDENV1");
	ck_assert_int_eq(
	    log_count("using environment (key id AKIDENV1...)"), 1);
}
END_TEST

START_TEST(test_env_legacy_names)
{
	struct got g;

	setenv("AWS_ACCESS_KEY", "AKIDLEGACY", 1);
	setenv("AWS_SECRET_KEY", "env-secret", 1);
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.akid, "AKIDLEGACY");
	ck_assert_str_eq(g.token, "");
}
END_TEST

START_TEST(test_env_partial_falls_through)
{
	struct got g;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV1", 1);
	use_files();
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.provider, "shared-files");
	ck_assert_str_eq(g.akid, "AKIDFILE");
	ck_assert_int_eq(log_count("environment: AWS_ACCESS_KEY_ID set but "
	                           "AWS_SECRET_ACCESS_KEY not; using "
	                           "shared-files instead"),
	    1);
}
END_TEST

/* ---- shared files
 * ------------------------------------------------------------ */

static const char creds_text[] =
    "# a comment\n"
    "; another comment\n"
    "\n"
    "[default]\n"
    "aws_access_key_id=AKIDDEFAULT\n"
    "aws_secret_access_key=file-secret-default\n"
    "\n"
    "  [ other ]   ; comment after a header\n"
    "AWS_Access_Key_Id   =   AKIDOTHER   # trailing comment\n"
    "\taws_secret_access_key = ignored-continuation-line\n"
    "aws_secret_access_key\t=\tfile-secret-other\n"
    "aws_session_token = file-token-other\n"
    "s3 =\n"
    "  max_concurrent_requests = 20\n"
    "this line is not a setting\n"
    "[broken\n"
    "aws_access_key_id = AKIDBROKEN\n";

START_TEST(test_files_named_profile)
{
	struct got g;

	setenv("AWS_SHARED_CREDENTIALS_FILE", home_file("c", creds_text), 1);
	setenv("AWS_PROFILE", "other", 1);
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.provider, "shared-files");
	ck_assert_str_eq(g.akid, "AKIDOTHER");
	ck_assert_str_eq(g.secret, "file-secret-other");
	ck_assert_str_eq(g.token, "file-token-other");
}
END_TEST

START_TEST(test_files_default_in_home)
{
	struct got g;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/.aws", home);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	home_file(".aws/credentials", creds_text);
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.akid, "AKIDDEFAULT");
	ck_assert_str_eq(g.token, "");
}
END_TEST

START_TEST(test_files_config_profile)
{
	struct got g;

	setenv("AWS_CONFIG_FILE",
	    home_file("cfg",
	        "[cfg]\naws_access_key_id = AKIDNOPREFIX\n"
	        "aws_secret_access_key = file-secret\n"
	        "[profile   cfg]\naws_access_key_id = AKIDCONFIG\n"
	        "aws_secret_access_key = file-secret\nregion = ap-south-1\n"),
	    1);
	setenv("AWS_PROFILE", "cfg", 1);
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.akid, "AKIDCONFIG");
}
END_TEST

START_TEST(test_files_credentials_win)
{
	struct got g;

	setenv("AWS_CONFIG_FILE",
	    home_file("cfg", "[default]\naws_access_key_id = AKIDCONFIG\n"
	                     "aws_secret_access_key = file-secret\n"),
	    1);
	use_files();
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.akid, "AKIDFILE");
}
END_TEST

START_TEST(test_files_unsupported_and_missing)
{
	struct got g;

	setenv("AWS_CONFIG_FILE",
	    home_file("cfg", "[profile sso]\nsso_session = corp\n"
	                     "sso_account_id = 123456789012\n"),
	    1);
	setenv("AWS_PROFILE", "sso", 1);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err,
	    "profile 'sso' uses sso_session, which kinesisd does not support"));

	setenv("AWS_PROFILE", "nope", 1);
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "no profile 'nope'"));
}
END_TEST

START_TEST(test_ini_parser)
{
	struct aws_profile *p;
	char *cause;
	const char *path = home_file("ini",
	    "[default]\nregion = us-west-2\n"
	    "[profile default]\nregion = eu-north-1\nOutput = json\n"
	    "[profile dup]\na = 1\nb = 2\n[other]\nx = y\n[profile dup]\n"
	    "a = 3\n");

	ck_assert_int_eq(
	    aws_profile_load(path, AWS_PROFILE_CONFIG, "default", &p, &cause),
	    AWS_PROFILE_FOUND);
	/* Both spellings of the default profile, merged, later wins. */
	ck_assert_str_eq(aws_profile_get(p, "region"), "eu-north-1");
	ck_assert_str_eq(aws_profile_get(p, "OUTPUT"), "json");
	aws_profile_free(p);
	ck_assert_int_eq(
	    aws_profile_load(path, AWS_PROFILE_CONFIG, "dup", &p, &cause),
	    AWS_PROFILE_FOUND);
	ck_assert_str_eq(aws_profile_get(p, "a"), "3");
	ck_assert_str_eq(aws_profile_get(p, "b"), "2");
	ck_assert_ptr_null(aws_profile_get(p, "x"));
	aws_profile_free(p);
	/* "[other]" names no profile in a config file... */
	ck_assert_int_eq(
	    aws_profile_load(path, AWS_PROFILE_CONFIG, "other", &p, &cause),
	    AWS_PROFILE_NO_PROFILE);
	/* ... but does in a credentials file. */
	ck_assert_int_eq(aws_profile_load(path, AWS_PROFILE_CREDENTIALS,
	                     "other", &p, &cause),
	    AWS_PROFILE_FOUND);
	aws_profile_free(p);
	ck_assert_int_eq(aws_profile_load("/nonexistent/x", AWS_PROFILE_CONFIG,
	                     "default", &p, &cause),
	    AWS_PROFILE_NO_FILE);
	ck_assert_int_eq(
	    aws_profile_load(home, AWS_PROFILE_CONFIG, "default", &p, &cause),
	    AWS_PROFILE_ERROR);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	aws_profile_free(NULL);

	setenv("AWS_PROFILE", "", 1);
	setenv("AWS_DEFAULT_PROFILE", "legacy", 1);
	ck_assert_str_eq(aws_profile_name(), "legacy");
	setenv("AWS_CONFIG_FILE", "~/x/config", 1);
	cause = aws_profile_path(AWS_PROFILE_CONFIG);
	ck_assert_ptr_nonnull(strstr(cause, home));
	ck_assert_ptr_nonnull(strstr(cause, "/x/config"));
	free(cause);
}
END_TEST

/* ---- credential_process ----------------------------------------------------
 */

#define PROC_JSON                                                              \
	"{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC0001\", "                 \
	"\"SecretAccessKey\": \"fake-secret-proc\", "                          \
	"\"SessionToken\": \"fake-session-token-proc\"}"

/* HOME/name, an executable shell script with this body. */
static const char *
write_script(const char *name, const char *body)
{
	static char text[8192];
	const char *path;

	snprintf(text, sizeof(text), "#!/bin/sh\n%s", body);
	path = home_file(name, text);
	ck_assert_int_eq(chmod(path, 0700), 0);
	return path;
}

/* AWS_CONFIG_FILE = HOME/config with this text; AWS_PROFILE = profile. */
static void
use_config(const char *profile, const char *text)
{
	setenv("AWS_CONFIG_FILE", home_file("config", text), 1);
	setenv("AWS_PROFILE", profile, 1);
}

/* A profile "proc" whose credential_process runs HOME/proc.sh. */
static void
use_process(const char *script_body)
{
	char cfg[512];

	write_script("proc.sh", script_body);
	snprintf(cfg, sizeof(cfg),
	    "[profile proc]\ncredential_process = %s/proc.sh one 'two words'\n",
	    home);
	use_config("proc", cfg);
}

/* A pid that no longer runs: gone, or a zombie left to init. */
static int
pid_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int gone = 1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL && p[1] == ' ')
		gone = p[2] == 'Z' || p[2] == 'X';
	fclose(f);
	return gone;
}

static pid_t
read_pid(const char *name)
{
	char *s = slurp(home_file(name, NULL));
	pid_t pid = (pid_t)atol(s);

	free(s);
	return pid;
}

START_TEST(test_process_ok)
{
	struct got g;

	use_process("echo \"args: $1 / $2\" >&2\n"
	            "if read line; then echo 'stdin: data' >&2;"
	            " else echo 'stdin: eof' >&2; fi\n"
	            "echo 'oops, the secret: fake-secret-proc!' >&2\n"
	            "echo '" PROC_JSON "'\n");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_int_eq(g.sync, 0);
	ck_assert_str_eq(g.provider, "credential-process");
	ck_assert_str_eq(g.akid, "AKIDPROC0001");
	ck_assert_str_eq(g.secret, "fake-secret-proc");
	ck_assert_str_eq(g.token, "fake-session-token-proc");
	ck_assert_int_eq(g.exp, 0); /* no Expiration: never expires */
	/* Its stderr reaches the log, secrets cut out (teardown checks). */
	ck_assert_int_eq(log_count("profile 'proc': credential_process: "
	                           "args: one / two words"),
	    1);
	ck_assert_int_eq(log_count("credential_process: stdin: eof"), 1);
	ck_assert_int_eq(log_count("oops, the secret: [redacted]!"), 1);
	ck_assert_int_eq(
	    log_count("using credential-process (key id AKIDPROC...)"), 1);
	/* Cached: no second run. */
	memset(&g, 0, sizeof(g));
	start_get(&g);
	ck_assert_int_eq(g.sync, 1);
	ck_assert_int_eq(log_count("stdin: eof"), 1);
}
END_TEST

START_TEST(test_process_in_credentials_file)
{
	char text[512];
	struct got g;

	write_script("proc.sh", "echo '" PROC_JSON "'\n");
	snprintf(text, sizeof(text),
	    "[default]\ncredential_process = %s/proc.sh\n", home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", home_file("creds", text), 1);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "credential-process");
	/* Keys beside it win, as in the SDKs. */
	snprintf(text, sizeof(text),
	    "[default]\ncredential_process = %s/proc.sh\n"
	    "aws_access_key_id = AKIDFILE\naws_secret_access_key = "
	    "file-secret\n",
	    home);
	home_file("creds", text);
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert_str_eq(g.provider, "shared-files");
	ck_assert_str_eq(g.akid, "AKIDFILE");
}
END_TEST

START_TEST(test_process_expiration_refresh)
{
	struct got g;
	const struct aws_creds *cr;
	time_t now = time(NULL);
	char first[128], *count;
	int i;

	/* Each run counts itself and expires 4 s from now. */
	use_process("n=$(cat \"$HOME/count\" 2>/dev/null || echo 0)\n"
	            "n=$((n + 1)); echo $n >\"$HOME/count\"\n"
	            "exp=$(date -u -d \"@$(($(date +%s) + 4))\" "
	            "+%Y-%m-%dT%H:%M:%SZ)\n"
	            "printf '{\"Version\":1,\"AccessKeyId\":\"AKIDPROC%04d\","
	            "\"SecretAccessKey\":\"fake-secret-proc\","
	            "\"SessionToken\":\"fake-session-token-proc\","
	            "\"Expiration\":\"%s\"}' $n $exp\n");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.akid, "AKIDPROC0001");
	ck_assert_int_ge(g.exp, now + 3);
	ck_assert_int_le(g.exp, now + 6);
	snprintf(first, sizeof(first), "%s", g.akid);
	/* Refreshed in the background before it expires, with no get. */
	for (i = 0; i < 100; i++) {
		run_for(0.1);
		cr = aws_credentials_peek(creds);
		if (cr != NULL && strcmp(cr->access_key_id, first) != 0)
			break;
	}
	ck_assert_ptr_nonnull(cr = aws_credentials_peek(creds));
	ck_assert_str_eq(cr->access_key_id, "AKIDPROC0002");
	count = slurp(home_file("count", NULL));
	ck_assert_int_eq(atoi(count), 2);
	free(count);
	ck_assert_int_ge(
	    log_count("credentials: refreshed from credential-process"), 1);
}
END_TEST

static const struct {
	const char *script;
	const char *why;
} process_failures[] = {
    {"echo 'not json'\n",
        "` printed no usable credentials (its output is not a JSON "
        "object); it must print {\"Version\": 1, \"AccessKeyId\": ..., "
        "\"SecretAccessKey\": ...} on standard output; run it by hand"},
    {"true\n", "it printed nothing"},
    {"echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": "
     "\"fake-secret-proc\"}'\n",
        "its output has no \"Version\": 1"},
    {"echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'\n",
        "its output lacks AccessKeyId or SecretAccessKey"},
    {"echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": "
     "\"fake-secret-proc\", \"Expiration\": \"soon\"}'\n",
        "Expiration \"soon\" is not an RFC 3339 time"},
    {"echo 'Your session expired: run corp-login' >&2\nexit 3\n",
        "exited with status 3: Your session expired: run corp-login; "
        "run it by hand"},
    {"/nonexistent/corp-tool\n", "exited with status 127 (command not "
                                 "found?): "},
    {"kill -9 $$\n", "exited with status 137 (killed by signal 9?)"},
    {"head -c 100000 /dev/zero | tr '\\0' x\n",
        "wrote more than 64 KiB to standard output"},
    {"echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": "
     "\"fake-secret-proc\", \"Expiration\": \"2001-01-01T00:00:00Z\"}'\n",
        "credentials already expired (2001-01-01T00:00:00Z)"},
};

START_TEST(test_process_failures)
{
	struct got g;
	char want[256];

	use_process(process_failures[_i].script);
	fetch(&g);
	ck_assert(!g.ok);
	snprintf(want, sizeof(want),
	    "shared-files: profile 'proc': credential_process `%s/proc.sh "
	    "one 'two words'`",
	    home);
	ck_assert_msg(strstr(g.err, want) != NULL, "%s", g.err);
	ck_assert_msg(strstr(g.err, process_failures[_i].why) != NULL,
	    "case %d: %s", _i, g.err);
}
END_TEST

START_TEST(test_process_timeout)
{
	struct got g;
	pid_t sh, child;
	int i;

	/* A tool stuck (on a prompt, a dead network) with a child of its
	 * own: both are killed when the time is up. */
	use_process("echo $$ >\"$HOME/pid\"\n"
	            "sleep 60 &\necho $! >\"$HOME/pid2\"\n"
	            "echo 'waiting for the MFA prompt' >&2\nwait\n");
	aws_credentials_set_process_timeout(creds, 300);
	memset(&g, 0, sizeof(g));
	start_get(&g);
	wait_for(&g, 1, 20);
	ck_assert_int_eq(g.n, 1);
	ck_assert(!g.ok);
	ck_assert_msg(
	    strstr(g.err, "did not finish within 0.3 s and was "
	                  "killed: waiting for the MFA prompt") != NULL,
	    "%s", g.err);
	sh = read_pid("pid");
	child = read_pid("pid2");
	ck_assert_int_gt(sh, 1);
	ck_assert_int_gt(child, 1);
	for (i = 0; i < 100 && !(pid_gone(sh) && pid_gone(child)); i++)
		run_for(0.05);
	ck_assert_msg(pid_gone(sh), "the shell still runs");
	ck_assert_msg(pid_gone(child), "its child still runs");
}
END_TEST

START_TEST(test_process_helper_keeps_stderr)
{
	struct got g;
	pid_t helper;

	/* The tool exits but leaves a helper holding its standard error:
	 * its exit and its output are what count. */
	use_process("sleep 60 >/dev/null &\necho $! >\"$HOME/helper\"\n"
	            "echo 'started a helper' >&2\n"
	            "echo '" PROC_JSON "'\n");
	aws_credentials_set_process_timeout(creds, 10000);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_int_eq(log_count("credential_process: started a helper"), 1);
	ck_assert_int_gt(helper = read_pid("helper"), 1);
	kill(helper, SIGKILL);
}
END_TEST

START_TEST(test_process_does_not_block)
{
	struct got g;

	/* It runs until the test lets it go: the loop must keep turning
	 * meanwhile (run_for returns, the get stays unanswered). */
	use_process("i=0\nwhile [ ! -f \"$HOME/go\" ] && [ $i -lt 400 ]; do\n"
	            "  sleep 0.05; i=$((i + 1))\ndone\n"
	            "echo '" PROC_JSON "'\n");
	memset(&g, 0, sizeof(g));
	start_get(&g);
	run_for(0.3);
	ck_assert_int_eq(g.n, 0);
	home_file("go", "");
	wait_for(&g, 1, 20);
	ck_assert_int_eq(g.n, 1);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.akid, "AKIDPROC0001");
}
END_TEST

START_TEST(test_process_reset_kills)
{
	struct got g;
	pid_t sh;
	int i;

	/* A reset (SIGHUP) or the end of the chain while it runs. */
	use_process("echo $$ >\"$HOME/pid\"\nexec sleep 60\n");
	memset(&g, 0, sizeof(g));
	start_get(&g);
	for (i = 0; i < 200 && read_pid("pid") <= 1; i++)
		run_for(0.02);
	ck_assert_int_gt(sh = read_pid("pid"), 1);
	aws_credentials_free(creds);
	creds = NULL;
	for (i = 0; i < 100 && !pid_gone(sh); i++)
		usleep(20000);
	ck_assert(pid_gone(sh));
	ck_assert_int_eq(g.n, 0);
	/* Teardown frees NULL. */
	ck_assert_ptr_nonnull(creds = aws_credentials_new(base, http));
}
END_TEST

/* ---- assume-role profiles --------------------------------------------------
 */

#define ROLE_ARN "arn:aws:iam::123456789012:role/fake"

static const char source_creds[] =
    "[src]\naws_access_key_id = AKIDSOURCE\n"
    "aws_secret_access_key = fake-secret-source\n"
    "[wrong]\naws_access_key_id = AKIDSOURCE\n"
    "aws_secret_access_key = fake-secret-not-the-one\n";

static void
use_roles(const char *profile, const char *config)
{
	setenv(
	    "AWS_SHARED_CREDENTIALS_FILE", home_file("creds", source_creds), 1);
	fake_url_env("AWS_ENDPOINT_URL_STS", "/sts");
	use_config(profile, config);
}

static void
assert_last(const char *what, const char *want)
{
	char *v = fake_last_str(what);

	ck_assert_msg(
	    strcmp(v, want) == 0, "%s: '%s', expected '%s'", what, v, want);
	free(v);
}

START_TEST(test_role_static_source)
{
	struct got g;
	time_t now = time(NULL);
	char *v;

	use_roles("role", "[profile role]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = src\nexternal_id = ext-42\n"
	                  "duration_seconds = 1800\n"
	                  "role_session_name = kd-test\n");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "assume-role");
	ck_assert_int_eq(strncmp(g.akid, "ASIASTS", 7), 0);
	ck_assert_int_eq(strncmp(g.token, "fake-session-token-sts", 22), 0);
	ck_assert_int_ge(g.exp, now + 3590);
	ck_assert_int_le(g.exp, now + 3610);
	ck_assert_int_eq(fake_count("sts_assume"), 1);
	/* botocore recomputed the signature: same. */
	assert_last("sts_sig", "ok");
	assert_last("sts_akid", "AKIDSOURCE");
	assert_last("sts_action", "AssumeRole");
	assert_last("sts_version", "2011-06-15");
	assert_last("sts_role", ROLE_ARN);
	assert_last("sts_external_id", "ext-42");
	assert_last("sts_duration", "1800");
	assert_last("sts_session", "kd-test");
	ck_assert_int_eq(log_count("using assume-role (key id ASIASTS"), 1);

	/* Without the optional settings: a default session name. */
	use_roles("role", "[profile role]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = src\n");
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	v = fake_last_str("sts_session");
	ck_assert_int_eq(strncmp(v, "kinesisd-", 9), 0);
	free(v);
	assert_last("sts_duration", "");
	assert_last("sts_external_id", "");
	assert_last("sts_sig", "ok");
}
END_TEST

START_TEST(test_role_signing_region)
{
	struct got g;

	/* Signed for the region in use... */
	use_roles("role", "[profile role]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = src\n");
	setenv("AWS_REGION", "eu-west-1", 1);
	fake_ctl("sts_region=eu-west-1");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	assert_last("sts_sig", "ok");
	/* ... which the fake checks: expecting another one, it refuses. */
	fake_ctl("sts_region=us-east-1");
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "SignatureDoesNotMatch"));
	assert_last("sts_sig", "scope eu-west-1/sts, expected us-east-1/sts");
}
END_TEST

START_TEST(test_role_bad_signature)
{
	struct got g;

	/* The right key id with a wrong secret: a broken signer would look
	 * the same, and the fake must catch it. */
	use_roles("role", "[profile role]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = wrong\n");
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_msg(
	    strstr(g.err, "shared-files: profile 'role': AssumeRole " ROLE_ARN
	                  " with the credentials of profile 'wrong': STS: "
	                  "HTTP 403 SignatureDoesNotMatch") != NULL,
	    "%s", g.err);
	assert_last("sts_sig", "signature differs from botocore's");
}
END_TEST

START_TEST(test_role_chain_with_process)
{
	char cfg[1024], *v;
	struct got g;
	cJSON *j, *roles;

	/* top <- middle <- base (a credential_process): two AssumeRole
	 * calls, the second signed with what the first gave (and its
	 * session token). */
	write_script("proc.sh", "echo run >>\"$HOME/runs\"\n"
	                        "echo '{\"Version\": 1, \"AccessKeyId\": "
	                        "\"AKIDPROC0001\", \"SecretAccessKey\": "
	                        "\"fake-secret-proc\"}'\n");
	snprintf(cfg, sizeof(cfg),
	    "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\n"
	    "source_profile = middle\n"
	    "[profile middle]\n"
	    "role_arn = arn:aws:iam::123456789012:role/middle\n"
	    "source_profile = base\n"
	    "[profile base]\ncredential_process = %s/proc.sh\n",
	    home);
	use_roles("top", cfg);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "assume-role");
	ck_assert_int_eq(fake_count("sts_assume"), 2);
	assert_last("sts_sig", "ok");
	assert_last("sts_role", "arn:aws:iam::123456789012:role/top");
	v = fake_last_str("sts_akid");
	ck_assert_int_eq(strncmp(v, "ASIASTS", 7), 0);
	ck_assert_str_ne(v, g.akid);
	free(v);
	j = fake_stats();
	roles =
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "last"), "sts_roles");
	ck_assert_int_eq(cJSON_GetArraySize(roles), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(roles, 0)->valuestring,
	    "arn:aws:iam::123456789012:role/middle");
	cJSON_Delete(j);
	v = slurp(home_file("runs", NULL));
	ck_assert_str_eq(v, "run\n");
	free(v);
}
END_TEST

static const struct {
	const char *profile;
	const char *config;
	const char *why;
} role_errors[] = {
    {"a",
        "[profile a]\nrole_arn = " ROLE_ARN "\nsource_profile = b\n"
        "[profile b]\nrole_arn = " ROLE_ARN "\nsource_profile = a\n",
        "profile 'b': source_profile 'a' makes a loop"},
    {"me", "[profile me]\nrole_arn = " ROLE_ARN "\nsource_profile = me\n",
        "profile 'me' is its own source_profile but has no keys"},
    {"ec2",
        "[profile ec2]\nrole_arn = " ROLE_ARN
        "\ncredential_source = Ec2InstanceMetadata\n",
        "profile 'ec2': credential_source = Ec2InstanceMetadata is not "
        "supported by kinesisd"},
    {"both",
        "[profile both]\nrole_arn = " ROLE_ARN
        "\ncredential_source = Environment\nsource_profile = src\n",
        "sets both source_profile and credential_source"},
    {"nosrc", "[profile nosrc]\nrole_arn = " ROLE_ARN "\n",
        "profile 'nosrc' has role_arn but no source_profile"},
    {"ghost", "[profile ghost]\nrole_arn = " ROLE_ARN "\nsource_profile = x\n",
        "profile 'ghost': source_profile 'x' is in neither "},
    {"empty",
        "[profile empty]\nrole_arn = " ROLE_ARN "\nsource_profile = r\n"
        "[profile r]\nregion = eu-west-1\n",
        "profile 'empty': source_profile 'r' has no credentials"},
    {"dur",
        "[profile dur]\nrole_arn = " ROLE_ARN "\nsource_profile = src\n"
        "duration_seconds = 10\n",
        "profile 'dur': duration_seconds = 10: must be seconds, from 900 "
        "to 43200"},
    {"mfa",
        "[profile mfa]\nrole_arn = " ROLE_ARN "\nsource_profile = src\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/me\n",
        "profile 'mfa' sets mfa_serial"},
    {"p0",
        "[profile p0]\nrole_arn = " ROLE_ARN "\nsource_profile = p1\n"
        "[profile p1]\nrole_arn = " ROLE_ARN "\nsource_profile = p2\n"
        "[profile p2]\nrole_arn = " ROLE_ARN "\nsource_profile = p3\n"
        "[profile p3]\nrole_arn = " ROLE_ARN "\nsource_profile = p4\n"
        "[profile p4]\nrole_arn = " ROLE_ARN "\nsource_profile = p5\n"
        "[profile p5]\nrole_arn = " ROLE_ARN "\nsource_profile = src\n",
        "more than 5 roles chained through source_profile"},
};

START_TEST(test_role_config_errors)
{
	struct got g;

	use_roles(role_errors[_i].profile, role_errors[_i].config);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_msg(strstr(g.err, role_errors[_i].why) != NULL, "case %d: %s",
	    _i, g.err);
	ck_assert_ptr_nonnull(strstr(g.err, "shared-files: "));
	/* Found wrong before any call. */
	ck_assert_int_eq(fake_count("sts_assume"), 0);
}
END_TEST

START_TEST(test_role_self_source_and_denied)
{
	struct got g;

	/* Its own source, with keys: allowed, as in the SDKs. */
	use_roles("self", "[profile self]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = self\n"
	                  "aws_access_key_id = AKIDSOURCE\n"
	                  "aws_secret_access_key = fake-secret-source\n");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "assume-role");
	assert_last("sts_akid", "AKIDSOURCE");
	assert_last("sts_sig", "ok");

	/* In a source profile keys win over role_arn: no second call. */
	use_roles("top", "[profile top]\nrole_arn = " ROLE_ARN "\n"
	                 "source_profile = both\n"
	                 "[profile both]\nrole_arn = " ROLE_ARN "\n"
	                 "source_profile = x\n"
	                 "aws_access_key_id = AKIDSOURCE\n"
	                 "aws_secret_access_key = fake-secret-source\n");
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_int_eq(fake_count("sts_assume"), 2);

	use_roles("role", "[profile role]\n"
	                  "role_arn = arn:aws:iam::123456789012:role/denied\n"
	                  "source_profile = src\n");
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_msg(strstr(g.err, "AssumeRole arn:aws:iam::123456789012:"
	                            "role/denied with the credentials of "
	                            "profile 'src': STS: HTTP 403 "
	                            "AccessDenied") != NULL,
	    "%s", g.err);
}
END_TEST

START_TEST(test_role_refresh)
{
	struct got g;
	const struct aws_creds *cr;
	char first[128];
	int i;

	use_roles("role", "[profile role]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = src\n");
	fake_ctl("ttl=4");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	snprintf(first, sizeof(first), "%s", g.akid);
	for (i = 0; i < 100; i++) {
		run_for(0.1);
		cr = aws_credentials_peek(creds);
		if (cr != NULL && strcmp(cr->access_key_id, first) != 0)
			break;
	}
	ck_assert_ptr_nonnull(cr = aws_credentials_peek(creds));
	ck_assert_str_ne(cr->access_key_id, first);
	ck_assert_int_ge(fake_count("sts_assume"), 2);
	assert_last("sts_sig", "ok");
	ck_assert_int_ge(
	    log_count("credentials: refreshed from assume-role"), 1);
}
END_TEST

START_TEST(test_role_garbage)
{
	char q[64];
	struct got g;

	use_roles("role", "[profile role]\nrole_arn = " ROLE_ARN "\n"
	                  "source_profile = src\n");
	snprintf(q, sizeof(q), "sts_mode=garbage&garbage=%d", _i);
	fake_ctl(q);
	fetch(&g);
	ck_assert_msg(!g.ok, "garbage %d accepted: %s", _i, g.akid);
	ck_assert_ptr_nonnull(strstr(g.err, "shared-files: profile 'role': "
	                                    "AssumeRole " ROLE_ARN));
}
END_TEST

/* ---- web identity ----------------------------------------------------------
 */

START_TEST(test_webid_ok)
{
	struct got g;
	time_t now = time(NULL);
	char *sess;

	use_webid("fake-web-identity-token\n");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "web-identity");
	ck_assert_int_eq(strncmp(g.akid, "ASIASTS", 7), 0);
	ck_assert_int_eq(strncmp(g.token, "fake-session-token-sts", 22), 0);
	ck_assert_int_ge(g.exp, now + 3590);
	ck_assert_int_le(g.exp, now + 3610);
	sess = fake_last_str("sts_session");
	ck_assert_int_eq(strncmp(sess, "kinesisd-", 9), 0);
	free(sess);

	setenv("AWS_ROLE_SESSION_NAME", "my session/1", 1);
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(g.ok);
	sess = fake_last_str("sts_session");
	ck_assert_str_eq(sess, "my session/1"); /* form-encoded on the way */
	free(sess);
}
END_TEST

START_TEST(test_webid_generic_endpoint)
{
	struct got g;

	use_webid("fake-web-identity-token");
	unsetenv("AWS_ENDPOINT_URL_STS");
	fake_url_env("AWS_ENDPOINT_URL", "/sts/");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "web-identity");
}
END_TEST

START_TEST(test_webid_rejected)
{
	struct got g;

	use_webid("wrong-token");
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err,
	    "web-identity: STS: HTTP 400 InvalidIdentityToken: Couldn't "
	    "verify the token & role"));
}
END_TEST

START_TEST(test_webid_half_configured)
{
	struct got g;

	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", home_file("t", "x"), 1);
	use_files();
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_str_eq(g.provider, "shared-files");
	ck_assert_int_eq(log_count("web-identity: AWS_ROLE_ARN not set; using "
	                           "shared-files instead"),
	    1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/fake", 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "/nonexistent/token: No such"));
}
END_TEST

/* ---- container --------------------------------------------------------------
 */

START_TEST(test_container_full_uri)
{
	struct got g;

	use_container();
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "container");
	ck_assert_int_eq(strncmp(g.akid, "ASIACONT", 8), 0);
	ck_assert_int_gt(g.exp, time(NULL));
	ck_assert_int_eq(fake_last_bool("container_auth_ok"), 1);
}
END_TEST

START_TEST(test_container_token_file_wins)
{
	struct got g;

	use_container();
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    home_file("tok", "fake-container-token\n"), 1);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "container");
}
END_TEST

START_TEST(test_container_bad_token)
{
	struct got g;

	use_container();
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err,
	    "container: HTTP 401: AccessDenied: bad authorization token"));
}
END_TEST

START_TEST(test_container_hosts)
{
	struct got g;
	char url[128];

	/* Plain HTTP only towards loopback or the ECS/EKS agents. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/c", 1);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(
	    strstr(g.err, "container: "
	                  "AWS_CONTAINER_CREDENTIALS_FULL_URI "
	                  "must be https"));
	ck_assert_int_eq(fake_count("container"), 0);

	snprintf(
	    url, sizeof(url), "http://localhost:%d/container/c", fake_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "fake-container-token", 1);
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
}
END_TEST

START_TEST(test_container_relative_uri)
{
	struct got g;

	/* 169.254.170.2 is not there: only that it is tried, and quickly. */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials", 1);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "; container: "));
	ck_assert_ptr_null(strstr(g.err, "container: AWS_CONTAINER_"));
}
END_TEST

/* ---- IMDS
 * --------------------------------------------------------------------- */

START_TEST(test_imds_v2)
{
	struct got g;

	use_imds();
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "imds");
	ck_assert_int_eq(strncmp(g.akid, "ASIAIMDS", 8), 0);
	ck_assert_int_eq(fake_count("imds_token"), 1);
	ck_assert_int_eq(fake_count("imds_role"), 1);
	ck_assert_int_eq(fake_count("imds_creds"), 1);
	ck_assert_int_eq(fake_last_bool("imds_token_sent"), 1);
}
END_TEST

START_TEST(test_imds_v1_fallback)
{
	struct got g;

	use_imds();
	fake_ctl("imds_mode=v1only");
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_int_eq(fake_last_bool("imds_token_sent"), 0);

	setenv("AWS_EC2_METADATA_V1_DISABLED", "true", 1);
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "token request answered HTTP 403"));
}
END_TEST

START_TEST(test_imds_no_role_disabled_unreachable)
{
	struct got g;
	struct timespec t0, t1;
	char url[64];

	use_imds();
	fake_ctl("imds_mode=norole");
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "HTTP 404 (no instance role)"));

	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "imds: AWS_EC2_METADATA_DISABLED"));
	ck_assert_int_eq(fake_count("imds_token"), 1);

	/* Nothing listening: fails fast, naming the endpoint. */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	snprintf(url, sizeof(url), "http://127.0.0.1:1");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	aws_credentials_reset(creds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fetch(&g);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "imds: http://127.0.0.1:1: "));
	ck_assert_int_le(t1.tv_sec - t0.tv_sec, 2);
}
END_TEST

static void
imds_cb(long status, const char *body, size_t len, const char *err, void *arg)
{
	struct got *g = arg;

	g->n++;
	g->ok = err == NULL && status == 200;
	snprintf(g->akid, sizeof(g->akid), "%.*s", (int)len,
	    body != NULL ? body : "");
}

START_TEST(test_imds_token_reuse_and_rotation)
{
	struct aws_imds *m;
	struct got g;

	use_imds();
	ck_assert_ptr_nonnull(m = aws_imds_new(http));
	for (int i = 0; i < 3; i++) {
		memset(&g, 0, sizeof(g));
		if (i == 2)
			fake_ctl("rotate=1"); /* the cached token goes bad */
		ck_assert_int_eq(
		    aws_imds_get(
		        m, "/latest/meta-data/placement/region", imds_cb, &g),
		    0);
		/* One get at a time. */
		ck_assert_int_eq(aws_imds_get(m, "/x", imds_cb, &g), -1);
		wait_for(&g, 1, 5);
		ck_assert(g.ok);
		ck_assert_str_eq(g.akid, "eu-west-3");
	}
	ck_assert_int_eq(fake_count("imds_token"), 2);
	ck_assert_int_eq(fake_count("imds_401"), 1);
	/* Freed with a get in flight: no callback, no leak. */
	ck_assert_int_eq(
	    aws_imds_get(m, "/latest/meta-data/placement/region", imds_cb, &g),
	    0);
	aws_imds_free(m);
	aws_imds_free(NULL);
}
END_TEST

/* ---- the chain
 * ----------------------------------------------------------------- */

START_TEST(test_chain_order)
{
	static const char *const order[] = {
	    "environment", "web-identity", "shared-files", "container", "imds"};
	struct got g;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	use_webid("fake-web-identity-token");
	use_files();
	use_container();
	use_imds();
	for (int i = 0; i < 5; i++) {
		aws_credentials_reset(creds);
		fetch(&g);
		ck_assert_msg(g.ok, "%s", g.err);
		ck_assert_str_eq(g.provider, order[i]);
		/* Later providers were not asked. */
		ck_assert_int_eq(fake_count("sts"), i >= 1);
		ck_assert_int_eq(fake_count("container"), i >= 3);
		ck_assert_int_eq(fake_count("imds_token"), i >= 4);
		switch (i) {
		case 0:
			unsetenv("AWS_ACCESS_KEY_ID");
			unsetenv("AWS_SECRET_ACCESS_KEY");
			break;
		case 1:
			unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
			unsetenv("AWS_ROLE_ARN");
			break;
		case 2:
			unsetenv("AWS_SHARED_CREDENTIALS_FILE");
			break;
		case 3:
			unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
			break;
		}
	}
}
END_TEST

START_TEST(test_chain_fall_through)
{
	struct got g;

	use_webid("wrong-token");
	use_container();
	fetch(&g);
	ck_assert_msg(g.ok, "%s", g.err);
	ck_assert_str_eq(g.provider, "container");
	ck_assert_int_eq(log_count("credentials: web-identity: STS: HTTP 400 "
	                           "InvalidIdentityToken"),
	    2); /* the debug line and the warning */
	ck_assert_int_eq(log_count("; using container instead"), 1);
}
END_TEST

START_TEST(test_no_credentials_single_warning)
{
	static const char *const providers[] = {"environment: ",
	    "web-identity: ", "shared-files: ", "container: ", "imds: "};
	struct got g;
	char *log;

	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_int_eq(g.sync, 0);
	for (size_t i = 0; i < 5; i++)
		ck_assert_msg(strstr(g.err, providers[i]) != NULL,
		    "%s missing from: %s", providers[i], g.err);
	ck_assert_int_eq(log_count("warn aws: no AWS credentials: "), 1);
	log = slurp(logpath);
	ck_assert_ptr_nonnull(strstr(log, g.err));
	free(log);
	/* Asked again, failing again: no second warning... */
	fetch(&g);
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_int_eq(log_count("warn aws: no AWS credentials: "), 1);
	/* ... until a reset (SIGHUP) starts a new episode. */
	aws_credentials_reset(creds);
	fetch(&g);
	ck_assert_int_eq(log_count("warn aws: no AWS credentials: "), 2);
	/* A success ends the episode too. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	fetch(&g);
	ck_assert(g.ok);
}
END_TEST

START_TEST(test_waiters_queued)
{
	struct got g[3];

	use_container();
	fake_ctl("delay=0.3");
	memset(g, 0, sizeof(g));
	for (int i = 0; i < 3; i++)
		start_get(&g[i]);
	/* A reset during a full walk changes nothing: it reads anew. */
	aws_credentials_reset(creds);
	for (int i = 0; i < 3; i++) {
		wait_for(&g[i], 1, 5);
		ck_assert_int_eq(g[i].n, 1);
		ck_assert(g[i].ok);
		ck_assert_int_eq(g[i].sync, 0);
		ck_assert_str_eq(g[i].akid, g[0].akid);
	}
	ck_assert_int_eq(fake_count("container"), 1);
}
END_TEST

START_TEST(test_cancel)
{
	struct got a, b;

	use_container();
	fake_ctl("delay=0.2");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	start_get(&a);
	start_get(&b);
	aws_credentials_cancel(creds, got_cb, &a);
	wait_for(&b, 1, 5);
	run_for(0.1);
	ck_assert_int_eq(a.n, 0);
	ck_assert_int_eq(b.n, 1);
	ck_assert(b.ok);
}
END_TEST

static void
reset_cb(const struct aws_creds *cr, const char *err, void *arg)
{
	got_cb(cr, err, arg);
	aws_credentials_reset(creds);
}

START_TEST(test_reset_in_callback)
{
	struct got a, b;

	/* The first answer resets the cache; the second get still gets an
	 * answer, from a new walk. */
	use_container();
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.in_get = b.in_get = 0;
	aws_credentials_get(creds, reset_cb, &a);
	aws_credentials_get(creds, got_cb, &b);
	wait_for(&b, 1, 5);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(b.n, 1);
	ck_assert(a.ok && b.ok);
	ck_assert_str_ne(a.akid, b.akid);
	ck_assert_int_eq(fake_count("container"), 2);
}
END_TEST

START_TEST(test_reset_rereads)
{
	struct got g;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	fetch(&g);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV2", 1);
	fetch(&g);
	ck_assert_str_eq(g.akid, "AKIDENV1"); /* cached */
	aws_credentials_reset(creds);
	ck_assert_ptr_null(aws_credentials_peek(creds));
	fetch(&g);
	ck_assert_str_eq(g.akid, "AKIDENV2");
	aws_credentials_reset(NULL);
	aws_credentials_free(NULL);
}
END_TEST

/* ---- expiry and refresh
 * ------------------------------------------------------ */

START_TEST(test_refresh_in_background)
{
	struct got g;
	const struct aws_creds *cr;

	use_imds();
	fake_ctl("ttl=4");
	fetch(&g);
	ck_assert(g.ok);
	/* Refreshed at half-life (2 s), with no get. */
	run_for(3.2);
	ck_assert_int_eq(fake_count("imds_creds"), 2);
	ck_assert_ptr_nonnull(cr = aws_credentials_peek(creds));
	ck_assert_str_ne(cr->access_key_id, g.akid);
	ck_assert_int_ge(log_count("credentials: refreshed from imds"), 1);
}
END_TEST

START_TEST(test_refresh_failure_keeps_creds)
{
	struct got g;
	const struct aws_creds *cr;

	use_container();
	fake_ctl("ttl=7");
	fetch(&g);
	ck_assert(g.ok);
	fake_ctl("container_mode=fail");
	run_for(4.3); /* refresh at ~3.5 s fails */
	ck_assert_int_ge(fake_count("container"), 2);
	ck_assert_ptr_nonnull(cr = aws_credentials_peek(creds));
	ck_assert_str_eq(cr->access_key_id, g.akid);
	ck_assert_int_eq(log_count("credentials: refresh failed"), 1);
	fake_ctl("container_mode=ok");
	run_for(2.2); /* the retry succeeds */
	ck_assert_ptr_nonnull(cr = aws_credentials_peek(creds));
	ck_assert_str_ne(cr->access_key_id, g.akid);
	ck_assert_int_eq(log_count("credentials: refresh failed"), 1);
}
END_TEST

START_TEST(test_stale_by_clock)
{
	struct got g;
	char first[128];

	use_imds();
	fetch(&g); /* valid for an hour */
	snprintf(first, sizeof(first), "%s", g.akid);
	clock_offset = 3600 - 90;
	ck_assert_ptr_nonnull(aws_credentials_peek(creds));
	clock_offset = 3600 - 30; /* within a minute of expiry */
	ck_assert_ptr_null(aws_credentials_peek(creds));
	fetch(&g);
	ck_assert(g.ok);
	ck_assert_int_eq(g.sync, 0);
	ck_assert_str_ne(g.akid, first);
	ck_assert_int_eq(fake_count("imds_creds"), 2);
}
END_TEST

START_TEST(test_expired_from_provider)
{
	struct got g;

	use_imds();
	fake_ctl("expired=1");
	fetch(&g);
	ck_assert(!g.ok);
	ck_assert_ptr_nonnull(strstr(g.err, "imds: credentials already "
	                                    "expired"));
}
END_TEST

/* ---- garbage from every peer ------------------------------------------------
 */

#define N_GARBAGE 12

START_TEST(test_garbage)
{
	static const char *const modes[] = {
	    "sts_mode", "container_mode", "imds_mode"};
	char q[64];
	struct got g;

	use_webid("fake-web-identity-token");
	use_container();
	use_imds();
	for (int m = 0; m < 3; m++) {
		snprintf(q, sizeof(q), "%s=garbage&garbage=%d", modes[m], _i);
		fake_ctl(q);
	}
	fetch(&g);
	ck_assert_msg(!g.ok, "garbage %d accepted: %s", _i, g.akid);
	ck_assert_ptr_nonnull(strstr(g.err, "web-identity: "));
	ck_assert_ptr_nonnull(strstr(g.err, "container: "));
	ck_assert_ptr_nonnull(strstr(g.err, "imds: "));
}
END_TEST

/* ---- region
 * ------------------------------------------------------------------ */

START_TEST(test_region_local)
{
	char r[AWS_REGION_MAX], *cause;
	const char *src;

	ck_assert_int_eq(aws_region_local(NULL, r, &src, &cause), 1);
	setenv("AWS_CONFIG_FILE",
	    home_file("cfg", "[default]\nregion = eu-central-1\n"
	                     "[profile p]\nregion = ap-south-1\n"),
	    1);
	ck_assert_int_eq(aws_region_local(NULL, r, &src, &cause), 0);
	ck_assert_str_eq(r, "eu-central-1");
	ck_assert_str_eq(src, "profile");
	setenv("AWS_PROFILE", "p", 1);
	ck_assert_int_eq(aws_region_local("", r, &src, &cause), 0);
	ck_assert_str_eq(r, "ap-south-1");
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	ck_assert_int_eq(aws_region_local(NULL, r, &src, &cause), 0);
	ck_assert_str_eq(src, "AWS_DEFAULT_REGION");
	setenv("AWS_REGION", "us-west-2", 1);
	ck_assert_int_eq(aws_region_local(NULL, r, &src, &cause), 0);
	ck_assert_str_eq(r, "us-west-2");
	ck_assert_str_eq(src, "AWS_REGION");
	ck_assert_int_eq(aws_region_local("sa-east-1", r, &src, &cause), 0);
	ck_assert_str_eq(r, "sa-east-1");
	ck_assert_str_eq(src, "configuration");
	ck_assert_int_eq(aws_region_local("Not A Region", r, &src, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "configuration: "));
	free(cause);
	ck_assert(!aws_region_valid("abcdefghijklmnopqrstuvwxyz-123456"));
}
END_TEST

struct region_got {
	int n;
	int in_call;
	int sync;
	char region[AWS_REGION_MAX];
	char source[32];
	char err[512];
};

static void
region_cb(const char *region, const char *source, const char *err, void *arg)
{
	struct region_got *g = arg;

	g->n++;
	g->sync = g->in_call;
	snprintf(g->region, sizeof(g->region), "%s", region ? region : "");
	snprintf(g->source, sizeof(g->source), "%s", source ? source : "");
	snprintf(g->err, sizeof(g->err), "%s", err ? err : "");
}

static void
region_run(const char *configured, struct region_got *g)
{
	memset(g, 0, sizeof(*g));
	g->in_call = 1;
	ck_assert_ptr_nonnull(
	    aws_region_resolve(base, http, configured, region_cb, g));
	g->in_call = 0;
	for (int i = 0; i < 100 && g->n == 0; i++)
		run_for(0.05);
	ck_assert_int_eq(g->n, 1);
	ck_assert_int_eq(g->sync, 0);
}

START_TEST(test_region_resolve)
{
	struct aws_region_query *q;
	struct region_got g;

	region_run("eu-west-1", &g);
	ck_assert_str_eq(g.region, "eu-west-1");
	ck_assert_str_eq(g.source, "configuration");

	region_run(NULL, &g); /* IMDS disabled, nothing else */
	ck_assert_str_eq(g.region, "");
	ck_assert_ptr_nonnull(strstr(g.err, "IMDS disabled"));

	use_imds();
	region_run(NULL, &g);
	ck_assert_str_eq(g.region, "eu-west-3");
	ck_assert_str_eq(g.source, "imds");

	fake_ctl("region=bad%20region");
	region_run(NULL, &g);
	ck_assert_ptr_nonnull(strstr(g.err, "not a region name"));

	region_run("BAD", &g);
	ck_assert_ptr_nonnull(strstr(g.err, "configuration: 'BAD'"));

	/* Cancelled in flight: never called. */
	memset(&g, 0, sizeof(g));
	q = aws_region_resolve(base, http, NULL, region_cb, &g);
	ck_assert_ptr_nonnull(q);
	aws_region_cancel(q);
	run_for(0.3);
	ck_assert_int_eq(g.n, 0);
}
END_TEST

/* ---- main
 * ---------------------------------------------------------------------- */

static Suite *
credentials_suite(void)
{
	Suite *s = suite_create("credentials");
	TCase *tc;

	tc = tcase_create("providers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_env_keys);
	tcase_add_test(tc, test_env_legacy_names);
	tcase_add_test(tc, test_env_partial_falls_through);
	tcase_add_test(tc, test_files_named_profile);
	tcase_add_test(tc, test_files_default_in_home);
	tcase_add_test(tc, test_files_config_profile);
	tcase_add_test(tc, test_files_credentials_win);
	tcase_add_test(tc, test_files_unsupported_and_missing);
	tcase_add_test(tc, test_ini_parser);
	tcase_add_test(tc, test_webid_ok);
	tcase_add_test(tc, test_webid_generic_endpoint);
	tcase_add_test(tc, test_webid_rejected);
	tcase_add_test(tc, test_webid_half_configured);
	tcase_add_test(tc, test_container_full_uri);
	tcase_add_test(tc, test_container_token_file_wins);
	tcase_add_test(tc, test_container_bad_token);
	tcase_add_test(tc, test_container_hosts);
	tcase_add_test(tc, test_container_relative_uri);
	tcase_add_test(tc, test_imds_v2);
	tcase_add_test(tc, test_imds_v1_fallback);
	tcase_add_test(tc, test_imds_no_role_disabled_unreachable);
	tcase_add_test(tc, test_imds_token_reuse_and_rotation);
	suite_add_tcase(s, tc);

	tc = tcase_create("profiles");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_process_ok);
	tcase_add_test(tc, test_process_in_credentials_file);
	tcase_add_test(tc, test_process_expiration_refresh);
	tcase_add_loop_test(tc, test_process_failures, 0,
	    (int)(sizeof(process_failures) / sizeof(*process_failures)));
	tcase_add_test(tc, test_process_timeout);
	tcase_add_test(tc, test_process_helper_keeps_stderr);
	tcase_add_test(tc, test_process_does_not_block);
	tcase_add_test(tc, test_process_reset_kills);
	tcase_add_test(tc, test_role_static_source);
	tcase_add_test(tc, test_role_signing_region);
	tcase_add_test(tc, test_role_bad_signature);
	tcase_add_test(tc, test_role_chain_with_process);
	tcase_add_loop_test(tc, test_role_config_errors, 0,
	    (int)(sizeof(role_errors) / sizeof(*role_errors)));
	tcase_add_test(tc, test_role_self_source_and_denied);
	tcase_add_test(tc, test_role_refresh);
	tcase_add_loop_test(tc, test_role_garbage, 0, N_GARBAGE);
	suite_add_tcase(s, tc);

	tc = tcase_create("chain");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_chain_order);
	tcase_add_test(tc, test_chain_fall_through);
	tcase_add_test(tc, test_no_credentials_single_warning);
	tcase_add_test(tc, test_waiters_queued);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_reset_rereads);
	tcase_add_test(tc, test_reset_in_callback);
	tcase_add_loop_test(tc, test_garbage, 0, N_GARBAGE);
	suite_add_tcase(s, tc);

	tc = tcase_create("expiry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_refresh_in_background);
	tcase_add_test(tc, test_refresh_failure_keeps_creds);
	tcase_add_test(tc, test_stale_by_clock);
	tcase_add_test(tc, test_expired_from_provider);
	suite_add_tcase(s, tc);

	tc = tcase_create("region");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_region_local);
	tcase_add_test(tc, test_region_resolve);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	fake_start();
	sr = srunner_create(credentials_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fake_stop();
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
