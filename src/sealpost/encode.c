/*
 * encode.c - buffered spool output and the per-line transforms that keep
 * stored lines short (quoted-printable, base64 re-wrap, header folding).
 * No privilege; everything is streamed through fixed buffers.
 */
#include "config.h"

#include "encode.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sysexits.h>

void msgout_init(struct msgout *o, int fd, uint64_t max)
{
	o->fd = fd;
	o->total = 0;
	o->max = max;
	o->eightbit = false;
	o->status = 0;
	o->err[0] = '\0';
	o->len = 0;
}

void msgout_flush(struct msgout *o)
{
	if (o->status || o->len == 0)
		return;
	if (write_all(o->fd, o->buf, o->len) < 0) {
		o->status = EX_CANTCREAT;
		set_err(o->err, sizeof(o->err), "cannot write the message to the spool: %s",
			strerror(errno));
	}
	o->len = 0;
}

void msgout_write(struct msgout *o, const void *p, size_t n)
{
	const unsigned char *c = p;
	if (o->status)
		return;
	if (o->max && (n > o->max || o->total > o->max - n)) {
		o->status = EX_DATAERR;
		set_err(o->err, sizeof(o->err), "message exceeds max_message_size (%llu bytes)",
			(unsigned long long)o->max);
		return;
	}
	o->total += n;
	if (!o->eightbit) {
		for (size_t i = 0; i < n; i++) {
			if (c[i] >= 0x80) {
				o->eightbit = true;
				break;
			}
		}
	}
	while (n > 0) {
		if (o->len == sizeof(o->buf)) {
			msgout_flush(o);
			if (o->status)
				return;
		}
		size_t take = fill_bounded(o->buf, sizeof(o->buf), &o->len, c, n);
		c += take;
		n -= take;
	}
}

void msgout_puts(struct msgout *o, const char *s)
{
	msgout_write(o, s, strlen(s));
}

void xform_begin(struct xform *x, enum xform_kind kind)
{
	x->kind = kind;
	x->col = 0;
	x->pending_ws = -1;
	x->esc = 0;
	x->wlen = 0;
}

static void soft_break(struct xform *x, struct msgout *o)
{
	msgout_write(o, "=\r\n", 3);
	x->col = 0;
}

/* Quoted-printable output of one encoded unit (a literal or =XX). */
static void qp_put(struct xform *x, struct msgout *o, const char *tok, size_t n)
{
	if (x->col + n > QP_LINE_MAX - 1)
		soft_break(x, o);
	msgout_write(o, tok, n);
	x->col += n;
}

static void qp_byte(struct xform *x, struct msgout *o, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	if (x->pending_ws >= 0) {
		char ws = (char)x->pending_ws;
		x->pending_ws = -1;
		qp_put(x, o, &ws, 1);
	}
	if (c == ' ' || c == '\t') {
		/* held back: whitespace at the end of a line must be encoded */
		x->pending_ws = c;
	} else if (c >= 33 && c <= 126 && c != '=') {
		char lit = (char)c;
		qp_put(x, o, &lit, 1);
	} else {
		char esc[3] = { '=', hex[c >> 4], hex[c & 15] };
		qp_put(x, o, esc, 3);
	}
}

/* An existing quoted-printable line: break it, never inside "=XX". */
static void qp_split_byte(struct xform *x, struct msgout *o, char c)
{
	if (x->esc > 0) {
		x->esc--;
	} else {
		size_t need = c == '=' ? 3 : 1;
		if (x->col + need > QP_LINE_MAX - 1)
			soft_break(x, o);
		if (c == '=')
			x->esc = 2;
	}
	msgout_write(o, &c, 1);
	x->col++;
}

static void wrap_bytes(struct xform *x, struct msgout *o, const char *p, size_t n, size_t width)
{
	while (n > 0) {
		if (x->col == width) {
			msgout_write(o, "\r\n", 2);
			x->col = 0;
		}
		size_t take = width - x->col;
		if (take > n)
			take = n;
		msgout_write(o, p, take);
		x->col += take;
		p += take;
		n -= take;
	}
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* The window is full: write out as much as can end at a whitespace that
 * follows some non-whitespace (a fold may not leave an empty line). */
static void fold_window(struct xform *x, struct msgout *o)
{
	size_t first = 0, i;
	while (first < x->wlen && is_wsp(x->win[first]))
		first++;
	for (i = x->wlen - 1; i > first; i--)
		if (is_wsp(x->win[i]))
			break;
	if (i > first) {
		msgout_write(o, x->win, i);
		msgout_write(o, "\r\n", 2);
		memmove(x->win, x->win + i, x->wlen - i);
		x->wlen -= i;
		return;
	}
	/* nowhere to fold: break the line and continue it after a space
	 * (Postfix's smtp_line_length_limit inserts CR LF SP the same way),
	 * never inside a UTF-8 sequence: a non-ASCII character the window
	 * ends in moves to the continuation whole */
	size_t cut = x->wlen;
	if ((unsigned char)x->win[cut - 1] >= 0x80) {
		cut--;
		for (int k = 0; k < 3 && cut > 1 && ((unsigned char)x->win[cut] & 0xc0) == 0x80; k++)
			cut--;
	}
	msgout_write(o, x->win, cut);
	msgout_write(o, "\r\n", 2);
	size_t rest = x->wlen - cut;
	memmove(x->win + 1, x->win + cut, rest);
	x->win[0] = ' '; /* the continuation's space counts on its line */
	x->wlen = 1 + rest;
}

static void fold_bytes(struct xform *x, struct msgout *o, const char *p, size_t n)
{
	while (n > 0) {
		if (x->wlen == sizeof(x->win)) {
			fold_window(x, o);
			continue;
		}
		size_t take = fill_bounded(x->win, sizeof(x->win), &x->wlen, p, n);
		p += take;
		n -= take;
	}
}

void xform_bytes(struct xform *x, struct msgout *o, const char *p, size_t n)
{
	switch (x->kind) {
	case XF_COPY:
		msgout_write(o, p, n);
		break;
	case XF_DROP:
		break;
	case XF_QP:
		for (size_t i = 0; i < n; i++)
			qp_byte(x, o, (unsigned char)p[i]);
		break;
	case XF_QP_SPLIT:
		for (size_t i = 0; i < n; i++)
			qp_split_byte(x, o, p[i]);
		break;
	case XF_WRAP76:
		wrap_bytes(x, o, p, n, QP_LINE_MAX);
		break;
	case XF_WRAP998:
		wrap_bytes(x, o, p, n, LINE_MAX_OCTETS);
		break;
	case XF_FOLD:
		fold_bytes(x, o, p, n);
		break;
	}
}

void xform_end(struct xform *x, struct msgout *o)
{
	switch (x->kind) {
	case XF_DROP:
		return;
	case XF_QP:
		if (x->pending_ws >= 0) {
			qp_put(x, o, x->pending_ws == ' ' ? "=20" : "=09", 3);
			x->pending_ws = -1;
		}
		break;
	case XF_FOLD:
		msgout_write(o, x->win, x->wlen);
		x->wlen = 0;
		break;
	default:
		break;
	}
	msgout_write(o, "\r\n", 2);
	x->col = 0;
}
