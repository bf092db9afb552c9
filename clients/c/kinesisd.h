/*
 * kinesisd.h — libkinesisd, the C client of kinesisd (the Kinesis KPL/KCL
 * sidecar).  The one public header of the library.
 *
 * kinesisd speaks NDJSON over a Unix socket (docs/protocol.md); this
 * library speaks it for you: puts with results, fire-and-forget puts,
 * flush, subscriptions, records and shard events, acks.
 *
 *	struct kinesisd *k = kinesisd_new(NULL);
 *	struct kinesisd_put_result res;
 *	if (k == NULL || kinesisd_connect(k, NULL, 0) != KINESISD_OK)
 *		... kinesisd_errmsg(k) says why ...
 *	kinesisd_put_wait(k, "demo-producer", "key", "hi", 2, 30000, &res);
 *	kinesisd_free(k);
 *
 * Conventions, for every function below:
 *
 * - Status: functions that can fail return KINESISD_OK (0) or a negative
 *   enum kinesisd_status; kinesisd_errmsg() then holds a sentence saying
 *   what failed.  kinesisd_strerror() names a status.
 * - Timeouts are in milliseconds: -1 waits forever, 0 does not wait.
 * - Strings passed in are borrowed for the duration of the call (copied
 *   when kept).  Strings handed out are borrowed from the object they
 *   come with, unless a function says that the caller owns it.
 * - Every *_free() accepts NULL.
 * - Threads: a handle is not thread-safe; use it from one thread at a
 *   time.  The library has no global mutable state: handles are
 *   independent of each other.
 * - Callbacks (put results, events) run only inside kinesisd_process()
 *   and the calls that wait: kinesisd_put*() when the output buffer is
 *   full, kinesisd_put_wait(), kinesisd_flush(), kinesisd_subscribe(),
 *   kinesisd_unsubscribe(), kinesisd_hello(), kinesisd_ping(),
 *   kinesisd_next_event(), kinesisd_connect(), kinesisd_reconnect(),
 *   kinesisd_close() and kinesisd_free() (pending requests fail with
 *   KINESISD_ERR_CLOSED).  A callback may call kinesisd_put*(),
 *   kinesisd_ack*(), kinesisd_skip() and kinesisd_close() (which takes
 *   effect once the callback returns); a call that would wait returns
 *   KINESISD_ERR_BUSY instead; kinesisd_free() must not be called from a
 *   callback.
 * - SIGPIPE is never raised by the library (MSG_NOSIGNAL).
 *
 * Link with -lkinesisd (pkg-config --libs kinesisd); the library uses
 * libcjson internally.
 */
#ifndef KINESISD_H
#define KINESISD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(KINESISD_BUILDING)
#define KINESISD_API __attribute__((visibility("default")))
#else
#define KINESISD_API
#endif

#define KINESISD_DEFAULT_SOCKET   "/run/kinesisd/kinesisd.sock"
#define KINESISD_SOCKET_ENV       "KINESISD_SOCKET"
#define KINESISD_PROTOCOL_VERSION 1
#define KINESISD_CLIENT_VERSION   "0.1.0"

enum kinesisd_status {
	KINESISD_OK = 0,
	KINESISD_ERR_SYSTEM = -1,         /* a system call failed (errno) */
	KINESISD_ERR_NOMEM = -2,          /* out of memory */
	KINESISD_ERR_INVALID = -3,        /* a bad argument */
	KINESISD_ERR_NOT_CONNECTED = -4,  /* no connection: connect first */
	KINESISD_ERR_CLOSED = -5,         /* the connection was lost */
	KINESISD_ERR_TIMEOUT = -6,        /* nothing within the timeout */
	KINESISD_ERR_AGAIN = -7,          /* KINESISD_NONBLOCK: output full */
	KINESISD_ERR_PROTOCOL = -8,       /* the daemon said something odd */
	KINESISD_ERR_REFUSED = -9,        /* an "error" reply: see .error */
	KINESISD_ERR_PUT_FAILED = -10,    /* "put_failed": see .error */
	KINESISD_ERR_SHUTTING_DOWN = -11, /* refused: daemon shutting down */
	KINESISD_ERR_BUSY = -12,          /* a waiting call inside a callback */
};

/* The name of a status ("KINESISD_ERR_CLOSED"); a static string. */
KINESISD_API const char *kinesisd_strerror(int status);

/* ---- handles ------------------------------------------------------------- */

struct kinesisd;

/* kinesisd_opts.flags */
#define KINESISD_NONBLOCK 0x1u /* puts return AGAIN instead of waiting */

