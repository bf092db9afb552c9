/*
 * kdload — the benchmarks' socket client (and the raw-socket peer).
 *
 *   kdload put SOCKET PRODUCER N SIZE [RATE]
 *       N puts of SIZE-byte records (base64 "data", ids 0..N-1, 10,000
 *       keys) written as fast as the daemon reads them, or RATE a second;
 *       counts put_ok/put_failed and, per id, the time from writing the
 *       put to reading its answer.  Prints one JSON line.
 *   kdload raw-serve SOCKET
 *       The physical limit: a Unix socket server that answers every line
 *       it reads with a put_ok of kinesisd's shape carrying its id, doing
 *       nothing else.  `kdload put` against it moves the same bytes as
 *       against kinesisd.  Serves one connection, then exits printing
 *       its CPU time per line as one JSON line.
 *   kdload consume SOCKET CONSUMER N [MAX_IN_FLIGHT]
 *       Subscribes, acks every record at once, stops after N records.
 *       Prints one JSON line.
 *
 * A benchmark tool: no JSON parser, just the field scanning that the
 * daemon's fixed output shapes allow.  Loopback only (a Unix socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP   (8u << 20)
#define OUT_CAP  (32u << 20)
#define READ_MAX (2u << 20) /* answers to one read fit in OUT_CAP / 2 */

struct io {
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_off, out_len;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "kdload: socket path too long\n");
		exit(1);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die(path);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void
io_init(struct io *io, int fd)
{
	io->fd = fd;
	io->in = malloc(IN_CAP);
	io->out = malloc(OUT_CAP);
	if (io->in == NULL || io->out == NULL)
		die("malloc");
	io->in_len = io->out_off = io->out_len = 0;
}

/* Room for n more output bytes, compacting first. */
static char *
io_room(struct io *io, size_t n)
{
	if (io->out_off > 0) {
		memmove(
		    io->out, io->out + io->out_off, io->out_len - io->out_off);
		io->out_len -= io->out_off;
		io->out_off = 0;
	}
	return io->out_len + n <= OUT_CAP ? io->out + io->out_len : NULL;
}

