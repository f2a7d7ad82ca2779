/*
 * test_dsn.c - delivery status notifications: the NOTIFY rules, the
 * status found in a stored last error, and the RFC 3464 text dsn_write()
 * produces (structure, per-recipient fields, RET=HDRS vs FULL, header
 * safety of hostile server text, CRLF only, no line over 998 octets), the
 * 50 kB cap on returned content, headers only for a size refusal, the
 * RFC 6533 downgrade and mixed failed/relayed recipients in one report.
 */
#include "config.h"

#include "bounce.h"
#include "dsn.h"
#include "unit.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

/* for char arrays (CHECK_STR tests its argument against NULL) */
#define CHECK_EQ_STR(got, want, name) \
	CHECK(strcmp((got), (want)) == 0, "%s: got \"%s\", want \"%s\"", (name), (got), (want))
#include <string.h>
#include <unistd.h>

struct wants_case {
	const char *name;
	unsigned notify;
	bool failed, relayed, delayed;
};

static const struct wants_case wants_cases[] = {
	{ "no NOTIFY: failure and delay", 0, true, false, true },
	{ "NEVER", NOTIFY_NEVER, false, false, false },
	{ "SUCCESS only", NOTIFY_SUCCESS, false, true, false },
	{ "FAILURE only", NOTIFY_FAILURE, true, false, false },
	{ "DELAY only", NOTIFY_DELAY, false, false, true },
	{ "SUCCESS,FAILURE", NOTIFY_SUCCESS | NOTIFY_FAILURE, true, true, false },
	{ "all three", NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY, true, true, true },
};

static void test_wants(void)
{
	for (size_t i = 0; i < ARRAY_LEN(wants_cases); i++) {
		const struct wants_case *c = &wants_cases[i];
		CHECK(bounce_wants(c->notify, BOUNCE_FAILED) == c->failed, "%s: failed", c->name);
		CHECK(bounce_wants(c->notify, BOUNCE_RELAYED) == c->relayed, "%s: relayed", c->name);
		CHECK(bounce_wants_delay(c->notify) == c->delayed, "%s: delayed", c->name);
	}
}

struct status_case {
	const char *name, *text, *want;
};

static const struct status_case status_cases[] = {
	{ "stored reply", "mx[1.2.3.4]:587: 450 4.2.0 Mailbox busy", "4.2.0" },
	{ "three-digit detail", "451 4.7.123 later", "4.7.123" },
	{ "no enhanced code", "451 try later", "4.0.0" },
	{ "local reason", "STARTTLS not offered", "4.0.0" },
	{ "version-like text is not a status", "server 4.2.0x says no", "4.0.0" },
	{ "NULL", NULL, "4.0.0" },
	{ "class 3 is not a status", "354 3.0.0 go", "4.0.0" },
};

static void test_status_from_text(void)
{
	for (size_t i = 0; i < ARRAY_LEN(status_cases); i++) {
		char out[16];
		bounce_status_from_text(status_cases[i].text, "4.0.0", out);
		CHECK_EQ_STR(out, status_cases[i].want, status_cases[i].name);
	}
}

/* Write msg to a temp file, return its fd. */
static int temp_with(const char *msg)
{
	char path[] = "/tmp/test_dsn.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		abort();
	unlink(path);
	if (write_all(fd, msg, strlen(msg)) < 0)
		abort();
	return fd;
}

/* Run dsn_write into a temp file, return the text. */
static char *render(const struct dsn_report *r, int *eightbit)
{
	int out = temp_with("");
	char err[256] = "";
	int rc = dsn_write(r, "0123456789ABCDEF", "BOUNDARY42", out, eightbit, err, sizeof(err));
	CHECK(rc == 0, "dsn_write: %s", err);
	off_t size = lseek(out, 0, SEEK_END);
	char *text = xmalloc((size_t)size + 1);
	CHECK(pread(out, text, (size_t)size, 0) == size, "read back");
	text[size] = '\0';
	close(out);
	return text;
}

