/*
 * conn.c — kinesisctl's blocking client: one line out, lines back.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cJSON.h>

#include "ctl/ctl.h"

int
ctl_connect(struct ctl_conn *c, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	c->path = path;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "kinesisctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr,
		    "kinesisctl: cannot connect to %s: %s\n"
		    "  is kinesisd running? (-s SOCKET or $KINESISD_SOCKET "
		    "choose another socket)\n",
		    path, strerror(errno));
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

void
ctl_close(struct ctl_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

int
ctl_send(struct ctl_conn *c, const cJSON *msg)
{
	char *text = cJSON_PrintUnformatted(msg);
	size_t len, off = 0;
	int rc = 0;

	if (text == NULL)
		return -1;
	len = strlen(text);
	text[len++] = '\n'; /* overwrites the NUL; len counts it */
	while (off < len) {
		ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "kinesisctl: %s: %s\n", c->path,
			    n == 0 ? "connection closed" : strerror(errno));
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	free(text);
	return rc;
}

cJSON *
ctl_recv(struct ctl_conn *c, int timeout_ms)
{
	for (;;) {
		char *nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL;
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (nl != NULL) {
			size_t linelen = (size_t)(nl - c->buf);
			cJSON *m = cJSON_ParseWithLength(c->buf, linelen);
			memmove(c->buf, nl + 1, c->len - linelen - 1);
			c->len -= linelen + 1;
			if (m != NULL)
				return m;
			fprintf(stderr, "kinesisctl: ignoring a reply that is "
			                "not JSON\n");
			continue;
		}
		if (c->cap - c->len < 65536) {
			char *nb = realloc(c->buf, c->cap + 65536);
			if (nb == NULL)
				return NULL;
			c->buf = nb;
			c->cap += 65536;
		}
		n = poll(&pfd, 1, timeout_ms);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

cJSON *
ctl_request(struct ctl_conn *c, cJSON *req, int timeout_ms)
{
	static int next_id;
	int id = ++next_id;
	cJSON *m;

	cJSON_DeleteItemFromObject(req, "id");
	cJSON_AddNumberToObject(req, "id", id);
	if (ctl_send(c, req) == -1)
		return NULL;
	while ((m = ctl_recv(c, timeout_ms)) != NULL) {
		const cJSON *rid = cJSON_GetObjectItem(m, "id");
		if (cJSON_IsNumber(rid) && rid->valueint == id)
			return m;
		cJSON_Delete(m);
	}
	return NULL;
}
