/*
 * test_reply.c - table-driven tests of the SMTP reply parser: well-formed
 * single and multi-line replies, enhanced codes, and every malformed shape
 * a hostile server can send (short lines, bad codes, mismatched codes,
 * too many lines, too long lines, control bytes).
 */
#include "config.h"

#include "reply.h"
#include "unit.h"

/* for char arrays (CHECK_STR tests its argument against NULL) */
#define CHECK_EQ(got, want, name) \
	CHECK(strcmp((got), (want)) == 0, "%s: got \"%s\", want \"%s\"", (name), (got), (want))

#include <stdlib.h>
#include <string.h>

struct reply_case {
	const char *name;
	const char *lines[6];     /* fed in order until NULL */
	int want_status;          /* REPLY_DONE or REPLY_BAD (of the last line fed) */
	int want_code;
	const char *want_enhanced;
	const char *want_summary; /* NULL: not checked */
};

static const struct reply_case cases[] = {
	{ "simple", { "250 Ok" }, REPLY_DONE, 250, "", "250 Ok" },
	{ "enhanced", { "250 2.0.0 Ok: queued" }, REPLY_DONE, 250, "2.0.0", "250 2.0.0 Ok: queued" },
	{ "code only", { "250" }, REPLY_DONE, 250, "", "250" },
	{ "code and space", { "220 " }, REPLY_DONE, 220, "", "220" },
	{ "multi-line", { "250-mx.example", "250-PIPELINING", "250 STARTTLS" }, REPLY_DONE, 250, "",
	  "250 mx.example PIPELINING STARTTLS" },
	{ "multi-line enhanced once", { "550-5.1.1 no such user", "550 5.1.1 try again" }, REPLY_DONE, 550,
	  "5.1.1", "550 5.1.1 no such user try again" },
	{ "enhanced wrong class ignored", { "550 2.0.0 odd" }, REPLY_DONE, 550, "", NULL },
	{ "enhanced 3 digits", { "451 4.123.456 x" }, REPLY_DONE, 451, "4.123.456", NULL },
	{ "enhanced 4 digits is text", { "451 4.1234.5 x" }, REPLY_DONE, 451, "", NULL },
	{ "enhanced glued to text", { "250 2.0.0Ok" }, REPLY_DONE, 250, "", NULL },
	{ "enhanced alone", { "250 2.1.0" }, REPLY_DONE, 250, "2.1.0", "250 2.1.0" },
	{ "control bytes replaced", { "250 a\tb\x1b[31m" }, REPLY_DONE, 250, "", "250 a?b?[31m" },
	{ "empty line", { "" }, REPLY_BAD, 0, "", NULL },
	{ "one digit", { "2" }, REPLY_BAD, 0, "", NULL },
	{ "two digits", { "25" }, REPLY_BAD, 0, "", NULL },
	{ "letters", { "abc def" }, REPLY_BAD, 0, "", NULL },
	{ "code 999", { "999 nope" }, REPLY_BAD, 0, "", NULL },
	{ "code 199", { "199 x" }, REPLY_BAD, 0, "", NULL },
	{ "code 611", { "611 x" }, REPLY_BAD, 0, "", NULL },
	{ "code 260", { "260 x" }, REPLY_BAD, 0, "", NULL },
	{ "bad separator", { "250x ok" }, REPLY_BAD, 0, "", NULL },
	{ "four digits", { "2500 ok" }, REPLY_BAD, 0, "", NULL },
	{ "code changes", { "250-first", "251 second" }, REPLY_BAD, 0, "", NULL },
	{ "continuation then garbage", { "250-first", "hello" }, REPLY_BAD, 0, "", NULL },
	{ "continuation then short", { "250-first", "25" }, REPLY_BAD, 0, "", NULL },
	{ "talk before greeting", { "hello there" }, REPLY_BAD, 0, "", NULL },
};

