/*
 * headers.c - field index over the stored header section, folding of
 * over-long header lines, and the From:/Message-ID: sealpost generates.
 * No privilege; header bytes are hostile (bounded by the intake's header
 * section limit), the full name and host name come from the caller.
 */
#include "config.h"

#include "headers.h"
#include "base64.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define FULL_NAME_MAX 200 /* a generated display name is cut here */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

void hdr_index_build(struct hdr_index *ix, const char *sec, size_t len)
{
	size_t cap = 0, pos = 0;
	ix->f = NULL;
	ix->n = 0;
	while (pos < len) {
		const char *nl = memchr(sec + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - sec) + 1 : len;
		if (is_wsp(sec[pos]) && ix->n > 0) {
			ix->f[ix->n - 1].end = end;
		} else {
			if (ix->n == cap) {
				cap = cap ? cap * 2 : 32;
				ix->f = xreallocarray(ix->f, cap, sizeof(*ix->f));
			}
			const char *colon = memchr(sec + pos, ':', end - pos);
			size_t nl_len = colon ? (size_t)(colon - (sec + pos)) : 0;
			while (nl_len > 0 && is_wsp(sec[pos + nl_len - 1]))
				nl_len--;
			ix->f[ix->n++] = (struct hdr_field){ pos, end, nl_len };
		}
		pos = end;
	}
}

void hdr_index_free(struct hdr_index *ix)
{
	free(ix->f);
	ix->f = NULL;
	ix->n = 0;
}

bool hdr_is(const char *sec, const struct hdr_field *f, const char *name)
{
	size_t k = strlen(name);
	return f->name_len == k && ascii_ncasecmp(sec + f->start, name, k) == 0;
}

const struct hdr_field *hdr_find(const struct hdr_index *ix, const char *sec, const char *name)
{
	for (size_t i = 0; i < ix->n; i++)
		if (hdr_is(sec, &ix->f[i], name))
			return &ix->f[i];
	return NULL;
}

void hdr_value(const char *sec, const struct hdr_field *f, const char **v, size_t *n)
{
	const char *colon = memchr(sec + f->start, ':', f->end - f->start);
	size_t s = colon ? (size_t)(colon - sec) + 1 : f->end;
	size_t e = f->end;
	if (e > s && sec[e - 1] == '\n')
		e--;
	if (e > s && sec[e - 1] == '\r')
		e--;
	*v = sec + s;
	*n = e - s;
}

char *hdr_value_dup(const char *sec, const struct hdr_field *f)
{
	const char *v;
	size_t n;
	struct buf b;
	hdr_value(sec, f, &v, &n);
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		if (v[i] != '\r' && v[i] != '\n')
			buf_addc(&b, v[i]);
	char *s = buf_steal(&b);
	size_t a = 0, len = strlen(s);
	while (a < len && is_wsp(s[a]))
		a++;
	while (len > a && is_wsp(s[len - 1]))
		len--;
	memmove(s, s + a, len - a);
	s[len - a] = '\0';
	return s;
}

/* Fields whose value is unstructured text, where RFC 2047 encoded words
 * may stand for any whitespace-delimited word (RFC 5322 3.6.5, RFC 2045 8). */
static bool unstructured(const char *sec, const struct hdr_field *f)
{
	return hdr_is(sec, f, "Subject") || hdr_is(sec, f, "Comments") || hdr_is(sec, f, "Content-Description");
}

static void add_encoded_words(struct buf *b, const char *s, size_t n, const char *sep);

/*
 * An over-long physical line of an unstructured field: every word too
 * long to fit on any line (no whitespace in LINE_MAX_OCTETS - 1 octets)
 * becomes RFC 2047 encoded words, one word of at most 75 characters per
 * space, which a reader decodes back to exactly the original text
 * (white space between adjacent encoded words is not displayed). A word
 * that is not UTF-8 is left for the hard fold. False: nothing changed.
 */
static bool encode_long_words(const char *line, size_t len, size_t skip, struct buf *out)
{
	bool changed = false;
	size_t pos = skip;
	buf_add(out, line, skip);
	while (pos < len) {
		size_t w = pos;
		while (w < len && !is_wsp(line[w]))
			w++;
		if (w - pos > LINE_MAX_OCTETS - 1 && utf8_valid(line + pos, w - pos)) {
			if (pos == skip && skip > 0)
				buf_addc(out, ' '); /* "Subject:word": an encoded word needs space before it */
			add_encoded_words(out, line + pos, w - pos, " ");
			changed = true;
		} else {
			buf_add(out, line + pos, w - pos);
		}
		size_t ws = w;
		while (ws < len && is_wsp(line[ws]))
			ws++;
		buf_add(out, line + w, ws - w);
		pos = ws;
	}
	return changed;
}

