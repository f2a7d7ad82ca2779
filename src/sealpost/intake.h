/*
 * intake.h - turn a caller's message (any line ends, PHP's mixed ones,
 * long lines, missing headers) into the strict form sealpost stores and
 * transmits: CRLF line ends, no bare CR/LF, no line over 998 octets
 * (quoted-printable re-encoding of the body or the affected MIME part),
 * Bcc removed, From/Date/Message-ID added. Streams: memory is bounded by
 * the header section limit, never by the message size.
 * Runs without extra privilege; trusts nothing in the input.
 *
 * Behaviour the callers can rely on (details in intake.c):
 *  - stored: CRLF line ends, not dot-stuffed, always a blank line after
 *    the header section, a final line end added when missing;
 *  - generated From:/Date:/Message-ID: go at the end of the header
 *    section; no From: is generated when from_addr is NULL or "";
 *  - Bcc: and Resent-Bcc: are removed with or without -t;
 *  - a first line "From " (mbox) is dropped; a line that is not a header
 *    field ends the header section (a blank line is inserted before it);
 *  - a header line over 998 octets is folded at whitespace, or rejected
 *    with EX_DATAERR "header line too long" when it has none;
 *  - rcpts are addr-specs as parsed (bare names unqualified, not
 *    deduplicated): the caller aliases, qualifies and deduplicates.
 */
#ifndef SEALPOST_INTAKE_H
#define SEALPOST_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

#define INTAKE_MAX_HEADER_BYTES (1024 * 1024) /* whole header section */

struct intake_opts {
	bool extract_recipients;  /* -t: collect To/Cc/Bcc (Resent-* when present) */
	const char *from_addr;    /* address for a generated From: (qualified) */
	const char *full_name;    /* -F or GECOS name for a generated From:; may be NULL */
	const char *hostname;     /* Message-ID domain */
	uint64_t max_size;        /* of the stored message; 0 = unlimited */
	time_t now;               /* for Date: (tests pin it) */
};

struct intake_result {
	char **rcpts;             /* with -t: addr-specs from the headers, as written */
	size_t nrcpts;
	bool eightbit;            /* 8-bit bytes in the stored message */
	bool smtputf8;            /* non-ASCII in a header address */
	char *message_id;         /* the Message-ID (given or generated), for logs */
};

struct intake;

/* The writer's fd receives the stored message; intake may call
 * spool_writer_restart() to re-encode. */
struct intake *intake_new(const struct intake_opts *o, struct spool_writer *w);
/* Feed raw bytes as they come (any chunking). Returns 0 or a sysexits
 * code (EX_DATAERR: NUL byte, too big, header section too large;
 * EX_CANTCREAT: write error) with a message in err. */
int intake_feed(struct intake *in, const char *p, size_t n, char *err, size_t errlen);
/* End of input: flush, fix up, fill res. 0 or a sysexits code. */
int intake_finish(struct intake *in, struct intake_result *res, char *err, size_t errlen);
void intake_free(struct intake *in);
void intake_result_free(struct intake_result *res);

#endif
