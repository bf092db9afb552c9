/*
 * main.c — kinesisd: options, start-up, signals, the event loop, shutdown.
 *
 * Start-up errors are fatal with the exit codes of SPEC section 1 (64 bad
 * usage, 78 configuration, 1 anything else); once the loop runs, nothing
 * exits the process but a shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <event2/event.h>

#include "aws/aws.h"
#include "conf/conf.h"
#include "consumer/consumer.h"
#include "daemon/kd.h"
#include "ipc/ipc.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "producer/producer.h"

#define EXIT_USAGE 64

static const char *const kd_state_names[] = {
    "starting",
    "running",
    "stopping",
    "stopped",
};

const char *
kd_strstate(enum kd_state s)
{
	return kd_state_names[s];
}

/* 1 only while serving: a scrape during start-up or draining sees 0, which
 * "up" (the scrape worked) alone cannot tell. */
static void
kd_metric_up(struct kd *kd)
{
	struct metric *f = metrics_gauge(kd->metrics, "kinesisd_up",
	    "1 while kinesisd serves, 0 while starting or shutting down.",
	    NULL);

	metric_set(metric_series(f), kd->state == KD_RUNNING ? 1 : 0);
}

void
kd_set_state(struct kd *kd, enum kd_state next)
{
	if (kd->state == next)
		return;
	log_info(
	    "daemon", "%s -> %s", kd_strstate(kd->state), kd_strstate(next));
	kd->state = next;
	kd_metric_up(kd);
	switch (next) {
	case KD_RUNNING:
		kd_notify("READY=1\nSTATUS=serving");
		break;
	case KD_STOPPING:
		kd_notify("STOPPING=1\nSTATUS=shutting down");
		break;
	case KD_STOPPED:
		event_base_loopexit(kd->base, NULL);
		break;
	case KD_STARTING:
		break;
	}
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kinesisd [-c FILE] [--check-config | --print-defaults]\n"
	    "\n"
	    "  -c, --config FILE   configuration (default $KINESISD_CONFIG, "
	    "else\n"
	    "                      /etc/kinesisd/kinesisd.yaml)\n"
	    "      --check-config  validate, print the merged configuration, "
	    "exit\n"
	    "      --print-defaults print the built-in defaults as YAML, exit\n"
	    "      --version       print the version, exit\n"
	    "  -h, --help          this text\n");
}

/* ---- shutdown ------------------------------------------------------------ */

static void
stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct kd *kd = arg;

	(void)fd;
	(void)what;
	log_warnx("daemon", "shutdown took longer than allowed; exiting now");
	kd_set_state(kd, KD_STOPPED);
}

/* Lets the shutdown event reach clients before the loop ends. */
static void
stop_finish(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kd_set_state(arg, KD_STOPPED);
}

/* Producers and consumers have drained: say goodbye and end. */
static void
stop_part_done(void *arg)
{
	struct timeval soon = {0, 100000};
	struct kd *kd = arg;
	cJSON *m;

	if (kd->stopping_parts == 0 || --kd->stopping_parts > 0)
		return;
	if ((m = ipc_msg_new("shutdown", NULL)) != NULL) {
		cJSON_AddStringToObject(m, "reason", "shutdown complete");
		ipc_server_broadcast(kd->ipc, m);
	}
	event_base_once(kd->base, -1, EV_TIMEOUT, stop_finish, kd, &soon);
}

void
kd_shutdown(struct kd *kd, const char *reason)
{
	struct timeval limit = {0, 0};
	cJSON *m;

	if (kd->state == KD_STOPPING || kd->state == KD_STOPPED)
		return;
	log_info("daemon", "shutting down: %s", reason);
	if (kd->state == KD_STARTING) {
		kd_set_state(kd, KD_STOPPED);
		return;
	}
	kd_set_state(kd, KD_STOPPING);
	ipc_server_stop_listening(kd->ipc);

	/* The longest consumer shutdownTimeoutSeconds bounds it all. */
	limit.tv_sec = 25;
	for (size_t i = 0; i < kd->conf->n_consumers; i++) {
		uint64_t t =
		    kd->conf->consumers[i].worker.shutdown_timeout_seconds;
		if ((time_t)t > limit.tv_sec)
			limit.tv_sec = (time_t)t;
	}
	kd->ev_stop_timer = evtimer_new(kd->base, stop_timeout, kd);
	if (kd->ev_stop_timer != NULL)
		evtimer_add(kd->ev_stop_timer, &limit);

	/* Tell clients first: no more puts (SPEC section 5). */
	if ((m = ipc_msg_new("shutdown", NULL)) != NULL) {
		cJSON_AddStringToObject(m, "reason", reason);
		ipc_server_broadcast(kd->ipc, m);
	}
	kd->stopping_parts = 1; /* held until both parts are asked */
	if (kd->producers != NULL) {
		kd->stopping_parts++;
		producers_shutdown(kd->producers,
		    (uint64_t)(limit.tv_sec - 1) * 1000, stop_part_done, kd);
	}
	if (kd->consumers != NULL) {
		kd->stopping_parts++;
		consumers_shutdown(kd->consumers, stop_part_done, kd);
	}
	stop_part_done(kd);
}

