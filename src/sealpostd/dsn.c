/*
 * dsn.c - build and queue RFC 3464 delivery status notifications (see
 * dsn.h). The layout:
 *
 *   multipart/report; report-type=delivery-status
 *     text/plain                  what happened, for people
 *     message/delivery-status     per-message fields, then per recipient
 *                                 Final-Recipient, Action, Status, ...
 *     message/rfc822              the original (RET=FULL or no RET), or
 *     text/rfc822-headers         its header (RET=HDRS)
 *
 * (message/global* of RFC 6532/6533 when the original needed SMTPUTF8.)
 * Runs as the worker's user. Strings from servers and the spool become
 * header-safe here: control bytes are replaced, lengths are bounded so no
 * line reaches 998 octets; the original is copied as stored (already CRLF,
 * already short lines) in fixed-size chunks.
 */
#include "config.h"

#include "dsn.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_FIELD 900            /* bytes of one value copied into a header */
#define COPY_CHUNK 65536

const char *dsn_action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED: return "failed";
	case DSN_DELAYED: return "delayed";
	case DSN_RELAYED: return "relayed";
	}
	return "failed";
}

/* Append s with control bytes replaced and at most max bytes; note 8-bit. */
static void add_clean(struct buf *b, const char *s, size_t max, bool *eightbit)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n < max; p++, n++) {
		unsigned char c = *p;
		if (c < 0x20 || c == 0x7f)
			c = '?';
		else if (c >= 0x80)
			*eightbit = true;
		buf_addc(b, (char)c);
	}
}

static bool has_8bit(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		if (*p >= 0x80)
			return true;
	return false;
}

/* "rfc822; addr", or "utf-8; addr" for an internationalized one (RFC 6533). */
static void add_addr_field(struct buf *b, const char *name, const char *addr, bool *eightbit)
{
	buf_printf(b, "%s: %s; ", name, has_8bit(addr) ? "utf-8" : "rfc822");
	add_clean(b, addr, 320, eightbit);
	buf_adds(b, "\r\n");
}

static void add_date_field(struct buf *b, const char *name, time_t t)
{
	char d[64];
	format_rfc5322_date(t, d);
	buf_printf(b, "%s: %s\r\n", name, d);
}

/* An SMTP reply starts with three digits; anything else is our own words. */
static bool is_smtp_reply(const char *s)
{
	return s && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
	       (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

static const char *subject_of(enum dsn_action a)
{
	switch (a) {
	case DSN_FAILED: return "Undelivered Mail Returned to Sender";
	case DSN_DELAYED: return "Delayed Mail (still being retried)";
	case DSN_RELAYED: return "Successful Mail Relay Notification";
	}
	return "Delivery Status Notification";
}

static void add_human_part(struct buf *b, const struct dsn_report *r, bool *eightbit)
{
	const struct envelope *o = r->orig;
	char arrived[64];
	format_rfc5322_date(o->arrival, arrived);
	buf_adds(b, "This is the sealpost mail system at ");
	add_clean(b, r->hostname, 255, eightbit);
	buf_printf(b, ".\r\n\r\nYour message (queue id %s, received %s)\r\n", o->id, arrived);
	switch (r->action) {
	case DSN_FAILED:
		buf_adds(b, "could not be delivered to the recipients below. This is a permanent\r\n"
			    "error; it will not be retried. The report and the original message\r\n"
			    "follow.\r\n");
		break;
	case DSN_DELAYED: {
		buf_adds(b, "has not been delivered yet to the recipients below. No action is\r\n"
			    "needed: delivery will be retried");
		if (r->retry_until) {
			char until[64];
			format_rfc5322_date(r->retry_until, until);
			buf_printf(b, " until\r\n%s", until);
		}
		buf_adds(b, ".\r\n");
		break;
	}
	case DSN_RELAYED:
		buf_adds(b, "was relayed to the recipients below. The next server does not send\r\n"
			    "delivery notifications, so you will hear no more about it from here.\r\n");
		break;
	}
	buf_adds(b, "\r\n");
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		buf_adds(b, "<");
		add_clean(b, rc->addr, 320, eightbit);
		buf_adds(b, ">:\r\n    ");
		add_clean(b, rc->diagnostic ? rc->diagnostic : dsn_action_name(r->action), MAX_FIELD, eightbit);
		buf_adds(b, "\r\n");
	}
}

static void add_status_part(struct buf *b, const struct dsn_report *r, bool *eightbit)
{
	const struct envelope *o = r->orig;
	buf_adds(b, "Reporting-MTA: dns; ");
	add_clean(b, r->hostname, 255, eightbit);
	buf_adds(b, "\r\n");
	if (o->envid && o->envid[0]) {
		buf_adds(b, "Original-Envelope-Id: ");
		add_clean(b, o->envid, 100, eightbit);
		buf_adds(b, "\r\n");
	}
	buf_printf(b, "X-Sealpost-Queue-ID: %s\r\n", o->id);
	add_date_field(b, "Arrival-Date", o->arrival);
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		buf_adds(b, "\r\n");
		if (rc->orcpt && rc->orcpt[0])
			add_addr_field(b, "Original-Recipient", rc->orcpt, eightbit);
		add_addr_field(b, "Final-Recipient", rc->addr, eightbit);
		buf_printf(b, "Action: %s\r\n", dsn_action_name(r->action));
		buf_adds(b, "Status: ");
		add_clean(b, rc->status && rc->status[0] ? rc->status : "5.0.0", 15, eightbit);
		buf_adds(b, "\r\n");
		if (rc->remote_mta && rc->remote_mta[0]) {
			buf_adds(b, "Remote-MTA: dns; ");
			add_clean(b, rc->remote_mta, 255, eightbit);
			buf_adds(b, "\r\n");
		}
		if (rc->diagnostic && rc->diagnostic[0]) {
			/* a server's reply is "smtp"; our own reasons get an X- type,
			 * as Postfix does (RFC 3464 2.3.6) */
			buf_printf(b, "Diagnostic-Code: %s; ", is_smtp_reply(rc->diagnostic) ? "smtp" : "X-Sealpost");
			add_clean(b, rc->diagnostic, MAX_FIELD, eightbit);
			buf_adds(b, "\r\n");
		}
		if (rc->last_attempt)
			add_date_field(b, "Last-Attempt-Date", rc->last_attempt);
		if (r->action == DSN_DELAYED && r->retry_until)
			add_date_field(b, "Will-Retry-Until", r->retry_until);
	}
}