struct kinesisd_opts {
	/*
	 * Bytes of output queued in the library beyond which a put waits
	 * for the daemon to read (back-pressure), or, with
	 * KINESISD_NONBLOCK, fails with KINESISD_ERR_AGAIN.  0: 4 MiB.
	 */
	size_t out_limit;
	/* How long a put may wait for room in the output; 0: forever. */
	int send_timeout_ms;
	unsigned flags; /* KINESISD_NONBLOCK */
	/* Sent as "client" in hello; NULL: "libkinesisd/<version>".
	 * Copied. */
	const char *client;
};

/*
 * A new, unconnected handle.  opts may be NULL (the defaults); it is
 * copied.  NULL only when memory is short.  The caller owns the handle
 * and frees it with kinesisd_free().
 */
KINESISD_API struct kinesisd *kinesisd_new(const struct kinesisd_opts *opts);

/*
 * Closes the connection (pending requests' callbacks run with
 * KINESISD_ERR_CLOSED), frees queued events and the handle.  NULL is
 * fine.  Events handed out earlier stay valid (the caller owns them).
 * Must not be called from a callback of the same handle.
 */
KINESISD_API void kinesisd_free(struct kinesisd *k);

/*
 * The message of the last call on k that did not return KINESISD_OK: a
 * sentence for a log (successful calls leave it as it was).  Borrowed:
 * valid until the next call on k.  Never NULL; kinesisd_errmsg(NULL)
 * says that the handle could not be made.
 */
KINESISD_API const char *kinesisd_errmsg(const struct kinesisd *k);

/*
 * Connects to the socket at path; NULL means $KINESISD_SOCKET, else
 * KINESISD_DEFAULT_SOCKET.  While the socket is missing or refuses
 * connections (the daemon is starting), tries again with a growing delay
 * (50 ms to 1 s) for up to timeout_ms (0: once; -1: forever).  An
 * existing connection is closed first.  Subscriptions made through k
 * before are made again (see kinesisd_reconnect()), each waiting for its
 * "subscribed" for the rest of timeout_ms but at least 10 s.  path is
 * copied.
 */
KINESISD_API int kinesisd_connect(
    struct kinesisd *k, const char *path, int timeout_ms);

/*
 * Connects again to the path of the last kinesisd_connect(), as it does,
 * then subscribes again to every consumer subscribed through k (with the
 * same max_in_flight), waiting for each "subscribed".  Use it after a
 * call returned KINESISD_ERR_CLOSED (the daemon restarted).  Records
 * delivered on the old connection and not acked are delivered again by
 * the daemon; acks for them are dropped by kinesisd_ack().  A failed
 * re-subscription returns its status (the subscription is kept and
 * tried again by the next reconnect).
 */
KINESISD_API int kinesisd_reconnect(struct kinesisd *k, int timeout_ms);

/*
 * Uses fd, a connected stream socket (socketpair(), or a socket the
 * application connected itself), as the connection.  Takes ownership of
 * fd, also on failure.  kinesisd_reconnect() cannot reconnect such a
 * connection (KINESISD_ERR_INVALID).
 */
KINESISD_API int kinesisd_connect_fd(struct kinesisd *k, int fd);

/*
 * Closes the connection.  Requests waiting for a reply get their
 * callback with KINESISD_ERR_CLOSED; records queued from this connection
 * are dropped (the daemon delivers them again); other queued events stay.
 * Subscriptions are remembered for kinesisd_reconnect().
 */
KINESISD_API void kinesisd_close(struct kinesisd *k);

KINESISD_API int kinesisd_is_connected(const struct kinesisd *k);

/* ---- hello and ping ------------------------------------------------------ */

/* The daemon's hello reply.  The caller owns it: kinesisd_hello_free(). */
struct kinesisd_hello {
	int version;      /* protocol version: 1 */
	char *server;     /* "kinesisd/0.1.0" */
	char **producers; /* the configured producers' names */
	size_t n_producers;
	char **consumers; /* the configured consumers' names */
	size_t n_consumers;
};

/* Sends hello and waits for the reply; *out is set on KINESISD_OK. */
KINESISD_API int kinesisd_hello(
    struct kinesisd *k, int timeout_ms, struct kinesisd_hello **out);
KINESISD_API void kinesisd_hello_free(struct kinesisd_hello *h);

/* Sends ping and waits for pong. */
KINESISD_API int kinesisd_ping(struct kinesisd *k, int timeout_ms);

/* ---- producing ----------------------------------------------------------- */

/*
 * The result of a put with a result.  A plain value: the strings are
 * arrays inside it (truncated if ever longer), nothing to free.
 */
