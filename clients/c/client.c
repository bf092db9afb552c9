/*
 * client.c — the handle and its connection: connect and reconnect,
 * non-blocking reads and writes through the handle's buffers, waiting
 * with a deadline, and the end of a connection (pending requests fail
 * with KINESISD_ERR_CLOSED).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kdc_int.h"

#define DEFAULT_OUT_LIMIT   (4u << 20)
#define READ_CHUNK          65536
#define MAX_IN_LINE         ((size_t)64 << 20) /* a record is at most ~1.4 MB */
#define RESUBSCRIBE_MIN_MS  10000
#define CONNECT_RETRY_MS    50
#define CONNECT_RETRY_MAXMS 1000

static const struct {
	int status;
	const char *name;
} status_names[] = {
    {KINESISD_OK, "KINESISD_OK"},
    {KINESISD_ERR_SYSTEM, "KINESISD_ERR_SYSTEM"},
    {KINESISD_ERR_NOMEM, "KINESISD_ERR_NOMEM"},
    {KINESISD_ERR_INVALID, "KINESISD_ERR_INVALID"},
    {KINESISD_ERR_NOT_CONNECTED, "KINESISD_ERR_NOT_CONNECTED"},
    {KINESISD_ERR_CLOSED, "KINESISD_ERR_CLOSED"},
    {KINESISD_ERR_TIMEOUT, "KINESISD_ERR_TIMEOUT"},
    {KINESISD_ERR_AGAIN, "KINESISD_ERR_AGAIN"},
    {KINESISD_ERR_PROTOCOL, "KINESISD_ERR_PROTOCOL"},
    {KINESISD_ERR_REFUSED, "KINESISD_ERR_REFUSED"},
    {KINESISD_ERR_PUT_FAILED, "KINESISD_ERR_PUT_FAILED"},
    {KINESISD_ERR_SHUTTING_DOWN, "KINESISD_ERR_SHUTTING_DOWN"},
    {KINESISD_ERR_BUSY, "KINESISD_ERR_BUSY"},
};

const char *
kinesisd_strerror(int status)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(*status_names);
	     i++)
		if (status_names[i].status == status)
			return status_names[i].name;
	return "KINESISD_ERR_UNKNOWN";
}

int
kdc_err(struct kinesisd *k, int status, const char *fmt, ...)
{
	va_list ap;

	if (k != NULL) {
		va_start(ap, fmt);
		vsnprintf(k->err, sizeof(k->err), fmt, ap);
		va_end(ap);
	}
	return status;
}

const char *
kinesisd_errmsg(const struct kinesisd *k)
{
	if (k == NULL)
		return "no handle (kinesisd_new() failed: out of memory)";
	return k->err;
}

struct kinesisd *
kinesisd_new(const struct kinesisd_opts *opts)
{
	struct kinesisd *k;
	char client[64];

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->fd = -1;
	k->out_limit = DEFAULT_OUT_LIMIT;
	if (opts != NULL) {
		if (opts->out_limit > 0)
			k->out_limit = opts->out_limit;
		k->send_timeout_ms = opts->send_timeout_ms;
		k->flags = opts->flags;
	}
	snprintf(
	    client, sizeof(client), "libkinesisd/%s", KINESISD_CLIENT_VERSION);
	k->client = kdc_strdup(
	    opts != NULL && opts->client != NULL ? opts->client : client);
	if (k->client == NULL || kdc_utf8_chars(k->client) < 0) {
		free(k->client);
		free(k);
		return NULL;
	}
	return k;
}

/* ---- the end of a connection --------------------------------------------- */

void
kdc_dispatch_enter(struct kinesisd *k)
{
	k->depth++;
}

void
kdc_dispatch_leave(struct kinesisd *k)
{
	k->depth--;
}

void
kdc_note_lost(struct kinesisd *k, const char *fmt, ...)
{
	va_list ap;

	if (k->lost)
		return;
	k->lost = 1;
	va_start(ap, fmt);
	vsnprintf(k->lost_why, sizeof(k->lost_why), fmt, ap);
	va_end(ap);
}

