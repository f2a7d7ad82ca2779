/*
 * test_from_rewrite.c - a relay's from_rewrite (src/sealpostd/from_rewrite.c):
 * table-driven cases {message as queued, message as sent}, the plan's
 * size equal to the bytes sent (SIZE=), the envelope sender (a bounce
 * keeps <>), and the config check of the address.
 */
#include "config.h"

#include "conf_internal.h"
#include "from_rewrite.h"
#include "unit.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEW "alerts@contoso.com"

/* The bytes the plan sends (as the worker would, before dot-stuffing). */
static char *render(const struct from_plan *p, int fd)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < p->npieces; i++) {
		const struct from_piece *pc = &p->pieces[i];
		if (pc->mem) {
			buf_adds(&b, pc->mem);
			continue;
		}
		char chunk[4096];
		uint64_t off = pc->off, left = pc->len;
		for (;;) {
			size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
			ssize_t n = pread(fd, chunk, want, (off_t)off);
			if (n <= 0)
				break;
			buf_add(&b, chunk, (size_t)n);
			off += (uint64_t)n;
			if (left != FROM_PIECE_TO_EOF)
				left -= (uint64_t)n;
			if (left == 0)
				break;
		}
	}
	buf_addc(&b, '\0');
	return buf_steal(&b);
}

static int file_with(const char *text, size_t len)
{
	FILE *f = tmpfile();
	if (!f || fwrite(text, 1, len, f) != len || fflush(f) != 0)
		abort();
	return dup(fileno(f)); /* the FILE closes at exit; the fd is ours */
}

/* Plan text with rewrite and sender; compare with want; size == bytes. */
static void expect(const char *name, const char *text, const char *sender, const char *rewrite, const char *want,
		   const char *want_sender)
{
	int fd = file_with(text, strlen(text));
	struct envelope env;
	envelope_init(&env);
	env.sender = xstrdup(sender);
	env.size = strlen(text);
	struct from_plan p;
	char err[200];
	int rc = from_rewrite_plan(rewrite, &env, fd, &p, err, sizeof(err));
	CHECK(rc == 0, "%s: %s", name, err);
	char *got = render(&p, fd);
	CHECK(strcmp(got, want) == 0, "%s:\n got: [%s]\nwant: [%s]", name, got, want);
	CHECK(p.size == strlen(got), "%s: SIZE %llu for %zu bytes", name, (unsigned long long)p.size, strlen(got));
	CHECK(strcmp(p.sender, want_sender) == 0, "%s: sender <%s>, want <%s>", name, p.sender, want_sender);
	free(got);
	from_plan_free(&p);
	envelope_free(&env);
	close(fd);
}

