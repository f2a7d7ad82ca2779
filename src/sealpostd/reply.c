/*
 * reply.c - SMTP reply parser with hard bounds. Input comes from the
 * network (hostile): nothing is read beyond len, no line may be longer than
 * REPLY_MAX_LINE, no reply longer than REPLY_MAX_LINES, and the text kept
 * is bounded and stripped of control bytes so it is safe in logs and in the
 * spool's last_error.
 */
#include "config.h"

#include "reply.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

void reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->enhanced[0] = '\0';
	r->nlines = 0;
	r->text[0] = '\0';
	r->textlen = 0;
	r->truncated = false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parse "X.YYY.ZZZ" at the start of s (length n); X must be the reply
 * class. Returns the length of the code, 0 when there is none. */
static size_t parse_enhanced(const char *s, size_t n, int klass)
{
	if (n < 5 || s[0] != (char)('0' + klass) || s[1] != '.')
		return 0;
	size_t i = 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;
		while (i < n && is_digit(s[i]) && digits < 4) {
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ' && s[i] != '\t')
		return 0;
	return i;
}

static void append_text(struct smtp_reply *r, const char *s, size_t n)
{
	/* room for a separator and the NUL */
	size_t room = sizeof(r->text) - 1 - r->textlen;
	if (r->nlines > 1) {
		if (room == 0) {
			r->truncated = true;
			return;
		}
		r->text[r->textlen++] = '\n';
		room--;
	}
	if (n > room) {
		n = room;
		r->truncated = true;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		r->text[r->textlen++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	r->text[r->textlen] = '\0';
}

enum reply_status reply_feed_line(struct smtp_reply *r, const char *line, size_t len, char *err, size_t errlen)
{
	if (len > REPLY_MAX_LINE) {
		set_err(err, errlen, "reply line longer than %d bytes", REPLY_MAX_LINE);
		return REPLY_BAD;
	}
	if (r->nlines >= REPLY_MAX_LINES) {
		set_err(err, errlen, "reply longer than %d lines", REPLY_MAX_LINES);
		return REPLY_BAD;
	}
	/* Three digits, then ' ', '-' or the end of the line. */
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) {
		set_err(err, errlen, "malformed reply line (no 3-digit code)");
		return REPLY_BAD;
	}
	int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (line[0] < '2' || line[0] > '5' || line[1] > '5') {
		set_err(err, errlen, "invalid reply code %d", code);
		return REPLY_BAD;
	}
	bool last;
	if (len == 3 || line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else {
		set_err(err, errlen, "malformed reply line (bad separator after %d)", code);
		return REPLY_BAD;
	}
	if (r->nlines > 0 && code != r->code) {
		set_err(err, errlen, "reply code changed within a reply (%d then %d)", r->code, code);
		return REPLY_BAD;
	}
	const char *text = len > 4 ? line + 4 : "";
	size_t textlen = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		size_t el = parse_enhanced(text, textlen, code / 100);
		if (el > 0 && el < sizeof(r->enhanced)) {
			memcpy(r->enhanced, text, el);
			r->enhanced[el] = '\0';
		}
	} else if (r->enhanced[0]) {
		/* continuation lines usually repeat the enhanced code: keep it once */
		size_t el = strlen(r->enhanced);
		if (textlen >= el && memcmp(text, r->enhanced, el) == 0) {
			text += el;
			textlen -= el;
			while (textlen > 0 && (*text == ' ' || *text == '\t')) {
				text++;
				textlen--;
			}
		}
	}
	r->nlines++;
	append_text(r, text, textlen);
	return last ? REPLY_DONE : REPLY_MORE;
}

bool reply_line(const struct smtp_reply *r, size_t i, char *out, size_t outlen)
{
	if (outlen == 0 || i >= r->nlines)
		return false;
	const char *p = r->text;
	const char *end = r->text + r->textlen;
	for (size_t k = 0; k < i; k++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return false; /* truncated away */
		p = nl + 1;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = (size_t)((nl ? nl : end) - p);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

void reply_summary(const struct smtp_reply *r, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	int n = snprintf(out, outlen, "%03d", r->code);
	size_t used = n < 0 ? 0 : (size_t)n;
	for (size_t i = 0; i < r->textlen && used + 1 < outlen; i++) {
		if (i == 0)
			out[used++] = ' ';
		if (used + 1 >= outlen)
			break;
		out[used++] = r->text[i] == '\n' ? ' ' : r->text[i];
	}
	if (used >= outlen)
		used = outlen - 1;
	out[used] = '\0';
}
