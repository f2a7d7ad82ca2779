/*
 * smtp.c - the SMTP client session: an explicit state machine (enter() is
 * the only place the state changes; state_names[] feeds the trace).
 *
 * The security rules live here: in starttls mode only EHLO, STARTTLS and
 * QUIT are ever sent before TLS; STARTTLS must be advertised and answered
 * 220; a byte already buffered after that 220 aborts the session (response
 * injection); after the handshake all capabilities are forgotten and EHLO
 * is sent again; there is no HELO and no cleartext fallback; AUTH happens
 * only on a session whose TLS passed the policy. Runs as the worker's
 * user; the server is hostile.
 */
#include "config.h"

#include "smtp.h"
#include "tls_mode.h"
#include "auth.h"
#include "data_stream.h"
#include "from_rewrite.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const state_names[] = {
	[SMTP_INIT] = "init",
	[SMTP_CONNECT] = "connect",
	[SMTP_GREETING] = "greeting",
	[SMTP_EHLO] = "ehlo",
	[SMTP_STARTTLS] = "starttls",
	[SMTP_HANDSHAKE] = "tls-handshake",
	[SMTP_EHLO_TLS] = "ehlo-tls",
	[SMTP_AUTH] = "auth",
	[SMTP_READY] = "ready",
	[SMTP_RSET] = "rset",
	[SMTP_MAIL] = "mail",
	[SMTP_RCPT] = "rcpt",
	[SMTP_DATA] = "data",
	[SMTP_BODY] = "body",
	[SMTP_EOD] = "end-of-data",
	[SMTP_QUIT] = "quit",
	[SMTP_CLOSED] = "closed",
};

const char *smtp_state_name(enum smtp_state st)
{
	if ((unsigned)st < ARRAY_LEN(state_names) && state_names[st])
		return state_names[st];
	return "?";
}

static void enter(struct smtp_session *s, enum smtp_state st)
{
	if (s->trace)
		log_msg(LOG_DEBUG, "relay %s: state %s -> %s", s->relay->name, smtp_state_name(s->state),
			smtp_state_name(st));
	s->state = st;
}