void hdr_write(struct msgout *o, const char *sec, const struct hdr_field *f)
{
	size_t pos = f->start;
	bool text = unstructured(sec, f);
	while (pos < f->end) {
		const char *nl = memchr(sec + pos, '\n', f->end - pos);
		size_t end = nl ? (size_t)(nl - sec) : f->end;
		size_t len = end - pos;
		if (len > 0 && sec[end - 1] == '\r')
			len--;
		if (len <= LINE_MAX_OCTETS) {
			msgout_write(o, sec + pos, len);
			msgout_write(o, "\r\n", 2);
		} else {
			/* fold at whitespace; a word longer than a line is encoded
			 * (unstructured text) or broken with CRLF SP as Postfix's
			 * smtp_line_length_limit does: never refused */
			struct buf enc;
			buf_init(&enc);
			const char *p = sec + pos;
			const char *colon = pos == f->start ? memchr(p, ':', len) : NULL;
			size_t skip = colon ? (size_t)(colon - p) + 1 : 0; /* "Subject:" stays */
			if (text && encode_long_words(p, len, skip, &enc)) {
				p = enc.data;
				len = enc.len;
			}
			struct xform x;
			xform_begin(&x, XF_FOLD);
			xform_bytes(&x, o, p, len);
			xform_end(&x, o);
			buf_free(&enc);
		}
		pos = nl ? end + 1 : f->end;
	}
}

static void base64_add(struct buf *b, const unsigned char *p, size_t n)
{
	char enc[64]; /* callers pass at most 45 octets: 60 characters */
	if (n > 45)
		n = 45;
	base64_encode(p, n, enc);
	buf_adds(b, enc);
}

static bool is_atext_or_space(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ')
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 2047 B-encoded words of at most 45 octets (72 characters each),
 * never splitting a UTF-8 sequence, sep between them. */
static void add_encoded_words(struct buf *b, const char *s, size_t n, const char *sep)
{
	size_t pos = 0;
	while (pos < n) {
		size_t take = n - pos > 45 ? 45 : n - pos;
		while (take > 1 && pos + take < n && ((unsigned char)s[pos + take] & 0xc0) == 0x80)
			take--;
		if (pos > 0)
			buf_adds(b, sep);
		buf_adds(b, "=?UTF-8?B?");
		base64_add(b, (const unsigned char *)s + pos, take);
		buf_adds(b, "?=");
		pos += take;
	}
}

void hdr_make_from(struct buf *b, const char *full_name, const char *addr)
{
	char name[FULL_NAME_MAX + 1];
	size_t n = 0;
	bool eight = false, plain = true;
	/* no controls (a CR/LF here would inject headers), bounded length */
	for (const char *p = full_name ? full_name : ""; *p && n < FULL_NAME_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c >= 0x80)
			eight = true;
		name[n++] = (char)c;
	}
	if (n == FULL_NAME_MAX) { /* cut: drop the last, maybe partial, character */
		while (n > 0 && ((unsigned char)name[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && (unsigned char)name[n - 1] >= 0xc0)
			n--;
	}
	while (n > 0 && name[n - 1] == ' ')
		n--;
	size_t a = 0;
	while (a < n && name[a] == ' ')
		a++;
	buf_adds(b, "From: ");
	if (a == n) {
		buf_printf(b, "%s\r\n", addr);
		return;
	}
	for (size_t i = a; i < n; i++)
		if (!is_atext_or_space((unsigned char)name[i]))
			plain = false;
	if (eight) {
		add_encoded_words(b, name + a, n - a, "\r\n ");
	} else if (plain) {
		buf_add(b, name + a, n - a);
	} else {
		buf_addc(b, '"');
		for (size_t i = a; i < n; i++) {
			if (name[i] == '"' || name[i] == '\\')
				buf_addc(b, '\\');
			buf_addc(b, name[i]);
		}
		buf_addc(b, '"');
	}
	buf_printf(b, " <%s>\r\n", addr);
}

static bool host_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 253)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		      *h == '-' || *h == '.' || *h == '_'))
			return false;
	return true;
}

char *hdr_make_message_id(const char *hostname, time_t now)
{
	static unsigned counter;
	uint64_t r = 0;
	char ts[32];
	struct tm tm;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (now_ms() << 20) ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&r;
	r ^= counter++; /* two ids in one process differ even without randomness */
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
	return xasprintf("<%s.%ld.%016llx@%s>", ts, (long)getpid(), (unsigned long long)r,
			 host_ok(hostname) ? hostname : "localhost");
}