/* Ends the connection: only with no callback running. */
static void
conn_end(struct kinesisd *k)
{
	struct kdc_req *req, *list = k->first;
	uint64_t gen = k->gen;

	if (k->fd != -1)
		close(k->fd);
	k->fd = -1;
	kdc_buf_free(&k->in);
	kdc_buf_free(&k->out);
	k->scan = 0;
	if (k->lost_why[0] == '\0')
		snprintf(k->lost_why, sizeof(k->lost_why),
		    "the connection was closed");
	/* Detach every request first: callbacks run below and can only
	 * fail to queue new ones (no connection). */
	for (size_t i = 0; i < k->n_buckets; i++)
		k->buckets[i] = NULL;
	k->first = k->last = NULL;
	k->n_pending = 0;
	while ((req = list) != NULL) {
		list = req->next;
		kdc_req_complete(k, req, NULL, NULL, KINESISD_ERR_CLOSED);
		kdc_req_free(req);
	}
	kdc_evq_drop_records(k, gen);
	k->lost = 0;
	k->close_pending = 0;
}

int
kdc_closed_status(struct kinesisd *k)
{
	if (k->gen == 0)
		return kdc_err(k, KINESISD_ERR_NOT_CONNECTED,
		    "not connected: call kinesisd_connect() first");
	return kdc_err(k, KINESISD_ERR_CLOSED,
	    "connection to kinesisd lost: %s; kinesisd_reconnect() makes a "
	    "new one",
	    k->lost_why);
}

/* Acts on a loss or a close noted under a callback, once no callback
 * runs; -1 when there is no connection (also while conn_end() runs the
 * callbacks of the requests it fails). */
int
kdc_settle(struct kinesisd *k)
{
	if (k->depth == 0 && (k->lost || k->close_pending) && k->fd != -1)
		conn_end(k);
	return k->fd == -1 ? -1 : 0;
}

void
kinesisd_close(struct kinesisd *k)
{
	if (k == NULL)
		return;
	if (k->depth > 0) {
		k->close_pending = 1;
		return;
	}
	if (k->fd != -1) {
		snprintf(k->lost_why, sizeof(k->lost_why),
		    "closed by the application");
		conn_end(k);
	}
}

void
kinesisd_free(struct kinesisd *k)
{
	if (k == NULL)
		return;
	if (k->fd != -1)
		conn_end(k);
	kdc_evq_free(k);
	kdc_subs_free(k);
	kdc_buf_free(&k->in);
	kdc_buf_free(&k->out);
	free(k->buckets);
	free(k->path);
	free(k->client);
	free(k);
}

int
kinesisd_is_connected(const struct kinesisd *k)
{
	return k != NULL && k->fd != -1 && !k->lost;
}

/* ---- connecting ---------------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (0: none), -1 for no deadline. */
static int
left_ms(int timeout_ms, uint64_t deadline)
{
	uint64_t now;

	if (timeout_ms < 0)
		return -1;
	now = now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > 0x7fffffff ? 0x7fffffff : (int)(deadline - now);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if ((fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
		return -1;
	return 0;
}

static int
connect_once(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1); /* length checked */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (set_nonblock(fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* fd is connected and non-blocking: it becomes k's connection. */
static int
attach(struct kinesisd *k, int fd, int timeout_ms, uint64_t deadline)
{
	int left = left_ms(timeout_ms, deadline);

	k->fd = fd;
	k->gen++;
	k->lost = 0;
	k->lost_why[0] = '\0';
	k->scan = 0;
	if (k->n_subs == 0)
		return KINESISD_OK;
	if (left >= 0 && left < RESUBSCRIBE_MIN_MS)
		left = RESUBSCRIBE_MIN_MS;
	return kdc_resubscribe(k, left);
}

static int
do_connect(struct kinesisd *k, int timeout_ms)
{
	uint64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int delay = CONNECT_RETRY_MS, fd;

	if (k->fd != -1) {
		snprintf(k->lost_why, sizeof(k->lost_why),
		    "closed by the application to connect again");
		conn_end(k);
	}
	while ((fd = connect_once(k->path)) == -1) {
		int e = errno, left = left_ms(timeout_ms, deadline);

		if ((e != ENOENT && e != ECONNREFUSED && e != EAGAIN) ||
		    left == 0)
			return kdc_err(k, KINESISD_ERR_SYSTEM,
			    "cannot connect to %s: %s (is kinesisd running? "
			    "$%s chooses another socket)",
			    k->path, strerror(e), KINESISD_SOCKET_ENV);
		poll(NULL, 0, left >= 0 && left < delay ? left : delay);
		delay = delay * 2 > CONNECT_RETRY_MAXMS ? CONNECT_RETRY_MAXMS
		                                        : delay * 2;
	}
	return attach(k, fd, timeout_ms, deadline);
}

int
kinesisd_connect(struct kinesisd *k, const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	const char *env = getenv(KINESISD_SOCKET_ENV);
	char *copy;

	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if (k->depth > 0)
		return kdc_err(
		    k, KINESISD_ERR_BUSY, "kinesisd_connect() from a callback");
	if (path == NULL)
		path = env != NULL && env[0] != '\0' ? env
		                                     : KINESISD_DEFAULT_SOCKET;
	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path))
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "socket path \"%.200s\" is empty or longer than %zu bytes",
		    path, sizeof(sun.sun_path) - 1);
	if ((copy = kdc_strdup(path)) == NULL)
		return kdc_err(k, KINESISD_ERR_NOMEM, "out of memory");
	free(k->path);
	k->path = copy;
	return do_connect(k, timeout_ms);
}

int
kinesisd_reconnect(struct kinesisd *k, int timeout_ms)
{
	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if (k->depth > 0)
		return kdc_err(k, KINESISD_ERR_BUSY,
		    "kinesisd_reconnect() from a callback");
	if (k->path == NULL)
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "no socket path to reconnect to: connect with "
		    "kinesisd_connect() first (kinesisd_connect_fd() "
		    "connections cannot be made again)");
	return do_connect(k, timeout_ms);
}