struct kinesisd_put_result {
	/*
	 * KINESISD_OK (put_ok: Kinesis has the record), or
	 * KINESISD_ERR_PUT_FAILED (put_failed), KINESISD_ERR_REFUSED or
	 * KINESISD_ERR_SHUTTING_DOWN (an "error" reply), KINESISD_ERR_CLOSED
	 * (the connection was lost before the result: the record may or may
	 * not be in the stream), KINESISD_ERR_TIMEOUT (kinesisd_put_wait()
	 * only: no result yet; it will be discarded).
	 */
	int status;
	char shard[129]; /* put_ok: the shard id */
	char seq[129];   /* put_ok: the Kinesis sequence number */
	uint64_t subseq; /* put_ok: the index inside a KPL aggregate */
	/* Otherwise: the AWS error code, "expired", "shutting_down", the
	 * error reply's code (e.g. "unknown_producer"), or
	 * "connection_lost"; and a message for a log. */
	char error[64];
	char message[512];
};

/*
 * Called once per put with a result.  res is borrowed until the callback
 * returns; arg is the put's.
 */
typedef void (*kinesisd_put_cb)(
    const struct kinesisd_put_result *res, void *arg);

/*
 * Queues one record for producer (a name from the configuration), with
 * partition key key (1 to 256 characters of UTF-8) and len bytes of data
 * (base64-encoded on the wire).  With cb, the put carries an id and cb
 * runs once with its result; with cb NULL it is fire-and-forget (no
 * result; a refusal comes as a KINESISD_EV_ERROR event).  data may be
 * NULL when len is 0.  All arguments are copied.
 *
 * Returns KINESISD_OK once the line is queued (written as far as the
 * socket takes it); KINESISD_ERR_INVALID (bad key, producer), NOMEM,
 * NOT_CONNECTED, CLOSED, AGAIN (NONBLOCK and output beyond out_limit),
 * TIMEOUT (send_timeout_ms passed while waiting for room).  Without
 * KINESISD_NONBLOCK a put beyond out_limit waits for the daemon to read,
 * running callbacks meanwhile; from inside a callback it never waits.
 * When a put returns an error, cb is not called.
 */
KINESISD_API int kinesisd_put(struct kinesisd *k, const char *producer,
    const char *key, const void *data, size_t len, kinesisd_put_cb cb,
    void *arg);

/* kinesisd_put() with an explicit hash key ehk (a decimal below 2^128),
 * which decides the shard instead of the key's MD5.  ehk NULL: none. */
KINESISD_API int kinesisd_put_ehk(struct kinesisd *k, const char *producer,
    const char *key, const char *ehk, const void *data, size_t len,
    kinesisd_put_cb cb, void *arg);

/* Fire-and-forget: kinesisd_put() without a callback. */
KINESISD_API int kinesisd_put_forget(struct kinesisd *k, const char *producer,
    const char *key, const void *data, size_t len);

/*
 * Puts one record and waits for its result, which is stored in *res
 * (required).  Returns res->status, or a status of kinesisd_put() when
 * the record could not be queued (res->status is then the same).  Other
 * puts' callbacks and events may run meanwhile.
 */
KINESISD_API int kinesisd_put_wait(struct kinesisd *k, const char *producer,
    const char *key, const void *data, size_t len, int timeout_ms,
    struct kinesisd_put_result *res);

/*
 * Sends flush for producer (NULL: every producer) and waits for
 * "flushed": by then every put sent before has its result and every
 * callback of those puts has run.  Fire-and-forget puts are included.
 */
KINESISD_API int kinesisd_flush(
    struct kinesisd *k, const char *producer, int timeout_ms);

/* Requests of k sent and not answered yet (puts with results, flushes,
 * ...). */
KINESISD_API size_t kinesisd_pending(const struct kinesisd *k);

/* ---- consuming ----------------------------------------------------------- */

/*
 * Subscribes this connection to consumer and waits for "subscribed".
 * max_in_flight bounds the records delivered and not yet acked (0: the
 * daemon's default, 1000).  Subscribing again changes max_in_flight.
 * The subscription is remembered for kinesisd_reconnect().  Returns
 * KINESISD_ERR_REFUSED (e.g. unknown_consumer; the message says which),
 * or the other statuses of a waiting call.
 */
KINESISD_API int kinesisd_subscribe(struct kinesisd *k, const char *consumer,
    unsigned max_in_flight, int timeout_ms);

/* Unsubscribes and waits for "unsubscribed"; the daemon gives this
 * connection's unacked records to other subscribers. */
KINESISD_API int kinesisd_unsubscribe(
    struct kinesisd *k, const char *consumer, int timeout_ms);

enum kinesisd_event_type {
	KINESISD_EV_RECORD = 1,        /* one user record: ack or skip it */
	KINESISD_EV_SHARD_STARTED,     /* this connection receives shard */
	KINESISD_EV_SHARD_LOST,        /* lease went elsewhere */
	KINESISD_EV_SHARD_ENDED,       /* resharded, done, at SHARD_END */
	KINESISD_EV_CONSUMER_FAILURE,  /* shard stopped: too many failed */
	KINESISD_EV_CONSUMER_SHUTDOWN, /* shard stopped gracefully */
	KINESISD_EV_SHUTDOWN,          /* the daemon is shutting down */
	KINESISD_EV_ERROR,             /* a refusal no call waits for */
	KINESISD_EV_OTHER,             /* an op unknown to this library */
};

