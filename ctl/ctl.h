/*
 * ctl.h — kinesisctl's pieces: a blocking line client for the socket and
 * the commands of SPEC section 1.
 */
#ifndef KD_CTL_H
#define KD_CTL_H

#include <stddef.h>

typedef struct cJSON cJSON;

struct ctl_conn {
	int fd;
	char *buf; /* bytes read and not yet returned as lines */
	size_t len, cap;
	const char *path;
};

/* 0, or -1 with a message printed to stderr. */
int ctl_connect(struct ctl_conn *, const char *path);
void ctl_close(struct ctl_conn *);
/* Sends msg as one line; does not take ownership. */
int ctl_send(struct ctl_conn *, const cJSON *msg);
/* The next message, or NULL on timeout (ms, -1 forever), EOF or error;
 * the caller owns it. */
cJSON *ctl_recv(struct ctl_conn *, int timeout_ms);
/* Sends a request with "id" and returns the reply that carries it. */
cJSON *ctl_request(struct ctl_conn *, cJSON *req, int timeout_ms);

int ctl_cmd_ping(struct ctl_conn *, int argc, char **argv);
int ctl_cmd_stats(struct ctl_conn *, int argc, char **argv);
int ctl_cmd_put(struct ctl_conn *, int argc, char **argv);
int ctl_cmd_tail(struct ctl_conn *, int argc, char **argv);
int ctl_cmd_leases(struct ctl_conn *, int argc, char **argv);

#endif