/* ---- signals and the watchdog ----------------------------------------------
 */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kd *kd = arg;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (kd->state == KD_STOPPING) {
			log_warnx("daemon", "second %s: exiting at once",
			    strsignal((int)sig));
			kd->exit_code = 1;
			kd_set_state(kd, KD_STOPPED);
			return;
		}
		kd_shutdown(kd, sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	case SIGHUP:
		/* Files may have been rotated or rewritten under us: the log
		 * file, ~/.aws/credentials, a web identity token file. */
		log_reopen();
		aws_credentials_reset(kd->creds);
		log_info("daemon", "SIGHUP: logs reopened, credentials will be "
		                   "read again");
		break;
	}
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	/* The timer firing is the proof that the loop turns. */
	kd_notify("WATCHDOG=1");
}

static int
kd_ready(void *arg, const char **why)
{
	struct kd *kd = arg;

	if (kd->state != KD_RUNNING) {
		*why = kd_strstate(kd->state);
		return 0;
	}
	if (!kd->creds_ok && (kd->conf->n_producers || kd->conf->n_consumers)) {
		*why = "no AWS credentials yet";
		return 0;
	}
	return producers_ready(kd->producers, why);
}

static void
on_credentials(const struct aws_creds *creds, const char *err, void *arg)
{
	struct kd *kd = arg;

	if (creds == NULL) {
		/* The chain logs which providers it tried; calls retry. */
		log_warnx("aws", "no AWS credentials yet: %s", err);
		return;
	}
	kd->creds_ok = 1;
	log_info("aws", "credentials from %s", creds->provider);
}

/* The region is known (or known to be missing): open the socket. */
static void
kd_serve(struct kd *kd)
{
	struct ipc_opts io = {0};
	char *cause = NULL;

	io.path = kd->conf->socket;
	io.mode = kd->conf->socket_mode;
	io.inherited_fd = kd_listen_fd();
	io.max_line = kd->conf->max_line_bytes;
	io.uids = kd->conf->allowed_uids;
	io.n_uids = kd->conf->n_allowed_uids;
	io.gids = kd->conf->allowed_gids;
	io.n_gids = kd->conf->n_allowed_gids;
	io.max_conns = (size_t)kd->conf->max_connections;
	io.line_timeout = (unsigned)kd->conf->partial_line_timeout_seconds;
	io.max_unanswered = (size_t)kd->conf->max_unanswered_puts;
	if ((kd->ipc = ipc_server_new(kd->base, &io, kd->metrics, &cause)) ==
	    NULL)
		log_fatalx(
		    1, "ipc", "%s", cause != NULL ? cause : "out of memory");
	if (kd_ops_register(kd) == -1)
		log_fatalx(1, "daemon", "cannot register socket ops");
	log_info("ipc", "listening on %s%s", kd->conf->socket,
	    io.inherited_fd != -1 ? " (socket from systemd)" : "");

	if ((kd->producers = producers_new(kd->base, kd->conf, kd->aws,
	         kd->creds, kd->region, kd->ipc, kd->metrics, &cause)) == NULL)
		log_fatalx(1, "producer", "%s", cause != NULL ? cause : "?");
	if ((kd->consumers = consumers_new(kd->base, kd->conf, kd->aws,
	         kd->creds, kd->region, kd->ipc, kd->metrics, &cause)) == NULL)
		log_fatalx(1, "consumer", "%s", cause != NULL ? cause : "?");
	if (kd->conf->n_producers > 0 || kd->conf->n_consumers > 0) {
		aws_credentials_set_region(kd->creds, kd->region);
		aws_credentials_get(kd->creds, on_credentials, kd);
	}
	kd_set_state(kd, KD_RUNNING);
}

static void
on_region(const char *region, const char *source, const char *err, void *arg)
{
	struct kd *kd = arg;

	kd->region_query = NULL;
	if (kd->state != KD_STARTING)
		return;
	if (region == NULL) {
		if (kd->conf->n_producers > 0 || kd->conf->n_consumers > 0)
			log_fatalx(1, "aws",
			    "no AWS region: %s; set 'region' in "
			    "the configuration or AWS_REGION",
			    err);
	} else {
		if ((kd->region = strdup(region)) == NULL)
			log_fatalx(1, "aws", "out of memory");
		log_info("aws", "region %s (from %s)", region, source);
	}
	kd_serve(kd);
}

/* ---- start-up ------------------------------------------------------------ */

