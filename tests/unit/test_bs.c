/* test_bs.c - the -bs dialogue against a recording submit double: the
 * command parser (verbs, paths, xtext, NOTIFY) table by table, then whole
 * sessions (input file in, replies out) checking every reply code, what
 * reached submit, what was aborted, and the exit status. */
#include "config.h"

#include "bs.h"
#include "unit.h"
#include "util.h"

#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

/* ---------- submit double: records what it is given ---------- */

static struct buf transcript; /* "from=<..> to=<..> body=[..]|" per commit, "abort|" */
static struct buf body;

static void quote_into(struct buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			buf_adds(b, "\\r");
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
}

int submit_begin(struct submission *s, const struct submit_ctx *ctx, const struct submit_opts *o,
		 const char *sender, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->opts = *o;
	envelope_init(&s->env);
	if (strncmp(sender, "refused", 7) == 0) {
		set_err(err, errlen, "sender refused\r\nby policy");
		return EX_DATAERR;
	}
	if (strncmp(sender, "spoolfull", 9) == 0) {
		set_err(err, errlen, "cannot create spool file");
		return EX_CANTCREAT;
	}
	s->env.sender = xstrdup(sender);
	s->env.ret = o->ret ? xstrdup(o->ret) : NULL;
	s->env.envid = o->envid ? xstrdup(o->envid) : NULL;
	buf_reset(&body);
	s->open = true;
	return 0;
}

int submit_add_rcpt(struct submission *s, const char *arg, char *err, size_t errlen)
{
	if (strncmp(arg, "nouser", 6) == 0) {
		set_err(err, errlen, "no such user");
		return EX_NOUSER;
	}
	if (strncmp(arg, "bad", 3) == 0) {
		set_err(err, errlen, "bad address");
		return EX_DATAERR;
	}
	if (strncmp(arg, "temp", 4) == 0) {
		set_err(err, errlen, "try later");
		return EX_TEMPFAIL;
	}
	envelope_add_rcpt(&s->env, arg, NULL, s->opts.notify);
	if (strncmp(arg, "list", 4) == 0) /* an alias expanding to two */
		envelope_add_rcpt(&s->env, "second@example.org", NULL, s->opts.notify);
	return 0;
}

int submit_feed(struct submission *s, const char *p, size_t n, char *err, size_t errlen)
{
	(void)s;
	buf_add(&body, p, n);
	if (memmem(body.data, body.len, "BADBODY", 7)) {
		set_err(err, errlen, "NUL byte in message");
		return EX_DATAERR;
	}
	return 0;
}

int submit_commit(struct submission *s, char id[SPOOL_ID_LEN + 1], char *err, size_t errlen)
{
	if (memmem(body.data, body.len, "DISKFULL", 8)) {
		set_err(err, errlen, "No space left on device");
		submit_abort(s);
		return EX_CANTCREAT;
	}
	buf_printf(&transcript, "from=<%s>", s->env.sender);
	if (s->env.ret || s->env.envid)
		buf_printf(&transcript, " ret=%s envid=%s", s->env.ret ? s->env.ret : "-",
			   s->env.envid ? s->env.envid : "-");
	buf_adds(&transcript, " to=");
	for (size_t i = 0; i < s->env.nrcpts; i++) {
		const struct spool_rcpt *r = &s->env.rcpts[i];
		buf_printf(&transcript, "%s<%s>", i ? "," : "", r->addr);
		if (r->notify || r->orcpt)
			buf_printf(&transcript, "[n=%u o=%s]", r->notify, r->orcpt ? r->orcpt : "-");
	}
	buf_adds(&transcript, " body=[");
	quote_into(&transcript, body.data ? body.data : "", body.len);
	buf_adds(&transcript, "]|");
	strcpy(id, "0123456789ABCDEF");
	envelope_free(&s->env);
	s->open = false;
	return 0;
}

void submit_abort(struct submission *s)
{
	if (!s->open)
		return;
	buf_adds(&transcript, "abort|");
	envelope_free(&s->env);
	s->open = false;
}

/* ---------- running a session ---------- */

static struct sp_config cfg;
static struct submit_ctx ctx = { .cfg = &cfg, .user = "tester" };

