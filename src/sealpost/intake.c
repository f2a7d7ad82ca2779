/*
 * intake.c - a push parser that turns the caller's bytes into the message
 * sealpost stores: line ends normalised to CRLF (a lone CR or LF becomes
 * CRLF, so no bare CR/LF is ever stored), Bcc:/Resent-Bcc: removed,
 * From:/Date:/Message-ID: appended to the header section when missing,
 * recipients collected for -t, and no line over 998 octets.
 *
 * Memory: the header section (at most INTAKE_MAX_HEADER_BYTES) is kept; the
 * body streams through fixed buffers. The common case is one pass. When a
 * body line is over 998 octets, a second pass rereads the body from the
 * first file (spool_writer_restart) and re-encodes only what needs it: a
 * non-multipart body, or the affected leaf parts of a multipart one, become
 * quoted-printable (an existing base64 or QP part is re-wrapped instead,
 * which keeps its decoded content); over-long lines nobody decodes
 * (preamble, epilogue, parts beyond the MIME bounds) are cut at 998.
 *
 * Choices (sendmail/Postfix behaviour where they agree):
 *  - generated headers are appended at the end of the header section;
 *  - a first line "From " (mbox separator) is dropped;
 *  - a line that is not a header field ends the header section, and a
 *    blank line is inserted before it (so a message without headers gets
 *    the generated ones and its text as the body);
 *  - the stored message always has the blank line after the headers;
 *  - a header line over 998 octets is folded at whitespace; a word longer
 *    than a line is RFC 2047-encoded (Subject and other text fields) or
 *    broken with CRLF SP as Postfix does (headers.c): never rejected.
 * No privilege; the input is hostile.
 */
#include "config.h"

#include "intake.h"
#include "address.h"
#include "encode.h"
#include "headers.h"
#include "mime.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define HEADER_NAME_MAX 998
#define MESSAGE_ID_MAX 998

enum phase { PH_HEADERS, PH_FROM_LINE, PH_BODY };
enum line_kind { LK_UNDECIDED, LK_HEADER, LK_NOT_HEADER };
enum action { ACT_COPY, ACT_QP, ACT_QP_SPLIT, ACT_WRAP76 };

struct intake {
	bool extract;
	char *from_addr, *full_name, *hostname;
	time_t now;
	struct spool_writer *w;
	int status;
	char err[256];
	enum phase phase;
	bool pending_cr;
	size_t nlines;           /* header-phase lines done */

	/* header phase: the section with CRLF line ends, plus the current line */
	struct buf sec;
	size_t line_start;
	enum line_kind lkind;
	size_t lscan;            /* octets of the current line classified */
	bool lname_ws;           /* whitespace seen after the field name */
	bool have_field;

	struct hdr_index ix;
	struct buf gen;          /* generated fields, the same in both passes */
	uint64_t body_offset;

	/* body */
	int pass;
	struct msgout out;
	struct mime_walker mime;
	char prefix[MIME_PREFIX_MAX];
	size_t plen;
	uint64_t line_len;
	bool classified, in_line;
	enum mime_line cls;
	unsigned part;
	struct xform xf;
	bool any_long, body_8bit;
	enum action *actions;    /* pass 2: per MIME part */
	size_t nactions;
	bool drop_field;         /* pass 2: inside a part's replaced CTE field */

	/* results */
	char **rcpts;
	size_t nrcpts, rcap;
	bool smtputf8;
	char *message_id;
};

static int fail(struct intake *in, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct intake *in, int code, const char *fmt, ...)
{
	if (in->status)
		return in->status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->err, sizeof(in->err), fmt, ap);
	va_end(ap);
	in->status = code;
	return code;
}

/* The current status, taking over the output's first error. */
static int status(struct intake *in)
{
	if (!in->status && in->out.status) {
		in->status = in->out.status;
		snprintf(in->err, sizeof(in->err), "%s", in->out.err);
	}
	return in->status;
}

