/*
 * test_outcome.c - table-driven tests of the one failure classifier, and
 * of the small pure helpers around it: retry backoff, DSN xtext, base64,
 * AUTH mechanism choice.
 */
#include "config.h"

#include "auth.h"
#include "base64.h"
#include "deliver.h"
#include "outcome.h"
#include "smtp.h"
#include "unit.h"

/* for char arrays (CHECK_STR tests its argument against NULL) */
#define CHECK_EQ(got, want, name) \
	CHECK(strcmp((got), (want)) == 0, "%s: got \"%s\", want \"%s\"", (name), (got), (want))

#include <string.h>

struct outcome_case {
	const char *name;
	enum smtp_stage stage;
	int code;
	const char *enhanced;
	enum local_error local;
	enum outcome want;
	const char *want_status;
};

static const struct outcome_case cases[] = {
	{ "250 at end of data", STAGE_EOD, 250, "2.0.0", LOCAL_NONE, OUTCOME_DELIVERED, "2.0.0" },
	{ "250 without enhanced", STAGE_EOD, 250, "", LOCAL_NONE, OUTCOME_DELIVERED, "2.0.0" },
	{ "251 forwarded", STAGE_RCPT, 251, NULL, LOCAL_NONE, OUTCOME_DELIVERED, "2.0.0" },
	{ "451 at MAIL", STAGE_MAIL, 451, "4.3.0", LOCAL_NONE, OUTCOME_TEMPORARY, "4.3.0" },
	{ "450 at RCPT", STAGE_RCPT, 450, "", LOCAL_NONE, OUTCOME_TEMPORARY, "4.0.0" },
	{ "550 at RCPT", STAGE_RCPT, 550, "5.1.1", LOCAL_NONE, OUTCOME_PERMANENT, "5.1.1" },
	{ "554 at end of data", STAGE_EOD, 554, "5.7.1", LOCAL_NONE, OUTCOME_PERMANENT, "5.7.1" },
	{ "554 at DATA", STAGE_DATA, 554, NULL, LOCAL_NONE, OUTCOME_PERMANENT, "5.0.0" },
	{ "552 at RCPT is temporary", STAGE_RCPT, 552, "5.5.3", LOCAL_NONE, OUTCOME_TEMPORARY, "4.5.3" },
	{ "552 at end of data is permanent", STAGE_EOD, 552, "5.3.4", LOCAL_NONE, OUTCOME_PERMANENT, "5.3.4" },
	{ "530 at MAIL: relay needs AUTH", STAGE_MAIL, 530, "5.7.0", LOCAL_NONE, OUTCOME_TEMPORARY, "4.7.0" },
	{ "530 at RCPT", STAGE_RCPT, 530, NULL, LOCAL_NONE, OUTCOME_TEMPORARY, "4.7.0" },
	{ "5xx with 4.x.x: the code wins", STAGE_RCPT, 550, "4.2.2", LOCAL_NONE, OUTCOME_PERMANENT, "5.0.0" },
	{ "4xx with 5.x.x: the code wins", STAGE_RCPT, 450, "5.2.2", LOCAL_NONE, OUTCOME_TEMPORARY, "4.0.0" },
	{ "554 greeting is the relay's", STAGE_GREETING, 554, "5.3.2", LOCAL_NONE, OUTCOME_TEMPORARY, "4.3.2" },
	{ "535 AUTH is temporary", STAGE_AUTH, 535, "5.7.8", LOCAL_NONE, OUTCOME_TEMPORARY, "4.7.8" },
	{ "502 EHLO is temporary", STAGE_EHLO, 502, NULL, LOCAL_NONE, OUTCOME_TEMPORARY, "4.0.0" },
	{ "354 where a final reply belongs", STAGE_EOD, 354, NULL, LOCAL_NONE, OUTCOME_TEMPORARY, "4.5.0" },
	{ "no reply at all", STAGE_EOD, 0, NULL, LOCAL_NONE, OUTCOME_TEMPORARY, "4.5.0" },
	{ "out of range code", STAGE_RCPT, 700, NULL, LOCAL_NONE, OUTCOME_TEMPORARY, "4.5.0" },
	{ "connect refused", STAGE_CONNECT, 0, NULL, LOCAL_CONNECT, OUTCOME_TEMPORARY, "4.4.1" },
	{ "timeout", STAGE_GREETING, 0, NULL, LOCAL_TIMEOUT, OUTCOME_TEMPORARY, "4.4.2" },
	{ "STARTTLS missing", STAGE_STARTTLS, 0, NULL, LOCAL_NO_STARTTLS, OUTCOME_TEMPORARY, "4.7.4" },
	{ "certificate expired", STAGE_TLS, 0, NULL, LOCAL_TLS_VERIFY, OUTCOME_TEMPORARY, "4.7.5" },
	{ "handshake failed", STAGE_TLS, 0, NULL, LOCAL_TLS, OUTCOME_TEMPORARY, "4.7.5" },
	{ "injection", STAGE_STARTTLS, 0, NULL, LOCAL_PROTOCOL, OUTCOME_TEMPORARY, "4.5.0" },
	{ "local error beats a 2xx", STAGE_EOD, 250, "2.0.0", LOCAL_CONNECT, OUTCOME_TEMPORARY, "4.4.1" },
	{ "needs SMTPUTF8", STAGE_MAIL, 0, NULL, LOCAL_NEED_SMTPUTF8, OUTCOME_PERMANENT, "5.6.7" },
	{ "too big", STAGE_MAIL, 0, NULL, LOCAL_TOO_BIG, OUTCOME_PERMANENT, "5.3.4" },
	{ "expired", STAGE_MAIL, 0, NULL, LOCAL_EXPIRED, OUTCOME_PERMANENT, "4.4.7" },
	{ "bad address", STAGE_RCPT, 0, NULL, LOCAL_BAD_ADDRESS, OUTCOME_PERMANENT, "5.1.3" },
	{ "spool read error", STAGE_DATA, 0, NULL, LOCAL_IO, OUTCOME_TEMPORARY, "4.3.0" },
};

