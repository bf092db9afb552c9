/*
 * fuzz_creds.c — the replies of the remote credentials providers, whatever
 * their bytes: STS AssumeRoleWithWebIdentity (XML), the container agent
 * (JSON) and EC2 IMDSv2 (role name, then JSON), through the real chain of
 * aws/credentials*.c over HTTP, from a fake endpoint on the same loop that
 * all three are pointed at by their usual environment variables.
 *
 * The shared-files provider sits between web identity and the container:
 * the profile in use assumes a role (STS AssumeRole, told from the web
 * identity call by its Action), with the static keys of its source
 * profile, or, when the sixth piece is not empty, with what a
 * credential_process printed (`cat` of that piece, written to a file).
 *
 * Input: up to six pieces separated by 0x1e bytes — the STS reply to
 * AssumeRoleWithWebIdentity, the container reply, the IMDS role list, the
 * IMDS credentials and the STS reply to AssumeRole, each a status byte
 * then the body; then the credential_process output, as is.  The chain
 * must call back exactly once, with usable credentials or with a reason;
 * nothing it logs may hold the secret it was given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "log/log.h"
#include "tests/fuzz/lib/fuzz.h"

enum { P_STS, P_CONTAINER, P_ROLE, P_IMDS, P_ASSUME, P_PROCESS, P_N };

static struct {
	struct event_base *base;
	struct aws_http *http;
	char dir[64];
	struct {
		const uint8_t *body;
		size_t len;
		int status;
	} piece[P_N];
	int calls;
} F;

static const int statuses[] = {200, 200, 200, 404, 500, 400, 403, 200};

static void
endpoint_cb(const struct fake_request *r, struct fake_reply *out, void *arg)
{
	int p;

	(void)arg;
	if (strcmp(r->method, "PUT") == 0 &&
	    strcmp(r->uri, "/latest/api/token") == 0) {
		out->status = 200;
		out->body = "fuzz-imds-session-token";
		out->len = strlen(out->body);
		return;
	}
	if (strcmp(r->method, "POST") == 0)
		p = memmem(r->body, r->len, "Action=AssumeRole&", 18) != NULL
		        ? P_ASSUME
		        : P_STS;
	else if (strcmp(r->uri, "/creds") == 0)
		p = P_CONTAINER;
	else if (strcmp(r->uri,
	             "/latest/meta-data/iam/security-credentials/") == 0)
		p = P_ROLE;
	else
		p = P_IMDS;
	out->status = F.piece[p].status;
	out->body = F.piece[p].body;
	out->len = F.piece[p].len;
}

static void
creds_cb(const struct aws_creds *c, const char *err, void *arg)
{
	(void)arg;
	F.calls++;
	if (c == NULL) {
		if (err == NULL)
			abort();
		(void)strlen(err);
		return;
	}
	if (c->access_key_id == NULL || c->access_key_id[0] == '\0' ||
	    c->secret_access_key == NULL || c->secret_access_key[0] == '\0' ||
	    c->provider == NULL)
		abort();
	(void)strlen(c->provider);
	if (c->session_token != NULL)
		(void)strlen(c->session_token);
}

/* The files and their folder go with the process. */
static void
cleanup(void)
{
	static const char *const names[] = {
	    "token", "config", "credentials", "process.out"};
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		snprintf(path, sizeof(path), "%s/%s", F.dir, names[i]);
		unlink(path);
	}
	rmdir(F.dir);
}

static void
write_file(const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", F.dir, name);
	if ((f = fopen(path, "w")) == NULL || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char url[128], path[128], cfg[512], *cause = NULL;
	static const char creds[] = "[fuzzsrc]\n"
	                            "aws_access_key_id = AKIDFUZZSOURCE\n"
	                            "aws_secret_access_key = fuzz-secret\n";
	int port;

	(void)argc;
	(void)argv;
	fuzz_log_init();
	if ((F.base = event_base_new()) == NULL ||
	    (F.http = aws_http_new(F.base, &cause)) == NULL)
		abort();
	port = fake_endpoint_start(F.base, endpoint_cb, NULL);
	snprintf(F.dir, sizeof(F.dir), "/tmp/kdfuzzcrXXXXXX");
	if (mkdtemp(F.dir) == NULL)
		abort();
	write_file("token", "fuzz-web-identity-token\n", 24);
	write_file("credentials", creds, sizeof(creds) - 1);
	snprintf(cfg, sizeof(cfg),
	    "[profile fuzzrole]\nrole_arn = arn:aws:iam::123456789012:role/f\n"
	    "source_profile = fuzzsrc\nexternal_id = x\n"
	    "[profile fuzzproc]\nrole_arn = arn:aws:iam::123456789012:role/f\n"
	    "source_profile = fuzzexec\n"
	    "[profile fuzzexec]\ncredential_process = cat %s/process.out\n",
	    F.dir);
	write_file("config", cfg, strlen(cfg));
	atexit(cleanup);
	/* Nothing local: every provider before IMDS must ask the network. */
	fuzz_setenv("AWS_ACCESS_KEY_ID", NULL);
	fuzz_setenv("AWS_SECRET_ACCESS_KEY", NULL);
	fuzz_setenv("AWS_SESSION_TOKEN", NULL);
	fuzz_setenv("AWS_PROFILE", "fuzzrole");
	fuzz_setenv("AWS_ENDPOINT_URL", NULL);
	fuzz_setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL);
	fuzz_setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
	fuzz_setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "fuzz-container-auth");
	fuzz_setenv("AWS_EC2_METADATA_DISABLED", NULL);
	fuzz_setenv("AWS_EC2_METADATA_V1_DISABLED", NULL);
	fuzz_setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", NULL);
	fuzz_setenv("AWS_REGION", "us-east-1");
	fuzz_setenv("HOME", F.dir);
	snprintf(path, sizeof(path), "%s/credentials", F.dir);
	fuzz_setenv("AWS_SHARED_CREDENTIALS_FILE", path);
	snprintf(path, sizeof(path), "%s/config", F.dir);
	fuzz_setenv("AWS_CONFIG_FILE", path);
	snprintf(path, sizeof(path), "%s/token", F.dir);
	fuzz_setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path);
	fuzz_setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/fuzz");
	fuzz_setenv("AWS_ROLE_SESSION_NAME", "fuzz");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	fuzz_setenv("AWS_ENDPOINT_URL_STS", url);
	fuzz_setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", port);
	fuzz_setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_credentials *c;
	size_t off = 0, len;

	for (int p = 0; p < P_N; p++) {
		const uint8_t *s = fuzz_next_piece(data, size, &off, &len);

		if (p == P_PROCESS) {
			/* A process per input is slow: only when asked. */
			if (len > 0)
				write_file("process.out", s, len);
			fuzz_setenv(
			    "AWS_PROFILE", len > 0 ? "fuzzproc" : "fuzzrole");
			continue;
		}
		F.piece[p].status = len > 0 ? statuses[s[0] % 8] : 404;
		F.piece[p].body = len > 0 ? s + 1 : s;
		F.piece[p].len = len > 0 ? len - 1 : 0;
	}
	F.calls = 0;
	if ((c = aws_credentials_new(F.base, F.http)) == NULL)
		abort();
	aws_credentials_get(c, creds_cb, NULL);
	fuzz_run_until(F.base, &F.calls, 30);
	aws_credentials_free(c);
	event_base_loop(F.base, EVLOOP_NONBLOCK);
	if (F.calls != 1)
		abort();
	return 0;
}