/* Run input through bs_session; return the replies and the status. */
static char *run_session(const char *input, size_t len, int *status)
{
	char in_path[] = "/tmp/test_bs_in.XXXXXX", out_path[] = "/tmp/test_bs_out.XXXXXX";
	int in = mkstemp(in_path), out = mkstemp(out_path);
	if (in < 0 || out < 0 || write_all(in, input, len) != 0)
		abort();
	lseek(in, 0, SEEK_SET);
	unlink(in_path);
	unlink(out_path);
	buf_reset(&transcript);
	*status = bs_session(&ctx, in, out);
	off_t size = lseek(out, 0, SEEK_CUR);
	char *replies = xcalloc(1, (size_t)size + 1);
	if (pread(out, replies, (size_t)size, 0) != size)
		abort();
	close(in);
	close(out);
	return replies;
}

/* "220 250 ..." from the final line of each reply; "!" marks a line that
 * does not end in CRLF. */
static char *reply_codes(const char *replies)
{
	struct buf b;
	buf_init(&b);
	const char *p = replies;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (n < 6 || p[n - 2] != '\r' || p[n - 1] != '\n')
			buf_adds(&b, b.len ? " !" : "!");
		else if (p[3] == ' ')
			buf_printf(&b, "%s%.3s", b.len ? " " : "", p);
		p += n;
	}
	return buf_steal(&b);
}

#define HI "HELO client\r\n"
#define MAIL "MAIL FROM:<a@example.org>\r\n"
#define RCPT "RCPT TO:<b@example.net>\r\n"
#define MSG "Subject: hi\r\n\r\nbody\r\n.\r\n"
#define TX MAIL RCPT "DATA\r\n" MSG
#define L100 "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n"
#define STORED_TX "from=<a@example.org> to=<b@example.net> body=[Subject: hi\\r\\n\\r\\nbody\\r\\n]|"