static void run_case(const struct reply_case *c)
{
	struct smtp_reply r;
	reply_init(&r);
	char err[128] = "";
	int st = REPLY_MORE;
	for (size_t i = 0; i < 6 && c->lines[i]; i++) {
		/* copy into an exact-size heap buffer: ASan catches any overread */
		size_t n = strlen(c->lines[i]);
		char *line = malloc(n ? n : 1);
		memcpy(line, c->lines[i], n);
		st = reply_feed_line(&r, line, n, err, sizeof(err));
		free(line);
		if (st != REPLY_MORE)
			break;
	}
	CHECK(st == c->want_status, "%s: status %d, want %d (%s)", c->name, st, c->want_status, err);
	if (c->want_status != REPLY_DONE)
		return;
	CHECK(r.code == c->want_code, "%s: code %d, want %d", c->name, r.code, c->want_code);
	CHECK_EQ(r.enhanced, c->want_enhanced, c->name);
	if (c->want_summary) {
		char sum[256];
		reply_summary(&r, sum, sizeof(sum));
		CHECK_EQ(sum, c->want_summary, c->name);
	}
}

static void test_bounds(void)
{
	struct smtp_reply r;
	char err[128];
	/* REPLY_MAX_LINES continuation lines: the next one is refused */
	reply_init(&r);
	int st = REPLY_MORE;
	for (int i = 0; i < REPLY_MAX_LINES; i++)
		st = reply_feed_line(&r, "250-x", 5, err, sizeof(err));
	CHECK(st == REPLY_MORE, "100 lines still more: %d", st);
	st = reply_feed_line(&r, "250 last", 8, err, sizeof(err));
	CHECK(st == REPLY_BAD, "line 101 refused: %d", st);

	/* a line longer than the bound */
	size_t n = REPLY_MAX_LINE + 1;
	char *big = malloc(n);
	memset(big, 'a', n);
	memcpy(big, "250 ", 4);
	reply_init(&r);
	CHECK(reply_feed_line(&r, big, n, err, sizeof(err)) == REPLY_BAD, "over-long line refused");
	/* exactly at the bound: accepted, text truncated to the buffer */
	reply_init(&r);
	CHECK(reply_feed_line(&r, big, REPLY_MAX_LINE, err, sizeof(err)) == REPLY_DONE, "line at bound");
	CHECK(r.textlen < sizeof(r.text), "text bounded");
	free(big);

	/* lots of text across lines is truncated, never overflows */
	reply_init(&r);
	char line[REPLY_MAX_LINE];
	memset(line, 'b', sizeof(line));
	memcpy(line, "250-", 4);
	for (int i = 0; i < 10; i++)
		reply_feed_line(&r, line, sizeof(line), err, sizeof(err));
	CHECK(r.truncated && r.textlen == sizeof(r.text) - 1, "truncated: %zu", r.textlen);
	CHECK(strlen(r.text) == r.textlen, "NUL-terminated");

	/* NUL bytes inside a line do not cut it or escape the bounds */
	reply_init(&r);
	CHECK(reply_feed_line(&r, "250 a\0b", 7, err, sizeof(err)) == REPLY_DONE, "NUL line");
	CHECK_EQ(r.text, "a?b", "NUL replaced");
}

static void test_lines(void)
{
	struct smtp_reply r;
	char err[64], out[64];
	reply_init(&r);
	reply_feed_line(&r, "250-mx.example greets you", 25, err, sizeof(err));
	reply_feed_line(&r, "250-SIZE 1000", 13, err, sizeof(err));
	reply_feed_line(&r, "250 AUTH PLAIN LOGIN", 20, err, sizeof(err));
	CHECK(reply_line(&r, 0, out, sizeof(out)), "line 0");
	CHECK_EQ(out, "mx.example greets you", "line 0");
	CHECK(reply_line(&r, 2, out, sizeof(out)), "line 2");
	CHECK_EQ(out, "AUTH PLAIN LOGIN", "line 2");
	CHECK(!reply_line(&r, 3, out, sizeof(out)), "no line 3");
	CHECK(reply_line(&r, 1, out, 5), "truncated copy");
	CHECK_EQ(out, "SIZE", "truncated copy");
	char tiny[4];
	reply_summary(&r, tiny, sizeof(tiny));
	CHECK_EQ(tiny, "250", "tiny summary");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_bounds();
	test_lines();
	return unit_done("test_reply");
}