struct intake *intake_new(const struct intake_opts *o, struct spool_writer *w)
{
	struct intake *in = xcalloc(1, sizeof(*in));
	in->extract = o->extract_recipients;
	in->from_addr = o->from_addr ? xstrdup(o->from_addr) : NULL;
	in->full_name = o->full_name ? xstrdup(o->full_name) : NULL;
	in->hostname = o->hostname ? xstrdup(o->hostname) : NULL;
	in->now = o->now ? o->now : time(NULL);
	in->w = w;
	in->phase = PH_HEADERS;
	in->pass = 1;
	buf_init(&in->sec);
	buf_add(&in->sec, "", 0); /* data is never NULL */
	buf_init(&in->gen);
	buf_add(&in->gen, "", 0);
	msgout_init(&in->out, w->fd, o->max_size);
	return in;
}

/* ---- body lines (both passes) ---- */

static enum xform_kind choose_xform(struct intake *in, bool is_long)
{
	enum action act = (in->part != MIME_NO_PART && in->part < in->nactions) ? in->actions[in->part]
										 : ACT_COPY;
	if (in->pass == 1)
		return XF_COPY;
	switch (in->cls) {
	case ML_LEAF:
		if (act == ACT_QP)
			return XF_QP;
		if (!is_long)
			return XF_COPY;
		return act == ACT_QP_SPLIT ? XF_QP_SPLIT : act == ACT_WRAP76 ? XF_WRAP76 : XF_WRAP998;
	case ML_HEADER:
		if (act == ACT_QP) {
			bool cont = in->plen > 0 && (in->prefix[0] == ' ' || in->prefix[0] == '\t');
			if (!cont)
				in->drop_field = header_line_is(in->prefix, in->plen, "Content-Transfer-Encoding");
			if (in->drop_field)
				return XF_DROP;
		}
		return is_long ? XF_FOLD : XF_COPY;
	case ML_HEADER_END:
		if (act == ACT_QP)
			msgout_puts(&in->out, "Content-Transfer-Encoding: quoted-printable\r\n");
		in->drop_field = false;
		return XF_COPY;
	case ML_BOUNDARY:
		in->drop_field = false;
		return XF_COPY;
	case ML_OTHER:
		break;
	}
	return is_long ? XF_WRAP998 : XF_COPY;
}

static void classify(struct intake *in, bool truncated)
{
	in->cls = mime_line(&in->mime, in->prefix, in->plen, truncated, &in->part);
	xform_begin(&in->xf, choose_xform(in, truncated || in->plen > LINE_MAX_OCTETS));
	xform_bytes(&in->xf, &in->out, in->prefix, in->plen);
	in->classified = true;
}

static void body_bytes(struct intake *in, const char *p, size_t n)
{
	if (n == 0)
		return;
	in->in_line = true;
	if (in->pass == 1 && !in->body_8bit)
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] >= 0x80)
				in->body_8bit = true;
	in->line_len += n;
	if (!in->classified) {
		size_t take = fill_bounded(in->prefix, sizeof(in->prefix), &in->plen, p, n);
		p += take;
		n -= take;
		if (n == 0)
			return;
		classify(in, true);
	}
	xform_bytes(&in->xf, &in->out, p, n);
}

static void body_eol(struct intake *in)
{
	if (!in->classified)
		classify(in, false);
	xform_end(&in->xf, &in->out);
	if (in->pass == 1 && in->line_len > LINE_MAX_OCTETS) {
		in->any_long = true;
		if (in->cls == ML_LEAF && in->part != MIME_NO_PART)
			in->mime.parts[in->part].long_line = true;
	}
	in->plen = 0;
	in->line_len = 0;
	in->classified = false;
	in->in_line = false;
}

/* ---- end of the header section ---- */

static int add_rcpt(const char *addr, void *ctx)
{
	struct intake *in = ctx;
	if (in->nrcpts == in->rcap) {
		in->rcap = in->rcap ? in->rcap * 2 : 8;
		in->rcpts = xreallocarray(in->rcpts, in->rcap, sizeof(*in->rcpts));
	}
	in->rcpts[in->nrcpts++] = xstrdup(addr);
	if (address_needs_utf8(addr))
		in->smtputf8 = true;
	return 0;
}

