/*
 * ipc — the Unix-socket server of SPEC section 3: NDJSON framing, one
 * dispatch table from op to handler, bounded output, back-pressure.
 *
 * The server knows no ops of its own: the daemon, the producer and the
 * consumer register theirs with ipc_register().  A handler gets the parsed
 * request (borrowed until it returns) and answers through ipc_conn_send()
 * or ipc_conn_error(), now or later.  A module that keeps a connection
 * pointer past the handler must drop it in its close hook, which runs
 * before the connection is freed.
 */
#ifndef KD_IPC_H
#define KD_IPC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct metrics;
typedef struct cJSON cJSON;

struct ipc_server;
struct ipc_conn;

struct ipc_opts {
	const char *path;     /* socket path; its folder is made 0750 */
	unsigned mode;        /* socket-mode, e.g. 0660 */
	int inherited_fd;     /* a listening fd from systemd, or -1 */
	size_t max_line;      /* max-line-bytes */
	const uint32_t *uids; /* allowed-uids; with gids both empty: all */
	size_t n_uids;
	const uint32_t *gids; /* allowed-gids */
	size_t n_gids;
	size_t max_conns; /* 0: 1024 */
	size_t
	    out_high_water; /* bytes queued before a conn is "full"; 0: 4 MiB */
	/* Seconds a connection may hold part of a line without completing
	 * one; then it gets an error and is closed.  Also the time a closing
	 * connection gets to read its last replies.  0: 30. */
	unsigned line_timeout;
	/* Per connection: requests held unanswered (ipc_conn_hold) before
	 * the server stops reading it.  0: unlimited. */
	size_t max_unanswered;
};

/* Start-up: NULL and a malloc'd *cause when the socket cannot be served
 * (another daemon answers there, bad folder, ...). */
struct ipc_server *ipc_server_new(struct event_base *, const struct ipc_opts *,
    struct metrics *, char **cause);
/* Closes every connection (running close hooks) and removes the socket. */
void ipc_server_free(struct ipc_server *);
/* Stops accepting new connections (shutdown); existing ones go on. */
void ipc_server_stop_listening(struct ipc_server *);
size_t ipc_server_conn_count(const struct ipc_server *);

/*
 * A request as the handlers see it: its top-level members, looked up by
 * name (the first of duplicates wins, as in most JSON readers).  No op
 * takes a nested value, so objects and arrays only say they are there.
 * A string's text is unescaped, NUL-terminated and never holds U+0000
 * (the server refuses such lines); a number's text is its JSON text.
 */
enum ipc_type {
	IPC_NULL,
	IPC_FALSE,
	IPC_TRUE,
	IPC_NUMBER,
	IPC_STRING,
	IPC_OBJECT,
	IPC_ARRAY,
};
struct ipc_value {
	enum ipc_type type;
	const char *str; /* STRING and NUMBER: the text; otherwise NULL */
	size_t len;      /* strlen(str) */
};
struct ipc_req;
/* The member called name, or NULL. */
const struct ipc_value *ipc_req_get(const struct ipc_req *, const char *name);
/* The member's text when it is a non-empty string, else NULL. */
const char *ipc_req_string(const struct ipc_req *, const char *name);
/* A number with a whole value in [0, max] (7, 7.0 and 7e0 alike), below
 * 2^53: 0 and *out, or -1 for anything else, NULL included. */
int ipc_value_uint(const struct ipc_value *, uint64_t max, uint64_t *out);

/*
 * A handler for one op.  id is the request's "id" as the JSON text it was
 * sent in (a string with its quotes, or a number), NULL when absent, to
 * echo in replies verbatim; req and id are borrowed until the handler
 * returns (copy id to answer later).
 */
typedef void (*ipc_handler)(
    struct ipc_conn *, const struct ipc_req *req, const char *id, void *arg);
int ipc_register(struct ipc_server *, const char *op, ipc_handler, void *arg);

/* Hooks on every connection: closed (before it is freed), and output
 * drained below the low-water mark after having been full. */
typedef void (*ipc_conn_hook)(struct ipc_conn *, void *arg);
int ipc_on_close(struct ipc_server *, ipc_conn_hook, void *arg);
int ipc_on_drain(struct ipc_server *, ipc_conn_hook, void *arg);

/* {"op":op,"id":id} to be filled and sent; id is the JSON text a handler
 * got (copied), or NULL. */
cJSON *ipc_msg_new(const char *op, const char *id);
/* Queues msg as one line; takes ownership of msg.  0, or -1 when the
 * connection is closing (msg is freed anyway). */
int ipc_conn_send(struct ipc_conn *, cJSON *msg);
/* Queues a line already in JSON (without its newline), for hot paths
 * that format replies themselves; the caller vouches that it is one
 * valid JSON object.  0, or -1 when the connection is closing. */
int ipc_conn_send_line(struct ipc_conn *, const char *line, size_t len);
/* Sends {"op":"error","id":id,"error":code,"message":...}. */
void ipc_conn_error(struct ipc_conn *, const char *id, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sends msg to every open connection; takes ownership of msg. */
void ipc_server_broadcast(struct ipc_server *, cJSON *msg);

/* Whether the connection's output is below its high-water mark: feeders
 * (subscriptions) send only while this holds. */
int ipc_conn_writable(const struct ipc_conn *);

/*
 * Back-pressure: reading stops while any pause reason is set.  Reasons are
 * bits owned by the caller (IPC_PAUSE_PRODUCER, ...).
 */
#define IPC_PAUSE_OUTPUT     0x1u /* the server's own: output full */
#define IPC_PAUSE_PRODUCER   0x2u /* a producer at max-outstanding-requests */
#define IPC_PAUSE_UNANSWERED 0x4u /* the server's own: max_unanswered held */
void ipc_conn_pause(struct ipc_conn *, unsigned reason);
void ipc_conn_resume(struct ipc_conn *, unsigned reason);

/*
 * Requests a module took from c and will answer later (a put waiting for
 * Kinesis): the module calls ipc_conn_hold when it keeps one and
 * ipc_conn_release once it has sent the answer or dropped it.  At the
 * server's max_unanswered the connection is no longer read
 * (IPC_PAUSE_UNANSWERED) until a tenth of them are answered, so that one
 * client cannot take all of a shared producer's room nor grow memory
 * without bound.  Both are no-ops on a connection that is not open.
 */
void ipc_conn_hold(struct ipc_conn *);
void ipc_conn_release(struct ipc_conn *);
size_t ipc_conn_unanswered(const struct ipc_conn *);

uint64_t ipc_conn_id(const struct ipc_conn *); /* unique, for logs */
int ipc_conn_is_open(const struct ipc_conn *);
/*
 * One pointer per subsystem on each connection, so a module finds its
 * per-connection state without a lookup.  The module owns what it stores
 * and clears it in its close hook.
 */
enum ipc_slot {
	IPC_SLOT_PRODUCER,
	IPC_SLOT_CONSUMER,
	IPC_SLOTS,
};
void *ipc_conn_data(const struct ipc_conn *, enum ipc_slot);
void ipc_conn_set_data(struct ipc_conn *, enum ipc_slot, void *);

/* Peer credentials from SO_PEERCRED. */
void ipc_conn_peer(
    const struct ipc_conn *, uint32_t *uid, uint32_t *gid, int32_t *pid);

#endif
