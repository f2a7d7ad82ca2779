/*
 * outcome.h - the ONE place that decides what a result means for a
 * recipient: delivered, temporary (retry later) or permanent (bounce), with
 * an RFC 3463 status for the DSN. Pure function, no I/O; used by the
 * one-shot worker, the daemon and --probe alike.
 */
#ifndef SEALPOSTD_OUTCOME_H
#define SEALPOSTD_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

enum outcome { OUTCOME_DELIVERED, OUTCOME_TEMPORARY, OUTCOME_PERMANENT };

/* Where in the dialogue the reply (or the failure) happened. */
enum smtp_stage {
	STAGE_CONNECT,    /* TCP connect */
	STAGE_GREETING,
	STAGE_EHLO,
	STAGE_STARTTLS,
	STAGE_TLS,        /* handshake and verification */
	STAGE_AUTH,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,       /* the reply to DATA (354 expected) */
	STAGE_EOD,        /* the reply after "." */
	STAGE_RSET,
};

/* Local failures, i.e. everything that is not an SMTP reply. */
enum local_error {
	LOCAL_NONE = 0,
	LOCAL_CONNECT,        /* resolve/connect failed, connection lost */
	LOCAL_TIMEOUT,
	LOCAL_PROTOCOL,       /* garbage, talk before greeting, injection */
	LOCAL_TLS,            /* handshake failed, old protocol negotiated */
	LOCAL_TLS_VERIFY,     /* certificate or pin not accepted */
	LOCAL_NO_STARTTLS,    /* not offered or refused */
	LOCAL_AUTH,           /* no mechanism, no password, rejected */
	LOCAL_OAUTH_TOKEN,    /* no OAuth token to be had: a person must act
			       * (invalid_grant, client refused, no helper) */
	LOCAL_CONFIG,         /* trust store missing, bad priority string */
	LOCAL_IO,             /* reading the spooled message failed */
	LOCAL_NEED_SMTPUTF8,  /* message needs SMTPUTF8, server lacks it */
	LOCAL_TOO_BIG,        /* message exceeds the server's SIZE */
	LOCAL_EXPIRED,        /* queue lifetime exceeded */
	LOCAL_BAD_ADDRESS,    /* an address that cannot go on a command line */
};

/*
 * Classify. code is the SMTP reply code (0 when there was none), enhanced
 * its RFC 3463 code ("" or NULL when none). status receives the DSN status
 * ("2.0.0", "4.4.1", "5.1.1", ...).
 *
 * Rules: a local error other than the message-level ones (SMTPUTF8, size,
 * expiry, unusable address) is temporary, since mail must not be bounced
 * because a relay is down or misconfigured; replies before MAIL (greeting, EHLO, STARTTLS,
 * AUTH) are about the relay, not the recipient, so they are temporary too;
 * at MAIL/RCPT/DATA/end of data 2xx delivers, 4xx defers, 5xx bounces,
 * except 552 at RCPT (RFC 5321 4.5.3.1.10: too many recipients) and 530
 * (authentication required: a relay misconfiguration) which are
 * temporary. The basic code wins over a contradicting enhanced code.
 */
enum outcome outcome_classify(enum smtp_stage stage, int code, const char *enhanced,
			      enum local_error local, char status[16]);

/*
 * Throttling and quota replies: the relay (the provider's account), not the
 * message, is over a limit. Such a reply is a deferral of every recipient
 * it concerns, whatever its code (providers answer quotas with 5xx), and
 * the caller slows the whole relay down (relay_gate.h). One table in
 * outcome.c, each rule with the provider's documented text as its source.
 */
struct throttle_rule {
	int code;                 /* the reply code */
	const char *enhanced;     /* prefix of the enhanced code ("4.7."); NULL: any */
	const char *words;        /* '|'-separated words, one must be in the text
				   * (case-insensitive); NULL: any text */
	const char *what;         /* for the log: "connection limit", ... */
	const char *source;       /* who documents the reply, and where */
};

/* The rule that reply (code, enhanced code, text) matches; NULL: none. */
const struct throttle_rule *outcome_throttle(int code, const char *enhanced, const char *text);

/* The rule table itself (tests, documentation). *n receives its size. */
const struct throttle_rule *outcome_throttle_rules(size_t *n);

/*
 * outcome_classify with the reply's text: a throttling or quota reply
 * (outcome_throttle) is temporary at any stage, its status moved to class
 * 4 ("5.4.5" becomes "4.4.5"), and *throttle (may be NULL) receives the
 * rule; everything else is outcome_classify's (and *throttle NULL).
 */
enum outcome outcome_classify_reply(enum smtp_stage stage, int code, const char *enhanced, const char *text,
				    enum local_error local, char status[16], const struct throttle_rule **throttle);

/* "Too many recipients" at RCPT (RFC 5321 4.5.3.1.10: 452, or 552 from
 * older servers): the recipient goes into a new transaction at once. */
bool outcome_too_many_recipients(enum smtp_stage stage, int code);

const char *outcome_name(enum outcome o);      /* "sent" "deferred" "bounced" */
const char *stage_name(enum smtp_stage s);     /* "MAIL FROM", ... */

#endif