static void set_fail(struct smtp_session *s, enum smtp_stage stage, enum local_error local,
		     const struct smtp_reply *r, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_fail(struct smtp_session *s, enum smtp_stage stage, enum local_error local,
		     const struct smtp_reply *r, const char *fmt, ...)
{
	s->fail.stage = stage;
	s->fail.local = local;
	/* the log's tls= tells the truth: a failure inside a secured session
	 * (EHLO, AUTH, a transaction) happened over TLS */
	snprintf(s->fail.tls, sizeof(s->fail.tls), "%s",
		 s->conn.tls && s->state > SMTP_HANDSHAKE ? net_tls_summary(&s->conn) : "");
	s->fail.code = r ? r->code : 0;
	snprintf(s->fail.enhanced, sizeof(s->fail.enhanced), "%s", r ? r->enhanced : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fail.reason, sizeof(s->fail.reason), fmt, ap);
	va_end(ap);
}

static void probe_note(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void probe_note(struct smtp_session *s, const char *fmt, ...)
{
	if (!s->probe)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(s->probe, "%s\n", line);
}

static uint64_t cmd_deadline(const struct smtp_session *s)
{
	return net_deadline(s->cfg->timeouts.command);
}

/* Queue one command line (not flushed). */
static int put_cmd(struct smtp_session *s, const char *cmd, char *err, size_t errlen)
{
	if (s->trace)
		log_msg(LOG_DEBUG, "relay %s: > %s", s->relay->name, cmd);
	int r = net_writes(&s->conn, cmd, cmd_deadline(s), err, errlen);
	if (r == 0)
		r = net_writes(&s->conn, "\r\n", cmd_deadline(s), err, errlen);
	return r;
}

static int get_reply(struct smtp_session *s, uint64_t deadline, struct smtp_reply *r, char *err, size_t errlen)
{
	int rc = net_read_reply(&s->conn, deadline, r, err, errlen);
	if (rc == 0 && s->trace) {
		char sum[600];
		reply_summary(r, sum, sizeof(sum));
		log_msg(LOG_DEBUG, "relay %s: < %s", s->relay->name, sum);
	}
	return rc;
}

/* Send one command and read its reply. 0 or a local_error (reason in err). */
static int command(struct smtp_session *s, const char *cmd, struct smtp_reply *r, char *err, size_t errlen)
{
	int rc = put_cmd(s, cmd, err, errlen);
	if (rc == 0)
		rc = net_flush(&s->conn, cmd_deadline(s), err, errlen);
	if (rc == 0)
		rc = get_reply(s, cmd_deadline(s), r, err, errlen);
	return rc;
}

/* ---- capabilities ---- */

static void parse_caps(struct smtp_session *s, const struct smtp_reply *r)
{
	memset(&s->caps, 0, sizeof(s->caps));
	char line[REPLY_MAX_LINE + 1];
	/* line 0 is the server's name and greeting */
	for (size_t i = 1; reply_line(r, i, line, sizeof(line)); i++) {
		char *kw = line;
		char *params = kw + strcspn(kw, " =");
		if (*params)
			*params++ = '\0';
		if (ascii_casecmp(kw, "STARTTLS") == 0)
			s->caps.starttls = true;
		else if (ascii_casecmp(kw, "PIPELINING") == 0)
			s->caps.pipelining = true;
		else if (ascii_casecmp(kw, "8BITMIME") == 0)
			s->caps.eightbitmime = true;
		else if (ascii_casecmp(kw, "SMTPUTF8") == 0)
			s->caps.smtputf8 = true;
		else if (ascii_casecmp(kw, "DSN") == 0)
			s->caps.dsn = true;
		else if (ascii_casecmp(kw, "ENHANCEDSTATUSCODES") == 0)
			s->caps.enhanced = true;
		else if (ascii_casecmp(kw, "SIZE") == 0) {
			s->caps.size = true;
			uint64_t v;
			if (*params && parse_u64(params, &v))
				s->caps.size_max = v;
		} else if (ascii_casecmp(kw, "AUTH") == 0) {
			char *save = NULL;
			for (char *m = strtok_r(params, " ", &save); m; m = strtok_r(NULL, " ", &save))
				s->caps.auth_mechs |= auth_mech_bit(m);
		}
	}
}

static void describe_caps(struct smtp_session *s, const char *when, const struct smtp_reply *r)
{
	if (!s->probe)
		return;
	char line[REPLY_MAX_LINE + 1];
	buf_printf(s->probe, "  EHLO %s:", when);
	char dummy[1];
	for (size_t i = 1; reply_line(r, i, line, sizeof(line)); i++) {
		bool more = reply_line(r, i + 1, dummy, sizeof(dummy));
		buf_printf(s->probe, " %s%s", line, more ? "," : "");
	}
	buf_addc(s->probe, '\n');
}

/* EHLO; capabilities are cleared first, whatever happens. */
static int do_ehlo(struct smtp_session *s, enum smtp_state st, const char *when)
{
	struct smtp_reply r;
	char err[256];
	memset(&s->caps, 0, sizeof(s->caps));
	enter(s, st);
	const char *name = s->cfg->hostname && s->cfg->hostname[0] ? s->cfg->hostname : "localhost";
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "EHLO %s", name);
	int rc = command(s, cmd, &r, err, sizeof(err));
	if (rc != 0) {
		set_fail(s, STAGE_EHLO, rc, NULL, "EHLO: %s", err);
		return -1;
	}
	if (r.code != 250) {
		char sum[400];
		reply_summary(&r, sum, sizeof(sum));
		set_fail(s, STAGE_EHLO, LOCAL_NONE, &r, "EHLO rejected: %s", sum);
		return -1;
	}
	parse_caps(s, &r);
	describe_caps(s, when, &r);
	return 0;
}

static int do_greeting(struct smtp_session *s)
{
	struct smtp_reply r;
	char err[256];
	enter(s, SMTP_GREETING);
	uint64_t deadline = cmd_deadline(s);
	/* tls = "starttls" on an implicit-TLS port: say so, do not wait */
	char hint[400];
	if (tls_mode_check_greeting(&s->conn, s->cfg, s->relay, s->pol, deadline, hint, sizeof(hint)) < 0) {
		set_fail(s, STAGE_GREETING, LOCAL_CONFIG, NULL, "greeting: %s", hint);
		return -1;
	}
	int rc = get_reply(s, deadline, &r, err, sizeof(err));
	if (rc != 0) {
		set_fail(s, STAGE_GREETING, rc, NULL, "greeting: %s", err);
		return -1;
	}
	char sum[400];
	reply_summary(&r, sum, sizeof(sum));
	probe_note(s, "  greeting: %s", sum);
	if (r.code != 220) {
		if (r.code / 100 == 4 || r.code / 100 == 5)
			set_fail(s, STAGE_GREETING, LOCAL_NONE, &r, "server refused the session: %s", sum);
		else /* RFC 5321 4.3.1: the greeting is 220 or a refusal */
			set_fail(s, STAGE_GREETING, LOCAL_PROTOCOL, NULL, "protocol error: invalid greeting: %s", sum);
		return -1;
	}
	/* Nothing may follow the greeting before we speak. */
	if (net_has_buffered(&s->conn)) {
		set_fail(s, STAGE_GREETING, LOCAL_PROTOCOL, NULL, "protocol error: server sent data before EHLO");
		return -1;
	}
	return 0;
}

static int do_tls(struct smtp_session *s)
{
	char err[400];
	enter(s, SMTP_HANDSHAKE);
	int rc = net_start_tls(&s->conn, s->pol, s->relay->host, s->resume,
			       net_deadline(s->cfg->timeouts.command), err, sizeof(err));
	if (s->probe && s->conn.tls) {
		tls_describe_peer(s->conn.tls, s->probe);
		probe_note(s, "  TLS: %s", rc == 0 ? tls_summary(s->conn.tls) : err);
		probe_note(s, "  policy (verify = %s): %s",
			   s->pol->verify == SP_VERIFY_CA ? "ca" : s->pol->verify == SP_VERIFY_PIN ? "pin" : "encrypt",
			   rc == 0 ? "ACCEPTED" : "REJECTED");
	}
	if (rc != 0) {
		tls_mode_hint_implicit(s->relay, rc, err, sizeof(err)); /* the reverse mistake */
		set_fail(s, rc == LOCAL_PROTOCOL && !s->conn.tls ? STAGE_STARTTLS : STAGE_TLS, rc, NULL, "%s", err);
		return -1;
	}
	return 0;
}

static int do_starttls(struct smtp_session *s)
{
	struct smtp_reply r;
	char err[256];
	if (!s->caps.starttls) {
		set_fail(s, STAGE_STARTTLS, LOCAL_NO_STARTTLS, NULL, "STARTTLS not offered");
		return -1;
	}
	enter(s, SMTP_STARTTLS);
	int rc = command(s, "STARTTLS", &r, err, sizeof(err));
	if (rc != 0) {
		if (rc == LOCAL_PROTOCOL) /* a bogus answer (999, garbage) is a refusal */
			set_fail(s, STAGE_STARTTLS, LOCAL_NO_STARTTLS, NULL, "STARTTLS refused: %s", err);
		else
			set_fail(s, STAGE_STARTTLS, rc, NULL, "STARTTLS: %s", err);
		return -1;
	}
	if (r.code != 220) {
		char sum[400];
		reply_summary(&r, sum, sizeof(sum));
		set_fail(s, STAGE_STARTTLS, LOCAL_NO_STARTTLS, &r, "STARTTLS refused: %s", sum);
		return -1;
	}
	return do_tls(s);
}

static int do_auth(struct smtp_session *s)
{
	char err[512];
	if (!s->conn.tls) {
		/* unreachable by construction; never send credentials otherwise */
		set_fail(s, STAGE_AUTH, LOCAL_AUTH, NULL, "refusing AUTH outside TLS");
		return -1;
	}
	enter(s, SMTP_AUTH);
	if (s->caps.auth_mechs == 0) {
		set_fail(s, STAGE_AUTH, LOCAL_AUTH, NULL, "server offers no AUTH inside TLS");
		return -1;
	}
	unsigned mech = auth_choose(s->relay->auth, s->caps.auth_mechs, err, sizeof(err));
	if (mech == 0) {
		set_fail(s, STAGE_AUTH, LOCAL_AUTH, NULL, "%s", err);
		return -1;
	}
	char *secret = auth_get_secret(s->relay, s->cfg->timeouts.command, err, sizeof(err));
	if (!secret) {
		set_fail(s, STAGE_AUTH, LOCAL_CONFIG, NULL, "%s", err);
		return -1;
	}
	struct smtp_reply r;
	reply_init(&r);
	int rc = auth_run(&s->conn, mech, s->relay->username, secret, cmd_deadline(s), &r, err, sizeof(err));
	free_secret(secret);
	char names[64];
	auth_mech_names(mech, names, sizeof(names));
	probe_note(s, "  AUTH %s as %s: %s", names, s->relay->username, rc == 0 ? "ok" : err);
	if (rc != 0) {
		set_fail(s, STAGE_AUTH, rc, r.code ? &r : NULL, "%s", err);
		return -1;
	}
	return 0;
}

int smtp_open(struct smtp_session *s, const struct sp_config *cfg, const struct sp_relay *relay,
	      struct tls_resume *resume, bool trace)
{
	struct buf *probe = s->probe;
	memset(s, 0, sizeof(*s));
	s->probe = probe;
	net_init(&s->conn);
	s->cfg = cfg;
	s->relay = relay;
	s->pol = conf_policy_for(cfg, relay->host);
	s->resume = resume;
	s->trace = trace;
	s->state = SMTP_INIT;

	char err[400];
	enter(s, SMTP_CONNECT);
	int rc = net_connect(&s->conn, relay->host, relay->port, cfg->timeouts.connect, err, sizeof(err));
	if (rc != 0) {
		set_fail(s, STAGE_CONNECT, rc, NULL, "%s", err);
		enter(s, SMTP_CLOSED);
		return -1;
	}
	probe_note(s, "relay %s: %s[%s]:%u (%s)", relay->name, relay->host, s->conn.ip, relay->port,
		   relay->tls == SP_TLS_IMPLICIT ? "implicit TLS" : "STARTTLS");
	if (relay->tls == SP_TLS_IMPLICIT) {
		if (do_tls(s) < 0 || do_greeting(s) < 0 || do_ehlo(s, SMTP_EHLO_TLS, "inside TLS") < 0)
			goto fail;
	} else {
		if (do_greeting(s) < 0 || do_ehlo(s, SMTP_EHLO, "before TLS") < 0 || do_starttls(s) < 0)
			goto fail;
		/* RFC 3207: forget everything learned before TLS */
		if (do_ehlo(s, SMTP_EHLO_TLS, "inside TLS") < 0)
			goto fail;
	}
	if (relay->username && relay->username[0] && do_auth(s) < 0)
		goto fail;
	s->reusable = true;
	enter(s, SMTP_READY);
	return 0;
fail:
	/* QUIT only when the dialogue is in sync (the last thing read was a
	 * whole reply) and never between a STARTTLS 220 and a session that
	 * passed the policy: then we have nothing more to say. */
	s->reusable = s->state != SMTP_HANDSHAKE &&
		      (s->fail.code != 0 || s->fail.local == LOCAL_NO_STARTTLS ||
		       s->fail.local == LOCAL_AUTH || s->fail.local == LOCAL_CONFIG);
	smtp_close(s);
	return -1;
}

void smtp_close(struct smtp_session *s)
{
	if (s->conn.fd >= 0 && s->reusable) {
		char err[256];
		struct smtp_reply r;
		enter(s, SMTP_QUIT);
		uint64_t deadline = now_ms() + 5000;
		if (net_writes(&s->conn, "QUIT\r\n", deadline, err, sizeof(err)) == 0 &&
		    net_flush(&s->conn, deadline, err, sizeof(err)) == 0)
			(void)net_read_reply(&s->conn, deadline, &r, err, sizeof(err));
	}
	net_close(&s->conn);
	s->reusable = false;
	if (s->state != SMTP_INIT)
		enter(s, SMTP_CLOSED);
}

/* ---- transactions ---- */

void smtp_xtext(const char *in, struct buf *out)
{
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
			buf_printf(out, "+%02X", *p);
		else
			buf_addc(out, (char)*p);
	}
}

