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
 * (message/global* of RFC 6532/6533 when the notification itself needs
 * SMTPUTF8; else an internationalized original is downgraded, dsn.h.)
 * Runs as the worker's user. Strings from servers and the spool become
 * header-safe here: control bytes are replaced, lengths are bounded so no
 * line reaches 998 octets; the original is copied as stored (already CRLF,
 * already short lines) in fixed-size chunks.
 */
#include "config.h"

#include "dsn.h"
#include "base64.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_FIELD 900            /* bytes of one value copied into a header */

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

static void add_addr_xtext(struct buf *b, const char *addr);

/* "rfc822; addr", or "utf-8; addr" for an internationalized one (RFC
 * 6533): raw in a global report, else as utf-8-addr-xtext. */
static void add_addr_field(struct buf *b, const char *name, const char *addr, bool global, bool *eightbit)
{
	buf_printf(b, "%s: %s; ", name, has_8bit(addr) ? "utf-8" : "rfc822");
	if (global)
		add_clean(b, addr, 320, eightbit);
	else
		add_addr_xtext(b, addr);
	buf_adds(b, "\r\n");
}

/* add_clean for a report that must stay ASCII: 8-bit bytes become '?'. */
static void add_ascii(struct buf *b, const char *s, size_t max, bool global, bool *eightbit)
{
	if (global) {
		add_clean(b, s, max, eightbit);
		return;
	}
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n < max; p++, n++)
		buf_addc(b, *p < 0x20 || *p >= 0x7f ? '?' : (char)*p);
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

/* What of the original goes into the third part. */
struct returned {
	char *data;              /* the bytes returned, at most DSN_RETURN_LIMIT */
	size_t len;
	bool headers_only;       /* only the header (RET=HDRS, size, downgrade) */
	bool for_size;           /* ... because the message was refused for its size */
	bool downgraded;         /* ... because it needs SMTPUTF8 and the DSN does not */
	bool truncated;          /* cut at DSN_RETURN_LIMIT */
};

static void add_human_part(struct buf *b, const struct dsn_report *r, const struct returned *ret, bool *eightbit)
{
	const struct envelope *o = r->orig;
	char arrived[64];
	format_rfc5322_date(o->arrival, arrived);
	buf_adds(b, "This is the sealpost mail system at ");
	add_clean(b, r->hostname, 255, eightbit);
	buf_printf(b, ".\r\n\r\nYour message (queue id %s, received %s)\r\n", o->id, arrived);
	switch (r->action) {
	case DSN_FAILED:
		buf_adds(b, "could not be delivered to the recipients marked \"failed\" below.\r\n"
			    "This is a permanent error; it will not be retried. The report and\r\n"
			    "the original message follow.\r\n");
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
	if (ret->for_size)
		buf_adds(b, "\r\nThe message was refused for its size, so only its header is\r\n"
			    "returned here.\r\n");
	else if (ret->downgraded)
		buf_adds(b, "\r\nThe message has internationalized (UTF-8) headers; only its\r\n"
			    "header is returned here, base64-encoded (RFC 6533).\r\n");
	if (ret->truncated)
		buf_printf(b, "\r\nWhat is returned here is cut after %u bytes of the %s (of\r\n"
			      "%llu bytes in all).\r\n",
			   (unsigned)ret->len, ret->headers_only ? "header" : "message",
			   (unsigned long long)r->orig->size);
	buf_adds(b, "\r\n");
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		buf_adds(b, "<");
		add_clean(b, rc->addr, 320, eightbit);
		buf_printf(b, ">: %s\r\n    ", dsn_action_name(rc->relayed ? DSN_RELAYED : r->action));
		add_clean(b, rc->diagnostic ? rc->diagnostic : dsn_action_name(r->action), MAX_FIELD, eightbit);
		buf_adds(b, "\r\n");
	}
}

