/*
 * net.c - connect with timeouts, and the buffered stream the SMTP client
 * speaks over. Plaintext I/O exists only until STARTTLS: once c->tls is
 * set every byte goes through tls.c, and there is no way back. Runs as the
 * worker's user; the peer is hostile (bounded lines, deadlines on every
 * wait).
 */
#include "config.h"

#include "eyeballs.h"
#include "net.h"
#include "outcome.h"
#include "resolve.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

uint64_t net_deadline(unsigned timeout_s)
{
	return now_ms() + (uint64_t)timeout_s * 1000;
}

int net_wait(int fd, bool for_write, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline_ms)
			return 0;
		uint64_t left = deadline_ms - now;
		struct pollfd p = { .fd = fd, .events = for_write ? POLLOUT : POLLIN };
		int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0)
			return 1; /* includes POLLHUP/POLLERR: the I/O call reports it */
	}
}

int net_read_until_eof(int fd, void *buf, size_t cap, uint64_t deadline_ms, size_t *n)
{
	*n = 0;
	for (;;) {
		int w = net_wait(fd, false, deadline_ms);
		if (w <= 0)
			return w == 0 ? -2 : -1;
		if (*n == cap) { /* full: end of file, or more than cap? */
			char extra;
			ssize_t r = read_retry(fd, &extra, 1);
			return r == 0 ? 0 : r < 0 ? -1 : 1;
		}
		ssize_t r = read_retry(fd, (char *)buf + *n, cap - *n);
		if (r <= 0)
			return r == 0 ? 0 : -1;
		*n += (size_t)r;
	}
}

void net_init(struct netconn *c)
{
	c->fd = -1;
	c->tls = NULL;
	c->ip[0] = '\0';
	c->port = 0;
	c->rstart = c->rend = 0;
	c->wlen = 0;
}