/* Addresses go between < > on a command line: no controls, no brackets,
 * bounded (RFC 5321 4.5.3.1.3: 256 octets for a path). */
static bool address_ok(const char *a)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++, n++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || n >= 254)
			return false;
	return true;
}

static void result_set(struct smtp_rcpt_result *res, enum smtp_stage stage, const struct smtp_reply *r,
		       enum local_error local, const char *reason)
{
	res->stage = stage;
	res->code = r ? r->code : 0;
	res->outcome = outcome_classify_reply(stage, res->code, r ? r->enhanced : NULL, r ? r->text : NULL, local,
					      res->status, &res->throttle);
	if (r && !reason) {
		char sum[440];
		reply_summary(r, sum, sizeof(sum));
		if (r->code / 100 == 2)
			snprintf(res->reason, sizeof(res->reason), "%s", sum);
		else
			snprintf(res->reason, sizeof(res->reason), "%s (in reply to %s)", sum, stage_name(stage));
	} else {
		snprintf(res->reason, sizeof(res->reason), "%s", reason ? reason : "?");
	}
}

static void mail_command(struct smtp_session *s, const struct envelope *env, const struct from_plan *plan,
			 struct buf *cmd)
{
	buf_printf(cmd, "MAIL FROM:<%s>", plan->sender);
	if (s->caps.size)
		buf_printf(cmd, " SIZE=%" PRIu64, plan->size);
	if ((env->flags & ENV_8BITMIME) && s->caps.eightbitmime)
		buf_adds(cmd, " BODY=8BITMIME");
	if ((env->flags & ENV_SMTPUTF8) && s->caps.smtputf8)
		buf_adds(cmd, " SMTPUTF8");
	if (s->caps.dsn) {
		if (env->ret && (ascii_casecmp(env->ret, "FULL") == 0 || ascii_casecmp(env->ret, "HDRS") == 0))
			buf_printf(cmd, " RET=%s", env->ret);
		if (env->envid && env->envid[0]) {
			buf_adds(cmd, " ENVID=");
			smtp_xtext(env->envid, cmd);
		}
	}
}

