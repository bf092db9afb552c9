/*
 * server.c — the socket server: listening, peer checks, framing, dispatch,
 * output bounds and back-pressure.  See ipc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "ipc/ipc.h"
#include "ipc/ipc_int.h"
#include "log/log.h"
#include "metrics/metrics.h"

#define IPC_MAX_OPS   32
#define IPC_MAX_HOOKS 8
#define IPC_IO_CHUNK  (256 * 1024) /* bytes per read(2) or write(2) */

/*
 * A connection's life: OPEN serves requests; CLOSING sends what is queued
 * (a too_large error, say) and reads nothing more; DEAD waits in the reaper
 * list to be freed at a safe point, never inside its own callback.
 */
enum conn_state {
	CONN_OPEN,
	CONN_CLOSING,
	CONN_DEAD,
};

static const char *
conn_strstate(enum conn_state s)
{
	switch (s) {
	case CONN_OPEN:
		return "open";
	case CONN_CLOSING:
		return "closing";
	case CONN_DEAD:
		return "dead";
	}
	return "?";
}

struct ipc_conn {
	struct ipc_server *srv;
	struct bufferevent *bev;
	struct event *resume_ev; /* reprocess buffered lines after a pause */
	/* OPEN: armed while part of a line waits for its end (see
	 * conn_watch_partial); CLOSING: the flush deadline. */
	struct event *line_ev;
	uint64_t id;
	enum conn_state state;
	unsigned paused;   /* IPC_PAUSE_* bits */
	int full;          /* output went above the high-water mark */
	size_t unanswered; /* requests held by modules (ipc_conn_hold) */
	size_t scanned;    /* input bytes known to hold no end of line */
	uint32_t uid, gid;
	int32_t pid;
	void *data[IPC_SLOTS]; /* owned by the modules; see ipc.h */
	struct ipc_req req;    /* the line being dispatched */
	char *req_id;          /* its id's JSON text, NUL-terminated */
	size_t req_id_cap;
	TAILQ_ENTRY(ipc_conn) entry;
};

struct ipc_op {
	char *name;
	size_t name_len;
	ipc_handler fn;
	void *arg;
};

struct ipc_hook {
	ipc_conn_hook fn;
	void *arg;
};

struct ipc_server {
	struct event_base *base;
	struct evconnlistener *listener;
	char *path; /* removed at free when we created it */
	int own_path;
	size_t max_line, max_conns, high, low;
	size_t max_unanswered;  /* 0: unlimited */
	struct timeval line_tv; /* how long a partial line may wait */
	uint32_t *uids, *gids;
	size_t n_uids, n_gids;

	struct ipc_op ops[IPC_MAX_OPS];
	size_t n_ops;
	struct ipc_hook close_hooks[IPC_MAX_HOOKS], drain_hooks[IPC_MAX_HOOKS];
	size_t n_close_hooks, n_drain_hooks;

	TAILQ_HEAD(, ipc_conn) conns;
	TAILQ_HEAD(, ipc_conn) dead;
	size_t n_conns;
	struct event *reaper;
	uint64_t next_id;

	struct metric_series *m_open, *m_accepted, *m_refused;
	struct metric *m_errors;
};

static void conn_process(struct ipc_conn *);

static void
conn_set_state(struct ipc_conn *c, enum conn_state next)
{
	if (c->state == next)
		return;
	log_debug("ipc", "conn %llu: %s -> %s", (unsigned long long)c->id,
	    conn_strstate(c->state), conn_strstate(next));
	c->state = next;
}

/* ---- closing and freeing --------------------------------------------------
 */

static void
conn_free(struct ipc_conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->resume_ev != NULL)
		event_free(c->resume_ev);
	if (c->line_ev != NULL)
		event_free(c->line_ev);
	ipc_req_free(&c->req);
	free(c->req_id);
	free(c);
}

static void
server_reap(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_server *srv = arg;
	struct ipc_conn *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, entry);
		conn_free(c);
	}
}

/* Runs the close hooks now, frees later: callers may be inside c's own
 * callbacks. */