static const struct session_case {
	const char *name;
	const char *input;
	const char *codes;
	const char *transcript;
	int status;
} session_cases[] = {
	{ "symfony: HELO, one message, QUIT", HI TX "QUIT\r\n", "220 250 250 250 354 250 221",
	  STORED_TX, 0 },
	{ "EHLO, lower-case verbs", "ehlo c\r\nmail from:<a@example.org>\r\nrcpt to:<b@example.net>\r\n"
	  "data\r\n" MSG "quit\r\n", "220 250 250 250 354 250 221", STORED_TX, 0 },
	{ "two messages, RSET between", HI TX "RSET\r\n" TX "QUIT\r\n",
	  "220 250 250 250 354 250 250 250 250 354 250 221", STORED_TX STORED_TX, 0 },
	{ "no QUIT: end of input after a message", HI TX, "220 250 250 250 354 250", STORED_TX, 0 },
	{ "dot unstuffing", HI MAIL RCPT "DATA\r\n..one\r\n.two\r\n. \r\n...\r\n.\r\nQUIT\r\n",
	  "220 250 250 250 354 250 221",
	  "from=<a@example.org> to=<b@example.net> body=[.one\\r\\ntwo\\r\\n \\r\\n..\\r\\n]|", 0 },
	{ "bare LF lines and a bare-LF final dot", "HELO c\nMAIL FROM:<a@example.org>\n"
	  "RCPT TO:<b@example.net>\nDATA\nx\n.\nQUIT\n", "220 250 250 250 354 250 221",
	  "from=<a@example.org> to=<b@example.net> body=[x\\n]|", 0 },
	{ "dot-CR not followed by LF is text", HI MAIL RCPT "DATA\r\n.\rx\r\n.\r\n",
	  "220 250 250 250 354 250", "from=<a@example.org> to=<b@example.net> body=[\\rx\\r\\n]|", 0 },
	{ "empty message", HI MAIL RCPT "DATA\r\n.\r\n", "220 250 250 250 354 250",
	  "from=<a@example.org> to=<b@example.net> body=[]|", 0 },
	{ "null sender, several recipients, source route, bare path",
	  HI "MAIL FROM:<>\r\nRCPT TO:<@relay.example,@x.example:c@example.net>\r\n"
	  "RCPT TO: <root>\r\nRCPT TO:d@example.net\r\nDATA\r\nx\r\n.\r\n",
	  "220 250 250 250 250 250 354 250",
	  "from=<> to=<c@example.net>,<root>,<d@example.net> body=[x\\r\\n]|", 0 },
	{ "DSN parameters", "EHLO c\r\nMAIL FROM:<a@example.org> RET=HDRS ENVID=id+2B1 BODY=8BITMIME "
	  "SIZE=10 SMTPUTF8\r\nRCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.net\r\n"
	  "RCPT TO:<list@example.net> NOTIFY=NEVER\r\nDATA\r\nx\r\n.\r\n",
	  "220 250 250 250 250 354 250",
	  "from=<a@example.org> ret=HDRS envid=id+1 to=<b@example.net>[n=6 o=b+x@example.net],"
	  "<list@example.net>[n=1 o=-],<second@example.org>[n=1 o=-] body=[x\\r\\n]|", 0 },
	{ "out of sequence", "MAIL FROM:<a@example.org>\r\n" HI "RCPT TO:<b@example.net>\r\nDATA\r\n"
	  MAIL MAIL "DATA\r\nQUIT\r\n", "220 503 250 503 503 250 503 554 221", "abort|", 0 },
	{ "HELO resets a transaction", HI MAIL RCPT HI "DATA\r\n", "220 250 250 250 250 503",
	  "abort|", 0 },
	{ "unknown, empty, not implemented, VRFY, HELP, NOOP",
	  "FOO\r\n\r\nSTARTTLS\r\nEXPN x\r\nVRFY\r\nVRFY x\r\nHELP\r\nNOOP\r\nQUIT\r\n",
	  "220 500 500 502 502 501 252 214 250 221", "", 0 },
	{ "syntax errors", "HELO\r\nEHLO\r\n" HI "MAIL FROM a@example.org\r\nMAIL FROM:<a@example.org\r\n"
	  "MAIL FROM:<a@example.org>x\r\nMAIL FROM:<a b@example.org>\r\nMAIL FROM:<a@example.org, c@x>\r\n"
	  MAIL "RCPT TO:<>\r\nRCPT TO <b@x>\r\nRCPT TO:<b@@x>\r\nDATA x\r\nQUIT\r\n",
	  "220 501 501 250 501 501 501 501 501 250 501 501 501 501 221", "abort|", 0 },
	{ "MAIL parameters refused", "EHLO c\r\nMAIL FROM:<a@x.org> SIZE=2000\r\n"
	  "MAIL FROM:<a@x.org> SIZE=x\r\nMAIL FROM:<a@x.org> BODY=BINARYMIME\r\n"
	  "MAIL FROM:<a@x.org> AUTH=<>\r\nMAIL FROM:<a@x.org> RET=NONE\r\nMAIL FROM:<a@x.org> ENVID=a+zz\r\n"
	  MAIL "RCPT TO:<b@x.org> NOTIFY=NEVER,DELAY\r\nRCPT TO:<b@x.org> ORCPT=rfc822\r\n"
	  "RCPT TO:<b@x.org> FOO=1\r\n",
	  "220 250 552 501 501 555 501 501 250 501 501 555", "abort|", EX_TEMPFAIL },
	{ "message too big, then a good one", HI MAIL RCPT "DATA\r\n" L100 L100 L100 L100 L100 L100
	  L100 L100 L100 L100 ".\r\n" TX, "220 250 250 250 354 552 250 250 354 250", "abort|" STORED_TX, 0 },
	{ "submit refusals mapped", HI "MAIL FROM:<refused@x.org>\r\nMAIL FROM:<spoolfull@x.org>\r\n"
	  MAIL "RCPT TO:<nouser@x.org>\r\nRCPT TO:<bad@x.org>\r\nRCPT TO:<temp@x.org>\r\nDATA\r\n" RCPT
	  "DATA\r\nBADBODY\r\nmore\r\n.\r\n" MAIL RCPT "DATA\r\nDISKFULL\r\n.\r\nQUIT\r\n",
	  "220 250 553 451 250 550 553 451 554 250 354 554 250 250 354 451 221", "abort|abort|", 0 },
	{ "end of input in DATA", HI MAIL RCPT "DATA\r\npartial\r\n", "220 250 250 250 354", "abort|",
	  EX_TEMPFAIL },
	{ "end of input after a dot without LF", HI MAIL RCPT "DATA\r\npartial\r\n.",
	  "220 250 250 250 354", "abort|", EX_TEMPFAIL },
	{ "end of input after RCPT", HI MAIL RCPT, "220 250 250 250", "abort|", EX_TEMPFAIL },
	{ "last command without LF", HI "QUIT", "220 250 221", "", 0 },
	{ "control bytes in a command", HI "NOOP \x01\r\nNO\0OP\r\nMAIL FROM:<a\tb@x>\r\n",
	  "220 250 500 500 500", "", 0 },
};