static void rcpt_command(struct smtp_session *s, const struct spool_rcpt *rc, struct buf *cmd)
{
	buf_printf(cmd, "RCPT TO:<%s>", rc->addr);
	if (!s->caps.dsn)
		return;
	if (rc->notify & NOTIFY_NEVER) {
		buf_adds(cmd, " NOTIFY=NEVER");
	} else if (rc->notify) {
		buf_adds(cmd, " NOTIFY=");
		const char *sep = "";
		if (rc->notify & NOTIFY_SUCCESS) {
			buf_printf(cmd, "%sSUCCESS", sep);
			sep = ",";
		}
		if (rc->notify & NOTIFY_FAILURE) {
			buf_printf(cmd, "%sFAILURE", sep);
			sep = ",";
		}
		if (rc->notify & NOTIFY_DELAY)
			buf_printf(cmd, "%sDELAY", sep);
	}
	if (rc->orcpt && rc->orcpt[0] && address_ok(rc->orcpt)) {
		buf_adds(cmd, " ORCPT=rfc822;");
		smtp_xtext(rc->orcpt, cmd);
	}
}

/* The session broke mid-transaction: every unfinished recipient is
 * temporary with the reason; the connection is dropped. */
static int lost(struct smtp_session *s, enum smtp_stage stage, int local, const char *why,
		const bool *done, size_t n, struct smtp_rcpt_result *res)
{
	set_fail(s, stage, local, NULL, "%s", why);
	for (size_t i = 0; i < n; i++)
		if (!done[i])
			result_set(&res[i], stage, NULL, local, why);
	s->reusable = false;
	smtp_close(s);
	return -1;
}