static void
conn_close(struct ipc_conn *c, const char *why)
{
	struct ipc_server *srv = c->srv;

	if (c->state == CONN_DEAD)
		return;
	log_debug(
	    "ipc", "conn %llu closed: %s", (unsigned long long)c->id, why);
	conn_set_state(c, CONN_DEAD);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->line_ev);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->n_conns--;
	metric_set(srv->m_open, (double)srv->n_conns);
	for (size_t i = 0; i < srv->n_close_hooks; i++)
		srv->close_hooks[i].fn(c, srv->close_hooks[i].arg);
	TAILQ_INSERT_TAIL(&srv->dead, c, entry);
	event_active(srv->reaper, EV_TIMEOUT, 0);
}

/*
 * Stop reading; close once what is queued has been written, or after the
 * line timeout when the peer does not read it: closing must not wait on
 * the peer forever.
 */
static void
conn_close_after_flush(struct ipc_conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	conn_set_state(c, CONN_CLOSING);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c, "closed after error");
	else
		evtimer_add(c->line_ev, &c->srv->line_tv);
}

/* ---- sending ------------------------------------------------------------- */

cJSON *
ipc_msg_new(const char *op, const char *id)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return NULL;
	if (cJSON_AddStringToObject(m, "op", op) == NULL)
		goto fail;
	/* The id is JSON text the scanner checked: printed as it came. */
	if (id != NULL && cJSON_AddRawToObject(m, "id", id) == NULL)
		goto fail;
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}

int
ipc_conn_writable(const struct ipc_conn *c)
{
	return c->state == CONN_OPEN && !c->full;
}

static int
conn_write_line(struct ipc_conn *c, const char *text, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (evbuffer_add(out, text, len) == -1 ||
	    evbuffer_add(out, "\n", 1) == -1)
		return -1;
	if (!c->full && evbuffer_get_length(out) > c->srv->high) {
		/* Stop taking requests until the peer reads its replies:
		 * nothing here may buffer without limit for a slow reader. */
		c->full = 1;
		ipc_conn_pause(c, IPC_PAUSE_OUTPUT);
	}
	return 0;
}

int
ipc_conn_send_line(struct ipc_conn *c, const char *line, size_t len)
{
	if (c->state == CONN_DEAD)
		return -1;
	return conn_write_line(c, line, len);
}

int
ipc_conn_send(struct ipc_conn *c, cJSON *msg)
{
	char *text;
	int rc = -1;

	if (msg == NULL)
		return -1;
	if (c->state == CONN_DEAD) {
		cJSON_Delete(msg);
		return -1;
	}
	if ((text = cJSON_PrintUnformatted(msg)) != NULL) {
		rc = conn_write_line(c, text, strlen(text));
		free(text);
	}
	cJSON_Delete(msg);
	return rc;
}

void
ipc_conn_error(
    struct ipc_conn *c, const char *id, const char *code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	cJSON *m;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	metric_inc(metric_series(c->srv->m_errors, code));
	if ((m = ipc_msg_new("error", id)) == NULL ||
	    cJSON_AddStringToObject(m, "error", code) == NULL ||
	    cJSON_AddStringToObject(m, "message", message) == NULL) {
		cJSON_Delete(m);
		return;
	}
	ipc_conn_send(c, m);
}

void
ipc_server_broadcast(struct ipc_server *srv, cJSON *msg)
{
	struct ipc_conn *c;
	char *text;

	if (msg == NULL)
		return;
	if ((text = cJSON_PrintUnformatted(msg)) != NULL) {
		TAILQ_FOREACH(c, &srv->conns, entry)
		conn_write_line(c, text, strlen(text));
		free(text);
	}
	cJSON_Delete(msg);
}

/* ---- back-pressure ---------------------------------------------------------
 */

void
ipc_conn_pause(struct ipc_conn *c, unsigned reason)
{
	if (c->paused == 0 && c->state == CONN_OPEN) {
		bufferevent_disable(c->bev, EV_READ);
		/* Not reading is our choice: no partial-line deadline runs
		 * meanwhile (it starts afresh on resume). */
		evtimer_del(c->line_ev);
	}
	c->paused |= reason;
}