/*
 * Copy the original from its spool file: everything, or (headers_only)
 * up to the empty line that ends the header. *last receives the last byte
 * written so the caller can end the part on a line break.
 */
static int copy_original(int in_fd, int out_fd, bool headers_only, char *last, char *err, size_t errlen)
{
	char *chunk = xmalloc(COPY_CHUNK);
	off_t off = 0;
	size_t line_len = 0; /* bytes of the current line, CR excluded */
	int r = 0;
	*last = '\n';
	for (;;) {
		ssize_t n = pread(in_fd, chunk, COPY_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, errlen, "cannot read the original message: %s", strerror(errno));
			r = -1;
			break;
		}
		if (n == 0)
			break;
		size_t take = (size_t)n;
		bool done = false;
		if (headers_only) {
			for (size_t i = 0; i < (size_t)n; i++) {
				if (chunk[i] == '\n') {
					if (line_len == 0) { /* the empty line: stop before it */
						take = i;
						if (take > 0 && chunk[take - 1] == '\r')
							take--;
						done = true;
						break;
					}
					line_len = 0;
				} else if (chunk[i] != '\r') {
					line_len++;
				}
			}
		}
		if (take > 0) {
			if (write_all(out_fd, chunk, take) < 0) {
				set_err(err, errlen, "cannot write the notification: %s", strerror(errno));
				r = -1;
				break;
			}
			*last = chunk[take - 1];
		}
		off += n;
		if (done)
			break;
	}
	free(chunk);
	return r;
}

