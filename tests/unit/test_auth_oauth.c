/*
 * test_auth_oauth.c - the token mechanisms of src/sealpostd/auth.c on the
 * wire: the exact OAUTHBEARER (RFC 7628, with RFC 5801 escaping of ',' and
 * '=' in the user) and XOAUTH2 messages, the lone ^A answer to an
 * OAUTHBEARER error challenge followed by the final reply, and the choice
 * of mechanism with an oauth2 block. The "server" is the other end of a
 * socketpair, its replies written in advance.
 */
#include "config.h"

#include "auth.h"
#include "base64.h"
#include "net.h"
#include "outcome.h"
#include "unit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Run one exchange: server replies pre-written; returns what the client sent. */
static char *exchange(unsigned mech, const char *replies, int *rc, int *code)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(99);
	if (write(sv[1], replies, strlen(replies)) != (ssize_t)strlen(replies))
		exit(99);
	struct netconn c;
	net_init(&c);
	c.fd = sv[0];
	struct sp_relay relay = { .name = (char *)"r", .host = (char *)"smtp.example.net", .port = 587,
				  .username = (char *)"a,b=c@example.net" };
	struct smtp_reply last;
	reply_init(&last);
	char err[512];
	*rc = auth_run(&c, mech, &relay, "tok-123", net_deadline(5), &last, err, sizeof(err));
	*code = last.code;
	close(sv[0]);
	static char sent[4096];
	ssize_t n = read(sv[1], sent, sizeof(sent) - 1);
	sent[n > 0 ? n : 0] = '\0';
	close(sv[1]);
	return sent;
}

static void expect_b64_line(const char *line, size_t len, const char *prefix, const char *want, size_t wantlen,
			    const char *what)
{
	size_t pl = strlen(prefix);
	CHECK(len > pl && strncmp(line, prefix, pl) == 0, "%s: prefix", what);
	unsigned char dec[1024];
	long n = base64_decode(line + pl, len - pl, dec, sizeof(dec));
	CHECK(n == (long)wantlen && memcmp(dec, want, wantlen) == 0, "%s: message differs (%ld bytes)", what, n);
}

static void test_oauthbearer(void)
{
	int rc, code;
	/* 334 + base64 {"status":"invalid_token"}: answer ^A, then the 535 */
	char *sent = exchange(AUTH_OAUTHBEARER,
			      "334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n535 5.7.8 refused\r\n", &rc, &code);
	static const char want[] = "n,a=a=2Cb=3Dc@example.net,\001host=smtp.example.net\001port=587\001"
				   "auth=Bearer tok-123\001\001";
	char *eol = strstr(sent, "\r\n");
	CHECK(eol != NULL, "no first line");
	if (!eol)
		return;
	expect_b64_line(sent, (size_t)(eol - sent), "AUTH OAUTHBEARER ", want, sizeof(want) - 1, "OAUTHBEARER");
	CHECK(strcmp(eol + 2, "AQ==\r\n") == 0, "the answer to the error challenge is not AQ==: \"%s\"", eol + 2);
	CHECK(rc == LOCAL_AUTH && code == 535, "refusal: rc %d code %d", rc, code);

	sent = exchange(AUTH_OAUTHBEARER, "235 2.7.0 ok\r\n", &rc, &code);
	CHECK(rc == 0 && code == 235, "accepted: rc %d", rc);
	char *first = strstr(sent, "\r\n");
	CHECK(first && first[2] == '\0', "more than the AUTH line sent without a challenge: \"%s\"", sent);
}

static void test_xoauth2(void)
{
	int rc, code;
	char *sent = exchange(AUTH_XOAUTH2, "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n535 5.7.8 no\r\n", &rc, &code);
	static const char want[] = "user=a,b=c@example.net\001auth=Bearer tok-123\001\001";
	char *eol = strstr(sent, "\r\n");
	CHECK(eol != NULL, "no first line");
	if (!eol)
		return;
	expect_b64_line(sent, (size_t)(eol - sent), "AUTH XOAUTH2 ", want, sizeof(want) - 1, "XOAUTH2");
	CHECK(strcmp(eol + 2, "\r\n") == 0, "XOAUTH2 error challenge: answer is not an empty line");
	CHECK(rc == LOCAL_AUTH && code == 535, "XOAUTH2 refusal: rc %d code %d", rc, code);
}

static void test_choose(void)
{
	char err[256];
	CHECK(auth_mech_bit("oauthbearer") == AUTH_OAUTHBEARER, "OAUTHBEARER known");
	CHECK(auth_choose_token("auto", AUTH_PLAIN | AUTH_XOAUTH2 | AUTH_OAUTHBEARER, err, sizeof(err)) == AUTH_OAUTHBEARER,
	      "auto prefers OAUTHBEARER");
	CHECK(auth_choose_token("auto", AUTH_PLAIN | AUTH_XOAUTH2, err, sizeof(err)) == AUTH_XOAUTH2, "auto: XOAUTH2");
	CHECK(auth_choose_token("xoauth2", AUTH_XOAUTH2 | AUTH_OAUTHBEARER, err, sizeof(err)) == AUTH_XOAUTH2, "named");
	CHECK(auth_choose_token("oauthbearer", AUTH_XOAUTH2, err, sizeof(err)) == 0 &&
	      strstr(err, "does not offer AUTH oauthbearer"), "named, not offered: %s", err);
	CHECK(auth_choose_token("auto", AUTH_PLAIN | AUTH_LOGIN, err, sizeof(err)) == 0 &&
	      strstr(err, "OAUTHBEARER or XOAUTH2"), "never a password mechanism with a token: %s", err);
	CHECK(auth_choose("auto", AUTH_OAUTHBEARER | AUTH_PLAIN, err, sizeof(err)) == AUTH_PLAIN,
	      "without oauth2, auto never picks OAUTHBEARER");
}

int main(void)
{
	test_oauthbearer();
	test_xoauth2();
	test_choose();
	return unit_done("test_auth_oauth");
}
