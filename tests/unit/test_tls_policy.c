/*
 * test_tls_policy.c - table-driven tests of tls_policy.c: which priority
 * strings GnuTLS and the allowlist accept (no substring rules), the
 * warnings a weakened policy gets, and the resumption key (every policy
 * fact and the AUTH identity change it; the relay name does not).
 * Needs no network: policies with verify = "encrypt" load no trust store.
 */
#include "config.h"

#include "tls.h"
#include "unit.h"
#include "util.h"

#include <string.h>

struct priority_case {
	const char *priority;
	const char *want_error; /* NULL: accepted */
};

static const struct priority_case priorities[] = {
	{ "", NULL },
	{ "NORMAL", NULL },
	{ "NORMAL:%NO_TICKETS", NULL },
	{ "SECURE256:%SERVER_PRECEDENCE", NULL },
	{ "NORMAL:-VERS-TLS1.2", NULL },
	{ "NORMAL:+VERS-TLS1.0:+VERS-TLS1.1", NULL }, /* removed by the floor, not refused */
	{ "NORMAL:%PROFILE_HIGH", NULL },
	{ "NORMAL:+3DES-CBC", "which sealpost never negotiates" },
	{ "NORMAL:+ARCFOUR-128", "which sealpost never negotiates" },
	{ "NORMAL:+ANON-ECDH", "which sealpost never negotiates" },
	{ "NORMAL:+AES-128-CCM-8", "which sealpost never negotiates" },
	{ "NORMAL:+CAMELLIA-128-GCM", "which sealpost never negotiates" },
	{ "NORMAL:%VERIFY_ALLOW_SIGN_WITH_SHA1", "relaxes a check" },
	{ "NORMAL:%VERIFY_ALLOW_BROKEN", "relaxes a check" },
	{ "NORMAL:%NO_EXTENSIONS", "relaxes a check" },
	{ "NORMAL:%UNSAFE_RENEGOTIATION", "relaxes a check" },
	{ "NORMAL:%NO_SESSION_HASH", "relaxes a check" },
	{ "NORMAL:+NO-SUCH-THING", "invalid TLS priority string" },
	{ "NONE", "invalid TLS priority string" },
};

static struct sp_tls_policy base_policy(void)
{
	struct sp_tls_policy p;
	memset(&p, 0, sizeof(p));
	p.host = (char *)"smtp.example.net";
	p.verify = SP_VERIFY_ENCRYPT;
	p.min_version = 12;
	return p;
}

static void test_priorities(void)
{
	for (size_t i = 0; i < ARRAY_LEN(priorities); i++) {
		struct sp_tls_policy p = base_policy();
		p.priority = (char *)priorities[i].priority;
		char err[512] = "";
		int r = tls_policy_check(&p, "smtp.example.net", err, sizeof(err));
		if (!priorities[i].want_error)
			CHECK(r == 0, "\"%s\": refused: %s", priorities[i].priority, err);
		else
			CHECK(r < 0 && strstr(err, priorities[i].want_error), "\"%s\": got %d \"%s\", want \"%s\"",
			      priorities[i].priority, r, err, priorities[i].want_error);
	}
}

struct warning_case {
	const char *name, *priority, *profile;
	const char *want; /* NULL: no warning */
};

static const struct warning_case warnings[] = {
	{ "defaults", NULL, NULL, NULL },
	{ "medium explicit", NULL, "medium", NULL },
	{ "high", NULL, "high", NULL },
	{ "priority raises", "NORMAL:-CIPHER-ALL:+AES-256-GCM:-KX-ALL:+ECDHE-RSA:%PROFILE_HIGH", NULL, NULL },
	{ "low profile", NULL, "low", "security_profile = \"low\" accepts certificates and keys weaker" },
	{ "legacy profile", NULL, "legacy", "security_profile = \"legacy\" accepts" },
	{ "priority lowers", "NORMAL:%PROFILE_LOW", NULL, "priority's %PROFILE_LOW is ignored" },
	{ "priority lowers high", "NORMAL:%PROFILE_MEDIUM", "high", "priority's %PROFILE_MEDIUM is ignored" },
	{ "priority widens", "NORMAL", NULL, "priority widens TLS 1.2 beyond forward-secret AEAD suites" },
	{ "priority AEAD only", "NORMAL:-CIPHER-ALL:+AES-256-GCM:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA", NULL, NULL },
};

static void test_warnings(void)
{
	for (size_t i = 0; i < ARRAY_LEN(warnings); i++) {
		struct sp_tls_policy p = base_policy();
		p.priority = (char *)warnings[i].priority;
		p.security_profile = (char *)warnings[i].profile;
		struct buf b;
		buf_init(&b);
		int n = tls_policy_warnings(&p, &b);
		if (!warnings[i].want)
			CHECK(n == 0, "%s: unexpected warning: %s", warnings[i].name, b.data);
		else
			CHECK(n > 0 && strstr(b.data, warnings[i].want), "%s: got \"%s\"", warnings[i].name,
			      b.data ? b.data : "");
		buf_free(&b);
	}
}

static void test_resumption_key(void)
{
	char base[65], other[65];
	struct sp_tls_policy p = base_policy();
	p.verify = SP_VERIFY_CA;
	p.ca_file = (char *)"/etc/a.pem";
	tls_policy_key(&p, "smtp.example.net", "alice", base);
	CHECK(strlen(base) == 64, "key length %zu", strlen(base));
	tls_policy_key(&p, "smtp.example.net", "alice", other);
	CHECK_STR(other, base, "same policy, same key");

	static const char *const changes[] = { "ca_file", "verify_name", "min_version", "priority", "profile",
					       "client_cert" };
	for (size_t i = 0; i < ARRAY_LEN(changes); i++) {
		struct sp_tls_policy q = p;
		switch (i) {
		case 0: q.ca_file = (char *)"/etc/b.pem"; break;
		case 1: q.verify_name = (char *)"mx.example.net"; break;
		case 2: q.min_version = 13; break;
		case 3: q.priority = (char *)"NORMAL"; break;
		case 4: q.security_profile = (char *)"high"; break;
		case 5: q.client_cert = q.client_key = (char *)"/etc/c.pem"; break;
		}
		tls_policy_key(&q, "smtp.example.net", "alice", other);
		CHECK(strcmp(other, base) != 0, "%s: the key did not change", changes[i]);
	}
	tls_policy_key(&p, "smtp.example.net", "carol", other);
	CHECK(strcmp(other, base) != 0, "identity: the key did not change");
	tls_policy_key(&p, "smtp.example.net", NULL, other);
	CHECK(strcmp(other, base) != 0, "no identity: the key did not change");
	struct sp_tls_policy pins = base_policy();
	pins.verify = SP_VERIFY_PIN;
	char *one[] = { (char *)"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" };
	pins.pins = one;
	pins.npins = 1;
	tls_policy_key(&pins, "smtp.example.net", "alice", base);
	char *two[] = { (char *)"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
			(char *)"LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=" };
	pins.pins = two;
	pins.npins = 2;
	tls_policy_key(&pins, "smtp.example.net", "alice", other);
	CHECK(strcmp(other, base) != 0, "pins: the key did not change");
}

int main(void)
{
	char err[256];
	if (tls_global_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 99;
	}
	test_priorities();
	test_warnings();
	test_resumption_key();
	tls_global_deinit();
	return unit_done("test_tls_policy");
}