int dsn_write(const struct dsn_report *r, const char *message_id, const char *boundary, int out_fd,
	      int *eightbit_out, char *err, size_t errlen)
{
	const struct envelope *o = r->orig;
	bool eightbit = (o->flags & ENV_8BITMIME) != 0;
	bool global = (o->flags & ENV_SMTPUTF8) != 0;
	bool headers_only = o->ret && ascii_casecmp(o->ret, "HDRS") == 0;
	struct buf b, text;
	buf_init(&b);
	buf_init(&text);

	/* the human part first, so its charset is known for its header */
	bool text8 = false;
	add_human_part(&text, r, &text8);
	eightbit = eightbit || text8;

	buf_adds(&b, "From: Mail Delivery System <MAILER-DAEMON@");
	add_clean(&b, r->hostname, 255, &eightbit);
	buf_adds(&b, ">\r\nTo: <");
	add_clean(&b, o->sender, 320, &eightbit);
	buf_printf(&b, ">\r\nSubject: %s\r\n", subject_of(r->action));
	add_date_field(&b, "Date", r->now);
	buf_printf(&b, "Message-ID: <%s.dsn@", message_id);
	add_clean(&b, r->hostname, 255, &eightbit);
	buf_adds(&b, ">\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
		   boundary);
	buf_adds(&b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	buf_printf(&b, "--%s\r\nContent-Description: Notification\r\n", boundary);
	buf_printf(&b, "Content-Type: text/plain; charset=%s\r\n", text8 ? "utf-8" : "us-ascii");
	if (text8)
		buf_adds(&b, "Content-Transfer-Encoding: 8bit\r\n");
	buf_adds(&b, "\r\n");
	buf_add(&b, text.data, text.len);
	buf_free(&text);

	struct buf status;
	buf_init(&status);
	bool status8 = false;
	add_status_part(&status, r, &status8);
	eightbit = eightbit || status8;
	buf_printf(&b, "\r\n--%s\r\nContent-Description: Delivery report\r\n", boundary);
	buf_printf(&b, "Content-Type: message/%sdelivery-status\r\n", status8 || global ? "global-" : "");
	if (status8)
		buf_adds(&b, "Content-Transfer-Encoding: 8bit\r\n");
	buf_adds(&b, "\r\n");
	buf_add(&b, status.data, status.len);
	buf_free(&status);

	buf_printf(&b, "\r\n--%s\r\n", boundary);
	if (headers_only)
		buf_printf(&b, "Content-Description: Undelivered Message Headers\r\nContent-Type: %s\r\n",
			   global ? "message/global-headers" : "text/rfc822-headers");
	else
		buf_printf(&b, "Content-Description: %s\r\nContent-Type: %s\r\n",
			   r->action == DSN_FAILED ? "Undelivered Message" : "Message",
			   global ? "message/global" : "message/rfc822");
	if (o->flags & ENV_8BITMIME)
		buf_adds(&b, "Content-Transfer-Encoding: 8bit\r\n");
	buf_adds(&b, "\r\n");

	int rc = 0;
	if (write_all(out_fd, b.data, b.len) < 0) {
		set_err(err, errlen, "cannot write the notification: %s", strerror(errno));
		rc = -1;
	}
	buf_reset(&b);
	char last = '\n';
	if (rc == 0)
		rc = copy_original(r->msg_fd, out_fd, headers_only, &last, err, errlen);
	if (rc == 0) {
		buf_printf(&b, "%s\r\n--%s--\r\n", last == '\n' ? "" : "\r\n", boundary);
		if (write_all(out_fd, b.data, b.len) < 0) {
			set_err(err, errlen, "cannot write the notification: %s", strerror(errno));
			rc = -1;
		}
	}
	buf_free(&b);
	*eightbit_out = eightbit;
	return rc;
}

static void random_boundary(const char *id, char out[64])
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
	snprintf(out, 64, "=_sealpost_%s_%016llx", id, (unsigned long long)rnd);
}

int dsn_queue(const char *spool_dir, const struct dsn_report *r, char new_id[SPOOL_ID_LEN + 1], char *err,
	      size_t errlen)
{
	const struct envelope *o = r->orig;
	if (!o->sender || !o->sender[0] || (o->flags & ENV_BOUNCE)) {
		set_err(err, errlen, "no notification about a bounce or to the null sender");
		return -1;
	}
	struct spool_writer w;
	if (spool_writer_open(&w, spool_dir, err, errlen) < 0)
		return -1;
	char boundary[64];
	random_boundary(w.id, boundary);
	int eightbit = 0;
	if (dsn_write(r, w.id, boundary, w.fd, &eightbit, err, errlen) < 0) {
		spool_writer_abort(&w);
		return -1;
	}
	struct envelope env;
	envelope_init(&env);
	env.arrival = r->now;
	env.sender = xstrdup("");
	env.uid = getuid();
	env.user = xstrdup("MAILER-DAEMON");
	env.flags = ENV_BOUNCE | (eightbit ? ENV_8BITMIME : 0) | (o->flags & ENV_SMTPUTF8);
	if (has_8bit(o->sender))
		env.flags |= ENV_SMTPUTF8;
	envelope_add_rcpt(&env, o->sender, NULL, 0);
	int rc = spool_writer_commit(&w, &env, err, errlen);
	if (rc < 0)
		spool_writer_abort(&w);
	else
		snprintf(new_id, SPOOL_ID_LEN + 1, "%s", env.id);
	envelope_free(&env);
	return rc;
}
