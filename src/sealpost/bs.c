/*
 * bs.c - `sealpost -bs`: the server side of an SMTP dialogue on stdin and
 * stdout (RFC 5321 with PIPELINING, 8BITMIME, SIZE, DSN, SMTPUTF8 and
 * ENHANCEDSTATUSCODES), as Symfony Mailer and other local clients use it.
 *
 * Each transaction goes through the submit API: submit_begin at MAIL,
 * submit_add_rcpt at each RCPT, submit_feed with the unstuffed DATA bytes,
 * submit_commit at the final dot; submit_abort on RSET, a new HELO/EHLO, an
 * error, a timeout or end of input, so an unfinished message leaves
 * nothing in the spool.
 *
 * Runs with the front end's privilege and trusts nothing from the client:
 * a command line is at most BS_MAX_LINE octets (a longer one is answered
 * 500 and skipped up to its LF without being buffered), the body streams
 * through the fixed linereader buffer, recipients, errors and reads are
 * bounded (BS_MAX_RCPTS, BS_MAX_ERRORS, the config's command and data
 * timeouts). Every problem is an SMTP reply; nothing goes to stderr.
 *
 * Pipelining: commands are handled in order from the input buffer and the
 * replies are collected, then written in one write() when the buffer is
 * empty, just before the next read could block.
 *
 * Leniency, as sendmail and Postfix: "MAIL FROM: <a@x>" (space after the
 * colon) and paths without brackets are accepted, and a line ending in a
 * bare LF counts as a line (so ".\n" ends DATA): the client is a local
 * process that could queue any message anyway.
 *
 * DSN: RET and ENVID go to submit_begin; NOTIFY and ORCPT are set on the
 * recipients submit_add_rcpt just added (aliases may expand one RCPT into
 * several). SIGPIPE is ignored for the session: a client that closes its
 * end makes a write fail, which ends the session cleanly.
 */
#include "config.h"

#include "bs.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "address.h"
#include "util.h"

#define MAX_REASON 400       /* octets of a submit error quoted in a reply */
#define MAX_ENVID 100        /* RFC 3461 section 4.4 */
#define DEFAULT_TIMEOUT 300  /* seconds, when the config gives none */

enum read_status { RD_LINE = 1, RD_EOF = 0, RD_ERROR = -1, RD_TIMEOUT = -2, RD_TOO_LONG = -3 };

struct session {
	const struct submit_ctx *ctx;
	const char *hostname;
	int in_fd, out_fd;
	struct buf out;          /* replies not yet written */
	bool write_failed;
	bool greeted;            /* HELO or EHLO seen */
	bool in_mail;            /* submit_begin done, not yet committed/aborted */
	bool quit;
	size_t nrcpts;           /* RCPT commands accepted in this transaction */
	unsigned errors;
	struct submission sub;
	char ret[5];             /* DSN RET of this transaction */
	char envid[MAX_ENVID + 1];
	/* DATA */
	uint64_t data_size;
	int data_rc;             /* first failure while feeding; -1: too big */
	char data_err[512];
	char line[BS_MAX_LINE + 1];
	struct linereader lr;    /* last: it is large */
};

/* ---------- replies ---------- */

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
	/* replies are short: a code, a fixed text, a host name (<= 255) or a
	 * reason (<= MAX_REASON); a longer one would be cut, never overrun */
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_add(&s->out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	buf_adds(&s->out, "\r\n");
}

/* Make a reason from submit safe for one reply line: printable ASCII,
 * bounded. */
static void clean_reason(const char *in, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; in && in[i] && j + 1 < outlen && j < MAX_REASON; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[j] = '\0';
	if (j == 0)
		set_err(out, outlen, "%s", "unspecified error");
}

static void flush_replies(struct session *s)
{
	if (s->out.len == 0 || s->write_failed)
		return;
	if (write_all(s->out_fd, s->out.data, s->out.len) != 0)
		s->write_failed = true;
	buf_reset(&s->out);
}

/* A client error: counted so that a looping client is cut off. */
static void error_reply(struct session *s, const char *text)
{
	reply(s, "%s", text);
	s->errors++;
}

/* ---------- reading ---------- */