static bool only_crlf_short_lines(const char *t)
{
	size_t col = 0;
	for (const char *p = t; *p; p++) {
		if (*p == '\n' && (p == t || p[-1] != '\r'))
			return false;
		if (*p == '\r' && p[1] != '\n')
			return false;
		col = *p == '\n' ? 0 : col + 1;
		if (col > 998)
			return false;
	}
	return true;
}

static const char original[] =
	"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nsecret body line\r\n";

static void fill_env(struct envelope *env, const char *ret, unsigned flags)
{
	envelope_init(env);
	memcpy(env->id, "69299C8009A3F1B2", SPOOL_ID_LEN + 1);
	env->arrival = 1764331200;
	env->sender = xstrdup("alice@example.org");
	env->flags = flags;
	env->ret = ret ? xstrdup(ret) : NULL;
	env->envid = xstrdup("ENV-77");
	envelope_add_rcpt(env, "bob@example.net", "root", 0);
	envelope_add_rcpt(env, "carol@example.net", NULL, 0);
}

struct render_case {
	const char *name;
	enum dsn_action action;
	const char *ret;
	const char *must[8];
	const char *must_not[4];
};

static const struct render_case render_cases[] = {
	{ "failed, full message", DSN_FAILED, NULL,
	  { "Content-Type: multipart/report; report-type=delivery-status;", "Action: failed\r\n",
	    "Status: 5.1.1\r\n", "Diagnostic-Code: smtp; 550 5.1.1 No such user (in reply to RCPT TO)\r\n",
	    "Content-Type: message/rfc822\r\n\r\nFrom: alice@example.org\r\n", "secret body line\r\n\r\n--BOUNDARY42--\r\n",
	    "Original-Recipient: rfc822; root\r\nFinal-Recipient: rfc822; bob@example.net\r\n",
	    "Remote-MTA: dns; smtp.example.net\r\n" },
	  { "Original-Recipient: rfc822; carol", NULL } },
	{ "failed, headers only", DSN_FAILED, "HDRS",
	  { "Content-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.org\r\n",
	    "Subject: hi\r\n\r\n--BOUNDARY42--\r\n", "Original-Envelope-Id: ENV-77\r\n",
	    "Reporting-MTA: dns; client.example.org\r\n", "Arrival-Date: ", "Last-Attempt-Date: ",
	    "To: <alice@example.org>\r\n", "From: Mail Delivery System <MAILER-DAEMON@client.example.org>" },
	  { "secret body line", "message/rfc822", NULL } },
	{ "delayed", DSN_DELAYED, NULL,
	  { "Action: delayed\r\n", "Will-Retry-Until: ", "Subject: Delayed Mail", "Auto-Submitted: auto-replied" },
	  { "Action: failed", NULL } },
	{ "relayed", DSN_RELAYED, NULL, { "Action: relayed\r\n", NULL }, { "Action: failed", NULL } },
};

static void test_render(void)
{
	for (size_t i = 0; i < ARRAY_LEN(render_cases); i++) {
		const struct render_case *c = &render_cases[i];
		struct envelope env;
		fill_env(&env, c->ret, 0);
		int fd = temp_with(original);
		struct dsn_rcpt rcpts[] = {
			{ "bob@example.net", "root", "5.1.1", "smtp.example.net",
			  "550 5.1.1 No such user (in reply to RCPT TO)", 1764331300 },
			{ "carol@example.net", NULL, "4.4.7", NULL,
			  "message expired after 5d in the queue; last error: connection refused", 1764331300 },
		};
		struct dsn_report r = { c->action, "client.example.org", &env, fd, rcpts, 2, 1764331400, 1764763200 };
		int eightbit = -1;
		char *t = render(&r, &eightbit);
		for (size_t k = 0; k < ARRAY_LEN(c->must) && c->must[k]; k++)
			CHECK(strstr(t, c->must[k]) != NULL, "%s: lacks \"%s\" in:\n%s", c->name, c->must[k], t);
		for (size_t k = 0; k < ARRAY_LEN(c->must_not) && c->must_not[k]; k++)
			CHECK(strstr(t, c->must_not[k]) == NULL, "%s: has \"%s\"", c->name, c->must_not[k]);
		CHECK(strstr(t, "Diagnostic-Code: X-Sealpost; message expired after 5d") != NULL,
		      "%s: local reason type", c->name);
		CHECK(only_crlf_short_lines(t), "%s: bare line ends or long lines", c->name);
		CHECK(eightbit == 0, "%s: 7-bit report marked 8-bit", c->name);
		free(t);
		close(fd);
		envelope_free(&env);
	}
}