/* -t: To/Cc/Bcc, or only the Resent-* ones when any is present. */
static int extract_recipients(struct intake *in)
{
	static const char *plain[] = { "To", "Cc", "Bcc" };
	static const char *resent[] = { "Resent-To", "Resent-Cc", "Resent-Bcc" };
	const char **names = plain;
	const char *sec = in->sec.data;
	for (size_t k = 0; k < 3; k++)
		if (hdr_find(&in->ix, sec, resent[k]))
			names = resent;
	for (size_t i = 0; i < in->ix.n; i++) {
		const struct hdr_field *f = &in->ix.f[i];
		for (size_t k = 0; k < 3; k++) {
			if (!hdr_is(sec, f, names[k]))
				continue;
			const char *v;
			size_t n;
			char perr[200];
			hdr_value(sec, f, &v, &n);
			if (addrlist_parse(v, n, add_rcpt, in, perr, sizeof(perr)) != 0)
				return fail(in, EX_DATAERR, "invalid address in %s: header: %s", names[k], perr);
		}
	}
	return 0;
}

static void generate_fields(struct intake *in)
{
	const char *sec = in->sec.data;
	if (!hdr_find(&in->ix, sec, "From") && in->from_addr && *in->from_addr)
		hdr_make_from(&in->gen, in->full_name, in->from_addr);
	if (!hdr_find(&in->ix, sec, "Date")) {
		char date[64];
		format_rfc5322_date(in->now, date);
		buf_printf(&in->gen, "Date: %s\r\n", date);
	}
	const struct hdr_field *mid = hdr_find(&in->ix, sec, "Message-ID");
	if (mid) {
		in->message_id = hdr_value_dup(sec, mid);
		if (strlen(in->message_id) > MESSAGE_ID_MAX)
			in->message_id[MESSAGE_ID_MAX] = '\0';
	} else {
		in->message_id = hdr_make_message_id(in->hostname, in->now);
		buf_printf(&in->gen, "Message-ID: %s\r\n", in->message_id);
	}
}

static void start_mime(struct intake *in)
{
	const struct hdr_field *ct = hdr_find(&in->ix, in->sec.data, "Content-Type");
	const struct hdr_field *cte = hdr_find(&in->ix, in->sec.data, "Content-Transfer-Encoding");
	const char *ctv = NULL, *ctev = NULL;
	size_t ctn = 0, cten = 0;
	if (ct)
		hdr_value(in->sec.data, ct, &ctv, &ctn);
	if (cte)
		hdr_value(in->sec.data, cte, &ctev, &cten);
	mime_init(&in->mime, ctv, ctn, ctev, cten);
}

/* The stored header section: received fields minus Bcc (and, when the
 * body becomes quoted-printable, minus the old CTE), then ours. */
static int write_headers(struct intake *in, bool top_qp)
{
	const char *sec = in->sec.data;
	for (size_t i = 0; i < in->ix.n; i++) {
		const struct hdr_field *f = &in->ix.f[i];
		if (hdr_is(sec, f, "Bcc") || hdr_is(sec, f, "Resent-Bcc"))
			continue;
		if (top_qp && hdr_is(sec, f, "Content-Transfer-Encoding"))
			continue;
		hdr_write(&in->out, sec, f);
	}
	msgout_write(&in->out, in->gen.data, in->gen.len);
	if (top_qp) {
		if (!hdr_find(&in->ix, sec, "MIME-Version"))
			msgout_puts(&in->out, "MIME-Version: 1.0\r\n");
		if (!hdr_find(&in->ix, sec, "Content-Type"))
			msgout_puts(&in->out, in->body_8bit ? "Content-Type: text/plain; charset=utf-8\r\n"
							    : "Content-Type: text/plain; charset=us-ascii\r\n");
		msgout_puts(&in->out, "Content-Transfer-Encoding: quoted-printable\r\n");
	}
	msgout_write(&in->out, "\r\n", 2);
	return status(in);
}

static int end_headers(struct intake *in)
{
	hdr_index_free(&in->ix);
	hdr_index_build(&in->ix, in->sec.data, in->sec.len);
	if (in->extract && extract_recipients(in))
		return in->status;
	generate_fields(in);
	start_mime(in);
	in->phase = PH_BODY;
	if (write_headers(in, false))
		return in->status;
	in->body_offset = in->out.total;
	return 0;
}

/* ---- header phase ---- */

static bool is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* Is the current line a header field? Decided as early as possible, so a
 * headerless message never has to fit in the header buffer. */
