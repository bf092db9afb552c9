/*
 * kdc_int.h — libkinesisd's private header: the handle, its buffers,
 * the table of requests waiting for a reply, the event queue.  Only
 * the library's own .c files include it; nothing here is installed.
 *
 * The life of a connection: kinesisd_connect() -> connected (fd >= 0,
 * gen counts connections) -> lost (a read or write failed, or EOF).  A
 * loss seen inside a callback is only noted (lost_why) and acted on by
 * kdc_lost() once no callback runs (depth == 0): buffers, requests and
 * queued records of a connection are never freed under a callback.
 */
#ifndef KDC_INT_H
#define KDC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kinesisd.h"

typedef struct cJSON cJSON;

/* A byte buffer: the bytes in [off, len) are queued. */
struct kdc_buf {
	char *p;
	size_t off, len, cap;
};

enum kdc_req_kind {
	KDC_REQ_PUT,
	KDC_REQ_FLUSH,
	KDC_REQ_SUBSCRIBE,
	KDC_REQ_UNSUBSCRIBE,
	KDC_REQ_HELLO,
	KDC_REQ_PING,
};

/* A waiting call's state, on its stack; borrowed by its request until
 * the call returns (it detaches itself on timeout). */
struct kdc_wait {
	int done;
	int status;
	struct kinesisd_put_result *put; /* put_wait: where the result goes */
	struct kinesisd_hello *hello;    /* hello: the reply, owned here */
	char error[64];                  /* an error reply's code */
	char message[512];               /* and message */
};

/* A request sent with an id, until its reply. */
struct kdc_req {
	uint64_t id;
	enum kdc_req_kind kind;
	kinesisd_put_cb put_cb; /* PUT with a callback */
	void *arg;
	struct kdc_wait *wait; /* a waiting call, or NULL */
	char *name;            /* SUBSCRIBE, UNSUBSCRIBE: the consumer, owned */
	unsigned max_in_flight;
	struct kdc_req *hnext;       /* hash chain */
	struct kdc_req *prev, *next; /* all requests, in id order */
};

/* A subscription to make again on reconnect. */
struct kdc_sub {
	char *consumer; /* owned */
	unsigned max_in_flight;
};

/* An event with what its public fields point into. */
struct kdc_event {
	struct kinesisd_event pub; /* first: kinesisd_event_free casts back */
	cJSON *root;               /* owns the strings */
	char *json;
	unsigned char *data;
	struct kinesisd_position *failed;
	struct kdc_event *next; /* queue */
};

struct kinesisd {
	size_t out_limit;
	int send_timeout_ms;
	unsigned flags;
	char *client; /* hello's "client", owned */
	char *path;   /* the last connect's, owned; NULL after connect_fd */

	int fd;
	uint64_t gen; /* connections made so far; the current one's number */
	struct kdc_buf in, out;
	size_t scan; /* bytes after in.off already searched for '\n' */
	int lost;    /* a loss is noted; kdc_lost() acts on it */
	char lost_why[256];

	uint64_t next_id;
	struct kdc_req **buckets;
	size_t n_buckets, n_pending;
	struct kdc_req *first, *last;

	struct kdc_sub *subs;
	size_t n_subs;

	struct kdc_event *evq_head, *evq_tail;
	kinesisd_event_cb ev_cb;
	void *ev_arg;

	int depth;         /* callbacks running */
	int close_pending; /* kinesisd_close() from a callback */
	char err[512];
};

/* client.c */
int kdc_err(struct kinesisd *, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kdc_closed_status(struct kinesisd *);
void kdc_note_lost(struct kinesisd *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int kdc_settle(struct kinesisd *);
int kdc_wait(struct kinesisd *, int timeout_ms,
    int (*cond)(struct kinesisd *, void *), void *arg);
int kdc_room(struct kinesisd *, int may_wait);
void kdc_try_write(struct kinesisd *);
void kdc_dispatch_enter(struct kinesisd *);
void kdc_dispatch_leave(struct kinesisd *);

/* requests.c */
struct kdc_req *kdc_req_new(struct kinesisd *, enum kdc_req_kind);
struct kdc_req *kdc_req_find(struct kinesisd *, uint64_t id);
void kdc_req_remove(struct kinesisd *, struct kdc_req *);
void kdc_req_free(struct kdc_req *);
void kdc_req_complete(struct kinesisd *, struct kdc_req *, const char *op,
    const cJSON *msg, int status);
int kdc_resubscribe(struct kinesisd *, int timeout_ms);
void kdc_subs_free(struct kinesisd *);

/* events.c */
void kdc_handle_line(struct kinesisd *, const char *line, size_t len);
void kdc_evq_drop_records(struct kinesisd *, uint64_t gen);
void kdc_evq_free(struct kinesisd *);

/* codec.c */
int kdc_buf_reserve(struct kdc_buf *, size_t more);
int kdc_buf_add(struct kdc_buf *, const char *s, size_t n);
int kdc_buf_adds(struct kdc_buf *, const char *s);
int kdc_buf_add_json_string(struct kdc_buf *, const char *s);
int kdc_buf_add_base64(struct kdc_buf *, const void *data, size_t len);
int kdc_buf_add_u64(struct kdc_buf *, uint64_t v);
void kdc_buf_compact(struct kdc_buf *);
void kdc_buf_free(struct kdc_buf *);
/* Decodes standard base64 with padding into a malloc'd, NUL-terminated
 * buffer; -1 when not base64 or out of memory (*out NULL). */
int kdc_base64_decode(
    const char *s, size_t n, unsigned char **out, size_t *outlen);
/* Code points in a valid UTF-8 string, or -1 when not valid. */
long kdc_utf8_chars(const char *s);
char *kdc_strdup(const char *s);

#endif
