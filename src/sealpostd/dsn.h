/*
 * dsn.h - delivery status notifications (RFC 3464, RFC 3461): the bounce
 * ("failed"), the delay warning ("delayed") and the report for a message
 * relayed to a server without DSN support ("relayed"). A DSN is an
 * ordinary queued message: null sender, flag ENV_BOUNCE, one recipient
 * (the original envelope sender), delivered like any other. What is
 * returned is bounded: at most DSN_RETURN_LIMIT bytes of the original,
 * only its header when the failure is about its size (status X.3.4), and
 * the DSN needs SMTPUTF8 only when its own recipient does (else an
 * internationalized original is returned as its header, base64-encoded:
 * RFC 6533 downgrade). Runs as the
 * worker's user; the original message is streamed from its spool file,
 * never read whole; every string from a server is made header-safe.
 */
#ifndef SEALPOSTD_DSN_H
#define SEALPOSTD_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "spool.h"

enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_RELAYED };

struct dsn_rcpt {
	const char *addr;        /* Final-Recipient */
	const char *orcpt;       /* Original-Recipient, or NULL */
	const char *status;      /* RFC 3463 "5.1.1" (from outcome_classify) */
	const char *remote_mta;  /* relay host name, or NULL */
	const char *diagnostic;  /* the server's reply ("550 5.1.1 ...") or a local reason */
	time_t last_attempt;     /* 0: none */
	bool relayed;            /* Action: relayed (in a DSN_FAILED report too) */
};

struct dsn_report {
	enum dsn_action action;
	const char *hostname;         /* Reporting-MTA, From: domain */
	const struct envelope *orig;  /* the message reported on */
	int msg_fd;                   /* its spool file (read with pread) */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
	time_t now;
	time_t retry_until;           /* DSN_DELAYED: Will-Retry-Until; 0 none */
	const char *from;             /* From: address (bounce_sender); NULL:
				       * MAILER-DAEMON@hostname */
};

/* Bytes of the original returned at most (Postfix's bounce_size_limit). */
#define DSN_RETURN_LIMIT 50000

/* The Action: value ("failed", "delayed", "relayed"). */
const char *dsn_action_name(enum dsn_action a);

/*
 * Write the whole notification (CRLF line ends, no line over 998 octets)
 * to out_fd. message_id is the new message's queue id (for Message-ID:),
 * boundary the MIME boundary (must not occur in the original; callers
 * use a random one). *eightbit is set when the result has 8-bit bytes
 * (then it goes out with BODY=8BITMIME). 0, or -1 with err.
 */
int dsn_write(const struct dsn_report *r, const char *message_id, const char *boundary, int out_fd,
	      int *eightbit, char *err, size_t errlen);

/*
 * Queue the notification durably in spool_dir (fsync before return), to
 * r->orig->sender from the null sender, flagged ENV_BOUNCE. new_id
 * receives its queue id. 0, or -1 with err (nothing queued). The caller
 * must not ask for a DSN about a bounce or to the null sender.
 */
int dsn_queue(const char *spool_dir, const struct dsn_report *r, char new_id[SPOOL_ID_LEN + 1], char *err,
	      size_t errlen);

#endif
