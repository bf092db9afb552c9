/*
 * notify.c — sd_notify(3) and sd_listen_fds(3) written out: a datagram to
 * $NOTIFY_SOCKET, and fd 3 when $LISTEN_PID is us.  Small enough that
 * linking libsystemd for it is not worth the dependency.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/kd.h"
#include "log/log.h"

void
kd_notify(const char *state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *path = getenv("NOTIFY_SOCKET");
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	if ((n = strlen(path)) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, n);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	        (struct sockaddr *)&sun, len) == -1)
		log_warn("daemon", "sd_notify %s", path);
	close(fd);
}

uint64_t
kd_notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	return v;
}

int
kd_listen_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = 3;

	if (pid == NULL || fds == NULL)
		return -1;
	if (strtol(pid, NULL, 10) != (long)getpid() ||
	    strtol(fds, NULL, 10) < 1)
		return -1;
	if (strtol(fds, NULL, 10) > 1)
		log_warnx("daemon",
		    "LISTEN_FDS=%s: serving the first socket only", fds);
	/* Children must not inherit these. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}
