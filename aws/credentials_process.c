/*
 * credentials_process.c — runs a profile's credential_process command
 * without blocking the event loop (credentials_int.h).
 *
 * The command goes to "/bin/sh -c", as the AWS CLI hands it to a shell on
 * POSIX systems, and is started with posix_spawn():
 *   - in a process group of its own, so that a timeout kills whatever the
 *     shell started too (a "sleep" in a script would otherwise keep the
 *     pipe open and outlive the kill);
 *   - with standard input from /dev/null (a daemon has no one to answer a
 *     prompt), no other descriptor of ours (closefrom), and the signals
 *     we ignore (SIGPIPE) back to their defaults;
 *   - with standard output and standard error on pipes read from libevent
 *     events.  Standard output is bounded (a credentials reply is a few
 *     KiB; more is a runaway tool, which is killed); the first bytes of
 *     standard error are kept for the log and the rest is drained, so the
 *     tool never blocks on a full pipe.
 * Once standard output is closed the child is reaped with
 * waitpid(WNOHANG), polled from a timer: nothing here handles SIGCHLD,
 * which belongs to the daemon.  Standard error is read until then and
 * drained once more at the end, but not waited for: a helper the tool
 * leaves behind may keep it open for good.  A run that has not ended by
 * its deadline is killed.
 *
 * Standard output holds secrets: it is wiped before it is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "aws/aws.h"
#include "aws/credentials_int.h"
#include "log/log.h"

#define PROC_MAX_OUT     (64 * 1024) /* standard output, at most */
#define PROC_MAX_ERR     (8 * 1024)  /* standard error kept, at most */
#define PROC_REAP_MS_MAX 100         /* reap polling interval, at most */
#define PROC_KILL_WAIT   100         /* ms waited for a killed child */

extern char **environ;

struct aws_creds_proc {
	struct event_base *base;
	pid_t pid; /* -1 once reaped */
	int out_fd;
	int err_fd;
	struct event *out_ev;
	struct event *err_ev;
	struct event *timer_ev;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	unsigned timeout_ms;
	char why[64];
	unsigned reap_ms; /* next reap poll interval */
	int status;
	char *out; /* PROC_MAX_OUT + 2 bytes: one more shows an overflow */
	size_t out_len;
	char err[PROC_MAX_ERR + 1];
	size_t err_len;
	aws_creds_proc_cb cb;
	void *arg;
};

static long
proc_ms_left(const struct aws_creds_proc *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(p->deadline.tv_sec - now.tv_sec) * 1000 +
	       (p->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

static const char *
proc_timed_out(struct aws_creds_proc *p)
{
	snprintf(p->why, sizeof(p->why),
	    "did not finish within %.1f s and was killed",
	    p->timeout_ms / 1000.0);
	return p->why;
}

static void
proc_timer(struct aws_creds_proc *p, long ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(p->timer_ev, &tv);
}

static void
proc_close_fd(int *fd, struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Kills the whole process group and reaps the shell.  A killed process
 * is normally gone within microseconds: the wait is bounded (a child stuck
 * in the kernel stays a zombie rather than stall the loop).
 */
static void
proc_kill(struct aws_creds_proc *p)
{
	struct timespec ms = {0, 1000000};

	if (p->pid <= 0)
		return;
	if (kill(-p->pid, SIGKILL) == -1)
		kill(p->pid, SIGKILL);
	for (int i = 0; i < PROC_KILL_WAIT; i++) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);
		if (r == p->pid || (r == -1 && errno != EINTR)) {
			p->pid = -1;
			return;
		}
		nanosleep(&ms, NULL);
	}
	log_warnx("aws",
	    "credentials: credential_process (pid %ld) killed but not yet "
	    "gone",
	    (long)p->pid);
	p->pid = -1;
}

static int proc_err_read(struct aws_creds_proc *);

/* The last thing a run does: p may be freed by the callback. */
static void
proc_finish(struct aws_creds_proc *p, const char *error)
{
	struct aws_creds_proc_result r;

	evtimer_del(p->timer_ev);
	proc_close_fd(&p->out_fd, &p->out_ev);
	/* What it wrote on standard error before it exited is in the pipe. */
	if (p->err_fd != -1)
		proc_err_read(p);
	proc_close_fd(&p->err_fd, &p->err_ev);
	if (error != NULL)
		proc_kill(p);
	p->out[p->out_len] = '\0';
	p->err[p->err_len] = '\0';
	memset(&r, 0, sizeof(r));
	r.error = error;
	r.status = error != NULL ? -1 : p->status;
	r.out = p->out;
	r.out_len = p->out_len;
	r.err = p->err;
	r.err_len = p->err_len;
	p->cb(&r, p->arg);
}

/* Standard output closed: reap, or poll for the exit from the timer. */
static void
proc_try_reap(struct aws_creds_proc *p)
{
	pid_t r;

	/* Standard error alone may stay open: a helper the tool left
	 * behind can hold it.  Its exit status is what counts. */
	if (p->out_fd != -1)
		return;
	do
		r = waitpid(p->pid, &p->status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == p->pid) {
		p->pid = -1;
		proc_finish(p, NULL);
		return;
	}
	if (r == -1) {
		/* ECHILD: someone else reaped it (SIGCHLD ignored?). */
		p->pid = -1;
		proc_finish(p, "its exit status was lost (SIGCHLD ignored?)");
		return;
	}
	/* Closed its output but still running: poll, backing off. */
	if (proc_ms_left(p) <= 0) {
		proc_finish(p, proc_timed_out(p));
		return;
	}
	proc_timer(p,
	    p->reap_ms < proc_ms_left(p) ? (long)p->reap_ms : proc_ms_left(p));
	p->reap_ms = p->reap_ms * 2 > PROC_REAP_MS_MAX ? PROC_REAP_MS_MAX
	                                               : p->reap_ms * 2;
}

static void
proc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_creds_proc *p = arg;

	(void)fd;
	(void)what;
	if (p->out_fd == -1 && proc_ms_left(p) > 0) {
		proc_try_reap(p);
		return;
	}
	/* The deadline: the reap just below may still find it exited. */
	if (p->out_fd == -1 && waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
		p->pid = -1;
		proc_finish(p, NULL);
		return;
	}
	proc_finish(p, proc_timed_out(p));
}