int
kinesisd_connect_fd(struct kinesisd *k, int fd)
{
	if (k == NULL || fd < 0) {
		if (fd >= 0)
			close(fd);
		return kdc_err(k, KINESISD_ERR_INVALID,
		    "kinesisd_connect_fd: no handle or no descriptor");
	}
	if (k->depth > 0) {
		close(fd);
		return kdc_err(k, KINESISD_ERR_BUSY,
		    "kinesisd_connect_fd() from a callback");
	}
	if (k->fd != -1) {
		snprintf(k->lost_why, sizeof(k->lost_why),
		    "replaced by kinesisd_connect_fd()");
		conn_end(k);
	}
	free(k->path);
	k->path = NULL;
	if (set_nonblock(fd) == -1) {
		int e = errno;
		close(fd);
		return kdc_err(k, KINESISD_ERR_SYSTEM,
		    "kinesisd_connect_fd: fcntl: %s", strerror(e));
	}
	return attach(k, fd, 0, now_ms());
}

/* ---- reading and writing ------------------------------------------------- */

void
kdc_try_write(struct kinesisd *k)
{
	while (k->fd != -1 && !k->lost && k->out.off < k->out.len) {
		ssize_t n = send(k->fd, k->out.p + k->out.off,
		    k->out.len - k->out.off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			k->out.off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		kdc_note_lost(k, "write: %s",
		    n == 0 ? "nothing written" : strerror(errno));
	}
	if (k->out.off == k->out.len)
		k->out.off = k->out.len = 0;
}

/* Runs every complete line in the input; stops at a noted loss or close. */
static void
dispatch(struct kinesisd *k)
{
	while (!k->lost && !k->close_pending) {
		char *start = k->in.p + k->in.off, *nl;
		size_t avail = k->in.len - k->in.off, len;

		nl = avail > k->scan
		         ? memchr(start + k->scan, '\n', avail - k->scan)
		         : NULL;
		if (nl == NULL) {
			k->scan = avail;
			if (avail > MAX_IN_LINE)
				kdc_note_lost(k,
				    "a line from kinesisd longer "
				    "than %zu bytes",
				    MAX_IN_LINE);
			break;
		}
		len = (size_t)(nl - start);
		k->in.off += len + 1;
		k->scan = 0;
		kdc_handle_line(k, start, len);
	}
	if (k->in.off == k->in.len)
		k->in.off = k->in.len = 0;
}

static void
do_read(struct kinesisd *k)
{
	while (k->fd != -1 && !k->lost && !k->close_pending) {
		ssize_t n;

		if (kdc_buf_reserve(&k->in, READ_CHUNK) == -1) {
			kdc_note_lost(k, "out of memory for input");
			return;
		}
		n = recv(k->fd, k->in.p + k->in.len, k->in.cap - k->in.len,
		    MSG_DONTWAIT);
		if (n > 0) {
			k->in.len += (size_t)n;
			dispatch(k);
			continue;
		}
		if (n == 0) {
			kdc_note_lost(k, "kinesisd closed the connection");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			kdc_note_lost(k, "read: %s", strerror(errno));
		return;
	}
}

static void
do_io(struct kinesisd *k, short revents)
{
	if (k->out.off < k->out.len &&
	    (revents == 0 || (revents & (POLLOUT | POLLERR | POLLHUP))))
		kdc_try_write(k);
	if (revents == 0 || (revents & (POLLIN | POLLERR | POLLHUP)))
		do_read(k);
	kdc_try_write(k); /* what callbacks queued */
}

int
kinesisd_fd(const struct kinesisd *k)
{
	return k == NULL ? -1 : k->fd;
}

short
kinesisd_want(const struct kinesisd *k)
{
	if (k == NULL || k->fd == -1)
		return 0;
	return (short)(POLLIN | (k->out.off < k->out.len ? POLLOUT : 0));
}

int
kinesisd_process(struct kinesisd *k, short revents)
{
	if (k == NULL)
		return KINESISD_ERR_INVALID;
	if (k->depth > 0)
		return kdc_err(
		    k, KINESISD_ERR_BUSY, "kinesisd_process() from a callback");
	if (kdc_settle(k) == -1)
		return kdc_closed_status(k);
	do_io(k, revents);
	if (kdc_settle(k) == -1)
		return kdc_closed_status(k);
	return KINESISD_OK;
}

int
kdc_wait(struct kinesisd *k, int timeout_ms,
    int (*cond)(struct kinesisd *, void *), void *arg)
{
	uint64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int polled = 0;

	if (k->depth > 0)
		return kdc_err(
		    k, KINESISD_ERR_BUSY, "a call that waits, from a callback");
	for (;;) {
		struct pollfd pfd;
		int left, n;

		kdc_settle(k);
		if (cond(k, arg))
			return KINESISD_OK;
		if (k->fd == -1)
			return kdc_closed_status(k);
		left = left_ms(timeout_ms, deadline);
		if (left == 0 && polled)
			return kdc_err(k, KINESISD_ERR_TIMEOUT,
			    "no answer from kinesisd within %d ms", timeout_ms);
		pfd.fd = k->fd;
		pfd.events = kinesisd_want(k);
		pfd.revents = 0;
		n = poll(&pfd, 1, left);
		polled = 1;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return kdc_err(k, KINESISD_ERR_SYSTEM, "poll: %s",
			    strerror(errno));
		}
		if (n > 0)
			do_io(k, pfd.revents);
	}
}

static int
room_cond(struct kinesisd *k, void *arg)
{
	(void)arg;
	return k->out.len - k->out.off < k->out_limit;
}

int
kdc_room(struct kinesisd *k, int may_wait)
{
	int rc;

	if (kdc_settle(k) == -1)
		return kdc_closed_status(k);
	if (k->lost || k->close_pending)
		return kdc_err(k, KINESISD_ERR_CLOSED,
		    "connection to kinesisd lost: %s",
		    k->lost ? k->lost_why : "closed by the application");
	if (room_cond(k, NULL))
		return KINESISD_OK;
	kdc_try_write(k);
	if (room_cond(k, NULL) || !may_wait)
		return KINESISD_OK;
	if (k->flags & KINESISD_NONBLOCK)
		return kdc_err(k, KINESISD_ERR_AGAIN,
		    "%zu bytes queued for kinesisd (out_limit): process "
		    "output first",
		    k->out.len - k->out.off);
	if (k->depth > 0)
		return KINESISD_OK; /* never waits under a callback */
	rc = kdc_wait(k, k->send_timeout_ms > 0 ? k->send_timeout_ms : -1,
	    room_cond, NULL);
	if (rc == KINESISD_ERR_TIMEOUT)
		return kdc_err(k, rc,
		    "kinesisd read nothing for %d ms (send_timeout_ms)",
		    k->send_timeout_ms);
	return rc;
}