void
ipc_conn_resume(struct ipc_conn *c, unsigned reason)
{
	unsigned was = c->paused;

	c->paused &= ~reason;
	if (was != 0 && c->paused == 0 && c->state == CONN_OPEN) {
		bufferevent_enable(c->bev, EV_READ);
		/* Lines may already wait in the input buffer; handle them from
		 * the loop, not from inside whoever resumed us. */
		event_active(c->resume_ev, EV_TIMEOUT, 0);
	}
}

void
ipc_conn_hold(struct ipc_conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	c->unanswered++;
	if (c->srv->max_unanswered > 0 &&
	    c->unanswered >= c->srv->max_unanswered &&
	    !(c->paused & IPC_PAUSE_UNANSWERED)) {
		log_debug("ipc",
		    "conn %llu: %zu requests unanswered; "
		    "not reading it until some are",
		    (unsigned long long)c->id, c->unanswered);
		ipc_conn_pause(c, IPC_PAUSE_UNANSWERED);
	}
}

void
ipc_conn_release(struct ipc_conn *c)
{
	size_t max = c->srv->max_unanswered;

	if (c->state != CONN_OPEN || c->unanswered == 0)
		return;
	c->unanswered--;
	/* Resume a tenth below the limit, not on every answer, so that a
	 * busy connection does not flap between read and pause. */
	if ((c->paused & IPC_PAUSE_UNANSWERED) &&
	    c->unanswered <= max - (max + 9) / 10)
		ipc_conn_resume(c, IPC_PAUSE_UNANSWERED);
}

size_t
ipc_conn_unanswered(const struct ipc_conn *c)
{
	return c->unanswered;
}

/* ---- framing and dispatch ------------------------------------------------ */

static int
all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* The id member's JSON text, NUL-terminated in c->req_id, or NULL. */
static const char *
conn_id_text(struct ipc_conn *c, const struct ipc_member *m)
{
	if (m->raw_len + 1 > c->req_id_cap) {
		char *v = realloc(c->req_id, m->raw_len + 1);
		if (v == NULL)
			return NULL;
		c->req_id = v;
		c->req_id_cap = m->raw_len + 1;
	}
	memcpy(c->req_id, m->raw, m->raw_len);
	c->req_id[m->raw_len] = '\0';
	return c->req_id;
}

static void
conn_dispatch(struct ipc_conn *c, const char *line, size_t len)
{
	struct ipc_server *srv = c->srv;
	const struct ipc_member *idm = NULL;
	const struct ipc_value *opv;
	const char *why = NULL, *id = NULL;
	enum ipc_scan scanned;
	size_t at = 0;

	if (all_space(line, len))
		return; /* blank lines are keep-alives, not errors */
	scanned = ipc_req_scan(&c->req, line, len, &why, &at);
	switch (scanned) {
	case IPC_SCAN_BAD_JSON:
		ipc_conn_error(c, NULL, "bad_json",
		    "line is not JSON: %s at byte %zu; send one object per "
		    "line",
		    why, at);
		goto done;
	case IPC_SCAN_NOT_OBJECT:
		ipc_conn_error(c, NULL, "bad_request",
		    "a message is a JSON object with an \"op\"");
		goto done;
	case IPC_SCAN_NOMEM:
		ipc_conn_error(c, NULL, "bad_request", "out of memory");
		goto done;
	case IPC_SCAN_NUL:
	case IPC_SCAN_OBJECT:
		break;
	}
	for (size_t i = 0; i < c->req.n; i++)
		if (c->req.m[i].name_len == 2 &&
		    memcmp(c->req.m[i].name, "id", 2) == 0) {
			idm = &c->req.m[i];
			break;
		}
	if (idm != NULL) {
		if (idm->v.type != IPC_STRING && idm->v.type != IPC_NUMBER) {
			ipc_conn_error(c, NULL, "bad_request",
			    "\"id\" must be a string or a number");
			goto done;
		}
		if ((id = conn_id_text(c, idm)) == NULL) {
			ipc_conn_error(c, NULL, "bad_request", "out of memory");
			goto done;
		}
	}
	if (scanned == IPC_SCAN_NUL) {
		/* Names and texts are C strings inside: one cut short at a NUL
		 * would silently be another name or a shorter record. */
		ipc_conn_error(c, id, "bad_request",
		    "strings may not hold U+0000; send binary data as base64 "
		    "in \"data\"");
		goto done;
	}
	if ((opv = ipc_req_get(&c->req, "op")) == NULL ||
	    opv->type != IPC_STRING || opv->len == 0) {
		ipc_conn_error(c, id, "bad_request",
		    "missing \"op\" (a string such as \"ping\" or \"put\")");
		goto done;
	}
	for (size_t i = 0; i < srv->n_ops; i++)
		if (srv->ops[i].name_len == opv->len &&
		    memcmp(srv->ops[i].name, opv->str, opv->len) == 0) {
			srv->ops[i].fn(c, &c->req, id, srv->ops[i].arg);
			goto done;
		}
	ipc_conn_error(c, id, "unknown_op", "unknown op \"%.64s\"", opv->str);
done:
	ipc_req_trim(&c->req);
}