int smtp_send_message(struct smtp_session *s, const struct envelope *env, int msg_fd,
		      const size_t *idx, size_t n, struct smtp_rcpt_result *res, bool *eod_sent)
{
	char err[400];
	struct smtp_reply r;
	*eod_sent = false;
	bool *done = xcalloc(n ? n : 1, sizeof(bool));
	bool *accepted = xcalloc(n ? n : 1, sizeof(bool));
	size_t naccepted = 0;
	int ret = 0;

	/* Checks that need no dialogue. */
	const char *refuse = NULL;
	enum local_error refuse_class = LOCAL_NONE;
	struct from_plan plan; /* the relay's from_rewrite, or the message as queued */
	if (from_rewrite_plan(s->relay->from_rewrite, env, msg_fd, &plan, err, sizeof(err)) != 0) {
		refuse = err;
		refuse_class = LOCAL_IO;
	} else if ((env->flags & ENV_SMTPUTF8) && !s->caps.smtputf8) {
		refuse = "server lacks SMTPUTF8, which this message needs";
		refuse_class = LOCAL_NEED_SMTPUTF8;
	} else if (s->caps.size_max && plan.size > s->caps.size_max) {
		refuse = "message size exceeds the server's SIZE limit";
		refuse_class = LOCAL_TOO_BIG;
	} else if (!address_ok(plan.sender)) {
		refuse = "invalid envelope sender address";
		refuse_class = LOCAL_BAD_ADDRESS;
	}
	if (refuse) {
		for (size_t i = 0; i < n; i++)
			result_set(&res[i], STAGE_MAIL, NULL, refuse_class, refuse);
		goto out;
	}
	if ((env->flags & ENV_8BITMIME) && !s->caps.eightbitmime)
		log_msg(LOG_NOTICE, "%s: relay %s does not offer 8BITMIME; sending the 8-bit body anyway",
			env->id, s->relay->name);

	bool pipelining = s->caps.pipelining;
	bool rset = s->transactions > 0;
	s->transactions++;
	struct buf cmd;
	buf_init(&cmd);
	int rc = 0;
	if (rset) {
		enter(s, SMTP_RSET);
		rc = put_cmd(s, "RSET", err, sizeof(err));
		if (rc == 0 && !pipelining) {
			rc = net_flush(&s->conn, cmd_deadline(s), err, sizeof(err));
			if (rc == 0)
				rc = get_reply(s, cmd_deadline(s), &r, err, sizeof(err));
			if (rc == 0 && r.code / 100 != 2)
				s->reusable = false; /* odd; finish this one, then reconnect */
			rset = false;
		}
	}
	enter(s, SMTP_MAIL);
	mail_command(s, env, &plan, &cmd);
	if (rc == 0)
		rc = put_cmd(s, cmd.data, err, sizeof(err));
	if (pipelining) {
		/* MAIL, every RCPT and DATA leave in one flush */
		for (size_t i = 0; i < n && rc == 0; i++) {
			buf_reset(&cmd);
			if (!address_ok(env->rcpts[idx[i]].addr))
				continue;
			rcpt_command(s, &env->rcpts[idx[i]], &cmd);
			rc = put_cmd(s, cmd.data, err, sizeof(err));
		}
		if (rc == 0)
			rc = put_cmd(s, "DATA", err, sizeof(err));
	}
	if (rc == 0)
		rc = net_flush(&s->conn, cmd_deadline(s), err, sizeof(err));
	if (rc == 0 && rset) {
		rc = get_reply(s, cmd_deadline(s), &r, err, sizeof(err));
		if (rc == 0 && r.code / 100 != 2)
			s->reusable = false; /* odd; finish this one, then reconnect */
	}
	if (rc != 0) {
		ret = lost(s, STAGE_MAIL, rc, err, done, n, res);
		buf_free(&cmd);
		goto out;
	}
	rc = get_reply(s, cmd_deadline(s), &r, err, sizeof(err));
	if (rc != 0) {
		ret = lost(s, STAGE_MAIL, rc, err, done, n, res);
		buf_free(&cmd);
		goto out;
	}
	bool mail_ok = r.code / 100 == 2;
	if (!mail_ok)
		for (size_t i = 0; i < n; i++) {
			result_set(&res[i], STAGE_MAIL, &r, LOCAL_NONE, NULL);
			done[i] = true;
		}

	enter(s, SMTP_RCPT);
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *rcpt = &env->rcpts[idx[i]];
		if (!address_ok(rcpt->addr)) {
			if (!done[i])
				result_set(&res[i], STAGE_RCPT, NULL, LOCAL_BAD_ADDRESS, "invalid recipient address");
			done[i] = true;
			continue;
		}
		if (!pipelining) {
			if (!mail_ok)
				break;
			buf_reset(&cmd);
			rcpt_command(s, rcpt, &cmd);
			rc = put_cmd(s, cmd.data, err, sizeof(err));
			if (rc == 0)
				rc = net_flush(&s->conn, cmd_deadline(s), err, sizeof(err));
		}
		if (rc == 0)
			rc = get_reply(s, cmd_deadline(s), &r, err, sizeof(err));
		if (rc != 0) {
			ret = lost(s, STAGE_RCPT, rc, err, done, n, res);
			buf_free(&cmd);
			goto out;
		}
		if (!mail_ok)
			continue;
		if (r.code / 100 == 2) {
			accepted[i] = true;
			naccepted++;
		} else {
			result_set(&res[i], STAGE_RCPT, &r, LOCAL_NONE, NULL);
			done[i] = true;
		}
	}
	buf_free(&cmd);

	enter(s, SMTP_DATA);
	bool data_sent = pipelining;
	if (!pipelining && mail_ok && naccepted > 0) {
		rc = put_cmd(s, "DATA", err, sizeof(err));
		if (rc == 0)
			rc = net_flush(&s->conn, cmd_deadline(s), err, sizeof(err));
		data_sent = true;
	}
	if (!data_sent)
		goto out; /* nothing accepted: RSET before the next transaction */
	if (rc == 0)
		rc = get_reply(s, cmd_deadline(s), &r, err, sizeof(err));
	if (rc != 0) {
		ret = lost(s, STAGE_DATA, rc, err, done, n, res);
		goto out;
	}
	if (r.code != 354) {
		for (size_t i = 0; i < n; i++)
			if (accepted[i] && !done[i]) {
				result_set(&res[i], STAGE_DATA, &r, LOCAL_NONE, NULL);
				done[i] = true;
			}
		goto out;
	}
	if (naccepted == 0) {
		/* RFC 2920: DATA accepted although no recipient was; end it empty */
		rc = net_writes(&s->conn, ".\r\n", cmd_deadline(s), err, sizeof(err));
		if (rc == 0)
			rc = net_flush(&s->conn, cmd_deadline(s), err, sizeof(err));
		if (rc == 0)
			rc = get_reply(s, cmd_deadline(s), &r, err, sizeof(err));
		if (rc != 0)
			ret = lost(s, STAGE_DATA, rc, err, done, n, res);
		goto out;
	}
	enter(s, SMTP_BODY);
	rc = data_send(&s->conn, msg_fd, &plan, s->cfg->timeouts.data, err, sizeof(err));
	if (rc != 0) {
		ret = lost(s, STAGE_DATA, rc, err, done, n, res);
		goto out;
	}
	*eod_sent = true;
	enter(s, SMTP_EOD);
	rc = get_reply(s, net_deadline(s->cfg->timeouts.data), &r, err, sizeof(err));
	if (rc != 0) {
		char why[480];
		snprintf(why, sizeof(why), "%s (after end of data: the message may have been delivered)", err);
		ret = lost(s, STAGE_EOD, rc, why, done, n, res);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (accepted[i] && !done[i]) {
			result_set(&res[i], STAGE_EOD, &r, LOCAL_NONE, NULL);
			done[i] = true;
		}
out:
	if (ret == 0 && s->conn.fd >= 0)
		enter(s, SMTP_READY);
	from_plan_free(&plan);
	free(done);
	free(accepted);
	return ret;
}
