/*
 * encode.h - the intake's output side: a bounded, buffered writer to the
 * spool file that counts bytes (max_message_size), notices 8-bit bytes and
 * keeps the first error; and per-line transforms that keep every stored
 * line within 998 octets (quoted-printable encoding, soft-breaking an
 * existing QP line, re-wrapping base64, hard-wrapping ignored text, and
 * folding header lines at whitespace).
 * No privilege; all state is fixed-size.
 */
#ifndef SEALPOST_ENCODE_H
#define SEALPOST_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINE_MAX_OCTETS 998 /* RFC 5322 2.1.1, without the CRLF */
#define QP_LINE_MAX 76      /* RFC 2045 6.7 (5), with the soft break '=' */

struct msgout {
	int fd;
	uint64_t total;   /* bytes accepted so far */
	uint64_t max;     /* 0 = unlimited */
	bool eightbit;
	int status;       /* 0, or the first sysexits code (sticky) */
	char err[256];
	size_t len;
	char buf[16384];
};

void msgout_init(struct msgout *o, int fd, uint64_t max);
void msgout_write(struct msgout *o, const void *p, size_t n);
void msgout_puts(struct msgout *o, const char *s);
/* Write out the buffer; sets status on error. */
void msgout_flush(struct msgout *o);

enum xform_kind {
	XF_COPY,      /* as is */
	XF_DROP,      /* nothing, not even the line end */
	XF_QP,        /* quoted-printable encode (RFC 2045) */
	XF_QP_SPLIT,  /* already QP: add soft breaks, keep =XX together */
	XF_WRAP76,    /* base64: cut into 76-octet lines */
	XF_WRAP998,   /* text nobody reads (preamble): cut at 998 octets */
	XF_FOLD,      /* header line: fold at whitespace, else insert CRLF SP
		       * (at a UTF-8 character boundary) */
};

/* One line passes through a transform: begin, bytes (content without the
 * line end, in any chunks), end (writes the CRLF). */
struct xform {
	enum xform_kind kind;
	size_t col;       /* octets on the current output line */
	int pending_ws;   /* XF_QP: a space/tab held back (-1: none) */
	size_t esc;       /* XF_QP_SPLIT: octets left in an =XX being copied */
	size_t wlen;      /* XF_FOLD*: bytes in the window */
	char win[LINE_MAX_OCTETS];
};

void xform_begin(struct xform *x, enum xform_kind kind);
void xform_bytes(struct xform *x, struct msgout *o, const char *p, size_t n);
void xform_end(struct xform *x, struct msgout *o);

#endif