static void test_sessions(void)
{
	for (size_t i = 0; i < ARRAY_LEN(session_cases); i++) {
		const struct session_case *c = &session_cases[i];
		size_t len = strlen(c->input);
		/* the NUL case: the literal continues past the embedded NUL */
		if (strstr(c->name, "control bytes"))
			len += strlen(c->input + len + 1) + 1;
		int status;
		char *out = run_session(c->input, len, &status);
		char *codes = reply_codes(out);
		CHECK_STR(codes, c->codes, c->name);
		CHECK_STR(transcript.data ? transcript.data : "", c->transcript, c->name);
		CHECK(status == c->status, "%s: status %d, want %d", c->name, status, c->status);
		free(codes);
		free(out);
	}
}

static void test_greeting_and_ehlo(void)
{
	int status;
	const char *in = "EHLO client.example\r\nQUIT\r\n";
	char *out = run_session(in, strlen(in), &status);
	CHECK_STR(out,
		  "220 test.example.org ESMTP sealpost\r\n"
		  "250-test.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
		  "250-DSN\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n221 2.0.0 Bye\r\n",
		  "EHLO reply");
	free(out);
	in = HI TX;
	out = run_session(in, strlen(in), &status);
	CHECK(strstr(out, "\r\n250 2.0.0 Ok: queued as 0123456789ABCDEF\r\n") != NULL, "queued reply: %s",
	      out);
	free(out);
	/* a reason from submit is one printable line */
	in = HI "MAIL FROM:<refused@x.org>\r\n";
	out = run_session(in, strlen(in), &status);
	CHECK(strstr(out, "\r\n553 5.1.7 sender refused??by policy\r\n") != NULL, "reason: %s", out);
	free(out);
}

/* Lines at, and just over, the limit; a huge line is skipped, not kept. */
static void test_long_lines(void)
{
	struct buf in;
	buf_init(&in);
	buf_adds(&in, "NOOP ");
	while (in.len < BS_MAX_LINE - 2)
		buf_addc(&in, 'x');
	buf_adds(&in, "\r\nNOOP x");
	while (in.len < 2 * BS_MAX_LINE)
		buf_addc(&in, 'y');
	buf_adds(&in, "\r\n");
	for (int i = 0; i < 200000; i++)
		buf_adds(&in, "zzzzzzzzzz");
	buf_adds(&in, "\r\nNOOP\r\nQUIT\r\n");
	int status;
	char *out = run_session(in.data, in.len, &status);
	char *codes = reply_codes(out);
	CHECK_STR(codes, "220 250 500 500 250 221", "long lines");
	CHECK(strstr(out, "500 5.5.2 Error: line too long\r\n") != NULL, "too long text: %s", out);
	free(codes);
	free(out);
	buf_free(&in);
}

static void test_limits(void)
{
	struct buf in;
	buf_init(&in);
	buf_adds(&in, HI MAIL);
	for (int i = 0; i <= BS_MAX_RCPTS; i++)
		buf_printf(&in, "RCPT TO:<r%d@example.net>\r\n", i);
	buf_adds(&in, "DATA\r\nx\r\n.\r\n");
	int status;
	char *out = run_session(in.data, in.len, &status);
	CHECK(strstr(out, "\r\n452 4.5.3 Error: too many recipients\r\n") != NULL, "452 missing");
	CHECK(strstr(out, "\r\n250 2.0.0 Ok: queued as") != NULL, "message with the first recipients");
	const char *last = strstr(transcript.data, "<r9999@example.net>");
	CHECK(last && strstr(transcript.data, "<r10000@") == NULL, "10000 recipients kept");
	free(out);

	buf_reset(&in);
	for (int i = 0; i < BS_MAX_ERRORS + 10; i++)
		buf_adds(&in, "BOGUS\r\n");
	out = run_session(in.data, in.len, &status);
	char *codes = reply_codes(out);
	CHECK(strstr(out, "421 4.7.0 test.example.org Error: too many errors\r\n") != NULL, "421: %s",
	      codes);
	CHECK(status == EX_TEMPFAIL, "status after too many errors: %d", status);
	free(codes);
	free(out);
	buf_free(&in);
}

