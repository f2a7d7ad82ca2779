/*
 * bs.h - `sealpost -bs`: the server side of an SMTP dialogue on stdin and
 * stdout (RFC 5321, as Symfony Mailer speaks it), each message queued
 * through the submit API. Runs with the front end's privilege; trusts
 * nothing the client sends. Every error is an SMTP reply: nothing is ever
 * written to stderr (Symfony treats stderr output as failure).
 */
#ifndef SEALPOST_BS_H
#define SEALPOST_BS_H

#include <stdbool.h>
#include <stddef.h>

#include "submit.h"

#define BS_MAX_LINE 1000      /* a command line, CRLF included (RFC 5321 4.5.3.1.6) */
#define BS_MAX_RCPTS 10000    /* recipients per message; more: 452 4.5.3 */
#define BS_MAX_ERRORS 50      /* bad commands per session before 421 */
#define BS_MAX_PATH 254       /* a path without its <> (RFC 5321 4.5.3.1.3) */

/*
 * Run one session. Recipients given on the command line are ignored, as
 * sendmail does with -bs. Returns the exit status: 0 when the session ended
 * with QUIT, or with end of input outside a transaction; EX_TEMPFAIL when
 * input ended or timed out in the middle of a transaction (nothing of that
 * message is queued) or after too many errors; EX_IOERR when reading or
 * writing failed. Symfony ignores the status.
 */
int bs_session(const struct submit_ctx *ctx, int in_fd, int out_fd);

/* ---- the command parser, exposed for unit tests ---- */

enum bs_verb {
	BS_UNKNOWN,
	BS_HELO,
	BS_EHLO,
	BS_MAIL,
	BS_RCPT,
	BS_DATA,
	BS_RSET,
	BS_NOOP,
	BS_QUIT,
	BS_VRFY,
	BS_EXPN,
	BS_HELP,
	BS_NOT_IMPLEMENTED, /* STARTTLS, AUTH, BDAT, ETRN, TURN: 502 */
};

/* Split a command line (line end already removed) into its verb and the
 * argument that follows (spaces skipped; "" when none). */
enum bs_verb bs_parse_verb(const char *line, const char **arg);

/* The parsed argument of MAIL FROM: / RCPT TO:. */
struct bs_path {
	char addr[BS_MAX_PATH + 1]; /* the mailbox, without <>; "" = null path */
	const char *params;         /* ESMTP parameters after the path; "" when none */
};

/*
 * Parse "FROM:<addr> params" (keyword "FROM") or "TO:<addr> params".
 * Accepts a space after the colon and a path without brackets (as sendmail
 * and Postfix do), drops a source route (<@a,@b:user@x>), and checks the
 * mailbox with address_smtp_safe(): a dot-string or quoted local part,
 * optionally "@" and a domain or address literal; UTF-8 allowed; no
 * controls, no lists. Returns 0, or
 * -1 for a syntax error of the command (501 5.5.4), -2 for a bad address
 * (501 5.1.7 / 5.1.3).
 */
int bs_parse_path(const char *arg, const char *keyword, struct bs_path *out);

/* Decode RFC 3461 xtext ("a+2Bb" -> "a+b") into out. false when malformed,
 * too long, or the result holds controls. */
bool bs_xtext_decode(const char *s, size_t n, char *out, size_t outlen);

/* Parse a NOTIFY= value ("NEVER" or a list of SUCCESS,FAILURE,DELAY) into
 * NOTIFY_* bits; 0 when malformed. */
unsigned bs_parse_notify(const char *s, size_t n);

#endif