static void classify_header_byte(struct intake *in, unsigned char c)
{
	bool wsp = c == ' ' || c == '\t';
	if (in->lscan == 0) {
		if (wsp)
			in->lkind = in->have_field ? LK_HEADER : LK_NOT_HEADER;
		else if (!is_ftext(c))
			in->lkind = LK_NOT_HEADER;
	} else if (c == ':') {
		in->lkind = LK_HEADER;
	} else if (wsp) {
		in->lname_ws = true;
	} else if (!is_ftext(c) || in->lname_ws || in->lscan >= HEADER_NAME_MAX) {
		in->lkind = LK_NOT_HEADER;
	}
	in->lscan++;
}

static void next_header_line(struct intake *in)
{
	in->line_start = in->sec.len;
	in->lkind = LK_UNDECIDED;
	in->lscan = 0;
	in->lname_ws = false;
	in->nlines++;
}

static int sec_add(struct intake *in, const char *p, size_t n)
{
	if (n > INTAKE_MAX_HEADER_BYTES - in->sec.len)
		return fail(in, EX_DATAERR, "header section exceeds %d bytes", INTAKE_MAX_HEADER_BYTES);
	buf_add(&in->sec, p, n);
	return 0;
}

/* The current line is not a header: the body starts with it (or, first
 * line "From ...", it is an mbox separator and dropped). */
static int headers_end_at_line(struct intake *in)
{
	size_t plen = in->sec.len - in->line_start;
	if (in->nlines == 0 && plen >= 5 && memcmp(in->sec.data + in->line_start, "From ", 5) == 0) {
		in->sec.len = in->line_start;
		in->phase = PH_FROM_LINE;
		return 0;
	}
	in->sec.len = in->line_start; /* the bytes stay in place for body_bytes */
	if (end_headers(in))
		return in->status;
	body_bytes(in, in->sec.data + in->line_start, plen);
	return status(in);
}

static void header_bytes(struct intake *in, const char *p, size_t n)
{
	size_t k = 0;
	while (k < n && in->lkind == LK_UNDECIDED)
		classify_header_byte(in, (unsigned char)p[k++]);
	if (in->lkind != LK_NOT_HEADER)
		k = n;
	if (sec_add(in, p, k))
		return;
	if (in->lkind == LK_NOT_HEADER) {
		if (headers_end_at_line(in))
			return;
		if (in->phase == PH_BODY)
			body_bytes(in, p + k, n - k);
	}
}

static void header_eol(struct intake *in)
{
	if (in->lkind == LK_UNDECIDED && in->lscan == 0) {
		end_headers(in); /* the empty line: its CRLF is written there */
		return;
	}
	if (in->lkind != LK_HEADER) {
		if (headers_end_at_line(in))
			return;
		if (in->phase == PH_BODY)
			body_eol(in);
		else
			in->phase = PH_HEADERS; /* the dropped "From " line */
		next_header_line(in);
		return;
	}
	if (sec_add(in, "\r\n", 2))
		return;
	in->have_field = true;
	next_header_line(in);
}

/* ---- input ---- */

static void line_bytes(struct intake *in, const char *p, size_t n)
{
	if (status(in))
		return;
	if (in->phase == PH_HEADERS)
		header_bytes(in, p, n);
	else if (in->phase == PH_BODY)
		body_bytes(in, p, n);
}

static void line_end(struct intake *in)
{
	if (status(in))
		return;
	if (in->phase == PH_HEADERS) {
		header_eol(in);
	} else if (in->phase == PH_FROM_LINE) {
		in->phase = PH_HEADERS;
		next_header_line(in);
	} else {
		body_eol(in);
	}
}

int intake_feed(struct intake *in, const char *p, size_t n, char *err, size_t errlen)
{
	size_t i = 0;
	while (i < n && !status(in)) {
		if (in->pending_cr) {
			in->pending_cr = false;
			line_end(in);
			if (status(in))
				break;
			if (p[i] == '\n') {
				i++;
				continue;
			}
		}
		size_t j = i;
		while (j < n && p[j] != '\r' && p[j] != '\n' && p[j] != '\0')
			j++;
		if (j > i)
			line_bytes(in, p + i, j - i);
		if (j == n || status(in))
			break;
		if (p[j] == '\0') {
			fail(in, EX_DATAERR, "message contains NUL bytes");
			break;
		}
		if (p[j] == '\n')
			line_end(in);
		else
			in->pending_cr = true;
		i = j + 1;
	}
	if (status(in))
		set_err(err, errlen, "%s", in->err);
	return in->status;
}