/* ---------- the parser ---------- */

static const struct {
	const char *arg, *keyword;
	int rc;
	const char *addr, *params;
} path_cases[] = {
	{ "FROM:<a@b.example>", "FROM", 0, "a@b.example", "" },
	{ "from:<a@b.example> SIZE=10 BODY=7BIT", "FROM", 0, "a@b.example", "SIZE=10 BODY=7BIT" },
	{ "FROM: <a@b.example>", "FROM", 0, "a@b.example", "" },
	{ "FROM:<>", "FROM", 0, "", "" },
	{ "FROM:<> SIZE=1", "FROM", 0, "", "SIZE=1" },
	{ "FROM:a@b.example BODY=8BITMIME", "FROM", 0, "a@b.example", "BODY=8BITMIME" },
	{ "TO:<root>", "TO", 0, "root", "" },
	{ "TO:<\"a b\"@c.example>", "TO", 0, "\"a b\"@c.example", "" },
	{ "TO:<\"a>b\\\"c\"@c.example>", "TO", 0, "\"a>b\\\"c\"@c.example", "" },
	{ "TO:<a@[192.0.2.1]>", "TO", 0, "a@[192.0.2.1]", "" },
	{ "TO:<@r1.example,@r2.example:c@d.example>", "TO", 0, "c@d.example", "" },
	{ "TO:<m\xc3\xbcller@example.de>", "TO", 0, "m\xc3\xbcller@example.de", "" },
	{ "TO:<first.last+tag@sub.example.org>", "TO", 0, "first.last+tag@sub.example.org", "" },
	{ "FROM <a@b.example>", "FROM", -1, "", "" },
	{ "FROM:", "FROM", -1, "", "" },
	{ "FROM:<a@b.example", "FROM", -1, "", "" },
	{ "FROM:<a@b.example>x", "FROM", -1, "", "" },
	{ "TO:<a@b.example>", "FROM", -1, "", "" },
	{ "FROMX:<a@b.example>", "FROM", -1, "", "" },
	{ "TO:<a b@c.example>", "TO", -2, "", "" },
	{ "TO:<a@b.example,c@d.example>", "TO", -2, "", "" },
	{ "TO:<a@b.example>,<c@d>", "TO", -1, "", "" },
	{ "TO:<a@>", "TO", -2, "", "" },
	{ "TO:<@a>", "TO", -2, "", "" },
	{ "TO:<a@b@c>", "TO", -2, "", "" },
	{ "TO:<a(comment)@b>", "TO", -2, "", "" },
	{ "TO:<\"unterminated@b>", "TO", -1, "", "" },
	{ "TO:<a@[1.2.3.4>", "TO", -2, "", "" },
	{ "TO:<a\x01@b>", "TO", -2, "", "" },
	{ "TO:<a@b.example;x>", "TO", -2, "", "" },
};

static void test_parse_path(void)
{
	for (size_t i = 0; i < ARRAY_LEN(path_cases); i++) {
		struct bs_path p;
		int rc = bs_parse_path(path_cases[i].arg, path_cases[i].keyword, &p);
		CHECK(rc == path_cases[i].rc, "%s: rc %d, want %d", path_cases[i].arg, rc,
		      path_cases[i].rc);
		if (rc == 0 && path_cases[i].rc == 0) {
			CHECK_STR(p.addr, path_cases[i].addr, path_cases[i].arg);
			CHECK_STR(p.params, path_cases[i].params, path_cases[i].arg);
		}
	}
	/* the length bounds: 64 octets of local part, 254 of path */
	struct buf b;
	buf_init(&b);
	struct bs_path p;
	for (int extra = 0; extra < 2; extra++) {
		buf_reset(&b);
		buf_adds(&b, "TO:<");
		for (int i = 0; i < 60; i++)
			buf_addc(&b, 'a');
		buf_addc(&b, '@');
		while (b.len < 4 + BS_MAX_PATH - 8 + (size_t)extra)
			buf_adds(&b, b.len % 10 ? "b" : ".");
		buf_adds(&b, ".example>");
		int want = extra ? -2 : 0;
		CHECK(bs_parse_path(b.data, "TO", &p) == want, "path of %zu octets", b.len - 5);
	}
	buf_reset(&b);
	buf_adds(&b, "TO:<");
	for (int i = 0; i < 65; i++)
		buf_addc(&b, 'a');
	buf_adds(&b, "@example.org>");
	CHECK(bs_parse_path(b.data, "TO", &p) == -2, "local part over 64 octets");
	buf_free(&b);
}

