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

int hdr_write(struct msgout *o, const char *sec, const struct hdr_field *f)
{
	size_t pos = f->start;
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
			struct xform x;
			xform_begin(&x, XF_FOLD_STRICT);
			xform_bytes(&x, o, sec + pos, len);
			if (x.failed)
				return -1;
			xform_end(&x, o);
		}
		pos = nl ? end + 1 : f->end;
	}
	return 0;
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

/* RFC 2047 B-encoded words of at most 45 octets (75 characters each),
 * never splitting a UTF-8 sequence, one per folded line. */
static void add_encoded_words(struct buf *b, const char *s, size_t n)
{
	size_t pos = 0;
	while (pos < n) {
		size_t take = n - pos > 45 ? 45 : n - pos;
		while (take > 1 && pos + take < n && ((unsigned char)s[pos + take] & 0xc0) == 0x80)
			take--;
		if (pos > 0)
			buf_adds(b, "\r\n ");
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
		add_encoded_words(b, name + a, n - a);
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