static int timeout_ms(unsigned seconds)
{
	if (seconds == 0)
		seconds = DEFAULT_TIMEOUT;
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

/* The next fragment of input. Replies are flushed first whenever the read
 * would block, which is what makes pipelining work. */
static int next_fragment(struct session *s, int tmo, const char **p, size_t *n, bool *eol)
{
	if (s->lr.start == s->lr.end && !s->lr.eof) {
		flush_replies(s);
		if (s->write_failed)
			return RD_ERROR;
		struct pollfd pfd = { .fd = s->in_fd, .events = POLLIN };
		int r;
		uint64_t deadline = now_ms() + (uint64_t)tmo;
		for (;;) {
			uint64_t now = now_ms();
			int left = now >= deadline ? 0 : (int)(deadline - now);
			r = poll(&pfd, 1, left);
			if (r >= 0 || errno != EINTR)
				break;
		}
		if (r == 0)
			return RD_TIMEOUT;
		if (r < 0)
			return RD_ERROR;
	}
	bool bol;
	int r = lr_next(&s->lr, p, n, &bol, eol);
	return r > 0 ? RD_LINE : r == 0 ? RD_EOF : RD_ERROR;
}

/* Read one command line into s->line without its line end. A longer line
 * than BS_MAX_LINE is consumed up to its LF without being kept. A last
 * line without LF before end of input still counts. */
static int read_command(struct session *s)
{
	size_t len = 0;
	bool too_long = false, got_any = false;
	int tmo = timeout_ms(s->ctx->cfg->timeouts.command);
	for (;;) {
		const char *p;
		size_t n;
		bool eol;
		int r = next_fragment(s, tmo, &p, &n, &eol);
		if (r != RD_LINE) {
			if (r == RD_EOF && got_any)
				break;
			return r;
		}
		got_any = true;
		if (!too_long && len + n <= BS_MAX_LINE) {
			memcpy(s->line + len, p, n);
			len += n;
		} else {
			too_long = true;
		}
		if (eol)
			break;
	}
	if (too_long)
		return RD_TOO_LONG;
	if (len > 0 && s->line[len - 1] == '\n')
		len--;
	if (len > 0 && s->line[len - 1] == '\r')
		len--;
	if (len > BS_MAX_LINE - 2)
		return RD_TOO_LONG;
	s->line[len] = '\0';
	/* a NUL inside the line would silently cut it: make it visible */
	if (memchr(s->line, '\0', len))
		s->line[0] = '\x01';
	return RD_LINE;
}

/* Iterate over ESMTP parameters "KEY[=VALUE] ...": returns false at the
 * end; key/value point into the string (not NUL-terminated). */
static bool next_param(const char **cursor, const char **key, size_t *klen, const char **val,
		       size_t *vlen)
{
	const char *p = *cursor;
	while (*p == ' ')
		p++;
	if (!*p)
		return false;
	size_t tok = strcspn(p, " ");
	const char *eq = memchr(p, '=', tok);
	*key = p;
	*klen = eq ? (size_t)(eq - p) : tok;
	*val = eq ? eq + 1 : NULL;
	*vlen = eq ? (size_t)(p + tok - eq - 1) : 0;
	*cursor = p + tok;
	return true;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
	return strlen(name) == klen && ascii_ncasecmp(key, name, klen) == 0;
}

/* ---------- transactions ---------- */

static void reset_transaction(struct session *s)
{
	if (s->in_mail)
		submit_abort(&s->sub);
	s->in_mail = false;
	s->nrcpts = 0;
}

static bool is_input_error(int rc)
{
	return rc == EX_DATAERR || rc == EX_USAGE || rc == EX_NOUSER;
}

static void do_helo(struct session *s, const char *arg, bool extended)
{
	if (!*arg) {
		error_reply(s, extended ? "501 5.5.4 Syntax: EHLO hostname"
					: "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	reset_transaction(s);
	s->greeted = true;
	if (!extended) {
		reply(s, "250 %s", s->hostname);
		return;
	}
	reply(s, "250-%s", s->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu", (unsigned long long)s->ctx->cfg->max_message_size);
	reply(s, "250-8BITMIME");
	reply(s, "250-DSN");
	reply(s, "250-SMTPUTF8");
	reply(s, "250 ENHANCEDSTATUSCODES");
}

static void do_mail(struct session *s, const char *arg)
{
	if (!s->greeted) {
		error_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->in_mail) {
		error_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	struct bs_path path;
	int pr = bs_parse_path(arg, "FROM", &path);
	if (pr == -1) {
		error_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (pr == -2) {
		error_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	struct submit_opts opts = { 0 };
	s->ret[0] = s->envid[0] = '\0';
	const char *cur = path.params, *key, *val;
	size_t klen, vlen;
	uint64_t max = s->ctx->cfg->max_message_size;
	while (next_param(&cur, &key, &klen, &val, &vlen)) {
		char num[32];
		if (key_is(key, klen, "SIZE") && val) {
			uint64_t size;
			if (vlen == 0 || vlen >= sizeof(num)) {
				error_reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			memcpy(num, val, vlen);
			num[vlen] = '\0';
			if (!parse_u64(num, &size)) {
				error_reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (max && size > max) {
				reply(s, "552 5.3.4 Message size exceeds fixed limit");
				return;
			}
		} else if (key_is(key, klen, "BODY") && val) {
			if (!key_is(val, vlen, "7BIT") && !key_is(val, vlen, "8BITMIME")) {
				error_reply(s, "501 5.5.4 Bad BODY keyword value");
				return;
			}
		} else if (key_is(key, klen, "RET") && val) {
			if (!key_is(val, vlen, "FULL") && !key_is(val, vlen, "HDRS")) {
				error_reply(s, "501 5.5.4 Bad RET parameter");
				return;
			}
			strcpy(s->ret, key_is(val, vlen, "FULL") ? "FULL" : "HDRS");
			opts.ret = s->ret;
		} else if (key_is(key, klen, "ENVID") && val) {
			if (!bs_xtext_decode(val, vlen, s->envid, sizeof(s->envid)) || !s->envid[0]) {
				error_reply(s, "501 5.5.4 Bad ENVID parameter");
				return;
			}
			opts.envid = s->envid;
		} else if (key_is(key, klen, "SMTPUTF8") && !val) {
			/* accepted; the spool flags come from the content */
		} else {
			error_reply(s, "555 5.5.4 Unsupported MAIL parameter");
			return;
		}
	}
	char err[512] = "", why[MAX_REASON + 1];
	int rc = submit_begin(&s->sub, s->ctx, &opts, path.addr, err, sizeof(err));
	if (rc != 0) {
		clean_reason(err, why, sizeof(why));
		if (is_input_error(rc))
			reply(s, "553 5.1.7 %s", why);
		else
			reply(s, "451 4.3.0 %s", why);
		return;
	}
	s->in_mail = true;
	s->nrcpts = 0;
	reply(s, "250 2.1.0 Ok");
}

/* Give the recipients submit just added the client's DSN parameters. */
static void apply_rcpt_dsn(struct session *s, size_t first, unsigned notify, const char *orcpt)
{
	struct envelope *env = &s->sub.env;
	for (size_t k = first; k < env->nrcpts; k++) {
		if (notify)
			env->rcpts[k].notify = notify;
		if (orcpt) {
			free(env->rcpts[k].orcpt);
			env->rcpts[k].orcpt = xstrdup(orcpt);
		}
	}
}

static void do_rcpt(struct session *s, const char *arg)
{
	if (!s->in_mail) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	struct bs_path path;
	int pr = bs_parse_path(arg, "TO", &path);
	if (pr == -1) {
		error_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (pr == -2 || path.addr[0] == '\0') {
		error_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (s->nrcpts >= BS_MAX_RCPTS) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	unsigned notify = 0;
	char orcpt[BS_MAX_PATH + 1] = "";
	const char *cur = path.params, *key, *val;
	size_t klen, vlen;
	while (next_param(&cur, &key, &klen, &val, &vlen)) {
		if (key_is(key, klen, "NOTIFY") && val) {
			notify = bs_parse_notify(val, vlen);
			if (!notify) {
				error_reply(s, "501 5.5.4 Bad NOTIFY parameter");
				return;
			}
		} else if (key_is(key, klen, "ORCPT") && val) {
			const char *semi = memchr(val, ';', vlen);
			size_t tlen = semi ? (size_t)(semi - val) : 0;
			if (!semi || tlen == 0 ||
			    !bs_xtext_decode(semi + 1, vlen - tlen - 1, orcpt, sizeof(orcpt)) ||
			    !orcpt[0]) {
				error_reply(s, "501 5.5.4 Bad ORCPT parameter");
				return;
			}
			if (!key_is(val, tlen, "rfc822"))
				orcpt[0] = '\0'; /* another address type: not kept */
		} else {
			error_reply(s, "555 5.5.4 Unsupported RCPT parameter");
			return;
		}
	}
	char err[512] = "", why[MAX_REASON + 1];
	size_t before = s->sub.env.nrcpts;
	unsigned saved_notify = s->sub.opts.notify;
	if (notify)
		s->sub.opts.notify = notify;
	int rc = submit_add_rcpt(&s->sub, path.addr, err, sizeof(err));
	s->sub.opts.notify = saved_notify;
	if (rc != 0) {
		clean_reason(err, why, sizeof(why));
		if (rc == EX_NOUSER)
			reply(s, "550 5.1.1 %s", why);
		else if (is_input_error(rc))
			reply(s, "553 5.1.3 %s", why);
		else
			reply(s, "451 4.3.0 %s", why);
		return;
	}
	apply_rcpt_dsn(s, before, notify, orcpt[0] ? orcpt : NULL);
	s->nrcpts++;
	reply(s, "250 2.1.5 Ok");
}

/* Intake counts the stored form (headers added, CRLF, QP) against
 * max_message_size and says EX_DATAERR as for any bad message; its reason
 * tells the two apart, so that the client gets 552 rather than 554. */
static bool too_big(int rc, const char *err)
{
	return rc == EX_DATAERR && strstr(err, "max_message_size") != NULL;
}

/* Message bytes after unstuffing: counted against the size limit, then
 * handed to submit. The first failure is kept; later bytes are dropped
 * while the rest of the message is read up to its final dot. */
static void body_feed(struct session *s, const char *p, size_t n)
{
	if (s->data_rc != 0)
		return;
	uint64_t max = s->ctx->cfg->max_message_size;
	s->data_size += n;
	if (max && s->data_size > max) {
		s->data_rc = -1;
		return;
	}
	int rc = submit_feed(&s->sub, p, n, s->data_err, sizeof(s->data_err));
	if (too_big(rc, s->data_err))
		rc = -1;
	if (rc != 0)
		s->data_rc = rc;
}

/* Read the message text up to the "." line, unstuffing leading dots.
 * RD_LINE when the final dot was seen. */
static int read_data(struct session *s)
{
	enum { AT_BOL, DOT, DOT_CR, IN_LINE } st = AT_BOL;
	int tmo = timeout_ms(s->ctx->cfg->timeouts.data);
	for (;;) {
		const char *p;
		size_t n, i = 0;
		bool eol;
		int r = next_fragment(s, tmo, &p, &n, &eol);
		if (r != RD_LINE)
			return r;
		/* the start of a line decides between end, unstuffing and text */
		while (i < n && st != IN_LINE) {
			char c = p[i];
			if (st == AT_BOL && c == '.') {
				st = DOT;
				i++;
			} else if (st == DOT && c == '\r') {
				st = DOT_CR;
				i++;
			} else if ((st == DOT || st == DOT_CR) && c == '\n') {
				return RD_LINE;
			} else {
				if (st == DOT_CR)
					body_feed(s, "\r", 1);
				st = IN_LINE;
			}
		}
		if (i < n)
			body_feed(s, p + i, n - i);
		if (eol)
			st = AT_BOL;
	}
}

/* Returns false when the session must end (input ended or failed). */
static bool do_data(struct session *s, const char *arg, int *status)
{
	if (*arg) {
		error_reply(s, "501 5.5.4 Syntax: DATA");
		return true;
	}
	if (!s->in_mail) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return true;
	}
	if (s->nrcpts == 0) {
		error_reply(s, "554 5.5.1 Error: no valid recipients");
		return true;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->data_size = 0;
	s->data_rc = 0;
	s->data_err[0] = '\0';
	int r = read_data(s);
	if (r != RD_LINE) {
		reset_transaction(s);
		if (r == RD_TIMEOUT)
			reply(s, "421 4.4.2 %s Error: timeout exceeded", s->hostname);
		*status = r == RD_ERROR ? EX_IOERR : EX_TEMPFAIL;
		return false;
	}
	char why[MAX_REASON + 1];
	int rc = s->data_rc;
	char id[SPOOL_ID_LEN + 1] = "";
	if (rc == 0) {
		rc = submit_commit(&s->sub, id, s->data_err, sizeof(s->data_err));
		if (too_big(rc, s->data_err))
			rc = -1;
	}
	if (rc == 0) {
		/* committed: the submission is finished, nothing to abort */
		s->in_mail = false;
		s->nrcpts = 0;
		reply(s, "250 2.0.0 Ok: queued as %s", id);
		return true;
	}
	reset_transaction(s);
	clean_reason(s->data_err, why, sizeof(why));
	if (rc == -1)
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
	else if (is_input_error(rc))
		reply(s, "554 5.6.0 %s", why);
	else
		reply(s, "451 4.3.0 %s", why);
	return true;
}

/* One command line. Returns false when the session ends. */
static bool dispatch(struct session *s, int *status)
{
	for (const char *c = s->line; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (u < 0x20 || u == 0x7f) {
			error_reply(s, "500 5.5.2 Error: bad syntax");
			return true;
		}
	}
	if (!s->line[0]) {
		error_reply(s, "500 5.5.2 Error: bad syntax");
		return true;
	}
	const char *arg;
	switch (bs_parse_verb(s->line, &arg)) {
	case BS_HELO:
		do_helo(s, arg, false);
		break;
	case BS_EHLO:
		do_helo(s, arg, true);
		break;
	case BS_MAIL:
		do_mail(s, arg);
		break;
	case BS_RCPT:
		do_rcpt(s, arg);
		break;
	case BS_DATA:
		return do_data(s, arg, status);
	case BS_RSET:
		reset_transaction(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case BS_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case BS_QUIT:
		reply(s, "221 2.0.0 Bye");
		s->quit = true;
		return false;
	case BS_VRFY:
		if (!*arg)
			error_reply(s, "501 5.5.4 Syntax: VRFY address");
		else
			reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case BS_HELP:
		reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
		break;
	case BS_EXPN:
	case BS_NOT_IMPLEMENTED:
		error_reply(s, "502 5.5.1 Error: command not implemented");
		break;
	case BS_UNKNOWN:
		error_reply(s, "500 5.5.2 Error: command not recognized");
		break;
	}
	return true;
}

/* The greeting name: the configured hostname if it is a plain token. */
static const char *greeting_name(const struct sp_config *cfg)
{
	const char *h = cfg->hostname;
	if (!h || !*h || strlen(h) > 255)
		return "localhost";
	for (const char *c = h; *c; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return "localhost";
	}
	return h;
}

int bs_session(const struct submit_ctx *ctx, int in_fd, int out_fd)
{
	/* a client that goes away must not kill us mid-transaction */
	signal(SIGPIPE, SIG_IGN);
	struct session *s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->hostname = greeting_name(ctx->cfg);
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	buf_init(&s->out);
	lr_init(&s->lr, in_fd);

	int status = 0;
	reply(s, "220 %s ESMTP sealpost", s->hostname);
	for (;;) {
		if (s->errors >= BS_MAX_ERRORS) {
			reply(s, "421 4.7.0 %s Error: too many errors", s->hostname);
			status = EX_TEMPFAIL;
			break;
		}
		int r = read_command(s);
		if (r == RD_TOO_LONG) {
			error_reply(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (r == RD_TIMEOUT) {
			reply(s, "421 4.4.2 %s Error: timeout exceeded", s->hostname);
			status = EX_TEMPFAIL;
			break;
		}
		if (r == RD_ERROR) {
			status = EX_IOERR;
			break;
		}
		if (r == RD_EOF) {
			status = s->in_mail ? EX_TEMPFAIL : 0;
			break;
		}
		if (!dispatch(s, &status))
			break;
	}
	reset_transaction(s);
	flush_replies(s);
	if (s->write_failed && status == 0 && !s->quit)
		status = EX_IOERR;
	buf_free(&s->out);
	free(s);
	return status;
}