static void
conn_too_large(struct ipc_conn *c)
{
	log_warnx("ipc",
	    "conn %llu (pid %d): line longer than %zu bytes; "
	    "closing it (raise max-line-bytes for larger records)",
	    (unsigned long long)c->id, (int)c->pid, c->srv->max_line);
	ipc_conn_error(c, NULL, "too_large",
	    "line longer than max-line-bytes (%zu); closing the connection",
	    c->srv->max_line);
	conn_close_after_flush(c);
}

/*
 * The partial-line deadline.  While the connection is read and part of a
 * line is buffered, a line must be completed within line_tv; every
 * completed line starts the count again.  So a client may send a long line
 * slowly, or idle with nothing buffered for as long as it likes, but cannot
 * pin max-line-bytes of our memory by trickling bytes that never end a line
 * (slowloris).
 */
static void
conn_watch_partial(struct ipc_conn *c, int progressed)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->state != CONN_OPEN)
		return; /* CLOSING uses the timer for its flush deadline */
	if (c->paused != 0 || evbuffer_get_length(in) == 0) {
		evtimer_del(c->line_ev);
		return;
	}
	if (progressed || !evtimer_pending(c->line_ev, NULL))
		evtimer_add(c->line_ev, &c->srv->line_tv);
}

static void
conn_line_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CONN_CLOSING) {
		conn_close(c, "peer did not read its last replies");
		return;
	}
	if (c->state != CONN_OPEN)
		return;
	log_warnx("ipc",
	    "conn %llu (uid %u pid %d): no end of line within "
	    "%ld s (%zu bytes waiting); closing it",
	    (unsigned long long)c->id, (unsigned)c->uid, (int)c->pid,
	    (long)c->srv->line_tv.tv_sec,
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	ipc_conn_error(c, NULL, "bad_request",
	    "no end of line within %ld seconds; closing the connection",
	    (long)c->srv->line_tv.tv_sec);
	conn_close_after_flush(c);
}

/* Handles every complete line buffered, until paused or closing. */
static void
conn_process(struct ipc_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	int progressed = 0;

	while (c->state == CONN_OPEN && c->paused == 0) {
		size_t eol_len = 0, len, have = evbuffer_get_length(in);
		struct evbuffer_ptr p, from;
		unsigned char *line;

		/*
		 * Search only what arrived since the last search: a long line
		 * coming in small reads would otherwise be scanned again from
		 * its start on every read, quadratic work for the peer's
		 * asking.
		 */
		p.pos = -1;
		if (c->scanned < have && evbuffer_ptr_set(in, &from, c->scanned,
		                             EVBUFFER_PTR_SET) == 0)
			p = evbuffer_search_eol(
			    in, &from, &eol_len, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			c->scanned = have;
			if (have > c->srv->max_line)
				conn_too_large(c);
			break;
		}
		len = (size_t)p.pos;
		if (len > c->srv->max_line) {
			conn_too_large(c);
			return;
		}
		if ((line = evbuffer_pullup(in, (ssize_t)(len + 1))) == NULL) {
			conn_close(c, "out of memory");
			return;
		}
		conn_dispatch(c, (const char *)line, len);
		evbuffer_drain(in, len + 1);
		c->scanned = 0;
		progressed = 1;
	}
	conn_watch_partial(c, progressed);
}

