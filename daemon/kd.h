/*
 * kd.h — the daemon context: the one mutable state of the process.
 *
 * main.c builds it at start-up (where errors are fatal), the event loop
 * runs it, and kd_shutdown() takes it down as SPEC section 5 says.
 * Files in daemon/ only; modules never see struct kd, they get the pieces
 * they need (event base, metrics, conf) passed in.
 */
#ifndef KD_KD_H
#define KD_KD_H

#include <stdint.h>
#include <time.h>

#define KD_VERSION "0.1.0"

struct aws_credentials;
struct aws_http;
struct aws_region_query;
struct conf;
struct consumers;
struct event;
struct event_base;
struct ipc_server;
struct metrics;
struct metrics_http;
struct producers;

/*
 * STARTING: configuration loaded, the region being resolved, no socket
 * yet; RUNNING: serving; STOPPING: SIGTERM seen, draining; STOPPED: the
 * loop may end.
 */
enum kd_state {
	KD_STARTING,
	KD_RUNNING,
	KD_STOPPING,
	KD_STOPPED,
};

struct kd {
	struct event_base *base;
	struct conf *conf;
	enum kd_state state;
	time_t started;
	int exit_code;

	struct metrics *metrics;
	struct ipc_server *ipc;
	struct metrics_http *http;

	struct aws_http *aws;
	struct aws_credentials *creds;
	struct aws_region_query *region_query;
	char *region; /* resolved; NULL when none was found */
	int creds_ok; /* the chain yielded credentials once */

	struct producers *producers;
	struct consumers *consumers;
	unsigned stopping_parts; /* producers, consumers still draining */

	struct event *ev_sigterm, *ev_sigint, *ev_sighup;
	struct event *ev_watchdog, *ev_stop_timer;
	uint64_t watchdog_usec;
};

void kd_set_state(struct kd *, enum kd_state);
const char *kd_strstate(enum kd_state);
void kd_shutdown(struct kd *, const char *reason);

/* ops.c: the daemon's own socket ops (hello, ping, stats). */
int kd_ops_register(struct kd *);

/* notify.c: systemd's notify protocol and socket activation, without
 * libsystemd.  Each is a no-op when systemd did not ask for it. */
void kd_notify(const char *state);
uint64_t kd_notify_watchdog_usec(void);
int kd_listen_fd(void); /* LISTEN_FDS socket, or -1 */

#endif