static void test_verbs(void)
{
	static const struct {
		const char *line;
		enum bs_verb verb;
		const char *arg;
	} cases[] = {
		{ "HELO x", BS_HELO, "x" },       { "ehlo   x.example", BS_EHLO, "x.example" },
		{ "QUIT", BS_QUIT, "" },          { "Mail FROM:<a@b>", BS_MAIL, "FROM:<a@b>" },
		{ "RCPT TO:<a@b>", BS_RCPT, "TO:<a@b>" }, { "DATA", BS_DATA, "" },
		{ "STARTTLS", BS_NOT_IMPLEMENTED, "" }, { "auth PLAIN x", BS_NOT_IMPLEMENTED, "PLAIN x" },
		{ "MAILFROM:<a@b>", BS_UNKNOWN, "" }, { "HEL", BS_UNKNOWN, "" },
		{ "HELOX y", BS_UNKNOWN, "y" },   { "", BS_UNKNOWN, "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *arg;
		enum bs_verb v = bs_parse_verb(cases[i].line, &arg);
		CHECK(v == cases[i].verb, "%s: verb %d, want %d", cases[i].line, (int)v, (int)cases[i].verb);
		CHECK_STR(arg, cases[i].arg, cases[i].line);
	}
}

static void test_xtext_and_notify(void)
{
	static const struct {
		const char *in;
		bool ok;
		const char *out;
	} xt[] = {
		{ "abc", true, "abc" },     { "a+2Bb", true, "a+b" }, { "+3D+2B", true, "=+" },
		{ "a+2bb", false, "" },    { "a+2", false, "" },     { "a+", false, "" },
		{ "a=b", false, "" },      { "a+0Ab", false, "" },   { "a b", false, "" },
		{ "a\xc3\xbc", false, "" }, { "", true, "" },
	};
	for (size_t i = 0; i < ARRAY_LEN(xt); i++) {
		char out[16] = "";
		bool ok = bs_xtext_decode(xt[i].in, strlen(xt[i].in), out, sizeof(out));
		CHECK(ok == xt[i].ok, "xtext %s: %d", xt[i].in, ok);
		const char *got = out;
		if (ok && xt[i].ok)
			CHECK_STR(got, xt[i].out, xt[i].in);
	}
	char small[4];
	CHECK(!bs_xtext_decode("abcd", 4, small, sizeof(small)), "xtext longer than the buffer");

	static const struct {
		const char *in;
		unsigned bits;
	} nt[] = {
		{ "NEVER", NOTIFY_NEVER },
		{ "SUCCESS,FAILURE", NOTIFY_SUCCESS | NOTIFY_FAILURE },
		{ "delay", NOTIFY_DELAY },
		{ "SUCCESS,FAILURE,DELAY", NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY },
		{ "NEVER,SUCCESS", 0 },
		{ "FAILURE,", 0 },
		{ ",FAILURE", 0 },
		{ "SUCCESS,SUCCESS", 0 },
		{ "BOGUS", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < ARRAY_LEN(nt); i++) {
		unsigned bits = bs_parse_notify(nt[i].in, strlen(nt[i].in));
		CHECK(bits == nt[i].bits, "NOTIFY=%s: %u, want %u", nt[i].in, bits, nt[i].bits);
	}
}

int main(void)
{
	cfg.hostname = "test.example.org";
	cfg.domain = "example.org";
	cfg.max_message_size = 1000;
	cfg.timeouts.command = 5;
	cfg.timeouts.data = 5;
	buf_init(&transcript);
	buf_init(&body);
	test_verbs();
	test_parse_path();
	test_xtext_and_notify();
	test_sessions();
	test_greeting_and_ehlo();
	test_long_lines();
	test_limits();
	buf_free(&transcript);
	buf_free(&body);
	return unit_done("test_bs");
}