static void
conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_process(arg);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct ipc_conn *c = arg;
	struct ipc_server *srv = c->srv;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->state == CONN_CLOSING) {
		if (left == 0)
			conn_close(c, "closed after error");
		return;
	}
	if (c->full && left <= srv->low) {
		c->full = 0;
		ipc_conn_resume(c, IPC_PAUSE_OUTPUT);
		for (size_t i = 0; i < srv->n_drain_hooks; i++)
			srv->drain_hooks[i].fn(c, srv->drain_hooks[i].arg);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_EOF) {
		/* A peer that shut down its writing side still reads the
		 * replies already queued for it. */
		struct ipc_conn *c = arg;
		if (c->state == CONN_OPEN &&
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			conn_close_after_flush(c);
		else
			conn_close(c, "peer closed");
	} else if (what & BEV_EVENT_ERROR)
		conn_close(arg, strerror(EVUTIL_SOCKET_ERROR()));
}

/* ---- accepting --------------------------------------------------------------
 */

static int
id_listed(uint32_t id, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* The peer's supplementary groups, from /proc, match allowed-gids? */
static int
peer_groups_allowed(const struct ipc_server *srv, int32_t pid)
{
	char path[64], line[4096];
	int ok = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (!ok && fgets(line, sizeof(line), f) != NULL) {
		char *p, *end;
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if (id_listed((uint32_t)g, srv->gids, srv->n_gids))
				ok = 1;
		}
	}
	fclose(f);
	return ok;
}

static int
peer_allowed(const struct ipc_server *srv, const struct ucred *cr)
{
	/* Root is not exempt: allowed-* lists are the whole policy. */
	if (srv->n_uids == 0 && srv->n_gids == 0)
		return 1;
	if (id_listed(cr->uid, srv->uids, srv->n_uids) ||
	    id_listed(cr->gid, srv->gids, srv->n_gids))
		return 1;
	return srv->n_gids > 0 && peer_groups_allowed(srv, cr->pid);
}

static void
server_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ipc_server *srv = arg;
	struct ucred cr = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t crlen = sizeof(cr);
	struct ipc_conn *c;

	(void)l;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == -1)
		log_warn("ipc", "SO_PEERCRED");
	if (!peer_allowed(srv, &cr)) {
		log_warnx("ipc",
		    "refused connection from uid %u gid %u pid %d: "
		    "not in allowed-uids/allowed-gids",
		    (unsigned)cr.uid, (unsigned)cr.gid, (int)cr.pid);
		metric_inc(srv->m_refused);
		evutil_closesocket(fd);
		return;
	}
	if (srv->n_conns >= srv->max_conns) {
		log_warnx("ipc",
		    "refused connection from uid %u pid %d: %zu "
		    "connections open already (max-connections)",
		    (unsigned)cr.uid, (int)cr.pid, srv->n_conns);
		metric_inc(srv->m_refused);
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	c->srv = srv;
	c->id = ++srv->next_id;
	c->uid = cr.uid;
	c->gid = cr.gid;
	c->pid = cr.pid;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto fail;
	fd = -1; /* the bufferevent owns it now */
	c->resume_ev = event_new(srv->base, -1, 0, conn_resume_cb, c);
	c->line_ev = evtimer_new(srv->base, conn_line_timeout_cb, c);
	if (c->resume_ev == NULL || c->line_ev == NULL)
		goto fail;
	bufferevent_setcb(
	    c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, srv->low, 0);
	/* libevent moves at most 16 KiB per read or write call by default:
	 * about a hundred puts, so a busy producer spent more in system calls
	 * than in handling its lines. */
	if (bufferevent_set_max_single_read(c->bev, IPC_IO_CHUNK) == -1 ||
	    bufferevent_set_max_single_write(c->bev, IPC_IO_CHUNK) == -1 ||
	    bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1)
		goto fail;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->n_conns++;
	metric_inc(srv->m_accepted);
	metric_set(srv->m_open, (double)srv->n_conns);
	log_debug("ipc", "conn %llu from uid %u pid %d",
	    (unsigned long long)c->id, (unsigned)cr.uid, (int)cr.pid);
	return;
fail:
	log_warnx("ipc", "cannot accept a connection: out of memory");
	if (fd != -1)
		evutil_closesocket(fd);
	if (c != NULL)
		conn_free(c);
}