static void test_classifier(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct outcome_case *c = &cases[i];
		char status[16] = "";
		enum outcome got = outcome_classify(c->stage, c->code, c->enhanced, c->local, status);
		CHECK(got == c->want, "%s: %s, want %s", c->name, outcome_name(got), outcome_name(c->want));
		CHECK_EQ(status, c->want_status, c->name);
	}
	CHECK_EQ(outcome_name(OUTCOME_DELIVERED), "sent", "name");
	CHECK_EQ(outcome_name(OUTCOME_TEMPORARY), "deferred", "name");
	CHECK_EQ(outcome_name(OUTCOME_PERMANENT), "bounced", "name");
}

/* The providers' documented texts (tests/smarthost_throttle.py sends the
 * same): each is a throttle, temporary at any stage, class 4; look-alikes
 * are not. */
static void test_throttle(void)
{
	static const struct {
		enum smtp_stage stage;
		int code;
		const char *enhanced, *text;
		bool throttle;
		enum outcome want;
		const char *want_status;
	} t[] = {
		{ STAGE_GREETING, 421, "4.7.0", "Try again later, closing connection.", true, OUTCOME_TEMPORARY, "4.7.0" },
		{ STAGE_MAIL, 421, "", "Service not available", true, OUTCOME_TEMPORARY, "4.0.0" },
		{ STAGE_EOD, 432, "4.3.2", "STOREDRV.ClientSubmit; sender thread limit exceeded", true,
		  OUTCOME_TEMPORARY, "4.3.2" },
		{ STAGE_DATA, 454, "", "Throttling failure: Maximum sending rate exceeded", true, OUTCOME_TEMPORARY,
		  "4.0.0" },
		{ STAGE_DATA, 454, "", "Throttling failure: Daily message quota exceeded", true, OUTCOME_TEMPORARY,
		  "4.0.0" },
		{ STAGE_MAIL, 451, "4.7.1", "Error: too many messages, rate limit exceeded", true, OUTCOME_TEMPORARY,
		  "4.7.1" },
		{ STAGE_DATA, 550, "5.4.5", "Daily user sending limit exceeded. - gsmtp", true, OUTCOME_TEMPORARY,
		  "4.4.5" },
		{ STAGE_EOD, 554, "5.2.0", "STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed",
		  true, OUTCOME_TEMPORARY, "4.2.0" },
		{ STAGE_RCPT, 450, "4.2.1", "Peak SMTP relay limit exceeded for this customer.", true,
		  OUTCOME_TEMPORARY, "4.2.1" },
		/* look-alikes: not the relay's limit */
		{ STAGE_RCPT, 451, "4.7.1", "Greylisted, see http://postgrey", false, OUTCOME_TEMPORARY, "4.7.1" },
		{ STAGE_AUTH, 454, "4.7.0", "Temporary authentication failure", false, OUTCOME_TEMPORARY, "4.7.0" },
		{ STAGE_EOD, 554, "5.2.0", "STOREDRV.Deliver.Exception:MessageRejected", false, OUTCOME_PERMANENT,
		  "5.2.0" },
		{ STAGE_RCPT, 550, "5.1.1", "No such user", false, OUTCOME_PERMANENT, "5.1.1" },
		{ STAGE_AUTH, 432, "4.7.12", "A password transition is needed", false, OUTCOME_TEMPORARY, "4.7.12" },
		{ STAGE_RCPT, 450, "4.2.1", "The user you are trying to contact is receiving mail too quickly", false,
		  OUTCOME_TEMPORARY, "4.2.1" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char status[16] = "", name[160];
		const struct throttle_rule *rule = NULL;
		snprintf(name, sizeof(name), "%d %s %s", t[i].code, t[i].enhanced, t[i].text);
		enum outcome got = outcome_classify_reply(t[i].stage, t[i].code, t[i].enhanced, t[i].text, LOCAL_NONE,
							  status, &rule);
		CHECK((rule != NULL) == t[i].throttle, "%s: throttle %d", name, rule != NULL);
		CHECK(got == t[i].want, "%s: %s", name, outcome_name(got));
		CHECK_EQ(status, t[i].want_status, name);
	}
	size_t n;
	const struct throttle_rule *rules = outcome_throttle_rules(&n);
	for (size_t i = 0; i < n; i++)
		CHECK(rules[i].what && rules[i].source && strlen(rules[i].source) > 20, "rule %zu has a source", i);
	CHECK(outcome_too_many_recipients(STAGE_RCPT, 452) && outcome_too_many_recipients(STAGE_RCPT, 552),
	      "452/552 at RCPT");
	CHECK(!outcome_too_many_recipients(STAGE_MAIL, 452) && !outcome_too_many_recipients(STAGE_RCPT, 450),
	      "not elsewhere");
	char status[16];
	CHECK(outcome_classify_reply(STAGE_EOD, 421, "", "x", LOCAL_CONNECT, status, NULL) == OUTCOME_TEMPORARY &&
	      strcmp(status, "4.4.1") == 0, "a local error is no reply");
}

static void test_backoff(void)
{
	struct sp_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.queue.retry_min = 60;
	cfg.queue.retry_max = 3600;
	static const struct { unsigned attempts, want; } t[] = {
		{ 0, 60 }, { 1, 60 }, { 2, 120 }, { 3, 240 }, { 6, 1920 }, { 7, 3600 }, { 100, 3600 }, { 4000000000u, 3600 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned got = deliver_backoff(&cfg, t[i].attempts);
		CHECK(got == t[i].want, "backoff(%u) = %u, want %u", t[i].attempts, got, t[i].want);
	}
	cfg.queue.retry_min = 0;
	cfg.queue.retry_max = 0;
	CHECK(deliver_backoff(&cfg, 5) == 1, "zero config still waits a second");
}

static void test_xtext(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "abc", "abc" },
		{ "a+b=c", "a+2Bb+3Dc" },
		{ "sp ace", "sp+20ace" },
		{ "\x7f\x80", "+7F+80" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf b;
		buf_init(&b);
		buf_adds(&b, "");
		smtp_xtext(t[i].in, &b);
		CHECK_EQ(b.data, t[i].want, t[i].in);
		buf_free(&b);
	}
}

static void test_base64(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "\0user\0pass", "AHVzZXIAcGFzcw==" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = i == 5 ? 10 : strlen(t[i].in);
		char out[64];
		base64_encode(t[i].in, n, out);
		CHECK_EQ(out, t[i].want, t[i].want);
		unsigned char back[64];
		long m = base64_decode(out, strlen(out), back, sizeof(back));
		CHECK(m == (long)n && memcmp(back, t[i].in, n) == 0, "round trip %s", t[i].want);
	}
	unsigned char small[2];
	CHECK(base64_decode("Zm9v", 4, small, sizeof(small)) == -1, "output bound");
	CHECK(base64_decode("Zm9", 3, small, sizeof(small)) == -1, "bad length");
	CHECK(base64_decode("Z=9v", 4, small, sizeof(small)) == -1, "pad in the middle");
	CHECK(base64_decode("Zm!v", 4, small, sizeof(small)) == -1, "bad character");
}