static void add_status_part(struct buf *b, const struct dsn_report *r, bool global, bool *eightbit)
{
	const struct envelope *o = r->orig;
	buf_adds(b, "Reporting-MTA: dns; ");
	add_ascii(b, r->hostname, 255, global, eightbit);
	buf_adds(b, "\r\n");
	if (o->envid && o->envid[0]) {
		buf_adds(b, "Original-Envelope-Id: ");
		add_ascii(b, o->envid, 100, global, eightbit);
		buf_adds(b, "\r\n");
	}
	buf_printf(b, "X-Sealpost-Queue-ID: %s\r\n", o->id);
	add_date_field(b, "Arrival-Date", o->arrival);
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		buf_adds(b, "\r\n");
		if (rc->orcpt && rc->orcpt[0])
			add_addr_field(b, "Original-Recipient", rc->orcpt, global, eightbit);
		add_addr_field(b, "Final-Recipient", rc->addr, global, eightbit);
		buf_printf(b, "Action: %s\r\n", dsn_action_name(rc->relayed ? DSN_RELAYED : r->action));
		buf_adds(b, "Status: ");
		add_clean(b, rc->status && rc->status[0] ? rc->status : "5.0.0", 15, eightbit);
		buf_adds(b, "\r\n");
		if (rc->remote_mta && rc->remote_mta[0]) {
			buf_adds(b, "Remote-MTA: dns; ");
			add_ascii(b, rc->remote_mta, 255, global, eightbit);
			buf_adds(b, "\r\n");
		}
		if (rc->diagnostic && rc->diagnostic[0]) {
			/* a server's reply is "smtp"; our own reasons get an X- type,
			 * as Postfix does (RFC 3464 2.3.6) */
			buf_printf(b, "Diagnostic-Code: %s; ", is_smtp_reply(rc->diagnostic) ? "smtp" : "X-Sealpost");
			add_ascii(b, rc->diagnostic, MAX_FIELD, global, eightbit);
			buf_adds(b, "\r\n");
		}
		if (rc->last_attempt)
			add_date_field(b, "Last-Attempt-Date", rc->last_attempt);
		if (r->action == DSN_DELAYED && r->retry_until)
			add_date_field(b, "Will-Retry-Until", r->retry_until);
	}
}

/* A status about the message's size (RFC 3463 X.3.4). */
static bool is_size_status(const char *st)
{
	return st && (st[0] == '4' || st[0] == '5') && strncmp(st + 1, ".3.4", 4) == 0 &&
	       (st[5] == '\0' || st[5] == ' ');
}

/* The length of the header: up to (not including) the empty line, or
 * everything when there is none. */
static size_t header_length(const char *p, size_t n)
{
	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 1;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 1;
	}
	return n;
}

/* Read the part of the original that is returned: at most the limit,
 * cut after a line end (stored lines are at most 998 octets, so one is
 * always found). 0, or -1 with err. */