/* mkdir -p for the socket's folder; new folders are 0750. */
static int
make_parent(const char *path, char **cause)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		goto toolong;
	strcpy(dir, path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		int last = (*p == '\0');
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
			if (asprintf(cause, "socket folder %s: %s", dir,
			        strerror(errno)) == -1)
				*cause = NULL;
			return -1;
		}
		if (last)
			break;
		*p = '/';
	}
	return 0;
toolong:
	if (asprintf(cause, "socket path too long (max %zu bytes): %s",
	        sizeof(dir) - 1, path) == -1)
		*cause = NULL;
	return -1;
}

/*
 * Binds path.  A socket file already there is removed only when nothing
 * answers on it (a crash left it); a live daemon there is an error.
 */
static int
server_bind(const char *path, unsigned mode, char **cause)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int fd = -1, probe;

	if (make_parent(path, cause) == -1)
		return -1;
	strcpy(sun.sun_path, path); /* length checked by make_parent */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			if (asprintf(cause,
			        "%s exists and is not a socket; "
			        "remove it or choose another 'socket'",
			        path) == -1)
				*cause = NULL;
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 &&
		    connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			if (asprintf(cause,
			        "another kinesisd is serving %s; "
			        "stop it or choose another 'socket'",
			        path) == -1)
				*cause = NULL;
			return -1;
		}
		if (probe != -1)
			close(probe);
		unlink(path);
	}
	if ((fd = socket(
	         AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		goto syserr;
	/* No window in which the socket is more open than socket-mode. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		goto syserr;
	}
	umask(old);
	if (chmod(path, mode) == -1)
		goto syserr;
	return fd;
syserr:
	if (asprintf(cause, "socket %s: %s", path, strerror(errno)) == -1)
		*cause = NULL;
	if (fd != -1)
		close(fd);
	return -1;
}

static uint32_t *
ids_copy(const uint32_t *ids, size_t n)
{
	uint32_t *v;

	if (n == 0)
		return NULL;
	if ((v = malloc(n * sizeof(*v))) != NULL)
		memcpy(v, ids, n * sizeof(*v));
	return v;
}

struct ipc_server *
ipc_server_new(struct event_base *base, const struct ipc_opts *o,
    struct metrics *m, char **cause)
{
	struct ipc_server *srv;
	int fd = o->inherited_fd;

	*cause = NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		goto nomem;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->dead);
	srv->base = base;
	srv->max_line = o->max_line > 0 ? o->max_line : 2097152;
	srv->max_conns = o->max_conns > 0 ? o->max_conns : 1024;
	srv->high = o->out_high_water > 0 ? o->out_high_water : 4u << 20;
	srv->low = srv->high / 4;
	srv->max_unanswered = o->max_unanswered;
	srv->line_tv.tv_sec =
	    o->line_timeout > 0 ? (time_t)o->line_timeout : 30;
	srv->n_uids = o->n_uids;
	srv->n_gids = o->n_gids;
	if ((o->n_uids > 0 &&
	        (srv->uids = ids_copy(o->uids, o->n_uids)) == NULL) ||
	    (o->n_gids > 0 &&
	        (srv->gids = ids_copy(o->gids, o->n_gids)) == NULL))
		goto nomem;
	if ((srv->reaper = event_new(base, -1, 0, server_reap, srv)) == NULL)
		goto nomem;
	if (o->path != NULL && (srv->path = strdup(o->path)) == NULL)
		goto nomem;

	if (fd == -1) {
		if ((fd = server_bind(o->path, o->mode, cause)) == -1)
			goto fail;
		srv->own_path = 1;
	}
	srv->listener = evconnlistener_new(base, server_accept, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
	if (srv->listener == NULL) {
		if (asprintf(cause, "socket %s: cannot listen: %s",
		        o->path != NULL ? o->path : "(inherited)",
		        strerror(errno)) == -1)
			*cause = NULL;
		if (o->inherited_fd == -1)
			close(fd);
		goto fail;
	}

	srv->m_open =
	    metric_series(metrics_gauge(m, "kinesisd_ipc_open_connections",
	        "Open connections on the kinesisd socket.", NULL));
	srv->m_accepted = metric_series(
	    metrics_counter(m, "kinesisd_ipc_connections_total",
	        "Connections to the kinesisd socket, by result.", "result"),
	    "accepted");
	srv->m_refused =
	    metric_series(metrics_counter(m, "kinesisd_ipc_connections_total",
	                      NULL, "result"),
	        "refused");
	srv->m_errors = metrics_counter(m, "kinesisd_ipc_errors_total",
	    "Requests refused with an error event, by error code.", "error");
	metric_set(srv->m_open, 0);
	return srv;
nomem:
	if (*cause == NULL)
		*cause = strdup("out of memory");
fail:
	ipc_server_free(srv);
	return NULL;
}

void
ipc_server_stop_listening(struct ipc_server *srv)
{
	if (srv == NULL || srv->listener == NULL)
		return;
	evconnlistener_free(srv->listener);
	srv->listener = NULL;
	if (srv->own_path && srv->path != NULL)
		unlink(srv->path);
	srv->own_path = 0;
}

void
ipc_server_free(struct ipc_server *srv)
{
	struct ipc_conn *c;

	if (srv == NULL)
		return;
	ipc_server_stop_listening(srv);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close(c, "server stopping");
	if (srv->reaper != NULL) {
		server_reap(-1, 0, srv);
		event_free(srv->reaper);
	}
	for (size_t i = 0; i < srv->n_ops; i++)
		free(srv->ops[i].name);
	free(srv->uids);
	free(srv->gids);
	free(srv->path);
	free(srv);
}

size_t
ipc_server_conn_count(const struct ipc_server *srv)
{
	return srv->n_conns;
}

int
ipc_register(struct ipc_server *srv, const char *op, ipc_handler fn, void *arg)
{
	if (srv->n_ops == IPC_MAX_OPS)
		return -1;
	for (size_t i = 0; i < srv->n_ops; i++)
		if (strcmp(srv->ops[i].name, op) == 0)
			return -1;
	if ((srv->ops[srv->n_ops].name = strdup(op)) == NULL)
		return -1;
	srv->ops[srv->n_ops].name_len = strlen(op);
	srv->ops[srv->n_ops].fn = fn;
	srv->ops[srv->n_ops].arg = arg;
	srv->n_ops++;
	return 0;
}

static int
hook_add(struct ipc_hook *hooks, size_t *n, ipc_conn_hook fn, void *arg)
{
	if (*n == IPC_MAX_HOOKS)
		return -1;
	hooks[*n].fn = fn;
	hooks[*n].arg = arg;
	(*n)++;
	return 0;
}

int
ipc_on_close(struct ipc_server *srv, ipc_conn_hook fn, void *arg)
{
	return hook_add(srv->close_hooks, &srv->n_close_hooks, fn, arg);
}

int
ipc_on_drain(struct ipc_server *srv, ipc_conn_hook fn, void *arg)
{
	return hook_add(srv->drain_hooks, &srv->n_drain_hooks, fn, arg);
}

uint64_t
ipc_conn_id(const struct ipc_conn *c)
{
	return c->id;
}

int
ipc_conn_is_open(const struct ipc_conn *c)
{
	return c->state == CONN_OPEN;
}

void
ipc_conn_peer(
    const struct ipc_conn *c, uint32_t *uid, uint32_t *gid, int32_t *pid)
{
	if (uid != NULL)
		*uid = c->uid;
	if (gid != NULL)
		*gid = c->gid;
	if (pid != NULL)
		*pid = c->pid;
}

void *
ipc_conn_data(const struct ipc_conn *c, enum ipc_slot slot)
{
	return c->data[slot];
}

void
ipc_conn_set_data(struct ipc_conn *c, enum ipc_slot slot, void *p)
{
	c->data[slot] = p;
}
