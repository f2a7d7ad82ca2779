/*
 * test_headers.c - writing header fields with lines over 998 octets
 * (src/sealpost/headers.c hdr_write, encode.c XF_FOLD): folded at
 * whitespace; a word longer than a line RFC 2047-encoded in unstructured
 * fields (decoding gives the text back exactly) or broken with CRLF SP
 * elsewhere (removing the inserted CRLF SP gives it back), never inside a
 * UTF-8 character, and never refused. Every stored line is checked.
 */
#define _GNU_SOURCE
#include "config.h"

#include "base64.h"
#include "headers.h"
#include "unit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* hdr_write of the one field "line\r\n"; the stored bytes. */
static char *write_field(const char *line)
{
	char *sec = xasprintf("%s\r\n", line);
	struct hdr_index ix;
	hdr_index_build(&ix, sec, strlen(sec));
	int fd = memfd_create("hdr", MFD_CLOEXEC);
	struct msgout o;
	msgout_init(&o, fd, 0);
	hdr_write(&o, sec, &ix.f[0]);
	msgout_flush(&o);
	off_t len = lseek(fd, 0, SEEK_END);
	char *out = xmalloc((size_t)len + 1);
	if (pread(fd, out, (size_t)len, 0) != len)
		abort();
	out[len] = '\0';
	close(fd);
	hdr_index_free(&ix);
	free(sec);
	return out;
}

/* Lines end in CRLF, at most 998 octets; with utf8, each line is UTF-8. */
static bool lines_ok(const char *s, bool utf8)
{
	const char *line = s;
	for (const char *p = s; *p; p++) {
		if (*p == '\n' && (p == s || p[-1] != '\r'))
			return false;
		if (*p == '\r') {
			if (p[1] != '\n' || p - line > 998)
				return false;
			if (utf8 && !utf8_valid(line, (size_t)(p - line)))
				return false;
			line = p + 2;
		}
	}
	return *line == '\0';
}

/* Remove every CRLF SP the writer inserted (the input had none). */
static char *unbreak(const char *s)
{
	struct buf b;
	buf_init(&b);
	for (const char *p = s; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
			p += 2;
			continue;
		}
		buf_addc(&b, *p);
	}
	buf_addc(&b, '\0');
	return buf_steal(&b);
}

/* The value as a reader sees it: unfolded, adjacent RFC 2047 UTF-8 B
 * words decoded with the white space between them dropped. */
static char *reader_view(const char *stored)
{
	struct buf b;
	buf_init(&b);
	const char *p = strchr(stored, ':') + 1;
	bool last_encoded = false;
	size_t pending_ws = 0;
	while (*p) {
		if (*p == '\r' || *p == '\n') {
			p++;
			continue;
		}
		if (*p == ' ' || *p == '\t') {
			pending_ws++;
			p++;
			continue;
		}
		const char *end = p;
		while (*end && *end != ' ' && *end != '\t' && *end != '\r')
			end++;
		size_t n = (size_t)(end - p);
		bool encoded = n > 12 && strncmp(p, "=?UTF-8?B?", 10) == 0 && strncmp(end - 2, "?=", 2) == 0;
		if (!(encoded && last_encoded) && b.len > 0)
			for (size_t i = 0; i < pending_ws; i++)
				buf_addc(&b, ' ');
		pending_ws = 0;
		if (encoded) {
			unsigned char dec[64];
			long d = base64_decode(p + 10, n - 12, dec, sizeof(dec));
			if (d < 0 || n > 75)
				buf_adds(&b, "<BAD ENCODED WORD>");
			else
				buf_add(&b, dec, (size_t)d);
		} else {
			buf_add(&b, p, n);
		}
		last_encoded = encoded;
		p = end;
	}
	buf_addc(&b, '\0');
	return buf_steal(&b);
}

static void check_encoded(const char *name, const char *field, const char *value)
{
	char *line = xasprintf("%s: %s", field, value);
	char *out = write_field(line);
	CHECK(lines_ok(out, true), "%s: bad lines", name);
	CHECK(strncmp(out, field, strlen(field)) == 0, "%s: the field name changed", name);
	char *seen = reader_view(out);
	CHECK(strcmp(seen, value) == 0, "%s: a reader sees [%.80s...]", name, seen);
	CHECK(strstr(out, "=?UTF-8?B?") != NULL, "%s: not encoded", name);
	free(seen);
	free(out);
	free(line);
}

static void check_broken(const char *name, const char *line, bool utf8)
{
	char *out = write_field(line);
	CHECK(lines_ok(out, utf8), "%s: bad lines", name);
	char *back = unbreak(out);
	char *want = xasprintf("%s\r\n", line);
	CHECK(strcmp(back, want) == 0, "%s: not the original with CRLF SP removed", name);
	CHECK(strstr(out, "=?") == NULL, "%s: encoded where it must not be", name);
	free(want);
	free(back);
	free(out);
}

int main(void)
{
	char *a2000 = unit_repeat("a", 2000);
	char *cjk = unit_repeat("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 400); /* 1200 characters, 3600 octets */
	char *mixed = xasprintf("Re: [ticket] %s tail and %s", cjk, a2000);

	/* unstructured text: encoded words, the text comes back exactly */
	check_encoded("2000 a in Subject", "Subject", a2000);
	check_encoded("Japanese without spaces", "Subject", cjk);
	check_encoded("long words among short ones", "Subject", mixed);
	check_encoded("Comments", "Comments", a2000);
	check_encoded("obsolete space before the colon", "Subject ", a2000);
	check_encoded("Content-Description", "Content-Description", cjk);

	/* "Subject:" glued to the word: a space goes before the encoded word */
	char *glued = xasprintf("Subject:%s", a2000);
	char *out = write_field(glued);
	CHECK(lines_ok(out, true) && strncmp(out, "Subject: =?UTF-8?B?", 19) == 0, "glued: %.40s", out);
	char *seen = reader_view(out);
	CHECK(strcmp(seen, a2000) == 0, "glued: a reader sees [%.40s...]", seen);
	free(seen), free(out), free(glued);

	/* structured or machine-read fields, and text that is not UTF-8:
	 * broken with CRLF SP like Postfix, at character boundaries */
	char *x = xasprintf("X-Long:%s", a2000); /* no space: every break is inserted */
	check_broken("X- field", x, true);
	free(x);
	x = xasprintf("References:<%s@example.org>", a2000);
	check_broken("a msg-id longer than a line", x, true);
	free(x);
	x = xasprintf("X-Japanese:%s", cjk);
	check_broken("UTF-8 in an X- field is never split", x, true);
	free(x);
	char *latin1 = unit_repeat("\xe9", 1200);
	x = xasprintf("Subject:%s", latin1);
	check_broken("Subject not in UTF-8", x, false);
	free(x);
	free(latin1);
	/* a name over 998 octets: no colon in sight, still stored */
	x = xasprintf("X-%s: v", a2000);
	check_broken("a 2000-octet field name", x, true);
	free(x);

	/* words: folded at whitespace only, nothing inserted */
	char *words = unit_repeat("word ", 500);
	x = xasprintf("X-Words: %s", words);
	out = write_field(x);
	CHECK(lines_ok(out, true), "words: bad lines");
	struct buf b;
	buf_init(&b);
	for (char *p = out; *p; p++)
		if (*p != '\r' && *p != '\n')
			buf_addc(&b, *p);
	buf_addc(&b, '\0');
	CHECK(strcmp(b.data, x) == 0, "words: unfolding differs");
	buf_free(&b);
	free(out), free(x), free(words);

	free(a2000), free(cjk), free(mixed);
	return unit_done("test_headers");
}