/* Writes what is pending; -1 when the peer is gone. */
static int
io_flush(struct io *io)
{
	while (io->out_off < io->out_len) {
		ssize_t w = write(
		    io->fd, io->out + io->out_off, io->out_len - io->out_off);
		if (w > 0) {
			io->out_off += (size_t)w;
			continue;
		}
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	io->out_off = io->out_len = 0;
	return 0;
}

/* Reads; calls line() for each complete line.  -1 at EOF or error. */
static int
io_read(struct io *io, void (*line)(char *, size_t, void *), void *arg)
{
	size_t want =
	    IN_CAP - io->in_len < READ_MAX ? IN_CAP - io->in_len : READ_MAX;
	ssize_t r = read(io->fd, io->in + io->in_len, want);
	char *p, *nl, *end;

	if (r == 0)
		return -1;
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	io->in_len += (size_t)r;
	p = io->in;
	end = io->in + io->in_len;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		*nl = '\0';
		line(p, (size_t)(nl - p), arg);
		p = nl + 1;
	}
	io->in_len = (size_t)(end - p);
	memmove(io->in, p, io->in_len);
	return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t
base64(const unsigned char *s, size_t n, char *o)
{
	size_t j = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v =
		    (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		o[j++] = b64[v >> 18];
		o[j++] = b64[(v >> 12) & 63];
		o[j++] = b64[(v >> 6) & 63];
		o[j++] = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		o[j++] = b64[v >> 18];
		o[j++] = b64[(v >> 12) & 63];
		o[j++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		o[j++] = '=';
	}
	return j;
}

/* The integer after "key": in a line, or -1. */
static long long
field_num(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p != NULL ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* ---- put ------------------------------------------------------------------
 */

struct put {
	size_t n, ok, failed, answered;
	double *sent_at;
	double *lat;
	size_t n_lat;
};

static void
put_line(char *line, size_t len, void *arg)
{
	struct put *p = arg;
	long long id;

	(void)len;
	if (strncmp(line, "{\"op\":\"put_ok\"", 14) == 0)
		p->ok++;
	else if (strncmp(line, "{\"op\":\"put_failed\"", 18) == 0)
		p->failed++;
	else {
		fprintf(stderr, "kdload: %s\n", line);
		return;
	}
	p->answered++;
	id = field_num(line, "\"id\":");
	if (id >= 0 && (size_t)id < p->n && p->sent_at[id] > 0)
		p->lat[p->n_lat++] = now_s() - p->sent_at[id];
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i] * 1000.0;
}

/* One put line for record i into out; its length. */
static size_t
put_format(char *out, const char *producer, unsigned char *data, size_t size,
    char *enc, size_t i)
{
	size_t el;

	memcpy(data, &i, sizeof(i) < size ? sizeof(i) : size);
	el = base64(data, size, enc);
	enc[el] = '\0';
	return (size_t)sprintf(out,
	    "{\"op\":\"put\",\"producer\":\"%s\",\"key\":\"k%zu\","
	    "\"data\":\"%s\",\"id\":%zu}\n",
	    producer, (i * 7919) % 10000, enc, i);
}

static int
cmd_put(
    const char *path, const char *producer, size_t n, size_t size, double rate)
{
	struct put p = {.n = n};
	struct io io;
	unsigned char *data = malloc(size + 1);
	char *enc = malloc(size * 2 + 8);
	size_t i = 0, line_max = size * 2 + strlen(producer) + 128;
	size_t all_len = 0, all_off = 0;
	char *all = NULL;
	double t0, t_end, deadline;

	p.sent_at = calloc(n, sizeof(double));
	p.lat = calloc(n, sizeof(double));
	if (data == NULL || enc == NULL || p.sent_at == NULL || p.lat == NULL)
		die("malloc");
	for (size_t j = 0; j < size; j++)
		data[j] = (unsigned char)(j * 31 + 7);
	io_init(&io, unix_connect(path));
	if (rate <= 0) {
		/* Throughput: every line made before the clock starts, so
		 * that the client costs as little as it can. */
		all = malloc(n * line_max);
		if (all == NULL)
			die("malloc");
		for (i = 0; i < n; i++)
			all_len += put_format(
			    all + all_len, producer, data, size, enc, i);
	}
	t0 = now_s();
	deadline = t0 + 600;
	i = 0;
	while (p.answered < n && now_s() < deadline) {
		struct pollfd pfd = {.fd = io.fd, .events = POLLIN};
		double t = now_s();
		size_t due;
		char *room;

		if (all != NULL) {
			if (all_off < all_len) {
				size_t want = all_len - all_off < (1u << 20)
				                  ? all_len - all_off
				                  : (1u << 20);
				ssize_t w = write(io.fd, all + all_off, want);
				if (w > 0)
					all_off += (size_t)w;
				else if (w == -1 && errno != EAGAIN &&
				         errno != EINTR)
					break;
				if (all_off < all_len)
					pfd.events |= POLLOUT;
			}
		} else {
			due = (size_t)((t - t0) * rate) + 1;
			if (due > n)
				due = n;
			while (i < due &&
			       (room = io_room(&io, line_max)) != NULL) {
				io.out_len += put_format(
				    room, producer, data, size, enc, i);
				p.sent_at[i] = t;
				i++;
			}
			if (io_flush(&io) == -1)
				break;
			if (io.out_off < io.out_len)
				pfd.events |= POLLOUT;
		}
		if (poll(&pfd, 1, rate > 0 ? 1 : 100) == -1 && errno != EINTR)
			die("poll");
		if ((pfd.revents & (POLLIN | POLLHUP)) &&
		    io_read(&io, put_line, &p) == -1)
			break;
	}
	if (all != NULL)
		i = n;
	t_end = now_s();
	qsort(p.lat, p.n_lat, sizeof(double), cmp_double);
	/* Without a rate the latencies are queueing times: 0 = none. */
	printf(
	    "{\"sent\":%zu,\"ok\":%zu,\"failed\":%zu,\"seconds\":%.3f,"
	    "\"rps\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f}\n",
	    i, p.ok, p.failed, t_end - t0, (double)p.answered / (t_end - t0),
	    pct(p.lat, p.n_lat, 0.5), pct(p.lat, p.n_lat, 0.99),
	    pct(p.lat, p.n_lat, 0.999));
	return p.ok == n ? 0 : 1;
}

/* ---- raw-serve -------------------------------------------------------------
 */

struct raw {
	struct io *io;
	unsigned long long n;
};

static void
raw_line(char *line, size_t len, void *arg)
{
	struct raw *r = arg;
	long long id = field_num(line, "\"id\":");
	char *room;

	(void)len;
	/* The output buffer is flushed before each read: room is there. */
	if ((room = io_room(r->io, 160)) == NULL)
		return;
	r->io->out_len += (size_t)sprintf(room,
	    "{\"op\":\"put_ok\",\"id\":%lld,\"shard\":\"shardId-000000000001\","
	    "\"seq\":\"49680565998866965196655635895593804628084091089%09llu\","
	    "\"subseq\":%llu}\n",
	    id, r->n, r->n % 400);
	r->n++;
}

static int
cmd_raw_serve(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct raw r;
	struct io io;
	int ls, fd;

	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	unlink(path);
	if ((ls = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(ls, 4) == -1)
		die(path);
	if ((fd = accept(ls, NULL, NULL)) == -1)
		die("accept");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	io_init(&io, fd);
	r.io = &io;
	r.n = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = 0};
		if (io_flush(&io) == -1)
			break;
		/* Read only with room for the answers, as a daemon would. */
		if (io.out_len < OUT_CAP / 2)
			pfd.events |= POLLIN;
		if (io.out_len > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR)
			die("poll");
		if ((pfd.revents & (POLLIN | POLLHUP)) &&
		    io_read(&io, raw_line, &r) == -1)
			break;
	}
	unlink(path);
	{
		struct timespec ts;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		printf("{\"lines\":%llu,\"cpu_us\":%.3f}\n", r.n,
		    r.n > 0
		        ? ((double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3) /
		              (double)r.n
		        : 0);
	}
	return 0;
}

/* ---- consume ---------------------------------------------------------------
 */

struct cons {
	struct io *io;
	const char *consumer;
	size_t n, got;
	double first;
};

/* Copies the string value after "key":" into out (cap bytes). */
static int
field_str(const char *line, const char *key, char *out, size_t cap)
{
	const char *p = strstr(line, key), *q;

	if (p == NULL)
		return -1;
	p += strlen(key);
	if ((q = strchr(p, '"')) == NULL || (size_t)(q - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return 0;
}

static void
cons_line(char *line, size_t len, void *arg)
{
	struct cons *c = arg;
	char shard[128], seq[160], *room;
	long long subseq;

	(void)len;
	if (strncmp(line, "{\"op\":\"record\"", 14) != 0) {
		if (strstr(line, "\"op\":\"error\"") != NULL)
			fprintf(stderr, "kdload: %s\n", line);
		return;
	}
	if (c->got++ == 0)
		c->first = now_s();
	if (field_str(line, "\"shard\":\"", shard, sizeof(shard)) != 0 ||
	    field_str(line, "\"seq\":\"", seq, sizeof(seq)) != 0 ||
	    (subseq = field_num(line, "\"subseq\":")) < 0) {
		fprintf(stderr, "kdload: cannot read %.200s\n", line);
		return;
	}
	if ((room = io_room(c->io, 400)) == NULL)
		return; /* cannot happen: flushed before reading */
	c->io->out_len += (size_t)sprintf(room,
	    "{\"op\":\"ack\",\"consumer\":\"%s\",\"shard\":\"%s\",\"seq\":\"%"
	    "s\","
	    "\"subseq\":%lld}\n",
	    c->consumer, shard, seq, subseq);
}

static int
cmd_consume(const char *path, const char *consumer, size_t n, size_t mif)
{
	struct cons c = {.consumer = consumer, .n = n};
	struct io io;
	double t_end, deadline;
	char *room;

	io_init(&io, unix_connect(path));
	c.io = &io;
	room = io_room(&io, 256);
	io.out_len += (size_t)sprintf(room,
	    "{\"op\":\"subscribe\",\"consumer\":\"%s\",\"max_in_flight\":%zu,"
	    "\"id\":1}\n",
	    consumer, mif);
	deadline = now_s() + 600;
	while (c.got < n && now_s() < deadline) {
		struct pollfd pfd = {.fd = io.fd, .events = 0};
		if (io_flush(&io) == -1)
			break;
		if (io.out_len < OUT_CAP / 2)
			pfd.events |= POLLIN;
		if (io.out_len > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			die("poll");
		if ((pfd.revents & (POLLIN | POLLHUP)) &&
		    io_read(&io, cons_line, &c) == -1)
			break;
	}
	io_flush(&io);
	t_end = now_s();
	printf("{\"records\":%zu,\"seconds\":%.3f,\"rps\":%.0f}\n", c.got,
	    t_end - c.first, c.got > 0 ? (double)c.got / (t_end - c.first) : 0);
	return c.got >= n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "put") == 0)
		return cmd_put(argv[2], argv[3], strtoul(argv[4], NULL, 10),
		    strtoul(argv[5], NULL, 10),
		    argc > 6 ? strtod(argv[6], NULL) : 0);
	if (argc == 3 && strcmp(argv[1], "raw-serve") == 0)
		return cmd_raw_serve(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "consume") == 0)
		return cmd_consume(argv[2], argv[3], strtoul(argv[4], NULL, 10),
		    argc > 5 ? strtoul(argv[5], NULL, 10) : 10000);
	fprintf(stderr,
	    "usage: kdload put SOCKET PRODUCER N SIZE [RATE]\n"
	    "       kdload raw-serve SOCKET\n"
	    "       kdload consume SOCKET CONSUMER N [MAX_IN_FLIGHT]\n");
	return 64;
}