static void
proc_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_creds_proc *p = arg;
	ssize_t n;

	(void)what;
	for (;;) {
		n = read(
		    fd, p->out + p->out_len, PROC_MAX_OUT + 1 - p->out_len);
		if (n > 0) {
			p->out_len += (size_t)n;
			if (p->out_len > PROC_MAX_OUT) {
				proc_finish(p, "wrote more than 64 KiB to "
				               "standard output");
				return;
			}
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* end of file, or an error: nothing more to read */
	}
	proc_close_fd(&p->out_fd, &p->out_ev);
	proc_try_reap(p);
}

/* Reads what standard error holds now: 1 at its end, else 0. */
static int
proc_err_read(struct aws_creds_proc *p)
{
	char buf[4096];
	size_t room;
	ssize_t n;

	for (;;) {
		n = read(p->err_fd, buf, sizeof(buf));
		if (n > 0) {
			/* Beyond the first bytes, drained and dropped. */
			room = PROC_MAX_ERR - p->err_len;
			if ((size_t)n < room)
				room = (size_t)n;
			memcpy(p->err + p->err_len, buf, room);
			p->err_len += room;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return 1; /* end of file, or an error: nothing more to read */
	}
}

static void
proc_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aws_creds_proc *p = arg;

	(void)fd;
	(void)what;
	if (proc_err_read(p))
		proc_close_fd(&p->err_fd, &p->err_ev);
}

/* A pipe whose read end (ours) is non-blocking; both ends close-on-exec
 * (the child's copy is made by dup2, which clears the flag). */
static int
proc_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

static int
proc_spawn(struct aws_creds_proc *p, const char *command, int out_w, int err_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	/* Ignored signals survive exec: give the tool the defaults. */
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	if ((rc = posix_spawn_file_actions_addopen(
	         &fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out_w, 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err_w, 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (rc = posix_spawnattr_setflags(
	         &at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                  POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&at, 0)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&at, &dfl)) != 0)
		goto done;
	rc = posix_spawn(&p->pid, "/bin/sh", &fa, &at, argv, environ);
done:
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

struct aws_creds_proc *
aws_creds_proc_start(struct event_base *base, const char *command,
    unsigned timeout_ms, aws_creds_proc_cb cb, void *arg, const char **cause)
{
	struct aws_creds_proc *p;
	int out[2] = {-1, -1}, err[2] = {-1, -1}, rc;

	*cause = "out of memory";
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->base = base;
	p->pid = -1;
	p->out_fd = p->err_fd = -1;
	p->cb = cb;
	p->arg = arg;
	p->reap_ms = 1;
	p->timeout_ms = timeout_ms;
	if ((p->out = malloc(PROC_MAX_OUT + 2)) == NULL ||
	    (p->timer_ev = evtimer_new(base, proc_timer_cb, p)) == NULL)
		goto fail;
	if (proc_pipe(out) == -1 || proc_pipe(err) == -1) {
		*cause = "cannot create a pipe";
		goto fail;
	}
	p->out_fd = out[0];
	p->err_fd = err[0];
	if ((p->out_ev = event_new(base, p->out_fd, EV_READ | EV_PERSIST,
	         proc_out_cb, p)) == NULL ||
	    (p->err_ev = event_new(base, p->err_fd, EV_READ | EV_PERSIST,
	         proc_err_cb, p)) == NULL)
		goto fail;
	if ((rc = proc_spawn(p, command, out[1], err[1])) != 0) {
		*cause = "cannot start /bin/sh";
		log_warnx("aws", "credentials: posix_spawn /bin/sh: %s",
		    strerror(rc));
		goto fail;
	}
	/* The child has its copies; ours would hide its end of file. */
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	clock_gettime(CLOCK_MONOTONIC, &p->deadline);
	p->deadline.tv_sec += timeout_ms / 1000;
	p->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (p->deadline.tv_nsec >= 1000000000) {
		p->deadline.tv_sec++;
		p->deadline.tv_nsec -= 1000000000;
	}
	event_add(p->out_ev, NULL);
	event_add(p->err_ev, NULL);
	proc_timer(p, (long)timeout_ms);
	*cause = NULL;
	return p;
fail:
	if (out[1] != -1)
		close(out[1]);
	if (err[1] != -1)
		close(err[1]);
	if (p->out_fd == -1 && out[0] != -1)
		close(out[0]);
	if (p->err_fd == -1 && err[0] != -1)
		close(err[0]);
	aws_creds_proc_free(p);
	return NULL;
}

void
aws_creds_proc_free(struct aws_creds_proc *p)
{
	if (p == NULL)
		return;
	proc_close_fd(&p->out_fd, &p->out_ev);
	proc_close_fd(&p->err_fd, &p->err_ev);
	proc_kill(p);
	if (p->timer_ev != NULL)
		event_free(p->timer_ev);
	if (p->out != NULL) {
		explicit_bzero(p->out, PROC_MAX_OUT + 2);
		free(p->out);
	}
	explicit_bzero(p->err, sizeof(p->err));
	free(p);
}