/* ---- the second pass: re-encode what has over-long lines ---- */

static void decide_actions(struct intake *in)
{
	in->nactions = in->mime.nparts;
	in->actions = xcalloc(in->nactions, sizeof(*in->actions));
	for (size_t i = 0; i < in->nactions; i++) {
		const struct mime_part *p = &in->mime.parts[i];
		if (p->kind != PART_LEAF || !p->long_line)
			continue;
		in->actions[i] = p->cte == CTE_BASE64 ? ACT_WRAP76 : p->cte == CTE_QP ? ACT_QP_SPLIT : ACT_QP;
	}
}

static int reencode(struct intake *in)
{
	int old_fd = -1;
	char werr[200];
	decide_actions(in);
	msgout_flush(&in->out);
	if (status(in))
		return in->status;
	if (spool_writer_restart(in->w, &old_fd, werr, sizeof(werr)) < 0)
		return fail(in, EX_CANTCREAT, "%s", werr);
	uint64_t max = in->out.max;
	msgout_init(&in->out, in->w->fd, max);
	mime_free(&in->mime);
	start_mime(in);
	in->pass = 2;
	in->plen = 0;
	in->line_len = 0;
	in->classified = in->in_line = false;
	if (write_headers(in, in->nactions > 0 && in->actions[0] == ACT_QP) == 0) {
		char *rb = xmalloc(65536);
		off_t off = (off_t)in->body_offset;
		for (;;) {
			ssize_t r = pread(old_fd, rb, 65536, off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				fail(in, EX_CANTCREAT, "cannot read back the spooled message: %s", strerror(errno));
				break;
			}
			if (r == 0 || status(in))
				break;
			off += r;
			/* the first pass stored CRLF only: CR carries no information */
			for (ssize_t i = 0; i < r;) {
				ssize_t j = i;
				while (j < r && rb[j] != '\r' && rb[j] != '\n')
					j++;
				body_bytes(in, rb + i, (size_t)(j - i));
				if (j < r && rb[j] == '\n')
					body_eol(in);
				i = j + 1;
			}
		}
		free(rb);
		if (in->in_line)
			body_eol(in);
	}
	close(old_fd);
	return status(in);
}

int intake_finish(struct intake *in, struct intake_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	if (!status(in) && in->pending_cr) {
		in->pending_cr = false;
		line_end(in);
	}
	if (!status(in) && in->phase == PH_HEADERS && in->sec.len > in->line_start)
		header_eol(in); /* a last line without its line end */
	if (!status(in) && in->phase != PH_BODY)
		end_headers(in);
	if (!status(in) && in->in_line)
		body_eol(in); /* the missing final line end */
	msgout_flush(&in->out);
	if (!status(in) && in->any_long)
		reencode(in);
	msgout_flush(&in->out);
	if (status(in)) {
		set_err(err, errlen, "%s", in->err);
		return in->status;
	}
	res->rcpts = in->rcpts;
	res->nrcpts = in->nrcpts;
	in->rcpts = NULL;
	in->nrcpts = 0;
	res->eightbit = in->out.eightbit;
	res->smtputf8 = in->smtputf8;
	res->message_id = in->message_id;
	in->message_id = NULL;
	return 0;
}

void intake_free(struct intake *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->nrcpts; i++)
		free(in->rcpts[i]);
	free(in->rcpts);
	free(in->message_id);
	free(in->from_addr);
	free(in->full_name);
	free(in->hostname);
	free(in->actions);
	buf_free(&in->sec);
	buf_free(&in->gen);
	hdr_index_free(&in->ix);
	mime_free(&in->mime);
	free(in);
}

void intake_result_free(struct intake_result *res)
{
	for (size_t i = 0; i < res->nrcpts; i++)
		free(res->rcpts[i]);
	free(res->rcpts);
	free(res->message_id);
	memset(res, 0, sizeof(*res));
}