static void
kd_start(struct kd *kd)
{
	struct metric *f;
	char *cause = NULL;

	signal(SIGPIPE, SIG_IGN);
	if ((kd->base = event_base_new()) == NULL)
		log_fatalx(1, "daemon", "cannot create the event loop");
	if ((kd->metrics = metrics_new()) == NULL)
		log_fatalx(1, "daemon", "out of memory");
	/* The daemon's own families, like process_start_time_seconds and the
	 * usual *_build_info: dashboards show restarts and versions. */
	f = metrics_gauge(kd->metrics, "kinesisd_build_info",
	    "Always 1; the version label names the running build.", "version");
	metric_set(metric_series(f, KD_VERSION), 1);
	f = metrics_gauge(kd->metrics, "kinesisd_start_time_seconds",
	    "Start time of kinesisd, seconds since the Unix epoch.", NULL);
	metric_set(metric_series(f), (double)kd->started);
	kd_metric_up(kd);

	kd->ev_sigterm = evsignal_new(kd->base, SIGTERM, on_signal, kd);
	kd->ev_sigint = evsignal_new(kd->base, SIGINT, on_signal, kd);
	kd->ev_sighup = evsignal_new(kd->base, SIGHUP, on_signal, kd);
	if (kd->ev_sigterm == NULL || kd->ev_sigint == NULL ||
	    kd->ev_sighup == NULL || evsignal_add(kd->ev_sigterm, NULL) ||
	    evsignal_add(kd->ev_sigint, NULL) ||
	    evsignal_add(kd->ev_sighup, NULL))
		log_fatalx(1, "daemon", "cannot install signal handlers");

	if ((kd->aws = aws_http_new(kd->base, &cause)) == NULL)
		log_fatalx(
		    1, "aws", "%s", cause != NULL ? cause : "out of memory");
	if ((kd->creds = aws_credentials_new(kd->base, kd->aws)) == NULL)
		log_fatalx(1, "aws", "out of memory");

	if (kd->conf->http_listen != NULL && kd->conf->http_listen[0] != '\0') {
		kd->http = metrics_http_start(kd->metrics, kd->base,
		    kd->conf->http_listen, kd_ready, kd, &cause);
		if (kd->http == NULL)
			log_fatalx(1, "http", "%s",
			    cause != NULL ? cause : "out of memory");
		log_info("http", "metrics and health on http://%s/",
		    kd->conf->http_listen);
	}

	if ((kd->watchdog_usec = kd_notify_watchdog_usec()) > 0) {
		struct timeval half = {
		    .tv_sec = (time_t)(kd->watchdog_usec / 2 / 1000000),
		    .tv_usec = (suseconds_t)(kd->watchdog_usec / 2 % 1000000),
		};
		kd->ev_watchdog =
		    event_new(kd->base, -1, EV_PERSIST, on_watchdog, kd);
		if (kd->ev_watchdog == NULL ||
		    event_add(kd->ev_watchdog, &half) == -1)
			log_fatalx(1, "daemon", "cannot arm the watchdog");
	}
	/* The socket opens once the region is known, with every op ready. */
	kd->region_query = aws_region_resolve(
	    kd->base, kd->aws, kd->conf->region, on_region, kd);
	if (kd->region_query == NULL)
		log_fatalx(1, "aws", "out of memory");
}

static void
kd_free(struct kd *kd)
{
	metrics_http_stop(kd->http);
	aws_region_cancel(kd->region_query);
	/* Modules first (they hold connections), then what they borrow. */
	producers_free(kd->producers);
	consumers_free(kd->consumers);
	ipc_server_free(kd->ipc);
	aws_credentials_free(kd->creds);
	aws_http_free(kd->aws);
	free(kd->region);
	if (kd->ev_watchdog != NULL)
		event_free(kd->ev_watchdog);
	if (kd->ev_stop_timer != NULL)
		event_free(kd->ev_stop_timer);
	if (kd->ev_sigterm != NULL)
		event_free(kd->ev_sigterm);
	if (kd->ev_sigint != NULL)
		event_free(kd->ev_sigint);
	if (kd->ev_sighup != NULL)
		event_free(kd->ev_sighup);
	metrics_free(kd->metrics);
	if (kd->base != NULL)
		event_base_free(kd->base);
	conf_free(kd->conf);
}

int
main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_DEFAULTS, OPT_REFERENCE, OPT_VERSION };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"print-defaults", no_argument, NULL, OPT_DEFAULTS},
	    {"print-reference", no_argument, NULL, OPT_REFERENCE},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kd kd = {.state = KD_STARTING};
	const char *path = NULL;
	int ch, check = 0;
	char *cause = NULL;

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT);
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_DEFAULTS:
			conf_print_defaults(stdout);
			return 0;
		case OPT_REFERENCE:
			conf_print_reference(stdout);
			return 0;
		case OPT_VERSION:
			printf("kinesisd %s\n", KD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "kinesisd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	if ((kd.conf = conf_load(path, &cause)) == NULL) {
		fprintf(stderr, "kinesisd: %s\n",
		    cause != NULL ? cause : "out of memory");
		free(cause);
		return CONF_EXIT;
	}
	if (check) {
		conf_print(kd.conf, stdout);
		conf_free(kd.conf);
		return 0;
	}
	log_init((enum log_level)kd.conf->log_level,
	    (enum log_format)kd.conf->log_format);
	kd.started = time(NULL);
	log_info("daemon", "kinesisd %s starting with %s", KD_VERSION,
	    kd.conf->path != NULL ? kd.conf->path : "built-in defaults");

	kd_start(&kd);
	event_base_dispatch(kd.base);
	log_info("daemon", "stopped");
	kd_free(&kd);
	return kd.exit_code;
}