static int read_returned(const struct dsn_report *r, bool global, struct returned *ret, char *err, size_t errlen)
{
	const struct envelope *o = r->orig;
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < r->nrcpts; i++)
		if (!r->rcpts[i].relayed && is_size_status(r->rcpts[i].status))
			ret->for_size = true;
	ret->downgraded = (o->flags & ENV_SMTPUTF8) && !global;
	ret->headers_only = ret->for_size || ret->downgraded || (o->ret && ascii_casecmp(o->ret, "HDRS") == 0);
	ret->data = xmalloc(DSN_RETURN_LIMIT);
	size_t n = 0;
	while (n < DSN_RETURN_LIMIT) {
		ssize_t k = pread(r->msg_fd, ret->data + n, DSN_RETURN_LIMIT - n, (off_t)n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			set_err(err, errlen, "cannot read the original message: %s", strerror(errno));
			return -1;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	bool more = n == DSN_RETURN_LIMIT && o->size > DSN_RETURN_LIMIT;
	if (ret->headers_only) {
		size_t h = header_length(ret->data, n);
		if (h < n)
			more = false;
		n = h;
	}
	if (more) {
		ret->truncated = true;
		while (n > 0 && ret->data[n - 1] != '\n')
			n--;
	}
	ret->len = n;
	return 0;
}

/* RFC 6533 utf-8-addr-xtext: an internationalized address in ASCII for a
 * message/delivery-status that travels without SMTPUTF8. */
static void add_addr_xtext(struct buf *b, const char *addr)
{
	const unsigned char *p = (const unsigned char *)(addr ? addr : "");
	for (size_t n = 0; *p && n < 320; n++) {
		unsigned c = *p, len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
						   (c & 0xf8) == 0xf0 ? 4 : 0;
		unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		bool ok = len != 0;
		for (unsigned k = 1; ok && k < len; k++) {
			if ((p[k] & 0xc0) != 0x80)
				ok = false;
			else
				cp = cp << 6 | (p[k] & 0x3f);
		}
		if (!ok) {
			buf_addc(b, '?');
			p++;
			continue;
		}
		p += len;
		if (cp < 0x20 || cp == 0x7f)
			buf_addc(b, '?');
		else if (cp >= 0x80 || cp == '\\' || cp == '+' || cp == '=')
			buf_printf(b, "\\x{%X}", cp);
		else
			buf_addc(b, (char)cp);
	}
}

/* Append a chunk of the original, base64 in lines of 76 characters. */
static void add_base64(struct buf *b, const char *p, size_t n)
{
	char line[80];
	for (size_t off = 0; off < n; off += 57) {
		size_t k = n - off < 57 ? n - off : 57;
		base64_encode(p + off, k, line);
		buf_adds(b, line);
		buf_adds(b, "\r\n");
	}
}

int dsn_write(const struct dsn_report *r, const char *message_id, const char *boundary, int out_fd,
	      int *eightbit_out, char *err, size_t errlen)
{
	const struct envelope *o = r->orig;
	/* the notification needs SMTPUTF8 only when its own recipient or
	 * From: does (dsn_queue sets the flag the same way) */
	bool global = has_8bit(o->sender) || has_8bit(r->from);
	bool eightbit = false;
	struct returned ret;
	if (read_returned(r, global, &ret, err, errlen) < 0) {
		free(ret.data);
		return -1;
	}
	struct buf b, text;
	buf_init(&b);
	buf_init(&text);

	/* the human part first, so its charset is known for its header */
	bool text8 = false;
	add_human_part(&text, r, &ret, &text8);
	eightbit = text8;

	buf_adds(&b, "From: Mail Delivery System <");
	if (r->from && r->from[0]) {
		add_clean(&b, r->from, 320, &eightbit);
	} else {
		buf_adds(&b, "MAILER-DAEMON@");
		add_clean(&b, r->hostname, 255, &eightbit);
	}
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
	add_status_part(&status, r, global, &status8);
	eightbit = eightbit || status8;
	buf_printf(&b, "\r\n--%s\r\nContent-Description: Delivery report\r\n", boundary);
	buf_printf(&b, "Content-Type: message/%sdelivery-status\r\n", global ? "global-" : "");
	if (status8)
		buf_adds(&b, "Content-Transfer-Encoding: 8bit\r\n");
	buf_adds(&b, "\r\n");
	buf_add(&b, status.data, status.len);
	buf_free(&status);

	bool raw8 = (o->flags & ENV_8BITMIME) || (o->flags & ENV_SMTPUTF8);
	buf_printf(&b, "\r\n--%s\r\n", boundary);
	if (ret.downgraded) {
		buf_adds(&b, "Content-Description: Undelivered Message Headers\r\n"
			     "Content-Type: text/rfc822-headers; charset=utf-8\r\n"
			     "Content-Transfer-Encoding: base64\r\n\r\n");
		add_base64(&b, ret.data, ret.len);
	} else {
		if (ret.headers_only)
			buf_printf(&b, "Content-Description: Undelivered Message Headers\r\nContent-Type: %s\r\n",
				   global ? "message/global-headers" : "text/rfc822-headers");
		else
			buf_printf(&b, "Content-Description: %s\r\nContent-Type: %s\r\n",
				   r->action == DSN_FAILED ? "Undelivered Message" : "Message",
				   global ? "message/global" : "message/rfc822");
		if (raw8) {
			buf_adds(&b, "Content-Transfer-Encoding: 8bit\r\n");
			eightbit = true;
		}
		buf_adds(&b, "\r\n");
		buf_add(&b, ret.data, ret.len);
		if (ret.len > 0 && ret.data[ret.len - 1] != '\n')
			buf_adds(&b, "\r\n");
	}
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	int rc = 0;
	if (write_all(out_fd, b.data, b.len) < 0) {
		set_err(err, errlen, "cannot write the notification: %s", strerror(errno));
		rc = -1;
	}
	buf_free(&b);
	free(ret.data);
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
	/* SMTPUTF8 only when the notification itself needs it (its
	 * recipient or From:), never inherited from the original */
	env.flags = ENV_BOUNCE | (eightbit ? ENV_8BITMIME : 0);
	if (has_8bit(o->sender) || has_8bit(r->from))
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
