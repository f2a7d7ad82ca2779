/*
 * smtp.h - the SMTP client session (RFC 5321, 3207, 4954, 2920, 1870,
 * 6152, 6531, 3461) as an explicit state machine. A session is secured
 * before anything but EHLO/STARTTLS/QUIT is sent, can carry several
 * transactions (RSET between), and reports every failure with its stage,
 * reply and local class so outcome.c can classify it. The server is
 * hostile; the envelope and message come from our own spool.
 */
#ifndef SEALPOSTD_SMTP_H
#define SEALPOSTD_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "net.h"
#include "outcome.h"
#include "reply.h"
#include "spool.h"

enum smtp_state {
	SMTP_INIT,
	SMTP_CONNECT,
	SMTP_GREETING,
	SMTP_EHLO,
	SMTP_STARTTLS,
	SMTP_HANDSHAKE,
	SMTP_EHLO_TLS,
	SMTP_AUTH,
	SMTP_READY,
	SMTP_RSET,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_BODY,
	SMTP_EOD,
	SMTP_QUIT,
	SMTP_CLOSED,
};

struct smtp_caps {
	bool starttls, pipelining, eightbitmime, smtputf8, dsn, size, enhanced;
	uint64_t size_max;        /* 0: no limit announced */
	unsigned auth_mechs;      /* auth.h bits */
};

/* Why a session or a step failed, in the form outcome_classify() wants. */
struct smtp_failure {
	enum smtp_stage stage;
	int code;                 /* SMTP reply code, 0 for local errors */
	char enhanced[16];
	enum local_error local;
	char reason[512];         /* exact, safe for logs and the spool */
	char tls[128];            /* the session's TLS state when it failed
				   * ("" when before or without TLS) */
};

struct smtp_session {
	struct netconn conn;
	enum smtp_state state;
	struct smtp_caps caps;
	const struct sp_config *cfg;
	const struct sp_relay *relay;
	const struct sp_tls_policy *pol;
	struct tls_resume *resume;  /* may be NULL */
	unsigned transactions;      /* started on this connection */
	bool reusable;              /* false once the dialogue is out of sync */
	bool trace;                 /* log the dialogue (never AUTH data) */
	struct buf *probe;          /* --probe: capabilities and certificates */
	struct smtp_failure fail;
};

/* The name of a state, for traces. */
const char *smtp_state_name(enum smtp_state st);

/*
 * Connect to relay, secure the session per its tls mode and policy,
 * authenticate if configured. 0: ready for transactions. -1: s->fail says
 * why (always a temporary failure for this relay); the connection is
 * already closed (after QUIT where the protocol allows it).
 */
int smtp_open(struct smtp_session *s, const struct sp_config *cfg, const struct sp_relay *relay,
	      struct tls_resume *resume, bool trace);

/* The result for one recipient of a transaction. */
struct smtp_rcpt_result {
	enum outcome outcome;
	char status[16];          /* DSN status */
	char reason[512];         /* "250 2.0.0 Ok", "550 5.1.1 ...", local reason */
	enum smtp_stage stage;
	int code;                 /* the reply's code, 0 for a local result */
	const struct throttle_rule *throttle; /* the relay is over a limit (outcome.h) */
};

/*
 * One transaction: MAIL, RCPT for env->rcpts[idx[0..n-1]], DATA streamed
 * from msg_fd (dot-stuffed, CRLF, ending CRLF.CRLF). res[i] receives the
 * result for idx[i]. Returns 0 when the session can carry another
 * transaction, -1 when it is lost (s->fail says why; res[] are filled,
 * the unfinished ones temporary). *eod_sent tells whether the final "."
 * reached the wire (then a lost reply may mean delivered: do not fail over).
 */
int smtp_send_message(struct smtp_session *s, const struct envelope *env, int msg_fd,
		      const size_t *idx, size_t n, struct smtp_rcpt_result *res, bool *eod_sent);

/* QUIT (read the reply briefly) and close. Safe in any state. */
void smtp_close(struct smtp_session *s);

/* RFC 3461 xtext encoding (exposed for tests). */
void smtp_xtext(const char *in, struct buf *out);

#endif