static void test_hostile_text(void)
{
	/* a server reply with a line break and a 2000-byte tail must not make
	 * a header of its own, nor a long line */
	char diag[2100];
	memcpy(diag, "550 5.7.1 no\r\nBcc: victim@example.com\r\n", 40);
	memset(diag + 40, 'x', sizeof(diag) - 41);
	diag[sizeof(diag) - 1] = '\0';
	struct envelope env;
	fill_env(&env, "HDRS", ENV_8BITMIME);
	int fd = temp_with(original);
	struct dsn_rcpt rc = { "bob@example.net", NULL, "5.7.1\r\nX: y", "mx\r\nInjected: 1", diag, 0 };
	struct dsn_report r = { DSN_FAILED, "client.example.org", &env, fd, &rc, 1, 1764331400, 0 };
	int eightbit = 0;
	char *t = render(&r, &eightbit);
	CHECK(strstr(t, "\r\nBcc:") == NULL, "injected header line");
	CHECK(strstr(t, "\r\nInjected:") == NULL, "injected Remote-MTA line");
	CHECK(strstr(t, "\r\nX: y") == NULL, "injected status line");
	CHECK(only_crlf_short_lines(t), "hostile text made bare line ends or long lines");
	CHECK(eightbit == 1, "an 8-bit original keeps 8BITMIME");
	CHECK(strstr(t, "Last-Attempt-Date") == NULL, "no attempt, no date");
	free(t);
	close(fd);
	envelope_free(&env);
}

static void test_no_notice_to_null_sender(void)
{
	struct envelope env;
	fill_env(&env, NULL, 0);
	free(env.sender);
	env.sender = xstrdup("");
	struct dsn_rcpt rc = { "bob@example.net", NULL, "5.1.1", NULL, "550 no", 0 };
	struct dsn_report r = { DSN_FAILED, "h.example", &env, -1, &rc, 1, 0, 0 };
	char id[SPOOL_ID_LEN + 1], err[128] = "";
	CHECK(dsn_queue("/nonexistent-spool", &r, id, err, sizeof(err)) < 0, "null sender accepted");
	free(env.sender);
	env.sender = xstrdup("alice@example.org");
	env.flags = ENV_BOUNCE;
	CHECK(dsn_queue("/nonexistent-spool", &r, id, err, sizeof(err)) < 0, "bounce of a bounce accepted");
	envelope_free(&env);
}

/* A message of n bytes: a short header, then 80-byte lines. */
static int temp_big(size_t n)
{
	char *m = xmalloc(n + 1);
	size_t h = (size_t)snprintf(m, n + 1, "From: alice@example.org\r\nSubject: big\r\n\r\n");
	for (size_t i = h; i < n; i++)
		m[i] = (i - h) % 80 == 78 ? '\r' : (i - h) % 80 == 79 ? '\n' : 'x';
	m[n] = '\0';
	int fd = temp_with(m);
	free(m);
	return fd;
}

