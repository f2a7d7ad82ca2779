/*
 * test_address.c - table-driven tests of the RFC 5322 address parser
 * (addrlist_parse, address_parse_one) and the SMTP predicates, including
 * hostile input: injected line ends, NUL, deep comments, oversized parts.
 */
#include "config.h"

#include "address.h"
#include "util.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int collect(const char *addr, void *ctx)
{
	struct buf *b = ctx;
	if (b->len)
		buf_addc(b, '|');
	buf_adds(b, addr);
	return 0;
}

/* expect: addresses joined by '|', or NULL for an error whose message
 * contains errpart. */
struct list_case {
	const char *name;
	const char *input;
	const char *expect;
	const char *errpart;
};

static const struct list_case list_cases[] = {
	{ "plain", "a@example.org", "a@example.org", NULL },
	{ "two", "a@x.org, b@y.org", "a@x.org|b@y.org", NULL },
	{ "cron comma list", "a@x,b@y", "a@x|b@y", NULL },
	{ "bare name", "root", "root", NULL },
	{ "bare names", "root, www-data", "root|www-data", NULL },
	{ "display name", "John Doe <jd@example.org>", "jd@example.org", NULL },
	{ "quoted display", "\"Doe, John\" <jd@example.org>, x@y", "jd@example.org|x@y", NULL },
	{ "angle only", "<a@b>", "a@b", NULL },
	{ "utf8 display", "J\xc3\xbcrgen <j@example.de>", "j@example.de", NULL },
	{ "encoded word", "=?utf-8?q?J=C3=BCrgen?= <j@example.de>", "j@example.de", NULL },
	{ "comment after", "a@b (Alice)", "a@b", NULL },
	{ "comment inside", "a(x)@(y)b", "a@b", NULL },
	{ "nested comment", "a@b (one (two (three)))", "a@b", NULL },
	{ "comment with parens escaped", "a@b (x \\) y)", "a@b", NULL },
	{ "quoted local kept", "\"john doe\"@example.org", "\"john doe\"@example.org", NULL },
	{ "quoted local unquoted", "\"john\"@example.org", "john@example.org", NULL },
	{ "quoted local escapes", "\"a\\\"b\"@x", "\"a\\\"b\"@x", NULL },
	{ "quoted dots", "\"a..b\"@x", "\"a..b\"@x", NULL },
	{ "obs local", "\"a\".b@x", "a.b@x", NULL },
	{ "obs spaces around dots", "a . b @ x . org", "a.b@x.org", NULL },
	{ "domain literal", "a@[192.0.2.1]", "a@[192.0.2.1]", NULL },
	{ "ipv6 literal", "<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]", NULL },
	{ "empty group", "undisclosed-recipients:;", "", NULL },
	{ "group", "team: a@x, b@y;, c@z", "a@x|b@y|c@z", NULL },
	{ "group no semicolon", "team: a@x, B <b@y>", "a@x|b@y", NULL },
	{ "group with display names", "Team: \"A\" <a@x>, (c) b@y; d@z", "a@x|b@y|d@z", NULL },
	{ "semicolon separator", "a@x; b@y", "a@x|b@y", NULL },
	{ "empty elements", ", ,a@x,,", "a@x", NULL },
	{ "empty input", "", "", NULL },
	{ "whitespace only", "  \t ", "", NULL },
	{ "fold crlf", "a@x,\r\n b@y", "a@x|b@y", NULL },
	{ "fold lf", "A\n <a@x>", "a@x", NULL },
	{ "fold in quoted", "\"a\r\n b\" <c@d>", "c@d", NULL },
	{ "fold in comment", "a@x (one\r\n\ttwo)", "a@x", NULL },
	{ "route", "<@r1.example,@r2.example:a@x>", "a@x", NULL },
	{ "dotted display name", "J. R. Doe <jrd@x>", "jrd@x", NULL },
	{ "at in display name", "a@x <b@y>", "b@y", NULL },
	{ "utf8 local", "j\xc3\xbcrgen@example.de", "j\xc3\xbcrgen@example.de", NULL },
	{ "tab whitespace", "\ta@x\t,\tb@y", "a@x|b@y", NULL },
	{ "special chars atext", "a+tag!#$%&'*/=?^_`{|}~-@x", "a+tag!#$%&'*/=?^_`{|}~-@x", NULL },
	{ "64 octet local", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x", NULL },
	/* errors */
	{ "bare LF", "a@x\nb@y", NULL, "line break" },
	{ "bare CR", "a@x\rb@y", NULL, "CR" },
	{ "trailing CRLF", "a@x\r\n", NULL, "line break" },
	{ "injection", "a@x\r\nBcc: evil@y", NULL, "line break" },
	{ "missing gt", "Name <a@x", NULL, "'>'" },
	{ "unbalanced gt", "a@x>", NULL, "'>'" },
	{ "empty angle", "<>", NULL, "empty address" },
	{ "unterminated quote", "\"abc@x", NULL, "unterminated quoted" },
	{ "unterminated comment", "a@x (abc", NULL, "unterminated comment" },
	{ "unbalanced paren", "a@x)", NULL, "')'" },
	{ "display name only", "John Doe", NULL, "invalid address" },
	{ "two ats", "a@b@c", NULL, "invalid address" },
	{ "empty domain", "a@", NULL, "invalid address" },
	{ "empty local", "@x", NULL, "invalid address" },
	{ "leading dot", ".a@x", NULL, "invalid address" },
	{ "double dot", "a..b@x", NULL, "invalid address" },
	{ "trailing dot domain", "a@x.", NULL, "invalid address" },
	{ "text after angle", "<a@x> junk", NULL, "after address" },
	{ "nested group", "g1: g2: a@x;;", NULL, "group inside" },
	{ "nameless group", ": a@x;", NULL, "group without" },
	{ "control char", "a\x01@x", NULL, "invalid character" },
	{ "control in quoted", "\"a\x07\"@x", NULL, "control" },
	{ "65 octet local", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x", NULL,
	  "64 octets" },
	{ "bad utf8", "a\xff@x", NULL, "UTF-8" },
	{ "overlong utf8", "a\xc0\xaf@x", NULL, "UTF-8" },
	{ "atext in domain", "a@ex%ample.org", NULL, "invalid character in domain" },
	{ "backslash outside", "a\\b@x", NULL, "backslash" },
	{ "bracket in literal", "a@[1[2]", NULL, "literal" },
	{ "utf8 in literal", "a@[192.0.2.\xc3\xa9]", NULL, "literal" },
	{ "empty literal", "a@[ ]", NULL, "empty domain literal" },
	{ "unterminated literal", "a@[1.2", NULL, "unterminated domain literal" },
	{ "comment bomb", "a@x ((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))))))",
	  NULL, "nested too deeply" },
};

static void run_list_cases(void)
{
	char err[256];
	for (size_t i = 0; i < ARRAY_LEN(list_cases); i++) {
		const struct list_case *c = &list_cases[i];
		struct buf b;
		buf_init(&b);
		buf_adds(&b, "");
		err[0] = '\0';
		int r = addrlist_parse(c->input, strlen(c->input), collect, &b, err, sizeof(err));
		if (c->expect) {
			CHECK(r == 0, "%s: unexpected error: %s", c->name, err);
			CHECK(r != 0 || strcmp(b.data, c->expect) == 0, "%s: got \"%s\", want \"%s\"",
			      c->name, b.data, c->expect);
		} else {
			CHECK(r == -1, "%s: accepted, got \"%s\"", c->name, b.data);
			CHECK(r != -1 || strstr(err, c->errpart) != NULL, "%s: error \"%s\" lacks \"%s\"",
			      c->name, err, c->errpart);
		}
		buf_free(&b);
	}
}

struct one_case {
	const char *name;
	const char *input;
	const char *expect; /* NULL: error */
};

static const struct one_case one_cases[] = {
	{ "plain", "a@x", "a@x" },
	{ "angle", "<a@x>", "a@x" },
	{ "name", "Name <a@x>", "a@x" },
	{ "empty", "", "" },
	{ "null sender", "<>", "" },
	{ "null sender spaced", " < > ", "" },
	{ "bare", "www-data", "www-data" },
	{ "two", "a@x, b@y", NULL },
	{ "group", "g: a@x;", NULL },
	{ "newline", "a@x\nRCPT TO:<b@y>", NULL },
	{ "garbage", "<<a@x>>", NULL },
};

static void run_one_cases(void)
{
	char err[256];
	for (size_t i = 0; i < ARRAY_LEN(one_cases); i++) {
		const struct one_case *c = &one_cases[i];
		char *out = (char *)"unset";
		int r = address_parse_one(c->input, &out, err, sizeof(err));
		if (c->expect) {
			CHECK(r == 0 && strcmp(out, c->expect) == 0, "one %s: r=%d out=%s err=%s", c->name, r,
			      r == 0 ? out : "-", err);
		} else {
			CHECK(r == -1 && out == NULL, "one %s: accepted", c->name);
			CHECK(err[0] != '\0', "one %s: no error message", c->name);
		}
		if (r == 0)
			free(out);
	}
}

struct pred_case {
	const char *addr;
	bool safe;
	bool utf8;
};

static const struct pred_case pred_cases[] = {
	{ "a@example.org", true, false },
	{ "", true, false },
	{ "root", true, false },
	{ "\"john doe\"@x", true, false },
	{ "j\xc3\xbc@x.de", true, true },
	{ "a@b\r\nRCPT TO:<c@d>", false, false },
	{ "a b@x", false, false },
	{ "a@x y", false, false },
	{ "a>@x", false, false },
	{ "a@[1.2.3.4]", true, false },
	{ "a@[1.2 .3.4]", false, false },
	{ "@x", false, false },
	{ "a@", false, false },
	{ "\"unterminated@x", false, false },
	{ "a@x\xc3\xa9.org", true, true },
};

static int stop_at_second(const char *addr, void *ctx)
{
	int *n = ctx;
	(void)addr;
	return ++*n == 2 ? 42 : 0;
}

static void run_misc(void)
{
	char err[256];
	for (size_t i = 0; i < ARRAY_LEN(pred_cases); i++) {
		const struct pred_case *c = &pred_cases[i];
		CHECK(address_smtp_safe(c->addr) == c->safe, "smtp_safe(%s)", c->addr);
		CHECK(address_needs_utf8(c->addr) == c->utf8, "needs_utf8(%s)", c->addr);
	}
	/* the callback's value stops the parse and is returned */
	int n = 0;
	CHECK(addrlist_parse("a@x, b@y, c@z", 13, stop_at_second, &n, err, sizeof(err)) == 42 && n == 2,
	      "callback stop");
	/* NUL inside the span is rejected, not treated as the end */
	struct buf b;
	buf_init(&b);
	CHECK(addrlist_parse("a@x\0b@y", 7, collect, &b, err, sizeof(err)) == -1 && strstr(err, "NUL"),
	      "NUL: %s", err);
	/* a 254-octet address passes, 255 does not */
	char big[300];
	memset(big, 'a', 60);
	big[60] = '@';
	memset(big + 61, 'b', 193);
	big[254] = '\0';
	buf_reset(&b);
	CHECK(addrlist_parse(big, 254, collect, &b, err, sizeof(err)) == 0, "254 octets: %s", err);
	big[254] = 'b';
	big[255] = '\0';
	CHECK(addrlist_parse(big, 255, collect, &b, err, sizeof(err)) == -1 && strstr(err, "254"),
	      "255 octets: %s", err);
	/* hostile size: a long display name and many groups stay linear */
	size_t hn = 1 << 20;
	char *huge = xmalloc(hn + 16);
	memset(huge, 'x', hn);
	memcpy(huge + hn, " <a@b>", 6);
	buf_reset(&b);
	CHECK(addrlist_parse(huge, hn + 6, collect, &b, err, sizeof(err)) == 0 && strcmp(b.data, "a@b") == 0,
	      "long display name");
	for (size_t i = 0; i < hn; i++)
		huge[i] = "(("[i % 2];
	CHECK(addrlist_parse(huge, hn, collect, &b, err, sizeof(err)) == -1, "paren flood");
	free(huge);
	buf_free(&b);
}

int main(void)
{
	run_list_cases();
	run_one_cases();
	run_misc();
	return unit_done("test_address");
}