static void test_rewrites(void)
{
	static const struct {
		const char *name, *in, *out;
	} cases[] = {
		{ "plain From: becomes Reply-To:, DKIM and the rest untouched",
		  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org;\r\n\th=from:to:subject; b=abc\r\n"
		  "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nbody\r\n",
		  "DKIM-Signature: v=1; a=rsa-sha256; d=example.org;\r\n\th=from:to:subject; b=abc\r\n"
		  "From: " NEW "\r\nReply-To: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
		  "Subject: hi\r\n\r\nbody\r\n" },
		{ "an existing Reply-To: is kept, none added",
		  "Reply-To: list@example.org\r\nFrom: alice@example.org\r\n\r\nbody\r\n",
		  "Reply-To: list@example.org\r\nFrom: " NEW "\r\n\r\nbody\r\n" },
		{ "reply-to in any case counts",
		  "From: alice@example.org\r\nREPLY-TO: x@example.org\r\n\r\nb\r\n",
		  "From: " NEW "\r\nREPLY-TO: x@example.org\r\n\r\nb\r\n" },
		{ "a folded, encoded From: moves as it is",
		  "Subject: s\r\nFrom: =?UTF-8?B?w4RsaWNlIE3DvGxsZXI=?=\r\n <alice@example.org>\r\nTo: b@x.example\r\n\r\nb\r\n",
		  "Subject: s\r\nFrom: " NEW "\r\nReply-To: =?UTF-8?B?w4RsaWNlIE3DvGxsZXI=?=\r\n <alice@example.org>\r\n"
		  "To: b@x.example\r\n\r\nb\r\n" },
		{ "several authors: all become Reply-To:, Sender: untouched",
		  "From: alice@example.org, \"Carol\" <carol@example.org>\r\nSender: alice@example.org\r\n\r\nb\r\n",
		  "From: " NEW "\r\nReply-To: alice@example.org, \"Carol\" <carol@example.org>\r\n"
		  "Sender: alice@example.org\r\n\r\nb\r\n" },
		{ "no From: at all: one goes first, no Reply-To:",
		  "To: bob@example.net\r\nSubject: s\r\n\r\nFrom: a line of the body\r\n",
		  "From: " NEW "\r\nTo: bob@example.net\r\nSubject: s\r\n\r\nFrom: a line of the body\r\n" },
		{ "two From: fields: one remains",
		  "From: a@example.org\r\nTo: b@example.net\r\nFrom: c@example.org\r\n\r\nb\r\n",
		  "From: " NEW "\r\nReply-To: a@example.org\r\nTo: b@example.net\r\n\r\nb\r\n" },
		{ "obsolete white space before the colon, any case",
		  "FROM : a@example.org\r\n\r\nb\r\n",
		  "From: " NEW "\r\nReply-To: a@example.org\r\n\r\nb\r\n" },
		{ "From-like names are other fields",
		  "From-Address: x\r\nFromage: y\r\nFrom: a@example.org\r\n\r\nb\r\n",
		  "From-Address: x\r\nFromage: y\r\nFrom: " NEW "\r\nReply-To: a@example.org\r\n\r\nb\r\n" },
		{ "From: last, no body, no final line end",
		  "To: b@example.net\r\nFrom: a@example.org",
		  "To: b@example.net\r\nFrom: " NEW "\r\nReply-To: a@example.org" },
		{ "From: with a folded last line and no blank line",
		  "From: A\r\n <a@example.org>\r\n",
		  "From: " NEW "\r\nReply-To: A\r\n <a@example.org>\r\n" },
		{ "no header: the new From: gets its own empty line",
		  "just text\r\n",
		  "From: " NEW "\r\n\r\njust text\r\n" },
		{ "empty message",
		  "",
		  "From: " NEW "\r\n" },
		{ "a body line that looks like a header is not one",
		  "Subject: s\r\n\r\nFrom: x@example.org\r\n",
		  "From: " NEW "\r\nSubject: s\r\n\r\nFrom: x@example.org\r\n" },
		{ "a non-header line ends the header section",
		  "Subject: s\r\nnot a header\r\nFrom: x@example.org\r\n",
		  "From: " NEW "\r\nSubject: s\r\nnot a header\r\nFrom: x@example.org\r\n" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		expect(cases[i].name, cases[i].in, "alice@example.org", NEW, cases[i].out, NEW);
}

static void test_envelope(void)
{
	const char *msg = "From: MAILER-DAEMON@example.org\r\nSubject: failure\r\n\r\nb\r\n";
	expect("a bounce keeps its null sender", msg, "", NEW,
	       "From: " NEW "\r\nReply-To: MAILER-DAEMON@example.org\r\nSubject: failure\r\n\r\nb\r\n", "");
	expect("no from_rewrite: as queued", msg, "alice@example.org", NULL, msg, "alice@example.org");
	expect("empty from_rewrite: as queued", msg, "alice@example.org", "", msg, "alice@example.org");
}

/* Header lines longer than the reader's buffer, before and in From:. */
static void test_long_lines(void)
{
	struct buf in, out;
	buf_init(&in);
	buf_init(&out);
	buf_adds(&in, "X-Long: ");
	buf_adds(&out, "X-Long: ");
	for (int i = 0; i < 3000; i++) { /* 30,000 octets over folded lines */
		buf_adds(&in, "abcdefghi ");
		buf_adds(&out, "abcdefghi ");
		if (i % 90 == 89) {
			buf_adds(&in, "\r\n ");
			buf_adds(&out, "\r\n ");
		}
	}
	buf_adds(&in, "\r\nFrom: a@example.org\r\n\r\nbody\r\n");
	buf_adds(&out, "\r\nFrom: " NEW "\r\nReply-To: a@example.org\r\n\r\nbody\r\n");
	buf_addc(&in, '\0');
	buf_addc(&out, '\0');
	expect("a 30 kB header before From:", in.data, "a@example.org", NEW, out.data, NEW);
	buf_free(&in);
	buf_free(&out);
}

static void test_config_check(void)
{
	static const struct {
		const char *addr;
		bool ok;
	} cases[] = {
		{ "alerts@contoso.com", true },
		{ "first.last+tag@sub.example.org", true },
		{ "alerts", false },
		{ "@contoso.com", false },
		{ "alerts@", false },
		{ "Alerts <alerts@contoso.com>", false },
		{ "<alerts@contoso.com>", false },
		{ "alerts@contoso.com (comment)", false },
		{ "\"a b\"@contoso.com", false },
		{ "a,b@contoso.com", false },
		{ "a:b@contoso.com", false },
		{ "ålerts@contoso.com", false },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *why = conf_from_rewrite_invalid(cases[i].addr);
		CHECK((why == NULL) == cases[i].ok, "%s: %s", cases[i].addr, why ? why : "accepted");
	}
}

int main(void)
{
	test_rewrites();
	test_envelope();
	test_long_lines();
	test_config_check();
	return unit_done("test_from_rewrite");
}
