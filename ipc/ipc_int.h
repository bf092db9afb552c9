/*
 * ipc_int.h — inside ipc/: the request scanner that server.c runs on every
 * line (request.c).  Not for other modules: they see a request through
 * ipc_req_get() in ipc.h.
 */
#ifndef KD_IPC_INT_H
#define KD_IPC_INT_H

#include <stddef.h>

#include "ipc/ipc.h"

struct ipc_member {
	const char *name; /* unescaped, NUL-terminated, in buf */
	size_t name_len;
	struct ipc_value v;
	const char *raw; /* the value's JSON text in the line (not copied) */
	size_t raw_len;
};

/*
 * One connection's scanned request, reused line after line so that a
 * steady stream of requests allocates nothing: members and the unescaped
 * strings live in arrays that only grow (and are trimmed after an
 * unusually long line).  Valid until the next scan.
 */
struct ipc_req {
	struct ipc_member *m;
	size_t n, cap;
	char *buf; /* unescaped strings and numbers, each NUL-terminated */
	size_t buf_len, buf_cap;
};

enum ipc_scan {
	IPC_SCAN_OBJECT,     /* one JSON object; members recorded */
	IPC_SCAN_NOT_OBJECT, /* valid JSON, but not an object */
	IPC_SCAN_BAD_JSON,   /* *why and *at say what and where */
	IPC_SCAN_NUL,        /* an object, but a string holds U+0000 */
	IPC_SCAN_NOMEM,
};

/*
 * Scans line[0..len): exactly one JSON value (RFC 8259) in UTF-8 (RFC
 * 3629), blanks around it allowed, objects and arrays at most
 * IPC_SCAN_MAX_DEPTH deep.  Only the top-level object's members are
 * recorded; nested values are checked and skipped (no op takes one).
 */
#define IPC_SCAN_MAX_DEPTH 64
enum ipc_scan ipc_req_scan(struct ipc_req *, const char *line, size_t len,
    const char **why, size_t *at);
/* Gives back memory a long line made the request grow. */
void ipc_req_trim(struct ipc_req *);
void ipc_req_free(struct ipc_req *);

#endif