/* A record position: a sequence number and the index inside an
 * aggregate. */
struct kinesisd_position {
	const char *seq;
	uint64_t subseq;
};

/*
 * One message from the daemon that is not the reply to a request.
 * Owned by the caller (kinesisd_event_free()); every pointer inside
 * points into the event and lives as long as it does.  Fields that the
 * event type does not carry are NULL or 0.
 */
struct kinesisd_event {
	enum kinesisd_event_type type;
	const char *op;       /* "record", "shard_started", ... */
	const char *consumer; /* record, shard_*, consumer_* */
	const char *shard;    /* record, shard_*, consumer_* */
	/* record: */
	const char *seq;
	uint64_t subseq;
	const char *key;
	const unsigned char *data; /* decoded; data[data_len] is '\0' */
	size_t data_len;
	int64_t ts;      /* approximate arrival, ms since the epoch */
	const char *ehk; /* explicit hash key, or NULL */
	/* consumer_failure: the records that stayed unconfirmed */
	const struct kinesisd_position *failed;
	size_t n_failed;
	const char *reason;  /* shutdown */
	const char *error;   /* error: the stable code ("not_subscribed") */
	const char *message; /* error: what was wrong */
	const char *json;    /* the whole message as it came, no newline */
	uint64_t conn_gen;   /* the library's: the connection it came on */
};

KINESISD_API void kinesisd_event_free(struct kinesisd_event *ev);

/*
 * The next event: from the queue, else read from the socket for up to
 * timeout_ms.  On KINESISD_OK *ev is set and the caller owns it.
 * KINESISD_ERR_TIMEOUT when nothing came (also with timeout 0 and an
 * empty queue); KINESISD_ERR_CLOSED when the connection ended (call
 * kinesisd_reconnect()); KINESISD_ERR_NOT_CONNECTED.
 */
KINESISD_API int kinesisd_next_event(
    struct kinesisd *k, int timeout_ms, struct kinesisd_event **ev);

/*
 * Instead of queueing events for kinesisd_next_event(), hand each to cb
 * as it is read.  cb owns ev (kinesisd_event_free() it, now or later).
 * cb NULL goes back to queueing.  Events already queued stay queued.
 */
typedef void (*kinesisd_event_cb)(struct kinesisd_event *ev, void *arg);
KINESISD_API void kinesisd_set_event_cb(
    struct kinesisd *k, kinesisd_event_cb cb, void *arg);

/*
 * Acknowledges a record event: processed.  The daemon checkpoints up to
 * the highest record below which every record is acked.  A record that
 * came on an earlier connection (before kinesisd_reconnect()) is not
 * acked (the daemon delivers it again) and KINESISD_OK is returned.
 * KINESISD_ERR_INVALID when rec is not a record.  Acks are queued even
 * beyond out_limit (they never wait); a refusal comes as an event.
 */
KINESISD_API int kinesisd_ack(
    struct kinesisd *k, const struct kinesisd_event *rec);
/* Acknowledges a record as processed-but-skipped (ok:false): logged by
 * the daemon, still checkpointed. */
KINESISD_API int kinesisd_skip(
    struct kinesisd *k, const struct kinesisd_event *rec);
/* The same by position, for a record whose event was freed. */
KINESISD_API int kinesisd_ack_at(struct kinesisd *k, const char *consumer,
    const char *shard, const char *seq, uint64_t subseq, int ok);

/* ---- event loops (poll, epoll, libevent) --------------------------------- */

/*
 * The connection's file descriptor, -1 when not connected.  It changes
 * with every (re)connect; the library owns it: never read, write or
 * close it.
 */
KINESISD_API int kinesisd_fd(const struct kinesisd *k);

/*
 * The poll(2) events to wait for on kinesisd_fd(): POLLIN, plus POLLOUT
 * while output is queued.  0 when not connected.
 */
KINESISD_API short kinesisd_want(const struct kinesisd *k);

/*
 * Does what the descriptor is ready for, never waiting: writes queued
 * output, reads what arrived, runs put callbacks and the event callback
 * or queues events.  revents: poll's revents (0: try both).  Returns
 * KINESISD_OK, or KINESISD_ERR_CLOSED when the connection ended (its
 * pending callbacks have run; kinesisd_reconnect() makes a new one),
 * KINESISD_ERR_NOT_CONNECTED, KINESISD_ERR_BUSY from a callback.
 */
KINESISD_API int kinesisd_process(struct kinesisd *k, short revents);

#ifdef __cplusplus
}
#endif

#endif