static void test_auth_choice(void)
{
	char err[128];
	CHECK(auth_choose("auto", AUTH_PLAIN | AUTH_LOGIN, err, sizeof(err)) == AUTH_PLAIN, "auto picks PLAIN");
	CHECK(auth_choose("auto", AUTH_LOGIN | AUTH_OTHER, err, sizeof(err)) == AUTH_LOGIN, "auto picks LOGIN");
	CHECK(auth_choose(NULL, AUTH_LOGIN, err, sizeof(err)) == AUTH_LOGIN, "NULL is auto");
	CHECK(auth_choose("auto", AUTH_OTHER, err, sizeof(err)) == 0, "nothing common");
	CHECK(strstr(err, "no common AUTH mechanism") != NULL, "reason: %s", err);
	CHECK(auth_choose("auto", AUTH_XOAUTH2, err, sizeof(err)) == 0, "auto never picks XOAUTH2");
	CHECK(auth_choose("login", AUTH_PLAIN | AUTH_LOGIN, err, sizeof(err)) == AUTH_LOGIN, "explicit login");
	CHECK(auth_choose("xoauth2", AUTH_XOAUTH2, err, sizeof(err)) == AUTH_XOAUTH2, "explicit xoauth2");
	CHECK(auth_choose("plain", AUTH_LOGIN, err, sizeof(err)) == 0, "explicit, not offered");
	CHECK(auth_choose("cram-md5", AUTH_OTHER, err, sizeof(err)) == 0, "unsupported");
	CHECK(auth_mech_bit("plain") == AUTH_PLAIN && auth_mech_bit("Login") == AUTH_LOGIN, "case");
	CHECK(auth_mech_bit("CRAM-MD5") == AUTH_OTHER, "other");
	CHECK(auth_mech_bit("scram-sha-256") == AUTH_SCRAM_SHA256, "scram");
	CHECK(auth_choose("auto", AUTH_PLAIN | AUTH_LOGIN | AUTH_SCRAM_SHA256, err, sizeof(err)) == AUTH_SCRAM_SHA256,
	      "auto prefers SCRAM-SHA-256");
	CHECK(auth_choose("plain", AUTH_PLAIN | AUTH_SCRAM_SHA256, err, sizeof(err)) == AUTH_PLAIN,
	      "explicit plain beats the preference");
}

int main(void)
{
	test_classifier();
	test_throttle();
	test_backoff();
	test_xtext();
	test_base64();
	test_auth_choice();
	return unit_done("test_outcome");
}
