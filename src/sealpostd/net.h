/*
 * net.h - the worker's connection to a relay: connect with a timeout over
 * every address of the host (raced, RFC 8305: eyeballs.h), TCP_NODELAY,
 * and one buffered line-oriented stream that is plaintext only until STARTTLS (then everything goes
 * through tls.h). Every read and write is bounded by a deadline. The peer
 * is hostile: lines are bounded, and bytes buffered at the moment of
 * STARTTLS are detectable (response injection).
 */
#ifndef SEALPOSTD_NET_H
#define SEALPOSTD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "reply.h"
#include "tls.h"

#define NET_WBUF_SIZE 16384 /* one full TLS record */

struct netconn {
	int fd;                    /* -1 when closed */
	struct tls_conn *tls;      /* NULL before STARTTLS / implicit TLS */
	char ip[64];               /* the address connected to, for logs */
	unsigned port;
	size_t rstart, rend;
	char rbuf[REPLY_MAX_LINE + 512];
	size_t wlen;
	char wbuf[NET_WBUF_SIZE];
};

/* The deadline timeout_s seconds from now (0 = no limit is never used:
 * callers always pass a positive timeout). */
uint64_t net_deadline(unsigned timeout_s);

/* Wait until fd is readable (or writable), or the deadline passes.
 * 1 ready, 0 timed out, -1 error (errno). */
int net_wait(int fd, bool for_write, uint64_t deadline_ms);

/* Read fd (a pipe from a helper child) until end of file: at most cap
 * bytes, *n of them read, until deadline_ms. 0 end of file, 1 cap reached
 * with more to read, -2 deadline passed, -1 error. */
int net_read_until_eof(int fd, void *buf, size_t cap, uint64_t deadline_ms, size_t *n);

void net_init(struct netconn *c);
/* Connect to host:port: resolve (bounded by timeout_s), then race the
 * addresses (eyeballs.h), each attempt bounded by timeout_s.
 * 0, or a local_error (LOCAL_CONNECT, LOCAL_TIMEOUT) with the reason. */
int net_connect(struct netconn *c, const char *host, unsigned port, unsigned timeout_s, char *err, size_t errlen);

/*
 * Read one line (without CR LF) into line (NUL-terminated; NUL bytes from
 * the peer stay in *len). 0, or LOCAL_TIMEOUT, LOCAL_CONNECT (closed),
 * LOCAL_PROTOCOL (longer than REPLY_MAX_LINE), LOCAL_TLS, with err.
 */
int net_read_line(struct netconn *c, uint64_t deadline_ms, char *line, size_t linemax, size_t *len,
		  char *err, size_t errlen);
/* Read one complete SMTP reply. 0 or a local_error with err. */
int net_read_reply(struct netconn *c, uint64_t deadline_ms, struct smtp_reply *r, char *err, size_t errlen);

/* Queue bytes; a full buffer is flushed (as one TLS record). */
int net_write(struct netconn *c, const void *p, size_t n, uint64_t deadline_ms, char *err, size_t errlen);
int net_writes(struct netconn *c, const char *s, uint64_t deadline_ms, char *err, size_t errlen);
/* Send everything queued. 0 or a local_error. */
int net_flush(struct netconn *c, uint64_t deadline_ms, char *err, size_t errlen);

/* True when the peer sent bytes we have not consumed yet. */
bool net_has_buffered(struct netconn *c);

/*
 * Start TLS on the connection (after the STARTTLS 220, or at once for
 * implicit TLS): refuses when any received byte is still unconsumed
 * (LOCAL_PROTOCOL, "plaintext after STARTTLS reply: possible injection"),
 * then handshakes and verifies (tls.h). 0 or a local_error.
 */
int net_start_tls(struct netconn *c, const struct sp_tls_policy *pol, const char *host,
		  struct tls_resume *resume, uint64_t deadline_ms, char *err, size_t errlen);

/* "TLS1.3/AES-256-GCM verified", or "none". */
const char *net_tls_summary(const struct netconn *c);

/* Close TLS (close_notify, bounded) and the socket. Safe to call twice. */
void net_close(struct netconn *c);

#endif