static void test_content_limits(void)
{
	struct envelope env;
	fill_env(&env, NULL, 0);
	/* full content, 200 kB: cut after a line end within the limit, said */
	env.size = 200000;
	int fd = temp_big(200000);
	struct dsn_rcpt rc = { "bob@example.net", NULL, "5.1.1", NULL, "550 5.1.1 no", 0 };
	struct dsn_report r = { DSN_FAILED, "client.example.org", &env, fd, &rc, 1, 1764331400, 0 };
	int eightbit = 0;
	char *t = render(&r, &eightbit);
	const char *third = strstr(t, "Content-Type: message/rfc822\r\n\r\n");
	CHECK(third != NULL, "no message/rfc822 part");
	if (third) {
		const char *end = strstr(third, "\r\n--BOUNDARY42--");
		size_t returned = end ? (size_t)(end - third) - strlen("Content-Type: message/rfc822\r\n\r\n") : 0;
		CHECK(end && returned <= DSN_RETURN_LIMIT && returned > DSN_RETURN_LIMIT - 100,
		      "returned %zu bytes", returned);
		CHECK(end && end[-1] == '\n', "not cut at a line end");
	}
	CHECK(strstr(t, "What is returned here is cut after ") != NULL, "the cut is not said");
	CHECK(strstr(t, "(of\r\n200000 bytes in all)") != NULL, "the size is not said");
	CHECK(only_crlf_short_lines(t), "long lines");
	free(t);
	/* a size refusal (5.3.4): the header only, and said so */
	rc.status = "5.3.4";
	t = render(&r, &eightbit);
	CHECK(strstr(t, "Content-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.org\r\nSubject: big\r\n\r\n--") !=
		      NULL, "size refusal does not return the header only:\n%.2000s", t);
	CHECK(strstr(t, "refused for its size") != NULL, "not said");
	CHECK(strstr(t, "xxxxxxxx") == NULL, "body returned");
	free(t);
	close(fd);
	envelope_free(&env);
}

static void test_utf8_downgrade(void)
{
	struct envelope env;
	fill_env(&env, NULL, ENV_SMTPUTF8);
	int fd = temp_with("From: alice@example.org\r\nTo: j\xc3\xb6rg@example.net\r\n\r\nhi\r\n");
	struct dsn_rcpt rc[] = {
		{ "j\xc3\xb6rg@example.net", NULL, "5.6.7", NULL, "server lacks SMTPUTF8", 0 },
		{ "carol@example.net", NULL, "2.0.0", "mx.example.net", "250 ok", 0, true },
	};
	struct dsn_report r = { DSN_FAILED, "client.example.org", &env, fd, rc, 2, 1764331400, 0 };
	int eightbit = 0;
	char *t = render(&r, &eightbit);
	const char *status = strstr(t, "Content-Type: message/delivery-status\r\n");
	CHECK(status != NULL, "not a plain delivery-status");
	CHECK(strstr(t, "Final-Recipient: utf-8; j\\x{F6}rg@example.net\r\n") != NULL, "no utf-8-addr-xtext");
	CHECK(strstr(t, "Content-Type: text/rfc822-headers; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n") !=
		      NULL, "header not base64");
	bool raw8 = false;
	for (const char *p = status ? status : t; *p; p++)
		raw8 = raw8 || (unsigned char)*p >= 0x80;
	CHECK(!raw8, "8-bit bytes after the human-readable part");
	CHECK(strstr(t, "Action: relayed\r\n") != NULL && strstr(t, "Action: failed\r\n") != NULL,
	      "mixed actions in one report");
	free(t);
	/* the DSN's own recipient needs SMTPUTF8: message/global* */
	free(env.sender);
	env.sender = xstrdup("\xc3\xa5sa@example.org");
	t = render(&r, &eightbit);
	CHECK(strstr(t, "Content-Type: message/global-delivery-status\r\n") != NULL, "not global");
	free(t);
	close(fd);
	envelope_free(&env);
}

int main(void)
{
	test_wants();
	test_status_from_text();
	test_render();
	test_hostile_text();
	test_no_notice_to_null_sender();
	test_content_limits();
	test_utf8_downgrade();
	return unit_done("test_dsn");
}