int net_connect(struct netconn *c, const char *host, unsigned port, unsigned timeout_s, char *err, size_t errlen)
{
	struct resolved addrs;
	int gr = resolve_bounded(host, port, timeout_s, &addrs, err, errlen);
	if (gr != 0)
		return gr == EAI_AGAIN ? LOCAL_TIMEOUT : LOCAL_CONNECT;
	char why[300];
	struct resolved_addr won;
	bool timed_out;
	int fd = eyeballs_connect(host, &addrs, timeout_s, &won, &timed_out, why, sizeof(why));
	const struct resolved_addr *shown = fd >= 0 ? &won : &addrs.a[addrs.n - 1];
	if (getnameinfo((const struct sockaddr *)&shown->addr, shown->len, c->ip, sizeof(c->ip), NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(c->ip, sizeof(c->ip), "?");
	if (fd < 0) {
		set_err(err, errlen, "cannot connect: %s", why);
		return timed_out ? LOCAL_TIMEOUT : LOCAL_CONNECT;
	}
	c->fd = fd;
	c->port = port;
	c->rstart = c->rend = 0;
	c->wlen = 0;
	return 0;
}

static void set_io_err(char *err, size_t errlen, const char *what, int e)
{
	if (e == ECONNRESET || e == EPIPE)
		set_err(err, errlen, "connection closed by server (%s: %s)", what, strerror(e));
	else
		set_err(err, errlen, "%s error: %s", what, strerror(e));
}

#define IO_AGAIN (-2)

/* One read or write attempt over TLS or, before STARTTLS, the plain
 * socket: bytes moved (0 = end of stream on a read), IO_AGAIN with
 * *want_write telling which way to wait, or -1 with err and *local. */
static ssize_t io_once(struct netconn *c, bool reading, void *p, size_t n, bool *want_write, int *local,
		       char *err, size_t errlen)
{
	*want_write = !reading;
	if (c->tls) {
		ssize_t r = reading ? tls_recv(c->tls, p, n, err, errlen) : tls_send(c->tls, p, n, err, errlen);
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			*want_write = r == TLS_WANT_WRITE;
			return IO_AGAIN;
		}
		*local = LOCAL_TLS;
		return r;
	}
	ssize_t r = reading ? recv(c->fd, p, n, 0) : send(c->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return IO_AGAIN;
	set_io_err(err, errlen, reading ? "read" : "write", errno);
	*local = LOCAL_CONNECT;
	return -1;
}

/* Wait for the socket after IO_AGAIN. 0, or a local_error. */
static int io_wait(struct netconn *c, bool want_write, uint64_t deadline_ms, const char *what, char *err,
		   size_t errlen)
{
	int w = net_wait(c->fd, want_write, deadline_ms);
	if (w == 0) {
		set_err(err, errlen, "timed out %s", what);
		return LOCAL_TIMEOUT;
	}
	if (w < 0) {
		set_err(err, errlen, "poll: %s", strerror(errno));
		return LOCAL_CONNECT;
	}
	return 0;
}

/* Read more bytes into rbuf. 0, or a local_error. */
static int fill(struct netconn *c, uint64_t deadline_ms, char *err, size_t errlen)
{
	if (c->rstart > 0 && c->rstart == c->rend)
		c->rstart = c->rend = 0;
	if (c->rstart > 0 && c->rend == sizeof(c->rbuf)) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	for (int spins = 0; spins < 1000; spins++) {
		bool want_write;
		int local = 0;
		ssize_t r = io_once(c, true, c->rbuf + c->rend, sizeof(c->rbuf) - c->rend, &want_write, &local,
				    err, errlen);
		if (r == 0) {
			set_err(err, errlen, "connection closed by server");
			return LOCAL_CONNECT;
		}
		if (r > 0) {
			c->rend += (size_t)r;
			return 0;
		}
		if (r != IO_AGAIN)
			return local;
		int w = io_wait(c, want_write, deadline_ms, "waiting for the server", err, errlen);
		if (w != 0)
			return w;
	}
	set_err(err, errlen, "connection makes no progress");
	return LOCAL_CONNECT;
}

int net_read_line(struct netconn *c, uint64_t deadline_ms, char *line, size_t linemax, size_t *len,
		  char *err, size_t errlen)
{
	for (;;) {
		char *start = c->rbuf + c->rstart;
		size_t avail = c->rend - c->rstart;
		char *nl = memchr(start, '\n', avail);
		if (nl) {
			size_t n = (size_t)(nl - start);
			c->rstart += n + 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			if (n > REPLY_MAX_LINE || n + 1 > linemax) {
				set_err(err, errlen, "reply line too long");
				return LOCAL_PROTOCOL;
			}
			memcpy(line, start, n);
			line[n] = '\0';
			*len = n;
			return 0;
		}
		if (avail > REPLY_MAX_LINE + 2) {
			set_err(err, errlen, "reply line too long");
			return LOCAL_PROTOCOL;
		}
		int r = fill(c, deadline_ms, err, errlen);
		if (r != 0)
			return r;
	}
}

int net_read_reply(struct netconn *c, uint64_t deadline_ms, struct smtp_reply *r, char *err, size_t errlen)
{
	char line[REPLY_MAX_LINE + 1];
	reply_init(r);
	for (;;) {
		size_t n;
		int rc = net_read_line(c, deadline_ms, line, sizeof(line), &n, err, errlen);
		if (rc != 0)
			return rc;
		char why[128];
		enum reply_status st = reply_feed_line(r, line, n, why, sizeof(why));
		if (st == REPLY_DONE)
			return 0;
		if (st == REPLY_BAD) {
			/* quote the offending line, made printable and short */
			char quoted[81];
			size_t q = 0;
			for (size_t i = 0; i < n && q < sizeof(quoted) - 1; i++) {
				unsigned char ch = (unsigned char)line[i];
				quoted[q++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
			}
			quoted[q] = '\0';
			set_err(err, errlen, "protocol error: %s: \"%s\"", why, quoted);
			return LOCAL_PROTOCOL;
		}
	}
}

int net_flush(struct netconn *c, uint64_t deadline_ms, char *err, size_t errlen)
{
	size_t off = 0;
	int spins = 0;
	while (off < c->wlen) {
		bool want_write;
		int local = 0;
		/* the whole buffer in one call: one TLS record */
		ssize_t r = io_once(c, false, c->wbuf + off, c->wlen - off, &want_write, &local, err, errlen);
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r != IO_AGAIN && r != 0)
			return local;
		if (++spins > 100000) {
			set_err(err, errlen, "connection makes no progress");
			return LOCAL_CONNECT;
		}
		int w = io_wait(c, want_write, deadline_ms, "sending to the server", err, errlen);
		if (w != 0)
			return w;
	}
	c->wlen = 0;
	return 0;
}

int net_write(struct netconn *c, const void *p, size_t n, uint64_t deadline_ms, char *err, size_t errlen)
{
	const char *s = p;
	while (n > 0) {
		if (c->wlen == sizeof(c->wbuf)) {
			int r = net_flush(c, deadline_ms, err, errlen);
			if (r != 0)
				return r;
		}
		size_t take = fill_bounded(c->wbuf, sizeof(c->wbuf), &c->wlen, s, n);
		s += take;
		n -= take;
	}
	return 0;
}

int net_writes(struct netconn *c, const char *s, uint64_t deadline_ms, char *err, size_t errlen)
{
	return net_write(c, s, strlen(s), deadline_ms, err, errlen);
}

bool net_has_buffered(struct netconn *c)
{
	if (c->rend > c->rstart)
		return true;
	return c->tls && tls_pending(c->tls) > 0;
}

int net_start_tls(struct netconn *c, const struct sp_tls_policy *pol, const char *host,
		  struct tls_resume *resume, uint64_t deadline_ms, char *err, size_t errlen)
{
	if (c->tls) {
		set_err(err, errlen, "TLS already active");
		return LOCAL_PROTOCOL;
	}
	if (net_has_buffered(c)) {
		set_err(err, errlen, "plaintext after STARTTLS reply: possible injection");
		return LOCAL_PROTOCOL;
	}
	c->rstart = c->rend = 0;
	c->wlen = 0;
	struct tls_conn *t = tls_conn_new(c->fd, pol, host, resume, err, errlen);
	if (!t)
		return LOCAL_CONFIG;
	/* From here on nothing is ever sent in plaintext again, even when the
	 * handshake fails: the caller can only close. */
	c->tls = t;
	return tls_handshake(t, deadline_ms, err, errlen);
}

const char *net_tls_summary(const struct netconn *c)
{
	return c->tls ? tls_summary(c->tls) : "none";
}

void net_close(struct netconn *c)
{
	if (c->tls) {
		tls_close(c->tls, now_ms() + 2000);
		c->tls = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rstart = c->rend = 0;
	c->wlen = 0;
}
